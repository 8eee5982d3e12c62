/*
 * rules — the compiled ruleset and the classification of one message.
 *
 * A rules_t is immutable once loaded and reference counted: the loader
 * holds one reference, each connection that pins it another (rules_ref /
 * rules_unref are atomic). Matching state lives in a per-thread
 * rules_scratch_t. A verdict holds a reference to the ruleset whose names
 * it points into, released by rules_verdict_clear.
 *
 * Classification = run every enabled rule (PCRE2 per rule: the reference
 * matcher), evaluate metas in dependency order, add scores of hit rules
 * (not `__` sub-rules), then decide the action and the stats category.
 */
#ifndef TG_RULES_H
#define TG_RULES_H

#include <stddef.h>

#include "msg.h"

typedef struct rules rules_t;
typedef struct rules_scratch rules_scratch_t;

/* SPF result of the envelope sender, as the milter computed it. */
typedef enum rules_spf {
    RULES_SPF_UNKNOWN = 0, /* not checked: `spf` rules do not hit */
    RULES_SPF_PASS, RULES_SPF_FAIL, RULES_SPF_SOFTFAIL, RULES_SPF_NEUTRAL,
    RULES_SPF_NONE, RULES_SPF_TEMPERROR, RULES_SPF_PERMERROR
} rules_spf_t;

typedef enum rules_direction {
    RULES_DIR_UNKNOWN = 0, RULES_DIR_INBOUND, RULES_DIR_OUTBOUND,
    RULES_DIR_INTERNAL
} rules_direction_t;

/* What the MTA told us about the session. Any string may be NULL
 * (unknown); envelope rules then match against "". Borrowed. */
typedef struct rules_env {
    const char *client_ip;
    const char *client_name;
    const char *helo;
    const char *mail_from;       /* without <>, "" = null sender */
    const char *const *rcpts;
    size_t nrcpts;
    const char *auth;            /* SASL login name if authenticated */
    const char *mta_host;        /* the receiving MTA's name (milter {j}):
                                    the by= of the client's relay (rcvd.h) */
    rules_spf_t spf;
    rules_direction_t direction;
    const char *const *local_domains; /* LocalDomains: a domain matches
                                         itself and its subdomains */
    size_t nlocal_domains;
} rules_env_t;

/* Ordered by strength: the strongest explicit action wins. */
typedef enum rules_action {
    RULES_ACCEPT = 0, RULES_TAG, RULES_QUARANTINE, RULES_TEMPFAIL,
    RULES_DISCARD, RULES_REJECT
} rules_action_t;

/* The one primary verdict per message that stats counts. */
typedef enum rules_category {
    RULES_CAT_CLEAN = 0, RULES_CAT_TAGGED, RULES_CAT_SPAM,
    RULES_CAT_SECURITY, RULES_CAT_POLICY, RULES_CAT_TEMPFAIL
} rules_category_t;

typedef struct rules_hit {
    const char *name;        /* borrowed from the ruleset */
    const char *describe;    /* may be NULL */
    double score;            /* score contributed (score x count) */
    unsigned count;          /* hits (>1 only for tflags multiple) */
} rules_hit_t;

typedef struct rules_verdict {
    double score;
    double required;          /* the tag threshold */
    rules_action_t action;
    rules_category_t category;
    const char *decided_by;   /* rule whose explicit action won, or NULL */
    char *reply;              /* "550 5.7.1 text" for reject/tempfail,
                                 the reason for quarantine; else NULL */
    rules_hit_t *hits;        /* scored rules that hit, in rule order */
    size_t nhits;
    unsigned limits;          /* msg_limits_hit() of the message */
    unsigned long regex_limit_hits; /* matches cut by PCRE2 limits */
    rules_t *ruleset;         /* reference held by the verdict */
} rules_verdict_t;

typedef enum rules_matcher {
    RULES_MATCHER_FAST = 0,     /* Vectorscan per field class (fast.h), the default */
    RULES_MATCHER_ORACLE        /* PCRE2 per rule: the reference */
} rules_matcher_t;

typedef struct rules_options {
    unsigned long match_limit;  /* PCRE2 match limit per match, 0 = default */
    unsigned long depth_limit;  /* PCRE2 depth limit, 0 = default */
    rules_matcher_t matcher;    /* both give identical values */
    const char *cache_dir;      /* compiled-database cache (fast), NULL = none;
                                   borrowed during rules_load only */
    long scan_memo;             /* the fast matcher's scan memo (fastmemo.h):
                                   slots, 0 = the default, -1 = none */
} rules_options_t;

