// Reading the daemon's own nftables maps back (a netlink dump, kernel/nftdump.ts):
// each element of the wire-side maps names its move in its comment
//   comment "hov1 <id> <L|R> <peer cookie> <protocols> <orig>/<port> <wire>/<port>",
// and its counter says whether the move still carries traffic. A restarted
// daemon rebuilds its moves from this; a running one learns which are idle.
// The dump comes in pieces that end at a message's end, however long it is,
// so each piece is parsed alone.

import { Address } from "../engine/address";
import { parseAddress } from "../util/text";
import { Dumped, ElementSink } from "../kernel/nftdump";
import { crc32, JOURNAL_HEADER, JOURNAL_MAX_BODY, JOURNAL_CLEAN } from "./journal";

const ADDR = memory.data(16);

export class TableEntry {
  id: u32 = 0;
  local: bool = false;
  cookie: u64 = 0;
  protocols: u8 = 0;
  orig: Address = new Address();
  origPort: u32 = 0;
  wire: Address = new Address();
  wirePort: u32 = 0;
  /** Packets counted by this move's rules (summed over its rules). */
  packets: u64 = 0;
  /** A saved quarantine's end (ms); its wire endpoint is the one it left. */
  until: f64 = 0;
  /**
   * A peer's move not validated yet (section 7.5): a saved record's ` u
   * <deadline> <prev>/<port>`, or, after a crash, its quota element found in
   * `rq`/`rqw` (then the deadline is the restart's plus the validation
   * timeout and the earlier endpoint is the original).
   */
  unvalidated: bool = false;
  deadline: f64 = 0;
  prev: Address | null = null;
  prevPort: u32 = 0;
}

function isDigit(c: u32): bool {
  return c >= 0x30 && c <= 0x39;
}

/** Reads a decimal number at p (up to end); returns the value and advances `at`. */
class Cursor {
  p: usize = 0;
  end: usize = 0;
  ok: bool = true;
  get more(): bool { return this.p < this.end; }
  peek(): u32 { return this.p < this.end ? <u32>load<u8>(this.p) : 0; }
  skipSpaces(): void {
    while (this.p < this.end && load<u8>(this.p) == 0x20) this.p++;
  }
  number(): u64 {
    this.skipSpaces();
    let v: u64 = 0;
    let n = 0;
    while (this.p < this.end && isDigit(load<u8>(this.p))) {
      v = v * 10 + <u64>(load<u8>(this.p) - 0x30);
      this.p++;
      n++;
    }
    if (n == 0 || n > 19) this.ok = false;
    return v;
  }
  hex48(): u64 {
    this.skipSpaces();
    let v: u64 = 0;
    for (let i = 0; i < 12; i++) {
      const c = this.peek();
      let d: i32 = -1;
      if (c >= 0x30 && c <= 0x39) d = <i32>(c - 0x30);
      else if (c >= 0x61 && c <= 0x66) d = <i32>(c - 0x61 + 10);
      if (d < 0) {
        this.ok = false;
        return 0;
      }
      v = (v << 4) | <u64>d;
      this.p++;
    }
    return v;
  }
  /** An address up to '/', then the port. */
  endpoint(a: Address): u32 {
    this.skipSpaces();
    const start = this.p;
    while (this.p < this.end && load<u8>(this.p) != 0x2f) this.p++;
    const family = parseAddress(start, <i32>(this.p - start), ADDR);
    if (family == 0 || this.peek() != 0x2f) {
      this.ok = false;
      return 0;
    }
    a.load(family, ADDR);
    this.p++;
    return <u32>this.number();
  }
  word(): u32 {
    this.skipSpaces();
    const c = this.peek();
    this.p++;
    return c;
  }
}

/**
 * After a move's fields, nothing, or (a saved record, stem/journal.ts moveRecord)
 * ` u <deadline ms> <prev>/<port>`: a remote move still unvalidated.
 */
function readValidation(c: Cursor, e: TableEntry): bool {
  c.skipSpaces();
  if (!c.more) return true;
  if (c.word() != 0x75 || e.local) return false; // 'u'
  e.unvalidated = true;
  e.deadline = <f64>c.number();
  const prev = new Address();
  e.prevPort = c.endpoint(prev);
  e.prev = prev;
  c.skipSpaces();
  return c.ok && !c.more && prev.family == e.orig.family;
}

function matchAt(p: usize, end: usize, s: string): bool {
  if (p + <usize>s.length > end) return false;
  for (let i = 0; i < s.length; i++) if (load<u8>(p + i) != <u8>s.charCodeAt(i)) return false;
  return true;
}

/**
 * Reads one comment `hov1 <id> <L|R> <cookie> <protocols> <orig>/<port>
 * <wire>/<port>` at [p, end) (after its `hov1 `) into an entry, one per move
 * id (packets summed over the move's elements). False if it names no move
 * (a quarantine's, or malformed).
 */
