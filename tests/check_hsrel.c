/* rules/hsrel.c: which expressions are proven to match only where another
 * does. Every "yes" below is also checked with Vectorscan on subjects:
 * wherever the smaller expression reports an end, the bigger one reports
 * that end too (what fast.c's fed rules rely on). */
#include <check.h>
#include <hs/hs.h>
#include <stdlib.h>
#include <string.h>

#include "hsrel.h"
#include "hsscan.h"

static const char *const SUBJECTS[] = {
    "ab", "ac", "abPxyz", "acPzz", "d", "abdac", "abPx d acPyy", "x", "y", "xy", "yx",
    "a1", "aA", "A", "", "zzz ab ac", "name: ____ address: ____", "abPabPab",
};
#define NSUBJ (sizeof SUBJECTS / sizeof *SUBJECTS)

typedef struct ends {
    unsigned long long v[64];
    size_t n;
} ends_t;

static int on_end(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *ctx)
{
    (void)id, (void)from, (void)flags;
    ends_t *e = ctx;
    if (e->n < 64)
        e->v[e->n++] = to;
    return 0;
}

/* The end offsets expr reports on s (no SINGLEMATCH, as fed rules scan). */
static void ends_of(const char *expr, const char *s, ends_t *e)
{
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    hs_scratch_t *sc = NULL;
    ck_assert_msg(hs_compile(expr, HS_FLAG_ALLOWEMPTY, HS_MODE_BLOCK, hsscan_platform(), &db, &ce) ==
                      HS_SUCCESS, "%s: %s", expr, ce ? ce->message : "?");
    ck_assert(hs_alloc_scratch(db, &sc) == HS_SUCCESS);
    e->n = 0;
    hsscan(db, s, (unsigned)strlen(s), sc, on_end, e);
    hs_free_scratch(sc);
    hs_free_database(db);
}

static void subset_on_subjects(const char *sub, const char *sup)
{
    for (size_t i = 0; i < NSUBJ; i++) {
        ends_t a, b;
        ends_of(sub, SUBJECTS[i], &a);
        ends_of(sup, SUBJECTS[i], &b);
        for (size_t k = 0; k < a.n; k++) {
            int found = 0;
            for (size_t j = 0; j < b.n && !found; j++)
                found = a.v[k] == b.v[j];
            ck_assert_msg(found, "%s ends at %llu in \"%s\", %s does not", sub, a.v[k],
                          SUBJECTS[i], sup);
        }
    }
}

START_TEST(optional_groups_dropped)
{
    static const char *const yes[][2] = {
        /* the __FILL_THIS_FORM_SHORT2 / _LONG2 shape */
        {"(?:a(?:b|c)(?:[-_]|d))+", "(?:a(?:b|c)(?:[-_](?:P[x-z]{1,5})?|d))+"},
        {"(?:a(?:b|c)(?:[-_]|d))+", "(?:a(?:b|c)(?:[-_](?:P[x-z]{1,5})??|d))+"},
        {"a(?:b)", "a(?:x)?(?:b)"},
        {"a(?:b)", "a(?:x)?(?:y)?(?:b)"},
        {"[[:alpha:]](?:b)", "[[:alpha:]](?:x)?(?:b)"}, /* a POSIX class is one token */
        {"[[:^digit:]x](?:b)", "[[:^digit:]x](?:[]:]|y)?(?:b)"},
        {"(?:y)", "(?:x)?(?:y)"},               /* the match must back up */
        {"a|(?:b)", "a|(?:x)?(?:b)"},
        {"a[bc]", "a(?:[)]x)?[bc]"},            /* a ')' in a class is no group end */
        {"(?:a)", "(?:a)"},                     /* equal */
    };
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        ck_assert_msg(hsrel_drops_optional(yes[i][0], yes[i][1]), "%s in %s", yes[i][0],
                      yes[i][1]);
        subset_on_subjects(yes[i][0], yes[i][1]);
    }
}
END_TEST

START_TEST(not_proven)
{
    static const char *const no[][2] = {
        {"abx", "a(?:x)?b"},                    /* more text, not less */
        {"ab", "a(?:x)b"},                      /* not optional */
        {"ab", "a(?:x)+b"},
        {"ab", "a(?:x)?+b"},                    /* possessive */
        {"\\x41", "\\x4(?:y)?1"},               /* the gap would join two tokens */
        {"ab", "a(?:x)?b"},                     /* (so nothing but ( | ) [ may follow) */
        {"\\c(?:a)", "\\c(?:x)?(?:a)"},         /* \c( is one token: not after escapes */
        {"a{2}", "a{2(?:x)?}"},
        {"a[]b", "a[(?:x)?]b"},                 /* in a class: no group */
        {"a(?!b)", "a(?!(?:x)?b)"},             /* negative lookahead: a superset */
        {"(?<!b)a", "(?<!(?:x)?b)a"},
        {"(a)b\\1", "(a)(?:x)?b\\1"},           /* backreference */
        {"\\Qa\\E(b)", "\\Qa(?:x)?\\E(b)"},     /* quoted text */
        {"(?x)a b", "(?x)a(?:x)? b"},           /* extended syntax */
        {"ba", "a(?:x)?b"},
        /* read as other tokens than they are (a review's counterexamples:
         * each proof was wrong, and Vectorscan showed sub matching where
         * sup does not) */
        {"x(y)", "x(?:\\c(a)\\c)?(y)"},     /* \c takes the next character */
        {"[\\c]!-|]", "[\\c]!-(?:z)?|]"},
        {"[\\Q]\\E!-|]", "[\\Q]\\E!-(?:z)?|]"}, /* \Q...\E inside a class */
        {"[[:a]x:][]!-|]", "[[:a]x:][]!-(?:z)?|]"}, /* "[:a]" is no POSIX class */
        {"(?>a)b", "(?>a(?:b)?)b"},             /* atomic group */
        {"(a)(?-1)", "(a)(?:(b))?(?-1)"},        /* subroutine call */
        {"(?P<n>a)(?P=n)", "(?P<n>a)(?:x)?(?P=n)"},
        {"a++(?:b)", "a++(?:x)?(?:b)"},         /* possessive */
        {"(*COMMIT)a(?:b)", "(*COMMIT)a(?:x)?(?:b)"},
        {"", "(?:x)?"},                         /* shorter than any removal... */
    };
    for (size_t i = 0; i < sizeof no / sizeof *no - 1; i++)
        ck_assert_msg(!hsrel_drops_optional(no[i][0], no[i][1]), "%s in %s", no[i][0],
                      no[i][1]);
    /* ...but the empty expression is the whole of "(?:x)?" taken out */
    ck_assert(hsrel_drops_optional("", "(?:x)?"));
    ck_assert(!hsrel_drops_optional("(?:x)?", ""));
}
END_TEST

Suite *hsrel_suite(void)
{
    Suite *s = suite_create("hsrel");
    TCase *tc = tcase_create("core");
    /* room under ASan on a loaded host (its two cases take 2 s there) */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, optional_groups_dropped);
    tcase_add_test(tc, not_proven);
    suite_add_tcase(s, tc);
    return s;
}
