#!/usr/bin/env bash
# End-to-end tests of `cairn serve` driven with curl: the real binary on a free loopback port
# (--address 127.0.0.1:0, the port read back from --port-file), over HTTP and over HTTPS with a
# certificate made here; stopped with SIGTERM (graceful) and always killed at exit.
# Usage: tests/e2e_serve.sh path/to/cairn
source "$(dirname "$0")/e2e_lib.sh"
unset AWS_CA_BUNDLE CURL_CA_BUNDLE SSL_CERT_FILE http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY

S="$T/set"
"$CAIRN" init --ec 2+1 "$S/d1" "$S/d2" "$S/d3" >/dev/null || { echo "init failed"; exit 1; }

# start_server NAME ARGS...: starts serve in the background; sets URL and SRV (its pid).
start_server() {
  local name=$1; shift
  serve_bg "$name" "$S/d1" "$@"
}
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }

echo "== bad flags and credentials"
expect 2 "key without secret" "$CAIRN" serve --access-key AKHALF --address 127.0.0.1:0 "$S/d1"
expect 2 "secret without key" "$CAIRN" serve --secret-key halfsecret --address 127.0.0.1:0 "$S/d1"
expect 2 "env key without secret" env CAIRN_ACCESS_KEY=AKHALF CAIRN_SECRET_KEY= "$CAIRN" serve --address 127.0.0.1:0 "$S/d1"
printf '# users\nAKGOOD goodsecret1\nAKBAD\n' >"$T/badusers"
chmod 600 "$T/badusers"
expect 2 "bad users file" "$CAIRN" serve --users "$T/badusers" --address 127.0.0.1:0 "$S/d1"
check "names file and line" grep -q "badusers:3: expected 'ACCESS SECRET \[read-only\]'" "$T/err"
expect 2 "no-auth with credentials" "$CAIRN" serve --no-auth --access-key AKX --secret-key secretsecret "$S/d1"
expect 2 "bad address" "$CAIRN" serve --no-auth --address nope "$S/d1"
expect 2 "cert without key" "$CAIRN" serve --no-auth --tls-cert x "$S/d1"

