/*
 * tollgate-stats — the reports over the counters in Redis (stats/README.md).
 *
 *   tollgate-stats report --month YYYY-MM [--tenant NAME | --by-tenant]
 *                         [--format text|csv|json|html] [-o FILE]
 *   tollgate-stats today [--day YYYY-MM-DD] [--tenant NAME] [--format ...]
 *   tollgate-stats top-rules --month YYYY-MM [--tenant NAME] [-n 20] [--by hits|delivered]
 *
 * Redis comes from --redis URL, else RedisURL in the config file (-c FILE,
 * default SYSCONFDIR/tollgate.conf); the time zone of day and month buckets
 * from --timezone, else TimeZone in that file, else UTC. Exit status: 0,
 * 1 for an error (Redis unreachable, no data, unknown tenant, unreadable
 * config), 2 for a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "rconn.h"
#include "report.h"
#include "util.h"

#ifndef TG_SYSCONFDIR
#define TG_SYSCONFDIR "/etc/tollgate"
#endif
#ifndef TG_VERSION
#define TG_VERSION "dev"
#endif

#define REDIS_TIMEOUT_MS 5000

static void usage(FILE *f)
{
    fprintf(f,
        "usage: tollgate-stats COMMAND [options]\n"
        "\n"
        "commands:\n"
        "  report --month YYYY-MM   the monthly report: incoming, outgoing and internal\n"
        "                           messages, recipients and bytes; the verdict funnel;\n"
        "                           change on the previous month and the same month a\n"
        "                           year before; 12-month averages; per-day table; peak\n"
        "                           day and hour; top rules; completeness\n"
        "  today [--day YYYY-MM-DD] the day so far (default: today in the time zone),\n"
        "                           per direction and verdict, and its UTC hours\n"
        "  top-rules --month YYYY-MM  hits per rule and hits on delivered mail\n"
        "  forget-sender NAME       drop a retired sender (host:instance-id, as the\n"
        "                           report's completeness line names it) from the\n"
        "                           watermarks; its counts stay\n"
        "\n"
        "options:\n"
        "  --redis URL        redis://HOST:PORT[/DB] (default: RedisURL in the config)\n"
        "  -c, --config FILE  config file (default " TG_SYSCONFDIR "/tollgate.conf); only\n"
        "                     RedisURL and TimeZone are read from it\n"
        "  --timezone ZONE    time zone of day and month buckets, as the daemon's\n"
        "                     TimeZone (default: the config's, else UTC)\n"
        "  --tenant NAME      one tenant's counters (default: all tenants, _all)\n"
        "  --by-tenant        report: add a table of every tenant\n"
        "  --format FMT       text (default), csv, json or html\n"
        "  -o, --output FILE  write to FILE instead of standard output\n"
        "  -n N               top-rules: rules listed (default 20; report lists 10)\n"
        "  --by hits|delivered  top-rules: sort by hits (default) or by hits on\n"
        "                     delivered mail (rules that fire on mail users still get)\n"
        "  -h, --help         this text\n"
        "\n"
        "CSV (report): a header row, then one row per day of the month (first column\n"
        "the date YYYY-MM-DD), a blank line, and the month total row (first column\n"
        "YYYY-MM); with --by-tenant another blank line and one row per tenant (first\n"
        "column tenant:NAME). Columns per direction in, out, int: msgs, rcpts, bytes,\n"
        "v_clean, v_tagged, v_spam, v_security, v_policy, v_tempfail, a_accept,\n"
        "a_reject, a_discard, a_quarantine, a_tempfail. Lines end in CRLF (RFC 4180).\n"
        "today --format csv: the same columns per UTC hour, a blank line, the day.\n"
        "top-rules --format csv: rule,hits,delivered.\n"
        "\n"
        "Hour buckets are UTC hours; day and month buckets are local to the zone.\n"
        "Exit status: 0 done, 1 error (Redis, no data, unknown tenant), 2 usage.\n");
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "tollgate-stats: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(tollgate-stats --help for usage)\n");
    return 2;
}

static int die(const char *msg)
{
    fprintf(stderr, "tollgate-stats: %s\n", msg);
    return 1;
}

/* "2026-11" -> 2026, 11. 0 / -1. */
static int parse_month(const char *s, int *y, int *m)
{
    char tail;
    if (strlen(s) != 7 || s[4] != '-' || sscanf(s, "%4d-%2d%c", y, m, &tail) != 2)
        return -1;
    return (*y >= 1970 && *y <= 9999 && *m >= 1 && *m <= 12) ? 0 : -1;
}

static int parse_day(const char *s, int *y, int *m, int *d)
{
    char tail;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
        sscanf(s, "%4d-%2d-%2d%c", y, m, d, &tail) != 3)
        return -1;
    if (*y < 1970 || *y > 9999 || *m < 1 || *m > 12 || *d < 1)
        return -1;
    struct tm tm = {0};
    tm.tm_year = *y - 1900;
    tm.tm_mon = *m - 1;
    tm.tm_mday = *d;
    tm.tm_hour = 12;
    time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    return tm.tm_mday == *d ? 0 : -1;
}

