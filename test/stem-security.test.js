// The fixed end's (non-migrator's) security checks, on the SIMULATED network
// (test/_sim.js): ownership of addresses (PROTOCOL.md 7.3, 7.4), the address
// test, per-peer limits, the 133 rate limit (6.4), the replay window order
// (6.3), path validation (7.5), and the seeded random generator. Each test
// fails when the check it names is taken out of the core.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { SimNet, PORT } from "./_sim.js";
import { Core, Engine, HandoverError } from "../dist/hosts/shared/index.js";

const KEY = new Uint8Array(32).fill(7);
const AUTH = { spi: 256, key: KEY };
const MODULE = new WebAssembly.Module(readFileSync(new URL("../build/handover.wasm", import.meta.url)));

/** A migrator m (198.18.0.2 configured at f, 198.18.1.2 spare) and a fixed end f. */
function pair(opts = {}) {
  const net = new SimNet(opts);
  const m = net.node("m.example", ["198.18.0.2", "198.18.1.2"]);
  const f = net.node("f.example", ["198.18.9.1"]);
  const mp = m.peer(f);
  const fp = f.peer(m);
  return { net, m, f, mp, fp };
}

/** Configures `who` at `target` with the given control address (not necessarily its primary). */
function configure(target, who, address) {
  const id = target.engine.addPeer(who.cookie, address, PORT);
  target.engine.addSa(id, { spi: 256, key: KEY });
  return id;
}

function hex32(n) {
  return (n >>> 0).toString(16).padStart(8, "0");
}

/** An NTP timestamp (Replay Protect ID, 6.4) for Unix ms. */
function ntp(ms) {
  return hex32(Math.floor(ms / 1000) + 2208988800) + hex32(((ms % 1000) / 1000) * 2 ** 32);
}

/**
 * Authenticated messages as `node` would send them (its cookie, the shared
 * key, fresh timestamps, sequence numbers following its own), for requests
 * its engine would never build.
 */
class Forger {
  constructor(net, node) {
    this.net = net;
    this.node = node;
    const mine = net.sent.filter((d) => d.from === node.name);
    this.seq = mine.length ? (mine.at(-1).data[2] << 8) | mine.at(-1).data[3] : 1000;
  }
  message(type, extensions) {
    this.seq = (this.seq + 1) & 0xffff;
    const msg = { type, flags: [], sequence: this.seq, cookie: this.node.cookie, replayId: ntp(this.node.clock()), extensions };
    return this.node.engine.core.encode(msg, AUTH);
  }
  migration(moves) {
    return this.message(
      "MIGRATION_REQUEST",
      moves.map(([oldAddress, newAddress, port = 0]) => ({ type: "MIGRATION", protocols: ["TCP"], oldAddress, newAddress, oldPort: port, newPort: port })),
    );
  }
}

const peerStates = (node) => node.eventsOf("peer-migration").map((e) => `${e.state} ${e.to}`);
const refusals = (node) => node.eventsOf("migration-refused").map((e) => e.code);
const owned = (node, now, i = 0) => node.engine.state(now).peers[i].owned;
const answersFrom = (net, name, since) => net.sent.slice(since).filter((d) => d.from === name);

/** An rtnetlink RTM_NEWADDR for an IPv4 address on ifindex 2 (what the host's address watch forwards). */
function newAddr(address) {
  const b = new Uint8Array(16 + 8 + 8);
  const v = new DataView(b.buffer);
  v.setUint32(0, b.length, true);
  v.setUint16(4, 20, true); // RTM_NEWADDR
  b.set([2, 24, 0, 0], 16); // AF_INET, /24, flags, scope universe
  v.setUint32(20, 2, true); // ifindex
  v.setUint16(24, 8, true);
  v.setUint16(26, 2, true); // IFA_LOCAL
  b.set(address.split(".").map(Number), 28);
  return b;
}

// ---- item 2: an unvalidated move proves no ownership ------------------------

