"""The client matrix with boto3 (run by the Python whose boto3 is under test).

Usage: python3 boto3_driver.py ENDPOINT ACCESS SECRET REGION SCRATCH BUCKET
Prints PASS|FAIL|SKIP lines; exits 1 when a check failed. Uses put_object (one request) where
upload_file could go multipart, default client settings otherwise.
"""
import concurrent.futures
import hashlib
import os
import subprocess
import sys
import time

import boto3
import botocore
from botocore.exceptions import ClientError

endpoint, access, secret, region, scratch, bucket = sys.argv[1:7]
client_name = f"boto3/{boto3.__version__}"
failed = False


def line(verdict, check, detail=""):
    global failed
    failed |= verdict == "FAIL"
    print(f"{verdict} {client_name} {check} {detail}".rstrip(), flush=True)


def check(name, fn):
    """Runs fn(); it returns None on success or a failure detail; an exception is a failure."""
    try:
        detail = fn()
    except Exception as e:  # a client error is this check's failure, not the driver's
        detail = f"{type(e).__name__}: {str(e)[:300]}"
    line("PASS" if detail is None else "FAIL", name, detail or "")


def make_client(secret_key=secret):
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, aws_access_key_id=access,
        aws_secret_access_key=secret_key, region_name=region)


def status_of(e):
    return e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def curl(url, out):
    r = subprocess.run(["curl", "-sS", "-o", out, "-w", "%{http_code}", url],
                       capture_output=True, text=True)
    return r.stdout


s3 = make_client()
os.makedirs(scratch, exist_ok=True)
data = {"0": b"", "1k": os.urandom(1024), "5m": os.urandom(5 * 1024 * 1024)}
keys = {"0": "obj/empty", "1k": "obj/1k", "5m": "obj/5m"}
many = [f"many/{i}" for i in range(1500)]
many_sorted = sorted(many, key=lambda k: k.encode())
expired_url = s3.generate_presigned_url(
    "get_object", Params={"Bucket": bucket, "Key": "obj/1k"}, ExpiresIn=1)
start = time.time()

check("mb", lambda: s3.create_bucket(Bucket=bucket) and None)
for size, body in data.items():
    check(f"put-{size}", lambda: s3.put_object(Bucket=bucket, Key=keys[size], Body=body) and None)


def etag_md5():
    etag = s3.head_object(Bucket=bucket, Key="obj/1k")["ETag"]
    want = '"%s"' % hashlib.md5(data["1k"]).hexdigest()
    return None if etag == want else f"ETag {etag}, want {want}"


check("etag-md5", etag_md5)


def meta():
    s3.put_object(Bucket=bucket, Key="obj/sub/meta", Body=data["1k"],
                  ContentType="text/x-cairn-test", Metadata={"color": "blue", "shape": "round"})
    h = s3.head_object(Bucket=bucket, Key="obj/sub/meta")
    got = (h["ContentType"], h["Metadata"])
    want = ("text/x-cairn-test", {"color": "blue", "shape": "round"})
    return None if got == want else f"head gave {got}"


check("meta", meta)


def list_recursive():
    got = [(o["Key"], o["Size"]) for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    want = [("obj/1k", 1024), ("obj/5m", 5 << 20), ("obj/empty", 0), ("obj/sub/meta", 1024)]
    return None if got == want else f"got {got}"


def list_delimiter():
    r = s3.list_objects_v2(Bucket=bucket, Prefix="obj/", Delimiter="/")
    got = ([o["Key"] for o in r.get("Contents", [])],
           [p["Prefix"] for p in r.get("CommonPrefixes", [])])
    return None if got == (["obj/1k", "obj/5m", "obj/empty"], ["obj/sub/"]) else f"got {got}"


check("list-recursive", list_recursive)
check("list-delimiter", list_delimiter)
for size, body in data.items():
    def get(size=size, body=body):
        got = s3.get_object(Bucket=bucket, Key=keys[size])["Body"].read()
        return None if hashlib.sha256(got).digest() == hashlib.sha256(body).digest() \
            else f"{len(got)} bytes that differ"
    check(f"get-{size}", get)


def ranged():
    got = s3.get_object(Bucket=bucket, Key="obj/5m", Range="bytes=1000000-1065535")["Body"].read()
    return None if got == data["5m"][1000000:1065536] else f"{len(got)} bytes that differ"


check("range", ranged)


def copy():
    s3.copy_object(Bucket=bucket, Key="copy/1", CopySource={"Bucket": bucket, "Key": "obj/sub/meta"})
    h = s3.head_object(Bucket=bucket, Key="copy/1")
    body = s3.get_object(Bucket=bucket, Key="copy/1")["Body"].read()
    ok = body == data["1k"] and h["ContentType"] == "text/x-cairn-test" and \
        h["Metadata"].get("color") == "blue"
    return None if ok else f"copy has {len(body)} bytes, type {h['ContentType']}, {h['Metadata']}"


check("copy", copy)


def presign_get():
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "obj/1k"},
                                    ExpiresIn=300)
    out = os.path.join(scratch, "presigned")
    code = curl(url, out)
    return None if code == "200" and open(out, "rb").read() == data["1k"] else f"curl got {code}"


