#!/usr/bin/env bash
# End-to-end tests of bulk transfers: `cairn cp` (-r, wildcards, many sources, S3 to S3, --json,
# exit codes, per-object failures, SIGINT) and `cairn run`, and credentials from a profile file.
# Usage: tests/e2e_bulk.sh path/to/cairn [SERVERS]
#   SERVERS  cairn (default)  `cairn serve` on a plain directory and on a member of a 4+2 volume set,
#                             then through tests/fault_proxy.py; the tree's big file is 20 MiB
#            s3rver           s3rver (npm, a foreign server; scripts/bootstrap --client-deps), with
#                             a 100 MiB big file; what s3rver cannot do is a printed SKIP line
# Scratch space on /dev/shm unless TMPDIR says otherwise (the trees are 100+ MiB a copy).
if [[ -z ${TMPDIR:-} && -d /dev/shm && -w /dev/shm ]]; then export TMPDIR=/dev/shm; fi
source "$(dirname "$0")/e2e_lib.sh"
client_env
SERVERS=${2:-cairn}
case $SERVERS in
  cairn) BIG=20971520 ;;
  s3rver) BIG=104857600 ;;
  *) echo "usage: $0 path/to/cairn [cairn|s3rver]" >&2; exit 2 ;;
esac

# The tree (transfer_tree), with a big file for multipart.
SRC="$T/src"
transfer_tree "$SRC" "$BIG"
NFILES=$(find "$SRC" -type f | wc -l)