test("a move back from an unvalidated address is refused with 129, and nothing sends V's traffic to M afterwards", () => {
  const { net, m, f, mp } = pair();
  const V = "198.18.5.5"; // M can send from V (spoofing) but receives nothing there
  m.addresses.add(V);
  net.filter = (d) => d.address !== V;
  // M moves A (owned) to V (not owned): accepted, unvalidated, under the quota.
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: V });
  net.run(50);
  assert.equal(peerStates(f), [`unvalidated ${V}`]);
  // While that move waits for its Confirm: move V port 5001/TCP back to A.
  m.engine.migrate(net.now, { peer: mp, protocols: ["TCP"], from: V, fromPort: 5001, to: "198.18.0.2", toPort: 5001 });
  net.run(50);
  assert.equal(refusals(f), ["ADMINISTRATIVELY_PROHIBITED"], "V was never owned nor validated");
  assert.equal(peerStates(f), [`unvalidated ${V}`]);
  // The first move's validation fails; minutes later nothing maps V or sends to it.
  net.run(5 * 60000);
  assert.equal(peerStates(f), [`unvalidated ${V}`, `validation-failed ${V}`]);
  assert.not.match(f.lastRules(), /198\.18\.5\.5/);
  assert.is(f.engine.state(net.now).moves.length, 0);
  assert.not.ok(owned(f, net.now).includes(V));
});

test("a move may go on from its unvalidated address (the Confirm was lost): it carries only its own sessions, and the earlier validation ends", () => {
  const { net, m, f, mp } = pair();
  // Every Migration Confirm is lost: f never validates 198.18.1.2.
  net.filter = (d) => d.data[1] !== 5;
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
  net.run(300);
  assert.equal(peerStates(f), ["unvalidated 198.18.1.2"]);
  // m moves on, back to its configured address, before the validation could end.
  m.engine.migrate(net.now, { peer: mp, from: "198.18.1.2", to: "198.18.0.2" });
  net.run(300);
  assert.equal(refusals(f), [], "the move that exists goes on");
  assert.equal(m.eventsOf("migration").filter((e) => e.state === "completed").map((e) => e.id), [1, 2]);
  // The move is home again: once the left address's quarantine (30 s) is over,
  // nothing is rewritten, nothing is left to validate, and 198.18.1.2 was never owned.
  net.run(40000);
  assert.equal(peerStates(f), ["unvalidated 198.18.1.2", "validated 198.18.0.2"]);
  assert.not.match(f.lastRules(), /198\.18\.1\.2/);
  assert.not.ok(owned(f, net.now).includes("198.18.1.2"));
});

// ---- item 3: ownership has a lifetime and needs return routability ---------

/** m registers from 198.18.1.2 (its primary), which f does not have configured. */
function registeredPair() {
  const net = new SimNet();
  const m = net.node("m.example", ["198.18.1.2", "198.18.0.2"]);
  const f = net.node("f.example", ["198.18.9.1"]);
  const mp = m.peer(f);
  configure(f, m, "198.18.0.2");
  return { net, m, f, mp };
}

test("a registration's source is owned once the Confirm echoes the challenge, for its lifetime only", () => {
  const { net, m, f, mp } = registeredPair();
  m.engine.register(net.now, mp, 10);
  net.run(1000);
  assert.is(m.eventsOf("registration")[0].state, "accepted");
  const reply = net.sent.find((d) => d.from === "f.example" && d.data[1] === 2);
  assert.ok(f.engine.core.decode(reply.data).extensions.some((e) => e.type === "PATH_CHALLENGE"), "the reply carries a challenge");
  assert.ok(net.sent.some((d) => d.from === "m.example" && d.data[1] === 5), "m answers with a Confirm");
  assert.equal(f.eventsOf("peer-registered").map((e) => `${e.state} ${e.address} ${e.lifetime}`), ["validated 198.18.1.2 10"]);
  assert.ok(owned(f, net.now).includes("198.18.1.2"));
  // Within the lifetime a migration to it needs no validation.
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
  net.run(1000);
  assert.equal(peerStates(f), ["validated 198.18.1.2"]);
});

