#define PCRE2_CODE_UNIT_WIDTH 8
#include "rx.h"

#include <pcre2.h>
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cf.h"
#include "util.h"

/* rx_compile flag, internal: the pattern has rx_line_ahead's callouts */
#define RX_CALLOUT 0x800u

/* A pattern whose compiled form exceeds the 8-bit library's 16-bit
 * internal links (Debian builds PCRE2 with LINK_SIZE 2: 64 KiB of code;
 * SpamAssassin's ReplaceTags writes patterns of 200 KB) is compiled with
 * the 32-bit library instead, whose links are always 32 bits, in its
 * non-UTF mode: each pattern and subject byte is one code unit of the
 * same value, and the same character tables apply to them, so it means
 * what the 8-bit pattern would, at the same offsets. Subjects are widened
 * into the scratch for it. */
struct rx {
    pcre2_code *code;          /* NULL when code32 holds the pattern */
    pcre2_code_32 *code32;
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
    uint32_t match_limit, depth_limit;
    /* for 32-bit patterns, made on first use: */
    pcre2_match_data_32 *md32, *cmd32;
    pcre2_match_context_32 *mctx32;
    pcre2_jit_stack_32 *jit_stack32;
    uint32_t *wide;           /* the subject, a code unit a byte */
    size_t wcap;
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

/* The pattern with the 32-bit library (see struct rx); NULL with *ec and
 * *eo set as pcre2_compile's. */
static pcre2_code_32 *compile32(const char *pattern, uint32_t opts, int *ec, PCRE2_SIZE *eo)
{
    size_t n = strlen(pattern);
    uint32_t *w = tg_malloc((n + 1) * sizeof *w);
    for (size_t i = 0; i < n; i++)
        w[i] = (unsigned char)pattern[i];
    pcre2_compile_context_32 *cctx = pcre2_compile_context_create_32(NULL);
    if (!cctx)
        tg_malloc((size_t)-1); /* reports OOM and aborts */
    pcre2_set_character_tables_32(cctx, rx_tables);
    pcre2_code_32 *code = pcre2_compile_32(w, n, opts, ec, eo, cctx);
    pcre2_compile_context_free_32(cctx);
    free(w);
    return code;
}

int rx_compile(const char *pattern, unsigned flags, rx_t **out,
               size_t *erroff, int *toolarge, char *err, size_t errlen)
{
    pthread_once(&rx_tables_once, rx_build_tables);
    if (strlen(pattern) > RX_MAX_PATTERN) {
        *erroff = 0;
        *toolarge = 1;
        return tg_err(err, errlen, "regular expression is too large (over %u KiB)",
                      RX_MAX_PATTERN / 1024);
    }
    uint32_t opts = 0;
    if (flags & CF_RE_I) opts |= PCRE2_CASELESS;
    if (flags & CF_RE_M) opts |= PCRE2_MULTILINE;
    if (flags & CF_RE_S) opts |= PCRE2_DOTALL;
    if (flags & CF_RE_X) opts |= PCRE2_EXTENDED;
    if (flags & RX_ANCHORED) opts |= PCRE2_ANCHORED;
    /* rx_line_ahead's callouts: auto-possessification would let \w* before
     * one stop backtracking where the callout fails (nothing else follows) */
    if (flags & RX_CALLOUT) opts |= PCRE2_NO_AUTO_POSSESS;
    pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
    pcre2_set_character_tables(cctx, rx_tables);
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                     opts, &ec, &eo, cctx);
    pcre2_compile_context_free(cctx);
    pcre2_code_32 *code32 = NULL;
    if (!code && ec == PCRE2_ERROR_PATTERN_TOO_LARGE)
        code32 = compile32(pattern, opts, &ec, &eo);
    *toolarge = 0;
    if (!code && !code32) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        *erroff = eo;
        *toolarge = ec == PCRE2_ERROR_PATTERN_TOO_LARGE;
        return tg_err(err, errlen, "%s", (char *)msg);
    }
    if (flags & RX_CHECK_ONLY) {
        pcre2_code_free(code);
        pcre2_code_free_32(code32);
        *out = NULL;
        return 0;
    }
    rx_t *rx = tg_calloc(1, sizeof *rx);
    rx->code = code;
    rx->code32 = code32;
    if (!(flags & RX_NO_JIT))
        rx->jit = code ? pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0
                       : pcre2_jit_compile_32(code32, PCRE2_JIT_COMPLETE) == 0;
    if (plain_literal(pattern, flags)) {
        rx->lit = tg_strdup(pattern);
        rx->litlen = strlen(pattern);
        rx->lit_ci = (flags & CF_RE_I) != 0;
    }
    *out = rx;
    return 0;
}

