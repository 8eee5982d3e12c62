/*
 * rconn — a synchronous hiredis (0.14) connection from a redis:// URL.
 *
 * URL: redis://HOST[:PORT][/DB]  (PORT 6379, DB 0 by default; an IPv6
 * address goes in brackets: redis://[::1]:6379/0). No passwords, no TLS.
 *
 * rconn_connect gives a connected context with a connect timeout and the
 * same timeout on every later command (a command that times out fails with
 * c->err set; the context is then unusable and the caller frees it), and
 * the database SELECTed. Used by tollgate-stats, the test generator and the
 * daemon's flusher; the caller owns the context and frees it with redisFree.
 */
#ifndef TG_RCONN_H
#define TG_RCONN_H

#include <stddef.h>

#include <hiredis/hiredis.h>

typedef struct rconn_addr {
    char host[256];
    int port;
    int db;
} rconn_addr_t;

/* Parses url into *a. 0, or -1 with err ("RedisURL must look like ..."). */
int rconn_parse(const char *url, rconn_addr_t *a, char *err, size_t errlen);

/* Connects and SELECTs; timeout_ms bounds the connect and each command.
 * Returns the context, or NULL with err, e.g.
 * "cannot reach Redis at 127.0.0.1:6399: Connection refused". */
redisContext *rconn_connect(const char *url, int timeout_ms, char *err, size_t errlen);

#endif
