/*
 * state — the daemon's current snapshot: configuration, compiled rules and
 * what is derived from them. Immutable and reference counted: every
 * connection pins the snapshot current when it connected and releases it at
 * close, so a reload (SIGHUP) never changes the rules under a message.
 * state_install swaps the current snapshot; the old one is freed when its
 * last user lets go.
 */
#ifndef TG_STATE_H
#define TG_STATE_H

#include <stdatomic.h>

#include "config.h"
#include "gate.h"
#include "msg.h"
#include "rules.h"

typedef struct state {
    atomic_int refs;
    config_t *cfg;          /* owned */
    rules_t *rules;         /* one reference owned */
    msg_limits_t limits;    /* from cfg */
    gate_t *gate;           /* owned: ScanConcurrency (NULL: no limit); the
                               snapshot's users share it, so across a reload
                               old and new connections have a gate each */
    unsigned long generation; /* 1 for the first snapshot, +1 per reload */
    int provisional;        /* rules on the oracle matcher standing in while
                               the configured fast matcher is built */
} state_t;

/* Loads config `path` (socket_override replaces Socket if not NULL) and its
 * rules. 0, or -1 with "file:line[:col]: message" in err. quick: where the
 * configuration asks for the fast matcher, load the rules on the oracle
 * matcher instead (same verdicts, no database compile: ready at once) and
 * mark the snapshot provisional. */
int state_load(const char *path, const char *socket_override, int quick, state_t **out,
               char *err, size_t errlen);

/* Makes s current (taking over the caller's reference) and drops the
 * previous one. */
void state_install(state_t *s);
/* The current snapshot with a reference for the caller, or NULL. */
state_t *state_acquire(void);
void state_release(state_t *s);

#endif
