#include "fastprof.h"

#include <stdlib.h>

#include "util.h"

static int cmp_key_desc(const void *a, const void *b, void *key)
{
    double x = ((const double *)key)[*(const size_t *)a];
    double y = ((const double *)key)[*(const size_t *)b];
    return x < y ? 1 : x > y ? -1 : 0;
}

size_t *fastprof_order_desc(const double *key, size_t n)
{
    size_t *idx = tg_malloc((n ? n : 1) * sizeof *idx);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    qsort_r(idx, n, sizeof *idx, cmp_key_desc, (void *)key);
    return idx;
}

/* The top databases by scan time: what one scan of each costs where the
 * matcher runs it (its tables as cold as the other classes' scans left
 * them), per byte and per scan. */
static void db_table(FILE *out, const fast_t *f, const fast_profile_t *pr, double n, size_t top)
{
    size_t nk = fast_nclasses(f) * FAST_NDBS;
    size_t *idx = fastprof_order_desc(pr->db_ns, nk);
    fprintf(out, "%-26s %-10s %9s %9s %9s %8s %8s %8s\n", "database (by time)", "form", "db KB",
            "scans/msg", "B/scan", "us/msg", "ns/B", "us/scan");
    for (size_t k = 0; k < nk && k < top && pr->db_ns[idx[k]] > 0; k++) {
        size_t c = idx[k] / FAST_NDBS;
        int d = (int)(idx[k] % FAST_NDBS);
        fast_class_info_t ci;
        fast_class_info(f, c, &ci);
        double ns = pr->db_ns[idx[k]], sc = (double)pr->db_scans[idx[k]];
        double b = (double)pr->db_bytes[idx[k]];
        fprintf(out, "%-26.26s %-10s %9.1f %9.2f %9.0f %8.1f %8.1f %8.2f\n", ci.label,
                fast_db_name(d), ci.db_size[d] / 1024.0, sc / n, sc > 0 ? b / sc : 0,
                ns / 1e3 / n, b > 0 ? ns / b : 0, sc > 0 ? ns / 1e3 / sc : 0);
    }
    free(idx);
}

void fastprof_print(FILE *out, const fast_t *f, const fast_scratch_t *sc, size_t nmsgs,
                    size_t top_classes, size_t top_rules)
{
    fast_profile_t pr;
    fast_scratch_get_profile(sc, &pr);
    size_t nc = fast_nclasses(f);
    double n = nmsgs ? (double)nmsgs : 1, tot = 0;
    for (size_t c = 0; c < nc; c++)
        tot += pr.class_ns[c];
    if (tot <= 0)
        tot = 1;
    fprintf(out, "fast matcher, profiled (timer overhead included): %.3f ms per message over %zu\n",
            tot / 1e6 / n, nmsgs);
    double rest = tot - pr.path_ns[FAST_EXACT] - pr.path_ns[FAST_PREFILTER] - pr.path_ns[FAST_PCRE];
    fprintf(out, "by path: Vectorscan scans %.1f%%, PCRE2 confirms (prefilter, multiple) %.1f%%, "
                 "PCRE2-only %.1f%%, rest (header fetch, bookkeeping) %.1f%%\n",
            100 * pr.path_ns[FAST_EXACT] / tot, 100 * pr.path_ns[FAST_PREFILTER] / tot,
            100 * pr.path_ns[FAST_PCRE] / tot, 100 * rest / tot);
    size_t *idx = fastprof_order_desc(pr.class_ns, nc);
    fprintf(out, "%-34s %6s %5s %5s %5s %9s %6s %8s %8s\n", "class (by time)", "rules", "exact",
            "pref", "pcre", "db KB", "time%", "us/msg", "scan%");
    for (size_t k = 0; k < nc && k < top_classes; k++) {
        fast_class_info_t ci;
        fast_class_info(f, idx[k], &ci);
        double ct = pr.class_ns[idx[k]];
        fprintf(out, "%-34.34s %6zu %5zu %5zu %5zu %9.1f %5.1f%% %8.1f %7.1f%%\n", ci.label,
                ci.rules, ci.path[FAST_EXACT], ci.path[FAST_PREFILTER], ci.path[FAST_PCRE],
                ci.db_bytes / 1024.0, 100 * ct / tot, ct / 1e3 / n,
                ct > 0 ? 100 * pr.class_scan_ns[idx[k]] / ct : 0);
    }
    free(idx);
    db_table(out, f, &pr, n, top_classes);
    idx = fastprof_order_desc(pr.rule_ns, pr.nrules);
    static const char *const pn[] = {"exact", "prefilter", "pcre"};
    fprintf(out, "rules by PCRE2 time in the fast matcher (prefilter reports confirmed, "
                 "tflags multiple counted, PCRE2-only):\n");
    fprintf(out, "%-28s %-9s %8s %6s %10s %10s\n", "rule", "path", "us/msg", "time%", "reports",
            "confirmed");
    for (size_t k = 0; k < pr.nrules && k < top_rules && pr.rule_ns[idx[k]] > 0; k++) {
        size_t i = idx[k];
        fprintf(out, "%-28.28s %-9s %8.2f %5.1f%% %10lu %10lu\n", fast_rule_name(f, i),
                pn[fast_rule_path_at(f, i)], pr.rule_ns[i] / 1e3 / n, 100 * pr.rule_ns[i] / tot,
                pr.rule_cand[i], pr.rule_conf[i]);
    }
    free(idx);
    unsigned long rep = 0, conf = 0;
    for (size_t i = 0; i < pr.nrules; i++)
        if (fast_rule_path_at(f, i) == FAST_PREFILTER)
            rep += pr.rule_cand[i], conf += pr.rule_conf[i];
    fprintf(out, "prefilter reports: %lu, confirmed %lu (%.0f%% false); turned down by the chain "
                 "test without PCRE2: %lu\n", rep, conf,
            rep > conf ? 100.0 * (double)(rep - conf) / (double)rep : 0, pr.chain_rejected);
}
