#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
/* Unit tests for the message model (rules/msg.h) and its modules. Fixtures
 * are in tests/fixtures/mime/; the runner runs from the repo root. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "msg.h"

#define FIX "tests/fixtures/mime/"

static char *slurp(const char *path, size_t *len)
{
    char *buf;
    char err[256];
    if (tg_read_file(path, &buf, len, err, sizeof err) != 0)
        ck_abort_msg("%s", err);
    return buf;
}

/* Builds a finished msg from bytes, fed in chunks of `chunk` (0: whole). */
static msg_t *build(const char *data, size_t len, size_t chunk,
                    const msg_limits_t *lim)
{
    msg_t *m = msg_new(lim);
    if (chunk == 0)
        chunk = len ? len : 1;
    for (size_t o = 0; o < len; o += chunk)
        msg_feed(m, data + o, len - o < chunk ? len - o : chunk);
    msg_finish(m);
    return m;
}

static msg_t *load(const char *name)
{
    size_t len;
    char path[256];
    snprintf(path, sizeof path, FIX "%s", name);
    char *buf = slurp(path, &len);
    msg_t *m = build(buf, len, 0, NULL);
    free(buf);
    return m;
}

static msg_t *build_str(const char *s)
{
    return build(s, strlen(s), 0, NULL);
}

