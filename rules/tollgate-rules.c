/*
 * tollgate-rules — check rule files and classify messages offline with the
 * same library the daemon uses, so a verdict here is the daemon's verdict.
 *
 *   tollgate-rules check [--json] PATH...
 *   tollgate-rules test [--rules PATH]... [--client-ip IP] [--helo H]
 *                       [--from ADDR] [--rcpt ADDR]... [--spf RESULT]
 *                       [--max-scan SIZE] [--json | --profile] MSG.eml...
 *
 * --profile: after the verdicts, where the fast matcher's time went over
 * these messages (per class, per database, per rule), to find the rules
 * that cost most on one's own mail.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fast.h"
#include "fastprof.h"
#include "msg.h"
#include "rules.h"
#include "util.h"

#ifndef TG_PREFIX
#define TG_PREFIX "/usr/local"
#endif
#define TG_RULES_DIR TG_PREFIX "/share/tollgate/rules"  /* make install puts them here */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: tollgate-rules check [--json] [PATH...]\n"
        "       tollgate-rules test [--rules PATH]... [--client-ip IP] [--helo NAME]\n"
        "                           [--from ADDR] [--rcpt ADDR]... [--spf RESULT]\n"
        "                           [--direction inbound|outbound|internal]\n"
        "                           [--local-domain DOMAIN]... [--auth USER]\n"
        "                           [--max-scan SIZE] [--matcher fast|oracle]\n"
        "                           [--client-name NAME] [--cache DIR]\n"
        "                           [--json | --profile | --relays] MSG.eml...\n"
        "--cache DIR keeps compiled databases of the fast matcher (default\n"
        "$XDG_CACHE_HOME/tollgate or ~/.cache/tollgate; --cache '' for none)\n"
        "--profile prints after the verdicts where the fast matcher's time went\n"
        "(per class, per rule)\n"
        "--relays prints, instead of verdicts, the relays SpamAssassin-style rules\n"
        "read (X-Spam-Relays-Trusted/-Untrusted/-Internal/-External)\n"
        "PATH is a rule file, a directory of *.cf files or a glob; default %s\n",
        TG_RULES_DIR);
}

static void print_notes(const rules_t *rs, int kind, const char *title)
{
    size_t n = rules_nnotes(rs, kind);
    if (!n)
        return;
    printf("%s (%zu distinct):\n", title, n);
    for (size_t i = 0; i < n; i++) {
        const char *where, *what;
        size_t count;
        rules_note(rs, kind, i, &where, &what, &count);
        if (i == 12 && n > 13) {
            printf("  ... and %zu more\n", n - i);
            break;
        }
        printf("  %-44s x%-4zu first at %s\n", what, count, where);
    }
}

static void json_notes(tg_buf *b, const rules_t *rs, int kind)
{
    tg_buf_addc(b, '[');
    for (size_t i = 0; i < rules_nnotes(rs, kind); i++) {
        const char *where, *what;
        size_t count;
        rules_note(rs, kind, i, &where, &what, &count);
        tg_buf_adds(b, i ? ",{\"what\":" : "{\"what\":");
        tg_buf_json(b, what, strlen(what));
        tg_buf_adds(b, ",\"where\":");
        tg_buf_json(b, where, strlen(where));
        tg_buf_printf(b, ",\"count\":%zu}", count);
    }
    tg_buf_addc(b, ']');
}