echo "== HTTP: buckets and objects with curl"
start_server http --access-log "$T/access.log"
U="http://127.0.0.1:$PORT"
check "health" [ "$(code "$U/health")" = 200 ]
check "make bucket" [ "$(code -X PUT "$U/bkt")" = 200 ]
randfile "$T/f1" 1048577
check "put 1 MiB + 1" [ "$(code -T "$T/f1" "$U/bkt/dir/f1")" = 200 ]
check "get it back" [ "$(code "$U/bkt/dir/f1")" = 200 ]
check "same bytes" cmp -s "$T/body" "$T/f1"
check "range" [ "$(code -r 10-19 "$U/bkt/dir/f1")" = 206 ]
check "range bytes" cmp -s "$T/body" <(tail -c +11 "$T/f1" | head -c 10)
sha1_b64=$(openssl dgst -sha1 -binary "$T/f1" | base64)
md5_b64=$(openssl dgst -md5 -binary "$T/f1" | base64)
check "put with Content-MD5 and x-amz-checksum-sha1" [ "$(code -T "$T/f1" -H "Content-MD5: $md5_b64" -H "x-amz-checksum-sha1: $sha1_b64" "$U/bkt/summed")" = 200 ]
check "HEAD returns the checksum with checksum mode" bash -c "curl -s -I -H 'x-amz-checksum-mode: ENABLED' '$U/bkt/summed' | tr -d '\r' | grep -qxF 'x-amz-checksum-sha1: $sha1_b64'"
check "a wrong Content-MD5 is BadDigest" [ "$(code -T "$T/f1" -H "Content-MD5: $(printf x | openssl dgst -md5 -binary | base64)" "$U/bkt/summed")" = 400 ]
check "BadDigest said" grep -q '<Code>BadDigest</Code>' "$T/body"
: >"$T/empty"
check "put empty" [ "$(code -T "$T/empty" "$U/bkt/empty")" = 200 ]
check "get empty" [ "$(code "$U/bkt/empty")" = 200 ]
check "empty body" [ ! -s "$T/body" ]
check "chunked upload" [ "$(head -c 3000 "$T/f1" | code -T - -H 'Transfer-Encoding: chunked' "$U/bkt/chunked")" = 200 ]
check "chunked bytes" [ "$(code "$U/bkt/chunked")" = 200 ]
check "chunked same" cmp -s "$T/body" <(head -c 3000 "$T/f1")
check "list v2" [ "$(code "$U/bkt?list-type=2&prefix=dir/")" = 200 ]
check "list names the key" grep -q '<Key>dir/f1</Key>' "$T/body"
check "head" [ "$(curl -s -I "$U/bkt/dir/f1" | tr -d '\r' | grep -i '^content-length:' | cut -d' ' -f2)" = 1048577 ]
check "no such key" [ "$(code "$U/bkt/nope")" = 404 ]
check "NoSuchKey XML" grep -q '<Code>NoSuchKey</Code>' "$T/body"
check "request id" curl -s -D - -o /dev/null "$U/bkt/nope" | grep -qi '^x-amz-request-id: [0-9A-F]\{16\}'
check "keep-alive: one connection" [ "$(curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' "$U/health" "$U/health" | tail -1)" = 0 ]
check "delete" [ "$(code -X DELETE "$U/bkt/dir/f1")" = 204 ]
check "gone" [ "$(code "$U/bkt/dir/f1")" = 404 ]
check "the set sees what the server wrote" env CAIRN_SET="$S/d1" "$CAIRN" get bkt/chunked "$T/viaset"
check "same bytes through the set" cmp -s "$T/viaset" <(head -c 3000 "$T/f1")
# bench s3 --warm: each object read once, untimed, before the timed GETs (counted in the log).
bench_s3() { "$CAIRN" bench --endpoint "$U" --access-key AKBENCH --secret-key benchsecret1 --op get --size 1MiB --count 3 --concurrency 1 "$@" s3; }
check "buckets for bench s3" [ "$(code -X PUT "$U/warmbkt")$(code -X PUT "$U/coldbkt")" = 200200 ]
expect 0 "bench s3 --warm" bench_s3 --bucket warmbkt --warm
expect 0 "bench s3 without --warm" bench_s3 --bucket coldbkt
check "graceful stop on SIGTERM" kill -TERM "$SRV"
wait "$SRV"
check "exit 0 after SIGTERM" [ $? -eq 0 ]
check "access log lines" grep -q ' GET /bkt/nope 404 ' "$T/access.log"
check "bench s3 --warm: 1 untimed GET and the 3 timed" [ "$(grep -c ' GET /warmbkt/g-0-0 200 ' "$T/access.log")" = 4 ]
check "bench s3 without --warm: the 3 timed GETs" [ "$(grep -c ' GET /coldbkt/g-0-0 200 ' "$T/access.log")" = 3 ]

