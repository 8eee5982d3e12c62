/*
 * rules_bench — classification cost of the rule engine over a corpus:
 * the oracle (PCRE2 per rule) and the fast matcher (Vectorscan per field
 * class) in the same run.
 *
 *   rules_bench [-r RUNS] [--cache DIR] [--no-cold] [--versus DIR [--versus-env VAR=VALUE]]
 *               --rules PATH... DIR...
 *
 * Loads the rules with each matcher (fast: cold compile into a fresh cache
 * directory, then again from that cache), reads every *.eml under the
 * directories into memory, then RUNS times (default 3) parses each message
 * and runs rules_match_all with the oracle, parses it again and runs the
 * fast matcher (the oracle over a block of 200 messages, then the fast
 * matcher over the same block), timing parsing and each matcher
 * separately. Prints messages/s and MB/s
 * of the matchers alone and with parsing, the ratio, then one profiled
 * pass of the fast matcher: time per class and per path, per database
 * (what a scan costs where the matcher runs it: per byte, per scan), the
 * 20 most expensive rules, database sizes; and RSS. Figures, never pass/fail.
 * TG_BENCH_ALLCLASSES=1 lists every class in the oracle-against-fast
 * table (default: the 12 dearest, the rest summed) and every database in
 * the profile's (default: the 15 dearest). TG_BENCH_STEADY=W
 * adds RUNS passes where each matcher first runs untimed over the W
 * messages before each block (its own steady state, as in a daemon that
 * runs only it; in the blocked passes the fast matcher starts each block
 * right after the oracle's, which evicts its tables).
 * --versus DIR puts the fast matcher as routed in cache DIR where the
 * oracle goes (same blocks, same columns): an A/B of two routings in one
 * process, where the host's load moves both alike; --versus-env VAR=VALUE
 * sets VAR while that side loads, VAR= unsets it (a routing knob such as
 * TG_FAST_NOLFAUX=1, which is part of the cache key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "fast.h"
#include "hsscan.h"
#include "fastprof.h"
#include "corpus.h"
#include "msg.h"
#include "rules.h"
#include "util.h"

typedef struct { char *data; size_t len; } item_t;

/* Messages a matcher takes in a row in the timed passes (see there). */
#define BENCH_BLOCK 200

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

/* The median of the runs' ratios to[r] / tf[r] (runs <= 64). Each run
 * times both matchers in interleaved blocks, so its ratio pairs the same
 * stretch of the host's load; the ratio of the medians may pair an oracle
 * run from a busy minute with a fast run from a quiet one. */
static double median_ratio(const double *to, const double *tf, int runs)
{
    double q[64];
    for (int r = 0; r < runs; r++)
        q[r] = to[r] / tf[r];
    qsort(q, (size_t)runs, sizeof *q, cmp_d);
    return q[runs / 2];
}

/* VmRSS / VmHWM in MB from /proc/self/status (0 if unavailable). */
static double proc_mb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double v = 0;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':')
            v = atof(line + kl + 1) / 1024.0;
    if (f)
        fclose(f);
    return v;
}

static rules_t *load(const char *const *paths, size_t npaths, rules_matcher_t mt,
                     const char *cache, double *secs)
{
    rules_options_t o = {.matcher = mt, .cache_dir = cache};
    char err[1024];
    rules_t *rs;
    double t0 = now();
    if (rules_load(paths, npaths, &o, &rs, err, sizeof err) < 0) {
        fprintf(stderr, "rules_bench: %s\n", err);
        exit(1);
    }
    *secs = now() - t0;
    return rs;
}

/* Where the ratio stands class by class: the profiled pass's oracle time
 * per rule (oracle_ns, by value slot) summed over each fast class's rules,
 * against the fast matcher's time for the class (pr). Both profiles
 * include their timer overhead. The oracle's rules outside the fast
 * matcher (exists:, envelope, eval ...) run the same way in both. */
