// The life of moves across daemon restarts and session ends.
//
// - Restore: a restarted daemon dumps its maps over netlink; the wire-side
//   elements' comments name the moves (stem/table.ts), which it takes over
//   with their elements as they are (no batch) when nothing else is left
//   there, or else re-creates the table from them in one transaction: either
//   way the sessions never see a gap.
// - Sweep: every few seconds (longer with many moves), a move whose elements
//   counted no packet for a while and that no TCP socket uses any more has
//   ended with its sessions: its elements and identity address go. (UDP has
//   no end but silence.)

import { NETLINK_SOCK_DIAG, NETLINK_NETFILTER } from "../kernel/linux";
import { IPPROTO_TCP, IPPROTO_UDP } from "../generated/registry";
import { Node, Procedure, ANY_STATUS } from "../engine/node";
import { beginEvent, endEvent, bytesOf } from "../engine/output";
import { Move } from "./move";
import { Address } from "../engine/address";
import { Peer } from "../engine/peer";
import { StemBase } from "./base";
import { cookieJson } from "./events";
import { TableEntry, TableSink, SavedSink } from "./table";
import { Dumped, ElementSink, parseElements, setElementsDump, generationRequest, parseGeneration, setRequest, parseSetFlags, parseSetQuota, NFT_SET_MAP_OR_OBJECT, quotaObjectsDump, parseQuotaObjects, QuotaElement, quotaElementsBatch } from "../kernel/nftdump";
import { SocketInfo, parseSockets, socketDump, requestPtr } from "../kernel/rtnl";

import { FAMILY_IPV4, FAMILY_IPV6, PROTO_UDP } from "../generated/registry";
import { COUNTED_MAPS, Leftover, elementMapNames, mapHashOf, quotaKeyHashes, dumpedElementHash } from "./nft";
import { Rendered, Quarantine } from "./move";
import { TextOut } from "../util/text";
import { journal, moveLine, quarantineLine } from "./journal";

/**
 * Before the kernel setup: reads the declaration of `rq4`. Versions before
 * 2026-12-02 made it an objref map of named quota objects (`quota hq<id>`);
 * this one declares a set whose elements carry the quota, and nft refuses to
 * declare it over the map (File exists). On such a table the setup batch is
 * not sent: the old table goes on working (its rules, its quotas) while the
 * restore reads the moves back (the unvalidated ones by their `rq` elements,
 * whose keys are the same), and its first batch deletes the table and makes
 * it in this version's form with every move's elements, in one transaction
 * (docs/USAGE.md, "Upgrading"). No table, or this version's: the setup as ever.
 */
export class Upgrade extends Procedure {
  stem: StemBase;
  queue: u32;
  now: f64;
  earlier: bool = false;
  /** This version's table, its sets declared with another quota than `quotaBytes` now: -1 if not. */
  declared: i64 = -1;
  constructor(stem: StemBase, queue: u32, now: f64) {
    super();
    this.stem = stem;
    this.queue = queue;
    this.now = now;
  }
  /** The table has `rq4` but not the gate set `glo4`: a version before the gates (nft.ts fixedRules). */
  private rqSeen: bool = false;
  private gateSeen: bool = false;
  private gateAction: u32 = 0;
  start(): void {
    // (no table: ENOENT, no failure)
    this.stem.node.netlinkAction(NETLINK_NETFILTER, setRequest("rq4"), this, true, ANY_STATUS);
    this.gateAction = this.stem.node.netlinkAction(NETLINK_NETFILTER, setRequest("glo4"), this, true, ANY_STATUS);
  }
  onKernelOutput(node: Node, p: usize, n: i32): void {
    const flags = parseSetFlags(p, n);
    if (node.outputAction == this.gateAction) {
      if (flags >= 0) this.gateSeen = true;
      return;
    }
    if (flags >= 0) this.rqSeen = true;
    if (flags >= 0 && (<u32>flags & NFT_SET_MAP_OR_OBJECT) != 0) this.earlier = true;
    const q = parseSetQuota(p, n);
    if (q >= 0 && <u64>q != this.stem.dp.quotaBytes) this.declared = q;
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    // Another quotaBytes than the table's sets were declared with: nft would
    // keep the old one (`add set` on an existing set changes nothing), so the
    // table is made anew the same way, each move's count put back (capped at
    // the new quota).
    // A table without the gate sets: its rules work without them, but this
    // version's setup would put in rules that look the gates up before any
    // element is in them (and a restore that takes the elements over would
    // leave them empty), so it is made anew the same way, with the gates.
    const ungated = this.rqSeen && !this.gateSeen;
    const anew = this.earlier || this.declared >= 0 || ungated;
    if (anew) {
      const ev = beginEvent("upgrading", now);
      ev.key("from");
      if (this.earlier) ev.str("named quota objects");
      else if (this.declared < 0) ev.str("no gate sets");
      else {
        ev.str("quotaBytes");
        ev.key("declared");
        ev.num(<u64>this.declared);
        ev.key("quotaBytes");
        ev.num(this.stem.dp.quotaBytes);
      }
      node.emit(endEvent());
    }
    this.stem.kernelSetupAfterProbe(this.queue, now, this.earlier, anew);
  }
}

