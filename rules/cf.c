#include "cf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "meta.h"
#include "msg.h"
#include "util.h"

#include "cf_sadirs.inc"

#define CF_MAX_INCLUDE 16
#define CF_MAX_IF 64
#define CF_NOTE_KINDS 2

/* ReplaceTags tables: tag, pre, post, inter (SpamAssassin's four maps). */
enum { RT_TAG, RT_PRE, RT_POST, RT_INTER, RT_N };

struct cf_set {
    cf_rule_t *rules;
    size_t nrules, cap;
    tg_map *byname;
    char **files;                  /* interned file names, owned */
    size_t nfiles, fcap;
    cf_stats_t stats;
    cf_note_t *notes[CF_NOTE_KINDS];
    size_t nnotes[CF_NOTE_KINDS], notecap[CF_NOTE_KINDS];
    size_t *notecount[CF_NOTE_KINDS]; /* occurrences per note */
    tg_map *notekey[CF_NOTE_KINDS];   /* kind key -> note index */
    cf_thresholds_t thr;
    tg_map *rt[RT_N];              /* name -> index into rtvals */
    char **rtvals;
    size_t nrtvals, rtcap;
    char **rtrules;                /* replace_rules names */
    size_t nrtrules, rtrcap;
    char *rt_start, *rt_end;
    rcvd_nets_t *nets[3];          /* trusted, internal, msa networks */
    char **orig;                   /* originating_ip_headers */
    size_t norig, origcap;
};

/* Where a line came from, for messages. */
typedef struct loc {
    const char *file;
    int line;
} loc_t;

typedef struct ctx {
    cf_set_t *set;
    char *err;
    size_t errlen;
    int depth;           /* include depth */
    int *unesc;          /* the current line's "\#" unescapes (cf_rule_t.unesc) */
    size_t nunesc, unesc_cap;
} ctx_t;

/* Column col (1-based) of the unescaped line in the file's coordinates. */
static int raw_col(const int *unesc, size_t n, int col)
{
    int shift = 0;
    for (size_t i = 0; i < n; i++)
        shift += unesc[i] <= col - 1;
    return col + shift;
}

int cf_rule_col(const cf_rule_t *r, int col)
{
    return raw_col(r->unesc, r->nunesc, col);
}

/* ---- errors and notes -------------------------------------------------- */

static int cf_fail(ctx_t *c, loc_t l, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int cf_fail(ctx_t *c, loc_t l, int col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tg_err(c->err, c->errlen, "%s:%d:%d: %s", l.file, l.line,
                  raw_col(c->unesc, c->nunesc, col), msg);
}

/* Records a skip of `kind` (0 eval, 1 unsupported) keyed by `key`: the first
 * location and a count per key, so reports stay short and complete. */
static void cf_note(cf_set_t *s, int kind, loc_t l, const char *key)
{
    size_t idx;
    if (!s->notekey[kind])
        s->notekey[kind] = tg_map_new();
    if (tg_map_get(s->notekey[kind], key, &idx)) {
        s->notecount[kind][idx]++;
        return;
    }
    size_t oldcap = s->notecap[kind];
    tg_grow(&s->notes[kind], &s->notecap[kind], s->nnotes[kind] + 1,
            sizeof(cf_note_t));
    if (oldcap != s->notecap[kind])
        s->notecount[kind] = tg_realloc(s->notecount[kind],
                                        s->notecap[kind] * sizeof(size_t));
    idx = s->nnotes[kind]++;
    tg_buf b;
    tg_buf_init(&b);
    tg_buf_printf(&b, "%s:%d", l.file, l.line);
    s->notes[kind][idx].where = tg_buf_steal(&b);
    s->notes[kind][idx].what = tg_strdup(key);
    s->notecount[kind][idx] = 1;
    tg_map_put(s->notekey[kind], key, idx);
}

/* ---- small string helpers ---------------------------------------------- */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Copies the next whitespace-delimited word; returns pointer after it. */
static const char *next_word(const char *p, char *out, size_t outlen)
{
    p = skip_ws(p);
    size_t n = 0;
    while (*p && *p != ' ' && *p != '\t') {
        if (n + 1 < outlen)
            out[n++] = *p;
        p++;
    }
    out[n] = '\0';
    return p;
}

static int valid_rule_name(const char *n)
{
    if (!(isalpha((unsigned char)*n) || *n == '_'))
        return 0;
    for (n++; *n; n++)
        if (!(isalnum((unsigned char)*n) || *n == '_'))
            return 0;
    return 1;
}

static const char *intern_file(cf_set_t *s, const char *path)
{
    for (size_t i = 0; i < s->nfiles; i++)
        if (strcmp(s->files[i], path) == 0)
            return s->files[i];
    tg_grow(&s->files, &s->fcap, s->nfiles + 1, sizeof *s->files);
    s->files[s->nfiles] = tg_strdup(path);
    return s->files[s->nfiles++];
}

/* ---- rules table ------------------------------------------------------- */

static cf_rule_t *get_rule(cf_set_t *s, const char *name)
{
    size_t idx;
    if (tg_map_get(s->byname, name, &idx))
        return &s->rules[idx];
    tg_grow(&s->rules, &s->cap, s->nrules + 1, sizeof *s->rules);
    cf_rule_t *r = &s->rules[s->nrules];
    memset(r, 0, sizeof *r);
    r->name = tg_strdup(name);
    tg_map_put(s->byname, name, s->nrules++);
    return r;
}

static void clear_definition(cf_rule_t *r)
{
    free(r->pattern);
    free(r->header);
    free(r->unset);
    free(r->expr);
    free(r->cidrs);
    free(r->unesc);
    r->unesc = NULL;
    r->nunesc = 0;
    r->pcol = 0;
    r->rt_applied = 0;
    r->pattern = r->header = r->unset = r->expr = NULL;
    r->cidrs = NULL;
    r->ncidrs = 0;
    r->reflags = 0;
    r->negate = 0;
    r->hmode = 0;
    r->spf_mask = r->limit_mask = r->dir_mask = r->local_mask = 0;
    r->size_op = 0;
    r->size_val = 0;
}

/* Starts (re)defining rule `name`: a later definition replaces an earlier
 * one, as in SpamAssassin; score/describe/tflags/category/action stay. */
static cf_rule_t *define_rule(ctx_t *c, loc_t l, const char *name,
                              cf_type_t type)
{
    cf_rule_t *r = get_rule(c->set, name);
    clear_definition(r);
    r->type = type;
    r->defined = 1;
    r->file = l.file;
    r->line = l.line;
    if (c->nunesc) {
        r->unesc = tg_malloc(c->nunesc * sizeof *r->unesc);
        memcpy(r->unesc, c->unesc, c->nunesc * sizeof *r->unesc);
        r->nunesc = c->nunesc;
    }
    return r;
}

/* ---- regex literals ---------------------------------------------------- */

static char closing_delim(char d)
{
    switch (d) {
    case '{': return '}';
    case '(': return ')';
    case '[': return ']';
    case '<': return '>';
    default: return d;
    }
}

/* Parses a Perl regex literal /re/flags or m{re}flags that spans all of
 * [s, s+len). On success sets *pat (owned by caller) and *flags. */
static int parse_regex(ctx_t *c, loc_t l, int col, const char *s, size_t len,
                       char **pat, unsigned *flags, int *pcol)
{
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0)
        return cf_fail(c, l, col, "expected a regular expression like /pattern/flags");
    size_t i = 0;
    if (s[0] == 'm' && len > 1 && !isalnum((unsigned char)s[1]) &&
        !isspace((unsigned char)s[1]) && s[1] != '_')
        i = 1;
    else if (s[0] != '/')
        return cf_fail(c, l, col, "expected a regular expression starting with '/' or 'm', found '%c'", s[0]);
    char open = s[i], close = closing_delim(open);
    size_t end = len;
    while (end > i + 1 && isalpha((unsigned char)s[end - 1]))
        end--;
    if (end <= i + 1 || s[end - 1] != close)
        return cf_fail(c, l, col, "regular expression is not terminated by '%c'", close);
    unsigned f = 0;
    for (size_t k = end; k < len; k++) {
        switch (s[k]) {
        case 'i': f |= CF_RE_I; break;
        case 'm': f |= CF_RE_M; break;
        case 's': f |= CF_RE_S; break;
        case 'x': f |= CF_RE_X; break;
        case 'o': case 'g': break; /* no effect on a match test */
        default:
            return cf_fail(c, l, col + (int)k, "unknown regular expression flag '%c' (expected i, m, s or x)", s[k]);
        }
    }
    *pat = tg_strndup(s + i + 1, end - 1 - (i + 1));
    *flags = f;
    *pcol = col + (int)i + 1;
    return 0;
}

