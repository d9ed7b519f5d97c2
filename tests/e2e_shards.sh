#!/usr/bin/env bash
# End-to-end tests of the shard-file commands (encode, decode, verify, repair) and of the output
# files of get and decode, with hostile input: crafted headers, devices and FIFOs as outputs,
# several encodes in one directory, duplicates and conflicts, symlinks, killed encodes.
# Usage: tests/e2e_shards.sh path/to/cairn
source "$(dirname "$0")/e2e_lib.sh"
unset CAIRN_SET

# craft FILE FIELD=VALUE...: rewrites fields of a shard header (offsets from docs/format.md) and
# reseals its checksum with XXH3-64 from libxxhash, the library cairn itself links against.
# Fields: version flags index k m block size (numbers, 0x... accepted), name (text), namehex.
craft() {
  python3 - "$@" <<'EOF'
import ctypes, struct, sys
xx = ctypes.CDLL('libxxhash.so.0')
xx.XXH3_64bits.restype = ctypes.c_uint64
xx.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
fields = {'version': (8, '<I'), 'flags': (12, '<I'), 'index': (32, '<I'), 'k': (36, '<I'),
          'm': (40, '<I'), 'block': (44, '<I'), 'size': (48, '<Q')}
with open(sys.argv[1], 'r+b') as f:
    h = bytearray(f.read(512))
    for kv in sys.argv[2:]:
        k, v = kv.split('=', 1)
        if k in ('name', 'namehex'):
            b = v.encode() if k == 'name' else bytes.fromhex(v)
            h[72:74] = struct.pack('<H', len(b))
            h[74:504] = (b + bytes(430))[:430]
        else:
            off, fmt = fields[k]
            h[off:off + struct.calcsize(fmt)] = struct.pack(fmt, int(v, 0))
    h[504:512] = struct.pack('<Q', xx.XXH3_64bits(bytes(h[:504]), 504))
    f.seek(0)
    f.write(h)
EOF
}
# fresh DIR FILE K M: a clean directory DIR holding the K+M shards of FILE.
fresh() {
  rm -rf "$1" && mkdir -p "$1"
  "$CAIRN" encode -k "$3" -m "$4" --block-size 4KiB -o "$1" "$2" >/dev/null || bad "encode into $1"
}
# same A B: true when directories A and B hold byte-identical files of the same names.
same() { diff -r "$1" "$2" >/dev/null; }
# "${WITH_SIGINT[@]}" CMD... &: runs CMD in the background with SIGINT at its default, as a
# foreground command has it (a background command of a script starts with SIGINT ignored); $! is
# CMD's own pid.
WITH_SIGINT=(python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])')
# in_dir DIR CMD...: runs CMD (often `expect`) in DIR without a subshell, so the tally counts.
in_dir() {
  local d=$1
  shift
  pushd "$d" >/dev/null || return
  "$@"
  popd >/dev/null || return
}
# no_temps DIR: no hidden temp file of cairn's was left in DIR.
no_temps() { [[ -z $(ls -A "$1" | grep -E '^\.(.*\.cairn-|.*\.part-|.*\.repair)') ]]; }

W="$T/w"
mkdir -p "$W"
randfile "$W/orig.bin" 100000
randfile "$W/other.bin" 50000

