#include "batch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

typedef struct incr {
    char *key, *field;
    int64_t delta;
} incr_t;

typedef struct expire {
    char *key;
    int64_t at;
} expire_t;

struct batch {
    char *sender;
    uint64_t seq;
    int64_t watermark;
    char **tenants;
    size_t ntenants, tcap;
    incr_t *incrs;
    size_t nincrs, icap;
    tg_map *incr_idx;      /* "key\tfield" -> index */
    expire_t *expires;
    size_t nexpires, ecap;
    tg_map *exp_idx;       /* key -> index */
};

batch_t *batch_new(const char *sender, uint64_t seq, int64_t watermark)
{
    batch_t *b = tg_calloc(1, sizeof *b);
    b->sender = tg_strdup(sender);
    b->seq = seq;
    b->watermark = watermark;
    b->incr_idx = tg_map_new();
    b->exp_idx = tg_map_new();
    return b;
}

void batch_seal(batch_t *b, const char *sender, uint64_t seq, int64_t watermark)
{
    free(b->sender);
    b->sender = tg_strdup(sender);
    b->seq = seq;
    b->watermark = watermark;
}

void batch_free(batch_t *b)
{
    if (!b)
        return;
    free(b->sender);
    for (size_t i = 0; i < b->ntenants; i++)
        free(b->tenants[i]);
    free(b->tenants);
    for (size_t i = 0; i < b->nincrs; i++) {
        free(b->incrs[i].key);
        free(b->incrs[i].field);
    }
    free(b->incrs);
    for (size_t i = 0; i < b->nexpires; i++)
        free(b->expires[i].key);
    free(b->expires);
    tg_map_free(b->incr_idx);
    tg_map_free(b->exp_idx);
    free(b);
}

void batch_incr(batch_t *b, const char *key, const char *field, int64_t delta)
{
    tg_buf k;
    tg_buf_init(&k);
    tg_buf_printf(&k, "%s\t%s", key, field);
    size_t idx;
    if (tg_map_get(b->incr_idx, k.s, &idx)) {
        b->incrs[idx].delta += delta;
    } else {
        tg_grow(&b->incrs, &b->icap, b->nincrs + 1, sizeof *b->incrs);
        b->incrs[b->nincrs] = (incr_t){tg_strdup(key), tg_strdup(field), delta};
        tg_map_put(b->incr_idx, k.s, b->nincrs++);
    }
    tg_buf_free(&k);
}

void batch_expire(batch_t *b, const char *key, int64_t at)
{
    size_t idx;
    if (tg_map_get(b->exp_idx, key, &idx)) {
        if (at > b->expires[idx].at)
            b->expires[idx].at = at;
        return;
    }
    tg_grow(&b->expires, &b->ecap, b->nexpires + 1, sizeof *b->expires);
    b->expires[b->nexpires] = (expire_t){tg_strdup(key), at};
    tg_map_put(b->exp_idx, key, b->nexpires++);
}

void batch_add_tenant(batch_t *b, const char *tenant)
{
    for (size_t i = 0; i < b->ntenants; i++)
        if (!strcmp(b->tenants[i], tenant))
            return;
    tg_grow(&b->tenants, &b->tcap, b->ntenants + 1, sizeof *b->tenants);
    b->tenants[b->ntenants++] = tg_strdup(tenant);
}

const char *batch_sender(const batch_t *b) { return b->sender; }
uint64_t batch_seq(const batch_t *b) { return b->seq; }
int64_t batch_watermark(const batch_t *b) { return b->watermark; }
size_t batch_nincr(const batch_t *b) { return b->nincrs; }

int batch_empty(const batch_t *b)
{
    return b->nincrs == 0 && b->ntenants == 0;
}

/* Names in the file and in Redis must be single words without control
 * characters: the spool format is line and space separated. */
static int word_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return 0;
    return 1;
}

