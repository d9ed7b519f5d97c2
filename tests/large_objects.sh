#!/usr/bin/env bash
# Large objects through `cairn serve` (issue 10, "Large objects end to end"); not in ctest (a run
# moves tens of GiB). On a plain directory and on a member of a 4+2 volume set:
#  - a SIZE_GIB (default 5) GiB object uploaded with the aws cli at its defaults (8 MiB parts) and
#    with 64 MiB parts (`multipart_chunksize = 64MB` in a temp AWS_CONFIG_FILE), each downloaded
#    back (to stdout, compared with cmp) byte-identical, its ETag naming the expected part count;
#  - ranged GETs (curl --aws-sigv4) across part boundaries (8 MiB and 64 MiB multiples), block
#    boundaries of the set (1 MiB), several parts at once, the first and the last bytes;
#  - the server's peak RSS (VmHWM of /proc/PID/status) with RSS_UPLOADS (default 16) concurrent
#    `aws s3 cp` of RSS_MIB (default 1024) MiB each, against RSS_LIMIT_MIB (default 256).
# Scratch: $TMPDIR, else /dev/shm when it has room for the run (checked with df), else /tmp.
# Usage: [SIZE_GIB=5] [RSS_UPLOADS=16] [RSS_MIB=1024] [ONLY=plain|set] tests/large_objects.sh path/to/cairn
# Prints one line per check and the figures; exits 1 when a check failed.
set -uo pipefail
CAIRN=$(readlink -f "${1:?usage: large_objects.sh path/to/cairn}")
SIZE_GIB=${SIZE_GIB:-5} RSS_UPLOADS=${RSS_UPLOADS:-16} RSS_MIB=${RSS_MIB:-1024}
RSS_LIMIT_MIB=${RSS_LIMIT_MIB:-256} ONLY=${ONLY:-plain set}
AWS=${AWS:-/usr/bin/aws}
for v in $(compgen -e); do case $v in AWS_* | *_proxy | *_PROXY) unset "$v" ;; esac; done
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost AWS_PAGER=""

# Room: the source file, plus (plain) the staged parts and the assembled object at once, or (set)
# 1.5 times the object. The concurrent uploads stage RSS_UPLOADS x RSS_MIB (x 1.5 on the set):
# their server directory is on /dev/shm only when that fits too, else under /var/tmp (RSS_DIR).
need_gib=$((SIZE_GIB * 3 + 1))
rss_need=$(((RSS_UPLOADS * RSS_MIB * 3 / 2 + RSS_MIB) / 1024 + 1))
shm_gib() {
  local avail mem
  avail=$(df -BG --output=avail /dev/shm 2>/dev/null | tail -1 | tr -dc 0-9)
  mem=$(awk '/MemAvailable/ {print int($2 / 1048576)}' /proc/meminfo)
  ((mem - 2 < ${avail:-0})) && avail=$((mem - 2))
  echo "${avail:-0}"
}
base=${TMPDIR:-}
if [[ -z $base ]]; then
  base=/tmp
  (($(shm_gib) >= need_gib)) && base=/dev/shm
fi
T=$(mktemp -d "$base/cairn-large.XXXXXX")
RSS_DIR=${RSS_DIR:-}
if [[ -z $RSS_DIR ]]; then
  RSS_DIR=/var/tmp
  [[ $base == /dev/shm ]] && (($(shm_gib) >= rss_need + SIZE_GIB)) && RSS_DIR=$T
fi
R=$(mktemp -d "$RSS_DIR/cairn-large-rss.XXXXXX")
echo "scratch $T (needs about $need_gib GiB; $(df -h --output=avail "$T" | tail -1 | tr -d ' ') free there);" \
  "concurrent uploads in $R (about $rss_need GiB; $(df -h --output=avail "$R" | tail -1 | tr -d ' ') free)"
