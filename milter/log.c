#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int tglog_stderr;

void tglog_open(int facility, int to_stderr)
{
    tglog_stderr = to_stderr;
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
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        fprintf(stderr, "%02d:%02d:%02d.%03ld tollgate[%s]: %s\n", tm.tm_hour, tm.tm_min,
                tm.tm_sec, ts.tv_nsec / 1000000, names[prio & 7], line);
        syslog(prio, "%s", line);
    } else {
        vsyslog(prio, fmt, ap);
    }
    va_end(ap);
}
