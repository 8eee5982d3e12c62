#include "fastmemo.h"

#include "util.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* An entry: the reports, the outcomes, then the string's bytes. Owned by
 * its slot. */
typedef struct entry {
    uint64_t h;
    unsigned tag;
    unsigned len;
    unsigned n;
    unsigned nouts;
    size_t cap;           /* bytes allocated after the header */
    fastmemo_rep_t rep[]; /* [n], then nouts fastmemo_out_t, then len
                             bytes of the string */
} entry_t;

typedef struct slot {
    atomic_flag busy;
    _Atomic uint32_t check; /* CHECK(h) of e's hash, 0 with no e: a lookup
                               of another string (most misses) stops here
                               without reading e; written with busy held */
    _Atomic(entry_t *) e;   /* written only with busy held; read with it, or
                               relaxed for a peek that may miss */
} slot_t;

/* The hash bits a slot keeps (the index takes the low ones), never 0. */
#define CHECK(h) ((uint32_t)((h) >> 32) | 1u)

/* A tag's counts, relaxed atomics (an estimate: a lost update or a racy
 * halving only moves the rate a little); one cache line each, so threads
 * scanning different classes do not share one. */
typedef struct tagstat {
    atomic_ulong seen, tries, hits;
    char pad[64 - 3 * sizeof(atomic_ulong)];
} tagstat_t;

struct fastmemo {
    size_t mask;
    slot_t *slots;
    unsigned ntags;
    tagstat_t *tags;
};

static void tags_reset(fastmemo_t *m)
{
    for (unsigned t = 0; t < m->ntags; t++) {
        atomic_store_explicit(&m->tags[t].seen, 0, memory_order_relaxed);
        atomic_store_explicit(&m->tags[t].tries, 0, memory_order_relaxed);
        atomic_store_explicit(&m->tags[t].hits, 0, memory_order_relaxed);
    }
}

fastmemo_t *fastmemo_new(size_t nslots, unsigned ntags)
{
    size_t n = 64;
    while (n < nslots)
        n <<= 1;
    fastmemo_t *m = tg_malloc(sizeof *m);
    m->mask = n - 1;
    m->slots = tg_malloc(n * sizeof *m->slots);
    for (size_t i = 0; i < n; i++) {
        atomic_flag_clear(&m->slots[i].busy);
        atomic_init(&m->slots[i].check, 0);
        atomic_init(&m->slots[i].e, NULL);
    }
    m->ntags = ntags;
    m->tags = tg_calloc(ntags ? ntags : 1, sizeof *m->tags);
    tags_reset(m);
    return m;
}

size_t fastmemo_slots(const fastmemo_t *m) { return m->mask + 1; }

void fastmemo_free(fastmemo_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i <= m->mask; i++)
        free(atomic_load(&m->slots[i].e));
    free(m->slots);
    free(m->tags);
    free(m);
}

void fastmemo_clear(fastmemo_t *m)
{
    for (size_t i = 0; i <= m->mask; i++) {
        slot_t *sl = &m->slots[i];
        while (atomic_flag_test_and_set_explicit(&sl->busy, memory_order_acquire))
            sched_yield();
        entry_t *e = atomic_exchange_explicit(&sl->e, NULL, memory_order_relaxed);
        atomic_store_explicit(&sl->check, 0, memory_order_relaxed);
        atomic_flag_clear_explicit(&sl->busy, memory_order_release);
        free(e);
    }
    tags_reset(m);
}

int fastmemo_admit(fastmemo_t *m, unsigned tag)
{
    if (tag >= m->ntags)
        return 1;
    tagstat_t *t = &m->tags[tag];
    unsigned long tries = atomic_load_explicit(&t->tries, memory_order_relaxed);
    unsigned long hits = atomic_load_explicit(&t->hits, memory_order_relaxed);
    if (tries < FASTMEMO_COLD_TRIES || hits * FASTMEMO_COLD_RATE >= tries)
        return 1;
    return atomic_fetch_add_explicit(&t->seen, 1, memory_order_relaxed) % FASTMEMO_PROBE == 0;
}

/* Counts one lookup of tag, a hit or not. */
static void tag_count(fastmemo_t *m, unsigned tag, int hit)
{
    if (tag >= m->ntags)
        return;
    tagstat_t *t = &m->tags[tag];
    if (hit)
        atomic_fetch_add_explicit(&t->hits, 1, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&t->tries, 1, memory_order_relaxed) + 1 >= FASTMEMO_DECAY) {
        atomic_store_explicit(&t->tries, FASTMEMO_DECAY / 2, memory_order_relaxed);
        atomic_store_explicit(&t->hits,
                              atomic_load_explicit(&t->hits, memory_order_relaxed) / 2,
                              memory_order_relaxed);
    }
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t fastmemo_hash(unsigned tag, const char *s, size_t len)
{
    uint64_t h = mix(((uint64_t)tag << 32) ^ len ^ 0x9e3779b97f4a7c15ULL);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
    }
    if (i < len) {
        uint64_t w = 0;
        memcpy(&w, s + i, len - i);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
    }
    return mix(h);
}

