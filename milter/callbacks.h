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
/* Connections open right now (for a clean shutdown). */
int cb_active(void);

#endif
