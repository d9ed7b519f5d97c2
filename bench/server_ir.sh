#!/usr/bin/env bash
# User-space instructions per 4 KiB GET of `cairn serve` under callgrind: a figure that does not
# move with the machine's load (the CPU time per request does, by +-15% at a load of 30-40 on
# two shared cores). Kernel work (system calls) is not counted: take `strace -c -f` beside it.
#
#   bench/server_ir.sh BINARY [ec|plain] [COUNT]
#
# Serves a fresh 4+2 set (or a plain directory) under valgrind, writes the objects and reads them
# 200 times with `cairn bench s3 --keep` (warm-up), zeroes the counters, reads COUNT (default
# 2000) more at 16 connections, dumps, and prints instructions per GET.
set -eu
BIN=${1:?binary}
MODE=${2:-ec}
COUNT=${3:-2000}
CLIENT=${CLIENT:-$BIN}
D=$(mktemp -d "${TMPDIR:-/var/tmp}/server_ir.XXXXXX")
trap 'rm -rf "$D"' EXIT
cd "$D"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
if [[ $MODE == ec ]]; then
  "$BIN" init --ec 4+2 d{1..6} >/dev/null
  dir=d1
else
  mkdir p
  dir=p
fi
valgrind --tool=callgrind --callgrind-out-file="$D/cg.out" "$BIN" serve \
  --address 127.0.0.1:$port --access-key benchak --secret-key benchsk12345678 $dir \
  >serve.log 2>&1 &
vp=$!
for _ in $(seq 1 120); do
  grep -q "serve:" serve.log && break
  sleep 1
done
url=http://127.0.0.1:$port
auth=(--access-key benchak --secret-key benchsk12345678)
"$CLIENT" bench s3 --endpoint $url "${auth[@]}" --op get --size 4KiB --concurrency 16 \
  --count 200 --keep >/dev/null
bucket=$(ls $dir | grep '^cairn-bench-' | head -1)
callgrind_control -z $vp >/dev/null 2>&1
"$CLIENT" bench s3 --endpoint $url "${auth[@]}" --op get --size 4KiB --concurrency 16 \
  --count "$COUNT" --bucket "$bucket" --keep | tail -1 >&2
callgrind_control -d $vp >/dev/null 2>&1
kill $vp
wait $vp 2>/dev/null || true
ir=$(grep -m1 '^summary:' "$D/cg.out.1" | awk '{print $2}')
echo "$MODE instructions_per_get=$((ir / COUNT))"
