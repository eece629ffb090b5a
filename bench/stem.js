// STEM against its baselines (issue 3), on real kernels, in one run:
//
//   sudo node bench/stem.js [--quick] [--migrations N] [--json FILE]
//                           [--systems handover,reconnect,mptcp] [--rtts 1,50] [--scenarios mbb,bbm,bbm-down]
//                           [--throughput-only] [--no-throughput] [--auto off] [--home] [--outage MS]
//                           [--ask-after MS] [--capture DIR] [--cc cubic|bbr|system]
//
// (after `npm run build`). Three namespaces M - R - F from demo/netns.ts (R
// drops sources that do not belong to the link they come from, BCP 38). One
// ordinary application, tools/traffic.js, streams 100-byte records every 2 ms
// both ways over one TCP connection while M's address changes back and forth
// between link a and link b, N times per cell:
//
//   make-before-break (mbb): the new address comes, then (150 ms + 3 RTT later) the old one goes
//   break-before-make (bbm): the old address goes, 100 ms later the new one comes
//   make-before-break, default route first (mbbr): M has no per-address source routes (as a network
//              manager leaves it); the new address comes with the default route, the migration is
//              asked for --ask-after ms (default 100) later, and the old address goes as in mbb
//   bbm-down: the old link goes down and its addresses are flushed (a dropped
//             Wi-Fi), the new address comes on the other link with no pause
//             (issue 7 item 1; goal: 0 resets, p50 <= outage + 1 RTT + 5 ms)
//
// and each cell runs one of three systems on the same topology:
//
//   handover   the daemons in M and F; the migration asked of M's daemon over
//              its control socket when the new address is there (or done by the
//              daemon itself, if it notices the change: then the bench only watches)
//   reconnect  no daemon; the application reconnects by itself on a new socket
//              and resumes at the byte offset the other end acknowledges
//              (tools/traffic.js --reconnect)
//   MPTCP      Linux MPTCP: the application under `mptcpize run` at both ends,
//              mptcpd (Debian) in M driving the in-kernel path manager
//              (addr_adv plugin: an endpoint with flag `subflow` for each new
//              address, removed with the address), `ip mptcp limits` at both ends
//
// The blackout of one migration is the longest gap in the received byte
// stream, at either end, that overlaps the migration (from its first network
// event until both ends receive again). A cell reports p50 and p99 over its
// migrations, the bytes lost (both directions, checked with SHA-256 of all
// bytes sent and received) and resets. The RTT comes from a delay line: a
// userspace NFQUEUE consumer in R (tools/delayline.js), because this kernel
// has no netem; its real RTT is measured with ping and printed.
//
// Then bulk TCP throughput (iperf3, one stream, M -> F, no delay line): with no
// handover rules, with the daemons idle, and after a migration (every packet
// rewritten at both ends); medians of alternating runs.
//
// --capture DIR: tcpdump in M, R and F for every cell (the session's port and
// the control port, headers only), to DIR/<system>-<scenario>-<rtt>-{m,r,f}.pcap;
// with --json, the cycles' instants (epoch ms, the pcaps' clock) say where
// each migration is in them.
//
// Numbers only: nothing here asserts a time; goals are printed next to them.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Topology, cleanStale } from "../dist/demo/netns.js";
import { control, lines } from "../dist/demo/stem.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TRAFFIC = join(ROOT, "tools", "traffic.js");
const DELAYLINE = join(ROOT, "tools", "delayline.js");
const CLI = join(ROOT, "dist", "hosts", "node", "cli.js");
const NODE = process.execPath;

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const flag = (name) => args.includes(`--${name}`);
const QUICK = flag("quick");
const N = Number(opt("migrations", QUICK ? "10" : "50"));
const SYSTEMS = opt("systems", "handover,reconnect,mptcp").split(",");
const RTTS = opt("rtts", "1,50").split(",").map(Number);
const SCENARIOS = opt("scenarios", "mbb,bbm,mbbr,bbm-down").split(",");
const OUTAGE = Number(opt("outage", "100"));
// mbbr: how long after the default route moved the migration is asked for (the CLI's start-up, say).
const ASK_AFTER = Number(opt("ask-after", "100"));
// --home: move between the same two addresses (198.18.1.2 <-> 198.18.2.2), so
// every second migration returns a session to the address it started on.
const HOME = flag("home");
// --auto off: the daemons do not watch addresses (config auto: false); every
// migration is asked for over the control socket, as soon as the new address is there.
const AUTO = opt("auto", "on");
const CAPTURE = opt("capture", null);
// --cc NAME: the TCP congestion control of M's and F's namespaces (the application's session, iperf3's
// stream); default `system`, the host's (printed with the table). This VM's is bbr: BBR's ProbeRTT (every
// 10 s, cwnd 4 packets for >= 200 ms) stalls the 2 ms records at 50 ms RTT for about one RTT, several
// times in a row, migration or not (docs/benchmarks.md, branch stem7). A namespace may only choose one of
// the host's net.ipv4.tcp_allowed_congestion_control (here reno and bbr; cubic is not allowed).
const CC = opt("cc", "system");
// Namespaces hov-perf-{m,r,f} (not hov-b*, hov-d*, hov-n*: the e2e tests clean those up),
// after HANDOVER_TAG if set (two checkouts can then run cells at once).
const TAG = `${process.env.HANDOVER_TAG ?? ""}perf`;
const GAP_THRESHOLD = 5; // ms: gaps at or below this are the sender's own timer jitter
const TP_REPS = Number(opt("throughput-reps", QUICK ? "1" : "4"));
const TP_SECONDS = 4;
const DELAY_EACH_WAY = { 1: 0.25, 50: 25 }; // ms per forwarded packet (the line's own latency adds ~0.2-0.4 ms)

