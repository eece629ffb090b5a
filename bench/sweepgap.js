// The longest wait of a control message while the idle sweep dumps the maps
// (issue 11: the daemon keeps answering while it sweeps), in one run:
//
//   sudo node bench/sweepgap.js [--moves 100000] [--runs 1] [--json FILE]
//
// (after `npm run build`). A fixed end's daemon F (the namespaces of
// demo/netns.ts, as bench/scale.js) is loaded with N moves by synthetic peers
// (test/e2e/_scale_peers.js), stopped (a clean stop: its moves saved) and
// started again, so that its first sweep comes 5 s after its kernel setup
// with N moves to read. From the `restored` event on, a probe peer sends
// Registration Requests back to back (one in flight) for 12 s: the longest
// round trip is the longest time a control message waited, the sweep's
// dumps included. Each run does this twice, one after the other: with the
// dumps read at once (HANDOVER_BLOCKING_DUMPS=1 in F's environment, as before
// KernelIO.dump) and in pieces (the default).
//
// A shared 2-core VM with other jobs running: compare the two in one run.

import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir, loadavg } from "node:os";
import { join } from "node:path";
import { Topology, cleanStale } from "../dist/demo/netns.js";
import { fleetAddresses, fleetPlan, writeFleetConfig, startFleetDaemon, stopFleetDaemon, drivePeers } from "./_fleet.js";

const args = process.argv.slice(2);
const opt = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const N = Number(opt("--moves", "100000"));
const RUNS = Number(opt("--runs", "1"));
const JSON_OUT = opt("--json", null);
const PER_PEER = 10;
const PROBE_MS = 12000;
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

const tag = `${process.env.HANDOVER_TAG ?? ""}swg`;
cleanStale(tag);
const topo = new Topology(tag);
const dir = mkdtempSync(join(tmpdir(), "handover-sweepgap-"));
const report = { moves: N, load: loadavg(), runs: [] };
try {
  topo.up();
  fleetAddresses(topo);
  const sock = `/run/handover/${topo.f}.sock`;
  const { probe, all, requests } = fleetPlan(N, PER_PEER);
  writeFleetConfig(join(dir, "f.json"), sock, all, N, PER_PEER);
  const startF = (env = {}) => startFleetDaemon(topo, join(dir, "f.json"), sock, env);
  const stopF = stopFleetDaemon;
  const drive = (plan, name) => drivePeers(topo, dir, { peers: all, ...plan }, name);

  let f = await startF();
  const load = await drive({ requests, window: 64, timeoutMs: 2000, retries: 3 }, "load");
  console.log(`loaded ${N} moves in ${(load.elapsedMs / 1000).toFixed(1)} s (${load.results.filter((r) => r.code === "ACCEPTED").length}/${requests.length} accepted); load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
  await stopF(f);

  for (let run = 0; run < RUNS; run++) {
    for (const [how, env] of [["at once", { HANDOVER_BLOCKING_DUMPS: "1" }], ["in pieces", {}]]) {
      f = await startF(env);
      const r = await drive({ requests: [{ peer: all.length - 1, type: "REGISTRATION_REQUEST", from: probe.a }], window: 1, timeoutMs: 5000, retries: 1, repeatForMs: PROBE_MS }, `probe-${run}-${how}`);
      const ms = r.results.filter((x) => x.code === "ACCEPTED").map((x) => x.ms);
      const worst = r.results.reduce((w, x) => (x.ms !== null && x.ms > w.ms ? x : w), { ms: 0, at: 0 });
      const lost = r.results.filter((x) => x.code !== "ACCEPTED").length;
      await stopF(f);
      const row = { run, how, restoredS: f.restoredMs / 1000, elements: f.restored.elements, answered: ms.length, lost, p50: pct(ms, 50), p99: pct(ms, 99), maxMs: worst.ms, maxAtS: worst.at / 1000, load: loadavg()[0] };
      report.runs.push(row);
      console.log(`run ${run + 1}, dumps read ${how.padEnd(9)}: ${ms.length} registrations answered (${lost} not) in ${PROBE_MS / 1000} s after restored (${row.restoredS.toFixed(2)} s, ${row.elements}); round trip p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, longest ${row.maxMs.toFixed(0)} ms (sent at ${row.maxAtS.toFixed(1)} s); load average ${row.load.toFixed(1)}`);
    }
  }
} finally {
  cleanStale(tag);
  rmSync(dir, { recursive: true, force: true });
}
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(report, null, 2));
