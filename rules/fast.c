#include "fast.h"

#include <ctype.h>
#include <fcntl.h>
#include <hs/hs.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cf.h"
#include "fastcost.h"
#include "fastmemo.h"
#include "hsdb.h"
#include "hsexpr.h"
#include "hsscan.h"
#include "hsrel.h"
#include "util.h"

/* Routing thresholds. A pattern whose individual Vectorscan compile takes
 * longer than this goes into the class's second database: such patterns
 * (huge alternations with bounded repeats, the FILL_THIS_FORM family)
 * would dominate the main compile, yet scan cheaply where PCRE2 costs
 * 100 us a message. */
#define FAST_SLOW_COMPILE_S 0.25
/* ... and one that takes longer than this runs on PCRE2. */
#define FAST_MAX_COMPILE_S 5.0
/* A pattern whose counted repeats written out exceed this size
 * (hsexpr_repeat_size) is only tried in relaxed forms: Vectorscan spends
 * seconds and hundreds of MB on it before it is rejected as too slow. */
#define FAST_MAX_REPEAT_SIZE 50000.0
/* Vectorscan refuses expressions over 16,000 bytes: longer ASCII forms of
 * PCRE-path rules are split into parts of at most this (hsexpr_split). */
#define FAST_SPLIT_LEN 15000
/* Bump when routing or the meaning of the cached metadata changes. */
#define FAST_ROUTE_VERSION "fast-route-40"

/* Ordinary mail text, one string per body paragraph or header value. A
 * prefilter that fires on many of these fires on most messages (e.g. the
 * FILL_THIS_FORM family's own prefilters): confirming it on nearly every
 * string costs more than running PCRE2 alone, so such a rule takes the
 * PCRE path. One that fires on a few still saves most of the PCRE2 work. */
static const char *const fast_sample[] = {
    "Hello John, thanks for your message of yesterday.",
    "I will send you the report tomorrow morning, as we discussed.",
    "Best regards, Mary",
    "Subject: Re: meeting notes",
    "http://www.example.com/index.html",
    "Dear colleagues, please find attached the minutes of the last board meeting. "
    "The next meeting will take place on Tuesday 14 March at 10:00 in room 2.15; "
    "if you cannot attend, let the secretary know by Friday so that we can arrange "
    "a video link. Your comments on the draft budget are welcome until the end of the month.",
    "Name: Peter Smith, Department of Finance, phone +44 20 7946 0000, address 10 High Street, "
    "London. Please update your contact details in the staff directory if they have changed.",
    "-- \nSent from my phone. This e-mail and any attachments are confidential and intended "
    "solely for the addressee. If you have received it in error, please notify the sender "
    "and delete it.",
    "The new version of the software fixes the login problem that some users reported last "
    "week; the password reset page now works again. Thank you for your patience.",
    "On Mon, 3 Jan 2022 at 09:12, Alice <alice@example.org> wrote:\n> Could you send me the "
    "figures for the second quarter?\n> Thanks, Alice",
};
/* Ordinary header blocks as the ALL pseudo-header reads them (unfolded,
 * one field a line), for the same test on that class: the From/To/Subject
 * backreference rules' prefilters (__SUBJ_HAS_TO_2, __TO_EQ_FROM_1...)
 * report on nearly every message, and scanning for them cost more than
 * PCRE2 alone. */
static const char *const fast_sample_all[] = {
    "Return-Path: <alice@example.org>\n"
    "Received: from mx.example.org (mx.example.org [192.0.2.1]) by mail.example.com "
    "(Postfix) with ESMTP id 4AB12C0 for <bob@example.com>; Mon, 3 Jan 2022 09:12:00 +0000\n"
    "Received: from [10.0.0.5] (helo=laptop) by mx.example.org with esmtpsa id 1n4Abc "
    "for bob@example.com; Mon, 3 Jan 2022 09:11:59 +0000\n"
    "From: Alice Smith <alice@example.org>\n"
    "To: Bob Jones <bob@example.com>\n"
    "Subject: Re: figures for the second quarter\n"
    "Date: Mon, 3 Jan 2022 09:11:58 +0000\n"
    "Message-ID: <20220103091158.GA1234@example.org>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=us-ascii\n",
    "Return-Path: <bounce-4711@news.example.net>\n"
    "Delivered-To: carol@example.com\n"
    "Received: from out.news.example.net (out.news.example.net [198.51.100.7]) by "
    "mail.example.com with ESMTPS id 0x2Ab for <carol@example.com>; Tue, 4 Jan 2022 "
    "10:00:00 +0100\n"
    "From: \"Example News\" <news@news.example.net>\n"
    "To: carol@example.com\n"
    "Subject: Your weekly digest\n"
    "Date: Tue, 4 Jan 2022 10:00:00 +0100\n"
    "Message-ID: <abc123.456@news.example.net>\n"
    "List-Unsubscribe: <mailto:unsubscribe@news.example.net>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"b1\"\n",
    "Received: from EXCH01.corp.example.com (10.1.1.1) by EXCH02.corp.example.com "
    "(10.1.1.2) with Microsoft SMTP Server id 15.1.2242.4; Wed, 5 Jan 2022 14:03:10 +0000\n"
    "From: Dave Brown <dave.brown@corp.example.com>\n"
    "To: Team <team@corp.example.com>\n"
    "CC: Erin White <erin.white@corp.example.com>\n"
    "Subject: Minutes of the board meeting\n"
    "Thread-Topic: Minutes of the board meeting\n"
    "Date: Wed, 5 Jan 2022 14:03:09 +0000\n"
    "Message-ID: <DB7PR01MB1234.eurprd01.prod.example.com>\n"
    "Content-Language: en-GB\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"_004_\"\n",
};
/* A body or rawbody rule is found on squashed text first (frule_t.squash)
 * when its squashed form matches no fewer bytes than this (shorter ones,
 * such as __DRUGS_ERECTILE1's "gr", are in every message); see
 * route_squash. */
#define FAST_SQUASH_WIDTH 4
/* Classes with fewer rules in databases than this have no ASCII form. */
#define FAST_ASCII_MIN_RULES 32
/* Share of the sample strings (fast_sample, fast_sample_all), in percent,
 * on which a prefilter may report and still be used. */
#define FAST_FIRE_PCT 40

enum fast_kind {
    K_BODY, K_RAWBODY, K_URI, K_FULL, K_HEADER, K_MIMEHEADER, K_HOST, K_HELO,
    K_ENVFROM, K_AUTH, K_RCPT, K_ATTNAME, K_ATTTYPE
};
static const char *const kind_names[] = {
    "body", "rawbody", "uri", "full", "header", "mimeheader", "connect hostname",
    "helo", "envfrom", "auth", "envrcpt", "attachment filename", "attachment type"
};
/* SUM: count over an array (body...); ONE: one string with !~ (header,
 * envelope); ANY: hit if any string of a list matches, then !~. */
enum fast_mode { M_SUM, M_ONE, M_ANY };

typedef struct frule {
    const rx_t *re;          /* borrowed */
    char *name;
    unsigned want;           /* max for rx_count (0 = all) */
    unsigned char path, multiple;
    unsigned char aux;       /* in the class's second database (slow compile) */
    unsigned char ends;      /* > 1: a report counts once the rule's database
                                expression has matched at this many distinct
                                end offsets in the string (hsexpr_min_ends);
                                it is then compiled without SINGLEMATCH */
    unsigned char ascii;     /* PCRE path only: on text without bytes >= 0x80
                                the rule is exact in the ASCII database
                                (FAST_ASCII_DB), reported there and confirmed
                                (FAST_ASCII_CONFIRM) or cannot match
                                (FAST_ASCII_NEVER) */
    unsigned char full;      /* PCRE path only: on other text PCRE2 runs only
                                where the rule's Latin-1 prefilter, in the
                                class's full-form database, reports */
    unsigned char starts;    /* ends > 1 and in the class's DB_STARTS: a
                                report is confirmed by PCRE2 anchored at the
                                starts of the database expression's matches */
    unsigned char chain;     /* starts, and the pattern is one group counted
                                {n...} and nothing else: PCRE2 is tried only
                                at the starts that a chain of n back-to-back
                                matches could begin at (chain_limit) */
    unsigned char squash;    /* in the class's DB_SQUASH, not its other databases:
                                where its squashed form reports on the
                                message's squashed text, PCRE2 counts the
                                rule on each of the message's strings of the
                                class, elsewhere it has no match */
    rx_t *anch;              /* owned: the rule anchored (RX_ANCHORED), if starts */
    unsigned char *lrset;    /* owned, PCRE path only: the pattern is ^C{lrn}
                                under /m, C a byte class without \n (this is
                                C's set; __LONGLINE's ^[^\r\n]{998}): it has a
                                match where some line's first lrn bytes are
                                all in C (line_run), told without PCRE2;
                                NULL otherwise */
    unsigned lrn;
    unsigned char alike;     /* body class: on a string whose bytes >= 0x80 are
                                all U+FFFD's, the pattern matches where it
                                matches the string with those bytes read as
                                FFFD_X (hsexpr_alike), so its reports come
                                from the ASCII databases' scan of that (the
                                class's fffd_map) */
    unsigned char walk;      /* PCRE path, or a prefilter's confirm: the
                                pattern pairs two lines (hsexpr_line_walk);
                                PCRE2 runs on each line that begins with
                                lit1 together with the lines after it that
                                begin with lit2 (walk_count) */
    unsigned char walk_a, walk_b; /* lit1's and lit2's index in the class's
                                     walkset, if walk */
    unsigned walk_bound;     /* the walk's bound (0: it crosses any line) */
    unsigned char *walk_lead[2]; /* owned: the bytes of the lead after lit1
                                    and after lit2 (hsexpr_walk_t), or NULL */
    rx_t *lit;               /* owned, tflags multiple only: the rule's form for
                                text without bytes >= 0x80 when that is a plain
                                literal, which rx_count counts without PCRE2
                                (__E_LIKE_LETTER: "e" and 2-byte UTF-8 letters
                                is "e" there); NULL otherwise */
    rx_t *ahead;             /* owned: the rule with its final line lookahead
                                answered in C (rx_line_ahead: __FROM_NAME_IN_MSG,
                                2.1 -> 1.0 us a message over the corpus's
                                messages, warm), for rx_count; NULL if none */
} frule_t;

enum { FAST_ASCII_DB = 1, FAST_ASCII_NEVER = 2, FAST_ASCII_CONFIRM = 3 };
/* Most distinct report ends a rule may need (frule_t.ends). */
#define FAST_MAX_ENDS 8

/* A class's databases: the main one and one for rules slow to compile
 * (kept apart so they do not slow the main compile), each also in a form
 * for strings without bytes >= 0x80, where patterns shrink (no Latin-1
 * or UTF-8 branches) and scan faster; and DB_STARTS, the reversed
 * expressions of the rules with frule_t.starts, scanned over the reversed
 * string of a report to find where their matches start; in the body class
 * DB_MAIN_FFFD and DB_AUX_FFFD (fffd_forms). NULL where no rule goes. */
enum { DB_MAIN = FAST_DB_MAIN, DB_AUX = FAST_DB_AUX, DB_MAIN_ASCII = FAST_DB_MAIN_ASCII,
       DB_AUX_ASCII = FAST_DB_AUX_ASCII, DB_STARTS = FAST_DB_STARTS, DB_SQUASH = FAST_DB_SQUASH,
       DB_MAIN_FFFD = FAST_DB_MAIN_FFFD, DB_AUX_FFFD = FAST_DB_AUX_FFFD, FAST_NDB = FAST_NDBS };

typedef struct fclass {
    int kind, mode, hmode;
    char *header;            /* owned; NULL if not a header class */
    msg_hkey_t hkey;         /* header resolved; borrows header */
    char *label;             /* owned */
    size_t *ids;             /* fast rule indexes; Vectorscan id = position */
    size_t n;
    size_t *pcre;            /* fast rule indexes on the PCRE path */
    size_t npcre;
    hs_database_t *db[FAST_NDB]; /* owned */
    size_t db_bytes;
    int from_cache;
    int ascii_pcre;          /* some PCRE-path rule has frule_t.ascii set */
    unsigned char *ends;     /* [n] frule_t.ends by Vectorscan id; NULL if all <= 1 */
    unsigned *multi;         /* Vectorscan ids with ends > 1 */
    size_t nmulti;
    unsigned char *chain;    /* [n] frule_t.chain by Vectorscan id; NULL if none */
    unsigned *fed;           /* [n] by Vectorscan id: 1 + the id of the rule whose
                                expression this one's reports also count for
                                (feed_rules), 0 none; NULL if none */
    unsigned char *alike;    /* [n] frule_t.alike by Vectorscan id; NULL unless
                                fffd_map */
    int fffd_map;            /* strings whose bytes >= 0x80 are all U+FFFD's
                                are scanned as text with FFFD_X for each of
                                those bytes, with the ASCII databases (the
                                rules with frule_t.alike take those reports),
                                and as they are with DB_MAIN_FFFD and
                                DB_AUX_FFFD (the others' restricted forms) */
    struct walkset *walks;   /* owned: the literals of its rules' line walks;
                                not NULL once one rule has frule_t.walk */
} fclass_t;

/* The literals of a class's line walks (frule_t.walk), each once: a
 * string's lines are told apart by them once (walk_lines) for all the
 * class's walks. */
typedef struct walkset {
    struct walklit {
        char s[32];
        size_t len;
        unsigned char s0; /* s[0], lower case */
    } *lit;
    size_t nlit, cap;
} walkset_t;
/* Most distinct literals a class's walks may use (a line's bit mask). */
#define WALK_MAX_LITS 32

/* fast_t.out: how a rule's raw count becomes its value */
enum { OUT_NEGATE = 1, OUT_ANY = 2 };

struct fast {
    unsigned long gen;       /* identity for scratches */
    frule_t *rules;
    size_t nrules;
    /* What fast_match reads of every rule on every message, by fast rule
     * index, kept out of the frule_t structs (about 50 bytes each, most of
     * them untouched by a message): the Vectorscan scans between classes evict
     * the caches, and reading these from frule_t cost an L2 miss per rule
     * and message (callgrind's cache simulation, 512 KB L2). */
    size_t *slot;            /* [nrules] the rule's slot in values[] */
    unsigned *absent;        /* [nrules] raw count on the [if-unset] value or "" */
    unsigned char *out;      /* [nrules] OUT_*: !~ and the class's mode */
    fclass_t *classes;
    size_t nclasses;
    hs_scratch_t *proto;     /* big enough for every database */
    size_t maxclass;
    fast_build_info_t info;
    fastmemo_t *memo;        /* owned, shared by every scratch (fastmemo.h:
                                mutable, thread-safe); NULL when off
                                (TG_FAST_NOMEMO) */
    int memo_outs;           /* the memo keeps PCRE2 outcomes too (not with
                                TG_FAST_NOOUTCOMES, to compare) */
    int no_fffd;             /* DB_MAIN_FFFD/DB_AUX_FFFD built but not scanned
                                (TG_FAST_NOFFFD, to compare) */
};

