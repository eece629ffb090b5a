// Flat exports of the SID engine (docs/ABI.md "SID engine"): configuration,
// the application's calls and the parameters the host needs to seal the TCP
// state record. Outputs go through poll_output like every other. Every
// pointer is checked; a bad one returns -ERR_INVALID_ARGUMENT, never a trap.

import { inMemory } from "../util/bytes";
import { TextOut } from "../util/text";
import { Address, isValidFamily } from "../engine/address";
import { Instance } from "./instance";
import { Sid, SESSION_INFO_SIZE } from "../sid/engine";
import { ERR_INVALID_ARGUMENT, ERR_BUFFER_TOO_SMALL, ERR_CONFIG, ERR_UNKNOWN_PEER, ERR_NOT_SEEDED, FAMILY_IPV4 } from "../generated/registry";
import { BindingTable, setExpires, expires } from "../sid/bindings";
import { drbg } from "../crypto/drbg";
import { Flow, FLOW_RECORD_SIZE } from "../sid/flows";

const BAD = -ERR_INVALID_ARGUMENT;
const text = new TextOut();

function readAddress(family: i32, p: usize): Address | null {
  if (!isValidFamily(family) || !inMemory(p, 16)) return null;
  return Address.read(family, p);
}

/** The SID module, or null before sid_link. */
function sid(): Sid | null {
  return Instance.sid;
}

/**
 * Switches SID on for this node (it serves the SID message types from now)
 * and names its home link: interface index, 6-byte MAC, address.
 */
export function sid_link(ifindex: i32, mac: usize, family: i32, addr: usize): i32 {
  const a = readAddress(family, addr);
  if (!a || !inMemory(mac, 6) || ifindex <= 0) return BAD;
  let s = Instance.sid;
  if (!s) {
    s = new Sid(Instance.node);
    Instance.sid = s;
  }
  s.setLink(<u32>ifindex, mac, a);
  return 0;
}

/** The application moves `addr` to targetPeer through agentPeer (-1: same subnet). */
export function sid_transfer(now: f64, family: i32, addr: usize, targetPeer: i32, agentPeer: i32, flags: i32, lifetime: i32): i32 {
  const s = sid();
  if (!s) return -ERR_CONFIG;
  const a = readAddress(family, addr);
  if (!a || flags < 0 || flags > 0xff || lifetime < 0 || lifetime > 65535) return BAD;
  const peers = Instance.node.peers;
  if (targetPeer < 0 || targetPeer >= peers.length || agentPeer < -1 || agentPeer >= peers.length || agentPeer == targetPeer) return -ERR_UNKNOWN_PEER;
  if (!drbg.seeded) return -ERR_NOT_SEEDED;
  return s.transfer(now, a, peers[targetPeer], agentPeer < 0 ? null : peers[agentPeer], <u8>flags, <u32>lifetime);
}

/** The transferring node ends the transfer of `addr` (Stop Transfer). */
export function sid_stop(now: f64, family: i32, addr: usize): i32 {
  const s = sid();
  if (!s) return -ERR_CONFIG;
  const a = readAddress(family, addr);
  if (!a) return BAD;
  return s.stop(now, a);
}

/** Transferring node: the state record of `addr` was delivered to the target (ok 1) or not (ok 0). */
export function sid_state_delivered(now: f64, family: i32, addr: usize, ok: i32): i32 {
  const s = sid();
  if (!s) return -ERR_CONFIG;
  const a = readAddress(family, addr);
  if (!a) return BAD;
  return s.stateDelivered(now, a, ok != 0);
}

/** Target: the state record of `addr` was received, opened and restored in repair mode (ok 1) or not (ok 0). */
export function sid_state_received(now: f64, family: i32, addr: usize, ok: i32): i32 {
  const s = sid();
  if (!s) return -ERR_CONFIG;
  const a = readAddress(family, addr);
  if (!a) return BAD;
  return s.stateReceived(now, a, ok != 0);
}

/**
 * The UDP flows of `addr` that pass its stop rule (PROTOCOL.md 8.12, "UDP
 * flows"): `count` (0-16) flow records of FLOW_RECORD_SIZE bytes at flows,
 * protocol UDP, local address addr; replaces the ones given before.
 */
export function sid_udp_pass(family: i32, addr: usize, flows: usize, count: i32): i32 {
  const s = sid();
  if (!s) return -ERR_CONFIG;
  const a = readAddress(family, addr);
  if (!a || count < 0 || count > 16 || !inMemory(flows, count * FLOW_RECORD_SIZE)) return BAD;
  const list = new Array<Flow>();
  for (let i = 0; i < count; i++) {
    const f = Flow.fromRecord(flows + <usize>(i * FLOW_RECORD_SIZE));
    if (!f || f.proto != 17 || !f.local.equals(a) || f.remote.family != a.family) return BAD;
    list.push(f);
  }
  return s.setUdpPass(a, list);
}

/** Target: every flow of the transferred address has ended (PROTOCOL.md 8.13). */
export function sid_session_ended(now: f64, family: i32, addr: usize): i32 {
  const s = sid();
  if (!s) return -ERR_CONFIG;
  const a = readAddress(family, addr);
  if (!a) return BAD;
  return s.sessionEnded(now, a);
}

