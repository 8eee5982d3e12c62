#include "fast.h"

#include <ctype.h>
#include <hs/hs.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf.h"
#include "hsdb.h"
#include "util.h"

/* Routing thresholds. A pattern whose individual Vectorscan compile takes
 * longer than this goes to the PCRE path: such patterns (huge alternations
 * with bounded repeats) dominate the class compile and rarely pay back. */
#define FAST_SLOW_COMPILE_S 0.25
/* Bump when routing or the meaning of the cached metadata changes. */
#define FAST_ROUTE_VERSION "fast-route-5"

/* Ordinary text: a prefilter that fires on it fires on nearly every
 * message (e.g. the FILL_THIS_FORM family); confirming it on every string
 * costs more than running PCRE2 alone, so such rules take the PCRE path. */
static const char *const fast_sample[] = {
    "Hello John, thanks for your message of yesterday.",
    "I will send you the report tomorrow morning, as we discussed.",
    "Best regards, Mary",
    "Subject: Re: meeting notes",
    "http://www.example.com/index.html",
};

enum fast_kind {
    K_BODY, K_RAWBODY, K_URI, K_FULL, K_HEADER, K_MIMEHEADER, K_HOST, K_HELO,
    K_ENVFROM, K_AUTH, K_RCPT, K_ATTNAME, K_ATTTYPE
};
static const char *const kind_names[] = {
    "body", "rawbody", "uri", "full", "header", "mimeheader", "connect hostname",
    "helo", "envfrom", "auth", "envrcpt", "attachment filename", "attachment type"
};
/* SUM: count over an array (body...); ONE: one string with !~ (header,
 * envelope); ANY: hit if any string of a list matches, then !~. */
enum fast_mode { M_SUM, M_ONE, M_ANY };

typedef struct frule {
    size_t slot;
    const rx_t *re;          /* borrowed */
    char *name;
    unsigned want;           /* max for rx_count (0 = all) */
    unsigned absent;         /* raw count on the [if-unset] value or "" */
    unsigned char path, multiple, negate;
} frule_t;

typedef struct fclass {
    int kind, mode, hmode;
    char *header;            /* owned; NULL if not a header class */
    char *label;             /* owned */
    size_t *ids;             /* fast rule indexes; Vectorscan id = position */
    size_t n;
    size_t *pcre;            /* fast rule indexes on the PCRE path */
    size_t npcre;
    hs_database_t *db;       /* owned; NULL if no rule is in a database */
    size_t db_bytes;
    int from_cache;
} fclass_t;

struct fast {
    unsigned long gen;       /* identity for scratches */
    frule_t *rules;
    size_t nrules;
    fclass_t *classes;
    size_t nclasses;
    hs_scratch_t *proto;     /* big enough for every database */
    size_t maxclass;
    fast_build_info_t info;
};

struct fast_scratch {
    const fast_t *f;
    unsigned long gen;
    hs_scratch_t *hs;
    unsigned *cnt;           /* [nrules] */
    unsigned char *done;     /* [nrules] */
    unsigned *cand;          /* [maxclass] Vectorscan reports of one scan */
    size_t ncand;
    tg_buf tmp;
    int prof;
    double *class_ns, *class_scan_ns, *rule_ns;
    unsigned long *rule_cand, *rule_conf;
    double path_ns[FAST_NPATHS];
    double *values_out;      /* fast_match's values, during the call */
};

static atomic_ulong fast_gen = 1;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- pattern analysis ---------------------------------------------------- */

/* 1 if the pattern names a byte >= 0x80: raw, \xHH, \x{...}, \o{...} or a
 * three-digit octal escape. Conservative (a backreference \2nn counts). */
static int has_nonascii(const char *p)
{
    for (; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x80)
            return 1;
        if (c != '\\')
            continue;
        p++;
        if (!*p)
            break;
        if (*p == 'x') {
            if (p[1] == '{')
                return 1;
            if (isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]) &&
                (p[1] >= '8' || isalpha((unsigned char)p[1])))
                return 1;
        } else if (*p == 'o' && p[1] == '{') {
            return 1;
        } else if ((*p == '2' || *p == '3') && p[1] >= '0' && p[1] <= '7' &&
                   p[2] >= '0' && p[2] <= '7') {
            return 1;
        }
    }
    return 0;
}

/* 1 if an inline option group turns on caseless matching: (?i) (?xi:...). */
static int has_inline_i(const char *p)
{
    for (; *p; p++) {
        if (*p == '\\') {
            if (!*++p)
                break;
            continue;
        }
        if (p[0] == '(' && p[1] == '?')
            for (const char *q = p + 2; *q && (isalpha((unsigned char)*q) || *q == '-' || *q == '^'); q++)
                if (*q == 'i')
                    return 1;
    }
    return 0;
}

