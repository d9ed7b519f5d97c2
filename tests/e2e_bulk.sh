#!/usr/bin/env bash
# End-to-end tests of bulk transfers: `cairn cp` (-r, wildcards, many sources, S3 to S3, --json,
# exit codes, per-object failures, SIGINT) and `cairn run`, against `cairn serve` on a plain
# directory and on a member of a 4+2 volume set, then through tests/fault_proxy.py.
# Usage: tests/e2e_bulk.sh path/to/cairn
source "$(dirname "$0")/e2e_lib.sh"
client_env

# The tree (transfer_tree), with a 20 MiB file for multipart.
SRC="$T/src"
transfer_tree "$SRC" 20971520
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
  expect 0 "$name: cp -r s3 to s3" c cp -r s3://bkt/tree/ s3://other/copy/
  expect 0 "$name: copy downloaded" c cp -r s3://other/copy "$T/$name-copy"
  rmdir "$SRC/empty-dir"
  check "$name: server-side copy byte-identical" same_tree "$SRC" "$T/$name-copy"
  mkdir "$SRC/empty-dir"

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
  # directory refuses such keys itself; a volume set stores any key.)
  if [ "$name" = set ]; then
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

# ---- through the fault proxy (plain): 5% 500/503, 1% SlowDown, 1% resets, one corrupted body
# (only bodies of 60,000 bytes or more: object bodies, not the listing pages, which no checksum
# covers)
echo "== faults"
python3 "$(dirname "$0")/fault_proxy.py" --upstream "$PLAIN_URL" --port-file "$T/pport" --seed 5 \
  --error-rate 0.05 --slowdown-rate 0.01 --reset-rate 0.01 --corrupt-count 1 --corrupt-min 60000 \
  --log "$T/faults" &
PIDS+=("$!")
for _ in $(seq 200); do [[ -s "$T/pport" ]] && break; sleep 0.1; done
check "fault proxy started" [ -s "$T/pport" ]
fc() { env AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL="http://127.0.0.1:$(cat "$T/pport")" "$CAIRN" --retries 8 "$@"; }
expect 0 "cp -r up through faults" fc cp -r --part-size 5MiB "$SRC" s3://bkt/faults
expect 0 "cp -r down through faults" fc cp -r --part-size 5MiB s3://bkt/faults/ "$T/fdown"
rmdir "$SRC/empty-dir"
check "through faults byte-identical" same_tree "$SRC" "$T/fdown"
check "a body was corrupted on the way (and fetched again)" grep -q "FAULT corrupt" "$T/faults"
check "requests failed on the way" grep -qE "FAULT (error|slowdown|reset)" "$T/faults"
check "no temp files" no_temps "$T/fdown"

# ---- downloads are durable (temp file fsynced before its rename, the directories synced after;
# --no-fsync skips both), cp --exclude/--include, and run's stdout in whole lines (plain)
echo "== durable downloads, cp filters, run output"
c() { env AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL="$PLAIN_URL" "$CAIRN" "$@"; }
# dl_traced WHAT ARGS...: `cairn ARGS` (plain) under strace; its flushes and renames checked by tests/strace_syncs.awk
# ($T/order: the violations); $T/renames: how many temp files it renamed into place.
dl_traced() {
  local what=$1; shift
  strace -f -y -e trace=fsync,fdatasync,rename,renameat,renameat2,mkdir,mkdirat,unlink,unlinkat,rmdir \
    -o "$T/dl.strace" env AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_ENDPOINT_URL="$PLAIN_URL" \
    "$CAIRN" "$@" >"$T/out" 2>"$T/err" || bad "$what: exit $? ($(head -c 300 "$T/err"))"
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
