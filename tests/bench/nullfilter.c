/*
 * nullfilter — the ceiling for `make bench`: a libmilter filter that does
 * nothing but add one header at end of message, negotiating the same
 * no-reply flags and TCP_NODELAY as tollgate. Whatever tollgate costs above
 * this is tollgate's own work.
 *   nullfilter unix:PATH|inet:PORT@HOST
 * Stops on SIGTERM.
 */
#include <stdio.h>
#include <string.h>

#include <libmilter/mfapi.h>

#include "net.h"

static unsigned long nr_flags;

static sfsistat nf_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                             unsigned long f2, unsigned long f3, unsigned long *pf0,
                             unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    (void)ctx;
    (void)f2;
    (void)f3;
    *pf0 = f0 & SMFIF_ADDHDRS;
    *pf1 = f1 & (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT |
                 SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_NR_DATA |
                 SMFIP_NR_UNKN | SMFIP_NOUNKNOWN | SMFIP_NODATA);
    *pf2 = *pf3 = 0;
    nr_flags = *pf1; /* the same for every session of one MTA */
    return SMFIS_CONTINUE;
}

#define NOREPLY(flag) ((nr_flags & (flag)) ? SMFIS_NOREPLY : SMFIS_CONTINUE)

static sfsistat nf_connect(SMFICTX *c, char *h, _SOCK_ADDR *a) { (void)c; (void)h; (void)a; return NOREPLY(SMFIP_NR_CONN); }
static sfsistat nf_helo(SMFICTX *c, char *h) { (void)c; (void)h; return NOREPLY(SMFIP_NR_HELO); }
static sfsistat nf_from(SMFICTX *c, char **a) { (void)c; (void)a; return NOREPLY(SMFIP_NR_MAIL); }
static sfsistat nf_rcpt(SMFICTX *c, char **a) { (void)c; (void)a; return NOREPLY(SMFIP_NR_RCPT); }
static sfsistat nf_header(SMFICTX *c, char *n, char *v) { (void)c; (void)n; (void)v; return NOREPLY(SMFIP_NR_HDR); }
static sfsistat nf_eoh(SMFICTX *c) { (void)c; return NOREPLY(SMFIP_NR_EOH); }
static sfsistat nf_body(SMFICTX *c, unsigned char *b, size_t l) { (void)c; (void)b; (void)l; return NOREPLY(SMFIP_NR_BODY); }

static sfsistat nf_eom(SMFICTX *ctx)
{
    smfi_addheader(ctx, "X-Null-Filter", "yes");
    return SMFIS_ACCEPT;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: nullfilter unix:PATH|inet:PORT@HOST\n");
        return 2;
    }
    struct smfiDesc d = {
        .xxfi_name = "nullfilter", .xxfi_version = SMFI_VERSION, .xxfi_flags = SMFIF_ADDHDRS,
        .xxfi_connect = nf_connect, .xxfi_helo = nf_helo, .xxfi_envfrom = nf_from,
        .xxfi_envrcpt = nf_rcpt, .xxfi_header = nf_header, .xxfi_eoh = nf_eoh,
        .xxfi_body = nf_body, .xxfi_eom = nf_eom, .xxfi_negotiate = nf_negotiate,
    };
    if (smfi_register(d) == MI_FAILURE || smfi_setconn(argv[1]) == MI_FAILURE ||
        smfi_opensocket(1) == MI_FAILURE) {
        fprintf(stderr, "nullfilter: cannot listen on %s\n", argv[1]);
        return 1;
    }
    if (strncmp(argv[1], "unix:", 5) != 0)
        net_nodelay_listeners();
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
