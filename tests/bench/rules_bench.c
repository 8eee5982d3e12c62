/*
 * rules_bench — classification cost of the rule engine over a corpus.
 *
 *   rules_bench [-r RUNS] [--rules PATH]... DIR...
 *
 * Loads the rules (timing the load and compile), reads every *.eml under the
 * directories into memory, then classifies all of them RUNS times (default 3)
 * and prints per run and as the median: messages/s, MB/s, and per-message
 * latency percentiles; plus peak RSS. Figures, never pass/fail.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "msg.h"
#include "rules.h"
#include "util.h"

typedef struct { char *data; size_t len; } item_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_s(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    const char *paths[64];
    size_t npaths = 0;
    int runs = 3;
    item_t *items = NULL;
    size_t n = 0, cap = 0, bytes = 0;
    char err[1024];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rules") && i + 1 < argc && npaths < 64) {
            paths[npaths++] = argv[++i];
        } else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else {
            DIR *d = opendir(argv[i]);
            if (!d) {
                fprintf(stderr, "rules_bench: %s: cannot open\n", argv[i]);
                return 1;
            }
            char **names = NULL;
            size_t nn = 0, nc = 0;
            struct dirent *de;
            while ((de = readdir(d)))
                if (strstr(de->d_name, ".eml")) {
                    tg_grow(&names, &nc, nn + 1, sizeof *names);
                    names[nn++] = tg_strdup(de->d_name);
                }
            closedir(d);
            qsort(names, nn, sizeof *names, cmp_s);
            for (size_t k = 0; k < nn; k++) {
                char p[4096];
                snprintf(p, sizeof p, "%s/%s", argv[i], names[k]);
                tg_grow(&items, &cap, n + 1, sizeof *items);
                if (tg_read_file(p, &items[n].data, &items[n].len, err, sizeof err) == 0)
                    bytes += items[n++].len;
                free(names[k]);
            }
            free(names);
        }
    }
    if (!npaths || !n || runs < 1) {
        fprintf(stderr, "usage: rules_bench [-r RUNS] --rules PATH... DIR...\n");
        return 2;
    }
    double t0 = now();
    rules_t *rs;
    if (rules_load(paths, npaths, NULL, &rs, err, sizeof err) < 0) {
        fprintf(stderr, "rules_bench: %s\n", err);
        return 1;
    }
    double tload = now() - t0;
    const rules_info_t *in = rules_get_info(rs);
    printf("rules: %zu loaded (%zu regex, %zu meta) in %.3f s\n", in->loaded,
           in->loaded_regex, in->loaded_meta, tload);
    printf("corpus: %zu messages, %.1f MB\n", n, bytes / 1e6);
    rules_scratch_t *sc = rules_scratch_new(rs);
    double *lat = tg_malloc(n * sizeof *lat);
    double *rate = tg_malloc((size_t)runs * sizeof *rate);
    double *p50 = tg_malloc((size_t)runs * sizeof *p50);
    double *p99 = tg_malloc((size_t)runs * sizeof *p99);
    printf("%-6s %10s %8s %10s %10s %10s\n", "run", "msgs/s", "MB/s", "p50 ms", "p90 ms", "p99 ms");
    for (int r = 0; r < runs; r++) {
        double start = now();
        for (size_t i = 0; i < n; i++) {
            double a = now();
            msg_t *m = msg_new(NULL);
            msg_feed(m, items[i].data, items[i].len);
            msg_finish(m);
            rules_verdict_t v;
            rules_classify(rs, sc, m, NULL, &v);
            rules_verdict_clear(&v);
            msg_free(m);
            lat[i] = (now() - a) * 1e3;
        }
        double el = now() - start;
        qsort(lat, n, sizeof *lat, cmp_d);
        rate[r] = n / el;
        p50[r] = lat[n / 2];
        p99[r] = lat[(size_t)(n * 0.99)];
        printf("%-6d %10.0f %8.2f %10.3f %10.3f %10.3f\n", r + 1, rate[r], bytes / 1e6 / el,
               p50[r], lat[(size_t)(n * 0.9)], p99[r]);
    }
    qsort(rate, (size_t)runs, sizeof *rate, cmp_d);
    qsort(p50, (size_t)runs, sizeof *p50, cmp_d);
    qsort(p99, (size_t)runs, sizeof *p99, cmp_d);
    double med = rate[runs / 2];
    printf("%-6s %10.0f %8.2f %10.3f %10s %10.3f\n", "median", med, med * (bytes / 1e6) / n,
           p50[runs / 2], "", p99[runs / 2]);
    printf("cpu per message: %.3f ms (median run)\n", 1e3 / med);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS: %.1f MB\n", ru.ru_maxrss / 1024.0);
    rules_scratch_free(sc);
    rules_unref(rs);
    for (size_t i = 0; i < n; i++)
        free(items[i].data);
    free(items);
    free(lat);
    free(rate);
    free(p50);
    free(p99);
    return 0;
}
