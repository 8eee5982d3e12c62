#include "tmpl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cf.h"

/* A pattern cut at its templates: piece i is text (name < 0) or the
 * template of names[name] (full: as written, "(args)" included). */
typedef struct piece {
    char *text;
    long name;
} piece_t;

struct tmpl {
    piece_t *pieces;
    size_t npieces;
    size_t *at;          /* [nat] offsets of the templates in the pattern */
    size_t nat;
    char **names;        /* distinct, "(args)" dropped */
    size_t nnames;
    unsigned char *req;  /* [nnames] tmpl_required */
    int all_top;         /* every template at the top level, unquantified */
};

#define TMPL_MAX_SEEN 64  /* names a commit tracks past the byte bound */

typedef struct tag {
    char *name;
    tg_buf vals;         /* each value: size_t length, then its bytes */
    size_t nvals;
    unsigned long serial;/* the commit that last set it */
} tag_t;

struct tmpl_tags {
    tag_t *tags;
    size_t ntags, cap;
    tg_buf pending;      /* since begin: size_t nlen, name, size_t vlen, value */
    tg_buf seen;         /* since begin: the names pending holds, NUL-ended */
    size_t nseen;
    size_t bytes;        /* value bytes kept this message */
    unsigned long serial;
};

int tmpl_is_capture(const char *pat)
{
    for (const char *p = pat; (p = strstr(p, "(?")) != NULL; p += 2) {
        const char *q = p + 2;
        if (*q == 'P')
            q++;
        if ((*q == '<' || *q == '\'') && q[1] >= 'A' && q[1] <= 'Z')
            return 1;
    }
    return 0;
}

static int is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Length of a valid tag name at s ([A-Z][A-Z0-9]*(_[A-Z0-9]+)*, the
 * longest run of [A-Z0-9_]), 0 if the run is not one. */
static size_t name_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && (is_upper(s[n]) || is_digit(s[n]) || s[n] == '_'))
        n++;
    if (!n || !is_upper(s[0]) || s[n - 1] == '_')
        return 0;
    for (size_t i = 1; i < n; i++)
        if (s[i] == '_' && s[i - 1] == '_')
            return 0;
    return n;
}

/* At p[i], a template %{NAME} or %{NAME(args)} not after a backslash:
 * returns its length and sets *nlen (NAME alone) and *flen (inside the
 * braces); 0 if none. */
static size_t template_at(const char *p, size_t i, size_t *nlen, size_t *flen)
{
    if (p[i] != '%' || p[i + 1] != '{' || (i > 0 && p[i - 1] == '\\'))
        return 0;
    const char *s = p + i + 2;
    size_t n = name_len(s, strlen(s)), k = n;
    if (!n)
        return 0;
    if (s[k] == '(') {
        k++;
        while (s[k] && s[k] != ')' && s[k] != '}')
            k++;
        if (s[k] != ')')
            return 0;
        k++;
    }
    if (s[k] != '}')
        return 0;
    *nlen = n;
    *flen = k;
    return k + 3;
}

static long find_name(const tmpl_t *t, const char *s, size_t n)
{
    for (size_t i = 0; i < t->nnames; i++)
        if (strlen(t->names[i]) == n && !memcmp(t->names[i], s, n))
            return (long)i;
    return -1;
}

static long add_name(tmpl_t *t, const char *s, size_t n)
{
    long k = find_name(t, s, n);
    if (k >= 0)
        return k;
    t->names = tg_realloc(t->names, (t->nnames + 1) * sizeof *t->names);
    t->names[t->nnames] = tg_strndup(s, n);
    return (long)t->nnames++;
}

static void add_piece(tmpl_t *t, const char *s, size_t n, long name)
{
    t->pieces = tg_realloc(t->pieces, (t->npieces + 1) * sizeof *t->pieces);
    t->pieces[t->npieces++] = (piece_t){tg_strndup(s, n), name};
}

/* End of the bracket class opening at p[i] (index after its ']'). */
static size_t skip_class(const char *p, size_t i)
{
    i++;
    if (p[i] == '^')
        i++;
    if (p[i] == ']')
        i++;
    while (p[i] && p[i] != ']')
        i += p[i] == '\\' && p[i + 1] ? 2 : 1;
    return p[i] ? i + 1 : i;
}

/* Marks t->req: the names with a template at the top level, not under
 * an optional repeat, in a pattern with no top-level alternation. Gives
 * up (nothing marked) wherever its reading of the pattern could differ
 * from PCRE2's: /x or inline x, \Q, \c, comments, verbs such as
 * (*ACCEPT), POSIX classes, or a template where tmpl_parse saw none. */