/**
 * Takes over the moves a previous run of the daemon left in the kernel: one
 * netlink dump per map (kernel/nftdump.ts), the wire-side maps' comments
 * naming the moves, every map's elements counted. If the kernel holds
 * exactly the elements the moves taken over want, they stay as they are
 * (Dataplane.adopt: no batch at all); otherwise the table is made again from
 * the moves in one transaction.
 */
export class Restore extends Procedure {
  stem: StemBase;
  table: TableSink = new TableSink();
  /** The other maps' elements: only counted. */
  plain: ElementSink = new ElementSink();
  /** Each dump's map (by its action id), and the elements each map holds (by mapHashOf). */
  private mapOf: Map<u32, u64> = new Map<u32, u64>();
  private counted: Set<u32> = new Set<u32>();
  /** The quota sets' dumps (`rq`/`rqw`, by action id): their elements say which moves are unvalidated. */
  private quotaMaps: Map<u32, string> = new Map<u32, string>();
  quotas: QuotaSink = new QuotaSink();
  /** The table is an earlier version's (Upgrade): its named quota objects are read too, for what they counted. */
  earlier: bool = false;
  private objectsAction: u32 = 0;
  private objects: Map<string, i64> = new Map<string, i64>();
  counts: Map<u64, i32> = new Map<u64, i32>();
  constructor(stem: StemBase) {
    super();
    this.stem = stem;
  }
  /** The state a clean stop saved (stem_saved_moves), while its generation is being checked. */
  private saved: SavedSink | null = null;
  private genAction: u32 = 0;
  private gen: i64 = -1;
  /** The moves journal's marker (stem/journal.ts): one small dump, the set `js`. */
  private markerAction: u32 = 0;
  private marker: MarkerSink = new MarkerSink();
  start(): void {
    const s = takeSaved();
    if (journal.enabled) {
      this.markerAction = this.stem.node.netlinkAction(NETLINK_NETFILTER, setElementsDump("js"), this, true, ANY_STATUS, true);
    }
    if (s && !s.bad && (s.gen >= 0 || (journal.enabled && s.seq >= 0))) {
      // A clean stop saved the moves with nftables' generation: if nothing
      // changed in nftables since, the kernel holds exactly their elements.
      // Or a base and the journal after it end with the marker the kernel
      // holds: the kernel holds exactly what they say.
      this.saved = s;
      if (s.gen >= 0) this.genAction = this.stem.node.netlinkAction(NETLINK_NETFILTER, generationRequest(), this, true, ANY_STATUS);
      return;
    }
    if (s) this.continueSeq(s);
    this.dump();
  }
  /** The journal's numbers go on from the highest the kernel or the files know of (never back to one a file may hold). */
  private continueSeq(s: SavedSink | null): void {
    let top: i64 = <i64>journal.seq;
    if (this.marker.value > top) top = this.marker.value;
    if (s && s.seq > top) top = s.seq;
    if (s && s.lastSeq > top) top = s.lastSeq;
    journal.seq = <u32>top;
    if (this.marker.value >= 0) journal.committed = <u32>this.marker.value;
  }
  private dump(): void {
    // A missing table (first start) is no failure.
    const names = elementMapNames();
    for (let i = 0; i < names.length; i++) {
      const id = this.stem.node.netlinkAction(NETLINK_NETFILTER, setElementsDump(names[i]), this, true, ANY_STATUS, true);
      this.mapOf.set(id, mapHashOf(names[i]));
      if (COUNTED_MAPS.includes(names[i])) this.counted.add(id);
      if (names[i].startsWith("rq")) this.quotaMaps.set(id, names[i]);
    }
    if (this.earlier) this.objectsAction = this.stem.node.netlinkAction(NETLINK_NETFILTER, quotaObjectsDump(), this, true, ANY_STATUS, true);
  }
  onKernelOutput(node: Node, p: usize, n: i32): void {
    const id = node.outputAction;
    if (this.markerAction != 0 && id == this.markerAction) {
      parseElements(p, n, this.marker);
      return;
    }
    if (this.saved && id == this.genAction) {
      const g = parseGeneration(p, n);
      if (g >= 0) this.gen = g;
      return;
    }
    if (this.objectsAction != 0 && id == this.objectsAction) {
      parseQuotaObjects(p, n, this.objects);
      return;
    }
    if (!this.mapOf.has(id)) return;
    let sink: ElementSink = this.counted.has(id) ? this.table : this.plain;
    if (this.quotaMaps.has(id)) {
      this.quotas.map = this.quotaMaps.get(id);
      sink = this.quotas;
    }
    const before = sink.count;
    parseElements(p, n, sink);
    const added = sink.count - before;
    if (added == 0) return;
    const h = this.mapOf.get(id);
    this.counts.set(h, (this.counts.has(h) ? this.counts.get(h) : 0) + added);
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    const stem = this.stem;
    const saved = this.saved;
    if (saved) {
      this.saved = null;
      let known = true;
      for (let i = 0; i < saved.entries.length && known; i++) known = samePeer(node, saved.entries[i].cookie) != null;
      for (let i = 0; i < saved.quarantines.length && known; i++) known = node.findPeer(saved.quarantines[i].cookie) != null;
      this.continueSeq(saved);
      const byGen = saved.gen >= 0 && this.gen == saved.gen;
      // The journal: its last whole record (or the base) set the marker the kernel holds, and said all.
      const byJournal = journal.enabled && saved.seq >= 0 && !saved.gap && saved.clean && this.marker.malformed == 0 && this.marker.value >= 0 && saved.lastSeq == this.marker.value;
      if (!(byGen || byJournal) || !known) {
        // Something changed nftables since the stop (or it cannot be told), or a
        // peer is no longer configured (its elements must go): read the maps.
        savedFallback = !known ? "peer-unknown"
          : !journal.enabled || saved.seq < 0 ? "generation-changed"
          : this.marker.malformed != 0 ? "marker-malformed"
          : this.marker.value < 0 ? "marker-missing"
          : saved.gap ? "journal-gap"
          : !saved.clean ? "journal-not-all"
          : saved.torn ? "journal-torn"
          : saved.lastSeq < this.marker.value ? "journal-behind"
          : "journal-ahead";
        savedSeq = saved.lastSeq;
        kernelSeq = this.marker.value;
        this.dump();
        return;
      }
      // The files describe the kernel: the journal goes on after them (a base only if they were the generation's alone).
      journal.wantBase = !byJournal;
      journal.lines = saved.records;
      const restored = takeOver(stem, node, saved.entries, null, now);
      for (let i = 0; i < saved.quarantines.length; i++) {
        const e = saved.quarantines[i];
        const peer = node.findPeer(e.cookie)!;
        // (a move of the quarantine's fields, only to make it: never in the tables)
        const m = new Move(0, peer, e.local, e.orig, e.origPort);
        m.protocols = e.protocols;
        m.moveTo(e.wire, e.wirePort);
        if (e.local) m.scope = peer.ownedAddresses();
        stem.addQuarantine(new Quarantine(m, e.until));
      }
      stem.keepIdentities(null);
      stem.dp.adopt(stem.moves, stem.quarantines, null, elementMapNames());
      stem.sync(null);
      restoredEvent(node, now, restored, byGen ? "saved" : "journal", 0);
      return;
    }
    if (this.markerAction != 0) this.continueSeq(null);
    const entries = this.table.entries;
    this.table.index.clear();
    const restored = takeOver(stem, node, entries, this.quotas.keys, now);
    this.table.entries = new Array<TableEntry>();
    stem.keepIdentities(null);
    // The elements stay as they are if every map holds what the moves want;
    // where a map holds more (a quarantine, a hold, a quota, a peer gone),
    // those maps are read again and what no move owns is deleted; if a map
    // lacks something, or a dump did not parse, the table is made again from
    // the moves in one transaction.
    const names = elementMapNames();
    const suspects = this.table.malformed == 0 && this.plain.malformed == 0 && this.quotas.malformed == 0 ? stem.dp.adopt(stem.moves, stem.quarantines, this.counts, names) : null;
    const kept = this.quotas.resolve(this.objects);
    if (suspects && suspects.length > 0) {
      new Cleanup(stem, suspects, restored, kept).start();
      return;
    }
    if (!suspects) stem.dp.failed();
    const rebuilt = stem.dp.dirty;
    syncKeepingQuotas(stem, kept);
    restoredEvent(node, now, restored, rebuilt ? "rebuilt" : "adopted", 0);
  }
}

