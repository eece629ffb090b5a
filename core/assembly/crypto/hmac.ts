// Hashing (MD5, SHA-1, SHA-256) by algorithm id, and HMAC (RFC 2104).
//
// All three hashes share one Merkle-Damgard driver: whole blocks are
// compressed straight from the caller's memory, and only the tail (< 64
// bytes) is copied into a static scratch block for padding. Nothing here
// allocates except `new HmacKey`.

import { md5Init, md5Blocks } from "./md5";
import { sha1Init, sha1Blocks } from "./sha1";
import { sha256Init, sha256Blocks, sha256PadBlock } from "./sha256";
import { ctEqual } from "./ct";

export const ALG_MD5: i32 = 1;
export const ALG_SHA1: i32 = 2;
export const ALG_SHA256: i32 = 3;

/** Block size of every supported hash. */
export const HASH_BLOCK: i32 = 64;
/** Largest digest (SHA-256). */
export const HASH_MAX_DIGEST: i32 = 32;

// Scratch: two padding blocks, a chaining state, the inner digest of an HMAC,
// a key block and a tag for verify().
const PAD: usize = memory.data(128, 16);
const STATE: usize = memory.data(32, 16);
const INNER: usize = memory.data(32, 16);
const KEYBLK: usize = memory.data(64, 16);
const TAG: usize = memory.data(32, 16);
const ZERO32: usize = memory.data(32, 16);

/** Digest length in bytes of `alg`, or -1 for an unknown id. */
export function digestLen(alg: i32): i32 {
  if (alg == ALG_SHA256) return 32;
  if (alg == ALG_SHA1) return 20;
  if (alg == ALG_MD5) return 16;
  return -1;
}

/** Writes the initial chaining value of `alg` at `st` (a known alg). */
export function hashInit(alg: i32, st: usize): void {
  if (alg == ALG_SHA256) sha256Init(st);
  else if (alg == ALG_SHA1) sha1Init(st);
  else md5Init(st);
}

/** Compresses `n` whole blocks at `p` into the state at `st`. */
// @ts-ignore: decorator
@inline
export function hashBlocks(alg: i32, st: usize, p: usize, n: i32): void {
  if (alg == ALG_SHA256) sha256Blocks(st, p, n);
  else if (alg == ALG_SHA1) sha1Blocks(st, p, n);
  else md5Blocks(st, p, n);
}

/**
 * Finishes a hash: `prefix` bytes (a multiple of 64) are already compressed
 * into `st`; compresses the `len` bytes at `msg`, pads (the total length is
 * `prefix + len`) and writes the digest at `out`. `out` may alias `msg`.
 */
export function hashFinish(alg: i32, st: usize, prefix: u64, msg: usize, len: i32, out: usize): void {
  const full = len >>> 6;
  if (full > 0) hashBlocks(alg, st, msg, full);
  const rest = len & 63;
  const total: u64 = (prefix + <u64>len) << 3; // in bits
  if (alg == ALG_SHA256 && rest == 0) {
    // A block of padding only: its schedule depends on the length alone.
    sha256PadBlock(st, total);
  } else {
    // Tail, 0x80, zeros, 64-bit length: one block, or two when the tail
    // leaves fewer than 9 bytes.
    const tail = msg + (<usize>full << 6);
    let i = 0;
    for (; i + 8 <= rest; i += 8) store<u64>(PAD + <usize>i, load<u64>(tail + <usize>i));
    for (; i < rest; i++) store<u8>(PAD + <usize>i, load<u8>(tail + <usize>i));
    store<u8>(PAD + <usize>rest, 0x80);
    const blocks = rest < 56 ? 1 : 2;
    const end = blocks << 6;
    i = rest + 1;
    for (; (i & 7) != 0; i++) store<u8>(PAD + <usize>i, 0);
    for (; i < end - 8; i += 8) store<u64>(PAD + <usize>i, 0);
    if (alg == ALG_MD5) store<u64>(PAD + <usize>(end - 8), total);
    else store<u64>(PAD + <usize>(end - 8), bswap<u64>(total));
    hashBlocks(alg, st, PAD, blocks);
  }
  digestOut(alg, st, out);
}

/** Writes the digest held in the state at `st`: big-endian words for SHA, little-endian for MD5. */
// @ts-ignore: decorator
@inline
function digestOut(alg: i32, st: usize, out: usize): void {
  if (alg == ALG_SHA256) {
    store<u32>(out, bswap<u32>(load<u32>(st, 0)), 0);
    store<u32>(out, bswap<u32>(load<u32>(st, 4)), 4);
    store<u32>(out, bswap<u32>(load<u32>(st, 8)), 8);
    store<u32>(out, bswap<u32>(load<u32>(st, 12)), 12);
    store<u32>(out, bswap<u32>(load<u32>(st, 16)), 16);
    store<u32>(out, bswap<u32>(load<u32>(st, 20)), 20);
    store<u32>(out, bswap<u32>(load<u32>(st, 24)), 24);
    store<u32>(out, bswap<u32>(load<u32>(st, 28)), 28);
  } else if (alg == ALG_SHA1) {
    store<u32>(out, bswap<u32>(load<u32>(st, 0)), 0);
    store<u32>(out, bswap<u32>(load<u32>(st, 4)), 4);
    store<u32>(out, bswap<u32>(load<u32>(st, 8)), 8);
    store<u32>(out, bswap<u32>(load<u32>(st, 12)), 12);
    store<u32>(out, bswap<u32>(load<u32>(st, 16)), 16);
  } else {
    store<u64>(out, load<u64>(st, 0), 0);
    store<u64>(out, load<u64>(st, 8), 8);
  }
}

