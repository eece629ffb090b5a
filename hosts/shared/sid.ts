// The runtime-neutral binding of SID's pure codecs (docs/ABI.md "SID"): the
// TCP state record (docs/PROTOCOL.md 8.12), the ARP and Wake-up frames and
// the tunnel's kernel actions. Every check happens in the core; this file
// only moves fields in and bytes out.

import { Core, HandoverError } from "./core.ts";
import { ErrorCode } from "./registry.ts";

/** One TCP connection as TCP_REPAIR sees it (docs/PROTOCOL.md 8.12). */
export interface TcpStateFields {
  /** Local and remote address as text; both of one family. */
  local: string;
  remote: string;
  localPort: number;
  remotePort: number;
  sack: boolean;
  timestamps: boolean;
  windowScaling: boolean;
  /** The peer's window shift and our own (0-14; 0 without windowScaling). */
  sendShift: number;
  receiveShift: number;
  mss: number;
  /** TCP_QUEUE_SEQ of the send queue (write_seq) and of the receive queue (rcv_nxt). */
  sendSeq: number;
  receiveSeq: number;
  /** TCP_TIMESTAMP at the dump (0 without timestamps). */
  timestamp: number;
  /** TCP_REPAIR_WINDOW. */
  sndWl1: number;
  sndWnd: number;
  maxWindow: number;
  rcvWnd: number;
  rcvWup: number;
  /** How many bytes at the end of the send queue were never sent. */
  unsentLength: number;
}

/** A whole record's contents. */
export interface TcpStateRecord extends TcpStateFields {
  /** Sent-but-unacknowledged bytes, then unsent bytes. */
  sendQueue: Uint8Array;
  /** Received bytes the application had not read. */
  receiveQueue: Uint8Array;
  /** The application's own state (the library's hook), opaque here. */
  appState: Uint8Array;
}

/** One UDP flow and the application state that goes with it (docs/PROTOCOL.md 8.12, "UDP flows"). */
export interface UdpFlowRecord {
  local: string;
  remote: string;
  localPort: number;
  remotePort: number;
  appState: Uint8Array;
}

/** A state stream's records, in order. */
export type StateRecord = { kind: "tcp"; record: TcpStateRecord } | { kind: "udp"; record: UdpFlowRecord };

function mac6(m: Uint8Array, what: string): Uint8Array {
  if (m.length !== 6) throw new TypeError(`${what} must be a 6-byte Ethernet address, not ${m.length} bytes`);
  return m;
}

const SEAL = { up: 0, down: 1, state: 2 } as const;

const FLAG_SACK = 1;
const FLAG_TIMESTAMPS = 2;
const FLAG_WINDOW_SCALE = 4;
const FIELDS_SIZE = 120;
const MAX_HEADER = 92;

/** SID's codecs on one core instance. */
export class SidCodec {
  readonly core: Core;
  constructor(core: Core) {
    this.core = core;
  }

  /** The record's bytes: its header (built and checked by the core), then the queues and the application state. */
  encodeTcpState(r: TcpStateRecord): Uint8Array {
    const c = this.core;
    const local = c.parseAddress(r.local);
    const remote = c.parseAddress(r.remote);
    if (local.family !== remote.family) throw new HandoverError(ErrorCode.INVALID_ARGUMENT, `local ${r.local} and remote ${r.remote} are of different families`);
    const fields = new Uint8Array(FIELDS_SIZE);
    const v = new DataView(fields.buffer);
    const words = [
      local.family, (r.sack ? FLAG_SACK : 0) | (r.timestamps ? FLAG_TIMESTAMPS : 0) | (r.windowScaling ? FLAG_WINDOW_SCALE : 0),
      r.sendShift, r.receiveShift, r.mss, r.localPort, r.remotePort, r.sendSeq, r.receiveSeq, r.timestamp,
      r.sndWl1, r.sndWnd, r.maxWindow, r.rcvWnd, r.rcvWup,
      r.sendQueue.length, r.unsentLength, r.receiveQueue.length, r.appState.length,
    ];
    words.forEach((w, i) => v.setUint32(4 * i, w >>> 0, true));
    fields.set(local.bytes.subarray(0, 16), 88);
    fields.set(remote.bytes.subarray(0, 16), 104);
    c.mem().set(fields, c.x.tcpstate_fields_ptr());
    const n = c.check(c.x.tcpstate_encode(c.outputPtr, c.ioCapacity), "cannot encode the TCP state record");
    const header = c.get(c.outputPtr, n);
    const out = new Uint8Array(n + r.sendQueue.length + r.receiveQueue.length + r.appState.length);
    out.set(header, 0);
    out.set(r.sendQueue, n);
    out.set(r.receiveQueue, n + r.sendQueue.length);
    out.set(r.appState, n + r.sendQueue.length + r.receiveQueue.length);
    return out;
  }

