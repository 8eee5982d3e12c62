#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "msg.h"

#include <stdlib.h>
#include <string.h>

#include "charset.h"
#include "hdr.h"
#include "html.h"
#include "mime.h"
#include "uri.h"

/* SpamAssassin 4.0.1 constants (Constants.pm, Conf.pm defaults). */
#define MAX_BODY_LINE_LENGTH 2048
#define BODY_PART_SCAN_SIZE 50000
#define RAWBODY_PART_SCAN_SIZE 500000
#define MAX_URI_LENGTH 8192
/* Ceiling on the kept header block whatever max_headers x max_header_len
 * allows. */
#define HEADER_BLOCK_CAP (8u << 20)

struct msg {
    unsigned views;            /* MSG_VIEW_* to build at finish */
    msg_limits_t lim;
    size_t size;        /* bytes fed */
    unsigned bits;
    tg_buf full;        /* kept bytes, LF line ends */
    /* feed state */
    int in_body;
    int pending_cr;
    int line_start;
    unsigned nhdr;
    size_t cur_hdr_len;
    size_t hdr_kept, hdr_cap;
    size_t body_kept;
    char *envfrom;
    int finished;
    /* views */
    mime_tree_t *tree;
    tg_buf arena;       /* body lines, rawbody chunks, URIs; NUL after each */
    msg_str_t *lines, *raw, *uris;
    size_t nlines, nraw, nuris;
    msg_part_t *parts;
    size_t nparts;
    /* The relay view: a cache that msg_use_relays and the relay
     * pseudo-headers fill through a const msg (the struct pointed to is
     * the msg's own, so the msg stays logically unchanged). */
    struct relay_cache *rc;
};

typedef struct relay_cache {
    rcvd_list_t *list;          /* the Received headers parsed: at finish
                                   with MSG_VIEW_RELAYS, else when first
                                   asked for */
    rcvd_view_t *view;          /* NULL until first asked for */
    const rcvd_trust_t *trust;  /* what view was built with */
    char *client;               /* the client fields joined, "" if none */
} relay_cache_t;

void msg_limits_default(msg_limits_t *lim)
{
    lim->max_scan = 1u << 20;
    lim->max_depth = 20;
    lim->max_parts = 1000;
    lim->max_headers = 1000;
    lim->max_header_len = 64u << 10;
}

msg_t *msg_new(const msg_limits_t *lim)
{
    msg_t *m = tg_calloc(1, sizeof *m);
    m->rc = tg_calloc(1, sizeof *m->rc);
    m->views = MSG_VIEW_ALL;
    if (lim)
        m->lim = *lim;
    else
        msg_limits_default(&m->lim);
    if (m->lim.max_header_len == 0)
        m->lim.max_header_len = 1;
    size_t cap = HEADER_BLOCK_CAP;
    if (m->lim.max_headers &&
        (m->lim.max_header_len + 1) <= cap / m->lim.max_headers)
        cap = m->lim.max_headers * (m->lim.max_header_len + 1);
    m->hdr_cap = cap;
    m->line_start = 1;
    tg_buf_init(&m->full);
    tg_buf_init(&m->arena);
    return m;
}

void msg_free(msg_t *m)
{
    if (!m)
        return;
    tg_buf_free(&m->full);
    tg_buf_free(&m->arena);
    mime_free(m->tree);
    free(m->envfrom);
    free(m->lines);
    free(m->raw);
    free(m->uris);
    free(m->parts);
    rcvd_view_free(m->rc->view);
    rcvd_list_free(m->rc->list);
    free(m->rc->client);
    free(m->rc);
    free(m);
}

/* ---- feeding ----------------------------------------------------------- */

/* Header-block bytes (LF line ends): keeps what the limits allow. Returns
 * how many bytes were consumed (stops at the start of the body). */
