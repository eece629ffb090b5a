// HKDF-SHA256 (RFC 5869): extract and expand on raw memory.
//
// Built on the SHA-256 block function and hashFinish of hmac.ts, with a small
// streaming HMAC over static scratch, so that the pieces HKDF hashes
// (T(i-1) || info || i) are never copied together and nothing allocates.
// The keyed chaining states and every intermediate block are wiped before a
// call returns. Constant time with respect to the key material and the
// output: the work depends on the lengths only.

import { ALG_SHA256, hashInit, hashBlocks, hashFinish, hashInto } from "./hmac";

/** Output length of SHA-256, and so of PRK and of each T(i). */
export const HKDF_HASH_LEN: i32 = 32;
/** The longest output RFC 5869 allows: 255 * HashLen. */
export const HKDF_MAX_OUTPUT: i32 = 255 * 32;

// Inner and outer keyed states, the running state, a partial block, the
// key block, the inner digest and T(i).
const IST: usize = memory.data(32, 16);
const OST: usize = memory.data(32, 16);
const ST: usize = memory.data(32, 16);
const BUF: usize = memory.data(64, 16);
const KEYBLK: usize = memory.data(64, 16);
const INNER: usize = memory.data(32, 16);
const T: usize = memory.data(32, 16);
const CTR: usize = memory.data(16, 16);
const PRK: usize = memory.data(32, 16);
let bufLen: i32 = 0;
let compressed: u64 = 0;

// The keyed states of the empty key (32 zero bytes), which every extract with an empty salt
// starts from: made once, at the first such call (they are constants, not secrets).
const EMPTY_IST: usize = memory.data(32, 16);
const EMPTY_OST: usize = memory.data(32, 16);
let emptyKeyReady = false;

/** Computes the keyed inner and outer states of HMAC-SHA256 under `keyLen` bytes at `key`. */
function hmacKey(key: usize, keyLen: i32): void {
  if (keyLen == 0) {
    if (!emptyKeyReady) {
      hmacKeyBlocks(key, 0);
      memory.copy(EMPTY_IST, IST, 32);
      memory.copy(EMPTY_OST, OST, 32);
      emptyKeyReady = true;
      return;
    }
    memory.copy(IST, EMPTY_IST, 32);
    memory.copy(OST, EMPTY_OST, 32);
    return;
  }
  hmacKeyBlocks(key, keyLen);
}

/** hmacKey by hashing the key's ipad and opad blocks. */
function hmacKeyBlocks(key: usize, keyLen: i32): void {
  memory.fill(KEYBLK, 0, 64);
  if (keyLen > 64) hashInto(ALG_SHA256, key, keyLen, KEYBLK);
  else if (keyLen > 0) memory.copy(KEYBLK, key, <usize>keyLen);
  for (let i = 0; i < 64; i += 8) {
    store<u64>(KEYBLK + <usize>i, load<u64>(KEYBLK + <usize>i) ^ 0x3636363636363636);
  }
  hashInit(ALG_SHA256, IST);
  hashBlocks(ALG_SHA256, IST, KEYBLK, 1);
  for (let i = 0; i < 64; i += 8) {
    store<u64>(KEYBLK + <usize>i, load<u64>(KEYBLK + <usize>i) ^ 0x6a6a6a6a6a6a6a6a);
  }
  hashInit(ALG_SHA256, OST);
  hashBlocks(ALG_SHA256, OST, KEYBLK, 1);
  memory.fill(KEYBLK, 0, 64);
}

/** Starts an HMAC under the key last given to hmacKey. */
function hmacBegin(): void {
  memory.copy(ST, IST, 32);
  compressed = 64;
  bufLen = 0;
}

/** Adds `len` bytes at `p` to the running HMAC. */
function hmacUpdate(p: usize, len: i32): void {
  if (len <= 0) return;
  if (bufLen > 0) {
    const take = min(64 - bufLen, len);
    memory.copy(BUF + <usize>bufLen, p, <usize>take);
    bufLen += take;
    p += <usize>take;
    len -= take;
    if (bufLen < 64) return;
    hashBlocks(ALG_SHA256, ST, BUF, 1);
    compressed += 64;
    bufLen = 0;
  }
  const full = len >>> 6;
  if (full > 0) {
    hashBlocks(ALG_SHA256, ST, p, full);
    compressed += <u64>full << 6;
    const n = <usize>full << 6;
    p += n;
    len -= <i32>n;
  }
  if (len > 0) {
    memory.copy(BUF, p, <usize>len);
    bufLen = len;
  }
}

/** Ends the running HMAC and writes its 32-byte tag at `out`. */
function hmacEnd(out: usize): void {
  hashFinish(ALG_SHA256, ST, compressed, BUF, bufLen, INNER);
  memory.copy(ST, OST, 32);
  hashFinish(ALG_SHA256, ST, 64, INNER, 32, out);
}

/** Wipes every piece of scratch that held key material or output. */
function wipe(): void {
  memory.fill(IST, 0, 32);
  memory.fill(OST, 0, 32);
  memory.fill(ST, 0, 32);
  memory.fill(BUF, 0, 64);
  memory.fill(INNER, 0, 32);
  memory.fill(T, 0, 32);
  bufLen = 0;
}

/**
 * HKDF-Extract: PRK = HMAC-SHA256(salt, IKM), 32 bytes at `prk`. An empty salt
 * is the empty HMAC key, which RFC 5869 section 2.2 equates with 32 zero
 * bytes. `prk` may overlap the inputs. Lengths must be non-negative.
 */
export function hkdfExtract(salt: usize, saltLen: i32, ikm: usize, ikmLen: i32, prk: usize): void {
  hmacKey(salt, saltLen);
  hmacBegin();
  hmacUpdate(ikm, ikmLen);
  hmacEnd(T);
  memory.copy(prk, T, 32);
  wipe();
}

/**
 * HKDF-Expand: the first `len` bytes of T(1) || T(2) || ..., where
 * T(i) = HMAC-SHA256(PRK, T(i-1) || info || i), at `out`. Returns false (and
 * writes nothing) when len is negative or above 255 * 32. `out` may overlap
 * `prk` but not `info`.
 */
export function hkdfExpand(prk: usize, prkLen: i32, info: usize, infoLen: i32, out: usize, len: i32): bool {
  if (len < 0 || len > HKDF_MAX_OUTPUT || prkLen < 0 || infoLen < 0) return false;
  hmacKey(prk, prkLen);
  let done = 0;
  let i: i32 = 1;
  while (done < len) {
    hmacBegin();
    if (i > 1) hmacUpdate(T, 32);
    hmacUpdate(info, infoLen);
    store<u8>(CTR, <u8>i);
    hmacUpdate(CTR, 1);
    hmacEnd(T);
    const n = min(32, len - done);
    memory.copy(out + <usize>done, T, <usize>n);
    done += n;
    i++;
  }
  wipe();
  return true;
}

/** Extract then expand: `len` bytes of HKDF-SHA256(salt, IKM, info) at `out` (false for a bad len). */
export function hkdf(salt: usize, saltLen: i32, ikm: usize, ikmLen: i32, info: usize, infoLen: i32, out: usize, len: i32): bool {
  if (len < 0 || len > HKDF_MAX_OUTPUT || saltLen < 0 || ikmLen < 0 || infoLen < 0) return false;
  hkdfExtract(salt, saltLen, ikm, ikmLen, PRK);
  const ok = hkdfExpand(PRK, 32, info, infoLen, out, len);
  memory.fill(PRK, 0, 32);
  return ok;
}
