#!/usr/bin/env bash
# kill -9 end to end: `put` at every rename of its commit, `rm -r`, `rb`, `gc` and `heal` part way,
# each followed by `heal` and `verify` with their exit codes asserted and every object read back.
#
# The kill is exact, not timed: CAIRN_TEST_KILL_AT=OP:N (libstore/volume/kill_point.h) makes the
# command SIGKILL itself just before its N-th volume call of kind OP (rename, remove, ...).
#
# Usage: tests/e2e_crash.sh path/to/cairn
source "$(dirname "$0")/e2e_lib.sh"
EXPECT_WARNINGS=1
# none_exist PATH...: true when none of the paths exists.
none_exist() {
  local p
  for p in "$@"; do [[ -e $p || -L $p ]] && return 1; done
  return 0
}
# killed WHAT OP:N CMD...: runs CMD with the kill point set and checks that it died by SIGKILL.
killed() {
  local what=$1 at=$2; shift 2
  { CAIRN_TEST_KILL_AT=$at "$@" >"$T/out" 2>"$T/err"; } 2>/dev/null
  local got=$?
  if [[ $got -ne 137 ]]; then bad "$what: exit $got, want 137 (killed at $at): $(head -c 300 "$T/err")"; return 1; fi
  ok
}
# same_as WHAT KEY FILE...: bkt KEY reads back as one of FILEs (or, with the word absent, is gone).
same_as() {
  local what=$1 key=$2; shift 2
  if "$CAIRN" get "$key" "$T/back" 2>"$T/geterr"; then
    for f in "$@"; do [[ $f != absent ]] && cmp -s "$T/back" "$f" && { ok; return; }; done
    bad "$what: $key reads back as none of $*"
  else
    for f in "$@"; do [[ $f == absent ]] && grep -q "not found\|does not exist\|no such" "$T/geterr" && { ok; return; }; done
    bad "$what: get $key: $(cat "$T/geterr")"
  fi
}
tmp_empty() {
  local d
  for d in "${D[@]}"; do [[ -z $(ls -A "$d/.cairn/tmp") ]] || return 1; done
}

S="$T/set"
D=("$S/d1" "$S/d2" "$S/d3" "$S/d4" "$S/d5" "$S/d6")
"$CAIRN" init --ec 4+2 --block-size 64K --inline-limit 4K "${D[@]}" >/dev/null || { echo "init failed"; exit 1; }
export CAIRN_SET="${D[0]}"
"$CAIRN" mb bkt >/dev/null
randfile "$T/old" 300000
randfile "$T/new" 400000
randfile "$T/small" 3000

echo "== the hook: a malformed kill point is ignored with a warning"
CAIRN_TEST_KILL_AT=nonsense "$CAIRN" ls >/dev/null 2>"$T/err"
check "malformed CAIRN_TEST_KILL_AT: exit 0" test $? -eq 0
check "malformed CAIRN_TEST_KILL_AT: warned" grep -q "ignoring CAIRN_TEST_KILL_AT" "$T/err"

echo "== put killed between the renames of its commit (an overwrite: 6 shard renames, 6 swaps)"
# On 4+2 the write quorum is 4: killed after 3 members swapped the new copy in (renames 7 and 8),
# neither version's metadata files are on the 4 a read needs; the old version is read from the
# copies the swaps displaced, and heal puts it back.
for n in $(seq 1 12); do
  "$CAIRN" put "$T/old" bkt/o >/dev/null || bad "put old ($n)"
  killed "put killed at rename $n" "rename:$n" "$CAIRN" put "$T/new" bkt/o
  expect 0 "heal after put killed at rename $n" "$CAIRN" heal
  expect 0 "verify after put killed at rename $n" "$CAIRN" verify
  same_as "put killed at rename $n" bkt/o "$T/old" "$T/new"
done

echo "== put of a new key killed between the renames"
for n in 2 5 9; do
  killed "new put killed at rename $n" "rename:$n" "$CAIRN" put "$T/new" "bkt/new$n"
  expect 0 "heal after new put killed at rename $n" "$CAIRN" heal
  expect 0 "verify after new put killed at rename $n" "$CAIRN" verify
  same_as "new put killed at rename $n" "bkt/new$n" "$T/new" absent
  if (( n < 9 )); then
    # Below the write quorum: never committed, so heal removed what it left, every file of it.
    # (A shard file whose member never got the metadata copy is gc's, as an orphan.)
    check "heal removed the metadata copies of new$n" none_exist "${D[@]/%//bkt/new$n=}"
  fi
done
"$CAIRN" put "$T/new" bkt/o >/dev/null

