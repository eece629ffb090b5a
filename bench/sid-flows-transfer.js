// Issue 9, "Figures to measure": the transfer time of one session while the
// others stay (per-flow mode, the Session Agent: runSidFlows, the code
// `handover demo sid-flows` runs) against the transfer of the node's whole
// address (FIG. 1: runSid, the code `handover demo sid` runs), alternating in
// one run on the same machine, so the ratio is taken under the same load.
// Real kernels, throwaway namespaces (root). transfer ms = the decision to the
// first correspondent byte delivered to the target's application (both
// reports' transferMs). No delay line: the link RTT is the namespaces' own
// (well under 1 ms).
//
//   sudo HANDOVER_TAG=x node bench/sid-flows-transfer.js [--runs N] [--json FILE]
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runSid } from "../dist/demo/sid.js";
import { runSidFlows } from "../dist/demo/sidflows.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "10" }, json: { type: "string" } } });
const RUNS = Number(values.runs);
const TAG = process.env.HANDOVER_TAG ?? "";

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : null;
};

const rows = { flow: [], address: [] };
const faults = { flow: { failed: 0, lost: 0, resets: 0 }, address: { failed: 0, lost: 0, resets: 0 } };
for (let i = 0; i < RUNS; i++) {
  // Per-flow: one TCP session of five moves; the others must stay intact too.
  const f = await runSidFlows({ tag: `${TAG}ft` });
  if (f.error || f.transferMs === null) faults.flow.failed++;
  else rows.flow.push(f.transferMs);
  for (const s of f.sessions) {
    faults.flow.lost += s.lost;
    faults.flow.resets += s.resets;
  }
  // The whole address (FIG. 1), reverse-tunnelled return.
  const a = await runSid({ tag: `${TAG}at`, reverse: true });
  if (a.error || a.transferMs === null) faults.address.failed++;
  else rows.address.push(a.transferMs);
  faults.address.lost += a.lost;
  faults.address.resets += a.resets;
  console.error(`run ${i + 1}/${RUNS}: one flow ${f.transferMs ?? "-"} ms, whole address ${a.transferMs ?? "-"} ms`);
}

const figure = (xs) => ({ n: xs.length, p50: pct(xs, 50), p99: pct(xs, 99) });
const out = { runs: RUNS, flow: { ...figure(rows.flow), ...faults.flow }, address: { ...figure(rows.address), ...faults.address } };
out.ratioP50 = out.flow.p50 !== null && out.address.p50 ? out.flow.p50 / out.address.p50 : null;
console.log("| transfer | n | p50 ms | p99 ms | failed | lost | resets |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const [name, r] of [["one session of five (per-flow, FIG. 3)", out.flow], ["the node's whole address (FIG. 1)", out.address]]) {
  console.log(`| ${name} | ${r.n} | ${r.p50?.toFixed(1) ?? "-"} | ${r.p99?.toFixed(1) ?? "-"} | ${r.failed} | ${r.lost} | ${r.resets} |`);
}
console.log(`one session / whole address, p50: ${out.ratioP50 === null ? "-" : `${(out.ratioP50 * 100).toFixed(0)}%`}`);
if (values.json) writeFileSync(values.json, JSON.stringify(out, null, 2));
