// Finding what to migrate (issue: the migrator notices its address change by
// itself). The host forwards the kernel's address notifications; when an
// address that carries sessions disappears, the sessions are held at once
// (seed FIG. 3 step 305: "suspends transmission ... enqueues the packets"),
// the old address stays a local identity on lo, a last-resort route keeps
// packets reaching the hold, and as soon as another usable address of the
// same family exists, the sessions migrate to it (break-before-make). Sessions
// are found with sock_diag, as `ss` finds them.

import { EEXIST, ENOENT, ESRCH, NETLINK_ROUTE, NETLINK_SOCK_DIAG, LOOPBACK_IFINDEX } from "../kernel/linux";
import { IPPROTO_TCP, IPPROTO_UDP } from "../generated/registry";
import { Address } from "../engine/address";
import { Node, Procedure } from "../engine/node";
import { Peer } from "../engine/peer";
import { beginEvent, endEvent, bytesOf } from "../engine/output";
import { StemBase } from "./base";
import { AddressEvent, RouteEvent, SocketInfo, parseAddresses, parseRoutes, parseSockets, addressDump, routeDump, socketDump, fallbackRoute, sourceRoute, sourceRule, requestPtr } from "../kernel/rtnl";

import { FAMILY_IPV4, FAMILY_IPV6, DEFAULT_AUTO, DEFAULT_GUARD, DEFAULT_FOLLOW_DEFAULT_ROUTE } from "../generated/registry";


/**
 * A source route the watch keeps for an address: put in while its link has
 * the default route, kept after the default route left while sessions may
 * still send from it (docs/dataplane.md section 4).
 */
class KeptPath {
  address: Address;
  ifindex: u32;
  gateway: Address;
  constructor(a: Address, ifindex: u32, gateway: Address) {
    this.address = a.copy();
    this.ifindex = ifindex;
    this.gateway = gateway.copy();
  }
}

/** The route dumps at start: where the default routes are now. */
class RouteProbe extends Procedure {
  watch: Watch;
  replies: Array<StaticArray<u8>> = new Array<StaticArray<u8>>();
  constructor(watch: Watch) {
    super();
    this.watch = watch;
  }
  onKernelOutput(node: Node, p: usize, n: i32): void {
    this.replies.push(bytesOf(p, n));
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    for (let i = 0; i < this.replies.length; i++) {
      const b = this.replies[i];
      this.watch.routeMessages(changetype<usize>(b), b.length, now, true);
    }
  }
}

/** followDefaultRoute: the sock_diag dumps that tell which peers have sessions on the address the default route left. */
class FollowProbe extends Procedure {
  watch: Watch;
  from: Address;
  to: Address;
  sockets: Array<SocketInfo> = new Array<SocketInfo>();
  protocols: Array<u8> = new Array<u8>();
  constructor(watch: Watch, from: Address, to: Address) {
    super();
    this.watch = watch;
    this.from = from.copy();
    this.to = to.copy();
  }
  onKernelOutput(node: Node, p: usize, n: i32): void {
    const proto = this.protocols.length ? this.protocols.shift() : IPPROTO_TCP;
    parseSockets(p, n, proto, this.sockets);
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    this.watch.follow(this, now);
  }
}

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
  /**
   * Peers whose known moves (sessions already away on this address) were
   * migrated when a replacement appeared before the dump's answer: migrated
   * again by that answer only for sessions the dump found on the address.
   */
  early: Array<Peer> = new Array<Peer>();
  /** Early migrations whose batch is not in yet: the dumps wait for their requests (Watch.applied). */
  earlyPending: i32 = 0;
  probe: SessionProbe | null = null;
  constructor(a: Address) {
    this.address = a.copy();
  }
}

/**
 * The sock_diag dumps that tell which peers had sessions on a lost address,
 * asked once the lost address's hold is written (its batch's result): a
 * replacement notified meanwhile starts the known moves' migration before
 * the dumps, which walk the kernel's whole TCP hash (Watch.added).
 */