static size_t put_header(msg_t *m, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        char c = p[i];
        if (m->line_start) {
            if (c == '\n') { /* blank line: the body follows */
                if (m->full.len && m->full.s[m->full.len - 1] != '\n')
                    tg_buf_addc(&m->full, '\n');
                tg_buf_addc(&m->full, '\n');
                m->in_body = 1;
                return i + 1;
            }
            if (c != ' ' && c != '\t') {
                m->nhdr++;
                m->cur_hdr_len = 0;
                if (m->nhdr > m->lim.max_headers)
                    m->bits |= MSG_LIMIT_HEADERS;
                else if (m->full.len && m->full.s[m->full.len - 1] != '\n' &&
                         m->hdr_kept < m->hdr_cap)
                    tg_buf_addc(&m->full, '\n'); /* after a truncated field */
            }
            m->line_start = 0;
        }
        /* the rest of this line, up to and including '\n' */
        const char *nl = memchr(p + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - p) + 1 : n;
        size_t len = e - i;
        size_t keep = 0;
        if (m->nhdr <= m->lim.max_headers && m->hdr_kept < m->hdr_cap) {
            size_t room = m->lim.max_header_len > m->cur_hdr_len
                              ? m->lim.max_header_len - m->cur_hdr_len
                              : 0;
            keep = len < room ? len : room;
            if (keep < len)
                m->bits |= MSG_LIMIT_HEADER_LEN;
            if (keep > m->hdr_cap - m->hdr_kept)
                keep = m->hdr_cap - m->hdr_kept;
            /* a line end is kept even when the field is truncated, unless
             * continuation lines follow (handled at the next field) */
        }
        if (keep)
            tg_buf_add(&m->full, p + i, keep);
        m->hdr_kept += keep;
        m->cur_hdr_len += len;
        if (nl)
            m->line_start = 1;
        i = e;
    }
    return n;
}

static void put_body(msg_t *m, const char *p, size_t n)
{
    size_t room = m->lim.max_scan - m->body_kept;
    if (n > room) {
        m->bits |= MSG_LIMIT_SCAN;
        n = room;
    }
    tg_buf_add(&m->full, p, n);
    m->body_kept += n;
}

static void put(msg_t *m, const char *p, size_t n)
{
    if (!m->in_body) {
        size_t k = put_header(m, p, n);
        p += k;
        n -= k;
    }
    if (n && m->in_body)
        put_body(m, p, n);
}

static int body_full(const msg_t *m)
{
    return m->in_body && m->body_kept >= m->lim.max_scan;
}

void msg_feed(msg_t *m, const void *data, size_t len)
{
    const char *p = data;
    m->size += len;
    if (m->finished || len == 0)
        return;
    if (body_full(m)) {
        m->bits |= MSG_LIMIT_SCAN;
        return;
    }
    if (m->pending_cr) {
        m->pending_cr = 0;
        if (p[0] != '\n')
            put(m, "\r", 1);
    }
    /* CRLF -> LF, a CR at the end of the chunk waits for the next one */
    while (len && !body_full(m)) {
        const char *cr = memchr(p, '\r', len);
        if (!cr) {
            put(m, p, len);
            break;
        }
        size_t k = (size_t)(cr - p);
        if (k)
            put(m, p, k);
        if (k + 1 == len) {
            m->pending_cr = 1;
            break;
        }
        if (cr[1] != '\n')
            put(m, "\r", 1);
        p += k + 1;
        len -= k + 1;
    }
    if (body_full(m) && len)
        m->bits |= MSG_LIMIT_SCAN;
}

void msg_set_envelope_from(msg_t *m, const char *addr)
{
    free(m->envfrom);
    m->envfrom = tg_strdup(addr ? addr : "");
}

size_t msg_size(const msg_t *m)
{
    return m->size;
}

unsigned msg_limits_hit(const msg_t *m)
{
    return m->bits;
}

/* ---- views --------------------------------------------------------------- */

/* Growable list of (offset, len) into m->arena, turned into msg_str_t once
 * the arena stops moving. */
typedef struct span_list {
    size_t *off, *len;
    size_t n, cap, lcap;
} span_list;

static void span_add(msg_t *m, span_list *l, const char *s, size_t n)
{
    tg_grow(&l->off, &l->cap, l->n + 1, sizeof *l->off);
    tg_grow(&l->len, &l->lcap, l->n + 1, sizeof *l->len);
    l->off[l->n] = m->arena.len;
    l->len[l->n] = n;
    l->n++;
    tg_buf_add(&m->arena, s, n);
    tg_buf_addc(&m->arena, '\0');
}

static msg_str_t *span_finish(msg_t *m, span_list *l, size_t *n)
{
    msg_str_t *v = tg_calloc(l->n ? l->n : 1, sizeof *v);
    for (size_t i = 0; i < l->n; i++) {
        v[i].ptr = m->arena.s + l->off[i];
        v[i].len = l->len[i];
    }
    *n = l->n;
    free(l->off);
    free(l->len);
    return v;
}

/* Length of a multi-byte whitespace character at s, or 0 (ws_len's
 * rare case). */
