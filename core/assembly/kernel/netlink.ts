// Netlink messages the core builds and parses, so that hosts only move bytes
// (docs/dataplane.md). Netlink uses the host's byte order; this module assumes
// a little-endian host, as WebAssembly itself is.

import { AF_INET, AF_INET6, IFA_ADDRESS, IFA_CACHEINFO, IFA_FLAGS, IFA_F_NODAD, IFA_F_NOPREFIXROUTE, IFA_LOCAL, NLMSG_ERROR, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST, RTM_DELADDR, RTM_NEWADDR } from "./linux";
import { Address } from "../engine/address";
import { FAMILY_IPV4 } from "../generated/registry";

const BUF = memory.data(256);
let seq: u32 = 1;

function attr(p: usize, type: u16, data: usize, n: i32): i32 {
  const len = 4 + n;
  store<u16>(p, <u16>len);
  store<u16>(p + 2, type);
  memory.copy(p + 4, data, <usize>n);
  return (len + 3) & ~3;
}

const ADDR = memory.data(16);
const FLAGS = memory.data(4);
const CACHEINFO = memory.data(16);

/**
 * RTM_NEWADDR (add) or RTM_DELADDR (remove) for a host address (/32 or /128)
 * on an interface; returns its length at messagePtr().
 */
export function addressMessage(add: bool, a: Address, ifindex: u32, nodad: bool = true, deprecated: bool = false): i32 {
  const v4 = a.family == FAMILY_IPV4;
  const alen = v4 ? 4 : 16;
  a.store(ADDR);
  memory.fill(BUF, 0, 256);
  // struct ifaddrmsg after the 16-byte nlmsghdr
  store<u8>(BUF + 16, v4 ? AF_INET : AF_INET6);
  store<u8>(BUF + 17, v4 ? 32 : 128);
  store<u8>(BUF + 18, 0);
  store<u8>(BUF + 19, 0); // RT_SCOPE_UNIVERSE
  store<u32>(BUF + 20, ifindex);
  let off: i32 = 24;
  off += attr(BUF + off, IFA_LOCAL, ADDR, alen);
  off += attr(BUF + off, IFA_ADDRESS, ADDR, alen);
  // No duplicate address detection: a tentative address cannot be a source. (IPv6 session
  // addresses, docs/PROTOCOL.md 8.18, go on with it: the host awaits its verdict.)
  store<u32>(FLAGS, (nodad ? IFA_F_NODAD : 0) | IFA_F_NOPREFIXROUTE);
  off += attr(BUF + off, IFA_FLAGS, FLAGS, 4);
  if (add && deprecated && !v4) {
    // An IPv6 session address (PROTOCOL.md 8.18): preferred lifetime 0, valid for ever, so the kernel never
    // picks it as the source of other traffic (RFC 6724 rule 3); a socket bound to it uses it as always.
    store<u32>(CACHEINFO, 0);
    store<u32>(CACHEINFO + 4, 0xffffffff);
    store<u64>(CACHEINFO + 8, 0);
    off += attr(BUF + off, IFA_CACHEINFO, CACHEINFO, 16);
  }
  store<u32>(BUF, <u32>off);
  store<u16>(BUF + 4, add ? RTM_NEWADDR : RTM_DELADDR);
  store<u16>(BUF + 6, NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0));
  store<u32>(BUF + 8, seq++);
  store<u32>(BUF + 12, 0);
  return off;
}

export function messagePtr(): usize {
  return BUF;
}

/**
 * The errno of a netlink acknowledgement (NLMSG_ERROR with error 0 is
 * success). Returns 0, a positive errno, or -1 if the bytes are no ack.
 */
export function ackErrno(p: usize, n: i32): i32 {
  if (n < 20) return -1;
  const len = load<u32>(p);
  if (len < 20 || <i32>len > n) return -1;
  if (load<u16>(p + 4) != NLMSG_ERROR) return -1;
  const err = load<i32>(p + 16);
  return err < 0 ? -err : err;
}
