// The DHCPv4 generator behind the address registry (docs/PROTOCOL.md 8.18,
// 8.19) on the SIMULATED network of test/_sidsim.js, with a DHCP server
// written in the test (test/_dhcp.js): a session address from DHCP is
// aliased at READY (the base address stays), renewed at T1 on the engine's
// own timer, lost at a NAK (alias off), released when the session ends, and
// moved with a transfer (AWAY: this node no longer renews it).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { trio, hostsDeliver } from "./_sidsim.js";
import { SidAddresses, DhcpCore } from "../dist/hosts/shared/index.js";
import { reply, unframe } from "./_dhcp.js";
import { unhex } from "./_wasm.js";

const MAC = unhex("020000000a0b");
const SERVER = "198.18.0.1";
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;

function addrMsgs(n) {
  return n.netlink.filter((b) => [RTM_NEWADDR, RTM_DELADDR].includes(new DataView(b.buffer, b.byteOffset).getUint16(4, true))).map((b) => {
    const v = new DataView(b.buffer, b.byteOffset, b.length);
    let address = "";
    for (let off = 24; off + 4 <= v.getUint32(0, true);) {
      const len = v.getUint16(off, true);
      if (v.getUint16(off + 2, true) === 2 && !address) address = [...b.subarray(off + 4, off + len)].join(".");
      off += (len + 3) & ~3;
    }
    return { type: v.getUint16(4, true), prefix: b[17], ifindex: v.getUint32(20, true), address };
  });
}
const addrEvents = (n) => n.events.filter((e) => e.event === "session-address");

function setup(range = "198.18.0.100-198.18.0.150") {
  const s = trio();
  s.tnAddr = new SidAddresses(s.tn.engine);
  s.tnAddr.enableDhcp(MAC);
  s.dhcp = new DhcpCore(s.tn.engine.core);
  s.agent.engine.addPeerPool(s.agentTn, range);
  return s;
}
/** What the node's DHCP clients sent, decoded (frames unwrapped). */
function sent(s) {
  return s.dhcp.poll().filter((o) => o.kind === "frame" || o.kind === "udp").map((o) => ({ ...s.dhcp.decode(o.kind === "frame" ? unframe(o.frame) : o.payload), via: o.kind, dst: o.dst }));
}
/** A session address from the server: DISCOVER, OFFER, REQUEST, ACK. */
function acquire(s, yiaddr, { lease = 600, t1 = 300, t2 = 525 } = {}) {
  const { tn, tnAddr, net } = s;
  const sess = tnAddr.acquire(net.now, "dhcp4");
  tn.pump();
  assert.is(tnAddr.info(sess).state, "pending");
  const [disc] = sent(s);
  assert.is(disc.type, "discover");
  const cid = [...disc.clientId];
  assert.ok(tnAddr.dhcpInput(net.now, reply({ type: 2, xid: disc.xid, yiaddr, lease, t1, t2, chaddr: MAC, server: SERVER, clientId: cid })) >= 0);
  const [req] = sent(s);
  assert.equal([req.type, req.requested], ["request", yiaddr]);
  assert.ok(tnAddr.dhcpInput(net.now, reply({ type: 5, xid: req.xid, yiaddr, lease, t1, t2, chaddr: MAC, server: SERVER, clientId: cid, mask: "255.255.255.0" })) >= 0);
  tn.pump();
  return { sess, cid, at: net.now };
}

