#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"

/* months[NMONTHS - 1] is the report's month, [NMONTHS - 2] the one before,
 * [NMONTHS - 13] the same month a year before; 24 months give the 12-month
 * average and the 12 months before it (the trend chart draws both). */
#define NMONTHS 24
#define CUR (NMONTHS - 1)

static const char *const dir_names[REPORT_NDIR] = {"in", "out", "int"};
static const char *const dir_words[REPORT_NDIR] = {"incoming", "outgoing", "internal"};
static const char *const v_names[REPORT_NV] = {"clean", "tagged", "spam", "security",
                                               "policy", "tempfail"};
static const char *const a_names[REPORT_NA] = {"accept", "reject", "discard", "quarantine",
                                               "tempfail"};
static const char *const month_names[12] = {"January", "February", "March", "April", "May",
                                            "June", "July", "August", "September",
                                            "October", "November", "December"};
static const char *const wday_names[7] = {"Sunday", "Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday"};

/* One bucket: counters per direction; present once any field was fed. */
typedef struct dirs {
    report_counts_t d[REPORT_NDIR];
    int present;
} dirs_t;

typedef struct rule {
    char *name;
    uint64_t hits, delivered;
} rule_t;

typedef struct trow {          /* a tenant's month, and the same month a year before */
    char *name;
    dirs_t cur, ago;
} trow_t;

typedef struct wmark {
    char *sender;
    int64_t wm;
    int64_t seen;      /* when Redis applied its last batch (tg:v1:senders); 0 unknown */
} wmark_t;

struct report {
    int kind, year, month, day;
    char *tenant, *zone;
    int by_tenant, sort_delivered;
    size_t top;
    time_t now;
    time_t start, end;                 /* the local period [start, end) */
    char mbucket[16], dbucket[16];     /* "202611", "20261123" */
    dirs_t months[NMONTHS];
    int ndays;
    dirs_t days[31];                   /* REPORT_DAY: days[0] is the day */
    time_t hour0;                      /* first UTC hour overlapping the period */
    size_t nhours;
    dirs_t *hours;
    rule_t *rules;
    size_t nrules, rcap;
    tg_map *rule_idx;
    trow_t *trows;
    size_t ntrows, trcap;
    char **tenants;                    /* tg:v1:tenants */
    size_t ntenants, tncap;
    wmark_t *wms;
    size_t nwms, wcap;
};

/* ------------------------------------------------------------ calendar */

static int days_in_month(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

/* Month index i of the months[] array as year and month. */
static void month_of(const report_t *r, int i, int *y, int *m)
{
    int n = r->year * 12 + (r->month - 1) - (CUR - i);
    *y = n / 12;
    *m = n % 12 + 1;
}

static int weekday(int y, int m, int d)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = 12;
    time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    return tm.tm_wday;
}

static time_t local_midnight(int y, int m, int d)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_isdst = -1;
    return mktime(&tm);
}

static void fmt_local(char *out, size_t len, time_t t, const char *fmt)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, len, fmt, &tm);
}

static void fmt_utc(char *out, size_t len, time_t t, const char *fmt)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, fmt, &tm);
}