  /** A UDP flow record's bytes (PROTOCOL.md 8.12, "UDP flows"): the header (built and checked by the core), then the application state. */
  encodeUdpFlow(r: UdpFlowRecord): Uint8Array {
    const c = this.core;
    const local = c.parseAddress(r.local);
    const remote = c.parseAddress(r.remote);
    if (local.family !== remote.family) throw new HandoverError(ErrorCode.INVALID_ARGUMENT, `local ${r.local} and remote ${r.remote} are of different families`);
    const fields = new Uint8Array(FIELDS_SIZE);
    const v = new DataView(fields.buffer);
    v.setUint32(0, local.family, true);
    v.setUint32(20, r.localPort >>> 0, true);
    v.setUint32(24, r.remotePort >>> 0, true);
    v.setUint32(72, r.appState.length >>> 0, true);
    fields.set(local.bytes.subarray(0, 16), 88);
    fields.set(remote.bytes.subarray(0, 16), 104);
    c.mem().set(fields, c.x.tcpstate_fields_ptr());
    const n = c.check(c.x.udpflow_encode(c.outputPtr, c.ioCapacity), "cannot encode the UDP flow record");
    const out = new Uint8Array(n + r.appState.length);
    out.set(c.get(c.outputPtr, n), 0);
    out.set(r.appState, n);
    return out;
  }

  /** Decodes and checks a UDP flow record; the application state is a view into `bytes`. Throws HandoverError. */
  decodeUdpFlow(bytes: Uint8Array): UdpFlowRecord {
    const c = this.core;
    const head = bytes.subarray(0, Math.min(bytes.length, MAX_HEADER));
    const n = c.check(c.x.udpflow_decode(c.put(head), head.length, bytes.length), "invalid UDP flow record");
    const f = c.get(c.x.tcpstate_fields_ptr(), FIELDS_SIZE);
    const v = new DataView(f.buffer);
    const family = v.getUint32(0, true);
    return {
      local: c.formatAddress(family, f.subarray(88, 104)),
      remote: c.formatAddress(family, f.subarray(104, 120)),
      localPort: v.getUint32(20, true),
      remotePort: v.getUint32(24, true),
      appState: bytes.subarray(n, n + v.getUint32(72, true)),
    };
  }

  /** A state stream's plaintext (8.12: records back to back, each sized by its header) as its records, each decoded and checked. */
  decodeStateRecords(bytes: Uint8Array): StateRecord[] {
    const c = this.core;
    const out: StateRecord[] = [];
    for (let at = 0; at < bytes.length; ) {
      const head = bytes.subarray(at, at + Math.min(bytes.length - at, MAX_HEADER));
      const len = c.check(c.x.sid_state_record_length(c.put(head), head.length), "invalid state record");
      if (at + len > bytes.length) throw new HandoverError(ErrorCode.RECORD_TRUNCATED, `state record ${out.length}: ${len} bytes, ${bytes.length - at} left`);
      const one = bytes.subarray(at, at + len);
      out.push(one[0] === 2 ? { kind: "udp", record: this.decodeUdpFlow(one) } : { kind: "tcp", record: this.decodeTcpState(one) });
      at += len;
    }
    return out;
  }

