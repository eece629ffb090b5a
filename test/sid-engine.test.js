// SID's state machines (docs/PROTOCOL.md section 8) on a SIMULATED network
// (test/_sidsim.js): the transferring node, the agent and the target on a
// virtual clock, kernel actions recorded, frames delivered by MAC.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { trio, hostsDeliver, thirdTarget, restartAgent, KEY_TN_AGENT, KEY_TN_TARGET, SimQueue } from "./_sidsim.js";
import { SidCodec } from "../dist/hosts/shared/index.js";
import { prng } from "./_sim.js";

test("a whole transfer: negotiation, record, Transfer Request, the parked Binding Update, release", () => {
  const s = trio();
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  const t0 = net.now;
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  assert.ok(hostsDeliver(s), "the node was asked for the state record");
  net.run(1000);
  assert.equal(tn.sidEvents().map((e) => e.state), ["state-requested", "negotiated", "transferred"]);
  assert.equal(agent.sidEvents().map((e) => e.state), ["bound", "renewed"]);
  assert.equal(target.sidEvents().map((e) => e.state), ["negotiated", "released", "bound"]);
  const released = target.sidEvents("released")[0];
  // Goal: at most one round trip node-agent (10 ms) plus 10 ms after the record is there.
  assert.ok(released.t - t0 <= 40, `released ${released.t - t0} ms after the call`);
  // 8.2: the Transfer Request went with the record, not after it: the agent bound before the record was in.
  assert.ok(agent.sidEvents("bound")[0].t <= s.deliveredAt + 5, `bound at ${agent.sidEvents("bound")[0].t - t0} ms, the record at ${s.deliveredAt - t0} ms`);
  assert.is(tn.sidEvents("transferred")[0].lifetime, 30);
  // The agent claimed the address: link, fdb, neighbour, route, proxy entry, and 3 gratuitous ARPs.
  assert.equal(agent.netlinkTypes(), [16, 28, 28, 24, 28]);
  net.run(3000);
  assert.is(agent.frames.filter((f) => f.data[12] === 0x08 && f.data[13] === 0x06).length, 3, "three gratuitous ARPs");
  // The Transfer Reply goes to the node as a frame: the agent's own route for the address leads into the tunnel now.
  assert.equal(udpFrames(agent).map((f) => f.data[43]), [19]);
  assert.is(s.net.sent.filter((d) => d.from === "agent" && d.data[1] === 19).length, 0);
  // The target: address on lo, ARP and stop rules, tunnel and filter; the stop rule went at release.
  assert.equal(target.netlinkTypes(), [20, 16, 28]);
  assert.match(target.nft.join("\n"), /add rule inet hovsid si[0-9a-f]+ ip daddr 198\.18\.0\.10 drop/);
  assert.match(target.nft.at(-1), /delete chain inet hovsid si/);
  // The node: stop rule with its hand-on chain (8.12, the hold at the node), the hand-on to the agent at the
  // Transfer Reply, then the ARP rule.
  assert.match(tn.nft[0], /add chain inet hovsid si/);
  assert.match(tn.nft[0], /add chain ip hovsid sfc612000a \{ type filter hook input priority -160;/);
  assert.match(tn.nft[1], /dup to 198\.18\.0\.1 drop/);
  assert.match(tn.nft[2], /arp operation request arp daddr ip 198\.18\.0\.10 drop/);
  const ks = tn.sid.session(TA), kt = target.sid.session(TA), ka = agent.sid.session(TA);
  assert.equal(ks.sessionKey, kt.sessionKey);
  // 8.11: the agent keeps the binding key K_b, derived once from the session key, in its place.
  assert.equal(new SidCodec(tn.engine.core).bindingKey(ks.sessionKey), ka.sessionKey);
  assert.is(ka.vni, kt.vni);
  assert.is(ka.role, "agent");
});

const NFQ_CONFIG = (3 << 8) | 2, NFQ_VERDICT_BATCH = (3 << 8) | 3, NFNL_BATCH_BEGIN = 16;
const latin1 = (b) => String.fromCharCode(...b);
/** A VERDICT_BATCH request's verdict (1 accept, 0 drop): NFQA_VERDICT_HDR after nlmsghdr, nfgenmsg and the attribute header. */
const verdictOf = (b) => new DataView(b.buffer, b.byteOffset).getUint32(24, false);

test("the agent's renewed event is a RENEWED output (6, no JSON text); the host makes the same event of it", () => {
  const s = trio();
  const { net, tn, agent, tnTarget, tnAgent, TA } = s;
  const kinds = [];
  // (the exports are frozen: the engine reads them through an object that counts the kinds polled)
  const x = agent.engine.x;
  agent.engine.x = Object.create(x, { poll_output: { value: () => { const k = x.poll_output(); if (k) kinds.push(k); return k; } } });
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  hostsDeliver(s);
  net.run(1000);
  agent.engine.x = x;
  const renewed = agent.sidEvents("renewed");
  assert.is(renewed.length, 1);
  assert.ok(kinds.includes(6), `output kinds ${kinds}`);
  assert.equal(Object.keys(renewed[0]), ["event", "t", "state", "role", "address", "lifetime"]);
  assert.equal({ ...renewed[0], t: 0 }, { event: "sid", t: 0, state: "renewed", role: "agent", address: TA, lifetime: 30 });
  // t to the microsecond, as the JSON events write it.
  assert.is(renewed[0].t, Math.round(renewed[0].t * 1000) / 1000);
  assert.ok(renewed[0].t >= agent.sidEvents("bound")[0].t);
});

test("the target's hold (8.12): its stop rule queues the address's packets into SID's own queue and accepts them after the release", () => {
  const s = trio();
  const { net, tn, target, tnTarget, tnAgent, TA } = s;
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  assert.ok(hostsDeliver(s));
  net.run(1000);
  assert.is(target.sidEvents("released").length, 1);
  const text = target.nft.join("\n");
  // The hold chain, and the input chain's jump to it before its drop.
  assert.match(text, /add chain inet hovsid shc612000a\n/);
  const jump = text.indexOf("add rule inet hovsid sic612000a ip daddr 198.18.0.10 jump shc612000a");
  const drop = text.indexOf("add rule inet hovsid sic612000a ip daddr 198.18.0.10 drop");
  assert.ok(jump > 0 && drop > jump, "the jump to the hold chain comes before the drop");
  // Netfilter: the queue bound (SID's own number, STEM's + 1), the xt NFQUEUE rule in the hold chain, the verdict.
  assert.equal(target.netfilterTypes(), [NFQ_CONFIG, NFNL_BATCH_BEGIN, NFQ_VERDICT_BATCH]);
  const [config, rule, verdict] = target.netfilter;
  assert.is(new DataView(config.buffer, config.byteOffset).getUint16(18, false), 4347, "queue 4347");
  assert.ok(/hovsid/.test(latin1(rule)) && /shc612000a/.test(latin1(rule)) && /NFQUEUE/.test(latin1(rule)), "the queue rule goes in the hold chain");
  assert.is(new DataView(verdict.buffer, verdict.byteOffset).getUint16(18, false), 4347);
  assert.is(verdictOf(verdict), 1, "accept");
  // Order at the release: the event (the host resumes the socket), the chains go, then the verdict.
  const o = target.order;
  const ev = o.indexOf("event:released");
  const del = o.findIndex((k, i) => i > ev && k === "nft:flush chain inet hovsid sic612000a");
  const v = o.lastIndexOf("netlink12");
  assert.ok(ev >= 0 && del > ev && v > del, o.join(", "));
  // The chains are emptied before the verdict and deleted only after it: a base chain's removal flushes every
  // queue of the namespace (the kernel's nf_queue_nf_hook_drop), which would drop what the hold kept.
  assert.match(target.nft.at(-1), /delete chain inet hovsid shc612000a/);
  assert.ok(o.lastIndexOf("nft:flush chain inet hovsid sic612000a") > v, o.join(", "));
  assert.ok(!target.nft.slice(0, -1).some((b) => /delete chain inet hovsid s[ioh]c612000a/.test(b)), "no chain deleted before the verdict");
  // The node holds in a queue of its own (8.12, the hold at the node), not the target's chain.
  assert.ok(!/jump sh/.test(tn.nft.join("\n")));
  assert.is(target.sid.state(net.now).held, 0);
});

test("the target's hold: a hosting that ends unreleased drops what its queue held (no socket would take it)", () => {
  const s = trio();
  const { net, tn, target, tnTarget, tnAgent, TA } = s;
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  net.run(50);
  assert.is(target.sidEvents("negotiated").length, 1);
  target.sid.stateReceived(net.now, TA, false);
  target.pump();
  assert.is(target.sidEvents("released").length, 0);
  assert.equal(target.netfilterTypes(), [NFQ_CONFIG, NFNL_BATCH_BEGIN, NFQ_VERDICT_BATCH]);
  assert.is(verdictOf(target.netfilter[2]), 0, "drop");
  assert.match(target.nft.join("\n"), /delete chain inet hovsid shc612000a/);
});

/** A transfer of TA that has completed (the target released), with lifetime L. */
function transferred(opts = {}, lifetime = 30) {
  const s = trio(opts.net);
  s.tn.sid.transfer(s.net.now, s.TA, s.tnTarget, { agent: s.tnAgent, lifetime, further: opts.further, reverse: opts.reverse });
  s.tn.pump();
  assert.ok(hostsDeliver(s), "the node was asked for the state record");
  s.net.run(2000);
  assert.is(s.target.sidEvents("released").length, 1, "the target released the socket");
  return s;
}

function bindingCount(n) {
  return n.sid.state(n.clock()).bindings.count;
}

/** Frames carrying UDP (a message: its type at byte 43) a node sent. */
function udpFrames(n) {
  return n.frames.filter((f) => f.data[12] === 0x08 && f.data[13] === 0x00);
}

/** The VERDICT_BATCH messages for everything queued (an id 2^30 past the last seen): a hold's end. */
function fullVerdicts(n) {
  return n.netfilter.filter((b) => {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return v.getUint16(4, true) === 771 && v.getUint32(28, false) >= 0x40000000;
  });
}

/** Wake-up frames the agent sent. */
function wakeFrames(n) {
  return udpFrames(n).filter((f) => f.data[43] === 22);
}

test("renewals over several lifetimes keep the binding; the target renews at two thirds", () => {
  const s = transferred({}, 30);
  const { net, agent, target } = s;
  net.run(200000);
  const renewed = target.sidEvents("renewed");
  assert.ok(renewed.length >= 9 && renewed.length <= 10, `renewed ${renewed.length} times in 200 s`);
  for (let i = 1; i < renewed.length; i++) {
    const gap = renewed[i].t - renewed[i - 1].t;
    assert.ok(gap >= 19900 && gap <= 20100, `renewal gap ${gap} ms`);
  }
  assert.is(agent.sidEvents("ended").length, 0);
  assert.is(bindingCount(agent), 1);
});

test("a binding that is not renewed expires: everything undone, Wake-up frame, the node claims its address", () => {
  const s = transferred({}, 30);
  const { net, tn, agent, target } = s;
  const t0 = net.now;
  net.filter = (d) => d.from !== "target"; // the target goes silent
  net.run(40000);
  const ended = agent.sidEvents("ended");
  assert.is(ended.length, 1);
  assert.is(ended[0].reason, "expired");
  assert.ok(ended[0].t - t0 <= 30000, "expired within the lifetime");
  assert.is(bindingCount(agent), 0);
  // Undone at the Wake-up's Ack (8.4: the claim stands until then): proxy entry (29), route (25), link (17).
  assert.equal(agent.netlinkTypes().slice(-3), [29, 25, 17]);
  assert.ok(wakeFrames(agent).length >= 1, "the Wake-up went as a frame to the node's MAC");
  assert.is(tn.sidEvents("woken").length, 1);
  assert.match(tn.nft.join("\n"), /delete chain arp hovsid ai/);
  assert.is(agent.sidEvents("woken").length, 1, "the agent got the Wake-up Ack");
  void target;
});

test("the Wake-up is retransmitted until acknowledged, and given up after the retry limit", () => {
  const s = transferred({}, 30);
  const { net, tn, agent } = s;
  let dropped = 0;
  net.filter = (d) => {
    if (d.from === "target") return false;
    if (d.from === "tn" && dropped < 2) return (dropped++, false); // the first two Wake-up Acks are lost
    return true;
  };
  net.run(40000);
  assert.ok(wakeFrames(agent).length >= 3, `${wakeFrames(agent).length} Wake-up frames`);
  assert.is(agent.sidEvents("woken").length, 1);
  // And with every Ack lost: the agent gives up after 7 transmissions.
  const s2 = transferred({}, 30);
  s2.net.filter = (d) => d.from !== "target" && d.from !== "tn";
  s2.net.run(60000);
  assert.is(wakeFrames(s2.agent).length, 7);
  const refused = s2.agent.sidEvents("refused");
  assert.is(refused.length, 1);
  assert.is(refused[0].error, "TIMED_OUT");
  void tn;
});

test("the session ends at the target: Binding Update 0, removal, Wake-up", () => {
  const s = transferred({}, 30);
  const { net, tn, agent, target, TA } = s;
  target.sid.sessionEnded(net.now, TA);
  target.pump();
  net.run(5000);
  assert.equal(agent.sidEvents("ended").map((e) => e.reason), ["deregistered"]);
  assert.equal(target.sidEvents("ended").map((e) => e.reason), ["deregistered"]);
  // The target removed its tunnel (17) and the address on lo (21).
  assert.ok(target.netlinkTypes().includes(17) && target.netlinkTypes().at(-1) === 21);
  assert.is(tn.sidEvents("woken").length, 1);
  assert.is(target.sid.session(TA), null);
  assert.is(tn.sid.session(TA), null);
});

test("8.4, whole-address mode: the binding's end (deregistration) holds the address's packets in a queue at the agent until the Wake-up's Ack, then repeats them on to the node; the chains go after", () => {
  const s = transferred({}, 30);
  const { net, agent, target, TA } = s;
  const nftBefore = agent.nft.length;
  const netfilterBefore = agent.netfilter.length;
  target.sid.sessionEnded(net.now, TA);
  target.pump();
  net.run(5000);
  assert.equal(agent.sidEvents("ended").map((e) => e.reason), ["deregistered"]);
  const nft = agent.nft.slice(nftBefore);
  const hold = nft.find((t) => /add chain inet hovsid wkc612000a/.test(t));
  assert.ok(hold, `the hold chains: ${nft.join("\n---\n")}`);
  assert.match(hold, /add chain inet hovsid wkc612000a \{ type filter hook prerouting priority -150; policy accept; \}/);
  assert.match(hold, /add rule inet hovsid wkc612000a ip daddr 198\.18\.0\.10 counter jump wqc612000a\n/);
  // Before the Wake-up: the proxy entry and the tunnel go, the hold comes (its queue rule as netlink), then the frame.
  const order = agent.order;
  const frame = order.lastIndexOf("frame", order.lastIndexOf("event:woken"));
  const held = order.lastIndexOf("nft:add table inet hovsid", frame);
  assert.ok(held >= 0 && order[held + 1] === "netlink12" && order.indexOf("event:ended", held) < frame, `the hold, then the Wake-up: ${order.slice(held - 3)}`);
  // The hold stands before the target has its Binding Ack (the target gives the address up at it).
  assert.is(order[held + 2], "transmit", `the hold, then the Binding Ack: ${order.slice(held - 3, held + 4)}`);
  // The claim stands until the Ack (the proxy entry answers ARP only for an address routed through another link: the
  // tunnel's route): nothing of it goes before the Wake-up; at the Ack the proxy entry (29), then the link (17).
  const rt = agent.netlinkTypes();
  assert.equal(rt.slice(-3), [29, 25, 17], `at the Ack the proxy entry, the route, (the verdict,) the link: ${rt}`);
  assert.is(order.slice(held, frame).filter((x) => x === "netlink0").length, 0, `no kernel change of the claim before the Wake-up: ${order.slice(held, frame)}`);
  const ackAt = agent.order.lastIndexOf("event:woken");
  assert.ok(agent.order.indexOf("netlink0", ackAt) < agent.order.indexOf("nft:flush chain inet hovsid wkc612000a", ackAt), "the claim goes before the held packets are repeated");
  const types = agent.netfilterTypes().slice(netfilterBefore);
  assert.ok(types.includes(16), `the queue rule: ${types}`);
  // At the Ack: the base chain emptied, then the repeat verdict (NF_REPEAT); the chains deleted after it.
  assert.is(agent.sidEvents("woken").length, 1);
  assert.is(types[types.length - 1], 771, `a verdict last: ${types}`);
  const v = agent.netfilter[agent.netfilter.length - 1];
  assert.is(new DataView(v.buffer, v.byteOffset).getUint32(16 + 4 + 4, false), 4, "NF_REPEAT");
  const after = agent.order.slice(agent.order.lastIndexOf("event:woken"));
  const flush = after.indexOf("nft:flush chain inet hovsid wkc612000a");
  assert.ok(flush > 0 && after.indexOf("netlink12") > flush, `emptied, then repeated: ${after}`);
  assert.match(agent.nft.at(-1), /flush chain inet hovsid wkc612000a\ndelete chain inet hovsid wkc612000a\nflush chain inet hovsid wqc612000a\ndelete chain inet hovsid wqc612000a\n/, "both chains deleted after the verdict");
  assert.is(fullVerdicts(agent).length, 1, "one verdict for everything queued: the hold ended once");
});

test("8.4, whole-address mode: the agent releases its Wake-up hold in steps (at most 16 packets every 4 ms, in order, each once), the first at the Ack, then one verdict for everything; the tunnel's link and the chains after it", () => {
  const s = transferred({}, 30);
  const { net, agent, target, TA } = s;
  const q = (agent.kernelQueue = new SimQueue(4346 + 2)); // the node's queue (sid/hold.ts): SID's queue + 1
  let acks = false;
  net.filter = (d) => acks || d.from !== "tn"; // the node's Wake-up Acks wait
  target.sid.sessionEnded(net.now, TA);
  target.pump();
  net.run(50);
  assert.equal(agent.sidEvents("ended").map((e) => e.reason), ["deregistered"]);
  q.add(40); // what reaches the agent for the address while the Wake-up goes unanswered
  acks = true;
  net.run(5000);
  const woken = agent.sidEvents("woken");
  assert.is(woken.length, 1, "the Wake-up's retransmission was acknowledged");
  const steps = q.releases;
  const sizes = steps.map((r) => r.ids.length);
  assert.equal(steps.flatMap((r) => r.ids), Array.from({ length: 40 }, (_, i) => i + 1), `each held packet released once, in order: ${sizes}`);
  assert.ok(steps.length >= 3 && sizes.every((n) => n <= 16), `in steps: ${sizes}`);
  assert.ok(steps.every((r) => r.verdict === 4), "NF_REPEAT: they run the emptied chain and go on to the node");
  assert.ok(steps[0].at - woken[0].t < 4, `the first step at the Ack: ${steps[0].at - woken[0].t} ms`);
  for (let i = 1; i < steps.length; i++) assert.ok(steps[i].at - steps[i - 1].at >= 4, `4 ms between steps: ${steps.map((r) => r.at - woken[0].t)}`);
  assert.is(fullVerdicts(agent).length, 1, "one verdict for everything still queued, at the end");
  const order = agent.order;
  const full = order.lastIndexOf("netlink12");
  assert.ok(order.indexOf("netlink0", full) > full, `the tunnel's link after the last verdict: ${order.slice(full)}`);
  assert.match(agent.nft.at(-1), /delete chain inet hovsid wkc612000a\n/, "the chains deleted after the last verdict");
  assert.is(agent.netlinkTypes().at(-1), 17);
});

/**
 * Two transfers through one agent to one target: tn's address TA, then a second node tn2's TA2 (its own SAs),
 * both completed (released at the target).
 */
function twoHosted({ reverse = false } = {}) {
  const s = trio();
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  const tn2 = net.node("tn2", ["198.18.0.11"]).link();
  const TA2 = "198.18.0.11";
  const k2t = new Uint8Array(32).fill(0x55), k2a = new Uint8Array(32).fill(0x66);
  const t2Target = tn2.peer(target, { key: k2t, spi: 330 });
  const t2Agent = tn2.peer(agent, { key: k2a, spi: 331 });
  target.peer(tn2, { key: k2t, spi: 330 });
  agent.peer(tn2, { key: k2a, spi: 331 });
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30, reverse });
  tn.pump();
  assert.ok(hostsDeliver(s));
  net.run(2000);
  tn2.sid.transfer(net.now, TA2, t2Target, { agent: t2Agent, lifetime: 30, reverse });
  tn2.pump();
  assert.ok(hostsDeliver({ ...s, tn: tn2, TA: TA2, usedEvents: s.usedEvents }));
  net.run(2000);
  assert.is(target.sidEvents("released").length, 2, "both sessions at the target");
  return { ...s, tn2, TA2 };
}

