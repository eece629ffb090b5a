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

test.run();
