#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "hdr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "charset.h"
#include "mime.h"

typedef struct hdr_slot {
    uint32_t idx;   /* index + 1 of the first field of a name; 0: empty */
    uint32_t hash;  /* that field's hash */
} hdr_slot_t;

typedef struct hdr_field {
    char *name;     /* owned: one block with orig, raw and dec after it */
    size_t nlen;
    char *orig;     /* as in the message: folding kept (SpamAssassin :raw) */
    size_t olen;
    char *raw;      /* unfolded, leading whitespace kept (SpamAssassin :raw) */
    size_t rlen;
    size_t lead;    /* bytes of leading whitespace in raw */
    char *dec;
    size_t dlen;
    msg_str_t dv;   /* view of dec, handed out by hdr_last */
    uint32_t hash;  /* hdr_name_hash of name */
    uint32_t next;  /* index + 1 of the next field of this name; 0: none */
    uint32_t last;  /* of the first field of a name: index of its last */
} hdr_field_t;

/* The fields in message order, and an index of their names: an open
 * addressing table (nslot a power of two, under half full) whose slots
 * hold index + 1 of the first field of each name (0: empty) and that
 * field's name hash, so that probing past other names (and a lookup of an
 * absent name, most of them) reads the table alone, not the fields.
 * Lookups by name cost a hash and a compare, not a pass over every field:
 * the oracle fetches a header for each of some 900 header rules a
 * message. */
struct hdr_list {
    hdr_field_t *f;
    size_t n, cap;
    hdr_slot_t *slot;
    size_t nslot, nnames;
};

static int is_sp(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
           c == '\v';
}

hdr_list_t *hdr_list_new(void)
{
    return tg_calloc(1, sizeof(hdr_list_t));
}

void hdr_list_free(hdr_list_t *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++) {
        free(h->f[i].name); /* the field's block (hdr_list_add) */
    }
    free(h->f);
    free(h->slot);
    free(h);
}

/* FNV-1a of the name with ASCII letters folded (as name_is_n compares). */
uint32_t hdr_name_hash(const char *name, size_t n)
{
    uint32_t x = 2166136261u;
    for (size_t i = 0; i < n; i++)
        x = (x ^ (uint32_t)tg_lower((unsigned char)name[i])) * 16777619u;
    return x;
}

/* Whether f is named name[0..n), ASCII case ignored. */
static int name_is_n(const hdr_field_t *f, const char *name, size_t n)
{
    return f->nlen == n && tg_lower((unsigned char)f->name[0]) == tg_lower((unsigned char)name[0]) &&
           tg_strncasecmp(f->name, name, n) == 0;
}

/* Index of the first field named name[0..n) (hash x), or -1. */
static long find_first(const hdr_list_t *h, const char *name, size_t n, uint32_t x)
{
    if (!h->nslot)
        return -1;
    size_t mask = h->nslot - 1;
    for (size_t k = x & mask; h->slot[k].idx; k = (k + 1) & mask)
        if (h->slot[k].hash == x && name_is_n(&h->f[h->slot[k].idx - 1], name, n))
            return (long)h->slot[k].idx - 1;
    return -1;
}

static long find_name(const hdr_list_t *h, const char *name)
{
    size_t n = strlen(name);
    return find_first(h, name, n, hdr_name_hash(name, n));
}

static void slot_put(hdr_list_t *h, size_t first)
{
    size_t mask = h->nslot - 1, k = h->f[first].hash & mask;
    while (h->slot[k].idx)
        k = (k + 1) & mask;
    h->slot[k].idx = (uint32_t)first + 1;
    h->slot[k].hash = h->f[first].hash;
}

