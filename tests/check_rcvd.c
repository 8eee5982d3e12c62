/* Unit tests for the relay view (rules/rcvd.h) and the pseudo-headers the
 * message model builds from it. What SpamAssassin itself prints for the
 * same headers is compared in tests/integration/12_relays.sh; these cases
 * pin the contracts around it: return codes, networks, bounds, the SMTP
 * client's relay, ALL-UNTRUSTED and friends. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "rcvd.h"

static msg_t *build(const char *text)
{
    msg_t *m = msg_new(NULL);
    msg_feed(m, text, strlen(text));
    msg_finish(m);
    return m;
}

/* msg_get_header's value into a static buffer (one at a time). */
static const char *hval(const msg_t *m, const char *name, int *found)
{
    static char out[8192];
    tg_buf b;
    tg_buf_init(&b);
    int f = msg_get_header(m, name, MSG_H_DECODED, &b);
    if (found)
        *found = f;
    snprintf(out, sizeof out, "%.*s", (int)b.len, b.s ? b.s : "");
    tg_buf_free(&b);
    return out;
}

static int parse(const char *line, rcvd_relay_t *r)
{
    return rcvd_parse(line, strlen(line), r);
}

START_TEST(parse_codes)
{
    rcvd_relay_t r;
    ck_assert_int_eq(parse("from a.example (a.example [192.0.2.1]) by mx.example (Postfix) "
                           "with ESMTP id 4AB1; Mon, 2 Nov 2026 10:00:00 +0100", &r), RCVD_RELAY);
    ck_assert_str_eq(r.ip, "192.0.2.1");
    ck_assert_str_eq(r.rdns, "a.example");
    ck_assert_str_eq(r.helo, "a.example");
    ck_assert_str_eq(r.by, "mx.example");
    ck_assert_str_eq(r.id, "4AB1");
    ck_assert_int_eq(r.ip_private, 0);
    rcvd_relay_clear(&r);
    /* no handover recorded */
    ck_assert_int_eq(parse("by mx.example (Postfix, from userid 0) id 5", &r), RCVD_SKIP);
    ck_assert_int_eq(parse("(qmail 1 invoked by uid 2); 2 Nov 2026 09:00:00 -0000", &r), RCVD_SKIP);
    /* skipped after the envelope sender was read (its copy must go too:
     * fuzz_mime found that leak) */
    ck_assert_int_eq(parse("from root (envelope-from <a@b.example>) by mail.example with local "
                           "(Exim 4.96) id 1ab-0000", &r), RCVD_SKIP);
    ck_assert_int_eq(parse("from mail pickup service (envelope-from <a@b.example>) by "
                           "exch.example with Microsoft SMTPSVC", &r), RCVD_UNPARSEABLE);
    /* a "from" with nothing to use */
    ck_assert_int_eq(parse("from foo bar baz", &r), RCVD_UNPARSEABLE);
    ck_assert_ptr_null(r.ip);
    /* a POP/IMAP fetch */
    ck_assert_int_eq(parse("from h [127.0.0.1] by localhost with POP3 (fetchmail-6) for <u@x>", &r),
                     RCVD_FETCHER);
}
END_TEST

