// Per-flow mode, the Session Agent (docs/PROTOCOL.md 8.16, the second seed's
// FIG. 3): only the listed flows of an address move; the node keeps the rest
// through its Interim Address. The agent keeps one flow set (a binding of its
// own) per Transfer Request with P and sorts packets by 5-tuple in the kernel:
// an nft map from the 5-tuple to a mark, policy routing by mark into the flow
// set's tunnel, and a route that sends every other packet to the node.
//
// Sans-I/O like the rest of the SID module (sid/engine.ts): this file holds
// the per-flow state and decisions; the engine's Sid calls in at a few hooks.

import { Node } from "../engine/node";
import { Peer, SecurityAssociation, CachedReply } from "../engine/peer";
import { Address, isValidFamily } from "../engine/address";
import { endEvent, bytesOf } from "../engine/output";
import { Decoded } from "../wire/decode";
import { endpointsProtocols, endpointsPortA, endpointsPortB, endpointsAddressA, endpointsAddressB } from "../wire/fields";
import { Encoder } from "../wire/encode";
import { TextOut } from "../util/text";
import { inMemory } from "../util/bytes";
import { tunnelIfindex, tunnelRoute, proxyNeighbour, markRule } from "../kernel/vxlan";
import {
  SidBase, Claim, ROLE_AGENT, KEY_BUF, MAIN_TABLE, addressOf, lifetimeOf, ids, unwrapSessionKey, toBindingKey,
  wrapSpiOf, sessionSpiOf, sessionSa, addressMessageCopy,
} from "./base";
import { SEAL_UP, SEAL_DOWN } from "../wire/sealed";
import {
  FAMILY_IPV4, EXT_FLOW, EXT_INTERIM_ADDRESS, EXT_TARGET_ADDRESS, FLAG_REVERSE_TUNNEL, FLAG_FURTHER_TRANSFER,
  CODE_ACCEPTED, CODE_ADMINISTRATIVELY_PROHIBITED, CODE_INSUFFICIENT_RESOURCES, CODE_POORLY_FORMED_REQUEST,
  CODE_ADDRESS_NOT_ALLOWED, CODE_TRANSFER_NOT_PERMITTED, CODE_UNKNOWN_BINDING, CODE_SESSION_KEY_REJECTED,
  CODE_ADDRESS_IN_USE,
} from "../generated/registry";

const IP_TCP: u8 = 6;
const IP_UDP: u8 = 17;
/**
 * Priorities of SID's policy-routing rules (`ip rule`): the target's source
 * rule in reverse mode (8.9 step 4), and right after it the agent's mark rules
 * of per-flow transfers (8.16). 0x4346 is the default port's number, chosen to
 * be recognisable in `ip rule` output, not derived from the port option.
 */
export const SID_RULE_PRIORITY: u32 = 0x4346;
export const FLOW_RULE_PRIORITY: u32 = SID_RULE_PRIORITY + 1;
/** Size of one flow in the ABI (docs/ABI.md "SID per-flow mode"). */
export const FLOW_RECORD_SIZE: i32 = 38;

const A_BUF = memory.data(16, 8);
const B_BUF = memory.data(16, 8);
const NFT_CAP: i32 = 16384;
const NFT_BUF = memory.data(NFT_CAP);
const nft = new TextOut();

// ---- a flow ------------------------------------------------------------------------------

/** A 5-tuple as the transferring node sees it (the Flow extension, 4.8). */
export class Flow {
  proto: u8 = 0;
  localPort: u16 = 0;
  remotePort: u16 = 0;
  local: Address = new Address();
  remote: Address = new Address();

  /** From a Flow extension (p: its Type byte; the decoder has checked it). */
  static fromExtension(p: usize): Flow {
    const f = new Flow();
    f.proto = endpointsProtocols(p);
    f.localPort = endpointsPortA(p);
    f.remotePort = endpointsPortB(p);
    f.local = endpointsAddressA(p);
    f.remote = endpointsAddressB(p);
    return f;
  }

  /**
   * From an ABI record of FLOW_RECORD_SIZE bytes: protocol, family, local and
   * remote port (network order), local and remote address (16 bytes each).
   * null if the record is not a valid flow.
   */
  static fromRecord(p: usize): Flow | null {
    if (!inMemory(p, FLOW_RECORD_SIZE)) return null;
    const proto = load<u8>(p);
    const family = <u32>load<u8>(p + 1);
    if ((proto != IP_TCP && proto != IP_UDP) || !isValidFamily(family)) return null;
    const f = new Flow();
    f.proto = proto;
    f.localPort = bswap<u16>(load<u16>(p + 2));
    f.remotePort = bswap<u16>(load<u16>(p + 4));
    if (f.localPort == 0 || f.remotePort == 0) return null;
    f.local = Address.read(family, p + 6);
    f.remote = Address.read(family, p + 22);
    return f;
  }

