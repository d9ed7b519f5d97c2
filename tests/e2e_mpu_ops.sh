#!/usr/bin/env bash
# End-to-end tests of the multipart operations beside the upload itself, with boto3 against the
# real `cairn serve` on both backends (a plain directory and a 4+2 volume set): UploadPartCopy
# (whole source and x-amz-copy-source-range, its errors), GetObject / HeadObject with partNumber,
# the object checksum a Complete expects (ChecksumCRC32 / ChecksumType), and the background removal
# of abandoned uploads (--upload-expiry), and a full disk (tmpfs mounts: needs root).
# Usage: tests/e2e_mpu_ops.sh path/to/cairn
source "$(dirname "$0")/e2e_lib.sh"
MOUNTS=()
trap 'for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m"; done; cleanup' EXIT
unset AWS_CA_BUNDLE http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY
export AWS_ACCESS_KEY_ID=AKE2EMPUOPS AWS_SECRET_ACCESS_KEY=e2e-mpu-ops-secret AWS_DEFAULT_REGION=us-east-1

if ! python3 -c 'import boto3' 2>/dev/null; then
  echo "e2e_mpu_ops: boto3 is not installed" >&2
  exit 1
fi

S="$T/set"
"$CAIRN" init --ec 4+2 "$S/d1" "$S/d2" "$S/d3" "$S/d4" "$S/d5" "$S/d6" >/dev/null ||
  { echo "init failed"; exit 1; }
mkdir -p "$T/plain"
S2="$T/set-sums"
"$CAIRN" init --ec 4+2 "$S2/d1" "$S2/d2" "$S2/d3" "$S2/d4" "$S2/d5" "$S2/d6" >/dev/null ||
  { echo "init failed"; exit 1; }
mkdir -p "$T/plain-sums"
declare -A sums_dir=([plain]="$T/plain-sums" [set]="$S2/d1")

# start NAME DIR ARGS...: serve DIR in the background; sets URL and SRV (its pid).
start() {
  serve_bg "$@"
  URL="http://127.0.0.1:$PORT"
}

# The boto3 checks: one line "ok NAME" or "FAIL NAME: why" each.
cat >"$T/ops.py" <<'EOF'
import hashlib, os, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