  /** Decodes and checks a record (PROTOCOL.md 8.12); the queues are views into `bytes`. Throws HandoverError. */
  decodeTcpState(bytes: Uint8Array): TcpStateRecord {
    const c = this.core;
    const head = bytes.subarray(0, Math.min(bytes.length, MAX_HEADER));
    const n = c.check(c.x.tcpstate_decode(c.put(head), head.length, bytes.length), "invalid TCP state record");
    const f = c.get(c.x.tcpstate_fields_ptr(), FIELDS_SIZE);
    const v = new DataView(f.buffer);
    const w = (i: number) => v.getUint32(4 * i, true);
    const family = w(0);
    const flags = w(1);
    const sendLen = w(15);
    const recvLen = w(17);
    const appLen = w(18);
    return {
      local: c.formatAddress(family, f.subarray(88, 104)),
      remote: c.formatAddress(family, f.subarray(104, 120)),
      localPort: w(5),
      remotePort: w(6),
      sack: (flags & FLAG_SACK) !== 0,
      timestamps: (flags & FLAG_TIMESTAMPS) !== 0,
      windowScaling: (flags & FLAG_WINDOW_SCALE) !== 0,
      sendShift: w(2),
      receiveShift: w(3),
      mss: w(4),
      sendSeq: w(7),
      receiveSeq: w(8),
      timestamp: w(9),
      sndWl1: w(10),
      sndWnd: w(11),
      maxWindow: w(12),
      rcvWnd: w(13),
      rcvWup: w(14),
      unsentLength: w(16),
      sendQueue: bytes.subarray(n, n + sendLen),
      receiveQueue: bytes.subarray(n + sendLen, n + sendLen + recvLen),
      appState: bytes.subarray(n + sendLen + recvLen, n + sendLen + recvLen + appLen),
    };
  }

  // ---- link-layer frames (docs/PROTOCOL.md 8.14) ---------------------------

  private ipv4(address: string): Uint8Array {
    const a = this.core.parseAddress(address);
    if (a.family !== 1) throw new HandoverError(ErrorCode.BAD_FAMILY, `ARP carries IPv4 addresses only, not ${address}`);
    return a.bytes.subarray(0, 4);
  }

  /** The gratuitous ARP (ARP Announcement) claiming `ip` for `mac`: a 60-byte frame. */
  gratuitousArp(mac: Uint8Array, ip: string): Uint8Array {
    const c = this.core;
    const [m, a] = c.stage(mac6(mac, "mac"), this.ipv4(ip));
    return c.get(c.outputPtr, c.check(c.x.arp_gratuitous(m, a, c.outputPtr)));
  }

  /** The unsolicited Neighbour Advertisement claiming the IPv6 address `ip` for `mac` (RFC 4861 7.2.6): an 86-byte frame. */
  neighbourAdvertisement(mac: Uint8Array, ip: string): Uint8Array {
    const c = this.core;
    const a = c.parseAddress(ip);
    if (a.family !== 2) throw new HandoverError(ErrorCode.BAD_ADDRESS, `a Neighbour Advertisement announces an IPv6 address, not ${ip}`);
    const [m, p] = c.stage(mac6(mac, "mac"), a.bytes);
    return c.get(c.outputPtr, c.check(c.x.ndp_advertisement(m, p, c.outputPtr)));
  }

  /** The proxy-ARP reply telling the asker that `ip` is at `mac`: a 60-byte frame. */
  arpReply(mac: Uint8Array, ip: string, askerMac: Uint8Array, askerIp: string): Uint8Array {
    const c = this.core;
    const [m, a, am, ai] = c.stage(mac6(mac, "mac"), this.ipv4(ip), mac6(askerMac, "askerMac"), this.ipv4(askerIp));
    return c.get(c.outputPtr, c.check(c.x.arp_reply(m, a, am, ai, c.outputPtr)));
  }

