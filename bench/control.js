// A whole control message through the ABI: a Registration Request arrives
// (handle_datagram: decode, security association lookup, HMAC-SHA256 verify,
// replay window and timestamp check, reply cache), and its Registration Reply
// goes out (encode, HMAC-SHA256 sign, poll_output). Runs in whichever runtime
// runs this file:
//
//   node bench/control.js      deno run -A bench/control.js      bun bench/control.js
//
// Baseline, measured in the same run: only the two HMACs of the same message
// done with node:crypto createHmac (verify the request, sign a reply), no
// parsing, no state. Numbers only; nothing here asserts a time.
import { readFileSync } from "node:fs";
import { createHmac, timingSafeEqual } from "node:crypto";
import { Core } from "../dist/hosts/shared/index.js";

const runtime = typeof Deno !== "undefined" ? `deno ${Deno.version.deno}`
  : typeof Bun !== "undefined" ? `bun ${Bun.version}` : `node ${process.versions.node}`;
const module = new WebAssembly.Module(readFileSync(new URL("../build/handover.wasm", import.meta.url)));
const N = 50000;
const ROUNDS = 7;
const KEY = new Uint8Array(32).fill(0x2a);
const NOW = Date.UTC(2026, 10, 23, 12);

// The requests: N distinct Registration Requests (increasing sequence numbers)
// from node "m.bench", encoded once, outside the timed loop.
const gen = await Core.load(module);
const mCookie = gen.cookieFromName("m.bench");
const fCookie = gen.cookieFromName("f.bench");
const ntp = new DataView(new ArrayBuffer(8));
ntp.setUint32(0, Math.floor(NOW / 1000) + 2208988800);
const replayId = Array.from(new Uint8Array(ntp.buffer), (b) => b.toString(16).padStart(2, "0")).join("");
const requests = [];
for (let i = 0; i < N; i++) {
  requests.push(gen.encode({
    type: "REGISTRATION_REQUEST", flags: [], sequence: i & 0xffff, cookie: mCookie, replayId,
    extensions: [{ type: "LIFETIME", seconds: 600 }],
  }, { spi: 256, key: KEY }));
}
const size = requests[0].length;

/** A fresh responder: node "f.bench" with "m.bench" as its peer. */
function responder() {
  const core = Core.loadSync(module);
  const x = core.x;
  core.put(new Uint8Array(32).fill(1));
  x.drbg_seed(core.inputPtr, 32);
  core.put(Uint8Array.from(fCookie.match(/../g), (h) => parseInt(h, 16)));
  x.node_init(core.inputPtr, NOW);
  const addr = new Uint8Array(16);
  addr.set([198, 18, 1, 2]);
  const [c, a] = core.stage(Uint8Array.from(mCookie.match(/../g), (h) => parseInt(h, 16)), addr);
  const peer = x.peer_add(c, 1, a, 4346);
  const k = core.put(KEY, 64);
  if (x.sa_add(peer, 256, 3, k, 32, 1, 7000) !== 0) throw new Error("sa_add failed");
  return { core, x, addrPtr: a };
}

/** ns per message for one round over all N requests. */
function roundCore() {
  const { core, x, addrPtr } = responder();
  const dataPtr = core.inputPtr + 256;
  let replies = 0;
  let mem = core.mem();
  const t = performance.now();
  for (let i = 0; i < N; i++) {
    // A host keeps its view of memory and renews it only when memory grew.
    if (mem.buffer !== x.memory.buffer) mem = core.mem();
    mem.set(requests[i], dataPtr);
    x.handle_datagram(NOW, 1, addrPtr, 4346, dataPtr, size);
    while (x.poll_output() !== 0) replies++;
  }
  const ns = ((performance.now() - t) * 1e6) / N;
  if (replies < N) throw new Error(`only ${replies} replies for ${N} requests`);
  return ns;
}

const replyTemplate = Buffer.from(requests[0]);
function roundBaseline() {
  let ok = 0;
  const t = performance.now();
  for (let i = 0; i < N; i++) {
    const m = requests[i];
    const covered = m.subarray(0, m.length - 32);
    const tag = createHmac("sha256", KEY).update(covered).digest();
    if (timingSafeEqual(tag, m.subarray(m.length - 32))) ok++;
    createHmac("sha256", KEY).update(replyTemplate.subarray(0, 34)).digest();
  }
  const ns = ((performance.now() - t) * 1e6) / N;
  if (ok !== N) throw new Error("baseline verify failed");
  return ns;
}

function median(fn) {
  fn(); // warm-up
  const s = [];
  for (let r = 0; r < ROUNDS; r++) s.push(fn());
  s.sort((a, b) => a - b);
  return s[s.length >> 1];
}

const base = median(roundBaseline);
const core = median(roundCore);
console.log(`Control message through the ABI (${size}-byte Registration Request in, reply out), ${runtime}; median of ${ROUNDS} rounds of ${N}`);
console.log("implementation                                              ns/msg    msgs/s   vs baseline");
const row = (name, ns) => console.log(`${name.padEnd(58)} ${ns.toFixed(0).padStart(7)} ${Math.round(1e9 / ns).toString().padStart(9)}   ${(ns / base).toFixed(2)}x`);
row("node:crypto: 2 HMACs only, no parsing (baseline)", base);
row("core: decode, verify, replay, reply encode+sign, poll", core);
console.log(`release wasm: ${readFileSync(new URL("../build/handover.wasm", import.meta.url)).length} bytes`);
