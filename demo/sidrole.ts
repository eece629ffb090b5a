// One role of a SID transfer in its own namespace, for `handover demo sid`
// and test/e2e/sid.test.js: `node dist/demo/sidrole.js ROLE CONFIG_JSON`.
// Commands arrive as JSON lines on stdin, events leave as JSON lines on
// stdout ({t, who, what, ...}, t in Unix ms). The roles use the library's
// SID pieces directly (hosts/shared/sidplane.ts, hosts/node/sid.ts):
//
//   node    the application (demo/sidapp.ts) talks to the correspondent from
//           the transferred address; "transfer" stops the connection's
//           packets, dumps the socket with TCP_REPAIR, seals the record
//           (with the application's state) to the target's control port,
//           and stops answering ARP for the address
//   agent   "claim": the tunnel to the target, gratuitous and proxy ARP for
//           the address on the home link; "release" undoes it
//   target  "expect": the address on lo, its packets stopped, the tunnel,
//           the control port waiting for the record (restored in repair
//           mode on arrival); "go": packets let in, the socket resumed and
//           given to the application; "finish": the application ends the
//           session and reports

import { emitter, serveCommands } from "./roleloop.ts";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { connect, type Socket } from "node:net";
import { Core } from "../hosts/shared/core.ts";
import { SidCodec } from "../hosts/shared/sid.ts";
import { unhex } from "../hosts/shared/bytes.ts";
import { SidPlane, claimAddress, sendState, stateListener, type Tunnel } from "../hosts/shared/sidplane.ts";
import { NodeIO } from "../hosts/node/io.ts";
import { nodeSidIO, detach, discard, adopt } from "../hosts/node/sid.ts";
import { StreamApp } from "./sidapp.ts";

const [role, configText] = process.argv.slice(2);
const config = JSON.parse(configText ?? "{}");
const who = role === "node" ? "N" : role === "agent" ? "A" : "T";
const emit = emitter(who);

const core = await Core.load(readFileSync(new URL("../../build/handover.wasm", import.meta.url)));
const sid = new SidCodec(core);
const kernel = new NodeIO().openKernel();
const plane = new SidPlane(kernel, sid);
const io = nodeSidIO(core);