// ---- a clean stop's saved state ----

/** What the host fed (stem_saved_moves) for the next kernel setup; taken by Restore. */
let pendingSaved: SavedSink | null = null;

/** A piece (whole lines) of the file a clean stop wrote, before node_kernel_setup. */
export function savedMoves(p: usize, n: i32): void {
  let s = pendingSaved;
  if (!s) {
    s = new SavedSink();
    pendingSaved = s;
  }
  s.lines(p, n);
}

/** A piece of the moves journal (stem/journal.ts), after the save file's lines. */
export function savedJournal(p: usize, n: i32): void {
  let s = pendingSaved;
  if (!s) {
    s = new SavedSink();
    pendingSaved = s;
  }
  s.journal(p, n);
}

function takeSaved(): SavedSink | null {
  const s = pendingSaved;
  pendingSaved = null;
  if (s) s.replay();
  return s;
}

/** The journal's marker (the set `js`): its one element's value, -1 if none or not one. */
class MarkerSink extends ElementSink {
  value: i64 = -1;
  element(d: Dumped): void {
    this.value = this.count == 1 && d.keyLen == 4 ? <i64>load<u32>(d.key) : -1;
  }
}

/** The last save's bytes (stem_save), until the next one. */
export let savedBlob: StaticArray<u8> = new StaticArray<u8>(0);