static void find_required(tmpl_t *t, const char *p, unsigned reflags)
{
    if ((reflags & CF_RE_X) || strstr(p, "\\Q") || strstr(p, "\\c") || strstr(p, "(*") ||
        strstr(p, "(?#") || strstr(p, "[:"))
        return;
    int depth = 0, alt = 0;
    size_t ntop = 0; /* templates seen at the top level, unquantified */
    size_t next_at = 0;
    unsigned char *cand = tg_calloc(t->nnames + 1, 1);
    for (size_t i = 0; p[i];) {
        size_t nl, fl, tl;
        if (p[i] == '\\') {
            if (p[i + 1] == 'Q' || !p[i + 1])
                goto out;
            i += 2;
        } else if (p[i] == '[') {
            i = skip_class(p, i);
        } else if (p[i] == '(') {
            if (p[i + 1] == '?') {
                size_t k = i + 2;
                if (p[k] == '#')
                    goto out;
                while (p[k] && p[k] != ':' && p[k] != ')' &&
                       (p[k] == '^' || p[k] == '-' || (p[k] >= 'a' && p[k] <= 'z'))) {
                    if (p[k] == 'x')
                        goto out;
                    k++;
                }
            }
            depth++;
            i++;
        } else if (p[i] == ')') {
            depth--;
            i++;
        } else if (p[i] == '|') {
            if (depth == 0)
                alt = 1;
            i++;
        } else if ((tl = template_at(p, i, &nl, &fl)) != 0) {
            while (next_at < t->nat && t->at[next_at] < i)
                next_at++;
            long k = find_name(t, p + i + 2, nl);
            if (next_at == t->nat || t->at[next_at] != i || k < 0)
                goto out; /* inside another template's (args) */
            char q = p[i + tl];
            int top = depth == 0 && q != '?' && q != '*' && q != '{';
            if (top)
                cand[k] = 1;
            ntop += top && q != '+';
            i += tl;
        } else {
            i++;
        }
    }
    if (!alt) {
        memcpy(t->req, cand, t->nnames);
        t->all_top = ntop == t->nat; /* none in a class or \Q...\E */
    }
out:
    free(cand);
}

tmpl_t *tmpl_parse(const char *pat, unsigned reflags)
{
    tmpl_t *t = NULL;
    size_t start = 0, i = 0;
    while (pat[i]) {
        size_t nl, fl, tl = template_at(pat, i, &nl, &fl);
        if (!tl) {
            i++;
            continue;
        }
        if (!t)
            t = tg_calloc(1, sizeof *t);
        if (i > start)
            add_piece(t, pat + start, i - start, -1);
        /* the piece keeps the whole "NAME(args)" for tmpl_escaped */
        add_piece(t, pat + i + 2, fl, add_name(t, pat + i + 2, nl));
        t->at = tg_realloc(t->at, (t->nat + 1) * sizeof *t->at);
        t->at[t->nat++] = i;
        i += tl;
        start = i;
    }
    if (!t)
        return NULL;
    if (i > start)
        add_piece(t, pat + start, i - start, -1);
    t->req = tg_calloc(t->nnames + 1, 1);
    find_required(t, pat, reflags);
    return t;
}

void tmpl_free(tmpl_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->npieces; i++)
        free(t->pieces[i].text);
    for (size_t i = 0; i < t->nnames; i++)
        free(t->names[i]);
    free(t->pieces);
    free(t->at);
    free(t->names);
    free(t->req);
    free(t);
}

char *tmpl_escaped(const tmpl_t *t)
{
    tg_buf b;
    tg_buf_init(&b);
    for (size_t i = 0; i < t->npieces; i++) {
        if (t->pieces[i].name < 0) {
            tg_buf_adds(&b, t->pieces[i].text);
        } else {
            tg_buf_adds(&b, "%\\{");
            tg_buf_adds(&b, t->pieces[i].text);
            tg_buf_adds(&b, "\\}");
        }
    }
    char *s = tg_strndup(b.s ? b.s : "", b.len);
    tg_buf_free(&b);
    return s;
}

char *tmpl_skeleton(const tmpl_t *t)
{
    if (!t->all_top)
        return NULL;
    tg_buf b;
    tg_buf_init(&b);
    for (size_t i = 0; i < t->npieces; i++)
        tg_buf_adds(&b, t->pieces[i].name < 0 ? t->pieces[i].text : "(?:[\\s\\S]*?)");
    char *s = tg_strndup(b.s ? b.s : "", b.len);
    tg_buf_free(&b);
    return s;
}

