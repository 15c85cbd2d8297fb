#!/usr/bin/env bash
# 02-node-churn.sh — factory nodes SIGKILLed and restarted at random while orders flow; every replica ends on the hub's cosigned checkpoint.
#
# N `cofab node` processes (all founding factories, witnesses, auto-accept)
# and two customers submitting orders at a steady pace. For the churn
# period the drill picks a random node every 0.5-3 s: a running node is
# SIGKILLed (one time in five SIGTERMed instead, which must exit 0), a
# stopped one is restarted; at most half are down at once. Once in the
# middle of the churn (long mode: every 60 s) a running node is starved
# instead: nice 19 and pinned to CPU 0 next to a busy loop for 20 s while
# three burst customers send orders as fast as they can (each cancelled at
# once; about 300 records/s in all), so the node
# falls behind the feed and must catch up. A node that dies on its own at
# any point (crash, abort) fails the drill. An assignment
# made to a dead node is not accepted within ack_timeout_s (3 s) and the
# hub reassigns it. Then the orders stop, every node is brought back, and
# the drill waits (bounded) until:
#   - every order is accepted (none submitted, assigned or declined);
#   - every replica holds exactly the hub's records (same digest);
#   - every node's last cosigned checkpoint is the hub's latest one, which
#     covers the whole ledger and carries all N cosignatures.
# Then everything stops with SIGTERM (exit 0) and the hub's ledger passes
# `cofab audit verify --replay`.
# short: 5 nodes, 40 s of churn; long: 10 nodes, 5 minutes.
set -u
. "$(dirname "$0")/lib.sh"
drill_init 02 node-churn 240 900

# PER_DAY: units a node makes a day; with 30 days to the due date and orders
# of 10 units, a node holds about 2.7 x PER_DAY orders before it is full:
# enough for all (the rate x churn orders), but few enough to spread them.
if [ "$MODE" = long ]; then NODES=10; CHURN_S=300; RATE=4; PER_DAY=150; else NODES=5; CHURN_S=40; RATE=2; PER_DAY=30; fi
FACTORIES=()
for i in $(seq 1 "$NODES"); do FACTORIES+=("f$i"); done
drill_endpoints
drill_keygen hub operator c1 c2 b1 b2 b3 "${FACTORIES[@]}"
members=()
for f in "${FACTORIES[@]}"; do members+=(--member "$f:factory"); done
drill_hub_ini "$T/hub.ini" --hub "checkpoint_every = 32" --hub "checkpoint_ms = 300" \
  --hub "match_interval_ms = 200" --hub "customer_rate = 0" \
  --alliance "witness_k = $((NODES / 2))" --alliance "ack_timeout_s = 3" "${members[@]}"
# Prices differ, so the matcher prefers some nodes until they are full.
for i in $(seq 1 "$NODES"); do
  drill_node_ini "f$i" --offer "sewing:cotton:$((100 + 7 * i)):$PER_DAY" --reconnect 500
done
drill_start_hub "$T/hub.ini" || drill_finish "the hub never came up"
for f in "${FACTORIES[@]}"; do drill_start "$f" "$COFAB" node --config "$T/$f.ini"; done
capacities() {
  [ "$("$COFAB" ledger show --ledger "$T/data/hub" --json 2>/dev/null | grep -c '"kind": "capacity"')" -ge "$NODES" ]
}
wait_for 60 capacities || drill_finish "not every node published its capacity within 60 s"

for c in c1 c2; do
  drill_start "$c" "$DRILL_BIN/drill_client" --hub "$SUBMIT" --hub-key "$HUB_PUB" \
    --key "$T/keys/$c.key" --log "$T/acks-$c.log" --rate "$RATE" --qty 10 --timeout-ms 3000
done

# starve: one running node falls behind under a burst of orders (see above).
starve() {
  local f=$1
  local b
  drill_starve_begin "$f" || return 0
  for b in b1 b2 b3; do
    drill_start "$b" "$DRILL_BIN/drill_client" --hub "$SUBMIT" --hub-key "$HUB_PUB" \
      --key "$T/keys/$b.key" --log "$T/acks-$b.log" --rate 150 --seconds 20 \
      --process void --material air --cancel-every 1 --timeout-ms 3000
  done
  for b in b1 b2 b3; do
    wait_for 60 eval "! drill_running $b" # each stops by itself, after a cancel
    drill_stop "$b" 30
  done
  drill_starve_end "$f"
  starved=$((starved + 1))
  sleep 5
}