url = sys.argv[1]
s3 = boto3.client("s3", endpoint_url=url,
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

def check(name, cond, why=""):
    print(("ok " if cond else "FAIL ") + name + ("" if cond else ": " + str(why)))

def code_of(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200

md5 = lambda b: hashlib.md5(b).hexdigest()
s3.create_bucket(Bucket="ops")
src = os.urandom(6 * 1024 * 1024 + 3)
s3.put_object(Bucket="ops", Key="src", Body=src)
up = s3.create_multipart_upload(Bucket="ops", Key="dst")["UploadId"]
c1 = s3.upload_part_copy(Bucket="ops", Key="dst", UploadId=up, PartNumber=1,
                         CopySource={"Bucket": "ops", "Key": "src"})
check("copy whole: ETag is the MD5", c1["CopyPartResult"]["ETag"].strip('"') == md5(src), c1)
check("copy whole: LastModified", "LastModified" in c1["CopyPartResult"], c1)
c2 = s3.upload_part_copy(Bucket="ops", Key="dst", UploadId=up, PartNumber=2,
                         CopySource={"Bucket": "ops", "Key": "src"},
                         CopySourceRange="bytes=1000-1048575")
part2 = src[1000:1048576]
check("copy range: ETag is the MD5", c2["CopyPartResult"]["ETag"].strip('"') == md5(part2), c2)
got = code_of(lambda: s3.upload_part_copy(Bucket="ops", Key="dst", UploadId=up, PartNumber=3,
                                          CopySource={"Bucket": "ops", "Key": "src"},
                                          CopySourceRange="bytes=0-99999999"))
check("copy range past the source: InvalidArgument", got == ("InvalidArgument", 400), got)
got = code_of(lambda: s3.upload_part_copy(Bucket="ops", Key="dst", UploadId=up, PartNumber=3,
                                          CopySource={"Bucket": "ops", "Key": "nothing"}))
check("copy of a missing source: NoSuchKey", got == ("NoSuchKey", 404), got)
got = code_of(lambda: s3.upload_part_copy(Bucket="ops", Key="dst", UploadId=up, PartNumber=3,
                                          CopySource={"Bucket": "ops", "Key": "src"},
                                          CopySourceIfMatch='"not-it"'))
check("copy-source-if-match: 412", got == ("PreconditionFailed", 412), got)
s3.complete_multipart_upload(Bucket="ops", Key="dst", UploadId=up, MultipartUpload={"Parts": [
    {"PartNumber": 1, "ETag": c1["CopyPartResult"]["ETag"]},
    {"PartNumber": 2, "ETag": c2["CopyPartResult"]["ETag"]}]})
body = s3.get_object(Bucket="ops", Key="dst")["Body"].read()
check("the copied object's bytes", body == src + part2, len(body))

total = len(src) + len(part2)
h = s3.head_object(Bucket="ops", Key="dst", PartNumber=1)
check("HEAD partNumber=1: length", h["ContentLength"] == len(src), h)
check("HEAD partNumber=1: parts count", h.get("PartsCount") == 2, h)
g = s3.get_object(Bucket="ops", Key="dst", PartNumber=2)
check("GET partNumber=2: bytes", g["Body"].read() == part2)
check("GET partNumber=2: Content-Range",
      g.get("ContentRange") == "bytes %d-%d/%d" % (len(src), total - 1, total), g.get("ContentRange"))
check("GET partNumber=2: 206", g["ResponseMetadata"]["HTTPStatusCode"] == 206)
got = code_of(lambda: s3.get_object(Bucket="ops", Key="dst", PartNumber=3))
check("GET partNumber=3: InvalidPartNumber", got == ("InvalidPartNumber", 416), got)
got = code_of(lambda: s3.get_object(Bucket="ops", Key="dst", PartNumber=1, Range="bytes=0-1"))
check("partNumber with Range: InvalidRequest", got == ("InvalidRequest", 400), got)
one = s3.get_object(Bucket="ops", Key="src", PartNumber=1)
check("partNumber=1 of a single PUT: the whole object",
      one["Body"].read() == src and one["ResponseMetadata"]["HTTPStatusCode"] == 200)
EOF

# The object checksum on Complete (ChecksumCRC32 ..., ChecksumType): the whole object's value for
# a FULL_OBJECT upload, the composite one for a COMPOSITE upload; a wrong value is BadDigest, a
# type or algorithm that is not the upload's InvalidRequest, and then the upload stays open and
# no object appears. Run with each boto3 there is (an older one has no ChecksumType: the
# FULL_OBJECT cases need it).
cat >"$T/sums.py" <<'EOF'
import base64, os, sys, zlib
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

url, tag = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=url,
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
complete_in = s3.meta.service_model.operation_model("CompleteMultipartUpload").input_shape.members
has_type = "ChecksumType" in complete_in

def check(name, cond, why=""):
    print(("ok " if cond else "FAIL ") + tag + ": " + name + ("" if cond else ": " + str(why)))

def code_of(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200

crc = lambda b: zlib.crc32(b).to_bytes(4, "big")
b64 = lambda b: base64.b64encode(b).decode()
bucket = "sums-" + tag
s3.create_bucket(Bucket=bucket)
data = [os.urandom(5 * 1024 * 1024 + 1), os.urandom(4321)]
whole = b"".join(data)

# upload(key, type): an upload with CRC32 parts; its id and the list for Complete.
def upload(key, ctype):
    extra = {"ChecksumType": ctype} if ctype else {}
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32",
                                    **extra)["UploadId"]
    parts = []
    for i, d in enumerate(data):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=i + 1, Body=d,
                           ChecksumCRC32=b64(crc(d)))
        parts.append({"PartNumber": i + 1, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    return up, {"Parts": parts}

def still_open(key, up):
    parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=up).get("Parts", [])
    gone = code_of(lambda: s3.head_object(Bucket=bucket, Key=key))[1] == 404
    return len(parts) == 2 and gone

def complete(key, up, mpu, **kw):
    return code_of(lambda: s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up,
                                                        MultipartUpload=mpu, **kw))

composite = b64(crc(b"".join(crc(d) for d in data))) + "-2"
up, mpu = upload("comp", None)
got = complete("comp", up, mpu, ChecksumCRC32=b64(crc(b"nope")) + "-2")
check("COMPOSITE, a wrong value: BadDigest", got == ("BadDigest", 400), got)
got = complete("comp", up, mpu, ChecksumCRC32=b64(crc(whole)))
check("COMPOSITE, the whole object's CRC32: BadDigest", got == ("BadDigest", 400), got)
got = complete("comp", up, mpu, ChecksumSHA256=b64(os.urandom(32)))
check("another algorithm: InvalidRequest", got == ("InvalidRequest", 400), got)
check("after the refusals the upload is open, no object", still_open("comp", up))
r = s3.complete_multipart_upload(Bucket=bucket, Key="comp", UploadId=up, MultipartUpload=mpu,
                                 ChecksumCRC32=composite)
check("COMPOSITE, the right value: completed", r.get("ChecksumCRC32") == composite, r)
check("COMPOSITE: the bytes", s3.get_object(Bucket=bucket, Key="comp")["Body"].read() == whole)

if has_type:
    up, mpu = upload("full", "FULL_OBJECT")
    got = complete("full", up, mpu, ChecksumCRC32=b64(crc(b"nope")), ChecksumType="FULL_OBJECT")
    check("FULL_OBJECT, a wrong value: BadDigest", got == ("BadDigest", 400), got)
    got = complete("full", up, mpu, ChecksumCRC32=b64(crc(whole)), ChecksumType="COMPOSITE")
    check("a type that is not the upload's: InvalidRequest", got == ("InvalidRequest", 400), got)
    check("after the refusals the upload is open, no object", still_open("full", up))
    r = s3.complete_multipart_upload(Bucket=bucket, Key="full", UploadId=up, MultipartUpload=mpu,
                                     ChecksumCRC32=b64(crc(whole)), ChecksumType="FULL_OBJECT")
    check("FULL_OBJECT, the right value: completed",
          r.get("ChecksumCRC32") == b64(crc(whole)) and r.get("ChecksumType") == "FULL_OBJECT", r)
    h = s3.head_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    check("FULL_OBJECT: HEAD gives the value", h.get("ChecksumCRC32") == b64(crc(whole)), h)
    s3.delete_object(Bucket=bucket, Key="full")
s3.delete_object(Bucket=bucket, Key="comp")
s3.delete_bucket(Bucket=bucket)
EOF

# The expiry checks: an upload (with a part) is left, then listed until the server removes it.
cat >"$T/expiry.py" <<'EOF'
import sys, time
import boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], config=Config(s3={"addressing_style": "path"}))
step = sys.argv[2]
if step == "leave":
    if "exp" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="exp")
    up = s3.create_multipart_upload(Bucket="exp", Key="left")["UploadId"]
    s3.upload_part(Bucket="exp", Key="left", UploadId=up, PartNumber=1, Body=b"abandoned part")
    print(len(s3.list_multipart_uploads(Bucket="exp").get("Uploads", [])))
