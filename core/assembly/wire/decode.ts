// Decoding of control messages (docs/PROTOCOL.md sections 3-5).
//
// `decode` validates a whole message once, in the order the specification
// gives (section 5.1), and records where each extension lies. After it returns
// 0, every accessor below is safe: no later read can pass the end of the
// message. On failure it returns the first error code and the byte offset of
// the offending field; the Decoded record is then meaningless.
//
// Authentication is a separate step (wire/auth.ts): decoding is cheap and
// bounded, and nothing a decoded message says is acted on before it verifies.

import { get8, get16, get32, copyBytes } from "../util/bytes";
import { openMessage, openBinding } from "./sealed";
import { ctEqual } from "../crypto/ct";
import { familyLength } from "./family";
import {
  EXT_LENGTH, ENDPOINTS_PROTOCOLS, ENDPOINTS_FAMILY, ENDPOINTS_PORT_A,
  endpointsProtocols, endpointsFamily, endpointsPortA, endpointsPortB,
} from "./fields";
import {
  PROTOCOL_VERSION, HEADER_LENGTH, MAX_MESSAGE_LENGTH, FIRST_ASSIGNABLE_SPI,
  messageKnown, messageIsReply, allowedFlags, extensionRule, extensionKnown, requiredMask,
  RULE_NONE, RULE_ONE, RULE_OPTIONAL,
  EXT_AUTH, EXT_MIGRATION, EXT_PATH_CHALLENGE, EXT_PATH_RESPONSE, EXT_LIFETIME,
  EXT_TRANSFERRED_ADDRESS, EXT_TARGET_ADDRESS, EXT_AGENT_ADDRESS, EXT_INTERIM_ADDRESS,
  EXT_LINK_LAYER_ADDRESS, EXT_SESSION_KEY, EXT_FLOW, EXT_OPAQUE_DATA, EXT_SEALED, EXT_ADDRESS_LEASE,
  WRAP_CHACHA20_POLY1305, WRAP_X25519_CHACHA20_POLY1305,
  PROTO_TCP, PROTO_UDP, IPPROTO_TCP, IPPROTO_UDP,
  ERR_TRUNCATED, ERR_BAD_LENGTH, ERR_BAD_VERSION, ERR_UNKNOWN_TYPE,
  ERR_UNKNOWN_MANDATORY_EXTENSION, ERR_DUPLICATE_EXTENSION, ERR_MISSING_EXTENSION,
  ERR_UNEXPECTED_EXTENSION, ERR_AUTH_NOT_LAST, ERR_MISSING_AUTH, ERR_BAD_FAMILY,
  ERR_RESERVED_NONZERO, ERR_MESSAGE_TOO_LONG, ERR_BAD_CODE, ERR_BAD_FLAGS,
  ERR_BAD_PORT, ERR_BAD_PROTO_FLAGS, ERR_BAD_SPI, ERR_BAD_VALUE, ERR_BAD_AUTHENTICATOR,
} from "../generated/registry";

/** The most extensions a message can hold: (1232 - 20) / 2 empty ones. */
export const MAX_EXTENSIONS: i32 = (MAX_MESSAGE_LENGTH - HEADER_LENGTH) / 2;

/** Header field offsets (docs/PROTOCOL.md section 3). */
export const OFF_VERSION: i32 = 0;
export const OFF_TYPE: i32 = 1;
export const OFF_SEQUENCE: i32 = 2;
export const OFF_COOKIE: i32 = 4;
export const OFF_FLAGS_CODE: i32 = 10;
export const OFF_RESERVED: i32 = 11;
export const OFF_REPLAY_ID: i32 = 12;

export { familyLength } from "./family";

/** Session-key extension sizes (docs/PROTOCOL.md section 4.10). */
export const SESSION_KEY_LENGTH: i32 = 32;
export const SESSION_KEY_EXT_SHARED: i32 = 70;
export const SESSION_KEY_EXT_X25519: i32 = 102;

/** A validated message: where it is and where its extensions are. */
export class Decoded {
  ptr: usize = 0;
  len: i32 = 0;
  type: u8 = 0;
  flagsCode: u8 = 0;
  sequence: u16 = 0;
  /** Offsets (from ptr) of every extension's Type byte, in order. */
  extOffsets: StaticArray<u16> = new StaticArray<u16>(MAX_EXTENSIONS);
  extTotal: i32 = 0;
  /** Per extension type: how many, and the offset of the first. */
  counts: StaticArray<u16> = new StaticArray<u16>(256);
  firsts: StaticArray<u16> = new StaticArray<u16>(256);
  /** The known extension types present (to clear their counts next time). */
  touched: StaticArray<u8> = new StaticArray<u8>(256);
  touchedTotal: i32 = 0;
  /** Offset of the authentication extension, or -1. */
  authOffset: i32 = -1;
  /** Where decoding failed (byte offset), when it failed. */
  errorOffset: i32 = 0;

