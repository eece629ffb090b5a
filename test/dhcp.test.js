// The DHCPv4 session-address generator (docs/PROTOCOL.md 8.19): the codec
// against messages built here by hand from RFC 2131/2132 (a small server
// encoder), every malformed input's own error code and no trap on random and
// mutated input; the client state machine on a virtual clock against a
// server written here: acquire, two leases with two client identifiers,
// renew at T1, rebind at T2, expiry with the server gone, NAK, retransmission
// backoff, the reply checks (each fails when its check is removed), release,
// and the lease record that moves with a transfer.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { Core, HandoverError } from "../dist/hosts/shared/core.js";
import { DhcpCore } from "../dist/hosts/shared/dhcp.js";
import { ErrorCode } from "../dist/hosts/shared/registry.js";
import { hex, unhex } from "./_wasm.js";
import { Prng } from "../conformance/tools/prng.js";
import { reply, ip, u32, unframe } from "./_dhcp.js";

const WASM = readFileSync(new URL("../build/handover.wasm", import.meta.url));
const module = new WebAssembly.Module(WASM);
function fresh(seed = true) {
  const core = Core.loadSync(module);
  if (seed) core.seedRandom(new Uint8Array(32).fill(7));
  return new DhcpCore(core);
}
const MAC = unhex("02000000f001");
const MAC2 = unhex("02000000f002");
const SERVER = "198.18.9.1";

/** The one message a poll() should hold, decoded: from a frame (broadcast) or a UDP record. */
function sent(d, outs, kind = "frame") {
  const o = outs.filter((x) => x.kind === "frame" || x.kind === "udp");
  assert.is(o.length, 1, `one message sent, got ${JSON.stringify(outs.map((x) => x.kind))}`);
  assert.is(o[0].kind, kind);
  const payload = kind === "frame" ? unframe(o[0].frame) : o[0].payload;
  return { ...d.decode(payload), out: o[0] };
}

function codeOf(fn) {
  try { fn(); } catch (e) { if (e instanceof HandoverError) return e.code; throw e; }
  return 0;
}

// ---- codec -----------------------------------------------------------------

test("DISCOVER byte for byte: BOOTREQUEST, broadcast flag, options 53, 61, 55, 255, padded to 300", () => {
  const d = fresh();
  const cid = unhex("ff0102030400030001" + "02000000f001");
  const m = d.encode({ type: 1, xid: 0x11223344, secs: 3, broadcast: true, params: true, mac: MAC, clientId: cid });
  const want = new Uint8Array(300);
  want.set([1, 1, 6, 0, 0x11, 0x22, 0x33, 0x44, 0, 3, 0x80, 0]);
  want.set(MAC, 28);
  want.set([99, 130, 83, 99], 236);
  want.set([53, 1, 1, 61, 15, ...cid, 55, 5, 1, 3, 51, 58, 59, 255], 240);
  assert.is(hex(m), hex(want));
  const r = d.decode(m);
  assert.equal([r.type, r.xid, r.secs, r.flags, hex(r.clientId), r.params], ["discover", 0x11223344, 3, 0x8000, hex(cid), [1, 3, 51, 58, 59]]);
});

test("REQUEST (selecting), RELEASE and DECLINE carry 50 and 54 as RFC 2131 table 5 says", () => {
  const d = fresh();
  const cid = unhex("ff00000001");
  const rq = d.decode(d.encode({ type: 3, xid: 1, broadcast: true, params: true, requested: "198.18.9.50", serverId: SERVER, mac: MAC, clientId: cid }));
  assert.equal([rq.type, rq.requested, rq.serverId, rq.ciaddr], ["request", "198.18.9.50", SERVER, "0.0.0.0"]);
  const rl = d.decode(d.encode({ type: 7, xid: 2, ciaddr: "198.18.9.50", serverId: SERVER, mac: MAC, clientId: cid }));
  assert.equal([rl.type, rl.ciaddr, rl.serverId, rl.requested, rl.flags], ["release", "198.18.9.50", SERVER, undefined, 0]);
  const dc = d.decode(d.encode({ type: 4, xid: 3, requested: "198.18.9.50", serverId: SERVER, mac: MAC, clientId: cid }));
  assert.equal([dc.type, dc.requested, dc.ciaddr], ["decline", "198.18.9.50", "0.0.0.0"]);
  assert.is(codeOf(() => d.encode({ type: 2, xid: 1, mac: MAC, clientId: cid })), ErrorCode.BAD_VALUE, "a client does not send OFFER");
  assert.is(codeOf(() => d.encode({ type: 1, xid: 1, mac: MAC, clientId: unhex("01") })), ErrorCode.BAD_VALUE, "client id under 2 bytes");
});

