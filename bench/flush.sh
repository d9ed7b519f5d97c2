#!/usr/bin/env bash
# Flush strategy: syncfs(2) against fdatasync(2) of our own files, for small PUTs (16 concurrent
# writers), a large PUT and an encode (bench/flush_bench.cc), each in three conditions: a settled
# page cache; right after another process wrote 768 MiB without syncing it (dirty); and while
# another process keeps writing (busy: a dd of up to 2 GiB without sync running beside). The reference
# is a plain `dd conv=fsync` of 768 MiB (the shard bytes of a 512 MiB object on 4+2), run in the
# same conditions. The runs of each row are interleaved with the other rows', so a disk that is
# faster or slower for a while does not favour one strategy.
# With two cairn binaries (OLD: one that flushes with syncfs, NEW: with fdatasync), also times
# `cairn encode` and `cairn put` of a 512 MiB file with each.
# Prints medians of RUNS runs as markdown table rows: each cell is the figure and, in
# parentheses, the MiB the disk wrote during the step (its own bytes plus what its flush forced
# out for others).
#
# Usage: [ONLY=REGEX] bench/flush.sh [DIR [RUNS [OLD_CAIRN NEW_CAIRN]]]
#   DIR: where to write (default /var/tmp); RUNS: default 5. About 18 minutes for every row with
#   two binaries on a 2-core VM with a ~300 MB/s disk.
set -euo pipefail
shopt -s inherit_errexit
DIR=${1:-/var/tmp}
RUNS=${2:-5}
OLD=${3:-}
NEW=${4:-}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d "$DIR/cairn-flush.XXXXXX")
trap 'rm -rf "$W"' EXIT
c++ -O2 -std=c++17 -pthread "$HERE/flush_bench.cc" -o "$W/flush_bench"

settle() { sync; sleep 2; }
# Another program's 768 MiB of dirty pages, left for the kernel to write back.
dirty() { dd if=/dev/zero of="$W/dirt" bs=1M count=768 status=none; }
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# Sectors the disk holding $W has written (its whole disk's when $W is on a partition).
DEVSTAT=/sys/dev/block/$(stat -c '%Hd:%Ld' "$W")
[[ -f $DEVSTAT/stat ]] || DEVSTAT=$DEVSTAT/..
sectors() { awk '{print $7}' "$DEVSTAT/stat"; }

# measure COND CMD...: prints the command's own figure (or its wall time when it prints none).
measure() {
  local cond=$1; shift
  rm -rf "$W/s" "$W/dirt"
  mkdir "$W/s"
  settle
  local busy=
  case $cond in
    dirty) dirty ;;
    busy)
      dd if=/dev/zero of="$W/dirt" bs=1M count=2048 status=none &
      busy=$!
      sleep 0.5
      ;;
  esac
  local t0 out t1 s0 s1
  s0=$(sectors)
  t0=$(now)
  out=$("$@")
  t1=$(now)
  s1=$(sectors)
  if [[ -n $busy ]]; then kill "$busy" 2>/dev/null || true; wait "$busy" 2>/dev/null || true; fi
  # The command's own figure, else its wall time; then the MiB written meanwhile.
  if [[ -z $out ]]; then out=$(echo "$t1 - $t0" | bc -l | xargs printf '%.3f'); fi
  echo "${out%% *} $(( (s1 - s0) / 2048 ))"
}

ref() { dd if=/dev/zero of="$W/s/ref" bs=1M count=768 conv=fsync status=none; }
big_input() { [[ -f $W/in ]] || head -c $((512 << 20)) /dev/urandom >"$W/in"; }
cairn_encode() {
  mkdir -p "$W/s/enc"
  "$1" encode -k 4 -m 2 -o "$W/s/enc" "$W/in" >/dev/null
}
cairn_put() {
  "$1" init --ec 4+2 "$W"/s/d{1..6} >/dev/null
  "$1" --set "$W/s/d1" mb bkt >/dev/null
  "$1" --set "$W/s/d1" put "$W/in" bkt/x >/dev/null
}

# The rows: NAME|UNIT|CMD... (CMD split on spaces).
ROWS=()
add() { ROWS+=("$1|$2|$3"); }
add "reference: dd 768 MiB conv=fsync" s "ref"
# fdatasync: each member's file, then each directory, one after another; pfdatasync: the 6
# members' at once, as cairn does (FlushInParallel).
for how in syncfs fdatasync pfdatasync; do
  add "small PUTs, 16 writers x 50, $how" "PUTs/s" "$W/flush_bench $W/s small $how 16 50"
done
for how in syncfs fdatasync; do
  add "large PUT 512 MiB (6 x 128 MiB, 6 dirs), $how" s "$W/flush_bench $W/s large $how 512"
  add "encode 512 MiB (6 x 128 MiB, 1 dir), $how" s "$W/flush_bench $W/s encode $how 512"
done
if [[ -n $OLD && -n $NEW ]]; then
  big_input
  for which in old new; do
    b=$OLD
    [[ $which == new ]] && b=$NEW
    add "cairn encode 512 MiB 4+2, $which binary" s "cairn_encode $b"
    add "cairn put 512 MiB 4+2 (init, mb, put), $which binary" s "cairn_put $b"
  done
fi

# ONLY=REGEX: run only the rows whose name matches (the reference always runs).
if [[ -n ${ONLY:-} ]]; then
  kept=()
  for row in "${ROWS[@]}"; do
    name=${row%%|*}
    if [[ $name == reference* || $name =~ $ONLY ]]; then kept+=("$row"); fi
  done
  ROWS=("${kept[@]}")
fi
CONDS=(settled dirty busy)
declare -A got
for r in $(seq "$RUNS"); do
  for cond in "${CONDS[@]}"; do
    # Alternate the order of the rows from run to run.
    idx=($(seq 0 $((${#ROWS[@]} - 1))))
    if (( r % 2 == 0 )); then idx=($(printf '%s\n' "${idx[@]}" | tac)); fi
    for i in "${idx[@]}"; do
      IFS='|' read -r name unit cmd <<<"${ROWS[$i]}"
      # shellcheck disable=SC2086
      got[$i,$cond]+="$(measure "$cond" $cmd) "
    done
  done
done

echo "| case | settled cache | after 768 MiB dirtied | beside a 2 GiB writer | unit |"
echo "|---|---|---|---|---|"
for i in $(seq 0 $((${#ROWS[@]} - 1))); do
  IFS='|' read -r name unit cmd <<<"${ROWS[$i]}"
  line="| $name"
  for cond in "${CONDS[@]}"; do
    vals=$(tr ' ' '\n' <<<"${got[$i,$cond]}" | grep .)
    fig=$(awk 'NR % 2 == 1' <<<"$vals" | median)
    mib=$(awk 'NR % 2 == 0' <<<"$vals" | median)
    line+=" | $fig ($mib MiB)"
  done
  echo "$line | $unit |"
done
