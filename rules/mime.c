#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "mime.h"

#include <stdlib.h>
#include <string.h>

#include "charset.h"

/* Hard ceiling on nesting whatever the configured limit says: the parser
 * recurses once per level. */
#define MIME_DEPTH_CEILING 100

struct mime_tree {
    hdr_list_t *top;
    size_t body_off;
    mime_leaf_t *leaves;
    size_t nleaves, cap;
    hdr_list_t **hdrs;  /* every header list, owned */
    size_t nhdrs, hcap;
    char **bufs;        /* every owned string / decoded buffer */
    size_t nbufs, bcap;
    const msg_limits_t *lim;
    unsigned *bits;
    unsigned nparts;
    unsigned depth_cap;
};

/* ---- codecs ---------------------------------------------------------- */

/* Base64 alphabet value of each byte; B64_PAD for '=', B64_SPACE for the
 * white space the decoder skips, -1 for junk. */
enum { B64_PAD = 64, B64_SPACE = 65 };
static const signed char b64tab[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, 65, 65, 65, 65, 65, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    65, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, 64, -1, -1,
    -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/* Util::base64_decode: input that is clean base64 (after dropping
 * whitespace) decodes strictly, with '=' inside the data read as 'A';
 * anything else has its junk dropped, trailing '=' removed, inner '='
 * read as 63 and a dangling last character ignored. */
int mime_b64_decode(const char *in, size_t n, tg_buf *out)
{
    size_t clean = 0, last_data = 0;
    int junk = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64tab[(unsigned char)in[i]];
        if (v < B64_PAD) {
            if (v < 0) {
                junk = 1;
                continue;
            }
            last_data = ++clean;
        } else if (v == B64_PAD) {
            clean++;
        }
    }
    /* strict form: length % 4 == 0, at most two '=' at the end */
    int strict = !junk && clean % 4 == 0 && clean - last_data <= 2 && clean >= 2;
    size_t use = strict ? clean : last_data; /* trailing '=' go */
    if (!strict && use % 4 == 1)
        use--;
    tg_buf_reserve(out, use / 4 * 3 + 3);
    unsigned acc = 0, nb = 0;
    size_t seen = 0;
    char tmp[3072];
    size_t t = 0;
    for (size_t i = 0; i < n && seen < use; i++) {
        int v = b64tab[(unsigned char)in[i]];
        if (v < 0 || v == B64_SPACE)
            continue;
        seen++;
        if (v == B64_PAD) {
            if (strict && seen > last_data)
                break; /* final padding */
            v = strict ? 0 : 63;
        }
        acc = (acc << 6) | (unsigned)v;
        if (++nb == 4) {
            tmp[t++] = (char)(acc >> 16);
            tmp[t++] = (char)(acc >> 8);
            tmp[t++] = (char)acc;
            nb = 0;
            acc = 0;
            if (t + 3 > sizeof tmp) {
                tg_buf_add(out, tmp, t);
                t = 0;
            }
        }
    }
    if (nb == 2) {
        tmp[t++] = (char)(acc >> 4);
    } else if (nb == 3) {
        tmp[t++] = (char)(acc >> 10);
        tmp[t++] = (char)(acc >> 2);
    }
    tg_buf_add(out, tmp, t);
    return (strict || clean == 0) ? 0 : -1;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void mime_qp_decode(const char *in, size_t n, tg_buf *out)
{
    tg_buf_reserve(out, n); /* decoding never lengthens */
    size_t i = 0;
    while (i < n) {
        /* one line at a time: trailing blanks go, "=\n" joins */
        const char *nl = memchr(in + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - in) : n;
        size_t e = end;
        if (nl) {
            if (e > i && in[e - 1] == '\r')
                e--;
            while (e > i && (in[e - 1] == ' ' || in[e - 1] == '\t'))
                e--;
        }
        int soft = 0;
        if (nl && e > i && in[e - 1] == '=') {
            soft = 1;
            e--;
        }
        for (size_t j = i; j < e;) {
            const char *eq = memchr(in + j, '=', e - j);
            size_t k = eq ? (size_t)(eq - in) : e;
            tg_buf_add(out, in + j, k - j);
            if (k == e)
                break;
            int h1, h2;
            if (k + 2 < e && (h1 = hexval((unsigned char)in[k + 1])) >= 0 &&
                (h2 = hexval((unsigned char)in[k + 2])) >= 0) {
                tg_buf_addc(out, (char)(h1 * 16 + h2));
                j = k + 3;
            } else {
                tg_buf_addc(out, '=');
                j = k + 1;
            }
        }
        if (!nl)
            break;
        if (!soft)
            tg_buf_addc(out, '\n');
        i = end + 1;
    }
}

/* ---- parameters ------------------------------------------------------ */

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
           c == '\v';
}

