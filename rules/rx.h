/*
 * rx — one regex compiled with PCRE2 (JIT when possible), matched with
 * Perl's semantics as SpamAssassin uses them: no UTF mode (\w \d \s are
 * ASCII, like Perl's /aa), /i also folds Latin-1 letters as Perl does,
 * /g iteration over empty matches as Perl does.
 *
 * A compiled rx is immutable and may be shared by threads; each thread
 * matches with its own rx_scratch (match data, JIT stack, limits).
 * Work per match is bounded by a match limit and a depth limit (ReDoS):
 * hitting one counts as "no match" and is counted in the scratch.
 */
#ifndef TG_RX_H
#define TG_RX_H

#include <stddef.h>

typedef struct rx rx_t;
typedef struct rx_scratch rx_scratch_t;

/* cf flags: CF_RE_I, CF_RE_M, CF_RE_S, CF_RE_X (cf.h). On error returns -1,
 * fills err with PCRE2's message, *erroff with the offset in the pattern,
 * and *toolarge = 1 if the error is only a size limit (a resource limit,
 * not a syntax error): a pattern longer than RX_MAX_PATTERN bytes, or one
 * whose compiled form exceeds PCRE2's limit. A pattern that exceeds only
 * the 8-bit library's limit compiles with the 32-bit library instead (see
 * rx_is_wide). */
#define RX_MAX_PATTERN (1024u * 1024u) /* the stock rules' largest: 224 KB */
int rx_compile(const char *pattern, unsigned flags, rx_t **out,
               size_t *erroff, int *toolarge, char *err, size_t errlen);
/* Extra rx_compile flag: the pattern matches only where a match is asked
 * for (rx_match_at's offset), as PCRE2_ANCHORED; JIT still applies. */
#define RX_ANCHORED 0x100u
/* Extra rx_compile flag: only check the pattern (no JIT, nothing kept):
 * 0 with *out = NULL, or the error as usual. */
#define RX_CHECK_ONLY 0x200u
/* Extra rx_compile flag: no JIT, for a pattern built and matched once per
 * message (a captured-tag template), where JIT compiling costs more than
 * it saves. */
#define RX_NO_JIT 0x400u
void rx_free(rx_t *rx);

/* A pattern that ends in a lookahead for a line equal to a capture,
 * (?=.{M,N}^\K\r?$) or (?=.{M,N}^\K$) under /s and /m, without /i or /x
 * (SpamAssassin's __FROM_NAME_IN_MSG, N = 2048): PCRE2 tries each of the
 * window's N positions for ^ in turn. This compiles the pattern with that
 * lookahead replaced by a callout that rx answers in C from the window's
 * line starts alone: the same matches, at the same offsets, wherever the
 * original does not run into a PCRE2 limit. NULL if the pattern does not
 * end so, holds a construct that could change what the lookahead means
 * (option settings, \Q, verbs, branch reset, recursion, callouts), or
 * would not compile with the 8-bit library. Owned by the caller. */
rx_t *rx_line_ahead(const char *pattern, unsigned flags);

/* 1 if PCRE2's newline is LF alone (as patterns compile here): ^ and $
 * under /m hold at the start, the end and around each \n only. */
int rx_newline_is_lf(void);

/* The bytes a one-character atom matches, under the same tables: cls is a
 * bracket class or an escape such as "\\w" (len bytes, not NUL-terminated
 * necessarily); caseless as /i at that point. set is a 256-bit map, bit b
 * of set[b / 8] for byte b. -1 if PCRE2 rejects it or it is not a
 * one-byte atom. Compiles once per call: for building, not matching. */
int rx_class_bytes(const char *cls, size_t len, int caseless, unsigned char set[32]);
/* The byte /i pairs with c under these tables (c itself if none). */
unsigned char rx_other_case(unsigned char c);
/* 1 if the pattern was too large for the 8-bit library's 16-bit links
 * and is compiled with the 32-bit library (rx.c), same semantics. */
int rx_is_wide(const rx_t *rx);
/* 1 if PCRE2 JIT compiled the pattern. */
int rx_is_jit(const rx_t *rx);
/* 1 if rx_count counts the pattern as a plain literal, without PCRE2. */
int rx_is_literal(const rx_t *rx);

/* match_limit 0 = default (1,000,000); depth_limit 0 = default (10,000). */
rx_scratch_t *rx_scratch_new(unsigned long match_limit, unsigned long depth_limit);
void rx_scratch_free(rx_scratch_t *s);
/* Matches that ran into a limit since the scratch was made. */
unsigned long rx_scratch_limit_hits(const rx_scratch_t *s);

/* Number of non-overlapping matches in [s, s+len) with Perl's //g
 * semantics, stopping at `max` (max 1 = "does it match at all"). */
unsigned rx_count(const rx_t *rx, rx_scratch_t *sc, const char *s, size_t len,
                  unsigned max);

/* Called for every named group of a match (Perl's %-): name as written
 * in the pattern, val[0..len) in the subject (valid during the call only);
 * val NULL and len 0 for a group that took no part or matched empty. */
typedef void (*rx_capture_fn)(void *arg, const char *name, const char *val, size_t len);

/* rx_count's matches, the same ones, with fn called for each match's
 * named groups (in the pattern's name order; a name used by several
 * groups, (?J), once per group that took part). Returns the count. */
unsigned rx_captures(const rx_t *rx, rx_scratch_t *sc, const char *s, size_t len,
                     unsigned max, rx_capture_fn fn, void *arg);

/* 1 if a match starts at offset off of [s, s+len) (a pattern compiled
 * with RX_ANCHORED; what precedes off is still seen by lookbehinds and
 * \b), 0 if not or if a limit was hit (counted as in rx_count). */
int rx_match_at(const rx_t *rx, rx_scratch_t *sc, const char *s, size_t len, size_t off);

#endif
