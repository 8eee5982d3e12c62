#include "callbacks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "direction.h"
#include "log.h"
#include "spf.h"
#include "state.h"
#include "stats.h"
#include "tag.h"
#include "util.h"

#define CB_MAX_RCPTS 100000   /* stored; more are counted, not kept */
#define CB_MAX_TENANTS 64

/* Headers tollgate owns: copies arriving from outside are removed. */
static const char *const cb_owned[] = {"X-Spam-Flag", "X-Spam-Score", "X-Spam-Status"};
#define CB_NOWNED 3

typedef struct mctx {
    char *from;               /* envelope sender without <> */
    char **rcpts;
    size_t nrcpts, rcap;
    unsigned long rcpts_total;
    char *auth;
    msg_t *msg;
    spf_result_t spf;
    int spf_done;
    unsigned owned_seen[CB_NOWNED];   /* occurrences of each owned header */
    unsigned ar_seen;                 /* Authentication-Results seen */
    unsigned *ar_ours;                /* occurrence numbers claiming our id */
    size_t nar_ours, arcap;
    char *subject;                    /* first Subject value, raw */
    struct timespec t0;
    int late;                         /* begun after cb_drain_begin */
} mctx_t;

typedef struct conn {
    state_t *st;              /* pinned snapshot */
    char ip[INET6_ADDRSTRLEN];
    int have_ip;
    char *hostname;
    char *helo;
    char *daemon_name;
    char *mta_host;           /* {j}: the MTA's own name (relays' by=) */
    unsigned long pflags;     /* protocol flags the MTA accepted */
    mctx_t *m;
} conn_t;

static atomic_int cb_nconn;  /* connections with a conn_t */
static atomic_int cb_nmsg;   /* mctx_t alive: MAIL FROM seen, not yet ended */
static atomic_int cb_nearly; /* ... of which begun before cb_drain_begin: one
                                counter, so that cb_pending reads it in one load
                                (a difference of two loads could see a late
                                message counted in one and not the other) */
static atomic_int cb_draining;

int cb_active(void)
{
    return atomic_load(&cb_nconn);
}

int cb_in_message(void)
{
    return atomic_load(&cb_nmsg);
}

void cb_drain_begin(void)
{
    atomic_store(&cb_draining, 1);
}

int cb_pending(void)
{
    /* a message begun as the drain began may count as earlier: the drain
     * then waits for it too */
    return atomic_load(&cb_nearly);
}

/* ---- per-thread rules scratch ------------------------------------------ */

typedef struct tscratch {
    rules_scratch_t *sc;
} tscratch_t;

static pthread_key_t cb_key;
static pthread_once_t cb_once = PTHREAD_ONCE_INIT;

static void tscratch_free(void *p)
{
    tscratch_t *t = p;
    rules_scratch_free(t->sc);
    free(t);
}

static void make_key(void)
{
    pthread_key_create(&cb_key, tscratch_free);
}

static rules_scratch_t *thread_scratch(const rules_t *rs)
{
    pthread_once(&cb_once, make_key);
    tscratch_t *t = pthread_getspecific(cb_key);
    if (!t) {
        t = tg_calloc(1, sizeof *t);
        pthread_setspecific(cb_key, t);
    }
    if (!rules_scratch_fits(t->sc, rs)) {
        /* a reload gave this thread a new ruleset: limits may differ (not
         * told by its address: a freed ruleset's may be reused) */
        rules_scratch_free(t->sc);
        t->sc = rules_scratch_new(rs);
    }
    return t->sc;
}

/* ---- contexts ---------------------------------------------------------- */

/* A message context, counted in cb_nmsg (and cb_nearly unless draining)
 * until mctx_free. */
static mctx_t *mctx_new(void)
{
    mctx_t *m = tg_calloc(1, sizeof *m);
    m->late = atomic_load(&cb_draining);
    if (!m->late)
        atomic_fetch_add(&cb_nearly, 1);
    atomic_fetch_add(&cb_nmsg, 1);
    return m;
}

