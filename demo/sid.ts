// A SID transfer on real kernels (docs/PROTOCOL.md section 8): the four roles
// in throwaway namespaces (demo/netns.ts SidTopology), an ordinary
// correspondent (tools/traffic.js) streaming with the application at the
// transferring node, and the live TCP connection moved to the target. Used by
// `handover demo sid` and test/e2e/sid.test.js.

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createHash, randomBytes } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import { SidTopology, cleanStale } from "./netns.ts";
import { lines } from "./stem.ts";
import type { AppSummary, DatagramSummary } from "./sidapp.ts";
import { DEFAULT_PORT } from "../hosts/shared/registry.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TRAFFIC = join(ROOT, "tools", "traffic.js");
const ROLE = join(ROOT, "dist", "demo", "sidrole.js");
const DELAYLINE = join(ROOT, "tools", "delayline.js");
const NODE = join(ROOT, "dist", "demo", "sidnode.js");
const APP_PORT = 5001;
const UDP_PORT = 5002;

export interface SidOptions {
  /** The target on the home subnet (FIG. 1b: no agent, the target claims the address itself). */
  sameSubnet?: boolean;
  /** Return traffic reverse-tunnelled through the agent (8.10); default: direct. */
  reverse?: boolean;
  /** R's ingress filter (BCP 38); default on. */
  filter?: boolean;
  tag?: string;
  /** How long the session runs at the node before the transfer, and at the target after it (ms). */
  beforeMs?: number;
  afterMs?: number;
  /**
   * "engine" (default): three handover nodes whose SID state machines in the
   * core do the transfer (node.sid.transfer). "pieces": the host's pieces
   * driven by hand, no control protocol (tests of the data plane alone).
   */
  driver?: "engine" | "pieces";
  /** The binding's requested lifetime in seconds (engine driver; 0: the node's default). */
  lifetime?: number;
  /** Engine options for every node (e.g. sidMaxLifetimeS). */
  options?: Record<string, number>;
  /** The command that runs each role's script (default: this Node), e.g. ["deno", "run", "-A"] for a Deno target. */
  launcher?: { n?: string[]; a?: string[]; t?: string[] };
  /** Called right before the application asks for the transfer (engine driver). */
  before?: (s: SidRun) => Promise<void>;
  /** Called while the session runs at the target (engine driver), before it ends: more steps (renewals, stop). */
  during?: (s: SidRun) => Promise<void>;
  /** Called after the session ended (engine driver), before the namespaces go: checks of what followed (Wake-up). */
  after?: (s: SidRun) => Promise<void>;
  /**
   * Engine driver: the correspondent. "traffic" (default): tools/traffic.js,
   * records both ways. "python-http": Python's own http.server (a program
   * that is not part of this project) serving a 3 MB file, which the
   * application downloads at 1.5 MB/s; the body's SHA-256 must be the file's.
   */
  correspondent?: "traffic" | "python-http";
  /** Loss (0-1) of UDP control datagrams (to or from DEFAULT_PORT) in each direction, on R: routed and bridged (the home link). */
  controlLoss?: number;
  /**
   * Round-trip time added on R (ms) by tools/delayline.js (no netem in this
   * kernel): every packet R routes waits rttMs / 2 once. The home link is a
   * bridge in R: N-A traffic is not delayed.
   */
  rttMs?: number;
  /**
   * Engine driver: after the first transfer the target moves the session on
   * to a second target U (8.6). "permitted": the first transfer carries F, the
   * session ends at U; "refused": it does not, the agent refuses (140) and the
   * session stays at T.
   */
  chain?: "permitted" | "refused";
  /** Engine driver: the transfer is expected to fail; the report then carries the node's result and stops there. */
  expectRefusal?: boolean;
  /** Engine driver: after the first transfer the target gives the session back to the node (a return, PROTOCOL.md 8.6); it ends there. */
  back?: boolean;
  /** Engine driver: the agent keeps its bindings in a file (PROTOCOL.md 8.17), so that `restartAgent` can kill and restart it. */
  agentBindings?: boolean;
  /**
   * Engine driver: a UDP flow beside the TCP stream (tools/traffic.js --proto
   * udp in C, numbered 100-byte datagrams every 2 ms both ways, port 5002)
   * moves too: the target's application gets a socket bound to the
   * transferred address and port (PROTOCOL.md 8.12, "UDP flows").
   */
  udp?: boolean;
  /**
   * With udp, the UDP correspondent: "traffic" (default: tools/traffic.js,
   * its own numbered datagrams) or "socat": socat (Debian's, not part of
   * handover) echoing every datagram back (`socat -b100 UDP4-LISTEN PIPE`);
   * the application then checks that what came back is what it sent.
   */
  udpPeer?: "traffic" | "socat";
}

