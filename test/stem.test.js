// STEM procedures on a SIMULATED network (test/_sim.js): two engines on a
// virtual clock, kernel actions recorded rather than applied.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SimNet } from "./_sim.js";

function pair(opts = {}, sa = {}) {
  const net = new SimNet(opts);
  const m = net.node("m.example", ["198.18.0.2", "198.18.1.2"]);
  const f = net.node("f.example", ["198.18.9.1"]);
  const mp = m.peer(f, sa);
  const fp = f.peer(m, sa);
  return { net, m, f, mp, fp };
}

function migration(node, state) {
  return node.eventsOf("migration").filter((e) => e.state === state);
}

test("a migration completes in one round trip and the rules follow the protocol's order", () => {
  const { net, m, f, mp } = pair();
  const id = m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
  m.pump();
  // Steps 304-307: identity address and rules with the hold go out before the request.
  assert.is(m.netlink.length, 1, "the original address is kept on lo");
  assert.match(m.rulesAfter[0], /add rule inet handover tag ip saddr 198\.18\.0\.2 ip daddr 198\.18\.9\.1 meta l4proto tcp meta mark set meta mark or 0x10000000/);
  assert.match(m.rulesAfter[0], /add rule inet handover out ip saddr 198\.18\.0\.2 ip daddr 198\.18\.9\.1 meta l4proto tcp ip saddr set 198\.18\.1\.2/);
  assert.match(m.rulesAfter[0], /ip daddr 198\.18\.1\.2 ip saddr 198\.18\.9\.1 meta l4proto tcp ip daddr set 198\.18\.0\.2/);
  net.run(1000);
  const done = migration(m, "completed");
  assert.is(done.length, 1);
  assert.is(done[0].id, id);
  assert.ok(done[0].elapsedMs <= 10.5, `one round trip of 10 ms, got ${done[0].elapsedMs}`);
  // The hold is gone once the reply arrived; the queue is released before the mark stops, right after, and 10 ms later.
  assert.not.match(m.lastRules(), /meta mark set meta mark or/);
  const verdicts = m.netlink.filter((b) => new DataView(b.buffer, b.byteOffset).getUint16(4, true) === 0x0303);
  assert.is(verdicts.length, 3, "three verdict batches");
  assert.match(m.lastRules(), /ip saddr set 198\.18\.1\.2/);
  // The non-migrator rewrote both ways, first with a quota, then validated without.
  assert.match(f.rulesAfter[0], /ip daddr 198\.18\.0\.2 meta l4proto tcp quota over \S+ bytes used 0 bytes counter drop/);
  assert.match(f.rulesAfter[0], /ip saddr 198\.18\.1\.2 meta l4proto udp ip saddr set 198\.18\.0\.2/);
  assert.match(f.lastRules(), /ip daddr 198\.18\.0\.2 meta l4proto tcp ip daddr set 198\.18\.1\.2/);
  assert.not.match(f.lastRules(), /quota/);
  assert.ok(f.nft.some((t) => /delete element inet handover rqw4 \{ tcp \. 198\.18\.0\.2 \}/.test(t)), "the quota's element went");
  assert.is(f.table.elements("rqw4").length, 0);
  const peer = f.eventsOf("peer-migration").map((e) => e.state);
  assert.equal(peer, ["unvalidated", "validated"]);
  // The request came from the new address.
  const req = net.sent.find((d) => d.from === "m.example");
  assert.is(req.source, "198.18.1.2");
});

test("the request and reply survive 20% loss by retransmission; nothing applies twice", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const { net, m, f, mp } = pair({ seed, loss: 0.2, delayMs: 25, duplicate: 0.1, reorder: 0.2 });
    m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
    net.run(30000);
    assert.is(migration(m, "completed").length, 1, `seed ${seed}: completed`);
    assert.is(migration(m, "failed").length, 0, `seed ${seed}: not failed`);
    const states = f.eventsOf("peer-migration").map((e) => e.state);
    assert.is(states.filter((s) => s === "unvalidated").length, 1, `seed ${seed}: applied once (${states})`);
    assert.ok(states.includes("validated"), `seed ${seed}: validated (${states})`);
  }
});

