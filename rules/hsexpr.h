/*
 * hsexpr — what a rule's PCRE2 pattern becomes for Vectorscan, and the
 * pattern shapes the fast matcher routes around.
 *
 * Vectorscan folds only ASCII letters under HS_FLAG_CASELESS; rx.c's
 * tables also pair the Latin-1 letters (0xC0-0xDE <-> 0xE0-0xFE), as Perl
 * does for SpamAssassin. hsexpr_latin1_exact spells that folding out:
 * every byte >= 0x80 that /i pairs becomes a two-byte class and every
 * bracket class becomes the explicit byte set PCRE2 itself computes for
 * it (rx_class_bytes), so the expression means to Vectorscan exactly what
 * the pattern means to PCRE2.
 *
 * All functions are pure; returned strings are malloc'd and owned by the
 * caller.
 */
#ifndef TG_HSEXPR_H
#define TG_HSEXPR_H

#include <stddef.h>

/* The pattern as Vectorscan gets it when nothing needs rewriting: /x
 * becomes a leading (?x), which Vectorscan parses as PCRE does. */
char *hsexpr_plain(const char *pat, unsigned reflags);

/* 1 if the pattern names a byte >= 0x80 (raw or escaped) and /i is on
 * (flag or inline (?i)): Vectorscan would fold it differently. */
int hsexpr_needs_latin1_fold(const char *pat, unsigned reflags);

/* The equivalent expression with Latin-1 folding explicit (see top), or
 * NULL for constructs this does not follow (numbered backreferences or
 * octal escapes \1-\9, \Q inside a class, code points > 0xFF, classes
 * PCRE2 rejects, more than 64 nested groups). */
char *hsexpr_latin1_exact(const char *pat, unsigned reflags);

/* The pattern restricted to ASCII text: every atom keeps only the bytes
 * < 0x80 it matches (an atom left with none can never match), so on a
 * string with no byte >= 0x80 it matches exactly where the pattern does,
 * and branches only text with such bytes could take are gone. Latin-1
 * folding is moot there. NULL as for hsexpr_latin1_exact, or for \X \C
 * \p \P. */
char *hsexpr_ascii(const char *pat, unsigned reflags, int relax);

/* The pattern restricted to text whose bytes >= 0x80 are all in keep (a
 * byte set; its bytes < 0x80 are ignored, all of them are kept): as
 * hsexpr_ascii, every atom keeps only the bytes such text can hold and
 * branches that need another byte are gone, so on such text it matches
 * exactly where the pattern does (the same starts and ends); NEVER-only
 * ("[^\x00-\xff]") if no branch is left. For a Vectorscan expression of
 * the full form (latin1_exact's syntax), to build a smaller database for
 * strings with few distinct bytes >= 0x80. NULL as for hsexpr_ascii. */
char *hsexpr_restrict(const char *pat, unsigned reflags, const unsigned char keep[32]);

/* 1 if on text whose bytes >= 0x80 are all in keep (a byte set as for
 * hsexpr_restrict) the pattern matches exactly where it matches the same
 * text with each such byte replaced by x (< 0x80): every atom of its
 * restricted form takes all of keep's bytes >= 0x80 or none of them, and
 * x exactly when it takes them, and there is no back reference (the only
 * construct that compares bytes instead of matching each with an atom;
 * recursion and lookarounds are made of atoms too). The replaced text is
 * ASCII, so it can be scanned with the ASCII-only databases and its
 * reports (same ends) taken for the original's: U+FFFD's EF BF BD read
 * as \x1a by everything but the ReplaceTags look-alikes that take
 * Latin-1's \xEF. 0 also for what hsexpr_restrict does not follow. */
int hsexpr_alike(const char *pat, unsigned reflags, const unsigned char keep[32],
                 unsigned char x);

/* 1 if expr is the form that matches nothing ("[^\x00-\xff]"), which
 * hsexpr_ascii and hsexpr_restrict return when no branch is left. */
int hsexpr_is_never(const char *expr);

