/* The fast matcher (rules/fast.c): crafted edge cases, each run with both
 * matchers; every rule's value must be the oracle's. */
#include <check.h>
#include <dirent.h>
#include <hs/hs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fast.h"
#include "fastcost.h"
#include "fastmemo.h"
#include "hsscan.h"
#include "msg.h"
#include "rules.h"
#include "util.h"

typedef struct {
    rules_t *ro, *rf;
    double *vo, *vf;
    char dir[40];            /* pair_load_cached's cache directory, or "" */
} pair_t;

/* Loads text with both matchers (the fast one with cache directory dir,
 * NULL for none). */
static void pair_load_in(pair_t *p, const char *text, const char *dir)
{
    char err[512] = "";
    rules_options_t oo = {.matcher = RULES_MATCHER_ORACLE};
    rules_options_t fo = {.matcher = RULES_MATCHER_FAST, .cache_dir = dir};
    ck_assert_msg(rules_load_string("t.cf", text, &oo, &p->ro, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rules_load_string("t.cf", text, &fo, &p->rf, err, sizeof err) == 0, "%s", err);
    ck_assert_ptr_nonnull(rules_get_fast(p->rf));
    ck_assert_ptr_null(rules_get_fast(p->ro));
    p->vo = calloc(rules_count(p->ro) + 1, sizeof *p->vo);
    p->vf = calloc(rules_count(p->rf) + 1, sizeof *p->vf);
}

static void pair_load(pair_t *p, const char *text)
{
    p->dir[0] = 0;
    pair_load_in(p, text, NULL);
}

/* pair_load, but the fast ruleset is compiled into a new temporary cache
 * directory first (p->dir, removed by pair_free) and what is kept is a
 * second load from there (every class a cache hit): the cache must
 * restore all routing. The first load's build info is copied to *cold. */
static void pair_load_cached(pair_t *p, const char *text, fast_build_info_t *cold)
{
    char err[512] = "";
    char *dir = strcpy(p->dir, "/tmp/check-fast-pair.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    rules_options_t fo = {.matcher = RULES_MATCHER_FAST, .cache_dir = dir};
    rules_t *first;
    ck_assert_msg(rules_load_string("t.cf", text, &fo, &first, err, sizeof err) == 0, "%s", err);
    *cold = *fast_get_info(rules_get_fast(first));
    rules_unref(first);
    pair_load_in(p, text, dir);
    const fast_build_info_t *fi = fast_get_info(rules_get_fast(p->rf));
    ck_assert_uint_eq(fi->cache_misses, 0);
    ck_assert_uint_eq(fi->cache_hits, cold->cache_misses);
}

static void pair_free(pair_t *p)
{
    rules_unref(p->ro);
    rules_unref(p->rf);
    free(p->vo);
    free(p->vf);
    if (p->dir[0]) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", p->dir);
        ck_assert_int_eq(system(cmd), 0);
    }
}

/* Runs both matchers on raw; asserts identical values for every rule. */
static void pair_run(pair_t *p, const char *raw, const rules_env_t *env)
{
    msg_t *m = msg_new(NULL);
    msg_feed(m, raw, strlen(raw));
    msg_finish(m);
    rules_scratch_t *so = rules_scratch_new(p->ro), *sf = rules_scratch_new(p->rf);
    rules_match_all(p->ro, so, m, env, p->vo);
    rules_match_all(p->rf, sf, m, env, p->vf);
    for (size_t i = 0; i < rules_count(p->ro); i++)
        ck_assert_msg(p->vo[i] == p->vf[i], "%s: oracle %g, fast %g (path %d)",
                      rules_name(p->ro, i), p->vo[i], p->vf[i],
                      fast_rule_path(rules_get_fast(p->rf), i));
    rules_scratch_free(so);
    rules_scratch_free(sf);
    msg_free(m);
}

static double val(pair_t *p, const char *name)
{
    long i = rules_find(p->rf, name);
    ck_assert_msg(i >= 0, "no rule %s", name);
    return p->vf[i];
}

static int path(pair_t *p, const char *name)
{
    return fast_rule_path(rules_get_fast(p->rf), (size_t)rules_find(p->rf, name));
}

static const char *MSG =
    "From: Alice Example <alice@example.com>\n"
    "To: bob@example.org\n"
    "Subject: Cheap watches today\n"
    "Content-Type: text/plain; charset=iso-8859-1\n"
    "\n"
    "First paragraph talks about watches\n"
    "and prices.\n"
    "\n"
    "Second: visit http://shop.example.net/buy now!\n"
    "Buy buy buy BUY.\n"
    "\n"
    "Gr\xfc\xdf""e aus K\xd6LN und M\xdcnchen\n";

/* Raw header bytes stay Latin-1 (the rendered body may be converted). */
static const char *MSG_L1 =
    "From: a@example.com\n"
    "Subject: Gr\xfc\xdf""e aus K\xd6LN und M\xdcnchen\n"
    "\n"
    "Gr\xfc\xdf""e aus K\xd6LN und M\xdcnchen\n";

START_TEST(anchors_per_line)
{
    pair_t p;
    pair_load(&p,
        "body B_START /^Second/\n"
        "body B_END /now!$/\n"
        "body B_ACROSS /watches\\s+and/\n"
        "body B_SUBJ /^Cheap watches today$/\n"
        "body B_M /^and prices\\.$/m\n"
        "body B_WHOLE /\\Afirst/i\n"
        "body B_DOT_S /about.watches/s\n"
        "rawbody R_ANCH /^Buy buy/\n"
        "full F_M /^Subject: Cheap/m\n"
        "full F_NOM /^Subject: Cheap/\n"
        "uri U_HOST /^http:\\/\\/shop\\.example\\.net\\//\n");
    pair_run(&p, MSG, NULL);
    ck_assert(val(&p, "B_START") == 1);
    ck_assert(val(&p, "B_SUBJ") == 1);
    ck_assert(val(&p, "F_M") == 1);
    ck_assert(val(&p, "F_NOM") == 0);
    ck_assert(val(&p, "U_HOST") == 1);
    pair_free(&p);
}
END_TEST

/* Vectorscan 5.4.9's AVX-512 code misses a match in the last partial
 * 64-byte block after a run its accelerators skip (hsscan.h): a line of
 * 64 or more bytes of "x" ending in "ac" is not reported for /a[b-z]{0,20}c/
 * there. hsscan runs the library's AVX2 code instead on such CPUs, with
 * databases compiled for it; both matchers must find every case. */
static void add_fillers(tg_buf *cf);

START_TEST(vectorscan_tail_of_long_runs)
{
    pair_t p;
    tg_buf cf;
    tg_buf_init(&cf);
    add_fillers(&cf);
    tg_buf_adds(&cf, "body T_AC /a[b-z]{0,20}c/\n"
                     "body T_ANY /a[^\\n]*c/\n"
                     "body T_Q /\\?[\\x00-\\x7f]{0,200}\\@/\n"
                     "rawbody T_RAW /a[b-z]{0,20}c/\n"
                     "header T_SUBJ Subject =~ /a[b-z]{0,20}c/\n");
    pair_load(&p, cf.s);
    for (int n = 60; n <= 140; n += 4) {
        tg_buf m;
        tg_buf_init(&m);
        tg_buf_adds(&m, "Subject: ");
        for (int i = 0; i < n; i++)
            tg_buf_addc(&m, 'x');
        tg_buf_adds(&m, "ac\n\n");
        for (int i = 0; i < n; i++)
            tg_buf_addc(&m, 'x');
        tg_buf_adds(&m, "ac\n\n");
        for (int i = 0; i < n + 2; i++)
            tg_buf_addc(&m, 'y');
        tg_buf_adds(&m, "?@\n");
        pair_run(&p, m.s, NULL);
        ck_assert_msg(val(&p, "T_AC") == 1 && val(&p, "T_ANY") == 1 && val(&p, "T_Q") == 1 &&
                          val(&p, "T_RAW") == 1 && val(&p, "T_SUBJ") == 1,
                      "%d x: %g %g %g %g %g", n, val(&p, "T_AC"), val(&p, "T_ANY"),
                      val(&p, "T_Q"), val(&p, "T_RAW"), val(&p, "T_SUBJ"));
        tg_buf_free(&m);
    }
    pair_free(&p);
    tg_buf_free(&cf);
}
END_TEST

/* What hsscan_warning says in a process that keeps the library's own
 * choice (TG_VECTORSCAN_DISPATCH=1) and in one that does not: on a CPU
 * with AVX-512 and a library older than 5.4.13 the first is warned (the
 * daemon logs it), the second runs the AVX2 code and is not; elsewhere
 * neither is. Each in a child of its own: the choice is made once a
 * process. Writes "variant warned" of the child into out. */
static void code_in_child(int dispatch, char *out, size_t outlen)
{
    int fd[2];
    ck_assert(pipe(fd) == 0);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        if (dispatch)
            setenv("TG_VECTORSCAN_DISPATCH", "1", 1);
        else
            unsetenv("TG_VECTORSCAN_DISPATCH");
        const char *w = hsscan_warning();
        char b[512];
        int n = snprintf(b, sizeof b, "%s %d %s", hsscan_variant(), w != NULL, w ? w : "");
        ssize_t wr = write(fd[1], b, (size_t)n);
        _exit(wr == n ? 0 : 1);
    }
    close(fd[1]);
    ssize_t n = read(fd[0], out, outlen - 1);
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    ck_assert(n > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    out[n] = 0;
}

START_TEST(vectorscan_code_warning)
{
    unsigned a = 0, b = 0, c = 0;
    sscanf(hs_version(), "%u.%u.%u", &a, &b, &c);
    int old = a < 5 || (a == 5 && (b < 4 || (b == 4 && c < 13)));
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2");
    char kept[512], ours[512];
    code_in_child(1, kept, sizeof kept);
    code_in_child(0, ours, sizeof ours);
    if (avx512 && old) {
        ck_assert_msg(!strncmp(kept, "dispatch 1 ", 11) && strstr(kept, "TG_VECTORSCAN_DISPATCH") &&
                          strstr(kept, "5.4.13"), "%s", kept);
        ck_assert_msg(!strcmp(ours, "avx2 0 "), "%s", ours);
    } else {
        ck_assert_msg(!strcmp(kept, "dispatch 0 "), "%s", kept);
        ck_assert_msg(strstr(ours, " 0 ") != NULL, "%s", ours);
    }
}
END_TEST

/* tflags nosubject: the Subject, first body line, is not seen (stock
 * __NONEMPTY_BODY behind EMPTY_MESSAGE); multiple counts skip it too. */
START_TEST(nosubject_skips_the_subject_line)
{
    pair_t p;
    pair_load(&p,
        "body NONEMPTY /\\S/\n"
        "tflags NONEMPTY nosubject\n"
        "body WATCH_NS /watch/i\n"
        "tflags WATCH_NS multiple nosubject\n"
        "body WATCH /watch/i\n"
        "tflags WATCH multiple\n"
        "body SUBJ_NS /Cheap/\n"
        "tflags SUBJ_NS nosubject\n");
    pair_run(&p, MSG, NULL);
    ck_assert(val(&p, "NONEMPTY") == 1);
    ck_assert(val(&p, "WATCH") == 2);    /* Subject + first paragraph */
    ck_assert(val(&p, "WATCH_NS") == 1);
    ck_assert(val(&p, "SUBJ_NS") == 0);  /* only in the Subject */
    pair_run(&p, "From: a@example.com\nSubject: only a subject\n\n\n  \n", NULL);
    ck_assert(val(&p, "NONEMPTY") == 0);
    pair_run(&p, "From: a@example.com\n\nbody text\n", NULL);
    ck_assert(val(&p, "NONEMPTY") == 1);
    pair_free(&p);
}
END_TEST

/* Rules too large for the 8-bit PCRE2 library (the stock __MY_MALWARE,
 * __PAY_ME, __FILL_THIS_FORM_LONG1 ...) run with the 32-bit one in both
 * matchers: hits and tflags multiple counts agree, and the rules hit where
 * they should (check_rules' wide_patterns_match_as_narrow compares the
 * 32-bit library's answers with the 8-bit one's). */
static void add_fillers(tg_buf *cf);

START_TEST(wide_patterns_both_matchers)
{
    tg_buf cf;
    tg_buf_init(&cf);
    const char *names[] = {"WIDE_BODY", "WIDE_MULTI", "WIDE_HDR"};
    const char *kinds[] = {"body", "body", "header"};
    /* 30,000 alternatives: too large for 8-bit PCRE2; 1,000 longer ones:
     * over Vectorscan's length limit but split into its parts (ASCII
     * database, full-form prefilter) */
    for (int r = 0; r < 4; r++) {
        tg_buf_printf(&cf, "%s %s %s/(?:", r == 3 ? "body" : kinds[r],
                      r == 3 ? "SPLIT_BODY" : names[r], r == 2 ? "Subject =~ " : "");
        for (int i = 0; i < (r == 3 ? 1000 : 30000); i++)
            tg_buf_printf(&cf, r == 3 ? "%szq%04dzqxxxxxxxxxxxx" : "%szq%dzq", i ? "|" : "", i);
        tg_buf_printf(&cf, ")|\\bcaf[e3]\\b|w[a4]tch/i\n");
    }
    tg_buf_adds(&cf, "tflags WIDE_MULTI multiple\nbody SMALL /watch/i\n");
    add_fillers(&cf);
    pair_t p;
    pair_load(&p, cf.s);
    tg_buf_free(&cf);
    const fast_build_info_t *fi = fast_get_info(rules_get_fast(p.rf));
#ifndef TG_ASAN
    /* SPLIT_BODY's ASCII form and its full-form prefilter take 1.2 s of
     * compile each here; under ASan 3.6-5.3 times that, which can pass the
     * 5 s allowed (FAST_MAX_COMPILE_S) and leave the rule on PCRE2 (the
     * values below hold either way) */
    ck_assert_uint_ge(fi->ascii_db, 1);
    ck_assert_uint_ge(fi->full_prefilter, 1);
#else
    (void)fi;
#endif
    pair_run(&p, MSG, NULL);
    ck_assert(val(&p, "WIDE_BODY") == 1);
    ck_assert(val(&p, "WIDE_MULTI") == 2); /* Subject + first paragraph */
    ck_assert(val(&p, "WIDE_HDR") == 1);
    ck_assert(val(&p, "SPLIT_BODY") == 1);
    pair_run(&p, "Subject: CAF3 zq17 zq\n\nnothing w4tch zq30000zq\n", NULL);
    ck_assert(val(&p, "WIDE_BODY") == 1);
    ck_assert(val(&p, "WIDE_MULTI") == 2);
    ck_assert(val(&p, "WIDE_HDR") == 1);
    pair_run(&p, "Subject: zq17z\n\nzq30000zq cafes\n", NULL);
    ck_assert(val(&p, "WIDE_BODY") == 0);
    ck_assert(val(&p, "WIDE_HDR") == 0);
    ck_assert(val(&p, "SPLIT_BODY") == 0);
    /* a part other than the first, on ASCII and on 8-bit text */
    pair_run(&p, "Subject: s\n\nsee zq0999zqxxxxxxxxxxxx here\n", NULL);
    ck_assert(val(&p, "SPLIT_BODY") == 1);
    pair_run(&p, "Subject: s\nContent-Type: text/plain; charset=utf-8\n\n"
             "caf\xc3\xa9 zq0998zqxxxxxxxxxxxx \xe2\x80\x9cok\xe2\x80\x9d\n", NULL);
    ck_assert(val(&p, "SPLIT_BODY") == 1);
    pair_run(&p, "Subject: s\nContent-Type: text/plain; charset=utf-8\n\n"
             "caf\xc3\xa9 zq0998zqxxxxxxxxxxx \xe2\x80\x9cok\xe2\x80\x9d\n", NULL);
    ck_assert(val(&p, "SPLIT_BODY") == 0);
    pair_free(&p);
}
END_TEST

/* SpamAssassin 4's captured tags: rules with (?<NAME>...) set tags that
 * other rules' %{NAME} templates use (as the stock __GB_TO_ADDR and
 * __GB_CUSTOM_HTM_URI* do); both matchers run them alike. */
static const char *MSG_CAP =
    "From: Alice Example <alice@example.com>\n"
    "To: bob@example.org\n"
    "Subject: Cheap watches\n"
    "X-A: wine\n"
    "X-B: we\n"
    "X-Site: http://shopXexample.net/buy\n"
    "X-Site2: see http://shop.example.net/buy\n"
    "X-Upper: ALICE\n"
    "X-Watches: watches\n"
    "X-Hello: Hello\n"
    "X-Cheap: Cheap\n"
    "X-Chain: ch\n"
    "X-Chain2: ch42\n"
    "\n"
    "Hello, Alice we want wine\n"
    "\n"
    "visit http://shop.example.net/buy or http://click.example.net/a?e=bob@example.org\n"
    "literal %{HELLO_NAME} here ch42\n";

START_TEST(captured_tags)
{
    pair_t p;
    pair_load(&p,
        "header __TO_ADDR To:addr =~ /(?<TO_ADDR>.*)/\n"
        "uri URI_HAS_TO /^https?:\\/\\/.{4,64}\\?e=%{TO_ADDR}/i\n"
        "uri URI_HAS_TO_OPT /^https?:\\/\\/shop(?:%{TO_ADDR})?/\n"
        "body __HELLO /\\bHello, (?<HELLO_NAME>\\w+)\\b/\n"
        "header NAME_IN_FROM From =~ /\\b%{HELLO_NAME}\\b/i\n"
        "header NAME_UPPER_I X-Upper =~ /^%{HELLO_NAME}$/i\n"
        "header NAME_UPPER X-Upper =~ /^%{HELLO_NAME}$/\n"
        "header NAME_NOT_IN_SUBJ Subject !~ /%{HELLO_NAME}/\n"
        "header UNSET_TAG From =~ /%{NO_SUCH_TAG}/\n"
        "header UNSET_NEG Subject !~ /%{NO_SUCH_TAG}/\n"
        "body LITERAL /\\%{HELLO_NAME}/\n"
        "body ALT_T /nothing|%{HELLO_NAME}/\n"
        "body __SITE /visit (?<SITE>\\S+)/\n"
        "header SITE_DOTS X-Site =~ /%{SITE}/\n"
        "header SITE_DOTS_G X-Site =~ /(?:%{SITE})/\n"
        "header SITE_OK X-Site2 =~ /%{SITE}/\n"
        "body __W /\\b(?<WW>w\\w+)/i\n"
        "tflags __W multiple maxhits=2\n"
        "header WW_WINE X-A =~ /^%{WW}$/\n"
        "header WW_WE X-B =~ /^%{WW}$/\n"
        "body __FIRST /\\b(?<FIRSTW>w\\w+)/i\n"
        "header FIRST_WE X-B =~ /^%{FIRSTW}$/\n"
        "header FIRST_WATCHES X-Watches =~ /^%{FIRSTW}$/\n"
        /* the same tag from a body rule (first in the file) and a header
         * rule: SpamAssassin runs header rules first, the body's value stays */
        "body __BT /(?<TT>Hello)/\n"
        "header __HT Subject =~ /(?<TT>Cheap)/\n"
        "header TT_HELLO X-Hello =~ /^%{TT}$/\n"
        "header TT_CHEAP X-Cheap =~ /^%{TT}$/\n"
        /* a template rule that captures runs with the captures, so a rule
         * earlier in the file can use what it sets */
        "header T_CHAIN X-Chain2 =~ /^%{YB}$/\n"
        "header __HX X-Chain =~ /(?<XA>ch)/\n"
        "body __B2 /(?<YB>%{XA}\\d+)/\n");
    pair_run(&p, MSG_CAP, NULL);
    ck_assert(val(&p, "__TO_ADDR") == 1);
    ck_assert(val(&p, "URI_HAS_TO") == 1);
    ck_assert(val(&p, "URI_HAS_TO_OPT") == 1);
    ck_assert(val(&p, "NAME_IN_FROM") == 1);
    ck_assert(val(&p, "NAME_UPPER_I") == 1);
    ck_assert(val(&p, "NAME_UPPER") == 0);
    ck_assert(val(&p, "NAME_NOT_IN_SUBJ") == 1);
    ck_assert(val(&p, "UNSET_TAG") == 0);
    ck_assert(val(&p, "UNSET_NEG") == 0);      /* not run at all */
    ck_assert(val(&p, "LITERAL") == 1);        /* \%{...} is literal text */
    ck_assert(val(&p, "ALT_T") == 1);
    ck_assert(val(&p, "SITE_DOTS") == 0);      /* no value in the string: not built */
    ck_assert(val(&p, "SITE_DOTS_G") == 0);    /* built: the values are quoted */
    ck_assert(val(&p, "SITE_OK") == 1);
    ck_assert(val(&p, "WW_WE") == 1);          /* Subject's "watches", then "we" */
    ck_assert(val(&p, "WW_WINE") == 0);        /* third: past maxhits */
    ck_assert(val(&p, "FIRST_WE") == 0);       /* only the first match counts */
    ck_assert(val(&p, "FIRST_WATCHES") == 1);
    ck_assert(val(&p, "TT_HELLO") == 1);
    ck_assert(val(&p, "TT_CHEAP") == 0);
    ck_assert(val(&p, "__B2") == 1);
    ck_assert(val(&p, "T_CHAIN") == 1);
    /* tags belong to one message */
    pair_run(&p, "From: Alice <alice@example.com>\nSubject: x\n\nno greeting\n", NULL);
    ck_assert(val(&p, "NAME_IN_FROM") == 0);
    ck_assert(val(&p, "NAME_NOT_IN_SUBJ") == 0);
    ck_assert(val(&p, "URI_HAS_TO") == 0);
    pair_free(&p);
}
END_TEST

/* A template rule whose pattern, templates as wildcards, misses every
 * string that holds the tag's value is answered without building it
 * (rules.c, tmpl_skeleton): the same values as when built. */
START_TEST(captured_tags_skeleton)
{
    pair_t p;
    pair_load(&p,
        "header __TO_ADDR To:addr =~ /(?<TO_ADDR>.*)/\n"
        "uri SK_HIT /^https?:\\/\\/click\\.example\\.net\\/.{1,20}\\?e=%{TO_ADDR}/i\n"
        "uri SK_MISS /^https?:\\/\\/storage\\.example\\.com\\/.{4,128}\\#%{TO_ADDR}/i\n"
        "header SK_NEG X-Link !~ /^https?:\\/\\/storage\\.example\\.com\\/\\#%{TO_ADDR}/\n"
        "header SK_NEG_HIT X-Link !~ /^https?:\\/\\/other\\.example\\.com\\/\\#%{TO_ADDR}/\n"
        /* the wildcard spans more than the value: the built pattern misses */
        "header SK_WIDER X-Link2 =~ /^https?:\\/\\/other\\.example\\.com\\/\\#%{TO_ADDR}x/\n"
        "header SK_ATOMIC X-Link =~ /^(?>https?:\\/\\/other\\.example\\.com\\/\\#)%{TO_ADDR}$/\n"
        "header SK_GROUP X-Link =~ /^https?:\\/\\/other\\.example\\.com\\/\\#(?:%{TO_ADDR})$/\n"
        "header SK_AFTER X-Link =~ /%{TO_ADDR}(?<=\\.org)$/\n");
    pair_run(&p,
        "From: a@example.com\n"
        "To: bob@example.org\n"
        "X-Link: http://other.example.com/#bob@example.org\n"
        "X-Link2: http://other.example.com/#bob@example.org and x\n"
        "Subject: s\n"
        "\n"
        "see http://click.example.net/a?e=bob@example.org now\n", NULL);
    static const struct { const char *rule; int want; } W[] = {
        {"SK_HIT", 1}, {"SK_MISS", 0}, {"SK_NEG", 1}, {"SK_NEG_HIT", 0},
        {"SK_WIDER", 0}, {"SK_ATOMIC", 1}, {"SK_GROUP", 1}, {"SK_AFTER", 1},
    };
    for (size_t i = 0; i < sizeof W / sizeof *W; i++)
        ck_assert_msg(val(&p, W[i].rule) == W[i].want, "%s", W[i].rule);
    pair_free(&p);
}
END_TEST

/* A capture rule with more groups than the scratch's match data holds. */
START_TEST(captured_tags_many_groups)
{
    tg_buf cf;
    tg_buf_init(&cf);
    tg_buf_adds(&cf, "body __MANY /");
    for (int i = 0; i < 70; i++)
        tg_buf_adds(&cf, "()");
    tg_buf_adds(&cf, "Hello, (?<MANY_NAME>\\w+)/\n"
                     "header MANY_IN_FROM From =~ /%{MANY_NAME}/\n");
    tg_buf_addc(&cf, '\0');
    pair_t p;
    pair_load(&p, cf.s);
    pair_run(&p, MSG_CAP, NULL);
    ck_assert(val(&p, "__MANY") == 1);
    ck_assert(val(&p, "MANY_IN_FROM") == 1);
    pair_free(&p);
    tg_buf_free(&cf);
}
END_TEST

/* A MIME entity's header that occurs twice: mimeheader rules see only the
 * last field (MIMEHeader.pm reads Node::get_header in scalar context),
 * header rules every field. */
START_TEST(mimeheader_last_field)
{
    pair_t p;
    pair_load(&p,
        "mimeheader MH_ATT Content-Disposition =~ /attachment/\n"
        "mimeheader MH_INL Content-Disposition =~ /^inline$/\n"
        "mimeheader MH_RAW Content-Disposition:raw =~ /^ ?inline\\s*$/\n"
        "mimeheader MH_ROOT_DESC Content-Description =~ /^second$/\n"
        "header H_DESC Content-Description =~ /first\\nsecond/\n");
    pair_run(&p,
        "From: a@example.com\n"
        "Content-Description: first\n"
        "Content-Description: second\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=b\n"
        "\n"
        "--b\n"
        "Content-Type: text/plain\n"
        "Content-Disposition: attachment; filename=a.exe\n"
        "Content-Disposition: inline\n"
        "\n"
        "text\n"
        "--b--\n", NULL);
    ck_assert(val(&p, "MH_ATT") == 0);
    ck_assert(val(&p, "MH_INL") == 1);
    ck_assert(val(&p, "MH_RAW") == 1);
    ck_assert(val(&p, "MH_ROOT_DESC") == 1);
    ck_assert(val(&p, "H_DESC") == 1);
    pair_free(&p);
}
END_TEST

START_TEST(case_folding_latin1)
{
    pair_t p;
    pair_load(&p,
        "header L_I Subject:raw =~ /k\\xf6ln/i\n"  /* \xf6 under /i also matches \xd6 */
        "header L_NOI Subject:raw =~ /k\\xf6ln/\n"
        "header L_RAW Subject:raw =~ /gr\xdc\xdf""e/i\n"
        "header L_CLASS Subject:raw =~ /m[\\xfc\\xfd]nchen/i\n"
        "header L_RANGE Subject:raw =~ /M[\\xe0-\\xfe]NCHEN/i\n"
        "header L_NEG Subject:raw =~ /K[^\\xf6]LN/i\n"
        "header L_INLINE Subject:raw =~ /(?i)K\\xf6LN/\n"
        "header A_I Subject:raw =~ /AUS K/i\n"
        "header A_NOI Subject:raw =~ /AUS K/\n"
        "body LB_I /k\\xf6ln/i\n"
        "rawbody LR_I /k\\xf6ln/i\n"
        "full LF_I /k\\xf6ln/i\n");
    pair_run(&p, MSG_L1, NULL);
    ck_assert(val(&p, "LF_I") == 1);
    ck_assert(val(&p, "L_I") == 1);
    ck_assert(val(&p, "L_NOI") == 0);
    ck_assert(val(&p, "L_RAW") == 1);
    ck_assert(val(&p, "L_CLASS") == 1);
    ck_assert(val(&p, "L_RANGE") == 1);
    ck_assert(val(&p, "L_NEG") == 0);
    ck_assert(val(&p, "L_INLINE") == 1);
    ck_assert(val(&p, "A_I") == 1);
    ck_assert(val(&p, "A_NOI") == 0);
    /* exact: the Latin-1 pairs are spelt out for Vectorscan (hsexpr) */
    ck_assert_int_eq(path(&p, "L_I"), FAST_EXACT);
    ck_assert_int_eq(path(&p, "L_RANGE"), FAST_EXACT);
    ck_assert_int_eq(path(&p, "L_NEG"), FAST_EXACT);
    ck_assert_int_eq(path(&p, "L_INLINE"), FAST_EXACT);
    ck_assert_int_eq(path(&p, "L_NOI"), FAST_EXACT);
    ck_assert_int_eq(path(&p, "A_I"), FAST_EXACT);
    pair_free(&p);
}
END_TEST

START_TEST(empty_matches_and_multiple)
{
    pair_t p;
    pair_load(&p,
        "body E_STAR /x*/\n"
        "body E_EMPTYLINE /^$/\n"
        "body M_BUY /buy/i\n"
        "tflags M_BUY multiple\n"
        "body M_MAX /buy/i\n"
        "tflags M_MAX multiple maxhits=2\n"
        "body M_EMPTY /\\b/\n"
        "tflags M_EMPTY multiple\n"
        "rawbody M_RAW /u/\n"
        "tflags M_RAW multiple\n"
        "body M_NONE /zzzz/\n"
        "tflags M_NONE multiple\n");
    pair_run(&p, MSG, NULL);
    ck_assert(val(&p, "E_STAR") == 1);
    ck_assert(val(&p, "M_BUY") == 5);
    ck_assert(val(&p, "M_MAX") == 2);
    ck_assert(val(&p, "M_EMPTY") > 10);
    ck_assert(val(&p, "M_NONE") == 0);
    pair_free(&p);
}
END_TEST

START_TEST(headers_negation_unset)
{
    pair_t p;
    pair_load(&p,
        "header H_SUBJ Subject =~ /watches/\n"
        "header H_NEG Subject !~ /watches/\n"
        "header H_NEG2 Subject !~ /rolex/\n"
        "header H_ABSENT X-Mailer =~ /^$/\n"
        "header H_ABSENT_NEG X-Mailer !~ /./\n"
        "header H_UNSET X-Mailer =~ /^none$/ [if-unset: none]\n"
        "header H_UNSET_NEG X-Mailer !~ /none/ [if-unset: none]\n"
        "header H_SET_UNSET Subject =~ /none/ [if-unset: none]\n"
        "header H_ADDR From:addr =~ /^alice\\@example\\.com$/\n"
        "header H_NAME From:name =~ /^Alice/\n"
        "header H_ALL ALL =~ /^To: bob/m\n"
        "header H_CASE subject =~ /Cheap/\n"
        "header H_MULTI Subject =~ /e/\n"
        "tflags H_MULTI multiple\n"
        "mimeheader MH_CT Content-Type =~ /iso-8859-1/\n"
        "mimeheader MH_NEG Content-Type !~ /utf-8/\n"
        "mimeheader MH_UNSET X-Foo =~ /^dflt$/ [if-unset: dflt]\n"
        "helo HELO_X =~ /example/\n"
        "helo HELO_NEG !~ /example/\n"
        "envfrom EF_EMPTY =~ /^$/\n"
        "envrcpt RC_ANY =~ /carol/\n"
        "envrcpt RC_NEG !~ /carol/\n"
        "attachment AT_NAME filename =~ /\\.exe$/i\n"
        "attachment AT_TYPE type =~ /^text\\//\n");
    pair_run(&p, MSG, NULL);
    ck_assert(val(&p, "H_SUBJ") == 1);
    ck_assert(val(&p, "H_NEG") == 0);
    ck_assert(val(&p, "H_NEG2") == 1);
    ck_assert(val(&p, "H_ABSENT") == 1);
    ck_assert(val(&p, "H_ABSENT_NEG") == 1);
    ck_assert(val(&p, "H_UNSET") == 1);
    ck_assert(val(&p, "H_UNSET_NEG") == 0);
    ck_assert(val(&p, "H_SET_UNSET") == 0);
    ck_assert(val(&p, "H_ADDR") == 1);
    ck_assert(val(&p, "H_CASE") == 1);
    ck_assert(val(&p, "H_MULTI") == 2);
    ck_assert(val(&p, "MH_CT") == 1);
    ck_assert(val(&p, "MH_UNSET") == 1);
    ck_assert(val(&p, "EF_EMPTY") == 1); /* NULL envelope sender matches "" */
    ck_assert(val(&p, "RC_NEG") == 1);   /* no recipients: none matches */
    static const char *const rcpts[] = {"bob@example.org", "carol@example.net"};
    rules_env_t env = {.helo = "mx.example.com", .mail_from = "a@b.example",
                       .rcpts = rcpts, .nrcpts = 2};
    pair_run(&p, MSG, &env);
    ck_assert(val(&p, "HELO_X") == 1);
    ck_assert(val(&p, "HELO_NEG") == 0);
    ck_assert(val(&p, "EF_EMPTY") == 0);
    ck_assert(val(&p, "RC_ANY") == 1);
    ck_assert(val(&p, "RC_NEG") == 0);
    pair_free(&p);
}
END_TEST

/* mimeheader rules see every MIME entity, as SpamAssassin's MIMEHeader
 * (find_parts(qr/./)): the message itself, multipart containers, the
 * message/rfc822 part and the message inside it, not only the leaves. */
START_TEST(mimeheader_every_entity)
{
    static const char *const nested =
        "From: outer@example.org\n"
        "Subject: hello there\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"o\"\n"
        "\n"
        "--o\n"
        "Content-Type: text/plain\n"
        "\n"
        "see attached\n"
        "--o\n"
        "Content-Type: message/rfc822\n"
        "\n"
        "From: inner@example.net\n"
        "Subject: inner\n"
        "Content-Type: multipart/alternative; boundary=\"i\"\n"
        "\n"
        "--i\n"
        "Content-Type: text/html\n"
        "\n"
        "<p>hi</p>\n"
        "--i--\n"
        "--o--\n";
    msg_t *m = msg_new(NULL);
    msg_feed(m, nested, strlen(nested));
    msg_finish(m);
    ck_assert_uint_eq(msg_nparts(m), 2);   /* leaves: text/plain, text/html */
    ck_assert_uint_eq(msg_nnodes(m), 5);
    static const char *const order[] = {"multipart/mixed", "text/plain", "message/rfc822",
                                        "multipart/alternative", "text/html"};
    tg_buf b;
    tg_buf_init(&b);
    for (size_t i = 0; i < 5; i++) {
        tg_buf_reset(&b);
        ck_assert(msg_node_header(m, i, "Content-Type", MSG_H_DECODED, &b));
        ck_assert_msg(strncmp(b.s, order[i], strlen(order[i])) == 0, "node %zu: %s", i, b.s);
    }
    tg_buf_free(&b);
    msg_free(m);

    pair_t p;
    pair_load(&p,
        "mimeheader MH_ROOT Content-Type =~ /multipart\\/mixed/\n"
        "mimeheader MH_SUBJ Subject =~ /hello/\n"
        "mimeheader MH_RFC822 Content-Type =~ /message\\/rfc822/\n"
        "mimeheader MH_INNER From =~ /inner\\@/\n"
        "mimeheader MH_ALT Content-Type =~ /multipart\\/alternative/\n"
        "mimeheader MH_LEAF Content-Type =~ /text\\/html/\n"
        "mimeheader MH_NEG Content-Type !~ /multipart\\/mixed/\n"
        "mimeheader MH_NONE Content-Type =~ /image\\//\n");
    pair_run(&p, nested, NULL);
    ck_assert(val(&p, "MH_ROOT") == 1);
    ck_assert(val(&p, "MH_SUBJ") == 1);
    ck_assert(val(&p, "MH_RFC822") == 1);
    ck_assert(val(&p, "MH_INNER") == 1);
    ck_assert(val(&p, "MH_ALT") == 1);
    ck_assert(val(&p, "MH_LEAF") == 1);
    ck_assert(val(&p, "MH_NEG") == 0);
    ck_assert(val(&p, "MH_NONE") == 0);
    pair_free(&p);
}
END_TEST

/* Header names group into classes the way they read: ALL and MESSAGEID
 * only in that spelling ("all" is a header named all), others in any case;
 * and an escaped raw Latin-1 byte in a rule (a Latin-1 rule file) folds
 * under /i as PCRE2 folds it. */
START_TEST(header_spellings_and_escaped_bytes)
{
    static const char *const msg =
        "From: a@example.org\nSubject: CAF\xc9 ole\nMessage-ID: <x@y>\n\nbody\n";
    for (int order = 0; order < 2; order++) {
        pair_t p;
        pair_load(&p, order ?
            "header U ALL =~ /Subject/\nheader L all =~ /Subject/\n"
            "header MU MESSAGEID =~ /x\\@y/\nheader ML messageid =~ /x\\@y/\n"
            "header S1 subject =~ /ole/\nheader S2 SUBJECT =~ /ole/\n" :
            "header L all =~ /Subject/\nheader U ALL =~ /Subject/\n"
            "header ML messageid =~ /x\\@y/\nheader MU MESSAGEID =~ /x\\@y/\n"
            "header S2 SUBJECT =~ /ole/\nheader S1 subject =~ /ole/\n");
        pair_run(&p, msg, NULL);
        ck_assert(val(&p, "U") == 1);
        ck_assert(val(&p, "L") == 0);
        ck_assert(val(&p, "MU") == 1);
        ck_assert(val(&p, "ML") == 0);
        ck_assert(val(&p, "S1") == 1 && val(&p, "S2") == 1);
        pair_free(&p);
    }
    pair_t p;
    pair_load(&p, "header E Subject:raw =~ /caf\\\xe9 /i\n"
                  "header N Subject:raw =~ /caf\\\xe8 /i\n");
    pair_run(&p, msg, NULL);
    ck_assert(val(&p, "E") == 1);
    ck_assert(val(&p, "N") == 0);
    pair_free(&p);
}
END_TEST

START_TEST(paths_prefilter_and_pcre)
{
    pair_t p;
    pair_load(&p,
        "body P_LOOKBEHIND /(?<!Buy )buy\\b/\n"
        "body P_BACKREF /\\b(\\w)\\1/\n"
        "body P_LOOKAHEAD /watches(?= and)/\n"
        "body P_POSSESSIVE /b++uy/\n"
        "body P_ATOMIC /(?>Bu)y/\n"
        "body P_COND /(a)?(?(1)b|c)/\n"
        "body P_REDOS /^(a+)+$/\n"
        "body P_LIMIT /(a+)+b/\n"
        "body P_EXTENDED /wat ches/x\n"
        "body P_BACKREF_MISS /(z)\\1\\1/\n"
        "body P_COUNTED /(?:[a-z]{2,}\\s){3}/\n");
    pair_run(&p, MSG, NULL);
    ck_assert(val(&p, "P_LOOKBEHIND") == 1);
    ck_assert(val(&p, "P_BACKREF") == 0 || val(&p, "P_BACKREF") == 1);
    ck_assert(val(&p, "P_EXTENDED") == 1);
    ck_assert(val(&p, "P_BACKREF_MISS") == 0);
    ck_assert_int_eq(path(&p, "P_LOOKBEHIND"), FAST_PREFILTER);
    ck_assert_int_eq(path(&p, "P_BACKREF_MISS"), FAST_PREFILTER);
    /* nested repeats: in the database, every report confirmed by PCRE2 */
    ck_assert_int_eq(path(&p, "P_REDOS"), FAST_PREFILTER);
    ck_assert_int_eq(path(&p, "P_LIMIT"), FAST_PREFILTER);
    ck_assert_int_eq(path(&p, "P_EXTENDED"), FAST_EXACT);
    /* exact (it reports on ordinary text, so it is not relaxed for speed):
     * one report is a match, however few ends it has */
    pair_run(&p, "Subject: ab\n\nab ab ab here\n", NULL);
    ck_assert(val(&p, "P_COUNTED") == 1);
    ck_assert_int_eq(path(&p, "P_COUNTED"), FAST_EXACT);
    pair_run(&p, "Subject: aa\n\nbook keeping\n", NULL);
    ck_assert(val(&p, "P_BACKREF") == 1);
    /* where PCRE2 stops at its match limit, the fast matcher answers as
     * the oracle does although Vectorscan finds the match */
    pair_run(&p, "Subject: x\n\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac aab\n", NULL);
    pair_free(&p);
}
END_TEST

/* The ReplaceTags definitions of the SpamAssassin rules and the body
 * rules names[0..n) (with their replace_rules lines), as one .cf text;
 * NULL if a rule is not found there. */
static char *sa_rules(const char *const *names, size_t n)
{
    tg_buf b;
    tg_buf_init(&b);
    size_t have = 0;
    char **files = NULL;
    size_t nf = 0, cap = 0;
    unsigned char *found = tg_calloc(n + 1, 1);
    DIR *d = opendir("/usr/share/spamassassin");
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l > 3 && !strcmp(e->d_name + l - 3, ".cf")) {
            tg_grow(&files, &cap, nf + 1, sizeof *files);
            files[nf++] = tg_strdup(e->d_name);
        }
    }
    if (d)
        closedir(d);
    for (size_t i = 0; i < nf; i++) {
        char path[512], line[8192];
        snprintf(path, sizeof path, "/usr/share/spamassassin/%s", files[i]);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f)) {
            const char *p = line + strspn(line, " \t");
            int tag = !strncmp(p, "replace_", 8) && strncmp(p, "replace_rules", 13);
            int rule = 0;
            for (size_t k = 0; k < n && !rule; k++) {
                const char *q = strstr(p, names[k]);
                size_t nl = strlen(names[k]);
                rule = q && (q[nl] == ' ' || q[nl] == '\t' || q[nl] == '\n' || !q[nl]) &&
                       (!strncmp(p, "body", 4) || !strncmp(p, "replace_rules", 13));
                if (rule && !strncmp(p, "body", 4) && !found[k])
                    found[k] = 1, have++;
            }
            if (tag || rule)
                tg_buf_adds(&b, p);
        }
        if (f)
            fclose(f);
        free(files[i]);
    }
    free(files);
    free(found);
    if (have < n) {
        tg_buf_free(&b);
        return NULL;
    }
    return tg_buf_steal(&b);
}

