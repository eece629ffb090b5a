// Exports for bench/sid.js only (docs/benchmarks.md "SID"): the agent's
// binding table (sid/bindings.ts) at a million bindings, measured inside the
// core. Nothing here runs in a daemon; the host times the calls.
//
//   sidbench_fill(n, now, parts)  n bindings straight into the agent's table
//                                 (no Transfer Requests: a million of them
//                                 would be a million kernel-action batches),
//                                 with the per-binding structures the engine
//                                 keeps beside the table if parts says so (1: an
//                                 expiry-heap entry, 2: a VNI in a set);
//                                 returns the table's bytes
//   sidbench_lookup(count, seed, miss)  count lookups of random bound
//                                 addresses (miss 1: of unbound ones); returns
//                                 the hits
//   sidbench_lookup_batch(count, seed, miss)  the same lookups, 64 at a
//                                 time through BindingTable.findBatch
//   sidbench_lookup_agree(count, seed, miss)  for the tests: the batch's
//                                 records compared with find's; returns how
//                                 many differ
//   sidbench_load(count, seed)    the baseline: one 8-byte load from a random
//                                 record of the same table memory per step
//   sidbench_chase(count, seed)   the same loads, each one's address waiting for
//                                 the load before (the memory's latency)
//   sidbench_keys(mode)           before the fill: 1 scatters the bound
//                                 addresses over the /64, 0 (default) consecutive
//   sidbench_renewals_make(count, now, seed)  Binding Updates for count
//                                 distinct bindings, as a target encodes them (sealed
//                                 under each binding's key K_b, PROTOCOL.md 8.11 v2),
//                                 into a buffer; returns how many
//   sidbench_renewals_deliver(now, replay)  hands them to the engine one by
//                                 one (Node.handleDatagram: the Sealed tag's check,
//                                 open, window, binding update, sealed and
//                                 signed reply) and discards the outputs;
//                                 replay 1: the same batch again (verified,
//                                 opened, refused as replays)
//   sidbench_renewals_applied(now)  the batch's bindings the table shows renewed
//
// Bound addresses are 2001:db8::/32 (never on a wire); every call checks that
// the agent is set up and returns -ERR_CONFIG or -ERR_INVALID_ARGUMENT if not.

import { Instance } from "./instance";
import { Address } from "../engine/address";
import { Peer } from "../engine/peer";
import { Encoder } from "../wire/encode";
import { HmacKey } from "../crypto/hmac";
import { ntpFromMs } from "../replay/timestamp";
import { SEAL_UP } from "../wire/sealed";
import {
  BindingTable, VniSet, RECORD, setSpi, spi, setVni, setExpires, expires, keyPtr, setTarget, setNodePeer, setFlags,
} from "../sid/bindings";
import {
  FAMILY_IPV6, MSG_BINDING_UPDATE, EXT_TRANSFERRED_ADDRESS, AUTH_HMAC_SHA256, MAX_MESSAGE_LENGTH, FIRST_ASSIGNABLE_SPI,
  ERR_CONFIG, ERR_INVALID_ARGUMENT, FLAG_REVERSE_TUNNEL, OUT_TRANSMIT,
} from "../generated/registry";

const PREFIX_HI: u64 = 0x20010db800000000; // 2001:db8::/32
const TARGET_LO: u64 = 0xffffffff00000001;
/** The renewals' sender, a target with this cookie (48 bits). */
const TARGET_COOKIE: u64 = 0x5eedbe9c0001;
/** The lifetime each renewal asks for (s). */
const RENEW_LIFETIME: u32 = 600;

/** sidbench_fill's parts: the structures the engine keeps per binding beside the table. */
const FILL_HEAP: i32 = 1;
const FILL_VNIS: i32 = 2;

let filled: i32 = 0;
let vnis = new VniSet();
const scratch = new Address();
const target = new Address();

