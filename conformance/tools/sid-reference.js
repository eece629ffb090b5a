// An independent implementation of SID's pure codecs, written from
// docs/PROTOCOL.md sections 8.9 (tunnel), 8.11 (sealing), 8.12 (TCP state
// record, UDP flow record) and 8.14 (link-layer frames) only, not from the core: it produces the tcpstate,
// tunnel and frames vectors and answers them in --external mode. Refusals
// throw RefError with the error's name.
import { chacha20poly1305, hchacha } from "@noble/ciphers/chacha.js";
import { RefError, hex, unhex, concat, formatAddress, parseAddress, hkdfSha256 } from "./reference.js";

const be = (bytes) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Section 7.4's usable unicast: not unspecified, 0/8, loopback, multicast, 240/4, broadcast, IPv4-mapped. */
export function usableUnicast(family, b) {
  if (family === 1) return b[0] !== 0 && b[0] !== 127 && b[0] < 224;
  const zero10 = b.slice(0, 10).every((x) => x === 0);
  if (b.slice(0, 15).every((x) => x === 0) && (b[15] === 0 || b[15] === 1)) return false;
  if (b[0] === 0xff) return false;
  if (zero10 && b[10] === 0xff && b[11] === 0xff) return false;
  return true;
}

// ---- 8.12 TCP state record ----------------------------------------------------

const MAX_QUEUE = 64 * 1024 * 1024;
const MAX_APP = 1024 * 1024;
const headerLength = (family) => (family === 1 ? 68 : 92);

function checkFields(f, fam, local, remote) {
  if (f.flags & ~7) throw new RefError("BAD_VALUE");
  if (f.sendShift > 14 || f.receiveShift > 14) throw new RefError("BAD_VALUE");
  if (!(f.flags & 4) && (f.sendShift || f.receiveShift)) throw new RefError("BAD_VALUE");
  if (f.mss === 0) throw new RefError("BAD_VALUE");
  if (!(f.flags & 2) && f.timestamp !== 0) throw new RefError("BAD_VALUE");
  if (f.localPort === 0 || f.remotePort === 0) throw new RefError("BAD_VALUE");
  if (!usableUnicast(fam, local) || !usableUnicast(fam, remote)) throw new RefError("BAD_ADDRESS");
  if (f.unsentLength > f.sendQueueLength) throw new RefError("BAD_VALUE");
  if (f.sendQueueLength > MAX_QUEUE || f.receiveQueueLength > MAX_QUEUE || f.appStateLength > MAX_APP) throw new RefError("RECORD_TOO_LONG");
}

