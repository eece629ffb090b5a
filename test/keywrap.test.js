// HKDF-SHA256 (RFC 5869) and the session key wrap of docs/PROTOCOL.md 4.7:
// the RFC's test cases, node:crypto's hkdfSync as an oracle on seeded random
// inputs, byte-exact agreement with the independent reference
// (conformance/tools/reference.js: node:crypto and @noble), round trips,
// tampering, low-order points, wiping, and hostile arguments to every export.
//
// The seed is printed; HANDOVER_SEED=<n> replays a run.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { hkdfSync } from "node:crypto";
import { loadRaw, hex, unhex } from "./_wasm.js";
import { Prng } from "../conformance/tools/prng.js";
import * as R from "../conformance/tools/reference.js";

const env = typeof Deno !== "undefined" ? Deno.env.get("HANDOVER_SEED") : process.env.HANDOVER_SEED;
const SEED = env ? Number(env) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
console.log(`keywrap seed: ${SEED} (replay with HANDOVER_SEED=${SEED})`);
const rng = new Prng(SEED);
const at = `seed ${SEED}`;

const { x, mem, put, get } = loadRaw();
const IN = x.io_in_ptr(), OUT = x.io_out_ptr();
const E = { NOT_SEEDED: 39, BAD_LENGTH: 2, BAD_SPI: 29, BAD_VALUE: 31, INVALID_ARGUMENT: 28, KEY_UNWRAP_FAILED: 26, LOW_ORDER_POINT: 30 };
const NAME = Object.fromEntries(Object.entries(E).map(([k, v]) => [-v, k]));
const errName = (r) => NAME[r] ?? String(r);

// Input layout in the io_in buffer.
const H = IN, K = IN + 64, S = IN + 512, N = IN + 576, EPH = IN + 608, B = IN + 704;

/** Wrap with the core (deterministic export); the body or the error name. */
function coreWrap({ header, wrap, wrapSpi, sessionSpi, key, nonce, ephemeral, sessionKey }) {
  put(H, header); put(K, key); put(S, sessionKey); put(N, nonce);
  if (ephemeral) put(EPH, ephemeral);
  const r = x.keywrap_wrap_with(H, wrap, wrapSpi, sessionSpi, K, key.length, S, N, EPH, OUT);
  return r < 0 ? errName(r) : hex(get(OUT, r));
}
/** Unwrap with the core; the session key or the error name. */
function coreUnwrap({ header, wrap, wrapSpi, sessionSpi, key, body }) {
  put(H, header); put(K, key); put(B, body);
  const r = x.keywrap_unwrap(H, wrap, wrapSpi, sessionSpi, K, key.length, B, body.length, OUT);
  return r < 0 ? errName(r) : hex(get(OUT, r));
}
/** The reference's answer: a value, or the RefError's name. */
function ref(fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof R.RefError) return e.errorName;
    throw e;
  }
}
const spi = () => (rng.chance(0.1) ? rng.pick([256, 0xffffffff]) : rng.int(256, 0xffffffff));
/** A random wrap case; alg 1 keys of 16-200 bytes, alg 2 a fresh key pair. */
function randomCase(wrap = rng.int(1, 2)) {
  const c = { header: rng.bytes(20), wrap, wrapSpi: spi(), sessionSpi: spi(), nonce: rng.bytes(12), sessionKey: rng.bytes(32) };
  if (wrap === 1) {
    c.key = rng.bytes(rng.chance(0.2) ? 16 : rng.int(16, 200));
    c.unwrapKey = c.key;
  } else {
    c.unwrapKey = rng.bytes(32);
    c.key = R.x25519Public(c.unwrapKey);
    c.ephemeral = rng.bytes(32);
  }
  return c;
}
const refWrap = (c) => ref(() => hex(R.wrapSessionKey({ ...c, recipientPublic: c.key, ephemeralPrivate: c.ephemeral }).body));

// ---- HKDF ---------------------------------------------------------------

