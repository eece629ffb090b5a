// The callgrind driver for the binding table's lookups (issue 8): instructions
// and simulated cache misses per lookup, figures the machine's load does not move.
//
//   valgrind --tool=callgrind --cache-sim=yes --D1=49152,12,64 node --no-liftoff --no-wasm-tier-up \
//     --single-threaded bench/sid-lookups-ir.js WASM BINDINGS COUNT SCATTERED MISS
//
// One agent engine with BINDINGS bindings (sidbench_fill, as bench/sid-bindings.js
// makes them; SCATTERED 1: addresses spread over the /64), then COUNT lookups
// (sidbench_lookup; MISS 1: of unbound addresses). Per lookup = (count at
// COUNT = 300,000 - count at COUNT = 100,000) / 200,000: start-up and the fill cancel out.
import { readFileSync } from "node:fs";
import { agent, FILL_HEAP, FILL_VNIS } from "./sid-bindings.js";

const [wasm, n, count, scattered, miss] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), process.argv[5] === "1", Number(process.argv[6] || 0)];
if (!wasm || !(n > 0) || !(count >= 0)) {
  console.error("usage: bench/sid-lookups-ir.js WASM BINDINGS COUNT 0|1 0|1");
  process.exit(2);
}
const { x } = agent(new WebAssembly.Module(readFileSync(wasm)), n, FILL_HEAP | FILL_VNIS, n, scattered);
const r = x.sidbench_lookup(count, 7, miss);
if (r !== (miss ? 0 : count)) throw new Error(`found ${r}`);
