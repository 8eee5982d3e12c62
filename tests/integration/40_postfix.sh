#!/bin/sh
# End to end: a real Postfix on 127.0.0.1 (private instance, lib_postfix.sh)
# with tollgate as its milter; mail sent with swaks is delivered to a sink
# with tollgate's headers, rejected or tempfailed at SMTP with the
# configured text, held in Postfix's hold queue, or discarded.
set -u
T=postfix
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_postfix.sh"
ROOT=$(pwd)
base=$((24000 + ($$ % 1000) * 2))   # smtpd; the sink takes base+1
MPORT=$(free_port $((26000 + ($$ % 1000))))
DPID=
trap 'pf_stop; [ -n "$DPID" ] && kill -KILL $DPID 2>/dev/null; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

cat > "$TMP/test.cf" <<'CF'
body     T_TAGWORD  /\bviagra\b/i
score    T_TAGWORD  6.0
body     T_TEMPWORD /\btempfail-me\b/
action   T_TEMPWORD tempfail "4.7.1 Try again later (test)"
body     T_QUARWORD /\bquarantine-me\b/
action   T_QUARWORD quarantine "held by test rule"
body     T_DISCWORD /\bdiscard-me\b/
action   T_DISCWORD discard
header   __T_RELAYSUBJ Subject =~ /^relay check$/
header   __T_RELAY1 X-Spam-Relays-Trusted =~ /^\[ ip=127\.0\.0\.1 rdns=\S* helo=\S+ by=/
header   __T_RELAY2 X-Spam-Relays-Trusted =~ /ip=127\.0\.0\.1 .*ip=127\.0\.0\.1 /
header   __T_RELAYBY X-Spam-Relays-Trusted =~ /^\[ [^\]]* by=\S/
meta     T_RELAY_ONE __T_RELAYSUBJ && __T_RELAY1 && !__T_RELAY2
score    T_RELAY_ONE 0.1
meta     T_RELAY_BY __T_RELAYSUBJ && __T_RELAYBY
score    T_RELAY_BY 0.1
CF
printf 'example.net TXT v=spf1 ip4:127.0.0.1 -all\n' > "$TMP/zone"
cat > "$TMP/tollgate.conf" <<CONF
Socket        inet:$MPORT@127.0.0.1
Rules         $ROOT/deploy/rules $TMP/test.cf
InternalNetworks 10.99.0.0/16
LocalDomains  example.org
SPF           yes
RulesCacheDir $TMP/cache
SPFTestZone   $TMP/zone
AuthservID    mx.tollgate.test
SubjectPrefix [SPAM]
CONF
daemon_start "$TMP/tollgate.conf" "$TMP/daemon.log" && ok "tollgate listens on 127.0.0.1:$MPORT" ||
    { fail "tollgate start" "$(cat "$TMP/daemon.log")"; finish; exit 1; }

mkdir "$TMP/pf"
pf_start "$TMP/pf" "$base" "inet:127.0.0.1:$MPORT" tempfail && ok "private Postfix on 127.0.0.1:$base" ||
    { fail "postfix start" "see above"; finish; exit 1; }

send() { # SUBJECT BODY [more swaks args]
    subj=$1; body=$2; shift 2
    pf_send --from sender@example.net --to rcpt@example.org --header "Subject: $subj" --body "$body" "$@"
}

send "plain note" "Hello, see you tomorrow."
[ $? -eq 0 ] && ok "clean: accepted ($(pf_reply))" || fail clean "$(pf_reply)"
send "cheap pills" "buy viagra now"
[ $? -eq 0 ] && ok "tagged: accepted" || fail tag "$(pf_reply)"
if pf_wait_delivered 2 20; then
    f1=$(pf_delivered_files | sed -n 1p); f2=$(pf_delivered_files | sed -n 2p)
    grep -q '^X-Spam-Status: No, score=0.0 required=5.0 tests=none' "$f1" &&
        grep -q '^Authentication-Results: mx.tollgate.test; spf=pass smtp.mailfrom=example.net' "$f1" &&
        ! grep -q '^X-Spam-Flag' "$f1" && ok "clean: delivered with X-Spam-Status No and SPF result" ||
        fail "clean headers" "$(sed -n '1,25p' "$f1")"
    grep -q '^X-Spam-Flag: YES' "$f2" && grep -q '^X-Spam-Status: Yes, score=6.0 required=5.0 tests=T_TAGWORD' "$f2" &&
        grep -q '^Subject: \[SPAM\] cheap pills' "$f2" && ok "tagged: delivered with X-Spam-Flag, Status and Subject prefix" ||
        fail "tag headers" "$(sed -n '1,25p' "$f2")"
else
    fail delivery "$(pf_delivered_files | wc -l) delivered"
fi

# the relays a milter sees: the SMTP client (127.0.0.1, trusted) once,
# with the MTA's name ({j}) as by= (Postfix does not show milters its own
# Received header: the relay comes from the session)
send "relay check" "Hello again."
[ $? -eq 0 ] && pf_wait_delivered 3 20 && f3=$(pf_delivered_files | sed -n 3p) &&
    grep -q '^X-Spam-Status: No, .*tests=T_RELAY_ONE,T_RELAY_BY' "$f3" &&
    ok "relays: the client is the first trusted relay, once ($(grep -o 'tests=[A-Z_,]*' "$f3"))" ||
    fail relays "$(grep '^X-Spam-Status' "$f3" 2>/dev/null) $(pf_reply)"

printf 'MZ\220\0\3\0\0\0' > "$TMP/invoice.exe"
send "invoice" "see attachment" --attach "@$TMP/invoice.exe"
rc=$?
[ $rc -ne 0 ] && [ "$(pf_reply)" = "550 5.7.1 Executable attachments are not accepted" ] &&
    ok "executable attachment rejected at SMTP: $(pf_reply)" || fail reject "rc=$rc '$(pf_reply)'"

send "later" "tempfail-me"
rc=$?
[ $rc -ne 0 ] && [ "$(pf_reply)" = "451 4.7.1 Try again later (test)" ] &&
    ok "tempfail at SMTP: $(pf_reply)" || fail tempfail "rc=$rc '$(pf_reply)'"

send "hold this" "quarantine-me"
[ $? -eq 0 ] && ok "quarantined message accepted at SMTP" || fail "quarantine send" "$(pf_reply)"
for i in $(seq 1 50); do [ "$(pf_hold_count)" -ge 1 ] && break; sleep 0.1; done
[ "$(pf_hold_count)" -eq 1 ] && ok "quarantine: in Postfix's hold queue" || fail quarantine "hold=$(pf_hold_count)"
held=$(find "$PF_QUEUE/hold" -type f | head -1)
[ -n "$held" ] && pf_postcat "$held" | grep -q "^Subject: hold this" && pf_postcat "$held" | grep -q "^X-Spam-Status: " &&
    ok "the held message is the quarantined one, with tollgate's headers" || fail "held content" "$(pf_postcat "$held" | head -30)"

send "bin it" "discard-me"
[ $? -eq 0 ] && ok "discarded message accepted at SMTP" || fail "discard send" "$(pf_reply)"
for i in $(seq 1 50); do grep -q "milter triggers DISCARD" "$PF_MAILLOG" && break; sleep 0.1; done
grep -q "milter triggers DISCARD action" "$PF_MAILLOG" && ok "discard: Postfix dropped it" || fail discard "$(tail -3 "$PF_MAILLOG")"
pf_wait_queue_empty 20
[ "$(pf_delivered_files | wc -l)" -eq 3 ] && ok "only the clean, tagged and relay-check messages were delivered" ||
    fail "delivered count" "$(pf_delivered_files | wc -l)"

# tollgate's log carries Postfix's queue ids
qid=$(grep -o 'queued as [0-9A-Z]*' "$PF_DIR/smtp/1.txt" 2>/dev/null | head -1 | awk '{print $3}')
[ -n "$qid" ] && grep -q "^.*tollgate\[info\]: $qid: dir=inbound" "$TMP/daemon.log" &&
    ok "per-message log line uses Postfix's queue id $qid" || fail "queue id" "qid=$qid $(grep 'dir=' "$TMP/daemon.log" | head -2)"

# milter down: Postfix applies milter_default_action (tempfail), mail is not lost
daemon_stop; DPID=
send "while down" "hello"
rc=$?
[ $rc -ne 0 ] && pf_reply | grep -q '^451 4.7.1' && ok "daemon down: Postfix tempfails ($(pf_reply))" ||
    fail "down" "rc=$rc $(pf_reply)"
finish
