// The DHCPv4 codec of the session-address generator (RFC 2131, RFC 2132;
// docs/PROTOCOL.md 8.19): the client's messages (DISCOVER, REQUEST, DECLINE,
// RELEASE) encoded, any DHCP message decoded, and the Ethernet/IPv4/UDP frame
// that carries a client's broadcast from 0.0.0.0. Pure functions over raw
// memory; the decoder reads only inside its input and never traps: every
// malformed message is a specific error.

import { get16, get32, put16, put32 } from "../util/bytes";
import { ethernet, sum16, fold, ETH_HEADER, ETHERTYPE_IPV4 } from "../engine/frame";
import {
  ERR_TRUNCATED, ERR_BUFFER_TOO_SMALL, ERR_BAD_VALUE,
  ERR_DHCP_BAD_HEADER, ERR_DHCP_BAD_COOKIE, ERR_DHCP_OPTION_OVERRUN, ERR_DHCP_NO_END,
  ERR_DHCP_BAD_OPTION_LENGTH, ERR_DHCP_MISSING_TYPE, ERR_DHCP_BAD_TYPE, ERR_DHCP_BAD_OVERLOAD,
  ERR_DHCP_MISSING_OPTION, ERR_DHCP_BAD_LEASE,
} from "../generated/registry";

export const DHCPDISCOVER: u8 = 1;
export const DHCPOFFER: u8 = 2;
export const DHCPREQUEST: u8 = 3;
export const DHCPDECLINE: u8 = 4;
export const DHCPACK: u8 = 5;
export const DHCPNAK: u8 = 6;
export const DHCPRELEASE: u8 = 7;
export const DHCPINFORM: u8 = 8;

export const BOOTREQUEST: u8 = 1;
export const BOOTREPLY: u8 = 2;
export const SERVER_PORT: u32 = 67;
export const CLIENT_PORT: u32 = 68;
/** The fixed header (236 bytes) and the magic cookie. */
export const DHCP_FIXED: i32 = 240;
/** A client pads its messages to the 300 bytes of a BOOTP message (RFC 1542 2.1), as most clients do. */
export const DHCP_MIN_MESSAGE: i32 = 300;
const COOKIE: u32 = 0x63825363;
/** The broadcast flag (RFC 2131 figure 2): the client cannot receive unicast before it holds the address. */
export const FLAG_BROADCAST: u32 = 0x8000;
/** Lease time "infinity" (RFC 2131 3.3). */
export const INFINITE: u32 = 0xffffffff;

export const OPT_PAD: u8 = 0;
export const OPT_SUBNET_MASK: u8 = 1;
export const OPT_ROUTER: u8 = 3;
export const OPT_REQUESTED_IP: u8 = 50;
export const OPT_LEASE_TIME: u8 = 51;
export const OPT_OVERLOAD: u8 = 52;
export const OPT_MESSAGE_TYPE: u8 = 53;
export const OPT_SERVER_ID: u8 = 54;
export const OPT_PARAMETER_LIST: u8 = 55;
export const OPT_MESSAGE: u8 = 56;
export const OPT_T1: u8 = 58;
export const OPT_T2: u8 = 59;
export const OPT_CLIENT_ID: u8 = 61;
export const OPT_END: u8 = 255;

/** Bits of DhcpMessage.has: which options were present. */
export const HAS_MASK: u32 = 1 << 0;
export const HAS_ROUTER: u32 = 1 << 1;
export const HAS_REQUESTED: u32 = 1 << 2;
export const HAS_LEASE: u32 = 1 << 3;
export const HAS_SERVER_ID: u32 = 1 << 4;
export const HAS_T1: u32 = 1 << 5;
export const HAS_T2: u32 = 1 << 6;
export const HAS_CLIENT_ID: u32 = 1 << 7;
export const HAS_PARAMS: u32 = 1 << 8;
const HAS_TYPE: u32 = 1 << 9;
const HAS_OVERLOAD: u32 = 1 << 10;