function ip(...args: string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim()}`);
}

let app: StreamApp | null = null;
let socket: Socket | null = null;

async function nodeRole(): Promise<void> {
  socket = connect({ host: config.correspondent, port: config.port, localAddress: config.transferred });
  await new Promise<void>((resolve, reject) => {
    socket!.once("connect", resolve);
    socket!.once("error", reject);
  });
  app = new StreamApp(socket);
  app.start();
  emit(`connected ${socket.localAddress}:${socket.localPort} -> ${socket.remoteAddress}:${socket.remotePort}`, { connected: true });
}

const handlers: Record<string, (c: any) => Promise<void> | void> = {
  // ---- node
  async transfer(c) {
    const s = socket!;
    const tuple = { local: s.localAddress!, localPort: s.localPort!, remote: s.remoteAddress!, remotePort: s.remotePort! };
    app!.pause();
    const fd = await detach(s);
    const appState = app!.state();
    // The core's stop rule (PROTOCOL.md 8.12), as the state machines apply it: every packet of the address but the control port's.
    plane.nft(sid.stopRule(true, tuple.local, c.controlPort), "stop rule");
    emit(`stop rule for ${tuple.local} (the connection ${tuple.local}:${tuple.localPort} <-> ${tuple.remote}:${tuple.remotePort})`);
    const r = io.repair.dump(fd);
    const record = sid.encodeTcpState({ ...r, appState });
    discard(s);
    emit(`socket dumped with TCP_REPAIR: record ${record.length} bytes (send queue ${r.sendQueue.length}, unsent ${r.unsentLength}, receive queue ${r.receiveQueue.length}, app state ${appState.length})`, { record: record.length, here: app!.here });
    await sendState(sid, { address: c.target, port: c.controlPort, local: config.node }, unhex(c.key), c.spi, record);
    emit(`state record sealed to ${c.target}:${c.controlPort}, restored there`, { stateSent: true });
    plane.nft(sid.arpRule(true, config.transferred, { announce: false }), "ARP silence");
    emit(`stopped answering ARP for ${config.transferred}`, { transferred: true });
  },
  // ---- agent
  claim(c) {
    if (role === "target") {
      // One subnet (8.7): the target claims the address on its home link itself.
      claims.push(claimAddress(sid, io.packet(config.home, 0x0806), c.transferred, { onAnswer: (asker) => emit(`proxy ARP: told ${asker} that ${c.transferred} is here`) }));
      emit(`gratuitous ARP for ${c.transferred} on ${config.home}`, { claimed: true });
      return;
    }
    const t = plane.tunnelUp({ role: "agent", sessionKey: unhex(c.key), local: config.agent, peer: c.target, transferred: c.transferred, reverse: !!c.reverse });
    tunnels.push(t);
    emit(`tunnel ${t.name} up (VNI ${t.vni}) to ${c.target}, route ${c.transferred} into it`);
    const link = io.packet(config.home, 0x0806);
    claims.push(claimAddress(sid, link, c.transferred, { onAnswer: (asker) => emit(`proxy ARP: told ${asker} that ${c.transferred} is here`) }));
    emit(`gratuitous ARP for ${c.transferred} on ${config.home}`, { claimed: true });
  },
  release() {
    for (const cl of claims.splice(0)) cl.release();
    for (const t of tunnels.splice(0)) plane.tunnelDown(t);
    emit("released", { released: true });
  },
  // ---- target
  async expect(c) {
    const X = c.transferred;
    ip("addr", "add", `${X}/32`, "dev", "lo");
    plane.nft(sid.stopRule(true, X, c.controlPort), "stop rule");
    emit(`${X} on lo, its packets stopped`);
    if (c.agent) {
      const t = plane.tunnelUp({ role: "target", sessionKey: unhex(c.key), local: config.target, peer: c.agent, transferred: X, reverse: !!c.reverse });
      tunnels.push(t);
      emit(`tunnel ${t.name} up (VNI ${t.vni}) from ${c.agent}${c.reverse ? ", return traffic into it" : ""}`);
    }
    listener = await stateListener({ address: config.target, port: c.controlPort }, (stream) => {
      const record = sid.openState(unhex(c.key), c.spi, stream);
      const r = sid.decodeTcpState(record);
      restored = { fd: io.repair.restore(r), unsent: r.sendQueue.slice(r.sendQueue.length - r.unsentLength), appState: r.appState.slice() };
      emit(`state record opened (${record.length} bytes), socket ${r.local}:${r.localPort} <-> ${r.remote}:${r.remotePort} restored in repair mode`, { restored: true });
    }, (e) => emit(`state record refused: ${e.message}`, { refused: e.message }));
    emit(`control port ${config.target}:${c.controlPort} waiting for the state record`, { expecting: true });
  },
  go(c) {
    const r = restored!;
    plane.nft(sid.stopRule(false, c.transferred, c.controlPort), "stop rule removed");
    io.repair.resume(r.fd, r.unsent);
    socket = adopt(r.fd);
    app = new StreamApp(socket, StreamApp.parseState(r.appState));
    app.start();
    emit(`socket resumed, the application carries on here`, { resumed: true });
  },
  async finish() {
    const s = await app!.finish();
    emit("session finished", { summary: s });
  },
  report() {
    emit("report", { summary: app?.summary() ?? null });
  },
};

const tunnels: Tunnel[] = [];
const claims: { release(): void }[] = [];
let listener: { close(): void } | null = null;
let restored: { fd: number; unsent: Uint8Array; appState: Uint8Array } | null = null;

serveCommands(handlers, emit, () => listener?.close());

if (role === "node") await nodeRole().catch((e) => emit(`error: ${e.message}`, { error: e.message }));
emit("ready", { ready: true });
