/*
 * callbacks — the libmilter side of tollgate: connection and message
 * contexts, rebuilding the message for the rules engine, applying the
 * verdict, logging one line per message and recording it in stats.
 *
 * Each connection pins the state snapshot current at connect (state.h) and
 * keeps it until close. Each libmilter worker thread owns its rules scratch
 * and SPF context. Internal failures all go through one function that
 * applies OnError (accept or tempfail).
 */
#ifndef TG_CALLBACKS_H
#define TG_CALLBACKS_H

#include <libmilter/mfapi.h>

/* The filter description to hand to smfi_register. */
struct smfiDesc *cb_desc(void);
/* Connections open right now. */
int cb_active(void);
/* Messages in progress: MAIL FROM seen, neither ended (EOM) nor aborted
 * nor closed. */
int cb_in_message(void);
/* A stop begins: from now on messages are counted apart (still served),
 * so cb_pending tells when the ones already in progress have ended. */
void cb_drain_begin(void);
/* Messages in progress that began before cb_drain_begin (all of them
 * before it is called). */
int cb_pending(void);

#endif
