#!/usr/bin/env bash
# End-to-end tests of the command line's less travelled paths: listings and rm -r paging past
# 1,000 keys, the write quorum K+1 when K = M, every state `stat` reports (each produced for real
# by editing the members' files), and the --json output of put, rm -r, encode and ls.
# Usage: tests/e2e_set_commands.sh path/to/cairn
source "$(dirname "$0")/e2e_lib.sh"
EXPECT_WARNINGS=1
export LC_ALL=C
# flip FILE OFFSET: xor one byte in place.
flip() {
  python3 - "$1" "$2" <<'PY'
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x5a]))
PY
}

echo "== paging: ls, ls -r and rm -r past 1,000 keys"
S="$T/page"
"$CAIRN" init --ec 2+1 "$S"/d{1..3} >/dev/null || { echo "init failed"; exit 1; }
export CAIRN_SET="$S/d1"
"$CAIRN" mb bkt >/dev/null
# Under p/: 1,080 entries for `ls bkt/p/` (objects p/NNNN, and every third N a directory p/NNNN/
# with one key, every 30th both an object and a directory). The 1,000th entry is a common prefix
# holding two keys, so the first page ends inside it. Outside p/: neighbours rm -r must not touch.
python3 - "$T" <<'PY'
import sys
t = sys.argv[1]
keys = []
for n in range(1050):
    d = 'p/%04d' % n
    if n % 3 == 0:
        keys.append(d + '/x')
        if n % 30 == 0: keys.append(d)
    else:
        keys.append(d)
entries = sorted({k if '/' not in k[2:] else k[:k.index('/', 2) + 1] for k in keys})
boundary = entries[999]
assert boundary.endswith('/'), boundary
keys.append(boundary + 'y')
keys.sort()
open(t + '/keys.p', 'w').write(''.join(k + '\n' for k in keys))
open(t + '/entries.p', 'w').write(''.join(e + '\n' for e in entries))
open(t + '/keys.other', 'w').write('p\np0\no/1\nq/p/1\npp/1\n')
PY
: >"$T/empty"
cat "$T/keys.p" "$T/keys.other" | sed 's|^|bkt/|' |
  xargs -P 2 -n 1 "$CAIRN" put --no-fsync "$T/empty" 2>"$T/put.err"
check "every put of $(wc -l <"$T/keys.p") + 5 keys succeeded" test ! -s "$T/put.err"
expect 0 "ls -r bkt/p/" "$CAIRN" --json ls -r bkt/p/
jq -r .key "$T/out" >"$T/got"
check "ls -r lists each of the $(wc -l <"$T/keys.p") keys once, in order" diff "$T/got" "$T/keys.p"
expect 0 "ls bkt/p/" "$CAIRN" --json ls bkt/p/
jq -r '.key // .prefix' "$T/out" >"$T/got"
check "ls lists each of the $(wc -l <"$T/entries.p") objects and prefixes once, in order" \
  diff "$T/got" "$T/entries.p"
expect 0 "ls bkt/p/ (human)" "$CAIRN" ls bkt/p/
awk '{print $NF}' "$T/out" >"$T/got"
check "human ls pages the same" diff "$T/got" "$T/entries.p"
expect 0 "ls -r bkt" "$CAIRN" ls -r bkt
check "ls -r of the bucket has every key" \
  diff <(awk '{print $NF}' "$T/out") <(sort "$T/keys.p" "$T/keys.other")
expect 0 "rm -r bkt/p/ deletes while it pages" "$CAIRN" --json rm -r bkt/p/
check "rm -r --json counts every key it deleted, none failed" \
  test "$(jq -r '"\(.deleted) \(.failed)"' "$T/out")" = "$(wc -l <"$T/keys.p") 0"
expect 0 "ls -r after rm -r" "$CAIRN" ls -r bkt
check "only the neighbours are left" diff <(awk '{print $NF}' "$T/out") <(sort "$T/keys.other")
check "no metadata or shard file under p/ is left" \
  test -z "$(find "$S"/d*/bkt/p~ -type f 2>/dev/null)"
