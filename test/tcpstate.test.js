// The TCP state record (docs/PROTOCOL.md 8.12): byte-exact headers written
// by hand from the layout, round trips with queues, every check of the
// decoding order with its error code, the encoder refusing what the decoder
// refuses, and hostile inputs (truncations, random bytes, forged lengths)
// that must yield an error code, never a trap.
//
// The seed is printed; HANDOVER_SEED=<n> replays a run.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { Core, HandoverError } from "../dist/hosts/shared/core.js";
import { SidCodec } from "../dist/hosts/shared/sid.js";
import { ErrorCode } from "../dist/hosts/shared/registry.js";
import { hex, unhex } from "./_wasm.js";
import { Prng } from "../conformance/tools/prng.js";

const env = typeof Deno !== "undefined" ? Deno.env.get("HANDOVER_SEED") : process.env.HANDOVER_SEED;
const SEED = env ? Number(env) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
console.log(`tcpstate seed: ${SEED} (replay with HANDOVER_SEED=${SEED})`);
const rng = new Prng(SEED);

const core = await Core.load(readFileSync(new URL("../build/handover.wasm", import.meta.url)));
const sid = new SidCodec(core);

const base = {
  local: "198.18.20.100", remote: "198.18.10.1", localPort: 5001, remotePort: 40000,
  sack: true, timestamps: true, windowScaling: true, sendShift: 7, receiveShift: 9, mss: 1448,
  sendSeq: 0x11223344, receiveSeq: 0xaabbccdd, timestamp: 0x01020304,
  sndWl1: 0xaabbcc00, sndWnd: 65535, maxWindow: 131072, rcvWnd: 262144, rcvWup: 0xaabbcc10,
  unsentLength: 2,
  sendQueue: new Uint8Array([1, 2, 3, 4, 5]), receiveQueue: new Uint8Array([9, 8, 7]), appState: new TextEncoder().encode("app"),
};

// Written from the table in PROTOCOL.md 8.12, field by field.
const HEADER_V4 =
  "01" + "01" + "07" + "79" + "05a8" + "1389" + "9c40" + "0000" +
  "c6121464" + "c6120a01" +
  "11223344" + "aabbccdd" + "01020304" +
  "aabbcc00" + "0000ffff" + "00020000" + "00040000" + "aabbcc10" +
  "00000005" + "00000002" + "00000003" + "00000003";

function errorOf(bytes) {
  try {
    sid.decodeTcpState(bytes);
    return "ok";
  } catch (e) {
    if (!(e instanceof HandoverError)) throw e;
    return e.errorName;
  }
}

test("IPv4 header byte for byte, then the queues and the application state", () => {
  const rec = sid.encodeTcpState(base);
  assert.is(HEADER_V4.length / 2, 68, "the IPv4 header is 68 bytes");
  assert.is(hex(rec.subarray(0, 68)), HEADER_V4);
  assert.is(hex(rec.subarray(68)), "0102030405" + "090807" + "617070");
  const back = sid.decodeTcpState(rec);
  for (const k of Object.keys(base)) {
    if (base[k] instanceof Uint8Array) assert.is(hex(back[k]), hex(base[k]), k);
    else assert.is(back[k], base[k], k);
  }
});

test("IPv6, no options: 92-byte header, zero shifts and timestamp, empty queues", () => {
  const r = { ...base, local: "2001:db8::10", remote: "2001:db8:9::2", sack: false, timestamps: false, windowScaling: false,
    sendShift: 0, receiveShift: 0, timestamp: 0, unsentLength: 0, sendQueue: new Uint8Array(0), receiveQueue: new Uint8Array(0), appState: new Uint8Array(0) };
  const rec = sid.encodeTcpState(r);
  assert.is(rec.length, 92);
  assert.is(hex(rec.subarray(0, 12)), "01" + "02" + "00" + "00" + "05a8" + "1389" + "9c40" + "0000");
  assert.is(hex(rec.subarray(12, 44)), "20010db8000000000000000000000010" + "20010db8000900000000000000000002");
  const back = sid.decodeTcpState(rec);
  assert.is(back.local, "2001:db8::10");
  assert.is(back.remote, "2001:db8:9::2");
  assert.is(back.sendQueue.length + back.receiveQueue.length + back.appState.length, 0);
});

