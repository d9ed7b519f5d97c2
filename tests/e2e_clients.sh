#!/usr/bin/env bash
# The client matrix: real S3 clients (aws cli s3/s3api with Debian's and the pyenv `aws`, s3cmd,
# rclone, boto3 with Debian's and the pyenv Python, @aws-sdk/client-s3, minio-js, curl
# --aws-sigv4) run the same checks (tests/clients/, docs/testing.md "Client matrix") against a
# server this script starts on a free loopback port, over HTTP, then the two Node clients over
# HTTPS with a certificate made here. Hermetic: inherited AWS_* and CA variables are unset, the
# AWS config and credentials files are written here, every process started is stopped at exit.
#
# Usage: [CAIRN_LARGE=1] tests/e2e_clients.sh [--jobs N] [--only REGEX] SERVER_KIND [path/to/cairn]
#   SERVER_KIND  s3rver       the npm peer server (tests/clients/node_modules, scripts/bootstrap
#                             --client-deps); its known gaps are EXPECTED_FAIL_s3rver below
#                cairn-plain  `cairn serve` on a plain directory (needs path/to/cairn)
#                cairn-set    `cairn serve` on a member of a 4+2 volume set made by `cairn init`
#   --only REGEX run only the drivers whose name matches (names: see DRIVERS below)
#   --jobs N     drivers run at once (default 3: the two aws cli drivers, the slowest, start first
#                and the others share the third slot, so a phase lasts about as long as one aws
#                driver)
# Prints each driver's PASS/FAIL/SKIP lines, then a summary; exits 1 when a check failed that is
# not an expected failure of this server, when an expected failure passed (the list is stale),
# or when a driver stopped before reporting every check of the matrix.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CL=$HERE/clients
jobs=3 only=.
while [[ $# -gt 0 && $1 == --* ]]; do
  case $1 in
    --jobs) jobs=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "e2e_clients: unknown option $1" >&2; exit 2 ;;
  esac
done
KIND=${1:?usage: e2e_clients.sh [--jobs N] [--only REGEX] s3rver|cairn-plain|cairn-set [cairn]}
CAIRN=${2:-}

# What s3rver 3.7.1 does not do, one "CLIENT CHECK" a line (CLIENT without version, * for every
# client; CHECK may be a glob); each entry says why. Such a FAIL is reported as XFAIL; such a PASS fails the run, so
# that this list never outlives the gap.
# shellcheck disable=SC2034 # read through ${!expected_var}
EXPECTED_FAIL_s3rver='
* wrong-secret-403        s3rver never verifies a SigV4 signature (lib/middleware/authentication.js: "V4 signatures have incomplete support"), only that the access key exists
* if-match-412            s3rver GET honours If-None-Match and If-Modified-Since only
aws-sdk-js put-stream     s3rver stores an aws-chunked body as is (chunk headers and CRC32 trailer included): it decodes no STREAMING-* payload
aws-sdk-js+tls put-stream same, over TLS
s3cmd info                s3rver answers GET ?acl with Grants that lack <Permission>: s3cmd info stops with a traceback
s3cmd copy                s3cmd cp reads the source ACL first and stops on the same GET ?acl answer
* mpu-put-*               s3rver gives a multipart object the MD5 of its bytes as ETag, without the part count the check reads
* mpu-stdin-[0-9]*        same (aws s3 cp from stdin)
minio-js mpu-get-*        minio-js fPutObject fails on s3rver ("A parameter you provided implies functionality that is not implemented"), so there is nothing to get
minio-js+tls mpu-get-*    same, over TLS
'
# shellcheck disable=SC2034
EXPECTED_FAIL_cairn_plain=''
# shellcheck disable=SC2034
EXPECTED_FAIL_cairn_set=''
# Every driver must report each of these checks (PASS, FAIL or SKIP with its reason).
REQUIRED='mb put-0 put-1k put-5m list-recursive list-delimiter get-0 get-1k get-5m range meta copy
delete-one delete-many presign-get if-none-match-304 if-match-412 wrong-secret-403
presign-expired-403 list-1500 mpu-put mpu-get'
# CAIRN_LARGE=1 (inherited by the drivers): the multipart checks at issue 10's sizes (100 MiB and
# 1 GiB per client, rclone's tree with a 300 MiB file, minio-js 200 MiB) instead of CI's one
# modest size; a driver may then take much longer.
driver_timeout=900
[[ ${CAIRN_LARGE:-0} == 1 ]] && driver_timeout=5400

case $KIND in
  s3rver)
    [[ -f $CL/node_modules/s3rver/package.json ]] ||
      { echo "e2e_clients: s3rver missing: run scripts/bootstrap --client-deps" >&2; exit 2; } ;;
  cairn-plain | cairn-set)
    [[ -x $CAIRN ]] || { echo "e2e_clients: $KIND needs path/to/cairn" >&2; exit 2; }
    CAIRN=$(readlink -f "$CAIRN") ;;
  *) echo "e2e_clients: unknown server kind $KIND" >&2; exit 2 ;;