static char *short2_rules(void)
{
    static const char *const names[] = {"__FILL_THIS_FORM_SHORT2", "__FILL_THIS_FORM_LONG2"};
    return sa_rules(names, 2);
}

/* Index of the class labelled `label` in f, fast_nclasses(f) if none. */
static size_t class_index(const fast_t *f, const char *label)
{
    size_t c = 0;
    for (; c < fast_nclasses(f); c++) {
        fast_class_info_t ci;
        fast_class_info(f, c, &ci);
        if (!strcmp(ci.label, label))
            break;
    }
    return c;
}

/* A profiled run of the fast matcher alone on raw, with the scan memo
 * (memo) or without it (scans counted, none replayed): how many reports
 * its chain test turned down; body_scans[d] (if not NULL) gets the body
 * class's scans of its database d (FAST_DB_*), *memo_hits (if not NULL)
 * the strings the memo replayed. */
static unsigned long profiled_match(pair_t *p, const char *raw, int memo,
                                    unsigned long *body_scans, unsigned long *memo_hits)
{
    msg_t *m = msg_new(NULL);
    msg_feed(m, raw, strlen(raw));
    msg_finish(m);
    rules_scratch_t *sf = rules_scratch_new(p->rf);
    fast_scratch_profile(rules_scratch_get_fast(sf), 1);
    fast_scratch_memo(rules_scratch_get_fast(sf), memo);
    rules_match_all(p->rf, sf, m, NULL, p->vf);
    fast_profile_t pr;
    fast_scratch_get_profile(rules_scratch_get_fast(sf), &pr);
    unsigned long n = pr.chain_rejected;
    if (memo_hits)
        *memo_hits = pr.memo_hits;
    const fast_t *f = rules_get_fast(p->rf);
    size_t c = class_index(f, "body");
    for (int d = 0; body_scans && d < FAST_NDBS; d++)
        body_scans[d] = c < fast_nclasses(f) ? pr.db_scans[c * FAST_NDBS + (size_t)d] : 0;
    rules_scratch_free(sf);
    msg_free(m);
    return n;
}

