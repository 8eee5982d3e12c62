#!/bin/sh
# Runs every test layer in order; stops at the first failing layer.
# BUILD selects the build directory (build or build-asan).
set -eu
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
export TG_BUILD="$BUILD"
echo "== unit tests (Check)"
"$BUILD/tests/check_tollgate"
for t in tests/integration/[0-9]*.sh; do
    [ -e "$t" ] || continue
    echo "== $(basename "$t")"
    sh "$t"
done
