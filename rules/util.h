/*
 * util — allocation that never fails, growable byte buffers, error buffers.
 *
 * Every tg_*alloc either returns memory or aborts the process with a log line:
 * callers never check for NULL (DESIGN.md, "an allocator that never returns
 * NULL"). The one place that turns internal failure into accept/tempfail is
 * the milter; running out of memory is not a condition it can recover from.
 */
#ifndef TG_UTIL_H
#define TG_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

/* TG_ASAN: built with AddressSanitizer (gcc defines __SANITIZE_ADDRESS__,
 * clang answers __has_feature). */
#if defined(__SANITIZE_ADDRESS__)
#define TG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TG_ASAN 1
#endif
#endif

/* ASCII lower case of byte c (other bytes unchanged). */
static inline int tg_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

void *tg_malloc(size_t n);
void *tg_calloc(size_t n, size_t size);
void *tg_realloc(void *p, size_t n);
char *tg_strdup(const char *s);
char *tg_strndup(const char *s, size_t n);
/* Grows *arr (element size `size`) so that it holds at least `need` elements;
 * *cap is updated. Amortised doubling. */
void tg_grow(void *arr, size_t *cap, size_t need, size_t size);

/* A growable byte string, always NUL-terminated when s != NULL.
 * The struct is a plain value: the owner frees it with tg_buf_free. */
typedef struct tg_buf {
    char *s;
    size_t len;
    size_t cap;
} tg_buf;

void tg_buf_init(tg_buf *b);
void tg_buf_free(tg_buf *b);
void tg_buf_reset(tg_buf *b);                 /* len = 0, keeps memory */
/* Appends n bytes (p must not point into b). The common case, when they
 * fit, is inline: message parsing appends a byte at a time. */
void tg_buf_add_grow(tg_buf *b, const void *p, size_t n);
/* Room for extra more bytes and the NUL: appends within it never move b->s. */
void tg_buf_reserve(tg_buf *b, size_t extra);
static inline void tg_buf_add(tg_buf *b, const void *p, size_t n)
{
    if (b->len + n < b->cap) {
        if (n)
            memcpy(b->s + b->len, p, n);
        b->len += n;
        b->s[b->len] = '\0';
    } else {
        tg_buf_add_grow(b, p, n);
    }
}
static inline void tg_buf_addc(tg_buf *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->s[b->len++] = c;
        b->s[b->len] = '\0';
    } else {
        tg_buf_add_grow(b, &c, 1);
    }
}
void tg_buf_adds(tg_buf *b, const char *s);
void tg_buf_printf(tg_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s[0..n) as a JSON string literal, quotes included; bytes that
 * are not valid UTF-8 are written as \u00XX (Latin-1 reading). */
void tg_buf_json(tg_buf *b, const char *s, size_t n);
/* Detaches the string; the caller owns it (never NULL). b is reset to empty. */
char *tg_buf_steal(tg_buf *b);

/* Formats into a caller-owned error buffer (may be NULL or size 0) and
 * returns -1, so that `return tg_err(err, errlen, ...)` reads naturally. */
int tg_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ASCII helpers: locale-independent. */
int tg_strcasecmp(const char *a, const char *b);
int tg_strncasecmp(const char *a, const char *b, size_t n);
/* Case-insensitive search for needle in [hay, hay+n). */
/* CLOCK_MONOTONIC in nanoseconds, for profiling. */
double tg_now_ns(void);

/* 1 if no byte of s[0..len) is >= 0x80. Reads 8 bytes at a time. */
int tg_is_ascii(const char *s, size_t len);
const char *tg_memcasemem(const char *hay, size_t n, const char *needle, size_t nlen);
/* Reads a whole file into a NUL-terminated malloc'd buffer. 0 / -1 + err. */
int tg_read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen);
/* 1 if the domain of addr[0..len) (after its last '@', trailing '>' and
 * '.' ignored) is `domain` or a subdomain of it, case-insensitively. */
int tg_addr_in_domain(const char *addr, size_t len, const char *domain);
/* Parses "10", "10k", "10K", "1.5M", "2G" into bytes. 0 / -1. */
int tg_parse_size(const char *s, double *out);


/* A string -> size_t hash map; keys are copied and owned by the map. */
typedef struct tg_map tg_map;
tg_map *tg_map_new(void);
void tg_map_free(tg_map *m);
/* 1 and *val set if found, else 0. */
int tg_map_get(const tg_map *m, const char *key, size_t *val);
void tg_map_put(tg_map *m, const char *key, size_t val);
size_t tg_map_count(const tg_map *m);

#endif
