// An independent reference implementation of the handover wire format,
// written from docs/PROTOCOL.md alone (sections 3-6, 9.3, 12). It shares no
// code and no tables with the core or its binding: every number below was
// transcribed from the specification, so that where the two disagree one of
// them (or the specification) is wrong.
//
// Plain JavaScript; runs under Node, Deno and Bun. HMAC and SHA-256 come from
// node:crypto; ChaCha20-Poly1305 and X25519 (section 4.7's key wrap) from
// @noble/ciphers and @noble/curves.
//
//   decode(bytes)                    -> { ok: true, json } | { ok: false, error, offset }
//   verify(bytes, algorithm, key)    -> null | error name  (decodes first)
//   encode(json, auth?)              -> Uint8Array  (throws TypeError on bad JSON)
//   cookieFromName(name)             -> 12 hex digits (throws RefError)
//   new ReplayWindow(bits)           -> { check(seq) -> null | error name, update(seq) }
//   checkTimestamp(idHex, nowMs, skewMs) -> null | "STALE_TIMESTAMP"
//   hkdfSha256(ikm, salt, info, length) -> Uint8Array  (RFC 5869; throws RefError)
//   wrapSessionKey({...}) / unwrapSessionKey({...})   section 4.7 (throw RefError)
import { createHash, createHmac } from "node:crypto";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";

// ---- section 3 and 12: numbers --------------------------------------------

export const VERSION = 1;
export const HEADER_LENGTH = 20;
export const MAX_MESSAGE_LENGTH = 1232;
export const FIRST_SPI = 256;

/** Section 12.2. */
export const EXT = {
  AUTH: 32,
  MIGRATION: 33,
  PATH_CHALLENGE: 34,
  PATH_RESPONSE: 35,
  LIFETIME: 36,
  TRANSFERRED_ADDRESS: 37,
  TARGET_ADDRESS: 38,
  AGENT_ADDRESS: 39,
  INTERIM_ADDRESS: 40,
  LINK_LAYER_ADDRESS: 41,
  SESSION_KEY: 42,
  FLOW: 43,
  SEALED: 44,
  ADDRESS_LEASE: 45,
  OPAQUE_DATA: 128,
};
export const EXT_NAME = Object.fromEntries(Object.entries(EXT).map(([k, v]) => [v, k]));
const ADDRESS_EXTS = new Set([37, 38, 39, 40]);

/**
 * Section 5.2: message types, kinds, flags (section 12.3) and the extension
 * table ("1" exactly one, "?" at most one, "+" one or more, "*" any number).
 */
export const MESSAGES = {
  1: { name: "REGISTRATION_REQUEST", kind: "request", flags: {}, ext: { AUTH: "1", LIFETIME: "?", OPAQUE_DATA: "*" } },
  2: { name: "REGISTRATION_REPLY", kind: "reply", ext: { AUTH: "1", LIFETIME: "?", PATH_CHALLENGE: "?", OPAQUE_DATA: "*" } },
  3: { name: "MIGRATION_REQUEST", kind: "request", flags: {}, ext: { AUTH: "1", MIGRATION: "+", OPAQUE_DATA: "*" } },
  4: { name: "MIGRATION_REPLY", kind: "reply", ext: { AUTH: "1", PATH_CHALLENGE: "?", OPAQUE_DATA: "*" } },
  5: { name: "MIGRATION_CONFIRM", kind: "notice", flags: {}, ext: { AUTH: "1", PATH_RESPONSE: "1" } },
  16: {
    name: "TRANSFER_NEGOTIATION_REQUEST", kind: "request",
    flags: { 1: "FURTHER_TRANSFER", 2: "SAME_SUBNET", 4: "PER_FLOW", 8: "REVERSE_RETURN" },
    ext: {
      AUTH: "1", LIFETIME: "?", TRANSFERRED_ADDRESS: "1", AGENT_ADDRESS: "?", INTERIM_ADDRESS: "?",
      LINK_LAYER_ADDRESS: "?", SESSION_KEY: "?", FLOW: "*", ADDRESS_LEASE: "?", OPAQUE_DATA: "*",
    },
  },
  17: { name: "TRANSFER_NEGOTIATION_REPLY", kind: "reply", ext: { AUTH: "1", TARGET_ADDRESS: "?", OPAQUE_DATA: "*" } },
  18: {
    name: "TRANSFER_REQUEST", kind: "request",
    flags: { 1: "FURTHER_TRANSFER", 2: "REVERSE_TUNNEL", 4: "PER_FLOW" },
    ext: {
      AUTH: "1", LIFETIME: "?", TRANSFERRED_ADDRESS: "1", TARGET_ADDRESS: "1", INTERIM_ADDRESS: "?",
      LINK_LAYER_ADDRESS: "?", SESSION_KEY: "1", FLOW: "*", OPAQUE_DATA: "*",
    },
  },
  19: { name: "TRANSFER_REPLY", kind: "reply", ext: { AUTH: "1", LIFETIME: "?", OPAQUE_DATA: "*" } },
  20: { name: "BINDING_UPDATE", kind: "request", flags: {}, ext: { AUTH: "1", LIFETIME: "1", TRANSFERRED_ADDRESS: "1", SEALED: "?", OPAQUE_DATA: "*" } },
  21: { name: "BINDING_ACK", kind: "reply", ext: { AUTH: "1", LIFETIME: "?", SEALED: "?", OPAQUE_DATA: "*" } },
  22: { name: "WAKE_UP", kind: "request", flags: {}, ext: { AUTH: "1", TRANSFERRED_ADDRESS: "1", OPAQUE_DATA: "*" } },
  23: { name: "WAKE_UP_ACK", kind: "reply", ext: { AUTH: "1", OPAQUE_DATA: "*" } },
  24: { name: "STOP_TRANSFER", kind: "request", flags: {}, ext: { AUTH: "1", TRANSFERRED_ADDRESS: "1", FLOW: "*", OPAQUE_DATA: "*" } },
  25: { name: "STOP_TRANSFER_REPLY", kind: "reply", ext: { AUTH: "1", OPAQUE_DATA: "*" } },
};
export const MESSAGE_TYPE = Object.fromEntries(Object.entries(MESSAGES).map(([k, v]) => [v.name, +k]));