static size_t ws_len_utf8(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c == 0xc2 && n >= 2 && (s[1] == 0x85 || s[1] == 0xa0))
        return 2;
    if (c == 0xe1 && n >= 3 && s[1] == 0x9a && s[2] == 0x80)
        return 3;
    if (c == 0xe2 && n >= 3 && s[1] == 0x80 &&
        ((s[2] >= 0x80 && s[2] <= 0x8a) || s[2] == 0xa8 || s[2] == 0xa9 ||
         s[2] == 0xaf))
        return 3;
    if (c == 0xe2 && n >= 3 && s[1] == 0x81 && s[2] == 0x9f)
        return 3;
    if (c == 0xe3 && n >= 3 && s[1] == 0x80 && s[2] == 0x80)
        return 3;
    return 0;
}

/* Length of a whitespace character at s (Perl's Unicode \s) or 0: called
 * for every byte of the rendered text, so ASCII is decided inline. */
static inline size_t ws_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return c == ' ' || (c >= '\t' && c <= '\r'); /* \t \n \v \f \r */
    return c >= 0xc2 && c <= 0xe3 ? ws_len_utf8(s, n) : 0;
}

/* s/\n+\s*\n+/\x00/gs; s/\s+/ /gs; tr/\x00/\n/ */
static void collapse_ws(const char *s, size_t n, tg_buf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t w = ws_len(u + i, n - i);
        if (!w) {
            size_t j = i + 1; /* copy the run of other bytes at once */
            while (j < n && s[j] != '\0' && !ws_len(u + j, n - j))
                j++;
            if (s[i] == '\0')
                tg_buf_addc(out, '\n');
            else
                tg_buf_add(out, s + i, j - i);
            i = s[i] == '\0' ? i + 1 : j;
            continue;
        }
        size_t j = i, first_nl = (size_t)-1, last_nl = 0, nls = 0;
        while (j < n && (w = ws_len(u + j, n - j)) > 0) {
            if (s[j] == '\n') {
                if (first_nl == (size_t)-1)
                    first_nl = j;
                last_nl = j;
                nls++;
            }
            j += w;
        }
        if (nls >= 2) {
            if (first_nl > i)
                tg_buf_addc(out, ' ');
            tg_buf_addc(out, '\n');
            if (last_nl + 1 < j)
                tg_buf_addc(out, ' ');
        } else {
            tg_buf_addc(out, ' ');
        }
        i = j;
    }
}

/* split_into_array_of_short_lines */
static void split_lines(msg_t *m, span_list *l, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) + 1 : n;
        while (e - i > MAX_BODY_LINE_LENGTH) {
            size_t k = MAX_BODY_LINE_LENGTH + 1, cut = 0;
            while (k-- > 0)
                if (s[i + k] == ' ') {
                    cut = k + 1;
                    break;
                }
            if (!cut)
                cut = MAX_BODY_LINE_LENGTH;
            span_add(m, l, s + i, cut);
            i += cut;
        }
        span_add(m, l, s + i, e - i);
        i = e;
    }
}

/* split_into_array_of_short_paragraphs */
static void split_paragraphs(msg_t *m, span_list *l, const char *s, size_t n)
{
    if (n <= MAX_BODY_LINE_LENGTH) {
        span_add(m, l, s, n);
        return;
    }
    size_t ofs = 0;
    while (n - ofs > 2 * MAX_BODY_LINE_LENGTH) {
        size_t from = ofs + MAX_BODY_LINE_LENGTH, lim = ofs + 2 * MAX_BODY_LINE_LENGTH;
        const char *seps = "\n> ";
        size_t j = (size_t)-1;
        for (const char *sp = seps; *sp && j == (size_t)-1; sp++) {
            const char *f = memchr(s + from, *sp, n - from);
            if (f && (size_t)(f - s) < lim)
                j = (size_t)(f - s);
        }
        if (j == (size_t)-1)
            j = ofs + MAX_BODY_LINE_LENGTH;
        span_add(m, l, s + ofs, j - ofs + 1);
        ofs = j + 1;
    }
    if (ofs < n)
        span_add(m, l, s + ofs, n - ofs);
}

/* Cuts a part's text the way get_body_text_array_common does. */
static size_t scan_cut(const char *s, size_t n, size_t max, const char *seps)
{
    if (n <= max)
        return n;
    for (const char *sp = seps; *sp; sp++) {
        const char *f = memchr(s + max, *sp, n - max);
        if (f && (size_t)(f - s) - max <= 1024)
            return (size_t)(f - s) + 1;
    }
    return max;
}

