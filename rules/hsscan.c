#include "hsscan.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef hs_error_t (*scan_fn)(const hs_database_t *, const char *, unsigned, unsigned,
                              hs_scratch_t *, match_event_handler, void *);

static scan_fn chosen;
static const char *variant = "dispatch";
static hs_platform_info_t avx2_target;
static const hs_platform_info_t *target; /* NULL: the host */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char warning[256]; /* "" or why the chosen code is not to be trusted */

/* Whether the library's version string ("5.4.9 2023-...") is older than
 * 5.4.13, where upstream fixed the AVX-512 tail misses. */
static int before_fix(const char *v)
{
    unsigned a = 0, b = 0, c = 0;
    if (!v || sscanf(v, "%u.%u.%u", &a, &b, &c) != 3)
        return 1; /* unknown: assume the bug */
    return a != 5 ? a < 5 : b != 4 ? b < 4 : c < 13;
}

static void choose(void)
{
    chosen = hs_scan;
    const char *env = getenv("TG_VECTORSCAN_DISPATCH");
    int keep = env && *env && *env != '0';
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx2"))
        return; /* the dispatcher does not pick the AVX-512 code */
    void *p = keep ? NULL : dlsym(RTLD_DEFAULT, "avx2_hs_scan");
    if (p && hs_populate_platform(&avx2_target) == HS_SUCCESS) {
        avx2_target.cpu_features = HS_CPU_FEATURES_AVX2;
        target = &avx2_target;
        chosen = (scan_fn)p;
        variant = "avx2";
        return;
    }
    const char *v = hs_version();
    if (before_fix(v))
        snprintf(warning, sizeof warning,
                 "Vectorscan %.*s runs its AVX-512 code on this CPU, which misses matches "
                 "near the end of a string (fixed in 5.4.13): %s", (int)strcspn(v, " "), v,
                 keep ? "TG_VECTORSCAN_DISPATCH is set" : "the library has no avx2_hs_scan");
}

hs_error_t hsscan(const hs_database_t *db, const char *data, unsigned len, hs_scratch_t *scratch,
                  match_event_handler cb, void *ctx)
{
    pthread_once(&once, choose);
    return chosen(db, data, len, 0, scratch, cb, ctx);
}

const char *hsscan_variant(void)
{
    pthread_once(&once, choose);
    return variant;
}

const char *hsscan_warning(void)
{
    pthread_once(&once, choose);
    return warning[0] ? warning : NULL;
}

const hs_platform_info_t *hsscan_platform(void)
{
    pthread_once(&once, choose);
    return target;
}
