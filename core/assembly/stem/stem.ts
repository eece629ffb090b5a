// STEM (docs/PROTOCOL.md section 7) as one module of the engine
// (engine/node.ts): a thin composition of its parts, which import each other
// in no circle (docs/ENGINE.md "STEM's files"):
//   the migrator (migrator.ts: our migrations and registrations),
//   the non-migrator (nonmigrator.ts: the peers' requests, path validations),
//   the data plane (dataplane.ts: moves, quarantines, rules, hold, sweep),
//   the address watch (watch.ts) and the kernel lifecycle (lifecycle.ts).
// This file wires them together and answers the engine (RequestHandler).

import { PROTOCOL_STEM } from "../generated/registry";
import { Address } from "../engine/address";
import { Node } from "../engine/node";
import { StemBase } from "./base";
import { Migrator } from "./migrator";
import { NonMigrator } from "./nonmigrator";
import { Peer, SecurityAssociation, CachedReply } from "../engine/peer";
import { Move } from "./move";
import { Watch } from "./watch";
import { PlaneHost, SWEEP_MS } from "./dataplane";
import { Restore, Sweep, Upgrade } from "./lifecycle";
import { SocketInfo } from "../kernel/rtnl";
import { NetlinkSummary } from "../kernel/nfqueue";
import { Decoded } from "../wire/decode";

/** What the data plane asks of the module: the address watch's state, and a sweep started. */
class StemPlaneHost extends PlaneHost {
  stem: Stem;
  constructor(stem: Stem) {
    super();
    this.stem = stem;
  }
  probing(): Array<Address> { return this.stem.watch.probing(); }
  anyProbing(): bool { return this.stem.watch.anyProbing(); }
  guarding(): bool { return this.stem.watch.guard; }
  hostAddresses(): Array<Address> { return this.stem.watch.locals; }
  startSweep(): void { new Sweep(this.stem).start(); }
}

// ---- the STEM module ----------------------------------------------------------

export class Stem extends StemBase {
  /** Address changes and sessions (stem/watch.ts). */
  watch: Watch = new Watch();
  /** Our migrations and registrations (7.2, 7.3). */
  migrator!: Migrator;
  /** The peers' requests and their path validations (7.3-7.5). */
  nonMigrator!: NonMigrator;

  constructor(node: Node) {
    super(node);
    this.plane.host = new StemPlaneHost(this);
    this.migrator = new Migrator(node, this.plane, this.watch);
    this.nonMigrator = new NonMigrator(node, this.plane);
    this.watch.attach(this);
    node.serve(PROTOCOL_STEM, this);
  }

  // ---- what the watch and the lifecycle call (StemBase) ----

  migrate(now: f64, peer: Peer, protocols: u8, from: Address, fromPort: u32, to: Address, toPort: u32): i32 {
    return this.migrator.migrate(now, peer, protocols, from, fromPort, to, toPort);
  }

  sessionMove(peer: Peer, s: SocketInfo, now: f64): Move | null {
    return this.migrator.sessionMove(peer, s, now);
  }

  isOwnSocket(s: SocketInfo): bool {
    return this.watch.isOwnSocket(s);
  }

  proceduresUnderWay(): bool {
    return this.migrator.migrations.length > 0 || this.nonMigrator.unsaveable();
  }

  resumeValidation(m: Move, prev: Address, prevPort: u32, deadline: f64, now: f64): void {
    this.nonMigrator.resume(m, prev, prevPort, deadline, now);
  }

  lostAddresses(): Array<Address> {
    return this.watch.probing();
  }

  // ---- the kernel ----

  /**
   * The kernel side, once at start (docs/dataplane.md section 2): what a
   * previous run left is read back first, then the data plane's table,
   * queue binding and hold rule, then the address watch.
   */
  kernelSetup(queue: u32, now: f64): void {
    this.plane.queue = queue;
    // First: is the table an earlier version's (rq4 an objref map of named
    // quotas)? Then this version's setup would fail on it (File exists), so
    // it is not sent: the restore's first batch makes the table anew in one
    // transaction, with the moves (Upgrade, lifecycle.ts).
    new Upgrade(this, queue, now).start();
  }

  /** The rest of kernelSetup, once Upgrade knows the table's form. */
  kernelSetupAfterProbe(queue: u32, now: f64, earlier: bool, anew: bool): void {
    // Read back what a previous run left (restored before the first render).
    const restore = new Restore(this);
    restore.earlier = earlier;
    restore.start();
    this.plane.setup(queue, this.watch.auto && this.watch.guard, anew);
    this.watch.start();
    this.plane.armSweep(now + SWEEP_MS);
  }

  /** Removes everything the node put in the kernel: rules, queue rule, identities, routes. */
  teardown(): void {
    this.plane.clear();
    this.watch.guard = false;
    this.plane.keepIdentities(null);
    this.watch.teardown();
    this.plane.teardown();
  }

  // ---- the engine's calls (RequestHandler) ----

  /** Every STEM request (Registration, Migration, Confirm) is the non-migrator's. */
  request(node: Node, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, now: f64): void {
    this.nonMigrator.request(node, peer, sa, cache, now);
  }

  /** A repeated Migration Reply is the migrator's (its Confirm was lost). */
  lateReply(node: Node, peer: Peer, d: Decoded, now: f64): bool {
    return this.migrator.lateReply(node, peer, d, now);
  }

  /** Our own addresses the host reported (its interfaces) and those we keep on lo. */
  isLocalAddress(a: Address): bool {
    return this.watch.isLocal(a) || this.plane.isIdentity(a);
  }

  kernelFailed(nft: bool): void {
    if (nft) this.plane.failed();
  }

  netlinkSeen(s: NetlinkSummary): void {
    this.plane.netlinkSeen(s);
  }
}
