#!/usr/bin/env node
// A delay line: a link emulator for kernels without netem (this one has no
// CONFIG_NET_SCH_NETEM; docs/dataplane.md section 3). Run it in a router
// namespace: every packet the kernel queues to NFQUEUE `--queue` is accepted
// `--delay` ms after this process read it. Put the queue rule on the router's
// FORWARD hook and each forwarded packet is delayed by D once, so a path that
// crosses the router both ways gets an extra round-trip time of 2 D.
//
//   node tools/delayline.js --queue N --delay MS [--install]
//
// --install adds `iptables-nft -A FORWARD -j NFQUEUE --queue-num N --queue-bypass`
// (and ip6tables-nft) in the current namespace and removes it on exit.
// --queue-bypass: if this process dies, traffic passes undelayed.
//
// It is userspace, not a simulation: the packets are the real ones, only their
// verdict waits. Constant delay only (no jitter, no reordering, no loss); the
// timer is ppoll() with a nanosecond timeout, so the error is the process's
// wake-up latency (tens of microseconds idle, ms on a loaded machine). GSO
// super-packets wait as one unit. stdout: one JSON line when ready, one JSON
// summary (packets, how late they left) on SIGTERM or SIGINT.
//
// Linux only, root (CAP_NET_ADMIN); koffi for the syscalls, like hosts/node/io.ts.

import { createRequire } from "node:module";
import { spawnSync } from "node:child_process";

const require = createRequire(import.meta.url);
const koffi = require("koffi");

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const QUEUE = Number(opt("queue", "3"));
const DELAY = Number(opt("delay", "25"));
const INSTALL = args.includes("--install");
if (!(QUEUE >= 0 && QUEUE < 65536) || !(DELAY >= 0)) {
  console.error("usage: delayline.js --queue N --delay MS [--install]");
  process.exit(2);
}

const libc = koffi.load("libc.so.6");
const c = {
  socket: libc.func("int socket(int, int, int)"),
  bind: libc.func("int bind(int, const void *, uint32_t)"),
  sendto: libc.func("intptr_t sendto(int, const void *, size_t, int, const void *, uint32_t)"),
  recv: libc.func("intptr_t recv(int, _Out_ void *, size_t, int)"),
  ppoll: libc.func("int ppoll(_Inout_ void *, unsigned long, const void *, const void *)"),
  setsockopt: libc.func("int setsockopt(int, int, int, const void *, uint32_t)"),
  close: libc.func("int close(int)"),
  errno: libc.func("int *__errno_location()"),
};
const errno = () => koffi.decode(c.errno(), "int");

const AF_NETLINK = 16, SOCK_RAW = 3, SOCK_CLOEXEC = 0x80000, NETLINK_NETFILTER = 12;
const MSG_DONTWAIT = 0x40, EAGAIN = 11, ENOBUFS = 105;
const NLM_F_REQUEST = 1, NLM_F_ACK = 4;
const NFNL_SUBSYS_QUEUE = 3, NFQNL_MSG_PACKET = 0, NFQNL_MSG_VERDICT_BATCH = 3, NFQNL_MSG_CONFIG = 2;
const NF_ACCEPT = 1;

const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
if (fd < 0) {
  console.error(`delayline: netlink socket failed, errno ${errno()} (needs root)`);
  process.exit(1);
}
const kernel = Buffer.alloc(12);
kernel.writeUInt16LE(AF_NETLINK, 0);
if (c.bind(fd, kernel, 12) < 0) throw new Error(`bind: errno ${errno()}`);
{
  const v = Buffer.alloc(4);
  v.writeInt32LE(16 << 20);
  c.setsockopt(fd, 1, 33, v, 4); // SO_RCVBUFFORCE
  v.writeInt32LE(1);
  c.setsockopt(fd, 270, 5, v, 4); // NETLINK_NO_ENOBUFS
}

let seq = 1;
/** One netfilter-queue netlink message: header, nfgenmsg, attributes [type, bytes]. */
function message(type, flags, attrs) {
  const body = attrs.map(([t, b]) => {
    const a = Buffer.alloc((4 + b.length + 3) & ~3);
    a.writeUInt16LE(4 + b.length, 0);
    a.writeUInt16LE(t, 2);
    b.copy(a, 4);
    return a;
  });
  const h = Buffer.alloc(20);
  const m = Buffer.concat([h, ...body]);
  m.writeUInt32LE(m.length, 0);
  m.writeUInt16LE((NFNL_SUBSYS_QUEUE << 8) | type, 4);
  m.writeUInt16LE(flags, 6);
  m.writeUInt32LE(seq++, 8);
  m.writeUInt8(0, 16); // AF_UNSPEC
  m.writeUInt8(0, 17); // version
  m.writeUInt16BE(QUEUE, 18);
  return m;
}
const be32 = (v) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};
const rbuf = Buffer.alloc(1 << 20);
function send(m) {
  if (Number(c.sendto(fd, m, m.length, 0, kernel, 12)) < 0) throw new Error(`sendto: errno ${errno()}`);
}
/** Sends a request and checks its acknowledgement. */
function request(m) {
  send(m);
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(1, 4);
  c.ppoll(pfd, 1, timespec(1000), null);
  const n = Number(c.recv(fd, rbuf, rbuf.length, MSG_DONTWAIT));
  if (n < 20) throw new Error(`no acknowledgement (errno ${errno()})`);
  const err = rbuf.readInt32LE(16);
  if (rbuf.readUInt16LE(4) === 2 && err !== 0) throw new Error(`queue config refused: errno ${-err}`);
}
const ts = Buffer.alloc(16);
function timespec(ms) {
  const ns = Math.max(0, Math.round(ms * 1e6));
  ts.writeBigInt64LE(BigInt(Math.floor(ns / 1e9)), 0);
  ts.writeBigInt64LE(BigInt(ns % 1e9), 8);
  return ts;
}

