// Session-specific addresses (docs/PROTOCOL.md 8.18, the second seed's FIG. 2)
// on the SIMULATED network of test/_sidsim.js: the generators (static pool,
// IPv6 with duplicate address detection), the alias on the home link, the
// agent's per-node pool check, and the lease's way through a transfer.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { trio, hostsDeliver } from "./_sidsim.js";
import { SidAddresses } from "../dist/hosts/shared/index.js";

const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const IFA_FLAGS = 8;
const IFA_F_NODAD = 0x02;

/** An address message's fields: type, family, prefix length, ifindex, address text, IFA_FLAGS. */
function addrMsg(b) {
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const type = v.getUint16(4, true);
  const family = b[16];
  const out = { type, family, prefix: b[17], ifindex: v.getUint32(20, true), flags: 0, address: "" };
  for (let off = 24; off + 4 <= v.getUint32(0, true); ) {
    const len = v.getUint16(off, true);
    const t = v.getUint16(off + 2, true);
    if (t === 2 && !out.address) {
      const a = b.subarray(off + 4, off + len);
      out.address = family === 2 ? [...a].join(".") : [...Array(8)].map((_, i) => ((a[2 * i] << 8) | a[2 * i + 1]).toString(16)).join(":");
    }
    if (t === IFA_FLAGS) out.flags = v.getUint32(off + 4, true);
    off += (len + 3) & ~3;
  }
  return out;
}
function addrMsgs(n) {
  return n.netlink.map(addrMsg).filter((m) => m.type === RTM_NEWADDR || m.type === RTM_DELADDR);
}
function addrEvents(n) {
  return n.events.filter((e) => e.event === "session-address");
}
function bindingCount(n) {
  return n.sid.state(n.clock()).bindings.count;
}

/** trio() with a static pool at the node and the same range configured for it at the agent. */
function pooled(range = "198.18.0.50-198.18.0.51") {
  const s = trio();
  s.tnAddr = new SidAddresses(s.tn.engine);
  s.tnAddr.addPool(range);
  s.agent.engine.addPeerPool(s.agentTn, range);
  return s;
}

function transferAddress(s, address) {
  s.tn.sid.transfer(s.net.now, address, s.tnTarget, { agent: s.tnAgent, lifetime: 30 });
  s.tn.pump();
  assert.ok(hostsDeliver({ ...s, TA: address }), "the node was asked for the state record");
  s.net.run(2000);
}

test("static pool: a session address is aliased on the home link beside the base address; exhaustion is error 46; release frees it", () => {
  const s = pooled();
  const { tn, tnAddr, net } = s;
  const a = tnAddr.acquire(net.now, "static");
  const b = tnAddr.acquire(net.now, "static");
  tn.pump();
  assert.equal([tnAddr.info(a).address, tnAddr.info(b).address], ["198.18.0.50", "198.18.0.51"]);
  assert.is(tnAddr.info(a).state, "ready");
  assert.equal(addrEvents(tn).map((e) => [e.session, e.state, e.address]), [[a, "ready", "198.18.0.50"], [b, "ready", "198.18.0.51"]]);
  // On the home link (ifindex 2), /32, no DAD; the base address is not touched.
  const m = addrMsgs(tn);
  assert.equal(m.map((x) => [x.type, x.ifindex, x.prefix, x.address]), [[RTM_NEWADDR, 2, 32, "198.18.0.50"], [RTM_NEWADDR, 2, 32, "198.18.0.51"]]);
  assert.ok(m[0].flags & IFA_F_NODAD);
  try {
    tnAddr.acquire(net.now, "static");
    assert.unreachable("the pool is used up");
  } catch (e) {
    assert.is(e.code, 46);
  }
  tnAddr.release(net.now, a);
  tn.pump();
  assert.equal(addrMsgs(tn).at(-1).type, RTM_DELADDR);
  assert.is(addrMsgs(tn).at(-1).address, "198.18.0.50");
  const c = tnAddr.acquire(net.now, "static");
  assert.is(tnAddr.info(c).address, "198.18.0.50", "the released address is free again");
});

