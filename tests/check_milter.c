/* The daemon's pure parts: config, direction and tenants, header texts, SPF
 * (over libspf2's in-process zone DNS layer: no network). */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "fast.h"
#include "direction.h"
#include "gate.h"
#include "spf.h"
#include "stats.h"
#include "tag.h"
#include "util.h"

static char conf_path[64];

static const char *write_conf(const char *text)
{
    snprintf(conf_path, sizeof conf_path, "/tmp/tg_conf_%d.conf", (int)getpid());
    FILE *f = fopen(conf_path, "w");
    fputs(text, f);
    fclose(f);
    return conf_path;
}

static config_t *conf_ok(const char *text)
{
    config_t *c = NULL;
    char err[512] = "";
    int rc = config_load(write_conf(text), &c, err, sizeof err);
    unlink(conf_path);
    ck_assert_msg(rc == 0, "config error: %s", err);
    return c;
}

static void conf_err(const char *text, const char *want)
{
    config_t *c = NULL;
    char err[512] = "";
    int rc = config_load(write_conf(text), &c, err, sizeof err);
    unlink(conf_path);
    ck_assert_msg(rc == -1, "expected an error for: %s", text);
    char full[600];
    snprintf(full, sizeof full, "%s:%s", conf_path, want);
    ck_assert_msg(strncmp(err, full, strlen(full)) == 0, "got '%s', want '%s'", err, full);
}

