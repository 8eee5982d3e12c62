#!/bin/sh
# Builds every tests/fuzz/fuzz_*.c as a libFuzzer target (clang, ASan+UBSan)
# and runs each for FUZZ_SECONDS (default 60), seeded from fixtures. Exits
# non-zero if a target crashes, leaks or times out; the crashing input is left
# in build-fuzz/.
set -eu
cd "$(dirname "$0")/../.."
SECS=${FUZZ_SECONDS:-60}
OUT=build-fuzz
mkdir -p "$OUT"
command -v clang >/dev/null || { echo "fuzz: clang missing (deploy/install-deps.sh test)" >&2; exit 1; }
SRC=$(ls rules/*.c | grep -v tollgate-rules.c)
CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Irules $(pkg-config --cflags libpcre2-8)"
status=0
for t in tests/fuzz/fuzz_*.c; do
    name=$(basename "$t" .c)
    echo "== $name: building"
    # shellcheck disable=SC2086
    clang $CFLAGS "$t" $SRC -o "$OUT/$name" $(pkg-config --libs libpcre2-8) -lm
    seeds="$OUT/$name.corpus"
    mkdir -p "$seeds"
    case $name in
        fuzz_rules) cp deploy/rules/*.cf "$seeds/" ;;
        fuzz_mime) [ -d tests/fixtures/mime ] && cp tests/fixtures/mime/* "$seeds/" 2>/dev/null || true ;;
    esac
    echo "== $name: running ${SECS}s"
    if ! (cd "$OUT" && "./$name" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
            -max_len=65536 -print_final_stats=1 "$name.corpus" 2>&1 | tail -12); then
        status=1
    fi
    ls "$OUT"/crash-* "$OUT"/leak-* "$OUT"/timeout-* 2>/dev/null && status=1
done
exit $status
