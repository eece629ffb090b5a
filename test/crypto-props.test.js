// Property tests: the core against independent oracles on thousands of
// pseudorandom inputs. node:crypto and @noble/hashes for MD5, SHA-1, SHA-256
// and HMAC; @noble/ciphers (a scalar ChaCha20) for the core's SIMD ChaCha20
// and ChaCha20-Poly1305 (with single-bit tampering);
// @noble/curves for X25519. The PRNG is seeded: the seed is printed, and
// HANDOVER_SEED=<n> replays a run.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, createHmac } from "node:crypto";
import { md5, sha1 } from "@noble/hashes/legacy.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { hmac } from "@noble/hashes/hmac.js";
import { chacha20, chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { loadRaw, hex } from "./_wasm.js";

const env = typeof Deno !== "undefined" ? Deno.env.get("HANDOVER_SEED") : process.env.HANDOVER_SEED;
const SEED = env ? Number(env) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
console.log(`crypto-props seed: ${SEED} (replay with HANDOVER_SEED=${SEED})`);

// sfc32, seeded from SEED.
function prng(seed) {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 16; i++) next();
  return {
    int: (n) => next() % n,
    bytes: (n) => { const out = new Uint8Array(n); for (let i = 0; i < n; i++) out[i] = next() & 255; return out; },
  };
}
const R = prng(SEED);
const eq = (a, b, msg) => assert.is(hex(a), hex(b), msg);

const { x, put, get } = loadRaw();
const IN = x.io_in_ptr(), OUT = x.io_out_ptr();
const BOUNDARIES = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 191, 192, 255, 256, 300];
const ALGS = [
  { id: 1, node: "md5", noble: md5, size: 16 },
  { id: 2, node: "sha1", noble: sha1, size: 20 },
  { id: 3, node: "sha256", noble: sha256, size: 32 },
];

test("hashes: every length 0..300 (all block boundaries), against node:crypto and @noble/hashes", () => {
  let n = 0;
  for (const alg of ALGS) {
    for (let len = 0; len <= 300; len++) {
      const msg = R.bytes(len);
      put(IN, msg);
      assert.is(x.crypto_hash(alg.id, IN, len, OUT), alg.size);
      const got = get(OUT, alg.size);
      eq(got, createHash(alg.node).update(msg).digest(), `${alg.node} len ${len} seed ${SEED}`);
      eq(got, alg.noble(msg), `${alg.node} len ${len} (noble) seed ${SEED}`);
      n++;
    }
    // Longer messages at odd offsets (unaligned loads).
    for (let i = 0; i < 30; i++) {
      const len = R.int(5000), off = R.int(64);
      const msg = R.bytes(len);
      put(IN + off, msg);
      x.crypto_hash(alg.id, IN + off, len, OUT);
      eq(get(OUT, alg.size), createHash(alg.node).update(msg).digest(), `${alg.node} len ${len} off ${off} seed ${SEED}`);
      n++;
    }
  }
  assert.ok(n > 900);
});

test("HMAC: random keys 0..200 bytes, messages 0..300 bytes, against node:crypto and @noble/hashes", () => {
  const K = IN, M = IN + 1024, T = IN + 4096;
  let n = 0;
  for (const alg of ALGS) {
    for (let i = 0; i < 700; i++) {
      const klen = i < 201 ? i : R.int(201);
      const mlen = i < BOUNDARIES.length ? BOUNDARIES[i] : R.int(301);
      const key = R.bytes(klen), msg = R.bytes(mlen);
      put(K, key); put(M, msg);
      const want = createHmac(alg.node, key).update(msg).digest();
      assert.is(x.crypto_hmac(alg.id, K, klen, M, mlen, OUT), alg.size);
      eq(get(OUT, alg.size), want, `${alg.node} key ${klen} msg ${mlen} seed ${SEED}`);
      if (i % 7 === 0) eq(want, hmac(alg.noble, key, msg), `noble ${alg.node} key ${klen} msg ${mlen}`);
      // Precomputed key in a slot: sign, verify, and refuse a one-bit change or a wrong length.
      const slot = i & 7;
      assert.is(x.crypto_hmac_init(slot, alg.id, K, klen), alg.size);
      assert.is(x.crypto_hmac_sign(slot, M, mlen, OUT + 64), alg.size);
      eq(get(OUT + 64, alg.size), want, `slot ${alg.node} key ${klen} msg ${mlen} seed ${SEED}`);
      put(T, want);
      assert.is(x.crypto_hmac_verify(slot, M, mlen, T, alg.size), 1);
      const bad = Uint8Array.from(want);
      bad[R.int(alg.size)] ^= 1 << R.int(8);
      put(T, bad);
      assert.is(x.crypto_hmac_verify(slot, M, mlen, T, alg.size), 0, `tampered tag seed ${SEED}`);
      put(T, want);
      assert.is(x.crypto_hmac_verify(slot, M, mlen, T, alg.size - 1), 0, "short tag length");
      n++;
    }
  }
  assert.ok(n >= 2100);
});