/* "3d 4h 5m" */
static void fmt_duration(char *out, size_t len, int64_t s)
{
    if (s < 60)
        snprintf(out, len, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(out, len, "%lldm", (long long)(s / 60));
    else if (s < 86400)
        snprintf(out, len, "%lldh %lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(out, len, "%lldd %lldh %lldm", (long long)(s / 86400),
                 (long long)(s % 86400 / 3600), (long long)(s % 3600 / 60));
}

/* ------------------------------------------------------------ the model */

report_t *report_new(int kind, int year, int month, int day, const char *tenant)
{
    report_t *r = tg_calloc(1, sizeof *r);
    r->kind = kind;
    r->year = year;
    r->month = month;
    r->day = kind == REPORT_DAY ? day : 1;
    r->tenant = tg_strdup(tenant && *tenant ? tenant : KEYS_ALL);
    r->zone = tg_strdup("UTC");
    r->top = 10;
    r->now = time(NULL);
    r->rule_idx = tg_map_new();
    snprintf(r->mbucket, sizeof r->mbucket, "%04d%02d", year, month);
    snprintf(r->dbucket, sizeof r->dbucket, "%04d%02d%02d", year, month, r->day);
    if (kind == REPORT_DAY) {
        r->ndays = 1;
        r->start = local_midnight(year, month, r->day);
        r->end = local_midnight(year, month, r->day + 1);   /* mktime normalises */
    } else {
        r->ndays = days_in_month(year, month);
        r->start = keys_month_start(year, month);
        r->end = month == 12 ? keys_month_start(year + 1, 1) : keys_month_start(year, month + 1);
    }
    if (kind != REPORT_RULES) {
        r->hour0 = r->start - ((r->start % 3600) + 3600) % 3600;
        time_t hend = r->end + (3600 - ((r->end % 3600) + 3600) % 3600) % 3600;
        r->nhours = (size_t)((hend - r->hour0) / 3600);
        r->hours = tg_calloc(r->nhours ? r->nhours : 1, sizeof *r->hours);
    }
    return r;
}

void report_free(report_t *r)
{
    if (!r)
        return;
    free(r->tenant);
    free(r->zone);
    free(r->hours);
    for (size_t i = 0; i < r->nrules; i++)
        free(r->rules[i].name);
    free(r->rules);
    tg_map_free(r->rule_idx);
    for (size_t i = 0; i < r->ntrows; i++)
        free(r->trows[i].name);
    free(r->trows);
    for (size_t i = 0; i < r->ntenants; i++)
        free(r->tenants[i]);
    free(r->tenants);
    for (size_t i = 0; i < r->nwms; i++)
        free(r->wms[i].sender);
    free(r->wms);
    free(r);
}

void report_set_by_tenant(report_t *r, int on) { r->by_tenant = on; }
void report_set_top(report_t *r, size_t n) { r->top = n; }
void report_set_sort_delivered(report_t *r, int on) { r->sort_delivered = on; }
void report_set_now(report_t *r, time_t now) { r->now = now; }

void report_set_zone(report_t *r, const char *zone)
{
    free(r->zone);
    r->zone = tg_strdup(zone);
}

/* The counter a field names ("in:msgs", "out:v:spam", "int:a:reject"), or
 * NULL for a field this version does not know. */
static uint64_t *field_slot(dirs_t *x, const char *field)
{
    int dir = -1;
    for (int i = 0; i < REPORT_NDIR; i++) {
        size_t n = strlen(dir_names[i]);
        if (!strncmp(field, dir_names[i], n) && field[n] == ':') {
            dir = i;
            field += n + 1;
            break;
        }
    }
    if (dir < 0)
        return NULL;
    report_counts_t *c = &x->d[dir];
    if (!strcmp(field, "msgs"))
        return &c->msgs;
    if (!strcmp(field, "rcpts"))
        return &c->rcpts;
    if (!strcmp(field, "bytes"))
        return &c->bytes;
    if (!strncmp(field, "v:", 2)) {
        for (int i = 0; i < REPORT_NV; i++)
            if (!strcmp(field + 2, v_names[i]))
                return &c->v[i];
    } else if (!strncmp(field, "a:", 2)) {
        for (int i = 0; i < REPORT_NA; i++)
            if (!strcmp(field + 2, a_names[i]))
                return &c->a[i];
    }
    return NULL;
}

static int feed_dirs(dirs_t *x, const char *field, int64_t value)
{
    uint64_t *slot = field_slot(x, field);
    if (!slot)
        return 0;
    *slot += (uint64_t)value;
    x->present = 1;
    return 1;
}

static rule_t *rule_get(report_t *r, const char *name)
{
    size_t i;
    if (!tg_map_get(r->rule_idx, name, &i)) {
        tg_grow(&r->rules, &r->rcap, r->nrules + 1, sizeof *r->rules);
        i = r->nrules++;
        r->rules[i] = (rule_t){tg_strdup(name), 0, 0};
        tg_map_put(r->rule_idx, name, i);
    }
    return &r->rules[i];
}

static trow_t *trow_get(report_t *r, const char *name)
{
    for (size_t i = 0; i < r->ntrows; i++)
        if (!strcmp(r->trows[i].name, name))
            return &r->trows[i];
    tg_grow(&r->trows, &r->trcap, r->ntrows + 1, sizeof *r->trows);
    trow_t *t = &r->trows[r->ntrows++];
    memset(t, 0, sizeof *t);
    t->name = tg_strdup(name);
    return t;
}

static int all_digits(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

int report_feed(report_t *r, const char *key, const char *field, int64_t value)
{
    if (value < 0 || strncmp(key, KEYS_PREFIX, strlen(KEYS_PREFIX)) != 0)
        return 0;
    const char *p = key + strlen(KEYS_PREFIX);
    int type;                                   /* 0 c:, 1 r:, 2 rd: */
    if (!strncmp(p, "c:", 2))
        type = 0, p += 2;
    else if (!strncmp(p, "r:", 2))
        type = 1, p += 2;
    else if (!strncmp(p, "rd:", 3))
        type = 2, p += 3;
    else
        return 0;
    const char *colon = strchr(p, ':');
    if (!colon || colon == p || colon - p >= 200 || !colon[1] || colon[2] != ':')
        return 0;
    char tenant[200];
    memcpy(tenant, p, (size_t)(colon - p));
    tenant[colon - p] = '\0';
    char kind = colon[1];
    const char *bucket = colon + 3;
    int mine = !strcmp(tenant, r->tenant);

    if (type != 0) {
        if (!mine)
            return 0;
        int want = (r->kind == REPORT_DAY) ? (kind == 'd' && !strcmp(bucket, r->dbucket))
                                           : (kind == 'm' && !strcmp(bucket, r->mbucket));
        if (!want)
            return 0;
        rule_t *ru = rule_get(r, field);
        if (type == 1)
            ru->hits += (uint64_t)value;
        else
            ru->delivered += (uint64_t)value;
        return 1;
    }

    int used = 0;
    if (kind == 'm' && all_digits(bucket, 6)) {
        int y = atoi(bucket) / 100, m = atoi(bucket) % 100;
        int back = (r->year * 12 + r->month - 1) - (y * 12 + m - 1);
        if (mine && back >= 0 && back < NMONTHS)
            used |= feed_dirs(&r->months[CUR - back], field, value);
        if (r->by_tenant && !mine && strcmp(tenant, KEYS_ALL) != 0 && (back == 0 || back == 12))
            used |= feed_dirs(back == 0 ? &trow_get(r, tenant)->cur : &trow_get(r, tenant)->ago,
                              field, value);
    } else if (kind == 'd' && mine && all_digits(bucket, 8)) {
        if (r->kind == REPORT_DAY) {
            if (!strcmp(bucket, r->dbucket))
                used = feed_dirs(&r->days[0], field, value);
        } else if (!strncmp(bucket, r->mbucket, 6)) {
            int d = atoi(bucket + 6);
            if (d >= 1 && d <= r->ndays)
                used = feed_dirs(&r->days[d - 1], field, value);
        }
    } else if (kind == 'h' && mine && all_digits(bucket, 10) && r->hours) {
        struct tm tm = {0};
        long long b = atoll(bucket);
        tm.tm_year = (int)(b / 1000000) - 1900;
        tm.tm_mon = (int)(b / 10000 % 100) - 1;
        tm.tm_mday = (int)(b / 100 % 100);
        tm.tm_hour = (int)(b % 100);
        time_t t = timegm(&tm);
        if (t >= r->hour0 && (size_t)((t - r->hour0) / 3600) < r->nhours)
            used = feed_dirs(&r->hours[(t - r->hour0) / 3600], field, value);
    }
    return used;
}

void report_add_tenant(report_t *r, const char *name)
{
    for (size_t i = 0; i < r->ntenants; i++)
        if (!strcmp(r->tenants[i], name))
            return;
    tg_grow(&r->tenants, &r->tncap, r->ntenants + 1, sizeof *r->tenants);
    r->tenants[r->ntenants++] = tg_strdup(name);
}

void report_add_watermark(report_t *r, const char *sender, int64_t wm)
{
    tg_grow(&r->wms, &r->wcap, r->nwms + 1, sizeof *r->wms);
    r->wms[r->nwms++] = (wmark_t){tg_strdup(sender), wm, 0};
}

void report_add_sender_seen(report_t *r, const char *sender, int64_t at)
{
    for (size_t i = 0; i < r->nwms; i++)
        if (!strcmp(r->wms[i].sender, sender))
            r->wms[i].seen = at;
}

/* A sender that has sent nothing since before the period began: a retired
 * host or instance (an idle one still sends heartbeats), left out of the
 * completeness figures and named apart. */
static int silent(const report_t *r, const wmark_t *w)
{
    return w->seen > 0 && w->seen < (int64_t)r->start && w->wm < (int64_t)r->start;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_wm(const void *a, const void *b)
{
    const wmark_t *x = a, *y = b;
    return x->wm < y->wm ? -1 : x->wm > y->wm ? 1 : strcmp(x->sender, y->sender);
}

static const dirs_t *period(const report_t *r)
{
    return r->kind == REPORT_DAY ? &r->days[0] : &r->months[CUR];
}

int report_check(const report_t *r, char *err, size_t errlen)
{
    if (strcmp(r->tenant, KEYS_ALL) != 0) {
        int known = 0;
        for (size_t i = 0; i < r->ntenants; i++)
            known |= !strcmp(r->tenants[i], r->tenant);
        if (!known) {
            char **names = tg_malloc((r->ntenants + 1) * sizeof *names);
            if (r->tenants)
                memcpy(names, r->tenants, r->ntenants * sizeof *names);
            qsort(names, r->ntenants, sizeof *names, cmp_str);
            tg_buf b;
            tg_buf_init(&b);
            for (size_t i = 0; i < r->ntenants; i++)
                tg_buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
            int rc = tg_err(err, errlen, "unknown tenant '%s' (known: %s)", r->tenant,
                            r->ntenants ? b.s : "none");
            tg_buf_free(&b);
            free(names);
            return rc;
        }
    }
    /* a period in progress with nothing counted yet ("today" at 00:05 for a
     * quiet tenant) is all zeros, not an error */
    if (!period(r)->present && !(r->start <= r->now && r->now < r->end)) {
        if (r->kind == REPORT_DAY)
            return tg_err(err, errlen, "no counters for %04d-%02d-%02d (tenant %s)", r->year,
                          r->month, r->day, r->tenant);
        return tg_err(err, errlen, "no counters for %04d-%02d (tenant %s)", r->year, r->month,
                      r->tenant);
    }
    return 0;
}

/* ------------------------------------------------------------ fetching */

/* Every key the report reads, in a caller-freed array of owned strings. */
static char **report_keys(const report_t *r, size_t *n)
{
    char **k = NULL;
    size_t cap = 0;
    char key[512], b[32];
    *n = 0;
#define PUSH() (tg_grow(&k, &cap, *n + 1, sizeof *k), k[(*n)++] = tg_strdup(key))
    if (r->kind == REPORT_MONTH) {
        for (int i = 0; i < NMONTHS; i++) {
            int y, m;
            month_of(r, i, &y, &m);
            snprintf(b, sizeof b, "%04d%02d", y, m);
            keys_counter(key, sizeof key, r->tenant, 'm', b);
            PUSH();
        }
        for (int d = 1; d <= r->ndays; d++) {
            snprintf(b, sizeof b, "%04d%02d%02d", r->year, r->month, d);
            keys_counter(key, sizeof key, r->tenant, 'd', b);
            PUSH();
        }
    } else {
        keys_counter(key, sizeof key, r->tenant, 'm', r->mbucket);
        PUSH();
        if (r->kind == REPORT_DAY) {
            keys_counter(key, sizeof key, r->tenant, 'd', r->dbucket);
            PUSH();
        }
    }
    for (size_t h = 0; h < r->nhours; h++) {
        keys_hour(r->hour0 + (time_t)h * 3600, b);
        keys_counter(key, sizeof key, r->tenant, 'h', b);
        PUSH();
    }
    if (r->kind == REPORT_DAY) {
        keys_rules(key, sizeof key, r->tenant, 'd', r->dbucket, 0);
        PUSH();
    } else {
        keys_rules(key, sizeof key, r->tenant, 'm', r->mbucket, 0);
        PUSH();
        keys_rules(key, sizeof key, r->tenant, 'm', r->mbucket, 1);
        PUSH();
    }
    if (r->by_tenant && r->kind == REPORT_MONTH) {
        int y, m;
        month_of(r, CUR - 12, &y, &m);
        snprintf(b, sizeof b, "%04d%02d", y, m);
        for (size_t i = 0; i < r->ntenants; i++) {
            keys_counter(key, sizeof key, r->tenants[i], 'm', r->mbucket);
            PUSH();
            keys_counter(key, sizeof key, r->tenants[i], 'm', b);
            PUSH();
        }
    }
#undef PUSH
    return k;
}

static int lost(redisContext *rc, redisReply *rep, char *err, size_t errlen)
{
    int ret = tg_err(err, errlen, "Redis: %s",
                     rep && rep->type == REDIS_REPLY_ERROR ? rep->str
                     : rc->err                            ? rc->errstr
                                                          : "unexpected reply");
    if (rep)
        freeReplyObject(rep);
    return ret;
}

int report_fetch(report_t *r, redisContext *rc, char *err, size_t errlen)
{
    /* round 1: tenant names (needed for the per-tenant keys), watermarks */
    redisAppendCommand(rc, "SMEMBERS " KEYS_PREFIX "tenants");
    redisAppendCommand(rc, "HGETALL " KEYS_PREFIX "wm");
    redisAppendCommand(rc, "HGETALL " KEYS_PREFIX "senders");
    for (int i = 0; i < 3; i++) {
        redisReply *rep = NULL;
        if (redisGetReply(rc, (void **)&rep) != REDIS_OK || !rep ||
            rep->type != REDIS_REPLY_ARRAY)
            return lost(rc, rep, err, errlen);
        for (size_t j = 0; j < rep->elements; j += (size_t)(i ? 2 : 1)) {
            if (i == 0)
                report_add_tenant(r, rep->element[j]->str);
            else if (j + 1 < rep->elements && i == 1)
                report_add_watermark(r, rep->element[j]->str,
                                     strtoll(rep->element[j + 1]->str, NULL, 10));
            else if (j + 1 < rep->elements)
                report_add_sender_seen(r, rep->element[j]->str,
                                       strtoll(rep->element[j + 1]->str, NULL, 10));
        }
        freeReplyObject(rep);
    }
    if (strcmp(r->tenant, KEYS_ALL) != 0) {
        int known = 0;
        for (size_t i = 0; i < r->ntenants; i++)
            known |= !strcmp(r->tenants[i], r->tenant);
        if (!known)
            return report_check(r, err, errlen);
    }
    /* round 2: every counter hash, pipelined */
    size_t n;
    char **keys = report_keys(r, &n);
    for (size_t i = 0; i < n; i++)
        redisAppendCommand(rc, "HGETALL %s", keys[i]);
    int rcode = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *rep = NULL;
        if (redisGetReply(rc, (void **)&rep) != REDIS_OK || !rep ||
            rep->type != REDIS_REPLY_ARRAY) {
            rcode = lost(rc, rep, err, errlen);
            break;
        }
        for (size_t j = 0; j + 1 < rep->elements; j += 2)
            report_feed(r, keys[i], rep->element[j]->str,
                        strtoll(rep->element[j + 1]->str, NULL, 10));
        freeReplyObject(rep);
    }
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    return rcode < 0 ? rcode : report_check(r, err, errlen);
}

/* ------------------------------------------------------------ figures */

static uint64_t all_msgs(const dirs_t *x)
{
    return x->d[REPORT_IN].msgs + x->d[REPORT_OUT].msgs + x->d[REPORT_INT].msgs;
}

const report_counts_t *report_total(const report_t *r, int dir)
{
    return &period(r)->d[dir];
}

int report_pct_change(uint64_t now, uint64_t before, double *pct)
{
    if (before == 0)
        return -1;
    *pct = 100.0 * ((double)now - (double)before) / (double)before;
    return 0;
}

int report_change(const report_t *r, int dir, int months_back, double *pct)
{
    if (r->kind == REPORT_DAY || months_back < 1 || months_back > CUR)
        return -1;
    const dirs_t *b = &r->months[CUR - months_back];
    if (!b->present || !r->months[CUR].present)
        return -1;
    return report_pct_change(r->months[CUR].d[dir].msgs, b->d[dir].msgs, pct);
}

int report_avg12(const report_t *r, int dir, int prev, double *avg)
{
    int lo = prev ? 0 : 12, n = 0;
    double sum = 0;
    for (int i = lo; i < lo + 12; i++)
        if (r->months[i].present) {
            sum += (double)r->months[i].d[dir].msgs;
            n++;
        }
    *avg = n ? sum / n : 0;
    return n;
}

static uint64_t delivered(const report_counts_t *c)
{
    return c->v[REPORT_V_CLEAN] + c->v[REPORT_V_TAGGED];
}

double report_delivered_pct(const report_t *r)
{
    const report_counts_t *c = report_total(r, REPORT_IN);
    return c->msgs ? 100.0 * (double)delivered(c) / (double)c->msgs : -1;
}

int report_peak_day(const report_t *r, int *mday, uint64_t *msgs)
{
    int best = -1;
    uint64_t bm = 0;
    for (int d = 0; d < r->ndays; d++)
        if (r->days[d].present && (best < 0 || all_msgs(&r->days[d]) > bm)) {
            best = d;
            bm = all_msgs(&r->days[d]);
        }
    if (best < 0)
        return -1;
    *mday = r->kind == REPORT_DAY ? r->day : best + 1;
    *msgs = bm;
    return 0;
}

int report_peak_hour(const report_t *r, time_t *hour, uint64_t *msgs)
{
    long best = -1;
    uint64_t bm = 0;
    for (size_t h = 0; h < r->nhours; h++)
        if (r->hours[h].present && (best < 0 || all_msgs(&r->hours[h]) > bm)) {
            best = (long)h;
            bm = all_msgs(&r->hours[h]);
        }
    if (best < 0)
        return -1;
    *hour = r->hour0 + (time_t)best * 3600;
    *msgs = bm;
    return 0;
}

/* The first hour of the period whose counter is still kept (hour keys
 * expire 40 days after their hour): hour0 when none has expired. A peak
 * hour is then the peak of the hours from there on, and says so. */
static time_t hours_kept_from(const report_t *r)
{
    for (size_t h = 0; h < r->nhours; h++) {
        time_t t = r->hour0 + (time_t)h * 3600;
        if (keys_expiry(t, 'h') > (int64_t)r->now)
            return t;
    }
    return r->hour0 + (time_t)r->nhours * 3600;
}

int report_complete(const report_t *r, char *why, size_t whylen)
{
    char end[64];
    fmt_local(end, sizeof end, r->end, "%Y-%m-%d %H:%M %Z");
    if (r->nwms == 0) {
        tg_err(why, whylen, "unknown: no sender has recorded a watermark");
        return -1;
    }
    /* the live senders, then the silent ones apart */
    wmark_t *w = tg_malloc(r->nwms * sizeof *w);
    size_t nw = 0, nsil = 0;
    const wmark_t *sil = NULL;
    for (size_t i = 0; i < r->nwms; i++) {
        if (silent(r, &r->wms[i])) {
            if (!sil || r->wms[i].seen > sil->seen)
                sil = &r->wms[i];
            nsil++;
        } else {
            w[nw++] = r->wms[i];
        }
    }
    char silnote[512] = "";
    if (nsil) {
        char at[64];
        fmt_local(at, sizeof at, (time_t)sil->seen, "%Y-%m-%d %H:%M %Z");
        snprintf(silnote, sizeof silnote,
                 "; not counted: %zu sender%s silent since before this period (%s%s since %s; "
                 "tollgate-stats forget-sender NAME removes a retired one)", nsil,
                 nsil == 1 ? "" : "s", sil->sender, nsil > 1 ? " and others, the latest" : "", at);
    }
    if (nw == 0) {
        tg_err(why, whylen, "unknown: no sender has flushed counts in this period%s", silnote);
        free(w);
        return -1;
    }
    qsort(w, nw, sizeof *w, cmp_wm);
    size_t lag = 0;
    while (lag < nw && w[lag].wm < (int64_t)r->end)
        lag++;
    if (lag == 0) {
        tg_err(why, whylen, "complete: every sender (%zu) has flushed its counts up to %s or "
               "later%s", nw, end, silnote);
        free(w);
        return 1;
    }
    tg_buf b;
    tg_buf_init(&b);
    if (r->end > r->now)
        tg_buf_printf(&b, "in progress: the period ends %s; ", end);
    else
        tg_buf_printf(&b, "incomplete: ");
    for (size_t i = 0; i < lag && i < 5; i++) {
        char at[64], d[64];
        fmt_local(at, sizeof at, (time_t)w[i].wm, "%Y-%m-%d %H:%M %Z");
        fmt_duration(d, sizeof d, (int64_t)r->end - w[i].wm);
        tg_buf_printf(&b, "%s%s has flushed up to %s (%s short of %s)", i ? "; " : "",
                      w[i].sender, at, d, end);
    }
    if (lag > 5)
        tg_buf_printf(&b, "; and %zu more senders lag", lag - 5);
    tg_buf_printf(&b, " (%zu of %zu senders complete)%s", nw - lag, nw, silnote);
    tg_err(why, whylen, "%s", b.s);
    tg_buf_free(&b);
    free(w);
    return 0;
}

/* ------------------------------------------------------------ formatting */

void report_fmt_int(char *out, size_t len, uint64_t v)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, v);
    char tmp[48];
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            tmp[o++] = ',';
        tmp[o++] = digits[i];
    }
    tmp[o] = '\0';
    snprintf(out, len, "%s", tmp);
}

