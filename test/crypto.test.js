// The core's cryptography against the published vectors in
// conformance/vectors/{hash,hmac,aead,x25519}.json, the DRBG's contract, and
// hostile arguments to every crypto export (an error code, never a trap).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { chacha20 } from "@noble/ciphers/chacha.js";
import { loadRaw, hex, unhex } from "./_wasm.js";

const vectors = (suite) => {
  const v = JSON.parse(readFileSync(new URL(`../conformance/vectors/${suite}.json`, import.meta.url), "utf8"));
  assert.is(v.schema, "handover-vectors/1");
  assert.is(v.suite, suite);
  return v;
};
const ALG = { "MD5": 1, "SHA-1": 2, "SHA-256": 3, "HMAC-MD5": 1, "HMAC-SHA1": 2, "HMAC-SHA256": 3 };

const core = loadRaw();
const { x, put, get } = core;
const IN = x.io_in_ptr(), OUT = x.io_out_ptr();

/** A region of at least `len` bytes: io_in, or pages grown past the core's heap for large inputs. */
let bigAt = 0, bigLen = 0;
function region(len) {
  if (len <= 65536) return IN;
  if (len > bigLen) {
    const pages = Math.ceil(len / 65536);
    bigAt = x.memory.grow(pages) * 65536;
    bigLen = pages * 65536;
  }
  return bigAt;
}

test("vector files are well formed: unique tcIds, numberOfTests, lowercase hex", () => {
  for (const suite of ["hash", "hmac", "aead", "x25519"]) {
    const v = vectors(suite);
    const ids = new Set();
    let n = 0;
    for (const g of v.testGroups) {
      assert.type(g.algorithm, "string");
      for (const t of g.tests) {
        n++;
        assert.not.ok(ids.has(t.tcId), `${suite}: tcId ${t.tcId} reused`);
        ids.add(t.tcId);
        assert.ok(t.result === "valid" || t.result === "invalid", `${suite} ${t.tcId} result`);
        for (const f of t.flags) assert.ok(v.notes[f], `${suite} ${t.tcId}: flag ${f} has no note`);
        for (const [k, val] of Object.entries(t)) {
          if (typeof val === "string" && k !== "comment" && k !== "result") assert.ok(/^([0-9a-f]{2})*$/.test(val), `${suite} ${t.tcId} ${k}`);
        }
      }
    }
    assert.is(v.numberOfTests, n, `${suite}: numberOfTests`);
  }
});

test("hash vectors (RFC 1321, RFC 3174, FIPS 180)", () => {
  const v = vectors("hash");
  let count = 0;
  for (const g of v.testGroups) {
    const alg = ALG[g.algorithm];
    for (const t of g.tests) {
      const unit = unhex(t.msg), reps = t.repeat ?? 1, len = unit.length * reps;
      const at = region(len);
      const m = core.mem();
      for (let i = 0; i < reps; i++) m.set(unit, at + i * unit.length);
      const n = x.crypto_hash(alg, at, len, OUT);
      assert.is(n, g.digestSize, `tcId ${t.tcId}`);
      assert.is(hex(get(OUT, n)), t.digest, `tcId ${t.tcId} ${t.comment}`);
      count++;
    }
  }
  assert.ok(count >= 40);
});

test("hash output may overwrite its input", () => {
  const msg = new Uint8Array(100).map((_, i) => i);
  for (const [alg, name] of [[1, "md5"], [2, "sha1"], [3, "sha256"]]) {
    put(IN, msg);
    const n = x.crypto_hash(alg, IN, msg.length, IN);
    assert.is(hex(get(IN, n)), createHash(name).update(msg).digest("hex"));
  }
});

