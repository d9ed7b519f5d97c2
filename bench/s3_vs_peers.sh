#!/usr/bin/env bash
# Measures S3 (and plain HTTP) servers side by side in one run with `cairn bench s3`: cairn serve
# on a plain directory and on a 4+2 set, nginx (static GET with sendfile, WebDAV PUT), a raw TCP
# discard sink (the PUT ceiling) and s3rver (npm), each on a random free loopback port, for 4 KiB
# objects (at --small-conc connections) and big objects (default 1 GiB, at 1 connection). Each
# figure is the median of --runs runs; the table gives ratios to nginx, the sink and s3rver.
# Usage: bench/s3_vs_peers.sh [--cairn PATH] [--big SIZE] [--runs N] [--duration D]
#                             [--small-conc N]
# A peer that cannot start (s3rver not installed: scripts/bootstrap --client-deps; cairn serve
# without auth or the plain backend in this build) is reported as "n/a" with the reason on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
CAIRN=build/cairn BIG=1GiB RUNS=3 DUR=5s CONC=16
while (($#)); do
  case $1 in
    --cairn) CAIRN=$2; shift 2 ;;
    --big) BIG=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --duration) DUR=$2; shift 2 ;;
    --small-conc) CONC=$2; shift 2 ;;
    *) echo "s3_vs_peers: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x $CAIRN ]] || { echo "s3_vs_peers: $CAIRN missing (scripts/bootstrap)" >&2; exit 2; }
CAIRN=$(realpath "$CAIRN")
T=$(mktemp -d "${TMPDIR:-/var/tmp}/s3peers.XXXXXX")
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
ACCESS=BENCHPEERS$RANDOM SECRET=benchpeerssecret$RANDOM$RANDOM
export AWS_ACCESS_KEY_ID=$ACCESS AWS_SECRET_ACCESS_KEY=$SECRET

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_port PID PORT: until something answers HTTP on PORT (or PID died).
wait_port() {
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$1" 2>/dev/null || return 1
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/") != 000 ]] && return 0
    sleep 0.1
  done
  return 1
}

declare -A URL MODE
start_cairn() {  # NAME DIR ARGS...
  local name=$1 dir=$2 port
  shift 2
  port=$(free_port)
  "$CAIRN" serve --address "127.0.0.1:$port" "$@" "$dir" >"$T/$name.log" 2>&1 &
  PIDS+=($!)
  if wait_port $! "$port"; then
    URL[$name]=http://127.0.0.1:$port MODE[$name]=s3
  else
    echo "s3_vs_peers: $name: $(tail -c 300 "$T/$name.log")" >&2
  fi
}
mkdir -p "$T/plain"
start_cairn cairn-plain "$T/plain" --access-key "$ACCESS" --secret-key "$SECRET"
"$CAIRN" init "$T"/set/d{1..6} --ec 4+2 >/dev/null 2>&1 || "$CAIRN" init --ec 4+2 "$T"/set/d{1..6} >/dev/null
start_cairn cairn-4+2 "$T/set/d1" --access-key "$ACCESS" --secret-key "$SECRET"
if [[ -z ${URL[cairn-4+2]:-} ]]; then
  echo "s3_vs_peers: serving 4+2 with --no-auth instead (SigV4 is not wired into serve yet)" >&2
  start_cairn cairn-4+2 "$T/set/d1" --no-auth
fi

# nginx: static GET with sendfile, WebDAV PUT, as the current user.
NPORT=$(free_port)
mkdir -p "$T/nginx/www" "$T/nginx/tmp"
NUSER=""
# As root, nginx workers would switch to nobody, who cannot write the temp directory.
[[ $(id -u) -eq 0 ]] && NUSER="user $(id -un) $(id -gn);"
cat >"$T/nginx/nginx.conf" <<EOF
$NUSER
worker_processes 2;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000;
  client_body_temp_path $T/nginx/tmp;
  client_max_body_size 0;
  proxy_temp_path $T/nginx/tmp; fastcgi_temp_path $T/nginx/tmp;
  uwsgi_temp_path $T/nginx/tmp; scgi_temp_path $T/nginx/tmp;
  server {
    listen 127.0.0.1:$NPORT;
    root $T/nginx/www;
    location / { dav_methods PUT DELETE; create_full_put_path on; }
  }
}
EOF
nginx -c "$T/nginx/nginx.conf" -g 'daemon off;' -e "$T/nginx/error.log" 2>"$T/nginx.log" &
PIDS+=($!)
wait_port $! "$NPORT" && URL[nginx]=http://127.0.0.1:$NPORT MODE[nginx]=plain ||
  echo "s3_vs_peers: nginx: $(tail -c 300 "$T/nginx.log")" >&2

