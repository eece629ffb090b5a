// The nft batches of SID's procedures (docs/PROTOCOL.md 8.2, 8.10, 8.12 and
// docs/ABI.md "SID engine"): the stop rule that keeps a moving address's
// traffic away from its sockets, and the ARP rule that keeps a node from
// answering or announcing an address it gave away.

import { Address } from "../engine/address";
import { TextOut } from "../util/text";
import { FAMILY_IPV4 } from "../generated/registry";
import { Flow } from "./flows";

const HEX = "0123456789abcdef";

function addressHex(out: TextOut, a: Address): void {
  if (a.family == FAMILY_IPV4) {
    for (let i = 7; i >= 0; i--) out.byte(<u32>HEX.charCodeAt(<i32>((a.lo >> (<u64>i * 4)) & 15)));
    return;
  }
  for (let i = 15; i >= 0; i--) out.byte(<u32>HEX.charCodeAt(<i32>((a.hi >> (<u64>i * 4)) & 15)));
  for (let i = 15; i >= 0; i--) out.byte(<u32>HEX.charCodeAt(<i32>((a.lo >> (<u64>i * 4)) & 15)));
}

function chain(out: TextOut, table: string, prefix: string, a: Address): void {
  out.ascii(table);
  out.ascii(" ");
  out.ascii(prefix);
  addressHex(out, a);
}

/** `flush chain <table> <prefix><hex>` and `delete chain` of it (emptied first: nft deletes only an empty chain). */
function deleteChain(out: TextOut, table: string, prefix: string, a: Address): void {
  out.ascii("flush chain ");
  chain(out, table, prefix, a);
  out.ascii("\ndelete chain ");
  chain(out, table, prefix, a);
  out.ascii("\n");
}

/** `add chain <table> <prefix><hex> { type filter hook <hook> priority <priority>; policy accept; }` and a newline. */
function baseChain(out: TextOut, table: string, prefix: string, a: Address, hook: string, priority: string): void {
  out.ascii("add chain ");
  chain(out, table, prefix, a);
  out.ascii(" { type filter hook ");
  out.ascii(hook);
  out.ascii(" priority ");
  out.ascii(priority);
  out.ascii("; policy accept; }\n");
}

function ipKeyword(a: Address): string {
  return a.family == FAMILY_IPV4 ? "ip" : "ip6";
}

/**
 * The stop rule for address a (PROTOCOL.md 8.12: "a repaired socket must not
 * see the peer"; the node must never answer a stray packet with a RST): in
 * table `inet hovsid`, chain `si<hex>` (input) and `so<hex>` (output), at
 * priority -150, every packet to (input) or from (output) a is dropped,
 * except TCP and UDP to or from `port` (control messages and the state
 * record). With add false, the batch that removes both chains.
 *
 * With `hold` (the target, PROTOCOL.md 8.12 "the hold"): the input chain
 * jumps, before its drop, to the regular chain `sh<hex>`, whose one rule
 * (sid/hold.ts, an xt NFQUEUE rule sent as netlink) queues the packet; the
 * drop only takes what the queue rule did not (before it is in place).
 */
