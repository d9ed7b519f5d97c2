# Checks, in an `strace -f -y -e trace=fsync,fdatasync,rename,renameat,renameat2,mkdir,mkdirat,
# unlink,unlinkat,rmdir` log of
# one cairn command, that what the command made durable it made durable in the right order, with
# the real system calls (the crash model in tests/crash_test.cc proves the same of the library's
# calls on an in-memory volume; this proves LocalVolume and the commands issue them):
#  - a temp file (in .cairn/tmp, or a .part-/.repair/.cairn- file beside its target) is flushed
#    (fdatasync or fsync) before it is renamed to its name;
#  - the directory a file is renamed into, and the parent of every directory made, is fsynced
#    afterwards (renames into .cairn/tmp excepted: temp names need not last);
#    (A removal needs no sync of its own: a DELETE is durable once its delete marker's rename is,
#    and a marker or an old shard file that a crash brings back is what heal and gc remove.)
#  - what is renamed into .cairn/tmp to be deleted (rb's trash) leaves its directory durably (an
#    fsync of the source directory) before anything inside it is deleted. What a delete's
#    cleanup moves to .cairn/tmp as a spare, the copy beside a key's metadata file (`*=.prev`) and
#    the delete marker itself (`*=`, once every member holds it), needs no sync: it is a removal,
#    and one that a crash brings back is a marker heal removes or garbage gc removes.
# Prints one line per violation; prints nothing when all is well. Relative paths are resolved
# against cwd (awk -v cwd=DIR: the command's working directory).
function norm(p) { gsub(/\/+/, "/", p); while (gsub(/\/\.\//, "/", p)) {} sub(/\/\.$/, "", p); sub(/\/$/, "", p); return p }
function parent(p) { sub(/\/[^\/]*$/, "", p); return p == "" ? "/" : p }
function is_tmp(p) { return p ~ /\/\.cairn\/tmp\// || p ~ /\/\.[^\/]*\.part-[^\/]*$/ || p ~ /\.repair$/ || p ~ /\/\.[^\/]*\.cairn-[^\/]*$/ }
function in_tmpdir(p) { return p ~ /\/\.cairn\/tmp\// }
function synced_now(p,   k) {
  synced[p] = 1
  delete need[p]
  for (k in trash) if (trash[k] == p) delete trash[k]
}
# The i-th quoted path of a line. A relative one is taken from the directory descriptor before
# it (strace -y shows "3</dir>") for the *at calls, else from cwd (awk -v cwd=DIR; AT_FDCWD).
function quoted(line, i,   rest, n, pre, q, d) {
  rest = line
  for (n = 1; match(rest, /"[^"]*"/); n++) {
    pre = substr(rest, 1, RSTART - 1)
    q = substr(rest, RSTART + 1, RLENGTH - 2)
    rest = substr(rest, RSTART + RLENGTH)
    if (n < i) continue
    d = cwd
    if (match(pre, /[0-9]+<[^>]*>, $/)) {
      d = substr(pre, RSTART, RLENGTH)
      sub(/^[0-9]+</, "", d)
      sub(/>, $/, "", d)
    }
    if (substr(q, 1, 1) != "/") q = d "/" q
    return norm(q)
  }
  return ""
}
{
  pid = $1
  line = $0
  if (match(line, /f(data)?sync\([0-9]+<[^>]*>/)) {
    p = substr(line, RSTART, RLENGTH)
    sub(/^f(data)?sync\([0-9]+</, "", p)
    sub(/>$/, "", p)
    p = norm(p)
    if (line ~ /<unfinished/) { open_sync[pid] = p; next }
    if (line ~ /= 0$/) synced_now(p)
    next
  }
  if (line ~ /<\.\.\. f(data)?sync resumed>/) {
    if (line ~ /= 0$/) synced_now(open_sync[pid])
    next
  }
  if (line !~ /= 0$/) next
  if (line ~ /[ (]rename(at|at2)?\(/) {
    src = quoted(line, 1)
    dst = quoted(line, 2)
    if (in_tmpdir(dst) && (src ~ /=\.prev$/ || src ~ /=$/)) next
    if (in_tmpdir(dst)) { trash[dst] = parent(src); need[parent(src)] = "rename away of " src; next }
    if (is_tmp(src) && !(src in synced)) print "renamed before its data was flushed: " src " -> " dst
    need[parent(dst)] = "rename to " dst
    next
  }
  if (line ~ /[ (]mkdir(at)?\(/) { p = quoted(line, 1); need[parent(p)] = "mkdir " p; next }
  if (line ~ /[ (](unlink|unlinkat|rmdir)\(/) {
    p = quoted(line, 1)
    for (t in trash) {
      if (index(p, t "/") == 1) { print "deleted inside " t " before its move was durable: " p; delete trash[t] }
    }
    next
  }
}
END {
  for (d in need) print "not synced afterwards: " d " (after " need[d] ")"
}