static void mctx_free(mctx_t *m)
{
    if (!m)
        return;
    if (!m->late)
        atomic_fetch_sub(&cb_nearly, 1);
    atomic_fetch_sub(&cb_nmsg, 1);
    free(m->from);
    for (size_t i = 0; i < m->nrcpts; i++)
        free(m->rcpts[i]);
    free(m->rcpts);
    free(m->auth);
    msg_free(m->msg);
    free(m->ar_ours);
    free(m->subject);
    free(m);
}

static conn_t *conn_get(SMFICTX *ctx)
{
    conn_t *c = smfi_getpriv(ctx);
    if (!c) {
        c = tg_calloc(1, sizeof *c);
        smfi_setpriv(ctx, c);
        atomic_fetch_add(&cb_nconn, 1);
    }
    return c;
}

static char *strip_brackets(const char *a)
{
    if (!a)
        return tg_strdup("");
    size_t n = strlen(a);
    if (n >= 2 && a[0] == '<' && a[n - 1] == '>')
        return tg_strndup(a + 1, n - 2);
    return tg_strdup(a);
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? tg_strdup(v) : NULL;
}

/* What a step returns when it has nothing to say: NOREPLY if the MTA agreed
 * not to wait for a reply at this step, else CONTINUE. */
static sfsistat nothing(const conn_t *c, unsigned long nrflag)
{
    return (c->pflags & nrflag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* The one place that decides what an internal failure does (OnError). */
static sfsistat on_error(SMFICTX *ctx, const conn_t *c, const char *why)
{
    const char *qid = smfi_getsymval(ctx, "i");
    int accept = c && c->st ? c->st->cfg->on_error_accept : 0;
    tglog(LOG_ERR, "%s: internal error: %s; OnError %s", qid ? qid : "NOQUEUE", why,
          accept ? "accept" : "tempfail");
    if (accept)
        return SMFIS_ACCEPT;
    smfi_setreply(ctx, "451", "4.3.0", "Temporary filter failure, try again later");
    return SMFIS_TEMPFAIL;
}

/* ---- callbacks --------------------------------------------------------- */

static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                             unsigned long f2, unsigned long f3, unsigned long *pf0,
                             unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    (void)f2;
    (void)f3;
    conn_t *c = conn_get(ctx);
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE);
    unsigned long want = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT |
                         SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_NR_DATA |
                         SMFIP_NR_UNKN | SMFIP_NOUNKNOWN | SMFIP_NODATA |
                         SMFIP_HDR_LEADSPC;
    *pf1 = f1 & want;
    *pf2 = *pf3 = 0;
    c->pflags = *pf1;
    return SMFIS_CONTINUE;
}

static sfsistat cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
    conn_t *c = conn_get(ctx);
    if (!c->st)
        c->st = state_acquire();
    if (!c->st)
        return on_error(ctx, c, "no configuration loaded");
    set_str(&c->hostname, hostname);
    set_str(&c->daemon_name, smfi_getsymval(ctx, "{daemon_name}"));
    set_str(&c->mta_host, smfi_getsymval(ctx, "j"));
    c->have_ip = 0;
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, c->ip, sizeof c->ip);
        c->have_ip = 1;
    } else if (sa && sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, c->ip, sizeof c->ip);
        c->have_ip = 1;
    } else {
        const char *a = smfi_getsymval(ctx, "{client_addr}");
        if (a && *a) {
            snprintf(c->ip, sizeof c->ip, "%s", a);
            c->have_ip = 1;
        }
    }
    return nothing(c, SMFIP_NR_CONN);
}

