/*
 * costtab — measures the compile cost of the expressions a cold build
 * compiles alone, and writes rules/fastcost.inc (see rules/fastcost.h).
 *
 *   TG_FAST_COSTLOG=LOG tollgate-rules test --cache '' --rules ... MSG
 *   costtab LOG... > rules/fastcost.inc        ("make costtab" does both)
 *
 * Each distinct (flags, expression) of the logs is compiled alone, in this
 * one thread, as fast.c's try_compile does; one that takes 3 ms or more is
 * compiled COSTTAB_RUNS times in all and its median CPU time kept. Those
 * whose median is FASTCOST_STORE_S or more go into the table, with the
 * Vectorscan version they were measured with. Run it on an otherwise idle
 * machine: CPU time also grows when the other core is busy (shared
 * caches). -k OLD.inc keeps OLD's measurements (same Vectorscan version
 * assumed) and measures only the expressions it lacks.
 */
#include <hs/hs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fastcost.h"
#include "hsscan.h"

#define COSTTAB_RUNS 5

typedef struct {
    uint64_t key;
    unsigned flags;
    char *expr;
    double secs; /* median */
} item_t;

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double compile_once(const char *expr, unsigned flags)
{
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    double t0 = cpu_s();
    hs_error_t rc = hs_compile(expr, flags, HS_MODE_BLOCK, hsscan_platform(), &db, &ce);
    double t = cpu_s() - t0;
    if (rc == HS_SUCCESS)
        hs_free_database(db);
    else
        hs_free_compile_error(ce);
    return t;
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int by_key(const void *a, const void *b)
{
    const item_t *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Reads "flags<TAB>hex" lines; appends new (key-distinct) items. */
static int read_log(const char *path, item_t **items, size_t *n, size_t *cap)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        perror(path);
        return -1;
    }
    char *line = NULL;
    size_t len = 0, lineno = 0;
    while (getline(&line, &len, fp) > 0) {
        lineno++;
        char *tab = strchr(line, '\t');
        if (!tab) {
            fprintf(stderr, "%s:%zu: no tab\n", path, lineno);
            continue;
        }
        unsigned flags = (unsigned)strtoul(line, NULL, 16);
        const char *h = tab + 1;
        size_t hl = strcspn(h, "\n");
        char *e = malloc(hl / 2 + 1);
        size_t k = 0;
        for (size_t i = 0; i + 1 < hl; i += 2) {
            int a = hexval(h[i]), b = hexval(h[i + 1]);
            if (a < 0 || b < 0)
                break;
            e[k++] = (char)(a * 16 + b);
        }
        e[k] = 0;
        if (k * 2 != hl) {
            fprintf(stderr, "%s:%zu: bad hex\n", path, lineno);
            free(e);
            continue;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 1024;
            *items = realloc(*items, *cap * sizeof **items);
        }
        (*items)[(*n)++] = (item_t){fastcost_key(e, flags), flags, e, 0};
    }
    free(line);
    fclose(fp);
    return 0;
}

/* Reads the entries of a table costtab wrote ("{0xKEY, USEC},"), to keep
 * their measurements; -1 if unreadable. */
static int read_table(const char *path, item_t **known, size_t *n)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        perror(path);
        return -1;
    }
    char line[256];
    size_t cap = 0;
    unsigned long long key;
    unsigned long usec;
    int version = 0; /* OLD's Vectorscan version is the loaded one */
    while (fgets(line, sizeof line, fp)) {
        const char *v = strstr(line, "fastcost_hs_version[] = \"");
        if (v) {
            v += strlen("fastcost_hs_version[] = \"");
            const char *q = strrchr(v, '"');
            version = q && (size_t)(q - v) == strlen(hs_version()) &&
                      !strncmp(v, hs_version(), (size_t)(q - v));
        }
        if (sscanf(line, " {0x%llxull, %lu}", &key, &usec) == 2 && key) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 512;
                *known = realloc(*known, cap * sizeof **known);
            }
            (*known)[(*n)++] = (item_t){key, 0, NULL, usec / 1e6};
        }
    }
    fclose(fp);
    if (!version) {
        fprintf(stderr, "%s: not measured with this Vectorscan (%s): measure afresh\n", path,
                hs_version());
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    item_t *known = NULL;
    size_t nknown = 0;
    int a = 1;
    if (argc > 2 && !strcmp(argv[1], "-k")) {
        if (read_table(argv[2], &known, &nknown) != 0)
            return 1;
        qsort(known, nknown, sizeof *known, by_key);
        a = 3;
    }
    if (argc <= a) {
        fprintf(stderr, "usage: costtab [-k OLD.inc] LOG... > rules/fastcost.inc\n"
                        "(-k: keep OLD's measurements, measure only what it lacks)\n");
        return 2;
    }
    item_t *items = NULL;
    size_t n = 0, cap = 0;
    for (int i = a; i < argc; i++)
        if (read_log(argv[i], &items, &n, &cap) != 0)
            return 1;
    qsort(items, n, sizeof *items, by_key);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u && items[u - 1].key == items[i].key) {
            free(items[i].expr);
            continue;
        }
        items[u++] = items[i];
    }
    n = u;
    double total = 0;
    size_t kept = 0;
    size_t reused = 0;
    for (size_t i = 0; i < n; i++) {
        item_t *k = nknown ? bsearch(&items[i], known, nknown, sizeof *known, by_key) : NULL;
        if (k) {
            items[i].secs = k->secs;
            reused++, kept++;
            continue;
        }
        double t[COSTTAB_RUNS];
        int runs = 1;
        t[0] = compile_once(items[i].expr, items[i].flags);
        /* one run of the slowest is enough: no bound lies near them */
        if (t[0] >= 0.003 && t[0] < 10.0)
            for (; runs < COSTTAB_RUNS; runs++)
                t[runs] = compile_once(items[i].expr, items[i].flags);
        qsort(t, (size_t)runs, sizeof *t, by_double);
        items[i].secs = t[runs / 2];
        total += t[0];
        kept += items[i].secs >= FASTCOST_STORE_S;
        if ((i + 1) % 200 == 0)
            fprintf(stderr, "costtab: %zu/%zu\n", i + 1, n);
    }
    printf("/* Generated by tests/bench/costtab (\"make costtab\"); do not edit.\n"
           " * %zu of %zu expressions (those of %.3f s or more), median CPU time of %d\n"
           " * compiles each, in microseconds. */\n",
           kept, n, FASTCOST_STORE_S, COSTTAB_RUNS);
    printf("static const char fastcost_hs_version[] = \"%s\";\n", hs_version());
    printf("static const fastcost_entry_t fastcost_table[] = {\n    {0, 0}, /* sentinel */\n");
    for (size_t i = 0; i < n; i++) {
        if (items[i].secs >= FASTCOST_STORE_S)
            printf("    {0x%016llxull, %lu},\n", (unsigned long long)items[i].key,
                   (unsigned long)(items[i].secs * 1e6 + 0.5));
        free(items[i].expr);
    }
    printf("};\n");
    free(items);
    free(known);
    fprintf(stderr, "costtab: %zu expressions, %zu in the table (%zu kept from -k), %.1f s of "
            "compiles once each\n", n, kept, reused, total);
    return 0;
}