test("a migration times out and rolls back when the peer never answers", () => {
  const { net, m, mp } = pair();
  net.filter = (d) => d.from !== "m.example";
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
  net.run(20000);
  const failed = migration(m, "failed");
  assert.is(failed.length, 1);
  assert.is(failed[0].error, "TIMED_OUT");
  // Back to the original address: no rewrite rules, no hold.
  assert.not.match(m.lastRules(), /add rule/);
  const sends = net.sent.filter((d) => d.from === "m.example").length;
  assert.is(sends, 7, "seven transmissions");
});

test("forged, truncated, replayed and random datagrams change nothing and draw no answer", () => {
  const { net, m, f, mp } = pair();
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
  m.pump();
  const request = net.queue[0].data;
  net.run(1000);
  const rulesBefore = f.lastRules();
  const sentBefore = net.sent.length;
  const eventsBefore = f.events.length;
  // Replayed, byte for byte: answered from the cache (a retransmission), no new state.
  net.inject(f, "198.18.1.2", request);
  // Forged: one bit flipped anywhere.
  for (let i = 0; i < request.length; i++) {
    const x = request.slice();
    x[i] ^= 1 << (i % 8);
    net.inject(f, "198.18.66.6", x);
  }
  // Truncated and random.
  for (let n = 0; n < request.length; n++) net.inject(f, "198.18.66.6", request.slice(0, n));
  for (let i = 0; i < 500; i++) {
    const r = new Uint8Array(1 + Math.floor(net.rand() * 200));
    for (let j = 0; j < r.length; j++) r[j] = net.rand() * 256;
    net.inject(f, "198.18.66.6", r);
  }
  assert.is(f.lastRules(), rulesBefore);
  assert.is(f.events.length, eventsBefore);
  const answers = net.sent.slice(sentBefore).filter((d) => d.from === "f.example");
  assert.is(answers.length, 1, "only the exact retransmission is answered (from the cache)");
  assert.is(answers[0].address, "198.18.1.2");
});

test("a peer cannot move an address it does not own", () => {
  const { net, m, f, mp } = pair();
  // m claims to move 198.18.50.50 (someone else's) to its new address.
  m.engine.migrate(net.now, { peer: mp, from: "198.18.50.50", to: "198.18.1.2" });
  m.addresses.add("198.18.50.50");
  net.run(1000);
  const failed = migration(m, "failed");
  assert.is(failed.length, 1);
  assert.is(failed[0].code, "ADMINISTRATIVELY_PROHIBITED");
  assert.not.match(f.lastRules(), /add rule/);
});

test("without the path response the peer rolls back after the validation timeout", () => {
  const { net, m, f, mp } = pair();
  net.filter = (d) => !(d.from === "m.example" && d.data[1] === 5); // drop every Migration Confirm
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
  net.run(20000);
  const states = f.eventsOf("peer-migration").map((e) => e.state);
  assert.equal(states, ["unvalidated", "validation-failed"]);
  assert.not.match(f.lastRules(), /ip daddr set 198\.18\.1\.2/);
});

