// Flat exports for the codec, the cookie, addresses, error texts and replay
// protection (docs/ABI.md). Every pointer argument is checked against linear
// memory; a bad one returns -ERR_INVALID_ARGUMENT, never a trap.
// Convention: a negative return is a negated error code (see core/registry.json).

import { inMemory } from "../util/bytes";
import { TextOut, formatAddress, parseAddress } from "../util/text";
import { Decoded, decode, familyLength } from "../wire/decode";
import { Encoder } from "../wire/encode";
import { describe } from "../wire/describe";
import { verifyAuth } from "../wire/auth";
import { HmacKey, digestLen } from "../crypto/hmac";
import { cookieFromName } from "../cookie";
import { ReplayWindow, validWindowBits, DEFAULT_WINDOW_BITS } from "../replay/window";
import { checkTimestamp, ntpFromMs } from "../replay/timestamp";
import { put32 } from "../util/bytes";
import {
  ERR_INVALID_ARGUMENT, ERR_BUFFER_TOO_SMALL, ERR_BAD_ADDRESS, ERR_MISSING_AUTH,
  errorName, errorMessage, errorHint,
} from "../generated/registry";

const BAD = -ERR_INVALID_ARGUMENT;
const text = new TextOut();

// ---- decoding ---------------------------------------------------------------

const decoded = new Decoded();
let decodedOk = false;

/** Decodes and validates the message at [ptr, ptr+len). 0, or the negated first error. */
export function msg_decode(ptr: usize, len: i32): i32 {
  decodedOk = false;
  if (!inMemory(ptr, len)) return BAD;
  const err = decode(ptr, len, decoded);
  if (err) return -err;
  decodedOk = true;
  return 0;
}

/** Byte offset at which the last msg_decode failed. */
export function msg_error_offset(): i32 {
  return decoded.errorOffset;
}

/** Writes the JSON form of the last decoded message at out; its length, or a negated error. */
export function msg_describe(out: usize, cap: i32): i32 {
  if (!decodedOk || !inMemory(out, cap)) return BAD;
  text.reset(out, cap);
  describe(text, decoded);
  return text.overflow ? -ERR_BUFFER_TOO_SMALL : text.pos;
}

/** Verifies the last decoded message's authenticator with an algorithm (1-3) and key. 0 or a negated error. */
export function msg_verify(alg: i32, key: usize, keyLen: i32): i32 {
  if (!decodedOk || digestLen(alg) <= 0 || !inMemory(key, keyLen)) return BAD;
  if (decoded.authOffset < 0) return -ERR_MISSING_AUTH;
  const err = verifyAuth(decoded, new HmacKey(alg, key, keyLen));
  return err ? -err : 0;
}

// ---- encoding ---------------------------------------------------------------

const encoder = new Encoder();

/** Starts a message at [out, out+cap); the 6-byte cookie is read from cookie. */
export function enc_begin(out: usize, cap: i32, type: u32, flagsCode: u32, sequence: u32, cookie: usize, replayHi: u32, replayLo: u32): i32 {
  if (!inMemory(out, cap) || !inMemory(cookie, 6)) return BAD;
  encoder.begin(out, cap, type & 0xff, flagsCode & 0xff, sequence & 0xffff, cookie, replayHi, replayLo);
  return encoder.err ? -encoder.err : 0;
}

/** A migration extension; addrs holds the old then the new address (4 or 16 bytes each). */
export function enc_migration(protoFlags: u32, family: u32, oldPort: u32, newPort: u32, addrs: usize): i32 {
  const alen = familyLength(family);
  if (!inMemory(addrs, 2 * (alen ? alen : 16))) return BAD;
  encoder.migration(protoFlags & 0xff, family, oldPort & 0xffff, newPort & 0xffff, addrs, addrs + alen);
  return -encoder.err;
}

/** A flow extension; addrs holds the local then the remote address. */
export function enc_flow(proto: u32, family: u32, localPort: u32, remotePort: u32, addrs: usize): i32 {
  const alen = familyLength(family);
  if (!inMemory(addrs, 2 * (alen ? alen : 16))) return BAD;
  encoder.flow(proto & 0xff, family, localPort & 0xffff, remotePort & 0xffff, addrs, addrs + alen);
  return -encoder.err;
}

/** An address extension (types 37-40). */
export function enc_address(type: u32, family: u32, addr: usize): i32 {
  if (!inMemory(addr, 16)) return BAD;
  encoder.address(type & 0xff, family, addr);
  return -encoder.err;
}

export function enc_lifetime(seconds: u32): i32 {
  encoder.lifetime(seconds & 0xffff);
  return -encoder.err;
}

/** PATH_CHALLENGE (34) or PATH_RESPONSE (35) with 8 bytes from token. */
export function enc_token(type: u32, token: usize): i32 {
  if (!inMemory(token, 8)) return BAD;
  encoder.token(type & 0xff, token);
  return -encoder.err;
}