# bulk_suite NAME URL DATA_DIR: the cp and run tests against one server.
bulk_suite() {
  local name=$1 url=$2
  c() { env AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL="$url" "$CAIRN" "$@"; }
  curl -sf -X PUT "$url/bkt" >/dev/null || bad "$name: make bucket"
  curl -sf -X PUT "$url/other" >/dev/null || bad "$name: make bucket other"

  echo "== $name: cp -r up and down"
  expect 0 "$name: cp -r upload" c cp -r --part-size 5MiB "$SRC" s3://bkt/tree
  check "$name: summary on stderr" grep -q "^$NFILES of $NFILES objects copied" "$T/err"
  check "$name: Content-Type from the extension" bash -c "curl -sI '$url/bkt/tree/a/one.txt' | grep -qi '^content-type: text/plain'"
  expect 0 "$name: ls -r" c ls -r s3://bkt/tree/
  check "$name: every file became a key below the prefix" [ "$(wc -l <"$T/out")" = "$NFILES" ]
  expect 0 "$name: cp -r download" c cp -r --part-size 5MiB s3://bkt/tree/ "$T/$name-down"
  rmdir "$SRC/empty-dir"
  check "$name: round trip byte-identical" same_tree "$SRC" "$T/$name-down"
  mkdir "$SRC/empty-dir"
  check "$name: no temp files" no_temps "$T/$name-down"
  expect 0 "$name: --json lines" c --json cp -r s3://bkt/tree/a "$T/$name-json"
  check "$name: one JSON line per object, with source, target, size, etag, status" python3 -c "
import json,sys
rows=[json.loads(l) for l in open('$T/out')]
assert len(rows)==4, rows
for r in rows:
    assert r['status']=='ok' and r['source'].startswith('s3://bkt/tree/a/') and r['target'].startswith('$T/$name-json/'), r
    assert len(r['etag'])>=32 and isinstance(r['size'],int), r
assert {r['size'] for r in rows}=={10,200,70000,11}, rows
"

  echo "== $name: single objects, many sources, wildcards"
  expect 0 "$name: one file into a prefix" c cp "$SRC/small.bin" s3://bkt/single/
  expect 0 "$name: one object to a file" c cp s3://bkt/single/small.bin "$T/$name-small"
  check "$name: single byte-identical" cmp -s "$T/$name-small" "$SRC/small.bin"
  expect 0 "$name: many sources into a prefix" c cp "$SRC/zero" "$SRC/small.bin" "$SRC/sp ace/with space.txt" s3://bkt/many/
  expect 0 "$name: listed" c ls s3://bkt/many/
  check "$name: three keys by base name" [ "$(grep -c -e ' many/zero$' -e ' many/small.bin$' -e ' many/with space.txt$' "$T/out")" = 3 ]
  expect 0 "$name: local wildcard" c cp "$SRC/a/b/*.txt" "$SRC/a/*.txt" s3://bkt/wild/
  expect 0 "$name: listed" c ls -r s3://bkt/wild/
  check "$name: * does not cross /" [ "$(wc -l <"$T/out")" = 2 ]
  expect 0 "$name: local ** wildcard" c cp "$SRC/a/**.txt" s3://bkt/wild2/
  expect 0 "$name: listed" c ls -r s3://bkt/wild2/
  check "$name: ** crosses /, keys relative to the literal base" bash -c "grep -q ' wild2/b/two.txt\$' '$T/out' && grep -q ' wild2/one.txt\$' '$T/out' && [ \$(wc -l <'$T/out') = 2 ]"
  expect 0 "$name: s3 wildcard download" c cp 's3://bkt/tree/a/b/*' "$T/$name-w/"
  check "$name: s3 * matched one segment" bash -c "[ -f '$T/$name-w/two.txt' ] && [ ! -e '$T/$name-w/c' ] && [ \$(ls -A '$T/$name-w' | wc -l) = 1 ]"
  expect 0 "$name: s3 ** and ? wildcard" c cp 's3://bkt/tree/**/t?r?e.dat' 's3://bkt/tree/ünï/*' "$T/$name-w2/"
  check "$name: matched below the literal base" bash -c "cmp -s '$T/$name-w2/a/b/c/three.dat' '$SRC/a/b/c/three.dat' && cmp -s '$T/$name-w2/ñame ☃.txt' '$SRC/ünï/ñame ☃.txt'"

  echo "== $name: S3 to S3"
  if [ "$name" = s3rver ]; then
    # x-amz-copy-source is URI-encoded as S3 wants; s3rver decodes it with JavaScript's decodeURI,
    # which leaves %24 %26 %3B %3F (and the other reserved characters) encoded.
    skip "$name: S3 to S3 copy of the key with shell metacharacters" "s3rver decodes x-amz-copy-source with decodeURI, which keeps reserved characters such as \$ & ; ? percent-encoded: NoSuchKey (the other keys are checked)"
    EXPECT_WARNINGS=1 expect 1 "$name: cp -r s3 to s3" c cp -r s3://bkt/tree/ s3://other/copy/
    check "$name: only that key failed" bash -c "[ \$(grep -c '^cairn: cp: COPY ' '$T/err') = 1 ] && grep -qF 'cairn: cp: COPY other/copy/a/\$(echo hi);&|*?' '$T/err'"
    mv "$SRC/a/"'$(echo hi);&|*?'"'\"x" "$T/metachar"
  else
    expect 0 "$name: cp -r s3 to s3" c cp -r s3://bkt/tree/ s3://other/copy/
  fi
  expect 0 "$name: copy downloaded" c cp -r s3://other/copy "$T/$name-copy"
  rmdir "$SRC/empty-dir"
  check "$name: server-side copy byte-identical" same_tree "$SRC" "$T/$name-copy"
  mkdir "$SRC/empty-dir"
  [ "$name" = s3rver ] && mv "$T/metachar" "$SRC/a/"'$(echo hi);&|*?'"'\"x"

  echo "== $name: failures and exit codes"
  expect 2 "$name: local to local" c cp "$SRC/zero" "$T/x"
  expect 2 "$name: bad --jobs" c cp --jobs 0 "$SRC/zero" s3://bkt/x
  expect 2 "$name: bad --part-size" c cp --part-size 1MiB "$SRC/zero" s3://bkt/x
  expect 2 "$name: no destination" c cp "$SRC/zero"
  expect 1 "$name: a missing object" c cp s3://bkt/nope "$T/nope"
  check "$name: no file made" [ ! -e "$T/nope" ]
  expect 1 "$name: a directory without -r" c cp "$SRC/a" s3://bkt/x/
  local unr="$T/$name-unr"
  mkdir -p "$unr"
  echo one >"$unr/ok1"; echo two >"$unr/ok2"; echo no >"$unr/locked"; chmod 000 "$unr/locked"
  mkfifo "$unr/fifo"
  ln -s . "$unr/loop"
  local nfail=3
  if [ "$(id -u)" = 0 ]; then rm -f "$unr/locked"; nfail=2; fi  # root reads anything
  EXPECT_WARNINGS=1 expect 1 "$name: per-object failures, the rest copied" c cp -r "$unr" s3://bkt/unr/
  check "$name: the FIFO is refused by name" grep -q "unr/fifo: not a regular file" "$T/err"
  check "$name: the symlink loop is refused" grep -q "unr/loop: a symlink loop" "$T/err"
  [ $nfail = 3 ] && check "$name: the unreadable file is named" grep -q "unr/locked: Permission denied" "$T/err"
  check "$name: each failure listed once, and the summary" [ "$(grep -c '^cairn: cp: ' "$T/err")" = $((nfail + 1)) ]
  check "$name: the summary counts it" grep -q "objects copied.*failed" "$T/err"
  expect 0 "$name: the readable ones arrived" c ls s3://bkt/unr/
  check "$name: ok1 and ok2" bash -c "grep -q ' unr/ok1\$' '$T/out' && grep -q ' unr/ok2\$' '$T/out'"
  chmod 600 "$unr/locked" 2>/dev/null
  # A key that would leave the target directory is refused, the others are written. (A plain
  # directory refuses such keys itself; a volume set stores any key; s3rver makes a key a path
  # with path.join, so "a/../../x" would be stored outside its bucket's directory.)
  if [ "$name" = s3rver ]; then
    skip "$name: keys with .. and //" "s3rver stores a key as a file path (path.join), so such keys are not stored as keys; the set runs these checks"
  elif [ "$name" = set ]; then
    curl -sf -X PUT --data-binary x "$url/bkt/esc/..%2F..%2Fescaped" >/dev/null || bad "$name: PUT ../../escaped"
    curl -sf -X PUT --data-binary x "$url/bkt/esc//abs" >/dev/null || bad "$name: PUT esc//abs"
    curl -sf --path-as-is -X PUT --data-binary x "$url/bkt/esc/./dot" >/dev/null || bad "$name: PUT esc/./dot"
  else
    check "$name: the plain backend refuses a .. key" [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary x "$url/bkt/esc/..%2F..%2Fescaped")" = 400 ]
  fi
  curl -sf -X PUT --data-binary y "$url/bkt/esc/fine" >/dev/null || bad "$name: PUT esc/fine"
  if [ "$name" = set ]; then
    EXPECT_WARNINGS=1 expect 1 "$name: escaping keys" c cp -r s3://bkt/esc/ "$T/$name-esc/inner/"
    check "$name: says why, for each" [ "$(grep -c "refusing to download the key part" "$T/err")" = 3 ]
  else
    expect 0 "$name: no escaping key on a plain directory" c cp -r s3://bkt/esc/ "$T/$name-esc/inner/"
  fi
  check "$name: nothing outside" bash -c "[ ! -e '$T/$name-esc/escaped' ] && [ ! -e '$T/escaped' ] && [ ! -e '$T/$name-esc/abs' ] && [ ! -e /abs ] && [ -f '$T/$name-esc/inner/fine' ]"

  echo "== $name: run"
  printf '%s\n' "# a comment" "" "cp '$SRC/zero' s3://bkt/run/zero" \
    "cp \"$SRC/sp ace/with space.txt\" s3://bkt/run/" "cairn cp s3://bkt/single/small.bin '$T/$name-run0'" \
    >"$T/cmds"
  expect 0 "$name: run ok" c run --jobs 4 "$T/cmds"
  check "$name: run did every line" bash -c "[ -f '$T/$name-run0' ] && grep -q . <(env AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL='$url' '$CAIRN' ls 's3://bkt/run/with space.txt')"
  printf '%s\n' "cp s3://bkt/missing '$T/m'" "ls s3://bkt/run/" "cp 'unterminated" >"$T/cmds2"
  EXPECT_WARNINGS=1 expect 1 "$name: run with failing lines" c run - <"$T/cmds2"
  check "$name: the failing line's number" grep -q "^cairn: run: line 1: cp: GET bkt/missing" "$T/err"
  check "$name: the bad quote's line" grep -q "^cairn: run: line 3: an unterminated ' quote" "$T/err"
  check "$name: the good line's output" grep -q "run/zero" "$T/out"
}

