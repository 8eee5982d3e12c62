/* rules/hsexpr.c: what a pattern becomes for Vectorscan. Each rewrite is
 * checked against PCRE2 (rx.c, the oracle's engine) on crafted subjects:
 * the Latin-1 form must match exactly where PCRE2 does, the ASCII form
 * exactly where PCRE2 does on ASCII subjects, the relaxed form wherever
 * PCRE2 does (a superset). */
#include <check.h>
#include <hs/hs.h>
#include <stdlib.h>
#include <string.h>

#include "cf.h"
#include "hsexpr.h"
#include "rx.h"
#include "hsscan.h"
#include "util.h"

static const char *const SUBJECTS[] = {
    "K\xf6ln", "K\xd6LN", "k\xf6ln", "koln", "KOLN", "M\xfcnchen", "M\xdcNCHEN",
    "caf\xe9", "CAF\xc9", "cafe", "na\xefve", "\xe9t\xe9", "\xc9T\xc9",
    "name: ___ address: ___ phone: ___", "name address phone", "a.b", "a\xe9" "b",
    "x\xd7y", "x\xf7y", "aaa", "ab", "", "wat\nches", "\xff\xfe", "v\xce\xbd\xd0\x86" "agra",
    "V1AGRA", "name: x\nphone: y", "the address is", "in k\xd6ln.", "caf\xc9 ",
};
#define NSUBJ (sizeof SUBJECTS / sizeof *SUBJECTS)

static int on_report(unsigned id, unsigned long long from, unsigned long long to,
                     unsigned flags, void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags;
    *(int *)ctx = 1;
    return 1;
}

/* Compiles expr alone (with ALLOWEMPTY) and scans s, reporting to cb. */
static void hs_run(const char *expr, unsigned flags, const char *s, match_event_handler cb,
                   void *ctx)
{
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    hs_error_t rc = hs_compile(expr, flags | HS_FLAG_ALLOWEMPTY, HS_MODE_BLOCK, hsscan_platform(),
                               &db, &ce);
    ck_assert_msg(rc == HS_SUCCESS, "%s: %s", expr, ce ? ce->message : "?");
    hs_free_compile_error(ce);
    hs_scratch_t *sc = NULL;
    ck_assert(hs_alloc_scratch(db, &sc) == HS_SUCCESS);
    hsscan(db, s, (unsigned)strlen(s), sc, cb, ctx);
    hs_free_scratch(sc);
    hs_free_database(db);
}

static int hs_hit(const char *expr, unsigned flags, const char *s)
{
    int hit = 0;
    hs_run(expr, flags | HS_FLAG_SINGLEMATCH, s, on_report, &hit);
    return hit;
}

static int rx_hit(const char *pat, unsigned reflags, const char *s)
{
    rx_t *re = NULL;
    size_t eo;
    int big;
    char err[256];
    ck_assert_msg(rx_compile(pat, reflags, &re, &eo, &big, err, sizeof err) == 0, "%s", err);
    rx_scratch_t *sc = rx_scratch_new(0, 0);
    unsigned n = rx_count(re, sc, s, strlen(s), 1);
    rx_scratch_free(sc);
    rx_free(re);
    return n > 0;
}

static unsigned hs_flags_of(unsigned reflags)
{
    return (reflags & CF_RE_I ? HS_FLAG_CASELESS : 0) | (reflags & CF_RE_M ? HS_FLAG_MULTILINE : 0) |
           (reflags & CF_RE_S ? HS_FLAG_DOTALL : 0);
}

static int is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 0;
    return 1;
}

/* Asserts a rewrite's text; frees it. */
static void expect_str(char *got, const char *want)
{
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    free(got);
}

typedef struct { const char *pat; unsigned flags; } case_t;
static const case_t CASES[] = {
    {"k\\xf6ln", CF_RE_I}, {"k\xf6ln", CF_RE_I}, {"k\\xf6ln", 0}, {"M[\\xe0-\\xfe]NCHEN", CF_RE_I},
    {"K[^\\xf6]LN", CF_RE_I}, {"(?i)K\\xf6LN", 0}, {"(?i)k(?-i:\\xf6)ln", 0},
    {"caf\\x{e9}", CF_RE_I}, {"\\Qcaf\xe9\\E", CF_RE_I}, {"na[[:alpha:]\\xef]ve", CF_RE_I},
    {"x\\xd7y", CF_RE_I}, {"\\xe9t\\xe9", CF_RE_I}, {"(?x) caf \\xe9 # comment (\n", CF_RE_I},
    {"a.b", 0}, {"a\\Wb", 0}, {"[^a]b", CF_RE_I}, {"(?:[vV\\xe3]|\\xce\\xbd)(?:[iI\\xed]|\\xd0\\x86)agra", CF_RE_I},
    {"wat.ches", CF_RE_S}, {"\\xff\\xfe", CF_RE_I}, {"^$", 0}, {"a{2,3}", 0},
    /* branches only 8-bit text can take, pruned from the ASCII form */
    {"(?:k\\xf6ln|koln)\\b", CF_RE_I}, {"caf(?:e|\\xe9)s?", CF_RE_I}, {"a(?:\\xe9)?b", 0},
    {"(?:\\xe9|\\xe8)+z|ab", 0}, {"(?<n>\\xe9)|koln", 0}, {"(?:x|\\xe9{2,3})*ab", 0},
    /* a negated class without /i: "KOLN" has an O */
    {"K[^o]LN", 0},
};
#define NCASES (sizeof CASES / sizeof *CASES)

START_TEST(latin1_exact_matches_as_pcre2)
{
    for (size_t c = 0; c < NCASES; c++) {
        char *e = hsexpr_latin1_exact(CASES[c].pat, CASES[c].flags);
        ck_assert_msg(e != NULL, "%s", CASES[c].pat);
        for (size_t s = 0; s < NSUBJ; s++)
            ck_assert_msg(hs_hit(e, hs_flags_of(CASES[c].flags), SUBJECTS[s]) ==
                              rx_hit(CASES[c].pat, CASES[c].flags, SUBJECTS[s]),
                          "/%s/ as %s on \"%s\"", CASES[c].pat, e, SUBJECTS[s]);
        free(e);
    }
}
END_TEST