static void fmt_pct_signed(char *out, size_t len, double pct)
{
    snprintf(out, len, "%+.1f%%", pct);
    if (!strcmp(out, "+0.0%") || !strcmp(out, "-0.0%"))
        snprintf(out, len, "0.0%%");
}

void report_fmt_change(char *out, size_t len, uint64_t now, uint64_t before)
{
    double pct;
    if (report_pct_change(now, before, &pct) < 0)
        snprintf(out, len, "n/a");
    else
        fmt_pct_signed(out, len, pct);
}

/* The change of dir against months_back, formatted ("n/a" without data). */
static void fmt_change_of(const report_t *r, char *out, size_t len, int dir, int back)
{
    double pct;
    if (report_change(r, dir, back, &pct) < 0)
        snprintf(out, len, "n/a");
    else
        fmt_pct_signed(out, len, pct);
}

void report_fmt_approx(char *out, size_t len, double v)
{
    /* the unit is chosen after rounding: 999,960,000 is "1.0 billion" */
    if (v >= 999.95e6)
        snprintf(out, len, "%.1f billion", v / 1e9);
    else if (v >= 1e6)
        snprintf(out, len, "%.1f million", v / 1e6);
    else
        report_fmt_int(out, len, (uint64_t)llround(v < 0 ? 0 : v));
}

void report_fmt_bytes(char *out, size_t len, uint64_t v)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
    double x = (double)v;
    int u = 0;
    while (x >= 999.95 && u < 6) { /* after rounding: 999,960 B is "1.0 MB" */
        x /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(out, len, "%" PRIu64 " B", v);
    else
        snprintf(out, len, "%.1f %s", x, units[u]);
}

/* "15.0%", or "n/a" when whole is 0. */
static void fmt_share(char *out, size_t len, uint64_t part, uint64_t whole)
{
    if (!whole)
        snprintf(out, len, "n/a");
    else
        snprintf(out, len, "%.1f%%", 100.0 * (double)part / (double)whole);
}

/* Axis labels: "9.8M", "400k", "12". */
static void fmt_short(char *out, size_t len, double v)
{
    if (v >= 1e9)
        snprintf(out, len, "%gG", round(v / 1e8) / 10);
    else if (v >= 1e6)
        snprintf(out, len, "%gM", round(v / 1e5) / 10);
    else if (v >= 1e3)
        snprintf(out, len, "%gk", round(v / 1e2) / 10);
    else
        snprintf(out, len, "%g", v);
}

void report_csv_field(tg_buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        tg_buf_adds(b, s);
        return;
    }
    tg_buf_addc(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            tg_buf_addc(b, '"');
        tg_buf_addc(b, *s);
    }
    tg_buf_addc(b, '"');
}

void report_xml_escape(tg_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': tg_buf_adds(b, "&amp;"); break;
        case '<': tg_buf_adds(b, "&lt;"); break;
        case '>': tg_buf_adds(b, "&gt;"); break;
        case '"': tg_buf_adds(b, "&quot;"); break;
        case '\'': tg_buf_adds(b, "&#39;"); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
                tg_buf_addc(b, '?');
            else
                tg_buf_addc(b, *s);
        }
    }
}

/* Right-aligned number / string columns for the text tables. */
static void col_n(tg_buf *b, int w, uint64_t v)
{
    char s[48];
    report_fmt_int(s, sizeof s, v);
    tg_buf_printf(b, "%*s", w, s);
}

static void col_s(tg_buf *b, int w, const char *s) { tg_buf_printf(b, "%*s", w, s); }

static void month_label(const report_t *r, int i, char *out, size_t len)
{
    int y, m;
    month_of(r, i, &y, &m);
    snprintf(out, len, "%s %d", month_names[m - 1], y);
}

static void tenant_words(const report_t *r, char *out, size_t len)
{
    if (!strcmp(r->tenant, KEYS_ALL))
        snprintf(out, len, "all tenants");
    else
        snprintf(out, len, "tenant %s", r->tenant);
}

/* ------------------------------------------------------------ the sentence */

void report_sentence(const report_t *r, tg_buf *out)
{
    const report_counts_t *in = report_total(r, REPORT_IN), *o = report_total(r, REPORT_OUT);
    char when[64], n[48], ly[64], lm[64], cy[32], cm[32], avg[48];
    month_label(r, CUR, when, sizeof when);
    month_label(r, CUR - 12, ly, sizeof ly);
    month_label(r, CUR - 1, lm, sizeof lm);
    /* a month not over yet holds part of its mail: say so, and set no
     * changes against whole months (a report on the 3rd would read -90%);
     * over = past its end, or every sender has flushed beyond it */
    char why[16];
    int so_far = r->end > r->now && report_complete(r, why, sizeof why) != 1;
    tg_buf_printf(out, "In %s%s", when, so_far ? " so far" : "");
    if (strcmp(r->tenant, KEYS_ALL) != 0)
        tg_buf_printf(out, ", for tenant %s", r->tenant);
    report_fmt_int(n, sizeof n, in->msgs);
    fmt_change_of(r, cy, sizeof cy, REPORT_IN, 12);
    fmt_change_of(r, cm, sizeof cm, REPORT_IN, 1);
    double a;
    report_avg12(r, REPORT_IN, 0, &a);
    report_fmt_approx(avg, sizeof avg, a);
    if (so_far)
        tg_buf_printf(out, ", %s messages came in (the month is not over: no change against "
                           "whole months; 12-month average %s)", n, avg);
    else
        tg_buf_printf(out, ", %s messages came in (%s on %s, %s on %s; 12-month average %s)",
                      n, cy, ly, cm, lm, avg);
    if (in->msgs) {
        char p[16];
        fmt_share(p, sizeof p, delivered(in), in->msgs);
        tg_buf_printf(out, "; %s of them were delivered to inboxes after spam, security threats "
                           "and policy violations were filtered out.", p);
    } else {
        tg_buf_adds(out, ".");
    }
    report_fmt_int(n, sizeof n, o->msgs);
    fmt_change_of(r, cy, sizeof cy, REPORT_OUT, 12);
    report_avg12(r, REPORT_OUT, 0, &a);
    report_fmt_approx(avg, sizeof avg, a);
    if (so_far)
        tg_buf_printf(out, " %s messages went out (12-month average %s).", n, avg);
    else
        tg_buf_printf(out, " %s messages went out (%s on %s; 12-month average %s).", n, cy, ly,
                      avg);
}

/* Wraps text at 78 columns (the sentence, the completeness line). */
static void add_wrapped(tg_buf *b, const char *s, const char *indent)
{
    size_t col = 0;
    while (*s) {
        size_t w = strcspn(s, " ");
        if (col && col + 1 + w > 78) {
            tg_buf_printf(b, "\n%s", indent);
            col = strlen(indent);
        } else if (col) {
            tg_buf_addc(b, ' ');
            col++;
        }
        tg_buf_add(b, s, w);
        col += w;
        s += w;
        while (*s == ' ')
            s++;
    }
    tg_buf_addc(b, '\n');
}

/* ------------------------------------------------------------ text */

typedef struct fstep {          /* one line of the verdict funnel */
    const char *label, *key;
    uint64_t n;
} fstep_t;

/* The funnel of incoming mail: received, what was filtered, what was
 * delivered. Returns the number of steps written to s[10]. */
static int funnel(const report_counts_t *in, fstep_t s[10])
{
    int n = 0;
    s[n++] = (fstep_t){"received", "received", in->msgs};
    s[n++] = (fstep_t){"filtered as spam", "spam", in->v[REPORT_V_SPAM]};
    s[n++] = (fstep_t){"filtered as security threats", "security", in->v[REPORT_V_SECURITY]};
    s[n++] = (fstep_t){"filtered by policy", "policy", in->v[REPORT_V_POLICY]};
    s[n++] = (fstep_t){"temporarily refused", "tempfail", in->v[REPORT_V_TEMPFAIL]};
    s[n++] = (fstep_t){"delivered, tagged", "tagged", in->v[REPORT_V_TAGGED]};
    s[n++] = (fstep_t){"delivered, clean", "clean", in->v[REPORT_V_CLEAN]};
    s[n++] = (fstep_t){"delivered to inboxes", "delivered", delivered(in)};
    s[n++] = (fstep_t){"quarantined (any category)", "quarantined", in->a[REPORT_A_QUARANTINE]};
    return n;
}

