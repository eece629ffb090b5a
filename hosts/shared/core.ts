// The runtime-neutral binding: turns the core's flat exports (docs/ABI.md)
// into a typed API. It knows nothing of Node, Deno or Bun; each host hands it
// the module's bytes. Every number and name comes from registry.ts (generated).

import {
  AuthAlgorithm, ERRORS, ExtensionType, Flag, KeyWrap, MessageType, OpaqueSubtype, Proto, ReplyCode,
  MAX_MESSAGE_LENGTH, ABI_VERSION,
} from "./registry.ts";
import type { AuthKey, ExtensionJson, MessageJson } from "./types.ts";
import { hex, unhex } from "./bytes.ts";

/** The exports of handover.wasm, as the ABI declares them. */
export interface CoreExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  abi_version(): number;
  io_in_ptr(): number;
  io_out_ptr(): number;
  io_size(): number;
  [name: string]: any;
}


/** An error the core reported: its registry code, name, message and hint. */
export class HandoverError extends Error {
  readonly code: number;
  readonly errorName: string;
  readonly hint: string;
  /** Byte offset in the input where decoding failed, when it is a decoding error. */
  readonly offset?: number;
  constructor(code: number, context?: string, offset?: number) {
    const e = ERRORS[code] ?? { name: `ERROR_${code}`, message: `error ${code}`, hint: "" };
    const where = offset === undefined ? "" : ` (at byte ${offset})`;
    super(`${context ? context + ": " : ""}${e.message}${where}${e.hint ? `; ${e.hint}` : ""}`);
    this.name = "HandoverError";
    this.code = code;
    this.errorName = e.name;
    this.hint = e.hint;
    this.offset = offset;
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

const ALGORITHMS: Record<string, number> = AuthAlgorithm;
const EXTENSIONS: Record<string, number> = ExtensionType;
const FLAGS: Record<string, number> = Flag;
const CODES: Record<string, number> = ReplyCode;
const SUBTYPES: Record<string, number> = OpaqueSubtype;
const MESSAGES: Record<string, number> = MessageType;

function hashAlgorithm(name: string): number {
  const v = { MD5: 1, SHA1: 2, SHA256: 3, "SHA-1": 2, "SHA-256": 3 }[name];
  if (v === undefined) throw new TypeError(`unknown hash '${name}': use MD5, SHA1 or SHA256`);
  return v;
}

function lookup(table: Record<string, number>, name: string | number, what: string): number {
  if (typeof name === "number") return name;
  const v = table[name];
  if (v === undefined) throw new TypeError(`unknown ${what} '${name}'`);
  return v;
}

export class Core {
  readonly x: CoreExports;
  private inPtr: number;
  private outPtr: number;
  private ioSize: number;

  private constructor(x: CoreExports) {
    this.x = x;
    x._initialize();
    if (x.abi_version() !== ABI_VERSION) {
      throw new Error(`handover.wasm speaks ABI ${x.abi_version()}, this binding speaks ${ABI_VERSION}: rebuild with npm run build`);
    }
    this.inPtr = x.io_in_ptr();
    this.outPtr = x.io_out_ptr();
    this.ioSize = x.io_size();
  }

  /** Instantiates the core from its compiled module or its bytes. The core imports nothing. */
  static async load(source: WebAssembly.Module | BufferSource): Promise<Core> {
    const module = source instanceof WebAssembly.Module ? source : await WebAssembly.compile(source);
    const instance = await WebAssembly.instantiate(module, {});
    return new Core(instance.exports as unknown as CoreExports);
  }

  /** Synchronous variant of load, for a module already compiled. */
  static loadSync(module: WebAssembly.Module): Core {
    return new Core(new WebAssembly.Instance(module, {}).exports as unknown as CoreExports);
  }

  private buffer: ArrayBuffer | null = null;
  private bytes = new Uint8Array(0);

  /**
   * A view of linear memory, current after any call: memory.grow replaces the
   * buffer (and detaches views of the old one), so the view is made again
   * only then, not per call.
   */
  mem(): Uint8Array {
    const b = this.x.memory.buffer;
    if (b !== this.buffer) {
      this.buffer = b;
      this.bytes = new Uint8Array(b);
    }
    return this.bytes;
  }
  get inputPtr(): number { return this.inPtr; }
  get outputPtr(): number { return this.outPtr; }
  get ioCapacity(): number { return this.ioSize; }

  /** Copies bytes into the input buffer at offset; returns their address. */
  put(bytes: Uint8Array, offset = 0): number {
    if (offset + bytes.length > this.ioSize) throw new RangeError(`input of ${bytes.length} bytes does not fit the core's buffer`);
    this.mem().set(bytes, this.inPtr + offset);
    return this.inPtr + offset;
  }
  /** Copies several inputs one after another into the input buffer; returns their addresses. */
  stage(...parts: Uint8Array[]): number[] {
    let offset = 0;
    return parts.map((p) => {
      const ptr = this.put(p, offset);
      offset += (p.length + 15) & ~15;
      return ptr;
    });
  }
  /** Copies len bytes out of linear memory. */
  get(ptr: number, len: number): Uint8Array {
    return this.mem().slice(ptr, ptr + len);
  }
  /** Throws HandoverError for a negative return code; returns the value otherwise. */
  check(ret: number, context?: string, offset?: number): number {
    if (ret < 0) throw new HandoverError(-ret, context, offset);
    return ret;
  }
  private outText(len: number): string {
    return dec.decode(this.mem().subarray(this.outPtr, this.outPtr + len));
  }

  // ---- messages -----------------------------------------------------------

  /** Decodes and validates a message (no authentication check). Throws HandoverError. */
  decode(bytes: Uint8Array): MessageJson {
    const ptr = this.put(bytes);
    const err = this.x.msg_decode(ptr, bytes.length);
    if (err < 0) throw new HandoverError(-err, "cannot decode message", this.x.msg_error_offset());
    const n = this.check(this.x.msg_describe(this.outPtr, this.ioSize));
    return JSON.parse(this.outText(n));
  }

  /** Decodes a message and verifies its authenticator with key. Throws HandoverError. */
  decodeVerified(bytes: Uint8Array, key: AuthKey): MessageJson {
    const message = this.decode(bytes);
    const keyPtr = this.put(key.key, MAX_MESSAGE_LENGTH);
    const alg = lookup(ALGORITHMS, key.algorithm ?? "HMAC_SHA256", "algorithm");
    this.check(this.x.msg_verify(alg, keyPtr, key.key.length), "authentication failed");
    return message;
  }

  /** Encodes a message from its JSON form; with auth, the AUTH extension is computed and appended. */
  encode(message: Omit<MessageJson, "version">, auth?: AuthKey): Uint8Array {
    const x = this.x;
    const type = lookup(MESSAGES, message.type, "message type");
    let flagsCode = 0;
    if (message.code !== undefined) flagsCode = lookup(CODES, message.code, "reply code");
    for (const f of message.flags ?? []) flagsCode |= lookup(FLAGS, f, "flag");
    const cookie = unhex(message.cookie);
    const replay = unhex(message.replayId);
    if (cookie.length !== 6) throw new TypeError("cookie must be 6 bytes of hex");
    if (replay.length !== 8) throw new TypeError("replayId must be 8 bytes of hex");
    const rv = new DataView(replay.buffer, replay.byteOffset, 8);
    const out = this.outPtr;
    this.check(x.enc_begin(out, MAX_MESSAGE_LENGTH, type, flagsCode, message.sequence, this.put(cookie), rv.getUint32(0), rv.getUint32(4)));
    for (const e of message.extensions) {
      if (auth && e.type === "AUTH") continue; // recomputed below
      this.check(this.encodeExtension(e), `cannot encode extension ${String(e.type)}`);
    }
    let len: number;
    if (auth) {
      const alg = lookup(ALGORITHMS, auth.algorithm ?? "HMAC_SHA256", "algorithm");
      len = this.check(x.enc_finish_auth(auth.spi, alg, this.put(auth.key), auth.key.length));
    } else {
      len = this.check(x.enc_finish());
    }
    return this.get(out, len);
  }

  private encodeExtension(e: ExtensionJson): number {
    const x = this.x;
    const type = lookup(EXTENSIONS, e.type as string | number, "extension type");
    switch (e.type) {
      case "AUTH": {
        const a = unhex(e.authenticator);
        const data = new Uint8Array(4 + a.length);
        new DataView(data.buffer).setUint32(0, e.spi);
        data.set(a, 4);
        return x.enc_raw(type, this.put(data), data.length);
      }
      case "MIGRATION": {
        const flags = e.protocols.reduce((f, p) => f | lookup(Proto, p, "protocol"), 0);
        const [family, addrs] = this.addressPair(e.oldAddress, e.newAddress);
        return x.enc_migration(flags, family, e.oldPort, e.newPort, this.put(addrs));
      }
      case "FLOW": {
        const [family, addrs] = this.addressPair(e.localAddress, e.remoteAddress);
        return x.enc_flow(e.protocol === "TCP" ? 6 : 17, family, e.localPort, e.remotePort, this.put(addrs));
      }
      case "PATH_CHALLENGE":
      case "PATH_RESPONSE":
        return x.enc_token(type, this.put(unhex(e.token)));
      case "LIFETIME":
        return x.enc_lifetime(e.seconds);
      case "TRANSFERRED_ADDRESS":
      case "TARGET_ADDRESS":
      case "AGENT_ADDRESS":
      case "INTERIM_ADDRESS": {
        const { family, bytes } = this.parseAddress(e.address);
        return x.enc_address(type, family, this.put(bytes));
      }
      case "LINK_LAYER_ADDRESS": {
        const a = unhex(e.address);
        return x.enc_link(e.hardwareType, this.put(a), a.length);
      }
      case "SESSION_KEY": {
        const parts = [e.ephemeralPublicKey ?? "", e.nonce, e.sealedKey, e.tag].map(unhex);
        const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let o = 0;
        for (const p of parts) {
          body.set(p, o);
          o += p.length;
        }
        const padded = new Uint8Array(Math.max(body.length, 92));
        padded.set(body);
        return x.enc_session_key(lookup(KeyWrap, e.wrap, "key wrap"), e.wrapSpi, e.sessionSpi, this.put(padded));
      }
      case "ADDRESS_LEASE": {
        const d = unhex(e.state);
        return x.enc_address_lease(lookup({ STATIC: 1, IPV6: 2, DHCP4: 3 }, e.generator, "address generator"), e.remaining >>> 0, this.put(d), d.length);
      }
      case "OPAQUE_DATA": {
        const d = unhex(e.data);
        return x.enc_opaque(lookup(SUBTYPES, e.subtype, "opaque subtype"), e.flags, this.put(d), d.length);
      }
      default: {
        const d = unhex((e as { data: string }).data);
        return x.enc_raw(type, this.put(d), d.length);
      }
    }
  }

  private addressPair(a: string, b: string): [number, Uint8Array] {
    const A = this.parseAddress(a);
    const B = this.parseAddress(b);
    if (A.family !== B.family) throw new TypeError(`${a} and ${b} are of different families`);
    const n = A.family === 1 ? 4 : 16;
    const out = new Uint8Array(2 * n);
    out.set(A.bytes.subarray(0, n), 0);
    out.set(B.bytes.subarray(0, n), n);
    return [A.family, out];
  }

  // ---- cryptography (for vectors, tests and benchmarks) --------------------

  /** Digest of msg under "MD5", "SHA1" or "SHA256". */
  hash(algorithm: string, msg: Uint8Array): Uint8Array {
    const [m] = this.stage(msg);
    const n = this.check(this.x.crypto_hash(hashAlgorithm(algorithm), m, msg.length, this.outPtr));
    return this.get(this.outPtr, n);
  }

  /** HMAC of msg under algorithm ("HMAC_SHA256", ...) and key. */
  hmac(algorithm: string, key: Uint8Array, msg: Uint8Array): Uint8Array {
    const [k, m] = this.stage(key, msg);
    const n = this.check(this.x.crypto_hmac(lookup(ALGORITHMS, algorithm, "algorithm"), k, key.length, m, msg.length, this.outPtr));
    return this.get(this.outPtr, n);
  }

  /** ChaCha20-Poly1305 (RFC 8439): ciphertext and 16-byte tag. */
  aeadSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, msg: Uint8Array): { ct: Uint8Array; tag: Uint8Array } {
    const [k, n, a, m] = this.stage(key, nonce, aad, msg);
    const len = this.check(this.x.crypto_aead_seal(k, n, a, aad.length, m, msg.length, this.outPtr));
    const out = this.get(this.outPtr, len);
    return { ct: out.subarray(0, len - 16), tag: out.subarray(len - 16) };
  }

  /** Opens ChaCha20-Poly1305; null if the tag does not verify. */
  aeadOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ct: Uint8Array, tag: Uint8Array): Uint8Array | null {
    const sealed = new Uint8Array(ct.length + tag.length);
    sealed.set(ct);
    sealed.set(tag, ct.length);
    const [k, n, a, c] = this.stage(key, nonce, aad, sealed);
    const len = this.x.crypto_aead_open(k, n, a, aad.length, c, sealed.length, this.outPtr);
    return len < 0 ? null : this.get(this.outPtr, len);
  }