static const fastmemo_out_t *entry_outs(const entry_t *e)
{
    return (const fastmemo_out_t *)(e->rep + e->n);
}
static const char *entry_str(const entry_t *e) { return (const char *)(entry_outs(e) + e->nouts); }

int fastmemo_get(fastmemo_t *m, uint64_t h, unsigned tag, const char *s, size_t len,
                 fastmemo_rep_t *out, fastmemo_out_t *outs, size_t *nouts)
{
    *nouts = 0;
    if (len > FASTMEMO_MAX_LEN)
        return -1;
    slot_t *sl = &m->slots[h & m->mask];
    if (atomic_load_explicit(&sl->check, memory_order_relaxed) != CHECK(h)) {
        /* a peek: empty or another string's (at worst a miss) */
        tag_count(m, tag, 0);
        return -1;
    }
    if (atomic_flag_test_and_set_explicit(&sl->busy, memory_order_acquire)) {
        tag_count(m, tag, 0);
        return -1;
    }
    const entry_t *e = atomic_load_explicit(&sl->e, memory_order_relaxed);
    int n = -1;
    if (e && e->h == h && e->tag == tag && e->len == len &&
        (len == 0 || !memcmp(entry_str(e), s, len))) {
        n = (int)e->n;
        memcpy(out, e->rep, e->n * sizeof *out);
        memcpy(outs, entry_outs(e), e->nouts * sizeof *outs);
        *nouts = e->nouts;
    }
    atomic_flag_clear_explicit(&sl->busy, memory_order_release);
    tag_count(m, tag, n >= 0);
    return n;
}

/* Writes the string's reports, outcomes and bytes into e (its cap
 * checked by the caller). */
static void entry_fill(entry_t *e, uint64_t h, unsigned tag, const char *s, size_t len,
                       const fastmemo_rep_t *reps, size_t n, const fastmemo_out_t *outs,
                       size_t nouts)
{
    e->h = h;
    e->tag = tag;
    e->len = (unsigned)len;
    e->n = (unsigned)n;
    e->nouts = (unsigned)nouts;
    memcpy(e->rep, reps, n * sizeof *reps);
    if (nouts)
        memcpy((fastmemo_out_t *)(e->rep + n), outs, nouts * sizeof *outs);
    if (len)
        memcpy((char *)entry_str(e), s, len);
}

void fastmemo_put(fastmemo_t *m, uint64_t h, unsigned tag, const char *s, size_t len,
                  const fastmemo_rep_t *reps, size_t n, const fastmemo_out_t *outs,
                  size_t nouts)
{
    if (len > FASTMEMO_MAX_LEN || n > FASTMEMO_MAX_REPS)
        return;
    if (nouts > FASTMEMO_MAX_OUTS)
        nouts = FASTMEMO_MAX_OUTS;
    size_t need = n * sizeof *reps + nouts * sizeof *outs + len;
    slot_t *sl = &m->slots[h & m->mask];
    if (atomic_flag_test_and_set_explicit(&sl->busy, memory_order_acquire))
        return;
    /* The entry it replaces is rewritten in place when it has room (and
     * not over twice what this one needs, so a slot keeps no big block
     * for small strings): every reader of an entry's contents holds busy,
     * so none sees it half written; this saves a malloc and a free on
     * most stores. */
    entry_t *old = atomic_load_explicit(&sl->e, memory_order_relaxed);
    if (old && old->cap >= need && old->cap <= 2 * need + 256) {
        entry_fill(old, h, tag, s, len, reps, n, outs, nouts);
        atomic_store_explicit(&sl->check, CHECK(h), memory_order_relaxed);
        atomic_flag_clear_explicit(&sl->busy, memory_order_release);
        return;
    }
    atomic_flag_clear_explicit(&sl->busy, memory_order_release);
    entry_t *e = tg_malloc(sizeof *e + need);
    e->cap = need;
    entry_fill(e, h, tag, s, len, reps, n, outs, nouts);
    if (atomic_flag_test_and_set_explicit(&sl->busy, memory_order_acquire)) {
        free(e);
        return;
    }
    old = atomic_exchange_explicit(&sl->e, e, memory_order_relaxed);
    atomic_store_explicit(&sl->check, CHECK(h), memory_order_relaxed);
    atomic_flag_clear_explicit(&sl->busy, memory_order_release);
    free(old);
}

void fastmemo_prefetch(const fastmemo_t *m, uint64_t h)
{
    __builtin_prefetch(&m->slots[h & m->mask]);
}

void fastmemo_prefetch_entry(fastmemo_t *m, uint64_t h)
{
    slot_t *sl = &m->slots[h & m->mask];
    if (atomic_load_explicit(&sl->check, memory_order_relaxed) != CHECK(h))
        return;
    /* e may be replaced and freed meanwhile: a prefetch of freed memory
     * is harmless, and fastmemo_get reads it again under the lock */
    const char *e = (const char *)atomic_load_explicit(&sl->e, memory_order_relaxed);
    if (e) {
        __builtin_prefetch(e);
        __builtin_prefetch(e + 64);
    }
}