/* 1 if the pattern is ^C{n} under /m (not /x): C one bracketed class of
 * single bytes that does not take \n, 0 < n < 65536; then set is C's
 * bytes (rx_class_bytes, /i as the flags say) and *n the count. Such a
 * pattern matches where some line (from the start or after a \n, PCRE2's
 * newline being LF) begins with n bytes of C: __LONGLINE's ^[^\r\n]{998}. */
int hsexpr_line_run(const char *pat, unsigned reflags, unsigned char set[32], unsigned *n);

/* A pattern that pairs two lines of a multi-line string (the header
 * block): A W B, where W walks whole lines, either (?:[^\n]+\n+)* (bound
 * 0) or \n+(?:[^\n]{1,N}\n+)* (bound N: every line it crosses has 1 to N
 * bytes); A is \n or ^ (under /m) then lit1 then items that neither match
 * nor look past a \n; B is lit2 (after a ^ under /m) then such items, the
 * last of which alone may be one atom that takes the \n ending B's line.
 * lit1 and lit2 are runs of letters, digits and " :_-" (2 to 31 bytes),
 * each of which may be followed by a lead (below) before those items.
 * SpamAssassin's __SUBJ_HAS_TO_1/2/3, __TO_EQ_FROM_1 and _DOM_1. Such a
 * pattern can only match with A in a line that begins with lit1 and B in
 * one that begins with lit2 (or B inside A's line, where W walks nothing),
 * which is what lets the fast matcher drop the lines it only walks over. */
typedef struct hsexpr_walk {
    char lit1[32], lit2[32]; /* NUL-terminated, as written */
    unsigned bound;          /* 0: W crosses any line */
    /* A lead: right after a literal, one class atom that takes \n,
     * repeated + or * (__TO_EQ_FROM_USR_1's From:\s+ and To:\s+), which
     * runs past its line only where every byte after the literal up to
     * the \n is in its class (B's only with a bound: a walk of bound 0 can
     * leave B inside A's line). lead[0] for lit1, lead[1] for lit2: has it,
     * and its bytes (a 256-bit map, bit b of set[b / 8]). */
    struct hsexpr_lead {
        int has;
        unsigned char set[32];
    } lead[2];
} hsexpr_walk_t;

/* 1 and *w filled if pat (cf flags; not /x) has that shape, else 0.
 * Items this does not follow (options, \Q, verbs, conditionals,
 * recursion, \A \z \Z \G \K, ^ and $ without /m) make it 0. */
int hsexpr_line_walk(const char *pat, unsigned reflags, hsexpr_walk_t *w);

/* The pattern's squashed form: an expression, for text squashed to its
 * ASCII letters and digits (every other byte taken out), that matches the
 * squashed text of every string the pattern matches somewhere in; to be
 * compiled caseless. Each atom keeps the letters and digits it takes and
 * may be skipped if it also takes another byte; atoms that take none,
 * assertions and lookarounds go: the __DRUGS_* rules' [_\W]{0,3} gaps
 * vanish, "(?:\\\/|V)[_\W]{0,3}[i1!|l\xEC-\xEF]" becomes "V?[1il]?".
 * *width: the fewest bytes of squashed text it matches; *gaps: optional
 * atoms dropped that take a byte ([_\W]{0,3}, \s*: the gaps). NULL for
 * constructs this does not follow (back references, \Q, /x, conditionals,
 * recursion, \p \X \C \R) or if nothing is kept. Caller frees. */
char *hsexpr_squash(const char *pat, unsigned reflags, long *width, int *gaps);

