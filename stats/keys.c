#include "keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void keys_hour(time_t t, char out[11])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y%m%d%H", &tm);
}

void keys_day(time_t t, char out[9])
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, 9, "%Y%m%d", &tm);
}

void keys_month(time_t t, char out[7])
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, 7, "%Y%m", &tm);
}

void keys_counter(char *out, size_t len, const char *tenant, char kind, const char *bucket)
{
    snprintf(out, len, KEYS_PREFIX "c:%s:%c:%s", tenant, kind, bucket);
}

void keys_rules(char *out, size_t len, const char *tenant, char kind, const char *bucket,
                int delivered)
{
    snprintf(out, len, KEYS_PREFIX "%s:%s:%c:%s", delivered ? "rd" : "r", tenant, kind, bucket);
}

/* Local midnight of the day containing t (DST-safe: mktime decides). */
static time_t local_day_start(time_t t)
{
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return mktime(&tm);
}

time_t keys_month_start(int year, int month)
{
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = 1;
    tm.tm_isdst = -1;
    return mktime(&tm);
}

int64_t keys_expiry(time_t t, char kind)
{
    switch (kind) {
    case 'h':
        return (int64_t)(t - t % 3600) + 40LL * 86400;
    case 'd':
        return (int64_t)local_day_start(t) + 400LL * 86400;
    default: {
        struct tm tm;
        localtime_r(&t, &tm);
        return (int64_t)keys_month_start(tm.tm_year + 1900 + 5, tm.tm_mon + 1);
    }
    }
}

int keys_set_timezone(const char *zone)
{
    if (strcmp(zone, "UTC") != 0) {
        char path[512];
        snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", zone);
        if (strstr(zone, "..") || access(path, R_OK) != 0)
            return -1;
    }
    setenv("TZ", zone, 1);
    tzset();
    return 0;
}
