// Flat exports of session-specific addresses (docs/PROTOCOL.md 8.18,
// docs/ABI.md "SID session addresses"): the generators' configuration, a
// session address for the application, the host's verdict of IPv6 duplicate
// address detection, and the release. Every pointer is checked; a bad one
// returns -ERR_INVALID_ARGUMENT, never a trap.

import { inMemory } from "../util/bytes";
import { Address, isValidFamily } from "../engine/address";
import { Instance } from "./instance";
import { GEN_STATIC, GEN_IPV6, GEN_DHCP4 } from "../sid/addrgen";
import { ERR_INVALID_ARGUMENT, ERR_CONFIG, ERR_BAD_VALUE, FAMILY_IPV6 } from "../generated/registry";

const BAD = -ERR_INVALID_ARGUMENT;
/** Size of the block sid_address_info writes. */
export const ADDRESS_INFO_SIZE: i32 = 32;

function readAddress(family: i32, p: usize): Address | null {
  if (!isValidFamily(family) || !inMemory(p, 16)) return null;
  return Address.read(family, p);
}

/** Adds a range (first to last, one family) to this node's static pool of session addresses. */
export function sid_pool_add(family: i32, first: usize, last: usize): i32 {
  const s = Instance.sid;
  if (!s) return -ERR_CONFIG;
  const f = readAddress(family, first);
  const l = readAddress(family, last);
  if (!f || !l || !f.isUsableUnicast() || !l.isUsableUnicast()) return BAD;
  if (f.hi > l.hi || (f.hi == l.hi && f.lo > l.lo)) return BAD;
  s.staticPool.addRange(f, l);
  return 0;
}

/** The node's IPv6 /64 (its first 8 bytes at addr) for locally generated session addresses. */
export function sid_prefix6(addr: usize): i32 {
  const s = Instance.sid;
  if (!s) return -ERR_CONFIG;
  const a = readAddress(FAMILY_IPV6, addr);
  if (!a || !a.isUsableUnicast()) return BAD;
  s.ipv6.prefix = a.hi;
  s.ipv6.set = true;
  return 0;
}

/**
 * A new session address from generator `kind` (1 static pool, 2 IPv6, 3
 * DHCPv4): its session handle (1 or more), or -ERR_*. The address comes with
 * the event `session-address` (at once for the static pool; after duplicate
 * address detection for IPv6) and sid_address_info.
 */
export function sid_address_acquire(now: f64, kind: i32): i32 {
  const s = Instance.sid;
  if (!s) return -ERR_CONFIG;
  if (kind != GEN_STATIC && kind != GEN_IPV6 && kind != GEN_DHCP4) return BAD;
  return s.addresses.acquire(<u8>kind, now);
}

/**
 * A session address's lease, 32 bytes at out: generator (byte 0), state (1:
 * 1 pending, 2 ready, 3 expired, 4 released, 5 away), family (2), 0 (3),
 * address (4-19, IPv4 in 4-7), expiry in ms as f64 (24-31, Infinity: none).
 */
export function sid_address_info(session: i32, out: usize): i32 {
  const s = Instance.sid;
  if (!s) return -ERR_CONFIG;
  if (!inMemory(out, ADDRESS_INFO_SIZE)) return BAD;
  const l = s.addresses.find(<u32>session);
  if (!l) return -ERR_BAD_VALUE;
  memory.fill(out, 0, ADDRESS_INFO_SIZE);
  store<u8>(out, l.kind);
  store<u8>(out + 1, l.state);
  store<u8>(out + 2, l.address.family);
  if (l.address.isSet) l.address.store(out + 4);
  store<f64>(out + 24, l.expires);
  return ADDRESS_INFO_SIZE;
}

/** The host's verdict of the kernel's duplicate address detection for an IPv6 session address. */
export function sid_address_dad(now: f64, session: i32, ok: i32): i32 {
  const s = Instance.sid;
  if (!s) return -ERR_CONFIG;
  return s.addresses.dad(<u32>session, ok != 0, now);
}

/** The application's session on the address ended here: the address is given back (8.18). */
export function sid_address_release(now: f64, session: i32): i32 {
  const s = Instance.sid;
  if (!s) return -ERR_CONFIG;
  return s.addresses.release(<u32>session, now);
}