/** Section 12.4. */
export const REPLY_CODES = {
  1: "ACCEPTED",
  128: "REASON_UNSPECIFIED",
  129: "ADMINISTRATIVELY_PROHIBITED",
  130: "INSUFFICIENT_RESOURCES",
  131: "FAILED_AUTHENTICATION",
  133: "IDENTIFICATION_MISMATCH",
  134: "POORLY_FORMED_REQUEST",
  135: "UNKNOWN_SESSION",
  136: "ADDRESS_NOT_ALLOWED",
  137: "TOO_MANY_PENDING",
  140: "TRANSFER_NOT_PERMITTED",
  141: "UNKNOWN_BINDING",
  142: "SESSION_KEY_REJECTED",
  143: "ADDRESS_IN_USE",
};
export const REPLY_CODE = Object.fromEntries(Object.entries(REPLY_CODES).map(([k, v]) => [v, +k]));

/** Section 12.5 (with node:crypto's hash names). */
export const ALGORITHMS = {
  HMAC_MD5: { hash: "md5", tagLength: 16 },
  HMAC_SHA1: { hash: "sha1", tagLength: 20 },
  HMAC_SHA256: { hash: "sha256", tagLength: 32 },
};
/** Section 12.7. */
export const WRAP = { 1: "CHACHA20_POLY1305", 2: "X25519_CHACHA20_POLY1305" };
/** Section 12.8 (Migration protocol flags) and 4.8 (Flow protocol numbers). */
export const PROTO_FLAGS = { 1: "TCP", 2: "UDP" };
export const IP_PROTOCOLS = { 6: "TCP", 17: "UDP" };
/** Section 12.9. */
export const OPAQUE_SUBTYPES = { 1: "LOCATION", 2: "SIGNAL_QUALITY", 3: "CONNECTION_QUALITY", 4: "FIXED_ENDPOINT", 255: "APPLICATION" };

const invert = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [v, +k]));

// ---- bytes -----------------------------------------------------------------

