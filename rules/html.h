/*
 * html — HTML to text as SpamAssassin's HTML.pm renders it, and the URIs
 * its tags reference.
 *
 * Text: tags removed; <br>/<div> give a newline, <p>/<hr>/<blockquote>/
 * <pre>/<title> a paragraph break, <li>/<td>/<th>/<dt>/<dd>/<h1-6> a space;
 * entities decoded (named and numeric, to UTF-8); <script>, <style> and
 * comments dropped; <title> text kept. URIs: href (a, area, link, base),
 * src (img, frame, iframe, embed, script, bgsound), form action,
 * background (body, table, tr, td), meta refresh, resolved against
 * <base href>.
 */
#ifndef TG_HTML_H
#define TG_HTML_H

#include <stddef.h>

#include "util.h"

/* Receives each URI found, in document order; the bytes are only valid
 * during the call. Returns 0, or non-zero to be called no more for this
 * document (a budget is spent: no further URI is even resolved). */
typedef int (*html_uri_fn)(void *ctx, const char *uri, size_t len);

/* Renders UTF-8 (or ASCII-compatible) HTML [s, s+n): appends the text to
 * text and reports URIs to fn (may be NULL). Linear in n. */
void html_render(const char *s, size_t n, tg_buf *text, html_uri_fn fn,
                 void *ctx);

/* Appends [s, s+n) with character references decoded to UTF-8. */
void html_decode_entities(const char *s, size_t n, tg_buf *out);

#endif