/* A relaxed (?:G){n} rule's report is confirmed by PCRE2 anchored at the
 * starts of its database expression's matches (reversed scan), after the
 * chain test: a match that begins at a later start than the first,
 * candidates with n ends but no n groups back to back, a chain that
 * starts after a first field that is no part of it, 8-bit text, a
 * header. */
static void starts_case(int fillers);

START_TEST(confirmed_at_match_starts)
{
    starts_case(0);
}
END_TEST

/* The same with 40 more body rules: the body class then has ASCII-form
 * databases, so the feeding, the reversed scan and the chain test run in
 * the ASCII database on ASCII lines and in the full one on the others. */
START_TEST(confirmed_at_match_starts_ascii)
{
    starts_case(1);
}
END_TEST

/* The class labelled `label` of p's fast ruleset has ASCII-form databases. */
static int class_has_ascii(const pair_t *p, const char *label)
{
    const fast_t *f = rules_get_fast(p->rf);
    size_t c = class_index(f, label);
    if (c == fast_nclasses(f))
        return -1;
    fast_class_info_t ci;
    fast_class_info(f, c, &ci);
    return ci.ascii;
}

static void starts_case(int fillers)
{
    char *text = short2_rules();
    if (!text)
        return; /* SpamAssassin's rules are not installed */
    tg_buf t;
    tg_buf_init(&t);
    tg_buf_adds(&t, text);
    if (fillers)
        add_fillers(&t);
    /* the same rule on a header */
    const char *re = NULL;
    for (const char *l = text; l && *l && !re; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, "body", 4) && strstr(l, "__FILL_THIS_FORM_SHORT2") &&
            strstr(l, "__FILL_THIS_FORM_SHORT2") < l + strcspn(l, "\n"))
            re = strchr(l, '/');
    ck_assert_ptr_nonnull(re);
    tg_buf_printf(&t, "replace_rules SUBJ_FORM\nheader SUBJ_FORM Subject =~ %.*s\n",
                  (int)strcspn(re, "\n"), re);
    free(text);
    pair_t p;
    fast_build_info_t cold;
    pair_load_cached(&p, t.s, &cold);
    tg_buf_free(&t);
    const fast_build_info_t *fi = fast_get_info(rules_get_fast(p.rf));
    ck_assert_uint_eq(fi->starts, 3); /* the two body rules, the header copy */
    ck_assert_uint_eq(fi->chains, 3);
    /* SHORT2's unit is LONG2's without an optional group: it takes LONG2's
     * reports and has no expression of its own (feed_rules), also when
     * the ruleset comes from the cache; whichever database each one's
     * compile time would send it to (both take 0.16-0.26 s, either side of
     * FAST_SLOW_COMPILE_S) */
    ck_assert_uint_eq(cold.fed, 1);
    ck_assert_uint_eq(fi->fed, 1);
    ck_assert_int_eq(class_has_ascii(&p, "body"), fillers);
    static const struct { const char *body; int want; } C[] = {
        {"name: ___ phone: ___ address: ___", 1},
        {"your name and x name: ____ phone: ____ address: ____", 1}, /* a later start */
        {"name phone x address -------------- phone", -1},          /* ends, no run */
        {"name: ____ phone x city: ____ country: ____ address: ____", 1},
        {"name:_________ x", 0},                                    /* ends, no run */
        {"the page:  ---------- x", 0},
        /* both body rules reported on one string: each reads its own starts */
        {"name: ___ phone: ___ address: ___ city: ___ country: ___", 1},
        {"x name: ___ phone: ___ address: ___ city: ___", 1},
        {"Full Name:________ Address:________ Country:________", 1},
        {"caf\xe9 name:____ phone:____ city:____", 1},
        {"na\xefve phone name", 0},
        {"phone", 0},
        /* LONG2's optional group after a blank: its unit ends there, SHORT2's not */
        {"name: ___Please write here phone: ___ address: ___", -1},
        {"name: ___ Please fill: ____ phone: ___ address: ___ city: ___", -1},
    };
    for (size_t i = 0; i < sizeof C / sizeof *C; i++) {
        char raw[512];
        snprintf(raw, sizeof raw, "Subject: %s\n\n%s\n", C[i].body, C[i].body);
        pair_run(&p, raw, NULL); /* both matchers agree on both rules */
        if (C[i].want >= 0) {
            ck_assert_msg(val(&p, "__FILL_THIS_FORM_SHORT2") == C[i].want, "%s: %g", C[i].body,
                          val(&p, "__FILL_THIS_FORM_SHORT2"));
            ck_assert_msg(val(&p, "SUBJ_FORM") == C[i].want, "subject %s", C[i].body);
        }
    }
    ck_assert_int_eq(path(&p, "__FILL_THIS_FORM_SHORT2"), FAST_PREFILTER);
    pair_run(&p, "Subject: x\n\nname: ___ phone: ___ address: ___ city: ___ country: ___\n", NULL);
    ck_assert(val(&p, "__FILL_THIS_FORM_LONG2") == 1 && val(&p, "__FILL_THIS_FORM_SHORT2") == 1);
    pair_run(&p, "Subject: x\n\nx name: ___ phone: ___ address: ___ city: ___\n", NULL);
    ck_assert(val(&p, "__FILL_THIS_FORM_LONG2") == 0 && val(&p, "__FILL_THIS_FORM_SHORT2") == 1);
    /* two paragraphs, each reported: the second reads its own starts */
    pair_run(&p, "Subject: x\n\nname:_________ phone x\n\nthe name: ___ phone: ___ city: ___\n",
             NULL);
    ck_assert(val(&p, "__FILL_THIS_FORM_SHORT2") == 1);
    /* one field and a run of blanks ends the unit at many offsets: the
     * report is turned down without PCRE2; three fields back to back pass */
    unsigned long scans[FAST_NDBS];
    ck_assert_uint_gt(profiled_match(&p, "Subject: x\n\nname:_________ x\n", 0, scans, NULL), 0);
    /* by database: two ASCII lines (the Subject's, the form's), each scanned
     * with the class's databases (main, aux: whichever LONG2's compile time
     * chose) in the form the class has, never in the other; the reversed
     * scan for the starts ran on the form's line */
    int sel = fillers ? FAST_DB_MAIN_ASCII : FAST_DB_MAIN;
    int other = fillers ? FAST_DB_MAIN : FAST_DB_MAIN_ASCII;
    ck_assert(scans[sel] + scans[sel + 1] >= 2 && (scans[sel] + scans[sel + 1]) % 2 == 0);
    ck_assert_uint_eq(scans[other] + scans[other + 1], 0);
    ck_assert_uint_eq(scans[FAST_DB_STARTS], 1);
    /* (__FILL_THIS_FORM_LONG2, which needs 5, is turned down there) */
    ck_assert_uint_eq(
        profiled_match(&p, "Subject: x\n\nname:___ phone:___ city:___\n", 0, NULL, NULL), 1);
    ck_assert(val(&p, "__FILL_THIS_FORM_SHORT2") == 1);
    pair_free(&p);
}

