// The SID tunnel's identifiers and kernel requests (docs/PROTOCOL.md 8.9)
// without a kernel: the derivation against node:crypto's HKDF, and the
// builders' refusals of out-of-range arguments (the kernel test,
// test/e2e/vxlan.test.js, checks what the requests do).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { hkdfSync } from "node:crypto";
import { Core } from "../dist/hosts/shared/core.js";
import { SidCodec } from "../dist/hosts/shared/sid.js";
import { ErrorCode } from "../dist/hosts/shared/registry.js";
import { hex } from "./_wasm.js";
import { Prng } from "../conformance/tools/prng.js";

const core = await Core.load(readFileSync(new URL("../build/handover.wasm", import.meta.url)));
const sid = new SidCodec(core);

test("VNI, MACs and device name from HKDF-SHA256(session key, 'handover tunnel/1')", () => {
  const rng = new Prng(42);
  for (let i = 0; i < 200; i++) {
    const key = rng.bytes(32);
    const t = new Uint8Array(hkdfSync("sha256", key, new Uint8Array(0), new TextEncoder().encode("handover tunnel/1"), 8));
    const ids = sid.tunnelIds(key);
    const vni = (t[0] << 16) | (t[1] << 8) | t[2];
    assert.is(ids.vni, vni);
    assert.is(hex(ids.agentMac), "02" + hex(t.subarray(3, 8)));
    assert.is(hex(ids.targetMac), "06" + hex(t.subarray(3, 8)));
    assert.is(ids.name, "hov" + vni.toString(16).padStart(6, "0"));
  }
  assert.throws(() => sid.tunnelIds(new Uint8Array(31)), /32 bytes/);
});

test("kernel requests: out-of-range arguments are INVALID_ARGUMENT, never a trap", () => {
  const mac = new Uint8Array([2, 0, 0, 0, 0, 1]);
  const link = { add: true, name: "hov000001", mac, mtu: 1450, vni: 1, local: "198.18.30.1", port: 4789 };
  const code = (f) => { try { f(); return "ok"; } catch (e) { return e.errorName ?? e.message; } };
  assert.is(code(() => sid.vxlanLink(link)), "ok");
  assert.is(code(() => sid.vxlanLink({ ...link, vni: 1 << 24 })), "INVALID_ARGUMENT");
  assert.is(code(() => sid.vxlanLink({ ...link, port: 0 })), "INVALID_ARGUMENT");
  assert.is(code(() => sid.vxlanLink({ ...link, name: "" })), "INVALID_ARGUMENT");
  assert.is(code(() => sid.vxlanLink({ ...link, name: "a-name-of-16-chr" })), "INVALID_ARGUMENT");
  assert.is(code(() => sid.tunnelRoute({ add: true, dst: "198.18.20.100", prefix: 33, ifindex: 5, table: 254 })), "INVALID_ARGUMENT");
  assert.is(code(() => sid.tunnelRoute({ add: true, dst: "2001:db8::1", prefix: 128, ifindex: 5, table: 0 })), "INVALID_ARGUMENT");
  assert.is(code(() => sid.tunnelRoute({ add: true, dst: "2001:db8::1", prefix: 128, ifindex: 5, gateway: "198.18.0.1", table: 9 })), "BAD_ADDRESS");
  assert.is(code(() => sid.sourceRule({ add: true, src: "198.18.20.100", prefix: 40, table: 4346, priority: 1 })), "INVALID_ARGUMENT");
  const x = core.x;
  assert.is(x.sid_fdb(1, 1, 0x7ffffff0, 1, 0), -ErrorCode.INVALID_ARGUMENT);
  assert.is(x.sid_neigh(1, 1, 3, core.inputPtr, core.inputPtr), -ErrorCode.INVALID_ARGUMENT, "family 3");
  assert.is(x.sid_tunnel_ids(0x7ffffff0, core.outputPtr), -ErrorCode.INVALID_ARGUMENT);
  // Well-formed netlink: the length field equals the message's length, attributes 4-aligned.
  const m = sid.vxlanLink(link);
  assert.is(new DataView(m.buffer).getUint32(0, true), m.length);
  assert.is(m.length % 4, 0);
});


