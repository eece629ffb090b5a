// Flat cryptographic exports of the core.
//
// Every pointer is an address in the module's memory (the host copies inputs
// to io_in_ptr() and reads results at io_out_ptr()); every length is an i32
// byte count. A negative length, or a range that would run past the end of
// memory, returns -1 (void exports then do nothing): no input traps.

import { inPtr, outPtr, IO_SIZE } from "./io";
import { ALG_SHA256, HmacKey, digestLen, hashInto } from "../crypto/hmac";
import { aeadSeal, aeadOpen } from "../crypto/aead";
import { x25519, x25519Base } from "../crypto/x25519";
import { ctEqual } from "../crypto/ct";
import { drbg } from "../crypto/drbg";
import { chacha20Xor } from "../crypto/chacha20";
import { poly1305 } from "../crypto/poly1305";

/** True when [ptr, ptr + len) lies inside memory (len >= 0). */
// @ts-ignore: decorator
@inline
function inMem(ptr: usize, len: i32): bool {
  return len >= 0 && <u64>ptr + <u64>len <= (<u64>memory.size() << 16);
}

/** Number of HMAC key slots for crypto_hmac_init / _sign / _verify. */
const HMAC_SLOTS: i32 = 8;
const slots = new StaticArray<HmacKey>(HMAC_SLOTS);
for (let i = 0; i < HMAC_SLOTS; i++) unchecked(slots[i] = new HmacKey(0, 0, 0));
/** The key behind one-shot crypto_hmac calls (re-keyed in place). */
const oneShot = new HmacKey(ALG_SHA256, 0, 0);
/** The fixed key behind bench_hmac_sha256. */
const benchKey = new HmacKey(ALG_SHA256, memory.data<u8>([
  0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
  0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b]), 32);

/** Digest of `len` bytes at `msg` with alg 1 (MD5), 2 (SHA-1), 3 (SHA-256) at `out`; returns its length. */
export function crypto_hash(alg: i32, msg: usize, len: i32, out: usize): i32 {
  const d = digestLen(alg);
  if (d < 0 || !inMem(msg, len) || !inMem(out, d)) return -1;
  return hashInto(alg, msg, len, out);
}

/** HMAC of `msgLen` bytes at `msg` under `keyLen` bytes at `key`, at `out`; returns the tag length. */
export function crypto_hmac(alg: i32, key: usize, keyLen: i32, msg: usize, msgLen: i32, out: usize): i32 {
  const d = digestLen(alg);
  if (d < 0 || !inMem(key, keyLen) || !inMem(msg, msgLen) || !inMem(out, d)) return -1;
  oneShot.init(alg, key, keyLen);
  oneShot.sign(msg, msgLen, out);
  return d;
}

/** Precomputes an HMAC key into slot 0..7; returns the tag length. */
export function crypto_hmac_init(slot: i32, alg: i32, key: usize, keyLen: i32): i32 {
  const d = digestLen(alg);
  if (<u32>slot >= <u32>HMAC_SLOTS || d < 0 || !inMem(key, keyLen)) return -1;
  unchecked(slots[slot]).init(alg, key, keyLen);
  return d;
}

/** Tag of `len` bytes at `msg` under the key in `slot`, at `out`; returns the tag length. */
export function crypto_hmac_sign(slot: i32, msg: usize, len: i32, out: usize): i32 {
  if (<u32>slot >= <u32>HMAC_SLOTS) return -1;
  const k = unchecked(slots[slot]);
  const d = k.tagLen;
  if (d == 0 || !inMem(msg, len) || !inMem(out, d)) return -1;
  k.sign(msg, len, out);
  return d;
}

/** 1 when `tag` (tagLen bytes) is the tag of the message under `slot`, else 0; -1 for bad arguments. */
export function crypto_hmac_verify(slot: i32, msg: usize, len: i32, tag: usize, tagLen: i32): i32 {
  if (<u32>slot >= <u32>HMAC_SLOTS) return -1;
  const k = unchecked(slots[slot]);
  if (k.tagLen == 0 || !inMem(msg, len) || !inMem(tag, tagLen)) return -1;
  return k.verify(msg, len, tag, tagLen) ? 1 : 0;
}

