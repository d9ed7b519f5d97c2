#!/usr/bin/env bash
# Multipart uploads against single PUTs (issue 10, "Benchmark"), on `cairn serve` over a plain
# directory and over a 4+2 set (both with fsync), and s3rver (npm) as the peer. Every upload goes
# through bench/mpu_driver.py (SigV4 with UNSIGNED-PAYLOAD, bodies read with pread: the same
# client cost for both shapes), except the two `aws s3 cp` rows. Rounds are interleaved (each case
# once per round) and each figure is the median of --runs rounds:
#   put     one PutObject of SIZE (default 1 GiB)
#   mpu     the same bytes in 8 MiB parts, 16 parts in flight, then Complete
#   awscp   `aws s3 cp FILE s3://...` at the cli's defaults (8 MiB parts, 10 threads)
#   awsput  the same command with multipart_threshold above SIZE (its own AWS_CONFIG_FILE): one
#           PutObject by the same client, the reference that separates the cli's own cost
#           (its Python hashing) from the server's; the object's ETag is checked to be a
#           single-part one
#   s3rver  mpu against s3rver
#   complete-small / complete-big: the Complete alone of 16 parts making SMALL (100 MiB) and BIG
#           (4 GiB) objects (every part holds the file's first bytes); on the plain directory
#           beside `copy_file_range` of BIG bytes into a new file on the same filesystem (python
#           os.copy_file_range, the reference of the plain Complete, which assembles with it)
# Scratch and served data: $TMPDIR, else /dev/shm (the figures are the servers', not a disk's).
# Usage: bench/multipart_bench.sh [--cairn PATH] [--aws PATH] [--runs N] [--size MIB] [--small MIB]
#            [--big MIB] [--backends "plain set"] [--cairn-b PATH] [--driver-only]
#   --backends     the cairn backends to run (default both)
#   --cairn-b PATH also serve a plain directory with another cairn binary (backend "plainB"), run
#                  in the same rounds (the order of the backends turns each round): before/after
#   --driver-only  only the put and mpu cases (no aws cli, s3rver or Complete-only rows)
# Prints each round's figures, then the medians and ratios as a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CAIRN=build/cairn AWS=aws RUNS=3 SIZE=1024 SMALL=100 BIG=4096 CPARTS=16
BACKENDS="plain set" CAIRN_B="" DRIVER_ONLY=0
while (($#)); do
  case $1 in
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --backends) BACKENDS=$2; shift 2 ;;
    --cairn-b) CAIRN_B=$(realpath "$2"); shift 2 ;;
    --driver-only) DRIVER_ONLY=1; shift ;;
    --cairn) CAIRN=$2; shift 2 ;;
    --aws) AWS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --small) SMALL=$2; shift 2 ;;
    --big) BIG=$2; shift 2 ;;
    *) echo "multipart_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x $CAIRN ]] || { echo "multipart_bench: $CAIRN missing" >&2; exit 2; }
CAIRN=$(realpath "$CAIRN")
S3RVER=$ROOT/tests/clients/s3rver_serve.js
((DRIVER_ONLY)) || [[ -f $ROOT/tests/clients/node_modules/s3rver/package.json ]] ||
  { echo "multipart_bench: s3rver missing: scripts/bootstrap --client-deps" >&2; exit 2; }
for v in $(compgen -e); do case $v in AWS_* | *_proxy | *_PROXY) unset "$v" ;; esac; done
BENCH_NAME=multipart_bench
. bench/lib.sh
bench_scratch "${TMPDIR:-/dev/shm}"
ACCESS=AKMPUBENCH$RANDOM SECRET=mpubenchsecret$RANDOM$RANDOM$RANDOM
export HOME=$T/home AWS_CONFIG_FILE=$T/aws.conf AWS_SHARED_CREDENTIALS_FILE=$T/aws.cred
mkdir -p "$HOME"
printf '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n' >"$AWS_CONFIG_FILE"
# For awsput: the same, with no multipart below SIZE + 1 MiB.
printf '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n    multipart_threshold = %dMB\n' \
  $((SIZE + 1)) >"$T/aws-single.conf"
