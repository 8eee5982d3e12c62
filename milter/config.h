/*
 * config — tollgate.conf: one "Key value" per line, '#' comments, keys
 * case-insensitive. An unknown key, a bad value or a missing file is an
 * error "file:line: message". A config is immutable once loaded and
 * reference counted; SIGHUP builds a new one and swaps it in only if it
 * loads (with its rules) completely.
 *
 * Keys (defaults in brackets):
 *   Socket            unix:PATH | inet:PORT@HOST | inet6:PORT@HOST
 *                     [unix:/run/tollgate/tollgate.sock]
 *   SocketMode        octal mode of a unix socket [0660]
 *   SocketOwner       USER[:GROUP] of a unix socket [the daemon's user]
 *   UserID            USER[:GROUP] to run as after binding [do not change]
 *   PidFile           path [none]
 *   Rules             file, directory or glob; repeatable, or several per line
 *                     [PREFIX/share/tollgate/rules]
 *   InternalNetworks  CIDRs; repeatable [127.0.0.0/8 ::1/128]
 *   LocalDomains      domains (a domain covers its subdomains); repeatable
 *   Tenant            NAME DOMAIN...; repeatable
 *   DaemonDirection   NAME inbound|outbound|internal: the MTA's {daemon_name}
 *                     decides the direction for that listener; repeatable
 *   MaxScanSize       bytes of body scanned, K/M/G suffixes [1M]
 *   MaxMimeDepth [20] MaxMimeParts [1000] MaxHeaders [1000]
 *   MaxHeaderLength   [64K]
 *   MatchLimit        PCRE2 match limit per regex [1000000]
 *   ScanConcurrency   messages matched at once, the rest queue in arrival
 *                     order; auto = the number of CPUs, 0 = no limit [auto]
 *   Matcher           fast|oracle: Vectorscan core or PCRE2 per rule; both
 *                     give identical hits [fast]
 *   RulesCacheDir     compiled Vectorscan databases, so a restart with
 *                     unchanged rules skips the compile; empty = none
 *                     [/var/cache/tollgate]
 *   OnError           accept|tempfail: what an internal error does [tempfail]
 *   SPF               yes|no [yes]
 *   SPFTimeout        seconds per DNS query for SPF [5]
 *   SPFTestZone       FILE of "domain TXT|A|AAAA|MX data" lines: SPF answers
 *                     from these records only, never from DNS (for tests, like
 *                     OpenDKIM's TestDNSData) [none]
 *   AuthservID        the authserv-id of Authentication-Results [host name]
 *   SpamHeaders       all|spam|none: X-Spam-Status/Score on every message,
 *                     on tagged ones only, or never [all]
 *   SubjectPrefix     text put before the Subject of tagged mail [none]
 *   RedisURL          redis://HOST:PORT[/DB]; empty = counters in memory
 *                     only [empty]
 *   StatsSpoolDir     [/var/spool/tollgate]
 *   StatsFlushInterval seconds [1]
 *   TimeZone          zone of day/month buckets, e.g. Europe/London [UTC]
 *   SyslogFacility    mail|daemon|local0..local7 [mail]
 *   LogHits           yes|no: list rule hits in the per-message log line [yes]
 */
#ifndef TG_CONFIG_H
#define TG_CONFIG_H

#include <stddef.h>

#include "cf.h"   /* cf_cidr_t */

typedef enum config_dir {
    CONFIG_DIR_UNSET = 0, CONFIG_DIR_INBOUND, CONFIG_DIR_OUTBOUND,
    CONFIG_DIR_INTERNAL
} config_dir_t;

typedef enum config_headers {
    CONFIG_HDR_ALL = 0, CONFIG_HDR_SPAM, CONFIG_HDR_NONE
} config_headers_t;

typedef struct config_tenant {
    char *name;
    char **domains;
    size_t ndomains;
} config_tenant_t;

typedef struct config_daemon_dir {
    char *name;
    config_dir_t dir;
} config_daemon_dir_t;

/* Plain data, read-only after config_load. Owned by the config. */
typedef struct config {
    char *path;
    char *socket;
    unsigned socket_mode;
    char *socket_owner;
    char *user;
    char *pidfile;
    char **rules;
    size_t nrules;
    cf_cidr_t *internal;
    size_t ninternal;
    char **local_domains;
    size_t nlocal_domains;
    config_tenant_t *tenants;
    size_t ntenants;
    config_daemon_dir_t *daemon_dirs;
    size_t ndaemon_dirs;
    size_t max_scan;
    unsigned max_depth, max_parts, max_headers;
    size_t max_header_len;
    unsigned long match_limit;
    unsigned long scan_memo;  /* ScanMemo: the fast matcher's scan memo slots; 0 = none */
    unsigned scan_concurrency; /* ScanConcurrency, "auto" resolved; 0 = no limit */
    int matcher_oracle;       /* Matcher oracle */
    char *cache_dir;          /* RulesCacheDir; "" = none */
    int on_error_accept;      /* OnError accept (else tempfail) */
    int spf;
    int spf_timeout;
    char **spf_zone;          /* SPFTestZone records, or NULL */
    size_t nspf_zone;
    char *authserv_id;
    config_headers_t spam_headers;
    char *subject_prefix;
    char *redis_url;
    char *spool_dir;
    int flush_interval;
    char *timezone;
    int syslog_facility;
    int log_hits;
} config_t;

/* Loads `path`. 0, or -1 with "path:line: message" in err. */
int config_load(const char *path, config_t **out, char *err, size_t errlen);
/* Defaults only (no file): for tests and `-c /dev/null`. */
config_t *config_default(void);
void config_free(config_t *c);

#endif