export function stopRule(out: TextOut, add: bool, a: Address, port: u32, hold: bool = false): void {
  const ip = ipKeyword(a);
  if (!add) {
    const chains = hold ? 3 : 2;
    for (let k = 0; k < chains; k++) deleteChain(out, "inet hovsid", k == 0 ? "si" : k == 1 ? "so" : "sh", a);
    return;
  }
  out.ascii("add table inet hovsid\n");
  if (hold) {
    out.ascii("add chain ");
    chain(out, "inet hovsid", "sh", a);
    out.ascii("\n");
  }
  for (let k = 0; k < 2; k++) {
    const p = k == 0 ? "si" : "so";
    const dir = k == 0 ? " daddr " : " saddr ";
    out.ascii("add chain ");
    chain(out, "inet hovsid", p, a);
    out.ascii(k == 0 ? " { type filter hook input priority -150; policy accept; }\n" : " { type filter hook output priority -150; policy accept; }\n");
    for (let j = 0; j < 2; j++) {
      out.ascii("add rule ");
      chain(out, "inet hovsid", p, a);
      out.ascii(" ");
      out.ascii(ip);
      out.ascii(dir);
      a.text(out);
      out.ascii(j == 0 ? " meta l4proto { tcp, udp } th dport " : " meta l4proto { tcp, udp } th sport ");
      out.dec(<u64>port);
      out.ascii(" accept\n");
    }
    if (hold && k == 0) {
      out.ascii("add rule ");
      chain(out, "inet hovsid", p, a);
      out.ascii(" ");
      out.ascii(ip);
      out.ascii(dir);
      a.text(out);
      out.ascii(" jump sh");
      addressHex(out, a);
      out.ascii("\n");
    }
    out.ascii("add rule ");
    chain(out, "inet hovsid", p, a);
    out.ascii(" ");
    out.ascii(ip);
    out.ascii(dir);
    a.text(out);
    out.ascii(" drop\n");
  }
}

/** The hold chain's name, `sh<hex>` (for the netlink queue rule). */
export function holdChainName(a: Address): string {
  let s = "sh";
  const n = a.family == FAMILY_IPV4 ? 8 : 32;
  for (let i = n - 1; i >= 0; i--) {
    const v = i >= 16 ? a.hi >> (<u64>(i - 16) * 4) : a.lo >> (<u64>i * 4);
    s += HEX.charAt(<i32>(v & 15));
  }
  return s;
}

/**
 * The UDP flows that pass the stop rule of address a (PROTOCOL.md 8.12, "UDP
 * flows"): for each flow (local address a), rules inserted at the head of
 * chains `si<hex>` (datagrams from its remote address and port to its local
 * port) and `so<hex>` (the reverse), accepted, so that the flow's socket
 * keeps receiving and sending while the address moves. The chains are the
 * stop rule's and go with it. Nothing is written for an empty list.
 */
export function udpPassRule(out: TextOut, a: Address, flows: Array<Flow>): void {
  const ip = ipKeyword(a);
  for (let i = 0; i < flows.length; i++) {
    const f = flows[i];
    for (let k = 0; k < 2; k++) {
      out.ascii("insert rule ");
      chain(out, "inet hovsid", k == 0 ? "si" : "so", a);
      // Input: from the remote end to the flow's port; output: the reverse.
      out.ascii(" ");
      out.ascii(ip);
      out.ascii(" saddr ");
      (k == 0 ? f.remote : a).text(out);
      out.ascii(" ");
      out.ascii(ip);
      out.ascii(" daddr ");
      (k == 0 ? a : f.remote).text(out);
      out.ascii(" udp sport ");
      out.dec(<u64>(k == 0 ? f.remotePort : f.localPort));
      out.ascii(" udp dport ");
      out.dec(<u64>(k == 0 ? f.localPort : f.remotePort));
      out.ascii(" accept\n");
    }
  }
}

/**
 * The agent's reverse-path filter in reverse mode (PROTOCOL.md 8.9 step 5):
 * in table `inet hovsid`, one base chain `rp` (prerouting hook, priority
 * -200) looks up each packet's input interface in the verdict map `rpif`;
 * the tunnel device `ifindex` jumps to the binding's regular chain
 * `rp<VNI hex>`, which drops a packet from any source but the Transferred
 * Address a, so the target can forward nothing else through the agent. One
 * hook and one lookup per packet however many bindings there are; every
 * binding's batch writes the map, the base chain and its rule again
 * (idempotent, as tunnelFilter's). With add false, the batch that removes the
 * binding's element and chain.
 */