else:
    deadline = time.time() + float(step)
    n = -1
    while time.time() < deadline:
        n = len(s3.list_multipart_uploads(Bucket="exp").get("Uploads", []))
        if n == 0:
            break
        time.sleep(0.2)
    print(n)
EOF

# run_ops NAME: the boto3 checks against URL, each line counted.
run_ops() {
  python3 "$T/ops.py" "$URL" >"$T/$1.ops" 2>"$T/$1.ops.err" || bad "$1: ops.py failed: $(tail -3 "$T/$1.ops.err")"
  while read -r verdict rest; do
    if [[ $verdict == ok ]]; then ok; else bad "$1: $rest"; fi
  done <"$T/$1.ops"
}

# run_sums NAME PYTHON: sums.py against URL with that interpreter's boto3.
run_sums() {
  "$2" "$T/sums.py" "$URL" "$1" >"$T/$1.sums" 2>"$T/$1.sums.err" ||
    bad "$1: sums.py failed: $(tail -3 "$T/$1.sums.err")"
  while read -r verdict rest; do
    if [[ $verdict == ok ]]; then ok; else bad "$rest"; fi
  done <"$T/$1.sums"
}

for backend in plain set; do
  dir="$T/plain"
  [[ $backend == set ]] && dir="$S/d1"
  echo "== $backend: UploadPartCopy and partNumber with boto3"
  start "$backend" "$dir"
  run_ops "$backend"
  kill -TERM "$SRV"; wait "$SRV"

  # On a store of its own: the expiry and leftover checks below count this loop's uploads only.
  echo "== $backend: the object checksum on Complete, with each boto3"
  start "$backend-sums" "${sums_dir[$backend]}"
  run_sums "$backend" python3
  if /usr/bin/python3 -c 'import boto3' 2>/dev/null; then run_sums "$backend-sys" /usr/bin/python3; fi
  kill -TERM "$SRV"; wait "$SRV"

  echo "== $backend: abandoned uploads expire in the background"
  start "$backend-keep" "$dir" --upload-expiry 0
  check "$backend: upload left" [ "$(python3 "$T/expiry.py" "$URL" leave)" = 1 ]
  sleep 3
  check "$backend: --upload-expiry 0 keeps it" [ "$(python3 "$T/expiry.py" "$URL" 1)" = 1 ]
  kill -TERM "$SRV"; wait "$SRV"
  # Older than 2s by now: the pass at start removes it.
  start "$backend-start" "$dir" --upload-expiry 2s
  check "$backend: removed at start" [ "$(python3 "$T/expiry.py" "$URL" 5)" = 0 ]
  check "$backend: said on stderr" grep -q 'removed 1 abandoned multipart upload' "$T/$backend-start.err"
  # And while it runs: a new one goes within a pass or two (every 2s here).
  check "$backend: another left" [ "$(python3 "$T/expiry.py" "$URL" leave)" = 1 ]
  check "$backend: removed while serving" [ "$(python3 "$T/expiry.py" "$URL" 10)" = 0 ]
  kill -TERM "$SRV"; wait "$SRV"
