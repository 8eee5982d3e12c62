/* Matching, metas, scores, thresholds, actions and the shipped rules. */
#include <check.h>
#include <ctype.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "meta.h"
#include "rules.h"
#include "rx.h"
#include "cf.h"
#include "util.h"

static rules_t *load(const char *text)
{
    rules_t *rs = NULL;
    char err[512] = "";
    int rc = rules_load_string("t.cf", text, NULL, &rs, err, sizeof err);
    ck_assert_msg(rc == 0, "load failed: %s", err);
    return rs;
}

static msg_t *mkmsg(const char *raw)
{
    msg_t *m = msg_new(NULL);
    msg_feed(m, raw, strlen(raw));
    msg_finish(m);
    return m;
}

/* Value of rule `name` on message `raw` (rules_match_all). */
static double value(rules_t *rs, const char *raw, const rules_env_t *env,
                    const char *name)
{
    msg_t *m = mkmsg(raw);
    rules_scratch_t *sc = rules_scratch_new(rs);
    double *v = calloc(rules_count(rs) + 1, sizeof *v);
    rules_match_all(rs, sc, m, env, v);
    long i = rules_find(rs, name);
    ck_assert_msg(i >= 0, "no rule %s", name);
    double r = v[i];
    free(v);
    rules_scratch_free(sc);
    msg_free(m);
    return r;
}

/* Verdict of rs on raw, the message built as the daemon builds it: only the
 * views the rules read (rules_views). */
static void classify(rules_t *rs, const char *raw, const rules_env_t *env,
                     rules_verdict_t *v)
{
    msg_t *m = msg_new(NULL);
    msg_set_views(m, rules_views(rs));
    msg_feed(m, raw, strlen(raw));
    msg_finish(m);
    rules_scratch_t *sc = rules_scratch_new(rs);
    rules_classify(rs, sc, m, env, v);
    rules_scratch_free(sc);
    msg_free(m);
}

static int has_hit(const rules_verdict_t *v, const char *name)
{
    for (size_t i = 0; i < v->nhits; i++)
        if (!strcmp(v->hits[i].name, name))
            return 1;
    return 0;
}

static const char *MSG1 =
    "From: Alice Example <alice@example.com>\n"
    "To: bob@example.org\n"
    "Subject: Cheap watches today\n"
    "Message-ID: <123@example.com>\n"
    "\n"
    "First paragraph talks about\n"
    "watches and prices.\n"
    "\n"
    "Second paragraph: visit http://shop.example.net/buy now!\n"
    "Buy buy buy.\n";

START_TEST(header_rules)
{
    rules_t *rs = load(
        "header SUBJ Subject =~ /cheap watches/i\n"
        "header SUBJ_CASE Subject =~ /cheap watches/\n"
        "header NO_XM X-Mailer !~ /./\n"
        "header XM_UNSET X-Mailer =~ /^none$/ [if-unset: none]\n"
        "header XM_EMPTY X-Mailer =~ /^$/\n"
        "header FROM_ADDR From:addr =~ /^alice\\@example\\.com$/\n"
        "header FROM_NAME From:name =~ /^Alice Example$/\n"
        "header HAS_MID exists:Message-ID\n"
        "header NO_REFS exists:References\n");
    ck_assert(value(rs, MSG1, NULL, "SUBJ") == 1);
    ck_assert(value(rs, MSG1, NULL, "SUBJ_CASE") == 0);
    /* an unset header is matched as "" (Perl's undef), so !~ /./ hits */
    ck_assert(value(rs, MSG1, NULL, "NO_XM") == 1);
    ck_assert(value(rs, MSG1, NULL, "XM_UNSET") == 1);
    ck_assert(value(rs, MSG1, NULL, "XM_EMPTY") == 1);
    ck_assert(value(rs, MSG1, NULL, "FROM_ADDR") == 1);
    ck_assert(value(rs, MSG1, NULL, "FROM_NAME") == 1);
    ck_assert(value(rs, MSG1, NULL, "HAS_MID") == 1);
    ck_assert(value(rs, MSG1, NULL, "NO_REFS") == 0);
    rules_unref(rs);

    /* SpamAssassin 4: :addr / :name give every address / name of every
     * occurrence, one per line */
    rs = load("header TO_ALL To:addr =~ /\\Aa\\@x\\.example\\nb\\@y\\.example\\nc\\@z\\.example\\z/\n"
              "header TO_NAMES To:name =~ /^Bee$/m\n");
    const char *multi = "From: s@example.net\nTo: a@x.example, \"Bee\" <b@y.example>\n"
                        "To: c@z.example\nSubject: s\n\nbody\n";
    ck_assert(value(rs, multi, NULL, "TO_ALL") == 1);
    ck_assert(value(rs, multi, NULL, "TO_NAMES") == 1);
    rules_unref(rs);
}
END_TEST

START_TEST(body_semantics)
{
    rules_t *rs = load(
        "body SUBJ_IN_BODY /^Cheap watches today$/\n"
        "body JOINED /about watches and prices/\n"
        "body ACROSS /prices.*Second/s\n"
        "body PARA_START /^Second paragraph/\n"
        "body BUY /buy/i\n"
        "body BUY_MULTI /buy/i\n"
        "tflags BUY_MULTI multiple\n"
        "body BUY_MAX /buy/i\n"
        "tflags BUY_MAX multiple maxhits=2\n"
        "uri  URI_SHOP /^http:\\/\\/shop\\.example\\.net\\/buy$/\n"
        "rawbody RAW_NL /about\\nwatches/\n"
        "full FULL_HDR /^Message-ID: <123\\@example\\.com>$/m\n");
    /* Subject is the first body line */
    ck_assert(value(rs, MSG1, NULL, "SUBJ_IN_BODY") == 1);
    /* lines of one paragraph are joined with a space */
    ck_assert(value(rs, MSG1, NULL, "JOINED") == 1);
    /* paragraphs are matched separately, even with /s */
    ck_assert(value(rs, MSG1, NULL, "ACROSS") == 0);
    ck_assert(value(rs, MSG1, NULL, "PARA_START") == 1);
    ck_assert(value(rs, MSG1, NULL, "BUY") == 1);
    ck_assert(value(rs, MSG1, NULL, "BUY_MULTI") == 4); /* URL + 3 words */
    ck_assert(value(rs, MSG1, NULL, "BUY_MAX") == 2);
    ck_assert(value(rs, MSG1, NULL, "URI_SHOP") == 1);
    ck_assert(value(rs, MSG1, NULL, "RAW_NL") == 1);
    ck_assert(value(rs, MSG1, NULL, "FULL_HDR") == 1);
    rules_unref(rs);
}
END_TEST

START_TEST(html_body_vs_rawbody)
{
    const char *html =
        "From: a@example.com\nSubject: hi\nMIME-Version: 1.0\n"
        "Content-Type: text/html; charset=us-ascii\n\n"
        "<html><body><p>Click <b>here</b> &amp; win</p>"
        "<a href=\"http://win.example.com/x\">link</a></body></html>\n";
    rules_t *rs = load(
        "body TEXT /Click here & win/\n"
        "body TAG_IN_BODY /<b>/\n"
        "rawbody TAG_IN_RAW /<b>here<\\/b>/\n"
        "uri HREF /win\\.example\\.com/\n");
    ck_assert(value(rs, html, NULL, "TEXT") == 1);
    ck_assert(value(rs, html, NULL, "TAG_IN_BODY") == 0);
    ck_assert(value(rs, html, NULL, "TAG_IN_RAW") == 1);
    ck_assert(value(rs, html, NULL, "HREF") == 1);
    rules_unref(rs);
}
END_TEST

START_TEST(latin1_case_folding)
{
    /* Perl folds Latin-1 letters under /i; tollgate's PCRE2 tables do too */
    const char *raw = "Subject: x\nX-Test: \xc4rger\n\nbody\n";
    rules_t *rs = load(
        "header FOLD X-Test:raw =~ /\\xe4rger/i\n"
        "header NOFOLD X-Test:raw =~ /\\xe4rger/\n"
        "header WORD X-Test:raw =~ /^\\w/\n");
    ck_assert(value(rs, raw, NULL, "FOLD") == 1);
    ck_assert(value(rs, raw, NULL, "NOFOLD") == 0);
    ck_assert(value(rs, raw, NULL, "WORD") == 0); /* \w stays ASCII (/aa) */
    rules_unref(rs);
}
END_TEST

