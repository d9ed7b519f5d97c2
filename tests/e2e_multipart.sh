#!/usr/bin/env bash
# Multipart uploads through `cairn serve` on a plain directory, driven with the real aws cli
# (SigV4, the cli's multipart threshold of 8 MiB and its default checksums): `aws s3 cp` of a
# 20 MiB file up (three parts) and back byte-identical, then the s3api calls one by one (create
# with a checksum algorithm, parts, list-parts, list-multipart-uploads, complete, abort) and their
# errors. Runs with every aws found (/usr/bin/aws and a pyenv one), each against its own bucket.
# Usage: tests/e2e_multipart.sh path/to/cairn
source "$(dirname "$0")/e2e_lib.sh"
for v in $(compgen -e); do
  case $v in AWS_* | *_proxy | *_PROXY) unset "$v" ;; esac
done
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

# Every distinct aws on the PATH (the pyenv shim resolved to its real program).
AWS_LIST=()
while read -r a; do
  r=$(readlink -f "$a")
  [[ $a == */shims/aws ]] && r=$(pyenv which aws 2>/dev/null)
  [[ -n $r && -x $r ]] || continue
  [[ " ${AWS_LIST[*]} " == *" $r "* ]] || AWS_LIST+=("$r")
done < <(type -ap aws)
((${#AWS_LIST[@]})) || { echo "e2e_multipart: SKIP: no aws cli on this machine"; exit 0; }

export HOME=$T/home AWS_CONFIG_FILE=$T/aws/config AWS_SHARED_CREDENTIALS_FILE=$T/aws/credentials
mkdir -p "$HOME" "$T/aws" "$T/plain"
ACCESS=AKMULTIPART$RANDOM
SECRET=$(head -c 30 /dev/urandom | base64 | tr '+/' 'xy' | head -c 40)
printf '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n' >"$AWS_CONFIG_FILE"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$ACCESS" "$SECRET" \
  >"$AWS_SHARED_CREDENTIALS_FILE"

"$CAIRN" serve --address 127.0.0.1:0 --port-file "$T/port" --access-key "$ACCESS" \
  --secret-key "$SECRET" "$T/plain" >"$T/server.out" 2>"$T/server.err" &
SRV=$!
PIDS+=("$SRV")
for _ in $(seq 100); do [[ -s "$T/port" ]] && break; sleep 0.1; done
[[ -s "$T/port" ]] || { echo "server did not start: $(cat "$T/server.err")"; exit 1; }
EP="http://127.0.0.1:$(cat "$T/port")"

randfile "$T/big" $((20 << 20))
head -c $((5 << 20)) /dev/urandom >"$T/p1"
head -c 1000 /dev/urandom >"$T/p2"
n=0
for AWS in "${AWS_LIST[@]}"; do
  n=$((n + 1))
  B=mpu$n
  echo "== $("$AWS" --version 2>&1 | cut -d' ' -f1-2) ($AWS) on bucket $B"
  a() { "$AWS" --endpoint-url "$EP" "$@"; }
  check "make bucket" a s3 mb "s3://$B" >/dev/null
  check "aws s3 cp 20 MiB up (multipart)" a s3 cp "$T/big" "s3://$B/dir/big" --only-show-errors
  a s3api head-object --bucket "$B" --key dir/big >"$T/head.json"
  check "multipart ETag: three parts" grep -q '"ETag": "\\"[0-9a-f]\{32\}-3\\""' "$T/head.json"
  check "size" grep -q '"ContentLength": 20971520' "$T/head.json"
  check "aws s3 cp down" a s3 cp "s3://$B/dir/big" "$T/big.back" --only-show-errors
  check "byte-identical" cmp -s "$T/big" "$T/big.back"
  rm -f "$T/big.back"
  check "no upload left open" [ "$(a s3api list-multipart-uploads --bucket "$B" --query 'length(Uploads || `[]`)')" = 0 ]
  check "nothing under .cairn listed" [ "$(a s3 ls --recursive "s3://$B" | wc -l)" = 1 ]

  # s3api by hand: a CRC32 upload of two parts (CRC32C needs botocore[crt] in the Python cli).
  id=$(a s3api create-multipart-upload --bucket "$B" --key hand --checksum-algorithm CRC32 \
    --query UploadId --output text)
  check "create gives an id" [ -n "$id" ]
  e1=$(a s3api upload-part --bucket "$B" --key hand --upload-id "$id" --part-number 1 \
    --body "$T/p1" --checksum-algorithm CRC32 --query ETag --output text)
  e2=$(a s3api upload-part --bucket "$B" --key hand --upload-id "$id" --part-number 2 \
    --body "$T/p2" --checksum-algorithm CRC32 --query ETag --output text)
  check "part ETag is the MD5" [ "$e1" = "\"$(md5sum <"$T/p1" | cut -d' ' -f1)\"" ]
  a s3api list-parts --bucket "$B" --key hand --upload-id "$id" >"$T/parts.json"
  check "list-parts: two parts" [ "$(grep -c '"PartNumber"' "$T/parts.json")" = 2 ]
  check "list-parts: CRC32 per part" [ "$(grep -c '"ChecksumCRC32"' "$T/parts.json")" = 2 ]
  check "list-parts page of one" [ "$(a s3api list-parts --bucket "$B" --key hand --upload-id "$id" \
    --max-parts 1 --no-paginate --query 'NextPartNumberMarker' --output text)" = 1 ]
  check "listed upload" [ "$(a s3api list-multipart-uploads --bucket "$B" --prefix ha --query 'Uploads[0].UploadId' --output text)" = "$id" ]
  c1=$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["Parts"]; print(p[0]["ChecksumCRC32"], p[1]["ChecksumCRC32"])' "$T/parts.json")
  read -r s1 s2 <<<"$c1"
  python3 - "$e1" "$e2" "$s1" "$s2" "$T" <<'EOF'
import json, sys
e1, e2, s1, s2, t = sys.argv[1:]
good = {"Parts": [{"PartNumber": 1, "ETag": e1, "ChecksumCRC32": s1},
                  {"PartNumber": 2, "ETag": e2, "ChecksumCRC32": s2}]}
json.dump(good, open(t + "/good.json", "w"))
json.dump({"Parts": good["Parts"][::-1]}, open(t + "/order.json", "w"))
json.dump({"Parts": [{"PartNumber": 1, "ETag": e2, "ChecksumCRC32": s1}, good["Parts"][1]]},
          open(t + "/etag.json", "w"))
EOF
  a s3api complete-multipart-upload --bucket "$B" --key hand --upload-id "$id" \
    --multipart-upload "file://$T/order.json" >/dev/null 2>"$T/err"
  check "out of order: InvalidPartOrder" grep -q InvalidPartOrder "$T/err"
  a s3api complete-multipart-upload --bucket "$B" --key hand --upload-id "$id" \
    --multipart-upload "file://$T/etag.json" >/dev/null 2>"$T/err"
  check "wrong ETag: InvalidPart" grep -q InvalidPart "$T/err"
  a s3api complete-multipart-upload --bucket "$B" --key hand --upload-id "$id" \
    --multipart-upload "file://$T/good.json" >"$T/done.json"
  check "complete: ETag -2" grep -q '"ETag": "\\"[0-9a-f]\{32\}-2\\""' "$T/done.json"
  check "complete: composite CRC32" grep -q '"ChecksumCRC32": "[A-Za-z0-9+/=]*-2"' "$T/done.json"
  # Clients whose model predates ChecksumType (aws 2.9) drop it from the answer.
  if "$AWS" s3api complete-multipart-upload --bucket "$B" --key hand --upload-id x \
    --generate-cli-skeleton output | grep -q ChecksumType; then
    check "complete: ChecksumType" grep -q '"ChecksumType": "COMPOSITE"' "$T/done.json"
  fi
  check "retried complete answers the same" a s3api complete-multipart-upload --bucket "$B" --key hand \
    --upload-id "$id" --multipart-upload "file://$T/good.json" --query ETag --output text >/dev/null
  a s3 cp "s3://$B/hand" "$T/hand.back" --only-show-errors
  check "hand-made object" cmp -s "$T/hand.back" <(cat "$T/p1" "$T/p2")
  a s3api upload-part --bucket "$B" --key hand --upload-id "$id" --part-number 3 --body "$T/p2" \
    >/dev/null 2>"$T/err"
  check "part after complete: NoSuchUpload" grep -q NoSuchUpload "$T/err"

  # Abort.
  id=$(a s3api create-multipart-upload --bucket "$B" --key gone --query UploadId --output text)
  a s3api upload-part --bucket "$B" --key gone --upload-id "$id" --part-number 1 --body "$T/p2" >/dev/null
  check "abort" a s3api abort-multipart-upload --bucket "$B" --key gone --upload-id "$id"
  a s3api list-parts --bucket "$B" --key gone --upload-id "$id" >/dev/null 2>"$T/err"
  check "aborted: NoSuchUpload" grep -q NoSuchUpload "$T/err"
  a s3api abort-multipart-upload --bucket "$B" --key gone --upload-id "$id" 2>"$T/err"
  check "abort twice: NoSuchUpload" grep -q NoSuchUpload "$T/err"
  check "nothing made" [ "$(a s3 ls "s3://$B/gone" | wc -l)" = 0 ]
  a s3api upload-part-copy --bucket "$B" --key x --upload-id "$id" --part-number 1 \
    --copy-source "$B/hand" >/dev/null 2>"$T/err"
  check "upload-part-copy: NotImplemented" grep -q NotImplemented "$T/err"
done
check "no staged part left" [ -z "$(ls -A "$T/plain/.cairn/uploads" 2>/dev/null)" ]
kill -TERM "$SRV"
wait "$SRV"

echo "== kill -9 during UploadPart, then restart: the upload resumes"
mkdir -p "$T/crash/bkt"
start_noauth() {
  rm -f "$T/port2"
  "$CAIRN" serve --no-auth --address 127.0.0.1:0 --port-file "$T/port2" "$T/crash" \
    >"$T/server2.out" 2>"$T/server2.err" &
  SRV2=$!
  PIDS+=("$SRV2")
  for _ in $(seq 100); do [[ -s "$T/port2" ]] && break; sleep 0.1; done
  [[ -s "$T/port2" ]] || { echo "server did not start: $(cat "$T/server2.err")"; exit 1; }
  U="http://127.0.0.1:$(cat "$T/port2")"
}
start_noauth
id=$(curl -s -X POST "$U/bkt/k?uploads" | sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p')
check "crash: create" [ -n "$id" ]
check "crash: part 1" [ "$(curl -s -o /dev/null -w '%{http_code}' -T "$T/p1" "$U/bkt/k?partNumber=1&uploadId=$id")" = 200 ]
# Part 2 trickles in (1 MiB/s of 20 MiB) and the server is killed on the way.
curl -s -o /dev/null --limit-rate 1M -T "$T/big" "$U/bkt/k?partNumber=2&uploadId=$id" &
CURL=$!
sleep 2
kill -9 "$SRV2"
wait "$SRV2" 2>/dev/null
wait "$CURL" 2>/dev/null
start_noauth
curl -s "$U/bkt/k?uploadId=$id" >"$T/lp.xml"
check "crash: part 1 survived" grep -q '<PartNumber>1</PartNumber>' "$T/lp.xml"
check "crash: no torn part 2" bash -c "! grep -q '<PartNumber>2</PartNumber>' '$T/lp.xml'"
check "crash: no object yet" [ "$(curl -s -o /dev/null -w '%{http_code}' "$U/bkt/k")" = 404 ]
e1=$(md5sum <"$T/p1" | cut -d' ' -f1)
e2=$(curl -s -D - -o /dev/null -T "$T/p2" "$U/bkt/k?partNumber=2&uploadId=$id" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: "\(.*\)"/\1/p')
body="<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>$e1</ETag></Part><Part><PartNumber>2</PartNumber><ETag>$e2</ETag></Part></CompleteMultipartUpload>"
check "crash: complete after restart" [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data "$body" "$U/bkt/k?uploadId=$id")" = 200 ]
curl -s -o "$T/k.back" "$U/bkt/k"
check "crash: whole object" cmp -s "$T/k.back" <(cat "$T/p1" "$T/p2")
check "crash: no temp file left" [ -z "$(ls -A "$T/crash/.cairn/tmp")" ]
check "crash: no staged part left" [ -z "$(ls -A "$T/crash/.cairn/uploads" 2>/dev/null)" ]
kill -TERM "$SRV2"
wait "$SRV2"
finish
