// The nftables side of the STEM data plane (docs/dataplane.md), computed in
// the core and applied by the host, one libnftables call per batch.
//
// One table, `inet handover`, owned by the daemon. Its chains and rules are
// fixed once at setup; a packet is decided by lookups in maps with
// concatenated keys, whatever the number of moves. A change (a migration, a
// validation, a move that ended) adds and deletes only the elements of the
// moves it touched, in one atomic batch: the batch does not grow with the
// number of moves, and nothing is ever flushed on the way.
//
//   chain tag  (type filter, hook output, priority -450): held sessions'
//               packets get the hold mark; chain hold (-400) queues marked
//               packets (kernel/nfqueue.ts), and released ones go on from there
//   chain out  (type route, hook output, priority -150: after conntrack, and a
//               changed address re-routes the packet)
//       1. our moves:   original source -> wire source           (lo, lop, low)
//       2. peer moves:  original destination -> wire destination (ro, rop, row;
//                       while unvalidated a quota per move drops the excess: rq, rqw)
//   chain in   (type filter, hook prerouting, priority -300: before conntrack)
//       1. peer moves:  wire source -> original source            (ri, rip, riw)
//       2. our moves:   wire destination -> original destination  (li, lip, liw)
//
// Map names end in 4 or 6 (the family). A map ending in `w` serves moves of
// every port (keys without a port); one ending in `p` changes the port, keyed
// by the packet as the address rewrite left it, in the same rule (so it acts
// only when the address matched). Each rewrite tests one field and sets the
// same field, so a local and a remote move of one session compose: outbound,
// our map matches the original destination before the peer's changes it;
// inbound, ours matches the original source after the peer's restored it.
//
// Of the wire-side maps (li, liw, ri, riw) every element has a counter and a
// comment naming its move (`hov1 <id> <L|R> <cookie> <protocols> <orig>/<port>
// <wire>/<port>`): a restarted daemon reads its moves back from them, and the
// idle sweep reads every move's packet count in one listing (stem/table.ts).

import { Move, Quarantine, Rendered, dirtyMoves, dirtyQuarantines } from "./move";
import { Address } from "../engine/address";
import { bytesOf } from "../engine/output";
import { TextOut } from "../util/text";
import { FAMILY_IPV4, FAMILY_IPV6, PROTO_TCP, PROTO_UDP, IPPROTO_TCP, IPPROTO_UDP, DEFAULT_QUOTA_BYTES } from "../generated/registry";
import { HOLD_MARK, LOST_MARK } from "../kernel/nfqueue";
import { journal, moveName, journalMoveIn, journalMoveOut, journalQuarantine, journalSnapshot, unsaveable } from "./journal";

export const TABLE: string = "inet handover";

/**
 * Creates the table (if missing) with a comment that says, in `nft list`
 * output, whose it is and how to remove it (nft also warns that a table with
 * the hold's compat rule is "managed by iptables-nft": it is not).
 */
const ADD_TABLE = "add table inet handover { comment \"handover daemon (STEM session mobility): its rules; remove with handover down\"; }\n";

/**
 * The chains, in hook order on output: tag (-450) marks held packets, hold
 * (-400) queues them, out (-150, after conntrack's -200) rewrites; and in
 * (prerouting -300, before conntrack) rewrites back. A queued packet re-enters
 * at the next hook entry after hold, so it is rewritten and re-routed with the
 * elements of the moment it is released (docs/dataplane.md section 2).
 */
const CHAINS: string =
  "add chain inet handover tag { type filter hook output priority -450; policy accept; }\n" +
  "add chain inet handover hold { type filter hook output priority -400; policy accept; }\n" +
  "add chain inet handover out { type route hook output priority -150; policy accept; }\n" +
  "add chain inet handover in { type filter hook prerouting priority -300; policy accept; }\n";

/**
 * The regular chains the hooked ones jump to, one per group of lookups and
 * family, each behind one lookup of a gate set (docs/dataplane.md, "The
 * gates"): a packet of no move of that kind does that one lookup and goes on.
 */
const GATED: StaticArray<string> = ["tagh", "tagl", "outl", "outr", "inr", "inl"];

/** The gate sets (glo, gli, gro, gri): sets of addresses, not maps. */
function isGateSet(name: string): bool {
  return name == "glo" || name == "gli" || name == "gro" || name == "gri";
}

function gatedChains(flush: bool): void {
  for (let k = 0; k < 2; k++) {
    const f = k == 0 ? "4" : "6";
    for (let j = 0; j < GATED.length; j++) {
      out.ascii(flush ? "flush chain inet handover " : "add chain inet handover ");
      out.ascii(GATED[j]);
      out.ascii(f);
      out.byte(0x0a);
    }
  }
}

/** The maps and sets that carry moves, with counters on the wire-side maps. */
function defineMaps(ip: string, f: string, quotaBytes: u64): void {
  const s = ip + " saddr";
  const d = ip + " daddr";
  const addrType = ip == "ip" ? "ipv4_addr" : "ipv6_addr";
  defineMap("lo", f, "meta l4proto . " + s + " . " + d + " . th sport : " + s, false);
  defineMap("lop", f, "meta l4proto . " + s + " . " + d + " . th sport : th sport", false);
  defineMap("low", f, "meta l4proto . " + s + " . " + d + " : " + s, false);
  defineMap("li", f, "meta l4proto . " + d + " . " + s + " . th dport : " + d, true);
  defineMap("lip", f, "meta l4proto . " + d + " . " + s + " . th dport : th dport", false);
  defineMap("liw", f, "meta l4proto . " + d + " . " + s + " : " + d, true);
  defineSet("held", f, "typeof meta l4proto . " + s + " . " + d + " . th sport");
  defineSet("heldw", f, "typeof meta l4proto . " + s + " . " + d);
  defineMap("ro", f, "meta l4proto . " + d + " . th dport : " + d, false);
  defineMap("rop", f, "meta l4proto . " + d + " . th dport : th dport", false);
  defineMap("row", f, "meta l4proto . " + d + " : " + d, false);
  defineSet("rq", f, "type inet_proto . " + addrType + " . inet_service; " + quotaOf(quotaBytes));
  defineSet("rqw", f, "type inet_proto . " + addrType + "; " + quotaOf(quotaBytes));
  defineMap("ri", f, "meta l4proto . " + s + " . th sport : " + s, true);
  defineMap("rip", f, "meta l4proto . " + s + " . th sport : th sport", false);
  defineMap("riw", f, "meta l4proto . " + s + " : " + s, true);
  defineSet("lost", f, "type " + addrType);
  // The gates: the addresses that some move's lookups of each group key on.
  defineSet("glo", f, "type " + addrType);
  defineSet("gli", f, "type " + addrType);
  defineSet("gro", f, "type " + addrType);
  defineSet("gri", f, "type " + addrType);
}

