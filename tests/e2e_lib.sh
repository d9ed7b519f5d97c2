# Shared harness of the end-to-end tests: sourced by tests/e2e*.sh with the cairn binary as $1.
# Sets CAIRN (the binary) and T (a scratch directory removed at exit, with every process in PIDS
# killed), and defines the checks below.
set -uo pipefail
CAIRN=$(readlink -f "${1:?usage: $0 path/to/cairn}")
T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-$(basename "$0" .sh).XXXXXX")
PIDS=()
source "$(dirname "${BASH_SOURCE[0]}")/kill_ours.sh"
cleanup() {
  kill_ours 9 "${PIDS[@]}"
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
pass=0
fail=0
skipped=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# skip WHAT REASON: a check this server cannot make, printed with the reason and counted.
skip() { skipped=$((skipped + 1)); echo "SKIP: $1: $2"; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }
# expect CODE WHAT CMD...: runs CMD (stdout in $T/out, stderr in $T/err), checks the exit code
# and, for failures, a "cairn: ..." error on stderr: exactly one line of it, unless
# EXPECT_WARNINGS=1 (commands that also warn, such as heal about refused members).
EXPECT_WARNINGS=0
expect() {
  local want=$1 what=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [[ $got -ne $want ]]; then bad "$what: exit $got, want $want ($(head -c 400 "$T/err"))"; return; fi
  if [[ $want -ne 0 ]]; then
    if ! grep -q '^cairn: ' "$T/err" || { [[ $EXPECT_WARNINGS -eq 0 ]] && [[ $(wc -l <"$T/err") -ne 1 ]]; }; then
      bad "$what: error is not a 'cairn: ' line: $(cat "$T/err")"; return
    fi
  fi
  ok
}
randfile() { head -c "$2" /dev/urandom >"$1"; }

# client_env: for tests of cairn's S3 client: no AWS_* settings or proxies from the caller, and a
# HOME in $T (so no ~/.aws of the user's).
client_env() {
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE \
    AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_CONFIG_FILE \
    AWS_SHARED_CREDENTIALS_FILE AWS_CA_BUNDLE http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY
  export HOME="$T/home"
  mkdir -p "$HOME"
}
# transfer_tree DIR BIG_BYTES: the bulk-transfer tests' tree: an empty file, small files, nested
# directories, names with spaces, unicode and shell metacharacters, an empty directory, and
# big.bin of BIG_BYTES.
transfer_tree() {
  mkdir -p "$1/a/b/c" "$1/sp ace" "$1/ünï" "$1/empty-dir"
  : >"$1/zero"
  randfile "$1/small.bin" 3000
  randfile "$1/a/one.txt" 10
  randfile "$1/a/b/two.txt" 200
  randfile "$1/a/b/c/three.dat" 70000
  randfile "$1/sp ace/with space.txt" 5
  randfile "$1/ünï/ñame ☃.txt" 7
  randfile "$1/a/"'$(echo hi);&|*?'"'\"x" 11
  randfile "$1/big.bin" "$2"
}
# same_tree A B: the two trees hold the same files with the same bytes (the differences on stderr).
same_tree() { diff -r "$1" "$2" >/dev/null 2>&1 || { diff -rq "$1" "$2" | head -5 >&2; return 1; }; }
# no_temps DIR: no download temp file (".NAME.cairn-HEX") left below DIR.
no_temps() { [ -z "$(find "$1" -name '.*.cairn-*')" ]; }
# serve_auth_bg NAME DIR ARGS...: `cairn serve ARGS DIR` on a free loopback port in the background
# (stdout and stderr in $T/NAME.out and $T/NAME.err); sets SRV (its pid) and PORT.
# serve_bg NAME DIR ARGS...: the same with --no-auth.
serve_bg() { serve_auth_bg "$1" "$2" --no-auth "${@:3}"; }
serve_auth_bg() {
  local name=$1 dir=$2; shift 2
  rm -f "$T/$name.port"
  "$CAIRN" serve --address 127.0.0.1:0 --port-file "$T/$name.port" "$@" "$dir" \
    >"$T/$name.out" 2>"$T/$name.err" &
  SRV=$!
  PIDS+=("$SRV")
  for _ in $(seq 100); do [[ -s "$T/$name.port" ]] && break; sleep 0.1; done
  [[ -s "$T/$name.port" ]] || { echo "server $name did not start: $(cat "$T/$name.err")"; exit 1; }
  PORT=$(cat "$T/$name.port")
}
# s3rver_bg NAME DIR ACCESS SECRET: s3rver (the npm peer S3 server, through
# tests/clients/s3rver_serve.js) storing in DIR, knowing the one key pair ACCESS/SECRET, on a free
# loopback port in the background (output in $T/NAME.out and $T/NAME.err); sets SRV and PORT.
# Without s3rver installed the test stops as a failure, saying how to install it.
s3rver_bg() {
  local name=$1 dir=$2 cl try
  cl=$(cd "$(dirname "${BASH_SOURCE[0]}")/clients" && pwd)
  if [[ ! -f $cl/node_modules/s3rver/package.json ]] || ! command -v node >/dev/null; then
    echo "FAIL: s3rver missing: run scripts/bootstrap --client-deps" >&2
    exit 1
  fi
  mkdir -p "$dir"
  for try in 1 2 3; do
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # s3rver makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3 keeps in its legacy
    # provider.
    node --openssl-legacy-provider "$cl/s3rver_serve.js" 127.0.0.1 "$PORT" "$dir" "$3" "$4" \
      >"$T/$name.out" 2>"$T/$name.err" &
    SRV=$!
    PIDS+=("$SRV")
    for _ in $(seq 150); do
      grep -q '^ready' "$T/$name.out" 2>/dev/null && return 0
      kill -0 "$SRV" 2>/dev/null || break
      sleep 0.1
    done
    kill_ours 9 "$SRV"
    wait "$SRV" 2>/dev/null
  done
  echo "FAIL: s3rver $name did not start (try $try): $(head -c 400 "$T/$name.err")" >&2
  exit 1
}
# kill_put_midway BUCKET/KEY BYTES: a `cairn put -` that has read BYTES from a FIFO held open
# (so it waits for more), killed with SIGKILL.
kill_put_midway() {
  rm -f "$T/fifo"
  mkfifo "$T/fifo"
  "$CAIRN" put --no-fsync - "$1" <"$T/fifo" &
  local pp=$!
  PIDS+=("$pp")
  exec 3>"$T/fifo"
  head -c "$2" /dev/urandom >&3
  sleep 1
  kill_ours 9 "$pp"
  wait "$pp" 2>/dev/null
  exec 3>&-
}
# finish: prints the tally and exits non-zero on any failure.
finish() {
  echo "$(basename "$0" .sh): $pass passed, $fail failed$([[ $skipped -eq 0 ]] || echo ", $skipped skipped")"
  [[ $fail -eq 0 ]]
}