static int str_is(msg_str_t s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

#define ck_str(s, want)                                                      \
    ck_assert_msg(str_is((s), (want)), "got [%.*s] want [%s]", (int)(s).len, \
                  (s).ptr, (want))

/* The header value as a fresh string ("" if unset); *found gets the rc. */
static char *hget(const msg_t *m, const char *name, msg_hmode_t mode,
                  int *found)
{
    tg_buf b;
    tg_buf_init(&b);
    int f = msg_get_header(m, name, mode, &b);
    if (found)
        *found = f;
    return tg_buf_steal(&b);
}

#define ck_hdr(m, name, mode, want)                                   \
    do {                                                              \
        int f_;                                                       \
        char *v_ = hget((m), (name), (mode), &f_);                    \
        ck_assert_msg(f_ == 1, "%s unset", (name));                   \
        ck_assert_str_eq(v_, (want));                                 \
        free(v_);                                                     \
    } while (0)

/* All body lines joined. */
static char *body_text(const msg_t *m)
{
    size_t n;
    const msg_str_t *l = msg_body_lines(m, &n);
    tg_buf b;
    tg_buf_init(&b);
    for (size_t i = 0; i < n; i++)
        tg_buf_add(&b, l[i].ptr, l[i].len);
    return tg_buf_steal(&b);
}

static int has_uri(const msg_t *m, const char *u)
{
    size_t n;
    const msg_str_t *l = msg_uris(m, &n);
    for (size_t i = 0; i < n; i++)
        if (str_is(l[i], u))
            return 1;
    return 0;
}

/* Every view of a and b is byte-identical. */
static void same_views(const msg_t *a, const msg_t *b)
{
    msg_str_t fa = msg_full(a), fb = msg_full(b);
    ck_assert_uint_eq(fa.len, fb.len);
    ck_assert(memcmp(fa.ptr, fb.ptr, fa.len) == 0);
    const msg_str_t *(*views[])(const msg_t *, size_t *) = {
        msg_body_lines, msg_rawbody_chunks, msg_uris};
    for (size_t v = 0; v < 3; v++) {
        size_t na, nb;
        const msg_str_t *la = views[v](a, &na), *lb = views[v](b, &nb);
        ck_assert_uint_eq(na, nb);
        for (size_t i = 0; i < na; i++) {
            ck_assert_uint_eq(la[i].len, lb[i].len);
            ck_assert(memcmp(la[i].ptr, lb[i].ptr, la[i].len) == 0);
        }
    }
    ck_assert_uint_eq(msg_nheaders(a), msg_nheaders(b));
    for (size_t i = 0; i < msg_nheaders(a); i++) {
        msg_str_t n1, r1, d1, n2, r2, d2;
        msg_header_at(a, i, &n1, &r1, &d1);
        msg_header_at(b, i, &n2, &r2, &d2);
        ck_assert(n1.len == n2.len && memcmp(n1.ptr, n2.ptr, n1.len) == 0);
        ck_assert(r1.len == r2.len && memcmp(r1.ptr, r2.ptr, r1.len) == 0);
        ck_assert(d1.len == d2.len && memcmp(d1.ptr, d2.ptr, d1.len) == 0);
    }
    ck_assert_uint_eq(msg_nparts(a), msg_nparts(b));
    for (size_t i = 0; i < msg_nparts(a); i++) {
        const msg_part_t *p = msg_part_at(a, i), *q = msg_part_at(b, i);
        ck_assert(p->type.len == q->type.len &&
                  memcmp(p->type.ptr, q->type.ptr, p->type.len) == 0);
        ck_assert_uint_eq(p->size, q->size);
        ck_assert_uint_eq(p->depth, q->depth);
    }
    ck_assert_uint_eq(msg_limits_hit(a), msg_limits_hit(b));
}

START_TEST(single_part)
{
    msg_t *m = load("single.eml");
    size_t n;
    const msg_str_t *l = msg_body_lines(m, &n);
    ck_assert_uint_eq(n, 3);
    ck_str(l[0], "Hello there\n");
    ck_str(l[1], "Hello Bob, this is a test.\n");
    ck_str(l[2], "Second paragraph with www.example.net/path and "
                 "http://foo.example.com/x?y=1. ");
    ck_assert_uint_eq(msg_nparts(m), 1);
    const msg_part_t *p = msg_part_at(m, 0);
    ck_str(p->type, "text/plain");
    ck_str(p->charset, "us-ascii");
    ck_assert_uint_eq(p->filename.len, 0);
    ck_assert_uint_eq(p->depth, 0);
    ck_assert_int_eq(p->is_attachment, 0);
    ck_assert_uint_eq(msg_limits_hit(m), 0);
    ck_assert_uint_eq(msg_nheaders(m), 5);
    msg_str_t name, raw, dec;
    msg_header_at(m, 2, &name, &raw, &dec);
    ck_str(name, "Subject");
    ck_str(raw, "Hello there");
    ck_str(dec, "Hello there");
    msg_free(m);
}
END_TEST

START_TEST(nested_three_levels)
{
    msg_t *m = load("nested3.eml");
    ck_assert_uint_eq(msg_nparts(m), 4);
    static const char *types[] = {"text/plain", "text/html", "image/png",
                                  "application/octet-stream"};
    static const unsigned depths[] = {2, 3, 3, 1};
    for (size_t i = 0; i < 4; i++) {
        const msg_part_t *p = msg_part_at(m, i);
        ck_str(p->type, types[i]);
        ck_assert_uint_eq(p->depth, depths[i]);
    }
    ck_assert_uint_eq(msg_part_at(m, 2)->size, 8); /* PNG signature */
    ck_str(msg_part_at(m, 3)->filename, "data.bin");
    ck_assert_uint_eq(msg_part_at(m, 3)->size, 4);
    ck_assert_int_eq(msg_part_at(m, 3)->is_attachment, 1);
    char *t = body_text(m);
    ck_assert_str_eq(t, "nested\nlevel two plain\nlevel three html\n");
    free(t);
    ck_assert_uint_eq(msg_limits_hit(m) & MSG_MIME_ERROR, 0);
    /* mimeheader view of a leaf */
    tg_buf b;
    tg_buf_init(&b);
    ck_assert_int_eq(msg_part_header(m, 1, "Content-Type", MSG_H_DECODED, &b), 1);
    ck_assert_str_eq(b.s, "text/html\n");
    tg_buf_free(&b);
    msg_free(m);
}
END_TEST

START_TEST(missing_closing_boundary)
{
    msg_t *m = load("noclose.eml");
    ck_assert(msg_limits_hit(m) & MSG_MIME_ERROR);
    ck_assert_uint_eq(msg_nparts(m), 2);
    size_t n;
    const msg_str_t *r = msg_rawbody_chunks(m, &n);
    ck_assert_uint_eq(n, 2);
    ck_str(r[0], "first part");
    ck_str(r[1], "second part never closed\n");
    msg_free(m);
}
END_TEST

START_TEST(bad_base64)
{
    msg_t *m = load("badb64.eml");
    ck_assert(msg_limits_hit(m) & MSG_MIME_ERROR);
    size_t n;
    const msg_str_t *r = msg_rawbody_chunks(m, &n);
    ck_assert_uint_eq(n, 1);
    /* junk dropped, inner '=' read as 63 (SpamAssassin's decoder) */
    ck_str(r[0], "Hello world?!");
    msg_free(m);
    m = build_str("Subject: ok\nContent-Transfer-Encoding: base64\n\n"
                  "SGVs\r\nbG8=\n");
    r = msg_rawbody_chunks(m, &n);
    ck_str(r[0], "Hello");
    ck_assert_uint_eq(msg_limits_hit(m) & MSG_MIME_ERROR, 0);
    msg_free(m);
}
END_TEST

START_TEST(qp_soft_breaks)
{
    msg_t *m = load("qp.eml");
    size_t n;
    const msg_str_t *r = msg_rawbody_chunks(m, &n);
    ck_assert_uint_eq(n, 1);
    ck_str(r[0], "This is a long line that is soft broken and caf\xe9 = equals\nABC\n");
    const msg_str_t *l = msg_body_lines(m, &n);
    ck_assert_uint_eq(n, 2);
    /* iso-8859-1 body text becomes UTF-8 */
    ck_str(l[1], "This is a long line that is soft broken and caf\xc3\xa9 = equals ABC ");
    msg_free(m);
    /* '=' not followed by two hex digits stays, also at the line's end */
    m = build_str("Subject: ok\nContent-Transfer-Encoding: quoted-printable\n\n"
                  "a=3Db=ZZc=4\n=41=\nB= \n");
    r = msg_rawbody_chunks(m, &n);
    ck_str(r[0], "a=b=ZZc=4\nAB");
    msg_free(m);
}
END_TEST

START_TEST(rfc2047_words)
{
    msg_t *m = load("rfc2047.eml");
    /* B, Q, adjacent words joined, ISO-8859-1 -> UTF-8 */
    ck_hdr(m, "Subject", MSG_H_DECODED, "Hello World and caf\xc3\xa9\n");
    ck_hdr(m, "Subject", MSG_H_RAW,
           " =?UTF-8?B?SGVsbG8g?= =?UTF-8?B?V29ybGQ=?= and =?iso-8859-1?q?caf=E9?=\n");
    ck_hdr(m, "From", MSG_H_DECODED, "Andr\xc3\xa9 Pirard <PIRARD@vm1.ulg.ac.be>\n");
    ck_hdr(m, "To", MSG_H_NAME, "Keith Moore");
    /* whitespace between adjacent encoded-words disappears, not elsewhere */
    ck_hdr(m, "X-Adjacent", MSG_H_DECODED, "ab c\n");
    /* invalid encoded-words stay as they are */
    ck_hdr(m, "X-Bad", MSG_H_DECODED, "=?UTF-8?X?invalid?= and =?broken\n");
    size_t n;
    const msg_str_t *l = msg_body_lines(m, &n);
    ck_str(l[0], "Hello World and caf\xc3\xa9\n");
    msg_free(m);

    /* more charsets than the per-thread descriptor cache holds, cycling,
     * each word decoded from its own charset (state reset between uses) */
    static const struct { const char *cs, *enc, *utf8; } w[] = {
        {"iso-8859-1", "=E9", "\xc3\xa9"}, {"iso-8859-2", "=B1", "\xc4\x85"},
        {"koi8-r", "=F0", "\xd0\x9f"}, {"iso-8859-5", "=BF", "\xd0\x9f"},
        {"iso-8859-7", "=E1", "\xce\xb1"}, {"windows-1251", "=CF", "\xd0\x9f"},
        {"iso-8859-15", "=A4", "\xe2\x82\xac"}, {"iso-8859-9", "=FD", "\xc4\xb1"},
        {"windows-1250", "=B9", "\xc4\x85"}, {"iso-2022-jp", "=1B$B$\"=1B(B", "\xe3\x81\x82"},
        {"x-no-such-charset", "z", "z"},
    };
    tg_buf b, want;
    tg_buf_init(&b);
    tg_buf_init(&want);
    tg_buf_adds(&b, "Subject:");
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < sizeof w / sizeof *w; i++) {
            tg_buf_printf(&b, " x =?%s?q?%s?=", w[i].cs, w[i].enc);
            tg_buf_printf(&want, "%sx %s", want.len ? " " : "", w[i].utf8);
        }
    tg_buf_adds(&b, "\n\nbody\n");
    tg_buf_addc(&want, '\n');
    m = build_str(b.s);
    ck_hdr(m, "Subject", MSG_H_DECODED, want.s);
    msg_free(m);
    tg_buf_free(&b);
    tg_buf_free(&want);
}
END_TEST