static void class_table(const rules_t *rs, const fast_t *f, const double *oracle_ns,
                        const fast_profile_t *pr, size_t nslots, size_t nmsgs)
{
    size_t nc = fast_nclasses(f);
    if (!oracle_ns || !nc)
        return;
    double *o = tg_calloc(nc, sizeof *o), in_fast = 0, all = 0, fast_all = 0;
    double *out = tg_calloc(nslots + 1, sizeof *out); /* the rules outside it */
    memcpy(out, oracle_ns, nslots * sizeof *out);
    for (size_t i = 0; i < pr->nrules; i++) {
        size_t slot = fast_rule_slot(f, i);
        if (slot < nslots) {
            o[fast_rule_class(f, i)] += oracle_ns[slot];
            out[slot] = 0;
        }
    }
    for (size_t c = 0; c < nc; c++) {
        in_fast += o[c];
        fast_all += pr->class_ns[c];
    }
    for (size_t s = 0; s < nslots; s++)
        all += oracle_ns[s];
    size_t *rk = fastprof_order_desc(o, nc);
    double n = nmsgs ? (double)nmsgs : 1;
    printf("\nby class, oracle against fast (the profiled pass, us a message):\n");
    printf("%-34s %6s %10s %10s %7s\n", "class (by oracle time)", "rules", "oracle", "fast",
           "ratio");
    size_t shown = getenv("TG_BENCH_ALLCLASSES") ? nc : nc < 12 ? nc : 12;
    double ro = 0, rf = 0, rr = 0;
    for (size_t k = 0; k < nc; k++) {
        fast_class_info_t ci;
        fast_class_info(f, rk[k], &ci);
        double fo = pr->class_ns[rk[k]];
        if (k >= shown) {
            ro += o[rk[k]], rf += fo, rr += (double)ci.rules;
            continue;
        }
        printf("%-34.34s %6zu %10.1f %10.1f %6.1fx\n", ci.label, ci.rules, o[rk[k]] / 1e3 / n,
               fo / 1e3 / n, fo > 0 ? o[rk[k]] / fo : 0);
    }
    if (nc > shown) {
        char lab[64];
        snprintf(lab, sizeof lab, "the other %zu classes", nc - shown);
        printf("%-34s %6.0f %10.1f %10.1f %6.1fx\n", lab, rr, ro / 1e3 / n, rf / 1e3 / n,
               rf > 0 ? ro / rf : 0);
    }
    printf("%-34s %6s %10.1f %10.1f %6.1fx\n", "all classes", "", in_fast / 1e3 / n,
           fast_all / 1e3 / n, fast_all > 0 ? in_fast / fast_all : 0);
    printf("rules outside the fast matcher (exists:, envelope, size ...), run alike by both: "
           "%.1f us a message\n", (all - in_fast) / 1e3 / n);
    /* the dearest of those, by the oracle's profile */
    size_t *order = fastprof_order_desc(out, nslots);
    printf("  dearest:");
    for (size_t k = 0; k < 8 && k < nslots && out[order[k]] > 0; k++)
        printf(" %s %.2f", rules_name(rs, order[k]), out[order[k]] / 1e3 / n);
    printf(" (us a message)\n");
    free(order);
    free(out);
    free(o);
    free(rk);
}

/* Empties rs's scan memo (fastmemo.h), if rs is a fast ruleset: every
 * timed pass starts with it empty, as a daemon does, and fills it only
 * from the messages before, in corpus order. */
static void memo_clear(const rules_t *rs)
{
    const fast_t *f = rules_get_fast(rs);
    if (f)
        fast_memo_clear(f);
}

/* Turns the scan memo on or off for sc, if it has a fast scratch. */
static void scratch_memo(rules_scratch_t *sc, int on)
{
    if (rules_scratch_get_fast(sc))
        fast_scratch_memo(rules_scratch_get_fast(sc), on);
}

/* Each matcher with its code and tables warm: every message matched twice
 * in a row, the second timed. Against the timed passes (each message
 * once), the difference is what cache misses cost. */
static void warm_pass(const rules_t *ro, rules_scratch_t *so, const rules_t *rf,
                      rules_scratch_t *sf, const item_t *items, size_t n, double *vo, double *vf)
{
    double t[2] = {0, 0};
    rules_scratch_profile(so, 0);
    fast_scratch_profile(rules_scratch_get_fast(sf), 0);
    /* without the scan memo, which would replay every scan of the second */
    scratch_memo(so, 0);
    scratch_memo(sf, 0);
    for (int pass = 0; pass < 2; pass++) {
        const rules_t *rs = pass ? rf : ro;
        rules_scratch_t *sc = pass ? sf : so;
        double *vals = pass ? vf : vo;
        for (size_t i = 0; i < n; i++) {
            msg_t *m = msg_new(NULL);
            msg_feed(m, items[i].data, items[i].len);
            msg_finish(m);
            rules_match_all(rs, sc, m, NULL, vals);
            double a = now();
            rules_match_all(rs, sc, m, NULL, vals);
            t[pass] += now() - a;
            msg_free(m);
        }
    }
    scratch_memo(so, 1);
    scratch_memo(sf, 1);
    printf("warm (each message matched twice in a row, the second timed, scan memo off): "
           "oracle %.3f ms, "
           "fast %.3f ms a message, %.1fx\n", 1e3 * t[0] / (double)n, 1e3 * t[1] / (double)n,
           t[1] > 0 ? t[0] / t[1] : 0);
}

