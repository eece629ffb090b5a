// The SID tunnel's kernel actions (docs/PROTOCOL.md 8.9): the binding's
// identifiers derived from the session key, and the rtnetlink requests for
// its vxlan link, forwarding (fdb) entry, neighbour entry, route and policy
// rule. Pure functions: each builds one request in BUF; the host sends it on
// a NETLINK_ROUTE socket and checks the acknowledgement (ackErrno).
// Netlink is in the host's byte order (little-endian, as WebAssembly).

import { hkdf } from "../crypto/hkdf";
import { FAMILY_IPV4 } from "../generated/registry";
import { TextOut, formatAddress } from "../util/text";
import { AF_BRIDGE, AF_INET, AF_INET6, FRA_FWMARK, FRA_FWMASK, FRA_PRIORITY, FRA_SRC, FRA_TABLE, FR_ACT_TO_TBL, IFF_UP, IFLA_ADDRESS, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MTU, IFLA_VXLAN_DF, IFLA_VXLAN_ID, IFLA_VXLAN_LEARNING, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LOCAL6, IFLA_VXLAN_PORT, IFLA_VXLAN_TOS, IFLA_VXLAN_TTL, IFLA_VXLAN_UDP_CSUM, NDA_DST, NDA_LLADDR, NLA_F_NESTED, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NTF_PROXY, NTF_SELF, NUD_PERMANENT, RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_TABLE, RTM_DELLINK, RTM_DELNEIGH, RTM_DELROUTE, RTM_DELRULE, RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWROUTE, RTM_NEWRULE, RTNH_F_ONLINK, RTN_UNICAST, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, TOS_INHERIT, VXLAN_DF_SET, RTPROT_HANDOVER } from "./linux";

/** Outer headers the tunnel adds to an inner packet: outer IP, UDP 8, VXLAN 8, inner Ethernet 14. */
export function tunnelOverhead(outerFamily: u32): i32 {
  return (outerFamily == FAMILY_IPV4 ? 20 : 40) + 8 + 8 + 14;
}

const BUF = memory.data(512, 8);
let seq: u32 = 0x53000000;
let off: i32 = 0;
const NEST_STACK = memory.data(16, 4);
let depth: i32 = 0;

function begin(type: u16, flags: u16, headerLen: i32): usize {
  memory.fill(BUF, 0, 512);
  store<u16>(BUF + 4, type);
  store<u16>(BUF + 6, flags);
  store<u32>(BUF + 8, seq++);
  off = 16 + headerLen;
  depth = 0;
  return BUF + 16;
}
function attr(type: u16, data: usize, n: i32): void {
  store<u16>(BUF + off, <u16>(4 + n));
  store<u16>(BUF + off + 2, type);
  memory.copy(BUF + off + 4, data, <usize>n);
  off += (4 + n + 3) & ~3;
}
function attr8(type: u16, v: u8): void {
  store<u16>(BUF + off, 5);
  store<u16>(BUF + off + 2, type);
  store<u8>(BUF + off + 4, v);
  off += 8;
}
function attr16be(type: u16, v: u16): void {
  store<u16>(BUF + off, 6);
  store<u16>(BUF + off + 2, type);
  store<u16>(BUF + off + 4, bswap<u16>(v));
  off += 8;
}
function attr32(type: u16, v: u32): void {
  store<u16>(BUF + off, 8);
  store<u16>(BUF + off + 2, type);
  store<u32>(BUF + off + 4, v);
  off += 8;
}
function nest(type: u16): void {
  store<i32>(NEST_STACK + (<usize>depth << 2), off);
  depth++;
  store<u16>(BUF + off + 2, type | NLA_F_NESTED);
  off += 4;
}
function unnest(): void {
  depth--;
  const at = load<i32>(NEST_STACK + (<usize>depth << 2));
  store<u16>(BUF + at, <u16>(off - at));
}
function end(): i32 {
  store<u32>(BUF, <u32>off);
  return off;
}
function af(family: u32): u8 {
  return family == FAMILY_IPV4 ? AF_INET : AF_INET6;
}
function alen(family: u32): i32 {
  return family == FAMILY_IPV4 ? 4 : 16;
}