function takeComment(p: usize, end: usize, packets: u64, out: Array<TableEntry>, index: Map<u32, TableEntry>): bool {
  const c = new Cursor();
  c.p = p;
  c.end = end;
  const id = <u32>c.number();
  if (!c.ok) return false;
  if (index.has(id)) {
    const side = c.word();
    if (side != 0x4c && side != 0x52) return false;
    index.get(id).packets += packets;
    return true;
  }
  const e = new TableEntry();
  e.id = id;
  if (!readEntry(c, e) || !readValidation(c, e)) return false;
  e.packets = packets;
  index.set(id, e);
  out.push(e);
  return true;
}

/** `<L|R> <cookie> <protocols> <orig>/<port> <wire>/<port>` into e. */
function readEntry(c: Cursor, e: TableEntry): bool {
  const side = c.word();
  if (side != 0x4c && side != 0x52) return false;
  e.local = side == 0x4c; // 'L'
  e.cookie = c.hex48();
  e.protocols = <u8>c.number();
  e.origPort = c.endpoint(e.orig);
  e.wirePort = c.endpoint(e.wire);
  return c.ok;
}

const HOV1 = "hov1 ";
const COUNT_CURSOR = new Cursor();
const GEN = "hov1 gen ";
const QUARANTINE = "hov1 q ";
const SEQ = "hov1 seq ";
const UNCLEAN = "hov1 unclean";
const MOVE_OUT = "hov1 - ";
const QUARANTINE_OUT = "hov1 -q ";

function sameQuarantine(a: TableEntry, b: TableEntry): bool {
  return a.until == b.until && a.local == b.local && a.cookie == b.cookie && a.protocols == b.protocols &&
    a.orig.equals(b.orig) && a.origPort == b.origPort && a.wire.equals(b.wire) && a.wirePort == b.wirePort;
}

/**
 * The file a clean stop wrote (stem/lifecycle.ts Save): `hov1 gen <n>`, then
 * one line per move as its comment reads. Pieces end at a line's end.
 */
