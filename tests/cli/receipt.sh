#!/usr/bin/env bash
# receipt.sh — `cofab audit receipt` on receipts from `audit prove --receipt`: exit codes, tampering, and agreement with the independent Python checker.
set -u
COFAB=${COFAB_BIN:-$(pwd)/build/cofab}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/cofab-receipt-XXXXXX)
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
  if [ "$got" -eq "$want" ]; then ok; else bad "$desc: exit $got, wanted $want"; cat "$T/out" "$T/err"; fi
}
contains() { if grep -q -- "$2" "$T/$1"; then ok; else bad "$3 ('$2' not in $1)"; cat "$T/$1"; fi; }
# agree WANT FILE KEY: cofab and verify_receipt.py both accept (0) or both refuse (1) FILE.
agree() {
  local want=$1 file=$2 key=$3 c p
  "$COFAB" audit receipt "$file" --hub-key "$key" >"$T/c.out" 2>&1
  c=$?
  python3 "$ROOT/tests/interop/verify_receipt.py" "$file" "$key" >"$T/p.out" 2>&1
  p=$?
  [ "$p" -ne 0 ] && p=1
  if [ "$c" -eq "$want" ] && [ "$p" -eq "$want" ]; then ok; else
    bad "$(basename "$file"): cofab exit $c, python exit $p, wanted $want"; cat "$T/c.out" "$T/p.out"; fi
}

L=$T/ledger
R=$T/receipts
expect_rc 0 "keygen hub" "$COFAB" keygen hub --dir "$T"
expect_rc 0 "keygen other" "$COFAB" keygen other --dir "$T"
expect_rc 0 "ledger init" "$COFAB" ledger init --ledger "$L" --key "$T/hub.key" --origin example.org/receipts
for i in 1 2 3 4 5 6 7 8 9 10; do
  echo "note number $i" >"$T/p"
  expect_rc 0 "append $i" "$COFAB" ledger append --ledger "$L" --key "$T/hub.key" --kind note --payload-file "$T/p"
done
expect_rc 0 "checkpoint" "$COFAB" ledger checkpoint --ledger "$L" --key "$T/hub.key"
expect_rc 0 "prove with receipts" "$COFAB" audit prove --ledger "$L" 0 1 2 3 4 5 6 7 8 9 10 --receipt "$R"
[ "$(ls "$R" | grep -c '\.tlog-proof$')" -eq 11 ] && ok || bad "expected 11 receipts"

