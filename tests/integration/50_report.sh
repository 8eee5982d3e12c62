#!/bin/sh
# tollgate-stats against a real redis-server filled by statsgen through the
# batch path: every format states the figures statsgen says it wrote.
set -u
T=report
. "$(dirname "$0")/lib.sh"
TS="$BUILD/tollgate-stats"
GEN="$BUILD/statsgen"
ZONE=Europe/London

for b in "$TS" "$GEN"; do
    [ -x "$b" ] || { fail build "$b is missing (make $b)"; finish; exit 1; }
done
command -v redis-server > /dev/null || { fail redis "redis-server is not installed"; finish; exit 1; }

# --- a private redis-server on a free loopback port
RPID=
cleanup() {
    [ -n "$RPID" ] && kill "$RPID" 2> /dev/null && wait "$RPID" 2> /dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ping_redis() { redis-cli -h 127.0.0.1 -p "$1" ping 2> /dev/null | grep -q PONG; }
PORT=
for try in 1 2 3 4 5 6 7 8; do
    p=$((21000 + ($$ * 7 + try * 389) % 20000))
    ping_redis "$p" && continue                     # somebody else's
    redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
        > "$TMP/redis.log" 2>&1 &
    RPID=$!
    i=0
    while [ $i -lt 50 ] && kill -0 "$RPID" 2> /dev/null && ! ping_redis "$p"; do
        sleep 0.1; i=$((i + 1))
    done
    if ping_redis "$p" && kill -0 "$RPID" 2> /dev/null; then PORT=$p; break; fi
    kill "$RPID" 2> /dev/null; wait "$RPID" 2> /dev/null; RPID=
done
[ -n "$PORT" ] || { fail redis "no redis-server could start: $(tail -3 "$TMP/redis.log")"; finish; exit 1; }
URL="redis://127.0.0.1:$PORT/0"
echo "  redis-server on 127.0.0.1:$PORT"

# The current month in the zone: its hour keys are all still in Redis
# (they live 40 days), and "today" has data.
MONTH=$(TZ=$ZONE date +%Y-%m)
Y=${MONTH%-*}; M=${MONTH#*-}
LY=$((Y - 1))
MNAME=$(LC_ALL=C date -d "$Y-$M-15" +%B)

# --- statsgen
"$GEN" --redis "$URL" --year "$Y" --month "$((1$M - 100))" --tenants acme,globex,initech \
    --seed 7 --timezone $ZONE > "$TMP/gen.json" 2> "$TMP/gen.err"
rc=$?
[ $rc -eq 0 ] && ok "statsgen wrote two years through the batch path" || { fail statsgen "rc=$rc $(cat "$TMP/gen.err")"; finish; exit 1; }
# first NUM FILE PREFIX: the number right after the first match of PREFIX
first() { grep -o "$2[-0-9.]*" "$1" | head -1 | sed 's/.*[^-0-9.]\([-0-9.]*\)$/\1/'; }
g() { first "$TMP/gen.json" "$1"; }
IN=$(g '"all":{"in":{"msgs":')
OUT=$(g '"all":{"in":{[^}]*}[^}]*}},"out":{"msgs":')
DPCT=$(g '"delivered_pct":')
DLV=$(g '"delivered":')
YOY_IN=$(g '"prev_year":{"month":"[0-9-]*","in":')
YOY_OUT=$(g '"prev_year":{"month":"[0-9-]*","in":[-0-9.]*,"out":')
TOPRULE=$(grep -o '"top_rule":{"rule":"[A-Z_0-9]*"' "$TMP/gen.json" | sed 's/.*:"\(.*\)"/\1/')
TOPHITS=$(g '"top_rule":{"rule":"[A-Z_0-9]*","hits":')
BATCHES=$(g '"batches":')
tin() { g "\"$1\":{\"in\":{\"msgs\":"; }
echo "  statsgen $MONTH: in=$IN out=$OUT delivered=$DPCT% yoy in=$YOY_IN% out=$YOY_OUT% batches=$BATCHES top=$TOPRULE"
awk -v i="$IN" -v o="$OUT" -v d="$DPCT" -v y="$YOY_IN" -v yo="$YOY_OUT" 'BEGIN {
    exit !(i > 8000000 && i < 12000000 && o > 1300000 && o < 1700000 && d >= 14.5 && d <= 15.5 &&
           y >= 65 && y <= 75 && yo > -3 && yo < 3) }' &&
    ok "synthetic month is shaped like management's figures (~9.8M in, +70%, 15%, ~1.5M out)" ||
    fail shape "in=$IN out=$OUT d=$DPCT yoy=$YOY_IN/$YOY_OUT"
SUMT=$(( $(tin acme) + $(tin globex) + $(tin initech) ))
[ "$SUMT" -eq "$IN" ] && ok "statsgen's tenants sum to _all ($SUMT)" || fail "tenant sum" "$SUMT != $IN"

commas() { echo "$1" | sed -e :a -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/;ta'; }
sign() { case $1 in -*) echo "$1" ;; 0.0) echo "0.0" ;; *) echo "+$1" ;; esac; }
CIN=$(commas "$IN"); COUT=$(commas "$OUT")
[ "$(commas 9812345)" = "9,812,345" ] || fail commas "$(commas 9812345)"