/* Parses "(=~|!~) /re/flags" starting at p; the regex runs to the end of
 * `line_end`. Sets negate, pattern, flags and col of the pattern. */
static int parse_match(ctx_t *c, loc_t l, const char *line, const char *p,
                       const char *line_end, cf_rule_t *r)
{
    p = skip_ws(p);
    int col = (int)(p - line) + 1;
    if ((p[0] == '=' || p[0] == '!') && p[1] == '~') {
        r->negate = p[0] == '!';
        p = skip_ws(p + 2);
    } else {
        return cf_fail(c, l, col, "expected '=~' or '!~' followed by a regular expression");
    }
    r->col = (int)(p - line) + 1;
    return parse_regex(c, l, r->col, p, (size_t)(line_end - p), &r->pattern,
                       &r->reflags, &r->pcol);
}

/* ---- rule definitions -------------------------------------------------- */

static cf_type_t pattern_type(const char *key)
{
    if (!strcmp(key, "body")) return CF_BODY;
    if (!strcmp(key, "rawbody")) return CF_RAWBODY;
    if (!strcmp(key, "full")) return CF_FULL;
    return CF_URI;
}

/* eval: tests are kept as defined-but-never-run rules, so metas see them
 * as false exactly like SpamAssassin sees a rule that did not hit. */
static int define_eval(ctx_t *c, loc_t l, const char *name, const char *p)
{
    cf_rule_t *r = define_rule(c, l, name, CF_EVAL);
    r->expr = tg_strdup(p);
    char key[128];
    size_t n = strcspn(p + 5, "( \t");
    snprintf(key, sizeof key, "eval:%.*s", (int)(n > 100 ? 100 : n), p + 5);
    cf_note(c->set, 0, l, key);
    c->set->stats.skipped_eval++;
    return 0;
}

/* A definition tollgate cannot run (an unsupported form): like eval:, it
 * replaces any earlier definition of the rule -- which must not keep running
 * -- with one that never hits, noted and counted. */
static int define_unsupported(ctx_t *c, loc_t l, const char *name, const char *what)
{
    cf_rule_t *r = define_rule(c, l, name, CF_EVAL);
    r->expr = tg_strdup(what);
    cf_note(c->set, 1, l, what);
    c->set->stats.skipped_unsupported++;
    return 0;
}

static int def_pattern_rule(ctx_t *c, loc_t l, const char *line,
                            const char *key, const char *v)
{
    char name[256];
    const char *p = next_word(v, name, sizeof name);
    if (!valid_rule_name(name))
        return cf_fail(c, l, (int)(v - line) + 1, "invalid rule name '%s'", name);
    p = skip_ws(p);
    if (strncmp(p, "eval:", 5) == 0)
        return define_eval(c, l, name, p);
    cf_rule_t *r = define_rule(c, l, name, pattern_type(key));
    r->col = (int)(p - line) + 1;
    return parse_regex(c, l, r->col, p, strlen(p), &r->pattern, &r->reflags, &r->pcol);
}

/* header NAME Hdr[:raw|:addr|:name] =~ /re/ [if-unset: X]
 * header NAME exists:Hdr | eval:fn(...); mimeheader NAME Hdr =~ /re/ */
static int def_header_rule(ctx_t *c, loc_t l, const char *line, int mime,
                           const char *v)
{
    char name[256], hdr[256];
    const char *p = next_word(v, name, sizeof name);
    if (!valid_rule_name(name))
        return cf_fail(c, l, (int)(v - line) + 1, "invalid rule name '%s'", name);
    p = skip_ws(p);
    int hcol = (int)(p - line) + 1;
    if (!mime && strncmp(p, "eval:", 5) == 0)
        return define_eval(c, l, name, p);
    if (!mime && strncmp(p, "exists:", 7) == 0) {
        next_word(p + 7, hdr, sizeof hdr);
        if (!hdr[0])
            return cf_fail(c, l, hcol + 7, "expected a header name after 'exists:'");
        cf_rule_t *r = define_rule(c, l, name, CF_EXISTS);
        r->header = tg_strdup(hdr);
        r->col = hcol;
        return 0;
    }
    /* header name runs to whitespace or the operator */
    size_t n = 0;
    while (p[n] && p[n] != ' ' && p[n] != '\t' &&
           !((p[n] == '=' || p[n] == '!') && p[n + 1] == '~'))
        n++;
    if (n == 0 || n >= sizeof hdr)
        return cf_fail(c, l, hcol, "expected a header name");
    memcpy(hdr, p, n);
    hdr[n] = '\0';
    int hmode = MSG_H_DECODED;
    char *mod = strchr(hdr, ':');
    if (mod) {
        *mod++ = '\0';
        if (!strcmp(mod, "raw"))
            hmode = MSG_H_RAW;
        else if (!strcmp(mod, "addr"))
            hmode = MSG_H_ADDR;
        else if (!strcmp(mod, "name"))
            hmode = MSG_H_NAME;
        else {
            /* :first, :last, :host, :domain, :ip ... are SpamAssassin 4
             * modifiers tollgate does not implement: skip, counted. */
            char k[300];
            snprintf(k, sizeof k, "header modifier ':%s'", mod);
            return define_unsupported(c, l, name, k);
        }
    }
    if (!hdr[0])
        return cf_fail(c, l, hcol, "expected a header name");
    /* trailing [if-unset: X] */
    const char *end = p + strlen(p);
    char *unset = NULL;
    const char *lb = NULL;
    for (const char *q = p + n; (q = strstr(q, "[if-unset:")) != NULL; q++)
        lb = q;
    if (lb) {
        const char *rb = end;
        while (rb > lb && (rb[-1] == ' ' || rb[-1] == '\t'))
            rb--;
        if (rb > lb && rb[-1] == ']') {
            const char *vs = skip_ws(lb + 10);
            const char *ve = rb - 1;
            while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            unset = tg_strndup(vs, (size_t)(ve - vs));
            end = lb;
        }
    }
    cf_rule_t *r = define_rule(c, l, name, mime ? CF_MIMEHEADER : CF_HEADER);
    r->header = tg_strdup(hdr);
    r->hmode = hmode;
    r->unset = unset;
    return parse_match(c, l, line, p + n, end, r);
}