/** A netlink message's type and its attributes after a header of `header` bytes: {type, attrs: {type: bytes}}. */
function netlinkAttrs(b, header) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const attrs = {};
  for (let o = 16 + header; o + 4 <= v.getUint32(0, true); ) {
    const len = v.getUint16(o, true);
    if (len < 4) break;
    attrs[v.getUint16(o + 2, true) & 0x3fff] = b.subarray(o + 4, o + len);
    o += (len + 3) & ~3;
  }
  return { type: v.getUint16(4, true), attrs };
}

test("8.9 step 4: a target holding two reverse-tunnelled sessions through one agent routes each one's return into its own tunnel, a routing table per binding (in one table the second default route replaced the first: both sessions' returns left by the second's device, whose agent end admits only its own address)", () => {
  const s = twoHosted({ reverse: true });
  const { target, TA, TA2 } = s;
  const u32 = (x) => new DataView(x.buffer, x.byteOffset, 4).getUint32(0, true);
  const msgs = target.netlink.map((b) => netlinkAttrs(b, 12));
  // RTM_NEWROUTE without RTA_DST (1): the default routes; RTA_OIF 4, RTA_TABLE 15. RTM_NEWRULE: FRA_SRC 2, FRA_TABLE 15.
  const defaults = msgs.filter((m) => m.type === 24 && !m.attrs[1]).map((m) => ({ oif: u32(m.attrs[4]), table: u32(m.attrs[15]) }));
  const rules = msgs.filter((m) => m.type === 32).map((m) => ({ src: [...m.attrs[2]].join("."), table: u32(m.attrs[15]) }));
  assert.equal(rules.map((r) => r.src), [TA, TA2]);
  assert.is.not(rules[0].table, rules[1].table, `a table per binding: ${JSON.stringify(rules)}`);
  for (const [a, r] of [[TA, rules[0]], [TA2, rules[1]]]) {
    const device = target.sid.session(a).tunnelIfindex;
    assert.equal(defaults.filter((d) => d.table === r.table).map((d) => d.oif), [device], `${a}'s table routes into its own tunnel`);
    assert.ok(r.table >= 4346 && r.table !== 253 && r.table !== 254 && r.table !== 255, `table ${r.table}`);
  }
  // And each goes with its own binding: the first session's end removes its rule only.
  target.sid.sessionEnded(s.net.now, TA);
  target.pump();
  s.net.run(5000);
  const removed = target.netlink.map((b) => netlinkAttrs(b, 12)).filter((m) => m.type === 33).map((m) => ({ src: [...m.attrs[2]].join("."), table: u32(m.attrs[15]) }));
  assert.equal(removed, [rules[0]]);
});

test("8.3: a target hosting two sessions through one agent renews both over several lifetimes and deregisters both: its session peers for that agent number their messages from one counter, as the agent keeps one replay window for the target", () => {
  const s = twoHosted();
  const { net, agent, target, TA, TA2 } = s;
  agent.engine.option("debug", 1);
  const renewals = (a) => agent.sidEvents("renewed").filter((e) => e.address === a).length;
  const before = [renewals(TA), renewals(TA2)];
  net.run(100000); // three lifetimes of 30 s: renewed at two thirds
  assert.ok(renewals(TA) - before[0] >= 4 && renewals(TA2) - before[1] >= 4, `renewals of each: ${[renewals(TA) - before[0], renewals(TA2) - before[1]]}`);
  assert.equal(agent.sidEvents("ended"), [], "neither binding expired");
  target.sid.sessionEnded(net.now, TA);
  target.sid.sessionEnded(net.now, TA2);
  target.pump();
  net.run(5000);
  assert.equal(agent.sidEvents("ended").map((e) => [e.address, e.reason]).sort(), [[TA, "deregistered"], [TA2, "deregistered"]]);
  assert.equal(target.sidEvents("ended").map((e) => [e.address, e.reason]).sort(), [[TA, "deregistered"], [TA2, "deregistered"]]);
  const dropped = agent.events.filter((e) => e.event === "dropped").map((e) => e.error);
  assert.equal(dropped, [], `nothing of the target's dropped by the agent: ${dropped}`);
});

test("8.4, whole-address mode: two Wake-up holds at one agent whose Acks come 0.5 ms apart: one stepped release takes both, each held packet once and in order, then one verdict; both holds' chains go", () => {
  const s = twoHosted();
  const { net, tn, agent, target, TA, tn2, TA2 } = s;
  const q = (agent.kernelQueue = new SimQueue(4346 + 2)); // one queue for every hold of the agent (sid/hold.ts)
  let acks = false;
  net.filter = (d) => acks || (d.from !== "tn" && d.from !== "tn2"); // the nodes' Wake-up Acks wait
  target.sid.sessionEnded(net.now, TA);
  target.pump();
  net.run(0.5);
  target.sid.sessionEnded(net.now, TA2);
  target.pump();
  net.run(50);
  assert.equal(agent.sidEvents("ended").map((e) => e.reason), ["deregistered", "deregistered"]);
  q.add(40); // for both addresses, interleaved as they come
  acks = true;
  net.run(5000);
  const woken = agent.sidEvents("woken");
  assert.is(woken.length, 2, "both Wake-ups acknowledged");
  assert.ok(Math.abs(woken[1].t - woken[0].t) <= 1, `the Acks within 1 ms: ${woken.map((e) => e.t - woken[0].t)}`);
  const steps = q.releases;
  const sizes = steps.map((r) => r.ids.length);
  assert.equal(steps.flatMap((r) => r.ids), Array.from({ length: 40 }, (_, i) => i + 1), `each held packet released once, in order: ${sizes}`);
  assert.ok(sizes.every((n) => n <= 16) && steps.length >= 3, `in steps of at most 16: ${sizes}`);
  for (let i = 1; i < steps.length; i++) assert.ok(steps[i].at - steps[i - 1].at >= 4, `4 ms between steps: ${steps.map((r) => r.at - woken[0].t)}`);
  assert.is(fullVerdicts(agent).length, 1, "one verdict for everything still queued, at the end of the one release");
  const nft = agent.nft.join("\n");
  for (const hex of ["c612000a", "c612000b"]) assert.match(nft, new RegExp(`delete chain inet hovsid wk${hex}\n`), `hold ${hex}'s chains deleted`);
  assert.is(nft.match(/delete chain inet hovsid wk/g).length, 2, "each hold's chains deleted once");
  assert.equal([tn, tn2].map((n) => n.sidEvents("woken").length), [1, 1], "both nodes have their addresses back");
});

test("8.4, whole-address mode: a Wake-up never acknowledged ends the agent's hold at its give-up (repeated on, chains deleted); a Stop Transfer holds nothing", () => {
  const s = transferred({}, 30);
  s.net.filter = (d) => d.from !== "target" && d.from !== "tn";
  s.net.run(60000);
  assert.is(s.agent.sidEvents("refused")[0]?.error, "TIMED_OUT");
  assert.is(fullVerdicts(s.agent).length, 1, "the repeat verdict at the give-up");
  assert.match(s.agent.nft.at(-1), /delete chain inet hovsid wqc612000a/);
  const s2 = transferred({}, 30);
  assert.is(s2.tn.sid.stop(s2.net.now, s2.TA), undefined);
  s2.tn.pump();
  s2.net.run(3000);
  assert.equal(s2.agent.sidEvents("ended").map((e) => e.reason), ["stopped"]);
  assert.ok(!s2.agent.nft.some((t) => /hovsid wk/.test(t)), "no hold: the Stop Transfer Reply is the node's signal, no Wake-up follows");
});

test("Stop Transfer ends the binding at once, without a Wake-up; the target can never renew it", () => {
  const s = transferred({}, 30);
  const { net, tn, agent, target, TA } = s;
  tn.sid.stop(net.now, TA);
  tn.pump();
  net.run(1000);
  assert.is(tn.sidEvents("stopped").length, 1);
  assert.equal(agent.sidEvents("ended").map((e) => e.reason), ["stopped"]);
  assert.is(wakeFrames(agent).length, 0);
  assert.ok(udpFrames(agent).some((f) => f.data[43] === 25), "the Stop Transfer Reply went as a frame");
  assert.is(bindingCount(agent), 0);
  // The target's renewals find no binding: never answered, never renewed.
  const renewedBefore = agent.sidEvents("renewed").length;
  net.run(60000);
  assert.is(agent.sidEvents("renewed").length, renewedBefore);
  assert.is(bindingCount(agent), 0);
  assert.equal(target.sidEvents("ended").map((e) => e.reason), ["expired"]);
});

test("refusals: an address the node does not own (129), a node that is no target (129), reverse not allowed (129)", () => {
  let s = trio();
  s.tn.sid.transfer(s.net.now, "198.18.0.11", s.tnTarget, { agent: s.tnAgent });
  s.tn.pump();
  s.net.run(1000);
  s.target.sid.stateReceived(s.net.now, "198.18.0.11");
  s.tn.sid.stateDelivered(s.net.now, "198.18.0.11");
  s.tn.pump();
  s.target.pump();
  s.net.run(1000);
  assert.equal(s.tn.sidEvents("refused").map((e) => e.code), [129]);
  assert.is(bindingCount(s.agent), 0);

  s = trio();
  s.target.engine.option("sidTarget", 0);
  s.tn.sid.transfer(s.net.now, s.TA, s.tnTarget, { agent: s.tnAgent });
  s.tn.pump();
  s.net.run(1000);
  assert.equal(s.tn.sidEvents("refused").map((e) => e.code), [129]);
  assert.is(s.target.netlink.length, 0, "a refusal changes nothing in the kernel");

  s = trio();
  s.target.engine.option("sidAllowReverse", 0);
  s.tn.sid.transfer(s.net.now, s.TA, s.tnTarget, { agent: s.tnAgent, reverse: true });
  s.tn.pump();
  s.net.run(1000);
  assert.equal(s.tn.sidEvents("refused").map((e) => e.code), [129]);
});

test("refusal 142: a session key that does not unwrap, under a valid authenticator", () => {
  const s = trio();
  const { net, tn, agent, tnTarget, tnAgent, TA } = s;
  const core = tn.engine.core;
  net.filter = (d) => {
    if (d.from !== "tn" || d.data[1] !== 18) return true;
    const m = core.decode(d.data);
    const sk = m.extensions.find((e) => e.type === "SESSION_KEY");
    sk.tag = (sk.tag[0] === "0" ? "1" : "0") + sk.tag.slice(1);
    d.data.set(core.encode(m, { spi: 301, key: KEY_TN_AGENT }));
    return true;
  };
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent });
  tn.pump();
  hostsDeliver(s);
  net.run(1000);
  assert.equal(tn.sidEvents("refused").map((e) => e.code), [142]);
  assert.is(bindingCount(agent), 0);
});

/** A second node "other" (198.18.0.12) and a second target "t2", configured at the agent and at t2. */
function addOther(s) {
  const { net, agent } = s;
  const other = net.node("other", ["198.18.0.12"]).link();
  const t2 = net.node("t2", ["198.19.0.30"]).link();
  t2.engine.option("sidTarget", 1);
  const op = other.peer(agent, { key: new Uint8Array(32).fill(0x33), spi: 310 });
  const ot = other.peer(t2, { key: new Uint8Array(32).fill(0x34), spi: 311 });
  const ao = agent.peer(other, { key: new Uint8Array(32).fill(0x33), spi: 310 });
  t2.peer(other, { key: new Uint8Array(32).fill(0x34), spi: 311 });
  return { other, t2, op, ot, ao };
}

function otherTransfers(s, o, address) {
  const { net } = s;
  o.other.sid.transfer(net.now, address, o.ot, { agent: o.op });
  o.other.pump();
  net.run(1000);
  o.t2.sid.stateReceived(net.now, address);
  o.t2.pump();
  o.other.sid.stateDelivered(net.now, address);
  o.other.pump();
  net.run(1000);
}

test("refusal 143: an address bound to a target already", () => {
  const s = transferred({}, 30);
  const o = addOther(s);
  s.agent.engine.addPeerAddress(o.ao, s.TA); // "other" may claim TA too, but TA is bound
  otherTransfers(s, o, s.TA);
  assert.equal(o.other.sidEvents("refused").map((e) => e.code), [143]);
  assert.is(bindingCount(s.agent), 1);
  assert.is(s.agent.sid.session(s.TA).sessionSpi, s.target.sid.session(s.TA).sessionSpi, "the binding is unchanged");
});

test("refusal 130: the binding table is full (sidBindings)", () => {
  const s = trio();
  s.agent.engine.option("sidBindings", 1);
  const o = addOther(s);
  s.tn.sid.transfer(s.net.now, s.TA, s.tnTarget, { agent: s.tnAgent });
  s.tn.pump();
  hostsDeliver(s);
  s.net.run(1000);
  assert.is(bindingCount(s.agent), 1);
  otherTransfers(s, o, "198.18.0.12");
  assert.equal(o.other.sidEvents("refused").map((e) => e.code), [130]);
  assert.is(bindingCount(s.agent), 1);
});

