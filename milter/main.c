/*
 * tollgate — the milter daemon.
 *
 *   tollgate [-c FILE] [-p SOCKET] [-f] [-t] [-V]
 *
 * Start-up: load config and rules (a failure is fatal and names
 * file:line), open the socket as the starting user (root), set its mode and
 * owner, write the PID file, drop to UserID, then serve. SIGHUP reloads
 * config and rules; a broken file is logged and the running snapshot stays.
 * SIGTERM/SIGINT: the messages in progress get their verdict (30 s at
 * most), then libmilter stops; the counters are logged and it exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "callbacks.h"
#include "fast.h"
#include "hsscan.h"
#include "flush.h"
#include "keys.h"
#include "log.h"
#include "net.h"
#include "spf.h"
#include "state.h"
#include "stats.h"
#include "util.h"

#ifndef TG_SYSCONFDIR
#define TG_SYSCONFDIR "/etc/tollgate"
#endif

static const char *conf_path = TG_SYSCONFDIR "/tollgate.conf";
static const char *socket_override;

/* Polls count() every 50 ms until it is 0, for at most 30 s. */
static void wait_for_none(int (*count)(void))
{
    for (int i = 0; i < 600 && count() > 0; i++) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/*
 * Before libmilter hears of a SIGTERM or SIGINT: its signal thread then
 * stops it (MILTER_STOP, MILTER_ABRT for SIGINT), and Debian's libmilter,
 * which serves sessions from a pool of worker threads, stops serving them
 * at once: a message between its body and its verdict got a broken
 * connection (test: miltertest's read returned -1), and the MTA applies
 * its milter default action. So first the messages already in progress
 * get their verdict: at most 30 s, while libmilter still serves every
 * connection (messages begun meanwhile are served too, not waited for).
 * Runs in libmilter's signal thread.
 */
static void drain(void)
{
    cb_drain_begin();
    int n = cb_pending();
    if (n > 0)
        tglog(LOG_NOTICE, "stopping: %d messages in progress get their verdict first "
              "(30 s at most)", n);
    wait_for_none(cb_pending);
}

/*
 * libmilter's own signal thread sigwait()s for SIGHUP, SIGTERM and SIGINT
 * and treats SIGHUP like SIGTERM: it would stop the daemon instead of
 * reloading it. This definition of sigwait, exported from the executable
 * (-Wl,--export-dynamic-symbol=sigwait), takes precedence over libc's for
 * libmilter and leaves SIGHUP out of every set; tollgate's reload thread
 * takes SIGHUP with sigwaitinfo(), which is not interposed. Returns like
 * sigwait(3): 0 or an error number.
 */
int sigwait(const sigset_t *set, int *sig)
{
    sigset_t s = *set;
    sigdelset(&s, SIGHUP);
    for (;;) {
        int r = sigwaitinfo(&s, NULL);
        if (r > 0) {
            if (r == SIGTERM || r == SIGINT)
                drain();
            *sig = r;
            return 0;
        }
        if (errno != EINTR)
            return errno;
    }
}

/* The fast matcher for a provisional first snapshot (state_load quick):
 * built here, off the message threads, then installed as a reload would
 * be; until then the oracle matcher answers, with the same verdicts. */
static double secs_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A full load of the configuration and rules (fast matcher included) for
 * the reload thread; *t0 = when it began. */
static int load_full(state_t **s, struct timespec *t0, char *err, size_t errlen)
{
    clock_gettime(CLOCK_MONOTONIC, t0);
    return state_load(conf_path, socket_override, 0, s, err, errlen);
}

static void upgrade_to_fast(void)
{
    state_t *s;
    char err[1024];
    struct timespec t0;
    if (load_full(&s, &t0, err, sizeof err) < 0) {
        tglog(LOG_ERR, "fast matcher not built, the oracle matcher keeps answering: %s", err);
        return;
    }
    state_install(s);
    double secs = secs_since(&t0);
    const fast_t *f = rules_get_fast(s->rules);
    const fast_build_info_t *fi = f ? fast_get_info(f) : NULL;
    tglog(LOG_NOTICE, "fast matcher ready: %zu regex rules in %zu databases (%zu of %zu classes "
          "from the cache) after %.1f s; scan memo %zu slots", fi ? fi->rules : 0,
          fi ? fi->databases : 0, fi ? fi->cache_hits : 0, fi ? fi->classes : 0, secs,
          fi ? fi->memo_slots : 0);
    if (f && hsscan_warning())
        tglog(LOG_WARNING, "%s", hsscan_warning());
}

/* Both NULL, or equal strings. */
static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The same SPFTestZone records. */
static int same_zone(const config_t *a, const config_t *b)
{
    if (a->nspf_zone != b->nspf_zone)
        return 0;
    for (size_t i = 0; i < a->nspf_zone; i++)
        if (!same_str(a->spf_zone[i], b->spf_zone[i]))
            return 0;
    return 1;
}

static void *reload_thread(void *arg)
{
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    if (arg) /* SIGHUPs meanwhile wait their turn */
        upgrade_to_fast();
    for (;;) {
        if (sigwaitinfo(&hup, NULL) != SIGHUP)
            continue;
        state_t *old = state_acquire();
        state_t *s;
        char err[1024];
        struct timespec t0;
        if (load_full(&s, &t0, err, sizeof err) < 0) {
            tglog(LOG_ERR, "reload failed, keeping the running configuration and rules: %s", err);
        } else {
            if (old && strcmp(old->cfg->socket, s->cfg->socket))
                tglog(LOG_WARNING, "Socket changed to %s: takes effect at the next restart",
                      s->cfg->socket);
            if (old && (strcmp(old->cfg->redis_url, s->cfg->redis_url) ||
                        strcmp(old->cfg->spool_dir, s->cfg->spool_dir) ||
                        strcmp(old->cfg->timezone, s->cfg->timezone) ||
                        old->cfg->flush_interval != s->cfg->flush_interval))
                tglog(LOG_WARNING, "RedisURL, StatsSpoolDir, TimeZone or StatsFlushInterval "
                      "changed: takes effect at the next restart");
            if (old && (old->cfg->syslog_facility != s->cfg->syslog_facility ||
                        old->cfg->spf_timeout != s->cfg->spf_timeout ||
                        old->cfg->socket_mode != s->cfg->socket_mode ||
                        !same_str(old->cfg->socket_owner, s->cfg->socket_owner) ||
                        !same_str(old->cfg->user, s->cfg->user) ||
                        !same_str(old->cfg->pidfile, s->cfg->pidfile) ||
                        !same_zone(old->cfg, s->cfg)))
                tglog(LOG_WARNING, "SyslogFacility, SPFTimeout, SPFTestZone, SocketMode, "
                      "SocketOwner, UserID or PidFile changed: takes effect at the next restart");
            state_install(s);
            const rules_info_t *in = rules_get_info(s->rules);
            tglog(LOG_NOTICE, "reloaded %s: %zu rules (%zu regex, %zu meta) in %.0f ms",
                  conf_path, in->loaded, in->loaded_regex, in->loaded_meta,
                  secs_since(&t0) * 1e3);
        }
        state_release(old);
    }
    return NULL;
}

static int lookup_user(const char *spec, uid_t *uid, gid_t *gid, char *name, size_t nlen,
                       char *err, size_t errlen)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    char *grp = strchr(buf, ':');
    if (grp)
        *grp++ = '\0';
    struct passwd *pw = getpwnam(buf);
    if (!pw)
        return tg_err(err, errlen, "unknown user '%s'", buf);
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    snprintf(name, nlen, "%s", pw->pw_name);
    if (grp) {
        struct group *gr = getgrnam(grp);
        if (!gr)
            return tg_err(err, errlen, "unknown group '%s'", grp);
        *gid = gr->gr_gid;
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tollgate [-c FILE] [-p SOCKET] [-f] [-t] [-V]\n"
               "  -c FILE    configuration (default %s)\n"
               "  -p SOCKET  listen here instead of the configured Socket\n"
               "  -f         stay in the foreground and log to stderr too\n"
               "  -t         check the configuration and rules, then exit\n"
               "  -V         print the version\n", TG_SYSCONFDIR "/tollgate.conf");
}