# profile_suite NAME URL ACCESS SECRET: cp and sync with the credentials and the endpoint from a
# profile (AWS_PROFILE) of the files AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE name, and no
# AWS_ACCESS_KEY_ID or AWS_ENDPOINT_URL; the default profile has other keys and no endpoint.
profile_suite() {
  local name=$1 url=$2 d="$T/$1-profile"
  echo "== $name: credentials from a profile file"
  mkdir -p "$d"
  printf '[default]\nregion = eu-west-1\n[profile bulk]\nregion = us-east-1\nendpoint_url = %s\n' "$url" >"$d/config"
  printf '[profile wrongkey]\nendpoint_url = %s\n[profile wrongsecret]\nendpoint_url = %s\n' "$url" "$url" >>"$d/config"
  printf '[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = not-this-one\n' >"$d/credentials"
  printf '[bulk]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$3" "$4" >>"$d/credentials"
  printf '[wrongkey]\naws_access_key_id = AKUNKNOWN\naws_secret_access_key = %s\n' "$4" >>"$d/credentials"
  printf '[wrongsecret]\naws_access_key_id = %s\naws_secret_access_key = wrong-secret\n' "$3" >>"$d/credentials"
  p() { env AWS_PROFILE="$1" AWS_CONFIG_FILE="$d/config" AWS_SHARED_CREDENTIALS_FILE="$d/credentials" "$CAIRN" "${@:2}"; }
  check "$name: no credentials in the environment" bash -c '[ -z "${AWS_ACCESS_KEY_ID:-}${AWS_SECRET_ACCESS_KEY:-}${AWS_ENDPOINT_URL:-}" ] && [ ! -e "$HOME/.aws" ]'
  check "$name: make bucket prof" curl -sf -X PUT --aws-sigv4 aws:amz:us-east-1:s3 --user "$3:$4" -o /dev/null \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "$url/prof"
  expect 0 "$name: cp -r up through the profile" p bulk cp -r "$SRC/a" s3://prof/a
  expect 0 "$name: sync down through the profile" p bulk sync s3://prof/a "$T/$name-prof-down"
  check "$name: byte-identical through the profile" same_tree "$SRC/a" "$T/$name-prof-down"
  expect 0 "$name: sync up again through the profile" p bulk --json sync "$SRC/a" s3://prof/a
  check "$name: nothing to send" [ ! -s "$T/out" ]
  expect 1 "$name: a profile with an unknown access key" p wrongkey cp "$SRC/zero" s3://prof/denied
  check "$name: InvalidAccessKeyId" grep -q 'InvalidAccessKeyId' "$T/err"
  if [ "$name" = s3rver ]; then
    skip "$name: a profile with a wrong secret" "s3rver verifies no SigV4 signature, only that the access key exists"
  else
    expect 1 "$name: a profile with a wrong secret" p wrongsecret cp "$SRC/zero" s3://prof/denied
    check "$name: SignatureDoesNotMatch" grep -q 'SignatureDoesNotMatch' "$T/err"
  fi
  expect 0 "$name: ls through the profile" p bulk ls s3://prof/
  check "$name: the refused uploads made no object" bash -c "! grep -q denied '$T/out'"
}