/* Enters the last field added (h->n - 1) into the name index. */
static void index_add(hdr_list_t *h)
{
    size_t i = h->n - 1;
    hdr_field_t *f = &h->f[i];
    f->hash = hdr_name_hash(f->name, f->nlen);
    f->next = 0;
    f->last = (uint32_t)i;
    long first = find_first(h, f->name, f->nlen, f->hash);
    if (first >= 0) {
        h->f[h->f[first].last].next = (uint32_t)i + 1;
        h->f[first].last = (uint32_t)i;
        return;
    }
    if (2 * (h->nnames + 1) > h->nslot) {
        free(h->slot);
        h->nslot = h->nslot ? 2 * h->nslot : 32;
        h->slot = tg_calloc(h->nslot, sizeof *h->slot);
        for (size_t j = 0; j < i; j++)
            if (find_first(h, h->f[j].name, h->f[j].nlen, h->f[j].hash) < 0)
                slot_put(h, j); /* the first field of its name */
    }
    slot_put(h, i);
    h->nnames++;
}

/* Fields whose bodies SpamAssassin never decodes (Bug 6945). */
static int no_2047(const char *name, size_t n)
{
    static const char *const skip[] = {
        "received", "message-id", "resent-message-id", "date", "resent-date",
        "mime-version", "references", "in-reply-to",
    };
    for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
        if (strlen(skip[i]) == n && tg_strncasecmp(name, skip[i], n) == 0)
            return 1;
    return n >= 5 && tg_strncasecmp(name, "list-", 5) == 0;
}

void hdr_list_add(hdr_list_t *h, const char *name, size_t nlen,
                  const char *raw, size_t rlen)
{
    tg_grow(&h->f, &h->cap, h->n + 1, sizeof *h->f);
    hdr_field_t *f = &h->f[h->n++];
    /* One block per field: name, orig, raw (unfolded) and dec, each
     * NUL-terminated, at offsets fixed once the block is complete (the
     * buffer may move while it grows). Unfolding only shortens, and the
     * decoded value is usually the trimmed raw one: reserving for that
     * makes one allocation the common case. */
    tg_buf b;
    tg_buf_init(&b);
    tg_buf_reserve(&b, nlen + 3 * rlen + 4);
    tg_buf_add(&b, name, nlen);
    tg_buf_addc(&b, '\0');
    size_t o_orig = b.len;
    tg_buf_add(&b, raw, rlen);
    tg_buf_addc(&b, '\0');
    size_t o_raw = b.len;
    if (!memchr(raw, '\n', rlen)) {
        tg_buf_add(&b, raw, rlen); /* not folded: nothing to unfold */
    } else {
        for (size_t i = 0; i < rlen; i++) {
            if (raw[i] == '\r' && i + 1 < rlen && raw[i + 1] == '\n')
                continue;
            if (raw[i] == '\n') {
                while (i + 1 < rlen && is_sp(raw[i + 1]))
                    i++;
                tg_buf_addc(&b, ' ');
                continue;
            }
            tg_buf_addc(&b, raw[i]);
        }
    }
    size_t rl = b.len - o_raw;
    tg_buf_addc(&b, '\0');
    size_t o_dec = b.len;
    size_t lead = 0;
    while (lead < rl && is_sp(b.s[o_raw + lead]))
        lead++;
    size_t e = rl;
    while (e > lead && is_sp(b.s[o_raw + e - 1]))
        e--;
    /* 8-bit field bodies: UTF-8 if valid (RFC 6532), else a best guess */
    tg_buf v;
    tg_buf_init(&v);
    const char *vs = b.s + o_raw + lead;
    size_t vl = e - lead;
    if (!tg_is_ascii(vs, vl)) { /* ASCII is already UTF-8 */
        charset_to_utf8("utf-8", 5, vs, vl, &v, 0);
        vs = v.s ? v.s : "";
        vl = v.len;
    }
    if (no_2047(name, nlen) || !memmem(vs, vl, "=?", 2)) {
        /* from v, or from b itself within the capacity reserved above */
        tg_buf_add(&b, vs, vl);
    } else {
        if (vs != v.s) { /* b may move while the decoder appends */
            tg_buf_add(&v, vs, vl);
            vs = v.s;
        }
        hdr_decode_2047(vs, vl, &b);
    }
    tg_buf_free(&v);
    f->dlen = b.len - o_dec;
    f->nlen = nlen;
    f->olen = rlen;
    f->rlen = rl;
    f->lead = lead;
    f->name = tg_buf_steal(&b);
    f->orig = f->name + o_orig;
    f->raw = f->name + o_raw;
    f->dec = f->name + o_dec;
    f->dv.ptr = f->dec;
    f->dv.len = f->dlen;
    index_add(h);
}