static int cmp_rule_hits(const void *a, const void *b)
{
    const rule_t *x = a, *y = b;
    if (x->hits != y->hits)
        return x->hits > y->hits ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_rule_delivered(const void *a, const void *b)
{
    const rule_t *x = a, *y = b;
    if (x->delivered != y->delivered)
        return x->delivered > y->delivered ? -1 : 1;
    return cmp_rule_hits(a, b);
}

/* The rules sorted for display (a caller-freed copy; names borrowed). */
static rule_t *sorted_rules(const report_t *r, size_t *n)
{
    rule_t *s = tg_malloc((r->nrules + 1) * sizeof *s);
    if (r->rules)
        memcpy(s, r->rules, r->nrules * sizeof *s);
    qsort(s, r->nrules, sizeof *s, r->sort_delivered ? cmp_rule_delivered : cmp_rule_hits);
    *n = r->nrules < r->top ? r->nrules : r->top;
    return s;
}

static int cmp_trow(const void *a, const void *b)
{
    const trow_t *x = a, *y = b;
    uint64_t mx = x->cur.d[REPORT_IN].msgs, my = y->cur.d[REPORT_IN].msgs;
    if (mx != my)
        return mx > my ? -1 : 1;
    return strcmp(x->name, y->name);
}

static trow_t *sorted_trows(const report_t *r)
{
    trow_t *s = tg_malloc((r->ntrows + 1) * sizeof *s);
    if (r->trows)
        memcpy(s, r->trows, r->ntrows * sizeof *s);
    qsort(s, r->ntrows, sizeof *s, cmp_trow);
    return s;
}

static void text_counts_table(const report_t *r, tg_buf *b, int with_change)
{
    char lm[32], ly[32];
    int y, m;
    month_of(r, CUR - 1, &y, &m);
    snprintf(lm, sizeof lm, "vs %.3s %d", month_names[m - 1], y);
    month_of(r, CUR - 12, &y, &m);
    snprintf(ly, sizeof ly, "vs %.3s %d", month_names[m - 1], y);
    tg_buf_printf(b, "%-12s%14s%14s%12s", "Traffic", "messages", "recipients", "bytes");
    if (with_change)
        tg_buf_printf(b, "%13s%13s%14s", lm, ly, "12-month avg");
    tg_buf_addc(b, '\n');
    for (int d = 0; d < REPORT_NDIR; d++) {
        const report_counts_t *c = report_total(r, d);
        char bytes[32], ch[32], avg[48];
        tg_buf_printf(b, "  %-10s", dir_words[d]);
        col_n(b, 14, c->msgs);
        col_n(b, 14, c->rcpts);
        report_fmt_bytes(bytes, sizeof bytes, c->bytes);
        col_s(b, 12, bytes);
        if (with_change) {
            fmt_change_of(r, ch, sizeof ch, d, 1);
            col_s(b, 13, ch);
            fmt_change_of(r, ch, sizeof ch, d, 12);
            col_s(b, 13, ch);
            double a;
            report_avg12(r, d, 0, &a);
            report_fmt_approx(avg, sizeof avg, a);
            col_s(b, 14, avg);
        }
        tg_buf_addc(b, '\n');
    }
}

static void text_funnel(const report_t *r, tg_buf *b)
{
    const report_counts_t *in = report_total(r, REPORT_IN);
    fstep_t s[10];
    int n = funnel(in, s);
    tg_buf_printf(b, "%-40s%14s%9s\n", "Incoming mail: what became of it", "messages", "share");
    for (int i = 0; i < n; i++) {
        char p[16];
        fmt_share(p, sizeof p, s[i].n, in->msgs);
        tg_buf_printf(b, "  %-38s", s[i].label);
        col_n(b, 14, s[i].n);
        col_s(b, 9, p);
        tg_buf_addc(b, '\n');
    }
    tg_buf t;
    tg_buf_init(&t);
    tg_buf_adds(&t, "Actions on incoming mail:");
    static const char *const words[REPORT_NA] = {"accepted", "rejected", "discarded",
                                                 "quarantined", "tempfailed"};
    for (int a = 0; a < REPORT_NA; a++) {
        char n1[48], p[16];
        report_fmt_int(n1, sizeof n1, in->a[a]);
        fmt_share(p, sizeof p, in->a[a], in->msgs);
        tg_buf_printf(&t, "%s %s %s (%s)", a ? "," : "", words[a], n1, p);
    }
    add_wrapped(b, t.s, "  ");
    tg_buf_free(&t);
}

static void text_rules(const report_t *r, tg_buf *b, const char *title)
{
    size_t n;
    rule_t *s = sorted_rules(r, &n);
    int day = r->kind == REPORT_DAY;   /* hits on delivered mail are kept per month */
    tg_buf_printf(b, "%-36s%14s", title, "hits");
    if (!day)
        tg_buf_printf(b, "%20s%12s", "on delivered mail", "delivered");
    tg_buf_addc(b, '\n');
    if (n == 0)
        tg_buf_adds(b, "  (no rule hits recorded)\n");
    for (size_t i = 0; i < n; i++) {
        char p[16];
        fmt_share(p, sizeof p, s[i].delivered, s[i].hits);
        tg_buf_printf(b, "  %-34s", s[i].name);
        col_n(b, 14, s[i].hits);
        if (!day) {
            col_n(b, 20, s[i].delivered);
            col_s(b, 12, p);
        }
        tg_buf_addc(b, '\n');
    }
    if (day)
        tg_buf_adds(b, "  (hits on delivered mail are counted per month: top-rules --month)\n");
    free(s);
}

static void text_tenants(const report_t *r, tg_buf *b)
{
    trow_t *t = sorted_trows(r);
    const report_counts_t *all = report_total(r, REPORT_IN);
    char ly[32];
    int y, m;
    month_of(r, CUR - 12, &y, &m);
    snprintf(ly, sizeof ly, "in vs %.3s %d", month_names[m - 1], y);
    tg_buf_printf(b, "%-22s%14s%8s%11s%14s%17s\n", "Tenants", "incoming", "share",
                  "delivered", "outgoing", ly);
    uint64_t sum_in = 0, sum_out = 0, sum_int = 0;
    for (size_t i = 0; i < r->ntrows; i++) {
        const report_counts_t *in = &t[i].cur.d[REPORT_IN];
        char p[16], d[16], ch[32];
        fmt_share(p, sizeof p, in->msgs, all->msgs);
        fmt_share(d, sizeof d, delivered(in), in->msgs);
        report_fmt_change(ch, sizeof ch, in->msgs, t[i].ago.d[REPORT_IN].msgs);
        tg_buf_printf(b, "  %-20s", t[i].name);
        col_n(b, 14, in->msgs);
        col_s(b, 8, p);
        col_s(b, 11, d);
        col_n(b, 14, t[i].cur.d[REPORT_OUT].msgs);
        col_s(b, 17, ch);
        tg_buf_addc(b, '\n');
        sum_in += in->msgs;
        sum_out += t[i].cur.d[REPORT_OUT].msgs;
        sum_int += t[i].cur.d[REPORT_INT].msgs;
    }
    tg_buf_printf(b, "  %-20s", "sum of tenants");
    col_n(b, 14, sum_in);
    col_s(b, 8, "");
    col_s(b, 11, "");
    col_n(b, 14, sum_out);
    tg_buf_addc(b, '\n');
    if (sum_in == all->msgs && sum_out == report_total(r, REPORT_OUT)->msgs &&
        sum_int == report_total(r, REPORT_INT)->msgs)
        tg_buf_adds(b, "  The tenants add up to the service-wide total.\n");
    else
        tg_buf_adds(b, "  The tenants do not add up to the service-wide total (a message for "
                       "several tenants counts in each; mail of no tenant counts only in the "
                       "total).\n");
    free(t);
}

static void text_month(const report_t *r, tg_buf *b)
{
    char when[64], who[128], why[2048];
    month_label(r, CUR, when, sizeof when);
    tenant_words(r, who, sizeof who);
    tg_buf_printf(b, "tollgate report: %s, %s (days and months in time zone %s)\n\n", when, who,
                  r->zone);
    tg_buf s;
    tg_buf_init(&s);
    report_sentence(r, &s);
    add_wrapped(b, s.s, "");
    tg_buf_free(&s);
    report_complete(r, why, sizeof why);
    tg_buf_adds(b, "\n");
    tg_buf_printf(&s, "Completeness: %s.", why);
    add_wrapped(b, s.s, "  ");
    tg_buf_free(&s);
    tg_buf_adds(b, "\n");
    text_counts_table(r, b, 1);
    tg_buf_adds(b, "\n");
    text_funnel(r, b);

    /* 12-month averages */
    int y0, m0, y1, m1;
    month_of(r, CUR - 11, &y0, &m0);
    month_of(r, CUR, &y1, &m1);
    double a, p;
    int n = report_avg12(r, REPORT_IN, 0, &a);
    tg_buf_printf(b, "\n12-month average (%s %d to %s %d, %d month%s with data):\n",
                  month_names[m0 - 1], y0, month_names[m1 - 1], y1, n, n == 1 ? "" : "s");
    for (int d = 0; d < REPORT_NDIR; d++) {
        char av[48], pa[48], ch[32];
        report_avg12(r, d, 0, &a);
        int np = report_avg12(r, d, 1, &p);
        report_fmt_approx(av, sizeof av, a);
        report_fmt_approx(pa, sizeof pa, p);
        if (np && p > 0)
            fmt_pct_signed(ch, sizeof ch, 100.0 * (a - p) / p);
        else
            snprintf(ch, sizeof ch, "n/a");
        tg_buf_printf(b, "  %-10s %s a month (%s on the 12 months before: %s a month)\n",
                      dir_words[d], av, ch, np ? pa : "no data");
    }

    /* peaks */
    int pd;
    uint64_t pm;
    tg_buf_adds(b, "\n");
    if (report_peak_day(r, &pd, &pm) == 0) {
        const dirs_t *x = &r->days[pd - 1];
        char n1[48], n2[48], n3[48], n4[48];
        report_fmt_int(n1, sizeof n1, pm);
        report_fmt_int(n2, sizeof n2, x->d[REPORT_IN].msgs);
        report_fmt_int(n3, sizeof n3, x->d[REPORT_OUT].msgs);
        report_fmt_int(n4, sizeof n4, x->d[REPORT_INT].msgs);
        tg_buf_printf(b, "Peak day:  %s %04d-%02d-%02d, %s messages (%s in, %s out, %s internal)\n",
                      wday_names[weekday(r->year, r->month, pd)], r->year, r->month, pd, n1, n2,
                      n3, n4);
    } else {
        tg_buf_adds(b, "Peak day:  n/a (no day counters)\n");
    }
    time_t ph;
    if (report_peak_hour(r, &ph, &pm) == 0) {
        char h[64], n1[48];
        fmt_utc(h, sizeof h, ph, "%Y-%m-%d %H:00");
        report_fmt_int(n1, sizeof n1, pm);
        tg_buf_printf(b, "Peak hour: %s UTC, %s messages (hour buckets are UTC hours", h, n1);
        time_t kept = hours_kept_from(r);
        if (kept > r->hour0) {
            char k[64];
            fmt_utc(k, sizeof k, kept, "%Y-%m-%d %H:00");
            tg_buf_printf(b, "; of the hours from %s UTC on: the earlier ones have expired, "
                             "hour counters are kept 40 days", k);
        }
        tg_buf_adds(b, ")\n");
    } else {
        tg_buf_adds(b, "Peak hour: n/a (no hour counters; they are kept for 40 days)\n");
    }

    /* per day */
    tg_buf_printf(b, "\n%-16s%12s%12s%9s%12s%12s%10s%12s\n", "Per day", "incoming", "delivered",
                  "share", "spam", "security", "policy", "outgoing");
    for (int d = 0; d < r->ndays; d++) {
        const dirs_t *x = &r->days[d];
        const report_counts_t *in = &x->d[REPORT_IN];
        char p[16];
        tg_buf_printf(b, "  %04d-%02d-%02d %.3s", r->year, r->month, d + 1,
                      wday_names[weekday(r->year, r->month, d + 1)]);
        if (!x->present) {
            tg_buf_adds(b, "           -\n");
            continue;
        }
        fmt_share(p, sizeof p, delivered(in), in->msgs);
        col_n(b, 12, in->msgs);
        col_n(b, 12, delivered(in));
        col_s(b, 9, p);
        col_n(b, 12, in->v[REPORT_V_SPAM]);
        col_n(b, 12, in->v[REPORT_V_SECURITY]);
        col_n(b, 10, in->v[REPORT_V_POLICY]);
        col_n(b, 12, x->d[REPORT_OUT].msgs);
        tg_buf_addc(b, '\n');
    }
    {
        const report_counts_t *in = report_total(r, REPORT_IN);
        char p[16];
        fmt_share(p, sizeof p, delivered(in), in->msgs);
        tg_buf_printf(b, "  %-14s", "month");
        col_n(b, 12, in->msgs);
        col_n(b, 12, delivered(in));
        col_s(b, 9, p);
        col_n(b, 12, in->v[REPORT_V_SPAM]);
        col_n(b, 12, in->v[REPORT_V_SECURITY]);
        col_n(b, 10, in->v[REPORT_V_POLICY]);
        col_n(b, 12, report_total(r, REPORT_OUT)->msgs);
        tg_buf_addc(b, '\n');
    }
    tg_buf_adds(b, "\n");
    text_rules(r, b, "Top rules");
    if (r->by_tenant) {
        tg_buf_adds(b, "\n");
        text_tenants(r, b);
    }
}

static void text_day(const report_t *r, tg_buf *b)
{
    char who[128], asof[64], why[2048];
    tenant_words(r, who, sizeof who);
    fmt_local(asof, sizeof asof, r->now, "%Y-%m-%d %H:%M:%S %Z");
    tg_buf_printf(b, "tollgate today: %s %04d-%02d-%02d, %s (time zone %s), as of %s\n\n",
                  wday_names[weekday(r->year, r->month, r->day)], r->year, r->month, r->day, who,
                  r->zone, asof);
    tg_buf_printf(b, "%-10s%12s%12s%12s%10s%12s%10s%9s%9s\n", "", "messages", "recipients",
                  "clean", "tagged", "spam", "security", "policy", "tempfail");
    for (int d = 0; d < REPORT_NDIR; d++) {
        const report_counts_t *c = report_total(r, d);
        tg_buf_printf(b, "%-10s", dir_words[d]);
        col_n(b, 12, c->msgs);
        col_n(b, 12, c->rcpts);
        col_n(b, 12, c->v[REPORT_V_CLEAN]);
        col_n(b, 10, c->v[REPORT_V_TAGGED]);
        col_n(b, 12, c->v[REPORT_V_SPAM]);
        col_n(b, 10, c->v[REPORT_V_SECURITY]);
        col_n(b, 9, c->v[REPORT_V_POLICY]);
        col_n(b, 9, c->v[REPORT_V_TEMPFAIL]);
        tg_buf_addc(b, '\n');
    }
    const report_counts_t *in = report_total(r, REPORT_IN);
    char n1[48], n2[48], p[16];
    report_fmt_int(n1, sizeof n1, delivered(in));
    report_fmt_int(n2, sizeof n2, in->msgs);
    fmt_share(p, sizeof p, delivered(in), in->msgs);
    tg_buf_printf(b, "\nDelivered to inboxes: %s of %s incoming (%s).\n", n1, n2, p);
    if (r->months[CUR].present) {
        report_fmt_int(n1, sizeof n1, r->months[CUR].d[REPORT_IN].msgs);
        report_fmt_int(n2, sizeof n2, r->months[CUR].d[REPORT_OUT].msgs);
        tg_buf_printf(b, "Month so far: %s incoming, %s outgoing.\n", n1, n2);
    }
    /* completeness against now: how far behind the slowest sender is */
    size_t live = 0;
    int64_t lo = 0;
    for (size_t i = 0; i < r->nwms; i++)
        if (!silent(r, &r->wms[i]) && (live++ == 0 || r->wms[i].wm < lo))
            lo = r->wms[i].wm;
    if (live) {
        char at[64], d[64];
        fmt_local(at, sizeof at, (time_t)lo, "%Y-%m-%d %H:%M:%S %Z");
        if ((int64_t)r->now > lo) {
            fmt_duration(d, sizeof d, (int64_t)r->now - lo);
            tg_buf_printf(b, "Counted up to %s (the slowest of %zu senders, %s ago).\n", at,
                          live, d);
        } else {
            tg_buf_printf(b, "Counted up to %s (the slowest of %zu senders).\n", at, live);
        }
    }
    (void)why;
    char s0[64], s1[64];
    fmt_utc(s0, sizeof s0, r->start, "%Y-%m-%d %H:%M");
    fmt_utc(s1, sizeof s1, r->end, "%Y-%m-%d %H:%M");
    tg_buf_printf(b, "\nHours (UTC: this local day runs from %s to %s UTC)\n", s0, s1);
    tg_buf_printf(b, "  %-16s%12s%12s%12s%12s\n", "UTC hour", "incoming", "delivered",
                  "outgoing", "internal");
    for (size_t h = 0; h < r->nhours; h++) {
        const dirs_t *x = &r->hours[h];
        char hs[32];
        fmt_utc(hs, sizeof hs, r->hour0 + (time_t)h * 3600, "%Y-%m-%d %H:00");
        tg_buf_printf(b, "  %-16s", hs);
        if (!x->present) {
            tg_buf_adds(b, "           -\n");
            continue;
        }
        col_n(b, 12, x->d[REPORT_IN].msgs);
        col_n(b, 12, delivered(&x->d[REPORT_IN]));
        col_n(b, 12, x->d[REPORT_OUT].msgs);
        col_n(b, 12, x->d[REPORT_INT].msgs);
        tg_buf_addc(b, '\n');
    }
    tg_buf_adds(b, "\n");
    text_rules(r, b, "Rules hit today");
}

static void text_rules_report(const report_t *r, tg_buf *b)
{
    char when[64], who[128], n1[48];
    month_label(r, CUR, when, sizeof when);
    tenant_words(r, who, sizeof who);
    report_fmt_int(n1, sizeof n1, all_msgs(&r->months[CUR]));
    tg_buf_printf(b, "Rule hits in %s, %s (%s messages; %zu rules hit; sorted by %s)\n\n", when,
                  who, n1, r->nrules, r->sort_delivered ? "hits on delivered mail" : "hits");
    text_rules(r, b, "Rule");
}

/* ------------------------------------------------------------ JSON */

static void json_pct(tg_buf *b, int ok, double v)
{
    if (ok)
        tg_buf_printf(b, "%.1f", v);
    else
        tg_buf_adds(b, "null");
}

static void json_counts(tg_buf *b, const report_counts_t *c)
{
    tg_buf_printf(b, "{\"msgs\":%" PRIu64 ",\"rcpts\":%" PRIu64 ",\"bytes\":%" PRIu64
                     ",\"verdicts\":{", c->msgs, c->rcpts, c->bytes);
    for (int i = 0; i < REPORT_NV; i++)
        tg_buf_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "", v_names[i], c->v[i]);
    tg_buf_adds(b, "},\"actions\":{");
    for (int i = 0; i < REPORT_NA; i++)
        tg_buf_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "", a_names[i], c->a[i]);
    tg_buf_adds(b, "}}");
}

