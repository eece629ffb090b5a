// The nftables ruleset of the STEM data plane (docs/dataplane.md), computed in
// the core and applied by the host with one libnftables call per change.
//
// One table, `inet handover`, owned by the daemon. Every change rewrites the
// two rewrite chains in one transaction (flush + add), so the kernel never
// sees half a change:
//
//   chain tag  (type filter, hook output, priority -450): held moves' packets
//               get the hold mark; chain hold (-400) queues marked packets
//               (kernel/nfqueue.ts), and released ones continue from there
//   chain out  (type route, hook output, priority -150: after conntrack, and a
//               changed address re-routes the packet)
//       1. our moves:   original source -> wire source
//       2. peer moves:  original destination -> wire destination
//                       (while unvalidated: a named byte quota drops the excess)
//   chain in   (type filter, hook prerouting, priority -300: before conntrack)
//       1. peer moves:  quarantined, then current wire source -> original source
//       2. our moves:   current, then quarantined wire destination -> original
//
// Each rule tests one field and sets the same field, so a local and a remote
// move of one session compose: outbound, rule 1 matches the original
// destination before rule 2 changes it; inbound, rule 3 matches the original
// source after rule 2 restored it. Rules name the transport protocol so the
// kernel fixes the TCP/UDP checksum. Comments carry the move (`hov1 ...`), so a
// restarted daemon can read its table back.

import { Move, Quarantine } from "../stem/move";
import { Address } from "../engine/address";
import { TextOut } from "../util/text";
import { FAMILY_IPV4, PROTO_TCP, PROTO_UDP, DEFAULT_PORT } from "../generated/registry";
import { HOLD_MARK } from "./nfqueue";

export const TABLE: string = "inet handover";

const CAP: i32 = 65536;

/**
 * The chains, in hook order on output: tag (-450) marks held packets, hold
 * (-400) queues them, out (-150, after conntrack's -200) rewrites; and in
 * (prerouting -300, before conntrack) rewrites back. A queued packet re-enters
 * at the next hook entry after hold, so it is rewritten and re-routed with the
 * rules of the moment it is released (docs/dataplane.md section 2).
 */
/**
 * Creates the table (if missing) with a comment that says, in `nft list`
 * output, whose it is and how to remove it (nft also warns that a table with
 * the hold's compat rule is "managed by iptables-nft": it is not).
 */
const ADD_TABLE = "add table inet handover { comment \"handover daemon (STEM session mobility): its rules; remove with handover down\"; }\n";

const CHAINS: string =
  "add chain inet handover tag { type filter hook output priority -450; policy accept; }\n" +
  "add chain inet handover hold { type filter hook output priority -400; policy accept; }\n" +
  "add chain inet handover out { type route hook output priority -150; policy accept; }\n" +
  "add chain inet handover in { type filter hook prerouting priority -300; policy accept; }\n";
const BUF = memory.data(CAP);
const out = new TextOut();

function ipKeyword(a: Address): string {
  return a.family == FAMILY_IPV4 ? "ip" : "ip6";
}

function protoList(protocols: u8): StaticArray<string> {
  if (protocols == PROTO_TCP) return ["tcp"];
  if (protocols == PROTO_UDP) return ["udp"];
  return ["tcp", "udp"];
}

function addr(a: Address): void {
  a.text(out);
}

function addrSet(list: Array<Address>, family: u8): void {
  let n = 0;
  for (let i = 0; i < list.length; i++) if (list[i].family == family) n++;
  if (n == 1) {
    for (let i = 0; i < list.length; i++) if (list[i].family == family) addr(list[i]);
    return;
  }
  out.ascii("{ ");
  let first = true;
  for (let i = 0; i < list.length; i++) {
    if (list[i].family != family) continue;
    if (!first) out.ascii(", ");
    addr(list[i]);
    first = false;
  }
  out.ascii(" }");
}