START_TEST(ascii_form_on_ascii_text)
{
    for (size_t c = 0; c < NCASES; c++) {
        char *e = hsexpr_ascii(CASES[c].pat, CASES[c].flags, 0);
        ck_assert_msg(e != NULL, "%s", CASES[c].pat);
        int never = 0;
        hs_database_t *db = NULL;
        hs_compile_error_t *ce = NULL;
        if (hs_compile(e, hs_flags_of(CASES[c].flags) | HS_FLAG_ALLOWEMPTY, HS_MODE_BLOCK,
                       hsscan_platform(), &db, &ce) != HS_SUCCESS) {
            never = strstr(ce->message, "never match") != NULL;
            ck_assert_msg(never, "%s: %s", e, ce->message);
            hs_free_compile_error(ce);
        } else {
            hs_free_database(db);
        }
        for (size_t s = 0; s < NSUBJ; s++) {
            if (!is_ascii(SUBJECTS[s]))
                continue;
            int want = rx_hit(CASES[c].pat, CASES[c].flags, SUBJECTS[s]);
            int got = never ? 0 : hs_hit(e, hs_flags_of(CASES[c].flags), SUBJECTS[s]);
            ck_assert_msg(got == want, "/%s/ as %s on \"%s\"", CASES[c].pat, e, SUBJECTS[s]);
        }
        free(e);
    }
    /* bytes >= 0x80 cannot match: the pattern cannot match ASCII text */
    expect_str(hsexpr_ascii("caf\\xe9", CF_RE_I, 0), "[^\\x00-\\xff]");
    /* a branch that needs such a byte goes; an optional item goes; a
     * negative lookaround of one always holds and goes */
    expect_str(hsexpr_ascii("(?:pass|p\\xe0ss)word", CF_RE_I, 0), "(?:pass)word");
    expect_str(hsexpr_ascii("a(?:\\xe9)?b(?!\\xe8)", 0, 0), "ab");
    expect_str(hsexpr_ascii("(?<=\\xe9)x|(?<!\\xe9)y(?=\\xe9|z)", 0, 0), "y(?=z)");
}
END_TEST

/* 1 if every byte >= 0x80 of s is in keep. */
static int only_kept(const char *s, const unsigned char keep[32])
{
    for (; *s; s++) {
        unsigned char b = (unsigned char)*s;
        if (b >= 0x80 && !(keep[b >> 3] & (1u << (b & 7))))
            return 0;
    }
    return 1;
}

/* The restricted form (hsexpr_restrict, here keeping \xe9 \xc9 \xf6), made
 * from the pattern or from its Latin-1 form (what the fast matcher
 * restricts), matches exactly where PCRE2 does on every subject whose
 * bytes >= 0x80 are all kept; bytes and branches outside go. */
START_TEST(restricted_form_on_restricted_text)
{
    unsigned char keep[32] = {0};
    for (const unsigned char *k = (const unsigned char *)"\xe9\xc9\xf6"; *k; k++)
        keep[*k >> 3] |= (unsigned char)(1u << (*k & 7));
    size_t checked = 0;
    for (size_t c = 0; c < NCASES; c++) {
        char *full = hsexpr_latin1_exact(CASES[c].pat, CASES[c].flags);
        ck_assert_ptr_nonnull(full);
        for (int from_full = 0; from_full < 2; from_full++) {
            char *e = hsexpr_restrict(from_full ? full : CASES[c].pat, CASES[c].flags, keep);
            ck_assert_msg(e != NULL, "%s", CASES[c].pat);
            int never = !strcmp(e, "[^\\x00-\\xff]");
            for (size_t s = 0; s < NSUBJ; s++) {
                if (!only_kept(SUBJECTS[s], keep))
                    continue;
                int want = rx_hit(CASES[c].pat, CASES[c].flags, SUBJECTS[s]);
                int got = never ? 0 : hs_hit(e, hs_flags_of(CASES[c].flags), SUBJECTS[s]);
                ck_assert_msg(got == want, "/%s/ as %s on \"%s\"", CASES[c].pat, e, SUBJECTS[s]);
                checked += !is_ascii(SUBJECTS[s]);
            }
            free(e);
        }
        free(full);
    }
    ck_assert_uint_gt(checked, 100);
    /* one of a Latin-1 pair kept; a byte not kept goes with its branch; a
     * dot and a negated class keep the kept bytes only */
    expect_str(hsexpr_restrict("caf\\xe9", CF_RE_I, keep), "caf[\\xe9\\xc9]");
    expect_str(hsexpr_restrict("na\\xefve", CF_RE_I, keep), "[^\\x00-\\xff]");
    expect_str(hsexpr_restrict("x(?:\\xe8|\\xe9)", 0, keep), "x(?:\\xe9)");
    expect_str(hsexpr_restrict("a.b", 0, keep),
               "a[\\x00-\\x09\\x0b-\\x7f\\xc9\\xe9\\xf6]b");
    expect_str(hsexpr_restrict("[^a]", 0, keep), "[\\x00-\\x60\\x62-\\x7f\\xc9\\xe9\\xf6]");
    /* with nothing kept it is the ASCII form */
    static const unsigned char none[32];
    for (size_t c = 0; c < NCASES; c++) {
        char *a = hsexpr_ascii(CASES[c].pat, CASES[c].flags, 0);
        expect_str(hsexpr_restrict(CASES[c].pat, CASES[c].flags, none), a);
        free(a);
    }
}
END_TEST

/* The ^C{n} shape (hsexpr_line_run) is recognised only under /m, without
 * /x, for one class of single bytes without \n counted {n} and nothing
 * after; its set is PCRE2's (POSIX classes and /i included). */
START_TEST(line_run_shape)
{
    unsigned char set[32];
    unsigned n = 0;
    ck_assert(hsexpr_line_run("^[^\\r\\n]{998}", CF_RE_M, set, &n) && n == 998);
    ck_assert(!(set['\r' >> 3] & (1u << ('\r' & 7))) && (set['a' >> 3] & (1u << ('a' & 7))) &&
              (set[0xe9 >> 3] & (1u << (0xe9 & 7))));
    ck_assert(hsexpr_line_run("^[[:alpha:]]{3}", CF_RE_M | CF_RE_I, set, &n) && n == 3);
    ck_assert(!(set['1' >> 3] & (1u << ('1' & 7))) && (set['Q' >> 3] & (1u << ('Q' & 7))));
    ck_assert(hsexpr_line_run("^[]x]{2}", CF_RE_M, set, &n) && (set[']' >> 3] & (1u << (']' & 7))));
    static const struct { const char *pat; unsigned flags; } NO[] = {
        {"^[^\\r\\n]{998}", 0},            /* no /m */
        {"^[^\\r\\n]{998}", CF_RE_M | CF_RE_X},
        {"^[^\\r]{10}", CF_RE_M},          /* takes \n */
        {"^[a-z]{0}", CF_RE_M},
        {"^[a-z]{3,}", CF_RE_M},
        {"^[a-z]{3}x", CF_RE_M},
        {"[a-z]{3}", CF_RE_M},
        {"^\\w{3}", CF_RE_M},
        {"^[\\Qab\\E]{3}", CF_RE_M},
        {"^[a-z]{70000}", CF_RE_M},
    };
    for (size_t i = 0; i < sizeof NO / sizeof *NO; i++)
        ck_assert_msg(!hsexpr_line_run(NO[i].pat, NO[i].flags, set, &n), "%s", NO[i].pat);
    ck_assert(hsexpr_is_never("[^\\x00-\\xff]") && !hsexpr_is_never("[^\\x00-\\xfe]") &&
              !hsexpr_is_never(NULL));
    char *nv = hsexpr_ascii("caf\\xe9", CF_RE_I, 0);
    ck_assert(hsexpr_is_never(nv));
    free(nv);
}
END_TEST

/* Header rules that pair two lines through a walk over whole lines
 * (SpamAssassin's __SUBJ_HAS_TO_*, __TO_EQ_FROM_*): the literals and the
 * bound; and the shapes whose items could reach past their line, refused. */