/**
 * A clean stop (the daemon exits and keeps its kernel state): the moves, one
 * line each (journal.ts moveRecord: as their comments read, and a peer's move
 * waiting for its Confirm with its deadline and earlier endpoint), after
 * `hov1 gen <n>`, nftables' generation read now (nothing of ours changes
 * nftables after it), and the quarantines (`hov1 q <until> ...`). Saved only
 * if that is all there is in the kernel of ours: no hold, no busy move but
 * one being validated, no migration under way, no registration being
 * validated, no lost address being probed; otherwise nothing is saved and the
 * next start reads the maps. Event `saved`.
 */
export class Save extends Procedure {
  stem: StemBase;
  gen: i64 = -1;
  constructor(stem: StemBase) {
    super();
    this.stem = stem;
  }
  start(now: f64): void {
    savedBlob = new StaticArray<u8>(0);
    const why = this.unclean();
    if (why.length > 0) {
      savedEvent(this.stem.node, now, false, why, 0, 0);
      return;
    }
    this.stem.node.netlinkAction(NETLINK_NETFILTER, generationRequest(), this, true, ANY_STATUS);
  }
  private unclean(): string {
    const stem = this.stem;
    if (!stem.kernelReady) return "no kernel";
    if (stem.proceduresUnderWay()) return "migrations under way";
    if (stem.lostAddresses().length > 0) return "a lost address";
    for (let i = 0; i < stem.moves.length; i++) {
      const m = stem.moves[i];
      // A peer's move waiting for its Confirm is saved with its validation (moveRecord).
      const waiting = m.unvalidated && !m.local && m.busy != null && m.busy!.validationDeadline() >= 0;
      if (m.held || m.dirty || (m.busy && !waiting) || (m.unvalidated && !waiting)) return "a move changing";
    }
    return "";
  }
  onKernelOutput(node: Node, p: usize, n: i32): void {
    const g = parseGeneration(p, n);
    if (g >= 0) this.gen = g;
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    if (this.gen < 0) {
      savedEvent(node, now, false, "no generation", 0, 0);
      return;
    }
    const moves = this.stem.moves;
    const CAP: i32 = 65536;
    const buf = new StaticArray<u8>(CAP);
    const t = new TextOut();
    t.reset(changetype<usize>(buf), CAP);
    const parts = new Array<StaticArray<u8>>();
    t.ascii("hov1 gen ");
    t.dec(<u64>this.gen);
    t.byte(0x0a);
    if (journal.enabled) {
      // Also the journal's base (stem/journal.ts): the host empties the journal after writing it.
      t.ascii("hov1 seq ");
      t.dec(journal.committed);
      t.byte(0x0a);
    }
    let r: Rendered | null = null;
    for (let i = 0; i < moves.length; i++) {
      if (t.pos > CAP - 512) {
        parts.push(bytesOf(changetype<usize>(buf), t.pos));
        t.reset(changetype<usize>(buf), CAP);
      }
      const x = r ? r.of(moves[i]) : new Rendered(moves[i]);
      r = x;
      moveLine(t, x, moves[i]); // (the journal's records use the same lines: stem/journal.ts)
    }
    const qs = this.stem.quarantines;
    for (let i = 0; i < qs.length; i++) {
      const q = qs[i];
      if (!q.live || !q.rendered) continue;
      if (t.pos > CAP - 512) {
        parts.push(bytesOf(changetype<usize>(buf), t.pos));
        t.reset(changetype<usize>(buf), CAP);
      }
      quarantineLine(t, q, false);
    }
    parts.push(bytesOf(changetype<usize>(buf), t.pos));
    let n = 0;
    for (let i = 0; i < parts.length; i++) n += parts[i].length;
    const all = new StaticArray<u8>(n);
    let at: usize = changetype<usize>(all);
    for (let i = 0; i < parts.length; i++) {
      memory.copy(at, changetype<usize>(parts[i]), <usize>parts[i].length);
      at += <usize>parts[i].length;
    }
    savedBlob = all;
    savedEvent(node, now, true, "", moves.length, n);
  }
}