/* Reads RedisURL and TimeZone from a tollgate.conf ("Key value" lines,
 * keys case-insensitive, '#' comments); the last occurrence wins. Either
 * output may stay NULL. 0, or -1 with err if the file cannot be read. */
static int read_config(const char *path, char **url, char **zone, char *err, size_t errlen)
{
    char *text;
    if (tg_read_file(path, &text, NULL, err, errlen) < 0)
        return -1;
    char *next;
    for (char *line = text; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *k = line + strspn(line, " \t\r");
        char *v = k + strcspn(k, " \t\r");
        if (*v)
            *v++ = '\0';
        v += strspn(v, " \t\r");
        size_t n = strlen(v);
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
            v[--n] = '\0';
        if (!tg_strcasecmp(k, "RedisURL")) {
            free(*url);
            *url = tg_strdup(v);
        } else if (!tg_strcasecmp(k, "TimeZone") && *v) {
            free(*zone);
            *zone = tg_strdup(v);
        }
    }
    free(text);
    return 0;
}

static int write_out(const char *path, const tg_buf *b)
{
    FILE *f = path ? fopen(path, "w") : stdout;
    if (!f) {
        fprintf(stderr, "tollgate-stats: %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t n = b->len ? fwrite(b->s, 1, b->len, f) : 0;
    int bad = n != b->len;
    if (path)
        bad |= fclose(f) != 0;
    else
        bad |= fflush(f) != 0;
    if (bad) {
        fprintf(stderr, "tollgate-stats: writing %s: %s\n", path ? path : "output",
                strerror(errno));
        return 1;
    }
    return 0;
}

/* Drops sender from the watermark hashes (its counters stay): 0, or 1 if
 * Redis failed or does not know it. */
static int forget_sender(redisContext *rc, const char *sender)
{
    static const char *const hashes[] = {KEYS_PREFIX "wm", KEYS_PREFIX "seq",
                                         KEYS_PREFIX "senders"};
    long long n = 0;
    for (size_t i = 0; i < 3; i++) {
        redisReply *r = redisCommand(rc, "HDEL %s %s", hashes[i], sender);
        if (!r || r->type != REDIS_REPLY_INTEGER) {
            fprintf(stderr, "tollgate-stats: HDEL %s: %s\n", hashes[i],
                    r && r->type == REDIS_REPLY_ERROR ? r->str : rc->errstr);
            freeReplyObject(r);
            redisFree(rc);
            return 1;
        }
        n += r->integer;
        freeReplyObject(r);
    }
    redisFree(rc);
    if (n == 0) {
        fprintf(stderr, "tollgate-stats: no sender '%s' in Redis\n", sender);
        return 1;
    }
    printf("forgot sender %s (its counts stay; it reappears if it sends again)\n", sender);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr), 2;
    enum { O_REDIS = 1000, O_TZ, O_TENANT, O_BYT, O_FORMAT, O_MONTH, O_DAY, O_BY, O_VERSION };
    static const struct option opts[] = {
        {"redis", required_argument, NULL, O_REDIS},
        {"config", required_argument, NULL, 'c'},
        {"timezone", required_argument, NULL, O_TZ},
        {"tenant", required_argument, NULL, O_TENANT},
        {"by-tenant", no_argument, NULL, O_BYT},
        {"format", required_argument, NULL, O_FORMAT},
        {"output", required_argument, NULL, 'o'},
        {"month", required_argument, NULL, O_MONTH},
        {"day", required_argument, NULL, O_DAY},
        {"by", required_argument, NULL, O_BY},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    const char *url_opt = NULL, *conf = NULL, *zone_opt = NULL, *tenant = KEYS_ALL;
    const char *month = NULL, *day = NULL, *outpath = NULL;
    int by_tenant = 0, format = REPORT_TEXT, sort_delivered = 0;
    long top = -1;
    int c;
    /* options before or after the command, as in "tollgate-stats --redis
     * URL report --month M" (GNU getopt moves the command to the end) */
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:n:h", opts, NULL)) != -1) {
        switch (c) {
        case O_REDIS: url_opt = optarg; break;
        case 'c': conf = optarg; break;
        case O_TZ: zone_opt = optarg; break;
        case O_TENANT: tenant = optarg; break;
        case O_BYT: by_tenant = 1; break;
        case 'o': outpath = optarg; break;
        case O_MONTH: month = optarg; break;
        case O_DAY: day = optarg; break;
        case O_FORMAT:
            if (!strcmp(optarg, "text"))
                format = REPORT_TEXT;
            else if (!strcmp(optarg, "csv"))
                format = REPORT_CSV;
            else if (!strcmp(optarg, "json"))
                format = REPORT_JSON;
            else if (!strcmp(optarg, "html"))
                format = REPORT_HTML;
            else
                return usage_error("unknown format '%s' (text, csv, json or html)", optarg);
            break;
        case 'n': {
            char *e;
            top = strtol(optarg, &e, 10);
            if (*e || top < 1 || top > 100000)
                return usage_error("-n takes a number of rules, not '%s'", optarg);
            break;
        }
        case O_BY:
            if (!strcmp(optarg, "delivered"))
                sort_delivered = 1;
            else if (strcmp(optarg, "hits") != 0)
                return usage_error("--by takes hits or delivered, not '%s'", optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        case O_VERSION:
            printf("tollgate-stats %s\n", TG_VERSION);
            return 0;
        default:
            return usage_error("%s", "bad option");
        }
    }
    if (optind >= argc)
        return usage_error("%s", "a command is needed: report, today or top-rules");
    const char *cmd = argv[optind++];
    int kind = 0;
    const char *forget = NULL;
    if (!strcmp(cmd, "forget-sender")) {
        if (optind >= argc || !*argv[optind])
            return usage_error("%s", "forget-sender needs the sender's name");
        forget = argv[optind++];
    } else if (!strcmp(cmd, "report"))
        kind = REPORT_MONTH;
    else if (!strcmp(cmd, "today"))
        kind = REPORT_DAY;
    else if (!strcmp(cmd, "top-rules"))
        kind = REPORT_RULES;
    else
        return usage_error("unknown command '%s'", cmd);
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (forget && (month || day || by_tenant || outpath))
        return usage_error("%s", "forget-sender takes only --redis, -c and the name");
    if (!forget && kind != REPORT_DAY && !month)
        return usage_error("%s needs --month YYYY-MM", cmd);
    if (kind == REPORT_DAY && month)
        return usage_error("%s", "today takes --day YYYY-MM-DD, not --month");
    if (kind != REPORT_DAY && day)
        return usage_error("%s takes --month, not --day", cmd);
    if (by_tenant && (kind != REPORT_MONTH || strcmp(tenant, KEYS_ALL) != 0))
        return usage_error("%s", "--by-tenant goes with report and without --tenant");
    if (!*tenant)
        return usage_error("%s", "--tenant needs a name");
    int y = 0, m = 0, d = 0;
    if (month && parse_month(month, &y, &m) < 0)
        return usage_error("--month takes YYYY-MM, not '%s'", month);
    if (day && parse_day(day, &y, &m, &d) < 0)
        return usage_error("--day takes YYYY-MM-DD, not '%s'", day);

    /* configuration: options first, then the file */
    char *url = url_opt ? tg_strdup(url_opt) : NULL, *zone = NULL;
    char cerr[512] = "";
    const char *cpath = conf ? conf : TG_SYSCONFDIR "/tollgate.conf";
    int have_conf = 0;
    if (conf || !url || !zone_opt) {
        char *curl = NULL;
        if (read_config(cpath, &curl, &zone, cerr, sizeof cerr) == 0) {
            have_conf = 1;
            if (!url)
                url = curl;
            else
                free(curl);
        } else if (conf) {
            return die(cerr);
        }
    }
    if (!url || !*url) {
        char msg[1024];
        if (have_conf)
            snprintf(msg, sizeof msg, "no Redis to read: RedisURL is not set in %s (or give "
                                      "--redis redis://HOST:PORT/DB)", cpath);
        else
            snprintf(msg, sizeof msg, "no Redis to read: give --redis redis://HOST:PORT/DB "
                                      "(%s)", cerr);
        free(url);
        free(zone);
        return die(msg);
    }
    if (zone_opt) {
        free(zone);
        zone = tg_strdup(zone_opt);
    }
    if (!zone)
        zone = tg_strdup("UTC");
    if (keys_set_timezone(zone) < 0) {
        fprintf(stderr, "tollgate-stats: unknown time zone '%s' (see /usr/share/zoneinfo)\n",
                zone);
        free(url);
        free(zone);
        return zone_opt ? 2 : 1;
    }
    if (kind == REPORT_DAY && !day) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        y = tm.tm_year + 1900;
        m = tm.tm_mon + 1;
        d = tm.tm_mday;
    }

    char err[1024];
    redisContext *rc = rconn_connect(url, REDIS_TIMEOUT_MS, err, sizeof err);
    free(url);
    if (!rc) {
        free(zone);
        return die(err);
    }
    if (forget) {
        free(zone);
        return forget_sender(rc, forget);
    }
    report_t *r = report_new(kind, y, m, d, tenant);
    report_set_zone(r, zone);
    free(zone);
    report_set_by_tenant(r, by_tenant);
    report_set_sort_delivered(r, sort_delivered);
    if (top > 0)
        report_set_top(r, (size_t)top);
    else if (kind != REPORT_MONTH)
        report_set_top(r, 20);
    int rcode = report_fetch(r, rc, err, sizeof err);
    redisFree(rc);
    if (rcode < 0) {
        report_free(r);
        return die(err);
    }
    tg_buf out;
    tg_buf_init(&out);
    report_render(r, format, &out);
    report_free(r);
    int ret = write_out(outpath, &out);
    tg_buf_free(&out);
    return ret;
}
