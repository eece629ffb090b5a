#!/usr/bin/env node
// Generates the conformance vectors of the suites message, cookie,
// replay-window, timestamp, hkdf and keywrap (docs/PROTOCOL.md section 9)
// from the independent reference implementation in reference.js.
//
//   node conformance/tools/generate.js [--out DIR]     (default conformance/vectors)
//
// Deterministic: fixed seeds, keys and times; running it again writes the same
// bytes. Every case is checked against the reference as it is made, so a
// vector cannot say something the reference does not.
//
// tcIds: append new cases at the end of a suite's function; never insert,
// reorder or change a case (a changed case gets a new tcId; see vectorfile.js).
import { mkdirSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import * as R from "./reference.js";
import { VectorFile } from "./vectorfile.js";
import { Prng } from "./prng.js";
import { isMain } from "./main.js";
import { SID_SUITES } from "./generate-sid.js";
import { createHash, hkdfSync } from "node:crypto";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";

const { hex, unhex, concat } = R;
const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = "conformance/tools/generate.js (reference implementation conformance/tools/reference.js, written from docs/PROTOCOL.md)";

function assert(cond, what) {
  if (!cond) throw new Error(`generate: ${what}`);
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// =========================================================================
// message
// =========================================================================

const MESSAGE_NOTES = {
  Typical: { bugType: "BASIC", description: "A typical message of its type." },
  Ipv6: { bugType: "FUNCTIONALITY", description: "IPv6 addresses (family 2, 16 bytes)." },
  Ipv6Text: { bugType: "EDGE_CASE", description: "RFC 5952 text: longest zero run compressed (the first on a tie), a single zero group not compressed, lowercase, IPv4-mapped addresses (and only those) in mixed notation (section 9.3)." },
  Wildcard: { bugType: "FUNCTIONALITY", description: "Migration wildcards: Proto Flags 0 (every protocol, JSON []) and ports 0 (every port), section 4.2." },
  MultipleExtensions: { bugType: "FUNCTIONALITY", description: "Several MIGRATION or FLOW extensions in one message (multiplicity + or *)." },
  OpaqueData: { bugType: "FUNCTIONALITY", description: "OPAQUE_DATA with sub-types of section 12.9, delivered by name." },
  UnknownOpaqueSubtype: { bugType: "EDGE_CASE", description: "An OPAQUE_DATA sub-type not in section 12.9 is delivered as a number (section 4.9)." },
  UnknownSkippable: { bugType: "EDGE_CASE", description: "Extension types 129-255 that version 1 does not define are skipped, in every message type, and stay covered by the authenticator; the JSON gives their type as a number and their data (section 9.3)." },
  ReplyCode: { bugType: "FUNCTIONALITY", description: "Reply codes with a name in section 12.4." },
  UnnamedReplyCode: { bugType: "EDGE_CASE", description: "Reply codes without a name (2-127 reserved for success, unassigned refusals) decode, and the JSON gives the number (section 9.3)." },
  Flags: { bugType: "FUNCTIONALITY", description: "Flag bits of types 16 and 18 (section 12.3), listed from the least significant bit up." },
  SessionKey: { bugType: "FUNCTIONALITY", description: "SESSION_KEY with Wrap Alg 1 (70 bytes) or 2 (102 bytes, with the ephemeral public key); the decoder does not unwrap." },
  LinkLayer: { bugType: "FUNCTIONALITY", description: "LINK_LAYER_ADDRESS of Ethernet (exactly 6 bytes) and of other hardware types (any length from 1 byte)." },
  AddressLease: { bugType: "FUNCTIONALITY", description: "ADDRESS_LEASE (section 8.18): Length 6-206, generator 1-3, reserved 0, remaining lifetime (0xFFFFFFFF: no end) and up to 200 bytes of generator state; only in a Transfer Negotiation Request." },
  ExtensionOrder: { bugType: "EDGE_CASE", description: "Extensions in an order other than section 5.2's: valid (AUTH last); encoding the JSON keeps the order." },
  BoundaryValue: { bugType: "EDGE_CASE", description: "Fields at the ends of their ranges: sequence 0 and 65535, SPI 256 and 2^32-1, lifetime 0 and 65535, ports 1 and 65535, Length 255." },
  MaximumSize: { bugType: "EDGE_CASE", description: "Exactly 1232 bytes, the longest message allowed (section 3.1)." },
  LinkLayerLength: { bugType: "EDGE_CASE", description: "Section 4.6: only Ethernet (hardware type 1) fixes the address length (Length 8); any other hardware type takes any Length from 3 (a 1-byte address) to 255, and Length 2 (no address) is BAD_LENGTH for every type." },
  LongKey: { bugType: "EDGE_CASE", description: "A key longer than the hash's block size, which HMAC hashes first (RFC 2104)." },
  Truncated: { bugType: "MALFORMED", description: "The datagram ends inside the header or inside an extension (TRUNCATED, section 5.1 steps 1 and 3a)." },
  TooLong: { bugType: "MALFORMED", description: "Longer than 1232 bytes (MESSAGE_TOO_LONG)." },
  HeaderField: { bugType: "MODIFIED_PARAMETER", description: "A header field holds a value section 3.2 forbids." },
  ExtensionRules: { bugType: "MALFORMED", description: "Breaks a rule of sections 4.0 and 5.2: unknown mandatory type, extension not allowed in the type, second copy, missing extension, authentication not last." },
  BadLength: { bugType: "MALFORMED", description: "An extension's Length is not valid for its type (or its family or wrap algorithm)." },
  FieldValue: { bugType: "MODIFIED_PARAMETER", description: "An extension field holds a value its section forbids." },
  ErrorOrder: { bugType: "EDGE_CASE", description: "Two faults: the expected error is the first in section 5.1's order (and, within an extension, its section's order)." },
  ModifiedMessage: { bugType: "AUTH_BYPASS", description: "A byte covered by the authenticator changed after signing (BAD_AUTHENTICATOR)." },
  ModifiedTag: { bugType: "AUTH_BYPASS", description: "The authenticator itself changed (BAD_AUTHENTICATOR)." },
  WrongKey: { bugType: "AUTH_BYPASS", description: "Signed with a key other than the group's (BAD_AUTHENTICATOR)." },
  WrongPrimitive: { bugType: "WRONG_PRIMITIVE", description: "The tag was computed with another construction or over other bytes than section 4.1 says (header up to and including the SPI, HMAC)." },
  AuthLength: { bugType: "MODIFIED_PARAMETER", description: "The authenticator's length does not fit the group's algorithm (AUTH_LENGTH_MISMATCH, checked before the value)." },
};

const COOKIE_M = R.cookieFromName("m.example"); // 1eae5683abb6, section 3.3
const COOKIE_F = R.cookieFromName("f.example");
const RID = "e8a1b2c300000000";

/** A message's JSON (without AUTH) in canonical key order. */
function msg(type, { flags, code, seq = 7, cookie = COOKIE_M, rid = RID, ext = [] } = {}) {
  const spec = R.MESSAGES[R.MESSAGE_TYPE[type]];
  const m = { version: 1, type };
  if (spec.kind === "reply") m.code = code ?? "ACCEPTED";
  else m.flags = flags ?? [];
  m.sequence = seq;
  m.cookie = cookie;
  m.replayId = rid;
  m.extensions = ext;
  return m;
}

// Extension JSON.
const mig = (protocols, oldAddress, newAddress, oldPort, newPort = oldPort) => ({ type: "MIGRATION", protocols, oldAddress, newAddress, oldPort, newPort });
const challenge = (token) => ({ type: "PATH_CHALLENGE", token });
const response = (token) => ({ type: "PATH_RESPONSE", token });
const life = (seconds) => ({ type: "LIFETIME", seconds });
const addr = (type, address) => ({ type, address });
const transferred = (a) => addr("TRANSFERRED_ADDRESS", a);
const target = (a) => addr("TARGET_ADDRESS", a);
const agent = (a) => addr("AGENT_ADDRESS", a);
const interim = (a) => addr("INTERIM_ADDRESS", a);
const link = (hardwareType, address) => ({ type: "LINK_LAYER_ADDRESS", hardwareType, address });
const flow = (protocol, localAddress, localPort, remoteAddress, remotePort) => ({ type: "FLOW", protocol, localAddress, localPort, remoteAddress, remotePort });
const opaque = (subtype, flags, data) => ({ type: "OPAQUE_DATA", subtype, flags, data });
const unknown = (type, data) => ({ type, data });
function sessionKey(rng, wrap = 1, wrapSpi = 0x1001, sessionSpi = 0x2002) {
  const e = { type: "SESSION_KEY", wrap: R.WRAP[wrap], wrapSpi, sessionSpi };
  if (wrap === 2) e.ephemeralPublicKey = hex(rng.bytes(32));
  e.nonce = hex(rng.bytes(12));
  e.sealedKey = hex(rng.bytes(32));
  e.tag = hex(rng.bytes(16));
  return e;
}
const utf8 = (s) => hex(new TextEncoder().encode(s));

/** A header with any field values (the encoder refuses invalid ones). */
function header({ v = 1, type, seq = 7, cookie = COOKIE_M, fc = 0, res = 0, rid = RID }) {
  const t = typeof type === "string" ? R.MESSAGE_TYPE[type] : type;
  return concat([v, t, seq >> 8, seq & 255], unhex(cookie), [fc, res], unhex(rid));
}
/** An extension with its correct Length. */
const raw = (type, ...parts) => {
  const d = concat(...parts.map((p) => (typeof p === "string" ? unhex(p) : p)));
  return concat([type, d.length], d);
};
/** An extension with an explicit Length byte. */
const rawL = (type, len, ...parts) => concat([type, len], ...parts.map((p) => (typeof p === "string" ? unhex(p) : p)));
const X = (json) => R.encodeExtension(json);
const be32 = (v) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];

function messageSuite() {
  const f = new VectorFile({
    suite: "message",
    description:
      "Control messages (sections 3-5): valid messages decode to the canonical JSON of section 9.3, verify under the group's key, and that JSON encodes back to exactly the same bytes; invalid ones fail to decode, or to verify, with the first error in section 5.1's order.",
    source: SOURCE,
    seed: 0x6d657373,
    notes: MESSAGE_NOTES,
  });
  const seedKeys = new Prng(0x4b455953);
  const mk = (alg, key, spi) => ({ algorithm: alg, key: hex(key), spi });
  const G = {
    sha256: f.group(mk("HMAC_SHA256", seedKeys.bytes(32), 256)),
    sha1: f.group(mk("HMAC_SHA1", seedKeys.bytes(20), 0x12345678)),
    md5: f.group(mk("HMAC_MD5", seedKeys.bytes(16), 0xabcd)),
    sha256long: f.group(mk("HMAC_SHA256", seedKeys.bytes(100), 0xffffffff)),
    md5long: f.group(mk("HMAC_MD5", seedKeys.bytes(80), 4346)),
    sha1long: f.group(mk("HMAC_SHA1", seedKeys.bytes(65), 0x10000)),
  };
  const authOf = (g) => ({ algorithm: g.algorithm, key: unhex(g.key), spi: g.spi });

  /** A valid case: m (without AUTH) is encoded and signed under the group. */
  function valid(g, comment, flags, m) {
    return f.add(g, (rng) => {
      const json = typeof m === "function" ? m(rng) : m;
      const bytes = R.encode(json, authOf(g));
      const r = R.decode(bytes);
      assert(r.ok, `${comment}: reference rejects it: ${r.error}`);
      assert(R.verify(bytes, g.algorithm, unhex(g.key)) === null, `${comment}: does not verify`);
      const withoutAuth = { ...r.json, extensions: r.json.extensions.filter((e) => e.type !== "AUTH") };
      assert(same(withoutAuth, json), `${comment}: not canonical:\n${JSON.stringify(withoutAuth)}\n${JSON.stringify(json)}`);
      assert(hex(R.encode(r.json)) === hex(bytes), `${comment}: does not re-encode`);
      assert(bytes.length <= R.MAX_MESSAGE_LENGTH, `${comment}: too long`);
      return { comment, flags, message: hex(bytes), result: "valid", json: r.json };
    });
  }
  /** An invalid case: make(rng) gives the bytes; the reference must fail with error. */
  function invalid(g, comment, flags, error, make) {
    return f.add(g, (rng) => {
      const bytes = typeof make === "function" ? make(rng) : make;
      const got = R.verify(bytes, g.algorithm, unhex(g.key));
      assert(got === error, `${comment}: reference says ${got}, expected ${error}: ${hex(bytes)}`);
      return { comment, flags, message: hex(bytes), result: "invalid", error };
    });
  }
  const sign = (g, ...parts) => R.sign(concat(...parts), g.algorithm, unhex(g.key), g.spi);
  const signSpi = (g, spi, ...parts) => R.sign(concat(...parts), g.algorithm, unhex(g.key), spi);
  const signed = (g, m) => R.encode(m, authOf(g));

  const g = G.sha256;
  const tok = (rng) => hex(rng.bytes(8));

  // ---- valid: every message type, typical extension sets (HMAC-SHA256) ----
  valid(g, "Registration Request, authentication only", ["Typical"], msg("REGISTRATION_REQUEST"));
  valid(g, "Registration Request asking a lifetime of 3600 s", ["Typical"], msg("REGISTRATION_REQUEST", { seq: 1, ext: [life(3600)] }));
  valid(g, "Registration Request with lifetime 0 and a location", ["Typical", "OpaqueData", "BoundaryValue"], msg("REGISTRATION_REQUEST", { seq: 2, ext: [life(0), opaque("LOCATION", 0, utf8("geo:48.2010,16.3695"))] }));
  valid(g, "Registration Reply accepting, granting 3600 s", ["Typical", "ReplyCode"], msg("REGISTRATION_REPLY", { seq: 1, ext: [life(3600)] }));
  valid(g, "Registration Reply 133 (timestamp resynchronisation)", ["Typical", "ReplyCode"], msg("REGISTRATION_REPLY", { seq: 1, code: "IDENTIFICATION_MISMATCH", rid: "e8a1b2d000000000" }));
  valid(g, "Migration Request, one IPv4 TCP session", ["Typical"], msg("MIGRATION_REQUEST", { ext: [mig(["TCP"], "198.18.0.2", "198.18.1.2", 5001)] }));
  valid(g, "Migration Request, one IPv6 UDP flow with a new port", ["Typical", "Ipv6"], msg("MIGRATION_REQUEST", { seq: 8, ext: [mig(["UDP"], "2001:db8::2", "2001:db8:1::2", 5353, 40000)] }));
  valid(g, "Migration Request, wildcard: every protocol and port of the address", ["Wildcard"], msg("MIGRATION_REQUEST", { seq: 9, ext: [mig([], "198.18.0.2", "198.18.1.2", 0)] }));
  valid(g, "Migration Request, TCP and UDP on one port", ["Typical"], msg("MIGRATION_REQUEST", { seq: 10, ext: [mig(["TCP", "UDP"], "198.18.0.2", "198.18.1.2", 443)] }));
  valid(g, "Migration Request, IPv6 wildcard", ["Wildcard", "Ipv6"], msg("MIGRATION_REQUEST", { seq: 11, ext: [mig([], "2001:db8::2", "2001:db8:2::2", 0)] }));
  valid(g, "Migration Request, three mappings (IPv4, IPv4 wildcard, IPv6)", ["MultipleExtensions", "Wildcard", "Ipv6"], msg("MIGRATION_REQUEST", {
    seq: 12,
    ext: [mig(["TCP"], "198.18.0.2", "198.18.1.2", 5001), mig([], "198.18.0.3", "198.18.1.3", 0), mig(["UDP"], "2001:db8::2", "2001:db8:1::2", 5353)],
  }));
  valid(g, "Migration Request, old equal to new (a valid no-op)", ["Typical"], msg("MIGRATION_REQUEST", { seq: 13, ext: [mig(["TCP"], "198.18.0.2", "198.18.0.2", 5001)] }));
  valid(g, "Migration Request, IPv4-mapped IPv6 addresses", ["Ipv6Text"], msg("MIGRATION_REQUEST", { seq: 14, ext: [mig(["TCP"], "::ffff:198.18.0.2", "::ffff:198.18.1.2", 22)] }));
  valid(g, "Migration Request, ports 1 and 65535", ["BoundaryValue"], msg("MIGRATION_REQUEST", { seq: 15, ext: [mig(["TCP"], "198.18.0.2", "198.18.1.2", 1, 65535)] }));
  valid(g, "Migration Request with signal quality for the application", ["OpaqueData"], msg("MIGRATION_REQUEST", { seq: 16, ext: [mig(["TCP"], "198.18.0.2", "198.18.1.2", 5001), opaque("SIGNAL_QUALITY", 0, "1a")] }));
  valid(g, "Migration Reply accepting, with a path challenge", ["Typical", "ReplyCode"], (rng) => msg("MIGRATION_REPLY", { seq: 9, cookie: COOKIE_F, ext: [challenge(tok(rng))] }));
  valid(g, "Migration Reply refusing: address not allowed", ["ReplyCode"], msg("MIGRATION_REPLY", { seq: 9, cookie: COOKIE_F, code: "ADDRESS_NOT_ALLOWED" }));
  valid(g, "Migration Confirm echoing the challenge", ["Typical"], (rng) => msg("MIGRATION_CONFIRM", { seq: 10, ext: [response(tok(rng))] }));
  valid(g, "Transfer Negotiation Request, minimal (transferred address)", ["Typical"], msg("TRANSFER_NEGOTIATION_REQUEST", { seq: 100, ext: [transferred("198.18.0.10")] }));
  valid(g, "Transfer Negotiation Request, agent, interim address, session key, lifetime, F", ["Typical", "Flags", "SessionKey"], (rng) =>
    msg("TRANSFER_NEGOTIATION_REQUEST", { seq: 101, flags: ["FURTHER_TRANSFER"], ext: [life(600), transferred("198.18.0.10"), agent("198.18.5.1"), interim("198.18.7.10"), sessionKey(rng)] }));
  valid(g, "Transfer Negotiation Request, same subnet (S) with link-layer address", ["Flags", "LinkLayer"], msg("TRANSFER_NEGOTIATION_REQUEST", { seq: 102, flags: ["SAME_SUBNET"], ext: [transferred("198.18.0.10"), link(1, "020000000a01")] }));
  valid(g, "Transfer Negotiation Request, per flow (P): two flows (TCP IPv4, UDP IPv6)", ["Flags", "MultipleExtensions", "Ipv6"], msg("TRANSFER_NEGOTIATION_REQUEST", {
    seq: 103, flags: ["PER_FLOW"],
    ext: [transferred("198.18.0.10"), agent("198.18.5.1"), interim("198.18.7.10"), flow("TCP", "198.18.0.10", 40001, "203.0.113.5", 443), flow("UDP", "2001:db8::10", 5004, "2001:db8:ffff::5", 5004)],
  }));
  valid(g, "Transfer Negotiation Request, X25519-wrapped session key, all flags", ["Flags", "SessionKey"], (rng) =>
    msg("TRANSFER_NEGOTIATION_REQUEST", { seq: 104, flags: ["FURTHER_TRANSFER", "SAME_SUBNET", "PER_FLOW"], ext: [transferred("2001:db8::10"), link(1, "020000000a01"), sessionKey(rng, 2), flow("TCP", "2001:db8::10", 22, "2001:db8::99", 50000)] }));
  valid(g, "Transfer Negotiation Reply accepting, naming the target address", ["Typical", "Ipv6"], msg("TRANSFER_NEGOTIATION_REPLY", { seq: 100, cookie: COOKIE_F, ext: [target("2001:db8:3::7")] }));
  valid(g, "Transfer Negotiation Reply refusing", ["ReplyCode"], msg("TRANSFER_NEGOTIATION_REPLY", { seq: 101, cookie: COOKIE_F, code: "ADMINISTRATIVELY_PROHIBITED" }));
  valid(g, "Transfer Request, minimal (transferred, target, session key)", ["Typical", "SessionKey"], (rng) => msg("TRANSFER_REQUEST", { seq: 200, ext: [transferred("198.18.0.10"), target("198.18.9.20"), sessionKey(rng)] }));
  valid(g, "Transfer Request, everything: lifetime, link-layer, interim, flows, F R P", ["Typical", "Flags", "MultipleExtensions", "SessionKey", "LinkLayer"], (rng) =>
    msg("TRANSFER_REQUEST", {
      seq: 201, flags: ["FURTHER_TRANSFER", "REVERSE_TUNNEL", "PER_FLOW"],
      ext: [life(600), transferred("198.18.0.10"), target("198.18.9.20"), interim("198.18.7.10"), link(1, "020000000a01"), sessionKey(rng, 2, 0x3003, 0x4004),
        flow("TCP", "198.18.0.10", 40001, "203.0.113.5", 443), flow("TCP", "198.18.0.10", 40002, "203.0.113.5", 443), flow("UDP", "198.18.0.10", 5060, "203.0.113.6", 5060)],
    }));
  valid(g, "Transfer Reply accepting, granting 600 s", ["Typical", "ReplyCode"], msg("TRANSFER_REPLY", { seq: 200, cookie: COOKIE_F, ext: [life(600)] }));
  valid(g, "Transfer Reply refusing: address in use", ["ReplyCode"], msg("TRANSFER_REPLY", { seq: 200, cookie: COOKIE_F, code: "ADDRESS_IN_USE" }));
  valid(g, "Binding Update renewing for 600 s", ["Typical"], msg("BINDING_UPDATE", { seq: 300, ext: [transferred("198.18.0.10"), life(600)] }));
  valid(g, "Binding Update with lifetime 0 (ends the binding)", ["Typical", "BoundaryValue"], msg("BINDING_UPDATE", { seq: 301, ext: [transferred("2001:db8::10"), life(0)] }));
  valid(g, "Binding Ack with the new lifetime", ["Typical", "ReplyCode"], msg("BINDING_ACK", { seq: 300, cookie: COOKIE_F, ext: [life(600)] }));
  valid(g, "Wake-up", ["Typical"], msg("WAKE_UP", { seq: 400, cookie: COOKIE_F, ext: [transferred("198.18.0.10")] }));
  valid(g, "Wake-up Ack", ["Typical", "ReplyCode"], msg("WAKE_UP_ACK", { seq: 400 }));
  valid(g, "Stop Transfer", ["Typical"], msg("STOP_TRANSFER", { seq: 500, ext: [transferred("198.18.0.10")] }));
  valid(g, "Stop Transfer Reply", ["Typical", "ReplyCode"], msg("STOP_TRANSFER_REPLY", { seq: 500, cookie: COOKIE_F }));

  // ---- flags: every combination in types 16 and 18 ----
  for (const type of ["TRANSFER_NEGOTIATION_REQUEST", "TRANSFER_REQUEST"]) {
    const names = R.MESSAGES[R.MESSAGE_TYPE[type]].flags;
    for (const bits of [0, 1, 2, 3, 4, 5, 6, 7]) {
      const flags = [1, 2, 4].filter((b) => bits & b).map((b) => names[b]);
      valid(g, `${type} with flags 0x0${bits}${flags.length ? " (" + flags.join(", ") + ")" : ""}`, ["Flags"], (rng) =>
        msg(type, { seq: 600 + bits, flags, ext: type === "TRANSFER_REQUEST" ? [transferred("198.18.0.10"), target("198.18.9.20"), sessionKey(rng)] : [transferred("198.18.0.10")] }));
    }
  }

  // ---- reply codes: every name, and numbers without one ----
  const replyTypes = Object.values(R.MESSAGES).filter((s) => s.kind === "reply").map((s) => s.name);
  Object.values(R.REPLY_CODES).forEach((code, i) => {
    const type = replyTypes[i % replyTypes.length];
    valid(g, `${type} with code ${code}`, ["ReplyCode"], msg(type, { seq: 700 + i, code }));
  });
  [2, 127, 132, 138, 139, 144, 200, 255].forEach((code, i) => {
    const type = replyTypes[(i + 3) % replyTypes.length];
    valid(g, `${type} with code ${code}, which has no name`, ["UnnamedReplyCode"], msg(type, { seq: 720 + i, code }));
  });

  // ---- opaque data and unknown skippable extensions ----
  valid(g, "Opaque data of every named sub-type", ["OpaqueData", "MultipleExtensions"], msg("MIGRATION_REQUEST", {
    seq: 800,
    ext: [mig(["TCP"], "198.18.0.2", "198.18.1.2", 5001), opaque("LOCATION", 0, utf8("geo:37.786971,-122.399677")), opaque("SIGNAL_QUALITY", 0, "f6"),
      opaque("CONNECTION_QUALITY", 0, utf8("good")), opaque("FIXED_ENDPOINT", 0, utf8("server.example")), opaque("APPLICATION", 0x5a, "00010203")],
  }));
  valid(g, "Opaque data of unknown sub-types 0, 5 and 254 (delivered as numbers)", ["UnknownOpaqueSubtype"], msg("REGISTRATION_REQUEST", { seq: 801, ext: [opaque(0, 0, "aa"), opaque(5, 1, ""), opaque(254, 255, "bbcc")] }));
  valid(g, "Opaque data with empty data and flags 0xff", ["OpaqueData", "BoundaryValue"], msg("STOP_TRANSFER_REPLY", { seq: 802, ext: [opaque("LOCATION", 255, "")] }));
  valid(g, "Opaque data of Length 255 (253 data bytes)", ["OpaqueData", "BoundaryValue"], (rng) => msg("WAKE_UP_ACK", { seq: 803, ext: [opaque("APPLICATION", 0, hex(rng.bytes(253)))] }));
  valid(g, "Unknown skippable extension 129, empty", ["UnknownSkippable"], msg("REGISTRATION_REQUEST", { seq: 804, ext: [unknown(129, "")] }));
  valid(g, "Unknown skippable extensions 200 and 255 between known ones", ["UnknownSkippable", "ExtensionOrder"], msg("MIGRATION_REQUEST", {
    seq: 805, ext: [unknown(200, "0102"), mig(["TCP"], "198.18.0.2", "198.18.1.2", 5001), unknown(255, "ff")],
  }));
  valid(g, "Unknown skippable extension 255 of Length 255", ["UnknownSkippable", "BoundaryValue"], (rng) => msg("BINDING_ACK", { seq: 806, ext: [unknown(255, hex(rng.bytes(255)))] }));
  valid(g, "Unknown skippable extension in a Migration Confirm (which allows no OPAQUE_DATA)", ["UnknownSkippable"], (rng) => msg("MIGRATION_CONFIRM", { seq: 807, ext: [response(tok(rng)), unknown(130, "00")] }));
  valid(g, "Several copies of one unknown skippable type", ["UnknownSkippable"], msg("WAKE_UP", { seq: 808, ext: [transferred("198.18.0.10"), unknown(129, "01"), unknown(129, "02"), unknown(129, "03")] }));

  // ---- extension order ----
  valid(g, "Opaque data before the migration extension", ["ExtensionOrder"], msg("MIGRATION_REQUEST", { seq: 900, ext: [opaque("LOCATION", 0, utf8("here")), mig(["TCP"], "198.18.0.2", "198.18.1.2", 5001)] }));
  valid(g, "Binding Update with lifetime before transferred address, then opaque", ["ExtensionOrder"], msg("BINDING_UPDATE", { seq: 901, ext: [life(30), transferred("198.18.0.10"), opaque("SIGNAL_QUALITY", 0, "10")] }));
  valid(g, "Transfer Request with its extensions in reverse order", ["ExtensionOrder", "SessionKey"], (rng) => msg("TRANSFER_REQUEST", { seq: 902, ext: [sessionKey(rng), target("198.18.9.20"), transferred("198.18.0.10"), life(120)] }));

  // ---- addresses: RFC 5952 text ----
  const v6cases = [
    ["::", "the unspecified address"],
    ["::1", "loopback: leading run"],
    ["2001:db8::", "trailing run"],
    ["2001:db8::1:0:0:1", "two runs of two: the first is compressed"],
    ["2001:0:0:1::1", "runs of two and three: the longer is compressed"],
    ["2001:db8:0:1:1:1:1:1", "a single zero group is not compressed"],
    ["2001:db8:1:2:3:4:5:6", "no zero group"],
    ["fe80::1:a:bc:def", "leading zeros of groups suppressed, lowercase"],
    ["::ffff:0.0.0.0", "IPv4-mapped 0.0.0.0"],
    ["::ffff:255.255.255.255", "IPv4-mapped broadcast"],
    ["::ffff:0:c612:1", "IPv4-translated (::ffff:0:0:0/96) is not IPv4-mapped: no mixed notation"],
    ["64:ff9b::c612:1", "NAT64 well-known prefix: no mixed notation"],
    ["::c612:1", "IPv4-compatible (deprecated): no mixed notation"],
    ["::1:ffff:c612:1", "looks mapped but is not"],
    ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "all ones"],
    ["1:0:0:2::3", "a later, longer run wins"],
    ["0:1:2:3:4:5:6:0", "zero groups at both ends, each alone"],
  ];
  v6cases.forEach(([a, why], i) => {
    valid(g, `IPv6 text ${a}: ${why}`, ["Ipv6Text"], msg("WAKE_UP", { seq: 1000 + i, ext: [transferred(a)] }));
  });
  valid(g, "IPv4 0.0.0.0 and 255.255.255.255 (usability is decided after authentication)", ["BoundaryValue"], msg("MIGRATION_REQUEST", { seq: 1100, ext: [mig(["UDP"], "0.0.0.0", "255.255.255.255", 53)] }));
  valid(g, "Flow and migration in IPv6 with mixed-notation addresses", ["Ipv6Text"], msg("TRANSFER_NEGOTIATION_REQUEST", {
    seq: 1101, flags: ["PER_FLOW"], ext: [transferred("::ffff:198.18.0.10"), flow("UDP", "::ffff:198.18.0.10", 1, "::ffff:203.0.113.9", 65535)],
  }));

  // ---- link-layer addresses ----
  valid(g, "Link-layer address of hardware type 6 (IEEE 802)", ["LinkLayer"], msg("TRANSFER_REQUEST", { seq: 1200, ext: [transferred("198.18.0.10"), target("198.18.9.20"), link(6, "020000000a02"), sessionKeyFixed()] }));
  valid(g, "Link-layer address of hardware type 32 (InfiniBand, 20 bytes)", ["LinkLayer"], (rng) => msg("TRANSFER_NEGOTIATION_REQUEST", { seq: 1201, ext: [transferred("198.18.0.10"), link(32, hex(rng.bytes(20)))] }));
  valid(g, "Link-layer address of one byte (Length 3, the minimum)", ["LinkLayer", "BoundaryValue"], msg("TRANSFER_NEGOTIATION_REQUEST", { seq: 1202, ext: [transferred("198.18.0.10"), link(0xffff, "07")] }));

  // ---- header and SPI boundaries ----
  valid(g, "Sequence 0, cookie and replay ID all zero", ["BoundaryValue"], msg("REGISTRATION_REQUEST", { seq: 0, cookie: "000000000000", rid: "0000000000000000" }));
  valid(g, "Sequence 65535, cookie and replay ID all ones", ["BoundaryValue"], msg("REGISTRATION_REPLY", { seq: 65535, cookie: "ffffffffffff", rid: "ffffffffffffffff", ext: [life(65535)] }));
  valid(g, "Largest message: 1232 bytes", ["MaximumSize"], (rng) => maximum(rng, 0));
  valid(g, "Session key SPIs 256 and 2^32-1", ["BoundaryValue", "SessionKey"], (rng) => msg("TRANSFER_REQUEST", { seq: 1300, ext: [transferred("198.18.0.10"), target("198.18.9.20"), sessionKey(rng, 1, 256, 0xffffffff)] }));

  // ---- every message type under each of the other keys and algorithms ----
  for (const key of ["sha1", "md5", "sha256long", "md5long", "sha1long"]) {
    for (const spec of Object.values(R.MESSAGES)) {
      const flags = key.endsWith("long") ? ["LongKey"] : ["Typical"];
      valid(G[key], `${spec.name} under ${G[key].algorithm}${key.endsWith("long") ? ` (${unhex(G[key].key).length}-byte key)` : ""}, SPI ${G[key].spi}`, flags, (rng) => minimal(spec.name, rng, 1400));
    }
  }

  // ---- invalid: TRUNCATED ----
  const base = () => signed(g, msg("MIGRATION_REQUEST", { ext: [mig(["TCP"], "198.18.0.2", "198.18.1.2", 5001)] }));
  invalid(g, "empty datagram", ["Truncated"], "TRUNCATED", new Uint8Array(0));
  invalid(g, "one byte", ["Truncated"], "TRUNCATED", new Uint8Array([1]));
  invalid(g, "19 bytes: the header less one byte", ["Truncated"], "TRUNCATED", () => base().subarray(0, 19));
  invalid(g, "a header and one byte of an extension", ["Truncated"], "TRUNCATED", () => base().subarray(0, 21));
  invalid(g, "the last byte of the authenticator missing", ["Truncated"], "TRUNCATED", () => base().subarray(0, base().length - 1));
  invalid(g, "ends inside the migration extension", ["Truncated"], "TRUNCATED", () => base().subarray(0, 30));
  invalid(g, "unknown skippable extension whose Length runs past the end", ["Truncated", "UnknownSkippable"], "TRUNCATED", () => concat(header({ type: 1 }), rawL(200, 10, "0102")));
  invalid(g, "opaque data whose Length runs past the end", ["Truncated"], "TRUNCATED", () => concat(header({ type: 1 }), rawL(128, 255, "0100")));
  invalid(g, "authentication extension of Length 36 with 10 bytes", ["Truncated"], "TRUNCATED", () => concat(header({ type: 23, fc: 1 }), rawL(32, 36, "00000100", "00112233445566")));
  invalid(g, "a trailing single byte after the authentication extension", ["Truncated", "ErrorOrder"], "TRUNCATED", () => concat(base(), [128]));

  // ---- MESSAGE_TOO_LONG ----
  invalid(g, "1233 bytes, otherwise valid", ["TooLong"], "MESSAGE_TOO_LONG", (rng) => signed(g, maximum(rng, 1)));
  invalid(g, "1500 bytes (an Ethernet MTU), otherwise valid", ["TooLong"], "MESSAGE_TOO_LONG", (rng) => {
    const m = msg("REGISTRATION_REQUEST", { ext: [] });
    for (let i = 0; i < 5; i++) m.extensions.push(opaque("APPLICATION", 0, hex(rng.bytes(253))));
    m.extensions.push(opaque("APPLICATION", 0, hex(rng.bytes(1500 - 20 - 5 * 257 - 38 - 4))));
    return signed(g, m);
  });

  // ---- header fields ----
  for (const v of [0, 2, 255]) invalid(g, `version ${v}`, ["HeaderField"], "BAD_VERSION", () => sign(g, header({ v, type: 23, fc: 1 })));
  for (const t of [0, 6, 15, 26, 255]) invalid(g, `message type ${t}`, ["HeaderField"], "UNKNOWN_TYPE", () => sign(g, header({ type: t })));
  const flagCases = [
    [1, 0x01], [3, 0x80], [5, 0x01], [16, 0x10], [16, 0x80], [18, 0xf8], [20, 0x02], [22, 0x04], [24, 0x01],
  ];
  for (const [t, fc] of flagCases) {
    invalid(g, `${R.MESSAGES[t].name} with undefined flag bits 0x${fc.toString(16).padStart(2, "0")}`, ["HeaderField"], "BAD_FLAGS", (rng) => sign(g, header({ type: t, fc }), requiredRaw(t, rng)));
  }
  for (const t of [2, 4, 17, 19, 21, 23, 25]) {
    invalid(g, `${R.MESSAGES[t].name} with code 0`, ["HeaderField"], "BAD_CODE", () => sign(g, header({ type: t, fc: 0 })));
  }
  for (const res of [0x01, 0x80, 0xff]) invalid(g, `header Reserved 0x${res.toString(16).padStart(2, "0")}`, ["HeaderField"], "RESERVED_NONZERO", () => sign(g, header({ type: 23, fc: 1, res })));

  // ---- extension rules ----
  const ack = (extra = {}) => header({ type: 23, fc: 1, ...extra }); // WAKE_UP_ACK: only AUTH required
  invalid(g, "opaque data after the authentication extension", ["ExtensionRules"], "AUTH_NOT_LAST", () => concat(sign(g, ack()), X(opaque("LOCATION", 0, ""))));
  invalid(g, "unknown skippable extension after the authentication extension", ["ExtensionRules", "UnknownSkippable"], "AUTH_NOT_LAST", () => concat(sign(g, ack()), raw(200)));
  invalid(g, "two authentication extensions", ["ExtensionRules", "ErrorOrder"], "AUTH_NOT_LAST", () => sign(g, sign(g, ack())));
  invalid(g, "migration extension after the authentication extension", ["ExtensionRules", "ErrorOrder"], "AUTH_NOT_LAST", () => concat(sign(g, header({ type: 3 })), X(mig(["TCP"], "198.18.0.2", "198.18.1.2", 5001))));
  // 45 was the first unassigned type until ADDRESS_LEASE (section 8.18) took it: the vector names 100 now.
  for (const t of [0, 1, 31, 100, 127]) {
    invalid(g, `unknown mandatory extension type ${t}`, ["ExtensionRules"], "UNKNOWN_MANDATORY_EXTENSION", () => sign(g, ack(), raw(t, "00")));
  }
  const unexpected = [
    [1, mig(["TCP"], "198.18.0.2", "198.18.1.2", 5001), "MIGRATION in a Registration Request"],
    [3, challenge("0001020304050607"), "PATH_CHALLENGE in a Migration Request"],
    [4, response("0001020304050607"), "PATH_RESPONSE in a Migration Reply"],
    [5, opaque("LOCATION", 0, ""), "OPAQUE_DATA in a Migration Confirm"],
    [16, target("198.18.9.20"), "TARGET_ADDRESS in a Transfer Negotiation Request"],
    [18, agent("198.18.5.1"), "AGENT_ADDRESS in a Transfer Request"],
    [20, sessionKeyFixed(), "SESSION_KEY in a Binding Update"],
    [22, life(10), "LIFETIME in a Wake-up"],
    [23, transferred("198.18.0.10"), "TRANSFERRED_ADDRESS in a Wake-up Ack"],
    [17, flow("TCP", "198.18.0.10", 1, "198.18.0.11", 2), "FLOW in a Transfer Negotiation Reply"],
  ];
  for (const [t, e, what] of unexpected) {
    invalid(g, what, ["ExtensionRules"], "UNEXPECTED_EXTENSION", (rng) => sign(g, header({ type: t, fc: R.MESSAGES[t].kind === "reply" ? 1 : 0 }), X(e), requiredRaw(t, rng)));
  }
  const duplicates = [
    [1, [life(1), life(2)], "two LIFETIME in a Registration Request"],
    [4, [challenge("0001020304050607"), challenge("0001020304050607")], "two PATH_CHALLENGE in a Migration Reply"],
    [5, [response("0001020304050607"), response("0001020304050608")], "two PATH_RESPONSE in a Migration Confirm"],
    [20, [transferred("198.18.0.10"), life(5), transferred("198.18.0.10")], "two TRANSFERRED_ADDRESS in a Binding Update"],
    [17, [target("198.18.9.20"), target("198.18.9.21")], "two TARGET_ADDRESS in a Transfer Negotiation Reply"],
    [18, [transferred("198.18.0.10"), target("198.18.9.20"), sessionKeyFixed(), sessionKeyFixed()], "two SESSION_KEY in a Transfer Request"],
    [16, [transferred("198.18.0.10"), link(1, "020000000a01"), link(1, "020000000a02")], "two LINK_LAYER_ADDRESS in a Transfer Negotiation Request"],
  ];
  for (const [t, es, what] of duplicates) {
    invalid(g, what, ["ExtensionRules"], "DUPLICATE_EXTENSION", () => sign(g, header({ type: t, fc: R.MESSAGES[t].kind === "reply" ? 1 : 0 }), ...es.map(X)));
  }
  const missing = [
    [3, [], "Migration Request without MIGRATION"],
    [3, [opaque("LOCATION", 0, "")], "Migration Request with only opaque data"],
    [5, [], "Migration Confirm without PATH_RESPONSE"],
    [16, [agent("198.18.5.1")], "Transfer Negotiation Request without TRANSFERRED_ADDRESS"],
    [18, [transferred("198.18.0.10"), sessionKeyFixed()], "Transfer Request without TARGET_ADDRESS"],
    [18, [transferred("198.18.0.10"), target("198.18.9.20")], "Transfer Request without SESSION_KEY"],
    [20, [transferred("198.18.0.10")], "Binding Update without LIFETIME"],
    [20, [life(600)], "Binding Update without TRANSFERRED_ADDRESS"],
    [22, [], "Wake-up without TRANSFERRED_ADDRESS"],
    [24, [], "Stop Transfer without TRANSFERRED_ADDRESS"],
  ];
  for (const [t, es, what] of missing) {
    invalid(g, what, ["ExtensionRules"], "MISSING_EXTENSION", () => sign(g, header({ type: t }), ...es.map(X)));
  }
  invalid(g, "header only: no authentication extension", ["ExtensionRules"], "MISSING_AUTH", () => header({ type: 23, fc: 1 }));
  invalid(g, "a Migration Request with its migration but no authentication", ["ExtensionRules"], "MISSING_AUTH", () => concat(header({ type: 3 }), X(mig(["TCP"], "198.18.0.2", "198.18.1.2", 5001))));
  invalid(g, "a Migration Request with nothing: MISSING_AUTH before MISSING_EXTENSION", ["ExtensionRules", "ErrorOrder"], "MISSING_AUTH", () => header({ type: 3 }));
  invalid(g, "only unknown skippable extensions, no authentication", ["ExtensionRules", "UnknownSkippable"], "MISSING_AUTH", () => concat(ack(), raw(129, "00"), raw(250)));

  // ---- BAD_LENGTH, per extension type ----
  const spi256 = be32(256);
  for (const len of [0, 2, 4, 19, 21, 35, 37, 255]) {
    invalid(g, `AUTH of Length ${len}`, ["BadLength"], "BAD_LENGTH", (rng) => concat(ack(), raw(32, len >= 4 ? concat(spi256, rng.bytes(len - 4)) : rng.bytes(len))));
  }
  const migData = (pf, fam, op, np, a) => concat([pf, fam], [op >> 8, op & 255, np >> 8, np & 255], a);
  for (const [len, fam, what] of [[13, 1, "13"], [15, 1, "15"], [0, 1, "0"], [26, 2, "26"], [38, 1, "38 with family 1 (IPv4)"], [14, 2, "14 with family 2 (IPv6)"]]) {
    invalid(g, `MIGRATION of Length ${what}`, ["BadLength"], "BAD_LENGTH", (rng) => {
      const d = concat([1, fam, 0x13, 0x89, 0x13, 0x89], rng.bytes(Math.max(0, len - 6))).subarray(0, len);
      return sign(g, header({ type: 3 }), raw(33, d));
    });
  }
  for (const [t, len] of [[34, 7], [34, 9], [34, 0], [35, 16], [35, 4]]) {
    const rt = t === 34 ? 4 : 5;
    invalid(g, `${R.EXT_NAME[t]} of Length ${len}`, ["BadLength"], "BAD_LENGTH", (rng) => sign(g, header({ type: rt, fc: rt === 4 ? 1 : 0 }), raw(t, rng.bytes(len))));
  }
  for (const len of [0, 1, 3, 4]) {
    invalid(g, `LIFETIME of Length ${len}`, ["BadLength"], "BAD_LENGTH", (rng) => sign(g, header({ type: 1 }), raw(36, rng.bytes(len))));
  }
  const addrLen = [
    [37, 22, [1, 198, 18, 0, 10, 0], "TRANSFERRED_ADDRESS of Length 6 (family 1)"],
    [37, 22, [2, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0], "TRANSFERRED_ADDRESS of Length 18 (family 2)"],
    [37, 24, [1, 198, 18, 0], "TRANSFERRED_ADDRESS of Length 4 (family 1)"],
    [37, 24, [], "TRANSFERRED_ADDRESS of Length 0"],
    [38, 17, [1, 198, 18, 9, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "TARGET_ADDRESS of Length 17 with family 1 (IPv4)"],
    [39, 16, [2, 0x20, 1, 0x0d, 0xb8], "AGENT_ADDRESS of Length 5 with family 2 (IPv6)"],
    [40, 16, [2, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "INTERIM_ADDRESS of Length 16 (family 2)"],
  ];
  for (const [t, mt, d, what] of addrLen) {
    invalid(g, what, ["BadLength"], "BAD_LENGTH", (rng) => sign(g, header({ type: mt, fc: R.MESSAGES[mt].kind === "reply" ? 1 : 0 }), raw(t, d), requiredRaw(mt, rng, [t])));
  }
  for (const [len, hw, what] of [[0, null, "0"], [2, 1, "2 (no address)"], [7, 1, "7 for Ethernet (5-byte address)"], [9, 1, "9 for Ethernet (7-byte address)"], [1, null, "1"]]) {
    invalid(g, `LINK_LAYER_ADDRESS of Length ${what}`, ["BadLength"], "BAD_LENGTH", (rng) => {
      const d = hw === null ? rng.bytes(len) : concat([0, hw], rng.bytes(len - 2));
      return sign(g, header({ type: 16 }), X(transferred("198.18.0.10")), raw(41, d));
    });
  }
  const skData = (rng, alg, len, res = 0, wspi = 0x1001, sspi = 0x2002) => concat([alg, res], be32(wspi), be32(sspi), rng.bytes(len - 10)).subarray(0, len);
  for (const [len, alg, what] of [[69, 1, "69"], [71, 1, "71"], [0, 1, "0"], [102, 1, "102 with Wrap Alg 1"], [70, 2, "70 with Wrap Alg 2"], [101, 2, "101"], [103, 2, "103"]]) {
    invalid(g, `SESSION_KEY of Length ${what}`, ["BadLength"], "BAD_LENGTH", (rng) => sign(g, header({ type: 18 }), X(transferred("198.18.0.10")), X(target("198.18.9.20")), raw(42, len === 0 ? [] : skData(rng, alg, len))));
  }
  for (const [len, fam, what] of [[13, 1, "13"], [0, 1, "0"], [38, 1, "38 with family 1 (IPv4)"], [14, 2, "14 with family 2 (IPv6)"], [39, 2, "39"]]) {
    invalid(g, `FLOW of Length ${what}`, ["BadLength"], "BAD_LENGTH", (rng) => {
      const d = concat([6, fam, 0, 80, 0, 81], rng.bytes(Math.max(0, len - 6))).subarray(0, len);
      return sign(g, header({ type: 16, fc: 4 }), X(transferred("198.18.0.10")), raw(43, d));
    });
  }
  for (const len of [0, 1]) {
    invalid(g, `OPAQUE_DATA of Length ${len}`, ["BadLength"], "BAD_LENGTH", () => sign(g, ack(), raw(128, [1].slice(0, len))));
  }

  // ---- field values ----
  for (const fam of [0, 3, 255]) {
    invalid(g, `MIGRATION with family ${fam}`, ["FieldValue"], "BAD_FAMILY", (rng) => sign(g, header({ type: 3 }), raw(33, migData(1, fam, 1, 1, rng.bytes(8)))));
  }
  for (const [t, fam, len] of [[37, 0, 5], [38, 3, 5], [39, 255, 17], [40, 6, 17]]) {
    invalid(g, `${R.EXT_NAME[t]} with family ${fam} (Length ${len})`, ["FieldValue"], "BAD_FAMILY", (rng) => {
      const mt = t === 38 || t === 37 ? 18 : 16;
      return sign(g, header({ type: mt }), raw(t, concat([fam], rng.bytes(len - 1))), requiredRaw(mt, rng, [t]));
    });
  }
  invalid(g, "FLOW with family 3", ["FieldValue"], "BAD_FAMILY", (rng) => sign(g, header({ type: 16, fc: 4 }), X(transferred("198.18.0.10")), raw(43, concat([17, 3, 0, 80, 0, 81], rng.bytes(8)))));
  for (const [op, np] of [[0, 5001], [5001, 0]]) {
    invalid(g, `MIGRATION with old port ${op}, new port ${np}`, ["FieldValue", "Wildcard"], "BAD_PORT", () => sign(g, header({ type: 3 }), raw(33, migData(1, 1, op, np, [198, 18, 0, 2, 198, 18, 1, 2]))));
  }
  for (const [lp, rp] of [[0, 443], [40001, 0], [0, 0]]) {
    invalid(g, `FLOW with local port ${lp}, remote port ${rp}`, ["FieldValue"], "BAD_PORT", () => sign(g, header({ type: 16, fc: 4 }), X(transferred("198.18.0.10")), raw(43, concat([6, 1, lp >> 8, lp & 255, rp >> 8, rp & 255], [198, 18, 0, 10, 203, 0, 113, 5]))));
  }
  for (const pf of [0x04, 0x80, 0xff, 0x07]) {
    invalid(g, `MIGRATION with Proto Flags 0x${pf.toString(16).padStart(2, "0")}`, ["FieldValue"], "BAD_PROTO_FLAGS", () => sign(g, header({ type: 3 }), raw(33, migData(pf, 1, 5001, 5001, [198, 18, 0, 2, 198, 18, 1, 2]))));
  }
  for (const spi of [0, 1, 255]) {
    invalid(g, `AUTH with SPI ${spi}`, ["FieldValue"], "BAD_SPI", () => signSpi(g, spi, ack()));
  }
  for (const [w, s, what] of [[0, 0x2002, "Wrap SPI 0"], [255, 0x2002, "Wrap SPI 255"], [0x1001, 0, "Session SPI 0"], [0x1001, 255, "Session SPI 255"]]) {
    invalid(g, `SESSION_KEY with ${what}`, ["FieldValue"], "BAD_SPI", (rng) => sign(g, header({ type: 18 }), X(transferred("198.18.0.10")), X(target("198.18.9.20")), raw(42, skData(rng, 1, 70, 0, w, s))));
  }
  for (const alg of [0, 3, 255]) {
    invalid(g, `SESSION_KEY with Wrap Alg ${alg} (Length 70)`, ["FieldValue"], "BAD_VALUE", (rng) => sign(g, header({ type: 18 }), X(transferred("198.18.0.10")), X(target("198.18.9.20")), raw(42, skData(rng, alg, 70))));
  }
  for (const p of [0, 1, 58, 132, 255]) {
    invalid(g, `FLOW with protocol ${p}`, ["FieldValue"], "BAD_VALUE", () => sign(g, header({ type: 16, fc: 4 }), X(transferred("198.18.0.10")), raw(43, concat([p, 1, 0, 80, 0, 81], [198, 18, 0, 10, 203, 0, 113, 5]))));
  }
  for (const res of [1, 0x80]) {
    invalid(g, `SESSION_KEY with Reserved 0x${res.toString(16).padStart(2, "0")}`, ["FieldValue"], "RESERVED_NONZERO", (rng) => sign(g, header({ type: 16 }), X(transferred("198.18.0.10")), raw(42, skData(rng, 1, 70, res))));
  }

  // ---- authentication failures, in every group ----
  for (const key of Object.keys(G)) {
    const gg = G[key];
    const m = () => signed(gg, msg("MIGRATION_REQUEST", { seq: 42, ext: [mig(["TCP"], "198.18.0.2", "198.18.1.2", 5001)] }));
    const flip = (b, i, bit = 1) => { const c = b.slice(); c[i] ^= bit; return c; };
    const tagAt = (b) => b.length - R.ALGORITHMS[gg.algorithm].tagLength;
    invalid(gg, `${gg.algorithm}: sequence number changed after signing`, ["ModifiedMessage"], "BAD_AUTHENTICATOR", () => flip(m(), 3));
    invalid(gg, `${gg.algorithm}: cookie changed after signing`, ["ModifiedMessage"], "BAD_AUTHENTICATOR", () => flip(m(), 9, 0x80));
    invalid(gg, `${gg.algorithm}: replay ID changed after signing`, ["ModifiedMessage"], "BAD_AUTHENTICATOR", () => flip(m(), 19));
    invalid(gg, `${gg.algorithm}: new address in the migration extension changed after signing`, ["ModifiedMessage"], "BAD_AUTHENTICATOR", () => flip(m(), 20 + 2 + 10 + 3));
    invalid(gg, `${gg.algorithm}: SPI changed after signing (still a valid SPI)`, ["ModifiedMessage"], "BAD_AUTHENTICATOR", () => flip(m(), tagAt(m()) - 1, 0x40));
    invalid(gg, `${gg.algorithm}: first bit of the authenticator flipped`, ["ModifiedTag"], "BAD_AUTHENTICATOR", () => flip(m(), tagAt(m()), 0x80));
    invalid(gg, `${gg.algorithm}: last bit of the authenticator flipped`, ["ModifiedTag"], "BAD_AUTHENTICATOR", () => flip(m(), m().length - 1, 0x01));
    invalid(gg, `${gg.algorithm}: authenticator all zero`, ["ModifiedTag"], "BAD_AUTHENTICATOR", () => { const b = m(); b.fill(0, tagAt(b)); return b; });
    invalid(gg, `${gg.algorithm}: signed with another key`, ["WrongKey"], "BAD_AUTHENTICATOR", () => { const k = unhex(gg.key); k[k.length - 1] ^= 1; return R.encode(msg("WAKE_UP_ACK", { seq: 43 }), { algorithm: gg.algorithm, key: k, spi: gg.spi }); });
    invalid(gg, `${gg.algorithm}: signed with the key less its last byte`, ["WrongKey"], "BAD_AUTHENTICATOR", () => R.encode(msg("WAKE_UP_ACK", { seq: 44 }), { algorithm: gg.algorithm, key: unhex(gg.key).subarray(0, unhex(gg.key).length - 1), spi: gg.spi }));
    invalid(gg, `${gg.algorithm}: tag over the bytes before the authentication extension only`, ["WrongPrimitive"], "BAD_AUTHENTICATOR", () => {
      const body = concat(header({ type: 23, fc: 1, seq: 45 }));
      return concat(body, [32, 4 + R.ALGORITHMS[gg.algorithm].tagLength], be32(gg.spi), R.hmac(gg.algorithm, unhex(gg.key), body));
    });
    invalid(gg, `${gg.algorithm}: tag over the whole message with a zero authenticator`, ["WrongPrimitive"], "BAD_AUTHENTICATOR", () => {
      const n = R.ALGORITHMS[gg.algorithm].tagLength;
      const b = concat(header({ type: 23, fc: 1, seq: 46 }), [32, 4 + n], be32(gg.spi), new Uint8Array(n));
      b.set(R.hmac(gg.algorithm, unhex(gg.key), b), b.length - n);
      return b;
    });
    invalid(gg, `${gg.algorithm}: plain hash of key and message instead of HMAC`, ["WrongPrimitive"], "BAD_AUTHENTICATOR", () => {
      const n = R.ALGORITHMS[gg.algorithm].tagLength;
      const head = concat(header({ type: 23, fc: 1, seq: 47 }), [32, 4 + n], be32(gg.spi));
      const h = createHashBytes(R.ALGORITHMS[gg.algorithm].hash, concat(unhex(gg.key), head));
      return concat(head, h);
    });
    for (const other of Object.keys(R.ALGORITHMS)) {
      if (R.ALGORITHMS[other].tagLength === R.ALGORITHMS[gg.algorithm].tagLength) continue;
      invalid(gg, `${other} tag where the group says ${gg.algorithm}`, ["AuthLength"], "AUTH_LENGTH_MISMATCH", () => R.encode(msg("WAKE_UP_ACK", { seq: 48 }), { algorithm: other, key: unhex(gg.key), spi: gg.spi }));
    }
  }
  invalid(g, "HMAC-SHA256 truncated to 16 bytes (Length 20) where the group says HMAC_SHA256", ["AuthLength", "WrongPrimitive"], "AUTH_LENGTH_MISMATCH", () => {
    const head = concat(header({ type: 23, fc: 1, seq: 49 }), [32, 20], be32(g.spi));
    return concat(head, R.hmac("HMAC_SHA256", unhex(g.key), head).subarray(0, 16));
  });
  invalid(G.md5, "HMAC-SHA256 truncated to 16 bytes where the group says HMAC_MD5 (length fits, value does not)", ["WrongPrimitive"], "BAD_AUTHENTICATOR", () => {
    const head = concat(header({ type: 23, fc: 1, seq: 50 }), [32, 20], be32(G.md5.spi));
    return concat(head, R.hmac("HMAC_SHA256", unhex(G.md5.key), head).subarray(0, 16));
  });

  // ---- two faults: the first in section 5.1's order wins ----
  const O = ["ErrorOrder"];
  invalid(g, "19 bytes with version 2: TRUNCATED before BAD_VERSION", O, "TRUNCATED", () => header({ v: 2, type: 3 }).subarray(0, 19));
  invalid(g, "1233 bytes with version 2: MESSAGE_TOO_LONG before BAD_VERSION", O, "MESSAGE_TOO_LONG", (rng) => { const b = signed(g, maximum(rng, 1)); b[0] = 2; return b; });
  invalid(g, "1233 bytes whose last extension runs past the end: MESSAGE_TOO_LONG before TRUNCATED", O, "MESSAGE_TOO_LONG", (rng) => concat(header({ type: 1 }), ...[0, 1, 2, 3].map(() => raw(128, rng.bytes(255))), rawL(128, 200, rng.bytes(183))));
  invalid(g, "version 2 and type 99: BAD_VERSION before UNKNOWN_TYPE", O, "BAD_VERSION", () => sign(g, header({ v: 2, type: 99 })));
  invalid(g, "type 99 and Reserved 1: UNKNOWN_TYPE before RESERVED_NONZERO", O, "UNKNOWN_TYPE", () => sign(g, header({ type: 99, res: 1 })));
  invalid(g, "reply with code 0 and Reserved 1: BAD_CODE before RESERVED_NONZERO", O, "BAD_CODE", () => sign(g, header({ type: 2, fc: 0, res: 1 })));
  invalid(g, "undefined flag and Reserved 1: BAD_FLAGS before RESERVED_NONZERO", O, "BAD_FLAGS", () => sign(g, header({ type: 22, fc: 1, res: 1 }), X(transferred("198.18.0.10"))));
  invalid(g, "version 0 and no authentication: BAD_VERSION before MISSING_AUTH", O, "BAD_VERSION", () => header({ v: 0, type: 23, fc: 1 }));
  invalid(g, "Reserved 1 and a truncated extension: RESERVED_NONZERO before TRUNCATED", O, "RESERVED_NONZERO", () => concat(header({ type: 23, fc: 1, res: 1 }), [128, 9, 0]));
  invalid(g, "undefined flag and an unknown mandatory extension: BAD_FLAGS first", O, "BAD_FLAGS", () => sign(g, header({ type: 1, fc: 2 }), raw(7, "00")));
  invalid(g, "unknown mandatory extension after AUTH: AUTH_NOT_LAST before UNKNOWN_MANDATORY_EXTENSION", O, "AUTH_NOT_LAST", () => concat(sign(g, ack()), raw(5, "00")));
  invalid(g, "unexpected extension after AUTH: AUTH_NOT_LAST before UNEXPECTED_EXTENSION", O, "AUTH_NOT_LAST", () => concat(sign(g, ack()), X(life(5))));
  invalid(g, "an extension of bad Length after AUTH: AUTH_NOT_LAST before BAD_LENGTH", O, "AUTH_NOT_LAST", () => concat(sign(g, header({ type: 1 })), raw(36, "00")));
  invalid(g, "a truncated extension after AUTH: TRUNCATED before AUTH_NOT_LAST", O, "TRUNCATED", () => concat(sign(g, ack()), [128, 5, 0]));
  invalid(g, "unknown mandatory extension, then an unexpected one: the first extension's error", O, "UNKNOWN_MANDATORY_EXTENSION", () => sign(g, ack(), raw(100, ""), X(life(5))));
  invalid(g, "unexpected extension, then an unknown mandatory one: the first extension's error", O, "UNEXPECTED_EXTENSION", () => sign(g, ack(), X(life(5)), raw(100, "")));
  invalid(g, "unexpected extension of bad Length: UNEXPECTED_EXTENSION before BAD_LENGTH", O, "UNEXPECTED_EXTENSION", () => sign(g, ack(), raw(36, "000000")));
  invalid(g, "unexpected extension with bad fields: UNEXPECTED_EXTENSION before BAD_FAMILY", O, "UNEXPECTED_EXTENSION", (rng) => sign(g, header({ type: 1 }), raw(33, migData(1, 9, 0, 0, rng.bytes(8)))));
  invalid(g, "second LIFETIME of bad Length: DUPLICATE_EXTENSION before BAD_LENGTH", O, "DUPLICATE_EXTENSION", () => sign(g, header({ type: 1 }), X(life(5)), raw(36, "000000")));
  invalid(g, "second TRANSFERRED_ADDRESS of bad family: DUPLICATE_EXTENSION before BAD_FAMILY", O, "DUPLICATE_EXTENSION", () => sign(g, header({ type: 22 }), X(transferred("198.18.0.10")), raw(37, [7, 1, 2, 3, 4])));
  invalid(g, "a bad extension, then a truncated one: the first extension's error", O, "BAD_LENGTH", () => concat(header({ type: 1 }), raw(36, "00"), [128, 20, 0]));
  invalid(g, "bad opaque Length and no MIGRATION: BAD_LENGTH before MISSING_*", O, "BAD_LENGTH", () => concat(header({ type: 3 }), raw(128, "01")));
  invalid(g, "a truncated extension and no authentication: TRUNCATED before MISSING_AUTH", O, "TRUNCATED", () => concat(header({ type: 3 }), [33, 14, 1, 1]));
  invalid(g, "AUTH of Length 21 with SPI 0: BAD_LENGTH before BAD_SPI", O, "BAD_LENGTH", (rng) => concat(ack(), raw(32, [0, 0, 0, 0], rng.bytes(17))));
  invalid(g, "MIGRATION of Length 13 with Proto Flags 0x80: BAD_LENGTH first", O, "BAD_LENGTH", (rng) => sign(g, header({ type: 3 }), raw(33, concat([0x80, 1, 0, 1, 0, 1], rng.bytes(7)))));
  invalid(g, "MIGRATION with Proto Flags 0x80 and family 3: BAD_PROTO_FLAGS before BAD_FAMILY", O, "BAD_PROTO_FLAGS", (rng) => sign(g, header({ type: 3 }), raw(33, migData(0x80, 3, 1, 1, rng.bytes(8)))));
  invalid(g, "MIGRATION with family 3 and old port 0, new port 1: BAD_FAMILY before BAD_PORT", O, "BAD_FAMILY", (rng) => sign(g, header({ type: 3 }), raw(33, migData(1, 3, 0, 1, rng.bytes(8)))));
  invalid(g, "MIGRATION of Length 14 with family 2 and a bad port: BAD_LENGTH before BAD_PORT", O, "BAD_LENGTH", (rng) => sign(g, header({ type: 3 }), raw(33, migData(1, 2, 0, 1, rng.bytes(8)))));
  invalid(g, "MIGRATION of Length 38 with family 1 and Proto Flags 0x04: BAD_PROTO_FLAGS before the family's Length", O, "BAD_PROTO_FLAGS", (rng) => sign(g, header({ type: 3 }), raw(33, migData(4, 1, 1, 1, rng.bytes(32)))));
  invalid(g, "FLOW with protocol 1 and family 3: BAD_VALUE before BAD_FAMILY", O, "BAD_VALUE", (rng) => sign(g, header({ type: 16, fc: 4 }), X(transferred("198.18.0.10")), raw(43, concat([1, 3, 0, 0, 0, 0], rng.bytes(8)))));
  invalid(g, "FLOW with family 3 and ports 0: BAD_FAMILY before BAD_PORT", O, "BAD_FAMILY", (rng) => sign(g, header({ type: 16, fc: 4 }), X(transferred("198.18.0.10")), raw(43, concat([6, 3, 0, 0, 0, 0], rng.bytes(8)))));
  invalid(g, "FLOW of Length 14 with family 2 and port 0: BAD_LENGTH before BAD_PORT", O, "BAD_LENGTH", (rng) => sign(g, header({ type: 16, fc: 4 }), X(transferred("198.18.0.10")), raw(43, concat([6, 2, 0, 0, 0, 0], rng.bytes(8)))));
  invalid(g, "FLOW of Length 13 with protocol 1: BAD_LENGTH before BAD_VALUE", O, "BAD_LENGTH", (rng) => sign(g, header({ type: 16, fc: 4 }), X(transferred("198.18.0.10")), raw(43, concat([1, 1, 0, 1, 0, 1], rng.bytes(7)))));
  invalid(g, "SESSION_KEY of Length 69 with Wrap Alg 3: BAD_LENGTH before BAD_VALUE", O, "BAD_LENGTH", (rng) => sign(g, header({ type: 16 }), X(transferred("198.18.0.10")), raw(42, skData(rng, 3, 69))));
  invalid(g, "SESSION_KEY with Wrap Alg 3 and Reserved 1: BAD_VALUE before RESERVED_NONZERO", O, "BAD_VALUE", (rng) => sign(g, header({ type: 16 }), X(transferred("198.18.0.10")), raw(42, skData(rng, 3, 70, 1))));
  invalid(g, "SESSION_KEY with Reserved 1 and Wrap SPI 0: RESERVED_NONZERO before BAD_SPI", O, "RESERVED_NONZERO", (rng) => sign(g, header({ type: 16 }), X(transferred("198.18.0.10")), raw(42, skData(rng, 1, 70, 1, 0, 0))));
  invalid(g, "AUTH with SPI 255 and a wrong tag: BAD_SPI (decoding) before BAD_AUTHENTICATOR", O, "BAD_SPI", (rng) => concat(ack(), raw(32, [0, 0, 0, 255], rng.bytes(32))));
  invalid(g, "Reserved 1 under a tag computed before the change: RESERVED_NONZERO before BAD_AUTHENTICATOR", O, "RESERVED_NONZERO", () => { const b = sign(g, ack()); b[11] = 1; return b; });
  invalid(g, "BAD_FLAGS under a tag computed before the change: decoding before verification", O, "BAD_FLAGS", () => { const b = sign(g, header({ type: 1 })); b[10] = 1; return b; });
  invalid(g, "HMAC-SHA1-length tag of garbage: AUTH_LENGTH_MISMATCH before BAD_AUTHENTICATOR", O, "AUTH_LENGTH_MISMATCH", (rng) => concat(ack(), raw(32, be32(256), rng.bytes(20))));
  invalid(g, "MIGRATION after AUTH in a Migration Request: AUTH_NOT_LAST, not MISSING_EXTENSION", O, "AUTH_NOT_LAST", () => concat(sign(g, header({ type: 3 })), raw(33, migData(1, 1, 1, 1, [198, 18, 0, 2, 198, 18, 1, 2]))));
  invalid(g, "OPAQUE_DATA in a Migration Confirm without PATH_RESPONSE: UNEXPECTED_EXTENSION before MISSING_EXTENSION", O, "UNEXPECTED_EXTENSION", () => sign(g, header({ type: 5 }), X(opaque("LOCATION", 0, ""))));
  invalid(g, "TRANSFERRED_ADDRESS of Length 17 with family 1 and a second one: the first extension's BAD_LENGTH", O, "BAD_LENGTH", (rng) => sign(g, header({ type: 22 }), raw(37, concat([1], rng.bytes(16))), X(transferred("198.18.0.10"))));

  // ---- rules that no earlier case pinned (issue 7 item 15) ----
  // SESSION_KEY: Length matching Wrap Alg is checked before Reserved (section 4.7).
  invalid(g, "SESSION_KEY of Length 102 with Wrap Alg 1 and Reserved 1: the length match (BAD_LENGTH) before RESERVED_NONZERO", O, "BAD_LENGTH", (rng) => sign(g, header({ type: 16 }), X(transferred("198.18.0.10")), raw(42, skData(rng, 1, 102, 1))));
  invalid(g, "SESSION_KEY of Length 70 with Wrap Alg 2 and Reserved 0x80: the length match (BAD_LENGTH) before RESERVED_NONZERO", O, "BAD_LENGTH", (rng) => sign(g, header({ type: 18 }), X(transferred("198.18.0.10")), X(target("198.18.9.20")), raw(42, skData(rng, 2, 70, 0x80))));
  invalid(g, "SESSION_KEY of Length 102 with Wrap Alg 1, Reserved 1 and Wrap SPI 0: BAD_LENGTH first", O, "BAD_LENGTH", (rng) => sign(g, header({ type: 16 }), X(transferred("198.18.0.10")), raw(42, skData(rng, 1, 102, 1, 0, 0))));
  // LINK_LAYER_ADDRESS lengths for hardware types other than Ethernet (section 4.6).
  const LL = ["LinkLayer", "LinkLayerLength"];
  valid(g, "Link-layer address of hardware type 6 (IEEE 802) of 5 bytes (Length 7, which Ethernet refuses)", LL, msg("TRANSFER_NEGOTIATION_REQUEST", { seq: 1300, ext: [transferred("198.18.0.10"), link(6, "020000000a")] }));
  valid(g, "Link-layer address of hardware type 6 (IEEE 802) of 7 bytes (Length 9, which Ethernet refuses)", LL, msg("TRANSFER_NEGOTIATION_REQUEST", { seq: 1301, ext: [transferred("198.18.0.10"), link(6, "020000000a0203")] }));
  valid(g, "Link-layer address of hardware type 24 (IEEE 1394) of 8 bytes (Length 10)", LL, msg("TRANSFER_NEGOTIATION_REQUEST", { seq: 1302, ext: [transferred("198.18.0.10"), link(24, "0011223344556677")] }));
  valid(g, "Link-layer address of hardware type 0 of 253 bytes (Length 255, the largest)", [...LL, "BoundaryValue"], (rng) => msg("TRANSFER_NEGOTIATION_REQUEST", { seq: 1303, ext: [transferred("198.18.0.10"), link(0, hex(rng.bytes(253)))] }));
  valid(g, "Link-layer address of hardware type 256 (above one byte) of 2 bytes", LL, msg("TRANSFER_REQUEST", { seq: 1304, ext: [transferred("198.18.0.10"), target("198.18.9.20"), link(256, "0a0b"), sessionKeyFixed()] }));
  for (const [hw, what] of [[6, "6 (IEEE 802)"], [32, "32 (InfiniBand)"], [0xffff, "65535"]]) {
    invalid(g, `LINK_LAYER_ADDRESS of hardware type ${what} with Length 2 (no address)`, ["BadLength", "LinkLayerLength"], "BAD_LENGTH", () => sign(g, header({ type: 16 }), X(transferred("198.18.0.10")), raw(41, [hw >> 8, hw & 255])));
  }
  // The R flag of type 16 (section 8.10), appended last so that every earlier tcId keeps its case.
  valid(g, "Transfer Negotiation Request, reverse-tunnelled return (R, section 8.10)", ["Flags"], msg("TRANSFER_NEGOTIATION_REQUEST", { seq: 105, flags: ["REVERSE_RETURN"], ext: [transferred("198.18.0.10"), agent("198.18.5.1")] }));
  // Per-flow mode (section 8.16): Stop Transfer names the flow sets to end by their flows. Appended last.
  valid(g, "Stop Transfer of one flow set (per-flow mode, section 8.16)", ["MultipleExtensions"], msg("STOP_TRANSFER", { seq: 501, ext: [transferred("198.18.0.10"), flow("TCP", "198.18.0.10", 40001, "198.18.20.2", 5001)] }));
  valid(g, "Stop Transfer of flows in two flow sets, IPv4 and IPv6 (per-flow mode)", ["MultipleExtensions"], msg("STOP_TRANSFER", { seq: 502, ext: [transferred("2001:db8::10"), flow("TCP", "2001:db8::10", 40001, "2001:db8:20::2", 5001), flow("UDP", "2001:db8::10", 5004, "2001:db8:21::2", 5004)] }));
  invalid(g, "FLOW with local port 0 in a Stop Transfer", ["FieldValue"], "BAD_PORT", () => sign(g, header({ type: 24 }), X(transferred("198.18.0.10")), raw(43, concat([6, 1, 0, 0, 0, 81], [198, 18, 0, 10, 198, 18, 20, 2]))));
  invalid(g, "FLOW in a Stop Transfer Reply", ["ExtensionRules"], "UNEXPECTED_EXTENSION", () => sign(g, header({ type: 25, fc: 1 }), X(flow("TCP", "198.18.0.10", 1, "198.18.0.11", 2))));
  // Session-specific addresses (section 8.18): the lease that travels with the negotiation. Appended last.
  const lease = (generator, remaining, state) => ({ type: "ADDRESS_LEASE", generator, remaining, state });
  const AL = ["AddressLease"];
  valid(g, "Transfer Negotiation Request of a static-pool session address (no generator state, no end)", AL, msg("TRANSFER_NEGOTIATION_REQUEST", { seq: 1801, ext: [transferred("198.18.1.50"), agent("198.18.1.3"), lease("STATIC", 0xffffffff, "")] }));
  valid(g, "Transfer Negotiation Request of an IPv6 generated session address", AL, msg("TRANSFER_NEGOTIATION_REQUEST", { seq: 1802, ext: [transferred("2001:db8:1::5eed:1"), agent("2001:db8:1::3"), lease("IPV6", 0xffffffff, "")] }));
  valid(g, "Transfer Negotiation Request of a DHCPv4 session address: 3600 s left, 12 bytes of state", AL, msg("TRANSFER_NEGOTIATION_REQUEST", { seq: 1803, ext: [transferred("198.18.1.77"), agent("198.18.1.3"), lease("DHCP4", 3600, "07016869a0b1c2c61201010a")] }));
  valid(g, "ADDRESS_LEASE with 200 bytes of state (Length 206, the largest)", [...AL, "BoundaryValue"], (rng) => msg("TRANSFER_NEGOTIATION_REQUEST", { seq: 1804, ext: [transferred("198.18.1.77"), lease("DHCP4", 0, hex(rng.bytes(200)))] }));
  for (const n of [5, 0, 207]) {
    invalid(g, `ADDRESS_LEASE of Length ${n}`, [...AL, "BadLength"], "BAD_LENGTH", () => sign(g, header({ type: 16 }), X(transferred("198.18.1.50")), rawL(45, n, new Uint8Array(n).fill(1))));
  }
  for (const gen of [0, 4, 255]) {
    invalid(g, `ADDRESS_LEASE of generator ${gen}`, [...AL, "FieldValue"], "BAD_VALUE", () => sign(g, header({ type: 16 }), X(transferred("198.18.1.50")), raw(45, [gen, 0, 0, 0, 0, 60])));
  }
  invalid(g, "ADDRESS_LEASE with reserved byte 1", [...AL, "FieldValue"], "RESERVED_NONZERO", () => sign(g, header({ type: 16 }), X(transferred("198.18.1.50")), raw(45, [1, 1, 0, 0, 0, 60])));
  invalid(g, "ADDRESS_LEASE with generator 9 and reserved 1: BAD_VALUE first", [...AL, "FieldValue", "ErrorOrder"], "BAD_VALUE", () => sign(g, header({ type: 16 }), X(transferred("198.18.1.50")), raw(45, [9, 1, 0, 0, 0, 60])));
  invalid(g, "ADDRESS_LEASE twice in a Transfer Negotiation Request", [...AL, "ExtensionRules"], "DUPLICATE_EXTENSION", () => sign(g, header({ type: 16 }), X(transferred("198.18.1.50")), raw(45, [1, 0, 255, 255, 255, 255]), raw(45, [1, 0, 255, 255, 255, 255])));
  invalid(g, "ADDRESS_LEASE in a Transfer Request (the agent checks pools, not leases)", [...AL, "ExtensionRules"], "UNEXPECTED_EXTENSION", () => sign(g, header({ type: 18 }), X(transferred("198.18.1.50")), X(target("198.18.9.20")), raw(45, [1, 0, 255, 255, 255, 255])));

  return f;

  // ---- helpers that need the closure ----
  function sessionKeyFixed() {
    return { type: "SESSION_KEY", wrap: "CHACHA20_POLY1305", wrapSpi: 0x1001, sessionSpi: 0x2002, nonce: "000102030405060708090a0b", sealedKey: "11".repeat(32), tag: "22".repeat(16) };
  }
  /** A message of type `name` with its required extensions only. */
  function minimal(name, rng, seq) {
    const spec = R.MESSAGES[R.MESSAGE_TYPE[name]];
    const ext = [];
    for (const [e, mult] of Object.entries(spec.ext)) {
      if (e === "AUTH" || (mult !== "1" && mult !== "+")) continue;
      ext.push(requiredJson(e, rng));
    }
    ext.sort((a, b) => R.EXT[a.type] - R.EXT[b.type]);
    return msg(name, { seq: seq + R.MESSAGE_TYPE[name], ext });
  }
  function requiredJson(e, rng) {
    switch (e) {
      case "MIGRATION": return mig(["TCP"], "198.18.0.2", "198.18.1.2", 5001);
      case "PATH_RESPONSE": return response(hex(rng.bytes(8)));
      case "LIFETIME": return life(600);
      case "TRANSFERRED_ADDRESS": return transferred("198.18.0.10");
      case "TARGET_ADDRESS": return target("2001:db8:3::7");
      case "SESSION_KEY": return sessionKey(rng);
    }
    throw new Error(e);
  }
  /** The raw bytes of the required extensions of type t (excluding AUTH and `except`). */
  function requiredRaw(t, rng, except = []) {
    const spec = R.MESSAGES[t];
    const out = [];
    for (const [e, mult] of Object.entries(spec.ext)) {
      if (e === "AUTH" || (mult !== "1" && mult !== "+") || except.includes(R.EXT[e])) continue;
      out.push(X(requiredJson(e, rng)));
    }
    return concat(...out);
  }
  /** A 1232 + extra byte Registration Request (before signing, with HMAC-SHA256). */
  function maximum(rng, extra) {
    const ext = [];
    for (let i = 0; i < 4; i++) ext.push(opaque("APPLICATION", 0, hex(rng.bytes(253))));
    ext.push(opaque("LOCATION", 0, hex(rng.bytes(142 + extra))));
    return msg("REGISTRATION_REQUEST", { seq: 1232, ext });
  }
}

function createHashBytes(alg, data) {
  return new Uint8Array(createHash(alg).update(data).digest());
}

// =========================================================================
// cookie
// =========================================================================

function cookieSuite() {
  const f = new VectorFile({
    suite: "cookie",
    description: "Identifier cookies (section 3.3): the first 6 bytes of SHA-256(\"handover-cookie/1\" || 0x00 || name) for a UTF-8 name of 1 to 255 bytes; the name's bytes are hashed as they are, with no normalisation.",
    source: SOURCE,
    seed: 0x636f6f6b,
    notes: {
      Example: { bugType: "BASIC", description: "The example of section 3.3." },
      Ascii: { bugType: "BASIC", description: "An ASCII host name." },
      Utf8: { bugType: "FUNCTIONALITY", description: "Non-ASCII characters, hashed as their UTF-8 bytes." },
      NoNormalization: { bugType: "EDGE_CASE", description: "Names that differ only in case or Unicode normalisation give different cookies: the bytes are hashed as given." },
      MaximumLength: { bugType: "EDGE_CASE", description: "255 bytes, the longest name." },
      ByteCount: { bugType: "EDGE_CASE", description: "The limit counts UTF-8 bytes, not characters or UTF-16 code units." },
      Empty: { bugType: "MODIFIED_PARAMETER", description: "An empty name (fewer than 1 byte)." },
      TooLong: { bugType: "MODIFIED_PARAMETER", description: "More than 255 bytes." },
      ControlCharacter: { bugType: "EDGE_CASE", description: "A NUL or other control character inside the name is just another byte." },
      TrailingDot: { bugType: "EDGE_CASE", description: "A fully qualified name with its trailing dot is another name: the dot is hashed like any byte, not removed (section 3.3)." },
    },
  });
  const g = f.group({});
  const ok = (name, comment, flags) => f.add(g, () => ({ comment, flags, name, result: "valid", cookie: R.cookieFromName(name) }));
  const bad = (name, comment, flags) => f.add(g, () => {
    let err = null;
    try { R.cookieFromName(name); } catch (e) { err = e.errorName; }
    assert(err === "INVALID_ARGUMENT", `cookie ${comment}`);
    return { comment, flags, name, result: "invalid", error: "INVALID_ARGUMENT" };
  });
  const bytes = (s) => new TextEncoder().encode(s).length;
  ok("m.example", "section 3.3: m.example gives 1eae5683abb6", ["Example"]);
  assert(R.cookieFromName("m.example") === "1eae5683abb6", "section 3.3 example");
  ok("f.example", "the non-migrator of the examples", ["Ascii"]);
  ok("a", "one byte", ["Ascii"]);
  ok("node-17.lab.example.org", "a typical FQDN", ["Ascii"]);
  ok("M.EXAMPLE", "upper case: not folded", ["Ascii", "NoNormalization"]);
  ok("münchen.example", "precomposed ü (NFC)", ["Utf8"]);
  ok("mu\u0308nchen.example", "u + combining diaeresis (NFD): another cookie", ["Utf8", "NoNormalization"]);
  ok("例え.テスト", "Japanese (3-byte UTF-8)", ["Utf8"]);
  ok("xn--r8jz45g.xn--zckzah", "the same name in Punycode: another cookie", ["Ascii", "NoNormalization"]);
  ok("🚀.example", "an emoji (4-byte UTF-8, a surrogate pair in UTF-16)", ["Utf8"]);
  ok("a\u0000b", "a NUL byte inside the name", ["ControlCharacter"]);
  ok(" ", "a single space", ["ControlCharacter"]);
  ok("x".repeat(255), "255 ASCII bytes", ["MaximumLength"]);
  ok("é".repeat(127) + "a", "255 bytes: 127 two-byte characters and one ASCII", ["MaximumLength", "Utf8", "ByteCount"]);
  ok("€".repeat(85), "255 bytes: 85 three-byte characters", ["MaximumLength", "Utf8", "ByteCount"]);
  ok("😀".repeat(63) + "abc", "255 bytes: 63 four-byte characters and 3 ASCII", ["MaximumLength", "Utf8", "ByteCount"]);
  ok(`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`, "255 bytes in four DNS labels", ["MaximumLength"]);
  bad("", "empty name", ["Empty"]);
  bad("x".repeat(256), "256 ASCII bytes", ["TooLong"]);
  bad("é".repeat(128), "256 bytes: 128 two-byte characters", ["TooLong", "Utf8"]);
  bad("a".repeat(254) + "é", "256 bytes but 255 characters", ["TooLong", "ByteCount"]);
  bad("😀".repeat(64), "256 bytes but 64 code points (128 UTF-16 units)", ["TooLong", "ByteCount"]);
  bad("€".repeat(85) + "ab", "257 bytes", ["TooLong", "Utf8"]);
  bad("x".repeat(1000), "1000 bytes", ["TooLong"]);
  assert(bytes("é".repeat(127) + "a") === 255 && bytes("a".repeat(254) + "é") === 256, "byte counts");
  ok("m.example.", "m.example with a trailing dot: not removed, so another cookie than 1eae5683abb6", ["TrailingDot"]);
  assert(R.cookieFromName("m.example.") !== R.cookieFromName("m.example"), "the trailing dot changes the cookie");
  ok(".", "the root name alone", ["TrailingDot"]);
  ok(`${"x".repeat(254)}.`, "255 bytes ending in the dot", ["TrailingDot", "MaximumLength"]);
  bad(`${"x".repeat(255)}.`, "255 bytes and a trailing dot: 256 bytes (the dot counts)", ["TrailingDot", "TooLong"]);
  return f;
}

// =========================================================================
// replay-window
// =========================================================================

function replaySuite() {
  const f = new VectorFile({
    suite: "replay-window",
    description:
      "The sequence-number window of section 6.3. For each test, a fresh window of the group's windowBits; for each step [seq, expected]: check seq (16 bits, extended to the value closest to top + 1), compare with expected (\"valid\", \"REPLAYED\" or \"SEQUENCE_TOO_OLD\"), and update the window with seq when the check accepted it. result and error are those of the last step.",
    source: SOURCE,
    seed: 0x7265706c,
    notes: {
      Table: { bugType: "BASIC", description: "A row of the numbered table in section 6.3 (W = 64)." },
      WindowEdge: { bugType: "EDGE_CASE", description: "top - x = W - 1 is inside the window, top - x = W is SEQUENCE_TOO_OLD." },
      LargeJump: { bugType: "EDGE_CASE", description: "The window slides by the whole window or more: every older number is forgotten and too old." },
      StaleBits: { bugType: "EDGE_CASE", description: "Catches a ring of W/64 blocks without RFC 6479's spare block, or blocks not cleared when the window slides: an accepted number must stay REPLAYED while inside the window and a new one must not look replayed." },
      Wraparound: { bugType: "FUNCTIONALITY", description: "The 16-bit number wraps (65535 -> 0) and is extended into the next epoch." },
      FirstEpoch: { bugType: "EDGE_CASE", description: "The first number is placed in epoch 1 (0x10000 | seq), so a number just below it across the wrap is late, not new." },
      HalfWay: { bugType: "EDGE_CASE", description: "Exactly 2^15 from top + 1: RFC 9000 A.3 moves a candidate at expected - 2^15 forward (candidate <= expected - hwin)." },
      Random: { bugType: "FUNCTIONALITY", description: "A seeded random walk with reordering, duplicates and jumps, answered by the reference window." },
      OddWidth: { bugType: "EDGE_CASE", description: "A width that is a multiple of 64 but not a power of two." },
    },
  });
  const groups = {};
  const group = (bits) => (groups[bits] ??= f.group({ windowBits: bits }));
  const V = "valid";
  /** A test: the steps' expectations are computed by the reference and must match `expect` where given. */
  function seq(bits, comment, flags, steps) {
    return f.add(group(bits), (rng) => {
      const s = typeof steps === "function" ? steps(rng) : steps;
      const w = new R.ReplayWindow(bits);
      const out = s.map((st) => {
        const [n, expect] = Array.isArray(st) ? st : [st, undefined];
        const got = w.check(n) ?? V;
        if (got === V) w.update(n);
        assert(expect === undefined || expect === got, `replay ${comment}: step ${n} gives ${got}, expected ${expect}`);
        return [n, got];
      });
      const last = out[out.length - 1][1];
      return { comment, flags, steps: out, result: last === V ? "valid" : "invalid", ...(last === V ? {} : { error: last }) };
    });
  }
  // Section 6.3's table, exactly.
  seq(64, "table 1: none accepted, 5: accepted (first number)", ["Table"], [[5, V]]);
  seq(64, "table 2: 5 accepted, 5: REPLAYED", ["Table"], [[5, V], [5, "REPLAYED"]]);
  seq(64, "table 3: 5 accepted, 6: accepted", ["Table"], [[5, V], [6, V]]);
  seq(64, "table 4: 5, 6 accepted, 4: accepted (late, inside the window)", ["Table"], [[5, V], [6, V], [4, V]]);
  seq(64, "table 5: 5, 6, 4 accepted, 4: REPLAYED", ["Table"], [[5, V], [6, V], [4, V], [4, "REPLAYED"]]);
  seq(64, "table 6: 100 accepted, 37: accepted (100 - 37 = 63 < 64)", ["Table", "WindowEdge"], [[100, V], [37, V]]);
  seq(64, "table 7: 100 accepted, 36: SEQUENCE_TOO_OLD", ["Table", "WindowEdge"], [[100, V], [36, "SEQUENCE_TOO_OLD"]]);
  seq(64, "table 8: 65535 accepted, 0: accepted (wraps to the next epoch)", ["Table", "Wraparound"], [[65535, V], [0, V]]);
  seq(64, "table 9: 65535, 0 accepted, 65535: REPLAYED", ["Table", "Wraparound"], [[65535, V], [0, V], [65535, "REPLAYED"]]);
  seq(64, "table 10: 10 accepted, 40000: extended to 40000 - 65536, SEQUENCE_TOO_OLD", ["Table"], [[10, V], [40000, "SEQUENCE_TOO_OLD"]]);

  for (const W of [64, 128, 1024]) {
    seq(W, `W=${W}: top - x = W - 1 accepted, then replayed`, ["WindowEdge"], [[5000, V], [5001 - W, V], [5001 - W, "REPLAYED"]]);
    seq(W, `W=${W}: top - x = W is too old`, ["WindowEdge"], [[5000, V], [5000 - W, "SEQUENCE_TOO_OLD"]]);
    seq(W, `W=${W}: sliding by exactly W forgets the old top`, ["LargeJump", "WindowEdge"], [[1000, V], [1000 + W, V], [1000, "SEQUENCE_TOO_OLD"], [1001, V], [1001, "REPLAYED"]]);
    seq(W, `W=${W}: sliding by more than the whole window`, ["LargeJump"], [[1000, V], [1001, V], [1002 + 3 * W, V], [1002 + 2 * W, "SEQUENCE_TOO_OLD"], [1003 + 2 * W, V], [1002 + 3 * W, "REPLAYED"], [1001 + 3 * W, V]]);
    seq(W, `W=${W}: after a jump, numbers whose ring slots held older accepted numbers are new`, ["StaleBits", "LargeJump"], [[5, V], [5 + W + 74, V], [5 + W + 64, V], [5 + W + 63, V], [5 + W + 11, V], [5 + W + 64, "REPLAYED"], [5 + W + 73, V], [5 + W + 74, "REPLAYED"]]);
    seq(W, `W=${W}: an accepted number stays REPLAYED while the window slides up to it`, ["StaleBits"], (() => {
      const s = [[10, V], [9, V]];
      for (let k = 1; k <= W / 64; k++) s.push([10 + 64 * k - 1, V], [9, k * 64 - 1 + 1 < W ? "REPLAYED" : "SEQUENCE_TOO_OLD"]);
      return s;
    })());
    seq(W, `W=${W}: every number of a full window, then each again`, ["WindowEdge"], (() => {
      const s = [];
      for (let i = 0; i < W; i++) s.push([2000 + i, V]);
      for (let i = 0; i < W; i++) s.push([2000 + i, "REPLAYED"]);
      s.push([1999, "SEQUENCE_TOO_OLD"]);
      return s;
    })());
    seq(W, `W=${W}: counting across the wrap with reordering`, ["Wraparound"], [[65530, V], [65532, V], [65535, V], [2, V], [65533, V], [65531, V], [0, V], [65535, "REPLAYED"], [1, V], [2, "REPLAYED"], [65534, V], [3, V], [65530, "REPLAYED"]]);
  }
  seq(64, "StaleBits, W=64: 10, 70 (different block), then 10 is still inside and REPLAYED", ["StaleBits"], [[10, V], [70, V], [10, "REPLAYED"], [6, "SEQUENCE_TOO_OLD"], [7, V]]);
  seq(64, "StaleBits, W=64: 10, 74: 10 is now exactly W behind, too old", ["StaleBits", "WindowEdge"], [[10, V], [74, V], [10, "SEQUENCE_TOO_OLD"], [11, V], [138, V], [74, "SEQUENCE_TOO_OLD"], [75, V], [75, "REPLAYED"]]);
  seq(64, "first 0, then 65535 is one behind it (epoch 1), accepted late, then 0 REPLAYED", ["FirstEpoch", "Wraparound"], [[0, V], [65535, V], [0, "REPLAYED"], [65535, "REPLAYED"], [65472, "SEQUENCE_TOO_OLD"], [65473, V]]);
  seq(64, "first 1, then 65534 and 65535 are late across the wrap", ["FirstEpoch", "Wraparound"], [[1, V], [65535, V], [65534, V], [0, V], [65534, "REPLAYED"], [1, "REPLAYED"], [2, V]]);
  seq(64, "repeated wraps by jumps of 30000", ["Wraparound", "LargeJump"], [[0, V], [30000, V], [60000, V], [24464, V], [54464, V], [18928, V], [48928, V], [13392, V], [13392, "REPLAYED"], [48928, "SEQUENCE_TOO_OLD"]]);
  seq(64, "half way: a number exactly 2^15 above top + 1 is new (not 2^15 below)", ["HalfWay"], [[0, V], [32769, V], [32769, "REPLAYED"], [4, "SEQUENCE_TOO_OLD"]]);
  seq(64, "half way: a number exactly 2^15 below top + 1 is read as 2^15 above it", ["HalfWay"], [[0, V], [32769, V], [3, "SEQUENCE_TOO_OLD"], [2, V], [2, "REPLAYED"]]);
  seq(64, "half way minus one: 2^15 - 1 ahead is new", ["HalfWay"], [[100, V], [100 + 32767, V], [100 + 32766, V], [100 + 32767 - 64, "SEQUENCE_TOO_OLD"]]);
  seq(192, "W=192: edges of a window of three blocks", ["OddWidth", "WindowEdge"], [[1000, V], [809, V], [808, "SEQUENCE_TOO_OLD"], [1191, V], [1000, "REPLAYED"], [999, "SEQUENCE_TOO_OLD"], [1001, V], [1001, "REPLAYED"]]);
  seq(192, "W=192: stale bits of a three-block ring", ["OddWidth", "StaleBits"], [[5, V], [5 + 191, V], [5, "REPLAYED"], [5 + 192, V], [5, "SEQUENCE_TOO_OLD"], [5 + 192 + 64 + 10, V], [5 + 192 + 64, V], [5 + 192 + 1, V], [5 + 192 + 64, "REPLAYED"], [5 + 191, "REPLAYED"]]);
  seq(4096, "W=4096: the widest window, edges", ["WindowEdge"], [[10000, V], [10000 - 4095, V], [10000 - 4096, "SEQUENCE_TOO_OLD"], [10000 + 4096, V], [10001, V], [10000, "SEQUENCE_TOO_OLD"]]);

  // Seeded random walks; the reference answers each step.
  // A walk over an unbounded counter, emitted modulo 2^16: mostly forward,
  // with late numbers, duplicates, jumps ahead and very late numbers.
  const walk = (rng, n, W) => {
    let top = rng.int(0, 65535);
    const sent = [top];
    for (let i = 1; i < n; i++) {
      const r = rng.u32() / 2 ** 32;
      let s;
      if (r < 0.5) s = top + rng.int(1, 3);
      else if (r < 0.75) s = top - rng.int(0, W + 16);
      else if (r < 0.87) s = sent[rng.int(Math.max(0, sent.length - 40), sent.length - 1)];
      else if (r < 0.96) s = top + rng.int(W / 2, 3 * W);
      else s = top - rng.int(W, 20000);
      top = Math.max(top, s);
      sent.push(s);
    }
    return sent.map((s) => ((s % 65536) + 65536) % 65536);
  };
  for (const W of [64, 64, 128, 128, 1024, 1024, 192]) {
    seq(W, `W=${W}: random walk of 300 steps`, W === 192 ? ["Random", "OddWidth"] : ["Random"], (rng) => walk(rng, 300, W));
  }
  // The window advancing inside the 64-bit block of its top must keep that block's bits.
  for (const W of [64, 256]) {
    seq(W, `W=${W}: 5, 6, then 5 again: REPLAYED (the top moved within its block)`, ["StaleBits"], [[5, V], [6, V], [5, "REPLAYED"]]);
    seq(W, `W=${W}: 1000, 1001, 1003, then each again`, ["StaleBits"], [[1000, V], [1001, V], [1003, V], [1000, "REPLAYED"], [1001, "REPLAYED"], [1003, "REPLAYED"], [1002, V]]);
  }
  seq(256, "W=256 (the default): in-order numbers, then a replay of each of the last ten", ["StaleBits"], (() => {
    const s = [];
    for (let i = 0; i < 40; i++) s.push([30000 + i, V]);
    for (let i = 30; i < 40; i++) s.push([30000 + i, "REPLAYED"]);
    return s;
  })());
  return f;
}

// =========================================================================
// timestamp
// =========================================================================

function timestampSuite() {
  const f = new VectorFile({
    suite: "timestamp",
    description:
      "Timestamp-mode freshness (section 6.4): a Replay Protect ID (64-bit NTP timestamp, seconds since 1900 and a binary fraction) is accepted when |timestamp - now| <= skew; otherwise STALE_TIMESTAMP. now is Unix time in milliseconds. The 32-bit seconds wrap in 2036 (NTP era 1); the timestamp is read in the era closest to now.",
    source: SOURCE,
    seed: 0x74696d65,
    notes: {
      Typical: { bugType: "BASIC", description: "A timestamp within the skew." },
      SkewBoundary: { bugType: "EDGE_CASE", description: "Exactly at the skew (accepted) or one millisecond beyond it (STALE_TIMESTAMP)." },
      Fraction: { bugType: "EDGE_CASE", description: "The 32-bit binary fraction counts: 2^31 is half a second." },
      SubMillisecond: { bugType: "EDGE_CASE", description: "Beyond the skew by less than a millisecond (a few units of 2^-32 s). Exact arithmetic refuses it; an implementation that rounds the timestamp to milliseconds may accept it, so either answer is acceptable." },
      ZeroSkew: { bugType: "EDGE_CASE", description: "A skew of 0: only the exact time passes." },
      FarOff: { bugType: "FUNCTIONALITY", description: "Far from now: zero, all ones, hours or years away." },
      NtpEra: { bugType: "EDGE_CASE", description: "Around 2036-02-07T06:28:16Z, where the 32-bit NTP seconds wrap to 0 (era 1, RFC 5905 section 6); and after it." },
      UnixEpoch: { bugType: "EDGE_CASE", description: "now at the Unix epoch (NTP seconds 2208988800)." },
    },
  });
  const g = f.group({});
  const NTP = 2208988800;
  const id = (sec, frac = 0) => hex(concat(be32(sec >>> 0), be32(frac >>> 0)));
  const secOf = (ms) => Math.floor(ms / 1000) + NTP; // may exceed 2^32: be32 keeps the low 32 bits
  function t(comment, flags, idHex, now, skewMs, expect) {
    return f.add(g, () => {
      const got = R.checkTimestamp(idHex, now, skewMs) ?? "valid";
      if (expect === "acceptable") {
        return { comment, flags, id: idHex, now, skewMs, result: "acceptable" };
      }
      assert(got === expect, `timestamp ${comment}: reference ${got}, expected ${expect}`);
      return { comment, flags, id: idHex, now, skewMs, result: got === "valid" ? "valid" : "invalid", ...(got === "valid" ? {} : { error: got }) };
    });
  }
  const S = "STALE_TIMESTAMP";
  const T0 = 1700000000000; // 2023-11-14T22:13:20Z
  const s0 = secOf(T0);
  const MS = 4294968; // ceil(2^32 / 1000): a little more than 1 ms of fraction
  t("equal to now", ["Typical"], id(s0), T0, 7000, "valid");
  t("3 s ahead, skew 7 s", ["Typical"], id(s0 + 3), T0, 7000, "valid");
  t("3 s behind, skew 7 s", ["Typical"], id(s0 - 3), T0, 7000, "valid");
  t("exactly 7 s ahead", ["SkewBoundary"], id(s0 + 7), T0, 7000, "valid");
  t("exactly 7 s behind", ["SkewBoundary"], id(s0 - 7), T0, 7000, "valid");
  t("7.001 s ahead (and a little)", ["SkewBoundary"], id(s0 + 7, MS), T0, 7000, S);
  t("7.001 s behind (and a little)", ["SkewBoundary"], id(s0 - 8, 2 ** 32 - MS), T0, 7000, S);
  t("8 s ahead", ["SkewBoundary"], id(s0 + 8), T0, 7000, S);
  t("8 s behind", ["SkewBoundary"], id(s0 - 8), T0, 7000, S);
  t("7 s and 2^-32 s ahead", ["SubMillisecond"], id(s0 + 7, 1), T0, 7000, "acceptable");
  t("7 s and 2^-32 s behind", ["SubMillisecond"], id(s0 - 8, 2 ** 32 - 1), T0, 7000, "acceptable");
  t("7 s and 0.5 ms ahead", ["SubMillisecond"], id(s0 + 7, 2147484), T0, 7000, "acceptable");
  t("now ends in 500 ms; timestamp with fraction 2^31 is equal", ["Fraction"], id(s0, 2 ** 31), T0 + 500, 7000, "valid");
  t("now ends in 500 ms; 7.5 s ahead of the whole second is exactly 7 s ahead", ["Fraction", "SkewBoundary"], id(s0 + 7, 2 ** 31), T0 + 500, 7000, "valid");
  t("now ends in 500 ms; timestamp 7.001 s behind it", ["Fraction", "SkewBoundary"], id(s0 - 7, 2 ** 31 - MS), T0 + 500, 7000, S);
  t("fraction 0.75 s, 250 ms within a skew of 250 ms", ["Fraction", "SkewBoundary"], id(s0, 3 * 2 ** 30), T0 + 500, 250, "valid");
  t("fraction all ones: 1 s ahead minus 2^-32 s, skew 1 s", ["Fraction"], id(s0, 0xffffffff), T0, 1000, "valid");
  t("skew 0, equal", ["ZeroSkew"], id(s0), T0, 0, "valid");
  t("skew 0, 1 ms ahead", ["ZeroSkew"], id(s0, MS), T0, 0, S);
  t("skew 0, 1 ms behind", ["ZeroSkew"], id(s0 - 1, 2 ** 32 - MS), T0, 0, S);
  t("skew 1 hour, 59 min 59 s behind", ["Typical"], id(s0 - 3599), T0, 3600000, "valid");
  t("skew 1 hour, 1 hour and 1 s ahead", ["SkewBoundary"], id(s0 + 3601), T0, 3600000, S);
  t("all-zero Replay Protect ID", ["FarOff"], id(0, 0), T0, 7000, S);
  t("all-ones Replay Protect ID", ["FarOff"], id(0xffffffff, 0xffffffff), T0, 7000, S);
  t("one day behind, skew 7 s", ["FarOff"], id(s0 - 86400), T0, 7000, S);
  t("2^31 s behind (half an era)", ["FarOff"], id(s0 - 2 ** 31), T0, 7000, S);
  t("a nonce-mode ID (high and low 32 bits random)", ["FarOff"], "5a17c3e9a0b1c2d3", T0, 7000, S);
  const E = (2 ** 32 - NTP) * 1000; // 2036-02-07T06:28:16Z in Unix ms: NTP seconds wrap to 0
  t("era boundary: now at the wrap, timestamp 1 s before it (seconds 0xffffffff)", ["NtpEra"], id(0xffffffff), E, 7000, "valid");
  t("era boundary: now at the wrap, timestamp at it (seconds 0 of era 1)", ["NtpEra"], id(0), E, 7000, "valid");
  t("era boundary: now at the wrap, 7 s after it (seconds 7)", ["NtpEra", "SkewBoundary"], id(7), E, 7000, "valid");
  t("era boundary: now at the wrap, 8 s after it", ["NtpEra", "SkewBoundary"], id(8), E, 7000, S);
  t("era boundary: now 3 s before the wrap, timestamp 2 s after it", ["NtpEra"], id(2), E - 3000, 7000, "valid");
  t("era boundary: now 3 s after the wrap, timestamp 4 s before it", ["NtpEra"], id(0xfffffffc), E + 3000, 7000, "valid");
  t("era boundary: now 1 s before the wrap, timestamp 7 s and 1 ms after it", ["NtpEra", "SkewBoundary"], id(7, MS), E - 1000, 8000, S);
  t("era 1: 2100-01-01, equal", ["NtpEra"], id(secOf(4102444800000)), 4102444800000, 7000, "valid");
  t("era 1: 2100-01-01, 6 s ahead", ["NtpEra"], id(secOf(4102444800000) + 6), 4102444800000, 7000, "valid");
  t("era 1: 2100-01-01, 10 s ahead", ["NtpEra"], id(secOf(4102444800000) + 10), 4102444800000, 7000, S);
  t("now at the Unix epoch, equal", ["UnixEpoch"], id(NTP), 0, 7000, "valid");
  t("now at the Unix epoch, 7 s behind", ["UnixEpoch", "SkewBoundary"], id(NTP - 7), 0, 7000, "valid");
  t("now at the Unix epoch, 8 s ahead", ["UnixEpoch"], id(NTP + 8), 0, 7000, S);
  return f;
}

// =========================================================================
// hkdf
// =========================================================================

/** RFC 5869 appendix A, the SHA-256 cases 1-3. */
const RFC5869 = [
  {
    comment: "RFC 5869 A.1 (test case 1): basic test case with SHA-256",
    ikm: "0b".repeat(22), salt: "000102030405060708090a0b0c", info: "f0f1f2f3f4f5f6f7f8f9", size: 42,
    prk: "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
    okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
  },
  {
    comment: "RFC 5869 A.2 (test case 2): longer inputs and outputs (80-byte salt, IKM and info, L = 82)",
    ikm: range(0x00, 0x50), salt: range(0x60, 0xb0), info: range(0xb0, 0x100), size: 82,
    prk: "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
    okm: "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
  },
  {
    comment: "RFC 5869 A.3 (test case 3): zero-length salt and info",
    ikm: "0b".repeat(22), salt: "", info: "", size: 42,
    prk: "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
    okm: "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
  },
];
function range(from, to) {
  let s = "";
  for (let i = from; i < to; i++) s += i.toString(16).padStart(2, "0");
  return s;
}

function hkdfSuite() {
  const f = new VectorFile({
    suite: "hkdf",
    description:
      "HKDF-SHA256 (RFC 5869), the key derivation of the session key wrap (section 4.7): extract PRK = HMAC-SHA256(salt, ikm), then expand to size bytes of okm with info. prk is the intermediate value (a runner may answer it). An output longer than 255 * 32 = 8160 bytes is refused (INVALID_ARGUMENT).",
    source: `RFC 5869 appendix A (test cases 1-3) and ${SOURCE}; every okm is also checked against node:crypto's hkdfSync`,
    seed: 0x686b6466,
    notes: {
      Rfc5869: { bugType: "BASIC", description: "A test case of RFC 5869 appendix A." },
      OutputLength: { bugType: "EDGE_CASE", description: "An output length at a block boundary of the expansion (T(i) is 32 bytes): 0, 1, 31, 32, 33, 64, 65, and the largest, 8160 = 255 * 32." },
      EmptyInput: { bugType: "EDGE_CASE", description: "An empty salt (the empty HMAC key, equal to 32 zero bytes, RFC 5869 section 2.2), IKM or info." },
      LongSalt: { bugType: "EDGE_CASE", description: "A salt longer than SHA-256's 64-byte block: HMAC hashes the key first (RFC 2104)." },
      LongInfo: { bugType: "EDGE_CASE", description: "info that makes T(i-1) || info || i span several SHA-256 blocks, or end exactly at a block boundary." },
      KeyWrap: { bugType: "FUNCTIONALITY", description: "The derivation of section 4.7: info \"handover key-wrap/1\", L = 32; Wrap Alg 1 with an empty salt, Wrap Alg 2 with a 64-byte salt E || R." },
      Random: { bugType: "FUNCTIONALITY", description: "Pseudorandom inputs." },
      SizeTooLarge: { bugType: "MODIFIED_PARAMETER", description: "An output longer than 255 * HashLen = 8160 bytes: refused (INVALID_ARGUMENT)." },
    },
  });
  const g = f.group({ algorithm: "HKDF-SHA256" });
  const ok = (comment, flags, ikm, salt, info, size, expect = {}) => f.add(g, () => {
    const I = unhex(ikm), S = unhex(salt), N = unhex(info);
    const prk = hex(R.hkdfExtract(S, I));
    const okm = hex(R.hkdfSha256(I, S, N, size));
    if (size > 0) assert(okm === hex(new Uint8Array(hkdfSync("sha256", I, S, N, size))), `hkdf ${comment}: reference and hkdfSync differ`);
    assert(expect.prk === undefined || expect.prk === prk, `hkdf ${comment}: PRK`);
    assert(expect.okm === undefined || expect.okm === okm, `hkdf ${comment}: OKM`);
    return { comment, flags, ikm, salt, info, size, prk, okm, result: "valid" };
  });
  const bad = (comment, flags, ikm, salt, info, size) => f.add(g, () => {
    let err = null;
    try { R.hkdfSha256(unhex(ikm), unhex(salt), unhex(info), size); } catch (e) { err = e.errorName; }
    assert(err === "INVALID_ARGUMENT", `hkdf ${comment}`);
    return { comment, flags, ikm, salt, info, size, okm: "", result: "invalid", error: "INVALID_ARGUMENT" };
  });
  for (const t of RFC5869) ok(t.comment, ["Rfc5869"], t.ikm, t.salt, t.info, t.size, t);
  const rnd = new Prng(0x484b4446);
  const ikm = hex(rnd.bytes(32)), salt = hex(rnd.bytes(16)), info = hex(rnd.bytes(10));
  for (const size of [0, 1, 31, 32, 33, 64, 65, 8160]) ok(`L = ${size}`, ["OutputLength"], ikm, salt, info, size);
  ok("empty salt, IKM and info", ["EmptyInput"], "", "", "", 32);
  ok("empty IKM", ["EmptyInput"], "", salt, info, 42);
  ok("empty salt equals 32 zero bytes (this case and the next give the same okm)", ["EmptyInput"], ikm, "", info, 32);
  ok("salt of 32 zero bytes", ["EmptyInput"], ikm, "00".repeat(32), info, 32);
  ok("salt of 64 bytes (one block, used as it is)", ["LongSalt"], ikm, hex(rnd.bytes(64)), info, 32);
  ok("salt of 65 bytes (hashed first)", ["LongSalt"], ikm, hex(rnd.bytes(65)), info, 32);
  ok("salt of 200 bytes", ["LongSalt"], ikm, hex(rnd.bytes(200)), info, 100);
  ok("info of 31 bytes: T(i-1) || info || i is exactly 64 bytes for i > 1", ["LongInfo"], ikm, salt, hex(rnd.bytes(31)), 96);
  ok("info of 32 bytes", ["LongInfo"], ikm, salt, hex(rnd.bytes(32)), 96);
  ok("info of 63 bytes: info || 1 is exactly one block", ["LongInfo"], ikm, salt, hex(rnd.bytes(63)), 64);
  ok("info of 300 bytes", ["LongInfo"], ikm, salt, hex(rnd.bytes(300)), 100);
  ok("IKM of 1000 bytes", ["Random"], hex(rnd.bytes(1000)), salt, info, 32);
  const wrapInfo = hex(R.KEY_WRAP_INFO);
  ok("section 4.7, Wrap Alg 1: a 32-byte SA key, empty salt", ["KeyWrap"], hex(rnd.bytes(32)), "", wrapInfo, 32);
  ok("section 4.7, Wrap Alg 1: a 16-byte SA key, empty salt", ["KeyWrap"], hex(rnd.bytes(16)), "", wrapInfo, 32);
  ok("section 4.7, Wrap Alg 2: Z, salt E || R", ["KeyWrap"], hex(rnd.bytes(32)), hex(rnd.bytes(64)), wrapInfo, 32);
  for (let i = 0; i < 6; i++) {
    ok(`random inputs ${i + 1}`, ["Random"], hex(rnd.bytes(rnd.int(0, 100))), hex(rnd.bytes(rnd.int(0, 100))), hex(rnd.bytes(rnd.int(0, 100))), rnd.int(1, 300));
  }
  bad("L = 8161 (one more than 255 * 32)", ["SizeTooLarge"], ikm, salt, info, 8161);
  bad("L = 10000", ["SizeTooLarge"], ikm, salt, info, 10000);
  return f;
}

// =========================================================================
// keywrap
// =========================================================================

/** Points of small order (and non-canonical encodings of them), as X25519 u-coordinates. */
const LOW_ORDER = [
  ["0000000000000000000000000000000000000000000000000000000000000000", "u = 0 (order 2)", true],
  ["0100000000000000000000000000000000000000000000000000000000000000", "u = 1 (order 4)", true],
  ["e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", "a point of order 8", true],
  ["5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", "a point of order 8", true],
  ["ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "u = p - 1 (a low-order point on the twist)", true],
  ["edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "u = p, non-canonical 0", false],
  ["eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "u = p + 1, non-canonical 1", false],
  ["0000000000000000000000000000000000000000000000000000000000000080", "u = 0 with bit 255 set", false],
  ["e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880", "a point of order 8 with bit 255 set", false],
  ["ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "u = p - 1 with bit 255 set", false],
];
const RFC7748 = {
  alicePrivate: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
  alicePublic: "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  bobPrivate: "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
  bobPublic: "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  shared: "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
};

function keywrapSuite() {
  const f = new VectorFile({
    suite: "keywrap",
    description:
      "The session key wrap of section 4.7. Groups name the wrap algorithm and the operation. wrap: from header (the message's 20-byte header), wrapSpi, sessionSpi, the wrapping key (Wrap Alg 1: key, the wrap SA's key; Wrap Alg 2: recipientPublic, with the ephemeral private key ephemeralPrivate), nonce and sessionKey, compute exactly body, the extension's bytes after the Session SPI ([E ||] nonce || sealed key || tag); or fail with error. unwrap: from header, wrapSpi, sessionSpi, the key (Wrap Alg 1: key; Wrap Alg 2: recipientPrivate) and body, recover sessionKey; or fail with error, checking in section 4.7's order. wrappingKey (K) and sharedSecret (Z) are intermediate values for debugging; recipientPublic in unwrap tests is X25519(recipientPrivate, 9), for information.",
    source: SOURCE,
    seed: 0x6b777270,
    notes: {
      Typical: { bugType: "BASIC", description: "A typical wrap in a Transfer Request or Transfer Negotiation Request." },
      KeyLength: { bugType: "EDGE_CASE", description: "A wrap SA key of 16 bytes (the shortest, section 6.1) or longer than SHA-256's block; the key is HKDF's IKM, used as it is." },
      BoundaryValue: { bugType: "EDGE_CASE", description: "SPIs 256 and 2^32 - 1, an all-zero or all-ones session key or nonce." },
      FurtherTransfer: { bugType: "FUNCTIONALITY", description: "Section 8.6: the new session key wrapped under the old session SA (Wrap SPI = the old Session SPI, key = the old 32-byte session key)." },
      Rfc7748Keys: { bugType: "FUNCTIONALITY", description: "The key pairs of RFC 7748 section 6.1: Alice's private key as the ephemeral key, Bob's as the recipient's; sharedSecret is RFC 7748's shared secret." },
      Clamping: { bugType: "EDGE_CASE", description: "A private key whose bits that X25519 clamps (the low three, bit 255, bit 254) are set or clear: the same scalar, so the same E, Z and body." },
      ModifiedTag: { bugType: "AUTH_BYPASS", description: "The tag changed: KEY_UNWRAP_FAILED." },
      ModifiedCiphertext: { bugType: "AUTH_BYPASS", description: "The sealed key changed: KEY_UNWRAP_FAILED." },
      ModifiedNonce: { bugType: "AUTH_BYPASS", description: "The nonce changed: KEY_UNWRAP_FAILED." },
      ModifiedHeader: { bugType: "AUTH_BYPASS", description: "A byte of the message header, which is part of the associated data, changed (the wrap moved into another message): KEY_UNWRAP_FAILED." },
      ModifiedSpi: { bugType: "AUTH_BYPASS", description: "Wrap SPI or Session SPI changed to another valid SPI (part of the associated data): KEY_UNWRAP_FAILED." },
      ModifiedEphemeral: { bugType: "AUTH_BYPASS", description: "The ephemeral public key changed: another Z, salt and associated data: KEY_UNWRAP_FAILED." },
      NonCanonicalEphemeral: { bugType: "EDGE_CASE", description: "E with bit 255 set: X25519 ignores the bit (the same Z), but E enters the salt and the associated data as received, so the tag fails: KEY_UNWRAP_FAILED." },
      WrongKey: { bugType: "AUTH_BYPASS", description: "Unwrapped with a key other than the one wrapped for: KEY_UNWRAP_FAILED." },
      WrongPrimitive: { bugType: "WRONG_PRIMITIVE", description: "The body was sealed with a construction other than section 4.7's (no HKDF, another info, salt or associated data): KEY_UNWRAP_FAILED." },
      LowOrderEphemeral: { bugType: "EDGE_CASE", description: "The ephemeral public key is a point of small order (or a non-canonical encoding of one), so Z is all zero: LOW_ORDER_POINT." },
      LowOrderPublic: { bugType: "EDGE_CASE", description: "The recipient's public key is a point of small order, so Z is all zero: LOW_ORDER_POINT." },
      NonCanonicalPublic: { bugType: "MODIFIED_PARAMETER", description: "The recipient's public key is not below 2^255 - 19 (bit 255 set, or p to 2^255 - 1): a sender refuses it (INVALID_ARGUMENT), because the recipient's salt would hold the canonical R." },
      BadSpi: { bugType: "MODIFIED_PARAMETER", description: "Wrap SPI or Session SPI below 256 (reserved): BAD_SPI." },
      BadLength: { bugType: "MALFORMED", description: "A body of neither 60 nor 92 bytes, or of the other algorithm's length: BAD_LENGTH." },
      ShortKey: { bugType: "MODIFIED_PARAMETER", description: "A wrap SA key shorter than 16 bytes, or an X25519 key not of 32 bytes: INVALID_ARGUMENT." },
      ErrorOrder: { bugType: "EDGE_CASE", description: "Two faults: the expected error is the first in section 4.7's order." },
      EphemeralAsReceived: { bugType: "EDGE_CASE", description: "A body whose E has bit 255 set and was sealed with that E, exactly as it appears, in the salt and the associated data (section 4.7): it opens. Sealed with bit 255 cleared in the salt only, or in the associated data only, it does not (KEY_UNWRAP_FAILED). A recipient that clears or reduces E before using it gets these cases wrong." },
    },
  });
  const G = {
    wrap1: f.group({ wrap: "CHACHA20_POLY1305", operation: "wrap" }),
    unwrap1: f.group({ wrap: "CHACHA20_POLY1305", operation: "unwrap" }),
    wrap2: f.group({ wrap: "X25519_CHACHA20_POLY1305", operation: "wrap" }),
    unwrap2: f.group({ wrap: "X25519_CHACHA20_POLY1305", operation: "unwrap" }),
  };
  const fixed = new Prng(0x4b575250);
  const HDR_TR = hex(header({ type: "TRANSFER_REQUEST", seq: 41, cookie: COOKIE_M, fc: 0x03, rid: "e8a1b2c3" + "9abc0000" }));
  const HDR_TN = hex(header({ type: "TRANSFER_NEGOTIATION_REQUEST", seq: 0x1234, cookie: COOKIE_F, fc: 0x05, rid: "e8a1b2c4" + "00000000" }));
  const SA_KEY = hex(fixed.bytes(32));
  const R_PRIV = hex(fixed.bytes(32));
  const R_PUB = hex(R.x25519Public(unhex(R_PRIV)));
  const OTHER_KEY = hex(fixed.bytes(32));
  const OTHER_PRIV = hex(fixed.bytes(32));
  const WSPI = 0x1001, SSPI = 0x2002;
  const alg = { wrap1: 1, unwrap1: 1, wrap2: 2, unwrap2: 2 };
  const errorOf = (fn) => {
    try { fn(); } catch (e) { if (e instanceof R.RefError) return e.errorName; throw e; }
    return null;
  };

  /** A wrap: p holds hex inputs; with expect "valid", body and the intermediates are computed. */
  const wrapCase = (g, comment, flags, p, expect = "valid") => f.add(G[g], (rng) => {
    const q = { header: HDR_TR, wrapSpi: WSPI, sessionSpi: SSPI, nonce: hex(rng.bytes(12)), sessionKey: hex(rng.bytes(32)), ...p };
    if (alg[g] === 2) {
      q.recipientPublic ??= R_PUB;
      q.ephemeralPrivate ??= hex(rng.bytes(32));
    } else q.key ??= SA_KEY;
    const args = {
      header: unhex(q.header), wrap: alg[g], wrapSpi: q.wrapSpi, sessionSpi: q.sessionSpi, nonce: unhex(q.nonce), sessionKey: unhex(q.sessionKey),
      key: q.key !== undefined ? unhex(q.key) : undefined,
      recipientPublic: q.recipientPublic !== undefined ? unhex(q.recipientPublic) : undefined,
      ephemeralPrivate: q.ephemeralPrivate !== undefined ? unhex(q.ephemeralPrivate) : undefined,
    };
    const inputs = alg[g] === 1
      ? { header: q.header, wrapSpi: q.wrapSpi, sessionSpi: q.sessionSpi, key: q.key, nonce: q.nonce, sessionKey: q.sessionKey }
      : { header: q.header, wrapSpi: q.wrapSpi, sessionSpi: q.sessionSpi, recipientPublic: q.recipientPublic, ephemeralPrivate: q.ephemeralPrivate, nonce: q.nonce, sessionKey: q.sessionKey };
    if (expect !== "valid") {
      const err = errorOf(() => R.wrapSessionKey(args));
      assert(err === expect, `keywrap ${comment}: reference gives ${err}, expected ${expect}`);
      return { comment, flags, ...inputs, result: "invalid", error: expect };
    }
    const w = R.wrapSessionKey(args);
    // The wrap must open again (the unwrap key: the SA key, or the private key whose public key is R).
    const priv = p.recipientPrivate ?? (q.recipientPublic === R_PUB ? R_PRIV : undefined);
    if (alg[g] === 1 || priv) {
      const back = R.unwrapSessionKey({ header: args.header, wrap: alg[g], wrapSpi: q.wrapSpi, sessionSpi: q.sessionSpi, key: alg[g] === 1 ? args.key : unhex(priv), body: w.body });
      assert(hex(back) === q.sessionKey, `keywrap ${comment}: does not unwrap`);
    }
    const out = { comment, flags, ...inputs, body: hex(w.body), wrappingKey: hex(w.wrappingKey) };
    if (w.sharedSecret) out.sharedSecret = hex(w.sharedSecret);
    out.result = "valid";
    return out;
  });

  /** An unwrap of explicit inputs; expect "valid" or an error name. */
  const unwrapCase = (g, comment, flags, q, expect) => f.add(G[g], () => {
    const args = { header: unhex(q.header), wrap: alg[g], wrapSpi: q.wrapSpi, sessionSpi: q.sessionSpi, key: unhex(alg[g] === 1 ? q.key : q.recipientPrivate), body: unhex(q.body) };
    const inputs = alg[g] === 1
      ? { header: q.header, wrapSpi: q.wrapSpi, sessionSpi: q.sessionSpi, key: q.key, body: q.body }
      : { header: q.header, wrapSpi: q.wrapSpi, sessionSpi: q.sessionSpi, recipientPrivate: q.recipientPrivate, recipientPublic: q.recipientPrivate.length === 64 ? hex(R.x25519Public(unhex(q.recipientPrivate))) : "", body: q.body };
    if (inputs.recipientPublic === "") delete inputs.recipientPublic;
    if (expect === "valid") {
      const sk = hex(R.unwrapSessionKey(args));
      assert(q.sessionKey === undefined || sk === q.sessionKey, `keywrap ${comment}: unwraps to another key`);
      return { comment, flags, ...inputs, sessionKey: sk, result: "valid" };
    }
    const err = errorOf(() => R.unwrapSessionKey(args));
    assert(err === expect, `keywrap ${comment}: reference gives ${err}, expected ${expect}`);
    return { comment, flags, ...inputs, result: "invalid", error: expect };
  });

  /** Wraps with the reference (outside any test) and returns the unwrap inputs. */
  const made = new Prng(0x4d414445);
  function wrapped(a, p = {}) {
    const q = { header: HDR_TR, wrapSpi: WSPI, sessionSpi: SSPI, nonce: hex(made.bytes(12)), sessionKey: hex(made.bytes(32)), ...p };
    const w = R.wrapSessionKey({
      header: unhex(q.header), wrap: a, wrapSpi: q.wrapSpi, sessionSpi: q.sessionSpi, nonce: unhex(q.nonce), sessionKey: unhex(q.sessionKey),
      key: unhex(q.key ?? SA_KEY), recipientPublic: unhex(q.recipientPublic ?? R_PUB), ephemeralPrivate: made.bytes(32),
    });
    return a === 1
      ? { header: q.header, wrapSpi: q.wrapSpi, sessionSpi: q.sessionSpi, key: q.key ?? SA_KEY, body: hex(w.body), sessionKey: q.sessionKey }
      : { header: q.header, wrapSpi: q.wrapSpi, sessionSpi: q.sessionSpi, recipientPrivate: R_PRIV, body: hex(w.body), sessionKey: q.sessionKey };
  }
  /** body with byte i XOR-ed with x. */
  const flip = (body, i, x = 1) => {
    const b = unhex(body);
    b[(i + b.length) % b.length] ^= x;
    return hex(b);
  };
  /** A body sealed some other way: k, nonce, aad and the E to put in front. */
  const sealOther = (k, nonce, aad, e, sessionKey) => hex(concat(e, nonce, chacha20poly1305(k, nonce, aad).encrypt(sessionKey)));

  // ---- Wrap Alg 1: wrap ----
  const ZERO_NONCE = "00".repeat(12);
  wrapCase("wrap1", "typical: a Transfer Request, 32-byte SA key", ["Typical"], {});
  wrapCase("wrap1", "typical: a Transfer Negotiation Request", ["Typical"], { header: HDR_TN, wrapSpi: 4346, sessionSpi: 0x7fffffff });
  wrapCase("wrap1", "SA key of 16 bytes (the shortest)", ["KeyLength"], { key: hex(fixed.bytes(16)) });
  wrapCase("wrap1", "SA key of 20 bytes", ["KeyLength"], { key: hex(fixed.bytes(20)) });
  wrapCase("wrap1", "SA key of 64 bytes", ["KeyLength"], { key: hex(fixed.bytes(64)) });
  wrapCase("wrap1", "SA key of 65 bytes", ["KeyLength"], { key: hex(fixed.bytes(65)) });
  wrapCase("wrap1", "SA key of 100 bytes", ["KeyLength"], { key: hex(fixed.bytes(100)) });
  wrapCase("wrap1", "SPIs 256 and 2^32 - 1", ["BoundaryValue"], { wrapSpi: 256, sessionSpi: 0xffffffff });
  wrapCase("wrap1", "SPIs 2^32 - 1 and 256", ["BoundaryValue"], { wrapSpi: 0xffffffff, sessionSpi: 256 });
  wrapCase("wrap1", "all-zero session key", ["BoundaryValue"], { sessionKey: "00".repeat(32) });
  wrapCase("wrap1", "all-ones session key", ["BoundaryValue"], { sessionKey: "ff".repeat(32) });
  wrapCase("wrap1", "all-zero nonce", ["BoundaryValue"], { nonce: ZERO_NONCE });
  wrapCase("wrap1", "further transfer: under the old session key, Wrap SPI = the old Session SPI", ["FurtherTransfer"], { key: hex(fixed.bytes(32)), wrapSpi: SSPI, sessionSpi: 0x2003 });
  wrapCase("wrap1", "Wrap SPI 255", ["BadSpi"], { wrapSpi: 255 }, "BAD_SPI");
  wrapCase("wrap1", "Wrap SPI 0", ["BadSpi"], { wrapSpi: 0 }, "BAD_SPI");
  wrapCase("wrap1", "Session SPI 255", ["BadSpi"], { sessionSpi: 255 }, "BAD_SPI");
  wrapCase("wrap1", "SA key of 15 bytes", ["ShortKey"], { key: hex(fixed.bytes(15)) }, "INVALID_ARGUMENT");
  wrapCase("wrap1", "empty SA key", ["ShortKey"], { key: "" }, "INVALID_ARGUMENT");
  wrapCase("wrap1", "Session SPI 0 and a 15-byte key: BAD_SPI first", ["BadSpi", "ShortKey", "ErrorOrder"], { sessionSpi: 0, key: hex(fixed.bytes(15)) }, "BAD_SPI");

  // ---- Wrap Alg 2: wrap ----
  wrapCase("wrap2", "typical: a Transfer Request", ["Typical"], {});
  wrapCase("wrap2", "typical: a Transfer Negotiation Request", ["Typical"], { header: HDR_TN, wrapSpi: 4346, sessionSpi: 0x7fffffff });
  wrapCase("wrap2", "RFC 7748 keys: e = Alice's private key, R = Bob's public key", ["Rfc7748Keys"], { ephemeralPrivate: RFC7748.alicePrivate, recipientPublic: RFC7748.bobPublic, recipientPrivate: RFC7748.bobPrivate });
  {
    const e = fixed.bytes(32);
    const clamped = e.slice();
    clamped[0] &= 248; clamped[31] = (clamped[31] & 127) | 64;
    const loose = clamped.slice();
    loose[0] |= 7; loose[31] |= 128; loose[31] &= ~64 & 255;
    const a = wrapCase("wrap2", "ephemeral private key already clamped", ["Clamping"], { ephemeralPrivate: hex(clamped), nonce: ZERO_NONCE, sessionKey: "11".repeat(32) });
    const b = wrapCase("wrap2", "the same key with the low three bits and bit 255 set and bit 254 clear: the same body", ["Clamping"], { ephemeralPrivate: hex(loose), nonce: ZERO_NONCE, sessionKey: "11".repeat(32) });
    const body = (id) => G.wrap2.tests.find((t) => t.tcId === id).body;
    assert(body(a) === body(b), "clamping: the same body");
  }
  wrapCase("wrap2", "SPIs 256 and 2^32 - 1", ["BoundaryValue"], { wrapSpi: 256, sessionSpi: 0xffffffff });
  wrapCase("wrap2", "all-zero session key and nonce", ["BoundaryValue"], { sessionKey: "00".repeat(32), nonce: ZERO_NONCE });
  for (const [u, what, canonical] of LOW_ORDER) {
    if (canonical) wrapCase("wrap2", `recipient's public key ${what}`, ["LowOrderPublic"], { recipientPublic: u }, "LOW_ORDER_POINT");
    else wrapCase("wrap2", `recipient's public key ${what}: not canonical`, ["NonCanonicalPublic", "LowOrderPublic", "ErrorOrder"], { recipientPublic: u }, "INVALID_ARGUMENT");
  }
  {
    const r = unhex(R_PUB);
    r[31] |= 0x80;
    wrapCase("wrap2", "recipient's public key with bit 255 set", ["NonCanonicalPublic"], { recipientPublic: hex(r) }, "INVALID_ARGUMENT");
    wrapCase("wrap2", "recipient's public key 2^255 - 1", ["NonCanonicalPublic"], { recipientPublic: "ff".repeat(31) + "7f" }, "INVALID_ARGUMENT");
  }
  wrapCase("wrap2", "recipient's public key of 31 bytes", ["ShortKey"], { recipientPublic: R_PUB.slice(0, 62) }, "INVALID_ARGUMENT");
  wrapCase("wrap2", "Wrap SPI 255", ["BadSpi"], { wrapSpi: 255 }, "BAD_SPI");
  wrapCase("wrap2", "Session SPI 1", ["BadSpi"], { sessionSpi: 1 }, "BAD_SPI");
  wrapCase("wrap2", "Wrap SPI 0 and a low-order public key: BAD_SPI first", ["BadSpi", "LowOrderPublic", "ErrorOrder"], { wrapSpi: 0, recipientPublic: LOW_ORDER[0][0] }, "BAD_SPI");

  // ---- Wrap Alg 1: unwrap ----
  for (const t of [...G.wrap1.tests].filter((t) => t.result === "valid")) {
    unwrapCase("unwrap1", `unwraps the wrap of tcId ${t.tcId}: ${t.comment}`, t.flags, t, "valid");
  }
  const w1 = wrapped(1);
  const w1s = wrapped(1, { sessionKey: "5a".repeat(32) });
  unwrapCase("unwrap1", "tag: first byte changed", ["ModifiedTag"], { ...w1, body: flip(w1.body, 44) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap1", "tag: last bit changed", ["ModifiedTag"], { ...w1, body: flip(w1.body, -1, 0x80) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap1", "tag: all zero", ["ModifiedTag"], { ...w1, body: w1.body.slice(0, 88) + "00".repeat(16) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap1", "sealed key: first byte changed", ["ModifiedCiphertext"], { ...w1, body: flip(w1.body, 12) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap1", "sealed key: last byte changed", ["ModifiedCiphertext"], { ...w1, body: flip(w1.body, 43, 0x40) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap1", "sealed key and tag of another wrap under the same key", ["ModifiedCiphertext"], { ...w1, body: w1.body.slice(0, 24) + w1s.body.slice(24) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap1", "nonce: first byte changed", ["ModifiedNonce"], { ...w1, body: flip(w1.body, 0) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap1", "nonce: last byte changed", ["ModifiedNonce"], { ...w1, body: flip(w1.body, 11) }, "KEY_UNWRAP_FAILED");
  const HEADER_BYTES = [[0, "Version"], [1, "Type"], [2, "Sequence #, high byte"], [3, "Sequence #, low byte"], [4, "cookie, first byte"], [9, "cookie, last byte"], [10, "Flags/Code"], [11, "Reserved"], [12, "Replay Protect ID, first byte"], [19, "Replay Protect ID, last byte"]];
  for (const [i, what] of HEADER_BYTES) {
    unwrapCase("unwrap1", `header byte ${i} (${what}) changed`, ["ModifiedHeader"], { ...w1, header: flip(w1.header, i) }, "KEY_UNWRAP_FAILED");
  }
  unwrapCase("unwrap1", "Wrap SPI changed (+1)", ["ModifiedSpi"], { ...w1, wrapSpi: w1.wrapSpi + 1 }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap1", "Session SPI changed (+1)", ["ModifiedSpi"], { ...w1, sessionSpi: w1.sessionSpi + 1 }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap1", "Wrap SPI and Session SPI swapped", ["ModifiedSpi"], { ...w1, wrapSpi: w1.sessionSpi, sessionSpi: w1.wrapSpi }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap1", "another SA key", ["WrongKey"], { ...w1, key: OTHER_KEY }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap1", "the SA key with its last bit changed", ["WrongKey"], { ...w1, key: flip(w1.key, -1, 0x01) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap1", "the SA key without its last byte", ["WrongKey"], { ...w1, key: w1.key.slice(0, -2) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap1", "the SA key with a zero byte appended", ["WrongKey"], { ...w1, key: w1.key + "00" }, "KEY_UNWRAP_FAILED");
  {
    const H = unhex(w1.header), nonce = unhex(w1.body.slice(0, 24)), sk = unhex(w1.sessionKey), key = unhex(w1.key);
    const ext = concat([42, 70, 1, 0], be32(w1.wrapSpi), be32(w1.sessionSpi));
    const kOk = R.hkdfSha256(key, new Uint8Array(0), R.KEY_WRAP_INFO, 32);
    const other = (comment, k, aad) => unwrapCase("unwrap1", comment, ["WrongPrimitive"], { ...w1, body: sealOther(k, nonce, aad, [], sk) }, "KEY_UNWRAP_FAILED");
    other("sealed under the SA key itself, without HKDF", key, concat(H, ext));
    other("HKDF info with a terminating NUL", R.hkdfSha256(key, new Uint8Array(0), concat(R.KEY_WRAP_INFO, [0]), 32), concat(H, ext));
    other("HKDF with the SA key as salt and an empty IKM", R.hkdfSha256(new Uint8Array(0), key, R.KEY_WRAP_INFO, 32), concat(H, ext));
    other("associated data: the header only", kOk, H);
    other("associated data: the extension's 12 bytes only", kOk, ext);
    other("associated data: the extension's Length counted without the 2-byte Type and Length (68)", kOk, concat(H, [42, 68, 1, 0], be32(w1.wrapSpi), be32(w1.sessionSpi)));
    other("no associated data", kOk, new Uint8Array(0));
    // The correct construction, built the same way, must verify (a check of this block).
    unwrapCase("unwrap1", "rebuilt from its parts: K from HKDF, AAD = header || 12 bytes of the extension", ["Typical"], { ...w1, body: sealOther(kOk, nonce, concat(H, ext), [], sk) }, "valid");
  }
  unwrapCase("unwrap1", "body of 59 bytes", ["BadLength"], { ...w1, body: w1.body.slice(0, -2) }, "BAD_LENGTH");
  unwrapCase("unwrap1", "body of 61 bytes", ["BadLength"], { ...w1, body: w1.body + "00" }, "BAD_LENGTH");
  unwrapCase("unwrap1", "body of 92 bytes (Wrap Alg 2's length)", ["BadLength"], { ...w1, body: "00".repeat(32) + w1.body }, "BAD_LENGTH");
  unwrapCase("unwrap1", "empty body", ["BadLength"], { ...w1, body: "" }, "BAD_LENGTH");
  unwrapCase("unwrap1", "Wrap SPI 255", ["BadSpi"], { ...w1, wrapSpi: 255 }, "BAD_SPI");
  unwrapCase("unwrap1", "Session SPI 0", ["BadSpi"], { ...w1, sessionSpi: 0 }, "BAD_SPI");
  unwrapCase("unwrap1", "SA key of 15 bytes (the first 15 bytes of the right key)", ["ShortKey"], { ...w1, key: w1.key.slice(0, 30) }, "INVALID_ARGUMENT");
  unwrapCase("unwrap1", "empty SA key", ["ShortKey"], { ...w1, key: "" }, "INVALID_ARGUMENT");
  unwrapCase("unwrap1", "body of 59 bytes and Wrap SPI 0: BAD_LENGTH first", ["BadLength", "BadSpi", "ErrorOrder"], { ...w1, body: w1.body.slice(0, -2), wrapSpi: 0 }, "BAD_LENGTH");
  unwrapCase("unwrap1", "Session SPI 255 and a 15-byte key: BAD_SPI first", ["BadSpi", "ShortKey", "ErrorOrder"], { ...w1, sessionSpi: 255, key: w1.key.slice(0, 30) }, "BAD_SPI");
  unwrapCase("unwrap1", "a 15-byte key and a changed tag: INVALID_ARGUMENT first", ["ShortKey", "ModifiedTag", "ErrorOrder"], { ...w1, key: w1.key.slice(0, 30), body: flip(w1.body, -1) }, "INVALID_ARGUMENT");

  // ---- Wrap Alg 2: unwrap ----
  for (const t of [...G.wrap2.tests].filter((t) => t.result === "valid")) {
    const priv = t.recipientPublic === R_PUB ? R_PRIV : t.recipientPublic === RFC7748.bobPublic ? RFC7748.bobPrivate : null;
    assert(priv, `keywrap: no private key for tcId ${t.tcId}`);
    unwrapCase("unwrap2", `unwraps the wrap of tcId ${t.tcId}: ${t.comment}`, t.flags, { ...t, recipientPrivate: priv }, "valid");
  }
  const w2 = wrapped(2);
  {
    const loose = unhex(R_PRIV);
    loose[0] |= 7; loose[31] = (loose[31] | 128) & ~64 & 255;
    unwrapCase("unwrap2", "the recipient's private key with the bits that clamping sets or clears inverted: the same scalar", ["Clamping"], { ...w2, recipientPrivate: hex(loose) }, "valid");
  }
  unwrapCase("unwrap2", "tag: first byte changed", ["ModifiedTag"], { ...w2, body: flip(w2.body, 76) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap2", "tag: last bit changed", ["ModifiedTag"], { ...w2, body: flip(w2.body, -1, 0x80) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap2", "sealed key: first byte changed", ["ModifiedCiphertext"], { ...w2, body: flip(w2.body, 44) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap2", "sealed key: last byte changed", ["ModifiedCiphertext"], { ...w2, body: flip(w2.body, 75) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap2", "nonce: first byte changed", ["ModifiedNonce"], { ...w2, body: flip(w2.body, 32) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap2", "nonce: last byte changed", ["ModifiedNonce"], { ...w2, body: flip(w2.body, 43) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap2", "ephemeral public key: bit 0 changed", ["ModifiedEphemeral"], { ...w2, body: flip(w2.body, 0) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap2", "ephemeral public key: byte 17 changed", ["ModifiedEphemeral"], { ...w2, body: flip(w2.body, 17, 0x10) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap2", "ephemeral public key with bit 255 set: the same Z, another salt and AAD", ["NonCanonicalEphemeral"], { ...w2, body: flip(w2.body, 31, 0x80) }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap2", "the ephemeral public key of another wrap", ["ModifiedEphemeral"], { ...w2, body: wrapped(2).body.slice(0, 64) + w2.body.slice(64) }, "KEY_UNWRAP_FAILED");
  for (const [i, what] of HEADER_BYTES.filter((_, k) => k % 2 === 0 || k === 9)) {
    unwrapCase("unwrap2", `header byte ${i} (${what}) changed`, ["ModifiedHeader"], { ...w2, header: flip(w2.header, i) }, "KEY_UNWRAP_FAILED");
  }
  unwrapCase("unwrap2", "Wrap SPI changed (+1)", ["ModifiedSpi"], { ...w2, wrapSpi: w2.wrapSpi + 1 }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap2", "Session SPI changed (+1)", ["ModifiedSpi"], { ...w2, sessionSpi: w2.sessionSpi + 1 }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap2", "Wrap SPI and Session SPI swapped", ["ModifiedSpi"], { ...w2, wrapSpi: w2.sessionSpi, sessionSpi: w2.wrapSpi }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap2", "another recipient's private key", ["WrongKey"], { ...w2, recipientPrivate: OTHER_PRIV }, "KEY_UNWRAP_FAILED");
  unwrapCase("unwrap2", "the private key with bit 3 changed (not a clamped bit)", ["WrongKey"], { ...w2, recipientPrivate: flip(w2.recipientPrivate, 0, 0x08) }, "KEY_UNWRAP_FAILED");
  for (const [u, what] of LOW_ORDER) {
    unwrapCase("unwrap2", `ephemeral public key ${what}`, ["LowOrderEphemeral"], { ...w2, body: u + w2.body.slice(64) }, "LOW_ORDER_POINT");
  }
  {
    const H = unhex(w2.header), body = unhex(w2.body), E = body.subarray(0, 32), nonce = body.subarray(32, 44), sk = unhex(w2.sessionKey);
    const Rpub = unhex(R_PUB);
    const Z = R.x25519Shared(unhex(R_PRIV), E);
    const ext = concat([42, 102, 2, 0], be32(w2.wrapSpi), be32(w2.sessionSpi));
    const aadOk = concat(H, ext, E);
    const kOk = R.hkdfSha256(Z, concat(E, Rpub), R.KEY_WRAP_INFO, 32);
    const other = (comment, k, aad) => unwrapCase("unwrap2", comment, ["WrongPrimitive"], { ...w2, body: sealOther(k, nonce, aad, E, sk) }, "KEY_UNWRAP_FAILED");
    other("sealed under Z itself, without HKDF", Z, aadOk);
    other("HKDF salt R || E (reversed)", R.hkdfSha256(Z, concat(Rpub, E), R.KEY_WRAP_INFO, 32), aadOk);
    other("HKDF with an empty salt", R.hkdfSha256(Z, new Uint8Array(0), R.KEY_WRAP_INFO, 32), aadOk);
    other("HKDF salt E only", R.hkdfSha256(Z, E, R.KEY_WRAP_INFO, 32), aadOk);
    other("associated data without E", kOk, concat(H, ext));
    other("associated data with Length 70", kOk, concat(H, [42, 70, 2, 0], be32(w2.wrapSpi), be32(w2.sessionSpi), E));
    unwrapCase("unwrap2", "rebuilt from its parts: Z, K = HKDF(Z, E || R), AAD = header || 12 bytes || E", ["Typical"], { ...w2, body: sealOther(kOk, nonce, aadOk, E, sk) }, "valid");
  }
  unwrapCase("unwrap2", "body of 60 bytes (Wrap Alg 1's length)", ["BadLength"], { ...w2, body: w2.body.slice(64) }, "BAD_LENGTH");
  unwrapCase("unwrap2", "body of 91 bytes", ["BadLength"], { ...w2, body: w2.body.slice(0, -2) }, "BAD_LENGTH");
  unwrapCase("unwrap2", "Wrap SPI 0", ["BadSpi"], { ...w2, wrapSpi: 0 }, "BAD_SPI");
  unwrapCase("unwrap2", "Session SPI 255", ["BadSpi"], { ...w2, sessionSpi: 255 }, "BAD_SPI");
  unwrapCase("unwrap2", "private key of 31 bytes", ["ShortKey"], { ...w2, recipientPrivate: w2.recipientPrivate.slice(0, 62) }, "INVALID_ARGUMENT");
  unwrapCase("unwrap2", "private key of 33 bytes", ["ShortKey"], { ...w2, recipientPrivate: w2.recipientPrivate + "00" }, "INVALID_ARGUMENT");
  unwrapCase("unwrap2", "a low-order ephemeral key and a changed tag: LOW_ORDER_POINT first", ["LowOrderEphemeral", "ModifiedTag", "ErrorOrder"], { ...w2, body: flip(LOW_ORDER[2][0] + w2.body.slice(64), -1) }, "LOW_ORDER_POINT");
  unwrapCase("unwrap2", "Wrap SPI 0 and a low-order ephemeral key: BAD_SPI first", ["BadSpi", "LowOrderEphemeral", "ErrorOrder"], { ...w2, wrapSpi: 0, body: LOW_ORDER[1][0] + w2.body.slice(64) }, "BAD_SPI");
  unwrapCase("unwrap2", "a 31-byte private key and a low-order ephemeral key: INVALID_ARGUMENT first", ["ShortKey", "LowOrderEphemeral", "ErrorOrder"], { ...w2, recipientPrivate: w2.recipientPrivate.slice(0, 62), body: LOW_ORDER[0][0] + w2.body.slice(64) }, "INVALID_ARGUMENT");

  // E with bit 255 set, as it appears, in the salt and in the associated data (issue 7 item 15).
  {
    const H = unhex(w2.header), body = unhex(w2.body), nonce = body.subarray(32, 44), sk = unhex(w2.sessionKey);
    const E = body.slice(0, 32);
    assert((E[31] & 0x80) === 0, "keywrap: X25519(e, 9) is canonical");
    const Eset = E.slice();
    Eset[31] |= 0x80;
    const Rpub = unhex(R_PUB);
    const Z = R.x25519Shared(unhex(R_PRIV), Eset);
    assert(hex(Z) === hex(R.x25519Shared(unhex(R_PRIV), E)), "keywrap: X25519 ignores bit 255 of u");
    const ext = concat([42, 102, 2, 0], be32(w2.wrapSpi), be32(w2.sessionSpi));
    const K = (e) => R.hkdfSha256(Z, concat(e, Rpub), R.KEY_WRAP_INFO, 32);
    const sealed = (k, aad) => sealOther(k, nonce, aad, Eset, sk);
    unwrapCase("unwrap2", "E with bit 255 set, sealed with that E in the salt and the associated data: opens", ["EphemeralAsReceived"], { ...w2, body: sealed(K(Eset), concat(H, ext, Eset)) }, "valid");
    unwrapCase("unwrap2", "E with bit 255 set, sealed with bit 255 cleared in the salt (the associated data as received)", ["EphemeralAsReceived"], { ...w2, body: sealed(K(E), concat(H, ext, Eset)) }, "KEY_UNWRAP_FAILED");
    unwrapCase("unwrap2", "E with bit 255 set, sealed with bit 255 cleared in the associated data (the salt as received)", ["EphemeralAsReceived"], { ...w2, body: sealed(K(Eset), concat(H, ext, E)) }, "KEY_UNWRAP_FAILED");
  }
  return f;
}

// =========================================================================

export const SUITES = { message: messageSuite, cookie: cookieSuite, "replay-window": replaySuite, timestamp: timestampSuite, hkdf: hkdfSuite, keywrap: keywrapSuite, ...SID_SUITES };

/** Generates every suite; returns { fileName: text }. */
export function generateAll() {
  const out = {};
  for (const [name, make] of Object.entries(SUITES)) out[`${name}.json`] = make().text();
  return out;
}

if (isMain(import.meta)) {
  const args = globalThis.Deno ? Deno.args : process.argv.slice(2);
  const i = args.indexOf("--out");
  const dir = i >= 0 ? args[i + 1] : join(HERE, "..", "vectors");
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(generateAll())) {
    writeFileSync(join(dir, file), text);
    const n = JSON.parse(text).numberOfTests;
    console.log(`${join(dir, file)}: ${n} tests`);
  }
}
