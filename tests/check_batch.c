/* batch: the spool file format and the Lua apply against a real
 * redis-server started here on a loopback port (no mocks). */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "flush.h"
#include "keys.h"
#include "spool.h"
#include "stats.h"

static pid_t redis_pid;
static int redis_port;

static void redis_up(void)
{
    redis_port = 32000 + getpid() % 1000;
    char port[16];
    snprintf(port, sizeof port, "%d", redis_port);
    redis_pid = fork();
    if (redis_pid == 0) {
        /* gone with the test process, even one a failed assertion ended */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile",
               "/dev/null", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        /* our child must be the one answering, not a leftover on the port */
        ck_assert_msg(waitpid(redis_pid, NULL, WNOHANG) == 0,
                      "redis-server on port %d exited (port taken?)", redis_port);
        redisContext *rc = redisConnect("127.0.0.1", redis_port);
        if (rc && !rc->err) {
            redisReply *r = redisCommand(rc, "PING");
            int up = r && r->type == REDIS_REPLY_STATUS;
            freeReplyObject(r);
            redisFree(rc);
            if (up)
                return;
        } else {
            redisFree(rc);
        }
        usleep(50000);
    }
    ck_abort_msg("redis-server did not start (is it installed?)");
}

static void redis_down(void)
{
    kill(redis_pid, SIGTERM);
    waitpid(redis_pid, NULL, 0);
}

static long long hget(redisContext *rc, const char *key, const char *field)
{
    redisReply *r = redisCommand(rc, "HGET %s %s", key, field);
    long long v = r && r->type == REDIS_REPLY_STRING ? atoll(r->str) : -1;
    freeReplyObject(r);
    return v;
}

START_TEST(apply_is_exactly_once_and_validated)
{
    redis_up();
    redisContext *rc = redisConnect("127.0.0.1", redis_port);
    ck_assert(rc && !rc->err);
    char err[256];
    const char *K = "tg:v1:c:_all:m:202611";
    batch_t *b = batch_new("mx1:aa", 1, 1000);
    batch_incr(b, K, "in:msgs", 5);
    batch_incr(b, K, "in:msgs", 2); /* merged */
    batch_incr(b, "tg:v1:r:_all:m:202611", "RULE_A", 3);
    batch_expire(b, K, 1900000000);
    batch_add_tenant(b, "acme");
    ck_assert_uint_eq(batch_nincr(b), 2);
    ck_assert_int_eq(batch_apply(rc, b, err, sizeof err), 1);
    ck_assert_int_eq(batch_apply(rc, b, err, sizeof err), 0); /* replay: no-op */
    ck_assert_int_eq(hget(rc, K, "in:msgs"), 7);
    ck_assert_int_eq(hget(rc, "tg:v1:seq", "mx1:aa"), 1);
    ck_assert_int_eq(hget(rc, "tg:v1:wm", "mx1:aa"), 1000);
    ck_assert_int_eq(batch_applied_seq(rc, "mx1:aa", err, sizeof err), 1);
    ck_assert_int_eq(batch_applied_seq(rc, "nobody", err, sizeof err), 0);
    redisReply *r = redisCommand(rc, "EXPIRETIME %s", K);
    ck_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1900000000);
    freeReplyObject(r);

    /* another sender keeps its own sequence */
    batch_t *o = batch_new("mx2:bb", 1, 1000);
    batch_incr(o, K, "in:msgs", 10);
    ck_assert_int_eq(batch_apply(rc, o, err, sizeof err), 1);
    ck_assert_int_eq(hget(rc, K, "in:msgs"), 17);

    /* one bad item: nothing at all is written */
    batch_t *bad = batch_new("mx1:aa", 2, 2000);
    batch_incr(bad, K, "in:msgs", 100);
    batch_incr(bad, "not:ours", "x", 1);
    ck_assert_int_eq(batch_apply(rc, bad, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "bad increment not:ours"), "got %s", err);
    ck_assert_int_eq(hget(rc, K, "in:msgs"), 17);
    ck_assert_int_eq(hget(rc, "tg:v1:seq", "mx1:aa"), 1);

    /* Redis lost its script cache (restart): EVAL fallback */
    r = redisCommand(rc, "SCRIPT FLUSH");
    freeReplyObject(r);
    batch_t *c = batch_new("mx1:aa", 5, 3000); /* gaps are fine */
    batch_incr(c, K, "in:msgs", 1);
    ck_assert_int_eq(batch_apply(rc, c, err, sizeof err), 1);
    ck_assert_int_eq(hget(rc, K, "in:msgs"), 18);
    /* a time-based 16-digit sequence number is stored exactly */
    batch_t *big = batch_new("mx1:aa", 1795000000123456ULL, 3000);
    batch_incr(big, K, "in:msgs", 0);
    ck_assert_int_eq(batch_apply(rc, big, err, sizeof err), 1);
    ck_assert_int_eq(batch_applied_seq(rc, "mx1:aa", err, sizeof err), 1795000000123456LL);
    batch_t *old = batch_new("mx1:aa", 4, 2500); /* older than applied */
    batch_incr(old, K, "in:msgs", 1000);
    ck_assert_int_eq(batch_apply(rc, old, err, sizeof err), 0);
    ck_assert_int_eq(hget(rc, K, "in:msgs"), 18);
    batch_free(b);
    batch_free(o);
    batch_free(bad);
    batch_free(c);
    batch_free(big);
    batch_free(old);
    redisFree(rc);
    redis_down();
}
END_TEST

