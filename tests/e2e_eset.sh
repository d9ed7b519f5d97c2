#!/usr/bin/env bash
# End-to-end tests of the erasure set's object paths under stress: metadata past the format's
# limits, deletes killed half way (rm -r under SIGKILL, members that refuse the delete), readers
# racing writers in other processes, a member that fills up during a put, and what verify and heal
# print (flushed line by line, in key order, counts of a resumed heal).
# Usage: tests/e2e_eset.sh path/to/cairn
source "$(dirname "$0")/e2e_lib.sh"
MOUNTS=()
trap 'for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done; for d in "$T"/set/d*; do chattr -R -i "$d" 2>/dev/null; done; cleanup' EXIT

S="$T/set"
D=("$S/d1" "$S/d2" "$S/d3" "$S/d4" "$S/d5" "$S/d6")
"$CAIRN" init --ec 4+2 --block-size 64K "${D[@]}" >/dev/null || { echo "init failed"; exit 1; }
export CAIRN_SET="${D[0]}"
"$CAIRN" mb bkt >/dev/null

echo "== metadata past the limits is refused up front, and the object stays"
echo "version one" >"$T/v1"
expect 0 "put v1" "$CAIRN" put --meta a=b "$T/v1" bkt/meta
long() { head -c "$1" /dev/zero | tr '\0' "${2:-a}"; }
expect 2 "a value of 8193 bytes" "$CAIRN" put --meta "n=$(long 8193)" "$T/v1" bkt/meta
check "... says why" grep -q "user metadata is 8194 bytes" "$T/err"
expect 2 "2 KiB + 1 in total" "$CAIRN" put --meta "n=$(long 1024)" --meta "m=$(long 1023)" "$T/v1" bkt/meta
expect 2 "a key of 1025 bytes" "$CAIRN" put --meta "$(long 1025 k)=v" "$T/v1" bkt/meta
expect 2 "a space in a key" "$CAIRN" put --meta "my key=v" "$T/v1" bkt/meta
expect 2 "a key twice" "$CAIRN" put --meta Color=red --meta color=blue "$T/v1" bkt/meta
expect 2 "a line break in a value" "$CAIRN" put --meta "k=a$(printf '\r\n')b" "$T/v1" bkt/meta
expect 2 "a content type of 257 bytes" "$CAIRN" put --content-type "$(long 257 t)" "$T/v1" bkt/meta
expect 2 "a content type of 1025 bytes" "$CAIRN" put --content-type "$(long 1025 t)" "$T/v1" bkt/meta
expect 2 "refused before the input is read (stdin stays open)" \
  timeout 5 "$CAIRN" put --meta "n=$(long 3000)" - bkt/meta < <(sleep 8)
"$CAIRN" get bkt/meta "$T/back"
check "the previous version reads back" cmp -s "$T/back" "$T/v1"
check "and is listed" test "$("$CAIRN" ls bkt | grep -c ' meta$')" -eq 1
"$CAIRN" --json stat bkt/meta >"$T/stat.json"
check "with its metadata" test "$(jq -c .meta "$T/stat.json")" = '{"a":"b"}'
expect 0 "at the limits: 2 KiB of metadata, 256 bytes of content type" \
  "$CAIRN" put --content-type "$(long 256 t)" --meta "n=$(long 1024)" --meta "m=$(long 1022)" "$T/v1" bkt/meta
"$CAIRN" get bkt/meta "$T/back"
check "... reads back" cmp -s "$T/back" "$T/v1"
expect 0 "... and is removed" "$CAIRN" rm bkt/meta
expect 0 "verify after the metadata checks" "$CAIRN" verify --deep

echo "== rm -r killed with SIGKILL, again and again: heal finishes, verify exits 0"
mkdir -p "$T/src"
KEYS=()
for i in $(seq 0 179); do
  size=$(( i % 9 == 0 ? 150000 + i * 1000 : i * 37 ))
  randfile "$T/src/$i" "$size"
  KEYS+=("$i")
  "$CAIRN" put --no-fsync "$T/src/$i" "bkt/p/$i" || bad "put p/$i"
