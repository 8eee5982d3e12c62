/*
 * spool — the directory where batches wait, fsynced, until Redis has them
 * (StatsSpoolDir). Owns this instance's identity: the sender name
 * "hostname:id" (id made once, kept in DIR/instance-id) and the next
 * sequence number: at least the current time in microseconds, and above
 * every number handed out before (DIR/seq, persisted before a batch with
 * that number is written), so a number is never reused, even if DIR/seq is
 * lost; gaps are harmless.
 * Used by one thread (the flusher) at a time.
 */
#ifndef TG_SPOOL_H
#define TG_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"

typedef struct spool spool_t;

/* Opens (creating) dir. 0, or -1 with err. */
int spool_open(const char *dir, spool_t **out, char *err, size_t errlen);
void spool_close(spool_t *sp);

const char *spool_sender(const spool_t *sp);
/* Reserves the next sequence number (persisted). 0, or -1 with err. */
int spool_next_seq(spool_t *sp, uint64_t *seq, char *err, size_t errlen);
/* Writes b as the file of its sequence number. */
int spool_put(spool_t *sp, const batch_t *b, char *err, size_t errlen);
/* Sequence numbers of the batches waiting, ascending; *n set. The array
 * belongs to sp and is valid until the next spool call. */
const uint64_t *spool_pending(spool_t *sp, size_t *n);
/* batch_read of the batch's file: 0, -1 (cannot read it now), -2
 * (malformed: see spool_set_aside) or -3 (gone: see spool_remove). */
int spool_load(spool_t *sp, uint64_t seq, batch_t **out, char *err, size_t errlen);
void spool_remove(spool_t *sp, uint64_t seq);
/* Renames the batch's file to BATCH.tgb.bad (kept for the admin, no longer
 * pending) and writes that path to aside. 0, or -1 with err (the file then
 * stays pending). */
int spool_set_aside(spool_t *sp, uint64_t seq, char *aside, size_t asidelen, char *err,
                    size_t errlen);
/* Bytes of batch files waiting. */
uint64_t spool_bytes(spool_t *sp);

#endif
