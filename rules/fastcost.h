/*
 * fastcost — measured Vectorscan compile costs, so that routing which
 * compares compile times is the same on every build.
 *
 * fast.c routes a rule by how long its expression takes to compile alone
 * (the class's second database past 0.25 s, PCRE2 past 5 s, relaxed forms
 * where the prefilter form is slow). Timed on the build host, rules near
 * a bound fell either side from one cold compile to the next: two builds
 * of one tree had different databases, and measurements made on one did
 * not hold for the other (12-15% apart on a busy host; where the
 * borderline rules go is worth 1-2% in an A/B on a quiet one). The
 * table holds the median CPU time of each expression of the shipped and
 * SpamAssassin rules that takes at least FASTCOST_STORE_S, measured by
 * tests/bench/costtab on the reference machine for one Vectorscan
 * version; any other expression (an admin's own rule, another library
 * version) is timed.
 */
#ifndef TG_FASTCOST_H
#define TG_FASTCOST_H

#include <stddef.h>
#include <stdint.h>

/* The table holds the expressions that compile in FASTCOST_STORE_S or
 * more; a compile timed on the build host that takes FASTCOST_MIN_S or
 * more (fast_build_info_t.cost_timed) was not measured for the table: no
 * bound fast.c compares with lies within 5x of it, and a build under ASan
 * (compiles 2-3x slower) does not reach it with the expressions left out. */
#define FASTCOST_STORE_S 0.004
#define FASTCOST_MIN_S 0.02

/* The table's key for expr compiled alone with hs_compile flags. */
uint64_t fastcost_key(const char *expr, unsigned flags);

/* 1 and *secs = the table's compile CPU time for (expr, flags) if the
 * table is for the loaded Vectorscan (hs_version) and holds it; else 0
 * and *secs untouched. Thread-safe (the table is constant). */
int fastcost_lookup(const char *expr, unsigned flags, double *secs);

/* The Vectorscan version the table was measured with, and how many
 * expressions it holds. */
const char *fastcost_version(void);
size_t fastcost_count(void);

/* A hash of the table's contents if lookups read it (entries, the loaded
 * Vectorscan's version, TG_FAST_NOCOSTTAB unset), else 0: fast.c keys its
 * cache on it, so a table measured again does not get the old routes. */
uint64_t fastcost_digest(void);

#endif
