// What the address watch (watch.ts) and the kernel lifecycle (lifecycle.ts)
// see of the STEM module: its move table, its data plane renderer and the
// calls they make. stem.ts implements it; watch.ts and lifecycle.ts import
// only this file, so the module's files import each other in no circle.

import { Node, Procedure, RequestHandler } from "../engine/node";
import { Peer } from "../engine/peer";
import { Decoded } from "../wire/decode";
import { MAX_MESSAGE_LENGTH } from "../generated/registry";
import { Address } from "../engine/address";
import { SocketInfo } from "../kernel/rtnl";
import { Move, Quarantine } from "./move";
import { Dataplane } from "./nft";

/** The module's message buffer (a Confirm being encoded, a Migration Request's staged addresses). */
export const MSG = memory.data(MAX_MESSAGE_LENGTH);

export abstract class StemBase extends RequestHandler {
  node: Node;
  /** Every move (each knows its slot here, for removal in O(1); the order is not meaningful). */
  moves: Array<Move> = new Array<Move>();
  /** The local moves (ours), which the address watch and the hold look through. */
  locals: Array<Move> = new Array<Move>();
  dp: Dataplane = new Dataplane();
  nextMoveId: u32 = 1;
  /** A release was asked for while something else still held: it happens when that ends. */
  releaseWaits: bool = false;
  quarantines: Array<Quarantine> = new Array<Quarantine>();
  /** The kernel was set up: sock_diag can say which sessions a migration carries. */
  kernelReady: bool = false;

  constructor(node: Node) {
    super();
    this.node = node;
  }

  /** Starts a migration (7.2): its id, or -error. */
  abstract migrate(now: f64, peer: Peer, protocols: u8, from: Address, fromPort: u32, to: Address, toPort: u32): i32;
  /** Enters a move in the tables. */
  abstract addMove(m: Move): void;
  /** Removes a move from the tables; its elements go with the next batch. */
  abstract removeMove(m: Move): void;
  /** The local move that carries a session of `peer`, made if there is none (null: not one of ours to carry). */
  abstract sessionMove(peer: Peer, s: SocketInfo, now: f64): Move | null;
  /** Queues the elements that changed as one kernel action. */
  abstract sync(owner: Procedure | null): bool;
  /** A sweep finished. */
  abstract sweepDone(now: f64): void;
  /** Releases every held packet (7.2 step 310). */
  abstract release(now: f64): void;
  /** Keeps on lo the addresses the sessions may still need. */
  abstract keepIdentities(owner: Procedure | null): void;
  /** True for a socket of the daemon itself (the watch knows them). */
  abstract isOwnSocket(s: SocketInfo): bool;
  /** Enters a quarantine in the tables (a new one, or one a clean stop saved). */
  abstract addQuarantine(q: Quarantine): void;
  /** True while a migration or a path validation is under way. */
  abstract proceduresUnderWay(): bool;
  /** The lost addresses whose sessions are not known yet (the watch's probes). */
  abstract lostAddresses(): Array<Address>;

  // What the migrator's and the non-migrator's procedures (migrator.ts, nonmigrator.ts) call.
  /** Sends the Migration Confirm for a reply's challenge and keeps it to answer repeated replies. */
  abstract confirm(peer: Peer, d: Decoded, dst: Address, src: Address | null, now: f64): void;
  /** The first half of a release (before the marking stops). */
  abstract releaseBefore(moves: Array<Move>): void;
  /** Lifts the peer's quarantine of `a`. */
  abstract unquarantine(a: Address, peer: Peer): void;
  /** A migration (migrator.ts Migration) ended. */
  abstract finished(mig: Procedure, now: f64): void;
  /** A migration's sock_diag probe (migrator.ts SessionProbe) ended. */
  abstract sessionsProbed(mig: Procedure, sockets: Array<SocketInfo>, ok: bool, now: f64): void;
  /** A path validation (nonmigrator.ts PathValidation) ends. */
  abstract dropValidation(v: Procedure): void;
  /** A path validation got no Confirm within the validation timeout. */
  abstract validationTimedOut(v: Procedure, now: f64): void;
}
