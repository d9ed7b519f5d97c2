#!/usr/bin/env bash
# End-to-end test of concurrent overwrites: two writer processes overwrite one key while two
# reader processes read it in a loop. Every put must succeed, every get must succeed and return
# one complete version, and the readers must have seen more than one version (else nothing was
# concurrent).
# Usage: tests/e2e_concurrent.sh path/to/cairn [PUTS_PER_WRITER]
source "$(dirname "$0")/e2e_lib.sh"
puts=${2:-150}

S="$T/set"
"$CAIRN" init --ec 4+2 "$S"/d{1..6} >/dev/null || { echo "init failed"; exit 1; }
export CAIRN_SET="$S/d1"
"$CAIRN" mb hot >/dev/null
# Four versions, told apart by size and content: one inline (below the inline limit), three
# with shard files of different sizes, so overwrites also switch between the two layouts.
sizes=(0 1000 700000 1400000 2100000)
for v in 1 2 3 4; do head -c "${sizes[$v]}" /dev/zero | tr '\0' "$v" >"$T/v$v"; done
expect 0 "first put" "$CAIRN" put "$T/v1" hot/key

echo "== two writers overwrite hot/key while it is read"
writers=()
for w in 1 2; do
  (
    failed=0
    for i in $(seq 1 "$puts"); do
      "$CAIRN" put --no-fsync "$T/v$(((i + w) % 4 + 1))" hot/key 2>>"$T/writer$w.err" ||
        failed=$((failed + 1))
    done
    exit $((failed > 100 ? 100 : failed))
  ) &
  writers+=($!)
  PIDS+=($!)
done
# read_loop R: reader R gets the key until both writers are done; writes "gets failed wrong" and
# the versions it saw to $T/reader$R.
read_loop() {
  local gets=0 failed=0 wrong=0 v match p alive
  local -A seen=()
  while :; do
    alive=0
    for p in "${writers[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || break
    gets=$((gets + 1))
    if ! "$CAIRN" get hot/key "$T/got$1" 2>>"$T/reader.err"; then
      failed=$((failed + 1))
      continue
    fi
    match=0
    for v in 1 2 3 4; do cmp -s "$T/got$1" "$T/v$v" && { match=$v; break; }; done
    if ((match)); then seen[$match]=1; else wrong=$((wrong + 1)); fi
  done
  echo "$gets $failed $wrong ${!seen[*]}" >"$T/reader$1"
}
readers=()
for r in 1 2; do
  read_loop "$r" &
  readers+=($!)
  PIDS+=($!)
done
wait "${readers[@]}"
for w in 1 2; do
  wait "${writers[$((w - 1))]}"
  rc=$?
  check "writer $w: every one of its $puts puts succeeded ($rc failed: $(head -c 300 "$T/writer$w.err"))" \
    test "$rc" -eq 0
done
gets=0 failed=0 wrong=0
declare -A seen=()
for r in 1 2; do
  read -r g f w vs <"$T/reader$r"
  gets=$((gets + g)) failed=$((failed + f)) wrong=$((wrong + w))
  for v in $vs; do seen[$v]=1; done
done
echo "$gets gets, versions seen: ${!seen[*]}"
check "the readers ran while the writers did ($gets gets)" test "$gets" -ge 40
check "the readers saw more than one version (${!seen[*]})" test "${#seen[@]}" -ge 2
check "no get returned wrong or torn bytes ($wrong of $gets)" test "$wrong" -eq 0
# Issue 8, 1.9: a get racing two writers must not fail while a committed version exists.
check "no get failed ($failed of $gets: $(sort -u "$T/reader.err" | head -n 3 | tr '\n' ' '))" \
  test "$failed" -eq 0

echo "== afterwards"
"$CAIRN" get hot/key "$T/got"
last=0
for v in 1 2 3 4; do cmp -s "$T/got" "$T/v$v" && last=$v; done
check "the key holds one of the written versions" test "$last" -ne 0
expect 0 "verify --deep finds nothing wrong" "$CAIRN" verify --deep
check "no temp files left behind" test -z "$(find "$S" -path '*/.cairn/tmp/*' -type f)"
check "one shard file per member at most" test "$(find "$S"/d*/hot -name 'key=?*' ! -name '*.prev' | wc -l)" -le 6

finish
