// What the address watch (watch.ts) and the kernel lifecycle (lifecycle.ts)
// see of the STEM module: its data plane (dataplane.ts: the move table, the
// renderer, the hold) and the calls they make of the migrator. stem.ts
// implements it; watch.ts and lifecycle.ts import only this file, so the
// module's files import each other in no circle.

import { Node, Procedure, RequestHandler } from "../engine/node";
import { Peer } from "../engine/peer";
import { Address } from "../engine/address";
import { SocketInfo } from "../kernel/rtnl";
import { Move, Quarantine } from "./move";
import { Dataplane } from "./nft";
import { Plane } from "./dataplane";

export abstract class StemBase extends RequestHandler {
  node: Node;
  /** The data plane (dataplane.ts): the move and quarantine tables, the rules, the hold, the sweep's schedule. */
  plane: Plane;

  constructor(node: Node) {
    super();
    this.node = node;
    this.plane = new Plane(node);
  }

  // The data plane's tables and calls, as the watch and the lifecycle use them.
  /** Every move (each knows its slot here, for removal in O(1); the order is not meaningful). */
  get moves(): Array<Move> { return this.plane.moves; }
  /** The local moves (ours), which the address watch and the hold look through. */
  get locals(): Array<Move> { return this.plane.locals; }
  get quarantines(): Array<Quarantine> { return this.plane.quarantines; }
  get dp(): Dataplane { return this.plane.dp; }
  get nextMoveId(): u32 { return this.plane.nextMoveId; }
  set nextMoveId(id: u32) { this.plane.nextMoveId = id; }
  /** A release was asked for while something else still held: it happens when that ends. */
  get releaseWaits(): bool { return this.plane.releaseWaits; }
  /** The kernel was set up: sock_diag can say which sessions a migration carries. */
  get kernelReady(): bool { return this.plane.kernelReady; }
  /** Data-plane batches queued so far: the watch tells by it whether a migration wrote the hold. */
  get syncs(): u32 { return this.plane.syncs; }
  /** Enters a move in the tables. */
  addMove(m: Move): void { this.plane.addMove(m); }
  /** Removes a move from the tables; its elements go with the next batch. */
  removeMove(m: Move): void { this.plane.removeMove(m); }
  /** Queues the elements that changed as one kernel action. */
  sync(owner: Procedure | null): bool { return this.plane.sync(owner); }
  /** A sweep finished. */
  sweepDone(now: f64): void { this.plane.sweepDone(now); }
  /** Releases every held packet (7.2 step 310). */
  release(now: f64): void { this.plane.release(now); }
  /** Keeps on lo the addresses the sessions may still need. */
  keepIdentities(owner: Procedure | null): void { this.plane.keepIdentities(owner); }
  /** Enters a quarantine in the tables (a new one, or one a clean stop saved). */
  addQuarantine(q: Quarantine): void { this.plane.addQuarantine(q); }

  // What the watch and the lifecycle call of the migrator and the non-migrator.
  /** Starts a migration (7.2): its id, or -error. */
  abstract migrate(now: f64, peer: Peer, protocols: u8, from: Address, fromPort: u32, to: Address, toPort: u32): i32;
  /** The local move that carries a session of `peer`, made if there is none (null: not one of ours to carry). */
  abstract sessionMove(peer: Peer, s: SocketInfo, now: f64): Move | null;
  /** True for a socket of the daemon itself (the watch knows them). */
  abstract isOwnSocket(s: SocketInfo): bool;
  /** True while a migration or a path validation is under way. */
  abstract proceduresUnderWay(): bool;
  /** A restart's unvalidated move: its validation goes on until `deadline`, then rolls back to `prev` (nonmigrator.ts resume). */
  abstract resumeValidation(m: Move, prev: Address, prevPort: u32, deadline: f64, now: f64): void;
  /** kernelSetup's rest, once the table's form is known (`earlier`: an earlier version's, lifecycle.ts Upgrade). */
  abstract kernelSetupAfterProbe(queue: u32, now: f64, earlier: bool, anew: bool): void;
  /** The lost addresses whose sessions are not known yet (the watch's probes). */
  abstract lostAddresses(): Array<Address>;

}
