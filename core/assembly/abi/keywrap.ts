// Flat exports for HKDF-SHA256 and the session key wrap (docs/PROTOCOL.md
// section 4.7, docs/ABI.md "Key wrap"). Every pointer is checked against
// linear memory: a bad range returns -INVALID_ARGUMENT, never a trap.
// Convention: a negative return is a negated error code (core/registry.json).

import { inMemory } from "../util/bytes";
import { hkdfExtract, hkdfExpand, hkdf, HKDF_MAX_OUTPUT } from "../crypto/hkdf";
import { keyWrap, keyWrapRandom, keyUnwrap, wrapBodyLength, WRAP_HEADER_BYTES, SESSION_KEY_BYTES } from "../crypto/keywrap";
import { WRAP_X25519_CHACHA20_POLY1305, ERR_INVALID_ARGUMENT } from "../generated/registry";

const BAD = -ERR_INVALID_ARGUMENT;

// ---- HKDF-SHA256 (RFC 5869) -------------------------------------------------

/** HKDF-Extract: the 32-byte PRK = HMAC-SHA256(salt, ikm) at out; returns 32. */
export function crypto_hkdf_extract(salt: usize, saltLen: i32, ikm: usize, ikmLen: i32, out: usize): i32 {
  if (!inMemory(salt, saltLen) || !inMemory(ikm, ikmLen) || !inMemory(out, 32)) return BAD;
  hkdfExtract(salt, saltLen, ikm, ikmLen, out);
  return 32;
}

/** HKDF-Expand: len (0..8160) bytes of OKM from prk and info at out (not overlapping info); returns len. */
export function crypto_hkdf_expand(prk: usize, prkLen: i32, info: usize, infoLen: i32, out: usize, len: i32): i32 {
  if (len < 0 || len > HKDF_MAX_OUTPUT) return BAD;
  if (!inMemory(prk, prkLen) || !inMemory(info, infoLen) || !inMemory(out, len)) return BAD;
  return hkdfExpand(prk, prkLen, info, infoLen, out, len) ? len : BAD;
}

/** HKDF extract then expand: len (0..8160) bytes at out (not overlapping info); returns len. */
export function crypto_hkdf(salt: usize, saltLen: i32, ikm: usize, ikmLen: i32, info: usize, infoLen: i32, out: usize, len: i32): i32 {
  if (len < 0 || len > HKDF_MAX_OUTPUT) return BAD;
  if (!inMemory(salt, saltLen) || !inMemory(ikm, ikmLen) || !inMemory(info, infoLen) || !inMemory(out, len)) return BAD;
  return hkdf(salt, saltLen, ikm, ikmLen, info, infoLen, out, len) ? len : BAD;
}

// ---- session key wrap (section 4.7) ----------------------------------------

/** The inputs every wrap reads, whatever the algorithm. */
// @ts-ignore: decorator
@inline
function wrapInputsOk(header: usize, key: usize, keyLen: i32, sessionKey: usize, alg: u32, out: usize): bool {
  if (!inMemory(header, WRAP_HEADER_BYTES) || !inMemory(key, keyLen) || !inMemory(sessionKey, SESSION_KEY_BYTES)) return false;
  // An unknown alg is refused (BAD_VALUE) before out is written.
  const n = wrapBodyLength(alg);
  return n == 0 || inMemory(out, n);
}

/**
 * Wraps the 32-byte session key with a nonce (and, for wrap algorithm 2, an
 * ephemeral key) from the module's DRBG, which the host must have seeded.
 * Writes the extension body ([E,] nonce, sealed key, tag) at out; returns its
 * length (60 or 92) or a negated error.
 */
export function keywrap_wrap(header: usize, wrapAlg: u32, wrapSpi: u32, sessionSpi: u32, key: usize, keyLen: i32, sessionKey: usize, out: usize): i32 {
  if (!wrapInputsOk(header, key, keyLen, sessionKey, wrapAlg, out)) return BAD;
  return keyWrapRandom(header, wrapAlg, wrapSpi, sessionSpi, key, keyLen, sessionKey, out);
}

/**
 * keywrap_wrap with a caller-supplied 12-byte nonce and 32-byte ephemeral
 * private scalar (read for wrap algorithm 2 only): deterministic, for vectors
 * and tests. Never reuse a nonce with the same wrapping key.
 */
export function keywrap_wrap_with(header: usize, wrapAlg: u32, wrapSpi: u32, sessionSpi: u32, key: usize, keyLen: i32, sessionKey: usize, nonce: usize, ephemeral: usize, out: usize): i32 {
  if (!wrapInputsOk(header, key, keyLen, sessionKey, wrapAlg, out) || !inMemory(nonce, 12)) return BAD;
  if (wrapAlg == WRAP_X25519_CHACHA20_POLY1305 && !inMemory(ephemeral, 32)) return BAD;
  return keyWrap(header, wrapAlg, wrapSpi, sessionSpi, key, keyLen, sessionKey, nonce, ephemeral, out);
}

/**
 * Unwraps an extension body of bodyLen bytes; key is the wrap SA's key
 * (algorithm 1) or the recipient's X25519 private key (algorithm 2). Writes
 * the 32-byte session key at out and returns 32, or a negated error
 * (KEY_UNWRAP_FAILED, LOW_ORDER_POINT, ...); nothing is written on failure.
 */
export function keywrap_unwrap(header: usize, wrapAlg: u32, wrapSpi: u32, sessionSpi: u32, key: usize, keyLen: i32, body: usize, bodyLen: i32, out: usize): i32 {
  if (!inMemory(header, WRAP_HEADER_BYTES) || !inMemory(key, keyLen) || !inMemory(body, bodyLen) || !inMemory(out, SESSION_KEY_BYTES)) return BAD;
  return keyUnwrap(header, wrapAlg, wrapSpi, sessionSpi, key, keyLen, body, bodyLen, out);
}
