// Poly1305 (RFC 8439 section 2.5): 26-bit limbs, 32x32->64-bit products
// (the poly1305-donna-32 layout). The accumulator and key live in module
// globals between calls; one MAC is computed at a time.

import { wipe } from "./wipe";

const MASK26: u32 = 0x3ffffff;
const TAIL: usize = memory.data(16, 16);

let r0: u32 = 0, r1: u32 = 0, r2: u32 = 0, r3: u32 = 0, r4: u32 = 0;
let h0: u32 = 0, h1: u32 = 0, h2: u32 = 0, h3: u32 = 0, h4: u32 = 0;
let pad0: u32 = 0, pad1: u32 = 0, pad2: u32 = 0, pad3: u32 = 0;

/** Starts a MAC with the 32-byte one-time key at `key` (r is clamped). */
export function poly1305Init(key: usize): void {
  // r &= 0x0ffffffc0ffffffc0ffffffc0fffffff, split into 26-bit limbs.
  r0 = load<u32>(key, 0) & 0x3ffffff;
  r1 = (load<u32>(key, 3) >>> 2) & 0x3ffff03;
  r2 = (load<u32>(key, 6) >>> 4) & 0x3ffc0ff;
  r3 = (load<u32>(key, 9) >>> 6) & 0x3f03fff;
  r4 = (load<u32>(key, 12) >>> 8) & 0x00fffff;
  h0 = 0; h1 = 0; h2 = 0; h3 = 0; h4 = 0;
  pad0 = load<u32>(key, 16);
  pad1 = load<u32>(key, 20);
  pad2 = load<u32>(key, 24);
  pad3 = load<u32>(key, 28);
}

/**
 * Absorbs `n` 16-byte blocks at `m`. `hibit` is 1 << 24 for a full block
 * (the 2^128 bit) and 0 for a final block that was padded with 0x01 by hand.
 */
export function poly1305Blocks(m: usize, n: i32, hibit: u32): void {
  const R0 = <u64>r0, R1 = <u64>r1, R2 = <u64>r2, R3 = <u64>r3, R4 = <u64>r4;
  const S1 = R1 * 5, S2 = R2 * 5, S3 = R3 * 5, S4 = R4 * 5;
  let H0 = h0, H1 = h1, H2 = h2, H3 = h3, H4 = h4;
  while (n > 0) {
    H0 += load<u32>(m, 0) & MASK26;
    H1 += (load<u32>(m, 3) >>> 2) & MASK26;
    H2 += (load<u32>(m, 6) >>> 4) & MASK26;
    H3 += (load<u32>(m, 9) >>> 6) & MASK26;
    H4 += (load<u32>(m, 12) >>> 8) | hibit;
    const g0 = <u64>H0, g1 = <u64>H1, g2 = <u64>H2, g3 = <u64>H3, g4 = <u64>H4;
    let d0 = g0 * R0 + g1 * S4 + g2 * S3 + g3 * S2 + g4 * S1;
    let d1 = g0 * R1 + g1 * R0 + g2 * S4 + g3 * S3 + g4 * S2;
    let d2 = g0 * R2 + g1 * R1 + g2 * R0 + g3 * S4 + g4 * S3;
    let d3 = g0 * R3 + g1 * R2 + g2 * R1 + g3 * R0 + g4 * S4;
    let d4 = g0 * R4 + g1 * R3 + g2 * R2 + g3 * R1 + g4 * R0;
    let c: u32 = <u32>(d0 >>> 26); H0 = <u32>d0 & MASK26;
    d1 += c; c = <u32>(d1 >>> 26); H1 = <u32>d1 & MASK26;
    d2 += c; c = <u32>(d2 >>> 26); H2 = <u32>d2 & MASK26;
    d3 += c; c = <u32>(d3 >>> 26); H3 = <u32>d3 & MASK26;
    d4 += c; c = <u32>(d4 >>> 26); H4 = <u32>d4 & MASK26;
    H0 += c * 5; c = H0 >>> 26; H0 &= MASK26;
    H1 += c;
    m += 16;
    n--;
  }
  h0 = H0; h1 = H1; h2 = H2; h3 = H3; h4 = H4;
}

/**
 * Absorbs `len` bytes at `m` as one final piece of the message: whole blocks,
 * then a short block padded with 0x01 (RFC 8439 section 2.5.1).
 */