/** A running engine-driven demonstration, for `during`. */
export interface SidRun {
  topo: SidTopology;
  /** The nodes' names (their peer names in each other's configuration). */
  names: { n: string; a: string; t: string; u: string };
  node: Role;
  agent: Role | null;
  target: Role;
  /** With agentBindings: kills the agent's process (SIGKILL) and starts it again; the new one is `agent` from then on. */
  restartAgent?: () => Promise<Role>;
  mark(who: string, what: string): void;
}

export interface SidTimelineEntry {
  t: number;
  who: string;
  what: string;
}

export interface SidReport {
  scenario: string;
  timeline: SidTimelineEntry[];
  correspondent: CorrespondentSummary | null;
  node: AppSummary | null;
  target: AppSummary | null;
  bytesSent: number;
  bytesReceived: number;
  digestsEqual: boolean;
  lost: number;
  resets: number;
  /**
   * From the decision to transfer (the application's call of transfer() at N) to the first correspondent byte
   * the target's application received.
   */
  transferMs: number | null;
  /** The demo's command to N's application, from the harness deciding to the application's call (not in transferMs). */
  commandMs?: number;
  /** Which device served which bytes (sent to / received from the correspondent). */
  served: { node: { sent: number; received: number }; target: { sent: number; received: number }; second?: { sent: number; received: number }; first?: { sent: number; received: number } };
  /** Packets R's ingress filter dropped. */
  filtered: number;
  error: string | null;
  /** Engine driver: the node's transfer result. */
  result?: Record<string, unknown>;
  /** With chain: the first target's further transfer result, and the second target's summary. */
  chained?: { result: Record<string, unknown>; second: AppSummary | null };
  /** With udp: the UDP flow's verdict (datagrams; late and duplicated ones are not lost). */
  udp?: UdpVerdict;
}

export interface UdpVerdict {
  correspondent: Record<string, any> | null;
  node: DatagramSummary | null;
  /** The application where the flow ended (the target, or U, or N after a return). */
  target: DatagramSummary | null;
  digestsEqual: boolean;
  /** Datagrams sent by one end whose number the other end never received. */
  lost: number;
  /** Arrived after a higher number (at the correspondent: traffic.js "reordered"; at the application: "late"). */
  late: number;
  duplicates: number;
  /** Datagrams each device sent to and received from the correspondent. */
  served: { node: { sent: number; received: number }; target: { sent: number; received: number } };
  /** From the decision to the first datagram the application received at the target (ms). */
  transferMs: number | null;
  maxGapMs: number | null;
}

export interface CorrespondentSummary {
  sentBytes: number;
  receivedBytes: number;
  sha256Sent: string;
  sha256Received: string;
  resets: number;
  error: string | null;
  maxGapMs: number;
}

/** The roles run under Node unless told otherwise (under Deno or Bun, process.execPath is not node). */
export const NODE_BIN = (globalThis as any).Deno || (globalThis as any).Bun ? "node" : process.execPath;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

/** A role process: its events, and a way to wait for one. */
export class Role {
  readonly events: any[] = [];
  stderr = "";
  constructor(readonly child: ChildProcess, timeline: SidTimelineEntry[]) {
    lines(child.stdout, (o) => {
      this.events.push(o);
      if (o.what && o.what !== "ready" && o.what !== "report") timeline.push({ t: o.t ?? now(), who: o.who ?? "?", what: o.what });
    });
    const debug = (globalThis as any).process?.env?.HANDOVER_DEMO_DEBUG;
    child.stderr?.on("data", (d: Buffer) => {
      this.stderr += d.toString();
      if (debug) process.stderr.write(d);
    });
  }
  send(cmd: Record<string, unknown>): void {
    this.child.stdin?.write(JSON.stringify(cmd) + "\n");
  }
  async wait(key: string, ms = 10000): Promise<any> {
    const end = now() + ms;
    for (;;) {
      const hit = this.events.find((e) => e[key] !== undefined);
      if (hit) return hit;
      const err = this.events.find((e) => e.error !== undefined);
      if (err) throw new Error(`${err.who}: ${err.error}`);
      if (now() > end) throw new Error(`no '${key}' within ${ms} ms (events: ${JSON.stringify(this.events.map((e) => e.what)).slice(0, 400)}; stderr: ${this.stderr.slice(0, 400)})`);
      await sleep(5);
    }
  }
}

