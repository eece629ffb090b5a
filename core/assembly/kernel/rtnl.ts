// Addresses, routes and sockets through netlink (docs/dataplane.md section 4):
// the core parses the kernel's address notifications and socket dumps and
// builds the requests; the host only moves the bytes.

import { AF_INET, AF_INET6, FRA_PRIORITY, FRA_SRC, FRA_SUPPRESS_PREFIXLEN, FRA_TABLE, FR_ACT_TO_TBL, IFA_ADDRESS, IFA_FLAGS, IFA_F_DADFAILED, IFA_F_TENTATIVE, IFA_LOCAL, NLMSG_DONE, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, RTA_GATEWAY, RTA_OIF, RTA_PRIORITY, RTA_TABLE, RTM_DELADDR, RTM_DELROUTE, RTM_DELRULE, RTM_GETADDR, RTM_GETROUTE, RTM_NEWADDR, RTM_NEWROUTE, RTM_NEWRULE, RTN_UNICAST, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, SOCK_DIAG_BY_FAMILY, RTPROT_HANDOVER } from "./linux";
import { Address } from "../engine/address";
import { FAMILY_IPV4, FAMILY_IPV6 } from "../generated/registry";

/**
 * Source routes that keep an old address's path alive (docs/dataplane.md
 * section 4): routing table SOURCE_TABLE_BASE + ifindex holds the default
 * route through that link. Two rules per address, before the main table's
 * 32766: at SOURCE_RULE_PRIORITY the main table without its default routes
 * (suppress_prefixlength 0: connected and specific routes still win), at
 * SOURCE_RULE_PRIORITY + 1 that table.
 */
export const SOURCE_TABLE_BASE: u32 = 0x4800;
export const SOURCE_RULE_PRIORITY: u32 = 0x4800;

/** The metric of the last-resort route (docs/dataplane.md section 2, break-before-make). */
export const FALLBACK_METRIC: u32 = 0xfffffff0;
const BUF = memory.data(256);
let seq: u32 = 0x52000000;

function header(p: usize, type: u16, flags: u16): void {
  store<u16>(p + 4, type);
  store<u16>(p + 6, flags);
  store<u32>(p + 8, seq++);
  store<u32>(p + 12, 0);
}

function familyOf(f: u8): u8 {
  return f == FAMILY_IPV4 ? AF_INET : AF_INET6;
}

/** RTM_GETADDR dump of one family: every address the host has. Length at requestPtr(). */
export function addressDump(family: u8): i32 {
  memory.fill(BUF, 0, 24);
  header(BUF, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP);
  store<u8>(BUF + 16, familyOf(family));
  store<u32>(BUF, 24);
  return 24;
}

/**
 * The last-resort route (add or delete): `default dev lo metric FALLBACK_METRIC`.
 * While an address is gone, it lets the session's packets reach the output
 * hook (and the hold) instead of failing with ENETUNREACH before it.
 */
export function fallbackRoute(add: bool, family: u8): i32 {
  memory.fill(BUF, 0, 64);
  header(BUF, add ? RTM_NEWROUTE : RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0));
  // struct rtmsg
  store<u8>(BUF + 16, familyOf(family));
  store<u8>(BUF + 20, 254); // RT_TABLE_MAIN
  store<u8>(BUF + 21, RTPROT_HANDOVER);
  store<u8>(BUF + 22, 253); // RT_SCOPE_LINK
  store<u8>(BUF + 23, 1); // RTN_UNICAST
  let off = 28;
  store<u16>(BUF + off, 8);
  store<u16>(BUF + off + 2, RTA_OIF);
  store<u32>(BUF + off + 4, 1); // lo
  off += 8;
  store<u16>(BUF + off, 8);
  store<u16>(BUF + off + 2, RTA_PRIORITY);
  store<u32>(BUF + off + 4, FALLBACK_METRIC);
  off += 8;
  store<u32>(BUF, <u32>off);
  return off;
}

/** RTM_GETROUTE dump of one family (every table; the parser keeps the main table's default routes). */
export function routeDump(family: u8): i32 {
  memory.fill(BUF, 0, 28);
  header(BUF, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP);
  store<u8>(BUF + 16, familyOf(family));
  store<u32>(BUF, 28);
  return 28;
}

function u32Attr(off: i32, type: u16, v: u32): i32 {
  store<u16>(BUF + off, 8);
  store<u16>(BUF + off + 2, type);
  store<u32>(BUF + off + 4, v);
  return off + 8;
}

function addressAttr(off: i32, type: u16, a: Address): i32 {
  const alen = a.family == FAMILY_IPV4 ? 4 : 16;
  store<u16>(BUF + off, <u16>(4 + alen));
  store<u16>(BUF + off + 2, type);
  a.store(BUF + off + 4);
  return off + 4 + alen;
}

