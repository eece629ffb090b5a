// Text output (JSON and addresses) written straight into a caller's buffer.
// Nothing here allocates; overflow is sticky and reported by the caller.

import { get16 } from "./bytes";

const HEX = "0123456789abcdef";

export class TextOut {
  ptr: usize = 0;
  cap: i32 = 0;
  pos: i32 = 0;
  overflow: bool = false;
  // One bit per nesting level: set when the next value there needs a comma.
  private commas: u64 = 0;
  private depth: i32 = 0;

  reset(ptr: usize, cap: i32): void {
    this.ptr = ptr;
    this.cap = cap;
    this.pos = 0;
    this.overflow = false;
    this.commas = 0;
    this.depth = 0;
  }

  byte(c: u32): void {
    if (this.pos >= this.cap) {
      this.overflow = true;
      return;
    }
    store<u8>(this.ptr + this.pos, <u8>c);
    this.pos++;
  }

  /** Writes an ASCII string (registry names, keys). */
  ascii(s: string): void {
    for (let i = 0; i < s.length; i++) this.byte(<u32>s.charCodeAt(i));
  }

  dec(v: u64): void {
    if (v == 0) {
      this.byte(0x30);
      return;
    }
    let div: u64 = 1;
    while (v / div >= 10) div *= 10;
    while (div > 0) {
      this.byte(<u32>(0x30 + (v / div) % 10));
      div /= 10;
    }
  }

  hexByte(b: u32): void {
    this.byte(<u32>HEX.charCodeAt((b >> 4) & 15));
    this.byte(<u32>HEX.charCodeAt(b & 15));
  }

  hex(p: usize, len: i32): void {
    for (let i = 0; i < len; i++) this.hexByte(load<u8>(p + i));
  }

  // ---- JSON ----
  private sep(): void {
    const bit: u64 = (<u64>1) << (<u64>this.depth);
    if (this.commas & bit) this.byte(0x2c);
    this.commas |= bit;
  }
  open(c: u32): void {
    this.sep();
    this.byte(c);
    this.depth++;
    this.commas &= ~((<u64>1) << (<u64>this.depth));
  }
  close(c: u32): void {
    this.depth--;
    this.byte(c);
  }
  objOpen(): void { this.open(0x7b); }
  objClose(): void { this.close(0x7d); }
  arrOpen(): void { this.open(0x5b); }
  arrClose(): void { this.close(0x5d); }
  key(k: string): void {
    this.sep();
    this.byte(0x22);
    this.ascii(k);
    this.byte(0x22);
    this.byte(0x3a);
    // the value that follows must not add a comma
    this.commas &= ~((<u64>1) << (<u64>this.depth));
  }
  /** A JSON string of ASCII text without characters that need escaping. */
  str(s: string): void {
    this.sep();
    this.byte(0x22);
    this.ascii(s);
    this.byte(0x22);
  }
  num(v: u64): void {
    this.sep();
    this.dec(v);
  }
  boolean(v: bool): void {
    this.sep();
    this.ascii(v ? "true" : "false");
  }
  hexString(p: usize, len: i32): void {
    this.sep();
    this.byte(0x22);
    this.hex(p, len);
    this.byte(0x22);
  }
  /** An address as a JSON string in its canonical text form. */
  addressString(family: i32, p: usize): void {
    this.sep();
    this.byte(0x22);
    formatAddress(this, family, p);
    this.byte(0x22);
  }
  /** Starts a raw value (caller writes it with byte/ascii). */
  raw(): void { this.sep(); }
}

/** Writes an IPv4 (family 1) or IPv6 (family 2) address as text (RFC 5952 for IPv6). */
export function formatAddress(out: TextOut, family: i32, p: usize): void {
  if (family == 1) {
    for (let i = 0; i < 4; i++) {
      if (i) out.byte(0x2e);
      out.dec(load<u8>(p + i));
    }
    return;
  }
  // IPv4-mapped addresses keep their dotted tail (RFC 5952 section 5).
  let mapped = true;
  for (let i = 0; i < 10; i++) if (load<u8>(p + i) != 0) mapped = false;
  if (mapped && load<u8>(p + 10) == 0xff && load<u8>(p + 11) == 0xff) {
    out.ascii("::ffff:");
    formatAddress(out, 1, p + 12);
    return;
  }
  // Longest run of two or more zero groups, first one on a tie.
  let bestStart = -1;
  let bestLen = 0;
  let runStart = -1;
  for (let g = 0; g <= 8; g++) {
    const zero = g < 8 && get16(p + 2 * g) == 0;
    if (zero) {
      if (runStart < 0) runStart = g;
    } else if (runStart >= 0) {
      const len = g - runStart;
      if (len > bestLen && len >= 2) {
        bestStart = runStart;
        bestLen = len;
      }
      runStart = -1;
    }
  }
  for (let g = 0; g < 8; g++) {
    if (g == bestStart) {
      out.ascii("::");
      g += bestLen - 1;
      continue;
    }
    if (g > 0 && g != bestStart + bestLen) out.byte(0x3a);
    const v = get16(p + 2 * g);
    let started = false;
    for (let s = 12; s >= 0; s -= 4) {
      const d = (v >> <u32>s) & 15;
      if (d != 0 || started || s == 0) {
        out.byte(<u32>HEX.charCodeAt(d));
        started = true;
      }
    }
  }
}