// Each check of 8.12 in its order: a mutation of the valid record and the error it must give.
const valid = () => sid.encodeTcpState(base);
const set = (rec, off, ...bytes) => { bytes.forEach((b, i) => (rec[off + i] = b)); return rec; };
const u32 = (rec, off, v) => { new DataView(rec.buffer, rec.byteOffset).setUint32(off, v >>> 0); return rec; };
const Q = 12 + 8; // start of the sequence numbers in an IPv4 record
const CASES = [
  ["3 bytes", () => valid().subarray(0, 3), "RECORD_TRUNCATED"],
  ["version 2", () => set(valid(), 0, 2), "RECORD_VERSION"],
  ["version 0 and family 9: version first", () => set(valid(), 0, 0, 9), "RECORD_VERSION"],
  ["family 3", () => set(valid(), 1, 3), "BAD_FAMILY"],
  ["header cut at 67 bytes", () => valid().subarray(0, 67), "RECORD_TRUNCATED"],
  ["family 2 on an IPv4-sized record (80 bytes < 92)", () => set(valid(), 1, 2).subarray(0, 80), "RECORD_TRUNCATED"],
  ["reserved 0x0001", () => set(valid(), 11, 1), "RESERVED_NONZERO"],
  ["reserved and an unknown flag: reserved first", () => set(valid(), 2, 0x0f, 0x79, 0x05, 0xa8, 0x13, 0x89, 0x9c, 0x40, 0x80, 0), "RESERVED_NONZERO"],
  ["flag 0x08", () => set(valid(), 2, 0x0f), "BAD_VALUE"],
  ["send shift 15", () => set(valid(), 3, 0xf9), "BAD_VALUE"],
  ["receive shift 15", () => set(valid(), 3, 0x7f), "BAD_VALUE"],
  ["shifts without window scaling", () => set(valid(), 2, 0x03), "BAD_VALUE"],
  ["MSS 0", () => set(valid(), 4, 0, 0), "BAD_VALUE"],
  ["timestamp without the timestamps flag", () => set(valid(), 2, 0x05), "BAD_VALUE"],
  ["local port 0", () => set(valid(), 6, 0, 0), "BAD_VALUE"],
  ["remote port 0", () => set(valid(), 8, 0, 0), "BAD_VALUE"],
  ["local address 0.0.0.0", () => set(valid(), 12, 0, 0, 0, 0), "BAD_ADDRESS"],
  ["remote address 127.0.0.1", () => set(valid(), 16, 127, 0, 0, 1), "BAD_ADDRESS"],
  ["remote address 224.0.0.1", () => set(valid(), 16, 224, 0, 0, 1), "BAD_ADDRESS"],
  ["remote address 255.255.255.255", () => set(valid(), 16, 255, 255, 255, 255), "BAD_ADDRESS"],
  ["port 0 and address 0: port first", () => set(set(valid(), 6, 0, 0), 12, 0, 0, 0, 0), "BAD_VALUE"],
  ["unsent 6 > send queue 5", () => u32(valid(), Q + 36, 6), "BAD_VALUE"],
  ["send queue 64 MiB + 1", () => u32(valid(), Q + 32, (64 << 20) + 1), "RECORD_TOO_LONG"],
  ["receive queue 64 MiB + 1", () => u32(valid(), Q + 40, (64 << 20) + 1), "RECORD_TOO_LONG"],
  ["application state 1 MiB + 1", () => u32(valid(), Q + 44, (1 << 20) + 1), "RECORD_TOO_LONG"],
  ["queues 0xffffffff: unsent check first (no overflow)", () => u32(u32(valid(), Q + 32, 0xffffffff), Q + 36, 0xffffffff), "RECORD_TOO_LONG"],
  ["one byte of the application state missing", () => valid().subarray(0, 68 + 5 + 3 + 2), "RECORD_TRUNCATED"],
  ["a byte after the end", () => { const r = valid(); const o = new Uint8Array(r.length + 1); o.set(r); return o; }, "RECORD_TRAILING_BYTES"],
];
test("every check of the decoding order, with its error code", () => {
  for (const [what, make, want] of CASES) assert.is(errorOf(make()), want, what);
  assert.is(errorOf(valid()), "ok");
});