START_TEST(parse_fields)
{
    rcvd_relay_t r;
    /* unknown rDNS, authenticated, private address */
    ck_assert_int_eq(parse("from pc (unknown [10.1.2.3]) by smtp.example (Postfix) with ESMTPSA id Q7Z", &r),
                     RCVD_RELAY);
    ck_assert_str_eq(r.rdns, "");
    ck_assert_str_eq(r.auth, "ESMTPSA");
    ck_assert_int_eq(r.ip_private, 1);
    tg_buf b;
    tg_buf_init(&b);
    rcvd_relay_string(&r, 1, 0, &b);
    ck_assert_str_eq(b.s, "[ ip=10.1.2.3 rdns= helo=pc by=smtp.example ident= envfrom= intl=1 id=Q7Z "
                          "auth=ESMTPSA msa=0 ]");
    tg_buf_free(&b);
    rcvd_relay_clear(&r);
    /* IPv4-mapped IPv6 is written as IPv4; a bracketed HELO keeps its
     * brackets as '!' (SpamAssassin's token rule) */
    ck_assert_int_eq(parse("from [192.0.2.9] (unknown [IPv6:::ffff:192.0.2.9]) by mx.example (Postfix) "
                           "with ESMTP id Y", &r), RCVD_RELAY);
    ck_assert_str_eq(r.ip, "192.0.2.9");
    ck_assert_str_eq(r.helo, "!192.0.2.9!");
    rcvd_relay_clear(&r);
    /* sendmail's IDENT lookup goes to ident, not rdns */
    ck_assert_int_eq(parse("from host (IDENT:joe@host.example [192.0.2.11]) by r.example (8.11.6/8.11.6) "
                           "with SMTP id h1", &r), RCVD_RELAY);
    ck_assert_str_eq(r.ident, "joe");
    ck_assert_str_eq(r.rdns, "host.example");
    rcvd_relay_clear(&r);
    /* IPv6 link-local with a zone, as Exchange writes it: the zone goes,
     * the address is private; in brackets with a zone no format takes it
     * (nor does SpamAssassin's) */
    ck_assert_int_eq(parse("from AM5PR.example ([fe80::19bd:c588:dd17:5226%6]) by AM5PR.example "
                           "([fe80::19bd:c588:dd17:5226%6]) with mapi id 15.20.1943.023", &r), RCVD_RELAY);
    ck_assert_str_eq(r.ip, "fe80::19bd:c588:dd17:5226");
    ck_assert_str_eq(r.id, "");
    ck_assert_int_eq(r.ip_private, 1);
    rcvd_relay_clear(&r);
    ck_assert_int_eq(parse("from lan (lan.example [fe80::1%eth0]) by m.example (8.15.2/8.15.2) with ESMTP id zz1",
                           &r), RCVD_UNPARSEABLE);
}
END_TEST

/* A hostile header: long, with the pieces the formats look for repeated.
 * It must finish (Check's timeout) and not crash; what it yields is not
 * the point. */
START_TEST(parse_hostile)
{
    tg_buf b;
    tg_buf_init(&b);
    tg_buf_adds(&b, "from ");
    for (int i = 0; i < 6000; i++)
        tg_buf_adds(&b, "(x [1.2.3.4] authenticated) by ");
    tg_buf_addc(&b, 0);
    rcvd_relay_t r;
    int rc = rcvd_parse(b.s, b.len - 1, &r);
    ck_assert(rc == RCVD_RELAY || rc == RCVD_UNPARSEABLE || rc == RCVD_SKIP);
    if (rc == RCVD_RELAY)
        rcvd_relay_clear(&r);
    /* and a message with many such headers */
    tg_buf m;
    tg_buf_init(&m);
    for (int i = 0; i < 300; i++)
        tg_buf_printf(&m, "Received: from a%d (a [192.0.2.%d]) by b (8.1/8.1) with SMTP id %d\n",
                      i, i % 250 + 1, i);
    tg_buf_adds(&m, "Subject: x\n\nbody\n");
    tg_buf_addc(&m, 0);
    msg_t *msg = build(m.s);
    const char *v = hval(msg, "X-Spam-Relays-Untrusted", NULL);
    size_t n = 0;
    for (const char *p = v; (p = strstr(p, "[ ip=")); p++)
        n++;
    ck_assert_uint_eq(n, 100); /* the first 100 Received headers only */
    msg_free(msg);
    tg_buf_free(&m);
    tg_buf_free(&b);
}
END_TEST