export function kernelMessagePtr(): usize {
  return BUF;
}

const INFO = memory.data<u8>([0x68, 0x61, 0x6e, 0x64, 0x6f, 0x76, 0x65, 0x72, 0x20, 0x74, 0x75, 0x6e, 0x6e, 0x65, 0x6c, 0x2f, 0x31]); // "handover tunnel/1"
const T = memory.data(8, 8);
const HEX = memory.data<u8>([0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66]);

/**
 * The binding's tunnel identifiers (PROTOCOL.md 8.9) from its 32-byte session
 * key, written at out (26 bytes): VNI (u32, little-endian), the agent's MAC
 * (6), the target's MAC (6), the device name ("hov" + 6 hex digits, NUL-terminated, 10).
 */
export function tunnelIds(sessionKey: usize, out: usize): void {
  hkdf(0, 0, sessionKey, 32, INFO, 17, T, 8);
  const vni = (<u32>load<u8>(T) << 16) | (<u32>load<u8>(T + 1) << 8) | <u32>load<u8>(T + 2);
  store<u32>(out, vni);
  store<u8>(out + 4, 0x02);
  memory.copy(out + 5, T + 3, 5);
  store<u8>(out + 10, 0x06);
  memory.copy(out + 11, T + 3, 5);
  store<u8>(out + 16, 0x68); // h
  store<u8>(out + 17, 0x6f); // o
  store<u8>(out + 18, 0x76); // v
  for (let i = 0; i < 6; i++) store<u8>(out + 19 + i, load<u8>(HEX + ((vni >> (20 - 4 * i)) & 15)));
  store<u8>(out + 25, 0);
  memory.fill(T, 0, 8);
}

const KIND = memory.data<u8>([0x76, 0x78, 0x6c, 0x61, 0x6e, 0]); // "vxlan\0"

/**
 * RTM_NEWLINK (create, up) or RTM_DELLINK for the binding's vxlan device:
 * `ip link add NAME address MAC mtu MTU up type vxlan id VNI local LOCAL
 * dstport PORT nolearning ttl 64 tos inherit df set udpcsum`. name: nameLen
 * bytes without NUL (1-15). Returns the length at kernelMessagePtr(), or -1.
 */
export function vxlanLink(add: bool, name: usize, nameLen: i32, mac: usize, mtu: u32, vni: u32, family: u32, local: usize, port: u32, ifindex: u32 = 0): i32 {
  if (nameLen < 1 || nameLen > 15 || vni > 0xffffff || port == 0 || port > 0xffff) return -1;
  const m = begin(add ? RTM_NEWLINK : RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0), 16);
  // struct ifinfomsg: family 0 (AF_UNSPEC), type, index (0: the kernel picks one), flags, change
  store<u32>(m + 4, ifindex);
  if (add) {
    store<u32>(m + 8, IFF_UP);
    store<u32>(m + 12, IFF_UP);
  }
  const NAME = memory.data(16);
  memory.fill(NAME, 0, 16);
  memory.copy(NAME, name, <usize>nameLen);
  attr(IFLA_IFNAME, NAME, nameLen + 1);
  if (add) {
    attr(IFLA_ADDRESS, mac, 6);
    attr32(IFLA_MTU, mtu);
    nest(IFLA_LINKINFO);
    attr(IFLA_INFO_KIND, KIND, 5);
    nest(IFLA_INFO_DATA);
    attr32(IFLA_VXLAN_ID, vni);
    attr(family == FAMILY_IPV4 ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, local, alen(family));
    attr8(IFLA_VXLAN_TTL, 64);
    attr8(IFLA_VXLAN_TOS, TOS_INHERIT);
    attr8(IFLA_VXLAN_LEARNING, 0);
    attr16be(IFLA_VXLAN_PORT, <u16>port);
    attr8(IFLA_VXLAN_UDP_CSUM, 1);
    attr8(IFLA_VXLAN_DF, VXLAN_DF_SET);
    unnest();
    unnest();
  }
  return end();
}

/**
 * RTM_NEWNEIGH / RTM_DELNEIGH in the bridge family: the permanent forwarding
 * entry `bridge fdb append MAC dev IFINDEX dst DST self permanent`.
 */
