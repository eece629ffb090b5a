// SID's per-flow mode, the Session Agent (docs/PROTOCOL.md 8.16), on a
// SIMULATED network (test/_sidflowsim.js): the node's flows go to two
// targets through the agent while its other flow stays; flow sets end one by
// one, by Stop Transfer per flow set, by expiry; refusals; forged and
// replayed requests change nothing. Kernel actions are recorded, not applied
// (test/e2e/ runs them on real kernels).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SidCodec } from "../dist/hosts/shared/index.js";
import { quartet, moveFlows, RTM, TA, INTERIM, FLOW_A, FLOW_B, FLOW_U } from "./_sidflowsim.js";

const MSG = { TNR: 16, TR: 18, BU: 20, WAKE: 22, STOP: 24 };

/** Two flow sets: FLOW_A to u, FLOW_B to v; FLOW_U stays with the node. */
function twoSets(opts) {
  const s = quartet(opts);
  s.spiA = moveFlows(s, [FLOW_A], s.u, s.tnU, { lifetime: 30 });
  s.spiB = moveFlows(s, [FLOW_B], s.v, s.tnV, { lifetime: 30 });
  return s;
}

const count = (list, x) => list.filter((y) => y === x).length;
const hex8 = (n) => n.toString(16).padStart(8, "0");
const refusals = (n) => n.sidEvents("refused").map((e) => e.code ?? e.error);

/** f() throws the core's error `name` (HandoverError.errorName). */
function fails(f, name, message) {
  try {
    f();
  } catch (e) {
    assert.is(e.errorName, name, message);
    return;
  }
  assert.unreachable(message ?? `expected ${name}`);
}

/** A target that accepted a negotiation the agent then refused gives the address up when its Binding Update goes unanswered. */
function untilEnded(net, target) {
  for (let i = 0; i < 120 && !target.sidEvents("ended").length; i++) net.run(1000);
  assert.ok(target.sidEvents("ended").length, `${target.name} gave the address up`);
}

/** The session SA's HMAC key (PROTOCOL.md 8.11): the SA subkey of the session key's binding key. */
function saKey(core, sessionKey) {
  const codec = new SidCodec(core);
  return codec.bindingSubkey(codec.bindingKey(sessionKey), "sa");
}

test("one node's flows go to two targets through one agent; the third flow stays", () => {
  const s = twoSets();
  const { tn, agent, u, v, spiA, spiB } = s;
  assert.ok(spiA && spiB && spiA !== spiB, "two flow sets, two session SPIs");
  assert.equal(tn.sidEvents("transferred").map((e) => e.spi), [spiA, spiB]);
  assert.equal(agent.sidEvents("bound").map((e) => [e.spi, e.flows, e.target]), [[spiA, 1, "198.19.0.20"], [spiB, 1, "198.19.1.20"]]);
  assert.equal(u.sidEvents("bound").length, 1);
  assert.equal(v.sidEvents("bound").length, 1);
  const st = agent.state();
  assert.equal(st.flowSets.map((f) => [f.spi, f.interim, f.flows.map((x) => x.localPort)]), [[spiA, INTERIM[0], [40001]], [spiB, INTERIM[0], [40002]]]);
  assert.is(st.flows.count, 2);
  assert.is(st.bindings.count, 0, "no whole-address binding");
  // Agent: the sorting table once, one map element per moved flow, each set's own mark; nothing for FLOW_U.
  const nft = agent.nftText();
  assert.is(nft.split("add table inet hovflow\n").length - 1, 1);
  const marks = [...nft.matchAll(/add element inet hovflow f4 \{ (\S+) \. (\d+) \. (\d+) \. (\S+) \. (\d+) : (0x[0-9a-f]{8}) \}/g)].map((m) => m.slice(1));
  assert.equal(marks.map((m) => m.slice(0, 5)), [["198.18.20.2", "6", "5001", TA, "40001"], ["198.18.21.2", "6", "5001", TA, "40002"]]);
  assert.is.not(marks[0][5], marks[1][5]);
  assert.not.match(nft, /5004/);
  // Agent netlink: two tunnels, two mark rules, the proxy entry once; the interim route and the sets' routes.
  const types = agent.netlinkTypes();
  assert.is(count(types, RTM.NEWLINK), 2);
  assert.is(count(types, RTM.NEWRULE), 2);
  assert.is(count(types, RTM.NEWROUTE), 3, "the interim route and one route per set into its tunnel (its mark's table)");
  // Node: the Interim Address once on the home link; a stop chain per flow set with its flows only; the ARP rule once.
  assert.is(count(tn.netlinkTypes(), RTM.NEWADDR), 1);
  const tnft = tn.nftText();
  assert.match(tnft, new RegExp(`add chain inet hovsid fi${hex8(spiA)}`));
  assert.match(tnft, new RegExp(`add chain inet hovsid fi${hex8(spiB)}`));
  assert.match(tnft, /add rule inet hovsid fi[0-9a-f]{8} ip saddr 198\.18\.20\.2 ip daddr 198\.18\.0\.10 tcp sport 5001 tcp dport 40001 drop/);
  assert.not.match(tnft, /hovsid si/, "no whole-address stop rule: the other flows keep working");
  assert.is(tnft.split("arp daddr ip 198.18.0.10 drop").length - 1, 1);
  // Its own ARP requests name the Interim Address, not the moved one (the node keeps sending from it).
  assert.match(tnft, /add rule arp hovsid arc612000a arp operation request arp saddr ip 198\.18\.0\.10 arp saddr ip set 198\.18\.0\.200\n/);
  assert.is(tnft.split("add chain arp hovsid arc612000a").length - 1, 1);
});