test("OFFER decoded: yiaddr, 54, 51, 58, 59, 1, 3 (first router), echoed 61; T1/T2 default to 1/2 and 7/8", () => {
  const d = fresh();
  const m = reply({ type: 2, xid: 9, yiaddr: "198.18.9.77", lease: 3600, t1: 100, t2: 200, mask: "255.255.255.0", router: "198.18.9.1", clientId: [0xff, 1, 2] ,
    extra: [3, 8, 198, 18, 9, 1, 198, 18, 9, 2] });
  const r = d.decode(m);
  assert.equal([r.type, r.yiaddr, r.serverId, r.lease, r.t1, r.t2, r.mask, r.router, hex(r.clientId)],
    ["offer", "198.18.9.77", SERVER, 3600, 100, 200, "255.255.255.0", "198.18.9.1", "ff0102"]);
  // RFC 3396: a repeated variable option concatenates
  const split = reply({ type: 5, xid: 9, yiaddr: "198.18.9.77", lease: 60, clientId: [0xff, 1], extra: [61, 2, 3, 4] });
  assert.is(hex(d.decode(split).clientId), "ff010304");
  // the options may continue in the file field (option 52 = 1)
  const ov = reply({ type: 2, xid: 9, yiaddr: "198.18.9.77", server: null, extra: [52, 1, 1] });
  ov.set([54, 4, ...ip(SERVER), 51, 4, 0, 0, 0, 120, 255], 108);
  const r2 = d.decode(ov);
  assert.equal([r2.serverId, r2.lease], [SERVER, 120]);
});

test("every malformed message has its own error code", () => {
  const d = fresh();
  const ok = reply({ type: 2, xid: 1, yiaddr: "198.18.9.77", lease: 600 });
  d.decode(ok);
  const mut = (f) => { const b = ok.slice(); f(b); return b; };
  const cases = [
    ["TRUNCATED", ok.slice(0, 239)],
    ["DHCP_BAD_HEADER", mut((b) => { b[0] = 3; })],
    ["DHCP_BAD_HEADER", mut((b) => { b[2] = 7; })],
    ["DHCP_BAD_HEADER", mut((b) => { b[1] = 6; b[2] = 17; })],
    ["DHCP_BAD_COOKIE", mut((b) => { b[239] = 0x62; })],
    ["DHCP_OPTION_OVERRUN", ok.slice(0, 240 + 3 + 3)],
    ["DHCP_OPTION_OVERRUN", reply({ type: 2, xid: 1, yiaddr: "198.18.9.77", lease: 600, extra: [61] }).slice(0, -1)],
    ["DHCP_NO_END", ok.slice(0, ok.length - 1)],
    ["DHCP_BAD_OPTION_LENGTH", reply({ type: 2, xid: 1, yiaddr: "198.18.9.77", lease: 600, extra: [51, 2, 0, 1] })],
    ["DHCP_BAD_OPTION_LENGTH", reply({ type: 2, xid: 1, yiaddr: "198.18.9.77", lease: 600, extra: [54, 4, 1, 2, 3, 4] })],
    ["DHCP_BAD_OPTION_LENGTH", reply({ type: 2, xid: 1, yiaddr: "198.18.9.77", lease: 600, extra: [3, 3, 1, 2, 3] })],
    ["DHCP_BAD_OPTION_LENGTH", mut((b) => { b[241] = 2; })],
    ["DHCP_MISSING_TYPE", mut((b) => { b[240] = 0; b[241] = 0; b[242] = 0; })],
    ["DHCP_BAD_TYPE", mut((b) => { b[242] = 9; })],
    ["DHCP_BAD_TYPE", mut((b) => { b[242] = 0; })],
    ["DHCP_BAD_OVERLOAD", reply({ type: 2, xid: 1, yiaddr: "198.18.9.77", lease: 600, extra: [52, 1, 4] })],
    ["DHCP_NO_END", reply({ type: 2, xid: 1, yiaddr: "198.18.9.77", lease: 600, extra: [52, 1, 2] })],
    ["DHCP_MISSING_OPTION", reply({ type: 2, xid: 1, yiaddr: "198.18.9.77" })],
    ["DHCP_MISSING_OPTION", reply({ type: 5, xid: 1, yiaddr: "198.18.9.77", server: null, lease: 60 })],
    ["DHCP_MISSING_OPTION", reply({ type: 6, xid: 1, server: null })],
    ["DHCP_BAD_LEASE", reply({ type: 2, xid: 1, yiaddr: "0.0.0.0", lease: 600 })],
    ["DHCP_BAD_LEASE", reply({ type: 5, xid: 1, yiaddr: "224.0.0.1", lease: 600 })],
    ["DHCP_BAD_LEASE", reply({ type: 5, xid: 1, yiaddr: "198.18.9.77", lease: 600, t1: 500, t2: 400 })],
    ["DHCP_BAD_LEASE", reply({ type: 5, xid: 1, yiaddr: "198.18.9.77", lease: 600, t2: 601 })],
  ];
  for (const [name, bytes] of cases) assert.is(codeOf(() => d.decode(bytes)), ErrorCode[name], `${name}: ${hex(bytes.subarray(236))}`);
});