done
for round in 1 2 3 4 5; do
  "$CAIRN" rm -r bkt/p/ >/dev/null 2>&1 &
  rp=$!
  PIDS+=("$rp")
  sleep "0.$((RANDOM % 6 + 2))"
  kill_ours 9 "$rp"; wait "$rp" 2>/dev/null
  "$CAIRN" verify >"$T/out" 2>"$T/err"
  rc=$?
  check "round $round: verify after the kill exits 0 or 3, not 1 ($rc: $(grep -m1 unrecoverable "$T/out"))" \
    test "$rc" -eq 0 -o "$rc" -eq 3
  expect 0 "round $round: heal" "$CAIRN" heal
  expect 0 "round $round: verify after heal" "$CAIRN" verify --deep
  left=0
  for k in $("$CAIRN" ls -r bkt/p/ | awk '{print $3}'); do
    left=$((left + 1))
    "$CAIRN" get "bkt/$k" "$T/back" 2>/dev/null && cmp -s "$T/back" "$T/src/${k#p/}" || bad "round $round: $k reads back"
  done
  echo "   round $round: $left objects left"
done
expect 0 "rm -r finishes" "$CAIRN" rm -r bkt/p/
check "nothing is left below p/" test -z "$("$CAIRN" ls -r bkt/p/)"
expect 0 "verify after rm -r" "$CAIRN" verify --deep

echo "== members that refuse a delete: it fails whole, or heal finishes it"
for i in 0 1 2; do "$CAIRN" put --no-fsync "$T/src/$((i * 9))" "bkt/q/$i" || bad "put q/$i"; done
if chattr +i "${D[3]}/bkt/q~" 2>/dev/null; then
  chattr +i "${D[4]}/bkt/q~" "${D[5]}/bkt/q~"
  expect 1 "rm with 3 of 6 members refusing fails" "$CAIRN" rm bkt/q/0
  chattr -i "${D[5]}/bkt/q~"
  "$CAIRN" get bkt/q/0 "$T/back"
  check "... and leaves the object whole" cmp -s "$T/back" "$T/src/0"
  expect 0 "verify: nothing to report" "$CAIRN" verify --deep
  expect 0 "rm with 2 of 6 members refusing succeeds" "$CAIRN" rm bkt/q/1
  expect 1 "the object is gone" "$CAIRN" get bkt/q/1 "$T/back"
  chattr -i "${D[3]}/bkt/q~" "${D[4]}/bkt/q~"
  expect 3 "verify: a delete that did not finish is degraded, not lost" "$CAIRN" verify --json
  check "... and said so" test "$(jq -r 'select(.key=="q/1") | .deleting' "$T/out")" = true
  expect 0 "heal finishes it" "$CAIRN" heal
  check "... and says so" grep -q "finished 1 deletes" "$T/out"
  expect 0 "verify after heal" "$CAIRN" verify --deep
  check "no file of q/1 is left" test -z "$(find "$S" -path '*/q~/1=*')"
else
  echo "   (skipped: chattr +i not permitted here)"
fi

echo "== readers racing writers in other processes"
for v in 1 2 3 4 5 6; do
  # Odd versions are inline (small), even ones are streamed (several blocks).
  if ((v % 2)); then head -c $((1000 + v)) /dev/zero | tr '\0' "$v" >"$T/v$v"
  else head -c $((300000 + v)) /dev/zero | tr '\0' "$v" >"$T/v$v"; fi
done
"$CAIRN" put "$T/v1" bkt/hot
writers=()
for w in 0 1; do
  ( for i in $(seq 1 40); do
      "$CAIRN" put $([[ $w -eq 0 ]] && echo --no-fsync) "$T/v$(( (i * 2 + w) % 6 + 1 ))" bkt/hot || exit 1
    done ) &
  writers+=($!)
  PIDS+=($!)
done
gets=0 failed=0 wrong=0
declare -A seen=()
while kill -0 "${writers[0]}" 2>/dev/null || kill -0 "${writers[1]}" 2>/dev/null; do
  gets=$((gets + 1))
  if ! "$CAIRN" get bkt/hot "$T/got" 2>"$T/geterr"; then
    failed=$((failed + 1))
    echo "   get failed: $(cat "$T/geterr")"
    continue
  fi
  match=0
  for v in 1 2 3 4 5 6; do cmp -s "$T/got" "$T/v$v" && { match=$v; break; }; done
  if ((match)); then seen[$match]=1; else wrong=$((wrong + 1)); fi
done
for w in "${writers[@]}"; do
  wait "$w"
  check "writer $w exited 0" test $? -eq 0
done
check "every get exited 0 ($failed of $gets failed)" test "$failed" -eq 0
check "every get returned one whole version ($wrong wrong)" test "$wrong" -eq 0
check "the gets saw more than one version (${#seen[@]})" test "${#seen[@]}" -gt 1
check "enough gets raced the writers ($gets)" test "$gets" -ge 20
expect 0 "verify after the race" "$CAIRN" verify --deep

