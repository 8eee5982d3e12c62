/*
 * statsgen — writes a synthetic year of counters (and the year before it,
 * for the year-on-year change) into Redis through the daemon's batch path
 * (stats/batch.h, keys from stats/keys.h), then prints as JSON the exact
 * totals it wrote for one month, so that tests compare the reports against
 * what was written rather than against hard-coded numbers.
 *
 *   statsgen --redis URL --year 2026 [--month 11] [--tenants a,b,c]
 *            [--seed N] [--senders N] [--timezone ZONE]
 *
 * Shape (management's figures): about 9.8 million incoming messages a month
 * in the target year, +70% on the year before; 15% of them delivered
 * (clean + tagged), the rest spam, security threats, policy violations and
 * a few tempfails, with matching actions; about 1.5 million outgoing a month
 * in both years; a little internal mail. Every message belongs to exactly
 * one tenant, so the tenants sum to _all.
 *
 * One batch per local day per sender (sequence numbers from 1; a rerun on
 * the same Redis is therefore skipped batch by batch, as the daemon's
 * replays are), watermark = the end of that day. Each batch carries the
 * day's counts spread over its hours (UTC hour keys), the day key, the
 * month key, rule hits, for every tenant and for _all. Buckets whose expiry
 * (keys_expiry) is already past are left out, as Redis would delete them on
 * EXPIREAT anyway (old hour and day keys). Deterministic for a given seed.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "keys.h"
#include "rconn.h"
#include "util.h"

#define MAXT 16          /* tenants */
#define MAXS 8           /* senders */
#define NDIR 3
#define NV 6
#define NA 5
#define NH 25            /* hours of a local day (DST: 23, 24 or 25) */

static const char *const dir_names[NDIR] = {"in", "out", "int"};
static const char *const v_names[NV] = {"clean", "tagged", "spam", "security", "policy",
                                        "tempfail"};
static const char *const a_names[NA] = {"accept", "reject", "discard", "quarantine",
                                        "tempfail"};

typedef struct counts {
    uint64_t msgs, rcpts, bytes, v[NV], a[NA];
} counts_t;

/* A (verdict, action) cell with its share of a direction's messages. */
typedef struct cell {
    int v, a;
    double share[NDIR];
} cell_t;

static const cell_t cells[] = {
    /*  verdict   action       in       out      int  */
    {0, 0, {0.1200, 0.9700, 0.9900}},   /* clean    -> accept */
    {1, 0, {0.0300, 0.0100, 0.0100}},   /* tagged   -> accept */
    {2, 1, {0.6120, 0.0130, 0}},        /* spam     -> reject */
    {2, 3, {0.0720, 0.0015, 0}},        /* spam     -> quarantine */
    {2, 2, {0.0360, 0.0005, 0}},        /* spam     -> discard */
    {3, 1, {0.0350, 0.0015, 0}},        /* security -> reject */
    {3, 3, {0.0125, 0.0005, 0}},        /* security -> quarantine */
    {3, 2, {0.0025, 0, 0}},             /* security -> discard */
    {4, 1, {0.0675, 0.0025, 0}},        /* policy   -> reject */
    {4, 3, {0.0075, 0.0005, 0}},        /* policy   -> quarantine */
    {5, 4, {0.0050, 0, 0}},             /* tempfail -> tempfail */
};
#define NCELL (sizeof cells / sizeof cells[0])

/* Synthetic rules: hits as a share of each verdict's messages. */
typedef struct srule {
    const char *name;
    double per_v[NV];
} srule_t;

