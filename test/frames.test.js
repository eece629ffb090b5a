// SID's link-layer frames (docs/PROTOCOL.md 8.14), byte for byte as written
// by hand from the section: gratuitous ARP, the proxy-ARP reply, the ARP
// parser's classification and errors, and the Wake-up frame in IPv4 and IPv6
// with its checksums recomputed here independently (RFC 1071). Hostile
// frames give an error code or "not ARP", never a trap.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { Core, HandoverError } from "../dist/hosts/shared/core.js";
import { SidCodec } from "../dist/hosts/shared/sid.js";
import { ErrorCode } from "../dist/hosts/shared/registry.js";
import { hex, unhex } from "./_wasm.js";
import { Prng } from "../conformance/tools/prng.js";

const core = await Core.load(readFileSync(new URL("../build/handover.wasm", import.meta.url)));
const sid = new SidCodec(core);
const AGENT = unhex("02000000000a");
const NODE = unhex("02000000000b");
const ASKER = unhex("0200000000c1");

test("gratuitous ARP: broadcast request, sender = target = the address, target MAC zero, padded to 60", () => {
  const f = sid.gratuitousArp(AGENT, "198.18.20.100");
  assert.is(hex(f),
    "ffffffffffff" + "02000000000a" + "0806" + "0001" + "0800" + "06" + "04" + "0001" +
    "02000000000a" + "c6121464" + "000000000000" + "c6121464" + "00".repeat(18));
});

test("proxy-ARP reply: unicast to the asker, 'the address is at the agent'", () => {
  const f = sid.arpReply(AGENT, "198.18.20.100", ASKER, "198.18.20.1");
  assert.is(hex(f),
    "0200000000c1" + "02000000000a" + "0806" + "0001" + "0800" + "06" + "04" + "0002" +
    "02000000000a" + "c6121464" + "0200000000c1" + "c6121401" + "00".repeat(18));
  assert.throws(() => sid.arpReply(AGENT, "2001:db8::1", ASKER, "198.18.20.1"), /IPv4 addresses only/);
  assert.throws(() => sid.gratuitousArp(AGENT.subarray(0, 5), "198.18.20.1"), /6-byte Ethernet address/);
});

test("ARP parser: requests and replies decoded, other EtherTypes ignored, malformed ARP refused", () => {
  const req = unhex("ffffffffffff" + "0200000000c1" + "0806" + "0001" + "0800" + "06" + "04" + "0001" + "0200000000c1" + "c6121401" + "000000000000" + "c6121464");
  const r = sid.parseArp(req);
  assert.equal([r.op, hex(r.senderMac), r.senderIp, hex(r.targetMac), r.targetIp], ["request", "0200000000c1", "198.18.20.1", "000000000000", "198.18.20.100"]);
  assert.is(sid.parseArp(sid.arpReply(AGENT, "198.18.20.100", ASKER, "198.18.20.1")).op, "reply");
  const ipv4Frame = new Uint8Array(60);
  ipv4Frame.set([0x08, 0x00], 12);
  assert.is(sid.parseArp(ipv4Frame), null, "an IPv4 frame is not ARP");
  const err = (b) => { try { sid.parseArp(b); return "ok"; } catch (e) { assert.instance(e, HandoverError); return e.errorName; } };
  assert.is(err(req.subarray(0, 13)), "TRUNCATED");
  assert.is(err(req.subarray(0, 41)), "TRUNCATED");
  const bad = (off, v) => { const b = req.slice(); b[off] = v; return err(b); };
  assert.is(bad(15, 6), "BAD_VALUE", "hardware type 6");
  assert.is(bad(16, 0x86), "BAD_VALUE", "protocol type 0x8600");
  assert.is(bad(18, 8), "BAD_VALUE", "hardware length 8");
  assert.is(bad(19, 16), "BAD_VALUE", "protocol length 16");
  assert.is(bad(21, 3), "BAD_VALUE", "operation 3 (RARP)");
  const rng = new Prng(8);
  for (let i = 0; i < 2000; i++) {
    const b = rng.bytes(rng.int(0, 70));
    if (b.length > 13 && rng.chance(0.7)) b.set([0x08, 0x06], 12);
    const e = err(b);
    assert.ok(e === "ok" || e in ErrorCode, e);
  }
  assert.is(core.x.arp_parse(0x7ffffff0, 100), -ErrorCode.INVALID_ARGUMENT);
});