/** The longest client identifier or parameter list kept (an option holds at most 255 bytes; RFC 3396 may concatenate more). */
export const MAX_OPTION_DATA: i32 = 255;

/** One DHCP message's fields and the options this client reads. Addresses are in host order. */
export class DhcpMessage {
  op: u8 = 0;
  htype: u8 = 0;
  hlen: u8 = 0;
  hops: u8 = 0;
  xid: u32 = 0;
  secs: u32 = 0;
  flags: u32 = 0;
  ciaddr: u32 = 0;
  yiaddr: u32 = 0;
  siaddr: u32 = 0;
  giaddr: u32 = 0;
  chaddr: StaticArray<u8> = new StaticArray<u8>(16);
  type: u8 = 0;
  has: u32 = 0;
  mask: u32 = 0;
  router: u32 = 0;
  requested: u32 = 0;
  lease: u32 = 0;
  serverId: u32 = 0;
  t1: u32 = 0;
  t2: u32 = 0;
  clientId: StaticArray<u8> = new StaticArray<u8>(MAX_OPTION_DATA);
  clientIdLen: i32 = 0;
  params: StaticArray<u8> = new StaticArray<u8>(MAX_OPTION_DATA);
  paramsLen: i32 = 0;

  reset(): void {
    this.op = 0; this.htype = 0; this.hlen = 0; this.hops = 0; this.xid = 0; this.secs = 0; this.flags = 0;
    this.ciaddr = 0; this.yiaddr = 0; this.siaddr = 0; this.giaddr = 0;
    memory.fill(changetype<usize>(this.chaddr), 0, 16);
    this.type = 0; this.has = 0; this.mask = 0; this.router = 0; this.requested = 0; this.lease = 0;
    this.serverId = 0; this.t1 = 0; this.t2 = 0; this.clientIdLen = 0; this.paramsLen = 0;
  }
}

/** True for an IPv4 address (host order) a lease may hand out: not 0/8, 127/8, multicast, reserved or broadcast. */
export function usableUnicast4(a: u32): bool {
  const top = a >> 24;
  return top != 0 && top != 127 && top < 224;
}

/** Appends n bytes at p to a kept option (RFC 3396 concatenation); false if the result would exceed MAX_OPTION_DATA. */
function append(dst: StaticArray<u8>, have: i32, p: usize, n: i32): i32 {
  if (have + n > MAX_OPTION_DATA) return -1;
  memory.copy(changetype<usize>(dst) + <usize>have, p, <usize>n);
  return have + n;
}

/**
 * Reads one option field [p, p + n). Fixed-length options are gathered by
 * concatenation (RFC 3396): a repeated 4-byte option becomes 8 bytes and so
 * a BAD_OPTION_LENGTH. Returns 0 or a negated error.
 */