/**
 * The nft ruleset on R that drops `loss` (0-1) of the UDP control datagrams in
 * each direction, routed (inet) and bridged on the home link (bridge), with one
 * random draw per datagram. A datagram from port to port DEFAULT_PORT is matched by the
 * first rule only. With br_netfilter loaded (bridge-nf-call-iptables), a bridged
 * datagram passes the bridge forward hook and then the inet one: the bridge
 * table marks what it has drawn for and the inet table leaves marked datagrams
 * alone, else the home link would lose 1 - (1 - loss)^2 each way (issue 8).
 */
export function controlLossRuleset(loss: number): string {
  const l = Math.round(loss * 1000);
  const drops = `udp dport ${DEFAULT_PORT} numgen random mod 1000 < ${l} counter drop\n    udp sport ${DEFAULT_PORT} udp dport != ${DEFAULT_PORT} numgen random mod 1000 < ${l} counter drop`;
  const drawn = `0x${DEFAULT_PORT.toString(16)}`;
  return `table inet sidloss {\n  chain forward { type filter hook forward priority -10; policy accept;\n    meta mark ${drawn} counter accept\n    ${drops}\n  }\n}\ntable bridge sidloss {\n  chain forward { type filter hook forward priority -10; policy accept;\n    meta mark set ${drawn}\n    ${drops}\n  }\n}\n`;
}
export function runSid(o: SidOptions = {}): Promise<SidReport> {
  return o.driver === "pieces" ? runSidPieces(o) : runSidEngine(o);
}

function scenarioOf(o: SidOptions): string {
  return `${o.sameSubnet ? "same subnet" : "foreign subnet"}, ${o.sameSubnet ? "direct" : o.reverse ? "reverse-tunnelled" : "direct"} return${o.filter === false ? ", no ingress filter" : ", BCP 38 on the router"}${o.driver === "pieces" ? " (the host's pieces by hand)" : ""}`;
}

function emptyReport(scenario: string, timeline: SidTimelineEntry[]): SidReport {
  return {
    scenario, timeline, correspondent: null, node: null, target: null, bytesSent: 0, bytesReceived: 0, digestsEqual: false, lost: -1, resets: -1,
    transferMs: null, served: { node: { sent: 0, received: 0 }, target: { sent: 0, received: 0 } }, filtered: 0, error: null,
  };
}

/** Starts the correspondent (tools/traffic.js server) in C; its summary arrives in `.v` when the session ends. */
async function correspondent(topo: SidTopology): Promise<{ child: ChildProcess; summary: { v: CorrespondentSummary | null } }> {
  const A = topo.addr;
  const summary: { v: CorrespondentSummary | null } = { v: null };
  let listening = false;
  const child = topo.spawn(topo.c, [NODE_BIN, TRAFFIC, "server", "--proto", "tcp", "--bind", A.correspondent, "--port", String(APP_PORT), "--interval", "2"]);
  lines(child.stdout, (x) => {
    if (x.listening) listening = true;
    if (x.sentBytes !== undefined) summary.v = x;
  });
  for (const end = now() + 5000; !listening; await sleep(10)) if (now() > end) throw new Error("the correspondent did not listen");
  return { child, summary };
}

/** tools/traffic.js --proto udp in C: it answers the application's datagrams from the port they came to. */
async function udpCorrespondent(topo: SidTopology): Promise<{ child: ChildProcess; summary: { v: Record<string, any> | null } }> {
  const summary: { v: Record<string, any> | null } = { v: null };
  let listening = false;
  const child = topo.spawn(topo.c, [NODE_BIN, TRAFFIC, "server", "--proto", "udp", "--bind", topo.addr.correspondent, "--port", String(UDP_PORT), "--interval", "2"]);
  lines(child.stdout, (x) => {
    if (x.listening) listening = true;
    if (x.sentBytes !== undefined) summary.v = x;
  });
  for (const end = now() + 5000; !listening; await sleep(10)) if (now() > end) throw new Error("the UDP correspondent did not listen");
  return { child, summary };
}

