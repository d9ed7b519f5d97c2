#!/usr/bin/env bash
# The client matrix with the aws cli: `aws s3` (cp, ls, rm, presign, sync) and `aws s3api`
# (put/get/head/copy-object, delete-objects, list-objects-v2 page by page).
# Usage: awscli.sh ENDPOINT ACCESS SECRET REGION SCRATCH BUCKET [AWS_BINARY (default: aws)]
# Prints PASS|FAIL|SKIP lines; exits 1 when a check failed.
source "$(dirname "$0")/lib.sh"
AWS=${7:-aws}
ver=$("$AWS" --version 2>&1 | awk '{print $1}' | cut -d/ -f2)
matrix_init "aws/$ver" "$@"
C3="aws-s3/$ver" CA="aws-s3api/$ver"
export AWS_ACCESS_KEY_ID=$ACCESS AWS_SECRET_ACCESS_KEY=$SECRET AWS_DEFAULT_REGION=$REGION
export AWS_PAGER="" AWS_MAX_ATTEMPTS=1
E=$S/err
aws_() { "$AWS" --endpoint-url "$ENDPOINT" "$@" 2>"$E"; }
b=$BUCKET

# Presigned for 1 s now, fetched at the end (wait_expired): it must then be refused.
expired_url=$(aws_ s3 presign "s3://$b/obj/1k" --expires-in 1)

aws_ s3 mb "s3://$b" >/dev/null
verdict mb $? "$(first_err "$E")" "$C3"

# Uploads: aws s3 cp for 0 B and 5 MiB (below its 8 MiB multipart threshold), s3api put-object
# for 1 KiB.
aws_ s3 cp "$S/f0" "s3://$b/obj/empty" >/dev/null
verdict put-0 $? "$(first_err "$E")" "$C3"
aws_ s3 cp "$S/f5m" "s3://$b/obj/5m" >/dev/null
verdict put-5m $? "$(first_err "$E")" "$C3"
aws_ s3api put-object --bucket "$b" --key obj/1k --body "$S/f1k" >/dev/null
verdict put-1k $? "$(first_err "$E")" "$CA"
etag=$(aws_ s3api head-object --bucket "$b" --key obj/1k --query ETag --output text)
[[ $etag == "\"$(md5 "$S/f1k")\"" ]]
verdict etag-md5 $? "head-object ETag $etag, want the MD5 of the bytes" "$CA"

# Metadata and content type.
aws_ s3api put-object --bucket "$b" --key obj/sub/meta --body "$S/f1k" \
  --content-type text/x-cairn-test --metadata color=blue,shape=round >/dev/null &&
  got=$(aws_ s3api head-object --bucket "$b" --key obj/sub/meta \
    --query '[ContentType, Metadata.color, Metadata.shape]' --output text)
[[ ${got:-} == $'text/x-cairn-test\tblue\tround' ]]
verdict meta $? "head-object gave '${got:-}' ($(first_err "$E"))" "$CA"

# Listings: recursive, and one level with a delimiter.
aws_ s3 ls --recursive "s3://$b/" | awk '{print $3, $4}' >"$S/ls"
printf '%s\n' "1024 obj/1k" "5242880 obj/5m" "0 obj/empty" "1024 obj/sub/meta" >"$S/ls.want"
cmp -s "$S/ls" "$S/ls.want"
verdict list-recursive $? "got: $(tr '\n' ' ' <"$S/ls") $(first_err "$E")" "$C3"
got=$(aws_ s3api list-objects-v2 --bucket "$b" --prefix obj/ --delimiter / \
  --query '[Contents[].Key, CommonPrefixes[].Prefix]' --output text | tr '\t\n' '  ')
[[ $got == "obj/1k obj/5m obj/empty obj/sub/ " ]]
verdict list-delimiter $? "got '$got' $(first_err "$E")" "$CA"