  equals(o: Flow): bool {
    return this.proto == o.proto && this.localPort == o.localPort && this.remotePort == o.remotePort && this.local.equals(o.local) && this.remote.equals(o.remote);
  }

  hash(): u32 {
    let h = this.local.key() * 0x9e3779b97f4a7c15 ^ this.remote.key();
    h ^= (<u64>this.proto << 32) | (<u64>this.localPort << 16) | <u64>this.remotePort;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9;
    h ^= h >> 32;
    return <u32>h;
  }

  write(enc: Encoder): void {
    this.local.store(A_BUF);
    this.remote.store(B_BUF);
    enc.flow(this.proto, this.local.family, this.localPort, this.remotePort, A_BUF, B_BUF);
  }

  json(out: TextOut): void {
    out.objOpen();
    out.key("protocol");
    out.str(this.proto == IP_TCP ? "tcp" : "udp");
    out.key("local");
    this.local.json(out);
    out.key("localPort");
    out.num(this.localPort);
    out.key("remote");
    this.remote.json(out);
    out.key("remotePort");
    out.num(this.remotePort);
    out.objClose();
  }

  /** The map key of 8.16, the correspondent's side first: `remote . proto . rport . local . lport`. */
  nftKey(out: TextOut): void {
    this.remote.text(out);
    out.ascii(" . ");
    out.dec(<u64>this.proto);
    out.ascii(" . ");
    out.dec(<u64>this.remotePort);
    out.ascii(" . ");
    this.local.text(out);
    out.ascii(" . ");
    out.dec(<u64>this.localPort);
  }

  /** An nft match for the flow's packets arriving (inbound) or leaving (outbound) at the node. */
  nftMatch(out: TextOut, inbound: bool): void {
    const ip = this.local.family == FAMILY_IPV4 ? "ip" : "ip6";
    const th = this.proto == IP_TCP ? "tcp" : "udp";
    out.ascii(ip);
    out.ascii(" saddr ");
    (inbound ? this.remote : this.local).text(out);
    out.ascii(" ");
    out.ascii(ip);
    out.ascii(" daddr ");
    (inbound ? this.local : this.remote).text(out);
    out.ascii(" ");
    out.ascii(th);
    out.ascii(" sport ");
    out.dec(<u64>(inbound ? this.remotePort : this.localPort));
    out.ascii(" ");
    out.ascii(th);
    out.ascii(" dport ");
    out.dec(<u64>(inbound ? this.localPort : this.remotePort));
  }
}

/**
 * The Flow extensions of the message being handled, if they are a
 * well-formed per-flow list for address a (8.16): at least one, every local
 * address a, none twice. null otherwise.
 */
export function readFlows(d: Decoded, a: Address): Array<Flow> | null {
  if (!d.has(EXT_FLOW)) return null;
  const flows = new Array<Flow>();
  for (let i = 0; i < d.extTotal; i++) {
    const p = d.at(i);
    if (load<u8>(p) != EXT_FLOW) continue;
    const f = Flow.fromExtension(p);
    if (!f.local.equals(a)) return null;
    for (let j = 0; j < flows.length; j++) if (flows[j].equals(f)) return null;
    flows.push(f);
  }
  return flows;
}

/** The Interim Address of the message being handled, if it is one for a (8.16), else null. */
export function readInterim(d: Decoded, a: Address): Address | null {
  if (!d.has(EXT_INTERIM_ADDRESS)) return null;
  const i = addressOf(d, EXT_INTERIM_ADDRESS);
  if (i.family != a.family || i.equals(a) || !i.isUsableUnicast()) return null;
  return i;
}

// ---- the agent's flow table (5-tuple -> flow set) -------------------------------------------

class FlowEntry {
  constructor(public flow: Flow, public set: FlowSet) {}
}

/**
 * Open addressing with linear probing, a tenth more slots than the flows it
 * may hold (option sidFlows); removal shifts the following entries back, so
 * a lookup never meets a tombstone. O(1) lookup, bounded memory.
 */
export class FlowTable {
  slots: StaticArray<FlowEntry | null>;
  count: i32 = 0;
  limit: i32;