export function fdbEntry(add: bool, ifindex: u32, mac: usize, family: u32, dst: usize): i32 {
  const m = begin(add ? RTM_NEWNEIGH : RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_APPEND : 0), 12);
  store<u8>(m, AF_BRIDGE);
  store<u32>(m + 4, ifindex);
  store<u16>(m + 8, NUD_PERMANENT);
  store<u8>(m + 10, NTF_SELF);
  attr(NDA_LLADDR, mac, 6);
  attr(NDA_DST, dst, alen(family));
  return end();
}

/**
 * The interface index SID gives a binding's vxlan device (docs/ABI.md "SID
 * engine"): chosen, so that the entries naming the device can follow its
 * creation in the same batch. The kernel refuses an index in use (EBUSY).
 */
export const SID_IFINDEX_BASE: u32 = 0x40000000;
export function tunnelIfindex(vni: u32): u32 {
  return SID_IFINDEX_BASE + (vni & 0xffffff);
}

/**
 * The routing table of the binding of `vni`'s reverse-tunnelled return at the
 * target (PROTOCOL.md 8.9 step 4): option sidRouteTable (at least 256, at
 * most 2^32 - 2^24 - 1) plus the VNI, one table per binding, as each
 * binding's default route names its own tunnel device.
 */
export function returnTable(base: u32, vni: u32): u32 {
  return base + (vni & 0xffffff);
}

/** The proxy neighbour entry `ip neigh add proxy IP dev IFINDEX` (or its removal): the kernel answers ARP for IP there. */
export function proxyNeighbour(add: bool, ifindex: u32, family: u32, ip: usize): i32 {
  const m = begin(add ? RTM_NEWNEIGH : RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0), 12);
  store<u8>(m, af(family));
  store<u32>(m + 4, ifindex);
  store<u16>(m + 8, NUD_PERMANENT);
  store<u8>(m + 10, NTF_PROXY);
  attr(NDA_DST, ip, alen(family));
  return end();
}

/** The permanent neighbour entry `ip neigh replace IP lladdr MAC dev IFINDEX nud permanent` (or its removal). */
export function neighEntry(add: bool, ifindex: u32, family: u32, ip: usize, mac: usize): i32 {
  const m = begin(add ? RTM_NEWNEIGH : RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0), 12);
  store<u8>(m, af(family));
  store<u32>(m + 4, ifindex);
  store<u16>(m + 8, NUD_PERMANENT);
  attr(NDA_DST, ip, alen(family));
  if (add) attr(NDA_LLADDR, mac, 6);
  return end();
}

/**
 * `ip route replace DST/PREFIX dev IFINDEX [via GATEWAY onlink] table TABLE
 * proto 72` (or its removal). gateway 0: a device route (scope link).
 */
export function tunnelRoute(add: bool, family: u32, dst: usize, prefix: u32, ifindex: u32, gateway: usize, table: u32): i32 {
  if (prefix > <u32>(alen(family) * 8) || table == 0) return -1;
  const m = begin(add ? RTM_NEWROUTE : RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0), 12);
  store<u8>(m, af(family));
  store<u8>(m + 1, <u8>prefix);
  store<u8>(m + 4, table < 256 ? <u8>table : 0); // RTA_TABLE carries any table
  store<u8>(m + 5, RTPROT_HANDOVER);
  store<u8>(m + 6, gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  store<u8>(m + 7, RTN_UNICAST);
  if (gateway) store<u32>(m + 8, RTNH_F_ONLINK);
  if (prefix > 0) attr(RTA_DST, dst, alen(family));
  attr32(RTA_OIF, ifindex);
  if (gateway) attr(RTA_GATEWAY, gateway, alen(family));
  attr32(RTA_TABLE, table);
  return end();
}

