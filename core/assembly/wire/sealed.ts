// The Sealed extension's body (docs/PROTOCOL.md 8.11), a part of the wire
// format that the codecs in decode.ts and encode.ts seal and open: the three
// keys derived from a session key (version 1), the binding key and its
// subkeys (version 2), and the message's nonce. ChaCha20-Poly1305 (RFC 8439);
// keys are wiped after each use. The TCP state record's frames, sealed under
// the same derivation, are SID's: sid/seal.ts.

import { wipe, copy32 } from "../crypto/wipe";
import { hkdf } from "../crypto/hkdf";
import { aeadSeal, aeadOpen } from "../crypto/aead";
import { hchacha20, hchacha20x2 } from "../crypto/chacha20";
import { ERR_BAD_AUTHENTICATOR, ERR_BAD_LENGTH, ERR_BAD_VALUE } from "../generated/registry";

/** Which derived key: target to agent, agent to target, the state record. */
export const SEAL_UP: i32 = 0;
export const SEAL_DOWN: i32 = 1;
export const SEAL_STATE: i32 = 2;
/** The binding's SA key (HMAC-SHA256 and key wrap of its other messages, 8.11), from the binding key. */
export const SEAL_SA: i32 = 3;

const INFO_UP = memory.data<u8>([0x68, 0x61, 0x6e, 0x64, 0x6f, 0x76, 0x65, 0x72, 0x20, 0x73, 0x65, 0x61, 0x6c, 0x20, 0x75, 0x70, 0x2f, 0x31]); // "handover seal up/1"
const INFO_DOWN = memory.data<u8>([0x68, 0x61, 0x6e, 0x64, 0x6f, 0x76, 0x65, 0x72, 0x20, 0x73, 0x65, 0x61, 0x6c, 0x20, 0x64, 0x6f, 0x77, 0x6e, 0x2f, 0x31]); // "handover seal down/1"
const INFO_STATE = memory.data<u8>([0x68, 0x61, 0x6e, 0x64, 0x6f, 0x76, 0x65, 0x72, 0x20, 0x73, 0x74, 0x61, 0x74, 0x65, 0x2f, 0x31]); // "handover state/1"
const KEY = memory.data(32, 8);
const NONCE = memory.data(12, 4);

/** Derives key `which` from the 32-byte session key into KEY; false for an unknown `which`. */
function derive(sessionKey: usize, which: i32): bool {
  if (which == SEAL_UP) return hkdf(0, 0, sessionKey, 32, INFO_UP, 18, KEY, 32);
  if (which == SEAL_DOWN) return hkdf(0, 0, sessionKey, 32, INFO_DOWN, 20, KEY, 32);
  if (which == SEAL_STATE) return hkdf(0, 0, sessionKey, 32, INFO_STATE, 16, KEY, 32);
  return false;
}

/** The derived key itself, for vectors and tests: 32 bytes at out; false for an unknown `which`. */
export function sealKey(sessionKey: usize, which: i32, out: usize): bool {
  if (!derive(sessionKey, which)) return false;
  memory.copy(out, KEY, 32);
  wipe(KEY, 2);
  return true;
}

function messageNonce(seq32: u32, header: usize): void {
  store<u32>(NONCE, bswap<u32>(seq32));
  memory.copy(NONCE + 4, header + 12, 8); // the header's Replay Protect ID
}

/**
 * The Sealed extension's body (ciphertext || tag) of n plaintext bytes (the
 * inner extensions) for the message whose 20-byte header is at `header` and
 * whose extended sequence number is seq32. Returns n + 16, or -BAD_VALUE.
 */
export function sealMessage(sessionKey: usize, which: i32, seq32: u32, header: usize, pt: usize, n: i32, out: usize): i32 {
  if ((which != SEAL_UP && which != SEAL_DOWN) || n < 0) return -ERR_BAD_VALUE;
  derive(sessionKey, which);
  messageNonce(seq32, header);
  const r = aeadSeal(KEY, NONCE, header, 20, pt, n, out);
  wipe(KEY, 2);
  return r;
}

/** Opens a Sealed body of n bytes: the plaintext length, or -BAD_LENGTH (under 16), -BAD_AUTHENTICATOR. */
export function openMessage(sessionKey: usize, which: i32, seq32: u32, header: usize, ct: usize, n: i32, out: usize): i32 {
  if (which != SEAL_UP && which != SEAL_DOWN) return -ERR_BAD_VALUE;
  if (n < 16) return -ERR_BAD_LENGTH;
  derive(sessionKey, which);
  messageNonce(seq32, header);
  const r = aeadOpen(KEY, NONCE, header, 20, ct, n, out);
  wipe(KEY, 2);
  return r < 0 ? -ERR_BAD_AUTHENTICATOR : r;
}


// ---- Binding keys (8.11, version 2) --------------------------------------------------
//
// Binding Update and Ack are authenticated by their Sealed tag alone, under
// subkeys of one binding key K_b derived ONCE from the session key when the
// binding (agent) or the hosting (target) starts: the agent keeps K_b in the
// binding's record in place of the session key. Per message: one HChaCha20
// (the direction's subkey) and the AEAD; no SHA-256 at all.

