// The SID codec suites (docs/PROTOCOL.md 8.9, 8.12, 8.14): tcpstate, tunnel
// and frames. Every expected output comes from conformance/tools/sid-reference.js
// (written from the spec, not from the core); the byte layouts are also
// spelled out here for a few cases, so that the reference itself is checked.
// Append new cases at the end of a suite (vectorfile.js keeps tcIds stable).
import { VectorFile } from "./vectorfile.js";
import { hex, unhex, concat, RefError } from "./reference.js";
import * as S from "./sid-reference.js";
import { dhcpSuite } from "./dhcp-reference.js";

const SOURCE = "conformance/tools/generate-sid.js (reference implementation conformance/tools/sid-reference.js, written from docs/PROTOCOL.md 8.9, 8.12, 8.14)";

function assert(cond, what) {
  if (!cond) throw new Error(`generate-sid: ${what}`);
}
const refusal = (f) => {
  try {
    f();
  } catch (e) {
    if (e instanceof RefError) return e.errorName;
    throw e;
  }
  return null;
};

// =========================================================================
// tcpstate
// =========================================================================

const BASE = {
  local: "198.18.20.100", remote: "198.18.10.1", localPort: 5001, remotePort: 40000,
  sack: true, timestamps: true, windowScaling: true, sendShift: 7, receiveShift: 9, mss: 1448,
  sendSeq: 0x11223344, receiveSeq: 0xaabbccdd, timestamp: 0x01020304,
  sndWl1: 0xaabbcc00, sndWnd: 65535, maxWindow: 131072, rcvWnd: 262144, rcvWup: 0xaabbcc10,
  unsentLength: 2, sendQueue: "0102030405", receiveQueue: "090807", appState: "617070",
};

