#!/bin/sh
# tollgate-rules against the real SpamAssassin rules and the shared corpus.
set -u
T=rules_cli
. "$(dirname "$0")/lib.sh"
TR="$BUILD/tollgate-rules"
SA=/usr/share/spamassassin

# --- check: counts, JSON, exit codes
"$TR" check --json "$SA" deploy/rules > "$TMP/check.json" 2> "$TMP/check.err"
rc=$?
[ $rc -eq 0 ] && ok "check SpamAssassin + shipped rules exits 0" || fail "check exit" "rc=$rc $(cat "$TMP/check.err")"
num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$TMP/check.json"; }
regex=$(num loaded_regex); rejected=$(num rejected); seval=$(num skipped_eval); sunsup=$(num skipped_unsupported)
echo "  check: loaded_regex=$regex rejected=$rejected skipped_eval=$seval skipped_unsupported=$sunsup"
[ "${regex:-0}" -ge 1400 ] && ok "at least 1400 regex rules load ($regex)" || fail "regex count" "$regex"
wide=$(num wide)
[ "${rejected:-0}" -eq 0 ] && [ "${wide:-0}" -eq 8 ] &&
    ok "none rejected: the 8 ReplaceTags patterns too large for 8-bit PCRE2 run with the 32-bit library" ||
    fail "rejected" "rejected=$rejected wide=$wide"
[ "${seval:-0}" -gt 300 ] && ok "eval tests are counted ($seval)" || fail "eval count" "$seval"
# a pattern over the 1 MiB limit is rejected with its reason and place
awk 'BEGIN { printf "body TOOBIG /(?:"; for (i = 0; i < 120000; i++) printf "%sword%d", i ? "|" : "", i; print ")/" }' > "$TMP/toobig.cf"
"$TR" check --json "$TMP/toobig.cf" > "$TMP/toobig.json" 2>&1
grep -q '"rejected":1,' "$TMP/toobig.json" &&
    grep -q '"rejected_reasons":\[{"what":"TOOBIG: regular expression is too large (over 1024 KiB)' "$TMP/toobig.json" &&
    ok "rejections carry reasons" || fail "reasons" "$(head -c 300 "$TMP/toobig.json")"

"$TR" check "$SA" > "$TMP/check.txt"
grep -q "^rejected-by-PCRE2:   0" "$TMP/check.txt" && grep -q "^32-bit PCRE2:        8 " "$TMP/check.txt" &&
    grep -q "skipped-eval:" "$TMP/check.txt" &&
    grep -q "first at $SA/" "$TMP/check.txt" && ok "text summary names counts and places" || fail "text summary" "$(head -8 "$TMP/check.txt")"

printf 'body OK /fine/\n\nheader BAD Subject =~ /unterminated\n' > "$TMP/bad.cf"
"$TR" check "$TMP/bad.cf" > /dev/null 2> "$TMP/bad.err"
rc=$?
[ $rc -eq 1 ] && grep -q "$TMP/bad.cf:3:23: regular expression is not terminated" "$TMP/bad.err" &&
    ok "a broken file fails with file:line:col" || fail "broken file" "rc=$rc $(cat "$TMP/bad.err")"
"$TR" check /nonexistent/rules.cf > /dev/null 2>&1; [ $? -eq 1 ] && ok "missing path fails" || fail "missing path" "rc"
"$TR" frobnicate > /dev/null 2>&1; [ $? -eq 2 ] && ok "usage error exits 2" || fail "usage" "rc"

# --- test: the corpus, SpamAssassin + shipped rules
[ -d "$CORPUS/spam" ] && [ -d "$CORPUS/ham" ] || { fail corpus "no corpus at $CORPUS"; finish; exit 1; }
for kind in spam ham; do
    "$TR" test --json --cache "$HSCACHE" --rules "$SA" --rules deploy/rules "$CORPUS/$kind"/*.eml \
        > "$TMP/$kind.json" 2> "$TMP/$kind.err"
    rc=$?
    n=$(wc -l < "$TMP/$kind.json"); files=$(ls "$CORPUS/$kind" | wc -l)
    [ $rc -eq 0 ] && [ "$n" -eq "$files" ] && ok "$kind: a verdict for each of $files messages" || fail "$kind run" "rc=$rc lines=$n files=$files"
    lim=$(grep -vc '"regex_limit_hits":0}' "$TMP/$kind.json")
    [ "$lim" -eq 0 ] && ok "$kind: no PCRE2 match ran into a limit" || fail "$kind limits" "$lim messages"
    sed -n 's/^{"file":"[^"]*","score":\([-0-9.]*\),.*/\1/p' "$TMP/$kind.json" |
        awk -v k=$kind '{s+=$1; if ($1>=5) h++; n++} END {printf "%s %d %.2f %.1f\n", k, n, s/n, 100*h/n}' >> "$TMP/means"
