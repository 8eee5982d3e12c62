/*
 * fast — the fast matching core: every regex rule of a ruleset grouped by
 * the string it reads (its "class": rendered body lines, rawbody chunks,
 * the URI list, the full message, one header name + mode, mimeheader
 * name + mode, each envelope string, attachment names/types), each class
 * compiled into Vectorscan (Hyperscan API) block-mode databases scanned
 * once per string with HS_FLAG_SINGLEMATCH: a main one, a second one for
 * patterns slow to compile, and in big classes an ASCII form of each for
 * strings without bytes >= 0x80 (hsexpr_ascii: smaller automata).
 *
 * Each rule takes one of three paths, chosen when the ruleset is built:
 *   FAST_EXACT      Vectorscan compiles the pattern with the same meaning
 *                   as PCRE2 (rx.c; Latin-1 /i spelt out by hsexpr): a
 *                   report is the hit.
 *   FAST_PREFILTER  compiled as a superset of the pattern (HS_FLAG_PREFILTER,
 *                   or the pattern with its counted repeats relaxed, where
 *                   Vectorscan cannot take it exactly or where a rule that
 *                   reports on no sample text scans faster so); or
 *                   exact but with nested repeats, where PCRE2 may stop at
 *                   its match limit: each candidate string is confirmed
 *                   with the rule's PCRE2 code (rx_count). A relaxed
 *                   (?:G){n} is a candidate only once it has matched at n
 *                   distinct end offsets (hsexpr_min_ends).
 *   FAST_PCRE       not in a database (Vectorscan rejects every form, it
 *                   compiles too slowly, its prefilter fires on ordinary
 *                   text, or, in the full class, PCRE2 alone goes over
 *                   whole messages faster): PCRE2 over every string of the
 *                   class, as the oracle; except on strings without bytes >= 0x80
 *                   where the rule's ASCII form is exact in the class's
 *                   ASCII database, or cannot match at all.
 * `tflags multiple` rules always count with PCRE2, on the strings where
 * the database reported them (or on every string on the PCRE path).
 *
 * The result is by construction the oracle's (rules.c run_rule): same
 * per-string semantics, same //g counting, same !~ and [if-unset:].
 *
 * Ownership: a fast_t is immutable after fast_build and may be shared by
 * threads; it borrows every rx_t and string of its fast_rule_t inputs
 * except where noted (rules.c keeps them alive longer than the fast_t).
 * Each thread matches with its own fast_scratch_t (Vectorscan scratch
 * cloned from the fast_t's prototype, candidate lists, counters).
 */
#ifndef TG_FAST_H
#define TG_FAST_H

#include <stddef.h>

#include "msg.h"
#include "rules.h"
#include "rx.h"

typedef struct fast fast_t;
typedef struct fast_scratch fast_scratch_t;

enum { FAST_EXACT = 0, FAST_PREFILTER = 1, FAST_PCRE = 2, FAST_NPATHS = 3 };

/* One regex rule handed to fast_build. Strings are copied; re is borrowed
 * and must outlive the fast_t. */
typedef struct fast_rule {
    size_t slot;            /* index into the values[] array */
    int type;               /* cf_type_t: a regex rule type */
    const char *header;     /* header / mimeheader name, else NULL */
    int hmode;              /* msg_hmode_t */
    const char *unset;      /* [if-unset:] value or NULL */
    int negate;             /* !~ */
    const char *pattern;    /* source as written (ReplaceTags applied) */
    unsigned reflags;       /* CF_RE_* */
    int multiple;           /* tflags multiple */
    unsigned maxhits;       /* 0 = all (multiple only) */
    const rx_t *re;         /* the rule's PCRE2 code (borrowed) */
    const char *name;       /* for reports; copied */
} fast_rule_t;

typedef struct fast_options {
    const char *cache_dir;       /* compiled databases cache, NULL = none */
    int threads;                 /* classes compiled at once; 0 = one per
                                    CPU, at most 4 */
    unsigned long match_limit;   /* as rules_options_t */
    unsigned long depth_limit;
    long memo_slots;             /* the scan memo's slots (fastmemo.h): 0 =
                                    FAST_MEMO_DEFAULT, < 0 none; none also
                                    where TG_FAST_NOMEMO is set (not 0) */
} fast_options_t;

/* The scan memo's default size. A message scans some 80 strings (8 body
 * lines, 3 URIs, a header value per header class), and the memo looks up
 * only classes whose strings come back, so it remembers the strings of a
 * few hundred messages: on the corpus, 65536 slots replayed 20.9% of the
 * bytes looked up against 20.4% with this. */
#define FAST_MEMO_DEFAULT 16384