test("random and mutated messages never trap: a type or a registry error code", () => {
  const d = fresh();
  const prng = new Prng(0xd4c9);
  const codes = new Set(Object.values(ErrorCode));
  const base = reply({ type: 5, xid: 1, yiaddr: "198.18.9.77", lease: 600, t1: 100, t2: 200, mask: "255.255.255.0", clientId: [0xff, 1, 2, 3], extra: [52, 1, 3] });
  const seen = new Set();
  for (let i = 0; i < 4000; i++) {
    let b;
    if (i % 4 === 0) b = prng.bytes(prng.int(0, 600));
    else {
      b = base.slice(0, prng.int(200, base.length + 1));
      for (let k = prng.int(1, 6); k > 0; k--) if (b.length) b[prng.int(0, b.length)] = prng.u32() & 255;
    }
    const r = d.core.x.dhcp_decode(d.core.put(b), b.length, d.core.outputPtr);
    assert.ok((r >= 1 && r <= 8) || codes.has(-r), `returned ${r}`);
    const h = d.handleCode(0, b);
    assert.ok(codes.has(-h) || h >= 0, `handle returned ${h}`);
    seen.add(r);
  }
  assert.ok(seen.size > 5, `several outcomes: ${[...seen]}`);
});

// ---- client state machine ----------------------------------------------------

/** Acquires a lease for a new client: DISCOVER -> OFFER -> REQUEST -> ACK. */
function acquire(d, now, { mac = MAC, yiaddr = "198.18.9.50", lease = 600, t1, t2 } = {}) {
  const slot = d.newClient(mac);
  d.start(now, slot);
  const disc = sent(d, d.poll());
  assert.is(disc.type, "discover");
  assert.is(disc.flags, 0x8000, "broadcast flag: no unicast before the address is configured");
  d.handle(now + 5, reply({ type: 2, xid: disc.xid, yiaddr, lease, t1, t2, chaddr: mac, clientId: [...disc.clientId] }));
  const req = sent(d, d.poll());
  assert.equal([req.type, req.xid, req.requested, req.serverId, req.ciaddr], ["request", disc.xid, yiaddr, SERVER, "0.0.0.0"]);
  assert.is(hex(req.clientId), hex(disc.clientId));
  d.handle(now + 10, reply({ type: 5, xid: req.xid, yiaddr, lease, t1, t2, mask: "255.255.255.0", router: "198.18.9.1", chaddr: mac, clientId: [...disc.clientId] }));
  const ev = d.poll();
  assert.equal(ev.map((e) => e.kind), ["bound"]);
  return { slot, clientId: disc.clientId, ev: ev[0] };
}

