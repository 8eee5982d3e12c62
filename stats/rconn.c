#include "rconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "util.h"

int rconn_parse(const char *url, rconn_addr_t *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->port = 6379;
    if (!url || strncmp(url, "redis://", 8) != 0)
        goto bad;
    const char *p = url + 8, *hend;
    if (*p == '[') {                      /* [IPv6] */
        hend = strchr(p, ']');
        if (!hend)
            goto bad;
        p++;
    } else {
        hend = p + strcspn(p, ":/");
    }
    size_t hl = (size_t)(hend - p);
    if (hl == 0 || hl >= sizeof a->host)
        goto bad;
    memcpy(a->host, p, hl);
    p = hend + (*hend == ']');
    if (*p == ':') {
        char *e;
        long port = strtol(p + 1, &e, 10);
        if (e == p + 1 || port < 1 || port > 65535)
            goto bad;
        a->port = (int)port;
        p = e;
    }
    if (*p == '/' && p[1]) {
        char *e;
        long db = strtol(p + 1, &e, 10);
        if (e == p + 1 || *e || db < 0 || db > 100000)
            goto bad;
        a->db = (int)db;
        p = e;
    } else if (*p == '/') {
        p++;
    }
    if (*p)
        goto bad;
    return 0;
bad:
    return tg_err(err, errlen, "Redis URL must look like redis://HOST:PORT[/DB], not '%s'",
                  url ? url : "");
}

redisContext *rconn_connect(const char *url, int timeout_ms, char *err, size_t errlen)
{
    rconn_addr_t a;
    if (rconn_parse(url, &a, err, errlen) < 0)
        return NULL;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(a.host, a.port, tv);
    if (!c || c->err) {
        tg_err(err, errlen, "cannot reach Redis at %s:%d: %s", a.host, a.port,
               c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        tg_err(err, errlen, "Redis at %s:%d: cannot set the command timeout", a.host, a.port);
        redisFree(c);
        return NULL;
    }
    if (a.db != 0) {
        redisReply *r = redisCommand(c, "SELECT %d", a.db);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            tg_err(err, errlen, "Redis at %s:%d: SELECT %d: %s", a.host, a.port, a.db,
                   r ? r->str : c->errstr);
            if (r)
                freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    return c;
}
