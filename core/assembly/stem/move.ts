// A move: one end of a set of sessions has left its original address
// (docs/PROTOCOL.md section 7.1). The kernel rewrites the session's packets
// between the original address (what the sockets know) and the wire address
// (what the network sees). A local move is ours (we migrated); a remote move
// is a peer's (it migrated and told us).

import { Address } from "../engine/address";
import { Peer } from "../engine/peer";
import { Procedure } from "../engine/node";
import { Timer } from "../engine/timers";

/**
 * Moves and quarantines whose kernel elements may have to change: the data
 * plane (stem/nft.ts) renders only these, so a change costs the same
 * whatever the number of moves. A move joins when its rewrite changes (its
 * wire or send address, its hold, its quota) or when it ends.
 */
export const dirtyMoves = new Array<Move>();
export const dirtyQuarantines = new Array<Quarantine>();

/** The scope of a move that has none (the peer's moves): shared, never changed. */
const NO_SCOPE = new Array<Address>();

/** Local moves whose packets are held now (one kernel queue serves them all). */
let heldMoves: i32 = 0;
export function heldCount(): i32 {
  return heldMoves;
}

/**
 * What a move is busy with (Move.busy): a migration of ours (migrator.ts
 * Migration) or a peer's path validation (nonmigrator.ts PathValidation).
 * Each answers for itself through these methods, so that no code has to
 * find out which one it is and cast.
 */
export abstract class MoveProcedure extends Procedure {
  /** The moves it changes. */
  moves: Array<Move> = new Array<Move>();
  /** Each move's wire endpoint before it, for rollback. */
  prevWire: Array<Address> = new Array<Address>();
  prevPort: Array<u32> = new Array<u32>();
  /** A migration of ours: its id (the application's handle for it); -1 for anything else. */
  migrationId(): i32 { return -1; }
  /** A path validation under way: ends it in favour of a later migration of its moves, and true; else false. */
  supersede(): bool { return false; }
  /**
   * A peer's migration waiting for its Confirm (section 7.5): when its
   * validation times out (ms, the host's clock); -1 for anything else. Such a
   * move is saved and restored unvalidated, with this deadline (lifecycle.ts).
   */
  validationDeadline(): f64 { return -1; }
}

