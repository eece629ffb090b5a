#!/usr/bin/env node
// An ordinary application for demonstrations, tests and benchmarks: it knows
// nothing of handover. A TCP connection (or a UDP flow) carries numbered
// records both ways; each end hashes every byte it sends and receives, and
// records the longest gap between two received records (the blackout).
// Runs under Node, Deno and Bun (node:net, node:dgram, node:crypto).
//
//   traffic.js server --proto tcp|udp --bind ADDR --port P
//   traffic.js client --proto tcp|udp --connect ADDR --port P [--local ADDR] [--local-port P]
//                     [--duration MS] [--interval MS] [--size BYTES] [--bulk]
//   either end:       [--gaps-over MS] [--reconnect [--watch MS]]; server: [--keep-listening]
//
// stdout: one JSON line {"ready": ...} when connected, then one JSON summary
// line when done. SIGTERM or SIGINT end it early (with its summary).
// --gaps-over MS also prints {"gap": ms, "from": t, "to": t} (Unix ms) for
// every receive gap longer than MS, when it ends. For benchmarks: SIGUSR1
// prints {"status": true, "at": t, "lastArrival": t, "receivedBytes": n};
// SIGUSR2 makes a client end now as if its duration were over (cleanly).
//
// --reconnect (TCP, both ends): the baseline for handover, an application that
// survives an address change by itself. The client watches its local address
// (every --watch ms, default 5) and, when it vanishes or the socket fails,
// opens a new connection from whatever address the host has now; each end
// then resumes the byte stream at the offset the other end says it received
// (a 16-byte hello each way: magic, session, u64 bytes received), so nothing
// is lost or repeated. The summary adds "reconnects".

import net from "node:net";
import os from "node:os";
import dgram from "node:dgram";
import { createHash } from "node:crypto";

const args = process.argv.slice(2);
const mode = args[0];
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const flag = (name) => args.includes(`--${name}`);
const proto = opt("proto", "tcp");
const port = Number(opt("port", "5001"));
const duration = Number(opt("duration", "3000"));
const interval = Number(opt("interval", "2"));
const size = Math.max(16, Number(opt("size", "100")));
const bulk = flag("bulk");
const gapsOver = opt("gaps-over") !== undefined ? Number(opt("gaps-over")) : Infinity;
const reconnect = flag("reconnect");
const watchMs = Number(opt("watch", "5"));
const now = () => performance.timeOrigin + performance.now();
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

let tally = null;
process.on("SIGUSR1", () => out({ status: true, at: now(), lastArrival: tally?.lastAt ?? 0, receivedBytes: tally?.receivedBytes ?? 0 }));

/** Counts, hashes and times what one end sends and receives. */
class Tally {
  constructor() {
    tally = this;
    this.sentBytes = 0;
    this.receivedBytes = 0;
    this.sentHash = createHash("sha256");
    this.receivedHash = createHash("sha256");
    this.records = 0;
    this.lastAt = 0;
    this.maxGapMs = 0;
    this.maxGapAt = 0;
    this.firstAt = 0;
    this.seqMissing = 0;
    this.nextSeq = 0;
    this.error = null;
    this.resets = 0;
    /** UDP: the sequence numbers received, and how many arrived after a later one. */
    this.seen = new Set();
    this.reordered = 0;
    /** UDP: of those, how many had arrived before; the first 20 of them ({seq, after: the highest before it, at, dup}). */
    this.duplicates = 0;
    this.late = [];
  }
  sent(buf) {
    this.sentBytes += buf.length;
    this.sentHash.update(buf);
  }
  /** A record (or chunk) arrived; gaps are measured between arrivals. */
  arrived(bytes) {
    const t = now();
    if (this.lastAt) {
      const gap = t - this.lastAt;
      if (gap > gapsOver) out({ gap: Math.round(gap * 1000) / 1000, from: this.lastAt, to: t });
      if (gap > this.maxGapMs) {
        this.maxGapMs = gap;
        this.maxGapAt = t;
      }
    } else this.firstAt = t;
    this.lastAt = t;
    this.receivedBytes += bytes.length;
    this.receivedHash.update(bytes);
  }
  /** UDP: numbers below the highest received that never arrived, as runs. */
  missing() {
    const runs = [];
    let lost = 0;
    for (let s = 0; s < this.nextSeq; s++) {
      if (this.seen.has(s)) continue;
      lost++;
      const last = runs[runs.length - 1];
      if (last && last.to === s - 1) last.to = s;
      else if (runs.length < 20) runs.push({ from: s, to: s });
    }
    return { lost, runs };
  }
  summary(extra) {
    const m = this.missing();
    if (proto === "udp") this.seqMissing = m.lost;
    return {
      proto,
      sentBytes: this.sentBytes,
      receivedBytes: this.receivedBytes,
      sha256Sent: this.sentHash.digest("hex"),
      sha256Received: this.receivedHash.digest("hex"),
      maxGapMs: Math.round(this.maxGapMs * 1000) / 1000,
      maxGapAt: this.maxGapAt,
      resets: this.resets,
      lost: this.seqMissing,
      missing: m.runs,
      reordered: this.reordered,
      ...(proto === "udp" ? { duplicates: this.duplicates, late: this.late } : {}),
      error: this.error,
      ...extra,
    };
  }
}

