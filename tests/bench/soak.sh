#!/bin/sh
# Soak: SOAK_N messages (default 1,000,000, about 5 minutes here; fewer
# with e.g. SOAK_N=200000) through tollgate with the shipped rules and counters going
# to a local Redis, in ten rounds; prints the daemon's RSS after each round.
# Flat RSS = no leak. Bounded by count; figures, never pass/fail.
set -u
BUILD=${BUILD:-build}
CORPUS=${TG_CORPUS:-../shared/corpus}
N=${SOAK_N:-1000000}
TMP=$(mktemp -d /tmp/tollgate-soak.XXXXXX)
RPORT=$((35000 + $$ % 1000))
DPID= RPID=
trap 'kill -TERM $DPID $RPID 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
redis-server --bind 127.0.0.1 --port $RPORT --save '' --appendonly no --daemonize no --logfile /dev/null &
RPID=$!
printf 'Rules %s/deploy/rules\nSPF no\nRulesCacheDir %s/cache\nRedisURL redis://127.0.0.1:%s\nStatsSpoolDir %s/spool\nLocalDomains example.org\nTenant acme example.org\nLogHits no\n' \
    "$(pwd)" "$TMP" $RPORT "$TMP" > "$TMP/t.conf"
"$BUILD/tollgate" -f -c "$TMP/t.conf" -p "unix:$TMP/s.sock" > /dev/null 2>&1 &
DPID=$!
sleep 1
rss() { awk '/VmRSS/ {print $2}' "/proc/$DPID/status"; }
echo "soak: $N messages in 10 rounds, c=8, unix socket; daemon RSS in kB"
printf '%6s %10s %10s %10s\n' round messages msgs/s rss_kB
printf '%6s %10s %10s %10s\n' 0 0 - "$(rss)"
per=$((N / 10)); done_n=0
for r in 1 2 3 4 5 6 7 8 9 10; do
    "$BUILD/milterload" -s "unix:$TMP/s.sock" -c 8 -n $per --rcpt u@example.org --json "$CORPUS/ham" > "$TMP/out.json" 2>&1
    done_n=$((done_n + per))
    printf '%6s %10s %10s %10s\n' $r $done_n "$(sed -n 's/.*"msgs_per_s":\([0-9.]*\).*/\1/p' "$TMP/out.json")" "$(rss)"
done
sleep 2
stored=$(redis-cli -p $RPORT hget "tg:v1:c:_all:m:$(date +%Y%m)" in:msgs)
echo "counted in Redis: ${stored:-0} of $done_n"
