#!/usr/bin/env bash
# End-to-end tests of what the volume-set commands print: keys holding ESC, newline, tab, a C1
# control and bytes that are not UTF-8, listed on a terminal and not, as text and as JSON (and
# fetched back with what the JSON says); --json of mb, rb and rm; put's --meta and --content-type
# checks; bench's option checks; errors as one escaped line; a lost stdout.
# Usage: tests/e2e_cli.sh path/to/cairn
source "$(dirname "$0")/e2e_lib.sh"

# on_tty CMD...: runs CMD with stdout on a pseudo-terminal, stdin from /dev/null and stderr in
# $T/err; $T/out gets exactly the bytes CMD wrote (no newline translation). Returns CMD's status.
on_tty() {
  python3 - "$@" >"$T/out" 2>"$T/err" <<'PY'
import os, pty, subprocess, sys, termios
m, s = pty.openpty()
attrs = termios.tcgetattr(s)
attrs[1] &= ~termios.OPOST
termios.tcsetattr(s, termios.TCSANOW, attrs)
p = subprocess.Popen(sys.argv[1:], stdout=s, stdin=subprocess.DEVNULL)
os.close(s)
out = b""
while True:
    try:
        d = os.read(m, 65536)
    except OSError:
        break
    if not d:
        break
    out += d
sys.stdout.buffer.write(out)
sys.exit(p.wait())
PY
}
# py CODE ARGS...: runs python3 with the arguments as bytes in sys.argv (os.fsencode gives them
# back exactly); for checks.
py() { local code=$1; shift; python3 -c "import os, sys, json, subprocess, urllib.parse
A = [os.fsencode(a) for a in sys.argv[1:]]
$code" "$@"; }

S="$T/set"
expect 0 "init" "$CAIRN" init --ec 2+1 "$S/d1" "$S/d2" "$S/d3"
export CAIRN_SET="$S/d1"
expect 0 "mb" "$CAIRN" mb bkt

K_ESC=$'esc\e[31mred'
K_NL=$'new\nline'
K_TAB=$'tab\there'
K_BAD=$'bad\xffbyte'
K_C1=$'csi\xc2\x9b2J'
K_RLO=$'rlo\xe2\x80\xaeevil'
K_SP="with space"
K_Q="it's"
K_PLAIN="plain.txt"
K_DIR=$'dir\e[0m/inner'
KEYS=("$K_ESC" "$K_NL" "$K_TAB" "$K_BAD" "$K_C1" "$K_RLO" "$K_SP" "$K_Q" "$K_PLAIN" "$K_DIR")
i=0
for k in "${KEYS[@]}"; do
  printf 'body %d' "$i" >"$T/body.$i"
  expect 0 "put key $i" "$CAIRN" put "$T/body.$i" "bkt/$k"
  i=$((i + 1))
done

echo "== ls, not a terminal: keys as they are"
expect 0 "ls -r" "$CAIRN" ls -r bkt
check "ls -r prints every key's bytes unchanged" py '
data = open(A[0], "rb").read()
sys.exit(0 if all(k in data for k in A[1:]) else 1)' "$T/out" "${KEYS[@]}"

echo "== ls on a terminal: escaped as GNU ls does, and pasting gives the key back"
on_tty "$CAIRN" ls -r bkt
check "ls -r on a tty exits 0" test $? -eq 0
cp "$T/out" "$T/tty.ls"
# Every byte is printable (newlines end lines), every line is well-formed UTF-8 without C1
# controls or bidi overrides, and bash reads each key field back to exactly the key.
tty_ls_ok() {
  py '
data = open(A[0], "rb").read()
lines = [l for l in data.split(b"\n") if l]
if any(b < 0x20 or b == 0x7F for b in data.replace(b"\n", b"")):
    sys.exit("raw control bytes on the terminal")
text = data.decode("utf-8")  # raises on bytes that are not UTF-8
if any(0x80 <= ord(c) <= 0x9F or ord(c) in (0x202E, 0x200E) for c in text):
    sys.exit("C1 control or bidi override on the terminal")
fields = [l[36:] for l in lines]
r = subprocess.run(["bash", "-c", b"printf \"%s\\0\" " + b" ".join(fields)], capture_output=True)
got = r.stdout.split(b"\0")[:-1]
want = A[1:]
if sorted(got) != sorted(want):
    sys.exit("pasted back %r, want %r" % (got, want))' "$@"
}
check "ls -r on a tty: nothing raw, every key pastes back" tty_ls_ok "$T/tty.ls" "${KEYS[@]}"
on_tty "$CAIRN" ls bkt
cp "$T/out" "$T/tty.ls1"
check "ls (PRE lines) on a tty: the prefix pastes back" tty_ls_ok "$T/tty.ls1" \
  "${KEYS[@]:0:9}" $'dir\e[0m/'
on_tty "$CAIRN" ls
check "bucket listing on a tty" grep -q ' bkt/' "$T/out"

echo "== ls --json: lossless, and every key fetched back"
expect 0 "ls -r --json" "$CAIRN" --json ls -r bkt
cp "$T/out" "$T/ls.json"
# Prints the keys the JSON names, NUL-terminated: "key" as it is, "key_url" percent-decoded.
json_keys() {
  py '
for line in open(A[0], "rb"):
    j = json.loads(line)
    if ("key" in j) == ("key_url" in j):
        sys.exit("exactly one of key and key_url: %r" % j)
    k = j["key"].encode("utf-8") if "key" in j else urllib.parse.unquote_to_bytes(j["key_url"])
    sys.stdout.buffer.write(k + b"\0")' "$1"
}
json_keys "$T/ls.json" >"$T/keys.json"
check "ls --json names every key exactly" py '
got = open(A[0], "rb").read().split(b"\0")[:-1]
sys.exit(0 if sorted(got) == sorted(A[1:]) else "got %r" % got)' "$T/keys.json" "${KEYS[@]}"
check "ls --json uses key_url only for the key that is not UTF-8" py '
lines = [json.loads(l) for l in open(A[0], "rb")]
url = [j["key_url"] for j in lines if "key_url" in j]
sys.exit(0 if url == ["bad%FFbyte"] else "key_url fields: %r" % url)' "$T/ls.json"
fetched=0
while IFS= read -r -d '' k; do
  for j in "${!KEYS[@]}"; do
    if [[ "${KEYS[$j]}" == "$k" ]]; then
      "$CAIRN" get "bkt/$k" - >"$T/back" 2>"$T/err" && cmp -s "$T/back" "$T/body.$j" &&
        fetched=$((fetched + 1))
    fi
  done
done <"$T/keys.json"
check "every key from ls --json fetched back ($fetched of ${#KEYS[@]})" test "$fetched" -eq "${#KEYS[@]}"
expect 0 "ls --json (prefixes)" "$CAIRN" --json ls bkt
check "ls --json prefix line" py '
lines = [json.loads(l) for l in open(A[0], "rb")]
sys.exit(0 if {"bucket": "bkt", "prefix": "dir\x1b[0m/"} in lines else "no prefix line: %r" % lines)' \
  "$T/out"

echo "== stat, put --json, rm --json name keys the same way"
expect 0 "stat --json, key not UTF-8" "$CAIRN" --json stat "bkt/$K_BAD"
check "stat --json has key_url" py '
j = json.load(open(A[0], "rb"))
sys.exit(0 if j.get("key_url") == "bad%FFbyte" and "key" not in j else repr(j))' "$T/out"
expect 0 "stat --json, ESC key" "$CAIRN" --json stat "bkt/$K_ESC"
check "stat --json has the ESC key exactly" py '
j = json.load(open(A[0], "rb"))
sys.exit(0 if j["key"].encode() == A[1] else repr(j))' "$T/out" "$K_ESC"
expect 0 "stat, not a terminal" "$CAIRN" stat "bkt/$K_ESC"
check "stat's first line is bucket/key unchanged" py '
sys.exit(0 if open(A[0], "rb").read().startswith(b"bkt/" + A[1] + b"\n") else 1)' "$T/out" "$K_ESC"
on_tty "$CAIRN" stat "bkt/$K_NL"
check "stat on a tty escapes the key" py '
data = open(A[0], "rb").read()
sys.exit(0 if data.startswith(b"'"'"'bkt/new'"'"'$'"'"'\\n'"'"''"'"'line'"'"'\n") else repr(data[:40]))' "$T/out"
expect 0 "put --json, key not UTF-8" "$CAIRN" --json put "$T/body.0" $'bkt/again\xfe'
check "put --json has key_url" py '
j = json.load(open(A[0], "rb"))
sys.exit(0 if j.get("key_url") == "again%FE" and "key" not in j else repr(j))' "$T/out"
expect 0 "rm --json, key not UTF-8" "$CAIRN" --json rm $'bkt/again\xfe'
check "rm --json: one document" py '
j = json.load(open(A[0], "rb"))
sys.exit(0 if j == {"bucket": "bkt", "key_url": "again%FE", "deleted": 1, "failed": 0} else repr(j))' \
  "$T/out"
expect 1 "rm of a missing key" "$CAIRN" --json rm $'bkt/again\xfe'
check "failed rm prints no JSON" test ! -s "$T/out"

echo "== errors: one line, nothing raw"
expect 1 "stat of a missing key with ESC and newline" "$CAIRN" stat $'bkt/no\e[2J\nsuch'
check "the error escapes ESC and newline" py '
e = open(A[0], "rb").read()
sys.exit(0 if e == b"cairn: stat: bkt/no\\033[2J\\nsuch: no such object\n" else repr(e))' "$T/err"

expect 2 "a usage error quoting an argument with ESC and newline" "$CAIRN" ls a b $'\e[2J\nx'
check "the usage error escapes them" py '
e = open(A[0], "rb").read()
sys.exit(0 if b"\x1b" not in e and e.count(b"\n") == 1 and b"\\033[2J\\nx" in e else repr(e))' \
  "$T/err"

echo "== verify, heal, gc: keys and paths the same way"
# Member 2 loses every object's metadata copy: each object is degraded and verify names it.
find "$S/d2/bkt" -mindepth 1 -maxdepth 1 ! -name bucket.meta -exec rm -rf {} +
expect 3 "verify --json with every object degraded" "$CAIRN" --json verify
check "verify --json: key_url for the key that is not UTF-8, key for the others, exactly" py '
objs = [json.loads(l) for l in open(A[0], "rb")]
objs = [o for o in objs if o["type"] == "object"]
got = [o["key"].encode() if "key" in o else urllib.parse.unquote_to_bytes(o["key_url"]) for o in objs]
url = [o["key_url"] for o in objs if "key_url" in o]
if url != ["bad%FFbyte"]:
    sys.exit("key_url fields: %r" % url)
sys.exit(0 if sorted(got) == sorted(A[1:]) else "keys %r" % got)' "$T/out" "${KEYS[@]}"
on_tty "$CAIRN" verify
check "verify on a tty exits 3" test $? -eq 3
check "verify on a tty: nothing raw, every key shell-escaped" py '
data = open(A[0], "rb").read()
if any(b < 0x20 or b == 0x7F for b in data.replace(b"\n", b"").replace(b"\r", b"")):
    sys.exit("raw control bytes on the terminal: %r" % data)
data.decode("utf-8")
sys.exit(0 if b"$'"'"'\\377'"'"'" in data and b"$'"'"'\\033'"'"'" in data else repr(data))' "$T/out"
expect 0 "heal" "$CAIRN" heal
check "heal names the ESC key unchanged off a terminal" py '
sys.exit(0 if b"bkt/" + A[1] in open(A[0], "rb").read() else 1)' "$T/out" "$K_ESC"
expect 0 "verify after heal" "$CAIRN" verify
# A file left in a member's tmp with control characters in its name: gc shows it escaped.
touch -d '3 days ago' "$S/d1/.cairn/tmp/"$'left\e[2Jover'
on_tty "$CAIRN" gc --dry-run
check "gc on a tty escapes the file name" py '
data = open(A[0], "rb").read()
sys.exit(0 if b"\x1b" not in data and b"left'"'"'$'"'"'\\033'"'"''"'"'[2Jover" in data else repr(data))' \
  "$T/out"
expect 0 "gc --json --dry-run" "$CAIRN" --json gc --dry-run
check "gc --json has the path exactly" py '
items = [json.loads(l) for l in open(A[0], "rb")]
paths = [i["path"] for i in items if i["type"] == "item"]
sys.exit(0 if any(p.endswith("/.cairn/tmp/left\x1b[2Jover") for p in paths) else repr(items))' "$T/out"
expect 0 "gc" "$CAIRN" gc

echo "== shard files: names and paths from data the same way"
mkdir -p "$T/sh"
NAME=$'f\xff.bin'  # (control characters cannot name shard files: encode refuses them)
OUTD=$'out\e[1m'     # but a directory given by the user may hold them
printf 'shard body' >"$T/sh/$NAME"
expect 0 "encode --json of a file whose name is not UTF-8" "$CAIRN" --json encode -k 2 -m 1 \
  -o "$T/sh/$OUTD" "$T/sh/$NAME"
check "encode --json: name_url and files_url, every file named exactly" py '
j = json.load(open(A[0], "rb"))
if "name" in j or "files" in j or urllib.parse.unquote_to_bytes(j["name_url"]) != A[1]:
    sys.exit(repr(j))
files = [urllib.parse.unquote_to_bytes(f) for f in j["files_url"]]
sys.exit(0 if len(files) == 3 and all(os.path.exists(f) for f in files) else repr(files))' \
  "$T/out" "$NAME"
expect 0 "verify --json of those shards" "$CAIRN" --json verify "$T/sh/$OUTD"
check "verify --json: the encode's name_url and each shard's path_url" py '
j = json.load(open(A[0], "rb"))
e = j["encodes"][0]
ok = urllib.parse.unquote_to_bytes(e["name_url"]) == A[1] and all("path_url" in s for s in e["shards"])
sys.exit(0 if ok else repr(j))' "$T/out" "$NAME"
on_tty "$CAIRN" verify "$T/sh/$OUTD"
check "shard verify on a tty: nothing raw" py '
data = open(A[0], "rb").read()
if any(b < 0x20 or b == 0x7F for b in data.replace(b"\n", b"").replace(b"\r", b"")):
    sys.exit("raw control bytes: %r" % data)
data.decode("utf-8")' "$T/out"

echo "== mb, rb, rm -r: text and --json"
expect 0 "mb --json" "$CAIRN" --json mb made
check "mb --json" py 'sys.exit(0 if json.load(open(A[0])) == {"bucket": "made", "made": True} else 1)' "$T/out"
expect 0 "mb prints nothing" "$CAIRN" mb made2
check "mb prints nothing as text" test ! -s "$T/out"
for i in 1 2 3; do "$CAIRN" put "$T/body.0" "made/p/$i"; done
expect 0 "rb --force --json" "$CAIRN" --json rb --force made
check "rb --json" py '
j = json.load(open(A[0]))
sys.exit(0 if j == {"bucket": "made", "removed": True, "force": True} else repr(j))' "$T/out"
expect 0 "rb prints nothing" "$CAIRN" rb made2
check "rb prints nothing as text" test ! -s "$T/out"
for i in 1 2 3 4; do "$CAIRN" put "$T/body.0" "bkt/many/$i"; done
expect 0 "rm -r, not a terminal" "$CAIRN" rm -r bkt/many/1
check "rm -r says what it did when stdout is not a terminal" test "$(cat "$T/out")" = "deleted 1 object"
on_tty "$CAIRN" rm -r bkt/many/2
check "rm -r on a tty" test "$(cat "$T/out")" = $'deleted 1 object'
expect 0 "rm -r --json" "$CAIRN" --json rm -r bkt/many/
check "rm -r --json: one document with the counts" py '
j = json.load(open(A[0]))
sys.exit(0 if j == {"bucket": "bkt", "prefix": "many/", "deleted": 2, "failed": 0} else repr(j))' \
  "$T/out"
expect 0 "rm -r of nothing" "$CAIRN" rm -r bkt/many/
check "rm -r of nothing" test "$(cat "$T/out")" = "deleted 0 objects"

echo "== put: --meta names and values as S3 takes them"
expect 0 "put v1" "$CAIRN" put --meta Owner=me --meta x-Tag=a=b "$T/body.1" bkt/meta
check "names kept in lower case, stat and stat --json agree" py '
j = json.loads(subprocess.run([A[0], "--json", "stat", "bkt/meta"], capture_output=True).stdout)
t = subprocess.run([A[0], "stat", "bkt/meta"], capture_output=True).stdout
lines = [l.split()[1] for l in t.split(b"\n") if l.strip().startswith(b"meta ")]
sys.exit(0 if j["meta"] == {"owner": "me", "x-tag": "a=b"} and lines == [b"owner=me", b"x-tag=a=b"]
         else repr((j, lines)))' "$CAIRN"
"$CAIRN" --json stat bkt/meta >"$T/v1.json"
expect 2 "duplicate --meta names (case-insensitively)" "$CAIRN" put --meta a=1 --meta A=2 "$T/body.2" bkt/meta
expect 2 "duplicate --meta names on a new key" "$CAIRN" put --meta k=1 --meta k=2 "$T/body.2" bkt/meta2
expect 2 "--meta name with a space" "$CAIRN" put --meta "a b=1" "$T/body.2" bkt/meta
expect 2 "--meta name with a colon" "$CAIRN" put --meta "a:b=1" "$T/body.2" bkt/meta
expect 2 "--meta value with a newline" "$CAIRN" put --meta $'k=a\nb' "$T/body.2" bkt/meta
expect 2 "--meta value with ESC" "$CAIRN" put --meta $'k=\e[2J' "$T/body.2" bkt/meta
expect 2 "--meta value not UTF-8" "$CAIRN" put --meta $'k=\xff' "$T/body.2" bkt/meta
expect 2 "--content-type with CR LF" "$CAIRN" put --content-type $'text/plain\r\nX-Evil: 1' "$T/body.2" bkt/meta
expect 1 "refused put stored nothing new" "$CAIRN" stat bkt/meta2
"$CAIRN" --json stat bkt/meta >"$T/v2.json"
check "refused puts left the object as it was" cmp -s "$T/v1.json" "$T/v2.json"

echo "== bench: no silent fallbacks"
expect 2 "bench --size 0" "$CAIRN" bench --size 0 hash
expect 2 "bench --size 1 (under 1MiB)" "$CAIRN" bench --size 1 codec
expect 2 "bench --size ''" "$CAIRN" bench --size '' hash
expect 2 "bench --size 1P (more than memory)" "$CAIRN" bench --size 1P hash
expect 2 "bench --runs 0" "$CAIRN" bench --runs 0 hash
expect 2 "bench --dir that does not exist" "$CAIRN" bench --dir "$T/nowhere" store
expect 2 "bench --dir ''" "$CAIRN" bench --dir '' store
expect 2 "bench --dir a file" "$CAIRN" bench --dir "$T/body.0" heal
expect 2 "bench heal without parity" "$CAIRN" bench --ec 3+0 heal
expect 2 "bench: an unknown layer is refused before any runs" "$CAIRN" bench hash nosuchlayer
check "bench ran nothing before refusing" test ! -s "$T/out"

echo "== bench: scratch directories of killed benches are removed"
# A dead bench's (its .lock free), a live one's (.lock held), and a planted symlink named like one.
B="$T/benchdir"
mkdir -p "$B/cairn-bench-dead/sub" "$B/cairn-bench-live" "$T/elsewhere"
touch "$B/cairn-bench-dead/.lock" "$B/cairn-bench-dead/sub/f" "$B/cairn-bench-live/.lock"
touch "$T/elsewhere/.lock" "$T/elsewhere/keep"
ln -s "$T/elsewhere" "$B/cairn-bench-link"
exec 9<"$B/cairn-bench-live/.lock"
flock 9  # this shell holds the live one's lock
expect 0 "bench heal in a directory with leftovers" "$CAIRN" bench --size 1MiB --runs 1 --dir "$B" heal
check "the dead bench's scratch is gone" test ! -e "$B/cairn-bench-dead"
check "the live bench's scratch stays" test -e "$B/cairn-bench-live/.lock"
check "the symlink's target is untouched" test -e "$T/elsewhere/keep"
check "the bench removed its own scratch" test "$(ls -A "$B" | wc -l)" -eq 2
exec 9<&-

echo "== a lost stdout is an error"
for cmd in "ls" "ls bkt" "--json ls -r bkt" "stat bkt/$K_PLAIN" "--json mb full"; do
  # shellcheck disable=SC2086
  "$CAIRN" $cmd >/dev/full 2>"$T/err"
  check "'$cmd' >/dev/full exits 1 (got $?)" test $? -eq 1
  check "'$cmd' >/dev/full says so" grep -q '^cairn: .*stdout: No space left on device' "$T/err"
done

echo "== a reader that stops reading: exit 1, no message"
head -c 300000 /dev/urandom >"$T/big.bin"
expect 0 "put an object larger than a pipe's buffer" "$CAIRN" put "$T/big.bin" bkt/big
# stdout is a pipe whose reading end is already closed, so every write meets EPIPE.
closed_pipe() {
  python3 - "$@" 2>"$T/err" <<'PY'
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
p = subprocess.run(sys.argv[1:], stdout=w)
sys.exit(p.returncode)
PY
}
for cmd in "ls -r bkt" "--json ls -r bkt" "get bkt/big -"; do
  # shellcheck disable=SC2086
  closed_pipe "$CAIRN" $cmd
  check "'$cmd' into a closed pipe exits 1 (got $?)" test $? -eq 1
  check "'$cmd' into a closed pipe says nothing" test ! -s "$T/err"
done

echo "== put --checksum stores an S3 checksum; stat shows it"
printf '123456789' >"$T/check.txt"
expect 0 "put --checksum crc32" "$CAIRN" put --checksum crc32 "$T/check.txt" bkt/sum
expect 0 "stat, checksum" "$CAIRN" stat bkt/sum
check "stat shows the CRC32 of 123456789" grep -qxF "  checksum      CRC32 y/Q5Jg== (FULL_OBJECT)" "$T/out"
expect 0 "put --checksum CRC64NVME --json" "$CAIRN" --json put --checksum CRC64NVME "$T/check.txt" bkt/sum
check "put --json has the CRC64NVME check value" py '
j = json.load(open(A[0], "rb"))["checksum"]
sys.exit(0 if j == {"algorithm": "CRC64NVME", "value": "rosUhgp5mIg=", "type": "FULL_OBJECT"} else repr(j))' "$T/out"
expect 0 "put --checksum sha256" "$CAIRN" put --checksum sha256 "$T/check.txt" bkt/sum
expect 0 "stat --json, checksum" "$CAIRN" --json stat bkt/sum
check "stat --json has the SHA-256" py '
import base64, hashlib
j = json.load(open(A[0], "rb"))["checksum"]
want = base64.b64encode(hashlib.sha256(b"123456789").digest()).decode()
sys.exit(0 if j == {"algorithm": "SHA256", "value": want, "type": "FULL_OBJECT"} else repr(j))' "$T/out"
expect 0 "put without --checksum" "$CAIRN" put "$T/check.txt" bkt/sum
expect 0 "stat --json, no checksum" "$CAIRN" --json stat bkt/sum
check "a new version without --checksum has none" py '
sys.exit(0 if "checksum" not in json.load(open(A[0], "rb")) else 1)' "$T/out"
expect 2 "put --checksum md5 is a usage error" "$CAIRN" put --checksum md5 "$T/check.txt" bkt/sum2
check "the error names the choices" grep -qF "crc64nvme" "$T/err"
expect 1 "nothing stored by the refused put" "$CAIRN" stat bkt/sum2

echo "== member paths in messages: as recorded, no doubled or lost slash"
mv "$S/d3" "$S/d3.away"
expect 0 "ls with a member offline, set named with extra slashes" "$CAIRN" --set "/$S//d1/" ls bkt
check "the warning names the member's path" grep -qF "member 3 ($S/d3) is offline" "$T/err"
check "no doubled slash in the warning" bash -c "! grep -q '//' '$T/err'"
mv "$S/d3.away" "$S/d3"

finish
