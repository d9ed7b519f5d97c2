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

finish
