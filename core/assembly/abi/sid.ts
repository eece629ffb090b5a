// Flat exports for SID's pure codecs (docs/ABI.md "SID"): the TCP state
// record (docs/PROTOCOL.md 8.12), the link-layer frames (8.14) and the
// tunnel's kernel actions (8.9). Every pointer is checked; a bad one returns
// -ERR_INVALID_ARGUMENT, never a trap.

import { inMemory } from "../util/bytes";
import { Address, isValidFamily } from "../engine/address";
import { tunnelIds, kernelMessagePtr, vxlanLink, fdbEntry, neighEntry, tunnelRoute, sourceRule, tunnelFilter } from "../kernel/vxlan";
import { TextOut } from "../util/text";
import { encapsulate, decapsulate } from "../sid/tunnel";
import { stopRule, arpRule, reversePathRule } from "../sid/rules";
import { bindingKey, bindingSubkey, sealBinding, openBinding, sealKey, sealMessage, openMessage } from "../wire/sealed";
import { sealStateFrame, openStateFrame, lastFrameWasLast, lastFrameLength } from "../sid/seal";
import { ArpFrame, ETH_MIN_FRAME, gratuitousArp, arpReply, parseArp, neighbourAdvertisement, NA_FRAME } from "../sid/frames";
import { wakeupFrame } from "../engine/frame";
import { TcpState, decodeTcpState, encodeTcpStateHeader, headerLength, UdpFlowState, decodeUdpFlow, encodeUdpFlowHeader, udpHeaderLength, stateRecordLength } from "../sid/tcpstate";
import { ERR_INVALID_ARGUMENT, ERR_BUFFER_TOO_SMALL, ERR_BAD_FAMILY, FAMILY_IPV4, FAMILY_IPV6 } from "../generated/registry";

const BAD = -ERR_INVALID_ARGUMENT;

/**
 * The fields block, 120 bytes, little-endian u32 words: 0 family, 1 flags,
 * 2 send shift, 3 receive shift, 4 MSS, 5 local port, 6 remote port, 7 send
 * sequence, 8 receive sequence, 9 timestamp, 10 snd_wl1, 11 snd_wnd,
 * 12 max_window, 13 rcv_wnd, 14 rcv_wup, 15 send queue length, 16 unsent
 * length, 17 receive queue length, 18 application state length, 19 header
 * length (written by decode and encode), 20 zero; bytes 88-103 the local
 * address, 104-119 the remote (4 or 16 bytes used).
 */
const FIELDS = memory.data(120, 8);
const state = new TcpState();

export function tcpstate_fields_ptr(): usize {
  return FIELDS;
}

function word(i: i32): u32 {
  return load<u32>(FIELDS + (<usize>i << 2));
}
function setWord(i: i32, v: u32): void {
  store<u32>(FIELDS + (<usize>i << 2), v);
}

/** Writes the record's header for the fields block at out: its length, or a negated error. */
export function tcpstate_encode(out: usize, cap: i32): i32 {
  if (!inMemory(out, cap)) return BAD;
  const s = state;
  s.family = word(0);
  if (!isValidFamily(s.family)) return -ERR_INVALID_ARGUMENT;
  s.flags = word(1);
  s.sendShift = word(2);
  s.receiveShift = word(3);
  s.mss = word(4);
  s.localPort = word(5);
  s.remotePort = word(6);
  s.sendSeq = word(7);
  s.receiveSeq = word(8);
  s.timestamp = word(9);
  s.sndWl1 = word(10);
  s.sndWnd = word(11);
  s.maxWindow = word(12);
  s.rcvWnd = word(13);
  s.rcvWup = word(14);
  s.sendQueueLength = word(15);
  s.unsentLength = word(16);
  s.receiveQueueLength = word(17);
  s.appStateLength = word(18);
  s.local.load(s.family, FIELDS + 88);
  s.remote.load(s.family, FIELDS + 104);
  const n = encodeTcpStateHeader(s, out, cap);
  if (n == -1) return -ERR_BUFFER_TOO_SMALL;
  if (n > 0) setWord(19, <u32>n);
  return n;
}