size_t hdr_count(const hdr_list_t *h)
{
    return h->n;
}

void hdr_at(const hdr_list_t *h, size_t i, msg_str_t *name, msg_str_t *raw,
            msg_str_t *decoded)
{
    const hdr_field_t *f = &h->f[i];
    if (name) {
        name->ptr = f->name;
        name->len = f->nlen;
    }
    if (raw) {
        raw->ptr = f->raw + f->lead;
        raw->len = f->rlen - f->lead;
    }
    if (decoded) {
        decoded->ptr = f->dec;
        decoded->len = f->dlen;
    }
}

const msg_str_t *hdr_last(const hdr_list_t *h, const char *name)
{
    long i = find_name(h, name);
    return i < 0 ? NULL : &h->f[h->f[i].last].dv;
}

/* ---- RFC 2047 -------------------------------------------------------- */

/* Matches =?charset?[BbQq]?text?= at s (n bytes available). On success
 * fills the pieces and returns the total length, else 0. */
static size_t match_word(const char *s, size_t n, size_t *csl, char *enc,
                         const char **txt, size_t *tl)
{
    if (n < 8 || s[0] != '=' || s[1] != '?')
        return 0;
    size_t i = 2;
    while (i < n && i < 80 &&
           ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
            (s[i] >= '0' && s[i] <= '9') || s[i] == '*' || s[i] == '_' ||
            s[i] == '-'))
        i++;
    if (i == 2 || i + 3 > n || s[i] != '?')
        return 0;
    *csl = i - 2;
    char e = s[i + 1];
    if (e != 'B' && e != 'b' && e != 'Q' && e != 'q')
        return 0;
    if (s[i + 2] != '?')
        return 0;
    *enc = (e == 'b' || e == 'B') ? 'B' : 'Q';
    size_t ts = i + 3;
    const char *q = memchr(s + ts, '?', n - ts);
    if (!q || (size_t)(q - s) + 1 >= n || q[1] != '=')
        return 0;
    *txt = s + ts;
    *tl = (size_t)(q - (s + ts));
    return (size_t)(q - s) + 2;
}

static void flush_section(tg_buf *sec, const char *cs, size_t csl, tg_buf *out)
{
    if (csl == 0) {
        tg_buf_add(out, sec->s ? sec->s : "", sec->len);
    } else {
        const char *star = memchr(cs, '*', csl); /* RFC 2231 language */
        if (star)
            csl = (size_t)(star - cs);
        charset_to_utf8(cs, csl, sec->s ? sec->s : "", sec->len, out, 1);
    }
    tg_buf_reset(sec);
}

void hdr_decode_2047(const char *s, size_t n, tg_buf *out)
{
    tg_buf sec, tmp;
    tg_buf_init(&sec);
    tg_buf_init(&tmp);
    const char *cur_cs = NULL; /* charset of the open section, NULL: plain */
    size_t cur_csl = 0;
    size_t i = 0;
    while (i < n) {
        size_t csl, tl;
        char enc;
        const char *txt;
        size_t wl = s[i] == '=' ? match_word(s + i, n - i, &csl, &enc, &txt, &tl) : 0;
        if (wl) {
            const char *cs = s + i + 2;
            tg_buf_reset(&tmp);
            if (enc == 'B') {
                mime_b64_decode(txt, tl, &tmp);
            } else {
                tg_buf q;
                tg_buf_init(&q);
                for (size_t k = 0; k < tl; k++)
                    tg_buf_addc(&q, txt[k] == '_' ? ' ' : txt[k]);
                mime_qp_decode(q.s ? q.s : "", q.len, &tmp);
                tg_buf_free(&q);
            }
            /* sections in the same charset are joined before conversion,
             * so characters split across words survive */
            if (!(cur_cs && cur_csl == csl && tg_strncasecmp(cur_cs, cs, csl) == 0)) {
                flush_section(&sec, cur_cs ? cur_cs : "", cur_cs ? cur_csl : 0, out);
                cur_cs = cs;
                cur_csl = csl;
            }
            tg_buf_add(&sec, tmp.s ? tmp.s : "", tmp.len);
            i += wl;
            /* whitespace between two encoded-words disappears */
            size_t j = i;
            while (j < n && is_sp(s[j]))
                j++;
            if (j > i && j < n && match_word(s + j, n - j, &csl, &enc, &txt, &tl))
                i = j;
            continue;
        }
        if (cur_cs) {
            flush_section(&sec, cur_cs, cur_csl, out);
            cur_cs = NULL;
        }
        size_t j = i + 1;
        while (j < n && s[j] != '=')
            j++;
        tg_buf_add(&sec, s + i, j - i);
        i = j;
    }
    flush_section(&sec, cur_cs ? cur_cs : "", cur_cs ? cur_csl : 0, out);
    tg_buf_free(&sec);
    tg_buf_free(&tmp);
}