START_TEST(config_defaults_and_keys)
{
    config_t *d = config_default();
    ck_assert_str_eq(d->socket, "unix:/run/tollgate/tollgate.sock");
    ck_assert_uint_eq(d->max_scan, 1024 * 1024);
    ck_assert_int_eq(d->on_error_accept, 0);
    ck_assert_uint_eq(d->ninternal, 2);
    ck_assert_int_eq(d->flush_interval, 1);
    ck_assert_uint_eq(d->scan_concurrency, (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
    config_free(d);

    config_t *c = conf_ok(
        "# comment\n"
        "Socket   inet:8894@127.0.0.1   # trailing comment\n"
        "\n"
        "rules    /a.cf /b\n"
        "Rules    /c/*.cf\n"
        "InternalNetworks 10.0.0.0/8, 192.168.0.0/16\n"
        "LocalDomains Example.ORG example.net\n"
        "Tenant acme acme.example acme.test\n"
        "Tenant beta beta.example\n"
        "DaemonDirection ORIGINATING outbound\n"
        "MaxScanSize 512K\n"
        "OnError accept\n"
        "SPF no\n"
        "SPFTimeout 3\n"
        "SpamHeaders spam\n"
        "SubjectPrefix [SPAM]\n"
        "RedisURL redis://127.0.0.1:6379/2\n"
        "StatsFlushInterval 5\n"
        "TimeZone Europe/London\n"
        "SyslogFacility local3\n"
        "SocketMode 0600\n"
        "MatchLimit 50000\n"
        "ScanMemo 4096\n"
        "ScanConcurrency 3\n");
    ck_assert_str_eq(c->socket, "inet:8894@127.0.0.1");
    ck_assert_uint_eq(c->nrules, 3); /* the default list was replaced */
    ck_assert_str_eq(c->rules[2], "/c/*.cf");
    ck_assert_uint_eq(c->ninternal, 2);
    ck_assert_int_eq(c->internal[1].bits, 16);
    ck_assert_uint_eq(c->nlocal_domains, 2);
    ck_assert_str_eq(c->local_domains[0], "example.org"); /* lower-cased */
    ck_assert_uint_eq(c->ntenants, 2);
    ck_assert_uint_eq(c->tenants[0].ndomains, 2);
    ck_assert_int_eq(c->daemon_dirs[0].dir, CONFIG_DIR_OUTBOUND);
    ck_assert_uint_eq(c->max_scan, 512 * 1024);
    ck_assert_int_eq(c->on_error_accept, 1);
    ck_assert_int_eq(c->spf, 0);
    ck_assert_int_eq(c->spf_timeout, 3);
    ck_assert_int_eq(c->spam_headers, CONFIG_HDR_SPAM);
    ck_assert_str_eq(c->subject_prefix, "[SPAM]");
    ck_assert_str_eq(c->timezone, "Europe/London");
    ck_assert_int_eq(c->syslog_facility, LOG_LOCAL3);
    ck_assert_uint_eq(c->socket_mode, 0600);
    ck_assert_uint_eq(c->match_limit, 50000);
    ck_assert_uint_eq(c->scan_memo, 4096);
    ck_assert_uint_eq(c->scan_concurrency, 3);
    config_free(c);
    c = conf_ok("ScanMemo no\n");
    ck_assert_uint_eq(c->scan_memo, 0);
    config_free(c);
    c = conf_ok("Matcher fast\n");
    ck_assert_uint_eq(c->scan_memo, FAST_MEMO_DEFAULT);
    config_free(c);
    c = conf_ok("ScanConcurrency 0\n");
    ck_assert_uint_eq(c->scan_concurrency, 0);
    config_free(c);
    c = conf_ok("ScanConcurrency Auto\n");
    ck_assert_uint_eq(c->scan_concurrency, (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
    config_free(c);
}
END_TEST

START_TEST(config_errors_name_the_line)
{
    conf_err("Socket inet:8894@127.0.0.1\nSockte unix:/x\n", "2: unknown key 'Sockte'");
    conf_err("\n\nSocket tcp:25\n", "3: Socket takes unix:PATH");
    conf_err("Socket inet:99999@127.0.0.1\n", "1: Socket takes");
    conf_err("MaxScanSize lots\n", "1: MaxScanSize takes a size");
    conf_err("OnError maybe\n", "1: OnError takes accept or tempfail");
    conf_err("ScanMemo 10\n", "1: ScanMemo takes no, 0 or 64 to 4194304 slots, not 10");
    conf_err("ScanMemo lots\n", "1: ScanMemo takes");
    conf_err("SPF perhaps\n", "1: SPF takes yes or no");
    conf_err("InternalNetworks 10.0.0.0/8 banana\n", "1: InternalNetworks: 'banana' is not an IP");
    conf_err("LocalDomains example.org ex@mple.org\n", "1: LocalDomains: 'ex@mple.org' is not a domain");
    conf_err("Tenant acme\n", "1: Tenant acme: expected one or more domains");
    conf_err("Tenant _all x.example\n", "1: Tenant takes a name (not _all)");
    conf_err("Tenant a a.example\nTenant a b.example\n", "2: Tenant 'a' is defined twice");
    conf_err("DaemonDirection smtpd sideways\n", "1: DaemonDirection takes NAME");
    conf_err("TimeZone Mars/Olympus\n", "1: TimeZone 'Mars/Olympus' is not a known zone");
    conf_err("StatsFlushInterval 0\n", "1: StatsFlushInterval takes a whole number from 1");
    conf_err("RedisURL http://x\n", "1: RedisURL takes redis://");
    conf_err("Socket\n", "1: Socket needs a value");
    conf_err("\nScanConcurrency many\n", "2: ScanConcurrency takes a whole number from 0");
    conf_err("ScanConcurrency 5000\n", "1: ScanConcurrency takes a whole number from 0");
    config_t *c;
    char err[256];
    ck_assert_int_eq(config_load("/nonexistent/tollgate.conf", &c, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "/nonexistent/tollgate.conf: No such file"), "got %s", err);
}
END_TEST

/* ---- gate: the ScanConcurrency limit ---------------------------------- */

typedef struct gate_run {
    gate_t *g;
    pthread_mutex_t mu;
    int inside, most;           /* threads between enter and leave */
    int order[8], norder;       /* who got in, in order */
} gate_run_t;

typedef struct gate_arg {
    gate_run_t *r;
    int id;
} gate_arg_t;

static void *gate_thread(void *p)
{
    gate_arg_t *a = p;
    gate_run_t *r = a->r;
    gate_enter(r->g);
    pthread_mutex_lock(&r->mu);
    r->order[r->norder++] = a->id;
    if (++r->inside > r->most)
        r->most = r->inside;
    pthread_mutex_unlock(&r->mu);
    struct timespec ts = {0, 20 * 1000000L}; /* 20 ms of "classification" */
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&r->mu);
    r->inside--;
    pthread_mutex_unlock(&r->mu);
    gate_leave(r->g);
    return NULL;
}

START_TEST(gate_limits_and_keeps_order)
{
    ck_assert_ptr_null(gate_new(0)); /* 0: no limit */
    gate_enter(NULL);                /* and a NULL gate is a no-op */
    gate_leave(NULL);

    /* With one place the record below is made by one thread at a time, so
     * it is the admission order; with two, both places are used at once. */
    for (int slots = 1; slots <= 2; slots++) {
        gate_run_t r = {.g = gate_new((unsigned)slots)};
        pthread_mutex_init(&r.mu, NULL);
        for (int i = 0; i < slots; i++) /* the places are held here */
            gate_enter(r.g);
        pthread_t t[6];
        gate_arg_t a[6];
        for (int i = 0; i < 6; i++) {
            a[i] = (gate_arg_t){&r, i};
            pthread_create(&t[i], NULL, gate_thread, &a[i]);
            /* each one queued before the next starts: arrival order is i */
            while (gate_queued(r.g) < (unsigned)i + 1)
                sched_yield();
        }
        pthread_mutex_lock(&r.mu);
        ck_assert_int_eq(r.norder, 0); /* nobody got past the full gate */
        pthread_mutex_unlock(&r.mu);
        for (int i = 0; i < slots; i++)
            gate_leave(r.g);
        for (int i = 0; i < 6; i++)
            pthread_join(t[i], NULL);
        ck_assert_int_eq(gate_queued(r.g), 0);
        ck_assert_int_eq(r.norder, 6);
        ck_assert_int_eq(r.most, slots); /* never more, and all were used */
        if (slots == 1)
            for (int i = 0; i < 6; i++)
                ck_assert_int_eq(r.order[i], i); /* first come, first served */
        gate_free(r.g);
        pthread_mutex_destroy(&r.mu);
    }
}
END_TEST

START_TEST(direction_and_tenants)
{
    config_t *c = conf_ok(
        "InternalNetworks 10.0.0.0/8\n"
        "LocalDomains example.org example.net\n"
        "Tenant org example.org\n"
        "Tenant net example.net\n"
        "DaemonDirection submission outbound\n");
    const char *local2[] = {"a@example.org", "b@mail.example.net"};
    const char *mixed[] = {"a@example.org", "x@elsewhere.example"};
    dir_input_t in = {.client_ip = "203.0.113.5", .mail_from = "s@elsewhere.example",
                      .rcpts = local2, .nrcpts = 2};
    size_t t[8];
    ck_assert_int_eq(dir_classify(c, &in), RULES_DIR_INBOUND);
    size_t n = dir_tenants(c, RULES_DIR_INBOUND, &in, t, 8);
    ck_assert_uint_eq(n, 2); /* one message, two tenants */
    ck_assert_uint_eq(t[0], 0);
    ck_assert_uint_eq(t[1], 1);

    in.client_ip = "10.1.2.3"; /* from inside, to local domains only */
    in.mail_from = "boss@example.org";
    ck_assert_int_eq(dir_classify(c, &in), RULES_DIR_INTERNAL);
    n = dir_tenants(c, RULES_DIR_INTERNAL, &in, t, 8);
    ck_assert_uint_eq(n, 2);

    in.rcpts = mixed; /* from inside, one recipient outside */
    ck_assert_int_eq(dir_classify(c, &in), RULES_DIR_OUTBOUND);
    n = dir_tenants(c, RULES_DIR_OUTBOUND, &in, t, 8);
    ck_assert_uint_eq(n, 1); /* outbound: the sender's tenant */
    ck_assert_uint_eq(t[0], 0);

    in.client_ip = "198.51.100.9"; /* outside but authenticated: ours */
    in.auth = "boss";
    ck_assert_int_eq(dir_classify(c, &in), RULES_DIR_OUTBOUND);
    in.auth = NULL;
    ck_assert_int_eq(dir_classify(c, &in), RULES_DIR_INBOUND);
    in.daemon_name = "submission"; /* the listener decides */
    ck_assert_int_eq(dir_classify(c, &in), RULES_DIR_OUTBOUND);
    in.daemon_name = "smtpd";
    ck_assert_int_eq(dir_classify(c, &in), RULES_DIR_INBOUND);
    /* an unrelated domain belongs to no tenant */
    const char *foreign[] = {"x@notexample.org"};
    in.rcpts = foreign;
    in.nrcpts = 1;
    ck_assert_uint_eq(dir_tenants(c, RULES_DIR_INBOUND, &in, t, 8), 0);
    config_free(c);
}
END_TEST

START_TEST(header_texts)
{
    rules_hit_t hits[12];
    char names[12][32];
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof names[i], "RULE_NUMBER_%02d", i);
        hits[i] = (rules_hit_t){names[i], NULL, 1, 1};
    }
    rules_verdict_t v = {.score = 7.25, .required = 5, .hits = hits, .nhits = 2};
    tg_buf b;
    tg_buf_init(&b);
    tag_spam_status(&v, &b);
    ck_assert_str_eq(b.s, "Yes, score=7.2 required=5.0 tests=RULE_NUMBER_00,RULE_NUMBER_01");
    tg_buf_reset(&b);
    v.score = -0.01;
    v.nhits = 0;
    tag_spam_status(&v, &b);
    ck_assert_str_eq(b.s, "No, score=0.0 required=5.0 tests=none");
    tg_buf_reset(&b);
    v.nhits = 12; /* folded, every line within 78 columns */
    tag_spam_status(&v, &b);
    ck_assert_ptr_nonnull(strstr(b.s, "\n\t"));
    size_t col = 15;
    for (const char *p = b.s; *p; p++) {
        col = *p == '\n' ? 0 : col + 1;
        ck_assert_uint_le(col, 78);
    }
    tg_buf_reset(&b);
    spf_result_t spf = {.result = RULES_SPF_FAIL};
    snprintf(spf.identity, sizeof spf.identity, "example.com");
    tag_auth_results("mx.example.org", &spf, &b);
    ck_assert_str_eq(b.s, "mx.example.org; spf=fail smtp.mailfrom=example.com");
    tg_buf_reset(&b);
    spf.helo_identity = 1;
    spf.result = RULES_SPF_NONE;
    snprintf(spf.identity, sizeof spf.identity, "helo.example");
    tag_auth_results("mx.example.org", &spf, &b);
    ck_assert_str_eq(b.s, "mx.example.org; spf=none smtp.helo=helo.example");
    /* a HELO that is no domain cannot end the resinfo or add a method */
    tg_buf_reset(&b);
    snprintf(spf.identity, sizeof spf.identity, "x; dkim=pass \"q\\\r\n");
    tag_auth_results("mx.example.org", &spf, &b);
    ck_assert_str_eq(b.s, "mx.example.org; spf=none smtp.helo=\"x; dkim=pass \\\"q\\\\\"");
    tg_buf_free(&b);
    ck_assert(tag_ar_is_ours(" MX.example.org; spf=pass", "mx.example.org"));
    ck_assert(!tag_ar_is_ours("mx.example.org.evil; spf=pass", "mx.example.org"));
    ck_assert(!tag_ar_is_ours("other; spf=pass", "mx.example.org"));

    char r1[] = "550 5.7.1 Executables are not accepted";
    char *code, *x, *text;
    tag_split_reply(r1, &code, &x, &text);
    ck_assert_str_eq(code, "550");
    ck_assert_str_eq(x, "5.7.1");
    ck_assert_str_eq(text, "Executables are not accepted");
    char r2[] = "451 try later";
    tag_split_reply(r2, &code, &x, &text);
    ck_assert_str_eq(code, "451");
    ck_assert_str_eq(x, "");
    ck_assert_str_eq(text, "try later");
}
END_TEST

START_TEST(spf_over_zone_dns)
{
    const char *zone[] = {
        "example.com TXT v=spf1 ip4:192.0.2.0/24 -all",
        "soft.example TXT v=spf1 ip4:192.0.2.1 ~all",
        "neutral.example TXT v=spf1 ?all",
        "broken.example TXT v=spf1 ip4:999.1.1.1 -all",
        "helo.example TXT v=spf1 a -all",
        "helo.example A 198.51.100.20",
    };
    spf_ctx_t *z = spf_new_zone(zone, sizeof zone / sizeof zone[0]);
    spf_result_t r;
    spf_check(z, "192.0.2.7", "mx.example.com", "a@example.com", &r);
    ck_assert_int_eq(r.result, RULES_SPF_PASS);
    ck_assert_str_eq(r.identity, "example.com");
    ck_assert_int_eq(r.helo_identity, 0);
    spf_check(z, "203.0.113.1", "mx.example.com", "a@example.com", &r);
    ck_assert_int_eq(r.result, RULES_SPF_FAIL);
    spf_check(z, "203.0.113.1", "x", "a@soft.example", &r);
    ck_assert_int_eq(r.result, RULES_SPF_SOFTFAIL);
    spf_check(z, "203.0.113.1", "x", "a@neutral.example", &r);
    ck_assert_int_eq(r.result, RULES_SPF_NEUTRAL);
    spf_check(z, "203.0.113.1", "x", "a@nospf.example", &r);
    ck_assert_int_eq(r.result, RULES_SPF_NONE);
    spf_check(z, "203.0.113.1", "x", "a@broken.example", &r);
    ck_assert_int_eq(r.result, RULES_SPF_PERMERROR);
    /* null sender: the HELO identity is checked */
    spf_check(z, "198.51.100.20", "helo.example", "", &r);
    ck_assert_int_eq(r.helo_identity, 1);
    ck_assert_str_eq(r.identity, "helo.example");
    ck_assert_int_eq(r.result, RULES_SPF_PASS);
    spf_check(z, "198.51.100.21", "helo.example", "", &r);
    ck_assert_int_eq(r.result, RULES_SPF_FAIL);
    /* IPv6 client against an IPv4-only policy */
    spf_check(z, "2001:db8::1", "x", "a@example.com", &r);
    ck_assert_int_eq(r.result, RULES_SPF_FAIL);
    spf_free(z);
    ck_assert_str_eq(rules_spf_name(RULES_SPF_SOFTFAIL), "softfail");
}
END_TEST

START_TEST(stats_in_memory)
{
    stats_shutdown();
    stats_init();
    const char *ten[] = {"acme", "beta"};
    const char *hits[] = {"R1", "R2"};
    stats_rec_t r = {.dir = STATS_IN, .tenants = ten, .ntenants = 2, .rcpts = 3,
                     .bytes = 1000, .verdict = STATS_V_SPAM, .action = STATS_A_REJECT,
                     .hits = hits, .nhits = 2};
    stats_record(&r);
    r.ntenants = 1;
    r.verdict = STATS_V_CLEAN;
    r.action = STATS_A_ACCEPT;
    r.nhits = 1;
    stats_record(&r);
    r.dir = STATS_OUT;
    stats_record(&r);
    stats_counts_t all = stats_get(NULL, STATS_IN);
    ck_assert_uint_eq(all.msgs, 2);
    ck_assert_uint_eq(all.rcpts, 6);
    ck_assert_uint_eq(all.bytes, 2000);
    ck_assert_uint_eq(all.verdict[STATS_V_SPAM] + all.verdict[STATS_V_CLEAN], all.msgs);
    ck_assert_uint_eq(stats_get("beta", STATS_IN).msgs, 1);
    ck_assert_uint_eq(stats_get("acme", STATS_OUT).msgs, 1);
    ck_assert_uint_eq(stats_get("nobody", STATS_IN).msgs, 0);
    ck_assert_uint_eq(stats_rule_hits("R1"), 3);
    ck_assert_uint_eq(stats_rule_hits("R2"), 1);
    /* out-of-range records are ignored, not counted */
    r.verdict = 99;
    stats_record(&r);
    ck_assert_uint_eq(stats_get(NULL, STATS_OUT).msgs, 1);
    stats_shutdown();
}
END_TEST

Suite *milter_suite(void)
{
    Suite *s = suite_create("milter");
    TCase *tc = tcase_create("units");
    tcase_add_test(tc, config_defaults_and_keys);
    tcase_add_test(tc, config_errors_name_the_line);
    tcase_add_test(tc, gate_limits_and_keeps_order);
    tcase_add_test(tc, direction_and_tenants);
    tcase_add_test(tc, header_texts);
    tcase_add_test(tc, spf_over_zone_dns);
    tcase_add_test(tc, stats_in_memory);
    suite_add_tcase(s, tc);
    return s;
}