/* What building did, for tools and the benchmark. */
typedef struct fast_build_info {
    size_t rules;                /* regex rules handled */
    size_t classes;
    size_t databases;
    size_t path[FAST_NPATHS];    /* rules per path */
    size_t multiple;             /* rules counted with PCRE2 (tflags multiple) */
    size_t slow_compile;         /* routed to PCRE2: compile too slow */
    size_t aux;                  /* in a class's second database: slow compile
                                    or literal-free */
    size_t literal_free;         /* ... of which literal-free (not body) */
    size_t relaxed;              /* prefiltered by the pattern without its
                                    counted repeats (hsexpr_relaxed) */
    size_t relaxed_scan;         /* ... the same, because that scans faster and
                                    reports on no sample text (rare rules) */
    size_t always_firing;        /* routed to PCRE2: prefilter fires on text */
    size_t pcre_cheaper;         /* routed to PCRE2: cheaper than its scan over
                                    whole messages (full class) */
    size_t latin1_fold;          /* routed to PCRE2: /i with bytes >= 0x80 that
                                    could not be rewritten */
    size_t latin1_exact;         /* ... folding spelt out: exact */
    size_t latin1_rewritten;     /* ... rewritten into a prefilter */
    size_t nested_repeat;        /* (a+)+ shapes: every report confirmed
                                    with PCRE2 (its match limit) */
    size_t ascii_db;             /* PCRE path, but exact in the ASCII database
                                    on text without bytes >= 0x80 */
    size_t ascii_never;          /* PCRE path, cannot match such text */
    size_t full_prefilter;       /* PCRE path, but on other text PCRE2 runs only
                                    where a prefilter in the full-form
                                    database reports */
    size_t min_ends;             /* relaxed (?:G){n}: reported once it ends at
                                    n distinct offsets (hsexpr_min_ends) */
    size_t starts;               /* of those, confirmed by PCRE2 anchored at the
                                    starts of their matches (reversed scan) */
    size_t chains;               /* of those, candidates only where the chain of
                                    units a match needs is there (chain test) */
    size_t fed;                  /* prefilter rules with no expression of their
                                    own: reported by a rule's expression whose
                                    matches include theirs (hsrel) */
    size_t squashed;             /* body or rawbody rules found on the message's
                                    squashed text (letters and digits only)
                                    first, then counted by PCRE2 */
    size_t literal_forms;        /* tflags multiple, counted without PCRE2 on
                                    text without bytes >= 0x80 (their form
                                    there is a plain literal) */
    size_t line_runs;            /* PCRE path: ^C{n} under /m (C a class without
                                    \n, __LONGLINE), told by the line lengths
                                    and C's bytes without PCRE2 */
    size_t line_walks;           /* PCRE path: A W B pairing two lines
                                    (hsexpr_line_walk), matched against each
                                    A line with the B lines it reaches alone
                                    (walk_count) */
    size_t walk_confirms;        /* prefilter path: reports of such a rule
                                    confirmed the same way */
    size_t line_aheads;          /* a final line lookahead answered in C
                                    (rx_line_ahead) */
    size_t cost_timed;           /* expressions whose compile time was measured
                                    here, not read from the fastcost table,
                                    and 0.02 s or more: their routing may
                                    differ between builds (cold compiles) */
    size_t cache_hits, cache_misses, cache_errors;
    size_t db_bytes;             /* total serialized database size */
    double compile_seconds;      /* wall time in fast_build */
    size_t memo_slots;           /* the scan memo's slots; 0: off
                                    (TG_FAST_NOMEMO=1 when built) */
} fast_build_info_t;

/* Builds the matcher. Never fails: a pattern Vectorscan cannot take runs
 * on the PCRE path; a failing cache is ignored (counted in cache_errors). */
fast_t *fast_build(const fast_rule_t *rules, size_t n, const fast_options_t *opts);
void fast_free(fast_t *f);

/* Empties f's scan memo (fastmemo.h), which f's matching fills: a
 * benchmark pass starts with it empty, as a daemon starts. Not for message
 * threads (it waits for busy slots). No-op where the memo is off. */
void fast_memo_clear(const fast_t *f);
const fast_build_info_t *fast_get_info(const fast_t *f);