/** socat in C echoing each datagram to the sender (100 bytes per read: one datagram each, as the application sends them). */
async function socatCorrespondent(topo: SidTopology): Promise<{ child: ChildProcess; summary: { v: Record<string, any> | null } }> {
  const child = topo.spawn(topo.c, ["/usr/bin/socat", "-b100", `UDP4-LISTEN:${UDP_PORT},bind=${topo.addr.correspondent}`, "PIPE"]);
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err += d));
  for (const end = now() + 3000; ; await sleep(20)) {
    const ss = topo.try(topo.c, ["ss", "-Hlun", `sport = :${UDP_PORT}`]);
    if (ss.out.includes(String(UDP_PORT))) break;
    if (now() > end || child.exitCode !== null) throw new Error(`socat did not listen: ${err.slice(0, 300)}`);
  }
  return { child, summary: { v: { socat: true } } };
}

/** The echo's verdict: what came back is what the application sent, in order, every datagram of it. */
function echoVerdict(N: DatagramSummary | null, T: DatagramSummary | null, decided: number): UdpVerdict {
  const v: UdpVerdict = { correspondent: { program: "socat (echo)" }, node: N, target: T, digestsEqual: false, lost: -1, late: -1, duplicates: -1, served: { node: { sent: 0, received: 0 }, target: { sent: 0, received: 0 } }, transferMs: null, maxGapMs: null };
  if (N) v.served.node = { sent: N.here.sent / 100, received: N.here.received / 100 };
  if (T) {
    v.digestsEqual = T.sha256Sent === T.sha256Received;
    v.lost = Math.max(0, T.sent - T.received);
    v.late = T.late;
    v.duplicates = T.duplicates;
    v.served.target = { sent: T.here.sent / 100, received: T.here.received / 100 };
    v.maxGapMs = T.maxGapMs;
    if (T.firstDataAt) v.transferMs = Math.round((T.firstDataAt - decided) * 1000) / 1000;
  }
  return v;
}

/**
 * The UDP flow's verdict. Lost: the datagrams one end sent that the other
 * never received (the correspondent's count of distinct numbers is its
 * bytes / 100 less its duplicates: traffic.js hashes and counts every
 * arrival). Late ones (after a higher number) are received, not lost, and
 * counted apart; so are duplicates.
 */
function udpVerdict(C: Record<string, any> | null, N: DatagramSummary | null, T: DatagramSummary | null, decided: number): UdpVerdict {
  const v: UdpVerdict = { correspondent: C, node: N, target: T, digestsEqual: false, lost: -1, late: -1, duplicates: -1, served: { node: { sent: 0, received: 0 }, target: { sent: 0, received: 0 } }, transferMs: null, maxGapMs: null };
  if (N) v.served.node = { sent: N.here.sent / 100, received: N.here.received / 100 };
  if (C && T) {
    const cReceived = C.receivedBytes / 100;
    const cSent = C.sentBytes / 100;
    v.digestsEqual = C.sha256Received === T.sha256Sent && C.sha256Sent === T.sha256Received;
    // Each end's count of what it sent against the other's count of distinct numbers received (traffic.js
    // counts every arrival: less its reordered ones, none of which repeat here, as duplicates are 0 in T's).
    v.lost = Math.max(0, T.sent - cReceived) + Math.max(0, cSent - T.received);
    v.late = (C.reordered ?? 0) + T.late;
    v.duplicates = T.duplicates;
    v.served.target = { sent: T.here.sent / 100, received: T.here.received / 100 };
    v.maxGapMs = Math.max(C.maxGapMs ?? 0, T.maxGapMs);
  }
  if (T?.firstDataAt) v.transferMs = Math.round((T.firstDataAt - decided) * 1000) / 1000;
  return v;
}

async function correspondentSummary(c: { child: ChildProcess; summary: { v: CorrespondentSummary | null } }): Promise<CorrespondentSummary | null> {
  for (const end = now() + 3000; !c.summary.v; await sleep(10)) if (now() > end) break;
  if (!c.summary.v) c.child.kill("SIGTERM");
  for (const end = now() + 2000; !c.summary.v; await sleep(10)) if (now() > end) break;
  return c.summary.v;
}

/** The verdict: digests, lost bytes and resets from the correspondent's and the application's summaries. */
function verdict(report: SidReport): SidReport {
  const C = report.correspondent;
  const T = report.target;
  if (C && T) {
    report.bytesSent = C.sentBytes + T.sentBytes;
    report.bytesReceived = C.receivedBytes + T.receivedBytes;
    report.digestsEqual = C.sha256Received === T.sha256Sent && C.sha256Sent === T.sha256Received;
    report.lost = Math.abs(T.sentBytes - C.receivedBytes) + Math.abs(C.sentBytes - T.receivedBytes);
    report.resets = C.resets + T.errors.filter((e) => e === "ECONNRESET" || e === "EPIPE").length;
  }
  if (report.node) report.served.node = report.node.here;
  if (T) report.served.target = report.served.first ?? T.here;
  delete report.served.first;
  report.timeline.sort((a, b) => a.t - b.t);
  return report;
}