/* Lines without bytes >= 0x80 are scanned with the ASCII form of each
 * database, lines with them with the full form: both must give the
 * oracle's values. */
START_TEST(ascii_and_8bit_lines)
{
    pair_t p;
    pair_load(&p,
        "body A_DOT /wat.hes/\n"
        "body A_NONW /prices\\W/\n"
        "body A_NEGCLASS /K[^a-z]LN/i\n"
        "body A_FUZZY /(?:[vV\\xe3]|\\xce\\xbd)(?:[iI1\\xed]|\\xd0\\x86)agra/i\n"
        "body A_HIGH /\\xfc\\xdf/\n"
        "body A_HIGH_I /\\xdc\\xdf/i\n"
        "body A_RANGE /[\\x00-\\xff]{3}nchen/\n"
        "rawbody A_RAW /aus\\s\\S+/\n"
        "header A_SUBJ Subject =~ /\\Wwatches/\n");
    pair_run(&p, MSG, NULL);
    ck_assert(val(&p, "A_DOT") == 1);
    pair_run(&p, "Subject: cheap watches\n\nbuy v\xce\xbd\xd0\x86" "agra and VIAGRA now\n", NULL);
    ck_assert(val(&p, "A_FUZZY") == 1);
    pair_run(&p, "Subject: cheap watches\n\nbuy \xe3\xed" "agra here\n", NULL);
    pair_run(&p, "Subject: plain\n\nnothing to see here\n", NULL);
    ck_assert(val(&p, "A_FUZZY") == 0);
    pair_free(&p);
}
END_TEST

/* Body rules F_0..F_39 (/fillerNword/): enough for the body class to get
 * ASCII databases (FAST_ASCII_MIN_RULES). */
static void add_fillers(tg_buf *cf)
{
    for (int i = 0; i < 40; i++)
        tg_buf_printf(cf, "body F_%d /filler%dword/\n", i, i);
}

/* pair_load_cached of the fillers and then rules. */
static void pair_load_filled(pair_t *p, const char *rules, fast_build_info_t *cold)
{
    tg_buf cf;
    tg_buf_init(&cf);
    add_fillers(&cf);
    tg_buf_adds(&cf, rules);
    pair_load_cached(p, cf.s, cold);
    tg_buf_free(&cf);
}

/* A PCRE-path rule ^C{n} under /m (__LONGLINE's ^[^\r\n]{998}, which the
 * full class runs on PCRE2) is told from the line lengths and C's bytes:
 * the oracle's values on lines just under, at and over n, with a CR
 * inside or at the end, the first and the last line, a class with /i. */
START_TEST(line_runs_without_pcre2)
{
    pair_t p;
    pair_load(&p, "full LL_FULL /^[^\\r\\n]{998}/m\n"
                  "body LL_BODY /^[^xyz\\n]{12}/im\n"
                  "body LL_NOTM /^[^\\r\\n]{12}/\n"
                  "full LL_DOT /^.{998}/m\n");
    /* LL_FULL on the PCRE path as __LONGLINE (cheaper there than its
     * automaton); LL_BODY too if its routing puts it there */
    ck_assert_int_eq(path(&p, "LL_FULL"), FAST_PCRE);
    ck_assert_uint_eq(fast_get_info(rules_get_fast(p.rf))->line_runs,
                      1 + (path(&p, "LL_BODY") == FAST_PCRE));
    static char l39[998], l40[999]; /* 997 and 998 bytes */
    memset(l39, 'a', 997), l39[997] = 0;
    memset(l40, 'b', 998), l40[998] = 0;
    static const char *const fmt[] = {
        "Subject: %s\n\n%s\n",           /* 39, 40 */
        "Subject: s\n\n%s\r\n%s\r\n",    /* CRLF after each */
        "Subject: s\n\n%s\n%s",          /* the last line without \n */
        "Subject: s\n\nshort\n\n%s\r%s\n", /* a CR inside */
    };
    for (size_t i = 0; i < sizeof fmt / sizeof *fmt; i++)
        for (int swap = 0; swap < 2; swap++) {
            char raw[2200];
            snprintf(raw, sizeof raw, fmt[i], swap ? l40 : l39, swap ? l39 : l40);
            pair_run(&p, raw, NULL); /* asserts the oracle's values */
            /* (a CR is no line start: 997 bytes, CR, 998 is no match) */
            ck_assert_msg(val(&p, "LL_FULL") == (i == 3 && !swap ? 0 : 1), "%zu %d", i, swap);
        }
    pair_run(&p, "Subject: s\n\nshort\r\nlines\r\nonly\n", NULL);
    ck_assert(val(&p, "LL_FULL") == 0);
    pair_run(&p, "Subject: s\n\nabcdefghijkl\n", NULL);
    ck_assert(val(&p, "LL_BODY") == 1);
    pair_run(&p, "Subject: s\n\nabcdefghijkX more\n", NULL); /* X is x under /i */
    ck_assert(val(&p, "LL_BODY") == 0);
    char raw[1100];
    snprintf(raw, sizeof raw, "Subject: s\n\n%s\r\n", l39);
    pair_run(&p, raw, NULL);
    ck_assert(val(&p, "LL_FULL") == 0);
    /* short lines before and after the long one, which starts at every
     * offset from some window's edge (line_run skips by windows) */
    for (int pre = 0; pre < 14; pre++) {
        char big[3200];
        int k = snprintf(big, sizeof big, "Subject: s\n\n");
        for (int j = 0; j < pre * 7; j++)
            k += snprintf(big + k, sizeof big - (size_t)k, "%.*s\n", j % 9, "zzzzzzzzz");
        snprintf(big + k, sizeof big - (size_t)k, "%s\nab\n%s\n", pre % 2 ? l39 : l40, l39);
        pair_run(&p, big, NULL);
        ck_assert_msg(val(&p, "LL_FULL") == (pre % 2 ? 0 : 1), "pre %d", pre);
    }
    pair_free(&p);
}
END_TEST


/* Header rules that pair two lines through a walk over whole lines are
 * matched against each line that begins with A's literal together with
 * the lines after it that begin with B's (walk_count); the values stay the
 * oracle's on the edges of that: the first line, a match of B inside A's
 * line (with and without a B line after it), A ending at its line's \n,
 * lines the bounded walks cannot cross (a B line among them, which is
 * still a candidate but ends the walk), several A lines of
 * which only a later one pairs, several B lines of which only a later
 * one pairs, a B line that is also an A line, case, ^ and $ under /m. */
START_TEST(line_walks_exact)
{
    pair_t p;
    pair_load(&p, "header LW_RCVD ALL =~ /\\nReceived:[^\\n]{0,200} for <?([^\\n\\s>;]+)>?;"
                  "(?:[^\\n]+\\n+)*Subject: [^\\n]{0,100}\\1[^a-z0-9]/ism\n"
                  "header LW_FROMTO ALL =~ /\\nFrom: (?:[^\\n<]{0,80}<)?([^\\n\\s>]+)>?\\n+"
                  "(?:[^\\n]{1,100}\\n+)*To: (?:[^\\n]{0,80}<)?\\1[>,\\s\\n]/ism\n"
                  "header LW_TOSUBJ ALL =~ /\\nTo: (?:[^\\n<]{0,80}<)?([^\\n\\s>,]+)>?\\n+"
                  "(?:[^\\n]{1,30}\\n+)*Subject: [^\\n]{0,100}\\1[^a-z0-9]/ism\n"
                  "header LW_CARET ALL =~ /^X-A: (\\w+)\\n+(?:[^\\n]{1,50}\\n+)*^X-B: \\1$/m\n");
    static const char *const names[] = {"LW_RCVD", "LW_FROMTO", "LW_TOSUBJ", "LW_CARET"};
    size_t walks = 0;
    for (size_t i = 0; i < 4; i++)
        walks += path(&p, names[i]) == FAST_PCRE;
    ck_assert_uint_eq(fast_get_info(rules_get_fast(p.rf))->line_walks, walks);
    ck_assert_uint_eq(walks, 4); /* no prefilter: a backreference in each */
    char x40[41], x70[71], x150[151];
    memset(x40, 'k', 40), x40[40] = 0;
    memset(x70, 'k', 70), x70[70] = 0;
    memset(x150, 'k', 150), x150[150] = 0;
    const char *pads[] = {x40, x70, x150}; /* in "X-Pad: %s": 47, 77, 157 bytes */
    static const struct {
        const char *fmt;
        int want[4];    /* the values of names[], as the oracle gives them */
        int by_pad;     /* the rule whose value the pad decides (-1: none):
                           1 with the first `crossed` pads, 0 with the others */
        size_t crossed;
    } M[] = {
        {"X-First: 1\nReceived: from a by b for <bob@x.org>; Mon\nX-Mid: %s\nSubject: hi bob@x.org !\n\nb\n",
         {1, 0, 0, 0}, -1, 0},
        /* Subject before the Received line */
        {"X-First: 1\nSubject: hi bob@x.org !\nReceived: from a by b for <bob@x.org>; Mon\n\nb\n",
         {0, 0, 0, 0}, -1, 0},
        /* B inside A's line, where the walk takes no line */
        {"X-First: 1\nReceived: from a by b for <z@y>;Subject: z@y !\n\nb\n", {1, 0, 0, 0}, -1, 0},
        /* A ends at its line's end: the walk cannot start */
        {"X-First: 1\nReceived: from a by b for <bob@x.org>;\nSubject: hi bob@x.org !\n\nb\n",
         {0, 0, 0, 0}, -1, 0},
        /* the first line has no \n before it */
        {"Received: from a by b for <bob@x.org>; Mon\nX-Mid: %s\nSubject: hi bob@x.org !\n\nb\n",
         {0, 0, 0, 0}, -1, 0},
        /* lower case under /i; X-B before X-A */
        {"X-B: w\nreceived: from a for <q@r>; x\nsubject: Q@R.\nX-A: w\n\nb\n", {1, 0, 0, 0}, -1, 0},
        /* LW_FROMTO's walk (bound 100) crosses the 47- and 77-byte lines,
         * not the 157-byte one (a row of '#' in walk_text) */
        {"X-First: 1\nFrom: <u@d.example>\nX-Pad: %s\nTo: u@d.example\nSubject: re u@d.example!\n\nb\n",
         {0, 0, 1, 0}, 1, 2},
        /* LW_TOSUBJ's (30) crosses no long line, a literal one included */
        {"X-First: 1\nTo: t@e.example\nFrom: long%s\nSubject: re t@e.example!\n\nb\n", {0, 0, 0, 0}, -1, 0},
        {"X-First: 1\nTo: t@e.example\nFrom: short\nSubject: re t@e.example!\n\nb\n", {0, 0, 1, 0}, -1, 0},
        {"X-First: 1\nTo: t@e.example\nX-Short: s\nSubject: re t@e.example!\n\nb\n", {0, 0, 1, 0}, -1, 0},
        {"X-First: 1\nTo: t@e.example\nX-Pad: %s\nSubject: re t@e.example!\n\nb\n", {0, 0, 0, 0}, -1, 0},
        /* ^ and $ under /m, case kept, the last header line; LW_CARET's
         * walk (50) crosses the 47-byte line only */
        {"X-First: 1\nX-A: word\nX-Pad: %s\nX-B: word\n\nb\n", {0, 0, 0, 0}, 3, 1},
        {"X-First: 1\nX-A: word\nX-Pad: %s\nx-b: word\n\nb\n", {0, 0, 0, 0}, -1, 0},
        {"X-First: 1\nX-A: word\nX-B: words\n\nb\n", {0, 0, 0, 0}, -1, 0},
        /* several A lines, only the second pairs; several B lines, only
         * the second pairs; no B line at all but B inside A's line */
        {"X-First: 1\nReceived: a for <p@q>; x\nReceived: b for <bob@x.org>; y\n"
         "X-Mid: %s\nSubject: none\nSubject: hi bob@x.org !\n\nb\n", {1, 0, 0, 0}, -1, 0},
        {"X-First: 1\nReceived: a for <p@q>; x\nReceived: b for <bob@x.org>; y\n"
         "Subject: hi p@qq\n\nb\n", {0, 0, 0, 0}, -1, 0},
        {"X-First: 1\nReceived: a for <z@y>;Subject: z@y !\nX-Last: 1\n\nb\n", {1, 0, 0, 0}, -1, 0},
        /* a B line over the bound is a candidate and ends the walk:
         * LW_TOSUBJ (30) pairs with the long Subject, not the one after */
        {"X-First: 1\nTo: t@e.example\nSubject: re t@e.example! %s\nX-B: 1\n\nb\n", {0, 0, 1, 0}, -1, 0},
        {"X-First: 1\nTo: t@e.example\nSubject: none %s\nSubject: re t@e.example!\n\nb\n",
         {0, 0, 0, 0}, -1, 0},
        /* the same line both A and B (LW_CARET's X-A/X-B made one name) */
        {"X-First: 1\nX-A: w\nX-A: v\nX-B: v\n\nb\n", {0, 0, 0, 1}, -1, 0},
    };
    for (size_t i = 0; i < sizeof M / sizeof *M; i++) {
        size_t npads = strstr(M[i].fmt, "%s") ? 3 : 1;
        for (size_t k = 0; k < npads; k++) {
            char raw[800];
            snprintf(raw, sizeof raw, M[i].fmt, pads[k]);
            pair_run(&p, raw, NULL); /* asserts the oracle's values */
            for (int r = 0; r < 4; r++) {
                int want = r == M[i].by_pad ? k < M[i].crossed : M[i].want[r];
                ck_assert_msg(val(&p, names[r]) == want, "row %zu pad %zu %s: %g", i, k,
                              names[r], val(&p, names[r]));
            }
        }
    }
    pair_free(&p);
}
END_TEST


/* A walk rule whose A or B begins with a lead after its literal
 * (__TO_EQ_FROM_USR_1's From:\s+ and To:\s+) keeps to its lines, unless
 * a header holds nothing but the lead's bytes after the literal: then
 * the lead runs on into the next line and PCRE2 runs on the whole block.
 * The oracle's values on both sides of that, the lead after A's literal
 * and after B's. */
START_TEST(line_walk_leads)
{
    pair_t p;
    pair_load(&p, "header LW_USR ALL =~ /\\nFrom:\\s+(?:[^\\n<]{0,80}<)?([^\\n\\s\\@>]+)\\@"
                  "[^\\n\\s]+>?\\n+(?:[^\\n]{1,100}\\n+)*To:\\s+(?:[^\\n]{0,80}<)?"
                  "\\1[\\@>,\\s\\n]/ism\n");
    ck_assert_int_eq(path(&p, "LW_USR"), FAST_PCRE);
    ck_assert_uint_eq(fast_get_info(rules_get_fast(p.rf))->line_walks, 1);
    static const struct {
        const char *raw;
        int want;
    } M[] = {
        {"X-First: 1\nFrom: Ann <u@d.example>\nX-Y: 1\nTo:  u@d.example\n\nb\n", 1},
        {"X-First: 1\nFrom: Ann <u@d.example>\nX-Y: 1\nTo: v@d.example\n\nb\n", 0},
        /* From: empty: \s+ takes its \n, A goes on in X-Y's line */
        {"X-First: 1\nFrom:\nX-Y: <u@d.example>\nTo: u@d.example\n\nb\n", 1},
        {"X-First: 1\nFrom:\nX-Y: <v@d.example>\nTo: u@d.example\n\nb\n", 0},
        /* To: empty: B goes on in X-Z's line */
        {"X-First: 1\nFrom: <u@d.example>\nTo:\nX-Z: <u@d.example>\n\nb\n", 1},
        {"X-First: 1\nFrom: <u@d.example>\nTo:\nX-Z: <v@d.example>\n\nb\n", 0},
        /* an empty To: elsewhere sends the block to PCRE2 whole: same value */
        {"X-First: 1\nTo:\nFrom: <u@d.example>\nTo: u@d.example\n\nb\n", 1},
    };
    for (size_t i = 0; i < sizeof M / sizeof *M; i++) {
        pair_run(&p, M[i].raw, NULL); /* asserts the oracle's values */
        ck_assert_msg(val(&p, "LW_USR") == M[i].want, "row %zu: %g", i, val(&p, "LW_USR"));
    }
    pair_free(&p);
}
END_TEST