/** A new node (node_init in the same instance, a daemon's reload): the old one's moves count no more. */
export function forgetMoves(): void {
  dirtyMoves.length = 0;
  dirtyQuarantines.length = 0;
  heldMoves = 0;
}

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
  /** Local moves: the peer's original addresses the sessions lead to (never changed in place). */
  private _scope: Array<Address> = NO_SCOPE;
  /** Local moves: the session's outgoing packets are held (section 7.2). */
  private _held: bool = false;
  /** Remote moves: the wire address is not validated yet; traffic to it is capped (7.5). */
  private _unvalidated: bool = false;
  /** Queued in dirtyMoves. */
  dirty: bool = false;
  /** False once the move ended (removed from the node's tables). */
  live: bool = true;
  /** Where the move sits in the module's table (stem.moves), for removal in O(1). */
  slot: i32 = -1;
  /** The kernel holds this move's elements (as of its state when it is not dirty). */
  inKernel: bool = false;
  /**
   * While dirty: what the kernel holds (taken at the first change after a
   * batch, before the change), so that the next batch deletes exactly that.
   * Between batches there is none: a steady move costs no copy.
   */
  before: Rendered | null = null;
  /** The procedure working on this move, if any (one at a time). */
  busy: MoveProcedure | null = null;
  /** Packets its rules counted at the last sweep, and since when that count has not changed (0: not yet seen). */
  lastPackets: u64 = 0;
  idleSince: f64 = 0;

  constructor(id: u32, peer: Peer, local: bool, orig: Address, origPort: u32) {
    this.id = id;
    this.peer = peer;
    this.local = local;
    // A move's addresses are values, never changed in place: a new one
    // replaces the old (so that what the kernel was given, Rendered, can
    // keep them without copies).
    const o = orig.copy();
    this.orig = o;
    this.origPort = origPort;
    this.wire = o;
    this.wirePort = origPort;
    this.outWire = o;
    this.outWirePort = origPort;
  }

  get scope(): Array<Address> { return this._scope; }
  set scope(s: Array<Address>) {
    this.touch();
    this._scope = s;
  }
  get held(): bool { return this._held; }
  set held(v: bool) {
    if (v == this._held) return;
    this.touch();
    this._held = v;
    if (this.live) heldMoves += v ? 1 : -1;
  }
  get unvalidated(): bool { return this._unvalidated; }
  set unvalidated(v: bool) {
    if (v == this._unvalidated) return;
    this.touch();
    this._unvalidated = v;
  }

  /**
   * Queues the move for the data plane's next batch. Called before every
   * change, so that the first change after a batch can record what the
   * kernel holds.
   */
  touch(): void {
    if (this.dirty) return;
    this.dirty = true;
    if (this.inKernel) this.before = new Rendered(this);
    dirtyMoves.push(this);
  }

  /** The move ended: its kernel elements go with the next batch. */
  end(): void {
    if (!this.live) return;
    this.touch();
    if (this._held) heldMoves--;
    this.live = false;
  }

  /** Sends and receives at a (port 0 stays 0: every port). */
  moveTo(a: Address, port: u32): void {
    this.touch();
    this.wire = a.equals(this.orig) ? this.orig : a.copy();
    this.wirePort = port;
    this.outWire = this.wire;
    this.outWirePort = port;
  }

  /** Receives at a, keeps sending where it did (the first half of a make-before-break migration). */
  receiveAt(a: Address, port: u32): void {
    this.touch();
    this.wire = a.equals(this.orig) ? this.orig : a.copy();
    this.wirePort = port;
  }

  /** Sends where it receives (the second half). */
  sendToo(): void {
    this.touch();
    this.outWire = this.wire;
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

/** What a quarantine's end is reported to. */
export abstract class QuarantineSink {
  abstract quarantineEnded(q: Quarantine, now: f64): void;
}

/**
 * A wire address a move left (section 7.7). For the quarantine period it is
 * not given to another peer's sessions, and late packets of the session that
 * still use it are mapped onto the session (inbound) instead of drawing a
 * reset. During a migration this is also what accepts the packets the peer
 * still sends to the previous address.
 */
export class Quarantine extends Timer {
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
  /** False once it expired or was lifted. */
  live: bool = true;
  /** Its elements are in the kernel. */
  rendered: bool = false;
  /** Where it sits in the module's list, for removal in O(1). */
  slot: i32 = -1;
  /** Who hears of its end (the STEM module, once it entered the quarantine in its tables). */
  sink: QuarantineSink | null = null;
  constructor(m: Move, until: f64) {
    super();
    this.peer = m.peer;
    this.local = m.local;
    this.protocols = m.protocols;
    this.orig = m.orig.copy();
    this.origPort = m.origPort;
    this.address = m.wire.copy();
    this.port = m.wirePort;
    this.scope = m.scope;
    this.until = until;
    dirtyQuarantines.push(this);
  }

  /** Its time is up (in the engine's timer table, armed for `until`). */
  fire(now: f64): void {
    const sink = this.sink;
    if (sink) sink.quarantineEnded(this, now);
  }

  /** Lifted or expired: its elements go with the next batch. */
  end(): void {
    if (!this.live) return;
    this.live = false;
    dirtyQuarantines.push(this);
  }
}

/**
 * A move's state as the data plane renders it (stem/nft.ts): the current
 * one for a batch's additions, or what the kernel held (Move.before) for its
 * deletions.
 */
export class Rendered {
  id: u32 = 0;
  cookie: u64 = 0;
  local: bool = false;
  protocols: u8 = 0;
  orig: Address;
  origPort: u32 = 0;
  wire: Address;
  wirePort: u32 = 0;
  outWire: Address;
  outWirePort: u32 = 0;
  scope: Array<Address>;
  held: bool = false;
  unvalidated: bool = false;
  constructor(m: Move) {
    this.orig = m.orig;
    this.wire = m.wire;
    this.outWire = m.outWire;
    this.scope = m.scope;
    this.of(m);
  }
  /** This record made again for m (one record for many moves where none is kept: Dataplane.adopt). */
  of(m: Move): Rendered {
    this.id = m.id;
    this.cookie = m.peer.cookie;
    this.local = m.local;
    this.protocols = m.protocols;
    this.orig = m.orig; // never changed after construction
    this.origPort = m.origPort;
    this.wire = m.wire; // values: the move replaces them, never changes them
    this.wirePort = m.wirePort;
    this.outWire = m.outWire;
    this.outWirePort = m.outWirePort;
    this.scope = m.scope;
    this.held = m.held;
    this.unvalidated = m.unvalidated;
    return this;
  }
  get sendsAway(): bool {
    return !this.outWire.equals(this.orig) || this.outWirePort != this.origPort;
  }
  get receivesAway(): bool {
    return !this.wire.equals(this.orig) || this.wirePort != this.origPort;
  }
}