/* Calls back for each "name=value" parameter after the first ';'. The value
 * is unquoted (quoted-pairs resolved into tmp). */
typedef void (*param_cb)(void *ctx, const char *name, size_t nlen,
                         const char *val, size_t vlen);

static void param_walk(const char *v, size_t n, param_cb cb, void *ctx)
{
    size_t i = 0;
    int inq = 0;
    while (i < n && (v[i] != ';' || inq)) { /* skip the media type */
        if (v[i] == '"')
            inq = !inq;
        i++;
    }
    tg_buf val;
    tg_buf_init(&val);
    while (i < n) {
        i++; /* ';' */
        while (i < n && (is_ws(v[i]) || v[i] == ';'))
            i++;
        size_t ns = i;
        while (i < n && v[i] != '=' && v[i] != ';' && !is_ws(v[i]))
            i++;
        size_t ne = i;
        while (i < n && is_ws(v[i]))
            i++;
        if (i >= n || v[i] != '=') {
            while (i < n && v[i] != ';')
                i++;
            continue;
        }
        i++;
        while (i < n && is_ws(v[i]))
            i++;
        tg_buf_reset(&val);
        if (i < n && v[i] == '"') {
            i++;
            while (i < n && v[i] != '"') {
                if (v[i] == '\\' && i + 1 < n)
                    i++;
                tg_buf_addc(&val, v[i]);
                i++;
            }
            if (i < n)
                i++;
            while (i < n && v[i] != ';')
                i++;
        } else {
            size_t vs = i;
            while (i < n && v[i] != ';')
                i++;
            size_t ve = i;
            while (ve > vs && is_ws(v[ve - 1]))
                ve--;
            if (ve > vs && (v[ve - 1] == '"' || v[ve - 1] == '\''))
                ve--;
            if (ve > vs && v[vs] == '\'')
                vs++;
            tg_buf_add(&val, v + vs, ve - vs);
        }
        if (ne > ns)
            cb(ctx, v + ns, ne - ns, val.s ? val.s : "", val.len);
    }
    tg_buf_free(&val);
}

#define MAX_SEGMENTS 64

struct param_find {
    const char *name;
    size_t nlen;
    int plain_found;
    tg_buf plain;
    int ext_found;
    tg_buf ext;                 /* name*= */
    tg_buf seg[MAX_SEGMENTS];   /* name*N= / name*N*= */
    unsigned char seg_enc[MAX_SEGMENTS];
    unsigned char seg_set[MAX_SEGMENTS];
};

static void param_find_cb(void *ctx, const char *name, size_t nlen,
                          const char *val, size_t vlen)
{
    struct param_find *f = ctx;
    if (nlen < f->nlen || tg_strncasecmp(name, f->name, f->nlen) != 0)
        return;
    const char *rest = name + f->nlen;
    size_t rl = nlen - f->nlen;
    if (rl == 0) {
        if (!f->plain_found) {
            f->plain_found = 1;
            tg_buf_add(&f->plain, val, vlen);
        }
        return;
    }
    if (rest[0] != '*')
        return;
    if (rl == 1) {
        if (!f->ext_found) {
            f->ext_found = 1;
            tg_buf_add(&f->ext, val, vlen);
        }
        return;
    }
    unsigned idx = 0;
    size_t k = 1;
    while (k < rl && rest[k] >= '0' && rest[k] <= '9' && idx < 1000)
        idx = idx * 10 + (unsigned)(rest[k++] - '0');
    if (k == 1 || idx >= MAX_SEGMENTS)
        return;
    int enc = 0;
    if (k < rl && rest[k] == '*')
        enc = 1, k++;
    if (k != rl || f->seg_set[idx])
        return;
    f->seg_set[idx] = 1;
    f->seg_enc[idx] = (unsigned char)enc;
    tg_buf_add(&f->seg[idx], val, vlen);
}