echo "== crafted headers: names from a header never escape the output directory"
mkdir -p "$W/run/sub"
for evil in "../../X" "/tmp/cairn-e2e-abs-X" ".." "." "a/b" "" $'a\nb' $'a\x1bb'; do
  fresh "$W/evil" "$W/orig.bin" 2 1
  for f in "$W"/evil/*.cairn; do craft "$f" "name=$evil"; done
  for force in "" --force; do
    in_dir "$W/run/sub" expect 1 "decode $force refuses header name '$evil'" "$CAIRN" decode $force "$W/evil"
    in_dir "$W/run/sub" expect 1 "verify refuses header name '$evil'" "$CAIRN" verify "$W/evil"
  done
  in_dir "$W/run/sub" expect 1 "repair refuses header name '$evil'" "$CAIRN" repair "$W/evil"
  check "nothing written outside for '$evil'" test ! -e "$W/X" -a ! -e /tmp/cairn-e2e-abs-X -a \
    -z "$(ls -A "$W/run/sub")" -a ! -e "$W/run/a"
done
fresh "$W/evil" "$W/orig.bin" 2 1
for f in "$W"/evil/*.cairn; do craft "$f" namehex=2e2e002f58; done
expect 1 "decode refuses a NUL in the header name" "$CAIRN" decode -o "$W/nul.out" "$W/evil"
check "no output for a NUL name" test ! -e "$W/nul.out"
fresh "$W/evil" "$W/orig.bin" 2 1
for f in "$W"/evil/*.cairn; do craft "$f" namehex="$(python3 -c "print('61' * 241)")"; done
expect 1 "decode refuses a header name longer than encode writes" "$CAIRN" decode -o "$W/long.out" "$W/evil"

echo "== crafted headers: fields encode never writes are refused, not judged recoverable"
for bad in "k=4294967294 m=3" "k=0" "k=20 m=13" "index=3" "block=4095" "block=67108865" \
  "size=0xffffffffffffffff" "size=0x7fffffffffffffff" "flags=3" "version=2" "size=0" "size=0x4000000000000000"; do
  fresh "$W/evil" "$W/orig.bin" 2 1
  for f in "$W"/evil/*.cairn; do craft "$f" $bad; done
  cp -r "$W/evil" "$W/evil.before"
  expect 1 "verify: header with $bad is not recoverable damage" timeout 20 "$CAIRN" verify "$W/evil"
  expect 1 "decode refuses header with $bad" timeout 20 "$CAIRN" decode -o "$W/craft.out" "$W/evil"
  expect 1 "repair refuses header with $bad" timeout 20 "$CAIRN" repair "$W/evil"
  check "repair left the shards with $bad untouched" same "$W/evil" "$W/evil.before"
  check "no output for $bad" test ! -e "$W/craft.out"
  rm -rf "$W/evil.before"
done
# One shard of three claims a size that its length contradicts: that file is unusable, the other
# two still decode, and repair rewrites it from them.
fresh "$W/evil" "$W/orig.bin" 2 1
cp "$W/evil/orig.bin.2-of-3.cairn" "$W/evil.2.copy"
craft "$W/evil/orig.bin.2-of-3.cairn" size=0
expect 0 "decode around a shard whose header is contradicted by its length" "$CAIRN" decode -o "$W/around.out" "$W/evil"
check "decoded identical around it" cmp -s "$W/around.out" "$W/orig.bin"
expect 3 "verify: that shard is unusable, the encode recoverable" "$CAIRN" verify "$W/evil"
expect 0 "repair rewrites it" "$CAIRN" repair "$W/evil"
check "repaired identical to what encode wrote" cmp -s "$W/evil/orig.bin.2-of-3.cairn" "$W/evil.2.copy"

echo "== outputs: devices and FIFOs are written into, never replaced"
S="$T/set"
"$CAIRN" init --ec 2+1 "$S/d1" "$S/d2" "$S/d3" >/dev/null
export CAIRN_SET="$S/d1"
"$CAIRN" mb bkt >/dev/null
"$CAIRN" put "$W/orig.bin" bkt/x >/dev/null
# A private null device (as /dev/null, major 1 minor 3): a cairn that replaces its output would
# otherwise turn the machine's /dev/null into a regular file.
if mknod -m 666 "$W/null" c 1 3 2>/dev/null; then
  expect 0 "get into a character device (a null device)" "$CAIRN" get bkt/x "$W/null"
  check "the device is still a device" test -c "$W/null"
else
  echo "(not root: no device node, device outputs not tested)"
fi
mkfifo "$W/fifo"
(timeout 20 cat "$W/fifo" >"$W/fifo.got") &
reader=$!
PIDS+=("$reader")
expect 0 "get into a FIFO" timeout 20 "$CAIRN" get bkt/x "$W/fifo"
wait "$reader"
check "the FIFO reader got the object" cmp -s "$W/fifo.got" "$W/orig.bin"
check "the FIFO is still a FIFO" test -p "$W/fifo"
check "no temp file beside the FIFO" no_temps "$W"
expect 2 "get into a directory" "$CAIRN" get bkt/x "$W"
unset CAIRN_SET
fresh "$W/ok" "$W/orig.bin" 2 1
if [[ -c "$W/null" ]]; then
  expect 0 "decode into a character device" "$CAIRN" decode -o "$W/null" "$W/ok"
  check "the device is still a device after decode" test -c "$W/null"
fi
(timeout 20 cat "$W/fifo" >"$W/fifo.got2") &
reader=$!
PIDS+=("$reader")
expect 0 "decode into a FIFO" timeout 20 "$CAIRN" decode -o "$W/fifo" "$W/ok"
wait "$reader"
check "the FIFO reader got the decoded file" cmp -s "$W/fifo.got2" "$W/orig.bin"
check "the FIFO is still a FIFO after decode" test -p "$W/fifo"
expect 2 "decode into a directory" "$CAIRN" decode -o "$W" "$W/ok"
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$W/sock"
expect 2 "decode into a socket" "$CAIRN" decode -o "$W/sock" "$W/ok"
check "the socket is still a socket" test -S "$W/sock"

echo "== outputs: one overwrite rule for get and decode"
export CAIRN_SET="$S/d1"
echo old >"$W/named"
expect 0 "get replaces a file named on the command line" "$CAIRN" get bkt/x "$W/named"
check "get replaced it" cmp -s "$W/named" "$W/orig.bin"
# On a terminal, get's default output is the key's last segment: a name from data.
# on_tty CMD: runs the command line CMD with a terminal as stdin, stdout and stderr (script(1)),
# what it prints going to stderr.
on_tty() { script -qec "$1" /dev/null >&2; }
if command -v script >/dev/null; then
  "$CAIRN" put "$W/orig.bin" bkt/dir/.. >/dev/null
  mkdir -p "$W/tty" && echo old >"$W/tty/x"
  in_dir "$W/tty" expect 2 "get on a terminal never replaces the key's name" on_tty "$CAIRN get bkt/x"
  check "the file named like the key is unchanged" test "$(cat "$W/tty/x")" = old
  in_dir "$W/tty" expect 0 "get --force on a terminal replaces it" on_tty "$CAIRN get --force bkt/x"
  check "get --force replaced it" cmp -s "$W/tty/x" "$W/orig.bin"
  in_dir "$W/tty" expect 2 "get on a terminal refuses a key ending in .." on_tty "$CAIRN get bkt/dir/.."
fi
unset CAIRN_SET
echo old >"$W/named"
expect 0 "decode -o replaces a file named on the command line" "$CAIRN" decode -o "$W/named" "$W/ok"
check "decode -o replaced it" cmp -s "$W/named" "$W/orig.bin"
mkdir -p "$W/cwd" && echo old >"$W/cwd/orig.bin"
in_dir "$W/cwd" expect 2 "decode never replaces a file named by the header" "$CAIRN" decode "$W/ok"
check "the existing file is unchanged" test "$(cat "$W/cwd/orig.bin")" = old
in_dir "$W/cwd" expect 0 "decode --force replaces it" "$CAIRN" decode --force "$W/ok"
check "decode --force replaced it" cmp -s "$W/cwd/orig.bin" "$W/orig.bin"
check "no temp file left by decode" no_temps "$W/cwd"
echo old >"$W/cwd/orig.bin"
ln -s "$W/cwd/orig.bin" "$W/link.out"
expect 0 "decode -o through a symlink" "$CAIRN" decode -o "$W/link.out" "$W/ok"
check "the output symlink stays a symlink" test -L "$W/link.out"
check "its target got the decoded file" cmp -s "$W/cwd/orig.bin" "$W/orig.bin"
# A failed decode leaves no temp file.
fresh "$W/dead" "$W/orig.bin" 2 1
rm "$W/dead/orig.bin.1-of-3.cairn" "$W/dead/orig.bin.2-of-3.cairn"
mkdir -p "$W/fail"
expect 1 "decode of too few shards" "$CAIRN" decode -o "$W/fail/out" "$W/dead"
check "no output and no temp after a failed decode" test -z "$(ls -A "$W/fail")"

echo "== Ctrl-C leaves no temp file"
randfile "$W/big.bin" $((300 * 1024 * 1024))
fresh "$W/bigsh" "$W/big.bin" 4 2
mkdir -p "$W/intr"
"${WITH_SIGINT[@]}" "$CAIRN" decode -o "$W/intr/out" "$W/bigsh" 2>/dev/null &
dp=$!
for _ in $(seq 1 500); do [[ -n $(ls -A "$W/intr") ]] && break; sleep 0.01; done
kill -INT "$dp"
wait "$dp"
check "decode was interrupted (exit $?)" test $? -eq 130
check "no temp file after Ctrl-C of decode" test -z "$(ls -A "$W/intr" | grep -v '^out$')"
rm -f "$W/big.bin"
mkfifo "$W/encfifo"
mkdir -p "$W/enc-int"
"${WITH_SIGINT[@]}" "$CAIRN" encode -k 2 -m 1 --name piped -o "$W/enc-int" - <"$W/encfifo" >/dev/null 2>&1 &
ep=$!
exec 3>"$W/encfifo"
head -c 100000 /dev/urandom >&3
for _ in $(seq 1 500); do [[ -n $(ls -A "$W/enc-int") ]] && break; sleep 0.01; done
kill -INT "$ep"
exec 3>&-
wait "$ep"
check "encode was interrupted (exit $?)" test $? -eq 130
check "no part file after Ctrl-C of encode ($(ls -A "$W/enc-int" | tr "\n" " "))" test -z "$(ls -A "$W/enc-int")"

echo "== verify groups a directory's shards by encode"
rm -rf "$W/two" && mkdir -p "$W/two"
"$CAIRN" encode -k 4 -m 2 --block-size 4KiB -o "$W/two" "$W/orig.bin" >/dev/null
"$CAIRN" encode -k 4 -m 2 --block-size 4KiB -o "$W/two" "$W/other.bin" >/dev/null
cp -r "$W/two" "$W/two.orig"
expect 0 "two healthy encodes" "$CAIRN" verify "$W/two"
rm "$W"/two/orig.bin.{1,2,3}-of-6.cairn
expect 1 "one encode unrecoverable: the worst verdict" "$CAIRN" verify "$W/two"
check "both encodes reported" grep -q 'orig.bin' "$T/out"
check "the healthy one reported too" grep -q 'other.bin' "$T/out"
check "nothing called foreign" test -z "$(grep -i foreign "$T/out")"
"$CAIRN" --json verify "$W/two" >"$T/v.json" 2>/dev/null
check "verify --json: one entry per encode" python3 -c "
import json
d = json.load(open('$T/v.json'))
v = {e['name']: e['verdict'] for e in d['encodes']}
assert v == {'orig.bin': 'unrecoverable', 'other.bin': 'healthy'}, d
assert d['verdict'] == 'unrecoverable', d
"
cp "$W"/two.orig/orig.bin.{1,2}-of-6.cairn "$W/two/"
expect 3 "one encode degraded, one healthy" "$CAIRN" verify "$W/two"
expect 0 "repair fixes the degraded one" "$CAIRN" repair "$W/two"
check "repair restored the missing shard byte for byte" same "$W/two" "$W/two.orig"
expect 2 "decode refuses a directory of two encodes" "$CAIRN" decode -o "$W/two.out" "$W/two"
check "decode names the encodes it found" grep -q 'orig.bin.*other.bin\|other.bin.*orig.bin' "$T/err"
expect 0 "decode the shards of one of them" "$CAIRN" decode -o "$W/two.out" "$W"/two/other.bin.*
check "decoded the one named" cmp -s "$W/two.out" "$W/other.bin"

echo "== one classification: verify, repair and decode agree"
fresh "$W/dup" "$W/orig.bin" 2 1
cp "$W/dup/orig.bin.1-of-3.cairn" "$W/dup/copy-of-1.cairn"
expect 0 "verify: an identical extra copy is harmless" "$CAIRN" verify "$W/dup"
expect 0 "decode uses a set with an extra copy" "$CAIRN" decode -o "$W/dup.out" "$W/dup"
check "decoded identical with a copy" cmp -s "$W/dup.out" "$W/orig.bin"
expect 0 "repair: nothing to do with an extra copy" "$CAIRN" repair "$W/dup"
# The copy serves the blocks its twin lost.
rm "$W/dup/orig.bin.2-of-3.cairn"
printf 'ZZZZZZZZ' | dd of="$W/dup/orig.bin.1-of-3.cairn" bs=1 seek=600 conv=notrunc 2>/dev/null
printf 'ZZZZZZZZ' | dd of="$W/dup/copy-of-1.cairn" bs=1 seek=$((512 + 3 * (2048 + 8) + 10)) conv=notrunc 2>/dev/null
expect 0 "decode combines the good blocks of two damaged copies" "$CAIRN" decode -o "$W/dup.out2" "$W/dup"
check "decoded identical from two damaged copies" cmp -s "$W/dup.out2" "$W/orig.bin"
expect 3 "verify: damaged copies are recoverable" "$CAIRN" verify "$W/dup"
expect 0 "repair rewrites both copies and the missing shard" "$CAIRN" repair "$W/dup"
check "copy repaired" cmp -s "$W/dup/copy-of-1.cairn" "$W/dup/orig.bin.1-of-3.cairn"
expect 0 "verify after repair" "$CAIRN" verify "$W/dup"
fresh "$W/twice" "$W/orig.bin" 2 1
expect 0 "the same path given twice counts once" "$CAIRN" decode -o "$W/twice.out" \
  "$W/twice/orig.bin.1-of-3.cairn" "$W/twice/orig.bin.1-of-3.cairn" "$W/twice/orig.bin.3-of-3.cairn"
check "decoded identical from a path given twice" cmp -s "$W/twice.out" "$W/orig.bin"
expect 0 "verify of a path given twice" "$CAIRN" verify "$W/twice" "$W/twice/orig.bin.1-of-3.cairn"
# A header that disagrees within one encode: all three commands refuse to guess.
fresh "$W/conf" "$W/orig.bin" 2 1
cp "$W/conf/orig.bin.1-of-3.cairn" "$W/conf/odd.cairn"
craft "$W/conf/odd.cairn" name=renamed.bin
cp -r "$W/conf" "$W/conf.before"
expect 1 "verify: conflicting headers in one encode" "$CAIRN" verify "$W/conf"
check "verify names the conflicting file" grep -q 'odd.cairn' "$T/out" "$T/err"
check "verify does not advise repair" test -z "$(grep -i 'run repair' "$T/err")"
expect 1 "repair refuses conflicting headers" "$CAIRN" repair "$W/conf"
expect 1 "decode refuses conflicting headers" "$CAIRN" decode -o "$W/conf.out" "$W/conf"
check "nothing changed by the refusals" same "$W/conf" "$W/conf.before"
# Repair never replaces another encode's shard that sits at the name of a missing one.
rm -rf "$W/clash" "$W/clash2" && mkdir -p "$W/clash" "$W/clash2/x"
cp "$W/other.bin" "$W/clash2/x/orig.bin"
"$CAIRN" encode -k 2 -m 1 --block-size 4KiB -o "$W/clash" "$W/orig.bin" >/dev/null
"$CAIRN" encode -k 2 -m 1 --block-size 4KiB -o "$W/clash2" "$W/clash2/x/orig.bin" >/dev/null
cp "$W/clash2/orig.bin.3-of-3.cairn" "$W/clash/orig.bin.3-of-3.cairn"
EXPECT_WARNINGS=1  # the other encode (one shard of three) is unrecoverable: said on its own line
expect 1 "repair: a missing shard's name is taken by another encode" "$CAIRN" repair "$W/clash"
EXPECT_WARNINGS=0
check "repair says the name is taken" grep -q "cannot recreate shard 3.*move it away" "$T/err"
check "the other encode's shard was not replaced" cmp -s "$W/clash/orig.bin.3-of-3.cairn" "$W/clash2/orig.bin.3-of-3.cairn"

echo "== symlinks to the user's own shard files are followed"
fresh "$W/real" "$W/orig.bin" 2 1
mkdir -p "$W/links"
for i in 1 2 3; do ln -s "$W/real/orig.bin.$i-of-3.cairn" "$W/links/s$i.cairn"; done
ln -s "$W/real" "$W/realdir"
expect 0 "verify shards found through symlinks in a directory" "$CAIRN" verify "$W/links"
expect 0 "verify a symlinked directory" "$CAIRN" verify "$W/realdir"
expect 0 "decode from symlinks named on the command line" "$CAIRN" decode -o "$W/ln.out" "$W"/links/s1.cairn "$W"/links/s3.cairn
check "decoded identical through symlinks" cmp -s "$W/ln.out" "$W/orig.bin"
cp "$W/real/orig.bin.2-of-3.cairn" "$W/s2.good"
printf 'ZZZZZZZZ' | dd of="$W/real/orig.bin.2-of-3.cairn" bs=1 seek=700 conv=notrunc 2>/dev/null
expect 0 "repair through a symlink" "$CAIRN" repair "$W/links"
check "the symlink is still a symlink" test -L "$W/links/s2.cairn"
check "its target was repaired" cmp -s "$W/real/orig.bin.2-of-3.cairn" "$W/s2.good"

echo "== encode creates its directory and cleans up after a killed encode"
expect 0 "encode -o creates missing directories" "$CAIRN" encode -k 2 -m 1 -o "$W/new/a/b" "$W/orig.bin"
check "shards in the new directory" test "$(ls "$W/new/a/b" | wc -l)" -eq 3
check "encode prints absolute paths without //" grep -qx "$W/new/a/b/orig.bin.1-of-3.cairn" "$T/out"
echo x >"$W/not-a-dir"
expect 2 "encode -o through a file" "$CAIRN" encode -o "$W/not-a-dir/sub" "$W/orig.bin"
mkdir -p "$W/killed"
rm -f "$W/encfifo" && mkfifo "$W/encfifo"
"$CAIRN" encode --no-fsync -k 2 -m 1 --name dead -o "$W/killed" - <"$W/encfifo" >/dev/null 2>&1 &
ep=$!
exec 3>"$W/encfifo"
head -c 200000 /dev/urandom >&3
for _ in $(seq 1 500); do [[ $(ls -A "$W/killed" | wc -l) -ge 3 ]] && break; sleep 0.01; done
kill_ours 9 "$ep"
wait "$ep" 2>/dev/null
exec 3>&-
check "a killed encode leaves part files" test "$(ls -A "$W/killed" | grep -c '\.part-')" -eq 3
# A live encode (waiting on its input) keeps its part files while another encode runs.
rm -f "$W/encfifo" && mkfifo "$W/encfifo"
"$CAIRN" encode -k 2 -m 1 --name live -o "$W/killed" - <"$W/encfifo" >/dev/null 2>&1 &
ep=$!
PIDS+=("$ep")
exec 3>"$W/encfifo"
head -c 100000 /dev/urandom >"$W/live.in"
cat "$W/live.in" >&3
for _ in $(seq 1 500); do [[ $(ls -A "$W/killed" | grep -c 'live.*\.part-') -ge 3 ]] && break; sleep 0.01; done
expect 0 "the next encode into the directory" "$CAIRN" encode -k 2 -m 1 -o "$W/killed" "$W/orig.bin"
check "the dead encode's part files are gone" test -z "$(ls -A "$W/killed" | grep 'dead.*\.part-')"
check "the live encode's part files are kept" test "$(ls -A "$W/killed" | grep -c 'live.*\.part-')" -eq 3
exec 3>&-
wait "$ep"
check "the live encode finished" test "$?" -eq 0
expect 0 "the live encode's shards decode" "$CAIRN" decode -o "$W/live.out" "$W"/killed/live.*
check "the live encode's output is whole" cmp -s "$W/live.out" "$W/live.in"

echo "== out of memory"
# Encode under address-space limits from too small to enough: each run either makes the six
# shards, or fails with exit 1, one line, and nothing in the directory; never an abort (134) nor
# part files left. (A sanitizer build reserves terabytes of address space and cannot start under
# any limit: it is told, not run.)
randfile "$W/oom.bin" $((24 << 20))
oom_ok=0 oom_failed=0 oom_started=0
for kib in $(seq 30000 6000 150000); do
  (ulimit -v "$kib" && exec "$CAIRN" version) >/dev/null 2>&1 || continue
  oom_started=$((oom_started + 1))
  rm -rf "$W/oom" && mkdir "$W/oom"
  rc=0
  (ulimit -v "$kib" && exec "$CAIRN" encode -k 4 -m 2 --no-fsync -o "$W/oom" "$W/oom.bin") \
    >"$T/out" 2>"$T/err" || rc=$?
  if [[ $rc -eq 0 ]]; then
    oom_ok=$((oom_ok + 1))
    check "limit $kib KiB: six shards" test "$(ls -A "$W/oom" | wc -l)" -eq 6
  else
    oom_failed=$((oom_failed + 1))
    check "limit $kib KiB: exit 1, not $rc" test "$rc" -eq 1
    check "limit $kib KiB: one line" test "$(wc -l <"$T/err")" -eq 1
    check "limit $kib KiB: says encode" grep -q '^cairn: encode: ' "$T/err"
    check "limit $kib KiB: nothing left" test -z "$(ls -A "$W/oom")"
  fi
done
if [[ $oom_started -eq 0 ]]; then
  skip "out of memory" "this build cannot start under an address-space limit (a sanitizer build)"
else
  check "some limit was too small ($oom_failed failed)" test "$oom_failed" -gt 0
  check "some limit was enough ($oom_ok worked)" test "$oom_ok" -gt 0
fi
rm -rf "$W/oom" "$W/oom.bin"

echo "== paths in messages"
expect 1 "decode of a missing file" "$CAIRN" decode -o "$W/x" "$W//nope.cairn"
check "no // in the message" test -z "$(grep '//' "$T/err")"
check "the path is absolute" grep -q "$W/nope.cairn" "$T/err"
in_dir "$W" expect 1 "decode of a missing relative file" "$CAIRN" decode -o x ./nope.cairn
check "a relative path is shown absolute" grep -q "$W/nope.cairn" "$T/err"
fresh "$W/msg" "$W/orig.bin" 2 1
in_dir "$W" "$CAIRN" verify msg/ >"$T/out" 2>"$T/err"
check "verify lists files with their absolute path" grep -q " $W/msg/orig.bin.2-of-3.cairn" "$T/out"
check "no // in verify's output" test -z "$(grep '//' "$T/out" "$T/err")"

finish