test("a session address moves alone: the agent accepts it from the node whose pool holds it; the lease goes away and is released when the session ends at the target", () => {
  const s = pooled();
  const { tn, agent, target, net, tnAddr } = s;
  const sess = tnAddr.acquire(net.now, "static");
  tn.pump();
  const SA = tnAddr.info(sess).address;
  transferAddress(s, SA);
  assert.equal(tn.sidEvents().map((e) => e.state), ["state-requested", "negotiated", "transferred"]);
  assert.is(bindingCount(agent), 1);
  assert.is(agent.sid.session(SA).role, "agent");
  assert.is(tnAddr.info(sess).state, "away");
  // The base address stays the node's: no binding, no rule for it.
  assert.is(agent.sid.session(s.TA), null);
  assert.not.match(tn.nft.join("\n"), /198\.18\.0\.10/);
  // The alias stays (under the stop and ARP rules) while the transfer lasts.
  assert.ok(!addrMsgs(tn).some((x) => x.type === RTM_DELADDR));
  // The session ends at the target: Wake-up; the node releases the lease and takes the alias off.
  target.sid.sessionEnded(net.now, SA);
  target.pump();
  net.run(5000);
  assert.is(tn.sidEvents("woken").length, 1);
  assert.is(tnAddr.info(sess).state, "released");
  assert.equal(addrMsgs(tn).at(-1), { ...addrMsgs(tn).at(-1), type: RTM_DELADDR, address: SA, ifindex: 2 });
  const again = tnAddr.acquire(net.now, "static");
  assert.is(tnAddr.info(again).address, SA, "the pool has the address back");
});

test("refused (129) and nothing changes: a session address outside the node's pool at the agent, and a forged transfer of another node's session address", () => {
  // The node's pool holds .50, but the agent was told .60-.61 for it.
  let s = trio();
  s.tnAddr = new SidAddresses(s.tn.engine);
  s.tnAddr.addPool("198.18.0.50-198.18.0.50");
  s.agent.engine.addPeerPool(s.agentTn, "198.18.0.60-198.18.0.61");
  const sess = s.tnAddr.acquire(s.net.now, "static");
  s.tn.pump();
  transferAddress(s, "198.18.0.50");
  assert.equal(s.tn.sidEvents("refused").map((e) => e.code), [129]);
  assert.is(bindingCount(s.agent), 0);
  assert.is(s.agent.netlink.length, 0, "the agent's kernel is untouched");
  assert.is(s.tnAddr.info(sess).state, "ready", "the lease stays with the node");

  // A second node, "evil", with an SA at the agent and a pool of its own, names tn's session address.
  s = pooled();
  const sess2 = s.tnAddr.acquire(s.net.now, "static");
  s.tn.pump();
  const SA = s.tnAddr.info(sess2).address;
  const evil = s.net.node("evil", ["198.18.0.66"]);
  const evilAgent = evil.peer(s.agent, { key: new Uint8Array(32).fill(0x33), spi: 302 });
  const evilTarget = evil.peer(s.target, { key: new Uint8Array(32).fill(0x44), spi: 303 });
  const agentEvil = s.agent.peer(evil, { key: new Uint8Array(32).fill(0x33), spi: 302 });
  s.target.peer(evil, { key: new Uint8Array(32).fill(0x44), spi: 303 });
  s.agent.engine.addPeerPool(agentEvil, "198.18.0.70-198.18.0.79");
  evil.link();
  evil.sid.transfer(s.net.now, SA, evilTarget, { agent: evilAgent, lifetime: 30 });
  evil.pump();
  // (8.12, the 1-RTT order: the record is asked for at the call; the target's host opens it once it negotiated)
  for (let i = 0; i < 50 && (evil.sidEvents("state-requested").length === 0 || s.target.sidEvents("negotiated").length === 0); i++) s.net.run(100);
  s.target.sid.stateReceived(s.net.now, SA, true);
  s.target.pump();
  evil.sid.stateDelivered(s.net.now, SA, true);
  evil.pump();
  s.net.run(3000);
  assert.equal(evil.sidEvents("refused").map((e) => e.code), [129]);
  assert.is(bindingCount(s.agent), 0);
  assert.is(s.agent.netlink.length, 0);
  assert.is(s.tnAddr.info(sess2).state, "ready");
  assert.is(s.tn.nft.length, 0, "the node's rules are untouched");
});

