#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "charset.h"

#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define CS_NAME_MAX 64

/* Conversion descriptors are kept per thread, a few charsets each (a
 * header of alternating encoded words opened and closed one per word:
 * glibc maps and unmaps its gconv module every time, 5 s for a 10 MB
 * header block). A charset iconv does not know is remembered too. */
#define CS_CACHE 8
typedef struct cs_cache {
    struct {
        char name[CS_NAME_MAX];
        iconv_t cd;          /* (iconv_t)-1: unknown charset */
    } e[CS_CACHE];
    size_t n, next;
} cs_cache_t;

static pthread_key_t cs_key;
static pthread_once_t cs_once = PTHREAD_ONCE_INIT;

static void cs_cache_free(void *p)
{
    cs_cache_t *c = p;
    for (size_t i = 0; i < c->n; i++)
        if (c->e[i].cd != (iconv_t)-1)
            iconv_close(c->e[i].cd);
    free(c);
}

static void cs_make_key(void)
{
    pthread_key_create(&cs_key, cs_cache_free);
}

/* A descriptor to UTF-8 from `from`, in its initial state, owned by the
 * thread's cache; (iconv_t)-1 if iconv does not know the charset. */
static iconv_t cs_open(const char *from)
{
    if (strlen(from) >= CS_NAME_MAX)
        return (iconv_t)-1;
    pthread_once(&cs_once, cs_make_key);
    cs_cache_t *c = pthread_getspecific(cs_key);
    if (!c) {
        c = tg_calloc(1, sizeof *c);
        pthread_setspecific(cs_key, c);
    }
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].name, from) == 0) {
            if (c->e[i].cd != (iconv_t)-1)
                iconv(c->e[i].cd, NULL, NULL, NULL, NULL);
            return c->e[i].cd;
        }
    size_t k = c->n < CS_CACHE ? c->n++ : c->next++ % CS_CACHE;
    if (k < c->n && c->e[k].name[0] && c->e[k].cd != (iconv_t)-1)
        iconv_close(c->e[k].cd);
    strcpy(c->e[k].name, from);
    c->e[k].cd = iconv_open("UTF-8", from);
    return c->e[k].cd;
}

int charset_valid_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        unsigned c = *p;
        size_t k;
        unsigned min;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1; min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2; min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3; min = 0x10000;
        } else {
            return 0;
        }
        if ((size_t)(e - p) <= k)
            return 0;
        unsigned cp = c & (0x3f >> k);
        for (size_t i = 1; i <= k; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += k + 1;
    }
    return 1;
}

/* Lower-cases and trims the charset name into buf; returns its length
 * (0 when absent or unusable). */
static size_t cs_norm(const char *cs, size_t n, char *buf)
{
    while (n && (*cs == ' ' || *cs == '\t' || *cs == '"' || *cs == '\''))
        cs++, n--;
    while (n && (cs[n - 1] == ' ' || cs[n - 1] == '\t' || cs[n - 1] == '"' ||
                 cs[n - 1] == '\''))
        n--;
    if (n == 0 || n >= CS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = cs[i];
        if (c >= 'A' && c <= 'Z')
            c += 32;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.' || c == ':'))
            return 0;
        buf[i] = c;
    }
    buf[n] = '\0';
    return n;
}

static int name_in(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return 1;
    return 0;
}

static int cs_ascii(const char *name)
{
    static const char *const l[] = {"us-ascii", "ascii", "ansi_x3.4-1968",
                                    "ansi_x3.4-1986", "iso646-us", "us"};
    return name_in(name, l, sizeof l / sizeof *l);
}

/* Charsets whose 7-bit text is plain ASCII. */
static int cs_ascii_superset(const char *name)
{
    if (cs_ascii(name) || strncmp(name, "iso-8859", 8) == 0 ||
        strncmp(name, "iso8859", 7) == 0 || strncmp(name, "windows-", 8) == 0 ||
        strncmp(name, "koi8-", 5) == 0 || strncmp(name, "euc-", 4) == 0 ||
        strncmp(name, "gb18030", 7) == 0)
        return 1;
    static const char *const l[] = {"utf-8", "utf8", "big5", "gbk", "gb2312",
                                    "cp1252", "latin1"};
    return name_in(name, l, sizeof l / sizeof *l);
}

static const char *iconv_name(const char *name)
{
    static const char *const latin1[] = {"iso-8859-1", "iso8859-1", "latin1",
                                         "iso_8859-1", "l1", "cp1252"};
    if (name_in(name, latin1, sizeof latin1 / sizeof *latin1))
        return "WINDOWS-1252";
    if (strcmp(name, "ks_c_5601-1987") == 0)
        return "CP949";
    if (strcmp(name, "gb2312") == 0)
        return "GBK";
    if (strncmp(name, "gb18030", 7) == 0)
        return "GB18030";
    return name;
}

/* Converts with iconv. strict: fail (return -1, out untouched) on the first
 * bad byte; else keep bad bytes. Returns -1 if the charset is unknown. */
static int conv(const char *from, const char *in, size_t n, tg_buf *out,
                int strict)
{
    iconv_t cd = cs_open(from);
    if (cd == (iconv_t)-1)
        return -1;
    size_t mark = out->len;
    char *ip = (char *)in;
    size_t il = n;
    char tmp[4096];
    int rc = 0;
    while (il > 0) {
        char *op = tmp;
        size_t ol = sizeof tmp;
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        tg_buf_add(out, tmp, (size_t)(op - tmp));
        if (r != (size_t)-1)
            break;
        if (errno == E2BIG)
            continue;
        if (strict) {
            rc = -1;
            break;
        }
        /* EILSEQ / EINVAL: keep the offending byte and go on */
        tg_buf_addc(out, *ip);
        ip++;
        il--;
        iconv(cd, NULL, NULL, NULL, NULL);
    }
    if (rc == 0) {
        char *op = tmp;
        size_t ol = sizeof tmp;
        iconv(cd, NULL, NULL, &op, &ol);
        tg_buf_add(out, tmp, (size_t)(op - tmp));
    }
    if (rc) {
        out->len = mark;
        if (out->s)
            out->s[mark] = '\0';
    }
    return rc;
}

void charset_to_utf8(const char *cs, size_t cslen, const char *in, size_t n,
                     tg_buf *out, int insist)
{
    char name[CS_NAME_MAX];
    size_t nl = cs ? cs_norm(cs, cslen, name) : 0;
    if (nl == 0)
        strcpy(name, "us-ascii");
    if (n == 0)
        return;
    int has8 = !tg_is_ascii(in, n);
    if (!has8 && cs_ascii_superset(name)) {
        tg_buf_add(out, in, n);
        return;
    }
    if (has8 && !insist && charset_valid_utf8(in, n)) {
        tg_buf_add(out, in, n);
        return;
    }
    if (!cs_ascii(name) && conv(iconv_name(name), in, n, out, !insist) == 0)
        return;
    if (!has8) {
        tg_buf_add(out, in, n);
        return;
    }
    if (conv("WINDOWS-1252", in, n, out, 0) != 0)
        tg_buf_add(out, in, n);
}
