# tests/drills/lib.sh — shared helpers of the fault drills: temp dir, ports, keys, configs, processes, deadlines, one verdict.
#
# Sourced (never run) by tests/drills/NN-*.sh. Environment, as `make drills`
# sets it:
#   COFAB_BIN        the cofab binary (default ./build/cofab)
#   COFAB_DRILL_DIR  where the test-only programs of tests/drills/*.c are built
#                    (default: drills/ beside COFAB_BIN)
#   DRILL_MODE       short (CI) or long (the full-size run); default short
#   DRILL_SEED       seed of $RANDOM (default: from the clock; printed first)
#   DRILL_DEADLINE_S overrides the drill's hard deadline (seconds)
#   DRILL_KEEP=1     keep the temp dir (and say where) instead of removing it
#
# A drill calls drill_init first, starts processes with drill_start (never
# inside $(...): the PID must belong to the drill's own shell), records
# problems with drill_problem, and ends with drill_finish SUMMARY, which
# stops everything with SIGTERM, checks exit codes and sanitizer reports,
# and prints the one verdict line:
#   drill NN NAME: PASS — SUMMARY
#   drill NN NAME: FAIL — FIRST PROBLEM (+N more); SUMMARY
# and exits 0 or 1. Whatever happens (failure, interrupt, hard deadline),
# the EXIT trap kills every process the drill started, by PID, and removes
# the temp dir. Everything talks to 127.0.0.1 only.

# ---- state ----
DRILL_NUM=""
DRILL_NAME=""
DRILL_PROBLEMS=()       # what went wrong, in order
DRILL_VERDICT_DONE=0    # 1 once the verdict line is out
DRILL_PORTS=" "         # ports handed out in this run
declare -A DRILL_PID    # name -> PID of the running process
DRILL_CLEANUP=()        # commands run at exit, after the processes are gone

drill_log() { echo "drill $DRILL_NUM: $*"; }

