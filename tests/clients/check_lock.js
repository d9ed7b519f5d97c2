// Refuses a package-lock.json that would fetch anything from outside the npm registry: every
// package must be a plain registry version with an integrity hash, and a recorded download
// address (npm omits it under omit-lockfile-registry-resolved) must be on registry.npmjs.org.
// Usage: node check_lock.js [package-lock.json]. Exit 0 when clean, 1 with one line per problem.
"use strict";
const fs = require("fs");
const path = process.argv[2] || `${__dirname}/package-lock.json`;
const lock = JSON.parse(fs.readFileSync(path, "utf8"));
const registry = "https://registry.npmjs.org/";
const problems = [];
if (lock.lockfileVersion < 2) problems.push(`lockfileVersion ${lock.lockfileVersion}: need 2 or 3`);
for (const [name, p] of Object.entries(lock.packages || {})) {
  if (name === "") continue;
  if (p.link) problems.push(`${name}: a link to ${p.resolved}`);
  if (p.resolved !== undefined && !p.resolved.startsWith(registry))
    problems.push(`${name}: resolved from ${p.resolved}`);
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(p.version || ""))
    problems.push(`${name}: version ${p.version} is not a registry version`);
  if (!/^sha512-/.test(p.integrity || "")) problems.push(`${name}: no sha512 integrity`);
}
for (const p of problems) console.log(`check_lock: ${p}`);
process.exit(problems.length ? 1 : 0);