struct fast_scratch {
    const fast_t *f;
    unsigned long gen;
    hs_scratch_t *hs;
    unsigned *cnt;           /* [nrules] */
    unsigned char *done;     /* [nrules] */
    unsigned *cand;          /* [maxclass] Vectorscan reports of one scan */
    size_t ncand;
    const fclass_t *cur;     /* class being scanned */
    unsigned char *nseen;    /* [maxclass] distinct ends seen (frule_t.ends) */
    unsigned long long *seen; /* [maxclass * FAST_MAX_ENDS] those ends */
    tg_buf tmp;
    tg_buf rev;              /* a string reversed, for DB_STARTS */
    tg_buf walk;             /* a text walk_count runs PCRE2 on */
    struct wline {           /* the lines of the string being scanned, */
        size_t off, len;     /* without its \n */
        uint32_t lits;       /* bit k: begins with walkset literal k */
    } *wl;
    size_t nwl, wl_cap;
    int walk_built;          /* once built (scan_str resets it) */
    tg_buf sq;               /* a message's squashed text, for DB_SQUASH */
    tg_buf map;              /* a U+FFFD string with FFFD_X for its bytes >= 0x80 */
    int mapped;              /* the string being scanned is (fclass_t.fffd_map) */
    int phase;               /* PHASE_*: which scan of a mapped string reports */
    struct idoff { unsigned id; size_t off; } *cend; /* [cend_cap] every end the
                                string's scans reported for the rules with
                                frule_t.chain (their units' ends) */
    size_t ncend, cend_cap;
    size_t *ends;            /* [ends_cap] those of one rule (chain_limit) */
    size_t ends_cap;
    struct idoff *cstart;     /* [cstart_cap] every start the string's DB_STARTS
                                scan reported (each rule's report reads its
                                own: __FILL_THIS_FORM_SHORT2 and _LONG2 are
                                candidates on the same strings) */
    size_t ncstart, cstart_cap;
    int rev_scanned;         /* for the string being scanned: 1 cstart is
                                filled, -1 the scan failed, 0 not yet */
    size_t *starts;          /* [starts_cap] match starts of one rule */
    size_t starts_cap;
    int ascii;               /* the string being scanned has no byte >= 0x80
                                (known only in classes with ASCII databases) */
    fastmemo_rep_t rec[FASTMEMO_MAX_REPS]; /* the reports of the string's
                                scans, for the memo; nrec past
                                FASTMEMO_MAX_REPS: too many to store */
    size_t nrec;
    int recording;
    fastmemo_out_t outs[FASTMEMO_MAX_OUTS]; /* the string's PCRE2 outcomes
                                (consider), as outs_mode says */
    size_t nouts;
    enum {
        OUTS_NONE,           /* no memo for this string */
        OUTS_STORE,          /* scanned: stored after its reports, with the
                                outcomes logged (fast_t.memo_outs) */
        OUTS_REPLAY          /* replayed: outs are the stored outcomes */
    } outs_mode;
    unsigned long outs_replayed;
    int no_memo;             /* fast_scratch_memo(sc, 0): this scratch neither
                                reads nor fills the memo */
    unsigned long memo_hits, memo_misses, memo_hit_bytes, memo_miss_bytes;
    int prof;
    double *class_ns, *class_scan_ns, *rule_ns;
    unsigned long *rule_cand, *rule_conf;
    double *db_ns;           /* [nclasses * FAST_NDB] (fast_profile_t) */
    unsigned long *db_scans, *db_bytes;
    unsigned long chain_rejected;
    double path_ns[FAST_NPATHS];
};

static atomic_ulong fast_gen = 1;

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }

/* The calling thread's CPU time. Routing compares compile times with it,
 * not with the clock: classes compile on concurrent workers, and under
 * other load the clock put twice as many rules past FAST_SLOW_COMPILE_S
 * (26 against 13 on two cold compiles of the SpamAssassin rules, 84 routes
 * different), so the same rules built different databases. CPU time
 * still depends on the machine, not on what else runs on it. */
static double cpu_s(void) { return clock_s(CLOCK_THREAD_CPUTIME_ID); }

/* Whether environment variable var is set to something other than "" or
 * "0" (the memo's comparison knobs). */
static int env_on(const char *var)
{
    const char *v = getenv(var);
    return v && *v && *v != '0';
}

static unsigned hs_flags(unsigned reflags, int prefilter)
{
    unsigned fl = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
    if (reflags & CF_RE_I) fl |= HS_FLAG_CASELESS;
    if (reflags & CF_RE_M) fl |= HS_FLAG_MULTILINE;
    if (reflags & CF_RE_S) fl |= HS_FLAG_DOTALL;
    if (prefilter) fl |= HS_FLAG_PREFILTER;
    return fl;
}

static int count_cb(unsigned id, unsigned long long from, unsigned long long to,
                    unsigned flags, void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags;
    (*(int *)ctx)++;
    return 1; /* one report is enough */
}

/* Vectorscan's reason for the last rejection in try_compile (the calling
 * thread's), for TG_FAST_DEBUG. */
static _Thread_local char last_error[160];

/* Vectorscan's compiler allocates and frees up to hundreds of MB for a
 * big database; glibc keeps freed heap mapped, and a cold compile would
 * hold on to its peak. */
static void trim_heap(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* Which bytes squashed text keeps: ASCII letters and digits. A table,
 * since the squash pass reads every body and rawbody byte of a message
 * (a lookup a byte is some six times faster than the two range tests). */
#define SQ_K(c) ((unsigned)(((c) | 0x20) - 'a') < 26u || (unsigned)((c) - '0') < 10u)
#define SQ_K4(c) SQ_K(c), SQ_K((c) + 1), SQ_K((c) + 2), SQ_K((c) + 3)
#define SQ_K16(c) SQ_K4(c), SQ_K4((c) + 4), SQ_K4((c) + 8), SQ_K4((c) + 12)
#define SQ_K64(c) SQ_K16(c), SQ_K16((c) + 16), SQ_K16((c) + 32), SQ_K16((c) + 48)
static const unsigned char sq_keep[256] = {
    SQ_K64(0), SQ_K64(64), SQ_K64(128), SQ_K64(192)
};

/* Appends s's ASCII letters and digits to b: squashed text. */
static void squash_into(tg_buf *b, const char *s, size_t len)
{
    tg_buf_reserve(b, len);
    char *o = b->s + b->len;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        o[k] = (char)ch;
        k += sq_keep[ch];
    }
    b->len += k;
    b->s[b->len] = 0;
}

/* The sample strings of class c (NULL: fast_sample): the header blocks
 * for the ALL pseudo-header; for full, whole messages (each header block,
 * a blank line, then every line of fast_sample), since that class reads
 * the message as received (__FROM_NAME_IN_MSG's prefilter reports on
 * every message's From: line, which body lines never show). */
static size_t sample_count(const fclass_t *c)
{
    if (c && (c->kind == K_FULL || (c->kind == K_HEADER && !strcmp(c->header, "ALL"))))
        return sizeof fast_sample_all / sizeof *fast_sample_all;
    return sizeof fast_sample / sizeof *fast_sample;
}

/* Sample string i of class c (i < sample_count(c)) into b (reset first). */
static void sample_get(const fclass_t *c, size_t i, tg_buf *b)
{
    tg_buf_reset(b);
    if (c && c->kind == K_FULL) {
        tg_buf_adds(b, fast_sample_all[i]);
        tg_buf_addc(b, '\n');
        for (size_t k = 0; k < sizeof fast_sample / sizeof *fast_sample; k++) {
            tg_buf_adds(b, fast_sample[k]);
            tg_buf_addc(b, '\n');
        }
    } else if (c && c->kind == K_HEADER && !strcmp(c->header, "ALL")) {
        tg_buf_adds(b, fast_sample_all[i]);
    } else {
        tg_buf_adds(b, fast_sample[i]);
    }
}

/* Compiles timed on this host that took FASTCOST_MIN_S or more (their
 * routing may differ from one build to the next), by the calling thread;
 * build_class adds its class's to fast_build_info_t.cost_timed. */
static _Thread_local size_t cost_timed;

/* TG_FAST_COSTLOG=FILE appends each expression compiled alone, as its
 * flags and hex bytes, for tests/bench/costtab to measure. */
static void cost_log(const char *expr, unsigned flags)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    const char *path = getenv("TG_FAST_COSTLOG");
    if (!path || !*path)
        return;
    pthread_mutex_lock(&lock);
    FILE *fp = fopen(path, "a");
    if (fp) {
        fprintf(fp, "%x\t", flags);
        for (const unsigned char *p = (const unsigned char *)expr; *p; p++)
            fprintf(fp, "%02x", *p);
        fputc('\n', fp);
        fclose(fp);
    }
    pthread_mutex_unlock(&lock);
}

/* Compiles one pattern alone: 0 ok, -1 rejected (reason in last_error),
 * -2 rejected because it can never match (an ASCII form whose every
 * branch needs a byte >= 0x80); *secs = compile CPU time, from the
 * fastcost table where it holds the expression; *fires = 1 if it
 * reports on more than FAST_FIRE_PCT of class c's sample strings (only
 * when fires != NULL), and *hits = on how many it reports (only when
 * hits != NULL); with squashed, on the samples' squashed text. */
static int try_compile_on(const char *expr, unsigned flags, double *secs, int *fires,
                          int *hits, const fclass_t *c, int squashed)
{
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    double t0 = cpu_s();
    hs_error_t rc = hs_compile(expr, flags, HS_MODE_BLOCK, hsscan_platform(), &db, &ce);
    *secs = cpu_s() - t0;
    cost_log(expr, flags);
    if (!fastcost_lookup(expr, flags, secs) && *secs >= FASTCOST_MIN_S)
        cost_timed++;
    if (rc != HS_SUCCESS) {
        snprintf(last_error, sizeof last_error, "%s (%zu bytes)",
                 ce && ce->message ? ce->message : "?", strlen(expr));
        int never = ce && ce->message && strstr(ce->message, "never match");
        hs_free_compile_error(ce);
        if (*secs > FAST_SLOW_COMPILE_S)
            trim_heap();
        return never ? -2 : -1;
    }
    if (fires || hits) {
        size_t n = sample_count(c), hit = 0;
        hs_scratch_t *s = NULL;
        tg_buf b, q;
        tg_buf_init(&b);
        tg_buf_init(&q);
        if (hs_alloc_scratch(db, &s) == HS_SUCCESS) {
            for (size_t i = 0; i < n; i++) {
                int one = 0;
                sample_get(c, i, &b);
                if (squashed) {
                    tg_buf_reset(&q);
                    squash_into(&q, b.s, b.len);
                }
                const tg_buf *t = squashed ? &q : &b;
                hsscan(db, t->s ? t->s : "", (unsigned)t->len, s, count_cb, &one);
                hit += one > 0;
            }
            hs_free_scratch(s);
        }
        tg_buf_free(&b);
        tg_buf_free(&q);
        if (fires)
            *fires = hit * 100 > FAST_FIRE_PCT * n;
        if (hits)
            *hits = (int)hit;
    }
    hs_free_database(db);
    if (*secs > FAST_SLOW_COMPILE_S)
        trim_heap();
    return 0;
}

static int try_compile_hits(const char *expr, unsigned flags, double *secs, int *fires,
                            int *hits, const fclass_t *c)
{
    return try_compile_on(expr, flags, secs, fires, hits, c, 0);
}

static int try_compile(const char *expr, unsigned flags, double *secs, int *fires,
                       const fclass_t *c)
{
    return try_compile_hits(expr, flags, secs, fires, NULL, c);
}

/* Passes over the samples pcre_cheaper times (the least is kept), and
 * scans of the samples in a pass. */
#define FAST_COST_PASSES 9
#define FAST_COST_SCANS 8

/* Whether PCRE2 alone (re) goes over class c's sample strings in under
 * half the time expr (Vectorscan flags) takes in a database of its own,
 * both in the calling thread's CPU time. Asked for the full class only: a
 * handful of rules over the whole message, where PCRE2 jumps to the few
 * places a match can start (a literal, a line start) while an automaton
 * steps over every byte (__LONGLINE's ^[^\r\n]{998} over the corpus:
 * 16 ms a pass in Vectorscan, 6 in PCRE2); with so few expressions a
 * database shares little work between them, so one alone costs about
 * what it adds. 0 if either cannot run. */
static int pcre_cheaper(const fclass_t *c, const char *expr, unsigned flags, const rx_t *re)
{
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    hs_scratch_t *hs = NULL;
    if (hs_compile(expr, flags, HS_MODE_BLOCK, hsscan_platform(), &db, &ce) != HS_SUCCESS) {
        hs_free_compile_error(ce);
        return 0;
    }
    rx_scratch_t *rx = rx_scratch_new(0, 0);
    size_t n = sample_count(c);
    tg_buf *b = tg_calloc(n, sizeof *b);
    for (size_t i = 0; i < n; i++)
        sample_get(c, i, &b[i]);
    double best[2] = {-1, -1};
    int ok = hs_alloc_scratch(db, &hs) == HS_SUCCESS;
    for (int pass = 0; ok && pass < FAST_COST_PASSES; pass++)
        for (int which = 0; which < 2; which++) {
            double t0 = cpu_s();
            for (int k = 0; k < FAST_COST_SCANS; k++)
                for (size_t i = 0; i < n; i++) {
                    int one = 0;
                    if (which)
                        rx_count(re, rx, b[i].s, b[i].len, 1);
                    else
                        hsscan(db, b[i].s, (unsigned)b[i].len, hs, count_cb, &one);
                }
            double t = cpu_s() - t0;
            if (best[which] < 0 || t < best[which])
                best[which] = t;
        }
    for (size_t i = 0; i < n; i++)
        tg_buf_free(&b[i]);
    free(b);
    hs_free_scratch(hs);
    hs_free_database(db);
    rx_scratch_free(rx);
    return ok && best[1] >= 0 && 2 * best[1] < best[0];
}

/* ---- building ------------------------------------------------------------ */

static int kind_of(int type)
{
    switch (type) {
    case CF_BODY: return K_BODY;
    case CF_RAWBODY: return K_RAWBODY;
    case CF_URI: return K_URI;
    case CF_FULL: return K_FULL;
    case CF_HEADER: return K_HEADER;
    case CF_MIMEHEADER: return K_MIMEHEADER;
    case CF_CONNECT_HOST: return K_HOST;
    case CF_HELO: return K_HELO;
    case CF_ENVFROM: return K_ENVFROM;
    case CF_AUTH: return K_AUTH;
    case CF_ENVRCPT: return K_RCPT;
    case CF_ATTACH_NAME: return K_ATTNAME;
    case CF_ATTACH_TYPE: return K_ATTTYPE;
    default: return -1;
    }
}

static int mode_of(int kind)
{
    switch (kind) {
    case K_BODY: case K_RAWBODY: case K_URI: case K_FULL: return M_SUM;
    case K_HEADER: case K_HOST: case K_HELO: case K_ENVFROM: case K_AUTH: return M_ONE;
    default: return M_ANY;
    }
}

static size_t class_for(fast_t *f, size_t *cap, int kind, const char *header, int hmode)
{
    int hdr = kind == K_HEADER || kind == K_MIMEHEADER;
    for (size_t i = 0; i < f->nclasses; i++) {
        fclass_t *c = &f->classes[i];
        if (c->kind == kind && (!hdr || (c->hmode == hmode && msg_header_same(c->header, header))))
            return i;
    }
    tg_grow(&f->classes, cap, f->nclasses + 1, sizeof *f->classes);
    fclass_t *c = &f->classes[f->nclasses];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->mode = mode_of(kind);
    c->hmode = hdr ? hmode : 0;
    c->header = hdr ? tg_strdup(header) : NULL;
    if (hdr)
        msg_hkey_init(&c->hkey, c->header);
    tg_buf b;
    tg_buf_init(&b);
    tg_buf_adds(&b, kind_names[kind]);
    if (hdr) {
        static const char *const mods[] = {"", ":raw", ":addr", ":name"};
        tg_buf_printf(&b, " %s%s", header, hmode >= 0 && hmode < 4 ? mods[hmode] : "");
    }
    c->label = tg_buf_steal(&b);
    return f->nclasses++;
}

/* What routing decided for one rule of a class being built. */
typedef struct route {
    char *expr, *ascii;      /* owned; ascii NULL = use expr on ASCII text */
    char *rev;               /* owned: expr reversed (frule_t.starts), or NULL */
    char **parts;            /* owned: the ASCII form split (hsexpr_split) for a
                                PCRE-path rule, nparts expressions, one id */
    size_t nparts;
    char **fparts;           /* owned: a PCRE-path rule's prefilter for the
                                full-form database (frule_t.full), whole or
                                split (hsexpr_split), nfparts expressions */
    size_t nfparts;
    unsigned fflags;
    unsigned flags;          /* for both */
    int omit_ascii;          /* cannot match text without bytes >= 0x80 */
    char *squash;            /* owned: the squashed form (frule_t.squash) */
} route_t;

/* A rule no form of which Vectorscan takes may still go into the class's
 * ASCII database: its ASCII form drops the Latin-1 and UTF-8 branches
 * (__YOUR_PASSWORD: 38 KB of ReplaceTags, over Vectorscan's length limit,
 * becomes 4 KB). Where that form is still over the limit (__MY_MALWARE:
 * 224 KB, 27 KB as ASCII) it goes in as the parts hsexpr_split makes of
 * it, under the rule's one id. A slow compile (__HOURS_DEADLINE's 1.4 s)
 * puts it into the auxiliary ASCII database. A report is the rule's
 * match, except for a nested repeat, where PCRE2 may stop at its match
 * limit: its reports are confirmed (FAST_ASCII_CONFIRM); either way PCRE2
 * still runs the rule on text with bytes >= 0x80. Sets fr->ascii and
 * fr->aux, and rt's ASCII form for a rule in a database. */