/* ---- line lookaheads answered in C (rx_line_ahead) -------------------- */

#define LINE_AHEAD_TAG "tg-line-ahead "

/* Whether a line equal to group k begins at some q in [p + lo, p + hi]:
 * ^ there (q is 0 or follows a \n, and is not the subject's end after a
 * final \n), the group's bytes, an optional \r if cr, then $ (the end
 * or a \n). The callout of rx_line_ahead's patterns: 0 (go on) if so, 1
 * (fail here, backtrack) if not or if group k is unset, as PCRE2's
 * back reference to an unset group fails; 0 for any other callout, which
 * PCRE2 would ignore without a callout function. */
static int line_ahead_callout(pcre2_callout_block *b, void *data)
{
    (void)data;
    const char *tag = (const char *)b->callout_string;
    size_t tl = sizeof LINE_AHEAD_TAG - 1;
    if (!tag || b->callout_string_length <= tl || strncmp(tag, LINE_AHEAD_TAG, tl))
        return 0;
    unsigned long lo, hi, k, cr;
    if (sscanf(tag + tl, "%lu %lu %lu %lu", &lo, &hi, &k, &cr) != 4)
        return 0;
    if (k >= b->capture_top || b->offset_vector[2 * k] == PCRE2_UNSET)
        return 1;
    const char *s = (const char *)b->subject;
    size_t len = b->subject_length, p = b->current_position;
    size_t g = b->offset_vector[2 * k], gl = b->offset_vector[2 * k + 1] - g;
    size_t q = p + lo, last = len - p < hi ? len : p + hi;
    if (q > len)
        return 1;
    if (q > 0 && s[q - 1] != '\n') { /* to the first line start at or after q */
        const char *nl = memchr(s + q, '\n', len - q);
        q = nl ? (size_t)(nl - s) + 1 : len + 1;
    }
    while (q <= last && (q == 0 || q < len)) {
        if (len - q >= gl && !memcmp(s + q, s + g, gl)) {
            size_t t = q + gl;
            if (t == len || s[t] == '\n' ||
                (cr && s[t] == '\r' && (t + 1 == len || s[t + 1] == '\n')))
                return 0;
        }
        const char *nl = memchr(s + q, '\n', len - q);
        if (!nl)
            break;
        q = (size_t)(nl - s) + 1;
    }
    return 1;
}

/* What (?...) may open in a pattern rx_line_ahead rewrites: groups,
 * lookarounds and named groups, nothing that sets options, resets
 * branch numbers, recurses or calls out. */
static int plain_group(const char *q)
{
    if (strchr(":=!>'", *q))
        return *q != 0;
    if (*q == '<')
        return q[1] == '=' || q[1] == '!' || isalpha((unsigned char)q[1]) || q[1] == '_';
    return *q == 'P' && q[1] == '<';
}

