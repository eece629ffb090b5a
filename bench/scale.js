// STEM's data plane at server scale (issue 11), in one run:
//
//   sudo node bench/scale.js [--moves 1,1000,100000] [--peers 1,100000] [--restart clean,crash] [--json FILE] [--no-kernel] [--unvalidated]
//
// (after `npm run build`). For each number of moves N, a fixed end's daemon
// (F, in the namespaces of demo/netns.ts) is loaded with N moves by synthetic
// peers (test/e2e/_scale_peers.js: authenticated Migration Requests of 10
// moves each, from R, where the peers' addresses are), and then:
//
//   migration   one more peer migrates one session back and forth, one request
//               at a time: the round trip at the peer (request in to reply out
//               at F, kernel batch included, plus two veth hops), p50 / p99
//   throughput  iperf3 M -> F, one TCP stream, 3 s: with F's table holding the
//               N moves and a rewrite for the stream itself (an element that
//               maps it onto itself, so every packet takes the lookups' hit
//               path) against no table at all (medians of 3 runs each)
//   restart     F's daemon stopped (its elements stay) and started again: time
//               from the start to the `restored` event, and the moves it took over
//
// then control messages per second (Registration Requests renewing a
// registration, 64 in flight, round-robin over up to 20,000 of the peers) at
// F with P peers configured, and the core's memory per peer and per move
// (in-process, no kernel: one engine, 64 KiB pages of its linear memory before
// and after). Each figure is printed with its goal, its value at each N, and
// its slope between the sizes (the growth per decade of N).
//
// This machine is a shared 2-core VM with other jobs running: the figures are
// not quiet-machine figures.

import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { Topology, cleanStale } from "../dist/demo/netns.js";
import { lines } from "../dist/demo/stem.js";
import { coreTables } from "./_tables.js";
import { migOptions, migrationRounds, printMig, printMigGoals } from "./_scale_mig.js";
import { drivePeers } from "./_fleet.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist", "hosts", "node", "cli.js");

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const SIZES = opt("--moves", "1,1000,100000").split(",").map(Number);
const PEER_SIZES = opt("--peers", "1,100000").split(",").map(Number);
const JSON_OUT = opt("--json", null);
const KERNEL = !args.includes("--no-kernel");
// --ab DIR, --nice N, --rounds R, --singles K, --burst B: the migration figure in interleaved rounds (bench/_scale_mig.js)
const MIG = migOptions(args, opt);
// --dormant: throughput also with the N moves and no element for the stream (its packets miss every lookup)
const DORMANT = args.includes("--dormant");
// --unvalidated: the synthetic peers' moves go to an address they have not configured (198.19.150+g.1):
// each stays unvalidated (F waits for a Confirm that never comes: validationTimeoutMs 1e9), with its byte quota.
const UNVALIDATED = args.includes("--unvalidated");
// --restart clean,crash: each N's restart made each way in turn (clean: SIGTERM, the moves saved; crash: SIGKILL, the maps dumped).
const RESTARTS = opt("--restart", "clean").split(",");
const PER_PEER = 10;
const report = { machine: "shared 2-core VM, other jobs running: not quiet-machine figures", sizes: SIZES, core: {}, kernel: {} };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
/** A process's CPU time so far (utime + stime from /proc, ms; 10 ms resolution at 100 Hz). */
const cpuMs = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
};
const median = (xs) => pct(xs, 50);
const slope = (xs, vs) => vs.slice(1).map((v, i) => ((v - vs[i]) / Math.log10(xs[i + 1] / Math.max(1, xs[i]))).toFixed(3));

// ---- the core alone: memory per peer and per move, time per request (bench/_tables.js) ----

function coreFigures() {
  report.core = coreTables(SIZES, PER_PEER);
  const c = report.core;
  console.log(`core (in-process, no kernel): ${c.peers} peers ${c.bytesPerPeer.toFixed(0)} B each; ${c.moves} moves ${c.bytesPerMove.toFixed(0)} B each (goal <= 512 B each; between the last two growths of linear memory; growth/units: ${c.bytesPerPeerBound.toFixed(0)} and ${c.bytesPerMoveBound.toFixed(0)} B, an upper bound)`);
  for (const n of SIZES) console.log(`  one migration request in the core at ${n} moves: p50 ${c.requestMs[n].p50.toFixed(3)} ms, p99 ${c.requestMs[n].p99.toFixed(3)} ms`);
  console.log(`  slope of p50 per decade of moves: ${slope(SIZES, SIZES.map((n) => c.requestMs[n].p50)).join(", ")} ms`);
}