test("HMAC vectors (RFC 2202, RFC 4231): one-shot, precomputed key, verify", () => {
  const v = vectors("hmac");
  for (const g of v.testGroups) {
    const alg = ALG[g.algorithm];
    for (const t of g.tests) {
      const key = unhex(t.key), msg = unhex(t.msg), tag = unhex(t.tag);
      const K = IN, M = IN + 1024, T = IN + 4096;
      put(K, key); put(M, msg); put(T, tag);
      const n = x.crypto_hmac(alg, K, key.length, M, msg.length, OUT);
      assert.is(n, g.tagSize);
      const want = t.tagLength ?? g.tagSize;
      const got = hex(get(OUT, want));
      assert.is(x.crypto_hmac_init(3, alg, K, key.length), g.tagSize);
      assert.is(x.crypto_hmac_sign(3, M, msg.length, OUT + 64), g.tagSize);
      assert.is(hex(get(OUT + 64, n)), hex(get(OUT, n)), "slot and one-shot agree");
      if (t.result === "valid") {
        assert.is(got, t.tag, `tcId ${t.tcId} ${t.comment}`);
        if (!t.tagLength) assert.is(x.crypto_hmac_verify(3, M, msg.length, T, tag.length), 1);
        else assert.is(x.crypto_hmac_verify(3, M, msg.length, T, tag.length), 0, "a truncated tag is not a full tag");
      } else {
        assert.is.not(got, t.tag, `tcId ${t.tcId} ${t.comment}`);
        assert.is(x.crypto_hmac_verify(3, M, msg.length, T, tag.length), 0);
      }
    }
  }
});

/** Fills io_out with a sentinel so a test can tell whether anything was written. */
function sentinel(len) { put(OUT, new Uint8Array(len).fill(0xa5)); }
function untouched(len) { return get(OUT, len).every((b) => b === 0xa5); }

test("AEAD vectors (RFC 8439 2.8.2, A.5): seal, open, and every modification refused", () => {
  const v = vectors("aead");
  const g = v.testGroups.find((g) => g.algorithm === "CHACHA20-POLY1305");
  assert.ok(g.tests.length > 10);
  const KEY = IN, NONCE = IN + 32, AAD = IN + 64, MSG = IN + 2048;
  for (const t of g.tests) {
    const key = unhex(t.key), nonce = unhex(t.nonce), aad = unhex(t.aad), msg = unhex(t.msg), ct = unhex(t.ct), tag = unhex(t.tag);
    put(KEY, key); put(NONCE, nonce); put(AAD, aad);
    if (t.result === "valid") {
      put(MSG, msg);
      const n = x.crypto_aead_seal(KEY, NONCE, AAD, aad.length, MSG, msg.length, OUT);
      assert.is(n, msg.length + 16);
      assert.is(hex(get(OUT, n)), t.ct + t.tag, `tcId ${t.tcId} ${t.comment}`);
    }
    put(MSG, ct); put(MSG + ct.length, tag);
    sentinel(ct.length + 16);
    const n = x.crypto_aead_open(KEY, NONCE, AAD, aad.length, MSG, ct.length + 16, OUT);
    if (t.result === "valid") {
      assert.is(n, ct.length, `tcId ${t.tcId}`);
      assert.is(hex(get(OUT, n)), t.msg, `tcId ${t.tcId} ${t.comment}`);
    } else {
      assert.is(n, -1, `tcId ${t.tcId} ${t.comment}`);
      assert.ok(untouched(ct.length + 16), `tcId ${t.tcId}: no plaintext before the tag verifies`);
    }
  }
});

test("AEAD: open refuses input shorter than a tag; seal and open work in place", () => {
  const KEY = IN, NONCE = IN + 32, MSG = IN + 2048;
  put(KEY, new Uint8Array(32).fill(7)); put(NONCE, new Uint8Array(12).fill(9));
  for (let n = 0; n < 16; n++) assert.is(x.crypto_aead_open(KEY, NONCE, IN, 0, MSG, n, OUT), -1);
  const msg = new Uint8Array(77).map((_, i) => i * 3);
  put(MSG, msg);
  assert.is(x.crypto_aead_seal(KEY, NONCE, IN + 100, 5, MSG, msg.length, OUT), msg.length + 16);
  const sealed = get(OUT, msg.length + 16);
  assert.is(x.crypto_aead_seal(KEY, NONCE, IN + 100, 5, MSG, msg.length, MSG), msg.length + 16);
  assert.is(hex(get(MSG, msg.length + 16)), hex(sealed));
  assert.is(x.crypto_aead_open(KEY, NONCE, IN + 100, 5, MSG, msg.length + 16, MSG), msg.length);
  assert.is(hex(get(MSG, msg.length)), hex(msg));
});

