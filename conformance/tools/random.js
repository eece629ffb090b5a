// Random valid messages, built on the reference implementation: for property
// tests (test/conformance.test.js) and for anyone fuzzing a second
// implementation against the reference.
import {
  MESSAGES, EXT, REPLY_CODES, OPAQUE_SUBTYPES, ALGORITHMS, MAX_MESSAGE_LENGTH,
  encode, decode, formatAddress, hex,
} from "./reference.js";

const ALGS = Object.keys(ALGORITHMS);

export function randomAddress(rng, family = rng.chance(0.5) ? 1 : 2) {
  if (family === 1) return formatAddress(1, rng.bytes(4));
  const b = rng.bytes(16);
  const shape = rng.int(0, 5);
  if (shape === 0) {
    // IPv4-mapped.
    b.fill(0, 0, 10);
    b[10] = b[11] = 0xff;
  } else if (shape <= 3) {
    // Zero runs of random position and length, to exercise RFC 5952's "::".
    for (let k = 0; k < shape; k++) {
      const start = rng.int(0, 7), n = rng.int(1, 8 - start);
      b.fill(0, 2 * start, 2 * (start + n));
    }
  } else if (shape === 4) {
    // Groups with leading zeros.
    for (let i = 0; i < 16; i += 2) if (rng.chance(0.5)) b[i] = 0;
  }
  return formatAddress(2, b);
}

const port = (rng) => rng.int(1, 65535);

/** One random valid extension of the given name. */
export function randomExtension(rng, name) {
  switch (name) {
    case "MIGRATION": {
      const family = rng.chance(0.5) ? 1 : 2;
      const wild = rng.chance(0.25);
      const p = rng.int(0, 3);
      const o = wild ? 0 : port(rng);
      return {
        type: "MIGRATION", protocols: [p & 1 && "TCP", p & 2 && "UDP"].filter(Boolean),
        oldAddress: randomAddress(rng, family), newAddress: randomAddress(rng, family),
        oldPort: o, newPort: wild ? 0 : rng.chance(0.7) ? o : port(rng),
      };
    }
    case "PATH_CHALLENGE":
    case "PATH_RESPONSE":
      return { type: name, token: hex(rng.bytes(8)) };
    case "LIFETIME":
      return { type: "LIFETIME", seconds: rng.pick([0, 1, 600, 3600, 65535, rng.int(0, 65535)]) };
    case "TRANSFERRED_ADDRESS":
    case "TARGET_ADDRESS":
    case "AGENT_ADDRESS":
    case "INTERIM_ADDRESS":
      return { type: name, address: randomAddress(rng) };
    case "LINK_LAYER_ADDRESS":
      return rng.chance(0.7)
        ? { type: name, hardwareType: 1, address: hex(rng.bytes(6)) }
        : { type: name, hardwareType: rng.int(2, 65535), address: hex(rng.bytes(rng.int(1, 20))) };
    case "SESSION_KEY": {
      const x = rng.chance(0.5);
      const e = { type: name, wrap: x ? "X25519_CHACHA20_POLY1305" : "CHACHA20_POLY1305", wrapSpi: rng.int(256, 0xffffffff), sessionSpi: rng.int(256, 0xffffffff) };
      if (x) e.ephemeralPublicKey = hex(rng.bytes(32));
      e.nonce = hex(rng.bytes(12));
      e.sealedKey = hex(rng.bytes(32));
      e.tag = hex(rng.bytes(16));
      return e;
    }
    case "FLOW": {
      const family = rng.chance(0.5) ? 1 : 2;
      return {
        type: name, protocol: rng.chance(0.5) ? "TCP" : "UDP",
        localAddress: randomAddress(rng, family), localPort: port(rng),
        remoteAddress: randomAddress(rng, family), remotePort: port(rng),
      };
    }
    case "ADDRESS_LEASE":
      return { type: name, generator: rng.pick(["STATIC", "IPV6", "DHCP4"]), remaining: rng.pick([0, 3600, 0xffffffff, rng.int(0, 0xffffffff)]), state: hex(rng.bytes(rng.pick([0, 0, 12, rng.int(0, 60)]))) };
    case "OPAQUE_DATA": {
      const known = Object.keys(OPAQUE_SUBTYPES).map(Number);
      const st = rng.chance(0.7) ? rng.pick(known) : rng.int(0, 255);
      return { type: name, subtype: OPAQUE_SUBTYPES[st] ?? st, flags: rng.int(0, 255), data: hex(rng.bytes(rng.int(0, 40))) };
    }
  }
  throw new Error(name);
}

/** A random skippable extension of a type this version does not define (129-255). */
export function randomUnknown(rng) {
  return { type: rng.int(129, 255), data: hex(rng.bytes(rng.int(0, 30))) };
}

/**
 * A random valid message: { json, auth, bytes } where json is the canonical
 * JSON the decoder gives (AUTH included) and bytes its encoding. With
 * `canonicalOrder`, extensions are in ascending type order (AUTH last).
 */
export function randomMessage(rng, { canonicalOrder = true } = {}) {
  const types = Object.keys(MESSAGES).map(Number);
  const type = rng.pick(types);
  const spec = MESSAGES[type];
  const m = { version: 1, type: spec.name };
  if (spec.kind === "reply") {
    const named = Object.keys(REPLY_CODES).map(Number);
    const c = rng.chance(0.8) ? rng.pick(named) : rng.int(1, 255);
    m.code = REPLY_CODES[c] ?? c;
  } else {
    m.flags = [];
    for (const bit of [1, 2, 4]) if (spec.flags[bit] && rng.chance(0.5)) m.flags.push(spec.flags[bit]);
  }
  m.sequence = rng.int(0, 65535);
  m.cookie = hex(rng.bytes(6));
  m.replayId = hex(rng.bytes(8));
  const exts = [];
  for (const [name, mult] of Object.entries(spec.ext)) {
    // The Sealed extension (8.11) needs a session key; random messages are in their opened form.
    if (name === "AUTH" || name === "SEALED") continue;
    let n = mult === "1" ? 1 : mult === "?" ? rng.int(0, 1) : mult === "+" ? rng.int(1, 4) : rng.int(0, 3);
    for (let i = 0; i < n; i++) exts.push(randomExtension(rng, name));
  }
  // Unknown skippable types are skipped before the per-type table is consulted
  // (section 5.1 step 3c), so every message type may carry them.
  if (rng.chance(0.3)) for (let i = rng.int(1, 2); i > 0; i--) exts.push(randomUnknown(rng));
  const rank = (e) => (typeof e.type === "number" ? e.type : EXT[e.type]);
  if (canonicalOrder) exts.sort((a, b) => rank(a) - rank(b));
  else for (let i = exts.length - 1; i > 0; i--) { const j = rng.int(0, i); [exts[i], exts[j]] = [exts[j], exts[i]]; }
  const algorithm = rng.pick(ALGS);
  const auth = { algorithm, key: rng.bytes(rng.pick([16, 20, 32, 64, 65, 100])), spi: rng.int(256, 0xffffffff) };
  m.extensions = exts;
  // Keep within the size limit: drop optional extensions from the end.
  let bytes = encode(m, auth);
  while (bytes.length > MAX_MESSAGE_LENGTH) {
    const i = exts.findLastIndex((e) => typeof e.type === "number" || e.type === "OPAQUE_DATA" || e.type === "FLOW");
    exts.splice(i, 1);
    bytes = encode(m, auth);
  }
  const r = decode(bytes);
  if (!r.ok) throw new Error(`reference rejects its own random message: ${r.error} ${hex(bytes)}`);
  return { json: r.json, auth, bytes };
}