START_TEST(line_walk_shape)
{
    hsexpr_walk_t w;
    static const struct {
        const char *pat;
        unsigned flags;
        const char *lit1, *lit2;
        unsigned bound;
        int lead1, lead2; /* a lead after lit1 / lit2 (\s or \W: a space in it) */
    } YES[] = {
        {"\\nReceived:[^\\n]{0,200} for <?([^\\n\\s>;]+)>?;(?:[^\\n]+\\n+)*"
         "Subject: [^\\n]{0,100}\\1[^a-z0-9]",
         CF_RE_I | CF_RE_S | CF_RE_M, "Received:", "Subject: ", 0, 0, 0},
        {"\\nFrom: (?:[^\\n<]{0,80}<)?([^\\n\\s>]+)>?\\n+(?:[^\\n]{1,100}\\n+)*"
         "To: (?:[^\\n]{0,80}<)?\\1[>,\\s\\n]",
         CF_RE_I | CF_RE_S | CF_RE_M, "From: ", "To: ", 100, 0, 0},
        /* ^ under /m, a lookahead that stays in its line, $ under /m */
        {"^X-A: (?=\\w)(\\w+)(?:[^\\n]+\\n+)*^X-B: \\1$", CF_RE_M, "X-A: ", "X-B: ", 0, 0, 0},
        /* the last literal byte quantified: not part of the literal */
        {"\\nAbc?d(?:[^\\n]+\\n+)*Xyz", 0, "Ab", "Xyz", 0, 0, 0},
        /* \s after the literals can take a \n: leads (__TO_EQ_FROM_USR_1) */
        {"\\nFrom:\\s+([^\\n\\s@>]+)\\@[^\\n\\s]+>?\\n+(?:[^\\n]{1,100}\\n+)*To:\\s+\\1",
         CF_RE_I, "From:", "To:", 100, 1, 1},
        /* lazy, possessive, bracketed, on B alone; a class without \n is no lead */
        {"\\nFrom:[ \\t]+(\\w+)\\n+(?:[^\\n]{1,9}\\n+)*To:\\W*+\\1", 0, "From:", "To:", 9, 0, 1},
        {"\\nFrom:[\\s,]+?(\\w+)(?:[^\\n]+\\n+)*To:\\1", 0, "From:", "To:", 0, 1, 0},
    };
    for (size_t i = 0; i < sizeof YES / sizeof *YES; i++) {
        ck_assert_msg(hsexpr_line_walk(YES[i].pat, YES[i].flags, &w), "%s", YES[i].pat);
        ck_assert_str_eq(w.lit1, YES[i].lit1);
        ck_assert_str_eq(w.lit2, YES[i].lit2);
        ck_assert_uint_eq(w.bound, YES[i].bound);
        ck_assert_int_eq(w.lead[0].has, YES[i].lead1);
        ck_assert_int_eq(w.lead[1].has, YES[i].lead2);
        for (int j = 0; j < 2; j++) /* the class's bytes: \n and a space in */
            ck_assert(!w.lead[j].has || ((w.lead[j].set['\n' / 8] >> ('\n' % 8) & 1) &&
                                         (w.lead[j].set[' ' / 8] >> (' ' % 8) & 1) &&
                                         !(w.lead[j].set['x' / 8] >> ('x' % 8) & 1)));
    }
    static const struct { const char *pat; unsigned flags; } NO[] = {
        /* a lead counted, or a second one: not followed */
        {"\\nFrom:\\s{2,}(\\w+)(?:[^\\n]+\\n+)*To:\\1", 0},
        {"\\nFrom:\\s+\\W+(\\w+)(?:[^\\n]+\\n+)*To:\\1", 0},
        /* B's lead with a walk of bound 0 (B may follow A in its line) */
        {"\\nFrom:(\\w+)(?:[^\\n]+\\n+)*To:\\s+\\1", 0},
        {"^To: ([^@]+)(?:[^\\n]+\\n+)*^Subject: \\1", CF_RE_M}, /* [^@] takes \n */
        {"^To: (\\w+)(?:[^\\n]+\\n+)*^Subject: \\1", 0},     /* ^ without /m */
        {"\\nTo: (\\w+)(?:[^\\n]+\\n+)*Subject: \\1$", 0},     /* $ without /m */
        {"\\nTo: (.+)(?:[^\\n]+\\n+)*Subject: \\1", CF_RE_S},  /* . under /s */
        {"\\nTo: (\\w+)(?:[^\\n]+\\n+)*Subject: \\1", CF_RE_X},
        {"\\nTo: (\\w+)(?:[^\\n]+\\n+)*?Subject: \\1", 0},     /* a lazy walk */
        {"\\nTo: (\\w+)(?:[^\\n]+\\n+)*Subject: (?:[^\\n]+\\n+)*X: \\1", 0}, /* two */
        {"\\nTo: (\\w+)(?:(?:[^\\n]+\\n+)*Subject: \\1)", 0},  /* inside a group */
        {"\\nTo: (\\w+)(?:[^\\n]+\\n+)*Subject: \\1|x", 0},    /* alternation */
        {"To: (\\w+)(?:[^\\n]+\\n+)*Subject: \\1", 0},         /* not at a line start */
        {"\\nT(\\w+)(?:[^\\n]+\\n+)*Subject: \\1", 0},         /* literal too short */
        {"\\nTo: (?i)(\\w+)(?:[^\\n]+\\n+)*Subject: \\1", 0},  /* options */
        {"\\nTo: \\A(\\w+)(?:[^\\n]+\\n+)*Subject: \\1", 0},
        {"\\nTo: (\\w+)(?:[^\\n]+\\n+)*Subject: \\1\\n\\w", 0}, /* B past its line */
        {"\\nTo: (\\w+)(?:[^\\n]+\\n+)*Subject: [\\s\\S]?", 0}, /* quantified \n atom */
        {"\\nTo: (\\w+)(?=[\\s\\S]*x)(?:[^\\n]+\\n+)*Subject: \\1", 0}, /* looks on */
        {"\\nTo: (\\w+)\\n+(?:[^\\n]{1,0}\\n+)*Subject: \\1", 0}, /* bound 0 */
        {"\\nTo: (\\w+)(?:[^\\n]+\\n+)*", 0},                  /* no B */
        {"\\nTo: \\cJ(?:[^\\n]+\\n+)*Subject: x", 0},
        {"\\nTo: \\x0a(?:[^\\n]+\\n+)*Subject: x", 0},
    };
    for (size_t i = 0; i < sizeof NO / sizeof *NO; i++)
        ck_assert_msg(!hsexpr_line_walk(NO[i].pat, NO[i].flags, &w), "%s", NO[i].pat);
}
END_TEST

/* hsexpr_alike for U+FFFD (EF BF BD) read as \x1a: where it says yes the
 * pattern matches a string with U+FFFD's exactly where it matches the
 * string with \x1a for each of their bytes (PCRE2 on both, every
 * subject); where it says no, some subject tells the two apart. */