test("a target that negotiated with a forger (its Transfer Request refused, 129) ends in a defined state: its Binding Update goes unanswered, the hosting ends (no-answer, TIMED_OUT) with its kernel state undone; the real node's transfer then goes through", () => {
  const s = pooled();
  const sess = s.tnAddr.acquire(s.net.now, "static");
  s.tn.pump();
  const SA = s.tnAddr.info(sess).address;
  const evil = s.net.node("evil", ["198.18.0.66"]);
  const evilAgent = evil.peer(s.agent, { key: new Uint8Array(32).fill(0x33), spi: 302 });
  const evilTarget = evil.peer(s.target, { key: new Uint8Array(32).fill(0x44), spi: 303 });
  s.agent.engine.addPeerPool(s.agent.peer(evil, { key: new Uint8Array(32).fill(0x33), spi: 302 }), "198.18.0.70-198.18.0.79");
  s.target.peer(evil, { key: new Uint8Array(32).fill(0x44), spi: 303 });
  evil.link();
  evil.sid.transfer(s.net.now, SA, evilTarget, { agent: evilAgent, lifetime: 30 });
  evil.pump();
  // (8.12, the 1-RTT order: the record is asked for at the call; the target's host opens it once it negotiated)
  for (let i = 0; i < 50 && (evil.sidEvents("state-requested").length === 0 || s.target.sidEvents("negotiated").length === 0); i++) s.net.run(100);
  s.target.sid.stateReceived(s.net.now, SA, true);
  s.target.pump();
  evil.sid.stateDelivered(s.net.now, SA, true);
  evil.pump();
  s.net.run(1000);
  assert.equal(evil.sidEvents("refused").map((e) => e.code), [129]);
  const started = s.target.sidEvents("negotiated")[0].t;
  assert.is(s.target.sid.session(SA)?.role, "target", "the target hosts the forged address for now (its Binding Update is parked at the agent)");
  // The agent cannot answer it (the session key never reached it): the target's retransmissions give up.
  s.net.run(15000);
  const ended = s.target.sidEvents("ended");
  assert.equal(ended.map((e) => [e.reason, e.error]), [["no-answer", "TIMED_OUT"]]);
  assert.ok(ended[0].t - started <= 12000, `ended ${ended[0].t - started} ms after the negotiation`);
  assert.is(s.target.sid.session(SA), null, "nothing hosted");
  assert.equal(s.target.sid.state(s.target.clock()).targets, []);
  // Every kernel action the hosting took is undone: the address (RTM_NEWADDR -> RTM_DELADDR), the tunnel (NEWLINK -> DELLINK), its rules.
  const types = s.target.netlink.map((b) => new DataView(b.buffer, b.byteOffset).getUint16(4, true));
  assert.is(types.filter((t) => t === RTM_NEWADDR).length, types.filter((t) => t === RTM_DELADDR).length, `address messages ${types}`);
  assert.is(types.filter((t) => t === 16).length, types.filter((t) => t === 17).length, `link messages ${types}`);
  const nft = s.target.nft.join("\n");
  const chains = [...nft.matchAll(/add chain (\S+) (\S+) (\S+)/g)];
  assert.ok(chains.length >= 2, `the hosting's stop and ARP chains: ${nft}`);
  // The decapsulation filter's base chain is shared by every binding and stays (PROTOCOL.md 8.9 step 5); its
  // element, pointing at the binding's own chain, goes.
  for (const c of chains) if (`${c[1]} ${c[2]} ${c[3]}` !== "inet hovtunnel in") assert.ok(nft.includes(`delete chain ${c[1]} ${c[2]} ${c[3]}`), `chain ${c[3]} removed`);
  const elements = [...nft.matchAll(/add element (\S+ \S+ \S+) \{ ([^:}]+) : jump/g)];
  assert.ok(elements.length >= 1, "the tunnel filter's element");
  for (const e of elements) assert.ok(nft.includes(`delete element ${e[1]} { ${e[2].trim()} }`), `element ${e[2]} removed`);
  assert.is(s.tnAddr.info(sess).state, "ready", "the node still holds its address");
  // The real transfer of the same address to the same target goes through.
  transferAddress(s, SA);
  assert.equal(s.tn.sidEvents().map((e) => e.state), ["state-requested", "negotiated", "transferred"]);
  assert.is(s.target.sid.session(SA)?.role, "target");
  assert.is(s.tnAddr.info(sess).state, "away");
});

