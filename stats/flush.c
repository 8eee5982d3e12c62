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
static time_t fl_full_logged;

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
 * memory (stats) and none is lost. */
static void spool_round(void)
{
    char err[512];
    size_t n;
    spool_pending(fl_spool, &n);
    if (n >= FLUSH_MAX_PENDING) {
        time_t now = time(NULL);
        if (now - fl_full_logged >= 60) {
            fl_log(LOG_ERR, "spool full (%zu batches): counters accumulate in memory until "
                   "Redis takes the spooled ones", n);
            fl_full_logged = now;
        }
        return;
    }
    if (!fl_held && !(fl_held = stats_take(&fl_held_wm)))
        return;
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
    pthread_mutex_lock(&fl_mu);
    fl_status.spooled++;
    pthread_mutex_unlock(&fl_mu);
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
        if (spool_load(fl_spool, seq, &b, err, sizeof err) < 0) {
            /* never half-apply: a damaged file is kept aside, loudly */
            fl_log(LOG_ERR, "spooled batch %llu unreadable, left in place: %s",
                   (unsigned long long)seq, err);
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
        spool_round();
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

flush_stats_t flush_get_stats(void)
{
    pthread_mutex_lock(&fl_mu);
    flush_stats_t s = fl_status;
    pthread_mutex_unlock(&fl_mu);
    return s;
}