test("ChaCha20 (RFC 8439 2.4.2) and Poly1305 (RFC 8439 2.5.2) vectors", () => {
  const v = vectors("aead");
  const cg = v.testGroups.find((g) => g.algorithm === "CHACHA20");
  for (const t of cg.tests) {
    const msg = unhex(t.msg);
    put(IN, unhex(t.key)); put(IN + 32, unhex(t.nonce)); put(IN + 64, msg);
    assert.is(x.crypto_chacha20(IN, IN + 32, t.counter | 0, IN + 64, msg.length, OUT), msg.length);
    assert.is(hex(get(OUT, msg.length)), t.ct, `tcId ${t.tcId} ${t.comment}`);
  }
  const pg = v.testGroups.find((g) => g.algorithm === "POLY1305");
  for (const t of pg.tests) {
    const msg = unhex(t.msg);
    put(IN, unhex(t.key)); put(IN + 64, msg);
    assert.is(x.crypto_poly1305(IN, IN + 64, msg.length, OUT), 16);
    assert.is(hex(get(OUT, 16)), t.tag, `tcId ${t.tcId} ${t.comment}`);
  }
});

test("X25519 vectors (RFC 7748 5.2 incl. 1 and 1000 iterations, 6.1, low-order points)", () => {
  const v = vectors("x25519");
  const K = IN, U = IN + 32;
  let lowOrder = 0;
  for (const t of v.testGroups[0].tests) {
    let k = unhex(t.private), u = unhex(t.public);
    let r = -2;
    for (let i = 0; i < (t.iterations ?? 1); i++) {
      put(K, k); put(U, u);
      r = x.crypto_x25519(OUT, K, U);
      u = k;
      k = get(OUT, 32);
    }
    assert.is(hex(k), t.shared, `tcId ${t.tcId} ${t.comment}`);
    if (t.result === "valid") assert.is(r, 1, `tcId ${t.tcId}`);
    else { assert.is(r, 0, `tcId ${t.tcId}: all-zero result reported`); lowOrder++; }
  }
  assert.ok(lowOrder >= 5);
});