test("flow sets end one by one: the last one stops the interception and wakes the node at its Interim Address", () => {
  const s = twoSets();
  const { net, tn, agent, u, v, spiA, spiB } = s;
  u.flows.flowEnded(net.now, FLOW_A);
  u.pump();
  net.run(1000);
  assert.equal(agent.sidEvents("ended").map((e) => [e.spi, e.reason, e.left]), [[spiA, "deregistered", 1]]);
  assert.is(tn.sidEvents("woken").length, 0, "no Wake-up while a flow set lasts");
  assert.match(agent.nftText(), /delete element inet hovflow f4 \{ 198\.18\.20\.2 \. 6 \. 5001 \. 198\.18\.0\.10 \. 40001 \}/);
  assert.not.match(agent.nftText(), /delete table inet hovflow/);
  assert.is(u.sidEvents("ended")[0].reason, "deregistered");
  v.flows.flowEnded(net.now, FLOW_B);
  v.pump();
  net.run(1000);
  assert.equal(agent.sidEvents("ended").map((e) => [e.spi, e.left]), [[spiA, 1], [spiB, 0]]);
  assert.match(agent.nftText(), /delete table inet hovflow\n$/m);
  const wake = net.sent.filter((d) => d.from === "agent" && d.data[1] === MSG.WAKE);
  assert.ok(wake.length >= 1 && wake.every((d) => d.address === INTERIM[0]), "the Wake-up goes to the Interim Address");
  assert.is(tn.sidEvents("woken").length, 1);
  assert.is(count(tn.netlinkTypes(), RTM.DELADDR), 1, "the Interim Address leaves the home link");
  assert.match(tn.nftText(), /delete chain arp hovsid arc612000a/);
  assert.match(tn.nftText(), new RegExp(`delete chain inet hovsid fi${hex8(spiA)}`));
  assert.match(tn.nftText(), new RegExp(`delete chain inet hovsid fo${hex8(spiB)}`));
  assert.equal(agent.state().flowSets, []);
  assert.is(agent.state().flows.count, 0);
  assert.is(tn.state().flows.interimTaken, 0);
  // Everything is back: a new per-flow transfer starts from scratch (a new table, the interim again).
  assert.ok(moveFlows(s, [FLOW_U], u, s.tnU));
  assert.is(agent.nftText().split("add table inet hovflow\n").length - 1, 2);
});