/* ---- addresses ------------------------------------------------------- */

/* Length of a quoted string starting at s[0] == '"' (unterminated: to the
 * end). */
static size_t quoted_len(const char *s, size_t n)
{
    size_t i = 1;
    while (i < n && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < n)
            i++;
        i++;
    }
    return i < n ? i + 1 : n;
}

/* Length of a comment "(...)" at s[0] == '(' without nesting, 0 if
 * unterminated. */
static size_t comment_len(const char *s, size_t n)
{
    size_t i = 1;
    while (i < n && s[i] != ')') {
        if (s[i] == '(')
            return 0;
        if (s[i] == '\\' && i + 1 < n)
            i++;
        i++;
    }
    return i < n ? i + 1 : 0;
}

static int addr_special(char c)
{
    return is_sp(c) || c == '<' || c == '>' || c == '(' || c == ')' ||
           c == '[' || c == ']' || c == ',' || c == ':' || c == ';';
}

/* Length of the mail-looking prefix of s (SpamAssassin's
 * $header_address_mailre), 0 if none. */
static size_t mail_len(const char *s, size_t n)
{
    size_t i = 0;
    if (n && s[0] == '"') {
        i = quoted_len(s, n);
        if (i > n || s[i - 1] != '"' || i < 2)
            return 0;
    } else {
        while (i < n && s[i] != '@' && !addr_special(s[i]))
            i++;
        if (i == 0)
            return 0;
    }
    if (i >= n || s[i] != '@')
        return 0;
    i++;
    if (i < n && s[i] == '[') {
        size_t j = i + 1;
        while (j < n && ((s[j] >= '0' && s[j] <= '9') || s[j] == ':' || s[j] == '.'))
            j++;
        if (j > i + 1 && j < n && s[j] == ']')
            return j + 1;
        return 0;
    }
    size_t d = i;
    while (i < n && s[i] != '"' && !addr_special(s[i]))
        i++;
    return i > d ? i : 0;
}

static int valid_addr(const char *a, size_t n)
{
    if (n >= 3 && memcmp(a, "\"\"@", 3) == 0)
        return 0;
    size_t q = 0;
    for (size_t i = 0; i < n; i++)
        q += a[i] == '"';
    return q != 1;
}

/* Roughly is_fqdn_valid: a dot, labels of [A-Za-z0-9-], alphabetic TLD. */
static int fqdn_ok(const char *h, size_t n)
{
    const char *dot = NULL;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (c == '.')
            dot = h + i;
        else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || c == '-' || (unsigned char)c >= 0x80))
            return 0;
    }
    if (!dot || dot == h || (size_t)(h + n - dot) < 3)
        return 0;
    for (const char *p = dot + 1; p < h + n; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (unsigned char)*p >= 0x80 || *p == '-' || (*p >= '0' && *p <= '9')))
            return 0;
    return 1;
}

