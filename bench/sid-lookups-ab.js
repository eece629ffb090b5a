// Binding-table lookups of two or more cores, alternating in one process
// (issue 8): each WASM gets its own agent of 1,000,000 bindings
// (bench/sid-bindings.js's agent and fill), then ROUNDS rounds (default 7),
// in each per core in turn: 500,000 lookups of bound addresses, 300,000 of
// unbound ones, 300,000 dependent loads (sidbench_chase); the median of the
// rounds after the first. The cores see the same load, round by round.
//
//   node bench/sid-lookups-ab.js SCATTERED A.wasm B.wasm [...]
//
// SCATTERED 1: addresses spread over the /64 (sidbench_keys 1), 0: consecutive.
// Both cores need sidbench_keys and sidbench_chase (branch sidperf on).
import { readFileSync } from "node:fs";
import { agent, FILL_HEAP, FILL_VNIS } from "./sid-bindings.js";

const scattered = process.argv[2] === "1";
const files = process.argv.slice(3);
if (!["0", "1"].includes(process.argv[2]) || files.length === 0) {
  console.error("usage: bench/sid-lookups-ab.js 0|1 A.wasm B.wasm [...]");
  process.exit(2);
}
const N = 1000000, ROUNDS = Number(process.env.ROUNDS || 7);
const xs = files.map((f) => agent(new WebAssembly.Module(readFileSync(f)), N, FILL_HEAP | FILL_VNIS, N, scattered).x);
const res = files.map(() => ({ hit: [], miss: [], chase: [] }));
const t = (f, n) => {
  const s = performance.now();
  f(n);
  return ((performance.now() - s) * 1e6) / n;
};
for (let r = 0; r < ROUNDS; r++) {
  xs.forEach((x, k) => {
    res[k].hit.push(t((n) => { if (x.sidbench_lookup(n, 7 + r, 0) !== n) throw new Error("a bound address not found"); }, 500000));
    res[k].miss.push(t((n) => { if (x.sidbench_lookup(n, 7 + r, 1) !== 0) throw new Error("an unbound address found"); }, 300000));
    res[k].chase.push(t((n) => x.sidbench_chase(n, 7 + r), 300000));
  });
}
const med = (a) => {
  const b = a.slice(1).sort((p, q) => p - q);
  return b[Math.floor(b.length / 2)].toFixed(1);
};
console.log("load", readFileSync("/proc/loadavg", "utf8").trim(), "scattered", scattered);
files.forEach((f, k) => console.log(f.padEnd(22), "ns: bound", med(res[k].hit), "unbound", med(res[k].miss), "dependent load", med(res[k].chase), "(rounds bound", res[k].hit.map((v) => v.toFixed(0)).join(" "), "| unbound", res[k].miss.map((v) => v.toFixed(0)).join(" "), ")"));
