#!/usr/bin/env bash
# ledger_cli.sh — keygen, ledger and audit commands end to end: outputs, files and exit codes.
set -u
COFAB=${COFAB_BIN:-$(pwd)/build/cofab}
T=$(mktemp -d /tmp/cofab-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
# expect_rc WANT DESC CMD...: runs CMD, output to $T/out, checks the exit code.
expect_rc() {
  local want=$1 desc=$2
  shift 2
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then ok; else bad "$desc: exit $got, wanted $want"; cat "$T/err"; fi
}
contains() { if grep -q -- "$2" "$T/$1"; then ok; else bad "$3 ('$2' not in $1)"; cat "$T/$1"; fi; }

L=$T/ledger
expect_rc 0 "keygen hub" "$COFAB" keygen hub --dir "$T"
expect_rc 0 "keygen alice" "$COFAB" keygen alice --dir "$T"
[ "$(stat -c %a "$T/hub.key")" = 600 ] && ok || bad "hub.key mode is not 0600"
head -1 "$T/hub.pub" | grep -Eq '^hub\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$' && ok || bad "hub.pub first line is not a verifier key"
expect_rc 1 "keygen refuses to overwrite" "$COFAB" keygen hub --dir "$T"
expect_rc 2 "keygen without a name" "$COFAB" keygen
expect_rc 2 "keygen with a bad name" "$COFAB" keygen "bad name" --dir "$T"

chmod 640 "$T/hub.key"
expect_rc 1 "group-readable key refused" "$COFAB" ledger init --ledger "$L" --key "$T/hub.key" --origin example.org/cli
contains err "readable by group or others" "refusal names the permission problem"
chmod 600 "$T/hub.key"

expect_rc 0 "ledger init" "$COFAB" ledger init --ledger "$L" --key "$T/hub.key" --origin example.org/cli
contains out "^example.org/cli$" "init prints the first checkpoint"
expect_rc 1 "ledger init twice" "$COFAB" ledger init --ledger "$L" --key "$T/hub.key" --origin example.org/cli

for i in 1 2 3 4 5 6; do
  echo "note number $i" >"$T/p$i"
  expect_rc 0 "append $i" "$COFAB" ledger append --ledger "$L" --key "$T/hub.key" --kind note --payload-file "$T/p$i"
  [ "$(cat "$T/out")" = "$i" ] && ok || bad "append $i printed '$(cat "$T/out")'"
  if [ "$i" = 3 ]; then expect_rc 0 "checkpoint at 4" "$COFAB" ledger checkpoint --ledger "$L" --key "$T/hub.key"; fi
done
# Only the operator (here the hub key) or the hub may write notes: the
# tool applies the alliance rules like the hub does.
expect_rc 1 "a note by a non-member is refused" "$COFAB" ledger append --ledger "$L" --key "$T/alice.key" --kind note --payload-file "$T/p1"
contains err "rules refuse" "the refusal names the rules"
expect_rc 2 "append with unknown kind" "$COFAB" ledger append --ledger "$L" --key "$T/alice.key" --kind bogus --payload-file "$T/p1"
expect_rc 0 "checkpoint at 7" "$COFAB" ledger checkpoint --ledger "$L" --key "$T/hub.key"
contains out "^7$" "checkpoint names size 7"
contains out "^chain " "checkpoint carries the chain head"
contains out "^— hub " "checkpoint is signed by hub"

expect_rc 0 "ledger show" "$COFAB" ledger show --ledger "$L" --from 2 --count 3
[ "$(wc -l <"$T/out")" = 3 ] && ok || bad "show --count 3 printed $(wc -l <"$T/out") lines"
expect_rc 0 "ledger show --json" "$COFAB" ledger show --ledger "$L" --json
contains out '"kind": "genesis"' "json lists the genesis"
contains out '"size": 7' "json gives the size"

expect_rc 0 "audit verify" "$COFAB" audit verify --ledger "$L"
contains out "^VALID" "verify says VALID"
expect_rc 0 "audit verify pinned" "$COFAB" audit verify --ledger "$L" --hub-key "$T/hub.pub"
expect_rc 1 "audit verify pinned to the wrong key" "$COFAB" audit verify --ledger "$L" --hub-key "$T/alice.pub"
expect_rc 0 "audit verify --json" "$COFAB" audit verify --ledger "$L" --json
contains out '"valid": true' "json says valid"
expect_rc 2 "audit verify without --ledger" "$COFAB" audit verify
expect_rc 1 "audit verify of a missing ledger" "$COFAB" audit verify --ledger "$T/none"

expect_rc 0 "audit prove" "$COFAB" audit prove --ledger "$L" 0 3 6 --json
cp "$T/out" "$T/prove.json"
contains out '"checkpoint"' "prove prints the checkpoint"
contains out '"index": 6' "prove covers record 6"
expect_rc 1 "prove beyond the checkpoint" "$COFAB" audit prove --ledger "$L" 7 --json
expect_rc 2 "prove a non-number" "$COFAB" audit prove --ledger "$L" x
expect_rc 0 "audit consistency" "$COFAB" audit consistency --ledger "$L" 4 7 --json
cp "$T/out" "$T/consistency.json"
contains out '"old"' "consistency includes the stored old checkpoint"
expect_rc 1 "consistency backwards" "$COFAB" audit consistency --ledger "$L" 7 4

# Proofs and checkpoints checked by Go's sumdb/note and sumdb/tlog.
if command -v go >/dev/null && [ -d /usr/share/gocode/src/golang.org/x/mod/sumdb ]; then
  GOV="env GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$T/gocache go run $(pwd)/tests/interop/verify_proofs.go"
  expect_rc 0 "Go verifies inclusion proofs" $GOV -key "$(head -1 "$T/hub.pub")" <"$T/prove.json"
  expect_rc 0 "Go verifies the consistency proof" $GOV -consistency -key "$(head -1 "$T/hub.pub")" <"$T/consistency.json"
  sed 's/"proof": \[/"proof": ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",/' "$T/prove.json" >"$T/bad.json"
  expect_rc 1 "Go rejects a tampered proof" $GOV -key "$(head -1 "$T/hub.pub")" <"$T/bad.json"
else
  bad "Go interop verifier unavailable (install golang-go golang-golang-x-mod-dev: make deps)"
fi

# Tampering a stored record makes the audit fail and name it.
if command -v mdb_dump >/dev/null; then
  mdb_dump -s records "$L" >"$T/dump"
  # Record 5's value is the 6th data line after HEADER=END; flip one hex digit near its end.
  awk 'BEGIN{d=0} /^HEADER=END/{d=1; print; next} d&&/^ /{n++; if(n==12){c=substr($0,length($0)-3,1); r=(c=="0")?"1":"0"; $0=substr($0,1,length($0)-4) r substr($0,length($0)-2)}} {print}' "$T/dump" >"$T/dump2"
  mdb_load -s records "$L" <"$T/dump2" 2>/dev/null
  expect_rc 1 "audit verify of a tampered ledger" "$COFAB" audit verify --ledger "$L"
  contains out "record 5" "the tampered record is named"
else
  bad "mdb_dump unavailable (install lmdb-utils: make deps)"
fi

echo "ledger_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