test("IPv6: a random interface identifier in the node's /64, put on with DAD; READY at the host's verdict; a duplicate is replaced, three times at most", () => {
  const s = trio();
  const { tn, net } = s;
  const g = new SidAddresses(tn.engine);
  try {
    g.acquire(net.now, "ipv6");
    assert.unreachable("no prefix yet");
  } catch (e) {
    assert.is(e.code, 38, "CONFIG without a prefix");
  }
  tn.pump();
  g.prefix6("2001:db8:5::/64");
  const a = g.acquire(net.now, "ipv6");
  tn.pump();
  const i = g.info(a);
  assert.is(i.state, "pending");
  assert.match(i.address, /^2001:db8:5:0?:/);
  const m = addrMsgs(tn).at(-1);
  assert.equal([m.type, m.family, m.prefix, m.ifindex], [RTM_NEWADDR, 10, 128, 2]);
  assert.is(m.flags & IFA_F_NODAD, 0, "duplicate address detection runs");
  g.dad(net.now, a, true);
  tn.pump();
  assert.is(g.info(a).state, "ready");
  assert.equal(addrEvents(tn).map((e) => e.state).slice(-2), ["pending", "ready"]);
  // Duplicates: off, another identifier, then expired after three.
  const b = g.acquire(net.now, "ipv6");
  tn.pump();
  const seen = new Set([g.info(a).address, g.info(b).address]);
  for (let k = 0; k < 2; k++) {
    g.dad(net.now, b, false);
    tn.pump();
    assert.is(g.info(b).state, "pending");
    seen.add(g.info(b).address);
  }
  assert.is(seen.size, 4, "every try a new identifier");
  g.dad(net.now, b, false);
  tn.pump();
  assert.is(g.info(b).state, "expired");
  const msgs = addrMsgs(tn);
  assert.is(msgs.filter((x) => x.type === RTM_NEWADDR).length, 4);
  assert.is(msgs.filter((x) => x.type === RTM_DELADDR).length, 3);
});

test("a return (8.6) gives the session address back to its node: the lease is held there again", () => {
  const s = pooled();
  const { tn, agent, target, net, tnAddr } = s;
  const sess = tnAddr.acquire(net.now, "static");
  tn.pump();
  const SA = tnAddr.info(sess).address;
  transferAddress(s, SA);
  assert.is(tnAddr.info(sess).state, "away");
  target.sid.transfer(net.now, SA, s.targetTn, { lifetime: 30 });
  target.pump();
  for (let i = 0; i < 50 && target.sidEvents("state-requested").length === 0; i++) net.run(100);
  tn.sid.stateReceived(net.now, SA, true);
  tn.pump();
  target.sid.stateDelivered(net.now, SA, true);
  target.pump();
  net.run(3000);
  assert.ok(tn.sidEvents("woken").some((e) => e.returned), "woken for a return");
  assert.is(tnAddr.info(sess).state, "ready");
  assert.is(bindingCount(agent), 0);
  assert.ok(!addrMsgs(tn).some((x) => x.type === RTM_DELADDR), "the alias stayed");
});