START_TEST(rfc2231_filenames)
{
    msg_t *m = load("rfc2231.eml");
    ck_assert_uint_eq(msg_nparts(m), 2);
    const msg_part_t *p = msg_part_at(m, 0);
    ck_str(p->type, "application/pdf");
    ck_str(p->filename, "r\xc3\xa9sum\xc3\xa9.pdf");
    ck_assert_int_eq(p->is_attachment, 1);
    p = msg_part_at(m, 1);
    ck_str(p->filename, "setup.exe"); /* Content-Type name= fallback */
    ck_assert_int_eq(p->is_attachment, 1);
    ck_assert_uint_eq(p->size, 4);
    msg_free(m);
    m = build_str("Subject: x\nContent-Type: application/zip; "
                  "name*=iso-8859-1'en'caf%E9.zip\n\nPK\n");
    ck_str(msg_part_at(m, 0)->filename, "caf\xc3\xa9.zip");
    msg_free(m);
}
END_TEST

START_TEST(html_rendering)
{
    msg_t *m = load("html.eml");
    size_t n;
    const msg_str_t *l = msg_body_lines(m, &n);
    ck_assert_uint_eq(n, 6);
    ck_str(l[0], "html test\n");
    ck_str(l[2], "The Title\n");
    /* SpamAssassin (Perl) keeps text that never held a character above
     * U+00FF as Latin-1 octets: &eacute; in ASCII HTML is byte E9 */
    ck_str(l[3], "Caf\xe9 & bar AB <tag>\n");
    ck_str(l[4], "Second line click\n");
    char *t = body_text(m);
    ck_assert_ptr_null(strstr(t, "hidden script"));
    ck_assert_ptr_null(strstr(t, "color"));
    ck_assert_ptr_null(strstr(t, "comment"));
    free(t);
    /* rawbody keeps the markup */
    const msg_str_t *r = msg_rawbody_chunks(m, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_nonnull(memmem(r[0].ptr, r[0].len, "<script>", 8));
    msg_free(m);

    m = build_str("Subject: s\nContent-Type: text/html\n\n"
                  "<div>one</div><div>two</div><p>three<br>four</p>"
                  "<table><tr><td>a</td><td>b</td></tr></table>&nbsp;&#x263A;");
    l = msg_body_lines(m, &n);
    /* <div> gives "\n" at open and close: two make a paragraph break */
    ck_assert_uint_eq(n, 5);
    ck_str(l[1], " one\n");
    ck_str(l[2], "two\n");
    ck_str(l[3], "three four\n");
    ck_str(l[4], " a b \xe2\x98\xba"); /* &nbsp; is a space, &#x263A; UTF-8 */
    msg_free(m);
}
END_TEST

START_TEST(uri_extraction)
{
    msg_t *m = load("html.eml");
    ck_assert(has_uri(m, "http://link.example.com/a"));
    ck_assert(has_uri(m, "http://img.example.com/i.gif"));
    ck_assert(has_uri(m, "https://form.example.com/post"));
    ck_assert(has_uri(m, "http://bg.example.com/bg.png"));
    msg_free(m);
    m = load("single.eml");
    ck_assert(has_uri(m, "http://www.example.net/path")); /* bare www. */
    ck_assert(has_uri(m, "http://foo.example.com/x?y=1")); /* '.' dropped */
    ck_assert(!has_uri(m, "http://foo.example.com/x?y=1."));
    msg_free(m);
    m = build_str("Subject: u\n\nmail me at someone@example.com or see "
                  "HTTP://Example.COM:80/%7Euser or <a href=x> no\n");
    ck_assert(has_uri(m, "mailto:someone@example.com"));
    ck_assert(has_uri(m, "HTTP://Example.COM:80/%7Euser"));
    ck_assert(has_uri(m, "HTTP://Example.COM:80/~user"));
    msg_free(m);
    /* schemeless hosts: the last label is a known TLD, a final '.' is
     * not part of the host, a word without a dot is no host */
    m = build_str("Subject: s\n\nsee shop.example.com. or example.invalidtld "
                  "or localhost or a..com or x.org\n");
    ck_assert(has_uri(m, "http://shop.example.com"));
    ck_assert(has_uri(m, "http://x.org"));
    ck_assert(!has_uri(m, "http://example.invalidtld"));
    ck_assert(!has_uri(m, "http://localhost"));
    msg_free(m);
    /* URIs are deduplicated */
    m = build_str("Subject: d\n\nhttp://a.example.com/ http://a.example.com/\n");
    size_t n, c = 0;
    const msg_str_t *u = msg_uris(m, &n);
    for (size_t i = 0; i < n; i++)
        c += str_is(u[i], "http://a.example.com/");
    ck_assert_uint_eq(c, 1);
    msg_free(m);
}
END_TEST

START_TEST(body_array_layout)
{
    /* whitespace collapse, one element per paragraph, Subject first */
    msg_t *m = build_str("Subject: The  Subject\n\n  a \t b\n c\n\n\n  d  \n \n e");
    size_t n;
    const msg_str_t *l = msg_body_lines(m, &n);
    ck_assert_uint_eq(n, 4);
    ck_str(l[0], "The  Subject\n");
    ck_str(l[1], " a b c\n");
    ck_str(l[2], " d \n");
    ck_str(l[3], " e");
    msg_free(m);

    /* no Subject: the first element is a bare newline */
    m = build_str("From: x@example.com\n\nhello\n");
    l = msg_body_lines(m, &n);
    ck_str(l[0], "\n");
    ck_str(l[1], "hello ");
    msg_free(m);

    /* 2048-byte split: at the last space, else hard */
    tg_buf b;
    tg_buf_init(&b);
    tg_buf_adds(&b, "Subject: s\n\n");
    for (int i = 0; i < 5000; i++)
        tg_buf_addc(&b, 'a');
    tg_buf_adds(&b, "\n\n");
    for (int i = 0; i < 600; i++)
        tg_buf_adds(&b, "word ");
    m = build(b.s, b.len, 0, NULL);
    l = msg_body_lines(m, &n);
    ck_assert_uint_eq(n, 6);
    ck_assert_uint_eq(l[1].len, 2048);
    ck_assert_uint_eq(l[2].len, 2048);
    ck_assert_uint_eq(l[3].len, 5000 - 4096 + 1);
    ck_assert_int_eq(l[3].ptr[l[3].len - 1], '\n');
    ck_assert_uint_eq(l[4].len, 2045); /* ends with a space at 2044 */
    ck_assert_int_eq(l[4].ptr[l[4].len - 1], ' ');
    ck_assert_uint_eq(l[4].len + l[5].len, 3000);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(l[i].ptr[l[i].len], '\0');
    msg_free(m);
    tg_buf_free(&b);
}
END_TEST

START_TEST(rawbody_chunks)
{
    tg_buf b;
    tg_buf_init(&b);
    tg_buf_adds(&b, "Subject: s\n\n");
    size_t start = b.len;
    for (int i = 0; i < 1000; i++)
        tg_buf_printf(&b, "line %d of text\n", i);
    msg_t *m = build(b.s, b.len, 0, NULL);
    size_t n;
    const msg_str_t *r = msg_rawbody_chunks(m, &n);
    ck_assert_uint_gt(n, 1);
    tg_buf j;
    tg_buf_init(&j);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_le(r[i].len, 4096);
        ck_assert_int_eq(r[i].ptr[r[i].len - 1], '\n'); /* split at newlines */
        tg_buf_add(&j, r[i].ptr, r[i].len);
    }
    ck_assert_uint_eq(j.len, b.len - start);
    ck_assert(memcmp(j.s, b.s + start, j.len) == 0);
    tg_buf_free(&j);
    tg_buf_free(&b);
    msg_free(m);

    /* non-text parts are not rawbody; message/rfc822 parts are parsed */
    m = load("rfc822.eml");
    r = msg_rawbody_chunks(m, &n);
    ck_assert_uint_eq(n, 2);
    ck_str(r[0], "see attached"); /* the newline before a boundary is its own */
    ck_str(r[1], "inner body text");
    ck_assert_uint_eq(msg_nparts(m), 2);
    ck_assert_uint_eq(msg_part_at(m, 1)->depth, 2);
    char *t = body_text(m);
    ck_assert_str_eq(t, "forwarded\nsee attached inner body text");
    free(t);
    msg_free(m);
}
END_TEST