/* One matcher over messages [from, from + count) of the corpus (wrapping
 * round), freshly parsed; the matching time, in seconds. */
static double run_span(const rules_t *rs, rules_scratch_t *sc, const item_t *items, size_t n,
                       size_t from, size_t count, double *vals)
{
    double t = 0;
    for (size_t k = 0; k < count; k++) {
        const item_t *it = &items[(from + k) % n];
        msg_t *m = msg_new(NULL);
        msg_feed(m, it->data, it->len);
        msg_finish(m);
        double a = now();
        rules_match_all(rs, sc, m, NULL, vals);
        t += now() - a;
        msg_free(m);
    }
    return t;
}

/* The timed passes again, each matcher in its own steady state: before
 * timing a matcher over a block, it runs untimed over the `warmup`
 * messages before that block, so the block starts with that matcher's
 * code and tables in the caches as in a daemon that runs only it, instead
 * of after the other matcher's block (which evicts them). Medians of
 * `runs` passes. */
static void steady_passes(const rules_t *ro, rules_scratch_t *so, const rules_t *rf,
                          rules_scratch_t *sf, const item_t *items, size_t n, double *vo,
                          double *vf, size_t warmup, int runs)
{
    double *to = tg_calloc((size_t)runs, sizeof *to), *tf = tg_calloc((size_t)runs, sizeof *tf);
    printf("steady (each matcher first runs untimed over the %zu messages before the block):",
           warmup);
    for (int r = 0; r < runs; r++) {
        memo_clear(ro);
        memo_clear(rf);
        for (size_t b0 = 0; b0 < n; b0 += BENCH_BLOCK) {
            size_t len = n - b0 < BENCH_BLOCK ? n - b0 : BENCH_BLOCK;
            size_t w0 = (b0 + n - warmup % n) % n;
            run_span(ro, so, items, n, w0, warmup, vo);
            to[r] += run_span(ro, so, items, n, b0, len, vo);
            run_span(rf, sf, items, n, w0, warmup, vf);
            tf[r] += run_span(rf, sf, items, n, b0, len, vf);
        }
        printf(" %.1fx", to[r] / tf[r]);
    }
    double mr = median_ratio(to, tf, runs);
    qsort(to, (size_t)runs, sizeof *to, cmp_d);
    qsort(tf, (size_t)runs, sizeof *tf, cmp_d);
    double O = to[runs / 2], F = tf[runs / 2];
    printf("; median oracle %.3f ms, fast %.3f ms a message, %.1fx (median of the runs' "
           "ratios %.1fx)\n", 1e3 * O / (double)n, 1e3 * F / (double)n, O / F, mr);
    free(to);
    free(tf);
}

