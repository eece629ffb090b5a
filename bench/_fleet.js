// A fixed end loaded with many moves from synthetic peers (bench/restart.js,
// bench/sweepgap.js; bench/scale.js drives its peers the same way): the
// peers' addresses on R, the plan of one registration-free migration per
// PER_PEER ports, F's configuration, F's daemon started and stopped, and the
// synthetic peers (test/e2e/_scale_peers.js) run in R.
import { writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { lines } from "../dist/demo/stem.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist", "hosts", "node", "cli.js");
const PEERS_JS = join(ROOT, "test", "e2e", "_scale_peers.js");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The peers' addresses on R's lo (20 pairs of /32s, 6,000 peers each, and the probe's), routed from F. */
export function fleetAddresses(topo) {
  const addrs = [];
  for (let g = 0; g < 20; g++) addrs.push(`addr add 198.19.${g}.1/32 dev lo`, `addr add 198.19.${100 + g}.1/32 dev lo`);
  addrs.push("addr add 198.19.250.1/32 dev lo");
  topo.ns(topo.r, ["ip", "-batch", "-"], addrs.join("\n") + "\n");
  topo.ns(topo.f, ["ip", "route", "replace", "198.19.0.0/16", "via", "198.18.9.1"]);
}

/** n moves from ceil(n / perPeer) peers (perPeer ports each) and one probe peer: { peers, probe, all, requests }. */
export function fleetPlan(n, perPeer) {
  const peers = Array.from({ length: Math.ceil(n / perPeer) }, (_, i) => ({ name: `s${i}.bench`, key: randomBytes(32).toString("hex"), spi: 256, a: `198.19.${Math.floor(i / 6000)}.1`, b: `198.19.${100 + Math.floor(i / 6000)}.1`, base: 1024 + (i % 6000) * perPeer }));
  const probe = { name: "probe.bench", key: randomBytes(32).toString("hex"), spi: 256, a: "198.19.250.1", b: "198.19.250.1" };
  const requests = peers.map((p, i) => ({ peer: i, moves: Array.from({ length: Math.min(perPeer, n - i * perPeer) }, (_, k) => [p.a, p.base + k, p.b, p.base + k]) }));
  return { peers, probe, all: [...peers, probe], requests };
}

/** F's configuration file for these peers: no idle end, limits that admit n moves. */
export function writeFleetConfig(file, sock, all, n, perPeer) {
  writeFileSync(file, JSON.stringify({
    name: "f.bench", listen: ["0.0.0.0"], control: sock, log: "info", register: false,
    options: { maxMovesPerPeer: perPeer, maxMoves: n + 100, sessionIdleMs: 1e9 },
    peers: all.map((p) => ({ name: p.name, address: p.a, addresses: [p.b], sa: [{ spi: 256, key: p.key }] })),
  }));
}

/** Starts F's daemon and waits for its `restored` log line (up to 120 s); nodeArgs go before the CLI (e.g. --cpu-prof). */
export async function startFleetDaemon(topo, config, sock, env = {}, nodeArgs = []) {
  rmSync(sock, { force: true });
  const t0 = performance.now();
  const child = topo.spawn(topo.f, [process.execPath, ...nodeArgs, CLI, "daemon", "--config", config], env);
  const events = [];
  lines(child.stderr, (e) => events.push({ ...e, at: performance.now() }));
  for (let i = 0; i < 12000 && !events.some((e) => e.event === "restored"); i++) await sleep(10);
  const e = events.find((x) => x.event === "restored");
  if (!e) throw new Error(`F did not log restored: ${JSON.stringify(events.slice(-3))}`);
  return { child, events, t0, restoredMs: e.at - t0, restored: e };
}

/** Stops a daemon started by startFleetDaemon and waits for its exit. */
export async function stopFleetDaemon(f, signal = "SIGTERM") {
  const exited = new Promise((r) => f.child.once("exit", r));
  f.child.kill(signal);
  await exited;
}

/** Runs the synthetic peers in R with this plan (test/e2e/_scale_peers.js's PLAN, written to dir/name.json); resolves to their JSON result. */
export function drivePeers(topo, dir, plan, name, nodeArgs = []) {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ target: "198.18.9.2", port: 4346, ...plan }));
  const child = topo.spawn(topo.r, [process.execPath, ...nodeArgs, PEERS_JS, file]);
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(err))));
  });
}
