#!/usr/bin/env bash
# Multipart uploads through `cairn serve` on a plain directory, driven with the real aws cli
# (SigV4, the cli's multipart threshold of 8 MiB and its default checksums): `aws s3 cp` of a
# 20 MiB file up (three parts) and back byte-identical, then the s3api calls one by one (create
# with a checksum algorithm, parts, list-parts, list-multipart-uploads, complete, abort) and their
# errors. Runs with every aws found (/usr/bin/aws and a pyenv one), each against its own bucket.
# Then the faults, with curl, on a plain directory and on a member of a 4+2 volume set (see
# `faults` below): kill -9 of the server during UploadPart and during Complete, restart, resume or
# abort; abandoned uploads (gc on the set); staged parts tampered with on disk.
# Usage: tests/e2e_multipart.sh path/to/cairn [aws|faults]   (default: both)
source "$(dirname "$0")/e2e_lib.sh"
for v in $(compgen -e); do
  case $v in AWS_* | *_proxy | *_PROXY) unset "$v" ;; esac
done
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
# PART: the aws cli section ("aws"), the fault tests ("faults") or both (the default). ctest runs
# the two as separate entries (e2e-multipart, e2e-multipart-faults) so that they overlap.
PART=${2:-all}
[[ $PART == all || $PART == aws || $PART == faults ]] ||
  { echo "usage: tests/e2e_multipart.sh path/to/cairn [aws|faults]" >&2; exit 2; }
randfile "$T/big" $((20 << 20))
head -c $((5 << 20)) /dev/urandom >"$T/p1"
head -c 1000 /dev/urandom >"$T/p2"

if [[ $PART != faults ]]; then

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
  check "upload-part-copy to an aborted upload: NoSuchUpload" grep -q NoSuchUpload "$T/err"
done
check "no staged part left" [ -z "$(ls -A "$T/plain/.cairn/uploads" 2>/dev/null)" ]
kill -TERM "$SRV"
wait "$SRV"
fi

# ---- Faults, on a plain directory and on a member of a 4+2 volume set: kill -9 of the server
# during UploadPart and during Complete, then a restart (the upload resumes, or is aborted; a
# completed object is whole); abandoned uploads and gc; parts tampered with on disk.
# start_srv DIR [ENV...]: `cairn serve --no-auth` on DIR (with ENV, e.g. a kill point), sets SRV2
# and U; returns 1 when the server did not come up (a kill point may stop it on the way).
start_srv() {
  local dir=$1
  shift
  rm -f "$T/port2"
  env "$@" "$CAIRN" serve --no-auth --address 127.0.0.1:0 --port-file "$T/port2" "$dir" \
    >>"$T/server2.out" 2>>"$T/server2.err" &
  SRV2=$!
  PIDS+=("$SRV2")
  for _ in $(seq 200); do
    [[ -s "$T/port2" ]] && break
    kill -0 "$SRV2" 2>/dev/null || break
    sleep 0.05
  done
  [[ -s "$T/port2" ]] || return 1
  U="http://127.0.0.1:$(cat "$T/port2")"
}
must_start() { start_srv "$@" || { echo "server did not start: $(tail -c 500 "$T/server2.err")"; exit 1; }; }
# kill_srv: SIGKILL; the exit status of the server (137 when it died by SIGKILL).
kill_srv() { kill_ours 9 "$SRV2"; wait "$SRV2" 2>/dev/null; }
code_of() { curl -s -o "${2:-/dev/null}" -w '%{http_code}' "${@:3}" "$1"; }
create() { curl -s -X POST "$U/bkt/$1?uploads" | sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p'; }
# put_part KEY ID N FILE: uploads a part, prints its ETag (unquoted).
put_part() {
  curl -s -D - -o /dev/null -T "$4" "$U/bkt/$1?partNumber=$3&uploadId=$2" | tr -d '\r' |
    sed -n 's/^[Ee][Tt][Aa][Gg]: "\(.*\)"/\1/p'
}
# body_of ETAG...: a CompleteMultipartUpload body naming parts 1..N with these ETags.
body_of() {
  local n=0 e b="<CompleteMultipartUpload>"
  for e in "$@"; do n=$((n + 1)); b+="<Part><PartNumber>$n</PartNumber><ETag>$e</ETag></Part>"; done
  echo "$b</CompleteMultipartUpload>"
}
nparts() { curl -s "$U/bkt/$1?uploadId=$2&max-parts=1000" | grep -o '<PartNumber>' | wc -l; }
# get_whole WHAT KEY FILE: GET KEY is 200 and byte-identical to FILE.
get_whole() {
  rm -f "$T/got"
  local c
  c=$(code_of "$U/bkt/$2" "$T/got")
  check "$1 (HTTP $c)" [ "$c" = 200 ]
  check "$1: byte-identical" cmp -s "$T/got" "$3"
}
# get_not_bad WHAT KEY FILE: GET KEY fails loudly (an error status, or a transfer cut short) or
# gives exactly FILE; never a whole body of other bytes.
get_not_bad() {
  rm -f "$T/got"
  local c rc
  c=$(curl -s -o "$T/got" -w '%{http_code}' "$U/bkt/$2")
  rc=$?
  if [[ $c == 200 && $rc -eq 0 ]]; then
    check "$1: served 200 in full, so the bytes must be right" cmp -s "$T/got" "$3"
  else
    ok
    echo "   $1: refused (HTTP $c, curl exit $rc, $(stat -c %s "$T/got" 2>/dev/null || echo 0) bytes)"
  fi
}
# flip FILE OFFSET: inverts one byte of FILE in place.
flip() {
  python3 - "$1" "$2" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))