/**
 * Decodes a record of `total` bytes whose first `len` bytes are at ptr (at
 * least its header, or all of it): the header length, with the fields block
 * filled in, or the negated first error of PROTOCOL.md 8.12. The send queue,
 * the receive queue and the application state follow the header in that order.
 */
export function tcpstate_decode(ptr: usize, len: i32, total: f64): i32 {
  if (!inMemory(ptr, len) || !(total >= <f64>len) || total > 9007199254740991.0) return BAD;
  const s = state;
  const err = decodeTcpState(ptr, len, <i64>total, s);
  if (err) return -err;
  setWord(0, s.family);
  setWord(1, s.flags);
  setWord(2, s.sendShift);
  setWord(3, s.receiveShift);
  setWord(4, s.mss);
  setWord(5, s.localPort);
  setWord(6, s.remotePort);
  setWord(7, s.sendSeq);
  setWord(8, s.receiveSeq);
  setWord(9, s.timestamp);
  setWord(10, s.sndWl1);
  setWord(11, s.sndWnd);
  setWord(12, s.maxWindow);
  setWord(13, s.rcvWnd);
  setWord(14, s.rcvWup);
  setWord(15, s.sendQueueLength);
  setWord(16, s.unsentLength);
  setWord(17, s.receiveQueueLength);
  setWord(18, s.appStateLength);
  const hl = headerLength(s.family);
  setWord(19, <u32>hl);
  setWord(20, 0);
  memory.fill(FIELDS + 88, 0, 32);
  s.local.store(FIELDS + 88);
  s.remote.store(FIELDS + 104);
  return hl;
}

// ---- the UDP flow record (PROTOCOL.md 8.12, "UDP flows") ---------------------

const udp = new UdpFlowState();

/**
 * Writes the UDP flow record's header for the fields block (words 0 family,
 * 5 local port, 6 remote port, 18 application state length; the addresses
 * at 88 and 104): its length, or a negated error.
 */
export function udpflow_encode(out: usize, cap: i32): i32 {
  if (!inMemory(out, cap)) return BAD;
  const s = udp;
  s.family = word(0);
  if (!isValidFamily(s.family)) return -ERR_INVALID_ARGUMENT;
  s.localPort = word(5);
  s.remotePort = word(6);
  s.appStateLength = word(18);
  s.local.load(s.family, FIELDS + 88);
  s.remote.load(s.family, FIELDS + 104);
  const n = encodeUdpFlowHeader(s, out, cap);
  if (n == -1) return -ERR_BUFFER_TOO_SMALL;
  if (n > 0) setWord(19, <u32>n);
  return n;
}

/** Decodes a UDP flow record of `total` bytes (its first `len` at ptr): the header length with the fields block filled in, or the negated first error. */
export function udpflow_decode(ptr: usize, len: i32, total: f64): i32 {
  if (!inMemory(ptr, len) || !(total >= <f64>len) || total > 9007199254740991.0) return BAD;
  const s = udp;
  const err = decodeUdpFlow(ptr, len, <i64>total, s);
  if (err) return -err;
  memory.fill(FIELDS, 0, 120);
  setWord(0, s.family);
  setWord(5, s.localPort);
  setWord(6, s.remotePort);
  setWord(18, s.appStateLength);
  const hl = udpHeaderLength(s.family);
  setWord(19, <u32>hl);
  s.local.store(FIELDS + 88);
  s.remote.store(FIELDS + 104);
  return hl;
}

/** The length of the record (TCP state or UDP flow) that starts at ptr, from its header (len bytes of it): as f64, or a negated error. */
export function sid_state_record_length(ptr: usize, len: i32): f64 {
  if (!inMemory(ptr, len)) return <f64>BAD;
  return <f64>stateRecordLength(ptr, len);
}

