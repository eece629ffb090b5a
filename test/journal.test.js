// The moves journal (issue 11: a crash restart without the maps' dumps) on the
// SIMULATED network (test/_sim.js, the kernel's table modelled by
// test/_nft_model.js): every committed batch sets a marker in the kernel in
// the same transaction and hands the host a record; a restart after a crash
// takes the save file + journal over when the marker is the journal's last
// record's, and reads the maps otherwise (a crash between the batch and the
// append, a torn record, a marker changed, a move whose line says too little).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SimNet } from "./_sim.js";

const KEY = new Uint8Array(32).fill(7);
const PER = 10;
const GETSETELEM = (10 << 8) | 13;

/** What the daemon's files hold (hosts/shared/daemon.ts writeJournal): the save file (the base) and the journal. */
class Files {
  constructor() {
    this.base = null;
    this.journal = new Uint8Array(0);
  }
  /** Writes what the core gave once its batches were committed (a base replaces both files' contents). */
  take(f) {
    const j = f.engine.journalTake();
    if (!j) return;
    if (j.base) {
      this.base = j.base;
      this.journal = new Uint8Array(0);
    }
    if (j.records) this.journal = concat(this.journal, j.records);
  }
}

function concat(a, b) {
  const all = new Uint8Array(a.length + b.length);
  all.set(a);
  all.set(b, a.length);
  return all;
}

function peerOf(f, i) {
  const cookie = f.engine.core.cookieFromName(`s${i}.journal`);
  return { cookie, a: `198.19.${Math.floor(i / 250)}.${(i % 250) + 1}`, b: `198.19.${100 + Math.floor(i / 250)}.${(i % 250) + 1}` };
}

function configure(f, peers) {
  for (const p of peers) {
    const id = f.engine.addPeer(p.cookie, p.a, 4346);
    f.engine.addPeerAddress(id, p.b);
    f.engine.addSa(id, { spi: 256, key: KEY });
  }
  for (const [k, v] of Object.entries({ maxMovesPerPeer: PER, maxMoves: 1e6, sessionIdleMs: 1e12 })) f.engine.option(k, v);
}

/** F with `n` synthetic peers and a journal kept in `files`. */
function fixedEnd(n) {
  const net = new SimNet();
  const f = net.node("f.example", ["198.18.9.1"]);
  f.recordRules = false;
  const files = new Files();
  const peers = Array.from({ length: n }, (_, i) => peerOf(f, i));
  configure(f, peers);
  f.engine.enableJournal();
  f.engine.kernelSetup(net.now);
  f.pump();
  files.take(f);
  let seq = 1;
  /** Peer p asks for moves [[from, port, to, port]]; returns the reply's code. */
  const ask = (p, moves) => {
    net.now += 1;
    const ntp = BigInt(Math.floor((net.now / 1000 + 2208988800) * 2 ** 32));
    const extensions = moves.map(([o, op, w, wp]) => ({ type: "MIGRATION", protocols: ["TCP"], oldAddress: o, newAddress: w, oldPort: op, newPort: wp }));
    const bytes = f.engine.core.encode({ type: "MIGRATION_REQUEST", sequence: seq++ & 0xffff, cookie: p.cookie, replayId: ntp.toString(16).padStart(16, "0"), extensions }, { spi: 256, key: KEY });
    const sent = net.sent.length;
    net.inject(f, moves[0][2], bytes);
    files.take(f);
    const reply = net.sent.slice(sent).find((d) => d.from === "f.example");
    return reply ? f.engine.core.decode(reply.data).code : null;
  };
  const fill = (i) => ask(peers[i], Array.from({ length: PER }, (_, k) => [peers[i].a, 20000 + k, peers[i].b, 20000 + k]));
  return { net, f, peers, ask, fill, files };
}

/**
 * A crash (nothing saved) and a restart with the files as they are: the core
 * made again, the save file and the journal fed as the daemon does. Returns
 * the maps it dumped and the batches it wrote.
 */
function crashRestart(s, { base = s.files.base, journal = s.files.journal } = {}) {
  const { f, net, peers, files } = s;
  f.engine.seed(new TextEncoder().encode("restart-seed-0123456789abcdef"));
  f.engine.init(f.cookie, net.now);
  f.engine.enableJournal();
  if (base) {
    f.engine.savedMoves(net.now, base);
    if (journal.length) f.engine.journalFile(net.now, journal);
  }
  configure(f, peers);
  f.nft.length = 0;
  const dumped = [];
  f.kernel = { dumped: (map) => dumped.push(map) };
  f.engine.kernelSetup(net.now);
  f.pump();
  files.take(f);
  f.kernel = null;
  return { dumped, batches: [...f.nft], restored: f.eventsOf("restored").at(-1) };
}