export function tcpstateSuite() {
  const f = new VectorFile({
    suite: "tcpstate",
    description:
      "The TCP state record of section 8.12: what TCP_REPAIR dumps on the transferring node and restores on the target. decode: the record in, its fields out (addresses as text, queues and application state in hex), or the first error of the section's check order. encode: the fields in, the record out, with the same checks. udp-decode and udp-encode: the same for the UDP flow record (8.12, \"UDP flows\").",
    source: SOURCE,
    seed: 0x74637073,
    notes: {
      Typical: { bugType: "FUNCTIONALITY", description: "A record as a live connection gives it." },
      Ipv6: { bugType: "FUNCTIONALITY", description: "An IPv6 connection: a 92-byte header." },
      NoOptions: { bugType: "EDGE_CASE", description: "No SACK, no timestamps, no window scaling: shifts and timestamp 0." },
      EmptyQueues: { bugType: "EDGE_CASE", description: "No queued data and no application state: the header alone." },
      Truncated: { bugType: "MODIFIED_PARAMETER", description: "The record ends inside its header or its queues (RECORD_TRUNCATED)." },
      Trailing: { bugType: "MODIFIED_PARAMETER", description: "Bytes after the record's declared end (RECORD_TRAILING_BYTES)." },
      BadVersion: { bugType: "MODIFIED_PARAMETER", description: "A record version other than 1 (RECORD_VERSION)." },
      BadFamily: { bugType: "MODIFIED_PARAMETER", description: "A family other than 1 and 2 (BAD_FAMILY)." },
      Reserved: { bugType: "MODIFIED_PARAMETER", description: "The reserved field is not zero (RESERVED_NONZERO)." },
      BadField: { bugType: "MODIFIED_PARAMETER", description: "A field out of its range or inconsistent with the flags (BAD_VALUE)." },
      BadAddress: { bugType: "MODIFIED_PARAMETER", description: "An address that is not usable unicast (BAD_ADDRESS)." },
      TooLong: { bugType: "MODIFIED_PARAMETER", description: "A queue over 64 MiB or an application state over 1 MiB (RECORD_TOO_LONG)." },
      ErrorOrder: { bugType: "EDGE_CASE", description: "Two faults: the one the check order names first wins." },
    },
  });
  const dec = f.group({ operation: "decode" });
  const enc = f.group({ operation: "encode" });
  const record = (fields) => S.encodeTcpState(fields);
  const okDecode = (comment, flags, rec) => f.add(dec, () => ({ comment, flags, record: hex(rec), fields: S.decodeTcpState(rec), result: "valid" }));
  const badDecode = (comment, flags, rec, error) => f.add(dec, () => {
    const got = refusal(() => S.decodeTcpState(rec));
    assert(got === error, `tcpstate decode ${comment}: reference says ${got}, expected ${error}`);
    return { comment, flags, record: hex(rec), result: "invalid", error };
  });
  const okEncode = (comment, flags, fields) => f.add(enc, () => ({ comment, flags, fields, record: hex(S.encodeTcpState(fields)), result: "valid" }));
  const badEncode = (comment, flags, fields, error) => f.add(enc, () => {
    const got = refusal(() => S.encodeTcpState(fields));
    assert(got === error, `tcpstate encode ${comment}: reference says ${got}, expected ${error}`);
    return { comment, flags, fields, result: "invalid", error };
  });

  const v4 = record(BASE);
  // The layout of 8.12 spelled out once, to check the reference.
  assert(hex(v4.subarray(0, 68)) === "0101077905a813899c400000c6121464c6120a0111223344aabbccdd01020304aabbcc000000ffff0002000000040000aabbcc1000000005000000020000000300000003", "tcpstate layout");
  okDecode("IPv4, SACK, timestamps, window scaling, all three queues", ["Typical"], v4);
  const v6f = { ...BASE, local: "2001:db8:20::100", remote: "2001:db8:10::1" };
  okDecode("IPv6", ["Ipv6"], record(v6f));
  const bare = { ...BASE, sack: false, timestamps: false, windowScaling: false, sendShift: 0, receiveShift: 0, timestamp: 0, unsentLength: 0, sendQueue: "", receiveQueue: "", appState: "" };
  okDecode("no options, empty queues: the 68-byte header alone", ["NoOptions", "EmptyQueues"], record(bare));
  okDecode("sequence numbers and windows at their largest", ["Typical"], record({ ...BASE, sendSeq: 0xffffffff, receiveSeq: 0xffffffff, timestamp: 0xffffffff, sndWnd: 0xffffffff, maxWindow: 0xffffffff, sendShift: 14, receiveShift: 14, mss: 65535 }));
  const rnd = f.rng();
  okDecode("a kilobyte in each queue", ["Typical"], record({ ...BASE, unsentLength: 1000, sendQueue: hex(rnd.bytes(1024)), receiveQueue: hex(rnd.bytes(1024)), appState: hex(rnd.bytes(100)) }));

  const set = (r, off, ...b) => { const c = r.slice(); b.forEach((x, i) => (c[off + i] = x)); return c; };
  const u32 = (r, off, x) => { const c = r.slice(); new DataView(c.buffer).setUint32(off, x >>> 0); return c; };
  const Q = 20;
  badDecode("3 bytes", ["Truncated"], v4.subarray(0, 3), "RECORD_TRUNCATED");
  badDecode("version 2", ["BadVersion"], set(v4, 0, 2), "RECORD_VERSION");
  badDecode("version 0 and family 9: version first", ["BadVersion", "ErrorOrder"], set(v4, 0, 0, 9), "RECORD_VERSION");
  badDecode("family 3", ["BadFamily"], set(v4, 1, 3), "BAD_FAMILY");
  badDecode("header cut at 67 bytes", ["Truncated"], v4.subarray(0, 67), "RECORD_TRUNCATED");
  badDecode("family IPv6 on an 80-byte record", ["Truncated"], set(v4, 1, 2).subarray(0, 80), "RECORD_TRUNCATED");
  badDecode("reserved 1", ["Reserved"], set(v4, 11, 1), "RESERVED_NONZERO");
  badDecode("reserved 1 and flag 0x80: reserved first", ["Reserved", "ErrorOrder"], set(set(v4, 11, 1), 2, 0x87), "RESERVED_NONZERO");
  badDecode("flag 0x08", ["BadField"], set(v4, 2, 0x0f), "BAD_VALUE");
  badDecode("send shift 15", ["BadField"], set(v4, 3, 0xf9), "BAD_VALUE");
  badDecode("receive shift 15", ["BadField"], set(v4, 3, 0x7f), "BAD_VALUE");
  badDecode("shifts without window scaling", ["BadField"], set(v4, 2, 0x03), "BAD_VALUE");
  badDecode("MSS 0", ["BadField"], set(v4, 4, 0, 0), "BAD_VALUE");
  badDecode("a timestamp without the timestamps flag", ["BadField"], set(v4, 2, 0x05), "BAD_VALUE");
  badDecode("local port 0", ["BadField"], set(v4, 6, 0, 0), "BAD_VALUE");
  badDecode("remote port 0", ["BadField"], set(v4, 8, 0, 0), "BAD_VALUE");
  badDecode("local address 0.0.0.0", ["BadAddress"], set(v4, 12, 0, 0, 0, 0), "BAD_ADDRESS");
  badDecode("remote address 127.0.0.1", ["BadAddress"], set(v4, 16, 127, 0, 0, 1), "BAD_ADDRESS");
  badDecode("remote address 224.0.0.1", ["BadAddress"], set(v4, 16, 224, 0, 0, 1), "BAD_ADDRESS");
  badDecode("remote address 255.255.255.255", ["BadAddress"], set(v4, 16, 255, 255, 255, 255), "BAD_ADDRESS");
  badDecode("IPv6 local address ::1", ["BadAddress", "Ipv6"], set(record(v6f), 12, ...new Array(15).fill(0), 1), "BAD_ADDRESS");
  badDecode("IPv6 remote address ::ffff:198.18.10.1 (IPv4-mapped)", ["BadAddress", "Ipv6"], set(record(v6f), 28, ...new Array(10).fill(0), 255, 255, 198, 18, 10, 1), "BAD_ADDRESS");
  badDecode("port 0 and address 0.0.0.0: the port first", ["BadField", "ErrorOrder"], set(set(v4, 6, 0, 0), 12, 0, 0, 0, 0), "BAD_VALUE");
  badDecode("unsent 6 of a 5-byte send queue", ["BadField"], u32(v4, Q + 36, 6), "BAD_VALUE");
  badDecode("send queue 64 MiB + 1", ["TooLong"], u32(v4, Q + 32, 64 * 1024 * 1024 + 1), "RECORD_TOO_LONG");
  badDecode("receive queue 64 MiB + 1", ["TooLong"], u32(v4, Q + 40, 64 * 1024 * 1024 + 1), "RECORD_TOO_LONG");
  badDecode("application state 1 MiB + 1", ["TooLong"], u32(v4, Q + 44, 1024 * 1024 + 1), "RECORD_TOO_LONG");
  badDecode("send queue and unsent 0xffffffff: too long, not truncated", ["TooLong", "ErrorOrder"], u32(u32(v4, Q + 32, 0xffffffff), Q + 36, 0xffffffff), "RECORD_TOO_LONG");
  badDecode("the application state's last byte missing", ["Truncated"], v4.subarray(0, v4.length - 1), "RECORD_TRUNCATED");
  badDecode("one byte after the end", ["Trailing"], concat(v4, [0]), "RECORD_TRAILING_BYTES");

  okEncode("IPv4, all options and queues", ["Typical"], BASE);
  okEncode("IPv6, no options", ["Ipv6", "NoOptions"], { ...bare, local: "2001:db8:20::100", remote: "2001:db8:10::1" });
  badEncode("unsent longer than the send queue", ["BadField"], { ...BASE, unsentLength: 6 }, "BAD_VALUE");
  badEncode("window shifts without window scaling", ["BadField"], { ...BASE, windowScaling: false }, "BAD_VALUE");
  badEncode("a multicast remote address", ["BadAddress"], { ...BASE, remote: "239.1.1.1" }, "BAD_ADDRESS");

  // The UDP flow record (8.12, "UDP flows"): groups after the TCP record's, so those keep their tcIds.
  const udec = f.group({ operation: "udp-decode" });
  const uenc = f.group({ operation: "udp-encode" });
  const okUdp = (comment, flags, rec) => f.add(udec, () => ({ comment, flags, record: hex(rec), fields: S.decodeUdpFlow(rec), result: "valid" }));
  const badUdp = (comment, flags, rec, error) => f.add(udec, () => {
    const got = refusal(() => S.decodeUdpFlow(rec));
    assert(got === error, `udp flow decode ${comment}: reference says ${got}, expected ${error}`);
    return { comment, flags, record: hex(rec), result: "invalid", error };
  });
  const UDP = { local: "198.18.1.10", remote: "198.18.9.2", localPort: 5002, remotePort: 5003, appState: "736571" };
  const u4 = S.encodeUdpFlow(UDP);
  assert(hex(u4) === "02010000138a138bc612010ac612090200000003736571", "udp flow layout");
  okUdp("UDP flow, IPv4, with application state", ["Typical"], u4);
  okUdp("UDP flow, IPv6, no application state: the 44-byte header alone", ["Ipv6", "EmptyQueues"], S.encodeUdpFlow({ local: "2001:db8::10", remote: "2001:db8:9::2", localPort: 1, remotePort: 65535, appState: "" }));
  badUdp("UDP flow: 3 bytes", ["Truncated"], u4.subarray(0, 3), "RECORD_TRUNCATED");
  badUdp("UDP flow: version 1 (a TCP state record's)", ["BadVersion"], set(u4, 0, 1), "RECORD_VERSION");
  badUdp("UDP flow: family 3", ["BadFamily"], set(u4, 1, 3), "BAD_FAMILY");
  badUdp("UDP flow: header cut at 19 bytes", ["Truncated"], u4.subarray(0, 19), "RECORD_TRUNCATED");
  badUdp("UDP flow: reserved 1", ["Reserved"], set(u4, 3, 1), "RESERVED_NONZERO");
  badUdp("UDP flow: reserved 1 and local port 0: reserved first", ["Reserved", "ErrorOrder"], set(set(u4, 3, 1), 4, 0, 0), "RESERVED_NONZERO");
  badUdp("UDP flow: local port 0", ["BadField"], set(u4, 4, 0, 0), "BAD_VALUE");
  badUdp("UDP flow: remote port 0", ["BadField"], set(u4, 6, 0, 0), "BAD_VALUE");
  badUdp("UDP flow: local address 127.0.0.1", ["BadAddress"], set(u4, 8, 127, 0, 0, 1), "BAD_ADDRESS");
  badUdp("UDP flow: remote address 224.0.0.1", ["BadAddress"], set(u4, 12, 224, 0, 0, 1), "BAD_ADDRESS");
  badUdp("UDP flow: application state 1 MiB + 1", ["TooLong"], u32(u4, 16, 1024 * 1024 + 1), "RECORD_TOO_LONG");
  badUdp("UDP flow: the application state's last byte missing", ["Truncated"], u4.subarray(0, u4.length - 1), "RECORD_TRUNCATED");
  badUdp("UDP flow: one byte after the end", ["Trailing"], concat(u4, [0]), "RECORD_TRAILING_BYTES");
  f.add(uenc, () => ({ comment: "UDP flow, IPv4", flags: ["Typical"], fields: UDP, record: hex(u4), result: "valid" }));
  f.add(uenc, () => {
    const fields = { ...UDP, remote: "239.1.1.1" };
    const got = refusal(() => S.encodeUdpFlow(fields));
    assert(got === "BAD_ADDRESS", `udp flow encode: reference says ${got}`);
    return { comment: "UDP flow: a multicast remote address", flags: ["BadAddress"], fields, result: "invalid", error: "BAD_ADDRESS" };
  });
  return f;
}

