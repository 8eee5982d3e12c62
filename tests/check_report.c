/* Unit tests of stats/report: the formatting pieces, and the report model
 * built from an in-memory fixture through report_feed (no Redis). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "report.h"
#include "util.h"

/* ------------------------------------------------------------ helpers */

static void feed_dir(report_t *r, const char *key, const char *dir, int64_t msgs,
                     int64_t clean, int64_t tagged, int64_t spam, int64_t security,
                     int64_t policy, int64_t quarantine)
{
    char f[64];
#define F(name, v) (snprintf(f, sizeof f, "%s:%s", dir, name), report_feed(r, key, f, v))
    F("msgs", msgs);
    F("rcpts", msgs + msgs / 3);
    F("bytes", msgs * 40000);
    F("v:clean", clean);
    F("v:tagged", tagged);
    F("v:spam", spam);
    F("v:security", security);
    F("v:policy", policy);
    F("v:tempfail", msgs - clean - tagged - spam - security - policy);
    F("a:accept", clean + tagged);
    F("a:quarantine", quarantine);
    F("a:reject", msgs - clean - tagged - quarantine);
#undef F
}

static void feed_month(report_t *r, const char *tenant, const char *bucket, int64_t in,
                       int64_t out)
{
    char key[128];
    keys_counter(key, sizeof key, tenant, 'm', bucket);
    int64_t clean = in * 12 / 100, tagged = in * 3 / 100;
    feed_dir(r, key, "in", in, clean, tagged, in * 72 / 100, in * 5 / 100, in * 75 / 1000,
             in / 10);
    feed_dir(r, key, "out", out, out - 10, 10, 0, 0, 0, 0);
}

/* The management example: figures chosen so that every rounded number of
 * the sentence is known. */
static report_t *fixture(void)
{
    keys_set_timezone("UTC");
    report_t *r = report_new(REPORT_MONTH, 2026, 11, 0, KEYS_ALL);
    report_set_now(r, keys_month_start(2026, 12) + 3600);
    char key[128];
    keys_counter(key, sizeof key, KEYS_ALL, 'm', "202611");
    /* 9,812,345 in, of which 1,471,852 (15.0%) delivered */
    feed_dir(r, key, "in", 9812345, 1177481, 294371, 7064888, 490617, 735925, 981234);
    feed_dir(r, key, "out", 1502117, 1490000, 5000, 7117, 0, 0, 0);
    feed_month(r, KEYS_ALL, "202610", 9941586, 1500000);      /* -1.3% */
    feed_month(r, KEYS_ALL, "202511", 5765000, 1496132);      /* +70.2%, +0.4% */
    for (int m = 12; m <= 21; m++) {                          /* Dec 2025 .. Sep 2026 */
        char b[16];
        snprintf(b, sizeof b, "%04d%02d", m <= 12 ? 2025 : 2026, m <= 12 ? m : m - 12);
        feed_month(r, KEYS_ALL, b, 9580000, 1500000);
    }
    report_add_tenant(r, "acme");
    report_add_tenant(r, "globex");
    return r;
}

/* Tag balance of an XML/XHTML text: every start tag closed in order,
 * every '&' an entity. 1 if well-formed. */
