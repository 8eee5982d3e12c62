#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

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

void tg_buf_reserve(tg_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t nc = b->cap ? b->cap : 64;
    while (nc < b->len + extra + 1)
        nc *= 2;
    b->s = tg_realloc(b->s, nc);
    b->cap = nc;
}

void tg_buf_add_grow(tg_buf *b, const void *p, size_t n)
{
    tg_buf_reserve(b, n);
    if (n)
        memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void tg_buf_adds(tg_buf *b, const char *s)
{
    tg_buf_add(b, s, strlen(s));
}

void tg_buf_printf(tg_buf *b, const char *fmt, ...)
{
    /* one formatting pass when the text fits in what is free (most lines
     * do after the first), a second one after growing when it does not */
    tg_buf_reserve(b, 64);
    size_t room = b->cap - b->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->s + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->s[b->len] = '\0';
        return;
    }
    if ((size_t)n >= room) {
        tg_buf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
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

struct tg_map {
    char **keys;
    size_t *vals;
    size_t cap;   /* power of two */
    size_t count;
};

static size_t tg_hash(const char *s)
{
    size_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

tg_map *tg_map_new(void)
{
    tg_map *m = tg_calloc(1, sizeof *m);
    m->cap = 64;
    m->keys = tg_calloc(m->cap, sizeof *m->keys);
    m->vals = tg_calloc(m->cap, sizeof *m->vals);
    return m;
}

void tg_map_free(tg_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    free(m);
}

static size_t tg_map_slot(const tg_map *m, const char *key)
{
    size_t i = tg_hash(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

int tg_map_get(const tg_map *m, const char *key, size_t *val)
{
    size_t i = tg_map_slot(m, key);
    if (!m->keys[i])
        return 0;
    if (val)
        *val = m->vals[i];
    return 1;
}

void tg_map_put(tg_map *m, const char *key, size_t val)
{
    if ((m->count + 1) * 2 > m->cap) {
        tg_map old = *m;
        m->cap *= 2;
        m->keys = tg_calloc(m->cap, sizeof *m->keys);
        m->vals = tg_calloc(m->cap, sizeof *m->vals);
        for (size_t j = 0; j < old.cap; j++) {
            if (!old.keys[j])
                continue;
            size_t i = tg_map_slot(m, old.keys[j]);
            m->keys[i] = old.keys[j];
            m->vals[i] = old.vals[j];
        }
        free(old.keys);
        free(old.vals);
    }
    size_t i = tg_map_slot(m, key);
    if (!m->keys[i]) {
        m->keys[i] = tg_strdup(key);
        m->count++;
    }
    m->vals[i] = val;
}

size_t tg_map_count(const tg_map *m)
{
    return m->count;
}

/* Length of the valid UTF-8 sequence at s (max n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    if (s[0] < 0x80) return 1;
    if ((s[0] & 0xE0) == 0xC0 && s[0] >= 0xC2) len = 2;
    else if ((s[0] & 0xF0) == 0xE0) len = 3;
    else if ((s[0] & 0xF8) == 0xF0 && s[0] <= 0xF4) len = 4;
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

void tg_buf_json(tg_buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    tg_buf_addc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            tg_buf_addc(b, '\\');
            tg_buf_addc(b, (char)c);
            i++;
        } else if (c == '\n') { tg_buf_adds(b, "\\n"); i++; }
        else if (c == '\r') { tg_buf_adds(b, "\\r"); i++; }
        else if (c == '\t') { tg_buf_adds(b, "\\t"); i++; }
        else if (c < 0x20 || c == 0x7f) { tg_buf_printf(b, "\\u%04x", c); i++; }
        else if (c < 0x80) { tg_buf_addc(b, (char)c); i++; }
        else {
            size_t l = utf8_len(u + i, n - i);
            if (l) { tg_buf_add(b, u + i, l); i += l; }
            else { tg_buf_printf(b, "\\u%04x", c); i++; }
        }
    }
    tg_buf_addc(b, '"');
}

int tg_addr_in_domain(const char *addr, size_t len, const char *domain)
{
    const char *at = NULL;
    for (size_t i = 0; i < len; i++)
        if (addr[i] == '@')
            at = addr + i;
    if (!at)
        return 0;
    const char *dom = at + 1;
    size_t dl = len - (size_t)(dom - addr);
    while (dl && (dom[dl - 1] == '>' || dom[dl - 1] == '.' || dom[dl - 1] == ' '))
        dl--;
    size_t ll = strlen(domain);
    if (ll == 0 || ll > dl)
        return 0;
    return tg_strncasecmp(dom + dl - ll, domain, ll) == 0 &&
           (ll == dl || dom[dl - ll - 1] == '.');
}

int tg_is_ascii(const char *s, size_t len)
{
    uint64_t acc = 0, w;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < len; i++)
        acc |= (unsigned char)s[i];
    return (acc & 0x8080808080808080ull) == 0;
}

double tg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}
