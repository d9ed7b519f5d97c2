#!/usr/bin/env bash
# End-to-end tests: drive the real cairn binary like a user would.
# Usage: tests/e2e.sh path/to/cairn
source "$(dirname "$0")/e2e_lib.sh"

echo "== usage errors"
expect 2 "no subcommand" "$CAIRN"
expect 2 "unknown flag" "$CAIRN" init --bogus "$T/x"
expect 2 "bad K+M" "$CAIRN" init --ec 4-2 "$T"/bad{1..6}
expect 2 "K+M does not match dirs" "$CAIRN" init --ec 4+2 "$T"/bad{1..5}
expect 2 "K = 0" "$CAIRN" init --ec 0+2 "$T"/bad{1..2}
expect 2 "K+M over 32" "$CAIRN" init --ec 30+3 "$T"/bad{1..33}
mkdir -p "$T/full" && echo data >"$T/full/keep"
expect 2 "non-empty dir refused" "$CAIRN" init "$T/full"
check "refused init left the file" test -f "$T/full/keep"
expect 2 "no set given" env -u CAIRN_SET "$CAIRN" ls
expect 1 "not a set member" "$CAIRN" --set "$T/full" ls
expect 0 "--help" "$CAIRN" --help
expect 0 "version" "$CAIRN" version