class SessionProbe extends Procedure {
  watch: Watch;
  loss: Loss;
  asked: bool = false;
  /** The hold is in; the dumps wait for an early migration's request to leave first. */
  ready: bool = false;
  sockets: Array<SocketInfo> = new Array<SocketInfo>();
  protocols: Array<u8> = new Array<u8>();
  constructor(watch: Watch, loss: Loss) {
    super();
    this.watch = watch;
    this.loss = loss;
  }
  onKernelOutput(node: Node, p: usize, n: i32): void {
    if (!this.asked) return; // the hold's batch
    const proto = this.protocols.length ? this.protocols.shift() : IPPROTO_TCP;
    parseSockets(p, n, proto, this.sockets);
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    // The hold is in (or failed: the sessions are still to be found): the dumps,
    // after the requests of migrations started meanwhile (Watch.added).
    if (this.asked) this.watch.sessionsFound(this, now);
    else if (this.loss.earlyPending > 0) this.ready = true;
    else this.watch.askSessions(this);
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
  private _stem: StemBase | null = null;
  get stem(): StemBase { return this._stem!; }
  get node(): Node { return this._stem!.node; }
  /** Migrate automatically when an address with sessions disappears. */
  auto: bool = DEFAULT_AUTO;
  /**
   * The guard (with auto): every usable address also on lo, a last-resort
   * route, and a hold for packets that only that route would carry, so that a
   * break loses nothing in the moments before the daemon reacts.
   */
  guard: bool = DEFAULT_GUARD;
  /** Usable global addresses of this host (not on lo). */
  locals: Array<Address> = new Array<Address>();
  /** The interface of each of `locals`. */
  localLinks: Array<u32> = new Array<u32>();
  /**
   * Migrate by itself, make-before-break, when the default route moves to
   * another link (option followDefaultRoute; with auto).
   */
  followDefaultRoute: bool = DEFAULT_FOLLOW_DEFAULT_ROUTE;
  /** The main table's default routes now. */
  defaults: Array<RouteEvent> = new Array<RouteEvent>();
  /** The last gateway seen on each link, per family (kept after its route went). */
  gateways: Array<RouteEvent> = new Array<RouteEvent>();
  /** The link of the preferred default route, per family (index 1, 2; 0: none). */
  defaultLink: StaticArray<u32> = new StaticArray<u32>(3);
  /** Source routes in place (see KeptPath). */
  kept: Array<KeptPath> = new Array<KeptPath>();
  private routeEvents: Array<RouteEvent> = new Array<RouteEvent>();
  losses: Array<Loss> = new Array<Loss>();
  /** Local ports of the host's UDP sockets that send control messages from a chosen address. */
  ownPorts: Set<u32> = new Set<u32>();
  /** The last sessions seen by sock_diag (for state). */
  sessions: Array<SocketInfo> = new Array<SocketInfo>();
  /** Whether our last-resort route is in place, per family (index 1, 2). */
  fallback: StaticArray<bool> = new StaticArray<bool>(3);
  private events: Array<AddressEvent> = new Array<AddressEvent>();

  /** Called once by the Stem that owns this watch. */
  attach(stem: StemBase): void {
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
    const routes = new RouteProbe(this);
    for (let f: u8 = FAMILY_IPV4; f <= FAMILY_IPV6; f++) {
      const n = routeDump(f);
      this.node.netlinkAction(NETLINK_ROUTE, bytesOf(requestPtr(), n), routes);
    }
  }

  /** Notifications from the kernel: addresses and routes. */
  kernelMessages(p: usize, n: i32, now: f64): void {
    this.addressMessages(p, n, now, false);
    this.routeMessages(p, n, now, false);
  }

  /** Address notifications (or dump replies) from the kernel. */
  addressMessages(p: usize, n: i32, now: f64, initial: bool): void {
    this.events.length = 0;
    parseAddresses(p, n, this.events);
    for (let i = 0; i < this.events.length; i++) {
      const e = this.events[i];
      if (e.ifindex == LOOPBACK_IFINDEX) continue; // our own identities live there
      if (e.added && e.usable) this.added(e.address, now, initial, e.ifindex);
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

  private added(a: Address, now: f64, initial: bool, ifindex: u32): void {
    if (this.indexOf(a) >= 0) return;
    this.locals.push(a.copy());
    this.localLinks.push(ifindex);
    if (this.defaultLink[a.family] == ifindex) {
      const gw = this.gatewayOf(a.family, ifindex);
      if (gw && this.auto) this.keepPath(a, ifindex, gw, now);
    }
    if (initial) return;
    this.event("address-added", a, -1, now);
    if (this.guard) this.stem.keepIdentities(null);
    // A replacement for lost addresses of this family: migrate their sessions.
    // While a loss's sessions are still being found, the moves already known
    // on it (held since the loss) go now, before the dumps (the hold's batch
    // asks for them when it is in: SessionProbe), which walk the kernel's whole
    // TCP hash; the dumps' answer migrates only sessions no migration carries
    // (sessionsFound), so that none is asked for twice.
    for (let i = this.losses.length - 1; i >= 0; i--) {
      const l = this.losses[i];
      if (l.address.family != a.family || l.peers.length == 0) continue;
      if (l.probing) {
        for (let j = 0; j < l.peers.length; j++) {
          const p = l.peers[j];
          if (l.early.indexOf(p) >= 0) continue;
          l.early.push(p);
          const syncs = this.stem.syncs;
          const r = this.stem.migrate(now, p, 0, l.address, 0, a, 0);
          if (r < 0) this.event("auto-migration-failed", l.address, -r, now);
          else if (this.stem.syncs != syncs) l.earlyPending++; // its batch is queued: applied() follows
        }
        continue;
      }
      this.losses.splice(i, 1);
      this.migrateLoss(l, a, now);
    }
  }

  private removed(a: Address, now: f64): void {
    const i = this.indexOf(a);
    if (i >= 0) {
      this.locals.splice(i, 1);
      this.localLinks.splice(i, 1);
    }
    for (let k = this.kept.length - 1; k >= 0; k--) {
      if (this.kept[k].address.equals(a)) this.releasePath(k, now);
    }
    if (!this.auto) return;
    // Moves already away on this wire address: hold them now.
    const loss = new Loss(a);
    const moves = this.stem.locals;
    let held = 0;
    for (let j = 0; j < moves.length; j++) {
      const m = moves[j];
      if (!m.local || !m.wire.equals(a) || m.busy) continue;
      if (!m.held) held++;
      m.held = true;
      if (loss.peers.indexOf(m.peer) < 0) loss.peers.push(m.peer);
    }
    this.losses.push(loss);
    // Hold everything from the lost address until the sessions are known:
    // first, since the host runs kernel actions in order and a TCP dump walks
    // the kernel's whole socket hash (~2 ms at 262,144 buckets): packets from
    // the address sent meanwhile would leave by a new default route, and a
    // filtering router drops them (a retransmission round trip later).
    // Then find the sessions still on it (sock_diag), once that batch is in.
    const probe = new SessionProbe(this, loss);
    loss.probe = probe;
    if (held) this.holdNow(a.family, probe);
    else this.stem.sync(probe);
    this.event("address-removed", a, held, now);
  }

  /** A migration's batch is in and its request left (or it failed): a lost address's dumps may follow. */
  applied(from: Address): void {
    for (let i = 0; i < this.losses.length; i++) {
      const l = this.losses[i];
      if (!l.probing || l.earlyPending == 0 || !l.address.equals(from)) continue;
      l.earlyPending--;
      const probe = l.probe;
      if (l.earlyPending == 0 && probe && probe.ready) this.askSessions(probe);
    }
  }

  /** The lost address's hold is written: the dumps of its sessions (sessionsFound). */
  askSessions(probe: SessionProbe): void {
    probe.asked = true;
    const protos: StaticArray<u8> = [IPPROTO_TCP, IPPROTO_UDP];
    for (let k = 0; k < 2; k++) {
      probe.protocols.push(protos[k]);
      const n = socketDump(probe.loss.address.family, protos[k]);
      this.node.netlinkAction(NETLINK_SOCK_DIAG, bytesOf(requestPtr(), n), probe);
    }
  }

  /** The dumps are in: hold the sessions on the lost address, per peer. */
  sessionsFound(probe: SessionProbe, now: f64): void {
    const loss = probe.loss;
    const a = loss.address;
    loss.probing = false;
    this.sessions = probe.sockets;
    const peers = this.node.peers;
    let held = 0;
    // Peers with sessions on the address that no migration carries yet (an early one carried the known moves).
    const found = new Array<Peer>();
    for (let i = 0; i < probe.sockets.length; i++) {
      const s = probe.sockets[i];
      if (!s.local.equals(a)) continue;
      for (let j = 0; j < peers.length; j++) {
        const p = peers[j];
        if (!p.sendSa()) continue;
        // The session's own move (its port and protocol), so that the move carries it and nothing else.
        const m = this.stem.sessionMove(p, s, now);
        if (!m || !m.wire.equals(a)) continue; // not a session with p, or already moved elsewhere
        if (!m.held && !m.busy) {
          m.held = true;
          held++;
        }
        if (loss.peers.indexOf(p) < 0) loss.peers.push(p);
        if (!m.busy && found.indexOf(p) < 0) found.push(p);
      }
    }
    if (loss.early.length) {
      const rest = new Array<Peer>();
      for (let i = 0; i < loss.peers.length; i++) {
        const p = loss.peers[i];
        if (loss.early.indexOf(p) < 0 || found.indexOf(p) >= 0) rest.push(p);
      }
      loss.peers = rest;
    }
    // A replacement may already be there (its notification was read while the dump ran).
    let replacement: Address | null = null;
    for (let i = this.locals.length - 1; i >= 0; i--) {
      const r = this.locals[i];
      if (r.family != a.family || r.equals(a)) continue;
      replacement = r;
      break;
    }
    if (replacement && loss.peers.length) {
      // The migrations' own batches put the sessions' hold in place with their rules (one batch, not two).
      if (held) this.event("sessions-held", a, loss.peers.length, now);
      this.setFallback(a.family, true);
      const k = this.losses.indexOf(loss);
      if (k >= 0) this.losses.splice(k, 1);
      const syncs = this.stem.syncs;
      // A migration that did not start (or found one under way) wrote nothing: the hold goes in by itself.
      if (!this.migrateLoss(loss, replacement, now) || this.stem.syncs == syncs) this.stem.sync(null);
      // An early migration's reply that came during the dumps waited for them.
      if (this.stem.releaseWaits) this.stem.release(now);
      return;
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
  private holdNow(family: u8, owner: Procedure | null = null): void {
    this.stem.keepIdentities(null);
    this.stem.sync(owner);
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
    for (let k = this.kept.length - 1; k >= 0; k--) this.releasePath(k, -1);
  }

  // ---- the default route, and the paths of addresses it left ----

  /** Route notifications (or dump replies): follows the main table's default routes, per family. */
  routeMessages(p: usize, n: i32, now: f64, initial: bool): void {
    this.routeEvents.length = 0;
    parseRoutes(p, n, this.routeEvents);
    if (this.routeEvents.length == 0) return;
    for (let i = 0; i < this.routeEvents.length; i++) {
      const e = this.routeEvents[i];
      const family = e.gateway.family;
      if (e.added) {
        this.rememberGateway(e);
        for (let j = this.defaults.length - 1; j >= 0; j--) {
          const d = this.defaults[j];
          if (d.gateway.family != family || d.metric != e.metric) continue;
          if (e.replace || (d.ifindex == e.ifindex && d.gateway.equals(e.gateway))) this.defaults.splice(j, 1);
        }
        this.defaults.push(e);
      } else {
        for (let j = this.defaults.length - 1; j >= 0; j--) {
          const d = this.defaults[j];
          if (d.gateway.family == family && d.metric == e.metric && d.ifindex == e.ifindex) this.defaults.splice(j, 1);
        }
      }
    }
    for (let f: u8 = FAMILY_IPV4; f <= FAMILY_IPV6; f++) {
      let best: RouteEvent | null = null;
      for (let j = 0; j < this.defaults.length; j++) {
        const d = this.defaults[j];
        if (d.gateway.family == f && (best == null || d.metric < best.metric)) best = d;
      }
      const link = best ? best.ifindex : 0;
      const was = this.defaultLink[f];
      this.defaultLink[f] = link;
      if (link != was && !initial && was != 0 && link != 0) this.defaultMoved(f, was, link, now);
      if (best) this.keepPathsOn(f, link, best.gateway, now);
    }
  }

  /**
   * The addresses on the default route's link get their path through it in
   * advance (the same way the main table routes them now), so that when the
   * default route moves away, the sessions on them lose not one packet in
   * the moments before the daemon hears of it.
   */
  private keepPathsOn(family: u8, ifindex: u32, gateway: Address, now: f64): void {
    if (!this.auto) return;
    for (let i = 0; i < this.locals.length; i++) {
      if (this.locals[i].family == family && this.localLinks[i] == ifindex) this.keepPath(this.locals[i], ifindex, gateway, now);
    }
  }

  private rememberGateway(e: RouteEvent): void {
    for (let i = 0; i < this.gateways.length; i++) {
      const g = this.gateways[i];
      if (g.ifindex == e.ifindex && g.gateway.family == e.gateway.family) {
        g.gateway.set(e.gateway);
        return;
      }
    }
    const g = new RouteEvent();
    g.ifindex = e.ifindex;
    g.gateway.set(e.gateway);
    this.gateways.push(g);
  }

  private gatewayOf(family: u8, ifindex: u32): Address | null {
    for (let i = 0; i < this.gateways.length; i++) {
      const g = this.gateways[i];
      if (g.ifindex == ifindex && g.gateway.family == family) return g.gateway;
    }
    return null;
  }

  /**
   * The default route of `family` moved from link `from` to link `to`. The
   * addresses on `from` keep the path through it they were given while it
   * had the default route (keepPathsOn), so that sessions still sending from
   * them are not routed out of the wrong link, where a filtering router drops
   * them; with followDefaultRoute, their sessions migrate to an address on
   * `to`, make-before-break.
   */
  private defaultMoved(family: u8, from: u32, to: u32, now: f64): void {
    if (!this.auto) return;
    let target: Address | null = null;
    for (let i = 0; i < this.locals.length; i++) {
      if (this.locals[i].family == family && this.localLinks[i] == to) {
        target = this.locals[i];
        break;
      }
    }
    for (let i = 0; i < this.locals.length; i++) {
      const a = this.locals[i];
      if (a.family != family || this.localLinks[i] != from) continue;
      if (this.followDefaultRoute && target) {
        const probe = new FollowProbe(this, a, target);
        const protos: StaticArray<u8> = [IPPROTO_TCP, IPPROTO_UDP];
        for (let k = 0; k < 2; k++) {
          probe.protocols.push(protos[k]);
          const n = socketDump(family, protos[k]);
          this.node.netlinkAction(NETLINK_SOCK_DIAG, bytesOf(requestPtr(), n), probe);
        }
      }
    }
  }

  private keepPath(a: Address, ifindex: u32, gateway: Address, now: f64): void {
    for (let k = 0; k < this.kept.length; k++) {
      const p = this.kept[k];
      if (!p.address.equals(a)) continue;
      if (p.ifindex == ifindex && p.gateway.equals(gateway)) return;
      this.releasePath(k, -1); // its link or gateway changed: put it in again
      break;
    }
    this.kept.push(new KeptPath(a, ifindex, gateway));
    // The route first, then the rules that lead to it: the main table's specific routes, then the link's default.
    const r = sourceRoute(true, gateway, ifindex);
    this.node.netlinkAction(NETLINK_ROUTE, bytesOf(requestPtr(), r), null, true, EEXIST);
    for (let k = 0; k < 2; k++) {
      const n = sourceRule(true, a, ifindex, k == 0);
      this.node.netlinkAction(NETLINK_ROUTE, bytesOf(requestPtr(), n), null, true, EEXIST);
    }
    this.pathEvent(a, ifindex, "kept", now);
  }

  /** Removes a kept path: its rule, and its link's route once no other kept address uses it. now < 0: no event. */
  private releasePath(k: i32, now: f64): void {
    const p = this.kept[k];
    this.kept.splice(k, 1);
    for (let k = 1; k >= 0; k--) {
      const n = sourceRule(false, p.address, p.ifindex, k == 0);
      this.node.netlinkAction(NETLINK_ROUTE, bytesOf(requestPtr(), n), null, true, ENOENT);
    }
    let shared = false;
    for (let j = 0; j < this.kept.length; j++) if (this.kept[j].ifindex == p.ifindex && this.kept[j].gateway.family == p.gateway.family) shared = true;
    if (!shared) {
      const r = sourceRoute(false, p.gateway, p.ifindex);
      this.node.netlinkAction(NETLINK_ROUTE, bytesOf(requestPtr(), r), null, true, ESRCH);
    }
    if (now >= 0) this.pathEvent(p.address, p.ifindex, "released", now);
  }

  /**
   * A migration away from `a` completed: once no session of ours sends from
   * it any more (no local move is on it), its kept path goes.
   */
  leftAddress(a: Address, now: f64): void {
    const moves = this.stem.locals;
    for (let i = 0; i < moves.length; i++) {
      const m = moves[i];
      if (m.local && (m.wire.equals(a) || (m.busy && m.orig.equals(a)))) return;
    }
    for (let k = this.kept.length - 1; k >= 0; k--) {
      if (this.kept[k].address.equals(a)) this.releasePath(k, now);
    }
  }

  /** followDefaultRoute: the sessions on the left address are known; migrate each peer's. */
  follow(probe: FollowProbe, now: f64): void {
    const a = probe.from;
    if (!this.isLocal(a) || !this.isLocal(probe.to)) return; // things changed meanwhile
    const peers = new Array<Peer>();
    const moves = this.stem.locals;
    // Sessions already moved once and now on `a`.
    for (let i = 0; i < moves.length; i++) {
      const m = moves[i];
      if (m.local && m.wire.equals(a) && !m.busy && peers.indexOf(m.peer) < 0) peers.push(m.peer);
    }
    // Sessions whose socket is on `a` and that no move carries elsewhere.
    const all = this.node.peers;
    for (let i = 0; i < probe.sockets.length; i++) {
      const s = probe.sockets[i];
      if (!s.local.equals(a) || this.isOwnSocket(s)) continue;
      for (let j = 0; j < all.length; j++) {
        const p = all[j];
        if (!p.sendSa() || peers.indexOf(p) >= 0 || !p.owns(s.remote, now)) continue;
        let elsewhere = false;
        for (let k = 0; k < moves.length; k++) {
          const m = moves[k];
          if (m.local && m.peer == p && m.orig.equals(a) && !m.wire.equals(a)) elsewhere = true;
        }
        if (!elsewhere) peers.push(p);
      }
    }
    for (let i = 0; i < peers.length; i++) {
      const r = this.stem.migrate(now, peers[i], 0, a, 0, probe.to, 0);
      if (r < 0) this.event("auto-migration-failed", a, -r, now);
    }
  }

  private pathEvent(a: Address, ifindex: u32, state: string, now: f64): void {
    const e = beginEvent("source-route", now);
    e.key("state");
    e.str(state);
    e.key("address");
    a.json(e);
    e.key("link");
    e.num(ifindex);
    this.node.emit(endEvent());
  }

  /** Migrates a lost address's sessions, peer by peer; false if one of the migrations did not start. */
  private migrateLoss(l: Loss, to: Address, now: f64): bool {
    let all = true;
    for (let i = 0; i < l.peers.length; i++) {
      const r = this.stem.migrate(now, l.peers[i], 0, l.address, 0, to, 0);
      if (r < 0) {
        this.event("auto-migration-failed", l.address, -r, now);
        all = false;
      }
    }
    this.maybeDropFallback(l.address.family);
    return all;
  }

  /** Removes the last-resort route once no session of that family waits for an address (the guard keeps it). */
  maybeDropFallback(family: u8): void {
    if (!this.fallback[family] || (this.auto && this.guard)) return;
    for (let i = 0; i < this.losses.length; i++) if (this.losses[i].address.family == family && this.losses[i].peers.length) return;
    const moves = this.stem.locals;
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
