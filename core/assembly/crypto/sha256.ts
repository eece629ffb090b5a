// SHA-256 (FIPS 180-4), block functions only.
//
// Tuned for short messages (HMAC over packets), where the cost that matters
// is a call that compresses one or two blocks, not bulk throughput. A fully
// unrolled 64-round body is fastest in a long loop, but its machine code
// (~10 KB per copy) does not stay in the CPU's decoded-op cache between
// calls, and measured slower per call. So the code is compact: the message
// schedule is unrolled (sixteen words in locals) and writes W[t] + K[t] to a
// 256-byte table, and the rounds are a loop of eight unrolled rounds (after
// eight rounds the roles a..h are back on their own names) reading it.
//
// Maj(a,b,c) is computed as b ^ ((a^b) & (b^c)), where b^c is the previous
// round's a^b: one operation fewer per round. W[t] + K[t] is added into h
// first, before Ch and Sigma1 (which wait for e): engines do not reassociate
// integer adds, so this order shortens each round's dependency chain.
//
// A block made of padding only (the message ended on a block boundary)
// depends on the message length alone; its schedule is cached per length.

/** W[t] + K[t] of the block being compressed. */
const WK: usize = memory.data(256, 16);
/** W[t] + K[t] of the padding-only block of a `padBits`-bit message. */
const PADWK: usize = memory.data(256, 16);
let padBits: u64 = <u64>-1; // none yet

/** The initial chaining value H(0), written at `st` (8 words, native order). */
export function sha256Init(st: usize): void {
  store<u32>(st, 0x6a09e667, 0);
  store<u32>(st, 0xbb67ae85, 4);
  store<u32>(st, 0x3c6ef372, 8);
  store<u32>(st, 0x510e527f, 16);
  store<u32>(st, 0xa54ff53a, 12);
  store<u32>(st, 0x9b05688c, 20);
  store<u32>(st, 0x1f83d9ab, 24);
  store<u32>(st, 0x5be0cd19, 28);
}

/**
 * Writes W[t] + K[t] (t = 0..63) of the block whose sixteen big-endian words
 * are w0..w15 to `wk`. Unrolled, the schedule in locals.
 */