static void json_dirs(tg_buf *b, const dirs_t *x)
{
    for (int d = 0; d < REPORT_NDIR; d++) {
        tg_buf_printf(b, "%s\"%s\":", d ? "," : "", dir_names[d]);
        json_counts(b, &x->d[d]);
    }
}

static void json_rules(const report_t *r, tg_buf *b)
{
    size_t n;
    rule_t *s = sorted_rules(r, &n);
    tg_buf_adds(b, "[");
    for (size_t i = 0; i < n; i++) {
        tg_buf_adds(b, i ? ",{\"rule\":" : "{\"rule\":");
        tg_buf_json(b, s[i].name, strlen(s[i].name));
        tg_buf_printf(b, ",\"hits\":%" PRIu64 ",\"delivered\":%" PRIu64 "}", s[i].hits,
                      s[i].delivered);
    }
    tg_buf_adds(b, "]");
    free(s);
}

static void json_complete(const report_t *r, tg_buf *b)
{
    char why[2048];
    int c = report_complete(r, why, sizeof why);
    tg_buf_printf(b, "\"complete\":%s,\"completeness\":{\"text\":", c == 1 ? "true" : "false");
    tg_buf_json(b, why, strlen(why));
    tg_buf_printf(b, ",\"period_end\":%lld,\"senders\":[", (long long)r->end);
    for (size_t i = 0; i < r->nwms; i++) {
        tg_buf_adds(b, i ? ",{\"sender\":" : "{\"sender\":");
        tg_buf_json(b, r->wms[i].sender, strlen(r->wms[i].sender));
        int64_t lag = (int64_t)r->end - r->wms[i].wm;
        tg_buf_printf(b, ",\"watermark\":%lld,\"lag_seconds\":%lld,\"last_batch\":%lld,"
                      "\"silent\":%s}", (long long)r->wms[i].wm, (long long)(lag > 0 ? lag : 0),
                      (long long)r->wms[i].seen, silent(r, &r->wms[i]) ? "true" : "false");
    }
    tg_buf_adds(b, "]}");
}

