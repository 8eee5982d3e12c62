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
static tg_map *stats_rules;     /* rule -> index into stats_rule_v */
static int stats_pending_on;
static time_t stats_bucket_t = -1; /* the second the bucket names are for */
static char stats_h[11], stats_d[9], stats_m[7];

/* Pending increments, kept as integers per (tenant, hour, day, month) and
 * per (tenant, day, month, rule): a record costs a few map lookups; the
 * flusher turns them into a batch outside the lock (stats_take). */
#define NF (3 + STATS_NVERDICT + STATS_NACTION)   /* msgs rcpts bytes v* a* */
typedef struct cslot {
    char *tenant;
    char h[11], d[9], m[7];
    time_t t;                   /* a time inside the buckets (for expiry) */
    uint64_t f[STATS_NDIR][NF];
} cslot_t;
typedef struct rslot {
    char *tenant, *rule;
    char d[9], m[7];
    time_t t;
    uint64_t hits, delivered;
} rslot_t;
typedef struct pending {
    tg_map *cidx, *ridx;
    cslot_t *c;
    size_t nc, ccap;
    rslot_t *r;
    size_t nr, rcap;
} pending_t;
static pending_t *stats_pend;

static void pending_free(pending_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nc; i++)
        free(p->c[i].tenant);
    for (size_t i = 0; i < p->nr; i++) {
        free(p->r[i].tenant);
        free(p->r[i].rule);
    }
    free(p->c);
    free(p->r);
    tg_map_free(p->cidx);
    tg_map_free(p->ridx);
    free(p);
}

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

/* Caller holds stats_mu. Adds r to the pending slots of one tenant. */
static void fold(const stats_rec_t *r, const char *tenant, time_t now)
{
    char k[512];
    size_t idx;
    snprintf(k, sizeof k, "%s\t%s\t%s\t%s", tenant, stats_h, stats_d, stats_m);
    pending_t *p = stats_pend;
    if (!tg_map_get(p->cidx, k, &idx)) {
        tg_grow(&p->c, &p->ccap, p->nc + 1, sizeof *p->c);
        cslot_t *c = &p->c[p->nc];
        memset(c, 0, sizeof *c);
        c->tenant = tg_strdup(tenant);
        memcpy(c->h, stats_h, sizeof c->h);
        memcpy(c->d, stats_d, sizeof c->d);
        memcpy(c->m, stats_m, sizeof c->m);
        c->t = now;
        idx = p->nc++;
        tg_map_put(p->cidx, k, idx);
    }
    uint64_t *f = p->c[idx].f[r->dir];
    f[0]++;
    f[1] += r->rcpts;
    f[2] += r->bytes;
    f[3 + r->verdict]++;
    f[3 + STATS_NVERDICT + r->action]++;
    int delivered = r->verdict == STATS_V_CLEAN || r->verdict == STATS_V_TAGGED;
    for (size_t i = 0; i < r->nhits; i++) {
        snprintf(k, sizeof k, "%s\t%s\t%s\t%s", tenant, stats_d, stats_m, r->hits[i]);
        if (!tg_map_get(p->ridx, k, &idx)) {
            tg_grow(&p->r, &p->rcap, p->nr + 1, sizeof *p->r);
            rslot_t *x = &p->r[p->nr];
            memset(x, 0, sizeof *x);
            x->tenant = tg_strdup(tenant);
            x->rule = tg_strdup(r->hits[i]);
            memcpy(x->d, stats_d, sizeof x->d);
            memcpy(x->m, stats_m, sizeof x->m);
            x->t = now;
            idx = p->nr++;
            tg_map_put(p->ridx, k, idx);
        }
        p->r[idx].hits++;
        p->r[idx].delivered += delivered;
    }
}

/* Turns pending slots into a batch (schema: stats/README.md). Runs in
 * the flusher thread, without the lock. */
static batch_t *to_batch(const pending_t *p)
{
    batch_t *b = batch_new("pending", 0, 0);
    char key[512], f[64];
    for (size_t i = 0; i < p->nc; i++) {
        const cslot_t *c = &p->c[i];
        if (strcmp(c->tenant, KEYS_ALL))
            batch_add_tenant(b, c->tenant);
        const char kinds[3] = {'h', 'd', 'm'};
        const char *buckets[3] = {c->h, c->d, c->m};
        for (int k = 0; k < 3; k++) {
            keys_counter(key, sizeof key, c->tenant, kinds[k], buckets[k]);
            for (int d = 0; d < STATS_NDIR; d++) {
                const uint64_t *v = c->f[d];
                if (!v[0])
                    continue;
                const char *dn = stats_dir_name(d);
                snprintf(f, sizeof f, "%s:msgs", dn);
                batch_incr(b, key, f, (int64_t)v[0]);
                snprintf(f, sizeof f, "%s:rcpts", dn);
                batch_incr(b, key, f, (int64_t)v[1]);
                snprintf(f, sizeof f, "%s:bytes", dn);
                batch_incr(b, key, f, (int64_t)v[2]);
                for (int x = 0; x < STATS_NVERDICT; x++)
                    if (v[3 + x]) {
                        snprintf(f, sizeof f, "%s:v:%s", dn, stats_verdict_name(x));
                        batch_incr(b, key, f, (int64_t)v[3 + x]);
                    }
                for (int x = 0; x < STATS_NACTION; x++)
                    if (v[3 + STATS_NVERDICT + x]) {
                        snprintf(f, sizeof f, "%s:a:%s", dn, stats_action_name(x));
                        batch_incr(b, key, f, (int64_t)v[3 + STATS_NVERDICT + x]);
                    }
            }
            batch_expire(b, key, keys_expiry(c->t, kinds[k]));
        }
    }
    for (size_t i = 0; i < p->nr; i++) {
        const rslot_t *x = &p->r[i];
        keys_rules(key, sizeof key, x->tenant, 'd', x->d, 0);
        batch_incr(b, key, x->rule, (int64_t)x->hits);
        batch_expire(b, key, keys_expiry(x->t, 'd'));
        keys_rules(key, sizeof key, x->tenant, 'm', x->m, 0);
        batch_incr(b, key, x->rule, (int64_t)x->hits);
        batch_expire(b, key, keys_expiry(x->t, 'm'));
        if (x->delivered) {
            keys_rules(key, sizeof key, x->tenant, 'm', x->m, 1);
            batch_incr(b, key, x->rule, (int64_t)x->delivered);
            batch_expire(b, key, keys_expiry(x->t, 'm'));
        }
    }
    return b;
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
            stats_bucket_t = now;
        }
        if (!stats_pend) {
            stats_pend = tg_calloc(1, sizeof *stats_pend);
            stats_pend->cidx = tg_map_new();
            stats_pend->ridx = tg_map_new();
        }
        fold(r, KEYS_ALL, now);
        for (size_t i = 0; i < r->ntenants; i++)
            fold(r, r->tenants[i], now);
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
    pending_t *p = stats_pend;
    stats_pend = NULL;
    /* Records take their time under this mutex, so every record of an
     * earlier second is in this batch or before; one of this second may
     * still come after the take. */
    *watermark = (int64_t)time(NULL) - 1;
    pthread_mutex_unlock(&stats_mu);
    if (!p)
        return NULL;
    batch_t *b = to_batch(p);
    pending_free(p);
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
    pending_free(stats_pend);
    stats_pend = NULL;
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
