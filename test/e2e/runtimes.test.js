// Mixed-runtime pairs on real kernels: the migrator's daemon in one runtime,
// the fixed end's in another, a STEM migration (make-before-break) on
// throwaway network namespaces (hov-*, 198.18.0.0/15 and 2001:db8::/32 only,
// removed also on failure). Needs root: without it this file fails, unless
// HANDOVER_SKIP_E2E=1 says to skip (and it says so).
//
// It spawns all three runtimes itself, so it runs once per test run: under
// Node (scripts/test.js runs it in every runtime; Deno and Bun only print that).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const current = process.env.HANDOVER_TEST_RUNTIME ?? (typeof Deno !== "undefined" ? "deno" : typeof Bun !== "undefined" ? "bun" : "node");
const bin = (name) => join(ROOT, "node_modules", ".bin", name);
const CLI = {
  node: [process.execPath, join(ROOT, "dist/hosts/node/cli.js")],
  deno: [bin("deno"), "run", "--allow-all", "--unstable-net", "--v8-flags=--no-wasm-lazy-compilation", "--quiet", join(ROOT, "dist/hosts/deno/cli.js")],
  bun: [bin("bun"), join(ROOT, "dist/hosts/bun/cli.js")],
};
const PAIRS = [["deno", "bun"], ["node", "deno"], ["bun", "node"]];

if (current !== "node") {
  test(`mixed-runtime pairs (${PAIRS.map((p) => p.join("->")).join(", ")}) run once per test run, under node; not again under ${current}`, () => {
    console.log(`runtimes.test.js: the mixed-runtime pairs are covered by the node run (this is ${current})`);
  });
} else {
  const { runStem } = await import("../../dist/demo/stem.js");
  const { canCreateNamespaces } = await import("../../dist/demo/netns.js");
  const can = canCreateNamespaces();
  if (!can.ok && process.env.HANDOVER_SKIP_E2E === "1") {
    test("mixed-runtime pairs: SKIPPED (HANDOVER_SKIP_E2E=1)", () => {
      console.log(`runtimes.test.js: SKIPPED by HANDOVER_SKIP_E2E=1: ${can.why}`);
    });
  } else {
    test("the end-to-end tests can create network namespaces", () => {
      assert.ok(can.ok, `${can.why}. These tests need root (CI runs as root); set HANDOVER_SKIP_E2E=1 to skip them knowingly.`);
    });
    if (can.ok) {
      for (const [m, f] of PAIRS) {
        test(`${m} (migrator) -> ${f} (fixed end): make-before-break, nothing lost`, async () => {
          const started = Date.now();
          const r = await runStem({ mode: "make-before-break", launcher: { m: CLI[m], f: CLI[f] }, tag: `${process.env.HANDOVER_TAG ?? ""}rt${process.pid % 10000}${m[0]}${f[0]}` });
          const mig = r.migrations.map((x) => `${x.state} in ${x.elapsedMs} ms`).join(", ");
          console.log(`  ${m} -> ${f}: ${mig}; blackout ${r.blackoutMs.toFixed(1)} ms; lost ${r.lost}; resets ${r.resets}; bytes ${r.bytesReceived}/${r.bytesSent} (${Date.now() - started} ms)`);
          assert.is(r.migrations.length, 1);
          assert.is(r.migrations[0].state, "completed", `migration: ${JSON.stringify(r.migrations[0])}`);
          assert.ok(r.digestsEqual, "TCP SHA-256 equal both ways");
          assert.is(r.lost, 0, `lost (UDP client ${r.udp?.client.lost}, server ${r.udp?.server.lost})`);
          assert.is(r.resets, 0, "resets");
          assert.ok(r.bytesReceived > 0 && r.bytesReceived === r.bytesSent, "every byte sent arrived");
        });
      }
    }
  }
}

test.run();
