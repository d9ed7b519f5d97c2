#!/usr/bin/env bash
# Bulk transfers side by side (issue 11, "Benchmark"): `cairn cp -r`, `aws s3 cp --recursive`
# (Debian's /usr/bin/aws, max_concurrent_requests raised to --aws-conc) and `rclone copy`
# (Debian's rclone, --transfers/--checkers --rclone-conc) against the same `cairn serve --no-fsync`
# on a plain directory in $TMPDIR (default /dev/shm), with the same data:
#   big    one file of --big MiB (default 1024)
#   64k    1,000 files of 64 KiB in 10 directories
#   4k     10,000 files of 4 KiB in 100 directories
# each uploaded to a fresh prefix and downloaded into a fresh directory, every download compared
# with the source (a failed comparison stops the run). Then a sync where nothing changed of
# --sync-keys keys (default 100,000 files of 16 bytes, uploaded once with cairn): `cairn sync`,
# `aws s3 sync` and `rclone copy --update --use-server-modtime` (rclone's advice for S3, no HEAD
# per object). Rounds interleave the tools; each figure is the median of --runs rounds. cairn's
# peak RSS (GNU time's maximum resident set) is reported for the 4k set and the sync.
# Downloads land in $TMPDIR too: on tmpfs (the default /dev/shm) an fsync costs nothing. On a disk,
# cairn fsyncs its downloads (its default) and the aws cli and rclone do not: --cairn-no-fsync
# gives cairn the same (lack of) durability as the others.
# Usage: bench/bulk_vs_peers.sh [--cairn PATH] [--runs N] [--big MIB] [--sync-keys N]
#                               [--aws-conc N] [--rclone-conc N] [--jobs N] [--only CASE...]
#                               [--cairn-no-fsync]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CAIRN=build/cairn RUNS=3 BIG=1024 SYNC_KEYS=100000 AWS_CONC=64 RCLONE_CONC=64 JOBS="" ONLY="" NO_FSYNC=0
while (($#)); do
  case $1 in
    --cairn) CAIRN=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --big) BIG=$2; shift 2 ;;
    --sync-keys) SYNC_KEYS=$2; shift 2 ;;
    --aws-conc) AWS_CONC=$2; shift 2 ;;
    --rclone-conc) RCLONE_CONC=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --only) ONLY="$ONLY $2"; shift 2 ;;
    --cairn-no-fsync) NO_FSYNC=1; shift ;;
    *) echo "bulk_vs_peers: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x $CAIRN ]] || { echo "bulk_vs_peers: $CAIRN missing (scripts/bootstrap)" >&2; exit 2; }
CAIRN=$(realpath "$CAIRN")
AWS=/usr/bin/aws RCLONE=/usr/bin/rclone
for t in "$AWS" "$RCLONE" /usr/bin/time; do
  [[ -x $t ]] || { echo "bulk_vs_peers: $t missing (scripts/bootstrap --client-deps)" >&2; exit 2; }
done
for v in $(compgen -e); do case $v in AWS_* | RCLONE_* | *_proxy | *_PROXY) unset "$v" ;; esac; done
BENCH_NAME=bulk_vs_peers
. bench/lib.sh
bench_scratch "${TMPDIR:-/dev/shm}"
ACCESS=AKBULK$RANDOM SECRET=bulksecret$RANDOM$RANDOM$RANDOM
export HOME=$T/home AWS_CONFIG_FILE=$T/aws.conf AWS_SHARED_CREDENTIALS_FILE=$T/aws.cred
mkdir -p "$HOME"
cat >"$AWS_CONFIG_FILE" <<EOF
[default]
region = us-east-1
s3 =
    addressing_style = path
    max_concurrent_requests = $AWS_CONC
    max_queue_size = 10000