test("acquire: bound with the lease, mask and router; times run from the REQUEST", () => {
  const d = fresh();
  const { slot, ev, clientId } = acquire(d, 1000, { lease: 600, t1: 100, t2: 500 });
  assert.equal(ev, { kind: "bound", slot, address: "198.18.9.50", mask: "255.255.255.0", router: "198.18.9.1", server: SERVER, lease: 600, t1: 100, t2: 500 });
  const i = d.info(slot);
  assert.equal([i.state, i.address, i.t1At, i.t2At, i.expiresAt], ["bound", "198.18.9.50", 1005 + 100e3, 1005 + 500e3, 1005 + 600e3]);
  assert.is(clientId.length, 15);
  assert.is(clientId[0], 255, "RFC 4361 client identifier");
  assert.is(hex(clientId.subarray(5)), "00030001" + hex(MAC), "DUID-LL of the interface");
  assert.is(d.nextTimeout(), 1005 + 100e3);
});

test("two session addresses on one device: two client identifiers, two leases", () => {
  const d = fresh();
  const a = acquire(d, 0, { yiaddr: "198.18.9.50" });
  const b = acquire(d, 0, { yiaddr: "198.18.9.51" });
  assert.is.not(a.slot, b.slot);
  assert.is.not(hex(a.clientId), hex(b.clientId));
  assert.is(hex(a.clientId.subarray(5)), hex(b.clientId.subarray(5)), "same interface");
  assert.equal([d.info(a.slot).address, d.info(b.slot).address], ["198.18.9.50", "198.18.9.51"]);
});

test("renew at T1: unicast REQUEST from the leased address to the server, ciaddr set, no 50/54; ACK extends", () => {
  const d = fresh();
  const { slot, clientId } = acquire(d, 0, { lease: 120, t1: 10, t2: 100 });
  d.tick(5 + 9999);
  assert.equal(d.poll(), [], "nothing before T1");
  d.tick(5 + 10000);
  const r = sent(d, d.poll(), "udp");
  assert.equal([r.out.src, r.out.dst, r.type, r.ciaddr, r.requested, r.serverId, r.flags, hex(r.clientId)],
    ["198.18.9.50", SERVER, "request", "198.18.9.50", undefined, undefined, 0, hex(clientId)]);
  assert.is(d.state(slot), "renewing");
  d.handle(10100, reply({ type: 5, xid: r.xid, yiaddr: "198.18.9.50", lease: 120, t1: 10, t2: 100, clientId: [...clientId] }));
  assert.equal(d.poll().map((e) => [e.kind, e.address]), [["renewed", "198.18.9.50"]]);
  const i = d.info(slot);
  assert.equal([i.state, i.t1At, i.expiresAt], ["bound", 20005, 130005], "measured from the renewal's REQUEST");
});

