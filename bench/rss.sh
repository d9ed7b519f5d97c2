#!/usr/bin/env bash
# Peak memory of `cairn put` and `cairn get` of one large file into a 4+2 set, with /usr/bin/time -v,
# beside `cp` of the same file as the reference. Usage: bench/rss.sh [path/to/cairn] [SIZE_MB]
set -euo pipefail
CAIRN=$(readlink -f "${1:-build/cairn}")
MB=${2:-1024}
T=$(mktemp -d "${TMPDIR:-/var/tmp}/cairn-rss.XXXXXX")
trap 'rm -rf "$T"' EXIT
head -c $((MB * 1024 * 1024)) /dev/urandom >"$T/file"
"$CAIRN" init --ec 4+2 "$T"/d{1..6} >/dev/null
export CAIRN_SET="$T/d1"
"$CAIRN" mb rss
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}'; }
printf '%-40s %12s\n' "command (${MB} MiB file)" "peak RSS KiB"
printf '%-40s %12s\n' "cp FILE (reference)" "$(rss cp "$T/file" "$T/copy")"
printf '%-40s %12s\n' "cairn put --no-fsync FILE" "$(rss "$CAIRN" put --no-fsync "$T/file" rss/f)"
printf '%-40s %12s\n' "cairn put FILE (md5, fsync)" "$(rss "$CAIRN" put "$T/file" rss/f)"
printf '%-40s %12s\n' "cairn get KEY FILE" "$(rss "$CAIRN" get rss/f "$T/back")"
printf '%-40s %12s\n' "cairn get KEY - (stdout)" "$(rss "$CAIRN" get rss/f -)"
cmp "$T/file" "$T/back"