  /** null for a frame that is not ARP; the request or reply's fields otherwise. Throws HandoverError on a malformed ARP frame. */
  parseArp(frame: Uint8Array): { op: "request" | "reply"; senderMac: Uint8Array; senderIp: string; targetMac: Uint8Array; targetIp: string } | null {
    const c = this.core;
    const r = c.check(c.x.arp_parse(c.put(frame), frame.length), "malformed ARP frame");
    if (r === 0) return null;
    const f = c.get(c.x.arp_fields_ptr(), 20);
    const ip = (b: Uint8Array) => Array.from(b).join(".");
    return { op: r === 1 ? "request" : "reply", senderMac: f.slice(0, 6), senderIp: ip(f.subarray(6, 10)), targetMac: f.slice(10, 16), targetIp: ip(f.subarray(16, 20)) };
  }

  /** The Wake-up frame: Ethernet to the node's MAC, IP and UDP (checksums computed) around the Wake-up message. */
  wakeupFrame(w: { dstMac: Uint8Array; srcMac: Uint8Array; src: string; dst: string; srcPort: number; dstPort: number; ipId: number; payload: Uint8Array }): Uint8Array {
    const c = this.core;
    const src = c.parseAddress(w.src);
    const dst = c.parseAddress(w.dst);
    if (src.family !== dst.family) throw new HandoverError(ErrorCode.BAD_ADDRESS, `${w.src} and ${w.dst} are of different families`);
    const [dm, sm, sa, da, pl] = c.stage(mac6(w.dstMac, "dstMac"), mac6(w.srcMac, "srcMac"), src.bytes, dst.bytes, w.payload);
    const out = c.outputPtr;
    const n = c.check(c.x.wakeup_frame(dm, sm, src.family, sa, da, w.srcPort, w.dstPort, w.ipId, pl, w.payload.length, out, c.ioCapacity), "cannot build the Wake-up frame");
    return c.get(out, n);
  }

  // ---- the tunnel's kernel actions (docs/PROTOCOL.md 8.9) ------------------

  /** The binding's tunnel identifiers, derived from its 32-byte session key. */
  tunnelIds(sessionKey: Uint8Array): { vni: number; agentMac: Uint8Array; targetMac: Uint8Array; name: string } {
    const c = this.core;
    if (sessionKey.length !== 32) throw new TypeError(`a session key is 32 bytes, not ${sessionKey.length}`);
    c.check(c.x.sid_tunnel_ids(c.put(sessionKey), c.outputPtr));
    const b = c.get(c.outputPtr, 26);
    return {
      vni: new DataView(b.buffer).getUint32(0, true),
      agentMac: b.slice(4, 10),
      targetMac: b.slice(10, 16),
      name: new TextDecoder().decode(b.subarray(16, 25)),
    };
  }

  private request(n: number, what: string): Uint8Array {
    const c = this.core;
    return c.get(c.x.sid_kernel_ptr(), c.check(n, what));
  }

  /** RTM_NEWLINK (add) or RTM_DELLINK of the binding's vxlan device. */
  vxlanLink(l: { add: boolean; name: string; mac: Uint8Array; mtu: number; vni: number; local: string; port: number }): Uint8Array {
    const c = this.core;
    const local = c.parseAddress(l.local);
    const name = new TextEncoder().encode(l.name);
    const [n, m, a] = c.stage(name, mac6(l.mac, "mac"), local.bytes);
    return this.request(c.x.sid_vxlan_link(l.add ? 1 : 0, n, name.length, m, l.mtu, l.vni, local.family, a, l.port), `vxlan link ${l.name}: name 1-15 bytes, VNI below 2^24, port 1-65535`);
  }

  /** The permanent forwarding entry peer MAC -> peer address on the tunnel device. */
  fdbEntry(add: boolean, ifindex: number, mac: Uint8Array, dst: string): Uint8Array {
    const c = this.core;
    const d = c.parseAddress(dst);
    const [m, a] = c.stage(mac6(mac, "mac"), d.bytes);
    return this.request(c.x.sid_fdb(add ? 1 : 0, ifindex, m, d.family, a), "fdb entry");
  }