static void json_month(const report_t *r, tg_buf *b)
{
    const report_counts_t *in = report_total(r, REPORT_IN);
    tg_buf_printf(b, "{\"month\":\"%04d-%02d\",\"tenant\":", r->year, r->month);
    tg_buf_json(b, r->tenant, strlen(r->tenant));
    tg_buf_adds(b, ",\"timezone\":");
    tg_buf_json(b, r->zone, strlen(r->zone));
    tg_buf_adds(b, ",");
    json_dirs(b, &r->months[CUR]);
    double dp = report_delivered_pct(r);
    tg_buf_printf(b, ",\"delivered\":{\"msgs\":%" PRIu64 ",\"pct\":", delivered(in));
    json_pct(b, dp >= 0, dp);
    tg_buf_adds(b, "},\"funnel\":[");
    fstep_t s[10];
    int n = funnel(in, s);
    for (int i = 0; i < n; i++) {
        tg_buf_printf(b, "%s{\"step\":\"%s\",\"msgs\":%" PRIu64 ",\"pct\":", i ? "," : "",
                      s[i].key, s[i].n);
        json_pct(b, in->msgs > 0, in->msgs ? 100.0 * (double)s[i].n / (double)in->msgs : 0);
        tg_buf_adds(b, "}");
    }
    tg_buf_adds(b, "],\"actions\":{");
    for (int d = 0; d < REPORT_NDIR; d++) {
        tg_buf_printf(b, "%s\"%s\":{", d ? "," : "", dir_names[d]);
        for (int a = 0; a < REPORT_NA; a++)
            tg_buf_printf(b, "%s\"%s\":%" PRIu64, a ? "," : "", a_names[a],
                          report_total(r, d)->a[a]);
        tg_buf_adds(b, "}");
    }
    tg_buf_adds(b, "},\"change\":{");
    for (int k = 0; k < 2; k++) {
        int back = k ? 12 : 1, y, m;
        month_of(r, CUR - back, &y, &m);
        tg_buf_printf(b, "%s\"%s\":{\"month\":\"%04d-%02d\"", k ? "," : "",
                      k ? "prev_year" : "prev_month", y, m);
        for (int d = 0; d < REPORT_NDIR; d++) {
            double pct;
            int ok = report_change(r, d, back, &pct) == 0;
            tg_buf_printf(b, ",\"%s\":", dir_names[d]);
            json_pct(b, ok, pct);
        }
        tg_buf_adds(b, "}");
    }
    int y0, m0;
    month_of(r, CUR - 11, &y0, &m0);
    double a, p;
    tg_buf_printf(b, "},\"avg12\":{\"from\":\"%04d-%02d\",\"to\":\"%04d-%02d\",\"months\":%d",
                  y0, m0, r->year, r->month, report_avg12(r, REPORT_IN, 0, &a));
    for (int d = 0; d < REPORT_NDIR; d++) {
        report_avg12(r, d, 0, &a);
        tg_buf_printf(b, ",\"%s\":%.0f", dir_names[d], a);
    }
    tg_buf_printf(b, ",\"prev\":{\"months\":%d", report_avg12(r, REPORT_IN, 1, &p));
    for (int d = 0; d < REPORT_NDIR; d++) {
        report_avg12(r, d, 1, &p);
        tg_buf_printf(b, ",\"%s\":%.0f", dir_names[d], p);
    }
    tg_buf_adds(b, "},\"change\":{");
    for (int d = 0; d < REPORT_NDIR; d++) {
        report_avg12(r, d, 0, &a);
        int np = report_avg12(r, d, 1, &p);
        tg_buf_printf(b, "%s\"%s\":", d ? "," : "", dir_names[d]);
        json_pct(b, np && p > 0, p > 0 ? 100.0 * (a - p) / p : 0);
    }
    tg_buf_adds(b, "}},\"trend\":[");
    for (int i = 0; i < NMONTHS; i++) {
        int y, m;
        month_of(r, i, &y, &m);
        tg_buf_printf(b, "%s{\"month\":\"%04d-%02d\",\"present\":%s", i ? "," : "", y, m,
                      r->months[i].present ? "true" : "false");
        for (int d = 0; d < REPORT_NDIR; d++)
            tg_buf_printf(b, ",\"%s\":%" PRIu64, dir_names[d], r->months[i].d[d].msgs);
        tg_buf_adds(b, "}");
    }
    tg_buf_adds(b, "],\"days\":[");
    int first = 1;
    for (int d = 0; d < r->ndays; d++) {
        if (!r->days[d].present)
            continue;
        tg_buf_printf(b, "%s{\"date\":\"%04d-%02d-%02d\",", first ? "" : ",", r->year, r->month,
                      d + 1);
        json_dirs(b, &r->days[d]);
        tg_buf_adds(b, "}");
        first = 0;
    }
    tg_buf_adds(b, "],\"peak_day\":");
    int pd;
    uint64_t pm;
    if (report_peak_day(r, &pd, &pm) == 0)
        tg_buf_printf(b, "{\"date\":\"%04d-%02d-%02d\",\"msgs\":%" PRIu64 ",\"in\":%" PRIu64
                         ",\"out\":%" PRIu64 ",\"int\":%" PRIu64 "}",
                      r->year, r->month, pd, pm, r->days[pd - 1].d[REPORT_IN].msgs,
                      r->days[pd - 1].d[REPORT_OUT].msgs, r->days[pd - 1].d[REPORT_INT].msgs);
    else
        tg_buf_adds(b, "null");
    tg_buf_adds(b, ",\"peak_hour\":");
    time_t ph;
    if (report_peak_hour(r, &ph, &pm) == 0) {
        char h[32];
        fmt_utc(h, sizeof h, ph, "%Y-%m-%dT%H:00:00Z");
        tg_buf_printf(b, "{\"hour_utc\":\"%s\",\"msgs\":%" PRIu64 ",\"hours_kept_from_utc\":", h,
                      pm);
        time_t kept = hours_kept_from(r);
        if (kept > r->hour0) {
            fmt_utc(h, sizeof h, kept, "%Y-%m-%dT%H:00:00Z");
            tg_buf_printf(b, "\"%s\"}", h);
        } else {
            tg_buf_adds(b, "null}");
        }
    } else {
        tg_buf_adds(b, "null");
    }
    tg_buf_adds(b, ",\"top_rules\":");
    json_rules(r, b);
    if (r->by_tenant) {
        tg_buf_adds(b, ",\"tenants\":[");
        trow_t *t = sorted_trows(r);
        for (size_t i = 0; i < r->ntrows; i++) {
            tg_buf_adds(b, i ? ",{\"tenant\":" : "{\"tenant\":");
            tg_buf_json(b, t[i].name, strlen(t[i].name));
            tg_buf_adds(b, ",");
            json_dirs(b, &t[i].cur);
            tg_buf_adds(b, ",\"change_prev_year\":{");
            for (int d = 0; d < REPORT_NDIR; d++) {
                double pct;
                int ok = report_pct_change(t[i].cur.d[d].msgs, t[i].ago.d[d].msgs, &pct) == 0;
                tg_buf_printf(b, "%s\"%s\":", d ? "," : "", dir_names[d]);
                json_pct(b, ok, pct);
            }
            tg_buf_adds(b, "}}");
        }
        tg_buf_adds(b, "]");
        free(t);
    }
    tg_buf_adds(b, ",");
    json_complete(r, b);
    tg_buf_adds(b, "}\n");
}

static void json_day(const report_t *r, tg_buf *b)
{
    tg_buf_printf(b, "{\"day\":\"%04d-%02d-%02d\",\"tenant\":", r->year, r->month, r->day);
    tg_buf_json(b, r->tenant, strlen(r->tenant));
    tg_buf_adds(b, ",\"timezone\":");
    tg_buf_json(b, r->zone, strlen(r->zone));
    tg_buf_printf(b, ",\"now\":%lld,", (long long)r->now);
    json_dirs(b, &r->days[0]);
    double dp = report_delivered_pct(r);
    tg_buf_adds(b, ",\"delivered_pct\":");
    json_pct(b, dp >= 0, dp);
    tg_buf_adds(b, ",\"hours_utc\":[");
    int first = 1;
    for (size_t h = 0; h < r->nhours; h++) {
        if (!r->hours[h].present)
            continue;
        char hs[32];
        fmt_utc(hs, sizeof hs, r->hour0 + (time_t)h * 3600, "%Y-%m-%dT%H:00:00Z");
        tg_buf_printf(b, "%s{\"hour\":\"%s\",", first ? "" : ",", hs);
        json_dirs(b, &r->hours[h]);
        tg_buf_adds(b, "}");
        first = 0;
    }
    tg_buf_adds(b, "],\"rules\":");
    json_rules(r, b);
    tg_buf_adds(b, ",");
    json_complete(r, b);
    tg_buf_adds(b, "}\n");
}

/* ------------------------------------------------------------ CSV */

static void csv_row(tg_buf *b, const char *first, const dirs_t *x)
{
    report_csv_field(b, first);
    for (int d = 0; d < REPORT_NDIR; d++) {
        const report_counts_t *c = &x->d[d];
        tg_buf_printf(b, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64, c->msgs, c->rcpts, c->bytes);
        for (int i = 0; i < REPORT_NV; i++)
            tg_buf_printf(b, ",%" PRIu64, c->v[i]);
        for (int i = 0; i < REPORT_NA; i++)
            tg_buf_printf(b, ",%" PRIu64, c->a[i]);
    }
    tg_buf_adds(b, "\r\n");
}

static void csv_header(tg_buf *b, const char *first)
{
    tg_buf_adds(b, first);
    for (int d = 0; d < REPORT_NDIR; d++) {
        tg_buf_printf(b, ",%s_msgs,%s_rcpts,%s_bytes", dir_names[d], dir_names[d], dir_names[d]);
        for (int i = 0; i < REPORT_NV; i++)
            tg_buf_printf(b, ",%s_v_%s", dir_names[d], v_names[i]);
        for (int i = 0; i < REPORT_NA; i++)
            tg_buf_printf(b, ",%s_a_%s", dir_names[d], a_names[i]);
    }
    tg_buf_adds(b, "\r\n");
}

static void csv_rules(const report_t *r, tg_buf *b)
{
    size_t n;
    rule_t *s = sorted_rules(r, &n);
    tg_buf_adds(b, "rule,hits,delivered\r\n");
    for (size_t i = 0; i < n; i++) {
        report_csv_field(b, s[i].name);
        tg_buf_printf(b, ",%" PRIu64 ",%" PRIu64 "\r\n", s[i].hits, s[i].delivered);
    }
    free(s);
}

static void csv_report(const report_t *r, tg_buf *b)
{
    char first[64];
    if (r->kind == REPORT_RULES) {
        csv_rules(r, b);
        return;
    }
    if (r->kind == REPORT_DAY) {
        csv_header(b, "hour_utc");
        for (size_t h = 0; h < r->nhours; h++) {
            if (!r->hours[h].present)
                continue;
            fmt_utc(first, sizeof first, r->hour0 + (time_t)h * 3600, "%Y-%m-%dT%H:00Z");
            csv_row(b, first, &r->hours[h]);
        }
        tg_buf_adds(b, "\r\n");
        snprintf(first, sizeof first, "%04d-%02d-%02d", r->year, r->month, r->day);
        csv_row(b, first, &r->days[0]);
        return;
    }
    csv_header(b, "date");
    for (int d = 0; d < r->ndays; d++) {
        snprintf(first, sizeof first, "%04d-%02d-%02d", r->year, r->month, d + 1);
        csv_row(b, first, &r->days[d]);
    }
    tg_buf_adds(b, "\r\n");
    snprintf(first, sizeof first, "%04d-%02d", r->year, r->month);
    csv_row(b, first, &r->months[CUR]);
    if (r->by_tenant) {
        tg_buf_adds(b, "\r\n");
        trow_t *t = sorted_trows(r);
        for (size_t i = 0; i < r->ntrows; i++) {
            snprintf(first, sizeof first, "tenant:%s", t[i].name);
            csv_row(b, first, &t[i].cur);
        }
        free(t);
    }
}

/* ------------------------------------------------------------ HTML + SVG */

/* The smallest 1, 2, 2.5 or 5 times a power of ten at or above v. */
static double nice_ceil(double v)
{
    if (v <= 0)
        return 1;
    double p = pow(10, floor(log10(v)));
    static const double steps[] = {1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10};
    for (int i = 0; i < 11; i++)
        if (steps[i] * p >= v)
            return steps[i] * p;
    return 10 * p;
}

#define C_IN "#1f5fa8"
#define C_DELIV "#3a9a4a"
#define C_OUT "#e08a1e"
#define C_GRID "#d6d6d6"
#define C_TEXT "#333333"

static void svg_open(tg_buf *b, int w, int h, const char *label)
{
    tg_buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                     "width=\"100%%\" role=\"img\" aria-label=\"", w, h);
    report_xml_escape(b, label);
    tg_buf_printf(b, "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\" "
                     "fill=\"%s\">\n", C_TEXT);
}

/* Horizontal gridlines and y labels of a chart area (x0, y0 top, w, h). */
static void svg_grid(tg_buf *b, double x0, double y0, double w, double h, double max)
{
    for (int i = 0; i <= 4; i++) {
        double y = y0 + h - h * i / 4;
        char l[32];
        fmt_short(l, sizeof l, max * i / 4);
        tg_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                         "stroke-width=\"%s\"/>\n", x0, y, x0 + w, y, i ? C_GRID : "#888888",
                      i ? "0.6" : "1");
        tg_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", x0 - 6,
                      y + 4, l);
    }
}

static void svg_legend(tg_buf *b, double x, double y, const char *color, const char *label,
                       int dashed)
{
    if (dashed)
        tg_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                         "stroke-width=\"2\" stroke-dasharray=\"4 3\"/>\n",
                      x, y - 4, x + 16, y - 4, color);
    else
        tg_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\" fill=\"%s\"/>\n",
                      x, y - 9, color);
    tg_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", x + 20, y);
    report_xml_escape(b, label);
    tg_buf_adds(b, "</text>\n");
}