echo "== HTTPS"
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
  start_server https --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
  U="https://127.0.0.1:$PORT"
  check "https health" [ "$(code --cacert "$T/cert.pem" "$U/health")" = 200 ]
  check "https put" [ "$(code --cacert "$T/cert.pem" -T "$T/f1" "$U/bkt/tls")" = 200 ]
  check "https get" [ "$(code --cacert "$T/cert.pem" "$U/bkt/tls")" = 200 ]
  check "https bytes" cmp -s "$T/body" "$T/f1"
  check "plain HTTP refused on the TLS port" [ "$(code "http://127.0.0.1:$PORT/health")" != 200 ]
  kill -INT "$SRV"
  wait "$SRV"
  check "exit 0 after SIGINT" [ $? -eq 0 ]
  expect 2 "missing certificate" "$CAIRN" serve --address 127.0.0.1:0 --tls-cert "$T/none" --tls-key "$T/key.pem" "$S/d1"
fi

echo "== SigV4: curl --aws-sigv4, presigned URLs, the aws cli"
# start_auth_server NAME ARGS...: like start_server, with the authentication ARGS given (no --no-auth).
start_auth_server() {
  local name=$1; shift
  serve_auth_bg "$name" "$S/d1" "$@"
}
AK=AKE2ETEST0001 SK=e2e-secret-0123456789
printf 'AKREADER readersecret1 read-only\n' >"$T/users"
chmod 644 "$T/users"
start_auth_server sigv4 --access-key "$AK" --secret-key "$SK" --users "$T/users"
check "world-readable users file warned" grep -q "chmod 600" "$T/sigv4.err"
check "says how it authenticates" grep -q "SigV4 (region us-east-1), 2 users" "$T/sigv4.err"
U="http://127.0.0.1:$PORT"
sig() { curl -s -o "$T/body" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" "$@"; }
unsigned=(-H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
check "health needs no auth" [ "$(code "$U/health")" = 200 ]
check "anonymous refused" [ "$(code "$U/")" = 403 ]
check "AccessDenied XML" grep -q '<Code>AccessDenied</Code>' "$T/body"
check "signed make bucket" [ "$(sig --user "$AK:$SK" "${unsigned[@]}" -X PUT "$U/authbkt")" = 200 ]
randfile "$T/a1" 100000
randfile "$T/a2" 100000
check "signed put, unsigned payload" [ "$(sig --user "$AK:$SK" "${unsigned[@]}" -T "$T/a1" "$U/authbkt/a")" = 200 ]
check "signed get" [ "$(sig --user "$AK:$SK" "${unsigned[@]}" "$U/authbkt/a")" = 200 ]
check "signed get bytes" cmp -s "$T/body" "$T/a1"
H1=$(sha256sum "$T/a1" | cut -d' ' -f1)
check "signed put, signed payload" [ "$(sig --user "$AK:$SK" -H "x-amz-content-sha256: $H1" -T "$T/a1" "$U/authbkt/b")" = 200 ]
check "payload hash mismatch refused" [ "$(sig --user "$AK:$SK" -H "x-amz-content-sha256: $H1" -T "$T/a2" "$U/authbkt/b")" = 400 ]
check "XAmzContentSHA256Mismatch" grep -q '<Code>XAmzContentSHA256Mismatch</Code>' "$T/body"
# curl signs a body's hash but sends no x-amz-content-sha256 (7.88): S3 asks for the header.
check "a body without x-amz-content-sha256 refused" [ "$(sig --user "$AK:$SK" --data-binary @"$T/a2" -X PUT "$U/authbkt/nohash")" = 400 ]
check "it says the header is missing" grep -q '<Code>InvalidRequest</Code><Message>Missing required header for this request: x-amz-content-sha256' "$T/body"
check "nothing written without it" [ "$(sig --user "$AK:$SK" "${unsigned[@]}" "$U/authbkt/nohash")" = 404 ]
MD5_OTHER=$(openssl md5 -binary "$T/a2" | base64)
check "wrong Content-MD5 refused" [ "$(sig --user "$AK:$SK" "${unsigned[@]}" -H "Content-MD5: $MD5_OTHER" -T "$T/a1" "$U/authbkt/b")" = 400 ]
check "BadDigest" grep -q '<Code>BadDigest</Code>' "$T/body"
check "older version intact" [ "$(sig --user "$AK:$SK" "${unsigned[@]}" "$U/authbkt/b")" = 200 ]
check "older bytes" cmp -s "$T/body" "$T/a1"
# DeleteObjects under SigV4: the authenticator checks the body's digest as it streams. (curl signs
# a bare "?delete" as "delete" where SigV4 wants "delete=": so the target says "?delete=".)
printf '<Delete><Object><Key>a</Key></Object></Delete>' >"$T/del.xml"
printf '<Delete><Object><Key>nokey</Key></Object></Delete>' >"$T/del2.xml"
MD5_DEL2=$(openssl md5 -binary "$T/del2.xml" | base64)
check "signed DeleteObjects, wrong Content-MD5 refused" [ "$(sig --user "$AK:$SK" "${unsigned[@]}" -X POST -H "Content-MD5: $MD5_OTHER" --data-binary @"$T/del.xml" "$U/authbkt?delete=")" = 400 ]
check "signed DeleteObjects BadDigest" grep -q '<Code>BadDigest</Code>' "$T/body"
check "signed DeleteObjects without a digest refused" [ "$(sig --user "$AK:$SK" "${unsigned[@]}" -X POST --data-binary @"$T/del.xml" "$U/authbkt?delete=")" = 400 ]
check "refused batches deleted nothing" [ "$(sig --user "$AK:$SK" "${unsigned[@]}" "$U/authbkt/a")" = 200 ]
check "signed DeleteObjects, right Content-MD5" [ "$(sig --user "$AK:$SK" "${unsigned[@]}" -X POST -H "Content-MD5: $MD5_DEL2" --data-binary @"$T/del2.xml" "$U/authbkt?delete=")" = 200 ]
check "signed DeleteObjects answered" grep -q '<Deleted><Key>nokey</Key></Deleted>' "$T/body"
check "wrong secret 403" [ "$(sig --user "$AK:wrong-secret" "${unsigned[@]}" "$U/authbkt/a")" = 403 ]
check "SignatureDoesNotMatch" grep -q '<Code>SignatureDoesNotMatch</Code>' "$T/body"
check "unknown key 403" [ "$(sig --user "AKNOBODY:whatever1" "${unsigned[@]}" "$U/authbkt/a")" = 403 ]
check "InvalidAccessKeyId" grep -q '<Code>InvalidAccessKeyId</Code>' "$T/body"
check "read-only user reads" [ "$(sig --user "AKREADER:readersecret1" "${unsigned[@]}" "$U/authbkt/a")" = 200 ]
check "read-only user cannot write" [ "$(sig --user "AKREADER:readersecret1" "${unsigned[@]}" -T "$T/a2" "$U/authbkt/a")" = 403 ]
check "read-only user cannot delete" [ "$(sig --user "AKREADER:readersecret1" "${unsigned[@]}" -X DELETE "$U/authbkt/a")" = 403 ]
if command -v aws >/dev/null; then
  # aws cli v1 presigns with SigV2 unless told otherwise.
  printf '[default]\ns3 =\n  signature_version = s3v4\n' >"$T/aws_config"
  awsenv=(env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_CA_BUNDLE AWS_ACCESS_KEY_ID="$AK"
          AWS_SECRET_ACCESS_KEY="$SK" AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE="$T/aws_config"
          AWS_SHARED_CREDENTIALS_FILE="$T/aws_config" AWS_EC2_METADATA_DISABLED=true)
  check "aws s3 cp up" "${awsenv[@]}" aws --endpoint-url "$U" s3 cp --quiet "$T/a2" s3://authbkt/viaaws
  check "aws s3 cp down" "${awsenv[@]}" aws --endpoint-url "$U" s3 cp --quiet s3://authbkt/viaaws "$T/a2.back"
  check "aws bytes" cmp -s "$T/a2" "$T/a2.back"
  "${awsenv[@]}" aws --endpoint-url "$U" s3 ls s3://authbkt/ >"$T/awsls" 2>&1
  check "aws s3 ls" grep -q ' 100000 viaaws$' "$T/awsls"
  fails() { ! "$@" >/dev/null 2>&1; }
  check "aws with a wrong secret fails" fails "${awsenv[@]}" AWS_SECRET_ACCESS_KEY=nope aws --endpoint-url "$U" s3 ls s3://authbkt/
  URL=$("${awsenv[@]}" aws --endpoint-url "$U" s3 presign s3://authbkt/a --expires-in 300)
  check "presigned get" [ "$(code "$URL")" = 200 ]
  check "presigned bytes" cmp -s "$T/body" "$T/a1"
  check "tampered presigned url 403" [ "$(code "$(printf %s "$URL" | sed 's#/authbkt/a?#/authbkt/b?#')")" = 403 ]
  URL=$("${awsenv[@]}" aws --endpoint-url "$U" s3 presign s3://authbkt/a --expires-in 1)
  sleep 2
  check "expired presigned url 403" [ "$(code "$URL")" = 403 ]
  check "expired says so" grep -q 'expired' "$T/body"
fi
kill -TERM "$SRV"; wait "$SRV"

start_auth_server anon --anonymous-read
check "generated pair printed" grep -q 'AWS_ACCESS_KEY_ID=[A-Z0-9]\{20\} AWS_SECRET_ACCESS_KEY=[A-Za-z0-9]\{40\} aws --endpoint-url http://127.0.0.1:'"$PORT"' s3 ls' "$T/anon.err"
GAK=$(grep -o 'AWS_ACCESS_KEY_ID=[A-Z0-9]*' "$T/anon.err" | cut -d= -f2)
GSK=$(grep -o 'AWS_SECRET_ACCESS_KEY=[A-Za-z0-9]*' "$T/anon.err" | cut -d= -f2)
U="http://127.0.0.1:$PORT"
check "generated pair works" [ "$(sig --user "$GAK:$GSK" "${unsigned[@]}" -T "$T/a2" "$U/authbkt/anon")" = 200 ]
check "anonymous get" [ "$(code "$U/authbkt/anon")" = 200 ]
check "anonymous bytes" cmp -s "$T/body" "$T/a2"
check "anonymous list" [ "$(code "$U/authbkt?list-type=2")" = 200 ]
check "anonymous put refused" [ "$(code -T "$T/a1" "$U/authbkt/anon")" = 403 ]
check "anonymous delete refused" [ "$(code -X DELETE "$U/authbkt/anon")" = 403 ]
check "bad signature not served as anonymous" [ "$(sig --user "$GAK:wrong" "${unsigned[@]}" "$U/authbkt/anon")" = 403 ]
kill -TERM "$SRV"; wait "$SRV"

echo "== volume set: /health names the backend and its members, offline ones too"
start_server health
U="http://127.0.0.1:$PORT"
check "health 200" [ "$(code "$U/health")" = 200 ]
check "health: volume set, 3 online" grep -q '"backend":"volume-set".*"online":3' "$T/body"
kill -TERM "$SRV"; wait "$SRV"
mv "$S/d3" "$S/d3.away"
start_server degraded
U="http://127.0.0.1:$PORT"
check "offline member on stderr" grep -q 'offline' "$T/degraded.err"
check "health: 2 online, the offline path named" [ "$(code "$U/health")" = 200 ]
check "health body" grep -q '"online":2,"total":3' "$T/body"
check "health names d3" grep -q 'd3' "$T/body"
check "degraded GET still works" [ "$(code "$U/bkt/chunked")" = 200 ]
kill -TERM "$SRV"; wait "$SRV"
mv "$S/d3.away" "$S/d3"

echo "== a plain directory"
# start_plain NAME DIR ARGS...: like start_server, serving DIR as a plain directory.
start_plain() { serve_bg "$@"; }
P="$T/plain"
mkdir -p "$P/files/sub" "$T/outside"
echo hello >"$P/files/hello.txt"
echo nested >"$P/files/sub/n.txt"
echo secret >"$T/outside/secret"
randfile "$P/files/big.bin" 3000000
ln -s "$T/outside/secret" "$P/files/link"
ln -s "$T/outside" "$P/files/linkdir"
start_plain plain "$P" --hash-rate 0
U="http://127.0.0.1:$PORT"
check "plain: started as a plain directory" grep -q 'plain directory' "$T/plain.err"
check "plain: health" [ "$(code "$U/health")" = 200 ]
check "plain: health names the backend" grep -q '"backend":"plain"' "$T/body"
check "plain: the directory is a bucket" [ "$(code "$U/")" = 200 ]
check "plain: bucket listed" grep -q '<Name>files</Name>' "$T/body"
check "plain: .cairn is no bucket" bash -c "! grep -qF '<Name>.cairn' '$T/body'"
check "plain: list" [ "$(code "$U/files?list-type=2")" = 200 ]
check "plain: existing files listed" grep -q '<Key>sub/n.txt</Key>' "$T/body"
check "plain: -1 ETags before hashing" grep -q '<Key>hello.txt</Key><LastModified>[^<]*</LastModified><ETag>&quot;[0-9a-f]*-1&quot;</ETag>' "$T/body"
check "plain: symlinks not listed" bash -c "! grep -q '<Key>link' '$T/body'"
etag_of() { curl -s -I "$U/$1" | tr -d '\r' | grep -i '^etag:' | cut -d' ' -f2; }
check "plain: HEAD gives the -1 ETag" bash -c "[[ '$(etag_of files/hello.txt)' == *-1\\\" ]]"
check "plain: existing file served" [ "$(code "$U/files/hello.txt")" = 200 ]
check "plain: its bytes" [ "$(cat "$T/body")" = hello ]
check "plain: content type by extension" curl -s -I "$U/files/hello.txt" | grep -qi '^content-type: text/plain'
md5=$(md5sum "$P/files/hello.txt" | cut -d' ' -f1)
check "plain: after a whole GET the ETag is the MD5" [ "$(etag_of files/hello.txt)" = "\"$md5\"" ]
check "plain: big file (first read: hashed on the way)" [ "$(code "$U/files/big.bin")" = 200 ]
check "plain: big file bytes" cmp -s "$T/body" "$P/files/big.bin"
check "plain: big file again (MD5 known now: sendfile)" [ "$(code "$U/files/big.bin")" = 200 ]
check "plain: same bytes again" cmp -s "$T/body" "$P/files/big.bin"
check "plain: range (sendfile)" [ "$(code -r 1000000-1000099 "$U/files/big.bin")" = 206 ]
check "plain: range bytes" cmp -s "$T/body" <(tail -c +1000001 "$P/files/big.bin" | head -c 100)
echo added >"$P/files/added.txt"
check "plain: a file added while serving shows at once" [ "$(code "$U/files/added.txt")" = 200 ]
check "plain: added bytes" [ "$(cat "$T/body")" = added ]
check "plain: and is listed" bash -c "curl -s '$U/files?list-type=2' | grep -q '<Key>added.txt</Key>'"
check "plain: symlink out of the dir not served" [ "$(code "$U/files/link")" = 404 ]
check "plain: nor through a linked directory" [ "$(code "$U/files/linkdir/secret")" = 404 ]
check "plain: no secret in it" bash -c "! grep -q '^secret' '$T/body'"
dotdot=$(code --path-as-is "$U/files/../outside/secret")
check "plain: raw .. refused ($dotdot)" [ "${dotdot:0:1}" = 4 ]
check "plain: raw .. no secret" bash -c "! grep -q '^secret' '$T/body'"
dotdot=$(code --path-as-is "$U/files/%2e%2e/%2e%2e/outside/secret")
check "plain: encoded .. refused ($dotdot)" [ "${dotdot:0:1}" = 4 ]
check "plain: encoded .. no secret" bash -c "! grep -q '^secret' '$T/body'"
dotdot=$(code --path-as-is -T "$T/empty" "$U/files/..%2F..%2Fescaped")
check "plain: encoded .. PUT refused ($dotdot)" [ "${dotdot:0:1}" = 4 ]
check "plain: nothing written outside" [ ! -e "$T/escaped" ] && [ ! -e "$P/escaped" ]
check "plain: put" [ "$(code -T "$T/f1" -H 'Content-Type: text/x-e2e' -H 'Cache-Control: no-cache' "$U/files/up/loaded")" = 200 ]
check "plain: put lands as a file" cmp -s "$P/files/up/loaded" "$T/f1"
check "plain: put keeps its type and headers" bash -c "curl -s -I '$U/files/up/loaded' | tr -d '\r' | grep -qi '^cache-control: no-cache'"
check "plain: metadata in .cairn" [ -f "$P/.cairn/meta.db" ]
sha_b64=$(openssl dgst -sha256 -binary "$T/f1" | base64)
check "plain: put with x-amz-checksum-sha256" [ "$(code -T "$T/f1" -H "x-amz-checksum-sha256: $sha_b64" "$U/files/summed")" = 200 ]
check "plain: HEAD returns it with checksum mode" bash -c "curl -s -I -H 'x-amz-checksum-mode: ENABLED' '$U/files/summed' | tr -d '\r' | grep -qxF 'x-amz-checksum-sha256: $sha_b64'"
check "plain: not without it" bash -c "! curl -s -I '$U/files/summed' | grep -qi '^x-amz-checksum-sha256'"
check "plain: a wrong checksum is BadDigest" [ "$(code -T "$T/f1" -H "x-amz-checksum-sha256: $(printf x | openssl dgst -sha256 -binary | base64)" "$U/files/summed")" = 400 ]
check "plain: BadDigest said" grep -q '<Code>BadDigest</Code>' "$T/body"
printf 'changed' >>"$P/files/summed"
check "plain: a file changed by another program returns no checksum" bash -c "! curl -s -I -H 'x-amz-checksum-mode: ENABLED' '$U/files/summed' | grep -qi '^x-amz-checksum-sha256'"
kill -TERM "$SRV"; wait "$SRV"
check "plain: exit 0 after SIGTERM" [ $? -eq 0 ]

echo "== a plain directory: a PUT's metadata reaches the disk before the answer (strace)"
# With fsync on, the metadata store's write-ahead log is flushed at each commit (a power loss
# would otherwise lose a PUT's content type and user metadata that the client was told were
# stored); with --no-fsync nothing is flushed for a PUT.
if strace -f -o /dev/null true 2>/dev/null; then
  for mode in fsync no-fsync; do
    D=$(readlink -f "$T")/traced-$mode
    mkdir -p "$D/bkt"
    extra=()
    [ "$mode" = no-fsync ] && extra=(--no-fsync)
    rm -f "$T/traced.port"
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -y -e trace=fsync,fdatasync,pwrite64 \
      -o "$T/traced.strace" "$CAIRN" serve --no-auth --address 127.0.0.1:0 --port-file "$T/traced.port" \
      "${extra[@]}" "$D" >"$T/traced.out" 2>"$T/traced.err" &
    tpid=$!
    PIDS+=("$tpid")
    for _ in $(seq 100); do [[ -s "$T/traced.port" ]] && break; sleep 0.1; done
    U="http://127.0.0.1:$(cat "$T/traced.port")"
    cp "$T/traced.strace" "$T/traced.before"
    check "$mode: PUT with metadata" [ "$(code -T "$T/f1" -H 'x-amz-meta-colour: blue' -H 'Content-Type: text/x-test' "$U/bkt/k")" = 200 ]
    # The answer has come: what the server flushed up to now is in the trace.
    cp "$T/traced.strace" "$T/traced.at-answer"
    check "$mode: metadata kept" bash -c "curl -s -I '$U/bkt/k' | tr -d '\r' | grep -qix 'x-amz-meta-colour: blue'"
    pkill -TERM -P "$tpid"
    wait "$tpid"
    if [ "$mode" = fsync ]; then
      check "fsync: the metadata log was written" grep -q 'pwrite64([0-9]*<[^>]*/meta\.db-wal>' "$T/traced.at-answer"
      # What the server did for the PUT: the lines traced after it started.
      tail -n +$(($(wc -l <"$T/traced.before") + 1)) "$T/traced.at-answer" >"$T/traced.put"
      check "fsync: and the record's commit flushed before the answer" awk '
        /pwrite64\([0-9]+<[^>]*\/meta\.db-wal>/ && !w { w = NR }
        /f(data)?sync\([0-9]+<[^>]*\/meta\.db-wal>/ && w { f = NR }
        END { exit !(w && f > w) }' "$T/traced.put"
      # One flush of the log per PUT: the record's commit. The full stamp written after the
      # rename is not flushed on its own (lost in a power loss, the record is pending again,
      # which still describes the file).
      check "fsync: the log flushed once for the PUT" [ "$(grep -c 'sync([0-9]*<[^>]*/meta\.db-wal>' "$T/traced.put")" = 1 ]
    else
      # (SQLite flushes its files when it creates, checkpoints and closes the database, which
      # keeps the database whole through a power loss; not for a PUT.)
      check "no-fsync: nothing flushed for the PUT" [ "$(grep -c 'sync(' "$T/traced.at-answer")" = "$(grep -c 'sync(' "$T/traced.before")" ]
    fi
  done
else
  echo "strace cannot trace here: skipped"
fi

echo "== a plain directory, read-only with a state directory, background hashing"
chmod -R a-w "$P/files"
start_plain ro "$P" --read-only --state-dir "$T/state" --hash-rate 64MiB
U="http://127.0.0.1:$PORT"
check "ro: GET" [ "$(code "$U/files/sub/n.txt")" = 200 ]
check "ro: PUT refused" [ "$(code -T "$T/empty" "$U/files/new")" = 403 ]
check "ro: state in the state dir" [ -f "$T/state/meta.db" ]
big_md5=$(md5sum "$P/files/big.bin" | cut -d' ' -f1)
for _ in $(seq 50); do
  [ "$(etag_of files/big.bin)" = "\"$big_md5\"" ] && break
  sleep 0.2
done
check "ro: the background pass hashed a file nobody read" [ "$(etag_of files/big.bin)" = "\"$big_md5\"" ]
kill -TERM "$SRV"; wait "$SRV"
check "ro: stops promptly with the hasher running" [ $? -eq 0 ]
chmod -R u+w "$P/files"

finish
