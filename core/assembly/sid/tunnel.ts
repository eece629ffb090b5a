// The tunnel's encapsulation (docs/PROTOCOL.md 8.9) for a host that has no
// vxlan device: the VXLAN header and inner Ethernet header around an inner IP
// packet (the UDP payload; the outer IP and UDP headers are the socket's),
// and the receiving end's checks, in the order the section lists them.

import { Address } from "../engine/address";
import {
  FAMILY_IPV4,
  ERR_TRUNCATED, ERR_BAD_VALUE, ERR_RESERVED_NONZERO, ERR_TUNNEL_MISMATCH, ERR_BUFFER_TOO_SMALL,
} from "../generated/registry";

/** VXLAN header (8) and inner Ethernet header (14). */
export const TUNNEL_HEADER: i32 = 22;
const VXLAN_I: u32 = 0x08;

/** Writes header + inner at out: its length, or -BUFFER_TOO_SMALL / -BAD_VALUE (VNI over 24 bits, not an IP packet). */
export function encapsulate(vni: u32, dstMac: usize, srcMac: usize, inner: usize, innerLen: i32, out: usize, cap: i32): i32 {
  if (vni > 0xffffff || innerLen < 1) return -ERR_BAD_VALUE;
  const version = load<u8>(inner) >> 4;
  if (version != 4 && version != 6) return -ERR_BAD_VALUE;
  if (innerLen > cap - TUNNEL_HEADER) return -ERR_BUFFER_TOO_SMALL;
  memory.copy(out + TUNNEL_HEADER, inner, <usize>innerLen); // first: inner may lie where the header goes
  store<u32>(out, VXLAN_I); // flags 0x08, then 24 reserved bits
  store<u32>(out + 4, bswap<u32>(vni << 8));
  memory.copy(out + 8, dstMac, 6);
  memory.copy(out + 14, srcMac, 6);
  store<u16>(out + 20, bswap<u16>(version == 4 ? 0x0800 : 0x86dd));
  return TUNNEL_HEADER + innerLen;
}

const INNER = new Address();

/**
 * Checks a received tunnel payload of n bytes for a binding (its VNI, this
 * end's MAC) and, when `check` is 1 or 2, the inner destination (1) or source
 * (2) against `expected`. Returns the offset of the inner packet (22), or the
 * negated first error: TRUNCATED (shorter than 22 bytes, or than its inner IP
 * header), BAD_VALUE (the I flag not set alone, an EtherType other than IPv4
 * and IPv6, or an IP version that does not match it), RESERVED_NONZERO,
 * TUNNEL_MISMATCH (another VNI, destination MAC or inner address).
 */
export function decapsulate(p: usize, n: i32, vni: u32, ownMac: usize, check: i32, expected: Address): i32 {
  if (n < TUNNEL_HEADER) return -ERR_TRUNCATED;
  if (load<u8>(p) != <u8>VXLAN_I) return -ERR_BAD_VALUE;
  if (load<u8>(p + 1) | load<u8>(p + 2) | load<u8>(p + 3) | load<u8>(p + 7)) return -ERR_RESERVED_NONZERO;
  if ((bswap<u32>(load<u32>(p + 4)) >> 8) != vni) return -ERR_TUNNEL_MISMATCH;
  for (let i = 0; i < 6; i++) if (load<u8>(p + 8 + i) != load<u8>(ownMac + i)) return -ERR_TUNNEL_MISMATCH;
  const type = bswap<u16>(load<u16>(p + 20));
  if (type != 0x0800 && type != 0x86dd) return -ERR_BAD_VALUE;
  const v4 = type == 0x0800;
  const ipLen: i32 = v4 ? 20 : 40;
  if (n < TUNNEL_HEADER + ipLen) return -ERR_TRUNCATED;
  const ip = p + TUNNEL_HEADER;
  if ((load<u8>(ip) >> 4) != (v4 ? 4 : 6)) return -ERR_BAD_VALUE;
  if (check == 1 || check == 2) {
    const family: u32 = v4 ? FAMILY_IPV4 : 2;
    INNER.load(family, check == 1 ? ip + (v4 ? 16 : 24) : ip + (v4 ? 12 : 8));
    if (!INNER.equals(expected)) return -ERR_TUNNEL_MISMATCH;
  }
  return TUNNEL_HEADER;
}