// =========================================================================
// tunnel
// =========================================================================

export function tunnelSuite() {
  const f = new VectorFile({
    suite: "tunnel",
    description:
      "The SID tunnel of section 8.9. ids: the binding's VNI, tunnel MACs and device name from the 32-byte session key (HKDF-SHA256, info \"handover tunnel/1\"). encap: the UDP payload carrying an inner IP packet (VXLAN header, inner Ethernet header, the packet). decap: the receiving checks in their order, for the binding's VNI and this end's MAC, and the inner destination (at the target) or source (at the agent) when given; the inner packet out. filter: the nft batch of the tunnel filter (step 5 of the kernel actions), or its removal.",
    source: SOURCE,
    seed: 0x74756e6c,
    notes: {
      Typical: { bugType: "FUNCTIONALITY", description: "A typical input." },
      Random: { bugType: "FUNCTIONALITY", description: "Pseudorandom session keys." },
      Ipv6: { bugType: "FUNCTIONALITY", description: "An IPv6 inner packet (EtherType 0x86DD)." },
      Truncated: { bugType: "MODIFIED_PARAMETER", description: "Shorter than the headers (TRUNCATED)." },
      BadHeader: { bugType: "MODIFIED_PARAMETER", description: "The flags byte, EtherType or IP version is wrong (BAD_VALUE)." },
      Reserved: { bugType: "MODIFIED_PARAMETER", description: "A reserved VXLAN byte is not zero (RESERVED_NONZERO)." },
      Mismatch: { bugType: "MODIFIED_PARAMETER", description: "Another binding's VNI, another MAC, or an inner address that is not the transferred address (TUNNEL_MISMATCH)." },
      ErrorOrder: { bugType: "EDGE_CASE", description: "Two faults: the one checked first wins." },
    },
  });
  const ids = f.group({ operation: "ids" });
  const enc = f.group({ operation: "encap" });
  const dec = f.group({ operation: "decap" });
  const idCase = (comment, flags, key) => f.add(ids, () => ({ comment, flags, sessionKey: key, ids: S.tunnelIds(unhex(key)), result: "valid" }));
  idCase("session key 00 01 .. 1f", ["Typical"], "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  idCase("session key all zero", ["Typical"], "00".repeat(32));
  for (let i = 0; i < 6; i++) f.add(ids, (rng) => { const key = hex(rng.bytes(32)); return { comment: `random session key ${i + 1}`, flags: ["Random"], sessionKey: key, ids: S.tunnelIds(unhex(key)), result: "valid" }; });

  const agent = "020102030405", target = "060102030405";
  const inner4 = "45000054abcd40004001" + "0000" + "c6121e01" + "c6121464" + "0800f7ff00000000";
  const inner6 = "6000000000083a40" + "20010db8001000000000000000000001" + "20010db8002000000000000000000100" + "8000000000000000";
  const encCase = (comment, flags, vni, dstMac, srcMac, inner) => f.add(enc, () => ({ comment, flags, vni, dstMac, srcMac, inner, payload: hex(S.tunnelEncap(vni, unhex(dstMac), unhex(srcMac), unhex(inner))), result: "valid" }));
  const p4 = S.tunnelEncap(0x1a2b3c, unhex(target), unhex(agent), unhex(inner4));
  assert(hex(p4.subarray(0, 22)) === "080000001a2b3c00" + target + agent + "0800", "tunnel layout");
  encCase("agent to target, IPv4 inner packet", ["Typical"], 0x1a2b3c, target, agent, inner4);
  encCase("target to agent, IPv6 inner packet", ["Ipv6"], 0xffffff, agent, target, inner6);
  f.add(enc, () => ({ comment: "VNI 2^24: refused", flags: ["BadHeader"], vni: 0x1000000, dstMac: target, srcMac: agent, inner: inner4, result: "invalid", error: "BAD_VALUE" }));
  f.add(enc, () => ({ comment: "not an IP packet (version 0)", flags: ["BadHeader"], vni: 1, dstMac: target, srcMac: agent, inner: "00" + inner4.slice(2), result: "invalid", error: "BAD_VALUE" }));

  const decCase = (comment, flags, payload, extra = {}) => f.add(dec, () => {
    const b = { vni: 0x1a2b3c, ownMac: target, ...extra };
    const check = b.innerDestination ? { innerDestination: b.innerDestination } : b.innerSource ? { innerSource: b.innerSource } : {};
    const err = refusal(() => S.tunnelDecap(payload, b.vni, unhex(b.ownMac), check));
    const out = { comment, flags, payload: hex(payload), ...b };
    return err ? { ...out, result: "invalid", error: err } : { ...out, inner: hex(S.tunnelDecap(payload, b.vni, unhex(b.ownMac), check)), result: "valid" };
  });
  const mut = (off, v) => { const c = p4.slice(); c[off] = v; return c; };
  decCase("at the target, inner destination the transferred address", ["Typical"], p4, { innerDestination: "198.18.20.100" });
  decCase("no inner address check", ["Typical"], p4);
  decCase("at the agent (reverse tunnel), inner source checked", ["Typical"], S.tunnelEncap(0x1a2b3c, unhex(agent), unhex(target), unhex("45000054abcd40004001" + "0000" + "c6121464" + "c6120a01" + "0800f7ff00000000")), { ownMac: agent, innerSource: "198.18.20.100" });
  decCase("21 bytes", ["Truncated"], p4.subarray(0, 21));
  decCase("inner IPv4 header cut at 19 bytes", ["Truncated"], p4.subarray(0, 41));
  decCase("flags 0x0c", ["BadHeader"], mut(0, 0x0c));
  decCase("flags 0x00 (I clear)", ["BadHeader"], mut(0, 0));
  decCase("reserved byte 3 set", ["Reserved"], mut(3, 1));
  decCase("reserved byte 7 set", ["Reserved"], mut(7, 1));
  decCase("another VNI", ["Mismatch"], mut(6, 0x3d));
  decCase("another destination MAC", ["Mismatch"], mut(13, 0x06));
  decCase("EtherType ARP", ["BadHeader"], mut(21, 0x06));
  decCase("IP version 6 under EtherType IPv4", ["BadHeader"], mut(22, 0x65));
  decCase("inner destination not the transferred address", ["Mismatch"], p4, { innerDestination: "198.18.20.101" });
  decCase("inner source not the transferred address (agent check on a forward packet)", ["Mismatch"], p4, { innerSource: "198.18.20.100" });
  decCase("reserved set and another VNI: reserved first", ["Reserved", "Mismatch", "ErrorOrder"], (() => { const c = mut(7, 1); c[6] = 0x3d; return c; })());
  decCase("another VNI and EtherType ARP: the VNI first", ["Mismatch", "BadHeader", "ErrorOrder"], (() => { const c = mut(6, 0x3d); c[21] = 0x06; return c; })());
  const flt = f.group({ operation: "filter" });
  const fltCase = (comment, flags, t) => f.add(flt, () => {
    const err = refusal(() => S.tunnelFilter(t.add, t.peer, t.port, t.vni));
    return err ? { comment, flags, ...t, result: "invalid", error: err } : { comment, flags, ...t, nft: S.tunnelFilter(t.add, t.peer, t.port, t.vni), result: "valid" };
  });
  fltCase("the target admits the binding's VNI from the agent only", ["Typical"], { add: true, peer: "198.18.30.1", port: 4789, vni: 0x1a2b3c });
  fltCase("IPv6 underlay", ["Ipv6"], { add: true, peer: "2001:db8:30::1", port: 4789, vni: 7 });
  fltCase("removal", ["Typical"], { add: false, peer: "198.18.30.1", port: 4789, vni: 0x1a2b3c });
  fltCase("VNI 2^24", ["BadHeader"], { add: true, peer: "198.18.30.1", port: 4789, vni: 0x1000000 });
  return f;
}

// =========================================================================
// frames
// =========================================================================

export function framesSuite() {
  const f = new VectorFile({
    suite: "frames",
    description:
      "The link-layer frames of section 8.14: the gratuitous ARP (ARP Announcement) and proxy-ARP reply (60-byte Ethernet frames without FCS), the classification of a received frame (arp: null for another EtherType), the Wake-up frame (Ethernet, IPv4 or IPv6, UDP with checksums, the message as payload), and IPv6's unsolicited Neighbour Advertisement (86 bytes: to 33:33:00:00:00:01, ff02::1, hop limit 255, flag O, the target link-layer option).",
    source: SOURCE,
    seed: 0x66726d73,
    notes: {
      Typical: { bugType: "FUNCTIONALITY", description: "A typical input." },
      Ipv6: { bugType: "FUNCTIONALITY", description: "The Wake-up over IPv6." },
      OddLength: { bugType: "EDGE_CASE", description: "An odd payload length: the checksum pads with a zero byte." },
      NotArp: { bugType: "FUNCTIONALITY", description: "Another EtherType: not for the ARP reader." },
      Truncated: { bugType: "MODIFIED_PARAMETER", description: "Shorter than its headers (TRUNCATED)." },
      BadArp: { bugType: "MODIFIED_PARAMETER", description: "Not Ethernet/IPv4 ARP, or another operation (BAD_VALUE)." },
      BadAddress: { bugType: "MODIFIED_PARAMETER", description: "An address that is not usable unicast, or of another family (BAD_ADDRESS)." },
      BadPort: { bugType: "MODIFIED_PARAMETER", description: "A port 0 (BAD_VALUE)." },
    },
  });
  const gr = f.group({ operation: "gratuitous-arp" });
  const rp = f.group({ operation: "arp-reply" });
  const ps = f.group({ operation: "arp-parse" });
  const wk = f.group({ operation: "wakeup" });
  const AG = "02000000000a", ND = "02000000000b", ASK = "0200000000c1";
  const g1 = S.gratuitousArp(unhex(AG), "198.18.20.100");
  assert(hex(g1) === "ffffffffffff" + AG + "0806000108000604" + "0001" + AG + "c6121464" + "000000000000" + "c6121464" + "00".repeat(18), "gratuitous ARP layout");
  f.add(gr, () => ({ comment: "the agent claims 198.18.20.100", flags: ["Typical"], mac: AG, ip: "198.18.20.100", frame: hex(g1), result: "valid" }));
  f.add(gr, () => ({ comment: "the node claims its address back", flags: ["Typical"], mac: ND, ip: "198.18.20.100", frame: hex(S.gratuitousArp(unhex(ND), "198.18.20.100")), result: "valid" }));
  f.add(rp, () => ({ comment: "proxy-ARP reply to the router", flags: ["Typical"], mac: AG, ip: "198.18.20.100", askerMac: ASK, askerIp: "198.18.20.1", frame: hex(S.arpReply(unhex(AG), "198.18.20.100", unhex(ASK), "198.18.20.1")), result: "valid" }));
  const req = unhex("ffffffffffff" + ASK + "0806000108000604" + "0001" + ASK + "c6121401" + "000000000000" + "c6121464");
  const parse = (comment, flags, frame) => f.add(ps, () => {
    const err = refusal(() => S.parseArp(frame));
    return err ? { comment, flags, frame: hex(frame), result: "invalid", error: err } : { comment, flags, frame: hex(frame), arp: S.parseArp(frame), result: "valid" };
  });
  const mut = (off, v) => { const c = req.slice(); c[off] = v; return c; };
  parse("a who-has request for the transferred address", ["Typical"], req);
  parse("a reply (the agent's own)", ["Typical"], S.arpReply(unhex(AG), "198.18.20.100", unhex(ASK), "198.18.20.1"));
  parse("an IPv4 frame: not ARP", ["NotArp"], concat(unhex(AG + ASK + "0800"), new Uint8Array(46)));
  parse("13 bytes", ["Truncated"], req.subarray(0, 13));
  parse("41 bytes of ARP", ["Truncated"], req.subarray(0, 41));
  parse("hardware type 6", ["BadArp"], mut(15, 6));
  parse("protocol type 0x86dd", ["BadArp"], (() => { const c = req.slice(); c[16] = 0x86; c[17] = 0xdd; return c; })());
  parse("hardware length 8", ["BadArp"], mut(18, 8));
  parse("operation 3", ["BadArp"], mut(21, 3));

  const wake = (comment, flags, w) => f.add(wk, () => {
    const args = { ...w, dstMac: unhex(w.dstMac), srcMac: unhex(w.srcMac), payload: unhex(w.payload) };
    const err = refusal(() => S.wakeupFrame(args));
    return err ? { comment, flags, ...w, result: "invalid", error: err } : { comment, flags, ...w, frame: hex(S.wakeupFrame(args)), result: "valid" };
  });
  const W = { dstMac: ND, srcMac: AG, src: "198.18.20.2", dst: "198.18.20.100", srcPort: 4346, dstPort: 4346, ipId: 0x1234, payload: "0116000100000000000000000000000000000001" };
  const w1 = S.wakeupFrame({ ...W, dstMac: unhex(ND), srcMac: unhex(AG), payload: unhex(W.payload) });
  assert(hex(w1.subarray(0, 34)).startsWith(ND + AG + "0800" + "450000301234400040110000".slice(0, 20)), "wake-up layout");
  wake("IPv4 to the node's MAC", ["Typical"], W);
  wake("IPv4, odd payload length", ["OddLength"], { ...W, payload: "0116000100000000000000000000000000000001ff" });
  wake("IPv6", ["Ipv6"], { ...W, src: "2001:db8:20::2", dst: "2001:db8:20::100", dstPort: 5000 });
  wake("IPv6, odd payload length", ["Ipv6", "OddLength"], { ...W, src: "2001:db8:20::2", dst: "2001:db8:20::100", payload: "01" });
  wake("multicast destination", ["BadAddress"], { ...W, dst: "224.0.0.1" });
  wake("families differ", ["BadAddress"], { ...W, dst: "2001:db8:20::100" });
  wake("source port 0", ["BadPort"], { ...W, srcPort: 0 });
  // IPv6's gratuitous ARP (section 8.18): the unsolicited Neighbour Advertisement. Appended last.
  const na = f.group({ operation: "neighbour-advertisement" });
  const naCase = (comment, flags, ip, mac = AG) => f.add(na, () => {
    const err = refusal(() => S.neighbourAdvertisement(unhex(mac), ip));
    return err ? { comment, flags, mac, ip, result: "invalid", error: err } : { comment, flags, mac, ip, frame: hex(S.neighbourAdvertisement(unhex(mac), ip)), result: "valid" };
  });
  const n1 = S.neighbourAdvertisement(unhex(AG), "2001:db8:1::5eed:1");
  assert(hex(n1.subarray(0, 22)) === "333300000001" + AG + "86dd" + "6000000000203aff", "neighbour advertisement layout");
  naCase("the target claims the session address 2001:db8:1::5eed:1", ["Typical", "Ipv6"], "2001:db8:1::5eed:1");
  naCase("the node claims its address back", ["Typical", "Ipv6"], "2001:db8:20::100", ND);
  naCase("an IPv4 address", ["BadAddress"], "198.18.20.100");
  naCase("a multicast address", ["BadAddress"], "ff02::1");
  return f;
}

// =========================================================================
// seal
// =========================================================================

export function sealSuite() {
  const f = new VectorFile({
    suite: "seal",
    description:
      "Sealing under the session key (section 8.11). key: the derived key (which: up, down, state). message-seal / message-open: a Sealed extension's body, ChaCha20-Poly1305 under K_up or K_down, nonce = seq32 || the header's Replay Protect ID, AAD = the 20-byte header. frame-seal / frame-open: one frame of the TCP state record under K_state, nonce = 4 zero bytes || index, AAD = Session SPI || the frame's 4-byte head (Flags, Length).",
    source: SOURCE,
    seed: 0x7365616c,
    notes: {
      Typical: { bugType: "FUNCTIONALITY", description: "A typical input." },
      Empty: { bugType: "EDGE_CASE", description: "An empty plaintext." },
      ModifiedTag: { bugType: "MODIFIED_PARAMETER", description: "A changed byte of the ciphertext or tag, or another key, nonce or AAD input (BAD_AUTHENTICATOR)." },
      BadLength: { bugType: "MODIFIED_PARAMETER", description: "A body or frame length out of range (BAD_LENGTH, BAD_VALUE)." },
      Truncated: { bugType: "MODIFIED_PARAMETER", description: "A frame cut short (TRUNCATED)." },
      Reserved: { bugType: "MODIFIED_PARAMETER", description: "A frame flag other than Last (RESERVED_NONZERO)." },
      LargeIndex: { bugType: "EDGE_CASE", description: "A frame index above 2^32: the nonce's high word." },
    },
  });
  const key = hex(f.rng().bytes(32));
  const K = unhex(key);
  const header = "01140007a1a2a3a4a5a60000e5f6a7b8c9d0e1f2";
  const H = unhex(header);
  const gk = f.group({ operation: "key" });
  for (const which of ["up", "down", "state"]) f.add(gk, () => ({ comment: `K_${which}`, flags: ["Typical"], sessionKey: key, which, key: hex(S.sealKey(K, which)), result: "valid" }));
  const ms = f.group({ operation: "message-seal" });
  const mo = f.group({ operation: "message-open" });
  const pt = "24020258";
  const body = hex(S.sealMessage(K, "up", 0x10007, H, unhex(pt)));
  f.add(ms, () => ({ comment: "a Binding Update's Lifetime, sealed under K_up", flags: ["Typical"], sessionKey: key, which: "up", seq32: 0x10007, header, plaintext: pt, body, result: "valid" }));
  f.add(ms, () => ({ comment: "an empty Binding Ack, K_down", flags: ["Empty"], sessionKey: key, which: "down", seq32: 8, header, plaintext: "", body: hex(S.sealMessage(K, "down", 8, H, new Uint8Array(0))), result: "valid" }));
  const open = (comment, flags, t) => f.add(mo, () => {
    const err = refusal(() => S.openMessage(unhex(t.sessionKey), t.which, t.seq32, unhex(t.header), unhex(t.body)));
    return err ? { comment, flags, ...t, result: "invalid", error: err } : { comment, flags, ...t, plaintext: hex(S.openMessage(unhex(t.sessionKey), t.which, t.seq32, unhex(t.header), unhex(t.body))), result: "valid" };
  });
  const M = { sessionKey: key, which: "up", seq32: 0x10007, header, body };
  open("the Binding Update's Sealed body", ["Typical"], M);
  open("opened with K_down", ["ModifiedTag"], { ...M, which: "down" });
  open("another extended sequence number", ["ModifiedTag"], { ...M, seq32: 0x7 });
  open("another header (Replay Protect ID)", ["ModifiedTag"], { ...M, header: header.slice(0, -2) + "f3" });
  open("the tag's last byte changed", ["ModifiedTag"], { ...M, body: body.slice(0, -2) + (parseInt(body.slice(-2), 16) ^ 1).toString(16).padStart(2, "0") });
  open("15 bytes", ["BadLength"], { ...M, body: body.slice(0, 30) });
  const fs = f.group({ operation: "frame-seal" });
  const fo = f.group({ operation: "frame-open" });
  const rec = hex(f.rng().bytes(100));
  const frame0 = hex(S.sealStateFrame(K, 0x1234, 0, false, unhex(rec)));
  const frameL = hex(S.sealStateFrame(K, 0x1234, 1, true, unhex(rec.slice(0, 20))));
  const seal = (comment, flags, t) => f.add(fs, () => {
    const err = refusal(() => S.sealStateFrame(unhex(t.sessionKey), t.sessionSpi, t.index, t.last, unhex(t.plaintext)));
    return err ? { comment, flags, ...t, result: "invalid", error: err } : { comment, flags, ...t, frame: hex(S.sealStateFrame(unhex(t.sessionKey), t.sessionSpi, t.index, t.last, unhex(t.plaintext))), result: "valid" };
  });
  seal("frame 0 of a record", ["Typical"], { sessionKey: key, sessionSpi: 0x1234, index: 0, last: false, plaintext: rec });
  seal("frame 1, the last", ["Typical"], { sessionKey: key, sessionSpi: 0x1234, index: 1, last: true, plaintext: rec.slice(0, 20) });
  seal("an empty last frame", ["Empty"], { sessionKey: key, sessionSpi: 0x1234, index: 2, last: true, plaintext: "" });
  seal("frame 2^32 + 5", ["LargeIndex"], { sessionKey: key, sessionSpi: 0x1234, index: 2 ** 32 + 5, last: false, plaintext: "00" });
  seal("an empty frame that is not the last", ["BadLength"], { sessionKey: key, sessionSpi: 0x1234, index: 0, last: false, plaintext: "" });
  seal("16385 bytes", ["BadLength"], { sessionKey: key, sessionSpi: 0x1234, index: 0, last: true, plaintext: "00".repeat(16385) });
  const fopen = (comment, flags, t) => f.add(fo, () => {
    const err = refusal(() => S.openStateFrame(unhex(t.sessionKey), t.sessionSpi, t.index, unhex(t.frame)));
    if (err) return { comment, flags, ...t, result: "invalid", error: err };
    const r = S.openStateFrame(unhex(t.sessionKey), t.sessionSpi, t.index, unhex(t.frame));
    return { comment, flags, ...t, plaintext: hex(r.plaintext), last: r.last, result: "valid" };
  });
  const F = { sessionKey: key, sessionSpi: 0x1234, index: 0, frame: frame0 };
  fopen("frame 0", ["Typical"], F);
  fopen("the last frame", ["Typical"], { ...F, index: 1, frame: frameL });
  fopen("frame 0 opened as frame 1 (reordered)", ["ModifiedTag"], { ...F, index: 1 });
  fopen("another Session SPI", ["ModifiedTag"], { ...F, sessionSpi: 0x1235 });
  fopen("Last set on frame 0 (the head is authenticated)", ["ModifiedTag"], { ...F, frame: "01" + frame0.slice(2) });
  fopen("flag 0x02", ["Reserved"], { ...F, frame: "02" + frame0.slice(2) });
  fopen("Length 15", ["BadLength"], { ...F, frame: "0100000f" + "00".repeat(15) });
  fopen("Length 16 without Last", ["BadLength"], { ...F, frame: "00000010" + "00".repeat(16) });
  fopen("3 bytes", ["Truncated"], { ...F, frame: frame0.slice(0, 6) });
  fopen("one byte short of its Length", ["Truncated"], { ...F, frame: frame0.slice(0, -2) });
  return f;
}

export const SID_SUITES = { tcpstate: tcpstateSuite, tunnel: tunnelSuite, frames: framesSuite, seal: sealSuite, dhcp: dhcpSuite };