// @ts-ignore: decorator
@inline
function expand(
  wk: usize,
  w0: u32, w1: u32, w2: u32, w3: u32, w4: u32, w5: u32, w6: u32, w7: u32,
  w8: u32, w9: u32, w10: u32, w11: u32, w12: u32, w13: u32, w14: u32, w15: u32
): void {
  store<u32>(wk, w0 + 0x428a2f98, 0);
  store<u32>(wk, w1 + 0x71374491, 4);
  store<u32>(wk, w2 + 0xb5c0fbcf, 8);
  store<u32>(wk, w3 + 0xe9b5dba5, 12);
  store<u32>(wk, w4 + 0x3956c25b, 16);
  store<u32>(wk, w5 + 0x59f111f1, 20);
  store<u32>(wk, w6 + 0x923f82a4, 24);
  store<u32>(wk, w7 + 0xab1c5ed5, 28);
  store<u32>(wk, w8 + 0xd807aa98, 32);
  store<u32>(wk, w9 + 0x12835b01, 36);
  store<u32>(wk, w10 + 0x243185be, 40);
  store<u32>(wk, w11 + 0x550c7dc3, 44);
  store<u32>(wk, w12 + 0x72be5d74, 48);
  store<u32>(wk, w13 + 0x80deb1fe, 52);
  store<u32>(wk, w14 + 0x9bdc06a7, 56);
  store<u32>(wk, w15 + 0xc19bf174, 60);
  w0 += (rotr<u32>(w14, 17) ^ rotr<u32>(w14, 19) ^ (w14 >>> 10)) + w9 + (rotr<u32>(w1, 7) ^ rotr<u32>(w1, 18) ^ (w1 >>> 3));
  store<u32>(wk, w0 + 0xe49b69c1, 64);
  w1 += (rotr<u32>(w15, 17) ^ rotr<u32>(w15, 19) ^ (w15 >>> 10)) + w10 + (rotr<u32>(w2, 7) ^ rotr<u32>(w2, 18) ^ (w2 >>> 3));
  store<u32>(wk, w1 + 0xefbe4786, 68);
  w2 += (rotr<u32>(w0, 17) ^ rotr<u32>(w0, 19) ^ (w0 >>> 10)) + w11 + (rotr<u32>(w3, 7) ^ rotr<u32>(w3, 18) ^ (w3 >>> 3));
  store<u32>(wk, w2 + 0x0fc19dc6, 72);
  w3 += (rotr<u32>(w1, 17) ^ rotr<u32>(w1, 19) ^ (w1 >>> 10)) + w12 + (rotr<u32>(w4, 7) ^ rotr<u32>(w4, 18) ^ (w4 >>> 3));
  store<u32>(wk, w3 + 0x240ca1cc, 76);
  w4 += (rotr<u32>(w2, 17) ^ rotr<u32>(w2, 19) ^ (w2 >>> 10)) + w13 + (rotr<u32>(w5, 7) ^ rotr<u32>(w5, 18) ^ (w5 >>> 3));
  store<u32>(wk, w4 + 0x2de92c6f, 80);
  w5 += (rotr<u32>(w3, 17) ^ rotr<u32>(w3, 19) ^ (w3 >>> 10)) + w14 + (rotr<u32>(w6, 7) ^ rotr<u32>(w6, 18) ^ (w6 >>> 3));
  store<u32>(wk, w5 + 0x4a7484aa, 84);
  w6 += (rotr<u32>(w4, 17) ^ rotr<u32>(w4, 19) ^ (w4 >>> 10)) + w15 + (rotr<u32>(w7, 7) ^ rotr<u32>(w7, 18) ^ (w7 >>> 3));
  store<u32>(wk, w6 + 0x5cb0a9dc, 88);
  w7 += (rotr<u32>(w5, 17) ^ rotr<u32>(w5, 19) ^ (w5 >>> 10)) + w0 + (rotr<u32>(w8, 7) ^ rotr<u32>(w8, 18) ^ (w8 >>> 3));
  store<u32>(wk, w7 + 0x76f988da, 92);
  w8 += (rotr<u32>(w6, 17) ^ rotr<u32>(w6, 19) ^ (w6 >>> 10)) + w1 + (rotr<u32>(w9, 7) ^ rotr<u32>(w9, 18) ^ (w9 >>> 3));
  store<u32>(wk, w8 + 0x983e5152, 96);
  w9 += (rotr<u32>(w7, 17) ^ rotr<u32>(w7, 19) ^ (w7 >>> 10)) + w2 + (rotr<u32>(w10, 7) ^ rotr<u32>(w10, 18) ^ (w10 >>> 3));
  store<u32>(wk, w9 + 0xa831c66d, 100);
  w10 += (rotr<u32>(w8, 17) ^ rotr<u32>(w8, 19) ^ (w8 >>> 10)) + w3 + (rotr<u32>(w11, 7) ^ rotr<u32>(w11, 18) ^ (w11 >>> 3));
  store<u32>(wk, w10 + 0xb00327c8, 104);
  w11 += (rotr<u32>(w9, 17) ^ rotr<u32>(w9, 19) ^ (w9 >>> 10)) + w4 + (rotr<u32>(w12, 7) ^ rotr<u32>(w12, 18) ^ (w12 >>> 3));
  store<u32>(wk, w11 + 0xbf597fc7, 108);
  w12 += (rotr<u32>(w10, 17) ^ rotr<u32>(w10, 19) ^ (w10 >>> 10)) + w5 + (rotr<u32>(w13, 7) ^ rotr<u32>(w13, 18) ^ (w13 >>> 3));
  store<u32>(wk, w12 + 0xc6e00bf3, 112);
  w13 += (rotr<u32>(w11, 17) ^ rotr<u32>(w11, 19) ^ (w11 >>> 10)) + w6 + (rotr<u32>(w14, 7) ^ rotr<u32>(w14, 18) ^ (w14 >>> 3));
  store<u32>(wk, w13 + 0xd5a79147, 116);
  w14 += (rotr<u32>(w12, 17) ^ rotr<u32>(w12, 19) ^ (w12 >>> 10)) + w7 + (rotr<u32>(w15, 7) ^ rotr<u32>(w15, 18) ^ (w15 >>> 3));
  store<u32>(wk, w14 + 0x06ca6351, 120);
  w15 += (rotr<u32>(w13, 17) ^ rotr<u32>(w13, 19) ^ (w13 >>> 10)) + w8 + (rotr<u32>(w0, 7) ^ rotr<u32>(w0, 18) ^ (w0 >>> 3));
  store<u32>(wk, w15 + 0x14292967, 124);
  w0 += (rotr<u32>(w14, 17) ^ rotr<u32>(w14, 19) ^ (w14 >>> 10)) + w9 + (rotr<u32>(w1, 7) ^ rotr<u32>(w1, 18) ^ (w1 >>> 3));
  store<u32>(wk, w0 + 0x27b70a85, 128);
  w1 += (rotr<u32>(w15, 17) ^ rotr<u32>(w15, 19) ^ (w15 >>> 10)) + w10 + (rotr<u32>(w2, 7) ^ rotr<u32>(w2, 18) ^ (w2 >>> 3));
  store<u32>(wk, w1 + 0x2e1b2138, 132);
  w2 += (rotr<u32>(w0, 17) ^ rotr<u32>(w0, 19) ^ (w0 >>> 10)) + w11 + (rotr<u32>(w3, 7) ^ rotr<u32>(w3, 18) ^ (w3 >>> 3));
  store<u32>(wk, w2 + 0x4d2c6dfc, 136);
  w3 += (rotr<u32>(w1, 17) ^ rotr<u32>(w1, 19) ^ (w1 >>> 10)) + w12 + (rotr<u32>(w4, 7) ^ rotr<u32>(w4, 18) ^ (w4 >>> 3));
  store<u32>(wk, w3 + 0x53380d13, 140);
  w4 += (rotr<u32>(w2, 17) ^ rotr<u32>(w2, 19) ^ (w2 >>> 10)) + w13 + (rotr<u32>(w5, 7) ^ rotr<u32>(w5, 18) ^ (w5 >>> 3));
  store<u32>(wk, w4 + 0x650a7354, 144);
  w5 += (rotr<u32>(w3, 17) ^ rotr<u32>(w3, 19) ^ (w3 >>> 10)) + w14 + (rotr<u32>(w6, 7) ^ rotr<u32>(w6, 18) ^ (w6 >>> 3));
  store<u32>(wk, w5 + 0x766a0abb, 148);
  w6 += (rotr<u32>(w4, 17) ^ rotr<u32>(w4, 19) ^ (w4 >>> 10)) + w15 + (rotr<u32>(w7, 7) ^ rotr<u32>(w7, 18) ^ (w7 >>> 3));
  store<u32>(wk, w6 + 0x81c2c92e, 152);
  w7 += (rotr<u32>(w5, 17) ^ rotr<u32>(w5, 19) ^ (w5 >>> 10)) + w0 + (rotr<u32>(w8, 7) ^ rotr<u32>(w8, 18) ^ (w8 >>> 3));
  store<u32>(wk, w7 + 0x92722c85, 156);
  w8 += (rotr<u32>(w6, 17) ^ rotr<u32>(w6, 19) ^ (w6 >>> 10)) + w1 + (rotr<u32>(w9, 7) ^ rotr<u32>(w9, 18) ^ (w9 >>> 3));
  store<u32>(wk, w8 + 0xa2bfe8a1, 160);
  w9 += (rotr<u32>(w7, 17) ^ rotr<u32>(w7, 19) ^ (w7 >>> 10)) + w2 + (rotr<u32>(w10, 7) ^ rotr<u32>(w10, 18) ^ (w10 >>> 3));
  store<u32>(wk, w9 + 0xa81a664b, 164);
  w10 += (rotr<u32>(w8, 17) ^ rotr<u32>(w8, 19) ^ (w8 >>> 10)) + w3 + (rotr<u32>(w11, 7) ^ rotr<u32>(w11, 18) ^ (w11 >>> 3));
  store<u32>(wk, w10 + 0xc24b8b70, 168);
  w11 += (rotr<u32>(w9, 17) ^ rotr<u32>(w9, 19) ^ (w9 >>> 10)) + w4 + (rotr<u32>(w12, 7) ^ rotr<u32>(w12, 18) ^ (w12 >>> 3));
  store<u32>(wk, w11 + 0xc76c51a3, 172);
  w12 += (rotr<u32>(w10, 17) ^ rotr<u32>(w10, 19) ^ (w10 >>> 10)) + w5 + (rotr<u32>(w13, 7) ^ rotr<u32>(w13, 18) ^ (w13 >>> 3));
  store<u32>(wk, w12 + 0xd192e819, 176);
  w13 += (rotr<u32>(w11, 17) ^ rotr<u32>(w11, 19) ^ (w11 >>> 10)) + w6 + (rotr<u32>(w14, 7) ^ rotr<u32>(w14, 18) ^ (w14 >>> 3));
  store<u32>(wk, w13 + 0xd6990624, 180);
  w14 += (rotr<u32>(w12, 17) ^ rotr<u32>(w12, 19) ^ (w12 >>> 10)) + w7 + (rotr<u32>(w15, 7) ^ rotr<u32>(w15, 18) ^ (w15 >>> 3));
  store<u32>(wk, w14 + 0xf40e3585, 184);
  w15 += (rotr<u32>(w13, 17) ^ rotr<u32>(w13, 19) ^ (w13 >>> 10)) + w8 + (rotr<u32>(w0, 7) ^ rotr<u32>(w0, 18) ^ (w0 >>> 3));
  store<u32>(wk, w15 + 0x106aa070, 188);
  w0 += (rotr<u32>(w14, 17) ^ rotr<u32>(w14, 19) ^ (w14 >>> 10)) + w9 + (rotr<u32>(w1, 7) ^ rotr<u32>(w1, 18) ^ (w1 >>> 3));
  store<u32>(wk, w0 + 0x19a4c116, 192);
  w1 += (rotr<u32>(w15, 17) ^ rotr<u32>(w15, 19) ^ (w15 >>> 10)) + w10 + (rotr<u32>(w2, 7) ^ rotr<u32>(w2, 18) ^ (w2 >>> 3));
  store<u32>(wk, w1 + 0x1e376c08, 196);
  w2 += (rotr<u32>(w0, 17) ^ rotr<u32>(w0, 19) ^ (w0 >>> 10)) + w11 + (rotr<u32>(w3, 7) ^ rotr<u32>(w3, 18) ^ (w3 >>> 3));
  store<u32>(wk, w2 + 0x2748774c, 200);
  w3 += (rotr<u32>(w1, 17) ^ rotr<u32>(w1, 19) ^ (w1 >>> 10)) + w12 + (rotr<u32>(w4, 7) ^ rotr<u32>(w4, 18) ^ (w4 >>> 3));
  store<u32>(wk, w3 + 0x34b0bcb5, 204);
  w4 += (rotr<u32>(w2, 17) ^ rotr<u32>(w2, 19) ^ (w2 >>> 10)) + w13 + (rotr<u32>(w5, 7) ^ rotr<u32>(w5, 18) ^ (w5 >>> 3));
  store<u32>(wk, w4 + 0x391c0cb3, 208);
  w5 += (rotr<u32>(w3, 17) ^ rotr<u32>(w3, 19) ^ (w3 >>> 10)) + w14 + (rotr<u32>(w6, 7) ^ rotr<u32>(w6, 18) ^ (w6 >>> 3));
  store<u32>(wk, w5 + 0x4ed8aa4a, 212);
  w6 += (rotr<u32>(w4, 17) ^ rotr<u32>(w4, 19) ^ (w4 >>> 10)) + w15 + (rotr<u32>(w7, 7) ^ rotr<u32>(w7, 18) ^ (w7 >>> 3));
  store<u32>(wk, w6 + 0x5b9cca4f, 216);
  w7 += (rotr<u32>(w5, 17) ^ rotr<u32>(w5, 19) ^ (w5 >>> 10)) + w0 + (rotr<u32>(w8, 7) ^ rotr<u32>(w8, 18) ^ (w8 >>> 3));
  store<u32>(wk, w7 + 0x682e6ff3, 220);
  w8 += (rotr<u32>(w6, 17) ^ rotr<u32>(w6, 19) ^ (w6 >>> 10)) + w1 + (rotr<u32>(w9, 7) ^ rotr<u32>(w9, 18) ^ (w9 >>> 3));
  store<u32>(wk, w8 + 0x748f82ee, 224);
  w9 += (rotr<u32>(w7, 17) ^ rotr<u32>(w7, 19) ^ (w7 >>> 10)) + w2 + (rotr<u32>(w10, 7) ^ rotr<u32>(w10, 18) ^ (w10 >>> 3));
  store<u32>(wk, w9 + 0x78a5636f, 228);
  w10 += (rotr<u32>(w8, 17) ^ rotr<u32>(w8, 19) ^ (w8 >>> 10)) + w3 + (rotr<u32>(w11, 7) ^ rotr<u32>(w11, 18) ^ (w11 >>> 3));
  store<u32>(wk, w10 + 0x84c87814, 232);
  w11 += (rotr<u32>(w9, 17) ^ rotr<u32>(w9, 19) ^ (w9 >>> 10)) + w4 + (rotr<u32>(w12, 7) ^ rotr<u32>(w12, 18) ^ (w12 >>> 3));
  store<u32>(wk, w11 + 0x8cc70208, 236);
  w12 += (rotr<u32>(w10, 17) ^ rotr<u32>(w10, 19) ^ (w10 >>> 10)) + w5 + (rotr<u32>(w13, 7) ^ rotr<u32>(w13, 18) ^ (w13 >>> 3));
  store<u32>(wk, w12 + 0x90befffa, 240);
  w13 += (rotr<u32>(w11, 17) ^ rotr<u32>(w11, 19) ^ (w11 >>> 10)) + w6 + (rotr<u32>(w14, 7) ^ rotr<u32>(w14, 18) ^ (w14 >>> 3));
  store<u32>(wk, w13 + 0xa4506ceb, 244);
  w14 += (rotr<u32>(w12, 17) ^ rotr<u32>(w12, 19) ^ (w12 >>> 10)) + w7 + (rotr<u32>(w15, 7) ^ rotr<u32>(w15, 18) ^ (w15 >>> 3));
  store<u32>(wk, w14 + 0xbef9a3f7, 248);
  w15 += (rotr<u32>(w13, 17) ^ rotr<u32>(w13, 19) ^ (w13 >>> 10)) + w8 + (rotr<u32>(w0, 7) ^ rotr<u32>(w0, 18) ^ (w0 >>> 3));
  store<u32>(wk, w15 + 0xc67178f2, 252);
}

