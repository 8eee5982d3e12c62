#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static int tglog_stderr;
static int tglog_syslog = 1;
static int tglog_journal;  /* stderr is a journal stream: "<N>" prefixes */

/* Whether stderr is the journal stream systemd handed over: JOURNAL_STREAM
 * ("device:inode") names it, and is inherited by everything a service
 * starts, so it must match stderr itself (systemd.exec(5)). */
static int stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
           (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void tglog_open(int facility, int to_stderr)
{
    tglog_stderr = to_stderr;
    /* Under systemd, stderr already goes to the journal: a syslog copy
     * would show every line twice. */
    if (to_stderr && stderr_is_journal()) {
        tglog_syslog = 0;
        /* journald reads a leading "<N>" as the line's priority (the unit's
         * SyslogFacility= gives the facility) and stamps the time itself */
        tglog_journal = 1;
    }
    /* With no syslog socket (a container, a test), glibc tries to connect
     * again on every line: a socket, a failing connect and a close per
     * message. Lines go to stderr anyway, so syslog is left out. */
    if (to_stderr && access(_PATH_LOG, W_OK) != 0)
        tglog_syslog = 0;
    openlog("tollgate", LOG_PID | LOG_NDELAY, facility);
}

void tglog(int prio, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (tglog_stderr) {
        char line[4096];
        vsnprintf(line, sizeof line, fmt, ap);
        static const char *const names[] = {"emerg", "alert", "crit", "error",
                                            "warning", "notice", "info", "debug"};
        if (tglog_journal) {
            fprintf(stderr, "<%d>%s\n", prio & 7, line);
            va_end(ap);
            return;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        fprintf(stderr, "%02d:%02d:%02d.%03ld tollgate[%s]: %s\n", tm.tm_hour, tm.tm_min,
                tm.tm_sec, ts.tv_nsec / 1000000, names[prio & 7], line);
        if (tglog_syslog)
            syslog(prio, "%s", line);
    } else {
        vsyslog(prio, fmt, ap);
    }
    va_end(ap);
}