test("after a 10 s registration expires, its source is no longer owned: a migration to it is validated again", () => {
  const { net, m, f, mp } = registeredPair();
  m.engine.register(net.now, mp, 10);
  net.run(1000);
  assert.ok(owned(f, net.now).includes("198.18.1.2"));
  net.run(10000);
  assert.not.ok(owned(f, net.now).includes("198.18.1.2"), "expired");
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
  net.run(1000);
  assert.equal(peerStates(f), ["unvalidated 198.18.1.2", "validated 198.18.1.2"]);
  assert.match(f.rulesAfter.find((t) => /198\.18\.1\.2/.test(t)), /quota over/, "the first rules were capped by the quota");
});

test("a registration re-sent from an attacker's address does not make that address owned", () => {
  const { net, m, f, mp } = registeredPair();
  const X = "198.18.66.6";
  net.filter = (d) => !(d.from === "m.example" && d.data[1] === 1); // the attacker captures and drops it
  m.engine.register(net.now, mp, 3600);
  m.pump();
  const captured = net.sent.find((d) => d.from === "m.example" && d.data[1] === 1).data;
  net.inject(f, X, captured);
  const toX = net.sent.filter((d) => d.from === "f.example" && d.address === X);
  assert.ok(toX.length >= 1, "accepted, answered at X with a challenge");
  net.run(20000);
  assert.not.ok(owned(f, net.now).includes(X));
  assert.equal(f.eventsOf("peer-registered").map((e) => e.state), ["validation-failed"]);
  // So a migration to X is not taken as validated.
  m.addresses.add(X);
  net.filter = null;
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: X });
  net.run(1000);
  assert.is(peerStates(f)[0], `unvalidated ${X}`);
});

test("an address validated by a Confirm stays owned for registrationLifetimeS, then needs validation again", () => {
  const { net, m, f, mp } = pair();
  f.engine.option("registrationLifetimeS", 20);
  const hop = (from, to) => {
    m.engine.migrate(net.now, { peer: mp, from, to });
    net.run(1000);
  };
  hop("198.18.0.2", "198.18.1.2");
  hop("198.18.1.2", "198.18.0.2"); // back home: no move left at f
  assert.is(f.engine.state(net.now).moves.length, 0);
  hop("198.18.0.2", "198.18.1.2"); // within 20 s: owned, no validation
  hop("198.18.1.2", "198.18.0.2");
  net.run(20000);
  hop("198.18.0.2", "198.18.1.2"); // expired: validated again
  assert.equal(peerStates(f).filter((s) => s.endsWith("198.18.1.2")), [
    "unvalidated 198.18.1.2", "validated 198.18.1.2", "validated 198.18.1.2", "unvalidated 198.18.1.2", "validated 198.18.1.2",
  ]);
});

test("the learned owned set is capped per peer: the address that expires soonest makes room", () => {
  const { net, m, f, mp } = registeredPair();
  f.engine.option("maxOwnedPerPeer", 2);
  const spare = ["198.18.1.2", "198.18.2.2", "198.18.3.2"];
  for (const a of spare.slice(1)) m.addresses.add(a);
  for (const [i, a] of spare.entries()) {
    // Register from each address in turn (m sends from its first address).
    m.addresses = new Set([a, ...[...m.addresses].filter((x) => x !== a)]);
    m.engine.register(net.now, mp, 100 + i);
    net.run(1000);
  }
  const list = owned(f, net.now);
  assert.ok(list.includes("198.18.0.2"), "the configured address stays");
  assert.not.ok(list.includes("198.18.1.2"), "the soonest to expire went");
  assert.ok(list.includes("198.18.2.2") && list.includes("198.18.3.2"));
  assert.is(list.length, 3);
});

// ---- item 4: the address test, everywhere an address comes from the wire ----

test("a migration to the fixed end's own address (configured or reported by the host) is refused with 136", () => {
  const { net, m, f } = pair();
  f.engine.addAddress("198.18.9.1");
  net.run(10);
  const forge = new Forger(net, m);
  net.inject(f, "198.18.0.2", forge.migration([["198.18.0.2", "198.18.9.1"]]));
  // An address the host reports (rtnetlink, as the watch receives it) is ours too.
  f.engine.netlinkEvent(net.now, newAddr("198.18.9.7"));
  f.pump();
  net.inject(f, "198.18.0.2", forge.migration([["198.18.0.2", "198.18.9.7"]]));
  assert.equal(refusals(f), ["ADDRESS_NOT_ALLOWED", "ADDRESS_NOT_ALLOWED"]);
  assert.is(f.engine.state(net.now).moves.length, 0);
});