test("a DHCP session address: pending, then ready and aliased /32 beside the base address; renewed at T1 on the engine's timer", () => {
  const s = setup();
  const { tn, tnAddr, net } = s;
  const { sess, cid, at } = acquire(s, "198.18.0.120");
  const i = tnAddr.info(sess);
  assert.equal([i.state, i.address, i.generator, i.expires], ["ready", "198.18.0.120", "dhcp4", at + 600e3]);
  assert.equal(addrEvents(tn).filter((e) => e.state !== "pending").map((e) => [e.session, e.state, e.address]), [[sess, "ready", "198.18.0.120"]]);
  assert.equal(addrMsgs(tn).map((m) => [m.type, m.prefix, m.ifindex, m.address]), [[RTM_NEWADDR, 32, 2, "198.18.0.120"]]);
  // T1: the engine's timer runs the client; the renewal goes unicast from the session address
  net.run(300e3 + 10);
  const [rn] = sent(s);
  assert.equal([rn.type, rn.via, rn.ciaddr, rn.dst], ["request", "udp", "198.18.0.120", SERVER]);
  assert.ok(tnAddr.dhcpInput(net.now, reply({ type: 5, xid: rn.xid, yiaddr: "198.18.0.120", lease: 600, t1: 300, t2: 525, chaddr: MAC, server: SERVER, clientId: cid })) >= 0);
  tn.pump();
  assert.ok(tnAddr.info(sess).expires >= at + 900e3, "the ACK moved the expiry");
  assert.is(addrMsgs(tn).length, 1, "no second alias");
  assert.is(tnAddr.info(sess).state, "ready");
});

test("a NAK ends the lease: expired, alias off; the other session address stays", () => {
  const s = setup();
  const { tn, tnAddr, net } = s;
  const a = acquire(s, "198.18.0.120", { lease: 120, t1: 10, t2: 100 });
  const b = acquire(s, "198.18.0.121", { lease: 600, t1: 300, t2: 525 });
  net.run(10e3 + 10);
  const [rn] = sent(s);
  assert.is(rn.ciaddr, "198.18.0.120");
  tnAddr.dhcpInput(net.now, reply({ type: 6, xid: rn.xid, chaddr: MAC, server: SERVER, clientId: a.cid }));
  tn.pump();
  assert.is(tnAddr.info(a.sess).state, "expired");
  assert.equal(addrMsgs(tn).at(-1), { type: RTM_DELADDR, prefix: 32, ifindex: 2, address: "198.18.0.120" });
  assert.is(tnAddr.info(b.sess).state, "ready");
  // a forged NAK (another client id) changes nothing
  assert.ok(tnAddr.dhcpInput(net.now, reply({ type: 6, xid: rn.xid, chaddr: MAC, server: SERVER, clientId: b.cid })) < 0);
  assert.is(tnAddr.info(b.sess).state, "ready");
});

test("release when the session ends here: DHCPRELEASE from the address to the server, alias off", () => {
  const s = setup();
  const { tn, tnAddr, net } = s;
  const { sess } = acquire(s, "198.18.0.130");
  tnAddr.release(net.now, sess);
  tn.pump();
  const [rl] = sent(s);
  assert.equal([rl.type, rl.via, rl.ciaddr, rl.serverId, rl.dst], ["release", "udp", "198.18.0.130", SERVER, SERVER]);
  assert.is(tnAddr.info(sess).state, "released");
  assert.equal(addrMsgs(tn).at(-1).type, RTM_DELADDR);
  assert.is(s.dhcp.nextTimeout(), undefined, "no client left");
});

test("a DHCP session address moves with a transfer: away, and this node no longer renews it", () => {
  const s = setup();
  const { tn, agent, tnAddr, net } = s;
  const { sess } = acquire(s, "198.18.0.140", { lease: 600, t1: 30, t2: 525 });
  const SA = "198.18.0.140";
  tn.sid.transfer(net.now, SA, s.tnTarget, { agent: s.tnAgent, lifetime: 30 });
  tn.pump();
  assert.ok(hostsDeliver({ ...s, TA: SA }), "the node was asked for the state record");
  net.run(2000);
  assert.is(agent.sid.session(SA).role, "agent", "the agent accepts it: the DHCP range is the node's pool there");
  assert.is(tnAddr.info(sess).state, "away");
  net.run(60e3);
  assert.equal(sent(s).filter((m) => m.type === "request"), [], "no renewal from the node after the handoff");
  assert.is(s.dhcp.nextTimeout(), undefined);
});

test.run();