/** The target "target" holds TA (with F or not) and moves it on to t3 through the same agent (8.6). */
function further(permitted) {
  const s = transferred({ further: permitted }, 30);
  const { net, agent, target, TA } = s;
  const { t3, tt3 } = thirdTarget(s);
  target.sid.transfer(net.now, TA, tt3, { further: true, lifetime: 30 });
  target.pump();
  net.run(1000);
  assert.is(target.sidEvents("state-requested").length, 1);
  t3.sid.stateReceived(net.now, TA);
  t3.pump();
  target.sid.stateDelivered(net.now, TA);
  target.pump();
  net.run(2000);
  return { ...s, t3 };
}

test("a further transfer with F: the agent replaces the binding; the new target is bound, the old one is done", () => {
  const s = further(true);
  const { net, agent, target, t3, tn, TA } = s;
  assert.equal(agent.sidEvents("bound").map((e) => e.further), [false, true]);
  // Make before break: the new tunnel and its route for the address, then the old tunnel goes.
  const types = agent.netlink.map((m) => m[4] | (m[5] << 8));
  const del = types.lastIndexOf(17); // RTM_DELLINK
  assert.ok(del > 0, "the old tunnel went");
  assert.ok(types.lastIndexOf(16) < del && types.lastIndexOf(16) > types.indexOf(16), "the new tunnel (RTM_NEWLINK) came first");
  assert.ok(types.lastIndexOf(24) < del && types.lastIndexOf(24) > types.indexOf(24), "and its route (RTM_NEWROUTE)");
  assert.is(t3.sidEvents("released").length, 1);
  assert.is(t3.sidEvents("bound").length, 1);
  assert.equal(target.sidEvents("ended").map((e) => e.reason), ["transferred-further"]);
  assert.is(agent.sid.session(TA).sessionSpi, t3.sid.session(TA).sessionSpi);
  // The new target renews; the session ends there; the original node is woken.
  net.run(60000);
  assert.ok(t3.sidEvents("renewed").length >= 2);
  t3.sid.sessionEnded(net.now, TA);
  t3.pump();
  net.run(5000);
  assert.is(tn.sidEvents("woken").length, 1);
});

test("a target without F refuses a further transfer itself (140), before any negotiation, and changes nothing", () => {
  const s = transferred({ further: false }, 30);
  const { net, agent, target, TA } = s;
  const { t3, tt3 } = thirdTarget(s);
  const sentBefore = net.sent.length;
  const nftBefore = target.nft.length;
  target.sid.transfer(net.now, TA, tt3, { further: true, lifetime: 30 });
  target.pump();
  assert.equal(target.sidEvents("refused").map((e) => [e.role, e.code]), [["node", 140]], "refused at once, with the agent's code");
  net.run(2000);
  assert.equal(net.sent.slice(sentBefore).filter((d) => d.from === "target" && d.data[1] !== 20).map((d) => d.data[1]), [], "the target sent nothing but its renewals");
  assert.is(t3.sidEvents("negotiated").length, 0, "the third node never heard of it");
  assert.is(target.sidEvents("state-requested").length, 0);
  assert.is(target.nft.length, nftBefore, "no kernel change");
  assert.equal(agent.sidEvents("refused"), [], "the agent was never asked");
  assert.equal(agent.sidEvents("bound").length, 1);
  assert.is(agent.sid.session(TA).sessionSpi, target.sid.session(TA).sessionSpi, "the binding still belongs to the first target");
  assert.is(target.sid.session(TA).role, "target", "the target still holds the session");
});

/** The datagrams a node sent of one message type, in order. */
function sentOf(net, from, type) {
  return net.sent.filter((d) => d.from === from && d.data[1] === type);
}

/** Recomputes the HMAC-SHA256 authenticator of a message (the last 32 bytes) under key. */
function reauth(core, bytes, key) {
  const out = bytes.slice();
  out.set(core.hmac("HMAC_SHA256", key, out.subarray(0, out.length - 32)), out.length - 32);
  return out;
}

test("replayed Binding Updates change nothing", () => {
  const s = transferred({}, 30);
  const { net, agent, target } = s;
  net.run(45000); // two renewals
  const bus = sentOf(net, "target", 20);
  assert.ok(bus.length >= 3);
  const renewed = agent.sidEvents("renewed").length;
  for (const b of bus.slice(0, -1)) net.inject(agent, "198.19.0.20", b.data);
  assert.is(agent.sidEvents("renewed").length, renewed, "no replay renews");
  const st = agent.engine.state(net.now);
  assert.ok(st.counters.droppedBy.REPLAYED + (st.counters.duplicates ?? 0) >= 1 || st.counters.duplicates >= 1);
  void target;
});

test("a retransmitted Binding Update is answered from the reply cache with its own Ack, byte for byte, after later renewals", () => {
  const s = transferred({}, 30);
  const { net, agent } = s;
  net.run(65000); // three renewals
  const bus = sentOf(net, "target", 20);
  // (the agent's first Binding Ack, at the binding, answers no Binding Update: 8.12)
  const acks = sentOf(net, "agent", 21).slice(1);
  assert.ok(bus.length >= 4 && acks.length === bus.length, `${bus.length} updates, ${acks.length} acks`);
  const renewed = agent.sidEvents("renewed").length;
  // Each cache entry (30 s) keeps its own reply: answering the later one did not write over the earlier one.
  for (const k of [bus.length - 1, bus.length - 2, bus.length - 1]) {
    const before = sentOf(net, "agent", 21).length;
    net.inject(agent, "198.19.0.20", bus[k].data);
    const again = sentOf(net, "agent", 21).slice(before);
    assert.is(again.length, 1, `update ${k} answered once`);
    assert.equal(Array.from(again[0].data), Array.from(acks[k].data), `update ${k}: its own Ack again`);
    net.run(20);
  }
  assert.is(agent.sidEvents("renewed").length, renewed, "a retransmission renews nothing");
});

test("a Binding Update under the right SPI but a wrong key, or with a tampered Sealed body, is dropped", () => {
  const s = transferred({}, 30);
  const { net, agent, target, TA } = s;
  net.run(21000);
  const last = sentOf(net, "target", 20).at(-1).data;
  const core = agent.engine.core;
  const before = agent.sidEvents("renewed").length;
  const k = target.sid.session(TA);
  const seq = nextSeq(net, "target") + 1;
  const base = { key: k.sessionKey, spi: k.sessionSpi, cookie: target.cookie, now: net.now, address: TA, lifetime: 7 };
  const at = (n) => ({ ...base, seq: seq + n, seq32: 0x10000 | (seq + n) });
  // 8.11 version 2: the Sealed tag alone authenticates. A wrong key: the tag does not verify.
  net.inject(agent, "198.19.0.20", handmadeUpdate(core, { ...at(0), key: new Uint8Array(32).fill(9) }));
  // One ciphertext byte flipped (the Lifetime), the tag and its copy as they were.
  const tampered = handmadeUpdate(core, at(1));
  tampered[33] ^= 1;
  net.inject(agent, "198.19.0.20", tampered);
  // The header is in the AAD: another cookie (which would name another session peer), the tag unchanged.
  const moved = handmadeUpdate(core, at(2));
  moved[4] ^= 1;
  net.inject(agent, "198.19.0.20", moved);
  // The authenticator must be the Sealed tag: a copy that differs is refused before the AEAD.
  const copy = handmadeUpdate(core, at(3));
  copy[copy.length - 1] ^= 1;
  net.inject(agent, "198.19.0.20", copy);
  // Version 1 (HMAC-SHA256 under the session key, Sealed under the HKDF key): not accepted any more.
  net.inject(agent, "198.19.0.20", handmadeUpdateV1(core, at(4)));
  // A replay of the target's last one: authentic, refused by the window (or answered from the cache).
  net.inject(agent, "198.19.0.20", last);
  assert.is(agent.sidEvents("renewed").length, before);
  const by = agent.engine.state(net.now).counters.droppedBy;
  assert.ok(by.BAD_AUTHENTICATOR >= 5, JSON.stringify(by));
  // The right one with the same numbers renews: what was refused above was the forgery, not the numbers.
  net.inject(agent, "198.19.0.20", handmadeUpdate(core, at(5)));
  assert.is(agent.sidEvents("renewed").filter((e) => e.lifetime === 7).length, 1);
});

test("a forged Binding Update kept before the Transfer Request binds nothing; the real one binds", () => {
  const s = trio();
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  const core = agent.engine.core;
  // Header, Transferred Address, a Sealed extension of junk, Authentication under a key nobody has.
  const forged = new Uint8Array(20 + 7 + 24 + 38);
  forged.set([1, 20, 0, 7, 10, 11, 12, 13, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  forged.set([37, 5, 1, 198, 18, 0, 10], 20);
  forged.set([44, 22, 0, 0], 27);
  forged.set([32, 36, 0, 0, 0x10, 0], 51);
  forged.set(core.hmac("HMAC_SHA256", new Uint8Array(32).fill(5), forged.subarray(0, 57)), 57);
  assert.is(core.decode(forged).type, "BINDING_UPDATE", "the forgery decodes");
  net.inject(agent, "198.19.0.99", forged);
  assert.is(agent.sid.state(net.now).bindings.parked, 1, "kept, one per address");
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  hostsDeliver(s);
  net.run(1000);
  assert.equal(agent.sidEvents().map((e) => e.state), ["bound", "renewed"]);
  assert.is(target.sidEvents("released").length, 1);
  assert.is(agent.sid.state(net.now).bindings.parked, 0);
});

test("a forged or replayed Transfer Request binds nothing", () => {
  const s = trio();
  const { net, tn, agent, tnTarget, tnAgent, TA } = s;
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  hostsDeliver(s);
  net.run(1000);
  const tr = sentOf(net, "tn", 18)[0].data;
  // Stop it, then replay the captured request: the window refuses it.
  tn.sid.stop(net.now, TA);
  tn.pump();
  net.run(1000);
  assert.is(bindingCount(agent), 0);
  net.inject(agent, "198.18.0.10", tr);
  assert.is(bindingCount(agent), 0, "a replayed request does not bind");
  const bad = tr.slice();
  bad[25] ^= 0x40; // inside the Transferred Address
  net.inject(agent, "198.18.0.10", bad);
  assert.is(bindingCount(agent), 0, "a forged request does not bind");
  assert.is(agent.sidEvents("bound").length, 1);
});

test("20% loss of control datagrams: retransmission completes the transfer and keeps the binding", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const s = trio({ loss: 0.2, seed });
    const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
    tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
    tn.pump();
    assert.ok(hostsDeliver(s), `seed ${seed}: negotiated`);
    net.run(15000);
    assert.is(tn.sidEvents("transferred").length, 1, `seed ${seed}: transferred`);
    assert.is(target.sidEvents("released").length, 1, `seed ${seed}: released`);
    net.run(150000);
    assert.is(agent.sidEvents("ended").length, 0, `seed ${seed}: the binding lasted`);
    assert.ok(target.sidEvents("renewed").length >= 5, `seed ${seed}: renewed`);
  }
});

test("same subnet (S): the target claims the address itself and sends the Wake-up at the end", () => {
  const s = trio();
  const { net, tn, target, tnTarget, TA } = s;
  tn.sid.transfer(net.now, TA, tnTarget, { lifetime: 30 });
  tn.pump();
  assert.ok(hostsDeliver(s));
  net.run(3000);
  assert.equal(tn.sidEvents().map((e) => e.state), ["negotiated", "state-requested", "transferred"]);
  assert.equal(target.sidEvents().map((e) => e.state), ["negotiated", "released", "bound"]);
  assert.is(target.frames.filter((f) => f.data[13] === 0x06).length, 3, "three gratuitous ARPs");
  assert.is(target.netlinkTypes().filter((t) => t === 16).length, 0, "no tunnel");
  assert.match(target.nft.join("\n"), /meta iif != 2 arp operation request/);
  target.sid.sessionEnded(net.now, TA);
  target.pump();
  net.run(3000);
  assert.is(tn.sidEvents("woken").length, 1);
  assert.is(target.sidEvents("woken").length, 1);
});

test("reverse-tunnelled return (R): the target routes the address's traffic into the tunnel", () => {
  const s = transferred({ reverse: true }, 30);
  const { agent, target } = s;
  assert.equal(target.netlinkTypes(), [20, 16, 28, 28, 24, 32]);
  assert.ok(agent.nft.some((t) => /hovtunnel/.test(t)), "the agent filters what it decapsulates");
  assert.ok(agent.nft.some((t) => /hook prerouting priority -200;[^]*\nadd rule inet hovsid (rp[0-9a-f]{6}) ip saddr != 198\.18\.0\.10 drop\nadd element inet hovsid rpif \{ \d+ : jump \1 \}/.test(t)), "and lets only the transferred address out of the tunnel");
});

