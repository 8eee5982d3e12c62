/*
 * gate — at most N messages matched at once, admitted in arrival order.
 *
 * libmilter gives every connection its own thread, so with C concurrent
 * SMTP sessions up to C rule matches compete for the CPUs. Each one is
 * pure CPU work over tens of megabytes of databases; run together on fewer
 * cores they are stretched by the number sharing a core and evict each
 * other's caches, and a large message's latency grows with every other
 * message in flight. The gate runs at most N (ScanConcurrency, by default
 * the number of CPUs) and queues the rest first come, first served, handing
 * a freed slot straight to the oldest waiter.
 *
 * Thread-safe. A waiter waits only for classifications already running
 * (never for Redis, DNS or disk), so the wait is bounded by N messages' CPU
 * time per place ahead of it in the queue.
 */
#ifndef TG_GATE_H
#define TG_GATE_H

typedef struct gate gate_t;

/* A gate of `slots` places; NULL (no limit) if slots is 0. */
gate_t *gate_new(unsigned slots);
void gate_free(gate_t *g);        /* no thread may be inside or waiting */

/* Takes a place, waiting in FIFO order if all are taken. NULL: no-op. */
void gate_enter(gate_t *g);
/* Gives the place back (to the oldest waiter if any). NULL: no-op. */
void gate_leave(gate_t *g);
/* Threads waiting for a place now (0 for NULL). */
unsigned gate_queued(gate_t *g);

#endif