/** Decodes a whole record into its canonical fields (the vectors' "fields"). */
export function decodeTcpState(r) {
  if (r.length < 4) throw new RefError("RECORD_TRUNCATED");
  if (r[0] !== 1) throw new RefError("RECORD_VERSION");
  const fam = r[1];
  if (fam !== 1 && fam !== 2) throw new RefError("BAD_FAMILY");
  const hl = headerLength(fam);
  if (r.length < hl) throw new RefError("RECORD_TRUNCATED");
  const v = be(r);
  if (v.getUint16(10) !== 0) throw new RefError("RESERVED_NONZERO");
  const A = fam === 1 ? 4 : 16;
  const local = r.slice(12, 12 + A), remote = r.slice(12 + A, 12 + 2 * A);
  const q = 12 + 2 * A;
  const u = (i) => v.getUint32(q + 4 * i);
  const f = {
    flags: r[2], sendShift: r[3] >> 4, receiveShift: r[3] & 15, mss: v.getUint16(4), localPort: v.getUint16(6), remotePort: v.getUint16(8),
    sendSeq: u(0), receiveSeq: u(1), timestamp: u(2), sndWl1: u(3), sndWnd: u(4), maxWindow: u(5), rcvWnd: u(6), rcvWup: u(7),
    sendQueueLength: u(8), unsentLength: u(9), receiveQueueLength: u(10), appStateLength: u(11),
  };
  checkFields(f, fam, local, remote);
  const total = hl + f.sendQueueLength + f.receiveQueueLength + f.appStateLength;
  if (r.length < total) throw new RefError("RECORD_TRUNCATED");
  if (r.length > total) throw new RefError("RECORD_TRAILING_BYTES");
  const s = hl, rq = s + f.sendQueueLength, ap = rq + f.receiveQueueLength;
  return {
    local: formatAddress(fam, local), remote: formatAddress(fam, remote), localPort: f.localPort, remotePort: f.remotePort,
    sack: !!(f.flags & 1), timestamps: !!(f.flags & 2), windowScaling: !!(f.flags & 4),
    sendShift: f.sendShift, receiveShift: f.receiveShift, mss: f.mss,
    sendSeq: f.sendSeq, receiveSeq: f.receiveSeq, timestamp: f.timestamp,
    sndWl1: f.sndWl1, sndWnd: f.sndWnd, maxWindow: f.maxWindow, rcvWnd: f.rcvWnd, rcvWup: f.rcvWup,
    unsentLength: f.unsentLength,
    sendQueue: hex(r.subarray(s, rq)), receiveQueue: hex(r.subarray(rq, ap)), appState: hex(r.subarray(ap, total)),
  };
}

/** Encodes canonical fields into a record (the same checks as decoding). */
export function encodeTcpState(c) {
  const L = parseAddress(c.local), Rm = parseAddress(c.remote);
  if (L.family !== Rm.family) throw new RefError("BAD_FAMILY");
  const fam = L.family;
  const sq = unhex(c.sendQueue), rq = unhex(c.receiveQueue), app = unhex(c.appState);
  const f = {
    flags: (c.sack ? 1 : 0) | (c.timestamps ? 2 : 0) | (c.windowScaling ? 4 : 0),
    sendShift: c.sendShift, receiveShift: c.receiveShift, mss: c.mss, localPort: c.localPort, remotePort: c.remotePort,
    timestamp: c.timestamp, unsentLength: c.unsentLength, sendQueueLength: sq.length, receiveQueueLength: rq.length, appStateLength: app.length,
  };
  checkFields(f, fam, L.bytes, Rm.bytes);
  const h = new Uint8Array(headerLength(fam));
  const v = be(h);
  h[0] = 1; h[1] = fam; h[2] = f.flags; h[3] = (c.sendShift << 4) | c.receiveShift;
  v.setUint16(4, c.mss); v.setUint16(6, c.localPort); v.setUint16(8, c.remotePort);
  const A = fam === 1 ? 4 : 16;
  h.set(L.bytes, 12); h.set(Rm.bytes, 12 + A);
  [c.sendSeq, c.receiveSeq, c.timestamp, c.sndWl1, c.sndWnd, c.maxWindow, c.rcvWnd, c.rcvWup, sq.length, c.unsentLength, rq.length, app.length]
    .forEach((x, i) => v.setUint32(12 + 2 * A + 4 * i, x >>> 0));
  return concat(h, sq, rq, app);
}

// ---- 8.12 UDP flow record ("UDP flows") --------------------------------------------

