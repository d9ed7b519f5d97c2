#!/usr/bin/env bash
# The client matrix with rclone (s3 backend, provider Other, path-style), from its own config file.
# Usage: rclone.sh ENDPOINT ACCESS SECRET REGION SCRATCH BUCKET
# Prints PASS|FAIL|SKIP lines; exits 1 when a check failed.
source "$(dirname "$0")/lib.sh"
matrix_init "rclone/$(rclone version | awk 'NR==1 {print $2}')" "$@"
E=$S/err
# rclone 1.60 fails every request when AWS_CA_BUNDLE names a bundle it cannot use; the runner
# unsets it, and so does this driver when run alone.
unset AWS_CA_BUNDLE
cat >"$S/rclone.conf" <<CONF
[m]
type = s3
provider = Other
access_key_id = $ACCESS
secret_access_key = $SECRET
endpoint = $ENDPOINT
region = $REGION
force_path_style = true

[bad]
type = s3
provider = Other
access_key_id = $ACCESS
secret_access_key = wrong$SECRET
endpoint = $ENDPOINT
region = $REGION
force_path_style = true
CONF
rc_() { rclone --config "$S/rclone.conf" --retries 1 --low-level-retries 1 "$@" 2>"$E"; }
b=$BUCKET

rc_ mkdir "m:$b"
verdict mb $? "$(first_err "$E")"
# rclone checks the ETag of each upload against the MD5 it computed.
for o in 0:empty 1k:1k 5m:5m; do
  rc_ copyto "$S/f${o%%:*}" "m:$b/obj/${o#*:}"
  verdict "put-${o%%:*}" $? "$(first_err "$E")"
done
got=$(rc_ md5sum "m:$b/obj/1k" | awk '{print $1}')
[[ $got == "$(md5 "$S/f1k")" ]]
verdict etag-md5 $? "rclone md5sum (the ETag) gave '$got'"

rc_ copyto --header-upload "Content-Type: text/x-cairn-test" --header-upload "X-Amz-Meta-Color: blue" \
  --header-upload "X-Amz-Meta-Shape: round" "$S/f1k" "m:$b/obj/sub/meta" &&
  rc_ lsjson --metadata "m:$b/obj/sub/meta" >"$S/meta"
python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))[0]
m = o.get("Metadata", {})
sys.exit(0 if o["MimeType"] == "text/x-cairn-test" and m.get("color") == "blue" and m.get("shape") == "round" else 1)' "$S/meta" 2>/dev/null
verdict meta $? "lsjson gave $(head -c 300 "$S/meta") $(first_err "$E")"

rc_ lsf -R --files-only --format sp "m:$b" >"$S/ls"
printf '%s\n' "1024;obj/1k" "5242880;obj/5m" "0;obj/empty" "1024;obj/sub/meta" >"$S/ls.want"
cmp -s "$S/ls" "$S/ls.want"
verdict list-recursive $? "got: $(tr '\n' ' ' <"$S/ls") $(first_err "$E")"
rc_ lsf "m:$b/obj/" >"$S/ls"
printf '%s\n' 1k 5m empty sub/ >"$S/ls.want"
cmp -s "$S/ls" "$S/ls.want"
verdict list-delimiter $? "got: $(tr '\n' ' ' <"$S/ls") $(first_err "$E")"

for o in 0:empty 1k:1k 5m:5m; do
  rm -f "$S/got"
  rc_ copyto "m:$b/obj/${o#*:}" "$S/got"
  same_bytes "$S/f${o%%:*}" "$S/got"
  verdict "get-${o%%:*}" $? "bytes differ or missing ($(first_err "$E"))"
done
rc_ cat --offset 1000000 --count 65536 "m:$b/obj/5m" >"$S/got"
tail -c +1000001 "$S/f5m" | head -c 65536 >"$S/want"
same_bytes "$S/want" "$S/got"
verdict range $? "bytes differ or missing ($(first_err "$E"))"

# A copy within the remote is a server-side CopyObject.
rc_ copyto "m:$b/obj/sub/meta" "m:$b/copy/1" && rc_ lsjson --metadata "m:$b/copy/1" >"$S/meta" &&
  rm -f "$S/got" && rc_ copyto "m:$b/copy/1" "$S/got"
same_bytes "$S/f1k" "$S/got" && grep -q '"color":"blue"' "$S/meta"
verdict copy $? "copy missing, different or without metadata ($(first_err "$E"))"

