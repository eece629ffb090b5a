// The agent's restart (docs/PROTOCOL.md 8.17) on a SIMULATED network
// (test/_sidsim.js): the agent's bindings saved by the core, a new agent
// process (a new core, the same configuration) takes them over; the target
// renews, replays stay refused, expiry times are kept, deregistration and
// the Wake-up still happen.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { trio, hostsDeliver, thirdTarget, restartAgent } from "./_sidsim.js";

/** A transfer of TA, released at the target, with lifetime L. */
function transferred(lifetime = 30) {
  const s = trio();
  s.tn.sid.transfer(s.net.now, s.TA, s.tnTarget, { agent: s.tnAgent, lifetime });
  s.tn.pump();
  assert.ok(hostsDeliver(s));
  s.net.run(2000);
  assert.is(s.target.sidEvents("released").length, 1);
  return s;
}

const bindingCount = (n) => n.sid.state(n.clock()).bindings.count;

test("a restarted agent takes its bindings over: no kernel action, the target renews, deregistration wakes the node", () => {
  const s = transferred(30);
  const { net, tn, agent, target, TA } = s;
  net.run(25000); // one renewal
  assert.is(agent.sidEvents("renewed").length, 2);
  const before = agent.sid.session(TA);
  const saved = agent.sid.saveBindings();
  assert.is(saved.length, 8 + 128);
  const agent2 = restartAgent(s, saved);
  assert.equal(agent2.sidEvents().map((e) => e.state), ["restored"]);
  assert.is(agent2.sidEvents("restored")[0].bindings, 1);
  assert.equal(agent2.netlink, [], "the tunnel and proxy entry of the previous run are taken over, not made again");
  assert.equal(agent2.nft, []);
  const after = agent2.sid.session(TA);
  assert.equal(after.sessionKey, before.sessionKey);
  assert.is(after.sessionSpi, before.sessionSpi);
  assert.is(after.vni, before.vni);
  assert.is(bindingCount(agent2), 1);
  // The target keeps renewing with the new process, over several lifetimes.
  net.run(60000);
  assert.ok(agent2.sidEvents("renewed").length >= 2, "renewals after the restart");
  assert.is(target.sidEvents("ended").length, 0);
  target.sid.sessionEnded(net.now, TA);
  target.pump();
  net.run(5000);
  assert.equal(agent2.sidEvents("ended").map((e) => e.reason), ["deregistered"]);
  // The tunnel of the previous run goes: link (17) and the proxy entry (29).
  assert.ok(agent2.netlinkTypes().includes(17) && agent2.netlinkTypes().includes(29));
  assert.is(tn.sidEvents("woken").length, 1, "the Wake-up still comes");
});

test("after a restart a Binding Update of before is a replay: dropped, the binding unchanged", () => {
  const s = transferred(30);
  const { net, agent, TA } = s;
  net.run(25000);
  const old = net.sent.filter((d) => d.from === "target" && d.data[1] === 20).at(-1);
  const saved = agent.sid.saveBindings();
  const agent2 = restartAgent(s, saved);
  const count = bindingCount(agent2);
  net.inject(agent2, old.source, old.data);
  assert.is(agent2.sidEvents("renewed").length, 0, "the replayed renewal renewed nothing");
  assert.ok(agent2.engine.state(net.now).counters.droppedBy.REPLAYED >= 1);
  assert.is(bindingCount(agent2), count);
});

test("expiry times are kept: a binding not renewed expires at its time after the restart, with the Wake-up", () => {
  const s = transferred(30);
  const { net, tn, agent, target, TA } = s;
  const saved = agent.sid.saveBindings();
  // The target is gone (no renewals), and the agent restarts after 10 s.
  net.nodes.splice(net.nodes.indexOf(target), 1);
  net.run(10000);
  const agent2 = restartAgent(s, saved);
  const t0 = s.agent.sidEvents("bound")[0].t;
  net.run(15000);
  assert.is(agent2.sidEvents("ended").length, 0, "not before its time");
  net.run(10000);
  const ended = agent2.sidEvents("ended");
  assert.equal(ended.map((e) => e.reason), ["expired"]);
  assert.ok(Math.abs(ended[0].t - (t0 + 30000)) <= 1000, `expired at ${ended[0].t - t0} ms, not 30 s after binding`);
  net.run(3000);
  assert.is(tn.sidEvents("woken").length, 1);
});

