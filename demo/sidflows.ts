// SID's per-flow mode on real kernels (docs/PROTOCOL.md 8.16, the Session
// Agent, the second seed's FIG. 3): the transferring node N holds a TCP
// session with each of two correspondents (tools/traffic.js on C1 and C2);
// one session moves to the target T on a foreign subnet through the agent A,
// the other stays with N, and so does a UDP flow with each correspondent;
// while the transfer is live N opens a new session;
// then the moved session ends at T, the agent wakes N at its Interim Address
// and N takes its address back. Per session: bytes, SHA-256 at both ends,
// lost, resets, and which device served it. Used by `handover demo sid-flows`
// and test/e2e/sid-flows.test.js. HANDOVER_FLOWS_DUMP=1: on a failure, the
// agent's and the node's rules, routes and neighbours go to stderr before the
// namespaces are removed.

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { SidTopology, cleanStale } from "./netns.ts";
import { lines } from "./stem.ts";
import { Role, NODE_BIN, type SidTimelineEntry, type CorrespondentSummary } from "./sid.ts";
import type { AppSummary } from "./sidapp.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TRAFFIC = join(ROOT, "tools", "traffic.js");
export const NODE = join(ROOT, "dist", "demo", "sidnode.js");
export const FLOWNODE = join(ROOT, "dist", "demo", "sidflownode.js");
/** The second correspondent's address (on C's link, beside the first). */
export const C2 = "198.18.9.3";
/** The node's Interim Address pool (its home subnet). */
const INTERIM = "198.18.1.20";

export interface SidFlowsOptions {
  tag?: string;
  /** How long the sessions run before the transfer, and after it (ms). */
  beforeMs?: number;
  afterMs?: number;
  /** The target gives s1 back to the node (the per-flow return, PROTOCOL.md 8.16) instead of ending it; s1 ends at the node. */
  back?: boolean;
  /**
   * R's bridge (the home link) drops every Wake-up (message type 22) from the moment the target is asked to
   * end s1 until this many ms after the agent ended the flow set: the node keeps its address's ARP silence
   * that long while the router still sends the address's packets to the agent.
   */
  wakeLossMs?: number;
}

export interface SessionReport {
  name: string;
  correspondent: string;
  /** Moved to the target, or kept by the node. */
  moved: boolean;
  /** The device whose application ended the session. */
  servedBy: "node" | "target";
  /** Bytes each device's application sent and received itself. */
  served: { node: { sent: number; received: number }; target: { sent: number; received: number } };
  sentBytes: number;
  receivedBytes: number;
  digestsEqual: boolean;
  lost: number;
  resets: number;
  /** UDP: datagrams that arrived after a higher number (both ends; traffic.js "reordered", duplicates included), and of those the repeated ones. */
  late?: number;
  duplicates?: number;
  /** UDP: each end's first late arrivals ({seq, after, at, dup}; at: Unix ms), to place them on the timeline. */
  lateAt?: { client: unknown[]; server: unknown[] };
}