static int well_formed(const char *s)
{
    char stack[256][32];
    int depth = 0;
    while (*s) {
        if (*s == '&') {
            const char *semi = strchr(s, ';');
            if (!semi || semi - s > 8)
                return 0;
            s = semi + 1;
            continue;
        }
        if (*s != '<') {
            s++;
            continue;
        }
        if (!strncmp(s, "<!--", 4)) {
            s = strstr(s, "-->");
            if (!s)
                return 0;
            s += 3;
            continue;
        }
        if (s[1] == '!' || s[1] == '?') {
            s = strchr(s, '>');
            if (!s)
                return 0;
            s++;
            continue;
        }
        const char *end = strchr(s, '>');
        if (!end)
            return 0;
        int closing = s[1] == '/';
        const char *n = s + 1 + closing;
        size_t nl = strcspn(n, " \t\n/>");
        if (nl == 0 || nl >= 32)
            return 0;
        int empty = end[-1] == '/';
        if (closing) {
            if (depth == 0 || strlen(stack[depth - 1]) != nl ||
                strncmp(stack[depth - 1], n, nl) != 0)
                return 0;
            depth--;
        } else if (!empty) {
            if (depth == 256)
                return 0;
            memcpy(stack[depth], n, nl);
            stack[depth][nl] = '\0';
            depth++;
            if (!strcmp(stack[depth - 1], "style")) {     /* raw text */
                const char *c = strstr(end, "</style>");
                if (!c)
                    return 0;
                end = c - 1;
            }
        }
        s = end + 1;
    }
    return depth == 0;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ------------------------------------------------------------ formatting */

START_TEST(thousands)
{
    char s[64];
    report_fmt_int(s, sizeof s, 0);
    ck_assert_str_eq(s, "0");
    report_fmt_int(s, sizeof s, 999);
    ck_assert_str_eq(s, "999");
    report_fmt_int(s, sizeof s, 1000);
    ck_assert_str_eq(s, "1,000");
    report_fmt_int(s, sizeof s, 9812345);
    ck_assert_str_eq(s, "9,812,345");
    report_fmt_int(s, sizeof s, 100000);
    ck_assert_str_eq(s, "100,000");
    report_fmt_int(s, sizeof s, UINT64_MAX);
    ck_assert_str_eq(s, "18,446,744,073,709,551,615");
}
END_TEST

START_TEST(percent_change)
{
    char s[32];
    double p;
    ck_assert_int_eq(report_pct_change(170, 100, &p), 0);
    ck_assert(p > 69.999 && p < 70.001);
    ck_assert_int_eq(report_pct_change(5, 0, &p), -1);
    report_fmt_change(s, sizeof s, 170, 100);
    ck_assert_str_eq(s, "+70.0%");
    report_fmt_change(s, sizeof s, 9812345, 5765000);
    ck_assert_str_eq(s, "+70.2%");
    report_fmt_change(s, sizeof s, 9812345, 9941586);
    ck_assert_str_eq(s, "-1.3%");
    report_fmt_change(s, sizeof s, 1000, 1000);
    ck_assert_str_eq(s, "0.0%");
    report_fmt_change(s, sizeof s, 99999, 100000);     /* -0.001% is not "-0.0%" */
    ck_assert_str_eq(s, "0.0%");
    report_fmt_change(s, sizeof s, 0, 100);
    ck_assert_str_eq(s, "-100.0%");
    report_fmt_change(s, sizeof s, 12, 0);
    ck_assert_str_eq(s, "n/a");
}
END_TEST

START_TEST(approx_and_bytes)
{
    char s[64];
    report_fmt_approx(s, sizeof s, 9629494);
    ck_assert_str_eq(s, "9.6 million");
    report_fmt_approx(s, sizeof s, 1.5e6);
    ck_assert_str_eq(s, "1.5 million");
    report_fmt_approx(s, sizeof s, 1.24e9);
    ck_assert_str_eq(s, "1.2 billion");
    report_fmt_approx(s, sizeof s, 612345.4);
    ck_assert_str_eq(s, "612,345");
    report_fmt_bytes(s, sizeof s, 512);
    ck_assert_str_eq(s, "512 B");
    report_fmt_bytes(s, sizeof s, 441600000000ULL);
    ck_assert_str_eq(s, "441.6 GB");
    /* the unit follows the rounded figure: never "1000.0 million" */
    report_fmt_approx(s, sizeof s, 999960000);
    ck_assert_str_eq(s, "1.0 billion");
    report_fmt_approx(s, sizeof s, 999940000);
    ck_assert_str_eq(s, "999.9 million");
    report_fmt_bytes(s, sizeof s, 999960);
    ck_assert_str_eq(s, "1.0 MB");
    report_fmt_bytes(s, sizeof s, 999);
    ck_assert_str_eq(s, "999 B");
}
END_TEST

START_TEST(csv_quoting)
{
    tg_buf b;
    tg_buf_init(&b);
    report_csv_field(&b, "BAYES_99");
    tg_buf_addc(&b, '|');
    report_csv_field(&b, "a,b");
    tg_buf_addc(&b, '|');
    report_csv_field(&b, "say \"hi\"");
    tg_buf_addc(&b, '|');
    report_csv_field(&b, "two\nlines");
    ck_assert_str_eq(b.s, "BAYES_99|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"");
    tg_buf_reset(&b);
    report_xml_escape(&b, "<a href=\"x\">R&D's</a>");
    ck_assert_str_eq(b.s, "&lt;a href=&quot;x&quot;&gt;R&amp;D&#39;s&lt;/a&gt;");
    tg_buf_free(&b);
}
END_TEST

START_TEST(checker_works)
{
    ck_assert(well_formed("<a><b x=\"1\"/><c>t &amp; u</c></a>"));
    ck_assert(!well_formed("<a><b></a></b>"));
    ck_assert(!well_formed("<a>x & y</a>"));
    ck_assert(!well_formed("<a>"));
}
END_TEST

/* ------------------------------------------------------------ the model */

START_TEST(sentence)
{
    report_t *r = fixture();
    char err[256];
    ck_assert_int_eq(report_check(r, err, sizeof err), 0);
    tg_buf b;
    tg_buf_init(&b);
    report_sentence(r, &b);
    ck_assert_str_eq(b.s,
        "In November 2026, 9,812,345 messages came in (+70.2% on November 2025, -1.3% on "
        "October 2026; 12-month average 9.6 million); 15.0% of them were delivered to inboxes "
        "after spam, security threats and policy violations were filtered out. 1,502,117 "
        "messages went out (+0.4% on November 2025; 12-month average 1.5 million).");
    /* asked on 15 November: the month is not over, no change against whole
     * months (it would read as a fall of half) */
    report_set_now(r, keys_month_start(2026, 11) + 14 * 86400);
    tg_buf_reset(&b);
    report_sentence(r, &b);
    ck_assert_msg(strncmp(b.s, "In November 2026 so far, 9,812,345 messages came in (the month "
                                "is not over: no change against whole months; 12-month average",
                          120) == 0, "%s", b.s);
    ck_assert_ptr_null(strstr(b.s, "October 2026"));
    tg_buf_free(&b);
    report_free(r);
}
END_TEST

START_TEST(figures)
{
    report_t *r = fixture();
    ck_assert_uint_eq(report_total(r, REPORT_IN)->msgs, 9812345);
    ck_assert_uint_eq(report_total(r, REPORT_IN)->v[REPORT_V_CLEAN], 1177481);
    ck_assert_uint_eq(report_total(r, REPORT_OUT)->msgs, 1502117);
    double p, a;
    ck_assert_int_eq(report_change(r, REPORT_IN, 12, &p), 0);
    ck_assert(p > 70.20 && p < 70.21);
    ck_assert_int_eq(report_change(r, REPORT_INT, 12, &p), -1);   /* no internal mail */
    ck_assert_int_eq(report_avg12(r, REPORT_IN, 0, &a), 12);
    ck_assert(a > 9629494 && a < 9629495);
    ck_assert_int_eq(report_avg12(r, REPORT_IN, 1, &a), 1);       /* only Nov 2025 */
    ck_assert(a == 5765000);
    p = report_delivered_pct(r);
    ck_assert(p > 14.99 && p < 15.01);
    report_free(r);
}
END_TEST

START_TEST(feed_ignores_foreign_keys)
{
    report_t *r = report_new(REPORT_MONTH, 2026, 11, 0, "acme");
    ck_assert_int_eq(report_feed(r, "tg:v1:c:acme:m:202611", "in:msgs", 5), 1);
    ck_assert_int_eq(report_feed(r, "tg:v1:c:globex:m:202611", "in:msgs", 5), 0);
    ck_assert_int_eq(report_feed(r, "tg:v1:c:acme:m:202411", "in:msgs", 5), 0); /* 24 back */
    ck_assert_int_eq(report_feed(r, "tg:v1:c:acme:m:202612", "in:msgs", 5), 0); /* future */
    ck_assert_int_eq(report_feed(r, "tg:v1:c:acme:m:202611", "in:frobs", 5), 0);
    ck_assert_int_eq(report_feed(r, "tg:v1:c:acme:m:202611", "xx:msgs", 5), 0);
    ck_assert_int_eq(report_feed(r, "tg:v1:c:acme:d:20261031", "in:msgs", 5), 0);
    ck_assert_int_eq(report_feed(r, "tg:v2:c:acme:m:202611", "in:msgs", 5), 0);
    ck_assert_int_eq(report_feed(r, "tg:v1:c:acme:m:202611", "in:msgs", -5), 0);
    ck_assert_int_eq(report_feed(r, "tg:v1:r:acme:m:202611", "BAYES_99", 7), 1);
    ck_assert_int_eq(report_feed(r, "tg:v1:rd:acme:m:202611", "BAYES_99", 2), 1);
    ck_assert_int_eq(report_feed(r, "tg:v1:r:acme:d:20261101", "BAYES_99", 7), 0);
    ck_assert_uint_eq(report_total(r, REPORT_IN)->msgs, 5);
    report_free(r);
}
END_TEST

START_TEST(errors)
{
    char err[256];
    report_t *r = report_new(REPORT_MONTH, 2026, 2, 0, "x");
    report_add_tenant(r, "globex");
    report_add_tenant(r, "acme");
    ck_assert_int_eq(report_check(r, err, sizeof err), -1);
    ck_assert_str_eq(err, "unknown tenant 'x' (known: acme, globex)");
    report_free(r);
    r = report_new(REPORT_MONTH, 2026, 2, 0, KEYS_ALL);
    ck_assert_int_eq(report_check(r, err, sizeof err), -1);
    ck_assert_str_eq(err, "no counters for 2026-02 (tenant _all)");
    report_free(r);
    r = report_new(REPORT_MONTH, 2026, 2, 0, "y");
    ck_assert_int_eq(report_check(r, err, sizeof err), -1);
    ck_assert_str_eq(err, "unknown tenant 'y' (known: none)");
    report_free(r);
    r = report_new(REPORT_DAY, 2026, 2, 3, "acme");
    report_add_tenant(r, "acme");
    ck_assert_int_eq(report_check(r, err, sizeof err), -1);
    ck_assert_str_eq(err, "no counters for 2026-02-03 (tenant acme)");
    /* ... but a day in progress with nothing yet is zeros, not an error */
    report_set_now(r, keys_month_start(2026, 2) + 2 * 86400 + 300);
    ck_assert_int_eq(report_check(r, err, sizeof err), 0);
    report_free(r);
}
END_TEST

START_TEST(peaks_days_hours)
{
    report_t *r = fixture();
    report_feed(r, "tg:v1:c:_all:d:20261103", "in:msgs", 100);
    report_feed(r, "tg:v1:c:_all:d:20261117", "in:msgs", 300);
    report_feed(r, "tg:v1:c:_all:d:20261117", "out:msgs", 50);
    report_feed(r, "tg:v1:c:_all:d:20261130", "in:msgs", 349);
    report_feed(r, "tg:v1:c:_all:h:2026111709", "in:msgs", 40);
    report_feed(r, "tg:v1:c:_all:h:2026113023", "in:msgs", 39);
    report_feed(r, "tg:v1:c:_all:h:2026120100", "in:msgs", 99);   /* next month: ignored */
    int d;
    uint64_t n;
    time_t h;
    ck_assert_int_eq(report_peak_day(r, &d, &n), 0);
    ck_assert_int_eq(d, 17);
    ck_assert_uint_eq(n, 350);
    ck_assert_int_eq(report_peak_hour(r, &h, &n), 0);
    ck_assert_int_eq((long long)h, 1794906000LL);   /* 2026-11-17 09:00 UTC */
    ck_assert_uint_eq(n, 40);
    tg_buf b;
    tg_buf_init(&b);
    report_render(r, REPORT_TEXT, &b);
    ck_assert_msg(strstr(b.s, "Peak hour: 2026-11-17 09:00 UTC, 40 messages (hour buckets are "
                              "UTC hours)\n"), "%s", b.s);
    /* asked at the start of 20 December: the hours to 10 November 00:00 have expired (40
     * days), and the peak says it is the peak of the rest */
    report_set_now(r, keys_month_start(2026, 12) + 19 * 86400);
    tg_buf_reset(&b);
    report_render(r, REPORT_TEXT, &b);
    ck_assert_msg(strstr(b.s, "40 messages (hour buckets are UTC hours; of the hours from "
                              "2026-11-10 01:00 UTC on: the earlier ones have expired"), "%s", b.s);
    tg_buf_free(&b);
    report_free(r);
}
END_TEST

/* Local months in Europe/London start at 23:00 UTC the day before while
 * summer time lasts: October 2026 owns hour bucket 2026093023. */
START_TEST(hours_of_a_london_month)
{
    ck_assert_int_eq(keys_set_timezone("Europe/London"), 0);
    report_t *r = report_new(REPORT_MONTH, 2026, 10, 0, KEYS_ALL);
    ck_assert_int_eq(report_feed(r, "tg:v1:c:_all:h:2026093022", "in:msgs", 5), 0);
    ck_assert_int_eq(report_feed(r, "tg:v1:c:_all:h:2026093023", "in:msgs", 7), 1);
    ck_assert_int_eq(report_feed(r, "tg:v1:c:_all:h:2026103123", "in:msgs", 3), 1);
    ck_assert_int_eq(report_feed(r, "tg:v1:c:_all:h:2026110100", "in:msgs", 3), 0);
    time_t h;
    uint64_t n;
    ck_assert_int_eq(report_peak_hour(r, &h, &n), 0);
    ck_assert_uint_eq(n, 7);
    report_free(r);
    /* a local day: 2026-03-29 in London has 23 hours (00:00 UTC to 23:00 UTC) */
    r = report_new(REPORT_DAY, 2026, 3, 29, KEYS_ALL);
    ck_assert_int_eq(report_feed(r, "tg:v1:c:_all:h:2026032900", "in:msgs", 1), 1);
    ck_assert_int_eq(report_feed(r, "tg:v1:c:_all:h:2026032922", "in:msgs", 1), 1);
    ck_assert_int_eq(report_feed(r, "tg:v1:c:_all:h:2026032923", "in:msgs", 1), 0);
    report_free(r);
    keys_set_timezone("UTC");
}
END_TEST

START_TEST(completeness)
{
    char why[1024];
    report_t *r = fixture();
    ck_assert_int_eq(report_complete(r, why, sizeof why), -1);
    time_t end = keys_month_start(2026, 12);
    report_add_watermark(r, "mx1:a", (int64_t)end);
    ck_assert_int_eq(report_complete(r, why, sizeof why), 1);
    ck_assert_ptr_nonnull(strstr(why, "complete"));
    report_add_watermark(r, "mx2:b", (int64_t)end - 3 * 3600 - 120);
    ck_assert_int_eq(report_complete(r, why, sizeof why), 0);
    ck_assert_ptr_nonnull(strstr(why, "mx2:b"));
    ck_assert_ptr_nonnull(strstr(why, "3h 2m short"));
    ck_assert_ptr_nonnull(strstr(why, "1 of 2 senders complete"));
    /* a sender silent since before the month (a retired host: live ones
     * send heartbeats) is named apart and does not hold the month back */
    time_t start = keys_month_start(2026, 11);
    report_add_watermark(r, "mx-old:c", (int64_t)start - 86400 * 30);
    report_add_sender_seen(r, "mx-old:c", (int64_t)start - 86400 * 30);
    ck_assert_int_eq(report_complete(r, why, sizeof why), 0);
    ck_assert_ptr_nonnull(strstr(why, "1 of 2 senders complete"));
    ck_assert_ptr_nonnull(strstr(why, "not counted: 1 sender silent since before this period "
                                      "(mx-old:c since"));
    /* ... while one that stopped inside the month still lags */
    report_add_sender_seen(r, "mx2:b", (int64_t)start + 3600);
    ck_assert_int_eq(report_complete(r, why, sizeof why), 0);
    ck_assert_ptr_nonnull(strstr(why, "mx2:b"));
    report_free(r);

    /* only silent senders: unknown */
    r = fixture();
    report_add_watermark(r, "mx-old:c", (int64_t)start - 86400);
    report_add_sender_seen(r, "mx-old:c", (int64_t)start - 86400);
    ck_assert_int_eq(report_complete(r, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "no sender has flushed counts in this period"));
    report_free(r);
}
END_TEST

/* ------------------------------------------------------------ rendering */

START_TEST(text_and_tenants)
{
    report_t *r = fixture();
    report_set_by_tenant(r, 1);
    feed_month(r, "acme", "202611", 9812345 - 2000000, 1502117 - 500000);
    feed_month(r, "globex", "202611", 2000000, 500000);
    feed_month(r, "acme", "202511", 4000000, 1000000);
    feed_month(r, KEYS_ALL, "202611", 0, 0);    /* _all is not a tenant row */
    tg_buf b;
    tg_buf_init(&b);
    report_render(r, REPORT_TEXT, &b);
    ck_assert_ptr_nonnull(strstr(b.s, "In November 2026, 9,812,345 messages came in"));
    ck_assert_ptr_nonnull(strstr(b.s, "delivered to inboxes                       1,471,852    15.0%"));
    ck_assert_ptr_nonnull(strstr(b.s, "  acme                     7,812,345"));
    ck_assert_ptr_nonnull(strstr(b.s, "+95.3%"));          /* acme on Nov 2025 */
    ck_assert_ptr_nonnull(strstr(b.s, "sum of tenants           9,812,345"));
    /* internal mail is in _all but in no tenant row: the sums differ */
    ck_assert_ptr_nonnull(strstr(b.s, "The tenants add up to the service-wide total."));
    ck_assert_ptr_nonnull(strstr(b.s, "Peak hour: n/a"));
    tg_buf_free(&b);
    report_free(r);
}
END_TEST

START_TEST(json_shape)
{
    report_t *r = fixture();
    report_feed(r, "tg:v1:r:_all:m:202611", "BAYES_99", 700);
    report_feed(r, "tg:v1:r:_all:m:202611", "HTML\"QUOTE", 900);
    report_feed(r, "tg:v1:rd:_all:m:202611", "HTML\"QUOTE", 300);
    tg_buf b;
    tg_buf_init(&b);
    report_render(r, REPORT_JSON, &b);
    const char *want[] = {
        "{\"month\":\"2026-11\",\"tenant\":\"_all\"",
        "\"in\":{\"msgs\":9812345,\"rcpts\":",
        "\"verdicts\":{\"clean\":1177481,\"tagged\":294371,\"spam\":7064888,\"security\":490617,"
        "\"policy\":735925,\"tempfail\":49063}",
        "\"out\":{\"msgs\":1502117,", "\"int\":{\"msgs\":0,",
        "\"delivered\":{\"msgs\":1471852,\"pct\":15.0}",
        "\"prev_year\":{\"month\":\"2025-11\",\"in\":70.2,\"out\":0.4,\"int\":null}",
        "\"prev_month\":{\"month\":\"2026-10\",\"in\":-1.3,",
        "\"avg12\":{\"from\":\"2025-12\",\"to\":\"2026-11\",\"months\":12,\"in\":9629494,",
        "\"top_rules\":[{\"rule\":\"HTML\\\"QUOTE\",\"hits\":900,\"delivered\":300},"
        "{\"rule\":\"BAYES_99\",\"hits\":700,\"delivered\":0}]",
        "\"actions\":{\"in\":{\"accept\":1471852,", "\"days\":[]", "\"peak_day\":null",
        "\"peak_hour\":null", "\"complete\":false",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(strstr(b.s, want[i]) != NULL, "JSON lacks %s", want[i]);
    /* braces and brackets balance outside strings */
    int depth = 0, in_str = 0;
    for (const char *p = b.s; *p; p++) {
        if (in_str) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                in_str = 0;
        } else if (*p == '"') {
            in_str = 1;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            ck_assert_int_gt(depth, 0);
            depth--;
        }
    }
    ck_assert_int_eq(depth, 0);
    ck_assert(!in_str);
    tg_buf_free(&b);
    report_free(r);
}
END_TEST

START_TEST(csv_layout)
{
    report_t *r = fixture();
    report_feed(r, "tg:v1:c:_all:d:20261105", "in:msgs", 123);
    tg_buf b;
    tg_buf_init(&b);
    report_render(r, REPORT_CSV, &b);
    ck_assert_int_eq(count(b.s, "\r\n"), 1 + 30 + 1 + 1);
    ck_assert(!strncmp(b.s, "date,in_msgs,in_rcpts,in_bytes,in_v_clean,", 42));
    ck_assert_int_eq(count(strtok(b.s, "\r"), ","), 3 * 14);
    tg_buf_free(&b);
    tg_buf_init(&b);
    report_render(r, REPORT_CSV, &b);
    ck_assert_ptr_nonnull(strstr(b.s, "\r\n2026-11-05,123,0,"));
    ck_assert_ptr_nonnull(strstr(b.s, "\r\n\r\n2026-11,9812345,"));
    tg_buf_free(&b);
    report_free(r);
    /* top-rules CSV quotes a name that needs it */
    r = report_new(REPORT_RULES, 2026, 11, 0, KEYS_ALL);
    report_feed(r, "tg:v1:r:_all:m:202611", "ODD,NAME", 4);
    tg_buf_init(&b);
    report_render(r, REPORT_CSV, &b);
    ck_assert_str_eq(b.s, "rule,hits,delivered\r\n\"ODD,NAME\",4,0\r\n");
    tg_buf_free(&b);
    report_free(r);
}
END_TEST

START_TEST(html_self_contained)
{
    report_t *r = fixture();
    report_set_by_tenant(r, 1);
    report_set_zone(r, "Europe/<London>");
    for (int d = 1; d <= 30; d++) {
        char key[64];
        snprintf(key, sizeof key, "tg:v1:c:_all:d:202611%02d", d);
        report_feed(r, key, "in:msgs", 300000 + d * 1000);
        report_feed(r, key, "in:v:clean", 45000);
        report_feed(r, key, "out:msgs", 50000);
    }
    report_feed(r, "tg:v1:r:_all:m:202611", "R<&>", 5);
    tg_buf b;
    tg_buf_init(&b);
    report_render(r, REPORT_HTML, &b);
    ck_assert(well_formed(b.s));
    ck_assert(!strncmp(b.s, "<!DOCTYPE html>", 15));
    ck_assert_int_eq(count(b.s, "<svg "), 3);
    ck_assert_int_eq(count(b.s, "</svg>"), 3);
    ck_assert_int_eq(count(b.s, "http"), 3);       /* only the SVG namespace */
    ck_assert_int_eq(count(b.s, "http://www.w3.org/2000/svg"), 3);
    ck_assert_ptr_null(strstr(b.s, "<script"));
    ck_assert_ptr_null(strstr(b.s, "<link"));
    ck_assert_ptr_null(strstr(b.s, "src="));
    ck_assert_ptr_nonnull(strstr(b.s, "@media print"));
    ck_assert_ptr_nonnull(strstr(b.s, "size: A4"));
    ck_assert_ptr_nonnull(strstr(b.s, "9,812,345"));
    ck_assert_ptr_nonnull(strstr(b.s, "Europe/&lt;London&gt;"));
    ck_assert_ptr_nonnull(strstr(b.s, "R&lt;&amp;&gt;"));
    ck_assert_ptr_nonnull(strstr(b.s, "<h2>Tenants</h2>"));
    /* the 30 days each draw incoming, delivered and outgoing bars */
    ck_assert_int_ge(count(b.s, "<rect "), 90);
    tg_buf_free(&b);
    report_free(r);
}
END_TEST

START_TEST(day_and_rules_views)
{
    keys_set_timezone("UTC");
    report_t *r = report_new(REPORT_DAY, 2026, 11, 23, KEYS_ALL);
    report_set_now(r, 1795435200);       /* 2026-11-23 12:00 UTC */
    report_feed(r, "tg:v1:c:_all:d:20261123", "in:msgs", 1000);
    report_feed(r, "tg:v1:c:_all:d:20261123", "in:v:clean", 150);
    report_feed(r, "tg:v1:c:_all:h:2026112309", "in:msgs", 600);
    report_feed(r, "tg:v1:r:_all:d:20261123", "BAYES_99", 10);
    report_add_watermark(r, "mx1:a", 1795435200 - 5);
    char err[128];
    ck_assert_int_eq(report_check(r, err, sizeof err), 0);
    tg_buf b;
    tg_buf_init(&b);
    report_render(r, REPORT_TEXT, &b);
    ck_assert_ptr_nonnull(strstr(b.s, "Monday 2026-11-23"));
    ck_assert_ptr_nonnull(strstr(b.s, "150 of 1,000 incoming (15.0%)"));
    ck_assert_ptr_nonnull(strstr(b.s, "2026-11-23 09:00         600"));
    ck_assert_ptr_nonnull(strstr(b.s, "5s ago"));
    ck_assert_ptr_nonnull(strstr(b.s, "Hours (UTC"));
    tg_buf_free(&b);
    report_free(r);

    r = report_new(REPORT_RULES, 2026, 11, 0, KEYS_ALL);
    report_set_top(r, 2);
    report_set_sort_delivered(r, 1);
    report_feed(r, "tg:v1:c:_all:m:202611", "in:msgs", 10);
    report_feed(r, "tg:v1:r:_all:m:202611", "A", 100);
    report_feed(r, "tg:v1:r:_all:m:202611", "B", 50);
    report_feed(r, "tg:v1:rd:_all:m:202611", "B", 40);
    report_feed(r, "tg:v1:r:_all:m:202611", "C", 10);
    tg_buf_init(&b);
    report_render(r, REPORT_JSON, &b);
    ck_assert_str_eq(b.s, "{\"month\":\"2026-11\",\"tenant\":\"_all\",\"rules_hit\":3,\"rules\":"
                          "[{\"rule\":\"B\",\"hits\":50,\"delivered\":40},"
                          "{\"rule\":\"A\",\"hits\":100,\"delivered\":0}]}\n");
    tg_buf_free(&b);
    report_free(r);
}
END_TEST

Suite *report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("format");
    tcase_add_test(tc, thousands);
    tcase_add_test(tc, percent_change);
    tcase_add_test(tc, approx_and_bytes);
    tcase_add_test(tc, csv_quoting);
    tcase_add_test(tc, checker_works);
    suite_add_tcase(s, tc);
    tc = tcase_create("model");
    tcase_add_test(tc, sentence);
    tcase_add_test(tc, figures);
    tcase_add_test(tc, feed_ignores_foreign_keys);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, peaks_days_hours);
    tcase_add_test(tc, hours_of_a_london_month);
    tcase_add_test(tc, completeness);
    suite_add_tcase(s, tc);
    tc = tcase_create("render");
    tcase_add_test(tc, text_and_tenants);
    tcase_add_test(tc, json_shape);
    tcase_add_test(tc, csv_layout);
    tcase_add_test(tc, html_self_contained);
    tcase_add_test(tc, day_and_rules_views);
    suite_add_tcase(s, tc);
    return s;
}
