/*
 * hsrel — relations between Vectorscan expressions (see hsrel.h).
 *
 * The proof for hsrel_drops_optional: an expression's operators
 * (concatenation, alternation, repetition, positive lookaround) only ever
 * match more when an operand matches more, and ε is in "(?:X)?"; so
 * replacing that group by nothing leaves a subset. The text must then
 * parse as the same tree minus the group, which the boundary rules see
 * to (nothing can join across the gap: "\x4" and "1", "a{2" and "}": the
 * group must follow an unescaped character outside a class, or a class,
 * and be followed by "(", "|", ")", "[" or the end, which extend no token
 * -- "(?(" would, and conditionals are refused), and
 * what would break monotony or the reading (negative lookaround, atomic
 * groups, possessive quantifiers, backreferences and subroutine calls,
 * conditionals, comments, \Q...\E, \c, (?x)) is refused.
 */
#include "hsrel.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* What each position of an expression is (one byte each). */
enum { P_TOP = 1,        /* an unescaped character outside a class */
       P_CLASS_END = 2 }; /* the ']' closing a class */

/* The length of a POSIX class "[:name:]" or "[:^name:]" at s, else 0
 * (then the '[' is a literal: PCRE2 reads "[[:a]" as a class of '[', ':'
 * and 'a'). */
static size_t posix_class(const char *s)
{
    if (s[0] != '[' || s[1] != ':')
        return 0;
    size_t k = 2 + (s[2] == '^');
    size_t a = k;
    while (s[k] >= 'a' && s[k] <= 'z')
        k++;
    return k > a && s[k] == ':' && s[k + 1] == ']' ? k + 2 : 0;
}

/* Fills pos[0..len) for s (NUL-terminated at len); -1 if s uses what
 * hsrel does not read: \Q...\E (anywhere), \c (three characters),
 * backreferences and subroutine calls, atomic groups, possessive
 * quantifiers, backtracking verbs, \G, negative lookarounds,
 * conditionals, comments, (?x). */
static int scan_positions(const char *s, size_t len, unsigned char *pos)
{
    if (strstr(s, "\\Q") || strstr(s, "\\E"))
        return -1;
    size_t i = 0;
    while (i < len) {
        char c = s[i];
        if (c == '\\') {
            char e = i + 1 < len ? s[i + 1] : 0;
            if (e == 'c' || e == 'g' || e == 'k' || e == 'G' || (e >= '1' && e <= '9'))
                return -1; /* \cX, backreferences, \G */
            pos[i] = 0;
            if (i + 1 < len)
                pos[i + 1] = 0;
            i += 2;
            continue;
        }
        if (c == '[') {
            pos[i++] = P_TOP; /* opens a class: a token boundary before it */
            if (i < len && s[i] == '^')
                pos[i++] = 0;
            if (i < len && s[i] == ']')
                pos[i++] = 0; /* a literal ']' first */
            while (i < len && s[i] != ']') {
                size_t k = posix_class(s + i);
                if (s[i] == '\\' && i + 1 < len) {
                    if (s[i + 1] == 'c')
                        return -1;
                    pos[i++] = 0;
                } else if (k) {
                    while (--k)
                        pos[i++] = 0;
                }
                pos[i++] = 0;
            }
            if (i >= len)
                return -1;
            pos[i++] = P_CLASS_END;
            continue;
        }
        if (c == '(' && i + 1 < len && s[i + 1] == '*')
            return -1; /* (*COMMIT) and the other verbs */
        if (c == '(' && i + 1 < len && s[i + 1] == '?') {
            const char *t = s + i + 2;
            if (*t == '!' || *t == '#' || *t == '(' || *t == '>' || *t == '&' || *t == 'R' ||
                *t == '+' || *t == '-' || (*t >= '0' && *t <= '9') ||
                (*t == '<' && t[1] == '!') || (*t == 'P' && (t[1] == '=' || t[1] == '>')))
                return -1; /* negative lookaround, comment, conditional, atomic
                              group, subroutine call or backreference */
            while (*t && ((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || *t == '-'))
                if (*t++ == 'x')
                    return -1; /* extended syntax */
        }
        if (c == '+' && i > 0 && pos[i - 1] == P_TOP && strchr("*+?}", s[i - 1]))
            return -1; /* possessive (or "(?+1)") */
        pos[i++] = P_TOP;
    }
    return 0;
}

/* If s[j..) starts a removable optional group (see hsrel.h), the offset
 * just past it (its '?' or '??'); else 0. */
static size_t group_end(const char *s, size_t len, const unsigned char *pos, size_t j)
{
    if (j + 3 > len || !(pos[j] & P_TOP) || s[j] != '(' || s[j + 1] != '?' || s[j + 2] != ':')
        return 0;
    if (j > 0 && !pos[j - 1])
        return 0; /* after an escape or in a class */
    size_t depth = 0, k = j;
    for (; k < len; k++) {
        if (!(pos[k] & P_TOP))
            continue;
        if (s[k] == '(')
            depth++;
        else if (s[k] == ')' && --depth == 0)
            break;
    }
    if (k + 1 >= len || s[k + 1] != '?')
        return 0;
    size_t e = k + 2;
    if (e < len && s[e] == '?')
        e++; /* lazy */
    else if (e < len && s[e] == '+')
        return 0; /* possessive: cannot match empty where X matches */
    if (e < len && !((pos[e] & P_TOP) && strchr("(|)[", s[e])))
        return 0;
    return e;
}

int hsrel_drops_optional(const char *sub, const char *sup)
{
    size_t n = strlen(sub), m = strlen(sup);
    if (n > m)
        return 0;
    if (n == m)
        return !strcmp(sub, sup);
    if ((uint64_t)(n + 1) * (m + 1) > (64u << 20))
        return 0;
    unsigned char *pos = tg_malloc(m + 1);
    size_t *end = NULL;
    unsigned char *seen = NULL;
    size_t *stack = NULL, nst = 0, cap = 0;
    int found = 0;
    if (scan_positions(sup, m, pos) < 0)
        goto out;
    end = tg_calloc(m + 1, sizeof *end);
    int any = 0;
    for (size_t j = 0; j < m; j++)
        any |= (end[j] = group_end(sup, m, pos, j)) != 0;
    if (!any)
        goto out;
    /* depth-first over (i, j): sub[..i) is sup[..j) with groups taken out */
    size_t w = m + 1;
    seen = tg_calloc(((n + 1) * w + 7) / 8, 1);
    tg_grow(&stack, &cap, 1, sizeof *stack);
    stack[nst++] = 0;
    while (nst) {
        size_t st = stack[--nst], i = st / w, j = st % w;
        if (seen[st / 8] & (1u << (st % 8)))
            continue;
        seen[st / 8] |= (unsigned char)(1u << (st % 8));
        if (i == n && j == m) {
            found = 1;
            break;
        }
        if (j < m && end[j]) {
            tg_grow(&stack, &cap, nst + 1, sizeof *stack);
            stack[nst++] = i * w + end[j];
        }
        if (i < n && j < m && sub[i] == sup[j]) {
            tg_grow(&stack, &cap, nst + 1, sizeof *stack);
            stack[nst++] = (i + 1) * w + j + 1;
        }
    }
out:
    free(pos);
    free(end);
    free(seen);
    free(stack);
    return found;
}