/**
 * The route of a source route (add or delete): `default via gateway dev ifindex
 * table SOURCE_TABLE_BASE + ifindex`. Length at requestPtr().
 */
export function sourceRoute(add: bool, gateway: Address, ifindex: u32): i32 {
  memory.fill(BUF, 0, 96);
  header(BUF, add ? RTM_NEWROUTE : RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0));
  store<u8>(BUF + 16, familyOf(gateway.family));
  store<u8>(BUF + 20, 0); // RT_TABLE_UNSPEC: the table is in RTA_TABLE
  store<u8>(BUF + 21, RTPROT_HANDOVER);
  store<u8>(BUF + 22, RT_SCOPE_UNIVERSE);
  store<u8>(BUF + 23, RTN_UNICAST);
  let off = 28;
  off = u32Attr(off, RTA_TABLE, SOURCE_TABLE_BASE + ifindex);
  off = addressAttr(off, RTA_GATEWAY, gateway);
  off = u32Attr(off, RTA_OIF, ifindex);
  store<u32>(BUF, <u32>off);
  return off;
}

/**
 * A rule of a source route (add or delete): with `main`, `from address lookup
 * main suppress_prefixlength 0 pref SOURCE_RULE_PRIORITY`; else `from address
 * lookup SOURCE_TABLE_BASE + ifindex pref SOURCE_RULE_PRIORITY + 1`.
 */
export function sourceRule(add: bool, a: Address, ifindex: u32, main: bool): i32 {
  memory.fill(BUF, 0, 96);
  // EXCL: the kernel would otherwise add the same rule again (after a restart that kept the kernel's state).
  header(BUF, add ? RTM_NEWRULE : RTM_DELRULE, NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0));
  // struct fib_rule_hdr
  store<u8>(BUF + 16, familyOf(a.family));
  store<u8>(BUF + 18, a.family == FAMILY_IPV4 ? 32 : 128); // src_len
  store<u8>(BUF + 20, 0); // table: in FRA_TABLE
  store<u8>(BUF + 23, FR_ACT_TO_TBL);
  let off = 28;
  off = addressAttr(off, FRA_SRC, a);
  off = u32Attr(off, FRA_PRIORITY, main ? SOURCE_RULE_PRIORITY : SOURCE_RULE_PRIORITY + 1);
  off = u32Attr(off, FRA_TABLE, main ? RT_TABLE_MAIN : SOURCE_TABLE_BASE + ifindex);
  if (main) off = u32Attr(off, FRA_SUPPRESS_PREFIXLEN, 0);
  store<u32>(BUF, <u32>off);
  return off;
}

/** A sock_diag dump of every socket of one family and protocol. */
export function socketDump(family: u8, protocol: u8): i32 {
  memory.fill(BUF, 0, 72);
  header(BUF, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP);
  store<u8>(BUF + 16, familyOf(family));
  store<u8>(BUF + 17, protocol);
  store<u32>(BUF + 20, 0xffffffff); // every state
  store<u32>(BUF, 72);
  return 72;
}

export function requestPtr(): usize {
  return BUF;
}

/** An address notification or dump entry. */
export class AddressEvent {
  added: bool = false;
  address: Address = new Address();
  ifindex: u32 = 0;
  prefix: u8 = 0;
  /** Usable as a source: global scope, not tentative, DAD not failed. */
  usable: bool = false;
}

/** A default route of the main table, added or removed (a notification or dump entry). */
export class RouteEvent {
  added: bool = false;
  /** The notification replaces the route of the same metric (NLM_F_REPLACE). */
  replace: bool = false;
  gateway: Address = new Address();
  ifindex: u32 = 0;
  metric: u32 = 0;
}

/** A socket from a sock_diag dump. */
export class SocketInfo {
  protocol: u8 = 0;
  state: u8 = 0;
  local: Address = new Address();
  localPort: u32 = 0;
  remote: Address = new Address();
  remotePort: u32 = 0;
}

/**
 * Parses rtnetlink address messages (RTM_NEWADDR, RTM_DELADDR) in [p, p+n);
 * appends one AddressEvent per message. Other messages are skipped; nothing
 * is read past the end.
 */
