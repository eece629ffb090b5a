// SID, transfer time and the correspondent's longest gap (issue 8, "Figures
// to measure"), against an application that closes and reconnects from the
// target, in one run, at ~1 ms and 50 ms RTT. Used by bench/sid.js.
//
// SID: runSid (demo/sid.ts, the code `handover demo sid` runs): fresh
// namespaces C - R - {N, A, T} (demo/netns.ts SidTopology, BCP 38 on R), three
// handover daemons, an unmodified correspondent (tools/traffic.js) and the
// application at N, the live TCP connection transferred to T (reverse-
// tunnelled return, so it survives R's ingress filter), with runSid's delay
// line (rttMs: tools/delayline.js, NFQUEUE on R's FORWARD hook; this kernel
// has no netem), which starts before the daemons and the application. On this
// machine br_netfilter is loaded, so the bridged home link (N - A) is delayed
// too: the bench pings C -> N, N -> A and N -> T to show it. transfer ms = the application's decision (its call of
// transfer() in N's process) to the first correspondent byte the target's application received
// (SidReport.transferMs); the harness's command to that process before it (commandMs) is printed apart;
// gap = the longest gap between two arrivals at the correspondent.
//
// Baseline: the same topology and delay line, no daemons; the application
// (bench/sid-reconnect-app.js) closes its connection at N at the decision and
// connects again from T's own address, resuming at the byte offset N had
// received (N's count, handed to T by the bench, as an application would carry
// it). transfer ms = the application's decision (its close at N, after the harness's command) to T's first byte
// from the correspondent.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runSid } from "../dist/demo/sid.js";
import { SidTopology, cleanStale } from "../dist/demo/netns.js";
import { lines } from "../dist/demo/stem.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DELAYLINE = join(ROOT, "tools", "delayline.js");
const APP = join(ROOT, "bench", "sid-reconnect-app.js");
const NODE = process.execPath;
const TAG = process.env.HANDOVER_TAG ?? "";
/** ms per forwarded packet, each way (the line's own latency adds ~0.2-0.4 ms), as bench/stem.js. */
export const DELAY_EACH_WAY = { 1: 0.25, 50: 25 };
const APP_PORT = 5001;
const BEFORE_MS = 700;
const AFTER_MS = 400;

const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const now = () => performance.timeOrigin + performance.now();