/** The 64 rounds over the schedule at `wk`, added into the state at `st`. */
function rounds(st: usize, wk: usize): void {
  let a = load<u32>(st, 0);
  let b = load<u32>(st, 4);
  let c = load<u32>(st, 8);
  let d = load<u32>(st, 12);
  let e = load<u32>(st, 16);
  let f = load<u32>(st, 20);
  let g = load<u32>(st, 24);
  let h = load<u32>(st, 28);
  let bc = b ^ c;
  for (let q = wk, end = wk + 256; q < end; q += 32) {
    h += load<u32>(q, 0);
    h += g ^ (e & (f ^ g));
    h += rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25);
    d += h;
    { const ab = a ^ b; h += (rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22)) + (b ^ (ab & bc)); bc = ab; }
    g += load<u32>(q, 4);
    g += f ^ (d & (e ^ f));
    g += rotr<u32>(d, 6) ^ rotr<u32>(d, 11) ^ rotr<u32>(d, 25);
    c += g;
    { const ab = h ^ a; g += (rotr<u32>(h, 2) ^ rotr<u32>(h, 13) ^ rotr<u32>(h, 22)) + (a ^ (ab & bc)); bc = ab; }
    f += load<u32>(q, 8);
    f += e ^ (c & (d ^ e));
    f += rotr<u32>(c, 6) ^ rotr<u32>(c, 11) ^ rotr<u32>(c, 25);
    b += f;
    { const ab = g ^ h; f += (rotr<u32>(g, 2) ^ rotr<u32>(g, 13) ^ rotr<u32>(g, 22)) + (h ^ (ab & bc)); bc = ab; }
    e += load<u32>(q, 12);
    e += d ^ (b & (c ^ d));
    e += rotr<u32>(b, 6) ^ rotr<u32>(b, 11) ^ rotr<u32>(b, 25);
    a += e;
    { const ab = f ^ g; e += (rotr<u32>(f, 2) ^ rotr<u32>(f, 13) ^ rotr<u32>(f, 22)) + (g ^ (ab & bc)); bc = ab; }
    d += load<u32>(q, 16);
    d += c ^ (a & (b ^ c));
    d += rotr<u32>(a, 6) ^ rotr<u32>(a, 11) ^ rotr<u32>(a, 25);
    h += d;
    { const ab = e ^ f; d += (rotr<u32>(e, 2) ^ rotr<u32>(e, 13) ^ rotr<u32>(e, 22)) + (f ^ (ab & bc)); bc = ab; }
    c += load<u32>(q, 20);
    c += b ^ (h & (a ^ b));
    c += rotr<u32>(h, 6) ^ rotr<u32>(h, 11) ^ rotr<u32>(h, 25);
    g += c;
    { const ab = d ^ e; c += (rotr<u32>(d, 2) ^ rotr<u32>(d, 13) ^ rotr<u32>(d, 22)) + (e ^ (ab & bc)); bc = ab; }
    b += load<u32>(q, 24);
    b += a ^ (g & (h ^ a));
    b += rotr<u32>(g, 6) ^ rotr<u32>(g, 11) ^ rotr<u32>(g, 25);
    f += b;
    { const ab = c ^ d; b += (rotr<u32>(c, 2) ^ rotr<u32>(c, 13) ^ rotr<u32>(c, 22)) + (d ^ (ab & bc)); bc = ab; }
    a += load<u32>(q, 28);
    a += h ^ (f & (g ^ h));
    a += rotr<u32>(f, 6) ^ rotr<u32>(f, 11) ^ rotr<u32>(f, 25);
    e += a;
    { const ab = b ^ c; a += (rotr<u32>(b, 2) ^ rotr<u32>(b, 13) ^ rotr<u32>(b, 22)) + (c ^ (ab & bc)); bc = ab; }
  }
  store<u32>(st, load<u32>(st, 0) + a, 0);
  store<u32>(st, load<u32>(st, 4) + b, 4);
  store<u32>(st, load<u32>(st, 8) + c, 8);
  store<u32>(st, load<u32>(st, 12) + d, 12);
  store<u32>(st, load<u32>(st, 16) + e, 16);
  store<u32>(st, load<u32>(st, 20) + f, 20);
  store<u32>(st, load<u32>(st, 24) + g, 24);
  store<u32>(st, load<u32>(st, 28) + h, 28);
}

