// Session-specific addresses on real kernels (docs/PROTOCOL.md 8.18, the
// second seed's FIG. 2a/2b): the transferring node N takes a session address
// from its static pool (the library's sessionAddress), aliased on its home
// link beside its base address, and holds a TCP session with correspondent
// C1 from it; a second TCP session with C2 and a UDP flow with each
// correspondent run from the base address. Only the session address moves,
// whole, to the target T: on a foreign subnet through the agent A (which
// accepts it because the address lies in the pool configured for N), or on
// the home link with proxy ARP from T itself (sameSubnet, FIG. 2b). Every
// other session stays with N, and N opens a new one meanwhile. The moved
// session ends at T; N is woken, releases the address (the last holder
// releases it) and the alias leaves its link. With `vanish`, T disappears
// instead (its process killed, its link down): the binding expires at the
// agent, N is woken and releases the address; the untransferred sessions
// lose nothing. Used by `handover demo sid-flows --session-address v4` and
// test/e2e/sid-addr.test.js.

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { SidTopology, cleanStale } from "./netns.ts";
import { Role, type SidTimelineEntry } from "./sid.ts";
import type { AppSummary } from "./sidapp.ts";
import { correspondent, trafficEnd, udpVerdict, sessionVerdict, waitFor, type SessionReport } from "./sidflows.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NODE = join(ROOT, "dist", "demo", "sidnode.js");
const FLOWNODE = join(ROOT, "dist", "demo", "sidflownode.js");
const NODE_BIN = (globalThis as any).Deno || (globalThis as any).Bun ? "node" : process.execPath;
const C2 = "198.18.9.3";
/** N's static pool of session addresses, on its home subnet; configured for N at the agent as well. */
const POOL = "198.18.1.50-198.18.1.59";

export interface SidAddrOptions {
  tag?: string;
  /** FIG. 2b: T is on the home link and claims the address itself (no agent). */
  sameSubnet?: boolean;
  /** T vanishes after the transfer (process killed, link down) instead of ending the session. */
  vanish?: boolean;
  beforeMs?: number;
  afterMs?: number;
}