const INFO_BINDING = memory.data<u8>([0x68, 0x61, 0x6e, 0x64, 0x6f, 0x76, 0x65, 0x72, 0x20, 0x62, 0x69, 0x6e, 0x64, 0x69, 0x6e, 0x67, 0x2f, 0x32]); // "handover binding/2"
// HChaCha20 inputs, 16 bytes each: "handover seal up", "handover seal dn", "handover sa key2"
const SUB_UP = memory.data<u8>([0x68, 0x61, 0x6e, 0x64, 0x6f, 0x76, 0x65, 0x72, 0x20, 0x73, 0x65, 0x61, 0x6c, 0x20, 0x75, 0x70]);
const SUB_DOWN = memory.data<u8>([0x68, 0x61, 0x6e, 0x64, 0x6f, 0x76, 0x65, 0x72, 0x20, 0x73, 0x65, 0x61, 0x6c, 0x20, 0x64, 0x6e]);
const SUB_SA = memory.data<u8>([0x68, 0x61, 0x6e, 0x64, 0x6f, 0x76, 0x65, 0x72, 0x20, 0x73, 0x61, 0x20, 0x6b, 0x65, 0x79, 0x32]);

/** K_b = HKDF-SHA256(IKM = session key, salt empty, info "handover binding/2", L = 32) at out. */
export function bindingKey(sessionKey: usize, out: usize): void {
  hkdf(0, 0, sessionKey, 32, INFO_BINDING, 18, out, 32);
}

/** Subkey `which` (SEAL_UP, SEAL_DOWN, SEAL_SA) of a binding key: HChaCha20(K_b, its 16-byte constant); false for another `which`. */
export function bindingSubkey(kb: usize, which: i32, out: usize): bool {
  if (which == SEAL_UP) hchacha20(kb, SUB_UP, out);
  else if (which == SEAL_DOWN) hchacha20(kb, SUB_DOWN, out);
  else if (which == SEAL_SA) hchacha20(kb, SUB_SA, out);
  else return false;
  return true;
}

/**
 * Version 2 of the Sealed body (ciphertext || tag) under subkey `which` of the
 * binding key kb: nonce as in version 1 (seq32 || the header's Replay Protect
 * ID), AAD = the aadLen bytes at aad (every byte of the message that is not
 * ciphertext or tag: see 8.11). Returns n + 16, or -BAD_VALUE.
 */
export function sealBinding(kb: usize, which: i32, seq32: u32, header: usize, aad: usize, aadLen: i32, pt: usize, n: i32, out: usize): i32 {
  if ((which != SEAL_UP && which != SEAL_DOWN) || n < 0 || aadLen < 0) return -ERR_BAD_VALUE;
  // The reply's subkey made beside the request's by openBinding, if it is of this key and direction.
  if (which == SEAL_DOWN && takeNextDown(kb)) copy32(KEY, NEXT_DOWN);
  else bindingSubkey(kb, which, KEY);
  forgetNextDown();
  messageNonce(seq32, header);
  const r = aeadSeal(KEY, NONCE, aad, aadLen, pt, n, out);
  wipe(KEY, 2);
  return r;
}

/** Opens a version-2 Sealed body of n bytes: the plaintext length, or -BAD_LENGTH (under 16), -BAD_AUTHENTICATOR. */
export function openBinding(kb: usize, which: i32, seq32: u32, header: usize, aad: usize, aadLen: i32, ct: usize, n: i32, out: usize): i32 {
  if ((which != SEAL_UP && which != SEAL_DOWN) || aadLen < 0) return -ERR_BAD_VALUE;
  if (n < 16) return -ERR_BAD_LENGTH;
  if (which == SEAL_UP) {
    // A Binding Update (UP) is answered by a Binding Ack sealed under DOWN: both subkeys in one pass.
    hchacha20x2(kb, SUB_UP, KEY, SUB_DOWN, NEXT_DOWN);
    copy32(NEXT_KB, kb);
    nextDown = true;
  } else {
    forgetNextDown();
    bindingSubkey(kb, which, KEY);
  }
  messageNonce(seq32, header);
  const r = aeadOpen(KEY, NONCE, aad, aadLen, ct, n, out);
  wipe(KEY, 2);
  // Nothing that did not open is answered: its reply's subkey goes at once.
  if (r < 0) forgetNextDown();
  return r < 0 ? -ERR_BAD_AUTHENTICATOR : r;
}

// The DOWN subkey openBinding made beside the UP one (hchacha20x2: the pair
// costs little more than one HChaCha20), for the reply's sealBinding, and the
// binding key it is of (a copy: the caller's buffer may be reused). Held from
// the open to the next sealBinding or openBinding (which consume or replace
// it), or wiped at once when the open fails; the binding key it derives from
// is kept in the binding's record and SA anyway.
const NEXT_DOWN = memory.data(32, 16);
const NEXT_KB = memory.data(32, 16);
let nextDown = false;

/** True if NEXT_DOWN is the DOWN subkey of the 32-byte key at kb (compared in constant time). */
function takeNextDown(kb: usize): bool {
  if (!nextDown) return false;
  const diff = v128.or(v128.xor(v128.load(kb), v128.load(NEXT_KB)), v128.xor(v128.load(kb, 16), v128.load(NEXT_KB, 16)));
  return !v128.any_true(diff);
}

function forgetNextDown(): void {
  if (!nextDown) return;
  wipe(NEXT_DOWN, 2);
  wipe(NEXT_KB, 2);
  nextDown = false;
}
