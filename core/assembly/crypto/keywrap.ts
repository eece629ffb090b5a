// Session key wrap and unwrap (docs/PROTOCOL.md section 4.7).
//
// Wrap Alg 1 (CHACHA20_POLY1305): K = HKDF-SHA256(IKM = the wrap SA's key,
// salt = empty, info = "handover key-wrap/1", L = 32).
// Wrap Alg 2 (X25519_CHACHA20_POLY1305): an ephemeral key pair (e, E),
// Z = X25519(e, R), K = HKDF-SHA256(IKM = Z, salt = E || R, same info).
// The 32-byte session key is sealed with ChaCha20-Poly1305 under K, with the
// 12-byte nonce of the extension, and associated data
//
//   the message's 20-byte header || 42 || Length || Wrap Alg || 0 ||
//   Wrap SPI || Session SPI [|| E]                 (32 or 64 bytes)
//
// The extension body this module reads and writes is everything after the
// Session SPI: [E (32)] || nonce (12) || sealed key (32) || tag (16).
//
// Everything is computed in static scratch and copied to the caller's output
// at the end, so outputs may overlap inputs. Secrets (K, Z, the drawn
// ephemeral scalar, the opened key) are wiped before returning. The work does
// not depend on secret data: HMAC, ChaCha20, Poly1305 and the X25519 ladder
// are constant time, the tag comparison is constant time, and the only
// data-dependent branch (an all-zero Z) depends on public keys alone.

import { hkdf } from "./hkdf";
import { aeadSeal, aeadOpen } from "./aead";
import { x25519, x25519Base } from "./x25519";
import { drbg } from "./drbg";
import { put32 } from "../util/bytes";
import {
  WRAP_CHACHA20_POLY1305, WRAP_X25519_CHACHA20_POLY1305, EXT_SESSION_KEY, FIRST_ASSIGNABLE_SPI,
  ERR_BAD_LENGTH, ERR_BAD_VALUE, ERR_BAD_SPI, ERR_INVALID_ARGUMENT, ERR_KEY_UNWRAP_FAILED, ERR_LOW_ORDER_POINT,
  ERR_NOT_SEEDED,
} from "../generated/registry";

/** The session key's length. */
export const SESSION_KEY_BYTES: i32 = 32;
/** The shortest wrap SA key accepted for Wrap Alg 1 (section 6.1). */
export const MIN_WRAP_KEY_BYTES: i32 = 16;
/** Header length: the first part of the associated data. */
export const WRAP_HEADER_BYTES: i32 = 20;
/** Body lengths (extension Length minus the 10 bytes through the Session SPI). */
export const WRAP_BODY_SHARED: i32 = 60;
export const WRAP_BODY_X25519: i32 = 92;

/** "handover key-wrap/1", the HKDF info of both algorithms (19 bytes, no terminator). */
const INFO: usize = memory.data<u8>([
  0x68, 0x61, 0x6e, 0x64, 0x6f, 0x76, 0x65, 0x72, 0x20, // "handover "
  0x6b, 0x65, 0x79, 0x2d, 0x77, 0x72, 0x61, 0x70, 0x2f, 0x31, // "key-wrap/1"
]);
const INFO_LEN: i32 = 19;

const AAD: usize = memory.data(64, 16);
const K: usize = memory.data(32, 16);
const Z: usize = memory.data(32, 16);
const SALT: usize = memory.data(64, 16); // E || R
const BODY: usize = memory.data(96, 16);
const SK: usize = memory.data(32, 16);
const RND: usize = memory.data(48, 16); // drawn nonce (0..11), drawn scalar (16..47)

/** Body length for a wrap algorithm, or 0 for an unknown one. */
export function wrapBodyLength(alg: u32): i32 {
  if (alg == WRAP_CHACHA20_POLY1305) return WRAP_BODY_SHARED;
  if (alg == WRAP_X25519_CHACHA20_POLY1305) return WRAP_BODY_X25519;
  return 0;
}