# The discard sink: answers 200 to every request after reading (and dropping) its body.
SPORT=$(free_port)
python3 - "$SPORT" >"$T/sink.log" 2>&1 <<'EOF' &
import socket, sys, threading
def serve(c):
    f = c.makefile('rb', buffering=1 << 20)
    try:
        while True:
            n = 0
            line = f.readline()
            if not line: return
            while True:
                h = f.readline()
                if h in (b'\r\n', b'\n', b''): break
                k, _, v = h.partition(b':')
                if k.strip().lower() == b'content-length': n = int(v)
            while n > 0:
                b = f.read1(min(n, 1 << 20))
                if not b: return
                n -= len(b)
            c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')
    finally:
        c.close()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(128)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
PIDS+=($!)
wait_port $! "$SPORT" && URL[sink]=http://127.0.0.1:$SPORT MODE[sink]=plain ||
  echo "s3_vs_peers: sink did not start" >&2

if [[ -f tests/clients/node_modules/s3rver/package.json ]]; then
  RPORT=$(free_port)
  mkdir -p "$T/s3rver"
  node --openssl-legacy-provider tests/clients/s3rver_serve.js 127.0.0.1 "$RPORT" "$T/s3rver" \
    "$ACCESS" "$SECRET" >"$T/s3rver.log" 2>&1 &
  PIDS+=($!)
  wait_port $! "$RPORT" && URL[s3rver]=http://127.0.0.1:$RPORT MODE[s3rver]=s3 ||
    echo "s3_vs_peers: s3rver: $(tail -c 300 "$T/s3rver.log")" >&2
else
  echo "s3_vs_peers: s3rver not installed (scripts/bootstrap --client-deps): n/a" >&2
fi

# median NAME OP SIZE CONC: ops/s and MB/s (medians of RUNS), "n/a" when the peer is missing.
measure() {
  local name=$1 op=$2 size=$3 conc=$4 r args=()
  [[ -n ${URL[$name]:-} ]] || { echo "n/a n/a"; return; }
  [[ ${MODE[$name]} == plain ]] && args=(--plain-http)
  [[ $name == sink && $op == get ]] && { echo "n/a n/a"; return; }
  for ((r = 0; r < RUNS; r++)); do
    sync; sleep 1
    "$CAIRN" --json bench s3 --endpoint "${URL[$name]}" "${args[@]}" --op "$op" --size "$size" \
      --concurrency "$conc" --duration "$DUR" 2>>"$T/bench.err" |
      python3 -c 'import json,sys; f=json.load(sys.stdin)[0]; print(f["ops_per_sec"], f["mb_per_sec"], f["errors"])' \
      2>/dev/null || echo "0 0 1"
  done | python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
bad = sum(r[2] for r in rows)
print("%.1f %.1f%s" % (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows), "" if not bad else " errors"))'
}

NAMES=(cairn-plain cairn-4+2 nginx sink s3rver)
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  load average: $(cut -d' ' -f1-3 /proc/loadavg)  (shared machine)"
echo "command: bench/s3_vs_peers.sh --big $BIG --runs $RUNS --duration $DUR --small-conc $CONC"
printf '%-22s %-12s %12s %10s %9s %9s %9s\n' case server ops/s MB/s x-nginx x-sink x-s3rver
for c in "get 4KiB $CONC" "put 4KiB $CONC" "get $BIG 1" "put $BIG 1"; do
  read -r op size conc <<<"$c"
  declare -A OPS=() MB=()
  for n in "${NAMES[@]}"; do
    read -r o m _ <<<"$(measure "$n" "$op" "$size" "$conc")"
    OPS[$n]=$o MB[$n]=$m
  done
  for n in "${NAMES[@]}"; do
    ratio() { [[ ${OPS[$1]} == n/a || ${OPS[$n]} == n/a || ${OPS[$1]} == 0.0 ]] && echo - ||
      python3 -c "print('%.2f' % (${OPS[$n]} / ${OPS[$1]}))"; }
    printf '%-22s %-12s %12s %10s %9s %9s %9s\n' "$op $size c$conc" "$n" "${OPS[$n]}" "${MB[$n]}" \
      "$(ratio nginx)" "$(ratio sink)" "$(ratio s3rver)"
  done
done
[[ -s $T/bench.err ]] && { echo "errors (first lines):" >&2; head -5 "$T/bench.err" >&2; }
exit 0
