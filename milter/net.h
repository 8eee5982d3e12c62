/*
 * net — socket details libmilter leaves out.
 */
#ifndef TG_NET_H
#define TG_NET_H

/* Sets TCP_NODELAY on every listening TCP socket of the process (after
 * smfi_opensocket, that is libmilter's). Linux copies the option to the
 * sockets accept() returns, so replies are not held back by Nagle waiting
 * for the MTA's delayed ACK (~40 ms per message). Returns how many sockets
 * were changed. */
int net_nodelay_listeners(void);

#endif
