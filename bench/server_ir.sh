#!/usr/bin/env bash
# User-space instructions per 4 KiB GET (or PUT: OP=put) of `cairn serve` under callgrind: a
# figure that does not move with the machine's load (the CPU time per request does, by +-15% at a
# load of 30-40 on two shared cores). Kernel work (system calls) is not counted: take `strace -c -f` beside it.
#
#   bench/server_ir.sh BINARY [ec|plain] [COUNT]
#
# Serves a fresh 4+2 set (or a plain directory) under valgrind, writes the objects and reads them
# 200 times with `cairn bench s3 --keep` (warm-up), zeroes the counters, reads COUNT (default
# 2000) more at 16 connections, dumps, and prints instructions per GET. CLIENT=PATH: another
# build as the load's client (default BINARY). OP=put: the timed requests are 4 KiB PUTs of new
# keys instead (the first 200 overwrite the warm-up's objects); SERVE_FLAGS="--no-fsync ...": more
# flags for the server. Under valgrind OpenSSL's SHA-256 of the payload does not run its SHA-NI
# code (~29 instructions a byte): ~130k of a plain PUT's ~310k, a few us on the real CPU.
set -eu
BIN=$(realpath "${1:?binary}")
MODE=${2:-ec}
COUNT=${3:-2000}
CLIENT=${CLIENT:-$BIN}
BENCH_NAME=server_ir
. "$(dirname "$0")/lib.sh"
bench_scratch "${TMPDIR:-/var/tmp}"
cd "$T"
if [[ $MODE == ec ]]; then
  "$BIN" init --ec 4+2 d{1..6} >/dev/null
  dir=d1
else
  mkdir p
  dir=p
fi
auth=(--access-key benchak --secret-key benchsk12345678)
bench_start serve valgrind --tool=callgrind --callgrind-out-file="$T/cg.out" "$BIN" serve \
  --address 127.0.0.1:@PORT@ "${auth[@]}" ${SERVE_FLAGS:-} "$dir" || exit 1
vp=${PIDS[-1]}
"$CLIENT" bench s3 --endpoint "${URL[serve]}" "${auth[@]}" --op get --size 4KiB --concurrency 16 \
  --count 200 --keep >/dev/null
bucket=$(ls "$dir" | grep '^cairn-bench-' | head -1)
callgrind_control -z "$vp" >/dev/null 2>&1
"$CLIENT" bench s3 --endpoint "${URL[serve]}" "${auth[@]}" --op "${OP:-get}" --size 4KiB \
  --concurrency 16 --count "$COUNT" --bucket "$bucket" --keep | tail -1 >&2
callgrind_control -d "$vp" >/dev/null 2>&1
ir=$(grep -m1 '^summary:' "$T/cg.out.1" | awk '{print $2}')
echo "$MODE instructions_per_${OP:-get}=$((ir / COUNT))"
