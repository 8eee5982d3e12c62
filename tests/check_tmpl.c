/* Captured tags (rules/tmpl.c): parsing of %{NAME} templates, which of them
 * every match needs, and the per-message tag store. Matching through rules
 * is in check_fast.c (captured_tags_*). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf.h"
#include "tmpl.h"

START_TEST(capture_rule_detection)
{
    ck_assert(tmpl_is_capture("\\bHello, (?<BODY_HELLO_NAME>\\w+)\\b"));
    ck_assert(tmpl_is_capture("(?P<N>x)"));
    ck_assert(tmpl_is_capture("(?'N'x)"));
    ck_assert(!tmpl_is_capture("(?<name>x)"));   /* SpamAssassin: capitals only */
    ck_assert(!tmpl_is_capture("(?<=a)b(?<!c)"));
    ck_assert(!tmpl_is_capture("plain"));
}
END_TEST

static int req_of(const char *pat, unsigned flags, const char *name)
{
    tmpl_t *t = tmpl_parse(pat, flags);
    ck_assert_msg(t != NULL, "%s: no template", pat);
    int r = -1;
    for (size_t i = 0; i < tmpl_nnames(t); i++)
        if (!strcmp(tmpl_name(t, i), name))
            r = tmpl_required(t, i);
    tmpl_free(t);
    ck_assert_msg(r >= 0, "%s: no name %s", pat, name);
    return r;
}

START_TEST(template_parsing)
{
    ck_assert_ptr_null(tmpl_parse("no template", 0));
    ck_assert_ptr_null(tmpl_parse("\\%{ESCAPED}", 0));
    ck_assert_ptr_null(tmpl_parse("%{lower}", 0));
    ck_assert_ptr_null(tmpl_parse("%{TRAILING_}", 0));
    ck_assert_ptr_null(tmpl_parse("%{DOUBLE__US}", 0));
    ck_assert_ptr_null(tmpl_parse("%{OPEN", 0));
    tmpl_t *t = tmpl_parse("^https?://.{10,128}\\#%{GB_TO_ADDR};%{A1(arg)}x%{GB_TO_ADDR}", 0);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(tmpl_nnames(t), 2);
    ck_assert_str_eq(tmpl_name(t, 0), "GB_TO_ADDR");
    ck_assert_str_eq(tmpl_name(t, 1), "A1");
    char *e = tmpl_escaped(t);
    ck_assert_str_eq(e, "^https?://.{10,128}\\#%\\{GB_TO_ADDR\\};%\\{A1(arg)\\}x%\\{GB_TO_ADDR\\}");
    free(e);
    tmpl_free(t);
}
END_TEST

START_TEST(required_templates)
{
    ck_assert_int_eq(req_of("^a%{X}b", 0, "X"), 1);
    ck_assert_int_eq(req_of("(?:\\#|\\?&e=)%{X}", 0, "X"), 1); /* | inside a group */
    ck_assert_int_eq(req_of("%{X}+", 0, "X"), 1);
    ck_assert_int_eq(req_of("a|%{X}", 0, "X"), 0);
    ck_assert_int_eq(req_of("(?:%{X})", 0, "X"), 0);
    ck_assert_int_eq(req_of("%{X}?", 0, "X"), 0);
    ck_assert_int_eq(req_of("%{X}*", 0, "X"), 0);
    ck_assert_int_eq(req_of("%{X}{0,2}", 0, "X"), 0);
    ck_assert_int_eq(req_of("[%{X}]", 0, "X"), 0);
    ck_assert_int_eq(req_of("[|]%{X}", 0, "X"), 1);     /* | in a class */
    ck_assert_int_eq(req_of("\\|%{X}", 0, "X"), 1);     /* escaped | */
    ck_assert_int_eq(req_of("a %{X}", CF_RE_X, "X"), 0);
    ck_assert_int_eq(req_of("(?x)a %{X}", 0, "X"), 0);
    ck_assert_int_eq(req_of("\\Qa|\\E%{X}", 0, "X"), 0);
    /* where a reading of the pattern could differ from PCRE2's: give up */
    ck_assert_int_eq(req_of("[[:q]|y\\:]]%{X}", 0, "X"), 0);
    ck_assert_int_eq(req_of("\\c\\|%{X}", 0, "X"), 0);
    ck_assert_int_eq(req_of("q(*ACCEPT)%{X}", 0, "X"), 0);
    ck_assert_int_eq(req_of("a(?#x|y)%{X}", 0, "X"), 0);
    /* a template inside another's (args): not one, and no overflow */
    tmpl_t *t = tmpl_parse("[%{A(]%{B(x)}[%{C(]%{D(x)}[%{E(]%{F(x)}", 0);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(tmpl_nnames(t), 3); /* A, C, E */
    for (size_t i = 0; i < tmpl_nnames(t); i++)
        ck_assert_int_eq(tmpl_required(t, i), 0);
    tmpl_free(t);
}
END_TEST

