#!/bin/sh
# `make run`: start redis-server and the tollgate daemon in the foreground
# with the shipped configuration and rules. Called after deps + build.
set -eu
BUILD=${1:-build}
cd "$(dirname "$0")/.."
if [ ! -x "$BUILD/tollgate" ]; then
    echo "tollgate: daemon not built yet (milter/ is not implemented in this tree)." >&2
    echo "What works now: the rule engine. For example:" >&2
    echo "  $BUILD/tollgate-rules check deploy/rules /usr/share/spamassassin" >&2
    echo "  $BUILD/tollgate-rules test --rules deploy/rules --rules /usr/share/spamassassin MSG.eml" >&2
    "$BUILD/tollgate-rules" check deploy/rules >&2
    exit 2
fi
exec "$BUILD/tollgate" -f -c deploy/tollgate.conf