test("loopback, multicast, broadcast, unspecified and 0.0.0.0/8 new or old addresses are refused with 136 (both families)", () => {
  const { net, m, f } = pair();
  const forge = new Forger(net, m);
  const bad = ["127.0.0.1", "224.0.0.1", "255.255.255.255", "0.0.0.0", "0.0.0.1", "240.0.0.1"];
  for (const a of bad) net.inject(f, "198.18.0.2", forge.migration([["198.18.0.2", a]]));
  for (const a of ["127.0.0.1", "224.0.0.1", "0.0.0.1"]) net.inject(f, "198.18.0.2", forge.migration([[a, "198.18.1.2"]]));
  assert.equal(refusals(f), new Array(bad.length + 3).fill("ADDRESS_NOT_ALLOWED"));
  // IPv6: a configured peer moves within 2001:db8::/32, but never to ::1, ff02::1, ::, ::ffff:198.18.1.2.
  const net6 = new SimNet();
  const m6 = net6.node("m6.example", ["2001:db8::2", "2001:db8:1::2"]);
  const f6 = net6.node("f6.example", ["2001:db8:9::1"]);
  m6.peer(f6);
  f6.peer(m6);
  f6.engine.addAddress("2001:db8:9::1");
  const forge6 = new Forger(net6, m6);
  const bad6 = ["::1", "ff02::1", "::", "::ffff:198.18.1.2", "2001:db8:9::1"];
  for (const a of bad6) net6.inject(f6, "2001:db8::2", forge6.migration([["2001:db8::2", a]]));
  assert.equal(refusals(f6), new Array(bad6.length).fill("ADDRESS_NOT_ALLOWED"));
  net6.inject(f6, "2001:db8::2", forge6.migration([["2001:db8::2", "2001:db8:1::2"]]));
  assert.equal(peerStates(f6), ["unvalidated 2001:db8:1::2"], "a usable address is accepted");
});

test("registrations from loopback, multicast, broadcast, 0.0.0.1 or the fixed end's own address are dropped unanswered", () => {
  const { net, m, f } = pair();
  f.engine.addAddress("198.18.9.1");
  f.engine.option("debug", 1);
  const forge = new Forger(net, m);
  const before = net.sent.length;
  for (const src of ["127.0.0.1", "224.0.0.1", "255.255.255.255", "0.0.0.1", "198.18.9.1"]) {
    net.inject(f, src, forge.message("REGISTRATION_REQUEST", [{ type: "LIFETIME", seconds: 60 }]));
  }
  net.run(20000);
  assert.is(answersFrom(net, "f.example", before).length, 0);
  assert.equal(owned(f, net.now), ["198.18.0.2"]);
  assert.equal(f.eventsOf("dropped").map((e) => e.error), new Array(5).fill("BAD_ADDRESS"));
  assert.is(f.engine.state(net.now).peers[0].peerRegistered, false, "no registration recorded");
  // From a usable address it is answered (with a challenge).
  net.inject(f, "198.18.44.4", forge.message("REGISTRATION_REQUEST", [{ type: "LIFETIME", seconds: 60 }]));
  assert.is(answersFrom(net, "f.example", before).length, 1);
});

test("a refusal is not sent to a forged loopback, multicast, broadcast or own source", () => {
  const { net, m, f } = pair();
  f.engine.addAddress("198.18.9.1");
  const forge = new Forger(net, m);
  const before = net.sent.length;
  for (const src of ["127.0.0.1", "224.0.0.1", "255.255.255.255", "0.0.0.1", "198.18.9.1"]) {
    net.inject(f, src, forge.migration([["198.18.50.50", "198.18.1.2"]])); // not m's: 129
  }
  assert.is(refusals(f).length, 5);
  assert.is(answersFrom(net, "f.example", before).length, 0);
  net.inject(f, "198.18.0.2", forge.migration([["198.18.50.50", "198.18.1.2"]]));
  assert.is(answersFrom(net, "f.example", before).length, 1, "a usable source is answered");
});