EOF
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$ACCESS" "$SECRET" >"$AWS_SHARED_CREDENTIALS_FILE"
export AWS_ACCESS_KEY_ID=$ACCESS AWS_SECRET_ACCESS_KEY=$SECRET AWS_REGION=us-east-1
mkdir -p "$T/served"
bench_start cairn "$CAIRN" serve --address 127.0.0.1:@PORT@ --no-fsync --access-key "$ACCESS" \
  --secret-key "$SECRET" "$T/served" || exit 1
EP=${URL[cairn]}
# cairn finds the endpoint in AWS_ENDPOINT_URL; Debian's aws cli (2.9) does not read it.
export AWS_ENDPOINT_URL=$EP
export RCLONE_CONFIG_B_TYPE=s3 RCLONE_CONFIG_B_PROVIDER=Other RCLONE_CONFIG_B_ENDPOINT=$EP \
  RCLONE_CONFIG_B_ACCESS_KEY_ID=$ACCESS RCLONE_CONFIG_B_SECRET_ACCESS_KEY=$SECRET \
  RCLONE_CONFIG_B_REGION=us-east-1 RCLONE_CONFIG_B_FORCE_PATH_STYLE=true RCLONE_CONFIG=/dev/null
mkdir -p "$T/served/bench"
jobs_flag=()
[[ -n $JOBS ]] && jobs_flag=(--jobs "$JOBS")
((NO_FSYNC)) && jobs_flag+=(--no-fsync)

# The data sets.
mkdir -p "$T/src/big" "$T/src/64k" "$T/src/4k"
head -c $((BIG << 20)) /dev/urandom >"$T/src/big/big.bin"
python3 - "$T/src" <<'PY'
import os, sys
root = sys.argv[1]
for name, count, dirs, size in (("64k", 1000, 10, 65536), ("4k", 10000, 100, 4096)):
    for i in range(count):
        d = os.path.join(root, name, "d%03d" % (i % dirs))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%05d" % i), "wb") as f:
            f.write(os.urandom(size))
PY

declare -A F  # "case tool" -> seconds, one per round
add() { F["$1"]="${F["$1"]:-} $2"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
want() { [[ -z $ONLY || " $ONLY " == *" $1 "* ]]; }
# timed NAME CMD...: runs CMD, adds its seconds to F[NAME]; cairn's runs also record peak RSS.
timed() {
  local name=$1 t0
  shift
  t0=$(now)
  if [[ $1 == "$CAIRN" ]]; then
    /usr/bin/time -f %M -o "$T/rss" "$@" >"$T/out" 2>"$T/err" ||
      { echo "bulk_vs_peers: $name failed: $(tail -c 400 "$T/err")" >&2; exit 1; }
    add "rss $name" "$(cat "$T/rss")"
  else
    "$@" >"$T/out" 2>"$T/err" || { echo "bulk_vs_peers: $name failed: $(tail -c 400 "$T/err")" >&2; exit 1; }
  fi
  add "$name" "$(since "$t0")"
}
same() {  # DIR1 DIR2: byte-identical trees
  diff -r -q "$1" "$2" >/dev/null || { echo "bulk_vs_peers: $2 differs from $1" >&2; exit 1; }
}
up() {  # TOOL SET PREFIX
  case $1 in
    cairn) timed "up $2 $1" "$CAIRN" cp -r "${jobs_flag[@]}" "$T/src/$2/" "s3://bench/$3/" ;;
    aws) timed "up $2 $1" "$AWS" --endpoint-url "$EP" s3 cp --recursive --only-show-errors "$T/src/$2/" "s3://bench/$3/" ;;
    rclone) timed "up $2 $1" "$RCLONE" copy --transfers "$RCLONE_CONC" --checkers "$RCLONE_CONC" \
      --s3-no-check-bucket "$T/src/$2/" "B:bench/$3/" ;;
  esac
}
down() {  # TOOL SET PREFIX DIR
  case $1 in
    cairn) timed "down $2 $1" "$CAIRN" cp -r "${jobs_flag[@]}" "s3://bench/$3/" "$4/" ;;
    aws) timed "down $2 $1" "$AWS" --endpoint-url "$EP" s3 cp --recursive --only-show-errors "s3://bench/$3/" "$4/" ;;
    rclone) timed "down $2 $1" "$RCLONE" copy --transfers "$RCLONE_CONC" --checkers "$RCLONE_CONC" \
      "B:bench/$3/" "$4/" ;;
  esac
}

