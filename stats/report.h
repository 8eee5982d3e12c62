/*
 * report — the counters of one period (a local month or a local day) of one
 * tenant, read from Redis into a report model, and rendered as text, CSV,
 * JSON or HTML (one self-contained file with inline SVG charts).
 *
 * The model is filled through report_feed(key, field, value) with the
 * Redis key names of stats/README.md, so that a test can build one from an
 * in-memory fixture exactly as report_fetch builds it from HGETALL replies;
 * keys that do not belong to the report are ignored. Every derived figure
 * (totals, funnel, changes, averages, peaks, completeness) is computed from
 * the model on demand; nothing here touches Redis except report_fetch.
 *
 * Day and month buckets are in the process's time zone (keys_set_timezone),
 * hour buckets are UTC (the reports say so).
 */
#ifndef TG_REPORT_H
#define TG_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "util.h"

enum { REPORT_IN = 0, REPORT_OUT, REPORT_INT, REPORT_NDIR };
enum { REPORT_V_CLEAN = 0, REPORT_V_TAGGED, REPORT_V_SPAM, REPORT_V_SECURITY,
       REPORT_V_POLICY, REPORT_V_TEMPFAIL, REPORT_NV };
enum { REPORT_A_ACCEPT = 0, REPORT_A_REJECT, REPORT_A_DISCARD, REPORT_A_QUARANTINE,
       REPORT_A_TEMPFAIL, REPORT_NA };

/* What a report covers: a month (the full report), a day (`today`), or the
 * rule hits of a month (`top-rules`, fetches only what that needs). */
enum { REPORT_MONTH = 0, REPORT_DAY, REPORT_RULES };
enum { REPORT_TEXT = 0, REPORT_CSV, REPORT_JSON, REPORT_HTML };

/* One direction's counters of one bucket (a plain value). */
typedef struct report_counts {
    uint64_t msgs, rcpts, bytes;
    uint64_t v[REPORT_NV];
    uint64_t a[REPORT_NA];
} report_counts_t;

typedef struct report report_t;

/* A report of kind REPORT_* for tenant ("_all" or a name); day is ignored
 * unless kind is REPORT_DAY. The caller frees it with report_free. */
report_t *report_new(int kind, int year, int month, int day, const char *tenant);
void report_free(report_t *r);

/* Options (before feeding/fetching). by_tenant adds the per-tenant table;
 * top is how many rules are listed (default 10); sort_delivered sorts the
 * rules by hits on delivered mail; zone is only shown; now (default
 * time(NULL)) is used for completeness and the "generated" line. */
void report_set_by_tenant(report_t *r, int on);
void report_set_top(report_t *r, size_t n);
void report_set_sort_delivered(report_t *r, int on);
void report_set_zone(report_t *r, const char *zone);
void report_set_now(report_t *r, time_t now);

/* --- the model's input (what report_fetch does with Redis' replies) */

/* One hash field of one key; 1 if the value was used, 0 if ignored. */
int report_feed(report_t *r, const char *key, const char *field, int64_t value);
/* A member of tg:v1:tenants. */
void report_add_tenant(report_t *r, const char *name);
/* An entry of tg:v1:wm: the sender's counts are all in Redis up to wm. */
void report_add_watermark(report_t *r, const char *sender, int64_t wm);
/* When Redis applied sender's last batch (tg:v1:senders). A sender silent
 * since before the period (and with its watermark there) is retired: the
 * completeness figures leave it out and name it apart. */
void report_add_sender_seen(report_t *r, const char *sender, int64_t at);

/* Reads everything the report needs from Redis in two pipelined rounds
 * (the tenant set and the watermarks; then every HGETALL), then
 * report_check. 0, or -1 with err (connection lost, unknown tenant, no
 * data). */
int report_fetch(report_t *r, redisContext *rc, char *err, size_t errlen);
/* 0 if the report can be rendered; -1 with err "unknown tenant 'x'
 * (known: a, b)" or "no counters for 2026-02 (tenant _all)". */
int report_check(const report_t *r, char *err, size_t errlen);

/* --- derived figures (for the renderers and the tests) */

/* Totals of the period for dir. */
const report_counts_t *report_total(const report_t *r, int dir);
/* Percent change of dir's msgs against months_back (1 or 12) months ago
 * (month reports). 0 with *pct, or -1 when there is no data to compare. */
int report_change(const report_t *r, int dir, int months_back, double *pct);
/* Average msgs per month of dir over the 12 months ending with this one
 * (prev = 1: the 12 months before those), counting only months with data.
 * Returns the number of months averaged (0: none; *avg = 0). */
int report_avg12(const report_t *r, int dir, int prev, double *avg);
/* Share of incoming messages delivered to inboxes (clean + tagged), in
 * percent; -1 if nothing came in. */
double report_delivered_pct(const report_t *r);
/* The busiest local day (1-based day of month) and UTC hour (start time),
 * by messages in all directions. 0, or -1 if there are none. */
int report_peak_day(const report_t *r, int *mday, uint64_t *msgs);
int report_peak_hour(const report_t *r, time_t *hour, uint64_t *msgs);
/* 1 if every sender's watermark is at or past the period's end, 0 if some
 * lag (why lists them), -1 if no sender has a watermark or every one is
 * silent since before the period (report_add_sender_seen). */
int report_complete(const report_t *r, char *why, size_t whylen);

/* --- rendering */

/* Appends the report in format REPORT_TEXT/CSV/JSON/HTML to out. */
void report_render(const report_t *r, int format, tg_buf *out);
/* The management sentence of a month report ("In November 2026, ..."). */
void report_sentence(const report_t *r, tg_buf *out);

/* --- formatting pieces */

/* "9,812,345" */
void report_fmt_int(char *out, size_t len, uint64_t v);
/* Percent change from before to now: 0 with *pct, -1 if before is 0. */
int report_pct_change(uint64_t now, uint64_t before, double *pct);
/* "+70.2%", "-1.3%", "0.0%", or "n/a" when before is 0. */
void report_fmt_change(char *out, size_t len, uint64_t now, uint64_t before);
/* "9.6 million", "1.2 billion", "612,345" */
void report_fmt_approx(char *out, size_t len, double v);
/* "441.2 GB" (powers of 1000), "512 B" */
void report_fmt_bytes(char *out, size_t len, uint64_t v);
/* Appends s as one CSV field (quoted when it holds , " CR or LF). */
void report_csv_field(tg_buf *b, const char *s);
/* Appends s with & < > " ' escaped for HTML and SVG text. */
void report_xml_escape(tg_buf *b, const char *s);

#endif
