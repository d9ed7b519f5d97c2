#!/usr/bin/env bash
# End-to-end tests of verify, heal and gc on volume sets: faults are injected by editing the
# members' files (flipped bits, truncated shards, deleted metadata, wiped members, a killed put),
# and the real binary must find them, heal them, and read every object back byte-identical.
# Usage: tests/e2e_heal.sh path/to/cairn
source "$(dirname "$0")/e2e_lib.sh"
EXPECT_WARNINGS=1
# flip FILE OFFSET: xor one byte in place.
flip() {
  python3 - "$1" "$2" <<'PY'
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x5a]))
PY
}
# shard DIR KEY: the shard file of bkt/KEY (keys here are "big/N" or "small/N") on member DIR.
shard() { find "$1/bkt/${2%%/*}~" -name "${2#*/}=?*" ! -name '*.prev' -type f | head -1; }
meta() { echo "$1/bkt/${2%%/*}~/${2#*/}="; }
# unhealthy: the keys verify --json reported, sorted, one per line.
unhealthy() { jq -r 'select(.type=="object") | .key' "$T/out" | sort; }
readall() {
  local k
  for k in "${KEYS[@]}"; do
    "$CAIRN" get "bkt/$k" "$T/back" 2>/dev/null && cmp -s "$T/back" "$T/src/$k" || return 1
  done
}

S="$T/set"
D=("$S/d1" "$S/d2" "$S/d3" "$S/d4" "$S/d5" "$S/d6")
"$CAIRN" init --ec 4+2 --block-size 256K "${D[@]}" >/dev/null || { echo "init failed"; exit 1; }
export CAIRN_SET="${D[0]}"
"$CAIRN" mb bkt >/dev/null
mkdir -p "$T/src/big" "$T/src/small"
KEYS=()
for i in $(seq 0 11); do randfile "$T/src/big/$i" $((300000 + i * 150001)); KEYS+=("big/$i"); done
for i in $(seq 0 29); do randfile "$T/src/small/$i" $((i * 1500)); KEYS+=("small/$i"); done
for k in "${KEYS[@]}"; do "$CAIRN" put --no-fsync "$T/src/$k" "bkt/$k" || bad "put $k"; done

echo "== usage errors"
expect 2 "heal: two scopes" "$CAIRN" heal bkt other
expect 2 "heal: --jobs 0" "$CAIRN" heal --jobs 0
expect 2 "heal: bad --max-rate" "$CAIRN" heal --max-rate fast
expect 2 "verify: bad bucket name" "$CAIRN" verify B_A_D
expect 1 "verify: no such bucket" "$CAIRN" verify nosuchbucket
expect 2 "gc: bad duration" "$CAIRN" gc --older-than 3x
expect 2 "gc: negative duration" "$CAIRN" gc --older-than -1h
expect 2 "verify: a plain directory" "$CAIRN" verify "$T/src"

echo "== a healthy set"
expect 0 "verify" "$CAIRN" verify
expect 0 "verify --deep --json" "$CAIRN" verify --deep --json
check "verify --json summary counts every object" \
  test "$(jq -r 'select(.type=="summary") | "\(.scanned) \(.healthy)"' "$T/out")" = "42 42"
expect 0 "verify a prefix" "$CAIRN" verify bkt/small/
check "prefix scope" test "$(grep -o 'scanned [0-9]*' "$T/out")" = "scanned 30"

echo "== bitrot, truncation, lost metadata: found exactly, healed"
flip "$(shard "${D[3]}" big/1)" 10
flip "$(shard "${D[0]}" big/2)" 70000
flip "$(shard "${D[5]}" big/2)" 5
truncate -s 1000 "$(shard "${D[4]}" big/5)"
rm "$(meta "${D[1]}" big/7)"
flip "$(meta "${D[2]}" small/3)" 30
rm "$(meta "${D[4]}" small/9)" "$(meta "${D[5]}" small/9)"
printf 'big/1\nbig/2\nbig/5\nbig/7\nsmall/3\nsmall/9\n' >"$T/damaged"
expect 3 "verify --deep exits 3" "$CAIRN" verify --deep --json
check "verify --deep names exactly the damaged objects" diff <(unhealthy) "$T/damaged"
check "verify --deep names the blocks" \
  test "$(jq -c 'select(.key=="big/2") | [.problems[] | [.member, .problem, .blocks]]' "$T/out")" = \
  '[[1,"corrupt-blocks",[[1,1]]],[6,"corrupt-blocks",[[0,0]]]]'
