/*
 * milterload — a milter-protocol load generator: the MTA side of milter
 * protocol version 6, written after what Postfix 3.x (src/milter/milter8.c)
 * puts on the wire, without libmilter (which is the filter side).
 *
 *   milterload -s unix:PATH|inet:PORT@HOST -c CONCURRENCY (-n COUNT | -t SECONDS)
 *              [--per-conn N] [--from ADDR] [--rcpt ADDR] [--client-ip IP]
 *              [--client-name NAME] [--helo NAME] [--auth USER]
 *              [--daemon-name NAME] [--tag-header NAME] [--timeout SECONDS]
 *              [--verdicts FILE] [--trace FILE] [--rate MSGS_PER_S] [--nagle]
 *              [--json] DIR
 *
 * Every *.eml of DIR is loaded once (a leading mbox "From " line is dropped,
 * as a submission program would) and replayed round robin over CONCURRENCY
 * connections, one thread each, --per-conn messages per connection (a new
 * milter connection per SMTP session, as Postfix opens one).
 *
 * Per connection: OPTNEG (version 6, every action, every protocol flag
 * Postfix offers, including the SMFIP_NR_* no-reply flags, SMFIP_SKIP and
 * SMFIP_HDR_LEADSPC), macros + CONNECT, macros + HELO; per message macros +
 * MAIL, macros + RCPT, macros + DATA, each header (macros first, as Postfix
 * sends the end-of-header macros with every header), macros + EOH, body in
 * chunks of at most 65535 bytes with CRLF line ends, macros + EOM, then
 * SMFIC_ABORT (Postfix's smtpd resets every milter after each transaction);
 * SMFIC_QUIT at the end. A macro list is sent even for a step that the
 * filter asked to skip (as Postfix does); the step itself is skipped when
 * the filter set SMFIP_NOxxx, and no reply is awaited when it set
 * SMFIP_NR_xxx. Macro lists that the filter sends back in its OPTNEG reply
 * (SMFIR_SETSYMLIST) replace the defaults. Output is buffered and flushed
 * before every read, so no-reply steps travel together like Postfix's
 * VSTREAM writes.
 *
 * TCP sockets get TCP_NODELAY (--nagle leaves it off, for comparison).
 * --rate R paces the run (open loop, as mail arrives): message i (0, 1, ...)
 * starts, with its MAIL command, no earlier than i/R seconds after the run
 * began, on whichever of the CONCURRENCY connections is free. Without it
 * each connection sends its next message as soon as the last is answered
 * (closed loop): the filter is saturated and latency is mostly queueing
 * (Little's law: CONCURRENCY / rate). A message that no connection was free
 * to start on time is counted late, with the largest delay reported; its
 * latency is still measured from its end of message.
 * --verdicts FILE writes "PATH ACTION" per file, from its first run.
 * --trace FILE writes a line per message answered after its end of
 * message (not those the filter decided at connect or HELO), in start order:
 * "INDEX BYTES LATENCY_MS ACTION PATH" (latency as below), to see which
 * messages make the tail.
 *
 * Latency is the time from sending the end of message (the flush that
 * carries SMFIC_BODYEOB) to the final reply. Messages are tallied by final
 * action: accept, tag (accepted with the --tag-header added, default
 * X-Spam-Flag), quarantine (SMFIR_QUARANTINE then accept), reject, tempfail,
 * discard (REPLYCODE 4xx = tempfail, 5xx = reject). Exit status: 0 if every
 * message got a valid final reply and no error happened, 1 otherwise, 2 on
 * usage errors.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- protocol constants (libmilter/mfdef.h) ------------------------------ */

#define SMFI_VERSION_6 6
#define MILTER_CHUNK 65535
#define MAX_PACKET (64u * 1024 * 1024)

#define SMFIC_ABORT 'A'
#define SMFIC_BODY 'B'
#define SMFIC_CONNECT 'C'
#define SMFIC_MACRO 'D'
#define SMFIC_BODYEOB 'E'
#define SMFIC_HELO 'H'
#define SMFIC_HEADER 'L'
#define SMFIC_MAIL 'M'
#define SMFIC_EOH 'N'
#define SMFIC_OPTNEG 'O'
#define SMFIC_QUIT 'Q'
#define SMFIC_RCPT 'R'
#define SMFIC_DATA 'T'

#define SMFIR_ADDRCPT '+'
#define SMFIR_DELRCPT '-'
#define SMFIR_ADDRCPT_PAR '2'
#define SMFIR_SHUTDOWN '4'
#define SMFIR_ACCEPT 'a'
#define SMFIR_REPLBODY 'b'
#define SMFIR_CONTINUE 'c'
#define SMFIR_DISCARD 'd'
#define SMFIR_CHGFROM 'e'
#define SMFIR_CONN_FAIL 'f'
#define SMFIR_ADDHEADER 'h'
#define SMFIR_INSHEADER 'i'
#define SMFIR_CHGHEADER 'm'
#define SMFIR_PROGRESS 'p'
#define SMFIR_QUARANTINE 'q'
#define SMFIR_REJECT 'r'
#define SMFIR_SKIP 's'
#define SMFIR_TEMPFAIL 't'
#define SMFIR_REPLYCODE 'y'

#define SMFIF_ALL 0x1FFu /* ADDHDRS CHGBODY ADDRCPT DELRCPT CHGHDRS QUARANTINE CHGFROM ADDRCPT_PAR SETSYMLIST */

#define SMFIP_NOCONNECT 0x00000001u
#define SMFIP_NOHELO 0x00000002u
#define SMFIP_NOMAIL 0x00000004u
#define SMFIP_NORCPT 0x00000008u
#define SMFIP_NOBODY 0x00000010u
#define SMFIP_NOHDRS 0x00000020u
#define SMFIP_NOEOH 0x00000040u
#define SMFIP_NR_HDR 0x00000080u
#define SMFIP_NOUNKNOWN 0x00000100u
#define SMFIP_NODATA 0x00000200u
#define SMFIP_SKIP 0x00000400u
#define SMFIP_RCPT_REJ 0x00000800u
#define SMFIP_NR_CONN 0x00001000u
#define SMFIP_NR_HELO 0x00002000u
#define SMFIP_NR_MAIL 0x00004000u
#define SMFIP_NR_RCPT 0x00008000u
#define SMFIP_NR_DATA 0x00010000u
#define SMFIP_NR_UNKN 0x00020000u
#define SMFIP_NR_EOH 0x00040000u
#define SMFIP_NR_BODY 0x00080000u
#define SMFIP_HDR_LEADSPC 0x00100000u

/* What Postfix 3.7 offers with milter_protocol = 6: 0x1FFFFF, every flag. */
#define OFFER_PROTO                                                                        \
    (SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT | SMFIP_NOBODY |         \
     SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_SKIP |            \
     SMFIP_RCPT_REJ | SMFIP_NR_HDR | SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL |       \
     SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_EOH | SMFIP_NR_BODY |        \
     SMFIP_HDR_LEADSPC)

/* macro classes (SMFIM_*) of SMFIR_SETSYMLIST */
enum { M_CONNECT, M_HELO, M_ENVFROM, M_ENVRCPT, M_DATA, M_EOM, M_EOH, M_NCLASS };