const elementLines = (batches, re) => batches.flatMap((t) => t.split("\n")).filter((l) => re.test(l));
const marker = (f) => f.table.elements("js").map((e) => Number(e.key[0]));

test("every batch sets the marker in its own transaction; a committed batch's record reaches the host, framed (length, CRC-32, sequence)", () => {
  const s = fixedEnd(2);
  const { f, files } = s;
  assert.ok(files.base, "a base at the start (the files described nothing yet)");
  assert.match(new TextDecoder().decode(files.base), /^hov1 seq 1\n/);
  assert.equal(marker(f), [1]);
  assert.is(s.fill(0), "ACCEPTED");
  const last = f.nft.at(-1);
  assert.match(last, /flush set inet handover js\nadd element inet handover js \{ 2 \}\n$/, "the marker in the batch");
  assert.equal(marker(f), [2]);
  const j = files.journal;
  const v = new DataView(j.buffer, j.byteOffset, j.length);
  const len = v.getUint32(0, true);
  assert.is(j.length, 13 + len, "one record");
  assert.is(v.getUint32(8, true), 2, "its sequence is the marker's");
  assert.is(v.getUint8(12) & 1, 1, "clean");
  const body = new TextDecoder().decode(j.subarray(13));
  assert.is(body.split("\n").filter((l) => /^hov1 \d+ R [0-9a-f]{12} 1 /.test(l)).length, PER, "the moves as their saved lines read");
  // A batch the kernel refuses: no record, and the marker stays.
  f.failKernel = 22;
  assert.is(s.ask(s.peers[1], [[s.peers[1].a, 20000, s.peers[1].b, 20000]]), "INSUFFICIENT_RESOURCES", "(the move is refused)");
  f.failKernel = 0;
  assert.is(files.journal.length, j.length, "nothing appended for a refused batch");
  assert.equal(marker(f), [2]);
});

test("crash restart: the moves come back from the save file + journal, no map dumped, no element written; the journal goes on after", () => {
  const s = fixedEnd(3);
  const { f, peers, ask, fill } = s;
  for (let i = 0; i < 3; i++) assert.is(fill(i), "ACCEPTED");
  // Changes after the base: a move goes on (its old wire endpoint quarantined), one goes home, one is made.
  assert.is(ask(peers[2], [[peers[2].b, 20000, "198.19.250.1", 20000]]), "ACCEPTED");
  assert.is(ask(peers[1], [[peers[1].b, 20001, peers[1].a, 20001]]), "ACCEPTED");
  assert.is(ask(peers[2], [["198.19.250.1", 20000, "198.19.250.2", 20000]]), "ACCEPTED");
  // (the unvalidated moves' validation: the peers answer nothing here, so no move is validated: give them time)
  s.net.run(60000);
  s.files.take(f);
  const before = f.table.rules();
  const r = crashRestart(s);
  assert.is(r.restored.elements, "journal", JSON.stringify(r.restored));
  assert.is(r.restored.savedFallback, undefined, "no fallback to explain");
  assert.equal(r.dumped, ["js"], "only the marker read, no map");
  assert.equal(elementLines(r.batches, /element inet handover (ro|ri|rop|rip|lo|li)[46]/), [], "no element written");
  assert.is(f.table.rules(), before, "the kernel holds what it held");
  // The moves are the daemon's again: shares count them, they change, and the journal goes on.
  assert.is(ask(peers[0], [[peers[0].a, 30000, peers[0].b, 30000]]), "INSUFFICIENT_RESOURCES");
  assert.is(ask(peers[0], [[peers[0].b, 20003, peers[0].a, 20003]]), "ACCEPTED");
  const r2 = crashRestart(s);
  assert.is(r2.restored.elements, "journal", "a second crash: the records after the first restart are used too");
  assert.is(r2.restored.moves, r.restored.moves - 1);
});

test("crash restart with the moves unvalidated or a quota in the kernel: the journal says it is not all, and the maps are read", () => {
  const s = fixedEnd(1);
  assert.is(s.fill(0), "ACCEPTED");
  assert.is(s.ask(s.peers[0], [[s.peers[0].b, 20000, "198.19.250.1", 20000]]), "ACCEPTED");
  assert.ok(s.f.table.elements("rq4").length > 0, "an unvalidated move's quota element");
  const r = crashRestart(s);
  assert.is.not(r.restored.elements, "journal");
  assert.is(r.restored.savedFallback, "journal-not-all", JSON.stringify(r.restored));
  assert.ok(r.dumped.length > 1, "the maps read");
});

