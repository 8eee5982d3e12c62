#!/bin/sh
# Exact counters under faults: mail goes through the daemon (milterload)
# while Redis is SIGKILLed and restarted from its AOF, while its client
# connections are killed, while the daemon restarts, and while Redis is down
# for a whole run. Afterwards every counter in Redis equals what was sent,
# and a replayed batch changes nothing.
set -u
T=counters
. "$(dirname "$0")/lib.sh"
ROOT=$(pwd)
# ports no socket uses now (free_port): a fixed port taken by another suite
# running at the same time would send its clients to this suite's servers
RPORT=$(free_port $((30000 + $$ % 1000)))
MPORT=$(free_port $((31000 + $$ % 1000)))
SOCK="inet:$MPORT@127.0.0.1"
RCLI="redis-cli -p $RPORT"
DPID= RPID=
trap 'kill -KILL $DPID $RPID 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
mkdir -p "$TMP/redis" "$TMP/corpus"
ls "$CORPUS/ham" | head -150 | while read f; do cp "$CORPUS/ham/$f" "$TMP/corpus/"; done
ls "$CORPUS/spam" | head -50 | while read f; do cp "$CORPUS/spam/$f" "$TMP/corpus/"; done

start_redis() {
    redis-server --bind 127.0.0.1 --port "$RPORT" --dir "$TMP/redis" --appendonly yes \
        --appendfsync everysec --save '' --maxmemory-policy noeviction --daemonize no \
        --logfile "$TMP/redis/log" &
    RPID=$!
    for i in $(seq 1 50); do $RCLI ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
    return 1
}
cat > "$TMP/tollgate.conf" <<CONF
Socket        $SOCK
Rules         $ROOT/deploy/rules
SPF           no
RulesCacheDir $TMP/cache
LocalDomains  example.org
Tenant        acme example.org
RedisURL      redis://127.0.0.1:$RPORT
StatsSpoolDir $TMP/spool
TimeZone      Europe/London
CONF
RUN=0
start_daemon() {
    RUN=$((RUN + 1))
    daemon_start "$TMP/tollgate.conf" "$TMP/daemon.$RUN.log"
}
stop_daemon() { daemon_stop; }
SENT=0
load() { # N: send N messages, all must be answered
    "$BUILD/milterload" -s "$SOCK" -c 4 -n "$1" --rcpt user@example.org --timeout 20 "$TMP/corpus" \
        > "$TMP/load.out" 2>&1
    rc=$?
    SENT=$((SENT + $1))
    [ $rc -eq 0 ] && ok "$2: $1 messages answered" || fail "$2" "$(tail -5 "$TMP/load.out")"
}
batches() { ls "$TMP/spool" 2>/dev/null | grep -c '^batch-.*\.tgb$'; }

start_redis && ok "redis-server with AOF on 127.0.0.1:$RPORT" || { fail redis "$(tail "$TMP/redis/log")"; finish; exit 1; }
start_daemon && ok "daemon up" || { fail daemon "$(cat "$TMP/daemon.1.log")"; finish; exit 1; }

load 300 "steady"
sleep 1.2
cp "$TMP/spool/"batch-*.tgb "$TMP/" 2>/dev/null   # kept for the replay check

# Redis SIGKILLed mid-run (AOF everysec may lose its last second), restarted
"$BUILD/milterload" -s "$SOCK" -c 4 -n 400 --rcpt user@example.org --timeout 20 "$TMP/corpus" > "$TMP/load.out" 2>&1 &
LPID=$!
sleep 0.4
kill -KILL "$RPID"; wait "$RPID" 2>/dev/null
wait "$LPID"
rc=$?; SENT=$((SENT + 400))
[ $rc -eq 0 ] && ok "Redis SIGKILLed mid-run: all 400 answered" || fail "redis kill run" "$(tail -3 "$TMP/load.out")"
sleep 1.5
[ "$(batches)" -ge 1 ] && ok "Redis down: batches wait in the spool ($(batches))" || fail "spool" "empty while Redis is down"
start_redis && ok "Redis restarted from its AOF" || fail "redis restart" "$(tail -3 "$TMP/redis/log")"

# client connections killed while mail flows
"$BUILD/milterload" -s "$SOCK" -c 4 -n 400 --rcpt user@example.org --timeout 20 "$TMP/corpus" > "$TMP/load.out" 2>&1 &
LPID=$!
for i in 1 2 3 4 5 6; do sleep 0.3; $RCLI CLIENT KILL TYPE normal > /dev/null 2>&1; done
wait "$LPID"
rc=$?; SENT=$((SENT + 400))
[ $rc -eq 0 ] && ok "CLIENT KILL during the run: all 400 answered" || fail "client kill run" "$(tail -3 "$TMP/load.out")"

# the daemon restarts
stop_daemon && ok "daemon stopped cleanly" || fail "daemon stop" "nonzero"
start_daemon && ok "daemon restarted" || fail "daemon restart" "$(cat "$TMP/daemon.$RUN.log")"
load 300 "after daemon restart"

