/*
 * tmpl — SpamAssassin 4's captured tags (Conf.pm, "CAPTURING TAGS USING
 * REGEX NAMED CAPTURE GROUPS").
 *
 * A regex rule with a named group whose name starts with a capital,
 * (?<NAME>...), sets tag NAME from the matches it hits with: every
 * non-empty value of the group, duplicates dropped, replacing what an
 * earlier rule set. Another rule may write %{NAME} in its pattern: per
 * message the template becomes (?:v1|v2|...), each value quoted as Perl's
 * quotemeta does, and a rule one of whose tags is unset does not run (it
 * does not hit, even with !~). \%{NAME} stays literal.
 *
 * A tmpl_t (one rule's parsed pattern) is immutable and shared; a
 * tmpl_tags_t holds one message's tags and belongs to one thread.
 * Bounds: TMPL_MAX_VALUES values a tag and TMPL_MAX_BYTES bytes of
 * values a message; past them further values are dropped.
 */
#ifndef TG_TMPL_H
#define TG_TMPL_H

#include <stddef.h>

#include "util.h"

#define TMPL_MAX_VALUES 100
#define TMPL_MAX_BYTES (64 * 1024)

typedef struct tmpl tmpl_t;
typedef struct tmpl_tags tmpl_tags_t;

/* 1 if the pattern captures a tag (SpamAssassin's own test: "(?<", "(?P<"
 * or "(?'" then a capital letter). */
int tmpl_is_capture(const char *pat);

/* NULL if pat has no template; else its parse (caller frees with
 * tmpl_free). reflags: CF_RE_* (for /x, which the analysis of required
 * templates gives up on). */
tmpl_t *tmpl_parse(const char *pat, unsigned reflags);
void tmpl_free(tmpl_t *t);

/* The pattern with each template written %\{NAME\}, as SpamAssassin
 * compiles it to check it at load time (caller frees). */
char *tmpl_escaped(const tmpl_t *t);

/* A pattern that matches wherever the built one (tmpl_build) can, with
 * every template as (?:[\s\S]*?); NULL unless every template stands as
 * tmpl_required describes (top level, no alternation there, not under an
 * optional repeat), where PCRE2's search over the wildcard's lengths
 * covers every way the built pattern can match, atomic groups and
 * lookarounds outside the templates included. Caller frees. */
char *tmpl_skeleton(const tmpl_t *t);

/* The distinct tag names the pattern uses (an "(args)" suffix dropped). */
size_t tmpl_nnames(const tmpl_t *t);
const char *tmpl_name(const tmpl_t *t, size_t i);

/* 1 if every match of the pattern contains one of tag i's values: one of
 * its templates stands in the pattern's top level, outside alternation,
 * groups and optional repeats. A string that holds none of them cannot
 * match. */
int tmpl_required(const tmpl_t *t, size_t i);

/* The pattern with every template replaced by its tag's values, into out
 * (reset first). -1 if one of the tags has no value: the rule does not
 * run. */
int tmpl_build(const tmpl_t *t, const tmpl_tags_t *tags, tg_buf *out);

tmpl_tags_t *tmpl_tags_new(void);
void tmpl_tags_free(tmpl_tags_t *g);
/* Forgets every tag (a new message); keeps memory. */
void tmpl_tags_reset(tmpl_tags_t *g);

/* One rule's captures: begin, add each named group's value (an
 * rx_capture_fn; arg is the tmpl_tags_t), commit. Commit sets each tag
 * named (validly: [A-Z][A-Z0-9]*(_[A-Z0-9]+)*) since begin to its values
 * in order, duplicates dropped, replacing its previous values. */
void tmpl_tags_begin(tmpl_tags_t *g);
void tmpl_tags_add(void *g, const char *name, const char *val, size_t len);
void tmpl_tags_commit(tmpl_tags_t *g);

/* Number of values of tag name (0 if unset). */
size_t tmpl_tags_count(const tmpl_tags_t *g, const char *name);

/* 0 if s[0..len) certainly holds none of tag name's values (compared
 * ignoring ASCII case, so for /i and plain patterns alike); 1 otherwise,
 * including when a value has a byte >= 0x80 (Latin-1 case pairs). */
int tmpl_tags_maybe_in(const tmpl_tags_t *g, const char *name, const char *s, size_t len);

#endif