START_TEST(metas)
{
    rules_t *rs = load(
        "body __A /watches/\n"
        "body __B /prices/\n"
        "body __C /nothing-here/\n"
        "body __D /buy/i\n"
        "tflags __D multiple\n"
        "body ZERO /watches/\n"
        "score ZERO 0\n"
        "body EV eval:check_something()\n"
        "meta AND __A && __B\n"
        "meta OR __C || __B\n"
        "meta NOT !__C\n"
        "meta SUM (__A + __B + __C) >= 2\n"
        "meta COUNT __D > 3\n"
        "meta ARITH __D * 2 - 1\n"
        "meta UNDEF __A && !NO_SUCH_RULE\n"
        "meta UNDEF2 NO_SUCH_RULE\n"
        "meta SEES_ZERO ZERO\n"
        "meta SEES_EVAL !EV\n"
        "meta DEEP AND && SUM && NOT\n"
        "meta PREC 1 + 2 * 3 == 7\n"
        "meta DIV0 __A / 0\n");
    ck_assert(value(rs, MSG1, NULL, "AND") == 1);
    ck_assert(value(rs, MSG1, NULL, "OR") == 1);
    ck_assert(value(rs, MSG1, NULL, "NOT") == 1);
    ck_assert(value(rs, MSG1, NULL, "SUM") == 1);
    ck_assert(value(rs, MSG1, NULL, "COUNT") == 1);
    ck_assert(value(rs, MSG1, NULL, "ARITH") == 7);
    ck_assert(value(rs, MSG1, NULL, "UNDEF") == 1);
    ck_assert(value(rs, MSG1, NULL, "UNDEF2") == 0);
    ck_assert(value(rs, MSG1, NULL, "SEES_ZERO") == 0); /* score 0: not run */
    ck_assert(value(rs, MSG1, NULL, "SEES_EVAL") == 1); /* eval: never hits */
    ck_assert(value(rs, MSG1, NULL, "DEEP") == 1);      /* meta of metas */
    ck_assert(value(rs, MSG1, NULL, "PREC") == 1);
    ck_assert(value(rs, MSG1, NULL, "DIV0") == 0);
    const rules_info_t *in = rules_get_info(rs);
    ck_assert_uint_eq(in->disabled, 1);
    ck_assert_uint_eq(in->skipped_eval, 1);
    rules_unref(rs);
}
END_TEST

/* rules_match_all evaluates only the metas a set value reaches: through
 * chains of metas, from a meta whose value with nothing set is not 0
 * (never evaluated, yet it sets what reads it), one input read twice,
 * and one scratch over messages that set different rules. */
START_TEST(metas_reached_by_set_values)
{
    rules_t *rs = load(
        "body __A /watches/\n"
        "body __B /prices/\n"
        "body __N /nothing-here/\n"
        "meta C1 __A\n"
        "meta C2 C1 * 2\n"
        "meta C3 C2 + 1\n"
        "meta NONE !__N\n"
        "meta NONE_AND_B NONE && __B\n"
        "meta NONE_ONLY NONE + 0\n"
        "meta TWICE __A + __A\n"
        "meta NEVER __N\n"
        "meta AFTER_NEVER NEVER || 0\n"
        "meta NOT_NEVER !NEVER && !AFTER_NEVER\n");
    static const char *const names[] = {"C1", "C2", "C3", "NONE", "NONE_AND_B", "NONE_ONLY",
                                        "TWICE", "NEVER", "AFTER_NEVER", "NOT_NEVER"};
    static const double want[][10] = {
        {1, 2, 3, 1, 1, 1, 2, 0, 0, 1}, /* MSG1: watches and prices */
        {0, 0, 1, 1, 0, 1, 0, 0, 0, 1}, /* neither */
    };
    const char *msgs[] = {MSG1, "Subject: x\n\nplain words\n"};
    rules_scratch_t *sc = rules_scratch_new(rs);
    double *v = calloc(rules_count(rs) + 1, sizeof *v);
    for (int round = 0; round < 2; round++)
        for (int m = 0; m < 2; m++) {
            msg_t *msg = mkmsg(msgs[m]);
            rules_match_all(rs, sc, msg, NULL, v);
            for (size_t k = 0; k < sizeof names / sizeof *names; k++)
                ck_assert_msg(v[rules_find(rs, names[k])] == want[m][k], "message %d %s: %g", m,
                              names[k], v[rules_find(rs, names[k])]);
            msg_free(msg);
        }
    free(v);
    rules_scratch_free(sc);
    rules_unref(rs);
}
END_TEST

/* meta_eval follows Perl's semantics on every input, and meta_zero is its
 * value on all-zero inputs (which rules_match_all uses instead of the
 * walk), including all-zero values that are not 0. */
START_TEST(meta_zero_inputs)
{
    static const struct { const char *ex; double want[4]; } C[] = {
        {"!A && !B", {1, 0, 0, 0}},   {"(A + B) < 1", {1, 0, 0, 0}},
        {"A * 2 - 1", {-1, 1, -1, 5}}, {"A || 5", {5, 1, 5, 3}},
        {"!(A > B)", {1, 0, 1, 0}},   {"-A + 2", {2, 1, 2, -1}},
        {"B && A", {0, 0, 0, 3}},
        /* short circuits inside short circuits, unary on unary */
        {"(A && B) || (!A && 3) || B * 2", {3, 0, 3, 1}},
        {"A && (B || (A + B > 3))", {0, 0, 0, 1}},
        {"!!A + !B * 4 - (A == B)", {3, 5, 0, 1}},
        {"A / B + B", {0, 0, 2, 4}},
        /* constants that are not small integers (an I_NUM's own cell) */
        {"A * 0.5 + 2.25 - B", {2.25, 2.75, 0.25, 2.75}},
        {"1e3 * B + 1.5", {1.5, 1.5, 2001.5, 1001.5}},
    };
    static const double v[4][2] = {{0, 0}, {1, 0}, {0, 2}, {3, 1}}; /* A, B */
    for (size_t c = 0; c < sizeof C / sizeof *C; c++) {
        meta_expr_t *e = NULL;
        size_t pos;
        char err[128];
        ck_assert_msg(meta_parse(C[c].ex, &e, &pos, err, sizeof err) == 0, "%s", err);
        for (size_t i = 0; i < meta_nnames(e); i++)
            meta_bind(e, i, !strcmp(meta_name(e, i), "A") ? 0 : 1);
        size_t ncells;
        const void *code = meta_code(e, &ncells);
        ck_assert_msg(code != NULL && ncells > 0, "%s has no code", C[c].ex);
        for (int k = 0; k < 4; k++) {
            ck_assert_msg(meta_eval(e, v[k]) == C[c].want[k], "%s with A=%g B=%g: %g", C[c].ex,
                          v[k][0], v[k][1], meta_eval(e, v[k]));
            /* rules_match_all's way: the code alone */
            ck_assert(meta_run(code, ncells, v[k]) == C[c].want[k]);
        }
        ck_assert_msg(meta_zero(e) == C[c].want[0], "%s: all-zero value %g", C[c].ex,
                      meta_zero(e));
        meta_free(e);
    }
}
END_TEST

/* An expression too deep for meta_eval's postfix stack is walked as a
 * tree instead; both give the same value. */
