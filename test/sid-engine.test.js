// SID's state machines (docs/PROTOCOL.md section 8) on a SIMULATED network
// (test/_sidsim.js): the transferring node, the agent and the target on a
// virtual clock, kernel actions recorded, frames delivered by MAC.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { trio, hostsDeliver } from "./_sidsim.js";

test("a whole transfer: negotiation, record, Transfer Request, the parked Binding Update, release", () => {
  const s = trio();
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  const t0 = net.now;
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  assert.ok(hostsDeliver(s), "the node was asked for the state record");
  net.run(1000);
  assert.equal(tn.sidEvents().map((e) => e.state), ["negotiated", "state-requested", "transferred"]);
  assert.equal(agent.sidEvents().map((e) => e.state), ["bound", "renewed"]);
  assert.equal(target.sidEvents().map((e) => e.state), ["negotiated", "released", "bound"]);
  const released = target.sidEvents("released")[0];
  // Goal: at most one round trip node-agent (10 ms) plus 10 ms after the record is there.
  assert.ok(released.t - t0 <= 40, `released ${released.t - t0} ms after the call`);
  assert.is(tn.sidEvents("transferred")[0].lifetime, 30);
  // The agent claimed the address: link, fdb, neighbour, route, proxy entry, and 3 gratuitous ARPs.
  assert.equal(agent.netlinkTypes(), [16, 28, 28, 24, 28]);
  net.run(3000);
  assert.is(agent.frames.length, 3);
  assert.ok(agent.frames.every((f) => f.data[12] === 0x08 && f.data[13] === 0x06));
  // The target: address on lo, ARP and stop rules, tunnel and filter; the stop rule went at release.
  assert.equal(target.netlinkTypes(), [20, 16, 28]);
  assert.match(target.nft.join("\n"), /add rule inet hovsid si[0-9a-f]+ ip daddr 198\.18\.0\.10 drop/);
  assert.match(target.nft.at(-1), /delete chain inet hovsid si/);
  // The node: stop rule, then ARP rule.
  assert.match(tn.nft[0], /add chain inet hovsid si/);
  assert.match(tn.nft[1], /arp operation request arp daddr ip 198\.18\.0\.10 drop/);
  const ks = tn.sid.session(TA), kt = target.sid.session(TA), ka = agent.sid.session(TA);
  assert.equal(ks.sessionKey, kt.sessionKey);
  assert.equal(ks.sessionKey, ka.sessionKey);
  assert.is(ka.vni, kt.vni);
  assert.is(ka.role, "agent");
});

test.run();