# drill_kill_recorded: SIGKILL every process recorded in $T/pids/ (one file
# per started process, removed when it is reaped), checking first that the
# PID still runs one of our programs (bash reaps exited children itself, so
# a PID could in theory have been reused).
drill_kill_recorded() {
  local f p
  for f in "$T"/pids/*; do
    [ -f "$f" ] || continue
    read -r p <"$f" || continue
    if [ -r "/proc/$p/cmdline" ] && grep -q -a -e cofab -e drill_ "/proc/$p/cmdline" 2>/dev/null; then
      kill -KILL "$p" 2>/dev/null
    fi
  done
}

# drill_on_cleanup CMD: run CMD (eval'd) at exit, after every process is killed
# and before the temp dir is removed (e.g. unmounting a tmpfs inside it).
drill_on_cleanup() { DRILL_CLEANUP+=("$1"); }
drill_problem() { DRILL_PROBLEMS+=("$*"); drill_log "problem: $*"; }
drill_now_ms() { date +%s%3N; }

# drill_init NUM NAME DEADLINE_SHORT_S DEADLINE_LONG_S
drill_init() {
  DRILL_NUM=$1
  DRILL_NAME=$2
  DRILL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  DRILL_BIN=${COFAB_DRILL_DIR:-$(dirname "$COFAB")/drills}
  MODE=${DRILL_MODE:-short}
  case "$MODE" in
    short) DRILL_DEADLINE=$3 ;;
    long) DRILL_DEADLINE=$4 ;;
    *) echo "drill $DRILL_NUM $DRILL_NAME: FAIL — DRILL_MODE must be short or long, not '$MODE'"; exit 1 ;;
  esac
  COFAB=${COFAB_BIN:-$DRILL_ROOT/build/cofab}
  DRILL_ASAN=0
  if grep -q __asan_init "$COFAB" 2>/dev/null; then
    DRILL_ASAN=1
    DRILL_DEADLINE=$((DRILL_DEADLINE * 2)) # everything runs 2-3 times slower
  fi
  DRILL_DEADLINE=${DRILL_DEADLINE_S:-$DRILL_DEADLINE} # an override, to test the deadline itself
  DRILL_SEED=${DRILL_SEED:-$(( $(date +%s%N) % 32768 ))}
  RANDOM=$DRILL_SEED
  DRILL_T0=$SECONDS
  T=$(mktemp -d "/tmp/cofab-drill-$DRILL_NUM-XXXXXX") || { echo "drill $DRILL_NUM $DRILL_NAME: FAIL — no temp dir"; exit 1; }
  mkdir -p "$T/keys" "$T/logs" "$T/data" "$T/pids"
  trap drill_on_exit EXIT
  trap 'drill_abort "interrupted"' INT TERM
  trap 'drill_abort "hard deadline of ${DRILL_DEADLINE}s exceeded"' USR1
  # Watchdog: tells the drill its time is up, then, should the drill not
  # manage to clean up, kills what it started, by PID.
  (
    trap - EXIT INT USR1
    sp=""
    trap 'kill $sp 2>/dev/null; exit 0' TERM
    sleep "$DRILL_DEADLINE" & sp=$!
    wait $sp
    kill -USR1 $$ 2>/dev/null
    sleep 20 & sp=$!
    wait $sp
    drill_kill_recorded
    kill -KILL $$ 2>/dev/null
    echo "drill $DRILL_NUM $DRILL_NAME: FAIL — hard deadline of ${DRILL_DEADLINE}s exceeded, and no clean exit 20 s later" >&3
  ) 3>&1 >/dev/null 2>&1 &
  DRILL_WATCHDOG=$!
  for f in "$COFAB" "$DRILL_BIN/drill_client" "$DRILL_BIN/drill_check"; do
    [ -x "$f" ] || drill_abort "$f is not built (make drills builds it)"
  done
  drill_log "mode $MODE, seed $DRILL_SEED, deadline ${DRILL_DEADLINE}s, asan $DRILL_ASAN${ASAN_OPTIONS:+ (ASAN_OPTIONS=$ASAN_OPTIONS)}, dir $T"
}

# ---- ports, keys, configs ----

# drill_port VAR: sets VAR to a loopback TCP port nobody listens on and that
# this drill has not handed out before. (Not in $(...): the list of ports
# handed out lives in this shell.) Ports come from below the kernel's
# ephemeral range, so the drills' own outgoing connections (hundreds in
# drill 04) cannot take a port between this check and the hub's bind.
drill_port() {
  local p low=32768
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null
  [ "${low:-0}" -gt 11000 ] 2>/dev/null || low=32768
  for p in $(shuf -i 10000-$((low - 1)) -n 200); do
    case "$DRILL_PORTS" in *" $p "*) continue ;; esac
    (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null && continue
    DRILL_PORTS="$DRILL_PORTS$p "
    printf -v "$1" '%s' "$p"
    return 0
  done
  drill_abort "no free port"
}

# drill_endpoints: sets SUBMIT and FEED (tcp://127.0.0.1:PORT) and HUB_PUB.
drill_endpoints() {
  local a b
  drill_port a
  drill_port b
  SUBMIT=tcp://127.0.0.1:$a
  FEED=tcp://127.0.0.1:$b
  HUB_PUB=$T/keys/hub.pub
}

# drill_keygen NAME...: keys in $T/keys.
drill_keygen() {
  local k
  for k in "$@"; do
    "$COFAB" keygen "$k" --dir "$T/keys" >/dev/null 2>&1 || drill_abort "keygen $k failed"
  done
}

# drill_hub_ini FILE [--hub "key = value"]... [--alliance "key = value"]... [--member NAME:ROLE]...
# The hub's data is $T/data/hub, its keys hub.key and operator.pub in $T/keys;
# SUBMIT and FEED must be set. The alliance defaults to customers = open.
drill_hub_ini() {
  local file=$1 hub=() alliance=() members=()
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --hub) hub+=("$2") ;;
      --alliance) alliance+=("$2") ;;
      --member) members+=("$2") ;;
      *) drill_abort "drill_hub_ini: unknown option $1" ;;
    esac
    shift 2
  done
  {
    printf '[hub]\norigin = drill.example/%s\ndata_dir = data/hub\nkey = keys/hub.key\n' "$DRILL_NAME"
    printf 'operator = keys/operator.pub\nsubmit = %s\nfeed = %s\n' "$SUBMIT" "$FEED"
    local l m
    for l in "${hub[@]}"; do printf '%s\n' "$l"; done
    printf '[alliance]\n'
    local has_customers=0
    for l in "${alliance[@]}"; do
      printf '%s\n' "$l"
      case "$l" in customers*) has_customers=1 ;; esac
    done
    [ $has_customers -eq 1 ] || printf 'customers = open\n'
    for m in "${members[@]}"; do
      printf '[member.%s]\npub = keys/%s.pub\nrole = %s\n' "${m%%:*}" "${m%%:*}" "${m#*:}"
    done
  } >"$file"
}

# drill_node_ini NAME [--offer PROCESS:MATERIALS:UNIT_PRICE:PER_DAY]... [--auto yes|no]
#                [--witness yes|no] [--reconnect MS] [--reserve PCT]
# Writes $T/NAME.ini: replica in $T/data/NAME, control socket $T/NAME.ctl.
drill_node_ini() {
  local name=$1 auto=yes witness=yes reconnect=500 reserve=0 offers=()
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --offer) offers+=("$2") ;;
      --auto) auto=$2 ;;
      --witness) witness=$2 ;;
      --reconnect) reconnect=$2 ;;
      --reserve) reserve=$2 ;;
      *) drill_abort "drill_node_ini: unknown option $1" ;;
    esac
    shift 2
  done
  [ ${#offers[@]} -gt 0 ] || offers=("sewing:cotton:100:1000")
  {
    printf '[node]\nname = %s\nkey = keys/%s.key\nhub_pub = keys/hub.pub\nhub = %s\nfeed = %s\n' \
      "$name" "$name" "$SUBMIT" "$FEED"
    printf 'data_dir = data/%s\ncontrol = ipc://%s/%s.ctl\nauto_accept = %s\nwitness = %s\n' \
      "$name" "$T" "$name" "$auto" "$witness"
    printf 'reconnect_max_ms = %s\n' "$reconnect"
    printf '[capacity]\nlat = 45.5\nlon = 9.2\nlocation = Drill\nlead_days = 0\nreserve_pct = %s\nhorizon_days = 60\n' "$reserve"
    local o
    for o in "${offers[@]}"; do
      IFS=: read -r proc mats price perday <<<"$o"
      printf '[offer.%s]\nmaterials = %s\nunit_price = %s\nsetup_cost = 100\n' "$proc" "$mats" "$price"
      printf 'moq = 1\nmax_qty = 100000\nper_day = %s\n' "$perday"
    done
  } >"$T/$name.ini"
}

# ---- processes ----

# drill_start NAME CMD...: runs CMD in the background, stdout+stderr appended
# to $T/logs/NAME.log. Call it in the drill's own shell (not in $(...)).
drill_start() {
  local name=$1
  shift
  "$@" >>"$T/logs/$name.log" 2>&1 &
  DRILL_PID[$name]=$!
  echo "$!" >"$T/pids/$name"
}

# drill_reaped NAME: forgets the process once waited for.
drill_reaped() { unset "DRILL_PID[$1]"; rm -f "$T/pids/$1"; }

drill_running() { local p=${DRILL_PID[$1]:-}; [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# drill_kill NAME [SIGNAL]: a fault: SIGKILL (default) and reap. Not a problem.
drill_kill() {
  local p=${DRILL_PID[$1]:-}
  [ -n "$p" ] || return 0
  kill "-${2:-KILL}" "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  drill_reaped "$1"
}

# drill_reap_dead NAME...: a process among NAMEs that ended on its own is
# reaped; a non-zero status (a crash, an abort) is a problem. Returns 0 when
# none had died.
drill_reap_dead() {
  local n p rc dead=0
  for n in "$@"; do
    p=${DRILL_PID[$n]:-}
    [ -n "$p" ] || continue
    kill -0 "$p" 2>/dev/null && continue
    wait "$p"
    rc=$?
    drill_reaped "$n"
    dead=1
    [ "$rc" -eq 0 ] ||
      drill_problem "$n died on its own with status $rc: $(grep -v '^\s*$' "$T/logs/$n.log" | tail -1 | cut -c1-160)"
  done
  return $dead
}

# drill_starve_begin NAME / drill_starve_end NAME: an overloaded machine. Every
# thread of NAME goes to nice 19 and CPU 0, where a busy loop runs at normal
# priority, so NAME gets a sliver of one CPU until drill_starve_end (which
# restores nice 0 when the drill runs as root; otherwise NAME stays at 19).
drill_starve_begin() {
  local p=${DRILL_PID[$1]:-} t
  [ -n "$p" ] || return 1
  for t in /proc/"$p"/task/*; do renice -n 19 -p "${t##*/}" >/dev/null 2>&1; done
  taskset -a -p -c 0 "$p" >/dev/null 2>&1
  drill_start "hog-$1" taskset -c 0 bash -c 'while :; do :; done' drill_hog
}
drill_starve_end() {
  local p=${DRILL_PID[$1]:-} t
  drill_kill "hog-$1"
  [ -n "$p" ] || return 0
  taskset -a -p -c "0-$(( $(nproc) - 1 ))" "$p" >/dev/null 2>&1
  if [ "$(id -u)" = 0 ]; then
    for t in /proc/"$p"/task/*; do renice -n 0 -p "${t##*/}" >/dev/null 2>&1; done
  fi
  return 0
}