  /** X25519 (RFC 7748); ok is false when the result is all zero (a low-order point). */
  x25519(scalar: Uint8Array, point: Uint8Array): { shared: Uint8Array; ok: boolean } {
    const [s, p] = this.stage(scalar, point);
    const ok = this.x.crypto_x25519(this.outPtr, s, p);
    return { shared: this.get(this.outPtr, 32), ok: ok === 1 };
  }

  /** A replay window of `bits` bits (one per core instance; for vectors and tests). */
  replayWindow(bits: number): { check(seq: number): string | null; update(seq: number): void } {
    this.check(this.x.replay_window_reset(bits), `window of ${bits} bits`);
    const x = this.x;
    return {
      check: (seq: number) => {
        const r = x.replay_window_check(seq);
        return r < 0 ? ERRORS[-r].name : null;
      },
      update: (seq: number) => x.replay_window_update(seq),
    };
  }

  /** Checks an 8-byte NTP timestamp against now (Unix ms) and a skew; the error name or null. */
  checkTimestamp(id: Uint8Array, now: number, skewMs: number): string | null {
    const v = new DataView(id.buffer, id.byteOffset, 8);
    const r = this.x.replay_check_timestamp(v.getUint32(0), v.getUint32(4), now, skewMs);
    return r < 0 ? ERRORS[-r].name : null;
  }