static int cmd_check(int argc, char **argv)
{
    int json = 0;
    const char **paths = tg_calloc((size_t)argc + 1, sizeof *paths);
    size_t n = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (argv[i][0] == '-' && argv[i][1]) {
            usage(stderr);
            free(paths);
            return 2;
        } else
            paths[n++] = argv[i];
    }
    if (!n)
        paths[n++] = TG_RULES_DIR;
    /* check compiles for PCRE2 only: the fast matcher is not needed */
    rules_options_t ro = {.matcher = RULES_MATCHER_ORACLE};
    rules_t *rs;
    char err[1024];
    if (rules_load(paths, n, &ro, &rs, err, sizeof err) < 0) {
        fprintf(stderr, "tollgate-rules: %s\n", err);
        if (json) {
            tg_buf b;
            tg_buf_init(&b);
            tg_buf_adds(&b, "{\"ok\":false,\"error\":");
            tg_buf_json(&b, err, strlen(err));
            tg_buf_adds(&b, "}");
            puts(b.s);
            tg_buf_free(&b);
        }
        free(paths);
        return 1;
    }
    const rules_info_t *in = rules_get_info(rs);
    if (json) {
        tg_buf b;
        tg_buf_init(&b);
        tg_buf_printf(&b, "{\"ok\":true,\"files\":%zu,\"loaded\":%zu,\"loaded_regex\":%zu,"
                      "\"loaded_meta\":%zu,\"disabled\":%zu,\"skipped_eval\":%zu,"
                      "\"skipped_unsupported\":%zu,\"rejected\":%zu,\"jit\":%zu,\"wide\":%zu,"
                      "\"lang_lines\":%zu,\"ignored\":%zu",
                      in->files, in->loaded, in->loaded_regex, in->loaded_meta,
                      in->disabled, in->skipped_eval, in->skipped_unsupported,
                      in->rejected, in->jit, in->wide, in->lang_lines, in->ignored);
        tg_buf_adds(&b, ",\"eval_reasons\":");
        json_notes(&b, rs, 0);
        tg_buf_adds(&b, ",\"unsupported_reasons\":");
        json_notes(&b, rs, 1);
        tg_buf_adds(&b, ",\"rejected_reasons\":");
        json_notes(&b, rs, 2);
        tg_buf_adds(&b, "}");
        puts(b.s);
        tg_buf_free(&b);
    } else {
        printf("files read:          %zu\n", in->files);
        printf("loaded:              %zu rules (%zu regex, %zu meta, %zu other; %zu JIT-compiled)\n",
               in->loaded, in->loaded_regex, in->loaded_meta,
               in->loaded - in->loaded_regex - in->loaded_meta, in->jit);
        printf("disabled (score 0):  %zu\n", in->disabled);
        printf("skipped-eval:        %zu (eval: tests need SpamAssassin's Perl plugins; metas see them as not hit)\n",
               in->skipped_eval);
        printf("skipped-unsupported: %zu (plugin-only directives and modifiers)\n",
               in->skipped_unsupported);
        printf("rejected-by-PCRE2:   %zu\n", in->rejected);
        if (in->wide)
            printf("32-bit PCRE2:        %zu (too large for the 8-bit library's 64 KiB of code; "
                   "same semantics)\n", in->wide);
        printf("other-language lines ignored: %zu; ordering/test lines ignored: %zu\n",
               in->lang_lines, in->ignored);
        print_notes(rs, 2, "rejected by PCRE2");
        print_notes(rs, 0, "skipped eval tests");
        print_notes(rs, 1, "skipped unsupported");
    }
    rules_unref(rs);
    free(paths);
    return 0;
}

static void print_verdict(const char *file, const rules_verdict_t *v, int json)
{
    if (json) {
        tg_buf b;
        tg_buf_init(&b);
        tg_buf_adds(&b, "{\"file\":");
        tg_buf_json(&b, file, strlen(file));
        tg_buf_printf(&b, ",\"score\":%.2f,\"required\":%.1f,\"action\":\"%s\",\"category\":\"%s\"",
                      v->score, v->required, rules_action_name(v->action),
                      rules_category_name(v->category));
        tg_buf_adds(&b, ",\"reply\":");
        if (v->reply)
            tg_buf_json(&b, v->reply, strlen(v->reply));
        else
            tg_buf_adds(&b, "null");
        tg_buf_adds(&b, ",\"hits\":[");
        for (size_t i = 0; i < v->nhits; i++) {
            if (i)
                tg_buf_addc(&b, ',');
            tg_buf_json(&b, v->hits[i].name, strlen(v->hits[i].name));
        }
        tg_buf_adds(&b, "],\"details\":[");
        for (size_t i = 0; i < v->nhits; i++) {
            const rules_hit_t *h = &v->hits[i];
            tg_buf_adds(&b, i ? ",{\"name\":" : "{\"name\":");
            tg_buf_json(&b, h->name, strlen(h->name));
            tg_buf_printf(&b, ",\"score\":%.3f,\"count\":%u,\"describe\":", h->score, h->count);
            if (h->describe)
                tg_buf_json(&b, h->describe, strlen(h->describe));
            else
                tg_buf_adds(&b, "null");
            tg_buf_addc(&b, '}');
        }
        tg_buf_printf(&b, "],\"limits\":%u,\"regex_limit_hits\":%lu}", v->limits,
                      v->regex_limit_hits);
        puts(b.s);
        tg_buf_free(&b);
        return;
    }
    printf("%s\n", file);
    printf("  score %.1f / required %.1f  action %s  category %s\n", v->score,
           v->required, rules_action_name(v->action), rules_category_name(v->category));
    if (v->reply)
        printf("  reply: %s\n", v->reply);
    if (v->limits)
        printf("  limits hit: 0x%x\n", v->limits);
    if (v->nhits) {
        printf("   pts rule name               description\n");
        printf("  ---- ---------------------- --------------------------------------------------\n");
        for (size_t i = 0; i < v->nhits; i++) {
            const rules_hit_t *h = &v->hits[i];
            printf("  %4.1f %-22s %s", h->score, h->name, h->describe ? h->describe : "");
            if (h->count > 1)
                printf(" (x%u)", h->count);
            printf("\n");
        }
    }
}

