#!/bin/sh
# Redis commands per 1,000 messages with the daemon under load: the flusher
# sends a constant few commands per flush whatever the message rate.
set -u
BUILD=${BUILD:-build}
CORPUS=${TG_CORPUS:-../shared/corpus}
TMP=$(mktemp -d /tmp/tollgate-bench.XXXXXX)
RPORT=$((34000 + $$ % 1000))
DPID= RPID=
trap 'kill -TERM $DPID $RPID 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
redis-server --bind 127.0.0.1 --port $RPORT --save '' --appendonly no --daemonize no --logfile /dev/null &
RPID=$!
printf 'Rules %s/deploy/rules\nSPF no\nRulesCacheDir %s/cache\nRedisURL redis://127.0.0.1:%s\nStatsSpoolDir %s/spool\nLocalDomains example.org\nTenant acme example.org\n' \
    "$(pwd)" "$TMP" $RPORT "$TMP" > "$TMP/t.conf"
"$BUILD/tollgate" -f -c "$TMP/t.conf" -p "unix:$TMP/s.sock" > "$TMP/d.log" 2>&1 &
DPID=$!
sleep 1
redis-cli -p $RPORT config resetstat > /dev/null
SECS=10
"$BUILD/milterload" -s "unix:$TMP/s.sock" -c 8 -t $SECS --rcpt u@example.org --json "$CORPUS/ham" > "$TMP/out.json"
sleep 2.5
msgs=$(sed -n 's/.*"messages":\([0-9]*\).*/\1/p' "$TMP/out.json")
rate=$(sed -n 's/.*"msgs_per_s":\([0-9.]*\).*/\1/p' "$TMP/out.json")
redis-cli -p $RPORT info commandstats | tr -d '\r' | grep '^cmdstat_' | grep -v cmdstat_info | grep -v cmdstat_config > "$TMP/cmds"
# round trips the flusher makes (EVALSHA/EVAL, HGET of its sequence, SCRIPT
# LOAD once, SELECT) versus the writes the script does inside Redis
calls=$(sed -n 's/^cmdstat_\(evalsha\|eval\|hget\|script|load\|select\):calls=\([0-9]*\),.*/\2/p' "$TMP/cmds" | awk '{s += $1} END {print s + 0}')
inner=$(sed -n 's/^cmdstat_[^:]*:calls=\([0-9]*\),.*/\1/p' "$TMP/cmds" | awk -v c=$calls '{s += $1} END {print s - c}')
stored=$(redis-cli -p $RPORT --scan --pattern 'tg:v1:c:_all:m:*' | while read k; do redis-cli -p $RPORT hget "$k" in:msgs; done | awk '{s += $1} END {print s + 0}')
echo "load: $msgs messages in ${SECS}s ($rate msgs/s), $stored counted in Redis"
echo "Redis round trips: $calls = $(awk -v c=$calls -v m=$msgs 'BEGIN {printf "%.2f", c / m * 1000}') per 1,000 messages, $(awk -v c=$calls -v s=$SECS 'BEGIN {printf "%.1f", c / (s + 2.5)}') per second (one flush a second: HGET + EVALSHA)"
echo "writes inside the scripts: $inner (HINCRBY/EXPIREAT/HSET/SADD, atomic per batch)"
sed 's/^cmdstat_/  /; s/,usec_per_call.*//' "$TMP/cmds"