rx_t *rx_line_ahead(const char *pattern, unsigned flags)
{
    if ((flags & (CF_RE_S | CF_RE_M)) != (CF_RE_S | CF_RE_M) || (flags & (CF_RE_I | CF_RE_X)) ||
        !rx_newline_is_lf())
        return NULL;
    const char *la = strstr(pattern, "(?=.{"), *next;
    while (la && (next = strstr(la + 1, "(?=.{")))
        la = next;
    if (!la)
        return NULL;
    /* the tail: (?=.{M,N}^\K\r?$) or with {N}, or without \r? */
    char *end;
    unsigned long lo = strtoul(la + 5, &end, 10), hi = lo, k;
    if (!isdigit((unsigned char)la[5]))
        return NULL;
    if (*end == ',') {
        if (!isdigit((unsigned char)end[1]))
            return NULL;
        hi = strtoul(end + 1, &end, 10);
    }
    if (hi < lo || hi > 65535 || strncmp(end, "}^\\", 3) || end[3] < '1' || end[3] > '9')
        return NULL;
    k = (unsigned long)(end[3] - '0');
    const char *t = end + 4;
    int cr = !strncmp(t, "\\r?", 3);
    if (cr)
        t += 3;
    if (strcmp(t, "$)"))
        return NULL;
    /* the rest: nothing that could change what the lookahead means or
     * where its ( is (one in a class would leave that class unclosed; an
     * escaped one is stepped over with its backslash, past la) */
    const char *q = pattern;
    for (; q < la; q++) {
        if (*q == '\\') {
            if (q[1] == 'Q')
                return NULL;
            q++;
        } else if (*q == '(' && (q[1] == '*' || (q[1] == '?' && !plain_group(q + 2)))) {
            return NULL;
        }
    }
    if (q != la)
        return NULL;
    tg_buf b;
    tg_buf_init(&b);
    tg_buf_add(&b, pattern, (size_t)(la - pattern));
    tg_buf_printf(&b, "(?C\"" LINE_AHEAD_TAG "%lu %lu %lu %d\")", lo, hi, k, cr);
    rx_t *rx = NULL;
    size_t eo;
    int big;
    char err[128];
    if (rx_compile(b.s, flags | RX_CALLOUT, &rx, &eo, &big, err, sizeof err) < 0 ||
        rx_is_wide(rx)) {
        rx_free(rx);
        rx = NULL;
    }
    tg_buf_free(&b);
    return rx;
}

int rx_newline_is_lf(void)
{
    uint32_t nl = 0;
    return pcre2_config(PCRE2_CONFIG_NEWLINE, &nl) >= 0 && nl == PCRE2_NEWLINE_LF;
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
    pcre2_code_free_32(rx->code32);
    free(rx->lit);
    free(rx);
}