done
cat "$TMP/means" | while read k n mean share; do echo "  $k: $n messages, mean score $mean, $share% at or above 5.0"; done
# hit counts per rule, recorded for the record (and for issue 3's diff test)
cat "$TMP/spam.json" "$TMP/ham.json" | sed -n 's/.*"hits":\[\([^]]*\)\].*/\1/p' | tr ',' '\n' | tr -d '"' |
    grep . | sort | uniq -c | sort -rn > "$BUILD/corpus-hits.txt"
echo "  rule hit counts over the corpus: $BUILD/corpus-hits.txt ($(wc -l < "$BUILD/corpus-hits.txt") rules hit)"
awk 'NR==FNR {m[$1]=$3; s[$1]=$4; next} END {
        if (m["spam"] - m["ham"] >= 2) print "ok"; else print "bad means";
        if (s["spam"] >= 20 && s["ham"] <= 1) print "ok"; else print "bad shares" }' "$TMP/means" /dev/null > "$TMP/verdict"
[ "$(sed -n 1p "$TMP/verdict")" = ok ] && ok "spam scores clearly above ham (>= 2 points)" || fail "means" "$(cat "$TMP/means")"
[ "$(sed -n 2p "$TMP/verdict")" = ok ] && ok "over 20% of spam and at most 1% of ham reach 5.0" || fail "shares" "$(cat "$TMP/means")"

# --- the stock rules that need the 32-bit library (__MY_MALWARE, __PAY_ME,
# __YOUR_WEBCAM, __FILL_THIS_FORM_LONG1 ...) hit as SpamAssassin's own Perl
# has them: the extortion and form metas, in both matchers, against a real
# spamassassin -L run on the same messages
for f in sextortion fill_form; do
    spamassassin -L -t --cf='use_bayes 0' --cf='add_header all Tests _TESTS_' < tests/fixtures/sa/$f.eml 2> /dev/null |
        sed -n '/^X-Spam-Tests:/,/^[^ \t]/p' | sed '$d' | tr -d ' \t\n' | sed 's/^X-Spam-Tests://' | tr ',' '\n' |
        grep -E '^(BITCOIN_|FILL_THIS_FORM)' | sort > "$TMP/$f.sa"
    for m in oracle fast; do
        "$TR" test --json --cache "$HSCACHE" --matcher $m --rules "$SA" --rules deploy/rules \
            tests/fixtures/sa/$f.eml |
            sed -n 's/.*"hits":\[\([^]]*\)\].*/\1/p' | tr ',' '\n' | tr -d '"' |
            grep -E '^(BITCOIN_|FILL_THIS_FORM)' | sort > "$TMP/$f.$m"
    done
    if [ -s "$TMP/$f.sa" ] && cmp -s "$TMP/$f.sa" "$TMP/$f.oracle" && cmp -s "$TMP/$f.sa" "$TMP/$f.fast"; then
        ok "$f: $(tr '\n' ' ' < "$TMP/$f.sa")as SpamAssassin 4 gives them, both matchers"
    else
        fail "$f hits" "spamassassin: $(tr '\n' ' ' < "$TMP/$f.sa") oracle: $(tr '\n' ' ' < "$TMP/$f.oracle") fast: $(tr '\n' ' ' < "$TMP/$f.fast")"
    fi
done

# --- test: envelope options reach the rules; text output like spamassassin -t
printf 'From: boss@example.org\nTo: a@example.org\nSubject: urgent\n\nPay now.\n' > "$TMP/spoof.eml"
XDG_CACHE_HOME="$TMP/xdg" "$TR" test --rules deploy/rules --client-ip 198.51.100.7 \
    --from boss@example.org --rcpt a@example.org --spf fail --direction inbound \
    --local-domain example.org "$TMP/spoof.eml" > "$TMP/spoof.txt"