static void pct_decode(const char *s, size_t n, tg_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        int h1, h2;
        if (s[i] == '%' && i + 2 < n &&
            (h1 = hexval((unsigned char)s[i + 1])) >= 0 &&
            (h2 = hexval((unsigned char)s[i + 2])) >= 0) {
            tg_buf_addc(out, (char)(h1 * 16 + h2));
            i += 2;
        } else {
            tg_buf_addc(out, s[i]);
        }
    }
}

/* "charset'lang'%XX..." -> UTF-8 */
static void rfc2231_value(const char *v, size_t n, int with_charset,
                          tg_buf *out)
{
    const char *cs = "";
    size_t cl = 0;
    if (with_charset) {
        const char *q1 = memchr(v, '\'', n);
        const char *q2 = q1 ? memchr(q1 + 1, '\'', n - (size_t)(q1 + 1 - v)) : NULL;
        if (q2) {
            cs = v;
            cl = (size_t)(q1 - v);
            n -= (size_t)(q2 + 1 - v);
            v = q2 + 1;
        }
    }
    tg_buf raw;
    tg_buf_init(&raw);
    pct_decode(v, n, &raw);
    charset_to_utf8(cs, cl, raw.s ? raw.s : "", raw.len, out, 1);
    tg_buf_free(&raw);
}

int mime_param(const char *v, size_t n, const char *name, tg_buf *out)
{
    struct param_find f;
    memset(&f, 0, sizeof f);
    f.name = name;
    f.nlen = strlen(name);
    param_walk(v, n, param_find_cb, &f);
    int found = 0;
    if (f.plain_found) {
        tg_buf_add(out, f.plain.s ? f.plain.s : "", f.plain.len);
        found = 1;
    } else if (f.ext_found) {
        rfc2231_value(f.ext.s ? f.ext.s : "", f.ext.len, 1, out);
        found = 1;
    } else if (f.seg_set[0]) {
        /* charset comes from segment 0; encoded segments are %-decoded
         * together so that multi-byte characters may span segments */
        const char *cs = "";
        size_t cl = 0;
        tg_buf raw;
        tg_buf_init(&raw);
        for (unsigned i = 0; i < MAX_SEGMENTS && f.seg_set[i]; i++) {
            const char *s = f.seg[i].s ? f.seg[i].s : "";
            size_t sl = f.seg[i].len;
            if (i == 0 && f.seg_enc[0]) {
                const char *q1 = memchr(s, '\'', sl);
                const char *q2 = q1 ? memchr(q1 + 1, '\'', sl - (size_t)(q1 + 1 - s)) : NULL;
                if (q2) {
                    cs = s;
                    cl = (size_t)(q1 - s);
                    sl -= (size_t)(q2 + 1 - s);
                    s = q2 + 1;
                }
            }
            if (f.seg_enc[i])
                pct_decode(s, sl, &raw);
            else
                tg_buf_add(&raw, s, sl);
        }
        charset_to_utf8(cs, cl, raw.s ? raw.s : "", raw.len, out, 1);
        tg_buf_free(&raw);
        found = 1;
    }
    tg_buf_free(&f.plain);
    tg_buf_free(&f.ext);
    for (unsigned i = 0; i < MAX_SEGMENTS; i++)
        tg_buf_free(&f.seg[i]);
    return found;
}