  constructor(limit: i32) {
    this.limit = limit;
    this.slots = new StaticArray<FlowEntry | null>(limit + limit / 10 + 1);
  }

  private home(f: Flow): i32 {
    return <i32>(f.hash() % <u32>this.slots.length);
  }

  find(f: Flow): FlowSet | null {
    const n = this.slots.length;
    let i = this.home(f);
    for (let k = 0; k < n; k++) {
      const e = unchecked(this.slots[i]);
      if (!e) return null;
      if (e.flow.equals(f)) return e.set;
      i = i + 1 == n ? 0 : i + 1;
    }
    return null;
  }

  /** false if the table holds its limit already. */
  insert(f: Flow, s: FlowSet): bool {
    if (this.count >= this.limit) return false;
    const n = this.slots.length;
    let i = this.home(f);
    while (unchecked(this.slots[i])) i = i + 1 == n ? 0 : i + 1;
    unchecked((this.slots[i] = new FlowEntry(f, s)));
    this.count++;
    return true;
  }

  remove(f: Flow): void {
    const n = this.slots.length;
    let i = this.home(f);
    for (let k = 0; k < n; k++) {
      const e = unchecked(this.slots[i]);
      if (!e) return;
      if (e.flow.equals(f)) break;
      i = i + 1 == n ? 0 : i + 1;
    }
    if (!unchecked(this.slots[i])) return;
    unchecked((this.slots[i] = null));
    this.count--;
    // Backward shift: move up every following entry whose home is not between the hole and it.
    let j = i + 1 == n ? 0 : i + 1;
    for (;;) {
      const e = unchecked(this.slots[j]);
      if (!e) return;
      const h = this.home(e.flow);
      const between = i <= j ? h > i && h <= j : h > i || h <= j;
      if (!between) {
        unchecked((this.slots[i] = e));
        unchecked((this.slots[j] = null));
        i = j;
      }
      j = j + 1 == n ? 0 : j + 1;
    }
  }
}

// ---- the agent's flow sets -------------------------------------------------------------------

/** The flows of one Transfer Request with P: a binding of its own (8.16). */
export class FlowSet {
  group: FlowGroup;
  target: Address;
  key: StaticArray<u8> = new StaticArray<u8>(32);
  spi: u32;
  vni: u32;
  flags: u8;
  expires: f64;
  /** The target's cookie, from its first Binding Update (8.3). */
  cookie: u64 = 0;
  flows: Array<Flow>;

  constructor(group: FlowGroup, target: Address, spi: u32, vni: u32, flags: u8, expires: f64, flows: Array<Flow>) {
    this.group = group;
    this.target = target;
    this.spi = spi;
    this.vni = vni;
    this.flags = flags;
    this.expires = expires;
    this.flows = flows;
  }

  /** The flow set's mark, which is also its routing table: its tunnel's interface index (8.16). */
  get mark(): u32 { return tunnelIfindex(this.vni); }
  get reverse(): bool { return (this.flags & FLAG_REVERSE_TUNNEL) != 0; }
}

/** A Transferred Address in per-flow mode at the agent: the node's Interim Address and its flow sets. */
export class FlowGroup {
  address: Address;
  interim: Address;
  nodePeer: i32;
  sets: Array<FlowSet> = new Array<FlowSet>();
  constructor(address: Address, interim: Address, nodePeer: i32) {
    this.address = address.copy();
    this.interim = interim.copy();
    this.nodePeer = nodePeer;
  }
}

// ---- nft batches (8.16) ------------------------------------------------------------------------

function nftBegin(): TextOut {
  nft.reset(NFT_BUF, NFT_CAP);
  return nft;
}

/** The sorting table: maps f4 and f6 (5-tuple -> mark) and the prerouting chain that sets the mark. */
export function sortingTable(out: TextOut, add: bool): void {
  if (!add) {
    out.ascii("delete table inet hovflow\n");
    return;
  }
  out.ascii("add table inet hovflow\n");
  out.ascii("add map inet hovflow f4 { typeof ip saddr . meta l4proto . th sport . ip daddr . th dport : meta mark; }\n");
  out.ascii("add map inet hovflow f6 { typeof ip6 saddr . meta l4proto . th sport . ip6 daddr . th dport : meta mark; }\n");
  out.ascii("add chain inet hovflow sort { type filter hook prerouting priority -150; policy accept; }\n");
  out.ascii("add rule inet hovflow sort meta nfproto ipv4 meta mark set ip saddr . meta l4proto . th sport . ip daddr . th dport map @f4\n");
  out.ascii("add rule inet hovflow sort meta nfproto ipv6 meta mark set ip6 saddr . meta l4proto . th sport . ip6 daddr . th dport map @f6\n");
}

