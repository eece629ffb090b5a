// ChaCha20 (RFC 8439 section 2.3/2.4): 256-bit key, 96-bit nonce, 32-bit
// block counter. The state's four rows are four v128 values (wasm SIMD, one
// 32-bit word a lane): a column round is one quarter round on the four lanes
// at once; rotating rows b, c and d by one, two and three lanes lines the
// diagonals up as columns for the diagonal round, and rotating them back
// restores the rows. Ten double rounds.

import { wipe } from "./wipe";

/** Keystream scratch: two blocks. */
const BLOCK: usize = memory.data(128, 16);

/** Each 32-bit lane rotated left by 16 bits (a byte shuffle). */
// @ts-ignore: decorator
@inline function rotl16(v: v128): v128 {
  return i8x16.shuffle(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
}

/** Each 32-bit lane rotated left by 8 bits (a byte shuffle). */
// @ts-ignore: decorator
@inline function rotl8(v: v128): v128 {
  return i8x16.shuffle(v, v, 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14);
}

/** Each 32-bit lane rotated left by 12 bits. */
// @ts-ignore: decorator
@inline function rotl12(v: v128): v128 {
  return v128.or(i32x4.shl(v, 12), i32x4.shr_u(v, 20));
}

/** Each 32-bit lane rotated left by 7 bits. */
// @ts-ignore: decorator
@inline function rotl7(v: v128): v128 {
  return v128.or(i32x4.shl(v, 7), i32x4.shr_u(v, 25));
}

/** Row a of the state: the constant "expand 32-byte k". */
// @ts-ignore: decorator
@inline function sigma(): v128 {
  return i32x4(0x61707865, 0x3320646e, 0x79622d32, 0x6b206574);
}

/** Row d of the state: the block counter, then the nonce's three words. */
// @ts-ignore: decorator
@inline function counterNonce(counter: u32, nonce: usize): v128 {
  return i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(counter), 1, load<u32>(nonce)), 2, load<u32>(nonce, 4)), 3, load<u32>(nonce, 8));
}

/**
 * Writes the 64-byte keystream block for (key, nonce, counter) at `out`.
 * `key` is 32 bytes, `nonce` 12 bytes; both are read as little-endian words.
 */
export function chacha20Block(key: usize, nonce: usize, counter: u32, out: usize): void {
  const a0 = sigma();
  const b0 = v128.load(key);
  const c0 = v128.load(key, 16);
  const d0 = counterNonce(counter, nonce);
  let a = a0, b = b0, c = c0, d = d0;
  for (let i = 0; i < 10; i++) {
    a = i32x4.add(a, b); d = rotl16(v128.xor(d, a));
    c = i32x4.add(c, d); b = rotl12(v128.xor(b, c));
    a = i32x4.add(a, b); d = rotl8(v128.xor(d, a));
    c = i32x4.add(c, d); b = rotl7(v128.xor(b, c));
    b = i32x4.shuffle(b, b, 1, 2, 3, 0);
    c = i32x4.shuffle(c, c, 2, 3, 0, 1);
    d = i32x4.shuffle(d, d, 3, 0, 1, 2);
    a = i32x4.add(a, b); d = rotl16(v128.xor(d, a));
    c = i32x4.add(c, d); b = rotl12(v128.xor(b, c));
    a = i32x4.add(a, b); d = rotl8(v128.xor(d, a));
    c = i32x4.add(c, d); b = rotl7(v128.xor(b, c));
    b = i32x4.shuffle(b, b, 3, 0, 1, 2);
    c = i32x4.shuffle(c, c, 2, 3, 0, 1);
    d = i32x4.shuffle(d, d, 1, 2, 3, 0);
  }
  v128.store(out, i32x4.add(a, a0));
  v128.store(out, i32x4.add(b, b0), 16);
  v128.store(out, i32x4.add(c, c0), 32);
  v128.store(out, i32x4.add(d, d0), 48);
}

/**
 * Writes keystream blocks `counter` and `counter + 1` (128 bytes) at `out`.
 * The two states run interleaved: the row layout makes every step of one
 * block wait for the step before it, and the other block's steps fill those
 * waits, so two blocks take little more time than one.
 */
