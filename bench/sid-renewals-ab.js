// Renewals delivered per second by two or more cores, alternating in one
// process (issue 8): each WASM gets its own agent of 1,000,000 bindings
// (bench/sid-bindings.js's agent and fill); 12 rounds, in each one batch of
// 20,000 Binding Updates made (not timed), delivered (timed), checked
// applied, then delivered again (timed: refused as replays) per core in turn.
// The first two rounds are warm-up; the median and best of the other ten.
// On a shared machine the cores see the same load, round by round.
//
//   node bench/sid-renewals-ab.js A.wasm B.wasm [...]
import { readFileSync } from "node:fs";
import { agent, FILL_HEAP, FILL_VNIS, START } from "./sid-bindings.js";

const N = 1000000, BATCH = 20000, ROUNDS = 12, WARM = 2;
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: bench/sid-renewals-ab.js A.wasm B.wasm [...]");
  process.exit(2);
}
const agents = files.map((f) => agent(new WebAssembly.Module(readFileSync(f)), N, FILL_HEAP | FILL_VNIS).x);
const t = files.map(() => []), tr = files.map(() => []);
let now = START;
for (let r = 0; r < ROUNDS; r++) {
  now += 1000;
  agents.forEach((x, k) => {
    if (x.sidbench_renewals_make(BATCH, now, 1000 + r) !== BATCH) throw new Error("make");
    let s = performance.now();
    if (x.sidbench_renewals_deliver(now, 0) !== BATCH) throw new Error("deliver");
    t[k].push(BATCH * 1000 / (performance.now() - s));
    if (x.sidbench_renewals_applied(now) !== BATCH) throw new Error("applied");
    s = performance.now();
    if (x.sidbench_renewals_deliver(now, 1) !== BATCH) throw new Error("replay: not all refused");
    tr[k].push(BATCH * 1000 / (performance.now() - s));
  });
}
const med = (a) => a.slice(WARM).sort((p, q) => p - q)[Math.floor((a.length - WARM) / 2)];
const max = (a) => Math.max(...a.slice(WARM));
files.forEach((f, k) => console.log(f.padEnd(36), "renewals/s median", Math.round(med(t[k])), "best", Math.round(max(t[k])), "| replays refused/s median", Math.round(med(tr[k])), "best", Math.round(max(tr[k]))));