function record(seq) {
  const b = Buffer.alloc(size);
  b.writeUInt32BE(seq, 0);
  b.writeDoubleBE(now(), 4);
  for (let i = 12; i < size; i++) b[i] = (seq * 31 + i) & 0xff;
  return b;
}

// ---- TCP ----

function tcpPeer(socket, t, { sender }) {
  let seq = 0;
  let timer = null;
  let done = false;
  socket.setNoDelay(true);
  const sendOne = () => {
    const b = record(seq++);
    t.sent(b);
    return socket.write(b);
  };
  const pump = () => {
    if (bulk) {
      // Yield now and then: on a fast path every write may succeed at once.
      for (let n = 0; !done && sendOne(); ) if (++n === 256) return void setImmediate(pump);
    } else sendOne();
  };
  socket.on("drain", () => bulk && !done && pump());
  socket.on("data", (chunk) => t.arrived(chunk));
  socket.on("error", (e) => {
    t.error = e.code ?? e.message;
    if (e.code === "ECONNRESET" || e.code === "EPIPE") t.resets++;
  });
  const stop = () => {
    if (done) return;
    done = true;
    clearInterval(timer);
    socket.end();
  };
  const start = () => {
    if (bulk) pump();
    else timer = setInterval(pump, interval);
  };
  return { start, stop };
}

function tcpServer() {
  const t = new Tally();
  let finished = false;
  let served = false;
  const server = net.createServer((socket) => {
    // One connection; with --keep-listening the listener stays (MPTCP joins
    // arrive through it: close it and the peer's new subflows are refused).
    if (served) return socket.destroy();
    served = true;
    if (!flag("keep-listening")) server.close();
    out({ ready: true, remote: `${socket.remoteAddress}:${socket.remotePort}` });
    const p = tcpPeer(socket, t, { sender: false });
    p.start();
    socket.on("end", () => p.stop());
    socket.on("close", () => finish());
  });
  const finish = () => {
    if (finished) return;
    finished = true;
    out(t.summary({ role: "server" }));
    process.exit(0);
  };
  server.listen(port, opt("bind"));
  server.on("listening", () => out({ listening: true, port }));
  for (const s of ["SIGTERM", "SIGINT"]) process.on(s, finish);
}

function tcpClient() {
  const t = new Tally();
  const socket = net.connect({ host: opt("connect"), port, localAddress: opt("local"), localPort: opt("local-port") ? Number(opt("local-port")) : undefined });
  let p;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    out(t.summary({ role: "client" }));
    process.exit(0);
  };
  socket.on("connect", () => {
    out({ ready: true, local: `${socket.localAddress}:${socket.localPort}`, remote: `${socket.remoteAddress}:${socket.remotePort}` });
    p = tcpPeer(socket, t, { sender: true });
    p.start();
    setTimeout(() => p.stop(), duration);
  });
  process.on("SIGUSR2", () => p?.stop());
  socket.on("close", finish);
  socket.on("error", () => {});
  for (const s of ["SIGTERM", "SIGINT"]) process.on(s, finish);
}

// ---- TCP that reconnects (--reconnect) ----

const MAGIC = 0x52534d31; // "RSM1"
const HELLO = 16;

/** magic, session, u64 bytes received so far */
function hello(session, received) {
  const b = Buffer.alloc(HELLO);
  b.writeUInt32BE(MAGIC, 0);
  b.writeUInt32BE(session, 4);
  b.writeBigUInt64BE(BigInt(received), 8);
  return b;
}