static sfsistat cb_helo(SMFICTX *ctx, char *helo)
{
    conn_t *c = conn_get(ctx);
    set_str(&c->helo, helo);
    return nothing(c, SMFIP_NR_HELO);
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
    conn_t *c = conn_get(ctx);
    if (!c->st)
        return on_error(ctx, c, "MAIL FROM without a connection");
    mctx_free(c->m);
    mctx_t *m = c->m = mctx_new();
    clock_gettime(CLOCK_MONOTONIC, &m->t0);
    m->from = strip_brackets(argv && argv[0] ? argv[0] : "");
    const char *auth = smfi_getsymval(ctx, "{auth_authen}");
    if (auth && *auth)
        m->auth = tg_strdup(auth);
    m->msg = msg_new(&c->st->limits);
    msg_set_views(m->msg, rules_views(c->st->rules)); /* build only what rules read */
    msg_set_envelope_from(m->msg, m->from);
    /* SPF is about mail from outside: not for our own clients */
    if (c->st->cfg->spf && !m->auth && c->have_ip &&
        !dir_is_internal(c->st->cfg, c->ip)) {
        spf_check(spf_thread(), c->ip, c->helo, m->from, &m->spf);
        m->spf_done = 1;
    }
    return nothing(c, SMFIP_NR_MAIL);
}

static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
    conn_t *c = conn_get(ctx);
    mctx_t *m = c->m;
    if (m && argv && argv[0]) {
        m->rcpts_total++;
        if (m->nrcpts < CB_MAX_RCPTS) {
            tg_grow(&m->rcpts, &m->rcap, m->nrcpts + 1, sizeof *m->rcpts);
            m->rcpts[m->nrcpts++] = strip_brackets(argv[0]);
        }
    }
    return nothing(c, SMFIP_NR_RCPT);
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
    conn_t *c = conn_get(ctx);
    mctx_t *m = c->m;
    if (!m)
        return nothing(c, SMFIP_NR_HDR);
    /* Rebuild the header line as it was: with SMFIP_HDR_LEADSPC the value
     * keeps its leading white space, otherwise the MTA removed one space. */
    msg_feed(m->msg, name, strlen(name));
    msg_feed(m->msg, (c->pflags & SMFIP_HDR_LEADSPC) ? ":" : ": ", (c->pflags & SMFIP_HDR_LEADSPC) ? 1 : 2);
    msg_feed(m->msg, value, strlen(value));
    msg_feed(m->msg, "\r\n", 2);
    for (int i = 0; i < CB_NOWNED; i++)
        if (!tg_strcasecmp(name, cb_owned[i]))
            m->owned_seen[i]++;
    if (!tg_strcasecmp(name, "Authentication-Results")) {
        m->ar_seen++;
        if (tag_ar_is_ours(value, c->st->cfg->authserv_id)) {
            tg_grow(&m->ar_ours, &m->arcap, m->nar_ours + 1, sizeof *m->ar_ours);
            m->ar_ours[m->nar_ours++] = m->ar_seen;
        }
    } else if (!m->subject && !tg_strcasecmp(name, "Subject")) {
        const char *v = value;
        while (*v == ' ' || *v == '\t')
            v++;
        m->subject = tg_strdup(v);
    }
    return nothing(c, SMFIP_NR_HDR);
}

static sfsistat cb_eoh(SMFICTX *ctx)
{
    conn_t *c = conn_get(ctx);
    if (c->m)
        msg_feed(c->m->msg, "\r\n", 2);
    return nothing(c, SMFIP_NR_EOH);
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    conn_t *c = conn_get(ctx);
    if (c->m)
        msg_feed(c->m->msg, chunk, len); /* msg keeps at most MaxScanSize */
    return nothing(c, SMFIP_NR_BODY);
}

static int stats_verdict(rules_category_t cat)
{
    switch (cat) {
    case RULES_CAT_CLEAN: return STATS_V_CLEAN;
    case RULES_CAT_TAGGED: return STATS_V_TAGGED;
    case RULES_CAT_SECURITY: return STATS_V_SECURITY;
    case RULES_CAT_POLICY: return STATS_V_POLICY;
    case RULES_CAT_TEMPFAIL: return STATS_V_TEMPFAIL;
    default: return STATS_V_SPAM;
    }
}

