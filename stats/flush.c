#include "flush.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "batch.h"
#include "rconn.h"
#include "spool.h"
#include "stats.h"
#include "util.h"

/* Everything below belongs to the flusher thread, except what fl_mu
 * guards (stop flag, status). */
static pthread_t fl_thread;
static pthread_mutex_t fl_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fl_cond = PTHREAD_COND_INITIALIZER;
static int fl_stop, fl_running;
static flush_stats_t fl_status;

static spool_t *fl_spool;
static char *fl_url;
static int fl_interval;
static flush_log_fn fl_log;
static redisContext *fl_rc;
static time_t fl_down_logged;   /* last "Redis unreachable" warning */
static int fl_was_up = -1;
static batch_t *fl_held;        /* taken, not yet spooled (write failed) */
static int64_t fl_held_wm;
static int64_t fl_sealed_wm;    /* watermark of the last batch spooled */
static int fl_heartbeat = FLUSH_HEARTBEAT;
static size_t fl_max_pending = FLUSH_MAX_PENDING;
static time_t fl_full_logged;
static time_t fl_unreadable_logged;

/* Applied-but-not-yet-deleted batches: sequence number -> when applied. */
typedef struct mark {
    uint64_t seq;
    time_t at;
} mark_t;
static mark_t *fl_marks;
static size_t fl_nmarks, fl_mcap;

static time_t mark_get(uint64_t seq)
{
    for (size_t i = 0; i < fl_nmarks; i++)
        if (fl_marks[i].seq == seq)
            return fl_marks[i].at;
    return 0;
}

static void mark_set(uint64_t seq, time_t at)
{
    for (size_t i = 0; i < fl_nmarks; i++)
        if (fl_marks[i].seq == seq) {
            fl_marks[i].at = at;
            return;
        }
    tg_grow(&fl_marks, &fl_mcap, fl_nmarks + 1, sizeof *fl_marks);
    fl_marks[fl_nmarks++] = (mark_t){seq, at};
}

static void mark_drop(uint64_t seq)
{
    for (size_t i = 0; i < fl_nmarks; i++)
        if (fl_marks[i].seq == seq) {
            fl_marks[i] = fl_marks[--fl_nmarks];
            return;
        }
}

static void set_up(int up, const char *why)
{
    time_t now = time(NULL);
    size_t n;
    spool_pending(fl_spool, &n);
    if (up && fl_was_up != 1) {
        if (fl_was_up == 0)
            fl_log(LOG_NOTICE, "Redis is back: applying %zu spooled batches", n);
    } else if (!up && (fl_was_up != 0 || now - fl_down_logged >= 60)) {
        fl_log(LOG_WARNING, "counters not stored: %s; %zu batches wait in the spool, mail "
               "keeps flowing", why, n);
        fl_down_logged = now;
    }
    fl_was_up = up;
    pthread_mutex_lock(&fl_mu);
    fl_status.redis_up = up;
    fl_status.pending = n;
    pthread_mutex_unlock(&fl_mu);
}

/* Seals what stats recorded since the last round and spools it. A batch
 * that could not be written is retried first; while the spool is full or
 * failing nothing more is taken, so increments keep accumulating in
 * memory (stats) and none is lost. With nothing recorded, an empty batch
 * every fl_heartbeat seconds carries the watermark forward (an idle
 * instance is still complete up to now). final (the last round before the
 * process exits): the spool's size cap does not apply, and what was
 * recorded while a held batch waited is taken too -- memory is about to
 * go. */