test("the interim route outlasts the last flow set until the node answers the Wake-up (or it is given up): the router still sends the address's packets to the agent meanwhile", () => {
  for (const lose of ["first", "all"]) {
    const s = twoSets();
    const { net, agent, tn, u, v } = s;
    const routesGone = () => count(agent.netlinkTypes(), RTM.DELROUTE);
    u.flows.flowEnded(net.now, FLOW_A);
    u.pump();
    net.run(1000);
    const before = routesGone();
    let dropped = 0;
    net.filter = (d) => !(d.from === "agent" && d.data[1] === MSG.WAKE && (lose === "all" || dropped++ < 1));
    v.flows.flowEnded(net.now, FLOW_B);
    v.pump();
    net.run(200);
    assert.equal(agent.state().flowSets, [], `${lose}: the last flow set ended`);
    assert.match(agent.nftText(), /delete table inet hovflow\n$/m, `${lose}: the sorting table went`);
    assert.is(count(agent.netlinkTypes(), RTM.DELNEIGH), 1, `${lose}: the proxy entry went`);
    assert.is(tn.sidEvents("woken").length, 0, `${lose}: the first Wake-up was lost`);
    assert.is(routesGone(), before, `${lose}: the interim route stays while the Wake-up is unanswered`);
    net.run(lose === "all" ? 120000 : 10000);
    if (lose === "first") {
      assert.is(tn.sidEvents("woken").length, 1, "the retransmitted Wake-up woke the node");
      assert.is(agent.sidEvents("woken").length, 1, "and was answered");
    } else {
      assert.is(agent.sidEvents("woken").length, 0);
      assert.ok(agent.sidEvents("refused").length >= 1, "the agent gave the Wake-up up");
    }
    assert.is(routesGone(), before + 1, `${lose}: the interim route goes with the Ack (or the give-up), once`);
  }
});

test("a flow set may hold several flows, and a later transfer only adds a flow set", () => {
  const s = quartet();
  const { tn, agent, u, v } = s;
  const spi1 = moveFlows(s, [FLOW_A, FLOW_U], u, s.tnU);
  const spi2 = moveFlows(s, [FLOW_B], v, s.tnV);
  assert.ok(spi1 && spi2);
  assert.equal(agent.state().flowSets.map((f) => f.flows.length), [2, 1]);
  assert.is(count(agent.netlinkTypes(), RTM.NEWNEIGH), 2 * 2 + 1, "per tunnel its fdb and neighbour entries; one proxy entry");
  assert.is(tn.sidEvents("transferred").length, 2);
  // u holds two flows: the set ends with the second.
  u.flows.flowEnded(s.net.now, FLOW_U);
  u.pump();
  s.net.run(1000);
  assert.is(agent.sidEvents("ended").length, 0);
  u.flows.flowEnded(s.net.now, FLOW_A);
  u.pump();
  s.net.run(1000);
  assert.equal(agent.sidEvents("ended").map((e) => e.spi), [spi1]);
  // A flow that is not held here is refused, and changes nothing.
  fails(() => u.flows.flowEnded(s.net.now, FLOW_A), "REFUSED");
});

test("Stop Transfer per flow set: the named set ends; stopping the last wakes the node", () => {
  const s = twoSets();
  const { net, tn, agent, spiA, spiB } = s;
  tn.flows.stop(net.now, TA, spiA);
  tn.pump();
  net.run(1000);
  const stop = net.sent.filter((d) => d.from === "tn" && d.data[1] === MSG.STOP);
  assert.is(stop.length, 1);
  assert.ok(stop[0].data.length > 20 + 7 + 16 + 36, "the Stop Transfer lists the flow set's flow");
  assert.equal(agent.sidEvents("ended").map((e) => [e.spi, e.reason, e.left]), [[spiA, "stopped", 1]]);
  assert.equal(agent.state().flowSets.map((f) => f.spi), [spiB]);
  assert.is(tn.sidEvents("stopped")[0].spi, spiA);
  assert.is(tn.sidEvents("woken").length, 0);
  fails(() => tn.flows.stop(net.now, TA, spiA), "REFUSED", "a stopped flow set cannot be stopped again");
  tn.flows.stop(net.now, TA, spiB);
  tn.pump();
  net.run(1000);
  assert.equal(agent.sidEvents("ended").map((e) => e.left), [1, 0]);
  assert.is(tn.sidEvents("woken").length, 1, "the last flow set named: the Wake-up says the address is back");
  assert.equal(tn.state().transfers, []);
  assert.is(count(tn.netlinkTypes(), RTM.DELADDR), 1);
});

