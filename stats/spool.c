#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

struct spool {
    char *dir;
    char *sender;
    uint64_t next;            /* next sequence number to hand out */
    uint64_t *pending;
    size_t npending, cap;
};

static void path_of(const spool_t *sp, uint64_t seq, char *out, size_t len)
{
    snprintf(out, len, "%s/batch-%020" PRIu64 ".tgb", sp->dir, seq);
}

/* Writes a small file durably: tmp, fsync, rename. */
static int write_small(const char *path, const char *text, char *err, size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return tg_err(err, errlen, "%s: %s", tmp, strerror(errno));
    size_t len = strlen(text);
    int ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return tg_err(err, errlen, "%s: %s", path, strerror(errno));
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void rescan(spool_t *sp)
{
    sp->npending = 0;
    DIR *d = opendir(sp->dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        unsigned long long s;
        char tail[8];
        if (sscanf(de->d_name, "batch-%20llu.%7s", &s, tail) == 2 && !strcmp(tail, "tgb")) {
            tg_grow(&sp->pending, &sp->cap, sp->npending + 1, sizeof *sp->pending);
            sp->pending[sp->npending++] = s;
        }
    }
    closedir(d);
    if (sp->npending > 1) /* qsort's array must not be NULL, even when empty */
        qsort(sp->pending, sp->npending, sizeof *sp->pending, cmp_u64);
}

int spool_open(const char *dir, spool_t **out, char *err, size_t errlen)
{
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return tg_err(err, errlen, "StatsSpoolDir %s: %s", dir, strerror(errno));
    spool_t *sp = tg_calloc(1, sizeof *sp);
    sp->dir = tg_strdup(dir);
    char path[4096], *text;
    char id[64] = "";
    snprintf(path, sizeof path, "%s/instance-id", dir);
    if (tg_read_file(path, &text, NULL, NULL, 0) == 0) {
        sscanf(text, "%63s", id);
        free(text);
    }
    if (!id[0]) {
        unsigned char r[6];
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, r, sizeof r) != (ssize_t)sizeof r) {
            if (fd >= 0)
                close(fd);
            spool_close(sp);
            return tg_err(err, errlen, "cannot read /dev/urandom for the instance id");
        }
        close(fd);
        for (size_t i = 0; i < sizeof r; i++)
            snprintf(id + 2 * i, 3, "%02x", r[i]);
        char line[80];
        snprintf(line, sizeof line, "%s\n", id);
        if (write_small(path, line, err, errlen) < 0) {
            spool_close(sp);
            return -1;
        }
    }
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    for (char *p = host; *p; p++)   /* keep the sender a single safe word */
        if (!(*p == '.' || *p == '-' || *p == '_' || (*p >= '0' && *p <= '9') ||
              ((*p | 32) >= 'a' && (*p | 32) <= 'z')))
            *p = '_';
    tg_buf b;
    tg_buf_init(&b);
    tg_buf_printf(&b, "%s:%s", host, id);
    sp->sender = tg_buf_steal(&b);
    snprintf(path, sizeof path, "%s/seq", dir);
    sp->next = 1;
    if (tg_read_file(path, &text, NULL, NULL, 0) == 0) {
        unsigned long long v;
        if (sscanf(text, "%llu", &v) == 1 && v >= 1)
            sp->next = v;
        free(text);
    }
    rescan(sp);
    if (sp->npending && sp->pending[sp->npending - 1] >= sp->next)
        sp->next = sp->pending[sp->npending - 1] + 1;
    *out = sp;
    return 0;
}

void spool_close(spool_t *sp)
{
    if (!sp)
        return;
    free(sp->dir);
    free(sp->sender);
    free(sp->pending);
    free(sp);
}

const char *spool_sender(const spool_t *sp)
{
    return sp->sender;
}

int spool_next_seq(spool_t *sp, uint64_t *seq, char *err, size_t errlen)
{
    /* The number is at least the current time in microseconds: even if
     * DIR/seq were lost, later batches still outnumber everything Redis
     * has applied for this sender (the file guards against a clock that
     * goes back). Stays below 2^53, exact in Lua's numbers. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    uint64_t s = sp->next > now_us ? sp->next : now_us;
    char path[4096], line[32];
    snprintf(path, sizeof path, "%s/seq", sp->dir);
    snprintf(line, sizeof line, "%" PRIu64 "\n", s + 1);
    if (write_small(path, line, err, errlen) < 0)
        return -1;
    *seq = s;
    sp->next = s + 1;
    return 0;
}

int spool_put(spool_t *sp, const batch_t *b, char *err, size_t errlen)
{
    char path[4096];
    path_of(sp, batch_seq(b), path, sizeof path);
    if (batch_write(b, path, err, errlen) < 0)
        return -1;
    tg_grow(&sp->pending, &sp->cap, sp->npending + 1, sizeof *sp->pending);
    sp->pending[sp->npending++] = batch_seq(b);
    qsort(sp->pending, sp->npending, sizeof *sp->pending, cmp_u64);
    return 0;
}

const uint64_t *spool_pending(spool_t *sp, size_t *n)
{
    *n = sp->npending;
    return sp->pending;
}

int spool_load(spool_t *sp, uint64_t seq, batch_t **out, char *err, size_t errlen)
{
    char path[4096];
    path_of(sp, seq, path, sizeof path);
    return batch_read(path, out, err, errlen);
}

static void forget(spool_t *sp, uint64_t seq)
{
    for (size_t i = 0; i < sp->npending; i++)
        if (sp->pending[i] == seq) {
            memmove(sp->pending + i, sp->pending + i + 1,
                    (sp->npending - i - 1) * sizeof *sp->pending);
            sp->npending--;
            break;
        }
}

void spool_remove(spool_t *sp, uint64_t seq)
{
    char path[4096];
    path_of(sp, seq, path, sizeof path);
    unlink(path);
    forget(sp, seq);
}

int spool_set_aside(spool_t *sp, uint64_t seq, char *aside, size_t asidelen, char *err,
                    size_t errlen)
{
    char path[4096];
    path_of(sp, seq, path, sizeof path);
    snprintf(aside, asidelen, "%s.bad", path);
    if (rename(path, aside) != 0)
        return tg_err(err, errlen, "rename %s: %s", path, strerror(errno));
    forget(sp, seq);
    return 0;
}

uint64_t spool_bytes(spool_t *sp)
{
    uint64_t total = 0;
    for (size_t i = 0; i < sp->npending; i++) {
        char path[4096];
        struct stat st;
        path_of(sp, sp->pending[i], path, sizeof path);
        if (stat(path, &st) == 0)
            total += (uint64_t)st.st_size;
    }
    return total;
}