# drill_stop NAME [SECONDS]: SIGTERM, wait up to SECONDS (default 20), must exit 0.
# A process that does not stop in time is killed and reported as a problem.
drill_stop() {
  local name=$1 limit=${2:-20} p=${DRILL_PID[$1]:-} i rc
  [ -n "$p" ] || return 0
  if ! kill -0 "$p" 2>/dev/null; then # it ended on its own: fine only with status 0
    wait "$p"
    rc=$?
    drill_reaped "$name"
    [ "$rc" -eq 0 ] && return 0
    drill_problem "$name died on its own with status $rc: $(grep -v '^\s*$' "$T/logs/$name.log" | tail -1 | cut -c1-160)"
    return 1
  fi
  kill -TERM "$p" 2>/dev/null
  for (( i = 0; i < limit * 10; i++ )); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$p" 2>/dev/null; then
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    drill_problem "$name did not stop within ${limit}s of SIGTERM"
    drill_reaped "$name"
    return 1
  fi
  wait "$p"
  rc=$?
  drill_reaped "$name"
  if [ "$rc" -ne 0 ]; then
    drill_problem "$name exited with status $rc after SIGTERM (see $name.log)"
    return 1
  fi
  return 0
}

# drill_stop_all: drill_stop on everything still running (clients first, hub last).
drill_stop_all() {
  local n
  for n in "${!DRILL_PID[@]}"; do [ "$n" = hub ] || drill_stop "$n" 30; done
  drill_stop hub 30
}

