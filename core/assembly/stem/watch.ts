// Finding what to migrate (issue: the migrator notices its address change by
// itself). The host forwards the kernel's address notifications; when an
// address that carries sessions disappears, the sessions are held at once
// (seed FIG. 3 step 305: "suspends transmission ... enqueues the packets"),
// the old address stays a local identity on lo, a last-resort route keeps
// packets reaching the hold, and as soon as another usable address of the
// same family exists, the sessions migrate to it (break-before-make). Sessions
// are found with sock_diag, as `ss` finds them.

import { Address } from "../engine/address";
import { Node, Procedure } from "../engine/node";
import { Peer } from "../engine/peer";
import { beginEvent, endEvent, bytesOf } from "../engine/output";
import { Move } from "./move";
import { Stem, cookieJson } from "./stem";
import {
  AddressEvent, SocketInfo, parseAddresses, parseSockets, addressDump, socketDump, fallbackRoute, requestPtr,
  IPPROTO_TCP, IPPROTO_UDP,
} from "../kernel/rtnl";
import { NETLINK_ROUTE, NETLINK_SOCK_DIAG } from "../kernel/netlink";
import { FAMILY_IPV4, FAMILY_IPV6 } from "../generated/registry";

const ESRCH: i32 = 3;
const EEXIST: i32 = 17;
const LOOPBACK: u32 = 1;

/** A local address lost while sessions used it, waiting for a replacement. */
class Loss {
  address: Address;
  peers: Array<Peer> = new Array<Peer>();
  /**
   * Until sock_diag has said which sessions used the address, every packet
   * from it is held (the tag chain's "lost" rule), and nothing is released:
   * its sessions' packets may already wait in the queue.
   */
  probing: bool = true;
  constructor(a: Address) {
    this.address = a.copy();
  }
}

/** The sock_diag dumps that tell which peers had sessions on a lost address. */
class SessionProbe extends Procedure {
  watch: Watch;
  loss: Loss;
  sockets: Array<SocketInfo> = new Array<SocketInfo>();
  protocols: Array<u8> = new Array<u8>();
  constructor(watch: Watch, loss: Loss) {
    super();
    this.watch = watch;
    this.loss = loss;
  }
  onKernelOutput(node: Node, p: usize, n: i32): void {
    const proto = this.protocols.length ? this.protocols.shift() : IPPROTO_TCP;
    parseSockets(p, n, proto, this.sockets);
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    this.watch.sessionsFound(this, now);
  }
}

/** The address dump at start (what the host has now). */
class AddressProbe extends Procedure {
  watch: Watch;
  constructor(watch: Watch) {
    super();
    this.watch = watch;
  }
  onKernelOutput(node: Node, p: usize, n: i32): void {
    this.watch.addressMessages(p, n, 0, true);
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    this.watch.stem.keepIdentities(null);
  }
}

export class Watch {
  private _stem: Stem | null = null;
  get stem(): Stem { return this._stem!; }
  get node(): Node { return this._stem!.node; }
  /** Migrate automatically when an address with sessions disappears. */
  auto: bool = true;
  /**
   * The guard (with auto): every usable address also on lo, a last-resort
   * route, and a hold for packets that only that route would carry, so that a
   * break loses nothing in the moments before the daemon reacts.
   */
  guard: bool = true;
  /** Usable global addresses of this host (not on lo). */
  locals: Array<Address> = new Array<Address>();
  losses: Array<Loss> = new Array<Loss>();
  /** Local ports of the host's UDP sockets that send control messages from a chosen address. */
  ownPorts: Set<u32> = new Set<u32>();
  /** The last sessions seen by sock_diag (for state). */
  sessions: Array<SocketInfo> = new Array<SocketInfo>();
  /** Whether our last-resort route is in place, per family (index 1, 2). */
  fallback: StaticArray<bool> = new StaticArray<bool>(3);
  private events: Array<AddressEvent> = new Array<AddressEvent>();

  /** Called once by the Stem that owns this watch. */
  attach(stem: Stem): void {
    this._stem = stem;
  }

