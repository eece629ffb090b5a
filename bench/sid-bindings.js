// SID, the agent's binding table in the core (issue 8, "Figures to measure"):
// bytes per binding, per-packet lookup and renewals verified per second at
// 1,000,000 bindings, each against a baseline measured in the same run.
//
//   node bench/sid-bindings.js [--bindings N] [--table N] [--lookups N] [--renewals N] [--scattered] [--wasm FILE] [--json FILE]
//
// (after `npm run build`; no root, no namespaces). One agent engine
// (sidAgent 1, sidBindings N; --table M makes the table for M bindings, default
// N: a full table) with its home link set; core/assembly/abi/sidbench.ts fills
// it with N bindings (2001:db8::/32, each with its own session key and SPI)
// and the per-binding structures the engine keeps beside it. The addresses are
// consecutive (2001:db8::1, ::2, ...), or with --scattered spread over the /64
// as random interface identifiers would be (the probe lengths of a random hash).
//
//   bytes per binding   growth of linear memory over the fill / N (the table's
//                       112-byte records with a tenth more slots, an expiry-heap
//                       entry, a VNI set entry), and the table alone
//   lookup              BindingTable.find of random bound addresses, ns each;
//                       baselines: one 8-byte load from a random record of the
//                       same memory (a cache miss, no hashing or probing), and
//                       a JavaScript Map<number, object> of N entries
//   renewals            Binding Updates encoded as a target does (PROTOCOL.md
//                       8.11 version 2: sealed under K_up of the binding key
//                       the record keeps, the tag alone authenticates; with
//                       main's core as --wasm: version 1, HMAC-SHA256 too), handed
//                       to the engine (handle_datagram path: verify and open,
//                       replay window, renew, sealed reply); the
//                       encoding is not timed; renewals/s counts only those
//                       the table shows applied. Then the same Binding Updates
//                       again: each authenticated and opened, then refused by
//                       the replay window (the verification alone). Baseline: one HMAC-SHA256 of
//                       the same length through the core's crypto export
//                       (bench_hmac_sha256 over 100 bytes), per second.
//
// Numbers only; goals are printed next to them.
import { readFileSync, writeFileSync } from "node:fs";
import { Core, Engine } from "../dist/hosts/shared/index.js";
import { SidEngine } from "../dist/hosts/shared/sidengine.js";

/** About the length of one Binding Update (header, Transferred Address, Sealed, Lifetime, authenticator). */
const RENEWAL_BYTES = 100;

/** The core to measure: build/handover.wasm, or another build (--wasm FILE, e.g. an older commit's, as the baseline). */
let WASM = new URL("../build/handover.wasm", import.meta.url);
const MODULE = () => new WebAssembly.Module(readFileSync(WASM));
export const FILL_HEAP = 1;
export const FILL_VNIS = 2;
export const START = Date.UTC(2026, 11, 1, 12, 0, 0);

function check(v, what) {
  if (v < 0) throw new Error(`${what}: error ${-v}`);
  return v;
}

/** A fresh agent engine (its own module instance) with n bindings of the given parts; its memory growth. */
export function agent(module, n, parts, limit = n, scattered = false) {
  const core = Core.loadSync(module);
  const engine = new Engine(core);
  engine.seed(new TextEncoder().encode("bench/sid-bindings.js, fixed seed"));
  engine.init("5eedaa000001", START);
  engine.option("sidAgent", 1);
  engine.option("sidBindings", limit);
  new SidEngine(engine).link(2, "02:00:00:00:00:0a", "198.18.1.3");
  // (an older build, --wasm, has consecutive addresses only)
  if (scattered) check(core.x.sidbench_keys(1), "sidbench_keys");
  const before = core.x.memory.buffer.byteLength;
  const t0 = performance.now();
  const tableBytes = check(core.x.sidbench_fill(n, START, parts), "sidbench_fill");
  return { core, x: core.x, tableBytes, grown: core.x.memory.buffer.byteLength - before, fillMs: performance.now() - t0 };
}