echo "== a member that fills up during a put: a warning, and the object queued for heal"
S2="$T/set2"
mkdir -p "$S2"/e{1..6}
if mount -t tmpfs -o size=1m tmpfs "$S2/e3" 2>/dev/null; then
  MOUNTS+=("$S2/e3")
  "$CAIRN" init --ec 4+2 "$S2"/e{1..6} >/dev/null
  export CAIRN_SET="$S2/e1"
  "$CAIRN" mb bkt >/dev/null
  randfile "$T/big" $((6 * 1024 * 1024))
  EXPECT_WARNINGS=1 expect 0 "put with a full member exits 0" "$CAIRN" --json put "$T/big" bkt/big
  check "one warning line" test "$(wc -l <"$T/err")" -eq 1
  check "... naming member 3 and why" grep -q "^cairn: put: warning: bkt/big: written to 5 of 6 members; member 3 (.*/e3) failed: .*No space left on device (queued for heal)$" "$T/err"
  check "put --json names the member" test "$(jq -c .missed_members "$T/out")" = "[3]"
  check "the object is in the MRF journal" test "$(ls "$S2/e1/.cairn/mrf" | wc -l)" -eq 1
  "$CAIRN" get bkt/big "$T/back"
  check "the object reads back" cmp -s "$T/back" "$T/big"
  expect 0 "a put that fits says nothing" "$CAIRN" put "$T/v1" bkt/small
  check "... not a word" test ! -s "$T/err"
  expect 3 "verify: degraded" "$CAIRN" verify
  mount -o remount,size=64m "$S2/e3"
  expect 0 "heal once the member has room" "$CAIRN" heal --json
  # (The degraded get above journaled the object once more.)
  check "heal drained the journal" test "$(jq -r 'select(.type=="summary") | "\(.mrf_cleared) \(.mrf_entries)"' "$T/out")" = "2 2"
  expect 0 "verify --deep after heal" "$CAIRN" verify --deep
  export CAIRN_SET="${D[0]}"
else
  bad "cannot mount a tmpfs at $S2/e3 (this check needs root and mount(2)); not skipping"
fi

echo "== verify and heal print in key order, line by line; a resumed heal counts once"
for i in $(seq 0 59); do
  randfile "$T/src/o$i" $(( i % 3 == 0 ? 400000 : 2000 + i ))
  "$CAIRN" put --no-fsync "$T/src/o$i" "bkt/o/$i" || bad "put o/$i"
done
N=$("$CAIRN" ls -r bkt | wc -l)
for d in 1 4; do rm -rf "${D[$d]:?}"/* "${D[$d]}"/.cairn; done
EXPECT_WARNINGS=1 expect 3 "verify --json: every object degraded" "$CAIRN" verify --jobs 8 --json
jq -r 'select(.type=="object") | .key' "$T/out" >"$T/order"
check "verify listed every object" test "$(wc -l <"$T/order")" -eq "$N"
check "verify listed them in key order" cmp -s "$T/order" <(LC_ALL=C sort "$T/order")
"$CAIRN" heal --jobs 4 --max-rate 1M >"$T/heal1" 2>&1 &
hp=$!
PIDS+=("$hp")
# Killed once it has journaled its progress and printed a healed line (at --max-rate 1M the heal
# takes many seconds; polling rather than a fixed sleep keeps a busy machine from killing it
# before its first journal).
for _ in $(seq 1 600); do
  [[ -f "${D[0]}/.cairn/heal/state" ]] && grep -q "^healed  bkt/" "$T/heal1" && break
  sleep 0.1
done
kill_ours 9 "$hp"; wait "$hp" 2>/dev/null
check "a killed heal's log holds the lines it printed" grep -q "^healed  bkt/" "$T/heal1"
grep "^healed  bkt/" "$T/heal1" | awk '{sub(":$", "", $2); print $2}' >"$T/healed1"
check "... in key order" cmp -s "$T/healed1" <(LC_ALL=C sort "$T/healed1")
check "the heal journal is there" test -f "${D[0]}/.cairn/heal/state"
expect 0 "the heal resumes and completes" "$CAIRN" heal --jobs 4
check "... says it resumed" grep -q "resuming the heal" "$T/out"
check "... and counts each object once" grep -q "^scanned $N objects" "$T/out"
grep "^healed  bkt/" "$T/out" | awk '{sub(":$", "", $2); print $2}' >"$T/healed2"
check "... in key order" cmp -s "$T/healed2" <(LC_ALL=C sort "$T/healed2")
expect 0 "verify --deep after the resumed heal" "$CAIRN" verify --deep
for i in $(seq 0 59); do
  "$CAIRN" get "bkt/o/$i" "$T/back" 2>/dev/null && cmp -s "$T/back" "$T/src/o$i" || bad "o/$i reads back"
done

finish