test("the encoder refuses what the decoder refuses", () => {
  const bad = [
    [{ unsentLength: 6 }, "BAD_VALUE"], [{ mss: 0 }, "BAD_VALUE"], [{ localPort: 0 }, "BAD_VALUE"],
    [{ sendShift: 15 }, "BAD_VALUE"], [{ windowScaling: false }, "BAD_VALUE"], [{ timestamps: false }, "BAD_VALUE"],
    [{ remote: "224.0.0.1" }, "BAD_ADDRESS"], [{ appState: new Uint8Array((1 << 20) + 1) }, "RECORD_TOO_LONG"],
  ];
  for (const [change, want] of bad) {
    let got = "ok";
    try {
      sid.encodeTcpState({ ...base, ...change });
    } catch (e) {
      got = e.errorName ?? String(e);
    }
    assert.is(got, want, JSON.stringify(Object.keys(change)));
  }
  assert.throws(() => sid.encodeTcpState({ ...base, remote: "2001:db8::1" }), /different families/);
});

test("hostile records: truncations, random bytes and random lengths give error codes, never a trap", () => {
  const names = new Set(Object.keys(ErrorCode));
  const rec = valid();
  for (let n = 0; n < rec.length; n++) assert.ok(names.has(errorOf(rec.subarray(0, n))), `prefix ${n}`);
  for (let i = 0; i < 3000; i++) {
    const r = valid();
    const k = rng.int(1, 4);
    for (let j = 0; j < k; j++) r[rng.int(0, r.length - 1)] = rng.int(0, 255);
    const got = errorOf(r.subarray(0, rng.int(0, 3) === 0 ? rng.int(0, r.length) : r.length));
    assert.ok(got === "ok" || names.has(got), `${got} for ${hex(r)}`);
    const noise = rng.bytes(rng.int(0, 119));
    if (noise.length > 0) noise[0] = 1;
    const g2 = errorOf(noise);
    assert.ok(g2 === "ok" || names.has(g2), `${g2} for ${hex(noise)}`);
  }
  // The raw export: bad pointers and totals are INVALID_ARGUMENT, not traps.
  const x = core.x;
  assert.is(x.tcpstate_decode(0x7fffffff, 100, 100), -ErrorCode.INVALID_ARGUMENT);
  assert.is(x.tcpstate_decode(core.inputPtr, 10, 5), -ErrorCode.INVALID_ARGUMENT, "total below the bytes given");
  assert.is(x.tcpstate_decode(core.inputPtr, 10, NaN), -ErrorCode.INVALID_ARGUMENT);
  assert.is(x.tcpstate_encode(0x7fffffff, 100), -ErrorCode.INVALID_ARGUMENT);
});

// ---- the UDP flow record (PROTOCOL.md 8.12, "UDP flows") ----

const udpBase = { local: "198.18.1.10", remote: "198.18.9.2", localPort: 5002, remotePort: 5003, appState: new TextEncoder().encode("seq") };
// From the table, field by field.
const UDP_V4 = "02" + "01" + "0000" + "138a" + "138b" + "c612010a" + "c6120902" + "00000003";

function udpErrorOf(bytes) {
  try {
    sid.decodeUdpFlow(bytes);
    return "ok";
  } catch (e) {
    if (!(e instanceof HandoverError)) throw e;
    return e.errorName;
  }
}

test("UDP flow record: IPv4 byte for byte, IPv6 44-byte header, round trips", () => {
  const b = sid.encodeUdpFlow(udpBase);
  assert.is(hex(b), UDP_V4 + hex(udpBase.appState));
  const r = sid.decodeUdpFlow(b);
  assert.equal({ ...r, appState: hex(r.appState) }, { ...udpBase, appState: hex(udpBase.appState) });
  const v6 = { local: "2001:db8::10", remote: "2001:db8:9::2", localPort: 1, remotePort: 65535, appState: new Uint8Array(0) };
  const b6 = sid.encodeUdpFlow(v6);
  assert.is(b6.length, 44);
  assert.equal({ ...sid.decodeUdpFlow(b6), appState: "" }, { ...v6, appState: "" });
});

