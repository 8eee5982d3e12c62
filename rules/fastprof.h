/*
 * fastprof — the report of a profiled fast matcher (fast_scratch_profile):
 * where its time went, per message, by path, by class and by rule. For
 * `tollgate-rules test --profile` (an admin finding the rules that cost
 * most on their mail) and the benchmark.
 */
#ifndef TG_FASTPROF_H
#define TG_FASTPROF_H

#include <stdio.h>

#include "fast.h"

/* Prints to out what sc measured over nmsgs messages matched with f: time
 * per message, the split by path, the top_classes classes and the
 * top_rules rules by time (PCRE2 time: a database scan serves every rule
 * of its class at once). Reads sc only. */
void fastprof_print(FILE *out, const fast_t *f, const fast_scratch_t *sc, size_t nmsgs,
                    size_t top_classes, size_t top_rules);

/* Indexes 0..n-1 ordered by key[], largest first (the order the report
 * ranks classes and rules in). The caller frees the array. */
size_t *fastprof_order_desc(const double *key, size_t n);

#endif
