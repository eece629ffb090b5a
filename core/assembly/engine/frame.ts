// The frames the engine itself builds for a host's AF_PACKET socket: the
// Ethernet header, the Internet checksum, and the Wake-up datagram (an
// Ethernet frame to a link-layer address directly, docs/PROTOCOL.md 8.14).
// sid/frames.ts builds SID's ARP and Neighbour Advertisement frames on these.
// Pure functions: bytes in, bytes out; nothing here reads past its input.

import { get16, put16, put32 } from "../util/bytes";
import { Address } from "./address";
import { FAMILY_IPV4, ERR_BAD_VALUE, ERR_BAD_ADDRESS, ERR_BUFFER_TOO_SMALL, IPPROTO_UDP } from "../generated/registry";

export const ETH_HEADER: i32 = 14;
export const ETHERTYPE_IPV4: u32 = 0x0800;
export const ETHERTYPE_IPV6: u32 = 0x86dd;
/** The hop limit of the frames built here. */
export const TTL: u32 = 64;

export function ethernet(out: usize, dst: usize, src: usize, type: u32): void {
  memory.copy(out, dst, 6);
  memory.copy(out + 6, src, 6);
  put16(out + 12, type);
}

/** The Internet checksum's running sum (RFC 1071) over n bytes. */
export function sum16(p: usize, n: i32, acc: u32): u32 {
  let i = 0;
  for (; i + 1 < n; i += 2) acc += get16(p + i);
  if (i < n) acc += <u32>load<u8>(p + i) << 8;
  return acc;
}
export function fold(acc: u32): u32 {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return ~acc & 0xffff;
}

/**
 * The Wake-up frame (PROTOCOL.md 8.14): Ethernet to `dstMac` from `srcMac`,
 * IPv4 (DF, TTL 64, identification `ipId`) or IPv6 (hop limit 64), UDP from
 * srcPort to dstPort with its checksum, and `payload` (the Wake-up message).
 * Returns the frame's length, or a negated error: BAD_ADDRESS (families
 * differ, or an address is not usable unicast), BAD_VALUE (a port 0),
 * BUFFER_TOO_SMALL.
 */
export function wakeupFrame(
  dstMac: usize, srcMac: usize, src: Address, dst: Address, srcPort: u32, dstPort: u32, ipId: u32,
  payload: usize, payloadLen: i32, out: usize, cap: i32,
): i32 {
  if (src.family != dst.family || !src.isUsableUnicast() || !dst.isUsableUnicast()) return -ERR_BAD_ADDRESS;
  if (srcPort == 0 || dstPort == 0 || srcPort > 0xffff || dstPort > 0xffff) return -ERR_BAD_VALUE;
  const v4 = src.family == FAMILY_IPV4;
  const ipLen: i32 = v4 ? 20 : 40;
  const udpLen = 8 + payloadLen;
  const total = ETH_HEADER + ipLen + udpLen;
  if (payloadLen < 0 || udpLen > 0xffff || total > cap) return -ERR_BUFFER_TOO_SMALL;
  ethernet(out, dstMac, srcMac, v4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
  const ip = out + ETH_HEADER;
  const alen: i32 = v4 ? 4 : 16;
  if (v4) {
    store<u8>(ip, 0x45);
    store<u8>(ip + 1, 0);
    put16(ip + 2, <u32>(ipLen + udpLen));
    put16(ip + 4, ipId & 0xffff);
    put16(ip + 6, 0x4000); // DF
    store<u8>(ip + 8, <u8>TTL);
    store<u8>(ip + 9, <u8>IPPROTO_UDP);
    put16(ip + 10, 0);
    src.store(ip + 12);
    dst.store(ip + 16);
    put16(ip + 10, fold(sum16(ip, 20, 0)));
  } else {
    put32(ip, 0x60000000);
    put16(ip + 4, <u32>udpLen);
    store<u8>(ip + 6, <u8>IPPROTO_UDP);
    store<u8>(ip + 7, <u8>TTL);
    src.store(ip + 8);
    dst.store(ip + 24);
  }
  const udp = ip + ipLen;
  put16(udp, srcPort);
  put16(udp + 2, dstPort);
  put16(udp + 4, <u32>udpLen);
  put16(udp + 6, 0);
  memory.copy(udp + 8, payload, <usize>payloadLen);
  // Pseudo-header: the two addresses, the protocol, the UDP length.
  const addrs = v4 ? ip + 12 : ip + 8;
  let acc = sum16(addrs, 2 * alen, 0);
  acc += <u32>IPPROTO_UDP + <u32>udpLen;
  acc = sum16(udp, udpLen, acc);
  let ck = fold(acc);
  if (ck == 0) ck = 0xffff; // 0 means "no checksum" in UDP over IPv4, and is invalid over IPv6
  put16(udp + 6, ck);
  return total;
}
