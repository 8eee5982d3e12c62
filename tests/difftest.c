/*
 * difftest — the differential test of the fast matcher against the oracle.
 *
 *   difftest [--cache DIR] [--env] --rules PATH... FILE.eml|DIR...
 *
 * Loads the rules twice (oracle: PCRE2 per rule; fast: Vectorscan per
 * field class), runs rules_match_all with both over every message and
 * compares the whole values array (every rule incl. __ sub-rules, counts
 * of tflags multiple rules, metas). --env also sets a fixed envelope so
 * the envelope classes run. Then the fast matcher runs over every message
 * again, twice in a row, each compared with the oracle's values of the
 * first pass: the second match finds every string the scan memo
 * (fastmemo.h) keeps in it, so replayed reports are checked on all of
 * them (the first pass replays only the strings an earlier message had).
 * Prints the first mismatches and a summary; exits 1 on any mismatch, 2 on
 * usage or load errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fast.h"
#include "corpus.h"
#include "msg.h"
#include "rules.h"
#include "util.h"

/* Reads and parses file (with env's envelope sender if use_env): the
 * message, or NULL with err set. */
static msg_t *load_msg(const char *file, int use_env, const rules_env_t *env, char *err,
                       size_t errlen)
{
    char *data;
    size_t len;
    if (tg_read_file(file, &data, &len, err, errlen) < 0)
        return NULL;
    msg_t *m = msg_new(NULL);
    if (use_env)
        msg_set_envelope_from(m, env->mail_from);
    msg_feed(m, data, len);
    msg_finish(m);
    free(data);
    return m;
}