static int stats_action(rules_action_t a)
{
    switch (a) {
    case RULES_REJECT: return STATS_A_REJECT;
    case RULES_DISCARD: return STATS_A_DISCARD;
    case RULES_QUARANTINE: return STATS_A_QUARANTINE;
    case RULES_TEMPFAIL: return STATS_A_TEMPFAIL;
    default: return STATS_A_ACCEPT;
    }
}

/* Header values as the MTA expects them: with SMFIP_HDR_LEADSPC
 * negotiated it sends and takes values with their leading space. */
static int add_hdr(SMFICTX *ctx, const conn_t *c, int insert, const char *name,
                   const char *value)
{
    tg_buf b;
    tg_buf_init(&b);
    if (c->pflags & SMFIP_HDR_LEADSPC)
        tg_buf_addc(&b, ' ');
    tg_buf_adds(&b, value);
    int r = insert ? smfi_insheader(ctx, 0, (char *)name, b.s)
                   : smfi_addheader(ctx, (char *)name, b.s);
    tg_buf_free(&b);
    return r == MI_SUCCESS ? 0 : -1;
}

/* Adds tollgate's headers and removes forged copies. 0, or -1 if the MTA
 * refused a change. */
static int edit_headers(SMFICTX *ctx, const conn_t *c, const mctx_t *m,
                        const rules_verdict_t *v)
{
    const config_t *cfg = c->st->cfg;
    int rc = 0;
    for (int i = 0; i < CB_NOWNED; i++)
        for (unsigned k = m->owned_seen[i]; k >= 1; k--)
            if (smfi_chgheader(ctx, (char *)cb_owned[i], (int)k, NULL) != MI_SUCCESS)
                rc = -1;
    for (size_t k = m->nar_ours; k > 0; k--)
        if (smfi_chgheader(ctx, "Authentication-Results", (int)m->ar_ours[k - 1], NULL) != MI_SUCCESS)
            rc = -1;
    tg_buf b;
    tg_buf_init(&b);
    if (m->spf_done) {
        tag_auth_results(cfg->authserv_id, &m->spf, &b);
        rc |= add_hdr(ctx, c, 1, "Authentication-Results", b.s);
    }
    int spam = v->score >= v->required || v->action == RULES_TAG ||
               v->action == RULES_QUARANTINE;
    if (cfg->spam_headers == CONFIG_HDR_ALL ||
        (cfg->spam_headers == CONFIG_HDR_SPAM && spam)) {
        if (spam)
            rc |= add_hdr(ctx, c, 0, "X-Spam-Flag", "YES");
        tg_buf_reset(&b);
        tag_spam_score(v, &b);
        rc |= add_hdr(ctx, c, 0, "X-Spam-Score", b.s);
        tg_buf_reset(&b);
        tag_spam_status(v, &b);
        rc |= add_hdr(ctx, c, 0, "X-Spam-Status", b.s);
    }
    if (v->action == RULES_TAG && cfg->subject_prefix && *cfg->subject_prefix) {
        tg_buf_reset(&b);
        tg_buf_printf(&b, "%s%s %s", (c->pflags & SMFIP_HDR_LEADSPC) ? " " : "",
                      cfg->subject_prefix, m->subject ? m->subject : "");
        if (m->subject) {
            if (smfi_chgheader(ctx, "Subject", 1, b.s) != MI_SUCCESS)
                rc = -1;
        } else {
            rc |= add_hdr(ctx, c, 0, "Subject", b.s + ((c->pflags & SMFIP_HDR_LEADSPC) ? 1 : 0));
        }
    }
    tg_buf_free(&b);
    return rc;
}

/* reject/tempfail: "550 5.7.1 line one\nline two" -> (multi-line) reply. */
static int set_reply(SMFICTX *ctx, const char *reply)
{
    char *copy = tg_strdup(reply), *code, *xcode, *text;
    tag_split_reply(copy, &code, &xcode, &text);
    char *lines[8] = {0};
    int n = 0;
    for (char *p = text; p && n < 7; n++) {
        lines[n] = p;
        char *nl = strstr(p, "\\n");   /* "\n" written in a rule's text */
        if (nl) {
            *nl = '\0';
            p = nl + 2;
        } else {
            p = NULL;
        }
    }
    int r = n <= 1 ? smfi_setreply(ctx, code, *xcode ? xcode : NULL, text)
                   : smfi_setmlreply(ctx, code, *xcode ? xcode : NULL, lines[0], lines[1],
                                     lines[2], lines[3], lines[4], lines[5], lines[6], NULL);
    free(copy);
    return r == MI_SUCCESS ? 0 : -1;
}

