// SID's agent at scale (issue 8, "Figures to measure"): the binding table at
// 1,000,000 bindings (bytes per binding, lookup time, hits and misses), and
// the cost of verifying a renewal (a sealed Binding Update: decode, the
// binding's lookup, HMAC-SHA256, ChaCha20-Poly1305), in the core, no kernel.
//
//   node bench/sid.js [--bindings N] [--renewals N]
//
// (after `npm run build`; also `deno run -A` or `bun`). On a shared machine
// the times are those of that machine at that moment, not of a quiet one.
import { trio, hostsDeliver } from "../test/_sidsim.js";

const args = process.argv.slice(2);
let bindings = 1000000;
let renewals = 100000;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--bindings") bindings = Number(args[++i]);
  else if (args[i] === "--renewals") renewals = Number(args[++i]);
}
if (!(bindings > 0) || !(renewals > 0)) {
  console.error("usage: node bench/sid.js [--bindings N] [--renewals N]: N a positive number");
  process.exit(2);
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