static int has_8bit(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 1;
    return 0;
}

/* 1 if the UTF-8 text has a code point above U+00FF. */
static int has_wide(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0xc4)
            return 1;
    return 0;
}

/* UTF-8 U+0080..U+00FF back to single Latin-1 bytes, in place. */
static void to_latin1(tg_buf *b)
{
    size_t w = 0;
    for (size_t r = 0; r < b->len; r++) {
        unsigned char c = (unsigned char)b->s[r];
        if ((c == 0xc2 || c == 0xc3) && r + 1 < b->len) {
            b->s[w++] = (char)(((c & 0x03) << 6) | ((unsigned char)b->s[r + 1] & 0x3f));
            r++;
        } else {
            b->s[w++] = (char)c;
        }
    }
    b->len = w;
    if (b->s)
        b->s[w] = '\0';
}

/* Like scan_cut, but max and the 1024 slack count UTF-8 characters, as
 * Perl does on the decoded text of a part. */
static size_t scan_cut_chars(const char *s, size_t n, size_t max, const char *seps)
{
    if (n <= max)
        return n; /* no more characters than bytes */
    size_t chars = 0, i = 0;
    while (i < n && chars < max) {
        chars += ((unsigned char)s[i] & 0xc0) != 0x80;
        i++;
    }
    while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
        i++;
    if (i >= n)
        return n;
    size_t at = i; /* byte offset of character number max */
    for (const char *sp = seps; *sp; sp++) {
        size_t c = 0;
        for (size_t k = at; k < n && c <= 1024; k++) {
            if (s[k] == *sp)
                return k + 1;
            c += ((unsigned char)s[k] & 0xc0) != 0x80;
        }
    }
    return at;
}

/* URI dedup: open addressing over the arena-independent copies. */
typedef struct uri_set {
    span_list list;
    tg_buf store;            /* copies, for comparing */
    size_t *soff, *slen;     /* per entry: offset/len in store */
    size_t scap, slcap;
    size_t *slots;           /* index+1, 0 = empty */
    size_t nslots;
    msg_t *m;
} uri_set;

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* Bytes of URIs a message may yield (raw HTML ones, and the canonical set). */
static size_t uri_room(const msg_t *m)
{
    return m->lim.max_scan > MSG_MIN_URI_BYTES ? m->lim.max_scan : MSG_MIN_URI_BYTES;
}

static void uri_set_add(void *ctx, const char *u, size_t n)
{
    uri_set *us = ctx;
    if (n > MAX_URI_LENGTH)
        n = MAX_URI_LENGTH;
    if (us->list.n >= MSG_MAX_URIS || us->store.len + n > uri_room(us->m)) {
        us->m->bits |= MSG_LIMIT_URIS;
        return;
    }
    if ((us->list.n + 1) * 2 > us->nslots) {
        size_t ns = us->nslots ? us->nslots * 2 : 64;
        size_t *sl = tg_calloc(ns, sizeof *sl);
        for (size_t i = 0; i < us->list.n; i++) {
            size_t h = (size_t)hash_bytes(us->store.s + us->soff[i], us->slen[i]) & (ns - 1);
            while (sl[h])
                h = (h + 1) & (ns - 1);
            sl[h] = i + 1;
        }
        free(us->slots);
        us->slots = sl;
        us->nslots = ns;
    }
    size_t h = (size_t)hash_bytes(u, n) & (us->nslots - 1);
    while (us->slots[h]) {
        size_t i = us->slots[h] - 1;
        if (us->slen[i] == n && memcmp(us->store.s + us->soff[i], u, n) == 0)
            return;
        h = (h + 1) & (us->nslots - 1);
    }
    size_t idx = us->list.n;
    tg_grow(&us->soff, &us->scap, idx + 1, sizeof *us->soff);
    tg_grow(&us->slen, &us->slcap, idx + 1, sizeof *us->slen);
    us->soff[idx] = us->store.len;
    us->slen[idx] = n;
    tg_buf_add(&us->store, u, n);
    us->slots[h] = idx + 1;
    span_add(us->m, &us->list, u, n);
}

/* Canonical variants of one text URI, kept until we know whether any of
 * them has a valid domain (add_uri_detail_list with valid_domain). */
typedef struct variants {
    tg_buf store;
    size_t *off, *len;
    size_t n, cap, lcap;
    int any_domain;
} variants;

