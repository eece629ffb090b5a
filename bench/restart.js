// Where a restart's time goes at N moves (issue 11: restore every move <= 2 s at 100,000), in one run:
//
//   sudo node bench/restart.js [--moves 100000] [--runs 1] [--how crash,clean] [--before FILE.wasm] [--json FILE]
//
// (after `npm run build`). A fixed end's daemon F (as bench/sweepgap.js) is
// loaded with N moves, then restarted `runs` times each way: `clean`, a
// SIGTERM (its moves saved with nftables' generation, then taken over from
// the file) and `crash`, a SIGKILL (nothing saved: the maps are dumped). Per
// restart: the time from the spawn to each of F's log lines (`restored`:
// every move taken over) and to its process's first line; with
// HANDOVER_BENCH_PROF=DIR, a CPU profile of each restarted F (node --cpu-prof).
// With --before, each restart is made twice, alternately: F with the core
// FILE.wasm (HANDOVER_WASM, the build before a change) and with this build.
//
// A shared 2-core VM with other jobs running: compare within one run.

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

const tag = `${process.env.HANDOVER_TAG ?? ""}rst`;
cleanStale(tag);
const topo = new Topology(tag);
const dir = mkdtempSync(join(tmpdir(), "handover-restart-"));
const HOW = opt("--how", "crash,clean").split(",");
const BEFORE = opt("--before", null);
const report = { moves: N, load: loadavg(), runs: [] };
try {
  topo.up();
  fleetAddresses(topo);
  const sock = `/run/handover/${topo.f}.sock`;
  const { all, requests } = fleetPlan(N, PER_PEER);
  writeFleetConfig(join(dir, "f.json"), sock, all, N, PER_PEER);
  const startF = (env = {}, profile = false) =>
    startFleetDaemon(topo, join(dir, "f.json"), sock, env, profile && process.env.HANDOVER_BENCH_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.HANDOVER_BENCH_PROF}`] : []);
  const stopF = stopFleetDaemon;
  const drive = (plan, name) => drivePeers(topo, dir, { peers: all, ...plan }, name);

  let f = await startF();
  const load = await drive({ requests, window: 64, timeoutMs: 2000, retries: 3 }, "load");
  console.log(`loaded ${N} moves in ${(load.elapsedMs / 1000).toFixed(1)} s (${load.results.filter((r) => r.code === "ACCEPTED").length}/${requests.length} accepted); load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
  for (let run = 0; run < RUNS; run++) {
    for (const [how, core] of HOW.flatMap((h) => (BEFORE ? [[h, "before"], [h, "this"]] : [[h, "this"]]))) {
      // `ip netns exec` execs F: its pid is the child's. A crash: SIGKILL (no save); the kernel keeps the table either way.
      await stopF(f, how === "crash" ? "SIGKILL" : "SIGTERM");
      f = await startF(core === "before" ? { HANDOVER_WASM: BEFORE } : {}, true);
      const phases = f.events.map((e) => `${e.event ?? e.msg ?? "?"} ${((e.at - f.t0) / 1000).toFixed(2)}`).join(", ");
      const row = { run, how, core, restartS: f.restoredMs / 1000, moves: f.restored.moves, elements: f.restored.elements, leftovers: f.restored.leftovers, load: loadavg()[0], phases };
      report.runs.push(row);
      console.log(`run ${run + 1}, ${how.padEnd(5)} restart${BEFORE ? `, core ${core.padEnd(6)}` : ""}: ${row.restartS.toFixed(2)} s to restored (${row.moves} moves, elements ${row.elements}); log lines (s since spawn): ${phases}; load average ${row.load.toFixed(1)}`);
    }
  }
  await stopF(f);
} finally {
  cleanStale(tag);
  rmSync(dir, { recursive: true, force: true });
}
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(report, null, 2));