static void spool_round(int final)
{
    char err[512];
    size_t n;
    spool_pending(fl_spool, &n);
    if (n >= fl_max_pending && !final) {
        time_t now = time(NULL);
        if (now - fl_full_logged >= 60) {
            fl_log(LOG_ERR, "spool full (%zu batches): counters accumulate in memory until "
                   "Redis takes the spooled ones", n);
            fl_full_logged = now;
        }
        return;
    }
    for (int pass = 0; pass < (final ? 2 : 1); pass++) {
        if (!fl_held) {
            int64_t wm;
            fl_held = stats_take(&wm);
            if (!fl_held) {
                if (wm - fl_sealed_wm < fl_heartbeat)
                    return;
                fl_held = batch_new("pending", 0, 0); /* the heartbeat */
            }
            fl_held_wm = wm;
        }
        uint64_t seq;
        if (spool_next_seq(fl_spool, &seq, err, sizeof err) < 0) {
            fl_log(LOG_ERR, "cannot spool counters (kept in memory, retried): %s", err);
            return;
        }
        batch_seal(fl_held, spool_sender(fl_spool), seq, fl_held_wm);
        if (spool_put(fl_spool, fl_held, err, sizeof err) < 0) {
            fl_log(LOG_ERR, "cannot spool counters (kept in memory, retried): %s", err);
            return;
        }
        batch_free(fl_held);
        fl_held = NULL;
        fl_sealed_wm = fl_held_wm;
        pthread_mutex_lock(&fl_mu);
        fl_status.spooled++;
        pthread_mutex_unlock(&fl_mu);
    }
}

/* Applies waiting batches in order; deletes confirmed ones. */
static void redis_round(void)
{
    char err[512];
    if (!fl_rc) {
        if (!(fl_rc = rconn_connect(fl_url, 1000, err, sizeof err))) {
            set_up(0, err);
            return;
        }
        /* evicted counters would be lost silently: say so once per
         * connection (a server that refuses CONFIG is not judged) */
        redisReply *r = redisCommand(fl_rc, "CONFIG GET maxmemory-policy");
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[1]->type == REDIS_REPLY_STRING &&
            strcmp(r->element[1]->str, "noeviction") != 0)
            fl_log(LOG_WARNING, "Redis at %s runs with maxmemory-policy %s: counters can be "
                   "evicted; use noeviction", fl_url, r->element[1]->str);
        freeReplyObject(r);
    }
    int64_t applied = batch_applied_seq(fl_rc, spool_sender(fl_spool), err, sizeof err);
    if (applied < 0) {
        redisFree(fl_rc);
        fl_rc = NULL;
        set_up(0, err);
        return;
    }
    set_up(1, NULL);
    time_t now = time(NULL);
    size_t n;
    const uint64_t *p = spool_pending(fl_spool, &n);
    uint64_t *seqs = tg_malloc((n + 1) * sizeof *seqs);
    if (n) /* p is NULL for an empty spool */
        memcpy(seqs, p, n * sizeof *seqs);
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = seqs[i];
        if ((int64_t)seq <= applied) {
            time_t at = mark_get(seq);
            if (!at) {
                /* Redis has it already (an earlier run applied it, or the
                 * file came back): a replay, skipped; delete after grace */
                mark_set(seq, now);
                pthread_mutex_lock(&fl_mu);
                fl_status.replays++;
                pthread_mutex_unlock(&fl_mu);
            } else if (now - at >= FLUSH_GRACE) {
                spool_remove(fl_spool, seq);
                mark_drop(seq);
            }
            continue;
        }
        batch_t *b;
        int lr = spool_load(fl_spool, seq, &b, err, sizeof err);
        if (lr == -3) {
            /* removed from outside (an admin, a second instance on the
             * same directory): nothing to wait for */
            fl_log(LOG_ERR, "spooled batch %llu vanished from the spool; its counts are not "
                   "in Redis unless it was applied", (unsigned long long)seq);
            spool_remove(fl_spool, seq);
            continue;
        }
        if (lr == -1) {
            /* cannot read it now (fds, memory, I/O): nothing after it may
             * be applied, or Redis's sequence number would pass it and it
             * would later pass for a replay; retried next round */
            if (now - fl_unreadable_logged >= 60) {
                fl_log(LOG_ERR, "spooled batch %llu cannot be read (retried; later batches "
                       "wait): %s", (unsigned long long)seq, err);
                fl_unreadable_logged = now;
            }
            break;
        }
        if (lr < 0) {
            /* malformed (it was written via rename after fsync, so this is
             * damage from outside): never half-applied, set aside loudly */
            char aside[4200], err2[512];
            if (spool_set_aside(fl_spool, seq, aside, sizeof aside, err2, sizeof err2) < 0) {
                fl_log(LOG_ERR, "spooled batch %llu is damaged and cannot be set aside "
                       "(later batches wait): %s; %s", (unsigned long long)seq, err, err2);
                break;
            }
            fl_log(LOG_ERR, "spooled batch %llu is damaged, its counts are NOT in Redis; set "
                   "aside as %s: %s", (unsigned long long)seq, aside, err);
            pthread_mutex_lock(&fl_mu);
            fl_status.set_aside++;
            pthread_mutex_unlock(&fl_mu);
            continue;
        }
        int r = batch_apply(fl_rc, b, err, sizeof err);
        batch_free(b);
        if (r < 0) {
            redisFree(fl_rc);
            fl_rc = NULL;
            set_up(0, err);
            break;
        }
        mark_set(seq, now);
        applied = (int64_t)seq;
        pthread_mutex_lock(&fl_mu);
        if (r == 1)
            fl_status.applied++;
        else
            fl_status.replays++;
        pthread_mutex_unlock(&fl_mu);
    }
    free(seqs);
    spool_pending(fl_spool, &n);
    pthread_mutex_lock(&fl_mu);
    fl_status.pending = n;
    pthread_mutex_unlock(&fl_mu);
}

