#define PCRE2_CODE_UNIT_WIDTH 8
#include "rx.h"

#include <pcre2.h>
#include <ctype.h>
#include <pthread.h>
#include <string.h>

#include "cf.h"
#include "util.h"

struct rx {
    pcre2_code *code;
    int jit;
    char *lit;        /* the pattern when it is a plain ASCII literal (no
                         metacharacter): rx_count counts it with memmem */
    size_t litlen;
    int lit_ci;       /* ... case-insensitively (/i; ASCII folds only) */
};

/* A pattern that only matches its own bytes: ASCII letters, digits and
 * punctuation that is never special (not with /x, where spaces are). */
static int plain_literal(const char *p, unsigned flags)
{
    if (!*p || (flags & (CF_RE_X | RX_ANCHORED)))
        return 0;
    for (; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(" _-,:;@/=<>!\"'&%~`", *p))
            return 0;
    return 1;
}

struct rx_scratch {
    pcre2_match_data *md;
    pcre2_match_data *cmd;    /* rx_captures': RX_CAPTURE_PAIRS pairs, made on first use */
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;
    unsigned long limit_hits;
};

/* PCRE2 character tables for the C locale, with Latin-1 letters made case
 * pairs (0xC0-0xDE <-> 0xE0-0xFE, except the multiplication and division
 * signs) so /i folds them as Perl does. Character classes (\w etc.) stay
 * ASCII. Built once, never freed. */
static const uint8_t *rx_tables;
static pthread_once_t rx_tables_once = PTHREAD_ONCE_INIT;

static void rx_build_tables(void)
{
    const uint8_t *base = pcre2_maketables(NULL);
    /* Layout (pcre2_maketables): lower-case map[256], flip-case map[256],
     * class bits, ctypes. Copy so the base stays pristine. */
    size_t size = 256 + 256 + 320 + 256;
    uint8_t *t = tg_malloc(size);
    memcpy(t, base, size);
    for (int u = 0xC0; u <= 0xDE; u++) {
        if (u == 0xD7)
            continue;
        int l = u + 0x20;
        t[u] = (uint8_t)l;             /* lcc: to lower */
        t[l] = (uint8_t)l;
        t[256 + u] = (uint8_t)l;       /* fcc: flip case */
        t[256 + l] = (uint8_t)u;
    }
    pcre2_maketables_free(NULL, base);
    rx_tables = t;
}

int rx_compile(const char *pattern, unsigned flags, rx_t **out,
               size_t *erroff, int *toolarge, char *err, size_t errlen)
{
    pthread_once(&rx_tables_once, rx_build_tables);
    uint32_t opts = 0;
    if (flags & CF_RE_I) opts |= PCRE2_CASELESS;
    if (flags & CF_RE_M) opts |= PCRE2_MULTILINE;
    if (flags & CF_RE_S) opts |= PCRE2_DOTALL;
    if (flags & CF_RE_X) opts |= PCRE2_EXTENDED;
    if (flags & RX_ANCHORED) opts |= PCRE2_ANCHORED;
    pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
    pcre2_set_character_tables(cctx, rx_tables);
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                     opts, &ec, &eo, cctx);
    pcre2_compile_context_free(cctx);
    *toolarge = 0;
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        *erroff = eo;
        *toolarge = ec == PCRE2_ERROR_PATTERN_TOO_LARGE;
        return tg_err(err, errlen, "%s", (char *)msg);
    }
    if (flags & RX_CHECK_ONLY) {
        pcre2_code_free(code);
        *out = NULL;
        return 0;
    }
    rx_t *rx = tg_calloc(1, sizeof *rx);
    rx->code = code;
    rx->jit = !(flags & RX_NO_JIT) && pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    if (plain_literal(pattern, flags)) {
        rx->lit = tg_strdup(pattern);
        rx->litlen = strlen(pattern);
        rx->lit_ci = (flags & CF_RE_I) != 0;
    }
    *out = rx;
    return 0;
}

int rx_class_bytes(const char *cls, size_t len, int caseless, unsigned char set[32])
{
    pthread_once(&rx_tables_once, rx_build_tables);
    pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
    pcre2_set_character_tables(cctx, rx_tables);
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)cls, len, caseless ? PCRE2_CASELESS : 0,
                                     &ec, &eo, cctx);
    pcre2_compile_context_free(cctx);
    if (!code)
        return -1;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    memset(set, 0, 32);
    int rc = 0;
    for (unsigned b = 0; b < 256 && rc == 0; b++) {
        unsigned char c = (unsigned char)b;
        int m = pcre2_match(code, &c, 1, 0, PCRE2_ANCHORED, md, NULL);
        if (m > 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            if (ov[1] != 1)
                rc = -1; /* not a one-byte atom */
            else
                set[b >> 3] |= (unsigned char)(1u << (b & 7));
        } else if (m != PCRE2_ERROR_NOMATCH) {
            rc = -1;
        }
    }
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    return rc;
}

unsigned char rx_other_case(unsigned char c)
{
    pthread_once(&rx_tables_once, rx_build_tables);
    return rx_tables[256 + c];
}

void rx_free(rx_t *rx)
{
    if (!rx)
        return;
    pcre2_code_free(rx->code);
    free(rx->lit);
    free(rx);
}

int rx_is_jit(const rx_t *rx)
{
    return rx->jit;
}

int rx_is_literal(const rx_t *rx)
{
    return rx->lit != NULL;
}

