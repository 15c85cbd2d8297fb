#!/usr/bin/env bash
# alliance.sh — a hub, three factory processes and two customers on 127.0.0.1: orders to
# delivery, a decline reassigned, a SIGKILLed node timed out, restarted and caught up, audits.
set -u
COFAB=${COFAB_BIN:-$(pwd)/build/cofab}
T=$(mktemp -d /tmp/cofab-alliance-XXXXXX)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
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

# wait_for SECONDS DESC CMD...: retries CMD every 0.2 s until it succeeds.
wait_for() {
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
SUBMIT=tcp://127.0.0.1:$(free_port)
FEED=tcp://127.0.0.1:$(free_port)

mkdir -p "$T/keys"
for k in hub operator mill-a mill-b stitch c1 c2; do "$COFAB" keygen "$k" --dir "$T/keys" >/dev/null 2>&1; done

cat >"$T/hub.ini" <<EOF
[hub]
origin = test.example/alliance
data_dir = data/hub
key = keys/hub.key
operator = keys/operator.pub
submit = $SUBMIT
feed = $FEED
batch_window_ms = 1
checkpoint_every = 8
checkpoint_ms = 200
match_interval_ms = 100
customer_rate = 0
[alliance]
customers = open
witness_k = 2
ack_timeout_s = 3
[member.mill-a]
pub = keys/mill-a.pub
role = factory
[member.mill-b]
pub = keys/mill-b.pub
role = factory
[member.stitch]
pub = keys/stitch.pub
role = factory
EOF

# node NAME AUTO PRICE: mill-a is the cheapest miller but asks its operator;
# stitch is the cheapest sewer; mill-b does both and accepts anything.
node_ini() {
  local name=$1 auto=$2 price=$3 processes=$4
  {
    printf '[node]\nname = %s\nkey = keys/%s.key\nhub_pub = keys/hub.pub\nhub = %s\nfeed = %s\n' \
      "$name" "$name" "$SUBMIT" "$FEED"
    printf 'data_dir = data/%s\ncontrol = ipc://%s/%s.ctl\nauto_accept = %s\nwitness = yes\n' \
      "$name" "$T" "$name" "$auto"
    printf '[capacity]\nlat = 45.5\nlon = 9.2\nlocation = Milan\nlead_days = 1\nreserve_pct = 10\nhorizon_days = 60\n'
    for proc in $processes; do
      printf '[offer.%s]\nmaterials = aluminium, cotton\nunit_price = %s\nsetup_cost = 1000\n' "$proc" "$price"
      printf 'moq = 1\nmax_qty = 5000\nper_day = 200\n'
    done
  } >"$T/$name.ini"
}
node_ini mill-a no 100 cnc-milling
node_ini mill-b yes 300 "cnc-milling sewing"
node_ini stitch yes 100 sewing

start() { # start NAME ARGS...
  local name=$1
  shift
  "$COFAB" "$@" >>"$T/$name.log" 2>&1 &
  PIDS+=($!)
  eval "PID_${name//-/_}=$!"
}
HUB_PUB=$T/keys/hub.pub
status_json() { "$COFAB" order status "$1" --hub "$SUBMIT" --hub-key "$HUB_PUB" --json --timeout 1 2>/dev/null; }
state_is() { status_json "$1" | grep -Eq "\"state\": *\"$2\""; }
size_of() { "$COFAB" ledger show --ledger "$T/data/$1" --json --count 0 2>/dev/null | sed -n 's/.*"size": *\([0-9]*\).*/\1/p'; }

start hub hub --config "$T/hub.ini"
wait_for 10 "hub wrote its genesis" test -f "$T/data/hub/data.mdb"
for n in mill-a mill-b stitch; do start "$n" node --config "$T/$n.ini"; done
capacities() { [ "$("$COFAB" ledger show --ledger "$T/data/hub" --json | grep -c '"kind": "capacity"')" -ge 3 ]; }
wait_for 20 "three capacity records" capacities || exit 1

order_file() { # order_file FILE PROCESS MATERIAL QTY
  printf '{"title": "%s test", "items": [{"process": "%s", "material": "%s", "qty": %s}],
 "due_in_days": 20, "deliver_to": {"lat": 45.4, "lon": 9.1}}\n' "$2" "$2" "$3" "$4" >"$1"
}
submit() { "$COFAB" order submit --hub "$SUBMIT" --hub-key "$HUB_PUB" --key "$T/keys/$1.key" --file "$2"; }

# 1. An order the cheapest miller declines goes to the other miller.
order_file "$T/o1.json" cnc-milling aluminium 40
O1=$(submit c1 "$T/o1.json") && ok || bad "order 1 not acknowledged"
wait_for 15 "order 1 assigned" state_is "$O1" assigned
"$COFAB" factory decline "$O1" --reason "spindle under repair" --config "$T/mill-a.ini" >/dev/null 2>&1 \
  && ok || bad "mill-a could not decline"