# drill_start_hub INI: starts the hub (name "hub") and waits for its
# "serving" line. Returns 1 (with a problem) when it does not come up.
drill_start_hub() {
  local ini=$1 before limit=${2:-30}
  before=$(grep -c ' hub: serving ' "$T/logs/hub.log" 2>/dev/null)
  drill_start hub "$COFAB" hub --config "$ini"
  local deadline=$((SECONDS + limit))
  while [ "$SECONDS" -lt "$deadline" ]; do
    [ "$(grep -c ' hub: serving ' "$T/logs/hub.log" 2>/dev/null)" -gt "${before:-0}" ] && return 0
    drill_running hub || break
    sleep 0.1
  done
  drill_problem "the hub did not come up within ${limit}s (hub.log: $(tail -1 "$T/logs/hub.log" 2>/dev/null))"
  return 1
}

# wait_for SECONDS CMD...: retries CMD every 0.2 s; 0 once it succeeds, 1 on timeout.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  while [ "$SECONDS" -lt "$deadline" ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

# ---- ledger helpers ----

# kv KEY TEXT: the value of KEY=VALUE in a line of key=value pairs.
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2" | head -1; }
kvn() { local v; v=$(kv "$1" "$2"); echo "${v:-0}"; }

# drill_fg CMD...: runs a (possibly long) command as a recorded background job
# and waits for it, so that a deadline or an interrupt is acted on at once
# (bash runs traps only between foreground commands, but `wait` returns
# when a trapped signal arrives) and the command is killed with the rest.
drill_fg() {
  local p rc
  "$@" &
  p=$!
  echo "$p" >"$T/pids/fg-$p"
  wait "$p"
  rc=$?
  rm -f "$T/pids/fg-$p"
  return $rc
}

drill_check() { drill_fg timeout 120 "$DRILL_BIN/drill_check" "$@"; }