  /** The permanent neighbour entry ip -> mac on the tunnel device. */
  neighEntry(add: boolean, ifindex: number, ip: string, mac: Uint8Array): Uint8Array {
    const c = this.core;
    const d = c.parseAddress(ip);
    const [a, m] = c.stage(d.bytes, mac6(mac, "mac"));
    return this.request(c.x.sid_neigh(add ? 1 : 0, ifindex, d.family, a, m), "neighbour entry");
  }

  /** A route into the tunnel: dst/prefix dev ifindex [via gateway onlink] table. */
  tunnelRoute(r: { add: boolean; dst: string; prefix: number; ifindex: number; gateway?: string; table: number }): Uint8Array {
    const c = this.core;
    const d = c.parseAddress(r.dst);
    const g = r.gateway === undefined ? undefined : c.parseAddress(r.gateway);
    if (g && g.family !== d.family) throw new HandoverError(ErrorCode.BAD_ADDRESS, `gateway ${r.gateway} is not of the family of ${r.dst}`);
    const [a, ga] = c.stage(d.bytes, g ? g.bytes : new Uint8Array(16));
    return this.request(c.x.sid_route(r.add ? 1 : 0, d.family, a, r.prefix, r.ifindex, g ? ga : 0, r.table), `route ${r.dst}/${r.prefix}: prefix within the family, table not 0`);
  }

  /** The policy rule `from src/prefix lookup table priority p`. */
  sourceRule(r: { add: boolean; src: string; prefix: number; table: number; priority: number }): Uint8Array {
    const c = this.core;
    const s = c.parseAddress(r.src);
    return this.request(c.x.sid_rule(r.add ? 1 : 0, s.family, c.put(s.bytes), r.prefix, r.table, r.priority), `rule from ${r.src}/${r.prefix}: prefix within the family, table not 0`);
  }

  // ---- userspace encapsulation (docs/PROTOCOL.md 8.9) ----------------------

  /** The UDP payload that carries `inner` (an IP packet) through the tunnel: VXLAN, inner Ethernet, the packet. */
  encapsulate(vni: number, dstMac: Uint8Array, srcMac: Uint8Array, inner: Uint8Array): Uint8Array {
    const c = this.core;
    const [d, s, i] = c.stage(mac6(dstMac, "dstMac"), mac6(srcMac, "srcMac"), inner);
    return c.get(c.outputPtr, c.check(c.x.sid_tunnel_encap(vni, d, s, i, inner.length, c.outputPtr, c.ioCapacity), "cannot encapsulate"));
  }

  /**
   * The inner packet of a received tunnel payload, after the checks of 8.9
   * (VNI, this end's MAC, and the inner destination or source if given).
   * Throws HandoverError (TRUNCATED, BAD_VALUE, RESERVED_NONZERO, TUNNEL_MISMATCH).
   */
  decapsulate(payload: Uint8Array, b: { vni: number; ownMac: Uint8Array; innerDestination?: string; innerSource?: string }): Uint8Array {
    const c = this.core;
    const want = b.innerDestination ?? b.innerSource;
    const a = want === undefined ? { family: 1, bytes: new Uint8Array(16) } : c.parseAddress(want);
    const [p, m, ap] = c.stage(payload, mac6(b.ownMac, "ownMac"), a.bytes);
    const check = b.innerDestination !== undefined ? 1 : b.innerSource !== undefined ? 2 : 0;
    const at = c.check(c.x.sid_tunnel_decap(p, payload.length, b.vni, m, check, a.family, ap), "tunnel packet refused");
    return payload.subarray(at);
  }

  /** The nft batch that drops the binding's tunnel packets from anyone but `peer` (add), or removes it. */
  tunnelFilter(add: boolean, peer: string, port: number, vni: number): string {
    const c = this.core;
    const a = c.parseAddress(peer);
    const n = c.check(c.x.sid_tunnel_filter(add ? 1 : 0, a.family, c.put(a.bytes), port, vni, c.outputPtr, c.ioCapacity), "tunnel filter: VNI below 2^24, port 1-65535");
    return new TextDecoder().decode(c.get(c.outputPtr, n));
  }

