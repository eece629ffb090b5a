// X25519 (RFC 7748): the Montgomery ladder on Curve25519.
//
// Field elements mod p = 2^255 - 19 are ten signed limbs of alternately 26
// and 25 bits (limb i sits at bit ceil(25.5 i)), stored as i64 in static
// scratch. Products are 64-bit: a 2^255 wrap-around multiplies by 19, and
// two odd limbs meet one bit above their slot (factor 2). Limbs stay within
// about 2^26 in magnitude between multiplications, which keeps every
// product sum below 2^61.
//
// Constant time with respect to the scalar: the ladder runs all 255 steps,
// swaps by masks, and no branch or address depends on secret data.

// @ts-ignore: decorator
@inline const FE: usize = 80;
const FES: usize = memory.data(16 * 80, 16); // 16 field elements of FE bytes
// Ladder registers and temporaries, as offsets into FES.
const X2: usize = FES + FE;
const Z2: usize = FES + 2 * FE;
const X3: usize = FES + 3 * FE;
const Z3: usize = FES + 4 * FE;
const TA: usize = FES + 5 * FE;
const TB: usize = FES + 6 * FE;
const TC: usize = FES + 7 * FE;
const TD: usize = FES + 8 * FE;
const AA: usize = FES + 9 * FE;
const BB: usize = FES + 10 * FE;
const TE: usize = FES + 11 * FE;
const DA: usize = FES + 12 * FE;
const CB: usize = FES + 13 * FE;
const T0: usize = FES + 14 * FE;
const T1: usize = FES + 15 * FE;
const XU: usize = FES; // x1, the input u-coordinate

