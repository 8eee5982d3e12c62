/*
 * msg — the message model that rules match against.
 *
 * A msg is built from the raw RFC 5322 bytes of one message, fed whole or in
 * chunks (the milter rebuilds "Name: value\r\n" lines + blank line + body and
 * feeds them here, so the daemon and `tollgate-rules test` see the same
 * model). Line endings may be CRLF or LF; the model always uses LF.
 *
 * Work is bounded (msg_limits_t): the body kept for scanning is capped at
 * max_scan bytes, MIME depth/parts and header count/length are capped;
 * exceeding a cap sets a bit in msg_limits_hit() and never fails.
 *
 * Views (all valid from msg_finish() until msg_free(); all strings are owned
 * by the msg, NUL-terminated, and may contain NUL bytes inside `len`):
 *   - headers of the top-level message: unfolded, raw and RFC 2047-decoded;
 *   - body lines:   SpamAssassin's rendered body (Subject first, then the
 *                   text of every text part, HTML rendered to text,
 *                   whitespace collapsed, one element per paragraph, split
 *                   at 2048 bytes) — get_rendered_body_text_array();
 *   - rawbody:      decoded (base64/QP) text and message parts, split
 *                   into short paragraphs — get_decoded_body_text_array();
 *   - full:         the whole message as fed (bounded), one string;
 *   - uris:         URIs from text and HTML parts, SpamAssassin-style;
 *   - parts:        every MIME leaf with its headers, type, filename, size.
 *
 * Thread-safety: a msg is used by one thread at a time.
 */
#ifndef TG_MSG_H
#define TG_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "rcvd.h"
#include "util.h"

typedef struct msg msg_t;

/* A borrowed string view. */
typedef struct msg_str {
    const char *ptr;
    size_t len;
} msg_str_t;

typedef struct msg_limits {
    size_t max_scan;          /* body bytes kept (MaxScanSize), default 1 MiB */
    unsigned max_depth;       /* MIME nesting, default 20 */
    unsigned max_parts;       /* MIME parts, default 1000 */
    unsigned max_headers;     /* headers per header block, default 1000 */
    size_t max_header_len;    /* bytes of one unfolded header, default 64 KiB */
} msg_limits_t;

/* Bits of msg_limits_hit(): which bound the message ran into. */
enum {
    MSG_LIMIT_SCAN = 1u << 0,       /* body longer than max_scan: truncated */
    MSG_LIMIT_DEPTH = 1u << 1,      /* MIME nested deeper than max_depth */
    MSG_LIMIT_PARTS = 1u << 2,      /* more than max_parts parts */
    MSG_LIMIT_HEADERS = 1u << 3,    /* more than max_headers headers */
    MSG_LIMIT_HEADER_LEN = 1u << 4, /* a header longer than max_header_len */
    MSG_MIME_ERROR = 1u << 5,       /* broken structure: missing closing
                                       boundary, bad base64, bad header line */
    MSG_LIMIT_URIS = 1u << 6,       /* more URIs than MSG_MAX_URIS, or more
                                       bytes of them than max(max_scan,
                                       MSG_MIN_URI_BYTES): the rest ignored */
};
/* The per-message bound on URI extraction (MSG_LIMIT_URIS): a hostile HTML
 * part (a long <base href> and 100,000 relative links) would otherwise
 * cost gigabytes and seconds. Far above what real mail carries. */
#define MSG_MAX_URIS 10000
#define MSG_MIN_URI_BYTES (256u * 1024)

/* How a header value is returned (SpamAssassin's :raw, :addr, :name). */
typedef enum msg_hmode {
    MSG_H_DECODED = 0, /* unfolded, RFC 2047 decoded to UTF-8 */
    MSG_H_RAW,         /* unfolded, not decoded (SpamAssassin :raw) */
    MSG_H_ADDR,        /* every address, e.g. "a@b.example" (:addr) */
    MSG_H_NAME,        /* every display name (:name) */
} msg_hmode_t;

typedef struct msg_part {
    msg_str_t type;       /* lower-case media type, "text/plain" if absent */
    msg_str_t filename;   /* Content-Disposition filename (RFC 2231/2047
                             decoded) or Content-Type name; len 0 if none */
    msg_str_t charset;    /* lower-case charset param; len 0 if none */
    size_t size;          /* decoded size in bytes (may exceed what is kept) */
    int is_attachment;    /* Content-Disposition: attachment, or a filename */
    unsigned depth;       /* 0 for a single-part message's body */
} msg_part_t;

void msg_limits_default(msg_limits_t *lim);

/* Creates an empty message. lim is copied; NULL means defaults. */
msg_t *msg_new(const msg_limits_t *lim);
void msg_free(msg_t *m);

/* Appends raw bytes. Never fails; bytes beyond the bounds are counted
 * (msg_size) but not kept. Must not be called after msg_finish. */
void msg_feed(msg_t *m, const void *data, size_t len);

/* Envelope sender for the EnvelopeFrom pseudo-header ("" = null sender).
 * Copied. Call before or after feeding; takes effect in accessors. */
void msg_set_envelope_from(msg_t *m, const char *addr);

/* Views msg_finish builds beyond headers, parts and full (always built). */
enum {
    MSG_VIEW_BODY = 1u << 0,     /* msg_body_lines */
    MSG_VIEW_RAWBODY = 1u << 1,  /* msg_rawbody_chunks */
    MSG_VIEW_URIS = 1u << 2,     /* msg_uris */
    MSG_VIEW_RELAYS = 1u << 3,   /* the Received headers parsed for the relay
                                    pseudo-headers (else parsed when first
                                    asked for) */
    MSG_VIEW_ALL = 15u
};
/* Restricts msg_finish to the views a consumer reads (rules_views()):
 * a view not asked for is empty. Default MSG_VIEW_ALL. Call before
 * msg_finish. */