static void log_message(SMFICTX *ctx, const conn_t *c, const mctx_t *m,
                        const rules_verdict_t *v, rules_direction_t d,
                        const char *const *tenants, size_t ntenants, double secs)
{
    static const char *const dn[] = {"unknown", "inbound", "outbound", "internal"};
    const char *qid = smfi_getsymval(ctx, "i");
    tg_buf b;
    tg_buf_init(&b);
    tg_buf_printf(&b, "%s: dir=%s client=%s from=<%s> rcpts=%lu size=%zu",
                  qid ? qid : "NOQUEUE", dn[d], c->have_ip ? c->ip : "unknown",
                  m->from, m->rcpts_total, msg_size(m->msg));
    if (ntenants) {
        tg_buf_adds(&b, " tenants=");
        for (size_t i = 0; i < ntenants; i++)
            tg_buf_printf(&b, "%s%s", i ? "," : "", tenants[i]);
    }
    if (m->spf_done)
        tg_buf_printf(&b, " spf=%s", rules_spf_name(m->spf.result));
    tg_buf_printf(&b, " score=%.1f/%.1f verdict=%s action=%s", v->score, v->required,
                  rules_category_name(v->category), rules_action_name(v->action));
    if (v->limits)
        tg_buf_printf(&b, " limits=0x%x", v->limits);
    if (v->reply)
        tg_buf_printf(&b, " reply=\"%s\"", v->reply);
    if (c->st->cfg->log_hits && v->nhits) {
        tg_buf_adds(&b, " hits=");
        for (size_t i = 0; i < v->nhits; i++)
            tg_buf_printf(&b, "%s%s", i ? "," : "", v->hits[i].name);
    }
    tg_buf_printf(&b, " time=%.1fms", secs * 1e3);
    tglog(LOG_INFO, "%s", b.s);
    tg_buf_free(&b);
}