test("Stop Transfer without flows ends every flow set; the reply is the signal (no Wake-up)", () => {
  const s = twoSets();
  const { net, tn, agent } = s;
  tn.flows.stop(net.now, TA, 0);
  tn.pump();
  net.run(1000);
  assert.equal(agent.sidEvents("ended").map((e) => e.reason), ["stopped", "stopped"]);
  assert.is(net.sent.filter((d) => d.from === "agent" && d.data[1] === MSG.WAKE).length, 0);
  assert.is(tn.sidEvents("stopped")[0].spi, 0);
  assert.equal(tn.state().transfers, []);
  assert.is(count(tn.netlinkTypes(), RTM.DELADDR), 1);
  assert.match(tn.nftText(), /add rule arp hovsid ai[0-9a-f]+ .*\n[\s\S]*delete chain arp hovsid ai/);
});

test("each flow set is renewed on its own, and one whose target falls silent expires alone", () => {
  const s = quartet();
  const { net, agent, u, v } = s;
  const spiA = moveFlows(s, [FLOW_A], u, s.tnU, { lifetime: 6 });
  const spiB = moveFlows(s, [FLOW_B], v, s.tnV, { lifetime: 6 });
  net.run(20000);
  const renewed = agent.sidEvents("renewed").map((e) => e.spi);
  assert.ok(count(renewed, spiA) >= 2 && count(renewed, spiB) >= 2, `renewals ${renewed}`);
  net.filter = (d) => d.from !== "u";
  net.run(10000);
  assert.equal(agent.sidEvents("ended").map((e) => [e.spi, e.reason, e.left]), [[spiA, "expired", 1]]);
  assert.equal(agent.state().flowSets.map((f) => f.spi), [spiB]);
});

test("refused at the node: a flow moved already, a whole-address transfer, an empty Interim pool", () => {
  const s = twoSets();
  const { net, tn } = s;
  fails(() => tn.flows.transfer(net.now, TA, [FLOW_A], s.tnV, s.tnAgent), "BUSY", "a flow moved already");
  const c = tn.core;
  const a = c.parseAddress(TA);
  fails(() => c.check(c.x.sid_transfer(net.now, a.family, c.put(a.bytes), s.tnU, s.tnAgent, 0, 0)), "BUSY", "per-flow and whole-address transfers of one address do not mix");
  // A flow whose local address is not the transferred one is an invalid argument.
  fails(() => tn.flows.transfer(net.now, TA, [{ ...FLOW_U, local: "198.18.0.11" }], s.tnV, s.tnAgent), "INVALID_ARGUMENT");
  // The pool holds IPv4 addresses only: an IPv6 address finds no Interim Address.
  const six = { protocol: "tcp", local: "2001:db8::10", localPort: 1, remote: "2001:db8:20::2", remotePort: 2 };
  fails(() => tn.flows.transfer(net.now, "2001:db8::10", [six], s.tnU, s.tnAgent), "BUSY", "no IPv6 Interim Address in the pool");
  assert.is(tn.state().transfers.length, 2, "nothing else started");
});

test("refused by the agent: the flow table's bound (130); the node's stop rule and Interim Address go again", () => {
  const s = quartet({ sidFlows: 1 });
  const { net, tn, agent, u } = s;
  assert.is(moveFlows(s, [FLOW_A, FLOW_U], u, s.tnU) !== null, true);
  assert.equal(refusals(tn), [130]);
  assert.equal(refusals(agent), [130]);
  assert.equal(agent.state().flowSets, []);
  assert.match(tn.nftText(), /delete chain inet hovsid fi/);
  assert.is(count(tn.netlinkTypes(), RTM.DELADDR), 1);
  assert.equal(tn.state().transfers, []);
  untilEnded(net, u);
  // One flow fits.
  assert.ok(moveFlows(s, [FLOW_A], u, s.tnU));
  assert.is(agent.state().flows.count, 1);
});

