/*
 * dbcost — what each expression of one Vectorscan database costs a scan.
 *
 *   dbcost [-r RUNS] [--top N] [--class LABEL] [--db N] [--whole] [--curve]
 *          DUMP DIR...
 *
 * DUMP is what a cold compile wrote with TG_FAST_DUMP=DUMP (fast.c: class,
 * database, id, flags, rule, expression a line). The strings are the ones
 * the matcher scans that database with, from the messages of DIR... (files
 * or directories of *.eml): the body lines, rawbody chunks or URIs of each
 * message (classes body, rawbody, uri only); those without bytes >= 0x80
 * for an ASCII database (--db 2, 3), the others for a full-form one (0, 1)
 * -- so a full-form database that has an ASCII twin gets only the
 * non-ASCII strings, as in the matcher. Default: class body, database 2
 * (its main ASCII database), 3 runs, top 25.
 *
 * Prints the whole database's scan time over all the strings (one pass,
 * string after string, minimum of RUNS), then each expression compiled
 * alone, dearest first, with its PCRE2 JIT time on the same strings (its
 * flags carried over; "-" where PCRE2 refuses the Vectorscan syntax), then
 * the database without the top N and the top N alone; --curve adds the
 * database without the top 25, 50, 100, 200, 400 (where the cost sits:
 * on the SpamAssassin rules the dearest 100 of some 555 make three quarters of
 * it). --whole stops after the whole database's time (to compare variants
 * of a dump quickly). Times are passes over
 * the whole corpus, caches warm: they rank, they are not the matcher's
 * per-message figures (rules_bench gives those). Figures only.
 */
#include <hs/hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "corpus.h"
#include "msg.h"
#include "hsscan.h"
#include "util.h"

typedef struct expr {
    unsigned flags;
    char *name, *text;      /* owned */
    double solo_ms, pcre_ms;
    unsigned long reports;
} expr_t;

typedef struct str {
    char *s;                /* owned */
    size_t len;
} str_t;

static str_t *str;          /* the strings scanned */
static size_t nstr, nbytes;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int on_report(unsigned id, unsigned long long from, unsigned long long to,
                     unsigned flags, void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags;
    ++*(unsigned long *)ctx;
    return 0;
}

/* Compiles exprs[which[0..n)] into one database; NULL (message on stderr)
 * if Vectorscan refuses. */
static hs_database_t *compile(const expr_t *ex, const size_t *which, size_t n)
{
    const char **e = tg_calloc(n + 1, sizeof *e);
    unsigned *fl = tg_calloc(n + 1, sizeof *fl), *ids = tg_calloc(n + 1, sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        e[i] = ex[which[i]].text;
        fl[i] = ex[which[i]].flags;
        ids[i] = (unsigned)i;
    }
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    if (hs_compile_multi(e, fl, ids, (unsigned)n, HS_MODE_BLOCK, hsscan_platform(), &db, &ce) !=
        HS_SUCCESS) {
        fprintf(stderr, "dbcost: compile: %s\n", ce && ce->message ? ce->message : "?");
        hs_free_compile_error(ce);
        db = NULL;
    }
    free(e);
    free(fl);
    free(ids);
    return db;
}

/* Minimum over runs of one pass of db over every string, in ms; with
 * fixed != NULL, of nstr scans of the same len bytes instead (the cost a
 * scan pays whatever its length: --overhead). */
static double time_scans(const hs_database_t *db, int runs, unsigned long *reports,
                         const char *fixed, size_t len)
{
    hs_scratch_t *sc = NULL;
    if (hs_alloc_scratch(db, &sc) != HS_SUCCESS)
        return -1;
    double best = -1;
    for (int r = 0; r < runs; r++) {
        unsigned long n = 0;
        double t0 = now_s();
        for (size_t i = 0; i < nstr; i++)
            hsscan(db, fixed ? fixed : str[i].s, (unsigned)(fixed ? len : str[i].len), sc,
                   on_report, &n);
        double t = (now_s() - t0) * 1e3;
        if (best < 0 || t < best)
            best = t;
        *reports = n;
    }
    hs_free_scratch(sc);
    return best;
}

static size_t last_size; /* hs_database_size of time_set's last database */

/* Compiles exprs[which[0..n)] and times a pass (time_scans); the
 * database is freed, or handed to *keep (caller frees) if keep != NULL. */
