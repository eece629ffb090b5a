// The core's tables at server scale, in-process (no kernel, no sockets): one
// engine as a fixed end, loaded with synthetic peers and their moves through
// authenticated Migration Requests, the kernel's answers given at once.
// Memory: the engine's linear memory never shrinks, and the allocator grows
// it by doubling, so "growth / units" is only an upper bound (up to twice the
// truth). The estimate is taken between the last two growths instead: each
// happens when what is held fills the memory there was (garbage is
// collected every 1,000 units, so it hardly counts), so the bytes between two
// growths over the units added between them is what one unit holds.
// Time: one peer migrating one session back and forth at each size.
// Used by bench/scale.js and bench/memory.js --tables.
import { readFileSync } from "node:fs";
import { Core, Engine } from "../dist/hosts/shared/index.js";

const WASM = new URL("../build/handover.wasm", import.meta.url);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const median = (xs) => pct(xs, 50);
/** The one SA key of every synthetic peer. */
const key = new Uint8Array(32).fill(7);

/** A fresh engine as the fixed end, and the linear memory in bytes after a full collection. */
function fixedEnd(now) {
  const module = new WebAssembly.Module(readFileSync(WASM));
  const e = new Engine(Core.loadSync(module));
  e.seed(new TextEncoder().encode("bench-scale-seed-0123456789abcdef"));
  e.init(e.core.cookieFromName("f.bench"), now);
  // Linear memory after a full collection: it never shrinks, so collecting
  // often keeps garbage from counting as what the tables hold.
  const pages = () => {
    e.core.x.core_collect();
    return e.core.x.memory.buffer.byteLength;
  };
  return { e, pages };
}

/** Records each growth of linear memory: [units so far, bytes before it]. */
function growths(e) {
  const events = [];
  let last = e.core.x.memory.buffer.byteLength;
  return {
    events,
    seen(units) {
      const now = e.core.x.memory.buffer.byteLength;
      if (now !== last) events.push([units, last]);
      last = now;
    },
    /** Bytes per unit between the last two growths, or null if there were fewer than two. */
    perUnit() {
      if (events.length < 2) return null;
      const [n1, b1] = events.at(-2);
      const [n2, b2] = events.at(-1);
      return (b2 - b1) / (n2 - n1);
    },
  };
}

/** Configures P synthetic peers (one SA each, addresses a and b) at e; their records and what each holds. */
function addPeers(e, pages, P, PER_PEER) {
  const before = pages();
  const peerGrowth = growths(e);
  const peers = [];
  for (let i = 0; i < P; i++) {
    const cookie = e.core.cookieFromName(`s${i}.bench`);
    const a = `198.19.${Math.floor(i / 6000)}.1`;
    const b = `198.19.${100 + Math.floor(i / 6000)}.1`;
    const id = e.addPeer(cookie, a, 4346);
    e.addSa(id, { spi: 256, key });
    peers.push({ cookie, a, b, base: 1024 + (i % 6000) * PER_PEER });
    if (i % 1000 === 0) e.core.x.core_collect();
    peerGrowth.seen(i + 1);
  }
  const afterPeers = pages();
  return { peers, bytesPerPeer: peerGrowth.perUnit() ?? (afterPeers - before) / P, bytesPerPeerBound: (afterPeers - before) / P };
}

/**
 * Bytes of the core's memory per configured peer, with P peers (default
 * 10,001, as coreTables with 100,000 moves): what test/memory.test.js checks.
 */
export function corePeerBytes(P = 10001) {
  const { e, pages } = fixedEnd(Date.UTC(2026, 11, 1));
  const { bytesPerPeer, bytesPerPeerBound } = addPeers(e, pages, P, 10);
  return { peers: P, bytesPerPeer, bytesPerPeerBound };
}

export function coreTables(SIZES, PER_PEER = 10) {
  const now0 = Date.UTC(2026, 11, 1);
  let now = now0;
  const { e, pages } = fixedEnd(now);
  const drain = () => {
    for (let o; (o = e.poll()); ) if (o.kind === "nft" || o.kind === "netlink") e.actionResult(now, o.id, 0);
  };
  const maxN = Math.max(...SIZES);
  const P = Math.ceil(maxN / PER_PEER) + 1;
  e.option("maxMovesPerPeer", PER_PEER);
  e.option("maxMoves", maxN + 10);
  e.option("sessionIdleMs", 1e12);
  const { peers, bytesPerPeer, bytesPerPeerBound } = addPeers(e, pages, P, PER_PEER);
  let seq = 1;
  const request = (p, moves, at) => {
    const ntp = BigInt(Math.floor((at / 1000 + 2208988800) * 2 ** 32)) + BigInt(seq);
    const extensions = moves.map(([o, op, n, np]) => ({ type: "MIGRATION", protocols: ["TCP"], oldAddress: o, newAddress: n, oldPort: op, newPort: np }));
    return e.core.encode({ type: "MIGRATION_REQUEST", sequence: seq++ & 0xffff, cookie: p.cookie, replayId: ntp.toString(16).padStart(16, "0"), extensions }, { spi: 256, key });
  };
  const perRequest = {};
  let loaded = 0;
  const timeAt = (label) => {
    // One peer migrates one of its sessions back and forth: the core's time per request (kernel answered at once).
    const p = peers[0];
    const ts = [];
    for (let i = 0; i < 400; i++) {
      now += 1;
      const there = i % 2 === 0;
      const m = there ? [p.b, p.base + 9, p.a, p.base + 9] : [p.a, p.base + 9, p.b, p.base + 9];
      const d = request(p, [m], now);
      const t0 = performance.now();
      e.datagram(now, m[2], 4346, d);
      drain();
      ts.push(performance.now() - t0);
    }
    perRequest[label] = { p50: median(ts), p99: pct(ts, 99) };
  };
  const movesBefore = pages();
  const moveGrowth = growths(e);
  for (const n of SIZES) {
    // Fill to n - 1 moves from peers 1, 2, ... (10 per request); peer 0's move is the timed one.
    while (loaded < n - 1) {
      const p = peers[1 + Math.floor(loaded / PER_PEER)];
      const k0 = loaded % PER_PEER;
      const count = Math.min(PER_PEER - k0, n - 1 - loaded);
      const moves = Array.from({ length: count }, (_, k) => [p.a, p.base + k0 + k, p.b, p.base + k0 + k]);
      now += 1;
      e.datagram(now, p.b, 4346, request(p, moves, now));
      drain();
      loaded += count;
      if (loaded % 1000 < PER_PEER) e.core.x.core_collect();
      moveGrowth.seen(loaded);
    }
    timeAt(n);
  }
  const movesAfter = pages();
  const moves = e.state(now).moves.length;
  return {
    peers: P,
    bytesPerPeer,
    bytesPerPeerBound,
    moves,
    bytesPerMove: moveGrowth.perUnit() ?? (movesAfter - movesBefore) / moves,
    bytesPerMoveBound: (movesAfter - movesBefore) / moves,
    requestMs: perRequest,
  };
}