  // ---- addresses, cookie, errors ------------------------------------------

  /** Parses address text: family 1 (IPv4, first 4 bytes) or 2 (IPv6), and 16 bytes. */
  parseAddress(text: string): { family: number; bytes: Uint8Array } {
    const t = enc.encode(text);
    const ptr = this.put(t);
    const out = this.inPtr + 64;
    const family = this.x.addr_parse(ptr, t.length, out);
    if (family < 0) throw new HandoverError(-family, `'${text}' is not an IPv4 or IPv6 address`);
    return { family, bytes: this.get(out, 16) };
  }

  /**
   * A session-address range (PROTOCOL.md 8.18): "first-last" (one family, first
   * not above last) or "prefix/length" (its first and last address).
   */
  addressRange(text: string): [{ family: number; bytes: Uint8Array }, { family: number; bytes: Uint8Array }] {
    const slash = text.indexOf("/");
    if (slash < 0) {
      const dash = text.indexOf("-");
      if (dash < 0) throw new TypeError(`'${text}' is no range: write first-last or prefix/length`);
      const a = this.parseAddress(text.slice(0, dash));
      const b = this.parseAddress(text.slice(dash + 1));
      if (a.family !== b.family) throw new TypeError(`'${text}': the two ends are of different families`);
      return [a, b];
    }
    const a = this.parseAddress(text.slice(0, slash));
    const n = a.family === 1 ? 4 : 16;
    const len = Number(text.slice(slash + 1));
    if (!Number.isInteger(len) || len < 0 || len > n * 8) throw new TypeError(`'${text}': prefix length 0-${n * 8}`);
    const first = new Uint8Array(16);
    const last = new Uint8Array(16);
    for (let i = 0; i < n; i++) {
      const keep = Math.max(0, Math.min(8, len - i * 8));
      const mask = (0xff << (8 - keep)) & 0xff;
      first[i] = a.bytes[i] & mask;
      last[i] = (a.bytes[i] & mask) | (~mask & 0xff);
    }
    return [{ family: a.family, bytes: first }, { family: a.family, bytes: last }];
  }