/** A flow set's map elements: every flow's 5-tuple to the set's mark (add), or their removal. */
export function flowElements(out: TextOut, add: bool, flows: Array<Flow>, mark: u32): void {
  for (let i = 0; i < flows.length; i++) {
    const f = flows[i];
    out.ascii(add ? "add element inet hovflow " : "delete element inet hovflow ");
    out.ascii(f.local.family == FAMILY_IPV4 ? "f4 { " : "f6 { ");
    f.nftKey(out);
    if (add) {
      out.ascii(" : 0x");
      for (let k = 7; k >= 0; k--) out.byte(<u32>"0123456789abcdef".charCodeAt(<i32>((mark >> (<u32>k * 4)) & 15)));
    }
    out.ascii(" }\n");
  }
}

function spiHex(out: TextOut, spi: u32): void {
  for (let k = 7; k >= 0; k--) out.byte(<u32>"0123456789abcdef".charCodeAt(<i32>((spi >> (<u32>k * 4)) & 15)));
}

/**
 * The transferring node's stop rule for one flow set (8.16, in place of
 * 8.12's for the whole address): chains `fi<SPI hex>` (input) and
 * `fo<SPI hex>` (output) of table `inet hovsid` drop the listed flows only.
 */
export function flowStopRule(out: TextOut, add: bool, spi: u32, flows: Array<Flow>): void {
  if (!add) {
    for (let k = 0; k < 2; k++) {
      out.ascii("flush chain inet hovsid ");
      out.ascii(k == 0 ? "fi" : "fo");
      spiHex(out, spi);
      out.ascii("\ndelete chain inet hovsid ");
      out.ascii(k == 0 ? "fi" : "fo");
      spiHex(out, spi);
      out.ascii("\n");
    }
    return;
  }
  out.ascii("add table inet hovsid\n");
  for (let k = 0; k < 2; k++) {
    out.ascii("add chain inet hovsid ");
    out.ascii(k == 0 ? "fi" : "fo");
    spiHex(out, spi);
    out.ascii(k == 0 ? " { type filter hook input priority -150; policy accept; }\n" : " { type filter hook output priority -150; policy accept; }\n");
    for (let i = 0; i < flows.length; i++) {
      out.ascii("add rule inet hovsid ");
      out.ascii(k == 0 ? "fi" : "fo");
      spiHex(out, spi);
      out.ascii(" ");
      flows[i].nftMatch(out, k == 0);
      out.ascii(" drop\n");
    }
  }
}

/**
 * The transferring node's ARP rewrite in per-flow mode (8.16): the node keeps
 * sending from the Transferred Address, so its kernel's ARP requests would
 * name it as sender (and 8.2's output chain drops those). Chain `ar<hex>` of
 * table `arp hovsid` (output hook, priority -10) gives them the Interim
 * Address as sender instead: the node still resolves its neighbours, and no
 * neighbour learns the Transferred Address from it. IPv4 only (ARP).
 */
export function arpRewrite(out: TextOut, add: bool, a: Address, interim: Address): bool {
  if (a.family != FAMILY_IPV4) return false;
  const name = "ar" + hex8(<u32>a.lo);
  if (!add) {
    out.ascii("flush chain arp hovsid " + name + "\ndelete chain arp hovsid " + name + "\n");
    return true;
  }
  out.ascii("add table arp hovsid\nadd chain arp hovsid " + name + " { type filter hook output priority -10; policy accept; }\n");
  out.ascii("add rule arp hovsid " + name + " arp operation request arp saddr ip ");
  a.text(out);
  out.ascii(" arp saddr ip set ");
  interim.text(out);
  out.ascii("\n");
  return true;
}

function hex8(v: u32): string {
  let s = "";
  for (let k = 7; k >= 0; k--) s += "0123456789abcdef".charAt(<i32>((v >> (<u32>k * 4)) & 15));
  return s;
}

// ---- the per-flow part of the SID module --------------------------------------------------------

