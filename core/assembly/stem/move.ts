// A move: one end of a set of sessions has left its original address
// (docs/PROTOCOL.md section 7.1). The kernel rewrites the session's packets
// between the original address (what the sockets know) and the wire address
// (what the network sees). A local move is ours (we migrated); a remote move
// is a peer's (it migrated and told us).

import { Address } from "../engine/address";
import { Peer } from "../engine/peer";
import { Procedure } from "../engine/node";

export class Move {
  id: u32;
  peer: Peer;
  /** True: our address moved. False: the peer's. */
  local: bool;
  /** PROTO_TCP | PROTO_UDP, 0 for all. */
  protocols: u8 = 0;
  orig: Address;
  /** 0: every port. */
  origPort: u32 = 0;
  wire: Address;
  wirePort: u32 = 0;
  /**
   * Local moves: where outbound packets go from now. Equal to the wire
   * address, except during a make-before-break migration, when the sessions
   * keep sending from the old address (still working) until the peer has
   * switched, and only receive on the new one (docs/PROTOCOL.md 7.2).
   */
  outWire: Address;
  outWirePort: u32 = 0;
  /** Local moves: the peer's original addresses the sessions lead to. */
  scope: Array<Address> = new Array<Address>();
  /** Local moves: the session's outgoing packets are held (section 7.2). */
  held: bool = false;
  /** Remote moves: the wire address is not validated yet; traffic to it is capped (7.5). */
  unvalidated: bool = false;
  /** The procedure working on this move, if any (one at a time). */
  busy: Procedure | null = null;
  /** Packets its rules counted at the last sweep, and since when that count has not changed (0: not yet seen). */
  lastPackets: u64 = 0;
  idleSince: f64 = 0;

  constructor(id: u32, peer: Peer, local: bool, orig: Address, origPort: u32) {
    this.id = id;
    this.peer = peer;
    this.local = local;
    this.orig = orig.copy();
    this.origPort = origPort;
    this.wire = orig.copy();
    this.wirePort = origPort;
    this.outWire = orig.copy();
    this.outWirePort = origPort;
  }

  /** Sends and receives at a (port 0 stays 0: every port). */
  moveTo(a: Address, port: u32): void {
    this.wire.set(a);
    this.wirePort = port;
    this.outWire.set(a);
    this.outWirePort = port;
  }

  /** Receives at a, keeps sending where it did (the first half of a make-before-break migration). */
  receiveAt(a: Address, port: u32): void {
    this.wire.set(a);
    this.wirePort = port;
  }

  /** Sends where it receives (the second half). */
  sendToo(): void {
    this.outWire.set(this.wire);
    this.outWirePort = this.wirePort;
  }

  /** Outbound packets are rewritten (they leave from somewhere else than the socket's address). */
  get sendsAway(): bool {
    return !this.outWire.equals(this.orig) || this.outWirePort != this.origPort;
  }

  /** Inbound packets are rewritten (they arrive somewhere else than the socket's address). */
  get receivesAway(): bool {
    return !this.wire.equals(this.orig) || this.wirePort != this.origPort;
  }

  /** True when the kernel has nothing to rewrite. */
  get identity(): bool {
    return !this.sendsAway && !this.receivesAway;
  }

  /** True if this move covers the given protocols (0 = all). */
  covers(protocols: u8): bool {
    return this.protocols == 0 || this.protocols == protocols;
  }
}

/**
 * A wire address a move left (section 7.7). For the quarantine period it is
 * not given to another peer's sessions, and late packets of the session that
 * still use it are mapped onto the session (inbound) instead of drawing a
 * reset. During a migration this is also what accepts the packets the peer
 * still sends to the previous address.
 */
export class Quarantine {
  peer: Peer;
  local: bool;
  protocols: u8;
  /** The session's original endpoint. */
  orig: Address;
  origPort: u32;
  /** The wire endpoint it left. */
  address: Address;
  port: u32;
  /** Local entries: the peer's original addresses the late packets come from. */
  scope: Array<Address>;
  until: f64;
  constructor(m: Move, until: f64) {
    this.peer = m.peer;
    this.local = m.local;
    this.protocols = m.protocols;
    this.orig = m.orig.copy();
    this.origPort = m.origPort;
    this.address = m.wire.copy();
    this.port = m.wirePort;
    this.scope = m.scope;
    this.until = until;
  }
}