START_TEST(meta_deep_expression)
{
    char right[2048] = "1", left[2048] = "1", tmp[2048];
    for (int i = 0; i < 70; i++) {
        snprintf(tmp, sizeof tmp, "A + (%s)", right); /* stack grows each level */
        strcpy(right, tmp);
        snprintf(tmp, sizeof tmp, "(%s) + A", left);  /* stack of 2 */
        strcpy(left, tmp);
    }
    const char *ex[] = {right, left};
    const double v[] = {3};
    for (int k = 0; k < 2; k++) {
        meta_expr_t *e = NULL;
        size_t pos;
        char err[128];
        ck_assert_msg(meta_parse(ex[k], &e, &pos, err, sizeof err) == 0, "%s", err);
        meta_bind(e, 0, 0);
        ck_assert_msg(meta_eval(e, v) == 211, "%s: %g", k ? "left" : "right", meta_eval(e, v));
        /* right needs a stack of 70: no code; left's code gives the same */
        size_t ncells;
        const void *code = meta_code(e, &ncells);
        ck_assert(k == 0 ? code == NULL && ncells == 0 : code != NULL);
        if (code)
            ck_assert(meta_run(code, ncells, v) == 211);
        ck_assert(meta_zero(e) == 1);
        meta_free(e);
    }
}
END_TEST

/* A plain literal is counted without PCRE2 (tflags multiple /e/): the
 * same counts, with and without /i and a cap, as PCRE2 gives the same
 * literal written as a group (which takes the PCRE2 path). */
START_TEST(literal_counts)
{
    static const struct { const char *lit; unsigned flags; } L[] = {
        {"e", 0}, {"E", CF_RE_I}, {"ab", 0}, {"aa", 0}, {"Ab", CF_RE_I}, {"a b", 0},
        {"-", 0}, {"x@y", CF_RE_I},
    };
    static const char *const S[] = {"", "e", "eEeE", "abab aab", "aaaaa", "AB ab aB a b",
                                     "x@Y x@y", "caf\xe9 \xc9" "e", "---", "e\0e"};
    static const size_t SL[] = {0, 1, 4, 8, 5, 12, 7, 8, 3, 3};
    rx_scratch_t *sc = rx_scratch_new(0, 0);
    for (size_t i = 0; i < sizeof L / sizeof *L; i++) {
        char grp[64], err[128];
        snprintf(grp, sizeof grp, "(?:%s)", L[i].lit);
        rx_t *a = NULL, *b = NULL;
        size_t eo;
        int big;
        ck_assert(rx_compile(L[i].lit, L[i].flags, &a, &eo, &big, err, sizeof err) == 0);
        ck_assert(rx_compile(grp, L[i].flags, &b, &eo, &big, err, sizeof err) == 0);
        for (size_t k = 0; k < sizeof S / sizeof *S; k++)
            for (unsigned max = 0; max < 4; max++)
                ck_assert_msg(rx_count(a, sc, S[k], SL[k], max) == rx_count(b, sc, S[k], SL[k], max),
                              "/%s/ on \"%s\" max %u: %u vs %u", L[i].lit, S[k], max,
                              rx_count(a, sc, S[k], SL[k], max), rx_count(b, sc, S[k], SL[k], max));
        /* longer strings (counted 8 bytes at a time): every byte value, the
         * literal's bytes dense and sparse, caps within and past the count */
        char buf[1100];
        unsigned seed = 12345;
        for (size_t len = 0; len < sizeof buf; len = len < 40 ? len + 1 : len * 2 + 3) {
            for (int dense = 0; dense < 3; dense++) {
                for (size_t j = 0; j < len; j++) {
                    seed = seed * 1103515245u + 12345u;
                    unsigned r = seed >> 16;
                    char lc = L[i].lit[r % 2 ? 0 : strlen(L[i].lit) - 1];
                    if (L[i].flags && (r & 0x20) && isalpha((unsigned char)lc))
                        lc = (char)(lc ^ 0x20); /* the other case */
                    buf[j] = dense == 2 ? L[i].lit[0] : dense && r % 3 == 0 ? lc : (char)(r & 0xff);
                }
                static const unsigned M[] = {0, 1, 2, 7, 8, 9, 63, 230, 2000};
                for (size_t q = 0; q < sizeof M / sizeof *M; q++)
                    ck_assert_msg(rx_count(a, sc, buf, len, M[q]) == rx_count(b, sc, buf, len, M[q]),
                                  "/%s/ on %zu bytes (%d) max %u: %u vs %u", L[i].lit, len, dense,
                                  M[q], rx_count(a, sc, buf, len, M[q]),
                                  rx_count(b, sc, buf, len, M[q]));
            }
        }
        rx_free(a);
        rx_free(b);
    }
    rx_scratch_free(sc);
}
END_TEST

/* rx_line_ahead: a final (?=.{M,N}^\K\r?$) answered in C gives the
 * original's counts on every subject: random ones built from the tokens
 * that move its window, lines and \r around (a fixed seed), and the
 * window's edges; patterns that do not end so, or might mean something
 * else, are left alone. */
START_TEST(line_ahead_is_exact)
{
    static const struct { const char *pat; unsigned flags; } P[] = {
        {"^From:\\s+([^<]\\S+\\s\\S+)\\s(?=.{1,2048}^\\1\\r?$)", CF_RE_S | CF_RE_M},
        {"^From:\\s+([^<]\\S+\\s\\S+)\\s(?=.{1,12}^\\1\\r?$)", CF_RE_S | CF_RE_M},
        {"(a+)(b)?(?=.{0,6}^\\2$)", CF_RE_S | CF_RE_M},
        {"(?<n>\\w)(?:x|y)(?=.{3}^\\1$)", CF_RE_S | CF_RE_M | RX_ANCHORED},
        {"(\\w*)(?=.{2,5}^\\1\\r?$)", CF_RE_S | CF_RE_M},
    };
    static const char *const T[] = {"From: ", "From:  ", "Ab Cd", " ", "\n", "\r", "x", "a",
                                    "b", "ab", "Ab Cd\n", "<", "ax", "\n\n", "From:\n Ab"};
    rx_scratch_t *sc = rx_scratch_new(0, 0);
    unsigned seed = 7, tried = 0, hits = 0;
    for (size_t i = 0; i < sizeof P / sizeof *P; i++) {
        char err[128];
        size_t eo;
        int big;
        rx_t *o = NULL, *c = rx_line_ahead(P[i].pat, P[i].flags);
        ck_assert_msg(c != NULL, "%s", P[i].pat);
        ck_assert(rx_compile(P[i].pat, P[i].flags, &o, &eo, &big, err, sizeof err) == 0);
        for (int k = 0; k < 3000; k++) {
            char buf[256];
            size_t len = 0;
            for (int t = (int)(rand_r(&seed) % 14); t >= 0; t--) {
                const char *x = T[rand_r(&seed) % (sizeof T / sizeof *T)];
                memcpy(buf + len, x, strlen(x));
                len += strlen(x);
            }
            for (unsigned max = 0; max < 3; max++) {
                unsigned a = (P[i].flags & RX_ANCHORED) ? (unsigned)rx_match_at(o, sc, buf, len, max)
                                                        : rx_count(o, sc, buf, len, max);
                unsigned b = (P[i].flags & RX_ANCHORED) ? (unsigned)rx_match_at(c, sc, buf, len, max)
                                                        : rx_count(c, sc, buf, len, max);
                ck_assert_msg(a == b, "/%s/ on \"%.*s\" (%u): %u, in C %u", P[i].pat, (int)len,
                              buf, max, a, b);
                hits += a > 0, tried++;
            }
        }
        rx_free(o);
        rx_free(c);
    }
    ck_assert_msg(hits > tried / 20 && hits < tried - tried / 20, "%u of %u", hits, tried);
    /* the window's edges: the line starting 12 bytes after the \s, then 13 */
    rx_t *c = rx_line_ahead(P[1].pat, P[1].flags);
    ck_assert_uint_eq(rx_count(c, sc, "From: Ab Cd\n01234567890\nAb Cd", 29, 0), 1);
    ck_assert_uint_eq(rx_count(c, sc, "From: Ab Cd\n01234567890\nAb Cd\r\n", 31, 0), 1);
    ck_assert_uint_eq(rx_count(c, sc, "From: Ab Cd\n012345678901\nAb Cd\r\n", 32, 0), 0);
    ck_assert_uint_eq(rx_count(c, sc, "From: Ab Cd\n01234567890\nAb Cde", 30, 0), 0);
    rx_free(c);
    rx_scratch_free(sc);
    static const struct { const char *pat; unsigned flags; } N[] = {
        {"(a)(?=.{1,9}^\\1$)", CF_RE_M}, {"(a)(?=.{1,9}^\\1$)", CF_RE_S | CF_RE_M | CF_RE_I},
        {"(?i)(a)(?=.{1,9}^\\1$)", CF_RE_S | CF_RE_M}, {"\\Q(\\E(a)(?=.{1,9}^\\1$)", CF_RE_S | CF_RE_M},
        {"(?|(a)|(b))(?=.{1,9}^\\1$)", CF_RE_S | CF_RE_M}, {"(a)(?=.{1,9}^\\1$)b", CF_RE_S | CF_RE_M},
        {"(a)(?=.{1,9}^\\1 $)", CF_RE_S | CF_RE_M}, {"(a)(?=.{9,1}^\\1$)", CF_RE_S | CF_RE_M},
        {"(a)(?1)(?=.{1,9}^\\1$)", CF_RE_S | CF_RE_M}, {"(*CR)(a)(?=.{1,9}^\\1$)", CF_RE_S | CF_RE_M},
        {"(a)(?=.{1,9}^\\1$)", CF_RE_S | CF_RE_M | CF_RE_X},
    };
    for (size_t i = 0; i < sizeof N / sizeof *N; i++) {
        rx_t *x = rx_line_ahead(N[i].pat, N[i].flags);
        ck_assert_msg(x == NULL, "%s taken", N[i].pat);
    }
}
END_TEST

