#!/usr/bin/env bash
# demo.sh — `cofab demo` end to end: exit code, the story's key lines, nothing left behind; --keep; Ctrl-C.
set -u
COFAB=${COFAB_BIN:-$(pwd)/build/cofab}
OUT=$(mktemp -d /tmp/cofab-demotest-XXXXXX)
KEEP_DIR=""
KEEP_PIDS=()
cleanup() {
  for p in "${KEEP_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  [ ${#KEEP_PIDS[@]} -gt 0 ] && sleep 1
  for p in "${KEEP_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [ -n "$KEEP_DIR" ] && rm -rf "$KEEP_DIR"
  rm -rf "$OUT"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# expect FILE REGEX DESC: some line of FILE matches the extended REGEX.
expect() { if grep -Eq -- "$2" "$1"; then ok; else bad "$3 (no line matching '$2')"; fi; }

# expect_text FILE REGEX DESC: as expect, on the text with lines joined
# (the story's paragraphs are wrapped wherever the words fall).
expect_text() {
  if tr '\n' ' ' <"$1" | tr -s ' ' | grep -Eq -- "$2"; then ok; else bad "$3 (no text matching '$2')"; fi
}

# alive PID: a cofab process with this pid exists and is not a zombie
# waiting for init to reap it (a reused pid of another program does not count).
alive() {
  [ -r "/proc/$1/stat" ] && ! awk '{exit !($3 == "Z")}' "/proc/$1/stat" 2>/dev/null &&
    [ "$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | cut -d' ' -f1)" = cofab ]
}

# no_leftovers DIR PID...: DIR is gone and no process is left, neither one
# of the PIDs the demo printed nor any process working in DIR.
no_leftovers() {
  local dir=$1 p c l
  shift
  if [ -z "$dir" ]; then bad "no working directory in the output"; return; fi
  [ -e "$dir" ] && bad "$dir left behind" || ok
  for p in "$@"; do
    for _ in $(seq 50); do alive "$p" || break; sleep 0.1; done # a moment to finish exiting
    alive "$p" && bad "process $p ($(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")) left running"
  done
  for c in /proc/[0-9]*/cwd; do
    l=$(readlink "$c" 2>/dev/null) || continue
    case "$l" in "$dir" | "$dir/"* | "$dir (deleted)") bad "process ${c//[^0-9]/} still works in $dir" ;; esac
  done
  ok
}
demo_dir() { grep -Eo '/[^ ]*/cofab-demo-[A-Za-z0-9]{6}' "$1" | head -1; }
demo_pids() { grep -Eo 'pid [0-9]+' "$1" | awk '{print $2}' | sort -u; }

# 1. The whole story, then nothing left.
timeout 120 "$COFAB" demo >"$OUT/demo.out" 2>"$OUT/demo.err"
rc=$?
[ "$rc" -eq 0 ] && ok || { bad "cofab demo exited $rc"; cat "$OUT/demo.err"; }
[ -s "$OUT/demo.err" ] && bad "cofab demo wrote to stderr: $(head -5 "$OUT/demo.err")" || ok
D=$OUT/demo.out
expect "$D" '^ 3\. Five factories join' "the factories' step"
for f in garments cnc print embroidery furniture; do
  expect "$D" "^      $f +pid [0-9]+ " "factory $f not started"
done
expect "$D" '#13 [0-9a-f]{8}  Marathon caps +-> SPLIT: [a-z]+ [0-9]+ \+ [a-z]+ [0-9]+, both accepted' \
  "the split order is not on two factories"
expect "$D" 'Blown-glass lamp shades +-> NOT PLACED: no factory in the alliance offers glass-blowing of borosilicate' \
  "the unplaced order's reason"
expect "$D" 'hub: 1 order\(s\) not placed this round \(first: [0-9a-f]{16}…, no-capable\)' \
  "the hub's log line for the unplaced order"
expect "$D" '^    cancelled [0-9a-f]{64} at position [0-9]+' "the cancel"
expect "$D" '^ *#15 [0-9a-f]{8}  Acrylic cafe signs +-> print \(assigned, not accepted\)' \
  "the order for the killed factory"
expect_text "$D" 'reassign\(timeout\): #15 goes back to matching, never again to print, and the matcher gives it to cnc, which accepts at once' \
  "the reassignment"