/* A prefilter's reports of a line-walk rule are confirmed on the walk's
 * texts (walk_count) as a PCRE-path rule's runs are: __TO_EQ_FROM_2's
 * shape, To before From, whose prefilter compiles without \1. */
START_TEST(line_walk_confirms)
{
    pair_t p;
    pair_load(&p, "header LW_TF ALL =~ /\\nTo: (?:[^\\n<]{0,80}<)?([^\\n\\s>]+)>?\\n+"
                  "(?:[^\\n]{1,100}\\n+)*From: (?:[^\\n]{0,80}<)?\\1[>,\\s\\n]/ism\n");
    ck_assert_int_eq(path(&p, "LW_TF"), FAST_PREFILTER);
    ck_assert_uint_eq(fast_get_info(rules_get_fast(p.rf))->walk_confirms, 1);
    ck_assert_uint_eq(fast_get_info(rules_get_fast(p.rf))->line_walks, 0);
    char x40[41], x150[151], raw[800];
    memset(x40, 'k', 40), x40[40] = 0;
    memset(x150, 'k', 150), x150[150] = 0;
    static const struct {
        const char *fmt;
        int want40, want150; /* with a 47- and a 157-byte X-Pad line */
    } M[] = {
        {"X-First: 1\nTo: <t@e.example>\nX-Pad: %s\nFrom: t@e.example\n\nb\n", 1, 0},
        {"X-First: 1\nTo: <t@e.example>\nFrom: x@e.example\nX-Pad: %s\nFrom: t@e.example\n\nb\n", 1, 0},
        {"X-First: 1\nTo: <t@e.example>\nX-Pad: %s\nFrom: u@e.example\n\nb\n", 0, 0},
        {"X-First: 1\nFrom: t@e.example\nX-Pad: %s\nTo: t@e.example\n\nb\n", 0, 0},
        {"X-First: 1\nTo: <a@b>\nTo: t@e.example\nX-Pad: %s\nFrom: t@e.example\n\nb\n", 1, 0},
    };
    for (size_t i = 0; i < sizeof M / sizeof *M; i++)
        for (int k = 0; k < 2; k++) {
            snprintf(raw, sizeof raw, M[i].fmt, k ? x150 : x40);
            pair_run(&p, raw, NULL); /* asserts the oracle's values */
            ck_assert_msg(val(&p, "LW_TF") == (k ? M[i].want150 : M[i].want40), "row %zu pad %d", i, k);
        }
    pair_free(&p);
}
END_TEST


/* A body string whose bytes >= 0x80 are all U+FFFD's (EF BF BD) is
 * scanned as ASCII text with \x1a for each of them, with the ASCII
 * databases, for the rules that cannot tell the two apart
 * (hsexpr_alike), and as it is with the U+FFFD-restricted forms of the
 * others (DB_MAIN_FFFD): look-alikes of several bytes, runs of 8-bit
 * bytes, U+FFFD's bytes named, a lookbehind on one, a back reference, a
 * counted one; a rule that names \x1a or control bytes (it would match the
 * mapped text, not the string) and one that a dot, a negated class, \W
 * or \S satisfies either way. Both matchers agree on every string, the
 * second time from the memo too; with no rule that can tell, the class
 * has no DB_MAIN_FFFD; with TG_FAST_NOFFFD=1 at load such strings take
 * the full forms. */
START_TEST(fffd_strings_mapped)
{
    static const char *const alike =
        "body U_BOM /\\xef\\xbb\\xbf/\n"
        "body U_LATIN1 /caf\\xc3\\x89/i\n"
        "body U_DOT /a.{3}b/\n"
        "body U_NEG /q[^a-z0-9 ]+r/i\n"
        "body U_NONW /\\Wend\\W/\n"
        "body U_NONS /z\\S{3}z/\n";
    static const char *const other =
        "body U_FUZZY /v(?:[i1l!]|\\xc3\\xad|[\\x80-\\xff]{2,3})agra/i\n"
        "body U_LOOKI /v[i\\xef][\\x80-\\xff]{2}agra/\n"
        "body U_HIGHRUN /x[\\x80-\\xff]{3}y/\n"
        "body U_FFFD /\\xbd\\xef\\xbf/\n"
        "body U_CTRL /x[\\x01-\\x1f]{3}y/\n"
        "body U_SUB /w\\x1a/\n"
        "body U_LOOK /(?<=\\xbd)pre/\n"
        "body U_BACK /(\\w)\\1\\xef/\n"
        "body U_MULTI /\\xbf/\n"
        "tflags U_MULTI multiple maxhits=5\n";
    tg_buf rules;
    tg_buf_init(&rules);
    tg_buf_adds(&rules, alike);
    tg_buf_adds(&rules, other);
    pair_t p;
    fast_build_info_t cold;
    pair_load_filled(&p, rules.s, &cold);
    const fast_t *f = rules_get_fast(p.rf);
    fast_class_info_t ci;
    fast_class_info(f, class_index(f, "body"), &ci);
    ck_assert_uint_gt(ci.db_size[FAST_DB_MAIN_FFFD], 0);
    static const char FF[] = "\xef\xbf\xbd";
    static const struct { const char *text; int fffd; } T[] = {
        {"v\xef\xbf\xbd" "agra and v\xc3\xad" "agra", 0},
        {"buy v\xef\xbf\xbd" "agra now", 1},           /* a look-alike of 3 bytes */
        {"x\xef\xbf\xbdy and a\xef\xbf\xbd" "b", 1},  /* 8-bit run; dot over 3 bytes */
        {"\xef\xbf\xbd\xef\xbf\xbd and q\xef\xbf\xbdr", 1},
        {"\xef\xbf\xbf bom? \xef\xbb\xbf", 0},
        {"CAF\xef\xbf\xbd caf\xc3\x89", 0},
        {"caf\xef\xbf\xbd and the\xef\xbf\xbd" "end\xef\xbf\xbd z\xef\xbf\xbdz", 1},
        {"\xef\xbf\xbdpre aa\xef\xbf\xbd w\xef\xbf\xbd", 1},
        {"plain ascii: viagra x y a123b end x\x1a\x1a\x1ay w\x1a", -1},
    };
    for (size_t i = 0; i < sizeof T / sizeof *T; i++) {
        char raw[512];
        snprintf(raw, sizeof raw,
                 "Subject: x\nContent-Type: text/plain; charset=utf-8\n\n%s\n\n%s%s\n", T[i].text,
                 T[i].text, FF);
        pair_run(&p, raw, NULL); /* asserts the oracle's values */
        pair_run(&p, raw, NULL); /* again, from the memo */
        unsigned long scans[FAST_NDBS];
        profiled_match(&p, raw, 0, scans, NULL);
        /* the Subject's line, the text's and the same with U+FFFD after it */
        unsigned long fffd = T[i].fffd > 0 ? 2 : T[i].fffd < 0 ? 1 : 0;
        unsigned long full = 2 - fffd - (T[i].fffd < 0);
        ck_assert_msg(scans[FAST_DB_MAIN_FFFD] == fffd, "%zu: %lu U+FFFD scans", i,
                      scans[FAST_DB_MAIN_FFFD]);
        ck_assert_msg(scans[FAST_DB_MAIN] == full, "%zu: %lu full", i, scans[FAST_DB_MAIN]);
        ck_assert_msg(scans[FAST_DB_MAIN_ASCII] == 3 - full, "%zu: %lu ASCII", i,
                      scans[FAST_DB_MAIN_ASCII]);
    }
    const char *raw = "Subject: x\nContent-Type: text/plain; charset=utf-8\n\nbuy v\xef\xbf\xbd"
                      "agra x\xef\xbf\xbdy \xef\xbf\xbd\xef\xbf\xbd q\xef\xbf\xbdr\n";
    pair_run(&p, raw, NULL);
    ck_assert(val(&p, "U_FUZZY") == 1 && val(&p, "U_HIGHRUN") == 1 && val(&p, "U_FFFD") == 1);
    ck_assert(val(&p, "U_LOOKI") == 1 && val(&p, "U_NEG") == 1);
    ck_assert(val(&p, "U_CTRL") == 0 && val(&p, "U_SUB") == 0);
    ck_assert(val(&p, "U_MULTI") >= 3);
    ck_assert(val(&p, "U_LATIN1") == 0);
    unsigned long hits;
    profiled_match(&p, raw, 1, NULL, &hits);
    ck_assert_uint_gt(hits, 0);
    pair_run(&p, raw, NULL); /* the replayed reports of both scans */
    ck_assert(val(&p, "U_FUZZY") == 1 && val(&p, "U_CTRL") == 0 && val(&p, "U_NEG") == 1);
    pair_run(&p, "Subject: x\nContent-Type: text/plain; charset=utf-8\n\ncaf\xc3\x89\n", NULL);
    ck_assert(val(&p, "U_LATIN1") == 1);
    pair_free(&p);

    /* every rule alike: no restricted database, such strings take only
     * the ASCII ones */
    pair_load_filled(&p, alike, &cold);
    f = rules_get_fast(p.rf);
    fast_class_info(f, class_index(f, "body"), &ci);
    ck_assert_uint_eq(ci.db_size[FAST_DB_MAIN_FFFD], 0);
    raw = "Subject: x\nContent-Type: text/plain; charset=utf-8\n\n"
          "a\xef\xbf\xbd" "b q\xef\xbf\xbdr the\xef\xbf\xbd" "end\n";
    pair_run(&p, raw, NULL);
    ck_assert(val(&p, "U_DOT") == 1 && val(&p, "U_NEG") == 1 && val(&p, "U_NONW") == 1);
    unsigned long scans[FAST_NDBS];
    profiled_match(&p, raw, 0, scans, NULL);
    ck_assert_uint_eq(scans[FAST_DB_MAIN_ASCII], 2);
    ck_assert_uint_eq(scans[FAST_DB_MAIN] + scans[FAST_DB_MAIN_FFFD], 0);
    pair_free(&p);

    /* loaded with TG_FAST_NOFFFD=1: the same values, from the full forms */
    setenv("TG_FAST_NOFFFD", "1", 1);
    pair_load_filled(&p, rules.s, &cold);
    unsetenv("TG_FAST_NOFFFD");
    raw = "Subject: x\nContent-Type: text/plain; charset=utf-8\n\nbuy v\xef\xbf\xbd"
          "agra x\xef\xbf\xbdy\n";
    pair_run(&p, raw, NULL);
    ck_assert(val(&p, "U_FUZZY") == 1);
    profiled_match(&p, raw, 0, scans, NULL);
    ck_assert_uint_eq(scans[FAST_DB_MAIN_FFFD], 0);
    ck_assert_uint_eq(scans[FAST_DB_MAIN], 1);
    pair_free(&p);
    tg_buf_free(&rules);
}
END_TEST


/* Rules that are mostly gaps between letters (the __DRUGS_* shape) are
 * found on the message's squashed text first (DB_SQUASH), then counted
 * by PCRE2; the routing survives the cache, and both matchers agree on
 * obfuscated spellings, on a skeleton cut across two paragraphs (one
 * report on the joined squashed text, no match in either string), on one
 * inside a longer word, in rawbody, on 8-bit text, and for a tflags
 * multiple copy (which stays in the main databases). */
START_TEST(squashed_gap_rules)
{
    static const char *const rules =
        "body T_DIET /(?:\\b|\\s)[_\\W]{0,3}p[_\\W]{0,3}h[_\\W]{0,3}[e3\\xE8-\\xEB][_\\W]{0,3}n"
        "[_\\W]{0,3}t[_\\W]{0,3}[e3\\xE8-\\xEB][_\\W]{0,3}r[_\\W]{0,3}m[_\\W]{0,3}[i1!|l\\xEC-\\xEF]"
        "[_\\W]{0,3}n[_\\W]{0,3}[e3\\xE8-\\xEB][_\\W]{0,3}(?:\\b|\\s)/i\n"
        "body T_PAIN /\\b_{0,3}t[_\\W]?r[_\\W]?[a4\\xE0-\\xE6@][_\\W]?m[_\\W]?[a4\\xE0-\\xE6@][_\\W]?"
        "d[_\\W]?[o0\\xF2-\\xF6][_\\W]?[l!|1]_{0,3}\\b/i\n"
        "rawbody T_RAW /\\b_{0,3}t[_\\W]?r[_\\W]?[a4\\xE0-\\xE6@][_\\W]?m[_\\W]?[a4\\xE0-\\xE6@]"
        "[_\\W]?d[_\\W]?[o0\\xF2-\\xF6][_\\W]?[l!|1]_{0,3}\\b/i\n"
        "body T_MULTI /\\b_{0,3}t[_\\W]?r[_\\W]?[a4@][_\\W]?m[_\\W]?[a4@][_\\W]?d[_\\W]?[o0][_\\W]?"
        "[l!|1]_{0,3}\\b/i\ntflags T_MULTI multiple\n"
        "body T_SPACED /dear\\s+friend/i\n";
    pair_t p;
    fast_build_info_t cold;
    pair_load_filled(&p, rules, &cold);
    /* T_DIET, T_PAIN, T_RAW; not the multiple copy, not a spaced-out word */
    ck_assert_uint_eq(cold.squashed, 3);
    ck_assert_uint_eq(fast_get_info(rules_get_fast(p.rf))->squashed, 3);
    static const struct { const char *body; int diet, pain, raw, multi; } C[] = {
        {"Buy p-h-e-n-t-e-r-m-i-n-e now", 1, 0, 0, 0},
        {"PH3N T3RM1N3 here", 1, 0, 0, 0},
        {"phen\n\nter mine", 0, 0, 0, 0},           /* the skeleton across paragraphs */
        {"T R @ M 4 D 0 L and t.r.a.m.a.d.o.l", 0, 1, 1, 2},
        {"the stramadolomite rock", 0, 0, 0, 0},     /* inside a longer word */
        {"tr\xe0m\xe1" "dol, ph\xe8ntermin\xe9 now", 0, 1, 1, 0}, /* 8-bit text */
        {"Dear   friend, nothing here", 0, 0, 0, 0},
        {"", 0, 0, 0, 0},
    };
    for (size_t k = 0; k < sizeof C / sizeof *C; k++) {
        tg_buf m;
        tg_buf_init(&m);
        tg_buf_printf(&m, "Subject: x\nContent-Type: text/plain; charset=iso-8859-1\n\n%s\n",
                      C[k].body);
        pair_run(&p, m.s, NULL);
        ck_assert_msg(val(&p, "T_DIET") == C[k].diet && val(&p, "T_PAIN") == C[k].pain &&
                          val(&p, "T_RAW") == C[k].raw && val(&p, "T_MULTI") == C[k].multi,
                      "\"%s\": %g %g %g %g", C[k].body, val(&p, "T_DIET"), val(&p, "T_PAIN"),
                      val(&p, "T_RAW"), val(&p, "T_MULTI"));
        unsigned long scans[FAST_NDBS];
        profiled_match(&p, m.s, 0, scans, NULL);
        ck_assert_uint_eq(scans[FAST_DB_SQUASH], 1); /* once a message */
        tg_buf_free(&m);
    }
    ck_assert_int_eq(path(&p, "T_DIET"), FAST_PREFILTER);
    ck_assert_int_eq(val(&p, "T_SPACED"), 0);
    pair_free(&p);
}
END_TEST

/* A literal-free expression (every atom a class) goes into its class's
 * second database, where it does not slow the literal-driven main one;
 * not in the body class. The routing survives the cache and both
 * matchers agree. */