export function poly1305Final(m: usize, len: i32): void {
  const full = len >>> 4;
  if (full > 0) poly1305Blocks(m, full, 1 << 24);
  const rest = len & 15;
  if (rest > 0) {
    memory.fill(TAIL, 0, 16);
    memory.copy(TAIL, m + (<usize>full << 4), <usize>rest);
    store<u8>(TAIL + <usize>rest, 1);
    poly1305Blocks(TAIL, 1, 0);
    memory.fill(TAIL, 0, 16);
  }
}

/**
 * Absorbs `len` bytes at `m` zero-padded to a multiple of 16 (the AEAD
 * construction of RFC 8439 section 2.8: every block carries the 2^128 bit).
 */
export function poly1305Padded(m: usize, len: i32): void {
  const full = len >>> 4;
  if (full > 0) poly1305Blocks(m, full, 1 << 24);
  const rest = len & 15;
  if (rest > 0) {
    tailOf(m + (<usize>full << 4), rest);
    poly1305Blocks(TAIL, 1, 1 << 24);
    wipe(TAIL, 1);
  }
}

/** TAIL = the `rest` (1 to 15) bytes at src, zero-padded to 16: loads of 8, 4, 2 and 1 bytes, none past the end. */
// @ts-ignore: decorator
@inline function tailOf(src: usize, rest: i32): void {
  wipe(TAIL, 1);
  let o: usize = 0;
  if (rest & 8) { store<u64>(TAIL, load<u64>(src)); o = 8; }
  if (rest & 4) { store<u32>(TAIL + o, load<u32>(src + o)); o += 4; }
  if (rest & 2) { store<u16>(TAIL + o, load<u16>(src + o)); o += 2; }
  if (rest & 1) store<u8>(TAIL + o, load<u8>(src + o));
}

/** Writes the 16-byte tag at `out` and wipes the key and accumulator. */
export function poly1305Tag(out: usize): void {
  let H0 = h0, H1 = h1, H2 = h2, H3 = h3, H4 = h4;
  // Fully carry h.
  let c = H1 >>> 26; H1 &= MASK26;
  H2 += c; c = H2 >>> 26; H2 &= MASK26;
  H3 += c; c = H3 >>> 26; H3 &= MASK26;
  H4 += c; c = H4 >>> 26; H4 &= MASK26;
  H0 += c * 5; c = H0 >>> 26; H0 &= MASK26;
  H1 += c;
  // g = h + 5 - 2^130; keep g when it did not go negative (h >= p).
  let g0 = H0 + 5; c = g0 >>> 26; g0 &= MASK26;
  let g1 = H1 + c; c = g1 >>> 26; g1 &= MASK26;
  let g2 = H2 + c; c = g2 >>> 26; g2 &= MASK26;
  let g3 = H3 + c; c = g3 >>> 26; g3 &= MASK26;
  let g4 = H4 + c - (1 << 26);
  let mask = (g4 >>> 31) - 1; // all ones when h >= p
  g0 &= mask; g1 &= mask; g2 &= mask; g3 &= mask; g4 &= mask;
  mask = ~mask;
  H0 = (H0 & mask) | g0;
  H1 = (H1 & mask) | g1;
  H2 = (H2 & mask) | g2;
  H3 = (H3 & mask) | g3;
  H4 = (H4 & mask) | g4;
  // h mod 2^128, as four words, plus the pad s.
  const w0 = H0 | (H1 << 26);
  const w1 = (H1 >>> 6) | (H2 << 20);
  const w2 = (H2 >>> 12) | (H3 << 14);
  const w3 = (H3 >>> 18) | (H4 << 8);
  let f: u64 = <u64>w0 + <u64>pad0; store<u32>(out, <u32>f, 0);
  f = <u64>w1 + <u64>pad1 + (f >>> 32); store<u32>(out, <u32>f, 4);
  f = <u64>w2 + <u64>pad2 + (f >>> 32); store<u32>(out, <u32>f, 8);
  f = <u64>w3 + <u64>pad3 + (f >>> 32); store<u32>(out, <u32>f, 12);
  r0 = 0; r1 = 0; r2 = 0; r3 = 0; r4 = 0;
  h0 = 0; h1 = 0; h2 = 0; h3 = 0; h4 = 0;
  pad0 = 0; pad1 = 0; pad2 = 0; pad3 = 0;
}

/** One-shot Poly1305 of the `len` bytes at `msg` under the 32-byte `key`. */
export function poly1305(out: usize, msg: usize, len: i32, key: usize): void {
  poly1305Init(key);
  if (len > 0) poly1305Final(msg, len);
  poly1305Tag(out);
}
