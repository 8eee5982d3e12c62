#!/bin/sh
# The daemon driven by miltertest: every action, header edits, SPF (from a
# test zone, no DNS), oversize, protocol edge cases, hostile input, reload
# with a broken rule file, unix socket, clean shutdown.
set -u
T=milter
. "$(dirname "$0")/lib.sh"
ROOT=$(pwd)
PORT=$((20000 + $$ % 10000))
DAEMON="$BUILD/tollgate"
export TG_LUA_LIB="$ROOT/tests/milter/lib.lua"

cat > "$TMP/test.cf" <<'CF'
body     T_TAGWORD  /\bviagra\b/i
score    T_TAGWORD  6.0
describe T_TAGWORD  Test spam word
body     T_REJWORD  /\breject-me-please\b/
action   T_REJWORD  reject "5.7.1 Rejected by test rule\nSee the postmaster"
body     T_TEMPWORD /\btempfail-me\b/
action   T_TEMPWORD tempfail "4.7.1 Try again later (test)"
body     T_QUARWORD /\bquarantine-me\b/
action   T_QUARWORD quarantine "held by test rule"
body     T_DISCWORD /\bdiscard-me\b/
action   T_DISCWORD discard
CF
echo "# rules added by the reload test" > "$TMP/reload.cf"
cat > "$TMP/zone" <<'ZONE'
spf-pass.test TXT v=spf1 ip4:192.0.2.0/24 -all
mail.spf-pass.test TXT v=spf1 ip4:192.0.2.0/24 -all
spf-fail.test TXT v=spf1 ip4:192.0.2.0/24 -all
example.org TXT v=spf1 ip4:192.0.2.0/24 -all
ZONE
write_conf() { # SOCKET
    cat > "$TMP/tollgate.conf" <<CONF
Socket        $1
Rules         $ROOT/deploy/rules $TMP/test.cf $TMP/reload.cf
InternalNetworks 127.0.0.0/8
LocalDomains  example.org
Tenant        org example.org
SPF           yes
RulesCacheDir $TMP/cache
SPFTestZone   $TMP/zone
AuthservID    mx.tollgate.test
SubjectPrefix [SPAM]
MaxScanSize   64K
PidFile       $TMP/tollgate.pid
CONF
}
start_daemon() { daemon_start "$TMP/tollgate.conf" "$TMP/daemon.log"; }
stop_daemon() { daemon_stop; }
trap 'kill -KILL ${DPID:-0} 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
run_lua() { # NAME [ENV=VALUE...]
    name=$1; shift
    if env "$@" TG_SOCK="$SOCK" timeout 120 miltertest -s "$ROOT/tests/milter/$name.lua" > "$TMP/$name.out" 2>&1; then
        ok "$name.lua: $(tail -1 "$TMP/$name.out")"
    else
        fail "$name.lua" "$(tail -5 "$TMP/$name.out")"
    fi
}

# -t: a broken config is reported with file:line
SOCK="inet:$PORT@127.0.0.1"
write_conf "$SOCK"
echo "Sockett nowhere" >> "$TMP/tollgate.conf"
"$DAEMON" -t -c "$TMP/tollgate.conf" > "$TMP/t.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "$TMP/tollgate.conf:13: unknown key 'Sockett'" "$TMP/t.out" &&
    ok "-t names file:line of a bad key" || fail "-t" "rc=$rc $(cat "$TMP/t.out")"
write_conf "$SOCK"
"$DAEMON" -t -c "$TMP/tollgate.conf" > "$TMP/t.out" 2>&1 && grep -q "OK" "$TMP/t.out" &&
    ok "-t accepts the test config" || fail "-t ok" "$(cat "$TMP/t.out")"

start_daemon && ok "daemon listens on $SOCK" || { fail start "$(cat "$TMP/daemon.log")"; finish; exit 1; }
[ "$(cat "$TMP/tollgate.pid" 2>/dev/null)" = "$DPID" ] && ok "PID file" || fail "PID file" "$(cat "$TMP/tollgate.pid")"
# it listens with the oracle matcher while the fast one is built (an empty
# cache here: a cold compile), then the fast matcher takes over
for i in $(seq 1 600); do grep -q "fast matcher ready" "$TMP/daemon.log" && break; sleep 0.1; done
grep -q "fast matcher ready: [1-9][0-9]* regex rules in [1-9][0-9]* databases (0 of [0-9]* classes from the cache) after [0-9.]* s; scan memo 16384 slots" "$TMP/daemon.log" &&
    ok "the fast matcher takes over once built: $(grep -o 'fast matcher ready.*' "$TMP/daemon.log")" ||
    fail "fast matcher" "$(tail -3 "$TMP/daemon.log")"