PY
}

randfile "$T/mp" $((16 * 5 << 20))  # 16 parts of 5 MiB for the Complete kills
split -b 5M -d -a 2 "$T/mp" "$T/mp."

# faults KIND DIR MEMBER_ROOT...: the fault tests against `cairn serve DIR`; the members' roots
# (DIR alone for a plain directory) are where staged parts live on disk.
faults() {
  local kind=$1 dir=$2
  shift 2
  local roots=("$@") id e1 e2 c f i
  echo "== faults on $kind"
  must_start "$dir"
  check "$kind: make bucket" [ "$(code_of "$U/bkt" /dev/null -X PUT)" = 200 ]

  # kill -9 during UploadPart: part 2 trickles in (1 MiB/s of 20 MiB) and the server is killed.
  id=$(create k)
  check "$kind crash part: create" [ -n "$id" ]
  e1=$(put_part k "$id" 1 "$T/p1")
  check "$kind crash part: part 1" [ "$e1" = "$(md5sum <"$T/p1" | cut -d' ' -f1)" ]
  curl -s -o /dev/null --limit-rate 1M -T "$T/big" "$U/bkt/k?partNumber=2&uploadId=$id" &
  CURL=$!
  sleep 1
  kill_srv
  wait "$CURL" 2>/dev/null
  must_start "$dir"
  curl -s "$U/bkt/k?uploadId=$id" >"$T/lp.xml"
  check "$kind crash part: part 1 survived" grep -q '<PartNumber>1</PartNumber>' "$T/lp.xml"
  check "$kind crash part: no torn part 2" bash -c "! grep -q '<PartNumber>2</PartNumber>' '$T/lp.xml'"
  check "$kind crash part: no object yet" [ "$(code_of "$U/bkt/k")" = 404 ]
  e2=$(put_part k "$id" 2 "$T/p2")
  check "$kind crash part: resumed, complete" [ "$(code_of "$U/bkt/k?uploadId=$id" /dev/null -X POST --data "$(body_of "$e1" "$e2")")" = 200 ]
  cat "$T/p1" "$T/p2" >"$T/p12"
  get_whole "$kind crash part: object" k "$T/p12"

  # kill -9 during an UploadPart going straight into its slot of the assembly file (plain: a part
  # of the declared size S, 5 MiB here, set by part 1): after the restart, part 1 (held by its
  # slot, written before the restart) is read back and checked by Complete, part 2 is not there.
  id=$(create slot)
  e1=$(put_part slot "$id" 1 "$T/p1")
  [[ $kind == plain ]] && check "$kind crash slot part: part 1 held by its slot (no staged file)" \
    [ "$(ls "$dir/.cairn/uploads/$id")" = assembly ]
  curl -s -o /dev/null --limit-rate 1M -T "$T/p1" "$U/bkt/slot?partNumber=2&uploadId=$id" &
  CURL=$!
  sleep 1
  kill_srv
  wait "$CURL" 2>/dev/null
  must_start "$dir"
  curl -s "$U/bkt/slot?uploadId=$id" >"$T/lp.xml"
  check "$kind crash slot part: part 1 survived" grep -q '<PartNumber>1</PartNumber>' "$T/lp.xml"
  check "$kind crash slot part: no torn part 2" bash -c "! grep -q '<PartNumber>2</PartNumber>' '$T/lp.xml'"
  e2=$(put_part slot "$id" 2 "$T/p2")
  check "$kind crash slot part: resumed, complete" [ "$(code_of "$U/bkt/slot?uploadId=$id" /dev/null -X POST --data "$(body_of "$e1" "$e2")")" = 200 ]
  get_whole "$kind crash slot part: object" slot "$T/p12"

  # kill -9 during UploadPart, then the upload is aborted.
  id=$(create gone)
  put_part gone "$id" 1 "$T/p1" >/dev/null
  curl -s -o /dev/null --limit-rate 1M -T "$T/big" "$U/bkt/gone?partNumber=2&uploadId=$id" &
  CURL=$!
  sleep 1
  kill_srv
  wait "$CURL" 2>/dev/null
  must_start "$dir"
  check "$kind crash then abort: 204" [ "$(code_of "$U/bkt/gone?uploadId=$id" /dev/null -X DELETE)" = 204 ]
  check "$kind crash then abort: NoSuchUpload" [ "$(code_of "$U/bkt/gone?uploadId=$id")" = 404 ]
  check "$kind crash then abort: no object" [ "$(code_of "$U/bkt/gone")" = 404 ]
  for r in "${roots[@]}"; do
    check "$kind crash then abort: staging removed in $r" [ -z "$(ls -d "$r/.cairn/uploads/$id" "$r/.cairn/multipart/$id" 2>/dev/null)" ]
  done

  # kill -9 during Complete of 16 parts. On the set the kill is exact: the server is restarted
  # with CAIRN_TEST_KILL_AT=any:N (libstore/volume/kill_point.h) for N = 1, 2, ... until a Complete
  # gets through, so every volume call of Complete is a kill point once. On the plain directory
  # (whose volume has no kill points) the kill is timed, 0, 8, 16, ... ms after the request, until
  # the object exists; a temp file left in .cairn/tmp shows a kill in the middle of assembling.
  # After each kill and a restart: either no object and the upload open with its 16 parts (then
  # the next try resumes it), or the whole object. On a machine so loaded that 60 timed kills (up
  # to 472 ms after the request) all come before Complete's end, a 61st try runs uncut: the
  # upload the kills left must still complete.
  id=$(create big)
  local etags=()
  for f in "$T"/mp.??; do etags+=("$(put_part big "$id" $((10#${f##*.} + 1)) "$f")"); done
  body_of "${etags[@]}" >"$T/cbody"
  local try=0 done=0 inflight=0 assembling=0 before=0 after=0 answered=0
  kill_srv
  while ((!done && try < 61)); do
    try=$((try + 1))
    if [[ $kind == set ]]; then
      start_srv "$dir" CAIRN_TEST_KILL_AT=any:$try || { before=$((before + 1)); continue; }
      c=$(code_of "$U/bkt/big?uploadId=$id" /dev/null -X POST --data-binary "@$T/cbody")
      kill_srv
    else
      must_start "$dir"
      code_of "$U/bkt/big?uploadId=$id" /dev/null -X POST --data-binary "@$T/cbody" >"$T/ccode" &
      CURL=$!
      if ((try <= 60)); then
        sleep "$(awk -v t=$try 'BEGIN { printf "%.3f", (t - 1) * 0.008 }')"
        kill_srv
        wait "$CURL" 2>/dev/null
      else
        wait "$CURL" 2>/dev/null
        kill_srv
      fi
      c=$(cat "$T/ccode")
      [[ -n $(ls -A "$dir/.cairn/tmp" 2>/dev/null) ]] && assembling=$((assembling + 1))
    fi
    [[ $c == 200 ]] && answered=$((answered + 1))
    [[ $c == 000 ]] && inflight=$((inflight + 1))
    must_start "$dir"
    c=$(code_of "$U/bkt/big" "$T/got")
    if [[ $c == 200 ]]; then
      done=1
      after=$((after + 1))
      check "$kind kill in Complete (try $try): the object is whole" cmp -s "$T/got" "$T/mp"
      check "$kind kill in Complete: a retried Complete answers 200" \
        [ "$(code_of "$U/bkt/big?uploadId=$id" /dev/null -X POST --data-binary "@$T/cbody")" = 200 ]
    else
      check "$kind kill in Complete (try $try): no object (HTTP $c) and the upload open" \
        [ "$c" = 404 -a "$(nparts big "$id")" = 16 ]
    fi
    kill_srv
  done
  local how="$before killed before serving"
  [[ $kind == plain ]] && how="$assembling left a half-assembled temp file"
  echo "   $kind: $try tries of Complete, $inflight killed unanswered, $answered answered, $how"
  check "$kind kill in Complete: completed in the end" [ "$done" = 1 ]
  check "$kind kill in Complete: some kill hit a Complete in flight" [ "$inflight" -ge 1 ]
  must_start "$dir"
  get_whole "$kind kill in Complete: object after restart" big "$T/mp"

  # Tampered parts. A part's bytes changed on disk after its upload.
  if [[ $kind == plain ]]; then
    # Truncated, one byte flipped, and one byte flipped with the mtime put back (touch -r): Complete
    # refuses. A staged part (part 1 uploaded twice: the second is staged, its slot's part being
    # recorded): its size, mtime or ctime differs from its stamp. A part held by its slot of the
    # assembly file: the file changed since the server last wrote it (its ctime), so the slots
    # are read back and part 1's (or part 2's, cut) bytes do not match its ETag.
    for where in slot staged; do
      for how in truncate flip rewrite; do
        local k="t-$where-$how"
        id=$(create "$k")
        e1=$(put_part "$k" "$id" 1 "$T/p1")
        e2=$(put_part "$k" "$id" 2 "$T/p2")
        if [[ $where == staged ]]; then
          e1=$(put_part "$k" "$id" 1 "$T/p1")
          f=$(ls "$dir/.cairn/uploads/$id/"*.1)
        else
          f=$dir/.cairn/uploads/$id/assembly
          check "$kind tampered slot: parts held by their slots" [ "$(ls "$dir/.cairn/uploads/$id")" = assembly ]
        fi
        case $how in
          truncate) truncate -s -1 "$f" ;;
          flip) sleep 0.01; flip "$f" 1000 ;;
          rewrite) touch -r "$f" "$T/stamp"; sleep 0.01; flip "$f" 1000; touch -r "$T/stamp" "$f" ;;
        esac
        c=$(code_of "$U/bkt/$k?uploadId=$id" "$T/cout" -X POST --data "$(body_of "$e1" "$e2")")
        check "$kind tampered $where part ($how): Complete refuses (HTTP $c: $(head -c 200 "$T/cout"))" [ "$c" -ge 400 ]
        check "$kind tampered $where part ($how): no object" [ "$(code_of "$U/bkt/$k")" = 404 ]
      done
    done
  else
    # One member's part file flipped: the set reads around it (every block is checked), the bytes
    # are right. Three members' (more than the 2 parity shards): the GET fails, never bad bytes.
    id=$(create t-one)
    e1=$(put_part t-one "$id" 1 "$T/p1")
    e2=$(put_part t-one "$id" 2 "$T/p2")
    local shards=()
    for r in "${roots[@]}"; do
      shards+=("$(find "$r/.cairn/multipart/$id" -type f -size +1M | head -1)")
    done
    check "$kind tampered: a 5 MiB part's file on each member" [ "$(printf '%s\n' "${shards[@]}" | grep -c .)" = 6 ]
    flip "${shards[0]}" 300000
    check "$kind tampered (1 member): Complete" [ "$(code_of "$U/bkt/t-one?uploadId=$id" /dev/null -X POST --data "$(body_of "$e1" "$e2")")" = 200 ]
    get_whole "$kind tampered (1 member): GET reads around it" t-one "$T/p12"
    flip "${shards[1]}" 300000
    flip "${shards[2]}" 300000
    get_not_bad "$kind tampered (3 members)" t-one "$T/p12"
    # Truncated on three members before Complete.
    id=$(create t-cut)
    e1=$(put_part t-cut "$id" 1 "$T/p1")
    e2=$(put_part t-cut "$id" 2 "$T/p2")
    for i in 3 4 5; do
      f=$(find "${roots[$i]}/.cairn/multipart/$id" -type f -size +1M | head -1)
      truncate -s 500000 "$f"
    done
    c=$(code_of "$U/bkt/t-cut?uploadId=$id" /dev/null -X POST --data "$(body_of "$e1" "$e2")")
    echo "   $kind: Complete over parts truncated on 3 members: HTTP $c"
    get_not_bad "$kind truncated (3 members)" t-cut "$T/p12"
  fi

  # Abandoned: an upload with a part, and one killed in a part, left open.
  id=$(create left)
  put_part left "$id" 1 "$T/p1" >/dev/null
  curl -s -o /dev/null --limit-rate 1M -T "$T/big" "$U/bkt/left?partNumber=2&uploadId=$id" &
  CURL=$!
  sleep 1
  kill_srv
  wait "$CURL" 2>/dev/null
  if [[ $kind == set ]]; then
    expect 0 "$kind: gc --older-than 0" env CAIRN_SET="$dir" "$CAIRN" gc --older-than 0
    check "$kind gc: removed the abandoned upload" grep -q "upload .*$id" "$T/out"
    for r in "${roots[@]}"; do
      check "$kind gc: no staging of the abandoned upload in $r" [ ! -e "$r/.cairn/multipart/$id" ]
      check "$kind gc: $r/.cairn/tmp empty" [ -z "$(ls -A "$r/.cairn/tmp")" ]
    done
    must_start "$dir"
    check "$kind gc: the abandoned upload is gone" [ "$(code_of "$U/bkt/left?uploadId=$id")" = 404 ]
  else
    must_start "$dir"
    check "$kind: the abandoned upload is listed" bash -c "curl -s '$U/bkt?uploads' | grep -q '$id'"
    check "$kind: temp files of the kill removed at start" [ -z "$(ls -A "$dir/.cairn/tmp")" ]
  fi
  get_whole "$kind after gc: completed object" big "$T/mp"
  get_whole "$kind after gc: resumed object" k "$T/p12"
  kill_srv
}
if [[ $PART != aws ]]; then
  mkdir -p "$T/fplain"
  faults plain "$T/fplain" "$T/fplain"
  "$CAIRN" init --ec 4+2 "$T"/fset/m{1..6} >/dev/null || { echo "cairn init failed"; exit 1; }
  faults set "$T/fset/m1" "$T"/fset/m{1..6}
fi
finish
