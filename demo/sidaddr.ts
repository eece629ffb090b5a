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
// lose nothing. With `chain` T moves s1 on to U (permitted by N, or refused:
// 140), with `back` T gives it back to N (a return): the last holder releases
// the address. With `leaseLost` (DHCP) a new server NAKs N's renewal: the
// lease ends, s1 with its address, the rest goes on. Used by
// `handover demo sid-flows --session-address v4` and
// test/e2e/sid-addr.test.js.

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { SidTopology, cleanStale } from "./netns.ts";
import { DEFAULT_PORT } from "../hosts/shared/registry.ts";
import { Role, NODE_BIN, type SidTimelineEntry } from "./sid.ts";
import { lines } from "./stem.ts";
import type { AppSummary } from "./sidapp.ts";
import { correspondent, trafficEnd, udpVerdict, sessionVerdict, waitFor, type SessionReport, NODE, FLOWNODE, C2 } from "./sidflows.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** N's static pool of session addresses, on its home subnet; configured for N at the agent as well. */
const POOL = "198.18.1.50-198.18.1.59";

export interface SidAddrOptions {
  tag?: string;
  /** FIG. 2b: T is on the home link and claims the address itself (no agent). */
  sameSubnet?: boolean;
  /** T vanishes after the transfer (process killed, link down) instead of ending the session. */
  vanish?: boolean;
  /** Before the real transfer, T (a peer the agent knows) sends a forged Transfer Request for N's session address. */
  forge?: boolean;
  /**
   * The session address from DHCP (PROTOCOL.md 8.19) instead of the static
   * pool: dnsmasq on the router's home bridge serves the pool's range (2-minute
   * leases, T1 4 s, T2 8 s); N and T run `sid.dhcp`; the lease travels with the
   * transfer, T renews it and, as the last holder, releases it.
   */
  dhcp?: boolean;
  /**
   * After the transfer, T moves s1 on to a second target U on another foreign subnet (a further transfer,
   * 8.6): "permitted" (N's transfer allowed it, F) or "refused" (it did not: the agent refuses, s1 stays at T).
   */
  chain?: "permitted" | "refused";
  /** After the transfer (and a refused chain), T gives s1 back to N (a return, 8.6); N ends it and releases the address. */
  back?: boolean;
  /**
   * With dhcp, no transfer: dnsmasq is replaced by a server that does not know the lease (another range, an empty
   * lease file, authoritative): N's renewal at T1 gets a NAK and the lease ends (`expired`, the state a lease that
   * runs out reaches too, PROTOCOL.md 8.19); its alias goes and s1 with it; the base address's sessions go on.
   */
  leaseLost?: boolean;
  /**
   * A second session address: N takes it too, holds session s4 from it with C2 (port 5002), and moves it to the
   * same target through the same agent after s1, with the binding lifetime `lifetime` (s) for both, so that the
   * target renews two bindings with one agent meanwhile (afterMs long enough); both end at T, N is woken for
   * each and releases both addresses.
   */
  second?: boolean;
  lifetime?: number;
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
  /** With `forge`: the agent's reply code, and whether its bindings and kernel state stayed as they were. */
  forged: { code: number | string | null; bindingsAfter: number; agentKernelUnchanged: boolean } | null;
  /** With dhcp: dnsmasq's view: leased to N's MAC, renewed by T (its MAC, N's client id), released at the end. */
  dhcp?: { leasedToNode: boolean; renewedByTarget: boolean; releasedAtServer: boolean; clientId: string; renewedByLast?: boolean;
    /** With vanish: the lease at dnsmasq when T vanished and after N's release: left to expire there, nobody renewing it. */
    vanished?: { leasedAtVanish: boolean; leasedAtEnd: boolean; renewedSince: boolean; serverExpiresInS: number } };
  /**
   * With chain or back: the further transfer's and the return's results, who held s1 last (and so released its
   * address), and each holder's share of s1 (bytes received and sent while it held it).
   */
  moves?: { further: { state: string; code?: number } | null; back: { state: string; code?: number } | null; lastHolder: "T" | "U" | "N"; shares: Record<string, { sent: number; received: number }> };
  /** With second: the second session address, and the agent's and the target's SID events (state, address, reason or error). */
  second?: { address: string; released: Record<string, boolean>; agent: { state: string; address: string; reason: string | null }[]; target: { state: string; address: string; reason: string | null; error: string | null }[] };
  /** With leaseLost: the lease's end at N (its state, ms after the server changed) and whether its alias went. */
  lost?: { state: string; afterMs: number; aliasGone: boolean; s1Errors: string[] };
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
  if ((o.chain || o.back) && (same || o.vanish)) throw new Error("chain and back need a foreign target that stays");
  if (o.leaseLost && !o.dhcp) throw new Error("leaseLost needs dhcp");
  const topo = new SidTopology(tag, { sameSubnet: same, second: !!o.chain });
  const A = topo.addr;
  const report: SidAddrReport = {
    scenario: `session-specific address (${o.dhcp ? "DHCPv4 from dnsmasq" : "static pool"}, IPv4): one of two sessions moves with its own address to a target ${same ? "on the home link (proxy ARP from the target)" : "on a foreign subnet through the agent, reverse-tunnelled return, BCP 38 on the router"}${o.vanish ? "; the target vanishes" : ""}`,
    timeline, sessionAddress: null, baseAddress: A.node, sessions: [], transferMs: null, woken: false,
    released: { leaseReleased: false, aliasGone: false, agentBindingGone: false }, baseStayed: false, forged: null, error: null,
  };
  const names = { n: `n-${tag}.sid`, a: `a-${tag}.sid`, t: `t-${tag}.sid`, u: `u-${tag}.sid` };
  const keys = { na: hexKey(), nt: hexKey(), at: hexKey(), tu: hexKey(), au: hexKey() };
  const toU = o.chain ? { t: { name: names.u, address: A.second, sa: [{ spi: 259, key: keys.tu }] }, a: { name: names.u, address: A.second, sa: [{ spi: 260, key: keys.au }] } } : null;
  const log = (globalThis as any).process?.env?.HANDOVER_DEMO_DEBUG ? "debug" : "info";
  const common = (name: string, address: string, link: string, options: Record<string, number>, listen = [address], extra: Record<string, unknown> = {}) => ({
    name, listen, control: false, register: false, auto: false, log, options, sid: { link, address, ...extra },
  });
  // A short binding lifetime, so that a vanished target's binding expires within the run.
  const lifetime = o.lifetime ?? (o.vanish ? 6 : 0);
  if (o.second && (same || o.vanish || o.chain || o.back || o.dhcp || o.leaseLost)) throw new Error("second is a foreign target through the agent, static pool, sessions ending at T");
  const daemons = {
    n: { ...common(names.n, A.node, "n-h", {}, ["0.0.0.0"], o.dhcp ? { dhcp: true } : { addressPool: [POOL] }), peers: [
      { name: names.a, address: A.agent, sa: [{ spi: 256, key: keys.na }] },
      { name: names.t, address: A.target, sa: [{ spi: 257, key: keys.nt }] },
    ] },
    a: { ...common(names.a, A.agent, "a-h", { sidAgent: 1 }), peers: [
      { name: names.n, address: A.node, pools: [POOL], sa: [{ spi: 256, key: keys.na }] },
      { name: names.t, address: A.target, sa: [{ spi: 258, key: keys.at }] },
      ...(toU ? [toU.a] : []),
    ] },
    t: { ...common(names.t, A.target, topo.targetLink, { sidTarget: 1, sidAllowReverse: 1 }, [A.target], o.dhcp ? { dhcp: true } : {}), peers: [
      { name: names.n, address: A.node, sa: [{ spi: 257, key: keys.nt }] },
      { name: names.a, address: A.agent, sa: [{ spi: 258, key: keys.at }] },
      ...(toU ? [toU.t] : []),
    ] },
    u: { ...common(names.u, A.second, "u-f", { sidTarget: 1, sidAllowReverse: 1 }, [A.second], o.dhcp ? { dhcp: true } : {}), peers: [
      { name: names.t, address: A.target, sa: [{ spi: 259, key: keys.tu }] },
      { name: names.a, address: A.agent, sa: [{ spi: 260, key: keys.au }] },
    ] },
  };
  const roles: Role[] = [];
  const leaseDir = o.dhcp ? mkdtempSync(join(tmpdir(), `hov-${tag}-dhcp-`)) : "";
  let dnsmasq: ReturnType<SidTopology["spawn"]> | null = null;
  const startDnsmasq = (first: string, last: string) => topo.spawn(topo.r, ["dnsmasq", "--keep-in-foreground", "--port=0", "--interface=hbr", "--bind-interfaces", "--conf-file=/dev/null",
    `--dhcp-range=${first},${last},255.255.255.0,2m`, "--dhcp-option=option:T1,4", "--dhcp-option=option:T2,8", "--dhcp-authoritative",
    `--dhcp-leasefile=${join(leaseDir, "leases")}`, "--log-dhcp", `--log-facility=${join(leaseDir, "log")}`]);
  /** dnsmasq's lease file: address -> [mac, client id, expiry (s since the epoch)]. */
  const leases = (): Record<string, [string, string, number]> => {
    const f = join(leaseDir, "leases");
    if (!existsSync(f)) return {};
    return Object.fromEntries(readFileSync(f, "utf8").split("\n").filter(Boolean).map((l) => { const [exp, mac, a, , id] = l.split(" "); return [a, [mac, id.replaceAll(":", ""), Number(exp)]]; }));
  };
  let atVanish: [string, string, number] | undefined;
  try {
    topo.up();
    if (o.dhcp) {
      const [first, last] = POOL.split("-");
      dnsmasq = startDnsmasq(first, last);
      await sleep(300);
    }
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
    const second = o.chain ? role(topo.u, NODE, { role: "target", daemon: daemons.u, who: "U" }) : null;
    if (second) await second.wait("ready");
    const agent = same ? null : role(topo.a, NODE, { role: "agent", daemon: daemons.a });
    await target.wait("ready");
    if (agent) await agent.wait("ready");
    const node = role(topo.n, FLOWNODE, { daemon: daemons.n, local: A.node });
    await node.wait("ready");
    node.send({ cmd: "address", generator: o.dhcp ? "dhcp4" : "static" });
    const SA = (await waitFor(node, (e) => e.sessionAddress !== undefined, "the session address", o.dhcp ? 20000 : undefined)).sessionAddress.address as string;
    const macOf = (ns: string, dev: string) => topo.ns(ns, ["cat", `/sys/class/net/${dev}/address`]).trim();
    if (o.dhcp) {
      const [mac, id] = leases()[SA] ?? ["", ""];
      report.dhcp = { leasedToNode: mac === macOf(topo.n, "n-h"), renewedByTarget: false, releasedAtServer: false, clientId: id };
      mark("dnsmasq", `leased ${SA} to N (${mac}) under client id ${id}`);
    }
    report.sessionAddress = SA;
    let SA2 = "";
    let secondReleased: Record<string, boolean> = {};
    if (o.second) {
      node.events.splice(node.events.findIndex((e) => e.sessionAddress !== undefined), 1);
      node.send({ cmd: "address", generator: "static" });
      SA2 = (await waitFor(node, (e) => e.sessionAddress !== undefined, "the second session address")).sessionAddress.address as string;
      mark("N", `the application got a second session address ${SA2}`);
    }
    const onLink = () => topo.ns(topo.n, ["ip", "-4", "addr", "show", "dev", "n-h"]);
    if (!onLink().includes(`${SA}/32`)) throw new Error(`the session address ${SA} is not on N's link: ${onLink()}`);
    mark("N", `the application got the session address ${SA} (static pool), aliased on n-h beside ${A.node}`);
    const c4 = o.second ? await correspondent(topo, C2, 5002) : null;
    for (const [name, c, local] of [["s1", c1, SA], ["s2", c2, A.node], ...(c4 ? [["s4", c4, SA2] as const] : [])] as const) {
      node.send({ cmd: "connect", name, correspondent: c.address, port: c.port, local });
      await waitFor(node, (e) => e.connected === name, `session ${name}`);
    }
    const udpMs = (o.beforeMs ?? 1000) + (o.afterMs ?? 1500) + (o.vanish || o.leaseLost ? 9000 : 1000);
    for (const u of udp) {
      u.client = trafficEnd(topo, topo.n, ["client", "--proto", "udp", "--connect", u.address, "--port", "5003", "--local", A.node, "--duration", String(udpMs), "--interval", "2", "--size", "100"]);
      await u.client.until("ready");
    }
    mark("app", `TCP sessions s1 ${SA} <-> C1 ${A.correspondent}:5001 (session address) and s2 ${A.node} <-> C2 ${C2}:5001 (base address), UDP u1 and u2 from ${A.node}`);
    await sleep(o.beforeMs ?? 1000);
    if (o.forge && agent) {
      const kernel = () => topo.ns(topo.a, ["sh", "-c", "nft list ruleset; ip route show table all; ip neigh show proxy; ip link show type vxlan"]);
      const before = kernel();
      const forger = topo.spawn(topo.t, [NODE_BIN, join(ROOT, "dist", "demo", "sidforge.js"), JSON.stringify({
        agent: A.agent, port: DEFAULT_PORT, from: A.target, name: names.t, spi: 258, key: keys.at, address: SA, target: A.target,
      })]);
      let answer: any = null;
      lines(forger.stdout!, (x) => (answer = x));
      for (const end = now() + 5000; !answer; await sleep(10)) if (now() > end) throw new Error("the forger did not answer");
      agent.send({ cmd: "state" });
      const st = await agent.wait("state");
      agent.events.splice(agent.events.indexOf(st), 1);
      report.forged = { code: answer.code ?? answer.error ?? null, bindingsAfter: (st.state as any).bindings?.count ?? -1, agentKernelUnchanged: kernel() === before };
      mark("T", `forges a Transfer Request for ${SA} under its own SA with the agent: ${answer.code ?? answer.error}; the agent holds ${report.forged.bindingsAfter} bindings, its kernel state ${report.forged.agentKernelUnchanged ? "unchanged" : "CHANGED"}`);
    }
    if (o.leaseLost) {
      // 8.19: a server that does not know the lease NAKs N's renewal (T1 4 s): the lease ends, its alias goes
      dnsmasq!.kill("SIGKILL");
      await new Promise((r) => dnsmasq!.once("exit", r));
      rmSync(join(leaseDir, "leases"), { force: true });
      const changed = now();
      dnsmasq = startDnsmasq("198.18.1.60", "198.18.1.69");
      mark("dnsmasq", "replaced by a server with another range and no leases: it will NAK N's renewal");
      const end = await waitFor(node, (e) => e.sessionAddressEvent && e.sessionAddressEvent.state !== "ready", "the lease's end", 15000);
      await sleep(100);
      report.lost = { state: end.sessionAddressEvent.state, afterMs: Math.round(now() - changed), aliasGone: !onLink().includes(`${SA}/`), s1Errors: [] };
      mark("N", `the lease of ${SA} ended (${report.lost.state}) ${report.lost.afterMs} ms after the server changed; its alias ${report.lost.aliasGone ? "left" : "STAYED on"} n-h`);
      node.send({ cmd: "connect", name: "s3", correspondent: c3.address, port: c3.port, local: A.node });
      await waitFor(node, (e) => e.connected === "s3", "session s3");
      mark("N", `opens session s3 from ${A.node} after the loss`);
      await sleep(o.afterMs ?? 1500);
      report.baseStayed = onLink().includes(`${A.node}/24`);
      node.send({ cmd: "report", name: "s1" });
      report.lost.s1Errors = (await waitFor(node, (e) => e.reported === "s1", "s1's summary")).summary?.errors ?? [];
      const summaries: Record<string, AppSummary> = {};
      for (const name of ["s2", "s3"]) {
        node.send({ cmd: "finish", name });
        summaries[name] = (await waitFor(node, (e) => e.finished === name, `the end of ${name}`, 8000)).summary;
      }
      const udpSummaries = [];
      for (const u of udp) udpSummaries.push({ u, client: await u.client!.end(udpMs + 2000) });
      for (const x of udpSummaries) Object.assign(x, { server: await x.u.server.end() });
      mark("app", "s2, s3, u1 and u2 end at N; s1 went with its address");
      c1.child.kill("SIGTERM");
      report.sessions.push({ ...sessionVerdict("s1", null, null, false, { sent: 0, received: 0 }, c1.address), servedBy: "node" });
      report.sessions.push(sessionVerdict("s2", await c2.result(), summaries.s2, false, { sent: 0, received: 0 }, c2.address));
      report.sessions.push(sessionVerdict("s3", await c3.result(), summaries.s3, false, { sent: 0, received: 0 }, c3.address));
      for (const x of udpSummaries as { u: { name: string; address: string }; client: any; server?: any }[]) report.sessions.push(udpVerdict(x.u.name, x.client, x.server, x.u.address));
      timeline.sort((a, b) => a.t - b.t);
      return report;
    }
    const decided = now();
    mark("N", `the application moves session s1: only its address ${SA} goes to T`);
    node.send({ cmd: "transfer", name: "s1", target: names.t, agent: names.a, reverse: !same, perFlow: false, sameSubnet: same, lifetime, further: o.chain === "permitted" });
    const moved = await waitFor(node, (e) => e.moved === "s1", "the transfer's result", 15000);
    if (moved.result.state !== "transferred") throw new Error(`the transfer failed: ${moved.result.error ?? ""} ${moved.result.message ?? ""} (code ${moved.result.code ?? "-"})`);
    const s1AtNode = moved.here as { sent: number; received: number };
    const resumed = await target.wait("resumed", 10000);
    let s4AtNode = { sent: 0, received: 0 };
    if (o.second) {
      target.events.splice(target.events.indexOf(resumed), 1);
      mark("N", `the application moves session s4: its address ${SA2} goes to T as well, through the same agent`);
      node.send({ cmd: "transfer", name: "s4", target: names.t, agent: names.a, reverse: true, perFlow: false, lifetime });
      const moved4 = await waitFor(node, (e) => e.moved === "s4", "the second transfer's result", 15000);
      if (moved4.result.state !== "transferred") throw new Error(`the second transfer failed: ${moved4.result.error ?? ""} ${moved4.result.message ?? ""} (code ${moved4.result.code ?? "-"})`);
      s4AtNode = moved4.here;
      await target.wait("resumed", 10000);
    }
    node.send({ cmd: "connect", name: "s3", correspondent: c3.address, port: c3.port, local: A.node });
    await waitFor(node, (e) => e.connected === "s3", "session s3");
    mark("N", `opens session s3 from ${A.node} to C1 ${A.correspondent}:5002 while s1 is away`);
    const nft = topo.try(topo.n, ["nft", "list", "ruleset"]).out;
    report.baseStayed = !nft.includes(A.node) && onLink().includes(`${A.node}/24`);
    await sleep(o.afterMs ?? 1500);
    if (o.dhcp && !o.vanish) {
      // T1 is 4 s: T renews the lease it took over, from SA through the reverse tunnel (or the home link)
      const tMac = macOf(topo.t, topo.targetLink);
      for (const end = now() + 12000; now() < end && leases()[SA]?.[0] !== tMac; ) await sleep(250);
      const [mac, id] = leases()[SA] ?? ["", ""];
      report.dhcp!.renewedByTarget = mac === tMac && id === report.dhcp!.clientId;
      mark("dnsmasq", `${SA} renewed by ${mac === tMac ? "T" : mac} under client id ${id}`);
    }
    let s1: AppSummary | null = null;
    let s4: AppSummary | null = null;
    let last: Role = target;
    if (o.chain || o.back) {
      const m: NonNullable<SidAddrReport["moves"]> = report.moves = { further: null, back: null, lastHolder: "T", shares: { N: s1AtNode } };
      /** T moves s1 (to U or back to N): its answer, T's share so far; the answer event is taken off T's list. */
      const move = async (to: string, what: string) => {
        mark("T", what);
        target.send({ cmd: "transfer", target: to, agent: names.a, reverse: true });
        const answer = await target.wait("result", 15000);
        target.events.splice(target.events.indexOf(answer), 1);
        m.shares.T = answer.here;
        mark("T", `${answer.result.state}${answer.result.code ? ` (code ${answer.result.code})` : ""}`);
        return { state: answer.result.state as string, ...(answer.result.code ? { code: answer.result.code as number } : {}) };
      };
      /** dnsmasq's lease of SA renewed by `ns`'s MAC under N's client id (T1 4 s). */
      const renewedBy = async (ns: string, dev: string) => {
        const mac = macOf(ns, dev);
        for (const end = now() + 12000; now() < end && leases()[SA]?.[0] !== mac; ) await sleep(250);
        const [m2, id] = leases()[SA] ?? ["", ""];
        mark("dnsmasq", `${SA} renewed by ${m2} under client id ${id}`);
        return m2 === mac && id === report.dhcp!.clientId;
      };
      if (o.chain) {
        m.further = await move(names.u, `the application moves s1 on to U ${A.second} (a further transfer, ${o.chain === "permitted" ? "permitted by N" : "not permitted by N"})`);
        if (m.further.state === "transferred") {
          await second!.wait("resumed", 10000);
          last = second!;
          m.lastHolder = "U";
          await sleep(o.afterMs ?? 1500);
          if (o.dhcp) report.dhcp!.renewedByLast = await renewedBy(topo.u, "u-f");
        } else await sleep(500);
      }
      if (o.back && m.lastHolder === "T") {
        m.back = await move(names.n, "the application gives s1 back to N (a return)");
        if (m.back.state === "transferred") {
          await waitFor(node, (e) => e.resumed === "s1", "s1 back at N", 10000);
          m.lastHolder = "N";
          await sleep(o.afterMs ?? 1500);
          if (o.dhcp) report.dhcp!.renewedByLast = await renewedBy(topo.n, "n-h");
        }
      }
    }
    if (report.moves?.lastHolder === "N") {
      // s1 is back: it ends at N, whose application gives its session address back (the last holder releases it).
      node.send({ cmd: "finish", name: "s1" });
      const fin = await waitFor(node, (e) => e.finished === "s1", "the end of s1 at N", 8000);
      node.events.splice(node.events.indexOf(fin), 1);
      s1 = fin.summary;
      report.moves.shares.Nback = s1!.here;
      const got = node.events.find((e) => e.sessionAddress !== undefined).sessionAddress;
      node.send({ cmd: "release", session: got.session });
      mark("app", "s1 ends at N after its return; N's application releases the session address");
      report.woken = node.events.some((e) => e.sid?.role === "node" && e.sid?.state === "woken");
    } else if (o.vanish) {
      atVanish = o.dhcp ? leases()[SA] : undefined;
      mark("T", "vanishes: its process killed, its link down");
      target.child.kill("SIGKILL");
      topo.try(topo.t, ["ip", "link", "set", topo.targetLink, "down"]);
    } else {
      last.send({ cmd: "report" });
      const mid = (await last.wait("summary")).summary as AppSummary;
      if (mid.firstDataAt && last === target) report.transferMs = Math.round((mid.firstDataAt - decided) * 1000) / 1000;
      last.events.splice(last.events.findIndex((e) => e.summary !== undefined), 1);
      if (o.second) {
        target.send({ cmd: "finishAll" });
        const all = (await target.wait("finishedAll", 8000)).finishedAll as { remote: string; summary: AppSummary }[];
        s1 = all.find((x) => x.remote === c1.address)!.summary;
        s4 = all.find((x) => x.remote === C2)?.summary ?? null;
        mark("app", "s1 and s4 end at T (its application closes them)");
      } else {
        last.send({ cmd: "finish" });
        s1 = (await last.wait("summary", 8000)).summary as AppSummary;
        if (report.moves) report.moves.shares[report.moves.lastHolder] = s1.here;
        mark("app", `s1 ends at ${report.moves?.lastHolder ?? "T"} (its application closes it)`);
      }
    }
    if (report.moves?.lastHolder !== "N") {
      await waitFor(node, (e) => e.sid?.role === "node" && e.sid?.state === "woken", "the Wake-up at the node", o.vanish ? 20000 : 10000);
      report.woken = true;
    }
    if (o.second) {
      const woken = (x: string) => node.events.some((e) => e.sid?.role === "node" && e.sid?.state === "woken" && e.sid?.address === x);
      for (const end = now() + 10000; !(woken(SA) && woken(SA2)) && now() < end; ) await sleep(50);
      report.woken = woken(SA) && woken(SA2);
      const released = (x: string) => node.events.some((e) => e.sessionAddressEvent?.state === "released" && e.sessionAddressEvent?.address === x);
      for (const end = now() + 5000; !(released(SA) && released(SA2)) && now() < end; ) await sleep(50);
      secondReleased = { [SA]: released(SA), [SA2]: released(SA2) };
      mark("N", `woken for ${[SA, SA2].filter(woken).join(" and ") || "neither"}; released ${[SA, SA2].filter(released).join(" and ") || "neither"}`);
    }
    await waitFor(node, (e) => e.sessionAddressEvent?.state === "released", "the release of the session address", 5000);
    report.released.leaseReleased = true;
    if (o.dhcp) {
      for (const end = now() + (o.vanish ? 1000 : 3000); now() < end && leases()[SA]; ) await sleep(200);
      report.dhcp!.releasedAtServer = !leases()[SA];
      if (o.vanish) {
        const end = leases()[SA];
        report.dhcp!.vanished = { leasedAtVanish: !!atVanish, leasedAtEnd: !!end, renewedSince: !!end && !!atVanish && end[2] !== atVanish[2], serverExpiresInS: end ? Math.round(end[2] - now() / 1000) : 0 };
        mark("dnsmasq", `after T vanished: ${SA} ${end ? `still leased, nobody renewed it, it expires at the server in ${report.dhcp!.vanished.serverExpiresInS} s` : "not leased"}`);
      }
      mark("dnsmasq", `${SA} ${report.dhcp!.releasedAtServer ? "released (gone from the lease file)" : "STILL leased"}`);
    }
    report.released.aliasGone = !onLink().includes(`${SA}/`) && (!SA2 || !onLink().includes(`${SA2}/`));
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
    if (c4) {
      report.sessions.push(sessionVerdict("s4", await c4.result(), s4, true, s4AtNode, C2));
      report.second = {
        address: SA2,
        released: secondReleased,
        agent: agent!.events.filter((e) => e.sid?.role === "agent").map((e) => ({ state: e.sid.state, address: e.sid.address, reason: e.sid.reason ?? null })),
        target: target.events.filter((e) => e.sid?.role === "target").map((e) => ({ state: e.sid.state, address: e.sid.address, reason: e.sid.reason ?? null, error: e.sid.error ?? null })),
      };
    }
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
    dnsmasq?.kill("SIGKILL");
    topo.down();
    if (leaseDir && !(globalThis as any).process?.env?.HANDOVER_DHCP_KEEP) rmSync(leaseDir, { recursive: true, force: true });
  }
  timeline.sort((a, b) => a.t - b.t);
  return report;
}

