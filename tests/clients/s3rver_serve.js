// Starts s3rver (the npm peer S3 server) for tests/e2e_clients.sh, with the access key pair the
// runner chose instead of s3rver's fixed S3RVER/S3RVER (which is revoked), over TLS when a
// certificate and key are given. Prints "ready" on stdout once it listens; stops on SIGTERM.
// Usage: node s3rver_serve.js ADDRESS PORT DIR ACCESS_KEY SECRET_KEY [CERT.pem KEY.pem]
"use strict";
const fs = require("fs");
const S3rver = require("s3rver");
const AWSAccount = require("s3rver/lib/models/account");

const [address, port, directory, accessKey, secretKey, cert, key] = process.argv.slice(2);
if (!secretKey) {
  console.error("usage: s3rver_serve.js ADDRESS PORT DIR ACCESS_KEY SECRET_KEY [CERT KEY]");
  process.exit(2);
}
AWSAccount.DUMMY_ACCOUNT.revokeAccessKey("S3RVER");
AWSAccount.DUMMY_ACCOUNT.createKeyPair(accessKey, secretKey);
const options = { address, port: Number(port), directory, silent: !process.env.S3RVER_LOG, vhostBuckets: false };
if (cert) {
  options.cert = fs.readFileSync(cert);
  options.key = fs.readFileSync(key);
}
const server = new S3rver(options);
server.run().then(
  () => console.log("ready"),
  (err) => {
    console.error(`s3rver_serve: ${err.message}`);
    process.exit(1);
  },
);
process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