function hexVal(c: u32): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>(c - 0x30);
  if (c >= 0x61 && c <= 0x66) return <i32>(c - 0x61 + 10);
  if (c >= 0x41 && c <= 0x46) return <i32>(c - 0x41 + 10);
  return -1;
}

/** Parses dotted-quad IPv4 text at [p, p+len) into 4 bytes at out; false if invalid. */
function parse4(p: usize, len: i32, out: usize): bool {
  let part = 0;
  let val = 0;
  let digits = 0;
  for (let i = 0; i <= len; i++) {
    const c: u32 = i < len ? load<u8>(p + i) : 0x2e;
    if (c == 0x2e) {
      if (digits == 0 || part > 3) return false;
      store<u8>(out + part, <u8>val);
      part++;
      val = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && val == 0) return false; // no leading zeros
      val = val * 10 + <i32>(c - 0x30);
      digits++;
      if (val > 255) return false;
    } else {
      return false;
    }
  }
  return part == 4;
}

/**
 * Parses an address in text form into 16 bytes at out (IPv4 in the first 4).
 * Returns the family (1 IPv4, 2 IPv6) or 0 if the text is not an address.
 */
export function parseAddress(p: usize, len: i32, out: usize): i32 {
  if (len <= 0 || len > 45) return 0;
  memory.fill(out, 0, 16);
  let colon = false;
  for (let i = 0; i < len; i++) if (load<u8>(p + i) == 0x3a) colon = true;
  if (!colon) return parse4(p, len, out) ? 1 : 0;

  // IPv6: up to 8 groups, one "::", an optional dotted IPv4 tail.
  const groups = memory.data(16);
  let n = 0; // groups written
  let gap = -1; // group index where "::" stands
  let i = 0;
  if (len >= 2 && load<u8>(p) == 0x3a) {
    if (load<u8>(p + 1) != 0x3a) return 0;
    gap = 0;
    i = 2;
    if (i == len) {
      return 2; // "::"
    }
  }
  while (i < len) {
    // Find the end of this group.
    let j = i;
    let dot = false;
    while (j < len && load<u8>(p + j) != 0x3a) {
      if (load<u8>(p + j) == 0x2e) dot = true;
      j++;
    }
    if (dot) {
      if (j != len || n > 6) return 0;
      if (!parse4(p + i, j - i, groups + 2 * n)) return 0;
      n += 2;
      i = j;
      break;
    }
    const w = j - i;
    if (w < 1 || w > 4 || n >= 8) return 0;
    let v: u32 = 0;
    for (let k = i; k < j; k++) {
      const h = hexVal(load<u8>(p + k));
      if (h < 0) return 0;
      v = (v << 4) | <u32>h;
    }
    store<u8>(groups + 2 * n, <u8>(v >> 8));
    store<u8>(groups + 2 * n + 1, <u8>v);
    n++;
    if (j == len) {
      i = j;
      break;
    }
    // j is at a colon
    if (j + 1 < len && load<u8>(p + j + 1) == 0x3a) {
      if (gap >= 0) return 0;
      gap = n;
      i = j + 2;
    } else {
      if (j + 1 == len) return 0; // trailing single colon
      i = j + 1;
    }
  }
  if (gap < 0) {
    if (n != 8) return 0;
    memory.copy(out, groups, 16);
    return 2;
  }
  if (n > 7) return 0;
  memory.copy(out, groups, 2 * gap);
  const tail = n - gap;
  memory.copy(out + 16 - 2 * tail, groups + 2 * gap, 2 * tail);
  return 2;
}