export function chacha20Blocks2(key: usize, nonce: usize, counter: u32, out: usize): void {
  const a0 = sigma();
  const b0 = v128.load(key);
  const c0 = v128.load(key, 16);
  const d0 = counterNonce(counter, nonce);
  const e0 = i32x4.replace_lane(d0, 0, counter + 1);
  let a = a0, b = b0, c = c0, d = d0;
  let p = a0, q = b0, r = c0, t = e0;
  for (let i = 0; i < 10; i++) {
    a = i32x4.add(a, b); p = i32x4.add(p, q);
    d = rotl16(v128.xor(d, a)); t = rotl16(v128.xor(t, p));
    c = i32x4.add(c, d); r = i32x4.add(r, t);
    b = rotl12(v128.xor(b, c)); q = rotl12(v128.xor(q, r));
    a = i32x4.add(a, b); p = i32x4.add(p, q);
    d = rotl8(v128.xor(d, a)); t = rotl8(v128.xor(t, p));
    c = i32x4.add(c, d); r = i32x4.add(r, t);
    b = rotl7(v128.xor(b, c)); q = rotl7(v128.xor(q, r));
    b = i32x4.shuffle(b, b, 1, 2, 3, 0); q = i32x4.shuffle(q, q, 1, 2, 3, 0);
    c = i32x4.shuffle(c, c, 2, 3, 0, 1); r = i32x4.shuffle(r, r, 2, 3, 0, 1);
    d = i32x4.shuffle(d, d, 3, 0, 1, 2); t = i32x4.shuffle(t, t, 3, 0, 1, 2);
    a = i32x4.add(a, b); p = i32x4.add(p, q);
    d = rotl16(v128.xor(d, a)); t = rotl16(v128.xor(t, p));
    c = i32x4.add(c, d); r = i32x4.add(r, t);
    b = rotl12(v128.xor(b, c)); q = rotl12(v128.xor(q, r));
    a = i32x4.add(a, b); p = i32x4.add(p, q);
    d = rotl8(v128.xor(d, a)); t = rotl8(v128.xor(t, p));
    c = i32x4.add(c, d); r = i32x4.add(r, t);
    b = rotl7(v128.xor(b, c)); q = rotl7(v128.xor(q, r));
    b = i32x4.shuffle(b, b, 3, 0, 1, 2); q = i32x4.shuffle(q, q, 3, 0, 1, 2);
    c = i32x4.shuffle(c, c, 2, 3, 0, 1); r = i32x4.shuffle(r, r, 2, 3, 0, 1);
    d = i32x4.shuffle(d, d, 1, 2, 3, 0); t = i32x4.shuffle(t, t, 1, 2, 3, 0);
  }
  v128.store(out, i32x4.add(a, a0));
  v128.store(out, i32x4.add(b, b0), 16);
  v128.store(out, i32x4.add(c, c0), 32);
  v128.store(out, i32x4.add(d, d0), 48);
  v128.store(out, i32x4.add(p, a0), 64);
  v128.store(out, i32x4.add(q, b0), 80);
  v128.store(out, i32x4.add(r, c0), 96);
  v128.store(out, i32x4.add(t, e0), 112);
}

/**
 * XORs the keystream starting at block `counter` over the `len` bytes at
 * `src`, writing to `dst`. `dst` may equal `src` (in place), but must not
 * otherwise overlap it. A non-positive `len` does nothing.
 */
export function chacha20Xor(key: usize, nonce: usize, counter: u32, src: usize, dst: usize, len: i32): void {
  while (len > 64) {
    chacha20Blocks2(key, nonce, counter, BLOCK);
    const n = len < 128 ? len : 128;
    xorKeystream(src, BLOCK, dst, n);
    counter += 2;
    src += 128;
    dst += 128;
    len -= 128;
  }
  if (len > 0) {
    chacha20Block(key, nonce, counter, BLOCK);
    xorKeystream(src, BLOCK, dst, len);
  }
  wipe(BLOCK, 8);
}

/** dst[i] = src[i] ^ ks[i] for the n bytes (n <= the keystream's length; dst may equal src). */
export function xorKeystream(src: usize, ks: usize, dst: usize, n: i32): void {
  let i: usize = 0;
  for (; i + 16 <= <usize>n; i += 16) v128.store(dst + i, v128.xor(v128.load(src + i), v128.load(ks + i)));
  for (; i < <usize>n; i++) store<u8>(dst + i, load<u8>(src + i) ^ load<u8>(ks + i));
}

/**
 * HChaCha20 (draft-irtf-cfrg-xchacha section 2.2): the ChaCha20 permutation of
 * (key, the 16-byte input in words 12..15), without the final addition; words
 * 0..3 and 12..15 of the result, 32 bytes at `out`. A PRF of the key: one
 * block's work. The state stays in registers: rows a and d are the output.
 */
