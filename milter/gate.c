#include "gate.h"

#include <pthread.h>
#include <stdlib.h>

#include "util.h"

/* A waiting thread: on its own stack, linked into the queue while it
 * waits; woken alone (no herd) when a place is handed to it. */
typedef struct waiter {
    pthread_cond_t cv;
    int go;
    struct waiter *next;
} waiter_t;

struct gate {
    pthread_mutex_t mu;
    unsigned slots, busy;
    waiter_t *head, *tail;
};

gate_t *gate_new(unsigned slots)
{
    if (!slots)
        return NULL;
    gate_t *g = tg_calloc(1, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    g->slots = slots;
    return g;
}

void gate_free(gate_t *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->mu);
    free(g);
}

void gate_enter(gate_t *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    if (g->busy < g->slots && !g->head) {
        g->busy++;
        pthread_mutex_unlock(&g->mu);
        return;
    }
    waiter_t w = {.go = 0, .next = NULL};
    pthread_cond_init(&w.cv, NULL);
    if (g->tail)
        g->tail->next = &w;
    else
        g->head = &w;
    g->tail = &w;
    while (!w.go)
        pthread_cond_wait(&w.cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    pthread_cond_destroy(&w.cv);
}

void gate_leave(gate_t *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    waiter_t *w = g->head;
    if (w) { /* the place passes to the oldest waiter: busy is unchanged */
        g->head = w->next;
        if (!g->head)
            g->tail = NULL;
        w->go = 1;
        pthread_cond_signal(&w->cv);
    } else {
        g->busy--;
    }
    pthread_mutex_unlock(&g->mu);
}

unsigned gate_queued(gate_t *g)
{
    if (!g)
        return 0;
    unsigned n = 0;
    pthread_mutex_lock(&g->mu);
    for (const waiter_t *w = g->head; w; w = w->next)
        n++;
    pthread_mutex_unlock(&g->mu);
    return n;
}
