#!/usr/bin/env bash
# End-to-end tests of the S3 client commands (ls, cat, rm, presign, cp, and stat/get/put on s3://
# URLs) against a `cairn serve` of a plain directory on a free loopback port, with SigV4
# credentials given through the environment and through a profile file in a temporary HOME.
# Usage: tests/e2e_s3client.sh path/to/cairn
source "$(dirname "$0")/e2e_lib.sh"
client_env
mkdir -p "$HOME/.aws" "$T/data/bkt/dir/sub" "$T/data/other"

AK=AKS3CLIENT0001 SK=s3client-secret-0123456789
"$CAIRN" serve --no-fsync --address 127.0.0.1:0 --port-file "$T/port" --access-key "$AK" \
  --secret-key "$SK" "$T/data" >"$T/serve.out" 2>"$T/serve.err" &
PIDS+=("$!")
for _ in $(seq 100); do [[ -s "$T/port" ]] && break; sleep 0.1; done
[[ -s "$T/port" ]] || { echo "server did not start: $(cat "$T/serve.err")"; exit 1; }
U="http://127.0.0.1:$(cat "$T/port")"

# The tree the server shows: bucket bkt with objects at several depths, and bucket other.
randfile "$T/data/bkt/top.bin" 70000
randfile "$T/data/bkt/dir/a.bin" 1000
randfile "$T/data/bkt/dir/sub/b.bin" 1
printf 'hello\n' >"$T/data/bkt/dir/sub/with space.txt"
: >"$T/data/bkt/empty"