esac

# Hermetic environment: nothing inherited that a client would read.
for v in $(compgen -e); do
  case $v in AWS_* | NODE_EXTRA_CA_CERTS | CURL_CA_BUNDLE | REQUESTS_CA_BUNDLE | SSL_CERT_FILE | \
    SSL_CERT_DIR | HTTPLIB2_CA_CERTS | RCLONE_* | S3CMD_* | *_proxy | *_PROXY) unset "$v" ;; esac
done
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
# The pyenv aws and Python, resolved before HOME moves (the shims need it).
aws_other=$(type -ap aws | while read -r a; do
  r=$(readlink -f "$a")
  [[ $r != /usr/bin/aws ]] || continue
  [[ $a == */shims/aws ]] && r=$(pyenv which aws 2>/dev/null)
  [[ -n $r && $r != /usr/bin/aws ]] && { echo "$r"; break; }
done)
py_other=$(type -ap python3 | while read -r p; do
  r=$(readlink -f "$p")
  [[ $p == */shims/python3 ]] && r=$(pyenv which python3 2>/dev/null)
  [[ -n $r && $r != /usr/bin/python3* ]] && "$r" -c 'import boto3' 2>/dev/null && { echo "$r"; break; }
done)

# The scratch directory: $TMPDIR, else /dev/shm when it is there (ctest runs this without
# TMPDIR): a run writes about 17,000 objects (files on each of six members on a 4+2 set), which on a
# disk mounted with `discard` took minutes to delete; the matrix tests protocols, not disks.
tmp_base=${TMPDIR:-}
if [[ -z $tmp_base ]]; then
  tmp_base=/tmp
  [[ -d /dev/shm && -w /dev/shm ]] && tmp_base=/dev/shm