test("UDP flow record: every check of the decoding order, with its error code; the encoder refuses the same", () => {
  const good = unhex(UDP_V4 + "616263");
  const set = (i, v) => { const x = good.slice(); x[i] = v; return x; };
  assert.is(udpErrorOf(good), "ok");
  assert.is(udpErrorOf(good.subarray(0, 3)), "RECORD_TRUNCATED");
  assert.is(udpErrorOf(set(0, 1)), "RECORD_VERSION");
  assert.is(udpErrorOf(set(0, 3)), "RECORD_VERSION");
  assert.is(udpErrorOf(set(1, 3)), "BAD_FAMILY");
  assert.is(udpErrorOf(good.subarray(0, 19)), "RECORD_TRUNCATED");
  assert.is(udpErrorOf(set(3, 1)), "RESERVED_NONZERO");
  assert.is(udpErrorOf((() => { const x = good.slice(); x[4] = 0; x[5] = 0; return x; })()), "BAD_VALUE");
  assert.is(udpErrorOf((() => { const x = good.slice(); x[6] = 0; x[7] = 0; return x; })()), "BAD_VALUE");
  assert.is(udpErrorOf(set(8, 127)), "BAD_ADDRESS");
  assert.is(udpErrorOf(set(12, 224)), "BAD_ADDRESS");
  assert.is(udpErrorOf((() => { const x = good.slice(); x[16] = 0; x[17] = 0x10; x[18] = 0; x[19] = 1; return x; })()), "RECORD_TOO_LONG");
  assert.is(udpErrorOf(good.subarray(0, good.length - 1)), "RECORD_TRUNCATED");
  assert.is(udpErrorOf(new Uint8Array([...good, 0])), "RECORD_TRAILING_BYTES");
  const enc = (o) => { try { sid.encodeUdpFlow({ ...udpBase, ...o }); return "ok"; } catch (e) { return e.errorName; } };
  assert.is(enc({ localPort: 0 }), "BAD_VALUE");
  assert.is(enc({ remote: "127.0.0.1" }), "BAD_ADDRESS");
  assert.is(enc({ appState: new Uint8Array(1048577) }), "RECORD_TOO_LONG");
});

test("a state stream's records back to back: a TCP state record, then UDP flow records, each sized by its header", () => {
  const tcp = sid.encodeTcpState(base);
  const u1 = sid.encodeUdpFlow(udpBase);
  const u2 = sid.encodeUdpFlow({ ...udpBase, localPort: 6000, appState: new Uint8Array(0) });
  const all = new Uint8Array([...tcp, ...u1, ...u2]);
  const recs = sid.decodeStateRecords(all);
  assert.equal(recs.map((r) => r.kind), ["tcp", "udp", "udp"]);
  assert.is(recs[0].record.mss, 1448);
  assert.equal([recs[1].record.localPort, recs[2].record.localPort], [5002, 6000]);
  assert.equal(sid.decodeStateRecords(new Uint8Array(0)), []);
  const err = (b) => { try { sid.decodeStateRecords(b); return "ok"; } catch (e) { return e.errorName; } };
  assert.is(err(all.subarray(0, all.length - 1)), "RECORD_TRUNCATED", "the last record cut short");
  assert.is(err(new Uint8Array([...all, 2])), "RECORD_TRUNCATED", "a lone byte after the last record");
  assert.is(err(new Uint8Array([...all, 9, 1])), "RECORD_VERSION");
  assert.is(err(new Uint8Array([...u1.subarray(0, 1), 7, ...u1.subarray(2)])), "BAD_FAMILY");
  // Hostile streams: an error code, never a trap.
  for (let i = 0; i < 2000; i++) {
    const b = all.slice(0, rng.int(0, all.length));
    for (let k = rng.int(0, 3); k > 0 && b.length; k--) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
    const e = err(b);
    assert.ok(e === "ok" || ErrorCode[e] !== undefined, `a known error code, not ${e}`);
  }
});

test.run();
