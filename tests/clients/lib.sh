# shellcheck shell=bash disable=SC2034
# Shared part of the shell drivers of the client matrix (awscli.sh, s3cmd.sh, rclone.sh, curl.sh).
# A driver sources this file, then calls `matrix_init CLIENT ENDPOINT ACCESS SECRET REGION SCRATCH
# BUCKET`. Every check prints exactly one line, `PASS|FAIL|SKIP client check detail`;
# `matrix_finish` exits 1 when any check failed. The objects and keys every driver uses are made
# here, so that all clients are held to the same matrix (docs/testing.md, "Client matrix").
set -uo pipefail

matrix_init() {
  CLIENT=$1 ENDPOINT=$2 ACCESS=$3 SECRET=$4 REGION=$5 S=$6 BUCKET=$7
  FAILED=0
  mkdir -p "$S"
  # The fixtures: 0 B, 1 KiB and 5 MiB (below every client's multipart threshold), and 1,500 small
  # files named 0..1499 without padding, so that S3's byte order ("10" < "2") is not numeric order.
  : >"$S/f0"
  head -c 1024 /dev/urandom >"$S/f1k"
  head -c $((5 * 1024 * 1024)) /dev/urandom >"$S/f5m"
  rm -rf "$S/many"
  mkdir -p "$S/many"
  for ((i = 0; i < 1500; i++)); do printf '%d\n' "$i" >"$S/many/$i"; done
  # The listing every client must return for many/ (C collation = byte order of the key).
  (cd "$S/many" && printf 'many/%s\n' *) | LC_ALL=C sort >"$S/many.expected"
  MATRIX_START=$(date +%s)
}
pass() { echo "PASS ${2:-$CLIENT} $1"; }
# fail CHECK DETAIL [CLIENT]
fail() { echo "FAIL ${3:-$CLIENT} $1 $2"; FAILED=1; }
# skip CHECK REASON [CLIENT]: a check this client cannot make, with the reason.
skip() { echo "SKIP ${3:-$CLIENT} $1 $2"; }
# verdict CHECK OK DETAIL [CLIENT]: PASS when OK is 0, else FAIL with DETAIL.
verdict() { if [[ $2 -eq 0 ]]; then pass "$1" "${4:-}"; else fail "$1" "$3" "${4:-}"; fi; }
sha() { sha256sum <"$1" | cut -d' ' -f1; }
md5() { md5sum <"$1" | cut -d' ' -f1; }
# same_bytes WANT GOT: true when GOT exists and has WANT's SHA-256.
same_bytes() { [[ -f $2 ]] && [[ $(sha "$1") == "$(sha "$2")" ]]; }
# first_err FILE: the first lines of a client's error output, on one line, for a FAIL detail.
first_err() { head -c 300 "$1" 2>/dev/null | tr '\n' ' '; }
# curl_status URL OUT [CURL ARGS...]: fetches URL into OUT, prints the HTTP status (000 on a
# transport error). CURL_CA_BUNDLE (set by the runner over TLS) makes curl trust the test's CA.
curl_status() {
  local url=$1 out=$2
  shift 2
  curl -sS -o "$out" -w '%{http_code}' "$@" "$url" 2>"$out.err" || true
}
# wait_expired: returns once at least 3 s have passed since matrix_init, so that a URL presigned
# there for 1 s has expired even with a coarse clock.
wait_expired() {
  local left=$((MATRIX_START + 3 - $(date +%s)))
  ((left > 0)) && sleep "$left"
  return 0
}
# check_many_listing CHECK FILE [CLIENT]: FILE holds the keys a client listed under many/, one a
# line, in the order it gave them; they must be exactly the 1,500 keys in byte order.
check_many_listing() {
  local n
  n=$(wc -l <"$2")
  if cmp -s "$S/many.expected" "$2"; then
    pass "$1" "${3:-}"
  elif [[ $n -ne 1500 ]]; then
    fail "$1" "listed $n keys, want 1500" "${3:-}"
  elif cmp -s "$S/many.expected" <(LC_ALL=C sort "$2"); then
    fail "$1" "the 1500 keys, but not in byte order (first difference at line $(cmp "$S/many.expected" "$2" | awk '{print $NF}'))" "${3:-}"
  else
    fail "$1" "1500 keys but not the expected ones: $(diff "$S/many.expected" "$2" | head -3 | tr '\n' ' ')" "${3:-}"
  fi
}
# The multipart checks (mpu-put-SIZE, mpu-get-SIZE): an object above the client's multipart
# threshold, uploaded and downloaded at the client's defaults, compared byte for byte. In CI one
# modest size per client; CAIRN_LARGE=1 runs issue 10's sizes (100 MiB and 1 GiB, and the extra
# sizes a driver names) instead.
# mpu_sizes CI_MIB [LARGE_EXTRA_MIB...]: the sizes in MiB, one a word.
mpu_sizes() {
  local ci=$1
  shift
  if [[ ${CAIRN_LARGE:-0} == 1 ]]; then echo 100 1024 "$@"; else echo "$ci"; fi
}
# mpu_file FILE MIB: MIB MiB of random bytes.
mpu_file() { head -c $(($2 << 20)) /dev/urandom >"$1"; }
# mpu_etag KEY: the ETag of object KEY of the bucket, from a HEAD signed by curl (so that every
# shell driver reads the part count the server recorded the same way), quotes removed.
mpu_etag() {
  curl -sS -I --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS:$SECRET" \
    -H "x-amz-content-sha256: $(sha /dev/null)" "$ENDPOINT/$BUCKET/$1" 2>/dev/null |
    awk 'tolower($1) == "etag:" {gsub(/[\r"]/, "", $2); print $2}'
}
# mpu_parts ETAG: the part count of a multipart ETag (MD5-N), 0 for a single-part one.
mpu_parts() { if [[ $1 == *-* ]]; then echo "${1##*-}"; else echo 0; fi; }
# mpu_verdict CHECK RC KEY MIN_PARTS DETAIL [CLIENT]: PASS when RC is 0 and KEY's ETag names at
# least MIN_PARTS parts (the client did go multipart; MIN_PARTS 0 accepts a single PUT).
mpu_verdict() {
  local etag parts
  etag=$(mpu_etag "$3")
  parts=$(mpu_parts "$etag")
  if [[ $2 -ne 0 ]]; then fail "$1" "exit $2: $5" "${6:-}"
  elif [[ -z $etag ]]; then fail "$1" "no ETag on a HEAD of $3 after the upload" "${6:-}"
  elif ((parts < $4)); then fail "$1" "ETag '$etag': $parts parts, want at least $4" "${6:-}"
  else echo "PASS ${6:-$CLIENT} $1 $parts parts"; fi
}
matrix_finish() {
  [[ $FAILED -eq 0 ]]
}