function indexOfAddress(list: Array<Address>, a: Address): i32 {
  for (let i = 0; i < list.length; i++) if (list[i].equals(a)) return i;
  return -1;
}

function hasFamily(list: Array<Address>, family: u8): bool {
  for (let i = 0; i < list.length; i++) if (list[i].family == family) return true;
  return false;
}

/** The control ports: the control channel itself is never rewritten. */
let controlPorts: Array<u32> = [<u32>DEFAULT_PORT];

/** `tcp sport 5001`, or for all ports `meta l4proto tcp`. */
function portMatch(proto: string, which: string, port: u32): void {
  if (port != 0) {
    out.ascii(proto);
    out.ascii(which);
    out.dec(port);
    return;
  }
  out.ascii("meta l4proto ");
  out.ascii(proto);
}

/**
 * The first rules of a chain: the control channel is never rewritten. (One
 * rule per port field: nft merges adjacent `!=` port matches into one
 * comparison of both ports, which is not the same test.)
 */
function exemptControl(chain: string): void {
  rule(chain);
  out.ascii("udp sport ");
  portSet();
  out.ascii(" accept comment \"hov1 control\"\n");
  rule(chain);
  out.ascii("udp dport ");
  portSet();
  out.ascii(" accept comment \"hov1 control\"\n");
}

function portSet(): void {
  if (controlPorts.length == 1) {
    out.dec(controlPorts[0]);
    return;
  }
  out.ascii("{ ");
  for (let i = 0; i < controlPorts.length; i++) {
    if (i) out.ascii(", ");
    out.dec(controlPorts[i]);
  }
  out.ascii(" }");
}

/** ` counter comment "hov1 ..."`: ends a rule that has no verdict. */
function comment(m: Move): void {
  out.ascii(" counter");
  tag(m);
}

/** ` comment "hov1 <id> <L|R> <peer cookie> <protocols> <orig>/<port> <wire>/<port>"`, and the newline. */
function tag(m: Move): void {
  out.ascii(" comment \"hov1 ");
  out.dec(m.id);
  out.ascii(m.local ? " L " : " R ");
  const c = m.peer.cookie;
  for (let s = 40; s >= 0; s -= 8) out.hexByte(<u32>(c >> <u64>s) & 0xff);
  out.byte(0x20);
  out.dec(m.protocols);
  out.byte(0x20);
  addr(m.orig);
  out.byte(0x2f);
  out.dec(m.origPort);
  out.byte(0x20);
  addr(m.wire);
  out.byte(0x2f);
  out.dec(m.wirePort);
  out.ascii("\"\n");
}

function rule(chain: string): void {
  out.ascii("add rule ");
  out.ascii(TABLE);
  out.byte(0x20);
  out.ascii(chain);
  out.byte(0x20);
}

function quotaName(m: Move): void {
  out.ascii("hq");
  out.dec(m.id);
}

// Which end of the packet a rule looks at: its source (saddr, sport) or its destination.
const SOURCE: bool = true;
const DESTINATION: bool = false;

/**
 * The head of a rule: `add rule inet handover <chain> ip <s|d>addr A [ip <d|s>addr SCOPE] <port match> `.
 * It matches address `a` (and port `port`) at one end of the packet and, if
 * scope is given, one of the scope's addresses at the other end. False (and
 * nothing written) if the scope has no address of a's family.
 */
function head(chain: string, proto: string, end: bool, a: Address, port: u32, scope: Array<Address> | null): bool {
  if (scope && !hasFamily(scope, a.family)) return false;
  const ip = ipKeyword(a);
  rule(chain);
  out.ascii(ip);
  out.ascii(end == SOURCE ? " saddr " : " daddr ");
  addr(a);
  out.byte(0x20);
  if (scope) {
    out.ascii(ip);
    out.ascii(end == SOURCE ? " daddr " : " saddr ");
    addrSet(scope, a.family);
    out.byte(0x20);
  }
  portMatch(proto, end == SOURCE ? " sport " : " dport ", port);
  return true;
}

