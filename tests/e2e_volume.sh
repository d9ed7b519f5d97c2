#!/usr/bin/env bash
# End-to-end tests of what a volume set member directory may hold and how it is named: symlinks
# planted inside members (never followed, reported by verify), overlapping members, init --force
# (removes only what a cairn format identifies as its own), user paths (relative, "..", "//"),
# real ENOSPC on a small tmpfs (mb, put), and concurrent heals formatting one replacement.
# Needs root (it mounts tmpfs and bind mounts); fails loudly, never skips, if it cannot.
# Usage: tests/e2e_volume.sh path/to/cairn
source "$(dirname "$0")/e2e_lib.sh"
EXPECT_WARNINGS=1

MOUNTS=()
unmount_all() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}"; done
  MOUNTS=()
}
trap 'unmount_all; cleanup' EXIT
# mount_tmpfs DIR SIZE: a tmpfs of SIZE at DIR, unmounted at exit. Exits the test on failure.
mount_tmpfs() {
  mkdir -p "$1"
  if ! mount -t tmpfs -o "size=$2" tmpfs "$1"; then
    echo "FAIL: cannot mount a tmpfs at $1 (this test needs root and mount(2)); not skipping" >&2
    exit 1
  fi
  MOUNTS+=("$1")
}
# no_double_slash: neither stdout nor stderr of the last expect shows "//" in a path.
no_double_slash() { ! grep -q '//' "$T/out" "$T/err"; }
newset() {  # newset NAME EC N: init a fresh set $T/NAME/d1..dN, export CAIRN_SET
  local dirs=() i
  for i in $(seq 1 "$3"); do dirs+=("$T/$1/d$i"); done
  "$CAIRN" init --ec "$2" "${dirs[@]}" >/dev/null || { echo "FAIL: init $1" >&2; exit 1; }
  export CAIRN_SET="${dirs[0]}"
}

echo "== symlinks planted in a member are never followed"
newset sym 2+1 3
S="$T/sym"
expect 0 "mb" "$CAIRN" mb bkt
mkdir -p "$T/outside"
echo "victim's data" >"$T/outside/victim="
cp "$T/outside/victim=" "$T/victim.orig"
# bkt/evil~ is the directory of keys "evil/...": on member 1 it points outside the set.
ln -s "$T/outside" "$S/d1/bkt/evil~"
randfile "$T/x" 3000
expect 0 "put through a planted symlink directory (other members take it)" \
  "$CAIRN" put "$T/x" bkt/evil/victim
check "put wrote nothing outside the set" cmp -s "$T/outside/victim=" "$T/victim.orig"
check "nothing new outside" test "$(ls -A "$T/outside")" = "victim="
"$CAIRN" get bkt/evil/victim "$T/back" 2>/dev/null
check "the object reads back from the other members" cmp -s "$T/x" "$T/back"
"$CAIRN" rm bkt/evil/victim >"$T/out" 2>"$T/err"
check "rm through a planted symlink directory left the outside file alone" \
  cmp -s "$T/outside/victim=" "$T/victim.orig"
expect 1 "the object is gone" "$CAIRN" get bkt/evil/victim "$T/back"
rm "$S/d1/bkt/evil~"

echo "== verify reports symlinks inside members"
"$CAIRN" put "$T/x" bkt/a/b >/dev/null 2>&1
ln -s "$T/outside" "$S/d2/bkt/other~"
ln -s "$T/outside" "$S/d3/bkt/a~/c="
expect 3 "verify: symlinks make the set degraded" "$CAIRN" verify
check "verify names the symlinked directory" grep -q "d2/bkt/other~ is a symbolic link" "$T/out"
check "verify names the symlinked metadata file" grep -q "d3/bkt/a~/c= is a symbolic link" "$T/out"
check "verify's verdict counts them" grep -q "2 entries in the members that cairn did not make" "$T/err"
expect 0 "verify of a prefix that holds no symlink" "$CAIRN" verify bkt/zzz
expect 3 "verify --json" "$CAIRN" verify --json
check "verify --json notes the symlink" \
  test "$(jq -r 'select(.type=="note") | .message' "$T/out" | grep -c 'symbolic link')" = 2
