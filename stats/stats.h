/*
 * stats — per-message counters, recorded in memory by message threads.
 *
 * stats_record never does I/O and holds one mutex for a few microseconds:
 * it adds the message to totals since start and, when counters go to
 * Redis, to the pending batch (key schema in stats/README.md) that the
 * flusher (flush.h) takes, spools and applies. stats knows nothing of
 * rules internals: it receives a finished record.
 */
#ifndef TG_STATS_H
#define TG_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { STATS_IN = 0, STATS_OUT, STATS_INT, STATS_NDIR };
/* One primary verdict per message: these sum to msgs. */
enum { STATS_V_CLEAN = 0, STATS_V_TAGGED, STATS_V_SPAM, STATS_V_SECURITY,
       STATS_V_POLICY, STATS_V_TEMPFAIL, STATS_NVERDICT };
enum { STATS_A_ACCEPT = 0, STATS_A_REJECT, STATS_A_DISCARD, STATS_A_QUARANTINE,
       STATS_A_TEMPFAIL, STATS_NACTION };

typedef struct stats_rec {
    int dir;                     /* STATS_IN / OUT / INT */
    const char *const *tenants;  /* tenant names, may be empty */
    size_t ntenants;
    unsigned rcpts;
    uint64_t bytes;
    int verdict;                 /* STATS_V_* */
    int action;                  /* STATS_A_* */
    const char *const *hits;     /* rule names that hit */
    size_t nhits;
    double seconds;              /* classification time */
} stats_rec_t;

typedef struct stats_counts {
    uint64_t msgs, rcpts, bytes;
    uint64_t verdict[STATS_NVERDICT];
    uint64_t action[STATS_NACTION];
} stats_counts_t;

#include "batch.h"

/* Idempotent. With pending = 1 every record is also folded into the
 * pending batch that stats_take hands to the flusher (only when counters
 * go to Redis: otherwise they would pile up). */
void stats_init(void);
void stats_set_pending(int on);
/* Records one message at the current time. No I/O. */
void stats_record(const stats_rec_t *r);
/* Takes the increments recorded since the last call (NULL if none): a
 * batch to seal, owned by the caller. *watermark is the time up to which
 * every record is in this batch or an earlier one. */
batch_t *stats_take(int64_t *watermark);
/* Totals for tenant (NULL = "_all") and direction since start. */
stats_counts_t stats_get(const char *tenant, int dir);
/* Hits of one rule since start (all directions). */
uint64_t stats_rule_hits(const char *rule);
/* Writes a one-line summary per direction of _all (for the shutdown log). */
void stats_summary(char *buf, size_t len);
void stats_shutdown(void);

const char *stats_dir_name(int dir);
const char *stats_verdict_name(int v);
const char *stats_action_name(int a);

#endif