// ---- item 5: per-peer and global limits -------------------------------------

function trio() {
  const net = new SimNet();
  const m1 = net.node("m1.example", ["198.18.0.2", "198.18.1.2"]);
  const m2 = net.node("m2.example", ["198.18.0.3", "198.18.1.3"]);
  const f = net.node("f.example", ["198.18.9.1"]);
  const p1 = m1.peer(f);
  const p2 = m2.peer(f);
  f.peer(m1);
  f.peer(m2);
  return { net, m1, m2, f, p1, p2 };
}

/** Port-by-port migrations, each to a new address of its own (so each one creates a move at f). */
function portMoves(net, node, peer, from, base, ports) {
  ports.forEach((port, i) => {
    const to = `${base}.${10 + i}`;
    node.addresses.add(to);
    node.engine.migrate(net.now, { peer, protocols: ["TCP"], from, fromPort: port, to, toPort: port });
    net.run(1000);
  });
}

const outcomes = (node) => node.eventsOf("migration").filter((e) => e.state === "completed" || e.state === "failed").map((e) => e.code ?? e.state);

test("one peer at its move limit gets 130; another peer still migrates", () => {
  const { net, m1, m2, f, p1, p2 } = trio();
  f.engine.option("maxMovesPerPeer", 4);
  portMoves(net, m1, p1, "198.18.0.2", "198.18.1", [5001, 5002, 5003, 5004, 5005, 5006]);
  assert.equal(outcomes(m1), ["completed", "completed", "completed", "completed", "INSUFFICIENT_RESOURCES", "INSUFFICIENT_RESOURCES"]);
  assert.is(f.engine.state(net.now).moves.length, 4);
  // Ten simulated minutes later m1 is still at its limit, and m2 is not affected.
  net.run(10 * 60000);
  m2.engine.migrate(net.now, { peer: p2, from: "198.18.0.3", to: "198.18.1.3" });
  net.run(1000);
  assert.is(m2.eventsOf("migration").filter((e) => e.state === "completed").length, 1);
});

test("a message type no module here serves is dropped with UNSERVED_TYPE before the replay window and the reply cache", () => {
  const { net, m, f } = pair();
  f.engine.option("debug", 1);
  const forge = new Forger(net, m);
  const before = net.sent.length;
  const wake = forge.message("WAKE_UP", [{ type: "TRANSFERRED_ADDRESS", address: "198.18.0.2" }]);
  net.inject(f, "198.18.0.2", wake);
  net.inject(f, "198.18.0.2", wake); // not answered from a cache either
  net.run(1000);
  assert.is(answersFrom(net, "f.example", before).length, 0, "no reply, empty or not");
  assert.equal(f.eventsOf("dropped").map((e) => e.error), ["UNSERVED_TYPE", "UNSERVED_TYPE"]);
  // The sequence number was not consumed: a STEM request that reuses it is answered.
  forge.seq = (forge.seq - 1) & 0xffff;
  net.inject(f, "198.18.0.2", forge.message("REGISTRATION_REQUEST", [{ type: "LIFETIME", seconds: 60 }]));
  assert.is(answersFrom(net, "f.example", before).length, 1);
});

test("options outside their registry range are refused by the core, not clamped", () => {
  const { f } = pair();
  const isRefusal = (e) => e instanceof HandoverError && /option /.test(e.message);
  const spec = JSON.parse(readFileSync(new URL("../core/registry.json", import.meta.url), "utf8")).abi.options;
  for (const o of spec) {
    assert.throws(() => f.engine.option(o.name, o.max + 1), isRefusal, `${o.name}=${o.max + 1}`);
    if (o.min > 0) assert.throws(() => f.engine.option(o.name, o.min - 1), isRefusal, `${o.name}=${o.min - 1}`);
    f.engine.option(o.name, o.default);
  }
  assert.throws(() => f.engine.option("windowBits", 100), isRefusal);
  assert.throws(() => f.engine.option("maxMoves", 2.5), isRefusal);
});