int rx_is_wide(const rx_t *rx)
{
    return rx->code32 != NULL;
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
    s->match_limit = match_limit ? (uint32_t)match_limit : 1000000;
    s->depth_limit = depth_limit ? (uint32_t)depth_limit : 10000;
    pcre2_set_match_limit(s->mctx, s->match_limit);
    pcre2_set_depth_limit(s->mctx, s->depth_limit);
    pcre2_jit_stack_assign(s->mctx, NULL, s->jit_stack);
    pcre2_set_callout(s->mctx, line_ahead_callout, NULL); /* rx_line_ahead */
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
    pcre2_match_data_free_32(s->md32);
    pcre2_match_data_free_32(s->cmd32);
    pcre2_match_context_free_32(s->mctx32);
    pcre2_jit_stack_free_32(s->jit_stack32);
    free(s->wide);
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

/* For a 32-bit pattern: the scratch's 32-bit state (made on first use)
 * and the subject widened into sc->wide. */
static void widen(rx_scratch_t *sc, const char *s, size_t len)
{
    if (!sc->mctx32) {
        sc->md32 = pcre2_match_data_create_32(1, NULL);
        sc->mctx32 = pcre2_match_context_create_32(NULL);
        sc->jit_stack32 = pcre2_jit_stack_create_32(32 * 1024, 1024 * 1024, NULL);
        if (!sc->md32 || !sc->mctx32 || !sc->jit_stack32)
            tg_malloc((size_t)-1); /* reports OOM and aborts */
        pcre2_set_match_limit_32(sc->mctx32, sc->match_limit);
        pcre2_set_depth_limit_32(sc->mctx32, sc->depth_limit);
        pcre2_jit_stack_assign_32(sc->mctx32, NULL, sc->jit_stack32);
    }
    tg_grow(&sc->wide, &sc->wcap, len + 1, sizeof *sc->wide);
    for (size_t i = 0; i < len; i++)
        sc->wide[i] = (unsigned char)s[i];
}

/* One pcre2_match of rx from start with md (the width's type; for a
 * 32-bit pattern the subject is sc->wide, see widen): PCRE2's return
 * code, *ov the offsets (bytes either way). */
static int match1(const rx_t *rx, rx_scratch_t *sc, void *md, const char *s, size_t len,
                  PCRE2_SIZE start, uint32_t opts, PCRE2_SIZE **ov)
{
    int rc;
    if (rx->code) {
        rc = pcre2_match(rx->code, (PCRE2_SPTR)s, len, start, opts, md, sc->mctx);
        *ov = pcre2_get_ovector_pointer(md);
    } else {
        rc = pcre2_match_32(rx->code32, sc->wide, len, start, opts, md, sc->mctx32);
        *ov = pcre2_get_ovector_pointer_32(md);
    }
    return rc;
}

/* The named groups of the match whose offsets are ov (pairs of them), to
 * fn. Name table entries: the group number in the first 16 bits (two
 * 8-bit units, or one 32-bit unit), then the name, NUL-terminated. */
static void report_names(const rx_t *rx, const PCRE2_SIZE *ov, uint32_t pairs, int rc,
                         const char *s, rx_capture_fn fn, void *arg)
{
    uint32_t count = 0, esize = 0;
    const void *table = NULL;
    if (rx->code) {
        pcre2_pattern_info(rx->code, PCRE2_INFO_NAMECOUNT, &count);
        pcre2_pattern_info(rx->code, PCRE2_INFO_NAMEENTRYSIZE, &esize);
        pcre2_pattern_info(rx->code, PCRE2_INFO_NAMETABLE, &table);
    } else {
        pcre2_pattern_info_32(rx->code32, PCRE2_INFO_NAMECOUNT, &count);
        pcre2_pattern_info_32(rx->code32, PCRE2_INFO_NAMEENTRYSIZE, &esize);
        pcre2_pattern_info_32(rx->code32, PCRE2_INFO_NAMETABLE, &table);
    }
    for (uint32_t i = 0; i < count; i++) {
        char name[64]; /* PCRE2 names are at most 32 units */
        const char *nm = name;
        uint32_t g;
        if (rx->code) {
            const unsigned char *e = (const unsigned char *)table + (size_t)i * esize;
            g = (uint32_t)e[0] << 8 | e[1];
            nm = (const char *)e + 2;
        } else {
            const uint32_t *e = (const uint32_t *)table + (size_t)i * esize;
            g = e[0];
            size_t k = 0;
            for (; e[1 + k] && k + 1 < sizeof name; k++)
                name[k] = (char)e[1 + k];
            name[k] = 0;
        }
        if (g >= pairs || (int)g >= rc || ov[2 * g] == PCRE2_UNSET || ov[2 * g + 1] <= ov[2 * g])
            fn(arg, nm, NULL, 0);
        else
            fn(arg, nm, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
    }
}

/* Perl's //g loop over [s, s+len) with md (of the pattern's width, with
 * `pairs` offset pairs), up to max matches (0 = all); fn, if set, sees
 * each match's named groups. */
static unsigned match_loop(const rx_t *rx, rx_scratch_t *sc, void *md, uint32_t pairs,
                           const char *s, size_t len, unsigned max, rx_capture_fn fn,
                           void *arg)
{
    unsigned n = 0;
    PCRE2_SIZE start = 0, *ov;
    uint32_t opts = 0;
    for (;;) {
        int rc = match1(rx, sc, md, s, len, start, opts, &ov);
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
            report_names(rx, ov, pairs, rc, s, fn, arg);
        if (max && n >= max)
            break;
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
    void *md, *own = NULL;
    if (rx->code) {
        pcre2_pattern_info(rx->code, PCRE2_INFO_CAPTURECOUNT, &groups);
        if (groups < RX_CAPTURE_PAIRS) {
            if (!sc->cmd)
                sc->cmd = pcre2_match_data_create(RX_CAPTURE_PAIRS, NULL);
            md = sc->cmd;
        } else {
            md = own = pcre2_match_data_create_from_pattern(rx->code, NULL);
        }
    } else {
        widen(sc, s, len);
        pcre2_pattern_info_32(rx->code32, PCRE2_INFO_CAPTURECOUNT, &groups);
        if (groups < RX_CAPTURE_PAIRS) {
            if (!sc->cmd32)
                sc->cmd32 = pcre2_match_data_create_32(RX_CAPTURE_PAIRS, NULL);
            md = sc->cmd32;
        } else {
            md = own = pcre2_match_data_create_from_pattern_32(rx->code32, NULL);
        }
    }
    if (!md)
        tg_malloc((size_t)-1); /* reports OOM and aborts */
    uint32_t pairs = groups < RX_CAPTURE_PAIRS ? RX_CAPTURE_PAIRS : groups + 1;
    unsigned n = match_loop(rx, sc, md, pairs, s, len, max, fn, arg);
    if (own && rx->code)
        pcre2_match_data_free(own);
    else if (own)
        pcre2_match_data_free_32(own);
    return n;
}

/* Bytes of s[0..len) equal to a or b, counted to max (0: no bound), 8 at
 * a time: a byte of w ^ a's pattern is 0 where s holds a. */
static unsigned count_bytes(const char *s, size_t len, unsigned char a, unsigned char b,
                            unsigned max)
{
    const uint64_t lo7 = 0x7f7f7f7f7f7f7f7full, ones = 0x0101010101010101ull;
    const uint64_t pa = ones * a, pb = ones * b;
    unsigned n = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w, za, zb;
        memcpy(&w, s + i, 8);
        za = w ^ pa;
        zb = w ^ pb;
        za = ~(((za & lo7) + lo7) | za | lo7); /* 0x80 where the byte was 0 */
        zb = ~(((zb & lo7) + lo7) | zb | lo7);
        /* at most one bit a byte, bit 7: the multiply sums them into the
         * top byte (no popcount instruction on the x86-64 baseline) */
        n += (unsigned)((((a == b ? za : za | zb) >> 7) * ones) >> 56);
        if (max && n >= max)
            return max;
    }
    for (; i < len; i++)
        n += (unsigned char)s[i] == a || (unsigned char)s[i] == b;
    return max && n > max ? max : n;
}

unsigned rx_count(const rx_t *rx, rx_scratch_t *sc, const char *s, size_t len,
                  unsigned max)
{
    unsigned n = 0;
    if (rx->lit && rx->litlen == 1) { /* __LOWER_E's /e/: the matches are the bytes */
        unsigned char c = (unsigned char)rx->lit[0];
        int letter = (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
        return count_bytes(s, len, c, rx->lit_ci && letter ? c ^ 0x20 : c, max);
    }
    if (rx->lit) { /* a longer literal: one memmem per match instead of PCRE2 */
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
    if (rx->code)
        return match_loop(rx, sc, sc->md, 1, s, len, max, NULL, NULL);
    widen(sc, s, len);
    return match_loop(rx, sc, sc->md32, 1, s, len, max, NULL, NULL);
}

int rx_match_at(const rx_t *rx, rx_scratch_t *sc, const char *s, size_t len, size_t off)
{
    if (off > len)
        return 0;
    PCRE2_SIZE *ov;
    if (!rx->code)
        widen(sc, s, len);
    int rc = match1(rx, sc, rx->code ? (void *)sc->md : (void *)sc->md32, s, len, off, 0, &ov);
    count_limit(sc, rc);
    return rc >= 0;
}