static void variant_add(void *ctx, const char *u, size_t n)
{
    variants *v = ctx;
    if (n > MAX_URI_LENGTH)
        n = MAX_URI_LENGTH;
    tg_grow(&v->off, &v->cap, v->n + 1, sizeof *v->off);
    tg_grow(&v->len, &v->lcap, v->n + 1, sizeof *v->len);
    v->off[v->n] = v->store.len;
    v->len[v->n++] = n;
    tg_buf_add(&v->store, u, n);
    v->any_domain |= uri_has_domain(u, n);
}

static void uri_canon_add(void *ctx, const char *u, size_t n)
{
    variants v;
    memset(&v, 0, sizeof v);
    uri_canonicalize(u, n, variant_add, &v);
    if (v.any_domain)
        for (size_t i = 0; i < v.n; i++)
            uri_set_add(ctx, v.store.s + v.off[i], v.len[i]);
    tg_buf_free(&v.store);
    free(v.off);
    free(v.len);
}

/* HTML URIs are collected first (length, bytes; within the message's URI
 * budget) and canonicalised after the text ones. */
typedef struct html_uris {
    tg_buf b;
    size_t n;
    msg_t *m;
} html_uris_t;

static int html_uri_collect(void *ctx, const char *u, size_t n)
{
    html_uris_t *h = ctx;
    if (n > MAX_URI_LENGTH)
        n = MAX_URI_LENGTH;
    if (h->n >= MSG_MAX_URIS || h->b.len + n > uri_room(h->m)) {
        h->m->bits |= MSG_LIMIT_URIS;
        return -1;
    }
    tg_buf_add(&h->b, &n, sizeof n);
    tg_buf_add(&h->b, u, n);
    h->n++;
    return 0;
}

static int is_type(msg_str_t t, const char *s)
{
    return t.len == strlen(s) && memcmp(t.ptr, s, t.len) == 0;
}

void msg_set_views(msg_t *m, unsigned views)
{
    m->views = views;
}

/* rcvd_get_fn over the top-level headers (decoded values, as
 * SpamAssassin's get_header gives them). Calls come with i = 0, 1, 2...;
 * ctx remembers where the last one stopped. */
typedef struct hwalk {
    const msg_t *m;
    size_t seen, pos;           /* occurrence i == seen is at or after pos */
} hwalk_t;

/* Received headers past this many are not parsed (hostile input; real
 * mail carries some 3 to 15). */
#define MSG_MAX_RELAYS 100

static const char *hget(void *ctx, const char *name, size_t i, size_t *len);