function savedEvent(node: Node, now: f64, ok: bool, why: string, moves: i32, bytes: i32): void {
  const ev = beginEvent("saved", now);
  ev.key("ok");
  ev.boolean(ok);
  if (!ok) {
    ev.key("reason");
    ev.str(why);
  }
  ev.key("moves");
  ev.num(moves);
  ev.key("bytes");
  ev.num(bytes);
  node.emit(endEvent());
}

/** The last peer found, for runs of one peer's moves (a restart finds a peer per move). */
let lastPeer: Peer | null = null;

/** node.findPeer, answered at once when the cookie is the last one's. */
function samePeer(node: Node, cookie: u64): Peer | null {
  const p = lastPeer;
  if (p && p.cookie == cookie && p.id < node.peers.length && node.peers[p.id] === p) return p;
  const q = node.findPeer(cookie);
  lastPeer = q;
  return q;
}

/**
 * Makes the moves the entries name (of peers still configured); returns how
 * many. A peer's move that was unvalidated (its saved record says so, or,
 * read from the dumps, `quotaKeys` holds its `rq`/`rqw` element) comes back
 * unvalidated, its validation going on (docs/PROTOCOL.md 7.5, "Restarts").
 */
function takeOver(stem: StemBase, node: Node, entries: Array<TableEntry>, quotaKeys: Set<u64> | null, now: f64): i32 {
  let restored = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const peer = samePeer(node, e.cookie);
    if (!peer) continue; // a peer no longer configured: its elements go (Cleanup)
    const m = new Move(e.id, peer, e.local, e.orig, e.origPort);
    m.protocols = e.protocols;
    m.moveTo(e.wire, e.wirePort);
    m.lastPackets = e.packets;
    m.idleSince = now;
    if (e.local) m.scope = peer.ownedAddresses();
    stem.addMove(m);
    if (e.id >= stem.nextMoveId) stem.nextMoveId = e.id + 1;
    restored++;
    if (e.local) continue;
    if (e.unvalidated) {
      stem.resumeValidation(m, e.prev ? e.prev! : e.orig, e.prev ? e.prevPort : e.origPort, e.deadline, now);
    } else if (quotaKeys && quotaKeys.size > 0) {
      // After a crash: the move's quota element in the dump is what says it is unvalidated.
      const hashes = quotaKeyHashes(e.protocols, e.orig, e.origPort);
      let found = false;
      for (let k = 0; k < hashes.length && !found; k++) found = quotaKeys.has(hashes[k]);
      if (found) stem.resumeValidation(m, e.orig, e.origPort, now + node.options.validationTimeoutMs, now);
    }
  }
  return restored;
}

/**
 * Why a restart with saved moves read the maps after all (the `restored` event's `savedFallback`), or "":
 * "peer-unknown" (a saved peer is no longer configured), "generation-changed" (nftables changed since a clean
 * stop), "marker-malformed" / "marker-missing" (the journal's marker in the kernel), "journal-gap",
 * "journal-not-all" (the journal says the kernel holds more than it lists: unvalidated moves, quotas),
 * "journal-torn" (its last record cut short or its checksum wrong), "journal-behind" (the kernel's marker is past
 * the journal's last record: a crash between a batch's commit and its append, or someone else's marker),
 * "journal-ahead" (the other way).
 */
let savedFallback: string = "";
/** The journal's last sequence number and the kernel's marker when savedFallback was set (-1: none, not shown). */
let savedSeq: i64 = -1;
let kernelSeq: i64 = -1;

function restoredEvent(node: Node, now: f64, moves: i32, how: string, leftovers: i32): void {
  const ev = beginEvent("restored", now);
  ev.key("moves");
  ev.num(moves);
  ev.key("elements");
  ev.str(how);
  ev.key("leftovers");
  ev.num(leftovers);
  if (savedFallback.length > 0) {
    ev.key("savedFallback");
    ev.str(savedFallback);
    if (savedSeq >= 0) {
      ev.key("journalSeq");
      ev.num(<u64>savedSeq);
    }
    if (kernelSeq >= 0) {
      ev.key("kernelSeq");
      ev.num(<u64>kernelSeq);
    }
    savedFallback = "";
  }
  node.emit(endEvent());
}

