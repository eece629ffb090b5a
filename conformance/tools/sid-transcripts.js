#!/usr/bin/env node
// Generates conformance/vectors/sid-transcripts.json: whole SID exchanges
// (docs/PROTOCOL.md section 8) between the transferring node, the agent and
// the target, recorded from THE CORE (build/handover.wasm), one test per node,
// in the format of stem-transcripts (conformance/tools/transcript.js) with
// SID's inputs (sidTransfer, sidStop, sidStateDelivered, sidStateReceived,
// sidSessionEnded), the node's home link (`node.sid`) and frame outputs.
// Like the STEM transcripts they pin the core's behaviour: another port
// replays them to check its state machines, and a change shows as a diff.
//
//   npm run conformance:transcripts         (builds, then runs this and transcripts.js)
//   node conformance/tools/sid-transcripts.js [--out DIR] [--check]
//
// The network is transcripts.js's (a fixed 5 ms delay, kernel actions
// answered at once) plus the home link: a frame that carries UDP (the
// Wake-up) goes to the node whose MAC it is addressed to; other frames
// (gratuitous ARP) go nowhere. The hosts' part of a transfer (delivering and
// receiving the sealed state record over TCP) is the two inputs
// sidStateReceived (at the target) and sidStateDelivered (at the node).
//
// tcIds: one per (scenario, node), in the order below. Append new scenarios
// at the end.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Core } from "../../dist/hosts/shared/index.js";
import { Net, formatTranscripts } from "./transcripts.js";
import { hex, unhex } from "./transcript.js";
import { SCHEMA_ID } from "./vectorfile.js";
import { isMain } from "./main.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
export const SID_TRANSCRIPT_FILE = "sid-transcripts.json";
const WASM = join(ROOT, "build", "handover.wasm");

const PORT = 4346;
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const DELAY_MS = 5;
const TA = "198.18.0.10", AGENT = "198.18.0.1", TARGET = "198.19.0.20";
/** Per-flow mode (8.16): the node's Interim Address and the flow that moves (the node's TCP session with 198.18.20.2:5001). */
const INTERIM = "198.18.0.200";
const FLOW = { protocol: "tcp", local: TA, localPort: 40001, remote: "198.18.20.2", remotePort: 5001 };
const MAC = { tn: "02:00:00:00:00:0a", agent: "02:00:00:00:00:01", target: "02:00:00:00:00:14", tn2: "02:00:00:00:00:0b" };
const KEY_TN_TARGET = "11".repeat(32);
const KEY_TN_AGENT = "22".repeat(32);
/** The second transferring node of `second` (its address moves too), and its keys. */
const TA2 = "198.18.0.11";
const KEY_TN2_TARGET = "55".repeat(32);
const KEY_TN2_AGENT = "66".repeat(32);
const ascii = (s) => hex(new TextEncoder().encode(s));