fi
T=$(mktemp -d "$tmp_base/cairn-e2e-clients.XXXXXX")
SERVER_PID=""
DRIVER_PIDS=()
source "$(dirname "${BASH_SOURCE[0]}")/kill_ours.sh"
# stop PID: SIGTERM, up to 5 s to exit, then SIGKILL.
stop() {
  local p=$1 i
  _is_ours "$p" || return 0
  kill -TERM "$p" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null
  wait "$p" 2>/dev/null
}
cleanup() {
  local p
  kill_group_ours 9 "${DRIVER_PIDS[@]}"
  kill_ours 9 "${DRIVER_PIDS[@]}"
  [[ -n $SERVER_PID ]] && stop "$SERVER_PID"
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export HOME=$T/home
mkdir -p "$HOME" "$T/logs"

ACCESS=$(head -c 15 /dev/urandom | base32 | tr -d '=' | head -c 20)
SECRET=$(head -c 30 /dev/urandom | base64 | tr '+/' 'xy' | head -c 40)
REGION=us-east-1
export AWS_CONFIG_FILE=$T/aws/config AWS_SHARED_CREDENTIALS_FILE=$T/aws/credentials
mkdir -p "$T/aws"
printf '[default]\nregion = %s\ns3 =\n    addressing_style = path\n' "$REGION" >"$AWS_CONFIG_FILE"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$ACCESS" "$SECRET" \
  >"$AWS_SHARED_CREDENTIALS_FILE"

# The self-signed certificate of the HTTPS phase, for 127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null ||
  { echo "e2e_clients: openssl could not make a certificate" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
if [[ $KIND == cairn-set ]]; then
  "$CAIRN" init --ec 4+2 "$T"/set/m{1..6} >/dev/null || { echo "e2e_clients: cairn init failed" >&2; exit 1; }
fi
# start_server SCHEME: starts the server for KIND on a free port, sets ENDPOINT and SERVER_PID.
start_server() {
  local scheme=$1 try port tls=()
  for try in 1 2 3; do
    port=$(free_port)
    case $KIND in
      s3rver)
        [[ $scheme == https ]] && tls=("$T/cert.pem" "$T/key.pem")
        mkdir -p "$T/s3rver"
        # s3rver makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3 keeps in its
        # legacy provider.
        node --openssl-legacy-provider "$CL/s3rver_serve.js" 127.0.0.1 "$port" "$T/s3rver" \
          "$ACCESS" "$SECRET" "${tls[@]}" >"$T/logs/server.log" 2>&1 &
        ;;
      cairn-plain | cairn-set)
        [[ $scheme == https ]] && tls=(--tls-cert "$T/cert.pem" --tls-key "$T/key.pem")
        local dir=$T/plain
        [[ $KIND == cairn-set ]] && dir=$T/set/m1
        mkdir -p "$dir"
        "$CAIRN" serve --address "127.0.0.1:$port" --access-key "$ACCESS" --secret-key "$SECRET" \
          "${tls[@]}" "$dir" >"$T/logs/server.log" 2>&1 &
        ;;
    esac
    SERVER_PID=$!
    ENDPOINT=$scheme://127.0.0.1:$port
    local i
    for ((i = 0; i < 200; i++)); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      [[ $(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/cert.pem" "$ENDPOINT/") != 000 ]] && return 0
      sleep 0.1
    done
    stop "$SERVER_PID"
    SERVER_PID=""
    echo "e2e_clients: server did not answer on port $port (try $try): $(tail -c 300 "$T/logs/server.log")" >&2
  done
  exit 1
}

# DRIVERS: "NAME SCHEME COMMAND..." (the command gets ENDPOINT ACCESS SECRET REGION SCRATCH BUCKET
# inserted after its script argument).
DRIVERS=(
  "aws-debian http $CL/awscli.sh @ /usr/bin/aws"
  "aws-pyenv http $CL/awscli.sh @ ${aws_other:-MISSING}"
  "s3cmd http $CL/s3cmd.sh @"
  "rclone http $CL/rclone.sh @"
  "boto3-debian http /usr/bin/python3 $CL/boto3_driver.py @"
  "boto3-pyenv http ${py_other:-MISSING} $CL/boto3_driver.py @"
  "sdk-js http node $CL/sdk_driver.js @"
  "minio-js http node $CL/minio_driver.js @"
  "curl http $CL/curl.sh @"
  "sdk-js-tls https node $CL/sdk_driver.js @"
  "minio-js-tls https node $CL/minio_driver.js @"
)
runner_fail=0
note() { echo "$1 runner $2"; [[ $1 == FAIL ]] && runner_fail=1; }

# run_phase SCHEME: every selected driver of SCHEME, at most $jobs at once, against one server.
run_phase() {
  local scheme=$1 d name sch cmd n=0 selected=()
  for d in "${DRIVERS[@]}"; do
    read -r name sch _ <<<"$d"
    [[ $sch == "$scheme" && $name =~ $only ]] && selected+=("$d")
  done
  ((${#selected[@]})) || return 0
  start_server "$scheme"
  echo "== $KIND over $scheme at $ENDPOINT"
  local phase_start=$EPOCHREALTIME
  for d in "${selected[@]}"; do
    read -r name sch cmd <<<"$d"
    if [[ $cmd == *MISSING* ]]; then
      note SKIP "$name: no such client on this machine (pyenv aws or a second python3 with boto3)"
      continue
    fi
    local argv=() w
    for w in $cmd; do
      if [[ $w == @ ]]; then
        argv+=("$ENDPOINT" "$ACCESS" "$SECRET" "$REGION" "$T/scratch/$name" "m-$name")
      else argv+=("$w"); fi
    done
    (
      [[ $scheme == https ]] && export NODE_EXTRA_CA_CERTS=$T/cert.pem CURL_CA_BUNDLE=$T/cert.pem
      start=$EPOCHREALTIME
      timeout -k 10 "$driver_timeout" "${argv[@]}" >"$T/logs/$name.out" 2>"$T/logs/$name.err"
      echo $? >"$T/logs/$name.rc"
      # Wall seconds, and the CPU seconds (user + system) of the driver and every client it ran.
      # (times in this shell: in a pipeline it would run in a child without children.)
      times >"$T/logs/$name.times"
      awk -v a="$start" -v b="$EPOCHREALTIME" 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, m, "m"); c += m[1] * 60 + m[2] }
        printf "%.0f %.0f\n", b - a, c }' "$T/logs/$name.times" >"$T/logs/$name.time"
    ) &
    DRIVER_PIDS+=($!)
    n=$((n + 1))
    ((n >= jobs)) && { wait -n; n=$((n - 1)); }
  done
  wait "${DRIVER_PIDS[@]}" 2>/dev/null
  DRIVER_PIDS=()
  for d in "${selected[@]}"; do
    read -r name _ <<<"$d"
    [[ -f $T/logs/$name.out ]] && cat "$T/logs/$name.out" && RAN+=("$name")
  done
  # The server's CPU seconds (user + system, fields 14 and 15 of /proc/PID/stat, in clock ticks).
  PHASES+=("$(awk -v a="$phase_start" -v b="$EPOCHREALTIME" -v s="$scheme" -v hz="$(getconf CLK_TCK)" \
    '{ sub(/.*\) /, ""); printf "%s phase %.0f s, server %.0f s CPU", s, b - a, ($12 + $13) / hz }' \
    "/proc/$SERVER_PID/stat")")
  stop "$SERVER_PID"
  SERVER_PID=""
}
RAN=() PHASES=()
run_phase http
run_phase https

# The verdicts: expected failures of this server, stale entries, missing checks, crashed drivers.
expected_var=EXPECTED_FAIL_${KIND//-/_}
expected=${!expected_var}
is_expected() { # CLIENT CHECK
  local c=${1%%/*} e_client e_check
  [[ $1 == */*+tls ]] && c=$c+tls
  while read -r e_client e_check _; do
    [[ -z $e_client ]] && continue
    # shellcheck disable=SC2053 # CHECK is a glob
    [[ ($e_client == '*' || $e_client == "$c") && $2 == $e_check ]] && return 0
  done <<<"$expected"
  return 1
}
pass=0 fail=0 xfail=0 skip=0
echo "== summary ($KIND)"
for name in "${RAN[@]}"; do
  p=0 f=0 x=0 s=0
  while read -r verdict client check _; do
    case $verdict in
      PASS)
        if is_expected "$client" "$check"; then
          note FAIL "$name: $client $check passed but is listed as an expected $KIND failure: update the list"
        fi
        p=$((p + 1)) ;;
      FAIL)
        if is_expected "$client" "$check"; then x=$((x + 1)); echo "XFAIL $client $check (known $KIND gap)"
        else f=$((f + 1)); fi ;;
      SKIP) s=$((s + 1)) ;;
    esac
  done <"$T/logs/$name.out"
  for c in $REQUIRED; do
    grep -qE "^(PASS|FAIL|SKIP) [^ ]+ $c( |-|$)" "$T/logs/$name.out" ||
      note FAIL "$name: no result for $c (driver exit $(cat "$T/logs/$name.rc"): $(tail -c 300 "$T/logs/$name.err" | tr '\n' ' '))"
  done
  rc=$(cat "$T/logs/$name.rc")
  if [[ $rc -ne 0 && $f -eq 0 && $x -eq 0 ]]; then
    note FAIL "$name: exit $rc without a failed check: $(tail -c 300 "$T/logs/$name.err" | tr '\n' ' ')"
  fi
  read -r wall cpu <"$T/logs/$name.time"
  printf '%-14s %3d passed %3d failed %3d expected failures %3d skipped %4d s (%d s CPU)\n' "$name" "$p" "$f" "$x" "$s" \
    "$wall" "$cpu"
  pass=$((pass + p)) fail=$((fail + f)) xfail=$((xfail + x)) skip=$((skip + s))
done
printf '%s\n' "${PHASES[@]}"
echo "e2e_clients $KIND: $pass passed, $fail failed, $xfail expected failures, $skip skipped, ${#RAN[@]} drivers"
[[ $fail -eq 0 && $runner_fail -eq 0 ]]