/** Section 4.7's field checks after the Length: Wrap Alg, Wrap SPI, Session SPI. 0 or an error. */
function checkFields(alg: u32, wrapSpi: u32, sessionSpi: u32): i32 {
  if (wrapBodyLength(alg) == 0) return ERR_BAD_VALUE;
  if (wrapSpi < FIRST_ASSIGNABLE_SPI) return ERR_BAD_SPI;
  if (sessionSpi < FIRST_ASSIGNABLE_SPI) return ERR_BAD_SPI;
  return 0;
}

/**
 * True when the 32 bytes at p are the canonical encoding of a field element:
 * a little-endian integer below 2^255 - 19 (so bit 255 is clear). Public data.
 */
export function isCanonicalU(p: usize): bool {
  const top = load<u8>(p + 31);
  if (top < 0x7f) return true;
  if (top > 0x7f) return false;
  for (let i = 30; i >= 1; i--) {
    if (load<u8>(p + <usize>i) != 0xff) return true;
  }
  return load<u8>(p) < 0xed;
}

/** Writes the associated data at AAD; returns its length (32, or 64 with E). */
function buildAad(header: usize, alg: u32, wrapSpi: u32, sessionSpi: u32, eph: usize): i32 {
  memory.copy(AAD, header, <usize>WRAP_HEADER_BYTES);
  const x25519Alg = alg == WRAP_X25519_CHACHA20_POLY1305;
  store<u8>(AAD + 20, EXT_SESSION_KEY);
  store<u8>(AAD + 21, <u8>(10 + wrapBodyLength(alg)));
  store<u8>(AAD + 22, <u8>alg);
  store<u8>(AAD + 23, 0);
  put32(AAD + 24, wrapSpi);
  put32(AAD + 28, sessionSpi);
  if (!x25519Alg) return 32;
  memory.copy(AAD + 32, eph, 32);
  return 64;
}

function wipe(): void {
  memory.fill(K, 0, 32);
  memory.fill(Z, 0, 32);
  memory.fill(SK, 0, 32);
}

/** K for Wrap Alg 1: HKDF-SHA256 of the SA key with an empty salt. */
function deriveShared(key: usize, keyLen: i32): void {
  hkdf(0, 0, key, keyLen, INFO, INFO_LEN, K, 32);
}

/**
 * Wraps the 32-byte session key at `sessionKey` for the extension whose
 * prefix fields are alg, wrapSpi and sessionSpi, in the message whose 20-byte
 * header is at `header`. key: Wrap Alg 1, the wrap SA's key (keyLen >= 16);
 * Wrap Alg 2, the recipient's static X25519 public key (32 bytes, canonical).
 * nonce: 12 bytes; ephemeral: the 32-byte ephemeral private scalar (Wrap Alg 2
 * only; not read otherwise). Writes the body (60 or 92 bytes) at `out` and
 * returns its length, or a negated error: BAD_VALUE (alg), BAD_SPI,
 * INVALID_ARGUMENT (key length, non-canonical public key), LOW_ORDER_POINT.
 */
export function keyWrap(
  header: usize, alg: u32, wrapSpi: u32, sessionSpi: u32, key: usize, keyLen: i32,
  sessionKey: usize, nonce: usize, ephemeral: usize, out: usize,
): i32 {
  const err = checkFields(alg, wrapSpi, sessionSpi);
  if (err) return -err;
  const n = wrapBodyLength(alg);
  let off: usize = 0;
  if (alg == WRAP_CHACHA20_POLY1305) {
    if (keyLen < MIN_WRAP_KEY_BYTES) return -ERR_INVALID_ARGUMENT;
    deriveShared(key, keyLen);
  } else {
    if (keyLen != 32 || !isCanonicalU(key)) return -ERR_INVALID_ARGUMENT;
    memory.copy(SALT + 32, key, 32); // R
    x25519Base(SALT, ephemeral); // E
    if (!x25519(Z, ephemeral, SALT + 32)) {
      wipe();
      return -ERR_LOW_ORDER_POINT;
    }
    hkdf(SALT, 64, Z, 32, INFO, INFO_LEN, K, 32);
    memory.copy(BODY, SALT, 32);
    off = 32;
  }
  memory.copy(BODY + off, nonce, 12);
  const aadLen = buildAad(header, alg, wrapSpi, sessionSpi, SALT);
  memory.copy(SK, sessionKey, 32);
  aeadSeal(K, BODY + off, AAD, aadLen, SK, 32, BODY + off + 12);
  memory.copy(out, BODY, <usize>n);
  wipe();
  return n;
}

