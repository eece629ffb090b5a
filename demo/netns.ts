// Throwaway network namespaces for demonstrations, end-to-end tests and
// benchmarks. Only addresses from 198.18.0.0/15 and 2001:db8::/32, only inside
// namespaces created here; down() removes them and their processes, and
// cleanStale() removes leftovers of earlier runs.
//
//       M (migrator)                 R (router, BCP 38)          F (fixed end)
//   m-a 198.18.1.2/24  ------ r-a 198.18.1.1
//   m-b 198.18.2.2/24  ------ r-b 198.18.2.1
//                                 r-f 198.18.9.1  ------------ f-0 198.18.9.2/24
//   (and 2001:db8:1::/64, 2001:db8:2::/64, 2001:db8:9::/64)
//
// R forwards and drops packets whose source does not belong to the link they
// arrive on, so traffic from M's old address over its new link really is lost.
// The process orchestration uses node:child_process, which Node, Deno and Bun
// all provide.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";

export const PREFIX = "hov-";

export interface Addressing {
  v6: boolean;
  old: string;
  new: string;
  peer: string;
  gwA: string;
  gwB: string;
  prefix: number;
  host: number;
  /** A further address of the fixed end, for sessions that do not use its control address (on its lo). */
  peerOnLo: string;
}

export function addressing(v6: boolean): Addressing {
  return v6
    ? { v6, old: "2001:db8:1::2", new: "2001:db8:2::2", peer: "2001:db8:9::2", gwA: "2001:db8:1::1", gwB: "2001:db8:2::1", prefix: 64, host: 128, peerOnLo: "2001:db8:9::7" }
    : { v6, old: "198.18.1.2", new: "198.18.2.2", peer: "198.18.9.2", gwA: "198.18.1.1", gwB: "198.18.2.1", prefix: 24, host: 32, peerOnLo: "198.18.9.7" };
}

function run(argv: string[], input?: string): { status: number; out: string; err: string } {
  const r = spawnSync(argv[0], argv.slice(1), { input, encoding: "utf8" });
  return { status: r.status ?? 1, out: r.stdout ?? "", err: r.stderr ?? "" };
}