test("the global move limit refuses with 130 once all peers together reach it", () => {
  const { net, m1, m2, f, p1, p2 } = trio();
  f.engine.option("maxMoves", 3);
  portMoves(net, m1, p1, "198.18.0.2", "198.18.1", [5001, 5002]);
  portMoves(net, m2, p2, "198.18.0.3", "198.18.2", [6001, 6002]);
  assert.equal(outcomes(m1), ["completed", "completed"]);
  assert.equal(outcomes(m2), ["completed", "INSUFFICIENT_RESOURCES"]);
});

test("a peer with 3 unvalidated addresses gets 137 for a fourth; another peer still migrates", () => {
  const { net, m1, m2, f, p1, p2 } = trio();
  const dark = ["198.18.5.1", "198.18.5.2", "198.18.5.3", "198.18.5.4"];
  for (const a of dark) m1.addresses.add(a);
  net.filter = (d) => !dark.includes(d.address);
  dark.forEach((a, i) => {
    m1.engine.migrate(net.now, { peer: p1, protocols: ["TCP"], from: "198.18.0.2", fromPort: 5001 + i, to: a, toPort: 5001 + i });
    net.run(20);
  });
  assert.equal(refusals(f), ["TOO_MANY_PENDING"]);
  assert.is(f.eventsOf("peer-migration").filter((e) => e.state === "unvalidated").length, 3);
  m2.engine.migrate(net.now, { peer: p2, from: "198.18.0.3", to: "198.18.1.3" });
  net.run(1000);
  assert.is(m2.eventsOf("migration").filter((e) => e.state === "completed").length, 1);
});

// ---- item 7: 133 replies are rate-limited -----------------------------------

test("after a restart, 1,000 replays of one request from 1,000 spoofed sources draw a bounded trickle of 133s", () => {
  const { net, m, f, mp } = pair();
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
  m.pump();
  const request = net.queue[0].data;
  net.run(2000);
  // f restarts: no replay state; the captured request is older than its start.
  f.engine.seed(new TextEncoder().encode("restart of f, 16+ bytes"));
  f.engine.init(f.cookie, net.now);
  f.peer(m);
  const before = net.sent.length;
  for (let i = 0; i < 1000; i++) {
    net.now += 1; // one second in all
    net.inject(f, `198.18.${100 + (i >> 8)}.${i & 255}`, request);
  }
  const answers = answersFrom(net, "f.example", before);
  assert.ok(answers.length >= 1, "some are still answered");
  assert.ok(answers.length <= 20, `at most the burst plus one second's tokens, got ${answers.length}`);
  const c = f.engine.state(net.now).counters;
  assert.is(c.replies133 + c.limited133, 1000);
  // The peer at its configured address is still resynchronised: only the per-peer gap applies to it.
  net.now += 20;
  m.clockOffset = -60000;
  m.engine.register(m.clock(), mp, 3600);
  net.run(2000);
  assert.is(m.eventsOf("registration").at(-1)?.state, "accepted");
});

test("no 133 reply goes to a loopback, multicast, broadcast or own source", () => {
  const { net, m, f, mp } = pair();
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
  m.pump();
  const request = net.queue[0].data;
  net.run(2000);
  f.engine.seed(new TextEncoder().encode("restart of f, 16+ bytes"));
  f.engine.init(f.cookie, net.now);
  f.peer(m);
  f.engine.addAddress("198.18.9.1");
  const before = net.sent.length;
  for (const src of ["127.0.0.1", "224.0.0.1", "255.255.255.255", "0.0.0.1", "198.18.9.1"]) {
    net.now += 20;
    net.inject(f, src, request);
  }
  assert.is(answersFrom(net, "f.example", before).length, 0);
  const c = f.engine.state(net.now).counters;
  assert.equal([c.replies133, c.limited133], [0, 5], "refused before a token is spent");
  net.now += 20;
  net.inject(f, "198.18.77.7", request);
  assert.is(answersFrom(net, "f.example", before).length, 1, "a usable source is answered");
});