test("a forged parked Binding Update that is the last one kept is dropped when the key arrives", () => {
  const s = trio();
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  const core = agent.engine.core;
  const forged = new Uint8Array(20 + 7 + 24 + 38);
  forged.set([1, 20, 0, 7, 10, 11, 12, 13, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  forged.set([37, 5, 1, 198, 18, 0, 10], 20);
  forged.set([44, 22, 0, 0], 27);
  forged.set([32, 36, 0, 0, 0x10, 0], 51);
  forged.set(core.hmac("HMAC_SHA256", new Uint8Array(32).fill(5), forged.subarray(0, 57)), 57);
  // The node's Transfer Request (sent with the record, 8.2) is held back, so that the Binding Update comes first.
  const held = [];
  net.filter = (d) => !(d.from === "tn" && d.data[1] === 18 && held.push(d));
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  net.run(1000);
  target.sid.stateReceived(net.now, TA);
  target.pump();
  net.run(6); // the real Binding Update is parked (5 ms on the way) ...
  net.inject(agent, "198.19.0.99", forged); // ... and replaced by a forgery
  net.filter = null;
  tn.sid.stateDelivered(net.now, TA);
  tn.pump();
  assert.ok(held.length > 0);
  net.inject(agent, held[0].source, held[0].data);
  net.run(20);
  assert.is(agent.sid.state(net.now).bindings.parked, 0, "the forgery was tried under the key and dropped");
  assert.is(agent.sidEvents("renewed").length, 0);
  net.run(2000);
  assert.is(target.sidEvents("released").length, 1, "the target's retransmission binds");
});

test("a Wake-up from a peer that is not the transfer's agent is refused (141) and changes nothing", () => {
  const s = transferred({}, 30);
  const { net, tn, target, TA } = s;
  // The target knows tn as a configured peer; it sends a Wake-up for TA on its own.
  const wakeups = [];
  net.filter = (d) => (d.data[1] === 23 && d.from === "tn" ? (wakeups.push(d), true) : true);
  target.engine.core; // (the request is built by the target's SID module for the same-subnet case only)
  const before = tn.sidEvents("woken").length;
  const core = tn.engine.core;
  const m = {
    type: "WAKE_UP", sequence: 9, cookie: target.cookie, replayId: "0000000000000000",
    extensions: [{ type: "TRANSFERRED_ADDRESS", address: TA }],
  };
  const st = tn.engine.state(net.now);
  void st;
  // Timestamp mode: a fresh Replay Protect ID from the target's clock.
  const ntp = BigInt(Math.floor(net.now / 1000) + 2208988800) << 32n;
  m.replayId = ntp.toString(16).padStart(16, "0");
  net.inject(tn, "198.19.0.20", core.encode(m, { spi: 300, key: new Uint8Array(32).fill(0x11) }));
  net.run(100);
  assert.is(tn.sidEvents("woken").length, before);
  assert.equal(tn.sidEvents("refused").map((e) => e.code), [141]);
  assert.is(tn.sid.session(TA).state, 4, "still TRANSFERRED");
});

/** The sequence number after the last Binding Update a node sent (the session peer's numbers). */
function nextSeq(net, from) {
  const d = sentOf(net, from, 20).at(-1).data;
  return ((d[2] << 8) | d[3]) + 1;
}

/** The session SA's HMAC key (8.11): the SA subkey of the binding key of the session key. */
function saKey(core, sessionKey) {
  const codec = new SidCodec(core);
  return codec.bindingSubkey(codec.bindingKey(sessionKey), "sa");
}

/** NTP Replay Protect ID (timestamp mode) for `ms`, as hex. */
function ntpId(ms) {
  return ((BigInt(Math.floor(ms / 1000) + 2208988800) << 32n) | 1n).toString(16).padStart(16, "0");
}

test("a Stop Transfer under the target's session SA is refused (129): only the node may stop", () => {
  const s = transferred({}, 30);
  const { net, agent, target, TA } = s;
  const k = target.sid.session(TA);
  const stop = target.engine.core.encode({
    type: "STOP_TRANSFER", sequence: (nextSeq(net, "target") + 1) & 0xffff, cookie: target.cookie, replayId: ntpId(net.now),
    extensions: [{ type: "TRANSFERRED_ADDRESS", address: TA }],
  }, { spi: k.sessionSpi, key: saKey(target.engine.core, k.sessionKey) });
  net.inject(agent, "198.19.0.20", stop);
  assert.equal(agent.sidEvents("refused").map((e) => e.code), [129]);
  assert.is(bindingCount(agent), 1);
  assert.is(agent.sidEvents("stopped").length, 0);
});

/**
 * A Binding Update built by hand as 8.11 (version 2) says: header, Transferred
 * Address in clear, Lifetime sealed under K_b's up subkey (K_b from the session
 * key), Authentication under `spi` carrying the Sealed tag; AAD every byte but
 * the ciphertext and the tag.
 */
function handmadeUpdate(core, { key, spi, seq, seq32, cookie, now, address, lifetime }) {
  const codec = new SidCodec(core);
  const header = new Uint8Array(20);
  header.set([1, 20, (seq >> 8) & 255, seq & 255]);
  header.set(cookie.match(/../g).map((h) => parseInt(h, 16)), 4);
  header.set(Uint8Array.from(ntpId(now).match(/../g).map((h) => parseInt(h, 16))), 12);
  const ta = [37, 5, 1, ...address.split(".").map(Number)];
  const spiBytes = [spi >>> 24, (spi >> 16) & 255, (spi >> 8) & 255, spi & 255];
  const inner = new Uint8Array([36, 2, lifetime >> 8, lifetime & 255]);
  const head = new Uint8Array([...header, ...ta, 44, 2 + inner.length + 16, 0, 0]);
  const aad = new Uint8Array([...head, 32, 20, ...spiBytes]);
  const body = codec.sealBinding(codec.bindingKey(key), "up", seq32, header, aad, inner);
  return new Uint8Array([...head, ...body, 32, 20, ...spiBytes, ...body.subarray(body.length - 16)]);
}

/** The same in version 1 (HMAC-SHA256 under the session key, Sealed under HKDF's K_up with the header as AAD). */
function handmadeUpdateV1(core, { key, spi, seq, seq32, cookie, now, address, lifetime }) {
  const header = new Uint8Array(20);
  header.set([1, 20, (seq >> 8) & 255, seq & 255]);
  header.set(cookie.match(/../g).map((h) => parseInt(h, 16)), 4);
  header.set(Uint8Array.from(ntpId(now).match(/../g).map((h) => parseInt(h, 16))), 12);
  const body = new SidCodec(core).sealMessage(key, "up", seq32, header, new Uint8Array([36, 2, lifetime >> 8, lifetime & 255]));
  const ta = [37, 5, 1, ...address.split(".").map(Number)];
  const m = new Uint8Array(20 + ta.length + 4 + body.length + 38);
  m.set(header);
  m.set(ta, 20);
  m.set([44, 2 + body.length, 0, 0], 27);
  m.set(body, 31);
  const a = 31 + body.length;
  m.set([32, 36, spi >>> 24, (spi >> 16) & 255, (spi >> 8) & 255, spi & 255], a);
  m.set(core.hmac("HMAC_SHA256", key, m.subarray(0, a + 6)), a + 6);
  return m;
}

test("a Binding Update sealed and authenticated with the session key counts only under the binding's SPI", () => {
  const s = transferred({}, 30);
  const { net, agent, target, TA } = s;
  const core = agent.engine.core;
  const k = target.sid.session(TA);
  const seq = nextSeq(net, "target") + 1;
  const base = { key: k.sessionKey, seq, seq32: 0x10000 | seq, cookie: target.cookie, now: net.now, address: TA, lifetime: 7 };
  // Under another SPI: no SA, kept as unverifiable, never renews.
  net.inject(agent, "198.19.0.20", handmadeUpdate(core, { ...base, spi: k.sessionSpi + 1 }));
  assert.is(agent.sidEvents("renewed").filter((e) => e.lifetime === 7).length, 0);
  // The same under the binding's SPI renews: the handmade message is right.
  net.inject(agent, "198.19.0.20", handmadeUpdate(core, { ...base, seq: seq + 1, seq32: 0x10000 | (seq + 1), spi: k.sessionSpi }));
  assert.is(agent.sidEvents("renewed").filter((e) => e.lifetime === 7).length, 1);
});

test("the binding table: bounded, O(1) lookups, removal keeps every other binding findable, <= 128 B per binding", () => {
  const { tn } = trio();
  const x = tn.engine.core.x;
  const n = 20000;
  assert.is(x.sid_bindings_fill(n, n + 5), n, "a full table refuses the rest");
  assert.is(x.sid_bindings_lookup(0, n, n), n);
  assert.is(x.sid_bindings_lookup(n, 1000, 1000), 0, "absent addresses are not found");
  // Remove every third binding (backward-shift deletion moves others): the rest stay findable.
  let removed = 0;
  for (let i = 0; i < n; i += 3) removed += x.sid_bindings_remove(i, 1);
  assert.is(x.sid_bindings_size(1), n - removed);
  let found = 0;
  for (let i = 0; i < n; i++) found += x.sid_bindings_lookup(i, 1, 1);
  assert.is(found, n - removed);
  for (let i = 0; i < n; i += 3) assert.is(x.sid_bindings_lookup(i, 1, 1), 0);
  assert.ok(x.sid_bindings_size(0) / n <= 128, `${x.sid_bindings_size(0) / n} B per binding`);
});

test("the binding table against a model: small tables, random inserts and removals, wrap-around probing, full tables", () => {
  const { tn } = trio();
  const x = tn.engine.core.x;
  const rnd = prng(8128);
  let wrapped = 0;
  let refused = 0;
  let shifted = 0;
  // Limits from 1 (two slots, fewer than a tag group) to 60; addresses from a range twice the limit, so the
  // table is often full and clusters wrap around its end.
  for (let limit = 1; limit <= 60; limit++) {
    x.sid_bindings_fill(limit, 0);
    const model = new Set();
    const span = 2 * limit + 3;
    for (let op = 0; op < 400; op++) {
      const i = Math.floor(rnd() * span);
      if (rnd() < 0.6) {
        const r = x.sid_bindings_insert(i);
        if (model.has(i)) assert.is(r, 2, `limit ${limit}: ${i} is there already`);
        else if (model.size >= limit) {
          assert.is(r, 0, `limit ${limit}: a full table refuses ${i}`);
          refused++;
        } else {
          assert.is(r, 1, `limit ${limit}: ${i} goes in`);
          model.add(i);
        }
      } else {
        const before = x.sid_bindings_size(2);
        assert.is(x.sid_bindings_remove(i, 1), model.has(i) ? 1 : 0, `limit ${limit}: removal of ${i}`);
        if (x.sid_bindings_size(2) !== before) shifted++;
        model.delete(i);
      }
      wrapped = Math.max(wrapped, x.sid_bindings_size(2));
      assert.is(x.sid_bindings_size(1), model.size);
      // Every address of the range: found exactly when the model holds it.
      for (let j = 0; j < span; j++) assert.is(x.sid_bindings_lookup(j, 1, 1), model.has(j) ? 1 : 0, `limit ${limit}, op ${op}: lookup of ${j}`);
    }
  }
  assert.ok(wrapped > 0, "some bindings were reached by probing around the table's end");
  assert.ok(shifted > 0, "removals moved wrapped bindings back");
  assert.ok(refused > 0, "full tables refused");
});

test("the binding table's expiry wheel against a model: renewals (later ones filed lazily), removals, due bindings in order, a lower bound never later than the earliest, exact in a small table", () => {
  const { tn } = trio();
  const x = tn.engine.core.x;
  const rnd = prng(4346);
  let aliased = 0;
  let due = 0;
  let exact = 0;
  // Small tables (a wheel of 64 one-second buckets: lifetimes past 64 s sit a turn or more ahead) and one of
  // 3,000 bindings (512 buckets), lifetimes up to 65,535 s as the protocol allows.
  for (const [limit, ops] of [[1, 200], [7, 300], [60, 600], [3000, 4000]]) {
    x.sid_bindings_fill(limit, 0);
    const model = new Map();
    let now = 1.7e12 + Math.floor(rnd() * 1e6);
    const span = limit + 3;
    for (let op = 0; op < ops; op++) {
      const i = Math.floor(rnd() * span);
      const c = rnd();
      if (c < 0.35) {
        if (!model.has(i) && model.size < limit) {
          assert.is(x.sid_bindings_insert(i), 1);
          const e = now + 1000 * (1 + Math.floor(rnd() * (rnd() < 0.8 ? 120 : 65535))) + Math.floor(rnd() * 1000);
          if (e - now > 64000) aliased++;
          assert.is(x.sid_bindings_expire(i, e), 1);
          model.set(i, e);
        }
      } else if (c < 0.6) {
        // A renewal: a new expiry, earlier or later than the old one.
        const e = now + 1000 * (1 + Math.floor(rnd() * 90)) + Math.floor(rnd() * 1000);
        assert.is(x.sid_bindings_expire(i, e), model.has(i) ? 1 : 0);
        if (model.has(i)) model.set(i, e);
      } else if (c < 0.75) {
        assert.is(x.sid_bindings_remove(i, 1), model.has(i) ? 1 : 0);
        model.delete(i);
      } else {
        now += Math.floor(rnd() * 20000);
        const want = [...model].filter(([, e]) => e <= now).map(([k]) => k);
        const n = x.sid_bindings_due(now);
        assert.is(n, want.length, `limit ${limit}, op ${op}: due by ${now}`);
        for (const k of want) model.delete(k);
        due += n;
      }
      assert.is(x.sid_bindings_size(1), model.size);
      const min = model.size ? Math.min(...model.values()) : Infinity;
      const low = x.sid_bindings_earliest();
      assert.ok(low <= min, `limit ${limit}, op ${op}: earliest ${low} is not later than ${min}`);
      if (low === min) exact++;
      // A table of at most 64 bindings walks its front bucket whole: its earliest is exact (the timers of the
      // transcripts), lazily filed renewals included.
      if (limit <= 64) assert.is(low, min, `limit ${limit}, op ${op}: earliest exact`);
      for (const [k] of model) assert.is(x.sid_bindings_lookup(k, 1, 1), 1);
    }
    // Everything expires in the end, and nothing is left filed.
    assert.is(x.sid_bindings_due(Infinity), model.size);
    assert.is(x.sid_bindings_size(1), 0);
    assert.is(x.sid_bindings_earliest(), Infinity);
  }
  assert.ok(aliased > 0 && due > 0, `expiries a turn of the wheel ahead (${aliased}) and due bindings (${due}) were exercised`);
  assert.ok(exact > 0, "the earliest expiry is often exact");
});

test("memory stays put over many transfers and deregistrations; the agent forgets a target with its last binding", () => {
  const s = trio();
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  const cycle = () => {
    tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
    tn.pump();
    assert.ok(hostsDeliver(s));
    net.run(1000);
    assert.is(agent.sid.state(net.now).bindings.targets, 1);
    target.sid.sessionEnded(net.now, TA);
    target.pump();
    net.run(3000);
    assert.is(tn.sid.session(TA), null, "the node has its address back");
    // Keep the sim's own records short: they are not the core's memory.
    for (const n of [tn, agent, target]) n.events.length = n.nft.length = n.netlink.length = n.frames.length = 0;
    net.sent.length = 0;
  };
  const pages = () => [tn, agent, target].map((n) => n.engine.core.x.memory.buffer.byteLength / 65536);
  for (let i = 0; i < 250; i++) cycle(); // the GC settles its heap size (the agent: about 40 pages)
  const before = pages();
  for (let i = 0; i < 300; i++) cycle();
  assert.equal(pages(), before, "no growth after the warm-up");
  assert.is(agent.sid.state(net.now).bindings.targets, 0);
  assert.is(bindingCount(agent), 0);
});

test("a kernel action of the agent's claim fails: the binding ends, the node is woken, and its transfer fails with the address here", () => {
  const s = trio();
  const { net, tn, agent, tnTarget, tnAgent, TA } = s;
  agent.failKernel = 1; // EPERM: the agent's kernel refuses everything (its claim comes with the record, 8.2)
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  net.run(15); // the record's confirmation is slower than the agent's Wake-up here
  assert.ok(hostsDeliver(s, { receiveFirst: true }));
  net.run(3000);
  assert.equal(agent.sidEvents("ended").map((e) => e.reason), ["kernel-failed"]);
  assert.is(agent.sidEvents("refused")[0].error, "KERNEL");
  assert.is(bindingCount(agent), 0);
  // 8.2: the Wake-up came before the transfer completed: it fails, the address stays (no ARP rule, the stop rule gone).
  assert.is(agent.sidEvents("woken").length, 1, "the node acknowledged the Wake-up");
  assert.equal(tn.sidEvents().map((e) => e.state), ["state-requested", "negotiated", "refused"]);
  assert.match(tn.sidEvents("refused")[0].message, /ended the binding before the transfer completed/);
  assert.equal(tn.nft.filter((b) => /arp operation request/.test(b)).length, 0);
  assert.match(tn.nft.at(-1), /delete chain inet hovsid si/);
  assert.ok(tn.frames.some((f) => f.data[12] === 0x08 && f.data[13] === 0x06), "the node announced its address again");
});

test("under the session SA a Binding Update must be sealed: one with its Lifetime in clear is dropped", () => {
  const s = transferred({}, 30);
  const { net, agent, target, TA } = s;
  const core = agent.engine.core;
  const k = target.sid.session(TA);
  const seq = nextSeq(net, "target") + 1;
  const clear = core.encode({
    type: "BINDING_UPDATE", sequence: seq, cookie: target.cookie, replayId: ntpId(net.now),
    extensions: [{ type: "TRANSFERRED_ADDRESS", address: TA }, { type: "LIFETIME", seconds: 7 }],
  }, { spi: k.sessionSpi, key: k.sessionKey });
  net.inject(agent, "198.19.0.20", clear);
  assert.is(agent.sidEvents("renewed").filter((e) => e.lifetime === 7).length, 0);
  assert.ok(agent.engine.state(net.now).counters.droppedBy.BAD_AUTHENTICATOR >= 1);
});

test("the node's control address apart from the moving one: replies are datagrams, the Wake-up a frame", () => {
  const s = trio({}, { control: "198.18.0.5" });
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  assert.ok(hostsDeliver(s));
  net.run(1000);
  assert.is(tn.sidEvents("transferred").length, 1);
  assert.is(target.sidEvents("released").length, 1);
  assert.is(udpFrames(agent).length, 0, "the Transfer Reply went to the control address as a datagram");
  assert.is(net.sent.filter((d) => d.from === "agent" && d.data[1] === 19 && d.address === "198.18.0.5").length, 1);
  target.sid.sessionEnded(net.now, TA);
  target.pump();
  net.run(3000);
  assert.is(wakeFrames(agent).length, 1, "the Wake-up still goes to the node's MAC");
  assert.is(tn.sidEvents("woken").length, 1);
});

/**
 * 8.6, a return: tn (control address 198.18.0.5) moved TA to target; the
 * target gives it back to tn through the agent. Options: further (the
 * original transfer's F), nodeReceives (tn's host restores the record),
 * receiveFirst (the record is in before the Wake-up).
 */
function returned({ further = false, nodeReceives = true, beforeRequest = null, runMs = 2000 } = {}) {
  const s = trio({}, { control: "198.18.0.5" });
  const { net, tn, agent, target, tnTarget, tnAgent, targetTn, TA } = s;
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30, further });
  tn.pump();
  assert.ok(hostsDeliver(s));
  net.run(2000);
  assert.is(target.sidEvents("released").length, 1);
  const nftBefore = tn.nft.length;
  assert.is(target.sid.transfer(net.now, TA, targetTn, { lifetime: 30 }), undefined);
  target.pump();
  net.run(1000);
  assert.is(target.sidEvents("state-requested").length, 1, "the target was asked for the record");
  if (nodeReceives) {
    tn.sid.stateReceived(net.now, TA, true);
    tn.pump();
  }
  // The Transfer Request (the return) goes to the agent once the record is delivered.
  const agentNetlinkBefore = agent.netlink.length;
  const targetNetlinkBefore = target.netlink.length;
  const targetNftBefore = target.nft.length;
  if (beforeRequest) beforeRequest(s);
  target.sid.stateDelivered(net.now, TA, true);
  target.pump();
  net.run(runMs);
  return { ...s, nftBefore, agentNetlinkBefore, targetNetlinkBefore, targetNftBefore };
}

