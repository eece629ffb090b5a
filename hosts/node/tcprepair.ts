// Moving a live TCP connection with TCP_REPAIR (docs/PROTOCOL.md 8.12), for
// Node through koffi. dumpTcp reads a connected socket's state as the TCP
// state record's fields and queues; restoreTcp rebuilds it in a new socket
// (in repair mode: nothing is sent yet); resumeTcp leaves repair mode and
// returns a descriptor for `new net.Socket({ fd })`. The caller keeps the
// connection's packets away from both sockets meanwhile (a drop or hold rule),
// and owns the address: the restoring host must have the local address.
// Needs CAP_NET_ADMIN; every failure names the call and its errno.

import { createRequire } from "node:module";
import type { Core } from "../shared/core.ts";
import type { TcpStateFields, TcpStateRecord } from "../shared/sid.ts";
import { SOL_SOCKET, EPERM } from "../shared/linux.ts";
import { IpProtocol } from "../shared/registry.ts";

const IPPROTO_TCP = IpProtocol.TCP;

const SO_REUSEADDR = 2;
const TCP_MAXSEG = 2;
const TCP_INFO = 11;
const TCP_REPAIR = 19;
const TCP_REPAIR_QUEUE = 20;
const TCP_QUEUE_SEQ = 21;
const TCP_REPAIR_OPTIONS = 22;
const TCP_TIMESTAMP = 24;
const TCP_REPAIR_WINDOW = 29;
const TCP_RECV_QUEUE = 1;
const TCP_SEND_QUEUE = 2;
const TCPOPT_MSS = 2;
const TCPOPT_WINDOW = 3;
const TCPOPT_SACK_PERM = 4;
const TCPOPT_TIMESTAMP = 8;
const TCPI_OPT_TIMESTAMPS = 1;
const TCPI_OPT_SACK = 2;
const TCPI_OPT_WSCALE = 4;
const SIOCINQ = 0x541b;
const SIOCOUTQ = 0x5411;
const SIOCOUTQNSD = 0x894b;
const MSG_PEEK = 2;
const MSG_DONTWAIT = 0x40;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const TCP_ESTABLISHED = 1;

interface Libc {
  socket(d: number, t: number, p: number): number;
  setsockopt(fd: number, level: number, name: number, v: Uint8Array, n: number): number;
  getsockopt(fd: number, level: number, name: number, v: Uint8Array, n: Uint32Array): number;
  ioctl(fd: number, req: number, v: Uint8Array): number;
  recv(fd: number, b: Uint8Array, n: number, flags: number): number;
  send(fd: number, b: Uint8Array, n: number, flags: number): number;
  bind(fd: number, a: Uint8Array, n: number): number;
  connect(fd: number, a: Uint8Array, n: number): number;
  getsockname(fd: number, a: Uint8Array, n: Uint32Array): number;
  getpeername(fd: number, a: Uint8Array, n: Uint32Array): number;
  close(fd: number): number;
  errno(): number;
}

let libc: Libc | undefined;

/** Loads libc and binds the calls now (koffi's parse of each prototype), so that the first dump or restore does not. */
export function loadRepairCalls(): void {
  c();
}

/** Whether libc's calls are bound yet (test/nodecore.test.js). */
export function repairCallsLoaded(): boolean {
  return libc !== undefined;
}

function c(): Libc {
  if (libc) return libc;
  const koffi = createRequire(import.meta.url)("koffi");
  const l = koffi.load("libc.so.6");
  const errnoLocation = l.func("int *__errno_location()");
  libc = {
    socket: l.func("int socket(int, int, int)"),
    setsockopt: l.func("int setsockopt(int, int, int, const void *, uint32_t)"),
    getsockopt: l.func("int getsockopt(int, int, int, _Out_ void *, _Inout_ uint32_t *)"),
    ioctl: l.func("int ioctl(int, unsigned long, _Out_ void *)"),
    recv: (() => { const f = l.func("intptr_t recv(int, _Out_ void *, size_t, int)"); return (...a: any[]) => Number(f(...a)); })(),
    send: (() => { const f = l.func("intptr_t send(int, const void *, size_t, int)"); return (...a: any[]) => Number(f(...a)); })(),
    bind: l.func("int bind(int, const void *, uint32_t)"),
    connect: l.func("int connect(int, const void *, uint32_t)"),
    getsockname: l.func("int getsockname(int, _Out_ void *, _Inout_ uint32_t *)"),
    getpeername: l.func("int getpeername(int, _Out_ void *, _Inout_ uint32_t *)"),
    close: l.func("int close(int)"),
    errno: () => koffi.decode(errnoLocation(), "int") as number,
  } as Libc;
  return libc;
}

