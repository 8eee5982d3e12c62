#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "fast.h"
#include "util.h"

/* Online CPUs, at least 1. */
static unsigned ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

#ifndef TG_PREFIX
#define TG_PREFIX "/usr/local"
#endif

typedef struct cfgctx {
    config_t *c;
    const char *file;
    int line;
    char *err;
    size_t errlen;
    int rules_set, internal_set; /* first use replaces the default list */
} cfgctx_t;

static int bad(cfgctx_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(cfgctx_t *x, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tg_err(x->err, x->errlen, "%s:%d: %s", x->file, x->line, msg);
}

static void push(char ***arr, size_t *n, const char *s)
{
    *arr = tg_realloc(*arr, (*n + 1) * sizeof **arr);
    (*arr)[(*n)++] = tg_strdup(s);
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = tg_strdup(v);
}

static int parse_bool(cfgctx_t *x, const char *key, const char *v, int *out)
{
    if (!tg_strcasecmp(v, "yes") || !tg_strcasecmp(v, "true") || !strcmp(v, "1"))
        *out = 1;
    else if (!tg_strcasecmp(v, "no") || !tg_strcasecmp(v, "false") || !strcmp(v, "0"))
        *out = 0;
    else
        return bad(x, "%s takes yes or no, not '%s'", key, v);
    return 0;
}

static int parse_uint(cfgctx_t *x, const char *key, const char *v, unsigned long min,
                      unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (end == v || *end || errno || n < min || n > max || v[0] == '-')
        return bad(x, "%s takes a whole number from %lu to %lu, not '%s'", key, min, max, v);
    *out = n;
    return 0;
}

static int parse_bytes(cfgctx_t *x, const char *key, const char *v, size_t *out)
{
    double d;
    if (tg_parse_size(v, &d) < 0 || d < 1 || d > 1024.0 * 1024 * 1024)
        return bad(x, "%s takes a size like 512K or 1M (at most 1G), not '%s'", key, v);
    *out = (size_t)d;
    return 0;
}

static int valid_domain(const char *d)
{
    if (!*d || strlen(d) > 253)
        return 0;
    for (; *d; d++)
        if (!(isalnum((unsigned char)*d) || *d == '.' || *d == '-' || *d == '_'))
            return 0;
    return 1;
}

static int parse_dir(const char *v, config_dir_t *d)
{
    if (!tg_strcasecmp(v, "inbound")) *d = CONFIG_DIR_INBOUND;
    else if (!tg_strcasecmp(v, "outbound")) *d = CONFIG_DIR_OUTBOUND;
    else if (!tg_strcasecmp(v, "internal")) *d = CONFIG_DIR_INTERNAL;
    else return -1;
    return 0;
}

static int check_socket(const char *v)
{
    if (!strncmp(v, "unix:", 5) || !strncmp(v, "local:", 6))
        return v[strlen(v) - 1] != ':' ? 0 : -1;
    if (!strncmp(v, "inet:", 5) || !strncmp(v, "inet6:", 6)) {
        const char *p = strchr(v, ':') + 1;
        char *end;
        long port = strtol(p, &end, 10);
        if (end == p || port < 1 || port > 65535 || (*end && *end != '@'))
            return -1;
        return 0;
    }
    return -1;
}

/* Splits v on whitespace and commas; calls fn for each word. */
static int each_word(cfgctx_t *x, const char *key, const char *v,
                     int (*fn)(cfgctx_t *, const char *, const char *))
{
    char *copy = tg_strdup(v), *save = NULL;
    int rc = 0;
    for (char *w = strtok_r(copy, " \t,", &save); w && rc == 0;
         w = strtok_r(NULL, " \t,", &save))
        rc = fn(x, key, w);
    free(copy);
    return rc;
}

static int add_rules(cfgctx_t *x, const char *key, const char *w)
{
    (void)key;
    config_t *c = x->c;
    if (!x->rules_set) {
        for (size_t i = 0; i < c->nrules; i++)
            free(c->rules[i]);
        c->nrules = 0;
        x->rules_set = 1;
    }
    push(&c->rules, &c->nrules, w);
    return 0;
}

static int add_internal(cfgctx_t *x, const char *key, const char *w)
{
    config_t *c = x->c;
    cf_cidr_t cidr;
    if (cf_parse_cidr(w, &cidr) < 0)
        return bad(x, "%s: '%s' is not an IP address or CIDR", key, w);
    if (!x->internal_set) {
        c->ninternal = 0;
        x->internal_set = 1;
    }
    c->internal = tg_realloc(c->internal, (c->ninternal + 1) * sizeof *c->internal);
    c->internal[c->ninternal++] = cidr;
    return 0;
}

static int add_domain(cfgctx_t *x, const char *key, const char *w)
{
    if (!valid_domain(w))
        return bad(x, "%s: '%s' is not a domain name", key, w);
    char *l = tg_strdup(w);
    for (char *p = l; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    push(&x->c->local_domains, &x->c->nlocal_domains, l);
    free(l);
    return 0;
}

static const struct { const char *name; int fac; } facilities[] = {
    {"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
    {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
    {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

static int set_key(cfgctx_t *x, const char *key, const char *v)
{
    config_t *c = x->c;
    unsigned long n;
    if (!tg_strcasecmp(key, "Socket")) {
        if (check_socket(v) < 0)
            return bad(x, "Socket takes unix:PATH, inet:PORT@HOST or inet6:PORT@HOST, not '%s'", v);
        set_str(&c->socket, v);
    } else if (!tg_strcasecmp(key, "SocketMode")) {
        char *end;
        long m = strtol(v, &end, 8);
        if (*end || end == v || m < 0 || m > 0777)
            return bad(x, "SocketMode takes an octal mode like 0660, not '%s'", v);
        c->socket_mode = (unsigned)m;
    } else if (!tg_strcasecmp(key, "SocketOwner")) {
        set_str(&c->socket_owner, v);
    } else if (!tg_strcasecmp(key, "UserID")) {
        set_str(&c->user, v);
    } else if (!tg_strcasecmp(key, "PidFile")) {
        set_str(&c->pidfile, v);
    } else if (!tg_strcasecmp(key, "Rules")) {
        return each_word(x, key, v, add_rules);
    } else if (!tg_strcasecmp(key, "InternalNetworks")) {
        return each_word(x, key, v, add_internal);
    } else if (!tg_strcasecmp(key, "LocalDomains")) {
        return each_word(x, key, v, add_domain);
    } else if (!tg_strcasecmp(key, "Tenant")) {
        char *copy = tg_strdup(v), *save = NULL;
        char *name = strtok_r(copy, " \t,", &save);
        config_tenant_t t = {0};
        int rc = 0;
        if (!name || !strcmp(name, "_all"))
            rc = bad(x, "Tenant takes a name (not _all) and one or more domains");
        else {
            for (char *p = name; *p && rc == 0; p++)
                if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.'))
                    rc = bad(x, "Tenant name '%s' may use letters, digits, '-', '_' and '.' only", name);
            for (size_t i = 0; i < c->ntenants && rc == 0; i++)
                if (!strcmp(c->tenants[i].name, name))
                    rc = bad(x, "Tenant '%s' is defined twice", name);
        }
        if (rc == 0) {
            t.name = tg_strdup(name);
            for (char *w; (w = strtok_r(NULL, " \t,", &save)) != NULL && rc == 0;) {
                if (!valid_domain(w))
                    rc = bad(x, "Tenant %s: '%s' is not a domain name", name, w);
                else {
                    for (char *p = w; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
                    push(&t.domains, &t.ndomains, w);
                }
            }
            if (rc == 0 && !t.ndomains)
                rc = bad(x, "Tenant %s: expected one or more domains", name);
        }
        free(copy);
        if (rc < 0) {
            free(t.name);
            for (size_t i = 0; i < t.ndomains; i++)
                free(t.domains[i]);
            free(t.domains);
            return rc;
        }
        c->tenants = tg_realloc(c->tenants, (c->ntenants + 1) * sizeof *c->tenants);
        c->tenants[c->ntenants++] = t;
    } else if (!tg_strcasecmp(key, "DaemonDirection")) {
        char name[256], dir[64];
        config_dir_t d;
        if (sscanf(v, "%255s %63s", name, dir) != 2 || parse_dir(dir, &d) < 0)
            return bad(x, "DaemonDirection takes NAME inbound|outbound|internal, not '%s'", v);
        c->daemon_dirs = tg_realloc(c->daemon_dirs, (c->ndaemon_dirs + 1) * sizeof *c->daemon_dirs);
        c->daemon_dirs[c->ndaemon_dirs++] = (config_daemon_dir_t){tg_strdup(name), d};
    } else if (!tg_strcasecmp(key, "MaxScanSize")) {
        return parse_bytes(x, key, v, &c->max_scan);
    } else if (!tg_strcasecmp(key, "ScanConcurrency")) {
        if (!tg_strcasecmp(v, "auto")) {
            c->scan_concurrency = ncpus();
        } else {
            if (parse_uint(x, key, v, 0, 1024, &n) < 0) return -1;
            c->scan_concurrency = (unsigned)n;
        }
    } else if (!tg_strcasecmp(key, "MaxHeaderLength")) {
        return parse_bytes(x, key, v, &c->max_header_len);
    } else if (!tg_strcasecmp(key, "MaxMimeDepth")) {
        if (parse_uint(x, key, v, 1, 1000, &n) < 0) return -1;
        c->max_depth = (unsigned)n;
    } else if (!tg_strcasecmp(key, "MaxMimeParts")) {
        if (parse_uint(x, key, v, 1, 1000000, &n) < 0) return -1;
        c->max_parts = (unsigned)n;
    } else if (!tg_strcasecmp(key, "MaxHeaders")) {
        if (parse_uint(x, key, v, 1, 1000000, &n) < 0) return -1;
        c->max_headers = (unsigned)n;
    } else if (!tg_strcasecmp(key, "MatchLimit")) {
        if (parse_uint(x, key, v, 1000, 4000000000UL, &n) < 0) return -1;
        c->match_limit = n;
    } else if (!tg_strcasecmp(key, "ScanMemo")) {
        if (!tg_strcasecmp(v, "no")) {
            c->scan_memo = 0;
        } else {
            if (parse_uint(x, key, v, 0, 4194304, &n) < 0) return -1;
            if (n > 0 && n < 64)
                return bad(x, "ScanMemo takes no, 0 or 64 to 4194304 slots, not %lu", n);
            c->scan_memo = n;
        }
    } else if (!tg_strcasecmp(key, "Matcher")) {
        if (!tg_strcasecmp(v, "fast")) c->matcher_oracle = 0;
        else if (!tg_strcasecmp(v, "oracle")) c->matcher_oracle = 1;
        else return bad(x, "Matcher takes fast or oracle, not '%s'", v);
    } else if (!tg_strcasecmp(key, "RulesCacheDir")) {
        set_str(&c->cache_dir, v);
    } else if (!tg_strcasecmp(key, "OnError")) {
        if (!tg_strcasecmp(v, "accept")) c->on_error_accept = 1;
        else if (!tg_strcasecmp(v, "tempfail")) c->on_error_accept = 0;
        else return bad(x, "OnError takes accept or tempfail, not '%s'", v);
    } else if (!tg_strcasecmp(key, "SPF")) {
        return parse_bool(x, key, v, &c->spf);
    } else if (!tg_strcasecmp(key, "SPFTimeout")) {
        if (parse_uint(x, key, v, 1, 60, &n) < 0) return -1;
        c->spf_timeout = (int)n;
    } else if (!tg_strcasecmp(key, "SPFTestZone")) {
        char *text, ferr[512];
        if (tg_read_file(v, &text, NULL, ferr, sizeof ferr) < 0)
            return bad(x, "SPFTestZone: %s", ferr);
        char *save = NULL;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
            if (*l && *l != '#')
                push(&c->spf_zone, &c->nspf_zone, l);
        free(text);
    } else if (!tg_strcasecmp(key, "AuthservID")) {
        set_str(&c->authserv_id, v);
    } else if (!tg_strcasecmp(key, "SpamHeaders")) {
        if (!tg_strcasecmp(v, "all")) c->spam_headers = CONFIG_HDR_ALL;
        else if (!tg_strcasecmp(v, "spam")) c->spam_headers = CONFIG_HDR_SPAM;
        else if (!tg_strcasecmp(v, "none")) c->spam_headers = CONFIG_HDR_NONE;
        else return bad(x, "SpamHeaders takes all, spam or none, not '%s'", v);
    } else if (!tg_strcasecmp(key, "SubjectPrefix")) {
        set_str(&c->subject_prefix, v);
    } else if (!tg_strcasecmp(key, "RedisURL")) {
        if (*v && strncmp(v, "redis://", 8) != 0)
            return bad(x, "RedisURL takes redis://HOST:PORT[/DB], not '%s'", v);
        set_str(&c->redis_url, v);
    } else if (!tg_strcasecmp(key, "StatsSpoolDir")) {
        set_str(&c->spool_dir, v);
    } else if (!tg_strcasecmp(key, "StatsFlushInterval")) {
        if (parse_uint(x, key, v, 1, 3600, &n) < 0) return -1;
        c->flush_interval = (int)n;
    } else if (!tg_strcasecmp(key, "TimeZone")) {
        char zpath[512];
        snprintf(zpath, sizeof zpath, "/usr/share/zoneinfo/%s", v);
        if (strcmp(v, "UTC") && (strstr(v, "..") || access(zpath, R_OK) != 0))
            return bad(x, "TimeZone '%s' is not a known zone (see /usr/share/zoneinfo)", v);
        set_str(&c->timezone, v);
    } else if (!tg_strcasecmp(key, "SyslogFacility")) {
        size_t i;
        for (i = 0; i < sizeof facilities / sizeof facilities[0]; i++)
            if (!tg_strcasecmp(v, facilities[i].name))
                break;
        if (i == sizeof facilities / sizeof facilities[0])
            return bad(x, "SyslogFacility takes mail, daemon, user or local0..local7, not '%s'", v);
        c->syslog_facility = facilities[i].fac;
    } else if (!tg_strcasecmp(key, "LogHits")) {
        return parse_bool(x, key, v, &c->log_hits);
    } else {
        return bad(x, "unknown key '%s'", key);
    }
    return 0;
}

config_t *config_default(void)
{
    config_t *c = tg_calloc(1, sizeof *c);
    c->socket = tg_strdup("unix:/run/tollgate/tollgate.sock");
    c->socket_mode = 0660;
    push(&c->rules, &c->nrules, TG_PREFIX "/share/tollgate/rules");
    cf_cidr_t lo4 = {.family = AF_INET, .addr = {127}, .bits = 8};
    cf_cidr_t lo6 = {.family = AF_INET6, .addr = {[15] = 1}, .bits = 128};
    c->internal = tg_malloc(2 * sizeof *c->internal);
    c->internal[0] = lo4;
    c->internal[1] = lo6;
    c->ninternal = 2;
    c->max_scan = 1024 * 1024;
    c->max_depth = 20;
    c->max_parts = 1000;
    c->max_headers = 1000;
    c->max_header_len = 64 * 1024;
    c->match_limit = 1000000;
    c->scan_memo = FAST_MEMO_DEFAULT;
    c->scan_concurrency = ncpus();
    c->cache_dir = tg_strdup("/var/cache/tollgate");
    c->spf = 1;
    c->spf_timeout = 5;
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    c->authserv_id = tg_strdup(host);
    c->redis_url = tg_strdup("");
    c->spool_dir = tg_strdup("/var/spool/tollgate");
    c->flush_interval = 1;
    c->timezone = tg_strdup("UTC");
    c->syslog_facility = LOG_MAIL;
    c->log_hits = 1;
    return c;
}

int config_load(const char *path, config_t **out, char *err, size_t errlen)
{
    char *text;
    if (tg_read_file(path, &text, NULL, err, errlen) < 0)
        return -1;
    config_t *c = config_default();
    c->path = tg_strdup(path);
    cfgctx_t x = {.c = c, .file = path, .err = err, .errlen = errlen};
    int rc = 0;
    char *next;
    for (char *line = text; line && rc == 0; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        x.line++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        size_t len = strlen(line);
        while (len && isspace((unsigned char)line[len - 1]))
            line[--len] = '\0';
        char *k = line;
        while (isspace((unsigned char)*k))
            k++;
        if (!*k)
            continue;
        char *v = k;
        while (*v && !isspace((unsigned char)*v))
            v++;
        if (*v)
            *v++ = '\0';
        while (isspace((unsigned char)*v))
            v++;
        if (!*v && tg_strcasecmp(k, "RedisURL") && tg_strcasecmp(k, "SubjectPrefix") &&
            tg_strcasecmp(k, "RulesCacheDir"))
            rc = bad(&x, "%s needs a value", k);
        else
            rc = set_key(&x, k, v);
    }
    free(text);
    if (rc < 0) {
        config_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void config_free(config_t *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->socket);
    free(c->socket_owner);
    free(c->user);
    free(c->pidfile);
    for (size_t i = 0; i < c->nrules; i++)
        free(c->rules[i]);
    free(c->rules);
    free(c->internal);
    for (size_t i = 0; i < c->nlocal_domains; i++)
        free(c->local_domains[i]);
    free(c->local_domains);
    for (size_t i = 0; i < c->ntenants; i++) {
        free(c->tenants[i].name);
        for (size_t j = 0; j < c->tenants[i].ndomains; j++)
            free(c->tenants[i].domains[j]);
        free(c->tenants[i].domains);
    }
    free(c->tenants);
    for (size_t i = 0; i < c->ndaemon_dirs; i++)
        free(c->daemon_dirs[i].name);
    free(c->daemon_dirs);
    for (size_t i = 0; i < c->nspf_zone; i++)
        free(c->spf_zone[i]);
    free(c->spf_zone);
    free(c->cache_dir);
    free(c->authserv_id);
    free(c->subject_prefix);
    free(c->redis_url);
    free(c->spool_dir);
    free(c->timezone);
    free(c);
}