const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const now = () => performance.timeOrigin + performance.now();
const log = (s) => process.stderr.write(s + "\n");

const LINK = {
  a: { v4: "198.18.1.2", v6: "2001:db8:1::2", gw4: "198.18.1.1", gw6: "2001:db8:1::1", table: 101, pref: 1001 },
  b: { v4: "198.18.2.2", v6: "2001:db8:2::2", gw4: "198.18.2.1", gw6: "2001:db8:2::1", table: 102, pref: 1002 },
};
const PEER = "198.18.9.2";
const other = (l) => (l === "a" ? "b" : "a");

// ---------------------------------------------------------------------------
// Address changes on M at known instants: one long-lived `ip -batch` in M
// (a process spawn per change costs 30-60 ms here and would blur the outage).
// The lines are those of Topology.attach/detach (IPv4 only: the application
// is IPv4): source route first, then the address, then the default route; the
// break takes the addresses (v6 too) and the source rule away, as a DHCP
// client's release would, so the next make can add them again.

class IpBatch {
  constructor(ns) {
    this.p = spawn("ip", ["-n", ns, "-force", "-batch", "-"], { stdio: ["pipe", "pipe", "pipe"] });
    this.waiting = [];
    this.errors = [];
    let out = "";
    this.p.stdout.on("data", (d) => {
      out += d.toString();
      // every request ends with `link show dev lo`: its line marks completion
      for (let i = out.indexOf(": lo: "); i >= 0; i = out.indexOf(": lo: ")) {
        out = out.slice(out.indexOf("\n", i) + 1);
        this.waiting.shift()?.(now());
      }
    });
    this.p.stderr.on("data", (d) => this.errors.push(d.toString().trim()));
  }
  /** Runs the lines; resolves with [written at, done at]. */
  run(lines) {
    return new Promise((resolve) => {
      const t0 = now();
      this.waiting.push((t1) => resolve([t0, t1]));
      this.p.stdin.write(lines.join("\n") + "\nlink show dev lo\n");
    });
  }
  close() {
    this.p.stdin.end();
    this.p.kill();
  }
}

/** M's address number `host` on a link: 198.18.1.host (a) or 198.18.2.host (b). */
const address = (link, host) => `198.18.${link === "a" ? 1 : 2}.${host}`;
/** The make: the new address and the default route; with sourceRoutes (all but mbbr), its own source route first. */
function makeLines(link, host, sourceRoutes = true) {
  const L = LINK[link];
  return [
    ...(sourceRoutes ? [
      `route replace default via ${L.gw4} dev m-${link} onlink table ${L.table}`,
      `rule add from ${address(link, host)} table ${L.table} priority ${L.pref}`,
    ] : []),
    `addr add ${address(link, host)}/24 dev m-${link}`,
    `route replace default via ${L.gw4} dev m-${link}`,
  ];
}
function breakLines(link, host, { sourceRoutes = true, down = false } = {}) {
  const L = LINK[link];
  return [
    ...(down ? [`link set m-${link} down`] : []),
    `addr flush dev m-${link} scope global`,
    ...(sourceRoutes ? [`rule del from ${address(link, host)} table ${L.table} priority ${L.pref}`] : []),
  ];
}

// ---------------------------------------------------------------------------
// Processes

/** A tools/traffic.js end: its ready line, gap lines, status answers and summary. */
class App {
  constructor(child, who) {
    this.child = child;
    this.who = who;
    this.ready = null;
    this.summary = null;
    this.gaps = [];
    this.statusWaiters = [];
    this.stderr = "";
    child.stderr.on("data", (d) => (this.stderr += d.toString()));
    lines(child.stdout, (o) => {
      if (o.ready) this.ready = o;
      else if (o.listening) this.listening = o;
      else if (o.gap !== undefined) this.gaps.push(o);
      else if (o.status) this.statusWaiters.shift()?.(o);
      else if (o.sentBytes !== undefined) this.summary = o;
    });
  }
  status() {
    return new Promise((resolve) => {
      this.statusWaiters.push(resolve);
      this.child.kill("SIGUSR1");
      setTimeout(() => resolve(null), 1000);
    });
  }
}