export class SavedSink {
  entries: Array<TableEntry> = new Array<TableEntry>();
  index: Map<u32, TableEntry> = new Map<u32, TableEntry>();
  /** Quarantines: `hov1 q <until ms> <L|R> <cookie> <protocols> <orig>/<port> <left>/<port>`. */
  quarantines: Array<TableEntry> = new Array<TableEntry>();
  gen: i64 = -1;
  /** A line that is neither: the file is not used. */
  bad: bool = false;
  /** The moves journal (stem/journal.ts): the base's sequence number (-1: none), the last whole record's. */
  seq: i64 = -1;
  lastSeq: i64 = -1;
  /** The base and every record after it say that the kernel holds exactly what the lines say. */
  clean: bool = true;
  /** Records applied; a record cut short or whose checksum fails (it and what follows ignored); a gap in the sequence. */
  records: i32 = 0;
  torn: bool = false;
  gap: bool = false;
  /** The journal file's pieces, read once the save file's lines are all in (replay). */
  private journalParts: Array<StaticArray<u8>> = new Array<StaticArray<u8>>();
  private removed: bool = false;
  /** While a record's lines are applied: a move line replaces the move of its id, and lines may take moves out. */
  private delta: bool = false;
  journal(p: usize, n: i32): void {
    const a = new StaticArray<u8>(n);
    memory.copy(changetype<usize>(a), p, <usize>n);
    this.journalParts.push(a);
  }
  /**
   * Applies the journal's records after the base (stem/journal.ts), in
   * order: a record is used only whole (its length within the file, its
   * CRC-32 right); the first that is not ends the journal (a torn append:
   * `torn`). Records at or below the base's sequence are already in it (a
   * base written, the journal not yet emptied); one that does not follow the
   * last is a gap (the journal is not used). Never traps.
   */
  replay(): void {
    let n = 0;
    for (let i = 0; i < this.journalParts.length; i++) n += this.journalParts[i].length;
    if (n == 0 && this.journalParts.length == 0) {
      this.lastSeq = this.seq;
      this.finish();
      return;
    }
    const all = new StaticArray<u8>(n);
    let at = changetype<usize>(all);
    for (let i = 0; i < this.journalParts.length; i++) {
      memory.copy(at, changetype<usize>(this.journalParts[i]), <usize>this.journalParts[i].length);
      at += <usize>this.journalParts[i].length;
    }
    this.journalParts = new Array<StaticArray<u8>>();
    this.lastSeq = this.seq;
    const p = changetype<usize>(all);
    let off: usize = 0;
    const end = <usize>n;
    while (off < end) {
      if (end - off < <usize>JOURNAL_HEADER) {
        this.torn = true;
        break;
      }
      const len = load<u32>(p + off);
      if (len > JOURNAL_MAX_BODY || <usize>len > end - off - <usize>JOURNAL_HEADER) {
        this.torn = true;
        break;
      }
      const crc = load<u32>(p + off + 4);
      if (crc32(0, p + off + 8, <usize>len + 5) != crc) {
        this.torn = true;
        break;
      }
      const seq = <i64>load<u32>(p + off + 8);
      const flags = load<u8>(p + off + 12);
      const body = p + off + <usize>JOURNAL_HEADER;
      off += <usize>JOURNAL_HEADER + <usize>len;
      if (this.seq >= 0 && seq <= this.seq) continue; // already in the base
      if (this.lastSeq < 0 || seq != this.lastSeq + 1) {
        this.gap = true;
        break;
      }
      this.delta = true;
      this.lines(body, <i32>len);
      this.delta = false;
      this.lastSeq = seq;
      this.clean = (flags & JOURNAL_CLEAN) != 0;
      this.records++;
    }
    this.finish();
  }
  private finish(): void {
    if (!this.removed) return;
    this.entries = this.index.values();
    this.removed = false;
  }
  lines(p: usize, n: i32): void {
    const end = p + <usize>n;
    let line = p;
    while (line < end) {
      let eol = line;
      while (eol < end && load<u8>(eol) != 0x0a) eol++;
      if (eol > line) {
        if (this.delta && matchAt(line, eol, MOVE_OUT)) {
          const c = new Cursor();
          c.p = line + <usize>MOVE_OUT.length;
          c.end = eol;
          const id = <u32>c.number();
          if (c.ok && this.index.has(id)) {
            this.index.delete(id);
            this.removed = true;
          } else this.bad = true;
        } else if (this.delta && matchAt(line, eol, QUARANTINE_OUT)) {
          const c = new Cursor();
          c.p = line + <usize>QUARANTINE_OUT.length;
          c.end = eol;
          const e = new TableEntry();
          e.until = <f64>c.number();
          let found = -1;
          if (c.ok && readEntry(c, e)) {
            for (let i = 0; i < this.quarantines.length && found < 0; i++) if (sameQuarantine(this.quarantines[i], e)) found = i;
          }
          if (found >= 0) this.quarantines.splice(found, 1);
          else this.bad = true;
        } else if (!this.delta && matchAt(line, eol, SEQ)) {
          const c = new Cursor();
          c.p = line + <usize>SEQ.length;
          c.end = eol;
          const g = c.number();
          if (c.ok && g <= 0xffffffff) this.seq = <i64>g;
          else this.bad = true;
        } else if (!this.delta && matchAt(line, eol, UNCLEAN) && eol - line == <usize>UNCLEAN.length) {
          this.clean = false;
        } else if (this.delta && matchAt(line, eol, HOV1) && !matchAt(line, eol, QUARANTINE)) {
          // A move in, or changed: it replaces the one of its id.
          const c = new Cursor();
          c.p = line + <usize>HOV1.length;
          c.end = eol;
          const id = <u32>c.number();
          if (c.ok && this.index.has(id)) {
            this.index.delete(id);
            this.removed = true;
          }
          if (!takeComment(line + <usize>HOV1.length, eol, 0, this.entries, this.index)) this.bad = true;
        } else if (matchAt(line, eol, GEN)) {
          const c = new Cursor();
          c.p = line + <usize>GEN.length;
          c.end = eol;
          const g = c.number();
          if (c.ok && g <= 0xffffffff) this.gen = <i64>g;
          else this.bad = true;
        } else if (matchAt(line, eol, QUARANTINE)) {
          const c = new Cursor();
          c.p = line + <usize>QUARANTINE.length;
          c.end = eol;
          const e = new TableEntry();
          e.until = <f64>c.number();
          if (c.ok && readEntry(c, e)) this.quarantines.push(e);
          else this.bad = true;
        } else if (!(matchAt(line, eol, HOV1) && takeComment(line + <usize>HOV1.length, eol, 0, this.entries, this.index))) {
          this.bad = true;
        }
      }
      line = eol + 1;
    }
  }
}

/**
 * The elements of a netlink dump of the wire-side maps (kernel/nftdump.ts):
 * each comment that names a move becomes (or adds its packets to) an entry;
 * `others` counts elements with no move's comment (quarantines, leftovers).
 */
export class TableSink extends ElementSink {
  entries: Array<TableEntry> = new Array<TableEntry>();
  index: Map<u32, TableEntry> = new Map<u32, TableEntry>();
  others: i32 = 0;
  /** The sweep's mode: only each move's packets, by id (no entry, no addresses: a sweep every few seconds makes no garbage per move). */
  countsOnly: bool = false;
  packets: Map<u32, u64> = new Map<u32, u64>();
  element(d: Dumped): void {
    const end = d.comment + <usize>d.commentLen;
    if (this.countsOnly) {
      if (d.commentLen <= HOV1.length || !matchAt(d.comment, end, HOV1)) return;
      const c = COUNT_CURSOR;
      c.ok = true;
      c.p = d.comment + <usize>HOV1.length;
      c.end = end;
      const id = <u32>c.number();
      if (!c.ok) return;
      this.packets.set(id, (this.packets.has(id) ? this.packets.get(id) : 0) + d.packets);
      return;
    }
    if (d.commentLen > HOV1.length && matchAt(d.comment, end, HOV1) && takeComment(d.comment + <usize>HOV1.length, end, d.packets, this.entries, this.index)) return;
    this.others++;
  }
}
