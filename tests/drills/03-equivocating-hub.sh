#!/usr/bin/env bash
# 03-equivocating-hub.sh — drill 3: a hub shows two groups of witnesses two valid histories;
# every witness refuses and keeps evidence, the customer and the auditor report the split.
#
# Per round: a real `cofab hub` writes the common prefix (genesis, one customer order) and
# stops; tests/drills/equivocating_hub (test-only, never installed) takes the hub's keys and
# two copies of that ledger, assigns the order to a group-A factory in history A and to a
# group-B factory in history B, and serves each group its own history (by transport key) to
# real `cofab node` witnesses. Each group cosigns its own history: both are valid and
# witnessed. Then SIGUSR1: one history grows by a record and the views swap, so every node
# sees a second history after the first. Verdict criteria:
#   1. every node cosigned its own history and none cosigned the other (hub's COSIGN log);
#   2. every node wrote evidence holding both signed checkpoints (checked with the auditor);
#   3. `cofab order status --state DIR`, verified on history A, reports the split on B (exit 1);
#   4. `cofab audit verify` passes each replica alone, and reports the split when given the
#      other group's (and the customer's) checkpoint with --also-checkpoint (exit 1); a
#      checkpoint of the same group agrees (exit 0).
# Prints one verdict line; exit 0 on PASS (DRILL_VERBOSE=1: progress on stderr; DRILL_KEEP=1:
# keep the temp dir for a look). DRILL_MODE=short (CI): one round, 2 groups x 2
# nodes. DRILL_MODE=long: four rounds, groups of 2 and 3, either history growing.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
COFAB=${COFAB_BIN:-$ROOT/build/cofab}
DRILLS=${COFAB_DRILL_DIR:-$ROOT/build/drills}
EQHUB=$DRILLS/equivocating_hub
MODE=${DRILL_MODE:-short}
NAME="drill 03 equivocating-hub"
case "$MODE" in
  short) ROUNDS="2:b" LIMIT=110 ;;
  long) ROUNDS="2:b 2:a 3:b 3:a" LIMIT=480 ;;
  *) echo "$NAME: FAIL — unknown DRILL_MODE '$MODE' (short or long)"; exit 2 ;;
esac
LIMIT=${DRILL_DEADLINE_S:-$LIMIT} # hard deadline, seconds
for x in "$COFAB" "$EQHUB"; do
  [ -x "$x" ] || { echo "$NAME: FAIL — $x is not built"; exit 1; }
done

T=$(mktemp -d /tmp/cofab-drill03-XXXXXX)
PIDS=()
FAILS=()
WATCHDOG=
START=$SECONDS
EM=$'\xe2\x80\x94' # the em dash of signed-note signature lines
# Totals over the rounds, for the verdict.
NODES=0 REFUSED=0 REFUSED_LIVE=0 EVIDENCE=0 STATUS_SPLIT=0 STATUS_RUNS=0 AUDIT_SPLIT=0 AUDIT_RUNS=0
NROUNDS=0 SIZES=

say() { [ -n "${DRILL_VERBOSE:-}" ] && echo "drill03: $*" >&2; return 0; }
fail() { FAILS+=("$*"); say "FAIL: $*"; }