/* address =~ s/^(([^@]*)@([^@]*)).* / $1 / */
static size_t cut_second_at(const char *a, size_t n)
{
    const char *at = memchr(a, '@', n);
    if (!at)
        return n;
    const char *at2 = memchr(at + 1, '@', n - (size_t)(at + 1 - a));
    return at2 ? (size_t)(at2 - a) : n;
}

/* Phrase with quoted strings unquoted and comments removed. */
static void clean_phrase(const char *p, size_t n, tg_buf *out)
{
    size_t i = 0;
    while (i < n) {
        if (p[i] == '"') {
            size_t q = quoted_len(p + i, n - i);
            size_t e = (i + q <= n && q >= 2 && p[i + q - 1] == '"') ? i + q - 1 : i + q;
            for (size_t k = i + 1; k < e; k++) {
                if (p[k] == '\\' && k + 1 < e)
                    k++;
                tg_buf_addc(out, p[k]);
            }
            i += q;
        } else if (p[i] == '(' && comment_len(p + i, n - i)) {
            i += comment_len(p + i, n - i);
        } else {
            tg_buf_addc(out, p[i++]);
        }
    }
}

typedef struct addr_res {
    tg_buf addr, name;
    int have_addr, have_name;
} addr_res_t;

/* Parses one address at s; returns bytes consumed (0: no match). */
static size_t parse_one(const char *s, size_t n, addr_res_t *r)
{
    size_t i = 0;
    while (i < n && is_sp(s[i]))
        i++;
    size_t ps = i;
    /* phrase: quoted strings and runs of [^",;<] */
    while (i < n && s[i] != ',' && s[i] != ';' && s[i] != '<') {
        if (s[i] == '"')
            i += quoted_len(s + i, n - i);
        else
            i++;
    }
    size_t pe = i;
    tg_buf_reset(&r->addr);
    tg_buf_reset(&r->name);
    r->have_addr = r->have_name = 0;
    const char *comment = NULL;
    size_t comment_l = 0;
    if (i < n && s[i] == '<') {
        const char *gt = memchr(s + i, '>', n - i);
        if (!gt)
            return 0;
        size_t as = i + 1, ae = (size_t)(gt - s);
        while (as < ae && is_sp(s[as]))
            as++;
        while (ae > as && is_sp(s[ae - 1]))
            ae--;
        tg_buf raw;
        tg_buf_init(&raw);
        for (size_t k = as; k < ae; k++) { /* drop comments */
            size_t c;
            if (s[k] == '(' && (c = comment_len(s + k, ae - k))) {
                k += c - 1;
                continue;
            }
            tg_buf_addc(&raw, s[k]);
        }
        if (raw.len && mail_len(raw.s, raw.len) == raw.len &&
            valid_addr(raw.s, raw.len)) {
            tg_buf_add(&r->addr, raw.s, cut_second_at(raw.s, raw.len));
            r->have_addr = 1;
        }
        tg_buf_free(&raw);
        i = (size_t)(gt - s) + 1;
        for (;;) { /* duplicate enclosures */
            size_t j = i;
            while (j < n && is_sp(s[j]))
                j++;
            if (j < n && s[j] == '<' && memchr(s + j, '>', n - j)) {
                i = (size_t)((const char *)memchr(s + j, '>', n - j) - s) + 1;
                continue;
            }
            break;
        }
        if (pe > ps) {
            clean_phrase(s + ps, pe - ps, &r->name);
            r->have_name = r->name.len > 0;
            if (r->have_addr && r->name.len == r->addr.len &&
                memcmp(r->name.s, r->addr.s, r->addr.len) == 0)
                r->have_name = 0;
        }
    } else {
        size_t ml = mail_len(s + ps, pe - ps);
        size_t j = ps + ml;
        size_t c = 0;
        if (ml) {
            while (j < pe && is_sp(s[j]))
                j++;
            if (j < pe && s[j] == '(' && (c = comment_len(s + j, pe - j))) {
                comment = s + j + 1;
                comment_l = c - 2;
                j += c;
            }
            while (j < pe && is_sp(s[j]))
                j++;
        }
        if (ml && j == pe) {
            if (valid_addr(s + ps, ml)) {
                tg_buf_add(&r->addr, s + ps, cut_second_at(s + ps, ml));
                r->have_addr = 1;
            }
        } else if (pe > ps) {
            clean_phrase(s + ps, pe - ps, &r->name);
            r->have_name = r->name.len > 0;
            /* a phrase that is really an address */
            size_t pl = r->name.len;
            const char *p = r->name.s;
            if (pl && mail_len(p, pl) == pl && valid_addr(p, pl)) {
                const char *at = memchr(p, '@', pl);
                size_t hl = pl - (size_t)(at + 1 - p);
                const char *at2 = memchr(at + 1, '@', hl);
                if (at2)
                    hl = (size_t)(at2 - (at + 1));
                if (fqdn_ok(at + 1, hl)) {
                    tg_buf_add(&r->addr, p, cut_second_at(p, pl));
                    r->have_addr = 1;
                    r->have_name = 0;
                }
            }
        } else {
            return 0;
        }
    }
    if (!r->have_name && comment) {
        tg_buf_reset(&r->name);
        tg_buf_add(&r->name, comment, comment_l);
        r->have_name = 1;
    }
    while (i < n && is_sp(s[i]))
        i++;
    if (i < n && s[i] == '(') {
        size_t c = comment_len(s + i, n - i);
        if (c) {
            if (!r->have_name) {
                tg_buf_reset(&r->name);
                tg_buf_add(&r->name, s + i + 1, c - 2);
                r->have_name = 1;
            }
            i += c;
        }
    }
    while (i < n && s[i] != ',' && s[i] != ';')
        i++;
    return i < n ? i + 1 : n;
}