START_TEST(full_view)
{
    size_t len;
    char *buf = slurp(FIX "single.eml", &len);
    msg_t *m = build(buf, len, 0, NULL);
    msg_str_t f = msg_full(m);
    ck_assert_uint_eq(f.len, len);
    ck_assert(memcmp(f.ptr, buf, len) == 0);
    ck_assert_int_eq(f.ptr[f.len], '\0');
    ck_assert_uint_eq(msg_size(m), len);
    msg_free(m);
    free(buf);
}
END_TEST

START_TEST(pseudo_headers)
{
    msg_t *m = load("headers.eml");
    char *all = hget(m, "ALL", MSG_H_DECODED, NULL);
    ck_assert_ptr_nonnull(strstr(all, "From: Joe Q. Public <joe@example.com>\n"));
    ck_assert_ptr_nonnull(strstr(all, "\nSubject: multi\n"));
    ck_assert_ptr_nonnull(strstr(all, "\nReceived: from c by d; Mon, 1 Jan 2024 00:00:01 +0000\n"));
    free(all);
    /* SpamAssassin 4: the To values, then the Cc values, a line each */
    ck_hdr(m, "ToCc", MSG_H_DECODED,
           "\"Smith, Ann\" <ann@example.com>, bob@example.org\n"
           "carol@example.net (Carol C)\n");
    ck_hdr(m, "MESSAGEID", MSG_H_DECODED,
           "<resent@example.com>\n<main@example.com>\n");
    int found;
    char *v = hget(m, "EnvelopeFrom", MSG_H_DECODED, &found);
    ck_assert_int_eq(found, 0);
    free(v);
    msg_set_envelope_from(m, "bounce@example.com");
    ck_hdr(m, "EnvelopeFrom", MSG_H_DECODED, "bounce@example.com");
    ck_hdr(m, "EnvelopeFrom", MSG_H_ADDR, "bounce@example.com");
    v = hget(m, "X-Missing", MSG_H_DECODED, &found);
    ck_assert_int_eq(found, 0);
    ck_assert_str_eq(v, "");
    free(v);
    /* exists: asks msg_has_header, which must agree with msg_get_header */
    static const char *const names[] = {"ALL", "ToCc", "tocc", "MESSAGEID", "messageid",
                                        "Subject", "subject", "X-Missing", "EnvelopeFrom",
                                        "Message-Id", "Resent-Message-Id", "Cc", "all"};
    for (int pass = 0; pass < 2; pass++) {
        msg_t *x = pass ? m : build_str("Subject: only\n\nbody\n");
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
            v = hget(x, names[i], MSG_H_RAW, &found);
            ck_assert_msg(msg_has_header(x, names[i]) == found, "%s (pass %d): has %d, get %d",
                          names[i], pass, msg_has_header(x, names[i]), found);
            free(v);
        }
        if (!pass)
            msg_free(x);
    }
    ck_assert(msg_has_header(m, "ToCc") && msg_has_header(m, "EnvelopeFrom"));
    ck_assert(!msg_has_header(m, "X-Missing"));
    msg_free(m);
}
END_TEST