void mime_media_type(const char *v, size_t n, tg_buf *out)
{
    size_t i = 0;
    while (i < n && is_ws(v[i]))
        i++;
    size_t s = i;
    while (i < n && v[i] != ';' && v[i] != '/')
        i++;
    if (i < n && v[i] == '/') {
        i++;
        while (i < n && v[i] != ';' && v[i] != '/' && !is_ws(v[i]))
            i++;
    }
    size_t e = i;
    while (e > s && is_ws(v[e - 1]))
        e--;
    for (size_t k = s; k < e; k++) {
        char c = v[k];
        tg_buf_addc(out, (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c);
    }
}

/* ---- header blocks --------------------------------------------------- */

static int field_name_ok(const char *l, size_t n, size_t *colon)
{
    size_t i = 0;
    while (i < n && (unsigned char)l[i] >= 041 && (unsigned char)l[i] <= 0176 &&
           l[i] != ':')
        i++;
    if (i == 0)
        return 0;
    size_t j = i;
    while (j < n && (l[j] == ' ' || l[j] == '\t'))
        j++;
    if (j < n && l[j] == ':') {
        *colon = j;
        return 1;
    }
    return 0;
}

/* Adds the field in [f, f+n) (name ':' value, folding included) to h. */
static void add_field(const char *f, size_t n, int top, const msg_limits_t *lim,
                      hdr_list_t *h, unsigned *bits)
{
    const char *c = memchr(f, ':', n);
    if (!c)
        return;
    if (hdr_count(h) >= lim->max_headers) {
        *bits |= MSG_LIMIT_HEADERS;
        return;
    }
    size_t nl = (size_t)(c - f);
    while (nl && (f[nl - 1] == ' ' || f[nl - 1] == '\t'))
        nl--;
    const char *v = c + 1;
    size_t vl = n - (size_t)(v - f);
    if (!top) {
        while (vl && is_ws(*v))
            v++, vl--;
    }
    if (vl > lim->max_header_len) {
        vl = lim->max_header_len;
        *bits |= MSG_LIMIT_HEADER_LEN;
    }
    hdr_list_add(h, f, nl, v, vl);
}

size_t mime_split_headers(const char *buf, size_t n, int top,
                          const msg_limits_t *lim, hdr_list_t *h,
                          unsigned *bits)
{
    size_t pos = 0;
    if (top && n >= 5 && memcmp(buf, "From", 4) == 0 &&
        (buf[4] == ' ' || buf[4] == '\t')) {
        size_t k = 4;
        while (k < n && is_ws(buf[k]) && buf[k] != '\n')
            k++;
        if (k >= n || buf[k] != ':') {
            const char *nl = memchr(buf, '\n', n);
            pos = nl ? (size_t)(nl - buf) + 1 : n;
        }
    }
    size_t fstart = 0, fend = 0;
    int have = 0, errors = 0;
    size_t body = n;
    while (pos < n) {
        const char *l = buf + pos;
        const char *nlp = memchr(l, '\n', n - pos);
        size_t ll = nlp ? (size_t)(nlp - l) : n - pos; /* without '\n' */
        size_t next = nlp ? pos + ll + 1 : n;
        if (ll > 0 && (l[0] == ' ' || l[0] == '\t')) {
            if (have)
                fend = pos + ll;
            pos = next;
            continue;
        }
        if (have) {
            add_field(buf + fstart, fend - fstart, top, lim, h, bits);
            have = 0;
        }
        size_t colon;
        if (ll == 0 || (ll == 1 && l[0] == '\r')) {
            body = next;
            break;
        }
        if (top) {
            if (ll >= 2 && l[0] == '-' && l[1] == '-') {
                *bits |= MSG_MIME_ERROR;
                body = pos;
                break;
            }
            if (!field_name_ok(l, ll, &colon)) {
                *bits |= MSG_MIME_ERROR;
                if (++errors > 3) {
                    body = pos;
                    break;
                }
            }
        } else if (!field_name_ok(l, ll, &colon)) {
            body = pos; /* no blank line: the body starts here */
            *bits |= MSG_MIME_ERROR;
            break;
        }
        fstart = pos;
        fend = pos + ll;
        have = 1;
        pos = next;
    }
    if (have)
        add_field(buf + fstart, fend - fstart, top, lim, h, bits);
    if (pos >= n && body > n)
        body = n;
    return body;
}

/* ---- tree ------------------------------------------------------------ */

static const char *keep(mime_tree_t *t, tg_buf *b)
{
    char *s = tg_buf_steal(b);
    tg_grow(&t->bufs, &t->bcap, t->nbufs + 1, sizeof *t->bufs);
    t->bufs[t->nbufs++] = s;
    return s;
}

static hdr_list_t *new_hdrs(mime_tree_t *t)
{
    hdr_list_t *h = hdr_list_new();
    tg_grow(&t->hdrs, &t->hcap, t->nhdrs + 1, sizeof *t->hdrs);
    t->hdrs[t->nhdrs++] = h;
    return h;
}

static msg_str_t str_of(mime_tree_t *t, tg_buf *b)
{
    msg_str_t s;
    s.len = b->len;
    s.ptr = keep(t, b);
    return s;
}

/* 1 if line [l, l+n) is "--boundary" (close=0) or "--boundary--" (close=1)
 * followed only by whitespace. */
static int is_boundary(const char *l, size_t n, const char *b, size_t bl,
                       int *close)
{
    if (n < bl + 2 || l[0] != '-' || l[1] != '-' || memcmp(l + 2, b, bl) != 0)
        return 0;
    size_t i = bl + 2;
    *close = 0;
    if (i + 1 < n && l[i] == '-' && l[i + 1] == '-') {
        *close = 1;
        i += 2;
    }
    for (; i < n; i++)
        if (!is_ws(l[i]))
            return 0;
    return 1;
}

struct ctinfo {
    tg_buf type, boundary, charset;
    int missing;
};

static void ct_parse(const hdr_list_t *h, struct ctinfo *ci)
{
    tg_buf_init(&ci->type);
    tg_buf_init(&ci->boundary);
    tg_buf_init(&ci->charset);
    const msg_str_t *ct = hdr_last(h, "content-type");
    ci->missing = 1;
    if (ct && ct->len) {
        mime_media_type(ct->ptr, ct->len, &ci->type);
        mime_param(ct->ptr, ct->len, "boundary", &ci->boundary);
        if (mime_param(ct->ptr, ct->len, "charset", &ci->charset))
            for (size_t i = 0; i < ci->charset.len; i++)
                if (ci->charset.s[i] >= 'A' && ci->charset.s[i] <= 'Z')
                    ci->charset.s[i] += 32;
        ci->missing = ci->type.len == 0;
    }
    if (ci->type.len == 0)
        tg_buf_adds(&ci->type, "text/plain");
    else if (!memchr(ci->type.s, '/', ci->type.len) &&
             strncmp(ci->type.s, "text", 4) == 0) {
        tg_buf_reset(&ci->type);
        tg_buf_adds(&ci->type, "text/plain");
    }
}

static void ct_free(struct ctinfo *ci)
{
    tg_buf_free(&ci->type);
    tg_buf_free(&ci->boundary);
    tg_buf_free(&ci->charset);
}

static int starts(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    return n >= pl && memcmp(s, p, pl) == 0;
}

static int ends_ci(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    return n >= pl && tg_strncasecmp(s + n - pl, p, pl) == 0;
}

static void entity(mime_tree_t *t, hdr_list_t *h, const char *body, size_t n,
                   unsigned depth, const char *inh_bnd, size_t inh_bl,
                   int forced_rfc822);

static void add_leaf(mime_tree_t *t, hdr_list_t *h, struct ctinfo *ci,
                     const char *body, size_t n, unsigned depth)
{
    mime_leaf_t lf;
    memset(&lf, 0, sizeof lf);
    lf.hdrs = h;
    lf.depth = depth;
    tg_buf b;
    tg_buf_init(&b);

    tg_buf_add(&b, ci->type.s, ci->type.len);
    lf.type = str_of(t, &b);
    tg_buf_add(&b, ci->charset.s ? ci->charset.s : "", ci->charset.len);
    lf.charset = str_of(t, &b);

    const msg_str_t *cd = hdr_last(h, "content-disposition");
    const msg_str_t *ct = hdr_last(h, "content-type");
    int have_name = 0;
    if (cd && cd->len)
        have_name = mime_param(cd->ptr, cd->len, "filename", &b) && b.len;
    if (!have_name) {
        tg_buf_reset(&b);
        if (ct && ct->len)
            have_name = mime_param(ct->ptr, ct->len, "name", &b) && b.len;
    }
    if (have_name) {
        /* names are often RFC 2047 encoded inside the quotes */
        tg_buf dec;
        tg_buf_init(&dec);
        hdr_decode_2047(b.s, b.len, &dec);
        tg_buf_free(&b);
        b = dec;
    }
    lf.filename = str_of(t, &b);
    lf.is_attachment = lf.filename.len > 0;
    if (cd && cd->len) {
        size_t i = 0;
        while (i < cd->len && is_ws(cd->ptr[i]))
            i++;
        if (cd->len - i >= 10 && tg_strncasecmp(cd->ptr + i, "attachment", 10) == 0)
            lf.is_attachment = 1;
    }

    /* SpamAssassin's notion of the type, used for rendering decisions */
    const char *sa = ci->type.s;
    if (starts(sa, ci->type.len, "text") &&
        strcmp(sa, "text/html") != 0 && strcmp(sa, "text/calendar") != 0 &&
        strcmp(sa, "text/x-vcard") != 0)
        sa = "text/plain";
    if (ends_ci(lf.filename.ptr, lf.filename.len, ".html") ||
        ends_ci(lf.filename.ptr, lf.filename.len, ".htm") ||
        ends_ci(lf.filename.ptr, lf.filename.len, ".shtml") ||
        ends_ci(lf.filename.ptr, lf.filename.len, ".shtm"))
        sa = "text/html";
    tg_buf_adds(&b, sa);
    lf.sa_type = str_of(t, &b);

    /* transfer decoding */
    const msg_str_t *cte = hdr_last(h, "content-transfer-encoding");
    size_t cl = cte ? cte->len : 0;
    const char *cv = cte ? cte->ptr : "";
    if (cl == 16 && tg_strncasecmp(cv, "quoted-printable", 16) == 0) {
        mime_qp_decode(body, n, &b);
    } else if (cl == 6 && tg_strncasecmp(cv, "base64", 6) == 0) {
        if (mime_b64_decode(body, n, &b) < 0)
            *t->bits |= MSG_MIME_ERROR;
        if (starts(ci->type.s, ci->type.len, "text") ||
            starts(ci->type.s, ci->type.len, "message")) {
            size_t w = 0;
            for (size_t r = 0; r < b.len; r++) {
                if (b.s[r] == '\r' && r + 1 < b.len && b.s[r + 1] == '\n')
                    continue;
                b.s[w++] = b.s[r];
            }
            b.len = w;
            if (b.s)
                b.s[w] = '\0';
        }
    } else {
        tg_buf_add(&b, body, n);
    }
    lf.decoded = str_of(t, &b);

    int nested = (strcmp(ci->type.s, "message/rfc822") == 0 ||
                  strcmp(ci->type.s, "message/global") == 0) &&
                 lf.decoded.len > 0;
    if (nested && depth + 1 <= t->depth_cap) {
        hdr_list_t *nh = new_hdrs(t);
        size_t off = mime_split_headers(lf.decoded.ptr, lf.decoded.len, 1,
                                        t->lim, nh, t->bits);
        entity(t, nh, lf.decoded.ptr + off, lf.decoded.len - off, depth + 1,
               NULL, 0, 0);
        return;
    }
    if (nested)
        *t->bits |= MSG_LIMIT_DEPTH;
    tg_grow(&t->leaves, &t->cap, t->nleaves + 1, sizeof *t->leaves);
    t->leaves[t->nleaves++] = lf;
}

static void multipart(mime_tree_t *t, const char *body, size_t n,
                      unsigned depth, const char *bnd, size_t bl, int digest,
                      int top)
{
    size_t pos = 0, start = 0;
    int found_open = 0, closed = 0, cl;
    while (pos < n) {
        const char *nl = memchr(body + pos, '\n', n - pos);
        size_t ll = nl ? (size_t)(nl - body) - pos : n - pos;
        if (is_boundary(body + pos, ll, bnd, bl, &cl) && !cl) {
            found_open = 1;
            start = nl ? pos + ll + 1 : n;
            break;
        }
        pos = nl ? pos + ll + 1 : n;
    }
    if (!found_open)
        start = 0;
    size_t part_start = start;
    pos = start;
    int no_headers = !found_open && top;
    while (pos < n) {
        const char *nl = memchr(body + pos, '\n', n - pos);
        size_t ll = nl ? (size_t)(nl - body) - pos : n - pos;
        size_t next = nl ? pos + ll + 1 : n;
        if (is_boundary(body + pos, ll, bnd, bl, &cl)) {
            size_t pe = pos;
            if (pe > part_start && body[pe - 1] == '\n')
                pe--;
            if (t->nparts >= t->lim->max_parts) {
                *t->bits |= MSG_LIMIT_PARTS;
                return;
            }
            t->nparts++;
            hdr_list_t *h = new_hdrs(t);
            size_t off = mime_split_headers(body + part_start, pe - part_start,
                                            0, t->lim, h, t->bits);
            entity(t, h, body + part_start + off, pe - part_start - off,
                   depth + 1, bnd, bl, digest);
            if (cl) {
                closed = 1;
                break;
            }
            part_start = next;
        }
        pos = next;
    }
    if (!closed) {
        *t->bits |= MSG_MIME_ERROR;
        if (part_start < n) {
            if (t->nparts >= t->lim->max_parts) {
                *t->bits |= MSG_LIMIT_PARTS;
                return;
            }
            t->nparts++;
            hdr_list_t *h = new_hdrs(t);
            size_t off = 0;
            if (no_headers) {
                if (body[0] == '\n')
                    off = 1;
            } else {
                off = mime_split_headers(body + part_start, n - part_start, 0,
                                         t->lim, h, t->bits);
            }
            entity(t, h, body + part_start + off, n - part_start - off,
                   depth + 1, bnd, bl, digest);
        }
    }
}

/* One entity with headers h and body [body, body+n). forced_rfc822: a
 * multipart/digest child without a Content-Type. */
static void entity(mime_tree_t *t, hdr_list_t *h, const char *body, size_t n,
                   unsigned depth, const char *inh_bnd, size_t inh_bl,
                   int forced_rfc822)
{
    struct ctinfo ci;
    ct_parse(h, &ci);
    if (ci.missing && forced_rfc822) {
        tg_buf_reset(&ci.type);
        tg_buf_adds(&ci.type, "message/rfc822");
    }
    int is_multi = starts(ci.type.s, ci.type.len, "multipart/");
    const char *bnd = ci.boundary.len ? ci.boundary.s : inh_bnd;
    size_t bl = ci.boundary.len ? ci.boundary.len : inh_bl;
    if (is_multi && bnd && bl) {
        if (depth + 1 > t->depth_cap) {
            *t->bits |= MSG_LIMIT_DEPTH;
            add_leaf(t, h, &ci, body, n, depth);
        } else {
            /* the boundary must outlive ci: children may inherit it */
            tg_buf bb;
            tg_buf_init(&bb);
            tg_buf_add(&bb, bnd, bl);
            const char *kb = keep(t, &bb);
            multipart(t, body, n, depth, kb, bl,
                      strcmp(ci.type.s, "multipart/digest") == 0, depth == 0);
        }
    } else {
        if (is_multi) {
            tg_buf_reset(&ci.type);
            tg_buf_adds(&ci.type, "text/plain");
            *t->bits |= MSG_MIME_ERROR;
        }
        add_leaf(t, h, &ci, body, n, depth);
    }
    ct_free(&ci);
}

static int blank_line(const char *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_ws(l[i]))
            return 0;
    return 1;
}