  /**
   * The agent's reverse-path filter of PROTOCOL.md 8.9 step 5 (reverse mode): from the tunnel device `ifindex`
   * of the binding's VNI only `transferred` may come (add), or its removal: the nft batch.
   */
  reversePathRule(add: boolean, vni: number, ifindex: number, transferred: string): string {
    const c = this.core;
    const a = c.parseAddress(transferred);
    const n = c.check(c.x.sid_reverse_path_rule(add ? 1 : 0, vni, ifindex, a.family, c.put(a.bytes), c.outputPtr, c.ioCapacity), "reverse-path rule: VNI below 2^24");
    return new TextDecoder().decode(c.get(c.outputPtr, n));
  }

  /**
   * The stop rule of PROTOCOL.md 8.12 for an address (TCP and UDP to or from
   * the control port excepted), as the state machines apply it, or its
   * removal: the nft batch (libnftables text).
   */
  stopRule(add: boolean, address: string, controlPort: number): string {
    const c = this.core;
    const a = c.parseAddress(address);
    const n = c.check(c.x.sid_stop_rule(add ? 1 : 0, a.family, c.put(a.bytes), controlPort, c.outputPtr, c.ioCapacity), "stop rule: control port 1-65535");
    return new TextDecoder().decode(c.get(c.outputPtr, n));
  }

  /**
   * The ARP rule of PROTOCOL.md 8.2 and 8.10 for an IPv4 address: not
   * answered (on any interface but exceptIfindex, if given), and with
   * announce false not announced either (the transferring node); its removal
   * with add false. "" for IPv6 (no ARP).
   */
  arpRule(add: boolean, address: string, o: { exceptIfindex?: number; announce?: boolean } = {}): string {
    const c = this.core;
    const a = c.parseAddress(address);
    const n = c.check(c.x.sid_arp_rule(add ? 1 : 0, a.family, c.put(a.bytes), o.exceptIfindex ?? 0, o.announce ? 1 : 0, c.outputPtr, c.ioCapacity), "ARP rule");
    return new TextDecoder().decode(c.get(c.outputPtr, n));
  }

  // ---- sealing under the session key (docs/PROTOCOL.md 8.11) ---------------

  private key32(k: Uint8Array): Uint8Array {
    if (k.length !== 32) throw new TypeError(`a session key is 32 bytes, not ${k.length}`);
    return k;
  }

  /** The derived key: "up" (target to agent), "down" (agent to target) or "state". */
  sealKey(sessionKey: Uint8Array, which: "up" | "down" | "state"): Uint8Array {
    const c = this.core;
    c.check(c.x.sid_seal_key(c.put(this.key32(sessionKey)), SEAL[which], c.outputPtr));
    return c.get(c.outputPtr, 32);
  }

  /** The Sealed extension's body (ciphertext || tag) of the inner extensions, for the message with this header. */
  sealMessage(sessionKey: Uint8Array, which: "up" | "down", seq32: number, header: Uint8Array, inner: Uint8Array): Uint8Array {
    const c = this.core;
    if (header.length !== 20) throw new TypeError("a header is 20 bytes");
    const [k, h, p] = c.stage(this.key32(sessionKey), header, inner);
    return c.get(c.outputPtr, c.check(c.x.sid_seal_message(k, SEAL[which], seq32 >>> 0, h, p, inner.length, c.outputPtr), "cannot seal"));
  }

  /** Opens a Sealed extension's body; throws HandoverError (BAD_LENGTH, BAD_AUTHENTICATOR). */
  openMessage(sessionKey: Uint8Array, which: "up" | "down", seq32: number, header: Uint8Array, body: Uint8Array): Uint8Array {
    const c = this.core;
    if (header.length !== 20) throw new TypeError("a header is 20 bytes");
    const [k, h, p] = c.stage(this.key32(sessionKey), header, body);
    return c.get(c.outputPtr, c.check(c.x.sid_open_message(k, SEAL[which], seq32 >>> 0, h, p, body.length, c.outputPtr), "Sealed extension refused"));
  }