/* What loading found, for `tollgate-rules check` and the daemon's log. */
typedef struct rules_info {
    size_t files;
    size_t loaded;              /* runnable rules, incl. metas and __ rules */
    size_t loaded_regex;        /* ... of which regex rules */
    size_t loaded_meta;
    size_t disabled;            /* score 0: not run, as in SpamAssassin */
    size_t skipped_eval;
    size_t skipped_unsupported;
    size_t rejected;            /* regexes PCRE2 could not compile */
    size_t lang_lines;
    size_t ignored;
    size_t jit;                 /* regexes JIT-compiled */
    size_t wide;                /* regexes too large for 8-bit PCRE2, run by
                                   the 32-bit library (rx_is_wide) */
} rules_info_t;

/* Loads and compiles rule files (see cf.h for what paths may be). On error
 * returns -1 with "file:line:col: message" in err; nothing is allocated. */
int rules_load(const char *const *paths, size_t npaths,
               const rules_options_t *opts, rules_t **out,
               char *err, size_t errlen);
int rules_load_string(const char *name, const char *text,
                      const rules_options_t *opts, rules_t **out,
                      char *err, size_t errlen);

rules_t *rules_ref(rules_t *rs);
void rules_unref(rules_t *rs);

const rules_info_t *rules_get_info(const rules_t *rs);
/* Skip reasons: kind 0 eval, 1 unsupported, 2 rejected by PCRE2. Returns
 * the number of distinct reasons; fills where/what/count for index i. */
size_t rules_nnotes(const rules_t *rs, int kind);
void rules_note(const rules_t *rs, int kind, size_t i, const char **where,
                const char **what, size_t *count);

/* Every rule (incl. metas, __ and eval ones) by index, for tests/tools. */
size_t rules_count(const rules_t *rs);
const char *rules_name(const rules_t *rs, size_t i);
long rules_find(const rules_t *rs, const char *name);

/* The message views (MSG_VIEW_*) the enabled rules read, worked out once
 * when the ruleset is built: pass it to msg_set_views so a message builds
 * nothing no rule looks at. */
unsigned rules_views(const rules_t *rs);
/* Sets up m's relay pseudo-headers (msg_use_relays) as matching reads
 * them: the networks of rs's rule files (trusted_networks and friends)
 * and env's SMTP client (NULL: none). rs must outlive m's use of them. */
void rules_use_relays(const rules_t *rs, const msg_t *m, const rules_env_t *env);

rules_scratch_t *rules_scratch_new(const rules_t *rs);
void rules_scratch_free(rules_scratch_t *sc);
/* Whether sc was made for rs itself (its limits and sizes): 1, or 0 for a
 * scratch of another ruleset, even one that has since been freed and whose
 * address rs now occupies. A scratch works with any ruleset (the values
 * array and fast scratch are remade as needed) but keeps the PCRE2 limits
 * it was made with. */
int rules_scratch_fits(const rules_scratch_t *sc, const rules_t *rs);

/* The fast matcher of a ruleset (NULL with the oracle) and a scratch's
 * own fast scratch (made with the scratch when the ruleset has a fast
 * matcher, remade by a match with another ruleset; else NULL), for the
 * benchmark and tools. */
struct fast;
struct fast_scratch;
const struct fast *rules_get_fast(const rules_t *rs);
struct fast_scratch *rules_scratch_get_fast(rules_scratch_t *sc);

/* Profiling (benchmark): when on, rules_match_all adds to the returned
 * array, indexed by value slot, the nanoseconds each rule it runs itself
 * (not through the fast matcher, not metas) took, timer overhead
 * included. The array is owned by sc, rules_count() long, and valid until
 * sc is freed; NULL until profiling is first switched on. */
void rules_scratch_profile(rules_scratch_t *sc, int on);
const double *rules_scratch_rule_ns(const rules_scratch_t *sc);

/* Fills values[rules_count()] with each rule's value: 0 not hit, the hit
 * count, or a meta's value. The message must be finished. */
void rules_match_all(const rules_t *rs, rules_scratch_t *sc, const msg_t *m,
                     const rules_env_t *env, double *values);

/* Classifies a finished message. v is overwritten (clear it first if it
 * held a verdict). Never fails. */
void rules_classify(rules_t *rs, rules_scratch_t *sc, const msg_t *m,
                    const rules_env_t *env, rules_verdict_t *v);
void rules_verdict_clear(rules_verdict_t *v);

const char *rules_action_name(rules_action_t a);
/* "pass", "fail", "softfail", ... (RFC 7208 names; "none" for UNKNOWN);
 * rules_spf_parse is its inverse (case-insensitive), UNKNOWN if no name. */
const char *rules_spf_name(rules_spf_t r);
rules_spf_t rules_spf_parse(const char *name);
const char *rules_category_name(rules_category_t c);

#endif
