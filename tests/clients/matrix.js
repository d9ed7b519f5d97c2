// Shared part of the Node drivers of the client matrix (sdk_driver.js, minio_driver.js): the
// fixtures every client uploads, one line per check (PASS|FAIL|SKIP client check detail), the
// expected 1,500-key listing and a presigned URL fetched with curl.
"use strict";
const crypto = require("crypto");
const { execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");

class Matrix {
  // argv: ENDPOINT ACCESS SECRET REGION SCRATCH BUCKET
  constructor(client, argv) {
    if (argv.length < 6) {
      console.error("usage: ENDPOINT ACCESS SECRET REGION SCRATCH BUCKET");
      process.exit(2);
    }
    [this.endpoint, this.access, this.secret, this.region, this.scratch, this.bucket] = argv;
    this.client = client;
    this.failed = false;
    fs.mkdirSync(this.scratch, { recursive: true });
    this.data = { 0: Buffer.alloc(0), "1k": crypto.randomBytes(1024), "5m": crypto.randomBytes(5 << 20) };
    this.keys = { 0: "obj/empty", "1k": "obj/1k", "5m": "obj/5m" };
    this.many = Array.from({ length: 1500 }, (_, i) => `many/${i}`);
    this.manySorted = [...this.many].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    this.start = Date.now();
  }
  line(verdict, check, detail = "") {
    if (verdict === "FAIL") this.failed = true;
    console.log(`${verdict} ${this.client} ${check} ${detail}`.trimEnd());
  }
  skip(check, reason) {
    this.line("SKIP", check, reason);
  }
  // Runs fn (async); it resolves to undefined or {pass: DETAIL} on success, else to a failure
  // detail; a throw fails.
  async check(name, fn) {
    let detail;
    try {
      detail = await fn();
    } catch (e) {
      detail = `${e.name || "Error"}: ${String(e.message || e).slice(0, 300)}`;
    }
    if (detail === undefined || typeof detail === "object") this.line("PASS", name, detail ? detail.pass : "");
    else this.line("FAIL", name, detail);
  }
  static sha(buf) {
    return crypto.createHash("sha256").update(buf).digest("hex");
  }
  static md5(buf) {
    return crypto.createHash("md5").update(buf).digest("hex");
  }
  same(want, got) {
    return Matrix.sha(want) === Matrix.sha(got) ? undefined : `${got.length} bytes that differ`;
  }
  listingVerdict(got) {
    if (got.join("\n") === this.manySorted.join("\n")) return undefined;
    const sorted = [...got].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    if (sorted.join("\n") === this.manySorted.join("\n")) return "the 1500 keys, not in byte order";
    return `${got.length} keys, want the 1500`;
  }
  // curl(url) -> {code, body}: curl trusts the test's CA through CURL_CA_BUNDLE over TLS.
  curl(url) {
    const out = path.join(this.scratch, "curl.out");
    const code = execFileSync("curl", ["-sS", "-o", out, "-w", "%{http_code}", url], {
      encoding: "utf8",
    });
    return { code, body: fs.existsSync(out) ? fs.readFileSync(out) : Buffer.alloc(0) };
  }
  // Waits until 3 s after the start, so that a URL presigned then for 1 s has expired.
  async waitExpired() {
    const left = this.start + 3000 - Date.now();
    if (left > 0) await new Promise((r) => setTimeout(r, left));
  }
  // Runs fn over items with at most `width` at once.
  static async pool(items, width, fn) {
    let next = 0;
    const worker = async () => {
      while (next < items.length) await fn(items[next++]);
    };
    await Promise.all(Array.from({ length: width }, worker));
  }
  // The multipart checks: in CI one size (MiB) above the client's threshold, with CAIRN_LARGE=1
  // issue 10's 100 MiB and 1 GiB and the driver's extra sizes.
  static mpuSizes(ci, ...extra) {
    return process.env.CAIRN_LARGE === "1" ? [100, 1024, ...extra] : [ci];
  }
  // randomFile(file, mib): mib MiB of random bytes, written 1 MiB at a time.
  static randomFile(file, mib) {
    const fd = fs.openSync(file, "w");
    try {
      for (let i = 0; i < mib; i++) fs.writeSync(fd, crypto.randomBytes(1 << 20));
    } finally {
      fs.closeSync(fd);
    }
  }
  // fileSha(file) -> the SHA-256 of a file, read as a stream.
  static fileSha(file) {
    return new Promise((resolve, reject) => {
      const h = crypto.createHash("sha256");
      fs.createReadStream(file).on("data", (c) => h.update(c)).on("end", () => resolve(h.digest("hex")))
        .on("error", reject);
    });
  }
  // sameFile(want, got) -> undefined when the files hold the same bytes, else a failure detail.
  static async sameFile(want, got) {
    if (!fs.existsSync(got)) return `${got} missing`;
    return (await Matrix.fileSha(want)) === (await Matrix.fileSha(got))
      ? undefined : `${fs.statSync(got).size} bytes that differ`;
  }
  // partsOf(etag) -> the part count of a multipart ETag (MD5-N), 0 for a single-part one.
  static partsOf(etag) {
    const m = /-(\d+)"?$/.exec(etag || "");
    return m ? Number(m[1]) : 0;
  }
  finish() {
    process.exit(this.failed ? 1 : 0);
  }
}
module.exports = { Matrix };
