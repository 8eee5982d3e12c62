#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "uri.h"

#include <string.h>

#include "util.h"

#define URI_MAX 2048
#define URI_CANON_DEPTH 4

static int lc(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static int is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

/* Thunderbird's end delimiters for a URL */
static int end_delim(unsigned char c)
{
    return is_space(c) || c == '>' || c == '<' || c == '"' || c == '`' ||
           c == '}' || c == ']' || c == '{' || c == '[' || c == '|' ||
           c == 0x1b || c == 0xa0;
}

static int end_delim_email(unsigned char c)
{
    return end_delim(c) || c == ',' || c == '(' || c == '\'' || c >= 0x80;
}

static int start_delim(unsigned char c)
{
    return is_space(c) || c == '>' || c == '<' || c == '"' || c == '\'' ||
           c == '`' || c == ',' || c == '{' || c == '[' || c == '(' ||
           c == '|' || c == 0x1b || c == 0xa0;
}

/* schemeless start delimiters: most punctuation */
static int sc_start_delim(unsigned char c)
{
    return is_space(c) || c == 0x1b || c == 0xa0 ||
           (c != '.' && c != '-' && c != '_' && c != '%' &&
            ((c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) ||
             (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e)));
}

static int prefix_ci(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    return n >= pl && tg_strncasecmp(s, p, pl) == 0;
}

/* Length of a known-scheme start at s: http://, https://, ftp://, www\d{0,2}.,
 * ftp. — 0 if none. */
static size_t known_scheme(const char *s, size_t n)
{
    if (prefix_ci(s, n, "http://"))
        return 7;
    if (prefix_ci(s, n, "https://"))
        return 8;
    if (prefix_ci(s, n, "ftp://"))
        return 6;
    if (prefix_ci(s, n, "ftp."))
        return 4;
    if (prefix_ci(s, n, "www")) {
        size_t i = 3;
        while (i < n && i < 5 && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i < n && s[i] == '.')
            return i + 1;
    }
    return 0;
}

static const char *const tlds[] = {
    "aero", "app", "asia", "biz", "cat", "club", "com", "coop", "dev", "edu",
    "gov", "info", "int", "io", "jobs", "link", "live", "mil", "mobi",
    "museum", "name", "net", "online", "org", "pro", "shop", "site", "store",
    "tech", "tel", "top", "travel", "xyz",
};

/* 1 if [s, s+n) is a plausible TLD: a known generic one or two letters. */
static int tld_ok(const char *s, size_t n)
{
    if (n == 2 && ((lc(s[0]) >= 'a' && lc(s[0]) <= 'z') &&
                   (lc(s[1]) >= 'a' && lc(s[1]) <= 'z')))
        return 1;
    for (size_t i = 0; i < sizeof tlds / sizeof *tlds; i++)
        if (strlen(tlds[i]) == n && tg_strncasecmp(s, tlds[i], n) == 0)
            return 1;
    return 0;
}

/* Host ends in a valid TLD and has at least two labels. */
static int host_ok(const char *h, size_t n)
{
    while (n && h[n - 1] == '.')
        n--;
    size_t i = n;
    while (i > 0 && h[i - 1] != '.')
        i--;
    if (i == 0 || i == 1)
        return 0;
    return tld_ok(h + i, n - i);
}

/* Schemeless: [a-z\d][a-z\d._-]{0,251}\.TLD \.? (:\d{1,5})? (/[^delim]+)? */
static size_t schemeless(const char *s, size_t n)
{
    if (!n || !((lc(s[0]) >= 'a' && lc(s[0]) <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return 0;
    size_t i = 1;
    while (i < n && i < 253 &&
           (is_word((unsigned char)s[i]) || s[i] == '.' || s[i] == '-'))
        i++;
    /* the host must end in .TLD */
    size_t he = i;
    while (he > 0 && s[he - 1] == '.')
        he--;
    if (!host_ok(s, he))
        return 0;
    size_t j = i;
    if (j < n && s[j] == ':') {
        size_t k = j + 1;
        while (k < n && k - j <= 5 && s[k] >= '0' && s[k] <= '9')
            k++;
        if (k > j + 1)
            j = k;
    }
    if (j < n && s[j] == '/') {
        size_t k = j + 1;
        while (k < n && k - j <= URI_MAX && !end_delim((unsigned char)s[k]))
            k++;
        if (k > j + 1)
            return k; /* capped paths are taken as they are: keeps this linear */
    }
    if (j < n && !end_delim((unsigned char)s[j]))
        return 0;
    return j;
}

static void report_text_uri(const char *raw, size_t rl, int mail, int sc,
                            uri_fn fn, void *ctx)
{
    /* ')' ends the URI unless a '(' comes before it */
    const char *par = memchr(raw, ')', rl);
    if (par && !memchr(raw, '(', (size_t)(par - raw)))
        rl = (size_t)(par - raw);
    while (rl && strchr("-~!@#^&*()_+=:;'?,.", raw[rl - 1]))
        rl--;
    if (rl && (unsigned char)raw[rl - 1] == 0xc2) /* half an NBSP */
        rl--;
    if (!rl)
        return;
    if (mail && !memchr(raw, '@', rl))
        return;
    if (rl >= 4 && (lc(raw[0]) == 'c' || lc(raw[0]) == 'm') && lc(raw[1]) == 'i' &&
        lc(raw[2]) == 'd' && raw[3] == ':')
        return;
    {   /* empty: "scheme:" "scheme://" */
        size_t i = 0;
        while (i < rl && is_word((unsigned char)raw[i]))
            i++;
        if (i > 0 && i < rl && raw[i] == ':') {
            size_t k = i + 1;
            while (k < rl && k - i <= 2 && raw[k] == '/')
                k++;
            if (k == rl)
                return;
        }
    }
    tg_buf u;
    tg_buf_init(&u);
    if (prefix_ci(raw, rl, "http:") || prefix_ci(raw, rl, "https:") ||
        prefix_ci(raw, rl, "ftp:") || prefix_ci(raw, rl, "mailto:")) {
        tg_buf_add(&u, raw, rl);
    } else if (prefix_ci(raw, rl, "ftp.")) {
        tg_buf_adds(&u, "ftp://");
        tg_buf_add(&u, raw, rl);
    } else if (known_scheme(raw, rl) && lc(raw[0]) == 'w') {
        tg_buf_adds(&u, "http://");
        tg_buf_add(&u, raw, rl);
    } else {
        const char *at = memchr(raw, '@', rl);
        const char *sl = memchr(raw, '/', rl);
        if (at && sl && sl < at && at > sl + 1) {
            tg_buf_adds(&u, "http://");
            tg_buf_add(&u, raw, rl);
        } else if (at) {
            const char *dot = memchr(at + 1, '.', rl - (size_t)(at + 1 - raw));
            if (!dot || dot == at + 1 || tg_memcasemem(raw, rl, "&nbsp;", 6)) {
                tg_buf_free(&u);
                return;
            }
            size_t k = 0;
            if (prefix_ci(raw, rl, "skype"))
                k = 5;
            else if (prefix_ci(raw, rl, "e-mail"))
                k = 6;
            else if (prefix_ci(raw, rl, "email"))
                k = 5;
            else if (prefix_ci(raw, rl, "-mail"))
                k = 5;
            else if (prefix_ci(raw, rl, "mail"))
                k = 4;
            if (k < rl && raw[k] == ':') {
                while (k < rl && raw[k] == ':')
                    k++;
            } else {
                k = 0;
                while (k < rl && raw[k] == ':')
                    k++;
            }
            tg_buf_adds(&u, "mailto:");
            tg_buf_add(&u, raw + k, rl - k);
        } else {
            if (!memchr(raw, '.', rl)) {
                tg_buf_free(&u);
                return;
            }
            tg_buf_adds(&u, "http://");
            tg_buf_add(&u, raw, rl);
        }
    }
    (void)sc;
    if (prefix_ci(u.s, u.len, "mailto:")) {
        const char *at = memchr(u.s, '@', u.len);
        size_t hs = at ? (size_t)(at + 1 - u.s) : u.len;
        size_t he = hs;
        while (he < u.len && u.s[he] != '?' && u.s[he] != '&' && u.s[he] != '>')
            he++;
        while (he >= hs + 3 && memcmp(u.s + he - 3, "%20", 3) == 0)
            he -= 3;
        if (!at || !host_ok(u.s + hs, he - hs)) {
            tg_buf_free(&u);
            return;
        }
    }
    fn(ctx, u.s, u.len);
    tg_buf_free(&u);
}

void uri_from_text(const char *s, size_t n, uri_fn fn, void *ctx)
{
    size_t i = 0;
    /* next '@' and next e-mail delimiter at or after i, kept incrementally
     * so that looking for "local@" stays linear */
    size_t next_at = 0, next_ed = 0;
    while (next_at < n && s[next_at] != '@')
        next_at++;
    while (next_ed < n && !end_delim_email((unsigned char)s[next_ed]))
        next_ed++;
    while (i < n) {
        unsigned char prev = i ? (unsigned char)s[i - 1] : ' ';
        unsigned char c = (unsigned char)s[i];
        int boundary = i == 0 || start_delim(prev) ||
                       (is_word(prev) != is_word(c)) ||
                       (i >= 3 && s[i - 3] == 0x1b && s[i - 2] == '(');
        if (!boundary) {
            i++;
            continue;
        }
        /* known scheme */
        size_t k = known_scheme(s + i, n - i);
        if (k) {
            size_t e = i;
            while (e < n && e - i < URI_MAX && !end_delim((unsigned char)s[e]))
                e++;
            if (e > i + k) {
                report_text_uri(s + i, e - i, 0, 0, fn, ctx);
                i = e;
                continue;
            }
        }
        /* mail: mailto:... or local@domain */
        if (prefix_ci(s + i, n - i, "mailto:")) {
            size_t e = i + 7;
            while (e < n && e - i < URI_MAX && !end_delim_email((unsigned char)s[e]))
                e++;
            if (e > i + 7) {
                report_text_uri(s + i, e - i, 1, 0, fn, ctx);
                i = e;
                continue;
            }
        }
        if (!end_delim_email(c) && c != '@') {
            if (next_at < i) {
                next_at = i;
                while (next_at < n && s[next_at] != '@')
                    next_at++;
            }
            if (next_ed < i) {
                next_ed = i;
                while (next_ed < n && !end_delim_email((unsigned char)s[next_ed]))
                    next_ed++;
            }
            size_t a = next_at;
            if (a < n && a < next_ed && a - i <= 251) {
                size_t e = a + 1;
                while (e < n && e - a <= 251 && !end_delim_email((unsigned char)s[e]))
                    e++;
                if (e > a + 1) {
                    report_text_uri(s + i, e - i, 1, 0, fn, ctx);
                    i = e;
                    continue;
                }
            }
        }
        if (i == 0 || sc_start_delim(prev)) {
            size_t e = schemeless(s + i, n - i);
            if (e) {
                report_text_uri(s + i, e, 0, 1, fn, ctx);
                i += e;
                continue;
            }
        }
        i++;
    }
}

/* ---- canonicalisation ------------------------------------------------ */

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lc(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Util::url_encode: decode printable %XX, encode raw controls/8-bit. */
static void url_fix(const char *s, size_t n, tg_buf *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int h1, h2;
        if (c == '%' && i + 2 < n && (h1 = hexv(s[i + 1])) >= 0 &&
            (h2 = hexv(s[i + 2])) >= 0) {
            int v = h1 * 16 + h2;
            if (h1 >= 2 && h1 <= 7 && v != 0x20 && v != 0x7f)
                tg_buf_addc(out, (char)v);
            else
                tg_buf_add(out, s + i, 3);
            i += 2;
        } else if (c <= 0x20 || c >= 0x7f || c == '"' || c == '%' || c == '<' ||
                   c == '>') {
            char e[3] = {'%', hx[c >> 4], hx[c & 15]};
            tg_buf_add(out, e, 3);
        } else {
            tg_buf_addc(out, (char)c);
        }
    }
}

static int has_pct(const char *s, size_t n)
{
    for (size_t i = 0; i + 2 < n; i++)
        if (s[i] == '%' && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0)
            return 1;
    return 0;
}

static void canon(const char *u0, size_t n0, uri_fn fn, void *ctx, int depth)
{
    tg_buf u, nu, t;
    tg_buf_init(&u);
    tg_buf_init(&nu);
    tg_buf_init(&t);
    for (size_t i = 0; i < n0; i++)
        if (u0[i] != '\n' && u0[i] != '\r')
            tg_buf_addc(&u, u0[i]);
    size_t st = 0, en = u.len;
    while (st < en && is_space((unsigned char)u.s[st]))
        st++;
    while (en > st && is_space((unsigned char)u.s[en - 1]))
        en--;
    const char *s = u.s ? u.s + st : "";
    size_t n = en - st;
    fn(ctx, u0, n0);
    if (n <= 1 || s[0] == '#' || s[0] == '?' || s[0] == '&' ||
        (s[0] == '/' && s[1] != '/'))
        goto out;
    const char *at = memchr(s, '@', n);
    const char *colon = memchr(s, ':', n);
    if (prefix_ci(s, n, "mailto:") || (at && (!colon || colon > at))) {
        const char *q = at ? memchr(at, '?', n - (size_t)(at - s)) : NULL;
        if (at && q && q > at + 1)
            fn(ctx, s, (size_t)(q - s));
        const char *amp = NULL;
        if (at) {
            for (const char *p = at + 1; p < s + n && *p != '?'; p++)
                if (*p == '&') {
                    amp = p;
                    break;
                }
        }
        if (amp && amp > at + 1)
            fn(ctx, s, (size_t)(amp - s));
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        tg_buf_addc(&nu, s[i] == '\\' ? '/' : s[i]);
    if (prefix_ci(nu.s, nu.len, "http:") || prefix_ci(nu.s, nu.len, "https:")) {
        size_t sc = nu.s[4] == ':' ? 5 : 6, k = sc;
        while (k < nu.len && k - sc < 2 && nu.s[k] == '/')
            k++;
        tg_buf_add(&t, nu.s, sc);
        tg_buf_adds(&t, "//");
        tg_buf_add(&t, nu.s + k, nu.len - k);
        tg_buf_reset(&nu);
        tg_buf_add(&nu, t.s, t.len);
        tg_buf_reset(&t);
    }
    if (has_pct(nu.s, nu.len)) {
        url_fix(nu.s, nu.len, &t);
        tg_buf_reset(&nu);
        tg_buf_add(&nu, t.s, t.len);
        tg_buf_reset(&t);
    }
    {   /* no scheme: http:// (ftp:// for ftp.) */
        size_t k = 0;
        while (k < nu.len && (is_word((unsigned char)nu.s[k]) || nu.s[k] == '-'))
            k++;
        if (!(k > 0 && k < nu.len && nu.s[k] == ':')) {
            tg_buf_adds(&t, strncmp(nu.s, "ftp.", 4) == 0 ? "ftp://" : "http://");
            tg_buf_add(&t, nu.s, nu.len);
            tg_buf_reset(&nu);
            tg_buf_add(&nu, t.s, t.len);
            tg_buf_reset(&t);
        }
    }
    size_t hs = 0;
    if (prefix_ci(nu.s, nu.len, "http://"))
        hs = 7;
    else if (prefix_ci(nu.s, nu.len, "https://"))
        hs = 8;
    if (hs) {
        size_t k = hs;
        while (k < nu.len && nu.s[k] != '/' && nu.s[k] != '?' && nu.s[k] != '#')
            k++;
        if (k < nu.len && k > hs && nu.s[k] != '/') {
            tg_buf_add(&t, nu.s, k);
            tg_buf_addc(&t, '/');
            tg_buf_add(&t, nu.s + k, nu.len - k);
            tg_buf_reset(&nu);
            tg_buf_add(&nu, t.s, t.len);
            tg_buf_reset(&t);
        }
    }
    /* &#NN; for printable characters, unicode dots */
    for (size_t i = 0; i < nu.len; i++) {
        if (nu.s[i] == '&' && i + 2 < nu.len && nu.s[i + 1] == '#') {
            size_t k = i + 2;
            int hex = nu.s[k] == 'x' || nu.s[k] == 'X';
            if (hex)
                k++;
            unsigned long v = 0;
            size_t ds = k;
            while (k < nu.len && k - ds < 8 && hexv(nu.s[k]) >= 0 &&
                   (hex || (nu.s[k] >= '0' && nu.s[k] <= '9')))
                v = v * (hex ? 16 : 10) + (unsigned long)hexv(nu.s[k++]);
            if (k > ds && k < nu.len && nu.s[k] == ';') {
                if (v >= 33 && v <= 126) {
                    tg_buf_addc(&t, (char)v);
                    i = k;
                    continue;
                }
                if (v == 0x3002 || v == 0xff0e || v == 0xff61) {
                    tg_buf_addc(&t, '.');
                    i = k;
                    continue;
                }
            }
        }
        tg_buf_addc(&t, nu.s[i]);
    }
    tg_buf_reset(&nu);
    tg_buf_add(&nu, t.s ? t.s : "", t.len);
    tg_buf_reset(&t);
    if (nu.len != n || memcmp(nu.s, s, n) != 0)
        fn(ctx, nu.s, nu.len);
    if (hs && nu.len > hs) {
        /* proto, optional user@, host, rest */
        size_t k = hs, hstart = hs;
        while (k < nu.len && nu.s[k] != '@' && nu.s[k] != '/' && nu.s[k] != '?' &&
               nu.s[k] != '#')
            k++;
        if (k < nu.len && nu.s[k] == '@')
            hstart = k + 1;
        size_t he = hstart;
        while (he < nu.len && nu.s[he] != '/' && nu.s[he] != '?' && nu.s[he] != '#' &&
               nu.s[he] != ':')
            he++;
        const char *rest = nu.s + he;
        size_t rl = nu.len - he;
        if (he > hstart) {
            /* default port */
            const char *dp = hs == 7 ? ":80" : ":443";
            size_t dl = strlen(dp);
            if (rl >= dl && memcmp(rest, dp, dl) == 0 &&
                (rl == dl || !(rest[dl] >= '0' && rest[dl] <= '9'))) {
                tg_buf_add(&t, nu.s, he);
                tg_buf_add(&t, rest + dl, rl - dl);
                fn(ctx, t.s, t.len);
                tg_buf_reset(&t);
            }
            if (hstart > hs) { /* user@host: drop the user part */
                tg_buf_add(&t, nu.s, hs);
                tg_buf_add(&t, nu.s + hstart, nu.len - hstart);
                fn(ctx, t.s, t.len);
                tg_buf_reset(&t);
            }
            size_t hx = he;
            while (hx > hstart && !((nu.s[hx - 1] >= '0' && nu.s[hx - 1] <= '9') ||
                                    (lc(nu.s[hx - 1]) >= 'a' && lc(nu.s[hx - 1]) <= 'z')))
                hx--;
            if (hx < he) { /* "http://example.biz!!!" */
                tg_buf_add(&t, nu.s, hs);
                tg_buf_add(&t, nu.s + hstart, hx - hstart);
                tg_buf_add(&t, rest, rl);
                fn(ctx, t.s, t.len);
                tg_buf_reset(&t);
            }
            /* redirector: an http URL inside the rest */
            if (depth < URI_CANON_DEPTH) {
                for (size_t r = 0; r + 5 < rl; r++) {
                    if ((lc(rest[r]) == 'h') && (prefix_ci(rest + r, rl - r, "http:") ||
                                                 prefix_ci(rest + r, rl - r, "https:"))) {
                        size_t e = r;
                        while (e < rl && rest[e] != '&' && rest[e] != '#')
                            e++;
                        if (memchr(rest + r, '.', e - r))
                            canon(rest + r, e - r, fn, ctx, depth + 1);
                        break;
                    }
                }
            }
        }
    }
out:
    tg_buf_free(&u);
    tg_buf_free(&nu);
    tg_buf_free(&t);
}

void uri_canonicalize(const char *u, size_t n, uri_fn fn, void *ctx)
{
    canon(u, n, fn, ctx, 0);
}