static void route_ascii_only(const fclass_t *c, frule_t *fr, const fast_rule_t *r, route_t *rt,
                             int nested, int debug)
{
    if (r->multiple)
        return;
    char *a = hsexpr_ascii(r->pattern, r->reflags, 0);
    if (!a)
        return;
    unsigned fl = hs_flags(r->reflags, 0);
    double secs = 0;
    int rc = try_compile(a, fl, &secs, NULL, c);
    size_t np = 0;
    char **parts = rc == -1 ? hsexpr_split(a, FAST_SPLIT_LEN, &np) : NULL;
    if (parts) {
        /* parts that cannot match ASCII text are left out; all others
         * must compile */
        size_t keep = 0;
        rc = -2, secs = 0;
        for (size_t k = 0; k < np; k++) {
            double sk = 0;
            int rk = rc == -1 ? -1 : try_compile(parts[k], fl, &sk, NULL, c);
            secs += sk;
            if (rk == 0)
                parts[keep++] = parts[k], rc = rc == -2 ? 0 : rc;
            else
                free(parts[k]);
            if (rk == -1)
                rc = -1;
        }
        np = keep;
    }
    if (rc == 0 && secs <= FAST_MAX_COMPILE_S) {
        fr->ascii = nested ? FAST_ASCII_CONFIRM : FAST_ASCII_DB;
        fr->aux = secs > FAST_SLOW_COMPILE_S;
        rt->flags = fl;
        if (parts)
            rt->parts = parts, rt->nparts = np, parts = NULL;
        else
            rt->ascii = a, a = NULL;
    } else if (rc == -2) {
        fr->ascii = FAST_ASCII_NEVER;
    }
    for (size_t k = 0; parts && k < np; k++)
        free(parts[k]);
    free(parts);
    free(a);
    if (debug && fr->ascii)
        fprintf(stderr, "fast: %s: %s: on ASCII text %s%s%s (%.3f s)\n", c->label, fr->name,
                fr->ascii == FAST_ASCII_NEVER ? "never matches"
                : fr->ascii == FAST_ASCII_DB ? "exact in the ASCII database"
                                             : "confirmed from the ASCII database (nested repeat)",
                rt->nparts ? ", split" : "", fr->aux ? ", slow compile" : "", secs);
}

/* A PCRE-path rule answered on ASCII text by the ASCII database may also
 * be prefiltered on other text: its Latin-1 prefilter, where the
 * ReplaceTags look-alikes collapse to [\x80-\xff]{m,n} (39 KB for
 * __MY_MALWARE's 224 KB, in parts under Vectorscan's limit), goes into the
 * class's full-form database if it compiles; PCRE2 then runs only on the
 * strings where it reports. Smart
 * quotes and non-breaking spaces make many a paragraph of ordinary mail
 * non-ASCII: PCRE2 on each cost the five such stock rules 2 ms on a
 * windows-1252 message of the corpus. Sets fr->full, fr->aux, rt->f*. */
static void route_full_prefilter(const fclass_t *c, frule_t *fr, const fast_rule_t *r,
                                 route_t *rt, int debug)
{
    if (r->multiple || (fr->ascii != FAST_ASCII_DB && fr->ascii != FAST_ASCII_CONFIRM))
        return;
    char *x = hsexpr_latin1_prefilter(r->pattern, r->reflags);
    if (!x)
        return;
    unsigned fl = hs_flags(r->reflags, 1);
    double secs = 0;
    /* taken even where it reports on the samples (the look-alikes read as
     * any high bytes match words of Cyrillic text): on such text PCRE2
     * runs as it would have, on text with a stray high byte it is spared */
    int rc = try_compile(x, fl, &secs, NULL, c);
    size_t np = 0;
    char **parts = rc == -1 ? hsexpr_split(x, FAST_SPLIT_LEN, &np) : NULL;
    if (parts) {
        free(x);
        rc = 0, secs = 0;
        for (size_t k = 0; k < np && rc == 0; k++) {
            double sk = 0;
            rc = try_compile(parts[k], fl, &sk, NULL, c);
            secs += sk;
        }
    } else {
        parts = tg_malloc(sizeof *parts);
        parts[0] = x, np = 1;
    }
    if (rc == 0 && secs <= FAST_MAX_COMPILE_S) {
        fr->full = 1;
        fr->aux |= secs > FAST_SLOW_COMPILE_S;
        rt->fflags = fl;
        rt->fparts = parts, rt->nfparts = np, parts = NULL;
    }
    for (size_t k = 0; parts && k < np; k++)
        free(parts[k]);
    free(parts);
    if (debug && fr->full)
        fprintf(stderr, "fast: %s: %s: on other text prefiltered in the full database%s%s "
                "(%.3f s)\n", c->label, fr->name, rt->nfparts > 1 ? ", split" : "",
                fr->aux ? ", slow compile" : "", secs);
}

/* A body or rawbody rule whose pattern is mostly gaps between letters
 * (the __DRUGS_* family: V[_\W]{0,3}[i1!|l]...) costs every byte of every
 * string in the main databases, as an automaton with no literal to start
 * from (35 such rules: 14% of the body class's main ASCII database's time,
 * 17% of its full-form one's, warm). Its squashed form (hsexpr_squash)
 * is a short word with a few optional letters: scanned once over the
 * message's squashed text, where Vectorscan finds it from its literals,
 * it tells on which messages the rule can match at all; PCRE2 counts the
 * rule there. Taken when the form drops more atoms than the bytes it
 * matches (more gaps than letters), repeats nothing (each of its atoms
 * matches once or not at all: a class run such as [a-z0-9]{0,80} runs over
 * every byte again), matches FAST_SQUASH_WIDTH bytes or more and reports
 * on none of the squashed sample strings. With more gaps than letters
 * asked, words that are only spaced out ("dear friend", "click here")
 * stay: in the main databases they cost little, and on squashed text they
 * would report on many messages (251 rules taken on gaps >= 3 alone made
 * the matcher 4% slower: a 42 us scan a message, PCRE2 on its reports).
 * Sets fr->path, fr->squash and rt->squash; 0 if not taken. */
static int route_squash(const fclass_t *c, frule_t *fr,
                        const fast_rule_t *r, route_t *rt, int debug)
{
    if ((c->kind != K_BODY && c->kind != K_RAWBODY) || r->multiple || getenv("TG_FAST_NOSQUASH"))
        return 0;
    long width = 0;
    int gaps = 0, hits = -1;
    char *e = hsexpr_squash(r->pattern, r->reflags, &width, &gaps);
    double secs = 0;
    unsigned fl = HS_FLAG_SINGLEMATCH | HS_FLAG_CASELESS;
    if (!e || gaps <= width || width < FAST_SQUASH_WIDTH || strpbrk(e, "*+{") ||
        try_compile_on(e, fl, &secs, NULL, &hits, c, 1) != 0 || hits != 0 ||
        secs > FAST_SLOW_COMPILE_S) {
        free(e);
        return 0;
    }
    fr->path = FAST_PREFILTER;
    fr->squash = 1;
    rt->squash = e;
    rt->flags = fl;
    if (debug)
        fprintf(stderr, "fast: %s: %s: found on squashed text first: %s (%.3f s)\n", c->label,
                fr->name, e, secs);
    return 1;
}

/* Whether class c puts its literal-free expressions into its second
 * database (route_rule; TG_FAST_NOLFAUX=1 keeps them, keyed in the cache
 * for these classes only): every class but body. */
static int lfree_apart(const fclass_t *c) { return c->kind != K_BODY; }

/* Routes rule fr (input r) of class c: sets fr->path, fr->aux and
 * fr->ascii, fills rt for a rule that goes into a database. */
static void route_rule(fast_build_info_t *info, const fclass_t *c, frule_t *fr,
                       const fast_rule_t *r, route_t *rt, int debug)
{
    memset(rt, 0, sizeof *rt);
    fr->path = FAST_PCRE;
    fr->aux = 0;
    fr->ascii = 0;
    fr->full = 0;
    fr->ends = 0;
    fr->starts = 0;
    fr->squash = 0;
    if (route_squash(c, fr, r, rt, debug))
        return;
    const char *why = "rejected by Vectorscan";
    /* a nested repeat compiles exactly but each report is confirmed:
     * PCRE2 may stop at its match limit where Vectorscan matches */
    int nested = hsexpr_nested_repeat(r->pattern);
    int latin1 = hsexpr_needs_latin1_fold(r->pattern, r->reflags);
    int approx = 0; /* e is only a superset of the pattern */
    int relax = 0;  /* ... made by relaxing counted repeats (level) */
    int huge = hsexpr_repeat_size(r->pattern) > FAST_MAX_REPEAT_SIZE;
    char *e = huge ? NULL
            : latin1 ? hsexpr_latin1_exact(r->pattern, r->reflags)
                     : hsexpr_plain(r->pattern, r->reflags);
    double secs = 0;
    int fires = 0, pref = 1, ok = 0, hits = -1;
    int speed = 0; /* relaxed for scan speed alone */
    int cheaper = 0; /* PCRE path: pcre_cheaper */
    int fired = 0;   /* a relaxed form compiled but fires on the samples */
    int slow_pf = 0; /* e's prefilter form compiles, but slowly ... */
    double pf_secs = 0; /* ... taking this long */
    if (e && try_compile_hits(e, hs_flags(r->reflags, 0), &secs, NULL, &hits, c) == 0 &&
        secs <= FAST_MAX_COMPILE_S) {
        ok = 1;
        pref = 0;
    } else if (e && try_compile_hits(e, hs_flags(r->reflags, 1), &secs, &fires, &hits, c) == 0 &&
               !fires && secs <= FAST_MAX_COMPILE_S) {
        ok = 1;
        /* Vectorscan's own prefilter of a pattern it calls too large
         * approximates it loosely where it compiles slowly: the stock
         * __FILL_THIS_FORM_LONG1's (2.5 s) reported 12,767 times over the
         * corpus for 1 match, 17 us a message of PCRE2. The relaxed form
         * (counts as +, distinct ends needed) that compiles quickly and
         * reports on none of the samples goes first then, if it compiles
         * faster (LONG1's takes 0.2-0.35 s: a bound of 0.25 s made its
         * route follow the host's load, and 17 us a message with it). */
        if (secs > FAST_SLOW_COMPILE_S)
            ok = 0, slow_pf = 1, pf_secs = secs;
    }
    /* Vectorscan cannot take it, its own prefilter fires on ordinary text
     * or compiles too slowly: a superset without the counted repeats
     * (what makes FILL_THIS_FORM "too large"), confirmed by PCRE2 */
    /* ... then, where every such form fires, the pattern with its
     * top-level lookahead folded in (level 7: __RAND_HEADER's
     * \d(?=\S{6,}\s*$), dropped in the others, reports on "MIME-Version:
     * 1.0"; X(?=Y) as XY does not) */
    static const int relax_levels[] = {1, 2, 3, 4, 7};
    for (size_t li = 0; !ok && li < sizeof relax_levels / sizeof *relax_levels; li++) {
        int level = relax_levels[li];
        char *x = hsexpr_relaxed(r->pattern, r->reflags, level);
        for (int pf = 0; x && !ok && pf <= 1; pf++) {
            int fx = 0;
            double sx = 0;
            int rc = try_compile(x, hs_flags(r->reflags, pf), &sx, &fx, c);
            fired |= rc == 0 && fx;
            if (rc == 0 && !fx && sx <= (slow_pf ? pf_secs / 2 : FAST_MAX_COMPILE_S)) {
                free(e);
                e = x, x = NULL;
                ok = 1, pref = pf, relax = level, secs = sx, fires = 0;
            }
        }
        free(x);
    }
    if (!ok && slow_pf)
        ok = 1; /* no such relaxed form: e's prefilter form after all (pref, secs) */
    /* Scan cost. Each counted repeat over a class costs Vectorscan an
     * automaton state per count, and the automata of literal-free patterns
     * run over every byte (the __DRUGS_* families' [\W_]{0,3} gaps: 32 ->
     * 15 us a message for 33 of them with * instead). A rule that reports
     * on none of the sample strings (so on rare text) scans in its relaxed
     * form where that reports on none of them either; PCRE2 confirms its
     * rare reports. Body rules only: the samples stand for body text, and
     * measured over the corpus (callgrind) body fell 10% while rawbody
     * rose 5% and the header classes 35%; not the slow-compile ones, which
     * made body 1.5% dearer in the main database. */
    /* Level 5 first: it keeps the small counts of narrow atoms, which
     * cost the automata little and turn down many false reports
     * (__hk_bigmoney's [0-9]{3}: 2,789 reports over the corpus for 128
     * matches with every count relaxed, the body class's main database
     * as fast either way); level 2 where that form reports.
     * TG_FAST_NOWIDE=1 relaxes every count (keyed in the cache). */
    static const int speed_levels[] = {5, 2};
    int speedy = ok && c->kind == K_BODY && hits == 0 && !relax && !nested && !r->multiple &&
                 secs <= FAST_SLOW_COMPILE_S;
    for (size_t li = getenv("TG_FAST_NOWIDE") ? 1 : 0; speedy && !speed && li < 2; li++) {
        int lv = speed_levels[li];
        char *x = hsexpr_relaxed(r->pattern, r->reflags, lv);
        int hx = -1;
        for (int pf = 0; x && strcmp(x, e) && hx < 0 && pf <= 1; pf++) {
            double sx = 0;
            if (try_compile_hits(x, hs_flags(r->reflags, pf), &sx, NULL, &hx, c) != 0)
                hx = -1;
            else if (hx == 0 && sx <= FAST_SLOW_COMPILE_S) {
                free(e);
                e = x, x = NULL;
                pref = pf, relax = lv, secs = sx, speed = 1;
            }
        }
        free(x);
    }
    /* the relaxed form of (?:G){n} is (?:G')+: a match of the pattern is
     * one of it at n distinct ends at least */
    int ends = ok && !pref && relax && relax % 2 == 0 && !speed
             ? hsexpr_min_ends(r->pattern, r->reflags) : 1;
    if (!ok && latin1 && !huge) {
        /* a coarser superset: non-ASCII bytes as [\x80-\xff] */
        free(e);
        e = hsexpr_latin1_prefilter(r->pattern, r->reflags);
        approx = 1;
        ok = e && try_compile(e, hs_flags(r->reflags, 1), &secs, &fires, c) == 0;
        pref = 1;
    }
    if (!e && latin1 && !huge)
        info->latin1_fold++;
    if (!ok && !fires && !fired) {
        why = debug ? last_error : why;
    } else if (!ok || fires) { /* every form that compiled fires */
        info->always_firing++, why = "prefilter fires on plain text";
    } else if (secs > FAST_MAX_COMPILE_S) {
        info->slow_compile++, why = "compile too slow";
    } else if (c->kind == K_FULL && pcre_cheaper(c, e, hs_flags(r->reflags, pref), r->re)) {
        info->pcre_cheaper++, cheaper = 1, why = "PCRE2 alone is cheaper over whole messages";
    } else {
        fr->path = pref || nested || relax ? FAST_PREFILTER : FAST_EXACT;
        /* A literal-free expression (hsexpr_literal_free) in a class whose
         * main database Vectorscan drives from literals slows it by more
         * than its own cost: __FR_SPACING_8 ([a-z0-9]{6}\s{8}[a-z0-9]{5})
         * took the rawbody class's main ASCII database from 13.9 to 28.7 ms
         * a pass over the corpus (warm, alone 6.3); in the second database
         * the class's two took 30.3 ms against 40.8, the uri class's 31.6
         * against 32.8, Subject's 3.5 against 4.2. Not in the body class,
         * whose main database is already mostly such automata: its nine
         * moved made the two 2% dearer (282.6 against 276.8 ms). */
        int lfree = lfree_apart(c) && !getenv("TG_FAST_NOLFAUX") && hsexpr_literal_free(e);
        fr->aux = secs > FAST_SLOW_COMPILE_S || lfree;
        info->literal_free += lfree;
        info->nested_repeat += nested;
        info->latin1_exact += latin1 && !approx;
        info->latin1_rewritten += latin1 && approx;
        info->relaxed += relax > 0 && !speed;
        info->relaxed_scan += speed;
        fr->ends = ends > 1 ? (unsigned char)ends : 0;
        info->aux += fr->aux;
    }
    if (debug && (fr->path != FAST_EXACT || debug > 1))
        fprintf(stderr, "fast: %s: %s: %s%s%s%s%s%s (%.3f s)\n", c->label, fr->name,
                fr->path == FAST_EXACT ? "exact"
                : fr->path == FAST_PREFILTER ? (pref ? "prefilter" : "exact, confirmed") : why,
                speed ? (relax == 5 ? ", counts of wide atoms relaxed for scan speed"
                                    : ", counts relaxed for scan speed")
                : relax == 7 ? ", lookahead folded"
                : relax ? (relax % 2 ? ", upper bounds relaxed" : ", counts relaxed") : "",
                relax == 3 || relax == 4 ? ", assertions dropped" : "",
                latin1 ? (approx ? ", Latin-1 /i approximated" : ", Latin-1 /i spelt out") : "",
                nested ? ", nested repeat" : fr->ends > 1 ? ", distinct ends needed" : "",
                fr->aux ? ", own database (slow compile)" : "",
                secs);
    if (fr->path == FAST_PCRE) {
        free(e);
        if (!cheaper)
            route_ascii_only(c, fr, r, rt, nested, debug);
        if (!cheaper)
            route_full_prefilter(c, fr, r, rt, debug);
        return;
    }
    rt->expr = e;
    rt->flags = hs_flags(r->reflags, pref);
    if (fr->ends > 1)
        rt->flags &= ~(unsigned)HS_FLAG_SINGLEMATCH;
    /* such a rule's report is confirmed by PCRE2 over the whole string
     * (__FILL_THIS_FORM_SHORT2: 2,300 strings of the corpus, 99 matches);
     * anchored at the starts of e's matches it costs a tenth. The reversed
     * expression goes into a database of its own (DB_STARTS), which only
     * these reports scan: its compile may take as long as any rule's.
     * Where the rule is (?:G){n} alone, only the starts that n units back
     * to back could follow are tried (frule_t.chain, chain_limit): one
     * field of a form and a run of blanks ends G' at n offsets, three
     * fields apart do too, and 3,509 of the corpus's 3,740 reports of
     * __FILL_THIS_FORM_SHORT2 and _LONG2 have no such chain. */
    if (fr->ends > 1 && !r->multiple) {
        char *rv = hsexpr_reverse(e);
        double rs = 0;
        if (rv && try_compile(rv, rt->flags, &rs, NULL, c) == 0 && rs <= FAST_MAX_COMPILE_S)
            rt->rev = rv, rv = NULL, fr->starts = 1;
        free(rv);
    }
    /* the same rule for text that is all ASCII */
    char *a = hsexpr_ascii(r->pattern, r->reflags, relax);
    if (a && !strcmp(a, e)) {
        free(a);
        a = NULL;
    }
    double secs_a;
    int rc = a ? try_compile(a, rt->flags, &secs_a, NULL, c) : 0;
    if (rc < 0) {
        /* cannot match ASCII text: left out there; rejected otherwise:
         * the full expression serves ASCII text too */
        rt->omit_ascii = rc == -2;
        free(a);
        a = NULL;
    }
    rt->ascii = a;
}