static int def_meta(ctx_t *c, loc_t l, const char *line, const char *v)
{
    char name[256];
    const char *p = next_word(v, name, sizeof name);
    if (!valid_rule_name(name))
        return cf_fail(c, l, (int)(v - line) + 1, "invalid rule name '%s'", name);
    p = skip_ws(p);
    meta_expr_t *e;
    size_t pos = 0;
    char merr[200];
    if (strstr(p, "rules_matching("))
        return define_unsupported(c, l, name, "meta rules_matching()");
    if (meta_parse(p, &e, &pos, merr, sizeof merr) < 0)
        return cf_fail(c, l, (int)(p - line) + 1 + (int)pos, "meta %s: %s", name, merr);
    meta_free(e);
    cf_rule_t *r = define_rule(c, l, name, CF_META);
    r->expr = tg_strdup(p);
    r->col = (int)(p - line) + 1;
    return 0;
}

/* ---- tollgate extensions ----------------------------------------------- */

typedef struct wordbit {
    const char *w;
    unsigned bit;
} wordbit_t;

/* Parses one or more words of `table` into a bit mask; on an unknown word
 * fails naming it and listing `expected`. */
static int parse_words(ctx_t *c, loc_t l, const char *line, const char *p,
                       const wordbit_t *table, size_t n, const char *what,
                       const char *expected, unsigned *mask)
{
    char word[256];
    int col = (int)(p - line) + 1;
    *mask = 0;
    for (;;) {
        p = skip_ws(p);
        if (!*p)
            break;
        int wcol = (int)(p - line) + 1;
        p = next_word(p, word, sizeof word);
        size_t k;
        for (k = 0; k < n; k++)
            if (!tg_strcasecmp(word, table[k].w))
                break;
        if (k == n)
            return cf_fail(c, l, wcol, "unknown %s '%s' (expected %s)", what, word, expected);
        *mask |= table[k].bit;
    }
    if (!*mask)
        return cf_fail(c, l, col, "expected one or more of %s", expected);
    return 0;
}

int cf_parse_cidr(const char *s, cf_cidr_t *out)
{
    char buf[128];
    if (strlen(s) >= sizeof buf)
        return -1;
    memcpy(buf, s, strlen(s) + 1);
    char *slash = strchr(buf, '/');
    int bits = -1;
    if (slash) {
        *slash++ = '\0';
        char *end;
        long b = strtol(slash, &end, 10);
        if (*end || end == slash || b < 0)
            return -1;
        bits = (int)b;
    }
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        if (bits < 0)
            bits = 32;
        if (bits > 32)
            return -1;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        if (bits < 0)
            bits = 128;
        if (bits > 128)
            return -1;
    } else {
        return -1;
    }
    out->bits = bits;
    return 0;
}

int cf_cidr_match(const cf_cidr_t *c, const char *ip)
{
    unsigned char a[16];
    int fam;
    if (!ip)
        return 0;
    if (inet_pton(AF_INET, ip, a) == 1) {
        fam = AF_INET;
    } else if (inet_pton(AF_INET6, ip, a) == 1) {
        static const unsigned char mapped[12] = {0,0,0,0,0,0,0,0,0,0,0xff,0xff};
        fam = AF_INET6;
        if (!memcmp(a, mapped, 12)) { /* ::ffff:a.b.c.d is IPv4 */
            memmove(a, a + 12, 4);
            fam = AF_INET;
        }
    } else {
        return 0;
    }
    if (fam != c->family)
        return 0;
    int bits = c->bits;
    for (int i = 0; bits > 0; i++, bits -= 8) {
        unsigned char mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
        if ((a[i] & mask) != (c->addr[i] & mask))
            return 0;
    }
    return 1;
}

static int def_extension(ctx_t *c, loc_t l, const char *line, const char *key,
                         const char *v)
{
    char name[256], word[256];
    const char *p = next_word(v, name, sizeof name);
    if (!valid_rule_name(name))
        return cf_fail(c, l, (int)(v - line) + 1, "invalid rule name '%s'", name);
    p = skip_ws(p);
    int col = (int)(p - line) + 1;
    const char *end = p + strlen(p);

    if (!strcmp(key, "helo") || !strcmp(key, "envfrom") ||
        !strcmp(key, "envrcpt") || !strcmp(key, "auth")) {
        cf_type_t t = key[0] == 'h' ? CF_HELO : key[0] == 'a' ? CF_AUTH
                    : !strcmp(key, "envfrom") ? CF_ENVFROM : CF_ENVRCPT;
        return parse_match(c, l, line, p, end, define_rule(c, l, name, t));
    }
    if (!strcmp(key, "connect") || !strcmp(key, "attachment")) {
        const char *q = next_word(p, word, sizeof word);
        int conn = key[0] == 'c';
        if (conn && !strcmp(word, "ip")) {
            cf_rule_t *r = define_rule(c, l, name, CF_CONNECT_IP);
            r->col = col;
            for (;;) {
                q = skip_ws(q);
                if (!*q)
                    break;
                int wcol = (int)(q - line) + 1;
                q = next_word(q, word, sizeof word);
                cf_cidr_t cidr;
                if (cf_parse_cidr(word, &cidr) < 0)
                    return cf_fail(c, l, wcol, "invalid IP address or CIDR '%s'", word);
                r->cidrs = tg_realloc(r->cidrs, (r->ncidrs + 1) * sizeof cidr);
                r->cidrs[r->ncidrs++] = cidr;
            }
            if (!r->ncidrs)
                return cf_fail(c, l, (int)(q - line) + 1, "expected at least one IP address or CIDR");
            return 0;
        }
        cf_type_t t;
        if (conn && !strcmp(word, "hostname"))
            t = CF_CONNECT_HOST;
        else if (!conn && !strcmp(word, "filename"))
            t = CF_ATTACH_NAME;
        else if (!conn && !strcmp(word, "type"))
            t = CF_ATTACH_TYPE;
        else
            return cf_fail(c, l, col, conn ? "expected 'ip' or 'hostname' after the rule name"
                                           : "expected 'filename' or 'type' after the rule name");
        return parse_match(c, l, line, q, end, define_rule(c, l, name, t));
    }
    if (!strcmp(key, "spf") || !strcmp(key, "direction") || !strcmp(key, "local")) {
        static const wordbit_t spf[] = {
            {"pass", CF_SPF_PASS}, {"fail", CF_SPF_FAIL},
            {"softfail", CF_SPF_SOFTFAIL}, {"neutral", CF_SPF_NEUTRAL},
            {"none", CF_SPF_NONE}, {"temperror", CF_SPF_TEMPERROR},
            {"permerror", CF_SPF_PERMERROR}};
        static const wordbit_t dir[] = {
            {"inbound", CF_DIR_INBOUND}, {"outbound", CF_DIR_OUTBOUND},
            {"internal", CF_DIR_INTERNAL}};
        static const wordbit_t loc[] = {
            {"envfrom", CF_LOCAL_ENVFROM}, {"from", CF_LOCAL_FROM},
            {"replyto", CF_LOCAL_REPLYTO}};
        unsigned mask;
        int rc;
        cf_type_t t;
        if (key[0] == 's') {
            rc = parse_words(c, l, line, p, spf, 7, "SPF result",
                             "pass, fail, softfail, neutral, none, temperror or permerror", &mask);
            t = CF_SPF;
        } else if (key[0] == 'd') {
            rc = parse_words(c, l, line, p, dir, 3, "direction",
                             "inbound, outbound or internal", &mask);
            t = CF_DIRECTION;
        } else {
            rc = parse_words(c, l, line, p, loc, 3, "address",
                             "envfrom, from or replyto", &mask);
            t = CF_LOCAL;
        }
        if (rc < 0)
            return rc;
        cf_rule_t *r = define_rule(c, l, name, t);
        r->spf_mask = t == CF_SPF ? mask : 0;
        r->dir_mask = t == CF_DIRECTION ? mask : 0;
        r->local_mask = t == CF_LOCAL ? mask : 0;
        r->col = col;
        return 0;
    }
    if (!strcmp(key, "size")) {
        int op;
        if (p[0] == '>' && p[1] == '=') op = 'g', p += 2;
        else if (p[0] == '<' && p[1] == '=') op = 'l', p += 2;
        else if (p[0] == '>' || p[0] == '<') op = p[0], p += 1;
        else
            return cf_fail(c, l, col, "expected '>', '>=', '<' or '<=' followed by a size like 10M");
        p = skip_ws(p);
        int vcol = (int)(p - line) + 1;
        const char *q = next_word(p, word, sizeof word);
        double val;
        if (tg_parse_size(word, &val) < 0)
            return cf_fail(c, l, vcol, "invalid size '%s' (expected a number with optional K, M or G)", word);
        if (*skip_ws(q))
            return cf_fail(c, l, (int)(skip_ws(q) - line) + 1, "unexpected text after the size");
        cf_rule_t *r = define_rule(c, l, name, CF_SIZE);
        r->size_op = op;
        r->size_val = val;
        r->col = col;
        return 0;
    }
    /* limit */
    static const wordbit_t lims[] = {
        {"scan", MSG_LIMIT_SCAN}, {"depth", MSG_LIMIT_DEPTH},
        {"parts", MSG_LIMIT_PARTS}, {"headers", MSG_LIMIT_HEADERS},
        {"header_length", MSG_LIMIT_HEADER_LEN}, {"mime_error", MSG_MIME_ERROR},
        {"uris", MSG_LIMIT_URIS}, {"any", ~0u},
    };
    unsigned mask;
    if (parse_words(c, l, line, p, lims, sizeof lims / sizeof lims[0], "limit",
                    "scan, depth, parts, headers, header_length, mime_error, uris or any",
                    &mask) < 0)
        return -1;
    cf_rule_t *r = define_rule(c, l, name, CF_LIMIT);
    r->limit_mask = mask;
    r->col = col;
    return 0;
}

