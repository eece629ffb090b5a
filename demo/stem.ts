// A STEM migration on real kernels: two handover daemons in network
// namespaces, an ordinary application streaming over TCP and UDP between
// them, and the migrator moving to a new address mid-stream. Used by
// `handover demo stem`, the end-to-end tests and the benchmarks.

import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConnection } from "node:net";
import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";
import { Topology, cleanStale, addressing } from "./netns.ts";
import { DEFAULT_PORT } from "../hosts/shared/registry.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TRAFFIC = join(ROOT, "tools", "traffic.js");
const DELAYLINE = join(ROOT, "tools", "delayline.js");

export type Mode = "make-before-break" | "break-before-make";

export interface StemOptions {
  mode?: Mode;
  v6?: boolean;
  /** The command that runs the CLI, per end (lets ends run different runtimes). */
  launcher: { m: string[]; f: string[] };
  /** The command that runs tools/traffic.js (default: node). */
  app?: string[];
  /** How many migrations, alternating between the two addresses (make-before-break only). */
  migrations?: number;
  /** Pause between migrations (ms). */
  spacingMs?: number;
  /** The server end (M runs the servers, F the clients). */
  serverMoves?: boolean;
  /** Application duration (ms); default long enough for the migrations. */
  durationMs?: number;
  /** Break-before-make: how long M has no address at all (ms). */
  outageMs?: number;
  /** Loss (0-1) of control datagrams in each direction, by a rule on R. */
  controlLoss?: number;
  /**
   * Round-trip time added on R (ms), by tools/delayline.js: a userspace
   * NFQUEUE delay line, because this kernel has no netem.
   */
  rttMs?: number;
  udp?: boolean;
  tag?: string;
  /** Called once the migrations run, with the topology (to inject hostile traffic, say). */
  during?: (t: Topology) => Promise<void> | void;
  /** Extra daemon options. */
  options?: Record<string, number>;
  /** Restart this end's daemon (SIGTERM, then start it again) after the first migration. */
  restart?: "m" | "f";
  /** How the restart stops the daemon: SIGTERM (default: it saves its moves) or SIGKILL (a crash: nothing saved). */
  restartSignal?: "SIGTERM" | "SIGKILL";
  /** The restart waits until this holds of the restarting daemon's events (e.g. the peer's new address validated). */
  restartAfter?: (events: any[]) => boolean;
  /** Give each of M's addresses a source route through its own link (default true; see Topology.sourceRoutes). */
  sourceRoutes?: boolean;
  /**
   * Make-before-break: the new link comes up with the default route (what a
   * network manager does) before the migration is asked for, askAfterMs later.
   */
  defaultRouteFirst?: boolean;
  askAfterMs?: number;
  /** No migrate command: M's daemon migrates by itself (with options.followDefaultRoute = 1). */
  follow?: boolean;
  /** Called with the topology after the application finished, before teardown (tests, debugging). */
  inspect?: (t: Topology) => Promise<void> | void;
  /**
   * Break-before-make: how the old address goes. "flush" (default) deletes
   * M's addresses on link a; "link-down" sets link a down first and then
   * flushes its addresses, as a dropped Wi-Fi does.
   */
  breakBy?: "flush" | "link-down";
  /** The fixed end's session address is on its lo (198.18.9.7 / 2001:db8:9::7), not its control address. */
  peerOnLo?: boolean;
  /** The security association's algorithm and replay mode (both ends). */
  sa?: { algorithm?: "HMAC_SHA256" | "HMAC_SHA1" | "HMAC_MD5"; replay?: "TIMESTAMP" | "NONCE" };
  /**
   * Break-before-make, repeated: this many breaks in one session, alternating
   * between the links (a to b, then b back to a, ...), each followed by the
   * automatic migration; spacingMs between them.
   */
  breaks?: number;
  /** Migrate only this port of the TCP session (M's local port), moving it to toPort (0 or absent: every port). */
  port?: { from: number; to: number };
  /** Further configuration of each daemon (e.g. `metrics`). */
  config?: { m?: Record<string, unknown>; f?: Record<string, unknown> };
  /** More peers in a daemon's configuration, after the demo's own (synthetic peers, test/e2e/scale.test.js). */
  extraPeers?: { m?: Record<string, unknown>[]; f?: Record<string, unknown>[] };
  /** Runs once the application is connected, before the first migration; the migrations wait for it. */
  prepare?: (t: Topology) => Promise<void> | void;
  /** R masquerades what M sends to F from link b (a NAT router in front of the new address). */
  natOnB?: boolean;
}