export function parseAddresses(p: usize, n: i32, out: Array<AddressEvent>): void {
  let off = 0;
  while (off + 16 <= n) {
    const len = <i32>load<u32>(p + off);
    if (len < 16 || off + len > n) break;
    const type = load<u16>(p + off + 4);
    if ((type == RTM_NEWADDR || type == RTM_DELADDR) && len >= 24) {
      const m = p + off + 16;
      const af = load<u8>(m);
      const family: u8 = af == AF_INET ? FAMILY_IPV4 : af == AF_INET6 ? FAMILY_IPV6 : 0;
      if (family) {
        const e = new AddressEvent();
        e.added = type == RTM_NEWADDR;
        e.prefix = load<u8>(m + 1);
        let flags = <u32>load<u8>(m + 2);
        const scope = load<u8>(m + 3);
        e.ifindex = load<u32>(m + 4);
        const alen: i32 = family == FAMILY_IPV4 ? 4 : 16;
        let found = false;
        let haveLocal = false;
        let a = off + 24;
        while (a + 4 <= off + len) {
          const al = <i32>load<u16>(p + a);
          const at = load<u16>(p + a + 2) & 0x3fff;
          if (al < 4 || a + al > off + len) break;
          if ((at == IFA_LOCAL || (at == IFA_ADDRESS && !haveLocal)) && al >= 4 + alen) {
            e.address.load(family, p + a + 4);
            found = true;
            if (at == IFA_LOCAL) haveLocal = true;
          } else if (at == IFA_FLAGS && al >= 8) {
            flags = load<u32>(p + a + 4);
          }
          a += (al + 3) & ~3;
        }
        e.usable = scope == RT_SCOPE_UNIVERSE && (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) == 0;
        if (found) out.push(e);
      }
    }
    off += (len + 3) & ~3;
  }
}

/**
 * Parses rtnetlink route messages in [p, p+n): appends one RouteEvent per
 * unicast default route of the main table that has a gateway and an output
 * link. Everything else is skipped; nothing is read past the end.
 */
export function parseRoutes(p: usize, n: i32, out: Array<RouteEvent>): void {
  let off = 0;
  while (off + 16 <= n) {
    const len = <i32>load<u32>(p + off);
    if (len < 16 || off + len > n) break;
    const type = load<u16>(p + off + 4);
    if ((type == RTM_NEWROUTE || type == RTM_DELROUTE) && len >= 28) {
      const m = p + off + 16;
      const af = load<u8>(m);
      const family: u8 = af == AF_INET ? FAMILY_IPV4 : af == AF_INET6 ? FAMILY_IPV6 : 0;
      const dstLen = load<u8>(m + 1);
      let table = <u32>load<u8>(m + 4);
      const rtype = load<u8>(m + 7);
      if (family && dstLen == 0 && rtype == RTN_UNICAST) {
        const e = new RouteEvent();
        e.added = type == RTM_NEWROUTE;
        e.replace = (load<u16>(p + off + 6) & NLM_F_REPLACE) != 0;
        const alen: i32 = family == FAMILY_IPV4 ? 4 : 16;
        let a = off + 28;
        while (a + 4 <= off + len) {
          const al = <i32>load<u16>(p + a);
          const at = load<u16>(p + a + 2) & 0x3fff;
          if (al < 4 || a + al > off + len) break;
          if (at == RTA_GATEWAY && al >= 4 + alen) e.gateway.load(family, p + a + 4);
          else if (at == RTA_OIF && al >= 8) e.ifindex = load<u32>(p + a + 4);
          else if (at == RTA_PRIORITY && al >= 8) e.metric = load<u32>(p + a + 4);
          else if (at == RTA_TABLE && al >= 8) table = load<u32>(p + a + 4);
          a += (al + 3) & ~3;
        }
        if (table == RT_TABLE_MAIN && e.gateway.isSet && e.ifindex != 0) out.push(e);
      }
    }
    off += (len + 3) & ~3;
  }
}

/** Parses sock_diag replies (inet_diag_msg) in [p, p+n); appends one SocketInfo each. */
export function parseSockets(p: usize, n: i32, protocol: u8, out: Array<SocketInfo>): void {
  let off = 0;
  while (off + 16 <= n) {
    const len = <i32>load<u32>(p + off);
    if (len < 16 || off + len > n) break;
    const type = load<u16>(p + off + 4);
    if (type == NLMSG_DONE) break;
    if (type == SOCK_DIAG_BY_FAMILY && len >= 16 + 72) {
      const m = p + off + 16;
      const af = load<u8>(m);
      const family: u8 = af == AF_INET ? FAMILY_IPV4 : af == AF_INET6 ? FAMILY_IPV6 : 0;
      if (family) {
        const s = new SocketInfo();
        s.protocol = protocol;
        s.state = load<u8>(m + 1);
        s.localPort = <u32>bswap<u16>(load<u16>(m + 4));
        s.remotePort = <u32>bswap<u16>(load<u16>(m + 6));
        s.local.load(family, m + 8);
        s.remote.load(family, m + 24);
        out.push(s);
      }
    }
    off += (len + 3) & ~3;
  }
}