/* Message.pm keeps at most 20 of a run of blank lines in the top-level
 * body (21 at its very start): the 1st (and 2nd) and the last 19. Returns
 * b itself when nothing needs cutting, else a copy owned by t. */
static const char *squash_blank_runs(mime_tree_t *t, const char *b, size_t n,
                                     size_t *outn)
{
    tg_buf o;
    tg_buf_init(&o);
    int changed = 0;
    size_t pos = 0, run_start = 0, run_len = 0, copied = 0;
    int at_start = 1;
    while (pos <= n) {
        const char *nl = pos < n ? memchr(b + pos, '\n', n - pos) : NULL;
        size_t next = nl ? (size_t)(nl - b) + 1 : n;
        int blank = pos < n && blank_line(b + pos, next - pos);
        if (blank) {
            if (run_len++ == 0)
                run_start = pos;
        }
        if (!blank || pos >= n || next >= n) {
            size_t head = at_start && run_start == 0 ? 2 : 1;
            size_t run_end = blank ? next : pos;
            if (run_len > 20) {
                /* keep `head` lines, drop the middle, keep the last 19 */
                size_t p = run_start, k = 0, cut_from = 0, cut_to = 0;
                for (; k < run_len; k++) {
                    const char *e = memchr(b + p, '\n', run_end - p);
                    size_t q = e ? (size_t)(e - b) + 1 : run_end;
                    if (k == head)
                        cut_from = p;
                    if (k == run_len - 19) {
                        cut_to = p;
                        break;
                    }
                    p = q;
                }
                if (cut_to > cut_from) {
                    tg_buf_add(&o, b + copied, cut_from - copied);
                    copied = cut_to;
                    changed = 1;
                }
            }
            run_len = 0;
            if (!blank)
                at_start = 0;
        }
        if (pos >= n)
            break;
        pos = next;
    }
    if (!changed) {
        tg_buf_free(&o);
        *outn = n;
        return b;
    }
    tg_buf_add(&o, b + copied, n - copied);
    *outn = o.len;
    return keep(t, &o);
}

