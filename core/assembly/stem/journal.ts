// The moves journal (docs/dataplane.md "The moves journal"): a crash restart
// without the maps' dumps.
//
// Every data-plane batch of a daemon that keeps a journal also sets a marker
// in the kernel, in the same nftables transaction: the one element of the set
// `js` (type mark) is the batch's sequence number. When the kernel commits the
// batch, the core hands the host the batch's journal record, which the host
// appends to `<pid file>.journal` as given. A record is binary framing around
// the save file's own lines (stem/lifecycle.ts Save, stem/table.ts SavedSink):
//
//   u32 length of the body | u32 CRC-32 of seq, flags and body | u32 seq | u8 flags | body
//
// all little-endian; flags bit 0: after this batch the kernel holds exactly
// what the lines say (no hold, no unvalidated or half-moved move, no lost
// address). The body's lines: `hov1 <move as its comment reads>` (a move in,
// or changed: it replaces the one of that id), `hov1 - <id>` (a move out),
// `hov1 q <until> ...` / `hov1 -q <until> ...` (a quarantine in / out).
//
// A base replaces the journal: the save file's format (`hov1 seq <n>`, an
// optional `hov1 unclean`, the moves, the quarantines), written by the host
// to `<pid file>.moves` (then it truncates the journal). The core renders one
// after a restart that read the maps, after a table re-created, and when the
// journal holds more than twice as many lines as there are moves and
// quarantines (compaction). A clean stop's save is a base too (with the
// generation).
//
// A restart (stem/lifecycle.ts Restore) reads the marker (one small dump, not
// the maps) and takes the base + records over only if the last whole record's
// sequence is the marker's, the sequence has no gap and the state is clean;
// anything else (a crash between the batch and the append, a torn record, a
// marker missing or different) reads the maps as before.

import { TextOut } from "../util/text";
import { Address } from "../engine/address";
import { bytesOf } from "../engine/output";
import { Move, Quarantine, Rendered } from "./move";

export const JOURNAL_CLEAN: u8 = 1;
/** Bytes before a record's body. */
export const JOURNAL_HEADER: i32 = 13;
/** A record's body is never longer (a longer length is a torn or foreign file). */
export const JOURNAL_MAX_BODY: u32 = 1 << 26;

let crcTable: StaticArray<u32> | null = null;

/** CRC-32 (IEEE, reflected) of [p, p+n), continuing from `crc` (start with 0). */
export function crc32(crc: u32, p: usize, n: usize): u32 {
  let t = crcTable;
  if (!t) {
    t = new StaticArray<u32>(256);
    for (let i: u32 = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t[i] = c;
    }
    crcTable = t;
  }
  let c = ~crc;
  for (let i: usize = 0; i < n; i++) c = unchecked(t[(c ^ <u32>load<u8>(p + i)) & 0xff]) ^ (c >>> 8);
  return ~c;
}

/** Lines written into a growing buffer (pieces of 64 KiB). */
export class Lines {
  t: TextOut = new TextOut();
  private buf: StaticArray<u8> = new StaticArray<u8>(65536);
  private parts: Array<StaticArray<u8>> = new Array<StaticArray<u8>>();
  /** Lines written since reset. */
  count: i32 = 0;
  constructor() {
    this.reset();
  }
  reset(): void {
    this.t.reset(changetype<usize>(this.buf), this.buf.length);
    this.parts = new Array<StaticArray<u8>>();
    this.count = 0;
  }
  /** Room for one more line (a line is < 512 bytes). */
  room(): TextOut {
    if (this.t.pos > this.buf.length - 512) {
      this.parts.push(bytesOf(changetype<usize>(this.buf), this.t.pos));
      this.t.reset(changetype<usize>(this.buf), this.buf.length);
    }
    this.count++;
    return this.t;
  }
  get length(): i32 {
    let n = this.t.pos;
    for (let i = 0; i < this.parts.length; i++) n += this.parts[i].length;
    return n;
  }
  /** Everything written, after `skip` bytes of room for a header. */
  bytes(skip: i32): StaticArray<u8> {
    const all = new StaticArray<u8>(skip + this.length);
    let at = changetype<usize>(all) + <usize>skip;
    for (let i = 0; i < this.parts.length; i++) {
      memory.copy(at, changetype<usize>(this.parts[i]), <usize>this.parts[i].length);
      at += <usize>this.parts[i].length;
    }
    memory.copy(at, changetype<usize>(this.buf), <usize>this.t.pos);
    return all;
  }
}