START_TEST(nets)
{
    rcvd_nets_t *n = rcvd_nets_new();
    char err[256];
    size_t col = 0;
    ck_assert_int_eq(rcvd_nets_add(n, "10. !192.168.1.0/24 192.168/16 [2001:db8::]/32 ::1 198.51.100.7",
                                   &col, err, sizeof err), 0);
    ck_assert_uint_eq(rcvd_nets_count(n), 6);
    ck_assert_int_eq(rcvd_nets_contains(n, "10.200.1.1"), 1);
    ck_assert_int_eq(rcvd_nets_contains(n, "11.0.0.1"), 0);
    ck_assert_int_eq(rcvd_nets_contains(n, "192.168.1.7"), 0);   /* excluded first */
    ck_assert_int_eq(rcvd_nets_contains(n, "192.168.2.7"), 1);
    ck_assert_int_eq(rcvd_nets_contains(n, "2001:db8:1::5"), 1);
    ck_assert_int_eq(rcvd_nets_contains(n, "2001:db9::5"), 0);
    ck_assert_int_eq(rcvd_nets_contains(n, "198.51.100.7"), 1);
    ck_assert_int_eq(rcvd_nets_contains(n, "::ffff:198.51.100.7"), 1); /* mapped = IPv4 */
    ck_assert_int_eq(rcvd_nets_contains(n, "198.51.100.8"), 0);
    ck_assert_int_eq(rcvd_nets_contains(n, "not-an-ip"), 0);
    /* errors name the entry and where it starts */
    ck_assert_int_eq(rcvd_nets_add(n, "10.0.0.0/8 1.2.3.4/33", &col, err, sizeof err), -1);
    ck_assert_uint_eq(col, 11);
    ck_assert_ptr_nonnull(strstr(err, "'1.2.3.4/33'"));
    ck_assert_int_eq(rcvd_nets_add(n, "256.1.1.1", &col, err, sizeof err), -1);
    ck_assert_int_eq(rcvd_nets_add(n, "1.2.3.4/", &col, err, sizeof err), -1);
    ck_assert_int_eq(rcvd_nets_add(n, "2001:db8::/129", &col, err, sizeof err), -1);
    ck_assert_int_eq(rcvd_nets_add(n, "a.b.c.d", &col, err, sizeof err), -1);
    rcvd_nets_clear(n);
    ck_assert_uint_eq(rcvd_nets_count(n), 0);
    ck_assert_int_eq(rcvd_nets_contains(n, "10.200.1.1"), 0);
    rcvd_nets_free(n);
}
END_TEST

#define THREE_HOPS \
    "Received: from gw.corp.example (gw.corp.example [10.9.8.7]) by mail.corp.example " \
    "(Postfix) with ESMTP id C1X\n" \
    "X-Between: 1\n" \
    "Received: from outside.example (outside.example [192.0.2.90]) by gw.corp.example " \
    "(8.15.2/8.15.2) with ESMTP id C0X\n" \
    "Received: from pc (pc [192.0.2.1]) by outside.example (8.15.2/8.15.2) with ESMTP id B9\n" \
    "Subject: s\n\nbody\n"

START_TEST(view_inferred)
{
    msg_t *m = build(THREE_HOPS);
    int found;
    /* no networks configured: the private hop is trusted and internal,
     * the first public one ends both parts */
    const char *t = hval(m, "X-Spam-Relays-Trusted", &found);
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(t, "[ ip=10.9.8.7 rdns=gw.corp.example helo=gw.corp.example by=mail.corp.example "
                        "ident= envfrom= intl=1 id=C1X auth= msa=0 ]");
    const char *u = hval(m, "x-spam-relays-untrusted", NULL); /* any case */
    ck_assert_ptr_nonnull(strstr(u, "[ ip=192.0.2.90 "));
    ck_assert_ptr_nonnull(strstr(u, "] [ ip=192.0.2.1 "));
    ck_assert_str_eq(hval(m, "X-Spam-Relays-Internal", NULL), t);
    ck_assert_str_eq(hval(m, "X-Spam-Relays-External", NULL), u);
    /* ALL-TRUSTED: up to and including the last trusted Received header;
     * ALL-UNTRUSTED: from the first untrusted one on */
    const char *at = hval(m, "ALL-TRUSTED", &found);
    ck_assert_int_eq(found, 1);
    ck_assert_ptr_nonnull(strstr(at, "Received: from gw.corp.example"));
    ck_assert_ptr_nonnull(strstr(at, "X-Between: 1\nReceived: from outside.example"));
    ck_assert_ptr_null(strstr(at, "Received: from pc "));
    const char *au = hval(m, "ALL-UNTRUSTED", NULL);
    ck_assert_ptr_null(strstr(au, "gw.corp.example (gw"));
    ck_assert_ptr_nonnull(strstr(au, "Received: from outside.example"));
    ck_assert_ptr_nonnull(strstr(au, "Subject: s\n"));
    /* not relay pseudo-headers: the plain lookups */
    ck_assert_int_eq(msg_has_header(m, "X-Spam-Relays-Other"), 0);
    ck_assert_int_eq(msg_has_header(m, "X-Spam-Relays-Trusted"), 1);
    msg_free(m);

    /* no Received header at all: the relay headers exist, empty */
    m = build("Subject: s\n\nbody\n");
    ck_assert_str_eq(hval(m, "X-Spam-Relays-Untrusted", &found), "");
    ck_assert_int_eq(found, 1);
    msg_free(m);
}
END_TEST