export function hchacha20(key: usize, input: usize, out: usize): void {
  let a = sigma(), b = v128.load(key), c = v128.load(key, 16), d = v128.load(input);
  for (let i = 0; i < 10; i++) {
    a = i32x4.add(a, b); d = rotl16(v128.xor(d, a));
    c = i32x4.add(c, d); b = rotl12(v128.xor(b, c));
    a = i32x4.add(a, b); d = rotl8(v128.xor(d, a));
    c = i32x4.add(c, d); b = rotl7(v128.xor(b, c));
    b = i32x4.shuffle(b, b, 1, 2, 3, 0);
    c = i32x4.shuffle(c, c, 2, 3, 0, 1);
    d = i32x4.shuffle(d, d, 3, 0, 1, 2);
    a = i32x4.add(a, b); d = rotl16(v128.xor(d, a));
    c = i32x4.add(c, d); b = rotl12(v128.xor(b, c));
    a = i32x4.add(a, b); d = rotl8(v128.xor(d, a));
    c = i32x4.add(c, d); b = rotl7(v128.xor(b, c));
    b = i32x4.shuffle(b, b, 3, 0, 1, 2);
    c = i32x4.shuffle(c, c, 2, 3, 0, 1);
    d = i32x4.shuffle(d, d, 1, 2, 3, 0);
  }
  v128.store(out, a);
  v128.store(out, d, 16);
}

/**
 * Two HChaCha20 of one key at once: hchacha20(key, input1, out1) and
 * hchacha20(key, input2, out2), the two states interleaved as in
 * chacha20Blocks2 (each one's steps fill the other's waits), so the pair
 * takes little more time than one. Rows b and c start equal (the key).
 */
export function hchacha20x2(key: usize, input1: usize, out1: usize, input2: usize, out2: usize): void {
  const k0 = v128.load(key), k1 = v128.load(key, 16);
  let a = sigma(), b = k0, c = k1, d = v128.load(input1);
  let p = a, q = k0, r = k1, t = v128.load(input2);
  for (let i = 0; i < 10; i++) {
    a = i32x4.add(a, b); p = i32x4.add(p, q);
    d = rotl16(v128.xor(d, a)); t = rotl16(v128.xor(t, p));
    c = i32x4.add(c, d); r = i32x4.add(r, t);
    b = rotl12(v128.xor(b, c)); q = rotl12(v128.xor(q, r));
    a = i32x4.add(a, b); p = i32x4.add(p, q);
    d = rotl8(v128.xor(d, a)); t = rotl8(v128.xor(t, p));
    c = i32x4.add(c, d); r = i32x4.add(r, t);
    b = rotl7(v128.xor(b, c)); q = rotl7(v128.xor(q, r));
    b = i32x4.shuffle(b, b, 1, 2, 3, 0); q = i32x4.shuffle(q, q, 1, 2, 3, 0);
    c = i32x4.shuffle(c, c, 2, 3, 0, 1); r = i32x4.shuffle(r, r, 2, 3, 0, 1);
    d = i32x4.shuffle(d, d, 3, 0, 1, 2); t = i32x4.shuffle(t, t, 3, 0, 1, 2);
    a = i32x4.add(a, b); p = i32x4.add(p, q);
    d = rotl16(v128.xor(d, a)); t = rotl16(v128.xor(t, p));
    c = i32x4.add(c, d); r = i32x4.add(r, t);
    b = rotl12(v128.xor(b, c)); q = rotl12(v128.xor(q, r));
    a = i32x4.add(a, b); p = i32x4.add(p, q);
    d = rotl8(v128.xor(d, a)); t = rotl8(v128.xor(t, p));
    c = i32x4.add(c, d); r = i32x4.add(r, t);
    b = rotl7(v128.xor(b, c)); q = rotl7(v128.xor(q, r));
    b = i32x4.shuffle(b, b, 3, 0, 1, 2); q = i32x4.shuffle(q, q, 3, 0, 1, 2);
    c = i32x4.shuffle(c, c, 2, 3, 0, 1); r = i32x4.shuffle(r, r, 2, 3, 0, 1);
    d = i32x4.shuffle(d, d, 1, 2, 3, 0); t = i32x4.shuffle(t, t, 1, 2, 3, 0);
  }
  v128.store(out1, a);
  v128.store(out1, d, 16);
  v128.store(out2, p);
  v128.store(out2, t, 16);
}