/* Rule r's form for text without bytes >= 0x80 compiled, if rx_count
 * counts it as a plain literal; else NULL. Owned by the caller. */
static rx_t *literal_form(const fast_rule_t *r)
{
    char *a = hsexpr_ascii(r->pattern, r->reflags, 0);
    rx_t *rx = NULL;
    size_t n = a ? strlen(a) : 0;
    if (a && n > 4 && !strncmp(a, "(?:", 3) && a[n - 1] == ')' &&
        !strpbrk(a + 3, "(|")) { /* one group around a literal: unwrap */
        memmove(a, a + 3, n - 4);
        a[n - 4] = 0;
    }
    size_t eo;
    int big;
    char err[128];
    if (a && strcmp(a, r->pattern) &&
        rx_compile(a, r->reflags, &rx, &eo, &big, err, sizeof err) == 0 && !rx_is_literal(rx)) {
        rx_free(rx);
        rx = NULL;
    }
    free(a);
    return rx;
}

/* For a rule r on the PCRE path: if its pattern is ^C{n} under /m
 * (hsexpr_line_run) and PCRE2's newline is LF, C's byte set (owned by the
 * caller) and *n; else NULL. */
static unsigned char *line_run_form(const fast_rule_t *r, unsigned *n)
{
    unsigned char set[32];
    if (r->multiple || !rx_newline_is_lf() || !hsexpr_line_run(r->pattern, r->reflags, set, n))
        return NULL;
    unsigned char *out = tg_malloc(32);
    memcpy(out, set, 32);
    return out;
}

/* For a rule r on the PCRE path: 1 and its line walk in *w if it has one
 * (hsexpr_line_walk) and PCRE2's newline is LF, else 0. */
static int line_walk_form(const fast_rule_t *r, hsexpr_walk_t *w)
{
    return !r->multiple && rx_newline_is_lf() && hsexpr_line_walk(r->pattern, r->reflags, w);
}

/* Splits s[0..len) into its lines for a class's line-walk rules (ws),
 * into sc->wl: each line's offset, length and which of ws's literals it
 * begins with (case ignored). */
static void walk_lines(fast_scratch_t *sc, const walkset_t *ws, const char *s, size_t len)
{
    sc->nwl = 0;
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(s + p, '\n', len - p);
        size_t end = nl ? (size_t)(nl - s) : len, n = end - p;
        uint32_t lits = 0;
        for (size_t k = 0; k < ws->nlit; k++)
            if (n >= ws->lit[k].len && tg_lower((unsigned char)s[p]) == ws->lit[k].s0 &&
                !tg_strncasecmp(s + p, ws->lit[k].s, ws->lit[k].len))
                lits |= 1u << k;
        tg_grow(&sc->wl, &sc->wl_cap, sc->nwl + 1, sizeof *sc->wl);
        sc->wl[sc->nwl++] = (struct wline){p, n, lits};
        p = nl ? end + 1 : len;
    }
}

/* Appends line i of s (sc->wl) to sc->walk with the \n that ends it, if
 * one does. */
static void walk_add_line(fast_scratch_t *sc, size_t i, const char *s, size_t len)
{
    const struct wline *l = &sc->wl[i];
    tg_buf_add(&sc->walk, s + l->off, l->len + (l->off + l->len < len));
}

/* Adds a rule's walk w to class c's walkset (made on first use) and sets
 * fr's walk_a, walk_b and walk_bound; 0 if the set has no room for its
 * literals (the rule then runs on the whole string). */
static int walkset_add(fclass_t *c, frule_t *fr, const hsexpr_walk_t *w)
{
    if (!c->walks)
        c->walks = tg_calloc(1, sizeof *c->walks);
    walkset_t *ws = c->walks;
    const char *lits[2] = {w->lit1, w->lit2};
    size_t at[2];
    for (int j = 0; j < 2; j++) {
        size_t q = 0;
        while (q < ws->nlit && tg_strcasecmp(ws->lit[q].s, lits[j]))
            q++;
        if (q == ws->nlit) {
            if (q == WALK_MAX_LITS)
                return 0;
            tg_grow(&ws->lit, &ws->cap, ws->nlit + 1, sizeof *ws->lit);
            memcpy(ws->lit[q].s, lits[j], sizeof ws->lit[q].s);
            ws->lit[q].len = strlen(lits[j]);
            ws->lit[q].s0 = tg_lower((unsigned char)lits[j][0]);
            ws->nlit++;
        }
        at[j] = q;
    }
    fr->walk_a = (unsigned char)at[0];
    fr->walk_b = (unsigned char)at[1];
    fr->walk_bound = w->bound;
    for (int j = 0; j < 2; j++)
        if (w->lead[j].has) {
            fr->walk_lead[j] = tg_malloc(32);
            memcpy(fr->walk_lead[j], w->lead[j].set, 32);
        }
    return 1;
}

static void walkset_free(walkset_t *ws)
{
    if (ws)
        free(ws->lit);
    free(ws);
}

/* How many bytes s[0..n) begins with that are in set (a 256-bit map, bit
 * b of set[b / 8]), as strspn. */
static size_t span_in(const unsigned char *set, const char *s, size_t n)
{
    size_t k = 0;
    while (k < n && (set[(unsigned char)s[k] >> 3] & (1u << ((unsigned char)s[k] & 7))))
        k++;
    return k;
}

/* Whether ^C{n} (line_run_form: set, n) matches s under /m: some line
 * (from the start or after a \n) begins with n bytes of C. C has no \n,
 * so only lines of n bytes or more need their bytes looked at, and from
 * a line start p the last \n of the n bytes there, if any, ends every
 * line that starts before it: the next candidate starts after it. One
 * memrchr per n bytes instead of a memchr per line (__LONGLINE, n = 998,
 * on messages of some 70 lines). */
static unsigned line_run(const unsigned char *set, unsigned n, const char *s, size_t len)
{
    for (size_t p = 0; n && len - p >= n;) {
        const char *nl = memrchr(s + p, '\n', n);
        if (nl) {
            p = (size_t)(nl - s) + 1;
            continue;
        }
        if (span_in(set, s + p, n) == n)
            return 1;
        nl = memchr(s + p + n, '\n', len - p - n); /* the rest of this line */
        if (!nl)
            break;
        p = (size_t)(nl - s) + 1;
    }
    return 0;
}

/* The cache entry of database d of a class. */
static void db_key(const hsdb_key_t *base, int d, hsdb_key_t *out)
{
    *out = *base;
    hsdb_key_add(out, &d, sizeof d);
}

/* Gives up class c's databases: every rule runs on PCRE2 (listed in
 * c->pcre when `list`). */
static void class_to_pcre(fast_t *f, fclass_t *c, int list)
{
    for (int d = 0; d < FAST_NDB; d++)
        if (c->db[d])
            hs_free_database(c->db[d]), c->db[d] = NULL;
    c->npcre = 0;
    c->db_bytes = 0;
    c->ascii_pcre = 0;
    free(c->fed);
    c->fed = NULL;
    free(c->ends);
    c->ends = NULL;
    free(c->multi);
    c->multi = NULL;
    c->nmulti = 0;
    free(c->chain);
    c->chain = NULL;
    free(c->alike);
    c->alike = NULL;
    c->fffd_map = 0;
    for (size_t i = 0; i < c->n; i++) {
        f->rules[c->ids[i]].path = FAST_PCRE;
        f->rules[c->ids[i]].alike = 0;
        f->rules[c->ids[i]].ascii = 0;
        f->rules[c->ids[i]].full = 0;
        f->rules[c->ids[i]].ends = 0;
        f->rules[c->ids[i]].starts = 0;
        f->rules[c->ids[i]].chain = 0;
        f->rules[c->ids[i]].squash = 0;
        rx_free(f->rules[c->ids[i]].anch);
        f->rules[c->ids[i]].anch = NULL;
        rx_free(f->rules[c->ids[i]].lit);
        f->rules[c->ids[i]].lit = NULL;
        if (list)
            c->pcre[c->npcre++] = c->ids[i];
    }
}

/* What the cache keeps of a rule's routing: path (2 bits), aux (1),
 * ascii (2), then ends - 1 (3), or for the PCRE path full (1). */
static unsigned char rule_meta(const frule_t *fr)
{
    unsigned top = fr->path == FAST_PCRE ? fr->full : fr->ends > 1 ? fr->ends - 1u : 0;
    return (unsigned char)(fr->path | fr->aux << 2 | fr->ascii << 3 | top << 5);
}

/* The inverse of rule_meta; 0 if m cannot come from it. */
static int rule_meta_set(frule_t *fr, unsigned char m)
{
    if ((m & 3) >= FAST_NPATHS || ((m >> 3) & 3) > FAST_ASCII_CONFIRM)
        return 0;
    fr->path = m & 3;
    fr->aux = (m >> 2) & 1;
    fr->ascii = (m >> 3) & 3;
    fr->full = fr->path == FAST_PCRE ? (m >> 5) & 1 : 0;
    fr->ends = fr->path != FAST_PCRE && m >> 5 ? (unsigned char)((m >> 5) + 1) : 0;
    return 1;
}

/* The order of a database's expressions, which changes what Vectorscan
 * builds from them: by rule name, descending (ties: id), which puts a
 * family's rules (__DRUGS_*, __FILL_THIS_FORM_*, FUZZY_*) side by side.
 * Measured with tests/bench/dbcost on the body class's main ASCII
 * database (556 expressions, 5 passes each): the rule files' order 290 ms
 * a pass, by name 267, by name descending 250, by each expression's own
 * scan cost 274, by length 292 to 403, shuffled 307 and 316; with the 9
 * rules more of today's set, by name 305, descending 286. Sorts the three
 * arrays alike. */
typedef struct {
    const char *name;
    const char *expr;
    unsigned flags, id;
} dbent_t;

static int by_name(const void *a, const void *b)
{
    const dbent_t *x = a, *y = b;
    int c = strcmp(y->name, x->name);
    return c ? c : x->id < y->id ? -1 : x->id > y->id;
}

static void sort_by_name(const fclass_t *c, const frule_t *rules, const char **exprs,
                         unsigned *flags, unsigned *ids, size_t ne)
{
    dbent_t *e = tg_calloc(ne, sizeof *e);
    for (size_t k = 0; k < ne; k++)
        e[k] = (dbent_t){rules[c->ids[ids[k]]].name, exprs[k], flags[k], ids[k]};
    qsort(e, ne, sizeof *e, by_name);
    for (size_t k = 0; k < ne; k++) {
        exprs[k] = e[k].expr;
        flags[k] = e[k].flags;
        ids[k] = e[k].id;
    }
    free(e);
}

/* TG_FAST_DUMP=FILE: every database a cold compile builds is appended to
 * FILE, one expression a line: class label, database (DB_*), Vectorscan
 * id, hs flags, rule name and expression, tab-separated; for
 * tests/bench/dbcost, which measures what each expression costs a scan.
 * One write per database on an O_APPEND descriptor: classes build
 * concurrently. Entries of the cache are not dumped (they hold no
 * expressions): use an empty cache directory. */
static void dump_db(const fclass_t *c, const frule_t *rules, int d, const char *const *exprs,
                    const unsigned *flags, const unsigned *ids, size_t ne)
{
    const char *path = getenv("TG_FAST_DUMP");
    if (!path || !*path)
        return;
    tg_buf b;
    tg_buf_init(&b);
    for (size_t k = 0; k < ne; k++)
        tg_buf_printf(&b, "%s\t%d\t%u\t%u\t%s\t%s\n", c->label, d, ids[k], flags[k],
                      rules[c->ids[ids[k]]].name, exprs[k]);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, b.s, b.len) != (ssize_t)b.len)
        fprintf(stderr, "tollgate: fast: TG_FAST_DUMP %s: cannot append\n", path);
    if (fd >= 0)
        close(fd);
    tg_buf_free(&b);
}

/* Sets c->fed from a cache entry's v[4 * c->n] (feed_rules wrote it): 0 if
 * it cannot come from there (then c->fed is left NULL). */
static int fed_set(const fast_t *f, fclass_t *c, const unsigned char *v)
{
    unsigned *fed = tg_calloc(c->n + 1, sizeof *fed);
    int any = 0, good = 1;
    for (size_t b = 0; b < c->n && good; b++) {
        unsigned a = 0;
        for (int k = 3; k >= 0; k--)
            a = a << 8 | v[4 * b + (size_t)k];
        if (!a)
            continue;
        good = a - 1 < c->n && a - 1 != b && f->rules[c->ids[a - 1]].ends > 1 &&
               f->rules[c->ids[b]].ends > 1 && f->rules[c->ids[a - 1]].path == FAST_PREFILTER;
        fed[b] = a;
        any = 1;
    }
    if (good && any)
        c->fed = fed;
    else
        free(fed);
    return good;
}

/* Prefilter rules whose database expression can only match where another
 * rule's does (hsrel_drops_optional, in the full and the ASCII form, same
 * flags) take that rule's reports instead of scanning their own:
 * __FILL_THIS_FORM_SHORT2's unit is _LONG2's without an optional group,
 * and the body class's main ASCII database takes 288 ms a pass with both
 * expressions, 268 without SHORT2's (dbcost). Both count ends (ends > 1,
 * compiled without SINGLEMATCH), so the fed rule sees every end the
 * other's expression reports: a superset of its own, which keeps its ends
 * count and its chain test necessary conditions, and PCRE2 confirms as
 * before. A rule feeds at most one other and is not fed itself. Sets
 * c->fed and fedby[i] = 1 for a fed rule (kept out of every database but
 * DB_STARTS). Which database each would have gone to (fr->aux, from
 * compile time) does not matter: the fed rule is in none, its reports
 * come with the feeder's wherever that is scanned. (Requiring the same
 * one made feeding depend on the host: __FILL_THIS_FORM_SHORT2 and _LONG2
 * compile in 0.16-0.26 s, either side of FAST_SLOW_COMPILE_S.) */