  /** Asks the kernel for the addresses the host has now; puts the guard in place. */
  start(): void {
    if (this.auto && this.guard) {
      for (let f: u8 = FAMILY_IPV4; f <= FAMILY_IPV6; f++) this.setFallback(f, true);
    }
    const probe = new AddressProbe(this);
    for (let f: u8 = FAMILY_IPV4; f <= FAMILY_IPV6; f++) {
      const n = addressDump(f);
      this.node.netlinkAction(NETLINK_ROUTE, bytesOf(requestPtr(), n), probe);
    }
  }

  /** Address notifications (or dump replies) from the kernel. */
  addressMessages(p: usize, n: i32, now: f64, initial: bool): void {
    this.events.length = 0;
    parseAddresses(p, n, this.events);
    for (let i = 0; i < this.events.length; i++) {
      const e = this.events[i];
      if (e.ifindex == LOOPBACK) continue; // our own identities live there
      if (e.added && e.usable) this.added(e.address, now, initial);
      // A link-local or tentative address carries no sessions to migrate.
      else if (!e.added && e.usable) this.removed(e.address, now);
    }
  }

  /** True if a is a usable address on one of the host's interfaces (not only on lo). */
  isLocal(a: Address): bool {
    return this.indexOf(a) >= 0;
  }

  private indexOf(a: Address): i32 {
    for (let i = 0; i < this.locals.length; i++) if (this.locals[i].equals(a)) return i;
    return -1;
  }

  private added(a: Address, now: f64, initial: bool): void {
    if (this.indexOf(a) >= 0) return;
    this.locals.push(a.copy());
    if (initial) return;
    this.event("address-added", a, -1, now);
    if (this.guard) this.stem.keepIdentities(null);
    // A replacement for lost addresses of this family: migrate their sessions.
    for (let i = this.losses.length - 1; i >= 0; i--) {
      const l = this.losses[i];
      if (l.address.family != a.family || l.peers.length == 0) continue;
      this.losses.splice(i, 1);
      this.migrateLoss(l, a, now);
    }
  }

  private removed(a: Address, now: f64): void {
    const i = this.indexOf(a);
    if (i >= 0) this.locals.splice(i, 1);
    if (!this.auto) return;
    // Moves already away on this wire address: hold them now.
    const loss = new Loss(a);
    const moves = this.stem.moves;
    let held = 0;
    for (let j = 0; j < moves.length; j++) {
      const m = moves[j];
      if (!m.local || !m.wire.equals(a) || m.busy) continue;
      if (!m.held) held++;
      m.held = true;
      if (loss.peers.indexOf(m.peer) < 0) loss.peers.push(m.peer);
    }
    this.losses.push(loss);
    // Find the sessions still on it (sock_diag): asked first, since the
    // migration waits for the answer and the host runs kernel actions in order.
    const probe = new SessionProbe(this, loss);
    const protos: StaticArray<u8> = [IPPROTO_TCP, IPPROTO_UDP];
    for (let k = 0; k < 2; k++) {
      probe.protocols.push(protos[k]);
      const n = socketDump(a.family, protos[k]);
      this.node.netlinkAction(NETLINK_SOCK_DIAG, bytesOf(requestPtr(), n), probe);
    }
    // Hold everything from the lost address until the sessions are known.
    if (held) this.holdNow(a.family);
    else this.stem.sync(null);
    this.event("address-removed", a, held, now);
  }