  /** Formats an address (RFC 5952 for IPv6). */
  formatAddress(family: number, bytes: Uint8Array): string {
    const padded = new Uint8Array(16);
    padded.set(bytes.subarray(0, 16));
    const n = this.check(this.x.addr_format(family, this.put(padded), this.outPtr, 64));
    return this.outText(n);
  }

  /** The 48-bit identifier cookie of a node name, as 12 hex digits. */
  cookieFromName(name: string): string {
    const t = enc.encode(name);
    if (t.length < 1 || t.length > 255) throw new HandoverError(28, `node name '${name}' has ${t.length} bytes, not 1-255`);
    const ptr = this.put(t);
    this.check(this.x.cookie_from_name(ptr, t.length, this.outPtr));
    return hex(this.get(this.outPtr, 6));
  }

  /** Name, message and hint of an error code, read from the core itself. */
  errorText(code: number): { name: string; message: string; hint: string } {
    const read = (which: number) => this.outText(this.check(this.x.error_text(code, which, this.outPtr, 512)));
    return { name: read(0), message: read(1), hint: read(2) };
  }

  // ---- HKDF and the session key wrap (docs/PROTOCOL.md 4.7, docs/ABI.md "Key wrap") ----

  /** HKDF-SHA256 (RFC 5869): `length` (0-8160) bytes of OKM. Throws HandoverError (INVALID_ARGUMENT) beyond 8160. */
  hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
    if (length > this.ioSize) throw new HandoverError(28, `HKDF output of ${length} bytes`);
    const [s, i, n] = this.stage(salt, ikm, info);
    const len = this.check(this.x.crypto_hkdf(s, salt.length, i, ikm.length, n, info.length, this.outPtr, length), "HKDF");
    return this.get(this.outPtr, len);
  }

  /** HKDF-Extract (RFC 5869): the 32-byte PRK = HMAC-SHA256(salt, ikm). */
  hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
    const [s, i] = this.stage(salt, ikm);
    this.check(this.x.crypto_hkdf_extract(s, salt.length, i, ikm.length, this.outPtr), "HKDF-Extract");
    return this.get(this.outPtr, 32);
  }

  /** Mixes entropy into the core's random generator (ChaCha20 DRBG); wrapSessionKey without a nonce needs it seeded. */
  seedRandom(entropy: Uint8Array): void {
    this.x.drbg_seed(this.put(entropy), entropy.length);
  }

  /**
   * Wraps a 32-byte session key (docs/PROTOCOL.md 4.7) and returns the
   * extension body: [ephemeral public key (32),] nonce (12), sealed key (32),
   * tag (16). `key` is the wrap SA's key (CHACHA20_POLY1305, 16 bytes or more)
   * or the recipient's X25519 public key (X25519_CHACHA20_POLY1305). Without
   * `nonce` (and `ephemeralPrivateKey`), they come from the core's DRBG, which
   * must be seeded (seedRandom, or an Engine on this core). Throws
   * HandoverError: BAD_VALUE, BAD_SPI, INVALID_ARGUMENT, NOT_SEEDED, LOW_ORDER_POINT.
   */
  wrapSessionKey(p: SessionKeyWrap): Uint8Array {
    const alg = lookup(KeyWrap, p.wrap, "key wrap");
    if (p.sessionKey.length !== 32) throw new TypeError(`the session key has ${p.sessionKey.length} bytes, not 32`);
    if (p.header.length !== 20) throw new TypeError(`the header has ${p.header.length} bytes, not 20`);
    const deterministic = p.nonce !== undefined || p.ephemeralPrivateKey !== undefined;
    let ret: number;
    if (!deterministic) {
      const [h, k, s] = this.stage(p.header, p.key, p.sessionKey);
      ret = this.x.keywrap_wrap(h, alg, p.wrapSpi, p.sessionSpi, k, p.key.length, s, this.outPtr);
    } else {
      if (p.nonce?.length !== 12) throw new TypeError("nonce: 12 bytes");
      const eph = p.ephemeralPrivateKey ?? new Uint8Array(32);
      if (eph.length !== 32) throw new TypeError("ephemeralPrivateKey: 32 bytes");
      if (alg === KeyWrap.X25519_CHACHA20_POLY1305 && p.ephemeralPrivateKey === undefined) throw new TypeError("X25519 wrap with a nonce needs ephemeralPrivateKey too");
      const [h, k, s, n, e] = this.stage(p.header, p.key, p.sessionKey, p.nonce, eph);
      ret = this.x.keywrap_wrap_with(h, alg, p.wrapSpi, p.sessionSpi, k, p.key.length, s, n, e, this.outPtr);
    }
    return this.get(this.outPtr, this.check(ret, "cannot wrap the session key"));
  }

  /**
   * Unwraps an extension body and returns the 32-byte session key. `key` is
   * the wrap SA's key, or the recipient's X25519 private key. Throws
   * HandoverError: BAD_LENGTH, BAD_VALUE, BAD_SPI, INVALID_ARGUMENT,
   * LOW_ORDER_POINT, KEY_UNWRAP_FAILED (reply SESSION_KEY_REJECTED).
   */
  unwrapSessionKey(p: SessionKeyUnwrap): Uint8Array {
    const alg = lookup(KeyWrap, p.wrap, "key wrap");
    if (p.header.length !== 20) throw new TypeError(`the header has ${p.header.length} bytes, not 20`);
    const [h, k, b] = this.stage(p.header, p.key, p.body);
    const ret = this.x.keywrap_unwrap(h, alg, p.wrapSpi, p.sessionSpi, k, p.key.length, b, p.body.length, this.outPtr);
    return this.get(this.outPtr, this.check(ret, "cannot unwrap the session key"));
  }
}