static void feed_rules(fast_t *f, fclass_t *c, const route_t *rt, unsigned char *fedby,
                       int debug)
{
    for (size_t a = 0; a < c->n; a++) {
        const frule_t *ra = &f->rules[c->ids[a]];
        /* not Vectorscan's prefilter mode: it reads constructs (atomic
         * groups, backreferences) that hsrel's proof does not follow, and
         * compiles a superset of the text, not the text */
        if (ra->path != FAST_PREFILTER || ra->ends <= 1 || rt[a].nparts || rt[a].nfparts ||
            (rt[a].flags & HS_FLAG_PREFILTER) || (c->fed && c->fed[a]))
            continue;
        const char *xa = rt[a].ascii ? rt[a].ascii : rt[a].expr;
        for (size_t b = 0; b < c->n; b++) {
            const frule_t *rb = &f->rules[c->ids[b]];
            if (b == a || fedby[b] || (c->fed && c->fed[b]) || rb->path == FAST_PCRE ||
                rb->ends <= 1 || rt[b].flags != rt[a].flags ||
                rt[b].omit_ascii != rt[a].omit_ascii || rt[b].nparts || rt[b].nfparts)
                continue;
            const char *xb = rt[b].ascii ? rt[b].ascii : rt[b].expr;
            if (!hsrel_drops_optional(rt[a].expr, rt[b].expr) || !hsrel_drops_optional(xa, xb))
                continue;
            if (!c->fed)
                c->fed = tg_calloc(c->n, sizeof *c->fed);
            c->fed[b] = (unsigned)a + 1;
            fedby[a] = 1;
            if (debug)
                fprintf(stderr, "tollgate: fast: %s: %s: fed by %s's expression\n", c->label,
                        ra->name, rb->name);
            break;
        }
    }
}

/* The bytes >= 0x80 of U+FFFD in UTF-8 (EF BF BD). */
static const unsigned char fffd_keep[32] = {
    [0xEF >> 3] = 1u << (0xEF & 7),
    [0xBF >> 3] = 1u << (0xBF & 7) | 1u << (0xBD & 7), /* 0xBD >> 3 == 0xBF >> 3 */
};

/* 1 if s has bytes >= 0x80 and every one is one of U+FFFD's. */
static int fffd_string(const char *s, size_t len)
{
    int any = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b >= 0x80 && !(fffd_keep[b >> 3] & (1u << (b & 7))))
            return 0;
        any |= b >= 0x80;
    }
    return any;
}

/* Whether class c reads U+FFFD strings (fclass_t.fffd_map): the charset
 * decoder puts U+FFFD for every byte it cannot decode, so in the body
 * class most strings with bytes >= 0x80 have no other (on the test corpus
 * 667 of 950, 79% of their bytes). Read with FFFD_X for each of those
 * bytes such a string is ASCII, and most rules (511 of the 576 SpamAssassin
 * body rules) cannot tell: it is scanned with the ASCII databases, whose
 * tables the class's other strings keep in the caches, and with small
 * databases of the other rules' forms restricted to that alphabet
 * (hsexpr_restrict; the ReplaceTags look-alikes that take Latin-1's \xEF
 * for an i). Other classes hardly see U+FFFD. */
static int fffd_forms(const fclass_t *c) { return c->kind == K_BODY; }

/* What a U+FFFD byte reads as in such a string: ASCII's own SUB, which no
 * SpamAssassin body rule names, and which \s \w \d and every class
 * written with ASCII bytes only leave out, as they do 0xEF, 0xBF and 0xBD. */
#define FFFD_X 0x1a

/* fast_scratch_t.phase: which scan of a mapped string reports (the rules
 * with frule_t.alike take the first's reports, the others the second's);
 * PHASE_NONE for every other string. */
enum { PHASE_NONE, PHASE_MAPPED, PHASE_FFFD };
/* fastmemo_rep_t.id of a report of the PHASE_FFFD scan */
#define REP_FFFD 0x80000000u

/* Whether a database expression's reports (as id, and for the rule it
 * feeds, fed) are wanted from the PHASE_FFFD scan: its own rule or the
 * fed one is not alike. */
static int fffd_wanted(const fast_t *f, const fclass_t *c, size_t id)
{
    return !f->rules[c->ids[id]].alike ||
           (c->fed && c->fed[id] && !f->rules[c->ids[c->fed[id] - 1]].alike);
}

/* Compiles exprs[0..ne) (flags, ids) restricted to U+FFFD strings into
 * *db. On such strings each restricted expression matches exactly where
 * the one it comes from does, so it reports the same ends; with
 * HS_FLAG_PREFILTER, Vectorscan's superset of it still reports every end
 * of a match, as the full form's does, and the reports are confirmed as
 * those are. One hsexpr_restrict does not follow, or Vectorscan refuses
 * restricted, goes in as it was; one left with no branch goes (it cannot
 * match there). 0, or -1 (*db NULL: such strings take the full forms,
 * fclass_t.fffd_map is off). */
static int compile_fffd(const char *const *exprs, const unsigned *flags, const unsigned *ids,
                        size_t ne, hs_database_t **db)
{
    const char **x = tg_calloc(ne + 1, sizeof *x);
    char **own = tg_calloc(ne + 1, sizeof *own);
    unsigned *fl = tg_calloc(ne + 1, sizeof *fl), *id = tg_calloc(ne + 1, sizeof *id);
    size_t *from = tg_calloc(ne + 1, sizeof *from), n = 0;
    for (size_t i = 0; i < ne; i++) {
        char *r = hsexpr_restrict(exprs[i], (flags[i] & HS_FLAG_CASELESS ? CF_RE_I : 0) |
                                                (flags[i] & HS_FLAG_DOTALL ? CF_RE_S : 0),
                                  fffd_keep);
        if (hsexpr_is_never(r)) {
            free(r);
            continue;
        }
        own[n] = r;
        x[n] = r ? r : exprs[i];
        fl[n] = flags[i];
        id[n] = ids[i];
        from[n++] = i;
    }
    *db = NULL;
    for (int tries = 0; n && tries < 16; tries++) {
        hs_compile_error_t *ce = NULL;
        if (hs_compile_multi(x, fl, id, (unsigned)n, HS_MODE_BLOCK, hsscan_platform(), db, &ce) ==
            HS_SUCCESS)
            break;
        int bad = ce ? ce->expression : -1;
        hs_free_compile_error(ce);
        *db = NULL;
        if (bad < 0 || (size_t)bad >= n || x[bad] == exprs[from[bad]])
            break; /* not one expression's fault, or not the restriction's */
        x[bad] = exprs[from[bad]];
    }
    for (size_t i = 0; i < n; i++)
        free(own[i]);
    free(own);
    free(x);
    free(fl);
    free(id);
    free(from);
    return *db ? 0 : -1;
}

/* Routes the rules of class c (fills path), compiles its databases.
 * Writes only c, the rules of c and *info: classes build concurrently. */
static void build_class(fast_t *f, fclass_t *c, const fast_rule_t *in,
                        const size_t *src, const fast_options_t *o, fast_build_info_t *info)
{
    hsdb_key_t key;
    hsdb_key_init(&key);
    hsdb_key_adds(&key, FAST_ROUTE_VERSION);
    hsdb_key_adds(&key, hsscan_variant()); /* databases compiled for that code */
    hsdb_key_adds(&key, getenv("TG_FAST_NOSQUASH") ? "no squash" : NULL); /* route_squash */
    hsdb_key_adds(&key, lfree_apart(c) && getenv("TG_FAST_NOLFAUX") ? "no lf aux" : NULL);
    hsdb_key_adds(&key, c->kind == K_BODY && getenv("TG_FAST_NOWIDE") ? "no wide" : NULL);
    /* routes follow the compile costs of the table, if it is read */
    uint64_t costs = fastcost_digest();
    hsdb_key_add(&key, &costs, sizeof costs);
#ifdef TG_ASAN
    /* Routing compares compile times, longer under ASan (2-3x for the slow
     * ones, 5x and more for small ones): the routes of expressions the
     * fastcost table lacks (timed here) are not the normal build's and
     * must not be served to it. */
    hsdb_key_adds(&key, "asan");
#endif
    int k[2] = {c->kind, c->hmode};
    hsdb_key_add(&key, k, sizeof k);
    hsdb_key_adds(&key, c->header); /* the routing samples differ by header (ALL) */
    for (size_t i = 0; i < c->n; i++) {
        const fast_rule_t *r = &in[src[c->ids[i]]];
        unsigned v[2] = {r->reflags, (unsigned)r->multiple};
        hsdb_key_adds(&key, r->pattern);
        hsdb_key_add(&key, v, sizeof v);
    }
    if (o->cache_dir) {
        hs_database_t *dbs[FAST_NDB] = {0};
        int good = 1;
        for (int d = 0; d < FAST_NDB && good; d++) {
            hsdb_key_t dk;
            db_key(&key, d, &dk);
            unsigned char *meta = NULL;
            size_t metalen = 0;
            good = hsdb_load(o->cache_dir, &dk, &meta, &metalen, &dbs[d]) &&
                   metalen == (d == DB_STARTS ? 6 * c->n + 1 : c->n);
            /* the first entry sets each rule's routing, the others must agree */
            for (size_t i = 0; good && i < c->n; i++) {
                frule_t *fr = &f->rules[c->ids[i]];
                if (d == DB_STARTS) /* its entry tells which rules are in it */
                    good = meta[i] <= (fr->ends > 1) && (fr->starts = meta[i], 1);
                else if (d == DB_SQUASH) /* so does this one's */
                    good = meta[i] <= (fr->path == FAST_PREFILTER && fr->ends <= 1) &&
                           (fr->squash = meta[i], 1);
                else
                    good = d == 0 ? rule_meta_set(fr, meta[i]) : meta[i] == rule_meta(fr);
            }
            if (good && d == DB_STARTS) {
                good = fed_set(f, c, meta + c->n) && meta[6 * c->n] <= fffd_forms(c);
                c->fffd_map = good && meta[6 * c->n];
                for (size_t i = 0; good && i < c->n; i++)
                    good = meta[5 * c->n + i] <= c->fffd_map &&
                           (f->rules[c->ids[i]].alike = meta[5 * c->n + i], 1);
            }
            free(meta);
        }
        if (good) {
            memcpy(c->db, dbs, sizeof dbs);
            c->from_cache = 1;
            info->cache_hits++;
            goto done;
        }
        for (int d = 0; d < FAST_NDB; d++)
            if (dbs[d])
                hs_free_database(dbs[d]);
        info->cache_misses++;
    }

    /* route: test-compile every pattern alone (one bad pattern would fail
     * the whole database) */
    const char *dbg = getenv("TG_FAST_DEBUG"); /* routing reasons to stderr; 2: all */
    int debug = dbg ? atoi(dbg) > 1 ? 2 : 1 : 0;
    route_t *rt = tg_calloc(c->n + 1, sizeof *rt);
    size_t timed = cost_timed;
    for (size_t i = 0; i < c->n; i++)
        route_rule(info, c, &f->rules[c->ids[i]], &in[src[c->ids[i]]], &rt[i], debug);
    info->cost_timed += cost_timed - timed;
    /* ASCII databases where some rule reads differently there, in classes
     * big enough for the second compile to pay back */
    int ascii = 0;
    size_t indb = 0;
    for (size_t i = 0; i < c->n; i++) {
        ascii |= rt[i].ascii != NULL || rt[i].nparts || rt[i].omit_ascii;
        indb += f->rules[c->ids[i]].path != FAST_PCRE && !f->rules[c->ids[i]].squash;
    }
    ascii = ascii && indb >= FAST_ASCII_MIN_RULES;
    for (size_t i = 0; i < c->n && !ascii; i++)
        if (f->rules[c->ids[i]].ascii == FAST_ASCII_DB ||
            f->rules[c->ids[i]].ascii == FAST_ASCII_CONFIRM)
            f->rules[c->ids[i]].ascii = 0;
    unsigned char *fedby = tg_calloc(c->n + 1, 1);
    feed_rules(f, c, rt, fedby, debug);
    c->fffd_map = fffd_forms(c); /* until a DB_*_FFFD is refused */
    for (size_t i = 0; i < c->n && c->fffd_map; i++) {
        const fast_rule_t *r = &in[src[c->ids[i]]];
        f->rules[c->ids[i]].alike =
            (unsigned char)hsexpr_alike(r->pattern, r->reflags, fffd_keep, FFFD_X);
    }
    size_t nexpr = c->n + 1;
    for (size_t i = 0; i < c->n; i++)
        nexpr += rt[i].nparts + rt[i].nfparts;
    const char **exprs = tg_calloc(nexpr, sizeof *exprs);
    unsigned *flags = tg_calloc(nexpr, sizeof *flags);
    unsigned *ids = tg_calloc(nexpr, sizeof *ids);
    int failed = 0;  /* a database did not build (memory?): not cached */
    for (int d = 0; d < FAST_NDB; d++) {
        int fffd = d == DB_MAIN_FFFD || d == DB_AUX_FFFD;
        if (fffd && !fffd_forms(c))
            continue;
        int base = fffd ? d - DB_MAIN_FFFD : d; /* the database whose expressions d takes */
        int aux = base & 1, asc = base == DB_MAIN_ASCII || base == DB_AUX_ASCII;
        size_t ne = 0;
        for (size_t i = 0; i < c->n && d == DB_STARTS; i++) {
            if (!f->rules[c->ids[i]].starts)
                continue;
            exprs[ne] = rt[i].rev;
            flags[ne] = rt[i].flags;
            ids[ne++] = (unsigned)i;
        }
        for (size_t i = 0; i < c->n && d == DB_SQUASH; i++) {
            if (!f->rules[c->ids[i]].squash)
                continue;
            exprs[ne] = rt[i].squash;
            flags[ne] = rt[i].flags;
            ids[ne++] = (unsigned)i;
        }
        for (size_t i = 0; i < c->n && (ascii || !asc) && base != DB_STARTS && base != DB_SQUASH;
             i++) {
            const frule_t *fr = &f->rules[c->ids[i]];
            int member = fr->path != FAST_PCRE ? !(asc && rt[i].omit_ascii)
                         : asc ? fr->ascii == FAST_ASCII_DB || fr->ascii == FAST_ASCII_CONFIRM
                               : fr->full;
            if (!member || fr->aux != aux || fedby[i] || fr->squash ||
                (fffd && !fffd_wanted(f, c, i)))
                continue;
            for (size_t k = 0; asc && k < rt[i].nparts; k++) {
                exprs[ne] = rt[i].parts[k];
                flags[ne] = rt[i].flags;
                ids[ne++] = (unsigned)i;
            }
            if (asc && rt[i].nparts)
                continue;
            if (!asc && fr->path == FAST_PCRE) { /* the full prefilter */
                for (size_t k = 0; k < rt[i].nfparts; k++) {
                    exprs[ne] = rt[i].fparts[k];
                    flags[ne] = rt[i].fflags;
                    ids[ne++] = (unsigned)i;
                }
                continue;
            }
            exprs[ne] = asc && rt[i].ascii ? rt[i].ascii : rt[i].expr;
            flags[ne] = rt[i].flags;
            ids[ne++] = (unsigned)i;
        }
        if (!ne)
            continue;
        sort_by_name(c, f->rules, exprs, flags, ids, ne);
        if (fffd) { /* not built (refused): such strings take the full forms */
            if (compile_fffd(exprs, flags, ids, ne, &c->db[d]) < 0)
                c->fffd_map = 0;
            continue;
        }
        dump_db(c, f->rules, d, exprs, flags, ids, ne);
        hs_compile_error_t *ce = NULL;
        if (hs_compile_multi(exprs, flags, ids, (unsigned)ne, HS_MODE_BLOCK, hsscan_platform(),
                             &c->db[d], &ce) != HS_SUCCESS && d == DB_STARTS) {
            /* the reports are then confirmed over the whole string */
            hs_free_compile_error(ce);
            c->db[d] = NULL;
            for (size_t i = 0; i < c->n; i++)
                f->rules[c->ids[i]].starts = 0;
        } else if (!c->db[d]) {
            /* should not happen after the individual compiles; stay exact
             * by running the whole class on PCRE2 */
            fprintf(stderr, "tollgate: fast: %s: database not built (%s); using PCRE2\n",
                    c->label, ce && ce->message ? ce->message : "?");
            hs_free_compile_error(ce);
            class_to_pcre(f, c, 0);
            failed = 1;
            break;
        }
    }
    for (size_t i = 0; i < c->n; i++) {
        free(rt[i].expr);
        free(rt[i].ascii);
        free(rt[i].rev);
        free(rt[i].squash);
        for (size_t k = 0; k < rt[i].nparts; k++)
            free(rt[i].parts[k]);
        free(rt[i].parts);
        for (size_t k = 0; k < rt[i].nfparts; k++)
            free(rt[i].fparts[k]);
        free(rt[i].fparts);
    }
    free(rt);
    free(fedby);
    free(exprs);
    free(flags);
    free(ids);
    trim_heap();
    if (o->cache_dir && !failed) {
        /* DB_STARTS's entry: which rules are in it, then c->fed (4 bytes
         * each, little-endian), frule_t.alike, c->fffd_map */
        unsigned char *meta = tg_malloc(6 * c->n + 1);
        for (int d = 0; d < FAST_NDB; d++) {
            hsdb_key_t dk;
            db_key(&key, d, &dk);
            for (size_t i = 0; i < c->n; i++)
                meta[i] = rule_meta(&f->rules[c->ids[i]]);
            if (d == DB_SQUASH)
                for (size_t i = 0; i < c->n; i++)
                    meta[i] = f->rules[c->ids[i]].squash;
            if (d == DB_STARTS)
                for (size_t i = 0; i < c->n; i++) {
                    meta[i] = f->rules[c->ids[i]].starts;
                    unsigned v = c->fed ? c->fed[i] : 0;
                    for (int k = 0; k < 4; k++)
                        meta[c->n + 4 * i + (size_t)k] = (unsigned char)(v >> (8 * k));
                    meta[5 * c->n + i] = f->rules[c->ids[i]].alike;
                }
            if (d == DB_STARTS)
                meta[6 * c->n] = (unsigned char)c->fffd_map;
            if (hsdb_store(o->cache_dir, &dk, meta, d == DB_STARTS ? 6 * c->n + 1 : c->n,
                           c->db[d]) < 0)
                info->cache_errors++;
        }
        free(meta);
    }
done:
    for (size_t i = 0; i < c->n; i++) {
        frule_t *fr = &f->rules[c->ids[i]];
        if (fr->starts && c->db[DB_STARTS]) {
            const fast_rule_t *r = &in[src[c->ids[i]]];
            size_t eo;
            int big;
            char err[256];
            if (rx_compile(r->pattern, r->reflags | RX_ANCHORED, &fr->anch, &eo, &big, err,
                           sizeof err) < 0)
                fr->anch = NULL;
        }
        fr->starts = fr->anch != NULL;
        fr->chain = fr->starts &&
                    hsexpr_whole_count(in[src[c->ids[i]]].pattern, in[src[c->ids[i]]].reflags) > 1;
        if (fr->chain) {
            if (!c->chain)
                c->chain = tg_calloc(c->n, 1);
            c->chain[i] = 1;
        }
        if (in[src[c->ids[i]]].multiple && fr->path != FAST_PCRE &&
            (c->db[DB_MAIN_ASCII] || c->db[DB_AUX_ASCII]))
            fr->lit = literal_form(&in[src[c->ids[i]]]);
        fr->ahead = rx_line_ahead(in[src[c->ids[i]]].pattern, in[src[c->ids[i]]].reflags);
        hsexpr_walk_t w;
        if (fr->path == FAST_PCRE) {
            fr->lrset = line_run_form(&in[src[c->ids[i]]], &fr->lrn);
            fr->walk = !fr->lrset && line_walk_form(&in[src[c->ids[i]]], &w) &&
                       walkset_add(c, fr, &w);
            c->pcre[c->npcre++] = c->ids[i];
            c->ascii_pcre |= fr->ascii != 0;
        } else if (fr->ends > 1) {
            if (!c->ends) {
                c->ends = tg_calloc(c->n, 1);
                c->multi = tg_calloc(c->n, sizeof *c->multi);
            }
            c->ends[i] = fr->ends;
            c->multi[c->nmulti++] = (unsigned)i;
        }
        /* a prefilter's reports are confirmed on the walk's texts too
         * (__TO_EQ_FROM_2's, on a third of the corpus's header blocks);
         * not a squashed rule's: squash_strs confirms it on each string of
         * the class in turn, outside scan_str, which resets walk_built */
        if (fr->path == FAST_PREFILTER && !fr->starts && !fr->squash)
            fr->walk = line_walk_form(&in[src[c->ids[i]]], &w) && walkset_add(c, fr, &w);
    }
    if (c->fffd_map) {
        c->alike = tg_calloc(c->n + 1, 1);
        for (size_t i = 0; i < c->n; i++)
            c->alike[i] = f->rules[c->ids[i]].alike;
    }
    for (int d = 0; d < FAST_NDB; d++) {
        if (!c->db[d])
            continue;
        size_t sz = 0;
        hs_database_size(c->db[d], &sz);
        c->db_bytes += sz;
    }
}