  cookiePtr(): usize { return this.ptr + OFF_COOKIE; }
  replayPtr(): usize { return this.ptr + OFF_REPLAY_ID; }
  replayHi(): u32 { return get32(this.ptr + OFF_REPLAY_ID); }
  replayLo(): u32 { return get32(this.ptr + OFF_REPLAY_ID + 4); }
  has(ext: u8): bool { return unchecked(this.counts[ext]) > 0; }
  count(ext: u8): i32 { return unchecked(this.counts[ext]); }
  /** Address of the first extension of a type (its Type byte). Check has() first. */
  first(ext: u8): usize { return this.ptr + <usize>unchecked(this.firsts[ext]); }
  /** Address of the i-th extension in the message (its Type byte). */
  at(i: i32): usize { return this.ptr + <usize>unchecked(this.extOffsets[i]); }
}

/**
 * Validates the data of one known extension (p: its Type byte, n: its
 * Length): 0, or the error, with where it is in checkFailed. (No Decoded
 * here: a function that holds a managed reference across calls zeroes a
 * shadow-stack frame at each call, a memory.fill of one slot per inlined
 * fail() here, and this one runs for every extension of every message.)
 */
function checkExtension(ext: u32, p: usize, n: i32): i32 {
  const data = p + 2;
  switch (ext) {
    case EXT_AUTH: {
      const tag = n - 4;
      if (tag != 16 && tag != 20 && tag != 32) return failAt(p + 1, ERR_BAD_LENGTH);
      if (get32(data) < FIRST_ASSIGNABLE_SPI) return failAt(data, ERR_BAD_SPI);
      return 0;
    }
    case EXT_MIGRATION:
    case EXT_FLOW: {
      if (n != 14 && n != 38) return failAt(p + EXT_LENGTH, ERR_BAD_LENGTH);
      const first = endpointsProtocols(p);
      if (ext == EXT_MIGRATION) {
        if (first & ~(PROTO_TCP | PROTO_UDP)) return failAt(p + ENDPOINTS_PROTOCOLS, ERR_BAD_PROTO_FLAGS);
      } else if (first != IPPROTO_TCP && first != IPPROTO_UDP) {
        return failAt(p + ENDPOINTS_PROTOCOLS, ERR_BAD_VALUE);
      }
      const alen = familyLength(endpointsFamily(p));
      if (alen == 0) return failAt(p + ENDPOINTS_FAMILY, ERR_BAD_FAMILY);
      if (n != 6 + 2 * alen) return failAt(p + EXT_LENGTH, ERR_BAD_LENGTH);
      const a = endpointsPortA(p);
      const b = endpointsPortB(p);
      if (ext == EXT_MIGRATION) {
        if ((a == 0) != (b == 0)) return failAt(p + ENDPOINTS_PORT_A, ERR_BAD_PORT);
      } else if (a == 0 || b == 0) {
        return failAt(p + ENDPOINTS_PORT_A, ERR_BAD_PORT);
      }
      return 0;
    }
    case EXT_PATH_CHALLENGE:
    case EXT_PATH_RESPONSE:
      return n == 8 ? 0 : failAt(p + 1, ERR_BAD_LENGTH);
    case EXT_LIFETIME:
      return n == 2 ? 0 : failAt(p + 1, ERR_BAD_LENGTH);
    case EXT_TRANSFERRED_ADDRESS:
    case EXT_TARGET_ADDRESS:
    case EXT_AGENT_ADDRESS:
    case EXT_INTERIM_ADDRESS: {
      if (n != 5 && n != 17) return failAt(p + 1, ERR_BAD_LENGTH);
      const alen = familyLength(get8(data));
      if (alen == 0) return failAt(data, ERR_BAD_FAMILY);
      return n == 1 + alen ? 0 : failAt(p + 1, ERR_BAD_LENGTH);
    }
    case EXT_LINK_LAYER_ADDRESS: {
      if (n < 3) return failAt(p + 1, ERR_BAD_LENGTH);
      // ARP hardware type 1 (Ethernet) has 6-byte addresses.
      if (get16(data) == 1 && n != 8) return failAt(p + 1, ERR_BAD_LENGTH);
      return 0;
    }
    case EXT_SESSION_KEY: {
      if (n != SESSION_KEY_EXT_SHARED && n != SESSION_KEY_EXT_X25519) return failAt(p + 1, ERR_BAD_LENGTH);
      const alg = get8(data);
      if (alg != WRAP_CHACHA20_POLY1305 && alg != WRAP_X25519_CHACHA20_POLY1305) return failAt(data, ERR_BAD_VALUE);
      const want = alg == WRAP_CHACHA20_POLY1305 ? SESSION_KEY_EXT_SHARED : SESSION_KEY_EXT_X25519;
      if (n != want) return failAt(p + 1, ERR_BAD_LENGTH);
      if (get8(data + 1) != 0) return failAt(data + 1, ERR_RESERVED_NONZERO);
      if (get32(data + 2) < FIRST_ASSIGNABLE_SPI) return failAt(data + 2, ERR_BAD_SPI);
      if (get32(data + 6) < FIRST_ASSIGNABLE_SPI) return failAt(data + 6, ERR_BAD_SPI);
      return 0;
    }
    case EXT_OPAQUE_DATA:
      return n >= 2 ? 0 : failAt(p + 1, ERR_BAD_LENGTH);
    case EXT_ADDRESS_LEASE: {
      // Section 8.18: generator (1 static, 2 IPv6, 3 DHCPv4), reserved 0, remaining lifetime, state (0-200 bytes).
      if (n < 6 || n > 206) return failAt(p + 1, ERR_BAD_LENGTH);
      const g = get8(data);
      if (g < 1 || g > 3) return failAt(data, ERR_BAD_VALUE);
      return get8(data + 1) == 0 ? 0 : failAt(data + 1, ERR_RESERVED_NONZERO);
    }
    case EXT_SEALED:
      if (n < 18) return failAt(p + 1, ERR_BAD_LENGTH);
      return get16(data) == 0 ? 0 : failAt(data, ERR_RESERVED_NONZERO);
  }
  return 0;
}