expect 3 "heal reports them too and leaves them alone" "$CAIRN" heal
check "heal named the symlink" grep -q "d2/bkt/other~ is a symbolic link" "$T/out"
check "heal left the symlink" test -L "$S/d2/bkt/other~"
check "outside untouched after heal" cmp -s "$T/outside/victim=" "$T/victim.orig"
rm "$S/d2/bkt/other~" "$S/d3/bkt/a~/c="
expect 0 "verify after removing them" "$CAIRN" verify

echo "== gc with .cairn/tmp a symlink deletes nothing outside"
mkdir -p "$T/outside2"
echo old >"$T/outside2/old-file"
touch -d '3 days ago' "$T/outside2/old-file"
mv "$S/d1/.cairn/tmp" "$S/d1/.cairn/tmp.real"
ln -s "$T/outside2" "$S/d1/.cairn/tmp"
expect 1 "gc: a symlinked temp directory is an error" "$CAIRN" gc --older-than 1h
check "gc says which link" grep -q "d1/.cairn/tmp: is a symbolic link" "$T/err"
check "gc deleted nothing outside" test -f "$T/outside2/old-file"
expect 1 "gc --dry-run too" "$CAIRN" gc --dry-run --older-than 0
check "still there" test -f "$T/outside2/old-file"
rm "$S/d1/.cairn/tmp"
mv "$S/d1/.cairn/tmp.real" "$S/d1/.cairn/tmp"
expect 0 "gc once the link is gone" "$CAIRN" gc --older-than 1h

echo "== init refuses overlapping members"
mkdir -p "$T/ov"
cd "$T/ov" || exit 1
expect 2 "init: one member inside another" "$CAIRN" init --ec 2+1 n/s n/s/bkt n/t
check "says which" grep -q "n/s/bkt: is inside $T/ov/n/s, another member" "$T/err"
check "refused init created nothing" test ! -e "$T/ov/n"
expect 2 "init: a member inside another, reversed" "$CAIRN" init --ec 2+1 n/s/bkt n/t n/s
mkdir -p "$T/ov/real"
ln -s "$T/ov/real" "$T/ov/link"
expect 2 "init: the same directory through a symlink" "$CAIRN" init --ec 1+1 real link
check "given twice" grep -q "given twice" "$T/err"
expect 2 "init: inside a symlinked member" "$CAIRN" init --ec 1+1 real link/sub
mkdir -p "$T/ov/bind/a" "$T/ov/bind/b"
if ! mount --bind "$T/ov/bind/a" "$T/ov/bind/b"; then
  echo "FAIL: cannot bind-mount (this test needs root); not skipping" >&2
  exit 1
fi
MOUNTS+=("$T/ov/bind/b")
expect 2 "init: inside another member through a bind mount" "$CAIRN" init --ec 1+1 bind/a bind/b/x
check "bind: nothing created" test ! -e "$T/ov/bind/a/x"
expect 0 "init: siblings are fine" "$CAIRN" init --ec 2+1 n/s n/t n/u
expect 2 "init: inside a member of another set" "$CAIRN" init --ec 1+1 n/s/bkt m1
check "names the other set's member" grep -q "inside $T/ov/n/s, a member of another volume set" "$T/err"
check "nothing created in the other set" test ! -e "$T/ov/n/s/bkt"
cd "$T" || exit 1