/* Classes are built by a few threads at once (a cold compile of the
 * SpamAssassin rules is minutes of CPU), biggest classes first. */
typedef struct build_pool {
    fast_t *f;
    const fast_rule_t *in;
    const size_t *src;
    const fast_options_t *o;
    size_t *order;           /* class indexes, biggest first */
    atomic_size_t next;
    pthread_mutex_t lock;    /* guards f->info */
} build_pool_t;

/* Adds what building classes counts (the rest is filled after). */
static void info_add(fast_build_info_t *to, const fast_build_info_t *a)
{
    to->slow_compile += a->slow_compile;
    to->aux += a->aux;
    to->literal_free += a->literal_free;
    to->cost_timed += a->cost_timed;
    to->relaxed += a->relaxed;
    to->relaxed_scan += a->relaxed_scan;
    to->always_firing += a->always_firing;
    to->pcre_cheaper += a->pcre_cheaper;
    to->latin1_fold += a->latin1_fold;
    to->latin1_exact += a->latin1_exact;
    to->latin1_rewritten += a->latin1_rewritten;
    to->nested_repeat += a->nested_repeat;
    to->cache_hits += a->cache_hits;
    to->cache_misses += a->cache_misses;
    to->cache_errors += a->cache_errors;
}

static void *build_worker(void *arg)
{
    build_pool_t *p = arg;
    fast_build_info_t info;
    memset(&info, 0, sizeof info);
    for (;;) {
        size_t k = atomic_fetch_add(&p->next, 1);
        if (k >= p->f->nclasses)
            break;
        fclass_t *c = &p->f->classes[p->order[k]];
        build_class(p->f, c, p->in, p->src, p->o, &info);
    }
    pthread_mutex_lock(&p->lock);
    info_add(&p->f->info, &info);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static int by_size_desc(const void *a, const void *b, void *arg)
{
    const fast_t *f = arg;
    size_t na = f->classes[*(const size_t *)a].n, nb = f->classes[*(const size_t *)b].n;
    return na < nb ? 1 : na > nb ? -1 : 0;
}

static void build_classes(fast_t *f, const fast_rule_t *in, const size_t *src,
                          const fast_options_t *o)
{
    build_pool_t p = {.f = f, .in = in, .src = src, .o = o};
    p.order = tg_calloc(f->nclasses + 1, sizeof *p.order);
    for (size_t c = 0; c < f->nclasses; c++)
        p.order[c] = c;
    qsort_r(p.order, f->nclasses, sizeof *p.order, by_size_desc, f);
    atomic_init(&p.next, 0);
    pthread_mutex_init(&p.lock, NULL);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = o->threads > 0 ? o->threads : cpus > 4 ? 4 : cpus < 1 ? 1 : (int)cpus;
    pthread_t th[16];
    int started = 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 16u << 20); /* Vectorscan's compiler recurses */
    for (int t = 1; t < nt && t < 16; t++)
        if (pthread_create(&th[started], &attr, build_worker, &p) == 0)
            started++;
    pthread_attr_destroy(&attr);
    build_worker(&p); /* this thread works too */
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&p.lock);
    free(p.order);
    /* one scratch prototype big enough for every database */
    for (size_t c = 0; c < f->nclasses; c++) {
        fclass_t *fc = &f->classes[c];
        for (int d = 0; d < FAST_NDB; d++)
            if (fc->db[d] && hs_alloc_scratch(fc->db[d], &f->proto) != HS_SUCCESS) {
                fprintf(stderr, "tollgate: fast: %s: no scratch; using PCRE2\n", fc->label);
                class_to_pcre(f, fc, 1);
                /* a failed resize frees the prototype: size it again for
                 * the classes already seen (this one has no database now) */
                c = (size_t)-1;
                break;
            }
    }
}

fast_t *fast_build(const fast_rule_t *in, size_t n, const fast_options_t *opts)
{
    static const fast_options_t noopts;
    const fast_options_t *o = opts ? opts : &noopts;
    double t0 = now_s();
    fast_t *f = tg_calloc(1, sizeof *f);
    f->gen = atomic_fetch_add(&fast_gen, 1);
    f->rules = tg_calloc(n ? n : 1, sizeof *f->rules);
    f->slot = tg_calloc(n ? n : 1, sizeof *f->slot);
    f->absent = tg_calloc(n ? n : 1, sizeof *f->absent);
    f->out = tg_calloc(n ? n : 1, 1);
    size_t *src = tg_calloc(n ? n : 1, sizeof *src); /* fast index -> in[] */
    size_t ccap = 0;
    rx_scratch_t *rx = rx_scratch_new(o->match_limit, o->depth_limit);
    size_t *cls = tg_calloc(n ? n : 1, sizeof *cls);
    for (size_t i = 0; i < n; i++) {
        const fast_rule_t *r = &in[i];
        int kind = kind_of(r->type);
        if (kind < 0 || !r->re || !r->pattern)
            continue;
        size_t fi = f->nrules++;
        frule_t *fr = &f->rules[fi];
        src[fi] = i;
        f->slot[fi] = r->slot;
        fr->re = r->re;
        fr->name = tg_strdup(r->name ? r->name : "?");
        fr->multiple = r->multiple != 0;
        int mode = mode_of(kind);
        f->out[fi] = mode != M_SUM && r->negate ? OUT_NEGATE : mode == M_ANY ? OUT_ANY : 0;
        /* what the oracle passes as max to rx_count */
        fr->want = mode == M_ANY ? 1 : fr->multiple ? r->maxhits : 1;
        if (kind == K_HEADER || kind == K_MIMEHEADER) {
            const char *u = r->unset ? r->unset : "";
            f->absent[fi] = rx_count(r->re, rx, u, strlen(u), fr->want);
        }
        cls[fi] = class_for(f, &ccap, kind, r->header, r->hmode);
        f->info.multiple += fr->multiple;
    }
    rx_scratch_free(rx);
    for (size_t i = 0; i < f->nrules; i++)
        f->classes[cls[i]].n++;
    for (size_t c = 0; c < f->nclasses; c++) {
        fclass_t *fc = &f->classes[c];
        fc->ids = tg_calloc(fc->n + 1, sizeof *fc->ids);
        fc->pcre = tg_calloc(fc->n + 1, sizeof *fc->pcre);
        if (fc->n > f->maxclass)
            f->maxclass = fc->n;
        fc->n = 0;
    }
    for (size_t i = 0; i < f->nrules; i++) {
        fclass_t *fc = &f->classes[cls[i]];
        fc->ids[fc->n++] = i;
    }
    free(cls);
    build_classes(f, in, src, o);
    free(src);
    f->info.rules = f->nrules;
    f->info.classes = f->nclasses;
    /* counted from what was built, after any class fell back to PCRE2
     * (class_to_pcre: a database or the scratch could not be made) */
    for (size_t c = 0; c < f->nclasses; c++) {
        const fclass_t *fc = &f->classes[c];
        for (int d = 0; d < FAST_NDB; d++)
            f->info.databases += fc->db[d] != NULL;
        f->info.db_bytes += fc->db_bytes;
        for (size_t i = 0; fc->fed && i < fc->n; i++)
            f->info.fed += fc->fed[i] != 0;
    }
    for (size_t i = 0; i < f->nrules; i++) {
        f->info.path[f->rules[i].path]++;
        f->info.ascii_db += f->rules[i].ascii == FAST_ASCII_DB ||
                            f->rules[i].ascii == FAST_ASCII_CONFIRM;
        f->info.full_prefilter += f->rules[i].full;
        f->info.ascii_never += f->rules[i].ascii == FAST_ASCII_NEVER;
        f->info.min_ends += f->rules[i].ends > 1;
        f->info.starts += f->rules[i].starts;
        f->info.chains += f->rules[i].chain;
        f->info.literal_forms += f->rules[i].lit != NULL;
        f->info.line_runs += f->rules[i].lrset != NULL;
        f->info.line_walks += f->rules[i].walk && f->rules[i].path == FAST_PCRE;
        f->info.walk_confirms += f->rules[i].walk && f->rules[i].path == FAST_PREFILTER;
        f->info.line_aheads += f->rules[i].ahead != NULL;
        f->info.squashed += f->rules[i].squash;
    }
    if (o->memo_slots >= 0 && !env_on("TG_FAST_NOMEMO")) {
        f->memo = fastmemo_new(o->memo_slots ? (size_t)o->memo_slots : FAST_MEMO_DEFAULT,
                               (unsigned)f->nclasses);
        f->info.memo_slots = fastmemo_slots(f->memo);
        f->memo_outs = !env_on("TG_FAST_NOOUTCOMES");
    }
    f->no_fffd = env_on("TG_FAST_NOFFFD");
    f->info.compile_seconds = now_s() - t0;
    return f;
}

void fast_memo_clear(const fast_t *f)
{
    if (f && f->memo)
        fastmemo_clear(f->memo);
}

void fast_free(fast_t *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nrules; i++) {
        free(f->rules[i].name);
        rx_free(f->rules[i].anch);
        rx_free(f->rules[i].lit);
        rx_free(f->rules[i].ahead);
        free(f->rules[i].lrset);
        free(f->rules[i].walk_lead[0]);
        free(f->rules[i].walk_lead[1]);
    }
    for (size_t c = 0; c < f->nclasses; c++) {
        fclass_t *fc = &f->classes[c];
        free(fc->header);
        free(fc->label);
        free(fc->ids);
        free(fc->pcre);
        free(fc->ends);
        free(fc->multi);
        free(fc->chain);
        free(fc->alike);
        walkset_free(fc->walks);
        free(fc->fed);
        for (int d = 0; d < FAST_NDB; d++)
            if (fc->db[d])
                hs_free_database(fc->db[d]);
    }
    if (f->proto)
        hs_free_scratch(f->proto);
    fastmemo_free(f->memo);
    free(f->classes);
    free(f->rules);
    free(f->slot);
    free(f->absent);
    free(f->out);
    free(f);
}

const fast_build_info_t *fast_get_info(const fast_t *f) { return &f->info; }
size_t fast_nclasses(const fast_t *f) { return f->nclasses; }
size_t fast_rule_slot(const fast_t *f, size_t i) { return f->slot[i]; }
const char *fast_rule_name(const fast_t *f, size_t i) { return f->rules[i].name; }
int fast_rule_path_at(const fast_t *f, size_t i) { return f->rules[i].path; }

/* A search over the classes' rule lists: for tools, not per message. */
size_t fast_rule_class(const fast_t *f, size_t i)
{
    for (size_t c = 0; c < f->nclasses; c++)
        for (size_t k = 0; k < f->classes[c].n; k++)
            if (f->classes[c].ids[k] == i)
                return c;
    return 0; /* every fast rule is in a class */
}

void fast_class_info(const fast_t *f, size_t i, fast_class_info_t *out)
{
    const fclass_t *c = &f->classes[i];
    memset(out, 0, sizeof *out);
    out->label = c->label;
    out->rules = c->n;
    for (size_t k = 0; k < c->n; k++)
        out->path[f->rules[c->ids[k]].path]++;
    out->db_bytes = c->db_bytes;
    out->from_cache = c->from_cache;
    out->ascii = c->db[DB_MAIN_ASCII] || c->db[DB_AUX_ASCII];
    for (int d = 0; d < FAST_NDB; d++)
        if (c->db[d])
            hs_database_size(c->db[d], &out->db_size[d]);
}