/** `<id> <L|R> <peer cookie> <protocols> <orig>/<port> <wire>/<port>`: what a comment (and a saved line) says of a move. */
export function moveName(t: TextOut, r: Rendered): void {
  t.dec(r.id);
  endpoints(t, r.local, r.cookie, r.protocols, r.orig, r.origPort, r.wire, r.wirePort);
}

/** ` <L|R> <peer cookie> <protocols> <orig>/<port> <to>/<port>`: a move's and a quarantine's common fields. */
function endpoints(t: TextOut, local: bool, cookie: u64, protocols: u8, orig: Address, origPort: u32, to: Address, toPort: u32): void {
  t.ascii(local ? " L " : " R ");
  for (let s = 40; s >= 0; s -= 8) t.hexByte(<u32>(cookie >> <u64>s) & 0xff);
  t.byte(0x20);
  t.dec(protocols);
  t.byte(0x20);
  orig.text(t);
  t.byte(0x2f);
  t.dec(origPort);
  t.byte(0x20);
  to.text(t);
  t.byte(0x2f);
  t.dec(toPort);
}

/** `hov1 <move>`: a move as its comment reads (one line of the save file). */
export function moveLine(t: TextOut, r: Rendered, m: Move): void {
  t.ascii("hov1 ");
  moveRecord(t, r, m);
  t.byte(0x0a);
}

/**
 * A move's record in the file a clean stop writes (stem/lifecycle.ts Save),
 * one line after `hov1 ` (moveLine; the journal's records carry the same lines): its name as the comments say it, and, for a peer's
 * move still waiting for its Confirm (section 7.5), ` u <deadline ms>
 * <prev>/<port>`: when its validation times out and where it then rolls back
 * to. The one encoder of a move's state across restarts (stem/table.ts reads it).
 */
export function moveRecord(t: TextOut, r: Rendered, m: Move): void {
  moveName(t, r);
  const v = m.busy;
  if (!m.unvalidated || m.local || !v) return;
  const deadline = v.validationDeadline();
  const k = v.moves.indexOf(m);
  if (deadline < 0 || k < 0) return;
  t.ascii(" u ");
  t.dec(<u64>Math.max(0, Math.ceil(deadline)));
  t.byte(0x20);
  v.prevWire[k].text(t);
  t.byte(0x2f);
  t.dec(v.prevPort[k]);
}

/** `hov1 q <until ms> <L|R> <cookie> <protocols> <orig>/<port> <left>/<port>` (`hov1 -q ...`: it ended). */
export function quarantineLine(t: TextOut, q: Quarantine, out: bool): void {
  t.ascii(out ? "hov1 -q " : "hov1 q ");
  t.dec(<u64>Math.max(0, q.until));
  endpoints(t, q.local, q.peer.cookie, q.protocols, q.orig, q.origPort, q.address, q.port);
  t.byte(0x0a);
}

/**
 * True if a move's elements say more than its saved line does (the line has
 * no hold, no validation state, no half-made move): a restart from the line
 * would not know what the kernel holds for it.
 */
export function unsaveable(r: Rendered): bool {
  return r.held || r.unvalidated || !r.outWire.equals(r.wire) || r.outWirePort != r.wirePort;
}

/** A committed batch's record, or a base, waiting for its batch's result. */
class Pending {
  base: bool = false;
  seq: u32 = 0;
  bytes: StaticArray<u8> = new StaticArray<u8>(0);
  /** Lines in it (for compaction). */
  lines: i32 = 0;
}

export class Journal {
  /** The host keeps a journal (stem_journal_enable): batches carry the marker. */
  enabled: bool = false;
  /** The last sequence number given to a batch. */
  seq: u32 = 0;
  /** The marker the kernel holds, as far as the core knows (the last committed batch's). */
  committed: u32 = 0;
  /** Lines in the journal since its base (compaction when > 2 x live + 4096). */
  lines: i32 = 0;
  /** The next batch carries a base (the files do not describe the kernel). */
  wantBase: bool = true;
  /** The lines of the batch being rendered (made on first use: a node without a journal keeps no buffer). */
  private lines_: Lines | null = null;
  get w(): Lines {
    let l = this.lines_;
    if (!l) {
      l = new Lines();
      this.lines_ = l;
    }
    return l;
  }
  private base: bool = false;
  private pending: Map<u32, Pending> = new Map<u32, Pending>();
  /** The last rendered record, until the host's action id is known. */
  private last: Pending | null = null;
  /** For the host: a base to write (then the journal is emptied), and records to append after it. */
  outBase: StaticArray<u8> | null = null;
  outRecords: Array<StaticArray<u8>> = new Array<StaticArray<u8>>();
  outLength: i32 = 0;