# Downloads, compared by SHA-256.
for o in 0:empty 1k:1k 5m:5m; do
  rm -f "$S/got"
  aws_ s3 cp "s3://$b/obj/${o#*:}" "$S/got" >/dev/null
  same_bytes "$S/f${o%%:*}" "$S/got"
  verdict "get-${o%%:*}" $? "bytes differ or missing ($(first_err "$E"))" "$C3"
done

# Ranged GET: 64 KiB from the middle of the 5 MiB object.
rm -f "$S/got"
aws_ s3api get-object --bucket "$b" --key obj/5m --range bytes=1000000-1065535 "$S/got" >/dev/null
tail -c +1000001 "$S/f5m" | head -c 65536 >"$S/want"
same_bytes "$S/want" "$S/got"
verdict range $? "bytes differ or missing ($(first_err "$E"))" "$CA"

# Server-side copy, both ways.
aws_ s3 cp "s3://$b/obj/1k" "s3://$b/copy/s3" >/dev/null
rm -f "$S/got" && aws_ s3 cp "s3://$b/copy/s3" "$S/got" >/dev/null
same_bytes "$S/f1k" "$S/got"
verdict copy $? "copy missing or differs ($(first_err "$E"))" "$C3"
aws_ s3api copy-object --bucket "$b" --key copy/s3api --copy-source "$b/obj/sub/meta" >/dev/null
got=$(aws_ s3api head-object --bucket "$b" --key copy/s3api \
  --query '[ContentLength, ContentType, Metadata.color]' --output text)
[[ ${got:-} == $'1024\ttext/x-cairn-test\tblue' ]]
verdict copy $? "copy's head-object gave '${got:-}' ($(first_err "$E"))" "$CA"

# Presigned GET, fetched with curl.
url=$(aws_ s3 presign "s3://$b/obj/1k" --expires-in 300)
code=$(curl_status "$url" "$S/got")
[[ $code == 200 ]] && same_bytes "$S/f1k" "$S/got"
verdict presign-get $? "curl got HTTP $code $(first_err "$S/got.err")" "$C3"

# Conditional GETs: the aws cli reports 304 and 412 as errors naming the status.
aws_ s3api get-object --bucket "$b" --key obj/1k --if-none-match "$etag" "$S/got" >/dev/null
rc=$?
[[ $rc -ne 0 ]] && grep -q '304' "$E"
verdict if-none-match-304 $? "exit $rc: $(first_err "$E")" "$CA"
aws_ s3api get-object --bucket "$b" --key obj/1k --if-match '"0123456789abcdef0123456789abcdef"' \
  "$S/got" >/dev/null
rc=$?
[[ $rc -ne 0 ]] && grep -qE '412|PreconditionFailed' "$E"
verdict if-match-412 $? "exit $rc: $(first_err "$E")" "$CA"

# A wrong secret key is refused with 403 (SignatureDoesNotMatch).
AWS_SECRET_ACCESS_KEY="wrong$SECRET" aws_ s3api head-object --bucket "$b" --key obj/1k >/dev/null
rc=$?
[[ $rc -ne 0 ]] && grep -q '403' "$E"
verdict wrong-secret-403 $? "exit $rc: $(first_err "$E")" "$CA"
AWS_SECRET_ACCESS_KEY="wrong$SECRET" aws_ s3 ls "s3://$b/" >/dev/null
rc=$?
[[ $rc -ne 0 ]] && grep -qE 'SignatureDoesNotMatch|403|Forbidden' "$E"
verdict wrong-secret-403 $? "exit $rc: $(first_err "$E")" "$C3"

# Deletes: one with aws s3 rm, many with s3api delete-objects (one DeleteObjects request).
aws_ s3 rm "s3://$b/copy/s3" >/dev/null &&
  got=$(aws_ s3api list-objects-v2 --bucket "$b" --prefix copy/ --query 'Contents[].Key' --output text)