/* A header name resolved once (msg_hkey_t) reads, on any message and in
 * every mode, what msg_get_header / msg_has_header read by name. */
START_TEST(header_keys)
{
    static const char *const names[] = {
        "ALL", "all", "ToCc", "tocc", "MESSAGEID", "messageid", "Subject", "SUBJECT",
        "X-Missing", "EnvelopeFrom", "envelopefrom", "Message-Id", "Cc", "From", "To",
        "X-Spam-Relays-External", "x-spam-relays-untrusted", "ALL-TRUSTED", "All-Trusted",
        "ALL-EXTERNAL", "Received"};
    enum { N = sizeof names / sizeof *names };
    msg_hkey_t k[N];
    for (size_t i = 0; i < N; i++)
        msg_hkey_init(&k[i], names[i]);
    ck_assert_int_eq(k[0].kind, MSG_HK_SPECIAL);
    ck_assert_int_eq(k[1].kind, MSG_HK_PLAIN); /* "all" is a field called all */
    ck_assert_int_eq(k[9].kind, MSG_HK_ENVFROM);
    ck_assert_int_eq(k[16].kind, RCVD_P_UNTRUSTED);
    ck_assert_int_eq(k[18].kind, MSG_HK_PLAIN);
    msg_t *ms[3] = {load("headers.eml"), build_str("Subject: only\nall: lower\n\nbody\n"),
                    build_str("From: \"A\" <a@example.com>\nX-Spam-Relays-External: x@y\n"
                              "Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\n\nb\n")};
    msg_set_envelope_from(ms[0], "Bounce <bounce@example.com>");
    tg_buf a, b;
    tg_buf_init(&a);
    tg_buf_init(&b);
    int nonempty = 0;
    for (size_t j = 0; j < 3; j++)
        for (size_t i = 0; i < N; i++) {
            ck_assert_int_eq(msg_has_hkey(ms[j], &k[i]), msg_has_header(ms[j], names[i]));
            for (int mode = MSG_H_DECODED; mode <= MSG_H_NAME; mode++) {
                tg_buf_reset(&a);
                tg_buf_reset(&b);
                int fa = msg_get_hkey(ms[j], &k[i], (msg_hmode_t)mode, &a);
                int fb = msg_get_header(ms[j], names[i], (msg_hmode_t)mode, &b);
                ck_assert_msg(fa == fb && a.len == b.len && (!a.len || !memcmp(a.s, b.s, a.len)),
                              "%s mode %d message %zu", names[i], mode, j);
                nonempty += a.len > 0;
            }
        }
    ck_assert_int_gt(nonempty, 60);
    /* a relay pseudo-header's name in :addr reads a field of that name */
    tg_buf_reset(&a);
    ck_assert(msg_get_hkey(ms[2], &k[15], MSG_H_ADDR, &a));
    ck_assert(a.len == 3 && !memcmp(a.s, "x@y", 3));
    tg_buf_reset(&a);
    ck_assert(msg_get_hkey(ms[0], &k[9], MSG_H_ADDR, &a));
    ck_assert(a.len == 18 && !memcmp(a.s, "bounce@example.com", 18));
    tg_buf_free(&a);
    tg_buf_free(&b);
    for (size_t j = 0; j < 3; j++)
        msg_free(ms[j]);
}
END_TEST

START_TEST(addr_and_name)
{
    msg_t *m = load("headers.eml");
    ck_hdr(m, "From", MSG_H_ADDR, "joe@example.com");
    ck_hdr(m, "From", MSG_H_NAME, "Joe Q. Public");
    /* SpamAssassin 4 header tests: every address / name, one per line */
    ck_hdr(m, "To", MSG_H_ADDR, "ann@example.com\nbob@example.org");
    ck_hdr(m, "To", MSG_H_NAME, "Smith, Ann");
    ck_hdr(m, "Cc", MSG_H_ADDR, "carol@example.net");
    ck_hdr(m, "Cc", MSG_H_NAME, "Carol C"); /* comment stands in for a name */
    ck_hdr(m, "ToCc", MSG_H_ADDR, "ann@example.com\nbob@example.org\ncarol@example.net");
    ck_hdr(m, "ToCc", MSG_H_NAME, "Smith, Ann\nCarol C");
    msg_free(m);
    m = build_str("From: <only@example.com>\nTo: Undisclosed recipients:;\n"
                  "Cc: 'Quoted' <q@example.com>\nReply-To: plain@example.org\n\n\n");
    ck_hdr(m, "From", MSG_H_ADDR, "only@example.com");
    int found;
    char *v = hget(m, "From", MSG_H_NAME, &found);
    ck_assert_int_eq(found, 0);
    free(v);
    v = hget(m, "To", MSG_H_ADDR, &found);
    ck_assert_int_eq(found, 0);
    free(v);
    ck_hdr(m, "Cc", MSG_H_NAME, "Quoted");
    ck_hdr(m, "Reply-To", MSG_H_ADDR, "plain@example.org");
    msg_free(m);
}
END_TEST

