// One SID role as a handover node (a daemon with the core's SID state
// machines), for `handover demo sid` and test/e2e/sid.test.js:
// `node dist/demo/sidnode.js CONFIG_JSON`. CONFIG_JSON: {role, daemon, app}.
// Commands arrive as JSON lines on stdin, events leave as JSON lines on
// stdout ({t, who, what, ...}); the daemon's log goes to stderr.
//
//   node    runs the application (demo/sidapp.ts) from the transferred
//           address; "transfer" hands its socket to the library
//           (node.sid.transfer), "stop" ends the transfer (Stop Transfer)
//   agent   only the daemon
//   target  the daemon; the arriving session goes to the application,
//           "finish" ends it (and so the binding: deregistration)

import { emitter, now, serveCommands } from "./roleloop.ts";
import { connect, type Socket } from "node:net";
import type { Daemon } from "../hosts/shared/daemon.ts";
import type { Config } from "../hosts/shared/config.ts";
import type { ArrivedSession, RecordStep } from "../hosts/shared/sidservice.ts";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { StreamApp, DownloadApp, DatagramApp, appOf } from "./sidapp.ts";

const config = JSON.parse(process.argv[2] ?? "{}");
const role: "node" | "agent" | "target" = config.role;
const who: string = config.who ?? (role === "node" ? "N" : role === "agent" ? "A" : "T");
const emit = emitter(who);

let app: StreamApp | DownloadApp | null = null;
let socket: Socket | null = null;
/** At a target: every TCP session that arrived, with its correspondent's address ("finishAll" ends them all). */
const arrived: { app: StreamApp | DownloadApp; remote: string }[] = [];
/** The UDP flow (demo sid --udp): its application and socket. */
let udpApp: DatagramApp | null = null;
let udpSocket: UdpSocket | null = null;
let daemon: Daemon;

function describe(e: Record<string, any>): string {
  const bits = [e.peer && `peer ${e.peer}`, e.target && `target ${e.target}`, e.agent && `agent ${e.agent}`, e.lifetime !== undefined && `lifetime ${e.lifetime} s`,
    e.code !== undefined && `code ${e.code}`, e.error && `error ${e.error}`, e.message, e.elapsedMs !== undefined && `${e.elapsedMs} ms`].filter(Boolean);
  return `${e.role} ${e.state} ${e.address ?? ""}${bits.length ? ` (${bits.join(", ")})` : ""}`;
}

// The host of the runtime this runs under (the same choice package.json "exports" makes).
const g = globalThis as any;
const host = g.Deno ? "deno" : g.Bun ? "bun" : "node";
const { start } = (await import(`../hosts/${host}/index.js`)) as { start(c: Config): Promise<Daemon> };

try {
  daemon = await start(config.daemon);
} catch (e) {
  emit(`error: ${(e as Error).message}`, { error: (e as Error).message });
  process.exit(1);
}
daemon.on("sid", (e) => emit(describe(e), { sid: e }, typeof e.t === "number" ? e.t : now()));
// The host's steps with the state record, for the timeline (PROTOCOL.md 8.12).
daemon.sid?.on("record", (r: RecordStep) => emit(`record ${r.step} ${r.address} (${r.bytes} bytes)`, {}, r.t));

{
  // Any node may become the target of a session (a transfer back to its origin included).
  daemon.sid.on("session", (s: ArrivedSession) => {
    if (s.udp) {
      udpSocket = s.socket as UdpSocket;
      udpApp = new DatagramApp(udpSocket, DatagramApp.parseState(s.appState));
      udpApp.start();
      emit(`UDP flow ${s.local}:${s.localPort} <-> ${s.remote}:${s.remotePort} arrived: the application carries on here`, { udpResumed: true });
      return;
    }
    if (!s.socket) {
      emit(`session ${s.local}:${s.localPort} <-> ${s.remote}:${s.remotePort} arrived as descriptor ${s.fd}, but this runtime's node:net cannot adopt it`, { error: `no adoption of descriptor ${s.fd} in ${host}` });
      return;
    }
    socket = s.socket as Socket;
    app = appOf(socket, s.appState);
    app.start();
    arrived.push({ app, remote: s.remote });
    emit(`session ${s.local}:${s.localPort} <-> ${s.remote}:${s.remotePort} arrived: the application carries on here`, { resumed: true });
  });
}