test("133 replies to a source the peer owns are limited per peer, once per 10 ms", () => {
  const { net, m, f } = pair();
  const forge = new Forger(net, m);
  const stale = () => {
    forge.seq = (forge.seq + 1) & 0xffff;
    return m.engine.core.encode({ type: "REGISTRATION_REQUEST", flags: [], sequence: forge.seq, cookie: m.cookie, replayId: ntp(net.now - 60000), extensions: [] }, AUTH);
  };
  const before = net.sent.length;
  for (let i = 0; i < 100; i++) net.inject(f, "198.18.0.2", stale()); // all at once
  assert.is(answersFrom(net, "f.example", before).length, 1);
  net.now += 10;
  net.inject(f, "198.18.0.2", stale());
  assert.is(answersFrom(net, "f.example", before).length, 2);
});

// ---- section 2: the Confirm token, 134, the replay window -------------------

test("a Migration Confirm with a wrong token validates nothing", () => {
  const { net, m, f, mp } = pair();
  const V = "198.18.5.5";
  m.addresses.add(V);
  net.filter = (d) => d.address !== V;
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: V });
  net.run(50);
  const forge = new Forger(net, m);
  net.inject(f, "198.18.0.2", forge.message("MIGRATION_CONFIRM", [{ type: "PATH_RESPONSE", token: "0011223344556677" }]));
  net.run(10000);
  assert.equal(peerStates(f), [`unvalidated ${V}`, `validation-failed ${V}`]);
  assert.not.ok(owned(f, net.now).includes(V));
});

test("a request naming two different new addresses is refused with 134 and changes nothing", () => {
  const { net, m, f } = pair();
  const forge = new Forger(net, m);
  net.inject(f, "198.18.0.2", forge.migration([["198.18.0.2", "198.18.1.2", 5001], ["198.18.0.2", "198.18.3.3", 5002]]));
  assert.equal(refusals(f), ["POORLY_FORMED_REQUEST"]);
  assert.is(f.nft.length, 0);
});

test("a request replayed after it left the reply cache is dropped by the window: no reply, no effect", () => {
  const { net, m, f, mp } = pair();
  f.engine.option("debug", 1);
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
  m.pump();
  const request = net.queue[0].data;
  net.run(1000);
  for (let i = 0; i < 9; i++) {
    m.engine.register(net.now, mp, 3600); // pushes the request out of f's cache of 8
    net.run(50);
  }
  const before = net.sent.length;
  const events = f.events.length;
  net.inject(f, "198.18.1.2", request); // still within the 7 s skew
  assert.is(answersFrom(net, "f.example", before).length, 0);
  assert.equal(f.events.slice(events).map((e) => `${e.event} ${e.error}`), ["dropped REPLAYED"]);
});

// ---- item 13: no randomness before the seed ---------------------------------

test("node_init and peer_add refuse with NOT_SEEDED until the DRBG has had 16 bytes of seed", () => {
  const engine = new Engine(Core.loadSync(MODULE));
  const x = engine.core.x;
  const cookie = engine.core.put(new Uint8Array([1, 2, 3, 4, 5, 6]));
  assert.is(x.node_init(cookie, 0), -39);
  assert.is(x.peer_add(cookie, 1, engine.core.put(new Uint8Array(16)), PORT), -39);
  try {
    engine.init("010203040506", 0);
    assert.unreachable("node_init ran unseeded");
  } catch (e) {
    assert.ok(e instanceof HandoverError && e.errorName === "NOT_SEEDED", String(e));
  }
  engine.seed(new Uint8Array(8));
  assert.is(x.node_init(engine.core.put(new Uint8Array([1, 2, 3, 4, 5, 6])), 0), -39, "8 bytes are not enough");
  engine.seed(new Uint8Array(8).fill(1));
  engine.init("010203040506", 0);
  assert.ok(engine.addPeer("0a0b0c0d0e0f", "198.18.0.2", PORT) >= 0);
});

test.run();
