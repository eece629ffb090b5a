// SID's figures (issue 8, "Figures to measure"), each a ratio against a
// baseline measured in the same run:
//
//   sudo node bench/sid.js [--quick] [--figures transfer,tunnel,bindings]
//                          [--transfers N] [--rtts 1,50] [--seconds S] [--rounds N]
//                          [--bindings N] [--lookups N] [--renewals N] [--json FILE]
//
// (after `npm run build`; transfer and tunnel need root: they make network
// namespaces hov-<HANDOVER_TAG>s{b,c,t}-*, removed at the start and the end).
//
//   transfer  bench/sid-transfer.js: N SID transfers per RTT (default 50 at
//             ~1 and 50 ms), transfer time (decision to the first correspondent
//             byte at the target) and the correspondent's longest gap, p50/p99,
//             bytes lost, resets; baseline: the application closes and
//             reconnects from the target. Goal: <= 1 RTT + 10 ms, 0 lost, 0 resets.
//   tunnel    bench/sid-tunnel.js: one TCP stream C -> transferred address
//             through the agent's tunnel against plain forwarding C -> T;
//             packets per second per core. Goal: >= 50% of plain.
//   bindings  bench/sid-bindings.js: the agent's binding table in the core at
//             1,000,000 bindings: bytes per binding, lookup (against a random
//             load and a JS Map), renewals verified per second (against one
//             HMAC-SHA256). Goals: <= 128 B, <= 100 ns, >= 500,000/s.
//
// --quick: 3 transfers at ~1 ms RTT, one 1 s tunnel round, 20,000 bindings
// (the test test/bench-sid.test.js runs it). Numbers only: nothing here
// asserts a figure; goals are printed next to them. --json FILE writes every
// figure and sample.
import { writeFileSync } from "node:fs";
import { transferFigures } from "./sid-transfer.js";
import { tunnelFigures } from "./sid-tunnel.js";
import { bindingFigures } from "./sid-bindings.js";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const QUICK = args.includes("--quick");
const FIGURES = opt("figures", "transfer,tunnel,bindings").split(",");
const TRANSFERS = Number(opt("transfers", QUICK ? "3" : "50"));
const RTTS = opt("rtts", QUICK ? "1" : "1,50").split(",").map(Number);
const SECONDS = Number(opt("seconds", QUICK ? "1" : "4"));
const ROUNDS = Number(opt("rounds", QUICK ? "1" : "3"));
const BINDINGS = Number(opt("bindings", QUICK ? "20000" : "1000000"));
const LOOKUPS = Number(opt("lookups", QUICK ? "200000" : "4000000"));
const RENEWALS = Number(opt("renewals", QUICK ? "5000" : "200000"));
const JSON_OUT = opt("json", "");
const log = (s) => process.stderr.write(s + "\n");

for (const f of FIGURES) if (!["transfer", "tunnel", "bindings"].includes(f)) throw new Error(`unknown figure '${f}' (transfer, tunnel, bindings)`);
for (const r of RTTS) if (r !== 1 && r !== 50) throw new Error(`--rtts: 1 or 50, not ${r}`);
if (!(TRANSFERS > 0) || !(SECONDS > 0) || !(ROUNDS > 0) || !(BINDINGS > 0) || !(LOOKUPS > 0) || !(RENEWALS > 0)) throw new Error("counts must be positive");
if ((FIGURES.includes("transfer") || FIGURES.includes("tunnel")) && process.getuid?.() !== 0) throw new Error("the transfer and tunnel figures need root (network namespaces); --figures bindings runs without");

const fmt = (v, d = 1) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(d) : "-");
const met = (ok) => (ok ? "met" : "MISSED");
const result = { quick: QUICK, startedAt: new Date().toISOString(), figures: {} };
const t0 = performance.now();

if (FIGURES.includes("bindings")) {
  log(`bindings: ${BINDINGS} in the agent's table`);
  const b = await bindingFigures({ bindings: BINDINGS, lookups: LOOKUPS, renewals: RENEWALS, log });
  result.figures.bindings = b;
}
if (FIGURES.includes("tunnel")) {
  log(`tunnel: ${ROUNDS} rounds x ${SECONDS} s`);
  result.figures.tunnel = await tunnelFigures({ seconds: SECONDS, rounds: ROUNDS, log });
}
if (FIGURES.includes("transfer")) {
  log(`transfer: ${TRANSFERS} per RTT at ${RTTS.join(", ")} ms`);
  result.figures.transfer = await transferFigures({ rtts: RTTS, transfers: TRANSFERS, log });
}
result.seconds = (performance.now() - t0) / 1000;