done
if [[ -d "$T/plain/.cairn/uploads" ]]; then
  check "plain: no staged parts left" [ -z "$(ls -A "$T/plain/.cairn/uploads")" ]
fi
# On the set, only the completed object's data stays in .cairn/multipart (the copy test's "dst").
check "set: only the multipart object's directory left" [ "$(ls -A "$S/d1/.cairn/multipart" | wc -l)" = 1 ]

# On a full disk: a part or a PUT is refused as "full", the older copy stays, the server starts
# (the plain backend wrote to its database at every start), and an abort gives the room back (on
# the plain backend, the removal of the upload's record itself needed room).
cat >"$T/full.py" <<'EOF'
import os, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
url, step = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=url,
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

def check(name, cond, why=""):
    print(("ok " if cond else "FAIL ") + name + ("" if cond else ": " + str(why)))

def refused_as_full(name, fn):
    try:
        fn()
    except ClientError as e:
        err, status = e.response["Error"], e.response["ResponseMetadata"]["HTTPStatusCode"]
        check(name + " refused as full", status == 503 and "full" in err.get("Message", ""),
              (status, err))
        return
    check(name + " refused", False, "it succeeded")

old = b"an older good copy"
if step == "fill":
    s3.create_bucket(Bucket="full")
    s3.put_object(Bucket="full", Key="old", Body=old)
    up = s3.create_multipart_upload(Bucket="full", Key="big")["UploadId"]
    with open(sys.argv[3], "w") as f:
        f.write(up)
    part = os.urandom(4 * 1024 * 1024)
    def parts():
        for n in range(1, 64):
            s3.upload_part(Bucket="full", Key="big", UploadId=up, PartNumber=n, Body=part)
    refused_as_full("a part", parts)
    refused_as_full("a PUT", lambda: s3.put_object(Bucket="full", Key="old",
                                                   Body=os.urandom(4 * 1024 * 1024)))
    check("the older copy stays", s3.get_object(Bucket="full", Key="old")["Body"].read() == old)