envc=(env AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" AWS_ENDPOINT_URL="$U")
c() { "${envc[@]}" "$CAIRN" "$@"; }

echo "== credentials from the environment: ls"
expect 0 "ls buckets" c ls s3://
check "both buckets" bash -c "grep -q ' bkt/\$' '$T/out' && grep -q ' other/\$' '$T/out'"
expect 0 "ls bucket" c ls s3://bkt
check "top level: a prefix and two objects" [ "$(cat "$T/out" | wc -l)" = 3 ]
check "PRE dir/" grep -q 'PRE  dir/$' "$T/out"
check "top.bin with its size" grep -q ' 70000  top.bin$' "$T/out"
expect 0 "ls prefix" c ls s3://bkt/dir/
check "dir/a.bin and PRE dir/sub/" bash -c "grep -q ' dir/a.bin\$' '$T/out' && grep -q 'PRE  dir/sub/\$' '$T/out'"
expect 0 "ls -r" c ls -r s3://bkt
check "recursive: five objects" [ "$(wc -l <"$T/out")" = 5 ]
check "recursive: the deepest key" grep -q ' dir/sub/with space.txt$' "$T/out"
expect 0 "ls -r --json" c --json ls -r s3://bkt/dir/
check "json lines with keys, sizes and ETags" python3 -c "
import json,sys
rows=[json.loads(l) for l in open('$T/out')]
assert [r['key'] for r in rows]==['dir/a.bin','dir/sub/b.bin','dir/sub/with space.txt'], rows
assert rows[0]['size']==1000 and rows[0]['bucket']=='bkt' and len(rows[0]['etag'])>=32, rows
"
expect 0 "ls --json buckets" c --json ls s3://
check "json buckets" python3 -c "
import json
assert sorted(json.loads(l)['bucket'] for l in open('$T/out'))==['bkt','other']"

echo "== cat"
expect 0 "cat top.bin" c cat s3://bkt/top.bin
check "cat byte-identical" cmp -s "$T/out" "$T/data/bkt/top.bin"
expect 0 "cat a key with a space" c cat "s3://bkt/dir/sub/with space.txt"
check "cat text" [ "$(cat "$T/out")" = hello ]
expect 0 "cat empty" c cat s3://bkt/empty
check "cat empty is empty" [ ! -s "$T/out" ]
expect 1 "cat a missing key" c cat s3://bkt/nope
check "names the key and NoSuchKey" grep -q '^cairn: cat: GET bkt/nope: NoSuchKey' "$T/err"
check "nothing on stdout" [ ! -s "$T/out" ]

echo "== stat, get, put on s3:// (the volume-set commands over S3ObjectStore)"
expect 0 "put with type, meta and checksum" c put --content-type text/x-e2e --meta color=blue --checksum crc32c "$T/data/bkt/dir/a.bin" s3://other/put/a.bin
check "put byte-identical" cmp -s "$T/data/other/put/a.bin" "$T/data/bkt/dir/a.bin"
expect 0 "stat" c stat s3://other/put/a.bin
check "stat: name and size" bash -c "grep -qx 'other/put/a.bin' '$T/out' && grep -q '^  size          1000 ' '$T/out'"
check "stat: MD5 ETag" grep -q "^  etag          $(md5sum <"$T/data/bkt/dir/a.bin" | cut -c1-32)\$" "$T/out"
check "stat: type, meta, checksum" bash -c "grep -q '^  content-type  text/x-e2e\$' '$T/out' && grep -q '^  meta          color=blue\$' '$T/out' && grep -q '^  checksum      CRC32C .* (FULL_OBJECT)\$' '$T/out'"
check "stat: no layout (not a volume set)" bash -c "! grep -q layout '$T/out'"
expect 0 "stat --json" c --json stat s3://other/put/a.bin
check "stat json" python3 -c "
import json
j=json.loads(open('$T/out').read())
assert j['bucket']=='other' and j['key']=='put/a.bin' and j['size']==1000, j
assert j['meta']=={'color':'blue'} and j['content_type']=='text/x-e2e', j
assert j['checksum']['algorithm']=='CRC32C' and j['checksum']['type']=='FULL_OBJECT', j"
expect 0 "get to a file" c get s3://other/put/a.bin "$T/got.bin"
check "get byte-identical" cmp -s "$T/got.bin" "$T/data/bkt/dir/a.bin"
expect 0 "get --range to stdout" c get --range 10-19 s3://other/put/a.bin -
check "the range's bytes" cmp -s "$T/out" <(tail -c +11 "$T/data/bkt/dir/a.bin" | head -c 10)
expect 0 "get --range -N" c get --range -7 s3://other/put/a.bin -
check "the last 7 bytes" cmp -s "$T/out" <(tail -c 7 "$T/data/bkt/dir/a.bin")
randfile "$T/pipe.bin" 12000000
expect 0 "put from stdin (multipart above 8 MiB), with a checksum" bash -c "$(printf '%q ' "${envc[@]}" "$CAIRN") put --checksum crc32c - s3://other/pipe.bin <'$T/pipe.bin'"
check "stdin upload byte-identical" cmp -s "$T/data/other/pipe.bin" "$T/pipe.bin"
expect 0 "stat of the multipart object" c stat s3://other/pipe.bin
check "a two-part ETag and a FULL_OBJECT checksum" bash -c "grep -q '^  etag          [0-9a-f]\{32\}-2\$' '$T/out' && grep -q '^  checksum      CRC32C .* (FULL_OBJECT)\$' '$T/out'"
expect 0 "get of the multipart object" c get s3://other/pipe.bin "$T/pipe.got"
check "multipart get byte-identical" cmp -s "$T/pipe.got" "$T/pipe.bin"
expect 1 "stat of a missing key" c stat s3://other/nope
check "stat names NoSuchKey" grep -q '^cairn: stat: HEAD other/nope: NoSuchKey' "$T/err"
expect 1 "get from a missing bucket" c get s3://nobucket/x "$T/nofile"
check "get names NoSuchBucket" grep -q 'NoSuchBucket' "$T/err"
check "get made no file" [ ! -e "$T/nofile" ]
expect 0 "get to stdout when it is not a terminal" c get s3://other/put/a.bin
check "stdout byte-identical" cmp -s "$T/out" "$T/data/bkt/dir/a.bin"
expect 2 "put without a key" c put "$T/got.bin" s3://other
expect 2 "get without a key" c get s3://other/ -
expect 1 "put --etag fast is not for S3" c put --etag fast "$T/got.bin" s3://other/fast
check "says why" grep -q 'an S3 server makes the ETag' "$T/err"
check "nothing stored" [ ! -e "$T/data/other/fast" ]
expect 1 "put of a missing file" c put "$T/no-such-file" s3://other/x
expect 1 "put with a wrong secret" env AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY=wrong AWS_ENDPOINT_URL="$U" "$CAIRN" put "$T/got.bin" s3://other/denied
check "SignatureDoesNotMatch" grep -q 'SignatureDoesNotMatch' "$T/err"
check "nothing stored with a wrong secret" [ ! -e "$T/data/other/denied" ]

echo "== credentials from a profile file"
printf '[default]\nregion = us-east-1\n[profile e2e]\nendpoint_url = %s\n' "$U" >"$HOME/.aws/config"
printf '[e2e]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$AK" "$SK" >"$HOME/.aws/credentials"
expect 0 "--profile" "$CAIRN" --profile e2e ls s3://bkt/dir/sub/
check "listed through the profile" grep -q ' dir/sub/b.bin$' "$T/out"
expect 0 "AWS_PROFILE" env AWS_PROFILE=e2e "$CAIRN" cat s3://bkt/dir/sub/b.bin
check "cat through AWS_PROFILE" cmp -s "$T/out" "$T/data/bkt/dir/sub/b.bin"
printf '[elsewhere]\naws_access_key_id = x\naws_secret_access_key = y\n' >"$T/creds2"
expect 1 "AWS_SHARED_CREDENTIALS_FILE is read (unknown key)" env AWS_SHARED_CREDENTIALS_FILE="$T/creds2" AWS_PROFILE=elsewhere AWS_ENDPOINT_URL="$U" "$CAIRN" ls s3://
check "InvalidAccessKeyId" grep -q 'InvalidAccessKeyId' "$T/err"
expect 2 "a missing profile" "$CAIRN" --profile nope ls s3://
check "says which profile" grep -q '(nope) could not be found' "$T/err"

echo "== presign"
expect 0 "presign" c presign --expires 10m s3://bkt/top.bin
check "presigned URL on the endpoint" grep -q "^$U/bkt/top.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&" "$T/out"
check "curl GET of the presigned URL" bash -c "curl -sf -o '$T/pre' \"\$(cat '$T/out')\" && cmp -s '$T/pre' '$T/data/bkt/top.bin'"
check "a tampered URL is refused" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' \"\$(sed 's/top.bin/dir%2Fa.bin/' '$T/out')\")\" = 403 ]"
expect 0 "presign --put" c presign --put s3://bkt/uploaded
check "curl PUT to it" bash -c "printf put-body | curl -sf -T - \"\$(cat '$T/out')\" >/dev/null && [ \"\$(cat '$T/data/bkt/uploaded')\" = put-body ]"
expect 2 "presign beyond 7 days" c presign --expires 8d s3://bkt/top.bin

echo "== cp"
randfile "$T/up.bin" 20000000
expect 0 "cp upload (multipart, parallel parts)" c cp --part-size 5MiB --jobs 3 "$T/up.bin" s3://bkt/up/
check "uploaded byte-identical" cmp -s "$T/data/bkt/up/up.bin" "$T/up.bin"
expect 0 "cp download (parallel ranges)" c cp --jobs 3 s3://bkt/up/up.bin "$T/down.bin"
check "downloaded byte-identical" cmp -s "$T/down.bin" "$T/up.bin"
# A file put beside the server: once read whole, its ETag is its MD5 (docs/plain.md, "ETags").
cp "$T/up.bin" "$T/data/bkt/up/plain.bin"
expect 0 "a whole read teaches the server the MD5" c cat s3://bkt/up/plain.bin
expect 0 "its ETag is an MD5" c --json ls s3://bkt/up/plain.bin
check "MD5 ETag" grep -q "\"etag\":\"$(md5sum <"$T/up.bin" | cut -c1-32)\"" "$T/out"
expect 0 "cp download of an MD5-ETag object in ranges, checked" c cp --part-size 5MiB s3://bkt/up/plain.bin "$T/"
check "downloaded into the directory, byte-identical" cmp -s "$T/plain.bin" "$T/up.bin"
check "no temp file left" bash -c "[ -z \"\$(ls -A '$T' | grep cairn-)\" ]"
expect 0 "cp small upload" c cp "$T/data/bkt/dir/a.bin" s3://other/copied.bin
check "small upload" cmp -s "$T/data/other/copied.bin" "$T/data/bkt/dir/a.bin"
expect 0 "cp s3 to s3" c cp s3://other/copied.bin s3://bkt/copied-again
check "server-side copy" cmp -s "$T/data/bkt/copied-again" "$T/data/bkt/dir/a.bin"
expect 1 "cp of a missing object" c cp s3://bkt/missing "$T/missing"
check "no file made" [ ! -e "$T/missing" ]

echo "== SIGINT during a multipart upload aborts it"
uploads() { curl -s --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$U/other?uploads="; }
randfile "$T/huge.bin" 104857600
"${envc[@]}" "$CAIRN" cp --part-size 5MiB --jobs 1 "$T/huge.bin" s3://other/huge.bin >"$T/int.out" 2>"$T/int.err" &
cpid=$!
PIDS+=("$cpid")
for _ in $(seq 200); do uploads | grep -q '<UploadId>' && break; sleep 0.05; done
check "an upload was in progress" bash -c "curl -s --aws-sigv4 'aws:amz:us-east-1:s3' --user '$AK:$SK' -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' '$U/other?uploads=' | grep -q '<UploadId>'"
kill -INT "$cpid"
wait "$cpid"
check "interrupted cp exits 1" [ $? = 1 ]
check "says it aborted the upload" grep -q '^cairn: cp: interrupted: the multipart upload of s3://other/huge.bin was aborted' "$T/int.err"
check "no upload left" bash -c "! curl -s --aws-sigv4 'aws:amz:us-east-1:s3' --user '$AK:$SK' -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' '$U/other?uploads=' | grep -q '<UploadId>'"
check "no object made" [ ! -e "$T/data/other/huge.bin" ]
rm -f "$T/huge.bin"

echo "== rm"
expect 0 "rm one" c rm s3://bkt/top.bin
check "gone" [ ! -e "$T/data/bkt/top.bin" ]
expect 0 "rm -r" c rm -r s3://bkt/dir/
check "says how many" grep -qx 'deleted 3 objects' "$T/out"
check "all below dir/ gone" bash -c "[ -z \"\$(find '$T/data/bkt/dir' -type f 2>/dev/null)\" ]"
expect 0 "ls after rm" c ls -r s3://bkt/dir/
check "nothing listed" [ ! -s "$T/out" ]

echo "== HTTPS: UNSIGNED-PAYLOAD, --ca-bundle, AWS_CA_BUNDLE, --no-verify-ssl"
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
  "$CAIRN" serve --no-fsync --address 127.0.0.1:0 --port-file "$T/tport" --access-key "$AK" \
    --secret-key "$SK" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" "$T/data" \
    >"$T/tserve.out" 2>"$T/tserve.err" &
  PIDS+=("$!")
  for _ in $(seq 100); do [[ -s "$T/tport" ]] && break; sleep 0.1; done
  TU="https://127.0.0.1:$(cat "$T/tport")"
  tls=(env AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" AWS_ENDPOINT_URL="$TU")
  randfile "$T/tls.bin" 9000000
  expect 0 "https multipart upload with --ca-bundle" "${tls[@]}" "$CAIRN" --ca-bundle "$T/cert.pem" cp --part-size 5MiB "$T/tls.bin" s3://other/tls.bin
  check "https upload byte-identical" cmp -s "$T/data/other/tls.bin" "$T/tls.bin"
  expect 0 "https cat with AWS_CA_BUNDLE" "${tls[@]}" AWS_CA_BUNDLE="$T/cert.pem" "$CAIRN" cat s3://other/tls.bin
  check "https cat byte-identical" cmp -s "$T/out" "$T/tls.bin"
  expect 0 "https small upload with --no-verify-ssl" "${tls[@]}" "$CAIRN" --no-verify-ssl cp "$T/data/bkt/copied-again" s3://other/tls-small
  check "https small upload" cmp -s "$T/data/other/tls-small" "$T/data/bkt/copied-again"
  expect 1 "an unknown certificate is refused" "${tls[@]}" "$CAIRN" --retries 0 ls s3://
  check "says why" grep -qi 'certificate' "$T/err"
else
  echo "openssl missing: HTTPS section not run" >&2
  bad "openssl is needed for the HTTPS section"
fi

echo "== errors"
expect 1 "wrong secret" env AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY=wrong AWS_ENDPOINT_URL="$U" "$CAIRN" ls s3://
check "one clear line" grep -q '^cairn: ls: ListBuckets: SignatureDoesNotMatch' "$T/err"
expect 2 "bad URL" c cat s3://
expect 2 "cat without a key" c cat s3://bkt
expect 2 "cat of a local path" c cat bkt/key
expect 2 "bad endpoint" env AWS_ENDPOINT_URL=ftp://x "$CAIRN" ls s3://
expect 2 "half credentials" env AWS_ACCESS_KEY_ID="$AK" AWS_ENDPOINT_URL="$U" "$CAIRN" ls s3://
expect 1 "missing bucket" c ls s3://nobucket/
check "NoSuchBucket" grep -q 'NoSuchBucket' "$T/err"
expect 1 "rm -r in a missing bucket" c rm -r s3://nobucket/x
expect 1 "nothing listens" env AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" AWS_ENDPOINT_URL=http://127.0.0.1:1 "$CAIRN" --retries 1 ls s3://
check "says after 2 attempts" grep -q 'after 2 attempts' "$T/err"
expect 2 "bad --retries" c --retries -1 ls s3://


# Through tests/fault_proxy.py (500/503, SlowDown, resets, and corrupted GET bodies): cp still
# completes byte-identical, and a corrupted download of a multipart object (its ETag is not an
# MD5: checked through the parts' MD5s) is caught and fetched again.
python3 "$(dirname "$0")/fault_proxy.py" --upstream "$U" --port-file "$T/pport" --seed 11 \
  --error-rate 0.05 --slowdown-rate 0.02 --reset-rate 0.02 --corrupt-count 2 \
  --corrupt-min 100000 --log "$T/faults" &
PIDS+=("$!")
for _ in $(seq 200); do [[ -s "$T/pport" ]] && break; sleep 0.1; done
check "fault proxy started" [ -s "$T/pport" ]
fc() { env AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" \
  AWS_ENDPOINT_URL="http://127.0.0.1:$(cat "$T/pport")" "$CAIRN" --retries 8 "$@"; }
randfile "$T/mp.bin" 20000000
randfile "$T/sp.bin" 3000000
expect 0 "cp up through faults (multipart)" fc cp "$T/mp.bin" s3://bkt/faults/mp.bin
expect 0 "cp up through faults (single)" fc cp "$T/sp.bin" s3://bkt/faults/sp.bin
expect 0 "cp down through faults (multipart)" fc cp s3://bkt/faults/mp.bin "$T/mp.got"
check "multipart download byte-identical" cmp -s "$T/mp.bin" "$T/mp.got"
expect 0 "cp down through faults (single)" fc cp s3://bkt/faults/sp.bin "$T/sp.got"
check "single download byte-identical" cmp -s "$T/sp.bin" "$T/sp.got"
# Many small objects (about 40 requests more, so that faults are drawn whatever the order).
mkdir -p "$T/many"; for i in $(seq 20); do randfile "$T/many/f$i" $((i * 100)); done
expect 0 "cp -r of small files up through faults" fc cp -r "$T/many" s3://bkt/faults/many
expect 0 "cp -r of small files down through faults" fc cp -r s3://bkt/faults/many "$T/many.got"
check "small files byte-identical" diff -r "$T/many" "$T/many.got"
check "a body was corrupted on the way" grep -q "FAULT corrupt" "$T/faults"
check "some requests failed on the way" grep -qE "FAULT (error|slowdown|reset)" "$T/faults"

# A download whose body is corrupted on the way and whose ETag is not an MD5 (multipart): the
# x-amz-checksum-crc32c the server returns catches it, for get and for cat.
python3 "$(dirname "$0")/fault_proxy.py" --upstream "$U" --port-file "$T/cport" --seed 5 \
  --corrupt-count 2 --corrupt-min 1000000 --log "$T/cfaults" &
PIDS+=("$!")
for _ in $(seq 200); do [[ -s "$T/cport" ]] && break; sleep 0.1; done
check "corrupting proxy started" [ -s "$T/cport" ]
cc() { env AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" \
  AWS_ENDPOINT_URL="http://127.0.0.1:$(cat "$T/cport")" "$CAIRN" "$@"; }
expect 1 "get of a corrupted multipart body" cc get s3://other/pipe.bin "$T/pipe.bad"
check "caught by the checksum" grep -q "^cairn: get: GET other/pipe.bin: the body's x-amz-checksum-crc32c .* does not match" "$T/err"
check "no file left" bash -c "[ ! -e '$T/pipe.bad' ] && [ -z \"\$(ls -A '$T' | grep cairn-)\" ]"
expect 1 "cat of a corrupted multipart body" cc cat s3://other/pipe.bin
check "cat: caught by the checksum" grep -q "x-amz-checksum-crc32c .* does not match" "$T/err"
check "both bodies were corrupted" [ "$(grep -c 'FAULT corrupt' "$T/cfaults")" = 2 ]
expect 0 "the next get (not corrupted) passes" cc get s3://other/pipe.bin "$T/pipe.ok"
check "byte-identical" cmp -s "$T/pipe.ok" "$T/pipe.bin"

finish