void msg_finish(msg_t *m)
{
    if (m->finished)
        return;
    m->finished = 1;
    /* URIs come from the rendered lines and the HTML: they need rendering */
    int render = (m->views & (MSG_VIEW_BODY | MSG_VIEW_URIS)) != 0;
    if (m->pending_cr) {
        m->pending_cr = 0;
        put(m, "\r", 1);
    }
    if (!m->full.s)
        tg_buf_add(&m->full, "", 0);
    m->tree = mime_parse(m->full.s, m->full.len, &m->lim, &m->bits);
    if (m->views & MSG_VIEW_RELAYS) {
        hwalk_t w = { m, 0, 0 };
        m->rc->list = rcvd_list_parse(hget, &w, MSG_MAX_RELAYS);
    }

    size_t nl = mime_nleaves(m->tree);
    m->parts = tg_calloc(nl ? nl : 1, sizeof *m->parts);
    m->nparts = nl;

    tg_buf text, part;
    tg_buf_init(&text);
    tg_buf_init(&part);
    html_uris_t hu = {.m = m};
    tg_buf_init(&hu.b);
    span_list lines = {0}, raws = {0};
    /* Perl keeps text that never held a character above U+00FF as Latin-1
     * octets: ASCII HTML whose entities stay below U+0100 renders "&copy;"
     * as byte A9 unless some part of the body was decoded text */
    int any_wide = 0;
    for (size_t i = 0; i < nl; i++) {
        const mime_leaf_t *lf = mime_leaf_at(m->tree, i);
        msg_part_t *p = &m->parts[i];
        p->type = lf->type;
        p->filename = lf->filename;
        p->charset = lf->charset;
        p->size = lf->decoded.len;
        p->is_attachment = lf->is_attachment;
        p->depth = lf->depth;

        /* rendered body: text/plain and text/html only */
        if (!render)
            continue;
        if (text.len)
            tg_buf_addc(&text, '\n');
        int html = is_type(lf->sa_type, "text/html");
        if (html || is_type(lf->sa_type, "text/plain")) {
            tg_buf_reset(&part);
            if (html) {
                tg_buf conv;
                tg_buf_init(&conv);
                charset_to_utf8(lf->charset.ptr, lf->charset.len, lf->decoded.ptr,
                                lf->decoded.len, &conv, 0);
                html_render(conv.s ? conv.s : "", conv.len, &part,
                            (m->views & MSG_VIEW_URIS) ? html_uri_collect : NULL, &hu);
                tg_buf_free(&conv);
                any_wide |= has_8bit(lf->decoded.ptr, lf->decoded.len) ||
                            has_wide(part.s ? part.s : "", part.len);
            } else {
                charset_to_utf8(lf->charset.ptr, lf->charset.len, lf->decoded.ptr,
                                lf->decoded.len, &part, 0);
                any_wide |= has_8bit(lf->decoded.ptr, lf->decoded.len);
            }
            tg_buf_add(&text, part.s ? part.s : "",
                       scan_cut_chars(part.s, part.len, BODY_PART_SCAN_SIZE, "\n "));
        }
    }
    /* rawbody: text and message parts, not text/calendar; decoded bytes */
    for (size_t i = 0; i < nl && (m->views & MSG_VIEW_RAWBODY); i++) {
        const mime_leaf_t *lf = mime_leaf_at(m->tree, i);
        const char *t = lf->sa_type.ptr;
        size_t tl = lf->sa_type.len;
        int textish = (tl >= 4 && memcmp(t, "text", 4) == 0 &&
                       (tl == 4 || t[4] == '/')) ||
                      (tl >= 7 && memcmp(t, "message", 7) == 0 &&
                       (tl == 7 || t[7] == '/'));
        if (!textish || is_type(lf->type, "text/calendar"))
            continue;
        size_t n = scan_cut(lf->decoded.ptr, lf->decoded.len,
                            RAWBODY_PART_SCAN_SIZE, "\n> ");
        split_paragraphs(m, &raws, lf->decoded.ptr, n);
    }

    if (nl && render) {
        tg_buf body;
        tg_buf_init(&body);
        const msg_str_t *subj = hdr_last(mime_headers(m->tree), "subject");
        if (subj)
            tg_buf_add(&body, subj->ptr, subj->len);
        tg_buf_addc(&body, '\n');
        if (!any_wide)
            to_latin1(&text);
        collapse_ws(text.s ? text.s : "", text.len, &body);
        split_lines(m, &lines, body.s, body.len);
        tg_buf_free(&body);
    }

    /* URIs: from the rendered lines, then from HTML */
    uri_set us;
    memset(&us, 0, sizeof us);
    us.m = m;
    for (size_t i = 0; i < lines.n && (m->views & MSG_VIEW_URIS); i++) {
        /* the arena may move while adding: copy the line out first */
        tg_buf_reset(&part);
        tg_buf_add(&part, m->arena.s + lines.off[i], lines.len[i]);
        uri_from_text(part.s, part.len, uri_canon_add, &us);
    }
    for (size_t o = 0; o + sizeof(size_t) <= hu.b.len;) {
        size_t n;
        memcpy(&n, hu.b.s + o, sizeof n);
        o += sizeof n;
        uri_canonicalize(hu.b.s + o, n, uri_set_add, &us);
        o += n;
    }
    if (!(m->views & MSG_VIEW_BODY))
        lines.n = 0;   /* rendered only for the URIs */
    m->lines = span_finish(m, &lines, &m->nlines);
    m->raw = span_finish(m, &raws, &m->nraw);
    m->uris = span_finish(m, &us.list, &m->nuris);
    tg_buf_free(&us.store);
    free(us.soff);
    free(us.slen);
    free(us.slots);
    tg_buf_free(&text);
    tg_buf_free(&part);
    tg_buf_free(&hu.b);
}

/* ---- accessors ------------------------------------------------------------ */

size_t msg_nheaders(const msg_t *m)
{
    return m->tree ? hdr_count(mime_headers(m->tree)) : 0;
}

void msg_header_at(const msg_t *m, size_t i, msg_str_t *name, msg_str_t *raw,
                   msg_str_t *decoded)
{
    hdr_at(mime_headers(m->tree), i, name, raw, decoded);
}