# faults_suite NAME URL SEED: the tree up and down through tests/fault_proxy.py in front of URL:
# 5% 500/503, 1% SlowDown, 1% resets, one corrupted body (only bodies of 60,000 bytes or more:
# object bodies, not the listing pages, which no checksum covers).
faults_suite() {
  local name=$1
  echo "== $name: faults"
  python3 "$(dirname "$0")/fault_proxy.py" --upstream "$2" --port-file "$T/pport" --seed "$3" \
    --error-rate 0.05 --slowdown-rate 0.01 --reset-rate 0.01 --corrupt-count 1 --corrupt-min 60000 \
    --log "$T/faults" &
  PIDS+=("$!")
  for _ in $(seq 200); do [[ -s "$T/pport" ]] && break; sleep 0.1; done
  check "$name: fault proxy started" [ -s "$T/pport" ]
  fc() { env AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL="http://127.0.0.1:$(cat "$T/pport")" "$CAIRN" --retries 8 "$@"; }
  expect 0 "$name: cp -r up through faults" fc cp -r --part-size 5MiB "$SRC" s3://bkt/faults
  expect 0 "$name: cp -r down through faults" fc cp -r --part-size 5MiB s3://bkt/faults/ "$T/fdown"
  rmdir "$SRC/empty-dir"
  check "$name: through faults byte-identical" same_tree "$SRC" "$T/fdown"
  mkdir "$SRC/empty-dir"
  check "$name: a body was corrupted on the way (and fetched again)" grep -q "FAULT corrupt" "$T/faults"
  check "$name: requests failed on the way" grep -qE "FAULT (error|slowdown|reset)" "$T/faults"
  check "$name: no temp files" no_temps "$T/fdown"
}

