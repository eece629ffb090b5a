// Encoding of control messages (docs/PROTOCOL.md sections 3-4).
//
// An Encoder writes one message into a caller's buffer: begin(), then one call
// per extension in the order they should appear, then finishAuth() (or finish()
// for an unauthenticated message, which only tests and vectors build). The
// first error sticks and is returned by finish; nothing is ever written past
// the buffer.

import { put8, put16, put32, copyBytes, zeroFill } from "../util/bytes";
import { familyLength, OFF_COOKIE, OFF_REPLAY_ID } from "./decode";
import { HmacKey } from "../crypto/hmac";
import { sealMessage, sealBinding } from "./sealed";
import {
  PROTOCOL_VERSION, HEADER_LENGTH, MAX_MESSAGE_LENGTH,
  EXT_AUTH, EXT_MIGRATION, EXT_LIFETIME, EXT_LINK_LAYER_ADDRESS, EXT_SESSION_KEY,
  EXT_FLOW, EXT_OPAQUE_DATA, EXT_SEALED, EXT_ADDRESS_LEASE, WRAP_CHACHA20_POLY1305,
  ERR_MESSAGE_TOO_LONG, ERR_BAD_FAMILY, ERR_BAD_LENGTH, ERR_BAD_VALUE,
} from "../generated/registry";

/** The most inner extensions one Sealed extension carries: 255 - 2 - 16 (section 8.11). */
export const SEALED_MAX_INNER: i32 = 237;
/** Most bytes before a version-2 Sealed body's ciphertext (header, Transferred Address, the Sealed head). */
export const MAX_AAD: i32 = 250;
const SEAL_SCRATCH = memory.data(256);
const AAD_SCRATCH = memory.data(MAX_AAD + 6);

export class Encoder {
  ptr: usize = 0;
  cap: i32 = 0;
  pos: i32 = 0;
  err: i32 = 0;
  /** Where the extensions a Sealed extension will carry begin (markSealed; default: right after the header). */
  sealFrom: i32 = HEADER_LENGTH;

  /** Starts a message; cookie is 6 bytes at cookiePtr. */
  begin(ptr: usize, cap: i32, type: u32, flagsCode: u32, sequence: u32, cookiePtr: usize, replayHi: u32, replayLo: u32): void {
    this.ptr = ptr;
    this.cap = cap < MAX_MESSAGE_LENGTH ? cap : MAX_MESSAGE_LENGTH;
    this.pos = HEADER_LENGTH;
    this.sealFrom = HEADER_LENGTH;
    this.err = 0;
    if (this.cap < HEADER_LENGTH) {
      this.err = ERR_MESSAGE_TOO_LONG;
      return;
    }
    put8(ptr, PROTOCOL_VERSION);
    put8(ptr + 1, type);
    put16(ptr + 2, sequence);
    memory.copy(ptr + OFF_COOKIE, cookiePtr, 6);
    put8(ptr + 10, flagsCode);
    put8(ptr + 11, 0);
    put32(ptr + OFF_REPLAY_ID, replayHi);
    put32(ptr + OFF_REPLAY_ID + 4, replayLo);
  }

  /** Reserves an extension with n data bytes; returns the data address, or 0 after an error. */
  ext(type: u32, n: i32): usize {
    if (this.err) return 0;
    if (n < 0 || n > 255) {
      this.err = ERR_BAD_LENGTH;
      return 0;
    }
    if (this.pos + 2 + n > this.cap) {
      this.err = ERR_MESSAGE_TOO_LONG;
      return 0;
    }
    const p = this.ptr + this.pos;
    put8(p, type);
    put8(p + 1, n);
    this.pos += 2 + n;
    return p + 2;
  }

  /** An extension whose data is copied as given (also unknown types, for tests). */
  raw(type: u32, src: usize, n: i32): void {
    const d = this.ext(type, n);
    if (d) memory.copy(d, src, n);
  }