# --- text
"$TS" report --redis "$URL" --timezone $ZONE --month "$MONTH" --by-tenant > "$TMP/r.txt" 2> "$TMP/r.err"
rc=$?
[ $rc -eq 0 ] && ok "text report exits 0" || fail "text report" "rc=$rc $(cat "$TMP/r.err")"
# the options may come before the command too, as README.md writes them
"$TS" --redis "$URL" --timezone $ZONE report --month "$MONTH" --by-tenant > "$TMP/r2.txt" 2>&1
cmp -s "$TMP/r.txt" "$TMP/r2.txt" && ok "options before the command: the same report" \
    || fail "option order" "$(head -3 "$TMP/r2.txt")"
flat=$(tr '\n' ' ' < "$TMP/r.txt" | tr -s ' ')
case $flat in
*"In $MNAME $Y, $CIN messages came in ($(sign "$YOY_IN")% on $MNAME $LY,"*)
    ok "text: incoming total and year-on-year change ($CIN, $(sign "$YOY_IN")%)" ;;
*) fail "text sentence (in)" "$(head -8 "$TMP/r.txt")" ;;
esac
case $flat in
*"; $DPCT% of them were delivered to inboxes after spam, security threats and policy violations were filtered out."*)
    ok "text: $DPCT% delivered to inboxes" ;;
*) fail "text sentence (delivered)" "$(head -8 "$TMP/r.txt")" ;;
esac
case $flat in
*" $COUT messages went out ($(sign "$YOY_OUT")% on $MNAME $LY;"*) ok "text: outgoing total $COUT" ;;
*) fail "text sentence (out)" "$(head -8 "$TMP/r.txt")" ;;
esac
grep -q "^Completeness: complete: every sender (2)" "$TMP/r.txt" && ok "text: completeness says complete" ||
    fail completeness "$(grep -A1 Completeness "$TMP/r.txt")"
grep -q "The tenants add up to the service-wide total." "$TMP/r.txt" && ok "text: tenants add up to _all" ||
    fail "text tenants" "$(sed -n '/^Tenants/,$p' "$TMP/r.txt")"
grep -q "^Peak hour: .* UTC, " "$TMP/r.txt" && grep -q "^Peak day:  [A-Z][a-z]*day $Y-$M-" "$TMP/r.txt" &&
    ok "text: peak day and peak hour (UTC)" || fail peaks "$(grep ^Peak "$TMP/r.txt")"
grep -q "^  delivered to inboxes  *$(commas "$DLV")  *$DPCT%" "$TMP/r.txt" && ok "text: funnel line" ||
    fail funnel "$(grep 'delivered to inboxes ' "$TMP/r.txt")"

