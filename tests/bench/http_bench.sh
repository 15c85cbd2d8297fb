#!/usr/bin/env bash
# http_bench.sh — requests/s and p99 latency of `cofab gateway` for an order page and a full
# tile, measured with wrk (Debian's) on 127.0.0.1. Builds nothing: COFAB_BIN is the binary.
# Setup: a hub and one auto-accepting factory node; one order taken to delivery (a seven-record
# timeline) and 300 more orders so that full tiles exist; then `wrk -t2 -c32 -d10s --latency`
# on /orders/<id> and on /tile/0/000. About 45 s in all.
set -u
COFAB=${COFAB_BIN:-$(pwd)/build/cofab}
DURATION=${HTTP_BENCH_DURATION:-10s}
T=$(mktemp -d /tmp/cofab-httpbench-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
die() { echo "http_bench: $*" >&2; for f in "$T"/*.log; do echo "--- $f" >&2; tail -5 "$f" >&2; done; exit 1; }
command -v wrk >/dev/null || die "wrk is not installed (make deps installs it)"
wait_for() { # wait_for SECONDS CMD...
  local deadline=$((SECONDS + $1))
  shift
  while [ "$SECONDS" -lt "$deadline" ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}
free_port() {
  local p
  for p in $(shuf -i 10000-32767 -n 50); do  # below the ephemeral ports
    (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null || { echo "$p"; return; }
  done
}
get() { python3 -c 'import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1], timeout=10).read())' "$1"; }

SUBMIT=tcp://127.0.0.1:$(free_port)
FEED=tcp://127.0.0.1:$(free_port)
URL=http://127.0.0.1:$(free_port)
mkdir -p "$T/keys"
for k in hub operator mill c1 c2 c3 c4; do "$COFAB" keygen "$k" --dir "$T/keys" >/dev/null 2>&1; done
cat >"$T/hub.ini" <<EOF
[hub]
origin = bench.example/alliance
data_dir = data/hub
key = keys/hub.key
operator = keys/operator.pub
submit = $SUBMIT
feed = $FEED
checkpoint_every = 64
checkpoint_ms = 200
match_interval_ms = 100
customer_rate = 0
[alliance]
customers = open
witness_k = 1
[member.mill]
pub = keys/mill.pub
role = factory
[gateway]
listen = ${URL#http://}
max_connections = 64
max_per_ip = 64
timeout_s = 10
threads = 2
EOF
cat >"$T/mill.ini" <<EOF
[node]
name = mill
key = keys/mill.key
hub_pub = keys/hub.pub
hub = $SUBMIT
feed = $FEED
data_dir = data/mill
control = ipc://$T/mill.ctl
auto_accept = yes
witness = yes
[capacity]
lat = 45.5
lon = 9.2
location = Milan
lead_days = 1
horizon_days = 60
[offer.cnc-milling]
materials = aluminium
unit_price = 100
setup_cost = 1000
moq = 1
max_qty = 5000
per_day = 500
EOF
start() { local name=$1; shift; "$COFAB" "$@" >>"$T/$name.log" 2>&1 & PIDS+=($!); }
start hub hub --config "$T/hub.ini"
wait_for 10 test -f "$T/data/hub/data.mdb" || die "the hub did not start"
start mill node --config "$T/mill.ini"
start gateway gateway --config "$T/hub.ini"
wait_for 10 get "$URL/healthz" || die "the gateway did not start"
order() { # order FILE PROCESS TITLE
  printf '{"title": "%s", "items": [{"process": "%s", "material": "aluminium", "qty": 40}],
 "due_in_days": 20, "deliver_to": {"lat": 45.4, "lon": 9.1}}\n' "$3" "$2" >"$1"
}
submit() { "$COFAB" order submit --hub "$SUBMIT" --hub-key "$T/keys/hub.pub" --key "$T/keys/$1.key" --file "$2"; }
order "$T/o.json" cnc-milling "Aluminium brackets"
capacity() { "$COFAB" ledger show --ledger "$T/data/hub" --json | grep -q '"kind": "capacity"'; }
wait_for 20 capacity || die "no capacity record"
ID=$(submit c1 "$T/o.json") || die "the order was not acknowledged"
state_is() { get "$URL/api/orders/$ID" | grep -q "\"state\": \"$1\""; }
wait_for 15 state_is accepted || die "the order was not accepted"
for s in in-production qc-passed shipped delivered; do
  "$COFAB" factory progress "$ID" "$s" --config "$T/mill.ini" >/dev/null 2>&1 || die "progress $s"
done
order "$T/glass.json" glass-blowing "Lamp shades"
BULK=()
for c in c1 c2 c3 c4; do
  (for i in $(seq 1 75); do submit "$c" "$T/glass.json" >/dev/null 2>&1; done) & BULK+=($!)
done
wait "${BULK[@]}"
verified() { get "$URL/api/orders/$ID" | grep -q '"verified": true' && get "$URL/tile/0/000" >/dev/null; }
wait_for 20 verified || die "no verified order page or full tile"

SIZE=$(get "$URL/checkpoint" | sed -n 2p)
PAGE=$(get "$URL/orders/$ID" | wc -c)
RECORDS=$(get "$URL/api/orders/$ID" | grep -c '"position"')
echo "http_bench: gateway on $(nproc) cores (shared with wrk; load average $(cut -d' ' -f1 /proc/loadavg)),"
echo "  ledger of $SIZE records, order page of $PAGE bytes; wrk -t2 -c32 -d$DURATION --latency"
run() { # run LABEL PATH
  local out
  out=$(wrk -t2 -c32 -d"$DURATION" --latency "$URL$2" 2>&1) || die "wrk failed: $out"
  local rps p99 errs
  rps=$(echo "$out" | sed -n 's/^Requests\/sec: *//p')
  p99=$(echo "$out" | awk '/Latency Distribution/ {d=1} d && $1 == "99%" {print $2; exit}')
  errs=$(echo "$out" | sed -n 's/.*Non-2xx or 3xx responses: *//p')
  printf '%-28s %10s req/s   p99 %8s   %s\n' "$1" "$rps" "$p99" "${errs:+non-2xx: $errs}"
}
run "order page ($RECORDS records)" "/orders/$ID"
run "full tile /tile/0/000" "/tile/0/000"
