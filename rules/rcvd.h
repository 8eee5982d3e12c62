/*
 * rcvd — the relays a message came through, as SpamAssassin's rules see
 * them: its Received headers parsed into relays (IP, reverse DNS, HELO,
 * receiving host, ident, envelope sender, id, authentication), split at the
 * trust boundary and the internal boundary, and written as the
 * pseudo-headers X-Spam-Relays-Trusted, -Untrusted, -Internal and -External
 * ("[ ip=... rdns=... helo=... by=... ident=... envfrom=... intl=0|1 id=...
 * auth=... msa=0|1 ]", one such group a relay, newest first, joined by one
 * space), the string SpamAssassin 4's Received parser builds, so that rules
 * such as RDNS_NONE, HELO_NO_DOMAIN and the RDNS_DYNAMIC family read what
 * they read there.
 *
 * Where the boundaries lie comes from trusted_networks, internal_networks
 * and msa_networks (rcvd_nets_t); with none configured, a relay is trusted
 * while it comes from a private address or carries authentication, and the
 * first one that does not ends the trusted (and internal) part.
 *
 * A relay view is immutable once built and owned by its caller; networks
 * are built while rules load and read-only afterwards (safe to share).
 */
#ifndef TG_RCVD_H
#define TG_RCVD_H

#include <stddef.h>

#include "util.h"

/* One relay, as parsed. Strings are owned by the relay (NUL-terminated). */
typedef struct rcvd_relay {
    char *ip, *rdns, *helo, *by, *ident, *envfrom, *id, *auth;
    int ip_private;
} rcvd_relay_t;

enum {
    RCVD_UNPARSEABLE = -1, /* a Received header it could not read */
    RCVD_SKIP = 0,         /* one that records no network handover */
    RCVD_RELAY = 1,        /* a relay: *out filled */
    RCVD_FETCHER = 2       /* a POP/IMAP fetcher's handover (the trusted
                              part seen so far is forgotten) */
};

/* Parses one Received header's value (folded or not). Returns RCVD_*; with
 * RCVD_RELAY fills *out, which the caller frees with rcvd_relay_clear. */
int rcvd_parse(const char *value, size_t len, rcvd_relay_t *out);
void rcvd_relay_clear(rcvd_relay_t *r);
/* Appends the relay's "[ ip=... ]" form (intl and msa as given). */
void rcvd_relay_string(const rcvd_relay_t *r, int intl, int msa, tg_buf *out);

/* A list of networks as trusted_networks takes them: "1.2.3.4",
 * "10.0.0.0/8", "10/8", "10.", "[2001:db8::]/32", "!10.1.0.0/16" (an
 * exclusion: the first entry that contains an address decides). 127/8
 * and ::1 are trusted whatever the list says (rcvd_trusted_contains). */
typedef struct rcvd_nets rcvd_nets_t;
rcvd_nets_t *rcvd_nets_new(void);
void rcvd_nets_free(rcvd_nets_t *n);
/* Adds the space-separated entries of spec. -1 with a message in err and
 * *col (byte offset into spec of the bad entry) on a malformed entry;
 * the entries before it stay. */
int rcvd_nets_add(rcvd_nets_t *n, const char *spec, size_t *col, char *err,
                  size_t errlen);
void rcvd_nets_clear(rcvd_nets_t *n);
size_t rcvd_nets_count(const rcvd_nets_t *n);
/* Whether ip (text) is in the list: 1, 0 (not in it, excluded, or not an
 * address). */
int rcvd_nets_contains(const rcvd_nets_t *n, const char *ip);

/* What decides the boundaries; any member may be NULL (none configured). */
typedef struct rcvd_trust {
    const rcvd_nets_t *trusted, *internal, *msa;
    const char *const *originating;  /* originating_ip_headers names */
    size_t noriginating;
} rcvd_trust_t;

/* The relay the receiving MTA saw (the SMTP client), added as the newest
 * relay when the topmost Received header does not already record that
 * address (Sendmail does not show milters its own Received header). All
 * may be NULL; no ip, no relay. */
typedef struct rcvd_client {
    const char *ip, *rdns, *helo, *by, *auth;
} rcvd_client_t;

/* The four pseudo-header values and the boundaries, for one message. */
typedef struct rcvd_view rcvd_view_t;

/* Reads a header block through get(ctx, name, i, &len): the i-th
 * occurrence (0 = topmost) of a header, its value (decoded, unfolded),
 * NULL past the last. */
typedef const char *(*rcvd_get_fn)(void *ctx, const char *name, size_t i,
                                   size_t *len);

/* The Received headers parsed, the first max of them (the expensive part:
 * done once a message, whatever the networks). Owned by the caller. */
typedef struct rcvd_list rcvd_list_t;
rcvd_list_t *rcvd_list_parse(rcvd_get_fn get, void *ctx, size_t max);
void rcvd_list_free(rcvd_list_t *l);

/* The relays of list split by trust (get reads the originating_ip_headers);
 * trust and client may be NULL. list is only read and may be freed after.
 * Never fails. */
rcvd_view_t *rcvd_view_build(const rcvd_list_t *list, rcvd_get_fn get, void *ctx,
                             const rcvd_trust_t *trust,
                             const rcvd_client_t *client);
void rcvd_view_free(rcvd_view_t *v);

/* The pseudo-headers the relays make, as rcvd_pseudo() names them. */
enum {
    RCVD_P_TRUSTED, RCVD_P_UNTRUSTED, RCVD_P_INTERNAL, RCVD_P_EXTERNAL,
    RCVD_P_ALL_TRUSTED, RCVD_P_ALL_INTERNAL, RCVD_P_ALL_UNTRUSTED,
    RCVD_P_ALL_EXTERNAL
};
/* Which one name is: X-Spam-Relays-Trusted, -Untrusted, -Internal,
 * -External (any case, as SpamAssassin reads them), ALL-TRUSTED,
 * ALL-INTERNAL, ALL-UNTRUSTED, ALL-EXTERNAL (this spelling only); -1 if
 * none. */
int rcvd_pseudo(const char *name);
/* The value of relay string which (RCVD_P_TRUSTED .. RCVD_P_EXTERNAL)
 * appended to out. It may be empty (no such relay): the header still
 * exists then, as in SpamAssassin. */
void rcvd_view_get(const rcvd_view_t *v, int which, tg_buf *out);
/* The Received-header index (0 = topmost) where the untrusted (which = 0)
 * or external (which = 1) part starts, for ALL-UNTRUSTED and friends:
 * SpamAssassin's last_trusted_relay_index + 1. */
long rcvd_view_boundary(const rcvd_view_t *v, int which);

#endif
