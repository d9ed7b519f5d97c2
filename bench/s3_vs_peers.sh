#!/usr/bin/env bash
# Measures S3 (and plain HTTP) servers side by side in one run with `cairn bench s3`: cairn serve
# on a plain directory and on a 4+2 set (for PUTs also with --no-fsync), nginx (static GET with
# sendfile, WebDAV PUT), a raw TCP discard sink (the PUT ceiling) and s3rver (npm), each on a
# random free loopback port, for 4 KiB objects (at --small-conc connections) and big objects
# (default 1 GiB, at 1 connection); beside the big PUTs, `openssl md5` over the same bytes (the MD5
# ETag's ceiling) and `dd conv=fsync` of them into $TMPDIR (the disk's ceiling for a PUT that is
# flushed before its answer; a 4+2 set writes 1.5 times the bytes), and the same with oflag=direct
# (row disk-direct: the disk past the page cache). Each figure is the median of
# --runs runs, the runs of all servers interleaved; the table gives ratios to nginx, the sink, MD5,
# the disk and s3rver. Then the peak RSS (VmHWM) of a fresh `cairn serve` per backend with
# --rss-conc concurrent GETs and PUTs of one big object each, and with --rss-idle idle keep-alive
# connections (bench/idle_conns.py); --rss-conc 0 skips it. --small-only: the 4 KiB rows only
# (no big objects, no RSS); --big-only: the big rows only (and the RSS, unless --rss-conc 0).
# --cairn-b PATH: a second cairn build served beside the first (rows "cairn-plain-b", ...; the
# same bench client, --cairn's, loads both), for a before/after.
# --ops get|put: only those rows (default both).
# Big GETs are of objects in the page cache on every server (`bench s3 --warm`: one untimed read
# of each object first; a big PUT to cairn serve writes past the page cache, nginx's does not).
# Files (served, PUT targets) go under $TMPDIR (default /var/tmp): 16 concurrent 1 GiB PUTs on
# 4+2 write 24 GiB there for a moment.
# The 4 KiB rows delete nothing until the end (`bench s3 --keep`): each run of each server writes
# into a directory of its own (a new bucket; for nginx and the sink a new URL path), and all of
# it goes with the scratch directory when the script exits. On ext4 without a journal (/var/tmp
# here) a new inode is slow for ~30 s after many deletes in its block group (the allocator checks
# each recently freed inode's deletion time, `recently_deleted()`), so a cleanup of thousands of
# objects after one server's run used to slow the next server's PUTs (up to 44% of a server's
# samples): the order of the rows, not the server, decided part of the figure. The big rows
# still clean up after each run (a few files, and their bytes would not fit otherwise).
# Usage: bench/s3_vs_peers.sh [--cairn PATH] [--big SIZE] [--runs N] [--duration D]
#                             [--small-conc N] [--rss-conc N] [--rss-idle N] [--small-only]
#                             [--big-only] [--cairn-b PATH] [--ops get|put]
# A peer that cannot start (s3rver not installed: scripts/bootstrap --client-deps; cairn serve
# without auth or the plain backend in this build) is reported as "n/a" with the reason on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
CAIRN=build/cairn BIG=1GiB RUNS=3 DUR=5s CONC=16 RSS_CONC=16 RSS_IDLE=1000 SMALL_ONLY=0 BIG_ONLY=0 CAIRN_B= WANT_OPS=get,put
while (($#)); do
  case $1 in
    --cairn) CAIRN=$2; shift 2 ;;
    --big) BIG=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --duration) DUR=$2; shift 2 ;;
    --small-conc) CONC=$2; shift 2 ;;
    --rss-conc) RSS_CONC=$2; shift 2 ;;
    --rss-idle) RSS_IDLE=$2; shift 2 ;;
    --small-only) SMALL_ONLY=1 RSS_CONC=0; shift ;;
    --big-only) BIG_ONLY=1; shift ;;
    --cairn-b) CAIRN_B=$2; shift 2 ;;
    --ops) WANT_OPS=$2; shift 2 ;;
    *) echo "s3_vs_peers: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $WANT_OPS =~ ^(get|put)(,(get|put))*$ ]] ||
  { echo "s3_vs_peers: --ops takes get, put or get,put, not '$WANT_OPS'" >&2; exit 2; }
((SMALL_ONLY && BIG_ONLY)) &&
  { echo "s3_vs_peers: --small-only and --big-only exclude each other" >&2; exit 2; }