test("a restore refuses bad bytes (specific errors) and changes nothing; never into a table in use", () => {
  const s = transferred(30);
  const { net, agent, TA } = s;
  const saved = agent.sid.saveBindings();
  const agent2 = restartAgent(s, null);
  // The error codes (registry "errors"): 40 RECORD_TRUNCATED, 41 RECORD_VERSION, 43 RECORD_TRAILING_BYTES,
  // 18 BAD_FAMILY, 33 UNKNOWN_PEER, 31 BAD_VALUE, 34 BUSY.
  const code = (f) => {
    try {
      f();
    } catch (e) {
      return e.code;
    }
    return 0;
  };
  const refuse = (bytes, expected) => {
    assert.is(code(() => agent2.sid.restoreBindings(net.now, bytes)), expected);
    assert.is(bindingCount(agent2), 0);
    assert.is(agent2.sid.session(TA), null);
  };
  refuse(saved.slice(0, 7), 40);
  refuse(saved.slice(0, saved.length - 1), 40);
  refuse(new Uint8Array([...saved, 0]), 43);
  const magic = saved.slice();
  magic[0] ^= 1;
  refuse(magic, 41);
  const count = saved.slice();
  count[4] = 0xff;
  count[7] = 0x7f;
  refuse(count, 40);
  const fam = saved.slice();
  fam[8 + 1] = 9;
  refuse(fam, 18);
  const peer = saved.slice();
  peer[8 + 12] = 7;
  refuse(peer, 33);
  const vni = saved.slice();
  vni[8 + 8] ^= 1;
  refuse(vni, 31);
  const twice = new Uint8Array(8 + 256);
  twice.set(saved);
  twice.set(saved.subarray(8), 8 + 128);
  twice[4] = 2;
  refuse(twice, 31);
  assert.is(agent2.sid.restoreBindings(net.now, saved), 1);
  assert.is(code(() => agent2.sid.restoreBindings(net.now, saved)), 34);
  assert.is(bindingCount(agent2), 1);
});

test("the agent's own check: a further transfer under a binding without F is refused (140), though the target believes it has F", () => {
  // The target's pre-check (sid-engine.test.js) would refuse first; here its negotiation had F and the
  // agent's binding lost F (a bindings file with the flag cleared, taken over by a new agent process).
  const s = trio();
  const { net, tn, target, TA } = s;
  tn.sid.transfer(net.now, TA, s.tnTarget, { agent: s.tnAgent, lifetime: 30, further: true });
  tn.pump();
  assert.ok(hostsDeliver(s));
  net.run(2000);
  const saved = s.agent.sid.saveBindings();
  assert.is(saved[8 + 2] & 1, 1, "the saved binding has F");
  saved[8 + 2] &= ~1;
  const agent2 = restartAgent(s, saved);
  const { t3, tt3 } = thirdTarget(s);
  target.sid.transfer(net.now, TA, tt3, { further: true, lifetime: 30 });
  target.pump();
  net.run(1000);
  assert.is(target.sidEvents("state-requested").length, 1, "the target negotiated with t3");
  t3.sid.stateReceived(net.now, TA);
  t3.pump();
  target.sid.stateDelivered(net.now, TA);
  target.pump();
  net.run(2000);
  assert.equal(agent2.sidEvents("refused").map((e) => e.code), [140]);
  assert.equal(target.sidEvents("refused").map((e) => e.code), [140]);
  assert.is(agent2.sid.session(TA).sessionSpi, target.sid.session(TA).sessionSpi, "the binding still belongs to the first target");
  assert.is(t3.sidEvents("released").length, 0);
});

test.run();
