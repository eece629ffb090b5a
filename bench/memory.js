// The core's memory under long steady loads (issue 7, item 6), on the
// simulated pair (test/_sim.js, virtual clock; no kernel, no sockets):
//
//   node bench/memory.js [--units N] [--warmup N] [load ...]
//
// (after `npm run build`; also `deno run -A` or `bun`). For each load of
// test/_load.js (default: all; names as printed, e.g. "junk, debug") it runs
// the warm-up (default 1,000 units), then N units (default 100,000), and
// prints each engine's linear memory in 64 KiB pages before and after, the
// growth per unit in bytes, and the time per unit. Flat memory prints a growth
// of 0; the resolution is one page over N units.
//
//   node bench/memory.js --tables [--moves N]
//
// instead measures what the fixed end's tables hold: bytes of the core's
// memory per configured peer and per move, with N moves (default 100,000)
// from N/10 peers (bench/_tables.js; bench/scale.js prints the same).
import { LOADS, measure } from "../test/_load.js";
import { coreTables } from "./_tables.js";

const args = process.argv.slice(2);
if (args.includes("--tables")) {
  const i = args.indexOf("--moves");
  const n = i >= 0 ? Number(args[i + 1]) : 100000;
  const t = coreTables([n]);
  console.log(`${t.peers} peers: ${t.bytesPerPeer.toFixed(0)} B per peer (growth/peers ${t.bytesPerPeerBound.toFixed(0)}); ${t.moves} moves: ${t.bytesPerMove.toFixed(0)} B per move (growth/moves ${t.bytesPerMoveBound.toFixed(0)}); goal <= 512 B each`);
  process.exit(0);
}
let units = 100000;
let warmup = 1000;
const names = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--units") units = Number(args[++i]);
  else if (args[i] === "--warmup") warmup = Number(args[++i]);
  else names.push(args[i]);
}
if (!(units > 0) || !(warmup >= 0)) {
  console.error("usage: node bench/memory.js [--units N] [--warmup N] [load ...]: N a positive number");
  process.exit(2);
}
for (const n of names) {
  if (!LOADS[n]) {
    console.error(`unknown load '${n}': use one of ${Object.keys(LOADS).map((k) => `"${k}"`).join(", ")}`);
    process.exit(2);
  }
}

console.log(`${units} units per load after ${warmup} of warm-up; resolution ${(65536 / units).toFixed(2)} B/unit`);
console.log("load                 node        pages before -> after   growth B/unit   us/unit");
let grew = false;
let missed = 0;
for (const name of names.length ? names : Object.keys(LOADS)) {
  const r = measure(name, warmup, units);
  missed += r.missed;
  r.names.forEach((node, k) => {
    const growth = ((r.after[k] - r.before[k]) * 65536) / units;
    if (growth > 0) grew = true;
    console.log(
      `${name.padEnd(20)} ${node.padEnd(11)} ${String(r.before[k]).padStart(6)} -> ${String(r.after[k]).padEnd(6)}       ${growth.toFixed(2).padStart(8)}   ${((r.ms * 1000) / units).toFixed(1).padStart(7)}`,
    );
  });
  if (r.missed) console.log(`${name}: ${r.missed} units missed their effect (the load is not doing what it should)`);
}
console.log(grew ? "memory GREW under a steady load" : "memory flat under every load");
if (grew || missed) process.exitCode = 1;
