#!/usr/bin/env node
// Runs conformance/run.js under Node, Deno and Bun and prints each runtime's
// summary line ("<runtime>: N passed, M failed"). Exit code 1 if any runtime
// failed a test, did not finish, or counted differently from the others.
//
//   node conformance/run-all.js [--verbose] [arguments for run.js ...]
import { spawnSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RUN = join(ROOT, "conformance", "run.js");
const bin = (name) => join(ROOT, "node_modules", ".bin", name);
const RUNTIMES = {
  node: [process.execPath, [RUN]],
  deno: [bin("deno"), ["run", "-A", "--quiet", RUN]],
  bun: [bin("bun"), [RUN]],
};

const args = process.argv.slice(2);
const verbose = args.includes("--verbose");
const results = {};
let bad = false;
for (const [name, [cmd, argv]] of Object.entries(RUNTIMES)) {
  const r = spawnSync(cmd, [...argv, ...args], { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: "1" } });
  const out = (r.stdout ?? "") + (r.stderr ?? "");
  const m = new RegExp(`^${name}: (\\d+) passed, (\\d+) failed$`, "m").exec(r.stdout ?? "");
  if (!m) {
    bad = true;
    console.log(`${name}: did not finish (exit ${r.status ?? r.signal}${r.error ? `, ${r.error.message}` : ""})`);
    console.log(out.trim().split("\n").slice(-20).map((l) => `    ${l}`).join("\n"));
    continue;
  }
  const passed = +m[1], failed = +m[2];
  results[name] = { passed, failed };
  if (failed > 0 || r.status !== 0) bad = true;
  // The lines of failing files (every line with --verbose), then the summary.
  const lines = (r.stdout ?? "").trim().split("\n").slice(0, -1);
  let inFailure = false;
  for (const l of lines) {
    if (!l.startsWith(" ")) inFailure = l.startsWith("FAIL");
    if (verbose || inFailure) console.log(`  ${l}`);
  }
  console.log(m[0]);
}
const totals = Object.values(results).map((r) => `${r.passed}/${r.failed}`);
if (new Set(totals).size > 1) {
  bad = true;
  console.log(`the runtimes disagree: ${Object.entries(results).map(([k, r]) => `${k} ${r.passed} passed ${r.failed} failed`).join(", ")}`);
}
process.exit(bad ? 1 : 0);