/** The maps a restart found more in than its moves want, read again: what no move owns goes, in one batch. */
class Cleanup extends Procedure {
  stem: StemBase;
  names: Array<string>;
  restored: i32;
  private mapOf: Map<u32, string> = new Map<u32, string>();
  sink: LeftoverSink;
  /** The cleanup batch was sent (then its result ends the restart). */
  private deleting: bool = false;
  kept: Array<QuotaElement>;
  constructor(stem: StemBase, names: Array<string>, restored: i32, kept: Array<QuotaElement>) {
    super();
    this.stem = stem;
    this.names = names;
    this.restored = restored;
    this.kept = kept;
    this.sink = new LeftoverSink(stem);
  }
  start(): void {
    for (let i = 0; i < this.names.length; i++) {
      const id = this.stem.node.netlinkAction(NETLINK_NETFILTER, setElementsDump(this.names[i]), this, true, ANY_STATUS, true);
      this.mapOf.set(id, this.names[i]);
    }
  }
  onKernelOutput(node: Node, p: usize, n: i32): void {
    const id = node.outputAction;
    if (!this.mapOf.has(id)) return;
    this.sink.map = this.mapOf.get(id);
    parseElements(p, n, this.sink);
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    const stem = this.stem;
    if (this.deleting) {
      // A refused cleanup leaves the kernel's state unknown: the next batch starts afresh.
      if (!ok) stem.dp.failed();
      const rebuilt = stem.dp.dirty;
      syncKeepingQuotas(stem, this.kept);
      restoredEvent(node, now, this.restored, ok && !rebuilt ? "adopted" : "rebuilt", this.sink.left.length);
      return;
    }
    const left = this.sink.left;
    if (this.sink.malformed > 0 || this.sink.unparsed > 0 || left.length == 0) {
      // Nothing found to delete although the counts differ: the table is made again.
      stem.dp.failed();
      syncKeepingQuotas(stem, this.kept);
      restoredEvent(node, now, this.restored, "rebuilt", left.length);
      return;
    }
    this.deleting = true;
    node.nftAction(stem.dp.renderCleanup(left), this);
  }
}