echo "== rm -r killed part way"
for i in $(seq 1 20); do
  if (( i % 2 )); then "$CAIRN" put "$T/small" "bkt/dir/$i" >/dev/null; else "$CAIRN" put "$T/old" "bkt/dir/$i" >/dev/null; fi
done
killed "rm -r killed" "remove:37" "$CAIRN" rm -r bkt/dir/
expect 0 "heal after rm -r killed" "$CAIRN" heal
expect 0 "verify after rm -r killed" "$CAIRN" verify
for i in $(seq 1 20); do
  if (( i % 2 )); then want="$T/small"; else want="$T/old"; fi
  same_as "rm -r killed" "bkt/dir/$i" "$want" absent
done
expect 0 "rm -r again" "$CAIRN" rm -r bkt/dir/
expect 0 "ls after rm -r" "$CAIRN" ls -r bkt/dir/
check "rm -r removed everything" test ! -s "$T/out"
same_as "rm -r left other objects alone" bkt/o "$T/new"

echo "== rb --force killed part way"
for n in 3 4; do
  "$CAIRN" mb "bk$n" >/dev/null
  "$CAIRN" put "$T/old" "bk$n/x" >/dev/null
  "$CAIRN" put "$T/small" "bk$n/d/y" >/dev/null
  # rb moves the bucket out of the namespace member by member: killed before the n-th move.
  killed "rb killed at rename $n" "rename:$n" "$CAIRN" rb --force "bk$n"
  if (( n == 4 )); then
    # Moved out of 3 of 6 members: below the read quorum, the bucket no longer exists for
    # readers, and verify says heal removes what is left of it (exit 3).
    expect 3 "verify after rb killed at rename $n" "$CAIRN" verify
  fi
  expect 0 "heal after rb killed at rename $n" "$CAIRN" heal
  expect 0 "verify after rb killed at rename $n" "$CAIRN" verify
  same_as "rb killed at rename $n" "bk$n/x" "$T/old" absent
  same_as "rb killed at rename $n" "bk$n/d/y" "$T/small" absent
  if (( n == 3 )); then
    expect 0 "rb again after the kill at rename $n" "$CAIRN" rb --force "bk$n"
  else
    expect 1 "the rest of the bucket went with heal" "$CAIRN" ls "bk$n"
    check "heal left nothing of bk$n" none_exist "${D[@]/%//bk$n}"
  fi
done
"$CAIRN" mb bk5 >/dev/null
for i in 1 2 3; do "$CAIRN" put "$T/old" "bk5/k$i" >/dev/null; done
# 8 removals per member: killed while emptying the second member's trash, with the bucket
# moved out of 2 of 6 members (it still exists: 4 have it).
killed "rb killed while deleting" "remove:9" "$CAIRN" rb --force bk5
expect 0 "heal after rb killed while deleting" "$CAIRN" heal
expect 0 "verify after rb killed while deleting" "$CAIRN" verify
for i in 1 2 3; do same_as "rb killed while deleting" "bk5/k$i" "$T/old"; done
expect 0 "rb again after the kill while deleting" "$CAIRN" rb --force bk5
expect 1 "the bucket is gone" "$CAIRN" ls bk5
expect 0 "gc removes the half-emptied trash" "$CAIRN" gc --older-than 0
check "gc left no temp files" tmp_empty

echo "== gc killed part way"
# Dead writes leave temp files on every member: puts killed before their first rename.
for i in 1 2 3; do killed "put killed before its commit" "rename:1" "$CAIRN" put "$T/old" "bkt/t$i"; done
check "the killed puts left temp files" test -n "$(ls -A "${D[0]}/.cairn/tmp")"
killed "gc killed" "remove:4" "$CAIRN" gc --older-than 0
expect 0 "heal after gc killed" "$CAIRN" heal
expect 0 "verify after gc killed" "$CAIRN" verify
same_as "gc killed" bkt/o "$T/new"
expect 0 "gc again" "$CAIRN" gc --older-than 0
check "gc left no temp files" tmp_empty

echo "== heal killed part way (a wiped member)"
for i in $(seq 1 8); do "$CAIRN" put "$T/old" "bkt/h/$i" >/dev/null; done
"$CAIRN" put "$T/small" bkt/h/small >/dev/null
rm -rf "${D[2]}"
mkdir "${D[2]}"
killed "heal killed" "rename:9" "$CAIRN" heal
expect 3 "verify after heal killed: degraded" "$CAIRN" verify
expect 0 "heal again" "$CAIRN" heal
expect 0 "verify after heal" "$CAIRN" verify
for i in $(seq 1 8); do same_as "heal killed" "bkt/h/$i" "$T/old"; done
same_as "heal killed" bkt/h/small "$T/small"
same_as "heal killed" bkt/o "$T/new"
expect 0 "gc at the end" "$CAIRN" gc --older-than 0
check "gc left no temp files" tmp_empty