  /** The dumps are in: hold the sessions on the lost address, per peer. */
  sessionsFound(probe: SessionProbe, now: f64): void {
    const loss = probe.loss;
    const a = loss.address;
    loss.probing = false;
    this.sessions = probe.sockets;
    const peers = this.node.peers;
    let held = 0;
    for (let i = 0; i < probe.sockets.length; i++) {
      const s = probe.sockets[i];
      if (!s.local.equals(a)) continue;
      for (let j = 0; j < peers.length; j++) {
        const p = peers[j];
        if (!p.sendSa()) continue;
        // The session's own move (its port and protocol), so that the move carries it and nothing else.
        const m = this.stem.sessionMove(p, s);
        if (!m || !m.wire.equals(a)) continue; // not a session with p, or already moved elsewhere
        if (!m.held && !m.busy) {
          m.held = true;
          held++;
        }
        if (loss.peers.indexOf(p) < 0) loss.peers.push(p);
      }
    }
    // The sessions' own hold replaces the lost address's.
    if (held) this.holdNow(a.family);
    else this.stem.sync(null);
    if (loss.peers.length == 0) {
      // Nothing of ours used it: forget it. What the guard holds stays held:
      // the queue is one, and packets of another lost address may wait there
      // for a migration that has not started yet (an interface going down
      // removes its IPv6 addresses at once, its IPv4 ones only when they are
      // flushed). Released now, they would leave by the last-resort route and
      // be lost; the sweep releases what nothing claims (Stem.sweepDone).
      const i = this.losses.indexOf(loss);
      if (i >= 0) this.losses.splice(i, 1);
      this.stem.keepIdentities(null);
      // A release that waited for this probe happens now.
      if (this.stem.releaseWaits) this.stem.release(now);
      return;
    }
    if (held) this.event("sessions-held", a, loss.peers.length, now);
    // A replacement may already be there.
    for (let i = this.locals.length - 1; i >= 0; i--) {
      const r = this.locals[i];
      if (r.family != a.family || r.equals(a)) continue;
      const k = this.losses.indexOf(loss);
      if (k >= 0) this.losses.splice(k, 1);
      this.migrateLoss(loss, r, now);
      return;
    }
  }

  /** True while some lost address's sessions are not known yet. */
  anyProbing(): bool {
    for (let i = 0; i < this.losses.length; i++) if (this.losses[i].probing) return true;
    return false;
  }

  /** Lost addresses whose sessions are not known yet (their packets are held). */
  probing(): Array<Address> {
    const list = new Array<Address>();
    for (let i = 0; i < this.losses.length; i++) if (this.losses[i].probing) list.push(this.losses[i].address);
    return list;
  }

  /** The daemon's own control sockets are no sessions: its port, and the ports of the sockets it sends from. */
  isOwnSocket(s: SocketInfo): bool {
    if (s.protocol != IPPROTO_UDP) return false;
    if (s.localPort == this.node.options.controlPort) return true;
    return this.ownPorts.has(s.localPort);
  }

  /** Puts the hold in place: rules, the identity on lo, the last-resort route. */
  private holdNow(family: u8): void {
    this.stem.keepIdentities(null);
    this.stem.sync(null);
    this.setFallback(family, true);
  }

  private setFallback(family: u8, on: bool): void {
    if (this.fallback[family] == on) return;
    this.fallback[family] = on;
    const n = fallbackRoute(on, family);
    this.node.netlinkAction(NETLINK_ROUTE, bytesOf(requestPtr(), n), null, true, on ? EEXIST : ESRCH);
  }

  /** Removes what the guard put in the kernel (at shutdown). */
  teardown(): void {
    for (let f: u8 = FAMILY_IPV4; f <= FAMILY_IPV6; f++) this.setFallback(f, false);
  }

  private migrateLoss(l: Loss, to: Address, now: f64): void {
    for (let i = 0; i < l.peers.length; i++) {
      const r = this.stem.migrate(now, l.peers[i], 0, l.address, 0, to, 0);
      if (r < 0) this.event("auto-migration-failed", l.address, -r, now);
    }
    this.maybeDropFallback(l.address.family);
  }

  /** Removes the last-resort route once no session of that family waits for an address (the guard keeps it). */
  maybeDropFallback(family: u8): void {
    if (!this.fallback[family] || (this.auto && this.guard)) return;
    for (let i = 0; i < this.losses.length; i++) if (this.losses[i].address.family == family && this.losses[i].peers.length) return;
    const moves = this.stem.moves;
    for (let i = 0; i < moves.length; i++) {
      const m = moves[i];
      if (m.local && m.orig.family == family && m.busy) return; // a migration still runs
    }
    this.setFallback(family, false);
  }

  private event(name: string, a: Address, count: i32, now: f64): void {
    const e = beginEvent(name, now);
    e.key("address");
    a.json(e);
    if (count >= 0) {
      e.key(name == "auto-migration-failed" ? "error" : "count");
      e.num(<u64>count);
    }
    this.node.emit(endEvent());
  }
}