/* final actions */
enum { A_ACCEPT, A_TAG, A_QUARANTINE, A_REJECT, A_TEMPFAIL, A_DISCARD, A_NACT };
static const char *const act_name[A_NACT] = {"accept", "tag", "quarantine",
                                             "reject", "tempfail", "discard"};

/* error kinds */
enum { E_CONNECT, E_TIMEOUT, E_IO, E_PROTOCOL, E_NERR };
static const char *const err_name[E_NERR] = {"connect", "timeout", "io", "protocol"};

/* ---- small helpers ------------------------------------------------------- */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("milterload: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* growable byte buffer */
typedef struct {
    unsigned char *p;
    size_t len, cap;
} buf_t;

static void buf_reserve(buf_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void buf_add(buf_t *b, const void *d, size_t n)
{
    if (!n)
        return;
    buf_reserve(b, n);
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void buf_addstr0(buf_t *b, const char *s) { buf_add(b, s, strlen(s) + 1); }

/* name -> count tally, linear (a handful of distinct names) */
typedef struct {
    char **name;
    unsigned long *n;
    size_t len, cap;
} tally_t;

static void tally_add(tally_t *t, const char *name, unsigned long k)
{
    for (size_t i = 0; i < t->len; i++)
        if (!strcmp(t->name[i], name)) {
            t->n[i] += k;
            return;
        }
    if (t->len == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 8;
        t->name = xrealloc(t->name, t->cap * sizeof *t->name);
        t->n = xrealloc(t->n, t->cap * sizeof *t->n);
    }
    t->name[t->len] = xstrdup(name);
    t->n[t->len++] = k;
}

static void tally_free(tally_t *t)
{
    for (size_t i = 0; i < t->len; i++)
        free(t->name[i]);
    free(t->name);
    free(t->n);
}

/* Like tally_add(.., 1), but names beyond the first `cap` distinct ones are
 * counted as "(other)". */
static void tally_add_capped(tally_t *t, const char *name, size_t cap)
{
    if (t->len >= cap) {
        size_t i = 0;
        while (i < t->len && strcmp(t->name[i], name))
            i++;
        if (i == t->len)
            name = "(other)";
    }
    tally_add(t, name, 1);
}

/* ---- the corpus ---------------------------------------------------------- */

typedef struct {
    char *name;  /* "Subject" */
    char *value; /* everything after the colon, leading space kept, folds as "\n" + WSP */
} hdr_t;

typedef struct {
    char *path;
    size_t size; /* bytes of the file */
    hdr_t *hdrs;
    size_t nhdrs;
    char *body; /* CRLF line ends */
    size_t bodylen;
    char *from; /* envelope, without brackets; "" = null sender */
    char *rcpt;
} eml_t;

static int is_hdr_name_char(unsigned char ch) { return ch > 32 && ch < 127 && ch != ':'; }

/* Postfix's is_header(): a name of printable non-space characters, optional
 * white space, then ':'. Returns the name length or 0. */
static size_t header_name_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_hdr_name_char((unsigned char)s[i]))
        i++;
    if (i == 0)
        return 0;
    size_t k = i;
    while (k < n && (s[k] == ' ' || s[k] == '\t'))
        k++;
    return (k < n && s[k] == ':') ? i : 0;
}

/* The first address in a header value: <inside> or the first token with '@'. */
static char *first_address(const char *v)
{
    const char *lt = strchr(v, '<');
    if (lt) {
        const char *gt = strchr(lt + 1, '>');
        if (gt)
            return xstrndup(lt + 1, (size_t)(gt - lt - 1));
    }
    const char *p = v;
    while (*p) {
        while (*p && strchr(" \t\r\n,;\"()", *p))
            p++;
        const char *s = p;
        while (*p && !strchr(" \t\r\n,;\"()", *p))
            p++;
        if (memchr(s, '@', (size_t)(p - s)))
            return xstrndup(s, (size_t)(p - s));
    }
    return NULL;
}

static const char *find_hdr(const eml_t *e, const char *name)
{
    for (size_t i = 0; i < e->nhdrs; i++)
        if (!strcasecmp(e->hdrs[i].name, name))
            return e->hdrs[i].value;
    return NULL;
}

/* Splits the file into header fields and a CRLF body, as Postfix's cleanup
 * hands them to the milter client. */
static void eml_parse(eml_t *e, const char *data, size_t n, const char *opt_from,
                      const char *opt_rcpt)
{
    size_t pos = 0, cap = 0;
    int in_headers = 1, first = 1;
    buf_t body = {0};
    e->hdrs = NULL;
    e->nhdrs = 0;
    while (pos < n) {
        const char *line = data + pos;
        const char *nl = memchr(line, '\n', n - pos);
        size_t ll = nl ? (size_t)(nl - line) : n - pos;
        pos += nl ? ll + 1 : ll;
        if (ll && line[ll - 1] == '\r')
            ll--;
        if (first) {
            first = 0;
            if (ll >= 5 && !memcmp(line, "From ", 5))
                continue; /* mbox separator */
        }
        if (in_headers) {
            if (ll == 0) {
                in_headers = 0;
                continue;
            }
            if ((line[0] == ' ' || line[0] == '\t') && e->nhdrs) {
                hdr_t *h = &e->hdrs[e->nhdrs - 1];
                size_t vl = strlen(h->value);
                h->value = xrealloc(h->value, vl + 1 + ll + 1);
                h->value[vl] = '\n';
                memcpy(h->value + vl + 1, line, ll);
                h->value[vl + 1 + ll] = '\0';
                continue;
            }
            size_t nl_ = header_name_len(line, ll);
            if (nl_) {
                if (e->nhdrs == cap) {
                    cap = cap ? 2 * cap : 32;
                    e->hdrs = xrealloc(e->hdrs, cap * sizeof *e->hdrs);
                }
                const char *colon = memchr(line, ':', ll);
                e->hdrs[e->nhdrs].name = xstrndup(line, nl_);
                e->hdrs[e->nhdrs].value =
                    xstrndup(colon + 1, ll - (size_t)(colon + 1 - line));
                e->nhdrs++;
                continue;
            }
            in_headers = 0; /* not a header: the body starts here */
        }
        buf_add(&body, line, ll);
        buf_add(&body, "\r\n", 2);
    }
    e->body = (char *)body.p;
    e->bodylen = body.len;

    char *a = NULL;
    if (opt_from)
        a = xstrdup(opt_from);
    else {
        const char *v = find_hdr(e, "Return-Path");
        if (v && (a = first_address(v)) == NULL && strstr(v, "<>"))
            a = xstrdup("");
        if (!a && (v = find_hdr(e, "From")))
            a = first_address(v);
    }
    e->from = a ? a : xstrdup("");
    a = NULL;
    if (opt_rcpt)
        a = xstrdup(opt_rcpt);
    else {
        const char *v = find_hdr(e, "To");
        if (v)
            a = first_address(v);
    }
    e->rcpt = a ? a : xstrdup("postmaster@localhost");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static eml_t *load_dir(const char *dir, size_t *count, const char *from, const char *rcpt)
{
    DIR *d = opendir(dir);
    if (!d)
        die("%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".eml"))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (!n)
        die("%s: no *.eml files", dir);
    qsort(names, n, sizeof *names, cmp_str);
    eml_t *v = xmalloc(n * sizeof *v);
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    for (size_t i = 0; i < n; i++) {
        char *path = xmalloc(dl + 1 + strlen(names[i]) + 1);
        sprintf(path, "%.*s/%s", (int)dl, dir, names[i]);
        FILE *f = fopen(path, "rb");
        if (!f)
            die("%s: %s", path, strerror(errno));
        buf_t b = {0};
        char tmp[65536];
        size_t r;
        while ((r = fread(tmp, 1, sizeof tmp, f)) > 0)
            buf_add(&b, tmp, r);
        if (ferror(f))
            die("%s: read error", path);
        fclose(f);
        v[i].path = path;
        v[i].size = b.len;
        eml_parse(&v[i], (const char *)b.p, b.len, from, rcpt);
        free(b.p);
        free(names[i]);
    }
    free(names);
    *count = n;
    return v;
}

/* ---- options and shared run state ---------------------------------------- */

static struct {
    const char *socket;
    int concurrency;
    long count;      /* -n, or 0 */
    double seconds;  /* -t, or 0 */
    int per_conn;
    const char *from, *rcpt, *client_ip, *client_name, *helo, *auth, *daemon_name;
    const char *tag_header;
    int json;
    int nagle; /* --nagle: leave TCP_NODELAY off, to show what it costs */
    int timeout_ms;
    const char *verdicts;
    const char *trace;
    double rate; /* --rate, or 0: closed loop */
    const char *dir;
} opt = {
    .per_conn = 10, .client_ip = "192.0.2.1", .client_name = "unknown",
    .helo = "client.example.net", .daemon_name = "milterload", .tag_header = "X-Spam-Flag",
    .timeout_ms = 10000,
};

static int sock_family; /* AF_UNIX or AF_INET/AF_INET6 */
static struct sockaddr_storage sock_addr;
static socklen_t sock_addrlen;

static eml_t *corpus;
static size_t ncorpus;
static atomic_long next_msg;
static atomic_ulong qid_seq;
static double deadline;
static double run_t0;          /* --rate: the schedule's origin */
static atomic_ulong late_n;    /* --rate: messages started over 1 ms late */
static atomic_ulong late_max_us;
static const char **verdict; /* per file: action of its first run */
static atomic_uint neg_version, neg_actions, neg_proto; /* last negotiation seen */

/* --trace: an answered message */
struct trace {
    long idx;             /* start order */
    const eml_t *e;
    double lat;
    int action;
};

/* per thread results */
typedef struct {
    unsigned long msgs, unanswered, conns;
    unsigned long long bytes;
    unsigned long act[A_NACT];
    unsigned long err[E_NERR];
    char lasterr[200];
    tally_t hadd, hchg, hdel, replies;
    double *lat;
    size_t nlat, latcap;
    struct trace *tr;     /* --trace: one per answered message */
    size_t ntr, trcap;
} stats_t;

static void stats_free(stats_t *s)
{
    tally_free(&s->hadd);
    tally_free(&s->hchg);
    tally_free(&s->hdel);
    tally_free(&s->replies);
    free(s->lat);
    free(s->tr);
}

/* ---- one milter connection ----------------------------------------------- */

typedef struct {
    int fd;
    buf_t w;              /* pending output */
    unsigned char *r;     /* last reply payload */
    size_t rcap;
    uint32_t rlen;        /* its length */
    unsigned char rcmd;   /* its command */
    uint32_t version, actions, pflags;
    char *symlist[M_NCLASS]; /* SETSYMLIST overrides, or NULL */
    int ekind;            /* error kind when a call returned -1 */
    char ewhy[160];
    stats_t *st;
} conn_t;

static int fail(conn_t *c, int kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->ewhy, sizeof c->ewhy, fmt, ap);
    va_end(ap);
    c->ekind = kind;
    return -1;
}

static int wait_fd(conn_t *c, short ev, double until, const char *what)
{
    for (;;) {
        double left = until - now_s();
        if (left <= 0)
            return fail(c, E_TIMEOUT, "timeout %s", what);
        struct pollfd p = {.fd = c->fd, .events = ev};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return fail(c, E_IO, "poll: %s", strerror(errno));
    }
}

static int flush_out(conn_t *c)
{
    size_t off = 0;
    double until = now_s() + opt.timeout_ms / 1e3;
    while (off < c->w.len) {
        ssize_t k = send(c->fd, c->w.p + off, c->w.len - off, MSG_NOSIGNAL);
        if (k > 0) {
            off += (size_t)k;
            until = now_s() + opt.timeout_ms / 1e3; /* timeout per operation */
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(c, POLLOUT, until, "writing to the filter") < 0)
                return -1;
            continue;
        }
        return fail(c, E_IO, "write: %s", k < 0 ? strerror(errno) : "nothing written");
    }
    c->w.len = 0;
    return 0;
}

static int read_full(conn_t *c, void *dst, size_t n, double until)
{
    size_t off = 0;
    while (off < n) {
        ssize_t k = recv(c->fd, (char *)dst + off, n - off, 0);
        if (k > 0) {
            off += (size_t)k;
            continue;
        }
        if (k == 0)
            return fail(c, E_IO, "the filter closed the connection");
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(c, POLLIN, until, "waiting for a reply") < 0)
                return -1;
            continue;
        }
        return fail(c, E_IO, "read: %s", strerror(errno));
    }
    return 0;
}

