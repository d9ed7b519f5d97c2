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
  rm -f "$T/$name.port"
  "$CAIRN" serve --no-auth --address 127.0.0.1:0 --port-file "$T/$name.port" "$@" "$S/d1" \
    >"$T/$name.out" 2>"$T/$name.err" &
  SRV=$!
  PIDS+=("$SRV")
  for _ in $(seq 100); do [[ -s "$T/$name.port" ]] && break; sleep 0.1; done
  [[ -s "$T/$name.port" ]] || { echo "server $name did not start: $(cat "$T/$name.err")"; exit 1; }
  PORT=$(cat "$T/$name.port")
}
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }

echo "== refuses to start without auth, and bad flags"
expect 1 "no auth yet" "$CAIRN" serve --address 127.0.0.1:0 "$S/d1"
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
check "graceful stop on SIGTERM" kill -TERM "$SRV"
wait "$SRV"
check "exit 0 after SIGTERM" [ $? -eq 0 ]
check "access log lines" grep -q ' GET /bkt/nope 404 ' "$T/access.log"

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
  expect 2 "missing certificate" "$CAIRN" serve --no-auth --address 127.0.0.1:0 --tls-cert "$T/none" --tls-key "$T/key.pem" "$S/d1"
fi

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
start_plain() {
  local name=$1 dir=$2; shift 2
  rm -f "$T/$name.port"
  "$CAIRN" serve --no-auth --address 127.0.0.1:0 --port-file "$T/$name.port" "$@" "$dir" \
    >"$T/$name.out" 2>"$T/$name.err" &
  SRV=$!
  PIDS+=("$SRV")
  for _ in $(seq 100); do [[ -s "$T/$name.port" ]] && break; sleep 0.1; done
  [[ -s "$T/$name.port" ]] || { echo "server $name did not start: $(cat "$T/$name.err")"; exit 1; }
  PORT=$(cat "$T/$name.port")
}
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
kill -TERM "$SRV"; wait "$SRV"
check "plain: exit 0 after SIGTERM" [ $? -eq 0 ]

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