/* ---- attributes: score, describe, tflags, category, action ------------- */

static int parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno)
        return -1;
    *out = v;
    return 0;
}

size_t cf_reply_code_len(const char *t)
{
    return t[0] >= '2' && t[0] <= '5' && isdigit((unsigned char)t[1]) &&
           isdigit((unsigned char)t[2]) && (t[3] == ' ' || t[3] == '-' || !t[3]) ? 3 : 0;
}

int cf_reply_has_ext(const char *t)
{
    return t[0] >= '2' && t[0] <= '5' && t[1] == '.';
}

static int attr_score(ctx_t *c, loc_t l, const char *line, const char *v)
{
    char name[256], w[64];
    const char *p = next_word(v, name, sizeof name);
    if (!valid_rule_name(name))
        return cf_fail(c, l, (int)(v - line) + 1, "invalid rule name '%s'", name);
    p = skip_ws(p);
    int col = (int)(p - line) + 1;
    next_word(p, w, sizeof w);
    if (!w[0])
        return cf_fail(c, l, col, "expected a score after the rule name");
    int rel = 0;
    char *num = w;
    size_t wl = strlen(w);
    if (w[0] == '(' && wl > 2 && w[wl - 1] == ')') {
        rel = 1;
        w[wl - 1] = '\0';
        num = w + 1;
    }
    double val;
    if (parse_number(num, &val) < 0)
        return cf_fail(c, l, col, "invalid score '%s' (expected a number)", w);
    cf_rule_t *r = get_rule(c->set, name);
    /* SpamAssassin uses score set 0 (no Bayes, no network tests): the
     * first value. A parenthesised value is relative to the current one. */
    r->score = rel ? (r->has_score ? r->score : 0) + val : val;
    r->has_score = 1;
    return 0;
}

static int attr_simple(ctx_t *c, loc_t l, const char *line, const char *key,
                       const char *v)
{
    char name[256], w[256];
    const char *p = next_word(v, name, sizeof name);
    if (!valid_rule_name(name))
        return cf_fail(c, l, (int)(v - line) + 1, "invalid rule name '%s'", name);
    p = skip_ws(p);
    int col = (int)(p - line) + 1;
    cf_rule_t *r = get_rule(c->set, name);
    if (!strcmp(key, "describe")) {
        free(r->describe);
        r->describe = tg_strdup(p);
        return 0;
    }
    if (!strcmp(key, "tflags")) {
        r->tflags = 0;
        r->maxhits = 0;
        while (*(p = skip_ws(p))) {
            p = next_word(p, w, sizeof w);
            if (!strcmp(w, "nice"))
                r->tflags |= CF_TF_NICE;
            else if (!strcmp(w, "multiple"))
                r->tflags |= CF_TF_MULTIPLE;
            else if (!strncmp(w, "maxhits=", 8))
                r->maxhits = (unsigned)strtoul(w + 8, NULL, 10);
            else if (!strcmp(w, "nosubject"))
                r->tflags |= CF_TF_NOSUBJECT;
            /* net, learn, userconf, publish, ... change nothing here */
        }
        return 0;
    }
    if (!strcmp(key, "category")) {
        const char *q = next_word(p, w, sizeof w);
        if (strcmp(w, "spam") && strcmp(w, "security") && strcmp(w, "policy"))
            return cf_fail(c, l, col, "unknown category '%s' (expected spam, security or policy)", w);
        if (*skip_ws(q))
            return cf_fail(c, l, (int)(skip_ws(q) - line) + 1, "unexpected text after the category");
        free(r->category);
        r->category = tg_strdup(w);
        return 0;
    }
    /* action NAME reject|tempfail|discard|quarantine|tag|accept ["text"] */
    static const struct { const char *w; cf_action_t a; } acts[] = {
        {"accept", CF_ACT_ACCEPT}, {"tag", CF_ACT_TAG},
        {"quarantine", CF_ACT_QUARANTINE}, {"tempfail", CF_ACT_TEMPFAIL},
        {"discard", CF_ACT_DISCARD}, {"reject", CF_ACT_REJECT},
    };
    const char *q = next_word(p, w, sizeof w);
    size_t k;
    for (k = 0; k < sizeof acts / sizeof acts[0]; k++)
        if (!strcmp(w, acts[k].w))
            break;
    if (k == sizeof acts / sizeof acts[0])
        return cf_fail(c, l, col, "unknown action '%s' (expected reject, tempfail, discard, quarantine, tag or accept)", w);
    q = skip_ws(q);
    char *text = NULL;
    int tcol = (int)(q - line) + 1;
    if (*q == '"') {
        const char *e = strrchr(q + 1, '"');
        if (!e || e[1] != '\0')
            return cf_fail(c, l, tcol, "unterminated quoted text (expected \"...\" at the end of the line)");
        text = tg_strndup(q + 1, (size_t)(e - q - 1));
    } else if (*q) {
        return cf_fail(c, l, tcol, "expected the reply text in double quotes");
    }
    if (text && (acts[k].a == CF_ACT_REJECT || acts[k].a == CF_ACT_TEMPFAIL)) {
        /* "550 5.7.1 text": the reply and enhanced codes must fit */
        char want = acts[k].a == CF_ACT_REJECT ? '5' : '4';
        const char *t = text;
        int bad = 0;
        if (cf_reply_code_len(t)) {
            bad = t[0] != want;
            t += t[3] ? 4 : 3;
        }
        if (!bad && cf_reply_has_ext(t))
            bad = t[0] != want ? 2 : 0;
        if (bad) {
            free(text);
            return cf_fail(c, l, tcol + 1, "%s %s code must start with %c", w,
                           bad == 2 ? "enhanced status" : "reply", want);
        }
    }
    free(r->action_text);
    r->action = acts[k].a;
    r->action_text = text;
    return 0;
}