const RFC5869 = [
  { ikm: "0b".repeat(22), salt: "000102030405060708090a0b0c", info: "f0f1f2f3f4f5f6f7f8f9", L: 42,
    prk: "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
    okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865" },
  { ikm: seq(0x00, 0x50), salt: seq(0x60, 0xb0), info: seq(0xb0, 0x100), L: 82,
    prk: "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
    okm: "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87" },
  { ikm: "0b".repeat(22), salt: "", info: "", L: 42,
    prk: "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
    okm: "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8" },
];
function seq(from, to) {
  let s = "";
  for (let i = from; i < to; i++) s += i.toString(16).padStart(2, "0");
  return s;
}

/** HKDF with the core at the given offsets (for unaligned inputs). */
function coreHkdf(ikm, salt, info, L, off = 0) {
  const s = IN + off, i = IN + 1024 + off, n = IN + 2048 + off;
  put(s, salt); put(i, ikm); put(n, info);
  const r = x.crypto_hkdf(s, salt.length, i, ikm.length, n, info.length, OUT, L);
  return r < 0 ? r : hex(get(OUT, r));
}

test("HKDF-SHA256: RFC 5869 test cases 1-3 (extract, expand, and both at once)", () => {
  for (const [k, t] of RFC5869.entries()) {
    const ikm = unhex(t.ikm), salt = unhex(t.salt), info = unhex(t.info);
    put(IN, salt); put(IN + 1024, ikm); put(IN + 2048, info);
    assert.is(x.crypto_hkdf_extract(IN, salt.length, IN + 1024, ikm.length, OUT), 32);
    assert.is(hex(get(OUT, 32)), t.prk, `test case ${k + 1}: PRK`);
    put(IN + 4096, unhex(t.prk));
    assert.is(x.crypto_hkdf_expand(IN + 4096, 32, IN + 2048, info.length, OUT, t.L), t.L);
    assert.is(hex(get(OUT, t.L)), t.okm, `test case ${k + 1}: OKM from PRK`);
    assert.is(coreHkdf(ikm, salt, info, t.L), t.okm, `test case ${k + 1}: OKM`);
  }
});

test("HKDF-SHA256: 1500 seeded random inputs (block boundaries, unaligned) against node:crypto hkdfSync", () => {
  const sizes = [0, 1, 31, 32, 33, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 200];
  for (let k = 0; k < 1500; k++) {
    const len = () => (rng.chance(0.5) ? rng.pick(sizes) : rng.int(0, 300));
    const ikm = rng.bytes(len()), salt = rng.bytes(len()), info = rng.bytes(len());
    const L = k < 20 ? 8160 - k : rng.chance(0.3) ? rng.pick([1, 31, 32, 33, 64, 65, 96, 97]) : rng.int(1, 1000);
    const off = rng.int(0, 15);
    const want = hex(new Uint8Array(hkdfSync("sha256", ikm, salt, info, L)));
    assert.is(coreHkdf(ikm, salt, info, L, off), want, `${at}, case ${k}: |ikm| ${ikm.length}, |salt| ${salt.length}, |info| ${info.length}, L ${L}, offset ${off}`);
  }
});

test("HKDF-SHA256: L = 0 gives nothing, L above 8160 or negative is refused, expand may write over the PRK", () => {
  assert.is(coreHkdf(rng.bytes(10), rng.bytes(10), rng.bytes(10), 0), "");
  for (const L of [8161, 10000, -1, -0x80000000]) {
    assert.is(coreHkdf(rng.bytes(10), rng.bytes(10), rng.bytes(10), L), -E.INVALID_ARGUMENT, `L = ${L}`);
    assert.is(x.crypto_hkdf_expand(IN, 32, IN, 0, OUT, L), -E.INVALID_ARGUMENT, `expand, L = ${L}`);
  }
  const prk = rng.bytes(32), info = rng.bytes(20);
  put(IN, prk); put(IN + 64, info);
  x.crypto_hkdf_expand(IN, 32, IN + 64, 20, OUT, 80);
  const want = hex(get(OUT, 80));
  assert.is(x.crypto_hkdf_expand(IN, 32, IN + 64, 20, IN, 80), 80);
  assert.is(hex(get(IN, 80)), want, "out == prk");
  assert.is(want, hex(R.hkdfExpand(prk, info, 80)), "the reference's expand");
});

// ---- key wrap ---------------------------------------------------------------

test("key wrap: 250 seeded random wraps equal the reference's byte for byte, and unwrap to the key", () => {
  for (let k = 0; k < 250; k++) {
    const c = randomCase();
    const where = `${at}, case ${k} (alg ${c.wrap}, key ${c.key.length} bytes)`;
    const body = coreWrap(c);
    assert.is(body, refWrap(c), `${where}: wrap`);
    assert.is(body.length, c.wrap === 1 ? 120 : 184, where);
    assert.is(coreUnwrap({ ...c, key: c.unwrapKey, body: unhex(body) }), hex(c.sessionKey), `${where}: unwrap`);
    // And the reference unwraps the core's wrap.
    assert.is(hex(R.unwrapSessionKey({ ...c, key: c.unwrapKey, body: unhex(body) })), hex(c.sessionKey), `${where}: the reference unwraps it`);
  }
});

test("key wrap: the body's parts (section 4.7): E = X25519(e, 9), the nonce as given, ChaCha20-Poly1305 under HKDF's K", () => {
  const c = randomCase(2);
  const body = unhex(coreWrap(c));
  assert.is(hex(body.subarray(0, 32)), hex(R.x25519Public(c.ephemeral)));
  assert.is(hex(body.subarray(32, 44)), hex(c.nonce));
  const z = R.x25519Shared(c.ephemeral, c.key);
  const k = hkdfSync("sha256", z, R.concat(body.subarray(0, 32), c.key), new TextEncoder().encode("handover key-wrap/1"), 32);
  const aad = R.concat(c.header, [42, 102, 2, 0], be32(c.wrapSpi), be32(c.sessionSpi), body.subarray(0, 32));
  put(IN, new Uint8Array(k)); put(IN + 32, c.nonce); put(IN + 64, aad); put(IN + 128, c.sessionKey);
  assert.is(x.crypto_aead_seal(IN, IN + 32, IN + 64, 64, IN + 128, 32, OUT), 48);
  assert.is(hex(get(OUT, 48)), hex(body.subarray(44)));
  const c1 = randomCase(1);
  const b1 = unhex(coreWrap(c1));
  const k1 = hkdfSync("sha256", c1.key, new Uint8Array(0), new TextEncoder().encode("handover key-wrap/1"), 32);
  const aad1 = R.concat(c1.header, [42, 70, 1, 0], be32(c1.wrapSpi), be32(c1.sessionSpi));
  put(IN, new Uint8Array(k1)); put(IN + 32, c1.nonce); put(IN + 64, aad1); put(IN + 128, c1.sessionKey);
  x.crypto_aead_seal(IN, IN + 32, IN + 64, 32, IN + 128, 32, OUT);
  assert.is(hex(get(OUT, 48)), hex(b1.subarray(12)));
});
function be32(v) {
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

test("key wrap: the DRBG variant refuses before the DRBG is seeded, then draws a fresh nonce and ephemeral key each time", () => {
  const fresh = loadRaw();
  const y = fresh.x, I = y.io_in_ptr(), O = y.io_out_ptr();
  for (const wrap of [1, 2]) {
    const c = randomCase(wrap);
    fresh.put(I, c.header); fresh.put(I + 32, c.key); fresh.put(I + 256, c.sessionKey);
    assert.is(y.keywrap_wrap(I, wrap, c.wrapSpi, c.sessionSpi, I + 32, c.key.length, I + 256, O), -E.NOT_SEEDED, "unseeded");
    assert.is(y.keywrap_wrap(I, 3, c.wrapSpi, c.sessionSpi, I + 32, c.key.length, I + 256, O), -E.BAD_VALUE, "field checks first");
  }
  fresh.put(I, rng.bytes(32));
  y.drbg_seed(I, 32);
  for (const wrap of [1, 2]) {
    const c = randomCase(wrap);
    const seen = new Set();
    for (let k = 0; k < 20; k++) {
      fresh.put(I, c.header); fresh.put(I + 32, c.key); fresh.put(I + 256, c.sessionKey);
      const n = y.keywrap_wrap(I, wrap, c.wrapSpi, c.sessionSpi, I + 32, c.key.length, I + 256, O);
      assert.is(n, wrap === 1 ? 60 : 92);
      const body = fresh.get(O, n);
      seen.add(hex(body.subarray(0, wrap === 1 ? 12 : 32)));
      assert.is(hex(R.unwrapSessionKey({ ...c, key: c.unwrapKey, body })), hex(c.sessionKey), `${at}: the reference unwraps a DRBG wrap`);
      fresh.put(I + 512, body);
      fresh.put(I + 768, c.unwrapKey);
      assert.is(y.keywrap_unwrap(I, wrap, c.wrapSpi, c.sessionSpi, I + 768, c.unwrapKey.length, I + 512, n, O), 32);
      assert.is(hex(fresh.get(O, 32)), hex(c.sessionKey), "the core unwraps its DRBG wrap");
    }
    assert.is(seen.size, 20, `alg ${wrap}: every wrap draws a new ${wrap === 1 ? "nonce" : "ephemeral key"}`);
  }
});

test("key wrap: every single-bit change of header, body, SPIs, algorithm or key fails, and nothing is written", () => {
  let checked = 0;
  for (const wrap of [1, 2]) {
    const c = randomCase(wrap);
    const body = unhex(coreWrap(c));
    const good = { ...c, key: c.unwrapKey, body };
    const expectFail = (variant, what) => {
      mem().fill(0xa5, OUT, OUT + 32);
      const r = coreUnwrap(variant);
      assert.ok(r === "KEY_UNWRAP_FAILED" || r === "LOW_ORDER_POINT" || r === "BAD_SPI", `${at}: alg ${wrap}, ${what}: ${r}`);
      assert.is(hex(get(OUT, 32)), "a5".repeat(32), `${at}: alg ${wrap}, ${what}: output written`);
      // The reference (@noble's X25519 is slow) agrees on a sample.
      if (checked % 16 === 0) assert.is(r, ref(() => hex(R.unwrapSessionKey(variant))), `${at}: alg ${wrap}, ${what}: the reference's error`);
      checked++;
    };
    for (let bit = 0; bit < body.length * 8; bit++) {
      const b = body.slice();
      b[bit >> 3] ^= 1 << (bit & 7);
      expectFail({ ...good, body: b }, `body bit ${bit}`);
    }
    for (let bit = 0; bit < 160; bit++) {
      const h = c.header.slice();
      h[bit >> 3] ^= 1 << (bit & 7);
      expectFail({ ...good, header: h }, `header bit ${bit}`);
    }
    for (let bit = 0; bit < 32; bit++) {
      expectFail({ ...good, wrapSpi: (c.wrapSpi ^ (1 << bit)) >>> 0 }, `Wrap SPI bit ${bit}`);
      expectFail({ ...good, sessionSpi: (c.sessionSpi ^ (1 << bit)) >>> 0 }, `Session SPI bit ${bit}`);
    }
    if (wrap === 1) {
      for (let bit = 0; bit < c.key.length * 8; bit += 3) {
        const k = c.key.slice();
        k[bit >> 3] ^= 1 << (bit & 7);
        expectFail({ ...good, key: k }, `key bit ${bit}`);
      }
    } else {
      // Bits 3..253 of the private key change the clamped scalar.
      for (let bit = 3; bit < 254; bit += 5) {
        const k = c.unwrapKey.slice();
        k[bit >> 3] ^= 1 << (bit & 7);
        expectFail({ ...good, key: k }, `private key bit ${bit}`);
      }
    }
    // The other algorithm with the same body: a length mismatch.
    assert.is(coreUnwrap({ ...good, wrap: 3 - wrap }), "BAD_LENGTH");
  }
  assert.ok(checked > 1500, `${checked} variants`);
});

test("key wrap: low-order points give LOW_ORDER_POINT (as E when unwrapping, as R when wrapping); non-canonical R is refused", () => {
  const LOW = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  ];
  // p and p + 1: non-canonical encodings of 0 and 1.
  const NONCANONICAL = [
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  ];
  for (let k = 0; k < 10; k++) {
    const c = randomCase(2);
    const body = unhex(coreWrap(c));
    for (const u of [...LOW, ...NONCANONICAL]) {
      for (const high of [0, 0x80]) {
        const e = unhex(u);
        e[31] |= high;
        const b = R.concat(e, body.subarray(32));
        assert.is(coreUnwrap({ ...c, key: c.unwrapKey, body: b }), "LOW_ORDER_POINT", `${at}: E = ${hex(e)}`);
        if (!NONCANONICAL.includes(u) && !high) assert.is(coreWrap({ ...c, key: e }), "LOW_ORDER_POINT", `R = ${u}`);
        else assert.is(coreWrap({ ...c, key: e }), "INVALID_ARGUMENT", `R = ${hex(e)} (not canonical)`);
      }
    }
    // A valid R with bit 255 set (the same point), and 2^255 - 1 (= 18 mod p): refused.
    const r = c.key.slice();
    r[31] |= 0x80;
    assert.is(coreWrap({ ...c, key: r }), "INVALID_ARGUMENT");
    assert.is(coreWrap({ ...c, key: unhex("ff".repeat(31) + "7f") }), "INVALID_ARGUMENT");
    // As E, 2^255 - 1 is an ordinary point: the tag decides.
    assert.is(coreUnwrap({ ...c, key: c.unwrapKey, body: R.concat(unhex("ff".repeat(31) + "7f"), body.subarray(32)) }), "KEY_UNWRAP_FAILED");
  }
});

test("key wrap: the checks come in section 4.7's order", () => {
  const c = randomCase(1);
  const body = unhex(coreWrap(c));
  const u = (v) => coreUnwrap({ ...c, key: c.unwrapKey, body, ...v });
  assert.is(u({ body: body.subarray(0, 59), wrap: 7, wrapSpi: 0 }), "BAD_LENGTH");
  assert.is(u({ wrap: 7, wrapSpi: 0 }), "BAD_VALUE");
  assert.is(u({ wrap: 2, wrapSpi: 0 }), "BAD_LENGTH");
  assert.is(u({ wrapSpi: 255, sessionSpi: 0, key: c.key.subarray(0, 15) }), "BAD_SPI");
  assert.is(u({ sessionSpi: 255, key: c.key.subarray(0, 15) }), "BAD_SPI");
  assert.is(u({ key: c.key.subarray(0, 15) }), "INVALID_ARGUMENT");
  const w = (v) => coreWrap({ ...c, ...v });
  assert.is(w({ wrap: 0, wrapSpi: 0 }), "BAD_VALUE");
  assert.is(w({ wrapSpi: 0, key: new Uint8Array(3) }), "BAD_SPI");
  assert.is(w({ key: new Uint8Array(15) }), "INVALID_ARGUMENT");
  assert.is(w({ key: new Uint8Array(16) }).length, 120, "16 bytes is enough");
});

test("key wrap: outputs may overlap the inputs", () => {
  for (const wrap of [1, 2]) {
    const c = randomCase(wrap);
    const body = coreWrap(c);
    // out = the header (wrap), then out = the body (unwrap).
    put(H, c.header); put(K, c.key); put(S, c.sessionKey); put(N, c.nonce);
    if (c.ephemeral) put(EPH, c.ephemeral);
    const n = x.keywrap_wrap_with(H, wrap, c.wrapSpi, c.sessionSpi, K, c.key.length, S, N, EPH, H);
    assert.is(hex(get(H, n)), body, `alg ${wrap}: out = header`);
    put(H, c.header); put(K, c.unwrapKey); put(B, unhex(body));
    assert.is(x.keywrap_unwrap(H, wrap, c.wrapSpi, c.sessionSpi, K, c.unwrapKey.length, B, n, B + 7), 32);
    assert.is(hex(get(B + 7, 32)), hex(c.sessionKey), `alg ${wrap}: out inside the body`);
    put(S, c.sessionKey);
    x.keywrap_wrap_with(H, wrap, c.wrapSpi, c.sessionSpi, K + 0, 0, S, N, EPH, S); // key length 0: refused, nothing written
    assert.is(hex(get(S, 32)), hex(c.sessionKey));
  }
});

/** How often the 32 bytes of needle occur in linear memory. */
function occurrences(needle) {
  const m = mem();
  let n = 0;
  outer: for (let i = m.indexOf(needle[0]); i >= 0 && i <= m.length - 32; i = m.indexOf(needle[0], i + 1)) {
    for (let j = 1; j < 32; j++) if (m[i + j] !== needle[j]) continue outer;
    n++;
  }
  return n;
}

test("key wrap: K, Z and the session key are not left behind in the core's memory", () => {
  for (const wrap of [1, 2]) {
    const c = randomCase(wrap);
    const w = R.wrapSessionKey({ ...c, recipientPublic: c.key, ephemeralPrivate: c.ephemeral });
    mem().fill(0, OUT, OUT + 4096);
    assert.is(coreWrap(c), hex(w.body));
    assert.is(occurrences(w.wrappingKey), 0, `alg ${wrap}: K after wrapping`);
    if (w.sharedSecret) assert.is(occurrences(w.sharedSecret), 0, "Z after wrapping");
    assert.is(occurrences(c.sessionKey), 1, `alg ${wrap}: the session key only where the caller put it`);
    mem().fill(0, S, S + 32);
    assert.is(coreUnwrap({ ...c, key: c.unwrapKey, body: w.body }), hex(c.sessionKey));
    assert.is(occurrences(w.wrappingKey), 0, `alg ${wrap}: K after unwrapping`);
    if (w.sharedSecret) assert.is(occurrences(w.sharedSecret), 0, "Z after unwrapping");
    assert.is(occurrences(c.sessionKey), 1, `alg ${wrap}: the session key only at out`);
  }
});

test("hostile arguments never trap: 30000 calls with random and extreme pointers, lengths and values", () => {
  // A fresh instance: inputs may point anywhere (reads are harmless); outputs
  // point out of range, or into the exchange buffers, so that the instance
  // must still work afterwards.
  const h = loadRaw();
  const y = h.x, I = y.io_in_ptr(), O = y.io_out_ptr(), size = () => h.mem().length;
  const bad = () => rng.pick([size() - 1, size() - 20, size() - 31, size(), size() + 1, 0x7fffffff, -1, -0x80000000, -32]);
  const ptr = () => (rng.chance(0.4) ? bad() : rng.chance(0.5) ? rng.int(0, size() - 1) : rng.u32() | 0);
  const out = () => (rng.chance(0.5) ? bad() : rng.pick([I, O]) + rng.int(0, 65536 - 8192 - 1));
  const len = () => rng.pick([0, 1, 12, 15, 16, 20, 31, 32, 33, 59, 60, 92, 100, 8160, 8161, 65536, -1, -16, -0x80000000, 0x7fffffff, rng.u32() | 0]);
  const val = () => rng.pick([0, 1, 2, 3, 255, 256, -1, 0x7fffffff, rng.u32() | 0]);
  h.put(I, rng.bytes(32));
  y.drbg_seed(I, 32);
  for (let k = 0; k < 30000; k++) {
    const f = k % 6;
    let r;
    try {
      if (f === 0) r = y.crypto_hkdf_extract(ptr(), len(), ptr(), len(), out());
      else if (f === 1) r = y.crypto_hkdf_expand(ptr(), len(), ptr(), len(), out(), len());
      else if (f === 2) r = y.crypto_hkdf(ptr(), len(), ptr(), len(), ptr(), len(), out(), len());
      else if (f === 3) r = y.keywrap_wrap(ptr(), val(), val(), val(), ptr(), len(), ptr(), out());
      else if (f === 4) r = y.keywrap_wrap_with(ptr(), val(), val(), val(), ptr(), len(), ptr(), ptr(), ptr(), out());
      else r = y.keywrap_unwrap(ptr(), val(), val(), val(), ptr(), len(), ptr(), len(), out());
    } catch (e) {
      assert.unreachable(`${at}: call ${k} (export ${f}) trapped: ${e}`);
    }
    assert.type(r, "number");
  }
  // Still working afterwards.
  const t = RFC5869[0];
  h.put(I, unhex(t.salt)); h.put(I + 64, unhex(t.ikm)); h.put(I + 128, unhex(t.info));
  assert.is(y.crypto_hkdf(I, 13, I + 64, 22, I + 128, 10, O, t.L), t.L);
  assert.is(hex(h.get(O, t.L)), t.okm);
  // Ranges that end exactly at the end of memory are accepted; one byte more is not.
  const end = size();
  assert.is(y.crypto_hkdf_extract(end - 10, 10, end - 20, 20, O), 32);
  assert.is(y.crypto_hkdf_extract(end - 10, 11, 0, 0, O), -E.INVALID_ARGUMENT);
  assert.is(y.crypto_hkdf_extract(0, 0, 0, 0, end - 31), -E.INVALID_ARGUMENT);
  assert.is(y.keywrap_unwrap(end - 20, 1, 256, 256, I, 16, I, 60, end - 31), -E.INVALID_ARGUMENT);
  assert.is(y.keywrap_unwrap(end - 19, 1, 256, 256, I, 16, I, 60, O), -E.INVALID_ARGUMENT);
  assert.is(y.keywrap_wrap_with(I, 2, 256, 256, I, 32, I, I, end - 31, O), -E.INVALID_ARGUMENT, "ephemeral out of memory (alg 2)");
  assert.is(y.keywrap_wrap_with(I, 1, 256, 256, I, 32, I, I, end - 31, O), 60, "the ephemeral key is not read for alg 1");
  assert.is(y.keywrap_wrap_with(I, 1, 256, 256, I, 32, I, I, 0, end - 59), -E.INVALID_ARGUMENT, "out one byte short");
});

test("typed binding: Core.wrapSessionKey / unwrapSessionKey / hkdf", async () => {
  const { Core, HandoverError } = await import("../dist/hosts/shared/index.js");
  const { readFileSync } = await import("node:fs");
  const core = await Core.load(readFileSync(new URL("../build/handover.wasm", import.meta.url)));
  const unseeded = randomCase(2);
  try {
    core.wrapSessionKey({ ...unseeded, wrap: "X25519_CHACHA20_POLY1305", nonce: undefined, ephemeral: undefined });
    assert.unreachable("an unseeded DRBG wraps");
  } catch (e) {
    assert.ok(e instanceof HandoverError && e.errorName === "NOT_SEEDED", String(e));
  }
  for (const wrap of [1, 2]) {
    const c = randomCase(wrap);
    const name = wrap === 1 ? "CHACHA20_POLY1305" : "X25519_CHACHA20_POLY1305";
    const p = { header: c.header, wrap: name, wrapSpi: c.wrapSpi, sessionSpi: c.sessionSpi, key: c.key, sessionKey: c.sessionKey, nonce: c.nonce, ephemeralPrivateKey: c.ephemeral };
    const body = core.wrapSessionKey(p);
    assert.is(hex(body), refWrap(c));
    assert.is(hex(core.unwrapSessionKey({ ...p, key: c.unwrapKey, body })), hex(c.sessionKey));
    const tampered = body.slice();
    tampered[body.length - 1] ^= 1;
    try {
      core.unwrapSessionKey({ ...p, key: c.unwrapKey, body: tampered });
      assert.unreachable("a tampered body unwraps");
    } catch (e) {
      assert.ok(e instanceof HandoverError && e.errorName === "KEY_UNWRAP_FAILED", String(e));
    }
    core.seedRandom(rng.bytes(32));
    const random = core.wrapSessionKey({ ...p, nonce: undefined, ephemeralPrivateKey: undefined });
    assert.is(hex(core.unwrapSessionKey({ ...p, key: c.unwrapKey, body: random })), hex(c.sessionKey));
  }
  const t = RFC5869[0];
  assert.is(hex(core.hkdf(unhex(t.ikm), unhex(t.salt), unhex(t.info), t.L)), t.okm);
  assert.is(hex(core.hkdfExtract(unhex(t.salt), unhex(t.ikm))), t.prk);
  assert.throws(() => core.hkdf(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), 8161), (e) => e instanceof HandoverError);
});

test.run();