/** Copies the 32-byte chaining state at `src` to `dst`. */
// @ts-ignore: decorator
@inline
function copyState(dst: usize, src: usize): void {
  store<u64>(dst, load<u64>(src, 0), 0);
  store<u64>(dst, load<u64>(src, 8), 8);
  store<u64>(dst, load<u64>(src, 16), 16);
  store<u64>(dst, load<u64>(src, 24), 24);
}

/**
 * Hashes `len` bytes at `msg` with `alg` into `out`; returns the digest length,
 * or -1 for an unknown alg or a negative length. `out` may alias `msg`.
 */
export function hashInto(alg: i32, msg: usize, len: i32, out: usize): i32 {
  const d = digestLen(alg);
  if (d < 0 || len < 0) return -1;
  hashInit(alg, STATE);
  hashFinish(alg, STATE, 0, msg, len, out);
  return d;
}

/**
 * An HMAC key (RFC 2104) with the inner and outer chaining states
 * precomputed, so a tag costs the message blocks plus one outer block.
 * For an unknown algorithm id, tagLen is 0, sign() writes nothing and
 * verify() is always false.
 */
export class HmacKey {
  private _alg: i32 = 0;
  private _tagLen: i32 = 0;
  // Inner state (words 0..7), then outer state (words 8..15): 64 bytes inline
  // (s0..s7), so that a key is one allocation (memory per peer, docs/dataplane.md).
  private s0: u64 = 0;
  private s1: u64 = 0;
  private s2: u64 = 0;
  private s3: u64 = 0;
  private s4: u64 = 0;
  private s5: u64 = 0;
  private s6: u64 = 0;
  private s7: u64 = 0;

  /** Where the 64 bytes of state start. */
  @inline private get stPtr(): usize { return changetype<usize>(this) + offsetof<HmacKey>("s0"); }

  constructor(alg: i32, key: usize, keyLen: i32) {
    this.init(alg, key, keyLen);
  }

  get alg(): i32 { return this._alg; }
  get tagLen(): i32 { return this._tagLen; }

  /** Re-keys this object in place (no allocation). A negative keyLen counts as 0. */
  init(alg: i32, key: usize, keyLen: i32): void {
    const d = digestLen(alg);
    this._alg = alg;
    this._tagLen = d < 0 ? 0 : d;
    const st = this.stPtr;
    if (d < 0) {
      memory.fill(st, 0, 64);
      return;
    }
    if (keyLen < 0) keyLen = 0;
    // K0: the key, or its digest when longer than a block, zero-padded.
    memory.fill(KEYBLK, 0, 64);
    if (keyLen > HASH_BLOCK) hashInto(alg, key, keyLen, KEYBLK);
    else if (keyLen > 0) memory.copy(KEYBLK, key, <usize>keyLen);
    for (let i = 0; i < 64; i += 8) {
      store<u64>(KEYBLK + <usize>i, load<u64>(KEYBLK + <usize>i) ^ 0x3636363636363636);
    }
    hashInit(alg, st);
    hashBlocks(alg, st, KEYBLK, 1);
    for (let i = 0; i < 64; i += 8) {
      // 0x36 ^ 0x5c = 0x6a turns the ipad block into the opad block.
      store<u64>(KEYBLK + <usize>i, load<u64>(KEYBLK + <usize>i) ^ 0x6a6a6a6a6a6a6a6a);
    }
    hashInit(alg, st + 32);
    hashBlocks(alg, st + 32, KEYBLK, 1);
    memory.fill(KEYBLK, 0, 64);
  }

  /** Writes the tagLen-byte tag of the `len` bytes at `msg` to `out` (may alias msg). */
  sign(msg: usize, len: i32, out: usize): void {
    const alg = this._alg;
    const d = this._tagLen;
    if (d == 0) return;
    if (len < 0) len = 0;
    const st = this.stPtr;
    copyState(STATE, st);
    hashFinish(alg, STATE, 64, msg, len, INNER);
    copyState(STATE, st + 32);
    hashFinish(alg, STATE, 64, INNER, d, out);
  }

  /**
   * True when `tag` (tagLen bytes) is the tag of the message. A tagLen other
   * than this.tagLen is false; the comparison is constant time.
   */
  verify(msg: usize, len: i32, tag: usize, tagLen: i32): bool {
    const d = this._tagLen;
    if (d == 0 || tagLen != d) return false;
    this.sign(msg, len, TAG);
    const ok = ctEqual(TAG, tag, d);
    copyState(TAG, ZERO32);
    return ok;
  }
}