/** Every session that should be intact is (s1 too unless the target vanished), and the address went back. */
export const sidAddrOk = (r: SidAddrReport, vanish = false): boolean =>
  r.error === null && r.woken && r.baseStayed && Object.values(r.released).every(Boolean) && r.sessions.length === 5 &&
  // DHCP: leased to N; unless T vanished, renewed by T under N's client id and released by it
  (!r.dhcp || (r.dhcp.leasedToNode && (vanish || (r.dhcp.renewedByTarget && r.dhcp.releasedAtServer)))) &&
  r.sessions.every((s) => (vanish && s.name === "s1") || (s.digestsEqual && s.lost === 0 && s.resets === 0));

// ---- IPv6 locally generated session addresses --------------------------------------

export interface SidAddr6Report {
  scenario: string;
  timeline: SidTimelineEntry[];
  sessionAddress: string | null;
  /** The address is in N's /64 and not its base address. */
  inPrefix: boolean;
  /** From the request to `ready` (the kernel's duplicate address detection, awaited). */
  readyMs: number | null;
  /** The address was tentative in the kernel when the lease went pending, and was no longer at `ready`. */
  dad: { sawTentative: boolean; tentativeAtReady: boolean };
  sessions: SessionReport[];
  /** After the release: the alias is off N's link. */
  aliasGone: boolean;
  /** With `duplicate`: the addresses another device defended (N's first tries), and the tries N made. */
  defended: string[];
  tries: string[];
  /** With `transfer`: s1 moved to T on the home link; N was woken at its end there. */
  moved: boolean;
  woken: boolean;
  /** Every try was defended: the lease expired; no try's address stayed on N's link. */
  expired: boolean;
  leftOnLink: string[];
  error: string | null;
}

