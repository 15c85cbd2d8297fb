#!/usr/bin/env bash
# gateway.sh — `cofab gateway` beside a small alliance on 127.0.0.1 (hub, two factory nodes,
# customers): orders flow to delivery, then an independent tlog-tiles client mirrors the log
# and recomputes the root, /metrics passes a promtool-rules checker, and headless Chromium
# opens an order page, checks the timeline and the badge after its JavaScript ran, and
# takes a phone-size screenshot (tests/browser/order-page-last.png; the committed order-page.png is a reference copy).
set -u
COFAB=${COFAB_BIN:-$(pwd)/build/cofab}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/cofab-gateway-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# The browser check is part of the suite: `make deps` installs chromium.
if ! command -v chromium >/dev/null 2>&1; then
  echo "FAIL: chromium is not installed (make deps installs it)"
  exit 1
fi

wait_for() { # wait_for SECONDS DESC CMD...: retries CMD every 0.2 s until it succeeds
  local limit=$1 desc=$2 deadline=$((SECONDS + $1))
  shift 2
  while [ "$SECONDS" -lt "$deadline" ]; do
    if "$@" >/dev/null 2>&1; then ok; return 0; fi
    sleep 0.2
  done
  bad "$desc (not within ${limit}s)"
  return 1
}
free_port() {
  local p
  for p in $(shuf -i 10000-32767 -n 50); do  # below the ephemeral ports
    (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null || { echo "$p"; return; }
  done
}
# http METHOD URL: the body on stdout; exit 0 for 2xx. code METHOD URL: the status.
http() {
  python3 -c '
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[2], method=sys.argv[1], data=b"x" if sys.argv[1] == "POST" else None)
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        sys.stdout.buffer.write(r.read())
except urllib.error.HTTPError as e:
    sys.stdout.buffer.write(e.read()); sys.exit(1)' "$1" "$2"
}
code() {
  python3 -c '
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[2], method=sys.argv[1], data=b"x" if sys.argv[1] == "POST" else None)
try:
    print(urllib.request.urlopen(req, timeout=10).status)
except urllib.error.HTTPError as e:
    print(e.code)' "$1" "$2"
}
headers() { python3 -c '
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=10).headers)' "$1"; }

SUBMIT=tcp://127.0.0.1:$(free_port)
FEED=tcp://127.0.0.1:$(free_port)
HTTP_PORT=$(free_port)
URL=http://127.0.0.1:$HTTP_PORT

mkdir -p "$T/keys"
for k in hub operator cnc sewer c1 c2 c3 c4; do "$COFAB" keygen "$k" --dir "$T/keys" >/dev/null 2>&1; done
cat >"$T/hub.ini" <<EOF
[hub]
origin = gateway.test/alliance
data_dir = data/hub
key = keys/hub.key
operator = keys/operator.pub
submit = $SUBMIT
feed = $FEED
batch_window_ms = 1
checkpoint_every = 64
checkpoint_ms = 200
match_interval_ms = 100
customer_rate = 0
[alliance]
customers = open
witness_k = 2
ack_timeout_s = 60
[member.cnc]
pub = keys/cnc.pub
role = factory
[member.sewer]
pub = keys/sewer.pub
role = factory
[gateway]
listen = 127.0.0.1:$HTTP_PORT
max_connections = 32
max_per_ip = 16
timeout_s = 5
threads = 2
EOF
# cnc is the cheapest miller but asks its operator; sewer sews, mills dearer, accepts anything.
node_ini() { # node_ini NAME AUTO "PROCESS:PRICE ..."
  local name=$1 auto=$2 offers=$3 o
  {
    printf '[node]\nname = %s\nkey = keys/%s.key\nhub_pub = keys/hub.pub\nhub = %s\nfeed = %s\n' \
      "$name" "$name" "$SUBMIT" "$FEED"
    printf 'data_dir = data/%s\ncontrol = ipc://%s/%s.ctl\nauto_accept = %s\nwitness = yes\n' \
      "$name" "$T" "$name" "$auto"
    printf '[capacity]\nlat = 45.5\nlon = 9.2\nlocation = Milan\nlead_days = 1\nreserve_pct = 10\nhorizon_days = 60\n'
    for o in $offers; do
      printf '[offer.%s]\nmaterials = aluminium, cotton\nunit_price = %s\nsetup_cost = 1000\n' "${o%%:*}" "${o##*:}"
      printf 'moq = 1\nmax_qty = 5000\nper_day = 200\n'
    done
  } >"$T/$name.ini"
}
node_ini cnc no "cnc-milling:100"
node_ini sewer yes "cnc-milling:300 sewing:100"