function defineMap(name: string, f: string, typeof_: string, counted: bool): void {
  out.ascii("add map inet handover ");
  out.ascii(name);
  out.ascii(f);
  out.ascii(" { typeof ");
  out.ascii(typeof_);
  out.ascii(counted ? "; counter; }\n" : "; }\n");
}

/**
 * The quota a set's declaration gives each of its elements (section 7.5): a
 * lookup that hits an element over it matches, under it does not. Declared on
 * the set, not as named objects, which libnftables would dump whole before
 * every batch that adds an element (docs/dataplane.md).
 */
function quotaOf(bytes: u64): string {
  return "quota over " + bytes.toString() + " bytes";
}

/** A set whose type is written in full. */
function defineSet(name: string, f: string, spec: string): void {
  out.ascii("add set inet handover ");
  out.ascii(name);
  out.ascii(f);
  out.ascii(" { ");
  out.ascii(spec);
  out.ascii("; }\n");
}

/** Every map and set that holds moves' elements (without the family digit). */
const ELEMENT_MAPS: StaticArray<string> = ["lo", "lop", "low", "li", "lip", "liw", "held", "heldw", "rq", "rqw", "ro", "rop", "row", "ri", "rip", "riw", "glo", "gli", "gro", "gri"];

/** Every map and set with elements of moves, quarantines or lost addresses, with its family digit (what a restart counts). */
export function elementMapNames(): Array<string> {
  const all = new Array<string>();
  for (let k = 0; k < 2; k++) {
    const f = k == 0 ? "4" : "6";
    for (let j = 0; j < ELEMENT_MAPS.length; j++) all.push(ELEMENT_MAPS[j] + f);
    all.push("lost" + f);
  }
  return all;
}

/** The wire-side maps, whose elements name their moves and count their packets (restore, sweep). */
export const COUNTED_MAPS: StaticArray<string> = ["li4", "liw4", "ri4", "riw4", "li6", "liw6", "ri6", "riw6"];

// ---- the fixed rules ----

function rule(chain: string): void {
  out.ascii("add rule inet handover ");
  out.ascii(chain);
  out.byte(0x20);
}

/**
 * The first rules of a chain: the control channel is never rewritten. (One
 * rule per port field: nft merges adjacent `!=` port matches into one
 * comparison of both ports, which is not the same test.)
 */
function exemptControl(chain: string): void {
  rule(chain);
  out.ascii("udp sport @ctl accept comment \"hov1 control\"\n");
  rule(chain);
  out.ascii("udp dport @ctl accept comment \"hov1 control\"\n");
}

/** ` meta mark set meta mark or 0x10000000`: the packet is held (LOST_MARK: in the lost address's queue). */
function markHeld(mark: u32 = HOLD_MARK): void {
  out.ascii(" meta mark set meta mark or ");
  hex32(mark);
}

