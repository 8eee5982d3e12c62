/*
 * charset — conversion of text in a declared charset to UTF-8, after
 * SpamAssassin's Message::Node::_normalize.
 *
 * Never fails. 7-bit text in an ASCII-compatible charset passes through;
 * 8-bit text that is valid UTF-8 is taken as UTF-8 whatever was declared
 * (unless `insist`); otherwise the declared charset is used (iso-8859-1
 * read as windows-1252, as browsers do), and text it cannot convert — or
 * with an absent, us-ascii or unknown charset — is read as windows-1252.
 * Bytes no conversion accepts are kept as they are.
 */
#ifndef TG_CHARSET_H
#define TG_CHARSET_H

#include <stddef.h>

#include "util.h"

/* Appends [in, in+n) converted from charset cs (cslen bytes, any case,
 * may be 0) to out as UTF-8. insist: trust the declared charset first and
 * convert leniently (RFC 2047 words), as opposed to body text. */
void charset_to_utf8(const char *cs, size_t cslen, const char *in, size_t n,
                     tg_buf *out, int insist);

/* 1 if [s, s+n) is valid UTF-8 (NUL bytes allowed), else 0. */
int charset_valid_utf8(const char *s, size_t n);

#endif