ls "$TMP/xdg/tollgate/"*.hsdb > /dev/null 2>&1 &&
    ok "without --cache the databases are cached in \$XDG_CACHE_HOME/tollgate" ||
    fail "default cache" "nothing in $TMP/xdg/tollgate"
grep -q "action reject" "$TMP/spoof.txt" && grep -q "TG_SPOOF_LOCAL_SPF_FAIL" "$TMP/spoof.txt" &&
    grep -q "reply: 550 5.7.23 SPF check failed for a local domain" "$TMP/spoof.txt" &&
    ok "envelope options drive the shipped spoofing rules" || fail "spoof" "$(cat "$TMP/spoof.txt")"

# --- test --profile: where the fast matcher's time went, after the verdicts
cat > "$TMP/prof.cf" <<'CF'
body     PROF_E      /e/
tflags   PROF_E      multiple
score    PROF_E      0.1
body     PROF_BACK   /(\w+) \1/
score    PROF_BACK   0.1
header   PROF_SUBJ   Subject =~ /urgent/i
score    PROF_SUBJ   0.1
CF
for i in 1 2 3; do printf 'From: a@example.org\nSubject: urgent %d\n\nthe the tree\n\nsee me\n' $i > "$TMP/p$i.eml"; done
"$TR" test --profile --cache "$TMP/pc" --rules "$TMP/prof.cf" "$TMP"/p1.eml "$TMP"/p2.eml "$TMP"/p3.eml > "$TMP/prof.txt" 2>&1
rc=$?
verdicts=$(grep -c "^$TMP/p[123].eml\$" "$TMP/prof.txt")
# PROF_E is counted with PCRE2: 3 strings a message have an e (subject and two lines)
erow=$(awk '$1 == "PROF_E" {print $2, $5}' "$TMP/prof.txt")
[ $rc -eq 0 ] && [ "$verdicts" -eq 3 ] && grep -q "per message over 3$" "$TMP/prof.txt" && grep -q '^body ' "$TMP/prof.txt" &&
    [ "$erow" = "exact 9" ] && grep -q '^PROF_BACK *pcre ' "$TMP/prof.txt" &&
    ok "test --profile: per class and per rule (PROF_E counted on 9 strings, PROF_BACK on PCRE2)" ||
    fail "--profile" "rc=$rc PROF_E row '$erow' $(head -c 600 "$TMP/prof.txt")"
# ... and per database: the body class's main database scanned over the 3
# strings of the first message (subject line, two paragraphs), then only
# over the other two's subject lines: their paragraphs are the first's,
# replayed from the scan memo (4 strings, 2 x 13 + 2 x 7 bytes); Subject's
# once a message (each different)
dbrow=$(awk '$1 == "body" && $2 == "main" {print $4}' "$TMP/prof.txt")
sbrow=$(awk '$1 == "header" && $2 == "Subject" && $3 == "main" {print $5}' "$TMP/prof.txt")
grep -q '^database (by time) ' "$TMP/prof.txt" && [ "$dbrow" = "1.67" ] && [ "$sbrow" = "1.00" ] &&
    grep -q "^scan memo (16384 slots): 4 of 12 strings looked up replayed an earlier scan's reports (40 of " "$TMP/prof.txt" &&
    ok "test --profile: per database (body main 1.67 scans a message, Subject 1.00) and the memo's 4 replays" ||
    fail "--profile per database" "body '$dbrow' subject '$sbrow' $(grep -A4 '^database' "$TMP/prof.txt") $(grep '^scan memo' "$TMP/prof.txt")"
"$TR" test --profile --json --rules "$TMP/prof.cf" "$TMP/p1.eml" > /dev/null 2> "$TMP/pu1.err"; r1=$?
"$TR" test --profile --matcher oracle --rules "$TMP/prof.cf" "$TMP/p1.eml" > /dev/null 2> "$TMP/pu2.err"; r2=$?
[ $r1 -eq 2 ] && [ $r2 -eq 2 ] && grep -q "takes neither" "$TMP/pu1.err" && grep -q "takes neither" "$TMP/pu2.err" && ok "--profile with --json or the oracle matcher is a usage error" ||
    fail "--profile usage" "rc $r1 $r2"
finish