static sfsistat cb_eom(SMFICTX *ctx)
{
    conn_t *c = conn_get(ctx);
    mctx_t *m = c->m;
    if (!m || !c->st)
        return on_error(ctx, c, "end of message without a message");
    const config_t *cfg = c->st->cfg;
    /* parsed at once, while the thread's caches still hold the message it
     * was fed (inside the gate below it cost 10-20% more CPU a message) */
    msg_finish(m->msg);

    dir_input_t din = {
        .client_ip = c->have_ip ? c->ip : NULL, .auth = m->auth,
        .daemon_name = c->daemon_name, .mail_from = m->from,
        .rcpts = (const char *const *)m->rcpts, .nrcpts = m->nrcpts,
    };
    rules_direction_t d = dir_classify(cfg, &din);
    size_t tidx[CB_MAX_TENANTS];
    size_t nt = dir_tenants(cfg, d, &din, tidx, CB_MAX_TENANTS);
    if (nt > CB_MAX_TENANTS)
        nt = CB_MAX_TENANTS;
    const char *tnames[CB_MAX_TENANTS];
    for (size_t i = 0; i < nt; i++)
        tnames[i] = cfg->tenants[tidx[i]].name;

    rules_env_t env = {
        .client_ip = din.client_ip, .client_name = c->hostname, .helo = c->helo,
        .mta_host = c->mta_host,
        .mail_from = m->from, .rcpts = din.rcpts, .nrcpts = m->nrcpts,
        .auth = m->auth, .spf = m->spf_done ? m->spf.result : RULES_SPF_UNKNOWN,
        .direction = d, .local_domains = (const char *const *)cfg->local_domains,
        .nlocal_domains = cfg->nlocal_domains,
    };
    rules_verdict_t v;
    /* ScanConcurrency: matching, the CPU-bound part, waits in arrival
     * order behind the classifications already running */
    gate_enter(c->st->gate);
    rules_classify(c->st->rules, thread_scratch(c->st->rules), m->msg, &env, &v);
    gate_leave(c->st->gate);

    sfsistat ret;
    int failed = 0;
    switch (v.action) {
    case RULES_REJECT:
    case RULES_TEMPFAIL:
        failed = set_reply(ctx, v.reply) < 0;
        ret = v.action == RULES_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
        break;
    case RULES_DISCARD:
        ret = SMFIS_DISCARD;
        break;
    case RULES_QUARANTINE:
        failed = edit_headers(ctx, c, m, &v) < 0 ||
                 smfi_quarantine(ctx, v.reply ? v.reply : "tollgate") != MI_SUCCESS;
        ret = SMFIS_ACCEPT;
        break;
    default:
        failed = edit_headers(ctx, c, m, &v) < 0;
        ret = SMFIS_ACCEPT;
        break;
    }
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - m->t0.tv_sec) + (t1.tv_nsec - m->t0.tv_nsec) / 1e9;
    if (failed) {
        ret = on_error(ctx, c, "the MTA refused a header change or reply");
        /* what happens is what OnError decided: count that */
        v.action = ret == SMFIS_ACCEPT ? RULES_ACCEPT : RULES_TEMPFAIL;
        if (ret != SMFIS_ACCEPT)
            v.category = RULES_CAT_TEMPFAIL;
    }
    log_message(ctx, c, m, &v, d, tnames, nt, secs);

    const char **hits = tg_malloc((v.nhits + 1) * sizeof *hits);
    for (size_t i = 0; i < v.nhits; i++)
        hits[i] = v.hits[i].name;
    stats_rec_t rec = {
        .dir = d == RULES_DIR_OUTBOUND ? STATS_OUT : d == RULES_DIR_INTERNAL ? STATS_INT : STATS_IN,
        .tenants = tnames, .ntenants = nt, .rcpts = (unsigned)m->rcpts_total,
        .bytes = msg_size(m->msg), .verdict = stats_verdict(v.category),
        .action = stats_action(v.action), .hits = hits, .nhits = v.nhits, .seconds = secs,
    };
    stats_record(&rec);
    free(hits);
    rules_verdict_clear(&v);
    mctx_free(m);
    c->m = NULL;
    return ret;
}

static sfsistat cb_abort(SMFICTX *ctx)
{
    conn_t *c = smfi_getpriv(ctx);
    if (c) {
        mctx_free(c->m);
        c->m = NULL;
    }
    return SMFIS_CONTINUE;
}

static sfsistat cb_close(SMFICTX *ctx)
{
    conn_t *c = smfi_getpriv(ctx);
    if (!c)
        return SMFIS_CONTINUE;
    mctx_free(c->m);
    state_release(c->st);
    free(c->hostname);
    free(c->helo);
    free(c->daemon_name);
    free(c->mta_host);
    free(c);
    smfi_setpriv(ctx, NULL);
    atomic_fetch_sub(&cb_nconn, 1);
    return SMFIS_CONTINUE;
}

static struct smfiDesc cb_filter = {
    .xxfi_name = "tollgate",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE,
    .xxfi_connect = cb_connect,
    .xxfi_helo = cb_helo,
    .xxfi_envfrom = cb_envfrom,
    .xxfi_envrcpt = cb_envrcpt,
    .xxfi_header = cb_header,
    .xxfi_eoh = cb_eoh,
    .xxfi_body = cb_body,
    .xxfi_eom = cb_eom,
    .xxfi_abort = cb_abort,
    .xxfi_close = cb_close,
    .xxfi_unknown = NULL,
    .xxfi_data = NULL,
    .xxfi_negotiate = cb_negotiate,
};

struct smfiDesc *cb_desc(void)
{
    return &cb_filter;
}