test("server gone: RENEWING retransmits, REBINDING broadcasts from the address at T2, lost at expiry", () => {
  const d = fresh();
  const { slot } = acquire(d, 0, { lease: 600, t1: 300, t2: 525 });
  let now = 5 + 300e3;
  d.tick(now);
  sent(d, d.poll(), "udp");
  const next = d.nextTimeout();
  assert.is(next, now + 112500, "half the time to T2 (RFC 2131 4.4.5)");
  d.tick(next);
  assert.is(sent(d, d.poll(), "udp").out.dst, SERVER);
  assert.is(d.nextTimeout(), next + 60e3, "60 s minimum");
  d.tick(next + 60e3);
  assert.is(sent(d, d.poll(), "udp").out.dst, SERVER);
  assert.is(d.nextTimeout(), 5 + 525e3, "capped at T2");
  d.tick(5 + 525e3);
  const rb = sent(d, d.poll(), "udp");
  assert.equal([rb.out.src, rb.out.dst, rb.ciaddr, d.state(slot)], ["198.18.9.50", "255.255.255.255", "198.18.9.50", "rebinding"]);
  assert.is(d.nextTimeout(), 5 + 585e3, "60 s minimum");
  d.tick(5 + 585e3);
  assert.is(sent(d, d.poll(), "udp").out.dst, "255.255.255.255");
  assert.is(d.nextTimeout(), 5 + 600e3, "capped at expiry");
  d.tick(5 + 600e3);
  assert.equal(d.poll(), [{ kind: "lost", slot, reason: "expired", address: "198.18.9.50" }]);
  assert.is(d.state(slot), "lost");
  assert.is(d.nextTimeout(), undefined);
  // any server may answer a rebinding REQUEST: an ACK from another server keeps the lease
  const d2 = fresh();
  const b = acquire(d2, 0, { lease: 600, t1: 300, t2: 525 });
  d2.tick(5 + 525e3);
  const rq = sent(d2, d2.poll(), "udp");
  d2.handle(5 + 526e3, reply({ type: 5, xid: rq.xid, yiaddr: "198.18.9.50", lease: 600, server: "198.18.9.2", clientId: [...b.clientId] }));
  assert.equal(d2.poll().map((e) => [e.kind, e.server]), [["renewed", "198.18.9.2"]]);
});

test("NAK: in RENEWING the lease is lost at once; in REQUESTING the client starts over with a new xid", () => {
  const d = fresh();
  const { slot, clientId } = acquire(d, 0, { lease: 120, t1: 10, t2: 100 });
  d.tick(10005);
  const r = sent(d, d.poll(), "udp");
  d.handle(10010, reply({ type: 6, xid: r.xid, clientId: [...clientId] }));
  assert.equal(d.poll(), [{ kind: "lost", slot, reason: "nak", address: "198.18.9.50" }]);
  assert.is(d.state(slot), "lost");

  const s = d.newClient(MAC2);
  d.start(0, s);
  const disc = sent(d, d.poll());
  d.handle(1, reply({ type: 2, xid: disc.xid, yiaddr: "198.18.9.60", lease: 600, chaddr: MAC2 }));
  sent(d, d.poll());
  d.handle(2, reply({ type: 6, xid: disc.xid, chaddr: MAC2 }));
  const again = sent(d, d.poll());
  assert.is(again.type, "discover");
  assert.is.not(again.xid, disc.xid);
  assert.is(d.state(s), "selecting");
});

test("retransmission: 4 s doubling, +-1 s at random (RFC 2131 4.1); no OFFER after 4 tries -> lost, no-answer", () => {
  const d = fresh();
  const s = d.newClient(MAC);
  let now = 0;
  d.start(now, s);
  const first = sent(d, d.poll());
  const waits = [];
  for (let k = 0; k < 3; k++) {
    const t = d.nextTimeout();
    waits.push(t - now);
    now = t;
    d.tick(now);
    const m = sent(d, d.poll());
    assert.equal([m.type, m.xid], ["discover", first.xid]);
    assert.is(m.secs, Math.floor(now / 1000), "secs since the start");
  }
  [4000, 8000, 16000].forEach((b, i) => assert.ok(waits[i] >= b - 1000 && waits[i] <= b + 1000, `wait ${i}: ${waits[i]}`));
  now = d.nextTimeout();
  assert.ok(now - waits.reduce((a, b) => a + b, 0) >= 31000);
  d.tick(now);
  assert.equal(d.poll(), [{ kind: "lost", slot: s, reason: "no-answer", address: "0.0.0.0" }]);
  // a later start tries again
  d.start(now, s);
  assert.is(sent(d, d.poll()).type, "discover");
});

