/*
 * hdr — header fields of one header block: unfolding, RFC 2047
 * encoded-words, and the address / display-name extraction behind
 * SpamAssassin's :addr and :name.
 */
#ifndef TG_HDR_H
#define TG_HDR_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "util.h"

typedef struct hdr_list hdr_list_t;

hdr_list_t *hdr_list_new(void);
void hdr_list_free(hdr_list_t *h);

/* Adds one field. raw is everything after the colon, folding included,
 * without the final line end; both are copied. The decoded value is
 * computed here (RFC 2047, except on fields SpamAssassin leaves alone). */
void hdr_list_add(hdr_list_t *h, const char *name, size_t nlen,
                  const char *raw, size_t rlen);

size_t hdr_count(const hdr_list_t *h);
/* Field i: name, raw (unfolded, leading whitespace and line end removed)
 * and decoded. Views owned by h. */
void hdr_at(const hdr_list_t *h, size_t i, msg_str_t *name, msg_str_t *raw,
            msg_str_t *decoded);
/* The decoded value of the last field called name (case-insensitive),
 * or NULL. */
const msg_str_t *hdr_last(const hdr_list_t *h, const char *name);

/* PerMsgStatus::get for this block: see msg_get_header (ALL, ToCc and
 * MESSAGEID included; EnvelopeFrom is the caller's). MSG_H_RAW gives the
 * value exactly as in the message, folding included (SpamAssassin's
 * raw_header). Appends to out; returns 1 if found. */
int hdr_get(const hdr_list_t *h, const char *name, msg_hmode_t mode,
            tg_buf *out);

/* Whether hdr_get reads name as one of its pseudo-headers (ALL, ToCc,
 * MESSAGEID: ToCc in any case, the others only so spelt), not a field. */
int hdr_is_pseudo(const char *name);

/* As hdr_get, but of a header that occurs several times only the last
 * field (ALL, ToCc, MESSAGEID and the :addr / :name modes as hdr_get). */
int hdr_get_last(const hdr_list_t *h, const char *name, msg_hmode_t mode,
                 tg_buf *out);

/* Whether hdr_get(h, name, MSG_H_RAW, ...) would find it, without
 * building the value (exists: rules). */
int hdr_has(const hdr_list_t *h, const char *name);

/* The header index's hash of name[0..n) (ASCII case folded), for
 * hdr_get_hashed / hdr_has_hashed (msg_hkey_init keeps it). */
uint32_t hdr_name_hash(const char *name, size_t n);
/* hdr_get and hdr_has of an ordinary field name[0..n) whose hash is
 * hdr_name_hash(name, n): not ALL, ToCc or MESSAGEID. */
int hdr_get_hashed(const hdr_list_t *h, const char *name, size_t n, uint32_t hash,
                   msg_hmode_t mode, tg_buf *out);
int hdr_has_hashed(const hdr_list_t *h, const char *name, size_t n, uint32_t hash);

/* Appends [s, s+n) with RFC 2047 encoded-words decoded to UTF-8: adjacent
 * words joined without the whitespace between them, invalid words kept. */
void hdr_decode_2047(const char *s, size_t n, tg_buf *out);

/* Every address (want_name 0) or display name (1) of a raw address-list
 * value, joined with "\n" (SpamAssassin's parse_header_addresses).
 * Returns 1 if any was found. */
int hdr_address(const char *s, size_t n, int want_name, tg_buf *out);

#endif