static void *flush_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&fl_mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += fl_interval;
        while (!fl_stop) {
            if (pthread_cond_timedwait(&fl_cond, &fl_mu, &until) == ETIMEDOUT)
                break;
        }
        int stop = fl_stop;
        pthread_mutex_unlock(&fl_mu);
        spool_round(stop);
        redis_round();
        if (stop)
            break;
    }
    return NULL;
}

int flush_start(const char *redis_url, const char *spool_dir, int interval_s,
                flush_log_fn log, char *err, size_t errlen)
{
    if (fl_running)
        return tg_err(err, errlen, "flusher already running");
    if (spool_open(spool_dir, &fl_spool, err, errlen) < 0)
        return -1;
    fl_url = tg_strdup(redis_url);
    fl_interval = interval_s > 0 ? interval_s : 1;
    fl_log = log;
    fl_stop = 0;
    memset(&fl_status, 0, sizeof fl_status); /* figures of this run only */
    fl_sealed_wm = (int64_t)time(NULL); /* the first heartbeat comes fl_heartbeat s after start */
    size_t n;
    spool_pending(fl_spool, &n);
    if (n)
        log(LOG_NOTICE, "%zu spooled counter batches from an earlier run will be applied", n);
    stats_set_pending(1);
    if (pthread_create(&fl_thread, NULL, flush_main, NULL) != 0) {
        spool_close(fl_spool);
        fl_spool = NULL;
        return tg_err(err, errlen, "cannot start the flusher thread");
    }
    fl_running = 1;
    return 0;
}

void flush_stop(void)
{
    if (!fl_running)
        return;
    pthread_mutex_lock(&fl_mu);
    fl_stop = 1;
    pthread_cond_signal(&fl_cond);
    pthread_mutex_unlock(&fl_mu);
    pthread_join(fl_thread, NULL);
    fl_running = 0;
    redisFree(fl_rc);
    fl_rc = NULL;
    if (fl_held)
        fl_log(LOG_ERR, "counters of the last seconds could not be spooled and are lost");
    batch_free(fl_held);
    fl_held = NULL;
    spool_close(fl_spool);
    fl_spool = NULL;
    free(fl_url);
    fl_url = NULL;
    free(fl_marks);
    fl_marks = NULL;
    fl_nmarks = fl_mcap = 0;
}

void flush_tune(int heartbeat_s, size_t max_pending)
{
    fl_heartbeat = heartbeat_s > 0 ? heartbeat_s : FLUSH_HEARTBEAT;
    fl_max_pending = max_pending > 0 ? max_pending : FLUSH_MAX_PENDING;
}

flush_stats_t flush_get_stats(void)
{
    pthread_mutex_lock(&fl_mu);
    flush_stats_t s = fl_status;
    pthread_mutex_unlock(&fl_mu);
    return s;
}