/** Compresses `n` consecutive 64-byte blocks at `p` into the state at `st`. */
export function sha256Blocks(st: usize, p: usize, n: i32): void {
  while (n > 0) {
    expand(WK,
      bswap<u32>(load<u32>(p, 0)), bswap<u32>(load<u32>(p, 4)),
      bswap<u32>(load<u32>(p, 8)), bswap<u32>(load<u32>(p, 12)),
      bswap<u32>(load<u32>(p, 16)), bswap<u32>(load<u32>(p, 20)),
      bswap<u32>(load<u32>(p, 24)), bswap<u32>(load<u32>(p, 28)),
      bswap<u32>(load<u32>(p, 32)), bswap<u32>(load<u32>(p, 36)),
      bswap<u32>(load<u32>(p, 40)), bswap<u32>(load<u32>(p, 44)),
      bswap<u32>(load<u32>(p, 48)), bswap<u32>(load<u32>(p, 52)),
      bswap<u32>(load<u32>(p, 56)), bswap<u32>(load<u32>(p, 60)));
    rounds(st, WK);
    p += 64;
    n--;
  }
}

/**
 * Compresses the padding-only final block of a message of `bits` bits (a
 * multiple of 512) into the state at `st`.
 */
export function sha256PadBlock(st: usize, bits: u64): void {
  if (bits != padBits) {
    expand(PADWK, 0x80000000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, <u32>(bits >>> 32), <u32>bits);
    padBits = bits;
  }
  rounds(st, PADWK);
}