test("replies for another transaction, interface, client or server are refused and change nothing (each check)", () => {
  const d = fresh();
  const a = acquire(d, 0, { yiaddr: "198.18.9.50" });
  const s = d.newClient(MAC);
  d.start(0, s);
  const disc = sent(d, d.poll());
  const U = ErrorCode.DHCP_UNMATCHED;
  const offer = (o) => reply({ type: 2, xid: disc.xid, yiaddr: "198.18.9.61", lease: 600, ...o });
  assert.is(-d.handleCode(1, offer({ xid: disc.xid ^ 1 })), U, "xid");
  assert.is(-d.handleCode(1, offer({ chaddr: MAC2 })), U, "chaddr");
  assert.is(-d.handleCode(1, offer({ clientId: [...a.clientId] })), U, "another client's identifier");
  const asReq = offer({}); asReq[0] = 1;
  assert.is(-d.handleCode(1, asReq), U, "a BOOTREQUEST");
  assert.is(-d.handleCode(1, reply({ type: 5, xid: disc.xid, yiaddr: "198.18.9.61", lease: 600 })), U, "an ACK while selecting");
  assert.equal([d.state(s), d.poll()], ["selecting", []]);
  d.handle(1, offer({ clientId: [...disc.clientId] }));
  sent(d, d.poll());
  assert.is(-d.handleCode(2, reply({ type: 5, xid: disc.xid, yiaddr: "198.18.9.61", lease: 600, server: "198.18.9.2" })), U, "ACK from a server not chosen");
  assert.is(-d.handleCode(2, reply({ type: 6, xid: disc.xid, server: "198.18.9.2" })), U, "NAK from a server not chosen");
  assert.is(-d.handleCode(2, reply({ type: 5, xid: disc.xid, yiaddr: "198.18.9.62", lease: 600 })), U, "ACK of another address");
  assert.is(-d.handleCode(2, offer({})), U, "a second OFFER while requesting");
  assert.equal([d.state(s), d.poll()], ["requesting", []]);
  d.free(s);
  // bound: a late duplicate ACK is not a renewal
  assert.is(-d.handleCode(3, reply({ type: 5, xid: d.info(a.slot).xid, yiaddr: "198.18.9.50", lease: 600 })), U, "ACK while bound");
  // renewing: only the lease's server, only the lease's address
  d.tick(300005);
  const rn = sent(d, d.poll(), "udp");
  assert.is(-d.handleCode(4, reply({ type: 5, xid: rn.xid, yiaddr: "198.18.9.50", lease: 600, server: "198.18.9.2" })), U, "renewal ACK from another server");
  assert.is(-d.handleCode(4, reply({ type: 6, xid: rn.xid, server: "198.18.9.2" })), U, "renewal NAK from another server");
  assert.is(-d.handleCode(4, reply({ type: 5, xid: rn.xid, yiaddr: "198.18.9.99", lease: 600 })), U, "renewal ACK of another address");
  assert.equal([d.state(a.slot), d.poll()], ["renewing", []]);
});

test("release: DHCPRELEASE unicast from the address to the server with 54, then the client is gone", () => {
  const d = fresh();
  const { slot, clientId } = acquire(d, 0);
  d.release(20000, slot);
  const outs = d.poll();
  const r = sent(d, outs, "udp");
  assert.equal([r.type, r.out.src, r.out.dst, r.ciaddr, r.serverId, hex(r.clientId)], ["release", "198.18.9.50", SERVER, "198.18.9.50", SERVER, hex(clientId)]);
  assert.equal(outs.filter((o) => o.kind === "released").map((o) => o.address), ["198.18.9.50"]);
  assert.is(d.state(slot), "free");
  assert.is(d.nextTimeout(), undefined);
});

test("decline: DHCPDECLINE broadcast from 0.0.0.0 with 50 and 54; DISCOVER again after 10 s", () => {
  const d = fresh();
  const { slot } = acquire(d, 0);
  d.decline(100, slot);
  const m = sent(d, d.poll());
  assert.equal([m.type, m.requested, m.serverId, m.ciaddr], ["decline", "198.18.9.50", SERVER, "0.0.0.0"]);
  assert.is(d.nextTimeout(), 10100);
  d.tick(10100);
  assert.is(sent(d, d.poll()).type, "discover");
});