function readOptions(p: usize, n: i32, m: DhcpMessage, lens: StaticArray<u8>): i32 {
  let i = 0;
  while (i < n) {
    const code = load<u8>(p + i);
    if (code == OPT_PAD) { i++; continue; }
    if (code == OPT_END) return 0;
    if (i + 2 > n) return -ERR_DHCP_OPTION_OVERRUN;
    const len = <i32>load<u8>(p + i + 1);
    const v = p + <usize>(i + 2);
    if (i + 2 + len > n) return -ERR_DHCP_OPTION_OVERRUN;
    // Fixed-length options: count every instance's bytes; the value is read from the first.
    let want = 0;
    let bit: u32 = 0;
    if (code == OPT_MESSAGE_TYPE) { want = 1; bit = HAS_TYPE; }
    else if (code == OPT_OVERLOAD) { want = 1; bit = HAS_OVERLOAD; }
    else if (code == OPT_SUBNET_MASK) { want = 4; bit = HAS_MASK; }
    else if (code == OPT_REQUESTED_IP) { want = 4; bit = HAS_REQUESTED; }
    else if (code == OPT_LEASE_TIME) { want = 4; bit = HAS_LEASE; }
    else if (code == OPT_SERVER_ID) { want = 4; bit = HAS_SERVER_ID; }
    else if (code == OPT_T1) { want = 4; bit = HAS_T1; }
    else if (code == OPT_T2) { want = 4; bit = HAS_T2; }
    if (want > 0) {
      const seen = <i32>lens[code];
      if (seen + len != want) return -ERR_DHCP_BAD_OPTION_LENGTH;
      lens[code] = <u8>(seen + len);
      m.has |= bit;
      if (code == OPT_MESSAGE_TYPE) m.type = load<u8>(v);
      else if (code == OPT_OVERLOAD) overload = <u32>load<u8>(v);
      else if (code == OPT_SUBNET_MASK) m.mask = get32(v);
      else if (code == OPT_REQUESTED_IP) m.requested = get32(v);
      else if (code == OPT_LEASE_TIME) m.lease = get32(v);
      else if (code == OPT_SERVER_ID) m.serverId = get32(v);
      else if (code == OPT_T1) m.t1 = get32(v);
      else m.t2 = get32(v);
    } else if (code == OPT_ROUTER) {
      // a list of addresses: the first is kept
      if (len < 4 || len % 4 != 0) return -ERR_DHCP_BAD_OPTION_LENGTH;
      if (!(m.has & HAS_ROUTER)) { m.router = get32(v); m.has |= HAS_ROUTER; }
    } else if (code == OPT_CLIENT_ID) {
      const r = append(m.clientId, m.clientIdLen, v, len);
      if (r < 0) return -ERR_DHCP_BAD_OPTION_LENGTH;
      m.clientIdLen = r;
      m.has |= HAS_CLIENT_ID;
    } else if (code == OPT_PARAMETER_LIST) {
      const r = append(m.params, m.paramsLen, v, len);
      if (r < 0) return -ERR_DHCP_BAD_OPTION_LENGTH;
      m.paramsLen = r;
      m.has |= HAS_PARAMS;
    }
    i += 2 + len;
  }
  return -ERR_DHCP_NO_END;
}

const LENS = new StaticArray<u8>(256);
/** Option 52's value while a message is decoded. */
let overload: u32 = 0;

/**
 * Decodes the DHCP message of n bytes at p (a UDP payload) into m. Returns the
 * DHCP message type (1-8) or a negated error, checked in this order:
 * TRUNCATED (under 240 bytes), DHCP_BAD_HEADER, DHCP_BAD_COOKIE, then the
 * options field's DHCP_OPTION_OVERRUN / DHCP_NO_END / DHCP_BAD_OPTION_LENGTH,
 * DHCP_BAD_OVERLOAD and the overloaded file and sname fields' (in that
 * order, RFC 2131 4.1), DHCP_MISSING_TYPE, DHCP_BAD_TYPE; and for an
 * OFFER or ACK DHCP_MISSING_OPTION (no 54 or 51) and DHCP_BAD_LEASE (yiaddr
 * not usable unicast, T1 > T2, T2 > lease), for a NAK DHCP_MISSING_OPTION
 * (no 54).
 */