static double time_set(const expr_t *ex, const size_t *which, size_t n, int runs,
                       unsigned long *reports, hs_database_t **keep)
{
    hs_database_t *db = n ? compile(ex, which, n) : NULL;
    double t = db ? time_scans(db, runs, reports, NULL, 0) : -1;
    last_size = 0;
    if (db)
        hs_database_size(db, &last_size);
    if (keep)
        *keep = db;
    else
        hs_free_database(db);
    return t;
}

/* PCRE2 JIT over every string, in ms; -1 if PCRE2 refuses the text. */
static double time_pcre(const expr_t *e, int runs)
{
    uint32_t o = (e->flags & HS_FLAG_CASELESS ? PCRE2_CASELESS : 0) |
                 (e->flags & HS_FLAG_DOTALL ? PCRE2_DOTALL : 0) |
                 (e->flags & HS_FLAG_MULTILINE ? PCRE2_MULTILINE : 0) |
                 (e->flags & HS_FLAG_UTF8 ? PCRE2_UTF : 0);
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)e->text, PCRE2_ZERO_TERMINATED, o, &err, &off,
                                   NULL);
    if (!re)
        return -1;
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    double best = -1;
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        for (size_t i = 0; i < nstr; i++)
            pcre2_match(re, (PCRE2_SPTR)str[i].s, str[i].len, 0, 0, md, NULL);
        double t = (now_s() - t0) * 1e3;
        if (best < 0 || t < best)
            best = t;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return best;
}

static int by_solo_desc(const void *a, const void *b, void *arg)
{
    const expr_t *ex = arg;
    double x = ex[*(const size_t *)a].solo_ms, y = ex[*(const size_t *)b].solo_ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: dbcost [-r RUNS] [--top N] [--class body|rawbody|uri] [--db 0-3] "
                    "[--whole] [--curve] [--overhead] DUMP DIR...\n");
    exit(2);
}

/* Adds the strings of message file path that the database scans. */
static void add_strings(const char *path, const char *cls, int ascii_db)
{
    size_t len;
    char *data, err[256];
    if (tg_read_file(path, &data, &len, err, sizeof err) < 0) {
        fprintf(stderr, "dbcost: %s\n", err);
        return;
    }
    msg_t *m = msg_new(NULL);
    msg_feed(m, data, len);
    msg_finish(m);
    size_t n;
    const msg_str_t *a = !strcmp(cls, "body") ? msg_body_lines(m, &n)
                       : !strcmp(cls, "rawbody") ? msg_rawbody_chunks(m, &n) : msg_uris(m, &n);
    static size_t cap;
    for (size_t j = 0; j < n; j++) {
        if (tg_is_ascii(a[j].ptr, a[j].len) != ascii_db)
            continue;
        tg_grow(&str, &cap, nstr + 1, sizeof *str);
        str[nstr].s = tg_strndup(a[j].ptr, a[j].len);
        str[nstr++].len = a[j].len;
        nbytes += a[j].len;
    }
    msg_free(m);
    free(data);
}