  /** The binding key K_b of a session key (PROTOCOL.md 8.11). */
  bindingKey(sessionKey: Uint8Array): Uint8Array {
    const c = this.core;
    c.check(c.x.sid_binding_key(c.put(this.key32(sessionKey)), c.outputPtr));
    return c.get(c.outputPtr, 32);
  }

  /** A subkey of a binding key: "up", "down" or "sa" (HChaCha20, 8.11). */
  bindingSubkey(kb: Uint8Array, which: "up" | "down" | "sa"): Uint8Array {
    const c = this.core;
    c.check(c.x.sid_binding_subkey(c.put(this.key32(kb)), which === "sa" ? 3 : SEAL[which], c.outputPtr));
    return c.get(c.outputPtr, 32);
  }

  /** A version-2 Sealed body (ciphertext || tag) under a binding key's subkey, with its AAD (8.11). */
  sealBinding(kb: Uint8Array, which: "up" | "down", seq32: number, header: Uint8Array, aad: Uint8Array, inner: Uint8Array): Uint8Array {
    const c = this.core;
    if (header.length !== 20) throw new TypeError("a header is 20 bytes");
    const [k, h, a, p] = c.stage(this.key32(kb), header, aad, inner);
    return c.get(c.outputPtr, c.check(c.x.sid_seal_binding(k, SEAL[which], seq32 >>> 0, h, a, aad.length, p, inner.length, c.outputPtr), "cannot seal"));
  }

  /** Opens a version-2 Sealed body; throws HandoverError (BAD_LENGTH, BAD_AUTHENTICATOR). */
  openBinding(kb: Uint8Array, which: "up" | "down", seq32: number, header: Uint8Array, aad: Uint8Array, body: Uint8Array): Uint8Array {
    const c = this.core;
    if (header.length !== 20) throw new TypeError("a header is 20 bytes");
    const [k, h, a, p] = c.stage(this.key32(kb), header, aad, body);
    return c.get(c.outputPtr, c.check(c.x.sid_open_binding(k, SEAL[which], seq32 >>> 0, h, a, aad.length, p, body.length, c.outputPtr), "Sealed extension refused"));
  }

  /** The record as state frames (at most 16384 bytes each, the last one flagged). */
  sealState(sessionKey: Uint8Array, sessionSpi: number, record: Uint8Array, base = 0): Uint8Array[] {
    const c = this.core;
    const frames: Uint8Array[] = [];
    for (let i = 0, at = 0; at < record.length || i === 0; i++) {
      const part = record.subarray(at, at + 16384);
      at += part.length;
      const last = at >= record.length;
      const [k, p] = c.stage(this.key32(sessionKey), part);
      frames.push(c.get(c.outputPtr, c.check(c.x.sid_seal_state_frame(k, sessionSpi >>> 0, base + i, last ? 1 : 0, p, part.length, c.outputPtr), "cannot seal a state frame")));
      if (last) break;
    }
    return frames;
  }

  /**
   * Opens a stream of state frames (all the bytes received): the record, once
   * the Last frame has opened and nothing follows it. Throws HandoverError on
   * the first bad frame, on bytes after Last, or when Last never came (TRUNCATED).
   */
  openState(sessionKey: Uint8Array, sessionSpi: number, stream: Uint8Array, base = 0): Uint8Array {
    const c = this.core;
    const parts: Uint8Array[] = [];
    let at = 0;
    for (let i = 0; ; i++) {
      const chunk = stream.subarray(at, at + 16404);
      const [k, p] = c.stage(this.key32(sessionKey), chunk);
      const n = c.check(c.x.sid_open_state_frame(k, sessionSpi >>> 0, base + i, p, chunk.length, c.outputPtr), `state frame ${i} refused`);
      parts.push(c.get(c.outputPtr, n));
      const info = c.x.sid_state_frame_info();
      at += info & 0xffffff;
      if (info & 0x1000000) {
        if (at !== stream.length) throw new HandoverError(ErrorCode.RECORD_TRAILING_BYTES, `${stream.length - at} bytes after the last state frame`);
        break;
      }
    }
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