# ---- s3rver (a foreign server): the suites, then the profile checks
if [[ $SERVERS == s3rver ]]; then
  s3rver_bg s3rver "$T/s3rver" AK SK
  bulk_suite s3rver "http://127.0.0.1:$PORT"
  profile_suite s3rver "http://127.0.0.1:$PORT" AK SK
  skip "s3rver: SIGINT" "s3rver has no ListMultipartUploads (NotImplemented) and answers AbortMultipartUpload with 405, so nothing can abort or show an open upload; the checks run against cairn serve"
  # The fault proxy with the 100 MiB file: s3rver's answers to repeated requests are not cairn's.
  faults_suite s3rver "http://127.0.0.1:$PORT" 7
  finish
  exit
fi

# ---- plain directory
mkdir -p "$T/plain"
serve_bg plain "$T/plain" --no-fsync
PLAIN_URL="http://127.0.0.1:$PORT"
bulk_suite plain "$PLAIN_URL"

# ---- SIGINT during a big upload and a big download (plain)
echo "== SIGINT"
c() { env AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL="$PLAIN_URL" "$CAIRN" "$@"; }
randfile "$T/huge.bin" 104857600
# (env and the binary, not the function c: kill must reach cairn, not a subshell)
env AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL="$PLAIN_URL" "$CAIRN" \
  cp --jobs 1 --part-size 5MiB "$T/huge.bin" "$SRC/small.bin" s3://bkt/int/ >"$T/int.out" 2>"$T/int.err" &
cpid=$!
PIDS+=("$cpid")
for _ in $(seq 200); do curl -s "$PLAIN_URL/bkt?uploads" | grep -q '<UploadId>' && break; sleep 0.05; done
check "an upload was in progress" bash -c "curl -s '$PLAIN_URL/bkt?uploads' | grep -q '<UploadId>'"
kill -INT "$cpid"
wait "$cpid"
check "interrupted cp exits 1" [ $? = 1 ]
check "the summary says it was interrupted" grep -q "^cairn: cp: interrupted: " "$T/int.err"
check "no multipart upload left open" bash -c "! curl -s '$PLAIN_URL/bkt?uploads' | grep -q '<UploadId>'"
check "no object made" [ ! -e "$T/plain/bkt/int/huge.bin" ]
cp "$T/huge.bin" "$T/plain/bkt/int-huge.bin"
mkdir -p "$T/intdown"
env AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL="$PLAIN_URL" "$CAIRN" \
  cp --jobs 2 --part-size 5MiB s3://bkt/int-huge.bin s3://bkt/tree/zero "$T/intdown/" >"$T/int.out" 2>"$T/int.err" &
cpid=$!
PIDS+=("$cpid")
for _ in $(seq 200); do [ -n "$(find "$T/intdown" -name '.*.cairn-*')" ] && break; sleep 0.02; done
kill -INT "$cpid"
wait "$cpid"
check "interrupted download exits 1" [ $? = 1 ]
check "no partial download left" bash -c "[ ! -e '$T/intdown/int-huge.bin' ] && no_temps() { [ -z \"\$(find \"\$1\" -name '.*.cairn-*')\" ]; } && no_temps '$T/intdown'"
rm -f "$T/huge.bin" "$T/plain/bkt/int-huge.bin"