test("ChaCha20 (the core's SIMD rows) against @noble/ciphers' scalar words: random keys, nonces, counters, lengths, unaligned pointers", () => {
  for (let i = 0; i < 1500; i++) {
    // Offsets 0..15 put key, nonce and data off the v128 alignment.
    const KEY = IN + R.int(16), NONCE = IN + 48 + R.int(16), MSG = IN + 2048 + R.int(16), DST = OUT + R.int(16);
    const key = R.bytes(32), nonce = R.bytes(12);
    const len = i < BOUNDARIES.length ? BOUNDARIES[i] : R.int(i % 50 === 0 ? 3000 : 301);
    // Counters over the whole 32-bit range, short of a wrap within the message.
    const counter = i % 3 === 0 ? R.int(4) : (R.int(2 ** 16) * 2 ** 16 + R.int(2 ** 16)) % (2 ** 32 - 64);
    const msg = R.bytes(len);
    put(KEY, key); put(NONCE, nonce); put(MSG, msg);
    assert.is(x.crypto_chacha20(KEY, NONCE, counter, MSG, len, DST), len);
    eq(get(DST, len), chacha20(key, nonce, msg, undefined, counter), `key ${hex(key)} nonce ${hex(nonce)} counter ${counter} len ${len} seed ${SEED}`);
  }
});

test("ChaCha20-Poly1305: against @noble/ciphers, and any single flipped bit in ciphertext, tag or aad is refused", () => {
  const KEY = IN, NONCE = IN + 32, AAD = IN + 64, MSG = IN + 2048;
  for (let i = 0; i < 1500; i++) {
    const key = R.bytes(32), nonce = R.bytes(12);
    const aad = R.bytes(i < 40 ? i : R.int(100));
    const mlen = i < BOUNDARIES.length ? BOUNDARIES[i] : R.int(i % 50 === 0 ? 3000 : 301);
    const msg = R.bytes(mlen);
    put(KEY, key); put(NONCE, nonce); put(AAD, aad); put(MSG, msg);
    const want = chacha20poly1305(key, nonce, aad).encrypt(msg);
    assert.is(x.crypto_aead_seal(KEY, NONCE, AAD, aad.length, MSG, mlen, OUT), mlen + 16);
    const sealed = get(OUT, mlen + 16);
    eq(sealed, want, `seal aad ${aad.length} msg ${mlen} seed ${SEED}`);
    // Open, into a separate buffer.
    put(MSG, sealed);
    const PT = MSG + 8192;
    assert.is(x.crypto_aead_open(KEY, NONCE, AAD, aad.length, MSG, mlen + 16, PT), mlen);
    eq(get(PT, mlen), msg, `open seed ${SEED}`);
    // Tamper with one bit of ciphertext, tag or aad.
    const where = R.int(3);
    if (where === 2 && aad.length === 0) continue;
    const bad = Uint8Array.from(where === 2 ? aad : sealed);
    const pos = where === 0 && mlen > 0 ? R.int(mlen) : where === 1 || mlen === 0 ? mlen + R.int(16) : R.int(bad.length);
    bad[where === 2 ? R.int(aad.length) : pos] ^= 1 << R.int(8);
    if (where === 2) put(AAD, bad); else put(MSG, bad);
    put(PT, new Uint8Array(mlen).fill(0x5a));
    assert.is(x.crypto_aead_open(KEY, NONCE, AAD, aad.length, MSG, mlen + 16, PT), -1, `tampered ${["ct", "tag", "aad"][where]} seed ${SEED}`);
    assert.ok(get(PT, mlen).every((b) => b === 0x5a), "no plaintext released");
  }
});

test("X25519: random scalars and points against @noble/curves; base point; agreement", () => {
  const K = IN, U = IN + 32;
  for (let i = 0; i < 300; i++) {
    const k = R.bytes(32), u = R.bytes(32);
    put(K, k); put(U, u);
    const r = x.crypto_x25519(OUT, K, U);
    let want;
    try { want = x25519.scalarMult(k, u); } catch { want = new Uint8Array(32); }
    eq(get(OUT, 32), want, `x25519 k ${hex(k)} u ${hex(u)} seed ${SEED}`);
    assert.is(r, want.some((b) => b !== 0) ? 1 : 0);
  }
  for (let i = 0; i < 100; i++) {
    const a = R.bytes(32), b = R.bytes(32);
    put(K, a); x.crypto_x25519_base(OUT, K);
    eq(get(OUT, 32), x25519.getPublicKey(a), `base seed ${SEED}`);
    put(K, b); x.crypto_x25519_base(OUT + 32, K);
    put(K, a); assert.is(x.crypto_x25519(OUT + 64, K, OUT + 32), 1);
    put(K, b); assert.is(x.crypto_x25519(OUT + 96, K, OUT), 1);
    eq(get(OUT + 64, 32), get(OUT + 96, 32), "shared secrets agree");
    eq(get(OUT + 64, 32), x25519.getSharedSecret(a, get(OUT + 32, 32)), "noble agrees");
  }
});

test("ct_equal against a plain comparison", () => {
  for (let i = 0; i < 2000; i++) {
    const len = R.int(80);
    const a = R.bytes(len), b = R.int(2) ? Uint8Array.from(a) : R.bytes(len);
    if (len > 0 && R.int(3) === 0) b[R.int(len)] ^= 1 << R.int(8);
    put(IN, a); put(IN + 128, b);
    assert.is(x.crypto_ct_equal(IN, IN + 128, len), hex(a) === hex(b) ? 1 : 0);
  }
});

test.run();
