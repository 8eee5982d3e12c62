#include "fastcost.h"

#include <hs/hs.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct fastcost_entry {
    uint64_t key;   /* fastcost_key */
    uint32_t usec;  /* median compile CPU time, microseconds */
} fastcost_entry_t;

/* fastcost_table (sorted by key) and fastcost_hs_version, written by
 * tests/bench/costtab ("make costtab"). */
#include "fastcost.inc"

uint64_t fastcost_key(const char *expr, unsigned flags)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)expr; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    for (int i = 0; i < 4; i++)
        h = (h ^ ((flags >> (8 * i)) & 0xff)) * 0x100000001b3ull;
    return h;
}

const char *fastcost_version(void) { return fastcost_hs_version; }

size_t fastcost_count(void) { return sizeof fastcost_table / sizeof *fastcost_table - 1; }

/* Whether lookups read the table: it holds entries, it was measured with
 * the loaded Vectorscan, and TG_FAST_NOCOSTTAB=1 (every compile timed, for
 * "make costtab" and A/B runs) is not set. */
static int table_in_use(void)
{
    return fastcost_count() > 0 && !getenv("TG_FAST_NOCOSTTAB") &&
           strcmp(hs_version(), fastcost_hs_version) == 0;
}

uint64_t fastcost_digest(void)
{
    if (!table_in_use())
        return 0;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 1; i <= fastcost_count(); i++)
        h = (h ^ fastcost_table[i].key ^ fastcost_table[i].usec) * 0x100000001b3ull;
    return h ? h : 1;
}

int fastcost_lookup(const char *expr, unsigned flags, double *secs)
{
    size_t n = sizeof fastcost_table / sizeof *fastcost_table;
    if (!table_in_use())
        return 0;
    uint64_t k = fastcost_key(expr, flags);
    size_t lo = 1, hi = n; /* entry 0 is a sentinel: the table is never empty */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fastcost_table[mid].key < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == n || fastcost_table[lo].key != k)
        return 0;
    *secs = fastcost_table[lo].usec / 1e6;
    return 1;
}