/**
 * Whether a known extension may stand in clear beside a Sealed extension
 * (section 8.11): only the Transferred Address (the agent finds the binding,
 * and so the key, by it), the Sealed extension itself and Authentication.
 */
function clearBesideSealed(ext: u32): bool {
  return ext == EXT_TRANSFERRED_ADDRESS || ext == EXT_SEALED || ext == EXT_AUTH;
}

/** Where checkExtension found its error. */
let checkFailed: usize = 0;

// @ts-ignore: decorator
@inline function failAt(at: usize, code: i32): i32 {
  checkFailed = at;
  return code;
}

// @ts-ignore: decorator
@inline function fail(d: Decoded, at: usize, code: i32): i32 {
  d.errorOffset = <i32>(at - d.ptr);
  return code;
}

/**
 * Decodes and validates the message at [ptr, ptr + len) into d.
 * Returns 0, or the first error in the order of docs/PROTOCOL.md section 5.1.
 */
export function decode(ptr: usize, len: i32, d: Decoded, opened: bool = false): i32 {
  d.ptr = ptr;
  d.len = len;
  d.errorOffset = 0;
  d.extTotal = 0;
  d.authOffset = -1;
  // 1. Length.
  if (len < HEADER_LENGTH) return fail(d, ptr + len, ERR_TRUNCATED);
  if (len > MAX_MESSAGE_LENGTH) return fail(d, ptr + MAX_MESSAGE_LENGTH, ERR_MESSAGE_TOO_LONG);
  // 2. Header.
  if (get8(ptr + OFF_VERSION) != PROTOCOL_VERSION) return fail(d, ptr + OFF_VERSION, ERR_BAD_VERSION);
  const type = <u8>get8(ptr + OFF_TYPE);
  if (!messageKnown(type)) return fail(d, ptr + OFF_TYPE, ERR_UNKNOWN_TYPE);
  const fc = <u8>get8(ptr + OFF_FLAGS_CODE);
  if (messageIsReply(type)) {
    if (fc == 0) return fail(d, ptr + OFF_FLAGS_CODE, ERR_BAD_CODE);
  } else if (fc & ~allowedFlags(type)) {
    return fail(d, ptr + OFF_FLAGS_CODE, ERR_BAD_FLAGS);
  }
  if (get8(ptr + OFF_RESERVED) != 0) return fail(d, ptr + OFF_RESERVED, ERR_RESERVED_NONZERO);
  d.type = type;
  d.flagsCode = fc;
  d.sequence = <u16>get16(ptr + OFF_SEQUENCE);

  // 3. Extensions, in order. Clear only the counts the previous message set.
  const counts = d.counts;
  for (let i = 0; i < d.touchedTotal; i++) unchecked(counts[unchecked(d.touched[i])] = 0);
  d.touchedTotal = 0;
  return decodeFrom(d, HEADER_LENGTH, opened);
}