/* Daily volume: incoming bars with their delivered part, outgoing bars. */
static void svg_daily(const report_t *r, tg_buf *b)
{
    const double W = 720, H = 270, x0 = 52, y0 = 30, w = W - x0 - 12, h = H - y0 - 40;
    double max = 0;
    for (int d = 0; d < r->ndays; d++) {
        double v = (double)r->days[d].d[REPORT_IN].msgs;
        if ((double)r->days[d].d[REPORT_OUT].msgs > v)
            v = (double)r->days[d].d[REPORT_OUT].msgs;
        if (v > max)
            max = v;
    }
    max = nice_ceil(max);
    svg_open(b, (int)W, (int)H, "Messages per day, incoming and outgoing");
    svg_legend(b, x0, 16, C_IN, "incoming", 0);
    svg_legend(b, x0 + 100, 16, C_DELIV, "of which delivered to inboxes", 0);
    svg_legend(b, x0 + 310, 16, C_OUT, "outgoing", 0);
    svg_grid(b, x0, y0, w, h, max);
    double slot = w / r->ndays, bw = slot * 0.38;
    for (int d = 0; d < r->ndays; d++) {
        const dirs_t *x = &r->days[d];
        double sx = x0 + slot * d + slot * 0.1;
        double hin = h * (double)x->d[REPORT_IN].msgs / max;
        double hdl = h * (double)delivered(&x->d[REPORT_IN]) / max;
        double hout = h * (double)x->d[REPORT_OUT].msgs / max;
        char n1[48];
        report_fmt_int(n1, sizeof n1, x->d[REPORT_IN].msgs);
        tg_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                         "fill=\"%s\"><title>%04d-%02d-%02d: %s incoming</title></rect>\n",
                      sx, y0 + h - hin, bw, hin, C_IN, r->year, r->month, d + 1, n1);
        tg_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                         "fill=\"%s\"/>\n", sx, y0 + h - hdl, bw, hdl, C_DELIV);
        report_fmt_int(n1, sizeof n1, x->d[REPORT_OUT].msgs);
        tg_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                         "fill=\"%s\"><title>%04d-%02d-%02d: %s outgoing</title></rect>\n",
                      sx + bw, y0 + h - hout, bw, hout, C_OUT, r->year, r->month, d + 1, n1);
        if (r->ndays <= 16 || d % 2 == 0)
            tg_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n",
                          sx + bw, y0 + h + 15, d + 1);
    }
    tg_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#666666\">"
                     "day of %s %d</text>\n", x0 + w / 2, y0 + h + 32,
                  month_names[r->month - 1], r->year);
    tg_buf_adds(b, "</svg>\n");
}

/* The verdict funnel: one horizontal bar per step, length = share. */
static void svg_funnel(const report_t *r, tg_buf *b)
{
    const report_counts_t *in = report_total(r, REPORT_IN);
    fstep_t s[10];
    int n = funnel(in, s);
    const double W = 720, row = 26, x0 = 210, w = 360;
    const double H = 12 + row * n;
    static const char *const colors[] = {C_IN, "#b03a2e", "#7d3c98", "#a04000", "#808b96",
                                         "#82b366", "#2e8b57", C_DELIV, "#d4ac0d"};
    svg_open(b, (int)W, (int)H, "What became of incoming mail");
    for (int i = 0; i < n; i++) {
        double y = 6 + row * i;
        double frac = in->msgs ? (double)s[i].n / (double)in->msgs : 0;
        char n1[48], p[16];
        report_fmt_int(n1, sizeof n1, s[i].n);
        fmt_share(p, sizeof p, s[i].n, in->msgs);
        tg_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\"%s>", x0 - 8,
                      y + row / 2 + 2, i == 7 ? " font-weight=\"bold\"" : "");
        report_xml_escape(b, s[i].label);
        tg_buf_adds(b, "</text>\n");
        tg_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                         "fill=\"#eeeeee\"/>\n", x0, y + 3, w, row - 8);
        tg_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                         "fill=\"%s\"/>\n", x0, y + 3, w * frac, row - 8, colors[i]);
        tg_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\"%s>%s (%s)</text>\n", x0 + w + 8,
                      y + row / 2 + 2, i == 7 ? " font-weight=\"bold\"" : "", p, n1);
    }
    tg_buf_adds(b, "</svg>\n");
}

/* Monthly incoming and outgoing over 12 months, with the 12 before dashed. */
static void svg_trend(const report_t *r, tg_buf *b)
{
    const double W = 720, H = 260, x0 = 52, y0 = 30, w = W - x0 - 24, h = H - y0 - 34;
    double max = 0;
    for (int i = 0; i < NMONTHS; i++)
        for (int d = 0; d < 2; d++)
            if ((double)r->months[i].d[d].msgs > max)
                max = (double)r->months[i].d[d].msgs;
    max = nice_ceil(max);
    svg_open(b, (int)W, (int)H, "Messages per month over 12 months, and the 12 months before");
    svg_legend(b, x0, 16, C_IN, "incoming", 0);
    svg_legend(b, x0 + 90, 16, C_IN, "incoming, a year before", 1);
    svg_legend(b, x0 + 270, 16, C_OUT, "outgoing", 0);
    svg_legend(b, x0 + 360, 16, C_OUT, "outgoing, a year before", 1);
    svg_grid(b, x0, y0, w, h, max);
    double step = w / 12;
    for (int d = 0; d < 2; d++) {
        for (int prev = 1; prev >= 0; prev--) {
            tg_buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s "
                             "points=\"", d ? C_OUT : C_IN, prev ? "1.5" : "2.5",
                          prev ? " stroke-dasharray=\"5 4\" stroke-opacity=\"0.7\"" : "");
            int any = 0;
            for (int k = 0; k < 12; k++) {
                const dirs_t *x = &r->months[(prev ? 0 : 12) + k];
                if (!x->present)
                    continue;
                tg_buf_printf(b, "%s%.1f,%.1f", any ? " " : "", x0 + step * (k + 0.5),
                              y0 + h - h * (double)x->d[d].msgs / max);
                any = 1;
            }
            tg_buf_adds(b, "\"/>\n");
            if (prev)
                continue;
            for (int k = 0; k < 12; k++) {
                const dirs_t *x = &r->months[12 + k];
                if (!x->present)
                    continue;
                char n1[48];
                report_fmt_int(n1, sizeof n1, x->d[d].msgs);
                tg_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\">"
                                 "<title>%s</title></circle>\n",
                              x0 + step * (k + 0.5), y0 + h - h * (double)x->d[d].msgs / max,
                              d ? C_OUT : C_IN, n1);
            }
        }
    }
    for (int k = 0; k < 12; k++) {
        int y, m;
        month_of(r, 12 + k, &y, &m);
        tg_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3s</text>\n",
                      x0 + step * (k + 0.5), y0 + h + 15, month_names[m - 1]);
        if (k == 0 || m == 1)
            tg_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                             "fill=\"#666666\">%d</text>\n", x0 + step * (k + 0.5), y0 + h + 28, y);
    }
    tg_buf_adds(b, "</svg>\n");
}

static const char html_css[] =
    "@page { size: A4; margin: 14mm 12mm; }\n"
    "body { font-family: Helvetica, Arial, sans-serif; color: #222222; background: #ffffff;\n"
    "       max-width: 190mm; margin: 8mm auto; font-size: 10.5pt; line-height: 1.4; }\n"
    "h1 { font-size: 17pt; margin: 0 0 2mm 0; color: #1f3f66; }\n"
    "h2 { font-size: 12.5pt; margin: 7mm 0 2mm 0; color: #1f3f66;\n"
    "     border-bottom: 1px solid #c8d3e0; padding-bottom: 1mm; }\n"
    ".meta { color: #666666; font-size: 9pt; margin: 0 0 4mm 0; }\n"
    ".lead { font-size: 12pt; border-left: 4px solid #1f5fa8; padding: 2mm 4mm;\n"
    "        background: #f3f6fa; margin: 4mm 0; }\n"
    ".cards { display: flex; gap: 3mm; margin: 4mm 0; }\n"
    ".card { flex: 1; border: 1px solid #c8d3e0; border-radius: 2mm; padding: 2mm 3mm; }\n"
    ".card .v { font-size: 15pt; font-weight: bold; color: #1f3f66; }\n"
    ".card .l { font-size: 8.5pt; color: #555555; }\n"
    "table { border-collapse: collapse; width: 100%; font-size: 9pt; margin: 2mm 0; }\n"
    "th, td { padding: 0.8mm 2mm; border-bottom: 1px solid #e2e2e2; text-align: right;\n"
    "         font-variant-numeric: tabular-nums; }\n"
    "th { background: #eef2f7; font-weight: bold; }\n"
    "th:first-child, td:first-child { text-align: left; }\n"
    "tr.total td { font-weight: bold; border-top: 1px solid #999999; }\n"
    "tr.weekend td { color: #666666; }\n"
    ".note { color: #555555; font-size: 8.5pt; }\n"
    ".ok { color: #2e7d32; font-weight: bold; }\n"
    ".warn { color: #b03a2e; font-weight: bold; }\n"
    "figure { margin: 2mm 0; break-inside: avoid; page-break-inside: avoid; }\n"
    "svg { display: block; max-width: 100%; height: auto; }\n"
    "section { break-inside: avoid-page; }\n"
    "section.long { break-inside: auto; }\n"
    "tr { break-inside: avoid; page-break-inside: avoid; }\n"
    "thead { display: table-header-group; }\n"
    "@media print {\n"
    "  body { margin: 0; max-width: none; font-size: 9.5pt; }\n"
    "  .lead { background: none; }\n"
    "  th { background: none; border-bottom: 1.5px solid #555555; }\n"
    "  h2 { break-after: avoid; page-break-after: avoid; }\n"
    "  section.long td, section.long th { padding: 0.45mm 2mm; font-size: 8.5pt; }\n"
    "  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }\n"
    "}\n";

static void html_td_n(tg_buf *b, uint64_t v)
{
    char s[48];
    report_fmt_int(s, sizeof s, v);
    tg_buf_printf(b, "<td>%s</td>", s);
}

static void html_td_s(tg_buf *b, const char *s)
{
    tg_buf_adds(b, "<td>");
    report_xml_escape(b, s);
    tg_buf_adds(b, "</td>");
}

static void html_card(tg_buf *b, const char *value, const char *label)
{
    tg_buf_adds(b, "<div class=\"card\"><div class=\"v\">");
    report_xml_escape(b, value);
    tg_buf_adds(b, "</div><div class=\"l\">");
    report_xml_escape(b, label);
    tg_buf_adds(b, "</div></div>\n");
}