  /** Forgets everything (a node made again in the same instance: tests' restarts). */
  reset(): void {
    this.enabled = false;
    this.seq = 0;
    this.committed = 0;
    this.lines = 0;
    this.wantBase = true;
    this.pending = new Map<u32, Pending>();
    this.last = null;
    this.taken();
  }

  /** A batch begins: a base if one is wanted (or the table is made again: `rebuild`), else a delta. */
  begin(rebuild: bool, live: i32): bool {
    this.w.reset();
    this.base = rebuild || this.wantBase || this.lines > 2 * live + 4096;
    return this.base;
  }

  /** The marker's commands, for the end of the batch being rendered. */
  marker(t: TextOut): void {
    t.ascii("flush set inet handover js\nadd element inet handover js { ");
    t.dec(this.seq + 1);
    t.ascii(" }\n");
  }

  /** The batch is rendered: its record (or base), with the state's cleanliness. */
  end(clean: bool): void {
    this.seq++;
    const p = new Pending();
    p.seq = this.seq;
    p.base = this.base;
    p.lines = this.w.count;
    if (this.base) {
      const head = new Lines();
      const t = head.room();
      t.ascii("hov1 seq ");
      t.dec(this.seq);
      t.byte(0x0a);
      if (!clean) head.room().ascii("hov1 unclean\n");
      const h = head.bytes(0);
      const body = this.w.bytes(h.length);
      memory.copy(changetype<usize>(body), changetype<usize>(h), <usize>h.length);
      p.bytes = body;
      this.wantBase = false;
    } else {
      const b = this.w.bytes(JOURNAL_HEADER);
      const at = changetype<usize>(b);
      store<u32>(at, <u32>(b.length - JOURNAL_HEADER));
      store<u32>(at + 8, this.seq);
      store<u8>(at + 12, clean ? JOURNAL_CLEAN : 0);
      store<u32>(at + 4, crc32(0, at + 8, <usize>(b.length - 8)));
      p.bytes = b;
    }
    this.w.reset();
    this.last = p;
  }

  /** The batch just rendered went out as kernel action `id`. */
  sent(id: u32): void {
    const p = this.last;
    if (!p) return;
    this.last = null;
    this.pending.set(id, p);
  }

  /** A kernel action's result: a committed batch's record goes to the host, a failed one's nowhere. */
  result(id: u32, ok: bool): void {
    if (!this.pending.has(id)) return;
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (!ok) {
      // The marker did not change; the next batch re-creates the table (a base).
      this.wantBase = true;
      return;
    }
    this.committed = p.seq;
    if (p.base) {
      this.outBase = p.bytes;
      this.outRecords = new Array<StaticArray<u8>>();
      this.outLength = 0;
      this.lines = p.lines;
      return;
    }
    this.outRecords.push(p.bytes);
    this.outLength += p.bytes.length;
    this.lines += p.lines;
  }

  /** The records waiting for the host, in one piece. */
  records(): StaticArray<u8> {
    const all = new StaticArray<u8>(this.outLength);
    let at = changetype<usize>(all);
    for (let i = 0; i < this.outRecords.length; i++) {
      memory.copy(at, changetype<usize>(this.outRecords[i]), <usize>this.outRecords[i].length);
      at += <usize>this.outRecords[i].length;
    }
    return all;
  }

  /** The host wrote what it was given. */
  taken(): void {
    this.outBase = null;
    this.outRecords = new Array<StaticArray<u8>>();
    this.outLength = 0;
  }
}

export const journal = new Journal();

/** A move's line for the batch's record (a delta: moves in and out). */
export function journalMoveIn(r: Rendered, m: Move): void {
  moveLine(journal.w.room(), r, m);
}

export function journalMoveOut(id: u32): void {
  const t = journal.w.room();
  t.ascii("hov1 - ");
  t.dec(id);
  t.byte(0x0a);
}

export function journalQuarantine(q: Quarantine, out: bool): void {
  quarantineLine(journal.w.room(), q, out);
}

/** A base's lines: every move with elements and every quarantine in the kernel; returns how many moves say too little (unsaveable). */
export function journalSnapshot(moves: Array<Move>, quarantines: Array<Quarantine>): i32 {
  let unclean = 0;
  let r: Rendered | null = null;
  for (let i = 0; i < moves.length; i++) {
    const m = moves[i];
    if (!m.inKernel) continue;
    const x = r ? r.of(m) : new Rendered(m);
    r = x;
    if (unsaveable(x)) unclean++;
    moveLine(journal.w.room(), x, m);
  }
  for (let i = 0; i < quarantines.length; i++) {
    const q = quarantines[i];
    if (q.live && q.rendered) quarantineLine(journal.w.room(), q, false);
  }
  return unclean;
}