/**
 * One end of a byte stream that outlives its connections: everything
 * produced is kept until the other end says (in its hello) how much it has,
 * then the rest is written on the new connection.
 */
class Resumable {
  constructor(t) {
    this.t = t;
    this.log = [];
    this.logBase = 0; // stream offset of log[0]
    this.socket = null; // the connection in use, after its hello
    this.reconnects = 0;
  }
  produce(buf) {
    this.t.sent(buf);
    this.log.push(buf);
    return this.socket ? this.socket.write(buf) : false;
  }
  resume(socket, offset) {
    while (this.log.length && this.logBase + this.log[0].length <= offset) this.logBase += this.log.shift().length;
    let skip = offset - this.logBase;
    for (const b of this.log) {
      socket.write(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    this.socket = socket;
  }
}

/** Reads the peer's hello from the first bytes of a connection; calls back with it and the rest. */
function readHello(socket, onHello, onData) {
  let acc = Buffer.alloc(0);
  let done = false;
  socket.on("data", (chunk) => {
    if (done) return onData(chunk);
    acc = Buffer.concat([acc, chunk]);
    if (acc.length < HELLO) return;
    done = true;
    if (acc.readUInt32BE(0) !== MAGIC) return socket.destroy();
    onHello(acc.readUInt32BE(4), Number(acc.readBigUInt64BE(8)));
    if (acc.length > HELLO) onData(acc.subarray(HELLO));
  });
}

function resumablePump(r) {
  let seq = 0;
  let timer = null;
  const pump = () => {
    if (bulk) {
      while (r.socket && r.produce(record(seq++)));
    } else r.produce(record(seq++));
  };
  return {
    start() {
      if (bulk) pump();
      else timer = setInterval(pump, interval);
    },
    drain: () => bulk && timer === null && pump(),
    stop() {
      clearInterval(timer);
      timer = 1;
    },
  };
}

function tcpServerReconnect() {
  const t = new Tally();
  const r = new Resumable(t);
  const p = resumablePump(r);
  let session = null;
  let ended = false;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    out(t.summary({ role: "server", reconnects: r.reconnects }));
    process.exit(0);
  };
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    s.on("error", () => {}); // a dead connection: the client comes back on another
    readHello(
      s,
      (sess, offset) => {
        if (session === null) {
          session = sess;
          out({ ready: true, remote: `${s.remoteAddress}:${s.remotePort}` });
          p.start();
        } else if (sess !== session) return s.destroy();
        else r.reconnects++;
        // The old connection goes first, so the count we announce is final.
        if (r.socket && r.socket !== s) r.socket.destroy();
        r.socket = null;
        s.write(hello(session, t.receivedBytes));
        r.resume(s, offset);
        p.drain();
      },
      (chunk) => s === r.socket && t.arrived(chunk),
    );
    s.on("drain", () => s === r.socket && p.drain());
    s.on("end", () => {
      if (s !== r.socket) return;
      ended = true;
      p.stop();
      s.end();
    });
    s.on("close", () => {
      if (s !== r.socket) return;
      if (ended) finish();
      else r.socket = null;
    });
  });
  server.listen(port, opt("bind"));
  server.on("listening", () => out({ listening: true, port }));
  for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, finish);
}