[[ -x $CAIRN ]] || { echo "s3_vs_peers: $CAIRN missing (scripts/bootstrap)" >&2; exit 2; }
CAIRN=$(realpath "$CAIRN")
if [[ -n $CAIRN_B ]]; then
  [[ -x $CAIRN_B ]] || { echo "s3_vs_peers: $CAIRN_B missing" >&2; exit 2; }
  CAIRN_B=$(realpath "$CAIRN_B")
fi
BENCH_NAME=s3_vs_peers
. bench/lib.sh
bench_scratch "${TMPDIR:-/var/tmp}"
ACCESS=BENCHPEERS$RANDOM SECRET=benchpeerssecret$RANDOM$RANDOM
export AWS_ACCESS_KEY_ID=$ACCESS AWS_SECRET_ACCESS_KEY=$SECRET

declare -A MODE
SERVE_BIN=$CAIRN
start_cairn() {  # NAME DIR ARGS...
  local name=$1 dir=$2
  shift 2
  bench_start "$name" "$SERVE_BIN" serve --address 127.0.0.1:@PORT@ "$@" "$dir" && MODE[$name]=s3 || true
}
start_cairns() {  # SUFFIX: the four cairn servers of SERVE_BIN, named cairn-*SUFFIX
  local s=$1
  mkdir -p "$T/plain$s"
  start_cairn "cairn-plain$s" "$T/plain$s" --access-key "$ACCESS" --secret-key "$SECRET"
  "$SERVE_BIN" init --ec 4+2 "$T/set$s"/d{1..6} >/dev/null
  start_cairn "cairn-4+2$s" "$T/set$s/d1" --access-key "$ACCESS" --secret-key "$SECRET"
  # The same two with --no-fsync, for the PUT rows (nginx WebDAV does not flush either).
  mkdir -p "$T/plain-nf$s"
  start_cairn "cairn-plain-nf$s" "$T/plain-nf$s" --no-fsync --access-key "$ACCESS" --secret-key "$SECRET"
  "$SERVE_BIN" init --ec 4+2 "$T/set-nf$s"/d{1..6} >/dev/null
  start_cairn "cairn-4+2-nf$s" "$T/set-nf$s/d1" --no-fsync --access-key "$ACCESS" --secret-key "$SECRET"
}
start_cairns ""
if [[ -n $CAIRN_B ]]; then
  SERVE_BIN=$CAIRN_B
  start_cairns -b
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

# once NAME OP SIZE CONC: "ops/s MB/s errors" of one run; "n/a" when the peer is missing.
# Small objects: kept (no deletes before the end, see the top), each run in a new directory.
RUNSEQ=0
once() {
  local name=$1 op=$2 size=$3 conc=$4 args=() url
  [[ -n ${URL[$name]:-} ]] || { echo "n/a n/a 0"; return; }
  [[ $name == sink && $op == get ]] && { echo "n/a n/a 0"; return; }
  url=${URL[$name]}
  RUNSEQ=$((RUNSEQ + 1))
  # S3: a new random bucket per run already; plain HTTP: a new path (nginx makes it on PUT).
  [[ ${MODE[$name]} == plain ]] && args=(--plain-http) && url+=/run$RUNSEQ
  [[ $size != "$BIG" ]] && args+=(--keep)
  # Big GETs read an object in the page cache on every server: a big PUT to cairn serve bypasses
  # it (nginx's does not), so each object is read once, untimed, first.
  [[ $size == "$BIG" && $op == get ]] && args+=(--warm)
  sync; sleep 1
  "$CAIRN" --json bench s3 --endpoint "$url" "${args[@]}" --op "$op" --size "$size" \
    --concurrency "$conc" --duration "$DUR" 2>>"$T/bench.err" |
    python3 -c 'import json,sys; f=json.load(sys.stdin)[0]; print(f["ops_per_sec"], f["mb_per_sec"], f["errors"])' \
    2>/dev/null || echo "0 0 1"
}
# Ratios are of MB/s (the same sizes on both sides, so the same as of ops/s).
# The references of a big PUT, each over a file of the same bytes in /dev/shm (the page cache),
# timed as a whole process after a sync: "ops/s MB/s 0". md5: `openssl md5` (the MD5 ETag's
# ceiling). disk: the bytes copied into a new file beside the servers' files and flushed (`dd
# conv=fsync`, the ceiling of a flushed PUT through the page cache), then removed. disk-direct: the
# same with `oflag=direct` (past the page cache, as cairn writes a big body: in this VM a fresh
# page cache page costs the host a fault, so that row shows the disk's own ceiling); a row of its
# own, the x-disk column stays the buffered one.
reference_once() {  # md5|disk|disk-direct
  local t0 t1
  sync; sleep 1
  t0=$(date +%s.%N)
  if [[ $1 == md5 ]]; then
    openssl md5 <"$MD5FILE" >/dev/null
  elif [[ $1 == disk-direct ]]; then
    dd if="$MD5FILE" of="$T/disk-ref" bs=1M oflag=direct conv=fsync status=none
  else
    dd if="$MD5FILE" of="$T/disk-ref" bs=1M conv=fsync status=none
  fi
  t1=$(date +%s.%N)
  rm -f "$T/disk-ref"
  python3 -c "d = $t1 - $t0; print(1 / d, $BIGBYTES / d / 1e6, 0)"
}
median_rows() {  # lines of "ops MB errors" on stdin: "ops MB[ errors]", medians
  python3 -c '
import statistics, sys
rows = [l.split() for l in sys.stdin if l.strip()]
if not rows or rows[0][0] == "n/a": print("n/a n/a"); sys.exit()
rows = [list(map(float, r)) for r in rows]
bad = sum(r[2] for r in rows)
print("%.3g %.1f%s" % (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows), "" if not bad else " errors"))'
}