/* Under /i PCRE2 (rx.c's tables) folds Latin-1 letters, Vectorscan only
 * ASCII: such a pattern can be neither exact nor a safe prefilter. */
static int needs_latin1_fold(const char *pat, unsigned reflags)
{
    return has_nonascii(pat) && ((reflags & CF_RE_I) || has_inline_i(pat));
}


/* Length of a variable repeat quantifier at p (*, +, {n,}, {n,m} with
 * m > n; a following ? or + modifier included), 0 if none. */
static size_t var_quant(const char *p)
{
    if (*p == '*' || *p == '+')
        return 1 + (p[1] == '?' || p[1] == '+');
    if (*p != '{')
        return 0;
    const char *q = p + 1;
    char *end;
    if (!isdigit((unsigned char)*q))
        return 0;
    unsigned long lo = strtoul(q, &end, 10), hi = lo;
    q = end;
    int var = 0;
    if (*q == ',') {
        q++;
        if (isdigit((unsigned char)*q)) {
            hi = strtoul(q, &end, 10);
            q = end;
            var = hi > lo;
        } else {
            var = 1;
        }
    }
    if (*q != '}')
        return 0;
    q++;
    return var ? (size_t)(q - p) + (*q == '?' || *q == '+') : 0;
}

/* 1 if an unboundedly repeated group contains an unbounded repeat (e.g.
 * (a+)+ or (?:\w+\s*){3,}): the shape of catastrophic backtracking, where
 * PCRE2 may stop at its match limit. Such rules take the PCRE path so the
 * fast matcher gives the oracle's answer (and its limit count) there too. */
static int unbounded_quant(const char *p)
{
    if (*p == '*' || *p == '+')
        return 1;
    if (*p != '{' || !isdigit((unsigned char)p[1]))
        return 0;
    p++;
    while (isdigit((unsigned char)*p))
        p++;
    return p[0] == ',' && p[1] == '}';
}