/* A class's databases, as fast_class_info and the profile index them:
 * the main one, the aux one (rules slow to compile), the ASCII form of
 * each (scanned over strings without bytes >= 0x80 instead), and the
 * reversed expressions scanned for match starts, the squashed forms
 * scanned over a message's squashed text, and in the body class the main
 * and aux expressions, restricted to strings whose only bytes >= 0x80 are
 * those of U+FFFD (EF BF BD, what the charset decoder puts for bytes it
 * cannot decode), of the rules that tell those bytes from the \x1a the
 * ASCII forms read them as (hsexpr_alike), scanned over such strings
 * after the ASCII forms (over the mapped text), instead of the full forms.
 * fast_db_name gives "main", "aux", "main ASCII", "aux ASCII", "starts",
 * "squash", "main U+FFFD", "aux U+FFFD" (static strings). */
enum { FAST_DB_MAIN, FAST_DB_AUX, FAST_DB_MAIN_ASCII, FAST_DB_AUX_ASCII, FAST_DB_STARTS,
       FAST_DB_SQUASH, FAST_DB_MAIN_FFFD, FAST_DB_AUX_FFFD, FAST_NDBS };
const char *fast_db_name(int d);

/* Per-class facts, i < fast_nclasses(f). label is "body", "header Subject",
 * ...; owned by f. */
size_t fast_nclasses(const fast_t *f);
typedef struct fast_class_info {
    const char *label;
    size_t rules;
    size_t path[FAST_NPATHS];
    size_t db_bytes;
    int from_cache;
    int ascii;      /* 1 if it has ASCII-form databases (for strings without
                       bytes >= 0x80) */
    size_t db_size[FAST_NDBS]; /* each database's size (hs_database_size),
                                  0 where the class has none */
} fast_class_info_t;
void fast_class_info(const fast_t *f, size_t i, fast_class_info_t *out);
/* Path of the rule with `slot`, or -1 if fast does not handle it. */
int fast_rule_path(const fast_t *f, size_t slot);

fast_scratch_t *fast_scratch_new(const fast_t *f);
void fast_scratch_free(fast_scratch_t *sc);
/* 1 if sc was made for f (a scratch made for another ruleset must not be
 * used: its sizes differ). */
int fast_scratch_fits(const fast_scratch_t *sc, const fast_t *f);

/* Sets values[slot] of every rule handled by f for a finished message,
 * exactly as rules.c's oracle would. rx is the caller's PCRE2 scratch. */
void fast_match(const fast_t *f, fast_scratch_t *sc, rx_scratch_t *rx,
                const msg_t *m, const rules_env_t *env, double *values);

/* Profiling (benchmark): when on, fast_match accumulates nanoseconds per
 * class and path, and per rule the PCRE2 time and candidate counts. */
void fast_scratch_profile(fast_scratch_t *sc, int on);
/* Whether matching with sc uses the ruleset's scan memo (default 1; the
 * benchmark turns it off where a message is matched twice in a row). */
void fast_scratch_memo(fast_scratch_t *sc, int on);
typedef struct fast_profile {
    const double *class_ns;        /* [fast_nclasses]: whole class */
    const double *class_scan_ns;   /* [fast_nclasses]: Vectorscan scans */
    double path_ns[FAST_NPATHS];   /* PCRE2 confirm (prefilter/exact-multiple)
                                      and PCRE2-only; EXACT = scans */
    const double *rule_ns;         /* [rules], by fast rule index */
    const unsigned long *rule_cand;  /* database reports per rule */
    const unsigned long *rule_conf;  /* ... confirmed by PCRE2 */
    unsigned long chain_rejected;  /* reports the chain test turned down
                                      (no PCRE2 run) */
    size_t nrules;
    /* [fast_nclasses * FAST_NDBS], class c's database d at c * FAST_NDBS + d:
     * time in its scans (the starts scans also count in their rules'
     * PCRE2 time), scans made, bytes scanned */
    const double *db_ns;
    const unsigned long *db_scans, *db_bytes;
    /* the scan memo (fastmemo.h), counted whether profiling or not: strings
     * whose reports were replayed (their bytes), and strings scanned and
     * stored; a replay's time counts in class_scan_ns, not in db_*;
     * memo_outcomes: PCRE2 runs (confirms, PCRE-path rules) whose outcome
     * the replay gave instead */
    unsigned long memo_hits, memo_misses, memo_hit_bytes, memo_miss_bytes;
    unsigned long memo_outcomes;
} fast_profile_t;
void fast_scratch_get_profile(const fast_scratch_t *sc, fast_profile_t *out);
/* Slot and name of fast rule i (profile index). */
size_t fast_rule_slot(const fast_t *f, size_t i);
const char *fast_rule_name(const fast_t *f, size_t i);
int fast_rule_path_at(const fast_t *f, size_t i);
/* Index of the class (< fast_nclasses) that fast rule i belongs to; a
 * search, for tools (time linear in the rules). */
size_t fast_rule_class(const fast_t *f, size_t i);

#endif