function must(argv: string[], input?: string): string {
  const r = run(argv, input);
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status}): ${r.err.trim()}`);
  return r.out;
}

/** Removes every namespace whose name starts with PREFIX + tag (all ours if tag is ""). */
export function cleanStale(tag = ""): void {
  const list = run(["ip", "netns", "list"]).out;
  for (const line of list.split("\n")) {
    const name = line.split(" ")[0];
    if (!name || !name.startsWith(PREFIX + tag)) continue;
    killAll(name);
    run(["ip", "netns", "del", name]);
  }
}

function killAll(ns: string): void {
  const pids = run(["ip", "netns", "pids", ns]).out.split(/\s+/).filter(Boolean);
  for (const p of pids) run(["kill", "-TERM", p]);
  if (pids.length) spawnSync("sleep", ["0.2"]);
  for (const p of run(["ip", "netns", "pids", ns]).out.split(/\s+/).filter(Boolean)) run(["kill", "-KILL", p]);
}

export class Topology {
  readonly m: string;
  readonly r: string;
  readonly f: string;
  readonly a4 = addressing(false);
  readonly a6 = addressing(true);
  private children: ChildProcess[] = [];
  /**
   * Whether each of M's addresses gets a source route through its own link (a
   * multihomed host's setup). Without, M has only the default route, as a
   * network manager leaves it: the old address's packets follow the default
   * route wherever it goes.
   */
  sourceRoutes = true;

  constructor(readonly tag: string) {
    this.m = `${PREFIX}${tag}-m`;
    this.r = `${PREFIX}${tag}-r`;
    this.f = `${PREFIX}${tag}-f`;
  }

  /** Runs a command in a namespace and returns its stdout (throws on failure). */
  ns(ns: string, argv: string[], input?: string): string {
    return must(["ip", "netns", "exec", ns, ...argv], input);
  }

  /** Like ns, but returns the status instead of throwing. */
  try(ns: string, argv: string[], input?: string): { status: number; out: string; err: string } {
    return run(["ip", "netns", "exec", ns, ...argv], input);
  }

  nft(ns: string, script: string): void {
    this.ns(ns, ["nft", "-f", "-"], script);
  }

  /** Creates the three namespaces, links, addresses and R's filters. M starts on link A. */
  up(): void {
    this.down();
    for (const n of [this.m, this.r, this.f]) {
      must(["ip", "netns", "add", n]);
      this.ns(n, ["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"]);
      this.ns(n, ["ip", "link", "set", "lo", "up"]);
    }
    must(["ip", "link", "add", "m-a", "netns", this.m, "type", "veth", "peer", "name", "r-a", "netns", this.r]);
    must(["ip", "link", "add", "m-b", "netns", this.m, "type", "veth", "peer", "name", "r-b", "netns", this.r]);
    must(["ip", "link", "add", "f-0", "netns", this.f, "type", "veth", "peer", "name", "r-f", "netns", this.r]);
    this.ns(this.r, ["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
    const R = (...a: string[]) => this.ns(this.r, ["ip", ...a]);
    R("addr", "add", "198.18.1.1/24", "dev", "r-a");
    R("addr", "add", "2001:db8:1::1/64", "dev", "r-a", "nodad");
    R("addr", "add", "198.18.2.1/24", "dev", "r-b");
    R("addr", "add", "2001:db8:2::1/64", "dev", "r-b", "nodad");
    R("addr", "add", "198.18.9.1/24", "dev", "r-f");
    R("addr", "add", "2001:db8:9::1/64", "dev", "r-f", "nodad");
    for (const l of ["r-a", "r-b", "r-f"]) R("link", "set", l, "up");
    const F = (...a: string[]) => this.ns(this.f, ["ip", ...a]);
    F("addr", "add", "198.18.9.2/24", "dev", "f-0");
    F("addr", "add", "2001:db8:9::2/64", "dev", "f-0", "nodad");
    F("link", "set", "f-0", "up");
    F("route", "add", "default", "via", "198.18.9.1");
    F("-6", "route", "add", "default", "via", "2001:db8:9::1");
    for (const l of ["m-a", "m-b"]) this.ns(this.m, ["ip", "link", "set", l, "up"]);
    // BCP 38 on R: a link only carries sources of its own subnet.
    this.nft(this.r, `table inet bcp38 {
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "r-a" ip saddr != 198.18.1.0/24 counter drop
    iifname "r-a" meta nfproto ipv6 ip6 saddr != 2001:db8:1::/64 counter drop
    iifname "r-b" ip saddr != 198.18.2.0/24 counter drop
    iifname "r-b" meta nfproto ipv6 ip6 saddr != 2001:db8:2::/64 counter drop
  }
}`);
    this.attach("a");
  }

  /**
   * Gives M its addresses on link a or b, with source routes and (optionally)
   * the default routes: what a DHCP client does, in one `ip -batch` call.
   */
  attach(link: "a" | "b", makeDefault = true): void {
    const four = link === "a" ? "198.18.1.2" : "198.18.2.2";
    const six = link === "a" ? "2001:db8:1::2" : "2001:db8:2::2";
    const gw4 = link === "a" ? "198.18.1.1" : "198.18.2.1";
    const gw6 = link === "a" ? "2001:db8:1::1" : "2001:db8:2::1";
    const table = link === "a" ? "101" : "102";
    const pref = link === "a" ? "1001" : "1002";
    // Source routing: each address leaves through its own link (a multihomed host's usual setup).
    // The source routes go first: packets from the new address leave by its own link from the start.
    const v4 = [
      `route replace default via ${gw4} dev m-${link} onlink table ${table}`,
      `rule add from ${four} table ${table} priority ${pref}`,
      `addr add ${four}/24 dev m-${link}`,
    ];
    const v6 = [
      `route replace default via ${gw6} dev m-${link} onlink table ${table}`,
      `rule add from ${six} table ${table} priority ${pref}`,
      `addr add ${six}/64 dev m-${link} nodad`,
    ];
    if (!this.sourceRoutes) {
      v4.splice(0, 2);
      v6.splice(0, 2);
    }
    if (makeDefault) {
      v4.push(`route replace default via ${gw4} dev m-${link}`);
      v6.push(`route replace default via ${gw6} dev m-${link}`);
    }
    this.ns(this.m, ["ip", "-batch", "-"], v4.join("\n") + "\n");
    this.ns(this.m, ["ip", "-6", "-batch", "-"], v6.join("\n") + "\n");
  }

  /** Sets M's link down, then flushes its addresses (a dropped Wi-Fi), in one `ip -batch` call. */
  linkDown(link: "a" | "b"): void {
    this.ns(this.m, ["ip", "-batch", "-"], `link set m-${link} down\naddr flush dev m-${link} scope global\n`);
  }

  /** Sets M's link up again, without addresses and without the source rules its last attach() left. */
  linkUp(link: "a" | "b"): void {
    const [four, six, table] = link === "a" ? ["198.18.1.2", "2001:db8:1::2", "101"] : ["198.18.2.2", "2001:db8:2::2", "102"];
    this.try(this.m, ["ip", "rule", "del", "from", four, "table", table]);
    this.try(this.m, ["ip", "-6", "rule", "del", "from", six, "table", table]);
    this.ns(this.m, ["ip", "link", "set", `m-${link}`, "up"]);
  }

  /** Takes M's addresses off a link (the link itself stays up). */
  detach(link: "a" | "b"): void {
    this.ns(this.m, ["ip", "addr", "flush", "dev", `m-${link}`, "scope", "global"]);
  }

  /** Starts a long-running process in a namespace; stopped by down(). */
  spawn(ns: string, argv: string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn("ip", ["netns", "exec", ns, ...argv], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    this.children.push(child);
    return child;
  }

  down(): void {
    for (const c of this.children) {
      if (c.exitCode === null) c.kill("SIGTERM");
    }
    // Let them finish their clean-up (a daemon removes its socket and pid files) before the rest is killed.
    const running = (pid: number | undefined) => {
      let stat = "";
      try {
        stat = pid ? readFileSync(`/proc/${pid}/stat`, "utf8") : "";
      } catch {
        // gone
      }
      return stat !== "" && stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
    };
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (const end = Date.now() + 2000; Date.now() < end && this.children.some((c) => running(c.pid)); ) Atomics.wait(pause, 0, 0, 20);
    this.children = [];
    for (const n of [this.m, this.r, this.f]) {
      if (!run(["ip", "netns", "list"]).out.split("\n").some((l) => l.split(" ")[0] === n)) continue;
      killAll(n);
      run(["ip", "netns", "del", n]);
    }
  }
}

/** True when this process may create namespaces (root with CAP_SYS_ADMIN and ip available). */
export function canCreateNamespaces(): { ok: boolean; why: string } {
  const uid = (process as any).getuid?.() ?? -1;
  if (uid !== 0) return { ok: false, why: "not root: network namespaces need root" };
  const r = run(["ip", "netns", "list"]);
  if (r.status !== 0) return { ok: false, why: `ip netns unavailable: ${r.err.trim()}` };
  if (run(["nft", "--version"]).status !== 0) return { ok: false, why: "nft missing: apt-get install -y nftables" };
  return { ok: true, why: "" };
}

/**
 * SID's four roles (docs/PROTOCOL.md section 8, FIG. 1a and 1b) in five
 * namespaces. The home link is a bridge inside R, so ARP between R, N, A (and
 * T on one subnet) is real:
 *
 *    C (correspondent)            R (router, BCP 38)
 *   c-r 198.18.9.2/24 ------ r-c 198.18.9.1
 *                            hbr 198.18.1.1/24: the home link (bridge; ports r-n, r-a, r-t in sameSubnet)
 *    N (transferring node)   n-h 198.18.1.2/24, and X = 198.18.1.10/24 (the session's address, transferred)
 *    A (agent)               a-h 198.18.1.3/24
 *    T (target), foreign:    t-f 198.18.2.2/24 ------ r-t 198.18.2.1 (the foreign link)
 *    T (target), sameSubnet: t-h 198.18.1.4/24 on the home link
 *    U (a second target, option second): u-f 198.18.3.2/24 ------ r-u 198.18.3.1
 *
 * N keeps its own address for its control traffic while X is away (the
 * target holds X locally, so nobody can reach N at X meanwhile). R drops, in
 * forwarding, packets whose source does not belong to the link they arrive
 * on (filter: true), so a target on the foreign link cannot send from X.
 */
export interface SidAddresses {
  correspondent: string;
  router: { c: string; home: string; foreign: string };
  node: string;
  transferred: string;
  agent: string;
  target: string;
  second: string;
  prefix: number;
}

export class SidTopology {
  readonly c: string;
  readonly r: string;
  readonly n: string;
  readonly a: string;
  readonly t: string;
  /** A second foreign target (options.second), for a further transfer: u-f 198.18.3.2/24 ------ r-u 198.18.3.1. */
  readonly u: string;
  readonly addr: SidAddresses;
  private children: ChildProcess[] = [];

  constructor(readonly tag: string, readonly options: { sameSubnet?: boolean; filter?: boolean; second?: boolean } = {}) {
    this.c = `${PREFIX}${tag}-c`;
    this.r = `${PREFIX}${tag}-r`;
    this.n = `${PREFIX}${tag}-n`;
    this.a = `${PREFIX}${tag}-a`;
    this.t = `${PREFIX}${tag}-t`;
    this.u = `${PREFIX}${tag}-u`;
    this.addr = {
      correspondent: "198.18.9.2",
      router: { c: "198.18.9.1", home: "198.18.1.1", foreign: "198.18.2.1" },
      node: "198.18.1.2",
      transferred: "198.18.1.10",
      agent: "198.18.1.3",
      target: options.sameSubnet ? "198.18.1.4" : "198.18.2.2",
      second: "198.18.3.2",
      prefix: 24,
    };
  }

  get all(): string[] {
    return [this.c, this.r, this.n, this.a, this.t, ...(this.options.second ? [this.u] : [])];
  }

  /** The target's interface toward R. */
  get targetLink(): string {
    return this.options.sameSubnet ? "t-h" : "t-f";
  }

  ns(ns: string, argv: string[], input?: string): string {
    return must(["ip", "netns", "exec", ns, ...argv], input);
  }

  try(ns: string, argv: string[], input?: string): { status: number; out: string; err: string } {
    return run(["ip", "netns", "exec", ns, ...argv], input);
  }

  up(): void {
    this.down();
    const A = this.addr;
    for (const n of this.all) {
      must(["ip", "netns", "add", n]);
      this.ns(n, ["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"]);
      this.ns(n, ["ip", "link", "set", "lo", "up"]);
    }
    const veth = (a: string, an: string, b: string, bn: string) => must(["ip", "link", "add", an, "netns", a, "type", "veth", "peer", "name", bn, "netns", b]);
    veth(this.c, "c-r", this.r, "r-c");
    veth(this.n, "n-h", this.r, "r-n");
    veth(this.a, "a-h", this.r, "r-a");
    veth(this.t, this.targetLink, this.r, "r-t");
    if (this.options.second) veth(this.u, "u-f", this.r, "r-u");
    const R = (...a: string[]) => this.ns(this.r, ["ip", ...a]);
    this.ns(this.r, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    R("link", "add", "hbr", "type", "bridge", "stp_state", "0", "forward_delay", "0");
    const homePorts = ["r-n", "r-a", ...(this.options.sameSubnet ? ["r-t"] : [])];
    for (const p of homePorts) R("link", "set", p, "master", "hbr");
    R("addr", "add", `${A.router.c}/24`, "dev", "r-c");
    R("addr", "add", `${A.router.home}/24`, "dev", "hbr");
    if (!this.options.sameSubnet) R("addr", "add", `${A.router.foreign}/24`, "dev", "r-t");
    if (this.options.second) R("addr", "add", "198.18.3.1/24", "dev", "r-u");
    for (const l of ["hbr", "r-c", "r-n", "r-a", "r-t", ...(this.options.second ? ["r-u"] : [])]) R("link", "set", l, "up");
    const host = (ns: string, dev: string, address: string, gw: string) => {
      this.ns(ns, ["ip", "addr", "add", `${address}/24`, "dev", dev]);
      this.ns(ns, ["ip", "link", "set", dev, "up"]);
      this.ns(ns, ["ip", "route", "add", "default", "via", gw]);
    };
    host(this.c, "c-r", A.correspondent, A.router.c);
    host(this.n, "n-h", A.node, A.router.home);
    this.ns(this.n, ["ip", "addr", "add", `${A.transferred}/24`, "dev", "n-h"]);
    host(this.a, "a-h", A.agent, A.router.home);
    this.ns(this.a, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    host(this.t, this.targetLink, A.target, this.options.sameSubnet ? A.router.home : A.router.foreign);
    if (this.options.second) host(this.u, "u-f", A.second, "198.18.3.1");
    if (this.options.filter !== false) {
      // BCP 38 on R: a link only carries sources of its own subnet. What R only bridges on the home link
      // (with br_netfilter loaded, iif and oif are both the bridge) is not routed by R and not filtered:
      // the node's hold hands the correspondent's packets on to the agent there (PROTOCOL.md 8.12).
      this.ns(this.r, ["nft", "-f", "-"], `table inet bcp38 {
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "r-c" ip saddr != 198.18.9.0/24 counter drop
    iifname "hbr" oifname != "hbr" ip saddr != 198.18.1.0/24 counter drop
    iifname "r-t" ip saddr != 198.18.2.0/24 counter drop
    iifname "r-u" ip saddr != 198.18.3.0/24 counter drop
  }
}`);
    }
  }

  /** Packets R's ingress filter dropped so far. */
  filtered(): number {
    const r = this.try(this.r, ["nft", "list", "table", "inet", "bcp38"]);
    return [...r.out.matchAll(/counter packets (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  }

  /** R's neighbour entry for an address on the home link: its MAC, or undefined. */
  routerNeighbour(address: string): string | undefined {
    const r = this.try(this.r, ["ip", "-j", "neigh", "show", address, "dev", "hbr"]);
    try {
      return (JSON.parse(r.out || "[]")[0] as { lladdr?: string } | undefined)?.lladdr;
    } catch {
      return undefined;
    }
  }

  /** An interface's MAC in a namespace. */
  mac(ns: string, dev: string): string {
    return this.ns(ns, ["cat", `/sys/class/net/${dev}/address`]).trim();
  }

  spawn(ns: string, argv: string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn("ip", ["netns", "exec", ns, ...argv], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
    this.children.push(child);
    return child;
  }

  down(): void {
    for (const c of this.children) if (c.exitCode === null) c.kill("SIGKILL");
    this.children = [];
    for (const n of this.all) {
      if (!run(["ip", "netns", "list"]).out.split("\n").some((l) => l.split(" ")[0] === n)) continue;
      killAll(n);
      run(["ip", "netns", "del", n]);
    }
  }
}