test("a return (8.6): the target gives the address back to its node; the agent ends the binding and wakes the node, which resumes the socket", () => {
  const s = returned();
  const { net, tn, agent, target, TA } = s;
  assert.equal(tn.sidEvents().map((e) => e.state), ["state-requested", "negotiated", "transferred", "negotiated", "woken", "released", "ended"]);
  assert.is(tn.sidEvents("negotiated")[1].role, "target");
  assert.is(tn.sidEvents("negotiated")[1].returning, true);
  assert.is(tn.sidEvents("woken")[0].returned, true);
  assert.is(tn.sidEvents("released")[0].returned, true);
  assert.is(tn.sidEvents("ended")[0].reason, "returned");
  assert.equal(agent.sidEvents().slice(-3).map((e) => e.state), ["returning", "woken", "ended"]);
  assert.equal(agent.sidEvents("ended").map((e) => e.reason), ["returned"]);
  assert.is(bindingCount(agent), 0);
  // The old target retires (make before break): it ends 10 s later.
  assert.equal(target.sidEvents("retired").map((e) => e.untilMs), [10000]);
  assert.equal(target.sidEvents("ended"), []);
  net.run(10000);
  assert.equal(target.sidEvents("ended").map((e) => e.reason), ["returned"]);
  assert.is(target.sid.state(net.now).targets.length, 0, "the target holds nothing");
  // The node: its hand-on chain emptied at the return's negotiation (8.12: the agent delivers the address to
  // it now; handing on would send that back), the ARP rule went at the Wake-up, then the stop rule with the
  // hand-on chain once the record was in; no tunnel, no address on lo.
  const after = tn.nft.slice(s.nftBefore);
  assert.is(after.length, 3, after.join("\n----\n"));
  assert.is(after[0], "flush chain ip hovsid sfc612000a\n");
  assert.match(after[1], /delete .*arp hovsid/);
  assert.match(after[2], /delete chain inet hovsid si/);
  assert.match(after[2], /delete chain ip hovsid sfc612000a/);
  assert.equal(tn.netlinkTypes(), []);
  assert.is(tn.sid.state(net.now).transfers.length, 0);
  assert.is(tn.sid.state(net.now).targets.length, 0);
  // The node owns the address again: it can transfer it anew.
  assert.is(tn.sid.transfer(net.now, TA, s.tnTarget, { agent: s.tnAgent, lifetime: 30 }), undefined);
});

test("a return whose Wake-up comes before the record: the stop rule stays until the socket is restored", () => {
  const s = returned({ nodeReceives: false });
  const { net, tn, TA } = s;
  assert.is(tn.sidEvents("woken").length, 1);
  assert.is(tn.sidEvents("released").length, 0, "not released before the record is in");
  const after = tn.nft.slice(s.nftBefore);
  assert.is(after.length, 2, "the hand-on chain emptied (8.12), and only the ARP rule went");
  assert.is(after[0], "flush chain ip hovsid sfc612000a\n");
  assert.is(tn.sid.session(TA).role, "target", "the session being received is the return's");
  tn.sid.stateReceived(net.now, TA, true);
  tn.pump();
  assert.is(tn.sidEvents("released").length, 1);
  assert.match(tn.nft.at(-1), /delete chain inet hovsid si/);
});

test("a return whose record never comes is given up: the stop rule goes after the Wake-up, nothing stays", () => {
  const s = returned({ nodeReceives: false });
  const { net, tn, TA } = s;
  net.run(12000);
  assert.equal(tn.sidEvents("ended").map((e) => e.reason), ["return-timed-out"]);
  assert.match(tn.nft.at(-1), /delete chain inet hovsid si/);
  assert.is(tn.sid.state(net.now).targets.length, 0);
  assert.throws(() => tn.sid.stateReceived(net.now, TA, true), /refused/, "a record after the give-up is refused");
});

const WAKE_UP = 22;
const WAKE_UP_ACK = 23;
/** rtnetlink message types: 17 DELLINK, 24/25 NEW/DELROUTE, 28/29 NEW/DELNEIGH (test/_sidsim.js netlinkTypes). */
const since = (n, k) => n.netlinkTypes().slice(k);

test("a return, make before break (8.6): the agent holds the binding (WAKING, tunnel and proxy entry) until the node's Wake-up Ack; its tunnel lingers 2 s", () => {
  let holdAcks = true;
  const s = returned({ beforeRequest: (x) => { x.net.filter = (d) => !(holdAcks && d.from === "tn" && d.data[1] === WAKE_UP_ACK); }, runMs: 1500 });
  const { net, tn, agent, target, TA } = s;
  // The Wake-up went and the node took the address (woken, released), but its Acks are lost so far.
  assert.ok(wakeFrames(agent).length >= 2, `${wakeFrames(agent).length} Wake-up frames`);
  assert.is(tn.sidEvents("woken").length, 1);
  assert.is(tn.sidEvents("released").length, 1);
  assert.is(agent.sidEvents("returning").length, 1);
  assert.equal(agent.sidEvents("ended"), [], "the binding stands");
  assert.is(bindingCount(agent), 1);
  assert.is(agent.sid.session(TA).state, 10, "WAKING");
  // The tunnel and the proxy entry stay: no kernel action yet.
  assert.equal(since(agent, s.agentNetlinkBefore), []);
  // The old target retired at the agent's answer (Lifetime 0): its tunnel stands.
  assert.is(target.sidEvents("retired").length, 1);
  assert.is(target.sid.session(TA).state, 12, "RETIRED");
  assert.ok(!since(target, s.targetNetlinkBefore).includes(17), "the target's tunnel stands");
  holdAcks = false;
  for (let i = 0; i < 100 && !agent.sidEvents("ended").length; i++) net.run(100);
  assert.equal(agent.sidEvents("ended").map((e) => e.reason), ["returned"]);
  assert.is(bindingCount(agent), 0);
  // Released on the Ack: the proxy entry at once; the tunnel 2 s later (what the old target still sends gets through).
  assert.equal(since(agent, s.agentNetlinkBefore), [29]);
  net.run(2500);
  assert.equal(since(agent, s.agentNetlinkBefore), [29, 17]);
  assert.is(agent.sidEvents("woken").length, 1);
  assert.is(tn.sidEvents("woken").length, 1, "the node handled one Wake-up (the repeats were answered from its reply cache)");
});

test("a return's Wake-up lost: retransmitted; the binding stands until the Ack, then goes; with no Ack at all it goes when the retries are spent", () => {
  let lost = 0;
  const s = returned({ beforeRequest: (x) => { x.net.filter = (d) => !(d.from === "agent" && d.data[1] === WAKE_UP && lost++ < 2); }, runMs: 300 });
  const { net, tn, agent } = s;
  assert.is(tn.sidEvents("woken").length, 0, "the first Wake-up was lost");
  assert.is(bindingCount(agent), 1, "the binding stands");
  net.run(5000);
  assert.ok(wakeFrames(agent).length >= 3, `${wakeFrames(agent).length} Wake-up frames`);
  assert.is(tn.sidEvents("woken").length, 1);
  assert.equal(agent.sidEvents("ended").map((e) => e.reason), ["returned"]);
  assert.is(bindingCount(agent), 0);
  // Every Wake-up lost: the agent gives up after its retries (7, within 10 s) and releases the binding.
  const s2 = returned({ beforeRequest: (x) => { x.net.filter = (d) => !(d.from === "agent" && d.data[1] === WAKE_UP); }, runMs: 300 });
  assert.is(bindingCount(s2.agent), 1);
  s2.net.run(15000);
  assert.is(wakeFrames(s2.agent).length, 7);
  assert.equal(s2.agent.sidEvents("ended").map((e) => e.reason), ["return-timed-out"]);
  assert.is(bindingCount(s2.agent), 0);
  assert.equal(since(s2.agent, s2.agentNetlinkBefore), [29, 17], "the proxy entry and the tunnel go");
});

test("an agent restarted while a return waits for its Wake-up Ack (WAKING): the binding is saved and restored WAKING, the Wake-up goes again, the Ack releases it", () => {
  let holdAcks = true;
  const s = returned({ beforeRequest: (x) => { x.net.filter = (d) => !(holdAcks && d.from === "tn" && d.data[1] === WAKE_UP_ACK); }, runMs: 1500 });
  const { net, tn, agent, TA } = s;
  assert.is(agent.sid.session(TA).state, 10, "WAKING before the restart");
  const saved = agent.sid.saveBindings();
  const agent2 = restartAgent(s, saved);
  assert.is(agent2.sidEvents("restored")[0].bindings, 1);
  assert.is(agent2.sid.session(TA).state, 10, "restored WAKING, not ACTIVE");
  assert.equal(agent2.netlink, [], "the tunnel and the proxy entry are taken over, not made again");
  net.run(300);
  assert.ok(wakeFrames(agent2).length >= 1, "the new process sends the Wake-up again");
  assert.equal(agent2.sidEvents("ended"), [], "no Ack yet: the binding stands");
  holdAcks = false;
  for (let i = 0; i < 100 && !agent2.sidEvents("ended").length; i++) net.run(100);
  assert.equal(agent2.sidEvents("ended").map((e) => e.reason), ["returned"]);
  assert.is(bindingCount(agent2), 0);
  net.run(2500);
  assert.equal(agent2.netlinkTypes(), [29, 17], "the proxy entry at the Ack, the tunnel after its linger");
  assert.is(tn.sidEvents("woken").length, 1, "the node handled one Wake-up, whichever process sent it");
  assert.is(tn.sidEvents("released").length, 1);
});

test("a retired target keeps its tunnel, address and stop rule (late tunnelled packets still reach its sockets) for 10 s, then removes everything", () => {
  const s = returned();
  const { net, target, TA } = s;
  assert.is(target.sidEvents("retired").length, 1);
  net.run(7000); // 9 s after the agent's answer
  assert.equal(target.sidEvents("ended"), []);
  // Nothing of the hosting's kernel state went: no link removed (17), no address removed (21), no chain deleted.
  assert.ok(!since(target, s.targetNetlinkBefore).some((t) => t === 17 || t === 21), JSON.stringify(since(target, s.targetNetlinkBefore)));
  assert.ok(!target.nft.slice(s.targetNftBefore).some((b) => /delete chain/.test(b)), "no chain deleted");
  assert.ok(target.sid.session(TA), "the session (key, SPI) is still known");
  net.run(1200);
  assert.equal(target.sidEvents("ended").map((e) => e.reason), ["returned"]);
  assert.equal(since(target, s.targetNetlinkBefore), [17, 21], "the tunnel, then the address on lo");
  const deleted = target.nft.slice(s.targetNftBefore).filter((b) => /delete chain/.test(b)).join("\n");
  assert.match(deleted, /delete chain inet hovtunnel/);
  assert.match(deleted, /delete chain arp hovsid ai/);
  assert.match(deleted, /delete chain inet hovsid si/, "the stop rule the return put up goes too");
  assert.is(target.sid.session(TA), null);
  assert.is(target.sid.state(net.now).targets.length, 0);
});

test("a request under a retired target's session key is refused (141), a repeat of it answered from the reply cache, nothing changes", () => {
  const s = returned();
  const { net, agent, target, TA } = s;
  const k = target.sid.session(TA);
  assert.is(k.state, 12);
  const m = target.engine.core.encode({
    type: "WAKE_UP", sequence: 77, cookie: agent.cookie, replayId: ntpId(net.now),
    extensions: [{ type: "TRANSFERRED_ADDRESS", address: TA }],
  }, { spi: k.sessionSpi, key: saKey(target.engine.core, k.sessionKey) });
  const answers = () => net.sent.filter((d) => d.from === "target" && d.data[1] === WAKE_UP_ACK).length;
  const before = answers();
  net.inject(target, "198.18.0.1", m);
  net.run(100);
  const refused = target.sidEvents("refused");
  assert.equal(refused.map((e) => [e.code, e.role]), [[141, "target"]]);
  assert.match(refused[0].message, /retired/);
  assert.is(answers(), before + 1);
  net.inject(target, "198.18.0.1", m);
  net.run(100);
  assert.is(target.sidEvents("refused").length, 1, "the repeat reached no handler");
  assert.is(answers(), before + 2, "the repeat got the cached answer");
  assert.is(target.sid.session(TA).state, 12, "still RETIRED");
  net.run(11000);
  assert.equal(target.sidEvents("ended").map((e) => e.reason), ["returned"]);
});

test("a forged Wake-up Ack (a wrong key; the old target's session key; the old target's own SA, the Wake-up's number and ID) is refused: the binding stays WAKING", () => {
  const acks = [];
  let holdAcks = true;
  const KEY_AT = new Uint8Array(32).fill(0x33);
  const s = returned({ beforeRequest: (x) => {
    // The old target has an SA of its own with the agent (as in demo/sid.ts).
    x.target.peer(x.agent, { key: KEY_AT, spi: 330 });
    x.agent.peer(x.target, { key: KEY_AT, spi: 330 });
    x.net.filter = (d) => !(holdAcks && d.from === "tn" && d.data[1] === WAKE_UP_ACK && acks.push(d));
  }, runMs: 300 });
  const { net, tn, agent, target, TA } = s;
  assert.ok(acks.length >= 1, "the node answered");
  assert.is(bindingCount(agent), 1);
  const core = tn.engine.core;
  const ack = core.decode(acks[0].data);
  // 1. The node's own Ack under its SPI, authenticated with a wrong key.
  net.inject(agent, "198.18.0.10", core.encode({ ...ack, version: undefined }, { spi: 301, key: new Uint8Array(32).fill(0x5a) }));
  // 2. The old target, which knows the session key, forges the Ack: the same number and ID, under the binding's session SA.
  const k = target.sid.session(TA);
  const forged = { ...ack, version: undefined, extensions: [{ type: "TRANSFERRED_ADDRESS", address: TA }] };
  net.inject(agent, "198.19.0.20", core.encode(forged, { spi: k.sessionSpi, key: saKey(core, k.sessionKey) }));
  // 3. The old target under its own SA with the agent: authentic, but not from the peer the Wake-up went to.
  net.inject(agent, "198.19.0.20", core.encode({ ...ack, version: undefined, cookie: target.cookie }, { spi: 330, key: KEY_AT }));
  net.run(50);
  assert.equal(agent.sidEvents("ended"), [], "the binding stands");
  assert.is(bindingCount(agent), 1);
  assert.is(agent.sid.session(TA).state, 10, "WAKING");
  assert.equal(since(agent, s.agentNetlinkBefore), [], "no kernel action");
  assert.equal(agent.sidEvents("woken"), []);
  // The node's real Ack releases it.
  holdAcks = false;
  net.run(5000);
  assert.equal(agent.sidEvents("ended").map((e) => e.reason), ["returned"]);
});

test("a return is refused from a peer the address did not go to (129), unless the transfer permitted F", () => {
  for (const further of [false, true]) {
    const s = trio({}, { control: "198.18.0.5" });
    const { net, tn, tnTarget, tnAgent, TA } = s;
    tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30, further });
    tn.pump();
    assert.ok(hostsDeliver(s));
    net.run(2000);
    // Another peer with an SA at the node negotiates the address back.
    const other = net.node("other", ["198.19.0.50"]).link();
    const otherTn = other.peer(tn, { key: new Uint8Array(32).fill(0x55), spi: 330 });
    tn.peer(other, { key: new Uint8Array(32).fill(0x55), spi: 330 });
    other.engine.option("sidTarget", 1);
    other.sid.transfer(net.now, TA, otherTn, { agent: other.peer(s.agent, { key: new Uint8Array(32).fill(0x66), spi: 331 }), lifetime: 30 });
    other.pump();
    net.run(1000);
    const negotiated = tn.sidEvents("negotiated").filter((e) => e.role === "target");
    if (further) assert.is(negotiated.length, 1, "with F any peer with an SA may return it");
    else {
      assert.is(negotiated.length, 0);
      assert.equal(tn.sidEvents("refused").map((e) => e.code), [129]);
      assert.is(tn.sid.state(net.now).targets.length, 0);
    }
  }
});

test("a return needs no F at the agent; a further transfer to a third node still does (140)", () => {
  const s = returned({ further: false });
  assert.equal(s.agent.sidEvents("refused"), []);
  assert.equal(s.agent.sidEvents("ended").map((e) => e.reason), ["returned"]);
});

