#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

static void tg_oom(size_t n)
{
    /* Nothing sensible can continue; say why on both channels and stop. */
    fprintf(stderr, "tollgate: out of memory allocating %zu bytes\n", n);
    syslog(LOG_CRIT, "out of memory allocating %zu bytes", n);
    abort();
}

void *tg_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        tg_oom(n);
    return p;
}

void *tg_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        tg_oom(n * size);
    return p;
}

void *tg_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        tg_oom(n);
    return q;
}

char *tg_strdup(const char *s)
{
    return tg_strndup(s, strlen(s));
}

char *tg_strndup(const char *s, size_t n)
{
    char *p = tg_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void tg_grow(void *arr, size_t *cap, size_t need, size_t size)
{
    void **a = arr;
    if (need <= *cap)
        return;
    size_t nc = *cap ? *cap : 8;
    while (nc < need)
        nc *= 2;
    *a = tg_realloc(*a, nc * size);
    *cap = nc;
}

void tg_buf_init(tg_buf *b)
{
    b->s = NULL;
    b->len = b->cap = 0;
}

void tg_buf_free(tg_buf *b)
{
    free(b->s);
    tg_buf_init(b);
}

void tg_buf_reset(tg_buf *b)
{
    b->len = 0;
    if (b->s)
        b->s[0] = '\0';
}

static void tg_buf_reserve(tg_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t nc = b->cap ? b->cap : 64;
    while (nc < b->len + extra + 1)
        nc *= 2;
    b->s = tg_realloc(b->s, nc);
    b->cap = nc;
}

void tg_buf_add(tg_buf *b, const void *p, size_t n)
{
    tg_buf_reserve(b, n);
    if (n)
        memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void tg_buf_addc(tg_buf *b, char c)
{
    tg_buf_add(b, &c, 1);
}

void tg_buf_adds(tg_buf *b, const char *s)
{
    tg_buf_add(b, s, strlen(s));
}

void tg_buf_printf(tg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    tg_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *tg_buf_steal(tg_buf *b)
{
    char *s = b->s ? b->s : tg_strdup("");
    tg_buf_init(b);
    return s;
}

int tg_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int tg_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

int tg_strcasecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int d = tg_lower((unsigned char)*a) - tg_lower((unsigned char)*b);
        if (d || !*a)
            return d;
    }
}

int tg_strncasecmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        int d = tg_lower((unsigned char)*a) - tg_lower((unsigned char)*b);
        if (d || !*a)
            return d;
    }
    return 0;
}

const char *tg_memcasemem(const char *hay, size_t n, const char *needle, size_t nlen)
{
    if (nlen == 0)
        return hay;
    for (size_t i = 0; i + nlen <= n; i++) {
        size_t j = 0;
        while (j < nlen && tg_lower((unsigned char)hay[i + j]) ==
                               tg_lower((unsigned char)needle[j]))
            j++;
        if (j == nlen)
            return hay + i;
    }
    return NULL;
}

int tg_read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tg_err(err, errlen, "%s: %s", path, strerror(errno));
    tg_buf b;
    tg_buf_init(&b);
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        tg_buf_add(&b, tmp, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        tg_buf_free(&b);
        return tg_err(err, errlen, "%s: read error", path);
    }
    if (outlen)
        *outlen = b.len;
    *out = tg_buf_steal(&b);
    return 0;
}

int tg_parse_size(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0)
        return -1;
    switch (*end) {
    case 'k': case 'K': v *= 1024; end++; break;
    case 'm': case 'M': v *= 1024 * 1024; end++; break;
    case 'g': case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}
