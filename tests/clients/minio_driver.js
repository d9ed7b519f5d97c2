// The client matrix with minio-js (npm `minio`), default settings.
// Usage: node minio_driver.js ENDPOINT ACCESS SECRET REGION SCRATCH BUCKET
"use strict";
const Minio = require("minio");
const fs = require("fs");
const path = require("path");
const { Matrix } = require("./matrix");

const version = require("minio/package.json").version;
const url = new URL(process.argv[2]);
const tls = url.protocol === "https:";
const m = new Matrix(`minio-js/${version}${tls ? "+tls" : ""}`, process.argv.slice(2));
const make = (secret) => new Minio.Client({
  endPoint: url.hostname, port: Number(url.port), useSSL: tls, accessKey: m.access,
  secretKey: secret, region: m.region, pathStyle: true,
});
const s3 = make(m.secret);
const B = m.bucket;
const read = async (stream) => {
  const parts = [];
  for await (const c of stream) parts.push(c);
  return Buffer.concat(parts);
};
const listAll = (stream) => new Promise((resolve, reject) => {
  const got = [];
  stream.on("data", (o) => got.push(o)).on("end", () => resolve(got)).on("error", reject);
});
const keysOf = (objs) => objs.filter((o) => o.name).map((o) => o.name);

(async () => {
  const expiredUrl = await s3.presignedGetObject(B, "obj/1k", 1);
  await m.check("mb", () => s3.makeBucket(B, m.region).then(() => undefined));
  for (const size of ["0", "1k", "5m"]) {
    await m.check(`put-${size}`, () =>
      s3.putObject(B, m.keys[size], m.data[size], m.data[size].length).then(() => undefined));
  }
  await m.check("etag-md5", async () => {
    const st = await s3.statObject(B, "obj/1k");
    return st.etag === Matrix.md5(m.data["1k"]) ? undefined : `etag ${st.etag}`;
  });
  await m.check("meta", async () => {
    await s3.putObject(B, "obj/sub/meta", m.data["1k"], 1024,
      { "Content-Type": "text/x-cairn-test", "X-Amz-Meta-Color": "blue", "X-Amz-Meta-Shape": "round" });
    const md = (await s3.statObject(B, "obj/sub/meta")).metaData;
    return md["content-type"] === "text/x-cairn-test" && md.color === "blue" && md.shape === "round"
      ? undefined : `stat gave ${JSON.stringify(md)}`;
  });
  await m.check("list-recursive", async () => {
    const got = JSON.stringify((await listAll(s3.listObjectsV2(B, "", true))).map((o) => [o.name, o.size]));
    return got === JSON.stringify([["obj/1k", 1024], ["obj/5m", 5 << 20], ["obj/empty", 0],
      ["obj/sub/meta", 1024]]) ? undefined : `got ${got}`;
  });
  await m.check("list-delimiter", async () => {
    const objs = await listAll(s3.listObjectsV2(B, "obj/", false));
    const got = JSON.stringify([keysOf(objs), objs.filter((o) => o.prefix).map((o) => o.prefix)]);
    return got === JSON.stringify([["obj/1k", "obj/5m", "obj/empty"], ["obj/sub/"]]) ? undefined : `got ${got}`;
  });
  for (const size of ["0", "1k", "5m"]) {
    await m.check(`get-${size}`, async () => m.same(m.data[size], await read(await s3.getObject(B, m.keys[size]))));
  }
  await m.check("range", async () => m.same(m.data["5m"].subarray(1000000, 1065536),
    await read(await s3.getPartialObject(B, "obj/5m", 1000000, 65536))));
  await m.check("copy", async () => {
    await s3.copyObject(new Minio.CopySourceOptions({ Bucket: B, Object: "obj/sub/meta" }),
      new Minio.CopyDestinationOptions({ Bucket: B, Object: "copy/1" }));
    const st = await s3.statObject(B, "copy/1");
    return m.same(m.data["1k"], await read(await s3.getObject(B, "copy/1"))) ||
      (st.metaData.color === "blue" ? undefined : `copy's metadata ${JSON.stringify(st.metaData)}`);
  });
  await m.check("presign-get", async () => {
    const r = m.curl(await s3.presignedGetObject(B, "obj/1k", 300));
    return r.code === "200" ? m.same(m.data["1k"], r.body) : `curl got ${r.code}`;
  });
  m.skip("if-none-match-304", "minio-js getObject has no If-None-Match option");
  m.skip("if-match-412", "minio-js getObject has no If-Match option");
  await m.check("wrong-secret-403", async () => {
    try {
      await make(`wrong${m.secret}`).statObject(B, "obj/1k");
    } catch (e) {
      return e.code === "SignatureDoesNotMatch" || e.code === "AccessDenied" || /403/.test(e.message)
        ? undefined : `error ${e.code}: ${e.message}`;
    }
    return "succeeded, want 403";
  });
  await m.check("delete-one", async () => {
    await s3.removeObject(B, "copy/1");
    try {
      await s3.statObject(B, "copy/1");
    } catch (e) {
      return e.code === "NotFound" || e.code === "NoSuchKey" ? undefined : `stat error ${e.code}`;
    }
    return "copy/1 still there";
  });
  await m.check("delete-many", async () => {
    const r = await s3.removeObjects(B, ["obj/empty", "obj/5m"]);
    const left = keysOf(await listAll(s3.listObjectsV2(B, "", true)));
    const errors = (r || []).filter((x) => x.Code || x.Error);
    return !errors.length && JSON.stringify(left) === JSON.stringify(["obj/1k", "obj/sub/meta"])
      ? undefined : `errors ${JSON.stringify(errors)}, left ${left}`;
  });
  await m.check("put-1500", () => Matrix.pool(m.many, 8, (k) => s3.putObject(B, k, Buffer.from(`${k}\n`))));
  await m.check("list-1500", async () => m.listingVerdict(keysOf(await listAll(s3.listObjectsV2(B, "many/", true)))));
  await m.check("list-1500-v1", async () => m.listingVerdict(keysOf(await listAll(s3.listObjects(B, "many/", true)))));
  // Multipart: fPutObject goes in parts above 64 MiB (part size 64 MiB at these sizes);
  // fGetObject back, compared by SHA-256. CAIRN_LARGE=1 adds issue 10's 200 MiB.
  for (const mb of Matrix.mpuSizes(70, 200)) {
    const src = path.join(m.scratch, "mpu"), got = path.join(m.scratch, "mpu.got"), key = `mpu/${mb}`;
    Matrix.randomFile(src, mb);
    await m.check(`mpu-put-${mb}m`, async () => {
      await s3.fPutObject(B, key, src);
      const etag = (await s3.statObject(B, key)).etag;
      const parts = Matrix.partsOf(etag);
      return parts >= 2 ? { pass: `${parts} parts` } : `ETag ${etag}: ${parts} parts, want at least 2`;
    });
    await m.check(`mpu-get-${mb}m`, async () => {
      await s3.fGetObject(B, key, got);
      return Matrix.sameFile(src, got);
    });
    await s3.removeObject(B, key).catch(() => {});
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