/** Decodes a whole UDP flow record into its fields. */
export function decodeUdpFlow(r) {
  if (r.length < 4) throw new RefError("RECORD_TRUNCATED");
  if (r[0] !== 2) throw new RefError("RECORD_VERSION");
  const fam = r[1];
  if (fam !== 1 && fam !== 2) throw new RefError("BAD_FAMILY");
  const A = fam === 1 ? 4 : 16;
  const hl = 12 + 2 * A;
  if (r.length < hl) throw new RefError("RECORD_TRUNCATED");
  const v = be(r);
  if (v.getUint16(2) !== 0) throw new RefError("RESERVED_NONZERO");
  const localPort = v.getUint16(4), remotePort = v.getUint16(6);
  const local = r.slice(8, 8 + A), remote = r.slice(8 + A, 8 + 2 * A);
  const app = v.getUint32(8 + 2 * A);
  if (localPort === 0 || remotePort === 0) throw new RefError("BAD_VALUE");
  if (!usableUnicast(fam, local) || !usableUnicast(fam, remote)) throw new RefError("BAD_ADDRESS");
  if (app > MAX_APP) throw new RefError("RECORD_TOO_LONG");
  if (r.length < hl + app) throw new RefError("RECORD_TRUNCATED");
  if (r.length > hl + app) throw new RefError("RECORD_TRAILING_BYTES");
  return { local: formatAddress(fam, local), remote: formatAddress(fam, remote), localPort, remotePort, appState: hex(r.subarray(hl)) };
}

/** Encodes a UDP flow record (the same checks as decoding). */
export function encodeUdpFlow(c) {
  const L = parseAddress(c.local), Rm = parseAddress(c.remote);
  if (L.family !== Rm.family) throw new RefError("BAD_FAMILY");
  const fam = L.family;
  const A = fam === 1 ? 4 : 16;
  const app = unhex(c.appState);
  if (c.localPort === 0 || c.remotePort === 0) throw new RefError("BAD_VALUE");
  if (!usableUnicast(fam, L.bytes) || !usableUnicast(fam, Rm.bytes)) throw new RefError("BAD_ADDRESS");
  if (app.length > MAX_APP) throw new RefError("RECORD_TOO_LONG");
  const h = new Uint8Array(12 + 2 * A);
  const v = be(h);
  h[0] = 2; h[1] = fam;
  v.setUint16(4, c.localPort); v.setUint16(6, c.remotePort);
  h.set(L.bytes, 8); h.set(Rm.bytes, 8 + A);
  v.setUint32(8 + 2 * A, app.length);
  return concat(h, app);
}

// ---- 8.9 tunnel -----------------------------------------------------------------

export const TUNNEL_INFO = new TextEncoder().encode("handover tunnel/1");

export function tunnelIds(sessionKey) {
  const t = hkdfSha256(sessionKey, new Uint8Array(0), TUNNEL_INFO, 8);
  const vni = (t[0] << 16) | (t[1] << 8) | t[2];
  return { vni, agentMac: "02" + hex(t.subarray(3, 8)), targetMac: "06" + hex(t.subarray(3, 8)), name: "hov" + vni.toString(16).padStart(6, "0") };
}

export function tunnelEncap(vni, dstMac, srcMac, inner) {
  const version = inner[0] >> 4;
  if (vni > 0xffffff || inner.length < 1 || (version !== 4 && version !== 6)) throw new RefError("BAD_VALUE");
  const h = new Uint8Array(22);
  h[0] = 0x08;
  h[4] = vni >> 16; h[5] = (vni >> 8) & 255; h[6] = vni & 255;
  h.set(dstMac, 8); h.set(srcMac, 14);
  h[20] = version === 4 ? 0x08 : 0x86; h[21] = version === 4 ? 0x00 : 0xdd;
  return concat(h, inner);
}