int msg_header_same(const char *a, const char *b)
{
    if (tg_strcasecmp(a, b) != 0)
        return 0;
    if (!tg_strcasecmp(a, "ALL") || !tg_strcasecmp(a, "MESSAGEID"))
        return strcmp(a, b) == 0;
    return 1;
}

/* ---- relays ------------------------------------------------------------- */

static const char *hget(void *ctx, const char *name, size_t i, size_t *len)
{
    hwalk_t *w = ctx;
    size_t n = msg_nheaders(w->m), namelen = strlen(name);
    int rcvd = !tg_strcasecmp(name, "Received"); /* the only name read in turn */
    size_t seen = 0, pos = 0;
    if (rcvd && i >= w->seen) {
        seen = w->seen;
        pos = w->pos;
    }
    for (size_t k = pos; k < n; k++) {
        msg_str_t nm, raw, dec;
        msg_header_at(w->m, k, &nm, &raw, &dec);
        if (nm.len != namelen || tg_strncasecmp(nm.ptr, name, nm.len))
            continue;
        if (seen == i) {
            if (rcvd) {
                w->seen = i + 1;
                w->pos = k + 1;
            }
            *len = dec.len;
            return dec.ptr;
        }
        seen++;
    }
    return NULL;
}

static char *client_key(const rcvd_client_t *c)
{
    tg_buf b;
    tg_buf_init(&b);
    if (c && c->ip && *c->ip) {
        const char *f[5] = { c->ip, c->rdns, c->helo, c->by, c->auth };
        for (int i = 0; i < 5; i++) {
            tg_buf_adds(&b, f[i] ? f[i] : "");
            tg_buf_addc(&b, '\n');
        }
    }
    tg_buf_addc(&b, 0);
    return tg_buf_steal(&b);
}

void msg_use_relays(const msg_t *m, const rcvd_trust_t *trust,
                    const rcvd_client_t *client)
{
    relay_cache_t *rc = m->rc;
    char *key = client_key(client);
    if (rc->view && rc->trust == trust && !strcmp(rc->client, key)) {
        free(key);
        return;
    }
    rcvd_view_free(rc->view);
    free(rc->client);
    hwalk_t w = { m, 0, 0 };
    if (!rc->list)
        rc->list = rcvd_list_parse(hget, &w, MSG_MAX_RELAYS);
    rc->view = rcvd_view_build(rc->list, hget, &w, trust, client);
    rc->trust = trust;
    rc->client = key;
}

static const rcvd_view_t *relays(const msg_t *m)
{
    if (!m->rc->view)
        msg_use_relays(m, NULL, NULL);
    return m->rc->view;
}

/* ALL-TRUSTED and friends (PerMsgStatus get_all_hdrs_in_rcvd_index_range):
 * the "Name: value\n" lines from the start-th Received header on
 * (start >= 0), or up to and including the end-th (end >= 0). */
static int all_range(const msg_t *m, long start, long end, tg_buf *out)
{
    size_t n = msg_nheaders(m), before = out->len;
    long cur = -1;
    for (size_t k = 0; k < n; k++) {
        msg_str_t nm, raw, dec;
        msg_header_at(m, k, &nm, &raw, &dec);
        if (nm.len == 8 && !tg_strncasecmp(nm.ptr, "Received", 8))
            cur++;
        int take = (start < 0 || start <= cur) && (end < 0 || cur < end);
        int last = !take && end >= 0 && cur == end;
        if (take || last) {
            tg_buf_add(out, nm.ptr, nm.len);
            tg_buf_add(out, ": ", 2);
            tg_buf_add(out, dec.ptr, dec.len);
            tg_buf_addc(out, '\n');
        }
        if (last)
            break;
    }
    return out->len > before;
}

/* The value of relay pseudo-header `which` (rcvd_pseudo) appended to out;
 * whether the header exists. */
static int get_relay_pseudo(const msg_t *m, int which, tg_buf *out)
{
    const rcvd_view_t *v = relays(m);
    if (which < RCVD_P_ALL_TRUSTED) {
        rcvd_view_get(v, which, out);
        return 1;
    }
    int internal = which == RCVD_P_ALL_INTERNAL || which == RCVD_P_ALL_EXTERNAL;
    long b = rcvd_view_boundary(v, internal);
    if (which == RCVD_P_ALL_TRUSTED || which == RCVD_P_ALL_INTERNAL)
        return all_range(m, -1, b, out);   /* up to the boundary */
    return all_range(m, b, -1, out);       /* from it on */
}