test("refused by the target: a second flow set of an address it holds (143); the first is untouched", () => {
  const s = quartet();
  const { tn, agent, u } = s;
  const spiA = moveFlows(s, [FLOW_A], u, s.tnU);
  moveFlows(s, [FLOW_B], u, s.tnU);
  assert.equal(refusals(u), [143]);
  assert.equal(refusals(tn), [143]);
  assert.equal(agent.state().flowSets.map((f) => f.spi), [spiA]);
  assert.is(tn.state().transfers.length, 1);
});

test("refused by the agent: a peer not configured to own the address (129), under its own valid SA", () => {
  const s = quartet();
  const { net, agent, u } = s;
  const evil = net.node("evil", ["198.18.0.66"]);
  const evilU = evil.peer(u, { key: new Uint8Array(32).fill(0x33), spi: 310 });
  u.peer(evil, { key: new Uint8Array(32).fill(0x33), spi: 310 });
  const evilAgent = evil.peer(agent, { key: new Uint8Array(32).fill(0x44), spi: 311 });
  agent.peer(evil, { key: new Uint8Array(32).fill(0x44), spi: 311 });
  evil.link();
  evil.flows.addInterim("198.18.0.202");
  evil.flows.transfer(net.now, TA, [FLOW_A], evilU, evilAgent);
  evil.pump();
  net.run(200);
  u.stateReceived(TA);
  evil.stateDelivered(TA);
  net.run(1000);
  assert.equal(refusals(agent), [129]);
  assert.equal(agent.state().flowSets, []);
  assert.is(agent.netlinkTypes().length, 0, "the agent changed nothing in its kernel");
});

test("refused by the agent: a whole-address request while flows are away (143), a flow moved already (143), another Interim Address (134)", () => {
  const s = twoSets();
  const { net, agent } = s;
  // A second engine of the node (same name, so the same cookie and SA at the agent) on another address.
  const clone = net.node("tn", ["198.18.0.11", "198.18.0.210", INTERIM[0]]);
  clone.addresses.delete(INTERIM[0]); // the simulator delivers the Interim Address to tn
  const cloneAgent = clone.peer(agent, { key: new Uint8Array(32).fill(0x22), spi: 301 });
  const w = net.node("w", ["198.19.2.20"]);
  w.engine.option("sidTarget", 1);
  const cloneW = clone.peer(w, { key: new Uint8Array(32).fill(0x13), spi: 303 });
  w.peer(clone, { key: new Uint8Array(32).fill(0x13), spi: 303 });
  clone.link();
  w.link();
  const before = agent.nftText();
  const run = (f) => {
    const ended = w.sidEvents("ended").length;
    f();
    clone.pump();
    net.run(300);
    w.stateReceived(TA);
    clone.stateDelivered(TA);
    net.run(1000);
    for (let i = 0; i < 120 && w.sidEvents("ended").length === ended; i++) net.run(1000);
  };
  const c = clone.core;
  const a = c.parseAddress(TA);
  run(() => c.check(c.x.sid_transfer(net.now, a.family, c.put(a.bytes), cloneW, cloneAgent, 0, 0)));
  assert.equal(refusals(agent), [143]);
  clone.flows.addInterim("198.18.0.210");
  run(() => clone.flows.transfer(net.now, TA, [FLOW_U], cloneW, cloneAgent));
  assert.equal(refusals(agent), [143, 134], "another Interim Address than the address's flow sets have");
  // A third engine of the node whose pool gives it the Interim Address tn uses.
  const clone2 = net.node("tn", ["198.18.0.12"]);
  const clone2Agent = clone2.peer(agent, { key: new Uint8Array(32).fill(0x22), spi: 301 });
  const clone2W = clone2.peer(w, { key: new Uint8Array(32).fill(0x13), spi: 303 });
  clone2.link();
  clone2.flows.addInterim(INTERIM[0]);
  const ended = w.sidEvents("ended").length;
  clone2.flows.transfer(net.now, TA, [FLOW_A], clone2W, clone2Agent);
  clone2.pump();
  net.run(300);
  w.stateReceived(TA);
  clone2.stateDelivered(TA);
  net.run(1000);
  assert.ok(w.sidEvents("ended").length >= ended);
  assert.equal(refusals(agent), [143, 134, 143], "a flow moved already");
  assert.equal(agent.state().flowSets.map((f) => f.spi), [s.spiA, s.spiB]);
  assert.is(agent.nftText(), before, "no kernel change at the agent");
});