static int cmd_test(int argc, char **argv)
{
    static const struct option opts[] = {
        {"rules", required_argument, 0, 'r'},
        {"client-ip", required_argument, 0, 'i'},
        {"helo", required_argument, 0, 'h'},
        {"from", required_argument, 0, 'f'},
        {"rcpt", required_argument, 0, 't'},
        {"spf", required_argument, 0, 's'},
        {"auth", required_argument, 0, 'a'},
        {"max-scan", required_argument, 0, 'm'},
        {"json", no_argument, 0, 'j'},
        {"direction", required_argument, 0, 'd'},
        {"local-domain", required_argument, 0, 'L'},
        {"matcher", required_argument, 0, 'M'},
        {"cache", required_argument, 0, 'C'},
        {"profile", no_argument, 0, 'P'},
        {"relays", no_argument, 0, 'R'},
        {"client-name", required_argument, 0, 'N'},
        {0, 0, 0, 0},
    };
    const char **paths = tg_calloc((size_t)argc + 1, sizeof *paths);
    const char **rcpts = tg_calloc((size_t)argc + 1, sizeof *rcpts);
    const char **locals = tg_calloc((size_t)argc + 1, sizeof *locals);
    size_t npaths = 0;
    rules_env_t env = {0};
    msg_limits_t lim;
    msg_limits_default(&lim);
    rules_options_t ro = {.matcher = RULES_MATCHER_FAST};
    int cache_set = 0;
    char cache_buf[4096];
    int json = 0, profile = 0, relays = 0, c, rc = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': paths[npaths++] = optarg; break;
        case 'i': env.client_ip = optarg; break;
        case 'h': env.helo = optarg; break;
        case 'f': env.mail_from = optarg; break;
        case 't': rcpts[env.nrcpts++] = optarg; break;
        case 'a': env.auth = optarg; break;
        case 'L': locals[env.nlocal_domains++] = optarg; break;
        case 'd':
            env.direction = !strcmp(optarg, "inbound") ? RULES_DIR_INBOUND
                          : !strcmp(optarg, "outbound") ? RULES_DIR_OUTBOUND
                          : !strcmp(optarg, "internal") ? RULES_DIR_INTERNAL
                          : RULES_DIR_UNKNOWN;
            if (env.direction == RULES_DIR_UNKNOWN) {
                fprintf(stderr, "tollgate-rules: --direction takes inbound, outbound or internal\n");
                rc = 2;
            }
            break;
        case 'j': json = 1; break;
        case 'P': profile = 1; break;
        case 'R': relays = 1; break;
        case 'N': env.client_name = optarg; break;
        case 'M':
            if (!strcmp(optarg, "fast"))
                ro.matcher = RULES_MATCHER_FAST;
            else if (!strcmp(optarg, "oracle"))
                ro.matcher = RULES_MATCHER_ORACLE;
            else {
                fprintf(stderr, "tollgate-rules: --matcher takes fast or oracle\n");
                rc = 2;
            }
            break;
        case 'C': ro.cache_dir = *optarg ? optarg : NULL; cache_set = 1; break;
        case 's':
            env.spf = rules_spf_parse(optarg);
            if (env.spf == RULES_SPF_UNKNOWN) {
                fprintf(stderr, "tollgate-rules: unknown SPF result '%s'\n", optarg);
                rc = 2;
            }
            break;
        case 'm': {
            double v;
            if (tg_parse_size(optarg, &v) < 0 || v < 1) {
                fprintf(stderr, "tollgate-rules: invalid size '%s'\n", optarg);
                rc = 2;
            } else
                lim.max_scan = (size_t)v;
            break;
        }
        default: rc = 2; break;
        }
    }
    env.rcpts = rcpts;
    env.local_domains = locals;
    if (!rc && profile && (json || ro.matcher != RULES_MATCHER_FAST)) {
        fprintf(stderr, "tollgate-rules: --profile takes neither --json nor --matcher oracle\n");
        rc = 2;
    }
    if (rc || optind >= argc) {
        if (!rc)
            usage(stderr);
        free(paths);
        free(rcpts);
        free(locals);
        return 2;
    }
    if (!cache_set) {
        const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
        if (x && *x)
            snprintf(cache_buf, sizeof cache_buf, "%s/tollgate", x);
        else if (h && *h)
            snprintf(cache_buf, sizeof cache_buf, "%s/.cache/tollgate", h);
        else
            cache_buf[0] = 0;
        ro.cache_dir = cache_buf[0] ? cache_buf : NULL;
    }
    if (!npaths)
        paths[npaths++] = TG_RULES_DIR;
    rules_t *rs;
    char err[1024];
    if (rules_load(paths, npaths, &ro, &rs, err, sizeof err) < 0) {
        fprintf(stderr, "tollgate-rules: %s\n", err);
        free(paths);
        free(rcpts);
        free(locals);
        return 1;
    }
    rules_scratch_t *sc = rules_scratch_new(rs);
    const fast_t *fm = rules_get_fast(rs);
    if (profile && fm)
        fast_scratch_profile(rules_scratch_get_fast(sc), 1);
    size_t nmsgs = 0;
    for (int i = optind; i < argc; i++) {
        char *data;
        size_t len;
        if (tg_read_file(argv[i], &data, &len, err, sizeof err) < 0) {
            fprintf(stderr, "tollgate-rules: %s\n", err);
            rc = 1;
            continue;
        }
        msg_t *m = msg_new(&lim);
        msg_set_views(m, rules_views(rs)); /* as the daemon does */
        if (env.mail_from)
            msg_set_envelope_from(m, env.mail_from);
        msg_feed(m, data, len);
        msg_finish(m);
        if (relays) {
            rules_use_relays(rs, m, &env);
            static const char *const which[4] = { "Trusted", "Untrusted", "Internal",
                                                  "External" };
            printf("== %s\n", argv[i]);
            for (int k = 0; k < 4; k++) {
                char name[64];
                tg_buf b;
                tg_buf_init(&b);
                snprintf(name, sizeof name, "X-Spam-Relays-%s", which[k]);
                msg_get_header(m, name, MSG_H_DECODED, &b);
                printf("%s: %.*s\n", which[k], (int)b.len, b.s ? b.s : "");
                tg_buf_free(&b);
            }
            msg_free(m);
            free(data);
            continue;
        }
        rules_verdict_t v;
        rules_classify(rs, sc, m, &env, &v);
        nmsgs++;
        print_verdict(argv[i], &v, json);
        rules_verdict_clear(&v);
        msg_free(m);
        free(data);
    }
    if (profile && fm && nmsgs) {
        printf("\n");
        fastprof_print(stdout, fm, rules_scratch_get_fast(sc), nmsgs, 15, 20);
        fast_profile_t pr;
        fast_scratch_get_profile(rules_scratch_get_fast(sc), &pr);
        unsigned long looked = pr.memo_hits + pr.memo_misses;
        printf("scan memo (%zu slots): %lu of %lu strings looked up replayed an earlier "
               "scan's reports (%lu of %lu bytes); the database rows above count only scans\n",
               fast_get_info(fm)->memo_slots, pr.memo_hits, looked, pr.memo_hit_bytes,
               pr.memo_hit_bytes + pr.memo_miss_bytes);
    } else if (profile && nmsgs) {
        printf("\nno fast matcher: no regex rule to profile\n");
    }
    rules_scratch_free(sc);
    rules_unref(rs);
    free(paths);
    free(rcpts);
    free(locals);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "check"))
        return cmd_check(argc - 2, argv + 2);
    if (!strcmp(argv[1], "test"))
        return cmd_test(argc - 1, argv + 1);
    if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
        printf("tollgate-rules %s\n", TG_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
