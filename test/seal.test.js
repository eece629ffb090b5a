// Sealing under the session key (docs/PROTOCOL.md 8.11): the derived keys
// against node:crypto's HKDF, the Sealed body and the state frames against
// @noble/ciphers' ChaCha20-Poly1305 built from the spec's nonce and AAD, round
// trips, and every refusal: a changed byte anywhere, a wrong direction,
// sequence number, header, SPI or frame index, reordered, missing or extra
// frames, hostile lengths. Never a trap.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { hkdfSync } from "node:crypto";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { Core } from "../dist/hosts/shared/core.js";
import { SidCodec } from "../dist/hosts/shared/sid.js";
import { ErrorCode } from "../dist/hosts/shared/registry.js";
import { hex, unhex } from "./_wasm.js";
import { Prng } from "../conformance/tools/prng.js";
import * as reference from "../conformance/tools/sid-reference.js";

const core = await Core.load(readFileSync(new URL("../build/handover.wasm", import.meta.url)));
const sid = new SidCodec(core);
const rng = new Prng(0x5ea1);
const KEY = rng.bytes(32);
const HEADER = unhex("0114" + "0007" + "a1a2a3a4a5a6" + "00" + "00" + "e5f6a7b8c9d0e1f2");
const enc = (s) => new TextEncoder().encode(s);
const derived = (info) => new Uint8Array(hkdfSync("sha256", KEY, new Uint8Array(0), enc(info), 32));
// @noble/ciphers as the oracle (Bun's node:crypto has no ChaCha20-Poly1305).
const chacha = (key, nonce, aad, pt) => chacha20poly1305(key, nonce, aad).encrypt(pt);
const be32 = (v) => new Uint8Array([v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);
const err = (f) => { try { f(); return "ok"; } catch (e) { return e.errorName ?? e.message; } };

test("derived keys: HKDF-SHA256(session key, info 'handover seal up/1' | 'handover seal down/1' | 'handover state/1')", () => {
  assert.is(hex(sid.sealKey(KEY, "up")), hex(derived("handover seal up/1")));
  assert.is(hex(sid.sealKey(KEY, "down")), hex(derived("handover seal down/1")));
  assert.is(hex(sid.sealKey(KEY, "state")), hex(derived("handover state/1")));
  assert.is(core.x.sid_seal_key(core.inputPtr, 3, core.outputPtr), -ErrorCode.INVALID_ARGUMENT);
});

test("Sealed body: nonce = seq32 || Replay Protect ID, AAD = header; every change refused", () => {
  const inner = unhex("24020258"); // a Lifetime extension (type 36, 600 s)
  const body = sid.sealMessage(KEY, "up", 0x10007, HEADER, inner);
  const nonce = new Uint8Array([...be32(0x10007), ...HEADER.subarray(12, 20)]);
  assert.is(hex(body), hex(chacha(derived("handover seal up/1"), nonce, HEADER, inner)));
  assert.is(hex(sid.openMessage(KEY, "up", 0x10007, HEADER, body)), hex(inner));
  assert.is(err(() => sid.openMessage(KEY, "down", 0x10007, HEADER, body)), "BAD_AUTHENTICATOR", "the other direction's key");
  assert.is(err(() => sid.openMessage(KEY, "up", 0x10008, HEADER, body)), "BAD_AUTHENTICATOR", "another sequence number");
  const h2 = HEADER.slice(); h2[3] ^= 1;
  assert.is(err(() => sid.openMessage(KEY, "up", 0x10007, h2, body)), "BAD_AUTHENTICATOR", "another header");
  for (let i = 0; i < body.length; i++) {
    const b = body.slice(); b[i] ^= 0x20;
    assert.is(err(() => sid.openMessage(KEY, "up", 0x10007, HEADER, b)), "BAD_AUTHENTICATOR", `byte ${i} changed`);
  }
  assert.is(err(() => sid.openMessage(KEY, "up", 0x10007, HEADER, body.subarray(0, 15))), "BAD_LENGTH");
  assert.is(hex(sid.openMessage(KEY, "down", 1, HEADER, sid.sealMessage(KEY, "down", 1, HEADER, new Uint8Array(0)))), "", "empty inner extensions");
});

test("state frames: layout, nonce and AAD as specified; a record of any size round-trips", () => {
  const spi = 0x1234;
  const record = rng.bytes(40000);
  const frames = sid.sealState(KEY, spi, record);
  assert.equal(frames.map((f) => f.length), [16384 + 20, 16384 + 20, 40000 - 32768 + 20]);
  assert.equal(frames.map((f) => f[0]), [0, 0, 1], "only the last frame has Last");
  const f0 = frames[0];
  assert.is(hex(f0.subarray(0, 4)), "00" + (16384 + 16).toString(16).padStart(6, "0"));
  const nonce1 = unhex("00000000" + "0000000000000001");
  const aad2 = new Uint8Array([...be32(spi), ...frames[1].subarray(0, 4)]);
  assert.is(hex(frames[1].subarray(4)), hex(chacha(derived("handover state/1"), nonce1, aad2, record.subarray(16384, 32768))));
  const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let o = 0;
  for (const f of frames) { stream.set(f, o); o += f.length; }
  assert.is(hex(sid.openState(KEY, spi, stream)), hex(record));
  const one = sid.sealState(KEY, spi, new Uint8Array(0));
  assert.equal([one.length, one[0].length, one[0][0]], [1, 20, 1], "an empty record: one empty Last frame");
  assert.is(sid.openState(KEY, spi, one[0]).length, 0);

  const cat = (...fs) => { const s = new Uint8Array(fs.reduce((n, f) => n + f.length, 0)); let k = 0; for (const f of fs) { s.set(f, k); k += f.length; } return s; };
  assert.is(err(() => sid.openState(KEY, spi + 1, stream)), "BAD_AUTHENTICATOR", "another Session SPI");
  assert.is(err(() => sid.openState(KEY, spi, cat(frames[1], frames[0], frames[2]))), "BAD_AUTHENTICATOR", "frames reordered");
  assert.is(err(() => sid.openState(KEY, spi, cat(frames[0], frames[2]))), "BAD_AUTHENTICATOR", "a frame missing");
  assert.is(err(() => sid.openState(KEY, spi, cat(frames[0], frames[1]))), "TRUNCATED", "the Last frame never comes");
  assert.is(err(() => sid.openState(KEY, spi, cat(stream, new Uint8Array([0])))), "RECORD_TRAILING_BYTES", "a byte after Last");
  const flip = (f, i, v) => { const c = f.slice(); c[i] = v; return c; };
  assert.is(err(() => sid.openState(KEY, spi, cat(flip(frames[0], 0, 1), frames[1], frames[2]))), "BAD_AUTHENTICATOR", "Last set on the first frame (the flags are authenticated)");
  assert.is(err(() => sid.openState(KEY, spi, flip(frames[0], 0, 2))), "RESERVED_NONZERO");
  assert.is(err(() => sid.openState(KEY, spi, cat(new Uint8Array([1, 0, 0, 15]), new Uint8Array(15)))), "BAD_LENGTH", "Length 15");
  assert.is(err(() => sid.openState(KEY, spi, cat(new Uint8Array([0, 0, 0, 16]), new Uint8Array(16)))), "BAD_LENGTH", "an empty frame without Last");
  assert.is(err(() => sid.openState(KEY, spi, new Uint8Array([0, 0x00, 0x40, 0x11]))), "BAD_LENGTH", "Length 16401");
  assert.is(err(() => sid.openState(KEY, spi, f0.subarray(0, 100))), "TRUNCATED");
  assert.is(err(() => sid.openState(KEY, spi, f0.subarray(0, 3))), "TRUNCATED");
  const x = core.x;
  assert.is(x.sid_seal_state_frame(core.inputPtr, 1, -1, 1, core.inputPtr, 1, core.outputPtr), -ErrorCode.INVALID_ARGUMENT, "negative index");
  assert.is(x.sid_seal_state_frame(core.inputPtr, 1, 0.5, 1, core.inputPtr, 1, core.outputPtr), -ErrorCode.INVALID_ARGUMENT, "fractional index");
  assert.is(x.sid_seal_state_frame(core.inputPtr, 1, 0, 1, core.inputPtr, 16385, core.outputPtr), -ErrorCode.BAD_VALUE, "a frame over 16384 bytes");
  for (let i = 0; i < 500; i++) {
    const junk = rng.bytes(rng.int(0, 80));
    const e = err(() => sid.openState(KEY, spi, junk));
    assert.ok(e in ErrorCode, e);
  }
});

test("a Binding Ack's DOWN subkey made beside the request's UP one is used only for the same binding key, after an open that succeeded", () => {
  const kbA = rng.bytes(32);
  const kbB = rng.bytes(32);
  const aad = HEADER.slice();
  const up = sid.sealBinding(kbA, "up", 7, HEADER, aad, enc("renew"));
  const ack = (kb) => sid.sealBinding(kb, "down", 8, HEADER, aad, enc("ack"));
  const expected = (kb) => hex(reference.sealBinding(kb, "down", 8, HEADER, aad, enc("ack")));
  // Opened under A (its DOWN subkey made beside): the next seal, under B, is B's, not A's.
  assert.is(hex(sid.openBinding(kbA, "up", 7, HEADER, aad, up)), hex(enc("renew")));
  assert.is(hex(ack(kbB)), expected(kbB), "sealed under B after an open under A");
  // Under A after an open under A: A's (the subkey made beside).
  assert.is(hex(sid.openBinding(kbA, "up", 7, HEADER, aad, up)), hex(enc("renew")));
  assert.is(hex(ack(kbA)), expected(kbA), "sealed under A after an open under A");
  // A key differing in its last byte only: its own subkey.
  const kbA2 = kbA.slice();
  kbA2[31] ^= 1;
  assert.is(hex(sid.openBinding(kbA, "up", 7, HEADER, aad, up)), hex(enc("renew")));
  assert.is(hex(ack(kbA2)), expected(kbA2), "a key one bit away");
  // A forged request under A: refused; the seal after it is still the right one.
  const forged = up.slice();
  forged[0] ^= 1;
  assert.is(err(() => sid.openBinding(kbA, "up", 7, HEADER, aad, forged)), "BAD_AUTHENTICATOR");
  assert.is(hex(ack(kbB)), expected(kbB));
  assert.is(hex(ack(kbA)), expected(kbA));
});

test.run();