[[ ${got:-} == copy/s3api ]]
verdict delete-one $? "copy/ then holds '${got:-}' ($(first_err "$E"))" "$C3"
aws_ s3api delete-objects --bucket "$b" \
  --delete '{"Objects":[{"Key":"obj/empty"},{"Key":"obj/5m"},{"Key":"copy/s3api"}]}' >"$S/del" &&
  got=$(aws_ s3api list-objects-v2 --bucket "$b" --query 'Contents[].Key' --output text | tr '\t' ' ')
[[ ${got:-} == "obj/1k obj/sub/meta" ]] && ! grep -q '"Errors"' "$S/del"
verdict delete-many $? "bucket then holds '${got:-}' ($(first_err "$E") $(head -c 200 "$S/del"))" "$CA"

# 1,500 keys: uploaded with aws s3 cp --recursive, listed by aws s3 ls (which pages by itself)
# and by s3api list-objects-v2 one 1,000-key page at a time (continuation token).
aws_ s3 cp --recursive --quiet "$S/many" "s3://$b/many/"
verdict put-1500 $? "$(first_err "$E")" "$C3"
aws_ s3 ls --recursive "s3://$b/many/" | awk '{print $4}' >"$S/many.got"
check_many_listing list-1500 "$S/many.got" "$C3"
: >"$S/many.got"
tok=() pages=0
while :; do
  aws_ s3api list-objects-v2 --bucket "$b" --prefix many/ --max-keys 1000 "${tok[@]}" \
    --no-paginate --output json >"$S/page" || break
  pages=$((pages + 1))
  python3 -c 'import json,sys; [print(o["Key"]) for o in json.load(sys.stdin).get("Contents",[])]' \
    <"$S/page" >>"$S/many.got"
  next=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("NextContinuationToken","") if d.get("IsTruncated") else "")' <"$S/page")
  [[ -z $next || $pages -ge 10 ]] && break
  tok=(--continuation-token "$next")
done
if [[ $pages -ne 2 ]]; then
  fail list-1500-pages "$pages pages of at most 1000 keys, want 2 ($(first_err "$E"))" "$CA"
else
  check_many_listing list-1500-pages "$S/many.got" "$CA"
fi

# Multipart at the defaults (threshold and part size 8 MiB): aws s3 cp of a file up and down,
# and of the same bytes from stdin with --expected-size (the cli then sizes its parts from it).
for mb in $(mpu_sizes 20); do
  mpu_file "$S/mpu" "$mb"
  aws_ s3 cp "$S/mpu" "s3://$b/mpu/$mb" >/dev/null
  mpu_verdict "mpu-put-${mb}m" $? "mpu/$mb" 2 "$(first_err "$E")" "$C3"
  rm -f "$S/got"
  aws_ s3 cp "s3://$b/mpu/$mb" "$S/got" >/dev/null
  cmp -s "$S/mpu" "$S/got"
  verdict "mpu-get-${mb}m" $? "bytes differ or missing ($(first_err "$E"))" "$C3"
  aws_ s3 cp - "s3://$b/mpu/stdin-$mb" --expected-size $((mb << 20)) <"$S/mpu" >/dev/null
  mpu_verdict "mpu-stdin-${mb}m" $? "mpu/stdin-$mb" 2 "$(first_err "$E")" "$C3"
  rm -f "$S/got"
  aws_ s3 cp "s3://$b/mpu/stdin-$mb" - >"$S/got"
  cmp -s "$S/mpu" "$S/got"
  verdict "mpu-stdin-get-${mb}m" $? "bytes differ or missing ($(first_err "$E"))" "$C3"
  aws_ s3 rm --recursive --quiet "s3://$b/mpu/"
  rm -f "$S/mpu" "$S/got"
done

# The URL presigned for 1 s at the start has expired by now.
wait_expired
code=$(curl_status "$expired_url" "$S/got")
[[ $code == 403 ]]
verdict presign-expired-403 $? "curl got HTTP $code" "$C3"

matrix_finish