test("X25519 base point: RFC 7748 6.1 public keys, and agreement both ways", () => {
  const a = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const b = unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  put(IN, a); x.crypto_x25519_base(OUT, IN);
  assert.is(hex(get(OUT, 32)), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  put(IN, b); x.crypto_x25519_base(OUT + 32, IN);
  assert.is(hex(get(OUT + 32, 32)), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  put(IN, a); assert.is(x.crypto_x25519(OUT + 64, IN, OUT + 32), 1);
  put(IN, b); assert.is(x.crypto_x25519(OUT + 96, IN, OUT), 1);
  assert.is(hex(get(OUT + 64, 32)), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  assert.is(hex(get(OUT + 96, 32)), hex(get(OUT + 64, 32)));
});

test("ct_equal: equal, every single-byte difference, empty", () => {
  const a = new Uint8Array(37).map((_, i) => i * 5 + 1);
  put(IN, a); put(IN + 100, a);
  assert.is(x.crypto_ct_equal(IN, IN + 100, 37), 1);
  assert.is(x.crypto_ct_equal(IN, IN + 100, 0), 1);
  for (let i = 0; i < 37; i++) {
    for (const bit of [0x01, 0x80]) {
      const b = a.slice(); b[i] ^= bit;
      put(IN + 100, b);
      assert.is(x.crypto_ct_equal(IN, IN + 100, 37), 0, `byte ${i}`);
      assert.is(x.crypto_ct_equal(IN, IN + 100, i), 1, `prefix before byte ${i}`);
    }
  }
});

// DRBG: a JS model of the construction (ChaCha20 fast key erasure, seeding by
// key = SHA-256(key || seed)) built on @noble/ciphers and node:crypto.
function modelDrbg() {
  let key = new Uint8Array(32);
  const nonce = new Uint8Array(12);
  return {
    seed(s) { key = new Uint8Array(createHash("sha256").update(key).update(s).digest()); },
    fill(n) {
      const blocks = Math.ceil((32 + n) / 64);
      const stream = chacha20(key, nonce, new Uint8Array(blocks * 64), undefined, 0);
      // Block 0: new key, then up to 32 output bytes; blocks 1.. are output.
      const out = new Uint8Array(n);
      out.set(stream.subarray(32, 32 + Math.min(n, 32)));
      if (n > 32) out.set(stream.subarray(64, 64 + n - 32), 32);
      key = stream.slice(0, 32);
      return out;
    },
  };
}
const drbgSeed = (inst, s) => { inst.put(inst.x.io_in_ptr(), s); inst.x.drbg_seed(inst.x.io_in_ptr(), s.length); };
const drbgFill = (inst, n) => { inst.x.drbg_fill(inst.x.io_out_ptr(), n); return inst.get(inst.x.io_out_ptr(), n); };

test("DRBG: matches the model, is deterministic, seeds differ, reseeding changes the stream", () => {
  const a = loadRaw(), b = loadRaw(), c = loadRaw();
  const m = modelDrbg();
  const seed1 = new Uint8Array(48).map((_, i) => i), seed2 = new Uint8Array(48).map((_, i) => i + 1);
  drbgSeed(a, seed1); drbgSeed(b, seed1); drbgSeed(c, seed2); m.seed(seed1);
  for (const n of [0, 1, 31, 32, 33, 64, 95, 96, 97, 200, 1000]) {
    const ra = drbgFill(a, n), rb = drbgFill(b, n), rc = drbgFill(c, n), rm = m.fill(n);
    assert.is(hex(ra), hex(rm), `model, ${n} bytes`);
    assert.is(hex(ra), hex(rb), `same seed, ${n} bytes`);
    if (n >= 16) assert.is.not(hex(ra), hex(rc), `different seed, ${n} bytes`);
  }
  // Short and long seeds (the two hashing paths), in the model too.
  for (const s of [new Uint8Array(0), new Uint8Array(5).fill(1), new Uint8Array(31).fill(2), new Uint8Array(32).fill(3), new Uint8Array(1000).fill(4)]) {
    drbgSeed(a, s); m.seed(s);
    assert.is(hex(drbgFill(a, 80)), hex(m.fill(80)), `after a ${s.length}-byte seed`);
  }
  // Reseeding b with the same material again changes its stream relative to a fresh copy.
  const d = loadRaw(), e = loadRaw();
  drbgSeed(d, seed1); drbgSeed(e, seed1);
  drbgSeed(e, seed2);
  assert.is.not(hex(drbgFill(d, 64)), hex(drbgFill(e, 64)));
  // Successive requests never repeat.
  const seen = new Set();
  for (let i = 0; i < 200; i++) seen.add(hex(drbgFill(d, 16)));
  assert.is(seen.size, 200);
});

test("hostile arguments: every export returns an error (or does nothing), never traps", () => {
  const inst = loadRaw();
  const y = inst.x;
  const END = y.memory.buffer.byteLength;
  const ptrs = [END, END - 1, END - 11, END - 15, END - 31, -1, -32, 0x7fffffff, -0x80000000];
  const lens = [-1, -16, -0x80000000, 0x7fffffff, END, END + 1];
  const ok = y.io_in_ptr();
  let calls = 0;
  const expectErr = (what, r) => { calls++; assert.is(r, -1, what); };
  const fits = (p, n) => (p >>> 0) + n <= END;
  const DIGEST = { 1: 16, 2: 20, 3: 32 };
  assert.is(y.crypto_hmac_init(0, 3, ok, 32), 32);
  for (const p of ptrs) {
    for (const alg of [1, 2, 3]) {
      expectErr(`hash msg ${p}`, y.crypto_hash(alg, p, 64, ok));
      if (!fits(p, DIGEST[alg])) expectErr(`hash out ${p}`, y.crypto_hash(alg, ok, 1, p));
      expectErr(`hmac key ${p}`, y.crypto_hmac(alg, p, 40, ok, 1, ok));
      expectErr(`hmac msg ${p}`, y.crypto_hmac(alg, ok, 1, p, 40, ok));
      if (!fits(p, DIGEST[alg])) expectErr(`hmac out ${p}`, y.crypto_hmac(alg, ok, 1, ok, 1, p));
      expectErr(`hmac_init key ${p}`, y.crypto_hmac_init(0, alg, p, 40));
    }
    expectErr(`hmac_sign msg ${p}`, y.crypto_hmac_sign(0, p, 40, ok));
    expectErr(`hmac_sign out ${p}`, y.crypto_hmac_sign(0, ok, 1, p));
    expectErr(`hmac_verify msg ${p}`, y.crypto_hmac_verify(0, p, 40, ok, 32));
    expectErr(`hmac_verify tag ${p}`, y.crypto_hmac_verify(0, ok, 1, p, 32));
    if (!fits(p, 12)) expectErr(`aead_seal nonce ${p}`, y.crypto_aead_seal(ok, p, ok, 0, ok, 0, ok));
    if (!fits(p, 12)) expectErr(`aead_open nonce ${p}`, y.crypto_aead_open(ok, p, ok, 0, ok, 16, ok));
    for (const args of [[p, ok, ok, 0, ok, 0, ok], [ok, ok, p, 40, ok, 0, ok], [ok, ok, ok, 0, p, 40, ok], [ok, ok, ok, 0, ok, 0, p].map((v, i) => (i === 6 && fits(p, 16) ? -1 : v))]) {
      expectErr(`aead_seal ${args}`, y.crypto_aead_seal(...args));
    }
    for (const args of [[p, ok, ok, 0, ok, 16, ok], [ok, ok, p, 40, ok, 16, ok], [ok, ok, ok, 0, p, 40, ok], [ok, ok, ok, 0, ok, 40, p]]) {
      expectErr(`aead_open ${args}`, y.crypto_aead_open(...args));
    }
    expectErr(`x25519 out ${p}`, y.crypto_x25519(p, ok, ok));
    expectErr(`x25519 scalar ${p}`, y.crypto_x25519(ok, p, ok));
    expectErr(`x25519 point ${p}`, y.crypto_x25519(ok, ok, p));
    expectErr(`ct_equal ${p}`, y.crypto_ct_equal(p, ok, 40));
    expectErr(`ct_equal ${p}`, y.crypto_ct_equal(ok, p, 40));
    expectErr(`chacha20 key ${p}`, y.crypto_chacha20(p, ok, 0, ok, 1, ok));
    expectErr(`chacha20 src ${p}`, y.crypto_chacha20(ok, ok, 0, p, 40, ok));
    expectErr(`chacha20 dst ${p}`, y.crypto_chacha20(ok, ok, 0, ok, 40, p));
    expectErr(`poly1305 key ${p}`, y.crypto_poly1305(p, ok, 1, ok));
    if (!fits(p, 16)) expectErr(`poly1305 out ${p}`, y.crypto_poly1305(ok, ok, 1, p));
    // void exports: nothing thrown, nothing done
    y.crypto_x25519_base(p, ok); y.crypto_x25519_base(ok, p);
    y.drbg_seed(p, 40); y.drbg_fill(p, 40);
    calls += 4;
  }
  for (const n of lens) {
    for (const alg of [1, 2, 3]) {
      expectErr(`hash len ${n}`, y.crypto_hash(alg, ok, n, ok));
      expectErr(`hmac keyLen ${n}`, y.crypto_hmac(alg, ok, n, ok, 1, ok));
      expectErr(`hmac msgLen ${n}`, y.crypto_hmac(alg, ok, 1, ok, n, ok));
      expectErr(`hmac_init keyLen ${n}`, y.crypto_hmac_init(0, alg, ok, n));
    }
    expectErr(`hmac_sign len ${n}`, y.crypto_hmac_sign(0, ok, n, ok));
    expectErr(`hmac_verify len ${n}`, y.crypto_hmac_verify(0, ok, n, ok, 32));
    expectErr(`hmac_verify tagLen ${n}`, y.crypto_hmac_verify(0, ok, 1, ok, n));
    expectErr(`aead_seal aadLen ${n}`, y.crypto_aead_seal(ok, ok, ok, n, ok, 0, ok));
    expectErr(`aead_seal msgLen ${n}`, y.crypto_aead_seal(ok, ok, ok, 0, ok, n, ok));
    expectErr(`aead_open aadLen ${n}`, y.crypto_aead_open(ok, ok, ok, n, ok, 16, ok));
    expectErr(`aead_open ctLen ${n}`, y.crypto_aead_open(ok, ok, ok, 0, ok, n, ok));
    expectErr(`ct_equal len ${n}`, y.crypto_ct_equal(ok, ok, n));
    expectErr(`chacha20 len ${n}`, y.crypto_chacha20(ok, ok, 0, ok, n, ok));
    expectErr(`poly1305 len ${n}`, y.crypto_poly1305(ok, ok, n, ok));
    expectErr(`bench len ${n}`, n >= 0 && n <= 65536 ? -1 : y.bench_hmac_sha256(1, n));
    y.drbg_seed(ok, n); y.drbg_fill(ok, n);
    calls += 2;
  }
  // Unknown algorithms, slots out of range, an unkeyed slot, a wrong tag length.
  for (const alg of [0, 4, -1, 0x7fffffff]) {
    expectErr(`hash alg ${alg}`, y.crypto_hash(alg, ok, 1, ok));
    expectErr(`hmac alg ${alg}`, y.crypto_hmac(alg, ok, 1, ok, 1, ok));
    expectErr(`hmac_init alg ${alg}`, y.crypto_hmac_init(0, alg, ok, 1));
  }
  for (const slot of [-1, 8, 0x7fffffff, -0x80000000]) {
    expectErr(`hmac_init slot ${slot}`, y.crypto_hmac_init(slot, 3, ok, 1));
    expectErr(`hmac_sign slot ${slot}`, y.crypto_hmac_sign(slot, ok, 1, ok));
    expectErr(`hmac_verify slot ${slot}`, y.crypto_hmac_verify(slot, ok, 1, ok, 32));
  }
  expectErr("unkeyed slot", y.crypto_hmac_sign(5, ok, 1, ok));
  expectErr("unkeyed slot", y.crypto_hmac_verify(5, ok, 1, ok, 32));
  assert.is(y.crypto_hmac_init(1, 3, ok, 16), 32);
  for (const tl of [0, 1, 16, 31, 33, 64]) { calls++; assert.is(y.crypto_hmac_verify(1, ok, 1, ok, tl), 0, `tagLen ${tl}`); }
  expectErr("bench n < 0", y.bench_hmac_sha256(-1, 16));
  // Exactly at the end of memory is fine.
  assert.is(y.crypto_hash(3, END - 10, 10, END - 32), 32);
  assert.is(y.crypto_ct_equal(END - 1, END - 1, 1), 1);
  assert.is(y.crypto_aead_open(ok, ok, ok, 0, END - 16, 16, END), -1, "bad tag, zero-length output at END");
  // The instance still works afterwards.
  inst.put(ok, new TextEncoder().encode("abc"));
  assert.is(y.crypto_hash(3, ok, 3, y.io_out_ptr()), 32);
  assert.is(hex(inst.get(y.io_out_ptr(), 32)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert.ok(calls > 300);
});

test.run();