static int nested_repeat(const char *p)
{
    unsigned char inner[64]; /* per open group: contains a repeat */
    int depth = 0, overflow = 0, last_inner = 0;
    while (*p) {
        int atom_inner = 0;
        if (*p == '\\') {
            p++;
            if (*p)
                p++;
        } else if (*p == '[') {
            p++;
            if (*p == '^')
                p++;
            if (*p == ']')
                p++;
            while (*p && *p != ']') {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
            if (*p)
                p++;
        } else if (*p == '(') {
            if (depth < 64)
                inner[depth] = 0;
            else
                overflow = 1;
            depth++;
            p++;
            continue;
        } else if (*p == ')') {
            if (depth > 0)
                depth--;
            atom_inner = depth < 64 ? inner[depth] : 1;
            p++;
        } else {
            p++;
        }
        size_t q = var_quant(p);
        int unb = q && unbounded_quant(p);
        if (unb && atom_inner)
            return 1;
        last_inner = atom_inner || unb;
        if (depth > 0 && depth <= 64 && last_inner)
            inner[depth - 1] = 1;
        p += q;
    }
    return overflow;
}


/* Value of a non-ASCII escape at p (after the backslash): \xHH, \x{H..},
 * \o{...} or \[0-3]OO; sets *len to the characters after the backslash.
 * -1 if p is not such an escape or its value is ASCII. */
static long nonascii_escape(const char *p, size_t *len)
{
    char *end;
    long v = -1;
    if (p[0] == 'x' && p[1] == '{') {
        v = strtol(p + 2, &end, 16);
        if (*end != '}')
            return -1;
        *len = (size_t)(end + 1 - p);
    } else if (p[0] == 'o' && p[1] == '{') {
        v = strtol(p + 2, &end, 8);
        if (*end != '}')
            return -1;
        *len = (size_t)(end + 1 - p);
    } else if (p[0] == 'x' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
        char h[3] = {p[1], p[2], 0};
        v = strtol(h, NULL, 16);
        *len = 3;
    } else if (p[0] >= '0' && p[0] <= '3' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' &&
               p[2] <= '7') {
        v = (p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0');
        *len = 3;
    }
    return v >= 0x80 ? v : -1;
}

/* A prefilter expression for a /i pattern with bytes >= 0x80, which
 * Vectorscan would fold differently from PCRE2 (Latin-1 pairs): outside
 * classes every non-ASCII byte becomes [\x80-\xff], every positive class
 * naming one gets \x80-\xff added (a negated class already admits more in
 * Vectorscan than in PCRE2). The result matches a superset of what the
 * pattern matches; PCRE2 confirms. NULL when the pattern uses constructs
 * this does not follow (\Q, /x). Caller frees. */
static char *latin1_prefilter_expr(const char *pat, unsigned reflags)
{
    if ((reflags & CF_RE_X) || strstr(pat, "\\Q") || strstr(pat, "(?x") || strstr(pat, "(?ix") ||
        strstr(pat, "(?xi"))
        return NULL;
    tg_buf b;
    tg_buf_init(&b);
    int in_class = 0, negated = 0, wide = 0;
    const char *cls_first = NULL;
    for (const char *p = pat; *p;) {
        unsigned char c = (unsigned char)*p;
        size_t el;
        if (c == '\\' && p[1] && nonascii_escape(p + 1, &el) >= 0) {
            if (in_class) {
                tg_buf_add(&b, p, el + 1);
                wide = 1;
            } else {
                tg_buf_adds(&b, "[\\x80-\\xff]");
            }
            p += el + 1;
        } else if (c == '\\' && p[1]) {
            tg_buf_add(&b, p, 2);
            p += 2;
        } else if (c >= 0x80) {
            if (in_class) {
                tg_buf_printf(&b, "\\x%02x", c);
                wide = 1;
            } else {
                tg_buf_adds(&b, "[\\x80-\\xff]");
            }
            p++;
        } else if (!in_class && c == '[') {
            in_class = 1;
            wide = 0;
            tg_buf_addc(&b, '[');
            p++;
            negated = *p == '^';
            if (negated)
                tg_buf_addc(&b, *p++);
            cls_first = p;
            if (p[0] == '[' && p[1] == ':') {
                /* leading POSIX class: copied by the generic path */
            } else if (*p == ']') {
                tg_buf_addc(&b, *p++); /* a literal ] first in a class */
            }
        } else if (in_class && c == '[' && p[1] == ':') {
            const char *e = strstr(p + 2, ":]");
            size_t l = e ? (size_t)(e + 2 - p) : 1;
            tg_buf_add(&b, p, l);
            p += l;
        } else if (in_class && c == ']' && p != cls_first) {
            if (wide && !negated)
                tg_buf_adds(&b, "\\x80-\\xff");
            tg_buf_addc(&b, ']');
            in_class = 0;
            p++;
        } else {
            tg_buf_addc(&b, (char)c);
            p++;
        }
    }
    if (in_class) {
        tg_buf_free(&b);
        return NULL;
    }
    return tg_buf_steal(&b);
}

/* The expression as Vectorscan gets it: /x becomes (?x), which Vectorscan
 * parses as PCRE does. Caller frees. */
static char *hs_expr(const char *pat, unsigned reflags)
{
    tg_buf b;
    tg_buf_init(&b);
    if (reflags & CF_RE_X)
        tg_buf_adds(&b, "(?x)");
    tg_buf_adds(&b, pat);
    return tg_buf_steal(&b);
}

static unsigned hs_flags(unsigned reflags, int prefilter)
{
    unsigned fl = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
    if (reflags & CF_RE_I) fl |= HS_FLAG_CASELESS;
    if (reflags & CF_RE_M) fl |= HS_FLAG_MULTILINE;
    if (reflags & CF_RE_S) fl |= HS_FLAG_DOTALL;
    if (prefilter) fl |= HS_FLAG_PREFILTER;
    return fl;
}

static int count_cb(unsigned id, unsigned long long from, unsigned long long to,
                    unsigned flags, void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags;
    (*(int *)ctx)++;
    return 1; /* one report is enough */
}

/* Compiles one pattern alone: 0 ok, -1 rejected; *secs = compile time;
 * *fires = 1 if it reports on the sample text (only when fires != NULL). */
static int try_compile(const char *expr, unsigned flags, double *secs, int *fires)
{
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    double t0 = now_s();
    hs_error_t rc = hs_compile(expr, flags, HS_MODE_BLOCK, NULL, &db, &ce);
    *secs = now_s() - t0;
    if (rc != HS_SUCCESS) {
        hs_free_compile_error(ce);
        return -1;
    }
    if (fires) {
        *fires = 0;
        hs_scratch_t *s = NULL;
        if (hs_alloc_scratch(db, &s) == HS_SUCCESS) {
            for (size_t i = 0; i < sizeof fast_sample / sizeof *fast_sample && !*fires; i++)
                hs_scan(db, fast_sample[i], (unsigned)strlen(fast_sample[i]), 0, s,
                        count_cb, fires);
            hs_free_scratch(s);
        }
    }
    hs_free_database(db);
    return 0;
}

/* ---- building ------------------------------------------------------------ */

static int kind_of(int type)
{
    switch (type) {
    case CF_BODY: return K_BODY;
    case CF_RAWBODY: return K_RAWBODY;
    case CF_URI: return K_URI;
    case CF_FULL: return K_FULL;
    case CF_HEADER: return K_HEADER;
    case CF_MIMEHEADER: return K_MIMEHEADER;
    case CF_CONNECT_HOST: return K_HOST;
    case CF_HELO: return K_HELO;
    case CF_ENVFROM: return K_ENVFROM;
    case CF_AUTH: return K_AUTH;
    case CF_ENVRCPT: return K_RCPT;
    case CF_ATTACH_NAME: return K_ATTNAME;
    case CF_ATTACH_TYPE: return K_ATTTYPE;
    default: return -1;
    }
}

static int mode_of(int kind)
{
    switch (kind) {
    case K_BODY: case K_RAWBODY: case K_URI: case K_FULL: return M_SUM;
    case K_HEADER: case K_HOST: case K_HELO: case K_ENVFROM: case K_AUTH: return M_ONE;
    default: return M_ANY;
    }
}

static size_t class_for(fast_t *f, size_t *cap, int kind, const char *header, int hmode)
{
    int hdr = kind == K_HEADER || kind == K_MIMEHEADER;
    for (size_t i = 0; i < f->nclasses; i++) {
        fclass_t *c = &f->classes[i];
        if (c->kind == kind && (!hdr || (c->hmode == hmode && !tg_strcasecmp(c->header, header))))
            return i;
    }
    tg_grow(&f->classes, cap, f->nclasses + 1, sizeof *f->classes);
    fclass_t *c = &f->classes[f->nclasses];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->mode = mode_of(kind);
    c->hmode = hdr ? hmode : 0;
    c->header = hdr ? tg_strdup(header) : NULL;
    tg_buf b;
    tg_buf_init(&b);
    tg_buf_adds(&b, kind_names[kind]);
    if (hdr) {
        static const char *const mods[] = {"", ":raw", ":addr", ":name"};
        tg_buf_printf(&b, " %s%s", header, hmode >= 0 && hmode < 4 ? mods[hmode] : "");
    }
    c->label = tg_buf_steal(&b);
    return f->nclasses++;
}

/* Routes the rules of class c (fills path), compiles its database. */
static void build_class(fast_t *f, fclass_t *c, const fast_rule_t *in,
                        const size_t *src, const fast_options_t *o)
{
    fast_build_info_t *info = &f->info;
    hsdb_key_t key;
    hsdb_key_init(&key);
    hsdb_key_adds(&key, FAST_ROUTE_VERSION);
    int k = c->kind;
    hsdb_key_add(&key, &k, sizeof k);
    for (size_t i = 0; i < c->n; i++) {
        const fast_rule_t *r = &in[src[c->ids[i]]];
        unsigned v[2] = {r->reflags, (unsigned)r->multiple};
        hsdb_key_adds(&key, r->pattern);
        hsdb_key_add(&key, v, sizeof v);
    }
    unsigned char *meta = NULL;
    size_t metalen = 0;
    hs_database_t *db = NULL;
    if (o->cache_dir && hsdb_load(o->cache_dir, &key, &meta, &metalen, &db)) {
        int good = metalen == c->n;
        size_t indb = 0;
        for (size_t i = 0; good && i < c->n; i++) {
            good = meta[i] < FAST_NPATHS;
            indb += good && meta[i] != FAST_PCRE;
        }
        if (good && (indb > 0) == (db != NULL)) {
            for (size_t i = 0; i < c->n; i++)
                f->rules[c->ids[i]].path = meta[i];
            c->db = db;
            c->from_cache = 1;
            info->cache_hits++;
            free(meta);
            goto done;
        }
        info->cache_errors++;
        free(meta);
        if (db)
            hs_free_database(db);
        db = NULL;
    }
    if (o->cache_dir)
        info->cache_misses++;

    /* route: test-compile every pattern alone (one bad pattern would fail
     * the whole database) */
    const char **exprs = tg_calloc(c->n + 1, sizeof *exprs);
    unsigned *flags = tg_calloc(c->n + 1, sizeof *flags);
    unsigned *ids = tg_calloc(c->n + 1, sizeof *ids);
    char **owned = tg_calloc(c->n + 1, sizeof *owned);
    size_t ne = 0;
    int debug = getenv("TG_FAST_DEBUG") != NULL; /* routing reasons to stderr */
    for (size_t i = 0; i < c->n; i++) {
        frule_t *fr = &f->rules[c->ids[i]];
        const fast_rule_t *r = &in[src[c->ids[i]]];
        fr->path = FAST_PCRE;
        const char *why = "rejected by Vectorscan";
        if (nested_repeat(r->pattern)) {
            info->nested_repeat++;
            if (debug)
                fprintf(stderr, "fast: %s: %s: pcre (nested repeat)\n", c->label, fr->name);
            continue;
        }
        int latin1 = needs_latin1_fold(r->pattern, r->reflags);
        char *e = latin1 ? latin1_prefilter_expr(r->pattern, r->reflags)
                         : hs_expr(r->pattern, r->reflags);
        if (!e) {
            info->latin1_fold++;
            continue;
        }
        info->latin1_rewritten += latin1;
        double secs = 0;
        int fires = 0;
        if (!latin1 && try_compile(e, hs_flags(r->reflags, 0), &secs, NULL) == 0) {
            if (secs > FAST_SLOW_COMPILE_S)
                info->slow_compile++, why = "slow compile";
            else
                fr->path = FAST_EXACT;
        } else if (try_compile(e, hs_flags(r->reflags, 1), &secs, &fires) == 0) {
            if (secs > FAST_SLOW_COMPILE_S)
                info->slow_compile++, why = "slow prefilter compile";
            else if (fires)
                info->always_firing++, why = "prefilter fires on plain text";
            else
                fr->path = FAST_PREFILTER;
        }
        if (debug && fr->path != FAST_EXACT)
            fprintf(stderr, "fast: %s: %s: %s (%.3f s)\n", c->label, fr->name,
                    fr->path == FAST_PREFILTER ? (latin1 ? "prefilter (Latin-1 /i)" : "prefilter") : why,
                    secs);
        if (fr->path == FAST_PCRE) {
            free(e);
            continue;
        }
        exprs[ne] = e;
        owned[ne] = e;
        flags[ne] = hs_flags(r->reflags, fr->path == FAST_PREFILTER);
        ids[ne++] = (unsigned)i;
    }
    if (ne) {
        hs_compile_error_t *ce = NULL;
        if (hs_compile_multi(exprs, flags, ids, (unsigned)ne, HS_MODE_BLOCK, NULL,
                             &db, &ce) != HS_SUCCESS) {
            /* should not happen after the individual compiles; stay exact
             * by running the whole class on PCRE2 */
            fprintf(stderr, "tollgate: fast: %s: database not built (%s); using PCRE2\n",
                    c->label, ce && ce->message ? ce->message : "?");
            hs_free_compile_error(ce);
            db = NULL;
            for (size_t i = 0; i < c->n; i++)
                f->rules[c->ids[i]].path = FAST_PCRE;
        }
    }
    for (size_t i = 0; i < ne; i++)
        free(owned[i]);
    free(exprs);
    free(flags);
    free(ids);
    free(owned);
    c->db = db;
    if (o->cache_dir) {
        meta = tg_malloc(c->n + 1);
        for (size_t i = 0; i < c->n; i++)
            meta[i] = f->rules[c->ids[i]].path;
        if (hsdb_store(o->cache_dir, &key, meta, c->n, db) < 0)
            info->cache_errors++;
        free(meta);
    }
done:
    for (size_t i = 0; i < c->n; i++) {
        const frule_t *fr = &f->rules[c->ids[i]];
        if (fr->path == FAST_PCRE) {
            c->pcre[c->npcre++] = c->ids[i];
        }
    }
    if (c->db) {
        hs_database_size(c->db, &c->db_bytes);
        info->db_bytes += c->db_bytes;
        info->databases++;
        if (hs_alloc_scratch(c->db, &f->proto) != HS_SUCCESS) {
            fprintf(stderr, "tollgate: fast: %s: no scratch; using PCRE2\n", c->label);
            hs_free_database(c->db);
            c->db = NULL;
            c->npcre = 0;
            for (size_t i = 0; i < c->n; i++) {
                f->rules[c->ids[i]].path = FAST_PCRE;
                c->pcre[c->npcre++] = c->ids[i];
            }
        }
    }
}

fast_t *fast_build(const fast_rule_t *in, size_t n, const fast_options_t *opts)
{
    static const fast_options_t noopts;
    const fast_options_t *o = opts ? opts : &noopts;
    double t0 = now_s();
    fast_t *f = tg_calloc(1, sizeof *f);
    f->gen = atomic_fetch_add(&fast_gen, 1);
    f->rules = tg_calloc(n ? n : 1, sizeof *f->rules);
    size_t *src = tg_calloc(n ? n : 1, sizeof *src); /* fast index -> in[] */
    size_t ccap = 0;
    rx_scratch_t *rx = rx_scratch_new(o->match_limit, o->depth_limit);
    size_t *cls = tg_calloc(n ? n : 1, sizeof *cls);
    for (size_t i = 0; i < n; i++) {
        const fast_rule_t *r = &in[i];
        int kind = kind_of(r->type);
        if (kind < 0 || !r->re || !r->pattern)
            continue;
        size_t fi = f->nrules++;
        frule_t *fr = &f->rules[fi];
        src[fi] = i;
        fr->slot = r->slot;
        fr->re = r->re;
        fr->name = tg_strdup(r->name ? r->name : "?");
        fr->multiple = r->multiple != 0;
        fr->negate = r->negate != 0;
        int mode = mode_of(kind);
        /* what the oracle passes as max to rx_count */
        fr->want = mode == M_ANY ? 1 : fr->multiple ? r->maxhits : 1;
        if (kind == K_HEADER || kind == K_MIMEHEADER) {
            const char *u = r->unset ? r->unset : "";
            fr->absent = rx_count(r->re, rx, u, strlen(u), fr->want);
        }
        cls[fi] = class_for(f, &ccap, kind, r->header, r->hmode);
        f->info.multiple += fr->multiple;
    }
    rx_scratch_free(rx);
    for (size_t i = 0; i < f->nrules; i++)
        f->classes[cls[i]].n++;
    for (size_t c = 0; c < f->nclasses; c++) {
        fclass_t *fc = &f->classes[c];
        fc->ids = tg_calloc(fc->n + 1, sizeof *fc->ids);
        fc->pcre = tg_calloc(fc->n + 1, sizeof *fc->pcre);
        if (fc->n > f->maxclass)
            f->maxclass = fc->n;
        fc->n = 0;
    }
    for (size_t i = 0; i < f->nrules; i++) {
        fclass_t *fc = &f->classes[cls[i]];
        fc->ids[fc->n++] = i;
    }
    free(cls);
    for (size_t c = 0; c < f->nclasses; c++)
        build_class(f, &f->classes[c], in, src, o);
    free(src);
    f->info.rules = f->nrules;
    f->info.classes = f->nclasses;
    for (size_t i = 0; i < f->nrules; i++)
        f->info.path[f->rules[i].path]++;
    f->info.compile_seconds = now_s() - t0;
    return f;
}

void fast_free(fast_t *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nrules; i++)
        free(f->rules[i].name);
    for (size_t c = 0; c < f->nclasses; c++) {
        fclass_t *fc = &f->classes[c];
        free(fc->header);
        free(fc->label);
        free(fc->ids);
        free(fc->pcre);
        if (fc->db)
            hs_free_database(fc->db);
    }
    if (f->proto)
        hs_free_scratch(f->proto);
    free(f->classes);
    free(f->rules);
    free(f);
}

const fast_build_info_t *fast_get_info(const fast_t *f) { return &f->info; }
size_t fast_nclasses(const fast_t *f) { return f->nclasses; }
size_t fast_rule_slot(const fast_t *f, size_t i) { return f->rules[i].slot; }
const char *fast_rule_name(const fast_t *f, size_t i) { return f->rules[i].name; }
int fast_rule_path_at(const fast_t *f, size_t i) { return f->rules[i].path; }

void fast_class_info(const fast_t *f, size_t i, fast_class_info_t *out)
{
    const fclass_t *c = &f->classes[i];
    memset(out, 0, sizeof *out);
    out->label = c->label;
    out->rules = c->n;
    for (size_t k = 0; k < c->n; k++)
        out->path[f->rules[c->ids[k]].path]++;
    out->db_bytes = c->db_bytes;
    out->from_cache = c->from_cache;
}

int fast_rule_path(const fast_t *f, size_t slot)
{
    for (size_t i = 0; i < f->nrules; i++)
        if (f->rules[i].slot == slot)
            return f->rules[i].path;
    return -1;
}

/* ---- matching ------------------------------------------------------------ */

fast_scratch_t *fast_scratch_new(const fast_t *f)
{
    fast_scratch_t *sc = tg_calloc(1, sizeof *sc);
    sc->f = f;
    sc->gen = f->gen;
    if (f->proto && hs_clone_scratch(f->proto, &sc->hs) != HS_SUCCESS)
        tg_malloc((size_t)-1); /* reports OOM and aborts */
    size_t n = f->nrules ? f->nrules : 1;
    sc->cnt = tg_calloc(n, sizeof *sc->cnt);
    sc->done = tg_calloc(n, 1);
    sc->cand = tg_calloc(f->maxclass + 1, sizeof *sc->cand);
    tg_buf_init(&sc->tmp);
    sc->class_ns = tg_calloc(f->nclasses + 1, sizeof *sc->class_ns);
    sc->class_scan_ns = tg_calloc(f->nclasses + 1, sizeof *sc->class_scan_ns);
    sc->rule_ns = tg_calloc(n, sizeof *sc->rule_ns);
    sc->rule_cand = tg_calloc(n, sizeof *sc->rule_cand);
    sc->rule_conf = tg_calloc(n, sizeof *sc->rule_conf);
    return sc;
}

void fast_scratch_free(fast_scratch_t *sc)
{
    if (!sc)
        return;
    if (sc->hs)
        hs_free_scratch(sc->hs);
    free(sc->cnt);
    free(sc->done);
    free(sc->cand);
    tg_buf_free(&sc->tmp);
    free(sc->class_ns);
    free(sc->class_scan_ns);
    free(sc->rule_ns);
    free(sc->rule_cand);
    free(sc->rule_conf);
    free(sc);
}

void fast_scratch_profile(fast_scratch_t *sc, int on) { sc->prof = on; }

void fast_scratch_get_profile(const fast_scratch_t *sc, fast_profile_t *out)
{
    out->class_ns = sc->class_ns;
    out->class_scan_ns = sc->class_scan_ns;
    memcpy(out->path_ns, sc->path_ns, sizeof out->path_ns);
    out->rule_ns = sc->rule_ns;
    out->rule_cand = sc->rule_cand;
    out->rule_conf = sc->rule_conf;
    out->nrules = sc->f->nrules;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to,
                    unsigned flags, void *ctx)
{
    (void)from, (void)to, (void)flags;
    fast_scratch_t *sc = ctx;
    if (sc->ncand < sc->f->maxclass)
        sc->cand[sc->ncand++] = id;
    return 0;
}

/* Applies rule i to one string of class c, as the oracle would; `pcre`
 * forces a PCRE2 run (PCRE path, or a report that needs confirming). */
static void consider(const fast_t *f, fast_scratch_t *sc, rx_scratch_t *rx, int mode,
                     size_t i, const char *s, size_t len, int pcre)
{
    if (sc->done[i])
        return;
    const frule_t *r = &f->rules[i];
    unsigned raw;
    if (!pcre && r->path == FAST_EXACT && !r->multiple) {
        raw = 1;
    } else {
        unsigned max = r->want;
        if (mode == M_SUM && max)
            max -= sc->cnt[i];
        double t0 = sc->prof ? now_ns() : 0;
        raw = rx_count(r->re, rx, s, len, max);
        if (sc->prof) {
            double dt = now_ns() - t0;
            sc->rule_ns[i] += dt;
            sc->path_ns[r->path == FAST_PCRE ? FAST_PCRE : FAST_PREFILTER] += dt;
            if (r->path != FAST_PCRE)
                sc->rule_conf[i] += raw > 0;
        }
    }
    switch (mode) {
    case M_SUM:
        sc->cnt[i] += raw;
        if (r->want && sc->cnt[i] >= r->want)
            sc->done[i] = 1;
        break;
    case M_ONE:
        sc->cnt[i] = raw;
        sc->done[i] = 1;
        break;
    default:
        if (raw) {
            sc->cnt[i] = 1;
            sc->done[i] = 1;
        }
        break;
    }
}

/* One string of class c: one database scan, then the reports and the
 * PCRE-path rules. */
static void scan_str(const fast_t *f, fast_scratch_t *sc, rx_scratch_t *rx, size_t ci,
                     const char *s, size_t len)
{
    const fclass_t *c = &f->classes[ci];
    if (!s)
        s = "", len = 0;
    sc->ncand = 0;
    if (c->db) {
        double t0 = sc->prof ? now_ns() : 0;
        hs_error_t rc = hs_scan(c->db, s, (unsigned)len, 0, sc->hs, on_match, sc);
        if (sc->prof)
            sc->class_scan_ns[ci] += now_ns() - t0;
        if (rc != HS_SUCCESS || len > 0xffffffffu) {
            /* cannot trust the reports: run every rule with PCRE2 */
            for (size_t k = 0; k < c->n; k++)
                consider(f, sc, rx, c->mode, c->ids[k], s, len, 1);
            return;
        }
    }
    for (size_t k = 0; k < sc->ncand; k++) {
        size_t i = c->ids[sc->cand[k]];
        if (sc->prof)
            sc->rule_cand[i]++;
        consider(f, sc, rx, c->mode, i, s, len, 0);
    }
    for (size_t k = 0; k < c->npcre; k++)
        consider(f, sc, rx, c->mode, c->pcre[k], s, len, 1);
}

/* A header (or a MIME part's header) that is absent: every rule sees its
 * [if-unset:] value or "", whose result was computed at build time. */
static void absent_str(const fast_t *f, fast_scratch_t *sc, const fclass_t *c)
{
    for (size_t k = 0; k < c->n; k++) {
        size_t i = c->ids[k];
        if (sc->done[i])
            continue;
        if (c->mode == M_ONE) {
            sc->cnt[i] = f->rules[i].absent;
            sc->done[i] = 1;
        } else if (f->rules[i].absent) {
            sc->cnt[i] = 1;
            sc->done[i] = 1;
        }
    }
}

static void run_class(const fast_t *f, fast_scratch_t *sc, rx_scratch_t *rx, size_t ci,
                      const msg_t *m, const rules_env_t *env)
{
    const fclass_t *c = &f->classes[ci];
    size_t n;
    const msg_str_t *a;
    switch (c->kind) {
    case K_BODY: case K_RAWBODY: case K_URI:
        a = c->kind == K_BODY ? msg_body_lines(m, &n)
          : c->kind == K_RAWBODY ? msg_rawbody_chunks(m, &n) : msg_uris(m, &n);
        for (size_t j = 0; j < n; j++)
            scan_str(f, sc, rx, ci, a[j].ptr, a[j].len);
        break;
    case K_FULL: {
        msg_str_t s = msg_full(m);
        scan_str(f, sc, rx, ci, s.ptr, s.len);
        break;
    }
    case K_HEADER:
        tg_buf_reset(&sc->tmp);
        if (msg_get_header(m, c->header, (msg_hmode_t)c->hmode, &sc->tmp))
            scan_str(f, sc, rx, ci, sc->tmp.s, sc->tmp.len);
        else
            absent_str(f, sc, c);
        break;
    case K_MIMEHEADER:
        n = msg_nparts(m);
        for (size_t j = 0; j < n; j++) {
            tg_buf_reset(&sc->tmp);
            if (msg_part_header(m, j, c->header, (msg_hmode_t)c->hmode, &sc->tmp))
                scan_str(f, sc, rx, ci, sc->tmp.s, sc->tmp.len);
            else
                absent_str(f, sc, c);
        }
        break;
    case K_HOST: case K_HELO: case K_ENVFROM: case K_AUTH: {
        const char *s = c->kind == K_HOST ? env->client_name
                      : c->kind == K_HELO ? env->helo
                      : c->kind == K_ENVFROM ? env->mail_from : env->auth;
        scan_str(f, sc, rx, ci, s, s ? strlen(s) : 0);
        break;
    }
    case K_RCPT:
        for (size_t j = 0; j < env->nrcpts; j++)
            scan_str(f, sc, rx, ci, env->rcpts[j], strlen(env->rcpts[j]));
        break;
    case K_ATTNAME: case K_ATTTYPE:
        n = msg_nparts(m);
        for (size_t j = 0; j < n; j++) {
            const msg_part_t *p = msg_part_at(m, j);
            msg_str_t s = c->kind == K_ATTNAME ? p->filename : p->type;
            if (c->kind == K_ATTNAME && s.len == 0)
                continue;
            scan_str(f, sc, rx, ci, s.ptr, s.len);
        }
        break;
    }
    /* results, with !~ where the oracle applies it */
    for (size_t k = 0; k < c->n; k++) {
        size_t i = c->ids[k];
        const frule_t *r = &f->rules[i];
        unsigned v = sc->cnt[i];
        if (c->mode != M_SUM && r->negate)
            v = v ? 0 : 1;
        else if (c->mode == M_ANY)
            v = v ? 1 : 0;
        sc->values_out[r->slot] = v;
    }
}

void fast_match(const fast_t *f, fast_scratch_t *sc, rx_scratch_t *rx,
                const msg_t *m, const rules_env_t *env, double *values)
{
    static const rules_env_t noenv;
    if (!env)
        env = &noenv;
    memset(sc->cnt, 0, f->nrules * sizeof *sc->cnt);
    memset(sc->done, 0, f->nrules);
    sc->values_out = values;
    for (size_t ci = 0; ci < f->nclasses; ci++) {
        double t0 = sc->prof ? now_ns() : 0;
        run_class(f, sc, rx, ci, m, env);
        if (sc->prof)
            sc->class_ns[ci] += now_ns() - t0;
    }
    if (sc->prof) {
        double scans = 0;
        for (size_t ci = 0; ci < f->nclasses; ci++)
            scans += sc->class_scan_ns[ci];
        sc->path_ns[FAST_EXACT] = scans;
    }
    sc->values_out = NULL;
}

int fast_scratch_fits(const fast_scratch_t *sc, const fast_t *f)
{
    return sc && sc->gen == f->gen;
}