/* ---- conditionals ------------------------------------------------------ */

static const char *const cf_plugins[] = {
    /* SpamAssassin 4.0.1's default plugin set on Debian (v*.pre files). */
    "AskDNS", "AutoLearnThreshold", "Bayes", "BodyEval", "Check", "DKIM",
    "DMARC", "DNSEval", "FreeMail", "HTMLEval", "HTTPSMismatch", "HashBL",
    "HeaderEval", "ImageInfo", "MIMEEval", "MIMEHeader", "Pyzor", "Razor2",
    "RelayEval", "ReplaceTags", "SPF", "SpamCop", "URIDNSBL", "URIDetail",
    "URIEval", "VBounce", "WLBLEval", "WelcomeListSubject",
};

int cf_plugin_present(const char *name)
{
    const char *pfx = "Mail::SpamAssassin::Plugin::";
    if (strncmp(name, pfx, strlen(pfx)) != 0)
        return 0;
    name += strlen(pfx);
    for (size_t i = 0; i < sizeof cf_plugins / sizeof cf_plugins[0]; i++)
        if (!strcmp(name, cf_plugins[i]))
            return 1;
    return 0;
}

/* Methods `can()`/`has()` find in SpamAssassin 4.0.1 (feature_*, has_*). */
static int cf_can(const char *name)
{
    const char *m = strrchr(name, ':');
    m = m ? m + 1 : name;
    if (!strncmp(m, "feature_", 8) || !strncmp(m, "perl_min_version_", 17))
        return strcmp(m, "feature_geodb") != 0; /* no GeoIP database here */
    /* features of present plugins tollgate does not implement: the rules
     * guarded by them must not load and run without them */
    static const char *const missing[] = {
        "MIMEHeader::has_tflags_range", "MIMEHeader::has_tflags_concat",
    };
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) {
        size_t ml = strlen(missing[i]), nl = strlen(name);
        if (nl >= ml && !strcmp(name + nl - ml, missing[i]))
            return 0;
    }
    if (!strncmp(m, "has_", 4)) {
        /* Only the methods of plugins counted as present. */
        char plug[256];
        size_t n = (size_t)(m - name);
        if (n < 2 || n - 2 >= sizeof plug)
            return 0;
        memcpy(plug, name, n - 2);
        plug[n - 2] = '\0';
        return cf_plugin_present(plug);
    }
    return 0;
}

typedef struct condp {
    const char *s;
    size_t pos;
    int bad;
    int depth;           /* '!' and '(' nesting: bounded, it recurses */
} condp_t;

static double cond_or(condp_t *p);

static void cond_ws(condp_t *p)
{
    while (isspace((unsigned char)p->s[p->pos]))
        p->pos++;
}

static double cond_primary(condp_t *p)
{
    cond_ws(p);
    const char *s = p->s + p->pos;
    if ((*s == '!' || *s == '(') && p->depth >= 200) {
        p->bad = 1;
        return 0;
    }
    if (*s == '!') {
        p->pos++;
        p->depth++;
        double v = cond_primary(p) == 0;
        p->depth--;
        return v;
    }
    if (*s == '(') {
        p->pos++;
        p->depth++;
        double v = cond_or(p);
        p->depth--;
        cond_ws(p);
        if (p->s[p->pos] != ')')
            p->bad = 1;
        else
            p->pos++;
        return v;
    }
    if (isdigit((unsigned char)*s)) {
        char *end;
        double v = strtod(s, &end);
        p->pos += (size_t)(end - s);
        return v;
    }
    size_t n = 0;
    while (isalnum((unsigned char)s[n]) || s[n] == '_')
        n++;
    if (n == 7 && !strncmp(s, "version", 7)) {
        p->pos += n;
        return 4.000001; /* SpamAssassin 4.0.1, whose rules we load */
    }
    if (n == 12 && !strncmp(s, "perl_version", 12)) {
        p->pos += n;
        return 5.036000;
    }
    if ((n == 6 && !strncmp(s, "plugin", 6)) || (n == 3 && !strncmp(s, "can", 3)) ||
        (n == 3 && !strncmp(s, "has", 3))) {
        const char *a = s + n;
        while (isspace((unsigned char)*a))
            a++;
        const char *e = *a == '(' ? strchr(a, ')') : NULL;
        if (!e) {
            p->bad = 1;
            return 0;
        }
        char arg[256];
        const char *as = a + 1;
        while (isspace((unsigned char)*as))
            as++;
        size_t al = (size_t)(e - as);
        while (al && isspace((unsigned char)as[al - 1]))
            al--;
        snprintf(arg, sizeof arg, "%.*s", (int)al, as);
        p->pos = (size_t)(e + 1 - p->s);
        return s[0] == 'p' ? cf_plugin_present(arg) : cf_can(arg);
    }
    p->bad = 1;
    return 0;
}

static double cond_cmp(condp_t *p)
{
    double a = cond_primary(p);
    cond_ws(p);
    const char *s = p->s + p->pos;
    static const char *const ops[] = {">=", "<=", "==", "!=", ">", "<"};
    for (int i = 0; i < 6; i++) {
        size_t n = strlen(ops[i]);
        if (strncmp(s, ops[i], n) == 0) {
            p->pos += n;
            double b = cond_primary(p);
            switch (i) {
            case 0: return a >= b;
            case 1: return a <= b;
            case 2: return a == b;
            case 3: return a != b;
            case 4: return a > b;
            default: return a < b;
            }
        }
    }
    return a;
}

static double cond_and(condp_t *p)
{
    double a = cond_cmp(p);
    for (;;) {
        cond_ws(p);
        if (strncmp(p->s + p->pos, "&&", 2) != 0)
            return a;
        p->pos += 2;
        double b = cond_cmp(p);
        a = a != 0 ? b : a;
    }
}

static double cond_or(condp_t *p)
{
    double a = cond_and(p);
    for (;;) {
        cond_ws(p);
        if (strncmp(p->s + p->pos, "||", 2) != 0)
            return a;
        p->pos += 2;
        double b = cond_and(p);
        a = a != 0 ? a : b;
    }
}

/* ---- directive dispatch ------------------------------------------------ */

