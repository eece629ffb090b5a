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

import { mkdtempSync, writeFileSync, rmSync, readFileSync } from "node:fs";
import { tmpdir, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { Topology, cleanStale } from "../dist/demo/netns.js";
import { lines } from "../dist/demo/stem.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist", "hosts", "node", "cli.js");
const PEERS_JS = join(ROOT, "test", "e2e", "_scale_peers.js");
const args = process.argv.slice(2);
const opt = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const N = Number(opt("--moves", "100000"));
const RUNS = Number(opt("--runs", "1"));
const JSON_OUT = opt("--json", null);
const PER_PEER = 10;
const PROBE_MS = 12000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
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
  const addrs = [];
  for (let g = 0; g < 20; g++) addrs.push(`addr add 198.19.${g}.1/32 dev lo`, `addr add 198.19.${100 + g}.1/32 dev lo`);
  addrs.push("addr add 198.19.250.1/32 dev lo");
  topo.ns(topo.r, ["ip", "-batch", "-"], addrs.join("\n") + "\n");
  topo.ns(topo.f, ["ip", "route", "replace", "198.19.0.0/16", "via", "198.18.9.1"]);
  const sock = `/run/handover/${topo.f}.sock`;

  const P = Math.ceil(N / PER_PEER);
  const peers = Array.from({ length: P }, (_, i) => ({ name: `s${i}.bench`, key: randomBytes(32).toString("hex"), spi: 256, a: `198.19.${Math.floor(i / 6000)}.1`, b: `198.19.${100 + Math.floor(i / 6000)}.1`, base: 1024 + (i % 6000) * PER_PEER }));
  const probe = { name: "probe.bench", key: randomBytes(32).toString("hex"), spi: 256, a: "198.19.250.1", b: "198.19.250.1" };
  const all = [...peers, probe];
  const requests = peers.map((p, i) => ({ peer: i, moves: Array.from({ length: Math.min(PER_PEER, N - i * PER_PEER) }, (_, k) => [p.a, p.base + k, p.b, p.base + k]) }));
  writeFileSync(join(dir, "f.json"), JSON.stringify({
    name: "f.bench", listen: ["0.0.0.0"], control: sock, log: "info", register: false,
    options: { maxMovesPerPeer: PER_PEER, maxMoves: N + 100, sessionIdleMs: 1e9 },
    peers: all.map((p) => ({ name: p.name, address: p.a, addresses: [p.b], sa: [{ spi: 256, key: p.key }] })),
  }));

  const startF = async (env = {}, profile = false) => {
    rmSync(sock, { force: true });
    const t0 = performance.now();
    const prof = profile && process.env.HANDOVER_BENCH_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.HANDOVER_BENCH_PROF}`] : [];
    const child = topo.spawn(topo.f, [process.execPath, ...prof, CLI, "daemon", "--config", join(dir, "f.json")], env);
    const events = [];
    lines(child.stderr, (e) => events.push({ ...e, at: performance.now() }));
    for (let i = 0; i < 12000 && !events.some((e) => e.event === "restored"); i++) await sleep(10);
    const e = events.find((x) => x.event === "restored");
    if (!e) throw new Error(`F did not log restored: ${JSON.stringify(events.slice(-3))}`);
    return { child, events, t0, restoredMs: e.at - t0, restored: e };
  };
  const stopF = async (f, signal = "SIGTERM") => {
    const exited = new Promise((r) => f.child.once("exit", r));
    f.child.kill(signal);
    await exited;
  };
  const drive = (plan, name) => {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify({ target: "198.18.9.2", port: 4346, peers: all, ...plan }));
    const child = topo.spawn(topo.r, [process.execPath, PEERS_JS, file]);
    return new Promise((resolve, reject) => {
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(err))));
    });
  };

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