START_TEST(multiple_occurrences)
{
    msg_t *m = load("headers.eml");
    ck_hdr(m, "received", MSG_H_DECODED,
           "from a by b; Mon, 1 Jan 2024 00:00:00 +0000\n"
           "from c by d; Mon, 1 Jan 2024 00:00:01 +0000\n");
    /* :raw is the value as it stands in the message, folding included */
    ck_hdr(m, "Received", MSG_H_RAW,
           " from a by b; Mon, 1 Jan 2024 00:00:00 +0000\n"
           " from c\n by d; Mon, 1 Jan 2024 00:00:01 +0000\n");
    msg_str_t nm, raw, dec;
    msg_header_at(m, 4, &nm, &raw, &dec);
    ck_str(nm, "Received");
    ck_str(raw, "from c by d; Mon, 1 Jan 2024 00:00:01 +0000");
    msg_free(m);
}
END_TEST

/* Many distinct names (the name index grows past its first table) and
 * names that repeat, apart and in other cases: every lookup finds all
 * fields of a name in message order, whatever the case asked. */
START_TEST(many_header_names)
{
    tg_buf src;
    tg_buf_init(&src);
    for (int i = 0; i < 70; i++) {
        char line[64];
        snprintf(line, sizeof line, "X-Name-%d: v%d\n", i, i);
        tg_buf_adds(&src, line);
        if (i % 10 == 3) {
            snprintf(line, sizeof line, "%s: r%d\n", i % 20 == 3 ? "received" : "RECEIVED", i);
            tg_buf_adds(&src, line);
        }
    }
    tg_buf_adds(&src, "x-name-5: again\nSubject: s\n\nbody\n");
    tg_buf_addc(&src, '\0');
    msg_t *m = build_str(src.s);
    ck_assert_uint_eq(msg_nheaders(m), 70 + 7 + 2);
    for (int i = 0; i < 70; i++) {
        char name[32], want[32];
        snprintf(name, sizeof name, i % 2 ? "X-NAME-%d" : "x-Name-%d", i);
        snprintf(want, sizeof want, i == 5 ? "v5\nagain\n" : "v%d\n", i);
        ck_hdr(m, name, MSG_H_DECODED, want);
        ck_assert(msg_has_header(m, name));
    }
    ck_hdr(m, "Received", MSG_H_DECODED, "r3\nr13\nr23\nr33\nr43\nr53\nr63\n");
    int found = 1;
    free(hget(m, "X-Name-", MSG_H_DECODED, &found));
    ck_assert_int_eq(found, 0);
    ck_assert(!msg_has_header(m, "X-Name-70"));
    ck_assert(!msg_has_header(m, "X-Name"));
    ck_assert(msg_has_header(m, "subject"));
    msg_free(m);
    tg_buf_free(&src);
}
END_TEST

START_TEST(one_byte_chunks)
{
    static const char *names[] = {"single.eml", "nested3.eml", "noclose.eml",
                                  "badb64.eml", "qp.eml", "rfc2047.eml",
                                  "rfc2231.eml", "html.eml", "headers.eml",
                                  "crlf.eml", "nul.eml", "rfc822.eml"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[256];
        size_t len;
        snprintf(path, sizeof path, FIX "%s", names[i]);
        char *buf = slurp(path, &len);
        msg_t *a = build(buf, len, 0, NULL);
        msg_t *b = build(buf, len, 1, NULL);
        msg_t *c = build(buf, len, 7, NULL);
        same_views(a, b);
        same_views(a, c);
        msg_free(a);
        msg_free(b);
        msg_free(c);
        free(buf);
    }
}
END_TEST

START_TEST(crlf_equals_lf)
{
    msg_t *a = load("crlf.eml");
    msg_t *b = load("lf.eml");
    same_views(a, b);
    size_t n;
    const msg_str_t *l = msg_body_lines(a, &n);
    ck_assert_uint_eq(n, 2);
    ck_str(l[1], "line one line two");
    ck_assert_ptr_null(memchr(msg_full(a).ptr, '\r', msg_full(a).len));
    msg_free(a);
    msg_free(b);
}
END_TEST

static msg_t *load_lim(const char *name, const msg_limits_t *lim)
{
    size_t len;
    char path[256];
    snprintf(path, sizeof path, FIX "%s", name);
    char *buf = slurp(path, &len);
    msg_t *m = build(buf, len, 0, lim);
    free(buf);
    return m;
}

