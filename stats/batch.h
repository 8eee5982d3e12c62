/*
 * batch — one unit of counter increments from one sender, as written to the
 * spool and applied to Redis exactly once (see stats/README.md).
 *
 * A batch is plain data built by the flusher (or a test generator): a
 * sender, a sequence number, a watermark, tenant names, HINCRBY triples and
 * EXPIREAT pairs. Keys are full Redis keys ("tg:v1:..."). batch_apply runs
 * one Lua script that validates every argument before any write and skips a
 * sequence number Redis has already applied for that sender.
 */
#ifndef TG_BATCH_H
#define TG_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

typedef struct batch batch_t;

batch_t *batch_new(const char *sender, uint64_t seq, int64_t watermark);
/* Stamps a batch that was filled before its number was known. */
void batch_seal(batch_t *b, const char *sender, uint64_t seq, int64_t watermark);
void batch_free(batch_t *b);

/* Adds delta to key/field (merged with an earlier increment of the same
 * key/field). */
void batch_incr(batch_t *b, const char *key, const char *field, int64_t delta);
/* Sets the key's expiry (the latest time given wins). */
void batch_expire(batch_t *b, const char *key, int64_t unix_time);
void batch_add_tenant(batch_t *b, const char *tenant);

const char *batch_sender(const batch_t *b);
uint64_t batch_seq(const batch_t *b);
int64_t batch_watermark(const batch_t *b);
size_t batch_nincr(const batch_t *b);
/* 1 if nothing would be written. */
int batch_empty(const batch_t *b);

/* Writes the batch to path (via path.tmp, fsync, rename, fsync of the
 * directory). 0, or -1 with err. */
int batch_write(const batch_t *b, const char *path, char *err, size_t errlen);
/* Reads a batch file. 0; -1 if the file cannot be read now (open or read
 * failed: errno-type trouble, worth a retry); -2 if it is truncated or
 * malformed (it never will be readable); -3 if it does not exist. err says
 * why. */
int batch_read(const char *path, batch_t **out, char *err, size_t errlen);

/* Applies the batch with the Lua script (EVALSHA, EVAL on NOSCRIPT).
 * Call from one thread at a time (the script SHA is cached process-wide).
 * Returns 1 if applied now, 0 if Redis had already applied this sequence
 * number, -1 on error (err says why; the connection may be unusable). */
int batch_apply(redisContext *rc, const batch_t *b, char *err, size_t errlen);

/* The sequence number Redis last applied for sender: >= 0, or -1 on error. */
int64_t batch_applied_seq(redisContext *rc, const char *sender, char *err, size_t errlen);

#endif