# ---- 4+2 volume set
"$CAIRN" init --ec 4+2 "$T"/set/m{1..6} >/dev/null || { echo "cairn init failed"; exit 1; }
serve_bg set "$T/set/m1" --no-fsync
bulk_suite set "http://127.0.0.1:$PORT"

# ---- credentials from a profile file (a plain directory served with a key pair)
mkdir -p "$T/prof"
serve_auth_bg prof "$T/prof" --no-fsync --access-key AKPROFILE --secret-key profile-secret-0123
profile_suite prof "http://127.0.0.1:$PORT" AKPROFILE profile-secret-0123

# ---- a kept-alive connection reset under a PUT whose body curl cannot rewind (a file above
# 1 MiB, read with pread): a server that answers the first PUT and resets the connection on the
# second once it has read it; the PUT is sent again on a new connection.
echo "== connection reset under a PUT"
cat >"$T/reset_server.py" <<'PY'
import hashlib, os, socket, struct, sys
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(8)
log = open(sys.argv[2], "a", buffering=1)
def request(c, buf):  # (head, body, rest) of the next request, or Nones at the end
    while b"\r\n\r\n" not in buf:
        d = c.recv(1 << 16)
        if not d:
            return None, None, b""
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(rest) < n:
        d = c.recv(1 << 16)
        if not d:
            return None, None, b""
        rest += d
    return head, rest[:n], rest[n:]