/* tmpl_skeleton of pat, "-" if none. */
static char *skel_of(const char *pat, unsigned flags)
{
    tmpl_t *t = tmpl_parse(pat, flags);
    ck_assert_ptr_nonnull(t);
    char *s = tmpl_skeleton(t);
    tmpl_free(t);
    return s ? s : strdup("-");
}

START_TEST(skeletons)
{
    static const char *const cases[][2] = {
        {"^https?://.{4,128}\\#%{GB_TO_ADDR}", "^https?://.{4,128}\\#(?:[\\s\\S]*?)"},
        {"^a%{X}b%{Y(,)}c", "^a(?:[\\s\\S]*?)b(?:[\\s\\S]*?)c"},
        {"(?:\\#|\\?&e=)%{X}", "(?:\\#|\\?&e=)(?:[\\s\\S]*?)"},
        {"(?>ab)%{X}$", "(?>ab)(?:[\\s\\S]*?)$"},
        /* a template in a group, an alternative or under a quantifier
         * (a possessive one would not search the wildcard's lengths) */
        {"(?:%{X})", "-"}, {"a|%{X}", "-"}, {"%{X}?", "-"}, {"%{X}+", "-"},
        {"%{X}{2}", "-"}, {"(?!%{X})a", "-"}, {"a%{X}(%{Y})", "-"}, {"[%{X}]", "-"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *s = skel_of(cases[i][0], 0);
        ck_assert_msg(!strcmp(s, cases[i][1]), "%s: %s", cases[i][0], s);
        free(s);
    }
    char *s = skel_of("a %{X}", CF_RE_X); /* /x: the reading gives up */
    ck_assert_str_eq(s, "-");
    free(s);
}
END_TEST

static void cap(tmpl_tags_t *g, const char *name, const char *val)
{
    tmpl_tags_add(g, name, val, val ? strlen(val) : 0);
}

START_TEST(tag_store)
{
    tmpl_tags_t *g = tmpl_tags_new();
    tmpl_t *t = tmpl_parse("^%{A}-%{B}$", 0);
    tg_buf out;
    tg_buf_init(&out);
    ck_assert_int_eq(tmpl_build(t, g, &out), -1); /* unset */

    tmpl_tags_begin(g);
    cap(g, "A", "x.y");
    cap(g, "A", "x.y");                           /* duplicate dropped */
    cap(g, "A", "a b\\c");
    cap(g, "lower", "ignored");                   /* not a tag name */
    cap(g, "B", NULL);                            /* named, no value */
    tmpl_tags_commit(g);
    ck_assert_uint_eq(tmpl_tags_count(g, "A"), 2);
    ck_assert_uint_eq(tmpl_tags_count(g, "B"), 0);
    ck_assert_uint_eq(tmpl_tags_count(g, "lower"), 0);
    ck_assert_int_eq(tmpl_build(t, g, &out), -1); /* B has no value */

    tmpl_tags_begin(g);
    cap(g, "B", "q\xe9");
    tmpl_tags_commit(g);
    ck_assert_int_eq(tmpl_build(t, g, &out), 0);
    ck_assert_str_eq(out.s, "^(?:x\\.y|a\\ b\\\\c)-(?:q\\\xe9)$");

    /* a later rule's captures replace the tag's values */
    tmpl_tags_begin(g);
    cap(g, "A", "new");
    tmpl_tags_commit(g);
    ck_assert_uint_eq(tmpl_tags_count(g, "A"), 1);
    ck_assert_int_eq(tmpl_tags_maybe_in(g, "A", "a NEW one", 9), 1); /* ASCII case ignored */
    ck_assert_int_eq(tmpl_tags_maybe_in(g, "A", "a ne w", 6), 0);
    ck_assert_int_eq(tmpl_tags_maybe_in(g, "B", "nothing", 7), 1);  /* 8-bit: unsure */
    ck_assert_int_eq(tmpl_tags_maybe_in(g, "C", "nothing", 7), 0);

    /* values over 16 bytes are searched chunk by chunk (4 KB): across a
     * chunk's end, at the very end, and over 256 bytes (off the stack) */
    char big[301];
    for (int i = 0; i < 300; i++)
        big[i] = (char)('a' + i % 26);
    big[300] = 0;
    tmpl_tags_begin(g);
    cap(g, "LONG", "Someone.Long@Example.ORG");
    cap(g, "BIG", big);
    tmpl_tags_commit(g);
    enum { HAY = 10000 };
    char *hay = malloc(HAY);
    memset(hay, 'x', HAY);
    memcpy(hay + 4090, "someone.long@example.org", 24);
    ck_assert_int_eq(tmpl_tags_maybe_in(g, "LONG", hay, HAY), 1);
    ck_assert_int_eq(tmpl_tags_maybe_in(g, "LONG", hay, 4113), 0); /* one byte short */
    memset(hay + 4090, 'x', 24);
    memcpy(hay + HAY - 24, "SOMEONE.LONG@EXAMPLE.ORG", 24);
    ck_assert_int_eq(tmpl_tags_maybe_in(g, "LONG", hay, HAY), 1);
    ck_assert_int_eq(tmpl_tags_maybe_in(g, "LONG", hay, HAY - 1), 0);
    ck_assert_int_eq(tmpl_tags_maybe_in(g, "BIG", hay, HAY), 0);
    for (int i = 0; i < 300; i++)
        hay[4000 + i] = (char)(big[i] - 32); /* upper case, across the chunk's end */
    ck_assert_int_eq(tmpl_tags_maybe_in(g, "BIG", hay, HAY), 1);
    ck_assert_int_eq(tmpl_tags_maybe_in(g, "BIG", hay, 4299), 0);
    free(hay);

    /* bounded: at most TMPL_MAX_VALUES values */
    tmpl_tags_begin(g);
    char v[16];
    for (int i = 0; i < TMPL_MAX_VALUES + 50; i++) {
        snprintf(v, sizeof v, "v%d", i);
        cap(g, "MANY", v);
    }
    tmpl_tags_commit(g);
    ck_assert_uint_eq(tmpl_tags_count(g, "MANY"), TMPL_MAX_VALUES);

    tmpl_tags_reset(g);
    ck_assert_uint_eq(tmpl_tags_count(g, "A"), 0);
    ck_assert_int_eq(tmpl_build(t, g, &out), -1);
    tg_buf_free(&out);
    tmpl_free(t);
    tmpl_tags_free(g);
}
END_TEST

Suite *tmpl_suite(void)
{
    Suite *s = suite_create("tmpl");
    TCase *tc = tcase_create("tmpl");
    tcase_add_test(tc, capture_rule_detection);
    tcase_add_test(tc, template_parsing);
    tcase_add_test(tc, required_templates);
    tcase_add_test(tc, skeletons);
    tcase_add_test(tc, tag_store);
    suite_add_tcase(s, tc);
    return s;
}