const char *fast_db_name(int d)
{
    static const char *const name[FAST_NDB] = {"main",   "aux",    "main ASCII",  "aux ASCII",
                                               "starts", "squash", "main U+FFFD", "aux U+FFFD"};
    return d >= 0 && d < FAST_NDB ? name[d] : "?";
}

int fast_rule_path(const fast_t *f, size_t slot)
{
    for (size_t i = 0; i < f->nrules; i++)
        if (f->slot[i] == slot)
            return f->rules[i].path;
    return -1;
}

/* ---- matching ------------------------------------------------------------ */

fast_scratch_t *fast_scratch_new(const fast_t *f)
{
    fast_scratch_t *sc = tg_calloc(1, sizeof *sc);
    sc->f = f;
    sc->gen = f->gen;
    if (f->proto && hs_clone_scratch(f->proto, &sc->hs) != HS_SUCCESS)
        tg_malloc((size_t)-1); /* reports OOM and aborts */
    size_t n = f->nrules ? f->nrules : 1;
    sc->cnt = tg_calloc(n, sizeof *sc->cnt);
    sc->done = tg_calloc(n, 1);
    sc->cand = tg_calloc(f->maxclass + 1, sizeof *sc->cand);
    sc->nseen = tg_calloc(f->maxclass + 1, 1);
    sc->seen = tg_calloc((f->maxclass + 1) * FAST_MAX_ENDS, sizeof *sc->seen);
    tg_buf_init(&sc->tmp);
    tg_buf_init(&sc->rev);
    tg_buf_init(&sc->walk);
    tg_buf_init(&sc->sq);
    tg_buf_init(&sc->map);
    sc->class_ns = tg_calloc(f->nclasses + 1, sizeof *sc->class_ns);
    sc->class_scan_ns = tg_calloc(f->nclasses + 1, sizeof *sc->class_scan_ns);
    sc->rule_ns = tg_calloc(n, sizeof *sc->rule_ns);
    sc->rule_cand = tg_calloc(n, sizeof *sc->rule_cand);
    sc->rule_conf = tg_calloc(n, sizeof *sc->rule_conf);
    size_t ndb = (f->nclasses + 1) * FAST_NDB;
    sc->db_ns = tg_calloc(ndb, sizeof *sc->db_ns);
    sc->db_scans = tg_calloc(ndb, sizeof *sc->db_scans);
    sc->db_bytes = tg_calloc(ndb, sizeof *sc->db_bytes);
    return sc;
}

void fast_scratch_free(fast_scratch_t *sc)
{
    if (!sc)
        return;
    if (sc->hs)
        hs_free_scratch(sc->hs);
    free(sc->cnt);
    free(sc->done);
    free(sc->cand);
    free(sc->nseen);
    free(sc->seen);
    tg_buf_free(&sc->tmp);
    tg_buf_free(&sc->rev);
    tg_buf_free(&sc->walk);
    free(sc->wl);
    tg_buf_free(&sc->sq);
    tg_buf_free(&sc->map);
    free(sc->starts);
    free(sc->cstart);
    free(sc->cend);
    free(sc->ends);
    free(sc->class_ns);
    free(sc->class_scan_ns);
    free(sc->rule_ns);
    free(sc->rule_cand);
    free(sc->rule_conf);
    free(sc->db_ns);
    free(sc->db_scans);
    free(sc->db_bytes);
    free(sc);
}

void fast_scratch_profile(fast_scratch_t *sc, int on) { sc->prof = on; }
void fast_scratch_memo(fast_scratch_t *sc, int on) { sc->no_memo = !on; }

void fast_scratch_get_profile(const fast_scratch_t *sc, fast_profile_t *out)
{
    out->class_ns = sc->class_ns;
    out->class_scan_ns = sc->class_scan_ns;
    memcpy(out->path_ns, sc->path_ns, sizeof out->path_ns);
    out->rule_ns = sc->rule_ns;
    out->rule_cand = sc->rule_cand;
    out->rule_conf = sc->rule_conf;
    out->chain_rejected = sc->chain_rejected;
    out->nrules = sc->f->nrules;
    out->db_ns = sc->db_ns;
    out->db_scans = sc->db_scans;
    out->db_bytes = sc->db_bytes;
    out->memo_hits = sc->memo_hits;
    out->memo_misses = sc->memo_misses;
    out->memo_hit_bytes = sc->memo_hit_bytes;
    out->memo_miss_bytes = sc->memo_miss_bytes;
    out->memo_outcomes = sc->outs_replayed;
}

/* Adds one scan of database d of the class being scanned to the profile. */
static void prof_db(fast_scratch_t *sc, int d, size_t len, double ns)
{
    size_t k = (size_t)(sc->cur - sc->f->classes) * FAST_NDB + (size_t)d;
    sc->db_ns[k] += ns;
    sc->db_scans[k]++;
    sc->db_bytes[k] += len;
}

/* One report for rule id (a Vectorscan id of the class being scanned). */
static void take_report(fast_scratch_t *sc, unsigned id, unsigned long long to)
{
    const unsigned char *ends = sc->cur->ends;
    if (sc->cur->chain && sc->cur->chain[id]) {
        tg_grow(&sc->cend, &sc->cend_cap, sc->ncend + 1, sizeof *sc->cend);
        sc->cend[sc->ncend++] = (struct idoff){id, (size_t)to};
    }
    if (ends && ends[id] > 1) {
        /* a candidate once the expression ends at ends[id] distinct
         * offsets (reports may repeat an offset or come out of order) */
        unsigned char *k = &sc->nseen[id];
        unsigned long long *seen = &sc->seen[(size_t)id * FAST_MAX_ENDS];
        if (*k >= ends[id])
            return;
        for (unsigned j = 0; j < *k; j++)
            if (seen[j] == to)
                return;
        seen[(*k)++] = to;
        if (*k < ends[id])
            return;
    }
    if (sc->ncand < sc->f->maxclass)
        sc->cand[sc->ncand++] = id;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to,
                    unsigned flags, void *ctx)
{
    (void)from, (void)flags;
    fast_scratch_t *sc = ctx;
    const fclass_t *c = sc->cur;
    int own = 1, fed = c->fed && c->fed[id]; /* feed_rules */
    if (sc->phase != PHASE_NONE) { /* a mapped string: each rule hears one scan */
        int other = sc->phase == PHASE_FFFD;
        own = (c->alike[id] == 0) == other;
        fed = fed && (c->alike[c->fed[id] - 1] == 0) == other;
        if (!own && !fed)
            return 0;
    }
    if (sc->recording) {
        if (sc->nrec < FASTMEMO_MAX_REPS)
            sc->rec[sc->nrec] =
                (fastmemo_rep_t){id | (sc->phase == PHASE_FFFD ? REP_FFFD : 0), (unsigned)to};
        sc->nrec++;
    }
    if (own)
        take_report(sc, id, to);
    if (fed)
        take_report(sc, c->fed[id] - 1, to);
    return 0;
}

static int on_start(unsigned id, unsigned long long from, unsigned long long to,
                    unsigned flags, void *ctx)
{
    (void)from, (void)flags;
    fast_scratch_t *sc = ctx;
    tg_grow(&sc->cstart, &sc->cstart_cap, sc->ncstart + 1, sizeof *sc->cstart);
    sc->cstart[sc->ncstart++] = (struct idoff){id, sc->rev.len - (size_t)to};
    return 0;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v[0..n) and drops repeats; the new count. */
static size_t sort_unique(size_t *v, size_t n)
{
    if (n < 2)
        return n; /* v may be NULL when n is 0 */
    qsort(v, n, sizeof *v, cmp_size);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || v[k - 1] != v[i])
            v[k++] = v[i];
    return k;
}

/* The offsets of id among from[0..n) into *out (grown as need be),
 * sorted, each once; their count. */
static size_t offsets_of(const struct idoff *from, size_t n, unsigned id, size_t **out,
                         size_t *cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (from[i].id == id) {
            tg_grow(out, cap, k + 1, sizeof **out);
            (*out)[k++] = from[i].off;
        }
    return sort_unique(*out, k);
}

/* Rule r (frule_t.chain, Vectorscan id vsid) is (?:G){n}, its database
 * expression (G')+ with G' a superset of G. A match of it starting at p0
 * is offsets p0 < p1 < ... < pn, each but p0 an end of a match of G' and
 * each but pn a start of one. The ends are what the string's scan
 * reported for vsid (sc->cend: the ends of (G')+ are those of G'), the
 * starts sc->starts[0..ns) (sorted, unique; those of (G')+ too). Returns
 * the bound b such that such a chain can start only at p0 < b: with J the
 * offsets that are both and lie before the last end, the k-th greatest of
 * J for k = n - 1; 0 (none) where J has fewer. Uses sc->ends. */
static size_t chain_limit(fast_scratch_t *sc, unsigned vsid, const frule_t *r, size_t ns)
{
    size_t ne = offsets_of(sc->cend, sc->ncend, vsid, &sc->ends, &sc->ends_cap);
    const size_t *e = sc->ends;
    if (!ne)
        return 0;
    size_t need = r->ends - 1u, si = ns;
    /* from the right: each end before the last (e[ne - 1]) that is also a start */
    for (size_t k = ne - 1; k-- > 0;) {
        while (si > 0 && sc->starts[si - 1] > e[k])
            si--;
        if (si > 0 && sc->starts[si - 1] == e[k] && --need == 0)
            return e[k];
    }
    return 0;
}

/* Whether rule r (Vectorscan id vsid of class c, frule_t.starts) matches
 * s: PCRE2 anchored at each start of a match of its database expression,
 * a superset of the rule, so every match of the rule starts at one; with
 * frule_t.chain only at those before chain_limit. */
static unsigned starts_confirm(fast_scratch_t *sc, rx_scratch_t *rx, const fclass_t *c,
                               unsigned vsid, const frule_t *r, const char *s, size_t len)
{
    if (!sc->rev_scanned) { /* the string's first such report */
        tg_buf_reset(&sc->rev);
        tg_buf_add(&sc->rev, s, len);
        for (size_t a = 0, b = len; a + 1 < b; a++, b--) {
            char t = sc->rev.s[a];
            sc->rev.s[a] = sc->rev.s[b - 1];
            sc->rev.s[b - 1] = t;
        }
        sc->ncstart = 0;
        double t0 = sc->prof ? tg_now_ns() : 0;
        sc->rev_scanned = hsscan(c->db[DB_STARTS], sc->rev.s ? sc->rev.s : "", (unsigned)len,
                                 sc->hs, on_start, sc) == HS_SUCCESS ? 1 : -1;
        if (sc->prof)
            prof_db(sc, DB_STARTS, len, tg_now_ns() - t0);
    }
    if (sc->rev_scanned < 0)
        return rx_count(r->re, rx, s, len, 1);
    size_t ns = offsets_of(sc->cstart, sc->ncstart, vsid, &sc->starts, &sc->starts_cap);
    size_t limit = len + 1;
    if (r->chain) {
        limit = chain_limit(sc, vsid, r, ns);
        sc->chain_rejected += sc->prof && ns > 0 && sc->starts[0] >= limit;
    }
    for (size_t k = 0; k < ns && sc->starts[k] < limit; k++)
        if (rx_match_at(r->anch, rx, s, len, sc->starts[k]))
            return 1;
    return 0;
}

/* Rule i's count on the string being matched, bounded by max (0: none),
 * from the outcomes the memo replayed, into *raw; 0 where they do not
 * tell (rule not run then, or counted to a lower bound that it reached).
 * A count is min(all matches, bound): rx_count stops at the bound. */
static int out_replay(const fast_scratch_t *sc, size_t i, unsigned max, unsigned *raw)
{
    for (size_t k = 0; k < sc->nouts; k++) {
        const fastmemo_out_t *o = &sc->outs[k];
        if (o->rule != i)
            continue;
        if (o->max == 0 || o->count < o->max) { /* every match counted */
            *raw = max && o->count > max ? max : o->count;
            return 1;
        }
        if (max && max <= o->max) { /* at least o->max matches */
            *raw = max;
            return 1;
        }
        return 0;
    }
    return 0;
}

/* Whether a lead of walk rule r (frule_t.walk_lead) can run past its line
 * in s (lines in sc->wl): some line that begins with the lead's literal
 * has nothing but the lead's bytes after it. */
static int walk_leads_cross(const fast_scratch_t *sc, const frule_t *r, const char *s)
{
    const walkset_t *ws = sc->cur->walks;
    unsigned char lit[2] = {r->walk_a, r->walk_b};
    for (size_t i = 0; i < sc->nwl; i++)
        for (int j = 0; j < 2; j++) {
            const unsigned char *set = r->walk_lead[j];
            if (!set || !(sc->wl[i].lits & (1u << lit[j])))
                continue;
            size_t k = ws->lit[lit[j]].len, n = sc->wl[i].len;
            if (span_in(set, s + sc->wl[i].off + k, n - k) == n - k)
                return 1;
        }
    return 0;
}

/* Whether line-walk rule r (A W B, hsexpr_line_walk) matches s, a string
 * of the class being scanned. PCRE2 runs, for each line a that begins
 * with lit1, on a text of that line (after a \n unless it is the first)
 * and the lines after it that begin with lit2, up to the first line the
 * walk cannot cross (one over its bound); each line as it is, with its
 * \n; with no such line, a walk of bound 0 still runs on line a alone (B
 * inside A's line). Why that is exact: A lies in a line that begins with
 * lit1 and sees nothing before its \n or past its line, B in one that
 * begins with lit2 (its last atom may take that line's \n) or inside A's
 * line (bound 0); a lead after lit1 or lit2 (hsexpr_walk_t) keeps A or B
 * in its line unless some line that begins with the literal has nothing
 * but the lead's bytes after it, and PCRE2 then runs on the whole string.
 * W crosses whole lines one by one (empty ones or ones of 1 to bound
 * bytes; any line with bound 0). A match in s, A in line a and B in line
 * b, is in line a's text: every line between a and
 * b is one W crossed, so none stops the collecting before b, and W
 * crosses the lines of the text between them as it crossed them in s.
 * A match in a text is one in s: its A lies in a line of s that begins
 * with lit1 and its B in a later one (every line of the text is a line of
 * s, in order, each with what precedes it in s) that W reaches in s,
 * crossing the lines the text left out as it crossed the ones it kept.
 * Against PCRE2 over the whole header block this leaves out the walks to
 * its end and back from each A match: __SUBJ_HAS_TO_2, one A match or two
 * on each Received line, 4.4 -> 2.0 us a message (warm, over the corpus's
 * header blocks). */
static unsigned walk_count(fast_scratch_t *sc, rx_scratch_t *rx, const frule_t *r,
                           const char *s, size_t len)
{
    if (!sc->walk_built) {
        walk_lines(sc, sc->cur->walks, s, len);
        sc->walk_built = 1;
    }
    uint32_t ma = 1u << r->walk_a, mb = 1u << r->walk_b;
    if ((r->walk_lead[0] || r->walk_lead[1]) && walk_leads_cross(sc, r, s))
        return rx_count(r->re, rx, s, len, 1);
    for (size_t a = 0; a < sc->nwl; a++) {
        if (!(sc->wl[a].lits & ma))
            continue;
        tg_buf_reset(&sc->walk);
        if (sc->wl[a].off)
            tg_buf_addc(&sc->walk, '\n');
        walk_add_line(sc, a, s, len);
        size_t nb = 0;
        for (size_t b = a + 1; b < sc->nwl; b++) {
            if (sc->wl[b].lits & mb)
                walk_add_line(sc, b, s, len), nb++;
            if (r->walk_bound && sc->wl[b].len > r->walk_bound)
                break;
        }
        if ((nb || !r->walk_bound) && rx_count(r->re, rx, sc->walk.s, sc->walk.len, 1))
            return 1;
    }
    return 0;
}

/* Whether rule r reads the string being scanned as ASCII text: it is, or
 * it is mapped (fclass_t.fffd_map) and r cannot tell (frule_t.alike). */
static int as_ascii(const fast_scratch_t *sc, const frule_t *r)
{
    return sc->ascii || (sc->mapped && r->alike);
}

