#!/usr/bin/env bash
# 05-disk.sh — the ledger runs out of room (map ceiling, then a full filesystem): refuse clearly, keep answering, lose nothing, resume.
#
# Part A, map ceiling: the hub runs with map_max_mb = 1. Customers
# (drill_client --retry-nospc) submit until the hub refuses with
# COFAB_ENOSPC, which they report and answer by resending the same bytes.
# While full: the hub process is up, `cofab order status` of an acked
# order and `cofab audit prove --hub` (the checkpoint and a proof) answer,
# `cofab order submit` exits 1 naming COFAB_ENOSPC, the ledger does not
# grow, and every acknowledged order is stored. Recovery: SIGTERM (exit
# 0), map_max_mb = 0, restart; the waiting customers' resends are then
# acknowledged.
# Part B, filesystem full (root only, where mounting a tmpfs works;
# otherwise skipped and the verdict says so): the hub's data_dir is a
# 3 MiB tmpfs and the map has no ceiling, so the disk fills first. Same
# checks while full; recovery: the tmpfs is grown (mount -o remount) under
# the running hub, and the resends must be taken without a restart (if
# they are not within 20 s, the drill restarts the hub and says so).
# Both parts end with every ack checked against the ledger (nothing lost,
# nothing twice) and `cofab audit verify`.
set -u
. "$(dirname "$0")/lib.sh"
drill_init 05 disk 240 480

if [ "$MODE" = long ]; then CLIENTS=4; AFTER=2000; else CLIENTS=2; AFTER=300; fi
drill_endpoints
CUSTOMERS=()
for i in $(seq 1 "$CLIENTS"); do CUSTOMERS+=("c$i"); done
drill_keygen hub operator probe "${CUSTOMERS[@]}"
printf '{"items": [{"process": "sewing", "material": "cotton", "qty": 5}], "due_in_days": 20, "deliver_to": {"lat": 45, "lon": 9}}\n' >"$T/order.json"

hub_ini() { # hub_ini MAP_MAX_MB DATA_DIR
  drill_hub_ini "$T/hub.ini" --hub "map_max_mb = $1" --hub "checkpoint_every = 64" \
    --hub "checkpoint_ms = 200" --hub "match_interval_ms = 3600000" --hub "customer_rate = 0"
  sed -i "s|^data_dir = .*|data_dir = $2|" "$T/hub.ini"
}
acks_total() { cat "$T"/acks-*.log 2>/dev/null | wc -l; }
acks_above() { [ "$(acks_total)" -gt "$1" ]; }
nospc_seen() { grep -q 'refused (COFAB_ENOSPC)' "$T"/logs/c*.log 2>/dev/null; }
ledger_size() { kv records "$(drill_check digest "$1")"; }

# fill_and_check PART DATA_DIR: clients fill the ledger; the checks while it
# is full. "Full" is not absolute: LMDB reuses pages freed by earlier
# transactions, so now and then a small transaction (one order) still fits
# while the clients' batches do not. So a submit may be taken, but a refusal
# must say COFAB_ENOSPC, and the drill reports how much the ledger still grew
# (GREW) in the seconds it was full. Sets FULL_SIZE, FULL_ACKS, SUBMIT_MSG,
# CODES, GREW.
fill_and_check() {
  local part=$1 dir=$2 id out rc
  rm -f "$T"/logs/c*.log
  for c in "${CUSTOMERS[@]}"; do
    drill_start "$c" "$DRILL_BIN/drill_client" --hub "$SUBMIT" --hub-key "$HUB_PUB" \
      --key "$T/keys/$c.key" --log "$T/acks-$c.log" --timeout-ms 2000 --retry-nospc
  done
  if ! wait_for 90 nospc_seen; then
    drill_problem "$part: no client saw COFAB_ENOSPC within 90 s ($(acks_total) acks)"
    return 1
  fi
  sleep 1
  drill_running hub || { drill_problem "$part: the hub died when the ledger filled up"; return 1; }
  FULL_SIZE=$(ledger_size "$dir")
  FULL_ACKS=$(acks_total)
  # Queries while full: an acked order's verified status and its proof
  # against the hub's latest checkpoint.
  id=$(tail -1 "$T/acks-c1.log" | cut -d' ' -f3)
  timeout 30 "$COFAB" order status "$id" --hub "$SUBMIT" --hub-key "$HUB_PUB" --timeout 5 >"$T/status.out" 2>&1 ||
    drill_problem "$part: order status of an acked order failed while full: $(tail -1 "$T/status.out")"
  timeout 30 "$COFAB" audit prove "$id" --hub "$SUBMIT" --hub-key "$HUB_PUB" >"$T/prove.out" 2>&1 ||
    drill_problem "$part: audit prove --hub (checkpoint and proof) failed while full: $(tail -1 "$T/prove.out")"
  timeout 30 "$COFAB" order submit --hub "$SUBMIT" --hub-key "$HUB_PUB" --key "$T/keys/probe.key" \
    --file "$T/order.json" --timeout 5 >"$T/submit.out" 2>&1
  rc=$?
  SUBMIT_MSG=$(grep -m1 -o 'refused.*' "$T/submit.out" | cut -c1-80)
  if [ "$rc" -eq 1 ] && grep -q COFAB_ENOSPC "$T/submit.out"; then
    :
  elif [ "$rc" -eq 0 ]; then
    SUBMIT_MSG="taken (a transaction still fitted)"
  else
    drill_problem "$part: order submit while full exited $rc without naming COFAB_ENOSPC: $(tail -1 "$T/submit.out")"
  fi
  sleep 2
  GREW=$(( $(ledger_size "$dir") - FULL_SIZE ))
  drill_running hub || drill_problem "$part: the hub died while full"
  out=$(drill_check acks "$dir" "$T"/acks-*.log 2>&1) || drill_problem "$part: while full: $out"
  # What the clients were told: ENOSPC is the clear answer; anything else
  # (COFAB_EIO for a disk-full short write) is counted and is a problem.
  CODES=$(grep -h -o 'refused (COFAB_[A-Z]*)' "$T"/logs/c*.log | sort | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $3, $1}' | tr -d '()')
  if grep -h -o 'refused (COFAB_[A-Z]*)' "$T"/logs/c*.log | grep -qv ENOSPC; then
    drill_problem "$part: a full ledger was reported to clients as something else than COFAB_ENOSPC ($CODES)"
  fi
  return 0
}