async function waitFor(what, f, ms) {
  for (const end = now() + ms; ; await sleep(5)) {
    const v = f();
    if (v) return v;
    if (now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

/** Starts the delay line in namespace ns; resolves once it is installed. */
async function delayLine(ns, delay) {
  const child = spawn("ip", ["netns", "exec", ns, NODE, DELAYLINE, "--queue", "3", "--delay", String(delay), "--install"], { stdio: ["ignore", "pipe", "pipe"] });
  const dl = { child, readyAt: 0 };
  lines(child.stdout, (o) => o.ready && (dl.readyAt = now()));
  await waitFor("the delay line", () => dl.readyAt, 8000);
  return dl;
}

/** Ping RTTs (ms): p50 of count probes from ns to address. */
function pingP50(topo, ns, address, count = 10) {
  const r = topo.try(ns, ["ping", "-n", "-c", String(count), "-i", "0.05", "-W", "1", address]);
  const t = [...r.out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
  return t.length ? t[Math.floor(t.length / 2)] : NaN;
}

/** Where a SID transfer's time goes: the roles' events (their own clocks; one machine), ms after the decision. */
const PHASES = [
  ["targetNegotiated", "T", /^target negotiated/],
  ["nodeNegotiated", "N", /^node negotiated/],
  ["recordDumped", "N", /^record dumped/],
  ["agentBound", "A", /^agent bound/],
  ["recordRestored", "T", /^record restored/],
  ["targetBound", "T", /^target bound/],
  ["targetReleased", "T", /^target released/],
  ["nodeTransferred", "N", /^node transferred/],
  ["sessionArrived", "T", /^session .* arrived/],
];

/** One SID transfer with the delay line for this RTT; measureRtt also pings (C to N through R, N to A on the home link). */
export async function sidTransfer(rtt, measureRtt = false) {
  let rtts = null;
  const report = await runSid({
    tag: `${TAG}sb`, reverse: true, beforeMs: BEFORE_MS, afterMs: AFTER_MS, rttMs: 2 * DELAY_EACH_WAY[rtt],
    during: measureRtt ? async (s) => {
      rtts = { correspondentNode: pingP50(s.topo, s.topo.c, s.topo.addr.node), nodeAgent: pingP50(s.topo, s.topo.n, s.topo.addr.agent), nodeTarget: pingP50(s.topo, s.topo.n, s.topo.addr.target) };
    } : undefined,
  });
  // The phases count from the application's call, as transferMs does (the harness's command took commandMs).
  const decided = (report.timeline.find((e) => e.who === "N" && /asks to transfer/.test(e.what))?.t ?? 0) + (report.commandMs ?? 0);
  const phases = {};
  for (const [name, who, re] of PHASES) {
    const e = report.timeline.find((x) => x.who === who && re.test(x.what) && x.t >= decided);
    if (e) phases[name] = Math.round((e.t - decided) * 1000) / 1000;
  }
  return {
    system: "sid", rtt, ok: !report.error, error: report.error,
    transferMs: report.transferMs, commandMs: report.commandMs ?? null, gapMs: report.correspondent?.maxGapMs ?? null, lost: report.lost, resets: report.resets,
    digestsEqual: report.digestsEqual, filtered: report.filtered, rtts, phases,
  };
}

/** One close-and-reconnect from the target, same topology and delay line, no daemons. */
export async function reconnectTransfer(rtt, measureRtt = false) {
  const tag = `${TAG}sc`;
  cleanStale(tag);
  const topo = new SidTopology(tag, {});
  const A = topo.addr;
  const out = { system: "reconnect", rtt, ok: false, error: null, transferMs: null, commandMs: null, gapMs: null, lost: -1, resets: -1, digestsEqual: null, filtered: 0, rtts: null };
  try {
    topo.up();
    await delayLine(topo.r, DELAY_EACH_WAY[rtt]);
    const proc = (ns, argv) => {
      const child = topo.spawn(ns, [NODE, APP, ...argv]);
      const p = { child, events: [] };
      lines(child.stdout, (o) => p.events.push(o));
      p.wait = (key, ms = 8000) => waitFor(`${key} from ${argv[0]} in ${ns}`, () => p.events.find((e) => e[key] !== undefined), ms);
      return p;
    };
    const c = proc(topo.c, ["server", "--bind", A.correspondent, "--port", String(APP_PORT)]);
    await c.wait("listening");
    const t = proc(topo.t, ["client", "--connect", A.correspondent, "--port", String(APP_PORT), "--local", A.target, "--wait"]);
    const n = proc(topo.n, ["client", "--connect", A.correspondent, "--port", String(APP_PORT), "--local", A.transferred]);
    await n.wait("connected");
    await sleep(BEFORE_MS);
    const decided = now();
    n.child.stdin.write(JSON.stringify({ cmd: "close" }) + "\n");
    const closed = await n.wait("closed");
    t.child.stdin.write(JSON.stringify({ cmd: "go", offset: closed.receivedBytes }) + "\n");
    const first = await t.wait("firstData");
    const closing = (await n.wait("closing")).closing;
    out.commandMs = Math.round((closing - decided) * 1000) / 1000;
    out.transferMs = Math.round((first.firstData - closing) * 1000) / 1000;
    if (measureRtt) out.rtts = { correspondentNode: pingP50(topo, topo.c, A.node), nodeAgent: pingP50(topo, topo.n, A.agent), nodeTarget: pingP50(topo, topo.n, A.target) };
    await sleep(AFTER_MS);
    t.child.stdin.write(JSON.stringify({ cmd: "close" }) + "\n");
    const tClosed = await t.wait("closed");
    await sleep(50);
    c.child.kill("SIGTERM");
    const cs = await c.wait("sentBytes", 3000);
    out.gapMs = cs.maxGapMs;
    out.lost = Math.abs(cs.receivedBytes - (closed.sentBytes + tClosed.sentBytes)) + Math.abs(cs.sentBytes - (closed.receivedBytes + tClosed.receivedBytes));
    out.resets = cs.resets + closed.resets + tClosed.resets;
    out.ok = true;
  } catch (e) {
    out.error = e.message;
  } finally {
    out.filtered = topo.filtered();
    topo.down();
  }
  return out;
}

function quantile(sorted, q) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** p50/p99 of a cell's samples, and its totals. */
export function summarize(samples) {
  const ok = samples.filter((s) => s.ok);
  const sorted = (k) => ok.map((s) => s[k]).filter((v) => typeof v === "number").sort((a, b) => a - b);
  const tt = sorted("transferMs");
  const gap = sorted("gapMs");
  return {
    n: samples.length, ok: ok.length, failed: samples.length - ok.length,
    transferMs: { p50: quantile(tt, 0.5), p99: quantile(tt, 0.99), max: tt.at(-1) ?? null },
    gapMs: { p50: quantile(gap, 0.5), p99: quantile(gap, 0.99), max: gap.at(-1) ?? null },
    commandMsP50: quantile(sorted("commandMs"), 0.5),
    lost: ok.reduce((n, s) => n + Math.max(0, s.lost), 0),
    resets: ok.reduce((n, s) => n + Math.max(0, s.resets), 0),
    digestsDiffer: ok.filter((s) => s.digestsEqual === false).length,
    rtts: samples.find((s) => s.rtts)?.rtts ?? null,
    phasesP50: Object.fromEntries(PHASES.map(([name]) => [name, quantile(ok.map((s) => s.phases?.[name]).filter((v) => typeof v === "number").sort((a, b) => a - b), 0.5)]).filter(([, v]) => v !== null)),
    errors: [...new Set(samples.filter((s) => !s.ok).map((s) => s.error))].slice(0, 5),
  };
}

/** The figure: for each RTT, `transfers` SID transfers and as many reconnects, interleaved. */
export async function transferFigures({ rtts = [1, 50], transfers = 50, log = () => {} } = {}) {
  const cells = [];
  for (const rtt of rtts) {
    const sid = [];
    const reconnect = [];
    for (let i = 0; i < transfers; i++) {
      const s = await sidTransfer(rtt, i === 0);
      sid.push(s);
      const b = await reconnectTransfer(rtt, i === 0);
      reconnect.push(b);
      log(`rtt ${rtt} #${i + 1}: sid ${s.ok ? `${s.transferMs} ms, gap ${s.gapMs} ms, lost ${s.lost}, resets ${s.resets}` : `FAILED ${s.error}`}; reconnect ${b.ok ? `${b.transferMs} ms, gap ${b.gapMs} ms, lost ${b.lost}, resets ${b.resets}` : `FAILED ${b.error}`}`);
    }
    const cell = { rtt, delayEachWayMs: DELAY_EACH_WAY[rtt], sid: summarize(sid), reconnect: summarize(reconnect), samples: { sid, reconnect } };
    const rttMs = cell.sid.rtts?.correspondentNode ?? cell.reconnect.rtts?.correspondentNode ?? rtt;
    cell.goalMs = rttMs + 10;
    cell.ratio = {
      transferP50: cell.sid.transferMs.p50 / cell.reconnect.transferMs.p50,
      transferP99: cell.sid.transferMs.p99 / cell.reconnect.transferMs.p99,
      gapP50: cell.sid.gapMs.p50 / cell.reconnect.gapMs.p50,
      gapP99: cell.sid.gapMs.p99 / cell.reconnect.gapMs.p99,
    };
    cells.push(cell);
  }
  return cells;
}