test("the lease travels (Address Lease, 4.10): the target holds it once bound, hands it on with a further transfer, and the last holder releases it", () => {
  const s = pooled();
  const { tn, agent, target, net, tnAddr } = s;
  const sess = tnAddr.acquire(net.now, "static");
  tn.pump();
  const SA = tnAddr.info(sess).address;
  tn.sid.transfer(net.now, SA, s.tnTarget, { agent: s.tnAgent, lifetime: 30, further: true });
  tn.pump();
  assert.ok(hostsDeliver({ ...s, TA: SA }));
  net.run(2000);
  // The negotiation carried the lease: static, no end, no state.
  const nego = net.sent.find((d) => d.from === "tn" && d.data[1] === 16);
  assert.ok(nego, "a Transfer Negotiation Request went out");
  const d = tn.engine.core.decode(nego.data);
  assert.equal(d.extensions.find((e) => e.type === "ADDRESS_LEASE"), { type: "ADDRESS_LEASE", generator: "STATIC", remaining: 4294967295, state: "" });
  // The target holds it (ready) since it was bound; its registry put nothing on the home link.
  assert.equal(addrEvents(target).map((e) => [e.generator, e.state, e.address]), [["static", "ready", SA]]);
  assert.ok(!addrMsgs(target).some((m) => m.ifindex === 2), "the target's alias is the hosting's address on lo only");
  // A further transfer to t3: the lease goes with it.
  const t3 = net.node("t3", ["198.19.0.40"]).link();
  t3.engine.option("sidTarget", 1);
  const tt3 = target.peer(t3, { key: new Uint8Array(32).fill(0x44), spi: 320 });
  t3.peer(target, { key: new Uint8Array(32).fill(0x44), spi: 320 });
  target.sid.transfer(net.now, SA, tt3, { further: true, lifetime: 30 });
  target.pump();
  net.run(1000);
  t3.sid.stateReceived(net.now, SA);
  t3.pump();
  target.sid.stateDelivered(net.now, SA);
  target.pump();
  net.run(2000);
  assert.equal(addrEvents(target).map((e) => e.state), ["ready", "away"]);
  assert.equal(addrEvents(t3).map((e) => [e.generator, e.state]), [["static", "ready"]]);
  // The session ends at t3: t3 releases; the node is woken and its lease ends without a second release.
  t3.sid.sessionEnded(net.now, SA);
  t3.pump();
  net.run(5000);
  assert.equal(addrEvents(t3).map((e) => e.state), ["ready", "released"]);
  assert.is(tn.sidEvents("woken").length, 1);
  assert.equal(addrEvents(tn).map((e) => e.state), ["ready", "away", "released"]);
  assert.is(bindingCount(agent), 0);
});

test("a peer cannot move a node's session address to that node: the node refuses the negotiation (136 ADDRESS_NOT_ALLOWED) and changes nothing", () => {
  const s = pooled();
  const { tn, target, net, tnAddr } = s;
  const sess = tnAddr.acquire(net.now, "static");
  tn.pump();
  const SA = tnAddr.info(sess).address;
  tn.engine.option("sidTarget", 1);
  const before = tn.netlink.length;
  target.sid.transfer(net.now, SA, s.targetTn, { agent: target.peer(s.agent, { key: new Uint8Array(32).fill(0x55), spi: 330 }), lifetime: 30 });
  target.pump();
  net.run(1000);
  assert.equal(target.sidEvents("refused").map((e) => e.code), [136]);
  assert.equal(tn.sidEvents("refused").map((e) => [e.role, e.code]), [["target", 136]]);
  assert.is(tn.netlink.length, before, "no kernel action at the node");
  assert.is(tnAddr.info(sess).state, "ready");
});

test("a whole-address transfer of the base address carries no lease", () => {
  const s = trio();
  s.tn.sid.transfer(s.net.now, s.TA, s.tnTarget, { agent: s.tnAgent, lifetime: 30 });
  s.tn.pump();
  s.net.run(100);
  const nego = s.net.sent.find((d) => d.from === "tn" && d.data[1] === 16);
  assert.ok(!s.tn.engine.core.decode(nego.data).extensions.some((e) => e.type === "ADDRESS_LEASE"));
});

test.run();
