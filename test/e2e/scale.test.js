// STEM's data plane at server scale, on real kernels (issue 11): a fixed end
// carrying 10,000 moves of 1,000 peers (synthetic migrators, built by the conformance
// suite's independent reference encoder, not the core, that send real,
// authenticated Migration Requests to the daemon's control port; the daemon
// puts real elements in the kernel's maps) while a real TCP and UDP stream
// migrates back and forth, through a restart of the fixed end's daemon that
// must take every move over, and with the limits per peer and for all peers
// refusing with 130 while other peers are still served. Needs root; see _e2e.js.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runStem } from "../../dist/demo/stem.js";
import { cleanStale } from "../../dist/demo/netns.js";
import { launcher, runtime, e2eEnabled, assertSurvived, tagOf, syntheticPeer, driveSyntheticPeers } from "./_e2e.js";

const enabled = e2eEnabled();
const rt = runtime();
const L = enabled ? launcher(rt) : [];
const tag = (s) => tagOf(s, rt);

if (enabled) cleanStale(tag(""));
const run = (name, fn) => (enabled ? test(name, fn) : test.skip(name, fn));

const PEERS = 1000;
const PER_PEER = 10;
const BASE_PORT = 20000;
/** Room for the demo's own stream at F (a move per session it carries: TCP, UDP, and what else sock_diag finds). */
const ROOM = 8;

const codeOf = (r) => (r.code === "ACCEPTED" ? 1 : r.code === "INSUFFICIENT_RESOURCES" ? 130 : r.code);

run("10,000 moves of 1,000 peers at the fixed end: the real stream migrates back and forth through a restart, limits refuse with 130, others are served", async () => {
  // One more peer than loaded: it finds the table full.
  const peers = Array.from({ length: PEERS + 1 }, (_, i) => syntheticPeer(i, "scale"));
  const dir = mkdtempSync(join(tmpdir(), "handover-scale-"));
  const load = peers.slice(0, PEERS).map((p, i) => ({
    peer: i,
    moves: Array.from({ length: PER_PEER }, (_, k) => [p.a, BASE_PORT + k, p.b, BASE_PORT + k]),
  }));
  let loaded = null;
  let limits = null;
  let elements = 0;
  try {
    const r = await runStem({
      launcher: { m: L, f: L },
      tag: tag("s"),
      mode: "make-before-break",
      migrations: 3, // A -> B (F restarts) -> A -> B: the stream's moves exist at the end
      spacingMs: 400,
      durationMs: 12000,
      restart: "f",
      options: { maxMovesPerPeer: PER_PEER, maxMoves: PEERS * PER_PEER + ROOM, sessionIdleMs: 600000 },
      config: { f: { register: false } },
      extraPeers: { f: peers.map((p) => ({ name: p.name, address: p.a, addresses: [p.b], sa: [{ spi: p.spi, key: p.key }] })) },
      prepare: async (t) => {
        // The peers' addresses on R's lo; F reaches them through R.
        const batch = peers.flatMap((p) => [`addr add ${p.a}/32 dev lo`, `addr add ${p.b}/32 dev lo`]).join("\n") + "\n";
        t.ns(t.r, ["ip", "-batch", "-"], batch);
        t.ns(t.f, ["ip", "route", "replace", "198.19.0.0/16", "via", "198.18.9.1"]);
        loaded = await driveSyntheticPeers(t, dir, peers, load, "load");
      },
      inspect: async (t) => {
        // After the restart: the restored table still knows each peer's share and the total.
        const last = peers[PEERS];
        const reqs = [
          { peer: 0, moves: [[peers[0].a, BASE_PORT + PER_PEER, peers[0].b, BASE_PORT + PER_PEER]] }, // an 11th move: over the peer's share
          // A new peer, one move at a time (under its share of 10): accepted until the table is full.
          ...Array.from({ length: PER_PEER - 1 }, (_, k) => ({ peer: PEERS, moves: [[last.a, BASE_PORT + k, last.b, BASE_PORT + k]] })),
          { peer: 1, moves: [[peers[1].b, BASE_PORT, peers[1].a, BASE_PORT]] }, // an existing move goes home: served
          { peer: 2, moves: [[peers[2].b, BASE_PORT + 1, peers[2].a, BASE_PORT + 1]] },
        ];
        limits = await driveSyntheticPeers(t, dir, peers, reqs, "limits", 1);
        // (Counted in the namespace: the listing is megabytes.)
        elements = Number(t.ns(t.f, ["sh", "-c", "nft list map inet handover ri4 | grep -c 'comment \"hov1 [0-9]* R '"]).trim());
      },
    });
    const refused = r.timeline.filter((e) => e.event?.event === "migration-refused" || (e.event?.event === "migration" && e.event.state === "failed"));
    if (refused.length) console.log("refused:", JSON.stringify(refused.map((e) => ({ who: e.who, ...e.event }))));
    assertSurvived(assert, r, "the stream at a fixed end with 10,000 moves");
    const codes = loaded.results.map(codeOf);
    assert.is(codes.filter((c) => c === 1).length, PEERS, `every synthetic peer's 10 moves accepted (${JSON.stringify(codes.filter((c) => c !== 1).slice(0, 5))})`);
    const restored = r.timeline.filter((e) => e.event?.event === "restored" && e.who === "F").map((e) => e.event.moves);
    assert.is(restored.length, 2, "F restarted once");
    assert.is(restored[0], 0);
    const streamMoves = restored[1] - PEERS * PER_PEER;
    assert.ok(streamMoves >= 2 && streamMoves <= ROOM, `the restarted daemon took over every move: 10,000 synthetic and the stream's (${restored[1]})`);
    const c = limits.results.map(codeOf);
    assert.is(c[0], 130, "a peer at its share of 10 is refused with 130");
    const newPeer = c.slice(1, PER_PEER);
    const took = newPeer.indexOf(130);
    assert.ok(took >= 0 && newPeer.slice(0, took).every((x) => x === 1) && newPeer.slice(took).every((x) => x === 130), `a peer under its share is refused with 130 once the table is full (${newPeer})`);
    assert.equal(c.slice(PER_PEER), [1, 1], "other peers are served meanwhile");
    // ri4: one element per remote move (TCP; the stream's UDP one too), less the two that went home.
    assert.ok(elements >= PEERS * PER_PEER - 2 && elements <= PEERS * PER_PEER + ROOM, `the kernel holds one inbound element per move (${elements})`);
    const accepted = loaded.results.map((x) => x.ms).sort((a, b) => a - b);
    console.log(`scale: 1,000 requests (10,000 moves) in ${Math.round(loaded.elapsedMs)} ms; round trip p50 ${accepted[500].toFixed(2)} ms, p99 ${accepted[990].toFixed(2)} ms (window 32, loaded machine)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
