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
//
// stdout: one JSON line {"ready": ...} when connected, then one JSON summary
// line when done. SIGTERM or SIGINT end it early (with its summary).

import net from "node:net";
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
const now = () => performance.timeOrigin + performance.now();
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

/** Counts, hashes and times what one end sends and receives. */
class Tally {
  constructor() {
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
      if (gap > this.maxGapMs) {
        this.maxGapMs = gap;
        this.maxGapAt = t;
      }
    } else this.firstAt = t;
    this.lastAt = t;
    this.receivedBytes += bytes.length;
    this.receivedHash.update(bytes);
  }
  summary(extra) {
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
      while (!done && sendOne());
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
  const server = net.createServer((socket) => {
    server.close();
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
  socket.on("close", finish);
  socket.on("error", () => {});
  for (const s of ["SIGTERM", "SIGINT"]) process.on(s, finish);
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
    if (s > t.nextSeq) t.seqMissing += s - t.nextSeq;
    if (s >= t.nextSeq) t.nextSeq = s + 1;
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

if (mode === "server") proto === "udp" ? udpEnd("server") : tcpServer();
else if (mode === "client") proto === "udp" ? udpEnd("client") : tcpClient();
else {
  console.error("usage: traffic.js server|client --proto tcp|udp ... (see the header of tools/traffic.js)");
  process.exit(2);
}