static int sa_directive(const char *key)
{
    size_t lo = 0, hi = sizeof cf_sa_directives / sizeof cf_sa_directives[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int d = strcmp(key, cf_sa_directives[mid]);
        if (d == 0)
            return 1;
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return !strncmp(key, "bayes_stopword_", 15);
}

static int load_path(ctx_t *c, const char *path, loc_t from);

static void rt_put(cf_set_t *s, int kind, const char *name, const char *val)
{
    if (!s->rt[kind])
        s->rt[kind] = tg_map_new();
    tg_grow(&s->rtvals, &s->rtcap, s->nrtvals + 1, sizeof *s->rtvals);
    s->rtvals[s->nrtvals] = tg_strdup(val);
    tg_map_put(s->rt[kind], name, s->nrtvals++);
}

/* Appends a copy of each space-separated word of v to (*arr)[*n...]. */
static void add_words(const char *v, char ***arr, size_t *n, size_t *cap)
{
    char name[256];
    const char *p = v;
    while (*(p = skip_ws(p))) {
        p = next_word(p, name, sizeof name);
        tg_grow(arr, cap, *n + 1, sizeof **arr);
        (*arr)[(*n)++] = tg_strdup(name);
    }
}

static int directive(ctx_t *c, loc_t l, const char *line, const char *key,
                     int kcol, const char *v, const char *dir)
{
    cf_set_t *s = c->set;
    if (!strcmp(key, "header") || !strcmp(key, "mimeheader"))
        return def_header_rule(c, l, line, key[0] == 'm', v);
    if (!strcmp(key, "body") || !strcmp(key, "rawbody") ||
        !strcmp(key, "full") || !strcmp(key, "uri"))
        return def_pattern_rule(c, l, line, key, v);
    if (!strcmp(key, "meta"))
        return def_meta(c, l, line, v);
    if (!strcmp(key, "score"))
        return attr_score(c, l, line, v);
    if (!strcmp(key, "describe") || !strcmp(key, "tflags") ||
        !strcmp(key, "category") || !strcmp(key, "action"))
        return attr_simple(c, l, line, key, v);
    if (!strcmp(key, "connect") || !strcmp(key, "helo") ||
        !strcmp(key, "envfrom") || !strcmp(key, "envrcpt") ||
        !strcmp(key, "auth") || !strcmp(key, "spf") ||
        !strcmp(key, "attachment") || !strcmp(key, "size") ||
        !strcmp(key, "limit") || !strcmp(key, "direction") ||
        !strcmp(key, "local"))
        return def_extension(c, l, line, key, v);
    int vcol = (int)(v - line) + 1;
    if (!strcmp(key, "required_score") || !strcmp(key, "required_hits")) {
        double val;
        if (parse_number(v, &val) < 0)
            return cf_fail(c, l, vcol, "expected a number after '%s'", key);
        s->thr.tag = val;
        return 0;
    }
    if (!strcmp(key, "threshold")) {
        char w[64], n[64];
        const char *p = next_word(v, w, sizeof w);
        const char *q = skip_ws(p);
        next_word(q, n, sizeof n);
        double val;
        double *dst = !strcmp(w, "tag") ? &s->thr.tag
                    : !strcmp(w, "quarantine") ? &s->thr.quarantine
                    : !strcmp(w, "reject") ? &s->thr.reject : NULL;
        if (!dst)
            return cf_fail(c, l, vcol, "unknown threshold '%s' (expected tag, quarantine or reject)", w);
        if (parse_number(n, &val) < 0 || *skip_ws(next_word(q, n, sizeof n)))
            return cf_fail(c, l, (int)(q - line) + 1, "expected one number after 'threshold %s'", w);
        *dst = val;
        return 0;
    }
    if (!strcmp(key, "include")) {
        if (!*v)
            return cf_fail(c, l, vcol, "expected a file name after 'include'");
        char path[4096];
        if (v[0] == '/' || !dir)
            snprintf(path, sizeof path, "%s", v);
        else
            snprintf(path, sizeof path, "%s/%s", dir, v);
        return load_path(c, path, l);
    }
    if (!strcmp(key, "replace_start") || !strcmp(key, "replace_end")) {
        char **dst = key[8] == 's' ? &s->rt_start : &s->rt_end;
        free(*dst);
        *dst = tg_strdup(v);
        return 0;
    }
    if (!strcmp(key, "replace_tag") || !strcmp(key, "replace_pre") ||
        !strcmp(key, "replace_post") || !strcmp(key, "replace_inter")) {
        char name[256];
        const char *p = skip_ws(next_word(v, name, sizeof name));
        if (!name[0] || !*p)
            return cf_fail(c, l, vcol, "expected a tag name and its value");
        int kind = !strcmp(key, "replace_tag") ? RT_TAG
                 : !strcmp(key, "replace_pre") ? RT_PRE
                 : !strcmp(key, "replace_post") ? RT_POST : RT_INTER;
        rt_put(s, kind, name, p);
        return 0;
    }
    if (!strcmp(key, "replace_rules")) {
        add_words(v, &s->rtrules, &s->nrtrules, &s->rtrcap);
        return 0;
    }
    static const char *const netkeys[3] = { "trusted_networks", "internal_networks",
                                            "msa_networks" };
    for (int k = 0; k < 3; k++) {
        if (!strcmp(key, netkeys[k])) {
            if (!s->nets[k])
                s->nets[k] = rcvd_nets_new();
            size_t col = 0;
            char e[256];
            if (!*v)
                return cf_fail(c, l, vcol, "expected networks after '%s'", key);
            if (rcvd_nets_add(s->nets[k], v, &col, e, sizeof e) < 0)
                return cf_fail(c, l, vcol + (int)col, "%s", e);
            return 0;
        }
        if (!strncmp(key, "clear_", 6) && !strcmp(key + 6, netkeys[k])) {
            if (s->nets[k])
                rcvd_nets_clear(s->nets[k]);
            return 0;
        }
    }
    if (!strcmp(key, "originating_ip_headers")) {
        add_words(v, &s->orig, &s->norig, &s->origcap);
        return 0;
    }
    if (!strcmp(key, "clear_originating_ip_headers")) {
        for (size_t i = 0; i < s->norig; i++)
            free(s->orig[i]);
        s->norig = 0;
        return 0;
    }
    if (!strcmp(key, "priority") || !strcmp(key, "reuse") ||
        !strcmp(key, "test")) {
        s->stats.ignored++; /* ordering/test metadata: no effect on hits */
        return 0;
    }
    if (sa_directive(key)) {
        char k[300];
        snprintf(k, sizeof k, "directive '%s'", key);
        cf_note(s, 1, l, k);
        s->stats.skipped_unsupported++;
        return 0;
    }
    return cf_fail(c, l, kcol, "unknown directive '%s'", key);
}

/* ---- files ------------------------------------------------------------- */

typedef struct ifstate {
    int outer_skip;   /* skip state before this if */
    int cond;         /* the condition's value */
    int line;
} ifstate_t;

static int load_text(ctx_t *c, const char *fname, char *text)
{
    const char *file = intern_file(c->set, fname);
    char *dir = NULL;
    const char *slash = strrchr(fname, '/');
    if (slash)
        dir = tg_strndup(fname, (size_t)(slash - fname));
    ifstate_t ifs[CF_MAX_IF];
    int nif = 0, skip = 0, rc = 0;
    int lineno = 0;
    char *save = NULL;
    c->set->stats.files++;
    for (char *line = text; line && rc == 0; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        lineno++;
        loc_t l = {file, lineno};
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        /* comments: an unescaped '#' to the end of the line */
        for (char *h = line; (h = strchr(h, '#')) != NULL; h++) {
            if (h == line || h[-1] != '\\') {
                *h = '\0';
                break;
            }
        }
        /* unescape "\#" -> "#" (columns after it shift by one: noted for
         * the error positions, cf_rule_col) */
        c->nunesc = 0;
        for (char *r = line, *w = line;; r++) {
            if (r[0] == '\\' && r[1] == '#') {
                r++;
                tg_grow(&c->unesc, &c->unesc_cap, c->nunesc + 1, sizeof *c->unesc);
                c->unesc[c->nunesc++] = (int)(w - line);
            }
            *w++ = *r;
            if (!*r)
                break;
        }
        len = strlen(line);
        while (len && isspace((unsigned char)line[len - 1]))
            line[--len] = '\0';
        const char *p = skip_ws(line);
        if (!*p)
            continue;
        const char *key0 = p;
        char key[64];
        size_t kn = 0;
        while (*p && !isspace((unsigned char)*p)) {
            if (kn + 1 < sizeof key)
                key[kn++] = (char)(*p == '-' ? '_' : tolower((unsigned char)*p));
            p++;
        }
        key[kn] = '\0';
        const char *v = skip_ws(p);
        int kcol = (int)(key0 - line) + 1;
        if (!strcmp(key, "lang")) {
            /* `lang xx describe ...`: tollgate reports in English. */
            c->set->stats.lang_lines++;
            continue;
        }
        if (!strcmp(key, "if") || !strcmp(key, "ifplugin")) {
            if (nif == CF_MAX_IF) {
                rc = cf_fail(c, l, kcol, "'%s' nested too deeply", key);
                break;
            }
            if (!*v) {
                rc = cf_fail(c, l, kcol, "missing '%s' condition", key);
                break;
            }
            int cond;
            if (key[2] == 'p') {
                char w[256];
                next_word(v, w, sizeof w);
                cond = cf_plugin_present(w);
            } else {
                condp_t cp = {.s = v};
                cond = cond_or(&cp) != 0;
                cond_ws(&cp);
                if (cp.bad || cp.s[cp.pos]) {
                    rc = cf_fail(c, l, (int)(v - line) + 1 + (int)cp.pos,
                                 "cannot evaluate condition '%s' (supported: version, perl_version, plugin(), can(), has(), numbers, ! && || comparisons)", v);
                    break;
                }
            }
            ifs[nif++] = (ifstate_t){skip, cond, lineno};
            skip = skip || !cond;
            continue;
        }
        if (!strcmp(key, "else") || !strcmp(key, "endif")) {
            if (*v) {
                rc = cf_fail(c, l, (int)(v - line) + 1, "'%s' must stand alone", key);
                break;
            }
            if (!nif) {
                rc = cf_fail(c, l, kcol, "'%s' without a matching 'if'", key);
                break;
            }
            if (key[0] == 'e' && key[1] == 'l') {
                ifs[nif - 1].cond = !ifs[nif - 1].cond;
                skip = ifs[nif - 1].outer_skip || !ifs[nif - 1].cond;
            } else {
                skip = ifs[--nif].outer_skip;
            }
            continue;
        }
        if (skip)
            continue;
        rc = directive(c, l, line, key, kcol, v, dir);
    }
    if (rc == 0 && nif)
        rc = cf_fail(c, (loc_t){file, ifs[nif - 1].line}, 1,
                     "'if' without a matching 'endif' before the end of the file");
    free(dir);
    return rc;
}

static int load_file(ctx_t *c, const char *path, loc_t from)
{
    char *text;
    char ferr[512];
    if (tg_read_file(path, &text, NULL, ferr, sizeof ferr) < 0) {
        if (from.file)
            return cf_fail(c, from, 1, "cannot include %s", ferr);
        return tg_err(c->err, c->errlen, "%s", ferr);
    }
    int rc = load_text(c, path, text);
    free(text);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_path(ctx_t *c, const char *path, loc_t from)
{
    if (c->depth >= CF_MAX_INCLUDE)
        return cf_fail(c, from, 1, "includes nested deeper than %d (a loop?)", CF_MAX_INCLUDE);
    c->depth++;
    int rc = 0;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) {
            c->depth--;
            return tg_err(c->err, c->errlen, "%s: %s", path, strerror(errno));
        }
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            size_t len = strlen(de->d_name);
            if (len > 3 && !strcmp(de->d_name + len - 3, ".cf") && de->d_name[0] != '.') {
                tg_grow(&names, &cap, n + 1, sizeof *names);
                names[n++] = tg_strdup(de->d_name);
            }
        }
        closedir(d);
        qsort(names, n, sizeof *names, cmp_str);
        for (size_t i = 0; i < n; i++) {
            if (rc == 0) {
                char full[4096];
                snprintf(full, sizeof full, "%s/%s", path, names[i]);
                rc = load_file(c, full, (loc_t){0});
            }
            free(names[i]);
        }
        free(names);
    } else if (stat(path, &st) == 0) {
        rc = load_file(c, path, from);
    } else if (strpbrk(path, "*?[")) {
        glob_t g;
        int gr = glob(path, 0, NULL, &g);
        if (gr == GLOB_NOMATCH)
            rc = from.file ? cf_fail(c, from, 1, "%s: no file matches", path)
                           : tg_err(c->err, c->errlen, "%s: no file matches", path);
        else if (gr != 0)
            rc = tg_err(c->err, c->errlen, "%s: cannot expand pattern", path);
        for (size_t i = 0; gr == 0 && rc == 0 && i < g.gl_pathc; i++)
            rc = load_path(c, g.gl_pathv[i], from);
        if (gr == 0)
            globfree(&g);
    } else {
        rc = from.file ? cf_fail(c, from, 1, "cannot include %s: %s", path, strerror(errno))
                       : tg_err(c->err, c->errlen, "%s: %s", path, strerror(errno));
    }
    c->depth--;
    return rc;
}