/** The rewrite statements: ` ip <s|d>addr set B [proto <s|d>port set P]`. */
function rewrite(proto: string, end: bool, b: Address, portFrom: u32, portTo: u32): void {
  out.byte(0x20);
  out.ascii(ipKeyword(b));
  out.ascii(end == SOURCE ? " saddr set " : " daddr set ");
  addr(b);
  if (portTo != portFrom) {
    out.byte(0x20);
    out.ascii(proto);
    out.ascii(end == SOURCE ? " sport set " : " dport set ");
    out.dec(portTo);
  }
}

/** Outbound rule of a local move (ours): original source to wire source. */
function localOut(m: Move, proto: string): void {
  if (!m.sendsAway || !head("out", proto, SOURCE, m.orig, m.origPort, m.scope)) return;
  rewrite(proto, SOURCE, m.outWire, m.origPort, m.outWirePort);
  comment(m);
}

/** The tag rule of a held local move: its original packets get the hold mark. */
function holdTag(m: Move, proto: string): void {
  if (!head("tag", proto, SOURCE, m.orig, m.origPort, m.scope)) return;
  markHeld();
  comment(m);
}

/** ` meta mark set meta mark or 0x10000000`: the packet is held. */
function markHeld(): void {
  out.ascii(" meta mark set meta mark or ");
  hex32(HOLD_MARK);
}

/**
 * The out chain's first rule: a released packet drops the hold mark, which
 * makes the kernel route it again (a route chain re-routes a packet whose
 * mark it changed) with the routes of the moment it leaves. Without that, a
 * packet the guard held while only the last-resort route existed would keep
 * that route (lo) and be lost when no rewrite re-routes it.
 */
function released(): void {
  out.ascii("add rule inet handover out ");
  heldMatch();
  out.ascii(" meta mark set meta mark & ");
  hex32(~HOLD_MARK);
  out.ascii(" counter comment \"hov1 released\"\n");
}

/** `meta mark & 0x10000000 == 0x10000000`: the packet was held. */
function heldMatch(): void {
  out.ascii("meta mark & ");
  hex32(HOLD_MARK);
  out.ascii(" == ");
  hex32(HOLD_MARK);
}

function hex32(v: u32): void {
  out.ascii("0x");
  for (let s = 24; s >= 0; s -= 8) out.hexByte((v >> <u32>s) & 0xff);
}

/**
 * The hold chain's last rule: a marked packet that no queue rule took is
 * dropped. The queue rule (kernel/nfqueue.ts) is prepended to the chain, but
 * it is a separate netlink batch: after the table was re-created, until it is
 * back, a held packet would otherwise go on to the rewrite, leave from the new
 * address before the peer has its rules, and draw a reset (docs/dataplane.md
 * section 2). A dropped packet is only retransmitted.
 */
function holdFallback(): void {
  out.ascii("add rule inet handover hold ");
  heldMatch();
  out.ascii(" counter drop comment \"hov1 unqueued\"\n");
}

/** Inbound rule of a local move: wire destination back to the original. */
function localIn(m: Move, proto: string): void {
  if (!m.receivesAway || !head("in", proto, DESTINATION, m.wire, m.wirePort, m.scope)) return;
  rewrite(proto, DESTINATION, m.orig, m.wirePort, m.origPort);
  comment(m);
}

/** Outbound rules of a remote move (the peer's): original destination to wire destination. */
function remoteOut(m: Move, proto: string): void {
  if (m.unvalidated) {
    // Until the new address is validated, a named quota caps what goes there (section 7.5).
    head("out", proto, DESTINATION, m.orig, m.origPort, null);
    out.ascii(" quota name \"");
    quotaName(m);
    out.ascii("\" counter drop");
    tag(m);
  }
  head("out", proto, DESTINATION, m.orig, m.origPort, null);
  rewrite(proto, DESTINATION, m.wire, m.origPort, m.wirePort);
  comment(m);
}

