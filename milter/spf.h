/*
 * spf — Sender Policy Framework checks at MAIL FROM, with libspf2.
 *
 * libspf2 server objects are not shared between threads: spf_thread()
 * gives each thread its own, made on first use and freed when the thread
 * exits. DNS goes through the system resolver; spf_init bounds every query
 * (RES_OPTIONS timeout/attempts, read by res_ninit in each thread).
 * Tests build a server over libspf2's in-process zone layer instead.
 */
#ifndef TG_SPF_H
#define TG_SPF_H

#include <stddef.h>

#include "rules.h"

typedef struct spf_ctx spf_ctx_t;

typedef struct spf_result {
    rules_spf_t result;
    int helo_identity;       /* checked the HELO name (null sender) */
    char identity[256];      /* domain checked: for Authentication-Results */
} spf_result_t;

/* Once, before any thread: DNS timeout per query in seconds. With
 * zone records (SPFTestZone), every thread's context answers from them
 * instead of DNS; the records are copied. */
void spf_init(int timeout_seconds, const char *const *zone, size_t nzone);
/* The calling thread's resolver-backed context. Never NULL. */
spf_ctx_t *spf_thread(void);

/* A context answering from the given records only, for tests: each entry
 * is "domain TXT text" or "domain A 192.0.2.1". Caller frees. */
spf_ctx_t *spf_new_zone(const char *const *records, size_t n);
void spf_free(spf_ctx_t *c);

/* Checks mail_from ("" = null sender: the HELO identity is checked, as
 * RFC 7208 section 2.3 says) for client ip. Never fails: problems become
 * temperror/permerror/none as libspf2 reports them. */
void spf_check(spf_ctx_t *c, const char *ip, const char *helo,
               const char *mail_from, spf_result_t *out);


#endif
