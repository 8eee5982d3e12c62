#include "direction.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static int is_local(const config_t *c, const char *addr)
{
    size_t len = strlen(addr);
    for (size_t i = 0; i < c->nlocal_domains; i++)
        if (tg_addr_in_domain(addr, len, c->local_domains[i]))
            return 1;
    return 0;
}

int dir_is_internal(const config_t *c, const char *ip)
{
    for (size_t i = 0; i < c->ninternal; i++)
        if (cf_cidr_match(&c->internal[i], ip))
            return 1;
    return 0;
}

rules_direction_t dir_classify(const config_t *c, const dir_input_t *in)
{
    if (in->daemon_name) {
        for (size_t i = 0; i < c->ndaemon_dirs; i++) {
            if (strcmp(c->daemon_dirs[i].name, in->daemon_name))
                continue;
            switch (c->daemon_dirs[i].dir) {
            case CONFIG_DIR_OUTBOUND: return RULES_DIR_OUTBOUND;
            case CONFIG_DIR_INTERNAL: return RULES_DIR_INTERNAL;
            default: return RULES_DIR_INBOUND;
            }
        }
    }
    int ours = (in->auth && *in->auth) || dir_is_internal(c, in->client_ip);
    if (!ours)
        return RULES_DIR_INBOUND;
    for (size_t i = 0; i < in->nrcpts; i++)
        if (!is_local(c, in->rcpts[i]))
            return RULES_DIR_OUTBOUND;
    return in->nrcpts ? RULES_DIR_INTERNAL : RULES_DIR_OUTBOUND;
}

static void add_tenants_of(const config_t *c, const char *addr, unsigned char *seen)
{
    size_t len = strlen(addr);
    for (size_t t = 0; t < c->ntenants; t++)
        for (size_t d = 0; !seen[t] && d < c->tenants[t].ndomains; d++)
            if (tg_addr_in_domain(addr, len, c->tenants[t].domains[d]))
                seen[t] = 1;
}

size_t dir_tenants(const config_t *c, rules_direction_t d, const dir_input_t *in,
                   size_t *out, size_t max)
{
    if (!c->ntenants)
        return 0;
    unsigned char *seen = tg_calloc(c->ntenants, 1);
    if (d != RULES_DIR_OUTBOUND)
        for (size_t i = 0; i < in->nrcpts; i++)
            add_tenants_of(c, in->rcpts[i], seen);
    if (d != RULES_DIR_INBOUND && in->mail_from)
        add_tenants_of(c, in->mail_from, seen);
    size_t n = 0;
    for (size_t t = 0; t < c->ntenants; t++)
        if (seen[t]) {
            if (n < max)
                out[n] = t;
            n++;
        }
    free(seen);
    return n;
}