export function decodeDhcp(p: usize, n: i32, m: DhcpMessage): i32 {
  m.reset();
  if (n < DHCP_FIXED) return -ERR_TRUNCATED;
  m.op = load<u8>(p);
  m.htype = load<u8>(p + 1);
  m.hlen = load<u8>(p + 2);
  m.hops = load<u8>(p + 3);
  if ((m.op != BOOTREQUEST && m.op != BOOTREPLY) || m.hlen > 16 || (m.htype == 1 && m.hlen != 6)) return -ERR_DHCP_BAD_HEADER;
  m.xid = get32(p + 4);
  m.secs = get16(p + 8);
  m.flags = get16(p + 10);
  m.ciaddr = get32(p + 12);
  m.yiaddr = get32(p + 16);
  m.siaddr = get32(p + 20);
  m.giaddr = get32(p + 24);
  memory.copy(changetype<usize>(m.chaddr), p + 28, 16);
  if (get32(p + 236) != COOKIE) return -ERR_DHCP_BAD_COOKIE;
  memory.fill(changetype<usize>(LENS), 0, 256);
  overload = 0;
  let r = readOptions(p + DHCP_FIXED, n - DHCP_FIXED, m, LENS);
  if (r < 0) return r;
  if (m.has & HAS_OVERLOAD) {
    const ov = overload;
    if (ov < 1 || ov > 3) return -ERR_DHCP_BAD_OVERLOAD;
    // file (108 bytes at 108) first, then sname (64 bytes at 44): RFC 2131 4.1
    if (ov & 1) { r = readOptions(p + 108, 128, m, LENS); if (r < 0) return r; }
    if (ov & 2) { r = readOptions(p + 44, 64, m, LENS); if (r < 0) return r; }
  }
  if (!(m.has & HAS_TYPE)) return -ERR_DHCP_MISSING_TYPE;
  if (m.type < DHCPDISCOVER || m.type > DHCPINFORM) return -ERR_DHCP_BAD_TYPE;
  if (m.type == DHCPOFFER || m.type == DHCPACK) {
    if (!(m.has & HAS_SERVER_ID) || !(m.has & HAS_LEASE)) return -ERR_DHCP_MISSING_OPTION;
    if (!usableUnicast4(m.yiaddr)) return -ERR_DHCP_BAD_LEASE;
    const t1 = effectiveT1(m);
    const t2 = effectiveT2(m);
    if (t1 > t2 || t2 > m.lease) return -ERR_DHCP_BAD_LEASE;
  } else if (m.type == DHCPNAK) {
    if (!(m.has & HAS_SERVER_ID)) return -ERR_DHCP_MISSING_OPTION;
  }
  return <i32>m.type;
}

/** T1 of an OFFER or ACK: option 58, or 0.5 of the lease (RFC 2131 4.4.5). */
export function effectiveT1(m: DhcpMessage): u32 {
  if (m.has & HAS_T1) return m.t1;
  if (m.lease == INFINITE) return INFINITE;
  return m.lease >> 1;
}
/** T2 of an OFFER or ACK: option 59, or 0.875 of the lease. */
export function effectiveT2(m: DhcpMessage): u32 {
  if (m.has & HAS_T2) return m.t2;
  if (m.lease == INFINITE) return INFINITE;
  return <u32>((<u64>m.lease * 7) >> 3);
}

/** What a client puts into one of its messages (encodeClient). */
export class ClientFields {
  type: u8 = 0;
  xid: u32 = 0;
  secs: u32 = 0;
  flags: u32 = 0;
  ciaddr: u32 = 0;
  /** The client's 6-byte Ethernet address (chaddr). */
  mac: usize = 0;
  /** Option 50, when nonzero. */
  requested: u32 = 0;
  /** Option 54, when nonzero. */
  serverId: u32 = 0;
  /** Option 61. */
  clientId: usize = 0;
  clientIdLen: i32 = 0;
  /** Option 55 (mask, router, lease, T1, T2) in DISCOVER and REQUEST. */
  params: bool = false;
}

const PARAMS = memory.data<u8>([OPT_SUBNET_MASK, OPT_ROUTER, OPT_LEASE_TIME, OPT_T1, OPT_T2]);

/**
 * Encodes a client message (BOOTREQUEST, htype 1, hlen 6) at out: the fixed
 * header, the cookie, options 53, 61, 50, 54, 55 (those that apply), 255,
 * zero padding to 300 bytes. Returns its length or a negated error:
 * BAD_VALUE (a type a client does not send, a client identifier of under 2
 * or over 255 bytes), BUFFER_TOO_SMALL.
 */