/** Inbound rule of a remote move: wire source back to the original. */
function remoteIn(m: Move, proto: string): void {
  head("in", proto, SOURCE, m.wire, m.wirePort, null);
  rewrite(proto, SOURCE, m.orig, m.wirePort, m.origPort);
  comment(m);
}

/** Inbound rule of a quarantined wire endpoint: late packets mapped onto the session. */
function quarantineIn(q: Quarantine, proto: string): void {
  // Ours: packets to the address we left; the peer's: packets from the address it left.
  const end = q.local ? DESTINATION : SOURCE;
  if (!head("in", proto, end, q.address, q.port, q.local ? q.scope : null)) return;
  rewrite(proto, end, q.orig, q.port, q.origPort);
  out.ascii(" counter comment \"hov1 quarantine\"\n");
}

/** Tracks which named quotas exist in the kernel, to create and delete them. */
export class Dataplane {
  quotas: Set<u32> = new Set<u32>();
  quotaBytes: u64 = 1048576;
  /** Set once the table and chains are known to exist. */
  created: bool = false;
  /** Set after a batch failed: the kernel's state is unknown, so the next batch starts afresh. */
  dirty: bool = false;
  /** Set when a batch deleted the table: the queue rule must be sent again. */
  holdLost: bool = false;

  /** A batch failed (libnftables applies a batch whole or not at all). */
  failed(): void {
    this.dirty = true;
  }

  /**
   * The whole ruleset as one nft batch. Returns its length at BUF (see
   * batchPtr), or -1 if it does not fit (more than 64 KiB of rules).
   */
  /** The guard's hold: packets only the last-resort route (via lo) would carry wait in the queue. */
  guard: bool = false;