bs=$((1024 * 1024))
big_mb=${CAIRN_E2E_BIG_MB:-200}
randfile "$T/big" $((big_mb * 1024 * 1024))
for ec in 1+0 2+1 4+2 8+4; do
  k=${ec%+*}; m=${ec#*+}; n=$((k + m))
  echo "== round trips, $ec"
  S="$T/set$ec"
  dirs=(); for i in $(seq 1 "$n"); do dirs+=("$S/d$i"); done
  expect 0 "init $ec" "$CAIRN" init --ec "$ec" "${dirs[@]}"
  expect 2 "init twice refused" "$CAIRN" init --ec "$ec" "${dirs[@]}"
  export CAIRN_SET="${dirs[0]}"
  expect 0 "mb" "$CAIRN" mb bkt
  expect 1 "mb twice" "$CAIRN" mb bkt
  for size in 0 1 $((bs - 1)) $bs $((bs + 1)) $((10 * bs + 7)); do
    randfile "$T/in.$size" "$size"
    expect 0 "put $size" "$CAIRN" put "$T/in.$size" "bkt/sizes/$size"
    "$CAIRN" get "bkt/sizes/$size" "$T/back" 2>"$T/err"
    check "get $size identical ($ec)" cmp -s "$T/in.$size" "$T/back"
  done
  expect 0 "put big" "$CAIRN" put --no-fsync "$T/big" bkt/big
  "$CAIRN" get bkt/big - | cmp -s - "$T/big"
  check "big file identical via stdout ($ec)" test "${PIPESTATUS[0]}${PIPESTATUS[1]}" = 00
  # stdin input and ranges
  cat "$T/in.$((10 * bs + 7))" | "$CAIRN" put - bkt/stdin
  check "put from stdin" test $? -eq 0
  "$CAIRN" get bkt/stdin "$T/back"
  check "stdin object identical" cmp -s "$T/back" "$T/in.$((10 * bs + 7))"
  "$CAIRN" get --range 1000-1048675 bkt/stdin - >"$T/range"
  tail -c +1001 "$T/in.$((10 * bs + 7))" | head -c 1047676 >"$T/range.want"
  check "range read ($ec)" cmp -s "$T/range" "$T/range.want"
  expect 2 "bad range" "$CAIRN" get --range x-1 bkt/stdin -
  expect 2 "range past the end" "$CAIRN" get --range 999999999-1000000000 bkt/stdin -

  if ((m > 0)); then
    echo "== $m members lost, then bits flipped, $ec"
    for i in $(seq 2 $((m + 1))); do mv "$S/d$i" "$S/gone$i"; done
    "$CAIRN" get bkt/big - 2>"$T/warn" | cmp -s - "$T/big"
    check "big read with $m members missing ($ec)" test "${PIPESTATUS[0]}${PIPESTATUS[1]}" = 00
    check "degraded warning" grep -q "offline" "$T/warn"
    "$CAIRN" get "bkt/sizes/$bs" "$T/back" 2>/dev/null
    check "block-size object read degraded" cmp -s "$T/back" "$T/in.$bs"
    # M+1 lost: the set refuses, exit 1, no output file.
    mv "$S/d$((m + 2))" "$S/gone$((m + 2))"
    expect 1 "M+1 members lost" "$CAIRN" get bkt/big "$T/nothing"
    check "no output file after failed get" test ! -e "$T/nothing"
    for i in $(seq 2 $((m + 2))); do mv "$S/gone$i" "$S/d$i"; done
    # Bitrot in M data shards of the big object (a healthy read uses the data shards, so the
    # damage must be seen and rebuilt around): data shard s loses block s-1 and the last block
    # (all M of them the same block: exactly M losses), shard 1 also blocks 10-12.
    "$CAIRN" stat --json bkt/big >"$T/stat.json"
    : >"$T/want.problems"
    for s in $(seq 1 "$m"); do
      p=$(jq -r ".volumes[] | select(.shard == $s) | .position" "$T/stat.json")
      f=$(find "$S/d$p/bkt" -maxdepth 1 -name 'big=?*' ! -name '*.prev' | head -n 1)
      check "data shard $s found on member $p ($ec)" test -n "$f"
      python3 - "$f" "$k" "$bs" "$((big_mb * bs))" "$s" "$p" >>"$T/want.problems" <<'PY'
import json, sys
path, k, bs, size, s, member = sys.argv[1], *map(int, sys.argv[2:])
nb = (size + bs - 1) // bs
full = (bs + k - 1) // k + 8                       # framed chunk of a full block
blocks = sorted({s - 1, nb - 1} | ({10, 11, 12} if s == 1 else set()))
blocks = [b for b in blocks if b < nb]
with open(path, 'r+b') as f:
    for b in blocks:
        f.seek(b * full + 17); c = f.read(1); f.seek(b * full + 17); f.write(bytes([c[0] ^ 0xFF]))
ranges = []
for b in blocks:
    if ranges and ranges[-1][1] == b - 1: ranges[-1][1] = b
    else: ranges.append([b, b])
print(json.dumps([member, s, "corrupt-blocks", ranges], separators=(',', ':')))
PY
    done
    expect 3 "verify --deep sees the damaged data shards ($ec)" "$CAIRN" verify --deep --json bkt
    check "verify --deep names only bkt/big ($ec)" \
      test "$(jq -r 'select(.type=="object") | .key' "$T/out")" = big
    jq -c 'select(.key=="big") | .problems[] | [.member, .shard, .problem, .blocks]' "$T/out" >"$T/got.problems"
    check "verify --deep names the damaged members, shards and blocks ($ec)" \
      diff <(sort "$T/got.problems") <(sort "$T/want.problems")
    "$CAIRN" get bkt/big - | cmp -s - "$T/big"
    check "big read around $m corrupted data shards ($ec)" test "${PIPESTATUS[0]}${PIPESTATUS[1]}" = 00
    expect 0 "heal the corrupted shards ($ec)" "$CAIRN" heal bkt
    expect 0 "verify --deep clean after heal ($ec)" "$CAIRN" verify --deep bkt
    "$CAIRN" stat bkt/big >"$T/stat"
    check "stat human output" grep -q "layout        $k+$m" "$T/stat"
  fi
  expect 0 "rm -r" "$CAIRN" rm -r bkt/sizes/
  "$CAIRN" ls -r bkt >"$T/ls"
  check "rm -r removed the prefix" test "$(grep -c sizes/ "$T/ls")" -eq 0
  rm -rf "$S"
done
unset CAIRN_SET

echo "== objects, buckets, json"
S="$T/main"
"$CAIRN" init --ec 2+1 "$S"/d{1..3} >/dev/null
export CAIRN_SET="$S/d2"
expect 2 "invalid bucket name" "$CAIRN" mb Bad_Name
expect 0 "mb" "$CAIRN" mb data
echo a >"$T/a"
expect 0 "put a" "$CAIRN" put --content-type text/plain --meta owner=me "$T/a" data/a
expect 0 "put a/" "$CAIRN" put "$T/a" data/a/
expect 0 "put a/b" "$CAIRN" put "$T/a" data/a/b
expect 1 "missing input file" "$CAIRN" put "$T/no-such-file" data/x
expect 1 "no such bucket" "$CAIRN" put "$T/a" nobucket/x
expect 2 "key over 1024 bytes" "$CAIRN" put "$T/a" "data/$(head -c 1025 /dev/zero | tr '\0' k)"
expect 2 "bad --etag" "$CAIRN" put --etag sha1 "$T/a" data/x
expect 2 "bad --meta" "$CAIRN" put --meta novalue "$T/a" data/x
expect 1 "get missing key" "$CAIRN" get data/nope -
expect 2 "get without key" "$CAIRN" get data -
"$CAIRN" ls data >"$T/ls"
check "ls rolls up a/" grep -q "PRE  a/" "$T/ls"
check "ls shows a" grep -qE ' a$' "$T/ls"
"$CAIRN" --json ls -r data >"$T/ls.json"
check "ls --json is JSON lines of 3 objects" python3 -c "
import json,sys
rows=[json.loads(l) for l in open('$T/ls.json')]
assert [r['key'] for r in rows]==['a','a/','a/b'], rows
"
"$CAIRN" stat --json data/a >"$T/stat.json"
check "stat --json" python3 -c "
import json
d=json.load(open('$T/stat.json'))
assert d['size']==2 and d['content_type']=='text/plain' and d['meta']=={'owner':'me'}, d
assert d['etag']=='60b725f10c9c85c70d97880dfe8191b3', d
assert len(d['volumes'])==3 and all(v['state']=='ok' for v in d['volumes']), d
"
"$CAIRN" ls >"$T/buckets"
check "ls lists buckets" grep -q "data/" "$T/buckets"
env -u CAIRN_SET "$CAIRN" ls --set "$S/d3" >"$T/buckets2"
check "--set after the subcommand" cmp -s "$T/buckets" "$T/buckets2"
"$CAIRN" init "$T/other"/d{1..2} >/dev/null
env -u CAIRN_SET "$CAIRN" --set "$S/d1" --set "$T/other/d1" ls >"$T/buckets3" 2>"$T/warn"
check "a foreign member is ignored with a warning" grep -q "belongs to another volume set" "$T/warn"
check "... and the set still answers" cmp -s "$T/buckets" "$T/buckets3"
expect 0 "rm a" "$CAIRN" rm data/a
check "a/ survives rm a" "$CAIRN" get data/a/ "$T/back"
check "a/b survives rm a" "$CAIRN" get data/a/b "$T/back"
expect 1 "rm missing" "$CAIRN" rm data/a
expect 1 "rb non-empty" "$CAIRN" rb data
expect 0 "rb --force" "$CAIRN" rb --force data
expect 1 "bucket gone" "$CAIRN" ls data
expect 2 "completion unknown shell" "$CAIRN" completion tcsh
expect 0 "completion bash" "$CAIRN" completion bash

echo "== SIGKILL during put keeps the old object"
"$CAIRN" mb kill >/dev/null
randfile "$T/old" 3000000
"$CAIRN" put "$T/old" kill/obj
kill_put_midway kill/obj 30000000
"$CAIRN" get kill/obj "$T/back"
check "old object intact after SIGKILL" cmp -s "$T/back" "$T/old"
check "no partial object listed" test "$("$CAIRN" ls -r kill | wc -l)" -eq 1
check "one shard file per member for the object" test "$(find "$S"/d*/kill -name 'obj=?*' ! -name '*.prev' | wc -l)" -eq 3

# Concurrent puts and gets from separate processes: tests/e2e_concurrent.sh.

echo "== shard files: encode, decode, verify, repair"
unset CAIRN_SET
D="$T/shards"; mkdir -p "$D/out"
randfile "$D/file" $((33 * 1024 * 1024 + 5))
expect 0 "encode 4+2" "$CAIRN" encode -k 4 -m 2 -o "$D/out" "$D/file"
check "six shard files" test "$(ls "$D/out" | grep -c '^file\.[1-6]-of-6\.cairn$')" -eq 6
mkdir -p "$D/orig" && cp "$D"/out/* "$D/orig/"
expect 2 "encode refuses existing shards" "$CAIRN" encode -k 4 -m 2 -o "$D/out" "$D/file"
expect 0 "verify healthy" "$CAIRN" verify "$D/out"
rm "$D/out/file.1-of-6.cairn" "$D/out/file.4-of-6.cairn"
expect 3 "verify degraded" "$CAIRN" verify "$D/out"
"$CAIRN" --json verify "$D/out" >"$T/v.json" 2>/dev/null
check "verify --json names the missing shards" python3 -c "
import json
d=json.load(open('$T/v.json'))['encodes'][0]
st=[s['state'] for s in d['shards']]
assert st==['missing','ok','ok','missing','ok','ok'] and d['recoverable'] and not d['healthy'], d
"
expect 0 "decode with 2 missing" "$CAIRN" decode -o "$D/back" "$D/out"
check "decoded identical" cmp -s "$D/back" "$D/file"
expect 0 "decode -o replaces an existing output (a name typed by the user)" "$CAIRN" decode -o "$D/back" "$D/out"
expect 0 "decode --force" "$CAIRN" decode --force -o "$D/back" "$D/out"
"$CAIRN" decode -o - "$D"/out/file.2-of-6.cairn "$D"/out/file.3-of-6.cairn "$D"/out/file.5-of-6.cairn "$D"/out/file.6-of-6.cairn | cmp -s - "$D/file"
check "decode to stdout from named shards" test "${PIPESTATUS[0]}${PIPESTATUS[1]}" = 00
expect 0 "repair" "$CAIRN" repair "$D/out"
for i in 1 2 3 4 5 6; do
  check "repaired shard $i identical to the original" cmp -s "$D/out/file.$i-of-6.cairn" "$D/orig/file.$i-of-6.cairn"
done
# Damage beyond M: three shards lose the same block.
for i in 1 2 3; do
  printf 'ZZZZZZZZ' | dd of="$D/out/file.$i-of-6.cairn" bs=1 seek=1000 conv=notrunc 2>/dev/null
done
expect 1 "verify unrecoverable" "$CAIRN" verify "$D/out"
expect 1 "decode unrecoverable" "$CAIRN" decode -o "$D/never" "$D/out"
check "no output file after a failed decode" test -z "$(ls -a "$D" | grep never)"
expect 1 "repair unrecoverable" "$CAIRN" repair "$D/out"
cp "$D"/orig/* "$D/out/"
# Mixed encodes, a corrupted header, a zero-length shard, stdin.
mkdir -p "$D/other"
randfile "$D/file2" 100000
cp "$D/file2" "$D/other/file"
"$CAIRN" encode -k 4 -m 2 "$D/other/file" >/dev/null
expect 2 "decode refuses mixed encodes" "$CAIRN" decode -o "$D/mix" "$D"/out/file.1-of-6.cairn "$D"/out/file.2-of-6.cairn "$D"/out/file.3-of-6.cairn "$D"/other/file.4-of-6.cairn
check "no output after mixed" test ! -e "$D/mix"
printf 'garbage!' | dd of="$D/out/file.2-of-6.cairn" bs=1 seek=20 conv=notrunc 2>/dev/null
: >"$D/out/file.5-of-6.cairn"
expect 3 "verify: corrupt header and zero-length shard are degraded" "$CAIRN" verify "$D/out"
expect 0 "decode around them" "$CAIRN" decode -o "$D/back2" "$D/out"
check "decoded identical around bad shards" cmp -s "$D/back2" "$D/file"
head -c 3000000 /dev/urandom >"$D/piped"
mkdir -p "$D/stdin"
cat "$D/piped" | "$CAIRN" encode -k 3 -m 3 --name piped -o "$D/stdin" - >/dev/null
check "encode from stdin" test "${PIPESTATUS[1]}" -eq 0
rm "$D"/stdin/piped.[135]-of-6.cairn
"$CAIRN" decode -o - "$D/stdin" | cmp -s - "$D/piped"
check "stdin encode decodes from any 3 of 6" test "${PIPESTATUS[0]}${PIPESTATUS[1]}" = 00
expect 1 "decode of a missing path" "$CAIRN" decode -o "$D/x" "$D/no-such-dir"
expect 2 "encode with bad K+M" "$CAIRN" encode -k 0 -m 2 "$D/file"
expect 0 "encode -o creates a missing directory" "$CAIRN" encode -o "$D/nowhere" "$D/file"

finish