export function encodeClient(f: ClientFields, out: usize, cap: i32): i32 {
  if (f.type != DHCPDISCOVER && f.type != DHCPREQUEST && f.type != DHCPDECLINE && f.type != DHCPRELEASE && f.type != DHCPINFORM) return -ERR_BAD_VALUE;
  if (f.clientIdLen < 2 || f.clientIdLen > 255) return -ERR_BAD_VALUE;
  let len = DHCP_FIXED + 3 + 2 + f.clientIdLen + 1;
  if (f.requested) len += 6;
  if (f.serverId) len += 6;
  if (f.params) len += 2 + 5;
  if (len < DHCP_MIN_MESSAGE) len = DHCP_MIN_MESSAGE;
  if (len > cap) return -ERR_BUFFER_TOO_SMALL;
  memory.fill(out, 0, <usize>len);
  store<u8>(out, BOOTREQUEST);
  store<u8>(out + 1, 1);
  store<u8>(out + 2, 6);
  put32(out + 4, f.xid);
  put16(out + 8, f.secs > 0xffff ? 0xffff : f.secs);
  put16(out + 10, f.flags & 0xffff);
  put32(out + 12, f.ciaddr);
  memory.copy(out + 28, f.mac, 6);
  put32(out + 236, COOKIE);
  let o = out + DHCP_FIXED;
  store<u8>(o, OPT_MESSAGE_TYPE); store<u8>(o + 1, 1); store<u8>(o + 2, f.type); o += 3;
  store<u8>(o, OPT_CLIENT_ID); store<u8>(o + 1, <u8>f.clientIdLen);
  memory.copy(o + 2, f.clientId, <usize>f.clientIdLen);
  o += 2 + <usize>f.clientIdLen;
  if (f.requested) { store<u8>(o, OPT_REQUESTED_IP); store<u8>(o + 1, 4); put32(o + 2, f.requested); o += 6; }
  if (f.serverId) { store<u8>(o, OPT_SERVER_ID); store<u8>(o + 1, 4); put32(o + 2, f.serverId); o += 6; }
  if (f.params) { store<u8>(o, OPT_PARAMETER_LIST); store<u8>(o + 1, 5); memory.copy(o + 2, PARAMS, 5); o += 7; }
  store<u8>(o, OPT_END);
  return len;
}

const BROADCAST_MAC = memory.data<u8>([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const IPPROTO_UDP: u32 = 17;

/**
 * The Ethernet frame of a client broadcast (RFC 2131 4.1: from 0.0.0.0 port
 * 68 to 255.255.255.255 port 67, Ethernet broadcast from `srcMac`), IPv4
 * TTL 64 with identification `ipId`, the UDP checksum filled in, and the
 * DHCP message of n bytes at `msg`. Returns its length or
 * -BUFFER_TOO_SMALL.
 */
export function broadcastFrame(srcMac: usize, ipId: u32, msg: usize, n: i32, out: usize, cap: i32): i32 {
  const udpLen = 8 + n;
  const total = ETH_HEADER + 20 + udpLen;
  if (n < 0 || total > cap || udpLen > 0xffff) return -ERR_BUFFER_TOO_SMALL;
  ethernet(out, BROADCAST_MAC, srcMac, ETHERTYPE_IPV4);
  const ip = out + ETH_HEADER;
  store<u8>(ip, 0x45);
  store<u8>(ip + 1, 0x10); // low delay, as dhclient
  put16(ip + 2, <u32>(20 + udpLen));
  put16(ip + 4, ipId & 0xffff);
  put16(ip + 6, 0);
  store<u8>(ip + 8, 64);
  store<u8>(ip + 9, <u8>IPPROTO_UDP);
  put16(ip + 10, 0);
  put32(ip + 12, 0);
  put32(ip + 16, 0xffffffff);
  put16(ip + 10, fold(sum16(ip, 20, 0)));
  const udp = ip + 20;
  put16(udp, CLIENT_PORT);
  put16(udp + 2, SERVER_PORT);
  put16(udp + 4, <u32>udpLen);
  put16(udp + 6, 0);
  memory.copy(udp + 8, msg, <usize>n);
  let acc = sum16(ip + 12, 8, 0);
  acc += IPPROTO_UDP + <u32>udpLen;
  acc = sum16(udp, udpLen, acc);
  let ck = fold(acc);
  if (ck == 0) ck = 0xffff;
  put16(udp + 6, ck);
  return total;
}