const PAYLOAD = "payload.bin";
const PAYLOAD_BYTES = 3_000_000;

/** Python's http.server in C serving a random file; its summary is what a web server sends: the file. */
async function pythonCorrespondent(topo: SidTopology): Promise<{ child: ChildProcess; summary: { v: CorrespondentSummary | null }; dir: string; finish(requestBytes: number): CorrespondentSummary }> {
  const dir = mkdtempSync(join(tmpdir(), "handover-sid-"));
  const body = randomBytes(PAYLOAD_BYTES);
  writeFileSync(join(dir, PAYLOAD), body);
  const sha = createHash("sha256").update(body).digest("hex");
  const child = topo.spawn(topo.c, ["/usr/bin/python3", "-u", "-m", "http.server", String(APP_PORT), "--bind", topo.addr.correspondent, "--directory", dir]);
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d));
  child.stderr?.on("data", (d: Buffer) => (err += d));
  for (const end = now() + 8000; !/Serving HTTP/.test(out); await sleep(20)) if (now() > end) throw new Error(`python3 -m http.server did not start: ${err.slice(0, 300)}`);
  const summary = { v: null as CorrespondentSummary | null };
  return {
    child, summary, dir,
    finish(requestBytes) {
      const resets = (err.match(/ConnectionResetError|BrokenPipeError/g) ?? []).length;
      summary.v = { sentBytes: PAYLOAD_BYTES, receivedBytes: requestBytes, sha256Sent: sha, sha256Received: "", resets, error: resets ? err.slice(-300) : null, maxGapMs: 0 };
      return summary.v;
    },
  };
}

const hexKey = () => Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");