# drill_audit DIR [ARGS]: cofab audit verify --ledger DIR (bounded); the JSON
# report goes to $T/audit.json, stderr to $T/audit.err. 0 when valid.
drill_audit() {
  local dir=$1
  shift
  drill_fg timeout 600 "$COFAB" audit verify --ledger "$dir" --json "$@" >"$T/audit.json" 2>"$T/audit.err"
}

# drill_wait_cosigned DIR K SECONDS: waits until the latest checkpoint of the
# ledger in DIR covers all its records and carries at least K cosignatures
# (so that an audit of the stopped ledger finds a witnessed head).
drill_cosigned() {
  local cp size
  cp=$(drill_check checkpoint "$1" 2>/dev/null) || return 1
  size=$(drill_check digest "$1" 2>/dev/null) || return 1
  [ "$(kv size "$cp")" = "$(kv records "$size")" ] && [ "$(kvn cosignatures "$cp")" -ge "$2" ]
}
drill_wait_cosigned() { wait_for "$3" drill_cosigned "$1" "$2"; }

drill_audit_reason() {
  { grep -m1 -o '"reason": *"[^"]*"' "$T/audit.json"; tail -1 "$T/audit.err"; } 2>/dev/null | head -2 | tr '\n' ' '
}

# ---- the end ----

# drill_sanitizer_scan: any AddressSanitizer/LeakSanitizer/UBSan report in a log is a problem.
drill_sanitizer_scan() {
  local f
  for f in "$T"/logs/*.log; do
    [ -f "$f" ] || continue
    if grep -q -E 'ERROR: (Address|Leak|Undefined|Thread)Sanitizer|runtime error:' "$f"; then
      drill_problem "sanitizer report in $(basename "$f"): $(grep -m1 -E 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$f" | cut -c1-160)"
    fi
  done
}

# drill_finish SUMMARY: stops everything, scans logs, prints the verdict, exits.
drill_finish() {
  local summary=$1 elapsed
  drill_stop_all
  drill_sanitizer_scan
  elapsed=$((SECONDS - DRILL_T0))
  if [ ${#DRILL_PROBLEMS[@]} -eq 0 ]; then
    DRILL_VERDICT_DONE=1
    echo "drill $DRILL_NUM $DRILL_NAME: PASS — $summary (${elapsed}s)"
    exit 0
  fi
  drill_dump_logs
  DRILL_VERDICT_DONE=1
  local more=""
  [ ${#DRILL_PROBLEMS[@]} -gt 1 ] && more=" (+$(( ${#DRILL_PROBLEMS[@]} - 1 )) more)"
  echo "drill $DRILL_NUM $DRILL_NAME: FAIL — ${DRILL_PROBLEMS[0]}$more; $summary (${elapsed}s)"
  exit 1
}

drill_dump_logs() {
  local f
  for f in "$T"/logs/*.log; do
    [ -s "$f" ] || continue
    echo "--- tail of $(basename "$f")"
    tail -8 "$f"
  done
}

# drill_abort REASON: immediate FAIL (set-up failure, interrupt, deadline).
drill_abort() {
  [ "$DRILL_VERDICT_DONE" -eq 1 ] && exit 1
  trap - USR1 INT TERM
  drill_kill_recorded
  drill_dump_logs 2>/dev/null
  DRILL_VERDICT_DONE=1
  echo "drill $DRILL_NUM $DRILL_NAME: FAIL — $1 ($((SECONDS - ${DRILL_T0:-0}))s)"
  exit 1
}

drill_on_exit() {
  local rc=$?
  trap - EXIT USR1 INT TERM
  if [ "$DRILL_VERDICT_DONE" -eq 0 ]; then
    echo "drill $DRILL_NUM $DRILL_NAME: FAIL — the script ended without a verdict (status $rc)"
    rc=1
  fi
  drill_kill_recorded
  [ -n "${DRILL_WATCHDOG:-}" ] && kill "$DRILL_WATCHDOG" 2>/dev/null
  wait 2>/dev/null
  local c
  for c in "${DRILL_CLEANUP[@]}"; do eval "$c" >/dev/null 2>&1; done
  if [ "${DRILL_KEEP:-0}" = 1 ]; then
    echo "drill $DRILL_NUM: kept $T" >&2
  else
    rm -rf "$T"
  fi
  exit "$rc"
}