START_TEST(alike_reads_fffd_as_x)
{
    static const unsigned char keep[32] = {
        [0xEF >> 3] = 1u << (0xEF & 7), [0xBF >> 3] = 1u << (0xBF & 7) | 1u << (0xBD & 7)};
    static const char *const SUBJ[] = {
        "v\xef\xbf\xbd" "agra", "x\xef\xbf\xbdy", "a\xef\xbf\xbd\xef\xbf\xbd" "b",
        "end\xef\xbf\xbd.", "w\xef\xbf\xbd", "\xef\xbf\xbd", "viagra w\x1a x\x01\x02\x03y",
        "caf\xef\xbf\xbd", "ab \xef\xbf\xbd ab",
    };
    static const struct { const char *pat; unsigned flags; int alike; } T[] = {
        {"a.{6}b", 0, 1},           /* a dot takes U+FFFD's bytes and \x1a */
        {"a[^a-z]+b", CF_RE_I, 1},
        {"end\\W", 0, 1},
        {"\\S{4}", 0, 1},
        {"[\\x00-\\xff]{3}", 0, 1},
        {"(?<!\\s)v\\Sagra", 0, 1},
        {"caf\\xc3\\xa9", CF_RE_I, 1}, /* cannot match such text at all */
        {"\\xef\\xbb\\xbf", 0, 1},
        {"^(?:ab|\\s)+$", CF_RE_M, 1},
        {"v[i\\xef]\\S*agra", 0, 0},   /* Latin-1 i-diaeresis alone */
        {"x[\\x80-\\xff]{3}y", 0, 0},  /* takes the bytes, not \x1a */
        {"[\\x01-\\x1f]{3}", 0, 0},    /* takes \x1a, not the bytes */
        {"w\\x1a", 0, 0},
        {"\\xef\\xbf\\xbd", 0, 0},
        {"(?<=\\xbd)", 0, 0},
        {"[\\x80-\\xbf]", 0, 0},      /* two of the three */
        {"(\\S)\\1", 0, 0},           /* compares bytes */
        {"(?<c>\\S)\\k<c>", 0, 0},
        {"(?P<c>\\S)(?P=c)", 0, 0},
    };
    for (size_t i = 0; i < sizeof T / sizeof *T; i++) {
        int a = hsexpr_alike(T[i].pat, T[i].flags, keep, 0x1a);
        ck_assert_msg(a == T[i].alike, "/%s/: alike %d", T[i].pat, a);
        int differ = 0;
        for (size_t k = 0; k < sizeof SUBJ / sizeof *SUBJ; k++) {
            char mapped[64];
            size_t n = strlen(SUBJ[k]);
            for (size_t j = 0; j <= n; j++)
                mapped[j] = (unsigned char)SUBJ[k][j] >= 0x80 ? 0x1a : SUBJ[k][j];
            differ |= rx_hit(T[i].pat, T[i].flags, SUBJ[k]) != rx_hit(T[i].pat, T[i].flags, mapped);
        }
        ck_assert_msg(differ != T[i].alike, "/%s/: the subjects %s", T[i].pat,
                      differ ? "differ" : "agree");
    }
    ck_assert(!hsexpr_alike("a.b", 0, keep, 0x80)); /* x must be ASCII */
}
END_TEST

/* Every relaxed form of every case, at levels lo..hi, matches wherever
 * PCRE2 matches the pattern; the assertion-free levels leave no anchor. */
static void assert_supersets(const case_t *cs, size_t n, int lo, int hi)
{
    for (size_t c = 0; c < n; c++)
        for (int level = lo; level <= hi; level++) {
            char *e = hsexpr_relaxed(cs[c].pat, cs[c].flags, level);
            ck_assert_ptr_nonnull(e);
            if (level >= 3)
                ck_assert_msg(!strchr(e, '^') || strstr(e, "[^"), "%s", e);
            for (size_t s = 0; s < NSUBJ; s++)
                if (rx_hit(cs[c].pat, cs[c].flags, SUBJECTS[s]))
                    ck_assert_msg(hs_hit(e, hs_flags_of(cs[c].flags), SUBJECTS[s]),
                                  "/%s/ relaxed %d as %s misses \"%s\"", cs[c].pat, level, e,
                                  SUBJECTS[s]);
            free(e);
        }
}

/* Distinct end offsets at which expr matches s (all reports). */
static unsigned long long ends_seen[64];
static int on_end(unsigned id, unsigned long long from, unsigned long long to,
                  unsigned flags, void *ctx)
{
    (void)id, (void)from, (void)flags;
    unsigned *n = ctx;
    for (unsigned j = 0; j < *n; j++)
        if (ends_seen[j] == to)
            return 0;
    if (*n < 64)
        ends_seen[(*n)++] = to;
    return 0;
}

static unsigned hs_ends(const char *expr, unsigned flags, const char *s)
{
    unsigned n = 0;
    hs_run(expr, flags, s, on_end, &n);
    return n;
}

/* hsexpr_min_ends: wherever PCRE2 matches, the relaxed forms (count made
 * +) end at that many distinct offsets at least. */
START_TEST(min_ends)
{
    static const struct { const char *pat; unsigned flags; int want; } C[] = {
        {"(?:(?:name|address|phone):?\\s*_*\\s?){3}", CF_RE_I, 3},
        {"x(?:ab|a){2,}", 0, 2}, {"(?:\\w+\\s){4}?", 0, 4}, {"(?:a|(?i)b){2}", 0, 2},
        {"(?:\\Qa.\\E){2}", 0, 2}, {"(?<n>[a-z]+[\\s.]+){9}", 0, 8},
        /* the group can match empty, is not last, or has company */
        {"(?:a?){3}", 0, 1}, {"(?:a|\\b){2}", 0, 1}, {"(?:ab){3}x", 0, 1},
        {"(?:ab){3}|c", 0, 1}, {"(?=a){3}", 0, 1}, {"a{3}", 0, 1}, {"(?:a\\s){2}", CF_RE_X, 1},
        {"(?:(?i)){2}", 0, 1}, {"(?:\\Q\\E){2}", 0, 1},
    };
    static const char *const S[] = {
        "name: ___ address: ___ phone: ___", "Name Address Phone ", "name address", "xabab",
        "xaba", "xa", "one two three four five ", "a.a.a.", "ab", "aB", "the lazy dogs are out "
        "in the green field today.", "name:\taddress:  phone:_",
    };
    for (size_t c = 0; c < sizeof C / sizeof *C; c++) {
        int n = hsexpr_min_ends(C[c].pat, C[c].flags);
        ck_assert_msg(n == C[c].want, "%s: %d, want %d", C[c].pat, n, C[c].want);
        if (n < 2)
            continue;
        for (int level = 2; level <= 4; level += 2) {
            char *e = hsexpr_relaxed(C[c].pat, C[c].flags, level);
            ck_assert_ptr_nonnull(e);
            for (size_t s = 0; s < sizeof S / sizeof *S; s++)
                if (rx_hit(C[c].pat, C[c].flags, S[s]))
                    ck_assert_msg(hs_ends(e, hs_flags_of(C[c].flags), S[s]) >= (unsigned)n,
                                  "/%s/ as %s on \"%s\": fewer than %d ends", C[c].pat, e, S[s],
                                  n);
            free(e);
        }
    }
}
END_TEST

/* hsexpr_whole_count: n only where the counted group is the whole
 * pattern. */