size_t tmpl_nnames(const tmpl_t *t) { return t->nnames; }
const char *tmpl_name(const tmpl_t *t, size_t i) { return t->names[i]; }
int tmpl_required(const tmpl_t *t, size_t i) { return t->req[i]; }

/* ---- tags ------------------------------------------------------------- */

tmpl_tags_t *tmpl_tags_new(void)
{
    tmpl_tags_t *g = tg_calloc(1, sizeof *g);
    tg_buf_init(&g->pending);
    tg_buf_init(&g->seen);
    return g;
}

void tmpl_tags_free(tmpl_tags_t *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->ntags; i++) {
        free(g->tags[i].name);
        tg_buf_free(&g->tags[i].vals);
    }
    free(g->tags);
    tg_buf_free(&g->pending);
    tg_buf_free(&g->seen);
    free(g);
}

void tmpl_tags_reset(tmpl_tags_t *g)
{
    for (size_t i = 0; i < g->ntags; i++) {
        tg_buf_reset(&g->tags[i].vals);
        g->tags[i].nvals = 0;
    }
    tg_buf_reset(&g->pending);
    tg_buf_reset(&g->seen);
    g->nseen = 0;
    g->bytes = 0;
}

static tag_t *find_tag(const tmpl_tags_t *g, const char *name, size_t n)
{
    for (size_t i = 0; i < g->ntags; i++)
        if (strlen(g->tags[i].name) == n && !memcmp(g->tags[i].name, name, n))
            return &g->tags[i];
    return NULL;
}

void tmpl_tags_begin(tmpl_tags_t *g)
{
    tg_buf_reset(&g->pending);
    tg_buf_reset(&g->seen);
    g->nseen = 0;
    g->serial++;
}

/* 1 if name has a record in pending since begin; else notes it (up to
 * TMPL_MAX_SEEN names) and returns 0. */
static int seen_name(tmpl_tags_t *g, const char *name, size_t nlen)
{
    for (size_t o = 0, k = 0; k < g->nseen; k++) {
        size_t n = strlen(g->seen.s + o);
        if (n == nlen && !memcmp(g->seen.s + o, name, nlen))
            return 1;
        o += n + 1;
    }
    if (g->nseen >= TMPL_MAX_SEEN)
        return 1;
    tg_buf_add(&g->seen, name, nlen);
    tg_buf_addc(&g->seen, '\0');
    g->nseen++;
    return 0;
}

void tmpl_tags_add(void *arg, const char *name, const char *val, size_t len)
{
    tmpl_tags_t *g = arg;
    size_t nlen = strlen(name);
    int seen = seen_name(g, name, nlen);
    if (g->bytes + g->pending.len + len + nlen + 2 * sizeof(size_t) > TMPL_MAX_BYTES) {
        /* past the bound: only the first record of a name (it still
         * resets the tag), so pending stays bounded */
        if (seen)
            return;
        len = 0;
    }
    tg_buf_add(&g->pending, &nlen, sizeof nlen);
    tg_buf_add(&g->pending, name, nlen);
    tg_buf_add(&g->pending, &len, sizeof len);
    if (len)
        tg_buf_add(&g->pending, val, len);
}

/* Steps through tag t's values: *o starts at 0; 1 with *v, *n set, or 0
 * past the last. */
static int next_value(const tag_t *t, size_t *o, const char **v, size_t *n)
{
    if (*o >= t->vals.len)
        return 0;
    memcpy(n, t->vals.s + *o, sizeof *n);
    *v = t->vals.s + *o + sizeof *n;
    *o += sizeof *n + *n;
    return 1;
}

static int has_value(const tag_t *t, const char *v, size_t len)
{
    const char *w;
    size_t o = 0, n;
    while (next_value(t, &o, &w, &n))
        if (n == len && !memcmp(w, v, len))
            return 1;
    return 0;
}