aws() { command "$AWS" "$@"; }
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$ACCESS" "$SECRET" >"$AWS_SHARED_CREDENTIALS_FILE"
start() { bench_start "$@" || exit 1; }
mkdir -p "$T/plain" "$T/plainB" "$T/s3rver"
serve() { start "$1" "$2" serve --address 127.0.0.1:@PORT@ --access-key "$ACCESS" --secret-key "$SECRET" "$3"; }
[[ " $BACKENDS " == *" plain "* ]] && serve plain "$CAIRN" "$T/plain"
if [[ " $BACKENDS " == *" set "* ]]; then
  "$CAIRN" init --ec 4+2 "$T"/set/m{1..6} >/dev/null
  serve set "$CAIRN" "$T/set/m1"
fi
[[ -n $CAIRN_B ]] && serve plainB "$CAIRN_B" "$T/plainB" && BACKENDS="$BACKENDS plainB"
SERVERS=$BACKENDS
((DRIVER_ONLY)) || { start s3rver node --openssl-legacy-provider "$S3RVER" 127.0.0.1 @PORT@ "$T/s3rver" "$ACCESS" "$SECRET"; SERVERS="$SERVERS s3rver"; }
for s in $SERVERS; do aws --endpoint-url "${URL[$s]}" s3 mb s3://bench >/dev/null; done

