// HMAC-SHA256 over a 128-byte message: the core against node:crypto and
// @noble/hashes, in whichever runtime runs this file:
//
//   node bench/crypto.js      deno run -A bench/crypto.js      bun bench/crypto.js
//
// Prints ns/op (median of several timed rounds, after a warm-up) and each
// row's ratio to the node:crypto baseline measured in the same run. Numbers
// only: nothing here asserts a time.
import { readFileSync, statSync } from "node:fs";
import { createHmac, timingSafeEqual } from "node:crypto";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { loadRaw } from "../test/_wasm.js";

const runtime = typeof Deno !== "undefined" ? `deno ${Deno.version.deno}`
  : typeof Bun !== "undefined" ? `bun ${Bun.version}` : `node ${process.versions.node}`;
const WASM = new URL("../build/handover.wasm", import.meta.url);
const MSG_LEN = 128;
const ROUNDS = 9;
const TARGET_MS = 60; // per timed round

const { x, put, get } = loadRaw();
const IN = x.io_in_ptr(), OUT = x.io_out_ptr();
const key = new Uint8Array(32).map((_, i) => 0x0b);
const msg = new Uint8Array(MSG_LEN).map((_, i) => (i * 31 + 7) & 255);
const KEY_AT = IN + 4096, TAG_AT = IN + 8192;
put(IN, msg);
put(KEY_AT, key);
if (x.crypto_hmac_init(0, 3, KEY_AT, key.length) !== 32) throw new Error("crypto_hmac_init failed");
x.crypto_hmac_sign(0, IN, MSG_LEN, TAG_AT);
const tag = get(TAG_AT, 32);
const want = createHmac("sha256", key).update(msg).digest();
if (!timingSafeEqual(Buffer.from(tag), want)) throw new Error("core HMAC disagrees with node:crypto");
const nodeKey = Buffer.from(key), nodeMsg = Buffer.from(msg), nodeTag = Buffer.from(tag);
const noblePre = hmac.create(sha256, key);
const nobleSign = () => noblePre.clone().update(msg).digest();
const eq = (a, b) => { let d = a.length ^ b.length; for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i]; return d === 0; };

/** ns per call of fn(n) that performs n operations; median of ROUNDS rounds. */
function measure(fn) {
  let n = 64;
  for (;;) { // warm up and size a round to about TARGET_MS
    const t = performance.now();
    fn(n);
    const ms = performance.now() - t;
    if (ms > TARGET_MS / 4) { n = Math.max(1, Math.round(n * TARGET_MS / ms)); break; }
    n *= 4;
  }
  const samples = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    fn(n);
    samples.push(((performance.now() - t) * 1e6) / n);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

let sink = 0;
const cases = [
  ["sign", "node:crypto createHmac (baseline)", (n) => { for (let i = 0; i < n; i++) sink ^= createHmac("sha256", nodeKey).update(nodeMsg).digest()[0]; }],
  ["sign", "core via exports, key precomputed", (n) => { for (let i = 0; i < n; i++) sink ^= x.crypto_hmac_sign(0, IN, MSG_LEN, OUT); }],
  ["sign", "core one-shot crypto_hmac (re-keys)", (n) => { for (let i = 0; i < n; i++) sink ^= x.crypto_hmac(3, KEY_AT, 32, IN, MSG_LEN, OUT); }],
  ["sign", "core in-wasm loop (bench_hmac_sha256)", (n) => { sink ^= x.bench_hmac_sha256(n, MSG_LEN); }],
  ["sign", "@noble/hashes hmac (one-shot)", (n) => { for (let i = 0; i < n; i++) sink ^= hmac(sha256, key, msg)[0]; }],
  ["sign", "@noble/hashes hmac (key precomputed)", (n) => { for (let i = 0; i < n; i++) sink ^= nobleSign()[0]; }],
  ["verify", "node:crypto createHmac + timingSafeEqual (baseline)", (n) => { for (let i = 0; i < n; i++) sink ^= +timingSafeEqual(createHmac("sha256", nodeKey).update(nodeMsg).digest(), nodeTag); }],
  ["verify", "core via exports, key precomputed", (n) => { for (let i = 0; i < n; i++) sink ^= x.crypto_hmac_verify(0, IN, MSG_LEN, TAG_AT, 32); }],
  ["verify", "@noble/hashes hmac (key precomputed) + compare", (n) => { for (let i = 0; i < n; i++) sink ^= +eq(nobleSign(), tag); }],
];

if (x.crypto_hmac_verify(0, IN, MSG_LEN, TAG_AT, 32) !== 1) throw new Error("core verify failed");
console.log(`HMAC-SHA256, ${MSG_LEN}-byte message, ${runtime}; median of ${ROUNDS} rounds`);
const rows = [];
const base = {};
for (const [op, name, fn] of cases) {
  const ns = measure(fn);
  if (!(op in base)) base[op] = ns;
  rows.push([op, name, ns]);
}
const w = Math.max(...rows.map((r) => r[1].length));
console.log(`${"op".padEnd(7)} ${"implementation".padEnd(w)} ${"ns/op".padStart(8)} ${"vs node:crypto".padStart(15)}`);
for (const [op, name, ns] of rows) {
  console.log(`${op.padEnd(7)} ${name.padEnd(w)} ${ns.toFixed(0).padStart(8)} ${(ns / base[op]).toFixed(2).padStart(14)}x`);
}
console.log(`release wasm: ${statSync(WASM).size} bytes (build/handover.wasm)`);
if (sink === 0.5) console.log(sink); // keeps the loops' results alive