SRV=""
PIDS=()
source "$(dirname "${BASH_SOURCE[0]}")/kill_ours.sh"
cleanup() {
  local p
  kill_ours 9 "${PIDS[@]}" "$SRV"
  wait 2>/dev/null
  rm -rf "$T" "$R"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fails=0
check() {
  local what=$1
  shift
  if "$@"; then echo "PASS $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

export HOME=$T/home AWS_CONFIG_FILE=$T/aws/config AWS_SHARED_CREDENTIALS_FILE=$T/aws/credentials
mkdir -p "$HOME" "$T/aws"
ACCESS=AKLARGE$RANDOM
SECRET=$(head -c 30 /dev/urandom | base64 | tr '+/' 'xy' | head -c 40)
printf '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n' >"$AWS_CONFIG_FILE"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$ACCESS" "$SECRET" \
  >"$AWS_SHARED_CREDENTIALS_FILE"
# The 64 MiB-part configuration, made by `aws configure set` in its own config file.
cp "$AWS_CONFIG_FILE" "$T/aws/config64"
AWS_CONFIG_FILE=$T/aws/config64 "$AWS" configure set default.s3.multipart_chunksize 64MB

start() { # DIR
  rm -f "$T/port"
  "$CAIRN" serve --address 127.0.0.1:0 --port-file "$T/port" --access-key "$ACCESS" \
    --secret-key "$SECRET" "$1" >"$T/server.out" 2>"$T/server.err" &
  SRV=$!
  for _ in $(seq 200); do [[ -s $T/port ]] && break; sleep 0.05; done
  [[ -s $T/port ]] || { echo "server did not start: $(tail -c 500 "$T/server.err")"; exit 1; }
  EP="http://127.0.0.1:$(cat "$T/port")"
}
stop() { kill -TERM "$SRV"; wait "$SRV" 2>/dev/null; SRV=""; }
a() { "$AWS" --endpoint-url "$EP" "$@"; }
hwm_mib() { awk '/VmHWM/ {printf "%d", $2 / 1024}' "/proc/$SRV/status"; }
# get_range KEY FIRST LAST: bytes FIRST..LAST of KEY (curl, SigV4), compared with the source.
get_range() {
  local key=$1 first=$2 last=$3
  curl -sS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS:$SECRET" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    -H "Range: bytes=$first-$last" -o "$T/range" "$EP/big/$key" &&
    cmp -s "$T/range" <(tail -c +$((first + 1)) "$T/src" | head -c $((last - first + 1)))
}

size=$((SIZE_GIB << 30))
echo "making the $SIZE_GIB GiB source"
head -c "$size" /dev/urandom >"$T/src"
M=$((1 << 20))
for kind in $ONLY; do
  echo "== $kind"
  rm -rf "$T/data"
  if [[ $kind == set ]]; then
    "$CAIRN" init --ec 4+2 "$T"/data/m{1..6} >/dev/null || exit 1
    start "$T/data/m1"
  else
    mkdir -p "$T/data"
    start "$T/data"
  fi
  a s3 mb s3://big >/dev/null
  for cfg in default:8 config64:64; do
    name=${cfg%%:*} part=${cfg#*:}
    key=o$part
    conf=$T/aws/config
    [[ $name == config64 ]] && conf=$T/aws/$name
    t0=$(now)
    AWS_CONFIG_FILE=$conf a s3 cp "$T/src" "s3://big/$key" --only-show-errors
    rc=$?
    up=$(secs "$t0")
    etag=$(a s3api head-object --bucket big --key "$key" --query ETag --output text | tr -d '"')
    want_parts=$(((size + part * M - 1) / (part * M)))
    check "$kind $SIZE_GIB GiB, ${part} MiB parts: upload (exit $rc, $up s, ETag $etag)" \
      [ "$rc" = 0 -a "${etag##*-}" = "$want_parts" ]
    t0=$(now)
    AWS_CONFIG_FILE=$conf a s3 cp "s3://big/$key" - | cmp -s - "$T/src"
    rc=$?
    check "$kind $SIZE_GIB GiB, ${part} MiB parts: download byte-identical ($(secs "$t0") s)" [ "$rc" = 0 ]
    # Ranges: across a part boundary, a block boundary inside a part, several parts, the ends.
    p=$((part * M))
    for r in "$((p - 100)) $((p + 99))" "$((3 * p - 1)) $((3 * p))" "$((p + M - 7)) $((p + M + 6))" \
      "$((5 * M + 12345)) $((5 * M + 12345 + 3 * p))" "0 0" "$((size - 1)) $((size - 1))" \
      "$((size - p - 10)) $((size - 1))" "$((size / 2 - 1000)) $((size / 2 + 1000))"; do
      read -r first last <<<"$r"
      check "$kind ${part} MiB parts: range $first-$last" get_range "$key" "$first" "$last"
    done
    a s3 rm "s3://big/$key" >/dev/null
    # A deleted multipart object's parts stay on the set until gc.
    [[ $kind == set ]] && CAIRN_SET=$T/data/m1 "$CAIRN" gc --older-than 0 >/dev/null
  done
  echo "$kind: server VmHWM after the $SIZE_GIB GiB uploads: $(hwm_mib) MiB"
  stop

  # Peak RSS with RSS_UPLOADS concurrent uploads of RSS_MIB MiB each (at the cli's defaults), in a
  # fresh server.
  rm -rf "$T/data" "$R/data"
  if [[ $kind == set ]]; then
    "$CAIRN" init --ec 4+2 "$R"/data/m{1..6} >/dev/null || exit 1
    start "$R/data/m1"
  else
    mkdir -p "$R/data"
    start "$R/data"
  fi
  a s3 mb s3://big >/dev/null
  head -c $((RSS_MIB << 20)) "$T/src" >"$T/src1"
  rm -f "$T/src"
  t0=$(now)
  pids=()
  for ((i = 0; i < RSS_UPLOADS; i++)); do
    a s3 cp "$T/src1" "s3://big/c$i" --only-show-errors &
    pids+=($!)
  done
  PIDS+=("${pids[@]}")
  peak_rss=0
  while :; do
    r=$(awk '/VmRSS/ {printf "%d", $2 / 1024}' "/proc/$SRV/status")
    ((r > peak_rss)) && peak_rss=$r
    running=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && running=1; done
    ((running)) || break
    sleep 0.5
  done
  okc=0
  for p in "${pids[@]}"; do wait "$p" && okc=$((okc + 1)); done
  hwm=$(hwm_mib)
  check "$kind: $okc of $RSS_UPLOADS concurrent $RSS_MIB MiB uploads done ($(secs "$t0") s)" [ "$okc" = "$RSS_UPLOADS" ]
  check "$kind: server peak RSS $hwm MiB (VmHWM; sampled VmRSS peak $peak_rss MiB) under $RSS_LIMIT_MIB MiB" \
    [ "$hwm" -lt "$RSS_LIMIT_MIB" ]
  a s3 cp "s3://big/c$((RSS_UPLOADS - 1))" - | cmp -s - "$T/src1"
  check "$kind: one of the concurrent uploads reads back byte-identical" [ "$?" = 0 ]
  stop
  rm -rf "$R/data"
  # The next backend needs the big source again.
  [[ $kind != "${ONLY##* }" ]] && { echo "making the source again"; head -c "$size" /dev/urandom >"$T/src"; }
  rm -f "$T/src1"
done
echo "large_objects: $fails failed"
((fails == 0))
