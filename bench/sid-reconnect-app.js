// The baseline application of bench/sid-transfer.js: what an application does
// without SID when its session must move to another device. It closes its
// connection on the transferring node and connects again from the target;
// the correspondent resumes its stream at the byte offset the new connection
// asks for, so nothing is lost or repeated (the application's own protocol:
// a 12-byte hello, magic "SIDB" and a u64 offset). 100-byte records every
// 2 ms both ways, as the SID run's application sends.
//
//   sid-reconnect-app.js server --bind ADDR --port P
//   sid-reconnect-app.js client --connect ADDR --port P --local ADDR [--wait]
//
// stdout: JSON lines. server: {listening}, then on SIGTERM its summary
// {sentBytes, receivedBytes, maxGapMs, resets}. client: {connected} (at
// once, or after the command {"cmd":"go","offset":N} with --wait), the time
// of the first byte received {firstData: t}; {"cmd":"close"} (or SIGTERM)
// ends the connection cleanly and prints {closed, sentBytes, receivedBytes, resets}
// once the correspondent closed too.
import net from "node:net";
import { createInterface } from "node:readline";

const args = process.argv.slice(2);
const mode = args[0];
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const PORT = Number(opt("port", "5001"));
const SIZE = 100;
const INTERVAL = 2;
const MAGIC = 0x53494442; // "SIDB"
const now = () => performance.timeOrigin + performance.now();
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const isReset = (e) => e.code === "ECONNRESET" || e.code === "EPIPE";

function record(seq) {
  const b = Buffer.alloc(SIZE);
  b.writeUInt32BE(seq, 0);
  for (let i = 4; i < SIZE; i++) b[i] = (seq * 31 + i) & 0xff;
  return b;
}

if (mode === "server") {
  // Everything generated so far, so a new connection can resume at any offset.
  const log = [];
  let logBytes = 0;
  let current = null;
  let seq = 0;
  let receivedBytes = 0;
  let lastAt = 0;
  let maxGapMs = 0;
  let resets = 0;
  let timer = null;
  /** The log's length when the last connection ended: what the clients should have received. */
  let writtenAtEnd = 0;
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    let hello = Buffer.alloc(0);
    let ready = false;
    s.on("error", (e) => isReset(e) && resets++);
    s.on("data", (d) => {
      if (!ready) {
        hello = Buffer.concat([hello, d]);
        if (hello.length < 12) return;
        if (hello.readUInt32BE(0) !== MAGIC) return s.destroy();
        const offset = Number(hello.readBigUInt64BE(4));
        d = hello.subarray(12);
        ready = true;
        current = s;
        const all = Buffer.concat(log);
        if (offset < all.length) s.write(all.subarray(offset));
        if (!timer) {
          timer = setInterval(() => {
            const b = record(seq++);
            log.push(b);
            logBytes += b.length;
            if (current && !current.destroyed && current.writable) current.write(b);
          }, INTERVAL);
        }
        if (!d.length) return;
      }
      const t = now();
      if (lastAt && t - lastAt > maxGapMs) maxGapMs = t - lastAt;
      lastAt = t;
      receivedBytes += d.length;
    });
    s.on("end", () => {
      if (current === s) current = null;
      writtenAtEnd = logBytes;
    });
  });
  server.listen(PORT, opt("bind"), () => out({ listening: true }));
  process.on("SIGTERM", () => {
    clearInterval(timer);
    out({ sentBytes: writtenAtEnd, receivedBytes, maxGapMs: Math.round(maxGapMs * 1000) / 1000, resets });
    process.exit(0);
  });
} else {
  let socket = null;
  let seq = 0;
  let sentBytes = 0;
  let receivedBytes = 0;
  let resets = 0;
  let firstData = 0;
  let timer = null;
  const connect = (offset) => {
    socket = net.connect({ host: opt("connect"), port: PORT, localAddress: opt("local") }, () => {
      socket.setNoDelay(true);
      const h = Buffer.alloc(12);
      h.writeUInt32BE(MAGIC, 0);
      h.writeBigUInt64BE(BigInt(offset), 4);
      socket.write(h);
      out({ connected: true, t: now() });
      timer = setInterval(() => {
        if (!socket.writable) return;
        const b = record(seq++);
        sentBytes += b.length;
        socket.write(b);
      }, INTERVAL);
    });
    socket.on("data", (d) => {
      if (!firstData) {
        firstData = now();
        out({ firstData });
      }
      receivedBytes += d.length;
    });
    socket.on("error", (e) => isReset(e) && resets++);
    socket.on("close", () => out({ closed: true, t: now(), sentBytes, receivedBytes, resets }));
  };
  const close = () => {
    // The application's decision: the baseline's transfer time is counted from here, as SID's from its call.
    out({ closing: now() });
    clearInterval(timer);
    socket?.end();
  };
  createInterface({ input: process.stdin }).on("line", (line) => {
    const c = JSON.parse(line);
    if (c.cmd === "go") connect(c.offset ?? 0);
    if (c.cmd === "close") close();
  });
  process.on("SIGTERM", close);
  if (!args.includes("--wait")) connect(0);
}