echo "== init --force removes only what a cairn format owns"
mkdir -p "$T/nf/abc"
echo meta >"$T/nf/abc/bucket.meta"
echo music >"$T/nf/abc/song.mp3"
expect 2 "init without --force refuses a non-empty directory" "$CAIRN" init "$T/nf"
expect 0 "init --force of a directory with no cairn format" "$CAIRN" init --force "$T/nf"
check "abc/ kept" test -f "$T/nf/abc/song.mp3" -a -f "$T/nf/abc/bucket.meta"
newset old 2+1 3
O="$T/old"
expect 0 "mb" "$CAIRN" mb bkt
expect 0 "put" "$CAIRN" put "$T/x" bkt/k
for d in "$O"/d{1,2,3}; do
  echo keep >"$d/keep.txt"
  mkdir -p "$d/notabucket" "$d/fake"
  echo junk >"$d/notabucket/bucket.meta"
  echo "not a record" >"$d/fake/bucket.meta"
  mkdir -p "$d/older"  # a bucket of a cairn from before bucket records had a format
  printf 1764633600000000000 >"$d/older/bucket.meta"
  mkdir -p "$d/lost+found"
done
old_id=$(od -An -tx1 -j12 -N16 "$O/d1/.cairn/format")
expect 0 "init --force over an old set" "$CAIRN" init --force --ec 2+1 "$O"/d{1,2,3}
for d in "$O"/d{1,2,3}; do
  check "bucket removed ($d)" test ! -e "$d/bkt"
  check "old-style bucket removed ($d)" test ! -e "$d/older"
  check "other files kept ($d)" test -f "$d/keep.txt" -a -f "$d/notabucket/bucket.meta" -a -f "$d/fake/bucket.meta"
  check "lost+found kept ($d)" test -d "$d/lost+found"
done
check "a new set id" test "$(od -An -tx1 -j12 -N16 "$O/d1/.cairn/format")" != "$old_id"
expect 0 "the new set lists no bucket" "$CAIRN" --set "$O/d1" ls
check "no bucket listed" test ! -s "$T/out"

echo "== user paths: relative, '..', '//', and exit codes"
mkdir -p "$T/p/w"
cd "$T/p/w" || exit 1
expect 0 "init ./a ../b c//d" "$CAIRN" init --ec 2+1 ./a ../b c//d
check "a formatted" test -f "$T/p/w/a/.cairn/format"
check "../b formatted" test -f "$T/p/b/.cairn/format"
check "c/d formatted" test -f "$T/p/w/c/d/.cairn/format"
check "member paths recorded clean" grep -qa "$T/p/w/c/d" "$T/p/w/a/.cairn/format"
expect 0 "--set with a relative path" "$CAIRN" --set ./a mb bkt
expect 0 "CAIRN_SET with '..'" env CAIRN_SET=../w/c//d "$CAIRN" ls
check "bucket listed" grep -q bkt "$T/out"
echo file >"$T/p/file"
expect 2 "a file as a member" "$CAIRN" init --ec 1+1 "$T/p/file" "$T/p/e1"
check "says so, cleanly" grep -q "^cairn: init: $T/p/file: exists and is not a directory" "$T/err"
check "no '//' in the message" no_double_slash
expect 2 "a member that cannot be created" "$CAIRN" init --ec 1+1 "$T/p/file/sub" "$T/p/e2"
check "cannot create" grep -q "$T/p/file/sub: cannot create the directory" "$T/err"
check "no '//' there either" no_double_slash
check "the other member was not left behind" test ! -e "$T/p/e1" -a ! -e "$T/p/e2"
expect 1 "a set path that is no member" "$CAIRN" --set "$T//p/./w/nope" ls
check "named cleanly" grep -q "$T/p/w/nope is not a cairn volume set member" "$T/err"
mkdir -p "$T/p/lf/lost+found"
expect 0 "init of a directory holding only lost+found" "$CAIRN" init "$T/p/lf"
cd "$T" || exit 1