/** ChaCha20-Poly1305 seal: ciphertext || tag at `out`; returns msgLen + 16. */
export function crypto_aead_seal(key: usize, nonce: usize, aad: usize, aadLen: i32, msg: usize, msgLen: i32, out: usize): i32 {
  if (!inMem(key, 32) || !inMem(nonce, 12) || !inMem(aad, aadLen) || !inMem(msg, msgLen)) return -1;
  if (msgLen > 0x7fffffff - 16 || !inMem(out, msgLen + 16)) return -1;
  return aeadSeal(key, nonce, aad, aadLen, msg, msgLen, out);
}

/** ChaCha20-Poly1305 open: plaintext at `out`; returns its length, or -1 (bad tag, short input, bad range). */
export function crypto_aead_open(key: usize, nonce: usize, aad: usize, aadLen: i32, ct: usize, ctLen: i32, out: usize): i32 {
  if (!inMem(key, 32) || !inMem(nonce, 12) || !inMem(aad, aadLen) || !inMem(ct, ctLen)) return -1;
  if (ctLen < 16 || !inMem(out, ctLen - 16)) return -1;
  return aeadOpen(key, nonce, aad, aadLen, ct, ctLen, out);
}

/** X25519(scalar, point) at `out`: 1, or 0 for the all-zero result of a low-order point; -1 for a bad range. */
export function crypto_x25519(out: usize, scalar: usize, point: usize): i32 {
  if (!inMem(out, 32) || !inMem(scalar, 32) || !inMem(point, 32)) return -1;
  return x25519(out, scalar, point) ? 1 : 0;
}

/** X25519(scalar, 9) at `out`: the public key. Does nothing for a bad range. */
export function crypto_x25519_base(out: usize, scalar: usize): void {
  if (!inMem(out, 32) || !inMem(scalar, 32)) return;
  x25519Base(out, scalar);
}

/** 1 when the `len` bytes at `a` and `b` are equal (constant time), 0 when not, -1 for a bad range. */
export function crypto_ct_equal(a: usize, b: usize, len: i32): i32 {
  if (!inMem(a, len) || !inMem(b, len)) return -1;
  return ctEqual(a, b, len) ? 1 : 0;
}

/** Raw ChaCha20 (RFC 8439 2.4): XORs keystream from block `counter` over `len` bytes at `src` into `dst`. */
export function crypto_chacha20(key: usize, nonce: usize, counter: u32, src: usize, len: i32, dst: usize): i32 {
  if (!inMem(key, 32) || !inMem(nonce, 12) || !inMem(src, len) || !inMem(dst, len)) return -1;
  chacha20Xor(key, nonce, counter, src, dst, len);
  return len;
}

/** Raw Poly1305 (RFC 8439 2.5) of `len` bytes at `msg` under the 32-byte one-time `key`; 16-byte tag at `out`. */
export function crypto_poly1305(key: usize, msg: usize, len: i32, out: usize): i32 {
  if (!inMem(key, 32) || !inMem(msg, len) || !inMem(out, 16)) return -1;
  poly1305(out, msg, len, key);
  return 16;
}

/** Mixes `len` bytes at `ptr` into the module-wide DRBG. Does nothing for a bad range. */
export function drbg_seed(ptr: usize, len: i32): void {
  if (!inMem(ptr, len)) return;
  drbg.seed(ptr, len);
}

/** Writes `len` bytes from the module-wide DRBG at `out`. Does nothing for a bad range. */
export function drbg_fill(out: usize, len: i32): void {
  if (!inMem(out, len)) return;
  drbg.fill(out, len);
}

/**
 * Benchmark only: signs the first `msgLen` bytes of io_in `n` times with a
 * fixed HMAC-SHA256 key, tags to io_out. Returns n, or -1 for bad arguments.
 */
export function bench_hmac_sha256(n: i32, msgLen: i32): i32 {
  if (n < 0 || msgLen < 0 || msgLen > IO_SIZE) return -1;
  const msg = inPtr(), out = outPtr();
  for (let i = 0; i < n; i++) benchKey.sign(msg, msgLen, out);
  return n;
}