async function waitFor(what, fn, ms = 15000) {
  const end = now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function daemons(topo, dir) {
  const key = Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
  const sock = { m: `/run/handover/${topo.m}.sock`, f: `/run/handover/${topo.f}.sock` };
  const cfg = (name, peer, address, addresses, control) => ({
    name, listen: ["0.0.0.0", "::"], control, log: "info", ...(AUTO === "off" ? { auto: false } : {}),
    peers: [{ name: peer, address, addresses, sa: [{ spi: 256, key }] }],
  });
  writeFileSync(join(dir, "m.json"), JSON.stringify(cfg("m.bench", "f.bench", PEER, ["2001:db8:9::2"], sock.m)));
  writeFileSync(join(dir, "f.json"), JSON.stringify(cfg("f.bench", "m.bench", LINK.a.v4, [LINK.a.v6], sock.f)));
  const events = { m: [], f: [] };
  const procs = {};
  for (const who of ["m", "f"]) {
    procs[who] = topo.spawn(topo[who], [NODE, CLI, "daemon", "--config", join(dir, `${who}.json`)]);
    lines(procs[who].stderr, (e) => events[who].push(e));
  }
  return {
    sock, events, procs,
    started: () => events.m.some((e) => e.event === "started") && events.f.some((e) => e.event === "started"),
    async stop() {
      for (const p of Object.values(procs)) p.kill("SIGTERM");
      await waitFor("the daemons to stop", () => Object.values(procs).every((p) => p.exitCode !== null || p.signalCode !== null), 5000).catch(() => {});
    },
  };
}

/**
 * --cc: the congestion control of M's and F's new TCP sockets (per namespace). A namespace may only
 * choose one of the host's net.ipv4.tcp_allowed_congestion_control.
 */
let ccUsed = null;
function setCongestionControl(topo) {
  if (CC === "system") return;
  const set = (cc) => [topo.m, topo.f].every((n) => topo.try(n, ["sysctl", "-qw", `net.ipv4.tcp_congestion_control=${cc}`]).status === 0);
  if (set(CC)) ccUsed = CC;
  else throw new Error(`--cc ${CC}: the namespaces may not use it (net.ipv4.tcp_allowed_congestion_control)`);
}
function congestionControl() {
  if (CC !== "system") return ccUsed ?? CC;
  return spawnSync("sysctl", ["-n", "net.ipv4.tcp_congestion_control"]).stdout?.toString().trim() || "?";
}

function ping(topo, count = 30) {
  const r = topo.try(topo.m, ["ping", "-n", "-c", String(count), "-i", "0.01", PEER]);
  const times = [...r.out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
  return { n: times.length, p50: quantile(times, 0.5), min: times[0], max: times[times.length - 1], lost: count - times.length };
}

async function startDelayLine(topo, delay) {
  const child = topo.spawn(topo.r, [NODE, DELAYLINE, "--queue", "3", "--delay", String(delay), "--install"]);
  const dl = { child, ready: null, summary: null };
  lines(child.stdout, (o) => (o.ready ? (dl.ready = o) : (dl.summary = o)));
  await waitFor("the delay line", () => dl.ready, 5000);
  return dl;
}

/** tcpdump on every interface of M, R and F (stopped with the topology). */
async function startCaptures(topo, prefix) {
  const ready = [];
  for (const who of ["m", "r", "f"]) {
    const c = topo.spawn(topo[who], ["tcpdump", "-i", "any", "-n", "-U", "-s", "128", "-w", `${prefix}-${who}.pcap`, "tcp port 5001 or udp port 4346 or icmp"]);
    let err = "";
    c.stderr.on("data", (x) => (err += x.toString()));
    ready.push(waitFor(`tcpdump in ${who}`, () => /listening on/.test(err), 5000));
  }
  await Promise.all(ready);
}

// ---------------------------------------------------------------------------
// Statistics

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  // nearest rank
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
const median = (xs) => quantile([...xs].sort((a, b) => a - b), 0.5);

/** The longest gap, at either end, overlapping [from, to]; with `at`, the gap itself (its end's who: M or F). */
function longestGap(apps, from, to, at = null) {
  let max = 0;
  for (const a of apps) {
    for (const g of a.gaps) {
      if (g.to > from && g.from < to && g.gap > max) {
        max = g.gap;
        if (at) Object.assign(at, { who: a.who, from: g.from, to: g.to });
      }
    }
  }
  return max;
}

// ---------------------------------------------------------------------------
// One cell: one system, one scenario, one RTT, N migrations of one session.
// A session that stalls (no data for STALL_MS) or dies counts as a failed
// migration and is replaced by a new one from the current address, so that
// the cell still gets its N migrations; its undelivered bytes count as lost.

const STALL_MS = 5000;

async function cell(system, scenario, rtt) {
  const label = `${system} ${scenario} rtt ${rtt}`;
  const topo = new Topology(TAG);
  // mbbr: only the default route, no source route per address (see the header).
  const sourceRoutes = scenario !== "mbbr";
  topo.sourceRoutes = sourceRoutes;
  const dir = mkdtempSync(join(tmpdir(), "handover-bench-"));
  let ip = null;
  const res = { system, scenario, rtt, cycles: [], sessions: [], notes: [] };
  const started = now();
  const apps = [];
  let d = null;
  try {
    topo.up();
    setCongestionControl(topo);
    ip = new IpBatch(topo.m);
    const dl = await startDelayLine(topo, DELAY_EACH_WAY[rtt]);
    if (CAPTURE) await startCaptures(topo, join(CAPTURE, `${system}-${scenario}-${rtt}`));
    res.ping = ping(topo);
    const rttMs = res.ping.p50;

    const startDaemons = async () => {
      d = daemons(topo, dir);
      await waitFor("the daemons to start", d.started);
    };
    if (system === "handover") await startDaemons();
    else if (system === "mptcp") {
      for (const n of [topo.m, topo.f]) topo.ns(n, ["ip", "mptcp", "limits", "set", "subflow", "8", "add_addr_accepted", "8"]);
      const mp = topo.spawn(topo.m, ["/usr/libexec/mptcpd", "--path-manager=addr_adv", "--addr-flags=subflow",
        "--notify-flags=existing,skip_link_local,skip_loopback", "--log=stderr"]);
      let mpLog = "";
      mp.stderr.on("data", (x) => (mpLog += x.toString()));
      await waitFor("mptcpd", () => /path manager initialized/.test(mpLog) && topo.try(topo.m, ["ip", "mptcp", "endpoint", "show"]).out.includes(LINK.a.v4), 5000);
    }
    const wrap = system === "mptcp" ? ["mptcpize", "run"] : [];
    const extra = ["--gaps-over", String(GAP_THRESHOLD), ...(system === "reconnect" ? ["--reconnect"] : [])];

    let cli = null, srv = null;
    const startSession = async (local) => {
      srv = new App(topo.spawn(topo.f, [...wrap, NODE, TRAFFIC, "server", "--proto", "tcp", "--bind", PEER, "--port", "5001", "--keep-listening", ...extra]), "F");
      await waitFor("the server", () => srv.listening || srv.ready, 5000).catch(() => sleep(300));
      cli = new App(topo.spawn(topo.m, [...wrap, NODE, TRAFFIC, "client", "--proto", "tcp", "--connect", PEER, "--port", "5001",
        "--local", local, "--duration", "3600000", "--interval", "2", "--size", "100", ...extra]), "M");
      apps.push(cli, srv);
      await waitFor("the application to connect", () => cli.ready && srv.ready);
    };
    /** Ends the session: cleanly (the client stops, both print digests) or by force. */
    const endSession = async (clean) => {
      if (clean) {
        cli.child.kill("SIGUSR2");
        await waitFor("the application to finish", () => cli.summary && srv.summary, 15000).catch(() => (clean = false));
      }
      if (!clean) {
        for (const a of [cli, srv]) if (!a.summary) a.child.kill("SIGTERM");
        await waitFor("summaries", () => cli.summary && srv.summary, 3000).catch(() => {});
      }
      const a = cli.summary, b = srv.summary;
      if (!a || !b) return res.sessions.push({ lost: NaN, note: "no summary" });
      const c2s = a.sha256Sent === b.sha256Received, s2c = b.sha256Sent === a.sha256Received;
      res.sessions.push({
        clean, sent: a.sentBytes + b.sentBytes,
        lost: (c2s ? 0 : Math.max(1, a.sentBytes - b.receivedBytes)) + (s2c ? 0 : Math.max(1, b.sentBytes - a.receivedBytes)),
        resets: a.resets + b.resets, errors: [a.error, b.error].filter(Boolean), reconnects: a.reconnects ?? 0,
      });
    };

    await startSession(LINK.a.v4);
    const idleFrom = now();
    await sleep(1000);
    res.idleMaxGap = longestGap(apps, idleFrom, now());

    const alive = () => !cli.summary && !srv.summary;
    /** Waits until both ends have received steadily for 150 ms + 1 RTT (or gives up). */
    const settle = async (since) => {
      await sleep(since + 50 + 2 * rttMs - now());
      const deadline = now() + STALL_MS;
      let steadySince = null;
      for (;;) {
        const [a, b] = await Promise.all([cli.status(), srv.status()]);
        const t = now();
        const fresh = a && b && t - a.lastArrival < 25 && t - b.lastArrival < 25;
        if (!fresh) steadySince = null;
        else if (steadySince === null) steadySince = t;
        else if (t - steadySince >= 150 + rttMs) return { recovered: true, at: t };
        if (t > deadline || !alive()) return { recovered: false, at: t };
        await sleep(20);
      }
    };
    const watching = () => d && d.events.m.some((e) => e.event === "address-removed");

    // Each move brings a new address (198.18.1.2 -> 198.18.2.3 -> 198.18.1.4 ...),
    // like a host that gets a fresh lease on each network. See HOME above.
    let at = "a", host = 2;
    for (let i = 0; i < N; i++) {
      const to = other(at);
      const toHost = HOME ? 2 : host + 1;
      const c = { i, from: address(at, host), to: address(to, toHost), session: res.sessions.length };
      const mEvents = d ? d.events.m.length : 0;
      const fEvents = d ? d.events.f.length : 0;
      if (scenario === "mbb" || scenario === "mbbr") {
        [c.t0, c.made] = await ip.run(makeLines(to, toHost, sourceRoutes));
        // mbbr: the default route already moved; the migration is asked for later.
        if (scenario === "mbbr") await sleep(c.made + ASK_AFTER - now());
        if (system === "handover") {
          const r = await control(d.sock.m, { cmd: "migrate", request: { peer: "f.bench", from: c.from, to: c.to } }).catch((e) => ({ ok: false, error: String(e) }));
          c.migration = r.ok ? r.result : { state: "failed", error: r.error };
        }
        // The overlap: long enough for MPTCP to join a subflow from the new address.
        await sleep(c.t0 + 150 + 3 * rttMs - now());
        [c.tBreak, c.broken] = await ip.run(breakLines(at, host, { sourceRoutes }));
        c.last = c.tBreak;
      } else {
        const down = scenario === "bbm-down";
        [c.t0, c.broken] = await ip.run(breakLines(at, host, { down }));
        if (!down) await sleep(c.t0 + OUTAGE - now());
        [c.tMake, c.made] = await ip.run(makeLines(to, toHost));
        c.outage = c.made - c.t0;
        c.last = c.tMake;
        if (system === "handover") {
          if (watching()) {
            // The daemon noticed the loss itself and migrates when the new address appears.
            c.auto = true;
            const done = () => d.events.m.slice(mEvents).find((e) => e.event === "migration" && (e.state === "completed" || e.state === "failed"));
            c.migration = await waitFor("the automatic migration", done, 5000).catch(() => ({ state: "none" }));
          } else {
            const r = await control(d.sock.m, { cmd: "migrate", request: { peer: "f.bench", from: c.from, to: c.to } }).catch((e) => ({ ok: false, error: String(e) }));
            c.migration = r.ok ? r.result : { state: "failed", error: r.error };
          }
        }
      }
      const s = await settle(c.last);
      c.recovered = s.recovered;
      c.t1 = s.at;
      // The link that went down comes back (without addresses) for the move after next.
      if (scenario === "bbm-down") await ip.run([`link set m-${at} up`]);
      if (d) c.events = { m: d.events.m.slice(mEvents).filter((e) => e.event && e.event !== "dropped") };
      // HANDOVER_TRACE=1: both daemons' trace lines (hosts/shared/daemon.ts) of this migration, for --json
      if (d && process.env.HANDOVER_TRACE) c.trace = { m: d.events.m.slice(mEvents).filter((e) => e.trace), f: d.events.f.slice(fEvents).filter((e) => e.trace) };
      res.cycles.push(c);
      at = to;
      host = toHost;
      if (!c.recovered) {
        // Failed: a reset (the session died) or a stall. A new session carries on.
        c.failure = alive() ? "stall" : "reset";
        await endSession(false);
        if (system === "handover") {
          res.fEvents = (res.fEvents ?? []).concat(d.events.f.filter((e) => e.event === "peer-migration"));
          await d.stop();
          await startDaemons();
        }
        try {
          await startSession(address(at, host));
        } catch (e) {
          res.notes.push(`no new session after migration ${i}: ${e.message}; cell ended early`);
          cli = srv = null;
          break;
        }
        await sleep(300);
      }
      await sleep(50 + rttMs);
    }
    if (cli) await endSession(true);
    if (d) {
      res.fEvents = (res.fEvents ?? []).concat(d.events.f.filter((e) => e.event === "peer-migration"));
      res.counters = (await control(d.sock.m, { cmd: "state" }).catch(() => ({})))?.state?.counters;
      await d.stop();
    }
    dl.child.kill("SIGTERM");
    await waitFor("the delay line's summary", () => dl.summary, 5000).catch(() => {});
    res.delayLine = dl.summary;
    if (ip.errors.length) res.ipErrors = ip.errors.slice(0, 5);
  } finally {
    ip?.close();
    topo.down();
    rmSync(dir, { recursive: true, force: true });
  }

  // Per migration: the longest gap overlapping it; a failed one counts as its
  // whole window (a stall: at least STALL_MS) or as infinite (a reset).
  for (const c of res.cycles) {
    c.gapAt = {};
    const g = longestGap(apps, c.t0 - 1, c.t1, c.gapAt);
    c.blackoutMs = c.failure === "reset" ? Infinity : c.failure === "stall" ? Math.max(g, c.t1 - c.t0) : g || GAP_THRESHOLD;
  }
  res.bytesLost = res.sessions.reduce((n, x) => n + x.lost, 0);
  res.bytesSent = res.sessions.reduce((n, x) => n + (x.sent ?? 0), 0);
  res.resets = res.sessions.reduce((n, x) => n + (x.resets ?? 0), 0);
  res.reconnects = res.sessions.reduce((n, x) => n + (x.reconnects ?? 0), 0);
  res.errors = res.sessions.flatMap((x) => x.errors ?? []);
  res.failed = { stall: res.cycles.filter((c) => c.failure === "stall").length, reset: res.cycles.filter((c) => c.failure === "reset").length };
  if (res.failed.stall) res.notes.push(`${res.failed.stall} migration(s) stalled the session for ${STALL_MS / 1000} s (counted as >= ${STALL_MS / 1000} s)`);
  if (res.failed.reset) res.notes.push(`${res.failed.reset} migration(s) reset the session (counted as infinite)`);
  if (system === "handover") {
    const bad = res.cycles.filter((c) => c.migration?.state !== "completed");
    if (bad.length) res.notes.push(`${bad.length} migration(s) not completed: ${bad[0].migration?.error ?? bad[0].migration?.state}`);
  }
  res.seconds = (now() - started) / 1000;
  const byBlackout = [...res.cycles].sort((x, y) => x.blackoutMs - y.blackoutMs);
  const q = (p) => quantile(byBlackout, p);
  res.p50 = q(0.5)?.blackoutMs;
  res.p99 = q(0.99)?.blackoutMs;
  res.max = byBlackout[byBlackout.length - 1]?.blackoutMs;
  // ">=": the quantile is a stalled migration, whose blackout is only bounded below.
  res.p50Bound = q(0.5)?.failure === "stall";
  res.p99Bound = q(0.99)?.failure === "stall";
  res.maxBound = byBlackout[byBlackout.length - 1]?.failure === "stall";
  const bl = byBlackout;
  log(`  ${label.padEnd(28)} n=${bl.length} p50 ${fmt(res.p50)} p99 ${fmt(res.p99)} ms, lost ${res.bytesLost}, ${res.seconds.toFixed(0)} s${res.notes.length ? "  [" + res.notes.join("; ") + "]" : ""}`);
  return res;
}

// ---------------------------------------------------------------------------
// Throughput through the rewrite rules

function iperfRate(json) {
  try {
    const j = JSON.parse(json);
    // seconds 2..end: after the migration (done at ~0.7 s) and TCP's ramp-up
    const iv = j.intervals.slice(1).map((x) => x.sum.bits_per_second);
    return iv.reduce((s, x) => s + x, 0) / iv.length;
  } catch {
    return NaN;
  }
}

function linkBytes(topo, dev) {
  const out = topo.ns(topo.r, ["cat", `/sys/class/net/${dev}/statistics/rx_bytes`]);
  return Number(out.trim());
}

/** One iperf3 run on a fresh topology: v = "none" | "idle" | "migrated". */
async function throughputRun(v, notes) {
  // A fresh topology each time: a stopped daemon leaves its rules in the
  // kernel on purpose (a restarted one takes its sessions back).
  const topo = new Topology(TAG);
  const dir = mkdtempSync(join(tmpdir(), "handover-bench-"));
  let ip = null;
  try {
    topo.up();
    setCongestionControl(topo);
    ip = new IpBatch(topo.m);
    let d = null;
    if (v !== "none") {
      d = daemons(topo, dir);
      await waitFor("the daemons to start", d.started);
    }
    if (v === "migrated") await ip.run(makeLines("b", 2).slice(0, 3)); // the new address, no default route
    topo.spawn(topo.f, ["iperf3", "-s", "-1", "-B", PEER]);
    await sleep(300);
    const rxB = linkBytes(topo, "r-b");
    const client = topo.spawn(topo.m, ["iperf3", "-c", PEER, "-B", LINK.a.v4, "-t", String(TP_SECONDS), "-i", "1", "-J"]);
    let out = "", err = "";
    client.stdout.on("data", (x) => (out += x.toString()));
    client.stderr.on("data", (x) => (err += x.toString()));
    const exited = new Promise((r) => client.on("exit", r));
    const limit = setTimeout(() => client.kill("SIGKILL"), (TP_SECONDS + 10) * 1000);
    if (v === "migrated") {
      await sleep(700);
      const r = await control(d.sock.m, { cmd: "migrate", request: { peer: "f.bench", from: LINK.a.v4, to: LINK.b.v4 } }).catch((e) => ({ ok: false, error: String(e) }));
      if (!r.ok || r.result.state !== "completed") notes.push(`migration for throughput: ${r.error ?? r.result?.state}`);
    }
    const code = await exited;
    clearTimeout(limit);
    const rate = iperfRate(out);
    if (!Number.isFinite(rate)) notes.push(`iperf3 (${v}) failed (exit ${code}): ${(out + err).slice(0, 300).replace(/\s+/g, " ")}`);
    const viaB = linkBytes(topo, "r-b") - rxB;
    if (v === "migrated" && viaB < 1e8) notes.push(`only ${viaB} bytes crossed link b after the migration`);
    log(`  throughput ${v.padEnd(9)} ${(rate / 1e9).toFixed(2)} Gbit/s${v === "migrated" ? ` (${(viaB / 1e9).toFixed(2)} GB via link b)` : ""}`);
    if (d) await d.stop();
    return rate;
  } finally {
    ip?.close();
    topo.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function throughput() {
  const rates = { none: [], idle: [], migrated: [] };
  const notes = [];
  const order = ["none", "idle", "migrated"];
  for (let rep = 0; rep < TP_REPS; rep++) {
    for (let k = 0; k < order.length; k++) {
      const v = order[(k + rep) % order.length];
      rates[v].push(await throughputRun(v, notes));
    }
  }
  const med = (xs) => median(xs.filter(Number.isFinite));
  // Runs of one repetition are adjacent in time: their ratio is less noisy than the ratio of medians.
  const ratio = (v) => med(rates[v].map((x, i) => x / rates.none[i]));
  return { rates, notes, median: Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, med(v)])), ratio: { idle: ratio("idle"), migrated: ratio("migrated") } };
}

// ---------------------------------------------------------------------------
// Output

const fmt = (x) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : x === Infinity ? "reset" : "-");
const NAMES = { handover: "handover", reconnect: "reconnect", mptcp: "MPTCP" };

