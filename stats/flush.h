/*
 * flush — the flusher thread: the only place that touches the spool and
 * Redis. Every interval it takes the pending increments (stats_take), seals
 * them with the next sequence number, writes the batch to the spool and
 * fsyncs, then applies waiting batches to Redis in order with one script
 * each (batch_apply). A batch file is deleted once Redis has confirmed it
 * and, FLUSH_GRACE seconds later (past an AOF fsync), still reports a
 * sequence number at least as high; a Redis that lost it gets it again.
 * Redis down or slow: batches wait in the spool (at most FLUSH_MAX_PENDING
 * files; beyond that increments stay in memory), mail never waits, a
 * warning is logged when Redis goes away and every minute while it stays.
 * Batches apply strictly in order: one that cannot be read now holds back
 * the later ones; a damaged one is renamed to *.tgb.bad and logged (its
 * counts are not in Redis). An idle instance seals an empty batch every
 * FLUSH_HEARTBEAT seconds, so its watermark (report completeness) follows
 * the clock.
 */
#ifndef TG_FLUSH_H
#define TG_FLUSH_H

#include <stddef.h>
#include <stdint.h>

#define FLUSH_GRACE 3
#define FLUSH_MAX_PENDING 100000
/* Seconds without mail after which an empty batch advances the watermark. */
#define FLUSH_HEARTBEAT 60

/* Log sink: the daemon passes its syslog function. */
typedef void (*flush_log_fn)(int prio, const char *fmt, ...);

/* Opens the spool (replaying what a previous run left there) and starts
 * the thread. redis_url "redis://HOST:PORT[/DB]". 0, or -1 with err. */
int flush_start(const char *redis_url, const char *spool_dir, int interval_s,
                flush_log_fn log, char *err, size_t errlen);
/* Takes the last increments, spools them (even past FLUSH_MAX_PENDING) and
 * tries Redis once more (a few seconds at most); then stops the thread.
 * What Redis did not get stays in the spool for the next start. */
void flush_stop(void);
/* Idle seconds before an empty batch carries the watermark, and batch files
 * waiting at which the spool counts as full (0: the defaults
 * FLUSH_HEARTBEAT, FLUSH_MAX_PENDING). Call before flush_start. */
void flush_tune(int heartbeat_s, size_t max_pending);

typedef struct flush_stats {
    uint64_t spooled;    /* batches written since start */
    uint64_t applied;    /* batches Redis applied since start */
    uint64_t replays;    /* batches Redis already had: skipped (a no-op) */
    size_t pending;      /* batch files waiting now */
    uint64_t set_aside;  /* damaged batch files renamed to *.bad (counts lost) */
    int redis_up;
} flush_stats_t;

flush_stats_t flush_get_stats(void);

#endif
