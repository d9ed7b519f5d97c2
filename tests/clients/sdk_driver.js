// The client matrix with the AWS SDK for JavaScript v3 (@aws-sdk/client-s3), default settings but
// path-style addressing. Over https:// (the runner trusts its test CA with NODE_EXTRA_CA_CERTS)
// current SDKs send uploads aws-chunked with a trailing checksum; each put's detail names the
// payload mode and trailer the SDK chose, so that the run shows which path was exercised.
// Usage: node sdk_driver.js ENDPOINT ACCESS SECRET REGION SCRATCH BUCKET
"use strict";
const s3sdk = require("@aws-sdk/client-s3");
const { getSignedUrl } = require("@aws-sdk/s3-request-presigner");
const { Upload } = require("@aws-sdk/lib-storage");
const { pipeline } = require("stream/promises");
const fs = require("fs");
const path = require("path");
const { Matrix } = require("./matrix");
const {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
  ListObjectsV2Command, ListObjectsCommand, CopyObjectCommand, DeleteObjectCommand,
  DeleteObjectsCommand, paginateListObjectsV2,
} = s3sdk;

const version = require("@aws-sdk/client-s3/package.json").version;
const tls = process.argv[2].startsWith("https:");
const m = new Matrix(`aws-sdk-js/${version}${tls ? "+tls" : ""}`, process.argv.slice(2));
const make = (secret) => {
  const c = new S3Client({
    endpoint: m.endpoint, region: m.region, forcePathStyle: true,
    credentials: { accessKeyId: m.access, secretAccessKey: secret },
  });
  // Records how the SDK sent the last PutObject body.
  c.middlewareStack.add((next) => async (args) => {
    const h = args.request.headers || {};
    if (args.request.method === "PUT") {
      c.lastPut = [h["x-amz-content-sha256"], h["content-encoding"], h["x-amz-trailer"] &&
        `trailer ${h["x-amz-trailer"]}`, Object.keys(h).filter((k) => k.startsWith("x-amz-checksum-"))
        .join(",")].filter(Boolean).join(" ");
    }
    return next(args);
  }, { step: "finalizeRequest", name: "cairnRecordPut", priority: "low" });
  return c;
};
const s3 = make(m.secret);
const B = m.bucket;
const body = async (r) => Buffer.from(await r.Body.transformToByteArray());
const status = (e) => e.$metadata && e.$metadata.httpStatusCode;
const expectStatus = async (want, fn) => {
  try {
    await fn();
  } catch (e) {
    return status(e) === want ? undefined : `HTTP ${status(e)}, want ${want}: ${e.name}`;
  }
  return `succeeded, want HTTP ${want}`;
};