/**
 * keyWrap with the nonce and (for Wrap Alg 2) the ephemeral scalar drawn from
 * the module's DRBG. Refuses (NOT_SEEDED) until the DRBG has had 16 bytes of
 * seed: a wrap from a predictable generator would give the key away.
 */
export function keyWrapRandom(
  header: usize, alg: u32, wrapSpi: u32, sessionSpi: u32, key: usize, keyLen: i32,
  sessionKey: usize, out: usize,
): i32 {
  const err = checkFields(alg, wrapSpi, sessionSpi);
  if (err) return -err;
  if (!drbg.seeded) return -ERR_NOT_SEEDED;
  drbg.fill(RND, alg == WRAP_X25519_CHACHA20_POLY1305 ? 48 : 12);
  const r = keyWrap(header, alg, wrapSpi, sessionSpi, key, keyLen, sessionKey, RND, RND + 16, out);
  memory.fill(RND, 0, 48);
  return r;
}

/**
 * Unwraps a body of `bodyLen` bytes. key: Wrap Alg 1, the wrap SA's key
 * (keyLen >= 16); Wrap Alg 2, the recipient's static X25519 private key (32
 * bytes; its public key R is computed from it). Writes the 32-byte session key
 * at `out` and returns 32, or a negated error in this order: BAD_LENGTH (body
 * not 60 or 92 bytes), BAD_VALUE (alg), BAD_LENGTH (body length does not
 * match alg), BAD_SPI (Wrap SPI, then Session SPI), INVALID_ARGUMENT (key
 * length), LOW_ORDER_POINT (Wrap Alg 2, Z all zero), KEY_UNWRAP_FAILED (the
 * tag). On failure nothing is written at `out`.
 */
export function keyUnwrap(
  header: usize, alg: u32, wrapSpi: u32, sessionSpi: u32, key: usize, keyLen: i32,
  body: usize, bodyLen: i32, out: usize,
): i32 {
  if (bodyLen != WRAP_BODY_SHARED && bodyLen != WRAP_BODY_X25519) return -ERR_BAD_LENGTH;
  const n = wrapBodyLength(alg);
  if (n == 0) return -ERR_BAD_VALUE;
  if (bodyLen != n) return -ERR_BAD_LENGTH;
  const err = checkFields(alg, wrapSpi, sessionSpi);
  if (err) return -err;
  if (alg == WRAP_CHACHA20_POLY1305 ? keyLen < MIN_WRAP_KEY_BYTES : keyLen != 32) return -ERR_INVALID_ARGUMENT;
  memory.copy(BODY, body, <usize>n);
  let off: usize = 0;
  if (alg == WRAP_CHACHA20_POLY1305) {
    deriveShared(key, keyLen);
  } else {
    memory.copy(SALT, BODY, 32); // E, as received
    x25519Base(SALT + 32, key); // R, from the private key
    if (!x25519(Z, key, SALT)) {
      wipe();
      return -ERR_LOW_ORDER_POINT;
    }
    hkdf(SALT, 64, Z, 32, INFO, INFO_LEN, K, 32);
    off = 32;
  }
  const aadLen = buildAad(header, alg, wrapSpi, sessionSpi, BODY);
  const r = aeadOpen(K, BODY + off, AAD, aadLen, BODY + off + 12, 48, SK);
  if (r != SESSION_KEY_BYTES) {
    wipe();
    return -ERR_KEY_UNWRAP_FAILED;
  }
  memory.copy(out, SK, 32);
  wipe();
  return SESSION_KEY_BYTES;
}