export function reversePathRule(out: TextOut, add: bool, vni: u32, ifindex: u32, a: Address): void {
  if (!add) {
    out.ascii("delete element inet hovsid rpif { ");
    out.dec(<u64>ifindex);
    out.ascii(" }\nflush chain inet hovsid rp");
    vniText(out, vni);
    out.ascii("\ndelete chain inet hovsid rp");
    vniText(out, vni);
    out.ascii("\n");
    return;
  }
  out.ascii("add table inet hovsid\nadd map inet hovsid rpif { typeof meta iif : verdict; }\n");
  out.ascii("add chain inet hovsid rp { type filter hook prerouting priority -200; policy accept; }\n");
  out.ascii("flush chain inet hovsid rp\nadd rule inet hovsid rp meta iif vmap @rpif\nadd chain inet hovsid rp");
  vniText(out, vni);
  out.ascii("\nflush chain inet hovsid rp");
  vniText(out, vni);
  out.ascii("\nadd rule inet hovsid rp");
  vniText(out, vni);
  out.ascii(" ");
  out.ascii(ipKeyword(a));
  out.ascii(" saddr != ");
  a.text(out);
  out.ascii(" drop\nadd element inet hovsid rpif { ");
  out.dec(<u64>ifindex);
  out.ascii(" : jump rp");
  vniText(out, vni);
  out.ascii(" }\n");
}

function vniText(out: TextOut, vni: u32): void {
  for (let i = 5; i >= 0; i--) out.byte(<u32>HEX.charCodeAt(<i32>((vni >> (<u32>i * 4)) & 15)));
}

/**
 * The ARP rule for the IPv4 address a (PROTOCOL.md 8.2, 8.10): in table `arp
 * hovsid`, chain `ai<hex>` (input) drops ARP requests for a (on every
 * interface but `exceptIfindex`, if not 0); with `announce` false also chain
 * `ao<hex>` (output) drops ARP packets with a as sender, so the node neither
 * answers for a nor puts it in anyone's cache. For IPv6 the same with
 * Neighbour Discovery (8.18, ndRule).
 */
export function arpRule(out: TextOut, add: bool, a: Address, exceptIfindex: u32, announce: bool): bool {
  return silence(out, add, a, exceptIfindex, announce, a.family == FAMILY_IPV4);
}

/**
 * IPv6's ARP rule (PROTOCOL.md 8.18): in table `inet hovsid`, chain
 * `ni<hex>` (input, priority -150) drops Neighbour Solicitations whose target
 * is a (on every interface but `exceptIfindex`, if not 0), and with
 * `announce` false chain `no<hex>` (output) drops Neighbour Advertisements of
 * a, so the node neither answers for a nor puts it in anyone's cache. The
 * target address is the 16 bytes at offset 8 of the ICMPv6 message.
 */
export function ndRule(out: TextOut, add: bool, a: Address, exceptIfindex: u32, announce: bool): bool {
  return silence(out, add, a, exceptIfindex, announce, false);
}

/** The ARP rule (arp) or the ND rule: the same two chains in their table, with ARP's or ICMPv6's matches. */
function silence(out: TextOut, add: bool, a: Address, exceptIfindex: u32, announce: bool, arp: bool): bool {
  const table = arp ? "arp hovsid" : "inet hovsid";
  const inName = arp ? "ai" : "ni";
  const outName = arp ? "ao" : "no";
  const priority = arp ? "0" : "-150";
  if (!add) {
    out.ascii("flush chain ");
    chain(out, table, inName, a);
    out.ascii("\ndelete chain ");
    chain(out, table, inName, a);
    out.ascii("\n");
    if (!announce) {
      out.ascii("flush chain ");
      chain(out, table, outName, a);
      out.ascii("\ndelete chain ");
      chain(out, table, outName, a);
      out.ascii("\n");
    }
    return true;
  }
  out.ascii("add table ");
  out.ascii(table);
  out.ascii("\n");
  baseChain(out, table, inName, a, "input", priority);
  out.ascii("add rule ");
  chain(out, table, inName, a);
  if (exceptIfindex) {
    out.ascii(" meta iif != ");
    out.dec(<u64>exceptIfindex);
  }
  if (arp) {
    out.ascii(" arp operation request arp daddr ip ");
    a.text(out);
  } else {
    out.ascii(" icmpv6 type nd-neighbor-solicit @th,64,128 0x");
    addressHex(out, a);
  }
  out.ascii(" drop\n");
  if (!announce) {
    baseChain(out, table, outName, a, "output", priority);
    out.ascii("add rule ");
    chain(out, table, outName, a);
    if (arp) {
      out.ascii(" arp saddr ip ");
      a.text(out);
    } else {
      out.ascii(" icmpv6 type nd-neighbor-advert @th,64,128 0x");
      addressHex(out, a);
    }
    out.ascii(" drop\n");
  }
  return true;
}