int hdr_address(const char *s, size_t n, int want_name, tg_buf *out)
{
    tg_buf w;
    tg_buf_init(&w);
    /* trailing whitespace, escaped backslashes */
    while (n && is_sp(s[n - 1]))
        n--;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\\') {
            i++;
            continue;
        }
        tg_buf_addc(&w, s[i]);
    }
    const char *p = w.s ? w.s : "";
    size_t pn = w.len;
    /* group syntax "name: a, b;" */
    size_t k = 0, colon = (size_t)-1;
    while (k < pn && p[k] != '"' && p[k] != '(' && p[k] != ')' && p[k] != '<' &&
           p[k] != '>') {
        if (p[k] == ':')
            colon = k;
        k++;
    }
    if (colon != (size_t)-1 && colon > 0) {
        p += colon + 1;
        pn -= colon + 1;
        while (pn && is_sp(*p))
            p++, pn--;
    }
    addr_res_t r;
    tg_buf_init(&r.addr);
    tg_buf_init(&r.name);
    int found = 0;
    size_t pos = 0;
    while (pos < pn) {
        size_t c = parse_one(p + pos, pn - pos, &r);
        if (c == 0)
            break;
        pos += c;
        if (!want_name && r.have_addr) {
            if (found)
                tg_buf_addc(out, '\n');
            tg_buf_add(out, r.addr.s, r.addr.len);
            found = 1;
        } else if (want_name && r.have_name) {
            if (found)
                tg_buf_addc(out, '\n');
            tg_buf dec;
            tg_buf_init(&dec);
            hdr_decode_2047(r.name.s, r.name.len, &dec);
            /* collapse whitespace, trim, strip single quotes */
            size_t st = 0, en = dec.len;
            int any = 0;
            for (size_t i = 0; i < dec.len; i++)
                any |= !is_sp(dec.s[i]);
            if (any) {
                tg_buf c2;
                tg_buf_init(&c2);
                for (size_t i = 0; i < dec.len; i++) {
                    if (is_sp(dec.s[i])) {
                        while (i + 1 < dec.len && is_sp(dec.s[i + 1]))
                            i++;
                        tg_buf_addc(&c2, ' ');
                    } else {
                        tg_buf_addc(&c2, dec.s[i]);
                    }
                }
                st = 0;
                en = c2.len;
                while (st < en && c2.s[st] == ' ')
                    st++;
                while (en > st && c2.s[en - 1] == ' ')
                    en--;
                if (en - st >= 2 && c2.s[st] == '\'' && c2.s[en - 1] == '\'')
                    st++, en--;
                tg_buf_add(out, c2.s + st, en - st);
                tg_buf_free(&c2);
            } else {
                tg_buf_add(out, dec.s ? dec.s : "", dec.len);
            }
            tg_buf_free(&dec);
            found = 1;
        }
    }
    if (!found && !want_name && memchr(p, '@', pn)) {
        /* last ditch: <address> anywhere */
        for (size_t i = 0; i < pn && !found; i++) {
            if (p[i] != '<')
                continue;
            size_t ml = mail_len(p + i + 1, pn - i - 1);
            if (ml && i + 1 + ml < pn && p[i + 1 + ml] == '>' &&
                valid_addr(p + i + 1, ml)) {
                tg_buf_add(out, p + i + 1, cut_second_at(p + i + 1, ml));
                found = 1;
            }
        }
    }
    tg_buf_free(&r.addr);
    tg_buf_free(&r.name);
    tg_buf_free(&w);
    return found;
}

