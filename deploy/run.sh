#!/bin/sh
# `make run`: a local redis-server and the tollgate daemon in the foreground,
# with the shipped configuration (deploy/tollgate.conf) and rules
# (deploy/rules), on loopback. Ctrl-C stops both. Called after deps + build.
#   MILTER_PORT (8894), REDIS_PORT (6380) and TG_RUN_DIR (BUILD/run: the
#   config, pid file, spool, rules cache and redis data) may be set in the
#   environment.
set -eu
BUILD=${1:-build}
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN=${TG_RUN_DIR:-$ROOT/$BUILD/run}
MPORT=${MILTER_PORT:-8894}
RPORT=${REDIS_PORT:-6380}
[ -x "$BUILD/tollgate" ] || { echo "run: $BUILD/tollgate is not built" >&2; exit 1; }
mkdir -p "$RUN/spool" "$RUN/redis"

# The shipped config, with what must differ when run from the source tree:
# loopback socket, rules from deploy/rules, files under build/run, no user
# switch, the local redis.
sed -e "s|^Socket .*|Socket inet:$MPORT@127.0.0.1|" \
    -e "s|^Rules .*|Rules $ROOT/deploy/rules|" \
    -e "s|^PidFile .*|PidFile $RUN/tollgate.pid|" \
    -e "s|^StatsSpoolDir .*|StatsSpoolDir $RUN/spool|" \
    -e "s|^UserID .*|# UserID: not switched when run from the source tree|" \
    deploy/tollgate.conf > "$RUN/tollgate.conf"
echo "RedisURL redis://127.0.0.1:$RPORT" >> "$RUN/tollgate.conf"
echo "RulesCacheDir $RUN/cache" >> "$RUN/tollgate.conf"
"$BUILD/tollgate" -t -c "$RUN/tollgate.conf"

command -v redis-server >/dev/null || { echo "run: redis-server missing (deploy/install-deps.sh)" >&2; exit 1; }
# In a session of its own, so that the Ctrl-C the terminal sends to the
# whole foreground group reaches only tollgate: redis stays up while tollgate
# stores its last counters, and the trap stops it once tollgate has exited.
setsid redis-server --bind 127.0.0.1 --port "$RPORT" --dir "$RUN/redis" --appendonly yes \
    --save '' --maxmemory-policy noeviction --daemonize no --logfile "$RUN/redis/redis.log" &
RPID=$!
trap 'kill $RPID 2>/dev/null; wait $RPID 2>/dev/null' EXIT INT TERM
sleep 0.3
kill -0 $RPID 2>/dev/null || { echo "run: redis-server did not start (port $RPORT busy?): $(tail -3 "$RUN/redis/redis.log")" >&2; exit 1; }

cat <<MSG
redis-server: 127.0.0.1:$RPORT (data in $RUN/redis)
tollgate:     inet:$MPORT@127.0.0.1, config $RUN/tollgate.conf

To filter a Postfix on this machine through it, run:
  postconf -e 'smtpd_milters = inet:127.0.0.1:$MPORT' 'non_smtpd_milters = inet:127.0.0.1:$MPORT' 'milter_protocol = 6' 'milter_default_action = accept' && postfix reload

Stop with Ctrl-C (or SIGTERM). Reload rules with: kill -HUP \$(cat $RUN/tollgate.pid)
MSG
"$BUILD/tollgate" -f -c "$RUN/tollgate.conf"