START_TEST(spool_file_round_trip)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/tg_batch_%d.tgb", (int)getpid());
    batch_t *b = batch_new("mx1:aa", 42, 1795000000);
    batch_incr(b, "tg:v1:c:acme:d:20261123", "out:bytes", 123456789012LL);
    batch_incr(b, "tg:v1:c:acme:d:20261123", "out:msgs", -1);
    batch_expire(b, "tg:v1:c:acme:d:20261123", 1830000000);
    batch_add_tenant(b, "acme");
    char err[256];
    ck_assert_int_eq(batch_write(b, path, err, sizeof err), 0);
    batch_t *r;
    ck_assert_msg(batch_read(path, &r, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(batch_sender(r), "mx1:aa");
    ck_assert_uint_eq(batch_seq(r), 42);
    ck_assert_int_eq(batch_watermark(r), 1795000000);
    ck_assert_uint_eq(batch_nincr(r), 2);
    batch_free(r);
    /* a batch cut short by a crash is refused, not half-applied */
    FILE *f = fopen(path, "r+");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    ck_assert_int_eq(truncate(path, len - 4), 0);
    ck_assert_int_eq(batch_read(path, &r, err, sizeof err), -2);
    ck_assert_msg(strstr(err, "malformed or truncated"), "got %s", err);
    /* one that cannot be read (here: a directory) is -1, worth a retry;
     * one that is not there, -3 */
    ck_assert_int_eq(batch_read("/tmp", &r, err, sizeof err), -1);
    ck_assert_int_eq(batch_read("/nonexistent/tg.tgb", &r, err, sizeof err), -3);
    /* spaces cannot sneak into the line format */
    batch_t *w = batch_new("mx1:aa", 1, 1);
    batch_incr(w, "tg:v1:c:a b:m:202611", "in:msgs", 1);
    ck_assert_int_eq(batch_write(w, path, err, sizeof err), -1);
    unlink(path);
    batch_free(b);
    batch_free(w);
}
END_TEST

/* Bucket arithmetic in Europe/London across the DST changes of 2026
 * (29 March 01:00 UTC, 25 October 01:00 UTC). */
START_TEST(buckets_and_time_zones)
{
    ck_assert_int_eq(keys_set_timezone("Europe/London"), 0);
    char h[11], d[9], m[7];
    time_t t = 1774745999; /* 2026-03-29 00:59:59 UTC = 00:59:59 GMT */
    keys_hour(t, h);
    keys_day(t, d);
    ck_assert_str_eq(h, "2026032900");
    ck_assert_str_eq(d, "20260329");
    t = 1774746000; /* 01:00 UTC = 02:00 BST */
    keys_hour(t, h);
    ck_assert_str_eq(h, "2026032901"); /* hours stay UTC */
    t = 1774911600; /* 2026-03-30 23:00 UTC = 2026-03-31 00:00 BST */
    keys_day(t, d);
    ck_assert_str_eq(d, "20260331");
    t = 1780268400; /* 2026-05-31 23:00 UTC = 2026-06-01 00:00 BST */
    keys_month(t, m);
    ck_assert_str_eq(m, "202606"); /* local month, not UTC's May */
    /* the local day of 25 October 2026 has 25 hours */
    time_t s = keys_month_start(2026, 10);
    ck_assert_int_eq(s, 1790809200); /* 1 Oct 00:00 BST = 30 Sep 23:00 UTC */
    ck_assert_int_eq(keys_month_start(2026, 11) - s, 31 * 86400 + 3600);
    /* expiries from the start of each bucket */
    t = 1795000000;
    ck_assert_int_eq(keys_expiry(t, 'h'), (1795000000 - 1795000000 % 3600) + 40 * 86400);
    ck_assert_int_eq(keys_expiry(keys_month_start(2026, 11) + 5, 'm'),
                     keys_month_start(2031, 11));
    char k[128];
    keys_counter(k, sizeof k, "acme", 'd', "20261123");
    ck_assert_str_eq(k, "tg:v1:c:acme:d:20261123");
    keys_rules(k, sizeof k, "_all", 'm', "202611", 1);
    ck_assert_str_eq(k, "tg:v1:rd:_all:m:202611");
    ck_assert_int_eq(keys_set_timezone("Mars/Olympus"), -1);
    ck_assert_int_eq(keys_set_timezone("UTC"), 0);
    keys_day(1774911600, d);
    ck_assert_str_eq(d, "20260330");
}
END_TEST

/* ---- the flusher over a real spool directory and redis-server ---------- */

static void quiet_log(int prio, const char *fmt, ...)
{
    (void)prio, (void)fmt;
}

/* A fresh spool directory; *sender gets its instance's sender name. */
static void spool_dir(char *dir, size_t len, char *sender, size_t slen)
{
    snprintf(dir, len, "/tmp/tg_flush_%d_XXXXXX", (int)getpid());
    ck_assert_ptr_nonnull(mkdtemp(dir));
    spool_t *sp;
    char err[256];
    ck_assert_msg(spool_open(dir, &sp, err, sizeof err) == 0, "%s", err);
    snprintf(sender, slen, "%s", spool_sender(sp));
    spool_close(sp);
}

/* Removes dir and the files in it. */
static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[512];
    while (d && (de = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (de->d_name[0] != '.')
            unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* The spool file of batch seq in dir, as spool.c names it (+ suffix). */
static void batch_path(char *out, size_t len, const char *dir, uint64_t seq, const char *suffix)
{
    snprintf(out, len, "%s/batch-%020llu.tgb%s", dir, (unsigned long long)seq, suffix);
}

static void put_batch(const char *dir, const char *sender, uint64_t seq, const char *key,
                      long long n)
{
    char path[512], err[256];
    batch_path(path, sizeof path, dir, seq, "");
    batch_t *b = batch_new(sender, seq, 1795000000);
    batch_incr(b, key, "in:msgs", n);
    ck_assert_msg(batch_write(b, path, err, sizeof err) == 0, "%s", err);
    batch_free(b);
}

static int exists(const char *dir, uint64_t seq, const char *suffix)
{
    char path[512];
    batch_path(path, sizeof path, dir, seq, suffix);
    return access(path, F_OK) == 0;
}

static void flush_up(const char *dir)
{
    char url[64], err[256];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", redis_port);
    ck_assert_msg(flush_start(url, dir, 1, quiet_log, err, sizeof err) == 0, "%s", err);
}

/* waits up to 10 s for key/in:msgs to read want */
static long long wait_for(redisContext *rc, const char *key, long long want)
{
    long long v = -1;
    for (int i = 0; i < 100 && (v = hget(rc, key, "in:msgs")) != want; i++)
        usleep(100000);
    return v;
}

/* A damaged batch file is set aside, not applied, never taken for a replay
 * (and deleted) once a later batch has moved Redis's sequence number past
 * it; the later batches still apply. */
START_TEST(flush_sets_damaged_batch_aside)
{
    redis_up();
    char dir[128], sender[300], path[512];
    spool_dir(dir, sizeof dir, sender, sizeof sender);
    batch_path(path, sizeof path, dir, 100, "");
    FILE *f = fopen(path, "w");
    fputs("tollgate-batch 1\nsender x\nseq 100\nwatermark 1\nincr tg:v1:c:a", f);
    fclose(f);
    put_batch(dir, sender, 101, "tg:v1:c:acme:d:20261205", 7);
    flush_up(dir);
    redisContext *rc = redisConnect("127.0.0.1", redis_port);
    ck_assert_int_eq(wait_for(rc, "tg:v1:c:acme:d:20261205", 7), 7);
    sleep(FLUSH_GRACE + 2); /* past the grace after which a replay's file goes */
    flush_stop();
    flush_stats_t st = flush_get_stats();
    ck_assert_uint_eq(st.set_aside, 1);
    ck_assert_uint_eq(st.replays, 0);
    ck_assert_msg(exists(dir, 100, ".bad") && !exists(dir, 100, ""), "batch 100 not set aside");
    ck_assert_msg(!exists(dir, 101, ""), "batch 101 still spooled");
    redisFree(rc);
    redis_down();
    rm_dir(dir);
}
END_TEST

/* A batch that cannot be read now (here a symbolic link to itself in its
 * place: ELOOP) holds back every later one; once readable, both apply, in
 * order. (The readable file replaces the link by rename, as the spool
 * writes: never absent in between, which would be a vanished batch.) */
START_TEST(flush_waits_for_unreadable_batch)
{
    redis_up();
    char dir[128], sender[300], path[512];
    spool_dir(dir, sizeof dir, sender, sizeof sender);
    batch_path(path, sizeof path, dir, 200, "");
    ck_assert_int_eq(symlink(strrchr(path, '/') + 1, path), 0);
    put_batch(dir, sender, 201, "tg:v1:c:acme:d:20261206", 3);
    flush_up(dir);
    redisContext *rc = redisConnect("127.0.0.1", redis_port);
    sleep(3);
    ck_assert_int_eq(hget(rc, "tg:v1:c:acme:d:20261206", "in:msgs"), -1);
    put_batch(dir, sender, 200, "tg:v1:c:acme:d:20261206", 2);
    ck_assert_int_eq(wait_for(rc, "tg:v1:c:acme:d:20261206", 5), 5);
    flush_stop();
    flush_stats_t st = flush_get_stats();
    ck_assert_uint_eq(st.replays, 0);
    ck_assert_uint_eq(st.set_aside, 0);
    redisFree(rc);
    redis_down();
    rm_dir(dir);
}
END_TEST

/* A pending batch whose file is removed from outside (an admin) is let go:
 * the later ones apply instead of waiting for it for ever. */
START_TEST(flush_lets_vanished_batch_go)
{
    redis_up();
    char dir[128], sender[300], path[512];
    spool_dir(dir, sizeof dir, sender, sizeof sender);
    batch_path(path, sizeof path, dir, 500, "");
    ck_assert_int_eq(mkdir(path, 0700), 0); /* unreadable: holds the rest back */
    put_batch(dir, sender, 501, "tg:v1:c:acme:d:20261208", 4);
    flush_up(dir);
    redisContext *rc = redisConnect("127.0.0.1", redis_port);
    sleep(2);
    ck_assert_int_eq(hget(rc, "tg:v1:c:acme:d:20261208", "in:msgs"), -1);
    ck_assert_int_eq(rmdir(path), 0);
    ck_assert_int_eq(wait_for(rc, "tg:v1:c:acme:d:20261208", 4), 4);
    flush_stop();
    redisFree(rc);
    redis_down();
    rm_dir(dir);
}
END_TEST

/* No mail: the watermark still follows the clock (heartbeat batches). */
START_TEST(flush_heartbeat_when_idle)
{
    redis_up();
    char dir[128], sender[300];
    spool_dir(dir, sizeof dir, sender, sizeof sender);
    flush_tune(1, 0);
    flush_up(dir);
    redisContext *rc = redisConnect("127.0.0.1", redis_port);
    long long wm = -1;
    time_t t0 = time(NULL);
    for (int i = 0; i < 100 && wm < (long long)t0 + 1; i++) {
        usleep(100000);
        redisReply *r = redisCommand(rc, "HGET tg:v1:wm %s", sender);
        wm = r && r->type == REDIS_REPLY_STRING ? atoll(r->str) : -1;
        freeReplyObject(r);
    }
    flush_stop();
    ck_assert_msg(wm >= (long long)t0 + 1, "watermark %lld, started at %lld", wm, (long long)t0);
    redisFree(rc);
    redis_down();
    rm_dir(dir);
}
END_TEST

/* Stopping with the spool full: the last counts are spooled anyway (they
 * would otherwise die with the process). Redis is down throughout. */
START_TEST(flush_stop_spools_past_the_cap)
{
    char dir[128], sender[300], err[256];
    spool_dir(dir, sizeof dir, sender, sizeof sender);
    put_batch(dir, sender, 300, "tg:v1:c:acme:d:20261207", 1);
    flush_tune(0, 1);
    stats_init();
    stats_set_pending(1);
    ck_assert_msg(flush_start("redis://127.0.0.1:1", dir, 1, quiet_log, err, sizeof err) == 0,
                  "%s", err);
    sleep(2); /* rounds at the cap: nothing more is spooled */
    stats_rec_t rec = {.dir = STATS_IN, .rcpts = 1, .bytes = 100};
    stats_record(&rec);
    flush_stop();
    spool_t *sp;
    ck_assert_int_eq(spool_open(dir, &sp, err, sizeof err), 0);
    size_t n;
    const uint64_t *seqs = spool_pending(sp, &n);
    ck_assert_uint_eq(n, 2);
    batch_t *b;
    ck_assert_int_eq(spool_load(sp, seqs[1], &b, err, sizeof err), 0);
    ck_assert_uint_gt(batch_nincr(b), 0);
    batch_free(b);
    spool_close(sp);
    rm_dir(dir);
}
END_TEST

Suite *batch_suite(void)
{
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("redis");
    tcase_add_test(tc, apply_is_exactly_once_and_validated);
    tcase_add_test(tc, spool_file_round_trip);
    tcase_add_test(tc, buckets_and_time_zones);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    TCase *fl = tcase_create("flush");
    tcase_add_test(fl, flush_sets_damaged_batch_aside);
    tcase_add_test(fl, flush_waits_for_unreadable_batch);
    tcase_add_test(fl, flush_lets_vanished_batch_go);
    tcase_add_test(fl, flush_heartbeat_when_idle);
    tcase_add_test(fl, flush_stop_spools_past_the_cap);
    tcase_set_timeout(fl, 30);
    suite_add_tcase(s, fl);
    return s;
}