/** check: { innerDestination } at the target, { innerSource } at the agent, or neither. */
export function tunnelDecap(p, vni, ownMac, check = {}) {
  if (p.length < 22) throw new RefError("TRUNCATED");
  if (p[0] !== 0x08) throw new RefError("BAD_VALUE");
  if (p[1] || p[2] || p[3] || p[7]) throw new RefError("RESERVED_NONZERO");
  if (((p[4] << 16) | (p[5] << 8) | p[6]) !== vni || hex(p.subarray(8, 14)) !== hex(ownMac)) throw new RefError("TUNNEL_MISMATCH");
  const type = (p[20] << 8) | p[21];
  if (type !== 0x0800 && type !== 0x86dd) throw new RefError("BAD_VALUE");
  const v4 = type === 0x0800;
  if (p.length < 22 + (v4 ? 20 : 40)) throw new RefError("TRUNCATED");
  if (p[22] >> 4 !== (v4 ? 4 : 6)) throw new RefError("BAD_VALUE");
  const want = check.innerDestination ?? check.innerSource;
  if (want !== undefined) {
    const at = check.innerDestination !== undefined ? (v4 ? 16 : 24) : v4 ? 12 : 8;
    const a = parseAddress(want);
    const got = p.subarray(22 + at, 22 + at + (v4 ? 4 : 16));
    if (a.family !== (v4 ? 1 : 2) || hex(got) !== hex(a.bytes)) throw new RefError("TUNNEL_MISMATCH");
  }
  return p.subarray(22);
}

/** Step 5 of 8.9's kernel actions: the nft batch of the tunnel filter, or its removal (step 6). */
export function tunnelFilter(add, peer, port, vni) {
  if (vni > 0xffffff || !port || port > 65535) throw new RefError("INVALID_ARGUMENT");
  const v = vni.toString(16).padStart(6, "0");
  const chain = `inet hovtunnel v${v}`;
  const element = `${port} . 0x${v}`;
  if (!add) return `delete element inet hovtunnel vni { ${element} }\nflush chain ${chain}\ndelete chain ${chain}\n`;
  const a = parseAddress(peer);
  return "add table inet hovtunnel\nadd map inet hovtunnel vni { typeof udp dport . @th,96,24 : verdict; }\n" +
    "add chain inet hovtunnel in { type filter hook input priority -200; policy accept; }\n" +
    "flush chain inet hovtunnel in\nadd rule inet hovtunnel in udp dport . @th,96,24 vmap @vni\n" +
    `add chain ${chain}\nflush chain ${chain}\n` +
    `add rule ${chain} ${a.family === 1 ? "ip" : "ip6"} saddr != ${formatAddress(a.family, a.bytes)} counter drop\n` +
    `add element inet hovtunnel vni { ${element} : jump v${v} }\n`;
}

// ---- 8.14 link-layer frames -----------------------------------------------------

function ipv4(text) {
  const a = parseAddress(text);
  if (a.family !== 1) throw new RefError("BAD_FAMILY");
  return a.bytes;
}
function arp(ethDst, op, sha, spa, tha, tpa) {
  const f = new Uint8Array(60);
  f.set(ethDst, 0); f.set(sha, 6); f[12] = 0x08; f[13] = 0x06;
  f.set([0, 1, 8, 0, 6, 4, 0, op], 14);
  f.set(sha, 22); f.set(spa, 28); f.set(tha, 32); f.set(tpa, 38);
  return f;
}
export const gratuitousArp = (mac, ip) => arp(new Uint8Array(6).fill(255), 1, mac, ipv4(ip), new Uint8Array(6), ipv4(ip));
export const arpReply = (mac, ip, askerMac, askerIp) => arp(askerMac, 2, mac, ipv4(ip), askerMac, ipv4(askerIp));

/** The unsolicited Neighbour Advertisement of `ip` at `mac` (RFC 4861 7.2.6; PROTOCOL.md 8.18): 86 bytes. */
export function neighbourAdvertisement(mac, ip) {
  const a = parseAddress(ip);
  if (a.family !== 2 || !usableUnicast(2, a.bytes)) throw new RefError("BAD_ADDRESS");
  const allNodes = new Uint8Array(16);
  allNodes[0] = 0xff; allNodes[1] = 2; allNodes[15] = 1;
  const icmp = new Uint8Array(32);
  icmp[0] = 136; icmp[4] = 0x20; // O
  icmp.set(a.bytes, 8);
  icmp[24] = 2; icmp[25] = 1; icmp.set(mac, 26);
  const pseudo = new Uint8Array(40 + 32);
  pseudo.set(a.bytes, 0); pseudo.set(allNodes, 16);
  pseudo[35] = 32; pseudo[39] = 58;
  pseudo.set(icmp, 40);
  const ck = checksum(pseudo);
  icmp[2] = ck >> 8; icmp[3] = ck & 255;
  const f = new Uint8Array(86);
  f.set([0x33, 0x33, 0, 0, 0, 1], 0); f.set(mac, 6); f[12] = 0x86; f[13] = 0xdd;
  f.set([0x60, 0, 0, 0, 0, 32, 58, 255], 14);
  f.set(a.bytes, 22); f.set(allNodes, 38);
  f.set(icmp, 54);
  return f;
}

