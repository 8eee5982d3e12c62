#include "hsscan.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

typedef hs_error_t (*scan_fn)(const hs_database_t *, const char *, unsigned, unsigned,
                              hs_scratch_t *, match_event_handler, void *);

static scan_fn chosen;
static const char *variant = "dispatch";
static hs_platform_info_t avx2_target;
static const hs_platform_info_t *target; /* NULL: the host */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void choose(void)
{
    chosen = hs_scan;
    const char *keep = getenv("TG_VECTORSCAN_DISPATCH");
    if (keep && *keep && *keep != '0')
        return;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx2"))
        return; /* the dispatcher does not pick the AVX-512 code */
    void *p = dlsym(RTLD_DEFAULT, "avx2_hs_scan");
    if (p && hs_populate_platform(&avx2_target) == HS_SUCCESS) {
        avx2_target.cpu_features = HS_CPU_FEATURES_AVX2;
        target = &avx2_target;
        chosen = (scan_fn)p;
        variant = "avx2";
    }
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

const hs_platform_info_t *hsscan_platform(void)
{
    pthread_once(&once, choose);
    return target;
}