start() { # start NAME ARGS...
  local name=$1
  shift
  "$COFAB" "$@" >>"$T/$name.log" 2>&1 &
  PIDS+=($!)
  eval "PID_${name//-/_}=$!"
}
HUB_PUB=$T/keys/hub.pub
state_is() { http GET "$URL/api/orders/$1" | grep -Eq "\"state\": *\"$2\""; }

start hub hub --config "$T/hub.ini"
wait_for 10 "hub wrote its genesis" test -f "$T/data/hub/data.mdb" || exit 1
start gateway gateway --config "$T/hub.ini"
wait_for 10 "gateway answers /healthz" http GET "$URL/healthz" || exit 1
for n in cnc sewer; do start "$n" node --config "$T/$n.ini"; done
capacities() { [ "$("$COFAB" ledger show --ledger "$T/data/hub" --json | grep -c '"kind": "capacity"')" -ge 2 ]; }
wait_for 20 "two capacity records" capacities || exit 1

order_file() { # order_file FILE PROCESS MATERIAL QTY TITLE
  printf '{"title": "%s", "items": [{"process": "%s", "material": "%s", "qty": %s}],
 "due_in_days": 20, "deliver_to": {"lat": 45.4, "lon": 9.1}}\n' "$5" "$2" "$3" "$4" >"$1"
}
submit() { "$COFAB" order submit --hub "$SUBMIT" --hub-key "$HUB_PUB" --key "$T/keys/$1.key" --file "$2"; }
progress() { # progress FACTORY ORDER STAGE...
  local f=$1 o=$2 s
  shift 2
  for s in "$@"; do
    "$COFAB" factory progress "$o" "$s" --config "$T/$f.ini" >/dev/null 2>&1 && ok || bad "$f progress $o $s"
  done
}

# O1: the cheapest miller declines, the other one takes it to delivery.
order_file "$T/o1.json" cnc-milling aluminium 40 "Aluminium brackets"
O1=$(submit c1 "$T/o1.json") && ok || bad "order 1 not acknowledged"
wait_for 15 "order 1 assigned (the gateway sees the hub's appends)" state_is "$O1" assigned
"$COFAB" factory decline "$O1" --reason "spindle under repair" --config "$T/cnc.ini" >/dev/null 2>&1 \
  && ok || bad "cnc could not decline"
wait_for 20 "order 1 reassigned and accepted by sewer" state_is "$O1" accepted
progress sewer "$O1" in-production qc-passed shipped delivered
# O2: sewn, on its way.
order_file "$T/o2.json" sewing cotton 30 "Team shirts"
O2=$(submit c2 "$T/o2.json") && ok || bad "order 2 not acknowledged"
wait_for 15 "order 2 accepted" state_is "$O2" accepted
progress sewer "$O2" in-production qc-passed shipped
# Many orders nobody can make: over 256 records, so full tiles and a second tile level.
order_file "$T/glass.json" glass-blowing glass 5 "Lamp shades"
bulk() { local i; for i in $(seq 1 60); do submit "$1" "$T/glass.json" >/dev/null 2>&1 || echo x; done; }
BULK=()
for c in c1 c2 c3 c4; do bulk "$c" >"$T/bulk-$c.out" & BULK+=($!); done
wait_for 10 "order 1 delivered" state_is "$O1" delivered
wait "${BULK[@]}"
[ -z "$(cat "$T"/bulk-*.out)" ] && ok || bad "some bulk orders were refused"
# A refusal the hub counts: a customer cancelling someone else's order.
"$COFAB" order cancel "$O2" --hub "$SUBMIT" --hub-key "$HUB_PUB" --key "$T/keys/c1.key" >/dev/null 2>&1
[ $? -eq 1 ] && ok || bad "cancel by another customer was not refused"
# Quiet now: wait until the latest checkpoint covers the whole ledger and both witnesses cosigned.
settled() {
  local m
  m=$(http GET "$URL/metrics") || return 1
  echo "$m" | grep -q '^cofab_checkpoint_uncovered_records 0$' &&
    echo "$m" | grep -q '^cofab_checkpoint_cosignatures 2$' &&
    [ "$(echo "$m" | sed -n 's/^cofab_checkpoint_size //p')" -gt 256 ]
}
wait_for 30 "a cosigned checkpoint covers the whole ledger (over 256 records)" settled