url=$(rc_ link --expire 5m "m:$b/obj/1k")
code=$(curl_status "$url" "$S/got")
[[ $code == 200 ]] && same_bytes "$S/f1k" "$S/got"
verdict presign-get $? "curl got HTTP $code $(first_err "$S/got.err") $(first_err "$E")"
skip if-none-match-304 "rclone has no conditional GET"
skip if-match-412 "rclone has no conditional GET"

rc_ lsf "bad:$b/obj/" >/dev/null
rc=$?
[[ $rc -ne 0 ]] && grep -qE '403|SignatureDoesNotMatch|AccessDenied' "$E"
verdict wrong-secret-403 $? "exit $rc: $(first_err "$E")"

rc_ deletefile "m:$b/copy/1" && left=$(rc_ lsf "m:$b/copy/")
[[ $? -eq 0 && -z $left ]]
verdict delete-one $? "copy/ holds '$left' ($(first_err "$E"))"
skip delete-many "rclone 1.60 deletes S3 objects one request each (no DeleteObjects); see delete-prefix"
rc_ delete "m:$b/obj/" --include empty --include 5m && left=$(rc_ lsf -R --files-only "m:$b" | tr '\n' ' ')
[[ ${left:-} == "obj/1k obj/sub/meta " ]]
verdict delete-prefix $? "bucket holds '${left:-}' ($(first_err "$E"))"

rc_ copy "$S/many" "m:$b/many"
verdict put-1500 $? "$(first_err "$E")"
# --fast-list: one recursive listing (ListObjectsV2 without a delimiter, paged by rclone), in the
# order rclone prints them.
rc_ lsf -R --fast-list --files-only "m:$b/many" | sed 's,^,many/,' >"$S/many.got"
check_many_listing list-1500 "$S/many.got"

# Multipart: rclone's upload cutoff is 200 MiB (then 5 MiB chunks, 4 at once). In CI the cutoff is
# lowered to 16 MiB so that a 20 MiB file goes in parts; CAIRN_LARGE=1 keeps the defaults (its
# 100 MiB file then goes in one PUT, the 300 MiB file of the tree and 1 GiB in parts).
cutoff=(--s3-upload-cutoff 16M) cut_mib=16
[[ ${CAIRN_LARGE:-0} == 1 ]] && cutoff=() cut_mib=200
min_parts() { if (($1 > cut_mib)); then echo 2; else echo 0; fi; }
for mb in $(mpu_sizes 20); do
  mpu_file "$S/mpu" "$mb"
  rc_ copyto "${cutoff[@]}" "$S/mpu" "m:$b/mpu/$mb"
  mpu_verdict "mpu-put-${mb}m" $? "mpu/$mb" "$(min_parts "$mb")" "$(first_err "$E")"
  rm -f "$S/got"
  rc_ copyto "m:$b/mpu/$mb" "$S/got"
  cmp -s "$S/mpu" "$S/got"
  verdict "mpu-get-${mb}m" $? "bytes differ or missing ($(first_err "$E"))"
  rc_ deletefile "m:$b/mpu/$mb"
  rm -f "$S/mpu" "$S/got"
done
# rclone copy of a tree holding a big file (300 MiB with CAIRN_LARGE=1) and small ones, back into
# a fresh directory, compared with diff -r.
tree_mb=20
[[ ${CAIRN_LARGE:-0} == 1 ]] && tree_mb=300
rm -rf "$S/tree" "$S/tree.back"
mkdir -p "$S/tree/sub"
mpu_file "$S/tree/big" "$tree_mb"
cp "$S/f1k" "$S/tree/small" && cp "$S/f5m" "$S/tree/sub/five"
rc_ copy "${cutoff[@]}" "$S/tree" "m:$b/tree"
mpu_verdict "mpu-put-tree-${tree_mb}m" $? tree/big "$(min_parts "$tree_mb")" "$(first_err "$E")"
rc_ copy "m:$b/tree" "$S/tree.back"
diff -r "$S/tree" "$S/tree.back" >/dev/null
verdict "mpu-get-tree-${tree_mb}m" $? "trees differ ($(first_err "$E"))"
rc_ purge "m:$b/tree"
rm -rf "$S/tree" "$S/tree.back"

url=$(rc_ link --expire 1s "m:$b/obj/1k")
sleep 2
code=$(curl_status "$url" "$S/got")
[[ $code == 403 ]]
verdict presign-expired-403 $? "curl got HTTP $code"
matrix_finish