int batch_write(const batch_t *b, const char *path, char *err, size_t errlen)
{
    tg_buf t;
    tg_buf_init(&t);
    tg_buf_printf(&t, "tollgate-batch 1\nsender %s\nseq %" PRIu64 "\nwatermark %" PRId64 "\n",
                  b->sender, b->seq, b->watermark);
    for (size_t i = 0; i < b->ntenants; i++)
        tg_buf_printf(&t, "tenant %s\n", b->tenants[i]);
    for (size_t i = 0; i < b->nincrs; i++) {
        if (!word_ok(b->incrs[i].key) || !word_ok(b->incrs[i].field)) {
            tg_buf_free(&t);
            return tg_err(err, errlen, "batch %" PRIu64 ": unusable key or field '%s' '%s'",
                          b->seq, b->incrs[i].key, b->incrs[i].field);
        }
        tg_buf_printf(&t, "incr %s %s %" PRId64 "\n", b->incrs[i].key, b->incrs[i].field,
                      b->incrs[i].delta);
    }
    for (size_t i = 0; i < b->nexpires; i++)
        tg_buf_printf(&t, "expire %s %" PRId64 "\n", b->expires[i].key, b->expires[i].at);
    tg_buf_adds(&t, "end\n");

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    int rc = 0;
    if (fd < 0) {
        rc = tg_err(err, errlen, "%s: %s", tmp, strerror(errno));
    } else {
        size_t off = 0;
        while (off < t.len && rc == 0) {
            ssize_t n = write(fd, t.s + off, t.len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                rc = tg_err(err, errlen, "%s: %s", tmp, strerror(errno));
            else
                off += (size_t)n;
        }
        if (rc == 0 && fsync(fd) != 0)
            rc = tg_err(err, errlen, "fsync %s: %s", tmp, strerror(errno));
        close(fd);
        if (rc == 0 && rename(tmp, path) != 0)
            rc = tg_err(err, errlen, "rename %s: %s", path, strerror(errno));
        if (rc == 0) {
            /* the rename is durable only once the directory is synced */
            char *dcopy = tg_strdup(path);
            int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
            }
            free(dcopy);
        } else {
            unlink(tmp);
        }
    }
    tg_buf_free(&t);
    return rc;
}

int batch_read(const char *path, batch_t **out, char *err, size_t errlen)
{
    char *text;
    if (tg_read_file(path, &text, NULL, err, errlen) < 0)
        return access(path, F_OK) != 0 && errno == ENOENT ? -3 : -1;
    batch_t *b = NULL;
    int line = 0, ended = 0, rc = 0;
    char *save = NULL;
    char sender[512] = "";
    uint64_t seq = 0;
    int64_t wm = 0;
    for (char *l = strtok_r(text, "\n", &save); l && rc == 0 && !ended;
         l = strtok_r(NULL, "\n", &save)) {
        line++;
        char a[1024], f[1024];
        long long n;
        unsigned long long u;
        if (line == 1) {
            if (strcmp(l, "tollgate-batch 1"))
                rc = -1;
        } else if (line == 2) {
            rc = sscanf(l, "sender %511s", sender) == 1 ? 0 : -1;
        } else if (line == 3) {
            rc = sscanf(l, "seq %llu", &u) == 1 ? 0 : -1;
            seq = u;
        } else if (line == 4) {
            rc = sscanf(l, "watermark %lld", &n) == 1 ? 0 : -1;
            wm = n;
            if (rc == 0)
                b = batch_new(sender, seq, wm);
        } else if (sscanf(l, "tenant %1023s", a) == 1) {
            batch_add_tenant(b, a);
        } else if (sscanf(l, "incr %1023s %1023s %lld", a, f, &n) == 3) {
            batch_incr(b, a, f, n);
        } else if (sscanf(l, "expire %1023s %lld", a, &n) == 2) {
            batch_expire(b, a, n);
        } else if (!strcmp(l, "end")) {
            ended = 1;
        } else {
            rc = -1;
        }
    }
    free(text);
    if (rc < 0 || !ended || !b) {
        batch_free(b);
        tg_err(err, errlen, "%s: malformed or truncated batch file (line %d)", path, line);
        return -2;
    }
    *out = b;
    return 0;
}

/* Validates everything before the first write; skips a sequence number
 * already applied for the sender; then one atomic set of writes.
 * ARGV: sender seq watermark now ntenants nincr nexpire tenants...
 *       (key field delta)... (key at)... */
static const char batch_lua[] =
    "local p = 'tg:v1:'\n"
    "local sender = ARGV[1]\n"
    "local seq, wm, now = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local nt, ni, ne = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])\n"
    "if not (seq and wm and now and nt and ni and ne) or seq < 1 or nt < 0 or ni < 0 or ne < 0\n"
    "   or not string.match(ARGV[2], '^%d+$') or not string.match(ARGV[3], '^%-?%d+$') then\n"
    "  return redis.error_reply('ERR tollgate batch: bad header') end\n"
    "if #ARGV ~= 7 + nt + 3 * ni + 2 * ne then\n"
    "  return redis.error_reply('ERR tollgate batch: wrong number of arguments') end\n"
    "if not string.match(sender, '^[%w%.%-_:]+$') then\n"
    "  return redis.error_reply('ERR tollgate batch: bad sender') end\n"
    "local i = 8\n"
    "for k = 1, nt do\n"
    "  if not string.match(ARGV[i], '^[%w%.%-_]+$') then\n"
    "    return redis.error_reply('ERR tollgate batch: bad tenant') end\n"
    "  i = i + 1 end\n"
    "for k = 1, ni do\n"
    "  if string.sub(ARGV[i], 1, 6) ~= p or ARGV[i + 1] == '' or not string.match(ARGV[i + 2], '^%-?%d+$') then\n"
    "    return redis.error_reply('ERR tollgate batch: bad increment ' .. ARGV[i]) end\n"
    "  i = i + 3 end\n"
    "for k = 1, ne do\n"
    "  if string.sub(ARGV[i], 1, 6) ~= p or not string.match(ARGV[i + 1], '^%d+$') then\n"
    "    return redis.error_reply('ERR tollgate batch: bad expiry ' .. ARGV[i]) end\n"
    "  i = i + 2 end\n"
    "local last = tonumber(redis.call('HGET', p .. 'seq', sender) or '0')\n"
    "if seq <= last then return 0 end\n"
    "i = 8\n"
    "for k = 1, nt do redis.call('SADD', p .. 'tenants', ARGV[i]); i = i + 1 end\n"
    "for k = 1, ni do redis.call('HINCRBY', ARGV[i], ARGV[i + 1], ARGV[i + 2]); i = i + 3 end\n"
    "for k = 1, ne do redis.call('EXPIREAT', ARGV[i], ARGV[i + 1]); i = i + 2 end\n"
    "-- store the argument strings: Lua 5.1 would print a 16-digit number as 1.7e+15\n"
    "redis.call('HSET', p .. 'seq', sender, ARGV[2])\n"
    "redis.call('HSET', p .. 'wm', sender, ARGV[3])\n"
    "redis.call('HSET', p .. 'senders', sender, ARGV[4])\n"
    "return 1\n";