mime_tree_t *mime_parse(const char *buf, size_t n, const msg_limits_t *lim,
                        unsigned *bits)
{
    mime_tree_t *t = tg_calloc(1, sizeof *t);
    t->lim = lim;
    t->bits = bits;
    t->depth_cap = lim->max_depth < MIME_DEPTH_CEILING ? lim->max_depth
                                                       : MIME_DEPTH_CEILING;
    t->top = new_hdrs(t);
    t->body_off = mime_split_headers(buf, n, 1, lim, t->top, bits);
    size_t bn;
    const char *body = squash_blank_runs(t, buf + t->body_off, n - t->body_off, &bn);
    entity(t, t->top, body, bn, 0, NULL, 0, 0);
    return t;
}

void mime_free(mime_tree_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nhdrs; i++)
        hdr_list_free(t->hdrs[i]);
    for (size_t i = 0; i < t->nbufs; i++)
        free(t->bufs[i]);
    free(t->hdrs);
    free(t->bufs);
    free(t->leaves);
    free(t);
}

const hdr_list_t *mime_headers(const mime_tree_t *t)
{
    return t->top;
}

size_t mime_body_offset(const mime_tree_t *t)
{
    return t->body_off;
}

/* new_hdrs registers each entity's list as the walk meets it, which is
 * pre-order: a part's list before its children's. */
size_t mime_nnodes(const mime_tree_t *t)
{
    return t->nhdrs;
}

const hdr_list_t *mime_node_headers(const mime_tree_t *t, size_t i)
{
    return i < t->nhdrs ? t->hdrs[i] : NULL;
}

size_t mime_nleaves(const mime_tree_t *t)
{
    return t->nleaves;
}

const mime_leaf_t *mime_leaf_at(const mime_tree_t *t, size_t i)
{
    return i < t->nleaves ? &t->leaves[i] : NULL;
}