expect 0 "rm -r of an empty prefix" "$CAIRN" --json rm -r bkt/p/
check "... deletes nothing" test "$(jq -r .deleted "$T/out")" = 0
unset CAIRN_SET

echo "== write quorum when K = M: K+1 members"
S="$T/q"
Q=("$S/d1" "$S/d2" "$S/d3" "$S/d4")
"$CAIRN" init --ec 2+2 "${Q[@]}" >/dev/null
export CAIRN_SET="${Q[0]}"
"$CAIRN" mb bkt >/dev/null
randfile "$T/qold" 300000
randfile "$T/qnew" 400000
expect 0 "put with every member" "$CAIRN" put "$T/qold" bkt/obj
mv "${Q[3]}" "$S/off4"
expect 0 "put with K+1 = 3 members succeeds" "$CAIRN" put "$T/qnew" bkt/three
"$CAIRN" get bkt/three "$T/back" 2>/dev/null
check "... and reads back" cmp -s "$T/back" "$T/qnew"
mv "${Q[2]}" "$S/off3"
expect 1 "put with exactly K = 2 members fails" "$CAIRN" put "$T/qnew" bkt/obj
check "... saying it is below the write quorum" grep -q "2 of 4 volumes online, a write needs 3" "$T/err"
expect 1 "a new key with K members fails" "$CAIRN" put "$T/qnew" bkt/new
expect 1 "rm with K members fails" "$CAIRN" rm bkt/three
expect 1 "mb with K members fails" "$CAIRN" mb other
"$CAIRN" get bkt/obj "$T/back" 2>/dev/null
check "reads still work with K members (read quorum is K)" cmp -s "$T/back" "$T/qold"
mv "$S/off3" "${Q[2]}"
mv "$S/off4" "${Q[3]}"
"$CAIRN" get bkt/obj "$T/back"
check "the failed overwrite left the old object" cmp -s "$T/back" "$T/qold"
expect 1 "the failed new key is not there" "$CAIRN" get bkt/new "$T/back"
check "the failed writes left no temp files" test -z "$(find "$S" -path '*/.cairn/tmp/*' -type f)"
expect 1 "the failed mb left no bucket" "$CAIRN" ls other
"$CAIRN" get bkt/three "$T/back"
check "the object rm could not remove is whole" cmp -s "$T/back" "$T/qnew"
unset CAIRN_SET