run_lua actions
run_lua protocol
run_lua spf
run_lua oversize

# reload: a new rule takes effect; a broken file is reported and the old
# rules keep serving
run_lua reload EXPECT=miss
printf 'body T_RELOAD /reload-word/\nscore T_RELOAD 0.5\n' > "$TMP/reload.cf"
kill -HUP "$DPID"
for i in $(seq 1 50); do grep -q "reloaded" "$TMP/daemon.log" && break; sleep 0.1; done
grep -q "reloaded $TMP/tollgate.conf" "$TMP/daemon.log" && ok "SIGHUP reloads" || fail reload "$(tail -3 "$TMP/daemon.log")"
run_lua reload EXPECT=hit
printf 'body T_RELOAD /reload-word/\nbody T_BROKEN /unterminated\n' > "$TMP/reload.cf"
kill -HUP "$DPID"
for i in $(seq 1 50); do grep -q "reload failed" "$TMP/daemon.log" && break; sleep 0.1; done
grep -q "reload failed, keeping the running configuration and rules: $TMP/reload.cf:2:15: regular expression is not terminated" "$TMP/daemon.log" &&
    ok "a broken rule file is reported with file:line:col" || fail "broken reload" "$(tail -3 "$TMP/daemon.log")"
kill -0 "$DPID" 2>/dev/null && ok "daemon survives the broken reload" || fail "survive" "daemon gone"
run_lua reload EXPECT=hit

# hostile input; the daemon stays up and within its memory bound
run_lua malformed
kill -0 "$DPID" 2>/dev/null && ok "daemon up after hostile input" || fail "up" "daemon gone"
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$DPID/status" 2>/dev/null)
echo "  peak RSS after a 50 MiB body and 10,000 headers: ${hwm:-?} kB"
[ -n "$hwm" ] && [ "$hwm" -lt 204800 ] && ok "peak RSS under 200 MB" || fail "memory" "VmHWM=$hwm kB"

# one log line per message, with queue id, direction, verdict, score, hits, time
grep -q "Q2: dir=inbound client=198.51.100.7 from=<sender@example.net> rcpts=1 size=[0-9]* tenants=org spf=none score=6.0/5.0 verdict=tagged action=tag hits=T_TAGWORD time=" "$TMP/daemon.log" &&
    ok "per-message log line" || fail "log line" "$(grep 'Q2:' "$TMP/daemon.log")"
grep -q "Q4: .*verdict=security action=reject reply=\"550 5.7.1 Attachment with a disguised executable extension refused\"" "$TMP/daemon.log" &&
    ok "executable: security verdict, reply text" || fail "security log" "$(grep 'Q4:' "$TMP/daemon.log")"
grep -q 'Q3: .*action=reject reply="550 5.7.1 Rejected by test rule.nSee the postmaster"' "$TMP/daemon.log" &&
    ok "explicit reject: multi-line reply text" || fail "reject text" "$(grep 'Q3:' "$TMP/daemon.log")"
grep -q 'Q5: .*verdict=tempfail action=tempfail reply="451 4.7.1 Try again later (test)"' "$TMP/daemon.log" &&
    ok "tempfail: reply text" || fail "tempfail text" "$(grep 'Q5:' "$TMP/daemon.log")"
grep -q 'Q6: .*action=quarantine reply="held by test rule"' "$TMP/daemon.log" &&
    ok "quarantine: reason" || fail "quarantine log" "$(grep 'Q6:' "$TMP/daemon.log")"
grep -q 'S3: .*verdict=security action=reject reply="550 5.7.23 SPF check failed for a local domain"' "$TMP/daemon.log" &&
    ok "forged local sender rejected with 5.7.23" || fail "spoof log" "$(grep 'S3:' "$TMP/daemon.log")"

# SIGTERM while a message is in progress (stop.lua holds it between body
# and EOM until $TMP/go exists): the message is still answered, and the
# stop waits for it but not for idle connections (libmilter leaves one whose
# QUIT came just before the stop unserved; waiting for it cost 30 s)
env TG_SOCK="$SOCK" TG_READY="$TMP/ready" TG_GO="$TMP/go" timeout 60 \
    miltertest -s "$ROOT/tests/milter/stop.lua" > "$TMP/stop.out" 2>&1 &