/* Flushes pending output, then reads one packet into rcmd/r/rlen. */
static int read_packet(conn_t *c)
{
    if (c->w.len && flush_out(c) < 0)
        return -1;
    double until = now_s() + opt.timeout_ms / 1e3;
    unsigned char hdr[5];
    if (read_full(c, hdr, 5, until) < 0)
        return -1;
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (len < 1 || len > MAX_PACKET)
        return fail(c, E_PROTOCOL, "bad packet length %u", len);
    c->rcmd = hdr[4];
    c->rlen = len - 1;
    if (c->rlen + 1 > c->rcap) {
        c->rcap = c->rlen + 1;
        c->r = xrealloc(c->r, c->rcap);
    }
    if (c->rlen && read_full(c, c->r, c->rlen, until) < 0)
        return -1;
    c->r[c->rlen] = '\0';
    return 0;
}

/* Starts a command in the output buffer; returns the offset of its length. */
static size_t cmd_begin(conn_t *c, int cmd)
{
    size_t at = c->w.len;
    unsigned char h[5] = {0, 0, 0, 0, (unsigned char)cmd};
    buf_add(&c->w, h, 5);
    return at;
}

static int cmd_end(conn_t *c, size_t at)
{
    uint32_t len = (uint32_t)(c->w.len - at - 4);
    c->w.p[at] = (unsigned char)(len >> 24);
    c->w.p[at + 1] = (unsigned char)(len >> 16);
    c->w.p[at + 2] = (unsigned char)(len >> 8);
    c->w.p[at + 3] = (unsigned char)len;
    return c->w.len >= 65536 ? flush_out(c) : 0;
}

static int put_u32(buf_t *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    buf_add(b, x, 4);
    return 0;
}

/* The macros of one message or connection, by name. */
typedef struct {
    const char *qid, *from, *rcpt;
} macro_ctx_t;