START_TEST(whole_count)
{
    static const struct { const char *pat; unsigned flags; int want; } C[] = {
        {"(?:(?:name|address|phone):?\\s*_*\\s?){3}", CF_RE_I, 3},
        {"(?<n>[a-z]+[\\s.]+){9}", 0, 8}, {"(ab|a){2,}", 0, 2},
        {"x(?:ab|a){2,}", 0, 1}, {"(?i)(?:ab){2}", 0, 1}, {"(?:a?){3}", 0, 1},
        {"(?:ab){3}x", 0, 1}, {"(?:ab){3}|c", 0, 1}, {"a{3}", 0, 1}, {"(?:ab)(?:ab){3}", 0, 1},
    };
    for (size_t c = 0; c < sizeof C / sizeof *C; c++)
        ck_assert_msg(hsexpr_whole_count(C[c].pat, C[c].flags) == C[c].want, "%s: %d", C[c].pat,
                      hsexpr_whole_count(C[c].pat, C[c].flags));
}
END_TEST

static void reverse_str(const char *s, char *out)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        out[i] = s[n - 1 - i];
    out[n] = '\0';
}

static unsigned long long starts_seen[64];
static int on_start_end(unsigned id, unsigned long long from, unsigned long long to,
                        unsigned flags, void *ctx)
{
    (void)id, (void)from, (void)flags;
    unsigned *n = ctx;
    if (*n < 64)
        starts_seen[(*n)++] = to;
    return 0;
}

/* hsexpr_reverse: the reversed expression matches the reversed text
 * exactly where the expression matches the text, and its report ends in
 * the reversed text are the starts of the matches. */
START_TEST(reverse)
{
    static const struct { const char *e, *want; } R[] = {
        {"abc", "cba"}, {"(?:ab|cd)+x", "x(?:ba|dc)+"}, {"\\bfoo\\b", "\\boof\\b"},
        {"[a-c]x{2,3}\\x41", "\\x41x{2,3}[a-c]"}, {"(ab)?c", "c(?:ba)?"},
        {"(?i:ab)c", "c(?i:ba)"}, {"a*?b", "ba*?"}, {"[]a]\\s", "\\s[]a]"},
        {"a|", "a|"}, {"", ""},
    };
    for (size_t i = 0; i < sizeof R / sizeof *R; i++) {
        char *r = hsexpr_reverse(R[i].e);
        ck_assert_msg(r && !strcmp(r, R[i].want), "%s: %s, want %s", R[i].e, r ? r : "NULL",
                      R[i].want);
        free(r);
    }
    /* what reads one side only, or what reversing would change */
    static const char *const bail[] = {"^a", "a$", "(?=a)b", "a(?<!b)", "(a)\\1", "a++",
                                       "(?>a)b", "\\Aa", "a\\z", "(?i)ab", "\\Qab\\E",
                                       "a(", "[ab"};
    for (size_t i = 0; i < sizeof bail / sizeof *bail; i++) {
        char *r = hsexpr_reverse(bail[i]);
        ck_assert_msg(r == NULL, "%s reversed as %s", bail[i], r);
    }
    static const char *const E[] = {
        "\\b(?:name|phone|ad+res+)[\\x3a\\x20]+", "(?:(?:name|phone)\\s?)+", "\\w+@\\w+",
        "(?:ab\\s){2,}x", "[\\x00-\\x2f]{1,3}end\\B",
    };
    for (size_t e = 0; e < sizeof E / sizeof *E; e++) {
        char *r = hsexpr_reverse(E[e]);
        ck_assert_msg(r != NULL, "%s", E[e]);
        for (size_t s = 0; s < NSUBJ; s++) {
            char rs[256];
            reverse_str(SUBJECTS[s], rs);
            ck_assert_msg(hs_hit(r, HS_FLAG_CASELESS, rs) == hs_hit(E[e], HS_FLAG_CASELESS,
                                                                     SUBJECTS[s]),
                          "%s / %s on \"%s\"", E[e], r, SUBJECTS[s]);
        }
        free(r);
    }
    /* starts: "ab ab " at 3 and 6, and the later "ab " at 9 */
    char *r = hsexpr_reverse("(?:ab\\s)+");
    const char *s = "xx ab ab yab z";
    char rs[64];
    reverse_str(s, rs);
    unsigned n = 0;
    hs_run(r, 0, rs, on_start_end, &n);
    unsigned long long got = 0;
    for (unsigned i = 0; i < n; i++)
        got |= 1ull << (strlen(s) - starts_seen[i]);
    ck_assert_msg(got == (1ull << 3 | 1ull << 6 | 1ull << 10), "starts %llx", got);
    free(r);
}
END_TEST

START_TEST(relaxed_is_a_superset)
{
    static const case_t R[] = {
        {"(?:(?:name|address|phone):\\s_{3}\\s?){3}", CF_RE_I},
        {"(?:name|address|phone)[\\s:]{1,100}_{2,50}", CF_RE_I},
        {"a{2,3}b{0,20}", 0}, {"x\\{1,2}", 0}, {"k\\xf6ln{1,2}", CF_RE_I},
    };
    assert_supersets(R, sizeof R / sizeof *R, 1, 2);
    assert_supersets(R, sizeof R / sizeof *R, 5, 5);
    /* without assertions: lookarounds and embedded anchors Vectorscan rejects */
    static const case_t A[] = {
        {"(?!viagra)v[i1]agra", CF_RE_I}, {"^name:.*^phone", CF_RE_M}, {"(?<!no )address\\b", 0},
        {"(?:^|\\W)(?=k)k\\xf6ln(?:$|\\W)", CF_RE_I}, {"\\bcaf\\xe9\\b", CF_RE_I},
    };
    assert_supersets(A, sizeof A / sizeof *A, 3, 4);
    expect_str(hsexpr_relaxed("(?!x)a(?<=a)\\bb$", 0, 3), "ab");
    expect_str(hsexpr_relaxed("a{1,100}b{3}c{2,5}", 0, 1), "a{1,}b{3}c{2,5}");
    expect_str(hsexpr_relaxed("a{1,100}b{3}c{0,5}x\\{3}", 0, 2), "a+b+c*x\\{3}");
    /* level 5: small counts of narrow atoms stay; a dot's, \W's, a group's,
     * a negated class's and counts over 8 go */
    expect_str(hsexpr_relaxed("a{1,100}b{3}.{0,4}c{2}\\d{2,8}\\W{2}(?:ab){2}x\\{3}\\{2}", CF_RE_I, 5),
               "a+b{3}.*c{2}\\d{2,8}\\W+(?:ab)+x\\{3}\\{2}");
    /* level 7: the top-level lookahead folded in, the rest cut off */
    expect_str(hsexpr_relaxed("(?!x)ab(?=c\\d{2})\\w+$", 0, 7), "ab(?:c\\d{2})");
    ck_assert_ptr_null(hsexpr_relaxed("ab|c(?=d)", 0, 7));
    ck_assert_ptr_null(hsexpr_relaxed("ab(?!d)", 0, 7));
    ck_assert_ptr_null(hsexpr_relaxed("a(?:b(?=d))", 0, 7));
    ck_assert_ptr_null(hsexpr_relaxed("a (?=b)", CF_RE_X, 7)); /* /x: none (and no leak) */
    static const case_t F[] = {
        {"^(?!Content-)[a-z]{3,}-[a-z]{3,}:\\s+\\d(?=\\S{6,}\\s*$)[\\da-f]*(?:[-.]\\w+)*\\s*$",
         CF_RE_I | CF_RE_M | CF_RE_S},
        {"(?<!x)a(?=b|c)[bc]d", 0}, {"k(?=\\w{3})\\w+n\\b", CF_RE_I},
    };
    static const char *const FS[] = {"Mailer-Ident: 6.00.2800\n", "x-trace-id: 123\n",
                                     "Content-Type: 1234567\n", "acd abd xbd", "Kitten kin"};
    int folded_hits = 0;
    for (size_t c = 0; c < sizeof F / sizeof *F; c++) {
        char *e = hsexpr_relaxed(F[c].pat, F[c].flags, 7);
        ck_assert_ptr_nonnull(e);
        for (size_t k = 0; k < sizeof FS / sizeof *FS; k++)
            if (rx_hit(F[c].pat, F[c].flags, FS[k])) {
                folded_hits++;
                ck_assert_msg(hs_hit(e, hs_flags_of(F[c].flags), FS[k]), "/%s/ as %s misses %s",
                              F[c].pat, e, FS[k]);
            }
        free(e);
    }
    ck_assert_int_ge(folded_hits, 3);
    /* and it turns down what dropping the lookahead would not */
    char *f0 = hsexpr_relaxed(F[0].pat, F[0].flags, 7);
    ck_assert(!hs_hit(f0, hs_flags_of(F[0].flags), "MIME-Version: 1.0\n"));
    free(f0);
    char *w = hsexpr_relaxed("[0-9]{3}[^a]{2}[a-z]{9}", 0, 5);
    ck_assert_msg(w && strstr(w, "]{3}") && !strstr(w, "]{2}") && !strstr(w, "]{9}"), "%s", w);
    free(w);
}
END_TEST