int main(int argc, char **argv)
{
    int foreground = 0, test_only = 0, opt;
    while ((opt = getopt(argc, argv, "c:p:ftVh")) != -1) {
        switch (opt) {
        case 'c': conf_path = optarg; break;
        case 'p': socket_override = optarg; break;
        case 'f': foreground = 1; break;
        case 't': test_only = 1; break;
        case 'V': printf("tollgate %s (libmilter, PCRE2)\n", TG_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    char err[1024];
    state_t *st;
    /* listening within a second: a cold compile of big rule sets takes
     * minutes, and the oracle matcher gives the same verdicts meanwhile */
    if (state_load(conf_path, socket_override, 1, &st, err, sizeof err) < 0) {
        fprintf(stderr, "tollgate: %s\n", err);
        return 1;
    }
    const config_t *cfg = st->cfg;
    const rules_info_t *in = rules_get_info(st->rules);
    if (test_only) {
        printf("%s: OK; socket %s; %zu rules (%zu regex, %zu meta; %zu eval and %zu "
               "unsupported skipped, %zu rejected by PCRE2)\n", conf_path, cfg->socket,
               in->loaded, in->loaded_regex, in->loaded_meta, in->skipped_eval,
               in->skipped_unsupported, in->rejected);
        state_release(st);
        return 0;
    }
    uid_t uid = 0;
    gid_t gid = 0;
    char uname[256] = "";
    if (cfg->user && lookup_user(cfg->user, &uid, &gid, uname, sizeof uname, err, sizeof err) < 0) {
        fprintf(stderr, "tollgate: UserID: %s\n", err);
        return 1;
    }
    tglog_open(cfg->syslog_facility, foreground);
    if (keys_set_timezone(cfg->timezone) < 0) {
        fprintf(stderr, "tollgate: unknown TimeZone %s\n", cfg->timezone);
        return 1;
    }
    spf_init(cfg->spf_timeout, (const char *const *)cfg->spf_zone, cfg->nspf_zone);
    stats_init();
    if (!foreground && daemon(0, 0) != 0) {
        fprintf(stderr, "tollgate: cannot detach: %s\n", strerror(errno));
        return 1;
    }

    /* Every thread blocks these; SIGHUP is taken by the reload thread,
     * SIGTERM/SIGINT by libmilter's signal thread (through sigwait above).
     * Blocked before any thread exists so that all inherit the mask. A dead
     * MTA connection must not kill us either. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    const char *sock = cfg->socket;
    int is_unix = !strncmp(sock, "unix:", 5) || !strncmp(sock, "local:", 6);
    if (smfi_register(*cb_desc()) == MI_FAILURE || smfi_setconn((char *)sock) == MI_FAILURE) {
        tglog(LOG_ERR, "cannot register the filter on %s", sock);
        return 1;
    }
    smfi_setbacklog(128);
    smfi_settimeout(300);
    if (smfi_opensocket(1) == MI_FAILURE) {
        tglog(LOG_ERR, "cannot open socket %s (in use, or no permission?)", sock);
        return 1;
    }
    const char *path = is_unix ? strchr(sock, ':') + 1 : NULL;
    if (is_unix) {
        chmod(path, cfg->socket_mode);
        uid_t ou = cfg->user ? uid : getuid();
        gid_t og = cfg->user ? gid : getgid();
        if (cfg->socket_owner) {
            char oname[256];
            if (lookup_user(cfg->socket_owner, &ou, &og, oname, sizeof oname, err, sizeof err) < 0) {
                tglog(LOG_ERR, "SocketOwner: %s", err);
                return 1;
            }
        }
        if (chown(path, ou, og) != 0)
            tglog(LOG_WARNING, "cannot chown %s: %s", path, strerror(errno));
    } else if (net_nodelay_listeners() == 0) {
        tglog(LOG_WARNING, "could not set TCP_NODELAY on the listening socket");
    }
    if (cfg->pidfile) {
        FILE *pf = fopen(cfg->pidfile, "w");
        if (!pf) {
            tglog(LOG_ERR, "cannot write PID file %s: %s", cfg->pidfile, strerror(errno));
            return 1;
        }
        fprintf(pf, "%ld\n", (long)getpid());
        fclose(pf);
    }
    int use_redis = cfg->redis_url && *cfg->redis_url;
    if (use_redis) {
        /* made as root, handed to the user the daemon is about to become */
        if (mkdir(cfg->spool_dir, 0750) != 0 && errno != EEXIST) {
            tglog(LOG_ERR, "StatsSpoolDir %s: %s", cfg->spool_dir, strerror(errno));
            return 1;
        }
        if (cfg->user && getuid() == 0 && chown(cfg->spool_dir, uid, gid) != 0)
            tglog(LOG_WARNING, "cannot chown %s: %s", cfg->spool_dir, strerror(errno));
    }
    /* the fast matcher is built after the switch to UserID, and reloads
     * too: the rules cache must be theirs */
    if (cfg->user && getuid() == 0 && *cfg->cache_dir &&
        ((mkdir(cfg->cache_dir, 0755) != 0 && errno != EEXIST) ||
         chown(cfg->cache_dir, uid, gid) != 0))
        tglog(LOG_WARNING, "cannot make %s %s's: %s", cfg->cache_dir, cfg->user, strerror(errno));
    if (cfg->user && getuid() == 0) {
        if (initgroups(uname, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
            tglog(LOG_ERR, "cannot switch to user %s: %s", cfg->user, strerror(errno));
            return 1;
        }
    }
    if (use_redis && flush_start(cfg->redis_url, cfg->spool_dir, cfg->flush_interval, tglog,
                                 err, sizeof err) < 0) {
        tglog(LOG_ERR, "counters: %s", err);
        return 1;
    }
    /* Said before state_install: from then on the reload thread may
     * replace st and free it, with cfg, sock and in. */
    char conc[64] = "no limit";
    if (cfg->scan_concurrency)
        snprintf(conc, sizeof conc, "at most %u", cfg->scan_concurrency);
    tglog(LOG_NOTICE, "tollgate %s listening on %s: %zu rules (%zu regex, %zu meta; %zu eval "
          "and %zu unsupported skipped, %zu rejected by PCRE2); messages matched at once: "
          "%s", TG_VERSION, sock, in->loaded, in->loaded_regex, in->loaded_meta,
          in->skipped_eval, in->skipped_unsupported, in->rejected, conc);
    /* after state_install a reload may free st: keep what shutdown needs */
    char *pidfile = cfg->pidfile ? tg_strdup(cfg->pidfile) : NULL;
    char *sockpath = path ? tg_strdup(path) : NULL;
    int provisional = st->provisional;
    state_install(st);
    pthread_t rt;
    pthread_create(&rt, NULL, reload_thread, provisional ? &provisional : NULL);
    pthread_detach(rt);

    int rc = smfi_main();

    /* Stopped (drain() ran first). libmilter aborts the sessions left, and
     * their abort callbacks free the messages: wait for that (bounded).
     * Not for idle connections: a stopped libmilter leaves one whose QUIT
     * came just before the stop unserved (seen in tests: the connection in
     * CLOSE-WAIT, the QUIT unread), and waiting for it cost 30 s. */
    wait_for_none(cb_in_message);
    flush_stop();   /* the last counters go to the spool, and to Redis if it answers */
    char sum[1024];
    stats_summary(sum, sizeof sum);
    tglog(LOG_NOTICE, "stopping (%d sessions open, %d messages unfinished); counters: %s",
          cb_active(), cb_in_message(), sum);
    if (use_redis) {
        flush_stats_t fs = flush_get_stats();
        tglog(LOG_NOTICE, "counter batches: spooled=%llu applied=%llu replayed=%llu pending=%zu "
              "set_aside=%llu", (unsigned long long)fs.spooled, (unsigned long long)fs.applied,
              (unsigned long long)fs.replays, fs.pending, (unsigned long long)fs.set_aside);
    }
    if (pidfile)
        unlink(pidfile);
    free(pidfile);
    if (sockpath)
        unlink(sockpath);
    free(sockpath);
    return rc == MI_SUCCESS ? 0 : 1;
}
