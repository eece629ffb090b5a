// A throwaway userspace IP-in-UDP tunnel endpoint, for bench/tunnel.js only
// (it is NOT the project's tunnel; the format is docs/PROTOCOL.md section 8.9,
// this prototype just prepends/strips the 8-byte header). One direction per
// process, a blocking loop of libc calls through koffi, no event loop:
//
//   node bench/_tunnel_udp_prototype.js encap TUN LOCAL_IP PORT PEER_IP TUNNEL_ID
//       read(tun) -> header + packet -> sendto(udp, PEER_IP:PORT)
//   node bench/_tunnel_udp_prototype.js decap TUN LOCAL_IP PORT TUNNEL_ID
//       recv(udp on LOCAL_IP:PORT) -> check header -> write(tun)
//
// Every 200 ms of traffic it prints one JSON line: packets moved so far and
// CPU seconds used (the loop never yields, so it cannot catch a signal; the
// bench kills it and reads the last line).
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const koffi = require("koffi");
const libc = koffi.load("libc.so.6");
const open = libc.func("int open(const char *, int)");
const ioctl = libc.func("int ioctl(int, unsigned long, void *)");
const read = libc.func("intptr_t read(int, _Out_ void *, size_t)");
const write = libc.func("intptr_t write(int, const void *, size_t)");
const socket = libc.func("int socket(int, int, int)");
const bind = libc.func("int bind(int, const void *, uint32_t)");
const sendto = libc.func("intptr_t sendto(int, const void *, size_t, int, const void *, uint32_t)");
const recv = libc.func("intptr_t recv(int, _Out_ void *, size_t, int)");

const [mode, tun, local, portText, a4, a5] = process.argv.slice(2);
const port = Number(portText);
const HDR = 8;
const TYPE_TUNNEL_DATA = 4;
const NEXT_IPV4 = 4;

function sockaddr(ip, p) {
  const s = Buffer.alloc(16);
  s.writeUInt16LE(2, 0);
  s.writeUInt16BE(p, 2);
  ip.split(".").forEach((x, i) => (s[4 + i] = Number(x)));
  return s;
}
function openTun(name) {
  const fd = open("/dev/net/tun", 2);
  const ifr = Buffer.alloc(40);
  ifr.write(name, 0);
  ifr.writeUInt16LE(0x0001 | 0x1000, 16); // IFF_TUN | IFF_NO_PI
  if (fd < 0 || ioctl(fd, 0x400454ca, ifr) < 0) throw new Error(`cannot attach to tun ${name}`);
  return fd;
}
const tunFd = openTun(tun);
const udp = socket(2, 2, 0);
if (bind(udp, sockaddr(local, mode === "decap" ? port : 0), 16) < 0) throw new Error("bind failed");
let packets = 0;
let lastReport = Date.now();
function counted() {
  if ((++packets & 255) !== 0 || Date.now() - lastReport < 200) return;
  lastReport = Date.now();
  const u = process.cpuUsage();
  process.stdout.write(JSON.stringify({ mode, packets, cpuSeconds: (u.user + u.system) / 1e6 }) + "\n");
}
const buf = Buffer.alloc(65536 + HDR);
const payload = buf.subarray(HDR);
if (mode === "encap") {
  const peer = sockaddr(a4, port);
  const id = Number(a5);
  buf[0] = TYPE_TUNNEL_DATA;
  buf[1] = NEXT_IPV4;
  buf.writeUInt16BE(0, 2);
  buf.writeUInt32BE(id, 4);
  for (;;) {
    const n = Number(read(tunFd, payload, 65536));
    if (n <= 0 || payload[0] >> 4 !== 4) continue;
    sendto(udp, buf, n + HDR, 0, peer, 16);
    counted();
  }
} else {
  const id = Number(a4);
  for (;;) {
    const n = Number(recv(udp, buf, buf.length, 0));
    if (n <= HDR || buf[0] !== TYPE_TUNNEL_DATA || buf[1] !== NEXT_IPV4 || buf.readUInt32BE(4) !== id) continue;
    write(tunFd, payload, n - HDR);
    counted();
  }
}