check("presign-get", presign_get)


def expect_status(want, fn):
    try:
        fn()
    except ClientError as e:
        got = status_of(e)
        return None if got == want else f"HTTP {got}, want {want}: {e}"
    return f"succeeded, want HTTP {want}"


etag = s3.head_object(Bucket=bucket, Key="obj/1k")["ETag"]
check("if-none-match-304", lambda: expect_status(
    304, lambda: s3.get_object(Bucket=bucket, Key="obj/1k", IfNoneMatch=etag)))
check("if-match-412", lambda: expect_status(
    412, lambda: s3.get_object(Bucket=bucket, Key="obj/1k",
                               IfMatch='"0123456789abcdef0123456789abcdef"')))
check("wrong-secret-403", lambda: expect_status(
    403, lambda: make_client("wrong" + secret).list_objects_v2(Bucket=bucket)))


def delete_one():
    s3.delete_object(Bucket=bucket, Key="copy/1")
    return expect_status(404, lambda: s3.head_object(Bucket=bucket, Key="copy/1"))


def delete_many():
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "obj/empty"}, {"Key": "obj/5m"}]})
    left = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    ok = not r.get("Errors") and len(r.get("Deleted", [])) == 2 and left == ["obj/1k", "obj/sub/meta"]
    return None if ok else f"errors {r.get('Errors')}, left {left}"


check("delete-one", delete_one)
check("delete-many", delete_many)


def put_many():
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=f"{k}\n".encode()), many))


def listing_verdict(got):
    if got == many_sorted:
        return None
    if sorted(got, key=lambda k: k.encode()) == many_sorted:
        return "the 1500 keys, not in byte order"
    return f"{len(got)} keys, want the 1500"


def list_paginator():
    got = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="many/"):
        got += [o["Key"] for o in page.get("Contents", [])]
    return listing_verdict(got)


def list_pages():
    got, pages, args = [], 0, {}
    while pages < 10:
        r = s3.list_objects_v2(Bucket=bucket, Prefix="many/", MaxKeys=1000, **args)
        pages += 1
        got += [o["Key"] for o in r.get("Contents", [])]
        if not r.get("IsTruncated"):
            break
        args = {"ContinuationToken": r["NextContinuationToken"]}
    return listing_verdict(got) or (None if pages == 2 else f"{pages} pages, want 2")


def list_v1_pages():
    got, pages, args = [], 0, {}
    while pages < 10:
        r = s3.list_objects(Bucket=bucket, Prefix="many/", MaxKeys=1000, **args)
        pages += 1
        got += [o["Key"] for o in r.get("Contents", [])]
        if not r.get("IsTruncated"):
            break
        args = {"Marker": r.get("NextMarker") or got[-1]}
    return listing_verdict(got) or (None if pages == 2 else f"{pages} pages, want 2")


check("put-1500", put_many)
check("list-1500", list_paginator)
check("list-1500-pages", list_pages)
check("list-1500-v1-pages", list_v1_pages)


# Multipart at the defaults of upload_file / download_file (TransferConfig: threshold and part size
# 8 MiB, 10 threads): in CI 20 MiB, with CAIRN_LARGE=1 issue 10's 100 MiB and 1 GiB.
def same_file(a, b):
    with open(a, "rb") as x, open(b, "rb") as y:
        while True:
            p, q = x.read(1 << 20), y.read(1 << 20)
            if p != q:
                return False
            if not p:
                return True


mpu_sizes = [100, 1024] if os.environ.get("CAIRN_LARGE") == "1" else [20]
for mb in mpu_sizes:
    src, got, key = os.path.join(scratch, "mpu"), os.path.join(scratch, "mpu.got"), f"mpu/{mb}"
    with open(src, "wb") as f:
        for _ in range(mb):
            f.write(os.urandom(1 << 20))

    def put_mpu():
        s3.upload_file(src, bucket, key)
        etag = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
        parts = int(etag.split("-")[1]) if "-" in etag else 0
        return None if parts >= 2 else f"ETag {etag}: {parts} parts, want at least 2"

    check(f"mpu-put-{mb}m", put_mpu)
    check(f"mpu-get-{mb}m", lambda: (s3.download_file(bucket, key, got),
                                     None if same_file(src, got) else "bytes differ")[1])
    s3.delete_object(Bucket=bucket, Key=key)
    for f in (src, got):
        if os.path.exists(f):
            os.remove(f)

time.sleep(max(0.0, start + 3 - time.time()))
check("presign-expired-403",
      lambda: (lambda c: None if c == "403" else f"curl got {c}")(
          curl(expired_url, os.path.join(scratch, "expired"))))
sys.exit(1 if failed else 0)