static const srule_t rules[] = {
    {"BAYES_99", {0, 0.15, 0.62, 0.10, 0, 0}},
    {"URIBL_DBL_SPAM", {0, 0.02, 0.35, 0.05, 0, 0}},
    {"RCVD_IN_SBL_CSS", {0, 0, 0.28, 0.08, 0, 0.2}},
    {"HTML_MESSAGE", {0.55, 0.6, 0.5, 0.4, 0.3, 0.2}},
    {"MIME_HTML_ONLY", {0.05, 0.1, 0.2, 0.1, 0, 0}},
    {"TG_EXE_ATTACHMENT", {0, 0, 0, 0.45, 0, 0}},
    {"TG_MACRO_OFFICE_DOC", {0, 0.001, 0, 0.30, 0, 0}},
    {"TG_PHISH_LOGIN_FORM", {0, 0.02, 0.01, 0.25, 0, 0}},
    {"TG_SPOOF_LOCAL_SPF_FAIL", {0, 0, 0.01, 0, 0.40, 0}},
    {"TG_FORBIDDEN_FILETYPE", {0, 0, 0, 0, 0.40, 0}},
    {"TG_OVERSIZE", {0, 0, 0, 0, 0.20, 0}},
    {"DKIM_INVALID", {0.03, 0.2, 0.1, 0.05, 0, 0}},
    {"FREEMAIL_FROM", {0.12, 0.3, 0.15, 0.05, 0, 0}},
    {"TG_BULK_NEWSLETTER", {0.08, 0.4, 0.02, 0, 0, 0}},
    {"SUBJ_ALL_CAPS", {0.005, 0.1, 0.05, 0, 0, 0}},
};
#define NRULE (sizeof rules / sizeof rules[0])

/* splitmix64: the generator's only source of variation. */
static uint64_t rng_state;
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
/* uniform in [-1, 1) */
static double rng_sym(void) { return (double)(rng_next() >> 11) / 4503599627370496.0 - 1.0; }

/* Splits total over n weights exactly (largest remainder). */
static void split(uint64_t total, const double *w, int n, uint64_t *out)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += w[i];
    uint64_t given = 0;
    double frac[64];
    for (int i = 0; i < n; i++) {
        double x = sum > 0 ? (double)total * w[i] / sum : 0;
        out[i] = (uint64_t)floor(x);
        frac[i] = x - floor(x);
        given += out[i];
    }
    while (given < total) {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (frac[i] > frac[best] || (frac[best] < 0 && w[i] > 0))
                best = i;
        if (w[best] <= 0) {   /* all weights zero: first slot */
            out[0] += total - given;
            break;
        }
        out[best]++;
        frac[best] = -1;
        given++;
    }
}

static int days_in_month(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) ? 29 : d[m - 1];
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

static void add_counts(counts_t *a, const counts_t *b)
{
    a->msgs += b->msgs;
    a->rcpts += b->rcpts;
    a->bytes += b->bytes;
    for (int i = 0; i < NV; i++)
        a->v[i] += b->v[i];
    for (int i = 0; i < NA; i++)
        a->a[i] += b->a[i];
}

/* Adds the non-zero counters of c[NDIR] to key, with its expiry. */
static void emit(batch_t *b, const char *key, const counts_t *c, int64_t expiry)
{
    char f[32];
    int any = 0;
    for (int d = 0; d < NDIR; d++) {
        const counts_t *x = &c[d];
#define INC(name, val)                                         \
        if (val) {                                             \
            snprintf(f, sizeof f, "%s:%s", dir_names[d], name); \
            batch_incr(b, key, f, (int64_t)(val));             \
            any = 1;                                           \
        }
        INC("msgs", x->msgs);
        INC("rcpts", x->rcpts);
        INC("bytes", x->bytes);
        for (int i = 0; i < NV; i++) {
            char n[16];
            snprintf(n, sizeof n, "v:%s", v_names[i]);
            INC(n, x->v[i]);
        }
        for (int i = 0; i < NA; i++) {
            char n[16];
            snprintf(n, sizeof n, "a:%s", a_names[i]);
            INC(n, x->a[i]);
        }
#undef INC
    }
    if (any)
        batch_expire(b, key, expiry);
}

static void json_counts(const counts_t *c)
{
    printf("{\"msgs\":%" PRIu64 ",\"rcpts\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"verdicts\":{",
           c->msgs, c->rcpts, c->bytes);
    for (int i = 0; i < NV; i++)
        printf("%s\"%s\":%" PRIu64, i ? "," : "", v_names[i], c->v[i]);
    printf("},\"actions\":{");
    for (int i = 0; i < NA; i++)
        printf("%s\"%s\":%" PRIu64, i ? "," : "", a_names[i], c->a[i]);
    printf("}}");
}