test("a return's negotiation with a session key that does not unwrap (142), or with S (134), changes nothing at the node", () => {
  for (const tamper of ["key", "same-subnet"]) {
    const s = trio({}, { control: "198.18.0.5" });
    const { net, tn, target, tnTarget, tnAgent, targetTn, TA } = s;
    tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
    tn.pump();
    assert.ok(hostsDeliver(s));
    net.run(2000);
    const core = target.engine.core;
    const nftBefore = tn.nft.length;
    net.filter = (d) => {
      if (d.from !== "target" || d.data[1] !== 16) return true;
      const m = core.decode(d.data);
      if (tamper === "key") {
        const sk = m.extensions.find((e) => e.type === "SESSION_KEY");
        sk.tag = (sk.tag[0] === "0" ? "1" : "0") + sk.tag.slice(1);
      } else m.flags = [...(m.flags ?? []), "SAME_SUBNET"];
      d.data.set(core.encode(m, { spi: 300, key: KEY_TN_TARGET }));
      return true;
    };
    target.sid.transfer(net.now, TA, targetTn, { lifetime: 30 });
    target.pump();
    net.run(1000);
    assert.equal(tn.sidEvents("refused").map((e) => e.code), [tamper === "key" ? 142 : 134], tamper);
    assert.is(tn.sid.state(net.now).targets.length, 0, tamper);
    assert.is(tn.nft.length, nftBefore, `${tamper}: no kernel change`);
    assert.is(tn.sid.session(TA).role, "node", `${tamper}: the node's transfer stands`);
  }
});

/**
 * 8.7, a same-subnet return: tn (control address 198.18.0.5) moved TA to target with S;
 * the target gives it back to tn with S, no agent. Options: further (the transfer's F),
 * filter (the network's, from the start of the return), nodeReceives (tn's host restores
 * the record), runMs.
 */
function sameSubnetReturn({ further = false, filter = null, nodeReceives = true, runMs = 3000 } = {}) {
  const s = trio({}, { control: "198.18.0.5" });
  const { net, tn, target, tnTarget, targetTn, TA } = s;
  tn.sid.transfer(net.now, TA, tnTarget, { lifetime: 30, further });
  tn.pump();
  assert.ok(hostsDeliver(s));
  net.run(3000);
  assert.is(target.sidEvents("released").length, 1);
  assert.equal(tn.sidEvents().map((e) => e.state), ["negotiated", "state-requested", "transferred"]);
  const nftBefore = tn.nft.length;
  const framesBefore = tn.frames.length;
  const targetNftBefore = target.nft.length;
  const targetNetlinkBefore = target.netlink.length;
  if (filter) net.filter = filter;
  assert.is(target.sid.transfer(net.now, TA, targetTn, { lifetime: 30 }), undefined);
  target.pump();
  for (let waited = 0; !target.sidEvents("state-requested").length && waited < 15000; waited++) net.run(1);
  assert.is(target.sidEvents("state-requested").length, 1, "the target was asked for the record");
  if (nodeReceives) {
    tn.sid.stateReceived(net.now, TA, true);
    tn.pump();
  }
  const nodeNftAtRecord = tn.nft.length;
  target.sid.stateDelivered(net.now, TA, true);
  target.pump();
  net.run(runMs);
  return { ...s, nftBefore, framesBefore, targetNftBefore, targetNetlinkBefore, nodeNftAtRecord };
}
const arpFrames = (n, from = 0) => n.frames.slice(from).filter((f) => f.data[12] === 0x08 && f.data[13] === 0x06);

test("a same-subnet return (8.7): the target stops answering for the address, wakes the node; the node announces it and resumes the socket; the target retires", () => {
  const s = sameSubnetReturn();
  const { net, tn, target, TA } = s;
  assert.equal(tn.sidEvents().map((e) => e.state), ["negotiated", "state-requested", "transferred", "negotiated", "woken", "released", "ended"]);
  assert.is(tn.sidEvents("negotiated")[1].returning, true);
  assert.is(tn.sidEvents("woken")[0].returned, true);
  assert.is(tn.sidEvents("released")[0].returned, true);
  assert.is(tn.sidEvents("ended")[0].reason, "returned");
  // The record in changes nothing at the node: its rules stand until the Wake-up.
  assert.is(s.nodeNftAtRecord, s.nftBefore, "no kernel change at the record");
  const after = tn.nft.slice(s.nftBefore);
  assert.is(after.length, 2);
  assert.match(after[0], /delete chain arp hovsid ai/);
  assert.match(after[0], /delete chain arp hovsid ao/);
  assert.match(after[1], /delete chain inet hovsid si/);
  assert.is(arpFrames(tn, s.framesBefore).length, 3, "the node announces the address: three gratuitous ARPs");
  // The target: transferred with lifetime 0, its ARP rule silent on the home link too before it woke the node, retired.
  const tEvents = target.sidEvents().map((e) => `${e.role}:${e.state}`);
  assert.equal(tEvents.slice(3), ["node:negotiated", "node:state-requested", "target:retired", "node:transferred", "target:woken"]);
  assert.is(target.sidEvents("transferred")[0].lifetime, 0);
  const tNft = target.nft.slice(s.targetNftBefore);
  assert.match(tNft[0], /add chain inet hovsid si/, "the stop rule at the negotiation");
  assert.match(tNft[1], /delete chain arp hovsid ai/);
  assert.match(tNft[1], /add chain arp hovsid ao/);
  assert.ok(!/meta iif/.test(tNft[1]), "silent on every link");
  assert.is(tNft.length, 3);
  assert.equal(target.netlink.length, s.targetNetlinkBefore, "the address stays here while the hosting retires");
  // The Wake-up left the target after its ARP rule went silent; the node announced only then.
  const ip = target.frames.filter((f) => f.data[12] === 0x08 && f.data[13] === 0x00);
  assert.is(ip.length, 1, "the Wake-up went as a frame");
  assert.equal([...ip[0].data.subarray(0, 6)], tn.mac.split(":").map((x) => parseInt(x, 16)), "to the node's MAC");
  assert.is(ip[0].data.subarray(30, 34).join("."), "198.18.0.5", "and its control address");
  const order = target.order.slice(target.order.lastIndexOf("event:state-requested"));
  const silent = order.indexOf("nft:flush chain arp hovsid aic612000a");
  assert.ok(silent >= 0 && silent < order.indexOf("frame"), `the ARP rule went silent before the Wake-up: ${order}`);
  assert.is(target.sidEvents("retired")[0].untilMs, 10000);
  net.run(10000);
  assert.equal(target.sidEvents("ended").map((e) => e.reason), ["returned"]);
  const end = target.nft.slice(s.targetNftBefore + 3).join("\n");
  assert.match(end, /delete chain arp hovsid ai/);
  assert.match(end, /delete chain arp hovsid ao/, "the silent rule's output chain goes too");
  assert.match(end, /delete chain inet hovsid si/);
  assert.match(end, /delete chain ip hovsid sfc612000a\n/, "the hand-on chain goes with the stop rule");
  assert.match(end, /delete chain ip hovsid sqc612000a\n/);
  assert.ok(target.netlinkTypes().slice(s.targetNetlinkBefore).includes(21), "the address removed");
  assert.is(target.sid.state(net.now).targets.length, 0);
  assert.is(tn.sid.state(net.now).transfers.length, 0);
  assert.is(tn.sid.state(net.now).targets.length, 0);
  // The node owns the address again and may transfer it anew.
  assert.is(tn.sid.transfer(net.now, TA, s.tnTarget, { lifetime: 30 }), undefined);
});

test("a same-subnet return (8.7): the old target holds the address's packets from its stop rule and hands them on to the node at its Wake-up Ack (dup to its control address, the queued ones repeated); the node resumes before it acks", () => {
  const s = sameSubnetReturn();
  const { tn, target } = s;
  const tNft = target.nft.slice(s.targetNftBefore);
  // The stop rule's batch: the hand-on chain (input -160) queueing everything the stop rule would drop but the control port.
  assert.match(tNft[0], /add chain ip hovsid sqc612000a\n/);
  assert.match(tNft[0], /add chain ip hovsid sfc612000a \{ type filter hook input priority -160; policy accept; \}/);
  assert.match(tNft[0], /add rule ip hovsid sfc612000a ip daddr 198\.18\.0\.10 counter jump sqc612000a\n/);
  assert.ok(!/dup to/.test(tNft[0]), "no copy before the node has the address");
  // The queue bound and its rule in sq (netlink), after the state-requested event; the copy and the repeat at the Ack.
  const order = target.order.slice(target.order.lastIndexOf("event:state-requested"));
  const types = target.netfilterTypes();
  assert.ok(types.includes(16), `the queue rule: ${types}`);
  assert.is(types[types.length - 1], 771, "a verdict batch last");
  const verdict = new DataView(target.netfilter[types.length - 1].buffer, target.netfilter[types.length - 1].byteOffset);
  assert.is(verdict.getUint32(16 + 4 + 4, false) >>> 0, 4, "NF_REPEAT: each queued packet runs the hand-on chain again");
  assert.match(tNft[2], /^flush chain ip hovsid sfc612000a\n/, "replaced, not deleted (the queue is kept)");
  assert.match(tNft[2], /ip daddr 198\.18\.0\.10 counter dup to 198\.18\.0\.5 drop\n/, "copied on to the node's control address");
  assert.match(tNft[2], /th dport 4346 accept/, "the control port passes");
  const woken = order.indexOf("event:woken");
  const copy = order.indexOf("nft:flush chain ip hovsid sfc612000a");
  assert.ok(woken >= 0 && copy > order.indexOf("frame") && copy >= woken - 1, `the copy comes with the Wake-up Ack: ${order}`);
  assert.is(order[order.length - 1], "netlink12", `the repeat verdict after the copy: ${order}`);
  // The node: released and its stop rule gone before its Ack leaves (the copies meet the live socket).
  const n = tn.order.slice(tn.order.lastIndexOf("event:woken"));
  const released = n.indexOf("event:released");
  const stopGone = n.findIndex((x) => x.startsWith("nft:flush chain inet hovsid si"));
  const ack = n.indexOf("transmit");
  assert.ok(released >= 0 && stopGone > released && ack > stopGone, `the node resumes, removes its stop rule, then acks: ${n}`);
});

test("a same-subnet return whose Wake-ups are lost: retransmitted until one gets through; the node resumes only then", () => {
  let dropped = 0;
  const s = sameSubnetReturn({ filter: (d) => !(d.from === "target" && d.data[1] === 22 && dropped < 2 && ++dropped), runMs: 300 });
  const { net, tn } = s;
  assert.ok(dropped >= 1);
  net.run(10000);
  assert.is(dropped, 2);
  assert.equal(tn.sidEvents("woken").length, 1);
  assert.equal(tn.sidEvents("ended").map((e) => e.reason), ["returned"]);
  assert.is(s.target.sidEvents("woken").length, 1, "the Ack reached the target");
});

test("a same-subnet return's lost negotiation is retransmitted", () => {
  let dropped = 0;
  const s = sameSubnetReturn({ filter: (d) => !(d.from === "target" && d.data[1] === 16 && dropped < 1 && ++dropped) });
  assert.is(dropped, 1);
  assert.equal(s.tn.sidEvents("ended").map((e) => e.reason), ["returned"]);
});

test("a same-subnet return: a forged Wake-up (a wrong key) and a Wake-up from another peer change nothing; a replayed one after a new transfer changes nothing", () => {
  const wakes = [];
  let hold = true;
  const s = sameSubnetReturn({ filter: (d) => !(hold && d.from === "target" && d.data[1] === 22 && wakes.push(d)), runMs: 300 });
  const { net, tn, target, TA } = s;
  assert.ok(wakes.length >= 1);
  const core = tn.engine.core;
  const w = core.decode(wakes[0].data);
  const before = tn.nft.length;
  // 1. The target's Wake-up with a wrong key.
  net.inject(tn, "198.19.0.20", core.encode({ ...w, version: undefined }, { spi: 300, key: new Uint8Array(32).fill(0x5a) }));
  // 2. Another peer with an SA at the node.
  const other = net.node("other", ["198.19.0.50"]).link();
  tn.peer(other, { key: new Uint8Array(32).fill(0x55), spi: 330 });
  net.inject(tn, "198.19.0.50", core.encode({ ...w, version: undefined, cookie: other.cookie }, { spi: 330, key: new Uint8Array(32).fill(0x55) }));
  net.run(50);
  assert.equal(tn.sidEvents("woken"), [], "not woken");
  assert.equal(tn.sidEvents("released"), []);
  assert.is(tn.nft.length, before, "no kernel change");
  assert.is(tn.sid.session(TA).role, "target", "the return waits");
  // The real one.
  hold = false;
  net.run(5000);
  assert.equal(tn.sidEvents("ended").map((e) => e.reason), ["returned"]);
  // 3. The node moves the address to the target again; the old Wake-up, replayed, does not take it back.
  net.run(11000);
  assert.is(tn.sid.transfer(net.now, TA, s.tnTarget, { lifetime: 30 }), undefined);
  tn.pump();
  assert.ok(hostsDeliver(s));
  net.run(3000);
  assert.is(tn.sidEvents("transferred").length, 2);
  const woken = tn.sidEvents("woken").length;
  const nft = tn.nft.length;
  net.inject(tn, "198.19.0.20", wakes[0].data);
  net.run(50);
  assert.is(tn.sidEvents("woken").length, woken, "the replayed Wake-up woke nothing");
  assert.is(tn.nft.length, nft, "no kernel change");
  assert.is(tn.sid.session(TA).role, "node");
  assert.is(tn.sid.session(TA).state, 4, "still TRANSFERRED");
});

test("a same-subnet return is refused from a peer the address did not go to (129), even with F; without S (134); nothing changes", () => {
  for (const variant of ["other", "no-s"]) {
    const s = trio({}, { control: "198.18.0.5" });
    const { net, tn, target, tnTarget, targetTn, TA } = s;
    tn.sid.transfer(net.now, TA, tnTarget, { lifetime: 30, further: true });
    tn.pump();
    assert.ok(hostsDeliver(s));
    net.run(3000);
    const nftBefore = tn.nft.length;
    if (variant === "other") {
      const other = net.node("other", ["198.19.0.50"]).link();
      const otherTn = other.peer(tn, { key: new Uint8Array(32).fill(0x55), spi: 330 });
      tn.peer(other, { key: new Uint8Array(32).fill(0x55), spi: 330 });
      other.engine.option("sidTarget", 1);
      other.sid.transfer(net.now, TA, otherTn, { lifetime: 30 });
      other.pump();
    } else {
      const core = target.engine.core;
      net.filter = (d) => {
        if (d.from !== "target" || d.data[1] !== 16) return true;
        const m = core.decode(d.data);
        m.flags = (m.flags ?? []).filter((f) => f !== "SAME_SUBNET");
        d.data.set(core.encode(m, { spi: 300, key: KEY_TN_TARGET }));
        return true;
      };
      target.sid.transfer(net.now, TA, targetTn, { lifetime: 30 });
      target.pump();
    }
    net.run(1000);
    assert.equal(tn.sidEvents("refused").map((e) => e.code), [variant === "other" ? 129 : 134], variant);
    assert.is(tn.sid.state(net.now).targets.length, 0, variant);
    assert.is(tn.nft.length, nftBefore, `${variant}: no kernel change`);
    assert.is(tn.sid.session(TA).role, "node", `${variant}: the node's transfer stands`);
  }
});

test("a same-subnet target moves the address only back to its node (BUSY otherwise)", () => {
  const s = trio({}, { control: "198.18.0.5" });
  const { net, tn, target, tnTarget, TA } = s;
  tn.sid.transfer(net.now, TA, tnTarget, { lifetime: 30 });
  tn.pump();
  assert.ok(hostsDeliver(s));
  net.run(3000);
  const { t3, tt3 } = thirdTarget(s);
  assert.throws(() => target.sid.transfer(net.now, TA, tt3, { lifetime: 30 }), (e) => e.errorName === "BUSY");
});

