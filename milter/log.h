/*
 * log — syslog for the daemon, mirrored to stderr in the foreground.
 * Safe from any thread; never blocks on anything but syslog(3) itself.
 */
#ifndef TG_LOG_H
#define TG_LOG_H

#include <syslog.h>

/* Opens syslog with `facility`; `to_stderr` also prints every line. */
void tglog_open(int facility, int to_stderr);
void tglog(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