static const char *macro_value(const char *name, const macro_ctx_t *m)
{
    static char hostname[256];
    if (!strcmp(name, "j")) {
        if (!hostname[0] && gethostname(hostname, sizeof hostname - 1) < 0)
            strcpy(hostname, "localhost");
        return hostname;
    }
    if (!strcmp(name, "{daemon_name}"))
        return opt.daemon_name;
    if (!strcmp(name, "{daemon_addr}"))
        return "127.0.0.1";
    if (!strcmp(name, "v"))
        return "Postfix 3.7.11";
    if (!strcmp(name, "{client_addr}"))
        return opt.client_ip;
    if (!strcmp(name, "{client_name}"))
        return opt.client_name;
    if (!strcmp(name, "_")) {
        static char u[300];
        if (!u[0])
            snprintf(u, sizeof u, "%s [%s]", opt.client_name, opt.client_ip);
        return u;
    }
    if (!strcmp(name, "i"))
        return m ? m->qid : NULL;
    if (!strcmp(name, "{auth_authen}") || !strcmp(name, "{auth_type}"))
        return opt.auth ? (name[6] == 'a' ? opt.auth : "PLAIN") : NULL;
    if (!strcmp(name, "{mail_addr}"))
        return m ? m->from : NULL;
    if (!strcmp(name, "{rcpt_addr}"))
        return m ? m->rcpt : NULL;
    return NULL;
}

/* Postfix's defaults (milter_*_macros), with {client_addr} and {client_name}
 * added at connect. As with Postfix, "i" has no value at MAIL and RCPT (the
 * queue file is opened after the first accepted recipient), and a list whose
 * macros have no value (HELO's TLS macros) still sends an empty SMFIC_MACRO. */
static const char *const default_macros[M_NCLASS] = {
    [M_CONNECT] = "j {daemon_name} {daemon_addr} v _ {client_addr} {client_name}",
    [M_HELO] = "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}",
    [M_ENVFROM] = "i {auth_type} {auth_authen} {auth_author} {mail_addr}",
    [M_ENVRCPT] = "i {rcpt_addr}",
    [M_DATA] = "i",
    [M_EOM] = "i",
    [M_EOH] = "i",
};

/* Queues SMFIC_MACRO for the event, with every macro of the class that has a
 * value (an empty list sends nothing, a list without values an empty packet). */
static int send_macros(conn_t *c, int cls, int event, const macro_ctx_t *m)
{
    const char *list = c->symlist[cls] ? c->symlist[cls] : default_macros[cls];
    if (!*list)
        return 0;
    size_t at = cmd_begin(c, SMFIC_MACRO);
    unsigned char ev = (unsigned char)event;
    buf_add(&c->w, &ev, 1);
    char name[128];
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t l = strcspn(p, " ,");
        if (!l)
            break;
        if (l < sizeof name) {
            memcpy(name, p, l);
            name[l] = '\0';
            const char *v = macro_value(name, m);
            if (v) {
                buf_addstr0(&c->w, name);
                buf_addstr0(&c->w, v);
            }
        }
        p += l;
    }
    return cmd_end(c, at);
}

/* Outcome of one awaited step */
enum { R_CONTINUE, R_FINAL, R_SKIP };

/* Per-message result collected from replies */
typedef struct {
    int action;          /* A_* once final */
    int quarantined;
    int tagged;
} msgres_t;

static int reply_action_code(const char *text)
{
    return text[0] == '4' ? A_TEMPFAIL : A_REJECT;
}

/* Reads the replies to one command (`event`); modifications are accepted
 * only at end of message. Returns R_CONTINUE, R_SKIP, R_FINAL (res->action
 * set), or -1. */
static int await_reply(conn_t *c, int event, msgres_t *res)
{
    for (int guard = 0; guard < 100000; guard++) {
        if (read_packet(c) < 0)
            return -1;
        switch (c->rcmd) {
        case SMFIR_CONTINUE:
            if (event == SMFIC_BODYEOB) {
                res->action = A_ACCEPT;
                return R_FINAL;
            }
            return R_CONTINUE;
        case SMFIR_PROGRESS:
            continue;
        case SMFIR_SKIP:
            if (event != SMFIC_BODY)
                return fail(c, E_PROTOCOL, "SMFIR_SKIP after '%c'", event);
            return R_SKIP;
        case SMFIR_ACCEPT:
            res->action = A_ACCEPT;
            return R_FINAL;
        case SMFIR_REJECT:
            res->action = A_REJECT;
            return R_FINAL;
        case SMFIR_TEMPFAIL:
        case SMFIR_SHUTDOWN:
        case SMFIR_CONN_FAIL:
            res->action = A_TEMPFAIL;
            return R_FINAL;
        case SMFIR_DISCARD:
            res->action = A_DISCARD;
            return R_FINAL;
        case SMFIR_REPLYCODE: {
            const char *t = (const char *)c->r;
            if (c->rlen < 5 || (t[0] != '4' && t[0] != '5') || !isdigit((unsigned char)t[1]) ||
                !isdigit((unsigned char)t[2]) || (t[3] != ' ' && t[3] != '-'))
                return fail(c, E_PROTOCOL, "malformed SMFIR_REPLYCODE \"%.60s\"", t);
            res->action = reply_action_code(t);
            tally_add_capped(&c->st->replies, t, 100);
            return R_FINAL;
        }
        default:
            break;
        }
        if (event != SMFIC_BODYEOB)
            return fail(c, E_PROTOCOL, "unexpected reply '%c' (0x%02x) after '%c'",
                        isprint(c->rcmd) ? c->rcmd : '?', c->rcmd, event);
        /* modifications */
        const char *p = (const char *)c->r, *end = p + c->rlen;
        switch (c->rcmd) {
        case SMFIR_ADDHEADER:
        case SMFIR_INSHEADER:
        case SMFIR_CHGHEADER: {
            if (c->rcmd != SMFIR_ADDHEADER) {
                if (c->rlen < 4)
                    return fail(c, E_PROTOCOL, "short header change");
                p += 4;
            }
            const char *name = p;
            const char *z = memchr(p, '\0', (size_t)(end - p));
            if (!z || z == name || !memchr(z + 1, '\0', (size_t)(end - z - 1) + 1))
                return fail(c, E_PROTOCOL, "malformed header modification '%c'", c->rcmd);
            const char *value = z + 1;
            if (c->rcmd == SMFIR_CHGHEADER) {
                tally_add(*value ? &c->st->hchg : &c->st->hdel, name, 1);
            } else {
                tally_add(&c->st->hadd, name, 1);
                if (opt.tag_header && !strcasecmp(name, opt.tag_header))
                    res->tagged = 1;
            }
            continue;
        }
        case SMFIR_QUARANTINE:
            res->quarantined = 1;
            continue;
        case SMFIR_ADDRCPT:
        case SMFIR_DELRCPT:
        case SMFIR_ADDRCPT_PAR:
        case SMFIR_CHGFROM:
        case SMFIR_REPLBODY:
            continue;
        default:
            return fail(c, E_PROTOCOL, "unknown reply 0x%02x at end of message", c->rcmd);
        }
    }
    return fail(c, E_PROTOCOL, "too many replies");
}

/* Queues one event; waits for its reply unless the filter set nr_flag.
 * Skipped entirely (after its macros) if the filter set no_flag. */
