#!/usr/bin/env node
// Hostile control traffic, for end-to-end tests: run it in a namespace on the
// path between two handover daemons (the router). It records the control
// messages it sees (tcpdump) and replays them, byte for byte, and it floods
// the target's control port with forged, truncated and random datagrams.
//
//   hostile.js --target ADDR [--port 4346] [--duration MS] [--rate PER_S]
//
// stdout at the end: {"sent": N, "replayed": N, "forged": N, "truncated": N, "random": N}
import dgram from "node:dgram";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";

const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const target = opt("target");
const port = Number(opt("port", "4346"));
const duration = Number(opt("duration", "3000"));
const rate = Number(opt("rate", "2000"));

const seen = [];
// tcpdump -x prints the IP packet as hex; the UDP payload follows the IP and UDP headers.
const td = spawn("tcpdump", ["-l", "-n", "-x", "-i", "any", `udp port ${port}`], { stdio: ["ignore", "pipe", "ignore"] });
let hex = "";
const flush = () => {
  if (!hex) return;
  const b = Buffer.from(hex, "hex");
  const ihl = (b[0] & 0x0f) * 4;
  const v6 = b[0] >> 4 === 6;
  const payload = v6 ? b.subarray(48) : b.subarray(ihl + 8);
  if (payload.length >= 20 && seen.length < 200) seen.push(payload);
  hex = "";
};
let buf = "";
td.stdout.on("data", (d) => {
  buf += d.toString();
  let i;
  while ((i = buf.indexOf("\n")) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    const m = /^\s+0x[0-9a-f]+:\s+((?:[0-9a-f]{4}\s?)+)/.exec(line);
    if (m) hex += m[1].replace(/\s+/g, "");
    else flush();
  }
});

const sock = dgram.createSocket(target.includes(":") ? "udp6" : "udp4");
const counts = { sent: 0, replayed: 0, forged: 0, truncated: 0, random: 0 };
const send = (b, kind) => {
  counts.sent++;
  counts[kind]++;
  sock.send(b, port, target);
};
let n = 0;
const timer = setInterval(() => {
  for (let k = 0; k < Math.max(1, rate / 100); k++) {
    n++;
    const pick = seen.length ? seen[n % seen.length] : null;
    switch (n % 4) {
      case 0:
        if (pick) send(pick, "replayed");
        break;
      case 1:
        if (pick) {
          const f = Buffer.from(pick);
          f[20 + (n % Math.max(1, f.length - 20))] ^= 1 << n % 8; // a flipped bit after the header
          send(f, "forged");
        }
        break;
      case 2:
        if (pick) send(pick.subarray(0, n % pick.length), "truncated");
        break;
      default:
        send(randomBytes(1 + (n % 300)), "random");
    }
  }
}, 10);
setTimeout(() => {
  clearInterval(timer);
  td.kill();
  sock.close();
  process.stdout.write(JSON.stringify({ ...counts, captured: seen.length }) + "\n");
  process.exit(0);
}, duration);