test("lease record: the target takes the lease over, renews it with the same client id from its own interface", () => {
  const a = fresh();
  const { slot, clientId } = acquire(a, 0, { lease: 600, t1: 300, t2: 525 });
  const rec = a.exportLease(100005, slot);
  assert.is(rec.length, 2 + 15 + 32);
  assert.is(hex(rec.subarray(0, 2)), "010f");
  assert.is(hex(rec.subarray(17)), "c6120932" + "ffffff00" + "c6120901" + "c6120901" + "00000258" + u32(200e3).map((x) => x.toString(16).padStart(2, "0")).join("") +
    hex(new Uint8Array(u32(425e3))) + hex(new Uint8Array(u32(500e3))));
  a.free(slot);
  assert.is(a.nextTimeout(), undefined, "the source neither renews nor releases");

  const b = fresh();
  const t = b.importLease(7000, MAC2, rec);
  const i = b.info(t);
  assert.equal([i.state, i.address, i.server, hex(i.clientId), i.t1At, i.expiresAt], ["bound", "198.18.9.50", SERVER, hex(clientId), 207000, 507000]);
  b.tick(207000);
  const r = sent(b, b.poll(), "udp");
  assert.equal([r.type, r.out.src, hex(r.clientId), hex(r.chaddr)], ["request", "198.18.9.50", hex(clientId), hex(MAC2)]);
  b.handle(207010, reply({ type: 5, xid: r.xid, yiaddr: "198.18.9.50", lease: 600, chaddr: MAC2, clientId: [...clientId] }));
  assert.equal(b.poll().map((e) => e.kind), ["renewed"]);
  b.release(300000, t);
  assert.is(sent(b, b.poll(), "udp").type, "release", "the last holder releases");

  const bad = (f) => { const x = rec.slice(); f(x); return x; };
  const C = (r) => codeOf(() => fresh().importLease(0, MAC2, r));
  assert.is(C(rec.slice(0, 1)), ErrorCode.RECORD_TRUNCATED);
  assert.is(C(rec.slice(0, 40)), ErrorCode.RECORD_TRUNCATED);
  assert.is(C(new Uint8Array([...rec, 0])), ErrorCode.RECORD_TRAILING_BYTES);
  assert.is(C(bad((x) => { x[0] = 2; })), ErrorCode.RECORD_VERSION);
  assert.is(C(bad((x) => { x[1] = 1; })), ErrorCode.BAD_VALUE);
  assert.is(C(bad((x) => { x[17] = 0; })), ErrorCode.BAD_ADDRESS);
  assert.is(C(bad((x) => { x.set([224, 0, 0, 1], 29); })), ErrorCode.BAD_ADDRESS);
  assert.is(C(bad((x) => { x.set(u32(500e3 + 1), 41); })), ErrorCode.DHCP_BAD_LEASE, "T2 after expiry");
  assert.is(C(bad((x) => { x.set(u32(425e3 + 1), 37); })), ErrorCode.DHCP_BAD_LEASE, "T1 after T2");
  assert.is(codeOf(() => fresh(false).importLease(0, MAC2, rec)), ErrorCode.NOT_SEEDED);
  // an expired record is taken and lost at the next tick: a defined state
  const e = fresh();
  const s = e.importLease(0, MAC2, bad((x) => { x.set(u32(0), 37); x.set(u32(0), 41); x.set(u32(0), 45); }));
  e.tick(0);
  assert.equal(e.poll(), [{ kind: "lost", slot: s, reason: "expired", address: "198.18.9.50" }]);
});

test("no client before the generator is seeded; bad slots and pointers are errors, not traps", () => {
  const d = fresh(false);
  assert.is(codeOf(() => d.newClient(MAC)), ErrorCode.NOT_SEEDED);
  const x = d.core.x;
  assert.is(x.dhcp_client_start(0, 999), -ErrorCode.INVALID_ARGUMENT);
  assert.is(x.dhcp_release(0, -1), -ErrorCode.INVALID_ARGUMENT);
  assert.is(x.dhcp_handle(0, 0x7ffffff0, 100), -ErrorCode.INVALID_ARGUMENT);
  assert.is(x.dhcp_poll(0x7ffffff0, 100), -ErrorCode.INVALID_ARGUMENT);
  assert.is(x.dhcp_lease_export(0, 3, d.core.outputPtr, 100), -ErrorCode.INVALID_ARGUMENT);
});

test.run();