static int event(conn_t *c, int cls, int cmd, uint32_t no_flag, uint32_t nr_flag,
                 const macro_ctx_t *m, const void *data, size_t len, msgres_t *res)
{
    if (cls >= 0 && send_macros(c, cls, cmd, m) < 0)
        return -1;
    if (c->pflags & no_flag)
        return R_CONTINUE;
    size_t at = cmd_begin(c, cmd);
    buf_add(&c->w, data, len);
    if (cmd_end(c, at) < 0)
        return -1;
    if (c->pflags & nr_flag)
        return R_CONTINUE;
    return await_reply(c, cmd, res);
}

static int conn_open(conn_t *c)
{
    c->fd = socket(sock_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        return fail(c, E_CONNECT, "socket: %s", strerror(errno));
    if (sock_family != AF_UNIX && !opt.nagle) {
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (connect(c->fd, (struct sockaddr *)&sock_addr, sock_addrlen) < 0) {
        if (errno != EINPROGRESS && errno != EAGAIN)
            return fail(c, E_CONNECT, "connect %s: %s", opt.socket, strerror(errno));
        if (wait_fd(c, POLLOUT, now_s() + opt.timeout_ms / 1e3, "connecting") < 0) {
            c->ekind = E_CONNECT;
            return -1;
        }
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err)
            return fail(c, E_CONNECT, "connect %s: %s", opt.socket, strerror(err));
    }
    c->st->conns++;
    /* option negotiation */
    size_t at = cmd_begin(c, SMFIC_OPTNEG);
    put_u32(&c->w, SMFI_VERSION_6);
    put_u32(&c->w, SMFIF_ALL);
    put_u32(&c->w, OFFER_PROTO);
    if (cmd_end(c, at) < 0 || read_packet(c) < 0)
        return -1;
    if (c->rcmd != SMFIC_OPTNEG || c->rlen < 12)
        return fail(c, E_PROTOCOL, "bad OPTNEG reply '%c' (%u bytes)", c->rcmd, c->rlen);
    const unsigned char *r = c->r;
    c->version = (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3];
    c->actions = (uint32_t)r[4] << 24 | (uint32_t)r[5] << 16 | (uint32_t)r[6] << 8 | r[7];
    c->pflags = (uint32_t)r[8] << 24 | (uint32_t)r[9] << 16 | (uint32_t)r[10] << 8 | r[11];
    if (c->version < 2 || c->version > SMFI_VERSION_6)
        return fail(c, E_PROTOCOL, "filter protocol version %u", c->version);
    if (c->actions & ~SMFIF_ALL)
        return fail(c, E_PROTOCOL, "filter asks for actions 0x%x beyond 0x%x", c->actions, SMFIF_ALL);
    atomic_store(&neg_version, c->version);
    atomic_store(&neg_actions, c->actions);
    atomic_store(&neg_proto, c->pflags);
    /* SMFIR_SETSYMLIST: (u32 class, "names\0")* */
    size_t off = 12;
    while (off + 4 < c->rlen) {
        uint32_t cls = (uint32_t)r[off] << 24 | (uint32_t)r[off + 1] << 16 |
                       (uint32_t)r[off + 2] << 8 | r[off + 3];
        off += 4;
        const char *s = (const char *)r + off;
        size_t l = strnlen(s, c->rlen - off);
        if (off + l >= c->rlen + 1)
            return fail(c, E_PROTOCOL, "unterminated macro list in OPTNEG");
        if (cls < M_NCLASS) {
            free(c->symlist[cls]);
            c->symlist[cls] = xstrndup(s, l);
        }
        off += l + 1;
    }
    return 0;
}

static void conn_close(conn_t *c, int quit)
{
    if (c->fd < 0)
        return;
    if (quit) { /* Postfix resets the transaction once more at disconnect */
        cmd_end(c, cmd_begin(c, SMFIC_ABORT));
        size_t at = cmd_begin(c, SMFIC_QUIT);
        if (cmd_end(c, at) == 0)
            flush_out(c);
    }
    close(c->fd);
    c->fd = -1;
    c->w.len = 0;
    for (int i = 0; i < M_NCLASS; i++) {
        free(c->symlist[i]);
        c->symlist[i] = NULL;
    }
}

/* CONNECT + HELO. R_CONTINUE, R_FINAL (connection-level decision), or -1. */
static int conn_hello(conn_t *c, msgres_t *res)
{
    buf_t b = {0};
    int family = strchr(opt.client_ip, ':') ? '6' : '4';
    char hn[300];
    if (strcmp(opt.client_name, "unknown"))
        snprintf(hn, sizeof hn, "%s", opt.client_name);
    else
        snprintf(hn, sizeof hn, "[%s]", opt.client_ip);
    buf_addstr0(&b, hn);
    unsigned char fam = (unsigned char)family, port[2] = {0xC3, 0x50}; /* 50000 */
    buf_add(&b, &fam, 1);
    buf_add(&b, port, 2);
    buf_addstr0(&b, opt.client_ip);
    int r = event(c, M_CONNECT, SMFIC_CONNECT, SMFIP_NOCONNECT, SMFIP_NR_CONN, NULL, b.p, b.len, res);
    free(b.p);
    if (r != R_CONTINUE)
        return r;
    return event(c, M_HELO, SMFIC_HELO, SMFIP_NOHELO, SMFIP_NR_HELO, NULL, opt.helo,
                 strlen(opt.helo) + 1, res);
}

/* One transaction. 0 with res->action set, or -1. *lat gets the EOM latency
 * (or -1 when the filter decided before the end of the message). */
static int send_message(conn_t *c, const eml_t *e, msgres_t *res, double *lat)
{
    char qid[32], addr[1024];
    unsigned long q = atomic_fetch_add(&qid_seq, 1);
    snprintf(qid, sizeof qid, "%lX%05lX", (unsigned long)getpid() & 0xFFFFF, q);
    macro_ctx_t m = {.qid = NULL, .from = e->from, .rcpt = e->rcpt};
    *lat = -1;
    int r;
    /* MAIL argv: the address, then the client's ESMTP parameters */
    int l = snprintf(addr, sizeof addr, "<%s>%cSIZE=%zu", e->from, '\0', e->size);
    if ((r = event(c, M_ENVFROM, SMFIC_MAIL, SMFIP_NOMAIL, SMFIP_NR_MAIL, &m, addr, (size_t)l + 1, res)) != R_CONTINUE)
        return r < 0 ? -1 : 0;
    l = snprintf(addr, sizeof addr, "<%s>", e->rcpt);
    if ((r = event(c, M_ENVRCPT, SMFIC_RCPT, SMFIP_NORCPT, SMFIP_NR_RCPT, &m, addr, (size_t)l + 1, res)) != R_CONTINUE)
        return r < 0 ? -1 : 0;
    m.qid = qid;
    if ((r = event(c, M_DATA, SMFIC_DATA, SMFIP_NODATA, SMFIP_NR_DATA, &m, "", 0, res)) != R_CONTINUE)
        return r < 0 ? -1 : 0;
    if (!(c->pflags & SMFIP_NOHDRS)) {
        buf_t b = {0};
        for (size_t i = 0; i < e->nhdrs; i++) {
            const char *v = e->hdrs[i].value;
            if (!(c->pflags & SMFIP_HDR_LEADSPC) && *v == ' ')
                v++; /* Sendmail eats one space (not tab) after the colon */
            b.len = 0;
            buf_addstr0(&b, e->hdrs[i].name);
            buf_addstr0(&b, v);
            r = event(c, M_EOH, SMFIC_HEADER, SMFIP_NOHDRS, SMFIP_NR_HDR, &m, b.p, b.len, res);
            if (r != R_CONTINUE)
                break;
        }
        free(b.p);
        if (r != R_CONTINUE)
            return r < 0 ? -1 : 0;
    }
    if ((r = event(c, M_EOH, SMFIC_EOH, SMFIP_NOEOH, SMFIP_NR_EOH, &m, "", 0, res)) != R_CONTINUE)
        return r < 0 ? -1 : 0;
    if (!(c->pflags & SMFIP_NOBODY)) {
        for (size_t off = 0; off < e->bodylen;) {
            size_t n = e->bodylen - off > MILTER_CHUNK ? MILTER_CHUNK : e->bodylen - off;
            r = event(c, M_EOM, SMFIC_BODY, SMFIP_NOBODY, SMFIP_NR_BODY, &m, e->body + off, n, res);
            if (r == R_SKIP)
                break;
            if (r != R_CONTINUE)
                return r < 0 ? -1 : 0;
            off += n;
        }
    }
    if (send_macros(c, M_EOM, SMFIC_BODYEOB, &m) < 0)
        return -1;
    size_t at = cmd_begin(c, SMFIC_BODYEOB);
    if (cmd_end(c, at) < 0)
        return -1;
    double t0 = now_s();
    r = await_reply(c, SMFIC_BODYEOB, res);
    if (r < 0)
        return -1;
    *lat = now_s() - t0;
    return 0;
}

/* Claims the next message index, or -1 when the run is over. */
static long claim(void)
{
    if (opt.seconds > 0 && now_s() >= deadline)
        return -1;
    long i = atomic_fetch_add(&next_msg, 1);
    if (opt.count > 0 && i >= opt.count)
        return -1;
    return i;
}

static void record_error(conn_t *c)
{
    c->st->err[c->ekind]++;
    if (!c->st->lasterr[0])
        snprintf(c->st->lasterr, sizeof c->st->lasterr, "%s", c->ewhy);
}

static void finish_message(stats_t *st, long idx, const eml_t *e, msgres_t *res, double lat)
{
    int a = res->action;
    if (a == A_ACCEPT && res->quarantined)
        a = A_QUARANTINE;
    else if (a == A_ACCEPT && res->tagged)
        a = A_TAG;
    st->act[a]++;
    st->msgs++;
    st->bytes += e->size;
    if (lat >= 0) {
        if (st->nlat == st->latcap) {
            st->latcap = st->latcap ? 2 * st->latcap : 1024;
            st->lat = xrealloc(st->lat, st->latcap * sizeof *st->lat);
        }
        st->lat[st->nlat++] = lat;
        if (opt.trace) {
            if (st->ntr == st->trcap) {
                st->trcap = st->trcap ? 2 * st->trcap : 1024;
                st->tr = xrealloc(st->tr, st->trcap * sizeof *st->tr);
            }
            st->tr[st->ntr++] = (struct trace){idx, e, lat, a};
        }
    }
    if ((size_t)idx < ncorpus)
        verdict[idx] = act_name[a];
}

/* --rate: waits until message idx's start time; counts it late if no
 * connection was free to start it within 1 ms of that time. */
static void pace(long idx)
{
    if (opt.rate <= 0)
        return;
    double at = run_t0 + (double)idx / opt.rate, t = now_s();
    if (t < at) {
        double d = at - t;
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        return;
    }
    unsigned long us = (unsigned long)((t - at) * 1e6);
    if (us > 1000) {
        atomic_fetch_add(&late_n, 1);
        unsigned long m = atomic_load(&late_max_us);
        while (us > m && !atomic_compare_exchange_weak(&late_max_us, &m, us))
            ;
    }
}

static void *worker(void *arg)
{
    stats_t *st = arg;
    conn_t c = {.fd = -1, .st = st};
    long idx;
    while ((idx = claim()) >= 0) {
        msgres_t res = {0};
        const eml_t *e = &corpus[(size_t)idx % ncorpus];
        if (conn_open(&c) < 0) {
            record_error(&c);
            st->unanswered++;
            if ((size_t)idx < ncorpus)
                verdict[idx] = "error";
            conn_close(&c, 0);
            usleep(50000);
            continue;
        }
        int r = conn_hello(&c, &res);
        if (r < 0) {
            record_error(&c);
            st->unanswered++;
            if ((size_t)idx < ncorpus)
                verdict[idx] = "error";
            conn_close(&c, 0);
            continue;
        }
        if (r == R_FINAL) { /* decided for the whole connection */
            res.quarantined = res.tagged = 0;
            finish_message(st, idx, e, &res, -1);
            conn_close(&c, 0);
            continue;
        }
        int ok = 1;
        for (int k = 0; ok; k++) {
            if (k > 0) {
                if (k >= opt.per_conn || (idx = claim()) < 0)
                    break;
                e = &corpus[(size_t)idx % ncorpus];
                memset(&res, 0, sizeof res);
            }
            double lat;
            pace(idx);
            if (send_message(&c, e, &res, &lat) < 0) {
                record_error(&c);
                st->unanswered++;
                if ((size_t)idx < ncorpus)
                    verdict[idx] = "error";
                ok = 0;
                break;
            }
            finish_message(st, idx, e, &res, lat);
            /* Postfix's smtpd resets the milters after every transaction */
            size_t at = cmd_begin(&c, SMFIC_ABORT);
            if (cmd_end(&c, at) < 0) {
                record_error(&c);
                ok = 0;
            }
        }
        conn_close(&c, ok);
    }
    conn_close(&c, 0);
    free(c.w.p);
    free(c.r);
    return NULL;
}

/* ---- output -------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_tally(FILE *f, const char *key, const tally_t *t)
{
    fprintf(f, ",\"%s\":{", key);
    for (size_t i = 0; i < t->len; i++) {
        if (i)
            fputc(',', f);
        json_str(f, t->name[i]);
        fprintf(f, ":%lu", t->n[i]);
    }
    fputc('}', f);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_trace(const void *a, const void *b)
{
    long x = ((const struct trace *)a)->idx, y = ((const struct trace *)b)->idx;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double q)
{
    if (!n)
        return 0;
    size_t k = (size_t)ceil(q * (double)n);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1] * 1e3;
}

static void usage(const char *why)
{
    if (why)
        fprintf(stderr, "milterload: %s\n", why);
    fprintf(stderr,
            "usage: milterload -s unix:PATH|inet:PORT@HOST -c CONCURRENCY (-n COUNT | -t SECONDS)\n"
            "       [--per-conn N] [--from ADDR] [--rcpt ADDR] [--client-ip IP] [--client-name NAME]\n"
            "       [--helo NAME] [--auth USER] [--daemon-name NAME] [--tag-header NAME]\n"
            "       [--timeout SECONDS] [--verdicts FILE] [--trace FILE] [--rate MSGS_PER_S]\n"
            "       [--nagle] [--json] DIR\n");
    exit(2);
}

static long parse_long(const char *s, const char *what, long min)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min) {
        char m[128];
        snprintf(m, sizeof m, "bad %s: %s", what, s);
        usage(m);
    }
    return v;
}

static double parse_dbl(const char *s, const char *what)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || v > 1e7) {
        char m[128];
        snprintf(m, sizeof m, "bad %s: %s", what, s);
        usage(m);
    }
    return v;
}

static void parse_socket(const char *s)
{
    memset(&sock_addr, 0, sizeof sock_addr);
    if (!strncmp(s, "unix:", 5) || !strncmp(s, "local:", 6)) {
        const char *path = strchr(s, ':') + 1;
        struct sockaddr_un *un = (struct sockaddr_un *)&sock_addr;
        if (!*path || strlen(path) >= sizeof un->sun_path)
            usage("bad unix socket path");
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, path);
        sock_family = AF_UNIX;
        sock_addrlen = sizeof *un;
        return;
    }
    if (strncmp(s, "inet:", 5) && strncmp(s, "inet6:", 6))
        usage("socket must be unix:PATH or inet:PORT@HOST");
    const char *spec = strchr(s, ':') + 1;
    const char *at = strchr(spec, '@');
    char port[16], host[256];
    if (!at || at == spec || (size_t)(at - spec) >= sizeof port || !at[1] ||
        strlen(at + 1) >= sizeof host)
        usage("socket must be inet:PORT@HOST");
    snprintf(port, sizeof port, "%.*s", (int)(at - spec), spec);
    snprintf(host, sizeof host, "%s", at + 1);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_family = !strncmp(s, "inet6:", 6) ? AF_INET6 : AF_UNSPEC};
    struct addrinfo *ai;
    int r = getaddrinfo(host, port, &hints, &ai);
    if (r)
        die("%s: %s", s, gai_strerror(r));
    memcpy(&sock_addr, ai->ai_addr, ai->ai_addrlen);
    sock_addrlen = ai->ai_addrlen;
    sock_family = ai->ai_family;
    freeaddrinfo(ai);
}

int main(int argc, char **argv)
{
    enum { O_PERCONN = 256, O_FROM, O_RCPT, O_CIP, O_CNAME, O_HELO, O_AUTH, O_DNAME,
           O_TAG, O_JSON, O_TIMEOUT, O_VERDICTS, O_TRACE, O_NAGLE, O_RATE, O_HELP };
    static const struct option lo[] = {
        {"socket", required_argument, 0, 's'}, {"concurrency", required_argument, 0, 'c'},
        {"count", required_argument, 0, 'n'}, {"time", required_argument, 0, 't'},
        {"per-conn", required_argument, 0, O_PERCONN}, {"from", required_argument, 0, O_FROM},
        {"rcpt", required_argument, 0, O_RCPT}, {"client-ip", required_argument, 0, O_CIP},
        {"client-name", required_argument, 0, O_CNAME}, {"helo", required_argument, 0, O_HELO},
        {"auth", required_argument, 0, O_AUTH}, {"daemon-name", required_argument, 0, O_DNAME},
        {"tag-header", required_argument, 0, O_TAG}, {"json", no_argument, 0, O_JSON},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"verdicts", required_argument, 0, O_VERDICTS},
        {"trace", required_argument, 0, O_TRACE}, {"nagle", no_argument, 0, O_NAGLE},
        {"rate", required_argument, 0, O_RATE}, {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "s:c:n:t:", lo, NULL)) != -1) {
        switch (ch) {
        case 's': opt.socket = optarg; break;
        case 'c': opt.concurrency = (int)parse_long(optarg, "concurrency", 1); break;
        case 'n': opt.count = parse_long(optarg, "count", 1); break;
        case 't': opt.seconds = parse_dbl(optarg, "seconds"); break;
        case O_PERCONN: opt.per_conn = (int)parse_long(optarg, "--per-conn", 1); break;
        case O_FROM: opt.from = optarg; break;
        case O_RCPT: opt.rcpt = optarg; break;
        case O_CIP: opt.client_ip = optarg; break;
        case O_CNAME: opt.client_name = optarg; break;
        case O_HELO: opt.helo = optarg; break;
        case O_AUTH: opt.auth = optarg; break;
        case O_DNAME: opt.daemon_name = optarg; break;
        case O_TAG: opt.tag_header = *optarg ? optarg : NULL; break;
        case O_JSON: opt.json = 1; break;
        case O_TIMEOUT: opt.timeout_ms = (int)(parse_dbl(optarg, "--timeout") * 1000); break;
        case O_VERDICTS: opt.verdicts = optarg; break;
        case O_TRACE: opt.trace = optarg; break;
        case O_NAGLE: opt.nagle = 1; break;
        case O_RATE: opt.rate = parse_dbl(optarg, "--rate"); break;
        case O_HELP: usage(NULL); break;
        default: usage(NULL);
        }
    }
    if (optind != argc - 1)
        usage("one DIR expected");
    opt.dir = argv[optind];
    if (!opt.socket)
        usage("-s SOCKET is required");
    if (opt.concurrency < 1)
        usage("-c CONCURRENCY is required");
    if ((opt.count > 0) == (opt.seconds > 0))
        usage("give exactly one of -n COUNT and -t SECONDS");
    if (opt.concurrency > 4096)
        usage("concurrency above 4096");
    if (opt.timeout_ms < 1)
        opt.timeout_ms = 1;
    parse_socket(opt.socket);
    signal(SIGPIPE, SIG_IGN);

    corpus = load_dir(opt.dir, &ncorpus, opt.from, opt.rcpt);
    verdict = calloc(ncorpus, sizeof *verdict);
    if (!verdict)
        die("out of memory");

    stats_t *st = calloc((size_t)opt.concurrency, sizeof *st);
    pthread_t *th = calloc((size_t)opt.concurrency, sizeof *th);
    if (!st || !th)
        die("out of memory");
    double t0 = now_s();
    deadline = t0 + opt.seconds;
    run_t0 = t0;
    for (int i = 0; i < opt.concurrency; i++) {
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setstacksize(&at, 256 * 1024);
        if (pthread_create(&th[i], &at, worker, &st[i]))
            die("pthread_create failed");
        pthread_attr_destroy(&at);
    }
    for (int i = 0; i < opt.concurrency; i++)
        pthread_join(th[i], NULL);
    double secs = now_s() - t0;

    /* merge */
    stats_t all = {0};
    for (int i = 0; i < opt.concurrency; i++) {
        stats_t *s = &st[i];
        all.msgs += s->msgs;
        all.unanswered += s->unanswered;
        all.conns += s->conns;
        all.bytes += s->bytes;
        for (int a = 0; a < A_NACT; a++)
            all.act[a] += s->act[a];
        for (int k = 0; k < E_NERR; k++)
            all.err[k] += s->err[k];
        if (!all.lasterr[0] && s->lasterr[0])
            memcpy(all.lasterr, s->lasterr, sizeof all.lasterr);
        for (size_t k = 0; k < s->hadd.len; k++)
            tally_add(&all.hadd, s->hadd.name[k], s->hadd.n[k]);
        for (size_t k = 0; k < s->hchg.len; k++)
            tally_add(&all.hchg, s->hchg.name[k], s->hchg.n[k]);
        for (size_t k = 0; k < s->hdel.len; k++)
            tally_add(&all.hdel, s->hdel.name[k], s->hdel.n[k]);
        for (size_t k = 0; k < s->replies.len; k++)
            tally_add(&all.replies, s->replies.name[k], s->replies.n[k]);
        if (s->nlat) {
            all.lat = xrealloc(all.lat, (all.nlat + s->nlat) * sizeof *all.lat);
            memcpy(all.lat + all.nlat, s->lat, s->nlat * sizeof *s->lat);
            all.nlat += s->nlat;
        }
        if (s->ntr) {
            all.tr = xrealloc(all.tr, (all.ntr + s->ntr) * sizeof *all.tr);
            memcpy(all.tr + all.ntr, s->tr, s->ntr * sizeof *s->tr);
            all.ntr += s->ntr;
        }
    }
    if (all.nlat)
        qsort(all.lat, all.nlat, sizeof *all.lat, cmp_dbl);
    double mean = 0;
    for (size_t i = 0; i < all.nlat; i++)
        mean += all.lat[i];
    mean = all.nlat ? mean / (double)all.nlat * 1e3 : 0;
    unsigned long errors = 0;
    for (int k = 0; k < E_NERR; k++)
        errors += all.err[k];
    double rate = secs > 0 ? (double)all.msgs / secs : 0;
    double mbs = secs > 0 ? (double)all.bytes / 1e6 / secs : 0;
    double p50 = pct(all.lat, all.nlat, .50), p90 = pct(all.lat, all.nlat, .90),
           p99 = pct(all.lat, all.nlat, .99), pmax = all.nlat ? all.lat[all.nlat - 1] * 1e3 : 0;
    const char *transport = sock_family == AF_UNIX ? "unix" : "tcp";

    if (opt.json) {
        FILE *f = stdout;
        fprintf(f, "{\"socket\":");
        json_str(f, opt.socket);
        fprintf(f, ",\"transport\":\"%s\",\"concurrency\":%d,\"per_conn\":%d,\"files\":%zu,"
                   "\"messages\":%lu,\"unanswered\":%lu,\"connections\":%lu,\"seconds\":%.3f,"
                   "\"msgs_per_s\":%.1f,\"bytes\":%llu,\"mb_per_s\":%.2f,"
                   "\"mean_ms\":%.3f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
                   "\"errors\":%lu,\"error_kinds\":{",
                transport, opt.concurrency, opt.per_conn, ncorpus, all.msgs, all.unanswered,
                all.conns, secs, rate, all.bytes, mbs, mean, p50, p90, p99, pmax, errors);
        for (int k = 0; k < E_NERR; k++)
            fprintf(f, "%s\"%s\":%lu", k ? "," : "", err_name[k], all.err[k]);
        fprintf(f, "},\"actions\":{");
        for (int a = 0; a < A_NACT; a++)
            fprintf(f, "%s\"%s\":%lu", a ? "," : "", act_name[a], all.act[a]);
        fputc('}', f);
        json_tally(f, "headers_added", &all.hadd);
        json_tally(f, "headers_changed", &all.hchg);
        json_tally(f, "headers_deleted", &all.hdel);
        json_tally(f, "replies", &all.replies);
        fprintf(f, ",\"negotiated\":{\"version\":%u,\"actions\":\"0x%x\",\"protocol\":\"0x%x\"}",
                atomic_load(&neg_version), atomic_load(&neg_actions), atomic_load(&neg_proto));
        if (opt.rate > 0)
            fprintf(f, ",\"rate_offered\":%.1f,\"late\":%lu,\"max_late_ms\":%.3f", opt.rate,
                    atomic_load(&late_n), atomic_load(&late_max_us) / 1e3);
        fprintf(f, ",\"first_error\":");
        json_str(f, all.lasterr);
        fprintf(f, "}\n");
    } else {
        printf("milterload: %s (%s), concurrency %d, %d messages per connection, %zu files\n",
               opt.socket, transport, opt.concurrency, opt.per_conn, ncorpus);
        printf("messages:    %lu answered, %lu unanswered, %lu connections\n", all.msgs,
               all.unanswered, all.conns);
        printf("time:        %.3f s\n", secs);
        printf("rate:        %.1f messages/s, %.2f MB/s\n", rate, mbs);
        if (opt.rate > 0)
            printf("paced:       %.1f messages/s offered; %lu started over 1 ms late (at most "
                   "%.3f ms)\n", opt.rate, atomic_load(&late_n), atomic_load(&late_max_us) / 1e3);
        printf("latency:     p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms (mean %.3f ms; "
               "EOM to final reply)\n", p50, p90, p99, pmax, mean);
        printf("actions:    ");
        for (int a = 0; a < A_NACT; a++)
            printf(" %s %lu", act_name[a], all.act[a]);
        printf("\n");
        printf("headers:    ");
        for (size_t k = 0; k < all.hadd.len; k++)
            printf(" +%s %lu", all.hadd.name[k], all.hadd.n[k]);
        for (size_t k = 0; k < all.hchg.len; k++)
            printf(" ~%s %lu", all.hchg.name[k], all.hchg.n[k]);
        for (size_t k = 0; k < all.hdel.len; k++)
            printf(" -%s %lu", all.hdel.name[k], all.hdel.n[k]);
        printf("\n");
        for (size_t k = 0; k < all.replies.len && k < 10; k++)
            printf("reply:       %lu x %s\n", all.replies.n[k], all.replies.name[k]);
        printf("negotiated:  version %u, actions 0x%x, protocol 0x%x\n",
               atomic_load(&neg_version), atomic_load(&neg_actions), atomic_load(&neg_proto));
        printf("errors:      %lu (", errors);
        for (int k = 0; k < E_NERR; k++)
            printf("%s%s %lu", k ? ", " : "", err_name[k], all.err[k]);
        printf(")%s%s\n", all.lasterr[0] ? "; first: " : "", all.lasterr);
    }
    if (opt.trace) {
        qsort(all.tr, all.ntr, sizeof *all.tr, cmp_trace);
        FILE *f = fopen(opt.trace, "w");
        if (!f)
            die("%s: %s", opt.trace, strerror(errno));
        for (size_t i = 0; i < all.ntr; i++)
            fprintf(f, "%ld %zu %.3f %s %s\n", all.tr[i].idx, all.tr[i].e->size,
                    all.tr[i].lat * 1e3, act_name[all.tr[i].action], all.tr[i].e->path);
        if (fclose(f))
            die("%s: write error", opt.trace);
    }
    if (opt.verdicts) {
        FILE *f = fopen(opt.verdicts, "w");
        if (!f)
            die("%s: %s", opt.verdicts, strerror(errno));
        for (size_t i = 0; i < ncorpus; i++)
            if (verdict[i])
                fprintf(f, "%s %s\n", corpus[i].path, verdict[i]);
        if (fclose(f))
            die("%s: write error", opt.verdicts);
    }
    for (int i = 0; i < opt.concurrency; i++)
        stats_free(&st[i]);
    free(st);
    free(th);
    free(verdict);
    for (size_t i = 0; i < ncorpus; i++) {
        eml_t *e = &corpus[i];
        for (size_t k = 0; k < e->nhdrs; k++) {
            free(e->hdrs[k].name);
            free(e->hdrs[k].value);
        }
        free(e->hdrs);
        free(e->body);
        free(e->from);
        free(e->rcpt);
        free(e->path);
    }
    free(corpus);
    int bad = errors || all.unanswered;
    if (bad && !opt.json)
        fprintf(stderr, "milterload: %lu errors, %lu messages without a valid reply\n", errors,
                all.unanswered);
    stats_free(&all);
    return bad ? 1 : 0;
}
