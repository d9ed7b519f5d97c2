#!/usr/bin/env python3
"""A small S3 upload driver for bench/multipart_bench.sh: the same client for a single-part PUT and a
multipart upload, so that their ratio measures the server. SigV4 with UNSIGNED-PAYLOAD (no client
hashing); bodies sent straight from the file (os.pread, one buffer per part in flight).

Usage: mpu_driver.py ENDPOINT ACCESS SECRET BUCKET KEY FILE
           [--single] [--part-size BYTES] [--conc N] [--parts N]
  --single      one PutObject of the whole FILE
  otherwise     CreateMultipartUpload, the parts (--part-size each, --conc at once), Complete; with
                --parts N, N parts of --part-size bytes that all hold FILE's first bytes (a big
                object from a small file)
Prints one line: total seconds, and for a multipart upload the seconds of Complete alone.
"""
import argparse
import concurrent.futures
import datetime
import hashlib
import hmac
import http.client
import os
import re
import sys
import time
import urllib.parse

UNSIGNED = "UNSIGNED-PAYLOAD"


class Signer:
    def __init__(self, endpoint, access, secret, region="us-east-1"):
        u = urllib.parse.urlsplit(endpoint)
        self.host, self.port = u.hostname, u.port or 80
        self.hostport = f"{self.host}:{self.port}"
        self.access, self.secret, self.region = access, secret, region

    def headers(self, method, path, query):
        now = datetime.datetime.now(datetime.timezone.utc)
        amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        q = "&".join(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
                     for k, v in sorted(query.items()))
        h = {"host": self.hostport, "x-amz-content-sha256": UNSIGNED, "x-amz-date": amz}
        signed = ";".join(sorted(h))
        canon = "\n".join([method, urllib.parse.quote(path, safe="/-_.~"), q,
                           "".join(f"{k}:{h[k]}\n" for k in sorted(h)), signed, UNSIGNED])
        scope = f"{day}/{self.region}/s3/aws4_request"
        sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canon.encode()).hexdigest()])
        k = ("AWS4" + self.secret).encode()
        for part in (day, self.region, "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        h["authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.access}/{scope}, "
                              f"SignedHeaders={signed}, Signature={sig}")
        return h, q

    def request(self, method, path, query=None, body=b"", length=None):
        query = query or {}
        h, q = self.headers(method, path, query)
        h["content-length"] = str(len(body) if length is None else length)
        c = http.client.HTTPConnection(self.host, self.port, timeout=600, blocksize=1 << 20)
        c.request(method, urllib.parse.quote(path, safe="/-_.~") + (f"?{q}" if q else ""),
                  body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        if r.status != 200:
            sys.exit(f"mpu_driver: {method} {path}?{q}: HTTP {r.status}: {data[:300]!r}")
        return r, data


def main():
    ap = argparse.ArgumentParser()
    for a in ("endpoint", "access", "secret", "bucket", "key", "file"):
        ap.add_argument(a)
    ap.add_argument("--single", action="store_true")
    ap.add_argument("--part-size", type=int, default=8 << 20)
    ap.add_argument("--conc", type=int, default=16)
    ap.add_argument("--parts", type=int, default=0)
    o = ap.parse_args()
    s = Signer(o.endpoint, o.access, o.secret)
    path = f"/{o.bucket}/{o.key}"
    fd = os.open(o.file, os.O_RDONLY)
    size = os.fstat(fd).st_size
    t0 = time.monotonic()
    if o.single:
        with open(o.file, "rb") as f:
            s.request("PUT", path, body=f, length=size)
        print(f"{time.monotonic() - t0:.3f}")
        return
    _, data = s.request("POST", path, {"uploads": ""})
    uid = re.search(rb"<UploadId>([^<]+)</UploadId>", data).group(1).decode()
    if o.parts:
        spans = [(i + 1, 0, o.part_size) for i in range(o.parts)]
    else:
        spans = [(i // o.part_size + 1, i, min(o.part_size, size - i))
                 for i in range(0, size, o.part_size)]

    def put(span):
        n, off, length = span
        body = os.pread(fd, length, off)
        r, _ = s.request("PUT", path, {"partNumber": str(n), "uploadId": uid}, body=body)
        return n, r.getheader("ETag")

    with concurrent.futures.ThreadPoolExecutor(o.conc) as pool:
        etags = sorted(pool.map(put, spans))
    xml = "<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in etags) + \
        "</CompleteMultipartUpload>"
    t1 = time.monotonic()
    _, data = s.request("POST", path, {"uploadId": uid}, body=xml.encode())
    if b"<Error>" in data:
        sys.exit(f"mpu_driver: Complete: {data[:300]!r}")
    t2 = time.monotonic()
    print(f"{t2 - t0:.3f} {t2 - t1:.3f}")


if __name__ == "__main__":
    main()