/* The script's SHA1 as Redis reports it (SCRIPT LOAD); the same for every
 * connection and server, so one process-wide copy is enough. */
static char batch_sha[41];

static int reply_error(redisContext *rc, redisReply *r, const char *what, char *err,
                       size_t errlen)
{
    if (!r)
        return tg_err(err, errlen, "%s: %s", what, rc->errstr[0] ? rc->errstr : "no reply");
    int ret = tg_err(err, errlen, "%s: %s", what,
                     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply type");
    freeReplyObject(r);
    return ret;
}

int batch_apply(redisContext *rc, const batch_t *b, char *err, size_t errlen)
{
    if (!batch_sha[0]) {
        redisReply *r = redisCommand(rc, "SCRIPT LOAD %s", batch_lua);
        if (!r || r->type != REDIS_REPLY_STRING || r->len != 40)
            return reply_error(rc, r, "SCRIPT LOAD", err, errlen);
        memcpy(batch_sha, r->str, 41);
        freeReplyObject(r);
    }
    /* EVALSHA sha numkeys, then 7 header values, then the items */
    size_t argc = 3 + 7 + b->ntenants + 3 * b->nincrs + 2 * b->nexpires;
    const char **argv = tg_malloc(argc * sizeof *argv);
    size_t *argl = tg_malloc(argc * sizeof *argl);
    char **owned = tg_calloc(argc, sizeof *owned);
    size_t n = 0;
#define ARG(s) (argv[n] = (s), argl[n] = strlen(argv[n]), n++)
#define NUM(fmt, v) (owned[n] = tg_malloc(32), snprintf(owned[n], 32, fmt, v), ARG(owned[n]))
    ARG("EVALSHA");
    ARG(batch_sha);
    ARG("0");
    ARG(b->sender);
    NUM("%" PRIu64, b->seq);
    NUM("%" PRId64, b->watermark);
    NUM("%lld", (long long)time(NULL));
    NUM("%zu", b->ntenants);
    NUM("%zu", b->nincrs);
    NUM("%zu", b->nexpires);
    for (size_t i = 0; i < b->ntenants; i++)
        ARG(b->tenants[i]);
    for (size_t i = 0; i < b->nincrs; i++) {
        ARG(b->incrs[i].key);
        ARG(b->incrs[i].field);
        NUM("%" PRId64, b->incrs[i].delta);
    }
    for (size_t i = 0; i < b->nexpires; i++) {
        ARG(b->expires[i].key);
        NUM("%" PRId64, b->expires[i].at);
    }
#undef ARG
#undef NUM
    redisReply *r = redisCommandArgv(rc, (int)n, argv, argl);
    if (r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8)) {
        /* Redis restarted and lost its script cache: send the text */
        freeReplyObject(r);
        argv[0] = "EVAL";
        argl[0] = 4;
        argv[1] = batch_lua;
        argl[1] = sizeof batch_lua - 1;
        r = redisCommandArgv(rc, (int)n, argv, argl);
    }
    int ret;
    if (r && r->type == REDIS_REPLY_INTEGER && (r->integer == 0 || r->integer == 1)) {
        ret = (int)r->integer;
        freeReplyObject(r);
    } else {
        ret = reply_error(rc, r, "applying batch", err, errlen);
    }
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    free(owned);
    free(argv);
    free(argl);
    return ret;
}

int64_t batch_applied_seq(redisContext *rc, const char *sender, char *err, size_t errlen)
{
    redisReply *r = redisCommand(rc, "HGET tg:v1:seq %s", sender);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
        return reply_error(rc, r, "HGET tg:v1:seq", err, errlen);
    int64_t v = r->type == REDIS_REPLY_NIL ? 0 : strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return v;
}
