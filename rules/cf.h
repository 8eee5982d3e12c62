/*
 * cf — reads rule files (SpamAssassin .cf syntax plus tollgate's extensions)
 * into a plain list of rule definitions. Nothing here compiles regexes or
 * matches: rules.c turns a cf_set into a runnable ruleset.
 *
 * Loading follows SpamAssassin: files of a directory in name order, `include`
 * relative to the including file, `if`/`ifplugin`/`else`/`endif` evaluated
 * against a fixed list of plugins and features (cf_plugin_present), later
 * definitions of a rule replace earlier ones, `score`/`describe`/`tflags`
 * may come before or after the rule, ReplaceTags applied at the end.
 *
 * Errors: a malformed line is an error "file:line:col: message"; the whole
 * load fails (the caller keeps its previous ruleset). Directives that only
 * SpamAssassin plugins understand, and eval: tests, are skipped and counted
 * (cf_stats) with the first few reasons kept for `tollgate-rules check`.
 */
#ifndef TG_CF_H
#define TG_CF_H

#include <stddef.h>

#include "rcvd.h"

typedef enum cf_type {
    CF_HEADER,       /* header NAME Hdr[:mod] =~ /re/ [if-unset: X] */
    CF_EXISTS,       /* header NAME exists:Hdr */
    CF_MIMEHEADER,   /* mimeheader NAME Hdr =~ /re/ */
    CF_BODY,
    CF_RAWBODY,
    CF_FULL,
    CF_URI,
    CF_META,         /* meta NAME expr */
    CF_EVAL,         /* eval: test: defined (metas see it) but never run */
    CF_CONNECT_IP,   /* connect NAME ip CIDR... */
    CF_CONNECT_HOST, /* connect NAME hostname =~ /re/ */
    CF_HELO,
    CF_ENVFROM,
    CF_ENVRCPT,
    CF_AUTH,         /* auth NAME =~ /re/ (authenticated user) */
    CF_SPF,          /* spf NAME fail softfail ... */
    CF_ATTACH_NAME,  /* attachment NAME filename =~ /re/ */
    CF_ATTACH_TYPE,  /* attachment NAME type =~ /re/ */
    CF_SIZE,         /* size NAME > 10M */
    CF_LIMIT,        /* limit NAME scan|depth|parts|headers|header_length|mime_error|any */
    CF_DIRECTION,    /* direction NAME inbound|outbound|internal ... */
    CF_LOCAL,        /* local NAME envfrom|from|replyto: address in LocalDomains */
    CF_NTYPES
} cf_type_t;

/* Regex flags as written after the closing delimiter. */
enum { CF_RE_I = 1, CF_RE_M = 2, CF_RE_S = 4, CF_RE_X = 8 };

/* tflags we act on; others are accepted and ignored. */
enum { CF_TF_NICE = 1, CF_TF_MULTIPLE = 2,
       CF_TF_NOSUBJECT = 4 /* body rules: skip the first line (the Subject) */ };

typedef enum cf_action {
    CF_ACT_NONE = 0, CF_ACT_ACCEPT, CF_ACT_TAG, CF_ACT_QUARANTINE,
    CF_ACT_TEMPFAIL, CF_ACT_DISCARD, CF_ACT_REJECT
} cf_action_t;

/* SPF results, as bits for an `spf` rule's set. */
enum {
    CF_SPF_PASS = 1, CF_SPF_FAIL = 2, CF_SPF_SOFTFAIL = 4, CF_SPF_NEUTRAL = 8,
    CF_SPF_NONE = 16, CF_SPF_TEMPERROR = 32, CF_SPF_PERMERROR = 64
};

typedef struct cf_cidr {
    int family;              /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int bits;
} cf_cidr_t;

/* One rule. All strings are owned by the cf_set. */
typedef struct cf_rule {
    char *name;
    cf_type_t type;
    int defined;             /* a definition line was seen (not only score) */
    const char *file;        /* where defined */
    int line, col;           /* col of the pattern / expression, 1-based, in
                                the line after "\#" unescaping (cf_rule_col) */
    int pcol;                /* regex rules: col of the pattern's first
                                character, same coordinates; 0 otherwise */
    int *unesc;              /* the definition line's "\#" unescapes: the
                                positions (0-based, unescaped) of the '#'s */
    size_t nunesc;
    int rt_applied;          /* ReplaceTags changed the pattern: offsets into
                                it no longer map to the file */
    char *pattern;           /* regex source (ReplaceTags applied) */
    unsigned reflags;        /* CF_RE_* */
    int negate;              /* !~ or exists negated */
    char *header;            /* header / mimeheader name, no modifiers */
    int hmode;               /* msg_hmode_t */
    char *unset;             /* [if-unset: X] value, or NULL */
    char *expr;              /* meta expression; eval: call text for CF_EVAL */
    double score;
    int has_score;
    char *describe;
    unsigned tflags;         /* CF_TF_* */
    unsigned maxhits;        /* 0 = unlimited */
    char *category;          /* NULL = "spam" */
    cf_action_t action;
    char *action_text;       /* "5.7.1 text" or quarantine reason; may be NULL */
    cf_cidr_t *cidrs;        /* connect ip */
    size_t ncidrs;
    unsigned spf_mask;       /* CF_SPF_* */
    int size_op;             /* '>', 'g' (>=), '<', 'l' (<=) */
    double size_val;
    unsigned limit_mask;     /* msg_limits_hit bits */
    unsigned dir_mask;       /* CF_DIR_* */
    unsigned local_mask;     /* CF_LOCAL_* */
} cf_rule_t;