# --- JSON
"$TS" report --redis "$URL" --timezone $ZONE --month "$MONTH" --by-tenant --format json -o "$TMP/r.json"
rc=$?
j() { first "$TMP/r.json" "$1"; }
[ $rc -eq 0 ] && head -c 20 "$TMP/r.json" | grep -q "^{\"month\":\"$MONTH\"" && ok "json: -o writes the month" || fail json "rc=$rc"
[ "$(j '"tenant":"_all","timezone":"[^"]*","in":{"msgs":')" = "$IN" ] && ok "json: in.msgs = $IN" || fail "json in" "$(head -c 300 "$TMP/r.json")"
[ "$(j '"tenant":"_all","timezone":"[^"]*","in":{[^}]*}[^}]*}},"out":{"msgs":')" = "$OUT" ] && ok "json: out.msgs = $OUT" || fail "json out" ""
[ "$(j '"delivered":{"msgs":[0-9]*,"pct":')" = "$DPCT" ] && [ "$(j '"delivered":{"msgs":')" = "$DLV" ] &&
    ok "json: delivered $DLV, $DPCT%" || fail "json delivered" ""
[ "$(j '"prev_year":{"month":"[0-9-]*","in":')" = "$YOY_IN" ] && ok "json: change.prev_year.in = $YOY_IN" || fail "json yoy" ""
grep -q '"complete":true' "$TMP/r.json" && ok "json: complete" || fail "json complete" ""
grep -q '"verdicts":{"clean":[0-9]*,"tagged":[0-9]*,"spam":[0-9]*,"security":[0-9]*,"policy":[0-9]*,"tempfail":[0-9]*}' "$TMP/r.json" &&
    grep -q '"avg12":{' "$TMP/r.json" && grep -q '"days":\[{"date":"' "$TMP/r.json" && grep -q '"peak_day":{' "$TMP/r.json" &&
    grep -q '"peak_hour":{"hour_utc":"' "$TMP/r.json" && grep -q "\"top_rules\":\[{\"rule\":\"$TOPRULE\",\"hits\":$TOPHITS," "$TMP/r.json" &&
    ok "json: verdicts, avg12, days, peaks, top_rules" || fail "json fields" ""
# per-tenant in.msgs: each as statsgen wrote it, and they sum to _all
tsum=0; tbad=
for t in acme globex initech; do
    v=$(j "\"tenant\":\"$t\",\"in\":{\"msgs\":")
    [ "$v" = "$(tin $t)" ] || tbad="$tbad $t=$v/$(tin $t)"
    tsum=$((tsum + ${v:-0}))
done
[ -z "$tbad" ] && [ "$tsum" -eq "$IN" ] && ok "json: tenants as written, summing to _all" || fail "json tenants" "$tbad sum=$tsum"
"$TS" report --redis "$URL" --timezone $ZONE --month "$MONTH" --tenant globex --format json > "$TMP/g.json"
[ "$(first "$TMP/g.json" '"tenant":"globex","timezone":"[^"]*","in":{"msgs":')" = "$(tin globex)" ] &&
    ok "json: --tenant globex" || fail "tenant report" "$(head -c 200 "$TMP/g.json")"

# --- CSV: header, one row per day, blank line, month total
"$TS" report --redis "$URL" --timezone $ZONE --month "$MONTH" --by-tenant --format csv > "$TMP/r.csv"
tr -d '\r' < "$TMP/r.csv" > "$TMP/r.lf.csv"
ndays=$(grep -c "^$Y-$M-[0-9][0-9]," "$TMP/r.lf.csv")
want_days=$(date -d "$Y-$M-01 +1 month -1 day" +%d)
head -1 "$TMP/r.lf.csv" | grep -q '^date,in_msgs,in_rcpts,in_bytes,in_v_clean,.*,out_msgs,' && [ "$ndays" -eq "$want_days" ] &&
    ok "csv: header and $ndays day rows" || fail "csv rows" "ndays=$ndays want=$want_days"
awk -F, -v y="$Y-$M" -v i="$IN" -v o="$OUT" '
    $1 ~ "^" y "-" { di += $2; do_ += $16 }
    $1 == y { ti = $2; to = $16 }
    $1 ~ /^tenant:/ { si += $2 }
    END { exit !(ti == i && to == o && di == i && do_ == o && si == i) }' "$TMP/r.lf.csv" &&
    ok "csv: month row = statsgen totals = sum of days = sum of tenants" ||
    fail "csv totals" "$(grep "^$Y-$M," "$TMP/r.lf.csv" | cut -c1-80)"
grep -q "^$" "$TMP/r.lf.csv" && ok "csv: blank line before the total" || fail "csv blank" ""

# --- HTML: one self-contained, well-formed file with three SVG charts
"$TS" report --redis "$URL" --timezone $ZONE --month "$MONTH" --by-tenant --format html -o "$TMP/r.html"
rc=$?
[ $rc -eq 0 ] && [ "$(grep -c '<svg ' "$TMP/r.html")" -eq 3 ] && grep -q '</html>' "$TMP/r.html" &&
    ok "html: written with 3 inline SVG charts" || fail html "rc=$rc"
if command -v xmllint > /dev/null; then
    xmllint --noout "$TMP/r.html" 2> "$TMP/xml.err" && ok "html: well-formed (xmllint, XML mode)" ||
        fail "html well-formed" "$(head -5 "$TMP/xml.err")"
    # libxml2's HTML parser knows HTML 4 only: unknown HTML5/SVG tags aside, no errors
    xmllint --html --noout "$TMP/r.html" 2>&1 | grep 'error' | grep -v 'Tag [a-z]* invalid' > "$TMP/html.err"
    [ ! -s "$TMP/html.err" ] && ok "html: parses as HTML" || fail "html parse" "$(head -5 "$TMP/html.err")"
else
    echo "  notice: xmllint (libxml2-utils) not installed; structural check only"
    [ "$(grep -o '<svg' "$TMP/r.html" | wc -l)" -eq "$(grep -o '</svg>' "$TMP/r.html" | wc -l)" ] &&
        [ "$(grep -o '<table' "$TMP/r.html" | wc -l)" -eq "$(grep -o '</table>' "$TMP/r.html" | wc -l)" ] &&
        ok "html: balanced svg and table tags" || fail "html balance" ""
fi
grep -q '@media print' "$TMP/r.html" && grep -q 'size: A4' "$TMP/r.html" &&
    ! grep -q -E '<script|<link|src=|url\(' "$TMP/r.html" &&
    [ "$(grep -o 'http[s]*://[^"]*' "$TMP/r.html" | sort -u)" = "http://www.w3.org/2000/svg" ] &&
    ok "html: print CSS, no external resources" || fail "html self-contained" ""
grep -q ">$CIN<" "$TMP/r.html" && grep -q "$DPCT%" "$TMP/r.html" && grep -q ">$COUT<" "$TMP/r.html" &&
    ok "html: states $CIN in, $DPCT% delivered, $COUT out" || fail "html figures" ""
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$CHROME" ]; then
    timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$TMP/chr" \
        --screenshot="$TMP/r.png" --window-size=1200,1600 "file://$TMP/r.html" > "$TMP/chr.log" 2>&1
    if [ -s "$TMP/r.png" ] && [ "$(head -c 8 "$TMP/r.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
        ok "html: headless Chromium renders it ($(wc -c < "$TMP/r.png") byte PNG)"
        [ -n "${TG_KEEP_SCREENSHOT:-}" ] && cp "$TMP/r.png" "$TG_KEEP_SCREENSHOT"
    else
        fail chromium "no PNG: $(tail -3 "$TMP/chr.log")"
    fi
else
    echo "  notice: chromium not installed; screenshot check skipped"
fi

# --- today and top-rules
"$TS" today --redis "$URL" --timezone $ZONE > "$TMP/today.txt" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "^tollgate today: " "$TMP/today.txt" && grep -q "^incoming  *[0-9]" "$TMP/today.txt" &&
    grep -q "^Hours (UTC" "$TMP/today.txt" && ok "today: the day per direction and its UTC hours" ||
    fail today "rc=$rc $(head -5 "$TMP/today.txt")"
"$TS" today --redis "$URL" --timezone $ZONE --day "$MONTH-01" --format json > "$TMP/day.json"
grep -q "^{\"day\":\"$MONTH-01\"" "$TMP/day.json" && grep -q '"hours_utc":\[{"hour":"' "$TMP/day.json" &&
    ok "today --day --format json" || fail "today json" "$(head -c 200 "$TMP/day.json")"
"$TS" top-rules --redis "$URL" --timezone $ZONE --month "$MONTH" -n 3 > "$TMP/rules.txt"
[ "$(grep -c '^  [A-Z]' "$TMP/rules.txt")" -eq 3 ] &&
    grep -q "^  $TOPRULE  *$(commas "$TOPHITS") " "$TMP/rules.txt" &&
    ok "top-rules: $TOPRULE first with $(commas "$TOPHITS") hits, 3 rules" || fail "top-rules" "$(cat "$TMP/rules.txt")"
"$TS" top-rules --redis "$URL" --timezone $ZONE --month "$MONTH" --by delivered --format csv > "$TMP/rules.csv"
tr -d '\r' < "$TMP/rules.csv" > "$TMP/rules.lf.csv"
head -1 "$TMP/rules.lf.csv" | grep -q '^rule,hits,delivered$' &&
    awk -F, 'NR > 2 && $3 + 0 > prev + 0 { bad = 1 } NR > 1 { prev = $3 } END { exit bad }' "$TMP/rules.lf.csv" &&
    ok "top-rules --by delivered: sorted by hits on delivered mail" || fail "rules sort" "$(head -4 "$TMP/rules.csv")"

# --- Redis from the config file
printf '# test\nSocket inet:1@127.0.0.1\nredisurl   %s   # comment\nTimeZone %s\n' "$URL" "$ZONE" > "$TMP/tg.conf"
"$TS" report -c "$TMP/tg.conf" --month "$MONTH" --format json > "$TMP/c.json" 2>&1
grep -q "\"timezone\":\"$ZONE\",\"in\":{\"msgs\":$IN," "$TMP/c.json" && ok "RedisURL and TimeZone from -c FILE" ||
    fail config "$(head -c 200 "$TMP/c.json")"
"$TS" report -c "$TMP/nonexistent.conf" --month "$MONTH" > /dev/null 2> "$TMP/e.txt"
[ $? -eq 1 ] && grep -q "nonexistent.conf" "$TMP/e.txt" && ok "unreadable -c FILE: exit 1" || fail "missing config" "$(cat "$TMP/e.txt")"

# --- exactly once: the same batches again change nothing
"$GEN" --redis "$URL" --year "$Y" --month "$((1$M - 100))" --tenants acme,globex,initech \
    --seed 7 --timezone $ZONE > /dev/null 2> "$TMP/gen2.err"
"$TS" report --redis "$URL" --timezone $ZONE --month "$MONTH" --format json > "$TMP/r2.json"
grep -q "already applied" "$TMP/gen2.err" && grep -q "\"in\":{\"msgs\":$IN," "$TMP/r2.json" &&
    ok "replaying every batch is a no-op ($BATCHES batches skipped)" || fail replay "$(cat "$TMP/gen2.err")"

# --- errors
"$TS" report --redis "$URL" --month "$MONTH" --tenant nosuch > /dev/null 2> "$TMP/e.txt"
rc=$?
[ $rc -eq 1 ] && grep -q "unknown tenant 'nosuch' (known: acme, globex, initech)" "$TMP/e.txt" &&
    ok "unknown tenant: exit 1 with the known ones" || fail "unknown tenant" "rc=$rc $(cat "$TMP/e.txt")"
"$TS" report --redis "$URL" --month 2019-02 > /dev/null 2> "$TMP/e.txt"
rc=$?
[ $rc -eq 1 ] && grep -q "no counters for 2019-02 (tenant _all)" "$TMP/e.txt" &&
    ok "month without data: exit 1" || fail "no data" "rc=$rc $(cat "$TMP/e.txt")"
"$TS" report --redis "$URL" > /dev/null 2>&1; r1=$?
"$TS" report --redis "$URL" --month 2026-13 > /dev/null 2>&1; r2=$?
"$TS" report --redis "$URL" --month "$MONTH" --format pdf > /dev/null 2>&1; r3=$?
"$TS" frobnicate > /dev/null 2>&1; r4=$?
[ "$r1$r2$r3$r4" = 2222 ] && ok "usage errors exit 2" || fail usage "$r1 $r2 $r3 $r4"
# --- a retired sender: named apart, then forgotten
redis-cli -p "$PORT" hset tg:v1:wm old-mx:1 1000000000 > /dev/null
redis-cli -p "$PORT" hset tg:v1:senders old-mx:1 1000000000 > /dev/null
"$TS" report --redis "$URL" --timezone $ZONE --month "$MONTH" > "$TMP/old.txt" 2>&1
tr '\n' ' ' < "$TMP/old.txt" | tr -s ' ' | grep -q "not counted: 1 sender silent since before this period (old-mx:1 since" &&
    ok "a sender silent since before the month is named apart" || fail "silent sender" "$(grep -i -A2 complete "$TMP/old.txt")"
"$TS" --redis "$URL" forget-sender old-mx:1 > "$TMP/f.txt" 2>&1; r1=$?
"$TS" --redis "$URL" forget-sender old-mx:1 > /dev/null 2>&1; r2=$?
[ "$r1$r2" = 01 ] && [ -z "$(redis-cli -p "$PORT" hget tg:v1:wm old-mx:1)" ] &&
    ok "forget-sender drops it (exit 0, then 1 for an unknown one)" || fail "forget-sender" "$r1 $r2 $(cat "$TMP/f.txt")"
kill "$RPID"; wait "$RPID" 2> /dev/null; RPID=
"$TS" report --redis "$URL" --month "$MONTH" > /dev/null 2> "$TMP/e.txt"
rc=$?
[ $rc -eq 1 ] && grep -q "cannot reach Redis at 127.0.0.1:$PORT: Connection refused" "$TMP/e.txt" &&
    ok "Redis down: exit 1, cannot reach Redis at 127.0.0.1:$PORT" || fail "redis down" "rc=$rc $(cat "$TMP/e.txt")"
finish