test("UDP flows pass the stop rule (sid_udp_pass): in the node's from its first batch, inserted at once at the target, gone with the stop rule", () => {
  const s = trio();
  const { net, tn, target, tnTarget, tnAgent, TA } = s;
  const flow = { localPort: 5002, remote: "198.18.9.2", remotePort: 5003 };
  const hexTA = TA.split(".").map((x) => Number(x).toString(16).padStart(2, "0")).join("");
  const inRule = `insert rule inet hovsid si${hexTA} ip saddr 198.18.9.2 ip daddr ${TA} udp sport 5003 udp dport 5002 accept`;
  const outRule = `insert rule inet hovsid so${hexTA} ip saddr ${TA} ip daddr 198.18.9.2 udp sport 5002 udp dport 5003 accept`;
  // No stop rule stands yet: nothing is written until one is added.
  const before = tn.nft.length;
  tn.sid.udpPass(TA, [flow]);
  tn.pump();
  assert.is(tn.nft.length, before);
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  for (let i = 0; i < 50 && !tn.sidEvents("state-requested").length; i++) net.run(100);
  const stop = tn.nft.find((t) => t.includes(`add chain inet hovsid si${hexTA}`));
  assert.ok(stop, "the node's stop rule");
  assert.ok(stop.includes(inRule) && stop.includes(outRule), `the flow passes it, both ways, in the same batch:\n${stop}`);
  assert.ok(stop.indexOf(inRule) > stop.indexOf(" drop\n"), "inserted (at the head of the chains) after the drop rules were added");
  // The target names the flow when the state record comes: the rules go into the stop rule that stands.
  const tBefore = target.nft.length;
  target.sid.udpPass(TA, [flow]);
  target.pump();
  assert.equal(target.nft.slice(tBefore), [`${inRule}\n${outRule}\n`]);
  target.sid.stateReceived(target.clock(), TA, true);
  target.pump();
  tn.sid.stateDelivered(tn.clock(), TA, true);
  tn.pump();
  net.run(2000);
  assert.is(target.sidEvents("released").length, 1);
  // The target's stop rule went at the release; naming the flow again writes nothing.
  const tAfter = target.nft.length;
  target.sid.udpPass(TA, [flow]);
  target.pump();
  assert.is(target.nft.length, tAfter);
  // The node's stop rule goes with the Stop Transfer; the next transfer's has no pass rules unless named again.
  tn.sid.stop(net.now, TA);
  tn.pump();
  net.run(3000);
  assert.ok(tn.nft.some((t) => t.includes(`delete chain inet hovsid si${hexTA}`)), "the stop rule went");
  const n2 = tn.nft.length;
  tn.sid.udpPass(TA, [flow]);
  tn.pump();
  assert.is(tn.nft.length, n2, "no stop rule stands: nothing is inserted");
  // Bad calls: two families, a port 0, too many.
  const err = (f) => { try { f(); return "ok"; } catch (e) { return e.errorName ?? e.name; } };
  assert.is(err(() => tn.sid.udpPass(TA, [{ ...flow, remote: "2001:db8::1" }])), "TypeError", "two families");
  assert.is(err(() => tn.sid.udpPass(TA, [{ ...flow, localPort: 0 }])), "INVALID_ARGUMENT", "port 0");
  assert.is(err(() => tn.sid.udpPass(TA, Array.from({ length: 17 }, (_, i) => ({ ...flow, localPort: 100 + i })))), "INVALID_ARGUMENT");
});

/** Runs s's network in 1 ms steps until the node asked for the state record (the Transfer Request is under way then, 8.2). */
function untilRecordAsked(s) {
  for (let i = 0; i < 15000 && s.tn.sidEvents("state-requested").length === 0; i++) s.net.run(1);
  assert.is(s.tn.sidEvents("state-requested").length, 1);
}

test("8.2: the record fails after the agent granted the binding: the node stops it, keeps no rule, and announces the address again", () => {
  const s = trio();
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  untilRecordAsked(s);
  net.run(30);
  assert.is(agent.sidEvents("bound").length, 1, "the agent bound on the Transfer Request, before the record's outcome");
  assert.is(tn.sidEvents("transferred").length, 0, "no transfer without the record");
  tn.sid.stateDelivered(net.now, TA, false);
  tn.pump();
  assert.equal(tn.sidEvents("refused").map((e) => e.error), ["REFUSED"]);
  net.run(100);
  assert.is(bindingCount(agent), 0, "the Stop Transfer undid the binding");
  assert.is(net.sent.filter((d) => d.from === "tn" && d.data[1] === 24).length >= 1, true, "a Stop Transfer went to the agent");
  assert.equal(tn.nft.filter((b) => /arp operation request/.test(b)).length, 0, "the node never stopped answering ARP");
  assert.match(tn.nft.at(-1), /delete chain inet hovsid si/);
  assert.ok(tn.frames.some((f) => f.data[12] === 0x08 && f.data[13] === 0x06), "a gratuitous ARP from the node");
  // The address can move again.
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  target.sid.stateReceived(net.now, TA, false);
});

test("8.2: the agent refuses while the record is under way: the node reports it once the record's outcome is in", () => {
  const s = trio();
  const { net, tn, agent, tnTarget, tnAgent, TA } = s;
  agent.engine.option("sidAgent", 0);
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  untilRecordAsked(s);
  net.run(30);
  assert.is(agent.sidEvents("refused").length, 1, "the agent refused");
  assert.is(tn.sidEvents("refused").length, 0, "not reported while the record is under way (the host still has the socket to restore)");
  tn.sid.stateDelivered(net.now, TA, true);
  tn.pump();
  assert.is(tn.sidEvents("refused").length, 1);
  assert.ok(tn.sidEvents("refused")[0].code > 1);
  assert.match(tn.nft.at(-1), /delete chain inet hovsid si/);
  assert.is(tn.sidEvents("transferred").length, 0);
});

test("8.12: the target's first Binding Update goes at the negotiation; a Binding Ack before the record does not release the socket", () => {
  const s = trio();
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  untilRecordAsked(s);
  net.run(6);
  assert.ok(net.sent.some((d) => d.from === "target" && d.data[1] === 20), "a Binding Update before the record");
  net.run(50);
  assert.is(agent.sidEvents("renewed").length, 1, "the agent answered it once the Transfer Request bound the address");
  assert.is(target.sidEvents("bound").length, 1);
  assert.is(target.sidEvents("released").length, 0, "no release without the record");
  assert.ok(!target.nft.some((b) => /delete chain inet hovsid si/.test(b)), "the stop rule stands");
  target.sid.stateReceived(net.now, TA, true);
  target.pump();
  assert.is(target.sidEvents("released").length, 1, "released at the record");
  // The chains are emptied and the held packets accepted in this drain; their deletion comes at a timer
  // due now, after the host handed the socket on (8.12), not in the same drain.
  assert.match(target.nft.at(-1), /^flush chain inet hovsid sic612000a\n/);
  assert.ok(!/delete chain/.test(target.nft.at(-1)), target.nft.at(-1));
  assert.is(target.netfilterTypes().at(-1), NFQ_VERDICT_BATCH, "the verdict in this drain");
  assert.ok(target.engine.nextTimeout() <= target.clock(), "the deletion is due now");
  net.run(1);
  assert.match(target.nft.at(-1), /delete chain inet hovsid si/);
  assert.throws(() => target.sid.stateReceived(net.now, TA, true), /refused/, "a second record is refused");
});

test("the codec's stop and ARP rules (the pieces driver's) are the batches the state machines apply: the core is their only source", () => {
  const s = trio();
  const { net, tn, tnTarget, tnAgent, TA } = s;
  const codec = new SidCodec(tn.engine.core);
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  assert.ok(hostsDeliver(s));
  net.run(1000);
  assert.ok(tn.nft[0].startsWith(codec.stopRule(true, TA, 4346)), "the stop rule, then the hand-on chain (8.12)");
  assert.is(tn.nft[2], codec.arpRule(true, TA, { announce: false }));
  assert.match(codec.stopRule(false, TA, 4346), /^flush chain inet hovsid si/);
  assert.match(codec.arpRule(true, TA, { exceptIfindex: 7, announce: true }), /meta iif != 7 arp operation request arp daddr ip 198\.18\.0\.10 drop\n$/);
  // IPv6 has no ARP: its rule is Neighbour Discovery's (8.18), the same chains in table inet hovsid.
  assert.match(codec.arpRule(true, "2001:db8::10"), /icmpv6 type nd-neighbor-solicit @th,64,128 0x20010db8000000000000000000000010 drop/);
  assert.throws(() => codec.stopRule(true, TA, 0), /control port/);
});

test("8.12: the agent's claim fails while the record is under way: its Wake-up fails the transfer, the address stays here", () => {
  const s = trio();
  const { net, tn, agent, tnTarget, tnAgent, TA } = s;
  agent.failKernel = 1; // EPERM: the agent's kernel refuses everything
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  untilRecordAsked(s);
  net.run(100); // the Transfer Reply (granted), then the claim fails and the Wake-up comes; the record is still under way
  assert.equal(agent.sidEvents("ended").map((e) => e.reason), ["kernel-failed"]);
  assert.is(agent.sidEvents("woken").length, 1, "the node acknowledged the Wake-up");
  assert.is(tn.sidEvents("refused").length, 0, "reported once the record's outcome is in");
  tn.sid.stateDelivered(net.now, TA, true);
  tn.pump();
  assert.equal(tn.sidEvents().map((e) => e.state), ["state-requested", "negotiated", "refused"]);
  assert.match(tn.sidEvents("refused")[0].message, /ended the binding before the transfer completed/);
  assert.equal(tn.nft.filter((b) => /arp operation request/.test(b)).length, 0, "no ARP rule");
  assert.match(tn.nft.at(-1), /delete chain inet hovsid si/);
  assert.ok(tn.frames.some((f) => f.data[12] === 0x08 && f.data[13] === 0x06), "the node announced its address again");
});

test("8.2: the target refuses the negotiation after the agent granted the Transfer Request sent with it: the node stops the binding, nothing stays", () => {
  const s = trio();
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  target.engine.option("sidTarget", 0);
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  assert.ok(net.sent.some((d) => d.from === "tn" && d.data[1] === 18), "the Transfer Request left with the negotiation");
  net.run(200);
  assert.is(agent.sidEvents("bound").length, 1);
  // 8.12, the 1-RTT order: stopped and dumped at the call; the refusal takes the stop rule (and the hold
  // at the node) away before it is reported, so the host restores the socket from the record into a free path.
  assert.equal(tn.sidEvents().map((e) => e.state), ["state-requested", "refused"]);
  assert.ok(net.sent.some((d) => d.from === "tn" && d.data[1] === 24), "a Stop Transfer");
  assert.is(bindingCount(agent), 0, "the binding is gone");
  assert.match(tn.nft[0], /add chain inet hovsid si/);
  assert.match(tn.nft[1], /^flush chain ip hovsid sfc612000a\n$/, "the hold at the node ends: emptied, its queue repeated");
  assert.match(tn.nft[2], /delete chain inet hovsid si/);
  assert.match(tn.nft[2], /delete chain ip hovsid sf/);
  assert.is(tn.nft.length, 3, "no rule left at the node");
  const o = tn.order;
  assert.ok(o.indexOf("nft:flush chain inet hovsid sic612000a") < o.indexOf("event:refused"), o.join(", "));
  assert.ok(tn.frames.some((f) => f.data[12] === 0x08 && f.data[13] === 0x06), "the node announced its address again");
  assert.is(tn.sid.state(net.now).transfers?.length ?? 0, 0);
});

test("8.12 UDP flows: the Transfer Request waits for the delivered record (the agent's claim would send the flows' datagrams to a target with no socket for them)", () => {
  const s = trio();
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  tn.sid.udpPass(TA, [{ localPort: 5002, remote: "198.18.9.2", remotePort: 5003 }]);
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  untilRecordAsked(s);
  net.run(100);
  assert.is(agent.sidEvents("bound").length, 0, "no binding before the record is delivered");
  target.sid.stateReceived(net.now, TA, true);
  target.pump();
  tn.sid.stateDelivered(net.now, TA, true);
  tn.pump();
  net.run(100);
  assert.is(agent.sidEvents("bound").length, 1, "the Transfer Request went with the delivered record");
  assert.is(tn.sidEvents("transferred").length, 1);
  assert.is(target.sidEvents("released").length, 1);
});

const queueOf = (b) => new DataView(b.buffer, b.byteOffset).getUint16(18, false);

test("the hold at the node (8.12): after its stop rule the node queues the address's packets, and at the Transfer Reply copies them on to the agent (NF_REPEAT through the hand-on chain)", () => {
  const s = trio();
  const { net, tn, tnTarget, tnAgent, TA } = s;
  // The agent's Transfer Reply comes after the negotiation's reply: the node holds meanwhile.
  const held = [];
  net.filter = (d) => !(d.from === "agent" && d.data[1] === 19 && held.push(d));
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  net.run(100);
  assert.is(tn.sidEvents("state-requested").length, 1);
  // The stop rule's batch has the hand-on chain (ip family, input, before the stop rule's -150): the control
  // port passes, everything else for the address jumps to the queue chain.
  const first = tn.nft[0];
  assert.match(first, /add chain ip hovsid sqc612000a\n/);
  assert.match(first, /add chain ip hovsid sfc612000a \{ type filter hook input priority -160; policy accept; \}/);
  assert.match(first, /add rule ip hovsid sfc612000a ip daddr 198\.18\.0\.10 meta l4proto \{ tcp, udp \} th dport 4346 accept/);
  assert.match(first, /add rule ip hovsid sfc612000a ip daddr 198\.18\.0\.10 counter jump sqc612000a\n$/);
  assert.ok(!/dup to/.test(first), "nothing goes to the agent before it holds the address");
  // The queue bound (SID's queue + 1: 4348) and the NFQUEUE rule in the queue chain, after the event that starts the dump.
  assert.equal(tn.netfilterTypes(), [NFQ_CONFIG, NFNL_BATCH_BEGIN]);
  assert.is(queueOf(tn.netfilter[0]), 4348);
  assert.ok(/sqc612000a/.test(latin1(tn.netfilter[1])) && /NFQUEUE/.test(latin1(tn.netfilter[1])));
  assert.ok(tn.order.indexOf("event:state-requested") < tn.order.indexOf("netlink12"), tn.order.join(", "));
  // The Transfer Reply: the hand-on chain's rules replaced (not the chain: its removal would flush the queue),
  // then one verdict NF_REPEAT (4) for every held packet, which runs them through the chain again.
  net.filter = null;
  assert.ok(held.length > 0, "the Transfer Reply was held back");
  for (const d of held) net.inject(tn, d.source ?? "198.18.0.1", d.data);
  net.run(100);
  assert.equal(tn.netfilterTypes(), [NFQ_CONFIG, NFNL_BATCH_BEGIN, NFQ_VERDICT_BATCH]);
  const verdict = tn.netfilter[2];
  assert.is(queueOf(verdict), 4348);
  assert.is(verdictOf(verdict), 4, "NF_REPEAT");
  const hand = tn.nft.findIndex((b) => /dup to/.test(b));
  assert.ok(hand > 0);
  assert.match(tn.nft[hand], /^flush chain ip hovsid sfc612000a\n/);
  assert.match(tn.nft[hand], /add rule ip hovsid sfc612000a ip daddr 198\.18\.0\.10 counter dup to 198\.18\.0\.1 drop\n$/);
  assert.ok(!/delete chain/.test(tn.nft[hand]));
  const o = tn.order;
  assert.ok(o.indexOf("nft:flush chain ip hovsid sfc612000a") < o.lastIndexOf("netlink12"), o.join(", "));
  assert.ok(!tn.nft.some((b) => /delete chain/.test(b)), "no chain deleted while it held");
});

test("the hold at the node (8.12): a Transfer Reply before the negotiation's reply: the node, stopped at the call, hands on at the Transfer Reply without waiting for the target; the chains go with the stop rule", () => {
  const s = trio();
  const { net, tn, agent, tnTarget, tnAgent, TA } = s;
  // The target's first negotiation reply is lost: the agent's reply comes first, the target's retransmitted one later.
  let dropped = 0;
  net.filter = (d) => !(d.from === "target" && d.data[1] === 17 && dropped++ === 0);
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  assert.ok(hostsDeliver(s));
  net.run(3000);
  assert.ok(dropped >= 1);
  assert.equal(tn.sidEvents().map((e) => e.state), ["state-requested", "negotiated", "transferred"]);
  // 8.12, the 1-RTT order: the stop rule's batch (at the call) queues; the Transfer Reply, before the
  // negotiation's reply, replaces it by the copy to the agent and repeats the queue.
  assert.match(tn.nft[0], /counter jump sqc612000a\n$/);
  assert.match(tn.nft[1], /add rule ip hovsid sfc612000a ip daddr 198\.18\.0\.10 counter dup to 198\.18\.0\.1 drop\n$/);
  const o = tn.order;
  assert.ok(o.indexOf("nft:flush chain ip hovsid sfc612000a") < o.indexOf("event:negotiated"), o.join(", "));
  assert.is(tn.netfilterTypes().at(-1), NFQ_VERDICT_BATCH);
  // Stop Transfer: the address comes back; the hand-on chain goes with the stop rule, in its batch.
  tn.sid.stop(net.now, TA);
  tn.pump();
  net.run(1000);
  assert.is(tn.sidEvents("stopped").length, 1);
  const gone = tn.nft.find((b) => /delete chain inet hovsid sic612000a/.test(b));
  assert.ok(gone && /delete chain ip hovsid sfc612000a\n/.test(gone) && /delete chain ip hovsid sqc612000a/.test(gone), gone);
  assert.is(agent.sidEvents("ended").length, 1);
});

test("the hold at the node (8.12): a per-flow transfer and a same-subnet one have no hand-on chain", () => {
  const s = trio();
  const { net, tn, tnTarget, TA } = s;
  tn.sid.transfer(net.now, TA, tnTarget, { lifetime: 30 }); // no agent: 8.7
  tn.pump();
  hostsDeliver(s);
  net.run(1000);
  assert.is(tn.sidEvents("state-requested").length, 1);
  assert.ok(!tn.nft.some((b) => /ip hovsid/.test(b)));
  assert.is(tn.netfilter.length, 0);
});