START_TEST(literal_free_rules_apart)
{
    static const char *const rules =
        "rawbody T_SPACING /[a-z0-9]{6}\\s{8}[a-z0-9]{5}/i\n"
        "rawbody T_TAG /<font\\s+size=\"?7/i\n"
        "uri T_LONG_HEX /[\\/?][a-f0-9]{32,}$/\n"
        "uri T_HOST /example\\.net/\n"
        "body T_WORDS /\\b(?:[a-z]{8,}\\s+){4}/\n";
    pair_t p;
    fast_build_info_t cold;
    pair_load_filled(&p, rules, &cold);
    ck_assert_uint_eq(cold.literal_free, 2); /* T_SPACING, T_LONG_HEX */
    const fast_t *f = rules_get_fast(p.rf);
    static const struct { const char *label; int aux; } K[] = {
        {"rawbody", 1}, {"uri", 1}, {"body", 0}};
    for (size_t k = 0; k < sizeof K / sizeof *K; k++) {
        size_t c = class_index(f, K[k].label);
        ck_assert_uint_lt(c, fast_nclasses(f));
        fast_class_info_t ci;
        fast_class_info(f, c, &ci);
        ck_assert_msg((ci.db_size[FAST_DB_AUX] + ci.db_size[FAST_DB_AUX_ASCII] > 0) == K[k].aux,
                      "%s: aux %zu, aux ASCII %zu", K[k].label, ci.db_size[FAST_DB_AUX],
                      ci.db_size[FAST_DB_AUX_ASCII]);
        ck_assert_uint_gt(ci.db_size[FAST_DB_MAIN] + ci.db_size[FAST_DB_MAIN_ASCII], 0);
    }
    static const struct { const char *body; int spacing, tag, hex, host, words; } C[] = {
        {"abcdef        ghijk <font size=7>", 1, 1, 0, 0, 0},
        {"abcdef \t      ghijk", 1, 0, 0, 0, 0},
        {"abcdef       ghijk", 0, 0, 0, 0, 0}, /* seven blanks */
        {"see http://example.net/d41d8cd98f00b204e9800998ecf8427e", 0, 0, 1, 1, 0},
        {"see http://example.org/?d41d8cd98f00b204e9800998ecf8427", 0, 0, 0, 0, 0},
        {"longwords everywhere certainly absolutely positively", 0, 0, 0, 0, 1},
    };
    for (size_t k = 0; k < sizeof C / sizeof *C; k++) {
        tg_buf m;
        tg_buf_init(&m);
        tg_buf_printf(&m, "Subject: x\n\n%s\n", C[k].body);
        pair_run(&p, m.s, NULL);
        ck_assert_msg(val(&p, "T_SPACING") == C[k].spacing && val(&p, "T_TAG") == C[k].tag &&
                          val(&p, "T_LONG_HEX") == C[k].hex && val(&p, "T_HOST") == C[k].host &&
                          val(&p, "T_WORDS") == C[k].words,
                      "\"%s\": %g %g %g %g %g", C[k].body, val(&p, "T_SPACING"), val(&p, "T_TAG"),
                      val(&p, "T_LONG_HEX"), val(&p, "T_HOST"), val(&p, "T_WORDS"));
        tg_buf_free(&m);
    }
    ck_assert_int_eq(path(&p, "T_SPACING"), FAST_EXACT);
    pair_free(&p);
}
END_TEST

/* The stock ReplaceTags rules too large for 8-bit PCRE2 and for
 * Vectorscan: on ASCII text the ASCII database answers them, on other text
 * (smart quotes, look-alike letters) PCRE2 runs where their collapsed
 * Latin-1 prefilter reports in the full database (or, where that compiles
 * alone, they are prefiltered on all text); both matchers agree, and the
 * look-alike obfuscation SpamAssassin's tags exist for is caught. */
START_TEST(huge_stock_rules_prefiltered)
{
    static const char *const names[] = {"__MY_MALWARE", "__PAY_ME", "__YOUR_ONAN"};
    char *text = sa_rules(names, 3);
    ck_assert_msg(text != NULL, "the stock rules are not in /usr/share/spamassassin");
    tg_buf cf;
    tg_buf_init(&cf);
    tg_buf_adds(&cf, text);
    free(text);
    add_fillers(&cf);
    pair_t p;
    pair_load(&p, cf.s);
    tg_buf_free(&cf);
    ck_assert_int_eq(path(&p, "__MY_MALWARE"), FAST_PCRE);
    /* No assertion on the route of the full-form prefilter here: routing
     * times each compile (FAST_MAX_COMPILE_S, 5 s) and __MY_MALWARE's split
     * forms take 3 s or more of CPU, over 5 s on a slow host (a CI run on
     * 2026-12-05) and under ASan, which leaves the rule on PCRE2 alone on
     * non-ASCII text. The values below hold on either route;
     * wide_patterns_both_matchers asserts the route itself, on a rule that
     * compiles in a quarter of the time. */
    static const struct { const char *body; int malware, pay; } C[] = {
        {"I have installed a malware on your computer.\n\nPay me 1000 USD in bitcoin.\n", 1, 1},
        /* the same with smart quotes (UTF-8): every paragraph non-ASCII */
        {"I have installed a malware on your \xe2\x80\x9c" "computer\xe2\x80\x9d.\n\n"
         "Pay me 1000 USD in \xe2\x80\x98" "bitcoin\xe2\x80\x99.\n", 1, 1},
        /* Cyrillic a (U+0430) for a: SpamAssassin's <A> look-alike */
        {"I have installed a m\xd0\xb0lw\xd0\xb0re on your computer.\n", 1, 0},
        {"Caf\xc3\xa9 \xe2\x80\x9cmenu\xe2\x80\x9d: pay at the counter.\n", 0, 0},
        {"plain text about nothing in particular\n", 0, 0},
        /* a bullet (U+2022) in "pay": the collapsed prefilter reports,
         * PCRE2 says no (U+2022 is none of <A>'s look-alikes) */
        {"Please p\xe2\x80\xa2y me 1000 USD now.\n", 0, 0},
    };
    for (size_t i = 0; i < sizeof C / sizeof *C; i++) {
        tg_buf m;
        tg_buf_init(&m);
        tg_buf_printf(&m, "From: a@example.com\nSubject: s\nMIME-Version: 1.0\n"
                      "Content-Type: text/plain; charset=utf-8\n\n%s", C[i].body);
        pair_run(&p, m.s, NULL);
        ck_assert_msg(val(&p, "__MY_MALWARE") == C[i].malware, "case %zu: __MY_MALWARE %g", i,
                      val(&p, "__MY_MALWARE"));
        ck_assert_msg(val(&p, "__PAY_ME") == C[i].pay, "case %zu: __PAY_ME %g", i,
                      val(&p, "__PAY_ME"));
        tg_buf_free(&m);
    }
    pair_free(&p);
}
END_TEST

/* Routing reads the compile costs of the stock rules from the fastcost
 * table, so it is the same on every build: __FILL_THIS_FORM_LOAN1 (about
 * a second to compile alone) goes into the body class's second database
 * with no compile timed here; with the table left out the same rules are
 * timed. The table's key tells expressions and flags apart. */
START_TEST(compile_costs_from_the_table)
{
    static const char *const names[] = {"__FILL_THIS_FORM_LOAN1"};
    char *text = sa_rules(names, 1);
    ck_assert_msg(text != NULL, "the stock rules are not in /usr/share/spamassassin");
    ck_assert_uint_gt(fastcost_count(), 100);
    ck_assert_str_eq(fastcost_version(), hs_version());
    ck_assert(fastcost_key("abc", 8) != fastcost_key("abc", 9));
    ck_assert(fastcost_key("abc", 8) != fastcost_key("abd", 8));
    double secs = -1;
    ck_assert_int_eq(fastcost_lookup("tollgate(?:unknown)+", 8, &secs), 0);
    ck_assert(secs == -1);
    for (int table = 1; table >= 0; table--) {
        if (!table)
            setenv("TG_FAST_NOCOSTTAB", "1", 1);
        pair_t p;
        pair_load(&p, text);
        const fast_t *f = rules_get_fast(p.rf);
        const fast_build_info_t *fi = fast_get_info(f);
        ck_assert(table ? fastcost_digest() != 0 : fastcost_digest() == 0);
        if (table) {
            ck_assert_uint_eq(fi->cost_timed, 0);
            fast_class_info_t ci;
            size_t c = class_index(f, "body");
            ck_assert_uint_lt(c, fast_nclasses(f));
            fast_class_info(f, c, &ci);
            ck_assert_uint_gt(ci.db_size[FAST_DB_AUX] + ci.db_size[FAST_DB_AUX_ASCII], 0);
        } else {
            ck_assert_uint_gt(fi->cost_timed, 0);
        }
        pair_run(&p, "Subject: x\n\nplain text about nothing in particular\n", NULL);
        ck_assert(val(&p, "__FILL_THIS_FORM_LOAN1") == 0);
        pair_free(&p);
    }
    unsetenv("TG_FAST_NOCOSTTAB");
    free(text);
}
END_TEST

/* A pattern over Vectorscan's length limit (ReplaceTags with Latin-1 and
 * UTF-8 look-alikes) runs on PCRE2, yet its ASCII form, without those
 * branches, is exact in the ASCII database; one whose every branch needs
 * a byte >= 0x80 is skipped on ASCII text. */
START_TEST(ascii_database_for_pcre_rules)
{
    tg_buf cf;
    tg_buf_init(&cf);
    add_fillers(&cf);
    /* distinct branches: the Latin-1 prefilter keeps each (a repeated one
     * would be written once and fit) */
    tg_buf_adds(&cf, "body L_LONG /(?:");
    for (int i = 0; i < 1200; i++)
        tg_buf_printf(&cf, "\\xe9q%d|", i);
    tg_buf_adds(&cf, "\\xc3\\xa9t\\xc3\\xa9|pass)word\\b/i\nbody L_NEVER /z(?:");
    for (int i = 0; i < 1200; i++)
        tg_buf_printf(&cf, "\\xe9q%d|", i);
    tg_buf_adds(&cf, "\\xc3\\xa7)/i\n");
    pair_t p;
    pair_load(&p, cf.s);
    tg_buf_free(&cf);
    const fast_build_info_t *fi = fast_get_info(rules_get_fast(p.rf));
    ck_assert_int_eq(path(&p, "L_LONG"), FAST_PCRE);
    ck_assert_int_eq(path(&p, "L_NEVER"), FAST_PCRE);
    ck_assert_uint_eq(fi->ascii_db, 1);
    ck_assert_uint_eq(fi->ascii_never, 1);
    pair_run(&p, "Subject: x\n\nplease change your PASSWORD today\n", NULL);
    ck_assert(val(&p, "L_LONG") == 1);
    pair_run(&p, "Subject: x\nContent-Type: text/plain; charset=utf-8\n\n"
                 "passwords filler3word\n\nz\xc3\xa7 and \xc3\xa9t\xc3\xa9word\n", NULL);
    ck_assert(val(&p, "L_LONG") == 1);
    ck_assert(val(&p, "L_NEVER") == 1);
    ck_assert(val(&p, "F_3") == 1);
    pair_run(&p, "Subject: x\n\npasswords z\n\nzz caf\xe9\n", NULL);
    ck_assert(val(&p, "L_LONG") == 0);
    ck_assert(val(&p, "L_NEVER") == 0);
    pair_free(&p);
}
END_TEST

/* ReplaceTags look-alikes: a pattern over the length limit whose UTF-8
 * branches all read [\x80-\xff][\x80-\xff] in the Latin-1 prefilter fits
 * once they are written once (__YOUR_PASSWORD: 37.7 KB, PCRE2-only on
 * non-ASCII text before, 0.6 ms on a 41 KB Latin-1 message); PCRE2
 * confirms its reports, so the values stay the oracle's. */
START_TEST(lookalikes_prefiltered)
{
    tg_buf cf;
    tg_buf_init(&cf);
    add_fillers(&cf);
    tg_buf_adds(&cf, "body L_TAGS /(?:^|\\s)(?:");
    for (int i = 0; i < 1200; i++)
        tg_buf_printf(&cf, "\\xc3\\x%02x|\\xe1\\xba\\x%02x|", 0x80 + i % 64, 0x80 + i % 64);
    tg_buf_adds(&cf, "y)our\\spass(?:word|wd)\\b/i\n");
    pair_t p;
    pair_load(&p, cf.s);
    tg_buf_free(&cf);
    ck_assert_int_eq(path(&p, "L_TAGS"), FAST_PREFILTER);
    ck_assert_uint_eq(fast_get_info(rules_get_fast(p.rf))->latin1_rewritten, 1);
    static const char *const texts[] = {
        "change your password", "caf\xc3\xa9 \xc3\xbdour passwd now", "caf\xc3\xa9 \xe1\xba\x8four password",
        "caf\xc3\xa9 our password", "caf\xc3\xa9 \xc3\xbd\xc3\xbdour password", "\xe9 your passw",
    };
    static const int want[] = {1, 1, 1, 0, 0, 0};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        char raw[256];
        snprintf(raw, sizeof raw, "Subject: x\nContent-Type: text/plain; charset=utf-8\n\n%s\n",
                 texts[i]);
        pair_run(&p, raw, NULL); /* asserts the oracle's values */
        ck_assert_msg(val(&p, "L_TAGS") == want[i], "\"%s\"", texts[i]);
    }
    pair_free(&p);
}
END_TEST

/* A tflags multiple rule whose form on text without bytes >= 0x80 is a
 * plain literal (__E_LIKE_LETTER: "e" or a 2-byte UTF-8 look-alike) is
 * counted without PCRE2 on such text, with PCRE2 elsewhere: the counts,
 * maxhits included, are the oracle's either way. */
START_TEST(literal_form_counts)
{
    tg_buf cf;
    tg_buf_init(&cf);
    add_fillers(&cf);
    tg_buf_adds(&cf, "body M_ELIKE /(?:e|\\xc3[\\xa8\\xa9]|\\xc4\\x97)/\n"
                     "tflags M_ELIKE multiple maxhits=12\n"
                     "body M_ELIKE_I /(?:Ex|\\xc3\\xa9x)/i\n"
                     "tflags M_ELIKE_I multiple\n"
                     "body M_CLASS /(?:[eE]|\\xc3\\xa9)/\n"
                     "tflags M_CLASS multiple\n");
    pair_t p;
    pair_load(&p, cf.s);
    tg_buf_free(&cf);
    ck_assert_uint_eq(fast_get_info(rules_get_fast(p.rf))->literal_forms, 2);
    pair_run(&p, "Subject: x\n\nthe rex exes EXPECT here\n", NULL);
    ck_assert(val(&p, "M_ELIKE") == 6);
    ck_assert(val(&p, "M_ELIKE_I") == 3);
    pair_run(&p, "Subject: x\n\neeeeeeeeeeeeeeeeeeee\n", NULL);
    ck_assert(val(&p, "M_ELIKE") == 12);
    pair_run(&p, "Subject: x\nContent-Type: text/plain; charset=utf-8\n\n"
                 "caf\xc3\xa9 \xc3\xa9x\xc3\xa8 the \xc4\x97\n", NULL);
    ck_assert(val(&p, "M_ELIKE") == 5);
    ck_assert(val(&p, "M_ELIKE_I") == 1);
    pair_free(&p);
}
END_TEST

/* The ALL pseudo-header's From/To backreference rules: their prefilter
 * reports on ordinary header blocks (fast_sample_all), so they take the
 * PCRE path; the same rule on another header keeps its prefilter. */
START_TEST(all_header_prefilter_fires)
{
    pair_t p;
    /* SpamAssassin's __TO_EQ_FROM_1 */
#define TO_EQ_FROM "/\\nFrom: (?:[^\\n<]{0,80}<)?([^\\n\\s>]+)>?\\n+" \
                   "(?:[^\\n]{1,100}\\n+)*To: (?:[^\\n]{0,80}<)?\\1[>,\\s\\n]/ism\n"
    pair_load(&p, "header H_TOFROM ALL =~ " TO_EQ_FROM
                  "header H_OTHER X-Copy =~ " TO_EQ_FROM
                  "header H_LIST ALL =~ /^List-Id: /m\n");
#undef TO_EQ_FROM
    ck_assert_int_eq(path(&p, "H_TOFROM"), FAST_PCRE);
    ck_assert_int_ne(path(&p, "H_LIST"), FAST_PCRE);
    ck_assert_int_eq(path(&p, "H_OTHER"), FAST_PREFILTER);
    pair_run(&p, "Received: from x by y\nFrom: Al <al@example.com>\nTo: al@example.com\n"
                 "Subject: s\n\nbody\n", NULL);
    ck_assert(val(&p, "H_TOFROM") == 1);
    pair_run(&p, "Received: from x by y\nFrom: Al <al@example.com>\nTo: bo@example.com\n"
                 "List-Id: <l.example.com>\nSubject: s\n\nbody\n", NULL);
    ck_assert(val(&p, "H_TOFROM") == 0);
    ck_assert(val(&p, "H_LIST") == 1);
    pair_free(&p);
}
END_TEST