void msg_set_views(msg_t *m, unsigned views);

/* Parses what was fed and builds the views. Idempotent. */
void msg_finish(msg_t *m);

/* Total bytes fed, including bytes not kept. */
size_t msg_size(const msg_t *m);
/* MSG_LIMIT_* / MSG_MIME_ERROR bits. */
unsigned msg_limits_hit(const msg_t *m);

/* Top-level headers in order of appearance. name without the colon;
 * raw = unfolded value without leading whitespace and without the line end;
 * decoded = raw with RFC 2047 encoded-words decoded to UTF-8. */
size_t msg_nheaders(const msg_t *m);
void msg_header_at(const msg_t *m, size_t i, msg_str_t *name, msg_str_t *raw,
                   msg_str_t *decoded);

/* What a SpamAssassin 4 header rule sees for `name` (Check.pm do_head_tests
 * over PerMsgStatus::get in list context): every occurrence of the header
 * (case-insensitive name) in order, each value followed by "\n",
 * concatenated; with MSG_H_ADDR / MSG_H_NAME every address / display name
 * of every occurrence, joined with "\n" (no trailing newline).
 * Pseudo-headers supported:
 *   ALL        all top-level headers "Name: value\n" (decoded, bounded at
 *              64 KiB as SpamAssassin bounds it; raw with RAW, unbounded)
 *   ToCc       every To value, then every Cc value, each "value\n"
 *   MESSAGEID  Message-Id, Resent-Message-Id, X-Message-Id, ... joined "\n"
 *   EnvelopeFrom  the envelope sender given to msg_set_envelope_from
 *   X-Spam-Relays-Trusted, -Untrusted, -Internal, -External
 *              the relays (rcvd.h) as msg_use_relays last set them up, by
 *              default with no networks configured and no SMTP client;
 *              always present (possibly empty) once the message has a
 *              header block
 *   ALL-TRUSTED, ALL-INTERNAL, ALL-UNTRUSTED, ALL-EXTERNAL
 *              the ALL lines up to the last trusted / internal Received
 *              header, or from the first untrusted / external one on
 * Appends to out (not reset first). Returns 1 if the header exists,
 * 0 if it is unset (SpamAssassin's [if-unset: ...] applies then). */
int msg_get_header(const msg_t *m, const char *name, msg_hmode_t mode,
                   tg_buf *out);
/* Sets what the relay pseudo-headers are built with: the networks (NULL:
 * none configured) and the SMTP client the MTA reported (NULL or no ip:
 * none). The view is built now, from the finished message's headers, and
 * kept until a call with other arguments; trust is borrowed until then.
 * Writes only the message's relay cache, hence the const msg: one thread
 * at a time, as for every msg call. */
void msg_use_relays(const msg_t *m, const rcvd_trust_t *trust,
                    const rcvd_client_t *client);
/* msg_get_header's return value alone, without building the value. */
int msg_has_header(const msg_t *m, const char *name);

/* A header name resolved once for lookups that repeat it (the rules'
 * headers, the fast matcher's classes): what msg_get_header would take it
 * for, and its hash in the header index, so a lookup costs no name
 * compares or hashing. msg_hkey_init fills it; name is borrowed and must
 * outlive the key. */
typedef struct msg_hkey {
    const char *name;
    size_t len;
    uint32_t hash;              /* hdr_name_hash(name) */
    int kind;                   /* MSG_HK_*, or 0..RCVD_P_N-1: a relay
                                   pseudo-header (rcvd_pseudo) */
} msg_hkey_t;
enum { MSG_HK_PLAIN = 100, MSG_HK_ENVFROM, MSG_HK_SPECIAL /* ALL, ToCc, MESSAGEID */ };
void msg_hkey_init(msg_hkey_t *k, const char *name);
/* msg_get_header and msg_has_header of k's name, with the same results. */
int msg_get_hkey(const msg_t *m, const msg_hkey_t *k, msg_hmode_t mode, tg_buf *out);
int msg_has_hkey(const msg_t *m, const msg_hkey_t *k);
/* Whether msg_get_header reads the same value for names a and b: they are
 * equal but for case, except the pseudo-headers ALL and MESSAGEID, which
 * only their exact spelling means ("all" is a header named all). */
int msg_header_same(const char *a, const char *b);

/* Rendered body lines (see top). Array owned by m. */
const msg_str_t *msg_body_lines(const msg_t *m, size_t *n);
/* Decoded raw body chunks. */
const msg_str_t *msg_rawbody_chunks(const msg_t *m, size_t *n);
/* The whole message as fed (header + body, bounded by the limits). */
msg_str_t msg_full(const msg_t *m);
/* URIs found in text and HTML parts, deduplicated, in order found. */
const msg_str_t *msg_uris(const msg_t *m, size_t *n);

/* MIME leaves (for attachment rules), in document order. */
size_t msg_nparts(const msg_t *m);
const msg_part_t *msg_part_at(const msg_t *m, size_t i);
/* Like msg_get_header, for the headers of MIME leaf i. */
int msg_part_header(const msg_t *m, size_t i, const char *name,
                    msg_hmode_t mode, tg_buf *out);
/* MIME entities as SpamAssassin's mimeheader rules see them (MIMEHeader.pm:
 * find_parts(qr/./)): the message itself, then depth first every part,
 * multipart containers and message/rfc822 parts included; and entity i's
 * own header as MIMEHeader reads it: only the last field of that name
 * (Node.pm get_header/raw_header in scalar context), ALL as
 * msg_get_header gives it. */
size_t msg_nnodes(const msg_t *m);
int msg_node_header(const msg_t *m, size_t i, const char *name, msg_hmode_t mode,
                    tg_buf *out);

#endif