/**
 * The node's hand-on (PROTOCOL.md 8.12 "the hold at the node"): in table
 * `ip hovsid` (IPv6: `ip6 hovsid`; nft's `dup` has no inet form), base chain
 * `sf<hex>` (input hook, priority -160: before the stop rule's -150), the
 * packets to address a that the stop rule would drop (not TCP or UDP to or
 * from the control port `port`, not the UDP flows that pass the stop rule)
 * are, with `agent` null, queued (a jump to the regular chain `sq<hex>`, whose
 * one rule, sid/hold.ts, is the NFQUEUE rule sent as netlink), and with
 * `agent`, copied unchanged to the agent's address on its link (`dup to`, the
 * kernel's nf_dup: the frame goes to the agent's link-layer address, the IP
 * packet as it came, TTL - 1) and the original dropped. `replace`: the chain
 * stands; its rules are replaced in the same batch (flush chain: no hook is
 * unregistered, so the queue keeps what it holds). With add false, the batch
 * that removes the chains (`sq` too if `queued`).
 */
export function forwardRule(out: TextOut, add: bool, a: Address, port: u32, agent: Address | null, pass: Array<Flow>, replace: bool = false, queued: bool = false): void {
  const ip = ipKeyword(a);
  const table = a.family == FAMILY_IPV4 ? "ip hovsid" : "ip6 hovsid";
  if (!add) {
    const chains = queued ? 2 : 1;
    for (let k = 0; k < chains; k++) {
      const p = k == 0 ? "sf" : "sq";
      out.ascii("flush chain ");
      chain(out, table, p, a);
      out.ascii("\ndelete chain ");
      chain(out, table, p, a);
      out.ascii("\n");
    }
    return;
  }
  if (replace) {
    out.ascii("flush chain ");
    chain(out, table, "sf", a);
    out.ascii("\n");
  } else {
    out.ascii("add table ");
    out.ascii(table);
    out.ascii("\n");
    if (!agent) {
      out.ascii("add chain ");
      chain(out, table, "sq", a);
      out.ascii("\n");
    }
    baseChain(out, table, "sf", a, "input", "-160");
  }
  for (let j = 0; j < 2; j++) {
    out.ascii("add rule ");
    chain(out, table, "sf", a);
    out.ascii(" ");
    out.ascii(ip);
    out.ascii(" daddr ");
    a.text(out);
    out.ascii(j == 0 ? " meta l4proto { tcp, udp } th dport " : " meta l4proto { tcp, udp } th sport ");
    out.dec(<u64>port);
    out.ascii(" accept\n");
  }
  for (let i = 0; i < pass.length; i++) forwardPass(out, table, a, pass[i]);
  out.ascii("add rule ");
  chain(out, table, "sf", a);
  out.ascii(" ");
  out.ascii(ip);
  out.ascii(" daddr ");
  a.text(out);
  out.ascii(" counter");
  if (agent) {
    out.ascii(" dup to ");
    agent.text(out);
    out.ascii(" drop\n");
  } else {
    out.ascii(" jump sq");
    addressHex(out, a);
    out.ascii("\n");
  }
}

/** A UDP flow that passes the stop rule passes the hand-on too (inserted at the head of `sf<hex>`). */
export function forwardPassRule(out: TextOut, a: Address, flows: Array<Flow>): void {
  const table = a.family == FAMILY_IPV4 ? "ip hovsid" : "ip6 hovsid";
  for (let i = 0; i < flows.length; i++) forwardPass(out, table, a, flows[i], true);
}