enum { CF_DIR_INBOUND = 1, CF_DIR_OUTBOUND = 2, CF_DIR_INTERNAL = 4 };
enum { CF_LOCAL_ENVFROM = 1, CF_LOCAL_FROM = 2, CF_LOCAL_REPLYTO = 4 };

/* Why something was not loaded; kept for the first few of each kind. */
typedef struct cf_note {
    char *where;             /* file:line */
    char *what;
} cf_note_t;

typedef struct cf_stats {
    size_t files;
    size_t skipped_eval;        /* eval: rules (defined, never run) */
    size_t skipped_unsupported; /* plugin-only directives and rule kinds */
    size_t lang_lines;          /* `lang xx ...` lines for other languages */
    size_t ignored;             /* accepted, no effect (priority, reuse...) */
} cf_stats_t;

typedef struct cf_set cf_set_t;

/* Thresholds from `required_score` / `threshold`; negative = not set. */
typedef struct cf_thresholds {
    double tag, quarantine, reject;
} cf_thresholds_t;

/* Loads every path (file, directory of *.cf, or glob) into a new set.
 * 0 on success; -1 with "file:line:col: message" in err. */
int cf_load(const char *const *paths, size_t npaths, cf_set_t **out,
            char *err, size_t errlen);
/* Loads rule text given in memory (tests); `name` is used in messages. */
int cf_load_string(const char *name, const char *text, cf_set_t **out,
                   char *err, size_t errlen);
void cf_free(cf_set_t *set);
/* Moves out what trusted_networks, internal_networks, msa_networks (NULL
 * where never given; cleared lists stay, empty) and originating_ip_headers
 * set; the caller owns them (rcvd_nets_free, free each name and the
 * array). */
void cf_take_relays(cf_set_t *set, rcvd_nets_t *nets[3], char ***orig,
                    size_t *norig);

size_t cf_nrules(const cf_set_t *set);
cf_rule_t *cf_rule_at(cf_set_t *set, size_t i);
/* The file's column of column col (1-based) of r's definition line after
 * "\#" unescaping: each unescaped "#" before it moves it one to the right. */
int cf_rule_col(const cf_rule_t *r, int col);
/* Index of rule `name`, or -1. */
long cf_find(const cf_set_t *set, const char *name);
const cf_stats_t *cf_get_stats(const cf_set_t *set);
cf_thresholds_t cf_get_thresholds(const cf_set_t *set);
/* Skip reasons, first few per kind: kind 0 = eval, 1 = unsupported. */
size_t cf_notes(const cf_set_t *set, int kind, const cf_note_t **notes);
/* How many times note i of `kind` occurred (one note per distinct reason). */
size_t cf_note_count(const cf_set_t *set, int kind, size_t i);

/* "192.0.2.0/24", "2001:db8::/32" or a bare address. 0 / -1. */
int cf_parse_cidr(const char *s, cf_cidr_t *out);
/* 1 if the textual address ip is inside c (an IPv4-mapped IPv6 address
 * counts as IPv4); 0 otherwise or if ip is NULL or not an address. */
int cf_cidr_match(const cf_cidr_t *c, const char *ip);

/* Length of the SMTP reply code that starts an action's text ("550 ...",
 * "451-...", or just "550"): 3, or 0 if the text does not start with one.
 * The code's separator, if any, follows at t[3]. */
size_t cf_reply_code_len(const char *t);
/* 1 if t starts with an enhanced status code ("5.7.1 ..."). */
int cf_reply_has_ext(const char *t);

/* Plugins that count as present for `ifplugin`/`plugin()`: the ones that
 * SpamAssassin 4.0.1 loads by default on Debian (their eval tests are then
 * defined-but-skipped, their regex rules load). Exposed for the docs/tests. */
int cf_plugin_present(const char *name);

#endif
