// Run by tcprepair.test.js inside a namespace, under Node: one role of the
// TCP_REPAIR spike. JSON lines out, commands (one per line) in.
//
//   (argv: role, X the transferred address, C the correspondent's address)
//   correspondent  an ordinary TCP server on C:5001 (no handover code):
//                  sends stream A, checks every byte of stream B it receives
//   node           connects from X, checks A, sends B; on "quiesce" stops both,
//                  on "write N" queues N more bytes of B, on "dump" dumps the
//                  socket with TCP_REPAIR into a state record
//   target         on "restore <hex>" rebuilds the socket from the record, on
//                  "go" resumes it as a net.Socket and continues both streams
//
// Stream bytes depend on their offset only, so any loss, duplicate or
// reordering shows as a mismatch at an exact offset.
import net from "node:net";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
import { Core } from "../../dist/hosts/shared/core.js";
import { SidCodec } from "../../dist/hosts/shared/sid.js";
import { hex, unhex } from "../../dist/hosts/shared/bytes.js";
import { dumpTcp, restoreTcp, resumeTcp } from "../../dist/hosts/node/tcprepair.js";

const [role, X, C] = process.argv.slice(2);
const PORT = 5001;
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const A = (i) => (i * 31 + 7) & 255;
const B = (i) => (i * 17 + 101 + (i >>> 8)) & 255;
const core = await Core.load(readFileSync(new URL("../../build/handover.wasm", import.meta.url)));
const sid = new SidCodec(core);

function bytes(f, from, n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = f(from + i);
  return b;
}

/** Checks and counts a received stream; writes a paced stream. */
function streams(sock, inStream, outStream, state) {
  state.errors ??= [];
  const check = (d) => {
    for (let i = 0; i < d.length; i++) {
      if (d[i] !== inStream(state.received + i) && state.mismatchAt === undefined) state.mismatchAt = state.received + i;
    }
    state.received += d.length;
  };
  sock.on("data", check);
  sock.on("error", (e) => state.errors.push(e.code ?? e.message));
  sock.on("close", () => (state.closed = true));
  const timer = setInterval(() => {
    if (state.quiet || sock.destroyed || sock.writableLength > 262144) return;
    sock.write(bytes(outStream, state.sent, 4096));
    state.sent += 4096;
  }, 2);
  return { check, stop: () => clearInterval(timer) };
}

const commands = createInterface({ input: process.stdin });
const state = { sent: 0, received: 0 };
let sock;
let io;

if (role === "correspondent") {
  net.createServer((s) => {
    sock = s;
    io = streams(s, B, A, state);
    out({ accepted: true });
  }).listen(PORT, C, () => out({ listening: true }));
}

if (role === "node") {
  sock = net.connect({ host: C, port: PORT, localAddress: X }, () => out({ connected: true }));
  io = streams(sock, A, B, state);
}

/** Bytes in the kernel's receive queue (SIOCINQ), through libc as the host does it. */
const inq = (() => {
  const koffi = createRequire(import.meta.url)("koffi");
  const ioctl = koffi.load("libc.so.6").func("int ioctl(int, unsigned long, _Out_ void *)");
  const SIOCINQ = 0x541b;
  return (fd) => { const b = Buffer.alloc(4); return ioctl(fd, SIOCINQ, b) === 0 ? b.readInt32LE(0) : -1; };
})();
/** Resolves once the kernel holds unread bytes from the correspondent (a loaded machine may take a while to deliver them). */
const waitUnread = () => new Promise((r) => { const t = setInterval(() => { if (inq(sock._handle.fd) > 0) { clearInterval(t); r(); } }, 1); });
const waitDrained = () => new Promise((r) => { const t = setInterval(() => { if (sock.writableLength === 0) { clearInterval(t); r(); } }, 1); });

commands.on("line", async (line) => {
  const [cmd, arg] = line.split(" ");
  if (cmd === "report") {
    out({ report: { sent: state.sent, received: state.received, mismatchAt: state.mismatchAt ?? null, errors: state.errors ?? [], closed: !!state.closed } });
    process.exit(0);
  }
  if (cmd === "quiesce") {
    state.quiet = true;
    io.stop();
    sock._handle.readStop(); // the kernel's receive queue now keeps what arrives
    for (let d; (d = sock.read()) !== null; ) io.check(d);
    await waitDrained();
    await waitUnread(); // the record must carry a receive queue: wait for the correspondent's next bytes
    out({ quiet: true, sent: state.sent, received: state.received });
  }
  if (cmd === "write") {
    // Written into the kernel's send queue while the stop rule is (partly) in place.
    const n = Number(arg);
    sock.write(bytes(B, state.sent, n));
    state.sent += n;
    await waitDrained();
    out({ written: n });
  }
  if (cmd === "dump") {
    const r = dumpTcp(core, sock._handle.fd);
    const appState = new TextEncoder().encode(JSON.stringify({ sent: state.sent, received: state.received }));
    const record = sid.encodeTcpState({ ...r, appState });
    sock.destroy(); // closed in repair mode: no FIN, no RST
    out({ record: hex(record), sendQueue: r.sendQueue.length, unsent: r.unsentLength, receiveQueue: r.receiveQueue.length, mss: r.mss, sack: r.sack, timestamps: r.timestamps, windowScaling: r.windowScaling, shifts: [r.sendShift, r.receiveShift] });
  }
  if (cmd === "restore") {
    const r = sid.decodeTcpState(unhex(arg));
    const app = JSON.parse(new TextDecoder().decode(r.appState));
    state.sent = app.sent;
    state.received = app.received;
    state.fd = restoreTcp(core, r);
    state.unsent = r.sendQueue.slice(r.sendQueue.length - r.unsentLength);
    out({ restored: true, local: r.local, localPort: r.localPort, remote: r.remote, remotePort: r.remotePort });
  }
  if (cmd === "go") {
    resumeTcp(state.fd, state.unsent);
    sock = new net.Socket({ fd: state.fd, readable: true, writable: true });
    io = streams(sock, A, B, state);
    out({ resumed: true });
  }
});