  migration(protoFlags: u32, family: u32, oldPort: u32, newPort: u32, oldAddr: usize, newAddr: usize): void {
    this.endpointPair(EXT_MIGRATION, protoFlags, family, oldPort, newPort, oldAddr, newAddr);
  }

  /** A flow as seen from the transferring node: local and remote port and address. */
  flow(proto: u32, family: u32, localPort: u32, remotePort: u32, localAddr: usize, remoteAddr: usize): void {
    this.endpointPair(EXT_FLOW, proto, family, localPort, remotePort, localAddr, remoteAddr);
  }

  private endpointPair(type: u32, first: u32, family: u32, portA: u32, portB: u32, addrA: usize, addrB: usize): void {
    const alen = familyLength(family);
    if (alen == 0) {
      if (!this.err) this.err = ERR_BAD_FAMILY;
      return;
    }
    const d = this.ext(type, 6 + 2 * alen);
    if (!d) return;
    put8(d, first);
    put8(d + 1, family);
    put16(d + 2, portA);
    put16(d + 4, portB);
    memory.copy(d + 6, addrA, alen);
    memory.copy(d + 6 + alen, addrB, alen);
  }

  /** One of the address extensions (TRANSFERRED, TARGET, AGENT, INTERIM). */
  address(type: u32, family: u32, addr: usize): void {
    const alen = familyLength(family);
    if (alen == 0) {
      if (!this.err) this.err = ERR_BAD_FAMILY;
      return;
    }
    const d = this.ext(type, 1 + alen);
    if (!d) return;
    put8(d, family);
    memory.copy(d + 1, addr, alen);
  }

  lifetime(seconds: u32): void {
    const d = this.ext(EXT_LIFETIME, 2);
    if (d) put16(d, seconds);
  }

  /** PATH_CHALLENGE or PATH_RESPONSE: 8 bytes. */
  token(type: u32, src: usize): void {
    this.raw(type, src, 8);
  }

  /** ADDRESS_LEASE (section 8.18): generator kind, remaining lifetime in s (0xFFFFFFFF: no end), n (0-200) state bytes. */
  addressLease(kind: u32, remaining: u32, state: usize, n: i32): void {
    if (n < 0 || n > 200) {
      if (!this.err) this.err = ERR_BAD_VALUE;
      return;
    }
    const d = this.ext(EXT_ADDRESS_LEASE, 6 + n);
    if (!d) return;
    put8(d, kind);
    put8(d + 1, 0);
    put32(d + 2, remaining);
    if (n) memory.copy(d + 6, state, n);
  }

  linkLayer(hwType: u32, addr: usize, n: i32): void {
    const d = this.ext(EXT_LINK_LAYER_ADDRESS, 2 + n);
    if (!d) return;
    put16(d, hwType);
    memory.copy(d + 2, addr, n);
  }

  /**
   * A wrapped session key. body holds, in wire order, the ephemeral X25519
   * public key (only for wrap algorithm 2), the nonce, the sealed key and its tag.
   */
  sessionKey(wrapAlg: u32, wrapSpi: u32, sessionSpi: u32, body: usize): void {
    const n = wrapAlg == WRAP_CHACHA20_POLY1305 ? 70 : wrapAlg == 2 ? 102 : 0;
    if (n == 0) {
      if (!this.err) this.err = ERR_BAD_VALUE;
      return;
    }
    const d = this.ext(EXT_SESSION_KEY, n);
    if (!d) return;
    put8(d, wrapAlg);
    put8(d + 1, 0);
    put32(d + 2, wrapSpi);
    put32(d + 6, sessionSpi);
    memory.copy(d + 10, body, n - 10);
  }

  opaque(subtype: u32, flags: u32, data: usize, n: i32): void {
    const d = this.ext(EXT_OPAQUE_DATA, 2 + n);
    if (!d) return;
    put8(d, subtype);
    put8(d + 1, flags);
    memory.copy(d + 2, data, n);
  }