NAMES=(cairn-plain cairn-4+2)
PUTNAMES=(cairn-plain cairn-plain-nf cairn-4+2 cairn-4+2-nf)
[[ -n $CAIRN_B ]] && NAMES+=(cairn-plain-b cairn-4+2-b) &&
  PUTNAMES+=(cairn-plain-b cairn-plain-nf-b cairn-4+2-b cairn-4+2-nf-b)
NAMES+=(nginx sink s3rver)
PUTNAMES+=(nginx sink s3rver)
BIGBYTES=$(numfmt --from=auto "${BIG%B}" 2>/dev/null || numfmt --from=iec "${BIG%iB}")
# The bench's PUT body is BIG bytes of 7.
MD5FILE=/dev/shm/s3peers-md5.$$
((SMALL_ONLY)) || head -c "$BIGBYTES" /dev/zero | tr '\0' '\7' >"$MD5FILE"
trap 'bench_cleanup; rm -f "$MD5FILE"' EXIT
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  load average: $(cut -d' ' -f1-3 /proc/loadavg)  (shared machine)"
echo "command: bench/s3_vs_peers.sh --big $BIG --runs $RUNS --duration $DUR --small-conc $CONC$(
  ((SMALL_ONLY)) && echo " --small-only"; ((BIG_ONLY)) && echo " --big-only")${CAIRN_B:+ --cairn-b $CAIRN_B} --ops $WANT_OPS"
echo "PUT targets and served files under $T ($(df --output=fstype "$T" | tail -1))"
printf '%-20s %-17s %10s %9s %8s %8s %8s %8s %8s\n' case server ops/s MB/s x-nginx x-sink x-md5 x-disk \
  x-s3rver
CASES=()
((BIG_ONLY)) || CASES+=("get 4KiB $CONC" "put 4KiB $CONC")
((SMALL_ONLY)) || CASES+=("get $BIG 1" "put $BIG 1")
for c in "${CASES[@]}"; do
  read -r op size conc <<<"$c"
  [[ ,$WANT_OPS, == *,$op,* ]] || continue
  names=("${NAMES[@]}")
  [[ $op == put ]] && names=("${PUTNAMES[@]}")
  [[ $op == put && $size == "$BIG" ]] && names+=(md5 disk disk-direct)
  declare -A OPS=() MB=()
  # Runs interleaved (each server once per round), so a busy moment falls on all of them alike.
  for n in "${names[@]}"; do : >"$T/runs.$n"; done
  for ((r = 0; r < RUNS; r++)); do
    for n in "${names[@]}"; do
      case $n in
        md5 | disk | disk-direct) reference_once "$n" ;;
        *) once "$n" "$op" "$size" "$conc" ;;
      esac >>"$T/runs.$n"
    done
  done
  for n in "${names[@]}"; do
    read -r o m _ <<<"$(median_rows <"$T/runs.$n")"
    OPS[$n]=$o MB[$n]=$m
  done
  for n in "${names[@]}"; do
    ratio() {
      if [[ -z ${MB[$1]:-} || ${MB[$1]} == n/a || ${MB[$n]} == n/a || ${MB[$1]} == 0.0 ]]; then
        echo -
      else
        python3 -c "print('%.2f' % (${MB[$n]} / ${MB[$1]}))"
      fi
    }
    printf '%-20s %-17s %10s %9s %8s %8s %8s %8s %8s\n' "$op $size c$conc" "$n" "${OPS[$n]}" \
      "${MB[$n]}" "$(ratio nginx)" "$(ratio sink)" "$(ratio md5)" "$(ratio disk)" "$(ratio s3rver)"
  done