void msg_hkey_init(msg_hkey_t *k, const char *name)
{
    k->name = name;
    k->len = strlen(name);
    k->hash = hdr_name_hash(name, k->len);
    int rp = rcvd_pseudo(name);
    if (rp >= 0)
        k->kind = rp;
    else if (tg_strcasecmp(name, "EnvelopeFrom") == 0)
        k->kind = MSG_HK_ENVFROM;
    else if (hdr_is_pseudo(name))
        k->kind = MSG_HK_SPECIAL;
    else
        k->kind = MSG_HK_PLAIN;
}

int msg_get_hkey(const msg_t *m, const msg_hkey_t *k, msg_hmode_t mode, tg_buf *out)
{
    if (k->kind < MSG_HK_PLAIN && (mode == MSG_H_DECODED || mode == MSG_H_RAW))
        return m->tree ? get_relay_pseudo(m, k->kind, out) : 0;
    if (k->kind == MSG_HK_ENVFROM) {
        if (!m->envfrom)
            return 0;
        if (mode == MSG_H_ADDR || mode == MSG_H_NAME)
            return hdr_address(m->envfrom, strlen(m->envfrom), mode == MSG_H_NAME, out);
        tg_buf_adds(out, m->envfrom);
        return 1;
    }
    if (!m->tree)
        return 0;
    if (k->kind == MSG_HK_SPECIAL)
        return hdr_get(mime_headers(m->tree), k->name, mode, out);
    /* a relay pseudo-header's name in the :addr / :name modes reads a
     * field of that name, as any other */
    return hdr_get_hashed(mime_headers(m->tree), k->name, k->len, k->hash, mode, out);
}

int msg_get_header(const msg_t *m, const char *name, msg_hmode_t mode,
                   tg_buf *out)
{
    msg_hkey_t k;
    msg_hkey_init(&k, name);
    return msg_get_hkey(m, &k, mode, out);
}

int msg_has_hkey(const msg_t *m, const msg_hkey_t *k)
{
    if (k->kind < MSG_HK_PLAIN && m->tree) {
        if (k->kind < RCVD_P_ALL_TRUSTED)
            return 1;
        tg_buf b;
        tg_buf_init(&b);
        int r = get_relay_pseudo(m, k->kind, &b);
        tg_buf_free(&b);
        return r;
    }
    if (k->kind == MSG_HK_ENVFROM)
        return m->envfrom != NULL;
    if (!m->tree)
        return 0;
    if (k->kind == MSG_HK_SPECIAL)
        return hdr_has(mime_headers(m->tree), k->name);
    return hdr_has_hashed(mime_headers(m->tree), k->name, k->len, k->hash);
}

int msg_has_header(const msg_t *m, const char *name)
{
    msg_hkey_t k;
    msg_hkey_init(&k, name);
    return msg_has_hkey(m, &k);
}

const msg_str_t *msg_body_lines(const msg_t *m, size_t *n)
{
    *n = m->nlines;
    return m->lines;
}

const msg_str_t *msg_rawbody_chunks(const msg_t *m, size_t *n)
{
    *n = m->nraw;
    return m->raw;
}

msg_str_t msg_full(const msg_t *m)
{
    msg_str_t s;
    s.ptr = m->full.s ? m->full.s : "";
    s.len = m->full.len;
    return s;
}

const msg_str_t *msg_uris(const msg_t *m, size_t *n)
{
    *n = m->nuris;
    return m->uris;
}

size_t msg_nparts(const msg_t *m)
{
    return m->nparts;
}

const msg_part_t *msg_part_at(const msg_t *m, size_t i)
{
    return i < m->nparts ? &m->parts[i] : NULL;
}

size_t msg_nnodes(const msg_t *m)
{
    return m->tree ? mime_nnodes(m->tree) : 0;
}

int msg_node_header(const msg_t *m, size_t i, const char *name, msg_hmode_t mode,
                    tg_buf *out)
{
    const hdr_list_t *h = m->tree ? mime_node_headers(m->tree, i) : NULL;
    return h ? hdr_get_last(h, name, mode, out) : 0;
}

int msg_part_header(const msg_t *m, size_t i, const char *name,
                    msg_hmode_t mode, tg_buf *out)
{
    if (!m->tree || i >= m->nparts)
        return 0;
    return hdr_get(mime_leaf_at(m->tree, i)->hdrs, name, mode, out);
}