// Bind the queue: metadata only, a long queue, GSO packets unsegmented.
request(message(NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, [[1, Buffer.from([1, 0, 0, 0])]]));
const params = Buffer.alloc(5);
params.writeUInt32BE(0, 0);
params[4] = 1; // NFQNL_COPY_META
request(message(NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, [[2, params], [3, be32(1 << 20)], [4, be32(4)], [5, be32(4)]]));

function iptables(op) {
  for (const tool of ["iptables-nft", "ip6tables-nft"]) {
    const r = spawnSync(tool, [op, "FORWARD", "-j", "NFQUEUE", "--queue-num", String(QUEUE), "--queue-bypass"], { encoding: "utf8" });
    if (r.status !== 0 && op === "-A") throw new Error(`${tool} ${op} FORWARD failed: ${r.stderr}`);
  }
}

const now = () => performance.timeOrigin + performance.now();
// FIFO of (id, due time): constant delay, so ids leave in the order they came.
let ids = new Uint32Array(1 << 16), due = new Float64Array(1 << 16);
let head = 0, tail = 0;
let packets = 0, released = 0, lateSum = 0, lateMax = 0, late1 = 0, verdicts = 0;
function push(id, t) {
  if (tail === ids.length) {
    if (head > 0) {
      ids.copyWithin(0, head, tail);
      due.copyWithin(0, head, tail);
      tail -= head;
      head = 0;
    }
    if (tail === ids.length) {
      const ni = new Uint32Array(ids.length * 2), nd = new Float64Array(ids.length * 2);
      ni.set(ids);
      nd.set(due);
      ids = ni;
      due = nd;
    }
  }
  ids[tail] = id;
  due[tail++] = t;
}

/** Reads every queued notification; each packet is due D ms from now. */
function drain() {
  for (;;) {
    const n = Number(c.recv(fd, rbuf, rbuf.length, MSG_DONTWAIT));
    if (n < 0) {
      const e = errno();
      if (e === EAGAIN) return;
      if (e === ENOBUFS) continue;
      throw new Error(`recv: errno ${e}`);
    }
    const t = now() + DELAY;
    let off = 0;
    while (off + 20 <= n) {
      const len = rbuf.readUInt32LE(off);
      if (len < 16 || off + len > n) break;
      if (rbuf.readUInt16LE(off + 4) === ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) {
        for (let a = off + 20; a + 4 <= off + len; ) {
          const alen = rbuf.readUInt16LE(a);
          if (alen < 4) break;
          if ((rbuf.readUInt16LE(a + 2) & 0x3fff) === 1 && alen >= 8) {
            push(rbuf.readUInt32BE(a + 4), t);
            packets++;
          }
          a += (alen + 3) & ~3;
        }
      }
      off += (len + 3) & ~3;
    }
  }
}

/** One verdict for every packet that is due. */
function release() {
  const t = now();
  let last = -1;
  while (head < tail && due[head] <= t) {
    const l = t - due[head];
    lateSum += l;
    if (l > lateMax) lateMax = l;
    if (l > 1) late1++;
    last = ids[head++];
    released++;
  }
  if (last >= 0) {
    send(message(NFQNL_MSG_VERDICT_BATCH, NLM_F_REQUEST, [[2, Buffer.concat([be32(NF_ACCEPT), be32(last)])]]));
    verdicts++;
  }
}

const pfd = Buffer.alloc(8);
pfd.writeInt32LE(fd, 0);
let running = true;
/** The loop: blocking ppoll until the oldest packet is due or a new one comes; yields every 20 ms for signals. */
function loop() {
  const until = now() + 20;
  while (running) {
    release();
    const t = now();
    if (t >= until) break;
    const wait = head < tail ? Math.min(due[head] - t, until - t) : until - t;
    pfd.writeInt16LE(1, 4); // POLLIN
    pfd.writeInt16LE(0, 6);
    if (c.ppoll(pfd, 1, timespec(wait), null) > 0) drain();
  }
  if (running) setImmediate(loop);
}

function stop() {
  if (!running) return;
  running = false;
  // Let everything still waiting go, then report.
  while (head < tail) {
    release();
    if (head < tail) c.ppoll(null, 0, timespec(Math.max(0, due[head] - now())), null);
  }
  if (INSTALL) iptables("-D");
  c.close(fd);
  process.stdout.write(JSON.stringify({
    delayline: "userspace NFQUEUE", queue: QUEUE, delayMs: DELAY, packets, released, verdicts,
    meanLateMs: released ? +(lateSum / released).toFixed(4) : 0, maxLateMs: +lateMax.toFixed(3), lateOver1ms: late1,
  }) + "\n");
  process.exit(0);
}
for (const s of ["SIGTERM", "SIGINT"]) process.on(s, stop);

if (INSTALL) iptables("-A");
process.stdout.write(JSON.stringify({ ready: true, delayline: "userspace NFQUEUE (netem unavailable in this kernel)", queue: QUEUE, delayMs: DELAY }) + "\n");
loop();
