#include "stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "util.h"

typedef struct slot {
    stats_counts_t c[STATS_NDIR];
} slot_t;

static pthread_mutex_t stats_mu = PTHREAD_MUTEX_INITIALIZER;
static tg_map *stats_tenants;   /* name -> index into stats_slots */
static slot_t *stats_slots;     /* [0] is _all */
static size_t stats_nslots, stats_cap;
static tg_map *stats_rules;     /* rule -> index into stats_rule_hits_v */
static int stats_pending_on;
static batch_t *stats_pending;  /* increments not yet taken by the flusher */
static time_t stats_bucket_t = -1; /* the second the bucket names are for */
static char stats_h[11], stats_d[9], stats_m[7];
static int64_t stats_exp_h, stats_exp_d, stats_exp_m;
static uint64_t *stats_rule_v;
static size_t stats_nrules, stats_rcap;

void stats_init(void)
{
    pthread_mutex_lock(&stats_mu);
    if (!stats_tenants) {
        stats_tenants = tg_map_new();
        stats_rules = tg_map_new();
        tg_grow(&stats_slots, &stats_cap, 1, sizeof *stats_slots);
        memset(stats_slots, 0, sizeof *stats_slots);
        stats_nslots = 1;
    }
    pthread_mutex_unlock(&stats_mu);
}

/* Caller holds stats_mu. */
static slot_t *slot_for(const char *tenant)
{
    size_t idx;
    if (!tenant)
        return &stats_slots[0];
    if (!tg_map_get(stats_tenants, tenant, &idx)) {
        tg_grow(&stats_slots, &stats_cap, stats_nslots + 1, sizeof *stats_slots);
        memset(&stats_slots[stats_nslots], 0, sizeof *stats_slots);
        idx = stats_nslots++;
        tg_map_put(stats_tenants, tenant, idx);
    }
    return &stats_slots[idx];
}

static void add(stats_counts_t *c, const stats_rec_t *r)
{
    c->msgs++;
    c->rcpts += r->rcpts;
    c->bytes += r->bytes;
    c->verdict[r->verdict]++;
    c->action[r->action]++;
}

void stats_set_pending(int on)
{
    pthread_mutex_lock(&stats_mu);
    stats_pending_on = on;
    pthread_mutex_unlock(&stats_mu);
}

/* Caller holds stats_mu. Adds r's increments for one tenant (or _all). */
static void fold(const stats_rec_t *r, const char *tenant)
{
    static const char kinds[3] = {'h', 'd', 'm'};
    const char *buckets[3] = {stats_h, stats_d, stats_m};
    const int64_t exps[3] = {stats_exp_h, stats_exp_d, stats_exp_m};
    const char *dn = stats_dir_name(r->dir);
    char key[256], f[64];
    for (int k = 0; k < 3; k++) {
        keys_counter(key, sizeof key, tenant, kinds[k], buckets[k]);
        snprintf(f, sizeof f, "%s:msgs", dn);
        batch_incr(stats_pending, key, f, 1);
        snprintf(f, sizeof f, "%s:rcpts", dn);
        batch_incr(stats_pending, key, f, r->rcpts);
        snprintf(f, sizeof f, "%s:bytes", dn);
        batch_incr(stats_pending, key, f, (int64_t)r->bytes);
        snprintf(f, sizeof f, "%s:v:%s", dn, stats_verdict_name(r->verdict));
        batch_incr(stats_pending, key, f, 1);
        snprintf(f, sizeof f, "%s:a:%s", dn, stats_action_name(r->action));
        batch_incr(stats_pending, key, f, 1);
        batch_expire(stats_pending, key, exps[k]);
    }
    if (!r->nhits)
        return;
    int delivered = r->verdict == STATS_V_CLEAN || r->verdict == STATS_V_TAGGED;
    for (int k = 1; k < 3 + delivered; k++) {
        /* r:d, r:m and, for delivered mail, rd:m */
        char kind = k == 1 ? 'd' : 'm';
        keys_rules(key, sizeof key, tenant, kind, k == 1 ? stats_d : stats_m, k == 3);
        for (size_t i = 0; i < r->nhits; i++)
            batch_incr(stats_pending, key, r->hits[i], 1);
        batch_expire(stats_pending, key, k == 1 ? stats_exp_d : stats_exp_m);
    }
}