kills=0 terms=0 restarts=0 starved=0
churn_start=$SECONDS churn_end=$((SECONDS + CHURN_S))
next_starve=$((SECONDS + CHURN_S / 2))
[ "$MODE" = long ] && next_starve=$((SECONDS + 60))
while [ "$SECONDS" -lt "$churn_end" ] && [ ${#DRILL_PROBLEMS[@]} -eq 0 ]; do
  ms=$((500 + RANDOM % 2500))
  sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
  drill_reap_dead "${FACTORIES[@]}" || break
  f=${FACTORIES[$((RANDOM % NODES))]}
  if [ "$SECONDS" -ge "$next_starve" ] && drill_running "$f"; then
    starve "$f"
    next_starve=$((SECONDS + CHURN_S))
    [ "$MODE" = long ] && next_starve=$((SECONDS + 60))
    drill_reap_dead "${FACTORIES[@]}" || break
    continue
  fi
  down=0
  for g in "${FACTORIES[@]}"; do drill_running "$g" || down=$((down + 1)); done
  if drill_running "$f"; then
    [ $((down * 2)) -lt "$NODES" ] || continue
    if [ $((RANDOM % 5)) -eq 0 ]; then
      drill_stop "$f" 20 && terms=$((terms + 1))
    else
      drill_kill "$f"
      kills=$((kills + 1))
    fi
  else
    drill_start "$f" "$COFAB" node --config "$T/$f.ini"
    restarts=$((restarts + 1))
  fi
done

# Orders stop; every node comes back.
drill_stop c1 30
drill_stop c2 30
drill_reap_dead "${FACTORIES[@]}"
for f in "${FACTORIES[@]}"; do
  drill_running "$f" || { drill_start "$f" "$COFAB" node --config "$T/$f.ini"; restarts=$((restarts + 1)); }
done
orders=$(cat "$T"/acks-c*.log 2>/dev/null | wc -l)

all_accepted() {
  local o
  o=$(drill_check orders "$T/data/hub") || return 1
  [ "$(kv submitted "$o")" = 0 ] && [ "$(kv assigned "$o")" = 0 ] && [ "$(kv declined "$o")" = 0 ]
}
converged() {
  local hub cp f n size
  size=$(drill_check digest "$T/data/hub") || return 1
  cp=$(drill_check checkpoint "$T/data/hub") || return 1
  [ "$(kv size "$cp")" = "$(kv records "$size")" ] || return 1
  [ "$(kv cosignatures "$cp")" -ge "$NODES" ] || return 1
  for f in "${FACTORIES[@]}"; do
    [ "$(drill_check digest "$T/data/$f")" = "$size" ] || return 1
    n=$(drill_check note "$T/data/$f/last-cosigned.note") || return 1
    [ "$(kv size "$n")" = "$(kv size "$cp")" ] && [ "$(kv root "$n")" = "$(kv root "$cp")" ] || return 1
  done
}
wait_for 90 all_accepted ||
  drill_problem "orders not all accepted 90 s after the churn: $(drill_check orders "$T/data/hub")"
wait_for 60 converged || {
  cp=$(drill_check checkpoint "$T/data/hub")
  drill_problem "replicas did not converge on the hub's checkpoint ($cp, hub $(drill_check digest "$T/data/hub" | cut -c1-30))"
  for f in "${FACTORIES[@]}"; do
    drill_log "$f: $(drill_check digest "$T/data/$f" | cut -c1-30) cosigned $(drill_check note "$T/data/$f/last-cosigned.note" 2>&1 | cut -c1-40)"
  done
}
state=$(drill_check orders "$T/data/hub")
cp=$(drill_check checkpoint "$T/data/hub")
drill_reap_dead "${FACTORIES[@]}"
for f in "${FACTORIES[@]}"; do drill_stop "$f" 30; done
drill_stop hub 30
ls "$T"/data/*/evidence-* >/dev/null 2>&1 && drill_problem "an honest hub produced evidence files: $(ls "$T"/data/*/evidence-*)"
drill_check acks "$T/data/hub" "$T"/acks-*.log >"$T/acks.out" 2>&1 || drill_problem "acked orders missing: $(cat "$T/acks.out")"
drill_audit "$T/data/hub" --replay || drill_problem "audit verify --replay failed: $(drill_audit_reason)"
drill_finish "$NODES nodes, ${CHURN_S}s churn: $kills SIGKILLs, $terms SIGTERMs, $restarts restarts, $starved starved 20 s under a burst; $orders orders (+ $(kv cancelled "$state") burst orders, cancelled): $(kv accepted "$state") accepted ($(kv reassigned "$state") after a reassignment), $(( $(kvn submitted "$state") + $(kvn assigned "$state") + $(kvn declined "$state") )) stuck; all replicas = hub, all cosigned checkpoint $(kv size "$cp") ($(kv cosignatures "$cp") cosignatures, root $(kv root "$cp" | cut -c1-12)…); audit --replay ok"