// ---- real kernels ----

function peerPlan(n) {
  const P = Math.max(1, Math.ceil(n / PER_PEER));
  const peers = [];
  for (let i = 0; i < P; i++) {
    const g = Math.floor(i / 6000);
    peers.push({ name: `s${i}.bench`, key: randomBytes(32).toString("hex"), spi: 256, a: `198.19.${g}.1`, b: `198.19.${100 + g}.1`, to: `198.19.${UNVALIDATED ? 150 + g : 100 + g}.1`, base: 1024 + (i % 6000) * PER_PEER });
  }
  const requests = [];
  let left = n;
  for (let i = 0; i < P && left > 0; i++) {
    const p = peers[i];
    const c = Math.min(PER_PEER, left);
    requests.push({ peer: i, moves: Array.from({ length: c }, (_, k) => [p.a, p.base + k, p.to, p.base + k]) });
    left -= c;
  }
  return { peers, requests };
}

async function kernelFigures() {
  const tag = `${process.env.HANDOVER_TAG ?? ""}cbs`;
  cleanStale(tag);
  const topo = new Topology(tag);
  const dir = mkdtempSync(join(tmpdir(), "handover-scale-"));
  try {
    topo.up();
    const addrs = [];
    for (let g = 0; g < 20; g++) addrs.push(`addr add 198.19.${g}.1/32 dev lo`, `addr add 198.19.${100 + g}.1/32 dev lo`, `addr add 198.19.${150 + g}.1/32 dev lo`);
    addrs.push("addr add 198.19.200.1/32 dev lo", "addr add 198.19.201.1/32 dev lo", "addr add 198.19.250.1/32 dev lo");
    topo.ns(topo.r, ["ip", "-batch", "-"], addrs.join("\n") + "\n");
    topo.ns(topo.f, ["ip", "route", "replace", "198.19.0.0/16", "via", "198.18.9.1"]);
    const sock = `/run/handover/${topo.f}.sock`;

    /** Starts F; waits for the event named (or, with log "warn", for its control socket). */
    // HANDOVER_BENCH_PROF=DIR: the restarted daemons and those of the control rate write a CPU profile there (node --cpu-prof).
    const startF = async (config, waitFor = "started", cli = CLI) => {
      writeFileSync(join(dir, "f.json"), JSON.stringify(config));
      rmSync(sock, { force: true });
      const t0 = performance.now();
      const prof = process.env.HANDOVER_BENCH_PROF && (waitFor === "restored" || waitFor === "socket") ? ["--cpu-prof", `--cpu-prof-dir=${process.env.HANDOVER_BENCH_PROF}`] : [];
      const child = topo.spawn(topo.f, [process.execPath, ...prof, cli, "daemon", "--config", join(dir, "f.json")]);
      const events = [];
      lines(child.stderr, (e) => events.push({ ...e, at: performance.now() }));
      if (waitFor === "socket") {
        for (let i = 0; i < 6000 && !existsSync(sock); i++) await sleep(10);
        await sleep(200);
        return { child, events, ms: performance.now() - t0, event: null };
      }
      for (let i = 0; i < 6000 && !events.some((e) => e.event === waitFor); i++) await sleep(10);
      const e = events.find((x) => x.event === waitFor);
      // HANDOVER_BENCH_LOG=FILE: the restarted daemon's log lines up to `restored`, with the ms since its spawn.
      if (process.env.HANDOVER_BENCH_LOG && waitFor === "restored") {
        writeFileSync(process.env.HANDOVER_BENCH_LOG, events.map((x) => JSON.stringify({ ms: Math.round(x.at - t0), ...x })).join("\n") + "\n", { flag: "a" });
      }
      if (!e) throw new Error(`F did not log ${waitFor}: ${JSON.stringify(events.slice(-3))}`);
      return { child, events, ms: e.at - t0, event: e };
    };
    const stopF = async (f, clear = true, signal = "SIGTERM") => {
      const exited = new Promise((r) => f.child.once("exit", r));
      f.child.kill(signal);
      await exited;
      if (clear) topo.ns(topo.f, ["sh", "-c", "nft delete table inet handover 2>/dev/null; true"]);
    };
    const drive = (peers, requests, window, name, firstSequence, warmup) =>
      // HANDOVER_BENCH_PROF: the synthetic peers of the control rate profiled too (they, not F, may be what limits it).
      drivePeers(topo, dir, { peers, requests, window, timeoutMs: 2000, retries: 3, firstSequence, warmup }, name,
        process.env.HANDOVER_BENCH_PROF && name.startsWith("control") ? ["--cpu-prof", `--cpu-prof-dir=${process.env.HANDOVER_BENCH_PROF}`] : []);
    const iperf = async () => {
      const srv = topo.spawn(topo.f, ["iperf3", "-s", "-1", "-B", "198.18.9.2", "-p", "5201"]);
      await sleep(300);
      const out = topo.ns(topo.m, ["iperf3", "-c", "198.18.9.2", "-B", "198.18.1.2", "--cport", "40000", "-p", "5201", "-t", "3", "-J"]);
      await new Promise((r) => (srv.exitCode !== null ? r() : srv.once("exit", r)));
      const end = JSON.parse(out).end;
      // CPU seconds of both iperf3 processes (their syscalls carry the veth and the rules) per GB received
      const cpuS = ((end.cpu_utilization_percent.host_total + end.cpu_utilization_percent.remote_total) / 100) * end.sum_received.seconds;
      cpuPerGB.push(cpuS / (end.sum_received.bytes / 1e9));
      return end.sum_received.bits_per_second / 1e9;
    };
    let cpuPerGB = [];
    const cpuMedian = () => {
      const m = median(cpuPerGB);
      cpuPerGB = [];
      return m;
    };
    const seq = { next: 1 };
    const baseConfig = (peers, extra = {}) => ({
      name: "f.bench",
      listen: ["0.0.0.0"],
      control: sock,
      log: "info",
      register: false,
      options: { maxMovesPerPeer: PER_PEER, maxMoves: Math.max(...SIZES) + 100, sessionIdleMs: 1e9, ...(UNVALIDATED ? { validationTimeoutMs: 1e9 } : {}) },
      peers: peers.map((p) => ({ name: p.name, address: p.a, addresses: [p.b], sa: [{ spi: 256, key: p.key }] })),
      ...extra,
    });

    const bare = [];
    for (let i = 0; i < 3; i++) bare.push(await iperf());
    report.kernel.noTableGbps = median(bare);
    report.kernel.noTableCpuPerGB = cpuMedian();
    console.log(`throughput with no table: ${median(bare).toFixed(2)} Gbit/s (runs ${bare.map((x) => x.toFixed(2)).join(", ")})`);

    for (const n of SIZES) {
      const { peers, requests } = peerPlan(n);
      const probe = { name: "probe.bench", key: randomBytes(32).toString("hex"), spi: 256, a: "198.19.200.1", b: "198.19.201.1" };
      const all = [...peers, probe];
      let f = await startF(baseConfig(all));
      const load = await drive(all, requests, 64, `load${n}`);
      const ok = load.results.filter((r) => r.code === "ACCEPTED").length;
      if (UNVALIDATED) {
        // What carries the quotas: named objects (earlier versions) or the elements of the set rq4.
        const q = topo.try(topo.f, ["sh", "-c", "nft list quotas | grep -c 'quota hq'; nft list set inet handover rq4 2>/dev/null | grep -o 'quota over' | wc -l; true"]);
        console.log(`${String(n).padStart(7)} moves: unvalidated; quota objects, 'quota over' in the listing of rq4 (its declaration and each element's): ${q.out.trim().split("\n").join(", ")}`);
      }
      // The probe: one session back and forth, one request at a time (n + 1 moves while it is away).
      const there = [probe.a, 60000, probe.b, 60000];
      const back = [probe.b, 60000, probe.a, 60000];
      const probes = Array.from({ length: 200 }, (_, i) => ({ peer: all.length - 1, moves: [i % 2 ? back : there] }));
      const mig = await drive(all, probes, 1, `probe${n}`, seq.next);
      seq.next += probes.length + 1;
      let migAB = null;
      if (MIG) {
        const cfg = baseConfig(all);
        const r = await migrationRounds({ f, cli: CLI, startF, stopF, config: cfg, drive: (q, w, name, s, warm) => drive(all, q, w, name, s, warm), probeIndex: all.length - 1, probe, seq }, MIG);
        f = r.f;
        migAB = r.figures;
        printMig(n, migAB);
      }
      let dormant = null;
      if (DORMANT) {
        const d = [];
        for (let i = 0; i < 3; i++) d.push(await iperf());
        dormant = { gbps: median(d), ratio: median(d) / report.kernel.noTableGbps, cpuPerGB: cpuMedian() };
        dormant.cpuRatio = dormant.cpuPerGB / report.kernel.noTableCpuPerGB;
      }
      // (answered at the first attempt: a retransmission's time is the timeout's)
      const ms = mig.results.filter((r) => r.code === "ACCEPTED" && r.attempts === 1).map((r) => r.ms);
      // Throughput: the stream's own packets take the lookups' hit path (identity elements).
      topo.nft(topo.f, "add element inet handover ri4 { tcp . 198.18.1.2 . 40000 : 198.18.1.2 }\nadd element inet handover ro4 { tcp . 198.18.1.2 . 40000 : 198.18.1.2 }\n");
      const runs = [];
      for (let i = 0; i < 3; i++) runs.push(await iperf());
      topo.nft(topo.f, "delete element inet handover ri4 { tcp . 198.18.1.2 . 40000 }\ndelete element inet handover ro4 { tcp . 198.18.1.2 . 40000 }\n");
      // Restart: the elements stay; the new daemon reads them back (after a crash, from the maps).
      const restarts = {};
      let g = f;
      for (const how of RESTARTS) {
        await stopF(g, false, how === "crash" ? "SIGKILL" : "SIGTERM");
        g = await startF(baseConfig(all), "restored");
        restarts[how] = { s: g.ms / 1000, moves: g.event.moves, elements: g.event.elements };
      }
      await stopF(g, true);
      const first = restarts[RESTARTS[0]];
      const row = {
        moves: n,
        loaded: ok * Math.min(PER_PEER, n),
        loadMs: load.elapsedMs,
        migration: { p50: median(ms), p99: pct(ms, 99), n: ms.length },
        gbps: median(runs),
        ratio: median(runs) / report.kernel.noTableGbps,
        restartS: first.s,
        restored: first.moves,
        restoredElements: first.elements,
        restarts,
        cpuPerGB: cpuMedian(),
        migAB,
        dormant,
      };
      row.cpuRatio = row.cpuPerGB / report.kernel.noTableCpuPerGB;
      report.kernel[n] = row;
      console.log(
        `${String(n).padStart(7)} moves: load ${(load.elapsedMs / 1000).toFixed(1)} s (${ok}/${requests.length} requests accepted); ` +
          `migration p50 ${row.migration.p50.toFixed(2)} ms p99 ${row.migration.p99.toFixed(2)} ms; ` +
          `throughput ${row.gbps.toFixed(2)} Gbit/s = ${(row.ratio * 100).toFixed(1)}% of no table; restart ${row.restartS.toFixed(2)} s (${row.restored} moves restored, elements ${row.restoredElements})` +
          (RESTARTS.length > 1 ? `; restarts: ${RESTARTS.map((h) => `${h} ${restarts[h].s.toFixed(2)} s (${restarts[h].moves} moves, ${restarts[h].elements})`).join(", ")}` : ""),
      );
      console.log(`${String(n).padStart(7)} moves: TCP CPU per GB ${row.cpuPerGB.toFixed(3)} s = ${(100 * row.cpuRatio).toFixed(1)}% of no table's ${report.kernel.noTableCpuPerGB.toFixed(3)} s (hit path)` +
        (dormant ? `; dormant table: ${dormant.gbps.toFixed(2)} Gbit/s = ${(100 * dormant.ratio).toFixed(1)}%, CPU per GB ${(100 * dormant.cpuRatio).toFixed(1)}%` : ""));
    }
    if (MIG) printMigGoals(SIZES, Object.fromEntries(SIZES.map((n) => [n, report.kernel[n].migAB])));
    const at = (k) => SIZES.map((n) => report.kernel[n][k]);
    console.log(`slopes per decade of moves: migration p50 ${slope(SIZES, SIZES.map((n) => report.kernel[n].migration.p50)).join(", ")} ms; throughput ratio ${slope(SIZES, at("ratio")).join(", ")}; restart ${slope(SIZES, at("restartS")).join(", ")} s`);
    const m1 = report.kernel[SIZES[0]].migration.p50;
    const mN = report.kernel[SIZES.at(-1)].migration.p50;
    console.log(`goals at ${SIZES.at(-1)}: throughput >= 95% (${(report.kernel[SIZES.at(-1)].ratio * 100).toFixed(1)}%), migration p50 <= 1 ms and <= 2x the 1-move figure (${mN.toFixed(2)} ms, ${(mN / m1).toFixed(2)}x), restart <= 2 s (${report.kernel[SIZES.at(-1)].restartS.toFixed(2)} s)`);

    // Control messages per second with P peers configured: registrations from
    // an address every peer has configured, round-robin over the peers.
    const rates = {};
    const COUNT = 20000;
    for (const P of PEER_SIZES) {
      const peers = Array.from({ length: P }, (_, i) => ({ name: `c${i}.bench`, key: randomBytes(32).toString("hex"), spi: 256, a: "198.19.250.1", b: `198.19.${Math.floor(i / 6000)}.1` }));
      // log "warn": the first registration of each peer is an info event, which would favour the single peer.
      const f = await startF({ ...baseConfig(peers), log: "warn" }, "socket");
      // First each peer that will be asked registers once (a first registration is an event, a renewal is not),
      // then the measured renewals, round-robin over them.
      const active = Math.min(P, COUNT);
      await drive(peers, Array.from({ length: active }, (_, i) => ({ peer: i, type: "REGISTRATION_REQUEST", from: "198.19.250.1" })), 64, `warm${P}`);
      const regs = Array.from({ length: COUNT }, (_, i) => ({ peer: i % active, type: "REGISTRATION_REQUEST", from: "198.19.250.1" }));
      // F's CPU time over the measured renewals (utime + stime of its process; `ip netns exec` execs the
      // daemon, so the child's pid is F's): what a message costs F, whether or not F is what limits the rate.
      const cpu0 = cpuMs(f.child.pid);
      const r = await drive(peers, regs, 64, `control${P}`);
      const fCpuMs = cpuMs(f.child.pid) - cpu0;
      const answered = r.results.filter((x) => x.code === "ACCEPTED").length;
      const resent = r.results.filter((x) => x.attempts > 1).length;
      rates[P] = { perSecond: (answered / r.elapsedMs) * 1000, answered, resent, startS: f.ms / 1000, fCpuUsPerMessage: (fCpuMs * 1000) / COUNT, fBusy: fCpuMs / r.elapsedMs };
      await stopF(f, true);
      console.log(`control messages with ${P} peers configured: ${rates[P].perSecond.toFixed(0)}/s (${answered}/${COUNT} registrations answered, ${resent} resent, 64 in flight; daemon up in ${rates[P].startS.toFixed(1)} s); F's CPU ${rates[P].fCpuUsPerMessage.toFixed(1)} us per message, F busy ${(rates[P].fBusy * 100).toFixed(0)}% of the time`);
    }
    report.kernel.controlRates = rates;
    if (rates[PEER_SIZES[0]] && rates[PEER_SIZES.at(-1)]) {
      console.log(`control rate at ${PEER_SIZES.at(-1)} peers vs ${PEER_SIZES[0]}: ${((rates[PEER_SIZES.at(-1)].perSecond / rates[PEER_SIZES[0]].perSecond) * 100).toFixed(1)}% (goal >= 90%)`);
      console.log(`F's CPU per control message at ${PEER_SIZES.at(-1)} peers vs ${PEER_SIZES[0]}: ${((rates[PEER_SIZES[0]].fCpuUsPerMessage / rates[PEER_SIZES.at(-1)].fCpuUsPerMessage) * 100).toFixed(1)}% of the rate (the inverse ratio of the CPU per message)`);
    }
  } finally {
    cleanStale(tag);
    rmSync(dir, { recursive: true, force: true });
  }
}

coreFigures();
if (KERNEL) await kernelFigures();
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(report, null, 2));