START_TEST(latin1_prefilter_is_a_superset)
{
    /* every case, and ReplaceTags-like look-alike letters: single Latin-1
     * bytes and UTF-8 sequences as alternatives */
    static const case_t L[] = {
        {"(?:[vV\\xe3]|\\xce\\xbd|\\xd0\\x86)(?:[iI1\\xed]|\\xd0\\x86|\\xc3\\xad)agra", CF_RE_I},
        {"(?:^|\\s)(?:[kK]|\\xc4\\xb8)(?:[\\xf6o]|\\xc3\\xb6|\\xc3\\x96)ln\\b", CF_RE_I},
        {"M[\\xe0-\\xfe]NCHEN", CF_RE_I}, {"K[^\\xf6]LN", CF_RE_I},
    };
    for (size_t k = 0; k < NCASES + sizeof L / sizeof *L; k++) {
        const case_t *c = k < NCASES ? &CASES[k] : &L[k - NCASES];
        char *e = hsexpr_latin1_prefilter(c->pat, c->flags);
        if (!e) /* \\Q and /x are not followed */
            continue;
        for (size_t s = 0; s < NSUBJ; s++)
            if (rx_hit(c->pat, c->flags, SUBJECTS[s]))
                ck_assert_msg(hs_hit(e, hs_flags_of(c->flags) | HS_FLAG_PREFILTER, SUBJECTS[s]),
                              "/%s/ as prefilter %s misses \"%s\"", c->pat, e, SUBJECTS[s]);
        free(e);
    }
    /* the UTF-8 look-alikes, branches of bytes >= 0x80 only, become one
     * [\\x80-\\xff]{m,n}; a class that names a byte >= 0x80 admits them all */
    expect_str(hsexpr_latin1_prefilter("(?:[v\\xe3]|\\xce\\xbd|\\xd0\\x86)x", CF_RE_I),
               "(?:[\\x56\\x76\\x80-\\xff]|[\\x80-\\xff]{2})x");
    expect_str(hsexpr_latin1_prefilter("(?:a|(?:\\xc3\\xa9|\\xc3\\xa8)|(?:\\xc3\\xaa))b", CF_RE_I),
               "(?:a|[\\x80-\\xff]{2})b");
    expect_str(hsexpr_latin1_prefilter("(?:o|\\xc3\\xb6|\\xe1(?:\\xb9\\x8d|\\xbb\\x8d))n", CF_RE_I),
               "(?:o|[\\x80-\\xff]{2,3})n");
    /* a branch that may match nothing stays as it is */
    expect_str(hsexpr_latin1_prefilter("k(?:\\xc3\\xb6|)ln", CF_RE_I),
               "k(?:|[\\x80-\\xff]{2})ln");
    /* back references: no branch dropped (group numbers would move) */
    expect_str(hsexpr_latin1_prefilter("(\\xe9|\\xe8)(a|a)\\2", CF_RE_I),
               "([\\x80-\\xff]|[\\x80-\\xff])(a|a)\\2");
    /* the HTML references of the look-alike tags, branches that match only
     * numbers, become one class of their bytes counted {m,n}; a lone one,
     * and words of hex letters, stay */
    expect_str(hsexpr_latin1_prefilter("&\\#(?:1(?:03[01]|216)|2(?:0[4-7]|16)|x(?:3f2|4a[ab]));",
                                       CF_RE_I),
               "&\\#(?:[\\x30-\\x37\\x41-\\x42\\x46\\x58\\x61-\\x62\\x66\\x78]{3,4});");
    expect_str(hsexpr_latin1_prefilter("(?:a|12|345)b", CF_RE_I), "(?:a|[\\x31-\\x35]{2,3})b");
    expect_str(hsexpr_latin1_prefilter("(?:a|12)b", CF_RE_I), "(?:a|12)b");
    expect_str(hsexpr_latin1_prefilter("(?:face|bad|12)x", CF_RE_I), "(?:face|bad|12)x");
    expect_str(hsexpr_latin1_prefilter("(?:1\\d+|23)x", CF_RE_I), "(?:1\\d+|23)x");
    /* \\z matches no byte: not counted as one; nothing collapses inside a
     * negative lookaround (a superset there is a subset of the whole) */
    expect_str(hsexpr_latin1_prefilter("x(?:12\\z|345)", CF_RE_I), "x(?:12\\z|345)");
    expect_str(hsexpr_latin1_prefilter("(?!(?:12|34))x", CF_RE_I), "(?!(?:12|34))x");
    expect_str(hsexpr_latin1_prefilter("(?<!(?:12|34))x", CF_RE_I), "(?<!(?:12|34))x");
    static const case_t N[] = {
        {"&\\#(?:1(?:03[01]|216)|2(?:0[4-7]|16)|x(?:3f2|4a[ab]));", CF_RE_I},
        {"(?:a|12|345)b", 0}, {"p(?:\\d{2}|4[0-5]|x)?q", 0}, {"x(?:12\\z|345)", CF_RE_I},
        {"y(?:1[0-9]|2a|3B)+?z", 0},
    };
    static const char *const NS[] = {"&#1031;", "&#X3F2;", "&#205;", "&#x4aa;", "ab", "12b",
                                     "345b", "p42q", "pq", "pxq", "&#999;", "x12", "x345",
                                     "y152az", "y3Bz", "y19z"};
    for (size_t k = 0; k < sizeof N / sizeof *N; k++) {
        char *e = hsexpr_latin1_prefilter(N[k].pat, N[k].flags);
        ck_assert_ptr_nonnull(e);
        for (size_t s = 0; s < sizeof NS / sizeof *NS; s++)
            if (rx_hit(N[k].pat, N[k].flags, NS[s]))
                ck_assert_msg(hs_hit(e, hs_flags_of(N[k].flags) | HS_FLAG_PREFILTER, NS[s]),
                              "/%s/ as prefilter %s misses \"%s\"", N[k].pat, e, NS[s]);
        free(e);
    }
}
END_TEST