elif step == "delete":
    s3.delete_object(Bucket="full", Key="after")
    check("a delete works on a full disk",
          "after" not in [o["Key"] for o in s3.list_objects_v2(Bucket="full").get("Contents", [])])
else:
    up = open(sys.argv[3]).read()
    s3.abort_multipart_upload(Bucket="full", Key="big", UploadId=up)
    left = s3.list_multipart_uploads(Bucket="full").get("Uploads", [])
    check("the aborted upload is gone", left == [], left)
    body = os.urandom(2 * 1024 * 1024)
    s3.put_object(Bucket="full", Key="after", Body=body)
    check("its room is back", s3.get_object(Bucket="full", Key="after")["Body"].read() == body)
    check("the older copy still reads", s3.get_object(Bucket="full", Key="old")["Body"].read() == old)
EOF
# mount_tmpfs DIR SIZE: a tmpfs of SIZE at DIR (root needed: fails loudly, never skips).
mount_tmpfs() {
  mkdir -p "$1"
  if mount -t tmpfs -o "size=$2" tmpfs "$1"; then
    MOUNTS+=("$1")
  else
    bad "cannot mount a tmpfs at $1 (this check needs root and mount(2)); not skipping"
  fi
}
# run_full NAME STEP: full.py's checks against URL, each line counted.
run_full() {
  python3 "$T/full.py" "$URL" "$2" "$T/$1.upload" >"$T/$1.$2" 2>"$T/$1.$2.err" ||
    bad "$1: full.py $2 failed: $(tail -3 "$T/$1.$2.err")"
  while read -r verdict rest; do
    if [[ $verdict == ok ]]; then ok; else bad "$1 $2: $rest"; fi
  done <"$T/$1.$2"
}
mount_tmpfs "$T/full-plain" 24m
for i in 1 2 3 4 5 6; do mount_tmpfs "$T/full-set/d$i" 8m; done
"$CAIRN" init --ec 4+2 "$T"/full-set/d{1..6} >/dev/null || bad "init on the tmpfs mounts failed"
for backend in plain set; do
  dir="$T/full-plain"
  [[ $backend == set ]] && dir="$T/full-set/d1"
  echo "== $backend: a full disk"
  start "$backend-full" "$dir"
  run_full "$backend" fill
  kill -TERM "$SRV"; wait "$SRV"
  # What the refused part left free, taken too (as another program would).
  fill_up() {
    local m
    for m in "$dir" "$T"/full-set/d{2..6}; do
      [[ $backend == plain && $m != "$dir" ]] && continue
      dd if=/dev/zero of="$m/.cairn/$1" bs=64k 2>/dev/null
      check "$backend: $m is full" [ "$(df --output=avail "$m" | tail -1)" -eq 0 ]
    done
  }
  fill_up filler
  # The disk is still full: the server must start, so that its clients can abort and delete.
  start "$backend-full-again" "$dir"
  run_full "$backend" abort
  fill_up filler2
  run_full "$backend" delete
  kill -TERM "$SRV"; wait "$SRV"
done
check "plain: no staged parts left on the full disk" [ -z "$(ls -A "$T/full-plain/.cairn/uploads")" ]

echo "== bad flag"
expect 2 "bad --upload-expiry" "$CAIRN" serve --no-auth --upload-expiry soon --address 127.0.0.1:0 "$T/plain"
finish