# (a) An independent tlog-tiles client mirrors the log and recomputes the root.
python3 "$ROOT/tests/interop/tiles_client.py" "$URL" --hub-key "$HUB_PUB" --out "$T/mirror" >"$T/tiles.out" 2>&1 \
  && ok || { bad "the tiles client did not check out"; cat "$T/tiles.out"; }
grep -q "(2 tile levels)" "$T/tiles.out" && ok || { bad "the mirror did not reach tile level 1"; cat "$T/tiles.out"; }
[ -n "$(find "$T/mirror/tile/0" -type f -not -path '*.p/*' | head -1)" ] && ok || bad "no full tile mirrored"
# ... and fails when the root it is given is not the log's, or the tree is larger than served.
cp "$T/mirror/checkpoint" "$T/cp.bad"
sed -i '3{s/^A/#/;s/^[^#]/A/;s/^#/B/}' "$T/cp.bad"
python3 "$ROOT/tests/interop/tiles_client.py" "$URL" --checkpoint "$T/cp.bad" >"$T/tiles.bad" 2>&1
[ $? -eq 1 ] && grep -q "is not the checkpoint's" "$T/tiles.bad" && ok || { bad "a wrong root was not caught"; cat "$T/tiles.bad"; }
size=$(sed -n 2p "$T/mirror/checkpoint")
sed "2s/.*/$((size + 300))/" "$T/mirror/checkpoint" >"$T/cp.big"
python3 "$ROOT/tests/interop/tiles_client.py" "$URL" --checkpoint "$T/cp.big" >"$T/tiles.big" 2>&1
[ $? -eq 1 ] && grep -q "HTTP 404" "$T/tiles.big" && ok || { bad "tiles beyond the tree were served"; cat "$T/tiles.big"; }
python3 "$ROOT/tests/interop/tiles_client.py" "$URL" --checkpoint "$T/mirror/checkpoint" --hub-key "$T/keys/operator.pub" \
  >"$T/tiles.key" 2>&1
[ $? -eq 1 ] && ok || bad "a checkpoint was accepted under the wrong key"

# (b) /metrics in the Prometheus text format, with the hub's live figures.
python3 "$ROOT/tests/interop/prom_check.py" "$URL/metrics" --require cofab_ledger_records_total \
  --require cofab_ledger_ingest_rate --require cofab_checkpoint_size --require cofab_checkpoint_age_seconds \
  --require cofab_checkpoint_cosignatures --require cofab_orders_unplaced --require cofab_hub_up \
  --require cofab_hub_nodes_connected --require cofab_hub_acked_total >"$T/prom.out" 2>&1 \
  && ok || { bad "/metrics is not valid exposition format"; cat "$T/prom.out"; }