void stats_record(const stats_rec_t *r)
{
    if (r->dir < 0 || r->dir >= STATS_NDIR || r->verdict < 0 ||
        r->verdict >= STATS_NVERDICT || r->action < 0 || r->action >= STATS_NACTION)
        return;
    stats_init();
    pthread_mutex_lock(&stats_mu);
    if (stats_pending_on) {
        time_t now = time(NULL);
        if (now != stats_bucket_t) {
            keys_hour(now, stats_h);
            keys_day(now, stats_d);
            keys_month(now, stats_m);
            stats_exp_h = keys_expiry(now, 'h');
            stats_exp_d = keys_expiry(now, 'd');
            stats_exp_m = keys_expiry(now, 'm');
            stats_bucket_t = now;
        }
        if (!stats_pending)
            stats_pending = batch_new("pending", 0, 0);
        fold(r, KEYS_ALL);
        for (size_t i = 0; i < r->ntenants; i++) {
            fold(r, r->tenants[i]);
            batch_add_tenant(stats_pending, r->tenants[i]);
        }
    }
    add(&slot_for(NULL)->c[r->dir], r);
    for (size_t i = 0; i < r->ntenants; i++)
        add(&slot_for(r->tenants[i])->c[r->dir], r);
    for (size_t i = 0; i < r->nhits; i++) {
        size_t idx;
        if (!tg_map_get(stats_rules, r->hits[i], &idx)) {
            tg_grow(&stats_rule_v, &stats_rcap, stats_nrules + 1, sizeof *stats_rule_v);
            stats_rule_v[stats_nrules] = 0;
            idx = stats_nrules++;
            tg_map_put(stats_rules, r->hits[i], idx);
        }
        stats_rule_v[idx]++;
    }
    pthread_mutex_unlock(&stats_mu);
}

batch_t *stats_take(int64_t *watermark)
{
    pthread_mutex_lock(&stats_mu);
    batch_t *b = stats_pending;
    stats_pending = NULL;
    /* Records take their time under this mutex, so every record of an
     * earlier second is in this batch or before; one of this second may
     * still come after the take. */
    *watermark = (int64_t)time(NULL) - 1;
    pthread_mutex_unlock(&stats_mu);
    return b;
}

stats_counts_t stats_get(const char *tenant, int dir)
{
    stats_counts_t c = {0};
    stats_init();
    pthread_mutex_lock(&stats_mu);
    size_t idx;
    if (!tenant)
        c = stats_slots[0].c[dir];
    else if (tg_map_get(stats_tenants, tenant, &idx))
        c = stats_slots[idx].c[dir];
    pthread_mutex_unlock(&stats_mu);
    return c;
}

uint64_t stats_rule_hits(const char *rule)
{
    uint64_t v = 0;
    size_t idx;
    stats_init();
    pthread_mutex_lock(&stats_mu);
    if (tg_map_get(stats_rules, rule, &idx))
        v = stats_rule_v[idx];
    pthread_mutex_unlock(&stats_mu);
    return v;
}

void stats_summary(char *buf, size_t len)
{
    tg_buf b;
    tg_buf_init(&b);
    for (int d = 0; d < STATS_NDIR; d++) {
        stats_counts_t c = stats_get(NULL, d);
        tg_buf_printf(&b, "%s%s: msgs=%llu rcpts=%llu bytes=%llu", d ? "; " : "",
                      stats_dir_name(d), (unsigned long long)c.msgs,
                      (unsigned long long)c.rcpts, (unsigned long long)c.bytes);
        for (int v = 0; v < STATS_NVERDICT; v++)
            if (c.verdict[v])
                tg_buf_printf(&b, " %s=%llu", stats_verdict_name(v),
                              (unsigned long long)c.verdict[v]);
    }
    snprintf(buf, len, "%s", b.s ? b.s : "");
    tg_buf_free(&b);
}

void stats_shutdown(void)
{
    pthread_mutex_lock(&stats_mu);
    tg_map_free(stats_tenants);
    tg_map_free(stats_rules);
    free(stats_slots);
    free(stats_rule_v);
    batch_free(stats_pending);
    stats_pending = NULL;
    stats_pending_on = 0;
    stats_bucket_t = -1;
    stats_tenants = stats_rules = NULL;
    stats_slots = NULL;
    stats_rule_v = NULL;
    stats_nslots = stats_cap = stats_nrules = stats_rcap = 0;
    pthread_mutex_unlock(&stats_mu);
}

const char *stats_dir_name(int d)
{
    static const char *const n[] = {"in", "out", "int"};
    return n[d];
}

const char *stats_verdict_name(int v)
{
    static const char *const n[] = {"clean", "tagged", "spam", "security",
                                    "policy", "tempfail"};
    return n[v];
}

const char *stats_action_name(int a)
{
    static const char *const n[] = {"accept", "reject", "discard", "quarantine",
                                    "tempfail"};
    return n[a];
}