/** transcripts.js's network, with the home link's frames. */
class SidNet extends Net {
  route(from, o) {
    if (o.kind !== "frame") return super.route(from, o);
    const f = unhex(o.data);
    if (((f[12] << 8) | f[13]) !== 0x0800) return; // ARP: announced to nobody in particular
    const dst = [...f.subarray(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join(":");
    const to = this.nodes.find((n) => n.mac === dst);
    if (!to) return;
    const udp = 14 + (f[14] & 15) * 4;
    const len = ((f[udp + 4] << 8) | f[udp + 5]) - 8;
    const source = [...f.subarray(26, 30)].join(".");
    const data = f.subarray(udp + 8, udp + 8 + len);
    const d = { from: from.label, n: ++this.sent, destination: to.primary, source, data: hex(data) };
    if (this.filter && this.filter(d) === false) return;
    this.queue.push({ at: this.now + DELAY_MS, to, source, port: PORT, data: d.data, n: d.n });
  }
}

function peerOf(core, name, address, spi, key, addresses) {
  const p = { cookie: core.cookieFromName(name), address, port: PORT, sas: [{ spi, algorithm: "HMAC_SHA256", key, replayMode: "TIMESTAMP", skewMs: 7000 }] };
  if (addresses) p.addresses = addresses;
  return p;
}

/**
 * The three roles: tn (198.18.0.10, the address that moves; peer 0 the
 * target, peer 1 the agent), the agent (198.18.0.1; peer 0 tn) and the
 * target (198.19.0.20; peer 0 tn).
 */
function trio(net, scenario, { agentOptions = [], targetOptions = [], control, interim, second } = {}) {
  const core = Core.loadSync(net.module);
  const config = (name, peers, options, address) => ({
    cookie: core.cookieFromName(name),
    seed: ascii(`handover sid transcript seed: ${scenario}: ${name}`),
    start: T0,
    options,
    peers,
    sid: { ifindex: 2, mac: MAC[name], address, ...(interim && name === "tn" ? { interim } : {}) },
  });
  // With `control`, tn's control address is another than TA (PROTOCOL.md 8.10), as a return (8.6) needs.
  const tnAt = control ?? TA;
  const tn = net.node("tn", config("tn", [peerOf(core, "target", TARGET, 300, KEY_TN_TARGET), peerOf(core, "agent", AGENT, 301, KEY_TN_AGENT)], [], tnAt), [...(control ? [control, TA] : [TA]), ...(interim ?? [])]);
  // With `second`, tn2 (198.18.0.11) is peer 1 of the agent and of the target, and moves its address too.
  const more = (name, spi, key) => (second ? [peerOf(core, "tn2", TA2, spi, key)] : []);
  const agent = net.node("agent", config("agent", [peerOf(core, "tn", tnAt, 301, KEY_TN_AGENT, control ? [TA] : undefined), ...more("agent", 311, KEY_TN2_AGENT)], [["sidAgent", 1], ...agentOptions], AGENT), [AGENT]);
  const target = net.node("target", config("target", [peerOf(core, "tn", tnAt, 300, KEY_TN_TARGET), ...more("target", 310, KEY_TN2_TARGET)], [["sidTarget", 1], ...targetOptions], TARGET), [TARGET]);
  const tn2 = second ? net.node("tn2", config("tn2", [peerOf(core, "target", TARGET, 310, KEY_TN2_TARGET), peerOf(core, "agent", AGENT, 311, KEY_TN2_AGENT)], [], TA2), [TA2]) : null;
  for (const [n, name] of [[tn, "tn"], [agent, "agent"], [target, "target"], [tn2, "tn2"]]) if (n) n.mac = MAC[name];
  return { tn, agent, target, tn2 };
}

/** The hosts' part once the node was asked for the state record: received at the target, then delivered. */
function deliver(p, address = TA) {
  p.target.input({ kind: "sidStateReceived", address, ok: true });
  p.tn.input({ kind: "sidStateDelivered", address, ok: true });
}

const isType = (data, type) => parseInt(data.slice(2, 4), 16) === type;

const SCENARIOS = [
  {
    name: "transfer-renew-deregister",
    comment: "the node moves its address to the target through the agent (lifetime 30 s): negotiation, the state record, the target's first Binding Update kept by the agent until the Transfer Request, the release; renewals at 20 s; the session ends at the target: Binding Update 0, the binding's removal, the Wake-up frame, the node claims its address",
    flags: ["Transfer", "Renewal", "Deregistration", "WakeUp"],
    run(net) {
      const p = trio(net, this.name);
      p.tn.input({ kind: "sidTransfer", address: TA, target: 0, agent: 1, lifetime: 30 });
      net.run(20);
      deliver(p);
      net.run(45000);
      p.target.input({ kind: "sidSessionEnded", address: TA });
      net.run(4000);
      return p;
    },
  },
  {
    name: "stop-transfer",
    comment: "after the transfer the node stops it: the agent ends the binding at once and answers, with no Wake-up; the target's next renewal finds no binding and is never answered",
    flags: ["Transfer", "StopTransfer"],
    run(net) {
      const p = trio(net, this.name);
      p.tn.input({ kind: "sidTransfer", address: TA, target: 0, agent: 1, lifetime: 30 });
      net.run(20);
      deliver(p);
      net.run(1000);
      p.tn.input({ kind: "sidStop", address: TA });
      net.run(25000);
      return p;
    },
  },
  {
    name: "expiry",
    comment: "the target falls silent after the transfer (its datagrams are lost): the binding expires at 30 s, the agent undoes its claim and sends the Wake-up frame, the node answers and claims its address",
    flags: ["Transfer", "Expiry", "WakeUp"],
    run(net) {
      const p = trio(net, this.name);
      p.tn.input({ kind: "sidTransfer", address: TA, target: 0, agent: 1, lifetime: 30 });
      net.run(20);
      deliver(p);
      net.run(1000);
      net.filter = (d) => d.from !== "target";
      net.run(32000);
      return p;
    },
  },
  {
    name: "refused-129",
    comment: "the node asks the agent for an address it is not configured to own there (198.18.0.11): the target accepts the negotiation, the agent refuses the Transfer Request with 129, the node takes its stop rule away",
    flags: ["Refused"],
    run(net) {
      const p = trio(net, this.name);
      p.tn.addresses.add("198.18.0.11");
      p.tn.input({ kind: "sidTransfer", address: "198.18.0.11", target: 0, agent: 1, lifetime: 30 });
      net.run(20);
      deliver(p, "198.18.0.11");
      net.run(2000);
      return p;
    },
  },
  {
    name: "same-subnet",
    comment: "same subnet (S): no agent; the target claims the address with gratuitous ARP and releases at once when it holds the record; at the session's end it gives the address back with a Wake-up frame",
    flags: ["Transfer", "SameSubnet", "WakeUp"],
    run(net) {
      const p = trio(net, this.name);
      p.tn.input({ kind: "sidTransfer", address: TA, target: 0, agent: -1, lifetime: 30 });
      net.run(20);
      deliver(p);
      net.run(3000);
      p.target.input({ kind: "sidSessionEnded", address: TA });
      net.run(2000);
      return p;
    },
  },
  {
    name: "lost-transfer-request",
    comment: "the first Transfer Request is lost: the target's Binding Update stays kept at the agent, the node retransmits on its timer, and the retransmission binds and answers the kept update",
    flags: ["Transfer", "Retransmission"],
    run(net) {
      const p = trio(net, this.name);
      let requests = 0;
      net.filter = (d) => !(isType(d.data, 18) && ++requests === 1);
      p.tn.input({ kind: "sidTransfer", address: TA, target: 0, agent: 1, lifetime: 30 });
      net.run(20);
      deliver(p);
      net.run(2000);
      return p;
    },
  },
  {
    name: "return",
    comment: "a return (8.6): tn (control address 198.18.0.5) moves TA to the target, which gives it back: it negotiates with tn (no kernel change there), the record goes to tn, its Transfer Request naming tn makes the agent answer Lifetime 0, end the binding and send the Wake-up frame; tn removes its ARP rule, announces TA and, the record being in, its stop rule (released)",
    flags: ["Transfer", "Return", "WakeUp"],
    run(net) {
      const p = trio(net, this.name, { control: "198.18.0.5" });
      p.tn.input({ kind: "sidTransfer", address: TA, target: 0, agent: 1, lifetime: 30 });
      net.run(20);
      deliver(p);
      net.run(1000);
      p.target.input({ kind: "sidTransfer", address: TA, target: 0, agent: -1, lifetime: 30 });
      net.run(20);
      p.tn.input({ kind: "sidStateReceived", address: TA, ok: true });
      p.target.input({ kind: "sidStateDelivered", address: TA, ok: true });
      net.run(3000);
      return p;
    },
  },
  // Per-flow mode (PROTOCOL.md 8.16), appended last so that every earlier tcId keeps its case.
  {
    name: "per-flow-transfer-and-end",
    comment: "per-flow mode: the node moves one TCP flow of its address (not the address) to the target through the agent; its Interim Address goes on the home link, its stop rule names the flow only, its ARP requests take the Interim Address as sender; the agent sorts by 5-tuple (the hovflow table, the flow's map element, its mark rule) and hands the rest to the Interim Address; the flow ends at the target: the flow set deregisters, the agent undoes it all and sends the Wake-up to the Interim Address, the node claims its address and returns the Interim Address",
    flags: ["PerFlow", "Transfer", "Deregistration", "WakeUp"],
    run(net) {
      const p = trio(net, this.name, { interim: [INTERIM] });
      p.tn.input({ kind: "sidTransferFlows", address: TA, target: 0, agent: 1, flows: [FLOW], lifetime: 30 });
      net.run(20);
      deliver(p);
      net.run(3000);
      p.target.input({ kind: "sidFlowEnded", flow: FLOW });
      net.run(4000);
      return p;
    },
  },
  {
    name: "per-flow-stop",
    comment: "per-flow mode: after the flow's transfer the node stops every flow set of its address (Stop Transfer without flows): the agent ends the set and answers with no Wake-up; the node claims its address on the reply",
    flags: ["PerFlow", "Transfer", "StopTransfer"],
    run(net) {
      const p = trio(net, this.name, { interim: [INTERIM] });
      p.tn.input({ kind: "sidTransferFlows", address: TA, target: 0, agent: 1, flows: [FLOW], lifetime: 30 });
      net.run(20);
      deliver(p);
      net.run(1000);
      p.tn.input({ kind: "sidStopFlows", address: TA, spi: 0 });
      net.run(3000);
      return p;
    },
  },
  // Appended last so that every earlier tcId keeps its case.
  {
    name: "same-subnet-return",
    comment: "a same-subnet return (8.7): tn (control address 198.18.0.5) moves TA to the target with S (no agent); the target gives it back with S: it negotiates with tn (no kernel change there), puts its stop rule up, the record goes to tn; once delivered the target makes its ARP rule silent on every link, stops announcing, sends tn the Wake-up frame and retires; tn removes its ARP rule, announces TA, acknowledges and, the record being in, removes its stop rule (released); the retired hosting ends 10 s later",
    flags: ["Transfer", "SameSubnet", "Return", "WakeUp"],
    run(net) {
      const p = trio(net, this.name, { control: "198.18.0.5" });
      p.tn.input({ kind: "sidTransfer", address: TA, target: 0, agent: -1, lifetime: 30 });
      net.run(20);
      deliver(p);
      net.run(3000);
      p.target.input({ kind: "sidTransfer", address: TA, target: 0, agent: -1, lifetime: 30 });
      net.run(20);
      p.tn.input({ kind: "sidStateReceived", address: TA, ok: true });
      p.target.input({ kind: "sidStateDelivered", address: TA, ok: true });
      net.run(11000);
      return p;
    },
  },
  {
    name: "per-flow-return",
    comment: "a per-flow return (8.16): the node moves one TCP flow to the target through the agent; the target gives it back: it negotiates with the node with P and the flow (no kernel change there), puts its stop rule up, the record goes to the node; once the record is in the node sends the agent Stop Transfer naming the flow, the agent ends the flow set (its last: it also wakes the node at its Interim Address), the node removes the set's stop chains (released), then claims its address; the target retires and ends 10 s later",
    flags: ["PerFlow", "Transfer", "Return", "StopTransfer", "WakeUp"],
    run(net) {
      const p = trio(net, this.name, { interim: [INTERIM] });
      p.tn.input({ kind: "sidTransferFlows", address: TA, target: 0, agent: 1, flows: [FLOW], lifetime: 30 });
      net.run(20);
      deliver(p);
      net.run(3000);
      p.target.input({ kind: "sidTransfer", address: TA, target: 0, agent: -1, lifetime: 30 });
      net.run(20);
      p.tn.input({ kind: "sidStateReceived", address: TA, ok: true });
      p.target.input({ kind: "sidStateDelivered", address: TA, ok: true });
      net.run(11000);
      return p;
    },
  },
  // Appended last so that every earlier tcId keeps its case.
  {
    name: "two-sessions-one-agent",
    comment: "tn and tn2 move their addresses to the same target through the same agent (lifetime 30 s); both are renewed at 20 and 40 s; both sessions end at the target in the same millisecond. The target numbers every message to the agent from one counter, whichever session SA seals it, since the agent keeps one replay window for the target (8.3): the second session's Binding Updates continue the first's sequence",
    flags: ["Transfer", "Renewal", "Deregistration", "WakeUp", "ManySessions"],
    run(net) {
      const p = trio(net, this.name, { second: true });
      p.tn.input({ kind: "sidTransfer", address: TA, target: 0, agent: 1, lifetime: 30 });
      net.run(20);
      deliver(p);
      net.run(2000);
      p.tn2.input({ kind: "sidTransfer", address: TA2, target: 0, agent: 1, lifetime: 30 });
      net.run(20);
      p.target.input({ kind: "sidStateReceived", address: TA2, ok: true });
      p.tn2.input({ kind: "sidStateDelivered", address: TA2, ok: true });
      net.run(45000);
      p.target.input({ kind: "sidSessionEnded", address: TA });
      p.target.input({ kind: "sidSessionEnded", address: TA2 });
      net.run(4000);
      return p;
    },
  },
];

const NOTES = {
  PerFlow: { bugType: "FUNCTIONALITY", description: "Section 8.16: per-flow mode (the Session Agent): only the listed flows move; the rest goes to the node's Interim Address." },
  Transfer: { bugType: "FUNCTIONALITY", description: "A transfer (sections 8.1, 8.2, 8.12): negotiation, the state record, the Transfer Request, the release on the first Binding Ack." },
  Renewal: { bugType: "FUNCTIONALITY", description: "Section 8.3: Binding Updates at two thirds of the granted lifetime, sealed (8.11)." },
  Deregistration: { bugType: "FUNCTIONALITY", description: "Section 8.13: the session ends at the target: Binding Update with lifetime 0 and the removal of everything." },
  WakeUp: { bugType: "FUNCTIONALITY", description: "Section 8.4 and 8.14: the Wake-up, as a frame to the node's link-layer address, and its acknowledgement." },
  StopTransfer: { bugType: "FUNCTIONALITY", description: "Section 8.5: Stop Transfer ends the binding at once, without a Wake-up; the target cannot renew it." },
  Expiry: { bugType: "FUNCTIONALITY", description: "Section 8.3: a binding that is not renewed expires." },
  Refused: { bugType: "FUNCTIONALITY", description: "A request refused with a reply code; nothing is applied." },
  SameSubnet: { bugType: "FUNCTIONALITY", description: "Section 8.7: no agent; the target claims the address itself." },
  Retransmission: { bugType: "FUNCTIONALITY", description: "Section 6.7: a lost request is retransmitted byte for byte." },
  ManySessions: { bugType: "FUNCTIONALITY", description: "Section 8.3: a target holding several sessions through one agent numbers its messages to the agent from one counter (the agent keeps one replay window per target)." },
  Return: { bugType: "FUNCTIONALITY", description: "Section 8.6: the holder gives the address back to its node; the agent answers Lifetime 0, ends the binding and wakes the node (on the same subnet, 8.7: the holder wakes it itself)." },
};

/** Runs every scenario against the core; returns the vector file as an object. */
export function generateSidTranscripts(wasm = readFileSync(WASM)) {
  const module = new WebAssembly.Module(wasm);
  const tests = [];
  let tcId = 1;
  for (const sc of SCENARIOS) {
    const net = new SidNet(module);
    const nodes = sc.run(net);
    for (const [label, role] of [["tn", "transferring node"], ["agent", "agent"], ["target", "target"]]) {
      const n = nodes[label];
      if (n.steps.length === 0) continue;
      tests.push({
        tcId: tcId++,
        comment: `${sc.name}, ${role}: ${sc.comment}`,
        flags: sc.flags,
        scenario: sc.name,
        node: n.config,
        steps: n.steps,
        result: "valid",
      });
    }
  }
  const used = new Set(tests.flatMap((t) => t.flags));
  return {
    schema: SCHEMA_ID,
    suite: "sid-transcripts",
    description:
      "Whole SID exchanges (docs/PROTOCOL.md section 8), one node per test (transferring node, agent, target): its configuration (as stem-transcripts, and its home link) and the inputs it got, each with the outputs that must follow it (datagrams, nft text, netlink bytes, frames, events) and the node's next timer. Recorded from the reference implementation (the core): they pin its behaviour (conformance/README.md, sid-transcripts).",
    source: "conformance/tools/sid-transcripts.js (recorded from build/handover.wasm)",
    numberOfTests: tests.length,
    notes: Object.fromEntries(Object.entries(NOTES).filter(([k]) => used.has(k))),
    testGroups: [{ tests }],
  };
}

if (isMain(import.meta)) {
  const args = process.argv.slice(2);
  const outAt = args.indexOf("--out");
  const dir = outAt >= 0 ? args[outAt + 1] : join(ROOT, "conformance", "vectors");
  const text = formatTranscripts(generateSidTranscripts());
  const path = join(dir, SID_TRANSCRIPT_FILE);
  if (args.includes("--check")) {
    let committed = "";
    try {
      committed = readFileSync(path, "utf8");
    } catch {}
    if (committed !== text) {
      console.error(`${path} differs from what the core produces now: run npm run conformance:transcripts and review the diff`);
      process.exit(1);
    }
    console.log(`${path}: up to date`);
  } else {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, text);
    console.log(`${path}: ${JSON.parse(text).numberOfTests} tests`);
  }
}