echo "# $(date -u +%FT%TZ), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)," \
  "commit $(git -C "$ROOT" rev-parse --short HEAD), served from $T"
for ((r = 1; r <= RUNS; r++)); do
  for set in big 64k 4k; do
    want "$set" || continue
    for tool in cairn aws rclone; do
      up "$tool" "$set" "$tool-$set"
      down "$tool" "$set" "$tool-$set" "$T/dl"
      same "$T/src/$set" "$T/dl"
      rm -rf "$T/dl" "$T/served/bench/$tool-$set"
    done
  done
  echo "round $r: $(for k in "${!F[@]}"; do printf '%s=%s ' "${k// /:}" "${F[$k]##* }"; done)"
done

if want sync; then
  # The sync source: SYNC_KEYS files of 16 bytes in directories of 1,000, sent once by cairn.
  python3 - "$T/src/sync" "$SYNC_KEYS" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%04d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "k%06d" % i), "wb") as f:
        f.write(b"%016d" % i)
PY
  "$CAIRN" cp -r "$T/src/sync/" s3://bench/sync/ >/dev/null
  for ((r = 1; r <= RUNS; r++)); do
    timed "sync cairn" "$CAIRN" sync "$T/src/sync/" s3://bench/sync/
    [[ $(grep -c . "$T/out" || true) -eq 0 ]] ||
      { echo "bulk_vs_peers: cairn sync transferred something: $(head -3 "$T/out")" >&2; exit 1; }
    timed "sync aws" "$AWS" --endpoint-url "$EP" s3 sync --only-show-errors "$T/src/sync/" s3://bench/sync/
    timed "sync rclone" "$RCLONE" copy --update --use-server-modtime --transfers "$RCLONE_CONC" \
      --checkers "$RCLONE_CONC" --s3-no-check-bucket "$T/src/sync/" B:bench/sync/
    echo "sync round $r: cairn=${F["sync cairn"]##* } aws=${F["sync aws"]##* } rclone=${F["sync rclone"]##* }"
  done
fi

med() { median ${F["$1"]:-}; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || a == "nan" || b == "nan") print "n/a"; else printf "%.2f", a / b }'; }
echo
echo "medians of $RUNS rounds, seconds (ratio: the peer's time / cairn's; > 1 means cairn is faster):"
echo
echo "| case | cairn s | aws cli s | rclone s | vs aws cli | vs rclone | target | cairn peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|"
for set in big 64k 4k; do
  want "$set" || continue
  for dir in up down; do
    c=$(med "$dir $set cairn") a=$(med "$dir $set aws") rc=$(med "$dir $set rclone")
    case $set in big) target=">= 1 / >= 1" ;; *) target=">= 5 / >= 2" ;; esac
    rss=$(awk -v k="$(med "rss $dir $set cairn")" 'BEGIN { printf "%.0f", k / 1024 }')
    echo "| $dir $set | $c | $a | $rc | $(ratio "$a" "$c") | $(ratio "$rc" "$c") | $target | $rss |"
  done
done
if want sync; then
  c=$(med "sync cairn") a=$(med "sync aws") rc=$(med "sync rclone")
  rss=$(awk -v k="$(med "rss sync cairn")" 'BEGIN { printf "%.0f", k / 1024 }')
  echo "| sync $SYNC_KEYS keys, nothing changed | $c | $a | $rc | $(ratio "$a" "$c") | $(ratio "$rc" "$c") | RSS < 128 MiB | $rss |"
fi