/* ---- PerMsgStatus::get ------------------------------------------------ */

static void put_value(const hdr_field_t *f, msg_hmode_t mode, tg_buf *out)
{
    if (mode == MSG_H_RAW)
        tg_buf_add(out, f->orig, f->olen);
    else
        tg_buf_add(out, f->dec, f->dlen);
}

/* Plain lookup: every occurrence "value\n"; with :addr / :name every
 * address / name of every occurrence, joined with "\n" (SpamAssassin 4's
 * get() in list context, as its header tests use it). */
/* The fields the MESSAGEID pseudo-header joins, in this order. */
static const char *const messageid_names[] = {
    "X-Message-Id", "Resent-Message-Id", "X-Original-Message-ID", "Message-Id",
};
#define NMESSAGEID (sizeof messageid_names / sizeof *messageid_names)

/* Every field of the name whose first field is i (-1: none). */
static int get_fields(const hdr_list_t *h, long i, msg_hmode_t mode, tg_buf *out)
{
    int found = 0;
    for (; i >= 0; i = (long)h->f[i].next - 1) {
        const hdr_field_t *f = &h->f[i];
        if (mode == MSG_H_ADDR || mode == MSG_H_NAME) {
            tg_buf one;
            tg_buf_init(&one);
            if (hdr_address(f->raw, f->rlen, mode == MSG_H_NAME, &one)) {
                if (found)
                    tg_buf_addc(out, '\n');
                tg_buf_add(out, one.s, one.len);
                found = 1;
            }
            tg_buf_free(&one);
            continue;
        }
        put_value(f, mode, out);
        tg_buf_addc(out, '\n');
        found = 1;
    }
    return found;
}

static int get_plain(const hdr_list_t *h, const char *name, msg_hmode_t mode,
                     tg_buf *out)
{
    return get_fields(h, find_name(h, name), mode, out);
}

int hdr_get_hashed(const hdr_list_t *h, const char *name, size_t n, uint32_t hash,
                   msg_hmode_t mode, tg_buf *out)
{
    return get_fields(h, find_first(h, name, n, hash), mode, out);
}

int hdr_has_hashed(const hdr_list_t *h, const char *name, size_t n, uint32_t hash)
{
    return find_first(h, name, n, hash) >= 0;
}

/* SpamAssassin's Constants.pm MAX_HEADER_LENGTH: the decoded ALL view
 * stops there (Node.pm get_all_headers). */
#define HDR_ALL_MAX 65536

/* Which fields the decoded ALL view keeps (keep[i]), as get_all_headers
 * does past HDR_ALL_MAX: header names in order of first appearance, each
 * with all its occurrences, counting length(name) + length(value "\n") + 2,
 * until the total passes the bound; byte lengths where Perl counts the
 * characters of a decoded value. NULL if every field is kept, else an
 * array of h->n flags the caller frees. */