int main(int argc, char **argv)
{
    const char *paths[64];
    size_t npaths = 0;
    int runs = 3, cold = 1;
    const char *cache = NULL, *versus = NULL, *versus_env = NULL;
    item_t *items = NULL;
    size_t n = 0, cap = 0, bytes = 0;
    char err[1024];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rules") && i + 1 < argc && npaths < 64) {
            paths[npaths++] = argv[++i];
        } else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--cache") && i + 1 < argc) {
            cache = argv[++i];
        } else if (!strcmp(argv[i], "--no-cold")) {
            cold = 0;
        } else if (!strcmp(argv[i], "--versus") && i + 1 < argc) {
            versus = argv[++i];
        } else if (!strcmp(argv[i], "--versus-env") && i + 1 < argc && strchr(argv[i + 1], '=')) {
            versus_env = argv[++i];
        } else {
            char **files = NULL;
            size_t nf = 0, fcap = 0;
            if (corpus_add(argv[i], &files, &nf, &fcap) < 0) {
                fprintf(stderr, "rules_bench: %s: cannot open\n", argv[i]);
                return 1;
            }
            for (size_t k = 0; k < nf; k++) {
                tg_grow(&items, &cap, n + 1, sizeof *items);
                if (tg_read_file(files[k], &items[n].data, &items[n].len, err, sizeof err) == 0)
                    bytes += items[n++].len;
                free(files[k]);
            }
            free(files);
        }
    }
    if (!npaths || !n || runs < 1 || runs > 64) {
        fprintf(stderr, "usage: rules_bench [-r RUNS (1-64)] [--cache DIR] [--no-cold] [--versus DIR "
                        "[--versus-env VAR=VALUE]] --rules PATH... DIR...\n");
        return 2;
    }
    char tmpcache[] = "/tmp/tollgate-bench-cache.XXXXXX";
    if (!cache) {
        if (!mkdtemp(tmpcache)) {
            perror("mkdtemp");
            return 1;
        }
        cache = tmpcache;
    }
    double rss0 = proc_mb("VmRSS");
    double t_cold = -1, t_cached, t_oracle;
    rules_t *rf;
    if (cold) {
        rf = load(paths, npaths, RULES_MATCHER_FAST, cache, &t_cold);
        rules_unref(rf);
    }
    rf = load(paths, npaths, RULES_MATCHER_FAST, cache, &t_cached);
    double rss_fast = proc_mb("VmRSS") - rss0;
    /* --versus DIR: the "oracle" side is the fast matcher as routed in
     * cache DIR (an A/B of two routings, block by block as against the
     * oracle; the class table's oracle column is then empty), with
     * --versus-env's routing knob (TG_FAST_NOLFAUX=1 ...) set, or taken
     * away by VAR=, for that side's load alone */
    char *venv = versus_env ? tg_strdup(versus_env) : NULL, *vold = NULL;
    if (venv) {
        *strchr(venv, '=') = 0;
        const char *val = venv + strlen(venv) + 1, *o = getenv(venv);
        vold = o ? tg_strdup(o) : NULL;
        if (*val)
            setenv(venv, val, 1);
        else
            unsetenv(venv);
    }
    rules_t *ro = versus ? load(paths, npaths, RULES_MATCHER_FAST, versus, &t_oracle)
                         : load(paths, npaths, RULES_MATCHER_ORACLE, NULL, &t_oracle);
    if (venv && vold)
        setenv(venv, vold, 1);
    else if (venv)
        unsetenv(venv);
    free(venv);
    free(vold);
    if (versus)
        printf("--versus %s: the oracle columns are the fast matcher from that cache\n", versus);
    const rules_info_t *in = rules_get_info(ro);
    const fast_t *f = rules_get_fast(rf);
    const fast_build_info_t *fi = fast_get_info(f);
    printf("rules: %zu loaded (%zu regex, %zu meta)\n", in->loaded, in->loaded_regex,
           in->loaded_meta);
    printf("load: oracle %.3f s; fast cold compile %s%.3f s, from cache %.3f s "
           "(cache: %zu hits, %zu misses)\n", t_oracle, t_cold < 0 ? "(skipped) " : "",
           t_cold < 0 ? 0 : t_cold, t_cached, fi->cache_hits, fi->cache_misses);
    printf("fast: %zu regex rules in %zu classes, %zu databases, %.1f MB of databases "
           "(Vectorscan code: %s)\n",
           fi->rules, fi->classes, fi->databases, fi->db_bytes / 1e6, hsscan_variant());
    if (hsscan_warning())
        printf("warning: %s\n", hsscan_warning());
    printf("      paths: %zu exact, %zu prefilter+confirm (of which %zu confirmed at the starts "
           "of their matches, %zu after a chain test, %zu fed by another rule's expression, "
           "%zu found on squashed text first, %zu confirmed on the lines they pair), "
           "%zu PCRE2-only (of which on ASCII text %zu in a database, %zu known not to match; "
           "on other text %zu prefiltered; %zu told by line lengths, %zu pairing two lines "
           "matched on those lines alone); %zu tflags multiple; %zu with a line lookahead "
           "answered in C\n",
           fi->path[FAST_EXACT], fi->path[FAST_PREFILTER], fi->starts, fi->chains, fi->fed,
           fi->squashed, fi->walk_confirms,
           fi->path[FAST_PCRE], fi->ascii_db, fi->ascii_never, fi->full_prefilter,
           fi->line_runs, fi->line_walks, fi->multiple, fi->line_aheads);
    if (fi->cache_misses)
        printf("      routing (cold compile): Latin-1 /i spelt out %zu, approximated %zu, not "
               "followed %zu; nested repeats confirmed %zu; relaxed counts %zu (for scan speed "
               "%zu); in a second database %zu (literal-free %zu); to PCRE2: too slow %zu, "
               "always-firing prefilter %zu, cheaper over whole messages %zu; reported at n "
               "distinct ends %zu; compile times timed here, not in the fastcost table %zu\n",
               fi->latin1_exact, fi->latin1_rewritten, fi->latin1_fold, fi->nested_repeat,
               fi->relaxed, fi->relaxed_scan, fi->aux, fi->literal_free, fi->slow_compile,
               fi->always_firing, fi->pcre_cheaper, fi->min_ends, fi->cost_timed);
    printf("      RSS added by the fast ruleset (from cache): %.1f MB\n", rss_fast);
    printf("corpus: %zu messages, %.1f MB\n", n, bytes / 1e6);

    size_t nr = rules_count(ro);
    double *vo = tg_calloc(nr + 1, sizeof *vo), *vf = tg_calloc(nr + 1, sizeof *vf);
    rules_scratch_t *so = rules_scratch_new(ro), *sf = rules_scratch_new(rf);
    double *tp = tg_malloc((size_t)runs * sizeof *tp), *to = tg_malloc((size_t)runs * sizeof *to);
    double *tf = tg_malloc((size_t)runs * sizeof *tf);
    size_t mism = 0;
    printf("\n%-6s %9s | %11s %9s | %11s %9s | %7s | %s\n", "run", "parse s", "oracle m/s",
           "MB/s", "fast m/s", "MB/s", "ratio", "with parsing: oracle / fast m/s, ratio");
    /* Untimed: both matchers on each message, values compared; twice, the
     * second time with the scan memo holding most strings from the first. */
    for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < n; i++) {
        msg_t *m = msg_new(NULL);
        msg_feed(m, items[i].data, items[i].len);
        msg_finish(m);
        rules_match_all(ro, so, m, NULL, vo);
        rules_match_all(rf, sf, m, NULL, vf);
        mism += memcmp(vo, vf, nr * sizeof *vo) != 0;
        msg_free(m);
    }
    /* Timed: each matcher over freshly parsed messages, as the daemon runs
     * it: neither finds the message's lazily built views (body lines, URIs,
     * decoded headers) made by the other. The corpus goes in blocks of
     * BENCH_BLOCK messages, the oracle over a block then the fast matcher
     * over the same block: both sample the same stretch of a shared,
     * noisy host (a pass of the oracle takes some ten seconds, and with
     * whole passes one after the other the ratio of a pass moved by 30%
     * with the host's load), while within a block each runs message after
     * message with its own code and tables in the caches (only a block's
     * first messages find the other's there). The last pass is the
     * profiled one. */
    fast_profile_t p0 = {0}; /* the memo's counters before the last pass */
    for (int r = 0; r <= runs; r++) {
        int prof = r == runs; /* last pass: profiled, not counted */
        if (prof)
            fast_scratch_get_profile(rules_scratch_get_fast(sf), &p0);
        double P = 0, O = 0, F = 0;
        if (prof)
            rules_scratch_profile(so, 1);
        memo_clear(ro);
        memo_clear(rf);
        for (size_t b0 = 0; b0 < n; b0 += BENCH_BLOCK)
        for (int pass = 0; pass < 2; pass++) {
            const rules_t *rs = pass ? rf : ro;
            rules_scratch_t *sc = pass ? sf : so;
            double *vals = pass ? vf : vo;
            for (size_t i = b0; i < n && i < b0 + BENCH_BLOCK; i++) {
                double a = now();
                msg_t *m = msg_new(NULL);
                msg_feed(m, items[i].data, items[i].len);
                msg_finish(m);
                double b = now();
                if (prof && i == 0 && pass)
                    fast_scratch_profile(rules_scratch_get_fast(sf), 1);
                rules_match_all(rs, sc, m, NULL, vals);
                double c = now();
                if (pass)
                    P += b - a, F += c - b;
                else
                    O += c - b;
                msg_free(m);
            }
        }
        if (prof)
            break;
        tp[r] = P, to[r] = O, tf[r] = F;
        printf("%-6d %9.3f | %11.0f %9.2f | %11.0f %9.2f | %6.1fx | %.0f / %.0f, %.1fx\n",
               r + 1, P, n / O, bytes / 1e6 / O, n / F, bytes / 1e6 / F, O / F, n / (P + O),
               n / (P + F), (P + O) / (P + F));
    }
    double mr = median_ratio(to, tf, runs);
    qsort(tp, (size_t)runs, sizeof *tp, cmp_d);
    qsort(to, (size_t)runs, sizeof *to, cmp_d);
    qsort(tf, (size_t)runs, sizeof *tf, cmp_d);
    double P = tp[runs / 2], O = to[runs / 2], F = tf[runs / 2];
    printf("%-6s %9.3f | %11.0f %9.2f | %11.0f %9.2f | %6.1fx | %.0f / %.0f, %.1fx\n", "median",
           P, n / O, bytes / 1e6 / O, n / F, bytes / 1e6 / F, O / F, n / (P + O), n / (P + F),
           (P + O) / (P + F));
    printf("median of the runs' ratios (each run's pair timed in the same blocks): %.1fx; "
           "the median row is the ratio of the medians\n", mr);
    printf("per message: parse %.3f ms, oracle match %.3f ms, fast match %.3f ms\n",
           1e3 * P / n, 1e3 * O / n, 1e3 * F / n);
    printf("messages whose values differ between the matchers: %zu (in two untimed passes, the "
           "second with the scan memo full; the differential test asserts 0)\n", mism);

    /* the profiled pass */
    printf("\n");
    fastprof_print(stdout, f, rules_scratch_get_fast(sf), n,
                   getenv("TG_BENCH_ALLCLASSES") ? (size_t)-1 : 15, 20);
    /* What bounds the ratio: the scans alone, were PCRE2 and bookkeeping free. */
    fast_profile_t pr;
    fast_scratch_get_profile(rules_scratch_get_fast(sf), &pr);
    if (fi->memo_slots) {
        double hs = (double)(pr.memo_hits - p0.memo_hits);
        double ms = (double)(pr.memo_misses - p0.memo_misses);
        double hb = (double)(pr.memo_hit_bytes - p0.memo_hit_bytes);
        double mb = (double)(pr.memo_miss_bytes - p0.memo_miss_bytes);
        printf("scan memo (%zu slots, empty at the start of each pass): in the profiled pass "
               "%.0f of %.0f strings (%.1f%%), %.1f%% of their bytes, replayed an earlier "
               "message's scan reports, and %.2f PCRE2 outcomes a message with them\n",
               fi->memo_slots, hs, hs + ms,
               hs + ms > 0 ? 100 * hs / (hs + ms) : 0, hb + mb > 0 ? 100 * hb / (hb + mb) : 0,
               (double)(pr.memo_outcomes - p0.memo_outcomes) / (double)n);
    } else {
        printf("scan memo: off (TG_FAST_NOMEMO)\n");
    }
    double scan_ms = pr.path_ns[FAST_EXACT] / 1e6 / (double)n;
    if (scan_ms > 0)
        printf("ceiling: the Vectorscan scans alone take %.3f ms a message (profiled), so with "
               "no PCRE2 runs and no bookkeeping at all the fast matcher would reach %.1fx the "
               "oracle (%.3f ms)\n", scan_ms, 1e3 * O / n / scan_ms, 1e3 * O / n);
    if (!versus)
        class_table(ro, f, rules_scratch_rule_ns(so), &pr, nr, n);
    warm_pass(ro, so, rf, sf, items, n, vo, vf);
    if (getenv("TG_BENCH_STEADY"))
        steady_passes(ro, so, rf, sf, items, n, vo, vf, (size_t)atol(getenv("TG_BENCH_STEADY")),
                      runs);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("\npeak RSS of this process (corpus in memory, both rulesets): %.1f MB\n",
           ru.ru_maxrss / 1024.0);
    rules_scratch_free(so);
    rules_scratch_free(sf);
    rules_unref(ro);
    rules_unref(rf);
    if (cache == tmpcache) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpcache);
        if (system(cmd) != 0)
            fprintf(stderr, "rules_bench: could not remove %s\n", tmpcache);
    }
    for (size_t i = 0; i < n; i++)
        free(items[i].data);
    free(items);
    free(vo);
    free(vf);
    free(tp);
    free(to);
    free(tf);
    return 0;
}