export class SidFlows {
  /** Set by the Sid that holds this. */
  sid!: SidBase;
  private table: FlowTable | null = null;
  /** Agent: flow groups by address key (a key shared by two addresses refuses the second: 130). */
  groups: Map<u64, FlowGroup> = new Map<u64, FlowGroup>();
  /** Agent: flow sets by Session SPI (8.16: a Binding Update names its set by address and SPI). */
  bySpi: Map<u32, FlowSet> = new Map<u32, FlowSet>();
  /** Transferring node: the Interim Address pool (configuration) and the addresses taken from it. */
  pool: Array<Address> = new Array<Address>();
  taken: Array<Address> = new Array<Address>();

  flowTable(): FlowTable {
    let t = this.table;
    if (!t) {
      t = new FlowTable(this.sid.node.options.sidFlows);
      this.table = t;
    }
    return t;
  }

  get flowCount(): i32 {
    const t = this.table;
    return t ? t.count : 0;
  }

  group(a: Address): FlowGroup | null {
    const k = a.key();
    if (!this.groups.has(k)) return null;
    const g = this.groups.get(k);
    return g.address.equals(a) ? g : null;
  }

  private nftEnd(owner: Claim | null): void {
    if (!nft.overflow && nft.pos > 0) this.sid.node.nftAction(bytesOf(NFT_BUF, nft.pos), owner);
  }

  // ---- agent: Transfer Request with P (8.16) ----