static unsigned char *all_keep(const hdr_list_t *h)
{
    size_t total = 0;
    for (size_t i = 0; i < h->n; i++)
        total += h->f[i].nlen + h->f[i].dlen + 1 + 2;
    if (total <= HDR_ALL_MAX)
        return NULL;
    unsigned char *keep = tg_calloc(h->n, 1);
    unsigned char *done = tg_calloc(h->n, 1);  /* name group handled */
    total = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (done[i])
            continue;
        /* i is the first field of its name: the others follow its links */
        for (size_t j = i;; j = h->f[j].next - 1) {
            done[j] = 1;
            total += h->f[j].nlen + h->f[j].dlen + 1 + 2;
            if (total > HDR_ALL_MAX)
                goto out;
            keep[j] = 1;
            if (!h->f[j].next)
                break;
        }
    }
out:
    free(done);
    return keep;
}

int hdr_get(const hdr_list_t *h, const char *name, msg_hmode_t mode,
            tg_buf *out)
{
    if (strcmp(name, "ALL") == 0) {
        unsigned char *keep = mode != MSG_H_RAW ? all_keep(h) : NULL;
        for (size_t i = 0; i < h->n; i++) {
            const hdr_field_t *f = &h->f[i];
            if (keep && !keep[i])
                continue;
            tg_buf_add(out, f->name, f->nlen);
            tg_buf_addc(out, ':');
            if (mode == MSG_H_RAW) {
                tg_buf_add(out, f->orig, f->olen);
            } else {
                tg_buf_addc(out, ' ');
                tg_buf_add(out, f->dec, f->dlen);
            }
            tg_buf_addc(out, '\n');
        }
        free(keep);
        return h->n > 0;
    }
    if (tg_strcasecmp(name, "ToCc") == 0) {
        if (mode == MSG_H_ADDR || mode == MSG_H_NAME) {
            /* every address/name of To, then of Cc, one per line */
            size_t start = out->len;
            int to = get_plain(h, "To", mode, out);
            tg_buf cc;
            tg_buf_init(&cc);
            int c = get_plain(h, "Cc", mode, &cc);
            if (c) {
                if (to && out->len > start)
                    tg_buf_addc(out, '\n');
                tg_buf_add(out, cc.s, cc.len);
            }
            tg_buf_free(&cc);
            return to || c;
        }
        /* SpamAssassin 4 (PerMsgStatus::_get): every To value, then every
         * Cc value, each a line of its own (3.4 joined them with ", ") */
        int to = get_plain(h, "To", mode, out);
        int cc = get_plain(h, "Cc", mode, out);
        return to || cc;
    }
    if (strcmp(name, "MESSAGEID") == 0) {
        int found = 0;
        for (size_t i = 0; i < NMESSAGEID; i++)
            found |= get_plain(h, messageid_names[i], mode, out);
        return found;
    }
    return get_plain(h, name, mode, out);
}

int hdr_is_pseudo(const char *name)
{
    return !strcmp(name, "ALL") || !tg_strcasecmp(name, "ToCc") || !strcmp(name, "MESSAGEID");
}

int hdr_get_last(const hdr_list_t *h, const char *name, msg_hmode_t mode,
                 tg_buf *out)
{
    if ((mode != MSG_H_DECODED && mode != MSG_H_RAW) || hdr_is_pseudo(name))
        return hdr_get(h, name, mode, out);
    long i = find_name(h, name);
    if (i < 0)
        return 0;
    put_value(&h->f[h->f[i].last], mode, out);
    tg_buf_addc(out, '\n');
    return 1;
}

int hdr_has(const hdr_list_t *h, const char *name)
{
    if (strcmp(name, "ALL") == 0)
        return h->n > 0;
    if (tg_strcasecmp(name, "ToCc") == 0)
        return hdr_last(h, "To") || hdr_last(h, "Cc");
    if (strcmp(name, "MESSAGEID") == 0) {
        for (size_t i = 0; i < NMESSAGEID; i++)
            if (hdr_last(h, messageid_names[i]))
                return 1;
        return 0;
    }
    return hdr_last(h, name) != NULL;
}
