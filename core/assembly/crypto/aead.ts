// AEAD_CHACHA20_POLY1305 (RFC 8439 section 2.8).

import { wipe } from "./wipe";
import { chacha20Block, chacha20Blocks2, chacha20Xor, xorKeystream } from "./chacha20";
import { poly1305Init, poly1305Padded, poly1305Blocks, poly1305Tag } from "./poly1305";
import { ctEqual } from "./ct";

export const AEAD_KEY_LEN: i32 = 32;
export const AEAD_NONCE_LEN: i32 = 12;
export const AEAD_TAG_LEN: i32 = 16;

/** Keystream block 0 (its first half: the one-time Poly1305 key), then block 1 for a message of up to 64 bytes. */
const OTK: usize = memory.data(128, 16);
const LENS: usize = memory.data(16, 16);
const TAG: usize = memory.data(16, 16);

/** A message this short is covered by keystream block 1 alone: blocks 0 and 1 are made together. */
const SHORT: i32 = 64;

/** Keystream block 0 into OTK, and block 1 after it when the message is short. */
function keystreamStart(key: usize, nonce: usize, msgLen: i32): void {
  if (msgLen <= SHORT) chacha20Blocks2(key, nonce, 0, OTK);
  else chacha20Block(key, nonce, 0, OTK);
}

/** Computes the tag over aad and ciphertext into TAG, under the one-time key in OTK. */
function macInto(aad: usize, aadLen: i32, ct: usize, ctLen: i32): void {
  poly1305Init(OTK);
  poly1305Padded(aad, aadLen);
  poly1305Padded(ct, ctLen);
  store<u64>(LENS, <u64>aadLen, 0);
  store<u64>(LENS, <u64>ctLen, 8);
  poly1305Blocks(LENS, 1, 1 << 24);
  poly1305Tag(TAG);
}

/** XORs the keystream from block 1 over the message: block 1 from OTK when short, else made here. */
function crypt(key: usize, nonce: usize, src: usize, dst: usize, len: i32): void {
  if (len <= SHORT) xorKeystream(src, OTK + 64, dst, len);
  else chacha20Xor(key, nonce, 1, src, dst, len);
}

/**
 * Encrypts `msgLen` bytes at `msg` and writes ciphertext || 16-byte tag at
 * `out` (which may equal `msg`, but must not otherwise overlap it). Key 32
 * bytes, nonce 12 bytes. Returns msgLen + 16, or -1 for a negative length.
 */
export function aeadSeal(key: usize, nonce: usize, aad: usize, aadLen: i32, msg: usize, msgLen: i32, out: usize): i32 {
  if (aadLen < 0 || msgLen < 0 || msgLen > 0x7fffffef) return -1;
  keystreamStart(key, nonce, msgLen);
  crypt(key, nonce, msg, out, msgLen);
  macInto(aad, aadLen, out, msgLen);
  wipe(OTK, 8);
  memory.copy(out + <usize>msgLen, TAG, 16);
  wipe(TAG, 1);
  return msgLen + 16;
}

/**
 * Verifies and decrypts `ctLen` bytes at `ct` (ciphertext || tag). Returns the
 * plaintext length (written at `out`, which may equal `ct`), or -1 when ctLen
 * < 16 or the tag does not verify; then nothing is written. The tag check is
 * constant time and comes before any plaintext is produced.
 */
export function aeadOpen(key: usize, nonce: usize, aad: usize, aadLen: i32, ct: usize, ctLen: i32, out: usize): i32 {
  if (aadLen < 0 || ctLen < 16) return -1;
  const n = ctLen - 16;
  keystreamStart(key, nonce, n);
  macInto(aad, aadLen, ct, n);
  const ok = ctEqual(TAG, ct + <usize>n, 16);
  wipe(TAG, 1);
  if (ok) crypt(key, nonce, ct, out, n);
  wipe(OTK, 8);
  return ok ? n : -1;
}