  /** The extensions written from here on travel inside the Sealed extension (PROTOCOL.md 8.11), if the SA seals. */
  markSealed(): void {
    this.sealFrom = this.pos;
  }

  /**
   * Replaces the extensions written since markSealed() by one Sealed
   * extension (type 44): Reserved (2) = 0, their ciphertext and the tag,
   * under the key `which` derived from the 32-byte session key, with the
   * message's extended sequence number seq32 (section 8.11).
   */
  seal(sessionKey: usize, which: i32, seq32: u32): void {
    if (this.err) return;
    const n = this.pos - this.sealFrom;
    if (n > SEALED_MAX_INNER) {
      this.err = ERR_BAD_LENGTH;
      return;
    }
    memory.copy(SEAL_SCRATCH, this.ptr + <usize>this.sealFrom, <usize>n);
    this.pos = this.sealFrom;
    const d = this.ext(EXT_SEALED, 2 + n + 16);
    if (!d) return;
    put16(d, 0);
    const r = sealMessage(sessionKey, which, seq32, this.ptr, SEAL_SCRATCH, n, d + 2);
    memory.fill(SEAL_SCRATCH, 0, <usize>n);
    if (r < 0) this.err = -r;
  }

  /**
   * Version 2 (8.11), a Binding Update or Ack under a session SA: replaces the
   * extensions written since markSealed() by the Sealed extension under
   * subkey `which` of the binding key kb, then appends the Authentication
   * extension (SPI, and the Sealed tag as its 16-byte authenticator). The
   * AEAD's AAD is every byte of the message that is neither ciphertext nor
   * tag: all bytes before the ciphertext, then the Authentication
   * extension's Type, Length and SPI. Returns the message length or the
   * negated error.
   */
  finishBinding(kb: usize, which: i32, seq32: u32, spi: u32): i32 {
    if (this.err) return -this.err;
    const n = this.pos - this.sealFrom;
    if (n > SEALED_MAX_INNER) return -ERR_BAD_LENGTH;
    copyBytes(SEAL_SCRATCH, this.ptr + <usize>this.sealFrom, <usize>n);
    this.pos = this.sealFrom;
    const d = this.ext(EXT_SEALED, 2 + n + 16);
    if (!d) return -this.err;
    put16(d, 0);
    const head = <i32>(d + 2 - this.ptr);
    if (head > MAX_AAD) return -ERR_BAD_LENGTH;
    copyBytes(AAD_SCRATCH, this.ptr, <usize>head);
    put8(AAD_SCRATCH + <usize>head, EXT_AUTH);
    put8(AAD_SCRATCH + <usize>head + 1, 20);
    put32(AAD_SCRATCH + <usize>head + 2, spi);
    const r = sealBinding(kb, which, seq32, this.ptr, AAD_SCRATCH, head + 6, SEAL_SCRATCH, n, d + 2);
    zeroFill(SEAL_SCRATCH, <usize>n);
    if (r < 0) return r;
    const a = this.ext(EXT_AUTH, 20);
    if (!a) return -this.err;
    put32(a, spi);
    memory.copy(a + 4, d + 2 + <usize>n, 16);
    return this.pos;
  }

  /** Ends an unauthenticated message: its length, or the negated error. */
  finish(): i32 {
    return this.err ? -this.err : this.pos;
  }

  /** Appends the authentication extension and returns the message length (or the negated error). */
  finishAuth(spi: u32, key: HmacKey): i32 {
    const tagLen = key.tagLen;
    const d = this.ext(EXT_AUTH, 4 + tagLen);
    if (!d) return -this.err;
    put32(d, spi);
    // The authenticator covers everything before it (section 4.1).
    key.sign(this.ptr, <i32>(d + 4 - this.ptr), d + 4);
    return this.pos;
  }
}
