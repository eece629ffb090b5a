// The TCP state record's frames (docs/PROTOCOL.md 8.11, 8.12), sealed under
// the session key's derived key SEAL_STATE from wire/sealed.ts, the codec of
// the Sealed extension that the other SID messages carry. ChaCha20-Poly1305
// (RFC 8439); the key is wiped after each use.

import { aeadSeal, aeadOpen } from "../crypto/aead";
import { sealKey, SEAL_STATE } from "../wire/sealed";
import { ERR_BAD_AUTHENTICATOR, ERR_BAD_LENGTH, ERR_RESERVED_NONZERO, ERR_TRUNCATED, ERR_BAD_VALUE } from "../generated/registry";

/** Largest plaintext of one state frame. */
export const STATE_FRAME_MAX: i32 = 16384;
export const STATE_FRAME_HEADER: i32 = 4;
const FRAME_LAST: u32 = 0x01;

const KEY = memory.data(32, 8);
const NONCE = memory.data(12, 4);
const AAD = memory.data(8, 4);

function frameNonceAad(index: u64, sessionSpi: u32, head: usize): void {
  store<u32>(NONCE, 0);
  store<u64>(NONCE + 4, bswap<u64>(index));
  store<u32>(AAD, bswap<u32>(sessionSpi));
  memory.copy(AAD + 4, head, 4);
}

/**
 * State frame `index` (0, 1, ...): Flags (1: 0x01 on the last frame) ||
 * Length (3, of ciphertext and tag) || ciphertext || tag, at out. n plaintext
 * bytes, 1..16384 (0 only for a last frame). Returns the frame's length or -BAD_VALUE.
 */
export function sealStateFrame(sessionKey: usize, sessionSpi: u32, index: u64, last: bool, pt: usize, n: i32, out: usize): i32 {
  if (n < 0 || n > STATE_FRAME_MAX || (n == 0 && !last)) return -ERR_BAD_VALUE;
  const clen = <u32>(n + 16);
  store<u32>(out, bswap<u32>(((last ? FRAME_LAST : 0) << 24) | clen));
  sealKey(sessionKey, SEAL_STATE, KEY);
  frameNonceAad(index, sessionSpi, out);
  const r = aeadSeal(KEY, NONCE, AAD, 8, pt, n, out + STATE_FRAME_HEADER);
  memory.fill(KEY, 0, 32);
  return r + STATE_FRAME_HEADER;
}

/** The last frame opened: 1 if it carried the Last flag. */
export let lastFrameWasLast: bool = false;
/** Bytes the last opened frame took from its input. */
export let lastFrameLength: i32 = 0;

/**
 * Opens the state frame `index` at the start of [p, p+n): its plaintext
 * length at out (lastFrameWasLast, lastFrameLength tell the rest), or the
 * negated first error: TRUNCATED (fewer than 4 bytes, or than the frame's
 * Length), RESERVED_NONZERO (a flag other than Last), BAD_LENGTH (Length
 * under 16 or over 16400, or 16 without Last), BAD_AUTHENTICATOR (the tag).
 */
export function openStateFrame(sessionKey: usize, sessionSpi: u32, index: u64, p: usize, n: i32, out: usize): i32 {
  if (n < STATE_FRAME_HEADER) return -ERR_TRUNCATED;
  const word = bswap<u32>(load<u32>(p));
  const flags = word >> 24;
  const clen = <i32>(word & 0xffffff);
  if (flags & ~FRAME_LAST) return -ERR_RESERVED_NONZERO;
  if (clen < 16 || clen > STATE_FRAME_MAX + 16 || (clen == 16 && (flags & FRAME_LAST) == 0)) return -ERR_BAD_LENGTH;
  if (n < STATE_FRAME_HEADER + clen) return -ERR_TRUNCATED;
  sealKey(sessionKey, SEAL_STATE, KEY);
  frameNonceAad(index, sessionSpi, p);
  const r = aeadOpen(KEY, NONCE, AAD, 8, p + STATE_FRAME_HEADER, clen, out);
  memory.fill(KEY, 0, 32);
  if (r < 0) return -ERR_BAD_AUTHENTICATOR;
  lastFrameWasLast = (flags & FRAME_LAST) != 0;
  lastFrameLength = STATE_FRAME_HEADER + clen;
  return r;
}