/* Applies rule i to one string of class c, as the oracle would; `pcre`
 * forces a PCRE2 run (PCRE path, or a report that needs confirming).
 * vsid: the rule's Vectorscan id when this confirms its report, else -1. */
static void consider(const fast_t *f, fast_scratch_t *sc, rx_scratch_t *rx, int mode,
                     size_t i, const char *s, size_t len, int pcre, long vsid)
{
    if (sc->done[i])
        return;
    const frule_t *r = &f->rules[i];
    int ascii = as_ascii(sc, r);
    unsigned raw;
    if (!pcre && (r->path == FAST_EXACT || (r->ascii == FAST_ASCII_DB && ascii)) &&
        !r->multiple) {
        raw = 1;
    } else {
        unsigned max = r->want;
        if (mode == M_SUM && max)
            max -= sc->cnt[i];
        double t0 = sc->prof ? tg_now_ns() : 0;
        int keep = sc->outs_mode == OUTS_STORE && f->memo_outs;
        if (sc->outs_mode == OUTS_REPLAY && out_replay(sc, i, max, &raw)) {
            sc->outs_replayed++;
        } else {
            unsigned long lim = keep ? rx_scratch_limit_hits(rx) : 0;
            if (r->starts && vsid >= 0 && max == 1) /* starts: DB_STARTS and anch exist */
                raw = starts_confirm(sc, rx, sc->cur, (unsigned)vsid, r, s, len);
            else if (r->lrset && max == 1)
                raw = line_run(r->lrset, r->lrn, s, len);
            else if (r->walk && max == 1)
                raw = walk_count(sc, rx, r, s, len);
            else
                raw = rx_count(r->lit && ascii ? r->lit : r->ahead ? r->ahead : r->re, rx, s, len,
                               max);
            /* an outcome that ran into a PCRE2 limit is not kept: a replay
             * would not count the limit hit (rules_verdict_t) */
            if (keep && sc->nouts < FASTMEMO_MAX_OUTS && rx_scratch_limit_hits(rx) == lim)
                sc->outs[sc->nouts++] = (fastmemo_out_t){(unsigned)i, max, raw};
        }
        if (sc->prof) {
            double dt = tg_now_ns() - t0;
            sc->rule_ns[i] += dt;
            sc->path_ns[r->path == FAST_PCRE ? FAST_PCRE : FAST_PREFILTER] += dt;
            if (r->path != FAST_PCRE)
                sc->rule_conf[i] += raw > 0;
        }
    }
    switch (mode) {
    case M_SUM:
        sc->cnt[i] += raw;
        if (r->want && sc->cnt[i] >= r->want)
            sc->done[i] = 1;
        break;
    case M_ONE:
        sc->cnt[i] = raw;
        sc->done[i] = 1;
        break;
    default:
        if (raw) {
            sc->cnt[i] = 1;
            sc->done[i] = 1;
        }
        break;
    }
}

/* Whether the memo is looked up for string s of class ci (counted in its
 * admission rate: once a string) and, if so, the string's hash, its slot
 * prefetched. */
typedef struct memo_ticket {
    int use;
    uint64_t h;
} memo_ticket_t;

static void memo_ticket(const fast_t *f, const fast_scratch_t *sc, size_t ci, const char *s,
                        size_t len, memo_ticket_t *t)
{
    const fclass_t *c = &f->classes[ci];
    t->use = f->memo && !sc->no_memo && len <= FASTMEMO_MAX_LEN &&
             (c->db[DB_MAIN] || c->db[DB_AUX]) && fastmemo_admit(f->memo, (unsigned)ci);
    t->h = 0;
    if (t->use) {
        t->h = fastmemo_hash((unsigned)ci, s ? s : "", s ? len : 0);
        fastmemo_prefetch(f->memo, t->h);
    }
}

/* One string of class c: one database scan, then the reports and the
 * PCRE-path rules. t: its memo ticket (NULL: made here); next: the next
 * string's, whose memo entry is prefetched once this string is scanned
 * (NULL: none). */
static void scan_str(const fast_t *f, fast_scratch_t *sc, rx_scratch_t *rx, size_t ci,
                     const char *s, size_t len, const memo_ticket_t *t,
                     const memo_ticket_t *next)
{
    const fclass_t *c = &f->classes[ci];
    if (!s)
        s = "", len = 0;
    memo_ticket_t own;
    if (!t) {
        memo_ticket(f, sc, ci, s, len, &own);
        t = &own;
    }
    sc->ncand = 0;
    sc->ncend = 0;
    sc->rev_scanned = 0;
    sc->walk_built = 0;
    sc->cur = c;
    for (size_t k = 0; k < c->nmulti; k++)
        sc->nseen[c->multi[k]] = 0;
    int ascii = (c->db[DB_MAIN_ASCII] || c->db[DB_AUX_ASCII] || c->ascii_pcre) &&
                tg_is_ascii(s, len);
    sc->ascii = ascii;
    /* a string whose bytes >= 0x80 are all U+FFFD's: fclass_t.fffd_map */
    int mapped = !ascii && c->fffd_map && !f->no_fffd && fffd_string(s, len);
    sc->mapped = mapped;
    /* the memo: the reports of an earlier scan of the same string, replayed
     * (the rest below runs as after a scan) */
    int memo = t->use;
    uint64_t h = t->h;
    if (memo) {
        double t0 = sc->prof ? tg_now_ns() : 0;
        int n = fastmemo_get(f->memo, h, (unsigned)ci, s, len, sc->rec, sc->outs, &sc->nouts);
        if (n >= 0) {
            sc->outs_mode = OUTS_REPLAY;
            for (int k = 0; k < n; k++) {
                unsigned id = sc->rec[k].id;
                sc->phase = !mapped ? PHASE_NONE : id & REP_FFFD ? PHASE_FFFD : PHASE_MAPPED;
                on_match(id & ~REP_FFFD, 0, sc->rec[k].to, 0, sc);
            }
            sc->phase = PHASE_NONE;
            sc->memo_hits++;
            sc->memo_hit_bytes += len;
            if (sc->prof)
                sc->class_scan_ns[ci] += tg_now_ns() - t0;
            goto reports;
        }
        sc->memo_misses++;
        sc->memo_miss_bytes += len;
        sc->nrec = 0;
        sc->recording = 1;
    }
    /* the databases: ASCII text takes the ASCII forms, a mapped string
     * them over its mapped text, then the DB_*_FFFD ones over itself */
    int dbs[4], ndb = 0;
    for (int d = DB_MAIN; d <= DB_AUX; d++)
        dbs[ndb++] = (ascii || mapped) && c->db[d + 2] ? d + 2 : d;
    if (mapped) {
        dbs[ndb++] = DB_MAIN_FFFD;
        dbs[ndb++] = DB_AUX_FFFD;
        tg_buf_reset(&sc->map);
        tg_buf_add(&sc->map, s, len);
        for (size_t k = 0; k < len; k++)
            if ((unsigned char)sc->map.s[k] >= 0x80)
                sc->map.s[k] = FFFD_X;
    }
    for (int j = 0; j < ndb; j++) {
        int dd = dbs[j];
        hs_database_t *db = c->db[dd];
        if (!db)
            continue;
        sc->phase = !mapped ? PHASE_NONE : dd >= DB_MAIN_FFFD ? PHASE_FFFD : PHASE_MAPPED;
        const char *text = sc->phase == PHASE_MAPPED ? sc->map.s : s;
        double t0 = sc->prof ? tg_now_ns() : 0;
        hs_error_t rc = hsscan(db, text, (unsigned)len, sc->hs, on_match, sc);
        sc->phase = PHASE_NONE;
        if (sc->prof) {
            double dt = tg_now_ns() - t0;
            sc->class_scan_ns[ci] += dt;
            prof_db(sc, dd, len, dt);
        }
        if (rc != HS_SUCCESS || len > 0xffffffffu) {
            /* cannot trust the reports: run every rule with PCRE2 */
            sc->recording = 0;
            for (size_t k = 0; k < c->n; k++)
                consider(f, sc, rx, c->mode, c->ids[k], s, len, 1, -1);
            return;
        }
    }
    if (memo) {
        sc->recording = 0;
        sc->nouts = 0;
        sc->outs_mode = OUTS_STORE;
    }
reports:
    if (next && next->use)
        fastmemo_prefetch_entry(f->memo, next->h);
    for (size_t k = 0; k < sc->ncand; k++) {
        size_t i = c->ids[sc->cand[k]];
        if (sc->prof)
            sc->rule_cand[i]++;
        consider(f, sc, rx, c->mode, i, s, len, 0, (long)sc->cand[k]);
    }
    for (size_t k = 0; k < c->npcre; k++) {
        const frule_t *r = &f->rules[c->pcre[k]];
        if (!(as_ascii(sc, r) ? r->ascii : r->full)) /* else answered by the scan */
            consider(f, sc, rx, c->mode, c->pcre[k], s, len, 1, -1);
    }
    /* stored once the string's PCRE2 outcomes are known (a replay that
     * found no stored outcome for a rule runs PCRE2 and stores nothing) */
    if (sc->outs_mode == OUTS_STORE)
        fastmemo_put(f->memo, h, (unsigned)ci, s, len, sc->rec, sc->nrec, sc->outs, sc->nouts);
    sc->outs_mode = OUTS_NONE;
}

/* A header (or a MIME part's header) that is absent: every rule sees its
 * [if-unset:] value or "", whose result was computed at build time. */
static void absent_str(const fast_t *f, fast_scratch_t *sc, const fclass_t *c)
{
    for (size_t k = 0; k < c->n; k++) {
        size_t i = c->ids[k];
        if (sc->done[i])
            continue;
        if (c->mode == M_ONE) {
            sc->cnt[i] = f->absent[i];
            sc->done[i] = 1;
        } else if (f->absent[i]) {
            sc->cnt[i] = 1;
            sc->done[i] = 1;
        }
    }
}

/* The rules of class c in its DB_SQUASH (frule_t.squash) over strings
 * a[0..n), the message's strings of the class: one scan of their squashed
 * text, joined (a match across two strings is only a false report), then
 * PCRE2 over each string for the rules it reports. */
static void squash_strs(const fast_t *f, fast_scratch_t *sc, rx_scratch_t *rx, size_t ci,
                        const msg_str_t *a, size_t n)
{
    const fclass_t *c = &f->classes[ci];
    tg_buf_reset(&sc->sq);
    for (size_t j = 0; j < n; j++)
        squash_into(&sc->sq, a[j].ptr, a[j].len);
    sc->ncand = 0;
    sc->cur = c;
    double t0 = sc->prof ? tg_now_ns() : 0;
    hs_error_t rc = hsscan(c->db[DB_SQUASH], sc->sq.s ? sc->sq.s : "", (unsigned)sc->sq.len,
                           sc->hs, on_match, sc);
    if (sc->prof) {
        double dt = tg_now_ns() - t0;
        sc->class_scan_ns[ci] += dt;
        prof_db(sc, DB_SQUASH, sc->sq.len, dt);
    }
    if (rc != HS_SUCCESS || sc->sq.len > 0xffffffffu) { /* every such rule, on PCRE2 */
        sc->ncand = 0;
        for (size_t k = 0; k < c->n; k++)
            if (f->rules[c->ids[k]].squash)
                sc->cand[sc->ncand++] = (unsigned)k;
    }
    for (size_t k = 0; k < sc->ncand; k++) {
        size_t i = c->ids[sc->cand[k]];
        if (sc->prof)
            sc->rule_cand[i]++;
        for (size_t j = 0; j < n && !sc->done[i]; j++)
            consider(f, sc, rx, c->mode, i, a[j].ptr, a[j].len, 1, -1);
    }
}

static void run_class(const fast_t *f, fast_scratch_t *sc, rx_scratch_t *rx, size_t ci,
                      const msg_t *m, const rules_env_t *env)
{
    const fclass_t *c = &f->classes[ci];
    size_t n;
    const msg_str_t *a;
    switch (c->kind) {
    case K_BODY: case K_RAWBODY: case K_URI:
        a = c->kind == K_BODY ? msg_body_lines(m, &n)
          : c->kind == K_RAWBODY ? msg_rawbody_chunks(m, &n) : msg_uris(m, &n);
        /* string j + 1's memo slot and entry are fetched while string j
         * is scanned */
        memo_ticket_t tk[2];
        if (n)
            memo_ticket(f, sc, ci, a[0].ptr, a[0].len, &tk[0]);
        for (size_t j = 0; j < n; j++) {
            memo_ticket_t *next = NULL;
            if (j + 1 < n) {
                next = &tk[(j + 1) & 1];
                memo_ticket(f, sc, ci, a[j + 1].ptr, a[j + 1].len, next);
            }
            scan_str(f, sc, rx, ci, a[j].ptr, a[j].len, &tk[j & 1], next);
        }
        if (c->db[DB_SQUASH] && n)
            squash_strs(f, sc, rx, ci, a, n);
        break;
    case K_FULL: {
        msg_str_t s = msg_full(m);
        scan_str(f, sc, rx, ci, s.ptr, s.len, NULL, NULL);
        break;
    }
    case K_HEADER:
        tg_buf_reset(&sc->tmp);
        if (msg_get_hkey(m, &c->hkey, (msg_hmode_t)c->hmode, &sc->tmp))
            scan_str(f, sc, rx, ci, sc->tmp.s, sc->tmp.len, NULL, NULL);
        else
            absent_str(f, sc, c);
        break;
    case K_MIMEHEADER:
        n = msg_nnodes(m);
        for (size_t j = 0; j < n; j++) {
            tg_buf_reset(&sc->tmp);
            if (msg_node_header(m, j, c->header, (msg_hmode_t)c->hmode, &sc->tmp))
                scan_str(f, sc, rx, ci, sc->tmp.s, sc->tmp.len, NULL, NULL);
            else
                absent_str(f, sc, c);
        }
        break;
    case K_HOST: case K_HELO: case K_ENVFROM: case K_AUTH: {
        const char *s = c->kind == K_HOST ? env->client_name
                      : c->kind == K_HELO ? env->helo
                      : c->kind == K_ENVFROM ? env->mail_from : env->auth;
        scan_str(f, sc, rx, ci, s, s ? strlen(s) : 0, NULL, NULL);
        break;
    }
    case K_RCPT:
        for (size_t j = 0; j < env->nrcpts; j++)
            scan_str(f, sc, rx, ci, env->rcpts[j], strlen(env->rcpts[j]), NULL, NULL);
        break;
    case K_ATTNAME: case K_ATTTYPE:
        n = msg_nparts(m);
        for (size_t j = 0; j < n; j++) {
            const msg_part_t *p = msg_part_at(m, j);
            msg_str_t s = c->kind == K_ATTNAME ? p->filename : p->type;
            if (c->kind == K_ATTNAME && s.len == 0)
                continue;
            scan_str(f, sc, rx, ci, s.ptr, s.len, NULL, NULL);
        }
        break;
    }
}

void fast_match(const fast_t *f, fast_scratch_t *sc, rx_scratch_t *rx,
                const msg_t *m, const rules_env_t *env, double *values)
{
    static const rules_env_t noenv;
    if (!env)
        env = &noenv;
    memset(sc->cnt, 0, f->nrules * sizeof *sc->cnt);
    memset(sc->done, 0, f->nrules);
    for (size_t ci = 0; ci < f->nclasses; ci++) {
        double t0 = sc->prof ? tg_now_ns() : 0;
        run_class(f, sc, rx, ci, m, env);
        if (sc->prof)
            sc->class_ns[ci] += tg_now_ns() - t0;
    }
    /* the values, with !~ where the oracle applies it, in one pass in
     * slot order once the scans are done (written after each class, every
     * values cache line was fetched again after each scan) */
    for (size_t i = 0; i < f->nrules; i++) {
        unsigned v = sc->cnt[i];
        if (f->out[i] & OUT_NEGATE)
            v = v ? 0 : 1;
        else if (f->out[i] & OUT_ANY)
            v = v ? 1 : 0;
        values[f->slot[i]] = v;
    }
    if (sc->prof) {
        double scans = 0;
        for (size_t ci = 0; ci < f->nclasses; ci++)
            scans += sc->class_scan_ns[ci];
        sc->path_ns[FAST_EXACT] = scans;
    }
}

int fast_scratch_fits(const fast_scratch_t *sc, const fast_t *f)
{
    return sc && sc->gen == f->gen;
}
