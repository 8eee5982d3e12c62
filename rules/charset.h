/*
 * charset — conversion of text in a declared charset to UTF-8.
 *
 * Never fails: an unknown charset or bytes that do not convert are copied
 * through unchanged. us-ascii, utf-8 and an absent charset pass through;
 * iso-8859-1 is read as windows-1252, as browsers and MUAs do.
 */
#ifndef TG_CHARSET_H
#define TG_CHARSET_H

#include <stddef.h>

#include "util.h"

/* Appends [in, in+n) converted from charset cs (cslen bytes, any case,
 * may be 0) to out as UTF-8. */
void charset_to_utf8(const char *cs, size_t cslen, const char *in, size_t n,
                     tg_buf *out);

/* 1 if [s, s+n) is valid UTF-8 (NUL bytes allowed), else 0. */
int charset_valid_utf8(const char *s, size_t n);

#endif