http GET "$URL/metrics" >"$T/metrics.txt"
grep -q '^cofab_hub_up 1$' "$T/metrics.txt" && ok || bad "hub.prom not served"
grep -q '^cofab_hub_nodes_connected 2$' "$T/metrics.txt" && ok || bad "not 2 connected nodes"
[ "$(sed -n 's/^cofab_orders_unplaced //p' "$T/metrics.txt")" -ge 240 ] && ok || bad "the glass orders are not unplaced"
refusal_counted() { http GET "$URL/metrics" | grep -q '^cofab_hub_refusals_total{reason="COFAB_EPERM"} [1-9]'; }
wait_for 5 "the refused cancel is counted" refusal_counted
printf '# TYPE cofab_hub_x gauge\ncofab_hub_x 1\ncofab_hub_x 1\n' | python3 "$ROOT/tests/interop/prom_check.py" - >/dev/null
[ $? -eq 1 ] && ok || bad "the format checker accepts a duplicate series"

# (c) JSON, errors, headers.
http GET "$URL/api/orders/$O1" >"$T/o1.json.out" && ok || bad "GET /api/orders/O1"
grep -q '"verified": true' "$T/o1.json.out" && ok || bad "order 1 not verified by the server"
grep -q 'Reassigned: the factory declined' "$T/o1.json.out" && ok || bad "order 1 lacks its reassignment"
[ "$(code GET "$URL/orders/$(printf '%064d' 7)")" = 404 ] && ok || bad "an unknown id is not 404"
[ "$(code GET "$URL/orders/${O1}x")" = 404 ] && ok || bad "a malformed id is not 404"
[ "$(code POST "$URL/orders/$O1")" = 405 ] && ok || bad "POST is not 405"
[ "$(code DELETE "$URL/checkpoint")" = 405 ] && ok || bad "DELETE is not 405"
headers "$URL/orders/$O1" >"$T/headers"
grep -q "^Content-Security-Policy: default-src 'none'; script-src 'sha256-" "$T/headers" && ok || bad "no CSP on the page"
grep -q '^X-Content-Type-Options: nosniff' "$T/headers" && ok || bad "no nosniff"
http GET "$URL/orders/$O2" | grep -q 'Shipped by sewer' && ok || bad "order 2 page lacks its shipment"

# (d) The browser: the page after its JavaScript ran, then a phone-size screenshot.
chrome() { timeout 90 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$T/chrome" \
  --no-first-run --disable-extensions --virtual-time-budget=10000 "$@" 2>>"$T/chromium.log"; }
dom_ok() {
  chrome --dump-dom "$URL/orders/$O1" >"$T/dom.html" &&
    grep -q 'id="badge-title" class="badge-title">✓ Verified in your browser<' "$T/dom.html"
}
wait_for 60 "the browser verified the order's proofs itself" dom_ok || { tail -5 "$T/chromium.log"; grep -o '<section id="badge".*</section>' "$T/dom.html"; }
for s in "Aluminium brackets" "Order placed" "Assigned to cnc" "Declined by cnc" "Reason: spindle under repair" \
  "Reassigned: the factory declined" "Assigned to sewer" "Accepted by sewer" "Delivered by sewer" \
  "checked by your browser" "2 of 2 witnesses cosigned it (2 required)"; do
  grep -q "$s" "$T/dom.html" && ok || bad "the page in the browser lacks: $s"
done
chrome --hide-scrollbars --window-size=412,915 --screenshot="$T/order-page.png" "$URL/orders/$O1" >/dev/null \
  && [ -s "$T/order-page.png" ] && ok || bad "no screenshot"
if [ -s "$T/order-page.png" ] && [ "$fail" -eq 0 ]; then
  mkdir -p "$ROOT/tests/browser" && cp "$T/order-page.png" "$ROOT/tests/browser/order-page-last.png"
fi

# A clean stop.
kill -TERM "$PID_gateway"
wait "$PID_gateway"
[ $? -eq 0 ] && ok || bad "the gateway did not stop cleanly"
grep -q "serving .* read-only on $URL/" "$T/gateway.log" && ok || bad "the gateway did not say where it serves"

echo "gateway: $pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then
  for f in "$T"/*.log; do echo "--- $f"; tail -20 "$f"; done
fi
[ "$fail" -eq 0 ]