# after_recovery PART DATA_DIR: resends taken, AFTER more acks, then the checks.
after_recovery() {
  local part=$1 dir=$2 out
  wait_for 60 acks_above $((FULL_ACKS + AFTER)) ||
    drill_problem "$part: fewer than $AFTER new acks within 60 s of the recovery"
  for c in "${CUSTOMERS[@]}"; do drill_stop "$c" 30; done
  out=$(drill_check acks "$dir" "$T"/acks-*.log 2>&1) || drill_problem "$part: $out"
  PART_LINE=$out
  drill_stop hub 30
  drill_audit "$dir" || drill_problem "$part: audit verify failed: $(drill_audit_reason)"
}

# ---- Part A: map_max_mb ----
hub_ini 1 data/hub
drill_start_hub "$T/hub.ini" || drill_finish "the hub never came up"
fill_and_check "map" "$T/data/hub"
A_FULL=$FULL_SIZE A_MSG=$SUBMIT_MSG A_CODES=$CODES A_GREW=$GREW
drill_stop hub 30
hub_ini 0 data/hub
drill_start_hub "$T/hub.ini" || drill_finish "the hub did not restart with map_max_mb = 0"
after_recovery "map" "$T/data/hub"
A_LINE=$PART_LINE
summary="map_max_mb=1: full at $A_FULL records (+$A_GREW while full), clients told $A_CODES, CLI submit '$A_MSG', queries answered, resumed after a restart with map_max_mb=0: $(kv unique "$A_LINE") acked, $(kv lost "$A_LINE") lost, $(kv duplicates "$A_LINE") duplicates"

# ---- Part B: a full filesystem ----
B_DIR=$T/disk
mkdir -p "$B_DIR"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=3m,mode=0700 drilltmpfs "$B_DIR" 2>/dev/null; then
  drill_on_cleanup "umount '$B_DIR' || umount -l '$B_DIR'"
  rm -f "$T"/acks-*.log
  mv "$T/logs/hub.log" "$T/logs/hub-map.log"
  hub_ini 0 "$B_DIR/hub"
  drill_start_hub "$T/hub.ini" || drill_finish "the hub did not start on the tmpfs; $summary"
  fill_and_check "disk" "$B_DIR/hub"
  B_FULL=$FULL_SIZE
  mount -o remount,size=64m "$B_DIR" || drill_problem "disk: cannot grow the tmpfs"
  how="without a restart"
  if ! wait_for 20 acks_above "$FULL_ACKS"; then
    how="only after a restart"
    drill_log "disk: no write taken within 20 s of the space coming back; restarting the hub"
    drill_stop hub 30
    drill_start_hub "$T/hub.ini"
  fi
  after_recovery "disk" "$B_DIR/hub"
  summary="$summary; tmpfs 3 MiB: full at $B_FULL records (+$GREW while full), clients told $CODES, CLI submit '$SUBMIT_MSG', queries answered, resumed $how once grown: $(kv unique "$PART_LINE") acked, $(kv lost "$PART_LINE") lost, $(kv duplicates "$PART_LINE") duplicates"
else
  summary="$summary; full-filesystem part skipped (needs root and tmpfs mounts)"
fi
drill_finish "$summary; audit ok"