export async function bindingFigures({ bindings = 1000000, table = bindings, lookups = 2000000, renewals = 200000, scattered = false, log = () => {} } = {}) {
  const module = MODULE();
  // Memory: the table alone, with the expiry heap, with the VNI set too (each in its own instance).
  const tableOnly = agent(module, bindings, 0, table, scattered).grown;
  const withHeap = agent(module, bindings, FILL_HEAP, table, scattered).grown;
  const a = agent(module, bindings, FILL_HEAP | FILL_VNIS, table, scattered);
  const { core, x, tableBytes, grown, fillMs } = a;
  let now = START;
  log(`filled ${bindings} bindings in ${fillMs.toFixed(0)} ms: memory +${(grown / 1048576).toFixed(1)} MiB (table alone +${(tableOnly / 1048576).toFixed(1)}, with the expiry wheel filed +${(withHeap / 1048576).toFixed(1)}); the table's own pages (records, tags, wheel, VNI bitmap) ${(tableBytes / 1048576).toFixed(1)} MiB`);

  const time = (f, n) => {
    f(Math.min(n, 100000)); // warm-up
    const s = performance.now();
    const r = f(n);
    return { ns: ((performance.now() - s) * 1e6) / n, r };
  };
  const lookup = time((n) => check(x.sidbench_lookup(n, 7, 0), "lookup"), lookups);
  if (lookup.r !== lookups) throw new Error(`lookup found ${lookup.r} of ${lookups} bound addresses`);
  const missLookups = Math.min(lookups, 200000);
  const miss = time((n) => check(x.sidbench_lookup(n, 7, 1), "lookup"), missLookups);
  if (miss.r !== 0) throw new Error(`lookup found ${miss.r} unbound addresses`);
  // (an older build, --wasm, may not have the batched lookup: NaN)
  const hasBatch = typeof x.sidbench_lookup_batch === "function";
  const batched = hasBatch ? time((n) => check(x.sidbench_lookup_batch(n, 7, 0), "lookup_batch"), lookups) : { ns: NaN, r: lookups };
  if (batched.r !== lookups) throw new Error(`batched lookup found ${batched.r} of ${lookups} bound addresses`);
  const batchedMiss = hasBatch ? time((n) => check(x.sidbench_lookup_batch(n, 7, 1), "lookup_batch"), missLookups) : { ns: NaN, r: 0 };
  if (batchedMiss.r !== 0) throw new Error(`batched lookup found ${batchedMiss.r} unbound addresses`);
  const load = time((n) => check(x.sidbench_load(n, 7), "load"), lookups);
  const chase = typeof x.sidbench_chase === "function" ? time((n) => check(x.sidbench_chase(n, 7), "chase"), lookups) : { ns: NaN };
  const map = new Map();
  for (let i = 0; i < bindings; i++) map.set(i + 1, { spi: i, vni: i + 1 });
  let state = 7;
  const mapTime = time((n) => {
    let hits = 0;
    for (let i = 0; i < n; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      if (map.get((state % bindings) + 1) !== undefined) hits++;
    }
    return hits;
  }, lookups);
  log(`lookup ${lookup.ns.toFixed(1)} ns (unbound address ${miss.ns.toFixed(1)} ns); batched (64 a call) ${batched.ns.toFixed(1)} ns (unbound ${batchedMiss.ns.toFixed(1)} ns); random load ${load.ns.toFixed(1)} ns (each waiting for the one before ${chase.ns.toFixed(1)} ns); JS Map ${mapTime.ns.toFixed(1)} ns`);

  // Renewals, in batches: encode (not timed), deliver (timed).
  const BATCH = Math.min(renewals, 20000);
  let deliveredMs = 0;
  let replayedMs = 0;
  let applied = 0;
  let refused = 0;
  let replies = 0;
  let sent = 0;
  let memAtFirstBatch = 0;
  for (let b = 0; sent < renewals; b++) {
    now += 1000;
    const n = Math.min(BATCH, renewals - sent);
    check(x.sidbench_renewals_make(n, now, 1000 + b), "renewals_make");
    // (the first make grows the bench's own pages for the batch: not the agent's)
    if (b === 0) memAtFirstBatch = x.memory.buffer.byteLength;
    let s = performance.now();
    check(x.sidbench_renewals_deliver(now, 0), "renewals_deliver");
    deliveredMs += performance.now() - s;
    replies += x.sidbench_replies();
    applied += check(x.sidbench_renewals_applied(now), "renewals_applied");
    // The same Binding Updates again: authenticated and opened, then refused as replays.
    s = performance.now();
    refused += check(x.sidbench_renewals_deliver(now, 1), "renewals_deliver replay");
    replayedMs += performance.now() - s;
    sent += n;
  }
  const renewalsPerSecond = (applied * 1000) / deliveredMs;
  // Baseline: one HMAC-SHA256 over a message of a renewal's length, through the core.
  const hmacN = Math.min(renewals, 200000);
  const hm = time((n) => check(x.bench_hmac_sha256(n, RENEWAL_BYTES), "bench_hmac_sha256"), hmacN);
  const replaysPerSecond = (refused * 1000) / replayedMs;
  log(`renewals: ${applied} of ${renewals} applied, ${replies} replies, ${Math.round(renewalsPerSecond)}/s; replayed: ${refused} refused, ${Math.round(replaysPerSecond)}/s; one HMAC-SHA256 ${Math.round(1e9 / hm.ns)}/s`);
  const memAfter = x.memory.buffer.byteLength;

  return {
    bindings,
    tableLimit: table,
    bytesPerBinding: grown / bindings,
    memoryPerBinding: { table: tableOnly / bindings, expiryHeap: (withHeap - tableOnly) / bindings, vniSet: (grown - withHeap) / bindings },
    tableRecordBytesPerBinding: tableBytes / bindings,
    fillMs,
    lookupNs: lookup.ns,
    lookupUnboundNs: miss.ns,
    lookupBatchedNs: batched.ns,
    lookupBatchedUnboundNs: batchedMiss.ns,
    lookupBatchedVsSingle: batched.ns / lookup.ns,
    scattered,
    baselines: { randomLoadNs: load.ns, dependentLoadNs: chase.ns, jsMapNs: mapTime.ns, hmacPerSecond: 1e9 / hm.ns },
    lookupVsRandomLoad: lookup.ns / load.ns,
    lookupVsJsMap: lookup.ns / mapTime.ns,
    renewals: { sent: renewals, applied, replies, ms: deliveredMs, perSecond: renewalsPerSecond, vsHmac: renewalsPerSecond / (1e9 / hm.ns) },
    replays: { sent: renewals, refused, ms: replayedMs, perSecond: replaysPerSecond, vsHmac: replaysPerSecond / (1e9 / hm.ns) },
    memoryAfterRenewalsMiB: memAfter / 1048576,
    memoryGrowthDuringRenewalsMiB: (memAfter - memAtFirstBatch) / 1048576,
    goals: { bytesPerBinding: 128, lookupNs: 100, renewalsPerSecond: 500000 },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const json = args.includes("--json") ? args[args.indexOf("--json") + 1] : "";
  if (args.includes("--wasm")) WASM = args[args.indexOf("--wasm") + 1];
  const r = await bindingFigures({ bindings: opt("bindings", 1000000), table: opt("table", opt("bindings", 1000000)), lookups: opt("lookups", 2000000), renewals: opt("renewals", 200000), scattered: args.includes("--scattered"), log: (s) => console.error(s) });
  console.log(JSON.stringify(r, null, 2));
  if (json) writeFileSync(json, JSON.stringify(r, null, 2) + "\n");
}