echo "== ENOSPC on a real file system (tmpfs)"
mount_tmpfs "$T/fs1" 4m
mount_tmpfs "$T/fs2" 64m
mount_tmpfs "$T/fs3" 64m
"$CAIRN" init --ec 2+1 "$T/fs1/m" "$T/fs2/m" "$T/fs3/m" >/dev/null || bad "init on tmpfs"
export CAIRN_SET="$T/fs2/m"
head -c 100M /dev/zero >"$T/fs1/filler" 2>/dev/null
check "member 1's file system is full" test "$(df --output=avail "$T/fs1" | tail -1)" -eq 0
expect 0 "mb with one member full: made on the write quorum" "$CAIRN" mb bkt
check "mb warns about the full member" grep -q "warning: bucket bkt not created on member 1" "$T/err"
randfile "$T/mid" 3000000
expect 0 "put with one member full" "$CAIRN" put "$T/mid" bkt/mid
"$CAIRN" get bkt/mid "$T/back" 2>/dev/null
check "reads back" cmp -s "$T/mid" "$T/back"
rm "$T/fs1/filler"
expect 0 "heal once there is room again" "$CAIRN" heal
check "bucket recreated on member 1" test -d "$T/fs1/m/bkt"
expect 0 "verify" "$CAIRN" verify --deep
# A set whose every member is small: a put that does not fit fails and leaves the old version.
mount_tmpfs "$T/fs4" 8m
mount_tmpfs "$T/fs5" 8m
"$CAIRN" init --ec 1+1 "$T/fs4/m" "$T/fs5/m" >/dev/null || bad "init 1+1 on tmpfs"
export CAIRN_SET="$T/fs4/m"
head -c 100M /dev/zero >"$T/fs5/filler" 2>/dev/null
expect 1 "mb below the write quorum fails" "$CAIRN" mb gone
check "says how far it got" grep -q "created on 1 of 2 members, 2 needed; nothing kept" "$T/err"
check "and why" grep -q "No space left on device" "$T/err"
check "no bucket directory left on the other member" test ! -e "$T/fs4/m/gone"
expect 0 "ls" "$CAIRN" ls
check "the failed bucket is not listed" test ! -s "$T/out"
expect 1 "put into the failed bucket" "$CAIRN" put "$T/x" gone/x
rm "$T/fs5/filler"
expect 0 "mb" "$CAIRN" mb small
randfile "$T/v1" 1000000
expect 0 "put v1" "$CAIRN" put "$T/v1" small/k
randfile "$T/big" 12000000
expect 1 "put larger than the file systems" "$CAIRN" put "$T/big" small/k
check "ENOSPC said" grep -q "No space left on device" "$T/err"
"$CAIRN" get small/k "$T/back" 2>/dev/null
check "the previous version is intact" cmp -s "$T/v1" "$T/back"
check "no temp file left (member 1)" test -z "$(ls -A "$T/fs4/m/.cairn/tmp")"
check "no temp file left (member 2)" test -z "$(ls -A "$T/fs5/m/.cairn/tmp")"
expect 0 "verify after ENOSPC" "$CAIRN" verify --deep
unmount_all

echo "== two heals formatting one replacement member"
newset race 2+1 3
R="$T/race"
"$CAIRN" mb bkt >/dev/null
for i in $(seq 1 10); do "$CAIRN" put --no-fsync "$T/x" "bkt/k$i" >/dev/null 2>&1; done
for round in 1 2 3 4 5; do
  rm -rf "$R/d3" && mkdir "$R/d3"
  "$CAIRN" heal >"$T/h1" 2>"$T/h1.err" &
  p1=$!
  "$CAIRN" heal >"$T/h2" 2>"$T/h2.err" &
  p2=$!
  wait "$p1"; r1=$?
  wait "$p2"; r2=$?
  check "round $round: both heals exit 0 ($r1 $r2: $(cat "$T/h1.err" "$T/h2.err"))" test "$r1$r2" = 00
  check "round $round: neither refused the replacement" \
    test -z "$(grep -h refused "$T/h1.err" "$T/h2.err")"
  expect 0 "round $round: verify" "$CAIRN" verify
done

finish
