// The transferring node of `handover demo sid-flows` (docs/PROTOCOL.md 8.16,
// the Session Agent): a handover node whose application holds several TCP
// sessions at once, each to its correspondent (tools/traffic.js), and moves
// one of them to a target (SidService transfer with perFlow) while the
// others stay. `node dist/demo/sidflownode.js CONFIG_JSON`, CONFIG_JSON:
// {daemon, local}. Commands on stdin, events on stdout, as demo/sidnode.ts.
//
//   connect  {name, correspondent, port}: a new session from the node's address
//   transfer {name, target, agent, reverse}: moves that session only
//   finish   {name}: ends a session that stayed here; its summary
//   report   {name}: a session's summary so far

import { emitter, now, serveCommands } from "./roleloop.ts";
import { connect, type Socket } from "node:net";
import type { Daemon } from "../hosts/shared/daemon.ts";
import type { Config } from "../hosts/shared/config.ts";
import { StreamApp } from "./sidapp.ts";

const config = JSON.parse(process.argv[2] ?? "{}");
const who = "N";
const emit = emitter(who);

const g = globalThis as any;
const host = g.Deno ? "deno" : g.Bun ? "bun" : "node";
const { start } = (await import(`../hosts/${host}/index.js`)) as { start(c: Config): Promise<Daemon> };

let daemon: Daemon;
try {
  daemon = await start(config.daemon);
} catch (e) {
  emit(`error: ${(e as Error).message}`, { error: (e as Error).message });
  process.exit(1);
}
daemon.on("sid", (e) => emit(`${e.role} ${e.state} ${e.address ?? ""}${e.spi ? ` (flow set ${e.spi})` : ""}${e.code ? ` code ${e.code}` : ""}`, { sid: e }, typeof e.t === "number" ? e.t : now()));

const sessions = new Map<string, { socket: Socket; app: StreamApp }>();

const handlers: Record<string, (c: any) => Promise<void> | void> = {
  async connect(c) {
    const socket = connect({ host: c.correspondent, port: c.port, localAddress: config.local });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const app = new StreamApp(socket);
    app.start();
    sessions.set(c.name, { socket, app });
    emit(`session ${c.name}: ${socket.localAddress}:${socket.localPort} -> ${socket.remoteAddress}:${socket.remotePort}`, { connected: c.name, localPort: socket.localPort });
  },
  async transfer(c) {
    const s = sessions.get(c.name)!;
    s.app.pause();
    const r = await daemon.sid.transfer({ socket: s.socket, perFlow: true, target: c.target, agent: c.agent, reverse: !!c.reverse, appState: () => s.app.state() });
    const { socket: _back, appState: _state, ...result } = r;
    emit(`transfer of ${c.name} ${r.state}${r.error ? `: ${r.error}` : ""}${r.message ? ` (${r.message})` : ""}`, { result, moved: c.name, here: s.app.here });
    if (r.state !== "transferred") s.app.start();
  },
  async finish(c) {
    const s = sessions.get(c.name)!;
    const summary = await s.app.finish();
    emit(`session ${c.name} finished here`, { finished: c.name, summary });
  },
  report(c) {
    emit("report", { reported: c.name, summary: sessions.get(c.name)?.app.summary() ?? null });
  },
  state() {
    emit("state", { state: daemon.sid.state() });
  },
};

serveCommands(handlers, emit, () => daemon.close({ keepKernelState: false }));
emit("ready", { ready: true });