open(sys.argv[1] + ".tmp", "w").write(str(srv.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
puts = 0
while True:
    c, _ = srv.accept()
    buf = b""
    while True:
        head, body, buf = request(c, buf)
        if head is None:
            c.close()
            break
        line = head.split(b"\r\n")[0].decode()
        log.write(line + "\n")
        puts += line.startswith("PUT ")
        if puts == 2 and line.startswith("PUT "):
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
            break
        c.sendall(b'HTTP/1.1 200 OK\r\nETag: "%s"\r\nContent-Length: 0\r\n\r\n' % hashlib.md5(body).hexdigest().encode())
PY
python3 "$T/reset_server.py" "$T/rport" "$T/rlog" &
PIDS+=("$!")
for _ in $(seq 100); do [[ -s "$T/rport" ]] && break; sleep 0.1; done
randfile "$T/r1" 2097152
randfile "$T/r2" 2097152
expect 0 "a PUT on a kept-alive connection that is reset is sent again" env AWS_ACCESS_KEY_ID=AK \
  AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL="http://127.0.0.1:$(cat "$T/rport")" "$CAIRN" cp --jobs 1 \
  "$T/r1" "$T/r2" s3://bkt/r/
check "the reset PUT was sent twice, the other once" bash -c "[ \"\$(cat '$T/rlog')\" = \"\$(printf 'PUT /bkt/r/r1 HTTP/1.1\nPUT /bkt/r/r2 HTTP/1.1\nPUT /bkt/r/r2 HTTP/1.1')\" ]"

# ---- through the fault proxy (plain)
faults_suite plain "$PLAIN_URL" 5

# ---- downloads are durable (temp file fsynced before its rename, the directories synced after;
# --no-fsync skips both), cp --exclude/--include, and run's stdout in whole lines (plain)
echo "== durable downloads, cp filters, run output"
c() { env AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL="$PLAIN_URL" "$CAIRN" "$@"; }
# dl_traced WHAT ARGS...: `cairn ARGS` (plain) under strace; its flushes and renames checked by tests/strace_syncs.awk
# ($T/order: the violations); $T/renames: how many temp files it renamed into place.
# LeakSanitizer cannot run under ptrace (the sanitizer build): leaks are checked in every other run.
dl_traced() {
  local what=$1; shift
  strace -f -y -e trace=fsync,fdatasync,rename,renameat,renameat2,mkdir,mkdirat,unlink,unlinkat,rmdir \
    -o "$T/dl.strace" env AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL="$PLAIN_URL" \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$CAIRN" "$@" >"$T/out" 2>"$T/err" || bad "$what: exit $? ($(head -c 300 "$T/err"))"
  awk -v cwd="$PWD" -f "$(dirname "$0")/strace_syncs.awk" "$T/dl.strace" >"$T/order"
  grep -c 'rename[a-z0-9]*(.*\.cairn-[0-9a-f]*".* = 0$' "$T/dl.strace" >"$T/renames"
}
if strace -f -o /dev/null true 2>/dev/null; then
  R=$(readlink -f "$T")
  # The tree without the file whose name has a '"' (strace escapes it; strace_syncs.awk does not
  # parse that): what the traced downloads take (--exclude).
  cp -a "$SRC" "$R/expect"
  rm -rf "$R/expect/empty-dir" "$R/expect/a/"*'"'*
  for run in new over; do
    dl_traced "cp -r download ($run)" cp -r --exclude '*"*' --jobs 2 --part-size 5MiB s3://bkt/tree/ "$R/dur/x/"
    check "cp -r download ($run): each temp file flushed before its rename, every directory synced after ($(head -3 "$T/order" | tr '\n' ';'))" test ! -s "$T/order"
    check "cp -r download ($run): the trace saw the renames ($(cat "$T/renames"))" [ "$(cat "$T/renames")" -ge $((NFILES / 2)) ]
    check "cp -r download ($run): byte-identical" same_tree "$R/expect" "$R/dur/x"
  done
  dl_traced "cp -r --no-fsync" cp -r --exclude '*"*' --no-fsync --jobs 2 s3://bkt/tree/a/ "$R/nofsync/"
  check "cp -r --no-fsync: no fsync at all" bash -c "! grep -q 'fsync(' '$T/dl.strace'"
  check "cp -r --no-fsync: the checker sees what is not durable" grep -q "renamed before its data was flushed" "$T/order"
  check "cp -r --no-fsync: the files arrived" same_tree "$R/expect/a" "$R/nofsync"
  dl_traced "sync download" sync --exclude '*"*' --jobs 2 s3://bkt/tree "$R/sdur"
  check "sync download: flushes in order ($(head -3 "$T/order" | tr '\n' ';'))" test ! -s "$T/order"
  check "sync download: the trace saw the renames" [ "$(cat "$T/renames")" -ge $((NFILES / 2)) ]
  check "sync download: byte-identical" same_tree "$R/expect" "$R/sdur"
  dl_traced "sync --no-fsync" sync --no-fsync s3://bkt/tree/a "$R/snofsync"
  check "sync --no-fsync: no fsync at all" bash -c "! grep -q 'fsync(' '$T/dl.strace'"
  # sync --delete: each directory a file was removed from is fsynced after the removal. (strace -f
  # prints a call another thread's call interrupts as "fsync(5</dir> <unfinished ...>" and its
  # result on a later line: both forms count.)
  mkdir -p "$R/sdur/a/b/extra-dir"
  printf x >"$R/sdur/a/b/extra-dir/gone" && printf y >"$R/sdur/a/gone"
  dl_traced "sync --delete" sync --delete --exclude '*"*' s3://bkt/tree "$R/sdur"
  check "sync --delete: the extra files removed" test ! -e "$R/sdur/a/gone" -a ! -e "$R/sdur/a/b/extra-dir/gone"
  for d in a a/b/extra-dir; do
    check "sync --delete: $d fsynced after its file was removed" awk -v f="$R/sdur/$d/gone" -v d="<$R/sdur/$d>" '
      index($0, "unlink") && index($0, f "\"") && (/ = 0$/ || /<unfinished/) { u = NR }
      u && NR > u && index($0, "fsync(") && (index($0, d ") = 0") || index($0, d " <unfinished")) { ok = 1 }
      END { exit !ok }' "$T/dl.strace"
  done
  # One object to a named file (OutputFile): flushed, renamed, its directory synced; not with
  # --no-fsync.
  dl_traced "cp to a named file" cp s3://bkt/tree/small.bin "$R/named.bin"
  check "cp to a named file: flushes in order ($(head -3 "$T/order" | tr '\n' ';'))" test ! -s "$T/order"
  check "cp to a named file: renamed into place" [ "$(cat "$T/renames")" = 1 ]
  check "cp to a named file: its directory synced" grep -qE "fsync\([0-9]*<$R>(\) = 0| <unfinished)" "$T/dl.strace"
  check "cp to a named file: byte-identical" cmp -s "$SRC/small.bin" "$R/named.bin"
  dl_traced "cp --no-fsync to a named file" cp --no-fsync s3://bkt/tree/small.bin "$R/named2.bin"
  check "cp --no-fsync to a named file: no fsync at all" bash -c "! grep -q 'fsync(' '$T/dl.strace'"
  check "cp --no-fsync to a named file: byte-identical" cmp -s "$SRC/small.bin" "$R/named2.bin"
else
  echo "strace cannot trace here: durability checks skipped"
fi

expect 0 "cp -r --exclude --include download" c cp -r --exclude '*.txt' --include 'a/b/*' --exclude 'big.bin' s3://bkt/tree/ "$T/filt"
check "download filtered: the last matching flag decides, keys relative to the prefix" bash -c "
  cd '$T/filt' && [ -f a/b/two.txt ] && [ -f a/b/c/three.dat ] && [ ! -e a/one.txt ] && [ ! -e big.bin ] &&
  [ ! -e 'sp ace/with space.txt' ] && [ -f small.bin ] && [ -f zero ] && [ \$(find . -type f | wc -l) = $((NFILES - 4)) ]"
check "the summary counts only what was copied" grep -q "^$((NFILES - 4)) of $((NFILES - 4)) objects copied" "$T/err"
expect 0 "cp -r --exclude upload" c cp -r --exclude '*' --include '*.dat' --include 'zero' "$SRC" s3://bkt/filt/
expect 0 "listed" c ls -r s3://bkt/filt/
check "upload filtered, paths relative to the directory" bash -c "[ \$(wc -l <'$T/out') = 2 ] && grep -q ' filt/a/b/c/three.dat\$' '$T/out' && grep -q ' filt/zero\$' '$T/out'"
expect 0 "cp wildcard --exclude" c cp --exclude 'b/*' 's3://bkt/tree/a/**' "$T/filtw/"
check "wildcard matches filtered below the literal base" bash -c "[ -f '$T/filtw/one.txt' ] && [ ! -e '$T/filtw/b' ]"
expect 2 "--exclude without a pattern" c cp -r s3://bkt/tree/ "$T/x" --exclude

# run: children that print many long lines at once (cat of objects of lines up to 150,000 bytes,
# past run's 64 KiB line buffer; the last object without a final newline): every line intact.
python3 - "$T/lines" <<'PY'
import os, sys
root = sys.argv[1]
os.makedirs(root)
for k in range(6):
    with open(os.path.join(root, "k%d" % k), "w") as f:
        for j in range(150):
            n = 150000 if j % 40 == 7 else (80, 3000, 20000)[j % 3]
            f.write("%d:%d:%s" % (k, j, chr(97 + (k * 7 + j) % 26) * n))
            if not (k == 5 and j == 149):
                f.write("\n")
PY
expect 0 "upload the line objects" c cp -r "$T/lines" s3://bkt/lines/
for k in 0 1 2 3 4 5; do echo "cat s3://bkt/lines/k$k"; done >"$T/catcmds"
expect 0 "run of six cats at once" c run --jobs 6 "$T/catcmds"
check "run: every line of every child whole, none lost or cut" python3 -c "
import sys
seen = set()
for line in open('$T/out'):
    assert line.endswith('\n'), 'an unterminated line'
    k, j, body = line[:-1].split(':')
    k, j = int(k), int(j)
    n = 150000 if j % 40 == 7 else (80, 3000, 20000)[j % 3]
    assert body == chr(97 + (k * 7 + j) % 26) * n, 'line %d:%d cut or mixed (%d bytes)' % (k, j, len(body))
    assert (k, j) not in seen
    seen.add((k, j))
assert len(seen) == 6 * 150, len(seen)
"

finish