test("forged and replayed per-flow messages change nothing", () => {
  const s = twoSets();
  const { net, agent, u } = s;
  const st0 = JSON.stringify(agent.state().flowSets);
  const nft0 = agent.nft.length;
  const events0 = agent.events.length;
  // A Binding Update of flow set A with one byte changed: it does not authenticate.
  const bu = net.sent.filter((d) => d.from === "u" && d.data[1] === MSG.BU).at(-1);
  const forged = bu.data.slice();
  forged[forged.length - 20] ^= 1;
  net.inject(agent, bu.source, forged);
  // The recorded Transfer Request of flow set A, replayed: the replay window refuses it.
  const tr = net.sent.filter((d) => d.from === "tn" && d.data[1] === MSG.TR)[0];
  net.inject(agent, tr.source, tr.data);
  // A recorded Binding Update, replayed, renews nothing.
  net.inject(agent, bu.source, bu.data);
  assert.is(JSON.stringify(agent.state().flowSets), st0);
  assert.is(agent.nft.length, nft0);
  assert.equal(agent.events.slice(events0).filter((e) => e.event === "sid"), []);
  // After every flow set ended, the replayed Transfer Request does not bring one back.
  u.flows.flowEnded(net.now, FLOW_A);
  s.v.flows.flowEnded(net.now, FLOW_B);
  u.pump();
  s.v.pump();
  net.run(2000);
  assert.equal(agent.state().flowSets, []);
  net.inject(agent, tr.source, tr.data);
  assert.equal(agent.state().flowSets, []);
});

/** NTP Replay Protect ID (timestamp mode) for `ms`, as hex. */
function ntpId(ms) {
  return ((BigInt(Math.floor(ms / 1000) + 2208988800) << 32n) | 1n).toString(16).padStart(16, "0");
}

/** The session key and SPI of the transfer of `address` known at node n (sid_session). */
function sessionOf(n, address) {
  const c = n.core;
  const a = c.parseAddress(address);
  const out = c.outputPtr;
  assert.is(c.x.sid_session(a.family, c.put(a.bytes), out), 64);
  const b = c.get(out, 64);
  return { key: b.slice(0, 32), spi: new DataView(b.buffer, b.byteOffset).getUint32(32, true) };
}

test("Stop Transfer of flow sets: only the node configured to own the address, never a target under its session SA (129)", () => {
  const s = twoSets();
  const { net, agent, u, spiA } = s;
  const flowExt = { type: "FLOW", protocol: "TCP", localAddress: TA, localPort: FLOW_A.localPort, remoteAddress: FLOW_A.remote, remotePort: FLOW_A.remotePort };
  // The target of flow set A, with that set's session key and SPI.
  const k = sessionOf(u, TA);
  assert.is(k.spi, spiA);
  const bySession = u.core.encode({ type: "STOP_TRANSFER", sequence: 9000, cookie: u.cookie, replayId: ntpId(net.now), extensions: [{ type: "TRANSFERRED_ADDRESS", address: TA }, flowExt] }, { spi: k.spi, key: saKey(u.core, k.key) });
  net.inject(agent, "198.19.0.20", bySession);
  // A peer of the agent with its own valid SA, not configured to own the address.
  const evil = net.node("evil", ["198.18.0.66"]);
  const evilKey = new Uint8Array(32).fill(0x44);
  agent.peer(evil, { key: evilKey, spi: 311 });
  const byPeer = evil.core.encode({ type: "STOP_TRANSFER", sequence: 1, cookie: evil.cookie, replayId: ntpId(net.now), extensions: [{ type: "TRANSFERRED_ADDRESS", address: TA }] }, { spi: 311, key: evilKey });
  net.inject(agent, "198.18.0.66", byPeer);
  assert.equal(refusals(agent), [129, 129]);
  assert.is(agent.sidEvents("stopped").length, 0);
  assert.equal(agent.state().flowSets.map((f) => f.spi), [s.spiA, s.spiB], "both flow sets stand");
});