// ---- link-layer frames (PROTOCOL.md 8.14) -----------------------------------

const arpFrame = new ArpFrame();
/** sender MAC (6), sender IPv4 (4), target MAC (6), target IPv4 (4), network order. */
const ARP_FIELDS = memory.data(20, 4);
const FRAME_ADDR_A = new Address();
const FRAME_ADDR_B = new Address();

/** Gratuitous ARP for the IPv4 address at ip (4 bytes) from mac (6 bytes): 60 bytes at out. */
export function arp_gratuitous(mac: usize, ip: usize, out: usize): i32 {
  if (!inMemory(mac, 6) || !inMemory(ip, 4) || !inMemory(out, ETH_MIN_FRAME)) return BAD;
  return gratuitousArp(mac, bswap<u32>(load<u32>(ip)), out);
}

/** The unsolicited Neighbour Advertisement claiming the IPv6 address ip (16 bytes) for mac: 86 bytes at out. */
export function ndp_advertisement(mac: usize, ip: usize, out: usize): i32 {
  if (!inMemory(mac, 6) || !inMemory(ip, 16) || !inMemory(out, NA_FRAME)) return BAD;
  FRAME_ADDR_A.load(FAMILY_IPV6, ip);
  return neighbourAdvertisement(mac, FRAME_ADDR_A, out);
}

/** The proxy-ARP reply "ip is at mac" to the asker (askerMac, askerIp): 60 bytes at out. */
export function arp_reply(mac: usize, ip: usize, askerMac: usize, askerIp: usize, out: usize): i32 {
  if (!inMemory(mac, 6) || !inMemory(ip, 4) || !inMemory(askerMac, 6) || !inMemory(askerIp, 4) || !inMemory(out, ETH_MIN_FRAME)) return BAD;
  return arpReply(mac, bswap<u32>(load<u32>(ip)), askerMac, bswap<u32>(load<u32>(askerIp)), out);
}

/** Classifies an Ethernet frame: 0 not ARP, 1 request, 2 reply (fields at arp_fields_ptr()), or -err. */
export function arp_parse(ptr: usize, len: i32): i32 {
  if (!inMemory(ptr, len)) return BAD;
  const r = parseArp(ptr, len, arpFrame);
  if (r > 0) {
    memory.copy(ARP_FIELDS, changetype<usize>(arpFrame.senderMac), 6);
    store<u32>(ARP_FIELDS + 6, bswap<u32>(arpFrame.senderIp));
    memory.copy(ARP_FIELDS + 10, changetype<usize>(arpFrame.targetMac), 6);
    store<u32>(ARP_FIELDS + 16, bswap<u32>(arpFrame.targetIp));
  }
  return r;
}

export function arp_fields_ptr(): usize {
  return ARP_FIELDS;
}

/**
 * The Wake-up frame: Ethernet dstMac <- srcMac, IP (family 1 or 2, addresses
 * of 4 or 16 bytes at src and dst) and UDP srcPort -> dstPort around payload.
 */
export function wakeup_frame(
  dstMac: usize, srcMac: usize, family: u32, src: usize, dst: usize, srcPort: u32, dstPort: u32, ipId: u32,
  payload: usize, payloadLen: i32, out: usize, cap: i32,
): i32 {
  if (!isValidFamily(family)) return -ERR_BAD_FAMILY;
  const alen = family == FAMILY_IPV4 ? 4 : 16;
  if (!inMemory(dstMac, 6) || !inMemory(srcMac, 6) || !inMemory(src, alen) || !inMemory(dst, alen) || !inMemory(payload, payloadLen) || !inMemory(out, cap)) return BAD;
  FRAME_ADDR_A.load(family, src);
  FRAME_ADDR_B.load(family, dst);
  return wakeupFrame(dstMac, srcMac, FRAME_ADDR_A, FRAME_ADDR_B, srcPort, dstPort, ipId, payload, payloadLen, out, cap);
}

// ---- the tunnel's kernel actions (PROTOCOL.md 8.9) ---------------------------