expect 3 "quick verify sees the metadata and size faults" "$CAIRN" verify --json
check "quick verify finds all but the flipped shard bits" diff <(unhealthy) <(grep -v 'big/[12]$' "$T/damaged")
expect 3 "heal --dry-run exits like verify" "$CAIRN" heal --dry-run
check "dry run says what it would heal" grep -q "would heal 6 objects" "$T/out"
check "dry run changed nothing" test ! -e "$(meta "${D[1]}" big/7)"
expect 3 "still degraded after a dry run" "$CAIRN" verify
expect 0 "heal" "$CAIRN" heal --json
check "heal reports 6 healed" test "$(jq -r 'select(.type=="summary") | .healed' "$T/out")" = 6
expect 0 "verify --deep after heal" "$CAIRN" verify --deep
check "every object reads back" readall
expect 0 "a second heal has nothing to do" "$CAIRN" heal --json
check "second heal healed nothing" test "$(jq -r 'select(.type=="summary") | .healed' "$T/out")" = 0

echo "== two members wiped entirely, one directory removed"
rm -rf "${D[1]}"/* "${D[1]}"/.cairn
rm -rf "${D[4]}"
expect 3 "verify with two members gone exits 3" "$CAIRN" verify
check "every object degraded" grep -q "42 degraded" "$T/out"
check "objects still read" readall
expect 3 "heal with a member directory missing exits 3" "$CAIRN" heal
check "heal said member 5 is missing" grep -q "member 5 .*missing: does not exist" "$T/err"
check "heal did not create the missing member" test ! -e "${D[4]}"
check "heal formatted the empty member 2 meanwhile" grep -q "member 2 .*formatted as a replacement" "$T/out"
mkdir "${D[4]}"
expect 0 "heal re-formats the member and heals" "$CAIRN" heal
check "heal said member 5 was formatted" grep -q "member 5 .*formatted as a replacement" "$T/out"
check "member 2 holds its shards again" test "$(find "${D[1]}/bkt" -name '*=?*' ! -name '*.prev' -type f | wc -l)" -eq 12
check "member 5 holds its shards again" test "$(find "${D[4]}/bkt" -name '*=?*' ! -name '*.prev' -type f | wc -l)" -eq 12
expect 0 "verify --deep after the rebuild" "$CAIRN" verify --deep
# Reading with two other members gone must work from the rebuilt ones.
mv "${D[0]}" "$T/off0"; mv "${D[2]}" "$T/off2"
export CAIRN_SET="${D[1]}"
check "reads served by the rebuilt members" readall
mv "$T/off0" "${D[0]}"; mv "$T/off2" "${D[2]}"

echo "== a directory of another set is refused"
"$CAIRN" init --ec 1+1 "$T/other1" "$T/other2" >/dev/null
rm -rf "${D[5]}"; cp -a "$T/other1" "${D[5]}"
expect 3 "heal with a foreign member exits 3" "$CAIRN" heal
check "the foreign member was refused" grep -q "member 6 .*refused" "$T/err"
check "the foreign format is untouched" cmp -s "${D[5]}/.cairn/format" "$T/other1/.cairn/format"
rm -rf "${D[5]}"; mkdir "${D[5]}"
expect 0 "heal onto an empty directory" "$CAIRN" heal

echo "== a heal killed with SIGKILL resumes"
rm -rf "${D[2]}"/* "${D[2]}"/.cairn
"$CAIRN" heal --max-rate 1M --jobs 1 >"$T/heal1" 2>&1 &
hp=$!; PIDS+=("$hp")
for _ in $(seq 1 100); do [[ -f "${D[0]}/.cairn/heal/state" ]] && break; sleep 0.1; done
# Wait for a second save of the journal (every 2 s), so its mark has moved past a few objects.
cp "${D[0]}/.cairn/heal/state" "$T/journal1" 2>/dev/null
for _ in $(seq 1 100); do cmp -s "${D[0]}/.cairn/heal/state" "$T/journal1" || break; sleep 0.1; done
kill_ours 9 "$hp"; wait "$hp" 2>/dev/null
check "the heal journal was written" test -f "${D[0]}/.cairn/heal/state"
# big/0 is the first key: the killed heal had finished it before its journal could exist, so a
# resumed heal must not look at it again. Damage it now: only a heal that starts over finds it.
flip "$(shard "${D[0]}" big/0)" 100
expect 0 "the second heal completes" "$CAIRN" heal --json
check "the second heal resumed" grep -q '"message":"resuming the heal' "$T/out"
mark=$(jq -r 'select(.type=="summary") | .resumed_from' "$T/out")
check "the second heal says where it resumed ($mark)" test -n "$mark" -a "$mark" != null
jq -r 'select(.type=="object") | "bkt/" + .key' "$T/out" | LC_ALL=C sort >"$T/resumed.keys"
check "the second heal healed only objects after $mark" \
  test -z "$(LC_ALL=C awk -v m="$mark" '$0 <= m' "$T/resumed.keys")"
check "the second heal healed some, not all, of the 42 objects ($(wc -l <"$T/resumed.keys"))" \
  test "$(wc -l <"$T/resumed.keys")" -gt 0 -a "$(wc -l <"$T/resumed.keys")" -lt 42
check "the journal is gone" test ! -e "${D[0]}/.cairn/heal/state"
expect 3 "big/0, before the mark, was not scanned again" "$CAIRN" verify --deep --json
check "... so verify finds it damaged, and nothing else" test "$(unhealthy)" = big/0
expect 0 "a new heal finds and heals it" "$CAIRN" heal
expect 0 "verify --deep after the resumed heal" "$CAIRN" verify --deep
check "every object reads back after the resumed heal" readall

echo "== damage beyond parity is reported and left alone"
for d in 0 2 4; do flip "$(shard "${D[$d]}" big/3)" 100; done
before=$(for d in 0 2 4; do md5sum <"$(shard "${D[$d]}" big/3)"; done)
expect 1 "verify --deep exits 1" "$CAIRN" verify --deep --json
check "big/3 unrecoverable" test "$(jq -r 'select(.key=="big/3") | .health' "$T/out")" = unrecoverable
expect 1 "heal exits 1" "$CAIRN" heal
after=$(for d in 0 2 4; do md5sum <"$(shard "${D[$d]}" big/3)"; done)
check "the damaged shards were left as they were" test "$before" = "$after"
expect 1 "get of the lost object fails" "$CAIRN" get bkt/big/3 "$T/lost"
check "no partial output" test ! -e "$T/lost"
expect 0 "heal --remove-dangling" "$CAIRN" heal --remove-dangling --json
check "one removed" test "$(jq -r 'select(.type=="summary") | .removed' "$T/out")" = 1
expect 0 "verify --deep after removal" "$CAIRN" verify --deep
KEYS=("${KEYS[@]/big\/3}")
KEYS=(${KEYS[@]})
check "the others read back" readall

echo "== gc: a killed put, orphaned shards"
kill_put_midway bkt/killed 20000000
tmps=$(find "$S" -path '*/.cairn/tmp/*' -type f | wc -l)
check "the killed put left temp files" test "$tmps" -gt 0
echo junk >"${D[0]}/bkt/big~/0=0123456789abcdef0123456789abcdef"
expect 0 "gc keeps young files" "$CAIRN" gc --json
check "nothing young removed" test "$(jq -r 'select(.type=="summary") | .items' "$T/out")" = 0
expect 0 "gc --dry-run --older-than 0" "$CAIRN" gc --dry-run --older-than 0
check "dry run removed nothing" test "$(find "$S" -path '*/.cairn/tmp/*' -type f | wc -l)" -eq "$tmps"
expect 0 "gc --older-than 0" "$CAIRN" gc --older-than 0
check "gc reported the orphan" grep -q "orphan-shard" "$T/out"
check "temp files gone" test "$(find "$S" -path '*/.cairn/tmp/*' -type f | wc -l)" -eq 0
check "orphan gone" test ! -e "${D[0]}/bkt/big~/0=0123456789abcdef0123456789abcdef"
expect 0 "verify --deep after gc" "$CAIRN" verify --deep
check "every object reads back after gc" readall

echo "== 8+4: two members wiped, bitrot, truncation, lost metadata and a killed put together"
S8="$T/set8"
D8=(); for i in $(seq 1 12); do D8+=("$S8/d$i"); done
"$CAIRN" init --ec 8+4 --block-size 256K "${D8[@]}" >/dev/null || bad "init 8+4"
export CAIRN_SET="${D8[0]}"
"$CAIRN" mb bkt >/dev/null
for k in "${KEYS[@]}"; do "$CAIRN" put --no-fsync "$T/src/$k" "bkt/$k" || bad "put $k (8+4)"; done
kill_put_midway bkt/big/0 20000000
flip "$(shard "${D8[2]}" big/0)" 100
flip "$(shard "${D8[7]}" big/4)" 123
flip "$(shard "${D8[9]}" big/4)" 70000
truncate -s 0 "$(shard "${D8[11]}" big/6)"
rm "$(meta "${D8[0]}" big/8)" "$(meta "${D8[3]}" big/8)"
flip "$(meta "${D8[5]}" small/20)" 25
printf 'big/0\nbig/4\nbig/6\nbig/8\nsmall/20\n' >"$T/damaged8"
expect 3 "8+4: verify --deep exits 3" "$CAIRN" verify --deep --json
check "8+4: verify --deep names exactly the damaged objects" diff <(unhealthy) "$T/damaged8" || { jq -c . "$T/out" | head -5; }
rm -rf "${D8[4]}"/* "${D8[4]}"/.cairn "${D8[10]}"/* "${D8[10]}"/.cairn
expect 0 "8+4: heal" "$CAIRN" heal
check "8+4: wiped member 5 holds its shards again" test "$(find "${D8[4]}/bkt" -name '*=?*' ! -name '*.prev' -type f | wc -l)" -eq 11
check "8+4: wiped member 11 holds its shards again" test "$(find "${D8[10]}/bkt" -name '*=?*' ! -name '*.prev' -type f | wc -l)" -eq 11
expect 0 "8+4: verify --deep after heal" "$CAIRN" verify --deep
check "8+4: every object reads back" readall

finish
