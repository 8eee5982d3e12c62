#include "hsexpr.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cf.h"
#include "rx.h"
#include "util.h"

/* 1 if the pattern names a byte >= 0x80: raw, \xHH, \x{...}, \o{...} or a
 * three-digit octal escape. Conservative (a backreference \2nn counts). */
static int has_nonascii(const char *p)
{
    for (; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x80)
            return 1;
        if (c != '\\')
            continue;
        p++;
        if (!*p)
            break;
        if ((unsigned char)*p >= 0x80) /* "\é" in a Latin-1 file: the byte itself */
            return 1;
        if (*p == 'x') {
            if (p[1] == '{')
                return 1;
            if (isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]) &&
                (p[1] >= '8' || isalpha((unsigned char)p[1])))
                return 1;
        } else if (*p == 'o' && p[1] == '{') {
            return 1;
        } else if ((*p == '2' || *p == '3') && p[1] >= '0' && p[1] <= '7' &&
                   p[2] >= '0' && p[2] <= '7') {
            return 1;
        }
    }
    return 0;
}

/* 1 if an inline option group turns on caseless matching: (?i) (?xi:...). */
static int has_inline_i(const char *p)
{
    for (; *p; p++) {
        if (*p == '\\') {
            if (!*++p)
                break;
            continue;
        }
        if (p[0] == '(' && p[1] == '?')
            for (const char *q = p + 2; *q && (isalpha((unsigned char)*q) || *q == '-' || *q == '^'); q++)
                if (*q == 'i')
                    return 1;
    }
    return 0;
}

/* Under /i PCRE2 (rx.c's tables) folds Latin-1 letters, Vectorscan only
 * ASCII: such a pattern can be neither exact nor a safe prefilter. */
int hsexpr_needs_latin1_fold(const char *pat, unsigned reflags)
{
    return has_nonascii(pat) && ((reflags & CF_RE_I) || has_inline_i(pat));
}


/* A counted repeat {m} {m,} {m,n} at p: its length, with *lo and *hi
 * (-1 = unbounded); 0 if p is a literal brace as PCRE2 10.42 reads it. */
static size_t counted_repeat(const char *p, long *lo, long *hi)
{
    if (*p != '{' || !isdigit((unsigned char)p[1]))
        return 0;
    char *end;
    *lo = strtol(p + 1, &end, 10);
    *hi = *lo;
    if (*end == ',') {
        if (isdigit((unsigned char)end[1]))
            *hi = strtol(end + 1, &end, 10);
        else
            *hi = -1, end++;
    }
    return *end == '}' ? (size_t)(end + 1 - p) : 0;
}

/* Bytes in a 256-bit set. */
static unsigned set_count(const unsigned char set[32])
{
    unsigned n = 0;
    for (int i = 0; i < 32; i++)
        n += (unsigned)__builtin_popcount(set[i]);
    return n;
}

/* An atom of this many byte values or more is wide: relax level 5 drops
 * its counts (a dot's, a negated class's), as Vectorscan's automata pay
 * most for those; a narrow atom's small count it keeps. */
#define WIDE_ATOM 128u

/* Length of the quantifier at q (? * + or a counted repeat, with its
 * lazy/possessive suffix), 0 if none; its bounds in *lo and *hi (-1 =
 * unbounded). */
static size_t quant_len(const char *q, long *lo, long *hi)
{
    size_t n = counted_repeat(q, lo, hi);
    if (!n && (*q == '?' || *q == '*' || *q == '+')) {
        *lo = *q == '+';
        *hi = *q == '?' ? 1 : -1;
        n = 1;
    }
    if (n && (q[n] == '?' || q[n] == '+'))
        n++;
    return n;
}

/* End of the bracket class opening at p (one past its ']'), NULL if it
 * does not end or uses \Q. PCRE2's rules: a ']' first (after '^') is a
 * literal; [:name:] [.x.] [=x=] are POSIX items. */
static const char *class_end(const char *p)
{
    p++;
    if (*p == '^')
        p++;
    if (*p == ']')
        p++;
    while (*p) {
        if (*p == '\\') {
            if (p[1] == 'Q' || !p[1])
                return NULL;
            p += 2;
        } else if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
            char close[3] = {p[1], ']', 0};
            const char *e = strstr(p + 2, close);
            p = e ? e + 2 : p + 1;
        } else if (*p == ']') {
            return p + 1;
        } else {
            p++;
        }
    }
    return NULL;
}

int hsexpr_nested_repeat(const char *p)
{
    unsigned char inner[64]; /* per open group: contains a repeat */
    int depth = 0, overflow = 0, last_inner = 0;
    while (*p) {
        int atom_inner = 0;
        if (*p == '\\') {
            p++;
            if (*p)
                p++;
        } else if (*p == '[') {
            p = class_end(p);
            if (!p)
                return 1; /* a class this does not follow: assume the worst */
        } else if (*p == '(') {
            if (depth < 64)
                inner[depth] = 0;
            else
                overflow = 1;
            depth++;
            p++;
            continue;
        } else if (*p == ')') {
            if (depth > 0)
                depth--;
            atom_inner = depth < 64 ? inner[depth] : 1;
            p++;
        } else {
            p++;
        }
        long lo, hi;
        size_t q = quant_len(p, &lo, &hi);
        int unb = q && hi < 0;
        if (unb && atom_inner)
            return 1;
        last_inner = atom_inner || unb;
        if (depth > 0 && depth <= 64 && last_inner)
            inner[depth - 1] = 1;
        p += q;
    }
    return overflow;
}


/* Value of a non-ASCII escape at p (after the backslash): \xHH, \x{H..},
 * \o{...} or \[0-3]OO; sets *len to the characters after the backslash.
 * -1 if p is not such an escape or its value is ASCII. */