START_TEST(limit_bits)
{
    msg_limits_t lim;
    msg_limits_default(&lim);
    msg_t *m = load_lim("single.eml", &lim);
    ck_assert_uint_eq(msg_limits_hit(m), 0);
    msg_free(m);

    msg_limits_default(&lim);
    lim.max_scan = 20;
    m = load_lim("single.eml", &lim);
    ck_assert_uint_eq(msg_limits_hit(m), MSG_LIMIT_SCAN);
    size_t hdr_len = strstr(msg_full(m).ptr, "\n\n") - msg_full(m).ptr + 2;
    ck_assert_uint_eq(msg_full(m).len, hdr_len + 20);
    size_t n;
    const msg_str_t *r = msg_rawbody_chunks(m, &n);
    ck_str(r[0], "Hello Bob,\nthis is  ");
    msg_free(m);

    msg_limits_default(&lim);
    lim.max_depth = 2;
    m = load_lim("nested3.eml", &lim);
    ck_assert(msg_limits_hit(m) & MSG_LIMIT_DEPTH);
    ck_assert_uint_eq(msg_nparts(m), 3); /* the level-3 multipart is a leaf */
    msg_free(m);

    msg_limits_default(&lim);
    lim.max_parts = 2;
    m = load_lim("nested3.eml", &lim);
    ck_assert(msg_limits_hit(m) & MSG_LIMIT_PARTS);
    ck_assert_uint_le(msg_nparts(m), 2);
    msg_free(m);

    msg_limits_default(&lim);
    lim.max_headers = 3;
    m = load_lim("headers.eml", &lim);
    ck_assert(msg_limits_hit(m) & MSG_LIMIT_HEADERS);
    ck_assert_uint_eq(msg_nheaders(m), 3);
    msg_free(m);

    msg_limits_default(&lim);
    lim.max_header_len = 24;
    m = load_lim("headers.eml", &lim);
    ck_assert(msg_limits_hit(m) & MSG_LIMIT_HEADER_LEN);
    ck_assert_uint_eq(msg_nheaders(m), 9); /* truncated, not lost */
    for (size_t i = 0; i < msg_nheaders(m); i++) {
        msg_str_t nm, raw, dec;
        msg_header_at(m, i, &nm, &raw, &dec);
        ck_assert_uint_le(nm.len + 2 + raw.len, 24);
    }
    ck_hdr(m, "From", MSG_H_DECODED, "Joe Q. Public <joe\n");
    ck_hdr(m, "Subject", MSG_H_DECODED, "multi\n");
    msg_free(m);
}
END_TEST

