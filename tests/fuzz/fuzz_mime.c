/* libFuzzer target for the message model: feeds the input in a few chunks
 * (split points taken from the input itself), finishes, and walks every
 * view, the relay pseudo-headers included. Seed corpus: tests/fixtures/mime/
 * and tests/fixtures/relays/. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "msg.h"

static size_t touch(const char *p, size_t n)
{
    size_t h = 0;
    for (size_t i = 0; i < n; i++)
        h = h * 31 + (unsigned char)p[i];
    return h + (unsigned char)p[n]; /* the NUL terminator must be there */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    msg_limits_t lim;
    msg_limits_default(&lim);
    lim.max_scan = 256 * 1024;
    lim.max_depth = 8;
    lim.max_parts = 200;
    lim.max_headers = 200;
    lim.max_header_len = 4096;
    msg_t *m = msg_new(&lim);
    /* chunk sizes vary with the first byte: 1, a few, or whole */
    size_t step = size ? (size_t)(data[0] % 7) + 1 : 1;
    if (size && data[0] & 0x80)
        step = size;
    for (size_t o = 0; o < size; o += step)
        msg_feed(m, data + o, size - o < step ? size - o : step);
    msg_set_envelope_from(m, "<a@b.example>");
    msg_finish(m);

    volatile size_t sink = msg_size(m) + msg_limits_hit(m);
    msg_str_t f = msg_full(m);
    sink += touch(f.ptr, f.len);
    for (size_t i = 0; i < msg_nheaders(m); i++) {
        msg_str_t n, r, d;
        msg_header_at(m, i, &n, &r, &d);
        sink += touch(n.ptr, n.len) + touch(r.ptr, r.len) + touch(d.ptr, d.len);
    }
    const msg_str_t *(*views[])(const msg_t *, size_t *) = {
        msg_body_lines, msg_rawbody_chunks, msg_uris};
    for (size_t v = 0; v < 3; v++) {
        size_t n;
        const msg_str_t *l = views[v](m, &n);
        for (size_t i = 0; i < n; i++)
            sink += touch(l[i].ptr, l[i].len);
    }
    static const char *names[] = {"ALL", "ToCc", "MESSAGEID", "EnvelopeFrom",
                                  "From", "To", "Subject", "Content-Type",
                                  "X-Spam-Relays-Untrusted", "X-Spam-Relays-Internal",
                                  "ALL-TRUSTED", "ALL-EXTERNAL"};
    tg_buf b;
    tg_buf_init(&b);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        for (int mode = MSG_H_DECODED; mode <= MSG_H_NAME; mode++) {
            tg_buf_reset(&b);
            sink += (size_t)msg_get_header(m, names[i], (msg_hmode_t)mode, &b);
            if (b.s)
                sink += touch(b.s, b.len);
        }
    for (size_t i = 0; i < msg_nparts(m); i++) {
        const msg_part_t *p = msg_part_at(m, i);
        sink += touch(p->type.ptr, p->type.len) +
                touch(p->filename.ptr, p->filename.len) +
                touch(p->charset.ptr, p->charset.len) + p->size + p->depth;
        for (int mode = MSG_H_DECODED; mode <= MSG_H_NAME; mode++) {
            tg_buf_reset(&b);
            sink += (size_t)msg_part_header(m, i, "Content-Disposition",
                                            (msg_hmode_t)mode, &b);
        }
    }
    /* the relays again with an SMTP client and networks (rcvd.h) */
    static rcvd_nets_t *nets;
    if (!nets) {
        char err[128];
        nets = rcvd_nets_new();
        rcvd_nets_add(nets, "10/8 192.0.2.0/24 !192.0.2.9 2001:db8::/32", NULL, err, sizeof err);
    }
    rcvd_trust_t trust = { .trusted = nets, .msa = nets };
    rcvd_client_t client = { "192.0.2.7", "unknown", "helo.example", "mx.example", "u" };
    msg_use_relays(m, &trust, &client);
    tg_buf_reset(&b);
    sink += (size_t)msg_get_header(m, "X-Spam-Relays-Trusted", MSG_H_DECODED, &b);
    if (b.s)
        sink += touch(b.s, b.len);
    tg_buf_free(&b);
    (void)sink;
    msg_free(m);
    return 0;
}