/** null (not ARP) or { op, senderMac, senderIp, targetMac, targetIp }. */
export function parseArp(f) {
  if (f.length < 14) throw new RefError("TRUNCATED");
  if (f[12] !== 0x08 || f[13] !== 0x06) return null;
  if (f.length < 42) throw new RefError("TRUNCATED");
  if (hex(f.subarray(14, 20)) !== "000108000604") throw new RefError("BAD_VALUE");
  const op = (f[20] << 8) | f[21];
  if (op !== 1 && op !== 2) throw new RefError("BAD_VALUE");
  return { op: op === 1 ? "request" : "reply", senderMac: hex(f.subarray(22, 28)), senderIp: formatAddress(1, f.subarray(28, 32)), targetMac: hex(f.subarray(32, 38)), targetIp: formatAddress(1, f.subarray(38, 42)) };
}

function checksum(bytes) {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i] << 8) | (bytes[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return ~s & 0xffff;
}

export function wakeupFrame({ dstMac, srcMac, src, dst, srcPort, dstPort, ipId, payload }) {
  const S = parseAddress(src), D = parseAddress(dst);
  if (S.family !== D.family || !usableUnicast(S.family, S.bytes) || !usableUnicast(D.family, D.bytes)) throw new RefError("BAD_ADDRESS");
  if (!srcPort || !dstPort || srcPort > 65535 || dstPort > 65535) throw new RefError("BAD_VALUE");
  const v4 = S.family === 1;
  const udp = new Uint8Array(8 + payload.length);
  const uv = be(udp);
  uv.setUint16(0, srcPort); uv.setUint16(2, dstPort); uv.setUint16(4, udp.length);
  udp.set(payload, 8);
  let ip;
  let pseudo;
  if (v4) {
    ip = new Uint8Array(20);
    const v = be(ip);
    ip[0] = 0x45; v.setUint16(2, 20 + udp.length); v.setUint16(4, ipId & 0xffff); v.setUint16(6, 0x4000); ip[8] = 64; ip[9] = 17;
    ip.set(S.bytes, 12); ip.set(D.bytes, 16);
    v.setUint16(10, checksum(ip));
    pseudo = concat(S.bytes, D.bytes, [0, 17, udp.length >> 8, udp.length & 255]);
  } else {
    ip = new Uint8Array(40);
    const v = be(ip);
    ip[0] = 0x60; v.setUint16(4, udp.length); ip[6] = 17; ip[7] = 64;
    ip.set(S.bytes, 8); ip.set(D.bytes, 24);
    pseudo = concat(S.bytes, D.bytes, [0, 0, udp.length >> 8, udp.length & 255, 0, 0, 0, 17]);
  }
  const ck = checksum(concat(pseudo, udp));
  uv.setUint16(6, ck === 0 ? 0xffff : ck);
  return concat(dstMac, srcMac, v4 ? [0x08, 0x00] : [0x86, 0xdd], ip, udp);
}

// ---- 8.11 sealing -----------------------------------------------------------------

const SEAL_INFO = { up: "handover seal up/1", down: "handover seal down/1", state: "handover state/1" };
export const sealKey = (sessionKey, which) => hkdfSha256(sessionKey, new Uint8Array(0), new TextEncoder().encode(SEAL_INFO[which]), 32);
const be32 = (v) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const msgNonce = (seq32, header) => concat(be32(seq32), header.subarray(12, 20));

export function sealMessage(sessionKey, which, seq32, header, pt) {
  return chacha20poly1305(sealKey(sessionKey, which), msgNonce(seq32, header), header).encrypt(pt);
}
export function openMessage(sessionKey, which, seq32, header, body) {
  if (body.length < 16) throw new RefError("BAD_LENGTH");
  try {
    return chacha20poly1305(sealKey(sessionKey, which), msgNonce(seq32, header), header).decrypt(body);
  } catch {
    throw new RefError("BAD_AUTHENTICATOR");
  }
}
// Version 2 (8.11): the binding key K_b, derived once; HChaCha20 subkeys; the tag alone authenticates.
export const bindingKey = (sessionKey) => hkdfSha256(sessionKey, new Uint8Array(0), new TextEncoder().encode("handover binding/2"), 32);
const SUBKEY_INPUT = { up: "handover seal up", down: "handover seal dn", sa: "handover sa key2" };
const words = (b) => new Uint32Array(b.slice().buffer);
export function bindingSubkey(kb, which) {
  const out = new Uint32Array(8);
  const sigma = words(new TextEncoder().encode("expand 32-byte k"));
  hchacha(sigma, words(kb), words(new TextEncoder().encode(SUBKEY_INPUT[which])), out);
  return new Uint8Array(out.buffer);
}
export function sealBinding(kb, which, seq32, header, aad, pt) {
  return chacha20poly1305(bindingSubkey(kb, which), msgNonce(seq32, header), aad).encrypt(pt);
}
export function openBinding(kb, which, seq32, header, aad, body) {
  if (body.length < 16) throw new RefError("BAD_LENGTH");
  try {
    return chacha20poly1305(bindingSubkey(kb, which), msgNonce(seq32, header), aad).decrypt(body);
  } catch {
    throw new RefError("BAD_AUTHENTICATOR");
  }
}
const frameNonce = (i) => concat([0, 0, 0, 0], be32(Math.floor(i / 2 ** 32)), be32(i >>> 0));
export function sealStateFrame(sessionKey, spi, index, last, pt) {
  if (pt.length > 16384 || (pt.length === 0 && !last)) throw new RefError("BAD_VALUE");
  const n = pt.length + 16;
  const head = new Uint8Array([last ? 1 : 0, n >> 16, (n >> 8) & 255, n & 255]);
  return concat(head, chacha20poly1305(sealKey(sessionKey, "state"), frameNonce(index), concat(be32(spi), head)).encrypt(pt));
}
/** Opens the frame at the start of `stream`: { plaintext, last, size }. */
export function openStateFrame(sessionKey, spi, index, stream) {
  if (stream.length < 4) throw new RefError("TRUNCATED");
  const flags = stream[0], n = (stream[1] << 16) | (stream[2] << 8) | stream[3];
  if (flags & ~1) throw new RefError("RESERVED_NONZERO");
  if (n < 16 || n > 16400 || (n === 16 && !(flags & 1))) throw new RefError("BAD_LENGTH");
  if (stream.length < 4 + n) throw new RefError("TRUNCATED");
  try {
    const plaintext = chacha20poly1305(sealKey(sessionKey, "state"), frameNonce(index), concat(be32(spi), stream.subarray(0, 4))).decrypt(stream.subarray(4, 4 + n));
    return { plaintext, last: !!(flags & 1), size: 4 + n };
  } catch {
    throw new RefError("BAD_AUTHENTICATOR");
  }
}

/** The answer to one test of the tcpstate, tunnel and frames suites (section 9.4); null for another suite. */
export function sidAnswer(suite, group, test) {
  const a = { tcId: test.tcId };
  const op = group.operation;
  try {
    if (suite === "tcpstate") {
      if (op === "decode") return { ...a, result: "valid", fields: decodeTcpState(unhex(test.record)) };
      if (op === "encode") return { ...a, result: "valid", record: hex(encodeTcpState(test.fields)) };
      if (op === "udp-decode") return { ...a, result: "valid", fields: decodeUdpFlow(unhex(test.record)) };
      if (op === "udp-encode") return { ...a, result: "valid", record: hex(encodeUdpFlow(test.fields)) };
    }
    if (suite === "tunnel") {
      if (op === "ids") return { ...a, result: "valid", ids: tunnelIds(unhex(test.sessionKey)) };
      if (op === "encap") return { ...a, result: "valid", payload: hex(tunnelEncap(test.vni, unhex(test.dstMac), unhex(test.srcMac), unhex(test.inner))) };
      if (op === "filter") return { ...a, result: "valid", nft: tunnelFilter(test.add, test.peer, test.port, test.vni) };
      if (op === "decap") {
        const check = test.innerDestination ? { innerDestination: test.innerDestination } : test.innerSource ? { innerSource: test.innerSource } : {};
        return { ...a, result: "valid", inner: hex(tunnelDecap(unhex(test.payload), test.vni, unhex(test.ownMac), check)) };
      }
    }
    if (suite === "seal") {
      const key = test.sessionKey ? unhex(test.sessionKey) : new Uint8Array(0);
      if (op === "key") return { ...a, result: "valid", key: hex(sealKey(key, test.which)) };
      if (op === "message-seal") return { ...a, result: "valid", body: hex(sealMessage(key, test.which, test.seq32, unhex(test.header), unhex(test.plaintext))) };
      if (op === "message-open") return { ...a, result: "valid", plaintext: hex(openMessage(key, test.which, test.seq32, unhex(test.header), unhex(test.body))) };
      if (op === "binding-key") return { ...a, result: "valid", bindingKey: hex(bindingKey(key)) };
      if (op === "binding-subkey") return { ...a, result: "valid", key: hex(bindingSubkey(unhex(test.bindingKey), test.which)) };
      if (op === "binding-seal") return { ...a, result: "valid", body: hex(sealBinding(unhex(test.bindingKey), test.which, test.seq32, unhex(test.header), unhex(test.aad), unhex(test.plaintext))) };
      if (op === "binding-open") return { ...a, result: "valid", plaintext: hex(openBinding(unhex(test.bindingKey), test.which, test.seq32, unhex(test.header), unhex(test.aad), unhex(test.body))) };
      if (op === "frame-seal") return { ...a, result: "valid", frame: hex(sealStateFrame(key, test.sessionSpi, test.index, test.last, unhex(test.plaintext))) };
      if (op === "frame-open") {
        const r = openStateFrame(key, test.sessionSpi, test.index, unhex(test.frame));
        return { ...a, result: "valid", plaintext: hex(r.plaintext), last: r.last };
      }
    }
    if (suite === "frames") {
      if (op === "gratuitous-arp") return { ...a, result: "valid", frame: hex(gratuitousArp(unhex(test.mac), test.ip)) };
      if (op === "neighbour-advertisement") return { ...a, result: "valid", frame: hex(neighbourAdvertisement(unhex(test.mac), test.ip)) };
      if (op === "arp-reply") return { ...a, result: "valid", frame: hex(arpReply(unhex(test.mac), test.ip, unhex(test.askerMac), test.askerIp)) };
      if (op === "arp-parse") return { ...a, result: "valid", arp: parseArp(unhex(test.frame)) };
      if (op === "wakeup") return { ...a, result: "valid", frame: hex(wakeupFrame({ ...test, dstMac: unhex(test.dstMac), srcMac: unhex(test.srcMac), payload: unhex(test.payload) })) };
    }
  } catch (e) {
    if (e instanceof RefError) return { ...a, result: "invalid", error: e.errorName };
    throw e;
  }
  return null;
}