test("a clock 60 s apart is resynchronised by the authenticated 133 reply", () => {
  const { net, m, f, mp } = pair();
  m.clockOffset = -60000;
  m.engine.migrate(m.clock(), { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
  net.run(2000);
  assert.is(migration(m, "completed").length, 1);
  assert.is(f.engine.state(net.now).counters.replies133, 1);
});

test("nonce mode: the first request learns the nonce, the migration then completes", () => {
  const { net, m, f, mp } = pair({}, { replayMode: "NONCE" });
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
  net.run(2000);
  assert.is(migration(m, "completed").length, 1);
  assert.is(f.engine.state(net.now).counters.replies133, 1);
});

test("100 migrations back and forth leave no rules behind and apply each once", () => {
  const { net, m, f, mp } = pair({ loss: 0.1, seed: 9 });
  let at = "198.18.0.2";
  for (let i = 0; i < 100; i++) {
    const to = at === "198.18.0.2" ? "198.18.1.2" : "198.18.0.2";
    m.engine.migrate(net.now, { peer: mp, from: at, to });
    net.run(20000);
    at = to;
  }
  assert.is(migration(m, "completed").length, 100);
  assert.is(migration(m, "failed").length, 0);
  // Back at the original address after an even number: no rewrite left on either side.
  net.run(60000); // quarantines expire
  assert.not.match(m.lastRules(), /add rule/);
  assert.not.match(f.lastRules(), /add rule/);
  assert.is(m.engine.state(net.now).moves.length, 0);
  assert.is(f.engine.state(net.now).moves.length, 0);
});

test("both ends move, one after the other, and each end's rules combine both moves", () => {
  const net = new SimNet();
  const m = net.node("m.example", ["198.18.0.2", "198.18.1.2"]);
  const f = net.node("f.example", ["198.18.9.1", "198.18.8.1"]);
  const mp = m.peer(f);
  const fp = f.peer(m);
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
  net.run(1000);
  f.engine.migrate(net.now, { peer: fp, from: "198.18.9.1", to: "198.18.8.1" });
  net.run(1000);
  assert.is(migration(f, "completed").length, 1);
  // m: its own move (source) and f's move (destination) in one ruleset.
  assert.match(m.lastRules(), /ip saddr 198\.18\.0\.2 ip daddr 198\.18\.9\.1 meta l4proto tcp ip saddr set 198\.18\.1\.2/);
  assert.match(m.lastRules(), /ip daddr 198\.18\.9\.1 meta l4proto tcp ip daddr set 198\.18\.8\.1/);
  // f: the mirror image.
  assertCombined(f, { orig: "198.18.9.1", wire: "198.18.8.1" }, { orig: "198.18.0.2", wire: "198.18.1.2" });
});

const re = (a) => a.replaceAll(".", "\\.");

/** `node`'s rules send its sessions from `own.wire` instead of `own.orig` and to the peer's wire address instead of its original one. */
function assertCombined(node, own, theirs) {
  const rules = node.lastRules();
  assert.match(rules, new RegExp(`out ip saddr ${re(own.orig)} ip daddr [^\\n]*meta l4proto tcp ip saddr set ${re(own.wire)}[ \\n]`), `${node.name}: own move`);
  assert.match(rules, new RegExp(`in ip daddr ${re(own.wire)} ip saddr [^\\n]*meta l4proto tcp ip daddr set ${re(own.orig)}[ \\n]`), `${node.name}: own move inbound`);
  assert.match(rules, new RegExp(`out ip daddr ${re(theirs.orig)} meta l4proto tcp ip daddr set ${re(theirs.wire)}[ \\n]`), `${node.name}: peer's move`);
  assert.match(rules, new RegExp(`in ip saddr ${re(theirs.wire)} meta l4proto tcp ip saddr set ${re(theirs.orig)}[ \\n]`), `${node.name}: peer's move inbound`);
}

/** Each end moves in turn to a fresh address and gives up the one it left, configured ones first. */
function bothEndsAway(rounds, opts = {}) {
  const net = new SimNet(opts);
  const m = net.node("m.example", ["198.18.0.2"]);
  const f = net.node("f.example", ["198.18.9.1"]);
  const mp = m.peer(f);
  const fp = f.peer(m);
  const at = new Map([[m, "198.18.0.2"], [f, "198.18.9.1"]]);
  const log = [];
  for (let i = 0; i < rounds; i++) {
    for (const [node, peer, net3] of [[m, mp, 1 + i], [f, fp, 100 + i]]) {
      const from = at.get(node);
      const to = `198.18.${net3}.${node === m ? 2 : 1}`;
      node.addresses.add(to);
      const otherAt = at.get(node === m ? f : m);
      const id = node.engine.migrate(net.now, { peer, from, to });
      net.run(2000);
      node.addresses.delete(from); // the address it left is gone for good
      at.set(node, to);
      log.push({ node, id, from, to, otherAt });
    }
  }
  return { net, m, f, mp, fp, at, log };
}

test("both ends mobile: each learns where the other is now from its authenticated messages and moves in turn", () => {
  const { net, m, f, at, log } = bothEndsAway(3);
  for (const { node, id, from, to, otherAt } of log) {
    assert.is(migration(node, "completed").filter((e) => e.id === id).length, 1, `${node.name} ${from} -> ${to} completed`);
    // The request went from the new address to where the other end was at that moment (not its configured address).
    const reqs = net.sent.filter((d) => d.from === node.name && d.data[1] === 3 && d.source === to);
    assert.ok(reqs.length >= 1, `${node.name} sent its request from ${to}`);
    for (const r of reqs) assert.is(r.address, otherAt, `${node.name}'s request went to ${otherAt}`);
  }
  assert.is(migration(m, "failed").length + migration(f, "failed").length, 0);
  // Neither configured address exists any more, and both ends know the current ones.
  assert.not.ok(m.addresses.has("198.18.0.2"));
  assert.not.ok(f.addresses.has("198.18.9.1"));
  assert.is(m.engine.state(net.now).peers[0].control, at.get(f));
  assert.is(f.engine.state(net.now).peers[0].control, at.get(m));
  // The sessions keep their original addresses inside, the current ones on the wire, on both ends.
  assertCombined(m, { orig: "198.18.0.2", wire: at.get(m) }, { orig: "198.18.9.1", wire: at.get(f) });
  assertCombined(f, { orig: "198.18.9.1", wire: at.get(f) }, { orig: "198.18.0.2", wire: at.get(m) });
  // A registration now reaches the peer where it is.
  m.engine.register(net.now, 0, 60);
  net.run(1000);
  assert.is(m.eventsOf("registration").at(-1)?.state, "accepted");
});

test("both ends mobile survives loss, duplication and reordering", () => {
  for (let seed = 1; seed <= 10; seed++) {
    const { m, f, log } = bothEndsAway(3, { seed, loss: 0.15, duplicate: 0.1, reorder: 0.2, delayMs: 10 });
    for (const { node, id } of log) {
      assert.is(migration(node, "completed").filter((e) => e.id === id).length, 1, `seed ${seed}: ${node.name} migration ${id}`);
    }
    assert.is(migration(m, "failed").length + migration(f, "failed").length, 0, `seed ${seed}: nothing failed`);
  }
});

test("only authenticated, fresh messages teach a peer's address: replays and unmatched replies do not", () => {
  const net = new SimNet();
  const m = net.node("m.example", ["198.18.0.2", "198.18.1.2"]);
  const f = net.node("f.example", ["198.18.9.1", "198.18.8.1"]);
  const mp = m.peer(f);
  const fp = f.peer(m);
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
  net.run(2000);
  assert.is(f.engine.state(net.now).peers[0].control, "198.18.1.2", "learned from the Migration Request");
  const request = net.sent.find((d) => d.from === "m.example" && d.data[1] === 3).data;
  const reply = net.sent.find((d) => d.from === "f.example" && d.data[1] === 4).data;
  const confirm = net.sent.find((d) => d.from === "m.example" && d.data[1] === 5).data;
  // An on-path attacker re-sends the captured request, Confirm (a notice: no reply cache answers it) and reply
  // from its own address, at once and after the reply cache has forgotten the request.
  net.inject(f, "198.18.66.6", request);
  net.inject(f, "198.18.66.6", confirm);
  net.inject(m, "198.18.66.6", reply);
  net.run(31000);
  net.inject(f, "198.18.66.5", request);
  // And a forged copy with one byte of the authenticator changed.
  const forged = request.slice();
  forged[forged.length - 1] ^= 1;
  net.inject(f, "198.18.66.7", forged);
  assert.is(f.engine.state(net.now).peers[0].control, "198.18.1.2", "a replay, a forgery teach nothing");
  assert.is(m.engine.state(net.now).peers[0].control, "198.18.9.1", "a reply matching no request teaches nothing");
  // And the next request goes to the real address.
  f.engine.migrate(net.now, { peer: fp, from: "198.18.9.1", to: "198.18.8.1" });
  net.run(2000);
  assert.is(migration(f, "completed").length, 1);
  assert.is(net.sent.filter((d) => d.address.startsWith("198.18.66.")).length, 0);
  assert.is(m.engine.state(net.now).peers[0].control, "198.18.8.1", "learned from f's request");
});

test("a fresh, authenticated message from a source no session can use (loopback, multicast, unspecified) teaches nothing", () => {
  for (const bogus of ["127.0.0.1", "224.0.0.1", "0.0.0.0", "255.255.255.255"]) {
    const net = new SimNet();
    const m = net.node("m.example", ["198.18.0.2"]);
    const f = net.node("f.example", ["198.18.9.1"]);
    const mp = m.peer(f);
    f.peer(m);
    // m's registration never arrives; an on-path attacker delivers it (fresh, never seen) from another source.
    net.filter = (d) => d.from !== "m.example";
    m.engine.register(net.now, mp, 60);
    m.pump();
    const reg = net.sent.find((d) => d.from === "m.example" && d.data[1] === 1).data;
    net.inject(f, bogus, reg);
    assert.is(f.engine.state(net.now).peers[0].control, "198.18.0.2", `${bogus}: not learned`);
  }
});

test("IPv6 migration with a specific port, and opaque data delivered as an event", () => {
  const net = new SimNet();
  const m = net.node("m6.example", ["2001:db8::2", "2001:db8:1::2"]);
  const f = net.node("f6.example", ["2001:db8:9::1"]);
  const mp = m.peer(f);
  f.peer(m);
  m.engine.opaque(1, 0, new TextEncoder().encode("geo:52.5,13.4"));
  m.engine.migrate(net.now, { peer: mp, protocols: ["TCP"], from: "2001:db8::2", fromPort: 5001, to: "2001:db8:1::2", toPort: 5001 });
  net.run(1000);
  assert.is(migration(m, "completed").length, 1);
  assert.match(m.rulesAfter[0], /ip6 saddr 2001:db8::2 ip6 daddr 2001:db8:9::1 tcp sport 5001 ip6 saddr set 2001:db8:1::2/);
  assert.not.match(m.rulesAfter[0], /meta l4proto udp|udp sport \d+ ip6/, "TCP only");
  const op = f.eventsOf("opaque");
  assert.is(op.length, 1);
  assert.is(op[0].subtype, "LOCATION");
  assert.is(Buffer.from(op[0].data, "hex").toString(), "geo:52.5,13.4");
});

test("a kernel failure on the migrator aborts before any request is sent", () => {
  const { net, m, mp } = pair();
  m.failKernel = 1;
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
  net.run(1000);
  assert.is(migration(m, "failed")[0].error, "KERNEL");
  assert.is(net.sent.filter((d) => d.from === "m.example").length, 0);
});

test("a restarted migrator registers, opening a new epoch, and then migrates (whatever its new numbers)", () => {
  for (let seed = 1; seed <= 12; seed++) {
    const { net, m, f, mp } = pair({ seed });
    m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
    net.run(2000);
    // The daemon restarts: all state gone, sequence numbers start at a new random point.
    m.engine.seed(new TextEncoder().encode(`restart ${seed}`));
    m.engine.init(m.cookie, net.now);
    const again = m.peer(f);
    m.engine.registerAll(net.now);
    net.run(2000);
    const reg = m.eventsOf("registration").at(-1);
    assert.is(reg?.state, "accepted", `seed ${seed}: registration accepted`);
    m.engine.migrate(net.now, { peer: again, from: "198.18.1.2", to: "198.18.0.2" });
    net.run(2000);
    assert.is(m.eventsOf("migration").filter((e) => e.state === "completed").length, 2, `seed ${seed}: migrated after the restart`);
  }
});

test.run();