// ---- session key wrap: parameters ------------------------------------------

/** Inputs of Core.wrapSessionKey (docs/PROTOCOL.md 4.7). */
export interface SessionKeyWrap {
  /** The 20-byte header of the message that will carry the extension. */
  header: Uint8Array;
  /** CHACHA20_POLY1305 (1) or X25519_CHACHA20_POLY1305 (2). */
  wrap: keyof typeof KeyWrap | number;
  wrapSpi: number;
  sessionSpi: number;
  /** The wrap SA's key (algorithm 1), or the recipient's static X25519 public key (algorithm 2). */
  key: Uint8Array;
  /** The 32-byte session key. */
  sessionKey: Uint8Array;
  /** Deterministic wraps only (vectors, tests): the 12-byte nonce. Never reuse one. */
  nonce?: Uint8Array;
  /** Deterministic X25519 wraps only: the 32-byte ephemeral private key. */
  ephemeralPrivateKey?: Uint8Array;
}

/** Inputs of Core.unwrapSessionKey. */
export interface SessionKeyUnwrap {
  header: Uint8Array;
  wrap: keyof typeof KeyWrap | number;
  wrapSpi: number;
  sessionSpi: number;
  /** The wrap SA's key (algorithm 1), or the recipient's X25519 private key (algorithm 2). */
  key: Uint8Array;
  /** The extension body: [ephemeral public key,] nonce, sealed key, tag (60 or 92 bytes). */
  body: Uint8Array;
}