/** `hq<digits>`: the quota objects earlier versions named in `rq`/`rqw` elements (a name that is not one is never written into a batch). */
function isQuotaName(p: usize, n: i32): bool {
  if (n < 3 || n > 12 || load<u8>(p) != 0x68 || load<u8>(p + 1) != 0x71) return false;
  for (let i = 2; i < n; i++) {
    const c = load<u8>(p + <usize>i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * The quota sets' elements in a restart's dumps: their keys (owner-count
 * hashes, nft.ts), and what each has counted: its own quota's bytes, or the
 * named object's an earlier version's element refers to.
 */
class QuotaSink extends ElementSink {
  map: string = "";
  keys: Set<u64> = new Set<u64>();
  counted: Array<QuotaElement> = new Array<QuotaElement>();
  objrefs: Array<string> = new Array<string>();
  element(d: Dumped): void {
    if (d.keyLen == 0) return;
    const h = dumpedElementHash(this.map, d.key, d.keyLen);
    if (h == 0) return;
    this.keys.add(h);
    const q = new QuotaElement();
    q.set = this.map;
    q.key = bytesOf(d.key, d.keyLen);
    q.used = d.quotaUsed;
    this.counted.push(q);
    this.objrefs.push(isQuotaName(d.objref, d.objrefLen) ? String.UTF8.decodeUnsafe(d.objref, <usize>d.objrefLen) : "");
  }
  /** The elements that counted something, their named objects' counts filled in. */
  resolve(objects: Map<string, i64>): Array<QuotaElement> {
    const out = new Array<QuotaElement>();
    for (let i = 0; i < this.counted.length; i++) {
      const q = this.counted[i];
      const o = this.objrefs[i];
      if (o.length > 0) q.used = objects.has(o) ? objects.get(o) : 0;
      if (q.used > 0) out.push(q);
    }
    return out;
  }
}

/**
 * The restart's first batch; if it makes the table anew (a map lacked an
 * element, a dump did not parse, an earlier version's table), the quota
 * elements it wrote start from nothing, so a second transaction right after
 * puts back what each unvalidated move's quota had counted (nftdump.ts
 * quotaElementsBatch; nft's text cannot say it). Between the two, a move's
 * fresh quota caps it (never less than the full quota is left to it).
 */
function syncKeepingQuotas(stem: StemBase, kept: Array<QuotaElement>): void {
  const rebuilding = stem.dp.dirty;
  stem.sync(null);
  if (!rebuilding || kept.length == 0) return;
  const own = new Array<QuotaElement>();
  for (let i = 0; i < kept.length; i++) {
    const q = kept[i];
    if (stem.dp.owns(q.set, changetype<usize>(q.key), q.key.length)) own.push(q);
  }
  if (own.length == 0) return;
  stem.node.netlinkAction(NETLINK_NETFILTER, quotaElementsBatch(own, stem.dp.quotaBytes), null);
}

/** Collects the elements of a dump that no move owns. */
class LeftoverSink extends ElementSink {
  stem: StemBase;
  map: string = "";
  left: Array<Leftover> = new Array<Leftover>();
  unparsed: i32 = 0;
  constructor(stem: StemBase) {
    super();
    this.stem = stem;
  }
  element(d: Dumped): void {
    if (d.keyLen == 0) {
      this.unparsed++;
      return;
    }
    if (this.stem.dp.owns(this.map, d.key, d.keyLen)) return;
    const l = new Leftover();
    l.map = this.map;
    l.key = bytesOf(d.key, d.keyLen);
    if (isQuotaName(d.objref, d.objrefLen)) l.quota = String.UTF8.decodeUnsafe(d.objref, <usize>d.objrefLen);
    this.left.push(l);
  }
}

/** One sweep: the table's counters and the TCP sockets. */
export class Sweep extends Procedure {
  stem: StemBase;
  table: TableSink = new TableSink();
  sockets: Array<SocketInfo> = new Array<SocketInfo>();
  /** The wire-side maps' dumps: their output comes in pieces, the socket dumps' after it. */
  private listings: Set<u32> = new Set<u32>();
  /**
   * The data plane's batches when the dumps were asked for. A host reads a
   * dump in pieces across turns of its loop (KernelIO.dump), and a batch
   * (a migration answered meanwhile) may change the map while it is walked:
   * the walk may then miss an element, so a move the dumps did not show is
   * not aged by this sweep.
   */
  private syncsAtStart: u32 = 0;
  constructor(stem: StemBase) {
    super();
    this.stem = stem;
    this.table.countsOnly = true;
  }
  start(): void {
    const node = this.stem.node;
    this.syncsAtStart = this.stem.syncs;
    for (let i = 0; i < COUNTED_MAPS.length; i++) {
      this.listings.add(node.netlinkAction(NETLINK_NETFILTER, setElementsDump(COUNTED_MAPS[i]), this, true, ANY_STATUS, true));
    }
    let v4 = false;
    let v6 = false;
    for (let i = 0; i < this.stem.moves.length; i++) {
      const f = this.stem.moves[i].orig.family;
      if (f == FAMILY_IPV4) v4 = true;
      else if (f == FAMILY_IPV6) v6 = true;
    }
    if (v4) node.netlinkAction(NETLINK_SOCK_DIAG, bytesOf(requestPtr(), socketDump(FAMILY_IPV4, IPPROTO_TCP)), this);
    if (v6) node.netlinkAction(NETLINK_SOCK_DIAG, bytesOf(requestPtr(), socketDump(FAMILY_IPV6, IPPROTO_TCP)), this);
  }
  onKernelOutput(node: Node, p: usize, n: i32): void {
    if (this.listings.has(node.outputAction)) {
      parseElements(p, n, this.table);
    } else {
      parseSockets(p, n, IPPROTO_TCP, this.sockets);
    }
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    const stem = this.stem;
    const idle = node.options.sessionIdleMs;
    const changedMeanwhile = stem.syncs != this.syncsAtStart;
    let ended = false;
    for (let i = stem.moves.length - 1; i >= 0; i--) {
      const m = stem.moves[i];
      if (m.busy || m.held) continue;
      if (m.idleSince == 0) m.idleSince = now;
      if (this.table.packets.has(m.id)) {
        const n = this.table.packets.get(m.id);
        if (n != m.lastPackets) {
          m.lastPackets = n;
          m.idleSince = now;
        }
      } else if (changedMeanwhile) {
        continue;
      }
      if (now - m.idleSince < idle || this.tcpAlive(m, now)) continue;
      stem.removeMove(m);
      ended = true;
      const ev = beginEvent("session-ended", now);
      ev.key("move");
      ev.num(m.id);
      ev.key("peer");
      cookieJson(ev, m.peer.cookie);
      ev.key("side");
      ev.str(m.local ? "local" : "peer");
      ev.key("original");
      m.orig.json(ev);
      ev.key("wire");
      m.wire.json(ev);
      node.emit(endEvent());
    }
    if (ended) {
      stem.keepIdentities(null);
      stem.sync(null);
    }
    stem.sweepDone(now);
  }
  /** The TCP sockets by local and by remote address (made at the first idle move: a sweep of 100,000 moves meets as many sockets). */
  private byLocal: Map<u64, Array<SocketInfo>> | null = null;
  private byRemote: Map<u64, Array<SocketInfo>> = new Map<u64, Array<SocketInfo>>();

  /** A TCP socket of the move's sessions still exists (in any state, TIME_WAIT included). */
  private tcpAlive(m: Move, now: f64): bool {
    if (m.protocols == PROTO_UDP) return false;
    let byLocal = this.byLocal;
    if (!byLocal) {
      byLocal = new Map<u64, Array<SocketInfo>>();
      for (let i = 0; i < this.sockets.length; i++) {
        const s = this.sockets[i];
        index(byLocal, s.local, s);
        index(this.byRemote, s.remote, s);
      }
      this.byLocal = byLocal;
    }
    const k = addressHash(m.orig);
    if (m.local) {
      if (!byLocal.has(k)) return false;
      const list = byLocal.get(k);
      for (let i = 0; i < list.length; i++) {
        const s = list[i];
        if (!s.local.equals(m.orig) || (m.origPort != 0 && s.localPort != m.origPort)) continue;
        if (m.peer.owns(s.remote, now)) return true;
      }
      return false;
    }
    if (!this.byRemote.has(k)) return false;
    const list = this.byRemote.get(k);
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      if (s.remote.equals(m.orig) && (m.origPort == 0 || s.remotePort == m.origPort)) return true;
    }
    return false;
  }
}

function addressHash(a: Address): u64 {
  return (a.hi * 0x9e3779b97f4a7c15) ^ a.lo ^ (<u64>a.family << 62);
}

function index(map: Map<u64, Array<SocketInfo>>, a: Address, s: SocketInfo): void {
  const k = addressHash(a);
  if (!map.has(k)) map.set(k, new Array<SocketInfo>());
  map.get(k).push(s);
}

/** The sessions (sockets) the host has, for `handover sessions`: reported as one event. */
export class SessionList extends Procedure {
  stem: StemBase;
  sockets: Array<SocketInfo> = new Array<SocketInfo>();
  private protocols: Array<u8> = new Array<u8>();
  constructor(stem: StemBase) {
    super();
    this.stem = stem;
  }
  start(): void {
    const node = this.stem.node;
    const protos: StaticArray<u8> = [IPPROTO_TCP, IPPROTO_UDP];
    for (let f: u8 = FAMILY_IPV4; f <= FAMILY_IPV6; f++) {
      for (let k = 0; k < 2; k++) {
        this.protocols.push(protos[k]);
        node.netlinkAction(NETLINK_SOCK_DIAG, bytesOf(requestPtr(), socketDump(f, protos[k])), this);
      }
    }
  }
  onKernelOutput(node: Node, p: usize, n: i32): void {
    parseSockets(p, n, this.protocols.shift(), this.sockets);
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    const moves = this.stem.moves;
    const e = beginEvent("sessions", now);
    e.key("sessions");
    e.arrOpen();
    for (let i = 0; i < this.sockets.length; i++) {
      const s = this.sockets[i];
      // Our own control sockets are not sessions.
      if (this.stem.isOwnSocket(s) || (s.protocol == IPPROTO_UDP && s.remotePort == node.options.controlPort)) continue;
      e.objOpen();
      e.key("protocol");
      e.str(s.protocol == IPPROTO_TCP ? "TCP" : "UDP");
      e.key("state");
      e.num(s.state);
      e.key("local");
      s.local.json(e);
      e.key("localPort");
      e.num(s.localPort);
      e.key("remote");
      s.remote.json(e);
      e.key("remotePort");
      e.num(s.remotePort);
      // The move carrying it, if any: ours (its local address) or a peer's (its remote one).
      for (let j = 0; j < moves.length; j++) {
        const m = moves[j];
        const mine = m.local && s.local.equals(m.orig) && (m.origPort == 0 || m.origPort == s.localPort);
        const theirs = !m.local && s.remote.equals(m.orig) && (m.origPort == 0 || m.origPort == s.remotePort);
        if (!mine && !theirs) continue;
        e.key("move");
        e.num(m.id);
        e.key("wire");
        m.wire.json(e);
        break;
      }
      e.objClose();
    }
    e.arrClose();
    node.emit(endEvent());
  }
}