export function enc_link(hwType: u32, addr: usize, len: i32): i32 {
  if (!inMemory(addr, len)) return BAD;
  encoder.linkLayer(hwType & 0xffff, addr, len);
  return -encoder.err;
}

/** A session-key extension; body holds [ephemeral public key,] nonce, sealed key, tag. */
export function enc_session_key(wrapAlg: u32, wrapSpi: u32, sessionSpi: u32, body: usize): i32 {
  if (!inMemory(body, 92)) return BAD;
  encoder.sessionKey(wrapAlg, wrapSpi, sessionSpi, body);
  return -encoder.err;
}

/** An Address Lease extension (section 8.18): generator kind, remaining lifetime in s, len (0-200) state bytes. */
export function enc_address_lease(kind: u32, remaining: u32, state: usize, len: i32): i32 {
  if (len < 0 || !inMemory(state, len)) return BAD;
  encoder.addressLease(kind & 0xff, remaining, state, len);
  return -encoder.err;
}

export function enc_opaque(subtype: u32, flags: u32, data: usize, len: i32): i32 {
  if (!inMemory(data, len)) return BAD;
  encoder.opaque(subtype & 0xff, flags & 0xff, data, len);
  return -encoder.err;
}

/** Any extension with its data copied as given. */
export function enc_raw(type: u32, data: usize, len: i32): i32 {
  if (!inMemory(data, len)) return BAD;
  encoder.raw(type & 0xff, data, len);
  return -encoder.err;
}

/** Ends the message without authentication: its length, or a negated error. */
export function enc_finish(): i32 {
  return encoder.finish();
}

/** Appends the authentication extension (algorithm 1-3, key) and returns the length or a negated error. */
export function enc_finish_auth(spi: u32, alg: i32, key: usize, keyLen: i32): i32 {
  if (digestLen(alg) <= 0 || !inMemory(key, keyLen)) return BAD;
  return encoder.finishAuth(spi, new HmacKey(alg, key, keyLen));
}

// ---- cookie, addresses, error texts ----------------------------------------

/** Writes the 6-byte identifier cookie of a UTF-8 name (1-255 bytes) at out. */
export function cookie_from_name(name: usize, len: i32, out: usize): i32 {
  if (!inMemory(name, len) || !inMemory(out, 6)) return BAD;
  return cookieFromName(name, len, out) ? 0 : BAD;
}

/** Parses address text into 16 bytes at out: the family (1 IPv4, 2 IPv6) or -ERR_BAD_ADDRESS. */
export function addr_parse(ptr: usize, len: i32, out: usize): i32 {
  if (!inMemory(ptr, len) || !inMemory(out, 16)) return BAD;
  const family = parseAddress(ptr, len, out);
  return family ? family : -ERR_BAD_ADDRESS;
}

/** Writes an address (family 1 or 2) as text at out; the text's length. */
export function addr_format(family: i32, addr: usize, out: usize, cap: i32): i32 {
  if (familyLength(family) == 0 || !inMemory(addr, 16) || !inMemory(out, cap)) return BAD;
  text.reset(out, cap);
  formatAddress(text, family, addr);
  return text.overflow ? -ERR_BUFFER_TOO_SMALL : text.pos;
}

/** Writes the name (which=0), message (1) or hint (2) of an error code at out; its length. */
export function error_text(code: i32, which: i32, out: usize, cap: i32): i32 {
  if (!inMemory(out, cap) || which < 0 || which > 2) return BAD;
  text.reset(out, cap);
  text.ascii(which == 0 ? errorName(code) : which == 1 ? errorMessage(code) : errorHint(code));
  return text.overflow ? -ERR_BUFFER_TOO_SMALL : text.pos;
}

// ---- replay protection (one window, for tests and vectors) ------------------

let window = new ReplayWindow(DEFAULT_WINDOW_BITS);

/** Replaces the test window with an empty one of `bits` bits (a multiple of 64, 64-4096). */
export function replay_window_reset(bits: i32): i32 {
  if (!validWindowBits(bits)) return BAD;
  window = new ReplayWindow(bits);
  return 0;
}

/** 0 if the 16-bit sequence number would be accepted, else the negated error. Changes nothing. */
export function replay_window_check(seq: u32): i32 {
  return -window.check(seq & 0xffff);
}

/** Marks a sequence number as accepted. */
export function replay_window_update(seq: u32): void {
  window.update(seq & 0xffff);
}

/** 0 if the NTP timestamp hi:lo is within skewMs of now (Unix ms), else the negated error. */
export function replay_check_timestamp(hi: u32, lo: u32, now: f64, skewMs: f64): i32 {
  return -checkTimestamp((<u64>hi << 32) | <u64>lo, now, skewMs);
}

/** Writes the 8-byte NTP timestamp of Unix milliseconds ms at out. */
export function ntp_from_ms(ms: f64, out: usize): i32 {
  if (!inMemory(out, 8)) return BAD;
  const t = ntpFromMs(ms);
  put32(out, <u32>(t >> 32));
  put32(out + 4, <u32>t);
  return 0;
}