/**
 * Steps 3 and 4 of decode from offset `off` of d's message: the extensions
 * before it were validated into d (their counts, firsts and offsets stand).
 */
function decodeFrom(d: Decoded, off: i32, opened: bool): i32 {
  const ptr = d.ptr;
  const len = d.len;
  const type = d.type;
  // The record's arrays as raw memory (u16 counts, firsts and offsets, u8 touched) and its
  // counters in locals, written back before any return: in the loop nothing of d is read, so
  // the managed reference is not stored to the shadow stack at each access.
  const counts = changetype<usize>(d.counts);
  const firsts = changetype<usize>(d.firsts);
  const touched = changetype<usize>(d.touched);
  const offsets = changetype<usize>(d.extOffsets);
  let touchedTotal = d.touchedTotal;
  let extTotal = d.extTotal;
  let authOffset = d.authOffset;
  let err: i32 = 0;
  let errAt: usize = 0;
  while (off < len) {
    const p = ptr + off;
    if (off + 2 > len) { err = ERR_TRUNCATED; errAt = p; break; }
    const ext = get8(p);
    const n = <i32>get8(p + 1);
    if (off + 2 + n > len) { err = ERR_TRUNCATED; errAt = p + 1; break; }
    if (authOffset >= 0) { err = ERR_AUTH_NOT_LAST; errAt = p; break; }
    if (extensionKnown(<u8>ext)) {
      const rule = extensionRule(type, <u8>ext);
      if (rule == RULE_NONE || (opened && ext == EXT_SEALED)) { err = ERR_UNEXPECTED_EXTENSION; errAt = p; break; }
      const seen = <u32>load<u16>(counts + (<usize>ext << 1));
      if (seen > 0 && (rule == RULE_ONE || rule == RULE_OPTIONAL)) { err = ERR_DUPLICATE_EXTENSION; errAt = p; break; }
      const bad = checkExtension(ext, p, n);
      if (bad) { err = bad; errAt = checkFailed; break; }
      if (seen == 0) {
        store<u16>(firsts + (<usize>ext << 1), <u16>off);
        store<u8>(touched + <usize>touchedTotal, <u8>ext);
        touchedTotal++;
      }
      store<u16>(counts + (<usize>ext << 1), <u16>(seen + 1));
      if (ext == EXT_AUTH) authOffset = off;
    } else if (ext < 128) {
      err = ERR_UNKNOWN_MANDATORY_EXTENSION;
      errAt = p;
      break;
    }
    store<u16>(offsets + (<usize>extTotal << 1), <u16>off);
    extTotal++;
    off += 2 + n;
  }
  d.touchedTotal = touchedTotal;
  d.extTotal = extTotal;
  d.authOffset = authOffset;
  if (err) return fail(d, errAt, err);

  // 4. Required extensions: authentication first, then the others.
  if (authOffset < 0) return fail(d, ptr + len, ERR_MISSING_AUTH);
  let required = requiredMask(type);
  // A message with a Sealed extension (8.11) shows only the Transferred Address in clear, and
  // only that (and Authentication) is required before it is opened.
  if (!opened && load<u16>(counts + (<usize>EXT_SEALED << 1)) > 0) {
    for (let i = 0; i < extTotal; i++) {
      const p = ptr + <usize>load<u16>(offsets + (<usize>i << 1));
      const ext = get8(p);
      if (extensionKnown(<u8>ext) && !clearBesideSealed(ext)) return fail(d, p, ERR_UNEXPECTED_EXTENSION);
    }
    required &= (<u64>1 << (EXT_TRANSFERRED_ADDRESS - 32)) | (<u64>1 << (EXT_AUTH - 32));
  }
  while (required) {
    const ext = 32 + <u32>ctz(required);
    if (load<u16>(counts + (<usize>ext << 1)) == 0) return fail(d, ptr + len, ERR_MISSING_EXTENSION);
    required &= required - 1;
  }
  return 0;
}

/** Where an opened message is rebuilt (openSealed): header, extensions in clear, opened ones, Authentication. */
const OPENED = memory.data(MAX_MESSAGE_LENGTH);
const INNER = memory.data(256);