export interface SidAddrReport {
  scenario: string;
  timeline: SidTimelineEntry[];
  /** The session address N got, and its base address. */
  sessionAddress: string | null;
  baseAddress: string;
  sessions: SessionReport[];
  transferMs: number | null;
  woken: boolean;
  /** After the end: N released the lease, the alias is off N's link, the agent (or T) holds nothing of it. */
  released: { leaseReleased: boolean; aliasGone: boolean; agentBindingGone: boolean };
  /** The base address stayed N's throughout (no binding, no stop rule for it). */
  baseStayed: boolean;
  error: string | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();
const hexKey = () => Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");

export async function runSidAddr(o: SidAddrOptions = {}): Promise<SidAddrReport> {
  const tag = o.tag ?? `s${process.pid % 100000}`;
  const timeline: SidTimelineEntry[] = [];
  const mark = (who: string, what: string) => timeline.push({ t: now(), who, what });
  cleanStale(tag);
  const same = !!o.sameSubnet;
  const topo = new SidTopology(tag, { sameSubnet: same });
  const A = topo.addr;
  const report: SidAddrReport = {
    scenario: `session-specific address (static pool, IPv4): one of two sessions moves with its own address to a target ${same ? "on the home link (proxy ARP from the target)" : "on a foreign subnet through the agent, reverse-tunnelled return, BCP 38 on the router"}${o.vanish ? "; the target vanishes" : ""}`,
    timeline, sessionAddress: null, baseAddress: A.node, sessions: [], transferMs: null, woken: false,
    released: { leaseReleased: false, aliasGone: false, agentBindingGone: false }, baseStayed: false, error: null,
  };
  const names = { n: `n-${tag}.sid`, a: `a-${tag}.sid`, t: `t-${tag}.sid` };
  const keys = { na: hexKey(), nt: hexKey(), at: hexKey() };
  const log = (globalThis as any).process?.env?.HANDOVER_DEMO_DEBUG ? "debug" : "info";
  const common = (name: string, address: string, link: string, options: Record<string, number>, listen = [address], extra: Record<string, unknown> = {}) => ({
    name, listen, control: false, register: false, auto: false, log, options, sid: { link, address, ...extra },
  });
  // A short binding lifetime, so that a vanished target's binding expires within the run.
  const lifetime = o.vanish ? 6 : 0;
  const daemons = {
    n: { ...common(names.n, A.node, "n-h", {}, ["0.0.0.0"], { addressPool: [POOL] }), peers: [
      { name: names.a, address: A.agent, sa: [{ spi: 256, key: keys.na }] },
      { name: names.t, address: A.target, sa: [{ spi: 257, key: keys.nt }] },
    ] },
    a: { ...common(names.a, A.agent, "a-h", { sidAgent: 1 }), peers: [
      { name: names.n, address: A.node, pools: [POOL], sa: [{ spi: 256, key: keys.na }] },
      { name: names.t, address: A.target, sa: [{ spi: 258, key: keys.at }] },
    ] },
    t: { ...common(names.t, A.target, topo.targetLink, { sidTarget: 1, sidAllowReverse: 1 }), peers: [
      { name: names.n, address: A.node, sa: [{ spi: 257, key: keys.nt }] },
      { name: names.a, address: A.agent, sa: [{ spi: 258, key: keys.at }] },
    ] },
  };
  const roles: Role[] = [];
  try {
    topo.up();
    topo.ns(topo.c, ["ip", "addr", "add", `${C2}/24`, "dev", "c-r"]);
    topo.try(topo.r, ["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0"]);
    mark("net", `namespaces up: C1 ${A.correspondent} and C2 ${C2}, N ${A.node} (session-address pool ${POOL}), ${same ? "" : `A ${A.agent}, `}T ${A.target}`);
    const c1 = await correspondent(topo, A.correspondent, 5001);
    const c2 = await correspondent(topo, C2, 5001);
    const c3 = await correspondent(topo, A.correspondent, 5002);
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
    const agent = same ? null : role(topo.a, NODE, { role: "agent", daemon: daemons.a });
    await target.wait("ready");
    if (agent) await agent.wait("ready");
    const node = role(topo.n, FLOWNODE, { daemon: daemons.n, local: A.node });
    await node.wait("ready");
    node.send({ cmd: "address", generator: "static" });
    const SA = (await waitFor(node, (e) => e.sessionAddress !== undefined, "the session address")).sessionAddress.address as string;
    report.sessionAddress = SA;
    const onLink = () => topo.ns(topo.n, ["ip", "-4", "addr", "show", "dev", "n-h"]);
    if (!onLink().includes(`${SA}/32`)) throw new Error(`the session address ${SA} is not on N's link: ${onLink()}`);
    mark("N", `the application got the session address ${SA} (static pool), aliased on n-h beside ${A.node}`);
    for (const [name, c, local] of [["s1", c1, SA], ["s2", c2, A.node]] as const) {
      node.send({ cmd: "connect", name, correspondent: c.address, port: c.port, local });
      await waitFor(node, (e) => e.connected === name, `session ${name}`);
    }
    const udpMs = (o.beforeMs ?? 1000) + (o.afterMs ?? 1500) + (o.vanish ? 9000 : 1000);
    for (const u of udp) {
      u.client = trafficEnd(topo, topo.n, ["client", "--proto", "udp", "--connect", u.address, "--port", "5003", "--local", A.node, "--duration", String(udpMs), "--interval", "2", "--size", "100"]);
      await u.client.until("ready");
    }
    mark("app", `TCP sessions s1 ${SA} <-> C1 ${A.correspondent}:5001 (session address) and s2 ${A.node} <-> C2 ${C2}:5001 (base address), UDP u1 and u2 from ${A.node}`);
    await sleep(o.beforeMs ?? 1000);
    const decided = now();
    mark("N", `the application moves session s1: only its address ${SA} goes to T`);
    node.send({ cmd: "transfer", name: "s1", target: names.t, agent: names.a, reverse: !same, perFlow: false, sameSubnet: same, lifetime });
    const moved = await waitFor(node, (e) => e.moved === "s1", "the transfer's result", 15000);
    if (moved.result.state !== "transferred") throw new Error(`the transfer failed: ${moved.result.error ?? ""} ${moved.result.message ?? ""} (code ${moved.result.code ?? "-"})`);
    const s1AtNode = moved.here as { sent: number; received: number };
    await target.wait("resumed", 10000);
    node.send({ cmd: "connect", name: "s3", correspondent: c3.address, port: c3.port, local: A.node });
    await waitFor(node, (e) => e.connected === "s3", "session s3");
    mark("N", `opens session s3 from ${A.node} to C1 ${A.correspondent}:5002 while s1 is away`);
    const nft = topo.try(topo.n, ["nft", "list", "ruleset"]).out;
    report.baseStayed = !nft.includes(A.node) && onLink().includes(`${A.node}/24`);
    await sleep(o.afterMs ?? 1500);
    let s1: AppSummary | null = null;
    if (o.vanish) {
      mark("T", "vanishes: its process killed, its link down");
      target.child.kill("SIGKILL");
      topo.try(topo.t, ["ip", "link", "set", topo.targetLink, "down"]);
    } else {
      target.send({ cmd: "report" });
      const mid = (await target.wait("summary")).summary as AppSummary;
      if (mid.firstDataAt) report.transferMs = Math.round((mid.firstDataAt - decided) * 1000) / 1000;
      target.events.splice(target.events.findIndex((e) => e.summary !== undefined), 1);
      target.send({ cmd: "finish" });
      s1 = (await target.wait("summary", 8000)).summary as AppSummary;
      mark("app", "s1 ends at T (the target's application closes it)");
    }
    await waitFor(node, (e) => e.sid?.role === "node" && e.sid?.state === "woken", "the Wake-up at the node", o.vanish ? 20000 : 10000);
    report.woken = true;
    await waitFor(node, (e) => e.sessionAddressEvent?.state === "released", "the release of the session address", 5000);
    report.released.leaseReleased = true;
    report.released.aliasGone = !onLink().includes(`${SA}/`);
    if (agent) {
      agent.send({ cmd: "state" });
      const st = await agent.wait("state");
      report.released.agentBindingGone = ((st.state as any).bindings?.count ?? 0) === 0;
    } else report.released.agentBindingGone = true;
    mark("net", `N released ${SA}: the alias ${report.released.aliasGone ? "left" : "STAYED on"} n-h; ${agent ? `the agent's binding ${report.released.agentBindingGone ? "is gone" : "STAYED"}` : "no agent"}`);
    const summaries: Record<string, AppSummary> = {};
    for (const name of ["s2", "s3"]) {
      node.send({ cmd: "finish", name });
      summaries[name] = (await waitFor(node, (e) => e.finished === name, `the end of ${name}`, 8000)).summary;
    }
    const udpSummaries = [];
    for (const u of udp) udpSummaries.push({ u, client: await u.client!.end(udpMs + 2000) });
    for (const x of udpSummaries) Object.assign(x, { server: await x.u.server.end() });
    mark("app", "s2, s3, u1 and u2 end at N");
    if (o.vanish) {
      // s1 died with T: the correspondent ends it (its summary, if any, is not judged for loss).
      c1.child.kill("SIGTERM");
      report.sessions.push({ ...sessionVerdict("s1", null, null, true, s1AtNode, c1.address), servedBy: "target" });
    } else report.sessions.push(sessionVerdict("s1", await c1.result(), s1, true, s1AtNode, c1.address));
    report.sessions.push(sessionVerdict("s2", await c2.result(), summaries.s2, false, { sent: 0, received: 0 }, c2.address));
    report.sessions.push(sessionVerdict("s3", await c3.result(), summaries.s3, false, { sent: 0, received: 0 }, c3.address));
    for (const x of udpSummaries as { u: { name: string; address: string }; client: any; server?: any }[]) report.sessions.push(udpVerdict(x.u.name, x.client, x.server, x.u.address));
  } catch (e) {
    report.error = (e as Error).message;
    if ((globalThis as any).process?.env?.HANDOVER_FLOWS_DUMP) {
      for (const r of roles) console.error(`== role stderr (warn/error)\n${r.stderr.split("\n").filter((l) => /"level":"(warn|error)"/.test(l)).join("\n")}`);
      for (const [ns, cmd] of [[topo.a, "nft list ruleset"], [topo.a, "ip route show table all"], [topo.n, "ip addr"], [topo.n, "nft list ruleset"], [topo.t, "ip addr"], [topo.r, "ip neigh"]] as const) {
        const r = topo.try(ns, ["sh", "-c", cmd]);
        console.error(`== ${ns}: ${cmd}\n${r.out}${r.err}`);
      }
    }
  } finally {
    topo.down();
  }
  timeline.sort((a, b) => a.t - b.t);
  return report;
}

/** Every session that should be intact is (s1 too unless the target vanished), and the address went back. */
export const sidAddrOk = (r: SidAddrReport, vanish = false): boolean =>
  r.error === null && r.woken && r.baseStayed && Object.values(r.released).every(Boolean) && r.sessions.length === 5 &&
  r.sessions.every((s) => (vanish && s.name === "s1") || (s.digestsEqual && s.lost === 0 && s.resets === 0));
