#!/usr/bin/env bash
# End-to-end tests of `cairn sync` (local -> s3, s3 -> local, s3 -> s3; --delete, --dry-run,
# --checksum, --exclude/--include, --json).
# Usage: tests/e2e_sync.sh path/to/cairn [SERVERS]
#   SERVERS  cairn (default)  `cairn serve` on a plain directory and on a member of a 4+2 volume set
#            s3rver           s3rver (npm, a foreign server; scripts/bootstrap --client-deps); what
#                             s3rver cannot do is a printed SKIP line
# Scratch space on /dev/shm unless TMPDIR says otherwise.
if [[ -z ${TMPDIR:-} && -d /dev/shm && -w /dev/shm ]]; then export TMPDIR=/dev/shm; fi
source "$(dirname "$0")/e2e_lib.sh"
client_env
SERVERS=${2:-cairn}
[[ $SERVERS == cairn || $SERVERS == s3rver ]] || { echo "usage: $0 path/to/cairn [cairn|s3rver]" >&2; exit 2; }

# The tree (transfer_tree, a 12 MiB file for multipart), and names whose order differs from their
# directories' ("a-b" sorts between "a" and "a/..." as a key).
SRC="$T/src"
transfer_tree "$SRC" 12582912
if [[ $SERVERS == s3rver ]]; then
  skip "s3rver: the key a-b beside the directory a/" "s3rver lists keys in the order it walks its directories, 'a/one.txt' before 'a-b', not in key order; the sync of a tree with such a name must stop (checked below)"
else
  randfile "$SRC/a-b" 12