int main(int argc, char **argv)
{
    int runs = 3, db = 2;
    size_t top = 25;
    int whole_only = 0, curve = 0, overhead = 0;
    const char *cls = "body";
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-r") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--top") && i + 1 < argc)
            top = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--class") && i + 1 < argc)
            cls = argv[++i];
        else if (!strcmp(argv[i], "--db") && i + 1 < argc)
            db = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--whole"))
            whole_only = 1;
        else if (!strcmp(argv[i], "--curve"))
            curve = 1;
        else if (!strcmp(argv[i], "--overhead"))
            overhead = 1;
        else
            usage();
    }
    if (argc - i < 2 || runs < 1 || db < 0 || db > 3 ||
        (strcmp(cls, "body") && strcmp(cls, "rawbody") && strcmp(cls, "uri")))
        usage();

    FILE *f = fopen(argv[i], "r");
    if (!f) {
        fprintf(stderr, "dbcost: %s: cannot open\n", argv[i]);
        return 1;
    }
    expr_t *ex = NULL;
    size_t nex = 0, excap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    while ((got = getline(&line, &lcap, f)) > 0) {
        if (line[got - 1] == '\n')
            line[got - 1] = 0;
        char *field[6], *p = line;
        int k = 0;
        for (; k < 5 && p; k++) {
            field[k] = p;
            p = strchr(p, '\t');
            if (p)
                *p++ = 0;
        }
        if (k < 5 || !p)
            continue;
        field[5] = p; /* the expression may hold tabs */
        if (strcmp(field[0], cls) || atoi(field[1]) != db)
            continue;
        tg_grow(&ex, &excap, nex + 1, sizeof *ex);
        ex[nex] = (expr_t){.flags = (unsigned)strtoul(field[3], NULL, 10),
                           .name = tg_strdup(field[4]), .text = tg_strdup(field[5])};
        nex++;
    }
    free(line);
    fclose(f);
    if (!nex) {
        fprintf(stderr, "dbcost: no expressions of class %s, database %d in %s\n", cls, db,
                argv[i]);
        return 1;
    }

    char **files = NULL;
    size_t nf = 0, fcap = 0;
    for (int k = i + 1; k < argc; k++)
        if (corpus_add(argv[k], &files, &nf, &fcap) < 0) {
            fprintf(stderr, "dbcost: %s: cannot open\n", argv[k]);
            return 1;
        }
    for (size_t k = 0; k < nf; k++)
        add_strings(files[k], cls, db >= 2);
    printf("class %s, database %d: %zu expressions; %zu messages, %zu %s strings, %.2f MB\n",
           cls, db, nex, nf, nstr, db >= 2 ? "ASCII" : "non-ASCII", nbytes / 1e6);

    size_t *all = tg_calloc(nex, sizeof *all);
    for (size_t k = 0; k < nex; k++)
        all[k] = k;
    unsigned long rep = 0;
    hs_database_t *w = NULL;
    double whole = time_set(ex, all, nex, runs, &rep, &w);
    printf("whole database: %.1f ms a pass, %.1f MB/s, %lu reports, %.1f MB\n", whole,
           whole > 0 ? nbytes / 1e3 / whole : 0, rep, last_size / 1e6);
    static const char *const fill[] = {"", "x", "hello world, this is a line."};
    for (size_t k = 0; overhead && w && k < sizeof fill / sizeof *fill; k++) {
        unsigned long r = 0;
        double t = time_scans(w, runs, &r, fill[k], strlen(fill[k]));
        printf("the same %zu-byte string %zu times: %.1f ms, %.3f us a scan\n",
               strlen(fill[k]), nstr, t, t * 1e3 / (double)nstr);
    }
    if (w)
        hs_free_database(w);
    if (whole_only)
        return 0;

    double sum = 0;
    for (size_t k = 0; k < nex; k++) {
        size_t one = k;
        ex[k].solo_ms = time_set(ex, &one, 1, runs, &ex[k].reports, NULL);
        ex[k].pcre_ms = time_pcre(&ex[k], runs);
        sum += ex[k].solo_ms > 0 ? ex[k].solo_ms : 0;
    }
    size_t *order = tg_calloc(nex, sizeof *order);
    memcpy(order, all, nex * sizeof *order);
    qsort_r(order, nex, sizeof *order, by_solo_desc, ex);
    printf("each alone: %.1f ms in sum (the whole database shares work: %.2f of the sum)\n",
           sum, sum > 0 ? whole / sum : 0);
    printf("%-4s %-32s %9s %9s %9s\n", "rank", "rule", "alone ms", "PCRE2 ms", "reports");
    if (top > nex)
        top = nex;
    for (size_t k = 0; k < top; k++) {
        const expr_t *e = &ex[order[k]];
        char pc[32];
        if (e->pcre_ms < 0)
            snprintf(pc, sizeof pc, "-");
        else
            snprintf(pc, sizeof pc, "%.2f", e->pcre_ms);
        printf("%-4zu %-32s %9.2f %9s %9lu\n", k + 1, e->name, e->solo_ms, pc, e->reports);
    }
    double head = time_set(ex, order, top, runs, &rep, NULL);
    double rest = time_set(ex, order + top, nex - top, runs, &rep, NULL);
    printf("the top %zu alone: %.1f ms; the other %zu: %.1f ms; together (above): %.1f ms\n",
           top, head, nex - top, rest, whole);
    static const size_t cut[] = {25, 50, 100, 200, 400};
    for (size_t q = 0; curve && q < sizeof cut / sizeof *cut && cut[q] < nex; q++) {
        double r = time_set(ex, order + cut[q], nex - cut[q], runs, &rep, NULL);
        printf("without the top %zu: %.1f ms (%.0f%% of the whole), %zu expressions\n", cut[q], r,
               whole > 0 ? 100 * r / whole : 0, nex - cut[q]);
    }
    return 0;
}