wait_for 20 "order 1 reassigned and accepted by mill-b" state_is "$O1" accepted
status_json "$O1" | grep -q '"reassign' && ok || bad "order 1 timeline lacks the reassignment"

# 2. The accepting factory moves it to delivery.
for stage in in-production qc-passed shipped delivered; do
  "$COFAB" factory progress "$O1" "$stage" --config "$T/mill-b.ini" >/dev/null 2>&1 \
    && ok || bad "mill-b progress $stage"
done
wait_for 10 "order 1 delivered" state_is "$O1" delivered

# 3. A killed node's assignment times out and moves on.
kill -KILL "$PID_stitch"
wait "$PID_stitch" 2>/dev/null
order_file "$T/o2.json" sewing cotton 30
O2=$(submit c2 "$T/o2.json") && ok || bad "order 2 not acknowledged"
wait_for 30 "order 2 reassigned after the timeout, accepted by mill-b" state_is "$O2" accepted
status_json "$O2" | grep -q 'timeout' && ok || bad "order 2 timeline does not say timeout"

# The auditor proves order 1's records straight from the hub, and writes receipts.
"$COFAB" audit prove "$O1" --hub "$SUBMIT" --hub-key "$HUB_PUB" --json --receipt "$T/receipts" >"$T/prove.json" 2>&1 \
  && ok || { bad "audit prove ORDER --hub failed"; cat "$T/prove.json"; }
[ "$(grep -c '"index"' "$T/prove.json")" -ge 7 ] && ok || bad "order 1 has fewer than 7 proven records"
[ "$(ls "$T/receipts" | grep -c '\.tlog-proof$')" -ge 7 ] && ok || bad "no receipt per record"
head -1 "$T/receipts/$(ls "$T/receipts" | head -1)" | grep -q '^c2sp.org/tlog-proof@v1$' && ok || bad "receipt header"
# Each receipt checks out with an independent verifier (Python stdlib + openssl).
for r in "$T"/receipts/*.tlog-proof; do
  python3 "$ROOT/tests/interop/verify_receipt.py" "$r" "$HUB_PUB" >/dev/null && ok || bad "receipt $r does not verify"
done

# An auditor downloads the hub's ledger (into a cache dir, so a second run
# resumes) and verifies it with the matcher replay.
# (A run may catch a checkpoint its witnesses have not cosigned yet: the
# second run, a moment later, resumes and must pass.)
"$COFAB" audit verify --hub "$SUBMIT" --hub-key "$HUB_PUB" --cache "$T/audit-cache" --replay --json \
  >"$T/remote.json" 2>"$T/remote.err"
sleep 1
"$COFAB" audit verify --hub "$SUBMIT" --hub-key "$HUB_PUB" --cache "$T/audit-cache" --replay --json \
  >"$T/remote.json" 2>"$T/remote.err" && ok || { bad "audit verify --hub"; cat "$T/remote.err" "$T/remote.json"; }
grep -q '"valid": true' "$T/remote.json" && ok || bad "the downloaded ledger does not verify"
grep -q ' new)' "$T/remote.err" && ok || bad "no download summary"

# 4. Refusals over the real network: cancel by another customer, a garbage order file.
"$COFAB" order cancel "$O2" --hub "$SUBMIT" --hub-key "$HUB_PUB" --key "$T/keys/c1.key" >/dev/null 2>&1
[ $? -eq 1 ] && ok || bad "cancel by another customer was not refused"
# Adding a member that is already active is refused, not acknowledged as a duplicate.
"$COFAB" member add --hub "$SUBMIT" --hub-key "$HUB_PUB" --key "$T/keys/operator.key" --pub "$T/keys/mill-a.pub" \
  >"$T/member.out" 2>&1
[ $? -eq 1 ] && ok || { bad "re-adding an active member was not refused"; cat "$T/member.out"; }
grep -q "ETAKEN\|already used" "$T/member.out" && ok || { bad "the refusal does not say why"; cat "$T/member.out"; }
echo '{"items": []}' >"$T/bad.json"
submit c1 "$T/bad.json" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "an invalid order file was not a usage error"

# 5. The killed node restarts, catches up and cosigns the checkpoint the others do.
start stitch node --config "$T/stitch.ini"
caught_up() { [ -n "$(size_of stitch)" ]; }
wait_for 20 "stitch replica reopened" caught_up

# 6. The operator removes mill-b: the order it accepted goes back to matching.
# It timed out at stitch before, and no other factory sews: it waits, unplaced.
"$COFAB" member remove --hub "$SUBMIT" --hub-key "$HUB_PUB" --key "$T/keys/operator.key" \
  --pub "$T/keys/mill-b.pub" >/dev/null 2>&1 && ok || bad "member remove mill-b failed"
removed_seen() { status_json "$O2" | grep -q '"removed'; }
wait_for 20 "order 2 taken back from the removed mill-b" removed_seen
state_is "$O2" submitted && ok || { bad "order 2 is not back to submitted"; status_json "$O2" | tail -20; }
wait_for 10 "the hub says why order 2 is not placed" grep -q "not placed this round" "$T/hub.log"
sleep 2
for n in mill-a mill-b stitch hub; do
  [ "$n" = hub ] && continue
  kill -TERM "$(eval echo "\$PID_${n//-/_}")"
done
sleep 1
kill -TERM "$PID_hub"
wait 2>/dev/null
HUB_SIZE=$(size_of hub)
for n in mill-a mill-b stitch; do
  [ "$(size_of "$n")" = "$HUB_SIZE" ] && ok || bad "$n replica holds $(size_of "$n") records, hub $HUB_SIZE"
done
hub_root=$("$COFAB" audit verify --ledger "$T/data/hub" --json | sed -n 's/.*"root": *"\([0-9a-f]*\)".*/\1/p' | head -1)
for n in hub mill-a mill-b stitch; do
  out=$("$COFAB" audit verify --ledger "$T/data/$n" --replay --json 2>/dev/null)
  echo "$out" | grep -q '"valid": true' && ok || { bad "audit verify --replay of $n failed"; echo "$out" | grep -A3 failure; }
  # The replay reran the matcher and found the hub's assignments identical.
  echo "$out" | grep -q '"assigns_replayed": [1-9]' && ok || bad "$n: no assignment was replayed"
  echo "$out" | grep -q '"witnessed_size": [1-9]' && ok || bad "$n: no witnessed checkpoint"
  root=$(echo "$out" | sed -n 's/.*"root": *"\([0-9a-f]*\)".*/\1/p' | head -1)
  [ "$root" = "$hub_root" ] && ok || bad "$n ends on another root"