/* Body rules that report on no sample text scan in their relaxed form
 * ([\W_]{0,3} as [\W_]*), confirmed by PCRE2; one that reports on the
 * samples stays exact, and so does a header rule. */
START_TEST(relaxed_for_scan_speed)
{
    pair_t p;
#define GAPPY "/\\bv[\\W_]{0,3}[i1!|l][\\W_]{0,3}a[\\W_]{0,3}g[\\W_]{0,3}r[\\W_]{0,3}a/i\n"
    pair_load(&p, "body B_GAPPY " GAPPY
                  "header H_GAPPY Subject =~ " GAPPY
                  "body B_COMMON /\\bthe\\s{1,3}report/\n");
#undef GAPPY
    ck_assert_uint_eq(fast_get_info(rules_get_fast(p.rf))->relaxed_scan, 1);
    ck_assert_int_eq(path(&p, "B_GAPPY"), FAST_PREFILTER);
    ck_assert_int_eq(path(&p, "H_GAPPY"), FAST_EXACT);
    ck_assert_int_eq(path(&p, "B_COMMON"), FAST_EXACT);
    pair_run(&p, "Subject: v.i.a.g.r.a\n\nbuy v-1-a-g-r-a and send the  report\n", NULL);
    ck_assert(val(&p, "B_GAPPY") == 1);
    ck_assert(val(&p, "H_GAPPY") == 1);
    ck_assert(val(&p, "B_COMMON") == 1);
    /* gaps of four: the relaxed form reports, PCRE2 says no */
    pair_run(&p, "Subject: v....i....a\n\nbuy v----i----a----g----r----a now\n", NULL);
    ck_assert(val(&p, "B_GAPPY") == 0);
    ck_assert(val(&p, "H_GAPPY") == 0);
    ck_assert(val(&p, "B_COMMON") == 0);
    pair_free(&p);
}
END_TEST

START_TEST(metas_and_verdicts_agree)
{
    pair_t p;
    pair_load(&p,
        "body __A /watches/\n"
        "header __B Subject =~ /cheap/i\n"
        "meta BOTH __A && __B\n"
        "score BOTH 3\n"
        "body CNT /buy/i\n"
        "tflags CNT multiple\n"
        "score CNT 0.5\n");
    pair_run(&p, MSG, NULL);
    ck_assert(val(&p, "BOTH") == 1);
    rules_scratch_t *s1 = rules_scratch_new(p.ro), *s2 = rules_scratch_new(p.rf);
    msg_t *m = msg_new(NULL);
    msg_feed(m, MSG, strlen(MSG));
    msg_finish(m);
    rules_verdict_t a, b;
    rules_classify(p.ro, s1, m, NULL, &a);
    rules_classify(p.rf, s2, m, NULL, &b);
    ck_assert(a.score == b.score && a.nhits == b.nhits && a.action == b.action);
    ck_assert(b.score == 3 + 0.5 * 5);
    rules_verdict_clear(&a);
    rules_verdict_clear(&b);
    /* a scratch made for one ruleset is renewed for another */
    rules_classify(p.rf, s1, m, NULL, &b);
    ck_assert(b.score == 3 + 0.5 * 5);
    rules_verdict_clear(&b);
    msg_free(m);
    rules_scratch_free(s1);
    rules_scratch_free(s2);
    pair_free(&p);
}
END_TEST