# stop_all: SIGTERM to every process we started (so sanitizers can report at exit), SIGKILL
# to any still alive after 8 s.
stop_all() {
  local p end=$((SECONDS + 8))
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    while kill -0 "$p" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  PIDS=()
}
cleanup() {
  stop_all
  [ -n "$WATCHDOG" ] && kill -TERM "$WATCHDOG" 2>/dev/null && wait "$WATCHDOG" 2>/dev/null
  if [ -n "${DRILL_KEEP:-}" ]; then echo "drill03: kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
verdict() {
  local secs=$((SECONDS - START))
  if [ "${#FAILS[@]}" -eq 0 ]; then
    local rounds="$NROUNDS rounds, $NODES nodes" sizes
    sizes=$(echo $SIZES | tr ' ' '\n' | sort -u | paste -sd/)
    [ "$NROUNDS" -eq 1 ] && rounds="1 round"
    echo "$NAME: PASS — $rounds, 2 groups × $sizes nodes, $REFUSED/$NODES refused to cosign ($REFUSED_LIVE live, $((REFUSED - REFUSED_LIVE)) on reconnect), $EVIDENCE evidence files with both signed checkpoints, order status: split reported ($STATUS_SPLIT/$STATUS_RUNS, exit 1), audit: split reported ($AUDIT_SPLIT/$AUDIT_RUNS cross-checks, exit 1), ${secs} s"
    return 0
  fi
  for f in "$T"/r*/*.log "$T"/r*/*.err; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -15 "$f" >&2; }
  done
  echo "$NAME: FAIL — ${FAILS[0]} (${#FAILS[@]} failure(s) in $NROUNDS round(s), ${secs} s)"
  return 1
}
on_deadline() {
  fail "hard deadline of ${LIMIT} s passed"
  verdict
  exit 1
}
trap on_deadline ALRM
trap 'fail "interrupted"; verdict; exit 1' INT TERM HUP
bash -c 's=; trap '\''kill $s 2>/dev/null; exit 0'\'' TERM; sleep "$1" & s=$!; wait $s; kill -ALRM "$2"' \
  _ "$LIMIT" $$ &
WATCHDOG=$!

# wait_for SECONDS CMD...: retries CMD every 0.2 s until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  while [ "$SECONDS" -lt "$deadline" ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}
free_port() {
  local p
  for p in $(shuf -i 10000-32767 -n 50); do  # below the ephemeral ports
    (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null || { echo "$p"; return; }
  done
}
# start LOG CMD...: runs CMD in the background, output to LOG; sets LAST.
start() {
  local log=$1
  shift
  "$@" >>"$log" 2>&1 &
  LAST=$!
  PIDS+=("$LAST")
}
# stop PID: SIGTERM, wait (bounded); the exit status goes to STOP_RC.
stop() {
  local end=$((SECONDS + 8))
  kill -TERM "$1" 2>/dev/null
  while kill -0 "$1" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.1; done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  STOP_RC=$?
  local p keep=()
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

node_ini() { # node_ini DIR NAME FEED SUBMIT
  local D=$1 n=$2
  {
    printf '[node]\nname = %s\nkey = keys/%s.key\nhub_pub = keys/hub.pub\nhub = %s\nfeed = %s\n' \
      "$n" "$n" "$4" "$3"
    printf 'data_dir = data/%s\ncontrol = ipc://%s/%s.ctl\nauto_accept = no\nwitness = yes\n' "$n" "$D" "$n"
    printf '[capacity]\nlat = 45.5\nlon = 9.2\nlocation = Milan\nlead_days = 1\nreserve_pct = 10\nhorizon_days = 30\n'
    printf '[offer.cnc-milling]\nmaterials = aluminium\nunit_price = 100\nsetup_cost = 1000\n'
    printf 'moq = 1\nmax_qty = 5000\nper_day = 200\n'
  } >"$D/$n.ini"
}

# audit_also LEDGER NOTE... : `audit verify --json` of LEDGER with each NOTE as
# --also-checkpoint; output in $AUD, exit status in $AUD_RC.
audit_also() {
  local led=$1 args=() x
  shift
  for x in "$@"; do args+=(--also-checkpoint "$x"); done
  AUD=$("$COFAB" audit verify --ledger "$led" --hub-key "$HUB_PUB" --json "${args[@]}" 2>>"$D/audit.err")
  AUD_RC=$?
}

has_evidence() { compgen -G "$D/data/$1/evidence-*.txt" >/dev/null; }

# evidence_ok NODE: the node's evidence file holds two hub-signed checkpoints of different
# roots; the auditor checks both signatures, and that the one the node cosigned agrees with
# its replica while the other does not (split, or beyond it when that history is longer).
evidence_ok() {
  local n=$1 ev
  ev=$(ls "$D/data/$n"/evidence-*.txt 2>/dev/null | head -1)
  [ -n "$ev" ] || { fail "$n wrote no evidence file"; return 1; }
  grep -q "inconsistent checkpoints" "$ev" || { fail "$n: evidence is not about checkpoints: $(head -1 "$ev")"; return 1; }
  [ "$(grep -c "^$EM hub " "$ev")" -eq 2 ] || { fail "$n: evidence does not hold two hub-signed notes"; return 1; }
  awk -v a="$D/$n.evA" -v b="$D/$n.evB" '/^--- checkpoint A/{o=a; next} /^--- checkpoint B/{o=b; next}
    /^--- end/{o=""} o!="" {print > o}' "$ev"
  audit_also "$D/data/$n" "$D/$n.evA" "$D/$n.evB"
  [ "$AUD_RC" -ne 2 ] || { fail "$n: the auditor refuses the evidence notes: $(tail -2 "$D/audit.err")"; return 1; }
  local ra rb
  ra=$(echo "$AUD" | grep -o '"result": "[a-z]*"' | sed -n 1p)
  rb=$(echo "$AUD" | grep -o '"result": "[a-z]*"' | sed -n 2p)
  [ "$ra" = '"result": "agrees"' ] || { fail "$n: the evidence's first note is not the history it holds ($ra)"; return 1; }
  case "$rb" in *split* | *beyond*) ;; *) fail "$n: the evidence's second note is not another history ($rb)"; return 1 ;; esac
  [ "$(sed -n 3p "$D/$n.evA")" != "$(sed -n 3p "$D/$n.evB")" ] || { fail "$n: both evidence notes have one root"; return 1; }
  EVIDENCE=$((EVIDENCE + 1))
}

