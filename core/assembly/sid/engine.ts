// The SID protocol module (docs/PROTOCOL.md section 8): the state machines of
// the transferring node, the target and the agent, served by the engine
// (Node.serve(PROTOCOL_SID, ...)). Sans-I/O: `now` is an argument; kernel
// actions, frames and events go through the node's output queue.

import { Node, RequestHandler } from "../engine/node";
import { Peer, SecurityAssociation, CachedReply } from "../engine/peer";
import { Address } from "../engine/address";
import { TextOut } from "../util/text";
import { PROTOCOL_SID, ERR_CONFIG } from "../generated/registry";

/** Size of the block sid_session writes (docs/ABI.md "SID engine"). */
export const SESSION_INFO_SIZE: i32 = 64;

export class Sid extends RequestHandler {
  node: Node;
  ifindex: u32 = 0;
  mac: StaticArray<u8> = new StaticArray<u8>(6);
  address: Address = new Address();

  constructor(node: Node) {
    super();
    this.node = node;
    node.serve(PROTOCOL_SID, this);
  }

  setLink(ifindex: u32, mac: usize, a: Address): void {
    this.ifindex = ifindex;
    memory.copy(changetype<usize>(this.mac), mac, 6);
    this.address.set(a);
  }

  request(node: Node, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, now: f64): void {}

  transfer(now: f64, a: Address, target: Peer, agent: Peer | null, flags: u8, lifetime: u32): i32 { return -ERR_CONFIG; }
  stop(now: f64, a: Address): i32 { return -ERR_CONFIG; }
  stateDelivered(now: f64, a: Address, ok: bool): i32 { return -ERR_CONFIG; }
  stateReceived(now: f64, a: Address, ok: bool): i32 { return -ERR_CONFIG; }
  sessionEnded(now: f64, a: Address): i32 { return -ERR_CONFIG; }
  sessionInfo(a: Address, out: usize): i32 { return -ERR_CONFIG; }
  stateJson(out: TextOut, now: f64): void {
    out.objOpen();
    out.objClose();
  }
}
