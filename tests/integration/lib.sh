# Helpers for shell integration tests: `ok NAME`, `fail NAME WHY`, `check
# NAME CMD...`, `finish` which prints "NAME: N passed, N failed" and exits
# non-zero on any failure, and daemon_start/daemon_stop. Source it; set T to
# the test's name.
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "  ok   $1"; }
fail() { FAIL=$((FAIL + 1)); echo "  FAIL $1: $2"; }
check() {
    name=$1; shift
    if "$@"; then ok "$name"; else fail "$name" "command failed: $*"; fi
}
finish() {
    echo "$T: $PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}
BUILD=${TG_BUILD:-build}
# daemon_start CONF LOG: starts $BUILD/tollgate -f -c CONF, output to LOG,
# sets DPID; 0 once it listens, 1 if it does not within 5 s.
daemon_start() {
    "$BUILD/tollgate" -f -c "$1" > "$2" 2>&1 &
    DPID=$!
    for i in $(seq 1 50); do
        grep -q "listening on" "$2" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# daemon_wait: waits for $DPID to exit after a SIGTERM, SIGKILL after 40 s;
# returns its exit status. 40 s is the daemon's own bound when a message
# hangs: up to 30 s for the messages in progress, libmilter's 5 s stop
# check, then the sessions' aborts.
daemon_wait() {
    for i in $(seq 1 400); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DPID" 2>/dev/null
    wait "$DPID"
}
# daemon_stop: SIGTERM to $DPID, then daemon_wait.
daemon_stop() {
    kill -TERM "$DPID" 2>/dev/null
    daemon_wait
}
# free_port [BASE]: a loopback TCP port no socket uses now, from BASE (by
# default 20000 + pid % 20000) upwards. Keep BASE under 32768 where the
# port must stay free for a while: above it the kernel hands ports out as
# the source ports of outgoing connections.
free_port() {
    p=${1:-$((20000 + $$ % 20000))}
    while ss -Htan "sport = :$p" 2>/dev/null | grep -q .; do p=$((p + 1)); done
    echo $p
}
CORPUS=${TG_CORPUS:-../shared/corpus}
# Compiled databases are kept between runs (a cold compile of the
# SpamAssassin rules takes minutes); the key covers rules and library. One
# cache per build, filled by the differential suite's cold compile and read
# by the rules CLI suite after it: routing times the compiles the fastcost
# table lacks, and before the table a cache written by the ASan build (2-3x
# slower compiles) served to the normal one built slower databases
# (rules_bench 7.0x against 7.9x).
HSCACHE=${TG_HSCACHE:-$BUILD/hscache}
TMP=$(mktemp -d /tmp/tollgate-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM
