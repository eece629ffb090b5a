// The data plane's rules and the hold, on the simulated pair (test/_sim.js)
// with a simulated kernel for the address watch (test/_kernel_sim.js): what
// the core asks the kernel to do, in which order, on a virtual clock.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SimNet } from "./_sim.js";
import { withKernel, addressMessage } from "./_kernel_sim.js";

const OLD = "198.18.1.2";
const OLD6 = "2001:db8:1::2";
const NEW = "198.18.2.2";
const NEW2 = "198.18.3.2";
const PEER = "198.18.9.1";

/** M with the guard and the address watch on (as a daemon runs), F plain. */
function watchedPair(addresses = [OLD, OLD6]) {
  const net = new SimNet({ delayMs: 5 });
  const m = net.node("m.example", [OLD, NEW, NEW2]);
  const f = net.node("f.example", [PEER]);
  const mp = m.peer(f);
  f.peer(m);
  const k = withKernel(m, addresses);
  m.engine.kernelSetup(net.now);
  m.pump();
  net.run(100);
  return { net, m, f, mp, k };
}

const tcpSession = { local: OLD, localPort: 40000, remote: PEER, remotePort: 5001 };

test("link down: the IPv6 address goes first, with no sessions; nothing is released while the IPv4 sessions migrate", () => {
  const { net, m, k } = watchedPair();
  // The link goes down: its IPv6 address is removed at once, the IPv4 one when flushed.
  k.event(addressMessage(false, OLD6));
  k.event(addressMessage(false, OLD));
  const [v6tcp, v6udp] = k.diag.filter((r) => r.family === 6);
  // While sock_diag has not answered, every packet from the lost address waits.
  assert.match(m.lastRules(), /add rule inet handover tag ip saddr 198\.18\.1\.2 meta mark set meta mark or 0x20000000 counter comment "hov1 lost"/);
  const before = k.log.length;
  // The IPv6 address carried nothing.
  k.answer(v6tcp);
  k.answer(v6udp);
  assert.is(k.verdicts(before).length, 0, "a loss without sessions releases nothing while another loss is being probed");
  // The IPv4 address carried a TCP session with the peer.
  for (const r of k.diag.filter((r) => r.family === 4)) k.answer(r, r.protocol === "tcp" ? [tcpSession] : []);
  assert.match(m.lastRules(), /tag ip saddr 198\.18\.1\.2 ip daddr 198\.18\.9\.1 tcp sport 40000 meta mark set/, "the session is held");
  assert.not.match(m.lastRules(), /hov1 lost/, "its own hold replaces the lost address's");
  // The new address comes 5 ms later: the automatic migration runs.
  net.run(5);
  k.event(addressMessage(true, NEW));
  const started = k.log.findIndex((e) => e.kind === "event" && e.event.event === "migration" && e.event.state === "started");
  assert.ok(started >= 0, "the migration started");
  assert.match(m.lastRules(), /out ip saddr 198\.18\.1\.2 ip daddr 198\.18\.9\.1 tcp sport 40000 ip saddr set 198\.18\.2\.2/);
  net.run(1000);
  const released = k.log.findIndex((e) => e.kind === "event" && e.event.event === "migration" && e.event.state === "released");
  assert.ok(released > started, "the migration completed");
  // The escape: any release between the rewrite and the peer's reply lets a
  // held packet leave from the new address before the peer has its rules.
  const replyAt = k.log[released].t;
  const early = k.log.slice(started, released).filter((e) => e.kind === "verdict" && e.t < replyAt);
  assert.is(early.length, 0, `no release while the migration waits for its reply (${early.map((e) => e.t - net.now).join(", ")})`);
  assert.ok(k.verdicts(released).length >= 1, "released once the reply came");
});

/** Loses OLD with a TCP session on it and lets NEW appear: the automatic migration starts. */
function breakToNew({ net, k }) {
  k.event(addressMessage(false, OLD));
  for (const r of k.diag.filter((r) => r.family === 4)) k.answer(r, r.protocol === "tcp" ? [tcpSession] : []);
  k.event(addressMessage(true, NEW));
}

/** The queue a verdict (or queue rule) names: nfgenmsg.res_id. */
const queueOf = (e) => new DataView(e.data.buffer, e.data.byteOffset).getUint16(18, false);
/** The queue a queue rule's NFQUEUE target names (xt_NFQ_info_v3 at the end of its NEWRULE, before BATCH_END). */
const ruleQueueOf = (e) => new DataView(e.data.buffer, e.data.byteOffset).getUint16(e.data.length - 28, true);
/** The held sessions' queue (the default: the control port) and the lost addresses' (+ 3). */
const HELD_Q = 4346;
const LOST_Q = 4349;

const stateAt = (k, state, from = 0) => k.log.findIndex((e, i) => i >= from && e.kind === "event" && e.event.event === "migration" && e.event.state === state);

test("a release's follow-up does not release a hold that began since", () => {
  const p = watchedPair();
  const { net, k } = p;
  breakToNew(p);
  net.run(12);
  const first = stateAt(k, "released");
  assert.ok(first >= 0, "the first migration completed");
  // 2 ms after the release, the new address is lost too; the sessions move on to a third one.
  net.run(2);
  k.event(addressMessage(false, NEW));
  for (const r of k.diag.filter((r) => r.family === 4)) k.answer(r);
  k.event(addressMessage(true, NEW2));
  const started = stateAt(k, "started", first);
  assert.ok(started > first, "the second migration started");
  net.run(1000);
  const released = stateAt(k, "released", started);
  assert.ok(released > started, "the second migration completed");
  const replyAt = k.log[released].t;
  const early = k.log.slice(started, released).filter((e) => e.kind === "verdict" && e.t < replyAt);
  assert.is(early.length, 0, "the first release's follow-up, due during the second request, was not sent");
});

test("a release waits while another lost address is being probed, and happens when the probe ends", () => {
  const p = watchedPair([OLD, NEW2]);
  const { net, k } = p;
  breakToNew(p);
  const started = stateAt(k, "started");
  // While the request is out, another address goes; its sockets are not known yet.
  k.event(addressMessage(false, NEW2));
  const probe = k.diag.filter((r) => r.family === 4);
  net.run(1000);
  const released = stateAt(k, "released", started);
  assert.ok(released > started, "the migration completed");
  // The migration's sessions go at its reply; the lost address's packets (its own queue) wait for its dumps.
  assert.ok(k.verdicts(released).some((e) => queueOf(e) === HELD_Q), "the migration's held queue released at the reply");
  assert.is(k.verdicts(started).filter((e) => queueOf(e) !== HELD_Q).length, 0, "nothing else released while a lost address's packets may wait in the queue");
  const before = k.log.length;
  for (const r of probe) k.answer(r);
  assert.ok(k.verdicts(before).some((e) => queueOf(e) === LOST_Q), "the lost queue released as soon as the probe found nothing");
});

test("two queues: known moves migrated before the dumps are released at the reply; the lost address's catch-all waits for the dumps, then goes first", () => {
  const p = watchedPair([OLD]);
  const { net, m, k } = p;
  breakToNew(p);
  net.run(1000);
  const first = stateAt(k, "completed");
  assert.ok(first >= 0, "the first move (OLD -> NEW)");
  // The hold chain queues each mark to its own queue: both queue rules were sent.
  const rules = k.log.filter((e) => e.kind === "queue-rule").map(ruleQueueOf);
  assert.ok(rules.includes(HELD_Q) && rules.includes(LOST_Q), `queue rules for both queues (${rules})`);
  // NEW goes; its sessions' dumps are asked and not answered yet; NEW2 comes meanwhile.
  k.event(addressMessage(false, NEW));
  assert.match(m.lastRules(), /ip saddr 198\.18\.2\.2 meta mark set meta mark or 0x20000000 counter comment "hov1 lost"/, "the lost address's catch-all has its own mark");
  assert.match(m.lastRules(), /tag ip saddr 198\.18\.1\.2 ip daddr 198\.18\.9\.1 tcp sport 40000 meta mark set meta mark or 0x10000000/, "the known move is held in the migration's queue");
  const dumps = k.diag.filter((r) => r.family === 4);
  assert.ok(dumps.length >= 1, "the dumps are asked");
  k.event(addressMessage(true, NEW2));
  const started = stateAt(k, "started", first);
  assert.ok(started > first, "the known move migrates before the dumps' answer");
  net.run(100);
  const released = stateAt(k, "released", started);
  assert.ok(released > started && k.diag.length > 0, "the reply came while the dumps are still out");
  const atReply = k.verdicts(started);
  assert.ok(atReply.some((e) => queueOf(e) === HELD_Q), `the held queue released at the reply, not at the dumps' answer (${atReply.map(queueOf)})`);
  assert.is(atReply.filter((e) => queueOf(e) === LOST_Q).length, 0, "the lost address's queue stays held");
  // The dumps find nothing more: the catch-all is released, before the held queue's verdict of that moment.
  const before = k.log.length;
  for (const r of [...k.diag]) k.answer(r);
  const after = k.verdicts(before).map(queueOf);
  assert.ok(after.length >= 1 && after[0] === LOST_Q, `the lost queue released first at the dumps' answer (${after})`);
  net.run(1000);
  assert.not.match(m.lastRules(), /hov1 lost|meta mark set/, "nothing held at the end");
});

test("a loss without sessions leaves the guard's packets held until the sweep", () => {
  const { net, k } = watchedPair();
  k.event(addressMessage(false, OLD6));
  const before = k.log.length;
  for (const r of [...k.diag]) k.answer(r);
  assert.is(k.verdicts(before).length, 0, "nothing released at once");
  net.run(6000);
  assert.ok(k.verdicts(before).length >= 1, "the sweep released what nothing claimed");
});

test("the hold chain: the queue rule goes first; marked packets it did not take are dropped, released ones re-routed", () => {
  const { net, m, mp, k } = watchedPair();
  const setup = m.nft.find((t) => t.includes("flush chain inet handover hold"));
  assert.match(setup, /flush chain inet handover hold\nadd rule inet handover hold meta mark & 0x10000000 == 0x10000000 counter drop/);
  const rule = k.log.find((e) => e.kind === "queue-rule").data;
  // NEWRULE without NLM_F_APPEND (0x800): inserted at the head of the chain, before the drop.
  const flags = new DataView(rule.buffer, rule.byteOffset).getUint16(20 + 6, true);
  assert.is(flags & 0x800, 0, "the queue rule is inserted first");
  // A failed batch makes the next one re-create the table: the drop comes back with it, then the queue rule.
  const migrate = () => {
    m.engine.migrate(net.now, { peer: mp, from: OLD, to: NEW });
    m.pump();
    for (const r of [...k.diag]) k.answer(r, r.protocol === "tcp" ? [tcpSession] : []);
  };
  k.failNft = 1;
  migrate();
  assert.is(m.eventsOf("migration").at(-1).state, "failed", "the kernel refused the first batch");
  migrate();
  net.run(1000);
  const recreated = m.nft.findIndex((t) => t.includes("flush map inet handover lo4"));
  assert.ok(recreated >= 0, "the table was re-made");
  // Not by deleting it or a base chain: Linux drops every queued packet when a hook is unregistered.
  assert.not.match(m.nft[recreated], /delete (table|chain)/, "no hook unregistered while a hold may stand");
  assert.match(m.nft[recreated], /flush chain inet handover hold\n/);
  const requeued = k.log.findIndex((e) => e.kind === "nft" && e.text === m.nft[recreated]);
  const after = k.log.slice(requeued).filter((e) => e.kind === "queue-rule").map(ruleQueueOf);
  assert.ok(after.includes(HELD_Q) && after.includes(LOST_Q), `both queue rules sent again after it (${after})`);
  assert.match(m.nft[recreated], /add rule inet handover hold meta mark & 0x10000000 == 0x10000000 counter drop/);
  // The out chain's fixed rules come back with it, the release's re-routing first after the control channel.
  assert.match(m.nft[recreated], /add rule inet handover out meta mark & 0x10000000 == 0x10000000 meta mark set meta mark & 0xefffffff/);
  assert.match(setup, /add rule inet handover out meta mark & 0x10000000 == 0x10000000 meta mark set meta mark & 0xefffffff/);
});

test("a rebuild while packets are held keeps the table and its base chains; only a rebuild that failed too deletes the table", () => {
  const { net, m, mp, k } = watchedPair();
  const migrate = () => {
    m.engine.migrate(net.now, { peer: mp, from: OLD, to: NEW });
    m.pump();
    for (const r of [...k.diag]) k.answer(r, r.protocol === "tcp" ? [tcpSession] : []);
  };
  // The first batch (the migration's hold) fails, and the rebuild after it fails too.
  k.failNft = 2;
  const from = m.nft.length;
  migrate();
  migrate();
  net.run(1000);
  migrate();
  net.run(1000);
  const batches = m.nft.slice(from);
  const soft = batches.findIndex((t) => t.includes("flush map inet handover lo4"));
  const hard = batches.findIndex((t) => t.includes("delete table inet handover\nadd table"));
  assert.ok(soft >= 0, "the first rebuild empties the maps");
  assert.not.match(batches[soft], /delete (table|chain)/, "and unregisters no hook");
  assert.ok(hard > soft, "the rebuild after a failed rebuild makes the table anew");
  assert.is(batches.slice(hard + 1).filter((t) => /delete table/.test(t)).length, 0, "then batches go on as before");
  assert.ok(m.eventsOf("migration").some((e) => e.state === "completed"), "and a migration completes");
});

/** M and F with no kernel set up: moves are made as asked (no sock_diag). */
function plainPair() {
  const net = new SimNet({ delayMs: 5 });
  const m = net.node("m.example", [OLD, NEW, NEW2]);
  const f = net.node("f.example", [PEER]);
  const mp = m.peer(f);
  f.peer(m);
  return { net, m, f, mp };
}

test("sessions moved port by port, then all ports: the wildcard request keeps each move's port (issue 7 item 9)", () => {
  const { net, m, f, mp } = plainPair();
  m.engine.migrate(net.now, { peer: mp, protocols: ["TCP"], from: OLD, fromPort: 5001, to: NEW, toPort: 5001 });
  net.run(1000);
  m.engine.migrate(net.now, { peer: mp, from: NEW, to: NEW2 });
  net.run(1000);
  const states = m.eventsOf("migration").filter((e) => e.state === "completed" || e.state === "failed").map((e) => e.state);
  assert.equal(states, ["completed", "completed"]);
  assert.is(f.eventsOf("migration-refused").length, 0, "no BAD_PORT refusal");
  assert.match(f.lastRules(), /ip saddr 198\.18\.3\.2 tcp sport 5001 ip saddr set 198\.18\.1\.2/, "the peer moved the port's session on");
  assert.match(m.lastRules(), /ip saddr 198\.18\.1\.2 ip daddr 198\.18\.9\.1 tcp sport 5001 ip saddr set 198\.18\.3\.2/);
});

test("a migration of all ports carries the sessions that exist, port by port: new connections from the new address are not rewritten (issue 7 item 10)", () => {
  const p = watchedPair([OLD, NEW]);
  const { net, m, f, mp, k } = p;
  // Make-before-break, asked for: the sessions on OLD are found first.
  m.engine.migrate(net.now, { peer: mp, from: OLD, to: NEW });
  m.pump();
  assert.is(k.diag.length, 2, "sock_diag asked for TCP and UDP");
  const udpSession = { local: OLD, localPort: 40001, remote: PEER, remotePort: 5002 };
  const listener = { local: OLD, localPort: 6000, state: 10 };
  const other = { local: OLD, localPort: 40002, remote: "198.18.7.7", remotePort: 80 };
  for (const r of [...k.diag]) k.answer(r, r.protocol === "tcp" ? [tcpSession, listener, other] : [udpSession]);
  net.run(1000);
  assert.is(m.eventsOf("migration").at(-1).state, "completed");
  const mr = m.lastRules(), fr = f.lastRules();
  assert.match(mr, /out ip saddr 198\.18\.1\.2 ip daddr 198\.18\.9\.1 tcp sport 40000 ip saddr set 198\.18\.2\.2/);
  assert.match(mr, /out ip saddr 198\.18\.1\.2 ip daddr 198\.18\.9\.1 udp sport 40001 ip saddr set 198\.18\.2\.2/);
  assert.match(mr, /in ip daddr 198\.18\.2\.2 ip saddr 198\.18\.9\.1 tcp dport 40000 ip daddr set 198\.18\.1\.2/);
  assert.not.match(mr, /sport 6000|sport 40002|meta l4proto (tcp|udp) ip saddr set/, "only the sessions with the peer; no port-wide rule");
  // The peer rewrites only those ports: a new connection from NEW (any other port) reaches it as NEW.
  assert.match(fr, /in ip saddr 198\.18\.2\.2 tcp sport 40000 ip saddr set 198\.18\.1\.2/);
  assert.match(fr, /out ip daddr 198\.18\.1\.2 udp dport 40001 ip daddr set 198\.18\.2\.2/);
  assert.not.match(fr, /meta l4proto (tcp|udp) ip (s|d)addr set/, "no port-wide rewrite at the peer");
});

test("if sock_diag fails, a migration of all ports still runs, with one port-wide move", () => {
  const { net, m, mp, k } = watchedPair([OLD, NEW]);
  m.engine.migrate(net.now, { peer: mp, from: OLD, to: NEW });
  m.pump();
  for (const r of [...k.diag]) {
    k.diag.splice(k.diag.indexOf(r), 1);
    const err = new Uint8Array(36);
    const v = new DataView(err.buffer);
    v.setUint32(0, 36, true);
    v.setUint16(4, 2, true);
    v.setInt32(16, -1, true); // EPERM
    m.engine.netlinkReply(m.clock(), r.id, err);
  }
  m.pump();
  net.run(1000);
  assert.is(m.eventsOf("migration").at(-1).state, "completed");
  assert.match(m.lastRules(), /out ip saddr 198\.18\.1\.2 ip daddr 198\.18\.9\.1 meta l4proto tcp ip saddr set 198\.18\.2\.2/);
});

test("overlapping moves: the port-specific one is rendered first, so it wins at both ends", () => {
  const { net, m, f, mp } = plainPair();
  // Everything from OLD goes to NEW2; later the session on port 5001 (still at OLD for the kernel's rules) goes to NEW.
  m.engine.migrate(net.now, { peer: mp, protocols: ["TCP"], from: OLD, to: NEW2 });
  net.run(1000);
  m.engine.migrate(net.now, { peer: mp, protocols: ["TCP"], from: OLD, fromPort: 5001, to: NEW, toPort: 5001 });
  net.run(1000);
  assert.equal(m.eventsOf("migration").filter((e) => e.state === "completed").length, 2);
  const before = (text, a, b) => {
    const i = text.indexOf(a), j = text.indexOf(b);
    assert.ok(i >= 0 && j >= 0, `both rules present: ${a} / ${b}`);
    assert.ok(i < j, `${a} comes before ${b}`);
  };
  const fr = f.lastRules(), mr = m.lastRules();
  before(fr, "out ip daddr 198.18.1.2 tcp dport 5001 ip daddr set 198.18.2.2", "out ip daddr 198.18.1.2 meta l4proto tcp ip daddr set 198.18.3.2");
  before(mr, "out ip saddr 198.18.1.2 ip daddr 198.18.9.1 tcp sport 5001 ip saddr set 198.18.2.2", "out ip saddr 198.18.1.2 ip daddr 198.18.9.1 meta l4proto tcp ip saddr set 198.18.3.2");
  before(mr, "in ip daddr 198.18.2.2 ip saddr 198.18.9.1 tcp dport 5001", "in ip daddr 198.18.3.2 ip saddr 198.18.9.1 meta l4proto tcp");
});

test.run();
