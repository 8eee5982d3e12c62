#!/bin/sh
# `make run` as an admin meets it: deploy/run.sh with the shipped config and
# rules starts redis-server and the daemon, mail goes through, and the
# Ctrl-C a terminal sends to the whole foreground process group stops both
# in order: the daemon stores its last counters in Redis before Redis goes.
set -u
T=make_run
. "$(dirname "$0")/lib.sh"
# free ports below the ephemeral range (32768-60999): 33000+ lay in it, and
# the daemon's start failed once under make asan, its log cut to the leak
# report of its exit; a source port holding the milter port is one way
RPORT=$(free_port $((24000 + $$ % 1000)))
MPORT=$(free_port $((25000 + $$ % 1000)))
RUNDIR="$TMP/run"
SPID=
trap 'kill -KILL -$SPID 2>/dev/null; redis-cli -p $RPORT shutdown nosave >/dev/null 2>&1; rm -rf "$TMP"' EXIT INT TERM

# its own session and process group, as a terminal's foreground job has
MILTER_PORT=$MPORT REDIS_PORT=$RPORT TG_RUN_DIR="$RUNDIR" \
    setsid sh deploy/run.sh "$BUILD" > "$TMP/run.log" 2>&1 &
SPID=$!
up=0
for i in $(seq 1 300); do # the shipped rules compile in well under 30 s
    grep -q "listening on" "$TMP/run.log" 2>/dev/null && { up=1; break; }
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
done
[ $up = 1 ] && ok "deploy/run.sh: redis and the daemon up on 127.0.0.1" \
    || { fail start "$(grep -v '^ *#[0-9]' "$TMP/run.log" | tail -8)"; finish; exit 1; }
check "redis-server answers on 127.0.0.1:$RPORT" sh -c "redis-cli -p $RPORT ping | grep -q PONG"

# authenticated submissions: outbound, no SPF lookup (no DNS here)
mkdir -p "$TMP/corpus"
ls "$CORPUS/ham" | head -20 | while read -r f; do cp "$CORPUS/ham/$f" "$TMP/corpus/"; done
if "$BUILD/milterload" -s "inet:$MPORT@127.0.0.1" -c 2 -n 20 --auth alice --timeout 20 \
        "$TMP/corpus" > "$TMP/load.out" 2>&1; then
    ok "20 messages answered"
else
    fail load "$(tail -3 "$TMP/load.out")"
fi

# Ctrl-C: SIGINT to every process of the group
kill -INT -"$SPID"
for i in $(seq 1 400); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SPID" 2>/dev/null && fail "stops" "still running 40 s after SIGINT" \
    || ok "SIGINT to the process group stops deploy/run.sh"
grep -q "stopping .*out: msgs=20 " "$TMP/run.log" && ok "the daemon stopped with 20 outbound messages counted" \
    || fail "stop line" "$(grep stopping "$TMP/run.log")"
grep -q "counters not stored" "$TMP/run.log" && fail "counters" "$(grep 'counters not stored' "$TMP/run.log")" \
    || ok "no counter write failed on the way down (Redis outlived the daemon)"
# (a batch Redis confirmed stays pending for a few seconds: applied= is the test)
grep -q "counter batches: spooled=[1-9][0-9]* applied=[1-9]" "$TMP/run.log" &&
    ok "the last counter batches reached Redis" || fail "spool" "$(grep 'counter batches' "$TMP/run.log")"
redis-cli -p "$RPORT" ping > /dev/null 2>&1 && fail "redis" "redis-server still running after the stop" \
    || ok "redis-server stopped after the daemon"

# what Redis stored survives in its AOF: the counts, read back
redis-server --bind 127.0.0.1 --port "$RPORT" --dir "$RUNDIR/redis" --appendonly yes --save '' \
    --daemonize no --logfile "$TMP/redis2.log" &
RPID=$!
for i in $(seq 1 50); do redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
# today's figures as CSV: the column out_msgs of the day row (the last)
"$BUILD/tollgate-stats" today -c "$RUNDIR/tollgate.conf" --format csv > "$TMP/today.csv" 2>&1
got=$(tr -d '\r' < "$TMP/today.csv" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "out_msgs") c = i }
    NF > 1 { last = $c } END { print last }')
[ "$got" = 20 ] && ok "tollgate-stats today reads 20 outbound messages back from the AOF" \
    || fail "report" "out_msgs '$got': $(head -3 "$TMP/today.csv")"
kill "$RPID" 2>/dev/null
wait "$RPID" 2>/dev/null
finish