test("a crash between the batch and the append: the marker is ahead of the journal, the maps are read, the last change is not lost", () => {
  const s = fixedEnd(2);
  const { f, peers, ask, fill, files } = s;
  for (let i = 0; i < 2; i++) assert.is(fill(i), "ACCEPTED");
  const kept = { base: files.base, journal: files.journal };
  // The batch is committed, the daemon dies before it writes the record.
  assert.is(ask(peers[1], [[peers[1].b, 20005, peers[1].a, 20005]]), "ACCEPTED");
  const r = crashRestart(s, kept);
  assert.is(r.restored.elements, "adopted", JSON.stringify(r.restored));
  // The event says why: the kernel's marker is one batch past the journal's last record.
  assert.is(r.restored.savedFallback, "journal-behind", JSON.stringify(r.restored));
  assert.is(r.restored.kernelSeq, r.restored.journalSeq + 1, JSON.stringify(r.restored));
  assert.ok(r.dumped.includes("ri4"), "the maps read");
  assert.is(r.restored.moves, 2 * PER - 1, "the move that went home is not brought back");
  assert.ok(files.base, "a new base after a restart that read the maps");
  assert.is(crashRestart(s).restored.elements, "journal", "and the next crash restart uses it");
});

test("a torn last record (cut short, or its bytes wrong) is ignored without a trap, and the maps are read", () => {
  const s = fixedEnd(2);
  const { peers, ask, fill, files } = s;
  for (let i = 0; i < 2; i++) assert.is(fill(i), "ACCEPTED");
  assert.is(ask(peers[1], [[peers[1].b, 20005, peers[1].a, 20005]]), "ACCEPTED");
  const whole = files.journal;
  // cut inside the last record
  let r = crashRestart(s, { journal: whole.subarray(0, whole.length - 7) });
  assert.is(r.restored.elements, "adopted");
  assert.is(r.restored.savedFallback, "journal-torn", JSON.stringify(r.restored));
  assert.is(r.restored.moves, 2 * PER - 1);
  // every byte there, one of them wrong (its CRC-32 fails)
  const s2 = fixedEnd(2);
  for (let i = 0; i < 2; i++) assert.is(s2.fill(i), "ACCEPTED");
  assert.is(s2.ask(s2.peers[1], [[s2.peers[1].b, 20005, s2.peers[1].a, 20005]]), "ACCEPTED");
  const bad = s2.files.journal.slice();
  bad[bad.length - 3] ^= 0x20;
  r = crashRestart(s2, { journal: bad });
  assert.is(r.restored.elements, "adopted", "the record whose CRC fails is not applied");
  assert.is(r.restored.savedFallback, "journal-torn", JSON.stringify(r.restored));
  assert.is(r.restored.moves, 2 * PER - 1);
  // garbage and a length field beyond anything: no trap either
  const s3 = fixedEnd(1);
  assert.is(s3.fill(0), "ACCEPTED");
  for (const junk of [new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]), new Uint8Array(40).fill(0xa5), new Uint8Array(5)]) {
    r = crashRestart(s3, { journal: concat(s3.files.journal, junk) });
    assert.ok(r.restored, "restored");
    assert.is(r.restored.moves, PER);
  }
});

test("the marker changed by someone else (or missing) makes the restart read the maps", () => {
  const s = fixedEnd(2);
  for (let i = 0; i < 2; i++) assert.is(s.fill(i), "ACCEPTED");
  assert.is(s.f.table.apply("flush set inet handover js\nadd element inet handover js { 4242 }\n"), 0);
  let r = crashRestart(s);
  assert.is(r.restored.elements, "adopted");
  assert.is(r.restored.savedFallback, "journal-behind", "someone else's marker, past the journal's");
  assert.is(r.restored.kernelSeq, 4242);
  assert.ok(r.dumped.length > 1);
  // the numbers go on above the marker the kernel held: never back to one an old file may hold
  assert.equal(marker(s.f), [4243]);
  assert.is(s.f.table.apply("flush set inet handover js\n"), 0);
  r = crashRestart(s);
  assert.is(r.restored.elements, "adopted", "no marker");
  assert.is(r.restored.savedFallback, "marker-missing");
});

test("compaction: with many changes the host is given a new base, and the journal stays bounded", () => {
  const s = fixedEnd(1);
  const { peers, ask, files } = s;
  let bases = 0;
  let last = files.base;
  let longest = 0;
  for (let k = 0; k < 3000; k++) {
    const port = 40000 + (k % 5);
    const code = ask(peers[0], [k % 2 ? [peers[0].b, port, peers[0].a, port] : [peers[0].a, port, peers[0].b, port]]);
    assert.is(code, "ACCEPTED");
    if (files.base !== last) bases++;
    last = files.base;
    longest = Math.max(longest, files.journal.length);
  }
  assert.ok(bases >= 1, `a base rewritten (${bases})`);
  assert.ok(longest < 4200 * 80, `the journal bounded (${longest} bytes)`);
  s.net.run(60000);
  s.files.take(s.f);
  assert.is(crashRestart(s).restored.elements, "journal");
});

test.run();