export interface SidFlowsReport {
  scenario: string;
  timeline: SidTimelineEntry[];
  sessions: SessionReport[];
  /** From the decision to the first correspondent byte at the target. */
  transferMs: number | null;
  /** The node got its address back (Wake-up to its Interim Address). */
  woken: boolean;
  /** The agent's state while the flow set lasted: flow sets and flows. */
  agentFlowSets: number;
  /** After the Wake-up: the agent's sorting table and mark rules are gone, the node's Interim Address is off its link. */
  returned: { agentSortingGone: boolean; agentMarkRulesGone: boolean; interimGone: boolean };
  /** With wakeLossMs: the Wake-up frames R's bridge dropped (-1 without). */
  wakeUpsDropped: number;
  error: string | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();
const hexKey = () => Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");

export async function waitFor(role: Role, pred: (e: any) => boolean, what: string, ms = 10000): Promise<any> {
  const end = now() + ms;
  for (;;) {
    const hit = role.events.find(pred);
    if (hit) return hit;
    const err = role.events.find((e) => e.error !== undefined);
    if (err) throw new Error(`${err.who}: ${err.error}`);
    if (now() > end) throw new Error(`no ${what} within ${ms} ms (stderr: ${role.stderr.slice(-400)})`);
    await sleep(5);
  }
}

/** A traffic.js server in C on address:port; its summary arrives when the session ends. */
export async function correspondent(topo: SidTopology, address: string, port: number) {
  const summary: { v: CorrespondentSummary | null } = { v: null };
  let listening = false;
  const child: ChildProcess = topo.spawn(topo.c, [NODE_BIN, TRAFFIC, "server", "--proto", "tcp", "--bind", address, "--port", String(port), "--interval", "2"]);
  lines(child.stdout, (x) => {
    if (x.listening) listening = true;
    if (x.sentBytes !== undefined) summary.v = x;
  });
  for (const end = now() + 5000; !listening; await sleep(10)) if (now() > end) throw new Error(`the correspondent ${address}:${port} did not listen`);
  return {
    address, port, child, summary,
    async result(): Promise<CorrespondentSummary | null> {
      for (const end = now() + 5000; !summary.v; await sleep(10)) if (now() > end) break;
      if (!summary.v) child.kill("SIGTERM");
      for (const end = now() + 2000; !summary.v; await sleep(10)) if (now() > end) break;
      return summary.v;
    },
  };
}

/** A tools/traffic.js process (a UDP end): listening/ready, and its summary when it ends. */
export function trafficEnd(topo: SidTopology, ns: string, args: string[]) {
  const st: { listening: boolean; ready: boolean; summary: any } = { listening: false, ready: false, summary: null };
  const child: ChildProcess = topo.spawn(ns, [NODE_BIN, TRAFFIC, ...args]);
  lines(child.stdout, (x) => {
    if (x.listening) st.listening = true;
    if (x.ready) st.ready = true;
    if (x.sentBytes !== undefined) st.summary = x;
  });
  return {
    st, child,
    async until(key: "listening" | "ready", ms = 5000) {
      for (const end = now() + ms; !st[key]; await sleep(10)) if (now() > end) throw new Error(`traffic.js ${args.join(" ")}: not ${key} within ${ms} ms`);
    },
    /** Waits up to `ms` for the summary (the client ends after its duration, the server at the end marker), then SIGTERM. */
    async end(ms = 3000) {
      for (const end = now() + ms; !st.summary; await sleep(10)) if (now() > end) break;
      if (!st.summary) child.kill("SIGTERM");
      for (const end = now() + 2000; !st.summary; await sleep(10)) if (now() > end) break;
      return st.summary;
    },
  };
}

/** A UDP flow that stays with the node: the client's and the server's summaries. */
export function udpVerdict(name: string, client: any, server: any, correspondentAddress: string): SessionReport {
  const r: SessionReport = {
    name, correspondent: correspondentAddress, moved: false, servedBy: "node", served: { node: { sent: 0, received: 0 }, target: { sent: 0, received: 0 } },
    sentBytes: 0, receivedBytes: 0, digestsEqual: false, lost: -1, resets: -1,
  };
  if (client && server) {
    r.sentBytes = client.sentBytes + server.sentBytes;
    r.receivedBytes = client.receivedBytes + server.receivedBytes;
    r.digestsEqual = client.sha256Sent === server.sha256Received && server.sha256Sent === client.sha256Received;
    r.lost = client.lost + server.lost + Math.abs(r.sentBytes - r.receivedBytes);
    r.resets = 0;
    r.late = (client.reordered ?? 0) + (server.reordered ?? 0);
    r.duplicates = (client.duplicates ?? 0) + (server.duplicates ?? 0);
    if ((r.late ?? 0) > 0) r.lateAt = { client: client.late ?? [], server: server.late ?? [] };
    r.served.node = { sent: client.sentBytes, received: client.receivedBytes };
  }
  return r;
}

export function sessionVerdict(name: string, c: CorrespondentSummary | null, app: AppSummary | null, moved: boolean, nodeShare: { sent: number; received: number }, correspondentAddress: string): SessionReport {
  const r: SessionReport = {
    name, correspondent: correspondentAddress, moved, servedBy: moved ? "target" : "node",
    served: { node: nodeShare, target: { sent: 0, received: 0 } },
    sentBytes: 0, receivedBytes: 0, digestsEqual: false, lost: -1, resets: -1,
  };
  if (c && app) {
    r.sentBytes = c.sentBytes + app.sentBytes;
    r.receivedBytes = c.receivedBytes + app.receivedBytes;
    r.digestsEqual = c.sha256Received === app.sha256Sent && c.sha256Sent === app.sha256Received;
    r.lost = Math.abs(app.sentBytes - c.receivedBytes) + Math.abs(c.sentBytes - app.receivedBytes);
    r.resets = c.resets + app.errors.filter((e) => e === "ECONNRESET" || e === "EPIPE").length;
    if (moved) r.served.target = app.here;
    else r.served.node = app.here;
  }
  return r;
}

export async function runSidFlows(o: SidFlowsOptions = {}): Promise<SidFlowsReport> {
  const tag = o.tag ?? `f${process.pid % 100000}`;
  const timeline: SidTimelineEntry[] = [];
  const mark = (who: string, what: string) => timeline.push({ t: now(), who, what });
  cleanStale(tag);
  const topo = new SidTopology(tag, {});
  const A = topo.addr;
  const report: SidFlowsReport = {
    scenario: "per-flow mode (Session Agent): one of two sessions moves to a foreign target, reverse-tunnelled return, BCP 38 on the router",
    timeline, sessions: [], transferMs: null, woken: false, agentFlowSets: 0,
    returned: { agentSortingGone: false, agentMarkRulesGone: false, interimGone: false }, wakeUpsDropped: -1, error: null,
  };
  const names = { n: `n-${tag}.sid`, a: `a-${tag}.sid`, t: `t-${tag}.sid` };
  const keys = { na: hexKey(), nt: hexKey(), at: hexKey() };
  const common = (name: string, address: string, link: string, options: Record<string, number>, listen = [address], interim?: string[]) => ({
    name, listen, control: false, register: false, auto: false, log: (globalThis as any).process?.env?.HANDOVER_DEMO_DEBUG ? "debug" : "info", options, sid: { link, address, ...(interim ? { interim } : {}) },
  });
  const daemons = {
    n: { ...common(names.n, A.node, "n-h", {}, ["0.0.0.0"], [INTERIM]), peers: [
      { name: names.a, address: A.agent, sa: [{ spi: 256, key: keys.na }] },
      { name: names.t, address: A.target, sa: [{ spi: 257, key: keys.nt }] },
    ] },
    a: { ...common(names.a, A.agent, "a-h", { sidAgent: 1 }), peers: [
      { name: names.n, address: A.node, addresses: [A.transferred], sa: [{ spi: 256, key: keys.na }] },
      { name: names.t, address: A.target, sa: [{ spi: 258, key: keys.at }] },
    ] },
    t: { ...common(names.t, A.target, topo.targetLink, { sidTarget: 1, sidAllowReverse: 1 }), peers: [
      { name: names.n, address: A.node, sa: [{ spi: 257, key: keys.nt }] },
      { name: names.a, address: A.agent, sa: [{ spi: 258, key: keys.at }] },
    ] },
  };
  const cs: Awaited<ReturnType<typeof correspondent>>[] = [];
  const roles: Role[] = [];
  try {
    topo.up();
    topo.ns(topo.c, ["ip", "addr", "add", `${C2}/24`, "dev", "c-r"]);
    // R's ingress filter is for what R routes. Where br_netfilter is loaded, frames R only bridges on
    // the home link (the agent handing the node its untransferred flows) would pass R's inet forward
    // hook too, and their foreign sources would be dropped: this R does not filter bridged frames.
    topo.try(topo.r, ["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0"]);
    // The agent forwards the node's untransferred flows back out of the home link: no redirects for them.
    topo.ns(topo.a, ["sysctl", "-qw", "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.a-h.send_redirects=0"]);
    mark("net", `namespaces up: C1 ${A.correspondent} and C2 ${C2}, N ${A.node} with X ${A.transferred} (Interim Address pool ${INTERIM}), A ${A.agent}, T ${A.target}`);
    const c1 = await correspondent(topo, A.correspondent, 5001);
    const c2 = await correspondent(topo, C2, 5001);
    const c3 = await correspondent(topo, A.correspondent, 5002);
    cs.push(c1, c2, c3);
    // A UDP flow with each correspondent, from the node's address; they stay with the node.
    const udp = [["u1", A.correspondent], ["u2", C2]].map(([name, address]) => ({
      name, address, server: trafficEnd(topo, topo.c, ["server", "--proto", "udp", "--bind", address, "--port", "5003"]), client: null as ReturnType<typeof trafficEnd> | null,
    }));
    for (const u of udp) await u.server.until("listening");
    const role = (ns: string, script: string, cfg: unknown) => {
      const r = new Role(topo.spawn(ns, [NODE_BIN, script, JSON.stringify(cfg)]), timeline);
      roles.push(r);
      return r;
    };
    const target = role(topo.t, NODE, { role: "target", daemon: daemons.t });
    const agent = role(topo.a, NODE, { role: "agent", daemon: daemons.a });
    await target.wait("ready");
    await agent.wait("ready");
    const node = role(topo.n, FLOWNODE, { daemon: daemons.n, local: A.transferred });
    await node.wait("ready");
    for (const [name, c] of [["s1", c1], ["s2", c2]] as const) {
      node.send({ cmd: "connect", name, correspondent: c.address, port: c.port });
      await waitFor(node, (e) => e.connected === name, `session ${name}`);
    }
    // They run through the transfer and end by themselves (the end marker) before the TCP sessions do.
    const udpMs = (o.beforeMs ?? 1000) + (o.afterMs ?? 1500) + 1000 + (o.wakeLossMs ?? 0);
    for (const u of udp) {
      u.client = trafficEnd(topo, topo.n, ["client", "--proto", "udp", "--connect", u.address, "--port", "5003", "--local", A.transferred, "--duration", String(udpMs), "--interval", "2", "--size", "100"]);
      await u.client.until("ready");
    }
    mark("app", `TCP sessions s1 ${A.transferred} <-> C1 ${A.correspondent}:5001 and s2 ${A.transferred} <-> C2 ${C2}:5001, UDP flows u1 and u2 with C1 and C2 (port 5003): 100-byte records every 2 ms, both ways`);
    await sleep(o.beforeMs ?? 1000);
    const decided = now();
    mark("N", "the application asks to move session s1 (only) to T");
    node.send({ cmd: "transfer", name: "s1", target: names.t, agent: names.a, reverse: true });
    const moved = await waitFor(node, (e) => e.moved === "s1", "the transfer's result", 15000);
    if (moved.result.state !== "transferred") throw new Error(`the transfer failed: ${moved.result.error ?? ""} ${moved.result.message ?? ""} (code ${moved.result.code ?? "-"})`);
    const s1AtNode = moved.here as { sent: number; received: number };
    await target.wait("resumed", 10000);
    node.send({ cmd: "connect", name: "s3", correspondent: c3.address, port: c3.port });
    await waitFor(node, (e) => e.connected === "s3", "session s3");
    mark("N", `opens session s3 to C1 ${A.correspondent}:5002 while s1 is away`);
    agent.send({ cmd: "state" });
    const st = await agent.wait("state");
    report.agentFlowSets = ((st.state.flowSets ?? []) as unknown[]).length;
    await sleep(o.afterMs ?? 1500);
    target.send({ cmd: "report" });
    const mid = (await target.wait("summary")).summary as AppSummary;
    if (mid.firstDataAt) report.transferMs = Math.round((mid.firstDataAt - decided) * 1000) / 1000;
    target.events.splice(target.events.findIndex((e) => e.summary !== undefined), 1);
    let s1: AppSummary;
    let s1AtTarget: { sent: number; received: number } | null = null;
    if (o.back) {
      // The per-flow return (PROTOCOL.md 8.16): T gives s1 back; N stops the flow set at the agent, which
      // (its last set) then wakes N at its Interim Address; s1 carries on at N and ends there.
      mark("T", "the application gives session s1 back to N (a per-flow return)");
      target.send({ cmd: "transfer", target: names.n, agent: names.a, reverse: true });
      const answer = await target.wait("result", 15000);
      if (answer.result.state !== "transferred") throw new Error(`the return failed: ${answer.result.error ?? ""} ${answer.result.message ?? ""} (code ${answer.result.code ?? "-"})`);
      s1AtTarget = answer.here;
      await waitFor(node, (e) => e.resumed === "s1", "s1 back at the node", 10000);
      await waitFor(node, (e) => e.sid?.role === "node" && e.sid?.state === "woken", "the Wake-up at the node", 10000);
      report.woken = true;
      await sleep(o.afterMs ?? 1500);
      node.send({ cmd: "finish", name: "s1" });
      s1 = (await waitFor(node, (e) => e.finished === "s1", "the end of s1", 8000)).summary;
      mark("app", "s1 ends at N, where it came back");
    } else {
      // The moved session ends at T: its flow set deregisters, the agent wakes the node.
      if (o.wakeLossMs) {
        // udp dport 4346, the second byte of the payload (the message type) 22: the Wake-up.
        topo.ns(topo.r, ["nft", "-f", "-"], "table bridge wakeloss {\n  chain forward { type filter hook forward priority -10; policy accept;\n    udp dport 4346 @th,72,8 22 counter drop\n  }\n}\n");
        mark("net", "R's bridge drops every Wake-up on the home link");
      }
      target.send({ cmd: "finish" });
      s1 = (await target.wait("summary", 8000)).summary as AppSummary;
      mark("app", "s1 ends at T (the target's application closes it)");
      if (o.wakeLossMs) {
        await waitFor(agent, (e) => e.sid?.role === "agent" && e.sid?.state === "ended", "the flow set's end at the agent", 8000);
        await sleep(o.wakeLossMs);
        const listed = JSON.parse(topo.ns(topo.r, ["nft", "-j", "list", "table", "bridge", "wakeloss"]));
        const counter = listed.nftables.find((x: any) => x.rule)?.rule.expr.find((e: any) => e.counter);
        report.wakeUpsDropped = counter ? counter.counter.packets : -1;
        topo.ns(topo.r, ["nft", "delete", "table", "bridge", "wakeloss"]);
        mark("net", `R's bridge lets Wake-ups pass again (${report.wakeUpsDropped} dropped)`);
      }
      await waitFor(node, (e) => e.sid?.role === "node" && e.sid?.state === "woken", "the Wake-up at the node", 10000);
      report.woken = true;
    }
    await sleep(300);
    report.returned = {
      agentSortingGone: topo.try(topo.a, ["nft", "list", "table", "inet", "hovflow"]).status !== 0,
      agentMarkRulesGone: !/fwmark/.test(topo.ns(topo.a, ["ip", "rule"])),
      interimGone: !topo.ns(topo.n, ["ip", "-4", "addr", "show", "dev", "n-h"]).includes(`${INTERIM}/`),
    };
    mark("net", `the agent's sorting table ${report.returned.agentSortingGone ? "is gone" : "STAYED"}, its mark rules ${report.returned.agentMarkRulesGone ? "are gone" : "STAYED"}; the Interim Address ${report.returned.interimGone ? "left" : "STAYED on"} N's link`);
    const summaries: Record<string, AppSummary> = {};
    for (const name of ["s2", "s3"]) {
      node.send({ cmd: "finish", name });
      summaries[name] = (await waitFor(node, (e) => e.finished === name, `the end of ${name}`, 8000)).summary;
    }
    const udpSummaries = [];
    for (const u of udp) udpSummaries.push({ u, client: await u.client!.end(udpMs + 2000) });
    for (const x of udpSummaries) Object.assign(x, { server: await x.u.server.end() });
    mark("app", "s2, s3, u1 and u2 end at N");
    const v1 = sessionVerdict("s1", await c1.result(), s1, true, s1AtNode, c1.address);
    if (s1AtTarget) {
      // Back at the node: its application's share counts the node's whole part (before and after); the target's is what it had at the return.
      v1.servedBy = "node";
      v1.served = { node: s1.here, target: s1AtTarget };
    }
    report.sessions.push(v1);
    report.sessions.push(sessionVerdict("s2", await c2.result(), summaries.s2, false, { sent: 0, received: 0 }, c2.address));
    report.sessions.push(sessionVerdict("s3", await c3.result(), summaries.s3, false, { sent: 0, received: 0 }, c3.address));
    for (const x of udpSummaries as { u: { name: string; address: string }; client: any; server?: any }[]) report.sessions.push(udpVerdict(x.u.name, x.client, x.server, x.u.address));
  } catch (e) {
    report.error = (e as Error).message;
    if ((globalThis as any).process?.env?.HANDOVER_FLOWS_DUMP) {
      for (const r of roles) console.error(`== role stderr (warn/error)\n${r.stderr.split("\n").filter((l) => /"level":"(warn|error)"/.test(l)).join("\n")}`);
      for (const [ns, cmd] of [[topo.a, "nft list ruleset"], [topo.a, "ip rule"], [topo.a, "ip route show table all"], [topo.a, "ip neigh"], [topo.n, "ip addr"], [topo.n, "nft list ruleset"], [topo.n, "ip neigh"], [topo.r, "ip neigh"], [topo.n, "ss -tn"]] as const) {
        const r = topo.try(ns, ["sh", "-c", cmd]);
        console.error(`== ${ns}: ${cmd}\n${r.out}${r.err}`);
      }
    }
  } finally {
    topo.down();
  }
  timeline.sort((a, b) => a.t - b.t);
  // Each late datagram placed on the timeline: the last entry before it and how long after it.
  for (const r of report.sessions) for (const l of [...(r.lateAt?.client ?? []), ...(r.lateAt?.server ?? [])] as { at: number; since?: string }[]) {
    const before = timeline.filter((e) => e.t <= l.at).pop();
    if (before) l.since = `${Math.round((l.at - before.t) * 1000) / 1000} ms after ${before.who}: ${before.what.slice(0, 80)}`;
  }
  return report;
}

export const sidFlowsOk = (r: SidFlowsReport): boolean =>
  r.error === null && r.woken && Object.values(r.returned).every(Boolean) && r.sessions.length === 5 && r.sessions.every((s) => s.digestsEqual && s.lost === 0 && s.resets === 0);
