#include "fastmemo.h"

#include "util.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* An entry: the reports, then the string's bytes. Owned by its slot. */
typedef struct entry {
    uint64_t h;
    unsigned tag;
    unsigned len;
    unsigned n;
    fastmemo_rep_t rep[]; /* [n], then len bytes of the string */
} entry_t;

typedef struct slot {
    atomic_flag busy;
    _Atomic(entry_t *) e;   /* written only with busy held; read with it, or
                               relaxed for a peek that may miss */
} slot_t;

struct fastmemo {
    size_t mask;
    slot_t *slots;
};

fastmemo_t *fastmemo_new(size_t nslots)
{
    size_t n = 64;
    while (n < nslots)
        n <<= 1;
    fastmemo_t *m = tg_malloc(sizeof *m);
    m->mask = n - 1;
    m->slots = tg_malloc(n * sizeof *m->slots);
    for (size_t i = 0; i < n; i++) {
        atomic_flag_clear(&m->slots[i].busy);
        atomic_init(&m->slots[i].e, NULL);
    }
    return m;
}

void fastmemo_free(fastmemo_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i <= m->mask; i++)
        free(atomic_load(&m->slots[i].e));
    free(m->slots);
    free(m);
}

void fastmemo_clear(fastmemo_t *m)
{
    for (size_t i = 0; i <= m->mask; i++) {
        slot_t *sl = &m->slots[i];
        while (atomic_flag_test_and_set_explicit(&sl->busy, memory_order_acquire))
            sched_yield();
        entry_t *e = atomic_exchange_explicit(&sl->e, NULL, memory_order_relaxed);
        atomic_flag_clear_explicit(&sl->busy, memory_order_release);
        free(e);
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

static const char *entry_str(const entry_t *e) { return (const char *)(e->rep + e->n); }

int fastmemo_get(fastmemo_t *m, uint64_t h, unsigned tag, const char *s, size_t len,
                 fastmemo_rep_t *out)
{
    if (len > FASTMEMO_MAX_LEN)
        return -1;
    slot_t *sl = &m->slots[h & m->mask];
    if (!atomic_load_explicit(&sl->e, memory_order_relaxed)) /* a peek: at worst a miss */
        return -1;
    if (atomic_flag_test_and_set_explicit(&sl->busy, memory_order_acquire))
        return -1;
    const entry_t *e = atomic_load_explicit(&sl->e, memory_order_relaxed);
    int n = -1;
    if (e && e->h == h && e->tag == tag && e->len == len &&
        (len == 0 || !memcmp(entry_str(e), s, len))) {
        n = (int)e->n;
        memcpy(out, e->rep, e->n * sizeof *out);
    }
    atomic_flag_clear_explicit(&sl->busy, memory_order_release);
    return n;
}

void fastmemo_put(fastmemo_t *m, uint64_t h, unsigned tag, const char *s, size_t len,
                  const fastmemo_rep_t *reps, size_t n)
{
    if (len > FASTMEMO_MAX_LEN || n > FASTMEMO_MAX_REPS)
        return;
    slot_t *sl = &m->slots[h & m->mask];
    entry_t *e = tg_malloc(sizeof *e + n * sizeof *reps + len);
    e->h = h;
    e->tag = tag;
    e->len = (unsigned)len;
    e->n = (unsigned)n;
    memcpy(e->rep, reps, n * sizeof *reps);
    if (len)
        memcpy((char *)(e->rep + n), s, len);
    if (atomic_flag_test_and_set_explicit(&sl->busy, memory_order_acquire)) {
        free(e);
        return;
    }
    entry_t *old = atomic_exchange_explicit(&sl->e, e, memory_order_relaxed);
    atomic_flag_clear_explicit(&sl->busy, memory_order_release);
    free(old);
}