function tcpClientReconnect() {
  const t = new Tally();
  const r = new Resumable(t);
  const p = resumablePump(r);
  const session = (Math.random() * 0xffffffff) >>> 0;
  let first = true;
  let stopped = false; // the duration is over: end once everything is out
  let finished = false;
  let current = null; // the connection being made or in use
  let local = null;
  const finish = () => {
    if (finished) return;
    finished = true;
    out(t.summary({ role: "client", reconnects: r.reconnects }));
    process.exit(0);
  };
  const end = () => {
    if (stopped || first) return;
    stopped = true;
    p.stop();
    if (r.socket) r.socket.end();
  };
  process.on("SIGUSR2", end);
  const lost = (s) => {
    if (s !== current || finished) return;
    current = null;
    r.socket = null;
    // RST, not FIN: the server must not take this for the end of the stream.
    if (!s.destroyed) s.resetAndDestroy();
    setTimeout(connect, watchMs);
  };
  const connect = () => {
    if (finished) return;
    const o = { host: opt("connect"), port };
    if (first) {
      o.localAddress = opt("local");
      if (opt("local-port")) o.localPort = Number(opt("local-port"));
    }
    const s = net.connect(o);
    current = s;
    s.setNoDelay(true);
    const patience = setTimeout(() => r.socket !== s && lost(s), 1000);
    s.on("connect", () => {
      local = s.localAddress;
      s.write(hello(session, t.receivedBytes));
    });
    readHello(
      s,
      (sess, offset) => {
        clearTimeout(patience);
        if (sess !== session) return lost(s);
        r.resume(s, offset);
        p.drain();
        if (first) {
          first = false;
          out({ ready: true, local: `${s.localAddress}:${s.localPort}`, remote: `${s.remoteAddress}:${s.remotePort}` });
          p.start();
          setTimeout(end, duration);
        } else {
          r.reconnects++;
          if (stopped) s.end();
        }
      },
      (chunk) => s === r.socket && t.arrived(chunk),
    );
    s.on("drain", () => s === r.socket && p.drain());
    s.on("error", () => lost(s));
    s.on("close", () => {
      if (s === r.socket && stopped && s.readableEnded) finish();
      else lost(s);
    });
  };
  // The local address going away is the signal (the socket itself may never fail).
  setInterval(() => {
    if (!r.socket || !local) return;
    const have = Object.values(os.networkInterfaces()).some((l) => l?.some((a) => a.address === local));
    if (!have) lost(r.socket);
  }, watchMs).unref();
  connect();
  for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, finish);
}

// ---- UDP ----

function udpEnd(role) {
  const t = new Tally();
  const bind = role === "server" ? opt("bind") : opt("local");
  const family = (bind ?? opt("connect") ?? "").includes(":") ? "udp6" : "udp4";
  const sock = dgram.createSocket(family);
  let peer = role === "client" ? { address: opt("connect"), port } : null;
  let seq = 0;
  let timer = null;
  let finished = false;
  sock.on("message", (msg, rinfo) => {
    if (msg.length === 4 && msg.readUInt32BE(0) === 0xffffffff) {
      // end marker
      if (role === "server") stop(true);
      return;
    }
    if (!peer) peer = { address: rinfo.address, port: rinfo.port };
    const s = msg.readUInt32BE(0);
    if (s < t.nextSeq) {
      const dup = t.seen.has(s);
      t.reordered++;
      if (dup) t.duplicates++;
      if (t.late.length < 20) t.late.push({ seq: s, after: t.nextSeq - 1, at: now(), dup });
    } else t.nextSeq = s + 1;
    t.seen.add(s);
    t.arrived(msg);
    if (role === "server" && !timer) start();
  });
  const send = () => {
    if (!peer) return;
    const b = record(seq++);
    t.sent(b);
    sock.send(b, peer.port, peer.address);
  };
  const start = () => {
    if (role === "server") out({ ready: true, remote: `${peer.address}:${peer.port}` });
    timer = setInterval(send, interval);
  };
  const stop = (final) => {
    clearInterval(timer);
    timer = null;
    if (role === "client" && peer) {
      const end = Buffer.alloc(4);
      end.writeUInt32BE(0xffffffff);
      // the end marker, a few times (UDP may lose one)
      for (let i = 0; i < 5; i++) setTimeout(() => sock.send(end, peer.port, peer.address), i * 20);
    }
    setTimeout(() => finish(), final ? 50 : 300);
  };
  const finish = () => {
    if (finished) return;
    finished = true;
    out(t.summary({ role }));
    process.exit(0);
  };
  sock.bind({ address: bind, port: role === "server" ? port : Number(opt("local-port", "0")) }, () => {
    if (role === "server") out({ listening: true, port });
    else {
      const a = sock.address();
      out({ ready: true, local: `${a.address}:${a.port}` });
      start();
      setTimeout(() => stop(false), duration);
    }
  });
  for (const s of ["SIGTERM", "SIGINT"]) process.on(s, finish);
}

if (mode === "server") proto === "udp" ? udpEnd("server") : reconnect ? tcpServerReconnect() : tcpServer();
else if (mode === "client") proto === "udp" ? udpEnd("client") : reconnect ? tcpClientReconnect() : tcpClient();
else {
  console.error("usage: traffic.js server|client --proto tcp|udp ... (see the header of tools/traffic.js)");
  process.exit(2);
}