(async () => {
  const expiredUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: "obj/1k" }),
    { expiresIn: 1 });
  await m.check("mb", async () => void (await s3.send(new CreateBucketCommand({ Bucket: B }))));
  for (const size of ["0", "1k", "5m"]) {
    await m.check(`put-${size}`, async () => {
      await s3.send(new PutObjectCommand({ Bucket: B, Key: m.keys[size], Body: m.data[size] }));
      const got = await body(await s3.send(new GetObjectCommand({ Bucket: B, Key: m.keys[size] })));
      // The stored bytes must be the body, not its aws-chunked encoding.
      const bad = m.same(m.data[size], got);
      return bad ? `${bad} after a put sent as ${s3.lastPut}` : { pass: `sent as ${s3.lastPut}` };
    });
  }
  // A stream body of known length: the SDK cannot hash it ahead, so over TLS it sends it
  // aws-chunked with the checksum in a trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
  await m.check("put-stream", async () => {
    const file = path.join(m.scratch, "stream");
    fs.writeFileSync(file, m.data["5m"]);
    await s3.send(new PutObjectCommand({ Bucket: B, Key: "stream/5m", Body: fs.createReadStream(file),
      ContentLength: m.data["5m"].length }));
    const mode = s3.lastPut;
    const got = await body(await s3.send(new GetObjectCommand({ Bucket: B, Key: "stream/5m" })));
    await s3.send(new DeleteObjectCommand({ Bucket: B, Key: "stream/5m" }));
    const bad = m.same(m.data["5m"], got);
    return bad ? `${bad} after a put sent as ${mode}` : { pass: `sent as ${mode}` };
  });
  await m.check("etag-md5", async () => {
    const h = await s3.send(new HeadObjectCommand({ Bucket: B, Key: "obj/1k" }));
    const want = `"${Matrix.md5(m.data["1k"])}"`;
    return h.ETag === want ? undefined : `ETag ${h.ETag}, want ${want}`;
  });
  await m.check("meta", async () => {
    await s3.send(new PutObjectCommand({
      Bucket: B, Key: "obj/sub/meta", Body: m.data["1k"], ContentType: "text/x-cairn-test",
      Metadata: { color: "blue", shape: "round" },
    }));
    const h = await s3.send(new HeadObjectCommand({ Bucket: B, Key: "obj/sub/meta" }));
    const got = JSON.stringify([h.ContentType, h.Metadata]);
    return got === JSON.stringify(["text/x-cairn-test", { color: "blue", shape: "round" }])
      ? undefined : `head gave ${got}`;
  });
  await m.check("list-recursive", async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: B }));
    const got = JSON.stringify((r.Contents || []).map((o) => [o.Key, o.Size]));
    return got === JSON.stringify([["obj/1k", 1024], ["obj/5m", 5 << 20], ["obj/empty", 0],
      ["obj/sub/meta", 1024]]) ? undefined : `got ${got}`;
  });
  await m.check("list-delimiter", async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: "obj/", Delimiter: "/" }));
    const got = JSON.stringify([(r.Contents || []).map((o) => o.Key),
      (r.CommonPrefixes || []).map((p) => p.Prefix)]);
    return got === JSON.stringify([["obj/1k", "obj/5m", "obj/empty"], ["obj/sub/"]])
      ? undefined : `got ${got}`;
  });
  for (const size of ["0", "1k", "5m"]) {
    await m.check(`get-${size}`, async () => m.same(m.data[size],
      await body(await s3.send(new GetObjectCommand({ Bucket: B, Key: m.keys[size] })))));
  }
  await m.check("range", async () => m.same(m.data["5m"].subarray(1000000, 1065536), await body(
    await s3.send(new GetObjectCommand({ Bucket: B, Key: "obj/5m", Range: "bytes=1000000-1065535" })))));
  await m.check("copy", async () => {
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: "copy/1", CopySource: `${B}/obj/sub/meta` }));
    const h = await s3.send(new HeadObjectCommand({ Bucket: B, Key: "copy/1" }));
    const got = await body(await s3.send(new GetObjectCommand({ Bucket: B, Key: "copy/1" })));
    return m.same(m.data["1k"], got) || (h.ContentType === "text/x-cairn-test" &&
      h.Metadata.color === "blue" ? undefined : `copy has type ${h.ContentType}, ${JSON.stringify(h.Metadata)}`);
  });
  await m.check("presign-get", async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: "obj/1k" }), { expiresIn: 300 });
    const r = m.curl(url);
    return r.code === "200" ? m.same(m.data["1k"], r.body) : `curl got ${r.code}`;
  });
  const etag = (await s3.send(new HeadObjectCommand({ Bucket: B, Key: "obj/1k" }))).ETag;
  await m.check("if-none-match-304", () => expectStatus(304, () =>
    s3.send(new GetObjectCommand({ Bucket: B, Key: "obj/1k", IfNoneMatch: etag }))));
  await m.check("if-match-412", () => expectStatus(412, () => s3.send(new GetObjectCommand(
    { Bucket: B, Key: "obj/1k", IfMatch: '"0123456789abcdef0123456789abcdef"' }))));
  await m.check("wrong-secret-403", () => expectStatus(403, () =>
    make(`wrong${m.secret}`).send(new ListObjectsV2Command({ Bucket: B }))));
  await m.check("delete-one", async () => {
    await s3.send(new DeleteObjectCommand({ Bucket: B, Key: "copy/1" }));
    return expectStatus(404, () => s3.send(new HeadObjectCommand({ Bucket: B, Key: "copy/1" })));
  });
  await m.check("delete-many", async () => {
    const r = await s3.send(new DeleteObjectsCommand({
      Bucket: B, Delete: { Objects: [{ Key: "obj/empty" }, { Key: "obj/5m" }] },
    }));
    const left = ((await s3.send(new ListObjectsV2Command({ Bucket: B }))).Contents || []).map((o) => o.Key);
    return !(r.Errors || []).length && (r.Deleted || []).length === 2 &&
      JSON.stringify(left) === JSON.stringify(["obj/1k", "obj/sub/meta"])
      ? undefined : `errors ${JSON.stringify(r.Errors)}, left ${left}`;
  });
  await m.check("put-1500", () => Matrix.pool(m.many, 8, (k) =>
    s3.send(new PutObjectCommand({ Bucket: B, Key: k, Body: `${k}\n` }))));
  await m.check("list-1500", async () => {
    const got = [];
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: B, Prefix: "many/" }))
      got.push(...(page.Contents || []).map((o) => o.Key));
    return m.listingVerdict(got);
  });
  await m.check("list-1500-pages", async () => {
    const got = [];
    let token, pages = 0;
    do {
      const r = await s3.send(new ListObjectsV2Command(
        { Bucket: B, Prefix: "many/", MaxKeys: 1000, ContinuationToken: token }));
      pages++;
      got.push(...(r.Contents || []).map((o) => o.Key));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token && pages < 10);
    return m.listingVerdict(got) || (pages === 2 ? undefined : `${pages} pages, want 2`);
  });
  await m.check("list-1500-v1-pages", async () => {
    const got = [];
    let marker, pages = 0;
    do {
      const r = await s3.send(new ListObjectsCommand({ Bucket: B, Prefix: "many/", MaxKeys: 1000, Marker: marker }));
      pages++;
      got.push(...(r.Contents || []).map((o) => o.Key));
      marker = r.IsTruncated ? r.NextMarker || got[got.length - 1] : undefined;
    } while (marker && pages < 10);
    return m.listingVerdict(got) || (pages === 2 ? undefined : `${pages} pages, want 2`);
  });
  // Multipart with @aws-sdk/lib-storage's Upload at its defaults (5 MiB parts, 4 at once, the
  // client's default checksum, which the detail names), from a file stream; GetObject back into a
  // file, compared by SHA-256. CAIRN_LARGE=1: issue 10's 100 MiB and 1 GiB.
  for (const mb of Matrix.mpuSizes(20)) {
    const src = path.join(m.scratch, "mpu"), got = path.join(m.scratch, "mpu.got"), key = `mpu/${mb}`;
    Matrix.randomFile(src, mb);
    await m.check(`mpu-put-${mb}m`, async () => {
      await new Upload({ client: s3, params: { Bucket: B, Key: key, Body: fs.createReadStream(src) } }).done();
      const mode = s3.lastPut;
      const h = await s3.send(new HeadObjectCommand({ Bucket: B, Key: key, ChecksumMode: "ENABLED" }));
      const parts = Matrix.partsOf(h.ETag);
      const sums = Object.keys(h).filter((k) => k.startsWith("Checksum") && k !== "ChecksumType");
      return parts >= 2 ? { pass: `${parts} parts, last part sent as ${mode}; object checksum ${sums.join(",") || "none"} ${h.ChecksumType || ""}`.trimEnd() }
        : `ETag ${h.ETag}: ${parts} parts, want at least 2`;
    });
    await m.check(`mpu-get-${mb}m`, async () => {
      const r = await s3.send(new GetObjectCommand({ Bucket: B, Key: key }));
      await pipeline(r.Body, fs.createWriteStream(got));
      return Matrix.sameFile(src, got);
    });
    await s3.send(new DeleteObjectCommand({ Bucket: B, Key: key })).catch(() => {});
    for (const f of [src, got]) fs.rmSync(f, { force: true });
  }
  await m.waitExpired();
  await m.check("presign-expired-403", async () => {
    const r = m.curl(expiredUrl);
    return r.code === "403" ? undefined : `curl got ${r.code}`;
  });
  m.finish();
})().catch((e) => {
  console.log(`FAIL ${m.client} driver ${e.stack}`);
  process.exit(1);
});