START_TEST(cache_roundtrip)
{
    char dir[] = "/tmp/check-fast-cache.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const char *text = "body A /watch(?=es)/\nbody B /cheap/i\nheader C Subject =~ /\\bw/\n";
    rules_options_t o = {.matcher = RULES_MATCHER_FAST, .cache_dir = dir};
    rules_t *r1, *r2;
    char err[256];
    ck_assert(rules_load_string("t.cf", text, &o, &r1, err, sizeof err) == 0);
    const fast_build_info_t *i1 = fast_get_info(rules_get_fast(r1));
    ck_assert_uint_eq(i1->cache_hits, 0);
    ck_assert_uint_eq(i1->cache_misses, 2);
    ck_assert(rules_load_string("t.cf", text, &o, &r2, err, sizeof err) == 0);
    const fast_build_info_t *i2 = fast_get_info(rules_get_fast(r2));
    ck_assert_uint_eq(i2->cache_hits, 2);
    ck_assert_uint_eq(i2->path[FAST_PREFILTER], 1);
    rules_unref(r1);
    rules_unref(r2);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* The full class is routed over whole messages: a prefilter reporting on
 * every message's header block runs on PCRE2 alone, and so does a rule
 * PCRE2 goes over faster than its automaton (a counted repeat over every
 * byte, __LONGLINE); a plain literal stays in the database. */
START_TEST(full_class_routed_over_messages)
{
    pair_t p;
    pair_load(&p, "full LONG /^[^\\r\\n]{998}/m\n"
                  "full LOOP /^X-Loop: /m\n"
                  "full NAME_AGAIN /^From:\\s+([^<]\\S+\\s\\S+)\\s(?=.{1,2048}^\\1\\r?$)/ism\n");
    ck_assert_int_eq(path(&p, "LONG"), FAST_PCRE);
    ck_assert_int_eq(path(&p, "NAME_AGAIN"), FAST_PCRE);
    ck_assert_int_eq(path(&p, "LOOP"), FAST_EXACT);
    ck_assert_uint_eq(fast_get_info(rules_get_fast(p.rf))->pcre_cheaper, 1);
    ck_assert_uint_eq(fast_get_info(rules_get_fast(p.rf))->always_firing, 1); /* NAME_AGAIN */
    char *raw = malloc(2200);
    int n = snprintf(raw, 2200, "From: Alice Smith <a@example.org>\nX-Loop: yes\n\n");
    memset(raw + n, 'x', 1000);
    snprintf(raw + n + 1000, 2200 - (size_t)n - 1000, "\nAlice Smith\n");
    pair_run(&p, raw, NULL);
    ck_assert(val(&p, "LONG") == 1 && val(&p, "LOOP") == 1 && val(&p, "NAME_AGAIN") == 1);
    pair_run(&p, "From: Bob Jones <b@example.org>\n\nshort lines only\n", NULL);
    ck_assert(val(&p, "LONG") == 0 && val(&p, "LOOP") == 0 && val(&p, "NAME_AGAIN") == 0);
    free(raw);
    pair_free(&p);
}
END_TEST

/* rules_scratch_profile times the rules a ruleset runs itself (everything
 * with the oracle; what the fast matcher does not take with it), never a
 * meta; fast_rule_class names each fast rule's class. */
START_TEST(profiles_by_rule_and_class)
{
    pair_t p;
    pair_load(&p, "body A /watch/\nbody B /cheap/i\nheader C Subject =~ /\\bw/\n"
                  "header D exists:Subject\nmeta M A && B\n");
    msg_t *m = msg_new(NULL);
    msg_feed(m, "Subject: Cheap watches\n\nwatches, cheap\n", 39);
    msg_finish(m);
    rules_scratch_t *so = rules_scratch_new(p.ro), *sf = rules_scratch_new(p.rf);
    ck_assert_ptr_null(rules_scratch_rule_ns(so));
    rules_scratch_profile(so, 1);
    rules_scratch_profile(sf, 1);
    fast_scratch_profile(rules_scratch_get_fast(sf), 1);
    rules_match_all(p.ro, so, m, NULL, p.vo);
    rules_match_all(p.rf, sf, m, NULL, p.vf);
    const double *no = rules_scratch_rule_ns(so), *nf = rules_scratch_rule_ns(sf);
    ck_assert_ptr_nonnull(no);
    ck_assert_ptr_nonnull(nf);
    ck_assert(p.vo[rules_find(p.ro, "M")] == 1);
    for (const char *const *r = (const char *const[]){"A", "B", "C", "D", NULL}; *r; r++)
        ck_assert_msg(no[rules_find(p.ro, *r)] > 0, "oracle did not time %s", *r);
    ck_assert(no[rules_find(p.ro, "M")] == 0);
    for (const char *const *r = (const char *const[]){"A", "B", "C", NULL}; *r; r++)
        ck_assert_msg(nf[rules_find(p.rf, *r)] == 0, "fast-matched %s timed as run", *r);
    ck_assert(nf[rules_find(p.rf, "D")] > 0); /* exists: is not the fast matcher's */
    /* switched off, nothing more is added */
    double a = no[rules_find(p.ro, "A")];
    rules_scratch_profile(so, 0);
    rules_match_all(p.ro, so, m, NULL, p.vo);
    ck_assert(rules_scratch_rule_ns(so)[rules_find(p.ro, "A")] == a);

    const fast_t *f = rules_get_fast(p.rf);
    size_t seen = 0;
    for (size_t i = 0; i < fast_get_info(f)->rules; i++) {
        const char *name = fast_rule_name(f, i);
        ck_assert_uint_eq(fast_rule_slot(f, i), (size_t)rules_find(p.rf, name));
        fast_class_info_t ci;
        fast_class_info(f, fast_rule_class(f, i), &ci);
        ck_assert_str_eq(ci.label, !strcmp(name, "C") ? "header Subject" : "body");
        seen++;
    }
    ck_assert_uint_eq(seen, 3);

    /* by database: each class here has only its main database (too few
     * rules for an ASCII form), scanned once per string of the class,
     * over exactly those bytes; the body class no U+FFFD form (both its
     * rules read U+FFFD's bytes as \x1a, fffd_strings_mapped) */
    fast_profile_t pr;
    fast_scratch_get_profile(rules_scratch_get_fast(sf), &pr);
    size_t cb = fast_rule_class(f, 0), cs = cb;
    for (size_t i = 0; i < fast_get_info(f)->rules; i++)
        if (!strcmp(fast_rule_name(f, i), "C"))
            cs = fast_rule_class(f, i);
        else
            cb = fast_rule_class(f, i);
    ck_assert_uint_ne(cb, cs);
    size_t nl, body_bytes = 0;
    const msg_str_t *lines = msg_body_lines(m, &nl);
    for (size_t j = 0; j < nl; j++)
        body_bytes += lines[j].len;
    fast_class_info_t ci;
    fast_class_info(f, cb, &ci);
    for (int d = 0; d < FAST_NDBS; d++) {
        size_t kb = cb * FAST_NDBS + (size_t)d, ks = cs * FAST_NDBS + (size_t)d;
        if (d == FAST_DB_MAIN) {
            ck_assert(ci.db_size[d] > 0);
            ck_assert_uint_eq(pr.db_scans[kb], nl);
            ck_assert_uint_eq(pr.db_bytes[kb], body_bytes);
            ck_assert(pr.db_ns[kb] > 0);
            ck_assert_uint_eq(pr.db_scans[ks], 1);
            tg_buf subj;
            tg_buf_init(&subj);
            ck_assert(msg_get_header(m, "Subject", MSG_H_DECODED, &subj));
            ck_assert_uint_eq(pr.db_bytes[ks], subj.len); /* "Cheap watches\n" */
            tg_buf_free(&subj);
        } else {
            ck_assert_uint_eq(ci.db_size[d], 0);
            ck_assert_uint_eq(pr.db_scans[kb] + pr.db_scans[ks], 0);
        }
    }
    ck_assert_str_eq(fast_db_name(FAST_DB_MAIN_ASCII), "main ASCII");
    ck_assert_str_eq(fast_db_name(FAST_DB_STARTS), "starts");
    ck_assert_str_eq(fast_db_name(FAST_DB_AUX_FFFD), "aux U+FFFD");
    rules_scratch_free(so);
    rules_scratch_free(sf);
    msg_free(m);
    pair_free(&p);
}
END_TEST

/* The scan memo on its own (fastmemo.h): a stored string's reports come
 * back only for the same tag and the same bytes (a string with the same
 * hash is a miss, not another string's reports), a newer string replaces
 * the slot's, and what is over the limits is not stored. */
START_TEST(scan_memo_store)
{
    fastmemo_t *m = fastmemo_new(100, 8); /* 128 slots */
    fastmemo_rep_t r[FASTMEMO_MAX_REPS + 1], out[FASTMEMO_MAX_REPS];
    fastmemo_out_t o[FASTMEMO_MAX_OUTS + 1], outs[FASTMEMO_MAX_OUTS];
    size_t no;
    for (unsigned i = 0; i <= FASTMEMO_MAX_OUTS; i++)
        o[i] = (fastmemo_out_t){i + 7, i % 3, i % 2};
    for (unsigned i = 0; i <= FASTMEMO_MAX_REPS; i++)
        r[i] = (fastmemo_rep_t){i * 3, 10 + i};
    const char *s = "Please find attached the invoice for your order";
    size_t len = strlen(s);
    uint64_t h = fastmemo_hash(3, s, len);
    ck_assert(h != fastmemo_hash(4, s, len));
    ck_assert(h != fastmemo_hash(3, s, len - 1));
    ck_assert(h == fastmemo_hash(3, s, len));
    ck_assert_int_eq(fastmemo_get(m, h, 3, s, len, out, outs, &no), -1);
    fastmemo_put(m, h, 3, s, len, r, 5, NULL, 0);
    memset(out, 0xff, sizeof out);
    ck_assert_int_eq(fastmemo_get(m, h, 3, s, len, out, outs, &no), 5);
    for (unsigned i = 0; i < 5; i++)
        ck_assert(out[i].id == i * 3 && out[i].to == 10 + i);
    /* the same hash and length, one byte different: a miss */
    char t[64];
    memcpy(t, s, len);
    t[len - 1] = 'X';
    ck_assert_int_eq(fastmemo_get(m, h, 3, t, len, out, outs, &no), -1);
    ck_assert_int_eq(fastmemo_get(m, h, 4, s, len, out, outs, &no), -1);
    ck_assert_int_eq(fastmemo_get(m, h, 3, s, len - 1, out, outs, &no), -1);
    /* a scan without reports is remembered too */
    uint64_t he = fastmemo_hash(3, "", 0);
    fastmemo_put(m, he, 3, "", 0, r, 0, NULL, 0);
    ck_assert_int_eq(fastmemo_get(m, he, 3, "", 0, out, outs, &no), 0);
    /* the same slot, another string: it replaces the first */
    fastmemo_put(m, h, 3, t, len, r + 1, FASTMEMO_MAX_REPS, NULL, 0);
    ck_assert_int_eq(fastmemo_get(m, h, 3, s, len, out, outs, &no), -1);
    ck_assert_int_eq(fastmemo_get(m, h, 3, t, len, out, outs, &no), FASTMEMO_MAX_REPS);
    ck_assert(out[FASTMEMO_MAX_REPS - 1].id == FASTMEMO_MAX_REPS * 3);
    /* over the limits: not stored, the slot keeps what it had */
    fastmemo_put(m, h, 3, s, len, r, FASTMEMO_MAX_REPS + 1, NULL, 0);
    ck_assert_int_eq(fastmemo_get(m, h, 3, s, len, out, outs, &no), -1);
    ck_assert_int_eq(fastmemo_get(m, h, 3, t, len, out, outs, &no), FASTMEMO_MAX_REPS);
    char *big = malloc(FASTMEMO_MAX_LEN + 1);
    memset(big, 'a', FASTMEMO_MAX_LEN + 1);
    uint64_t hb = fastmemo_hash(3, big, FASTMEMO_MAX_LEN + 1);
    fastmemo_put(m, hb, 3, big, FASTMEMO_MAX_LEN + 1, r, 1, NULL, 0);
    ck_assert_int_eq(fastmemo_get(m, hb, 3, big, FASTMEMO_MAX_LEN + 1, out, outs, &no), -1);
    hb = fastmemo_hash(3, big, FASTMEMO_MAX_LEN);
    fastmemo_put(m, hb, 3, big, FASTMEMO_MAX_LEN, r, 1, NULL, 0);
    ck_assert_int_eq(fastmemo_get(m, hb, 3, big, FASTMEMO_MAX_LEN, out, outs, &no), 1);
    free(big);
    /* the slot keeps the upper hash bits: a string that lands in it with
     * other upper bits is a miss without reading the entry; one with the
     * same bits is told apart by its entry (hash, tag, bytes) */
    uint64_t hslot = h ^ (1ULL << 40), hlow = h ^ 1ULL;
    ck_assert_int_eq(fastmemo_get(m, hslot, 3, t, len, out, outs, &no), -1);
    fastmemo_put(m, hslot, 3, s, len, r, 2, NULL, 0);
    ck_assert_int_eq(fastmemo_get(m, h, 3, t, len, out, outs, &no), -1);
    ck_assert_int_eq(fastmemo_get(m, hslot, 3, s, len, out, outs, &no), 2);
    ck_assert_int_eq(fastmemo_get(m, hslot, 3, t, len, out, outs, &no), -1);
    ck_assert_int_eq(fastmemo_get(m, hlow, 3, s, len, out, outs, &no), -1);
    /* the prefetch hints change nothing, on an empty slot, another
     * string's and the string's own */
    fastmemo_prefetch(m, he);
    fastmemo_prefetch_entry(m, hb ^ (1ULL << 50));
    fastmemo_prefetch(m, hslot);
    fastmemo_prefetch_entry(m, hslot);
    fastmemo_prefetch_entry(m, h);
    ck_assert_int_eq(fastmemo_get(m, hslot, 3, s, len, out, outs, &no), 2);
    ck_assert(out[1].id == 3 && out[1].to == 11);
    /* PCRE2 outcomes ride along with the reports; past FASTMEMO_MAX_OUTS
     * the first are kept */
    fastmemo_put(m, hslot, 3, s, len, r, 2, o, 3);
    ck_assert_int_eq(fastmemo_get(m, hslot, 3, s, len, out, outs, &no), 2);
    ck_assert_uint_eq(no, 3);
    ck_assert(outs[2].rule == 9 && outs[2].max == 2 && outs[2].count == 0);
    ck_assert(out[1].id == 3 && out[1].to == 11);
    fastmemo_put(m, hslot, 3, s, len, r, 0, o, FASTMEMO_MAX_OUTS + 1);
    ck_assert_int_eq(fastmemo_get(m, hslot, 3, s, len, out, outs, &no), 0);
    ck_assert_uint_eq(no, FASTMEMO_MAX_OUTS);
    ck_assert_uint_eq(outs[FASTMEMO_MAX_OUTS - 1].rule, FASTMEMO_MAX_OUTS + 6);
    ck_assert_int_eq(fastmemo_get(m, hslot, 3, t, len, out, outs, &no), -1);
    ck_assert_uint_eq(no, 0);
    /* a store over an entry with room for it rewrites that entry in
     * place: the new string's reports, outcomes and bytes, nothing of the
     * old one's; one with less room takes a new block */
    uint64_t hr = h ^ (1ULL << 45);
    fastmemo_put(m, hr, 3, s, len, r, 5, NULL, 0);
    fastmemo_put(m, hr, 3, t, len, r + 4, 3, o + 1, 1); /* 83 of 87 bytes */
    ck_assert_int_eq(fastmemo_get(m, hr, 3, s, len, out, outs, &no), -1);
    ck_assert_int_eq(fastmemo_get(m, hr, 3, t, len, out, outs, &no), 3);
    ck_assert(out[0].id == 12 && out[0].to == 14 && out[2].id == 18 && out[2].to == 16);
    ck_assert_uint_eq(no, 1);
    ck_assert(outs[0].rule == 8 && outs[0].max == 1 && outs[0].count == 1);
    fastmemo_put(m, hr, 3, s, len - 1, r, 4, NULL, 0); /* 78: in place again */
    ck_assert_int_eq(fastmemo_get(m, hr, 3, t, len, out, outs, &no), -1);
    ck_assert_int_eq(fastmemo_get(m, hr, 3, s, len, out, outs, &no), -1);
    ck_assert_int_eq(fastmemo_get(m, hr, 3, s, len - 1, out, outs, &no), 4);
    ck_assert_uint_eq(no, 0);
    fastmemo_put(m, hr, 3, s, len, r, 40, NULL, 0);
    ck_assert_int_eq(fastmemo_get(m, hr, 3, s, len, out, outs, &no), 40);
    ck_assert(out[39].id == 117 && out[39].to == 49);
    fastmemo_clear(m);
    ck_assert_int_eq(fastmemo_get(m, h, 3, t, len, out, outs, &no), -1);
    ck_assert_int_eq(fastmemo_get(m, he, 3, "", 0, out, outs, &no), -1);
    ck_assert_int_eq(fastmemo_get(m, hslot, 3, s, len, out, outs, &no), -1);
    fastmemo_prefetch_entry(m, hslot);
    fastmemo_free(m);
}
END_TEST

/* Rules on every path the replayed reports feed: exact, prefilter
 * confirmed by PCRE2, nested repeats, tflags multiple (counted by PCRE2
 * after a report), PCRE2-only, headers, ASCII and 8-bit lines, 40 fillers
 * for the ASCII databases. */
static const char *MEMO_RULES =
    "body M_EXACT /watches/\n"
    "body M_LOOKBEHIND /(?<!Buy )buy\\b/\n"
    "body M_BACKREF /\\b(\\w)\\1/\n"
    "body M_REDOS /^(a+)+$/\n"
    "body M_MULTI /buy/i\n"
    "tflags M_MULTI multiple\n"
    "body M_HIGH /\\xfc\\xdf/\n"
    "body M_NEG /K[^a-z]LN/i\n"
    "rawbody M_RAW /aus\\s\\S+/\n"
    "header M_SUBJ Subject =~ /\\Wwatches/\n"
    "header M_FROM From =~ /alice/i\n"
    "uri M_URI /shop\\.example/\n";

static const char *MEMO_MSGS[] = {
    NULL, /* MSG */
    "From: Bob <bob@example.org>\nSubject: re: cheap watches\n\n"
    "First paragraph talks about watches\nand prices.\n\nbuy buy, buy once more\n\n"
    "buy buy, buy once more\n\nvisit http://shop.example.net/buy now!\n",
    "From: Alice <alice@example.com>\nSubject: aa\n\nbook keeping\n\naaaa\n",
};

/* Matches MEMO_MSGS[k] with sf and asserts the values are the oracle's. */
/* MEMO_MSGS[k], parsed. */
static msg_t *memo_msg(size_t k)
{
    const char *raw = MEMO_MSGS[k] ? MEMO_MSGS[k] : MSG;
    msg_t *m = msg_new(NULL);
    msg_feed(m, raw, strlen(raw));
    msg_finish(m);
    return m;
}

/* The fillers and MEMO_RULES into *cf (the caller frees it), loaded by
 * both matchers into *p. */
static void memo_load(pair_t *p, tg_buf *cf)
{
    tg_buf_init(cf);
    add_fillers(cf);
    tg_buf_adds(cf, MEMO_RULES);
    pair_load(p, cf->s);
}

static void memo_run(pair_t *p, rules_scratch_t *so, rules_scratch_t *sf, size_t k)
{
    msg_t *m = memo_msg(k);
    rules_match_all(p->ro, so, m, NULL, p->vo);
    rules_match_all(p->rf, sf, m, NULL, p->vf);
    for (size_t i = 0; i < rules_count(p->ro); i++)
        ck_assert_msg(p->vo[i] == p->vf[i], "message %zu: %s: oracle %g, fast %g", k,
                      rules_name(p->ro, i), p->vo[i], p->vf[i]);
    msg_free(m);
}

/* The fast matcher with the memo: a string met again replays its earlier
 * scan's reports, and every value stays the oracle's -- on a message
 * matched again, on one sharing lines with another (and repeating a
 * paragraph), with a new scratch (the memo is the ruleset's). With
 * TG_FAST_NOMEMO=1 at load there is no memo. */
START_TEST(scan_memo_matches_as_scans)
{
    tg_buf cf;
    pair_t p;
    memo_load(&p, &cf);
    ck_assert_uint_gt(fast_get_info(rules_get_fast(p.rf))->memo_slots, 0);
    rules_scratch_t *so = rules_scratch_new(p.ro), *sf = rules_scratch_new(p.rf);
    fast_scratch_t *fs = rules_scratch_get_fast(sf);
    fast_profile_t pr;
    memo_run(&p, so, sf, 0);
    fast_scratch_get_profile(fs, &pr);
    ck_assert_uint_eq(pr.memo_hits, 0);
    unsigned long first = pr.memo_misses;
    ck_assert_uint_gt(first, 5); /* body lines, rawbody, uri, headers */
    ck_assert(val(&p, "M_EXACT") == 1 && val(&p, "M_MULTI") == 5);
    ck_assert_uint_eq(pr.memo_outcomes, 0);
    memo_run(&p, so, sf, 0); /* every string again */
    fast_scratch_get_profile(fs, &pr);
    ck_assert_uint_eq(pr.memo_hits, first);
    ck_assert_uint_eq(pr.memo_misses, first);
    /* the confirms, counts and PCRE-only runs came back with the reports */
    ck_assert_uint_gt(pr.memo_outcomes, 3);
    ck_assert(val(&p, "M_EXACT") == 1 && val(&p, "M_MULTI") == 5);
    memo_run(&p, so, sf, 1); /* shares two lines; repeats one */
    fast_scratch_get_profile(fs, &pr);
    ck_assert_uint_ge(pr.memo_hits, first + 3);
    ck_assert(val(&p, "M_MULTI") == 7 && val(&p, "M_URI") == 1);
    memo_run(&p, so, sf, 2);
    ck_assert(val(&p, "M_BACKREF") == 1 && val(&p, "M_FROM") == 1);
    /* another scratch finds what this one stored */
    rules_scratch_t *sf2 = rules_scratch_new(p.rf);
    memo_run(&p, so, sf2, 1);
    fast_scratch_get_profile(rules_scratch_get_fast(sf2), &pr);
    ck_assert_uint_gt(pr.memo_hits, 0);
    ck_assert_uint_eq(pr.memo_misses, 0);
    /* turned off for a scratch: neither read nor filled */
    fast_scratch_memo(rules_scratch_get_fast(sf2), 0);
    unsigned long h0 = pr.memo_hits;
    memo_run(&p, so, sf2, 0);
    fast_scratch_get_profile(rules_scratch_get_fast(sf2), &pr);
    ck_assert_uint_eq(pr.memo_hits, h0);
    ck_assert_uint_eq(pr.memo_misses, 0);
    rules_scratch_free(sf2);
    /* emptied: the next match scans again */
    fast_memo_clear(rules_get_fast(p.rf));
    fast_scratch_get_profile(fs, &pr);
    h0 = pr.memo_hits;
    memo_run(&p, so, sf, 0);
    fast_scratch_get_profile(fs, &pr);
    ck_assert_uint_eq(pr.memo_hits, h0);
    rules_scratch_free(so);
    rules_scratch_free(sf);
    pair_free(&p);

    ck_assert_int_eq(setenv("TG_FAST_NOMEMO", "1", 1), 0);
    pair_load(&p, cf.s);
    unsetenv("TG_FAST_NOMEMO");
    ck_assert_uint_eq(fast_get_info(rules_get_fast(p.rf))->memo_slots, 0);
    so = rules_scratch_new(p.ro), sf = rules_scratch_new(p.rf);
    memo_run(&p, so, sf, 0);
    memo_run(&p, so, sf, 0);
    fast_scratch_get_profile(rules_scratch_get_fast(sf), &pr);
    ck_assert_uint_eq(pr.memo_hits + pr.memo_misses, 0);
    rules_scratch_free(so);
    rules_scratch_free(sf);
    pair_free(&p);
    /* the size, or none, from the options (the daemon's ScanMemo) */
    static const struct { long opt; size_t slots; } S[] = {
        {100, 128}, {-1, 0}, {0, FAST_MEMO_DEFAULT}};
    for (size_t i = 0; i < sizeof S / sizeof *S; i++) {
        char err[512];
        rules_t *rs;
        rules_options_t o = {.matcher = RULES_MATCHER_FAST, .scan_memo = S[i].opt};
        ck_assert_msg(rules_load_string("t.cf", cf.s, &o, &rs, err, sizeof err) == 0, "%s", err);
        ck_assert_uint_eq(fast_get_info(rules_get_fast(rs))->memo_slots, S[i].slots);
        rules_unref(rs);
    }
    tg_buf_free(&cf);
}
END_TEST

typedef struct {
    const rules_t *rs;
    const double *want; /* [3][nrules] each message's values */
    size_t nrules;
    int bad;
    unsigned long hits;
} memo_thread_t;

static void *memo_thread(void *arg)
{
    memo_thread_t *t = arg;
    rules_scratch_t *sc = rules_scratch_new(t->rs);
    double *v = calloc(t->nrules + 1, sizeof *v);
    for (int it = 0; it < 200; it++) {
        size_t k = (size_t)it % 3;
        msg_t *m = memo_msg(k);
        rules_match_all(t->rs, sc, m, NULL, v);
        t->bad += memcmp(v, t->want + k * t->nrules, t->nrules * sizeof *v) != 0;
        msg_free(m);
    }
    fast_profile_t pr;
    fast_scratch_get_profile(rules_scratch_get_fast(sc), &pr);
    t->hits = pr.memo_hits;
    free(v);
    rules_scratch_free(sc);
    return NULL;
}

/* Four threads share the ruleset's memo, each with its own scratch, the
 * same messages over and over: each gets the oracle's values every time
 * (the try-locks never hand out a half-written entry), and they do
 * replay. */
START_TEST(scan_memo_threads)
{
    tg_buf cf;
    pair_t p;
    memo_load(&p, &cf);
    tg_buf_free(&cf);
    size_t nr = rules_count(p.ro);
    double *want = calloc(3 * nr, sizeof *want);
    rules_scratch_t *so = rules_scratch_new(p.ro);
    for (size_t k = 0; k < 3; k++) {
        msg_t *m = memo_msg(k);
        rules_match_all(p.ro, so, m, NULL, p.vo);
        memcpy(want + k * nr, p.vo, nr * sizeof *want);
        msg_free(m);
    }
    rules_scratch_free(so);
    memo_thread_t t[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (memo_thread_t){.rs = p.rf, .want = want, .nrules = nr};
        ck_assert_int_eq(pthread_create(&th[i], NULL, memo_thread, &t[i]), 0);
    }
    unsigned long hits = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(t[i].bad, 0);
        hits += t[i].hits;
    }
    ck_assert_uint_gt(hits, 100);
    free(want);
    pair_free(&p);
}
END_TEST

Suite *fast_suite(void)
{
    Suite *s = suite_create("fast");
    TCase *tc = tcase_create("match");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, anchors_per_line);
    tcase_add_test(tc, nosubject_skips_the_subject_line);
    tcase_add_test(tc, wide_patterns_both_matchers);
    tcase_add_test(tc, captured_tags);
    tcase_add_test(tc, captured_tags_many_groups);
    tcase_add_test(tc, captured_tags_skeleton);
    tcase_add_test(tc, mimeheader_last_field);
    tcase_add_test(tc, case_folding_latin1);
    tcase_add_test(tc, ascii_and_8bit_lines);
    tcase_add_test(tc, fffd_strings_mapped);
    tcase_add_test(tc, line_runs_without_pcre2);
    tcase_add_test(tc, line_walks_exact);
    tcase_add_test(tc, line_walk_leads);
    tcase_add_test(tc, line_walk_confirms);
    tcase_add_test(tc, vectorscan_tail_of_long_runs);
    tcase_add_test(tc, squashed_gap_rules);
    tcase_add_test(tc, literal_free_rules_apart);
    tcase_add_test(tc, vectorscan_code_warning);
    tcase_add_test(tc, ascii_database_for_pcre_rules);
    tcase_add_test(tc, lookalikes_prefiltered);
    tcase_add_test(tc, empty_matches_and_multiple);
    tcase_add_test(tc, literal_form_counts);
    tcase_add_test(tc, all_header_prefilter_fires);
    tcase_add_test(tc, relaxed_for_scan_speed);
    tcase_add_test(tc, headers_negation_unset);
    tcase_add_test(tc, mimeheader_every_entity);
    tcase_add_test(tc, header_spellings_and_escaped_bytes);
    tcase_add_test(tc, paths_prefilter_and_pcre);
    tcase_add_test(tc, metas_and_verdicts_agree);
    tcase_add_test(tc, cache_roundtrip);
    tcase_add_test(tc, profiles_by_rule_and_class);
    tcase_add_test(tc, full_class_routed_over_messages);
    tcase_add_test(tc, scan_memo_store);
    tcase_add_test(tc, scan_memo_matches_as_scans);
    tcase_add_test(tc, scan_memo_threads);
    /* a cold compile of a real SpamAssassin rule: 16 s, a minute or two
     * under ASan (Vectorscan's compile allocates a lot) */
    TCase *slow = tcase_create("slow");
    tcase_set_timeout(slow, 600);
    tcase_add_test(slow, confirmed_at_match_starts);
    tcase_add_test(slow, confirmed_at_match_starts_ascii);
    tcase_add_test(slow, huge_stock_rules_prefiltered);
    tcase_add_test(slow, compile_costs_from_the_table);
    suite_add_tcase(s, slow);
    suite_add_tcase(s, tc);
    return s;
}
