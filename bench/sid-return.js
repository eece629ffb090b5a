// SID's UDP return (issue 8, PROTOCOL.md 8.6): demo/sid.ts's session (TCP
// stream and UDP flow, reverse-tunnelled) goes N -> T and back to N; per run
// the UDP flow's datagrams lost (sent by one end, never received by the
// other), duplicated and late, and the TCP stream's verdict.
// With --same-subnet: the same-subnet return (PROTOCOL.md 8.7, no agent): the
// target on the home link gives the session back to the node itself.
// Usage (root): HANDOVER_TAG=x node bench/sid-return.js [--runs N] [--same-subnet] [--json]
// The machine is shared: the timings are not quiet-machine figures.
import { readFileSync } from "node:fs";
import { runSid } from "../dist/demo/sid.js";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] || 10) || 10;
const json = args.includes("--json");
const sameSubnet = args.includes("--same-subnet");
const loadavg = () => readFileSync("/proc/loadavg", "utf8").trim();
const tag = process.env.HANDOVER_TAG ?? "b";

const rows = [];
const loadavgBefore = loadavg();
for (let i = 0; i < runs; i++) {
  const r = await runSid({ tag: `${tag}r${i % 10}`, reverse: !sameSubnet, sameSubnet, back: true, udp: true, afterMs: 800 });
  const u = r.udp ?? {};
  const row = { run: i, error: r.error, udpLost: u.lost ?? null, udpDuplicates: u.duplicates ?? null, udpLate: u.late ?? null, udpMaxGapMs: u.maxGapMs ?? null, tcpLost: r.lost, tcpResets: r.resets, tcpDigestsEqual: r.digestsEqual, returned: r.chained?.result?.state ?? null };
  rows.push(row);
  if (!json) console.log(JSON.stringify(row));
}
const ok = rows.filter((r) => !r.error && r.udpLost !== null);
const sum = (k) => ok.reduce((s, r) => s + r[k], 0);
const summary = { mode: sameSubnet ? "same-subnet" : "agent, reverse-tunnelled", loadavgBefore, loadavgAfter: loadavg(), runs, completed: ok.length, errors: rows.filter((r) => r.error).map((r) => r.error), udpLostTotal: sum("udpLost"), udpLostMin: Math.min(...ok.map((r) => r.udpLost)), udpLostMax: Math.max(...ok.map((r) => r.udpLost)), runsWithLoss: ok.filter((r) => r.udpLost > 0).length, udpDuplicatesTotal: sum("udpDuplicates"), tcpLostTotal: sum("tcpLost"), tcpResetsTotal: sum("tcpResets") };
console.log(json ? JSON.stringify({ rows, summary }) : JSON.stringify(summary));
