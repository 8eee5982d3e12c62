/*
 * direction — which way a message goes and which tenants it touches,
 * decided from the configuration alone (pure functions, no I/O).
 *
 * Direction: a {daemon_name} listed in DaemonDirection decides outright.
 * Otherwise a session that authenticated, or whose client is in
 * InternalNetworks, is "ours": internal if every recipient is in
 * LocalDomains, outbound if not. Anything else is inbound.
 * Tenants: inbound mail belongs to the tenants of its recipients' domains,
 * outbound mail to the tenant of the sender's domain, internal mail to both.
 */
#ifndef TG_DIRECTION_H
#define TG_DIRECTION_H

#include <stddef.h>

#include "config.h"
#include "rules.h"

typedef struct dir_input {
    const char *client_ip;    /* may be NULL */
    const char *auth;         /* SASL login, NULL if none */
    const char *daemon_name;  /* MTA listener name, NULL if unknown */
    const char *mail_from;    /* without <>, "" for the null sender */
    const char *const *rcpts;
    size_t nrcpts;
} dir_input_t;

rules_direction_t dir_classify(const config_t *c, const dir_input_t *in);

/* 1 if ip (textual, may be NULL) is in InternalNetworks. */
int dir_is_internal(const config_t *c, const char *ip);

/* Indices into c->tenants of the tenants touched, each once, in config
 * order; at most `max` are written. Returns how many were found. */
size_t dir_tenants(const config_t *c, rules_direction_t d, const dir_input_t *in,
                   size_t *out, size_t max);

#endif