async function runSidEngine(o: SidOptions): Promise<SidReport> {
  const tag = o.tag ?? `d${process.pid % 100000}`;
  const timeline: SidTimelineEntry[] = [];
  const mark = (who: string, what: string) => timeline.push({ t: now(), who, what });
  cleanStale(tag);
  const topo = new SidTopology(tag, { sameSubnet: o.sameSubnet, filter: o.filter, second: !!o.chain });
  const A = topo.addr;
  const report = emptyReport(scenarioOf(o) + (o.chain ? `, then a ${o.chain === "permitted" ? "permitted" : "refused (unpermitted)"} further transfer to U` : ""), timeline);
  const names = { n: `n-${tag}.sid`, a: `a-${tag}.sid`, t: `t-${tag}.sid`, u: `u-${tag}.sid` };
  const keys = { na: hexKey(), nt: hexKey(), at: hexKey(), tu: hexKey(), au: hexKey() };
  const toU = o.chain ? { a: { name: names.u, address: A.second, sa: [{ spi: 260, key: keys.au }] }, t: { name: names.u, address: A.second, sa: [{ spi: 259, key: keys.tu }] } } : null;
  // The node listens on every address: the agent's Wake-up comes to the transferred address (8.4).
  const bindingsFile = o.agentBindings ? `/tmp/hov-sid-${tag}-bindings` : undefined;
  if (bindingsFile) rmSync(bindingsFile, { force: true });
  const common = (name: string, address: string, link: string, options: Record<string, number>, listen = [address], bindings?: string) => ({
    name, listen, control: false, register: false, auto: false, log: (globalThis as any).process?.env?.HANDOVER_DEMO_DEBUG ? "debug" : "info", options: { ...(o.options ?? {}), ...options }, sid: { link, address, ...(bindings ? { bindings } : {}) },
  });
  // 8.12, the 1-RTT order: the node keeps a state connection open to its target (and the target to the node, for a return).
  const warm = (c: ReturnType<typeof common>, to: string) => ({ ...c, sid: { ...c.sid, targets: [to] } });
  const daemons = {
    n: { ...warm(common(names.n, A.node, "n-h", {}, ["0.0.0.0"]), names.t), peers: [
      ...(o.sameSubnet ? [] : [{ name: names.a, address: A.agent, sa: [{ spi: 256, key: keys.na }] }]),
      { name: names.t, address: A.target, sa: [{ spi: 257, key: keys.nt }] },
    ] },
    a: { ...common(names.a, A.agent, "a-h", { sidAgent: 1 }, [A.agent], bindingsFile), peers: [
      { name: names.n, address: A.node, addresses: [A.transferred], sa: [{ spi: 256, key: keys.na }] },
      { name: names.t, address: A.target, sa: [{ spi: 258, key: keys.at }] },
      ...(toU ? [toU.a] : []),
    ] },
    t: { ...warm(common(names.t, A.target, topo.targetLink, { sidTarget: 1 }), names.n), peers: [
      { name: names.n, address: A.node, sa: [{ spi: 257, key: keys.nt }] },
      ...(o.sameSubnet ? [] : [{ name: names.a, address: A.agent, sa: [{ spi: 258, key: keys.at }] }]),
      ...(toU ? [toU.t] : []),
    ] },
    u: { ...common(names.u, A.second, "u-f", { sidTarget: 1 }), peers: [
      { name: names.t, address: A.target, sa: [{ spi: 259, key: keys.tu }] },
      { name: names.a, address: A.agent, sa: [{ spi: 260, key: keys.au }] },
    ] },
  };
  let c: Awaited<ReturnType<typeof correspondent>> | null = null;
  let py: Awaited<ReturnType<typeof pythonCorrespondent>> | null = null;
  let cu: Awaited<ReturnType<typeof udpCorrespondent>> | null = null;
  let udpNode: DatagramSummary | null = null;
  let decided = 0;
  try {
    topo.up();
    mark("net", `namespaces up: C ${A.correspondent}, N ${A.node} with X ${A.transferred}, ${o.sameSubnet ? "" : `A ${A.agent}, `}T ${A.target}`);
    if (o.controlLoss) {
      topo.ns(topo.r, ["nft", "-f", "-"], controlLossRuleset(o.controlLoss));
      mark("net", `R drops ${o.controlLoss * 100}% of the control datagrams each way (routed and on the home link)`);
    }
    if (o.rttMs) {
      const dl = topo.spawn(topo.r, [NODE_BIN, DELAYLINE, "--queue", "3", "--delay", String(o.rttMs / 2), "--install"]);
      let ready = false;
      lines(dl.stdout, (x) => {
        if (x.ready) ready = true;
      });
      for (const end = now() + 5000; !ready; await sleep(10)) if (now() > end) throw new Error("the delay line did not start");
      mark("net", `delay line on R: +${o.rttMs} ms round trip on every routed path (userspace NFQUEUE; no netem in this kernel)`);
    }
    if (o.correspondent === "python-http") {
      py = await pythonCorrespondent(topo);
      mark("C", `python3 -m http.server on ${A.correspondent}:${APP_PORT} serves a ${PAYLOAD_BYTES}-byte file`);
    } else c = await correspondent(topo);
    if (o.udp) cu = o.udpPeer === "socat" ? await socatCorrespondent(topo) : await udpCorrespondent(topo);
    const run = (ns: string) => o.launcher?.[ns === topo.n ? "n" : ns === topo.a ? "a" : "t"] ?? [NODE_BIN];
    const second = o.chain ? new Role(topo.spawn(topo.u, [...run(topo.u), NODE, JSON.stringify({ role: "target", daemon: daemons.u, who: "U" })]), timeline) : null;
    if (second) await second.wait("ready");
    const role = (ns: string, r: string, daemon: unknown, app?: unknown) => new Role(topo.spawn(ns, [...run(ns), NODE, JSON.stringify({ role: r, daemon, app })]), timeline);
    const target = role(topo.t, "target", daemons.t);
    let agent = o.sameSubnet ? null : role(topo.a, "agent", daemons.a);
    await target.wait("ready");
    if (agent) await agent.wait("ready");
    const restartAgent = bindingsFile ? async (): Promise<Role> => {
      agent!.child.kill("SIGKILL");
      await new Promise((r) => agent!.child.once("exit", r));
      mark("A", "the agent's process is killed (SIGKILL); a new one starts with the same configuration and its bindings file");
      agent = role(topo.a, "agent", daemons.a);
      await agent.wait("ready");
      return agent;
    } : undefined;
    const node = role(topo.n, "node", daemons.n, { correspondent: A.correspondent, port: APP_PORT, transferred: A.transferred, download: py ? PAYLOAD : undefined, udpPort: o.udp ? UDP_PORT : undefined });
    await node.wait("connected");
    await node.wait("ready");
    mark("app", py ? `TCP ${A.transferred} <-> ${A.correspondent}:${APP_PORT}: GET /${PAYLOAD}, read at 1.5 MB/s` : `TCP ${A.transferred} <-> ${A.correspondent}:${APP_PORT}: 100-byte records every 2 ms, both ways`);
    if (o.udp) mark("app", `UDP ${A.transferred}:${UDP_PORT} <-> ${A.correspondent}:${UDP_PORT}: numbered 100-byte datagrams every 2 ms, both ways`);
    await sleep(o.beforeMs ?? 1000);
    if (o.before) await o.before({ topo, names, node, agent, target, mark });
    decided = now();
    mark("N", "the application asks to transfer its connection to T");
    node.send({ cmd: "transfer", target: names.t, agent: o.sameSubnet ? undefined : names.a, reverse: !!o.reverse, sameSubnet: !!o.sameSubnet, lifetime: o.lifetime ?? 0, further: o.chain === "permitted" });
    const answered = await node.wait("result", 15000);
    const result = answered.result;
    report.result = result;
    // From here on `decided` is the application's call in N's process (the same machine clock); the harness's
    // command to it took commandMs.
    if (answered.calledAt) {
      report.commandMs = Math.round((answered.calledAt - decided) * 1000) / 1000;
      decided = answered.calledAt;
    }
    if (o.expectRefusal) {
      // The connection stays with the node: it goes on (its share grows past what it had at the refusal).
      const atRefusal = (await node.wait("result")).here;
      await sleep(800);
      node.send({ cmd: "report" });
      report.node = (await node.wait("summary")).summary;
      report.served.target = atRefusal;
      return verdict(report);
    }
    if (result.state !== "transferred") throw new Error(`the transfer failed: ${result.error ?? ""} ${result.message ?? ""} (code ${result.code ?? "-"})`);
    await target.wait("resumed", 10000);
    if (o.during) await o.during({ topo, names, node, agent, target, mark, restartAgent });
    await sleep(o.afterMs ?? 1500);
    if (o.udp) await target.wait("udpResumed", 10000);
    node.send({ cmd: "report" });
    const nodeReport = await node.wait("summary");
    report.node = nodeReport.summary;
    udpNode = nodeReport.udp ?? null;
    target.send({ cmd: "report" });
    const mid = (await target.wait("summary")).summary as AppSummary;
    if (mid.firstDataAt) report.transferMs = Math.round((mid.firstDataAt - decided) * 1000) / 1000;
    target.events.splice(target.events.findIndex((e) => e.summary !== undefined), 1);
    let last = target;
    let firstShare: { sent: number; received: number } | null = null;
    if (second) {
      mark("T", "the application asks to move the session on to U");
      target.send({ cmd: "transfer", target: names.u, agent: names.a, reverse: !!o.reverse });
      const answer = await target.wait("result", 15000);
      const further = answer.result;
      report.chained = { result: further, second: null };
      firstShare = answer.here;
      if (further.state === "transferred") {
        await second.wait("resumed", 10000);
        await sleep(o.afterMs ?? 1500);
        last = second;
      } else await sleep(500);
    }
    if (o.back) {
      mark("T", "the application gives the session back to N (a return)");
      // On the same subnet (PROTOCOL.md 8.7) no agent: the target gives the address back itself.
      target.send({ cmd: "transfer", target: names.n, agent: o.sameSubnet ? undefined : names.a, sameSubnet: !!o.sameSubnet, reverse: !!o.reverse });
      const answer = await target.wait("result", 15000);
      report.chained = { result: answer.result, second: null };
      firstShare = answer.here;
      if (answer.result.state === "transferred") {
        await node.wait("resumed", 10000);
        // The node's first summary (its share before the transfer) is in the report already.
        node.events.splice(node.events.findIndex((e) => e.summary !== undefined), 1);
        await sleep(o.afterMs ?? 1500);
        last = node;
      } else await sleep(500);
    }
    last.send({ cmd: "finish" });
    const finished = await last.wait("summary", py ? 20000 : 8000);
    report.target = finished.summary;
    if ((second && last === second) || (o.back && last === node)) {
      report.chained!.second = report.target;
      // The first target's share: what it received and sent while it held the session.
      report.served.second = report.target!.here;
      report.served.first = firstShare ?? undefined;
    }
    mark("app", py ? "the download is complete" : "the target's application ended the session");
    report.correspondent = py ? py.finish(report.target!.sentBytes) : await correspondentSummary(c!);
    if (cu && o.udpPeer === "socat") {
      cu.child.kill("SIGTERM");
      report.udp = echoVerdict(udpNode, finished.udp ?? null, decided);
      mark("C", `UDP: socat echoed ${report.udp.target ? report.udp.target.received : "?"} of the ${report.udp.target ? report.udp.target.sent : "?"} datagrams the application sent`);
    } else if (cu) {
      const C = await correspondentSummary(cu as any);
      report.udp = udpVerdict(C as any, udpNode, finished.udp ?? null, decided);
      mark("C", `UDP: ${C ? `${C.receivedBytes / 100} datagrams received, ${(C as any).lost} missing, ${(C as any).reordered} late` : "no summary"}`);
    }
    // The session's end deregisters the binding: give the nodes a moment to show it.
    await sleep(300);
    if (o.after) await o.after({ topo, names, node, agent, target, mark });
  } catch (e) {
    report.error = (e as Error).message;
  } finally {
    report.filtered = topo.filtered();
    topo.down();
    if (bindingsFile) rmSync(bindingsFile, { force: true });
    if (py) rmSync(py.dir, { recursive: true, force: true });
  }
  return verdict(report);
}

