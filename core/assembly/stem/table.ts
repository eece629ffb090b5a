// Reading the daemon's own nftables maps back (kernel/nft.ts listCommand):
// each element of the wire-side maps names its move in its comment
//   comment "hov1 <id> <L|R> <peer cookie> <protocols> <orig>/<port> <wire>/<port>",
// and its counter says whether the move still carries traffic. A restarted
// daemon rebuilds its moves from this; a running one learns which are idle.
// nft prints one element per line; the host hands the listing over in pieces
// that end at a line's end, however long it is, so each piece is parsed alone.

import { Address } from "../engine/address";
import { parseAddress } from "../util/text";

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
}

const TAG = "comment \"hov1 ";

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

function matchAt(p: usize, end: usize, s: string): bool {
  if (p + <usize>s.length > end) return false;
  for (let i = 0; i < s.length; i++) if (load<u8>(p + i) != <u8>s.charCodeAt(i)) return false;
  return true;
}

/** The packet count of `counter packets N` on the line [start, end), or 0. */
function packetsOn(start: usize, end: usize): u64 {
  for (let p = start; p < end; p++) {
    if (!matchAt(p, end, "counter packets ")) continue;
    const c = new Cursor();
    c.p = p + 16;
    c.end = end;
    return c.number();
  }
  return 0;
}

/**
 * Parses the listing at [p, p+n) (whole lines) into entries, one per move id
 * (counters summed over the move's elements); `index` finds them by id.
 */
export function parseTable(p: usize, n: i32, out: Array<TableEntry>, index: Map<u32, TableEntry>): void {
  const end = p + <usize>n;
  let line = p;
  while (line < end) {
    let eol = line;
    while (eol < end && load<u8>(eol) != 0x0a) eol++;
    for (let q = line; q < eol; q++) {
      if (!matchAt(q, eol, TAG)) continue;
      const c = new Cursor();
      c.p = q + TAG.length;
      c.end = eol;
      const id = <u32>c.number();
      const side = c.word();
      const e = new TableEntry();
      e.id = id;
      e.local = side == 0x4c; // 'L'
      if (side != 0x4c && side != 0x52) break;
      e.cookie = c.hex48();
      e.protocols = <u8>c.number();
      e.origPort = c.endpoint(e.orig);
      e.wirePort = c.endpoint(e.wire);
      if (!c.ok) break;
      e.packets = packetsOn(line, eol);
      if (index.has(id)) index.get(id).packets += e.packets;
      else {
        index.set(id, e);
        out.push(e);
      }
      break;
    }
    line = eol + 1;
  }
}