/* s squashed: its ASCII letters and digits only (fast.c's squash_into). */
static void squash_str(const char *s, char *out)
{
    for (; *s; s++) {
        unsigned c = (unsigned char)*s;
        if (c < 0x80 && ((c | 0x20) - 'a' < 26u || c - '0' < 10u))
            *out++ = (char)c;
    }
    *out = 0;
}

/* hsexpr_squash: wherever the pattern matches a string, the squashed form
 * (caseless) matches its squashed text -- checked with PCRE2 on crafted
 * strings and on random ones over letters, digits, punctuation and high
 * bytes; the forms of a gap pattern and of the constructs it drops. */
START_TEST(squash_is_a_superset)
{
    static const case_t Q[] = {
        /* __DRUGS_* shapes: gaps, look-alike classes, \/ for V */
        {"(?:\\b|\\s)[_\\W]{0,3}(?:\\\\\\/|V)[_\\W]{0,3}[i1!|l\\xEC-\\xEF][_\\W]{0,3}c[_\\W]{0,3}"
         "[o0\\xF2-\\xF6][_\\W]{0,3}d[_\\W]{0,3}[i1!|l\\xEC-\\xEF][_\\W]{0,3}ns?[_\\W]{0,3}(?:\\b|\\s)",
         CF_RE_I},
        {"\\b_{0,3}t[_\\W]?r[_\\W]?[a4\\xE0-\\xE6@][_\\W]?m[_\\W]?[a4\\xE0-\\xE6@][_\\W]?d[_\\W]?"
         "[o0\\xF2-\\xF6][_\\W]?[l!|1]_{0,3}\\b", CF_RE_I},
        {"(?:\\A|[\\s\\x00-\\x2f])[_\\W]{0,3}(?!cialis(?:t|\\xe9))C[_\\W]{0,3}[i1!|l][_\\W]{0,3}"
         "[a4@][_\\W]{0,3}l[_\\W]{0,3}[i1!|l][_\\W]{0,3}s", CF_RE_I},
        /* words, classes, dots, counted and optional groups, anchors */
        {"dear\\s+(?:friend|sir)\\b", CF_RE_I}, {"a.{0,3}b[-_]?c", 0}, {"^x(?:y|-)+z$", CF_RE_M},
        {"(?:ab|c\\d{2,4})+\\.e", 0}, {"\\w+@\\w+\\.com", 0}, {"(?i)Ab(?-i:c)d", 0},
        {"[^a-z]q[^\\s]r", 0}, {"x\\x41\\x2dy", 0}, {"(?<n>ab)(?:cd)?(?#note)e", 0},
        {"k\\xf6ln|koln", CF_RE_I}, {"(?=ab)a.c", 0}, {"h\\W*e\\W*l\\W*l\\W*o", CF_RE_I},
    };
    static const char *const S[] = {
        "V i c o d i n", "\\/1c0din!", "vicodins.", "t-r-a-m-a-d-o-l", "TR@M4D0|", "tramadol",
        "C.i.a.l.i.s", "c1@l!s", "cialist", "Dear   Friend", "dear sirs", "a--b-c", "axxxbc",
        "x-y-z", "xyz", "ab.e", "c123c45.e", "me@host.com", "ABcD", "Abcd", "1q2r", "xA-y",
        "abcde", "abe", "K\xf6ln", "koln", "abc", "h-e-l-l-o", "HeLLo", "",
    };
    static const char alpha[] = "vicodnsVIrtamTRAMlhe14@|!/\\ -_.\xe9\xf6\xc3";
    char sq[256];
    for (size_t k = 0; k < sizeof Q / sizeof *Q; k++) {
        long w = -1;
        int gaps = -1;
        char *e = hsexpr_squash(Q[k].pat, Q[k].flags, &w, &gaps);
        ck_assert_msg(e != NULL, "/%s/ has no squashed form", Q[k].pat);
        ck_assert(w >= 0 && gaps >= 0);
        for (size_t i = 0; i < sizeof S / sizeof *S; i++) {
            squash_str(S[i], sq);
            if (rx_hit(Q[k].pat, Q[k].flags, S[i]))
                ck_assert_msg(rx_hit(e, CF_RE_I, sq) && hs_hit(e, HS_FLAG_CASELESS, sq),
                              "/%s/ squashed %s misses \"%s\" (\"%s\")", Q[k].pat, e, S[i], sq);
        }
        /* random strings of letters, digits, punctuation and high bytes */
        unsigned seed = 7u + (unsigned)k;
        for (int t = 0; t < 3000; t++) {
            char r[24];
            int len = rand_r(&seed) % 20;
            for (int i = 0; i < len; i++)
                r[i] = alpha[(size_t)rand_r(&seed) % (sizeof alpha - 1)];
            r[len] = 0;
            squash_str(r, sq);
            if (rx_hit(Q[k].pat, Q[k].flags, r))
                ck_assert_msg(rx_hit(e, CF_RE_I, sq), "/%s/ squashed %s misses \"%s\" (\"%s\")",
                              Q[k].pat, e, r, sq);
        }
        free(e);
    }
    /* the gaps go; a look-alike that is no letter or digit makes its
     * letter optional, and so does \/ (an alternative of V) */
    long w;
    int gaps;
    expect_str(hsexpr_squash("(?:\\b|\\s)[_\\W]{0,3}(?:\\\\\\/|V)[_\\W]{0,3}[i1!|l][_\\W]{0,3}a",
                             CF_RE_I, &w, &gaps),
               "(?:V)?[\\x31\\x69\\x6c]?a");
    ck_assert_int_eq(w, 1);
    ck_assert_int_eq(gaps, 3); /* the three [_\W]{0,3}; not \s, \\ or \/ */
    expect_str(hsexpr_squash("p[_\\W]?h[-. ]?e\\s*n", CF_RE_I, &w, &gaps), "phen");
    ck_assert_int_eq(w, 4);
    ck_assert_int_eq(gaps, 3);
    expect_str(hsexpr_squash("a\\w{2,5}.b+", 0, &w, &gaps),
               "a[\\x30-\\x39\\x61-\\x7a]{0,5}[\\x30-\\x39\\x61-\\x7a]?b+"); /* caseless */
    ck_assert_int_eq(w, 2);
    /* a count past what a long holds times a width: the width saturates
     * (fuzz_hsexpr found the overflow) */
    char *big = hsexpr_squash("(?:ab){9223372036854775807}c", 0, &w, &gaps);
    ck_assert_ptr_nonnull(big);
    ck_assert_int_eq(w, 1L << 30);
    free(big);
    big = hsexpr_squash("(?:(?:ab){99999}){99999}", 0, &w, &gaps);
    ck_assert_ptr_nonnull(big);
    ck_assert_int_eq(w, 1L << 30);
    free(big);
    /* not followed: back references, \Q, recursion, conditionals, /x;
     * and nothing kept */
    ck_assert_ptr_null(hsexpr_squash("(a)b\\1", 0, &w, &gaps));
    ck_assert_ptr_null(hsexpr_squash("\\Qa.b\\E", 0, &w, &gaps));
    ck_assert_ptr_null(hsexpr_squash("a(?R)?b", 0, &w, &gaps));
    ck_assert_ptr_null(hsexpr_squash("(?(1)a|b)", 0, &w, &gaps));
    ck_assert_ptr_null(hsexpr_squash("a b", CF_RE_X, &w, &gaps));
    ck_assert_ptr_null(hsexpr_squash("[-_]+\\s*", 0, &w, &gaps));
}
END_TEST