function must(ret: number, what: string): number {
  if (ret < 0) {
    const e = c().errno();
    const hint = e === EPERM ? " (EPERM: TCP_REPAIR needs CAP_NET_ADMIN; run as root)" : "";
    throw new Error(`TCP repair: ${what} failed with errno ${e}${hint}`);
  }
  return ret;
}
function setInt(fd: number, level: number, name: number, v: number, what: string): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  must(c().setsockopt(fd, level, name, b, 4), what);
}
function getBytes(fd: number, name: number, size: number, what: string): DataView {
  const b = new Uint8Array(size);
  const n = new Uint32Array([size]);
  must(c().getsockopt(fd, IPPROTO_TCP, name, b, n), what);
  return new DataView(b.buffer);
}
function ioctlInt(fd: number, req: number, what: string): number {
  const b = new Uint8Array(4);
  must(c().ioctl(fd, req, b), what);
  return new DataView(b.buffer).getInt32(0, true);
}

/** A sockaddr_in / sockaddr_in6 for an address (text, parsed by the core) and port. */
function sockaddr(core: Core, address: string, port: number): Uint8Array {
  const { family, bytes } = core.parseAddress(address);
  const s = new Uint8Array(family === 1 ? 16 : 28);
  const v = new DataView(s.buffer);
  v.setUint16(0, family === 1 ? AF_INET : AF_INET6, true);
  v.setUint16(2, port);
  s.set(bytes.subarray(0, family === 1 ? 4 : 16), family === 1 ? 4 : 8);
  return s;
}
function endpoint(core: Core, s: Uint8Array): { address: string; port: number } {
  const v = new DataView(s.buffer);
  const v4 = v.getUint16(0, true) === AF_INET;
  const bytes = new Uint8Array(16);
  bytes.set(s.subarray(v4 ? 4 : 8, v4 ? 8 : 24));
  return { address: core.formatAddress(v4 ? 1 : 2, bytes), port: v.getUint16(2) };
}

function peekQueue(fd: number, queue: number, length: number, what: string): Uint8Array {
  setInt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, queue, `TCP_REPAIR_QUEUE ${what}`);
  const out = new Uint8Array(length);
  if (length === 0) return out;
  const n = must(c().recv(fd, out, length, MSG_PEEK | MSG_DONTWAIT), `reading the ${what} queue`);
  if (n !== length) throw new Error(`TCP repair: the ${what} queue gave ${n} of ${length} bytes`);
  return out;
}

/**
 * Puts the connected socket fd into repair mode and reads its state; the
 * socket stays in repair mode, so closing it afterwards sends nothing (no FIN,
 * no RST). The application must have stopped writing and reading, with its
 * own buffers empty, and the connection's packets must be stopped.
 */
export function dumpTcp(core: Core, fd: number): Omit<TcpStateRecord, "appState"> {
  const info = getBytes(fd, TCP_INFO, 104, "TCP_INFO");
  if (info.getUint8(0) !== TCP_ESTABLISHED) throw new Error(`TCP repair: the socket is in TCP state ${info.getUint8(0)}, not ESTABLISHED`);
  const name = new Uint8Array(28);
  const peer = new Uint8Array(28);
  must(c().getsockname(fd, name, new Uint32Array([28])), "getsockname");
  must(c().getpeername(fd, peer, new Uint32Array([28])), "getpeername");
  setInt(fd, IPPROTO_TCP, TCP_REPAIR, 1, "TCP_REPAIR on");
  const options = info.getUint8(5);
  const scales = info.getUint8(6);
  const outq = ioctlInt(fd, SIOCOUTQ, "SIOCOUTQ");
  const unsent = ioctlInt(fd, SIOCOUTQNSD, "SIOCOUTQNSD");
  const inq = ioctlInt(fd, SIOCINQ, "SIOCINQ");
  const sendQueue = peekQueue(fd, TCP_SEND_QUEUE, outq, "send");
  const sendSeq = getBytes(fd, TCP_QUEUE_SEQ, 4, "TCP_QUEUE_SEQ send").getUint32(0, true);
  const receiveQueue = peekQueue(fd, TCP_RECV_QUEUE, inq, "receive");
  const receiveSeq = getBytes(fd, TCP_QUEUE_SEQ, 4, "TCP_QUEUE_SEQ receive").getUint32(0, true);
  const mss = getBytes(fd, TCP_MAXSEG, 4, "TCP_MAXSEG").getUint32(0, true);
  const timestamps = (options & TCPI_OPT_TIMESTAMPS) !== 0;
  const timestamp = timestamps ? getBytes(fd, TCP_TIMESTAMP, 4, "TCP_TIMESTAMP").getUint32(0, true) : 0;
  const w = getBytes(fd, TCP_REPAIR_WINDOW, 20, "TCP_REPAIR_WINDOW");
  const local = endpoint(core, name);
  const remote = endpoint(core, peer);
  const windowScaling = (options & TCPI_OPT_WSCALE) !== 0;
  return {
    local: local.address, localPort: local.port, remote: remote.address, remotePort: remote.port,
    sack: (options & TCPI_OPT_SACK) !== 0, timestamps, windowScaling,
    sendShift: windowScaling ? scales & 15 : 0, receiveShift: windowScaling ? scales >> 4 : 0,
    mss, sendSeq, receiveSeq, timestamp,
    sndWl1: w.getUint32(0, true), sndWnd: w.getUint32(4, true), maxWindow: w.getUint32(8, true),
    rcvWnd: w.getUint32(12, true), rcvWup: w.getUint32(16, true),
    unsentLength: unsent, sendQueue, receiveQueue,
  };
}