/* ---- finishing: ReplaceTags, default scores ---------------------------- */

static const char *rt_get(const cf_set_t *s, int kind, const char *name)
{
    size_t idx;
    if (!s->rt[kind] || !tg_map_get(s->rt[kind], name, &idx))
        return NULL;
    return s->rtvals[idx];
}

/* Removes the first "<start>KIND name<end>" from pat; returns the name. */
static char *rt_take_modifier(const cf_set_t *s, tg_buf *pat, const char *kind)
{
    tg_buf needle;
    tg_buf_init(&needle);
    tg_buf_printf(&needle, "%s%s ", s->rt_start, kind);
    char *found = strstr(pat->s, needle.s);
    char *name = NULL;
    if (found) {
        char *ns = found + needle.len;
        char *ne = strstr(ns, s->rt_end);
        if (ne && ne > ns) {
            name = tg_strndup(ns, (size_t)(ne - ns));
            size_t cut = (size_t)(ne + strlen(s->rt_end) - found);
            memmove(found, found + cut, strlen(found + cut) + 1);
            pat->len -= cut;
        }
    }
    tg_buf_free(&needle);
    return name;
}

/* SpamAssassin's ReplaceTags::finish_parsing_end on one pattern: split on
 * "<...>" tags, add pre/post/inter pieces, substitute tag values, repeat
 * while a value brought in new tags (at most 6 passes). */
