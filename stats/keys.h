/*
 * keys — the Redis key schema (stats/README.md): bucket names for a time,
 * key names, retention. Pure functions; day and month use the process's
 * local time zone (the daemon and tollgate-stats set TZ from TimeZone).
 */
#ifndef TG_KEYS_H
#define TG_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define KEYS_PREFIX "tg:v1:"
#define KEYS_ALL "_all"

/* "2026112314" (UTC hour), "20261123" (local day), "202611" (local month). */
void keys_hour(time_t t, char out[11]);
void keys_day(time_t t, char out[9]);
void keys_month(time_t t, char out[7]);

/* "tg:v1:c:{tenant}:{kind}:{bucket}" with kind 'h', 'd' or 'm'. */
void keys_counter(char *out, size_t len, const char *tenant, char kind, const char *bucket);
/* "tg:v1:r:..." rule hits; delivered = 1 for "tg:v1:rd:..." (delivered mail). */
void keys_rules(char *out, size_t len, const char *tenant, char kind, const char *bucket,
                int delivered);

/* EXPIREAT for a bucket: hour +40 days, day +400 days, month +5 years,
 * counted from the start of the bucket containing t. */
int64_t keys_expiry(time_t t, char kind);

/* Sets the process time zone ("UTC", "Europe/London"): setenv TZ + tzset.
 * 0, or -1 if the zone is unknown. Call before threads start. */
int keys_set_timezone(const char *zone);

/* Start (unix time) of the local month y/m (m 1-12), and of the next one. */
time_t keys_month_start(int year, int month);

#endif