function famLen(family: u32): i32 {
  return family == FAMILY_IPV4 ? 4 : 16;
}
function built(n: i32): i32 {
  return n < 0 ? BAD : n;
}

/** The binding's VNI, MACs and device name from its 32-byte session key: 26 bytes at out (docs/ABI.md). */
export function sid_tunnel_ids(sessionKey: usize, out: usize): i32 {
  if (!inMemory(sessionKey, 32) || !inMemory(out, 26)) return BAD;
  tunnelIds(sessionKey, out);
  return 26;
}

/** Where the sid_* kernel builders put their rtnetlink request. */
export function sid_kernel_ptr(): usize {
  return kernelMessagePtr();
}

export function sid_vxlan_link(add: i32, name: usize, nameLen: i32, mac: usize, mtu: u32, vni: u32, family: u32, local: usize, port: u32): i32 {
  if (!isValidFamily(family) || !inMemory(name, nameLen) || !inMemory(mac, 6) || !inMemory(local, famLen(family))) return BAD;
  return built(vxlanLink(add != 0, name, nameLen, mac, mtu, vni, family, local, port));
}

export function sid_fdb(add: i32, ifindex: u32, mac: usize, family: u32, dst: usize): i32 {
  if (!isValidFamily(family) || !inMemory(mac, 6) || !inMemory(dst, famLen(family))) return BAD;
  return built(fdbEntry(add != 0, ifindex, mac, family, dst));
}

export function sid_neigh(add: i32, ifindex: u32, family: u32, ip: usize, mac: usize): i32 {
  if (!isValidFamily(family) || !inMemory(mac, 6) || !inMemory(ip, famLen(family))) return BAD;
  return built(neighEntry(add != 0, ifindex, family, ip, mac));
}

/** gateway: a pointer to an address of the family, or 0 for a device route. */
export function sid_route(add: i32, family: u32, dst: usize, prefix: u32, ifindex: u32, gateway: usize, table: u32): i32 {
  if (!isValidFamily(family) || !inMemory(dst, famLen(family)) || (gateway != 0 && !inMemory(gateway, famLen(family)))) return BAD;
  return built(tunnelRoute(add != 0, family, dst, prefix, ifindex, gateway, table));
}

export function sid_rule(add: i32, family: u32, src: usize, prefix: u32, table: u32, priority: u32): i32 {
  if (!isValidFamily(family) || !inMemory(src, famLen(family))) return BAD;
  return built(sourceRule(add != 0, family, src, prefix, table, priority));
}

// ---- userspace encapsulation (PROTOCOL.md 8.9) -------------------------------

const EXPECTED = new Address();

/** VXLAN + inner Ethernet around an inner IP packet: the UDP payload's length at out, or -err. */
export function sid_tunnel_encap(vni: u32, dstMac: usize, srcMac: usize, inner: usize, innerLen: i32, out: usize, cap: i32): i32 {
  if (!inMemory(dstMac, 6) || !inMemory(srcMac, 6) || !inMemory(inner, innerLen) || !inMemory(out, cap)) return BAD;
  return encapsulate(vni, dstMac, srcMac, inner, innerLen, out, cap);
}

/**
 * Checks a received UDP payload for a binding: the inner packet's offset, or
 * -err. check 0: no inner address check; 1: the inner destination must be the
 * address (family, 4 or 16 bytes at addr); 2: the inner source.
 */
export function sid_tunnel_decap(ptr: usize, len: i32, vni: u32, ownMac: usize, check: i32, family: u32, addr: usize): i32 {
  if (!inMemory(ptr, len) || !inMemory(ownMac, 6) || check < 0 || check > 2) return BAD;
  if (check != 0) {
    if (!isValidFamily(family) || !inMemory(addr, famLen(family))) return BAD;
    EXPECTED.load(family, addr);
  }
  return decapsulate(ptr, len, vni, ownMac, check, EXPECTED);
}

const filterText = new TextOut();