/** `ip rule add from SRC/PREFIX lookup TABLE priority PRIORITY` (or its removal). */
export function sourceRule(add: bool, family: u32, src: usize, prefix: u32, table: u32, priority: u32): i32 {
  if (prefix > <u32>(alen(family) * 8) || table == 0) return -1;
  const m = begin(add ? RTM_NEWRULE : RTM_DELRULE, NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0), 12);
  store<u8>(m, af(family));
  store<u8>(m + 2, <u8>prefix);
  store<u8>(m + 4, table < 256 ? <u8>table : 0);
  store<u8>(m + 7, FR_ACT_TO_TBL);
  attr(FRA_SRC, src, alen(family));
  attr32(FRA_PRIORITY, priority);
  attr32(FRA_TABLE, table);
  return end();
}


/** `ip rule add fwmark MARK lookup TABLE priority PRIORITY` (or its removal; PROTOCOL.md 8.16). */
export function markRule(add: bool, family: u32, mark: u32, table: u32, priority: u32): i32 {
  if (table == 0) return -1;
  const m = begin(add ? RTM_NEWRULE : RTM_DELRULE, NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0), 12);
  store<u8>(m, af(family));
  store<u8>(m + 4, table < 256 ? <u8>table : 0);
  store<u8>(m + 7, FR_ACT_TO_TBL);
  attr32(FRA_FWMARK, mark);
  attr32(FRA_FWMASK, 0xffffffff);
  attr32(FRA_PRIORITY, priority);
  attr32(FRA_TABLE, table);
  return end();
}

function vniHex(out: TextOut, vni: u32): void {
  for (let i = 0; i < 6; i++) out.byte(<u32>load<u8>(HEX + ((vni >> (20 - 4 * i)) & 15)));
}
function chainName(out: TextOut, vni: u32): void {
  out.ascii("inet hovtunnel v");
  vniHex(out, vni);
}
/** The key of the binding's element in the VNI map: `<port> . 0x<VNI hex>`. */
function vniKey(out: TextOut, port: u32, vni: u32): void {
  out.dec(<u64>port);
  out.ascii(" . 0x");
  vniHex(out, vni);
}

/**
 * The nft batch (text) that makes the decapsulating end accept the binding's
 * tunnel packets only from its peer (PROTOCOL.md 8.9, "Drops"). One base
 * chain `in` (input hook, priority -200) in table `inet hovtunnel` looks up
 * each UDP packet's destination port and VNI in the verdict map `vni` and
 * jumps to the binding's regular chain `v<VNI hex>`, which drops it from any
 * source but the peer: one hook and one map lookup per packet however many
 * bindings there are (a base chain per binding made every input packet walk
 * one chain per binding). Every binding's batch writes the table, the map,
 * the base chain and its one rule again (add is idempotent, the chains are
 * flushed before their rule), so the batch needs no state, a restart's second
 * batch changes nothing, and a missing part is made again. With add false,
 * the batch that removes the binding's element and chain. Returns the length,
 * or -1 if it does not fit.
 */
export function tunnelFilter(out: TextOut, add: bool, family: u32, peer: usize, port: u32, vni: u32): i32 {
  if (vni > 0xffffff || port == 0 || port > 0xffff) return -1;
  if (add) {
    out.ascii("add table inet hovtunnel\nadd map inet hovtunnel vni { typeof udp dport . @th,96,24 : verdict; }\n");
    out.ascii("add chain inet hovtunnel in { type filter hook input priority -200; policy accept; }\n");
    out.ascii("flush chain inet hovtunnel in\nadd rule inet hovtunnel in udp dport . @th,96,24 vmap @vni\nadd chain ");
    chainName(out, vni);
    out.ascii("\nflush chain ");
    chainName(out, vni);
    out.ascii("\nadd rule ");
    chainName(out, vni);
    out.ascii(family == FAMILY_IPV4 ? " ip saddr != " : " ip6 saddr != ");
    formatAddress(out, <i32>family, peer);
    out.ascii(" counter drop\nadd element inet hovtunnel vni { ");
    vniKey(out, port, vni);
    out.ascii(" : jump v");
    vniHex(out, vni);
    out.ascii(" }\n");
  } else {
    out.ascii("delete element inet hovtunnel vni { ");
    vniKey(out, port, vni);
    out.ascii(" }\nflush chain ");
    chainName(out, vni);
    out.ascii("\ndelete chain ");
    chainName(out, vni);
    out.ascii("\n");
  }
  return out.overflow ? -1 : out.pos;
}