test("the per-flow exports check every argument: bad records, counts and pointers are INVALID_ARGUMENT, never a trap", () => {
  const s = quartet();
  const { net, tn } = s;
  const c = tn.core;
  const x = c.x;
  const a = c.parseAddress(TA);
  const INVALID = -28;
  const rec = tn.flows.record(FLOW_A);
  const [ap, fp] = c.stage(a.bytes, rec);
  const huge = 0x7ffffff0;
  assert.is(x.sid_transfer_flows(net.now, a.family, ap, s.tnU, s.tnAgent, 0, 0, fp, 0), INVALID, "no flows");
  assert.is(x.sid_transfer_flows(net.now, a.family, ap, s.tnU, s.tnAgent, 0, 0, fp, 65), INVALID, "more than 64 flows");
  assert.is(x.sid_transfer_flows(net.now, a.family, ap, s.tnU, s.tnAgent, 0, 0, huge, 1), INVALID, "records out of memory");
  assert.is(x.sid_transfer_flows(net.now, a.family, huge, s.tnU, s.tnAgent, 0, 0, fp, 1), INVALID, "address out of memory");
  assert.is(x.sid_transfer_flows(net.now, 9, ap, s.tnU, s.tnAgent, 0, 0, fp, 1), INVALID, "bad family");
  for (const [at, v, what] of [[0, 1, "protocol 1"], [1, 7, "family 7"], [2, 0, "local port 0"], [4, 0, "remote port 0"]]) {
    const bad = rec.slice();
    bad[at] = v;
    if (at === 2 || at === 4) bad[at + 1] = 0;
    const [ap2, fp2] = c.stage(a.bytes, bad);
    assert.is(x.sid_transfer_flows(net.now, a.family, ap2, s.tnU, s.tnAgent, 0, 0, fp2, 1), INVALID, what);
  }
  const twice = new Uint8Array(76);
  twice.set(rec, 0);
  twice.set(rec, 38);
  const [ap3, fp3] = c.stage(a.bytes, twice);
  assert.is(x.sid_transfer_flows(net.now, a.family, ap3, s.tnU, s.tnAgent, 0, 0, fp3, 2), INVALID, "a flow twice");
  assert.is(x.sid_transfer_flows(net.now, a.family, ap, s.tnU, s.tnU, 0, 0, fp, 1), -33, "the agent cannot be the target (UNKNOWN_PEER)");
  assert.is(x.sid_flow_ended(net.now, huge), INVALID);
  assert.is(x.sid_stop_flows(net.now, a.family, huge, 0), INVALID);
  assert.is(x.sid_interim_add(1, huge), INVALID);
  const lo = c.parseAddress("127.0.0.1");
  assert.is(x.sid_interim_add(lo.family, c.put(lo.bytes)), INVALID, "loopback is no Interim Address");
  assert.equal(tn.state().transfers, [], "nothing started");
});



/** 8.16, a per-flow return: `holder` (u or v, peer 0 is tn) gives its flow set back to tn; the hosts' part played. */
function giveBack(s, holder, { nodeReceives = true } = {}) {
  const { net, tn } = s;
  const asked = holder.sidEvents("state-requested").length;
  assert.is(holder.call("sid_transfer", TA, 0, -1, 0, 30), 0);
  holder.pump();
  for (let waited = 0; holder.sidEvents("state-requested").length === asked && waited < 5000; waited += 10) net.run(10);
  assert.is(holder.sidEvents("state-requested").length, asked + 1, `${holder.name} was asked for the record`);
  if (nodeReceives) tn.stateReceived(TA);
  holder.stateDelivered(TA);
  net.run(1000);
}

