/*
 * uri — URIs in rendered text and their canonical forms, after
 * SpamAssassin's PerMsgStatus::_process_text_uri_list and
 * Util::uri_list_canonicalize (a subset: no IP-number or IDN rewriting).
 */
#ifndef TG_URI_H
#define TG_URI_H

#include <stddef.h>

/* Receives one URI; the bytes are valid only during the call. */
typedef void (*uri_fn)(void *ctx, const char *uri, size_t len);

/* Reports every URI a mail client would linkify in [s, s+n), with the
 * scheme SpamAssassin adds ("http://www.x", "mailto:a@b"). Linear in n. */
void uri_from_text(const char *s, size_t n, uri_fn fn, void *ctx);

/* Reports u itself, then its canonical variants (decoded %XX, scheme and
 * slash fixes, default port dropped, one level of redirector unwrapped).
 * Duplicates are possible; the caller dedups. */
void uri_canonicalize(const char *u, size_t n, uri_fn fn, void *ctx);

/* 1 if a host (or mailto domain) can be taken from u and it is an IPv4
 * address or a valid name under a known TLD (RegistryBoundaries::
 * uri_to_domain). Text URIs are kept only if a variant has one. */
int uri_has_domain(const char *u, size_t n);

#endif
