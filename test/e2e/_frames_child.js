// Run inside the agent's namespace by frames.test.js (under Node): sends the
// core's link-layer frames through an AF_PACKET socket on one interface, and
// answers ARP requests with the core's parser and proxy-ARP reply.
//
//   node _frames_child.js IFNAME garp MAC IP
//   node _frames_child.js IFNAME proxy MAC IP SECONDS     answer "who has IP" for SECONDS
//   node _frames_child.js IFNAME wake MAC DSTMAC SRC DST PORT PAYLOAD_TEXT
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Core } from "../../dist/hosts/shared/core.js";
import { SidCodec } from "../../dist/hosts/shared/sid.js";
import { unhex } from "../../dist/hosts/shared/bytes.js";

const require = createRequire(import.meta.url);
const koffi = require("koffi");
const libc = koffi.load("libc.so.6");
const socket = libc.func("int socket(int, int, int)");
const bind = libc.func("int bind(int, const void *, uint32_t)");
const sendto = libc.func("intptr_t sendto(int, const void *, size_t, int, const void *, uint32_t)");
const recv = libc.func("intptr_t recv(int, _Out_ void *, size_t, int)");
const setsockopt = libc.func("int setsockopt(int, int, int, const void *, uint32_t)");
const ifNameToIndex = libc.func("unsigned int if_nametoindex(const char *)");

const [ifname, mode, ...args] = process.argv.slice(2);
const core = await Core.load(readFileSync(new URL("../../build/handover.wasm", import.meta.url)));
const sid = new SidCodec(core);
const mac = (t) => unhex(t.replaceAll(":", ""));
const AF_PACKET = 17, SOCK_RAW = 3, ETH_P_ALL = 0x0003, ETH_P_ARP = 0x0806;
const ifindex = ifNameToIndex(ifname);
if (!ifindex) throw new Error(`no interface ${ifname}`);

function packetSocket(proto) {
  const fd = socket(AF_PACKET, SOCK_RAW, ((proto & 255) << 8) | (proto >> 8));
  if (fd < 0) throw new Error("AF_PACKET socket failed (needs CAP_NET_RAW)");
  const ll = sockaddrLl(proto);
  if (bind(fd, ll, ll.length) < 0) throw new Error("bind to the interface failed");
  return fd;
}
function sockaddrLl(proto) {
  const s = new Uint8Array(20);
  const v = new DataView(s.buffer);
  v.setUint16(0, AF_PACKET, true);
  v.setUint16(2, proto); // network order
  v.setInt32(4, ifindex, true);
  return s;
}
const send = (fd, frame) => {
  const ll = sockaddrLl(ETH_P_ALL);
  if (Number(sendto(fd, frame, frame.length, 0, ll, ll.length)) !== frame.length) throw new Error("sendto failed");
};

if (mode === "garp") {
  const fd = packetSocket(ETH_P_ALL);
  send(fd, sid.gratuitousArp(mac(args[0]), args[1]));
  console.log(JSON.stringify({ sent: "garp" }));
}
if (mode === "wake") {
  const [own, dst, src, dstIp, port, text] = args;
  const fd = packetSocket(ETH_P_ALL);
  send(fd, sid.wakeupFrame({ dstMac: mac(dst), srcMac: mac(own), src, dst: dstIp, srcPort: +port, dstPort: +port, ipId: 7, payload: new TextEncoder().encode(text) }));
  console.log(JSON.stringify({ sent: "wake" }));
}
if (mode === "proxy") {
  const [own, ip, seconds] = args;
  const fd = packetSocket(ETH_P_ARP);
  const tv = new Uint8Array(16);
  new DataView(tv.buffer).setBigInt64(8, 100000n, true); // 100 ms receive timeout
  setsockopt(fd, 1, 20, tv, 16); // SOL_SOCKET, SO_RCVTIMEO
  const buf = new Uint8Array(2048);
  let answered = 0;
  for (const end = Date.now() + 1000 * +seconds; Date.now() < end; ) {
    const n = Number(recv(fd, buf, buf.length, 0));
    if (n <= 0) continue;
    let arp;
    try {
      arp = sid.parseArp(buf.subarray(0, n));
    } catch {
      continue; // malformed ARP: not answered
    }
    if (arp?.op === "request" && arp.targetIp === ip) {
      send(fd, sid.arpReply(mac(own), ip, arp.senderMac, arp.senderIp));
      answered++;
    }
  }
  console.log(JSON.stringify({ answered }));
}