function writeQueue(fd: number, queue: number, bytes: Uint8Array, what: string): void {
  setInt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, queue, `TCP_REPAIR_QUEUE ${what}`);
  for (let at = 0; at < bytes.length; ) {
    const chunk = bytes.subarray(at);
    at += must(c().send(fd, chunk, chunk.length, 0), `writing the ${what} queue`);
  }
}

/**
 * Rebuilds the connection of a TCP state record in a new socket, in repair
 * mode (docs/PROTOCOL.md 8.12, "Restore"); returns its descriptor. The local
 * address must be local on this host. Nothing is sent until resumeTcp.
 */
export function restoreTcp(core: Core, r: TcpStateFields & { sendQueue: Uint8Array; receiveQueue: Uint8Array }): number {
  const v6 = r.local.includes(":");
  const fd = must(c().socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0), "socket");
  try {
    setInt(fd, IPPROTO_TCP, TCP_REPAIR, 1, "TCP_REPAIR on");
    setInt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE send");
    setInt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, (r.sendSeq - r.sendQueue.length) | 0, "TCP_QUEUE_SEQ send");
    setInt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE receive");
    setInt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, (r.receiveSeq - r.receiveQueue.length) | 0, "TCP_QUEUE_SEQ receive");
    setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    const local = sockaddr(core, r.local, r.localPort);
    must(c().bind(fd, local, local.length), `bind ${r.local}:${r.localPort}`);
    const remote = sockaddr(core, r.remote, r.remotePort);
    must(c().connect(fd, remote, remote.length), `connect ${r.remote}:${r.remotePort} in repair mode`);
    const opts: number[] = [TCPOPT_MSS, r.mss];
    if (r.windowScaling) opts.push(TCPOPT_WINDOW, r.sendShift | (r.receiveShift << 16));
    if (r.sack) opts.push(TCPOPT_SACK_PERM, 0);
    if (r.timestamps) opts.push(TCPOPT_TIMESTAMP, 0);
    const ob = new Uint8Array(4 * opts.length);
    opts.forEach((x, i) => new DataView(ob.buffer).setUint32(4 * i, x, true));
    must(c().setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, ob, ob.length), "TCP_REPAIR_OPTIONS");
    if (r.timestamps) setInt(fd, IPPROTO_TCP, TCP_TIMESTAMP, r.timestamp | 0, "TCP_TIMESTAMP");
    writeQueue(fd, TCP_RECV_QUEUE, r.receiveQueue, "receive");
    writeQueue(fd, TCP_SEND_QUEUE, r.sendQueue.subarray(0, r.sendQueue.length - r.unsentLength), "send");
    const wb = new Uint8Array(20);
    const wv = new DataView(wb.buffer);
    [r.sndWl1, r.sndWnd, r.maxWindow, r.rcvWnd, r.rcvWup].forEach((x, i) => wv.setUint32(4 * i, x >>> 0, true));
    must(c().setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, wb, 20), "TCP_REPAIR_WINDOW");
    return fd;
  } catch (e) {
    c().close(fd);
    throw e;
  }
}

/**
 * Leaves repair mode (the kernel sends a window probe, and retransmits what
 * the peer has not acknowledged) and writes the never-sent tail of the send
 * queue as ordinary data. The descriptor is then an ordinary connected socket.
 */
export function resumeTcp(fd: number, unsent: Uint8Array): number {
  setInt(fd, IPPROTO_TCP, TCP_REPAIR, 0, "TCP_REPAIR off");
  for (let at = 0; at < unsent.length; ) {
    const chunk = unsent.subarray(at);
    at += must(c().send(fd, chunk, chunk.length, 0), "writing the unsent data");
  }
  return fd;
}

/** Closes a descriptor (a dumped socket in repair mode closes without a FIN or RST). */
export function closeFd(fd: number): void {
  c().close(fd);
}