if (role === "node") {
  const a = config.app;
  socket = connect({ host: a.correspondent, port: a.port, localAddress: a.transferred });
  await new Promise<void>((resolve, reject) => {
    socket!.once("connect", resolve);
    socket!.once("error", reject);
  }).catch((e) => emit(`error: ${e.message}`, { error: e.message }));
  if (a.download) {
    app = new DownloadApp(socket);
    app.start(`GET /${a.download} HTTP/1.0\r\nHost: ${a.correspondent}\r\n\r\n`);
  } else {
    app = new StreamApp(socket);
    app.start();
  }
  if (a.udpPort) {
    const u = createSocket("udp4");
    await new Promise<void>((resolve) => u.bind({ address: a.transferred, port: a.udpPort }, () => u.connect(a.udpPort, a.correspondent, () => resolve())));
    udpSocket = u;
    udpApp = new DatagramApp(u);
    udpApp.start();
    emit(`UDP ${a.transferred}:${a.udpPort} <-> ${a.correspondent}:${a.udpPort}`, { udpConnected: true });
  }
  emit(`connected ${socket.localAddress}:${socket.localPort} -> ${socket.remoteAddress}:${socket.remotePort}`, { connected: true });
}

const handlers: Record<string, (c: any) => Promise<void> | void> = {
  async transfer(c) {
    // The application's decision: the transfer time is counted from here (the harness's command to this process
    // is not part of it; demo/sid.ts reports that hop as commandMs).
    const calledAt = now();
    app!.pause();
    const r = await daemon.sid.transfer({
      socket, target: c.target, agent: c.agent, reverse: !!c.reverse, sameSubnet: !!c.sameSubnet, further: !!c.further, lifetime: c.lifetime ?? 0,
      appState: () => app!.state(),
      udp: udpApp && udpSocket ? [{ socket: udpSocket, appState: () => udpApp!.state() }] : undefined,
    });
    const { socket: back, appState: _state, ...result } = r;
    emit(`transfer ${r.state}${r.error ? `: ${r.error}` : ""}${r.message ? ` (${r.message})` : ""}${r.udp ? `, UDP flows handed over: ${r.udp.moved}${r.udp.error ? ` (${r.udp.error})` : ""}` : ""}`, { result, calledAt, here: app!.here, udpHere: udpApp?.here });
    if (back && r.appState) {
      // The transfer failed after the connection had left: it is back, live, with the application's state.
      const here = app!.here;
      socket = back as Socket;
      app = appOf(socket, r.appState);
      Object.assign(app.here, here);
      app.start();
      emit("the connection is back here: the application carries on", { back: true });
    } else if (r.state !== "transferred") app!.start();
  },
  stop(c) {
    daemon.sid.stop(c.address);
    emit(`asked the agent to stop the transfer of ${c.address}`);
  },
  async finish() {
    const [s, udp] = await Promise.all([app!.finish(), udpApp ? udpApp.finish() : null]);
    emit("session finished", { summary: s, udp });
  },
  report() {
    emit("report", { summary: app?.summary() ?? null, udp: udpApp?.summary() ?? null });
  },
  /** Ends every TCP session that arrived here (a target holding several): their summaries by correspondent. */
  async finishAll() {
    const done = await Promise.all(arrived.map(async (x) => ({ remote: x.remote, summary: await x.app.finish() })));
    emit(`${done.length} sessions finished`, { finishedAll: done });
  },
  state() {
    emit("state", { state: daemon.sid.state() });
  },
  async exit() {
    await daemon.close({ keepKernelState: false });
    process.exit(0);
  },
};

serveCommands(handlers, emit, () => daemon.close({ keepKernelState: false }));
emit("ready", { ready: true });