  transferRequest(node: Node, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, a: Address, flags: u8, now: f64): void {
    const sid = this.sid;
    const d = node.incoming;
    const o = node.options;
    if (sa.seals) return sid.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_TRANSFER_NOT_PERMITTED, "a flow set cannot be transferred further in this version (8.16)", now);
    if (!peer.configured(a)) return sid.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_ADMINISTRATIVELY_PROHIBITED, "the peer is not configured to own this address here (peer_add_address)", now);
    const w = peer.findSa(wrapSpiOf(d));
    if (!w || !unwrapSessionKey(d, w.raw, KEY_BUF)) return sid.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_SESSION_KEY_REJECTED, "the session key did not unwrap: the Wrap SPI must name the SA", now);
    toBindingKey(KEY_BUF); // 8.11: the flow set keeps K_b, derived once
    const code = this.checkRequest(node, a, flags);
    if (code) {
      memory.fill(KEY_BUF, 0, 32);
      return sid.refuse(ROLE_AGENT, a, peer, sa, cache, code, this.why, now);
    }
    const flows = readFlows(d, a)!;
    const interim = readInterim(d, a)!;
    const target = addressOf(d, EXT_TARGET_ADDRESS);
    const vni = ids(KEY_BUF);
    const requested = lifetimeOf(d, o.sidMaxLifetimeS);
    const granted = requested < o.sidMaxLifetimeS ? requested : o.sidMaxLifetimeS;
    let g = this.group(a);
    const first = g == null;
    if (!g) {
      g = new FlowGroup(a, interim, peer.id);
      this.groups.set(a.key(), g);
    }
    const s = new FlowSet(g, target, sessionSpiOf(d), vni, flags & (FLAG_FURTHER_TRANSFER | FLAG_REVERSE_TUNNEL), now + <f64>granted * 1000, flows);
    memory.copy(changetype<usize>(s.key), KEY_BUF, 32);
    memory.fill(KEY_BUF, 0, 32);
    g.sets.push(s);
    this.bySpi.set(s.spi, s);
    sid.flowExpiresBy(s.expires);
    sid.vnis.add(vni);
    const t = this.flowTable();
    for (let i = 0; i < flows.length; i++) t.insert(flows[i], s);
    // Claim (8.16): the sorting table, the interim route and the proxy entry with the first set;
    // each set's tunnel, mark rule and map elements.
    const owner = new Claim(sid, a, ROLE_AGENT, s.spi);
    sid.actionOwner = owner;
    if (first && this.groups.size == 1) {
      sortingTable(nftBegin(), true);
      this.nftEnd(owner);
    }
    if (first) this.interimRoute(true, g);
    sid.tunnel(true, ROLE_AGENT, changetype<usize>(s.key), target, a, s.reverse, s.mark);
    sid.netlink(markRule(true, a.family, s.mark, s.mark, FLOW_RULE_PRIORITY));
    flowElements(nftBegin(), true, flows, s.mark);
    this.nftEnd(owner);
    if (first) {
      a.store(A_BUF);
      sid.netlink(proxyNeighbour(true, sid.ifindex, a.family, A_BUF));
    }
    sid.actionOwner = null;
    if (first) sid.announce(a, now);
    sid.reply(peer, sa, cache, CODE_ACCEPTED, <i32>granted, null, now);
    const e = sid.event("bound", ROLE_AGENT, a, now);
    e.key("target");
    target.json(e);
    e.key("lifetime");
    e.num(granted);
    e.key("spi");
    e.num(s.spi);
    e.key("flows");
    e.num(<u64>flows.length);
    node.emit(endEvent());
    sid.verifyParked(node, a, now);
  }

  private why: string = "";

  /** 8.16's checks after authentication and the unwrap, in order: a refusal code, or 0. */
  private checkRequest(node: Node, a: Address, flags: u8): u32 {
    const d = node.incoming;
    const o = node.options;
    if (this.sid.hasBinding(a)) {
      this.why = "the address is bound as a whole already: stop that transfer first";
      return CODE_ADDRESS_IN_USE;
    }
    const flows = readFlows(d, a);
    const interim = readInterim(d, a);
    if (!flows || !interim) {
      this.why = "a per-flow request lists its flows (local address the transferred one, none twice) and an Interim Address";
      return CODE_POORLY_FORMED_REQUEST;
    }
    const target = addressOf(d, EXT_TARGET_ADDRESS);
    if (target.family != a.family || !node.acceptsPeerAddress(target)) {
      this.why = "the target address is not a usable unicast address of the transferred address's family";
      return CODE_ADDRESS_NOT_ALLOWED;
    }
    if (lifetimeOf(d, o.sidMaxLifetimeS) == 0) {
      this.why = "a Transfer Request asks for a lifetime above 0";
      return CODE_POORLY_FORMED_REQUEST;
    }
    const g = this.group(a);
    if (!g && this.groups.has(a.key())) {
      this.why = "the flow groups' table has another address under this key";
      return CODE_INSUFFICIENT_RESOURCES;
    }
    if (g && !g.interim.equals(interim)) {
      this.why = "the address's flow sets have another Interim Address";
      return CODE_POORLY_FORMED_REQUEST;
    }
    const t = this.flowTable();
    for (let i = 0; i < flows.length; i++) {
      if (t.find(flows[i])) {
        this.why = "a listed flow is transferred already";
        return CODE_ADDRESS_IN_USE;
      }
    }
    if (t.count + flows.length > t.limit) {
      this.why = "the flow table is full (option sidFlows)";
      return CODE_INSUFFICIENT_RESOURCES;
    }
    if (this.sid.vnis.has(ids(KEY_BUF)) || this.bySpi.has(sessionSpiOf(d))) {
      this.why = "the session key's VNI or the Session SPI is in use by another binding: negotiate a new session key";
      return CODE_INSUFFICIENT_RESOURCES;
    }
    return 0;
  }

  /** The interim route of 8.16: the address's unsorted packets to the node's Interim Address. */
  private interimRoute(add: bool, g: FlowGroup): void {
    this.route(add, g.address, g.interim);
  }

  private route(add: bool, a: Address, interim: Address): void {
    const sid = this.sid;
    a.store(A_BUF);
    interim.store(B_BUF);
    sid.netlink(tunnelRoute(add, a.family, A_BUF, a.family == FAMILY_IPV4 ? 32 : 128, sid.ifindex, B_BUF, MAIN_TABLE));
  }

  /**
   * The Wake-up after the last flow set was answered or given up (8.16): the interim route it kept goes now,
   * unless the address has flow sets again (a new claim's route is the same one).
   */
  woken(a: Address, interim: Address): void {
    if (this.group(a) == null) this.route(false, a, interim);
  }

  /** Ends a flow set (8.16); with the last one of its address the interception ends, and the Wake-up goes if `wake`. */
  endSet(s: FlowSet, now: f64, reason: string, wake: bool): void {
    const sid = this.sid;
    const node = sid.node;
    const g = s.group;
    const i = g.sets.indexOf(s);
    if (i < 0) return;
    g.sets.splice(i, 1);
    this.bySpi.delete(s.spi);
    sid.flowsChanged();
    const t = this.flowTable();
    for (let k = 0; k < s.flows.length; k++) t.remove(s.flows[k]);
    flowElements(nftBegin(), false, s.flows, s.mark);
    this.nftEnd(null);
    sid.netlink(markRule(false, g.address.family, s.mark, s.mark, FLOW_RULE_PRIORITY));
    sid.tunnel(false, ROLE_AGENT, changetype<usize>(s.key), s.target, g.address, s.reverse, s.mark);
    sid.vnis.delete(s.vni);
    sid.countTarget(s.cookie, 0);
    memory.fill(changetype<usize>(s.key), 0, 32);
    let e = sid.event("ended", ROLE_AGENT, g.address, now);
    e.key("reason");
    e.str(reason);
    e.key("spi");
    e.num(s.spi);
    e.key("left");
    e.num(<u64>g.sets.length);
    node.emit(endEvent());
    if (g.sets.length > 0) return;
    // The last flow set: interception of the address ends (8.16, 8.4). With a Wake-up to send, the
    // interim route stays until the node answers it (or it is given up): until the node's gratuitous ARP
    // reaches the router, the router still sends the address's packets here, and without the route they
    // would wait in this kernel's neighbour queue for the address (the node does not answer ARP for it
    // before the Wake-up) and leave in one burst just as the router turns to the node: late datagrams.
    const wakes = wake && g.nodePeer >= 0 && g.nodePeer < node.peers.length;
    if (!wakes) this.interimRoute(false, g);
    g.address.store(A_BUF);
    sid.netlink(proxyNeighbour(false, sid.ifindex, g.address.family, A_BUF));
    sid.stopAnnouncing(g.address);
    this.groups.delete(g.address.key());
    if (this.groups.size == 0) {
      sortingTable(nftBegin(), false);
      this.nftEnd(null);
    }
    if (!wakes) return;
    const peer = node.peers[g.nodePeer];
    sid.sendWakeup(peer, g.address, g.interim, now);
  }

  // ---- agent: Binding Update, Stop Transfer, expiry, kernel failures ----

  /** The session SA of the flow set of address a under `spi` (8.16), or null. */
  sessionSa(a: Address, spi: u32): SecurityAssociation | null {
    if (!this.bySpi.has(spi)) return null;
    const s = this.bySpi.get(spi);
    if (!s.group.address.equals(a)) return null;
    return sessionSa(spi, changetype<usize>(s.key), SEAL_UP, SEAL_DOWN);
  }

  /** A Binding Update under a flow set's session SA: true if it was one (and is answered). */
  bindingUpdate(node: Node, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, a: Address, now: f64): bool {
    if (!this.bySpi.has(sa.spi)) return false;
    const s = this.bySpi.get(sa.spi);
    if (!s.group.address.equals(a)) return false;
    const sid = this.sid;
    const o = node.options;
    sid.countTarget(s.cookie, peer.cookie);
    s.cookie = peer.cookie;
    const asked = lifetimeOf(node.incoming, 0);
    if (asked == 0) {
      sid.reply(peer, sa, cache, CODE_ACCEPTED, 0, null, now);
      this.endSet(s, now, "deregistered", true);
      return true;
    }
    const granted = asked < o.sidMaxLifetimeS ? asked : o.sidMaxLifetimeS;
    s.expires = now + <f64>granted * 1000;
    sid.flowExpiresBy(s.expires);
    sid.reply(peer, sa, cache, CODE_ACCEPTED, <i32>granted, null, now);
    const e = sid.event("renewed", ROLE_AGENT, a, now);
    e.key("lifetime");
    e.num(granted);
    e.key("spi");
    e.num(s.spi);
    node.emit(endEvent());
    return true;
  }

  /** Stop Transfer for an address with flow sets (8.16). */
  stop(node: Node, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, g: FlowGroup, now: f64): void {
    const sid = this.sid;
    const a = g.address;
    if (sa.seals || !peer.configured(a)) return sid.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_ADMINISTRATIVELY_PROHIBITED, "only the node configured to own the address may stop its transfer", now);
    const d = node.incoming;
    const ending = new Array<FlowSet>();
    const listed = d.has(EXT_FLOW);
    if (listed) {
      const t = this.flowTable();
      for (let i = 0; i < d.extTotal; i++) {
        const p = d.at(i);
        if (load<u8>(p) != EXT_FLOW) continue;
        const s = t.find(Flow.fromExtension(p));
        if (!s || s.group != g) return sid.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_UNKNOWN_BINDING, "a listed flow is in no flow set of this address", now);
        if (ending.indexOf(s) < 0) ending.push(s);
      }
    } else {
      for (let i = 0; i < g.sets.length; i++) ending.push(g.sets[i]);
    }
    sid.reply(peer, sa, cache, CODE_ACCEPTED, -1, null, now);
    const e = sid.event("stopped", ROLE_AGENT, a, now);
    e.key("sets");
    e.num(<u64>ending.length);
    node.emit(endEvent());
    // Named flow sets: the Wake-up tells the node if they were the last (8.16); all of them: the reply does.
    for (let i = 0; i < ending.length; i++) this.endSet(ending[i], now, "stopped", listed);
  }

  nextExpiry(): f64 {
    let t = Infinity;
    if (this.bySpi.size == 0) return t;
    const sets = this.bySpi.values();
    for (let i = 0; i < sets.length; i++) if (sets[i].expires < t) t = sets[i].expires;
    return t;
  }

  expire(now: f64): void {
    if (this.bySpi.size == 0) return;
    const sets = this.bySpi.values();
    for (let i = 0; i < sets.length; i++) if (sets[i].expires <= now) this.endSet(sets[i], now, "expired", true);
  }

  /** A kernel action of the flow set `spi` failed: the set ends. true if there was one. */
  claimFailed(a: Address, spi: u32, now: f64): bool {
    if (!this.bySpi.has(spi)) return false;
    const s = this.bySpi.get(spi);
    if (!s.group.address.equals(a)) return false;
    this.sid.refused(ROLE_AGENT, a, 0, 0, "a kernel action of the flow set failed (see the kernel-error event): the flow set ends", now);
    this.endSet(s, now, "kernel-failed", true);
    return true;
  }

  // ---- the target (8.16) ----

  /** The target's checks of a negotiation with P: a refusal code, or 0. */
  negotiationCode(d: Decoded, a: Address, sameSubnet: bool): u32 {
    if (sameSubnet) {
      this.why = "per-flow mode moves flows through an agent only (P without S)";
      return CODE_POORLY_FORMED_REQUEST;
    }
    if (!readFlows(d, a) || !readInterim(d, a)) {
      this.why = "a per-flow negotiation lists its flows (local address the transferred one, none twice) and an Interim Address";
      return CODE_POORLY_FORMED_REQUEST;
    }
    return 0;
  }
  get reason(): string { return this.why; }

  // ---- the transferring node ----

  /** An Interim Address for a: the one its other per-flow transfers use, or a free one of the pool (then put on the home link). */
  takeInterim(a: Address, current: Address | null): Address | null {
    if (current) return current;
    for (let i = 0; i < this.pool.length; i++) {
      const p = this.pool[i];
      if (p.family != a.family) continue;
      let used = false;
      for (let k = 0; k < this.taken.length; k++) if (this.taken[k].equals(p)) used = true;
      if (used) continue;
      this.taken.push(p.copy());
      this.sid.netlink(addressMessageCopy(true, p, this.sid.ifindex));
      return p.copy();
    }
    return null;
  }

  /** Gives an Interim Address back to the pool, and off the home link. */
  returnInterim(i: Address): void {
    for (let k = this.taken.length - 1; k >= 0; k--) {
      if (this.taken[k].equals(i)) {
        this.taken.splice(k, 1);
        this.sid.netlink(addressMessageCopy(false, i, this.sid.ifindex));
      }
    }
  }

  addToPool(i: Address): void {
    for (let k = 0; k < this.pool.length; k++) if (this.pool[k].equals(i)) return;
    this.pool.push(i.copy());
  }

  applyArpRewrite(add: bool, a: Address, interim: Address): void {
    if (arpRewrite(nftBegin(), add, a, interim)) this.nftEnd(null);
  }

  applyStopRule(add: bool, spi: u32, flows: Array<Flow>): void {
    flowStopRule(nftBegin(), add, spi, flows);
    this.nftEnd(null);
  }

  // ---- the host's view ----

  json(out: TextOut): void {
    out.key("flowSets");
    out.arrOpen();
    const sets = this.bySpi.values();
    for (let i = 0; i < sets.length; i++) {
      const s = sets[i];
      out.objOpen();
      out.key("address");
      s.group.address.json(out);
      out.key("interim");
      s.group.interim.json(out);
      out.key("target");
      s.target.json(out);
      out.key("spi");
      out.num(s.spi);
      out.key("flows");
      out.arrOpen();
      for (let k = 0; k < s.flows.length; k++) s.flows[k].json(out);
      out.arrClose();
      out.objClose();
    }
    out.arrClose();
    out.key("flows");
    out.objOpen();
    out.key("count");
    out.num(<u64>this.flowCount);
    out.key("limit");
    out.num(<u64>this.sid.node.options.sidFlows);
    out.key("interimPool");
    out.num(<u64>this.pool.length);
    out.key("interimTaken");
    out.num(<u64>this.taken.length);
    out.objClose();
  }
}
