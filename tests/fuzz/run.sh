#!/bin/sh
# Builds every tests/fuzz/fuzz_*.c as a libFuzzer target (clang, ASan+UBSan)
# and runs each for FUZZ_SECONDS (default 60), seeded from fixtures. Exits
# non-zero if a target crashes, leaks, times out or trips UBSan (built not
# to recover, so it aborts): the fuzzer's exit status and its artifacts;
# the input is left as build-fuzz/TARGET-crash-... etc.
set -eu
cd "$(dirname "$0")/../.."
SECS=${FUZZ_SECONDS:-60}
OUT=build-fuzz
mkdir -p "$OUT"
rm -f "$OUT"/*crash-* "$OUT"/*leak-* "$OUT"/*timeout-* # each run judges itself
command -v clang >/dev/null || { echo "fuzz: clang missing (deploy/install-deps.sh test)" >&2; exit 1; }
SRC=$(ls rules/*.c | grep -v tollgate-rules.c)
CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Irules $(pkg-config --cflags libpcre2-8)"
status=0
for t in tests/fuzz/fuzz_*.c; do
    name=$(basename "$t" .c)
    echo "== $name: building"
    # shellcheck disable=SC2086
    clang $CFLAGS "$t" $SRC -o "$OUT/$name" $(pkg-config --libs libpcre2-8) -lpcre2-32 -lhs -lpthread -lm
    seeds="$OUT/$name.corpus"
    mkdir -p "$seeds"
    case $name in
        fuzz_rules) cp deploy/rules/*.cf tests/fuzz/seeds/*.cf "$seeds/" ;;
        fuzz_hsexpr) # one pattern per seed, after a flags byte
            grep -ho '/[^/]\{4,200\}/' deploy/rules/*.cf 2>/dev/null | head -200 | while read -r p; do
                printf '\001%s' "$p" | sed 's|^\(.\)/|\1|; s|/$||' > "$seeds/$(printf '%s' "$p" | cksum | cut -d' ' -f1)"
            done ;;
        fuzz_mime) [ -d tests/fixtures/mime ] && cp tests/fixtures/mime/* "$seeds/" 2>/dev/null || true
            cp tests/fixtures/relays/*.eml "$seeds/" 2>/dev/null || true ;;
    esac
    echo "== $name: running ${SECS}s"
    # the fuzzer's own exit status (a pipe into tail would hide it)
    if ! (cd "$OUT" && "./$name" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
            -max_len=65536 -print_final_stats=1 -artifact_prefix="$name-" "$name.corpus" \
            > "$name.log" 2>&1); then
        status=1
    fi
    tail -12 "$OUT/$name.log"
    for f in "$OUT/$name"-crash-* "$OUT/$name"-leak-* "$OUT/$name"-timeout-*; do
        [ -e "$f" ] && { echo "fuzz: $name left $f" >&2; status=1; }
    done
done
exit $status
