// SID's loss window (issue 8: "held, not dropped"). Packets that reach the
// target before its release are held in its queue and accepted in order at
// the release (PROTOCOL.md 8.12 "the hold"); packets that reach the node
// after its stop rule are held there until the node has the agent's Transfer
// Reply and then copied on to the agent (branch nodehold, "the hold at the
// node"; before it, they were dropped and TCP retransmitted them).
// This measures, per transfer of demo/sid.ts's TCP stream (records of
// 100 bytes every 2 ms each way, reverse-tunnelled return):
//   - the two windows from the core's events: N's stop rule (N `negotiated`)
//     to the agent's claim (A `bound`; negative: the claim came first), and
//     the claim to T's `released`;
//   - the correspondent's TCP retransmissions during the transfer (nstat
//     TcpRetransSegs in its namespace): the packets the windows cost it;
//   - the longest gap the correspondent saw in the records it received;
//   - handedOn: the packets N's hand-on chain copied on to the agent.
// Usage (root): node bench/sid-loss-window.js [--runs N] [--rtt MS] [--json]
// The machine is shared: the figures are not quiet-machine figures.
import { runSid } from "../dist/demo/sid.js";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] || 5) || 5;
const json = args.includes("--json");
// --rtt MS: demo/sid.ts's delay line on R (every routed path, and the bridged home link with br_netfilter).
const rttMs = args.includes("--rtt") ? Number(args[args.indexOf("--rtt") + 1]) : 0;
const tag = process.env.HANDOVER_TAG ?? "b";

const retrans = (topo) => {
  const out = topo.try(topo.c, ["nstat", "-az", "TcpRetransSegs"]).out;
  const m = /TcpRetransSegs\s+(\d+)/.exec(out);
  return m ? Number(m[1]) : NaN;
};
// N's hand-on chain (PROTOCOL.md 8.12, "the hold at the node"): the packets it copied on to the agent (its
// rule's counter; the chain stands while the binding does). null: no such chain (a build without it).
const handedOn = (topo) => {
  const out = topo.try(topo.n, ["nft", "list", "table", "ip", "hovsid"]).out;
  const m = /counter packets (\d+) bytes \d+ dup to/.exec(out ?? "");
  return m ? Number(m[1]) : null;
};
const sidT = (role, state) => role.events.find((e) => e.sid && e.sid.state === state)?.sid.t;

const rows = [];
for (let i = 0; i < runs; i++) {
  let before = 0, after = 0, windows = null, handed = null;
  const r = await runSid({ tag: `${tag}w${i}`, reverse: true, afterMs: 800, rttMs,
    before: async (s) => { before = retrans(s.topo); },
    during: async (s) => {
      after = retrans(s.topo);
      handed = handedOn(s.topo);
      const n = sidT(s.node, "negotiated"), a = sidT(s.agent, "bound"), t = sidT(s.target, "released");
      windows = { nodeToClaimMs: a - n, claimToReleaseMs: t - a, stopToReleaseMs: t - n };
    } });
  rows.push({ run: i, error: r.error, lost: r.lost, resets: r.resets, digestsEqual: r.digestsEqual, transferMs: r.transferMs,
    maxGapMs: r.correspondent?.maxGapMs ?? null, retransmissions: after - before, handedOn: handed, ...windows });
}
const ok = rows.filter((x) => !x.error);
const median = (k) => {
  const v = ok.map((x) => x[k]).filter((x) => typeof x === "number").sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : null;
};
const summary = { runs, ok: ok.length, median: Object.fromEntries(["nodeToClaimMs", "claimToReleaseMs", "stopToReleaseMs", "retransmissions", "handedOn", "maxGapMs", "transferMs"].map((k) => [k, median(k)])), rows };
if (json) console.log(JSON.stringify(summary, null, 2));
else {
  for (const x of rows) console.log(JSON.stringify(x));
  console.log(`median of ${ok.length}: ${JSON.stringify(summary.median)}`);
}