/** splitmix64: the bench's own deterministic stream (never a key in use). */
let mixState: u64 = 0;
function mix(): u64 {
  mixState += 0x9e3779b97f4a7c15;
  let z = mixState;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

/** 1: bound addresses are scattered over the /64 (sidbench_keys); 0: consecutive. */
let scattered: i32 = 0;

/** A bijection of 64-bit words (the splitmix64 finalizer): binding i's interface identifier when scattered. */
function scatter(i: u64): u64 {
  let z = i + 0x9e3779b97f4a7c15;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

/** Binding i's address (2001:db8::i+1, or scattered: 2001:db8::scatter(i+1)). */
function bound(i: u32, out: Address): void {
  out.family = FAMILY_IPV6;
  out.hi = PREFIX_HI;
  out.lo = scattered ? scatter(<u64>i + 1) : <u64>i + 1;
}

/**
 * Chooses the bound addresses of the next fill (before it): 0 consecutive
 * (2001:db8::1, ::2, ...: a pool handed out in order, whose hashes the
 * multiply spreads almost evenly over the slots), 1 scattered over the /64
 * (what random interface identifiers give: the probe lengths of a random hash).
 * Lookups, renewals and the checks use the same addresses.
 */
export function sidbench_keys(mode: i32): i32 {
  if (filled != 0) return -ERR_INVALID_ARGUMENT;
  scattered = mode ? 1 : 0;
  return 0;
}

/** The table sidbench_fill filled (a new node, node_init, has a new one: the count starts again). */
let filledTable: BindingTable | null = null;

function table(): BindingTable | null {
  const s = Instance.sid;
  if (!s || !Instance.node.options.sidAgent) return null;
  const t = s.bindings();
  if (t !== filledTable) {
    filledTable = t;
    filled = 0;
    vnis = new VniSet();
    vnis.adopt(t.vniBits);
    batchCount = 0;
  }
  return t;
}

export function sidbench_fill(n: i32, now: f64, parts: i32): f64 {
  const t = table();
  if (!t) return -<f64>ERR_CONFIG;
  if (n <= 0 || n > t.limit - t.count) return -<f64>ERR_INVALID_ARGUMENT;
  target.family = FAMILY_IPV6;
  target.hi = PREFIX_HI;
  target.lo = TARGET_LO;
  mixState = 0x5eed;
  for (let i: i32 = 0; i < n; i++) {
    const id = <u32>(filled + i);
    bound(id, scratch);
    const r = t.insert(scratch);
    if (!r) return -<f64>ERR_INVALID_ARGUMENT;
    const k = keyPtr(r);
    for (let j = 0; j < 4; j++) store<u64>(k + (<usize>j << 3), mix());
    setSpi(r, FIRST_ASSIGNABLE_SPI + id);
    setVni(r, id + 1);
    setTarget(r, target);
    setFlags(r, FLAG_REVERSE_TUNNEL);
    setNodePeer(r, 0);
    const e = now + <f64>RENEW_LIFETIME * 1000;
    if (parts & FILL_HEAP) t.expireAt(r, e);
    else setExpires(r, e);
    if (parts & FILL_VNIS) vnis.add(id + 1);
  }
  filled += n;
  return t.bytes;
}

/** xorshift64 for the random walks (seeded by the host, so runs repeat). */
let walk: u64 = 1;
@inline function step(): u64 {
  let x = walk;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  walk = x;
  return x;
}

export function sidbench_lookup(count: i32, seed: f64, miss: i32): i32 {
  const t = table();
  if (!t) return -ERR_CONFIG;
  if (filled == 0 || count < 0) return -ERR_INVALID_ARGUMENT;
  walk = <u64>seed | 1;
  const n = <u64>filled;
  const a = scratch;
  a.family = FAMILY_IPV6;
  a.hi = PREFIX_HI;
  let hits: i32 = 0;
  for (let i: i32 = 0; i < count; i++) {
    bound(<u32>(step() % n + (miss ? n : 0)), a);
    if (t.find(a)) hits++;
  }
  return hits;
}

/** Keys and results of sidbench_lookup_batch: LOOKUP_BATCH addresses (hi, lo) and their records. */
const LOOKUP_BATCH: i32 = 64;
const BATCH_KEYS = memory.data(LOOKUP_BATCH * 16, 8);
const BATCH_OUT = memory.data(LOOKUP_BATCH * 8, 8);

/** The next k random bound addresses (miss 1: unbound ones) into BATCH_KEYS, as (hi, lo) pairs. */
function batchKeys(k: i32, miss: i32): void {
  const n = <u64>filled;
  for (let j = 0; j < k; j++) {
    store<u64>(BATCH_KEYS + (<usize>j << 4), PREFIX_HI);
    bound(<u32>(step() % n + (miss ? n : 0)), scratch);
    store<u64>(BATCH_KEYS + (<usize>j << 4) + 8, scratch.lo);
  }
}

/** As sidbench_lookup, through BindingTable.findBatch, LOOKUP_BATCH addresses a call (a packet path's batch). */
export function sidbench_lookup_batch(count: i32, seed: f64, miss: i32): i32 {
  const t = table();
  if (!t) return -ERR_CONFIG;
  if (filled == 0 || count < 0) return -ERR_INVALID_ARGUMENT;
  walk = <u64>seed | 1;
  let hits: i32 = 0;
  for (let i: i32 = 0; i < count; i += LOOKUP_BATCH) {
    const k = count - i < LOOKUP_BATCH ? count - i : LOOKUP_BATCH;
    batchKeys(k, miss);
    hits += t.findBatch(FAMILY_IPV6, BATCH_KEYS, k, BATCH_OUT);
  }
  return hits;
}

/**
 * For the tests: sidbench_lookup_batch's lookups (miss 1: unbound addresses), each one's record from findBatch
 * compared with find's; returns how many differ (0 when the two agree).
 */
export function sidbench_lookup_agree(count: i32, seed: f64, miss: i32): i32 {
  const t = table();
  if (!t) return -ERR_CONFIG;
  if (filled == 0 || count < 0) return -ERR_INVALID_ARGUMENT;
  walk = <u64>seed | 1;
  let differ: i32 = 0;
  for (let i: i32 = 0; i < count; i += LOOKUP_BATCH) {
    const k = count - i < LOOKUP_BATCH ? count - i : LOOKUP_BATCH;
    batchKeys(k, miss);
    t.findBatch(FAMILY_IPV6, BATCH_KEYS, k, BATCH_OUT);
    const a = scratch;
    a.family = FAMILY_IPV6;
    a.hi = PREFIX_HI;
    for (let j = 0; j < k; j++) {
      a.lo = load<u64>(BATCH_KEYS + (<usize>j << 4) + 8);
      if (t.find(a) != load<usize>(BATCH_OUT + <usize>j * sizeof<usize>())) differ++;
    }
  }
  return differ;
}

export function sidbench_load(count: i32, seed: f64): i32 {
  const t = table();
  if (!t) return -ERR_CONFIG;
  if (filled == 0 || count < 0) return -ERR_INVALID_ARGUMENT;
  walk = <u64>seed | 1;
  const cap = <u64>t.capacity;
  // The table's memory: the first used record minus its slot's offset.
  let base: usize = 0;
  for (let i: u32 = 0; i < t.capacity && !base; i++) {
    const r = t.at(i);
    if (r) base = r - <usize>i * <usize>RECORD;
  }
  let sum: u64 = 0;
  for (let i: i32 = 0; i < count; i++) sum += load<u64>(base + <usize>(step() % cap) * <usize>RECORD + 24);
  return <i32>(sum & 0x7fffffff);
}

/**
 * The latency baseline: count 8-byte loads from random records of the same
 * memory, each one's address depending on the one before (no two misses in
 * flight, as in a lookup that waits for its load), where sidbench_load's
 * independent loads overlap.
 */
export function sidbench_chase(count: i32, seed: f64): i32 {
  const t = table();
  if (!t) return -ERR_CONFIG;
  if (filled == 0 || count < 0) return -ERR_INVALID_ARGUMENT;
  walk = <u64>seed | 1;
  const cap = <u64>t.capacity;
  let base: usize = 0;
  for (let i: u32 = 0; i < t.capacity && !base; i++) {
    const r = t.at(i);
    if (r) base = r - <usize>i * <usize>RECORD;
  }
  // (zero unless seed is negative, which the compiler cannot know: the next address waits for the load)
  const keep: u64 = seed < 0 ? 1 : 0;
  let v: u64 = 0;
  let sum: u64 = 0;
  for (let i: i32 = 0; i < count; i++) {
    const w = load<u64>(base + <usize>((step() ^ v) % cap) * <usize>RECORD + 24);
    v = w & keep;
    sum += w;
  }
  return <i32>(sum & 0x7fffffff);
}

// ---- renewals -----------------------------------------------------------------------

/** Binding Updates per batch at most (each takes up to MAX_MESSAGE_LENGTH bytes of the batch). */
const MAX_BATCH: i32 = 50000;
// The batch lives in pages grown for it, outside the heap: a heap allocation of its size
// would grow the agent's linear memory by the allocator's doubling and show as the agent's.
let batchBase: usize = 0;
let batchLengths: usize = 0;
let batchIds: usize = 0;
let batchCap: i32 = 0;
let batchCount: i32 = 0;
const sender = new Peer(-1, TARGET_COOKIE, 16);
const encoder = new Encoder();
const COOKIE = memory.data(8);
const ADDR = memory.data(16);

export function sidbench_renewals_make(count: i32, now: f64, seed: f64): i32 {
  const t = table();
  if (!t) return -ERR_CONFIG;
  if (filled == 0 || count <= 0 || count > MAX_BATCH) return -ERR_INVALID_ARGUMENT;
  if (batchCap < count) {
    const bytes = <usize>count * <usize>(MAX_MESSAGE_LENGTH + 8);
    const before = memory.grow(<i32>((bytes + 0xffff) >> 16));
    if (before < 0) return -ERR_INVALID_ARGUMENT;
    batchBase = <usize>before << 16;
    batchLengths = batchBase + <usize>count * <usize>MAX_MESSAGE_LENGTH;
    batchIds = batchLengths + <usize>count * 4;
    batchCap = count;
  }
  if (count > filled) return -ERR_INVALID_ARGUMENT;
  // count distinct bindings from a random start (the hash spreads them over the table)
  walk = <u64>seed | 1;
  const start = <u32>(step() % <u64>filled);
  store<u16>(COOKIE, bswap<u16>(<u16>(TARGET_COOKIE >> 32)));
  store<u32>(COOKIE + 2, bswap<u32>(<u32>TARGET_COOKIE));
  const base = batchBase;
  let at: usize = 0;
  for (let i: i32 = 0; i < count; i++) {
    const id = <u32>((<u64>start + <u64>i) % <u64>filled);
    bound(id, scratch);
    const r = t.find(scratch);
    if (!r) return -ERR_INVALID_ARGUMENT;
    // As Node.encodeRequest does for the target's Binding Update (Hosted.encodeBody).
    const ts = ntpFromMs(now);
    const seq32 = sender.nextSeq32();
    const seq = sender.takeSeq();
    encoder.begin(base + at, MAX_MESSAGE_LENGTH, MSG_BINDING_UPDATE, 0, seq, COOKIE, <u32>(ts >> 32), <u32>ts);
    scratch.store(ADDR);
    encoder.address(EXT_TRANSFERRED_ADDRESS, scratch.family, ADDR);
    encoder.markSealed();
    encoder.lifetime(RENEW_LIFETIME);
    // 8.11: the record holds the binding key K_b; the Sealed tag alone authenticates.
    const n = encoder.finishBinding(keyPtr(r), SEAL_UP, seq32, spi(r));
    if (n <= 0) return -ERR_INVALID_ARGUMENT;
    store<i32>(batchLengths + (<usize>i << 2), n);
    store<u32>(batchIds + (<usize>i << 2), id);
    at += <usize>n;
  }
  batchCount = count;
  return count;
}

/** Replies (transmit outputs) the last sidbench_renewals_deliver discarded. */
let replies: i32 = 0;
export function sidbench_replies(): i32 {
  return replies;
}

/**
 * Hands the batch to the engine, one Binding Update after another, and
 * discards the outputs (counting the replies). replay 1: the same batch again
 * (each one authenticated and opened, then refused by the replay window, or
 * the last few answered from the reply cache); returns how many of them the
 * engine dropped or answered from its cache.
 */
export function sidbench_renewals_deliver(now: f64, replay: i32): i32 {
  const t = table();
  if (!t) return -ERR_CONFIG;
  if (batchCount == 0) return -ERR_INVALID_ARGUMENT;
  const node = Instance.node;
  const port = <u32>node.options.controlPort;
  const base = batchBase;
  const c = node.counters;
  const before = c.dropped + c.duplicates;
  let at: usize = 0;
  replies = 0;
  for (let i: i32 = 0; i < batchCount; i++) {
    const n = load<i32>(batchLengths + (<usize>i << 2));
    node.handleDatagram(now, target, port, base + at, n);
    at += <usize>n;
    for (let o = node.out.shift(); o; o = node.out.shift()) if (o.kind == OUT_TRANSMIT) replies++;
  }
  return replay ? <i32>(c.dropped + c.duplicates - before) : batchCount;
}

/** The batch's bindings whose expiry is now the renewed one (now + the asked lifetime): the renewals applied. */
export function sidbench_renewals_applied(now: f64): i32 {
  const t = table();
  if (!t) return -ERR_CONFIG;
  const want = now + <f64>RENEW_LIFETIME * 1000;
  let applied: i32 = 0;
  for (let i: i32 = 0; i < batchCount; i++) {
    bound(load<u32>(batchIds + (<usize>i << 2)), scratch);
    const r = t.find(scratch);
    if (r && expires(r) == want) applied++;
  }
  return applied;
}

// ---- per-flow sorting (bench/sid-flows.js) -------------------------------------------

import { Flow, sortingTable, flowElements } from "../sid/flows";
import { TextOut } from "../util/text";

/** Flows per sidbench_flow_rules call at most (its text fits the buffer). */
const FLOW_CHUNK: i32 = 4096;
const FLOW_TEXT_CAP: i32 = FLOW_CHUNK * 96 + 4096;
let flowText: StaticArray<u8> | null = null;
const flowOut = new TextOut();

/** Where sidbench_flow_rules wrote its text (valid until the next call). */
export function sidbench_flow_text(): usize {
  return flowText ? changetype<usize>(flowText) : 0;
}

/**
 * The agent's nft text from sid/flows.ts, for the kernel bench: which 0, the
 * sorting table (sortingTable, add); which 1, the map elements of flows
 * first .. first + count - 1 (flowElements, add) under mark. Flow k, IPv4:
 * protocol proto, remote (the correspondent) address `remote` port
 * 40000 + k % 25000, local (the transferred address) `local` port
 * 5201 + k / 25000. Returns the text's length (sidbench_flow_text), or
 * -ERR_INVALID_ARGUMENT.
 */
export function sidbench_flow_rules(which: i32, first: i32, count: i32, proto: i32, remote: u32, local: u32, mark: u32): i32 {
  if (count < 0 || count > FLOW_CHUNK || first < 0 || first + count > 25000 * 60000 || (proto != 6 && proto != 17)) return -ERR_INVALID_ARGUMENT;
  let buf = flowText;
  if (!buf) {
    buf = new StaticArray<u8>(FLOW_TEXT_CAP);
    flowText = buf;
  }
  flowOut.reset(changetype<usize>(buf), FLOW_TEXT_CAP);
  if (which == 0) {
    sortingTable(flowOut, true);
  } else {
    const flows = new Array<Flow>();
    for (let i = 0; i < count; i++) {
      const k = first + i;
      const f = new Flow();
      f.proto = <u8>proto;
      f.remotePort = <u16>(40000 + k % 25000);
      f.localPort = <u16>(5201 + k / 25000);
      f.remote = Address.v4(remote);
      f.local = Address.v4(local);
      flows.push(f);
    }
    flowElements(flowOut, true, flows, mark);
  }
  return flowOut.overflow ? -ERR_INVALID_ARGUMENT : flowOut.pos;
}
