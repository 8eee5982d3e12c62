#!/bin/sh
# `make bench`: figures and ratios, never pass/fail. The machine is shared
# and noisy: read medians. BUILD selects the build directory.
set -eu
BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.."
CORPUS=${TG_CORPUS:-../shared/corpus}
echo "== rule engine (reference matcher: PCRE2 JIT per rule), shipped rules"
"$BUILD/rules_bench" -r 3 --rules deploy/rules "$CORPUS/ham" "$CORPUS/spam"
echo
echo "== rule engine (reference matcher), SpamAssassin 4.0.1 stock rules + shipped rules"
"$BUILD/rules_bench" -r 3 --rules /usr/share/spamassassin --rules deploy/rules "$CORPUS/ham" "$CORPUS/spam"
echo
echo "== milter throughput (null filter vs tollgate), messages through the milter protocol"
BUILD="$BUILD" sh tests/bench/milter_bench.sh
echo
echo "== counters: stats_record cost and Redis commands per 1,000 messages"
"$BUILD/stats_bench"
BUILD="$BUILD" sh tests/bench/counters_bench.sh
echo
echo "== soak: RSS across a long run (SOAK_N, default 200000)"
BUILD="$BUILD" sh tests/bench/soak.sh