function forwardPass(out: TextOut, table: string, a: Address, f: Flow, insert: bool = false): void {
  const ip = ipKeyword(a);
  out.ascii(insert ? "insert rule " : "add rule ");
  chain(out, table, "sf", a);
  out.ascii(" ");
  out.ascii(ip);
  out.ascii(" saddr ");
  f.remote.text(out);
  out.ascii(" ");
  out.ascii(ip);
  out.ascii(" daddr ");
  a.text(out);
  out.ascii(" udp sport ");
  out.dec(<u64>f.remotePort);
  out.ascii(" udp dport ");
  out.dec(<u64>f.localPort);
  out.ascii(" accept\n");
}

/** The node's queue chain's name, `sq<hex>` (for the netlink queue rule). */
export function nodeQueueChainName(a: Address): string {
  return "sq" + holdChainName(a).substring(2);
}

/**
 * Empties SID's chains of address a without deleting them (a base chain's
 * removal flushes every NFQUEUE queue, sid/hold.ts): the stop rule's `si`
 * and `so` (`stop`), the target's hold chain `sh` (`hold`), the node's
 * hand-on chain `sf` (`handOn`). An emptied base chain accepts everything.
 */
export function flushChains(out: TextOut, a: Address, stop: bool, hold: bool, handOn: bool): void {
  if (stop) {
    const chains = hold ? 3 : 2;
    for (let k = 0; k < chains; k++) {
      out.ascii("flush chain ");
      chain(out, "inet hovsid", k == 0 ? "si" : k == 1 ? "so" : "sh", a);
      out.ascii("\n");
    }
  }
  if (handOn) {
    out.ascii("flush chain ");
    chain(out, a.family == FAMILY_IPV4 ? "ip hovsid" : "ip6 hovsid", "sf", a);
    out.ascii("\n");
  }
}

/**
 * The agent's hold while its Wake-up is under way (PROTOCOL.md 8.4): a
 * whole-address binding ended (expiry, deregistration) and its tunnel and
 * proxy entry went, but until the node's gratuitous ARP reaches them the
 * router and the address's neighbours still send its packets here. In table
 * `inet hovsid`, base chain `wk<hex>` (prerouting hook, priority -150, before the routing decision): every
 * packet to a jumps to the regular chain `wq<hex>`, whose one rule
 * (sid/hold.ts, the xt NFQUEUE rule sent as netlink) queues it, until the
 * node's Wake-up Ack (the node has announced the address and removed its
 * stop rule) or the Wake-up's give-up; then `wk<hex>` is emptied and the
 * queued packets repeated (NF_REPEAT): routed then, they go on to the node. With add
 * false, the batch that removes both chains. `again`: the chains stand
 * (emptied, waiting to be deleted): the queue chain is emptied first, so
 * that it holds one queue rule.
 */
export function wakeHoldRule(out: TextOut, add: bool, a: Address, again: bool = false): void {
  if (!add) {
    deleteChain(out, "inet hovsid", "wk", a);
    deleteChain(out, "inet hovsid", "wq", a);
    return;
  }
  out.ascii("add table inet hovsid\nadd chain ");
  chain(out, "inet hovsid", "wq", a);
  out.ascii("\n");
  if (again) {
    out.ascii("flush chain ");
    chain(out, "inet hovsid", "wq", a);
    out.ascii("\n");
  }
  baseChain(out, "inet hovsid", "wk", a, "prerouting", "-150");
  out.ascii("add rule ");
  chain(out, "inet hovsid", "wk", a);
  out.ascii(" ");
  out.ascii(ipKeyword(a));
  out.ascii(" daddr ");
  a.text(out);
  out.ascii(" counter jump wq");
  addressHex(out, a);
  out.ascii("\n");
}

/** The agent's Wake-up hold's queue chain, `wq<hex>` (for the netlink queue rule). */
export function wakeQueueChainName(a: Address): string {
  return "wq" + holdChainName(a).substring(2);
}

/** Empties the agent's Wake-up hold's base chain `wk<hex>` (not deleted: a base chain's removal flushes every queue). */
export function flushWakeHold(out: TextOut, a: Address): void {
  out.ascii("flush chain ");
  chain(out, "inet hovsid", "wk", a);
  out.ascii("\n");
}