fi
randfile "$SRC/ab" 13
NFILES=$(find "$SRC" -type f | wc -l)
# jcount ACTION: the number of --json lines of that action in $T/out.
jcount() { python3 -c "
import json,sys
print(sum(1 for l in open('$T/out') if json.loads(l)['action']=='$1'))"; }
export -f jcount
export T
nlines() { [ "$(wc -l <"$T/out")" = "$1" ]; }
keys() { c ls -r "$1" | awk '{ $1=""; $2=""; sub(/^  /, ""); print }'; }

# sync_suite NAME URL: the sync tests against one server.
sync_suite() {
  local name=$1 url=$2
  c() { env AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL="$url" "$CAIRN" "$@"; }
  curl -sf -X PUT "$url/bkt" >/dev/null || bad "$name: make bucket"
  curl -sf -X PUT "$url/other" >/dev/null || bad "$name: make bucket other"
  # A key beside the prefix that --delete must never touch ("tree2/" is not below "tree/").
  c cp "$SRC/ab" s3://bkt/tree2/keep >/dev/null 2>&1 || bad "$name: cp keep"

  echo "== $name: sync up, twice"
  expect 0 "$name: sync up" c --json sync --part-size 5MiB "$SRC" s3://bkt/tree
  check "$name: one upload line per file" [ "$(jcount upload)" = "$NFILES" ]
  check "$name: every line ok, reason missing" python3 -c "
import json
rows=[json.loads(l) for l in open('$T/out')]
assert all(r['status']=='ok' and r['reason']=='missing' for r in rows), rows
assert {r['size'] for r in rows if r['target']=='s3://bkt/tree/big.bin'}=={12582912}, rows"
  check "$name: summary on stderr" grep -q "^cairn: sync: $NFILES copied" "$T/err"
  expect 0 "$name: ls -r" c ls -r s3://bkt/tree/
  check "$name: every file became a key" [ "$(wc -l <"$T/out")" = "$NFILES" ]
  expect 0 "$name: second sync up" c --json sync "$SRC" s3://bkt/tree/
  check "$name: the second run transfers nothing" nlines 0
  check "$name: ... and says all are unchanged" grep -q "^cairn: sync: 0 copied (0 B), 0 deleted, $NFILES unchanged, 0 failed" "$T/err"

  echo "== $name: changes are sent again"
  # Sizes that differ from the last upload's: a rewrite within the second of the upload is only
  # seen by its size (LastModified has whole seconds).
  randfile "$SRC/a/one.txt" $(($(stat -c %s "$SRC/a/one.txt") + 1))
  cp "$SRC/ab" "$T/ab.keep"
  randfile "$SRC/ab" 13
  touch -d "@$(($(date +%s) + 3600))" "$SRC/ab"  # same size, newer than the object
  expect 0 "$name: sync after changes" c --json sync "$SRC" s3://bkt/tree
  check "$name: two uploads, by size and by time" python3 -c "
import json
rows=sorted((r['target'],r['reason']) for r in map(json.loads, open('$T/out')))
assert rows==[('s3://bkt/tree/a/one.txt','size'),('s3://bkt/tree/ab','newer')], rows"
  expect 0 "$name: cat the changed object" c cat s3://bkt/tree/ab
  check "$name: the new bytes" cmp -s "$T/out" "$SRC/ab"
  touch -d "@$(($(date +%s) - 3600))" "$SRC/ab"  # older than the object again

  echo "== $name: --dry-run and --delete"
  c cp "$SRC/zero" s3://bkt/tree/extra/one >/dev/null 2>&1 || bad "$name: cp extra"
  c cp "$SRC/zero" s3://bkt/tree/extra2 >/dev/null 2>&1 || bad "$name: cp extra2"
  local two_size
  two_size=$(stat -c %s "$SRC/a/b/two.txt")
  randfile "$SRC/a/b/two.txt" $((two_size + 1))
  keys s3://bkt >"$T/before"
  expect 0 "$name: --dry-run --delete" c sync --dry-run --delete "$SRC" s3://bkt/tree
  check "$name: dry run lists the upload" grep -qF "(dry run) upload: $SRC/a/b/two.txt -> s3://bkt/tree/a/b/two.txt" "$T/out"
  check "$name: dry run lists the deletions" bash -c "grep -qF '(dry run) delete: s3://bkt/tree/extra/one' '$T/out' && grep -qF '(dry run) delete: s3://bkt/tree/extra2' '$T/out'"
  check "$name: dry run: three lines" nlines 3
  keys s3://bkt >"$T/after"
  check "$name: dry run changed no key" cmp -s "$T/before" "$T/after"
  expect 0 "$name: cat after dry run" c cat s3://bkt/tree/a/b/two.txt
  check "$name: dry run uploaded nothing" [ "$(wc -c <"$T/out")" = "$two_size" ]
  expect 0 "$name: --delete" c --json sync --delete "$SRC" s3://bkt/tree
  check "$name: two deletions, one upload" bash -c "[ \"\$(jcount delete)\" = 2 ] && [ \"\$(jcount upload)\" = 1 ]"
  keys s3://bkt >"$T/after"
  check "$name: exactly the extra keys are gone" bash -c "diff <(grep -v '^tree/extra' '$T/before') '$T/after' >/dev/null"
  check "$name: the key beside the prefix stays" grep -qx "tree2/keep" "$T/after"

  echo "== $name: --exclude / --include"
  expect 0 "$name: filtered sync" c --json sync --exclude '*' --include '*.txt' --exclude 'sp ace/*' "$SRC" s3://bkt/txt
  check "$name: only the .txt files outside 'sp ace'" python3 -c "
import json
got=sorted(r['target'] for r in map(json.loads, open('$T/out')))
want=sorted('s3://bkt/txt/'+k for k in ['a/one.txt','a/b/two.txt','ünï/ñame ☃.txt'])
assert got==want, got"
  expect 0 "$name: --delete with a filter keeps what the filter hides" c --json sync --delete --exclude '*.txt' "$SRC/a" s3://bkt/txt/a
  check "$name: the .txt keys stay, the rest came" python3 -c "
import json
rows=[json.loads(l) for l in open('$T/out')]
assert all(r['action']=='upload' for r in rows), rows
assert len(rows)==2, rows"

  echo "== $name: sync down, twice"
  expect 0 "$name: sync down" c --json sync s3://bkt/tree "$T/$name-down"
  check "$name: one download line per object" [ "$(jcount download)" = "$NFILES" ]
  rmdir "$SRC/empty-dir"
  check "$name: the tree came down byte-identical" same_tree "$SRC" "$T/$name-down"
  mkdir "$SRC/empty-dir"
  check "$name: no temp files" no_temps "$T/$name-down"
  expect 0 "$name: second sync down" c --json sync s3://bkt/tree "$T/$name-down"
  check "$name: the second download run transfers nothing" nlines 0
  : >"$T/$name-down/local-only"
  expect 0 "$name: sync down --delete" c --json sync --delete s3://bkt/tree/ "$T/$name-down"
  check "$name: the local-only file is deleted, nothing else" bash -c "[ \"\$(jcount delete)\" = 1 ] && [ \"\$(wc -l <'$T/out')\" = 1 ] && [ ! -e '$T/$name-down/local-only' ]"

  echo "== $name: --checksum"
  # The same size and the same mtime, other bytes: only the MD5 tells.
  for f in small.bin big.bin; do
    cp -p "$T/$name-down/$f" "$T/ref"
    python3 -c "
f=open('$T/$name-down/$f','r+b'); f.seek(100); b=f.read(1); f.seek(100); f.write(bytes([b[0]^1]))"
    touch -r "$T/ref" "$T/$name-down/$f"
  done
  expect 0 "$name: without --checksum" c --json sync s3://bkt/tree "$T/$name-down"
  check "$name: size and time see no change" nlines 0
  expect 0 "$name: --checksum" c --json sync --checksum --part-size 5MiB s3://bkt/tree "$T/$name-down"
  check "$name: --checksum finds both (MD5 and multipart ETags)" python3 -c "
import json
rows=sorted((r['target'].rsplit('/',1)[1],r['reason']) for r in map(json.loads, open('$T/out')))
assert rows==[('big.bin','checksum'),('small.bin','checksum')], rows"
  rmdir "$SRC/empty-dir"
  check "$name: repaired" same_tree "$SRC" "$T/$name-down"
  mkdir "$SRC/empty-dir"
  expect 0 "$name: --checksum again" c --json sync --checksum s3://bkt/tree "$T/$name-down"
  check "$name: --checksum run on equal trees transfers nothing" nlines 0

  # Upwards too: a local file changed in place with its size and mtime kept.
  cp -p "$SRC/small.bin" "$T/ref"
  python3 -c "
f=open('$SRC/small.bin','r+b'); f.seek(7); b=f.read(1); f.seek(7); f.write(bytes([b[0]^1]))"
  touch -r "$T/ref" "$SRC/small.bin"
  expect 0 "$name: up without --checksum" c --json sync "$SRC" s3://bkt/tree
  check "$name: up: size and time see no change" nlines 0
  expect 0 "$name: up with --checksum" c --json sync --checksum "$SRC" s3://bkt/tree
  check "$name: up: --checksum sends it" python3 -c "
import json
rows=[(r['action'],r['target'],r['reason']) for r in map(json.loads, open('$T/out'))]
assert rows==[('upload','s3://bkt/tree/small.bin','checksum')], rows"

  echo "== $name: s3 to s3"
  if [ "$name" = s3rver ]; then
    skip "$name: s3 -> s3 copy of the key with shell metacharacters" "s3rver decodes x-amz-copy-source with decodeURI, which keeps reserved characters such as \$ & ; ? percent-encoded: NoSuchKey (the other keys are checked)"
    EXPECT_WARNINGS=1 expect 1 "$name: s3 -> s3" c --json sync s3://bkt/tree s3://other/copy
    check "$name: one copy per object, all but that one ok" python3 -c "
import json
rows=[json.loads(l) for l in open('$T/out')]
assert len(rows)==$NFILES and all(r['action']=='copy' for r in rows), rows
bad=[r['source'] for r in rows if r['status']!='ok']
assert bad==['s3://bkt/tree/a/\$(echo hi);&|*?\'\"x'], bad"
  else
    expect 0 "$name: s3 -> s3" c --json sync s3://bkt/tree s3://other/copy
    check "$name: one copy per object" [ "$(jcount copy)" = "$NFILES" ]
  fi
  if [ "$name" = s3rver ]; then
    EXPECT_WARNINGS=1 expect 1 "$name: s3 -> s3 again" c --json sync s3://bkt/tree s3://other/copy
    check "$name: the second s3 run tries only the key s3rver cannot copy" python3 -c "
import json
rows=[(r['action'],r['status']) for r in map(json.loads, open('$T/out'))]
assert rows==[('copy','failed')], rows"
  else
    expect 0 "$name: s3 -> s3 again" c --json sync s3://bkt/tree s3://other/copy
    check "$name: the second s3 run transfers nothing" nlines 0
  fi
  expect 0 "$name: cat a copied object" c cat s3://other/copy/big.bin
  check "$name: server-side copy byte-identical" cmp -s "$T/out" "$SRC/big.bin"
  expect 2 "$name: a prefix inside the other" c sync s3://bkt/tree s3://bkt/tree/sub
  expect 2 "$name: two local paths" c sync "$SRC" "$T/x"
  expect 1 "$name: a missing bucket" c sync "$SRC" s3://nope/x
  check "$name: names the bucket" grep -q "NoSuchBucket" "$T/err"
  rm -rf "$T/$name-down"
}

# ---- s3rver (a foreign server)
if [[ $SERVERS == s3rver ]]; then
  s3rver_bg s3rver "$T/s3rver" AK SK
  sync_suite s3rver "http://127.0.0.1:$PORT"
  # A listing out of key order: sync merges two sorted listings, so it must stop (exit 1, saying
  # why), never take a key it has not reached yet for one the other side lacks and delete it.
  echo "== s3rver: a listing out of key order"
  c() { env AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" "$CAIRN" "$@"; }
  mkdir -p "$T/order/a"
  randfile "$T/order/a-b" 5
  randfile "$T/order/a/x" 6
  expect 0 "s3rver: sync up (nothing listed yet)" c sync "$T/order" s3://bkt/order
  EXPECT_WARNINGS=1 expect 1 "s3rver: sync --delete over the listing out of order" c sync --delete "$T/order" s3://bkt/order
  check "s3rver: says the listing is out of key order" grep -q "^cairn: sync: the destination listing is out of key order: 'a-b' after 'a/x'" "$T/err"
  check "s3rver: deleted nothing" bash -c "[ \"\$(env AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL='http://127.0.0.1:$PORT' '$CAIRN' ls -r s3://bkt/order/ | wc -l)\" = 2 ]"
  skip "s3rver: unsafe keys" "s3rver stores a key as a file path (path.join), so it cannot hold keys with .. or //; the checks run against a cairn volume set"
  skip "s3rver: FIFO source, symlinked destination" "local-side checks, run against cairn serve"
  skip "s3rver: SIGINT" "s3rver has no ListMultipartUploads (NotImplemented) and answers AbortMultipartUpload with 405, so nothing can abort or show an open upload; the checks run against cairn serve"
  finish
  exit
fi

# ---- plain directory
mkdir -p "$T/plain"
serve_bg plain "$T/plain" --no-fsync
sync_suite plain "http://127.0.0.1:$PORT"
kill "$SRV"
wait "$SRV" 2>/dev/null

# ---- 4+2 volume set
"$CAIRN" init --ec 4+2 "$T"/set/m{1..6} >/dev/null || { echo "cairn init failed"; exit 1; }
serve_bg set "$T/set/m1" --no-fsync
SET_URL="http://127.0.0.1:$PORT"
sync_suite set "$SET_URL"

# ---- keys that are no safe local paths (a volume set stores them; a plain directory refuses
# them, so this runs against the set)
echo "== unsafe keys"
c() { env AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL="$SET_URL" "$CAIRN" "$@"; }
for k in 'evil/../../escape' 'evil/a//b' 'evil/./dot' 'evil/ok'; do
  c cp "$SRC/small.bin" "s3://bkt/$k" >/dev/null 2>&1 || bad "cp to $k"
done
mkdir -p "$T/jail"
EXPECT_WARNINGS=1 expect 1 "a sync down with unsafe keys fails" c --json sync s3://bkt/evil "$T/jail/in"
check "the safe key came" cmp -s "$T/jail/in/ok" "$SRC/small.bin"
check "nothing was written outside" bash -c "[ -z \"\$(find '$T/jail' -mindepth 1 -not -path '$T/jail/in*')\" ] && [ ! -e '$T/escape' ] && [ ! -e '$T/jail/escape' ]"
check "only the safe key in the target" [ "$(find "$T/jail/in" -type f | wc -l)" = 1 ]
check "each unsafe key refused" python3 -c "
import json
rows=[json.loads(l) for l in open('$T/out')]
bad=sorted(r['source'] for r in rows if r['action']=='refuse' and r['status']=='failed')
assert bad==['s3://bkt/evil/../../escape','s3://bkt/evil/./dot','s3://bkt/evil/a//b'], rows"
check "the error names the refusal" grep -q "^cairn: sync: 3 of 4 entries failed" "$T/err"

# ---- a source with a FIFO: reported, counted as failed, the rest is sent
mkdir -p "$T/fifosrc/d"
mkfifo "$T/fifosrc/d/pipe"
randfile "$T/fifosrc/d/file" 10
EXPECT_WARNINGS=1 expect 1 "a FIFO in the source" c sync "$T/fifosrc" s3://bkt/fifo
check "says it skipped the FIFO" grep -q "pipe: skipped: a FIFO, not a regular file" "$T/err"
check "the rest was sent" grep -qF "upload: $T/fifosrc/d/file -> s3://bkt/fifo/d/file" "$T/out"
check "the FIFO counts as failed" grep -q "^cairn: sync: 1 copied .* 1 failed" "$T/err"

# ---- a destination that is a symlink to elsewhere is never written through
mkdir -p "$T/outside" "$T/link-down"
ln -s "$T/outside" "$T/link-down/a"
EXPECT_WARNINGS=1 expect 1 "a symlinked directory in the destination" c sync s3://bkt/tree "$T/link-down"
check "nothing written through the symlink" [ -z "$(ls -A "$T/outside")" ]
check "says what is in the way" grep -q "a file or a symlink is in the way" "$T/err"

# ---- SIGINT while a multipart upload runs: aborted, nothing left open, the summary says so
echo "== SIGINT"
mkdir -p "$T/intsrc"
randfile "$T/intsrc/huge.bin" 62914560
# Started directly (not through the function c, whose subshell would take the signal).
env AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL="$SET_URL" "$CAIRN" sync --jobs 1 \
  --part-size 5MiB "$T/intsrc" s3://bkt/int >"$T/int.out" 2>"$T/int.err" &
spid=$!
PIDS+=("$spid")
for _ in $(seq 200); do curl -s "$SET_URL/bkt?uploads" | grep -q '<UploadId>' && break; sleep 0.05; done
check "an upload was in progress" bash -c "curl -s '$SET_URL/bkt?uploads' | grep -q '<UploadId>'"
kill -INT "$spid"
wait "$spid"
rc=$?
check "interrupted sync exits 1 (got $rc: $(tail -2 "$T/int.err"))" [ $rc = 1 ]
check "the summary says it was interrupted" grep -q "^cairn: sync: 0 copied .* 1 failed; interrupted" "$T/int.err"
check "the upload says it was aborted" grep -q "^cairn: sync: upload .*huge.bin: interrupted: the multipart upload of s3://bkt/int/huge.bin was aborted" "$T/int.err"
check "no multipart upload left open" bash -c "! curl -s '$SET_URL/bkt?uploads' | grep -q '<UploadId>'"
expect 0 "nothing was made" c ls -r s3://bkt/int/
check "no object" [ ! -s "$T/out" ]

finish