/** The nft batch that admits the binding's tunnel packets from `peer` only (or removes it): its length at out. */
export function sid_tunnel_filter(add: i32, family: u32, peer: usize, port: u32, vni: u32, out: usize, cap: i32): i32 {
  if (!isValidFamily(family) || !inMemory(peer, famLen(family)) || !inMemory(out, cap)) return BAD;
  filterText.reset(out, cap);
  const n = tunnelFilter(filterText, add != 0, family, peer, port, vni);
  return n < 0 ? (filterText.overflow ? -ERR_BUFFER_TOO_SMALL : BAD) : n;
}

const ruleText = new TextOut();
const RULE_ADDRESS = new Address();

/**
 * The stop rule of PROTOCOL.md 8.12 for address addr (TCP and UDP to or from
 * the control port `port` excepted), the batch the state machines apply, or
 * (add 0) its removal: the nft text's length at out.
 */
export function sid_stop_rule(add: i32, family: u32, addr: usize, port: u32, out: usize, cap: i32): i32 {
  if (!isValidFamily(family) || !inMemory(addr, famLen(family)) || !inMemory(out, cap) || port < 1 || port > 65535) return BAD;
  RULE_ADDRESS.load(family, addr);
  ruleText.reset(out, cap);
  stopRule(ruleText, add != 0, RULE_ADDRESS, port);
  return ruleText.overflow ? -ERR_BUFFER_TOO_SMALL : ruleText.pos;
}

/**
 * The agent's reverse-path filter of PROTOCOL.md 8.9 step 5 (reverse mode):
 * from tunnel device `ifindex` (the binding's VNI `vni`) only the Transferred
 * Address addr may come; or (add 0) its removal: the nft text's length at out.
 */
export function sid_reverse_path_rule(add: i32, vni: u32, ifindex: u32, family: u32, addr: usize, out: usize, cap: i32): i32 {
  if (!isValidFamily(family) || !inMemory(addr, famLen(family)) || !inMemory(out, cap) || vni > 0xffffff) return BAD;
  RULE_ADDRESS.load(family, addr);
  ruleText.reset(out, cap);
  reversePathRule(ruleText, add != 0, vni, ifindex, RULE_ADDRESS);
  return ruleText.overflow ? -ERR_BUFFER_TOO_SMALL : ruleText.pos;
}

/**
 * The ARP rule of PROTOCOL.md 8.2 and 8.10 for the IPv4 address addr (not
 * answered on any interface but exceptIfindex, if not 0; with announce 0 not
 * announced either), or (add 0) its removal: the nft text's length at out.
 * For an IPv6 addr, the Neighbour Discovery rule of 8.18 in its place.
 */
export function sid_arp_rule(add: i32, family: u32, addr: usize, exceptIfindex: u32, announce: i32, out: usize, cap: i32): i32 {
  if (!isValidFamily(family) || !inMemory(addr, famLen(family)) || !inMemory(out, cap)) return BAD;
  RULE_ADDRESS.load(family, addr);
  ruleText.reset(out, cap);
  if (!arpRule(ruleText, add != 0, RULE_ADDRESS, exceptIfindex, announce != 0)) return 0;
  return ruleText.overflow ? -ERR_BUFFER_TOO_SMALL : ruleText.pos;
}

// ---- sealing under the session key (PROTOCOL.md 8.11) ------------------------

/** The derived key `which` (0 up, 1 down, 2 state) of a 32-byte session key: 32 bytes at out. */
export function sid_seal_key(sessionKey: usize, which: i32, out: usize): i32 {
  if (!inMemory(sessionKey, 32) || !inMemory(out, 32)) return BAD;
  return sealKey(sessionKey, which, out) ? 32 : BAD;
}

/** The Sealed extension's body for n bytes of inner extensions: n + 16 at out, or -err. */
export function sid_seal_message(sessionKey: usize, which: i32, seq32: u32, header: usize, pt: usize, n: i32, out: usize): i32 {
  if (!inMemory(sessionKey, 32) || !inMemory(header, 20) || !inMemory(pt, n) || !inMemory(out, n + 16)) return BAD;
  return sealMessage(sessionKey, which, seq32, header, pt, n, out);
}

