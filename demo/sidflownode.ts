// The transferring node of `handover demo sid-flows` (docs/PROTOCOL.md 8.16,
// the Session Agent): a handover node whose application holds several TCP
// sessions at once, each to its correspondent (tools/traffic.js), and moves
// one of them to a target (SidService transfer with perFlow) while the
// others stay. `node dist/demo/sidflownode.js CONFIG_JSON`, CONFIG_JSON:
// {daemon, local}. Commands on stdin, events on stdout, as demo/sidnode.ts.
//
//   address  {generator}: a session-specific address (PROTOCOL.md 8.18) for the next session
//   release  {session}: gives a session address back (its session ended here)
//   connect  {name, correspondent, port, local?}: a new session from the node's address (or `local`)
//   transfer {name, target, agent, reverse, perFlow?, sameSubnet?, further?}: moves that session only
//            (per-flow mode by default; perFlow false: its session address moves whole; further:
//            the target may move it on, PROTOCOL.md 8.6)
// A session given back (a return, 8.6) carries on here under its name: {resumed: name}.
//   finish   {name}: ends a session that stayed here; its summary
//   report   {name}: a session's summary so far

import { emitter, now, serveCommands } from "./roleloop.ts";
import { connect, type Socket } from "node:net";
import type { Daemon } from "../hosts/shared/daemon.ts";
import type { Config } from "../hosts/shared/config.ts";
import type { ArrivedSession } from "../hosts/shared/sidservice.ts";
import { StreamApp, appOf } from "./sidapp.ts";

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
daemon.on("session-address", (e) => emit(`session address ${e.session} (${e.generator}) ${e.state} ${e.address}`, { sessionAddressEvent: e }, typeof e.t === "number" ? e.t : now()));
daemon.on("sid", (e) => emit(`${e.role} ${e.state} ${e.address ?? ""}${e.spi ? ` (flow set ${e.spi})` : ""}${e.code ? ` code ${e.code}` : ""}`, { sid: e }, typeof e.t === "number" ? e.t : now()));

const sessions = new Map<string, { socket: Socket; app: StreamApp; local: string; localPort: number }>();

// A return (PROTOCOL.md 8.6): the session this node moved comes back; its application carries on here.
daemon.sid.on("session", (a: ArrivedSession) => {
  const name = [...sessions].find(([, s]) => s.localPort === a.localPort && s.local === a.local)?.[0];
  if (!name || !a.socket) {
    emit(`session ${a.local}:${a.localPort} arrived, but it is none this node moved`, { error: `unknown arrival ${a.local}:${a.localPort}` });
    return;
  }
  const s = sessions.get(name)!;
  const app = appOf(a.socket as Socket, a.appState) as StreamApp;
  Object.assign(app.here, s.app.here);
  app.start();
  sessions.set(name, { ...s, socket: a.socket as Socket, app });
  emit(`session ${name} is back here (a return): the application carries on`, { resumed: name });
});

const handlers: Record<string, (c: any) => Promise<void> | void> = {
  async address(c) {
    const a = await daemon.sid.sessionAddress(c.generator ?? "static");
    emit(`session address ${a.address} (${a.generator}, session ${a.session})`, { sessionAddress: a });
  },
  release(c) {
    daemon.sid.releaseSessionAddress(c.session);
    emit(`session address ${c.session} released`, { releasedSession: c.session });
  },
  async connect(c) {
    const socket = connect({ host: c.correspondent, port: c.port, localAddress: c.local ?? config.local });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const app = new StreamApp(socket);
    app.start();
    sessions.set(c.name, { socket, app, local: socket.localAddress!, localPort: socket.localPort! });
    emit(`session ${c.name}: ${socket.localAddress}:${socket.localPort} -> ${socket.remoteAddress}:${socket.remotePort}`, { connected: c.name, localPort: socket.localPort });
  },
  async transfer(c) {
    const s = sessions.get(c.name)!;
    s.app.pause();
    const perFlow = c.perFlow ?? true;
    const r = await daemon.sid.transfer({
      socket: s.socket, perFlow, target: c.target, agent: c.sameSubnet ? undefined : c.agent, sameSubnet: !!c.sameSubnet, reverse: !!c.reverse,
      lifetime: c.lifetime, further: !!c.further, appState: () => s.app.state(),
    });
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