expect "$D" '\(caught up: [0-9]+ -> [0-9]+ records\)' "the restarted node's catch-up"
expect "$D" '^      state: delivered' "the customer's verified view"
expect "$D" '^      verified: every record' "the customer's verification"
expect "$D" "^    hub's ledger +VALID: [0-9]+ records" "the audit of the hub's ledger"
expect "$D" "^    print's replica +VALID: [0-9]+ records" "the audit of the restarted replica"
expect "$D" '[0-9]+ matcher rounds re-run: [1-9][0-9]* assignments identical' "the matcher replay"
expect "$D" 'Both copies end on the same Merkle root' "the two roots"
expect "$D" '^    13 +[0-9a-f]{8}  alice +Marathon caps .* \+ .* delivered$' "summary: split order"
expect "$D" '^    8 +[0-9a-f]{8}  bob +Brass door handles .* cancelled$' "summary: cancelled order"
expect "$D" '^    14 +[0-9a-f]{8}  carol +Blown-glass lamp shades .* not placed$' "summary: unplaced order"
expect "$D" '^    15 +[0-9a-f]{8}  carol +Acrylic cafe signs +cnc \(print timeout\) +delivered$' \
  "summary: reassigned order"
expect "$D" '^    20 orders: 18 delivered, 1 cancelled, 1 not placed\.' "summary: totals"
expect "$D" "^    Audits: hub's ledger VALID, print's replica VALID, same root" "summary: audits"
expect "$D" '^Done in [0-9.]+ s: every process stopped, .* removed\.' "the last line"
# shellcheck disable=SC2046
no_leftovers "$(demo_dir "$D")" $(demo_pids "$D")

# 2. --keep leaves the alliance running; the printed commands work; the
#    factories it runs are those of config/.
timeout 120 "$COFAB" demo --keep >"$OUT/keep.out" 2>"$OUT/keep.err"
rc=$?
K=$OUT/keep.out
[ "$rc" -eq 0 ] && ok || { bad "cofab demo --keep exited $rc"; cat "$OUT/keep.err"; }
KEEP_DIR=$(sed -n 's/^    cd //p' "$K")
read -r -a KEEP_PIDS <<<"$(sed -n 's/^    kill \([0-9 ]*\); sleep 1; rm -rf .*/\1/p' "$K")"
[ ${#KEEP_PIDS[@]} -eq 6 ] && ok || bad "--keep printed ${#KEEP_PIDS[@]} pids to kill, not 6"
for p in "${KEEP_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && ok || bad "--keep: process $p is not running"; done
[ -d "$KEEP_DIR" ] && ok || bad "--keep: no directory $KEEP_DIR"
# shellcheck disable=SC2016 # the printed command uses $C, set below
status_cmd=$(grep -E '^    \$C order status [0-9a-f]{64} ' "$K" | head -1)
if [ -n "$status_cmd" ] && [ -d "$KEEP_DIR" ]; then
  # shellcheck disable=SC2034 # C is read by the eval'd command
  (cd "$KEEP_DIR" && C=$COFAB && eval "$status_cmd") >"$OUT/status.out" 2>&1
  expect "$OUT/status.out" '^state: delivered' "--keep: the printed order status command"
else
  bad "--keep printed no order status command"
fi
(cd "$KEEP_DIR" 2>/dev/null && "$COFAB" audit verify --ledger data/hub --replay --json) >"$OUT/audit.out" 2>&1
expect "$OUT/audit.out" '"valid": true' "--keep: audit of the running hub's ledger"
if [ -d config ]; then
  for f in garments cnc print embroidery furniture; do
    if diff <(sed -n '/^\[capacity\]/,$p' "config/factory-$f.ini") \
      <(sed -n '/^\[capacity\]/,$p' "$KEEP_DIR/factory-$f.ini") >"$OUT/diff" 2>&1; then
      ok
    else
      bad "the demo's $f differs from config/factory-$f.ini:"
      cat "$OUT/diff"
    fi
  done
fi
stop_cmd=$(grep -E '^    kill [0-9 ]+; sleep 1; rm -rf /' "$K" | head -1)
eval "$stop_cmd"
# shellcheck disable=SC2086
no_leftovers "$KEEP_DIR" ${KEEP_PIDS[@]+"${KEEP_PIDS[@]}"}
KEEP_PIDS=()
KEEP_DIR=""

# 3. Ctrl-C midway: every child stopped, the directory removed, exit 1.
"$COFAB" demo >"$OUT/int.out" 2>"$OUT/int.err" &
P=$!
for _ in $(seq 300); do
  grep -q '^ 4\. Customers order' "$OUT/int.out" && break
  sleep 0.1
done
kill -INT "$P"
wait "$P"
rc=$?
[ "$rc" -eq 1 ] && ok || bad "interrupted demo exited $rc, not 1"
expect "$OUT/int.err" '^cofab demo: interrupted by SIGINT \(Ctrl-C\) during step [0-9]+' "the interrupt message"
# shellcheck disable=SC2046
no_leftovers "$(demo_dir "$OUT/int.out")" $(demo_pids "$OUT/int.out")

# 4. Usage.
"$COFAB" demo --bogus >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "an unknown option was not a usage error"
"$COFAB" demo --help | grep -q -- '--keep' && ok || bad "demo --help does not mention --keep"

echo "demo: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