round() { # round NUMBER GROUP_SIZE LONGER(a|b)
  local r=$1 gs=$2 longer=$3 i n g
  D=$T/r$r
  mkdir -p "$D/keys" "$D/data"
  local A=() B=()
  for i in $(seq 1 "$gs"); do A+=("fa$i"); B+=("fb$i"); done
  local ALL=("${A[@]}" "${B[@]}")
  for k in hub operator c1 "${ALL[@]}"; do "$COFAB" keygen "$k" --dir "$D/keys" >/dev/null 2>>"$D/keygen.err"; done
  HUB_PUB=$D/keys/hub.pub
  local SUB FEED EQSUB FEEDA FEEDB
  SUB=tcp://127.0.0.1:$(free_port) FEED=tcp://127.0.0.1:$(free_port)
  {
    printf '[hub]\norigin = drill.example/equivocation\ndata_dir = data/hub\nkey = keys/hub.key\n'
    printf 'operator = keys/operator.pub\nsubmit = %s\nfeed = %s\nbatch_window_ms = 1\n' "$SUB" "$FEED"
    printf 'checkpoint_every = 8\ncheckpoint_ms = 100\nmatch_interval_ms = 100\ncustomer_rate = 0\n'
    printf '[alliance]\ncustomers = open\nwitness_k = %s\nack_timeout_s = 3600\n' "$gs"
    for n in "${ALL[@]}"; do printf '[member.%s]\npub = keys/%s.pub\nrole = factory\n' "$n" "$n"; done
  } >"$D/hub.ini"

  # 1. The common prefix, by the real hub: genesis and one order nobody has capacity for yet.
  start "$D/hub.log" "$COFAB" hub --config "$D/hub.ini"
  local hubpid=$LAST
  printf '{"title": "drill 03 brackets", "items": [{"process": "cnc-milling", "material": "aluminium", "qty": 40}],
 "due_in_days": 20, "deliver_to": {"lat": 45.4, "lon": 9.1}}\n' >"$D/order.json"
  ORDER=
  local end=$((SECONDS + 15))
  while [ -z "$ORDER" ] && [ "$SECONDS" -lt "$end" ]; do
    ORDER=$("$COFAB" order submit --hub "$SUB" --hub-key "$HUB_PUB" --key "$D/keys/c1.key" \
      --file "$D/order.json" --timeout 3 2>>"$D/submit.err") || { ORDER=; sleep 0.2; }
  done
  sleep 0.3 # a checkpoint covering the order (checkpoint_ms = 100)
  stop "$hubpid"
  [ -n "$ORDER" ] || { fail "round $r: the real hub did not acknowledge the order"; return; }
  [ "$STOP_RC" -eq 0 ] || fail "round $r: the real hub exited with $STOP_RC"
  cp -a "$D/data/hub" "$D/data/hist-a" && cp -a "$D/data/hub" "$D/data/hist-b"

  # 2. The equivocating hub, and every node.
  EQSUB=tcp://127.0.0.1:$(free_port) FEEDA=tcp://127.0.0.1:$(free_port) FEEDB=tcp://127.0.0.1:$(free_port)
  local args=(--key "$D/keys/hub.key" --submit "$EQSUB" --feed-a "$FEEDA" --feed-b "$FEEDB"
    --ledger-a "$D/data/hist-a" --ledger-b "$D/data/hist-b" --order "$ORDER" --longer "$longer")
  for n in "${A[@]}"; do args+=(--group-a "$D/keys/$n.pub"); done
  for n in "${B[@]}"; do args+=(--group-b "$D/keys/$n.pub"); done
  start "$D/eqhub.log" "$EQHUB" "${args[@]}"
  local eqpid=$LAST
  wait_for 10 grep -q "ready:" "$D/eqhub.log" || { fail "round $r: the equivocating hub did not start"; return; }
  local nodepids=()
  for n in "${A[@]}"; do node_ini "$D" "$n" "$FEEDA" "$EQSUB"; done
  for n in "${B[@]}"; do node_ini "$D" "$n" "$FEEDB" "$EQSUB"; done
  for n in "${ALL[@]}"; do
    start "$D/$n.log" "$COFAB" node --config "$D/$n.ini"
    nodepids+=("$LAST")
  done
  NODES=$((NODES + ${#ALL[@]}))
  SIZES="$SIZES $gs"

  # 3. Each group cosigns its own history; each replica keeps it witnessed and audits VALID.
  for n in "${ALL[@]}"; do
    g=A; [ "${n:1:1}" = b ] && g=B
    wait_for 30 grep -q "COSIGN $n history $g " "$D/eqhub.log" || fail "round $r: $n never cosigned history $g"
  done
  witnessed() { "$COFAB" audit verify --ledger "$D/data/$1" --hub-key "$HUB_PUB" --json 2>>"$D/audit.err" |
    grep -q '"witnessed_size": [1-9]'; }
  for n in "${ALL[@]}"; do
    wait_for 20 witnessed "$n" || fail "round $r: $n's replica does not audit VALID with a witnessed checkpoint"
  done
  [ "${#FAILS[@]}" -eq 0 ] || return

  # 4. The customer verifies the order (history A, witnessed by group A) and remembers it.
  local st=(order status "$ORDER" --hub "$EQSUB" --hub-key "$HUB_PUB" --state "$D/customer" --timeout 10)
  "$COFAB" "${st[@]}" >"$D/status1.out" 2>"$D/status1.err"
  local s1=$?
  [ "$s1" -eq 0 ] && grep -q "assigned.*fa1" "$D/status1.out" ||
    fail "round $r: order status on history A: exit $s1, $(head -c 300 "$D/status1.err")"

  # 5. The swap: every node is shown the other history. The second node of each group is
  # offline meanwhile and meets the other history when it reconnects (replica and
  # last-cosigned.note from before); the others meet it on the live feed.
  for i in "${!ALL[@]}"; do
    case "${ALL[$i]}" in
      f?2) stop "${nodepids[$i]}"
        [ "$STOP_RC" -eq 0 ] || fail "round $r: node ${ALL[$i]} exited with $STOP_RC" ;;
    esac
  done
  kill -USR1 "$eqpid"
  wait_for 10 grep -q "SWAP" "$D/eqhub.log" || fail "round $r: the equivocating hub did not swap"
  for i in "${!ALL[@]}"; do
    case "${ALL[$i]}" in
      f?2) start "$D/${ALL[$i]}.log" "$COFAB" node --config "$D/${ALL[$i]}.ini"
        nodepids[$i]=$LAST ;;
    esac
  done
  for n in "${ALL[@]}"; do
    wait_for 20 has_evidence "$n" || fail "round $r: $n wrote no evidence after the swap"
  done
  for n in "${ALL[@]}"; do
    g=A o=B
    [ "${n:1:1}" = b ] && g=B o=A
    local ok=1
    grep -q "COSIGN $n history $o " "$D/eqhub.log" && { fail "round $r: $n cosigned history $o too"; ok=0; }
    grep -q "HUB MISBEHAVES" "$D/$n.log" || { fail "round $r: $n did not call the hub out"; ok=0; }
    evidence_ok "$n" || ok=0
    if [ "$ok" -eq 1 ]; then
      REFUSED=$((REFUSED + 1))
      case "$n" in f?2) ;; *) REFUSED_LIVE=$((REFUSED_LIVE + 1)) ;; esac
    fi
  done

  # 6. The customer asks again and gets history B.
  "$COFAB" "${st[@]}" >"$D/status2.out" 2>"$D/status2.err"
  local s2=$?
  STATUS_RUNS=$((STATUS_RUNS + 1))
  if [ "$s2" -eq 1 ] && grep -q "SPLIT VIEW" "$D/status2.err" &&
    [ "$(cat "$D"/customer/evidence-*.txt 2>/dev/null | grep -c "^$EM hub ")" -eq 2 ]; then
    STATUS_SPLIT=$((STATUS_SPLIT + 1))
  else
    fail "round $r: order status on history B: exit $s2, $(head -c 300 "$D/status2.err")"
  fi

  # 7. Everything stops cleanly.
  for i in "${!ALL[@]}"; do
    stop "${nodepids[$i]}"
    [ "$STOP_RC" -eq 0 ] || fail "round $r: node ${ALL[$i]} exited with $STOP_RC"
  done
  stop "$eqpid"
  [ "$STOP_RC" -eq 0 ] || fail "round $r: the equivocating hub exited with $STOP_RC"

  # 8. The auditor: each replica alone is VALID; the other group's checkpoint, or the
  # customer's, shows the split; a checkpoint of the same group agrees.
  for n in fa1 fb1; do
    audit_also "$D/data/$n"
    [ "$AUD_RC" -eq 0 ] && echo "$AUD" | grep -q '"valid": true' || fail "round $r: $n's replica alone does not audit VALID"
  done
  local cust
  cust=$(ls "$D"/customer/*.checkpoint 2>/dev/null | head -1)
  local checks=("fa1 $D/data/fb1/last-cosigned.note" "fb1 $D/data/fa1/last-cosigned.note" "fb1 $cust")
  for c in "${checks[@]}"; do
    set -- $c
    AUDIT_RUNS=$((AUDIT_RUNS + 1))
    "$COFAB" audit verify --ledger "$D/data/$1" --hub-key "$HUB_PUB" --also-checkpoint "$2" \
      >"$D/audit-split.out" 2>>"$D/audit.err"
    local arc=$?
    if [ "$arc" -eq 1 ] && grep -q "^INVALID: SPLIT VIEW" "$D/audit-split.out" &&
      [ "$(grep -c "^$EM hub " "$D/audit-split.out")" -ge 2 ]; then
      AUDIT_SPLIT=$((AUDIT_SPLIT + 1))
    else
      fail "round $r: audit of $1 with $(basename "$2") did not report the split (exit $arc)"
    fi
  done
  audit_also "$D/data/fa1" "$D/data/fa2/last-cosigned.note"
  [ "$AUD_RC" -eq 0 ] && echo "$AUD" | grep -q '"result": "agrees"' ||
    fail "round $r: a checkpoint of the same group does not agree (exit $AUD_RC)"
  NROUNDS=$((NROUNDS + 1))
}

r=0
for spec in $ROUNDS; do
  r=$((r + 1))
  round "$r" "${spec%%:*}" "${spec##*:}"
  stop_all
  [ "${#FAILS[@]}" -eq 0 ] || break
done
# Sanitizer builds: any report in any process's output fails the drill.
if grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T"/r*/*.log "$T"/r*/*.err >/dev/null 2>&1; then
  fail "sanitizer report in $(grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T"/r*/*.log "$T"/r*/*.err | head -1 | xargs basename)"
fi
verdict