/* hsexpr_split: every part within the limit, and together they match
 * exactly where the whole does (Vectorscan, SINGLEMATCH, one id); the
 * shapes it must not split are refused. */
START_TEST(split_matches_as_whole)
{
    static const struct { const char *expr; size_t max; } S[] = {
        {"(?:^|\\s)(?:name|address|phone|x\\d+y|(?:ab|cd)ef)\\b", 24},
        {"k(?:oln|(?:ab|cd|[\\x30-\\x39]{2}z)ow|e)s?", 30},
        {"alpha|beta|gamma|delta|(?:epsilon|zeta)!", 12},
        {"(?:wat|ch)(?:es|ing|ed)(?:now|then|later)", 35},
        {"abcdefgh(?:now|then|later)", 20}, /* the group at the very end */
    };
    static const char *const T[] = {"name", " phone ", "x12y", "abef", "cdef!", "koln",
                                    "kabow", "k42zows", "ke", "alpha", "gamma", "zeta!",
                                    "watches", "ching later", "wated then", "chedlater",
                                    "nothing", "", "zeta", "kxow", "abcdefghthen",
                                    "abcdefghnow", "abcdefgh"};
    for (size_t i = 0; i < sizeof S / sizeof *S; i++) {
        size_t n = 0;
        char **parts = hsexpr_split(S[i].expr, S[i].max, &n);
        ck_assert_msg(parts && n >= 2, "%s: not split", S[i].expr);
        for (size_t k = 0; k < n; k++)
            ck_assert_msg(strlen(parts[k]) <= S[i].max, "%s: part %s", S[i].expr, parts[k]);
        for (size_t t = 0; t < sizeof T / sizeof *T; t++) {
            int any = 0;
            for (size_t k = 0; k < n; k++)
                any |= hs_hit(parts[k], HS_FLAG_CASELESS, T[t]);
            ck_assert_msg(any == hs_hit(S[i].expr, HS_FLAG_CASELESS, T[t]), "%s on \"%s\"",
                          S[i].expr, T[t]);
            ck_assert_msg(any == rx_hit(S[i].expr, CF_RE_I, T[t]), "%s on \"%s\": PCRE2",
                          S[i].expr, T[t]);
        }
        for (size_t k = 0; k < n; k++)
            free(parts[k]);
        free(parts);
    }
    size_t n = 1;
    /* fits already; a quantified or inline-option group; over 64 parts */
    ck_assert_ptr_null(hsexpr_split("(?:a|b)c", 8, &n));
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(hsexpr_split("(?:alpha|beta|gamma)+", 12, &n));
    ck_assert_ptr_null(hsexpr_split("(?:alpha|(?i)beta|gamma)", 12, &n));
    ck_assert_ptr_null(hsexpr_split("(?:alpha|beta)(?#c)|gamma", 12, &n));
    /* dropping (a)'s branch would make \\2 mean (d) */
    ck_assert_ptr_null(hsexpr_split("(?:(a)|b)(c)(d)\\2", 15, &n));
    tg_buf b;
    tg_buf_init(&b);
    for (int i = 0; i < 70; i++)
        tg_buf_printf(&b, "%sword%02d", i ? "|" : "", i);
    ck_assert_ptr_null(hsexpr_split(b.s, 8, &n));
    ck_assert_uint_eq(n, 0);
    tg_buf_free(&b);
}
END_TEST

/* hsexpr_literal_free: no literal byte outside lookarounds. */
START_TEST(literal_free)
{
    static const struct { const char *e; int free; } C[] = {
        {"[a-z0-9]{6}\\s{8}[a-z0-9]{5}", 1},
        {"\\b(?:[a-z]{8,}[\\s.]+){6}", 1},
        {"(?!foo)\\w+\\d*$", 1},          /* a lookaround's literals match nothing */
        {"(?<GB>.*)", 1},
        {"^[^a-z[:punct:]][^[:punct:]]*", 1},
        {"(?i)\\d{3,}|\\W", 1},
        {"a[b-c]", 0},
        {"[b-c]a", 0},
        {"\\x41\\d", 0},
        {"\\.\\d", 0},
        {"(\\w)\\1", 0},                  /* a backreference counts as a literal */
        {"(?i:ab)", 0},
        {"\\d{2,}x", 0},
        {"\\d(?:\\s|-)\\d", 0},
        {"[a-z", 0},                        /* unclosed class */
    };
    for (size_t k = 0; k < sizeof C / sizeof *C; k++)
        ck_assert_msg(hsexpr_literal_free(C[k].e) == C[k].free, "%s", C[k].e);
}
END_TEST

START_TEST(shapes)
{
    ck_assert(hsexpr_needs_latin1_fold("k\\xf6ln", CF_RE_I));
    ck_assert(hsexpr_needs_latin1_fold("(?i)k\xf6ln", 0));
    ck_assert(!hsexpr_needs_latin1_fold("k\\xf6ln", 0));
    ck_assert(!hsexpr_needs_latin1_fold("koln", CF_RE_I));
    ck_assert(hsexpr_nested_repeat("(a+)+"));
    ck_assert(hsexpr_nested_repeat("(?:\\w+\\s*){3,}"));
    ck_assert(!hsexpr_nested_repeat("(ab)+c+"));
    /* what the rewrite does not follow */
    ck_assert_ptr_null(hsexpr_latin1_exact("(a)\\1", CF_RE_I));
    ck_assert_ptr_null(hsexpr_latin1_exact("[\\Qa]\\E]", CF_RE_I));
}
END_TEST

Suite *hsexpr_suite(void)
{
    Suite *s = suite_create("hsexpr");
    TCase *tc = tcase_create("rewrite");
    /* each case compiles hundreds of single-expression databases: some
     * seconds under ASan on a loaded host, past Check's default 4 s */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, latin1_exact_matches_as_pcre2);
    tcase_add_test(tc, ascii_form_on_ascii_text);
    tcase_add_test(tc, restricted_form_on_restricted_text);
    tcase_add_test(tc, line_run_shape);
    tcase_add_test(tc, line_walk_shape);
    tcase_add_test(tc, alike_reads_fffd_as_x);
    tcase_add_test(tc, relaxed_is_a_superset);
    tcase_add_test(tc, latin1_prefilter_is_a_superset);
    tcase_add_test(tc, min_ends);
    tcase_add_test(tc, whole_count);
    tcase_add_test(tc, reverse);
    tcase_add_test(tc, shapes);
    tcase_add_test(tc, literal_free);
    tcase_add_test(tc, split_matches_as_whole);
    tcase_add_test(tc, squash_is_a_superset);
    suite_add_tcase(s, tc);
    return s;
}