/**
 * Opens the Sealed extension of an authenticated message (section 8.11) with
 * the key `which` derived from the 32-byte session key and the message's
 * extended sequence number, and decodes the result as if the opened
 * extensions stood in the message where the Sealed one was: d then describes
 * the rebuilt message. Returns 0, BAD_AUTHENTICATOR when the tag fails, or
 * the first error of section 5.1 in the opened extensions. A message of a
 * type without a Sealed extension is left as it is.
 */
export function openSealed(d: Decoded, sessionKey: usize, which: i32, seq32: u32): i32 {
  if (!d.has(EXT_SEALED)) return 0;
  const s = d.first(EXT_SEALED);
  const n = <i32>get8(s + 1) - 2;
  const m = openMessage(sessionKey, which, seq32, d.ptr, s + 4, n, INNER);
  if (m < 0) return m == -ERR_BAD_LENGTH ? ERR_BAD_LENGTH : ERR_BAD_AUTHENTICATOR;
  return rebuildOpened(d, s, m);
}

/**
 * Version 2 (8.11): verifies and opens a Binding Update or Ack under a
 * session SA with subkey `which` of the binding key kb, before anything else
 * of it counts. The Sealed extension must stand right before Authentication,
 * whose authenticator must be 16 bytes equal to the Sealed tag; the AEAD's
 * AAD is every byte before the ciphertext, then Authentication's Type,
 * Length and SPI. 0, or BAD_AUTHENTICATOR (anything that does not verify),
 * or the first error of section 5.1 in the opened extensions.
 */
export function openSealedBinding(d: Decoded, kb: usize, which: i32, seq32: u32): i32 {
  if (!d.has(EXT_SEALED)) return ERR_BAD_AUTHENTICATOR;
  const s = d.first(EXT_SEALED);
  const n = <i32>get8(s + 1) - 2;
  const a = d.ptr + <usize>d.authOffset;
  const tagAt = s + 4 + <usize>n - 16;
  if (n < 16 || s + 4 + <usize>n != a || <i32>get8(a + 1) != 20 || !ctEqual(a + 6, tagAt, 16)) return ERR_BAD_AUTHENTICATOR;
  const head = <i32>(s + 4 - d.ptr);
  if (head > 250) return ERR_BAD_AUTHENTICATOR;
  // Decoded once (the message is not rebuilt and decoded again): the AAD is
  // laid out in OPENED, whose first bytes (header and the extensions before
  // the Sealed one) are the opened message's; the plaintext is written after
  // them (only when the tag verifies, after the AAD was read), Authentication
  // after it, and decoding resumes where the Sealed extension stood, as a
  // decode of the whole opened message would (docs/PROTOCOL.md 8.11).
  const at = s - d.ptr;
  copyBytes(OPENED, d.ptr, <usize>head);
  memory.copy(OPENED + <usize>head, a, 6);
  const m = openBinding(kb, which, seq32, d.ptr, OPENED, head + 6, s + 4, n, OPENED + at);
  if (m < 0) return ERR_BAD_AUTHENTICATOR;
  const authLen = <usize>(2 + 20);
  copyBytes(OPENED + at + <usize>m, a, authLen);
  // Forget the Sealed and Authentication extensions (the last two): the opened ones and Authentication follow.
  unchecked(d.counts[EXT_SEALED] = 0);
  unchecked(d.counts[EXT_AUTH] = 0);
  d.authOffset = -1;
  d.extTotal -= 2;
  d.ptr = OPENED;
  d.len = <i32>(at + <usize>m + authLen);
  d.errorOffset = 0;
  return decodeFrom(d, <i32>at, true);
}

/** Rebuilds the message with the m opened bytes in INNER in place of the Sealed extension at s, and decodes it into d. */
function rebuildOpened(d: Decoded, s: usize, m: i32): i32 {
  memory.copy(OPENED, d.ptr, HEADER_LENGTH);
  let off: usize = <usize>HEADER_LENGTH;
  const total = d.extTotal;
  const src = d.ptr;
  for (let i = 0; i < total; i++) {
    const p = src + <usize>unchecked(d.extOffsets[i]);
    const len = <usize>(2 + <i32>get8(p + 1));
    if (p == s) {
      memory.copy(OPENED + off, INNER, <usize>m);
      off += <usize>m;
    } else {
      memory.copy(OPENED + off, p, len);
      off += len;
    }
  }
  memory.fill(INNER, 0, <usize>m);
  return decode(OPENED, <i32>off, d, true);
}