const PREFIX6 = "2001:db8:1::/64";
const NODE6 = "2001:db8:1::2";
const C6 = "2001:db8:9::2";

/**
 * N's IPv6 session address on a real kernel: a random interface identifier in
 * N's /64, put on n-h with duplicate address detection (accept_dad 1), READY
 * once the kernel says it is no longer tentative; a TCP session from it and
 * one from N's base IPv6 address to C, both intact; the release takes it off.
 */
export async function runSidAddr6(o: { tag?: string; sessionMs?: number; duplicate?: number; transfer?: boolean; agent?: boolean } = {}): Promise<SidAddr6Report> {
  const tag = o.tag ?? `v${process.pid % 100000}`;
  const timeline: SidTimelineEntry[] = [];
  const mark = (who: string, what: string) => timeline.push({ t: now(), who, what });
  cleanStale(tag);
  const viaAgent = !!o.transfer && !!o.agent;
  const topo = new SidTopology(tag, { sameSubnet: !!o.transfer && !viaAgent });
  const A = topo.addr;
  const T6 = viaAgent ? "2001:db8:2::2" : "2001:db8:1::4";
  const A6 = "2001:db8:1::3";
  const report: SidAddr6Report = {
    moved: false, woken: false,
    scenario: (viaAgent ? "FIG. 2a over IPv6: the session address moves to a target on a foreign subnet through the agent (proxy NDP, vxlan over IPv6); " : o.transfer ? "FIG. 2b over IPv6: the session address moves to a target on the home link (unsolicited Neighbour Advertisements, the node's ND rule); " : "") + "session-specific address, IPv6 generated in N's /64 with duplicate address detection awaited; a TCP session from it and one from the base address",
    timeline, sessionAddress: null, inPrefix: false, readyMs: null, dad: { sawTentative: false, tentativeAtReady: true }, sessions: [], aliasGone: false, defended: [], tries: [], expired: false, leftOnLink: [], error: null,
  };
  const roles: Role[] = [];
  try {
    topo.up();
    if (o.duplicate) {
      // Another device on the home link (in A's namespace) defends the first `duplicate` addresses N probes for.
      const child = topo.spawn(topo.a, [NODE_BIN, join(ROOT, "dist", "demo", "dadsquatter.js"), "a-h", String(o.duplicate)]);
      let listening = false;
      lines(child.stdout, (x) => {
        if (x.listening) listening = true;
        if (x.defended) report.defended.push(x.defended);
      });
      for (const end = now() + 5000; !listening; await sleep(10)) if (now() > end) throw new Error("the duplicate did not start");
    }
    // IPv6 on C's and N's links; N runs duplicate address detection on its home link.
    topo.ns(topo.r, ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
    topo.ns(topo.r, ["ip", "-6", "addr", "add", "2001:db8:9::1/64", "dev", "r-c", "nodad"]);
    topo.ns(topo.r, ["ip", "-6", "addr", "add", "2001:db8:1::1/64", "dev", "hbr", "nodad"]);
    topo.ns(topo.c, ["ip", "-6", "addr", "add", `${C6}/64`, "dev", "c-r", "nodad"]);
    topo.ns(topo.c, ["ip", "-6", "route", "add", "default", "via", "2001:db8:9::1"]);
    topo.ns(topo.n, ["sysctl", "-qw", "net.ipv6.conf.n-h.accept_dad=1", "net.ipv6.conf.n-h.dad_transmits=1"]);
    topo.ns(topo.n, ["ip", "-6", "addr", "add", `${NODE6}/64`, "dev", "n-h", "nodad"]);
    topo.ns(topo.n, ["ip", "-6", "route", "add", "default", "via", "2001:db8:1::1"]);
    mark("net", `namespaces up: C ${C6}, N ${NODE6} (session addresses generated in ${PREFIX6}, DAD on)`);
    const c1 = await correspondent(topo, C6, 5001);
    const c2 = await correspondent(topo, C6, 5002);
    const log = (globalThis as any).process?.env?.HANDOVER_DEMO_DEBUG ? "debug" : "info";
    const keys = { nt: hexKey(), na: hexKey(), at: hexKey() };
    const daemon = {
      name: `n-${tag}.sid`, listen: o.transfer ? ["::"] : ["0.0.0.0"], control: false, register: false, auto: false, options: {}, log,
      sid: { link: "n-h", address: o.transfer ? NODE6 : A.node, addressPrefix6: PREFIX6 },
      peers: o.transfer ? [{ name: `t-${tag}.sid`, address: T6, sa: [{ spi: 257, key: keys.nt }] },
        ...(viaAgent ? [{ name: `a-${tag}.sid`, address: A6, sa: [{ spi: 256, key: keys.na }] }] : [])] : [],
    };
    if (viaAgent) {
      topo.ns(topo.r, ["ip", "-6", "addr", "add", "2001:db8:2::1/64", "dev", "r-t", "nodad"]);
      topo.ns(topo.a, ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1", "net.ipv6.conf.a-h.proxy_ndp=1"]);
      topo.ns(topo.a, ["ip", "-6", "addr", "add", `${A6}/64`, "dev", "a-h", "nodad"]);
      topo.ns(topo.a, ["ip", "-6", "route", "add", "default", "via", "2001:db8:1::1"]);
      const acfg = {
        name: `a-${tag}.sid`, listen: [A6], control: false, register: false, auto: false, log, options: { sidAgent: 1 },
        sid: { link: "a-h", address: A6 }, peers: [
          { name: `n-${tag}.sid`, address: NODE6, pools: [PREFIX6], sa: [{ spi: 256, key: keys.na }] },
          { name: `t-${tag}.sid`, address: T6, sa: [{ spi: 258, key: keys.at }] },
        ],
      };
      const agent = new Role(topo.spawn(topo.a, [NODE_BIN, NODE, JSON.stringify({ role: "agent", daemon: acfg })]), timeline);
      roles.push(agent);
      await agent.wait("ready");
    }
    let target: Role | null = null;
    if (o.transfer) {
      topo.ns(topo.t, ["ip", "-6", "addr", "add", `${T6}/64`, "dev", topo.targetLink, "nodad"]);
      topo.ns(topo.t, ["ip", "-6", "route", "add", "default", "via", viaAgent ? "2001:db8:2::1" : "2001:db8:1::1"]);
      const tcfg = {
        name: `t-${tag}.sid`, listen: [T6], control: false, register: false, auto: false, log, options: { sidTarget: 1 },
        sid: { link: topo.targetLink, address: T6 }, peers: [{ name: `n-${tag}.sid`, address: NODE6, sa: [{ spi: 257, key: keys.nt }] },
          ...(viaAgent ? [{ name: `a-${tag}.sid`, address: A6, sa: [{ spi: 258, key: keys.at }] }] : [])],
      };
      target = new Role(topo.spawn(topo.t, [NODE_BIN, NODE, JSON.stringify({ role: "target", daemon: tcfg })]), timeline);
      roles.push(target);
      await target.wait("ready");
    }
    const node = new Role(topo.spawn(topo.n, [NODE_BIN, FLOWNODE, JSON.stringify({ daemon, local: NODE6 })]), timeline);
    roles.push(node);
    await node.wait("ready");
    const asked = now();
    node.send({ cmd: "address", generator: "ipv6" });
    const pending = await waitFor(node, (e) => e.sessionAddressEvent?.state === "pending", "the pending session address");
    const flags6 = (addr: string) => topo.try(topo.n, ["ip", "-6", "addr", "show", "dev", "n-h"]).out.split("\n").find((l) => l.includes(`${addr}/128`)) ?? "";
    report.dad.sawTentative = /tentative/.test(flags6(pending.sessionAddressEvent.address));
    const outcome = await waitFor(node, (e) => e.sessionAddress !== undefined || e.sessionAddressEvent?.state === "expired", "the session address", 15000);
    report.readyMs = Math.round(now() - asked);
    report.tries = node.events.filter((e) => e.sessionAddressEvent?.state === "pending").map((e) => e.sessionAddressEvent.address);
    if (outcome.sessionAddressEvent) {
      report.expired = true;
      await sleep(100);
      report.leftOnLink = report.tries.filter((a) => flags6(a) !== "");
      mark("N", `every try was defended: the session address expired after ${report.readyMs} ms; ${report.leftOnLink.length} of its ${report.tries.length} addresses left on n-h`);
      return report;
    }
    const got = outcome.sessionAddress;
    const SA = got.address as string;
    report.sessionAddress = SA;
    report.dad.tentativeAtReady = /tentative/.test(flags6(SA));
    report.inPrefix = SA.startsWith("2001:db8:1:") && SA !== NODE6;
    mark("N", `the application got ${SA} after ${report.readyMs} ms (DAD ${report.dad.sawTentative ? "ran" : "was not seen"})`);
    for (const [name, c, local] of [["s1", c1, SA], ["s2", c2, NODE6]] as const) {
      node.send({ cmd: "connect", name, correspondent: c.address, port: c.port, local });
      await waitFor(node, (e) => e.connected === name, `session ${name}`);
    }
    mark("app", `TCP sessions s1 [${SA}] and s2 [${NODE6}] <-> C [${C6}]`);
    await sleep(o.sessionMs ?? 1500);
    const summaries: Record<string, AppSummary> = {};
    let s1AtNode = { sent: 0, received: 0 };
    if (target) {
      mark("N", `moves s1: only ${SA} goes to T [${T6}] on the home link`);
      node.send({ cmd: "transfer", name: "s1", target: `t-${tag}.sid`, agent: `a-${tag}.sid`, perFlow: false, sameSubnet: !viaAgent });
      const moved = await waitFor(node, (e) => e.moved === "s1", "the transfer's result", 15000);
      if (moved.result.state !== "transferred") throw new Error(`the transfer failed: ${moved.result.error ?? ""} ${moved.result.message ?? ""} (code ${moved.result.code ?? "-"})`);
      s1AtNode = moved.here;
      await target.wait("resumed", 10000);
      report.moved = true;
      await sleep(o.sessionMs ?? 1500);
      target.send({ cmd: "finish" });
      summaries.s1 = (await target.wait("summary", 8000)).summary as AppSummary;
      mark("app", "s1 ends at T");
      await waitFor(node, (e) => e.sid?.role === "node" && e.sid?.state === "woken", "the Wake-up at the node", 10000);
      report.woken = true;
      await waitFor(node, (e) => e.sessionAddressEvent?.state === "released", "the release of the session address", 5000);
      await sleep(100);
      report.aliasGone = flags6(SA) === "";
    }
    for (const name of target ? ["s2"] : ["s1", "s2"]) {
      node.send({ cmd: "finish", name });
      summaries[name] = (await waitFor(node, (e) => e.finished === name, `the end of ${name}`, 8000)).summary;
    }
    report.sessions.push(sessionVerdict("s1", await c1.result(), summaries.s1, !!target, s1AtNode, C6));
    report.sessions.push(sessionVerdict("s2", await c2.result(), summaries.s2, false, { sent: 0, received: 0 }, C6));
    if (target) return report;
    node.send({ cmd: "release", session: got.session });
    await waitFor(node, (e) => e.sessionAddressEvent?.state === "released", "the release");
    await sleep(100);
    report.aliasGone = flags6(SA) === "";
    mark("N", `released ${SA}: the alias ${report.aliasGone ? "left" : "STAYED on"} n-h`);
  } catch (e) {
    report.error = (e as Error).message;
  } finally {
    topo.down();
  }
  timeline.sort((a, b) => a.t - b.t);
  return report;
}
