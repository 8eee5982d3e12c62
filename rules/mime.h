/*
 * mime — MIME structure of one message held in a bounded buffer.
 *
 * mime_parse() splits the header block, walks nested multiparts (tolerating
 * missing or broken boundaries, skipping preamble and epilogue), parses
 * message/rfc822 parts as nested messages and decodes every leaf
 * (base64, quoted-printable). It follows SpamAssassin's Message.pm.
 * The tree borrows the input buffer: it must outlive the tree.
 *
 * Also the codecs (base64, QP) and the Content-Type / Content-Disposition
 * parameter parser (RFC 2231) used by hdr and msg.
 */
#ifndef TG_MIME_H
#define TG_MIME_H

#include <stddef.h>

#include "hdr.h"
#include "msg.h"
#include "util.h"

typedef struct mime_tree mime_tree_t;

/* One leaf. Every string is owned by the tree. */
typedef struct mime_leaf {
    const hdr_list_t *hdrs;  /* the part's own headers */
    msg_str_t type;          /* lower-case media type as declared */
    msg_str_t sa_type;       /* SpamAssassin view: any text type but html,
                                calendar, x-vcard is text/plain; a name
                                ending .htm(l) makes it text/html */
    msg_str_t charset;       /* lower-case, len 0 if none */
    msg_str_t filename;      /* decoded, len 0 if none */
    msg_str_t decoded;       /* transfer-decoded content */
    int is_attachment;
    unsigned depth;
} mime_leaf_t;

/* Parses [buf, buf+n) (LF line ends). *bits gets MSG_LIMIT_DEPTH,
 * MSG_LIMIT_PARTS, MSG_LIMIT_HEADERS, MSG_LIMIT_HEADER_LEN, MSG_MIME_ERROR.
 * Never fails. */
mime_tree_t *mime_parse(const char *buf, size_t n, const msg_limits_t *lim,
                        unsigned *bits);
void mime_free(mime_tree_t *t);
/* The top-level header list and the offset where the top body starts. */
const hdr_list_t *mime_headers(const mime_tree_t *t);
size_t mime_body_offset(const mime_tree_t *t);
size_t mime_nleaves(const mime_tree_t *t);
const mime_leaf_t *mime_leaf_at(const mime_tree_t *t, size_t i);
/* Every entity's header list in SpamAssassin's find_parts(qr/./) order:
 * the message itself, then depth first each part, multipart containers
 * and message/rfc822 parts (then the message inside) included. */
size_t mime_nnodes(const mime_tree_t *t);
const hdr_list_t *mime_node_headers(const mime_tree_t *t, size_t i);

/* Splits a header block at the start of [buf, buf+n) into h. top selects
 * the rules for a message header (mbox "From " line skipped, a "--" line
 * or a 4th malformed line ends the block) rather than a MIME part header.
 * Returns the offset where the body starts. */
size_t mime_split_headers(const char *buf, size_t n, int top,
                          const msg_limits_t *lim, hdr_list_t *h,
                          unsigned *bits);

/* Appends the base64 decoding of [in, in+n) to out, skipping whitespace
 * and junk. Returns 0, or -1 if the input had junk or a partial quantum
 * (what could be decoded is still appended). */
int mime_b64_decode(const char *in, size_t n, tg_buf *out);
/* Appends the quoted-printable decoding of [in, in+n) (soft line breaks,
 * trailing whitespace on lines removed; bad escapes kept) to out. */
void mime_qp_decode(const char *in, size_t n, tg_buf *out);

/* Looks up parameter `name` in a Content-Type / Content-Disposition value,
 * RFC 2231 continuations and charset'lang'%XX included (converted to
 * UTF-8). Appends the value to out and returns 1, or returns 0. */
int mime_param(const char *v, size_t n, const char *name, tg_buf *out);
/* Appends the lower-case media type of a Content-Type value ("" if none). */
void mime_media_type(const char *v, size_t n, tg_buf *out);

#endif