/* ,"name":70.2 — the percent change, as the report rounds it ("-0.0" is 0.0) */
static void print_pct(const char *name, uint64_t now, uint64_t before)
{
    char v[32];
    snprintf(v, sizeof v, "%.1f", 100.0 * ((double)now - (double)before) / (double)before);
    printf(",\"%s\":%s", name, strcmp(v, "-0.0") ? v : "0.0");
}

static void usage(void)
{
    fprintf(stderr, "usage: statsgen --redis URL --year YYYY [--month M] [--tenants a,b,c] "
                    "[--seed N] [--senders N] [--timezone ZONE]\n");
}

int main(int argc, char **argv)
{
    const char *url = NULL, *zone = "UTC", *tenant_list = "acme,globex,initech";
    int year = 0, month = 11, nsenders = 2;
    uint64_t seed = 1;
    static const struct option opts[] = {
        {"redis", required_argument, NULL, 'r'}, {"year", required_argument, NULL, 'y'},
        {"month", required_argument, NULL, 'm'}, {"tenants", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 's'},  {"senders", required_argument, NULL, 'S'},
        {"timezone", required_argument, NULL, 'z'}, {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': url = optarg; break;
        case 'y': year = atoi(optarg); break;
        case 'm': month = atoi(optarg); break;
        case 't': tenant_list = optarg; break;
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 'S': nsenders = atoi(optarg); break;
        case 'z': zone = optarg; break;
        default: usage(); return 2;
        }
    }
    if (!url || year < 1971 || year > 9999 || month < 1 || month > 12 || nsenders < 1 ||
        nsenders > MAXS || optind != argc) {
        usage();
        return 2;
    }
    if (keys_set_timezone(zone) < 0) {
        fprintf(stderr, "statsgen: unknown time zone '%s'\n", zone);
        return 2;
    }
    char *tl = tg_strdup(tenant_list), *save = NULL;
    const char *tenants[MAXT + 1];
    int nt = 0;
    for (char *t = strtok_r(tl, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (nt == MAXT || !*t || !strcmp(t, KEYS_ALL)) {
            fprintf(stderr, "statsgen: at most %d tenant names, not _all\n", MAXT);
            return 2;
        }
        tenants[nt++] = t;
    }
    if (nt == 0) {
        fprintf(stderr, "statsgen: --tenants needs at least one name\n");
        return 2;
    }
    tenants[nt] = KEYS_ALL;       /* index nt is the sum */
    rng_state = seed * 0x2545f4914f6cdd1dULL + 17;

    char err[1024];
    redisContext *rc = rconn_connect(url, 10000, err, sizeof err);
    if (!rc) {
        fprintf(stderr, "statsgen: %s\n", err);
        return 1;
    }

    /* fixed shapes: tenant shares, month seasonality, hour profiles */
    double tshare[MAXT];
    for (int t = 0; t < nt; t++)
        tshare[t] = 1.0 / (t + 1.6);
    static const double season[12] = {1.02, 0.97, 1.04, 0.99, 1.01, 0.96,
                                      0.92, 0.90, 1.00, 1.03, 1.00, 1.01};
    double hprof[NDIR][24];
    for (int h = 0; h < 24; h++) {
        double work = (h >= 8 && h <= 18) ? 1.0 + 0.6 * sin((h - 8) * M_PI / 10) : 0.25;
        hprof[0][h] = 0.55 + 0.45 * work;   /* spam arrives around the clock */
        hprof[1][h] = 0.05 + work;
        hprof[2][h] = 0.02 + work;
    }
    const double base[2][NDIR] = {{9800000.0 / 1.7, 1500000, 120000},
                                  {9800000.0, 1500000, 126000}};
    const double rcpt_per_msg[NDIR] = {1.31, 1.74, 2.2};
    const double size_avg[NDIR] = {41000, 93000, 57000};

    /* month totals written: [year idx][month][tenant][dir] */
    static counts_t acc[2][12][MAXT + 1][NDIR];
    static uint64_t rule_acc[NRULE], rule_dacc[NRULE];
    uint64_t seqs[MAXS] = {0};
    char senders[MAXS][64];
    for (int s = 0; s < nsenders; s++)
        snprintf(senders[s], sizeof senders[s], "mx%d.statsgen.test:%04" PRIx64, s + 1,
                 seed & 0xffff);
    long applied = 0, skipped = 0;
    time_t now = time(NULL), t0 = now;

    for (int yi = 0; yi < 2; yi++) {
        int y = year - 1 + yi;
        for (int m = 1; m <= 12; m++) {
            int nd = days_in_month(y, m);
            double dw[31];
            for (int d = 1; d <= nd; d++) {
                struct tm tm = {0};
                tm.tm_year = y - 1900, tm.tm_mon = m - 1, tm.tm_mday = d, tm.tm_hour = 12;
                time_t noon = timegm(&tm);
                gmtime_r(&noon, &tm);
                dw[d - 1] = (tm.tm_wday == 0 || tm.tm_wday == 6 ? 0.62 : 1.12) *
                            (1 + 0.07 * rng_sym());
            }
            uint64_t day_tot[NDIR][31];
            for (int dir = 0; dir < NDIR; dir++) {
                double w[31];
                for (int d = 0; d < nd; d++)
                    w[d] = dir == 0 ? dw[d] : dw[d] * (0.7 + 0.3 * (dw[d] > 0.9));
                uint64_t mt = (uint64_t)llround(base[yi][dir] * season[m - 1] *
                                                (1 + 0.004 * rng_sym()));
                split(mt, w, nd, day_tot[dir]);
            }
            for (int d = 1; d <= nd; d++) {
                time_t ds = local_midnight(y, m, d), de = local_midnight(y, m, d + 1);
                int nh = (int)((de - ds) / 3600);
                double hw[NDIR][NH];
                for (int h = 0; h < nh; h++) {
                    struct tm lt;
                    time_t ht = ds + (time_t)h * 3600;
                    localtime_r(&ht, &lt);
                    for (int dir = 0; dir < NDIR; dir++)
                        hw[dir][h] = hprof[dir][lt.tm_hour] * (1 + 0.1 * rng_sym());
                }
                /* [sender][tenant][hour][dir] */
                static counts_t hc[MAXS][MAXT + 1][NH][NDIR];
                static uint64_t rh[MAXS][MAXT + 1][NRULE], rdh[MAXS][MAXT + 1][NRULE];
                memset(hc, 0, sizeof hc);
                memset(rh, 0, sizeof rh);
                memset(rdh, 0, sizeof rdh);
                for (int dir = 0; dir < NDIR; dir++) {
                    double w[MAXT];
                    for (int t = 0; t < nt; t++)
                        w[t] = tshare[t] * (1 + 0.03 * rng_sym());
                    uint64_t per_t[MAXT];
                    split(day_tot[dir][d - 1], w, nt, per_t);
                    for (int t = 0; t < nt; t++) {
                        double sw[MAXS];
                        for (int s = 0; s < nsenders; s++)
                            sw[s] = (s ? 0.45 : 0.55) * (1 + 0.05 * rng_sym());
                        uint64_t per_s[MAXS];
                        split(per_t[t], sw, nsenders, per_s);
                        for (int s = 0; s < nsenders; s++) {
                            double cw[NCELL];
                            for (size_t k = 0; k < NCELL; k++)
                                cw[k] = cells[k].share[dir] * (1 + 0.01 * rng_sym());
                            uint64_t per_c[NCELL];
                            split(per_s[s], cw, (int)NCELL, per_c);
                            for (size_t k = 0; k < NCELL; k++) {
                                uint64_t per_h[NH];
                                split(per_c[k], hw[dir], nh, per_h);
                                for (int h = 0; h < nh; h++) {
                                    counts_t *x = &hc[s][t][h][dir];
                                    uint64_t n = per_h[h];
                                    if (!n)
                                        continue;
                                    x->msgs += n;
                                    x->v[cells[k].v] += n;
                                    x->a[cells[k].a] += n;
                                    x->rcpts += (uint64_t)llround(
                                        (double)n * rcpt_per_msg[dir] * (1 + 0.05 * rng_sym()));
                                    x->bytes += (uint64_t)llround(
                                        (double)n * size_avg[dir] * (1 + 0.2 * rng_sym()));
                                }
                                for (size_t q = 0; q < NRULE; q++) {
                                    uint64_t hits = (uint64_t)llround(
                                        (double)per_c[k] * rules[q].per_v[cells[k].v]);
                                    rh[s][t][q] += hits;
                                    if (cells[k].v <= 1)
                                        rdh[s][t][q] += hits;
                                }
                            }
                        }
                    }
                }
                /* one batch per sender for this day */
                char dbk[9], mbk[7], hbk[11], key[256];
                keys_day(ds, dbk);
                keys_month(ds, mbk);
                int64_t exp_d = keys_expiry(ds, 'd'), exp_m = keys_expiry(ds, 'm');
                for (int s = 0; s < nsenders; s++) {
                    batch_t *b = batch_new(senders[s], ++seqs[s], (int64_t)de);
                    for (int t = 0; t < nt; t++)
                        batch_add_tenant(b, tenants[t]);
                    for (int t = 0; t <= nt; t++) {
                        counts_t day[NDIR] = {{0}};
                        for (int h = 0; h < nh; h++) {
                            counts_t hour[NDIR] = {{0}};
                            for (int dir = 0; dir < NDIR; dir++) {
                                if (t < nt)
                                    hour[dir] = hc[s][t][h][dir];
                                else
                                    for (int u = 0; u < nt; u++)
                                        add_counts(&hour[dir], &hc[s][u][h][dir]);
                                add_counts(&day[dir], &hour[dir]);
                            }
                            time_t ht = ds + (time_t)h * 3600;
                            int64_t exp_h = keys_expiry(ht, 'h');
                            if (exp_h > (int64_t)now) {
                                keys_hour(ht, hbk);
                                keys_counter(key, sizeof key, tenants[t], 'h', hbk);
                                emit(b, key, hour, exp_h);
                            }
                        }
                        if (exp_d > (int64_t)now) {
                            keys_counter(key, sizeof key, tenants[t], 'd', dbk);
                            emit(b, key, day, exp_d);
                        }
                        keys_counter(key, sizeof key, tenants[t], 'm', mbk);
                        emit(b, key, day, exp_m);
                        for (int dir = 0; dir < NDIR; dir++)
                            add_counts(&acc[yi][m - 1][t][dir], &day[dir]);
                        /* rule hits */
                        char rk_d[256], rk_m[256], rdk_m[256];
                        keys_rules(rk_d, sizeof rk_d, tenants[t], 'd', dbk, 0);
                        keys_rules(rk_m, sizeof rk_m, tenants[t], 'm', mbk, 0);
                        keys_rules(rdk_m, sizeof rdk_m, tenants[t], 'm', mbk, 1);
                        int anyd = 0, anym = 0, anyrd = 0;
                        for (size_t q = 0; q < NRULE; q++) {
                            uint64_t hits = 0, dh = 0;
                            if (t < nt) {
                                hits = rh[s][t][q];
                                dh = rdh[s][t][q];
                            } else {
                                for (int u = 0; u < nt; u++) {
                                    hits += rh[s][u][q];
                                    dh += rdh[s][u][q];
                                }
                            }
                            if (hits) {
                                if (exp_d > (int64_t)now) {
                                    batch_incr(b, rk_d, rules[q].name, (int64_t)hits);
                                    anyd = 1;
                                }
                                batch_incr(b, rk_m, rules[q].name, (int64_t)hits);
                                anym = 1;
                            }
                            if (dh) {
                                batch_incr(b, rdk_m, rules[q].name, (int64_t)dh);
                                anyrd = 1;
                            }
                            if (t == nt && yi == 1 && m == month) {
                                rule_acc[q] += hits;
                                rule_dacc[q] += dh;
                            }
                        }
                        if (anyd)
                            batch_expire(b, rk_d, exp_d);
                        if (anym)
                            batch_expire(b, rk_m, exp_m);
                        if (anyrd)
                            batch_expire(b, rdk_m, exp_m);
                    }
                    int rcode = batch_apply(rc, b, err, sizeof err);
                    batch_free(b);
                    if (rcode < 0) {
                        fprintf(stderr, "statsgen: %s\n", err);
                        return 1;
                    }
                    if (rcode == 1)
                        applied++;
                    else
                        skipped++;
                }
            }
        }
    }
    redisFree(rc);
    if (skipped)
        fprintf(stderr, "statsgen: %ld batches were already applied (a rerun on the same Redis "
                        "with the same seed): the totals below count them once\n", skipped);

    /* the chosen month, as JSON */
    const counts_t *cur = acc[1][month - 1][nt];
    int pm = month == 1 ? 12 : month - 1, pyi = month == 1 ? 0 : 1;
    const counts_t *prev = acc[pyi][pm - 1][nt], *ago = acc[0][month - 1][nt];
    printf("{\"month\":\"%04d-%02d\",\"timezone\":\"%s\",\"senders\":%d,\"batches\":%ld,"
           "\"skipped\":%ld,\"seconds\":%lld,\"tenants\":[",
           year, month, zone, nsenders, applied, skipped, (long long)(time(NULL) - t0));
    for (int t = 0; t < nt; t++)
        printf("%s\"%s\"", t ? "," : "", tenants[t]);
    printf("],\"all\":{");
    for (int d = 0; d < NDIR; d++) {
        printf("%s\"%s\":", d ? "," : "", dir_names[d]);
        json_counts(&cur[d]);
    }
    uint64_t dl = cur[0].v[0] + cur[0].v[1];
    printf("},\"delivered\":%" PRIu64 ",\"delivered_pct\":%.1f", dl,
           cur[0].msgs ? 100.0 * (double)dl / (double)cur[0].msgs : 0);
    printf(",\"change\":{\"prev_year\":{\"month\":\"%04d-%02d\"", year - 1, month);
    for (int d = 0; d < NDIR; d++)
        print_pct(dir_names[d], cur[d].msgs, ago[d].msgs);
    printf("},\"prev_month\":{\"month\":\"%04d-%02d\"", pyi ? year : year - 1, pm);
    for (int d = 0; d < NDIR; d++)
        print_pct(dir_names[d], cur[d].msgs, prev[d].msgs);
    /* 12 months ending with the chosen one: all written (both years) */
    printf("}},\"avg12\":{\"months\":12");
    for (int d = 0; d < NDIR; d++) {
        double sum = 0;
        for (int k = 0; k < 12; k++) {
            int idx = 12 + month - 1 - k;            /* months since Jan of year-1 */
            sum += (double)acc[idx / 12][idx % 12][nt][d].msgs;
        }
        printf(",\"%s\":%.0f", dir_names[d], sum / 12);
    }
    printf("},\"by_tenant\":{");
    for (int t = 0; t < nt; t++) {
        printf("%s\"%s\":{", t ? "," : "", tenants[t]);
        for (int d = 0; d < NDIR; d++) {
            printf("%s\"%s\":", d ? "," : "", dir_names[d]);
            json_counts(&acc[1][month - 1][t][d]);
        }
        printf("}");
    }
    size_t top = 0;
    for (size_t q = 1; q < NRULE; q++)
        if (rule_acc[q] > rule_acc[top])
            top = q;
    printf("},\"top_rule\":{\"rule\":\"%s\",\"hits\":%" PRIu64 ",\"delivered\":%" PRIu64 "}}\n",
           rules[top].name, rule_acc[top], rule_dacc[top]);
    free(tl);
    return 0;
}