/* A superset of the pattern that Vectorscan takes more easily, for a
 * prefilter whose reports PCRE2 confirms: level 1 drops upper bounds over
 * 8 ({1,100} becomes {1,}), level 2 every count ({3} becomes +, {0,5}
 * becomes *); levels 3 and 4 are 1 and 2 with every assertion dropped
 * (^ $ \\b \\B \\A \\z \\Z \\G and lookaround groups), which Vectorscan
 * takes in few places. Level 5 is 2 keeping the counts of at most 8 of a
 * narrow atom (a byte of under 128 values: [0-9]{3}). Level 7 folds the
 * first top-level lookahead in, X(?=Y)Z as X(?:Y) and nothing after it
 * (each match of the pattern begins with one of that), dropping the other
 * lookarounds and keeping counts; NULL where the pattern has none, or a
 * top-level '|'. Latin-1 folding spelt out as hsexpr_latin1_exact does. NULL
 * as there. */
char *hsexpr_relaxed(const char *pat, unsigned reflags, int level);

/* A superset expression for the same patterns, for HS_FLAG_PREFILTER:
 * non-ASCII bytes become [\x80-\xff]. NULL if it cannot (\Q, /x). */
char *hsexpr_latin1_prefilter(const char *pat, unsigned reflags);

/* 1 if an unboundedly repeated group contains an unbounded repeat (e.g.
 * (a+)+ or (?:\w+\s*){3,}): where PCRE2 may stop at its match limit and
 * so answer "no match" where Vectorscan, which never backtracks, matches.
 * Conservative. */
int hsexpr_nested_repeat(const char *pat);

/* 1 if expression expr (Vectorscan syntax) has no literal byte outside
 * its lookarounds: every atom a class (bracketed, \s \d \w and their
 * negations, or .), such as [a-z0-9]{6}\s{8}[a-z0-9]{5}. Vectorscan has
 * no literal to start such an expression from and runs its automaton over
 * every byte. Conservative: an escaped byte, a backreference or /x text
 * counts as a literal. */
int hsexpr_literal_free(const char *expr);

/* n >= 2 if every match of the pattern ends with n back-to-back matches
 * of its last item, a group counted {n...} that cannot match the empty
 * string, with no alternation outside it: then the relaxed forms of
 * levels 2 and 4 (the count made +) match at n distinct end offsets at
 * least wherever the pattern matches. 1 otherwise (n is capped at 8). */
int hsexpr_min_ends(const char *pat, unsigned reflags);

/* hsexpr_min_ends' n when the counted group is the whole pattern, 1
 * otherwise. A match of (?:G){n} is n back-to-back matches of G: n+1
 * offsets, each but the first an end and each but the last a start of a
 * match of G (the fast matcher's chain test). */
int hsexpr_whole_count(const char *pat, unsigned reflags);

/* The pattern's size with its counted repeats written out: an atom counts
 * 1, a group its widest branch, {m,n} multiplies by n ({m,} by m; ? * +
 * by 1). Vectorscan's compile time and memory grow with it (a prefilter
 * of __SPOOFED_URL, size ~200k: 16 s and 440 MB). */
double hsexpr_repeat_size(const char *pat);

/* An expression (this module's output, Vectorscan syntax) whose matches
 * are the reversed matches of expr: scanning the reversed text with it
 * reports, as end offsets, len - s for every start s of a match of expr
 * (Vectorscan reports no starts itself). Word boundaries are their own
 * reverse. NULL where the reverse is not simply written: anchors, \A \z
 * \G \K, backreferences, lookarounds, atomic or possessive parts, option
 * settings that run to the end of a group, \Q...\E. */
char *hsexpr_reverse(const char *expr);

/* Expressions (this module's output) each at most max bytes long whose
 * matches together are expr's, for a Vectorscan length limit: an
 * unquantified (?:...) group's alternatives are shared out among copies
 * of the expression (P(?:A|B)S becomes P(?:A)S and P(?:B)S), descending
 * into the longest group where one alternative is still too long. For
 * "does it match" only, as SINGLEMATCH reports under one id. NULL (and
 * *n 0) where expr fits already or cannot be split so: inline options,
 * comments, \Q, back references, branch resets, or more than 64 parts.
 * Each string and the array are malloc'd, owned by the caller. */
char **hsexpr_split(const char *expr, size_t max, size_t *n);

#endif