# cofab and the independent checker both accept receipts with proofs of
# every shape here (first, odd, middle, last leaf); the checker is slow, so
# not all eleven.
for n in 0 1 5 10; do agree 0 "$R/record-$n.tlog-proof" "$T/hub.pub"; done
expect_rc 0 "all receipts at once" "$COFAB" audit receipt "$R"/*.tlog-proof --hub-key "$T/hub.pub"
contains out "^VALID: 11 receipts valid, 0 invalid" "summary line"
contains out "record 10 (note) is in the 11-record log example.org/receipts signed by hub" "names record, log and hub"
expect_rc 0 "json" "$COFAB" audit receipt "$R/record-3.tlog-proof" --hub-key "$T/hub.pub" --json
contains out '"valid": true' "json says valid"
contains out '"index": 3' "json gives the index"
contains out '"tree_size": 11' "json gives the tree size"
contains out '"kind": "note"' "json gives the kind"
contains out '"author_name": "hub"' "json names the author it knows"

# A policy whose log line pins the hub stands in for --hub-key; one that
# pins another key refuses.
{ echo "log $(head -1 "$T/hub.pub")"; echo "quorum 0"; } >"$T/policy"
expect_rc 0 "policy log line instead of --hub-key" "$COFAB" audit receipt "$R/record-4.tlog-proof" --policy "$T/policy"
{ echo "log $(head -1 "$T/other.pub")"; echo "quorum 0"; } >"$T/policy-other"
expect_rc 1 "policy pinning another hub" "$COFAB" audit receipt "$R/record-4.tlog-proof" --hub-key "$T/hub.pub" --policy "$T/policy-other"
contains out "COFAB_EKEYMISMATCH" "names the key mismatch"
# A policy that wants a witness: this checkpoint has none.
{ echo "witness $(head -1 "$T/other.pub")"; echo "quorum 1"; } >"$T/policy-w"
expect_rc 1 "quorum not met" "$COFAB" audit receipt "$R/record-4.tlog-proof" --hub-key "$T/hub.pub" --policy "$T/policy-w"
contains out "COFAB_EWITNESS" "names the missing witnesses"

# Tampering: both verifiers refuse, cofab names why.
G=$R/record-5.tlog-proof
agree 1 "$G" "$T/other.pub"
"$COFAB" audit receipt "$G" --hub-key "$T/other.pub" >"$T/out"
contains out "no signature by hub key other" "wrong hub key is named"
# A proof hash changed (first character of the first proof line).
awk 'NR == 4 { c = substr($0, 1, 1); $0 = (c == "A" ? "B" : "A") substr($0, 2) } { print }' "$G" >"$T/proof.tlog-proof"
agree 1 "$T/proof.tlog-proof" "$T/hub.pub"
"$COFAB" audit receipt "$T/proof.tlog-proof" --hub-key "$T/hub.pub" >"$T/out"
contains out "COFAB_EPROOF" "proof failure is EPROOF"
# A record byte changed: the hub clock (base64 characters 13-24 of the record).
awk 'NR == 2 { c = substr($0, 20, 1); $0 = substr($0, 1, 19) (c == "A" ? "B" : "A") substr($0, 21) } { print }' "$G" >"$T/record.tlog-proof"
agree 1 "$T/record.tlog-proof" "$T/hub.pub"
"$COFAB" audit receipt "$T/record.tlog-proof" --hub-key "$T/hub.pub" >"$T/out"
contains out "COFAB_EPROOF" "record change is caught by the proof"
# The signed root changed.
root=$(sed -n '/^$/{n;n;n;p;q}' "$G")
newroot=$( [ "${root:0:1}" = A ] && echo "B${root:1}" || echo "A${root:1}")
sed "s|^$root\$|$newroot|" "$G" >"$T/root.tlog-proof"
agree 1 "$T/root.tlog-proof" "$T/hub.pub"
"$COFAB" audit receipt "$T/root.tlog-proof" --hub-key "$T/hub.pub" >"$T/out"
contains out "COFAB_EBADSIG" "root change breaks the hub signature"
# Wrong index.
sed 's/^index 5$/index 6/' "$G" >"$T/index.tlog-proof"
agree 1 "$T/index.tlog-proof" "$T/hub.pub"
# Malformed files: cofab refuses with the reason and goes on to the next file.
head -c 200 "$G" >"$T/trunc.tlog-proof"
{ cat "$G"; echo "garbage"; } >"$T/trail.tlog-proof"
expect_rc 1 "malformed among good" "$COFAB" audit receipt "$R/record-1.tlog-proof" "$T/trunc.tlog-proof" "$T/trail.tlog-proof" "$T/missing.tlog-proof" "$R/record-2.tlog-proof" --hub-key "$T/hub.pub"
contains out "trunc.tlog-proof: FAIL: .*COFAB_ETRUNCATED" "truncation named"
contains out "trail.tlog-proof: FAIL: .*COFAB_ETRAILING" "trailing bytes named"
contains out "missing.tlog-proof: FAIL: cannot read" "unreadable file named"
contains out "^INVALID: 2 receipts valid, 3 invalid" "summary counts both"
expect_rc 1 "json of a failure" "$COFAB" audit receipt "$T/trunc.tlog-proof" --hub-key "$T/hub.pub" --json
contains out '"valid": false' "json says invalid"
contains out '"code": "COFAB_ETRUNCATED"' "json gives the code"

# Usage.
expect_rc 2 "no file" "$COFAB" audit receipt --hub-key "$T/hub.pub"
expect_rc 2 "no hub key" "$COFAB" audit receipt "$G"
expect_rc 2 "unreadable hub key" "$COFAB" audit receipt "$G" --hub-key "$T/none.pub"
expect_rc 2 "bad policy" "$COFAB" audit receipt "$G" --hub-key "$T/hub.pub" --policy "$G"
expect_rc 2 "unknown option" "$COFAB" audit receipt "$G" --hub-key "$T/hub.pub" --frobnicate
expect_rc 0 "audit --help" "$COFAB" audit --help
contains out "cofab audit receipt FILE" "audit --help lists the receipt verb"

echo "receipt.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