MT=$!
for i in $(seq 1 100); do [ -f "$TMP/ready" ] && break; sleep 0.1; done
t0=$(date +%s)
kill -TERM "$DPID"
sleep 1
touch "$TMP/go"
wait $MT && ok "stop.lua: $(tail -1 "$TMP/stop.out")" || fail "stop.lua" "$(tail -5 "$TMP/stop.out")"
daemon_wait
rc=$?
secs=$(($(date +%s) - t0))
[ $rc -eq 0 ] && ok "SIGTERM: clean exit" || fail "SIGTERM" "exit $rc"
[ $secs -lt 20 ] && ok "stopped ${secs} s after SIGTERM (libmilter's 5 s check; idle connections not waited for)" ||
    fail "stop time" "${secs} s: $(tail -2 "$TMP/daemon.log")"
grep -q "T1: .*verdict=tagged action=tag hits=T_TAGWORD" "$TMP/daemon.log" &&
    ok "the message in progress at SIGTERM is classified and logged" || fail "T1" "$(grep 'T1:' "$TMP/daemon.log")"
grep -q "stopping ([0-9]* sessions open, 0 messages unfinished); counters: in: msgs=" "$TMP/daemon.log" &&
    ok "counters handed over at shutdown" || fail "shutdown log" "$(tail -2 "$TMP/daemon.log")"
[ ! -e "$TMP/tollgate.pid" ] && ok "PID file removed" || fail "PID file" "still there"

# unix socket with its mode
echo "# reload test done" > "$TMP/reload.cf"
SOCK="unix:$TMP/tollgate.sock"
write_conf "$SOCK"
echo "SocketMode 0600" >> "$TMP/tollgate.conf"
start_daemon && ok "daemon listens on $SOCK" || fail "unix start" "$(cat "$TMP/daemon.log")"
[ "$(stat -c %a "$TMP/tollgate.sock" 2>/dev/null)" = 600 ] && ok "socket mode 0600" || fail "mode" "$(stat -c %a "$TMP/tollgate.sock")"
run_lua actions
stop_daemon
[ $? -eq 0 ] && ok "unix: clean exit" || fail "unix exit" "nonzero"
[ ! -e "$TMP/tollgate.sock" ] && ok "unix socket removed at exit" || fail "socket file" "left behind"

# privileges: binds as root, then runs as UserID; the socket belongs to it
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    write_conf "$SOCK"
    sed -i "s|^PidFile .*|UserID nobody|" "$TMP/tollgate.conf"
    chmod 755 "$TMP"
    start_daemon && ok "daemon started as root with UserID nobody" || fail "userid start" "$(cat "$TMP/daemon.log")"
    uid=$(awk '/^Uid:/ {print $2, $3}' "/proc/$DPID/status")
    want=$(id -u nobody)
    [ "$uid" = "$want $want" ] && ok "runs as nobody (real and effective uid $want)" || fail "uid" "Uid: $uid"
    [ "$(stat -c %U "$TMP/tollgate.sock")" = nobody ] && ok "socket owned by nobody" ||
        fail "socket owner" "$(stat -c %U "$TMP/tollgate.sock")"
    run_lua actions
    stop_daemon
    [ $? -eq 0 ] && ok "UserID: clean exit" || fail "userid exit" "nonzero"
fi

# under systemd (JOURNAL_STREAM set) every line carries its priority as
# journald reads it, so journalctl -p err finds the errors
write_conf "$SOCK"
: > "$TMP/journal.log"
JOURNAL_STREAM=$(stat -c %d:%i "$TMP/journal.log") "$BUILD/tollgate" -f -c "$TMP/tollgate.conf" \
    >> "$TMP/journal.log" 2>&1 &
DPID=$!
for i in $(seq 1 50); do grep -q "listening on" "$TMP/journal.log" 2>/dev/null && break; sleep 0.1; done
stop_daemon
grep -q '^<5>tollgate .* listening on' "$TMP/journal.log" && ! grep -qv '^<[0-7]>' "$TMP/journal.log" &&
    ok "journal stream: every line starts with its <priority>" || fail "journal" "$(head -3 "$TMP/journal.log")"
# ... but not when the variable was only inherited (stderr is another file)
JOURNAL_STREAM=8:1 "$BUILD/tollgate" -f -c "$TMP/tollgate.conf" > "$TMP/plain.log" 2>&1 &
DPID=$!
for i in $(seq 1 50); do grep -q "listening on" "$TMP/plain.log" 2>/dev/null && break; sleep 0.1; done
stop_daemon
grep -q 'tollgate\[notice\]: tollgate .* listening on' "$TMP/plain.log" &&
    ok "an inherited JOURNAL_STREAM that is not stderr changes nothing" || fail "plain log" "$(head -3 "$TMP/plain.log")"
finish