head -c $((SIZE << 20)) /dev/urandom >"$T/src"
drv() { python3 "$ROOT/bench/mpu_driver.py" "${URL[$1]}" "$ACCESS" "$SECRET" bench "${@:2}"; }
del() { aws --endpoint-url "${URL[$1]}" s3 rm "s3://bench/$2" >/dev/null; }
# The parts of deleted multipart objects stay on the set until gc.
gc_set() { CAIRN_SET=$T/set/m1 "$CAIRN" gc --older-than 0 >/dev/null; }
declare -A F # "case backend" -> space-separated seconds, one per round
add() { F["$1"]="${F["$1"]:-} $2"; }
now() { date +%s.%N; }
echo "# $(date -u +%FT%TZ), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git -C "$ROOT" rev-parse --short HEAD), $(aws --version 2>&1 | cut -d' ' -f1)"
read -r -a ORDER <<<"$BACKENDS"
for ((r = 1; r <= RUNS; r++)); do
  for ((i = 0; i < ${#ORDER[@]}; i++)); do
    s=${ORDER[(i + r - 1) % ${#ORDER[@]}]}  # who goes first turns each round
    add "put $s" "$(drv "$s" put "$T/src" --single)"
    del "$s" put
    read -r tot _ <<<"$(drv "$s" mpu "$T/src" --part-size $((8 << 20)) --conc 16)"
    add "mpu $s" "$tot"
    del "$s" mpu
    ((DRIVER_ONLY)) && continue
    [[ $s == plainB ]] && continue
    t0=$(now)
    aws --endpoint-url "${URL[$s]}" s3 cp "$T/src" s3://bench/awscp --only-show-errors
    add "awscp $s" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')"
    del "$s" awscp
    t0=$(now)
    AWS_CONFIG_FILE=$T/aws-single.conf aws --endpoint-url "${URL[$s]}" s3 cp "$T/src" s3://bench/awsput --only-show-errors
    add "awsput $s" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')"
    etag=$(aws --endpoint-url "${URL[$s]}" s3api head-object --bucket bench --key awsput --query ETag --output text)
    [[ $etag != *-* ]] || { echo "multipart_bench: awsput made a multipart object ($etag)" >&2; exit 1; }
    del "$s" awsput
    [[ $s == set ]] && gc_set
  done
  if ((DRIVER_ONLY)); then
    echo "round $r (load $(cut -d' ' -f1 /proc/loadavg)): $(for k in "${!F[@]}"; do printf '%s=%s ' "${k// /:}" "${F[$k]##* }"; done)"
    continue
  fi
  read -r tot _ <<<"$(drv s3rver mpu "$T/src" --part-size $((8 << 20)) --conc 16)"
  add "mpu s3rver" "$tot"
  del s3rver mpu
  for s in plain set; do
    [[ " $BACKENDS " == *" $s "* ]] || continue
    for sz in "$SMALL" "$BIG"; do
      read -r _ c <<<"$(drv "$s" "c$sz" "$T/src" --parts "$CPARTS" --part-size $(((sz << 20) / CPARTS)) --conc 4)"
      add "complete-$sz $s" "$c"
      if [[ $s == plain && $sz == "$BIG" ]]; then
        add "cfr-$sz plain" "$(python3 - "$T/plain/bench/c$sz" "$T/plain/cfr.tmp" <<'PY'
import os, sys, time
src, dst = sys.argv[1:]
fi, fo = os.open(src, os.O_RDONLY), os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
n, t = os.fstat(fi).st_size, time.monotonic()
off = 0
while off < n:
    off += os.copy_file_range(fi, fo, n - off, off, off)
os.fsync(fo)
print(f"{time.monotonic() - t:.3f}")
os.unlink(dst)
PY
)"
      fi
      del "$s" "c$sz"
    done
    [[ $s == set ]] && gc_set
  done
  echo "round $r (load $(cut -d' ' -f1 /proc/loadavg)): $(for k in "${!F[@]}"; do printf '%s=%s ' "${k// /:}" "${F[$k]##* }"; done)"
done

med() { median ${F["$1"]}; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mbs() { awk -v s="$1" -v m="$SIZE" 'BEGIN { printf "%.0f", m * 1.048576 / s }'; }
echo
echo "medians of $RUNS rounds (seconds; MB/s of the $SIZE MiB object):"
echo
echo "| case | backend | median s | MB/s | reference | ref median s | ratio | target |"
echo "|---|---|---|---|---|---|---|---|"
for s in $BACKENDS; do
  p=$(med "put $s") m=$(med "mpu $s")
  echo "| multipart, 8 MiB parts x 16 in flight | $s | $m | $(mbs "$m") | single PUT | $p | $(ratio "$p" "$m") | >= 0.8 |"
  [[ $s == plainB ]] || ((DRIVER_ONLY)) && continue
  a=$(med "awscp $s") ap=$(med "awsput $s")
  echo "| aws s3 cp (defaults) | $s | $a | $(mbs "$a") | single PUT | $p | $(ratio "$p" "$a") | >= 0.8 |"
  echo "| aws s3 cp (defaults) | $s | $a | $(mbs "$a") | aws s3 cp, single PUT | $ap | $(ratio "$ap" "$a") | >= 0.8 |"
  echo "| multipart vs s3rver | $s | $m | $(mbs "$m") | s3rver multipart | $(med "mpu s3rver") | $(ratio "$(med "mpu s3rver")" "$m") | >= 5 |"
done
((DRIVER_ONLY)) && exit 0
for s in plain set; do
  [[ " $BACKENDS " == *" $s "* ]] || continue
  cs=$(med "complete-$SMALL $s") cb=$(med "complete-$BIG $s")
  echo "| Complete of $CPARTS parts, $BIG MiB | $s | $cb | | Complete of $CPARTS parts, $SMALL MiB | $cs | $(ratio "$cb" "$cs") | set: does not grow |"
done
[[ " $BACKENDS " == *" plain "* ]] || exit 0
cf=$(med "cfr-$BIG plain")
echo "| Complete of $CPARTS parts, $BIG MiB | plain | $(med "complete-$BIG plain") | | copy_file_range of $BIG MiB + fsync | $cf | $(ratio "$(med "complete-$BIG plain")" "$cf") | <= 1 |"
