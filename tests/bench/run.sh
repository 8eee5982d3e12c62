#!/bin/sh
# `make bench`: figures and ratios, never pass/fail. The machine is shared
# and noisy: read medians. BUILD selects the build directory.
set -eu
BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.."
CORPUS=${TG_CORPUS:-../shared/corpus}
echo "== rule engine, shipped rules: oracle (PCRE2 per rule) vs fast (Vectorscan per class)"
"$BUILD/rules_bench" -r 3 --rules deploy/rules "$CORPUS/ham" "$CORPUS/spam"
echo
echo "== rule engine, SpamAssassin 4.0.1 stock rules + shipped rules: oracle vs fast"
echo "   (cold compile into a fresh cache, then from the cache; TG_BENCH_COLD=0 skips the cold compile;"
echo "   the steady line times each matcher again after it ran over the 50 messages before each block)"
export TG_BENCH_STEADY=${TG_BENCH_STEADY:-50}
if [ "${TG_BENCH_COLD:-1}" = 0 ]; then
    "$BUILD/rules_bench" -r 3 --no-cold --cache "$BUILD/hscache" --rules /usr/share/spamassassin --rules deploy/rules "$CORPUS/ham" "$CORPUS/spam"
else
    DUMP=$(mktemp /tmp/tollgate-dump.XXXXXX)
    TG_FAST_DUMP="$DUMP" "$BUILD/rules_bench" -r 3 --rules /usr/share/spamassassin --rules deploy/rules "$CORPUS/ham" "$CORPUS/spam"
    echo
    echo "== what limits the fast core: the body class's main ASCII database, expression by expression"
    "$BUILD/dbcost" --top 20 --curve "$DUMP" "$CORPUS/ham" "$CORPUS/spam"
    rm -f "$DUMP"
fi
echo
echo "== milter throughput (null filter vs tollgate), messages through the milter protocol"
BUILD="$BUILD" sh tests/bench/milter_bench.sh
echo
echo "== counters: stats_record cost and Redis commands per 1,000 messages"
"$BUILD/stats_bench"
BUILD="$BUILD" sh tests/bench/counters_bench.sh
echo
echo "== soak: RSS across a long run (SOAK_N, default 1000000)"
BUILD="$BUILD" sh tests/bench/soak.sh
