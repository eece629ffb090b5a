// Flat exports of SID's per-flow mode, the Session Agent (docs/PROTOCOL.md
// 8.16, docs/ABI.md "SID per-flow mode"). Flows cross the ABI as records of
// FLOW_RECORD_SIZE (38) bytes: protocol (6 or 17), family, local port and
// remote port (network order), local address and remote address (16 bytes
// each, an IPv4 address in the first 4). Every pointer is checked; a bad one
// returns -ERR_INVALID_ARGUMENT, never a trap.

import { inMemory } from "../util/bytes";
import { Address, isValidFamily } from "../engine/address";
import { Instance } from "./instance";
import { Flow, FLOW_RECORD_SIZE } from "../sid/flows";
import { ERR_INVALID_ARGUMENT, ERR_CONFIG, ERR_UNKNOWN_PEER, ERR_NOT_SEEDED } from "../generated/registry";
import { drbg } from "../crypto/drbg";

const BAD = -ERR_INVALID_ARGUMENT;
/** Flows one call may move (a Transfer Request holds at most 1232 bytes; a Flow extension of IPv4 is 16). */
const MAX_FLOWS_PER_CALL: i32 = 64;

function readAddress(family: i32, p: usize): Address | null {
  if (!isValidFamily(family) || !inMemory(p, 16)) return null;
  return Address.read(family, p);
}

/** Adds an address to the transferring node's Interim Address pool (configuration `sid.interim`). */
export function sid_interim_add(family: i32, addr: usize): i32 {
  const s = Instance.sid;
  if (!s) return -ERR_CONFIG;
  const a = readAddress(family, addr);
  if (!a || !a.isUsableUnicast()) return BAD;
  s.flows.addToPool(a);
  return 0;
}

/**
 * The application moves `count` flows of address `addr` (every flow's local
 * address) to targetPeer through agentPeer; the address's other flows stay.
 */
export function sid_transfer_flows(now: f64, family: i32, addr: usize, targetPeer: i32, agentPeer: i32, flags: i32, lifetime: i32, flows: usize, count: i32): i32 {
  const s = Instance.sid;
  if (!s) return -ERR_CONFIG;
  const a = readAddress(family, addr);
  if (!a || flags < 0 || flags > 0xff || lifetime < 0 || lifetime > 65535 || count < 1 || count > MAX_FLOWS_PER_CALL) return BAD;
  if (!inMemory(flows, count * FLOW_RECORD_SIZE)) return BAD;
  const list = new Array<Flow>();
  for (let i = 0; i < count; i++) {
    const f = Flow.fromRecord(flows + <usize>(i * FLOW_RECORD_SIZE));
    if (!f || !f.local.equals(a) || f.remote.family != a.family) return BAD;
    for (let k = 0; k < list.length; k++) if (list[k].equals(f)) return BAD;
    list.push(f);
  }
  const peers = Instance.node.peers;
  if (targetPeer < 0 || targetPeer >= peers.length || agentPeer < 0 || agentPeer >= peers.length || agentPeer == targetPeer) return -ERR_UNKNOWN_PEER;
  if (!drbg.seeded) return -ERR_NOT_SEEDED;
  return s.transferFlows(now, a, list, peers[targetPeer], peers[agentPeer], <u8>flags, <u32>lifetime);
}

/** Stop Transfer for the flow set of session SPI `spi` of `addr`, or with spi 0 for all of them. */
export function sid_stop_flows(now: f64, family: i32, addr: usize, spi: u32): i32 {
  const s = Instance.sid;
  if (!s) return -ERR_CONFIG;
  const a = readAddress(family, addr);
  if (!a) return BAD;
  return s.stopFlows(now, a, spi);
}

/** Target: one transferred flow (a record) has ended (8.13); the last one ends the flow set. */
export function sid_flow_ended(now: f64, flow: usize): i32 {
  const s = Instance.sid;
  if (!s) return -ERR_CONFIG;
  const f = Flow.fromRecord(flow);
  if (!f) return BAD;
  return s.flowEnded(now, f);
}