test("userspace encapsulation: VXLAN header, inner Ethernet, the packet; every refusal of the receiving end", async () => {
  const { unhex } = await import("./_wasm.js");
  const inner = unhex("45000054abcd40004001" + "0000" + "c6121e01" + "c6121464" + "0800f7ff00000000");
  const agent = unhex("020102030405"), target = unhex("060102030405");
  const p = sid.encapsulate(0x1a2b3c, target, agent, inner);
  assert.is(hex(p.subarray(0, 22)), "08000000" + "1a2b3c00" + "060102030405" + "020102030405" + "0800");
  assert.is(hex(p.subarray(22)), hex(inner));
  const b = { vni: 0x1a2b3c, ownMac: target, innerDestination: "198.18.20.100" };
  assert.is(hex(sid.decapsulate(p, b)), hex(inner));
  assert.is(hex(sid.decapsulate(p, { vni: 0x1a2b3c, ownMac: target })), hex(inner), "without an address check");
  assert.is(hex(sid.decapsulate(p, { vni: 0x1a2b3c, ownMac: target, innerSource: "198.18.30.1" })), hex(inner));
  const err = (bytes, bb = b) => { try { sid.decapsulate(bytes, bb); return "ok"; } catch (e) { return e.errorName ?? e.message; } };
  const mut = (off, v) => { const q = p.slice(); q[off] = v; return q; };
  assert.is(err(p.subarray(0, 21)), "TRUNCATED");
  assert.is(err(p.subarray(0, 22 + 19)), "TRUNCATED", "inner IPv4 header cut");
  assert.is(err(mut(0, 0x0c)), "BAD_VALUE", "another flag with I");
  assert.is(err(mut(0, 0x00)), "BAD_VALUE", "I flag clear");
  assert.is(err(mut(3, 1)), "RESERVED_NONZERO");
  assert.is(err(mut(7, 1)), "RESERVED_NONZERO");
  assert.is(err(mut(0, 0x00)), "BAD_VALUE");
  assert.is(err(mut(6, 0x3d)), "TUNNEL_MISMATCH", "another VNI");
  assert.is(err(mut(8, 0x02)), "TUNNEL_MISMATCH", "another destination MAC");
  assert.is(err(mut(21, 0x06)), "BAD_VALUE", "EtherType ARP");
  assert.is(err(mut(22, 0x65)), "BAD_VALUE", "IPv6 version under an IPv4 EtherType");
  assert.is(err(p, { ...b, innerDestination: "198.18.20.101" }), "TUNNEL_MISMATCH", "inner destination not the transferred address");
  assert.is(err(p, { vni: 0x1a2b3c, ownMac: target, innerSource: "198.18.20.100" }), "TUNNEL_MISMATCH", "inner source not the transferred address");
  assert.is(err(mut(3, 1)), "RESERVED_NONZERO");
  let code = "ok";
  try { sid.encapsulate(1 << 24, target, agent, inner); } catch (e) { code = e.errorName; }
  assert.is(code, "BAD_VALUE");
  try { sid.encapsulate(1, target, agent, unhex("00")); } catch (e) { code = e.errorName + "2"; }
  assert.is(code, "BAD_VALUE2", "not an IP packet");
  const rng = new Prng(9);
  for (let i = 0; i < 2000; i++) {
    const q = p.slice(0, rng.int(0, p.length));
    for (let j = 0; j < 3; j++) if (q.length) q[rng.int(0, q.length - 1)] = rng.int(0, 255);
    const e = err(q);
    assert.ok(e === "ok" || e in ErrorCode, e);
  }
});

test("the tunnel filter: nft text for the binding's VNI and peer, and its removal", () => {
  const shared = "add table inet hovtunnel\nadd map inet hovtunnel vni { typeof udp dport . @th,96,24 : verdict; }\n" +
    "add chain inet hovtunnel in { type filter hook input priority -200; policy accept; }\n" +
    "flush chain inet hovtunnel in\nadd rule inet hovtunnel in udp dport . @th,96,24 vmap @vni\n";
  assert.is(sid.tunnelFilter(true, "198.18.30.1", 4789, 0x1a2b3c), shared +
    "add chain inet hovtunnel v1a2b3c\nflush chain inet hovtunnel v1a2b3c\n" +
    "add rule inet hovtunnel v1a2b3c ip saddr != 198.18.30.1 counter drop\n" +
    "add element inet hovtunnel vni { 4789 . 0x1a2b3c : jump v1a2b3c }\n");
  assert.match(sid.tunnelFilter(true, "2001:db8:30::1", 4790, 7), /\nadd rule inet hovtunnel v000007 ip6 saddr != 2001:db8:30::1 counter drop\nadd element inet hovtunnel vni \{ 4790 \. 0x000007 : jump v000007 \}\n$/);
  assert.is(sid.tunnelFilter(false, "198.18.30.1", 4789, 0x1a2b3c),
    "delete element inet hovtunnel vni { 4789 . 0x1a2b3c }\nflush chain inet hovtunnel v1a2b3c\ndelete chain inet hovtunnel v1a2b3c\n");
  // One hooked chain for every binding: the only base chain is the shared `in`.
  for (const vni of [1, 0xabcdef]) assert.equal(sid.tunnelFilter(true, "198.18.30.1", 4789, vni).match(/hook \w+/g), ["hook input"]);
  assert.throws(() => sid.tunnelFilter(true, "198.18.30.1", 4789, 1 << 24), /INVALID_ARGUMENT|out of range/);
  assert.is(core.x.sid_tunnel_filter(1, 1, core.inputPtr, 4789, 1, core.outputPtr, 20), -ErrorCode.BUFFER_TOO_SMALL);
});

test("the agent's reverse-path filter: one base chain, the binding's chain reached through the device's index", () => {
  const add = sid.reversePathRule(true, 0x1a2b3c, 0x40000000 + 0x1a2b3c, "198.18.1.10");
  assert.is(add, "add table inet hovsid\nadd map inet hovsid rpif { typeof meta iif : verdict; }\n" +
    "add chain inet hovsid rp { type filter hook prerouting priority -200; policy accept; }\n" +
    "flush chain inet hovsid rp\nadd rule inet hovsid rp meta iif vmap @rpif\n" +
    "add chain inet hovsid rp1a2b3c\nflush chain inet hovsid rp1a2b3c\nadd rule inet hovsid rp1a2b3c ip saddr != 198.18.1.10 drop\n" +
    `add element inet hovsid rpif { ${0x40000000 + 0x1a2b3c} : jump rp1a2b3c }\n`);
  assert.match(sid.reversePathRule(true, 7, 9, "2001:db8:1::10"), /rp000007 ip6 saddr != 2001:db8:1::10 drop\n/);
  assert.is(sid.reversePathRule(false, 7, 9, "198.18.1.10"),
    "delete element inet hovsid rpif { 9 }\nflush chain inet hovsid rp000007\ndelete chain inet hovsid rp000007\n");
  assert.throws(() => sid.reversePathRule(true, 1 << 24, 9, "198.18.1.10"));
});

test.run();