export interface TimelineEntry {
  t: number;
  who: "M" | "F" | "net" | "app";
  what: string;
  [k: string]: unknown;
}

export interface AppSummary {
  proto: string;
  role: string;
  sentBytes: number;
  receivedBytes: number;
  sha256Sent: string;
  sha256Received: string;
  maxGapMs: number;
  resets: number;
  lost: number;
  error: string | null;
}

export interface StemReport {
  scenario: Mode;
  family: "IPv4" | "IPv6";
  migrations: { id: number; state: string; elapsedMs: number; from: string; to: string; error?: string }[];
  tcp: { client: AppSummary; server: AppSummary };
  udp?: { client: AppSummary; server: AppSummary };
  bytesSent: number;
  bytesReceived: number;
  digestsEqual: boolean;
  lost: number;
  resets: number;
  blackoutMs: number;
  timeline: TimelineEntry[];
  counters: { m: unknown; f: unknown };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

/** Collects JSON lines from a child's stream. */
export function lines(stream: NodeJS.ReadableStream | null, onLine: (o: any) => void): void {
  let buf = "";
  stream?.on("data", (chunk: Buffer) => {
    buf += chunk.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        onLine(JSON.parse(line));
      } catch {
        onLine({ text: line });
      }
    }
  });
}

export function control(path: string, request: unknown, timeoutMs = 30000): Promise<any> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    let buf = "";
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`no answer from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    c.on("connect", () => c.write(JSON.stringify(request) + "\n"));
    c.on("data", (d) => (buf += d.toString()));
    c.on("end", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf));
      } catch (e) {
        reject(e);
      }
    });
    c.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 10000): Promise<T> {
  const end = now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== null && (v as unknown) !== false) return v as T;
    if (now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

class App {
  ready: any = null;
  listening = false;
  summary: AppSummary | null = null;
  constructor(readonly child: ChildProcess) {
    const debug = (globalThis as any).process?.env?.HANDOVER_DEMO_DEBUG;
    if (debug) lines(child.stderr, (o) => console.error(`[app stderr] ${JSON.stringify(o)}`));
    lines(child.stdout, (o) => {
      if (debug) console.error(`[app] ${JSON.stringify(o)}`);
      if (o.ready) this.ready = o;
      else if (o.listening) this.listening = true;
      else if (o.sentBytes !== undefined) this.summary = o;
    });
  }
}

export async function runStem(o: StemOptions): Promise<StemReport> {
  const mode = o.mode ?? "make-before-break";
  const tag = o.tag ?? `d${process.pid % 100000}`;
  const A = addressing(o.v6 ?? false);
  const migrations = mode === "break-before-make" ? o.breaks ?? 1 : o.migrations ?? 1;
  const spacing = o.spacingMs ?? 300;
  const duration = o.durationMs ?? 2500 + migrations * (spacing + 50);
  const app = o.app ?? [process.execPath];
  const timeline: TimelineEntry[] = [];
  const mark = (who: TimelineEntry["who"], what: string, extra: Record<string, unknown> = {}) => timeline.push({ t: now(), who, what, ...extra });

  cleanStale(tag);
  const topo = new Topology(tag);
  topo.sourceRoutes = o.sourceRoutes ?? true;
  const dir = mkdtempSync(join(tmpdir(), "handover-demo-"));
  const events: { m: any[]; f: any[] } = { m: [], f: [] };
  try {
    topo.up();
    mark("net", `namespaces up; M at ${A.old} on link a, F at ${A.peer}`);
    if (o.controlLoss) {
      // Random loss of control datagrams, both ways, on R (netem is not in every kernel; nft's numgen is).
      // One draw per datagram: a control datagram goes from port DEFAULT_PORT to port DEFAULT_PORT, so two rules
      // (dport, sport) would each draw for it and drop 1 - (1 - p)^2 of them.
      topo.nft(topo.r, `table inet loss {
  chain forward { type filter hook forward priority -10; policy accept;
    udp dport ${DEFAULT_PORT} numgen random mod 1000 < ${Math.round(o.controlLoss * 1000)} counter drop
    udp sport ${DEFAULT_PORT} udp dport != ${DEFAULT_PORT} numgen random mod 1000 < ${Math.round(o.controlLoss * 1000)} counter drop
  }
}`);
    }
    if (o.rttMs) {
      const dl = topo.spawn(topo.r, [process.execPath, DELAYLINE, "--queue", "3", "--delay", String(o.rttMs / 2), "--install"]);
      let ready = false;
      lines(dl.stdout, (x) => {
        if (x.ready) ready = true;
      });
      await waitFor("the delay line", () => ready, 5000);
      mark("net", `delay line on R: +${o.rttMs} ms round trip (userspace NFQUEUE; no netem in this kernel)`);
    }
    if (o.natOnB) {
      // What leaves R for F from M's link b gets R's own address (198.18.9.1) as its source.
      // And F cannot reach link b but through the NAT's mappings, as behind a home router.
      topo.nft(topo.r, `table ip nat {
  chain postrouting { type nat hook postrouting priority srcnat; policy accept;
    iifname "r-b" oifname "r-f" counter masquerade
  }
  chain forward { type filter hook forward priority 10; policy accept;
    iifname "r-f" oifname "r-b" ct status snat accept
    iifname "r-f" oifname "r-b" counter drop
  }
}`);
      mark("net", "R masquerades link b's traffic to F (F sees 198.18.9.1 for M's new address) and forwards nothing else from F to link b");
    }
    const key = Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
    const sock = { m: `/run/handover/${topo.m}.sock`, f: `/run/handover/${topo.f}.sock` };
    const cfg = (name: string, peer: string, address: string, addresses: string[], control: string) => ({
      ...(o.config?.[name === "m.demo" ? "m" : "f"] ?? {}),
      name,
      listen: ["0.0.0.0", "::"],
      control,
      log: "info",
      options: o.options ?? {},
      peers: [{ name: peer, address, addresses, sa: [{ spi: 256, key, ...(o.sa ?? {}) }] }, ...(o.extraPeers?.[name === "m.demo" ? "m" : "f"] ?? [])],
    });
    const fOnLo = addressing(o.v6 ?? false).peerOnLo;
    if (o.peerOnLo) {
      // F's sessions use an address on its lo; R routes it to F, M's daemon knows F owns it.
      topo.ns(topo.f, ["ip", "addr", "add", `${fOnLo}/${A.host}`, "dev", "lo"]);
      topo.ns(topo.r, ["ip", "route", "add", `${fOnLo}/${A.host}`, "via", A.peer]);
    }
    const fAddresses = ["2001:db8:9::2", ...(o.peerOnLo ? [fOnLo] : [])];
    writeFileSync(join(dir, "m.json"), JSON.stringify(cfg("m.demo", "f.demo", "198.18.9.2", fAddresses, sock.m)));
    writeFileSync(join(dir, "f.json"), JSON.stringify(cfg("f.demo", "m.demo", "198.18.1.2", ["2001:db8:1::2"], sock.f)));
    const startDaemon = (who: "m" | "f") => {
      const child = topo.spawn(who === "m" ? topo.m : topo.f, [...o.launcher[who], "daemon", "--config", join(dir, `${who}.json`)]);
      lines(child.stderr, collect(who));
      return child;
    };
    const daemons = { m: null as ChildProcess | null, f: null as ChildProcess | null };
    const debug = (globalThis as any).process?.env?.HANDOVER_DEMO_DEBUG;
    const collect = (who: "m" | "f") => (e: any) => {
      if (debug) console.error(`[${who}] ${JSON.stringify(e)}`);
      events[who].push(e);
      if (e.event && e.event !== "started" && e.event !== "stopped" && e.event !== "dropped") {
        // Engine events carry the time the engine saw them; logs only when they were read.
        timeline.push({ t: typeof e.t === "number" ? e.t : now(), who: who === "m" ? "M" : "F", what: describe(e), event: e });
      }
    };
    daemons.m = startDaemon("m");
    daemons.f = startDaemon("f");
    await waitFor("the daemons to start", () => events.m.some((e) => e.event === "started") && events.f.some((e) => e.event === "started"));

    // The application: servers on one end, clients on the other, from the old address.
    const serverNs = o.serverMoves ? topo.m : topo.f;
    const clientNs = o.serverMoves ? topo.f : topo.m;
    const serverAddr = o.serverMoves ? A.old : o.peerOnLo ? fOnLo : A.peer;
    const clientLocal = o.serverMoves ? A.peer : A.old;
    const common = ["--duration", String(duration), "--interval", "2", "--size", "100", ...(o.port ? ["--local-port", String(o.port.from)] : [])];
    const srv = new App(topo.spawn(serverNs, [...app, TRAFFIC, "server", "--proto", "tcp", "--bind", serverAddr, "--port", "5001"]));
    const usrv = o.udp !== false ? new App(topo.spawn(serverNs, [...app, TRAFFIC, "server", "--proto", "udp", "--bind", serverAddr, "--port", "5002"])) : null;
    // The clients connect once the servers listen (a loaded machine starts a runtime slowly).
    await waitFor("the servers to listen", () => srv.listening && (!usrv || usrv.listening)).catch(() => {});
    await sleep(50);
    const cli = new App(topo.spawn(clientNs, [...app, TRAFFIC, "client", "--proto", "tcp", "--connect", serverAddr, "--port", "5001", "--local", clientLocal, ...common]));
    const ucli = usrv ? new App(topo.spawn(clientNs, [...app, TRAFFIC, "client", "--proto", "udp", "--connect", serverAddr, "--port", "5002", "--local", clientLocal, ...common])) : null;
    await waitFor("the application to connect", () => cli.ready && (!ucli || ucli.ready));
    mark("app", `TCP ${cli.ready.local} <-> ${serverAddr}:5001${ucli ? ` and UDP ${ucli.ready.local} <-> ${serverAddr}:5002` : ""}: 100-byte records every 2 ms, both ways`);
    await sleep(700);

    const results: StemReport["migrations"] = [];
    const ports = (from: string) => (o.port ? (from === A.old ? { fromPort: o.port.from, toPort: o.port.to } : { fromPort: o.port.to, toPort: o.port.from }) : {});
    const migrate = async (from: string, to: string) => {
      const r = await control(sock.m, { cmd: "migrate", request: { peer: "f.demo", from, to, ...ports(from) } });
      if (!r.ok) throw new Error(`migrate ${from} -> ${to}: ${r.error}`);
      results.push({ id: r.result.id, state: r.result.state, elapsedMs: r.result.elapsedMs, from, to, error: r.result.error });
    };
    const capture = (globalThis as any).process?.env?.HANDOVER_DEMO_CAPTURE;
    if (capture) {
      for (const [ns, tag] of [[topo.m, "M"], [topo.f, "F"]]) {
        const td = topo.spawn(ns, ["tcpdump", "-tt", "-l", "-ni", "any", `udp port 5002 or udp port ${DEFAULT_PORT}`]);
        td.stdout?.on("data", (d: Buffer) => (globalThis as any).process.stderr.write(d.toString().replace(/^/gm, tag + " ")));
      }
      await sleep(300);
    }
    if (o.prepare) await o.prepare(topo);
    const duringDone = o.during ? Promise.resolve(o.during(topo)) : Promise.resolve();
    if (mode === "make-before-break") {
      topo.attach("b", o.defaultRouteFirst ?? false);
      mark("net", `${A.new} added on link b (make before break)${o.defaultRouteFirst ? ", the default route moved to it" : ""}`);
      if (o.askAfterMs) await sleep(o.askAfterMs);
      let at = A.old;
      for (let i = 0; i < migrations; i++) {
        const to = at === A.old ? A.new : A.old;
        if (o.follow) {
          const e = await waitFor("M's own migration", () => events.m.find((x) => x.event === "migration" && (x.state === "completed" || x.state === "failed")));
          results.push({ id: e.id, state: e.state, elapsedMs: e.elapsedMs, from: e.from, to: e.to, error: e.error });
        } else await migrate(at, to);
        at = to;
        if (i === 0 && o.restart) {
          // A daemon restart mid-stream: the new one takes over the rules the old one left.
          const who = o.restart;
          const old = daemons[who]!;
          if (o.restartAfter) await waitFor("the state to restart in", () => (o.restartAfter!(events[who]) ? true : undefined));
          const exited = new Promise((r) => old.once("exit", r));
          const sig = o.restartSignal ?? "SIGTERM";
          old.kill(sig);
          await exited;
          mark(who === "m" ? "M" : "F", `daemon stopped (${sig}); its rules stay in the kernel`);
          const before = events[who].length;
          daemons[who] = startDaemon(who);
          await waitFor("the restarted daemon to restore its moves", () => events[who].slice(before).some((e) => e.event === "restored"));
        }
        if (i + 1 < migrations) await sleep(spacing);
      }
      // Break after make, if the make worked (a failed migration leaves the sessions on the old address).
      if (at === A.new && results[results.length - 1]?.state === "completed") {
        topo.ns(topo.m, ["ip", "route", "replace", "default", "via", "198.18.2.1", "dev", "m-b"]);
        topo.ns(topo.m, ["ip", "-6", "route", "replace", "default", "via", "2001:db8:2::1", "dev", "m-b"]);
        topo.detach("a");
        mark("net", `${A.old} removed from link a (break, after make)`);
      }
    } else if (o.breaks) {
      // Each break: the current link goes down, the other link gets its
      // address after outageMs, and the daemon migrates by itself.
      let on: "a" | "b" = "a";
      for (let i = 0; i < o.breaks; i++) {
        const next: "a" | "b" = on === "a" ? "b" : "a";
        const [from, to] = on === "a" ? [A.old, A.new] : [A.new, A.old];
        const seen = events.m.length;
        topo.linkDown(on);
        mark("net", `break ${i + 1}: link ${on} down and ${from} flushed`);
        if ((o.outageMs ?? 0) > 0) await sleep(o.outageMs!);
        topo.attach(next);
        mark("net", `${to} added on link ${next}`);
        const done = (e: any) => e.event === "migration" && e.to === to && (e.state === "completed" || e.state === "failed");
        const e = await waitFor(`the automatic migration ${from} -> ${to}`, () => events.m.slice(seen).find(done));
        results.push({ id: e.id, state: e.state, elapsedMs: e.elapsedMs, from, to, error: e.error });
        topo.linkUp(on);
        on = next;
        if (i + 1 < o.breaks) await sleep(spacing);
      }
    } else {
      if (o.breakBy === "link-down") {
        topo.linkDown("a");
        mark("net", `link a down and ${A.old} flushed: M has no address (break)`);
      } else {
        topo.detach("a");
        mark("net", `${A.old} removed from link a: M has no address (break)`);
      }
      if ((o.outageMs ?? 100) > 0) await sleep(o.outageMs ?? 100);
      topo.attach("b");
      mark("net", `${A.new} added on link b (make)`);
      await migrate(A.old, A.new);
    }
    await duringDone;
    await waitFor("the application to finish", () => cli.summary && srv.summary && (!ucli || (ucli.summary && usrv!.summary)), duration + 20000);
    mark("app", "application done");
    if (o.inspect) await o.inspect(topo);

    const state = async (path: string) => (await control(path, { cmd: "state" }).catch(() => ({ state: null }))).state;
    const counters = { m: (await state(sock.m))?.counters, f: (await state(sock.f))?.counters };
    const pairs = [{ client: cli.summary!, server: srv.summary! }];
    if (ucli) pairs.push({ client: ucli.summary!, server: usrv!.summary! });
    const tcpOk = cli.summary!.sha256Sent === srv.summary!.sha256Received && srv.summary!.sha256Sent === cli.summary!.sha256Received;
    const udpLost = ucli ? ucli.summary!.lost + usrv!.summary!.lost : 0;
    const report: StemReport = {
      scenario: mode,
      family: A.v6 ? "IPv6" : "IPv4",
      migrations: results,
      tcp: pairs[0],
      udp: pairs[1],
      bytesSent: pairs.reduce((n, p) => n + p.client.sentBytes + p.server.sentBytes, 0),
      bytesReceived: pairs.reduce((n, p) => n + p.client.receivedBytes + p.server.receivedBytes, 0),
      digestsEqual: tcpOk,
      // TCP loses nothing unless the digests differ; UDP counts missing sequence numbers.
      lost: (tcpOk ? 0 : Math.abs(cli.summary!.sentBytes + srv.summary!.sentBytes - cli.summary!.receivedBytes - srv.summary!.receivedBytes)) + udpLost,
      resets: pairs.reduce((n, p) => n + p.client.resets + p.server.resets, 0) + (cli.summary!.error || srv.summary!.error ? 1 : 0),
      blackoutMs: Math.max(cli.summary!.maxGapMs, srv.summary!.maxGapMs),
      timeline: timeline.sort((a, b) => a.t - b.t),
      counters,
    };
    return report;
  } finally {
    topo.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

function describe(e: any): string {
  switch (e.event) {
    case "migration":
      return {
        started: e.hold
          ? `migration ${e.id} ${e.from} -> ${e.to}: own rules applied, session packets HELD`
          : `migration ${e.id} ${e.from} -> ${e.to}: accepting ${e.to} inbound; still sending from ${e.from} (it works)`,
        requesting: `Migration Request sent from ${e.to}`,
        released: e.hold
          ? `Migration Reply received: held packets RELEASED (${e.elapsedMs} ms after start)`
          : `Migration Reply received: sending from ${e.to} now (${e.elapsedMs} ms after start)`,
        completed: `migration ${e.id} completed, Migration Confirm sent (${e.elapsedMs} ms)`,
        failed: `migration ${e.id} FAILED: ${e.error}${e.code ? ` (${e.code})` : ""}`,
      }[e.state as string] ?? `migration ${e.state}`;
    case "peer-migration":
      return {
        unvalidated: `Migration Request accepted: rules applied (quota until validated), Migration Reply + challenge to ${e.to}`,
        validated: `Migration Confirm: ${e.to} validated, quota lifted`,
        "validation-failed": `no Migration Confirm: rolled back from ${e.to}`,
      }[e.state as string] ?? `peer migration ${e.state}`;
    case "restored":
      return e.moves
        ? `daemon started again: ${e.moves} move(s) taken over from the kernel's table`
        : "daemon started: table, hold queue and address watch in place";
    case "registration":
      return `registered with the peer (Registration Request/Reply): ${e.state}`;
    case "peer-registered":
      return `the peer registered from ${e.address}`;
    case "session-ended":
      return `session ended: move ${e.move} (${e.original} at ${e.wire}) removed`;
    case "address-removed":
      return `address ${e.address} gone (kernel notification)`;
    case "sessions-held":
      return `sessions on ${e.address} with ${e.count} peer(s) HELD; ${e.address} kept on lo, last-resort route`;
    case "address-added":
      return `address ${e.address} appeared`;
    case "auto-migration-failed":
      return `automatic migration from ${e.address} failed (error ${e.error})`;
    case "kernel-error":
      return `kernel action ${e.action} failed (errno ${e.errno})`;
    case "nft-failed":
      return `nft failed: ${e.error}`;
    default:
      return e.event;
  }
}
