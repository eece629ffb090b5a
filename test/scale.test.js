// The data plane at server scale (issue 11) on the SIMULATED network
// (test/_sim.js, the kernel's table modelled by test/_nft_model.js): a
// change is one batch of elements whose size does not depend on how many
// moves exist; limits per peer and for all peers refuse with 130; a restart
// takes the moves over from the maps and removes what no configured peer owns.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SimNet } from "./_sim.js";

const KEY = new Uint8Array(32).fill(7);
const PER = 10;

/** F with `n` synthetic peers (configured addresses a and b each), the kernel modelled. */
function fixedEnd(n, options = {}) {
  const net = new SimNet();
  const f = net.node("f.example", ["198.18.9.1"]);
  f.recordRules = false;
  for (const [k, v] of Object.entries({ maxMovesPerPeer: PER, maxMoves: 1e6, sessionIdleMs: 1e12, ...options })) f.engine.option(k, v);
  const peers = [];
  const add = (i) => {
    const cookie = f.engine.core.cookieFromName(`s${i}.scale`);
    const a = `198.19.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    const b = `198.19.${100 + Math.floor(i / 250)}.${(i % 250) + 1}`;
    const id = f.engine.addPeer(cookie, a, 4346);
    f.engine.addPeerAddress(id, b);
    f.engine.addSa(id, { spi: 256, key: KEY });
    return { cookie, a, b };
  };
  for (let i = 0; i < n; i++) peers.push(add(i));
  f.engine.kernelSetup(net.now);
  f.pump();
  let seq = 1;
  /** Peer p asks for moves [[from, port, to, port]]; returns the reply's code. */
  const ask = (p, moves) => {
    net.now += 1;
    const ntp = BigInt(Math.floor((net.now / 1000 + 2208988800) * 2 ** 32));
    const extensions = moves.map(([o, op, w, wp]) => ({ type: "MIGRATION", protocols: ["TCP"], oldAddress: o, newAddress: w, oldPort: op, newPort: wp }));
    const bytes = f.engine.core.encode({ type: "MIGRATION_REQUEST", sequence: seq++ & 0xffff, cookie: p.cookie, replayId: ntp.toString(16).padStart(16, "0"), extensions }, { spi: 256, key: KEY });
    const sent = net.sent.length;
    net.inject(f, moves[0][2], bytes);
    const reply = net.sent.slice(sent).find((d) => d.from === "f.example");
    return reply ? f.engine.core.decode(reply.data).code : null;
  };
  const fill = (i) => ask(peers[i], Array.from({ length: PER }, (_, k) => [peers[i].a, 20000 + k, peers[i].b, 20000 + k]));
  return { net, f, peers, ask, fill, add };
}

test("a migration is one batch of the same few elements with 1 move or 5,000 in the table", () => {
  // (the batch's lines: its text differs only in the digits of the move's id)
  const sizes = [];
  for (const loaded of [0, 500]) {
    const { f, peers, ask, fill } = fixedEnd(loaded + 1);
    for (let i = 1; i <= loaded; i++) assert.is(fill(i), "ACCEPTED");
    const before = f.nft.length;
    assert.is(ask(peers[0], [[peers[0].a, 5001, peers[0].b, 5001]]), "ACCEPTED");
    const batches = f.nft.slice(before).filter((t) => !t.startsWith("list "));
    assert.is(batches.length, 1, "one kernel transaction");
    assert.not.match(batches[0], /flush|delete table/, "nothing flushed");
    sizes.push(batches[0].split("\n").length);
    // Every move's elements are in the table: two per TCP move (out and in).
    assert.is(f.table.elements("ro4").length, loaded * PER + 1);
    assert.is(f.table.elements("ri4").length, loaded * PER + 1);
  }
  assert.is(sizes[1], sizes[0], `the batch does not grow with the table (${sizes})`);
});

test("limits: a peer at its share and a full table refuse with 130; other peers are still served", () => {
  const { peers, ask, fill } = fixedEnd(4, { maxMoves: 2 * PER + 5 });
  assert.is(fill(0), "ACCEPTED");
  assert.is(ask(peers[0], [[peers[0].a, 30000, peers[0].b, 30000]]), "INSUFFICIENT_RESOURCES", "over the peer's share");
  assert.is(fill(1), "ACCEPTED");
  const codes = Array.from({ length: 7 }, (_, k) => ask(peers[2], [[peers[2].a, 20000 + k, peers[2].b, 20000 + k]]));
  assert.equal(codes, [...Array(5).fill("ACCEPTED"), "INSUFFICIENT_RESOURCES", "INSUFFICIENT_RESOURCES"], "under its share, until the table is full");
  // A move that already exists changes freely (it takes no new room), and one going home frees some.
  assert.is(ask(peers[1], [[peers[1].b, 20000, peers[1].a, 20000]]), "ACCEPTED");
  assert.is(ask(peers[3], [[peers[3].a, 20000, peers[3].b, 20000]]), "ACCEPTED", "room again");
});

/**
 * The daemon at f restarts with peers `keep` configured; the kernel keeps the
 * table. `saved`: what a clean stop saved (stem_save). Returns the batches it wrote.
 */
function restart(f, net, peers, keep, saved = null) {
  f.engine.seed(new TextEncoder().encode("restart-seed-0123456789abcdef"));
  f.engine.init(f.cookie, net.now);
  if (saved) f.engine.savedMoves(net.now, saved);
  for (const p of keep) {
    const id = f.engine.addPeer(p.cookie, p.a, 4346);
    f.engine.addPeerAddress(id, p.b);
    f.engine.addSa(id, { spi: 256, key: KEY });
  }
  f.engine.option("maxMovesPerPeer", PER);
  f.nft.length = 0;
  f.engine.kernelSetup(net.now);
  f.pump();
  return f.nft;
}

const elementLines = (batches, re) => batches.flatMap((t) => t.split("\n")).filter((l) => re.test(l));

test("restart: the moves are read back from the maps (netlink dumps) and their elements taken over as they are: no element written", () => {
  const { net, f, peers, fill } = fixedEnd(2);
  for (let i = 0; i < 2; i++) assert.is(fill(i), "ACCEPTED");
  const before = f.table.rules();
  const batches = restart(f, net, peers, peers);
  const restored = f.eventsOf("restored").at(-1);
  assert.is(restored.moves, 2 * PER);
  assert.is(restored.elements, "adopted");
  assert.is(restored.leftovers, 0);
  assert.equal(elementLines(batches, /element inet handover (ro|ri|rop|rip)4/), [], "no element added or deleted");
  assert.not.ok(batches.some((t) => t.includes("delete table")), "the table is not re-created");
  assert.is(f.table.rules(), before, "the kernel holds what it held");
});

test("restart: what no configured peer owns (a peer gone, a quarantine) is deleted in one batch; the other moves' elements stay", () => {
  const { net, f, peers, fill, ask } = fixedEnd(3);
  for (let i = 0; i < 3; i++) assert.is(fill(i), "ACCEPTED");
  // Peer 2 moves one session on: its old wire endpoint is quarantined (an element too).
  assert.is(ask(peers[2], [[peers[2].b, 20000, "198.19.250.1", 20000]]), "ACCEPTED");
  assert.ok(f.table.elements("ri4").some((e) => e.comment === "hov1 quarantine"));
  // The daemon restarts with peer 2 no longer configured; the kernel keeps the table.
  const batches = restart(f, net, peers, peers.slice(0, 2));
  const restored = f.eventsOf("restored").at(-1);
  assert.is(restored.moves, 2 * PER, "peer 0's and peer 1's moves taken over");
  assert.is(restored.elements, "adopted");
  assert.ok(restored.leftovers > PER, `peer 2's elements and the quarantine found (${restored.leftovers})`);
  assert.not.ok(batches.some((t) => t.includes("delete table")), "the table is not re-created");
  assert.equal(elementLines(batches, /^add element inet handover (ro|ri)4/), [], "nothing of peers 0 and 1 written again");
  assert.is(f.table.elements("ri4").length, 2 * PER, "peer 2's elements and the quarantine are gone");
  assert.not.ok(f.table.elements("ro4").some((e) => e.key.includes(peers[2].a)));
  assert.is(f.table.elements("rq4").length, 0, "and the quota of peer 2's unvalidated move");
  // And the restored moves count against the peer's share.
  assert.is(ask(peers[0], [[peers[0].a, 30000, peers[0].b, 30000]]), "INSUFFICIENT_RESOURCES");
  assert.is(ask(peers[1], [[peers[1].b, 20003, peers[1].a, 20003]]), "ACCEPTED");
});

test("an unvalidated move keeps its quota element, and what it let through, when it migrates again before validation", () => {
  const { f, peers, ask } = fixedEnd(1);
  assert.is(ask(peers[0], [[peers[0].a, 6000, "198.19.250.1", 6000]]), "ACCEPTED");
  const declared = f.nft.find((t) => t.includes("add set inet handover rq4"));
  assert.match(declared, /add set inet handover rq4 \{ type inet_proto \. ipv4_addr \. inet_service; quota over 1048576 bytes; \}/);
  assert.not.ok(f.nft.some((t) => /add quota|quota name/.test(t)), "no named quota object");
  const element = f.table.maps.get("rq4").get(`tcp . ${peers[0].a} . 6000`);
  assert.ok(element, "the unvalidated move's quota element");
  element.used = 700; // what the kernel counted against the quota so far
  const before = f.nft.length;
  assert.is(ask(peers[0], [["198.19.250.1", 6000, "198.19.250.2", 6000]]), "ACCEPTED");
  const batches = f.nft.slice(before).filter((t) => !t.startsWith("list "));
  assert.ok(batches.some((t) => /add element inet handover ro4 \{ tcp \. \S+ \. 6000 : 198\.19\.250\.2 \}/.test(t)), "the move went on");
  assert.equal(elementLines(batches, /element inet handover rq4/), [], "its quota element neither deleted nor added");
  assert.is(f.table.maps.get("rq4").get(`tcp . ${peers[0].a} . 6000`).used, 700, "the quota keeps its count");
});

/** A clean stop: the core saves its moves; returns the bytes (empty if it saved nothing) and the event. */
function save(f, net) {
  f.engine.save(net.now);
  f.pump();
  return { bytes: f.engine.saved(), event: f.eventsOf("saved").at(-1) };
}

test("restart after a clean stop: the saved moves are taken over when nftables' generation is unchanged, without reading the maps", () => {
  const { net, f, peers, fill, ask } = fixedEnd(2);
  for (let i = 0; i < 2; i++) assert.is(fill(i), "ACCEPTED");
  const s = save(f, net);
  assert.ok(s.event.ok, JSON.stringify(s.event));
  assert.is(s.event.moves, 2 * PER);
  assert.match(new TextDecoder().decode(s.bytes), /^hov1 gen \d+\nhov1 \d+ R [0-9a-f]{12} /);
  const before = f.table.rules();
  const dumpsBefore = f.netlink.length;
  const batches = restart(f, net, peers, peers, s.bytes);
  const restored = f.eventsOf("restored").at(-1);
  assert.is(restored.moves, 2 * PER);
  assert.is(restored.elements, "saved");
  const dumps = f.netlink.slice(dumpsBefore).filter((b) => new DataView(b.buffer, b.byteOffset).getUint16(4, true) === ((10 << 8) | 13));
  assert.is(dumps.length, 0, "no map read");
  assert.equal(elementLines(batches, /element inet handover (ro|ri)4/), [], "no element written");
  assert.is(f.table.rules(), before);
  // The moves are the daemon's again: the peers' shares count them, and one goes home.
  assert.is(ask(peers[0], [[peers[0].a, 30000, peers[0].b, 30000]]), "INSUFFICIENT_RESOURCES");
  assert.is(ask(peers[1], [[peers[1].b, 20003, peers[1].a, 20003]]), "ACCEPTED");
  assert.is(f.table.elements("ri4").filter((e) => /^hov1 \d+ R /.test(e.comment ?? "")).length, 2 * PER - 1, "its element deleted (the kernel had it)");
});

test("restart after a clean stop: a change to nftables since (another generation) makes the restart read the maps", () => {
  const { net, f, peers, fill } = fixedEnd(2);
  for (let i = 0; i < 2; i++) assert.is(fill(i), "ACCEPTED");
  const s = save(f, net);
  // Someone deletes an element by hand meanwhile: a committed transaction.
  const ro = f.table.maps.get("ro4");
  const key = [...ro.keys()][0];
  assert.is(f.table.apply(`delete element inet handover ro4 { ${key} }\n`), 0);
  restart(f, net, peers, peers, s.bytes);
  const restored = f.eventsOf("restored").at(-1);
  assert.is(restored.moves, 2 * PER);
  assert.is(restored.elements, "rebuilt", "the dumps found the missing element");
  assert.is(f.table.elements("ro4").length, 2 * PER);
});

test("a clean stop saves the quarantines too: the restart takes them over (their elements stay), and they end when they were to end", () => {
  const { net, f, peers, fill, ask } = fixedEnd(2);
  for (let i = 0; i < 2; i++) assert.is(fill(i), "ACCEPTED");
  // Peer 1 moves a session home: the wire endpoint it left is quarantined.
  assert.is(ask(peers[1], [[peers[1].b, 20001, peers[1].a, 20001]]), "ACCEPTED");
  const quarantined = () => f.table.elements("ri4").filter((e) => e.comment === "hov1 quarantine").length;
  assert.is(quarantined(), 1);
  const s = save(f, net);
  assert.ok(s.event.ok, JSON.stringify(s.event));
  assert.match(new TextDecoder().decode(s.bytes), /\nhov1 q \d+ R /);
  const before = f.table.rules();
  const batches = restart(f, net, peers, peers, s.bytes);
  assert.is(f.eventsOf("restored").at(-1).elements, "saved");
  assert.equal(elementLines(batches, /element inet handover (ro|ri|rop|rip)4/), [], "no element written");
  assert.is(f.table.rules(), before);
  // It ends when it was to (quarantineMs after the move), and its element goes.
  net.run(31000);
  assert.is(quarantined(), 0, "the quarantine ended: its element deleted");
});

/** Peer 0's move to an address it does not own (unvalidated), its quota element having let `used` bytes through. */
function unvalidatedMove(f, peers, ask, used) {
  assert.is(ask(peers[0], [[peers[0].b, 20000, "198.19.250.1", 20000]]), "ACCEPTED");
  const element = f.table.maps.get("rq4").get(`tcp . ${peers[0].a} . 20000`);
  assert.ok(element, "its quota element");
  element.used = used;
}

const quotaOf = (f, peers) => f.table.maps.get("rq4")?.get(`tcp . ${peers[0].a} . 20000`);
const wireOf = (f, peers) => f.table.maps.get("ro4").get(`tcp . ${peers[0].a} . 20000`)?.value;

test("restart after a crash (the dumps): an unvalidated move comes back unvalidated, its quota element kept with what it counted, and its validation times out as before", () => {
  const { net, f, peers, fill, ask } = fixedEnd(1, { validationTimeoutMs: 5000 });
  assert.is(fill(0), "ACCEPTED");
  unvalidatedMove(f, peers, ask, 700);
  const batches = restart(f, net, peers, peers);
  const restored = f.eventsOf("restored").at(-1);
  assert.is(restored.moves, PER);
  assert.is(restored.elements, "adopted");
  // (the one leftover is the quarantine of the endpoint it left, which the dumps do not restore)
  assert.equal(elementLines(batches, /^delete element/), [`delete element inet handover ri4 { tcp . ${peers[0].b} . 20000 }`], "the quota element is the move's, not a leftover");
  assert.equal(elementLines(batches, /element inet handover rq4/), [], "neither deleted nor added");
  assert.is(quotaOf(f, peers)?.used, 700, "the quota keeps what it counted");
  // Unvalidated: the address it went to proves nothing (a new move from there is refused).
  assert.is(ask(peers[0], [["198.19.250.1", 20001, peers[0].b, 20001]]), "ADMINISTRATIVELY_PROHIBITED");
  // No Confirm can come (the challenge died with the crashed run): at the timeout the move ends.
  net.run(6000);
  assert.is(quotaOf(f, peers), undefined, "the quota element goes with the rollback");
  assert.is(wireOf(f, peers), undefined, "the crash left no earlier endpoint: the move ends (its sessions go to their original endpoint)");
  assert.is(f.eventsOf("peer-migration").at(-1).state, "validation-failed");
});

test("a clean stop while a move is unvalidated saves it with its validation: the restart keeps its quota element and rolls it back at its deadline", () => {
  const { net, f, peers, fill, ask } = fixedEnd(1, { validationTimeoutMs: 5000 });
  assert.is(fill(0), "ACCEPTED");
  unvalidatedMove(f, peers, ask, 700);
  const s = save(f, net);
  assert.ok(s.event.ok, JSON.stringify(s.event));
  const text = new TextDecoder().decode(s.bytes);
  assert.match(text, new RegExp(`\\nhov1 \\d+ R [0-9a-f]{12} 1 ${peers[0].a.replace(/\./g, "\\.")}/20000 198\\.19\\.250\\.1/20000 u \\d+ ${peers[0].b.replace(/\./g, "\\.")}/20000\\n`), text);
  const before = f.table.rules();
  net.run(2000); // the restart comes 2 s later: 3 s of the validation left
  const batches = restart(f, net, peers, peers, s.bytes);
  assert.is(f.eventsOf("restored").at(-1).elements, "saved");
  assert.equal(elementLines(batches, /element inet handover (rq|ro|ri)4/), [], "no element written");
  assert.is(f.table.rules(), before);
  assert.is(quotaOf(f, peers)?.used, 700);
  assert.is(ask(peers[0], [["198.19.250.1", 20001, peers[0].b, 20001]]), "ADMINISTRATIVELY_PROHIBITED", "still unvalidated");
  net.run(2000);
  assert.ok(quotaOf(f, peers), "before its deadline the validation is still pending");
  net.run(1500);
  assert.is(quotaOf(f, peers), undefined, "at the deadline it timed out");
  assert.is(wireOf(f, peers), peers[0].b, "and the move went back to where it was validated");
});

test("a restart brings the moves of one unvalidated migration back as one validation: one of the peer's 3 pending paths, as before", () => {
  const { net, f, peers, fill, ask } = fixedEnd(1, { validationTimeoutMs: 5000 });
  assert.is(fill(0), "ACCEPTED");
  const b = peers[0].b;
  assert.is(ask(peers[0], [[b, 20000, "198.19.250.1", 20000], [b, 20001, "198.19.250.1", 20001], [b, 20002, "198.19.250.1", 20002]]), "ACCEPTED");
  restart(f, net, peers, peers);
  assert.is(f.table.elements("rq4").length, 3, "three quota elements kept");
  assert.is(ask(peers[0], [[b, 20003, "198.19.250.5", 20003]]), "ACCEPTED", "a second pending path");
  assert.is(ask(peers[0], [[b, 20004, "198.19.250.6", 20004]]), "ACCEPTED", "a third");
  assert.is.not(ask(peers[0], [[b, 20005, "198.19.250.7", 20005]]), "ACCEPTED", "a fourth is over the 3");
});

test("a restart finds a peer's unvalidated move by its quota element also when the move migrates on (superseding the restored validation)", () => {
  const { net, f, peers, fill, ask } = fixedEnd(1, { validationTimeoutMs: 5000 });
  assert.is(fill(0), "ACCEPTED");
  unvalidatedMove(f, peers, ask, 700);
  restart(f, net, peers, peers);
  // The peer moves it on, to another address it does not own: still unvalidated, the count kept.
  assert.is(ask(peers[0], [["198.19.250.1", 20000, "198.19.250.2", 20000]]), "ACCEPTED");
  assert.is(wireOf(f, peers), "198.19.250.2");
  assert.is(quotaOf(f, peers)?.used, 700, "the quota element stays");
  // Back to an address it owns: validated at once, the quota lifted.
  assert.is(ask(peers[0], [["198.19.250.2", 20000, peers[0].b, 20000]]), "ACCEPTED");
  assert.is(quotaOf(f, peers), undefined);
});

test("restart: a leftover element naming an object that is no quota of ours is deleted, and that name is never written into a batch", () => {
  const { net, f, peers, fill } = fixedEnd(1);
  assert.is(fill(0), "ACCEPTED");
  // What the kernel holds beside the moves: an objref element whose object's name is not hq<digits>.
  const evil = "hq1 }\ndelete table inet handover\nadd table inet x {";
  f.table.maps.set("rq4", new Map([["tcp . 198.19.250.9 . 7", { value: `"${evil}"` }]]));
  const batches = restart(f, net, peers, peers);
  const restored = f.eventsOf("restored").at(-1);
  assert.is(restored.elements, "adopted");
  assert.is(restored.leftovers, 1);
  assert.is(f.table.elements("rq4").length, 0, "the element is deleted");
  assert.not.ok(batches.some((t) => t.includes("delete table") || t.includes("inet x")), "the object's name is not written");
  assert.not.ok(batches.some((t) => t.includes("delete quota")), "no quota of ours is named");
  assert.is(f.table.elements("ri4").length, PER, "the moves' elements stay");
});

test("restart: a map that lacks an element a restored move wants makes the table again, in one transaction", () => {
  const { net, f, peers, fill } = fixedEnd(2);
  for (let i = 0; i < 2; i++) assert.is(fill(i), "ACCEPTED");
  // Someone deleted one outbound element by hand.
  const ro = f.table.maps.get("ro4");
  ro.delete([...ro.keys()][0]);
  const batches = restart(f, net, peers, peers);
  const restored = f.eventsOf("restored").at(-1);
  assert.is(restored.moves, 2 * PER);
  assert.is(restored.elements, "rebuilt");
  // (its maps emptied and filled again; not deleted, which would drop packets a hold may have queued)
  assert.is(batches.filter((t) => t.includes("flush map inet handover ro4")).length, 1, "the table made again in one transaction");
  assert.not.ok(batches.some((t) => t.includes("delete table")), "without deleting the table");
  assert.is(f.table.elements("ro4").length, 2 * PER, "with every element");
});


/**
 * F with 30 peers' 300 moves, idle after 1 s; a first sweep reads their counters (7 packets each), then the
 * second's dumps wait in `deferred` for deliverDump, the kernel counting 8 packets each (`shown`: which elements its walk shows).
 */
function sweeping(shown = () => true) {
  const s = fixedEnd(31, { sessionIdleMs: 1000 });
  for (let i = 1; i <= 30; i++) assert.is(s.fill(i), "ACCEPTED");
  s.f.kernel = { counted: () => 7 };
  s.net.run(5500); // the first sweep
  assert.is(s.f.eventsOf("session-ended").length, 0);
  s.f.kernel = { counted: () => 8, shown };
  s.f.deferDumps = true;
  s.net.run(5000); // the second sweep's time comes: its dumps wait
  assert.ok(s.f.deferred.length > 0, "the sweep asked for dumps");
  return s;
}
const registration = (s, p) => {
  const ntp = BigInt(Math.floor((s.net.now / 1000 + 2208988800) * 2 ** 32));
  const bytes = s.f.engine.core.encode({ type: "REGISTRATION_REQUEST", sequence: 9000 + (s.net.now & 0xfff), cookie: p.cookie, replayId: ntp.toString(16).padStart(16, "0"), extensions: [{ type: "LIFETIME", seconds: 60 }] }, { spi: 256, key: KEY });
  const sent = s.net.sent.length;
  s.net.inject(s.f, p.a, bytes);
  return s.net.sent.slice(sent).find((d) => d.from === "f.example");
};

test("the sweep's dumps in pieces, with control messages answered between them: every move's counter is read", () => {
  const s = sweeping();
  let answered = 0;
  let pieces = 0;
  const dumps = s.f.deferred.splice(0);
  for (const d of dumps) {
    pieces += s.f.deliverDump(d, 1024, () => {
      s.net.now += 1;
      if (registration(s, s.peers[0])) answered++;
    });
  }
  assert.ok(pieces > dumps.length + 10, `the dumps came in many pieces (${pieces})`);
  assert.ok(answered >= 10, `registrations answered between the pieces (${answered})`);
  assert.is(s.f.eventsOf("kernel-error").length, 0);
  assert.is(s.f.eventsOf("session-ended").length, 0, "every move's new count was read from the pieces");
  // The sweep ended (the next one is armed): the counters unchanged since, every move is idle at the next.
  s.f.deferDumps = false;
  s.net.run(6000);
  assert.is(s.f.eventsOf("session-ended").length, 300, "the next sweep ends the idle moves");
});

test("a dump's error in a piece is that dump's, not the result of another action answered between its pieces", () => {
  const s = sweeping();
  const all = s.f.deferred.splice(0);
  const d = all.reduce((a, b) => (b.answer.length > a.answer.length ? b : a));
  // The longest dump answers ENOENT in its first message (then more); between its pieces another action
  // is answered with a bare empty reply (no error), and a migration is asked for and answered.
  const err = new Uint8Array(36);
  const ev = new DataView(err.buffer);
  ev.setUint32(0, 36, true);
  ev.setUint16(4, 2, true); // NLMSG_ERROR
  ev.setInt32(16, -2, true);
  const answer = new Uint8Array(err.length + d.answer.length);
  answer.set(err);
  answer.set(d.answer, err.length);
  const other = 0x7ffffff0;
  let code = null;
  s.f.deliverDump({ id: d.id, answer }, 1024, (i) => {
    if (i === 0) {
      s.f.engine.netlinkReply(s.net.now, other, new Uint8Array(0));
      s.f.pump();
      code = s.ask(s.peers[0], [[s.peers[0].a, 5001, s.peers[0].b, 5001]]);
    }
  });
  assert.is(code, "ACCEPTED", "the migration between the pieces");
  assert.equal(s.f.eventsOf("kernel-error").map((e) => e.action), [], "the other action kept its own result (0); the dump's ENOENT is tolerated (a sweep's dumps take any)");
  for (const r of all) if (r !== d) s.f.deliverDump(r, 1024);
  assert.is(s.f.eventsOf("session-ended").length, 0);
});

test("a move the sweep's dumps did not show is aged only if no batch ran while they were read", () => {
  // The kernel's walk misses move 5's element (a map changed under it).
  for (const batch of [false, true]) {
    const s = sweeping((comment) => !/^hov1 5 /.test(comment));
    for (const d of s.f.deferred.splice(0)) {
      s.f.deliverDump(d, 1024, (i) => {
        if (batch && i === 0) assert.is(s.ask(s.peers[0], [[s.peers[0].a, 5001, s.peers[0].b, 5001]]), "ACCEPTED");
      });
    }
    const ended = s.f.eventsOf("session-ended").map((e) => e.move);
    assert.equal(ended, batch ? [] : [5], batch ? "not aged: the walk may have missed it" : "aged as before");
  }
});


// The gates (stem/nft.ts fixedRules): each group of lookups runs only for a packet whose address is in its gate set.
const keysOf = (f, set) => f.table.elements(set).map((e) => e.key.join(" . ")).sort();

test("the gates: a peer's moves put its original and wire addresses into gro4 / gri4 with their elements, and the last of them takes them out", () => {
  const { net, f, peers, fill, ask } = fixedEnd(3);
  assert.equal(keysOf(f, "gro4"), [], "no move, no gate");
  for (let i = 0; i < 2; i++) assert.is(fill(i), "ACCEPTED");
  assert.equal(keysOf(f, "gro4"), [peers[0].a, peers[1].a].sort(), "the peers' original addresses (outbound, by destination)");
  assert.equal(keysOf(f, "gri4"), [peers[0].b, peers[1].b].sort(), "the peers' wire addresses (inbound, by source)");
  assert.equal(keysOf(f, "glo4"), [], "no move of ours");
  assert.equal(keysOf(f, "gli4"), []);
  // The model applies a group's rules only through its gate: every move's rewrite is there.
  const rules = f.table.rules();
  for (let k = 0; k < PER; k++) {
    assert.ok(rules.includes(`out ip daddr ${peers[0].a} tcp dport ${20000 + k} ip daddr set ${peers[0].b}`), `rewrite out ${k}`);
    assert.ok(rules.includes(`in ip saddr ${peers[0].b} tcp sport ${20000 + k} ip saddr set ${peers[0].a}`), `rewrite in ${k}`);
  }
  // Peer 0 moves all but one session home: the gate stays for the last one; then that one too: the gates go.
  assert.is(ask(peers[0], Array.from({ length: PER - 1 }, (_, k) => [peers[0].b, 20000 + k, peers[0].a, 20000 + k])), "ACCEPTED");
  assert.equal(keysOf(f, "gro4"), [peers[0].a, peers[1].a].sort(), "one move left: its gate stays");
  assert.ok(f.table.rules().includes(`out ip daddr ${peers[0].a} tcp dport ${20000 + PER - 1} ip daddr set ${peers[0].b}`));
  assert.is(ask(peers[0], [[peers[0].b, 20000 + PER - 1, peers[0].a, 20000 + PER - 1]]), "ACCEPTED");
  assert.equal(keysOf(f, "gro4"), [peers[1].a], "peer 0's gate left with its last move");
  // Inbound, the wire address left stays gated exactly as long as its quarantine's elements map late packets.
  const inbound = (a) => ["ri4", "riw4"].some((m) => f.table.elements(m).some((e) => e.key[1] === a));
  assert.is(keysOf(f, "gri4").includes(peers[0].b), inbound(peers[0].b), "gri4 holds peer 0's wire address while a quarantine element keys on it");
  assert.ok(keysOf(f, "gri4").includes(peers[1].b));
  net.run(120000); // the quarantines end
  assert.not.ok(inbound(peers[0].b));
  assert.equal(keysOf(f, "gri4"), [peers[1].b], "and leaves with the quarantine");
});

test("the gates after a restart: taken over with the moves (no element written); a gate set emptied by hand makes the table again, gates included", () => {
  const { net, f, peers, fill } = fixedEnd(2);
  for (let i = 0; i < 2; i++) assert.is(fill(i), "ACCEPTED");
  const gro = keysOf(f, "gro4");
  const gri = keysOf(f, "gri4");
  let batches = restart(f, net, peers, peers);
  assert.is(f.eventsOf("restored").at(-1).elements, "adopted");
  assert.equal(elementLines(batches, /element inet handover g(lo|li|ro|ri)4/), [], "no gate element written");
  assert.equal(keysOf(f, "gro4"), gro);
  // A later change still owns the gates it took over: moving peer 1's sessions home removes its gates.
  f.table.maps.get("gri4").clear();
  batches = restart(f, net, peers, peers);
  assert.is(f.eventsOf("restored").at(-1).elements, "rebuilt", "a gate set that lacks an address the moves want: the table is made again");
  assert.equal(keysOf(f, "gro4"), gro);
  assert.equal(keysOf(f, "gri4"), gri);
});

test.run();