rx_scratch_t *rx_scratch_new(unsigned long match_limit, unsigned long depth_limit)
{
    rx_scratch_t *s = tg_calloc(1, sizeof *s);
    s->md = pcre2_match_data_create(1, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    s->jit_stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
    if (!s->md || !s->mctx || !s->jit_stack)
        tg_malloc((size_t)-1); /* reports OOM and aborts */
    pcre2_set_match_limit(s->mctx, match_limit ? (uint32_t)match_limit : 1000000);
    pcre2_set_depth_limit(s->mctx, depth_limit ? (uint32_t)depth_limit : 10000);
    pcre2_jit_stack_assign(s->mctx, NULL, s->jit_stack);
    return s;
}

void rx_scratch_free(rx_scratch_t *s)
{
    if (!s)
        return;
    pcre2_match_data_free(s->md);
    pcre2_match_data_free(s->cmd);
    pcre2_match_context_free(s->mctx);
    pcre2_jit_stack_free(s->jit_stack);
    free(s);
}

unsigned long rx_scratch_limit_hits(const rx_scratch_t *s)
{
    return s->limit_hits;
}

/* A match that ran into a limit counts as "no match" and is counted. */
static void count_limit(rx_scratch_t *sc, int rc)
{
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
        sc->limit_hits++;
}

#define RX_CAPTURE_PAIRS 64

/* The named groups of the match in md, to fn. */
static void report_names(const rx_t *rx, pcre2_match_data *md, int rc, const char *s,
                         rx_capture_fn fn, void *arg)
{
    uint32_t count = 0, esize = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(rx->code, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(rx->code, PCRE2_INFO_NAMEENTRYSIZE, &esize);
    pcre2_pattern_info(rx->code, PCRE2_INFO_NAMETABLE, &table);
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t pairs = pcre2_get_ovector_count(md);
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR e = table + (size_t)i * esize;
        uint32_t g = (uint32_t)e[0] << 8 | e[1];
        if (g >= pairs || (int)g >= rc || ov[2 * g] == PCRE2_UNSET || ov[2 * g + 1] <= ov[2 * g])
            fn(arg, (const char *)e + 2, NULL, 0);
        else
            fn(arg, (const char *)e + 2, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
    }
}

/* Perl's //g loop over [s, s+len) with md, up to max matches (0 = all);
 * fn, if set, sees each match's named groups. */
static unsigned match_loop(const rx_t *rx, rx_scratch_t *sc, pcre2_match_data *md,
                           const char *s, size_t len, unsigned max, rx_capture_fn fn,
                           void *arg)
{
    unsigned n = 0;
    PCRE2_SIZE start = 0;
    uint32_t opts = 0;
    for (;;) {
        int rc = pcre2_match(rx->code, (PCRE2_SPTR)s, len, start, opts, md, sc->mctx);
        if (rc == PCRE2_ERROR_NOMATCH) {
            if (!opts)
                break;
            /* An empty match was found at `start` and no non-empty match
             * starts there: Perl moves on by one character. */
            if (start >= len)
                break;
            start++;
            opts = 0;
            continue;
        }
        if (rc < 0) {
            count_limit(sc, rc);
            break;
        }
        n++;
        if (fn)
            report_names(rx, md, rc, s, fn, arg);
        if (max && n >= max)
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        start = ov[1];
        /* After an empty match try a non-empty one at the same place. */
        opts = ov[0] == ov[1] ? (PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED) : 0;
        if (start > len)
            break;
    }
    return n;
}

unsigned rx_captures(const rx_t *rx, rx_scratch_t *sc, const char *s, size_t len,
                     unsigned max, rx_capture_fn fn, void *arg)
{
    uint32_t groups = 0;
    pcre2_pattern_info(rx->code, PCRE2_INFO_CAPTURECOUNT, &groups);
    pcre2_match_data *md;
    if (groups < RX_CAPTURE_PAIRS) {
        if (!sc->cmd)
            sc->cmd = pcre2_match_data_create(RX_CAPTURE_PAIRS, NULL);
        md = sc->cmd;
    } else {
        md = pcre2_match_data_create_from_pattern(rx->code, NULL);
    }
    if (!md)
        tg_malloc((size_t)-1); /* reports OOM and aborts */
    unsigned n = match_loop(rx, sc, md, s, len, max, fn, arg);
    if (md != sc->cmd)
        pcre2_match_data_free(md);
    return n;
}

unsigned rx_count(const rx_t *rx, rx_scratch_t *sc, const char *s, size_t len,
                  unsigned max)
{
    unsigned n = 0;
    if (rx->lit) { /* __LOWER_E /e/, tflags multiple: one call per match otherwise */
        const char *p = s, *end = s + len, *q;
        while ((size_t)(end - p) >= rx->litlen &&
               (q = rx->lit_ci ? tg_memcasemem(p, (size_t)(end - p), rx->lit, rx->litlen)
                               : memmem(p, (size_t)(end - p), rx->lit, rx->litlen))) {
            if (++n == max)
                break;
            p = q + rx->litlen;
        }
        return n;
    }
    return match_loop(rx, sc, sc->md, s, len, max, NULL, NULL);
}

int rx_match_at(const rx_t *rx, rx_scratch_t *sc, const char *s, size_t len, size_t off)
{
    if (off > len)
        return 0;
    int rc = pcre2_match(rx->code, (PCRE2_SPTR)s, len, off, 0, sc->md, sc->mctx);
    count_limit(sc, rc);
    return rc >= 0;
}
