#!/bin/sh
# Self-test of lib_postfix.sh: a private Postfix on 127.0.0.1 whose milter
# port has no listener. (a) milter_default_action=accept: mail reaches the
# sink intact; header_checks HOLD and REJECT stand in for a milter's
# quarantine and reject, proving pf_hold_count and pf_reply. (b) tempfail,
# started through `postfix start`: the client gets 451 4.7.1 and nothing is
# delivered. After each pf_stop no process of the instance is left.
# Not numbered: run-all.sh does not pick it up. Needs root.
set -u
T=lib_postfix_selftest
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_postfix.sh"
trap 'pf_stop; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
base=$((21000 + ($$ % 1000) * 2))      # SMTP port; the sink takes base+1
mport=$((23000 + ($$ % 1000)))         # milter port: nothing may listen here
if ss -Hltn "sport = :$mport" | grep -q .; then mport=$((mport + 1000)); fi
echo "  ports: smtpd 127.0.0.1:$base, sink $((base + 1)), milter (absent) $mport"

# leftovers NAME: no process of the stopped instance remains.
leftovers() {
    left=$(ps -eo pid=,pgid=,args= | awk -v g="$1" -v s="$2" '$2 == g || $1 == s')
    if [ -z "$left" ]; then ok "$3: nothing left running"; else fail "$3 leftovers" "$left"; fi
}

# --- (a) accept
mkdir "$TMP/a"
printf '/^Subject: hold me/ HOLD selftest quarantine\n/^Subject: reject me/ REJECT 5.7.1 selftest rejected\n' \
    > "$TMP/header_checks"
PF_MAIN_CF_EXTRA="header_checks = regexp:$TMP/header_checks"
if pf_start "$TMP/a" "$base" "inet:127.0.0.1:$mport" accept; then
    ok "pf_start (accept)"
    subj="lib_postfix selftest $$"
    pf_send --from sender@example.net --to rcpt@example.org --header "Subject: $subj"
    rc=$?
    [ $rc -eq 0 ] && pf_reply | grep -q '^250 2.0.0 Ok: queued as ' &&
        ok "accepted: $(pf_reply)" || fail "send" "rc=$rc $(pf_reply)"
    if pf_wait_delivered 1 15; then
        f=$(pf_delivered_files | head -n 1)
        grep -qx "Subject: $subj" "$f" && grep -q '^X-Rcpt-Args: <rcpt@example.org>' "$f" &&
            ok "delivered to the sink, Subject intact" || fail "delivered content" "$(cat "$f")"
    else
        fail "delivery" "nothing in $PF_DELIVERED"
    fi
    grep -q "warning: connect to Milter service inet:127.0.0.1:$mport" "$PF_MAILLOG" &&
        ok "maillog readable; the milter was tried" || fail "maillog" "$(tail -5 "$PF_MAILLOG")"

    pf_send --from sender@example.net --to rcpt@example.org --header "Subject: hold me"
    [ $? -eq 0 ] && [ "$(pf_hold_count)" -eq 1 ] && ok "held message counted by pf_hold_count" ||
        fail "hold" "count=$(pf_hold_count) $(pf_reply)"
    pf_send --from sender@example.net --to rcpt@example.org --header "Subject: reject me"
    rc=$?
    [ $rc -ne 0 ] && [ "$(pf_reply)" = "550 5.7.1 selftest rejected" ] &&
        ok "rejection text via pf_reply: $(pf_reply)" || fail "reject" "rc=$rc '$(pf_reply)'"

    i=0
    while [ $i -lt 3 ]; do
        i=$((i + 1))
        pf_send --from sender@example.net --to "r$i@example.org" --header "Subject: batch $i" ||
            fail "batch $i" "$(pf_reply)"
    done
    pf_wait_delivered 4 20 && ok "4 messages delivered, none of the held or rejected" ||
        fail "batch delivery" "$(pf_delivered_files | wc -l) files"
    pf_wait_queue_empty 10 && [ "$(pf_queue_count)" -eq 1 ] && ok "queue: only the held message" ||
        fail "queue" "$(pf_queue_count)"
    sleep 1
    [ "$(pf_delivered_files | wc -l)" -eq 4 ] && ok "exactly 4 delivered" ||
        fail "delivered count" "$(pf_delivered_files | wc -l)"
    m=$PF_MASTER_PID s=$PF_SINK_PID
    pf_stop
    leftovers "$m" "$s" "accept instance"
    [ -s "$TMP/a/maillog" ] && [ -d "$TMP/a/delivered" ] && ok "pf_stop leaves DIR in place" ||
        fail "DIR" "removed"
else
    fail "pf_start (accept)" "see above"
fi
PF_MAIN_CF_EXTRA=

# --- (b) tempfail, through `postfix -c DIR start`
mkdir "$TMP/b"
if PF_POSTFIX_START=1 pf_start "$TMP/b" "$base" "inet:127.0.0.1:$mport"; then
    ok "pf_start (tempfail, postfix start)"
    pf_send --from sender@example.net --to rcpt@example.org --header "Subject: never"
    rc=$?
    r=$(pf_reply)
    [ $rc -ne 0 ] && case $r in 451\ 4.7.1*) true ;; *) false ;; esac &&
        ok "milter unreachable + tempfail: $r" || fail "tempfail" "rc=$rc '$r'"
    sleep 1
    [ "$(pf_delivered_files | wc -l)" -eq 0 ] && [ "$(pf_queue_count)" -eq 0 ] &&
        ok "nothing queued or delivered" || fail "tempfail queue" "$(pf_queue_count)"
    m=$PF_MASTER_PID s=$PF_SINK_PID
    pf_stop
    leftovers "$m" "$s" "tempfail instance"
else
    fail "pf_start (tempfail)" "see above"
fi

# --- misuse is refused, not half-done
pf_start "$TMP/none" "$base" "inet:127.0.0.1:$mport" 2>/dev/null && { pf_stop; fail "bad DIR" "started"; } ||
    ok "pf_start refuses a missing DIR"
echo "  selftest took $(( $(date +%s) - start ))s"
finish