  render(moves: Array<Move>, quarantines: Array<Quarantine>, ports: Array<u32>, lost: Array<Address>): i32 {
    controlPorts = ports;
    out.reset(BUF, CAP);
    out.ascii(ADD_TABLE);
    if (this.dirty) {
      // Start from nothing: quotas we believe in may not exist.
      out.ascii("delete table inet handover\n");
      out.ascii(ADD_TABLE);
      this.quotas = new Set<u32>();
      this.dirty = false;
      this.holdLost = true;
    }
    out.ascii(CHAINS);
    if (this.holdLost) holdFallback();
    out.ascii("flush chain inet handover tag\n");
    out.ascii("flush chain inet handover out\n");
    out.ascii("flush chain inet handover in\n");
    // Named quotas for unvalidated remote moves: create new ones first.
    const wanted = new Set<u32>();
    for (let i = 0; i < moves.length; i++) {
      const m = moves[i];
      if (m.local || !m.unvalidated || m.identity) continue;
      wanted.add(m.id);
      if (!this.quotas.has(m.id)) {
        out.ascii("add quota inet handover ");
        quotaName(m);
        out.ascii(" { over ");
        out.dec(this.quotaBytes);
        out.ascii(" bytes }\n");
      }
    }
    let any = quarantines.length > 0;
    let anyHeld = false;
    for (let i = 0; i < moves.length; i++) {
      if (!moves[i].identity) any = true;
      if (moves[i].local && moves[i].held) anyHeld = true;
    }
    if (any) {
      exemptControl("out");
      exemptControl("in");
    }
    if (anyHeld || this.guard || lost.length > 0) exemptControl("tag");
    // A lost address whose sessions are not known yet: all its packets wait,
    // except those of sessions already moved away from it (make-before-break
    // ends with the old address going: they leave from the new one).
    for (let i = 0; i < moves.length && lost.length > 0; i++) {
      const m = moves[i];
      if (!m.local || m.held || !m.sendsAway || indexOfAddress(lost, m.orig) < 0) continue;
      const protos = protoList(m.protocols);
      for (let j = 0; j < protos.length; j++) {
        if (!head("tag", protos[j], SOURCE, m.orig, m.origPort, m.scope)) continue;
        out.ascii(" return");
        tag(m);
      }
    }
    for (let i = 0; i < lost.length; i++) {
      rule("tag");
      out.ascii(ipKeyword(lost[i]));
      out.ascii(" saddr ");
      addr(lost[i]);
      markHeld();
      out.ascii(" counter comment \"hov1 lost\"\n");
    }
    if (this.guard) {
      out.ascii("add rule inet handover tag meta oif \"lo\" fib daddr type != local");
      markHeld();
      out.ascii(" counter comment \"hov1 guard\"\n");
    }
    // tag: the held moves' packets get the hold mark (the hold chain queues them).
    for (let i = 0; i < moves.length; i++) {
      const m = moves[i];
      if (!m.local || !m.held) continue;
      const protos = protoList(m.protocols);
      for (let j = 0; j < protos.length; j++) holdTag(m, protos[j]);
    }
    if (any || anyHeld || this.guard || lost.length > 0) released();
    // out: local moves, then remote moves; in each, port-specific moves before
    // port-wide ones. Rules carry no verdict, but once a rule rewrote a packet's
    // address the rules of other moves from that address no longer match it:
    // of overlapping moves, the first match wins, and the most specific is first.
    for (let pass = 0; pass < 4; pass++) {
      for (let i = 0; i < moves.length; i++) {
        const m = moves[i];
        if (m.identity || m.local != (pass < 2) || (m.origPort != 0) != ((pass & 1) == 0)) continue;
        const protos = protoList(m.protocols);
        for (let j = 0; j < protos.length; j++) {
          if (m.local) localOut(m, protos[j]);
          else remoteOut(m, protos[j]);
        }
      }
    }
    // in: the peer's endpoints first (quarantined, then current), so that
    // our rules see the peer's original source; then ours (current, quarantined).
    for (let pass = 0; pass < 4; pass++) {
      const local = pass >= 2;
      const quarantine = pass == 0 || pass == 3;
      if (quarantine) {
        for (let i = 0; i < quarantines.length; i++) {
          const q = quarantines[i];
          if (q.local != local) continue;
          const protos = protoList(q.protocols);
          for (let j = 0; j < protos.length; j++) quarantineIn(q, protos[j]);
        }
        continue;
      }
      for (let specific = 1; specific >= 0; specific--) {
        for (let i = 0; i < moves.length; i++) {
          const m = moves[i];
          if (m.identity || m.local != local || (m.origPort != 0) != (specific == 1)) continue;
          const protos = protoList(m.protocols);
          for (let j = 0; j < protos.length; j++) {
            if (m.local) localIn(m, protos[j]);
            else remoteIn(m, protos[j]);
          }
        }
      }
    }
    // Quotas no longer referenced go after the flush that removed their rules.
    const existing = this.quotas.values();
    for (let i = 0; i < existing.length; i++) {
      const id = existing[i];
      if (wanted.has(id)) continue;
      out.ascii("delete quota inet handover hq");
      out.dec(id);
      out.byte(0x0a);
    }
    this.quotas = wanted;
    this.created = true;
    return out.overflow ? -1 : out.pos;
  }

  /** The table and chains, and an empty hold chain, before the queue rule goes in (kernelSetup). */
  renderSetup(): i32 {
    out.reset(BUF, CAP);
    out.ascii(ADD_TABLE);
    out.ascii(CHAINS);
    // The rewrite chains keep what a previous run left until the next render
    // replaces it in one transaction; the queue rule is sent again.
    out.ascii("flush chain inet handover hold\n");
    holdFallback();
    this.dirty = false;
    return out.pos;
  }

  /** The batch that removes everything the daemon put in the kernel. */
  renderTeardown(): i32 {
    out.reset(BUF, CAP);
    out.ascii(ADD_TABLE);
    out.ascii("delete table inet handover\n");
    this.quotas = new Set<u32>();
    this.created = false;
    return out.pos;
  }
}

export function batchPtr(): usize {
  return BUF;
}