# Redis down for a whole run
$RCLI shutdown nosave > /dev/null 2>&1; wait "$RPID" 2>/dev/null
load 300 "Redis down for the whole run"
sleep 1.5
[ "$(batches)" -ge 1 ] && ok "the spool grows while Redis is down ($(batches) batches)" || fail "spool growth" "no batch"
start_redis && ok "Redis back" || fail "redis back" "no"

# replay: a batch Redis already applied, put back into the spool
stop_daemon
for f in "$TMP"/batch-*.tgb; do [ -e "$f" ] && cp "$f" "$TMP/spool/"; done
start_daemon
for i in $(seq 1 100); do [ "$(batches)" -eq 0 ] && break; sleep 0.2; done
[ "$(batches)" -eq 0 ] && ok "spool drained" || fail "drain" "$(batches) batches left"
stop_daemon
grep -q "replayed=[1-9]" "$TMP/daemon.$RUN.log" && ok "the re-spooled batch was a no-op replay" ||
    fail "replay" "$(grep 'counter batches' "$TMP/daemon.$RUN.log")"

# the spool's sequence file lost: numbering stays above what Redis has
rm -f "$TMP/spool/seq"
start_daemon && ok "daemon restarted without its sequence file" || fail "restart noseq" "$(cat "$TMP/daemon.$RUN.log")"
load 100 "after losing the sequence file"
stop_daemon

grep -q "maxmemory-policy" "$TMP"/daemon.*.log && fail "noeviction" "warned although Redis runs noeviction" ||
    ok "no eviction warning with noeviction"
redis-cli -p $RPORT config set maxmemory-policy allkeys-lru > /dev/null
start_daemon
load 10 "with an evicting Redis"
for i in $(seq 1 30); do grep -q "maxmemory-policy allkeys-lru" "$TMP/daemon.$RUN.log" && break; sleep 0.1; done
grep -q "runs with maxmemory-policy allkeys-lru: counters can be evicted" "$TMP/daemon.$RUN.log" &&
    ok "an evicting Redis is reported" || fail "eviction warning" "$(tail -3 "$TMP/daemon.$RUN.log")"
stop_daemon
redis-cli -p $RPORT config set maxmemory-policy noeviction > /dev/null

# --- every counter equals what was sent
sum() { # PATTERN FIELD: sum of FIELD over every key matching PATTERN
    total=0
    for k in $($RCLI --scan --pattern "$1"); do
        v=$($RCLI hget "$k" "$2"); total=$((total + ${v:-0}))
    done
    echo $total
}
bytes=$(cat "$TMP"/daemon.*.log | sed -n 's/.*counters: in: msgs=[0-9]* rcpts=[0-9]* bytes=\([0-9]*\).*/\1/p' |
        awk '{s += $1} END {print s + 0}')
echo "  sent $SENT messages, $bytes bytes (the daemons' own totals)"
for kind in m d h; do
    m=$(sum "tg:v1:c:_all:$kind:*" in:msgs)
    [ "$m" -eq "$SENT" ] && ok "_all $kind-buckets: in:msgs = $m" || fail "_all $kind msgs" "$m != $SENT"
done
t=$(sum "tg:v1:c:acme:m:*" in:msgs)
[ "$t" -eq "$SENT" ] && ok "tenant acme: in:msgs = $t" || fail "tenant" "$t != $SENT"
r=$(sum "tg:v1:c:_all:m:*" in:rcpts)
[ "$r" -eq "$SENT" ] && ok "in:rcpts = $r" || fail "rcpts" "$r != $SENT"
b=$(sum "tg:v1:c:_all:m:*" in:bytes)
[ "$b" -eq "$bytes" ] && ok "in:bytes = $b" || fail "bytes" "$b != $bytes"
v=0; for x in clean tagged spam security policy tempfail; do v=$((v + $(sum "tg:v1:c:_all:m:*" "in:v:$x"))); done
[ "$v" -eq "$SENT" ] && ok "verdicts sum to the messages ($v)" || fail "verdicts" "$v != $SENT"
a=0; for x in accept reject discard quarantine tempfail; do a=$((a + $(sum "tg:v1:c:_all:m:*" "in:a:$x"))); done
[ "$a" -eq "$SENT" ] && ok "actions sum to the messages ($a)" || fail "actions" "$a != $SENT"
$RCLI sismember tg:v1:tenants acme | grep -q 1 && ok "tenant registered" || fail "tenants set" "acme missing"
ttl=$($RCLI ttl "$($RCLI --scan --pattern 'tg:v1:c:_all:h:*' | head -1)")
[ "$ttl" -gt 3000000 ] && [ "$ttl" -le 3456000 ] && ok "hour keys expire after 40 days (ttl $ttl s)" || fail "ttl" "$ttl"
finish