test("a per-flow return (8.16): each target gives its flow set back; the node stops the set at the agent and resumes the socket; the last one brings the address back", () => {
  const s = twoSets();
  const { net, tn, agent, u, v, spiA, spiB } = s;
  const nftBefore = tn.nft.length;
  giveBack(s, u);
  const ret = tn.sidEvents("negotiated").filter((e) => e.role === "target");
  assert.equal(ret.map((e) => [e.returning, e.flowSet]), [[true, spiA]]);
  assert.equal(tn.sidEvents("released").map((e) => e.returned), [true]);
  assert.equal(tn.sidEvents("ended").map((e) => e.reason), ["returned"]);
  assert.equal(tn.sidEvents("stopped").map((e) => e.spi), [spiA]);
  assert.equal(agent.sidEvents("ended").map((e) => [e.spi, e.left]), [[spiA, 1]]);
  const after = tn.nft.slice(nftBefore).join("\n");
  assert.match(after, new RegExp(`delete chain inet hovsid fi${hex8(spiA)}`), "set A's stop chains went");
  assert.not.match(after, new RegExp(`fi${hex8(spiB)}`), "set B's stay");
  assert.not.match(after, /arp hovsid/, "the address is still away (set B)");
  assert.is(count(tn.frames.map((f) => f.data[13]), 0x06), 0, "no announcement yet");
  assert.equal(u.sidEvents("transferred").map((e) => e.lifetime), [0]);
  assert.equal(u.sidEvents("retired").map((e) => e.untilMs), [10000]);
  assert.is(agent.state().flowSets.length, 1);
  // The second set comes back: the agent's last set ends, its Wake-up to the Interim Address brings the address back.
  giveBack(s, v);
  assert.equal(agent.sidEvents("ended").map((e) => [e.spi, e.left]), [[spiA, 1], [spiB, 0]]);
  assert.is(tn.sidEvents("woken").length, 1);
  assert.match(tn.nft.slice(nftBefore).join("\n"), /delete chain arp hovsid ai/);
  assert.equal(tn.sidEvents("released").map((e) => e.returned), [true, true]);
  assert.is(tn.state().transfers.length, 0);
  assert.is(tn.state().targets.length, 0);
  assert.is(agent.state().flowSets.length, 0);
  net.run(11000);
  assert.equal(u.sidEvents("ended").map((e) => e.reason), ["returned"]);
  assert.equal(v.sidEvents("ended").map((e) => e.reason), ["returned"]);
  assert.is(u.state().targets.length, 0);
});

test("a per-flow return from a target the set did not go to (129), or not listing exactly one set's flows (134), changes nothing", () => {
  for (const variant of ["other-target", "other-flows"]) {
    const s = twoSets();
    const { net, tn, agent, u, v } = s;
    const nftBefore = tn.nft.length;
    if (variant === "other-target") {
      // v holds set B; it lists set A's flow.
      const core = v.core;
      net.filter = (d) => {
        if (d.from !== "v" || d.data[1] !== MSG.TNR) return true;
        const m = core.decode(d.data);
        for (const e of m.extensions) if (e.type === "FLOW") Object.assign(e, { localPort: FLOW_A.localPort, remoteAddress: FLOW_A.remote, remotePort: FLOW_A.remotePort });
        d.data.set(core.encode(m, { spi: 302, key: new Uint8Array(32).fill(0x12) }));
        return true;
      };
      assert.is(v.call("sid_transfer", TA, 0, -1, 0, 30), 0);
      v.pump();
    } else {
      const core = u.core;
      net.filter = (d) => {
        if (d.from !== "u" || d.data[1] !== MSG.TNR) return true;
        const m = core.decode(d.data);
        for (const e of m.extensions) if (e.type === "FLOW") e.localPort = 40009;
        d.data.set(core.encode(m, { spi: 300, key: new Uint8Array(32).fill(0x11) }));
        return true;
      };
      assert.is(u.call("sid_transfer", TA, 0, -1, 0, 30), 0);
      u.pump();
    }
    net.run(1000);
    assert.equal(refusals(tn), [variant === "other-target" ? 129 : 134], variant);
    assert.is(tn.state().targets.length, 0, variant);
    assert.is(tn.nft.length, nftBefore, `${variant}: no kernel change`);
    assert.is(agent.state().flowSets.length, 2, `${variant}: both sets stand`);
  }
});
test.run();
