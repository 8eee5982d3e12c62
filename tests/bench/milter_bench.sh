#!/bin/sh
# Milter throughput through the protocol, as an MTA uses it (issue 6):
# the null filter (the ceiling: same libmilter, same no-reply flags), tollgate
# with the shipped rules and with the SpamAssassin rules, over a unix socket
# and TCP, at concurrency 1, 8 and 64, over the corpus. For each cell:
# msgs/s, p50/p99 from EOM to reply, the filter process's own CPU per 1,000
# messages (from /proc), and ratios to the null filter in the same run.
# Figures, never pass/fail. BENCH_N (messages per cell, default 6000),
# BENCH_RATES (paced section, default "500 1500"), BENCH_PAIRS (default 5).
set -u
BUILD=${BUILD:-build}
CORPUS=${TG_CORPUS:-../shared/corpus}
N=${BENCH_N:-6000}
TMP=$(mktemp -d /tmp/tollgate-bench.XXXXXX)
PID=
NPID=
trap 'kill -TERM $PID $NPID 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
PORT=$((33000 + $$ % 1000))
TCK=$(getconf CLK_TCK)
mkdir -p "$TMP/corpus"
cp "$CORPUS"/ham/*.eml "$CORPUS"/spam/*.eml "$TMP/corpus/"

conf() { # RULES...
    {
        echo "Rules $*"
        echo "SPF no"
        echo "LocalDomains example.org"
        echo "RulesCacheDir $(pwd)/$BUILD/cache"  # the first run compiles (~1 min)
    } > "$TMP/tollgate.conf"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
start() { # KIND SOCKET
    rm -f "$TMP/s.sock"
    case $1 in
        null) "$BUILD/nullfilter" "$2" > "$TMP/filter.log" 2>&1 & PID=$! ;;
        *) "$BUILD/tollgate" -f -c "$TMP/tollgate.conf" -p "$2" > "$TMP/filter.log" 2>&1 & PID=$! ;;
    esac
    # it answers at once (the oracle matcher stands in); measure once the
    # fast matcher has taken over: up to 3 min for a cold SpamAssassin compile
    for i in $(seq 1 1800); do
        if "$BUILD/milterload" -s "$2" -c 1 -n 1 "$TMP/corpus" > /dev/null 2>&1; then
            [ "$1" = null ] && return 0
            grep -q "fast matcher ready" "$TMP/filter.log" && return 0
        fi
        sleep 0.1
    done
    echo "bench: filter did not start: $(tail -3 "$TMP/filter.log")" >&2
    return 1
}
stop() { kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=; }
json() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$TMP/out.json"; }

# cell KIND SOCK C N: one run of N messages at concurrency C against the
# filter running as $PID; prints the row and keeps RATE_/CPU_ for ratios.
cell() {
    kind=$1 sock=$2 c=$3 n=$4
    t0=$(cpu_ticks "$PID")
    "$BUILD/milterload" -s "$s" -c "$c" -n "$n" --timeout 60 --json "$TMP/corpus" > "$TMP/out.json" 2>/dev/null
    t1=$(cpu_ticks "$PID")
    rate=$(json msgs_per_s); p50=$(json p50_ms); p99=$(json p99_ms); err=$(json errors)
    cpu=$(awk -v a="$t0" -v b="$t1" -v t="$TCK" -v n="$n" 'BEGIN {printf "%.3f", (b - a) / t / n * 1000}')
    if [ "$kind" = null ]; then
        eval "NULL_RATE_$sock$c=$rate; NULL_CPU_$sock$c=$cpu"
        ratio=1.00; cratio=1.00
    else
        eval "nr=\$NULL_RATE_$sock$c; nc=\$NULL_CPU_$sock$c"
        ratio=$(awk -v a="$rate" -v b="$nr" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
        cratio=$(awk -v a="$cpu" -v b="$nc" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
    fi
    printf '%-16s %-5s %4s %9s %8s %8s %10s %9s %9s%s\n' "$kind" $sock $c "$rate" "$p50" "$p99" "$cpu" "$ratio" "$cratio" \
        "$([ "${err:-1}" = 0 ] || echo "  ERRORS: $err")"
    k=$(echo "$kind" | tr -c 'a-z0-9\n' _)
    eval "RATE_${k}_$sock$c=$rate; CPU_${k}_$sock$c=$cpu"
}

printf '%-16s %-5s %4s %9s %8s %8s %10s %9s %9s\n' filter sock c msgs/s p50_ms p99_ms cpu_s/1k "x null" "cpu x"
for kind in null shipped spamassassin; do
    case $kind in
        shipped) conf "$(pwd)/deploy/rules" ;;
        spamassassin) conf /usr/share/spamassassin "$(pwd)/deploy/rules" ;;
    esac
    n=$N
    [ $kind = spamassassin ] && n=$((N / 2))
    for sock in unix tcp; do
        s="unix:$TMP/s.sock"; [ $sock = tcp ] && s="inet:$PORT@127.0.0.1"
        start $kind "$s" || continue
        for c in 1 8 64; do
            cell $kind $sock $c $n
        done
        stop
    done
done
# The same at c=8 without the ScanConcurrency limit (default: one message
# classified per CPU), to show what the limit does to the tail.
conf /usr/share/spamassassin "$(pwd)/deploy/rules"
echo "ScanConcurrency 0" >> "$TMP/tollgate.conf"
s="unix:$TMP/s.sock"
if start spamassassin "$s"; then
    cell "sa-no-limit" unix 8 $((N / 2))
    stop
fi
# Latency at a set load rather than at saturation: above, each of the c
# connections sends its next message as soon as the last is answered, so
# the filter is saturated and latency is mostly queueing (c / rate). Here
# milterload paces the messages (--rate, open loop, as mail arrives) at each
# of BENCH_RATES msgs/s (default 500 and 1500, over a hundred times the
# average rate of 11.3 million messages a month, 4.4 msgs/s) over 8
# connections, 3 s of messages each; "added" is tollgate's p50/p99 minus
# the null filter's at the same rate.
RATES=${BENCH_RATES:-${BENCH_RATE:-500 1500}}
echo
echo "paced: messages offered at a set rate over 8 connections (unix), 3 s of them at each rate"
printf '%-16s %6s %9s %8s %8s %8s %8s\n' filter rate msgs/s p50_ms p99_ms max_ms late
paced() { # KIND RATE
    "$BUILD/milterload" -s "$s" -c 8 -n $(($2 * 3)) --rate "$2" --timeout 60 --json "$TMP/corpus" > "$TMP/out.json" 2>/dev/null
    printf '%-16s %6s %9s %8s %8s %8s %8s\n' "$1" "$2" "$(json msgs_per_s)" "$(json p50_ms)" "$(json p99_ms)" "$(json max_ms)" "$(json late)"
    eval "P50_$1_$2=$(json p50_ms); P99_$1_$2=$(json p99_ms)"
}
s="unix:$TMP/s.sock"
if start null "$s"; then for r in $RATES; do paced null "$r"; done; stop; fi
conf /usr/share/spamassassin "$(pwd)/deploy/rules"
if start spamassassin "$s"; then for r in $RATES; do paced spamassassin "$r"; done; stop; fi
for r in $RATES; do
    eval "a=\${P50_spamassassin_$r:-} b=\${P50_null_$r:-} c=\${P99_spamassassin_$r:-} d=\${P99_null_$r:-}"
    awk -v a="$a" -v b="$b" -v c="$c" -v d="$d" -v r="$r" 'BEGIN {
        if (a != "" && b != "") printf "added by the SpamAssassin rules at %d msgs/s, c=8: p50 %.2f ms, p99 %.2f ms\n", r, a - b, c - d }'
done

# Issue 6's c=8 targets (>= 2,000 msgs/s, p99 <= 5 ms above the null
# filter's) from alternating runs, the two filters running side by side:
# one cell above is one sample of a noisy machine. BENCH_PAIRS pairs of
# N/2 messages; medians, and the median of the per-pair p99 differences.
P=${BENCH_PAIRS:-5}
echo
echo "c=8, unix, $P alternating pairs (null, SpamAssassin rules) of $((N / 2)) messages"
med() { sort -g | awk '{v[NR] = $1} END {if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
if start null "unix:$TMP/n.sock"; then NPID=$PID; PID=; fi
: > "$TMP/pairs"
if start spamassassin "unix:$TMP/s.sock"; then
    for p in $(seq 1 "$P"); do
        for k in n s; do
            "$BUILD/milterload" -s "unix:$TMP/$k.sock" -c 8 -n $((N / 2)) --timeout 60 --json \
                --trace "$TMP/trace.$k.$p" "$TMP/corpus" > "$TMP/out.json" 2>/dev/null
            printf '%s %s ' "$(json msgs_per_s)" "$(json p99_ms)" >> "$TMP/pairs"
        done
        echo >> "$TMP/pairs"
    done
    stop
fi
PID=$NPID; NPID=; stop
awk '{printf "  pair %d: null %s msgs/s p99 %s ms; spamassassin %s msgs/s p99 %s ms\n", NR, $1, $2, $3, $4}' "$TMP/pairs"
nr=$(awk '{print $1}' "$TMP/pairs" | med); np=$(awk '{print $2}' "$TMP/pairs" | med)
sr=$(awk '{print $3}' "$TMP/pairs" | med); sp=$(awk '{print $4}' "$TMP/pairs" | med)
ad=$(awk '{print $4 - $2}' "$TMP/pairs" | med)
echo "medians: null $nr msgs/s, p99 $np ms; spamassassin $sr msgs/s (target >= 2000), p99 $sp ms; added p99 $ad ms (target <= 5)"
# What makes the tail (milterload --trace of the SpamAssassin runs, pooled):
# how many of the slowest 1% are big messages, and the p99 without them.
# At saturation the tail is mostly queueing, which only a cheaper
# classification of every message shortens.
cat "$TMP"/trace.s.* > "$TMP/trace.s" 2>/dev/null
n=$(wc -l < "$TMP/trace.s"); k=$((n / 100)); big=20000
if [ "$k" -gt 0 ]; then
    nb=$(sort -k3,3gr "$TMP/trace.s" | head -n "$k" | awk -v b=$big '$2 >= b' | wc -l)
    nbig=$(awk -v b=$big '$2 >= b' "$TMP/trace.s" | wc -l)
    # p99 as milterload ranks it: the ceil(0.99 n)-th smallest
    p99=$(awk '{print $3}' "$TMP/trace.s" | sort -g | sed -n "$(((n * 99 + 99) / 100))p")
    ns=$((n - nbig)) p99s=-
    [ "$ns" -gt 0 ] && p99s=$(awk -v b=$big '$2 < b {print $3}' "$TMP/trace.s" | sort -g | sed -n "$(((ns * 99 + 99) / 100))p")
    echo "tail of the SpamAssassin runs (pooled): $nb of the slowest $k messages are >= $big bytes ($nbig of $n messages); p99 $p99 ms, $p99s ms without the big ones"
fi

echo
for kind in shipped spamassassin; do
    eval "r=\$RATE_${kind}_unix8; cpu=\$CPU_${kind}_unix8"
    awk -v k="$kind" -v r="$r" -v c="$cpu" 'BEGIN {
        if (r > 0) printf "month projection (%s rules, unix, c=8): 11.3 million messages take %.1f hours at %.0f msgs/s on this machine; the filter alone needs %.1f CPU-hours (%.2f ms per message)\n", k, 11.3e6 / r / 3600, r, 11.3e6 * c / 1000 / 3600, c }'
done
