#!/bin/sh
# X-Spam-Relays-* against SpamAssassin itself: its Received parser (Perl,
# the installed spamassassin package) and tollgate's (rules/rcvd.c) over the
# corpus and the crafted headers of tests/fixtures/relays, with no networks
# configured and with trusted_networks/internal_networks/msa_networks.
set -u
T=relays
. "$(dirname "$0")/lib.sh"
TR="$BUILD/tollgate-rules"
SA=/usr/share/spamassassin
FIX=tests/fixtures/relays

# compare NAME EXTRA.cf|- FILES...: both dumps, byte for byte
compare() {
    name=$1; extra=$2; shift 2
    perl tests/integration/sa_relays.pl "$SA" "$extra" "$@" > "$TMP/sa.txt" 2> "$TMP/sa.err" ||
        { fail "$name" "SpamAssassin failed: $(tail -3 "$TMP/sa.err")"; return; }
    if [ "$extra" = - ]; then set -- --rules "$SA" "$@"; else set -- --rules "$SA" --rules "$extra" "$@"; fi
    "$TR" test --relays --matcher oracle "$@" > "$TMP/tg.txt" 2> "$TMP/tg.err" ||
        { fail "$name" "tollgate-rules failed: $(tail -3 "$TMP/tg.err")"; return; }
    n=$(grep -c '^== ' "$TMP/sa.txt")
    relays=$(grep -o '\[ ip=' "$TMP/sa.txt" | wc -l)
    trusted=$(grep -c '^Trusted: \[' "$TMP/sa.txt")
    intl=$(grep -o 'intl=1' "$TMP/sa.txt" | wc -l)
    if cmp -s "$TMP/sa.txt" "$TMP/tg.txt"; then
        ok "$name: $n messages, $relays relay entries ($trusted messages with trusted relays, $intl internal entries), identical to SpamAssassin"
    else
        fail "$name" "differs from SpamAssassin: $(diff "$TMP/sa.txt" "$TMP/tg.txt" | head -6)"
    fi
}

compare "corpus, no networks configured" - "$CORPUS"/ham/*.eml "$CORPUS"/spam/*.eml
compare "crafted formats, no networks configured" - "$FIX"/*.eml
compare "crafted formats, trusted/internal/msa networks" "$FIX/trust.cf" "$FIX"/*.eml
compare "corpus, trusted/internal/msa networks" "$FIX/trust.cf" "$CORPUS"/ham/0*.eml

# the comparisons mean something: every crafted message yields a relay, and
# the networks move relays into the trusted and internal parts
"$TR" test --relays --matcher oracle --rules "$SA" "$FIX"/*.eml > "$TMP/fx.txt" 2>/dev/null
empty=$(awk '/^== /{f=$2; all[f]=1; next} /\[ ip=/{seen[f]=1} END{for (k in all) if (!(k in seen)) print k}' "$TMP/fx.txt")
[ -z "$empty" ] && ok "every crafted message has a parsed relay" || fail "fixtures" "no relay in: $empty"
"$TR" test --relays --matcher oracle --rules "$SA" --rules "$FIX/trust.cf" "$FIX"/*.eml > "$TMP/fx2.txt" 2>/dev/null
t1=$(grep -c '^Trusted: \[' "$TMP/fx.txt"); t2=$(grep -c '^Trusted: \[' "$TMP/fx2.txt")
m2=$(grep -o 'msa=1' "$TMP/fx2.txt" | wc -l)
[ "$t2" -gt "$t1" ] && [ "$m2" -gt 0 ] && ok "trusted_networks trusts more ($t1 -> $t2 messages), msa_networks marks an MSA" ||
    fail "networks" "trusted $t1 -> $t2, msa $m2"

# a rule reads them: RDNS_NONE's sub-rule on a message whose relay has no rDNS
cat > "$TMP/r.cf" <<'CF'
header __RDNS_NONE X-Spam-Relays-External =~ /^[^\]]+ rdns= /
meta TG_RDNS_NONE __RDNS_NONE
score TG_RDNS_NONE 1.5
header TG_EXT_HAS_HELO ALL-EXTERNAL =~ /^Received: from helo\.example /m
score TG_EXT_HAS_HELO 0.5
CF
for m in fast oracle; do
    "$TR" test --matcher "$m" --cache "$TMP/cache" --rules "$TMP/r.cf" "$FIX/02-postfix-unknown.eml" > "$TMP/v.txt" 2>&1
    grep -q "TG_RDNS_NONE" "$TMP/v.txt" && grep -q "TG_EXT_HAS_HELO" "$TMP/v.txt" &&
        ok "$m matcher: a relay rule and an ALL-EXTERNAL rule hit" || fail "$m rule" "$(cat "$TMP/v.txt")"
    "$TR" test --matcher "$m" --cache "$TMP/cache" --rules "$TMP/r.cf" "$FIX/01-postfix.eml" > "$TMP/v.txt" 2>&1
    ! grep -q "TG_RDNS_NONE" "$TMP/v.txt" && ok "$m matcher: not on a relay with rDNS" || fail "$m no rule" "$(cat "$TMP/v.txt")"
done

# the SMTP client is the newest relay when no Received header records it
"$TR" test --relays --matcher oracle --rules "$TMP/r.cf" --client-ip 192.0.2.200 --client-name unknown \
    --helo pc.example "$FIX/01-postfix.eml" > "$TMP/c.txt" 2>&1
grep -q '^Untrusted: \[ ip=192.0.2.200 rdns= helo=pc.example by= ident= envfrom= intl=0 id= auth= msa=0 \] \[ ip=198.51.100.7 ' "$TMP/c.txt" &&
    ok "the SMTP client comes first" || fail "client" "$(cat "$TMP/c.txt")"
"$TR" test --relays --matcher oracle --rules "$TMP/r.cf" --client-ip 198.51.100.7 "$FIX/01-postfix.eml" > "$TMP/c.txt" 2>&1
[ "$(grep -o '\[ ip=' "$TMP/c.txt" | wc -l)" -eq 2 ] && grep -q '^Untrusted: \[ ip=198.51.100.7 rdns=mail.example.org ' "$TMP/c.txt" &&
    ok "not twice when the top Received header records it" || fail "client dup" "$(cat "$TMP/c.txt")"

# a bad network names file:line:col
printf 'trusted_networks 10.0.0.0/8 300.1.2.3\n' > "$TMP/bad.cf"
"$TR" check "$TMP/bad.cf" > /dev/null 2> "$TMP/bad.err"
rc=$?
[ $rc -eq 1 ] && grep -q "$TMP/bad.cf:1:29: '300.1.2.3' is not an IP address or network" "$TMP/bad.err" &&
    ok "a bad network fails with file:line:col" || fail "bad network" "rc=$rc $(cat "$TMP/bad.err")"
finish