done
rm -f "$MD5FILE"

# Peak RSS (VmHWM) of a fresh `cairn serve` per case, so that no case inherits another's peak:
# RSS_CONC concurrent GETs, then PUTs, of a BIG object each (--count RSS_CONC), and RSS_IDLE idle
# keep-alive connections (each made one request, then waits) held by bench/idle_conns.py.
rss_case() {  # BACKEND CASE: "peak-RSS-KiB open-fds" of a fresh server (or n/a)
  local backend=$1 kase=$2 dir port pid helper i
  dir=$T/rss-$backend
  rm -rf "$dir"
  if [[ $backend == plain ]]; then
    mkdir -p "$dir"
  else
    "$CAIRN" init --ec 4+2 "$dir"/d{1..6} >/dev/null
    dir=$dir/d1
  fi
  port=$(free_port)
  "$CAIRN" serve --address "127.0.0.1:$port" --access-key "$ACCESS" --secret-key "$SECRET" "$dir" \
    >"$T/rss.log" 2>&1 &
  pid=$!
  if ! wait_port "$pid" "$port"; then
    echo "s3_vs_peers: rss $backend: $(tail -c 300 "$T/rss.log")" >&2
    echo n/a
    return
  fi
  local fds=-
  case $kase in
    idle)
      rm -f "$T/idle.ready"
      python3 bench/idle_conns.py "$port" "$RSS_IDLE" "$T/idle.ready" 2>>"$T/rss.err" &
      helper=$!
      for ((i = 0; i < 600; i++)); do
        [[ -e $T/idle.ready ]] && break
        kill -0 "$helper" 2>/dev/null || break
        sleep 0.1
      done
      [[ -e $T/idle.ready ]] || echo "s3_vs_peers: rss idle: the connections did not open" >&2
      sleep 1
      fds=$(ls "/proc/$pid/fd" | wc -l)
      kill "$helper" 2>/dev/null
      wait "$helper" 2>/dev/null || true
      ;;
    get | put)
      sync; sleep 1
      "$CAIRN" --json bench s3 --endpoint "http://127.0.0.1:$port" --op "$kase" --size "$BIG" \
        --concurrency "$RSS_CONC" --count "$RSS_CONC" >"$T/rss.json" 2>>"$T/rss.err" ||
        echo "s3_vs_peers: rss $backend $kase: the bench failed" >&2
      ;;
  esac
  echo "$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status") $fds"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  rm -rf "$T/rss-$backend"
}
if ((RSS_CONC > 0)); then
  echo
  echo "peak RSS (VmHWM) of a fresh cairn serve per case; targets: < 256 MiB with $RSS_CONC x $BIG, < 64 MiB idle"
  printf '%-36s %-8s %10s %10s\n' case backend "MiB" "open fds"
  for b in plain 4+2; do
    for k in idle get put; do
      read -r kib fds <<<"$(rss_case "$b" "$k")"
      case $k in
        idle) label="$RSS_IDLE idle keep-alive connections" ;;
        *) label="$RSS_CONC concurrent ${k^^}s of $BIG" ;;
      esac
      mib=n/a
      [[ $kib != n/a ]] && mib=$(python3 -c "print('%.1f' % ($kib / 1024))")
      printf '%-36s %-8s %10s %10s\n' "$label" "$b" "$mib" "${fds:--}"
    done
  done
fi
[[ -s $T/bench.err ]] && { echo "errors (first lines):" >&2; head -5 "$T/bench.err" >&2; }
[[ -s $T/rss.err ]] && { echo "rss errors (first lines):" >&2; head -5 "$T/rss.err" >&2; }
exit 0