void tmpl_tags_commit(tmpl_tags_t *g)
{
    for (size_t o = 0; o < g->pending.len;) {
        size_t nlen, vlen;
        memcpy(&nlen, g->pending.s + o, sizeof nlen);
        const char *name = g->pending.s + o + sizeof nlen;
        o += sizeof nlen + nlen;
        memcpy(&vlen, g->pending.s + o, sizeof vlen);
        const char *val = g->pending.s + o + sizeof vlen;
        o += sizeof vlen + vlen;
        if (name_len(name, nlen) != nlen)
            continue; /* not a tag name (set_captures' check) */
        tag_t *t = find_tag(g, name, nlen);
        if (!t) {
            g->tags = tg_realloc(g->tags, (g->ntags + 1) * sizeof *g->tags);
            t = &g->tags[g->ntags++];
            memset(t, 0, sizeof *t);
            t->name = tg_strndup(name, nlen);
            tg_buf_init(&t->vals);
        }
        if (t->serial != g->serial) { /* first value of this commit */
            t->serial = g->serial;
            g->bytes -= t->vals.len < g->bytes ? t->vals.len : g->bytes;
            tg_buf_reset(&t->vals);
            t->nvals = 0;
        }
        if (!vlen || t->nvals >= TMPL_MAX_VALUES || has_value(t, val, vlen))
            continue;
        tg_buf_add(&t->vals, &vlen, sizeof vlen);
        tg_buf_add(&t->vals, val, vlen);
        t->nvals++;
        g->bytes += sizeof vlen + vlen;
    }
    tg_buf_reset(&g->pending);
    tg_buf_reset(&g->seen);
    g->nseen = 0;
}

size_t tmpl_tags_count(const tmpl_tags_t *g, const char *name)
{
    const tag_t *t = find_tag(g, name, strlen(name));
    return t ? t->nvals : 0;
}

static char fold(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* 1 if v[0..n) occurs in s[0..len) ignoring ASCII case, in time linear
 * in len + n: the text is folded chunk by chunk (overlapping by n - 1)
 * and searched with memmem. For values that come from messages. */
static int contains_fold(const char *s, size_t len, const char *v, size_t n)
{
    if (n <= 16)
        return tg_memcasemem(s, len, v, n) != NULL; /* at most 16 compares a byte */
    if (n > len)
        return 0;
    /* on the stack for the usual values (an address): this runs on every
     * URI of a message with a To: address (T_GB_STORAGE_GOOGLE_EMAIL's
     * %{GB_TO_ADDR}), and two mallocs a string were most of its cost */
    enum { CHUNK = 4096, SMALL = 256 };
    char lvs[SMALL], bufs[CHUNK + SMALL];
    int small = n <= SMALL;
    char *lv = small ? lvs : tg_malloc(n), *buf = small ? bufs : tg_malloc(CHUNK + n);
    for (size_t i = 0; i < n; i++)
        lv[i] = fold(v[i]);
    int found = 0;
    for (size_t off = 0; off < len && !found; off += CHUNK) {
        size_t m = len - off < CHUNK + n - 1 ? len - off : CHUNK + n - 1;
        if (m < n)
            break;
        for (size_t i = 0; i < m; i++)
            buf[i] = fold(s[off + i]);
        found = memmem(buf, m, lv, n) != NULL;
    }
    if (!small) {
        free(lv);
        free(buf);
    }
    return found;
}

int tmpl_tags_maybe_in(const tmpl_tags_t *g, const char *name, const char *s, size_t len)
{
    const tag_t *t = find_tag(g, name, strlen(name));
    if (!t)
        return 0;
    const char *v;
    size_t o = 0, n;
    while (next_value(t, &o, &v, &n)) {
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)v[k] >= 0x80)
                return 1;
        if (n <= len && contains_fold(s, len, v, n))
            return 1;
    }
    return 0;
}

/* Perl's quotemeta for a byte string: a backslash before every byte but
 * [A-Za-z0-9_]; NUL as \x00 (the pattern is a C string). */
static void quotemeta(tg_buf *out, const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_') {
            tg_buf_addc(out, (char)c);
        } else if (!c) {
            tg_buf_adds(out, "\\x00");
        } else {
            tg_buf_addc(out, '\\');
            tg_buf_addc(out, (char)c);
        }
    }
}

int tmpl_build(const tmpl_t *t, const tmpl_tags_t *tags, tg_buf *out)
{
    tg_buf_reset(out);
    for (size_t i = 0; i < t->npieces; i++) {
        const piece_t *p = &t->pieces[i];
        if (p->name < 0) {
            tg_buf_adds(out, p->text);
            continue;
        }
        const char *nm = t->names[p->name];
        const tag_t *g = find_tag(tags, nm, strlen(nm));
        if (!g || !g->nvals)
            return -1;
        tg_buf_adds(out, "(?:");
        const char *v;
        size_t o = 0, n;
        for (size_t k = 0; next_value(g, &o, &v, &n); k++) {
            if (k)
                tg_buf_addc(out, '|');
            quotemeta(out, v, n);
        }
        tg_buf_addc(out, ')');
    }
    tg_buf_addc(out, '\0');
    out->len--;
    return 0;
}