START_TEST(nul_bytes)
{
    size_t len;
    char *buf = slurp(FIX "nul.eml", &len);
    msg_t *m = build(buf, len, 0, NULL);
    ck_assert_uint_eq(msg_full(m).len, len);
    tg_buf b;
    tg_buf_init(&b);
    ck_assert_int_eq(msg_get_header(m, "Subject", MSG_H_DECODED, &b), 1);
    ck_assert_uint_eq(b.len, 9);
    ck_assert(memcmp(b.s, "nul\0byte\n", 9) == 0);
    tg_buf_free(&b);
    size_t n;
    const msg_str_t *l = msg_body_lines(m, &n);
    /* Perl's tr/\x00/\n/ turns body NULs into line breaks */
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(l[0].len, 9);
    ck_str(l[1], "body with\n");
    ck_str(l[2], "nul and more ");
    const msg_str_t *r = msg_rawbody_chunks(m, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(r[0].len, 23);
    ck_assert(memcmp(r[0].ptr, "body with\0nul and more\n", 23) == 0);
    msg_free(m);
    free(buf);
}
END_TEST

START_TEST(hostile_sizes_bounded)
{
    clock_t t0 = clock();
    msg_t *m = msg_new(NULL);
    tg_buf b;
    tg_buf_init(&b);
    tg_buf_adds(&b, "Content-Type: multipart/mixed; boundary=zz\n");
    for (int i = 0; i < 10000; i++)
        tg_buf_printf(&b, "X-H%d: value %d\n", i, i);
    tg_buf_adds(&b, "\n");
    size_t total = 0;
    for (size_t o = 0; o < b.len; o += 65536) {
        size_t k = b.len - o < 65536 ? b.len - o : 65536;
        msg_feed(m, b.s + o, k);
        total += k;
    }
    char *chunk = tg_malloc(65536);
    for (size_t i = 0; i < 65536; i++)
        chunk[i] = "--zz\nContent-Type: text/plain\n\nabc def\n"[i % 39];
    for (int i = 0; i < 800; i++) { /* 50 MiB */
        msg_feed(m, chunk, 65536);
        total += 65536;
    }
    msg_finish(m);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    ck_assert_uint_eq(msg_size(m), total);
    unsigned bits = msg_limits_hit(m);
    ck_assert(bits & MSG_LIMIT_HEADERS);
    ck_assert(bits & MSG_LIMIT_SCAN);
    ck_assert(bits & MSG_LIMIT_PARTS);
    ck_assert_uint_le(msg_nheaders(m), 1000);
    msg_limits_t lim;
    msg_limits_default(&lim);
    /* header block bounded by max_headers lines, body by max_scan */
    ck_assert_uint_le(msg_full(m).len, 1000 * 40 + lim.max_scan);
    ck_assert_uint_le(msg_nparts(m), lim.max_parts);
    ck_assert_msg(secs < 20.0, "took %.2fs", secs);
    msg_free(m);
    free(chunk);
    tg_buf_free(&b);

    /* one endless header line and no body */
    m = msg_new(NULL);
    memset(chunk = tg_malloc(65536), 'h', 65536);
    msg_feed(m, "Subject: ", 9);
    for (int i = 0; i < 800; i++)
        msg_feed(m, chunk, 65536);
    msg_finish(m);
    ck_assert(msg_limits_hit(m) & MSG_LIMIT_HEADER_LEN);
    ck_assert_uint_le(msg_full(m).len, lim.max_header_len + 2);
    msg_free(m);
    free(chunk);
}
END_TEST

/* URI extraction stays within its budget: a long <base href> that every
 * relative link resolves against, and tens of thousands of distinct links,
 * cost gigabytes before (every URI kept in full); the first URIs are kept,
 * MSG_LIMIT_URIS says the rest were not, and ordinary HTML is untouched. */
START_TEST(uri_budget)
{
    tg_buf b;
    tg_buf_init(&b);
    tg_buf_adds(&b, "Content-Type: text/html\n\n<html><head><base href=\"http://a.example/");
    for (int i = 0; i < 8000; i++)
        tg_buf_addc(&b, 'A');
    tg_buf_adds(&b, "/\"></head><body><a href=\"http://first.example/x\">f</a>");
    for (int i = 0; i < 40000; i++)
        tg_buf_printf(&b, "<img src=%d>", i);
    tg_buf_adds(&b, "</body></html>\n");
    msg_t *m = build(b.s, b.len, 0, NULL);
    ck_assert(msg_limits_hit(m) & MSG_LIMIT_URIS);
    size_t n, bytes = 0;
    const msg_str_t *u = msg_uris(m, &n);
    for (size_t i = 0; i < n; i++)
        bytes += u[i].len;
    msg_limits_t lim;
    msg_limits_default(&lim);
    ck_assert_uint_le(n, MSG_MAX_URIS);
    ck_assert_uint_le(bytes, lim.max_scan > MSG_MIN_URI_BYTES ? lim.max_scan : MSG_MIN_URI_BYTES);
    ck_assert(has_uri(m, "http://first.example/x"));
    msg_free(m);

    /* many short distinct links: the count bound */
    tg_buf_reset(&b);
    tg_buf_adds(&b, "Content-Type: text/html\n\n<html><body>");
    for (int i = 0; i < 20000; i++)
        tg_buf_printf(&b, "<a href=\"http://h%d.example/\">x</a>", i);
    tg_buf_adds(&b, "</body></html>\n");
    m = build(b.s, b.len, 0, NULL);
    ck_assert(msg_limits_hit(m) & MSG_LIMIT_URIS);
    msg_uris(m, &n);
    ck_assert_uint_le(n, MSG_MAX_URIS);
    ck_assert(has_uri(m, "http://h0.example/"));
    msg_free(m);

    /* a newsletter-sized page: no limit */
    tg_buf_reset(&b);
    tg_buf_adds(&b, "Content-Type: text/html\n\n<html><body>");
    for (int i = 0; i < 300; i++)
        tg_buf_printf(&b, "<a href=\"http://news.example/item/%d?utm_source=x\">item</a>", i);
    tg_buf_adds(&b, "</body></html>\n");
    m = build(b.s, b.len, 0, NULL);
    ck_assert_uint_eq(msg_limits_hit(m) & MSG_LIMIT_URIS, 0);
    ck_assert(has_uri(m, "http://news.example/item/299?utm_source=x"));
    msg_free(m);
    tg_buf_free(&b);
}
END_TEST

/* The decoded ALL view stops at SpamAssassin's 64 KiB (Node.pm
 * get_all_headers): names in order of first appearance, each with all its
 * occurrences, until the total passes; the kept lines stay in place. */
START_TEST(all_header_bound)
{
    tg_buf b;
    tg_buf_init(&b);
    tg_buf_adds(&b, "A: ");
    for (int i = 0; i < 40000; i++)
        tg_buf_addc(&b, 'a');
    tg_buf_adds(&b, "\nB: b\nC: ");
    for (int i = 0; i < 30000; i++)
        tg_buf_addc(&b, 'c');
    tg_buf_adds(&b, "\nA: second\n\nbody\n");
    msg_t *m = build(b.s, b.len, 0, NULL);
    char *all = hget(m, "ALL", MSG_H_DECODED, NULL);
    ck_assert_uint_eq(strlen(all), 3 + 40000 + 1 + 5 + 10);
    ck_assert(strncmp(all, "A: aaa", 6) == 0);
    ck_assert_ptr_nonnull(strstr(all, "\nB: b\nA: second\n"));
    ck_assert_ptr_null(strstr(all, "C: "));
    free(all);
    /* :raw is the pristine header block, not bounded */
    all = hget(m, "ALL", MSG_H_RAW, NULL);
    ck_assert_ptr_nonnull(strstr(all, "C: ccc"));
    free(all);
    msg_free(m);
    tg_buf_free(&b);
}
END_TEST

START_TEST(empty_and_degenerate)
{
    msg_t *m = msg_new(NULL);
    msg_finish(m);
    msg_finish(m); /* idempotent */
    size_t n;
    msg_body_lines(m, &n);
    ck_assert_uint_eq(msg_full(m).len, 0);
    msg_free(m);
    m = build_str("no colon here\n--b\n\n");
    msg_body_lines(m, &n);
    ck_assert_uint_ge(n, 1);
    msg_free(m);
    /* a lone closing boundary still ends one (empty) part, as in Message.pm */
    m = build_str("Content-Type: multipart/mixed; boundary=\"b\"\n\n--b--\n");
    ck_assert_uint_eq(msg_nparts(m), 1);
    msg_free(m);
    m = build_str("Content-Type: multipart/mixed; boundary=\"b\"\n\n");
    ck_assert_uint_eq(msg_nparts(m), 0);
    msg_body_lines(m, &n);
    ck_assert_uint_eq(n, 0); /* no leaves: no body text, not even Subject */
    msg_free(m);
}
END_TEST

Suite *msg_suite(void)
{
    Suite *s = suite_create("msg");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, single_part);
    tcase_add_test(tc, nested_three_levels);
    tcase_add_test(tc, missing_closing_boundary);
    tcase_add_test(tc, bad_base64);
    tcase_add_test(tc, qp_soft_breaks);
    tcase_add_test(tc, rfc2047_words);
    tcase_add_test(tc, rfc2231_filenames);
    tcase_add_test(tc, html_rendering);
    tcase_add_test(tc, uri_extraction);
    tcase_add_test(tc, body_array_layout);
    tcase_add_test(tc, rawbody_chunks);
    tcase_add_test(tc, full_view);
    tcase_add_test(tc, pseudo_headers);
    tcase_add_test(tc, header_keys);
    tcase_add_test(tc, addr_and_name);
    tcase_add_test(tc, multiple_occurrences);
    tcase_add_test(tc, many_header_names);
    tcase_add_test(tc, one_byte_chunks);
    tcase_add_test(tc, crlf_equals_lf);
    tcase_add_test(tc, limit_bits);
    tcase_add_test(tc, nul_bytes);
    tcase_add_test(tc, hostile_sizes_bounded);
    tcase_add_test(tc, uri_budget);
    tcase_add_test(tc, all_header_bound);
    tcase_add_test(tc, empty_and_degenerate);
    suite_add_tcase(s, tc);
    return s;
}