/* A pattern too large for the 8-bit library runs with the 32-bit one
 * (rx.c): each case's pattern is compiled alone (8-bit) and behind 30,000
 * alternatives that never match here (32-bit), and both must give the same
 * counts at every cap, the same named captures, the same anchored matches
 * and the same limit handling -- Latin-1 /i folding, ASCII-only \w, per
 * line anchors and Perl's //g over empty matches included. */
static void add_names(void *arg, const char *name, const char *val, size_t len)
{
    tg_buf_printf(arg, "%s=%.*s;", name, (int)len, val ? val : "");
}

START_TEST(wide_patterns_match_as_narrow)
{
    static const struct { const char *pat; unsigned flags; } P[] = {
        {"caf\xe9", CF_RE_I}, {"\\w+", 0}, {"^x$", CF_RE_M}, {"a*", 0},
        {"(?<T>b+)c|(?<U>\\d)", 0}, {"\\bword\\b", CF_RE_I}, {"[\xc0-\xdf]{2}", CF_RE_I},
    };
    static const char *const S[] = {"", "CAF\xc9 caf\xe9 Caf\xc9", "ab\xe9" "cd_9", "x\ny\nx",
                                     "baaac aa", "bbc 7 bc", "a Word, WORD.", "\xe0\xe9\xc0"};
    tg_buf pad;
    tg_buf_init(&pad);
    tg_buf_adds(&pad, "(?:");
    for (int i = 0; i < 30000; i++)
        tg_buf_printf(&pad, "%szq%dzq", i ? "|" : "", i);
    tg_buf_adds(&pad, ")|");
    rx_scratch_t *sc = rx_scratch_new(0, 0);
    for (size_t i = 0; i < sizeof P / sizeof *P; i++) {
        char err[128];
        size_t eo;
        int big;
        tg_buf w;
        tg_buf_init(&w);
        tg_buf_printf(&w, "%s(?:%s)", pad.s, P[i].pat);
        rx_t *n = NULL, *x = NULL;
        ck_assert(rx_compile(P[i].pat, P[i].flags, &n, &eo, &big, err, sizeof err) == 0);
        ck_assert_msg(rx_compile(w.s, P[i].flags, &x, &eo, &big, err, sizeof err) == 0, "%s", err);
        ck_assert(!rx_is_wide(n) && rx_is_wide(x));
        for (size_t k = 0; k < sizeof S / sizeof *S; k++) {
            size_t len = strlen(S[k]);
            for (unsigned max = 0; max < 4; max++)
                ck_assert_msg(rx_count(n, sc, S[k], len, max) == rx_count(x, sc, S[k], len, max),
                              "/%s/ on \"%s\" max %u: 8-bit %u, 32-bit %u", P[i].pat, S[k], max,
                              rx_count(n, sc, S[k], len, max), rx_count(x, sc, S[k], len, max));
            tg_buf cn, cx;
            tg_buf_init(&cn);
            tg_buf_init(&cx);
            unsigned a = rx_captures(n, sc, S[k], len, 0, add_names, &cn);
            unsigned c = rx_captures(x, sc, S[k], len, 0, add_names, &cx);
            ck_assert_uint_eq(a, c);
            ck_assert_str_eq(cn.s ? cn.s : "", cx.s ? cx.s : "");
            tg_buf_free(&cn);
            tg_buf_free(&cx);
        }
        rx_free(n);
        rx_free(x);
        tg_buf_free(&w);
    }
    /* the captures really are reported through the 32-bit name table */
    {
        char err[128];
        size_t eo;
        int big;
        tg_buf w, got;
        tg_buf_init(&w);
        tg_buf_init(&got);
        tg_buf_printf(&w, "%s(?:(?<T>b+)c)", pad.s);
        rx_t *x = NULL;
        ck_assert(rx_compile(w.s, 0, &x, &eo, &big, err, sizeof err) == 0);
        ck_assert_uint_eq(rx_captures(x, sc, "abbc bc", 7, 0, add_names, &got), 2);
        ck_assert_str_eq(got.s, "T=bb;T=b;");
        rx_free(x);
        /* anchored at an offset, as the fast matcher's starts confirm */
        rx_t *an = NULL;
        tg_buf_reset(&w);
        tg_buf_printf(&w, "%s(?:b+c)", pad.s);
        ck_assert(rx_compile(w.s, RX_ANCHORED, &an, &eo, &big, err, sizeof err) == 0);
        ck_assert(rx_is_wide(an));
        ck_assert_int_eq(rx_match_at(an, sc, "abbc bc", 7, 1), 1);
        ck_assert_int_eq(rx_match_at(an, sc, "abbc bc", 7, 0), 0);
        ck_assert_int_eq(rx_match_at(an, sc, "abbc bc", 7, 5), 1);
        rx_free(an);
        tg_buf_free(&w);
        tg_buf_free(&got);
    }
    rx_scratch_free(sc);
    /* the match limit applies to it and is counted */
    {
        char err[128];
        size_t eo;
        int big;
        tg_buf w;
        tg_buf_init(&w);
        tg_buf_printf(&w, "%s(?:(a+)+b)", pad.s);
        rx_t *x = NULL;
        ck_assert(rx_compile(w.s, 0, &x, &eo, &big, err, sizeof err) == 0);
        rx_scratch_t *lim = rx_scratch_new(10000, 0);
        ck_assert_uint_eq(rx_count(x, lim, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", 40, 1), 0);
        ck_assert_uint_ge(rx_scratch_limit_hits(lim), 1);
        rx_scratch_free(lim);
        rx_free(x);
        tg_buf_free(&w);
    }
    tg_buf_free(&pad);
}
END_TEST

START_TEST(meta_cycle_is_an_error)
{
    rules_t *rs = NULL;
    char err[256];
    int rc = rules_load_string("t.cf", "meta A B && 1\nmeta B C\nmeta C A\n", NULL,
                               &rs, err, sizeof err);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(err, "depends on itself") != NULL, "got %s", err);
    /* at the definition that closes the cycle, like every load error */
    ck_assert_msg(strncmp(err, "t.cf:3:8: meta rule", 19) == 0, "got %s", err);
}
END_TEST

START_TEST(scores_and_thresholds)
{
    const char *base =
        "body W /watches/\nscore W %s\n"
        "body B /buy/i\ntflags B multiple\nscore B 0.5\n"
        "body __SUB /prices/\n"
        "meta M __SUB && W\nscore M 1.0\n"
        "required_score 5\nthreshold quarantine 10\nthreshold reject 20\n";
    char text[1024];
    rules_verdict_t v;

    snprintf(text, sizeof text, base, "1.0");
    rules_t *rs = load(text);
    classify(rs, MSG1, NULL, &v);
    /* W 1.0 + B 4 x 0.5 + M 1.0; __SUB scores nothing and is not listed */
    ck_assert_double_eq_tol(v.score, 4.0, 1e-9);
    ck_assert_int_eq(v.action, RULES_ACCEPT);
    ck_assert_int_eq(v.category, RULES_CAT_CLEAN);
    ck_assert_uint_eq(v.nhits, 3);
    ck_assert(!has_hit(&v, "__SUB"));
    ck_assert_uint_eq(v.hits[1].count, 4);
    ck_assert_ptr_null(v.reply);
    rules_verdict_clear(&v);
    rules_unref(rs);

    snprintf(text, sizeof text, base, "3.0");
    rs = load(text);
    classify(rs, MSG1, NULL, &v);
    ck_assert_double_eq_tol(v.score, 6.0, 1e-9);
    ck_assert_int_eq(v.action, RULES_TAG);
    ck_assert_int_eq(v.category, RULES_CAT_TAGGED);
    rules_verdict_clear(&v);
    rules_unref(rs);

    snprintf(text, sizeof text, base, "8.0");
    rs = load(text);
    classify(rs, MSG1, NULL, &v);
    ck_assert_int_eq(v.action, RULES_QUARANTINE);
    ck_assert_int_eq(v.category, RULES_CAT_SPAM);
    ck_assert_str_eq(v.reply, "tollgate: spam, score 11.0");
    rules_verdict_clear(&v);
    rules_unref(rs);

    snprintf(text, sizeof text, base, "18.0");
    rs = load(text);
    classify(rs, MSG1, NULL, &v);
    ck_assert_int_eq(v.action, RULES_REJECT);
    ck_assert_str_eq(v.reply, "550 5.7.1 Message rejected as spam");
    rules_verdict_clear(&v);
    rules_unref(rs);
}
END_TEST

START_TEST(explicit_actions)
{
    rules_t *rs = load(
        "body W /watches/\nscore W 1\naction W tempfail \"Greylisted, come back later\"\n"
        "body P /prices/\nscore P 1\ncategory P policy\n"
        "action P reject \"554 5.7.1 Policy says no\"\n"
        "body N /nothing-here/\naction N discard\n");
    rules_verdict_t v;
    classify(rs, MSG1, NULL, &v);
    /* reject beats tempfail; the winner's category and text apply */
    ck_assert_int_eq(v.action, RULES_REJECT);
    ck_assert_int_eq(v.category, RULES_CAT_POLICY);
    ck_assert_str_eq(v.decided_by, "P");
    ck_assert_str_eq(v.reply, "554 5.7.1 Policy says no");
    rules_verdict_clear(&v);
    rules_unref(rs);

    rs = load("body W /watches/\nscore W 1\naction W tempfail \"Greylisted\"\n");
    classify(rs, MSG1, NULL, &v);
    ck_assert_int_eq(v.action, RULES_TEMPFAIL);
    ck_assert_int_eq(v.category, RULES_CAT_TEMPFAIL);
    ck_assert_str_eq(v.reply, "451 4.7.1 Greylisted");
    rules_verdict_clear(&v);
    rules_unref(rs);

    /* an explicit accept (allow-list) overrides the thresholds */
    rs = load("body W /watches/\nscore W 50\n"
              "header OK From:addr =~ /\\@example\\.com$/\nscore OK -1\naction OK accept\n"
              "threshold reject 10\n");
    classify(rs, MSG1, NULL, &v);
    ck_assert_int_eq(v.action, RULES_ACCEPT);
    ck_assert_int_eq(v.category, RULES_CAT_CLEAN);
    ck_assert_double_eq_tol(v.score, 49, 1e-9);
    rules_verdict_clear(&v);
    rules_unref(rs);

    /* threshold decisions take the most serious category among hits */
    rs = load("body W /watches/\nscore W 20\n"
              "body S /prices/\nscore S 1\ncategory S security\nthreshold reject 15\n");
    classify(rs, MSG1, NULL, &v);
    ck_assert_int_eq(v.action, RULES_REJECT);
    ck_assert_int_eq(v.category, RULES_CAT_SECURITY);
    ck_assert_str_eq(v.reply, "550 5.7.1 Message rejected as a security threat");
    rules_verdict_clear(&v);
    rules_unref(rs);

    /* a reply code alone gets the default text after it */
    rs = load("body W /watches/\nscore W 1\naction W reject \"554\"\n");
    classify(rs, MSG1, NULL, &v);
    ck_assert_str_eq(v.reply, "554 5.7.1 Message rejected as spam");
    rules_verdict_clear(&v);
    rules_unref(rs);

    /* reply codes must fit the action */
    char err[256];
    ck_assert_int_eq(rules_load_string("t.cf", "body A /a/\naction A tempfail \"550 5.7.1 no\"\n",
                                       NULL, &rs, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "t.cf:2:20: tempfail reply code must start with 4"), "got %s", err);
    ck_assert_int_eq(rules_load_string("t.cf", "body A /a/\naction A reject \"4.7.1 no\"\n",
                                       NULL, &rs, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "t.cf:2:18: reject enhanced status code must start with 5"), "got %s", err);
}
END_TEST

START_TEST(envelope_rules)
{
    rules_t *rs = load(
        "connect NET ip 203.0.113.0/24 2001:db8::/32\n"
        "connect HOST hostname =~ /\\.dyn\\.example\\.net$/\n"
        "helo    HELO =~ /^\\[?\\d+\\.\\d+\\.\\d+\\.\\d+\\]?$/\n"
        "envfrom NULLS =~ /^$/\n"
        "envrcpt ANY =~ /^postmaster\\@/\n"
        "envrcpt NONE_LOCAL !~ /\\@example\\.org$/\n"
        "auth    AUTHED =~ /./\n"
        "spf     SPFBAD fail softfail\n"
        "direction IN inbound\n"
        "local   LOC_ENV envfrom\n"
        "local   LOC_FROM from\n");
    const char *rc1[] = {"bob@example.org", "postmaster@example.org"};
    const char *locals[] = {"example.com"};
    rules_env_t env = {
        .client_ip = "203.0.113.9", .client_name = "h1.dyn.example.net",
        .helo = "[203.0.113.9]", .mail_from = "", .rcpts = rc1, .nrcpts = 2,
        .spf = RULES_SPF_SOFTFAIL, .direction = RULES_DIR_INBOUND,
        .local_domains = locals, .nlocal_domains = 1,
    };
    ck_assert(value(rs, MSG1, &env, "NET") == 1);
    ck_assert(value(rs, MSG1, &env, "HOST") == 1);
    ck_assert(value(rs, MSG1, &env, "HELO") == 1);
    ck_assert(value(rs, MSG1, &env, "NULLS") == 1);
    ck_assert(value(rs, MSG1, &env, "ANY") == 1);
    ck_assert(value(rs, MSG1, &env, "NONE_LOCAL") == 0);
    ck_assert(value(rs, MSG1, &env, "AUTHED") == 0);
    ck_assert(value(rs, MSG1, &env, "SPFBAD") == 1);
    ck_assert(value(rs, MSG1, &env, "IN") == 1);
    ck_assert(value(rs, MSG1, &env, "LOC_ENV") == 0);
    ck_assert(value(rs, MSG1, &env, "LOC_FROM") == 1); /* alice@example.com */

    env.client_ip = "2001:db8::25";
    env.mail_from = "x@mail.example.com"; /* subdomain of a local domain */
    env.auth = "bob";
    env.spf = RULES_SPF_PASS;
    env.direction = RULES_DIR_OUTBOUND;
    ck_assert(value(rs, MSG1, &env, "NET") == 1);
    ck_assert(value(rs, MSG1, &env, "NULLS") == 0);
    ck_assert(value(rs, MSG1, &env, "AUTHED") == 1);
    ck_assert(value(rs, MSG1, &env, "SPFBAD") == 0);
    ck_assert(value(rs, MSG1, &env, "IN") == 0);
    ck_assert(value(rs, MSG1, &env, "LOC_ENV") == 1);
    env.client_ip = "::ffff:203.0.113.200"; /* mapped IPv4 */
    ck_assert(value(rs, MSG1, &env, "NET") == 1);
    env.client_ip = "198.51.100.1";
    ck_assert(value(rs, MSG1, &env, "NET") == 0);
    env.mail_from = "x@notexample.com"; /* not a subdomain */
    ck_assert(value(rs, MSG1, &env, "LOC_ENV") == 0);
    /* no environment at all: nothing envelope-based hits */
    ck_assert(value(rs, MSG1, NULL, "NET") == 0);
    ck_assert(value(rs, MSG1, NULL, "SPFBAD") == 0);
    rules_unref(rs);
}
END_TEST

static const char *ATTACH_MSG =
    "From: x@example.net\nTo: y@example.org\nSubject: invoice\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\n\n"
    "--b1\nContent-Type: text/plain\n\nsee attached\n"
    "--b1\nContent-Type: application/octet-stream; name=\"%s\"\n"
    "Content-Disposition: attachment; filename=\"%s\"\n"
    "Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAA\n"
    "--b1--\n";

START_TEST(attachments_size_limits)
{
    rules_t *rs = load(
        "attachment EXE filename =~ /\\.exe$/i\n"
        "attachment OCTET type =~ /^application\\/octet-stream$/\n"
        "mimeheader MH Content-Disposition =~ /attachment/\n"
        "size BIG > 1k\nsize SMALL <= 1k\n"
        "limit TRUNC scan\n");
    char raw[2048];
    snprintf(raw, sizeof raw, ATTACH_MSG, "Invoice.EXE", "Invoice.EXE");
    ck_assert(value(rs, raw, NULL, "EXE") == 1);
    ck_assert(value(rs, raw, NULL, "OCTET") == 1);
    ck_assert(value(rs, raw, NULL, "MH") == 1);
    ck_assert(value(rs, raw, NULL, "SMALL") == 1);
    ck_assert(value(rs, raw, NULL, "BIG") == 0);
    ck_assert(value(rs, raw, NULL, "TRUNC") == 0);
    ck_assert(value(rs, MSG1, NULL, "EXE") == 0);
    ck_assert(value(rs, MSG1, NULL, "MH") == 0);

    /* a message over max_scan is still classified, and flagged */
    tg_buf big;
    tg_buf_init(&big);
    tg_buf_adds(&big, "Subject: big\n\n");
    for (int i = 0; i < 2000; i++)
        tg_buf_adds(&big, "0123456789 0123456789 0123456789 0123456789\n");
    msg_limits_t lim;
    msg_limits_default(&lim);
    lim.max_scan = 4096;
    msg_t *m = msg_new(&lim);
    msg_feed(m, big.s, big.len);
    msg_finish(m);
    rules_scratch_t *sc = rules_scratch_new(rs);
    rules_verdict_t v;
    rules_classify(rs, sc, m, NULL, &v);
    ck_assert(has_hit(&v, "TRUNC"));
    ck_assert(has_hit(&v, "BIG"));
    ck_assert(v.limits & MSG_LIMIT_SCAN);
    rules_verdict_clear(&v);
    rules_scratch_free(sc);
    msg_free(m);
    tg_buf_free(&big);
    rules_unref(rs);
}
END_TEST

START_TEST(regex_errors_and_limits)
{
    rules_t *rs = NULL;
    char err[512];
    /* a syntax error names file:line:col inside the pattern */
    ck_assert_int_eq(rules_load_string("t.cf", "body OK /a/\nbody BAD /a(b/\n", NULL,
                                       &rs, err, sizeof err), -1);
    ck_assert_msg(strncmp(err, "t.cf:2:14: invalid regular expression in BAD:", 45) == 0,
                  "got %s", err);
    /* the same character with m{} delimiters and after escaped "#"s (which
     * the parser unescapes: the columns are still the file's) */
    static const struct { const char *text, *want; } at[] = {
        {"body B m{ab)}\n", "t.cf:1:12: "},
        {"body B /ab)/\n", "t.cf:1:11: "},
        {"body B /a\\#b\\#c)/\n", "t.cf:1:16: "},
        {"describe B x \\# y\nbody B /a\\#)/\n", "t.cf:2:12: "},
        {"header B Subject =~ /\\#(/\n", "t.cf:1:25: "},
    };
    /* a rule disabled with score 0 is checked all the same */
    ck_assert_int_eq(rules_load_string("t.cf", "body Z /a(/\nscore Z 0\n", NULL, &rs, err,
                                       sizeof err), -1);
    ck_assert_msg(strncmp(err, "t.cf:1:11: invalid regular expression in Z:", 43) == 0,
                  "got %s", err);
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        ck_assert_int_eq(rules_load_string("t.cf", at[i].text, NULL, &rs, err, sizeof err), -1);
        ck_assert_msg(strncmp(err, at[i].want, strlen(at[i].want)) == 0, "%s: got %s",
                      at[i].text, err);
    }
    /* a pattern too large for the 8-bit library's 16-bit links (64 KiB of
     * code) compiles with the 32-bit library: loaded, not rejected, and it
     * matches (the stock __MY_MALWARE is 224 KB after ReplaceTags) */
    tg_buf b;
    tg_buf_init(&b);
    tg_buf_adds(&b, "body HUGE /(?:");
    for (int i = 0; i < 30000; i++)
        tg_buf_printf(&b, "%sword%d", i ? "|" : "", i);
    tg_buf_adds(&b, ")\\b/\nbody SMALL /x/\n");
    ck_assert_msg(rules_load_string("t.cf", b.s, NULL, &rs, err, sizeof err) == 0, "%s", err);
    tg_buf_free(&b);
    ck_assert_uint_eq(rules_get_info(rs)->rejected, 0);
    ck_assert_uint_eq(rules_get_info(rs)->wide, 1);
    ck_assert_uint_eq(rules_nnotes(rs, 2), 0);
    rules_verdict_t v;
    classify(rs, "Subject: s\n\nsee word29999 here\n", NULL, &v);
    ck_assert(has_hit(&v, "HUGE"));
    rules_verdict_clear(&v);
    classify(rs, "Subject: s\n\nsee word29999x here\n", NULL, &v);
    ck_assert(!has_hit(&v, "HUGE"));
    rules_verdict_clear(&v);
    rules_unref(rs);
    /* over RX_MAX_PATTERN (1 MiB) it is a resource limit: reported with
     * its place, skipped, the rest loads */
    tg_buf_init(&b);
    tg_buf_adds(&b, "body SMALL /x/\nbody MONSTER /(?:");
    for (int i = 0; b.len <= RX_MAX_PATTERN + 64; i++)
        tg_buf_printf(&b, "%sword%d", i ? "|" : "", i);
    tg_buf_adds(&b, ")/\n");
    ck_assert_msg(rules_load_string("t.cf", b.s, NULL, &rs, err, sizeof err) == 0, "%s", err);
    tg_buf_free(&b);
    ck_assert_uint_eq(rules_get_info(rs)->rejected, 1);
    ck_assert_uint_eq(rules_get_info(rs)->loaded_regex, 1);
    ck_assert_uint_eq(rules_nnotes(rs, 2), 1);
    const char *where, *what;
    size_t count;
    rules_note(rs, 2, 0, &where, &what, &count);
    ck_assert_str_eq(where, "t.cf:2");
    ck_assert_msg(strstr(what, "MONSTER: regular expression is too large (over 1024 KiB)"),
                  "got %s", what);
    rules_unref(rs);

    /* catastrophic backtracking stops at the match limit: no hit, counted
     * (Vectorscan finds "aab", PCRE2 gives up first: the oracle's answer) */
    rules_options_t o = {.match_limit = 10000};
    ck_assert(rules_load_string("t.cf", "body REDOS /(a+)+b/\n", &o, &rs, err, sizeof err) == 0);
    tg_buf_init(&b);
    tg_buf_adds(&b, "Subject: s\n\n");
    for (int i = 0; i < 40; i++)
        tg_buf_addc(&b, 'a');
    tg_buf_adds(&b, "c aab\n");
    classify(rs, b.s, NULL, &v);
    ck_assert(!has_hit(&v, "REDOS"));
    ck_assert_uint_ge(v.regex_limit_hits, 1);
    rules_verdict_clear(&v);
    tg_buf_free(&b);
    rules_unref(rs);
}
END_TEST

