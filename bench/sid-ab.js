// SID's agent at scale (issue 8, "Figures to measure"): the binding table at
// 1,000,000 bindings (bytes per binding, lookup time, hits and misses), and
// the cost of verifying a renewal (a sealed Binding Update: decode, the
// binding's lookup, its Sealed tag under the binding key, PROTOCOL.md 8.11 v2; main's core: HMAC-SHA256 too), in the core, no kernel.
//
//   node bench/sid-ab.js [--bindings N] [--renewals N] [--against OLD.wasm [--rounds N]]
//
// (after `npm run build`; also `deno run -A` or `bun`). With --against, the
// same figures for another build of the core (an older commit's
// build/handover.wasm) and this one, alternating, in N rounds (default 3) of
// one process each, so that both see the same machine; then the medians side
// by side. On a shared machine the times are those of that machine at that
// moment, not of a quiet one.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { trio, hostsDeliver } from "../test/_sidsim.js";
import { Core } from "../dist/hosts/shared/index.js";

const args = process.argv.slice(2);
let bindings = 1000000;
let renewals = 100000;
let against = "";
let rounds = 3;
let json = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--bindings") bindings = Number(args[++i]);
  else if (args[i] === "--renewals") renewals = Number(args[++i]);
  else if (args[i] === "--against") against = args[++i];
  else if (args[i] === "--rounds") rounds = Number(args[++i]);
  else if (args[i] === "--json") json = true;
}
if (!(bindings > 0) || !(renewals > 0) || !(rounds > 0)) {
  console.error("usage: node bench/sid-ab.js [--bindings N] [--renewals N] [--against OLD.wasm [--rounds N]]: N a positive number");
  process.exit(2);
}

if (against) {
  const self = fileURLToPath(import.meta.url);
  const runs = { before: [], after: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [label, wasm] of [["before", against], ["after", ""]]) {
      const env = { ...process.env };
      if (wasm) env.HANDOVER_WASM = wasm;
      else delete env.HANDOVER_WASM;
      const out = spawnSync(process.execPath, [self, "--bindings", String(bindings), "--renewals", String(renewals), "--json"], { env, encoding: "utf8" });
      if (out.status !== 0) throw new Error(`${label}: ${out.stderr}`);
      const fig = JSON.parse(out.stdout.trim().split("\n").at(-1));
      runs[label].push(fig);
      console.log(`round ${r + 1} ${label.padEnd(6)}: ${fig.bytesPerBinding.toFixed(1)} B per binding, hit ${fig.hitNs.toFixed(0)} ns, miss ${fig.missNs.toFixed(0)} ns, ${Math.round(fig.renewalsPerSecond)} renewals/s`);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  // The two tables in one process as well, lookups alternating between them (2,000,000 or more each).
  const instance = (file) => Core.loadSync(new WebAssembly.Module(readFileSync(file))).x;
  const tables = { before: instance(against), after: instance(fileURLToPath(new URL("../build/handover.wasm", import.meta.url))) };
  const many = Math.max(bindings, 2000000);
  for (const x of Object.values(tables)) if (x.sid_bindings_fill(bindings, bindings) !== bindings) throw new Error("fill");
  const lookupNs = (x, first) => {
    const t0 = performance.now();
    const found = x.sid_bindings_lookup(first, many, bindings);
    if (found !== (first === 0 ? many : 0)) throw new Error(`lookups found ${found}`);
    return ((performance.now() - t0) * 1e6) / many;
  };
  const inProcess = { before: { hit: [], miss: [] }, after: { hit: [], miss: [] } };
  for (let r = 0; r < rounds; r++) {
    for (const label of ["before", "after"]) {
      inProcess[label].hit.push(lookupNs(tables[label], 0));
      inProcess[label].miss.push(lookupNs(tables[label], bindings));
    }
  }
  for (const label of ["before", "after"]) {
    const f = inProcess[label];
    console.log(`one process, ${label.padEnd(6)}: hit ${f.hit.map((v) => v.toFixed(0)).join(" ")} ns, miss ${f.miss.map((v) => v.toFixed(0)).join(" ")} ns`);
  }
  const ratio = (key) => (median(inProcess.after[key]) / median(inProcess.before[key])).toFixed(2);
  console.log(`one process, medians: hit ${median(inProcess.before.hit).toFixed(0)} -> ${median(inProcess.after.hit).toFixed(0)} ns (${ratio("hit")}), miss ${median(inProcess.before.miss).toFixed(0)} -> ${median(inProcess.after.miss).toFixed(0)} ns (${ratio("miss")})`);
  delete tables.before;
  delete tables.after;
  const row = (name, key, digits) => {
    const b = median(runs.before.map((f) => f[key]));
    const a = median(runs.after.map((f) => f[key]));
    console.log(`${name.padEnd(22)} before ${b.toFixed(digits).padStart(9)}  after ${a.toFixed(digits).padStart(9)}  (after/before ${(a / b).toFixed(2)})`);
  };
  console.log(`medians of ${rounds} rounds, ${bindings} bindings:`);
  row("bytes per binding", "bytesPerBinding", 1);
  row("lookup hit, ns", "hitNs", 0);
  row("lookup miss, ns", "missNs", 0);
  row("renewals per second", "renewalsPerSecond", 0);
  process.exit(0);
}

const s = trio();
const x = s.agent.engine.core.x;
const now = () => performance.now();

let t = now();
const added = x.sid_bindings_fill(bindings, bindings);
const fillMs = now() - t;
if (added !== bindings) throw new Error(`only ${added} of ${bindings} bindings went in`);
const bytes = x.sid_bindings_size(0);
t = now();
const hits = x.sid_bindings_lookup(0, bindings, bindings);
const hitNs = ((now() - t) * 1e6) / bindings;
t = now();
const misses = x.sid_bindings_lookup(bindings, bindings, bindings);
const missNs = ((now() - t) * 1e6) / bindings;
if (hits !== bindings || misses !== 0) throw new Error(`lookups: ${hits} hits, ${misses} false hits`);
console.log(`binding table: ${bindings} bindings, ${(bytes / bindings).toFixed(1)} B per binding (${(bytes / 2 ** 20).toFixed(1)} MiB), filled in ${fillMs.toFixed(0)} ms`);
console.log(`lookup: ${hitNs.toFixed(1)} ns per hit, ${missNs.toFixed(1)} ns per miss (goal <= 100 ns)`);

// A binding, then one of its target's Binding Updates handed to the agent again and again:
// each time it is decoded, its binding found, authenticated and opened before the reply
// cache answers it (a retransmission changes nothing), which is the work of verifying a renewal.
s.tn.sid.transfer(s.net.now, s.TA, s.tnTarget, { agent: s.tnAgent, lifetime: 600 });
s.tn.pump();
hostsDeliver(s);
s.net.run(2000);
const bu = s.net.sent.filter((d) => d.from === "target" && d.data[1] === 20).at(-1).data;
const engine = s.agent.engine;
t = now();
for (let i = 0; i < renewals; i++) {
  engine.datagram(s.net.now, "198.19.0.20", 4346, bu);
  for (let o; (o = engine.poll()); );
}
const perS = renewals / ((now() - t) / 1000);
const st = engine.state(s.net.now).counters;
if (st.duplicates < renewals) throw new Error(`only ${st.duplicates} of ${renewals} renewals verified as retransmissions`);
console.log(`renewals verified: ${Math.round(perS)} per second, one core (goal >= 500000)`);
if (json) console.log(JSON.stringify({ bindings, bytesPerBinding: bytes / bindings, hitNs, missNs, renewalsPerSecond: perS }));
