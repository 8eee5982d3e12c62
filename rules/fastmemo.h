/*
 * fastmemo — a bounded, process-wide memo of Vectorscan scan reports for
 * strings that come back from message to message.
 *
 * Mail repeats itself across messages, not within one: the same
 * disclaimer, list footer, tracking link or campaign paragraph arrives in
 * thousands of messages. Over ../shared/corpus, in corpus order, 16% of
 * the ASCII body bytes and 47% of the uri bytes belong to a string an
 * earlier message had, against under 1% within a message. The fast
 * matcher's time is mostly its scans (77%), and a scan's reports depend
 * only on the database and the string, so for such a string it replays
 * the reports of the earlier scan instead of scanning again; everything
 * after the scan (PCRE2 confirms, counting, the PCRE-path rules) runs as
 * before, so the values are those of a scan. The caller may store its
 * PCRE2 outcomes on the string with the reports (fastmemo_out_t) and take
 * them back instead of running PCRE2 again: an outcome is a function of
 * the rule, the string and the bound counted to.
 *
 * One memo per compiled ruleset (fast_t), shared by every thread that
 * matches with it: a daemon's scratch lives as long as one SMTP
 * connection, a per-thread memo would forget a string before it came
 * back. It is direct-mapped (a string's slot is its hash modulo the slot
 * count; a new string replaces the old), holds strings of at most
 * FASTMEMO_MAX_LEN bytes and entries of at most FASTMEMO_MAX_REPS
 * reports, and compares the whole string, so a hash collision is a miss,
 * never a wrong answer. Memory: at most slots * (FASTMEMO_MAX_LEN + the
 * reports + the outcomes: some 3.2 KB) bytes, far less in practice.
 *
 * Each string is looked up under a tag (the fast matcher's class), and
 * the memo keeps each tag's hit rate: a tag whose strings almost never
 * come back (Received, Message-ID, the whole header block) is then looked
 * up only for one string in FASTMEMO_PROBE (fastmemo_admit), which keeps
 * watching it, so that a miss's cost (hash, lookup, copy: some 0.2 us) is
 * not paid for nothing on every such string.
 *
 * No caller ever waits: each slot has a try-lock; a lookup or a store
 * that finds its slot busy (another thread in it) gives up, and the
 * caller scans. All functions are thread-safe except fastmemo_free.
 */
#ifndef TG_FASTMEMO_H
#define TG_FASTMEMO_H

#include <stddef.h>
#include <stdint.h>

#define FASTMEMO_MAX_LEN 2048
#define FASTMEMO_MAX_REPS 48
/* A tag is cold once FASTMEMO_COLD_TRIES lookups found under 1 in
 * FASTMEMO_COLD_RATE; then one string in FASTMEMO_PROBE is looked up. The
 * counts halve past FASTMEMO_DECAY lookups, so the rate follows the mail. */
#define FASTMEMO_COLD_TRIES 256
#define FASTMEMO_COLD_RATE 32
#define FASTMEMO_PROBE 16
#define FASTMEMO_DECAY 4096

/* One scan report: the Vectorscan id and the end offset (< 2^32: the
 * string is at most FASTMEMO_MAX_LEN bytes). */
typedef struct fastmemo_rep {
    unsigned id;
    unsigned to;
} fastmemo_rep_t;

/* A PCRE2 outcome the caller had on the string after its scan, kept with
 * the reports (at most FASTMEMO_MAX_OUTS a string): the caller's rule,
 * the bound it counted to (0: none) and the count (at most the bound). */
#define FASTMEMO_MAX_OUTS 64
typedef struct fastmemo_out {
    unsigned rule;
    unsigned max;
    unsigned count;
} fastmemo_out_t;

typedef struct fastmemo fastmemo_t;

/* A memo of nslots slots (rounded up to a power of two, at least 64) for
 * tags 0..ntags-1. Never NULL (allocation failure aborts, as tg_malloc
 * does). */
fastmemo_t *fastmemo_new(size_t nslots, unsigned ntags);

/* How many slots m has. */
size_t fastmemo_slots(const fastmemo_t *m);

/* Frees every entry and m. No other thread may use m. NULL is a no-op. */
void fastmemo_free(fastmemo_t *m);

/* Whether to look up tag's next string: 1 unless the tag is cold (see
 * top), and then for one call in FASTMEMO_PROBE. */
int fastmemo_admit(fastmemo_t *m, unsigned tag);

/* Empties the memo and forgets the tags' hit rates (the benchmark's
 * passes each start as a new daemon). Waits for
 * slots busy in other threads: not for message threads. */
void fastmemo_clear(fastmemo_t *m);

/* The hash of a string scanned for tag (a caller's namespace: the fast
 * matcher passes the class's index, whose databases the string's bytes
 * then choose between). */
uint64_t fastmemo_hash(unsigned tag, const char *s, size_t len);

/* The reports stored for (tag, s[0..len)) with hash h: their count
 * (copied to out[0..count), out has room for FASTMEMO_MAX_REPS), or -1
 * where the memo does not hold it or its slot is busy; with them the
 * outcomes stored (copied to outs[0..*nouts), room for
 * FASTMEMO_MAX_OUTS). Counts in tag's hit rate. */
int fastmemo_get(fastmemo_t *m, uint64_t h, unsigned tag, const char *s, size_t len,
                 fastmemo_rep_t *out, fastmemo_out_t *outs, size_t *nouts);

/* Hints that (a string with hash h) will be looked up soon: the first
 * loads its slot into the caches (call it a scan ahead), the second the
 * entry that slot holds if it may be that string's (call it once the
 * slot has had time to arrive). No effect on results; any thread. */
void fastmemo_prefetch(const fastmemo_t *m, uint64_t h);
void fastmemo_prefetch_entry(fastmemo_t *m, uint64_t h);

/* Stores reps[0..n) as the scan reports of (tag, s[0..len)) with hash h,
 * and the first FASTMEMO_MAX_OUTS of outs[0..nouts), replacing the slot's
 * entry; nothing where len > FASTMEMO_MAX_LEN, n > FASTMEMO_MAX_REPS or
 * the slot is busy. Copies s, reps and outs. */
void fastmemo_put(fastmemo_t *m, uint64_t h, unsigned tag, const char *s, size_t len,
                  const fastmemo_rep_t *reps, size_t n, const fastmemo_out_t *outs,
                  size_t nouts);

#endif