done
# Export round trip: the hub's ledger as a tlog-tiles bundle verifies offline
# (with the replay); a changed tile is named.
"$COFAB" audit export --ledger "$T/data/hub" --out "$T/bundle" >"$T/export.out" 2>&1 \
  && ok || { bad "audit export failed"; cat "$T/export.out"; }
for f in checkpoint README tile/0/000 tile/entries/000; do
  [ -e "$T/bundle/$f" ] || [ -n "$(ls -d "$T/bundle/$f".p 2>/dev/null)" ] && ok || bad "bundle lacks $f"
done
"$COFAB" audit verify --bundle "$T/bundle" --hub-key "$HUB_PUB" --replay --json >"$T/bverify.json" 2>"$T/bverify.err" \
  && ok || { bad "verify --bundle failed"; cat "$T/bverify.err" "$T/bverify.json"; }
grep -q '"assigns_replayed": [1-9]' "$T/bverify.json" && ok || bad "the bundle audit replayed nothing"
tile=$(cd "$T/bundle" && find tile/0 -type f | head -1)
printf '\x01' | dd of="$T/bundle/$tile" bs=1 seek=5 count=1 conv=notrunc 2>/dev/null
"$COFAB" audit verify --bundle "$T/bundle" --hub-key "$HUB_PUB" >/dev/null 2>"$T/bverify.err"
[ $? -eq 1 ] && ok || bad "a changed tile was not refused"
grep -q "$tile" "$T/bverify.err" && ok || { bad "the changed tile is not named"; cat "$T/bverify.err"; }

# The same proofs from a replica, offline.
"$COFAB" audit prove "$O1" --ledger "$T/data/mill-b" --json >"$T/prove2.json" 2>&1 \
  && ok || { bad "audit prove ORDER --ledger failed"; cat "$T/prove2.json"; }
grep -q '"checkpoint": "' "$T/prove2.json" && ok || bad "prove --ledger printed no checkpoint"
for n in mill-a mill-b stitch; do
  grep -q "cosign" "$T/$n.log" && ok || bad "$n never cosigned"
done
ls "$T"/data/*/evidence-* >/dev/null 2>&1 && bad "an honest hub produced evidence files" || ok

# Each kind of tampering, made in a copy of this very ledger, is named by the
# audit (tests/unit/test_audit_tamper.c: changed byte, dropped and reordered
# records, an assign re-signed for another factory, a status by the wrong
# factory, a checkpoint short of cosignatures, a forked author).
TAMPER=$(dirname "$COFAB")/tests/test_audit_tamper
if [ -x "$TAMPER" ]; then
  COFAB_TAMPER_LEDGER="$T/data/hub" COFAB_TAMPER_KEYS="$T/keys" COFAB_TAMPER_FACTORIES="mill-a mill-b stitch" \
    COFAB_TAMPER_CUSTOMER=c1 "$TAMPER" >"$T/tamper.out" 2>&1 && ok || { bad "tampering with the alliance ledger"; cat "$T/tamper.out"; }
else
  bad "$TAMPER is not built"
fi

echo "alliance: $pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then
  for f in "$T"/*.log; do echo "--- $f"; tail -20 "$f"; done
fi
[ "$fail" -eq 0 ]
