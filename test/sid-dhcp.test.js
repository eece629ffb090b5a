// The DHCPv4 generator behind the address registry (docs/PROTOCOL.md 8.18,
// 8.19) on the SIMULATED network of test/_sidsim.js, with a DHCP server
// written in the test (test/_dhcp.js): a session address from DHCP is
// aliased at READY (the base address stays), renewed at T1 on the engine's
// own timer, lost at a NAK (alias off), released when the session ends;
// with a transfer the lease record travels in the Address Lease extension:
// the target renews it with the node's client id from its own MAC and
// releases it as the last holder; a target without DHCP refuses (136).
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

test("a target that runs no DHCP generator refuses the lease (136, 8.18): the node keeps it and renews it", () => {
  const s = setup();
  const { tn, net, tnAddr } = s;
  const { sess } = acquire(s, "198.18.0.140", { lease: 600, t1: 30, t2: 525 });
  tn.sid.transfer(net.now, "198.18.0.140", s.tnTarget, { agent: s.tnAgent, lifetime: 30 });
  tn.pump();
  net.run(2000);
  assert.equal(tn.sidEvents("refused").map((e) => e.code), [136]);
  assert.is(tnAddr.info(sess).state, "ready");
  net.run(30e3);
  assert.equal(sent(s).map((m) => [m.type, m.ciaddr]), [["request", "198.18.0.140"]], "the node renews at T1");
});

test("the DHCP lease travels with the negotiation: the target renews it with the node's client id from its own MAC and, as the last holder, releases it", () => {
  const s = setup();
  const { tn, target, net, tnAddr } = s;
  const MAC_T = unhex("020000000a0c");
  const tAddr = new SidAddresses(target.engine);
  tAddr.enableDhcp(MAC_T);
  const tDhcp = new DhcpCore(target.engine.core);
  const { sess, cid } = acquire(s, "198.18.0.141", { lease: 600, t1: 30, t2: 525 });
  const SA = "198.18.0.141";
  tn.sid.transfer(net.now, SA, s.tnTarget, { agent: s.tnAgent, lifetime: 300 });
  tn.pump();
  assert.ok(hostsDeliver({ ...s, TA: SA }));
  net.run(2000);
  const nego = net.sent.find((d) => d.from === "tn" && d.data[1] === 16);
  const ext = tn.engine.core.decode(nego.data).extensions.find((e) => e.type === "ADDRESS_LEASE");
  assert.is(ext.generator, "DHCP4");
  assert.ok(ext.remaining > 590 && ext.remaining <= 600, `remaining ${ext.remaining}`);
  assert.ok(ext.state.startsWith("010f" + Buffer.from(cid).toString("hex")), "the 8.19 lease record with the node's client id");
  assert.equal(addrEvents(target).map((e) => [e.generator, e.state, e.address]), [["dhcp4", "ready", SA]]);
  assert.is(tnAddr.info(sess).state, "away");
  // T1 (30 s after the node's REQUEST): the target renews, the node does not
  net.run(30e3);
  const outs = tDhcp.poll().filter((o) => o.kind === "udp");
  assert.is(outs.length, 1);
  const rn = tDhcp.decode(outs[0].payload);
  assert.equal([rn.type, outs[0].src, outs[0].dst, Buffer.from(rn.clientId).toString("hex"), Buffer.from(rn.chaddr).toString("hex")],
    ["request", SA, SERVER, Buffer.from(cid).toString("hex"), "020000000a0c"]);
  assert.equal(sent(s).filter((m) => m.type === "request"), [], "no renewal from the node");
  assert.ok(tAddr.dhcpInput(net.now, reply({ type: 5, xid: rn.xid, yiaddr: SA, lease: 600, t1: 30, t2: 525, chaddr: MAC_T, server: SERVER, clientId: cid })) >= 0);
  target.pump();
  assert.equal(addrEvents(target).map((e) => e.state), ["ready", "ready"], "renewed");
  // the session ends at the target: it releases the lease; the node's lease ends without a second RELEASE
  target.sid.sessionEnded(net.now, SA);
  target.pump();
  // at once, before the deregistration is through: the agent still tunnels the address's packets
  const rel = tDhcp.poll().filter((o) => o.kind === "udp").map((o) => tDhcp.decode(o.payload));
  assert.is(s.agent.sid.session(SA)?.role, "agent", "the agent's binding still stands when the RELEASE goes");
  net.run(5000);
  assert.equal(rel.map((m) => [m.type, m.ciaddr, Buffer.from(m.clientId).toString("hex")]), [["release", SA, Buffer.from(cid).toString("hex")]]);
  assert.equal(sent(s), [], "the node sends nothing");
  assert.is(tnAddr.info(sess).state, "released");
});

test.run();