// RFC 1071, written here again (not the core's code).
function csum(bytes) {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i] << 8) | (bytes[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}
const concat = (...a) => { const o = new Uint8Array(a.reduce((n, x) => n + x.length, 0)); let at = 0; for (const x of a) { o.set(x, at); at += x.length; } return o; };
const be16 = (v) => new Uint8Array([v >> 8, v & 255]);

test("Wake-up frame, IPv4: Ethernet to the node's MAC, IPv4 DF TTL 64, UDP 4346 -> 4346, checksums right", () => {
  const payload = unhex("0116000100000000000000000000000000000001");
  const f = sid.wakeupFrame({ dstMac: NODE, srcMac: AGENT, src: "198.18.20.2", dst: "198.18.20.100", srcPort: 4346, dstPort: 4346, ipId: 0x1234, payload });
  assert.is(f.length, 14 + 20 + 8 + payload.length);
  assert.is(hex(f.subarray(0, 14)), "02000000000b" + "02000000000a" + "0800");
  const ip = f.subarray(14, 34);
  assert.is(hex(ip.subarray(0, 10)), "45" + "00" + "0030" + "1234" + "4000" + "40" + "11");
  assert.is(hex(ip.subarray(12, 20)), "c6121402" + "c6121464");
  assert.is(csum(ip), 0, "the IPv4 header checksum verifies");
  const udp = f.subarray(34);
  assert.is(hex(udp.subarray(0, 6)), "10fa" + "10fa" + "001c");
  assert.is(hex(udp.subarray(8)), hex(payload));
  const pseudo = concat(ip.subarray(12, 20), new Uint8Array([0, 17]), be16(udp.length));
  assert.is(csum(concat(pseudo, udp)), 0, "the UDP checksum verifies over the pseudo-header");
});

test("Wake-up frame, IPv6 (odd payload length): hop limit 64, UDP checksum right and never zero", () => {
  const payload = unhex("01160001aabbccddeeff00000000000000000000000001ff");
  const f = sid.wakeupFrame({ dstMac: NODE, srcMac: AGENT, src: "2001:db8:20::2", dst: "2001:db8:20::100", srcPort: 4346, dstPort: 5000, ipId: 0, payload });
  assert.is(hex(f.subarray(12, 14)), "86dd");
  const ip = f.subarray(14, 54);
  assert.is(hex(ip.subarray(0, 8)), "60000000" + "0020" + "11" + "40");
  assert.is(hex(ip.subarray(8, 24)), "20010db8002000000000000000000002");
  assert.is(hex(ip.subarray(24, 40)), "20010db8002000000000000000000100");
  const udp = f.subarray(54);
  assert.is(hex(udp.subarray(0, 6)), "10fa" + "1388" + "0020");
  assert.ok(udp[6] !== 0 || udp[7] !== 0);
  const pseudo = concat(ip.subarray(8, 40), be16(0), be16(udp.length), new Uint8Array([0, 0, 0, 17]));
  assert.is(csum(concat(pseudo, udp)), 0);
});

test("Wake-up frame refuses bad addresses and ports, and a payload that does not fit", () => {
  const base = { dstMac: NODE, srcMac: AGENT, src: "198.18.20.2", dst: "198.18.20.100", srcPort: 4346, dstPort: 4346, ipId: 1, payload: new Uint8Array(4) };
  const err = (w) => { try { sid.wakeupFrame({ ...base, ...w }); return "ok"; } catch (e) { return e.errorName ?? e.message; } };
  assert.is(err({ dst: "224.0.0.1" }), "BAD_ADDRESS");
  assert.is(err({ src: "0.0.0.0" }), "BAD_ADDRESS");
  assert.is(err({ dst: "2001:db8::1" }), "BAD_ADDRESS");
  assert.is(err({ srcPort: 0 }), "BAD_VALUE");
  assert.is(err({ dstPort: 70000 }), "BAD_VALUE");
  const x = core.x;
  const p = core.inputPtr;
  core.mem().fill(0, p, p + 64);
  assert.is(x.wakeup_frame(p, p, 1, p, p, 1, 1, 0, p, 100, core.outputPtr, 50), -ErrorCode.BAD_ADDRESS, "addresses (0.0.0.0) checked before the size");
  assert.is(x.wakeup_frame(p, p, 3, p, p, 1, 1, 0, p, 0, core.outputPtr, 50), -ErrorCode.BAD_FAMILY);
  assert.is(x.wakeup_frame(p, p, 1, p, p, 1, 1, 0, p, -1, core.outputPtr, 50), -ErrorCode.INVALID_ARGUMENT);
  core.mem().set(unhex("c6121402c6121464"), p + 64);
  assert.is(x.wakeup_frame(p, p, 1, p + 64, p + 68, 1, 1, 0, p, 100, core.outputPtr, 50), -ErrorCode.BUFFER_TOO_SMALL);
});

test.run();
