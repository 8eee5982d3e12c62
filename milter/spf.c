#include "spf.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <spf2/spf.h>
#include <spf2/spf_dns_zone.h>

#include "util.h"

struct spf_ctx {
    SPF_server_t *server;
};

static pthread_key_t spf_key;
static char **spf_zone;       /* SPFTestZone records, set once by spf_init */
static size_t spf_nzone;
static pthread_once_t spf_once = PTHREAD_ONCE_INIT;

static void spf_key_free(void *p)
{
    spf_free(p);
}

static void spf_make_key(void)
{
    pthread_key_create(&spf_key, spf_key_free);
}

void spf_init(int timeout_seconds, const char *const *zone, size_t nzone)
{
    if (nzone) {
        spf_zone = tg_calloc(nzone, sizeof *spf_zone);
        for (size_t i = 0; i < nzone; i++)
            spf_zone[i] = tg_strdup(zone[i]);
        spf_nzone = nzone;
    }
    char opt[64];
    /* one attempt: SPFTimeout is then the real bound of each query */
    snprintf(opt, sizeof opt, "timeout:%d attempts:1", timeout_seconds);
    setenv("RES_OPTIONS", opt, 1);
    pthread_once(&spf_once, spf_make_key);
}

spf_ctx_t *spf_thread(void)
{
    pthread_once(&spf_once, spf_make_key);
    spf_ctx_t *c = pthread_getspecific(spf_key);
    if (!c && spf_nzone) {
        c = spf_new_zone((const char *const *)spf_zone, spf_nzone);
        pthread_setspecific(spf_key, c);
    } else if (!c) {
        c = tg_calloc(1, sizeof *c);
        c->server = SPF_server_new(SPF_DNS_CACHE, 0);
        if (!c->server)
            tg_malloc((size_t)-1); /* out of memory: reported, aborts */
        pthread_setspecific(spf_key, c);
    }
    return c;
}

spf_ctx_t *spf_new_zone(const char *const *records, size_t n)
{
    SPF_dns_server_t *dns = SPF_dns_zone_new(NULL, "tollgate-test", 0);
    for (size_t i = 0; i < n; i++) {
        char dom[256], type[16];
        int used = 0;
        if (sscanf(records[i], "%255s %15s %n", dom, type, &used) < 2)
            continue;
        ns_type t = !strcmp(type, "A") ? ns_t_a : !strcmp(type, "AAAA") ? ns_t_aaaa
                  : !strcmp(type, "MX") ? ns_t_mx : ns_t_txt;
        SPF_dns_zone_add_str(dns, dom, t, NETDB_SUCCESS, records[i] + used);
    }
    spf_ctx_t *c = tg_calloc(1, sizeof *c);
    c->server = SPF_server_new_dns(dns, 0);
    c->server->destroy_resolver = 1;
    return c;
}

void spf_free(spf_ctx_t *c)
{
    if (!c)
        return;
    SPF_server_free(c->server);
    free(c);
}

static rules_spf_t map_result(SPF_result_t r)
{
    switch (r) {
    case SPF_RESULT_PASS: return RULES_SPF_PASS;
    case SPF_RESULT_FAIL: return RULES_SPF_FAIL;
    case SPF_RESULT_SOFTFAIL: return RULES_SPF_SOFTFAIL;
    case SPF_RESULT_NEUTRAL: return RULES_SPF_NEUTRAL;
    case SPF_RESULT_NONE: return RULES_SPF_NONE;
    case SPF_RESULT_TEMPERROR: return RULES_SPF_TEMPERROR;
    default: return RULES_SPF_PERMERROR;
    }
}

void spf_check(spf_ctx_t *c, const char *ip, const char *helo,
               const char *mail_from, spf_result_t *out)
{
    memset(out, 0, sizeof *out);
    out->result = RULES_SPF_NONE;
    int null_sender = !mail_from || !*mail_from;
    const char *ident = null_sender ? helo : strrchr(mail_from, '@');
    if (ident && !null_sender)
        ident++;
    snprintf(out->identity, sizeof out->identity, "%s", ident ? ident : "");
    out->helo_identity = null_sender;
    if (!ip || !ident || !*ident)
        return;
    SPF_request_t *req = SPF_request_new(c->server);
    struct in_addr a4;
    int ok;
    if (inet_pton(AF_INET, ip, &a4) == 1)
        ok = SPF_request_set_ipv4(req, a4) == SPF_E_SUCCESS;
    else
        ok = SPF_request_set_ipv6_str(req, ip) == SPF_E_SUCCESS;
    if (helo && *helo)
        SPF_request_set_helo_dom(req, helo);
    /* libspf2 checks postmaster@HELO when MAIL FROM is empty */
    if (ok && !null_sender)
        ok = SPF_request_set_env_from(req, mail_from) == 0;
    if (ok) {
        SPF_response_t *resp = NULL;
        SPF_request_query_mailfrom(req, &resp);
        if (resp) {
            out->result = map_result(SPF_response_result(resp));
            SPF_response_free(resp);
        } else {
            out->result = RULES_SPF_TEMPERROR;
        }
    } else {
        out->result = RULES_SPF_PERMERROR;
    }
    SPF_request_free(req);
}
