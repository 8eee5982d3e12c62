# Helpers for shell integration tests: `ok NAME`, `fail NAME WHY`, `check
# NAME CMD...`, and `finish` which prints "NAME: N passed, N failed" and
# exits non-zero on any failure. Source it; set T to the test's name.
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
CORPUS=${TG_CORPUS:-../shared/corpus}
TMP=$(mktemp -d /tmp/tollgate-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM
