/*
 * hsscan — the Vectorscan block-mode scan every tollgate scan goes through.
 *
 * Debian 12's Vectorscan (5.4.9) is built with a fat runtime: hs_scan picks
 * the code for the CPU at load time, AVX-512 where the CPU has it. That code
 * misses matches: /a[b-z]{0,20}c/ does not report in 100 bytes of "x"
 * followed by "ac", /\?[\x00-\x7f]{0,200}@/ not in 64 to 67 bytes followed
 * by "?@" (its accelerators mishandle the last partial 64-byte block;
 * upstream fixed such tail bugs in 5.4.13, VectorCamp/vectorscan#378). The
 * library's AVX2 code finds them. So on a CPU with AVX-512 (and AVX2),
 * hsscan calls the library's own AVX2 entry point (avx2_hs_scan, exported
 * by the fat build) instead of the dispatcher; elsewhere, or where that
 * symbol is missing (another build of the library), it is hs_scan.
 * TG_VECTORSCAN_DISPATCH=1 in the environment keeps the library's choice
 * (to compare, or once a fixed library is installed).
 *
 * Thread-safe; the choice is made once, on the first call.
 */
#ifndef TG_HSSCAN_H
#define TG_HSSCAN_H

#include <hs/hs.h>

/* hs_scan(db, data, len, 0, scratch, cb, ctx) through the chosen code. */
hs_error_t hsscan(const hs_database_t *db, const char *data, unsigned len, hs_scratch_t *scratch,
                  match_event_handler cb, void *ctx);

/* "avx2" or "dispatch": which code hsscan runs (for logs and benchmarks). */
const char *hsscan_variant(void);

/* NULL, or a sentence for the log where hsscan runs code known to miss
 * matches: the library's AVX-512 code, on a CPU that has AVX-512, from a
 * library older than 5.4.13 (TG_VECTORSCAN_DISPATCH set, or no
 * avx2_hs_scan in it). Owned here. */
const char *hsscan_warning(void);

/* The platform to compile databases for, to go with that code: the AVX2
 * target with the host's tuning for "avx2" (the AVX2 code crashes on a
 * database compiled for AVX-512), NULL (the host) otherwise. Owned here.
 * A cache of compiled databases must be keyed by hsscan_variant. */
const hs_platform_info_t *hsscan_platform(void);

#endif