echo "== syncs the crash model cannot see, seen with strace"
# LeakSanitizer cannot run under ptrace: a sanitizer build's leak check is off for traced commands
# (the untraced runs of the same commands keep it).
NOLEAKS() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$@"; }
# synced_dir DIR: the traced command fsynced directory DIR.
synced_dir() { grep -F "<$1>)" "$T/strace" | grep -q " fsync("; }
if strace -f -o /dev/null true 2>/dev/null; then
  R=$(readlink -f "$T")
  NOLEAKS strace -f -y -e trace=fsync,fdatasync -o "$T/strace" \
    "$CAIRN" init --ec 2+1 "$R/n/x/a" "$R/n/x/b" "$R/n/c" >/dev/null 2>&1
  check "init: the parent of a member directory it made is synced" synced_dir "$R/n/x"
  check "init: and the parents of directories it made on the way" synced_dir "$R/n"
  check "init: and the directory that existed" synced_dir "$R"
else
  echo "strace cannot trace here: skipped"
fi

# traced WHAT CMD...: runs CMD under strace and checks the order of its flushes, renames and
# deletes with tests/strace_syncs.awk (a temp file flushed before its rename, every directory
# that got or lost a name synced after).
traced() {
  local what=$1; shift
  NOLEAKS strace -f -y -e trace=fsync,fdatasync,rename,renameat,renameat2,mkdir,mkdirat,unlink,unlinkat,rmdir -o "$T/strace" \
    "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  awk -v cwd="${TRACED_CWD:-$PWD}" -f "$(dirname "$0")/strace_syncs.awk" "$T/strace" >"$T/order"
  if [[ $rc -ne 0 ]]; then bad "$what: exit $rc: $(head -c 300 "$T/err")"; return; fi
  check "$what: flushes in order ($(head -3 "$T/order" | tr '\n' ';'))" test ! -s "$T/order"
}
if strace -f -o /dev/null true 2>/dev/null; then
  S2="$R/s2"
  "$CAIRN" init --ec 2+1 "$S2/d1" "$S2/d2" "$S2/d3" >/dev/null
  export CAIRN_SET="$S2/d1"
  traced "mb" "$CAIRN" mb bkt
  traced "put of a new key under new directories" "$CAIRN" put "$T/new" bkt/a/b/c
  traced "put over it, inline" "$CAIRN" put "$T/small" bkt/a/b/c
  traced "put over it, not inline" "$CAIRN" put "$T/old" bkt/a/b/c
  traced "rm" "$CAIRN" rm bkt/a/b/c
  "$CAIRN" put "$T/old" bkt/x >/dev/null
  "$CAIRN" put "$T/small" bkt/d/y >/dev/null
  traced "rb --force" "$CAIRN" rb --force bkt
  "$CAIRN" mb bkt >/dev/null
  for i in 1 2 3; do "$CAIRN" put "$T/old" "bkt/k$i" >/dev/null; "$CAIRN" put "$T/small" "bkt/d/s$i" >/dev/null; done
  rm -rf "$S2/d2"
  mkdir "$S2/d2"
  traced "heal of a wiped member" "$CAIRN" heal
  mkdir "$R/enc"
  traced "encode" "$CAIRN" encode -k 2 -m 1 -o "$R/enc" "$T/old"
  rm "$R/enc/old.3-of-3.cairn"
  traced "repair" "$CAIRN" repair "$R/enc"
  # get and decode write through cli/output_file: a temp file beside the output, flushed, renamed
  # over it, then its directory synced. Both for a new name and over an existing file.
  traced "decode -o FILE" "$CAIRN" decode -o "$R/decoded" "$R/enc"
  traced "decode -o FILE over an existing file" "$CAIRN" decode -o "$R/decoded" "$R/enc"
  mkdir "$R/o"
  traced "get BUCKET/KEY FILE" "$CAIRN" get bkt/k1 "$R/o/got"
  traced "get BUCKET/KEY FILE over an existing file" "$CAIRN" get bkt/k1 "$R/o/got"
  check "get wrote the object" cmp -s "$R/o/got" "$T/old"
  check "decode wrote the file" cmp -s "$R/decoded" "$T/old"
  # Without -o: the header's name, in the working directory (relative names in the trace).
  TRACED_CWD="$R/o" traced "decode into the working directory" \
    bash -c 'cd "$1" && exec "$2" decode "$3"' _ "$R/o" "$CAIRN" "$R/enc"
  check "decode wrote the file into the working directory" cmp -s "$R/o/old" "$T/old"
  export CAIRN_SET="${D[0]}"
fi

finish
