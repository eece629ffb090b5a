// Link-layer frames SID sends itself through an AF_PACKET socket
// (docs/PROTOCOL.md 8.14): the gratuitous ARP that claims an address, the ARP
// reply of proxy ARP (the Wake-up datagram, addressed to a link-layer address
// directly, bypassing the sender's ARP table, which resolves the transferred
// address to the sender itself, is engine/frame.ts's), and for IPv6 the unsolicited
// Neighbour Advertisement that claims an address as gratuitous ARP does for
// IPv4 (8.18, RFC 4861 7.2.6). Also the parser that tells the
// host's AF_PACKET reader which ARP frames to answer. Pure functions: bytes
// in, bytes out; nothing here reads past its input.

import { get16, put16, put32 } from "../util/bytes";
import { ETH_HEADER, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ethernet, sum16, fold } from "../engine/frame";
import { Address } from "../engine/address";
import { FAMILY_IPV6, ERR_TRUNCATED, ERR_BAD_VALUE, ERR_BAD_ADDRESS } from "../generated/registry";

export const ETHERTYPE_ARP: u32 = 0x0806;
/** The shortest Ethernet frame without its FCS; ARP frames are padded to it with zeros. */
export const ETH_MIN_FRAME: i32 = 60;
const ARP_LENGTH: i32 = 28;
export const ARP_REQUEST: u32 = 1;
export const ARP_REPLY: u32 = 2;
const HW_ETHERNET: u32 = 1;

/**
 * An ARP frame for IPv4 over Ethernet, 60 bytes: Ethernet to `ethDst` from
 * `sha`; ARP operation `op`, sender `sha`/`spa`, target `tha`/`tpa`.
 */
function arp(out: usize, ethDst: usize, op: u32, sha: usize, spa: u32, tha: usize, tpa: u32): i32 {
  memory.fill(out, 0, ETH_MIN_FRAME);
  ethernet(out, ethDst, sha, ETHERTYPE_ARP);
  const a = out + ETH_HEADER;
  put16(a, HW_ETHERNET);
  put16(a + 2, ETHERTYPE_IPV4);
  store<u8>(a + 4, 6);
  store<u8>(a + 5, 4);
  put16(a + 6, op);
  memory.copy(a + 8, sha, 6);
  put32(a + 14, spa);
  memory.copy(a + 18, tha, 6);
  put32(a + 24, tpa);
  return ETH_MIN_FRAME;
}

const BROADCAST = memory.data<u8>([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const ZERO_MAC = memory.data<u8>([0, 0, 0, 0, 0, 0]);

/**
 * Gratuitous ARP (RFC 5227's ARP Announcement): a broadcast request from
 * `mac` with sender and target protocol address both `ip`, target hardware
 * address zero. 60 bytes at out.
 */
export function gratuitousArp(mac: usize, ip: u32, out: usize): i32 {
  return arp(out, BROADCAST, ARP_REQUEST, mac, ip, ZERO_MAC, ip);
}

/** The ARP reply of proxy ARP: `ip` is at `mac`, sent to the asker `askerMac`/`askerIp`. 60 bytes. */
export function arpReply(mac: usize, ip: u32, askerMac: usize, askerIp: u32, out: usize): i32 {
  return arp(out, askerMac, ARP_REPLY, mac, ip, askerMac, askerIp);
}

/** What parseArp found (the addresses in host order, the MACs as 6-byte copies). */
export class ArpFrame {
  op: u32 = 0;
  senderMac: StaticArray<u8> = new StaticArray<u8>(6);
  senderIp: u32 = 0;
  targetMac: StaticArray<u8> = new StaticArray<u8>(6);
  targetIp: u32 = 0;
}

/**
 * Reads an Ethernet frame of n bytes: 0 if it is not ARP (another
 * EtherType: not for this reader), 1 (request) or 2 (reply) for an ARP
 * frame of IPv4 over Ethernet with its fields in `f`, or a negated error:
 * TRUNCATED (shorter than 42 bytes, or than its EtherType), BAD_VALUE
 * (other hardware or protocol types, lengths or operation).
 */
export function parseArp(p: usize, n: i32, f: ArpFrame): i32 {
  if (n < ETH_HEADER) return -ERR_TRUNCATED;
  if (get16(p + 12) != ETHERTYPE_ARP) return 0;
  if (n < ETH_HEADER + ARP_LENGTH) return -ERR_TRUNCATED;
  const a = p + ETH_HEADER;
  if (get16(a) != HW_ETHERNET || get16(a + 2) != ETHERTYPE_IPV4 || load<u8>(a + 4) != 6 || load<u8>(a + 5) != 4) return -ERR_BAD_VALUE;
  const op = get16(a + 6);
  if (op != ARP_REQUEST && op != ARP_REPLY) return -ERR_BAD_VALUE;
  f.op = op;
  memory.copy(changetype<usize>(f.senderMac), a + 8, 6);
  f.senderIp = bswap<u32>(load<u32>(a + 14));
  memory.copy(changetype<usize>(f.targetMac), a + 18, 6);
  f.targetIp = bswap<u32>(load<u32>(a + 24));
  return <i32>op;
}

/** Length of the unsolicited Neighbour Advertisement: Ethernet 14, IPv6 40, NA 24, target link-layer option 8. */
export const NA_FRAME: i32 = 86;
const ALL_NODES_MAC = memory.data<u8>([0x33, 0x33, 0, 0, 0, 1]);
const ALL_NODES = memory.data<u8>([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const IPPROTO_ICMPV6: u32 = 58;

/**
 * The unsolicited Neighbour Advertisement (RFC 4861 section 7.2.6) that
 * announces `ip` at `mac` on the link, IPv6's gratuitous ARP (PROTOCOL.md
 * 8.14, 8.18): Ethernet to 33:33:00:00:00:01 from `mac`; IPv6 from `ip` to
 * ff02::1, hop limit 255; ICMPv6 type 136 code 0 with its checksum, flags
 * Override only (not Router, not Solicited), target `ip`, and the Target
 * Link-layer Address option (type 2, length 1) `mac`. NA_FRAME bytes at out;
 * BAD_ADDRESS if `ip` is not a usable IPv6 unicast address.
 */
export function neighbourAdvertisement(mac: usize, ip: Address, out: usize): i32 {
  if (ip.family != FAMILY_IPV6 || !ip.isUsableUnicast()) return -ERR_BAD_ADDRESS;
  memory.fill(out, 0, NA_FRAME);
  ethernet(out, ALL_NODES_MAC, mac, ETHERTYPE_IPV6);
  const v6 = out + ETH_HEADER;
  put32(v6, 0x60000000);
  put16(v6 + 4, 32);
  store<u8>(v6 + 6, <u8>IPPROTO_ICMPV6);
  store<u8>(v6 + 7, 255);
  ip.store(v6 + 8);
  memory.copy(v6 + 24, ALL_NODES, 16);
  const icmp = v6 + 40;
  store<u8>(icmp, 136);
  store<u8>(icmp + 1, 0);
  put32(icmp + 4, 0x20000000); // O (override)
  ip.store(icmp + 8);
  store<u8>(icmp + 24, 2); // Target Link-layer Address
  store<u8>(icmp + 25, 1);
  memory.copy(icmp + 26, mac, 6);
  // Pseudo-header: source, destination, upper-layer length (32), next header (58).
  let acc = sum16(v6 + 8, 32, 0);
  acc += 32 + IPPROTO_ICMPV6;
  acc = sum16(icmp, 32, acc);
  put16(icmp + 2, fold(acc));
  return NA_FRAME;
}