test("the hold at the node (8.12): UDP flows that pass the stop rule pass the hand-on chain too, until the transfer completes; then they are handed on", () => {
  const s = trio();
  const { net, tn, target, tnTarget, tnAgent, TA } = s;
  const flow = { localPort: 5002, remote: "198.18.9.2", remotePort: 5003 };
  const pass = `ip hovsid sfc612000a ip saddr 198.18.9.2 ip daddr ${TA} udp sport 5003 udp dport 5002 accept`;
  tn.sid.udpPass(TA, [flow]);
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  for (let i = 0; i < 50 && !tn.sidEvents("state-requested").length; i++) net.run(100);
  const stop = tn.nft.find((t) => t.includes("add chain ip hovsid sfc612000a"));
  assert.ok(stop && stop.includes(`add rule ${pass}`), stop);
  assert.ok(stop.indexOf(`add rule ${pass}`) < stop.indexOf("counter jump sqc612000a"), "before the queue's jump");
  // With UDP flows the Transfer Request waits for the record (8.2): the node holds meanwhile.
  target.sid.udpPass(TA, [flow]);
  target.sid.stateReceived(target.clock(), TA, true);
  target.pump();
  tn.sid.stateDelivered(tn.clock(), TA, true);
  tn.pump();
  net.run(2000);
  assert.is(tn.sidEvents("transferred").length, 1);
  const hands = tn.nft.filter((t) => /^flush chain ip hovsid sfc612000a\n/.test(t));
  assert.is(hands.length, 2, hands.join("\n----\n"));
  assert.ok(hands[0].includes(`add rule ${pass}`) && /dup to 198\.18\.0\.1 drop\n$/.test(hands[0]), "at the Transfer Reply: the flow still passes");
  assert.ok(!hands[1].includes("udp sport 5003") && /dup to 198\.18\.0\.1 drop\n$/.test(hands[1]), "at transferred: handed on too");
  assert.is(verdictOf(tn.netfilter.at(-1)), 4);
});

// ---- 8.12, the 1-RTT order: the record at the call, the agent's Binding Ack at the binding ----

test("8.12, the 1-RTT order: the agent's Binding Ack at the binding releases the target one round trip after the call, before its own Binding Update is answered", () => {
  const s = trio(); // 5 ms each way
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  const t0 = net.now;
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  // The record is asked for at the call, beside the negotiation and the Transfer Request.
  assert.equal(tn.sidEvents().map((e) => e.state), ["state-requested"]);
  assert.match(tn.nft[0], /add chain inet hovsid si/);
  assert.ok(hostsDeliver(s));
  assert.is(s.deliveredAt - t0, 5, "the record is in at the target half a round trip after the call");
  net.run(3);
  const notice = sentOf(net, "agent", 21);
  assert.is(notice.length, 1, "the agent's Binding Ack at the binding, before any Binding Update reached it");
  assert.is(sentOf(net, "agent", 21)[0].to ?? "target", "target");
  net.run(1000);
  const released = target.sidEvents("released")[0];
  assert.is(released.t - t0, 10, `released ${released.t - t0} ms after the call: one round trip`);
  assert.equal(target.sidEvents("bound").map((e) => e.notice), [true]);
  assert.equal(target.sidEvents().map((e) => e.state), ["negotiated", "released", "bound"]);
  // The answer to the target's own first Binding Update came later and changed only the expiry (no event).
  assert.is(sentOf(net, "agent", 21).length, 2);
  assert.is(target.sidEvents("renewed").length, 0);
  assert.equal(tn.sidEvents().map((e) => e.state), ["state-requested", "negotiated", "transferred"]);
  // Renewals go on as before.
  net.run(25000);
  assert.is(target.sidEvents("renewed").length, 1);
  assert.is(agent.sidEvents("renewed").length, 2);
});

test("8.12: the agent's Binding Ack at the binding lost: the target's own Binding Update binds it (the fallback), released at its answer", () => {
  const s = trio();
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  let dropped = 0;
  net.filter = (d) => !(d.from === "agent" && d.data[1] === 21 && dropped++ === 0);
  const t0 = net.now;
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  assert.ok(hostsDeliver(s));
  net.run(1000);
  assert.is(dropped >= 1, true);
  assert.equal(target.sidEvents("bound").map((e) => e.notice), [undefined]);
  assert.is(target.sidEvents("released")[0].t - t0, 15);
  assert.is(tn.sidEvents("transferred").length, 1);
  void agent;
});

test("8.12: a forged, tampered, refusing or replayed Binding Ack of the agent binds nothing and changes nothing", () => {
  const s = trio();
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  let kept = null;
  // Hold every Binding Ack back: the target waits for the first one.
  net.filter = (d) => {
    if (d.from === "agent" && d.data[1] === 21) {
      kept ??= d;
      return false;
    }
    return true;
  };
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  assert.ok(hostsDeliver(s));
  net.run(8);
  assert.ok(kept, "the agent sent its Binding Ack at the binding");
  const drops = () => target.engine.state(net.now).counters.droppedBy.NOT_A_REPLY ?? 0;
  const before = drops();
  const stateBefore = JSON.stringify(target.sid.state(net.now).targets);
  // A byte of the sealed body, of the tag, of the SPI, of the header flipped: none opens.
  for (const at of [kept.data.length - 20, kept.data.length - 1, kept.data.length - 17, 3, 1 + 1]) {
    const bad = kept.data.slice();
    bad[at] ^= 0x01;
    net.inject(target, "198.18.0.1", bad);
  }
  // A forger without the session key: the same message sealed under another binding key is another SA's tag.
  net.run(1);
  assert.is(target.sidEvents("bound").length, 0, "nothing bound");
  assert.is(target.sidEvents("released").length, 0);
  assert.ok(drops() >= before + 3, `${drops() - before} dropped as not a reply`);
  assert.is(JSON.stringify(target.sid.state(net.now).targets), stateBefore, "the hosting is as it was");
  // The real one binds once; replayed, it changes nothing.
  net.inject(target, "198.18.0.1", kept.data);
  net.run(1);
  assert.equal(target.sidEvents("bound").map((e) => e.notice), [true]);
  assert.is(target.sidEvents("released").length, 1);
  const after = drops();
  const expiresAt = JSON.stringify(target.sid.state(net.now).targets);
  net.inject(target, "198.18.0.1", kept.data);
  net.run(1);
  assert.is(target.sidEvents("bound").length, 1);
  assert.is(target.sidEvents("renewed").length, 0);
  assert.is(drops(), after + 1, "the replay is not a reply");
  assert.is(JSON.stringify(target.sid.state(net.now).targets), expiresAt);
  // A stale one: the binding ends, a new transfer makes a new hosting (new session key); the old Ack opens under nothing.
  net.filter = null;
  target.sid.sessionEnded(net.now, TA);
  target.pump();
  net.run(3000);
  assert.is(tn.sid.session(TA), null);
  const staleAt = target.sidEvents("bound").length;
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  net.filter = (d) => !(d.from === "agent" && d.data[1] === 21);
  net.run(7); // the new hosting registers; its Acks held back
  const d0 = target.engine.state(net.now).counters.dropped;
  net.inject(target, "198.18.0.1", kept.data);
  net.run(1);
  assert.is(target.sidEvents("bound").length, staleAt, "the old binding's Ack binds nothing");
  assert.is(target.engine.state(net.now).counters.dropped, d0 + 1, "dropped (its SPI names no SA any more)");
  void agent;
});

// ---- 8.12: the agent's claim in two parts; the node's datagrams before its stop rule ----

const kindsSince = (n, k) => (n.order ?? []).slice(k).map((x) => (x.startsWith("nft:") ? "nft" : x));

test("8.12: the agent's claim in two parts: the tunnel (its filters in ONE nft batch, before its link and route), the Transfer Reply, the agent's Binding Ack, then the gratuitous ARP and the proxy entry", () => {
  for (const reverse of [false, true]) {
    const s = trio();
    const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
    tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30, reverse });
    tn.pump();
    const k = agent.order?.length ?? 0;
    const n0 = agent.netlink.length, f0 = agent.nft.length;
    net.run(6); // the Transfer Request is in (5 ms); no Binding Update yet
    // The Transfer Reply goes as a frame (the node's address is claimed here, 8.14); the Ack is the transmit.
    const tunnel = ["netlink0", "netlink0", "netlink0", "netlink0"];
    assert.equal(kindsSince(agent, k), [...(reverse ? ["nft"] : []), ...tunnel, "frame", "event:bound", "transmit", "frame", "netlink0"], `reverse ${reverse}`);
    // 16 NEWLINK, 28 NEIGH (fdb), 28 NEIGH, 24 ROUTE; then, after the Ack, 28 the proxy entry.
    assert.equal(agent.netlinkTypes().slice(n0), [16, 28, 28, 24, 28]);
    if (reverse) {
      assert.is(agent.nft.length - f0, 1, "one nft batch for the claim");
      assert.match(agent.nft[f0], /add rule inet hovtunnel v[0-9a-f]{6} ip saddr != [^]*add element inet hovtunnel vni [^]*add rule inet hovsid rp[0-9a-f]{6} ip saddr != 198.18.0.10 drop\nadd element inet hovsid rpif /);
    }
    const ack = sentOf(net, "agent", 21);
    assert.is(ack.length, 1, "the agent's own Binding Ack left at the binding");
    assert.ok(hostsDeliver(s));
    net.run(1000);
    assert.equal(target.sidEvents("bound").map((e) => e.notice), [true]);
    assert.is(target.sidEvents("released").length, 1);
    assert.equal(tn.sidEvents().map((e) => e.state), ["state-requested", "negotiated", "transferred"]);
  }
});

test("8.12: the tunnel's part of the agent's claim fails: no Binding Ack of the agent leaves, the target never releases; the node is woken and keeps its address", () => {
  const s = trio();
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  agent.failKernel = 1; // EPERM for every action: the tunnel's part fails
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  net.run(15); // the record's confirmation is slower than the agent's Wake-up here
  assert.ok(hostsDeliver(s));
  net.run(3000);
  assert.equal(agent.sidEvents("ended").map((e) => e.reason), ["kernel-failed"]);
  assert.is(target.sidEvents("bound").length, 0, "no Binding Ack bound the target");
  assert.is(target.sidEvents("released").length, 0, "the target never released the socket");
  assert.equal(tn.sidEvents().map((e) => e.state), ["state-requested", "negotiated", "refused"]);
  assert.is(agent.sidEvents("woken").length, 1);
});

test("8.12: the second part of the agent's claim (the proxy entry) fails after its Binding Ack left: the agent sends the target a Binding Ack of Lifetime 0, the target gives the address up, the node is woken and has its address back", () => {
  const s = trio();
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  // Only the proxy entry fails: RTM_NEWNEIGH (28) on the home link (ifindex 2; the tunnel's neighbour is on its own link).
  agent.failAction = (o) => {
    if (o.kind !== "netlink" || o.protocol !== 0) return 0;
    const v = new DataView(o.data.buffer, o.data.byteOffset);
    return v.getUint16(4, true) === 28 && v.getInt32(20, true) === 2 ? 17 : 0;
  };
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  assert.ok(hostsDeliver(s));
  net.run(3000);
  assert.equal(agent.sidEvents("ended").map((e) => e.reason), ["kernel-failed"]);
  assert.is(bindingCount(agent), 0);
  // Two Binding Acks of the agent's own before any Binding Update was answered: granted, then Lifetime 0.
  assert.ok(sentOf(net, "agent", 21).length >= 2);
  const ended = target.sidEvents("ended");
  assert.equal(ended.map((e) => e.reason), ["agent-claim-failed"]);
  assert.match(target.sidEvents("refused")[0].message, /claim failed after its Binding Ack/);
  assert.is(target.sid.state(net.now).targets.length, 0, "no hosting stays at the target");
  assert.is(agent.sidEvents("woken").length, 1, "the node acknowledged the Wake-up");
  // The node has its address again: no ARP rule stands, its stop rule is gone, it announced the address.
  const lastArp = tn.nft.filter((b) => /arp hovsid ai/.test(b)).at(-1);
  assert.ok(!lastArp || /delete chain arp hovsid ai/.test(lastArp), "no ARP rule stays at the node");
  assert.ok(tn.frames.some((f) => f.data[12] === 0x08 && f.data[13] === 0x06), "the node announced its address again");
});

test("8.12: a Binding Ack of Lifetime 0 that does not open (tampered) or comes after the hosting is gone changes nothing", () => {
  const s = trio();
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  agent.failAction = (o) => {
    if (o.kind !== "netlink" || o.protocol !== 0) return 0;
    const v = new DataView(o.data.buffer, o.data.byteOffset);
    return v.getUint16(4, true) === 28 && v.getInt32(20, true) === 2 ? 17 : 0;
  };
  let revoke = null;
  let acks = 0;
  net.filter = (d) => {
    if (d.from === "agent" && d.data[1] === 21 && ++acks === 2) {
      revoke = d; // the second of the agent's own: Lifetime 0, kept back
      return false;
    }
    return true;
  };
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  assert.ok(hostsDeliver(s));
  net.run(8);
  assert.ok(revoke, "the agent sent its Binding Ack of Lifetime 0");
  assert.is(target.sidEvents("released").length, 1, "released at the first Ack");
  const before = JSON.stringify(target.sid.state(net.now).targets);
  for (const at of [revoke.data.length - 20, revoke.data.length - 1, 3]) {
    const bad = revoke.data.slice();
    bad[at] ^= 0x01;
    net.inject(target, "198.18.0.1", bad);
  }
  net.run(1);
  assert.is(target.sidEvents("ended").length, 0, "a tampered one ends nothing");
  assert.is(JSON.stringify(target.sid.state(net.now).targets), before);
  net.inject(target, "198.18.0.1", revoke.data);
  net.run(1);
  assert.equal(target.sidEvents("ended").map((e) => e.reason), ["agent-claim-failed"]);
  const d0 = target.engine.state(net.now).counters.dropped;
  net.inject(target, "198.18.0.1", revoke.data); // replayed: no hosting of its SPI any more
  net.run(1);
  assert.is(target.sidEvents("ended").length, 1);
  assert.is(target.engine.state(net.now).counters.dropped, d0 + 1);
});

test("8.12: the node's order at the call: the negotiation and the Transfer Request leave first, then the stop rule, then state-requested (the dump), then the hold's queue rule", () => {
  const s = trio();
  const { net, tn, tnTarget, tnAgent, TA } = s;
  const k = tn.order?.length ?? 0;
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  tn.pump();
  assert.equal(kindsSince(tn, k), ["transmit", "transmit", "nft", "event:state-requested", "netlink12", "netlink12"]);
  assert.equal(net.sent.filter((d) => d.from === "tn").map((d) => d.data[1]), [16, 18]);
  assert.match(tn.nft.at(-1), /add chain inet hovsid si/);
});

test("8.12 at ~1 ms RTT: the agent's claim (and its Binding Ack) may come before the node's stop rule is in: the transfer completes, the target releases once, the node keeps no socket", () => {
  const s = trio({ delayMs: 0.5 });
  const { net, tn, agent, target, tnTarget, tnAgent, TA } = s;
  tn.sid.transfer(net.now, TA, tnTarget, { agent: tnAgent, lifetime: 30 });
  // The node's host has sent the two datagrams; its stop rule and dump come later than the agent's claim.
  const held = [];
  for (let o; (o = tn.engine.poll()); ) held.push(o);
  const sends = held.filter((o) => o.kind === "transmit");
  assert.is(sends.length, 2);
  for (const o of sends) net.send(tn, o);
  net.run(2); // the agent bound, claimed and sent its Ack; the target negotiated
  assert.is(agent.sidEvents("bound").length, 1);
  assert.ok(sentOf(net, "agent", 21).length >= 1, "the agent's Binding Ack left");
  assert.is(target.sidEvents("released").length, 0, "no record yet: no release");
  // Now the node's stop rule, then the dump (state-requested).
  for (const o of held.filter((o) => o.kind !== "transmit")) {
    if (o.kind === "nft") { tn.nft.push(o.text); tn.engine.actionResult(tn.clock(), o.id, 0); }
    else if (o.kind === "netlink") { tn.netfilter.push(o.data); tn.engine.netlinkReply(tn.clock(), o.id, new Uint8Array(36)); }
    else if (o.kind === "event") tn.events.push(o.event);
  }
  tn.pump();
  assert.ok(hostsDeliver(s));
  net.run(1000);
  assert.is(target.sidEvents("released").length, 1);
  // (the node's events in the order this test's host took them: the stop rule's drain came after the reply)
  assert.equal(tn.sidEvents().map((e) => e.state).sort(), ["negotiated", "state-requested", "transferred"]);
  assert.match(tn.nft.find((b) => /arp hovsid/.test(b)) ?? "", /add chain arp hovsid ai/, "the node's ARP rule at transferred");
});

test.run();
