// Shared by the end-to-end tests: which runtime's daemons to run, and the
// rule that these tests need root (CI runs as root). Without root they fail
// with a clear message; HANDOVER_SKIP_E2E=1 turns them off explicitly.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { canCreateNamespaces } from "../../dist/demo/netns.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = ROOT + "node_modules/.bin/";

/** The runtime this test file runs under. */
export function runtime() {
  if (globalThis.Deno) return "deno";
  if (globalThis.Bun) return "bun";
  return "node";
}

/**
 * A namespace tag for a test: HANDOVER_TAG (a short prefix, so that two
 * checkouts can run the end-to-end tests at once without removing each
 * other's namespaces), the runtime's initial, and the test's own letters.
 */
export function tagOf(s, rt = runtime()) {
  return `${process.env.HANDOVER_TAG ?? ""}${rt[0]}${s}`;
}

/** The argv prefix that runs the `handover` CLI under a runtime. */
export function launcher(rt = runtime()) {
  const cli = `${ROOT}dist/hosts/${rt}/cli.js`;
  if (!existsSync(cli)) throw new Error(`no ${rt} host: ${cli} is missing (npm run build)`);
  if (rt === "deno") return [BIN + "deno", "run", "-A", "--unstable-net", "--v8-flags=--no-wasm-lazy-compilation", "--quiet", cli];
  if (rt === "bun") return [BIN + "bun", cli];
  return [process.execPath, cli];
}

/** The argv prefix that runs tools/traffic.js (the application) under a runtime. */
export function appLauncher(rt = runtime()) {
  if (rt === "deno") return [BIN + "deno", "run", "-A", "--quiet"];
  if (rt === "bun") return [BIN + "bun"];
  return [process.execPath];
}

/** True if the e2e tests should run; throws if they cannot and were not turned off. */
export function e2eEnabled() {
  if (process.env.HANDOVER_SKIP_E2E === "1") return false;
  const can = canCreateNamespaces();
  if (!can.ok) throw new Error(`end-to-end tests need network namespaces: ${can.why} (set HANDOVER_SKIP_E2E=1 to skip them on purpose)`);
  return true;
}

/** The checks every scenario must pass: the session survived, nothing lost, no reset. */
export function assertSurvived(assert, r, label) {
  const m = r.migrations.map((x) => `${x.id}:${x.state}${x.error ? `(${x.error})` : ""}`).join(" ");
  assert.ok(r.migrations.length > 0, `${label}: no migration ran`);
  assert.ok(r.migrations.every((x) => x.state === "completed"), `${label}: migrations ${m}`);
  assert.ok(r.digestsEqual, `${label}: TCP SHA-256 differ`);
  assert.is(r.resets, 0, `${label}: resets`);
  assert.is(r.lost, 0, `${label}: bytes lost (UDP missing ${JSON.stringify(r.udp?.server.missing)} / ${JSON.stringify(r.udp?.client.missing)})`);
  assert.ok(r.tcp.client.receivedBytes > 10000 && r.tcp.server.receivedBytes > 10000, `${label}: too little traffic`);
  if (r.udp) assert.ok(r.udp.client.receivedBytes > 10000 && r.udp.server.receivedBytes > 10000, `${label}: too little UDP traffic`);
}

const PEERS_JS = fileURLToPath(new URL("./_scale_peers.js", import.meta.url));

/**
 * Synthetic migrator i of a suite (scale, journal): its name, a fresh key, and
 * its configured address a (the sessions' original one) and b (where they
 * move), 250 peers per /24 of 198.19.0.0/16 and 198.19.100.0/16.
 */
export function syntheticPeer(i, suite) {
  const hi = Math.floor(i / 250);
  const lo = (i % 250) + 1;
  return { name: `s${i}.${suite}`, key: randomBytes(32).toString("hex"), spi: 256, a: `198.19.${hi}.${lo}`, b: `198.19.${100 + hi}.${lo}` };
}

/**
 * Runs synthetic peers' Migration Requests (_scale_peers.js, the conformance
 * suite's reference encoder, not the core) from R of topology t, where their
 * addresses are, against F's control port; resolves with their codes.
 */
export function driveSyntheticPeers(t, dir, peers, requests, name, window = 32) {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ target: "198.18.9.2", port: 4346, peers, requests, window, timeoutMs: 1500, retries: 3 }));
  const child = t.spawn(t.r, [process.execPath, PEERS_JS, file]);
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`synthetic peers exited ${code}: ${err}`))));
  });
}