/* A message builds only the views its rules read; verdicts do not change. */
START_TEST(views_follow_the_rules)
{
    const char *p[] = {"deploy/rules"};
    rules_t *rs = NULL;
    char err[512];
    ck_assert_msg(rules_load(p, 1, NULL, &rs, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(rules_views(rs), 0); /* headers, parts, size: no text views */
    rules_t *b = load("body B /x/\nuri U /y/\n");
    ck_assert_uint_eq(rules_views(b), MSG_VIEW_BODY | MSG_VIEW_URIS);
    rules_unref(b);
    rules_t *r = load("rawbody R /x/\nbody Z /z/\nscore Z 0\n"); /* disabled: not read */
    ck_assert_uint_eq(rules_views(r), MSG_VIEW_RAWBODY);
    rules_unref(r);

    char raw[2048];
    snprintf(raw, sizeof raw, ATTACH_MSG, "setup.exe", "setup.exe");
    msg_t *m = msg_new(NULL);
    msg_set_views(m, rules_views(rs));
    msg_feed(m, raw, strlen(raw));
    msg_finish(m);
    size_t n;
    msg_body_lines(m, &n);
    ck_assert_uint_eq(n, 0);
    msg_uris(m, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(msg_nparts(m), 2); /* parts are always there */
    rules_scratch_t *sc = rules_scratch_new(rs);
    rules_verdict_t v1, v2;
    rules_classify(rs, sc, m, NULL, &v1);
    msg_t *all = mkmsg(raw);
    rules_classify(rs, sc, all, NULL, &v2);
    ck_assert_int_eq(v1.action, v2.action);
    ck_assert_double_eq(v1.score, v2.score);
    ck_assert_uint_eq(v1.nhits, v2.nhits);
    ck_assert_int_eq(v1.action, RULES_REJECT);
    rules_verdict_clear(&v1);
    rules_verdict_clear(&v2);
    rules_scratch_free(sc);
    msg_free(m);
    msg_free(all);
    rules_unref(rs);
}
END_TEST

START_TEST(verdict_keeps_ruleset_alive)
{
    rules_t *rs = load("body W /watches/\ndescribe W Talks about watches\n");
    rules_verdict_t v;
    classify(rs, MSG1, NULL, &v);
    rules_unref(rs); /* the loader lets go (a reload swapped it out) */
    ck_assert_str_eq(v.hits[0].name, "W");
    ck_assert_str_eq(v.hits[0].describe, "Talks about watches");
    rules_verdict_clear(&v); /* frees the ruleset; ASan checks the rest */
}
END_TEST

/* ---- the shipped rules (deploy/rules) on crafted messages ------------- */

static rules_t *shipped(void)
{
    const char *p[] = {"deploy/rules"};
    rules_t *rs = NULL;
    char err[512];
    ck_assert_msg(rules_load(p, 1, NULL, &rs, err, sizeof err) == 0, "%s", err);
    return rs;
}

static void check_attachment(rules_t *rs, const char *fname, rules_action_t act,
                             const char *rule, const char *reply)
{
    char raw[2048];
    snprintf(raw, sizeof raw, ATTACH_MSG, fname, fname);
    rules_verdict_t v;
    classify(rs, raw, NULL, &v);
    ck_assert_msg(v.action == act, "%s: action %s", fname, rules_action_name(v.action));
    if (rule)
        ck_assert_msg(has_hit(&v, rule), "%s: %s did not hit", fname, rule);
    if (act != RULES_ACCEPT)
        ck_assert_int_eq(v.category, RULES_CAT_SECURITY);
    if (reply)
        ck_assert_str_eq(v.reply, reply);
    rules_verdict_clear(&v);
}

START_TEST(shipped_attachment_rules)
{
    rules_t *rs = shipped();
    check_attachment(rs, "setup.exe", RULES_REJECT, "TG_ATTACH_EXECUTABLE",
                     "550 5.7.1 Executable attachments are not accepted");
    check_attachment(rs, "run.JS", RULES_REJECT, "TG_ATTACH_EXECUTABLE", NULL);
    check_attachment(rs, "invoice.pdf.exe", RULES_REJECT, "TG_ATTACH_DOUBLE_EXT",
                     "550 5.7.1 Attachment with a disguised executable extension refused");
    check_attachment(rs, "photo.jpg   .scr", RULES_REJECT, "TG_ATTACH_DOUBLE_EXT", NULL);
    check_attachment(rs, "budget.xlsm", RULES_QUARANTINE, "TG_ATTACH_MACRO_DOC",
                     "macro-enabled Office document");
    check_attachment(rs, "disk.iso", RULES_QUARANTINE, "TG_ATTACH_DISK_IMAGE", NULL);
    check_attachment(rs, "annex\xe2\x80\xae" "fdp.exe", RULES_REJECT, "TG_ATTACH_RTLO", NULL);
    check_attachment(rs, "report.pdf", RULES_ACCEPT, NULL, NULL);
    check_attachment(rs, "report.docx", RULES_ACCEPT, NULL, NULL);
    /* by declared type, as Office declares it (the name says nothing) */
    static const char *const macro_types[] = {
        "application/vnd.ms-word.document.macroEnabled.12",
        "application/vnd.ms-excel.sheet.macroEnabled.12",
        "application/vnd.ms-powerpoint.presentation.macroEnabled.12",
        "application/vnd.ms-excel.addin.macroEnabled.12",
    };
    for (size_t i = 0; i < sizeof macro_types / sizeof *macro_types; i++) {
        char raw[2048];
        snprintf(raw, sizeof raw,
                 "From: x@example.net\nSubject: t\nMIME-Version: 1.0\n"
                 "Content-Type: multipart/mixed; boundary=\"b1\"\n\n"
                 "--b1\nContent-Type: text/plain\n\nsee attached\n"
                 "--b1\nContent-Type: %s\n\nPK\n--b1--\n", macro_types[i]);
        rules_verdict_t v;
        classify(rs, raw, NULL, &v);
        ck_assert_msg(has_hit(&v, "TG_ATTACH_MACRO_TYPE"), "%s", macro_types[i]);
        ck_assert_int_eq(v.action, RULES_QUARANTINE);
        rules_verdict_clear(&v);
    }
    rules_unref(rs);
}
END_TEST

START_TEST(shipped_sender_rules)
{
    rules_t *rs = shipped();
    const char *locals[] = {"example.com"};
    const char *rcpts[] = {"bob@example.com"};
    rules_env_t env = {
        .client_ip = "198.51.100.7", .mail_from = "ceo@example.com",
        .rcpts = rcpts, .nrcpts = 1, .spf = RULES_SPF_FAIL,
        .direction = RULES_DIR_INBOUND, .local_domains = locals,
        .nlocal_domains = 1,
    };
    rules_verdict_t v;
    classify(rs, MSG1, &env, &v);
    ck_assert_int_eq(v.action, RULES_REJECT);
    ck_assert_str_eq(v.decided_by, "TG_SPOOF_LOCAL_SPF_FAIL");
    ck_assert_str_eq(v.reply, "550 5.7.23 SPF check failed for a local domain");
    ck_assert_int_eq(v.category, RULES_CAT_SECURITY);
    rules_verdict_clear(&v);

    /* the same from inside (outbound): no spoofing, SPF alone scores */
    env.direction = RULES_DIR_OUTBOUND;
    classify(rs, MSG1, &env, &v);
    ck_assert_int_eq(v.action, RULES_ACCEPT);
    ck_assert(has_hit(&v, "TG_SPF_FAIL"));
    ck_assert(!has_hit(&v, "TG_SPOOF_LOCAL_FROM"));
    rules_verdict_clear(&v);

    /* inbound, local From: header, SPF pass for a foreign envelope: fine */
    env.direction = RULES_DIR_INBOUND;
    env.mail_from = "bounce@lists.example.net";
    env.spf = RULES_SPF_PASS;
    classify(rs, MSG1, &env, &v);
    ck_assert(!has_hit(&v, "TG_SPOOF_LOCAL_FROM"));
    ck_assert_int_eq(v.action, RULES_ACCEPT);
    rules_verdict_clear(&v);

    /* inbound, local From:, SPF softfail: flagged, not rejected */
    env.spf = RULES_SPF_SOFTFAIL;
    classify(rs, MSG1, &env, &v);
    ck_assert(has_hit(&v, "TG_SPOOF_LOCAL_FROM"));
    ck_assert(has_hit(&v, "TG_SPF_SOFTFAIL"));
    ck_assert_int_eq(v.action, RULES_TAG);
    rules_verdict_clear(&v);

    /* inbound with local envelope and From:, SPF not checked (a client in
     * InternalNetworks on the MX listener, or SPF no): not a spoof */
    env.mail_from = "scanner@example.com";
    env.spf = RULES_SPF_UNKNOWN;
    classify(rs, MSG1, &env, &v);
    ck_assert(!has_hit(&v, "TG_SPOOF_LOCAL_ENVFROM"));
    ck_assert(!has_hit(&v, "TG_SPOOF_LOCAL_FROM"));
    ck_assert_int_eq(v.action, RULES_ACCEPT);
    rules_verdict_clear(&v);
    /* ... checked, and our domain publishes no SPF record: flagged */
    env.spf = RULES_SPF_NONE;
    classify(rs, MSG1, &env, &v);
    ck_assert(has_hit(&v, "TG_SPOOF_LOCAL_ENVFROM"));
    rules_verdict_clear(&v);
    rules_unref(rs);
}
END_TEST

START_TEST(shipped_structure_rules)
{
    rules_t *rs = shipped();
    rules_verdict_t v;
    classify(rs, MSG1, NULL, &v);
    ck_assert_int_eq(v.action, RULES_ACCEPT);
    ck_assert_uint_eq(v.nhits, 0);
    rules_verdict_clear(&v);

    /* MIME nested past the depth limit */
    tg_buf b;
    tg_buf_init(&b);
    tg_buf_adds(&b, "Subject: nest\nMIME-Version: 1.0\n");
    for (int i = 0; i < 40; i++)
        tg_buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i);
    tg_buf_adds(&b, "Content-Type: text/plain\n\ndeep\n");
    classify(rs, b.s, NULL, &v);
    ck_assert(has_hit(&v, "TG_MIME_BOMB"));
    ck_assert(v.limits & MSG_LIMIT_DEPTH);
    ck_assert(!has_hit(&v, "TG_URI_FLOOD"));
    rules_verdict_clear(&v);

    /* an HTML part with more links than the URI budget */
    tg_buf_reset(&b);
    tg_buf_adds(&b, "Subject: links\nContent-Type: text/html\n\n<html><body>");
    for (int i = 0; i < MSG_MAX_URIS + 10; i++)
        tg_buf_printf(&b, "<a href=\"http://h%d.example/\">x</a>", i);
    tg_buf_adds(&b, "</body></html>\n");
    /* the shipped rules read no URIs, so none are extracted and none flood */
    classify(rs, b.s, NULL, &v);
    ck_assert(!has_hit(&v, "TG_URI_FLOOD"));
    rules_verdict_clear(&v);
    rules_unref(rs);
    /* with a rule that reads URIs (SpamAssassin's have many), they are */
    char dir[] = "/tmp/tg_uri_XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/uri.cf", dir);
    FILE *f = fopen(path, "w");
    fputs("uri HAS_HTTP /^http:/\n", f);
    fclose(f);
    const char *paths[] = {"deploy/rules", path};
    char err[512];
    ck_assert_msg(rules_load(paths, 2, NULL, &rs, err, sizeof err) == 0, "%s", err);
    classify(rs, b.s, NULL, &v);
    ck_assert(has_hit(&v, "TG_URI_FLOOD"));
    ck_assert(v.limits & MSG_LIMIT_URIS);
    rules_verdict_clear(&v);
    unlink(path);
    rmdir(dir);
    tg_buf_free(&b);
    rules_unref(rs);
}
END_TEST

/* Every ```cf block of rules/README.md must load: the reference stays true. */
START_TEST(readme_examples_load)
{
    char *doc;
    char err[512];
    ck_assert_msg(tg_read_file("rules/README.md", &doc, NULL, err, sizeof err) == 0, "%s", err);
    int blocks = 0;
    for (char *p = doc; (p = strstr(p, "```cf\n")) != NULL;) {
        p += 6;
        char *end = strstr(p, "```");
        ck_assert_ptr_nonnull(end);
        char *text = tg_strndup(p, (size_t)(end - p));
        rules_t *rs = NULL;
        char name[64];
        snprintf(name, sizeof name, "rules/README.md#example%d", ++blocks);
        int rc = rules_load_string(name, text, NULL, &rs, err, sizeof err);
        ck_assert_msg(rc == 0, "example %d does not load: %s\n%s", blocks, err, text);
        rules_unref(rs);
        free(text);
        p = end + 3;
    }
    ck_assert_int_ge(blocks, 6); /* catches a broken extraction */
    free(doc);
}
END_TEST

/* A scratch knows which ruleset it was made for by identity, not by
 * address: the milter's threads keep one and remake it after a reload
 * (PCRE2 limits may differ), and a freed ruleset's address is often
 * handed to the next one. */
START_TEST(scratch_fits_by_identity)
{
    char err[256];
    rules_t *r1, *r2, *r3;
    ck_assert_int_eq(rules_load_string("a.cf", "body A /a/\n", NULL, &r1, err, sizeof err), 0);
    rules_scratch_t *sc = rules_scratch_new(r1);
    ck_assert(rules_scratch_fits(sc, r1));
    ck_assert_int_eq(rules_load_string("b.cf", "body B /b/\n", NULL, &r2, err, sizeof err), 0);
    ck_assert(!rules_scratch_fits(sc, r2));
    const void *old = r1;
    rules_unref(r1);
    int reused = 0;
    for (int i = 0; i < 20 && !reused; i++) {
        ck_assert_int_eq(rules_load_string("c.cf", "body C /c/\n", NULL, &r3, err, sizeof err), 0);
        reused = (const void *)r3 == old;
        ck_assert(!rules_scratch_fits(sc, r3));
        rules_unref(r3);
    }
    ck_assert(!rules_scratch_fits(NULL, r2));
    rules_scratch_free(sc);
    rules_unref(r2);
}
END_TEST

Suite *rules_suite(void)
{
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("match");
    /* room under ASan on a loaded host (the suite takes some 10 s there) */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, header_rules);
    tcase_add_test(tc, body_semantics);
    tcase_add_test(tc, html_body_vs_rawbody);
    tcase_add_test(tc, latin1_case_folding);
    tcase_add_test(tc, metas);
    tcase_add_test(tc, metas_reached_by_set_values);
    tcase_add_test(tc, meta_zero_inputs);
    tcase_add_test(tc, meta_deep_expression);
    tcase_add_test(tc, literal_counts);
    tcase_add_test(tc, wide_patterns_match_as_narrow);
    tcase_add_test(tc, line_ahead_is_exact);
    tcase_add_test(tc, meta_cycle_is_an_error);
    tcase_add_test(tc, scores_and_thresholds);
    tcase_add_test(tc, explicit_actions);
    tcase_add_test(tc, envelope_rules);
    tcase_add_test(tc, attachments_size_limits);
    tcase_add_test(tc, regex_errors_and_limits);
    tcase_add_test(tc, verdict_keeps_ruleset_alive);
    tcase_add_test(tc, scratch_fits_by_identity);
    suite_add_tcase(s, tc);
    TCase *sh = tcase_create("shipped");
    /* room under ASan on a loaded host (the suite takes some 10 s there) */
    tcase_set_timeout(sh, 60);
    tcase_add_test(sh, shipped_attachment_rules);
    tcase_add_test(sh, shipped_sender_rules);
    tcase_add_test(sh, shipped_structure_rules);
    tcase_add_test(sh, readme_examples_load);
    tcase_add_test(sh, views_follow_the_rules);
    suite_add_tcase(s, sh);
    return s;
}
