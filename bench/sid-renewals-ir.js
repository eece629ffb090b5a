// The callgrind driver for the agent's renewal path (issue 8): instructions
// per renewal, a figure the machine's load does not move.
//
//   valgrind --tool=callgrind node --no-liftoff --no-wasm-tier-up --single-threaded \
//     bench/sid-renewals-ir.js WASM BINDINGS BATCHES [deliver|replay|none]
//
// One agent engine with BINDINGS bindings (sidbench_fill, as
// bench/sid-bindings.js makes them); then BATCHES batches of 10,000 Binding
// Updates: sidbench_renewals_make, then (deliver) sidbench_renewals_deliver,
// (replay) deliver and the same batch again (refused as replays), (none)
// nothing, and sidbench_renewals_applied. Ir per renewal = (Ir at BATCHES = 3
// - Ir at BATCHES = 1) / 20,000: start-up and the fill cancel out; "none"
// gives make and applied alone, to subtract.
import { readFileSync } from "node:fs";
import { agent, FILL_HEAP, FILL_VNIS, START } from "./sid-bindings.js";

const [wasm, bindings, batches, mode = "deliver"] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), process.argv[5]];
if (!wasm || !(bindings > 0) || !(batches > 0) || !["deliver", "replay", "none"].includes(mode)) {
  console.error("usage: bench/sid-renewals-ir.js WASM BINDINGS BATCHES [deliver|replay|none]");
  process.exit(2);
}
const BATCH = 10000;
// (filled as bench/sid-bindings.js fills the agent it measures)
const { x } = agent(new WebAssembly.Module(readFileSync(wasm)), bindings, FILL_HEAP | FILL_VNIS);
const check = (v, what, want) => {
  if (v !== want) throw new Error(`${what}: ${v}, not ${want}`);
};
let now = START;
for (let b = 0; b < batches; b++) {
  now += 1000;
  check(x.sidbench_renewals_make(BATCH, now, 1000 + b), "renewals_make", BATCH);
  if (mode !== "none") check(x.sidbench_renewals_deliver(now, 0), "renewals_deliver", BATCH);
  if (mode === "replay") check(x.sidbench_renewals_deliver(now, 1), "renewals_deliver replay", BATCH);
  check(x.sidbench_renewals_applied(now), "renewals_applied", mode === "none" ? 0 : BATCH);
}
