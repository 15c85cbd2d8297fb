#!/usr/bin/env bash
# 01-hub-crash.sh — SIGKILL the hub at random moments while customers submit; nothing acknowledged may be lost or stored twice.
#
# Customers (tests/drills/drill_client) submit orders back to back and
# resend the SAME envelope bytes after every timeout, logging each ack
# (position, envelope hash). Each round lets the load run for a random
# 0.2-2.0 s, SIGKILLs the hub, then, on the ledger exactly as the crash left
# it: every acknowledged envelope must be stored at the acknowledged
# position, no envelope may be stored twice, and `cofab audit verify` must
# pass. The hub restarts and the next round begins once new acks flow;
# every 4th round the restarted hub is killed once more within 300 ms.
# short: 10 rounds, 3 customers; long: 100 rounds, 4 customers.
set -u
. "$(dirname "$0")/lib.sh"
drill_init 01 hub-crash 240 3600

if [ "$MODE" = long ]; then ROUNDS=100; CLIENTS=4; else ROUNDS=10; CLIENTS=3; fi
CUSTOMERS=()
for i in $(seq 1 "$CLIENTS"); do CUSTOMERS+=("c$i"); done
drill_endpoints
drill_keygen hub operator "${CUSTOMERS[@]}"
# No factory and a matcher that (after its first round) waits an hour: the
# drill is about the write path; nothing but the customers' orders is written.
drill_hub_ini "$T/hub.ini" --hub "batch_window_ms = 1" --hub "checkpoint_every = 64" \
  --hub "checkpoint_ms = 200" --hub "match_interval_ms = 3600000" --hub "customer_rate = 0"
drill_start_hub "$T/hub.ini" || drill_finish "the hub never came up"

for c in "${CUSTOMERS[@]}"; do
  drill_start "$c" "$DRILL_BIN/drill_client" --hub "$SUBMIT" --hub-key "$HUB_PUB" \
    --key "$T/keys/$c.key" --log "$T/acks-$c.log" --timeout-ms 1500
done
acks_total() { cat "$T"/acks-*.log 2>/dev/null | wc -l; }
acks_above() { [ "$(acks_total)" -gt "$1" ]; }
wait_for 20 acks_above 0 || drill_problem "no acknowledgement within 20 s of the start"

rounds=0 audits=0 restarts=0 kills=0
last_check=""
for (( r = 1; r <= ROUNDS && ${#DRILL_PROBLEMS[@]} == 0; r++ )); do
  ms=$((200 + RANDOM % 1800))
  sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
  before=$(acks_total)
  drill_kill hub
  kills=$((kills + 1))
  rounds=$r
  # The ledger as the crash left it (the clients are stuck resending).
  last_check=$(drill_check acks "$T/data/hub" "$T"/acks-*.log 2>"$T/check.err")
  [ $? -eq 0 ] || drill_problem "round $r: $last_check $(head -2 "$T/check.err" | tr '\n' ' ')"
  if drill_audit "$T/data/hub"; then
    audits=$((audits + 1))
  else
    drill_problem "round $r: audit verify failed: $(drill_audit_reason)"
  fi
  if [ $((r % 4)) -eq 0 ]; then
    # Every 4th round the restarted hub is killed again within 0-300 ms:
    # while it opens the ledger, runs its first matcher round, or takes
    # the clients' queued resends.
    drill_start hub "$COFAB" hub --config "$T/hub.ini"
    ms=$((RANDOM % 300))
    sleep "0.$(printf %03d "$ms")"
    drill_kill hub
    kills=$((kills + 1))
  fi
  drill_start_hub "$T/hub.ini" || break
  restarts=$((restarts + 1))
  wait_for 30 acks_above "$(acks_total)" ||
    drill_problem "round $r: no new acknowledgement within 30 s of the restart (had $before)"
done

# The end: customers stop, the hub stops cleanly, one last look with the replay.
for c in "${CUSTOMERS[@]}"; do drill_stop "$c" 30; done
drill_stop hub 30
final=$(drill_check acks "$T/data/hub" "$T"/acks-*.log 2>"$T/check.err") ||
  drill_problem "final check: $final $(head -2 "$T/check.err" | tr '\n' ' ')"
drill_audit "$T/data/hub" --replay || drill_problem "final audit verify --replay failed: $(drill_audit_reason)"
dups=0 timeouts=0
for c in "${CUSTOMERS[@]}"; do
  line=$(grep '^drill_client' "$T/logs/$c.log" | tail -1)
  dups=$((dups + $(kvn dup "$line"))) timeouts=$((timeouts + $(kvn timeouts "$line")))
  [ "$(kv refused "$line")" = 0 ] || drill_problem "$c was refused: $line"
done
drill_finish "$rounds rounds ($kills SIGKILLs, every 4th round a second one right after the restart), $(kv unique "$final") acked, $(kv lost "$final") lost, $(kv duplicates "$final") duplicates, audit ok $audits/$rounds rounds (+ final --replay); $(kv records "$final") records, $dups resends answered as duplicates, $timeouts client timeouts"