const p = (s) => console.log(s);
p(`SID figures (${QUICK ? "quick" : "full"} run, ${result.seconds.toFixed(0)} s)`);
const T = result.figures.transfer;
if (T) {
  p("");
  p("transfer (the application's decision at N -> first correspondent byte at the target) and the correspondent's longest gap, ms:");
  p("RTT ms  system     n   failed  transfer p50  p99     gap p50  p99     lost B  resets  SID / reconnect (p50, p99)   goal p50 <= RTT + 10");
  for (const c of T) {
    const rtt = c.sid.rtts?.correspondentNode ?? c.rtt;
    for (const [name, s] of [["SID", c.sid], ["reconnect", c.reconnect]]) {
      const ratio = name === "SID" ? `transfer ${fmt(c.ratio.transferP50, 2)}x ${fmt(c.ratio.transferP99, 2)}x, gap ${fmt(c.ratio.gapP50, 2)}x ${fmt(c.ratio.gapP99, 2)}x` : "";
      const goal = name === "SID" ? `<= ${fmt(c.goalMs)}: ${met(s.transferMs.p50 !== null && s.transferMs.p50 <= c.goalMs && s.lost === 0 && s.resets === 0)}` : "";
      p(`${fmt(rtt).padEnd(6)}  ${name.padEnd(9)}  ${String(s.n).padEnd(3)} ${String(s.failed).padEnd(6)}  ${fmt(s.transferMs.p50).padStart(12)}  ${fmt(s.transferMs.p99).padEnd(6)}  ${fmt(s.gapMs.p50).padStart(7)}  ${fmt(s.gapMs.p99).padEnd(6)}  ${String(s.lost).padStart(6)}  ${String(s.resets).padStart(6)}  ${ratio.padEnd(27)}  ${goal}`);
    }
    const ph = Object.entries(c.sid.phasesP50 ?? {}).map(([k, v]) => `${k} ${fmt(v)}`).join(", ");
    if (ph) p(`        SID, medians after the decision (ms): ${ph}`);
    p(`        the harness's command to the application before its decision (not counted), p50: SID ${fmt(c.sid.commandMsP50, 2)} ms, reconnect ${fmt(c.reconnect.commandMsP50, 2)} ms`);
    if (c.sid.rtts) p(`        ping p50 (SID run): C -> N ${fmt(c.sid.rtts.correspondentNode, 2)} ms, N -> A ${fmt(c.sid.rtts.nodeAgent, 2)} ms, N -> T ${fmt(c.sid.rtts.nodeTarget, 2)} ms`);
    for (const e of [...c.sid.errors, ...c.reconnect.errors]) p(`        failure: ${e}`);
  }
}
const U = result.figures.tunnel;
if (U) {
  p("");
  p(`tunnel: one TCP stream (iperf3), median of ${U.rounds} rounds x ${U.seconds} s:`);
  for (const [name, c] of [["plain forwarding C -> T", U.plain], [`SID tunnel C -> X (${U.vxlanDevice})`, U.sid]]) {
    p(`  ${name.padEnd(34)} ${fmt(c.gbitPerSecond, 3)} Gbit/s  ${Math.round(c.packetsPerSecond)} device packets/s (${Math.round(c.packetsPerSecondPerCore)} per iperf3 core, ${Math.round(c.packetsPerSecondPerMachineCore)} per busy machine core)  ${Math.round(c.segmentsPerSecond)} segments/s of ${c.mss} B (${Math.round(c.segmentsPerSecondPerCore)} per core)`);
  }
  p(`  SID / plain ${fmt(100 * U.ratioToPlain)}% (rounds: ${U.perRoundRatios.map((r) => fmt(100 * r)).join(", ")}%); goal >= 50%: ${met(U.ratioToPlain >= U.goal)}; the transferred session survived the bench: ${U.sessionSurvived}`);
}
const B = result.figures.bindings;
if (B) {
  p("");
  p(`binding table at ${B.bindings} bindings (core, one engine):`);
  p(`  bytes per binding ${fmt(B.bytesPerBinding)} (linear memory growth: table ${fmt(B.memoryPerBinding.table)}, filed in the expiry wheel ${fmt(B.memoryPerBinding.expiryHeap)}, VNI set ${fmt(B.memoryPerBinding.vniSet)}; the table's own pages ${fmt(B.tableRecordBytesPerBinding)}; growth during the renewals ${fmt(B.memoryGrowthDuringRenewalsMiB)} MiB); goal <= 128: ${met(B.bytesPerBinding <= 128)}`);
  p(`  lookup ${fmt(B.lookupNs)} ns (unbound address ${fmt(B.lookupUnboundNs)} ns; 64 a call ${fmt(B.lookupBatchedNs)} ns, unbound ${fmt(B.lookupBatchedUnboundNs)} ns); random 8-byte load ${fmt(B.baselines.randomLoadNs)} ns (${fmt(B.lookupVsRandomLoad, 2)}x), JS Map ${fmt(B.baselines.jsMapNs)} ns (${fmt(B.lookupVsJsMap, 2)}x); goal <= 100 ns: ${met(Math.min(B.lookupNs, B.lookupBatchedNs) <= 100)}`);
  p(`  renewals ${Math.round(B.renewals.perSecond)}/s (${B.renewals.applied} of ${B.renewals.sent} applied, ${B.renewals.replies} replies); the same again, authenticated, opened and refused as replays ${Math.round(B.replays.perSecond)}/s (${B.replays.refused} refused); one HMAC-SHA256 ${Math.round(B.baselines.hmacPerSecond)}/s (${fmt(B.renewals.vsHmac, 3)}x); goal >= 500000/s: ${met(B.renewals.perSecond >= 500000)}`);
}
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(result, null, 2) + "\n");