async function runSidPieces(o: SidOptions): Promise<SidReport> {
  const tag = o.tag ?? `d${process.pid % 100000}`;
  const timeline: SidTimelineEntry[] = [];
  const mark = (who: string, what: string) => timeline.push({ t: now(), who, what });
  cleanStale(tag);
  const topo = new SidTopology(tag, { sameSubnet: o.sameSubnet, filter: o.filter });
  const A = topo.addr;
  const report = emptyReport(scenarioOf(o), timeline);
  try {
    topo.up();
    mark("net", `namespaces up: C ${A.correspondent}, N ${A.node} with X ${A.transferred}, ${o.sameSubnet ? "" : `A ${A.agent}, `}T ${A.target}`);
    const c = await correspondent(topo);
    const run = (ns: string) => o.launcher?.[ns === topo.n ? "n" : ns === topo.a ? "a" : "t"] ?? [NODE_BIN];
    const role = (ns: string, name: string, cfg: Record<string, unknown>) => new Role(topo.spawn(ns, [...run(ns), ROLE, name, JSON.stringify(cfg)]), timeline);
    const target = role(topo.t, "target", { target: A.target, home: topo.targetLink });
    const agent = o.sameSubnet ? null : role(topo.a, "agent", { agent: A.agent, home: "a-h" });
    await target.wait("ready");
    if (agent) await agent.wait("ready");
    const node = role(topo.n, "node", { correspondent: A.correspondent, port: APP_PORT, transferred: A.transferred, node: A.node });
    await node.wait("connected");
    mark("app", `TCP ${A.transferred} <-> ${A.correspondent}:${APP_PORT}: 100-byte records every 2 ms, both ways`);
    await sleep(o.beforeMs ?? 1000);

    const key = hexKey();
    const spi = 0x1000 + Math.floor(Math.random() * 0xffff);
    const decided = now();
    mark("N", "decides to transfer the session to T");
    target.send({ cmd: "expect", key, spi, transferred: A.transferred, agent: agent ? A.agent : undefined, reverse: !!o.reverse, controlPort: DEFAULT_PORT });
    await target.wait("expecting");
    node.send({ cmd: "transfer", key, spi, target: A.target, controlPort: DEFAULT_PORT });
    await node.wait("transferred");
    if (agent) {
      agent.send({ cmd: "claim", key, target: A.target, transferred: A.transferred, reverse: !!o.reverse });
      await agent.wait("claimed");
    } else {
      target.send({ cmd: "claim", transferred: A.transferred });
      await target.wait("claimed");
    }
    target.send({ cmd: "go", transferred: A.transferred, controlPort: DEFAULT_PORT });
    await target.wait("resumed");
    await sleep(o.afterMs ?? 1500);
    node.send({ cmd: "report" });
    report.node = (await node.wait("summary")).summary;
    target.send({ cmd: "report" });
    const mid = (await target.wait("summary")).summary as AppSummary;
    if (mid.firstDataAt) report.transferMs = Math.round((mid.firstDataAt - decided) * 1000) / 1000;
    target.events.splice(target.events.findIndex((e) => e.summary !== undefined), 1);
    target.send({ cmd: "finish" });
    report.target = (await target.wait("summary", 8000)).summary;
    mark("app", "the target's application ended the session");
    report.correspondent = await correspondentSummary(c);
  } catch (e) {
    report.error = (e as Error).message;
  } finally {
    report.filtered = topo.filtered();
    topo.down();
  }
  return verdict(report);
}