echo "== stat: every state, for real"
S="$T/st"
M=("$S/d1" "$S/d2" "$S/d3" "$S/d4" "$S/d5" "$S/d6")
"$CAIRN" init --ec 4+2 --block-size 64K "${M[@]}" >/dev/null
export CAIRN_SET="${M[0]}"
"$CAIRN" mb bkt >/dev/null
randfile "$T/s1" 500000
randfile "$T/s2" 600000
"$CAIRN" put --content-type application/x-test --meta color=blue "$T/s1" bkt/dir/obj
expect 0 "stat --json of a healthy object" "$CAIRN" --json stat bkt/dir/obj
check "stat --json: all ok" python3 -c "
import json, hashlib
d = json.load(open('$T/out'))
assert d['bucket'] == 'bkt' and d['key'] == 'dir/obj' and d['size'] == 500000, d
assert d['etag'] == hashlib.md5(open('$T/s1', 'rb').read()).hexdigest(), d
assert d['content_type'] == 'application/x-test' and d['meta'] == {'color': 'blue'}, d
assert d['ec'] == {'k': 4, 'm': 2, 'block_size': 65536, 'inline': False}, d
assert d['healthy_shards'] == 6 and len(d['version_id']) == 32, d
vols = d['volumes']
assert [v['position'] for v in vols] == [1, 2, 3, 4, 5, 6], vols
assert all(v['state'] == 'ok' for v in vols), vols
assert sorted(v['shard'] for v in vols) == [1, 2, 3, 4, 5, 6], vols
last = 500000 - 7 * 65536
assert all(v['shard_bytes'] == 7 * (16384 + 8) + (last + 3) // 4 + 8 for v in vols), vols
"
meta() { echo "$1/bkt/dir~/obj="; }
shard() { find "$1/bkt/dir~" -name 'obj=?*' ! -name '*.prev' -type f | head -1; }
# stat_states: "member state shard" per line, from stat --json and from the human output, which
# must agree; the shard is - where stat gives none.
stat_json() { jq -r '.volumes[] | "\(.position) \(.state) \(.shard // "-")"' "$T/out"; }
stat_text() { awk '$1 ~ /^[0-9]+$/ && $3 == "shard" {print $1, $2, $4}' "$T/out"; }
# Round 1: stale (member 1 missed an overwrite), offline (member 2 gone), missing-shard (3);
# members 4 to 6 ok. Four current copies: a read quorum, and K good shards once 2 is back.
mv "${M[0]}" "$S/off1"
export CAIRN_SET="${M[1]}"
"$CAIRN" put "$T/s2" bkt/dir/obj 2>/dev/null
mv "$S/off1" "${M[0]}"
mv "${M[1]}" "$S/off2"
export CAIRN_SET="${M[0]}"
rm "$(shard "${M[2]}")"
expect 0 "stat --json, round 1" "$CAIRN" --json stat bkt/dir/obj
stat_json >"$T/json1"
check "stat --json: stale, offline, missing-shard, ok, ok, ok" \
  test "$(cut -d' ' -f1,2 "$T/json1" | tr '\n' ' ')" = "1 stale 2 offline 3 missing-shard 4 ok 5 ok 6 ok "
check "stat --json: no shard for the stale and offline members" \
  test "$(awk '$3 == "-" {print $1}' "$T/json1" | tr '\n' ' ')" = "1 2 "
check "stat --json: the new version's size, its user metadata gone, 3 healthy" python3 -c "
import json; d = json.load(open('$T/out'))
assert d['size'] == 600000 and 'meta' not in d and d['healthy_shards'] == 3, d"
check "stat --json names the offline member's path" \
  test "$(jq -r '.volumes[1].volume' "$T/out")" = "${M[1]}"
expect 0 "stat, round 1" "$CAIRN" stat bkt/dir/obj
check "stat text agrees with --json" diff <(stat_text) "$T/json1"
check "stat text: 3 of 6 ok (degraded)" grep -q "health        3 of 6 shards ok (degraded)" "$T/out"
check "stat text: no user metadata on the new version" test "$(grep -c '^  meta ' "$T/out")" -eq 0
mv "$S/off2" "${M[1]}"
"$CAIRN" heal >/dev/null 2>&1
expect 0 "heal made it whole" "$CAIRN" verify --deep
# Round 2: missing (member 1 lost its metadata), corrupt-meta (2), short-shard (3); 4 to 6 ok.
rm "$(meta "${M[0]}")"
flip "$(meta "${M[1]}")" 40
truncate -s 1000 "$(shard "${M[2]}")"
expect 0 "stat --json, round 2" "$CAIRN" --json stat bkt/dir/obj
stat_json >"$T/json2"
check "stat --json: missing, corrupt-meta, short-shard, ok, ok, ok" \
  test "$(cut -d' ' -f1,2 "$T/json2" | tr '\n' ' ')" = "1 missing 2 corrupt-meta 3 short-shard 4 ok 5 ok 6 ok "
check "stat --json: no shard for missing and corrupt metadata" \
  test "$(awk '$3 == "-" {print $1}' "$T/json2" | tr '\n' ' ')" = "1 2 "
check "stat --json: members 3 to 6 each name a different shard" \
  test "$(awk '$3 != "-" {print $3}' "$T/json2" | sort -u | wc -l)" -eq 4
expect 0 "stat, round 2" "$CAIRN" stat bkt/dir/obj
check "stat text agrees with --json" diff <(stat_text) "$T/json2"
check "stat text: 3 of 6 ok (degraded)" grep -q "health        3 of 6 shards ok (degraded)" "$T/out"
# Below a read quorum of current copies, stat fails like get.
rm "$(meta "${M[2]}")"
expect 1 "stat below read quorum fails" "$CAIRN" stat bkt/dir/obj
unset CAIRN_SET

echo "== --json of put, ls (buckets), encode"
S="$T/js"
"$CAIRN" init --ec 2+1 "$S"/d{1..3} >/dev/null
export CAIRN_SET="$S/d1"
expect 0 "mb alpha" "$CAIRN" mb alpha
expect 0 "mb beta" "$CAIRN" mb beta
randfile "$T/j1" 200000
start=$(date -u +%s)
expect 0 "put --json" "$CAIRN" --json put --content-type text/plain --meta a=1 --meta b=two \
  "$T/j1" alpha/x/y
check "put --json describes the stored object" python3 -c "
import json, hashlib, calendar, time
lines = open('$T/out').read().splitlines()
assert len(lines) == 1, lines
d = json.loads(lines[0])
assert d['bucket'] == 'alpha' and d['key'] == 'x/y' and d['size'] == 200000, d
assert d['etag'] == hashlib.md5(open('$T/j1', 'rb').read()).hexdigest(), d
assert d['content_type'] == 'text/plain' and d['meta'] == {'a': '1', 'b': 'two'}, d
t = calendar.timegm(time.strptime(d['modified'], '%Y-%m-%dT%H:%M:%SZ'))
assert $start - 2 <= t <= time.time() + 2, d
"
expect 0 "put --json --etag fast of an empty object" "$CAIRN" --json put --etag fast "$T/empty" beta/e
check "put --json: an empty object, fast ETag, no content type or meta" python3 -c "
import json, re
d = json.load(open('$T/out'))
assert d['size'] == 0 and re.fullmatch('x[0-9a-f]{32}', d['etag']), d
assert 'content_type' not in d and 'meta' not in d, d
"
expect 0 "ls --json (buckets)" "$CAIRN" --json ls
check "ls --json lists each bucket once, with its creation time" python3 -c "
import json, calendar, time
rows = [json.loads(l) for l in open('$T/out')]
assert [r['bucket'] for r in rows] == ['alpha', 'beta'], rows
for r in rows:
    t = calendar.timegm(time.strptime(r['created'], '%Y-%m-%dT%H:%M:%SZ'))
    assert $start - 60 <= t <= time.time() + 2, r
"
expect 0 "ls (buckets)" "$CAIRN" ls
check "ls lists the buckets" test "$(awk '{print $NF}' "$T/out" | tr '\n' ' ')" = "alpha/ beta/ "
expect 0 "rm -r --json" "$CAIRN" --json rm -r alpha/x/
check "rm -r --json: one JSON document counting the deleted object" python3 -c "
import json
lines = open('$T/out').read().splitlines()
assert len(lines) == 1, lines
d = json.loads(lines[0])
assert d['bucket'] == 'alpha' and d['prefix'] == 'x/', d
assert d['deleted'] == 1 and d['failed'] == 0, d
"
unset CAIRN_SET
mkdir -p "$T/enc"
randfile "$T/enc/in.bin" 3000001
expect 0 "encode --json" "$CAIRN" --json encode -k 3 -m 2 --block-size 512K -o "$T/enc" "$T/enc/in.bin"
check "encode --json matches the shard files it wrote" python3 -c "
import json, struct, os
d = json.load(open('$T/out'))
assert d['name'] == 'in.bin' and d['size'] == 3000001 and d['k'] == 3 and d['m'] == 2, d
assert d['block_size'] == 512 * 1024, d
want = ['$T/enc/in.bin.%d-of-5.cairn' % i for i in range(1, 6)]
assert d['files'] == want, d
for i, p in enumerate(want):
    h = open(p, 'rb').read(512)
    assert h[:8] == b'CAIRNSHD', p
    assert h[16:32].hex() == d['set_id'], (p, d)
    assert struct.unpack_from('<I', h, 32)[0] == i, p
    assert struct.unpack_from('<Q', h, 48)[0] == d['size'], p
    hi, lo = struct.unpack_from('<QQ', h, 56)
    assert '%016x%016x' % (hi, lo) == d['hash'], (p, d)
"
check "encode --json's files decode to the input" \
  bash -c '"$1" decode -o - "$2"/in.bin.{1,3,5}-of-5.cairn | cmp -s - "$2/in.bin"' _ "$CAIRN" "$T/enc"

finish