int main(int argc, char **argv)
{
    const char **paths = tg_calloc((size_t)argc + 1, sizeof *paths);
    size_t npaths = 0, nfiles = 0, fcap = 0;
    char **files = NULL;
    const char *cache = NULL;
    int use_env = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rules") && i + 1 < argc)
            paths[npaths++] = argv[++i];
        else if (!strcmp(argv[i], "--cache") && i + 1 < argc)
            cache = argv[++i];
        else if (!strcmp(argv[i], "--env"))
            use_env = 1;
        else
            if (corpus_add(argv[i], &files, &nfiles, &fcap) < 0) {
                fprintf(stderr, "difftest: %s: cannot open\n", argv[i]);
                return 2;
            }
    }
    if (!npaths || !nfiles) {
        fprintf(stderr, "usage: difftest [--cache DIR] [--env] --rules PATH... FILE|DIR...\n");
        return 2;
    }
    char err[1024];
    rules_t *ro, *rf;
    rules_options_t oo = {.matcher = RULES_MATCHER_ORACLE};
    rules_options_t fo = {.matcher = RULES_MATCHER_FAST, .cache_dir = cache};
    if (rules_load(paths, npaths, &oo, &ro, err, sizeof err) < 0 ||
        rules_load(paths, npaths, &fo, &rf, err, sizeof err) < 0) {
        fprintf(stderr, "difftest: %s\n", err);
        return 2;
    }
    const fast_t *f = rules_get_fast(rf);
    const fast_build_info_t *fi = fast_get_info(f);
    size_t nr = rules_count(ro);
    printf("difftest: %zu rules (%zu regex in the fast matcher: %zu exact, %zu prefilter, "
           "%zu PCRE2-only (%zu in an ASCII database); %zu classes), built in %.2f s\n", nr,
           fi->rules, fi->path[FAST_EXACT], fi->path[FAST_PREFILTER], fi->path[FAST_PCRE],
           fi->ascii_db, fi->classes, fi->compile_seconds);
    printf("difftest: Latin-1 /i spelt out %zu (approximated %zu, not followed %zu); nested "
           "repeats confirmed %zu; relaxed %zu (for scan speed %zu); second databases %zu "
           "(literal-free %zu); to PCRE2: too slow %zu, always-firing %zu; cache %zu hits, "
           "%zu misses, %zu errors; compile times timed here %zu\n",
           fi->latin1_exact, fi->latin1_rewritten, fi->latin1_fold, fi->nested_repeat, fi->relaxed,
           fi->relaxed_scan, fi->aux, fi->literal_free, fi->slow_compile, fi->always_firing,
           fi->cache_hits, fi->cache_misses, fi->cache_errors, fi->cost_timed);
    static const char *const rcpts[] = {"bob@example.org", "carol@example.net"};
    rules_env_t env = {.client_ip = "192.0.2.1", .client_name = "mail.example.com",
                       .helo = "mail.example.com", .mail_from = "alice@example.com",
                       .rcpts = rcpts, .nrcpts = 2};
    rules_scratch_t *so = rules_scratch_new(ro), *sf = rules_scratch_new(rf);
    double *vo = tg_calloc(nr + 1, sizeof *vo), *vf = tg_calloc(nr + 1, sizeof *vf);
    size_t mism = 0, bad_msgs = 0, hits = 0;
    double *want = tg_calloc(nfiles * nr + 1, sizeof *want); /* the oracle's values */
    for (size_t k = 0; k < nfiles; k++) {
        msg_t *m = load_msg(files[k], use_env, &env, err, sizeof err);
        if (!m) {
            fprintf(stderr, "difftest: %s\n", err);
            return 2;
        }
        rules_match_all(ro, so, m, use_env ? &env : NULL, vo);
        rules_match_all(rf, sf, m, use_env ? &env : NULL, vf);
        memcpy(want + k * nr, vo, nr * sizeof *vo);
        int bad = 0;
        for (size_t i = 0; i < nr; i++) {
            hits += vo[i] != 0;
            if (vo[i] == vf[i])
                continue;
            bad = 1;
            if (++mism <= 30)
                printf("MISMATCH %s: %s oracle=%g fast=%g (path %d)\n", files[k],
                       rules_name(ro, i), vo[i], vf[i], fast_rule_path(f, i));
        }
        bad_msgs += bad;
        msg_free(m);
    }
    fast_profile_t pr;
    fast_scratch_get_profile(rules_scratch_get_fast(sf), &pr);
    unsigned long h1 = pr.memo_hits, s1 = pr.memo_hits + pr.memo_misses, o1 = pr.memo_outcomes;
    /* again, the fast matcher alone, each message twice in a row */
    size_t mism2 = 0, bad2 = 0;
    for (size_t k = 0; k < nfiles; k++) {
        msg_t *m = load_msg(files[k], use_env, &env, err, sizeof err);
        if (!m) {
            fprintf(stderr, "difftest: %s\n", err);
            return 2;
        }
        int bad = 0;
        for (int twice = 0; twice < 2; twice++) {
            rules_match_all(rf, sf, m, use_env ? &env : NULL, vf);
            for (size_t i = 0; i < nr; i++) {
                if (want[k * nr + i] == vf[i])
                    continue;
                bad = 1;
                if (++mism2 <= 30)
                    printf("MISMATCH (second pass) %s: %s oracle=%g fast=%g (path %d)\n",
                           files[k], rules_name(ro, i), want[k * nr + i], vf[i],
                           fast_rule_path(f, i));
            }
        }
        bad2 += bad;
        msg_free(m);
    }
    fast_scratch_get_profile(rules_scratch_get_fast(sf), &pr);
    printf("difftest: scan memo (%zu slots): first pass %lu of %lu strings replayed "
           "(%lu PCRE2 outcomes); second pass (each message twice) %lu of %lu replayed "
           "(%lu PCRE2 outcomes), %zu mismatches in %zu messages\n",
           fi->memo_slots, h1, s1, o1, pr.memo_hits - h1, pr.memo_hits + pr.memo_misses - s1,
           pr.memo_outcomes - o1, mism2, bad2);
    mism += mism2;
    bad_msgs += bad2;
    free(want);
    printf("difftest: %zu messages, %zu rules, %zu rule values compared, %zu non-zero; "
           "%zu mismatches in %zu messages\n", nfiles, nr, nfiles * nr, hits, mism, bad_msgs);
    rules_scratch_free(so);
    rules_scratch_free(sf);
    rules_unref(ro);
    rules_unref(rf);
    for (size_t k = 0; k < nfiles; k++)
        free(files[k]);
    free(files);
    free(paths);
    free(vo);
    free(vf);
    return mism ? 1 : 0;
}