static void html_month(const report_t *r, tg_buf *b)
{
    char when[64], who[128], gen[64], why[2048], t1[64], t2[64];
    const report_counts_t *in = report_total(r, REPORT_IN), *out = report_total(r, REPORT_OUT);
    month_label(r, CUR, when, sizeof when);
    tenant_words(r, who, sizeof who);
    fmt_local(gen, sizeof gen, r->now, "%Y-%m-%d %H:%M %Z");
    tg_buf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
                   "<title>");
    tg_buf_printf(b, "Mail report %s, ", when);
    report_xml_escape(b, who);
    tg_buf_printf(b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", html_css);
    tg_buf_printf(b, "<h1>Mail report: %s</h1>\n<p class=\"meta\">", when);
    report_xml_escape(b, who);
    tg_buf_adds(b, " &#183; days and months in time zone ");
    report_xml_escape(b, r->zone);
    tg_buf_printf(b, " &#183; generated %s by tollgate-stats</p>\n", gen);

    tg_buf s;
    tg_buf_init(&s);
    report_sentence(r, &s);
    tg_buf_adds(b, "<p class=\"lead\">");
    report_xml_escape(b, s.s);
    tg_buf_adds(b, "</p>\n");
    tg_buf_free(&s);

    /* key figures */
    tg_buf_adds(b, "<div class=\"cards\">\n");
    report_fmt_int(t1, sizeof t1, in->msgs);
    html_card(b, t1, "incoming messages");
    fmt_share(t1, sizeof t1, delivered(in), in->msgs);
    html_card(b, t1, "delivered to inboxes");
    fmt_change_of(r, t1, sizeof t1, REPORT_IN, 12);
    month_label(r, CUR - 12, t2, sizeof t2);
    char lbl[128];
    snprintf(lbl, sizeof lbl, "incoming vs %s", t2);
    html_card(b, t1, lbl);
    report_fmt_int(t1, sizeof t1, out->msgs);
    html_card(b, t1, "outgoing messages");
    tg_buf_adds(b, "</div>\n");

    int c = report_complete(r, why, sizeof why);
    tg_buf_printf(b, "<p class=\"note\">Completeness: <span class=\"%s\">", c == 1 ? "ok" : "warn");
    report_xml_escape(b, why);
    tg_buf_adds(b, "</span>. Delivered to inboxes = clean + tagged verdicts. Days and months "
                   "are local to the time zone above; hour buckets are UTC. Figures are "
                   "service-wide totals of every milter host that writes to this Redis.</p>\n");

    /* traffic table */
    tg_buf_adds(b, "<section>\n<h2>Traffic</h2>\n<table>\n<thead><tr><th></th><th>messages</th>"
                   "<th>recipients</th><th>bytes</th>");
    month_label(r, CUR - 1, t1, sizeof t1);
    tg_buf_printf(b, "<th>vs %s</th><th>vs %s</th><th>12-month average</th></tr></thead>\n"
                     "<tbody>\n", t1, t2);
    for (int d = 0; d < REPORT_NDIR; d++) {
        const report_counts_t *x = report_total(r, d);
        char by[32], ch[32], av[48];
        tg_buf_printf(b, "<tr><td>%s</td>", dir_words[d]);
        html_td_n(b, x->msgs);
        html_td_n(b, x->rcpts);
        report_fmt_bytes(by, sizeof by, x->bytes);
        html_td_s(b, by);
        fmt_change_of(r, ch, sizeof ch, d, 1);
        html_td_s(b, ch);
        fmt_change_of(r, ch, sizeof ch, d, 12);
        html_td_s(b, ch);
        double a;
        report_avg12(r, d, 0, &a);
        report_fmt_approx(av, sizeof av, a);
        html_td_s(b, av);
        tg_buf_adds(b, "</tr>\n");
    }
    tg_buf_adds(b, "</tbody>\n</table>\n</section>\n");

    /* funnel */
    tg_buf_adds(b, "<section>\n<h2>What became of incoming mail</h2>\n<figure>\n");
    svg_funnel(r, b);
    tg_buf_adds(b, "</figure>\n<p class=\"note\">Actions on incoming mail: ");
    static const char *const words[REPORT_NA] = {"accepted", "rejected", "discarded",
                                                 "quarantined", "temporarily refused"};
    for (int a = 0; a < REPORT_NA; a++) {
        char n1[48], p[16];
        report_fmt_int(n1, sizeof n1, in->a[a]);
        fmt_share(p, sizeof p, in->a[a], in->msgs);
        tg_buf_printf(b, "%s%s %s (%s)", a ? ", " : "", words[a], n1, p);
    }
    tg_buf_adds(b, ". Each message has one verdict, so the filtered and delivered lines add up "
                   "to what was received; quarantine is an action taken on messages of any "
                   "verdict.</p>\n</section>\n");

    /* daily volume */
    tg_buf_adds(b, "<section>\n<h2>Messages per day</h2>\n<figure>\n");
    svg_daily(r, b);
    int pd;
    uint64_t pm;
    tg_buf_adds(b, "</figure>\n<p class=\"note\">");
    if (report_peak_day(r, &pd, &pm) == 0) {
        report_fmt_int(t1, sizeof t1, pm);
        tg_buf_printf(b, "Peak day: %s %04d-%02d-%02d, %s messages. ",
                      wday_names[weekday(r->year, r->month, pd)], r->year, r->month, pd, t1);
    }
    time_t ph;
    if (report_peak_hour(r, &ph, &pm) == 0) {
        fmt_utc(t2, sizeof t2, ph, "%Y-%m-%d %H:00");
        report_fmt_int(t1, sizeof t1, pm);
        tg_buf_printf(b, "Peak hour: %s UTC, %s messages (hour buckets are UTC hours", t2, t1);
        time_t kept = hours_kept_from(r);
        if (kept > r->hour0) {
            fmt_utc(t2, sizeof t2, kept, "%Y-%m-%d %H:00");
            tg_buf_printf(b, "; of the hours from %s UTC on: the earlier ones have expired", t2);
        }
        tg_buf_adds(b, ").");
    }
    tg_buf_adds(b, "</p>\n</section>\n");

    /* trend */
    int y0, m0;
    month_of(r, CUR - 11, &y0, &m0);
    tg_buf_printf(b, "<section>\n<h2>12-month trend (%s %d to %s)</h2>\n<figure>\n",
                  month_names[m0 - 1], y0, when);
    svg_trend(r, b);
    tg_buf_adds(b, "</figure>\n<p class=\"note\">");
    for (int d = 0; d < 2; d++) {
        double a, p;
        int n = report_avg12(r, d, 0, &a), np = report_avg12(r, d, 1, &p);
        char av[48], ch[32];
        report_fmt_approx(av, sizeof av, a);
        if (np && p > 0)
            fmt_pct_signed(ch, sizeof ch, 100.0 * (a - p) / p);
        else
            snprintf(ch, sizeof ch, "n/a");
        tg_buf_printf(b, "%s 12-month average: %s a month over %d month%s with data (%s on the "
                         "12 months before). ", d ? "Outgoing" : "Incoming", av, n,
                      n == 1 ? "" : "s", ch);
    }
    tg_buf_adds(b, "</p>\n</section>\n");

    /* tenants */
    if (r->by_tenant) {
        trow_t *t = sorted_trows(r);
        month_label(r, CUR - 12, t2, sizeof t2);
        tg_buf_printf(b, "<section>\n<h2>Tenants</h2>\n<table>\n<thead><tr><th>tenant</th>"
                         "<th>incoming</th><th>share</th><th>delivered</th><th>outgoing</th>"
                         "<th>internal</th><th>incoming vs %s</th></tr></thead>\n<tbody>\n", t2);
        uint64_t si = 0, so = 0, sn = 0;
        for (size_t i = 0; i < r->ntrows; i++) {
            const report_counts_t *ti = &t[i].cur.d[REPORT_IN];
            char p[16];
            tg_buf_adds(b, "<tr>");
            html_td_s(b, t[i].name);
            html_td_n(b, ti->msgs);
            fmt_share(p, sizeof p, ti->msgs, in->msgs);
            html_td_s(b, p);
            fmt_share(p, sizeof p, delivered(ti), ti->msgs);
            html_td_s(b, p);
            html_td_n(b, t[i].cur.d[REPORT_OUT].msgs);
            html_td_n(b, t[i].cur.d[REPORT_INT].msgs);
            report_fmt_change(t1, sizeof t1, ti->msgs, t[i].ago.d[REPORT_IN].msgs);
            html_td_s(b, t1);
            tg_buf_adds(b, "</tr>\n");
            si += ti->msgs;
            so += t[i].cur.d[REPORT_OUT].msgs;
            sn += t[i].cur.d[REPORT_INT].msgs;
        }
        tg_buf_adds(b, "<tr class=\"total\"><td>sum of tenants</td>");
        html_td_n(b, si);
        tg_buf_adds(b, "<td></td><td></td>");
        html_td_n(b, so);
        html_td_n(b, sn);
        tg_buf_adds(b, "<td></td></tr>\n</tbody>\n</table>\n");
        tg_buf_printf(b, "<p class=\"note\">%s</p>\n</section>\n",
                      si == in->msgs && so == out->msgs && sn == report_total(r, REPORT_INT)->msgs
                          ? "The tenants add up to the service-wide total."
                          : "The tenants do not add up to the service-wide total: a message for "
                            "several tenants counts in each, mail of no tenant only in the "
                            "total.");
        free(t);
    }

    /* rules */
    {
        size_t n;
        rule_t *s2 = sorted_rules(r, &n);
        tg_buf_adds(b, "<section>\n<h2>Top rules</h2>\n<table>\n<thead><tr><th>rule</th>"
                       "<th>hits</th><th>on delivered mail</th><th>delivered share</th></tr>"
                       "</thead>\n<tbody>\n");
        for (size_t i = 0; i < n; i++) {
            char p[16];
            tg_buf_adds(b, "<tr>");
            html_td_s(b, s2[i].name);
            html_td_n(b, s2[i].hits);
            html_td_n(b, s2[i].delivered);
            fmt_share(p, sizeof p, s2[i].delivered, s2[i].hits);
            html_td_s(b, p);
            tg_buf_adds(b, "</tr>\n");
        }
        if (n == 0)
            tg_buf_adds(b, "<tr><td>no rule hits recorded</td><td></td><td></td><td></td></tr>\n");
        tg_buf_adds(b, "</tbody>\n</table>\n</section>\n");
        free(s2);
    }

    /* per day */
    tg_buf_adds(b, "<section class=\"long\">\n<h2>Per day</h2>\n<table>\n<thead><tr><th>date</th>"
                   "<th>incoming</th><th>delivered</th><th>share</th><th>spam</th>"
                   "<th>security</th><th>policy</th><th>outgoing</th><th>internal</th></tr>"
                   "</thead>\n<tbody>\n");
    for (int d = 0; d <= r->ndays; d++) {
        const dirs_t *x = d < r->ndays ? &r->days[d] : &r->months[CUR];
        const report_counts_t *xi = &x->d[REPORT_IN];
        char p[16];
        if (d < r->ndays) {
            int wd = weekday(r->year, r->month, d + 1);
            tg_buf_printf(b, "<tr%s><td>%.3s %04d-%02d-%02d</td>",
                          wd == 0 || wd == 6 ? " class=\"weekend\"" : "", wday_names[wd],
                          r->year, r->month, d + 1);
        } else {
            tg_buf_printf(b, "<tr class=\"total\"><td>%s</td>", when);
        }
        html_td_n(b, xi->msgs);
        html_td_n(b, delivered(xi));
        fmt_share(p, sizeof p, delivered(xi), xi->msgs);
        html_td_s(b, p);
        html_td_n(b, xi->v[REPORT_V_SPAM]);
        html_td_n(b, xi->v[REPORT_V_SECURITY]);
        html_td_n(b, xi->v[REPORT_V_POLICY]);
        html_td_n(b, x->d[REPORT_OUT].msgs);
        html_td_n(b, x->d[REPORT_INT].msgs);
        tg_buf_adds(b, "</tr>\n");
    }
    tg_buf_adds(b, "</tbody>\n</table>\n</section>\n");
    tg_buf_adds(b, "</body>\n</html>\n");
}

/* ------------------------------------------------------------ dispatch */

void report_render(const report_t *r, int format, tg_buf *out)
{
    switch (format) {
    case REPORT_CSV:
        csv_report(r, out);
        return;
    case REPORT_JSON:
        if (r->kind == REPORT_DAY) {
            json_day(r, out);
        } else if (r->kind == REPORT_RULES) {
            tg_buf_printf(out, "{\"month\":\"%04d-%02d\",\"tenant\":", r->year, r->month);
            tg_buf_json(out, r->tenant, strlen(r->tenant));
            tg_buf_printf(out, ",\"rules_hit\":%zu,\"rules\":", r->nrules);
            json_rules(r, out);
            tg_buf_adds(out, "}\n");
        } else {
            json_month(r, out);
        }
        return;
    case REPORT_HTML:
        if (r->kind == REPORT_MONTH) {
            html_month(r, out);
            return;
        }
        /* other kinds: the text inside a minimal page */
        tg_buf_adds(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
                         "<title>tollgate-stats</title></head><body><pre>");
        {
            tg_buf t;
            tg_buf_init(&t);
            report_render(r, REPORT_TEXT, &t);
            report_xml_escape(out, t.s);
            tg_buf_free(&t);
        }
        tg_buf_adds(out, "</pre></body></html>\n");
        return;
    default:
        if (r->kind == REPORT_DAY)
            text_day(r, out);
        else if (r->kind == REPORT_RULES)
            text_rules_report(r, out);
        else
            text_month(r, out);
    }
}