function table(results, tp, rttInfo) {
  const out = [];
  const p = (s = "") => out.push(s);
  if (results.length) {
    p(`STEM blackout, ${N} migrations per cell: one TCP session, 100-byte records every 2 ms both ways;`);
    p(`blackout = longest receive gap at either end overlapping a migration (gaps <= ${GAP_THRESHOLD} ms count as ${GAP_THRESHOLD}).`);
    p(`mbb: new address, then the old one goes 150 ms + 3 RTT later; bbm: old address goes, new one ${OUTAGE} ms later;`);
    p(`mbbr: as mbb, but no per-address source routes, and the default route moves with the new address ${ASK_AFTER} ms before the migration is asked for.`);
    p(`bbm-down: the old link goes down and is flushed, the new address follows with no pause (outage: until it is in place).`);
    p(`TCP congestion control in M and F: ${congestionControl()}${CC === "system" ? " (the host's, --cc system)" : " (--cc)"}.`);
    p(`delay line: userspace NFQUEUE on R (tools/delayline.js), netem unavailable in this kernel:`);
    for (const [rtt, info] of Object.entries(rttInfo)) {
      p(`  nominal ${rtt} ms: ${DELAY_EACH_WAY[rtt]} ms per forwarded packet each way; ping RTT M->F p50 ${info.p50.toFixed(2)} ms (min ${info.min.toFixed(2)}, max ${info.max.toFixed(2)}, ${info.n} cells x 30); verdicts late by mean ${info.late.toFixed(3)} ms, max ${info.lateMax.toFixed(2)} ms`);
    }
    p("");
    const head = ["scenario", "RTT ms", "system", "p50 ms", "p99 ms", "max ms", "failed", "lost B", "resets", "n", "idle gap", "handover p50/p99 vs this", "goal (p50)"];
    const rows = [head];
    for (const sc of SCENARIOS) {
      for (const rtt of RTTS) {
        const cells = results.filter((r) => r.scenario === sc && r.rtt === rtt);
        const h = cells.find((r) => r.system === "handover");
        const measured = rttInfo[rtt]?.p50 ?? rtt;
        for (const r of cells) {
          let vs = "";
          if (h && r.system !== "handover") vs = `${(h.p50 / r.p50).toFixed(2)}x / ${(h.p99 / r.p99).toFixed(2)}x`;
          let goal = "";
          if (r.system === "handover") {
            // mbbr: 5 ms; bbm-down: the outage (break written -> new address in place), one RTT and 5 ms, no reset.
            const outage = median(r.cycles.map((c) => c.outage).filter(Number.isFinite));
            const g = sc === "mbbr" ? 5 : sc === "bbm-down" ? outage + measured + 5 : measured + (sc === "mbb" ? 10 : 250);
            const met = r.p50 <= g && (sc !== "bbm-down" || r.resets === 0);
            goal = `<= ${fmt(g)}${sc === "bbm-down" ? `, 0 resets (outage p50 ${fmt(outage)})` : ""}: ${met ? "met" : "MISSED"}`;
          }
          const b = (x, bound) => (bound ? ">=" : "") + fmt(x);
          rows.push([sc.toUpperCase(), fmt(measured), NAMES[r.system], b(r.p50, r.p50Bound), b(r.p99, r.p99Bound), b(r.max, r.maxBound),
            String(r.failed.stall + r.failed.reset), String(r.bytesLost), String(r.resets ?? "-"), String(r.cycles.length), fmt(r.idleMaxGap), vs, goal]);
        }
      }
    }
    const w = head.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const [k, r] of rows.entries()) {
      p(r.map((c, i) => (i < 3 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  "));
      if (k === 0) p(w.map((x) => "-".repeat(x)).join("  "));
    }
    p(`(x < 1: handover's blackout is shorter. failed: migrations after which the session stalled for ${STALL_MS / 1000} s or was reset;`);
    p(" lost B: bytes sent but never delivered, over all sessions. idle gap: longest gap in 1 s before the first migration, the noise floor.)");
    const notes = results.filter((r) => r.notes.length);
    for (const r of notes) p(`note: ${r.system} ${r.scenario} ${r.rtt} ms: ${r.notes.join("; ")}`);

  }
  // Where handover's time goes.
  const hs = results.filter((r) => r.system === "handover");
  if (hs.length) {
    p("");
    p("handover, medians per migration (ms): M applies its rules + hold -> request sent; F receives, applies, replies; reply -> M releases");
    for (const r of hs) {
      const ph = phases(r);
      p(`  ${r.scenario.toUpperCase()} ${fmt(rttInfo[r.rtt]?.p50 ?? r.rtt)} ms: ${ph}`);
    }
  }
  if (tp) {
    p("");
    const m = tp.median;
    p(`bulk TCP throughput M->F (iperf3, 1 stream, no delay line, fresh topology per run, ${tp.rates.none.length} runs each, seconds 2-${TP_SECONDS}; % = median of per-repetition ratios):`);
    p(`  no handover rules ${(m.none / 1e9).toFixed(2)} Gbit/s; daemons idle (chains, no session rewritten) ${(m.idle / 1e9).toFixed(2)} (${(100 * tp.ratio.idle).toFixed(1)}%);` +
      ` after a migration (every packet rewritten at M and F) ${(m.migrated / 1e9).toFixed(2)} (${(100 * tp.ratio.migrated).toFixed(1)}%); goal >= 95%: ${tp.ratio.migrated >= 0.95 ? "met" : "MISSED"}`);
    p(`  runs (Gbit/s): none ${tp.rates.none.map((x) => (x / 1e9).toFixed(2)).join(" ")}; idle ${tp.rates.idle.map((x) => (x / 1e9).toFixed(2)).join(" ")}; migrated ${tp.rates.migrated.map((x) => (x / 1e9).toFixed(2)).join(" ")}`);
    for (const n of tp.notes) p(`  note: ${n}`);
  }
  return out.join("\n");
}

function phases(r) {
  const apply = [], fside = [], back = [], total = [], trigger = [];
  const fEv = r.fEvents ?? [];
  for (const c of r.cycles) {
    const ev = c.events?.m ?? [];
    const st = ev.find((e) => e.event === "migration" && e.state === "started");
    const rq = ev.find((e) => e.event === "migration" && e.state === "requesting");
    const rl = ev.find((e) => e.event === "migration" && e.state === "released");
    if (!st || !rq || !rl) continue;
    const f = fEv.find((e) => e.state === "unvalidated" || e.state === "validated" ? e.t >= rq.t && e.t <= rl.t : false);
    apply.push(rq.t - st.t);
    total.push(rl.t - st.t);
    trigger.push(st.t - (r.scenario === "mbb" ? c.made : c.made));
    if (f) {
      fside.push(f.elapsedMs);
      back.push(rl.t - f.t);
    }
  }
  if (!total.length) return "no migration events";
  return `trigger (address there -> started) ${fmt(median(trigger))}, M apply ${fmt(median(apply))}, request -> F done ${fmt(median(total) - median(apply) - median(back))} (F itself ${fmt(median(fside))}), F done -> M released ${fmt(median(back))}; started -> released ${fmt(median(total))}`;
}

// ---------------------------------------------------------------------------

async function main() {
  if (process.getuid?.() !== 0) {
    console.error("bench/stem.js: needs root (network namespaces)");
    process.exit(2);
  }
  for (const [tool, why] of [["nft", "nftables"], ["iptables-nft", "iptables"], ["mptcpize", "mptcpize"], ["iperf3", "iperf3"], ["ping", "iputils-ping"]]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
      console.error(`bench/stem.js: ${tool} missing: apt-get install -y ${why}${tool === "mptcpize" ? " mptcpd" : ""}`);
      process.exit(2);
    }
  }
  cleanStale(TAG);
  const t0 = now();
  const results = [];
  let tp = null;
  const stop = () => {
    cleanStale(TAG);
    process.exit(130);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    if (!flag("throughput-only")) {
      for (const rtt of RTTS) {
        for (const sc of SCENARIOS) {
          for (const sys of SYSTEMS) results.push(await cell(sys, sc, rtt));
        }
      }
    }
    if (!flag("no-throughput")) tp = await throughput();
  } finally {
    cleanStale(TAG);
  }
  const rttInfo = {};
  for (const rtt of RTTS) {
    const cs = results.filter((r) => r.rtt === rtt);
    if (!cs.length) continue;
    const dls = cs.map((r) => r.delayLine).filter(Boolean);
    rttInfo[rtt] = {
      p50: median(cs.map((r) => r.ping.p50)), min: Math.min(...cs.map((r) => r.ping.min)), max: Math.max(...cs.map((r) => r.ping.max)), n: cs.length,
      late: dls.length ? dls.reduce((s, x) => s + x.meanLateMs, 0) / dls.length : NaN, lateMax: Math.max(...dls.map((x) => x.maxLateMs)),
    };
  }
  console.log(table(results, tp, rttInfo));
  console.log(`\n${process.argv.slice(1).join(" ")}: ${((now() - t0) / 1000).toFixed(0)} s, node ${process.versions.node}, ${new Date().toISOString()}`);
  const json = opt("json");
  if (json) writeFileSync(json, JSON.stringify({ results, throughput: tp, rttInfo, migrations: N, outageMs: OUTAGE, congestionControl: congestionControl() }, null, 1));
}

await main();
