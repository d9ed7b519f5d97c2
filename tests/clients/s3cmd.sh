#!/usr/bin/env bash
# The client matrix with s3cmd (path-style: host_bucket is the endpoint itself).
# Usage: s3cmd.sh ENDPOINT ACCESS SECRET REGION SCRATCH BUCKET
# Prints PASS|FAIL|SKIP lines; exits 1 when a check failed.
source "$(dirname "$0")/lib.sh"
matrix_init "s3cmd/$(s3cmd --version | awk '{print $3}')" "$@"
E=$S/err
hostport=${ENDPOINT#*://}
https=False
[[ $ENDPOINT == https:* ]] && https=True
# conf FILE SECRET: an s3cmd configuration for this endpoint.
conf() {
  cat >"$1" <<CONF
[default]
access_key = $ACCESS
secret_key = $2
host_base = $hostport
host_bucket = $hostport
bucket_location = $REGION
use_https = $https
ca_certs_file = ${CURL_CA_BUNDLE:-}
signature_v2 = False
CONF
}
conf "$S/s3cfg" "$SECRET"
conf "$S/s3cfg.bad" "wrong$SECRET"
s3c() { s3cmd -c "$S/s3cfg" --no-progress "$@" 2>"$E"; }
b=$BUCKET

# Presigned (s3cmd signurl signs with SigV2 query parameters) for 1 s now, fetched at the end.
expired_url=$(s3c signurl "s3://$b/obj/1k" +1)

s3c mb "s3://$b" >/dev/null
verdict mb $? "$(first_err "$E")"
for o in 0:empty 1k:1k 5m:5m; do
  s3c put "$S/f${o%%:*}" "s3://$b/obj/${o#*:}" >/dev/null
  verdict "put-${o%%:*}" $? "$(first_err "$E")"
done
etag=$(s3c info "s3://$b/obj/1k" | awk '/MD5 sum:/ {print $3}')
[[ $etag == "$(md5 "$S/f1k")" ]]
verdict etag-md5 $? "info gave MD5 '$etag'"

s3c put --mime-type=text/x-cairn-test --no-guess-mime-type --add-header=x-amz-meta-color:blue \
  --add-header=x-amz-meta-shape:round "$S/f1k" "s3://$b/obj/sub/meta" >/dev/null
# s3cmd info reads the object's headers (HEAD), then its ACL, policy and CORS; the metadata is
# checked in the HEAD response of its debug log, `info` as a whole separately.
s3cmd -c "$S/s3cfg" --debug info "s3://$b/obj/sub/meta" >"$S/info" 2>"$S/debug"
rc=$?
head=$(grep -A40 "method_string='HEAD'" "$S/debug")
grep -q "'content-type': 'text/x-cairn-test'" <<<"$head" && grep -q "'x-amz-meta-color': 'blue'" <<<"$head" &&
  grep -q "'x-amz-meta-shape': 'round'" <<<"$head"
verdict meta $? "HEAD response lacks the type or metadata: $(grep -m1 -A12 "Response:" <<<"$head" | tr -s ' \n' ' ' | head -c 300)"
[[ $rc -eq 0 ]] && grep -q 'x-amz-meta-color: *blue' "$S/info"
verdict info $? "exit $rc: $(grep -E 'Problem|ERROR' "$S/debug" | head -2 | tr '\n' ' ')"

s3c ls --recursive "s3://$b" | awk '{print $3, $4}' >"$S/ls"
printf '%s\n' "1024 s3://$b/obj/1k" "5242880 s3://$b/obj/5m" "0 s3://$b/obj/empty" \
  "1024 s3://$b/obj/sub/meta" >"$S/ls.want"
cmp -s "$S/ls" "$S/ls.want"
verdict list-recursive $? "got: $(tr '\n' ' ' <"$S/ls") $(first_err "$E")"
s3c ls "s3://$b/obj/" | awk '{print $NF}' >"$S/ls"
printf '%s\n' "s3://$b/obj/sub/" "s3://$b/obj/1k" "s3://$b/obj/5m" "s3://$b/obj/empty" >"$S/ls.want"
cmp -s "$S/ls" "$S/ls.want"
verdict list-delimiter $? "got: $(tr '\n' ' ' <"$S/ls") $(first_err "$E")"

for o in 0:empty 1k:1k 5m:5m; do
  rm -f "$S/got"
  s3c get "s3://$b/obj/${o#*:}" "$S/got" >/dev/null
  same_bytes "$S/f${o%%:*}" "$S/got"
  verdict "get-${o%%:*}" $? "bytes differ or missing ($(first_err "$E"))"
done
skip range "s3cmd get has no byte-range option"

# s3cmd cp reads the source's ACL (GET ?acl) before the copy.
s3c cp "s3://$b/obj/sub/meta" "s3://$b/copy/1" >/dev/null
rm -f "$S/got" && s3c get "s3://$b/copy/1" "$S/got" >/dev/null
s3cmd -c "$S/s3cfg" --debug info "s3://$b/copy/1" >/dev/null 2>"$S/debug"
same_bytes "$S/f1k" "$S/got" && grep -A40 "method_string='HEAD'" "$S/debug" | grep -q "'x-amz-meta-color': 'blue'"
verdict copy $? "copy missing, different or without metadata ($(first_err "$E"))"

url=$(s3c signurl "s3://$b/obj/1k" +300)
code=$(curl_status "$url" "$S/got")
[[ $code == 200 ]] && same_bytes "$S/f1k" "$S/got"
verdict presign-get $? "curl got HTTP $code $(first_err "$S/got.err")"
skip if-none-match-304 "s3cmd has no conditional GET"
skip if-match-412 "s3cmd has no conditional GET"

s3cmd -c "$S/s3cfg.bad" ls "s3://$b/" >/dev/null 2>"$E"
rc=$?
[[ $rc -ne 0 ]] && grep -qE '403|SignatureDoesNotMatch|AccessDenied' "$E"
verdict wrong-secret-403 $? "exit $rc: $(first_err "$E")"

s3c del "s3://$b/copy/1" >/dev/null
[[ -z $(s3c ls "s3://$b/copy/") ]]
verdict delete-one $? "copy/ not empty ($(first_err "$E"))"
# del --recursive deletes in batches with DeleteObjects (POST ?delete): the debug log shows it.
s3c put "$S/f0" "s3://$b/gone/a" >/dev/null && s3c put "$S/f0" "s3://$b/gone/b" >/dev/null
s3cmd -c "$S/s3cfg" --debug del --recursive "s3://$b/gone/" >/dev/null 2>"$S/debug"
rc=$?
left=$(s3c ls --recursive "s3://$b/gone/")
posts=$(grep -c "method_string='POST', uri='[^']*?delete'" "$S/debug")
[[ $rc -eq 0 && -z $left && $posts -ge 1 ]]
verdict delete-many $? "exit $rc, left '$left', $posts DeleteObjects requests"

s3c put --recursive "$S/many/" "s3://$b/many/" >/dev/null
verdict put-1500 $? "$(first_err "$E")"
s3c ls --recursive "s3://$b/many/" | awk '{sub("s3://[^/]*/", "", $4); print $4}' >"$S/many.got"
check_many_listing list-1500 "$S/many.got"

# Multipart at the defaults (multipart_chunk_size_mb 15: a file above 15 MiB goes in parts).
for mb in $(mpu_sizes 20); do
  mpu_file "$S/mpu" "$mb"
  s3c put "$S/mpu" "s3://$b/mpu/$mb" >/dev/null
  mpu_verdict "mpu-put-${mb}m" $? "mpu/$mb" 2 "$(first_err "$E")"
  rm -f "$S/got"
  s3c get "s3://$b/mpu/$mb" "$S/got" >/dev/null
  cmp -s "$S/mpu" "$S/got"
  verdict "mpu-get-${mb}m" $? "bytes differ or missing ($(first_err "$E"))"
  s3c del "s3://$b/mpu/$mb" >/dev/null
  rm -f "$S/mpu" "$S/got"
done

wait_expired
code=$(curl_status "$expired_url" "$S/got")
[[ $code == 403 ]]
verdict presign-expired-403 $? "curl got HTTP $code"
matrix_finish