const SCALAR: usize = memory.data(32, 16);
const BYTES: usize = memory.data(40, 16);
const BASE: usize = memory.data<u8>([9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

// @ts-ignore: decorator
@inline
function carryStore(
  h: usize,
  h0: i64, h1: i64, h2: i64, h3: i64, h4: i64,
  h5: i64, h6: i64, h7: i64, h8: i64, h9: i64
): void {
  // Signed carries with rounding leave every limb within [-2^25, 2^25]
  // (26-bit limbs) or [-2^24, 2^24] (25-bit limbs), give or take a few bits.
  let c: i64;
  c = (h0 + (1 << 25)) >> 26; h1 += c; h0 -= c << 26;
  c = (h4 + (1 << 25)) >> 26; h5 += c; h4 -= c << 26;
  c = (h1 + (1 << 24)) >> 25; h2 += c; h1 -= c << 25;
  c = (h5 + (1 << 24)) >> 25; h6 += c; h5 -= c << 25;
  c = (h2 + (1 << 25)) >> 26; h3 += c; h2 -= c << 26;
  c = (h6 + (1 << 25)) >> 26; h7 += c; h6 -= c << 26;
  c = (h3 + (1 << 24)) >> 25; h4 += c; h3 -= c << 25;
  c = (h7 + (1 << 24)) >> 25; h8 += c; h7 -= c << 25;
  c = (h4 + (1 << 25)) >> 26; h5 += c; h4 -= c << 26;
  c = (h8 + (1 << 25)) >> 26; h9 += c; h8 -= c << 26;
  c = (h9 + (1 << 24)) >> 25; h0 += c * 19; h9 -= c << 25;
  c = (h0 + (1 << 25)) >> 26; h1 += c; h0 -= c << 26;
  store<i64>(h, h0, 0);
  store<i64>(h, h1, 8);
  store<i64>(h, h2, 16);
  store<i64>(h, h3, 24);
  store<i64>(h, h4, 32);
  store<i64>(h, h5, 40);
  store<i64>(h, h6, 48);
  store<i64>(h, h7, 56);
  store<i64>(h, h8, 64);
  store<i64>(h, h9, 72);
}

/** h = f * g (h may alias f or g). */
function feMul(h: usize, f: usize, g: usize): void {
  const f0 = load<i64>(f, 0);
  const f1 = load<i64>(f, 8);
  const f2 = load<i64>(f, 16);
  const f3 = load<i64>(f, 24);
  const f4 = load<i64>(f, 32);
  const f5 = load<i64>(f, 40);
  const f6 = load<i64>(f, 48);
  const f7 = load<i64>(f, 56);
  const f8 = load<i64>(f, 64);
  const f9 = load<i64>(f, 72);
  const g0 = load<i64>(g, 0);
  const g1 = load<i64>(g, 8);
  const g2 = load<i64>(g, 16);
  const g3 = load<i64>(g, 24);
  const g4 = load<i64>(g, 32);
  const g5 = load<i64>(g, 40);
  const g6 = load<i64>(g, 48);
  const g7 = load<i64>(g, 56);
  const g8 = load<i64>(g, 64);
  const g9 = load<i64>(g, 72);
  const g1_19 = g1 * 19;
  const g2_19 = g2 * 19;
  const g3_19 = g3 * 19;
  const g4_19 = g4 * 19;
  const g5_19 = g5 * 19;
  const g6_19 = g6 * 19;
  const g7_19 = g7 * 19;
  const g8_19 = g8 * 19;
  const g9_19 = g9 * 19;
  const f1_2 = f1 * 2;
  const f3_2 = f3 * 2;
  const f5_2 = f5 * 2;
  const f7_2 = f7 * 2;
  const f9_2 = f9 * 2;
  let h0 = f0 * g0 + f1_2 * g9_19 + f2 * g8_19 + f3_2 * g7_19 + f4 * g6_19 + f5_2 * g5_19 + f6 * g4_19 + f7_2 * g3_19 + f8 * g2_19 + f9_2 * g1_19;
  let h1 = f0 * g1 + f1 * g0 + f2 * g9_19 + f3 * g8_19 + f4 * g7_19 + f5 * g6_19 + f6 * g5_19 + f7 * g4_19 + f8 * g3_19 + f9 * g2_19;
  let h2 = f0 * g2 + f1_2 * g1 + f2 * g0 + f3_2 * g9_19 + f4 * g8_19 + f5_2 * g7_19 + f6 * g6_19 + f7_2 * g5_19 + f8 * g4_19 + f9_2 * g3_19;
  let h3 = f0 * g3 + f1 * g2 + f2 * g1 + f3 * g0 + f4 * g9_19 + f5 * g8_19 + f6 * g7_19 + f7 * g6_19 + f8 * g5_19 + f9 * g4_19;
  let h4 = f0 * g4 + f1_2 * g3 + f2 * g2 + f3_2 * g1 + f4 * g0 + f5_2 * g9_19 + f6 * g8_19 + f7_2 * g7_19 + f8 * g6_19 + f9_2 * g5_19;
  let h5 = f0 * g5 + f1 * g4 + f2 * g3 + f3 * g2 + f4 * g1 + f5 * g0 + f6 * g9_19 + f7 * g8_19 + f8 * g7_19 + f9 * g6_19;
  let h6 = f0 * g6 + f1_2 * g5 + f2 * g4 + f3_2 * g3 + f4 * g2 + f5_2 * g1 + f6 * g0 + f7_2 * g9_19 + f8 * g8_19 + f9_2 * g7_19;
  let h7 = f0 * g7 + f1 * g6 + f2 * g5 + f3 * g4 + f4 * g3 + f5 * g2 + f6 * g1 + f7 * g0 + f8 * g9_19 + f9 * g8_19;
  let h8 = f0 * g8 + f1_2 * g7 + f2 * g6 + f3_2 * g5 + f4 * g4 + f5_2 * g3 + f6 * g2 + f7_2 * g1 + f8 * g0 + f9_2 * g9_19;
  let h9 = f0 * g9 + f1 * g8 + f2 * g7 + f3 * g6 + f4 * g5 + f5 * g4 + f6 * g3 + f7 * g2 + f8 * g1 + f9 * g0;
  carryStore(h, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9);
}

/** h = f^2 (h may alias f). */
function feSq(h: usize, f: usize): void {
  const f0 = load<i64>(f, 0);
  const f1 = load<i64>(f, 8);
  const f2 = load<i64>(f, 16);
  const f3 = load<i64>(f, 24);
  const f4 = load<i64>(f, 32);
  const f5 = load<i64>(f, 40);
  const f6 = load<i64>(f, 48);
  const f7 = load<i64>(f, 56);
  const f8 = load<i64>(f, 64);
  const f9 = load<i64>(f, 72);
  const f0_2 = f0 * 2;
  const f1_2 = f1 * 2;
  const f1_4 = f1 * 4;
  const f2_2 = f2 * 2;
  const f3_2 = f3 * 2;
  const f3_4 = f3 * 4;
  const f4_2 = f4 * 2;
  const f5_19 = f5 * 19;
  const f5_2 = f5 * 2;
  const f5_4 = f5 * 4;
  const f6_19 = f6 * 19;
  const f6_2 = f6 * 2;
  const f7_19 = f7 * 19;
  const f7_2 = f7 * 2;
  const f7_4 = f7 * 4;
  const f8_19 = f8 * 19;
  const f8_2 = f8 * 2;
  const f9_19 = f9 * 19;
  const f9_2 = f9 * 2;
  let h0 = f0 * f0 + f1_4 * f9_19 + f2_2 * f8_19 + f3_4 * f7_19 + f4_2 * f6_19 + f5_2 * f5_19;
  let h1 = f0_2 * f1 + f2_2 * f9_19 + f3_2 * f8_19 + f4_2 * f7_19 + f5_2 * f6_19;
  let h2 = f0_2 * f2 + f1_2 * f1 + f3_4 * f9_19 + f4_2 * f8_19 + f5_4 * f7_19 + f6 * f6_19;
  let h3 = f0_2 * f3 + f1_2 * f2 + f4_2 * f9_19 + f5_2 * f8_19 + f6_2 * f7_19;
  let h4 = f0_2 * f4 + f1_4 * f3 + f2 * f2 + f5_4 * f9_19 + f6_2 * f8_19 + f7_2 * f7_19;
  let h5 = f0_2 * f5 + f1_2 * f4 + f2_2 * f3 + f6_2 * f9_19 + f7_2 * f8_19;
  let h6 = f0_2 * f6 + f1_4 * f5 + f2_2 * f4 + f3_2 * f3 + f7_4 * f9_19 + f8 * f8_19;
  let h7 = f0_2 * f7 + f1_2 * f6 + f2_2 * f5 + f3_2 * f4 + f8_2 * f9_19;
  let h8 = f0_2 * f8 + f1_4 * f7 + f2_2 * f6 + f3_4 * f5 + f4 * f4 + f9_2 * f9_19;
  let h9 = f0_2 * f9 + f1_2 * f8 + f2_2 * f7 + f3_2 * f6 + f4_2 * f5;
  carryStore(h, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9);
}

/** h = f squared n times (n >= 1). */
function feSqN(h: usize, f: usize, n: i32): void {
  feSq(h, f);
  for (let i = 1; i < n; i++) feSq(h, h);
}

/** h = f * 121665 (the a24 of RFC 7748 for Curve25519). */
function feMulA24(h: usize, f: usize): void {
  carryStore(h,
    load<i64>(f, 0) * 121665, load<i64>(f, 8) * 121665,
    load<i64>(f, 16) * 121665, load<i64>(f, 24) * 121665,
    load<i64>(f, 32) * 121665, load<i64>(f, 40) * 121665,
    load<i64>(f, 48) * 121665, load<i64>(f, 56) * 121665,
    load<i64>(f, 64) * 121665, load<i64>(f, 72) * 121665);
}

/** h = f + g, no carry. */
function feAdd(h: usize, f: usize, g: usize): void {
  for (let i: usize = 0; i < FE; i += 8) store<i64>(h + i, load<i64>(f + i) + load<i64>(g + i));
}

/** h = f - g, no carry (limbs are signed). */
function feSub(h: usize, f: usize, g: usize): void {
  for (let i: usize = 0; i < FE; i += 8) store<i64>(h + i, load<i64>(f + i) - load<i64>(g + i));
}

/** Swaps f and g when bit is 1, leaves them when 0, in constant time. */
function feCswap(f: usize, g: usize, bit: i64): void {
  const mask = -bit;
  for (let i: usize = 0; i < FE; i += 8) {
    const a = load<i64>(f + i), b = load<i64>(g + i);
    const x = mask & (a ^ b);
    store<i64>(f + i, a ^ x);
    store<i64>(g + i, b ^ x);
  }
}

function feSet(h: usize, v: i64): void {
  memory.fill(h, 0, FE);
  store<i64>(h, v);
}

/** Limbs from 32 little-endian bytes; bit 255 is ignored (RFC 7748 5). */
function feFromBytes(h: usize, s: usize): void {
  memory.copy(BYTES, s, 32);
  store<u64>(BYTES + 32, 0);
  store<i64>(h, <i64>(load<u64>(BYTES, 0) & 0x3ffffff), 0);            // bits 0..25
  store<i64>(h, <i64>((load<u64>(BYTES, 3) >>> 2) & 0x1ffffff), 8);    // 26..50
  store<i64>(h, <i64>((load<u64>(BYTES, 6) >>> 3) & 0x3ffffff), 16);   // 51..76
  store<i64>(h, <i64>((load<u64>(BYTES, 9) >>> 5) & 0x1ffffff), 24);   // 77..101
  store<i64>(h, <i64>((load<u64>(BYTES, 12) >>> 6) & 0x3ffffff), 32);  // 102..127
  store<i64>(h, <i64>(load<u64>(BYTES, 16) & 0x1ffffff), 40);          // 128..152
  store<i64>(h, <i64>((load<u64>(BYTES, 19) >>> 1) & 0x3ffffff), 48);  // 153..178
  store<i64>(h, <i64>((load<u64>(BYTES, 22) >>> 3) & 0x1ffffff), 56);  // 179..203
  store<i64>(h, <i64>((load<u64>(BYTES, 25) >>> 4) & 0x3ffffff), 64);  // 204..229
  store<i64>(h, <i64>((load<u64>(BYTES, 28) >>> 6) & 0x1ffffff), 72);  // 230..254
}

/** The canonical 32-byte encoding of f (fully reduced mod p) at `s`. */
function feToBytes(s: usize, f: usize): void {
  let h0 = load<i64>(f, 0), h1 = load<i64>(f, 8), h2 = load<i64>(f, 16), h3 = load<i64>(f, 24);
  let h4 = load<i64>(f, 32), h5 = load<i64>(f, 40), h6 = load<i64>(f, 48), h7 = load<i64>(f, 56);
  let h8 = load<i64>(f, 64), h9 = load<i64>(f, 72);
  // Two passes of floor carries, wrapping 2^255 to 19, leave every limb in
  // [0, 2^bits) and the value in [0, 2^255).
  for (let pass = 0; pass < 2; pass++) {
    let c: i64;
    c = h0 >> 26; h1 += c; h0 -= c << 26;
    c = h1 >> 25; h2 += c; h1 -= c << 25;
    c = h2 >> 26; h3 += c; h2 -= c << 26;
    c = h3 >> 25; h4 += c; h3 -= c << 25;
    c = h4 >> 26; h5 += c; h4 -= c << 26;
    c = h5 >> 25; h6 += c; h5 -= c << 25;
    c = h6 >> 26; h7 += c; h6 -= c << 26;
    c = h7 >> 25; h8 += c; h7 -= c << 25;
    c = h8 >> 26; h9 += c; h8 -= c << 26;
    c = h9 >> 25; h0 += c * 19; h9 -= c << 25;
  }
  // q = 1 exactly when h + 19 >= 2^255, i.e. h >= p; then h - p = h + 19 - 2^255.
  let q = (h0 + 19) >> 26;
  q = (h1 + q) >> 25;
  q = (h2 + q) >> 26;
  q = (h3 + q) >> 25;
  q = (h4 + q) >> 26;
  q = (h5 + q) >> 25;
  q = (h6 + q) >> 26;
  q = (h7 + q) >> 25;
  q = (h8 + q) >> 26;
  q = (h9 + q) >> 25;
  h0 += 19 * q;
  let c: i64;
  c = h0 >> 26; h1 += c; h0 -= c << 26;
  c = h1 >> 25; h2 += c; h1 -= c << 25;
  c = h2 >> 26; h3 += c; h2 -= c << 26;
  c = h3 >> 25; h4 += c; h3 -= c << 25;
  c = h4 >> 26; h5 += c; h4 -= c << 26;
  c = h5 >> 25; h6 += c; h5 -= c << 25;
  c = h6 >> 26; h7 += c; h6 -= c << 26;
  c = h7 >> 25; h8 += c; h7 -= c << 25;
  c = h8 >> 26; h9 += c; h8 -= c << 26;
  h9 &= 0x1ffffff; // drops the 2^255 that q accounted for
  // Pack: limb i starts at bit 0, 26, 51, 77, 102, 128, 153, 179, 204, 230.
  const w0 = <u64>h0 | (<u64>h1 << 26) | (<u64>h2 << 51);                  // bits 0..63
  const w1 = (<u64>h2 >>> 13) | (<u64>h3 << 13) | (<u64>h4 << 38);        // 64..127
  const w2 = <u64>h5 | (<u64>h6 << 25) | (<u64>h7 << 51);                  // 128..191
  const w3 = (<u64>h7 >>> 13) | (<u64>h8 << 12) | (<u64>h9 << 38);        // 192..255
  store<u64>(s, w0, 0);
  store<u64>(s, w1, 8);
  store<u64>(s, w2, 16);
  store<u64>(s, w3, 24);
}

/** h = f^(p-2) = 1/f (0 for f = 0). h must not alias f; uses T0 and T1. */
function feInvert(h: usize, f: usize): void {
  const z2 = TA, z9 = TB, z11 = TC, z5 = TD, z10 = AA, z20 = BB, z50 = TE, z100 = DA, t = T0;
  feSq(z2, f);                 // 2
  feSqN(t, z2, 2);             // 8
  feMul(z9, t, f);             // 9
  feMul(z11, z9, z2);          // 11
  feSq(t, z11);                // 22
  feMul(z5, t, z9);            // 2^5 - 1
  feSqN(t, z5, 5);
  feMul(z10, t, z5);           // 2^10 - 1
  feSqN(t, z10, 10);
  feMul(z20, t, z10);          // 2^20 - 1
  feSqN(t, z20, 20);
  feMul(t, t, z20);            // 2^40 - 1
  feSqN(t, t, 10);
  feMul(z50, t, z10);          // 2^50 - 1
  feSqN(t, z50, 50);
  feMul(z100, t, z50);         // 2^100 - 1
  feSqN(t, z100, 100);
  feMul(t, t, z100);           // 2^200 - 1
  feSqN(t, t, 50);
  feMul(t, t, z50);            // 2^250 - 1
  feSqN(t, t, 5);              // 2^255 - 2^5
  feMul(h, t, z11);            // 2^255 - 21 = p - 2
}

/**
 * out = X25519(scalar, point): 32-byte little-endian scalar (clamped here),
 * 32-byte u-coordinate (bit 255 masked). Returns false when the result is
 * all zeros (a low-order point); the zeros are still written.
 */
export function x25519(out: usize, scalar: usize, point: usize): bool {
  memory.copy(SCALAR, scalar, 32);
  store<u8>(SCALAR, load<u8>(SCALAR) & 248);
  store<u8>(SCALAR + 31, (load<u8>(SCALAR + 31) & 127) | 64);
  feFromBytes(XU, point);
  feSet(X2, 1);
  feSet(Z2, 0);
  memory.copy(X3, XU, FE);
  feSet(Z3, 1);
  let swap: i64 = 0;
  for (let t = 254; t >= 0; t--) {
    const bit = <i64>((load<u8>(SCALAR + <usize>(t >>> 3)) >>> (t & 7)) & 1);
    swap ^= bit;
    feCswap(X2, X3, swap);
    feCswap(Z2, Z3, swap);
    swap = bit;
    feAdd(TA, X2, Z2);       // A = x2 + z2
    feSq(AA, TA);            // AA = A^2
    feSub(TB, X2, Z2);       // B = x2 - z2
    feSq(BB, TB);            // BB = B^2
    feSub(TE, AA, BB);       // E = AA - BB
    feAdd(TC, X3, Z3);       // C = x3 + z3
    feSub(TD, X3, Z3);       // D = x3 - z3
    feMul(DA, TD, TA);       // DA = D * A
    feMul(CB, TC, TB);       // CB = C * B
    feAdd(T0, DA, CB);
    feSq(X3, T0);            // x3 = (DA + CB)^2
    feSub(T0, DA, CB);
    feSq(T0, T0);
    feMul(Z3, XU, T0);       // z3 = x1 * (DA - CB)^2
    feMul(X2, AA, BB);       // x2 = AA * BB
    feMulA24(T0, TE);
    feAdd(T0, AA, T0);
    feMul(Z2, TE, T0);       // z2 = E * (AA + a24 * E)
  }
  feCswap(X2, X3, swap);
  feCswap(Z2, Z3, swap);
  feInvert(T1, Z2);
  feMul(X2, X2, T1);
  feToBytes(out, X2);
  // Wipe the secrets: the clamped scalar and the ladder state.
  memory.fill(SCALAR, 0, 32);
  memory.fill(FES, 0, 16 * FE);
  // All-zero check without a data-dependent branch.
  const acc = load<u64>(out, 0) | load<u64>(out, 8) | load<u64>(out, 16) | load<u64>(out, 24);
  return acc != 0;
}

/** out = X25519(scalar, 9): the public key of `scalar`. */
export function x25519Base(out: usize, scalar: usize): void {
  x25519(out, scalar, BASE);
}