export function hex(bytes) {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}
export function unhex(text) {
  if (typeof text !== "string" || text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new TypeError(`not hex: ${String(text).slice(0, 40)}`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}
export function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
const u16 = (b, o) => (b[o] << 8) | b[o + 1];
const u32 = (b, o) => ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
const be16 = (v) => new Uint8Array([(v >>> 8) & 255, v & 255]);
const be32 = (v) => new Uint8Array([(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);

export function hmac(algorithm, key, msg) {
  const a = ALGORITHMS[algorithm];
  if (!a) throw new TypeError(`unknown algorithm ${algorithm}`);
  return new Uint8Array(createHmac(a.hash, key).update(msg).digest());
}

// ---- addresses (section 9.3: dotted quad, RFC 5952) ------------------------

export function formatAddress(family, b) {
  if (family === 1) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  // IPv4-mapped (::ffff:0:0/96) in mixed notation.
  if (b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  const g = [];
  for (let i = 0; i < 8; i++) g.push(u16(b, 2 * i));
  // Longest run of two or more zero groups; the first one on a tie (RFC 5952 4.2).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const h = (xs) => xs.map((x) => x.toString(16)).join(":");
  if (bestLen < 2) return h(g);
  return `${h(g.slice(0, best))}::${h(g.slice(best + bestLen))}`;
}

function parseIpv4(text) {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = [];
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || +p > 255) return null;
    out.push(+p);
  }
  return out;
}

/** Address text to { family, bytes } (4 or 16 bytes); throws TypeError. */
export function parseAddress(text) {
  if (typeof text !== "string") throw new TypeError("address is not text");
  if (!text.includes(":")) {
    const v4 = parseIpv4(text);
    if (!v4) throw new TypeError(`not an address: ${text}`);
    return { family: 1, bytes: new Uint8Array(v4) };
  }
  const bad = () => new TypeError(`not an IPv6 address: ${text}`);
  const halves = text.split("::");
  if (halves.length > 2) throw bad();
  const groups = (s) => {
    if (s === "") return [];
    const out = [];
    const parts = s.split(":");
    parts.forEach((p, i) => {
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (!v4) throw bad();
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) throw bad();
        out.push(parseInt(p, 16));
      }
    });
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (halves.length === 1 && head.length !== 8) throw bad();
  if (halves.length === 2 && head.length + tail.length > 7) throw bad();
  const all = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((v, i) => { bytes[2 * i] = v >> 8; bytes[2 * i + 1] = v & 255; });
  return { family: 2, bytes };
}

// ---- decoding (section 5.1) ------------------------------------------------

const fail = (error, offset) => ({ ok: false, error, offset });

/**
 * Checks one known extension's fields (section 4, in each section's order) and
 * returns its canonical JSON, or an error. `d` is the data after Type and Length.
 */
function decodeExtension(type, d, at) {
  const n = d.length;
  const family = (f) => (f === 1 ? 4 : f === 2 ? 16 : 0);
  switch (type) {
    case EXT.AUTH: {
      // 4.1: Length 20, 24 or 36; SPI >= 256.
      if (n !== 20 && n !== 24 && n !== 36) return fail("BAD_LENGTH", at);
      const spi = u32(d, 0);
      if (spi < FIRST_SPI) return fail("BAD_SPI", at);
      return { ok: true, ext: { type: "AUTH", spi, authenticator: hex(d.subarray(4)) } };
    }
    case EXT.MIGRATION: {
      // 4.2: Length in {14, 38}, Proto Flags, Family, Length matches Family, ports.
      if (n !== 14 && n !== 38) return fail("BAD_LENGTH", at);
      const pf = d[0];
      if (pf & ~3) return fail("BAD_PROTO_FLAGS", at);
      const alen = family(d[1]);
      if (!alen) return fail("BAD_FAMILY", at);
      if (n !== 6 + 2 * alen) return fail("BAD_LENGTH", at);
      const oldPort = u16(d, 2), newPort = u16(d, 4);
      if ((oldPort === 0) !== (newPort === 0)) return fail("BAD_PORT", at);
      const protocols = [];
      if (pf & 1) protocols.push("TCP");
      if (pf & 2) protocols.push("UDP");
      return {
        ok: true,
        ext: {
          type: "MIGRATION", protocols,
          oldAddress: formatAddress(d[1], d.subarray(6, 6 + alen)),
          newAddress: formatAddress(d[1], d.subarray(6 + alen, 6 + 2 * alen)),
          oldPort, newPort,
        },
      };
    }
    case EXT.PATH_CHALLENGE:
    case EXT.PATH_RESPONSE:
      // 4.3: Length MUST be 8.
      if (n !== 8) return fail("BAD_LENGTH", at);
      return { ok: true, ext: { type: EXT_NAME[type], token: hex(d) } };
    case EXT.LIFETIME:
      // 4.4: Length 2.
      if (n !== 2) return fail("BAD_LENGTH", at);
      return { ok: true, ext: { type: "LIFETIME", seconds: u16(d, 0) } };
    case EXT.TRANSFERRED_ADDRESS:
    case EXT.TARGET_ADDRESS:
    case EXT.AGENT_ADDRESS:
    case EXT.INTERIM_ADDRESS: {
      // 4.5 gives no order; this follows 4.2's: Length in {5, 17}, Family, Length
      // matches Family. (The core agrees; the vectors avoid the combinations
      // where the order would matter.)
      if (n !== 5 && n !== 17) return fail("BAD_LENGTH", at);
      const alen = family(d[0]);
      if (!alen) return fail("BAD_FAMILY", at);
      if (n !== 1 + alen) return fail("BAD_LENGTH", at);
      return { ok: true, ext: { type: EXT_NAME[type], address: formatAddress(d[0], d.subarray(1)) } };
    }
    case EXT.ADDRESS_LEASE: {
      // 8.18: Length 6-206; generator 1-3; reserved 0.
      if (n < 6 || n > 206) return fail("BAD_LENGTH", at);
      if (d[0] < 1 || d[0] > 3) return fail("BAD_VALUE", at);
      if (d[1] !== 0) return fail("RESERVED_NONZERO", at);
      return { ok: true, ext: { type: "ADDRESS_LEASE", generator: ["", "STATIC", "IPV6", "DHCP4"][d[0]], remaining: u32(d, 2), state: hex(d.subarray(6)) } };
    }
    case EXT.LINK_LAYER_ADDRESS: {
      // 4.6: Length at least 3; for Ethernet (hardware type 1) exactly 8.
      if (n < 3) return fail("BAD_LENGTH", at);
      const hardwareType = u16(d, 0);
      if (hardwareType === 1 && n !== 8) return fail("BAD_LENGTH", at);
      return { ok: true, ext: { type: "LINK_LAYER_ADDRESS", hardwareType, address: hex(d.subarray(2)) } };
    }
    case EXT.SESSION_KEY: {
      // 4.7's order: Length in {70, 102}, Wrap Alg, Length matches Wrap Alg,
      // Reserved, Wrap SPI, Session SPI.
      if (n !== 70 && n !== 102) return fail("BAD_LENGTH", at);
      const alg = d[0];
      if (alg !== 1 && alg !== 2) return fail("BAD_VALUE", at);
      if (n !== (alg === 1 ? 70 : 102)) return fail("BAD_LENGTH", at);
      if (d[1] !== 0) return fail("RESERVED_NONZERO", at);
      const wrapSpi = u32(d, 2), sessionSpi = u32(d, 6);
      if (wrapSpi < FIRST_SPI) return fail("BAD_SPI", at);
      if (sessionSpi < FIRST_SPI) return fail("BAD_SPI", at);
      let o = 10;
      const ext = { type: "SESSION_KEY", wrap: WRAP[alg], wrapSpi, sessionSpi };
      if (alg === 2) { ext.ephemeralPublicKey = hex(d.subarray(o, o + 32)); o += 32; }
      ext.nonce = hex(d.subarray(o, o + 12));
      ext.sealedKey = hex(d.subarray(o + 12, o + 44));
      ext.tag = hex(d.subarray(o + 44, o + 60));
      return { ok: true, ext };
    }
    case EXT.FLOW: {
      // 4.8: Length, Protocol, Family, Length matches Family, ports.
      if (n !== 14 && n !== 38) return fail("BAD_LENGTH", at);
      const protocol = IP_PROTOCOLS[d[0]];
      if (!protocol) return fail("BAD_VALUE", at);
      const alen = family(d[1]);
      if (!alen) return fail("BAD_FAMILY", at);
      if (n !== 6 + 2 * alen) return fail("BAD_LENGTH", at);
      const localPort = u16(d, 2), remotePort = u16(d, 4);
      if (localPort === 0 || remotePort === 0) return fail("BAD_PORT", at);
      return {
        ok: true,
        ext: {
          type: "FLOW", protocol,
          localAddress: formatAddress(d[1], d.subarray(6, 6 + alen)), localPort,
          remoteAddress: formatAddress(d[1], d.subarray(6 + alen, 6 + 2 * alen)), remotePort,
        },
      };
    }
    case EXT.SEALED:
      // 8.11: Reserved (2) = 0, then at least the 16-byte tag.
      if (n < 18) return fail("BAD_LENGTH", at);
      if (d[0] !== 0 || d[1] !== 0) return fail("RESERVED_NONZERO", at);
      return { ok: true, ext: { type: "SEALED", data: hex(d) } };
    case EXT.OPAQUE_DATA: {
      // 4.9: Length at least 2; an unknown sub-type is delivered as a number.
      if (n < 2) return fail("BAD_LENGTH", at);
      return { ok: true, ext: { type: "OPAQUE_DATA", subtype: OPAQUE_SUBTYPES[d[0]] ?? d[0], flags: d[1], data: hex(d.subarray(2)) } };
    }
  }
  throw new Error(`unreachable: extension ${type}`);
}

/** Decodes and validates a datagram in the order of section 5.1. */
export function decode(bytes) {
  const len = bytes.length;
  // 1. Length.
  if (len < HEADER_LENGTH) return fail("TRUNCATED", len);
  if (len > MAX_MESSAGE_LENGTH) return fail("MESSAGE_TOO_LONG", MAX_MESSAGE_LENGTH);
  // 2. Header.
  if (bytes[0] !== VERSION) return fail("BAD_VERSION", 0);
  const spec = MESSAGES[bytes[1]];
  if (!spec) return fail("UNKNOWN_TYPE", 1);
  const fc = bytes[10];
  const json = { version: VERSION, type: spec.name };
  if (spec.kind === "reply") {
    if (fc === 0) return fail("BAD_CODE", 10);
    json.code = REPLY_CODES[fc] ?? fc;
  } else {
    let allowed = 0;
    for (const bit of Object.keys(spec.flags)) allowed |= +bit;
    if (fc & ~allowed) return fail("BAD_FLAGS", 10);
    json.flags = [];
    for (let bit = 1; bit < 256; bit <<= 1) if (fc & bit) json.flags.push(spec.flags[bit]);
  }
  if (bytes[11] !== 0) return fail("RESERVED_NONZERO", 11);
  json.sequence = u16(bytes, 2);
  json.cookie = hex(bytes.subarray(4, 10));
  json.replayId = hex(bytes.subarray(12, 20));
  json.extensions = [];
  // 3. Extensions.
  const count = {};
  const known = []; // [type, offset] of every known extension, for the Sealed rule
  let authSeen = false;
  let tagLength = 0;
  let o = HEADER_LENGTH;
  while (o < len) {
    if (len - o < 2 || o + 2 + bytes[o + 1] > len) return fail("TRUNCATED", o);
    const type = bytes[o];
    const data = bytes.subarray(o + 2, o + 2 + bytes[o + 1]);
    if (authSeen) return fail("AUTH_NOT_LAST", o);
    const name = EXT_NAME[type];
    if (name === undefined) {
      if (type < 128) return fail("UNKNOWN_MANDATORY_EXTENSION", o);
      json.extensions.push({ type, data: hex(data) });
      o += 2 + data.length;
      continue;
    }
    const mult = spec.ext[name];
    if (mult === undefined) return fail("UNEXPECTED_EXTENSION", o);
    if ((mult === "1" || mult === "?") && count[name]) return fail("DUPLICATE_EXTENSION", o);
    const r = decodeExtension(type, data, o);
    if (!r.ok) return r;
    count[name] = (count[name] ?? 0) + 1;
    known.push([type, o]);
    json.extensions.push(r.ext);
    if (type === EXT.AUTH) {
      authSeen = true;
      tagLength = data.length - 4;
    }
    o += 2 + data.length;
  }
  // 8.11: beside a Sealed extension only the Transferred Address stands in clear,
  // and only it is required until the Sealed extension is opened.
  let required = Object.entries(spec.ext);
  if (count.SEALED) {
    for (const [type, at] of known) {
      if (type !== EXT.TRANSFERRED_ADDRESS && type !== EXT.SEALED && type !== EXT.AUTH) return fail("UNEXPECTED_EXTENSION", at);
    }
    required = required.filter(([name]) => name === "TRANSFERRED_ADDRESS" || name === "AUTH");
  }
  // 4. Required extensions: AUTH first, then the others.
  if (!count.AUTH) return fail("MISSING_AUTH", len);
  for (const [name, mult] of required) {
    if ((mult === "1" || mult === "+") && !count[name]) return fail("MISSING_EXTENSION", len);
  }
  return { ok: true, json, tagLength };
}

/** Section 6.2 steps 2-3 (the SA is given): null if the message decodes and verifies. */
export function verify(bytes, algorithm, key) {
  const r = decode(bytes);
  if (!r.ok) return r.error;
  const a = ALGORITHMS[algorithm];
  if (!a) throw new TypeError(`unknown algorithm ${algorithm}`);
  if (r.tagLength !== a.tagLength) return "AUTH_LENGTH_MISMATCH";
  const covered = bytes.subarray(0, bytes.length - a.tagLength);
  const expect = hmac(algorithm, key, covered);
  const got = bytes.subarray(bytes.length - a.tagLength);
  let diff = 0;
  for (let i = 0; i < expect.length; i++) diff |= expect[i] ^ got[i];
  return diff === 0 ? null : "BAD_AUTHENTICATOR";
}

// ---- encoding (the inverse of decode) --------------------------------------

function need(cond, what) {
  if (!cond) throw new TypeError(what);
}
const isInt = (v, lo, hi) => Number.isInteger(v) && v >= lo && v <= hi;
function bytesOf(text, n, what) {
  const b = unhex(text);
  need(n === undefined || b.length === n, `${what}: ${n} bytes expected`);
  return b;
}
function addressPair(a, b, what) {
  const x = parseAddress(a), y = parseAddress(b);
  need(x.family === y.family, `${what}: both addresses of one family`);
  return [x, y];
}

/** The bytes of one extension (Type, Length, Data) from its JSON. */
export function encodeExtension(e) {
  let data;
  const t = typeof e.type === "number" ? e.type : EXT[e.type];
  need(t !== undefined, `unknown extension ${e.type}`);
  switch (typeof e.type === "number" ? "RAW" : e.type) {
    case "RAW":
      need(isInt(e.type, 0, 255) && !EXT_NAME[e.type], `raw extension type ${e.type}`);
      data = bytesOf(e.data, undefined, "data");
      break;
    case "AUTH":
      need(isInt(e.spi, 0, 0xffffffff), "spi");
      data = concat(be32(e.spi), bytesOf(e.authenticator, undefined, "authenticator"));
      break;
    case "MIGRATION": {
      let pf = 0;
      for (const p of e.protocols) pf |= invert(PROTO_FLAGS)[p] ?? need(false, `protocol ${p}`);
      const [o, n] = addressPair(e.oldAddress, e.newAddress, "MIGRATION");
      need(isInt(e.oldPort, 0, 65535) && isInt(e.newPort, 0, 65535), "ports");
      data = concat([pf, o.family], be16(e.oldPort), be16(e.newPort), o.bytes, n.bytes);
      break;
    }
    case "PATH_CHALLENGE":
    case "PATH_RESPONSE":
      data = bytesOf(e.token, 8, "token");
      break;
    case "LIFETIME":
      need(isInt(e.seconds, 0, 65535), "seconds");
      data = be16(e.seconds);
      break;
    case "TRANSFERRED_ADDRESS":
    case "TARGET_ADDRESS":
    case "AGENT_ADDRESS":
    case "INTERIM_ADDRESS": {
      const a = parseAddress(e.address);
      data = concat([a.family], a.bytes);
      break;
    }
    case "ADDRESS_LEASE": {
      const g = { STATIC: 1, IPV6: 2, DHCP4: 3 }[e.generator];
      need(g, `generator ${e.generator}`);
      need(isInt(e.remaining, 0, 0xffffffff), "remaining");
      const st = bytesOf(e.state, undefined, "state");
      need(st.length <= 200, "state length");
      data = concat([g, 0], be32(e.remaining), st);
      break;
    }
    case "LINK_LAYER_ADDRESS":
      need(isInt(e.hardwareType, 0, 65535), "hardwareType");
      data = concat(be16(e.hardwareType), bytesOf(e.address, undefined, "address"));
      break;
    case "SESSION_KEY": {
      const alg = invert(WRAP)[e.wrap];
      need(alg, `wrap ${e.wrap}`);
      need(isInt(e.wrapSpi, 0, 0xffffffff) && isInt(e.sessionSpi, 0, 0xffffffff), "spis");
      data = concat(
        [alg, 0], be32(e.wrapSpi), be32(e.sessionSpi),
        alg === 2 ? bytesOf(e.ephemeralPublicKey, 32, "ephemeralPublicKey") : [],
        bytesOf(e.nonce, 12, "nonce"), bytesOf(e.sealedKey, 32, "sealedKey"), bytesOf(e.tag, 16, "tag"),
      );
      break;
    }
    case "FLOW": {
      const p = invert(IP_PROTOCOLS)[e.protocol];
      need(p, `protocol ${e.protocol}`);
      const [l, r] = addressPair(e.localAddress, e.remoteAddress, "FLOW");
      need(isInt(e.localPort, 0, 65535) && isInt(e.remotePort, 0, 65535), "ports");
      data = concat([p, l.family], be16(e.localPort), be16(e.remotePort), l.bytes, r.bytes);
      break;
    }
    case "OPAQUE_DATA": {
      const st = typeof e.subtype === "number" ? e.subtype : invert(OPAQUE_SUBTYPES)[e.subtype];
      need(isInt(st, 0, 255), `subtype ${e.subtype}`);
      need(isInt(e.flags, 0, 255), "flags");
      data = concat([st, e.flags], bytesOf(e.data, undefined, "data"));
      break;
    }
    default:
      need(false, `unknown extension ${e.type}`);
  }
  need(data.length <= 255, `${e.type}: data longer than 255 bytes`);
  return concat([t, data.length], data);
}

/** The 20-byte header from the JSON's header fields. */
export function encodeHeader(m) {
  const type = MESSAGE_TYPE[m.type];
  need(type !== undefined, `message type ${m.type}`);
  const spec = MESSAGES[type];
  let fc = 0;
  if (spec.kind === "reply") {
    fc = typeof m.code === "number" ? m.code : REPLY_CODE[m.code];
    need(isInt(fc, 0, 255), `code ${m.code}`);
  } else {
    const byName = invert(spec.flags);
    for (const f of m.flags ?? []) {
      need(byName[f] !== undefined, `flag ${f}`);
      fc |= byName[f];
    }
  }
  need(isInt(m.sequence, 0, 65535), "sequence");
  return concat([m.version ?? VERSION, type], be16(m.sequence), bytesOf(m.cookie, 6, "cookie"), [fc, 0], bytesOf(m.replayId, 8, "replayId"));
}

/**
 * Encodes a message's JSON. Without `auth`, an AUTH extension in the JSON is
 * written as it stands. With `auth` ({ algorithm, key, spi }), every AUTH
 * extension in the JSON is dropped and a fresh one is computed and appended.
 */
export function encode(m, auth) {
  const exts = auth ? m.extensions.filter((e) => e.type !== "AUTH") : m.extensions;
  const body = concat(encodeHeader(m), ...exts.map(encodeExtension));
  if (!auth) return body;
  return sign(body, auth.algorithm, auth.key, auth.spi);
}

/** Appends an AUTH extension with SPI `spi` and the HMAC under algorithm and key. */
export function sign(body, algorithm, key, spi) {
  const a = ALGORITHMS[algorithm];
  const head = concat(body, [EXT.AUTH, 4 + a.tagLength], be32(spi));
  return concat(head, hmac(algorithm, key, head));
}

// ---- cookie (section 3.3) --------------------------------------------------

export class RefError extends Error {
  constructor(name) {
    super(name);
    this.errorName = name;
  }
}

export function cookieFromName(name) {
  const t = new TextEncoder().encode(name);
  if (t.length < 1 || t.length > 255) throw new RefError("INVALID_ARGUMENT");
  const h = createHash("sha256").update(concat(new TextEncoder().encode("handover-cookie/1"), [0], t)).digest();
  return hex(new Uint8Array(h).subarray(0, 6));
}

// ---- replay window (section 6.3) -------------------------------------------

/**
 * The window's semantics without its data structure: the set of accepted
 * numbers within W of the highest. An implementation with a ring of blocks
 * must answer exactly like this.
 */
export class ReplayWindow {
  constructor(bits) {
    if (!Number.isInteger(bits) || bits < 64 || bits > 4096 || bits % 64) throw new RefError("INVALID_ARGUMENT");
    this.bits = bits;
    this.top = -1;
    this.seen = new Set();
  }
  /** The 16-bit number extended to the value closest to top + 1 (RFC 9000 A.3). */
  extend(seq) {
    if (this.top < 0) return 0x10000 | seq;
    const expected = this.top + 1, win = 0x10000, hwin = 0x8000;
    const candidate = (expected - (expected % win)) + seq;
    if (candidate <= expected - hwin) return candidate + win;
    if (candidate > expected + hwin && candidate >= win) return candidate - win;
    return candidate;
  }
  check(seq) {
    if (this.top < 0) return null;
    const x = this.extend(seq);
    if (x > this.top) return null;
    if (this.top - x >= this.bits) return "SEQUENCE_TOO_OLD";
    if (this.seen.has(x)) return "REPLAYED";
    return null;
  }
  update(seq) {
    const x = this.extend(seq);
    if (x > this.top) {
      this.top = x;
      for (const s of this.seen) if (this.top - s >= this.bits) this.seen.delete(s);
    }
    this.seen.add(x);
  }
}

// ---- timestamps (section 6.4) ----------------------------------------------

/** Seconds from 1900-01-01 (NTP era 0) to 1970-01-01. */
export const NTP_UNIX_OFFSET = 2208988800n;

/**
 * |timestamp - now| <= skew, in exact arithmetic (units of 2^-32 s times 1000).
 * The 32-bit seconds are read in the NTP era that puts the timestamp closest to
 * now (RFC 5905 section 6), so that the check works across 2036-02-07.
 */
export function checkTimestamp(idHex, nowMs, skewMs) {
  const id = unhex(idHex);
  const sec = BigInt(u32(id, 0)), frac = BigInt(u32(id, 4));
  const ERA = 1n << 32n;
  // now, in 2^-32 s since era 0, times 1000.
  const now1000 = (BigInt(nowMs) + NTP_UNIX_OFFSET * 1000n) * ERA;
  const nowEra = (BigInt(nowMs) + NTP_UNIX_OFFSET * 1000n) / 1000n / ERA;
  let best = null;
  for (const era of [nowEra - 1n, nowEra, nowEra + 1n]) {
    if (era < 0n) continue;
    const ts1000 = ((era * ERA + sec) * ERA + frac) * 1000n;
    const d = ts1000 > now1000 ? ts1000 - now1000 : now1000 - ts1000;
    if (best === null || d < best) best = d;
  }
  return best <= BigInt(skewMs) * ERA ? null : "STALE_TIMESTAMP";
}

// ---- HKDF-SHA256 (RFC 5869) and the session key wrap (section 4.7) ---------

/** HKDF-Extract: PRK = HMAC-SHA256(salt, IKM). An empty salt is the empty HMAC key. */
export function hkdfExtract(salt, ikm) {
  return new Uint8Array(createHmac("sha256", salt).update(ikm).digest());
}

/** HKDF-Expand: the first `length` bytes of T(1) || T(2) || ..., T(i) = HMAC(PRK, T(i-1) || info || i). */
export function hkdfExpand(prk, info, length) {
  if (!Number.isInteger(length) || length < 0 || length > 255 * 32) throw new RefError("INVALID_ARGUMENT");
  const out = new Uint8Array(length);
  let t = new Uint8Array(0);
  for (let i = 1, o = 0; o < length; i++, o += 32) {
    t = new Uint8Array(createHmac("sha256", prk).update(t).update(info).update(new Uint8Array([i])).digest());
    out.set(t.subarray(0, Math.min(32, length - o)), o);
  }
  return out;
}

/** HKDF-SHA256(IKM, salt, info, L). L above 255 * 32 is INVALID_ARGUMENT. */
export function hkdfSha256(ikm, salt, info, length) {
  if (!Number.isInteger(length) || length < 0 || length > 255 * 32) throw new RefError("INVALID_ARGUMENT");
  return hkdfExpand(hkdfExtract(salt, ikm), info, length);
}

/** Section 4.7: the HKDF info of both wrap algorithms, "handover key-wrap/1" (19 ASCII bytes). */
export const KEY_WRAP_INFO = new TextEncoder().encode("handover key-wrap/1");
/** Section 6.1: the shortest SA key. */
export const MIN_KEY_LENGTH = 16;
/** Section 4.7: body = the extension after the Session SPI; Length = 10 + body. */
export const WRAP_BODY_LENGTH = { 1: 60, 2: 92 };

/** X25519 (RFC 7748); the all-zero result of a low-order point, which @noble refuses, as zeros. */
export function x25519Shared(scalar, u) {
  try {
    return x25519.scalarMult(scalar, u);
  } catch {
    return new Uint8Array(32);
  }
}
/** X25519(scalar, 9). */
export const x25519Public = (scalar) => x25519.scalarMultBase(scalar);

const P25519 = (1n << 255n) - 19n;
/** Section 4.7: R is canonical when, read little-endian, it is below 2^255 - 19. */
export function isCanonicalPublicKey(r) {
  let v = 0n;
  for (let i = r.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(r[i]);
  return v < P25519;
}

const wrapAlg = (wrap) => (typeof wrap === "number" ? wrap : invert(WRAP)[wrap]);
const isSpi = (v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

/** The associated data: header || 42 || Length || Wrap Alg || 0 || Wrap SPI || Session SPI [|| E]. */
export function keyWrapAad(header, alg, wrapSpi, sessionSpi, ephemeralPublic) {
  need(header.length === HEADER_LENGTH, "header of 20 bytes");
  return concat(header, [EXT.SESSION_KEY, 10 + WRAP_BODY_LENGTH[alg], alg, 0], be32(wrapSpi), be32(sessionSpi), alg === 2 ? ephemeralPublic : []);
}

/** Wrap Alg, Wrap SPI, Session SPI, in section 4.7's order. */
function checkWrapFields(alg, wrapSpi, sessionSpi) {
  if (alg !== 1 && alg !== 2) throw new RefError("BAD_VALUE");
  need(isSpi(wrapSpi) && isSpi(sessionSpi), "SPIs are 32-bit integers");
  if (wrapSpi < FIRST_SPI) throw new RefError("BAD_SPI");
  if (sessionSpi < FIRST_SPI) throw new RefError("BAD_SPI");
}

/**
 * Wraps a 32-byte session key (section 4.7). Wrap Alg 1 uses `key` (the wrap
 * SA's key); Wrap Alg 2 `recipientPublic` (R) and `ephemeralPrivate` (e).
 * Returns { body, wrappingKey, sharedSecret? }; throws RefError with the
 * error name (BAD_VALUE, BAD_SPI, INVALID_ARGUMENT, LOW_ORDER_POINT).
 */
export function wrapSessionKey({ header, wrap, wrapSpi, sessionSpi, key, recipientPublic, ephemeralPrivate, nonce, sessionKey }) {
  const alg = wrapAlg(wrap);
  checkWrapFields(alg, wrapSpi, sessionSpi);
  need(nonce.length === 12 && sessionKey.length === 32, "a 12-byte nonce and a 32-byte session key");
  let k, e = new Uint8Array(0), z;
  if (alg === 1) {
    if (key.length < MIN_KEY_LENGTH) throw new RefError("INVALID_ARGUMENT");
    k = hkdfSha256(key, new Uint8Array(0), KEY_WRAP_INFO, 32);
  } else {
    if (recipientPublic.length !== 32 || !isCanonicalPublicKey(recipientPublic)) throw new RefError("INVALID_ARGUMENT");
    need(ephemeralPrivate.length === 32, "a 32-byte ephemeral private key");
    e = x25519Public(ephemeralPrivate);
    z = x25519Shared(ephemeralPrivate, recipientPublic);
    if (z.every((b) => b === 0)) throw new RefError("LOW_ORDER_POINT");
    k = hkdfSha256(z, concat(e, recipientPublic), KEY_WRAP_INFO, 32);
  }
  const aad = keyWrapAad(header, alg, wrapSpi, sessionSpi, e);
  const sealed = chacha20poly1305(k, nonce, aad).encrypt(sessionKey);
  const out = { body: concat(e, nonce, sealed), wrappingKey: k };
  if (z) out.sharedSecret = z;
  return out;
}

/**
 * Unwraps a body ([E ||] nonce || sealed key || tag). `key` is the wrap SA's
 * key (Wrap Alg 1) or the recipient's private key r (Wrap Alg 2). Returns
 * the 32-byte session key; throws RefError in section 4.7's order:
 * BAD_LENGTH, BAD_VALUE, BAD_LENGTH, BAD_SPI, INVALID_ARGUMENT,
 * LOW_ORDER_POINT, KEY_UNWRAP_FAILED.
 */
export function unwrapSessionKey({ header, wrap, wrapSpi, sessionSpi, key, body }) {
  if (body.length !== 60 && body.length !== 92) throw new RefError("BAD_LENGTH");
  const alg = wrapAlg(wrap);
  if (alg !== 1 && alg !== 2) throw new RefError("BAD_VALUE");
  if (body.length !== WRAP_BODY_LENGTH[alg]) throw new RefError("BAD_LENGTH");
  checkWrapFields(alg, wrapSpi, sessionSpi);
  if (alg === 1 ? key.length < MIN_KEY_LENGTH : key.length !== 32) throw new RefError("INVALID_ARGUMENT");
  let k, e = new Uint8Array(0);
  if (alg === 1) {
    k = hkdfSha256(key, new Uint8Array(0), KEY_WRAP_INFO, 32);
  } else {
    e = body.subarray(0, 32);
    const z = x25519Shared(key, e);
    if (z.every((b) => b === 0)) throw new RefError("LOW_ORDER_POINT");
    k = hkdfSha256(z, concat(e, x25519Public(key)), KEY_WRAP_INFO, 32);
  }
  const rest = body.subarray(alg === 2 ? 32 : 0);
  const aad = keyWrapAad(header, alg, wrapSpi, sessionSpi, e);
  try {
    return chacha20poly1305(k, rest.subarray(0, 12), aad).decrypt(rest.subarray(12));
  } catch {
    throw new RefError("KEY_UNWRAP_FAILED");
  }
}