static long nonascii_escape(const char *p, size_t *len)
{
    char *end;
    long v = -1;
    if (p[0] == 'x' && p[1] == '{') {
        v = strtol(p + 2, &end, 16);
        if (*end != '}')
            return -1;
        *len = (size_t)(end + 1 - p);
    } else if (p[0] == 'o' && p[1] == '{') {
        v = strtol(p + 2, &end, 8);
        if (*end != '}')
            return -1;
        *len = (size_t)(end + 1 - p);
    } else if (p[0] == 'x' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
        char h[3] = {p[1], p[2], 0};
        v = strtol(h, NULL, 16);
        *len = 3;
    } else if (p[0] >= '0' && p[0] <= '3' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' &&
               p[2] <= '7') {
        v = (p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0');
        *len = 3;
    }
    return v >= 0x80 ? v : -1;
}

static const char *class_end(const char *p);
static void emit_set(tg_buf *b, const unsigned char set_in[32], const unsigned char *keep,
                     int caseless);
static char *dedupe_alts(char *expr, int collapse);

/* A prefilter expression for a /i pattern with bytes >= 0x80, which
 * Vectorscan would fold differently from PCRE2 (Latin-1 pairs): outside
 * classes every non-ASCII byte becomes [\x80-\xff]; a class that admits
 * one admits them all (written as its explicit byte set). Alternatives
 * that thereby become the same are kept once: ReplaceTags' look-alike
 * letters (__YOUR_PASSWORD: 37.7 KB as written, 68.7 KB without this)
 * are mostly UTF-8 sequences, which all become [\x80-\xff][\x80-\xff]...
 * The result matches a superset of what the pattern matches; PCRE2
 * confirms. NULL when the pattern uses constructs this does not follow
 * (\Q, /x). Caller frees. */
char *hsexpr_latin1_prefilter(const char *pat, unsigned reflags)
{
    if ((reflags & CF_RE_X) || strstr(pat, "\\Q") || strstr(pat, "(?x") || strstr(pat, "(?ix") ||
        strstr(pat, "(?xi"))
        return NULL;
    tg_buf b;
    tg_buf_init(&b);
    for (const char *p = pat; *p;) {
        unsigned char c = (unsigned char)*p;
        size_t el;
        if (c == '\\' && p[1] && nonascii_escape(p + 1, &el) >= 0) {
            tg_buf_adds(&b, "[\\x80-\\xff]");
            p += el + 1;
        } else if (c == '\\' && (unsigned char)p[1] >= 0x80) {
            tg_buf_adds(&b, "[\\x80-\\xff]"); /* an escaped raw high byte */
            p += 2;
        } else if (c == '\\' && p[1]) {
            tg_buf_add(&b, p, 2);
            p += 2;
        } else if (c >= 0x80) {
            tg_buf_adds(&b, "[\\x80-\\xff]");
            p++;
        } else if (c == '[') {
            /* the bytes it matches caseless or not: a superset whatever
             * the flags and inline options (caseless alone, a negated
             * class loses the other case: [^a] matches "A" without /i) */
            const char *e = class_end(p);
            unsigned char set[32], cs[32];
            if (!e || rx_class_bytes(p, (size_t)(e - p), 1, set) < 0 ||
                rx_class_bytes(p, (size_t)(e - p), 0, cs) < 0) {
                tg_buf_free(&b);
                return NULL;
            }
            for (int i = 0; i < 32; i++)
                set[i] |= cs[i];
            int wide = 0;
            for (int i = 16; i < 32; i++)
                wide |= set[i] != 0;
            if (wide)
                memset(set + 16, 0xff, 16);
            emit_set(&b, set, NULL, 0);
            p = e;
        } else {
            tg_buf_addc(&b, (char)c);
            p++;
        }
    }
    return dedupe_alts(tg_buf_steal(&b), 1);
}

/* The expression as Vectorscan gets it: /x becomes (?x), which Vectorscan
 * parses as PCRE does. Caller frees. */
char *hsexpr_plain(const char *pat, unsigned reflags)
{
    tg_buf b;
    tg_buf_init(&b);
    if (reflags & CF_RE_X)
        tg_buf_adds(&b, "(?x)");
    tg_buf_adds(&b, pat);
    return tg_buf_steal(&b);
}


/* ---- exact Latin-1 rewrite ---------------------------------------------- */

typedef struct hx_mode {
    unsigned char i, x, s;   /* caseless, extended, dotall in force */
} hx_mode_t;

static const unsigned char no_bytes[32];

/* Value of a one-character escape at p (after the backslash) and its
 * length in *len: \xHH \x{..} \o{..} \0oo \cX \a \e \f \n \r \t. -1 if p
 * is not such an escape, -2 if it is one this does not follow. */
static long char_escape(const char *p, size_t *len)
{
    char *end;
    long v;
    switch (*p) {
    case 'x':
        if (p[1] == '{') {
            v = strtol(p + 2, &end, 16);
            if (*end != '}' || end == p + 2)
                return -2;
            *len = (size_t)(end + 1 - p);
            return v;
        }
        v = 0;
        *len = 1;
        for (int k = 1; k <= 2 && isxdigit((unsigned char)p[k]); k++) {
            int d = p[k];
            v = v * 16 + (isdigit(d) ? d - '0' : tolower(d) - 'a' + 10);
            (*len)++;
        }
        return v;
    case 'o':
        if (p[1] != '{')
            return -2;
        v = strtol(p + 2, &end, 8);
        if (*end != '}' || end == p + 2)
            return -2;
        *len = (size_t)(end + 1 - p);
        return v;
    case '0':
        v = 0;
        *len = 1;
        for (int k = 1; k <= 2 && p[k] >= '0' && p[k] <= '7'; k++) {
            v = v * 8 + (p[k] - '0');
            (*len)++;
        }
        return v;
    case 'c':
        if (!p[1] || (unsigned char)p[1] >= 0x80)
            return -2;
        *len = 2;
        return toupper((unsigned char)p[1]) ^ 0x40;
    case 'a': *len = 1; return 7;
    case 'e': *len = 1; return 27;
    case 'f': *len = 1; return 12;
    case 'n': *len = 1; return 10;
    case 'r': *len = 1; return 13;
    case 't': *len = 1; return 9;
    default:
        return isdigit((unsigned char)*p) ? -2 : -1;
    }
}

/* Whether byte c is kept: keep is NULL (every byte) or a byte set whose
 * bytes >= 0x80 are those kept (bytes < 0x80 always are). */
static int kept(const unsigned char *keep, unsigned c)
{
    return c < 0x80 || !keep || (keep[c >> 3] & (1u << (c & 7)));
}

/* One literal byte as an atom: alphanumerics as themselves, other bytes
 * escaped; under /i a byte with a Latin-1 partner as a two-byte class.
 * Only the bytes keep keeps (see kept): none left is NEVER. */
static void emit_byte(tg_buf *b, unsigned c, int caseless, const unsigned char *keep)
{
    unsigned o = caseless && c >= 0x80 ? rx_other_case((unsigned char)c) : c;
    if (!kept(keep, c) || !kept(keep, o)) {
        if (!kept(keep, c) && !kept(keep, o)) {
            tg_buf_adds(b, "[^\\x00-\\xff]"); /* cannot match such text */
            return;
        }
        c = o = kept(keep, c) ? c : o; /* one of a Latin-1 pair */
    }
    if (o != c)
        tg_buf_printf(b, "[\\x%02x\\x%02x]", c, o);
    else if (c < 0x80 && isalnum((int)c))
        tg_buf_addc(b, (char)c);
    else
        tg_buf_printf(b, "\\x%02x", c);
}

/* A byte set as an explicit class of \xHH ranges (only the bytes keep
 * keeps, see kept); an empty set as a class nothing matches. Under caseless the
 * upper-case ASCII letters are left to Vectorscan's own folding (its
 * caseless state follows PCRE2's: same flag, inline options copied), and
 * a set of one byte is written as that byte: Vectorscan limits the length
 * of a pattern, and ReplaceTags patterns are long. */
static void emit_set(tg_buf *b, const unsigned char set_in[32], const unsigned char *keep,
                     int caseless)
{
    unsigned char set[32];
    memcpy(set, set_in, 32);
    for (int k = 16; keep && k < 32; k++)
        set[k] &= keep[k];
    if (!memcmp(set, no_bytes, 32)) {
        tg_buf_adds(b, "[^\\x00-\\xff]");
        return;
    }
    if (caseless)
        for (unsigned u = 'A'; u <= 'Z'; u++)
            if ((set[u >> 3] & (1u << (u & 7))) && (set[(u + 32) >> 3] & (1u << ((u + 32) & 7))))
                set[u >> 3] &= (unsigned char)~(1u << (u & 7));
    unsigned n = 0, only = 0;
    for (unsigned c = 0; c < 256; c++)
        if (set[c >> 3] & (1u << (c & 7)))
            n++, only = c;
    if (n == 1) {
        if (only < 0x80 && isalnum((int)only))
            tg_buf_addc(b, (char)only);
        else
            tg_buf_printf(b, "\\x%02x", only);
        return;
    }
    tg_buf_addc(b, '[');
    for (unsigned c = 0; c < 256;) {
        if (!(set[c >> 3] & (1u << (c & 7)))) {
            c++;
            continue;
        }
        unsigned e = c;
        while (e + 1 < 256 && (set[(e + 1) >> 3] & (1u << ((e + 1) & 7))))
            e++;
        if (e == c)
            tg_buf_printf(b, "\\x%02x", c);
        else
            tg_buf_printf(b, "\\x%02x-\\x%02x", c, e);
        c = e + 1;
    }
    tg_buf_addc(b, ']');
}

/* Applies an inline option setting (?imsx-imsx^) at p (after "(?") to *m;
 * returns its length up to and excluding the ')' or ':' that ends it, 0
 * if p is not an option setting. */
static size_t option_letters(const char *p, hx_mode_t *m)
{
    hx_mode_t t = *m;
    int on = 1;
    const char *q = p;
    for (; isalpha((unsigned char)*q) || *q == '-' || *q == '^'; q++) {
        if (*q == '-')
            on = 0;
        else if (*q == '^')
            t.i = t.x = t.s = 0;
        else if (*q == 'i')
            t.i = (unsigned char)on;
        else if (*q == 'x')
            t.x = (unsigned char)on;
        else if (*q == 's')
            t.s = (unsigned char)on;
        else if (!strchr("mnJU", *q))
            return 0;
    }
    if (q == p || (*q != ')' && *q != ':'))
        return 0;
    *m = t;
    return (size_t)(q - p);
}

double hsexpr_repeat_size(const char *p)
{
    double cur[65], best[65]; /* per open group: this branch, widest branch */
    int depth = 0;
    cur[0] = best[0] = 0;
    while (*p) {
        double w = 1;
        if (*p == '\\') {
            p += p[1] ? 2 : 1;
        } else if (*p == '[') {
            p = class_end(p);
            if (!p)
                return 1e300;
        } else if (*p == '(') {
            if (depth >= 64)
                return 1e300;
            depth++;
            cur[depth] = best[depth] = 0;
            p++;
            continue;
        } else if (*p == '|') {
            if (cur[depth] > best[depth])
                best[depth] = cur[depth];
            cur[depth] = 0;
            p++;
            continue;
        } else if (*p == ')' && depth > 0) {
            w = cur[depth] > best[depth] ? cur[depth] : best[depth];
            depth--;
            p++;
        } else {
            p++;
        }
        long lo, hi;
        size_t q = quant_len(p, &lo, &hi);
        if (q)
            w *= hi >= 0 ? hi : lo > 0 ? lo : 1;
        p += q;
        cur[depth] += w;
    }
    while (depth > 0) { /* unbalanced: count what is open */
        double w = cur[depth] > best[depth] ? cur[depth] : best[depth];
        cur[--depth] += w;
    }
    return cur[0] > best[0] ? cur[0] : best[0];
}

/* One past the ')' closing the group that opens at p, NULL if none. */
static const char *group_end(const char *p)
{
    int depth = 0;
    while (*p) {
        if (*p == '\\') {
            if (!p[1])
                return NULL;
            p += 2;
        } else if (*p == '[') {
            p = class_end(p);
            if (!p)
                return NULL;
        } else if (*p == '(') {
            depth++, p++;
        } else if (*p == ')') {
            p++;
            if (--depth == 0)
                return p;
        } else {
            p++;
        }
    }
    return NULL;
}

/* ---- alternatives written twice ------------------------------------------ */

static int dedupe_alt(const char **pp, tg_buf *out, int collapse);

/* One branch at *pp (up to '|', ')' or the end, not consumed) copied to
 * out, its groups' alternatives deduplicated. 0, or -1 on a construct this
 * does not follow (named groups, comments, verbs). */
static int dedupe_seq(const char **pp, tg_buf *out, int collapse)
{
    const char *p = *pp;
    while (*p && *p != '|' && *p != ')') {
        if (*p == '\\') {
            if (!p[1])
                return -1;
            tg_buf_add(out, p, 2);
            p += 2;
        } else if (*p == '[') {
            const char *e = class_end(p);
            if (!e)
                return -1;
            tg_buf_add(out, p, (size_t)(e - p));
            p = e;
        } else if (*p == '(') {
            size_t pl = 1;
            /* a superset inside a negative lookaround would make the
             * whole a subset: nothing collapses there */
            int sub = collapse && !(p[1] == '?' && (p[2] == '!' || (p[2] == '<' && p[3] == '!')));
            if (p[1] == '*') {
                return -1;
            } else if (p[1] == '?') {
                if (p[2] == '=' || p[2] == '!' || p[2] == ':') {
                    pl = 3;
                } else if (p[2] == '<' && (p[3] == '=' || p[3] == '!')) {
                    pl = 4;
                } else {
                    hx_mode_t m = {0};
                    size_t ol = option_letters(p + 2, &m);
                    if (!ol)
                        return -1;
                    if (p[2 + ol] == ')') { /* an option setting, no group */
                        tg_buf_add(out, p, ol + 3);
                        p += ol + 3;
                        continue;
                    }
                    pl = ol + 3;
                }
            }
            tg_buf_add(out, p, pl);
            p += pl;
            if (dedupe_alt(&p, out, sub) < 0 || *p != ')')
                return -1;
            tg_buf_addc(out, ')');
            p++;
        } else {
            tg_buf_addc(out, *p);
            p++;
        }
    }
    *pp = p;
    return 0;
}

#define HIGH_ATOM "[\\x80-\\xff]"

/* The most bytes >= 0x80 branch s matches if it matches nothing else
 * (only [\x80-\xff] atoms, and groups and alternations of them, no
 * quantifier but the {lo,hi} dedupe_alt writes) and never the empty
 * string, with the least in *least; 0 otherwise. */
static size_t high_only(const char *s, size_t *least)
{
    size_t depth = 0, hl = strlen(HIGH_ATOM);
    /* per depth: the current branch's min and max, and the group's so far */
    size_t rmin[64] = {0}, rmax[64] = {0}, gmin[64] = {0}, gmax[64] = {0};
    int gset[64] = {0};
    for (const char *p = s; *p;) {
        if (!strncmp(p, HIGH_ATOM, hl)) {
            size_t lo = 1, hi = 1;
            p += hl;
            unsigned a, b;
            int used = 0;
            if (*p == '{' && sscanf(p, "{%u,%u}%n", &a, &b, &used) == 2 && used && a <= b) {
                lo = a, hi = b; /* written by dedupe_alt itself */
                p += used;
            } else if (*p == '{' && sscanf(p, "{%u}%n", &a, &used) == 1 && used && a) {
                lo = hi = a;
                p += used;
            }
            rmin[depth] += lo, rmax[depth] += hi;
        } else if (!strncmp(p, "(?:", 3) && depth + 1 < 64) {
            depth++;
            rmin[depth] = rmax[depth] = 0, gset[depth] = 0;
            p += 3;
        } else if ((*p == '|' || *p == ')') && depth) {
            if (!gset[depth] || rmin[depth] < gmin[depth])
                gmin[depth] = rmin[depth];
            if (!gset[depth] || rmax[depth] > gmax[depth])
                gmax[depth] = rmax[depth];
            gset[depth] = 1;
            rmin[depth] = rmax[depth] = 0;
            if (*p == ')') {
                depth--;
                rmin[depth] += gmin[depth + 1], rmax[depth] += gmax[depth + 1];
            }
            p++;
        } else {
            return 0;
        }
    }
    *least = rmin[0];
    return depth || rmin[0] == 0 ? 0 : rmax[0];
}

/* Bytes of the numbers in HTML character references (&#163; &#xa3;):
 * digits, hex letters and x, either case. */
static int code_byte(unsigned c)
{
    return isxdigit(c) || c == 'x' || c == 'X';
}

static int code_alt(const char **pp, unsigned char set[32], size_t *lo, size_t *hi);

/* One branch at *pp (up to '|' or ')', not consumed) if it matches only
 * code_byte bytes, never the empty string and never more than 16: 1, its
 * bytes (both cases) added to set and its length bounds in *lo, *hi;
 * 0 otherwise. */
static int code_seq(const char **pp, unsigned char set[32], size_t *lo, size_t *hi)
{
    const char *p = *pp;
    *lo = *hi = 0;
    while (*p && *p != '|' && *p != ')') {
        size_t alo = 1, ahi = 1;
        unsigned char one[32];
        if (*p == '(') {
            if (p[1] == '?' && p[2] != ':')
                return 0; /* lookaround, options, named group: not followed */
            p += p[1] == '?' ? 3 : 1;
            if (!code_alt(&p, set, &alo, &ahi) || *p != ')')
                return 0;
            p++;
        } else {
            if (*p == '\\' && !p[1])
                return 0;
            const char *e = *p == '[' ? class_end(p) : *p == '\\' ? p + 2 : p + 1;
            if (*p == '\\' && p[1] == 'x')
                for (e = p + 2; isxdigit((unsigned char)*e) && e < p + 4; e++)
                    ;
            static const unsigned char none[32];
            if (!e || rx_class_bytes(p, (size_t)(e - p), 1, one) < 0 || !memcmp(one, none, 32))
                return 0; /* not an atom, or one that matches no byte (\z) */
            for (int c = 0; c < 256; c++)
                if (one[c / 8] >> (c % 8) & 1) {
                    if (!code_byte((unsigned)c))
                        return 0;
                    set[c / 8] |= (unsigned char)(1u << (c % 8));
                    set[toupper(c) / 8] |= (unsigned char)(1u << (toupper(c) % 8));
                    set[tolower(c) / 8] |= (unsigned char)(1u << (tolower(c) % 8));
                }
            p = e;
        }
        long qlo, qhi;
        size_t ql = quant_len(p, &qlo, &qhi);
        if (ql && (qhi < 0 || p[ql - 1] == '+' || qhi > 16))
            return 0;
        if (ql)
            alo *= (size_t)qlo, ahi *= (size_t)qhi, p += ql;
        *lo += alo, *hi += ahi;
        if (*hi > 16)
            return 0;
    }
    *pp = p;
    return *lo > 0;
}

/* The alternation at *pp (up to ')', not consumed) as code_seq. */
static int code_alt(const char **pp, unsigned char set[32], size_t *lo, size_t *hi)
{
    int first = 1;
    for (;;) {
        size_t l, h;
        if (!code_seq(pp, set, &l, &h))
            return 0;
        *lo = first || l < *lo ? l : *lo;
        *hi = first || h > *hi ? h : *hi;
        first = 0;
        if (**pp != '|')
            return 1;
        (*pp)++;
    }
}

/* Whether branch s (all of it) is a number code_seq follows that names a
 * digit (words of hex letters, "face", stay as they are): then its bytes
 * are added to set and its length bounds put in *lo, *hi. */
static int is_code(const char *s, unsigned char set[32], size_t *lo, size_t *hi)
{
    unsigned char mine[32] = {0};
    const char *q = s;
    if (!code_seq(&q, mine, lo, hi) || *q)
        return 0;
    if (!mine['0' / 8] && !(mine['8' / 8] & 3)) /* '0'-'7' share a byte, '8' '9' the next */
        return 0;
    for (int i = 0; i < 32; i++)
        set[i] |= mine[i];
    return 1;
}

/* The alternation at *pp (up to ')' or the end, not consumed) copied to
 * out with each branch once, in first-seen order: the same language. With
 * collapse (supersets only), the branches that match nothing but m to n
 * bytes >= 0x80 become one, [\x80-\xff]{m,n}: the ReplaceTags look-alike
 * letters, UTF-8 sequences of 2 to 4 bytes, in the Latin-1 prefilter; and
 * those that match only numbers (code_seq) become one class counted
 * {m,n}: the same tags' HTML character references, &#(?:1(?:03[01]|...)
 * (__HOURS_DEADLINE's prefilter: 21 KB, 11 KB with them collapsed). */
static int dedupe_alt(const char **pp, tg_buf *out, int collapse)
{
    char **kept = NULL;
    size_t nk = 0, cap = 0, high = 0, low = 0;
    unsigned char code[32] = {0}; /* bytes of the numbers branches */
    size_t ncode = 0, clow = 0, chigh = 0;
    char *code1 = NULL;           /* the first one, kept if it is alone */
    int rc = 0;
    for (;;) {
        tg_buf br;
        tg_buf_init(&br);
        if (dedupe_seq(pp, &br, collapse) < 0) {
            tg_buf_free(&br);
            rc = -1;
            break;
        }
        char *s = tg_buf_steal(&br);
        size_t l = 0, h = collapse && s ? high_only(s, &l) : 0, k = 0, cl, ch;
        if (h) {
            low = !high || l < low ? l : low;
            high = h > high ? h : high;
            free(s);
        } else if (collapse && s && is_code(s, code, &cl, &ch)) {
            clow = !ncode || cl < clow ? cl : clow;
            chigh = ch > chigh ? ch : chigh;
            if (!ncode++)
                code1 = s;
            else
                free(s);
        } else {
            if (!s)
                s = tg_strdup("");
            while (k < nk && strcmp(kept[k], s) != 0)
                k++;
            if (k < nk) {
                free(s);
            } else {
                if (nk)
                    tg_buf_addc(out, '|');
                tg_buf_adds(out, s);
                tg_grow(&kept, &cap, nk + 1, sizeof *kept);
                kept[nk++] = s;
            }
        }
        if (**pp != '|')
            break;
        (*pp)++;
    }
    if (rc == 0 && ncode) {
        if (nk)
            tg_buf_addc(out, '|');
        if (ncode == 1)
            tg_buf_adds(out, code1);
        else
            emit_set(out, code, no_bytes, 0);
        if (ncode > 1 && clow == chigh)
            tg_buf_printf(out, "{%zu}", clow);
        else if (ncode > 1)
            tg_buf_printf(out, "{%zu,%zu}", clow, chigh);
    }
    free(code1);
    if (rc == 0 && high) {
        if (nk || ncode)
            tg_buf_addc(out, '|');
        if (high == 1)
            tg_buf_adds(out, HIGH_ATOM);
        else if (low == high)
            tg_buf_printf(out, HIGH_ATOM "{%zu}", high);
        else
            tg_buf_printf(out, HIGH_ATOM "{%zu,%zu}", low, high);
    }
    for (size_t k = 0; k < nk; k++)
        free(kept[k]);
    free(kept);
    return rc;
}

/* expr (owned) with every alternation's repeated branches dropped; expr
 * itself when it uses what this does not follow, or back references
 * (dropping a branch renumbers the groups after it). */
static char *dedupe_alts(char *expr, int collapse)
{
    for (const char *q = expr; (q = strchr(q, '\\')) != NULL; q += 2) {
        if (!q[1])
            return expr;
        if ((q[1] >= '1' && q[1] <= '9') || q[1] == 'g' || q[1] == 'k')
            return expr;
    }
    tg_buf out;
    tg_buf_init(&out);
    const char *p = expr;
    if (dedupe_alt(&p, &out, collapse) < 0 || *p) {
        tg_buf_free(&out);
        return expr;
    }
    free(expr);
    return tg_buf_steal(&out);
}

/* ---- the least number of distinct match ends ----------------------------
 * Conservative: "nullable" is assumed wherever this does not follow the
 * syntax, which makes hsexpr_min_ends answer 1. */

static int nullable_alt(const char **pp, int *bad);

/* One past the escape at p (a backslash); *zero = 1 if it can match
 * without consuming a byte (assertions, \K, backreferences). */
static const char *escape_end(const char *p, int *zero)
{
    char e = p[1];
    *zero = 0;
    if (!e)
        return NULL;
    if (e == 'Q') {
        const char *q = strstr(p + 2, "\\E");
        *zero = q == p + 2 || (!q && !p[2]);
        return q ? q + 2 : p + strlen(p);
    }
    if (strchr("bBAzZGKE", e) || isdigit((unsigned char)e) || e == 'g' || e == 'k')
        *zero = 1;
    p += 2;
    if (*p == '{' || ((e == 'k' || e == 'g') && (*p == '<' || *p == '\''))) {
        const char *q = strchr(p, *p == '{' ? '}' : *p == '<' ? '>' : '\'');
        return q ? q + 1 : NULL;
    }
    if (e == 'x')
        for (int i = 0; i < 2 && isxdigit((unsigned char)*p); i++)
            p++;
    else if (e == 'c' && *p)
        p++;
    else if (isdigit((unsigned char)e))
        while (isdigit((unsigned char)*p))
            p++;
    return p;
}

/* Where the body of the group opening at p ('(') starts: past "(", "(?:",
 * "(?>", "(?|", a name ("(?<n>", "(?'n'", "(?P<n>") or option letters
 * ("(?i-s:"). For an option setting alone ("(?i)") *opts is set and the
 * result is past its ')'. *x (if not NULL) is set when the letters turn
 * /x on or off. NULL for a group this does not follow. */
static const char *group_body(const char *p, int *opts, int *x)
{
    const char *q = p + 1;
    *opts = 0;
    if (*q != '?')
        return q;
    q++;
    if (*q == '<' || *q == '\'' || (*q == 'P' && q[1] == '<')) {
        q = strpbrk(q, ">'");
        return q ? q + 1 : NULL;
    }
    if (*q == ':' || *q == '>' || *q == '|')
        return q + 1;
    for (; isalpha((unsigned char)*q) || *q == '-' || *q == '^'; q++)
        if (*q == 'x' && x)
            *x = 1;
    if (*q == ')') {
        *opts = 1;
        return q + 1;
    }
    return *q == ':' ? q + 1 : NULL;
}

int hsexpr_literal_free(const char *p)
{
    while (*p) {
        long lo, hi;
        size_t q;
        if (*p == '\\') {
            if (!p[1] || !strchr("sSdDwWbBAzZGhHvVRN", p[1]))
                return 0; /* an escaped byte, a backreference, \Q... */
            p += 2;
        } else if (*p == '[') {
            if (!(p = class_end(p)))
                return 0;
        } else if (*p == '(' && p[1] == '?' &&
                   (p[2] == '=' || p[2] == '!' || (p[2] == '<' && (p[3] == '=' || p[3] == '!')))) {
            if (!(p = group_end(p)))
                return 0; /* a lookaround reads bytes, it matches none */
        } else if (*p == '(') {
            int opts;
            if (!(p = group_body(p, &opts, NULL)))
                return 0;
        } else if (strchr(")|?*+^$.", *p)) {
            p++;
        } else if (*p == '{' && (q = quant_len(p, &lo, &hi)) > 0) {
            p += q;
        } else {
            return 0;
        }
    }
    return 1;
}

static int nullable_seq(const char **pp, int *bad)
{
    int all = 1;
    const char *p = *pp;
    while (*p && *p != '|' && *p != ')' && !*bad) {
        int n = 0;
        if (*p == '\\') {
            p = escape_end(p, &n);
        } else if (*p == '[') {
            p = class_end(p);
        } else if (*p == '(') {
            const char *q = p + 1;
            if (*q == '*') {
                p = NULL;
            } else if (*q == '?' && (q[1] == '=' || q[1] == '!' || q[1] == '#' ||
                                     (q[1] == '<' && (q[2] == '=' || q[2] == '!')))) {
                p = group_end(p), n = 1; /* zero-width or a comment */
            } else {
                int opts;
                q = group_body(p, &opts, NULL);
                if (opts) { /* options only */
                    p = q;
                    continue;
                }
                if (q) {
                    n = nullable_alt(&q, bad);
                    p = *q == ')' ? q + 1 : NULL;
                } else {
                    p = NULL;
                }
            }
        } else {
            n = *p == '^' || *p == '$';
            p++;
        }
        if (!p) {
            *bad = 1;
            break;
        }
        long lo, hi;
        size_t ql = quant_len(p, &lo, &hi);
        n |= ql && lo == 0;
        p += ql;
        all &= n;
    }
    *pp = p ? p : *pp;
    return all || *bad;
}

/* The alternation at *pp up to ')' (not consumed) or the end. */
static int nullable_alt(const char **pp, int *bad)
{
    int any = 0;
    for (;;) {
        any |= nullable_seq(pp, bad);
        if (*bad)
            return 1;
        if (**pp != '|')
            return any;
        (*pp)++;
    }
}

/* One past the atom that begins at p (an escape, a class, a group or one
 * byte), its quantifier not included; NULL if it is unterminated. */
static const char *atom_end(const char *p)
{
    int zero;
    return *p == '\\' ? escape_end(p, &zero)
         : *p == '[' ? class_end(p)
         : *p == '(' ? group_end(p) : p + 1;
}

/* The last top-level item of pat when it is a group counted {n...}, n >= 2,
 * that consumes a byte every time, with no '|' outside it: its opening
 * '(' in *open, one past its ')' in *close; the count (capped at 8), or 1
 * if pat has no such ending. */
static int last_counted_group(const char *pat, unsigned reflags, const char **open,
                              const char **close)
{
    if ((reflags & CF_RE_X) || strstr(pat, "(?x") || strstr(pat, "(?-x"))
        return 1;
    /* the last top-level item: a group under {n...}, with no '|' outside */
    const char *p = pat, *last = NULL;
    while (*p) {
        if (*p == '|')
            return 1;
        const char *next = atom_end(p);
        if (!next)
            return 1;
        last = p;
        p = next;
        long lo, hi;
        p += quant_len(p, &lo, &hi);
    }
    if (!last || *last != '(' || last[1] == '*' ||
        (last[1] == '?' && (strchr("=!#(", last[2]) ||
                            (last[2] == '<' && (last[3] == '=' || last[3] == '!')))))
        return 1;
    const char *end = group_end(last);
    long lo, hi;
    if (!end || !counted_repeat(end, &lo, &hi) || lo < 2)
        return 1;
    /* the group itself must consume a byte every time */
    int bad = 0;
    const char *q = last;
    if (nullable_seq(&q, &bad) || bad)
        return 1;
    *open = last;
    *close = end;
    return lo > 8 ? 8 : (int)lo;
}

int hsexpr_min_ends(const char *pat, unsigned reflags)
{
    const char *open, *close;
    return last_counted_group(pat, reflags, &open, &close);
}

int hsexpr_whole_count(const char *pat, unsigned reflags)
{
    const char *open = NULL, *close = NULL;
    int n = last_counted_group(pat, reflags, &open, &close);
    return n > 1 && open == pat ? n : 1;
}

/* The first top-level positive lookahead of pat, (?=...) unquantified,
 * when pat has no top-level '|' (so what follows it can be cut off); NULL
 * if none. */
static const char *top_lookahead(const char *pat, unsigned reflags)
{
    if ((reflags & CF_RE_X) || strstr(pat, "(?x") || strstr(pat, "(?-x"))
        return NULL;
    const char *found = NULL;
    for (const char *p = pat; *p;) {
        if (*p == '|')
            return NULL;
        const char *next = atom_end(p);
        if (!next)
            return NULL;
        long lo, hi;
        size_t q = quant_len(next, &lo, &hi);
        if (!found && !q && p[0] == '(' && p[1] == '?' && p[2] == '=')
            found = p;
        p = next + q;
    }
    return found;
}

/* The rewrite behind hsexpr_latin1_exact, hsexpr_ascii, hsexpr_restrict,
 * hsexpr_relaxed. keep: the bytes >= 0x80 each atom keeps (see kept),
 * NULL for all of them.
 * relax 3 and 4 are 1 and 2 without assertions (anchors, \b, lookaround
 * groups); relax 1: counted repeats with an upper bound over 8 lose it; 2: every
 * counted repeat becomes * or +; 5: as 2 but for a count of at most 8 of
 * a narrow atom (one byte of under WIDE_ATOM values), which stays; 7: the
 * first top-level lookahead (top_lookahead) folded in, X(?=Y)Z read as
 * X(?:Y) with the rest cut off (every match of the pattern has a match of
 * that at its start), the other lookarounds dropped, counts kept; NULL if
 * the pattern has no such lookahead. */
static char *rewrite(const char *pat, unsigned reflags, const unsigned char *keep, int relax)
{
    tg_buf b;
    tg_buf_init(&b);
    hx_mode_t stack[64];
    int depth = 0;
    hx_mode_t cur = {(reflags & CF_RE_I) != 0, (reflags & CF_RE_X) != 0,
                     (reflags & CF_RE_S) != 0};
    if (cur.x)
        tg_buf_adds(&b, "(?x)");
    int noassert = relax == 3 || relax == 4;
    if (noassert)
        relax -= 2;
    const char *fold = relax == 7 ? top_lookahead(pat, reflags) : NULL;
    if (relax == 7 && !fold)
        goto fail; /* b may hold "(?x)" already */
    int fold_depth = -1; /* depth of the folded group, once open */
    if (relax == 7)
        relax = 0;
    int narrow = 0; /* the last atom is one byte of under WIDE_ATOM values */
    const char *p = pat;
    while (*p) {
        unsigned char c = (unsigned char)*p;
        int was_narrow = narrow;
        narrow = 0;
        if (noassert && (c == '^' || c == '$')) {
            p++;
        } else if (p == fold) {
            if (depth >= 64)
                goto fail;
            stack[depth++] = cur;
            fold_depth = depth;
            tg_buf_adds(&b, "(?:");
            p += 3;
        } else if ((noassert || fold) && c == '(' && p[1] == '?' &&
                   (p[2] == '=' || p[2] == '!' || (p[2] == '<' && (p[3] == '=' || p[3] == '!')))) {
            p = group_end(p);
            if (!p)
                goto fail;
        } else if (cur.x && (c == '#')) {
            while (*p && *p != '\n')
                p++;
        } else if (c == '\\') {
            size_t el = 0;
            long v = char_escape(p + 1, &el);
            if (p[1] == 'Q') {
                for (p += 2; *p && !(p[0] == '\\' && p[1] == 'E'); p++)
                    emit_byte(&b, (unsigned char)*p, cur.i, keep);
                if (*p)
                    p += 2;
            } else if (p[1] == 'E') {
                p += 2;
            } else if (v >= 0 && v <= 0xff) {
                emit_byte(&b, (unsigned)v, cur.i, keep);
                p += 1 + el;
                narrow = 1;
            } else if (v != -1 || !p[1]) {
                goto fail;
            } else if ((unsigned char)p[1] >= 0x80) {
                emit_byte(&b, (unsigned char)p[1], cur.i, keep);
                p += 2;
                narrow = 1;
            } else if (keep && strchr("WDSHVN", p[1])) {
                unsigned char set[32]; /* the class escapes that admit bytes >= 0x80 */
                if (rx_class_bytes(p, 2, cur.i, set) < 0)
                    goto fail;
                emit_set(&b, set, keep, cur.i);
                p += 2;
                narrow = set_count(set) < WIDE_ATOM;
            } else if (noassert && strchr("bBAzZG", p[1])) {
                p += 2;
            } else if (keep && strchr("XCpP", p[1])) {
                goto fail;
            } else {
                unsigned char set[32]; /* \d \s \w ...; not a back reference */
                narrow = relax == 5 && rx_class_bytes(p, 2, cur.i, set) == 0 &&
                         set_count(set) < WIDE_ATOM;
                tg_buf_add(&b, p, 2);
                p += 2;
            }
        } else if (c == '[') {
            const char *e = class_end(p);
            unsigned char set[32];
            if (!e || rx_class_bytes(p, (size_t)(e - p), cur.i, set) < 0)
                goto fail;
            emit_set(&b, set, keep, cur.i);
            p = e;
            narrow = set_count(set) < WIDE_ATOM;
        } else if (c == '.' && keep) {
            unsigned char set[32];
            memset(set, 0xff, 32);
            if (!cur.s)
                set['\n' >> 3] &= (unsigned char)~(1u << ('\n' & 7));
            emit_set(&b, set, keep, 0);
            p++;
        } else if (c == '(') {
            if (p[1] == '?' && p[2] == '#') {
                const char *e = strchr(p, ')');
                if (!e)
                    goto fail;
                p = e + 1;
                continue;
            }
            hx_mode_t m = cur;
            size_t ol = p[1] == '?' ? option_letters(p + 2, &m) : 0;
            if (ol && p[2 + ol] == ')') {
                cur = m; /* to the end of the enclosing group */
                tg_buf_add(&b, p, ol + 3);
                p += ol + 3;
                continue;
            }
            if (depth >= 64)
                goto fail;
            stack[depth++] = cur;
            cur = m;
            tg_buf_addc(&b, '(');
            p++;
            if (ol) {
                tg_buf_add(&b, p, ol + 2);
                p += ol + 2;
            }
        } else if (c == '{' && relax) {
            long lo, hi;
            size_t ql = counted_repeat(p, &lo, &hi);
            if (!ql) {
                tg_buf_addc(&b, '{');
                p++;
                narrow = 1;
            } else if (relax == 5 && was_narrow && hi >= 0 && hi <= 8) {
                tg_buf_add(&b, p, ql);
                p += ql;
            } else if (relax >= 2) {
                tg_buf_addc(&b, lo ? '+' : '*');
                p += ql;
            } else if (hi > 8) {
                tg_buf_printf(&b, "{%ld,}", lo);
                p += ql;
            } else {
                tg_buf_add(&b, p, ql);
                p += ql;
            }
        } else if (c == ')') {
            if (depth == fold_depth) {
                tg_buf_addc(&b, ')');
                break; /* the folded lookahead ends the form */
            }
            if (depth > 0)
                cur = stack[--depth];
            tg_buf_addc(&b, ')');
            p++;
        } else if (c >= 0x80) {
            emit_byte(&b, c, cur.i, keep);
            p++;
            narrow = 1;
        } else {
            tg_buf_addc(&b, (char)c);
            p++;
            narrow = c != '.' && !strchr("^$|*+?", c);
        }
    }
    return tg_buf_steal(&b);
fail:
    tg_buf_free(&b);
    return NULL;
}

/* ---- pruning branches the ASCII form cannot take ------------------------
 * Works on rewrite()'s own output, whose classes are all emit_set's
 * explicit byte sets and where an atom only text with bytes >= 0x80 could
 * match is NEVER. An item whose atom is dead kills its branch unless its
 * quantifier allows zero (then the item is dropped); a group with no live
 * branch is dead; a negative lookaround of a dead group always holds and
 * is dropped. ReplaceTags patterns shrink a lot: most of their
 * alternatives are Latin-1 or UTF-8 look-alikes. */

static const char NEVER[] = "[^\\x00-\\xff]";

typedef struct prune {
    const char *p;
    int bail; /* a construct this does not follow: keep the expression */
} prune_t;

static int prune_alt(prune_t *st, tg_buf *out);

/* One branch: appends its live items to out; 0 if it cannot match. */
static int prune_seq(prune_t *st, tg_buf *out)
{
    int live = 1;
    while (*st->p && *st->p != '|' && *st->p != ')' && !st->bail) {
        const char *a = st->p;
        int dead = 0, always = 0;
        tg_buf inner;
        tg_buf_init(&inner);
        if (*a == '\\') {
            int zero;
            st->p = escape_end(a, &zero);
            if (!st->p) {
                st->p = a;
                st->bail = 1;
                break;
            }
            tg_buf_add(&inner, a, (size_t)(st->p - a));
        } else if (*a == '[') {
            const char *e = a + 1;
            while (*e && *e != ']')
                e += e[0] == '\\' && e[1] ? 2 : 1;
            if (!*e) {
                st->bail = 1;
                break;
            }
            st->p = e + 1;
            dead = (size_t)(st->p - a) == sizeof NEVER - 1 &&
                   !memcmp(a, NEVER, sizeof NEVER - 1);
            tg_buf_add(&inner, a, (size_t)(st->p - a));
        } else if (*a == '(') {
            size_t pl = 1;
            int look = 0, neg = 0;
            if (a[1] == '*') {
                st->bail = 1;
            } else if (a[1] == '?') {
                const char *q = a + 2;
                if (*q == ':' || *q == '>' || *q == '|') {
                    pl = 3;
                } else if (*q == '=' || *q == '!') {
                    pl = 3, look = 1, neg = *q == '!';
                } else if (*q == '<' && (q[1] == '=' || q[1] == '!')) {
                    pl = 4, look = 1, neg = q[1] == '!';
                } else if (*q == '<' || *q == '\'' || (*q == 'P' && q[1] == '<')) {
                    const char *e = strpbrk(q + 1, ">'");
                    if (!e)
                        st->bail = 1;
                    else
                        pl = (size_t)(e + 1 - a);
                } else {
                    while (*q && (isalpha((unsigned char)*q) || *q == '-' || *q == '^'))
                        q++;
                    if (*q == ')') { /* options to the end of the group */
                        st->p = q + 1;
                        tg_buf_add(out, a, (size_t)(st->p - a));
                        tg_buf_free(&inner);
                        continue;
                    }
                    if (*q != ':')
                        st->bail = 1;
                    pl = (size_t)(q + 1 - a);
                }
            }
            if (st->bail)
                break;
            tg_buf_add(&inner, a, pl);
            st->p = a + pl;
            int any = prune_alt(st, &inner);
            if (*st->p != ')') {
                st->bail = 1;
                tg_buf_free(&inner);
                break;
            }
            st->p++;
            tg_buf_addc(&inner, ')');
            if (look && neg)
                always = !any;
            else
                dead = !any;
        } else {
            st->p++;
            tg_buf_addc(&inner, *a);
        }
        long min = 1, max;
        size_t ql = quant_len(st->p, &min, &max);
        if (!always && !(dead && min == 0)) {
            if (dead)
                live = 0;
            tg_buf_add(out, inner.s, inner.len);
            tg_buf_add(out, st->p, ql);
        }
        st->p += ql;
        tg_buf_free(&inner);
    }
    return live;
}

/* Branches up to the closing ')' (not consumed) or the end; appends the
 * live ones to out; 0 if none is live. */
static int prune_alt(prune_t *st, tg_buf *out)
{
    int nlive = 0;
    for (;;) {
        tg_buf br;
        tg_buf_init(&br);
        if (prune_seq(st, &br)) {
            if (nlive++)
                tg_buf_addc(out, '|');
            tg_buf_add(out, br.s, br.len);
        }
        tg_buf_free(&br);
        if (st->bail || *st->p != '|')
            return nlive > 0;
        st->p++;
    }
}

/* expr (owned) without the branches it cannot take; NEVER if none is left. */
static char *prune_dead(char *expr)
{
    if (!expr || !strstr(expr, NEVER) || strstr(expr, "(?x") || strstr(expr, "(?-x"))
        return expr;
    prune_t st = {expr, 0};
    tg_buf b;
    tg_buf_init(&b);
    int any = prune_alt(&st, &b);
    if (st.bail || *st.p) {
        tg_buf_free(&b);
        return expr;
    }
    free(expr);
    if (!any) {
        tg_buf_free(&b);
        return tg_strdup(NEVER);
    }
    return tg_buf_steal(&b);
}

char *hsexpr_latin1_exact(const char *pat, unsigned reflags)
{
    return rewrite(pat, reflags, NULL, 0);
}

char *hsexpr_ascii(const char *pat, unsigned reflags, int relax)
{
    return prune_dead(rewrite(pat, reflags, no_bytes, relax < 0 ? 0 : relax > 7 ? 7 : relax));
}

char *hsexpr_restrict(const char *pat, unsigned reflags, const unsigned char keep[32])
{
    return prune_dead(rewrite(pat, reflags, keep, 0));
}

int hsexpr_is_never(const char *expr) { return expr && !strcmp(expr, NEVER); }

/* ---- bytes an expression cannot tell apart ------------------------------ */

static void set_add(unsigned char set[32], unsigned c) { set[c >> 3] |= (unsigned char)(1u << (c & 7)); }
static int set_has(const unsigned char set[32], unsigned c) { return (set[c >> 3] >> (c & 7)) & 1; }

/* One atom's byte set against the partition: all of high (keep's bytes
 * >= 0x80) or none, and x exactly with them. */
static int atom_alike(const unsigned char set[32], const unsigned char *keep, unsigned x)
{
    unsigned n = 0, of = 0;
    for (unsigned c = 0x80; c < 256; c++)
        if (set_has(keep, c))
            of++, n += set_has(set, c);
    return (n == 0 || n == of) && set_has(set, x) == (n != 0);
}

/* The byte of a \xHH at p (rewrite's output writes every byte it escapes
 * so), -1 if p is not one. */
static long hex_byte(const char *p)
{
    size_t len = 0;
    return p[0] == '\\' && p[1] == 'x' && isxdigit((unsigned char)p[2]) &&
                   isxdigit((unsigned char)p[3])
               ? char_escape(p + 1, &len)
               : -1;
}

/* A bracket class of emit_set's output at p ("[...]" of \xHH and
 * \xHH-\xHH, maybe negated): its set and the byte after it, NULL if it is
 * not of that form. */
static const char *explicit_set(const char *p, unsigned char set[32])
{
    memset(set, 0, 32);
    int neg = *++p == '^';
    p += neg;
    while (*p != ']') {
        long a = hex_byte(p), b = a;
        if (a < 0)
            return NULL;
        p += 4;
        if (p[0] == '-') {
            if ((b = hex_byte(p + 1)) < a)
                return NULL;
            p += 5;
        }
        for (long c = a; c <= b; c++)
            set_add(set, (unsigned)c);
    }
    for (int k = 0; neg && k < 32; k++)
        set[k] = (unsigned char)~set[k];
    return p + 1;
}

int hsexpr_alike(const char *pat, unsigned reflags, const unsigned char keep[32], unsigned char x)
{
    if (x >= 0x80)
        return 0;
    char *r = hsexpr_restrict(pat, reflags, keep);
    if (!r)
        return 0;
    /* rewrite passes lower-case class escapes through: their sets, once a
     * letter (rx_class_bytes runs PCRE2 over every byte) */
    static const char escapes[] = "dswhv";
    unsigned char esc[sizeof escapes][32];
    int have[sizeof escapes] = {0};
    int ok = 1;
    for (const char *p = r; ok && *p;) {
        unsigned char set[32] = {0};
        const char *e;
        if (*p == '[') {
            ok = (e = explicit_set(p, set)) && atom_alike(set, keep, x);
            p = e;
        } else if (hex_byte(p) >= 0) {
            set_add(set, (unsigned)hex_byte(p));
            ok = atom_alike(set, keep, x);
            p += 4;
        } else if (*p == '\\') {
            /* also escaped ASCII punctuation and assertions; anything else
             * (\g \k back references, \R ...) is not followed */
            unsigned char c = (unsigned char)p[1];
            const char *k = c ? strchr(escapes, c) : NULL;
            if (k) {
                size_t j = (size_t)(k - escapes);
                if (!have[j])
                    have[j] = rx_class_bytes(p, 2, 0, esc[j]) == 0 ? 1 : -1;
                ok = have[j] > 0 && atom_alike(esc[j], keep, x);
            } else {
                ok = (c && strchr("bBAzZGK", c)) || (c && c < 0x80 && !isalnum(c) && c != x);
            }
            p += c ? 2 : 1;
        } else if (!strncmp(p, "(?P=", 4)) {
            ok = 0; /* a named back reference */
        } else {
            /* syntax, or an ASCII literal (emit_byte writes bytes >= 0x80
             * as \xHH) */
            unsigned char c = (unsigned char)*p++;
            if (c >= 0x80)
                set_add(set, c), ok = atom_alike(set, keep, x);
            else
                ok = c != x;
        }
    }
    free(r);
    return ok;
}

int hsexpr_line_run(const char *pat, unsigned reflags, unsigned char set[32], unsigned *n)
{
    if (!(reflags & CF_RE_M) || (reflags & CF_RE_X) || pat[0] != '^' || pat[1] != '[')
        return 0;
    const char *e = class_end(pat + 1); /* just past the class's ] */
    if (!e || *e != '{' || !isdigit((unsigned char)e[1]))
        return 0;
    char *end;
    unsigned long k = strtoul(e + 1, &end, 10);
    if (*end != '}' || end[1] || k == 0 || k > 65535 ||
        rx_class_bytes(pat + 1, (size_t)(e - (pat + 1)), (reflags & CF_RE_I) != 0, set) < 0 ||
        (set['\n' >> 3] & (1u << ('\n' & 7))))
        return 0;
    *n = (unsigned)k;
    return 1;
}

/* ---- line walks ----------------------------------------------------------
 * An item "stays in its line" when no string it matches holds a \n and no
 * lookaround in it reads one: then a match of it lies inside one line and
 * depends on nothing outside that line. nl_item reads one item (an atom
 * and its quantifier) and says 1 if it stays in its line, 0 if it may
 * not, -1 for a construct this does not follow. */

static int nl_alt(const char **pp, unsigned reflags);

static int nl_item(const char **pp, unsigned reflags, int *single)
{
    const char *p = *pp, *q = NULL;
    int in_line = 1, zero;
    *single = 1;
    if (*p == '\\') {
        char e = p[1];
        size_t clen;
        long v;
        if (!e || strchr("AzZGKpPXCQERNc", e))
            return -1; /* position tests, properties, \Q, \R, \N{...} */
        if ((isdigit((unsigned char)e) && e != '0') || e == 'g' || e == 'k') {
            q = escape_end(p, &zero); /* a back reference: its group's text */
        } else if (strchr("wdSVhbB", e)) {
            q = p + 2;
        } else if (strchr("nsWDHv", e)) {
            q = p + 2, in_line = 0;
        } else if (isalnum((unsigned char)e)) {
            if ((v = char_escape(p + 1, &clen)) < 0)
                return -1;
            q = p + 1 + clen, in_line = v != '\n';
        } else {
            q = p + 2; /* an escaped punctuation byte */
        }
    } else if (*p == '[') {
        unsigned char set[32];
        q = class_end(p);
        if (!q || rx_class_bytes(p, (size_t)(q - p), (reflags & CF_RE_I) != 0, set) < 0)
            return -1;
        in_line = !(set['\n' >> 3] & (1u << ('\n' & 7)));
    } else if (*p == '(') {
        *single = 0;
        if (p[1] == '*' || (p[1] == '?' && (p[2] == '(' || p[2] == '#')))
            return -1;
        if (p[1] == '?' && (p[2] == '=' || p[2] == '!' ||
                            (p[2] == '<' && (p[3] == '=' || p[3] == '!')))) {
            q = p + (p[2] == '<' ? 4 : 3); /* a lookaround: what it reads */
        } else {
            int opts;
            if (p[1] == '?' && (isalpha((unsigned char)p[2]) || p[2] == '-' || p[2] == '^') &&
                !(p[2] == 'P' && p[3] == '<'))
                return -1; /* options, recursion, callouts */
            if (!(q = group_body(p, &opts, NULL)) || opts)
                return -1;
        }
        in_line = nl_alt(&q, reflags);
        if (in_line < 0 || *q != ')')
            return -1;
        q++;
    } else if (*p == '^' || *p == '$') {
        if (!(reflags & CF_RE_M))
            return -1; /* the string's ends, not a line's */
        q = p + 1;
    } else if (*p == '.') {
        q = p + 1, in_line = !(reflags & CF_RE_S);
    } else if (*p && *p != '|' && *p != ')') {
        q = p + 1, in_line = *p != '\n';
    }
    if (!q)
        return -1;
    long lo, hi;
    size_t ql = quant_len(q, &lo, &hi);
    if (ql)
        *single = 0;
    *pp = q + ql;
    return in_line;
}

/* The alternation at *pp up to ')' (not consumed) or the end: 1 if every
 * item stays in its line. */
static int nl_alt(const char **pp, unsigned reflags)
{
    int all = 1, single;
    for (;;) {
        while (**pp && **pp != '|' && **pp != ')') {
            int r = nl_item(pp, reflags, &single);
            if (r < 0)
                return -1;
            all &= r;
        }
        if (**pp != '|')
            return all;
        (*pp)++;
    }
}

/* Length of the walk at p (hsexpr_walk_t), its bound in *bound; 0 if none. */
static size_t walk_at(const char *p, unsigned *bound)
{
    static const char open[] = "\\n+(?:[^\\n]{1,", close[] = "}\\n+)*";
    static const char any[] = "(?:[^\\n]+\\n+)*";
    size_t n = 0;
    if (!strncmp(p, any, sizeof any - 1)) {
        *bound = 0;
        n = sizeof any - 1;
    } else if (!strncmp(p, open, sizeof open - 1) && isdigit((unsigned char)p[sizeof open - 1])) {
        char *end;
        unsigned long b = strtoul(p + sizeof open - 1, &end, 10);
        if (b == 0 || b > 65535 || strncmp(end, close, sizeof close - 1))
            return 0;
        *bound = (unsigned)b;
        n = (size_t)(end - p) + sizeof close - 1;
    }
    /* W's own * must not be made lazy, possessive or counted */
    return n && p[n] != '?' && p[n] != '+' && p[n] != '{' ? n : 0;
}

/* The line-start literal at *pp (hsexpr_walk_t) into lit; its last byte
 * is left out when a quantifier follows it. 0 if under 2 bytes remain. */
static int walk_literal(const char **pp, char lit[32])
{
    const char *p = *pp;
    size_t n = 0;
    while (n < 31 && (isalnum((unsigned char)p[n]) || (p[n] && strchr(" :_-", p[n]))))
        n++;
    long lo, hi;
    if (n && quant_len(p + n, &lo, &hi))
        n--;
    if (n < 2)
        return 0;
    memcpy(lit, p, n);
    lit[n] = 0;
    *pp = p + n;
    return 1;
}

/* A lead at *pp (hsexpr_walk_t): a class escape or bracket class whose
 * bytes (as reflags read it) include \n, then + or * (lazy or possessive
 * alike: which bytes it can take is the same), into l and past it; else
 * l->has = 0 and *pp stays. */
static void walk_lead(const char **pp, unsigned reflags, struct hsexpr_lead *l)
{
    const char *p = *pp, *q = NULL;
    memset(l, 0, sizeof *l);
    if (p[0] == '\\' && p[1] && strchr("sWDHv", p[1]))
        q = p + 2;
    else if (p[0] == '[')
        q = class_end(p);
    if (!q || (*q != '+' && *q != '*') ||
        rx_class_bytes(p, (size_t)(q - p), (reflags & CF_RE_I) != 0, l->set) < 0 ||
        !set_has(l->set, '\n'))
        return;
    q++;
    if (*q == '?' || *q == '+')
        q++;
    l->has = 1;
    *pp = q;
}

/* Whether the items from *pp to end all stay in their line, but for the
 * last one if last_nl (one unquantified atom, which may take the \n that
 * ends its line); *pp is left at end. */
static int walk_part(const char **pp, const char *end, unsigned reflags, int last_nl)
{
    while (*pp < end) {
        int single, r = nl_item(pp, reflags, &single);
        if (r < 0 || *pp > end || (r == 0 && !(last_nl && single && *pp == end)))
            return 0;
    }
    return *pp == end;
}

int hsexpr_line_walk(const char *pat, unsigned reflags, hsexpr_walk_t *w)
{
    memset(w, 0, sizeof *w);
    if (reflags & CF_RE_X)
        return 0;
    /* the walk: at top level, once, no alternation beside it */
    const char *p = pat, *wa = NULL, *we = NULL;
    while (*p) {
        unsigned b;
        size_t n = walk_at(p, &b);
        if (n) {
            if (wa)
                return 0;
            wa = p, we = p + n, w->bound = b;
            p = we;
            continue;
        }
        int single;
        if (*p == '|' || *p == ')' || nl_item(&p, reflags, &single) < 0)
            return 0;
    }
    if (!wa)
        return 0;
    p = pat;
    if (!strncmp(p, "\\n", 2) && !quant_len(p + 2, &(long){0}, &(long){0}))
        p += 2;
    else if (*p == '^' && (reflags & CF_RE_M))
        p++;
    else
        return 0;
    if (!walk_literal(&p, w->lit1))
        return 0;
    walk_lead(&p, reflags, &w->lead[0]);
    if (!walk_part(&p, wa, reflags, 0))
        return 0;
    p = we;
    if (*p == '^' && (reflags & CF_RE_M))
        p++;
    if (!walk_literal(&p, w->lit2))
        return 0;
    walk_lead(&p, reflags, &w->lead[1]);
    /* a walk of bound 0 may take no line, leaving B inside A's line,
     * where a lead of B's could run on into the next line */
    if (w->lead[1].has && !w->bound)
        return 0;
    return walk_part(&p, p + strlen(p), reflags, 1);
}

char *hsexpr_relaxed(const char *pat, unsigned reflags, int level)
{
    return rewrite(pat, reflags, NULL, level < 1 ? 1 : level > 7 ? 7 : level);
}

/* ---- reversal -----------------------------------------------------------
 * A branch is a sequence of items (atom + quantifier); its reverse is the
 * reversed items in reverse order, each keeping its quantifier (laziness
 * does not change which strings match). Groups keep their opening (?: or
 * (?i: and reverse their branches; captures become (?: (nothing refers to
 * them: backreferences bail). */

static int rev_alt(const char **pp, tg_buf *out);

static int rev_seq(const char **pp, tg_buf *out)
{
    const char *p = *pp;
    size_t nitems = 0, cap = 0;
    char **items = NULL;
    int ok = 1;
    while (*p && *p != '|' && *p != ')' && ok) {
        const char *a = p;
        tg_buf it;
        tg_buf_init(&it);
        if (*a == '\\') {
            char e = a[1];
            int zero;
            p = escape_end(a, &zero);
            /* \b and \B read both neighbours: their own reverse */
            if (!p || (zero && e != 'b' && e != 'B') || e == 'Q' || e == 'E')
                ok = 0, p = a;
            else
                tg_buf_add(&it, a, (size_t)(p - a));
        } else if (*a == '[') {
            p = class_end(a);
            if (!p)
                ok = 0, p = a;
            else
                tg_buf_add(&it, a, (size_t)(p - a));
        } else if (*a == '(') {
            const char *q = a + 1;
            if (*q == '?') {
                q++;
                while (*q && (isalpha((unsigned char)*q) || *q == '-'))
                    q++;
                if (*q != ':') {
                    ok = 0; /* lookaround, atomic, named, options to the end */
                } else {
                    q++;
                    tg_buf_add(&it, a, (size_t)(q - a));
                }
            } else if (*q == '*') {
                ok = 0;
            } else {
                tg_buf_adds(&it, "(?:");
            }
            if (ok) {
                p = q;
                ok = rev_alt(&p, &it) && *p == ')';
                if (ok) {
                    p++;
                    tg_buf_addc(&it, ')');
                }
            }
        } else if (*a == '^' || *a == '$') {
            ok = 0;
        } else {
            p++;
            tg_buf_addc(&it, *a);
        }
        long lo, hi;
        size_t ql = ok ? quant_len(p, &lo, &hi) : 0;
        if (ql && p[ql - 1] == '+' && ql > 1)
            ok = 0; /* possessive */
        if (ok) {
            tg_buf_add(&it, p, ql);
            p += ql;
            tg_grow(&items, &cap, nitems + 1, sizeof *items);
            items[nitems++] = tg_buf_steal(&it);
        }
        tg_buf_free(&it);
    }
    for (size_t i = nitems; i-- > 0;) {
        if (ok)
            tg_buf_adds(out, items[i]);
        free(items[i]);
    }
    free(items);
    *pp = p;
    return ok;
}

static int rev_alt(const char **pp, tg_buf *out)
{
    for (;;) {
        if (!rev_seq(pp, out))
            return 0;
        if (**pp != '|')
            return 1;
        tg_buf_addc(out, '|');
        (*pp)++;
    }
}

char *hsexpr_reverse(const char *expr)
{
    if (!expr || strstr(expr, "(?x") || strstr(expr, "(?-x"))
        return NULL;
    const char *p = expr;
    tg_buf b;
    tg_buf_init(&b);
    if (!rev_alt(&p, &b) || *p) {
        tg_buf_free(&b);
        return NULL;
    }
    return tg_buf_steal(&b);
}

/* ---- splitting a long expression ---------------------------------------- */

#define SPLIT_MAX_PARTS 64

/* The '|' at depth 0 of [b, e): their offsets into tops (at most cap),
 * the count; -1 if a group does not close inside. */
static long split_tops(const char *b, const char *e, size_t *tops, size_t cap)
{
    long n = 0;
    for (const char *p = b; p < e; p++) {
        if (*p == '\\') {
            p++;
        } else if (*p == '[') {
            const char *x = class_end(p);
            if (!x || x > e)
                return -1;
            p = x - 1;
        } else if (*p == '(') {
            const char *x = group_end(p);
            if (!x || x > e)
                return -1;
            p = x - 1;
        } else if (*p == '|') {
            if ((size_t)n < cap)
                tops[n] = (size_t)(p - b);
            n++;
        }
    }
    return n;
}

typedef struct {
    char **out;
    size_t n;
    size_t max;
    int bad;
} split_t;

static void split_emit(split_t *st, const char *pre, size_t npre, const char *b, size_t nb,
                       const char *suf)
{
    if (st->n >= SPLIT_MAX_PARTS) {
        st->bad = 1;
        return;
    }
    tg_buf o;
    tg_buf_init(&o);
    tg_buf_add(&o, pre, npre);
    tg_buf_add(&o, b, nb);
    tg_buf_adds(&o, suf);
    st->out[st->n++] = o.s ? o.s : tg_strdup("");
}

/* Parts for pre + [b, e) + suf, where pre ends inside the group whose
 * body [b, e) is and suf closes it (or both are empty at the top). */
static void split_rec(split_t *st, const char *pre, size_t npre, const char *b, const char *e,
                      const char *suf)
{
    size_t nsuf = strlen(suf), nb = (size_t)(e - b);
    if (st->bad)
        return;
    if (npre + nb + nsuf <= st->max) {
        split_emit(st, pre, npre, b, nb, suf);
        return;
    }
    size_t *tops = tg_malloc(1024 * sizeof *tops);
    long nt = split_tops(b, e, tops, 1024);
    if (nt < 0 || nt > 1024) {
        st->bad = 1;
        free(tops);
        return;
    }
    if (nt > 0) {
        /* alternatives packed greedily into parts that fit; one that is
         * too long alone is split further */
        size_t first = 0, pend = 0;
        int have = 0;
        for (long k = 0; k <= nt && !st->bad; k++) {
            size_t as = k == 0 ? 0 : tops[k - 1] + 1, ae = k < nt ? tops[k] : nb;
            if (npre + (ae - as) + nsuf > st->max) {
                if (have)
                    split_emit(st, pre, npre, b + first, pend - first, suf);
                have = 0;
                split_rec(st, pre, npre, b + as, b + ae, suf);
                continue;
            }
            if (have && npre + (ae - first) + nsuf > st->max) {
                split_emit(st, pre, npre, b + first, pend - first, suf);
                have = 0;
            }
            if (!have)
                first = as, have = 1;
            pend = ae;
        }
        if (have)
            split_emit(st, pre, npre, b + first, pend - first, suf);
        free(tops);
        return;
    }
    free(tops);
    /* one alternative: into its longest unquantified (?:...) group */
    const char *best = NULL, *best_end = NULL;
    for (const char *p = b; p < e; p++) {
        if (*p == '\\') {
            p++;
        } else if (*p == '[') {
            const char *x = class_end(p);
            if (!x)
                break;
            p = x - 1;
        } else if (*p == '(') {
            const char *x = group_end(p);
            if (!x)
                break;
            if (!strncmp(p, "(?:", 3) && (!*x || !strchr("*+?{", *x)) &&
                (!best || x - p > best_end - best))
                best = p, best_end = x;
            p = x - 1;
        }
    }
    if (!best) {
        st->bad = 1;
        return;
    }
    tg_buf np, ns;
    tg_buf_init(&np);
    tg_buf_init(&ns);
    tg_buf_add(&np, pre, npre);
    tg_buf_add(&np, b, (size_t)(best - b) + 3);
    tg_buf_addc(&ns, ')');
    tg_buf_add(&ns, best_end, (size_t)(e - best_end));
    tg_buf_adds(&ns, suf);
    split_rec(st, np.s, np.len, best + 3, best_end - 1, ns.s);
    tg_buf_free(&np);
    tg_buf_free(&ns);
}

char **hsexpr_split(const char *expr, size_t max, size_t *n)
{
    *n = 0;
    size_t len = strlen(expr);
    if (len <= max)
        return NULL;
    /* constructs whose meaning depends on what precedes them in a branch
     * or on the branch structure */
    for (const char *p = expr; *p; p++) {
        if (*p == '\\') {
            /* \Q; back references, which dropping a branch would renumber */
            if (p[1] == 'Q' || !p[1] || (p[1] >= '1' && p[1] <= '9') || p[1] == 'g' ||
                p[1] == 'k')
                return NULL;
            p++;
        } else if (*p == '[') {
            const char *e = class_end(p);
            if (!e)
                return NULL;
            p = e - 1;
        } else if (*p == '(' && p[1] == '?' && p[2] != ':' && p[2] != '=' && p[2] != '!' &&
                   !(p[2] == '<' && (p[3] == '=' || p[3] == '!'))) {
            return NULL; /* (?i) (?x) (?# (?| (?> named groups ... */
        }
    }
    if (split_tops(expr, expr + len, NULL, 0) < 0)
        return NULL;
    split_t st = {.out = tg_calloc(SPLIT_MAX_PARTS, sizeof(char *)), .max = max};
    split_rec(&st, "", 0, expr, expr + len, "");
    if (st.bad || st.n < 2) {
        for (size_t i = 0; i < st.n; i++)
            free(st.out[i]);
        free(st.out);
        return NULL;
    }
    *n = st.n;
    return st.out;
}

/* ---- the squashed form ---------------------------------------------------
 * Squashed text keeps only its ASCII letters and digits ("V-i.a g r@" reads
 * "Viagr"). The pattern's squashed form matches the squashed text of every
 * string the pattern matches anywhere in: item by item, an atom keeps the
 * letters and digits it takes and may be skipped if it also takes another
 * byte; an atom that takes none of them, every assertion and every
 * lookaround go. A recursive descent over the pattern as written. */

typedef struct sq {
    const char *p;
    int fail;
    int depth;
    int gaps;                /* optional items dropped that take a byte */
} sq_t;

static const unsigned char sq_alnum[32] = {
    [6] = 0xff, [7] = 0x03,                      /* 0-9 */
    [8] = 0xfe, [9] = 0xff, [10] = 0xff, [11] = 0x07, /* A-Z */
    [12] = 0xfe, [13] = 0xff, [14] = 0xff, [15] = 0x07 /* a-z */
};

static long sq_alt(sq_t *st, tg_buf *out);

/* The byte set of the one-byte atom at st->p into set, advancing past it:
 * 1; 0 if it is a zero-width assertion (skipped); -1 if this does not
 * follow it. */
static int sq_atom_set(sq_t *st, unsigned char set[32])
{
    const char *p = st->p;
    memset(set, 0, 32);
    if (*p == '\\') {
        size_t el = 0;
        long v;
        if (!p[1] || p[1] == 'Q' || strchr("XCpPRgk", p[1]))
            return -1;
        if (strchr("bBAzZGK", p[1])) {
            st->p = p + 2;
            return 0;
        }
        if (strchr("wWdDsShHvVN", p[1])) {
            if (rx_class_bytes(p, 2, 1, set) < 0)
                return -1;
            st->p = p + 2;
            return 1;
        }
        v = char_escape(p + 1, &el);
        if (v == -2 || v > 0xff)
            return -1;
        if (v >= 0) {
            set[v >> 3] |= (unsigned char)(1u << (v & 7));
            st->p = p + 1 + el;
            return 1;
        }
        if (isalnum((unsigned char)p[1]))
            return -1; /* an escape this does not know */
        unsigned c = (unsigned char)p[1];
        set[c >> 3] |= (unsigned char)(1u << (c & 7));
        st->p = p + 2;
        return 1;
    }
    if (*p == '[') {
        const char *e = class_end(p);
        if (!e || rx_class_bytes(p, (size_t)(e - p), 1, set) < 0)
            return -1;
        st->p = e;
        return 1;
    }
    if (*p == '^' || *p == '$') {
        st->p = p + 1;
        return 0;
    }
    if (*p == '.') {
        memset(set, 0xff, 32);
        st->p = p + 1;
        return 1;
    }
    unsigned c = (unsigned char)*p;
    set[c >> 3] |= (unsigned char)(1u << (c & 7));
    st->p = p + 1;
    return 1;
}

/* Writes quantifier {lo,hi} (hi -1: unbounded) after an item. */
static void sq_quant(tg_buf *out, long lo, long hi)
{
    if (lo == 1 && hi == 1)
        return;
    if (lo == 0 && hi == 1)
        tg_buf_addc(out, '?');
    else if (lo == 0 && hi < 0)
        tg_buf_addc(out, '*');
    else if (lo == 1 && hi < 0)
        tg_buf_addc(out, '+');
    else if (hi < 0)
        tg_buf_printf(out, "{%ld,}", lo);
    else if (lo == hi)
        tg_buf_printf(out, "{%ld}", lo);
    else
        tg_buf_printf(out, "{%ld,%ld}", lo, hi);
}

/* The most a squashed width counts: widths are only compared with small
 * bounds (FAST_SQUASH_WIDTH, the gaps), and a count such as {99999999999}
 * must not overflow them. */
#define SQ_WIDTH_MAX (1L << 30)

/* One branch up to '|', ')' or the end (not consumed), appended to out;
 * its least width in squashed bytes. */
static long sq_seq(sq_t *st, tg_buf *out)
{
    long width = 0;
    while (*st->p && *st->p != '|' && *st->p != ')' && !st->fail) {
        const char *a = st->p;
        tg_buf item;
        tg_buf_init(&item);
        long iw = 0;   /* the item's least width, once */
        int keep = 0;  /* an item to write */
        int skip = 0;  /* ... that may take no byte of squashed text */
        int gone = 0;  /* an atom dropped that takes a byte */
        if (*a == '(') {
            if (a[1] == '*' || (a[1] == '?' && strchr("R0123456789&(+-P", a[2]) &&
                                !(a[2] == 'P' && a[3] == '<') &&
                                !(a[2] == '-' && isalpha((unsigned char)a[3])))) {
                st->fail = 1;
            } else if (a[1] == '?' && a[2] == '#') {
                const char *e = strchr(a, ')');
                if (!e)
                    st->fail = 1;
                else
                    st->p = e + 1;
                tg_buf_free(&item);
                continue;
            } else if (a[1] == '?' && (a[2] == '=' || a[2] == '!' ||
                                       (a[2] == '<' && (a[3] == '=' || a[3] == '!')))) {
                st->p = group_end(a); /* a lookaround: dropped */
                if (!st->p)
                    st->p = a, st->fail = 1;
            } else {
                int opts, x = 0;
                const char *q = group_body(a, &opts, &x);
                st->fail |= x;
                if (opts && !x) { /* option setting: the form is caseless anyway */
                    st->p = q;
                    tg_buf_free(&item);
                    continue;
                }
                if (!q || opts || st->fail || ++st->depth > 64) {
                    st->fail = 1;
                } else {
                    st->p = q;
                    tg_buf inner;
                    tg_buf_init(&inner);
                    iw = sq_alt(st, &inner);
                    st->depth--;
                    if (*st->p != ')')
                        st->fail = 1;
                    else
                        st->p++;
                    if (inner.len) {
                        tg_buf_adds(&item, "(?:");
                        tg_buf_add(&item, inner.s, inner.len);
                        tg_buf_addc(&item, ')');
                        keep = 1;
                        skip = iw == 0;
                    }
                    tg_buf_free(&inner);
                }
            }
        } else {
            unsigned char set[32], kept[32];
            int rc = sq_atom_set(st, set);
            if (rc < 0) {
                st->fail = 1;
            } else if (rc > 0) {
                int some = 0, other = 0;
                for (int i = 0; i < 32; i++) {
                    kept[i] = set[i] & sq_alnum[i];
                    some |= kept[i] != 0;
                    other |= (set[i] & (unsigned char)~sq_alnum[i]) != 0;
                }
                if (some) {
                    emit_set(&item, kept, NULL, 1);
                    keep = 1, skip = other, iw = !other;
                } else {
                    gone = 1;
                }
            }
        }
        long lo = 1, hi = 1;
        size_t ql = st->fail ? 0 : quant_len(st->p, &lo, &hi);
        st->p += ql;
        st->gaps += gone && lo == 0 && hi != 0; /* [_\W]{0,3}, \s*: a gap */
        if (keep && hi != 0) {
            tg_buf_add(out, item.s, item.len);
            sq_quant(out, skip ? 0 : lo, hi);
            if (iw && lo) /* saturates: {m} may be any number a rule writes */
                width = lo > SQ_WIDTH_MAX / iw || width + lo * iw > SQ_WIDTH_MAX
                      ? SQ_WIDTH_MAX : width + lo * iw;
        }
        tg_buf_free(&item);
    }
    return width;
}

/* Branches up to ')' or the end (not consumed), the ones that keep
 * anything joined into out; the least width over all branches (0 if one
 * keeps nothing: then the caller's item may be skipped). */
static long sq_alt(sq_t *st, tg_buf *out)
{
    long least = -1;
    size_t n = 0;
    for (;;) {
        tg_buf br;
        tg_buf_init(&br);
        long w = sq_seq(st, &br);
        if (br.len) {
            if (n++)
                tg_buf_addc(out, '|');
            tg_buf_add(out, br.s, br.len);
        } else {
            w = 0;
        }
        if (least < 0 || w < least)
            least = w;
        tg_buf_free(&br);
        if (st->fail || *st->p != '|')
            return least < 0 ? 0 : least;
        st->p++;
    }
}

char *hsexpr_squash(const char *pat, unsigned reflags, long *width, int *gaps)
{
    if (reflags & CF_RE_X)
        return NULL;
    sq_t st = {pat, 0, 0, 0};
    tg_buf b;
    tg_buf_init(&b);
    long w = sq_alt(&st, &b);
    if (st.fail || *st.p || !b.len) {
        tg_buf_free(&b);
        return NULL;
    }
    *width = w;
    *gaps = st.gaps;
    return tg_buf_steal(&b);
}