/** Opens a Sealed extension's body: the inner extensions' length at out, or -err. */
export function sid_open_message(sessionKey: usize, which: i32, seq32: u32, header: usize, ct: usize, n: i32, out: usize): i32 {
  if (!inMemory(sessionKey, 32) || !inMemory(header, 20) || !inMemory(ct, n) || (n >= 16 && !inMemory(out, n - 16))) return BAD;
  return openMessage(sessionKey, which, seq32, header, ct, n, out);
}

/** The binding key K_b of a 32-byte session key (8.11): 32 bytes at out. */
export function sid_binding_key(sessionKey: usize, out: usize): i32 {
  if (!inMemory(sessionKey, 32) || !inMemory(out, 32)) return BAD;
  bindingKey(sessionKey, out);
  return 32;
}

/** Subkey `which` (0 up, 1 down, 3 the SA's) of a binding key: 32 bytes at out. */
export function sid_binding_subkey(kb: usize, which: i32, out: usize): i32 {
  if (!inMemory(kb, 32) || !inMemory(out, 32)) return BAD;
  return bindingSubkey(kb, which, out) ? 32 : BAD;
}

/** A version-2 Sealed body (8.11) of n bytes under subkey `which` of kb, with aadLen bytes of AAD: n + 16 at out, or -err. */
export function sid_seal_binding(kb: usize, which: i32, seq32: u32, header: usize, aad: usize, aadLen: i32, pt: usize, n: i32, out: usize): i32 {
  if (!inMemory(kb, 32) || !inMemory(header, 20) || !inMemory(aad, aadLen) || !inMemory(pt, n) || !inMemory(out, n + 16)) return BAD;
  return sealBinding(kb, which, seq32, header, aad, aadLen, pt, n, out);
}

/** Opens a version-2 Sealed body: the inner extensions' length at out, or -err. */
export function sid_open_binding(kb: usize, which: i32, seq32: u32, header: usize, aad: usize, aadLen: i32, ct: usize, n: i32, out: usize): i32 {
  if (!inMemory(kb, 32) || !inMemory(header, 20) || !inMemory(aad, aadLen) || !inMemory(ct, n) || (n >= 16 && !inMemory(out, n - 16))) return BAD;
  return openBinding(kb, which, seq32, header, aad, aadLen, ct, n, out);
}

/** State frame `index` (an f64 integer) of n plaintext bytes: the frame's length at out, or -err. */
export function sid_seal_state_frame(sessionKey: usize, sessionSpi: u32, index: f64, last: i32, pt: usize, n: i32, out: usize): i32 {
  if (!inMemory(sessionKey, 32) || !inMemory(pt, n) || !inMemory(out, n + 20) || !(index >= 0) || index > 9007199254740991.0 || index != Math.floor(index)) return BAD;
  return sealStateFrame(sessionKey, sessionSpi, <u64>index, last != 0, pt, n, out);
}

/**
 * Opens state frame `index` at the start of [p, p+n): the plaintext length at
 * out, or -err; sid_state_frame_info() then tells its size and whether it was the last.
 */
export function sid_open_state_frame(sessionKey: usize, sessionSpi: u32, index: f64, p: usize, n: i32, out: usize): i32 {
  if (!inMemory(sessionKey, 32) || !inMemory(p, n) || !inMemory(out, n) || !(index >= 0) || index > 9007199254740991.0 || index != Math.floor(index)) return BAD;
  return openStateFrame(sessionKey, sessionSpi, <u64>index, p, n, out);
}

/** After sid_open_state_frame: the frame's size in bytes, plus 0x1000000 if it carried Last. */
export function sid_state_frame_info(): i32 {
  return lastFrameLength | (lastFrameWasLast ? 0x1000000 : 0);
}