/** The transfer of `addr` known here: 64 bytes at out (docs/ABI.md "SID engine"). */
export function sid_session(family: i32, addr: usize, out: usize): i32 {
  const s = sid();
  if (!s) return -ERR_CONFIG;
  const a = readAddress(family, addr);
  if (!a || !inMemory(out, SESSION_INFO_SIZE)) return BAD;
  return s.sessionInfo(a, out);
}

/** The SID state as JSON at out. */
export function sid_state(now: f64, out: usize, cap: i32): i32 {
  const s = sid();
  if (!s) return -ERR_CONFIG;
  if (!inMemory(out, cap)) return BAD;
  text.reset(out, cap);
  s.stateJson(text, now);
  return text.overflow ? -ERR_BUFFER_TOO_SMALL : text.pos;
}

/** The agent's bindings as bytes for the host to keep across a restart (PROTOCOL.md 8.17). */
export function sid_bindings_save(out: usize, cap: i32): i32 {
  const s = sid();
  if (!s) return -ERR_CONFIG;
  if (cap < 0 || !inMemory(out, cap)) return BAD;
  return s.saveBindings(out, cap);
}

/** A restarted agent takes over the bindings sid_bindings_save wrote (into an empty table; all or nothing). */
export function sid_bindings_restore(now: f64, p: usize, n: i32): i32 {
  const s = sid();
  if (!s) return -ERR_CONFIG;
  if (n < 0 || !inMemory(p, n)) return BAD;
  return s.restoreBindings(now, p, n);
}

// ---- the binding table at scale (bench/sid.js, test/sid-engine.test.js) --------
// A table of its own, not the node's: n bindings of the IPv4 addresses
// 10.0.0.0 + i, to measure bytes per binding and lookups (issue 8's figures).

let benchTable: BindingTable | null = null;
const BENCH_ADDR = new Address();

function benchAddress(i: u32): Address {
  BENCH_ADDR.family = FAMILY_IPV4;
  BENCH_ADDR.hi = 0;
  BENCH_ADDR.lo = <u64>(0x0a000000 + i);
  return BENCH_ADDR;
}

/** Makes a table for `limit` bindings and inserts n of them: how many went in (a full table refuses the rest). */
export function sid_bindings_fill(limit: i32, n: i32): i32 {
  if (limit < 1 || limit > 4000000 || n < 0) return BAD;
  const old = benchTable;
  if (old) old.release();
  const t = new BindingTable(limit);
  benchTable = t;
  let added = 0;
  for (let i = 0; i < n; i++) {
    const r = t.insert(benchAddress(<u32>i));
    if (!r) break;
    setExpires(r, <f64>i);
    added++;
  }
  return added;
}

/** Inserts address i into the table: 1, or 0 when it is full, 2 when i is there already. */
export function sid_bindings_insert(i: i32): i32 {
  const t = benchTable;
  if (!t || i < 0) return BAD;
  const a = benchAddress(<u32>i);
  if (t.find(a)) return 2;
  const r = t.insert(a);
  if (!r) return 0;
  setExpires(r, <f64>i);
  return 1;
}

/** Looks up n addresses (from `first` on, wrapping at `span`): how many were found. */
export function sid_bindings_lookup(first: i32, n: i32, span: i32): i32 {
  const t = benchTable;
  if (!t || n < 0 || span < 1 || first < 0) return BAD;
  let found = 0;
  for (let i = 0; i < n; i++) {
    const r = t.find(benchAddress(<u32>(first + i % span)));
    if (r) found++;
  }
  return found;
}

/** Removes the bindings of the addresses first .. first + n - 1: how many were there. */
export function sid_bindings_remove(first: i32, n: i32): i32 {
  const t = benchTable;
  if (!t || n < 0 || first < 0) return BAD;
  let removed = 0;
  for (let i = 0; i < n; i++) {
    const r = t.find(benchAddress(<u32>(first + i)));
    if (r) {
      t.remove(r);
      removed++;
    }
  }
  return removed;
}

/** Files address i's binding to expire at e (BindingTable.expireAt): 1, or 0 if it is not there. */
export function sid_bindings_expire(i: i32, e: f64): i32 {
  const t = benchTable;
  if (!t || i < 0) return BAD;
  const r = t.find(benchAddress(<u32>i));
  if (!r) return 0;
  t.expireAt(r, e);
  return 1;
}

/** The table's earliest expiry (a lower bound, BindingTable.earliest). */
export function sid_bindings_earliest(): f64 {
  const t = benchTable;
  return t ? t.earliest() : -1;
}

/** Removes every binding due by now (BindingTable.popDue, as the agent's timer does): how many; -2 if one popped was not due. */
export function sid_bindings_due(now: f64): i32 {
  const t = benchTable;
  if (!t) return BAD;
  const a = new Address();
  let n = 0;
  while (t.popDue(now, a)) {
    const r = t.find(a);
    if (!r || expires(r) > now) return -2;
    t.remove(r);
    n++;
  }
  return n;
}

/** The table's bytes (all its slots, with their tags) at index 0, its count in bindings at 1, at 2 how many bindings wrapped around its end. */
export function sid_bindings_size(which: i32): f64 {
  const t = benchTable;
  if (!t) return -1;
  if (which == 0) return t.bytes;
  if (which == 1) return <f64>t.count;
  return which == 2 ? <f64>t.wrapped() : -1;
}