START_TEST(view_configured)
{
    msg_t *m = build(THREE_HOPS);
    rcvd_nets_t *tr = rcvd_nets_new(), *msa = rcvd_nets_new();
    char err[256];
    ck_assert_int_eq(rcvd_nets_add(tr, "10/8 192.0.2.90", NULL, err, sizeof err), 0);
    ck_assert_int_eq(rcvd_nets_add(msa, "192.0.2.90", NULL, err, sizeof err), 0);
    rcvd_trust_t trust = { .trusted = tr, .msa = msa };
    msg_use_relays(m, &trust, NULL);
    /* internal_networks unset: trusted_networks stands for it; the MSA
     * makes the rest trusted too, whatever its address */
    const char *t = hval(m, "X-Spam-Relays-Trusted", NULL);
    ck_assert_ptr_nonnull(strstr(t, "[ ip=192.0.2.90 rdns=outside.example helo=outside.example "
                                    "by=gw.corp.example ident= envfrom= intl=1 id=C0X auth= msa=1 ]"));
    ck_assert_ptr_nonnull(strstr(t, "[ ip=192.0.2.1 "));
    ck_assert_str_eq(hval(m, "X-Spam-Relays-Untrusted", NULL), "");
    /* and back to no configuration: the view follows the last call */
    msg_use_relays(m, NULL, NULL);
    ck_assert_ptr_null(strstr(hval(m, "X-Spam-Relays-Trusted", NULL), "192.0.2.90"));
    msg_free(m);
    rcvd_nets_free(tr);
    rcvd_nets_free(msa);
}
END_TEST

START_TEST(view_client)
{
    msg_t *m = build(THREE_HOPS);
    /* Sendmail does not show milters its own Received header: the client
     * becomes the newest relay; "unknown" and "[addr]" mean no rDNS */
    rcvd_client_t cl = { "203.0.113.5", "[203.0.113.5]", "mta.example", "mx.example", "alice" };
    msg_use_relays(m, NULL, &cl);
    const char *t = hval(m, "X-Spam-Relays-Trusted", NULL);
    /* authenticated: trusted, so the private hop stays trusted too */
    ck_assert(strncmp(t, "[ ip=203.0.113.5 rdns= helo=mta.example by=mx.example ident= envfrom= "
                         "intl=1 id= auth=ESMTPA msa=0 ] [ ip=10.9.8.7 ", 99) == 0);
    /* ALL-TRUSTED counts Received headers, not the client's relay */
    const char *at = hval(m, "ALL-TRUSTED", NULL);
    ck_assert_ptr_nonnull(strstr(at, "Received: from outside.example"));
    ck_assert_ptr_null(strstr(at, "Received: from pc "));
    /* the top Received header records the client: not added twice */
    rcvd_client_t same = { "10.9.8.7", "gw.corp.example", NULL, NULL, NULL };
    msg_use_relays(m, NULL, &same);
    t = hval(m, "X-Spam-Relays-Trusted", NULL);
    ck_assert(strncmp(t, "[ ip=10.9.8.7 ", 14) == 0);
    ck_assert_ptr_null(strstr(t + 1, "[ ip=10.9.8.7 "));
    msg_free(m);
}
END_TEST

Suite *rcvd_suite(void)
{
    Suite *s = suite_create("rcvd");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, parse_codes);
    tcase_add_test(tc, parse_fields);
    tcase_add_test(tc, parse_hostile);
    tcase_add_test(tc, nets);
    tcase_add_test(tc, view_inferred);
    tcase_add_test(tc, view_configured);
    tcase_add_test(tc, view_client);
    suite_add_tcase(s, tc);
    return s;
}
