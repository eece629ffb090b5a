// Synthetic peers for test/e2e/scale.test.js and bench/scale.js: many STEM
// migrators that are nothing but authenticated Migration Requests, sent to a
// real daemon's control port from each peer's own new address. A tool that
// is not the project's code under test: its messages are built, and the
// daemon's replies decoded and their authenticators verified, by the
// conformance suite's independent reference implementation of the wire
// format (conformance/tools/reference.js, written from docs/PROTOCOL.md
// alone, sharing no code with the core; checked against the vectors), not
// by the core's codec. Runs in a network namespace that holds the peers'
// addresses.
//
//   node _scale_peers.js PLAN.json     (prints one JSON line: the results)
//
// PLAN: { target, port, peers: [{ name, key (hex), spi, a, b }], requests: [{ peer, moves: [[fromAddr, fromPort, toAddr, toPort]], protocols }],
//         window (requests in flight), timeoutMs, retries, firstSequence, warmup: [request] }
// (firstSequence: where the Sequence Numbers start, so that runs of the same peers one after
// another never repeat one the daemon's reply cache still holds; random if absent)
// Each request's moves go in one message, sent from its new address (the
// daemon answers there). A request { peer, type: "REGISTRATION_REQUEST", from }
// is a registration sent from `from`. The result: per request its code (a name, or a number
// the reference does not name) or null after the retries, and the round trip of each
// accepted one (from the send to the reply's arrival, before this process decodes and verifies it). A reply that does not decode or verify is no reply (counted in `badReplies`).
// PLAN.repeatForMs (optional): the requests are sent again, in order, until that long has passed
// (bench/sweepgap.js: back-to-back probes through a sweep); each result then also says when it was sent (`at`, ms).
import { readFileSync } from "node:fs";
import dgram from "node:dgram";
import { encode, decode, verify, cookieFromName } from "../../conformance/tools/reference.js";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const window = plan.window ?? 32;
const timeoutMs = plan.timeoutMs ?? 1000;
const retries = plan.retries ?? 4;

const peers = plan.peers.map((p) => ({
  ...p,
  cookie: cookieFromName(p.name),
  keyBytes: Uint8Array.from(Buffer.from(p.key, "hex")),
  last: 0n,
}));

let nextSequence = plan.firstSequence ?? Math.floor(Math.random() * 30000);
let badReplies = 0;

/** A fresh Replay Protect ID (NTP timestamp), strictly increasing per peer. */
function replayId(peer) {
  let t = BigInt(Math.floor((Date.now() / 1000 + 2208988800) * 2 ** 32));
  if (t <= peer.last) t = peer.last + 1n;
  peer.last = t;
  return t.toString(16).padStart(16, "0");
}

const sockets = new Map(); // address -> Promise of its socket (one per address, however many requests wait for it)
function socketFor(address) {
  let p = sockets.get(address);
  if (!p) {
    p = openSocket(address);
    sockets.set(address, p);
  }
  return p;
}

async function openSocket(address) {
  const s = dgram.createSocket(address.includes(":") ? "udp6" : "udp4");
  s.pending = new Map(); // sequence -> resolve
  s.on("message", (data) => {
    const at = performance.now(); // the reply's arrival: its decoding and verification here are not the daemon's time
    const bytes = new Uint8Array(data);
    const r = decode(bytes);
    if (!r.ok) {
      badReplies++;
      return;
    }
    const m = r.json;
    const entry = s.pending.get(m.sequence);
    if (!entry) return;
    // The reply is the daemon's only if it verifies under the peer's SA.
    if (verify(bytes, "HMAC_SHA256", entry.key) !== null) {
      badReplies++;
      return;
    }
    s.pending.delete(m.sequence);
    entry.done(m, at);
  });
  await new Promise((res, rej) => {
    s.once("error", rej);
    s.bind({ address, port: 0 }, res);
  });
  return s;
}

async function send(req) {
  const peer = peers[req.peer];
  const type = req.type ?? "MIGRATION_REQUEST";
  const from = req.from ?? req.moves[0][2];
  const s = await socketFor(from);
  const extensions = (req.moves ?? []).map(([oldAddress, oldPort, newAddress, newPort]) => ({
    type: "MIGRATION", protocols: req.protocols ?? ["TCP"], oldAddress, newAddress, oldPort, newPort,
  }));
  // One message; a retry sends the same bytes again (a retransmission, which
  // the daemon answers from its reply cache), never a new request that would
  // ask for the moves a second time.
  nextSequence = (nextSequence + 1) & 0xffff; // one counter for all peers: several peers share a socket
  const sequence = nextSequence;
  const bytes = encode(
    { type, sequence, cookie: peer.cookie, replayId: replayId(peer), extensions },
    { algorithm: "HMAC_SHA256", spi: peer.spi ?? 256, key: peer.keyBytes },
  );
  const t0 = performance.now();
  const reply = new Promise((resolve) => s.pending.set(sequence, { key: peer.keyBytes, done: (m, at) => resolve({ m, at }) }));
  for (let attempt = 0; attempt <= retries; attempt++) {
    s.send(bytes, plan.port ?? 4346, plan.target);
    let timer;
    const m = await Promise.race([reply, new Promise((r) => (timer = setTimeout(() => r(null), timeoutMs)))]);
    clearTimeout(timer);
    if (m) return { code: m.m.code, ms: m.at - t0, attempts: attempt + 1 };
  }
  s.pending.delete(sequence);
  return { code: null, ms: null, attempts: retries + 1 };
}

// warmup: requests sent one at a time before the measured ones, not reported (this process's
// code paths compiled, its sockets open: a short measured run then times the daemon, not them)
for (const w of plan.warmup ?? []) await send(w);
const results = new Array(plan.requests.length);
let next = 0;
const t0 = performance.now();
async function worker() {
  if (plan.repeatForMs) {
    while (performance.now() - t0 < plan.repeatForMs) {
      const i = next++;
      const at = performance.now() - t0;
      results[i] = { ...(await send(plan.requests[i % plan.requests.length])), at };
    }
    return;
  }
  while (next < plan.requests.length) {
    const i = next++;
    results[i] = await send(plan.requests[i]);
  }
}
await Promise.all(Array.from({ length: Math.min(window, plan.requests.length) }, worker));
const elapsedMs = performance.now() - t0;
for (const p of sockets.values()) (await p).close();
process.stdout.write(JSON.stringify({ elapsedMs, results, badReplies }) + "\n");