/** `meta mark & 0x10000000 == 0x10000000`: the packet was held. */
function heldMatch(mark: u32 = HOLD_MARK): void {
  out.ascii("meta mark & ");
  hex32(mark);
  out.ascii(" == ");
  hex32(mark);
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
 * address before the peer has its elements, and draw a reset
 * (docs/dataplane.md section 2). A dropped packet is only retransmitted.
 */
function holdFallback(): void {
  out.ascii("add rule inet handover hold ");
  heldMatch();
  out.ascii(" counter drop comment \"hov1 unqueued\"\n");
  out.ascii("add rule inet handover hold ");
  heldMatch(LOST_MARK);
  out.ascii(" counter drop comment \"hov1 unqueued\"\n");
}

/** `meta l4proto . ip saddr . ip daddr . th sport` and the like. */
function key(ip: string, fields: StaticArray<string>): void {
  out.ascii("meta l4proto");
  for (let i = 0; i < fields.length; i++) {
    out.ascii(" . ");
    const x = fields[i];
    if (x.startsWith("th ")) out.ascii(x);
    else {
      out.ascii(ip);
      out.byte(0x20);
      out.ascii(x);
    }
  }
}

/**
 * One rewrite of an address and, in the same rule, of the port: `meta l4proto
 * tcp ip saddr set <key> map @lo4 tcp sport set <key'> map @lop4`. A miss in
 * the first map ends the rule (the packet goes on untouched); a miss in the
 * port map leaves the port. The port is written through `tcp`/`udp` (not
 * `th`), so that the kernel fixes the transport checksum; an address
 * rewrite always does (docs/dataplane.md section 1).
 */
function rewriteRule(chain: string, ip: string, f: string, field: string, fields: StaticArray<string>, map: string, proto: string, portField: string): void {
  rule(chain);
  out.ascii("meta l4proto ");
  out.ascii(proto);
  out.byte(0x20);
  out.ascii(ip);
  out.byte(0x20);
  out.ascii(field);
  out.ascii(" set ");
  key(ip, fields);
  out.ascii(" map @");
  out.ascii(map);
  out.ascii(f);
  if (portField.length) {
    out.byte(0x20);
    out.ascii(proto);
    out.byte(0x20);
    out.ascii(portField);
    out.ascii(" set ");
    key(ip, fields);
    out.ascii(" map @");
    out.ascii(map);
    out.ascii("p");
    out.ascii(f);
  }
  out.byte(0x0a);
}

const PROTOS: StaticArray<string> = ["tcp", "udp"];

/** `add rule inet handover <chain> ip saddr @glo4 jump outl4`: one lookup decides whether the group's rules run. */
function gateRule(chain: string, ip: string, field: string, set: string, f: string, target: string): void {
  rule(chain);
  out.ascii(ip);
  out.byte(0x20);
  out.ascii(field);
  out.ascii(" @");
  out.ascii(set);
  out.ascii(f);
  out.ascii(" jump ");
  out.ascii(target);
  out.ascii(f);
  out.byte(0x0a);
}

function fixedRules(guard: bool): void {
  out.ascii("flush chain inet handover tag\n");
  out.ascii("flush chain inet handover out\n");
  out.ascii("flush chain inet handover in\n");
  gatedChains(true);
  // Each group of lookups sits in a regular chain behind one lookup of its
  // gate set (the addresses its keys start with: glo our moves' original
  // sources, gli their wire destinations, gro the peers' original addresses,
  // gri their wire addresses), so a packet of no move does one lookup per
  // group, not one per rule. A gated chain's `accept` ends the hook's chain
  // as `return` ended it in the base chain; its end returns to the base chain.
  // tag: held sessions get the hold mark (the hold chain queues them). Then,
  // from a lost address whose sessions are not known yet, every packet waits,
  // except those of sessions already sent away from it (make-before-break
  // ends with the old address going: they leave from the new one).
  exemptControl("tag");
  for (let k = 0; k < 2; k++) {
    const ip = k == 0 ? "ip" : "ip6";
    const f = k == 0 ? "4" : "6";
    gateRule("tag", ip, "saddr", "glo", f, "tagh");
    gateRule("tag", ip, "saddr", "lost", f, "tagl");
    rule("tagh" + f);
    key(ip, ["saddr", "daddr", "th sport"]);
    out.ascii(" @held" + f);
    markHeld();
    out.ascii(" counter accept comment \"hov1 held\"\n");
    rule("tagh" + f);
    key(ip, ["saddr", "daddr"]);
    out.ascii(" @heldw" + f);
    markHeld();
    out.ascii(" counter accept comment \"hov1 held\"\n");
    rule("tagl" + f);
    key(ip, ["saddr", "daddr", "th sport"]);
    out.ascii(" @lo" + f + " accept\n");
    rule("tagl" + f);
    key(ip, ["saddr", "daddr"]);
    out.ascii(" @low" + f + " accept\n");
    // Its own queue (LOST_MARK): released by the dumps' answer, not by a
    // migration's reply; `accept`, so that the guard does not mark it too.
    rule("tagl" + f);
    out.ascii("meta mark set meta mark or ");
    hex32(LOST_MARK);
    out.ascii(" counter accept comment \"hov1 lost\"\n");
  }
  if (guard) {
    // The guard's hold: packets only the last-resort route (via lo) would carry wait in the queue.
    out.ascii("add rule inet handover tag meta oif \"lo\" fib daddr type != local");
    markHeld();
    out.ascii(" counter comment \"hov1 guard\"\n");
  }
  // out: the control channel; a released packet drops the hold mark, which
  // makes the kernel route it again (a route chain re-routes a packet whose
  // mark it changed) with the routes of the moment it leaves; then our
  // moves, then the peers'. Port-specific maps come before port-wide ones:
  // once a rewrite changed a packet's address, the keys of other moves from
  // that address no longer match it (of overlapping moves the most specific wins).
  exemptControl("out");
  out.ascii("add rule inet handover out ");
  heldMatch();
  out.ascii(" meta mark set meta mark & ");
  hex32(~HOLD_MARK);
  out.ascii(" counter comment \"hov1 released\"\n");
  out.ascii("add rule inet handover out ");
  heldMatch(LOST_MARK);
  out.ascii(" meta mark set meta mark & ");
  hex32(~LOST_MARK);
  out.ascii(" counter comment \"hov1 released\"\n");
  for (let k = 0; k < 2; k++) {
    const ip = k == 0 ? "ip" : "ip6";
    const f = k == 0 ? "4" : "6";
    gateRule("out", ip, "saddr", "glo", f, "outl");
    for (let j = 0; j < 2; j++) rewriteRule("outl" + f, ip, f, "saddr", ["saddr", "daddr", "th sport"], "lo", PROTOS[j], "sport");
    for (let j = 0; j < 2; j++) rewriteRule("outl" + f, ip, f, "saddr", ["saddr", "daddr"], "low", PROTOS[j], "");
  }
  for (let k = 0; k < 2; k++) {
    const ip = k == 0 ? "ip" : "ip6";
    const f = k == 0 ? "4" : "6";
    const c = "outr" + f;
    // (the gate tests the destination, which our moves' rewrites above leave as it was)
    gateRule("out", ip, "daddr", "gro", f, "outr");
    // Until the new address is validated, a quota caps what goes there (section 7.5).
    rule(c);
    out.ascii("meta l4proto { tcp, udp } ");
    key(ip, ["daddr", "th dport"]);
    out.ascii(" @rq" + f + " counter drop comment \"hov1 quota\"\n");
    for (let j = 0; j < 2; j++) rewriteRule(c, ip, f, "daddr", ["daddr", "th dport"], "ro", PROTOS[j], "dport");
    rule(c);
    out.ascii("meta l4proto { tcp, udp } ");
    key(ip, ["daddr"]);
    out.ascii(" @rqw" + f + " counter drop comment \"hov1 quota\"\n");
    for (let j = 0; j < 2; j++) rewriteRule(c, ip, f, "daddr", ["daddr"], "row", PROTOS[j], "");
  }
  // in: the peers' moves first, so that ours see the peer's original source.
  exemptControl("in");
  for (let k = 0; k < 2; k++) {
    const ip = k == 0 ? "ip" : "ip6";
    const f = k == 0 ? "4" : "6";
    gateRule("in", ip, "saddr", "gri", f, "inr");
    for (let j = 0; j < 2; j++) rewriteRule("inr" + f, ip, f, "saddr", ["saddr", "th sport"], "ri", PROTOS[j], "sport");
    for (let j = 0; j < 2; j++) rewriteRule("inr" + f, ip, f, "saddr", ["saddr"], "riw", PROTOS[j], "");
  }
  for (let k = 0; k < 2; k++) {
    const ip = k == 0 ? "ip" : "ip6";
    const f = k == 0 ? "4" : "6";
    // (the gate tests the destination, which the peers' rewrites above leave as it was)
    gateRule("in", ip, "daddr", "gli", f, "inl");
    for (let j = 0; j < 2; j++) rewriteRule("inl" + f, ip, f, "daddr", ["daddr", "saddr", "th dport"], "li", PROTOS[j], "dport");
    for (let j = 0; j < 2; j++) rewriteRule("inl" + f, ip, f, "daddr", ["daddr", "saddr"], "liw", PROTOS[j], "");
  }
}

// ---- the batch being written ----

const CAP: i32 = 65536;
/** Past this, the buffer is set aside before the next element (no element is this long). */
const SPILL: i32 = CAP - 4096;
const BUF = memory.data(CAP);
const out = new TextOut();
let spilled = new Array<StaticArray<u8>>();
/** While a restart takes the kernel's elements over (Dataplane.adopt): the text is only hashed, never kept. */
let discarding: bool = false;
/** Meanwhile: how many distinct keys the moves want in each map (by mapHashOf). */
let wanted: Map<u64, i32> = new Map<u64, i32>();

function beginBatch(): void {
  out.reset(BUF, CAP);
  spilled = new Array<StaticArray<u8>>();
}

function spill(): void {
  if (out.pos < SPILL) return;
  if (discarding) {
    out.reset(BUF, CAP);
    return;
  }
  spilled.push(bytesOf(BUF, out.pos));
  out.reset(BUF, CAP);
}

function endBatch(): StaticArray<u8> {
  let n = out.pos;
  for (let i = 0; i < spilled.length; i++) n += spilled[i].length;
  const all = new StaticArray<u8>(n);
  let at: usize = changetype<usize>(all);
  for (let i = 0; i < spilled.length; i++) {
    memory.copy(at, changetype<usize>(spilled[i]), <usize>spilled[i].length);
    at += <usize>spilled[i].length;
  }
  memory.copy(at, BUF, <usize>out.pos);
  spilled = new Array<StaticArray<u8>>();
  return all;
}

// ---- elements ----

function protoName(p: u8): string {
  return p == PROTO_UDP ? "udp" : "tcp";
}

function protoList(protocols: u8): StaticArray<u8> {
  if (protocols == PROTO_TCP) return [PROTO_TCP];
  if (protocols == PROTO_UDP) return [PROTO_UDP];
  return [PROTO_TCP, PROTO_UDP];
}

function familyDigit(a: Address): string {
  return a.family == FAMILY_IPV4 ? "4" : "6";
}

// The element being written: where it starts, where its key starts, add or delete.
let elemStart: i32 = 0;
let keyStart: i32 = 0;
let adding: bool = false;
let mapHash: u64 = 0;

// Grouped writing (a re-created table): one pass per map, its elements in
// `add element` commands of up to GROUP elements each, since nft takes a
// command per element far more slowly than many elements in one command.
let onlyMap: string = "";
let onlyDigit: string = "";
let skipping: bool = false;
let groupOpen: bool = false;
let groupCount: i32 = 0;
const GROUP: i32 = 8192;

/** FNV-1a of a map's name with its family digit (`ri4`): what begin() computes as mapHash. */
export function mapHashOf(name: string): u64 {
  let h: u64 = 0xcbf29ce484222325;
  for (let i = 0; i < name.length; i++) h = (h ^ <u64>name.charCodeAt(i)) * 0x100000001b3;
  return h;
}

/** `add element inet handover li4 { tcp` (the key goes on with part()). */
function begin(add: bool, map: string, a: Address, proto: u8, withProto: bool = true): void {
  spill();
  elemStart = out.pos;
  adding = add;
  const digit = familyDigit(a);
  const grouped = onlyMap.length > 0;
  skipping = grouped && (map != onlyMap || digit != onlyDigit);
  let h: u64 = 0xcbf29ce484222325;
  for (let i = 0; i < map.length; i++) h = (h ^ <u64>map.charCodeAt(i)) * 0x100000001b3;
  mapHash = (h ^ <u64>digit.charCodeAt(0)) * 0x100000001b3;
  if (discarding) {
    // (adopt: only the key is hashed, from keyStart; the command around it would be discarded)
  } else if (!grouped || !groupOpen) {
    out.ascii(add ? "add element inet handover " : "delete element inet handover ");
    out.ascii(map);
    out.ascii(digit);
    out.ascii(" { ");
  } else {
    out.ascii(", ");
  }
  keyStart = out.pos;
  if (withProto) out.ascii(protoName(proto));
}

/** Ends an element: ` }` and the line's end, or, grouped, the next one follows in the same command. */
function closeElement(): void {
  if (onlyMap.length == 0) {
    out.ascii(" }\n");
    return;
  }
  groupOpen = true;
  if (++groupCount < GROUP) return;
  out.ascii(" }\n");
  groupOpen = false;
  groupCount = 0;
}

function partAddress(a: Address): void {
  out.ascii(" . ");
  a.text(out);
}

function partPort(p: u32): void {
  out.ascii(" . ");
  out.dec(p);
}

/** FNV-1a over the element's map and key, as written. */
function keyHash(): u64 {
  let h: u64 = mapHash;
  for (let p = keyStart; p < out.pos; p++) {
    h ^= <u64>load<u8>(BUF + <usize>p);
    h *= 0x100000001b3;
  }
  return h;
}

/** ` comment "hov1 <id> <L|R> <peer cookie> <protocols> <orig>/<port> <wire>/<port>"`. */
function tag(r: Rendered): void {
  out.ascii(" comment \"hov1 ");
  moveName(out, r);
  out.byte(0x22);
}



/**
 * The owner-count hashes of the `rq`/`rqw` elements a peer's unvalidated move
 * with these fields has (one per protocol), as Dataplane.owns hashes a dumped
 * key: a restart after a crash tells an unvalidated move by them.
 */
export function quotaKeyHashes(protocols: u8, orig: Address, origPort: u32): Array<u64> {
  const all = new Array<u64>();
  const protos = protoList(protocols);
  const name = (origPort != 0 ? "rq" : "rqw") + familyDigit(orig);
  for (let j = 0; j < protos.length; j++) {
    scratch.reset(SCRATCH, SCRATCH_CAP);
    scratch.ascii(protoName(protos[j]));
    scratch.ascii(" . ");
    orig.text(scratch);
    if (origPort != 0) {
      scratch.ascii(" . ");
      scratch.dec(origPort);
    }
    let h = mapHashOf(name);
    for (let i: i32 = 0; i < scratch.pos; i++) {
      h ^= <u64>load<u8>(SCRATCH + <usize>i);
      h *= 0x100000001b3;
    }
    all.push(h);
  }
  return all;
}

/** The owner-count hash of a dumped element of map `name` (with digit); 0 if its key does not parse. */
export function dumpedElementHash(name: string, p: usize, n: i32): u64 {
  return dumpedKeyHash(name, p, n);
}

/** An element a previous run left that no move taken over owns: its map (with digit), key bytes, and the quota object it names (tables of earlier versions). */
export class Leftover {
  map: string = "";
  key: StaticArray<u8> = new StaticArray<u8>(0);
  quota: string = "";
}

/**
 * The fields of each map's key, by the map's name without its digit: P the
 * protocol, A an address, N a port (stem/nft.ts defineMaps).
 */
function layoutOf(base: string): string {
  if (base == "lo" || base == "lop" || base == "li" || base == "lip" || base == "held") return "PAAN";
  if (base == "low" || base == "liw" || base == "heldw") return "PAA";
  if (base == "ro" || base == "rop" || base == "rq" || base == "ri" || base == "rip") return "PAN";
  if (base == "row" || base == "rqw" || base == "riw") return "PA";
  if (base == "lost" || isGateSet(base)) return "A";
  return "";
}

const KEY_ADDR = new Address();
const SCRATCH_CAP: i32 = 512;
const SCRATCH = memory.data(SCRATCH_CAP);
const scratch = new TextOut();

/**
 * Writes a dumped key (the registers of its concatenation, each 4-byte
 * aligned) as batches write it: `tcp . 198.18.1.2 . 6001`. False if the
 * bytes do not fit the map's layout.
 */
function writeKey(name: string, p: usize, n: i32, t: TextOut): bool {
  if (name.length < 2) return false;
  const v6 = name.endsWith("6");
  const layout = layoutOf(name.substring(0, name.length - 1));
  if (layout.length == 0) return false;
  let at: i32 = 0;
  for (let i = 0; i < layout.length; i++) {
    const f = layout.charCodeAt(i);
    if (i > 0) t.ascii(" . ");
    if (f == 0x50) { // P
      if (at + 4 > n) return false;
      const proto = load<u8>(p + <usize>at);
      if (proto == IPPROTO_TCP) t.ascii("tcp");
      else if (proto == IPPROTO_UDP) t.ascii("udp");
      else return false;
      at += 4;
    } else if (f == 0x41) { // A
      const len = v6 ? 16 : 4;
      if (at + len > n) return false;
      KEY_ADDR.load(v6 ? FAMILY_IPV6 : FAMILY_IPV4, p + <usize>at);
      KEY_ADDR.text(t);
      at += len;
    } else { // N
      if (at + 4 > n) return false;
      t.dec(<u64>bswap<u16>(load<u16>(p + <usize>at)));
      at += 4;
    }
  }
  return at == n && !t.overflow;
}

/** The owner-count hash (Dataplane.keys) of a dumped element of map `name`; 0 if its key does not parse. */
function dumpedKeyHash(name: string, p: usize, n: i32): u64 {
  scratch.reset(SCRATCH, SCRATCH_CAP);
  if (!writeKey(name, p, n, scratch)) return 0;
  let h = mapHashOf(name);
  for (let i: i32 = 0; i < scratch.pos; i++) {
    h ^= <u64>load<u8>(SCRATCH + <usize>i);
    h *= 0x100000001b3;
  }
  return h;
}

/**
 * True if a move that was unvalidated toward the peer's new address stays so
 * in this batch: its `rq`/`rqw` element (keyed by the original endpoint, which
 * a move never changes) holds the bytes it has let through, so the batch
 * neither deletes nor adds it, and the quota counts the move's whole
 * unvalidated life, however often it migrates meanwhile.
 */
function keepsQuota(before: Rendered, m: Move): bool {
  if (!before.unvalidated || before.local || !before.receivesAway) return false;
  if (!(m.live && wantsElements(m)) || !m.unvalidated || m.local) return false;
  const now = new Rendered(m);
  return now.receivesAway && now.protocols == before.protocols && now.origPort == before.origPort;
}

/** Set while a batch renders a move whose quota element stays (keepsQuota). */
let keepQuota = false;

/** Tracks what the kernel holds: the table and how many of our objects want each element. */
export class Dataplane {
  /** Elements in the kernel (by a hash of map and key) and how many moves or quarantines want each. */
  private keys: Map<u64, u32> = new Map<u64, u32>();
  /** The quota each element of `rq`/`rqw` gets (set's declaration: a table made with another value keeps its own until it is made again). */
  quotaBytes: u64 = <u64>DEFAULT_QUOTA_BYTES;
  /** The control ports in the kernel's `ctl` set. */
  private ports: Array<u32> = new Array<u32>();
  /** The addresses in the `lost` sets. */
  private lost: Array<Address> = new Array<Address>();
  /** Set once the table and chains are known to exist. */
  created: bool = false;
  /** Set after a batch failed: the kernel's state is unknown, so the next batch starts afresh. */
  dirty: bool = false;
  /** Set when a batch deleted the table: the queue rule must be sent again. */
  holdLost: bool = false;
  /** The guard's hold: packets only the last-resort route (via lo) would carry wait in the queue. */
  guard: bool = false;
  /** Elements written by the last batch (for tests and figures). */
  lastElements: i32 = 0;
  /** Moves in the kernel whose saved line says less than their elements (stem/journal.ts unsaveable). */
  unclean: i32 = 0;

  /** Set when the next rebuild deletes the table first (see rebuild). */
  private hard: bool = false;
  /** The last batch rendered was a rebuild. */
  private rebuilt: bool = false;

  /**
   * A batch failed (libnftables applies a batch whole or not at all). If it
   * was a rebuild that kept the table, the next one deletes it (the table
   * may be another version's, whose sets a re-declaration does not fit).
   */
  failed(): void {
    if (this.rebuilt) this.hard = true;
    this.dirty = true;
  }

  /** The next batch deletes the table and makes it anew (an earlier version's table). */
  recreate(): void {
    this.dirty = true;
    this.hard = true;
  }

  /**
   * The batch that brings the kernel to the current state. Normally only the
   * moves and quarantines that changed since the last batch (dirtyMoves,
   * dirtyQuarantines); after a failure (or a restart's read-back) the whole
   * table, re-created in one transaction.
   */
  sync(moves: Array<Move>, quarantines: Array<Quarantine>, ports: Array<u32>, lost: Array<Address>): StaticArray<u8> {
    beginBatch();
    this.lastElements = 0;
    out.ascii(ADD_TABLE);
    // The moves journal (stem/journal.ts): this batch's record, or a base.
    const J = journal.enabled;
    const base = J && journal.begin(this.dirty, moves.length + quarantines.length);
    if (this.dirty) {
      this.rebuild(moves, quarantines);
    } else {
      this.rebuilt = false;
      // Deletions first, so that an element a batch moves from one owner to another is never there twice.
      const kept = new Array<bool>(dirtyMoves.length);
      for (let i = 0; i < dirtyMoves.length; i++) {
        const r = dirtyMoves[i].before;
        if (!r) continue;
        kept[i] = keepQuota = keepsQuota(r, dirtyMoves[i]);
        this.emitMove(r, false);
        if (J) {
          if (unsaveable(r)) this.unclean--;
          if (!base) journalMoveOut(r.id);
        }
      }
      keepQuota = false;
      for (let i = 0; i < dirtyQuarantines.length; i++) {
        const q = dirtyQuarantines[i];
        if (q.rendered && !q.live) {
          this.emitQuarantine(q, false);
          q.rendered = false;
          if (J && !base) journalQuarantine(q, true);
        }
      }
      for (let i = 0; i < dirtyMoves.length; i++) {
        const m = dirtyMoves[i];
        m.dirty = false;
        m.before = null;
        m.inKernel = m.live && wantsElements(m);
        if (!m.inKernel) continue;
        keepQuota = kept[i];
        const x = new Rendered(m);
        this.emitMove(x, true);
        if (J) {
          if (unsaveable(x)) this.unclean++;
          if (!base) journalMoveIn(x, m);
        }
      }
      keepQuota = false;
      for (let i = 0; i < dirtyQuarantines.length; i++) {
        const q = dirtyQuarantines[i];
        if (q.live && !q.rendered) {
          this.emitQuarantine(q, true);
          q.rendered = true;
          if (J && !base) journalQuarantine(q, false);
        }
      }
    }
    dirtyMoves.length = 0;
    dirtyQuarantines.length = 0;
    this.syncPorts(ports);
    this.syncLost(lost);
    this.created = true;
    if (J) {
      if (base) this.unclean = journalSnapshot(moves, quarantines);
      spill();
      journal.marker(out);
      journal.end(this.unclean == 0 && this.lost.length == 0);
    }
    return endBatch();
  }

  /**
   * The whole table anew, in one transaction (after a failure, and after a
   * restart's read-back). Without deleting the table or a base chain: Linux
   * drops every packet waiting in any NFQUEUE queue of the namespace when a
   * hook is unregistered (nf_queue_nf_hook_drop), and the hold's packets
   * would go with it. So the maps and sets are emptied and the chains'
   * rules written again, and the queue rules follow as netlink (holdLost);
   * meanwhile a marked packet meets the hold chain's drop, which TCP
   * retransmits. Only if such a rebuild failed too, or the table is an
   * earlier version's (recreate), is the table deleted and made again.
   */
  private rebuild(moves: Array<Move>, quarantines: Array<Quarantine>): void {
    const hard = this.hard;
    this.hard = false;
    this.rebuilt = true;
    if (hard) out.ascii("delete table inet handover\n");
    out.ascii(ADD_TABLE);
    this.definitions();
    if (!hard) this.flushAll();
    out.ascii("flush chain inet handover hold\n");
    holdFallback();
    this.keys = new Map<u64, u32>();
    this.ports = new Array<u32>();
    this.lost = new Array<Address>();
    this.dirty = false;
    this.holdLost = true;
    for (let i = 0; i < dirtyMoves.length; i++) {
      dirtyMoves[i].dirty = false;
      dirtyMoves[i].before = null;
      dirtyMoves[i].inKernel = false;
    }
    const all = new Array<Rendered>();
    for (let i = 0; i < moves.length; i++) {
      const m = moves[i];
      m.inKernel = wantsElements(m);
      if (!m.inKernel) continue;
      all.push(new Rendered(m));
    }
    for (let i = 0; i < quarantines.length; i++) quarantines[i].rendered = true;
    // One pass per map: its elements grouped in few commands.
    for (let k = 0; k < 2; k++) {
      onlyDigit = k == 0 ? "4" : "6";
      for (let j = 0; j < ELEMENT_MAPS.length; j++) {
        onlyMap = ELEMENT_MAPS[j];
        groupOpen = false;
        groupCount = 0;
        for (let i = 0; i < all.length; i++) {
          if (familyDigit(all[i].orig) == onlyDigit) this.emitMove(all[i], true);
        }
        for (let i = 0; i < quarantines.length; i++) {
          if (familyDigit(quarantines[i].orig) == onlyDigit) this.emitQuarantine(quarantines[i], true);
        }
        if (groupOpen) out.ascii(" }\n");
      }
    }
    onlyMap = "";
    onlyDigit = "";
    groupOpen = false;
  }

  /**
   * A restart's read-back: takes the elements the kernel holds over as they
   * are, without a batch, if they are exactly what `moves` want: for every
   * map, as many elements in the kernel (`kernel`, by mapHashOf) as distinct
   * keys the moves would write (nothing else left over: no quarantine,
   * quota, hold or lost address, no move of a peer gone). Then the next
   * batch carries only what changes after. Otherwise (false) the next batch
   * re-creates the table from the moves (rebuild), as after a failure.
   * The moves' elements are rendered as for a rebuild, but only hashed into
   * the owner counts: one pass, no text kept.
   */
  adopt(moves: Array<Move>, quarantines: Array<Quarantine>, kernel: Map<u64, i32> | null, names: Array<string>): Array<string> | null {
    beginBatch();
    discarding = true;
    wanted = new Map<u64, i32>();
    this.keys = new Map<u64, u32>();
    this.unclean = 0;
    for (let i = 0; i < dirtyMoves.length; i++) {
      dirtyMoves[i].dirty = false;
      dirtyMoves[i].before = null;
      dirtyMoves[i].inKernel = false;
    }
    let r: Rendered | null = null;
    for (let i = 0; i < moves.length; i++) {
      const m = moves[i];
      m.inKernel = wantsElements(m);
      if (!m.inKernel) continue;
      const x = r ? r.of(m) : new Rendered(m);
      r = x;
      this.emitMove(x, true);
      if (unsaveable(x)) this.unclean++;
    }
    for (let i = 0; i < quarantines.length; i++) {
      const q = quarantines[i];
      if (!q.live) continue;
      this.emitQuarantine(q, true);
      q.rendered = true;
    }
    discarding = false;
    out.reset(BUF, CAP);
    spilled = new Array<StaticArray<u8>>();
    this.wantedIn = wanted;
    wanted = new Map<u64, i32>();
    // A map with more elements than the moves want holds leftovers; one with fewer lacks some.
    // (No counts: the caller knows that the kernel holds exactly what the moves want, Restore's saved state.)
    const suspects = new Array<string>();
    for (let i = 0; kernel && i < names.length; i++) {
      const h = mapHashOf(names[i]);
      const have = kernel!.has(h) ? kernel!.get(h) : 0;
      const want = this.wantedIn.has(h) ? this.wantedIn.get(h) : 0;
      if (have < want) {
        this.dirty = true;
        return null;
      }
      if (have > want) suspects.push(names[i]);
    }
    dirtyMoves.length = 0;
    dirtyQuarantines.length = 0;
    this.created = true;
    return suspects;
  }

  /** Distinct keys the moves taken over want in each map (by mapHashOf), from the last adopt(). */
  wantedIn: Map<u64, i32> = new Map<u64, i32>();

  /** True if some move or quarantine owns the element of map `name` (with digit) whose key the kernel dumped. */
  owns(name: string, key: usize, keyLen: i32): bool {
    if (name.startsWith("lost")) {
      const v6 = name.endsWith("6");
      if (keyLen != (v6 ? 16 : 4)) return false;
      KEY_ADDR.load(v6 ? FAMILY_IPV6 : FAMILY_IPV4, key);
      return indexOfAddress(this.lost, KEY_ADDR) >= 0;
    }
    const h = dumpedKeyHash(name, key, keyLen);
    return h != 0 && this.keys.has(h);
  }

  /**
   * The batch that deletes what a previous run left beside the moves taken
   * over (elements no move owns, and the quota objects a table of an
   * earlier version named in them).
   */
  renderCleanup(left: Array<Leftover>): StaticArray<u8> {
    beginBatch();
    out.ascii(ADD_TABLE);
    for (let i = 0; i < left.length; i++) {
      const l = left[i];
      spill();
      out.ascii("delete element inet handover ");
      out.ascii(l.map);
      out.ascii(" { ");
      writeKey(l.map, changetype<usize>(l.key), l.key.length, out);
      out.ascii(" }\n");
    }
    for (let i = 0; i < left.length; i++) {
      if (left[i].quota.length == 0) continue;
      spill();
      out.ascii("delete quota inet handover ");
      out.ascii(left[i].quota);
      out.byte(0x0a);
    }
    return endBatch();
  }

  /** Empties every set and map of the table (a rebuild that keeps the chains). */
  private flushAll(): void {
    out.ascii("flush set inet handover ctl\n");
    if (journal.enabled) out.ascii("flush set inet handover js\n");
    for (let k = 0; k < 2; k++) {
      const f = k == 0 ? "4" : "6";
      for (let j = 0; j < ELEMENT_MAPS.length; j++) {
        const name = ELEMENT_MAPS[j];
        const isSet = name == "held" || name == "heldw" || name == "rq" || name == "rqw" || isGateSet(name);
        out.ascii(isSet ? "flush set inet handover " : "flush map inet handover ");
        out.ascii(name);
        out.ascii(f);
        out.byte(0x0a);
      }
      out.ascii("flush set inet handover lost");
      out.ascii(f);
      out.byte(0x0a);
    }
  }

  private definitions(): void {
    out.ascii("add set inet handover ctl { type inet_service; }\n");
    // The moves journal's marker: its one element is the last batch's sequence number (stem/journal.ts).
    if (journal.enabled) out.ascii("add set inet handover js { type mark; }\n");
    defineMaps("ip", "4", this.quotaBytes);
    defineMaps("ip6", "6", this.quotaBytes);
    out.ascii(CHAINS);
    gatedChains(false);
    fixedRules(this.guard);
  }

  private syncPorts(ports: Array<u32>): void {
    for (let i = 0; i < this.ports.length; i++) {
      if (ports.indexOf(this.ports[i]) >= 0) continue;
      out.ascii("delete element inet handover ctl { ");
      out.dec(this.ports[i]);
      out.ascii(" }\n");
    }
    for (let i = 0; i < ports.length; i++) {
      if (this.ports.indexOf(ports[i]) >= 0) continue;
      spill();
      out.ascii("add element inet handover ctl { ");
      out.dec(ports[i]);
      out.ascii(" }\n");
    }
    this.ports = ports.slice(0);
  }

  private syncLost(lost: Array<Address>): void {
    for (let i = 0; i < this.lost.length; i++) {
      if (indexOfAddress(lost, this.lost[i]) >= 0) continue;
      out.ascii("delete element inet handover lost");
      out.ascii(familyDigit(this.lost[i]));
      out.ascii(" { ");
      this.lost[i].text(out);
      out.ascii(" }\n");
    }
    for (let i = 0; i < lost.length; i++) {
      if (indexOfAddress(this.lost, lost[i]) >= 0) continue;
      spill();
      out.ascii("add element inet handover lost");
      out.ascii(familyDigit(lost[i]));
      out.ascii(" { ");
      lost[i].text(out);
      out.ascii(" }\n");
    }
    const copy = new Array<Address>();
    for (let i = 0; i < lost.length; i++) copy.push(lost[i].copy());
    this.lost = copy;
  }

  /**
   * Ends the key of the element begun with begin(). An add goes on (true:
   * write the comment and value, then close()) only if no other owner has the
   * key already; a delete is written only when its last owner lets go. Both
   * are otherwise taken back, so the kernel never sees a key twice or a
   * delete of a key it does not have.
   */
  private endKey(): bool {
    if (skipping) {
      out.pos = elemStart;
      return false;
    }
    const h = keyHash();
    const n = this.keys.has(h) ? this.keys.get(h) : 0;
    if (adding) {
      this.keys.set(h, n + 1);
      if (n == 0 && discarding) {
        // (adopt: the key is counted; its comment and value would only be discarded, so are not written)
        wanted.set(mapHash, wanted.has(mapHash) ? wanted.get(mapHash) + 1 : 1);
        out.pos = elemStart;
        return false;
      }
      if (n == 0) return true;
    } else if (n == 1) {
      this.keys.delete(h);
      out.ascii(" }\n");
      this.lastElements++;
      return false;
    } else if (n > 1) {
      this.keys.set(h, n - 1);
    }
    out.pos = elemStart;
    return false;
  }

  /** Ends an add: ` : <value> }`. */
  private valueAddress(a: Address): void {
    out.ascii(" : ");
    a.text(out);
    closeElement();
    this.lastElements++;
  }

  private valuePort(p: u32): void {
    out.ascii(" : ");
    out.dec(p);
    closeElement();
    this.lastElements++;
  }

  private valueSet(): void {
    closeElement();
    this.lastElements++;
  }

  /**
   * The gate set's element for an element of its group (fixedRules): the
   * address its key starts with. Owned like every element (one count per
   * element it gates), so it leaves with the last of them.
   */
  private gate(add: bool, set: string, a: Address): void {
    begin(add, set, a, 0, false);
    a.text(out);
    if (this.endKey()) this.valueSet();
  }

  /** The elements of one move, added or deleted. */
  emitMove(r: Rendered, add: bool): void {
    const protos = protoList(r.protocols);
    const specific = r.origPort != 0;
    for (let j = 0; j < protos.length; j++) {
      const p = protos[j];
      if (r.local) {
        for (let i = 0; i < r.scope.length; i++) {
          const s = r.scope[i];
          if (s.family != r.orig.family) continue;
          if (r.sendsAway) {
            this.gate(add, "glo", r.orig);
            begin(add, specific ? "lo" : "low", r.orig, p);
            partAddress(r.orig);
            partAddress(s);
            if (specific) partPort(r.origPort);
            if (this.endKey()) this.valueAddress(r.outWire);
            if (specific && r.outWirePort != r.origPort) {
              begin(add, "lop", r.orig, p);
              partAddress(r.outWire);
              partAddress(s);
              partPort(r.origPort);
              if (this.endKey()) this.valuePort(r.outWirePort);
            }
          }
          if (r.receivesAway) {
            this.gate(add, "gli", r.wire);
            begin(add, specific ? "li" : "liw", r.orig, p);
            partAddress(r.wire);
            partAddress(s);
            if (specific) partPort(r.wirePort);
            if (this.endKey()) {
              tag(r);
              this.valueAddress(r.orig);
            }
            if (specific && r.wirePort != r.origPort) {
              begin(add, "lip", r.orig, p);
              partAddress(r.orig);
              partAddress(s);
              partPort(r.wirePort);
              if (this.endKey()) this.valuePort(r.origPort);
            }
          }
          if (r.held) {
            this.gate(add, "glo", r.orig);
            begin(add, specific ? "held" : "heldw", r.orig, p);
            partAddress(r.orig);
            partAddress(s);
            if (specific) partPort(r.origPort);
            if (this.endKey()) this.valueSet();
          }
        }
        continue;
      }
      if (!r.receivesAway) continue; // a peer's move back home: nothing to rewrite
      if (r.unvalidated && !keepQuota) {
        begin(add, specific ? "rq" : "rqw", r.orig, p);
        partAddress(r.orig);
        if (specific) partPort(r.origPort);
        if (this.endKey()) this.valueSet();
      }
      // (the gate comes with ro/row, which every such move has: rq/rqw stays through a batch that keeps its quota)
      this.gate(add, "gro", r.orig);
      begin(add, specific ? "ro" : "row", r.orig, p);
      partAddress(r.orig);
      if (specific) partPort(r.origPort);
      if (this.endKey()) this.valueAddress(r.wire);
      if (specific && r.wirePort != r.origPort) {
        begin(add, "rop", r.orig, p);
        partAddress(r.wire);
        partPort(r.origPort);
        if (this.endKey()) this.valuePort(r.wirePort);
      }
      this.gate(add, "gri", r.wire);
      begin(add, specific ? "ri" : "riw", r.orig, p);
      partAddress(r.wire);
      if (specific) partPort(r.wirePort);
      if (this.endKey()) {
        tag(r);
        this.valueAddress(r.orig);
      }
      if (specific && r.wirePort != r.origPort) {
        begin(add, "rip", r.orig, p);
        partAddress(r.orig);
        partPort(r.wirePort);
        if (this.endKey()) this.valuePort(r.origPort);
      }
    }
  }

  /**
   * A quarantined wire endpoint: late packets mapped onto the session
   * (inbound), ours to the address we left, the peer's from the address it left.
   */
  emitQuarantine(q: Quarantine, add: bool): void {
    const protos = protoList(q.protocols);
    const specific = q.port != 0;
    for (let j = 0; j < protos.length; j++) {
      const p = protos[j];
      if (q.local) {
        for (let i = 0; i < q.scope.length; i++) {
          const s = q.scope[i];
          if (s.family != q.orig.family) continue;
          this.gate(add, "gli", q.address);
          begin(add, specific ? "li" : "liw", q.orig, p);
          partAddress(q.address);
          partAddress(s);
          if (specific) partPort(q.port);
          if (this.endKey()) {
            out.ascii(" comment \"hov1 quarantine\"");
            this.valueAddress(q.orig);
          }
          if (specific && q.port != q.origPort) {
            begin(add, "lip", q.orig, p);
            partAddress(q.orig);
            partAddress(s);
            partPort(q.port);
            if (this.endKey()) this.valuePort(q.origPort);
          }
        }
        continue;
      }
      this.gate(add, "gri", q.address);
      begin(add, specific ? "ri" : "riw", q.orig, p);
      partAddress(q.address);
      if (specific) partPort(q.port);
      if (this.endKey()) {
        out.ascii(" comment \"hov1 quarantine\"");
        this.valueAddress(q.orig);
      }
      if (specific && q.port != q.origPort) {
        begin(add, "rip", q.orig, p);
        partAddress(q.orig);
        partPort(q.port);
        if (this.endKey()) this.valuePort(q.origPort);
      }
    }
  }

  /**
   * The table, its maps and fixed rules, and an empty hold chain before the
   * queue rule goes in (kernelSetup). Elements a previous run left stay until
   * the read-back has taken them over.
   */
  renderSetup(): StaticArray<u8> {
    beginBatch();
    out.ascii(ADD_TABLE);
    this.definitions();
    out.ascii("flush chain inet handover hold\n");
    holdFallback();
    this.dirty = false;
    return endBatch();
  }

  /** The batch that removes everything the daemon put in the kernel. */
  renderTeardown(): StaticArray<u8> {
    // Nothing of ours is left in the kernel: what was waiting to change goes with it.
    for (let i = 0; i < dirtyMoves.length; i++) {
      dirtyMoves[i].dirty = false;
      dirtyMoves[i].before = null;
    }
    dirtyMoves.length = 0;
    dirtyQuarantines.length = 0;
    beginBatch();
    out.ascii(ADD_TABLE);
    out.ascii("delete table inet handover\n");
    this.keys = new Map<u64, u32>();
    this.ports = new Array<u32>();
    this.lost = new Array<Address>();
    this.created = false;
    this.unclean = 0;
    journal.wantBase = true;
    return endBatch();
  }
}

/** A move has elements while it rewrites or holds something. */
function wantsElements(m: Move): bool {
  return !m.identity || m.held;
}

function indexOfAddress(list: Array<Address>, a: Address): i32 {
  for (let i = 0; i < list.length; i++) if (list[i].equals(a)) return i;
  return -1;
}