static void rt_apply(const cf_set_t *s, cf_rule_t *r)
{
    tg_buf pat;
    tg_buf_init(&pat);
    tg_buf_adds(&pat, r->pattern);
    int again, passes = 0;
    size_t sl = strlen(s->rt_start), el = strlen(s->rt_end);
    do {
        again = 0;
        char *pre = rt_take_modifier(s, &pat, "pre");
        char *post = rt_take_modifier(s, &pat, "post");
        char *inter = rt_take_modifier(s, &pat, "inter");
        const char *prev = pre ? rt_get(s, RT_PRE, pre) : NULL;
        const char *postv = post ? rt_get(s, RT_POST, post) : NULL;
        const char *interv = inter ? rt_get(s, RT_INTER, inter) : NULL;
        /* Split like Perl's split(/(<[^<>]+>)/): text and tag pieces
         * alternate, starting with text; a leading empty text piece is
         * kept, trailing empty pieces are dropped. */
        tg_buf out;
        tg_buf_init(&out);
        const char *p = pat.s;
        while (*p) {
            const char *lt = p;
            const char *tag = NULL, *tagend = NULL;
            for (; *lt; lt++) {
                if (*lt != '<')
                    continue;
                const char *q = lt + 1;
                while (*q && *q != '<' && *q != '>')
                    q++;
                if (*q == '>' && q > lt + 1) {
                    tag = lt;
                    tagend = q + 1;
                    break;
                }
            }
            size_t tlen = (size_t)((tag ? tag : lt) - p);
            /* an empty text piece: between adjacent tags, or before a
             * leading tag (Perl's split keeps a leading empty field) */
            if (tlen == 0 && tag && interv)
                tg_buf_adds(&out, interv);
            tg_buf_add(&out, p, tlen);
            if (!tag)
                break;
            /* the tag piece: <start>name<end> with the configured marks */
            size_t plen = (size_t)(tagend - tag);
            if (prev)
                tg_buf_adds(&out, prev);
            const char *val = NULL;
            if (plen > sl + el && !strncmp(tag, s->rt_start, sl) &&
                !strncmp(tagend - el, s->rt_end, el)) {
                char *name = tg_strndup(tag + sl, plen - sl - el);
                val = rt_get(s, RT_TAG, name);
                free(name);
            }
            if (val && *val) {
                tg_buf_adds(&out, val);
                if (!again && strchr(val, '<') && strchr(strchr(val, '<'), '>'))
                    again = 1;
            } else {
                tg_buf_add(&out, tag, plen);
            }
            if (postv)
                tg_buf_adds(&out, postv);
            p = tagend;
        }
        free(pre);
        free(post);
        free(inter);
        tg_buf_free(&pat);
        pat = out;
        passes++;
    } while (again && passes <= 5);
    r->rt_applied |= strcmp(r->pattern, pat.s ? pat.s : "") != 0;
    free(r->pattern);
    r->pattern = tg_buf_steal(&pat);
}

static void cf_finish(cf_set_t *s)
{
    if (!s->rt_start)
        s->rt_start = tg_strdup("<");
    if (!s->rt_end)
        s->rt_end = tg_strdup(">");
    if (cf_plugin_present("Mail::SpamAssassin::Plugin::ReplaceTags")) {
        for (size_t i = 0; i < s->nrtrules; i++) {
            long idx = cf_find(s, s->rtrules[i]);
            if (idx < 0)
                continue;
            cf_rule_t *r = &s->rules[idx];
            if (r->defined && r->pattern)
                rt_apply(s, r);
        }
    }
    /* SpamAssassin's default score: 1.0, 0.01 for T_ rules, negative for
     * tflags nice. */
    for (size_t i = 0; i < s->nrules; i++) {
        cf_rule_t *r = &s->rules[i];
        if (r->has_score)
            continue;
        r->score = !strncmp(r->name, "T_", 2) ? 0.01 : 1.0;
        if (r->tflags & CF_TF_NICE)
            r->score = -r->score;
    }
}

/* ---- public ------------------------------------------------------------ */

static cf_set_t *cf_new(void)
{
    cf_set_t *s = tg_calloc(1, sizeof *s);
    s->byname = tg_map_new();
    s->thr.tag = 5.0;          /* SpamAssassin's required_score default */
    s->thr.quarantine = -1;
    s->thr.reject = -1;
    return s;
}

int cf_load(const char *const *paths, size_t npaths, cf_set_t **out,
            char *err, size_t errlen)
{
    cf_set_t *s = cf_new();
    ctx_t c = {.set = s, .err = err, .errlen = errlen};
    for (size_t i = 0; i < npaths; i++) {
        if (load_path(&c, paths[i], (loc_t){0}) < 0) {
            free(c.unesc);
            cf_free(s);
            return -1;
        }
    }
    free(c.unesc);
    cf_finish(s);
    *out = s;
    return 0;
}

int cf_load_string(const char *name, const char *text, cf_set_t **out,
                   char *err, size_t errlen)
{
    cf_set_t *s = cf_new();
    ctx_t c = {.set = s, .err = err, .errlen = errlen};
    char *copy = tg_strdup(text);
    int rc = load_text(&c, name, copy);
    free(copy);
    free(c.unesc);
    if (rc < 0) {
        cf_free(s);
        return -1;
    }
    cf_finish(s);
    *out = s;
    return 0;
}

void cf_take_relays(cf_set_t *s, rcvd_nets_t *nets[3], char ***orig, size_t *norig)
{
    for (int k = 0; k < 3; k++) {
        nets[k] = s->nets[k];
        s->nets[k] = NULL;
    }
    *orig = s->orig;
    *norig = s->norig;
    s->orig = NULL;
    s->norig = s->origcap = 0;
}

void cf_free(cf_set_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nrules; i++) {
        cf_rule_t *r = &s->rules[i];
        clear_definition(r);
        free(r->name);
        free(r->describe);
        free(r->category);
        free(r->action_text);
    }
    free(s->rules);
    tg_map_free(s->byname);
    for (int k = 0; k < 3; k++)
        rcvd_nets_free(s->nets[k]);
    for (size_t i = 0; i < s->norig; i++)
        free(s->orig[i]);
    free(s->orig);
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i]);
    free(s->files);
    for (int k = 0; k < CF_NOTE_KINDS; k++) {
        for (size_t i = 0; i < s->nnotes[k]; i++) {
            free(s->notes[k][i].where);
            free(s->notes[k][i].what);
        }
        free(s->notes[k]);
        free(s->notecount[k]);
        tg_map_free(s->notekey[k]);
    }
    for (int k = 0; k < RT_N; k++)
        tg_map_free(s->rt[k]);
    for (size_t i = 0; i < s->nrtvals; i++)
        free(s->rtvals[i]);
    free(s->rtvals);
    for (size_t i = 0; i < s->nrtrules; i++)
        free(s->rtrules[i]);
    free(s->rtrules);
    free(s->rt_start);
    free(s->rt_end);
    free(s);
}

size_t cf_nrules(const cf_set_t *s) { return s->nrules; }
cf_rule_t *cf_rule_at(cf_set_t *s, size_t i) { return &s->rules[i]; }
const cf_stats_t *cf_get_stats(const cf_set_t *s) { return &s->stats; }
cf_thresholds_t cf_get_thresholds(const cf_set_t *s) { return s->thr; }

long cf_find(const cf_set_t *s, const char *name)
{
    size_t idx;
    return tg_map_get(s->byname, name, &idx) ? (long)idx : -1;
}

size_t cf_notes(const cf_set_t *s, int kind, const cf_note_t **notes)
{
    if (kind < 0 || kind >= CF_NOTE_KINDS)
        return 0;
    *notes = s->notes[kind];
    return s->nnotes[kind];
}

size_t cf_note_count(const cf_set_t *s, int kind, size_t i)
{
    return s->notecount[kind][i];
}
