#!/usr/bin/env node
// Runs every test file under Node, Deno and Bun and prints one summary line:
// "N passed, N failed" (CI reads that line).
//
//   node scripts/test.js [--runtime node|deno|bun ...] [pattern ...]
//
// A pattern keeps the test files whose path contains it. Each file runs in its
// own process, so a crash in one cannot hide the results of another.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => join(root, "node_modules", ".bin", name);
const RUNTIMES = {
  node: (file) => [process.execPath, [file]],
  deno: (file) => [bin("deno"), ["run", "-A", "--unstable-net", "--quiet", file]],
  bun: (file) => [bin("bun"), [file]],
};

const args = process.argv.slice(2);
const runtimes = [];
const patterns = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--runtime") runtimes.push(args[++i]);
  else patterns.push(args[i]);
}
if (runtimes.length === 0) runtimes.push("node", "deno", "bun");
for (const r of runtimes) {
  if (!RUNTIMES[r]) {
    console.error(`unknown runtime '${r}': use node, deno or bun`);
    process.exit(2);
  }
}

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith(".test.js")) out.push(path);
  }
  return out;
}
const files = findTests(join(root, "test")).filter(
  (f) => patterns.length === 0 || patterns.some((p) => f.includes(p)),
);

// uvu ends each file with "Total: N / Passed: N / Skipped: N".
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");
function counts(output) {
  const total = /Total:\s+(\d+)/.exec(output);
  const passed = /Passed:\s+(\d+)/.exec(output);
  return total && passed ? { total: +total[1], passed: +passed[1] } : null;
}

let passed = 0;
let failed = 0;
for (const runtime of runtimes) {
  for (const file of files) {
    const [cmd, argv] = RUNTIMES[runtime](file);
    const started = Date.now();
    const run = spawnSync(cmd, argv, {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, HANDOVER_TEST_RUNTIME: runtime, NO_COLOR: "1" },
      maxBuffer: 64 * 1024 * 1024,
    });
    const output = strip((run.stdout ?? "") + (run.stderr ?? ""));
    const c = counts(output);
    const ms = Date.now() - started;
    const name = `${runtime} ${relative(root, file)}`;
    if (c && run.status === 0 && c.passed === c.total) {
      passed += c.passed;
      console.log(`ok   ${name}: ${c.passed} passed (${ms} ms)`);
    } else {
      // A crash before uvu's summary still counts as one failure.
      const bad = c ? Math.max(1, c.total - c.passed) : 1;
      passed += c ? c.passed : 0;
      failed += bad;
      console.log(`FAIL ${name}: ${bad} failed (exit ${run.status ?? run.signal}, ${ms} ms)`);
      console.log(output.split("\n").map((l) => "     " + l).join("\n"));
    }
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
