// STEM: the migrator and non-migrator procedures of docs/PROTOCOL.md
// section 7, on top of the engine (engine/node.ts) and the data plane
// (stem/nft.ts, kernel/netlink.ts).

import {
  EADDRNOTAVAIL, EEXIST, ENOENT, LOOPBACK_IFINDEX, NETLINK_NETFILTER, NETLINK_ROUTE, TCP_LISTEN,
} from "../kernel/linux";
import { IPPROTO_TCP, IPPROTO_UDP, PROTOCOL_STEM } from "../generated/registry";
import { Address } from "../engine/address";
import { Node, Procedure } from "../engine/node";
import { StemBase, MSG } from "./base";
import { OpaqueItem, SessionProbe, Migration, Registration, migrationEvent } from "./migrator";
import { PathValidation, peerMovedEvent } from "./nonmigrator";
import { MigratorState, MigratorEvent, NonMigratorEvent } from "./states";
import { Peer, SecurityAssociation, CachedReply, REPLY_RESEND_GAP_MS } from "../engine/peer";
import { Timer } from "../engine/timers";
import { bytesOf, beginEvent, endEvent } from "../engine/output";
import { Move, Quarantine, QuarantineSink, heldCount, forgetMoves } from "./move";
import { Watch } from "./watch";
import { Plane, PlaneHost, SWEEP_MS } from "./dataplane";
import { Restore, Sweep } from "./lifecycle";
import { SocketInfo } from "../kernel/rtnl";
import { addressMessage, messagePtr } from "../kernel/netlink";
import { queueConfig, queueRuleBatch, verdictBatch, bufferPtr, NetlinkSummary, DEFAULT_QUEUE } from "../kernel/nfqueue";
import { Decoded } from "../wire/decode";
import {
  extType, lifetimeSeconds, opaqueSubtype, opaqueFlags, opaqueDataPtr, opaqueDataLength,
  endpointsProtocols, endpointsPortA, endpointsPortB, endpointsAddressA, endpointsAddressB,
} from "../wire/fields";
import { drbg } from "../crypto/drbg";
import { ctEqual } from "../crypto/ct";
import { cookieJson, codeJson } from "./events";
import {
  MAX_MESSAGE_LENGTH, MSG_REGISTRATION_REQUEST, MSG_MIGRATION_REQUEST, MSG_MIGRATION_CONFIRM, EXT_MIGRATION,
  EXT_PATH_CHALLENGE, EXT_PATH_RESPONSE, EXT_LIFETIME, EXT_OPAQUE_DATA, CODE_ACCEPTED,
  CODE_ADMINISTRATIVELY_PROHIBITED, CODE_INSUFFICIENT_RESOURCES, CODE_POORLY_FORMED_REQUEST,
  CODE_ADDRESS_NOT_ALLOWED, CODE_TOO_MANY_PENDING, ERR_BUSY, ERR_KERNEL, ERR_BAD_ADDRESS, ERR_UNKNOWN_PEER,
  ERR_INVALID_ARGUMENT, PROTO_TCP, PROTO_UDP, opaqueSubtypeName,
} from "../generated/registry";

const TOKEN = memory.data(8);
const COOKIE = memory.data(8);
const RECENT_MS: f64 = 30000;
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

/** A Migration Confirm sent, kept to answer repeated replies (section 7.2) until its timer ends it. */
class SentConfirm extends Timer {
  stem: Stem;
  peer: Peer;
  seq: u32;
  replayLo: u32;
  bytes: StaticArray<u8>;
  dst: Address;
  dstPort: u32;
  src: Address | null;
  expires: f64;
  lastSent: f64;
  constructor(stem: Stem, peer: Peer, seq: u32, replayLo: u32, bytes: StaticArray<u8>, dst: Address, dstPort: u32, src: Address | null, now: f64) {
    super();
    this.stem = stem;
    this.peer = peer;
    this.seq = seq;
    this.replayLo = replayLo;
    this.bytes = bytes;
    this.dst = dst.copy();
    this.dstPort = dstPort;
    this.src = src ? src.copy() : null;
    this.expires = now + RECENT_MS;
    this.lastSent = now;
  }
  fire(now: f64): void {
    const list = this.stem.confirms;
    const i = list.indexOf(this);
    if (i >= 0) list.splice(i, 1);
  }
}

// ---- the STEM module ----------------------------------------------------------

export class Stem extends StemBase {
  migrations: Array<Migration> = new Array<Migration>();
  validations: Array<PathValidation> = new Array<PathValidation>();
  confirms: Array<SentConfirm> = new Array<SentConfirm>();
  nextMigrationId: u32 = 1;
  /** Opaque data for the next request the application starts. */
  pendingOpaque: Array<OpaqueItem> = new Array<OpaqueItem>();
  /** Address changes and sessions (stem/watch.ts). */
  watch: Watch = new Watch();

  constructor(node: Node) {
    super(node);
    this.plane.host = new StemPlaneHost(this);
    this.watch.attach(this);
    node.serve(PROTOCOL_STEM, this);
  }

  // ---- application API ----

  addOpaque(subtype: u32, flags: u32, p: usize, n: i32): void {
    const o = new OpaqueItem();
    o.subtype = subtype;
    o.flags = flags;
    o.data = bytesOf(p, n);
    this.pendingOpaque.push(o);
  }

  private takeOpaque(): Array<OpaqueItem> {
    const o = this.pendingOpaque;
    this.pendingOpaque = new Array<OpaqueItem>();
    return o;
  }

  register(now: f64, peer: Peer, lifetime: u32): i32 {
    const r = new Registration(this, peer, lifetime, this.takeOpaque());
    return this.node.sendRequest(now, peer, MSG_REGISTRATION_REQUEST, 0, r, peer.control, peer.controlPort, null) ? 0 : -ERR_INVALID_ARGUMENT;
  }

  /**
   * Registers with every peer that has a security association (seed FIG. 3
   * step 302). A daemon does this when it starts: its sequence numbers start
   * afresh, and a registration is what opens a new epoch at the peer
   * (docs/PROTOCOL.md section 6.3), so that its next migration is not taken
   * for a replay.
   */
  registerAll(now: f64): void {
    const peers = this.node.peers;
    for (let i = 0; i < peers.length; i++) {
      if (peers[i].sendSa()) this.register(now, peers[i], <u32>this.node.options.registrationLifetimeS);
    }
  }

  /**
   * Moves our sessions with peer from wire address `from` (port fromPort, 0 =
   * all) to `to` (section 7.2). Returns the migration id or a negated error.
   */
  migrate(now: f64, peer: Peer, protocols: u8, from: Address, fromPort: u32, to: Address, toPort: u32): i32 {
    if (!to.isUsableUnicast() || to.family != from.family) return -ERR_BAD_ADDRESS;
    if ((fromPort == 0) != (toPort == 0)) return -ERR_INVALID_ARGUMENT;
    if (!peer.sendSa()) return -ERR_UNKNOWN_PEER;
    // The moves this migration changes: ours with this peer now at `from`.
    const moves = new Array<Move>();
    const own = this.plane.peerList(peer);
    for (let i = 0; i < own.length; i++) {
      const m = own[i];
      if (!m.local || m.peer != peer || !m.wire.equals(from)) continue;
      if (fromPort != 0 && m.wirePort != fromPort) continue;
      if (protocols != 0 && m.protocols != 0 && m.protocols != protocols) continue;
      if (m.busy) return -ERR_BUSY;
      moves.push(m);
    }
    if (moves.length == 0) {
      // Already on their way (an automatic migration started first), or there.
      for (let i = 0; i < own.length; i++) {
        const m = own[i];
        if (!m.local || m.peer != peer || !m.orig.equals(from) || !m.wire.equals(to)) continue;
        const busy = m.busy;
        if (busy && busy.migrationId() >= 0) return busy.migrationId();
        return this.alreadyThere(peer, from, to, now);
      }
      for (let i = 0; i < this.migrations.length; i++) {
        const q = this.migrations[i];
        if (q.state == MigratorState.PROBING && q.peer == peer && q.from.equals(from) && q.to.equals(to)) return <i32>q.id;
      }
      if (fromPort == 0 && this.plane.kernelReady) {
        // First migration of these sessions, all ports: carry the sessions
        // that exist (sock_diag), port by port, so that new connections from
        // the new address are not taken for them (PROTOCOL.md 7.1).
        const mig = new Migration(this.nextMigrationId++, this, peer, moves, to, 0, now, this.takeOpaque());
        mig.step(MigratorEvent.PROBE);
        mig.from = from.copy();
        mig.protocols = protocols;
        this.migrations.push(mig);
        new SessionProbe(this, mig).start();
        return <i32>mig.id;
      }
      // First migration of these sessions on one port (or with no kernel to ask): `from` is their original address.
      moves.push(this.localMove(peer, from, fromPort, protocols));
    }
    const mig = new Migration(this.nextMigrationId++, this, peer, moves, to, toPort, now, this.takeOpaque());
    mig.from = from.copy();
    this.migrations.push(mig);
    return this.begin(mig, fromPort, now);
  }

  /** A new local move of our sessions with peer at `orig` (port 0: every port). */
  localMove(peer: Peer, orig: Address, port: u32, protocols: u8): Move {
    const m = new Move(this.plane.nextMoveId++, peer, true, orig, port);
    m.protocols = protocols;
    m.scope = peer.ownedAddresses();
    this.plane.addMove(m);
    return m;
  }

  /** The local move of the sessions on `orig` port `port` with `peer`, for one protocol, if any. */
  findLocal(peer: Peer, orig: Address, port: u32, protocols: u8): Move | null {
    const moves = this.plane.peerList(peer);
    for (let i = 0; i < moves.length; i++) {
      const m = moves[i];
      if (m.local && m.peer == peer && m.orig.equals(orig) && m.origPort == port && m.protocols == protocols) return m;
    }
    return null;
  }

  /**
   * The local move for a socket on a lost or migrating address, if the
   * socket is one of our sessions with the peer: one move per local port and
   * protocol (PROTOCOL.md 7.1), created if needed. Null if it is not a session.
   */
  sessionMove(peer: Peer, s: SocketInfo, now: f64): Move | null {
    if (this.watch.isOwnSocket(s)) return null;
    // A listener carries no packets; its accepted sockets are the sessions.
    if (s.protocol == IPPROTO_TCP && s.state == TCP_LISTEN) return null;
    // A connected socket names its peer; an unconnected UDP socket may talk to any.
    const unconnected = s.protocol == IPPROTO_UDP && s.remotePort == 0;
    if (!unconnected && !peer.owns(s.remote, now)) return null;
    const proto: u8 = s.protocol == IPPROTO_UDP ? PROTO_UDP : PROTO_TCP;
    const m = this.findLocal(peer, s.local, s.localPort, proto);
    return m ? m : this.localMove(peer, s.local, s.localPort, proto);
  }

  /** The sockets on the migration's old address are known: its moves, then steps 304-307. */
  sessionsProbed(p: Procedure, sockets: Array<SocketInfo>, ok: bool, now: f64): void {
    const mig = <Migration>p;
    if (mig.state != MigratorState.PROBING) return;
    if (!ok) {
      // sock_diag failed: the sessions are unknown, so the move covers every port, as asked.
      mig.moves.push(this.localMove(mig.peer, mig.from, 0, mig.protocols));
      this.begin(mig, 0, now);
      return;
    }
    for (let i = 0; i < sockets.length; i++) {
      const s = sockets[i];
      if (!s.local.equals(mig.from)) continue;
      if (mig.protocols != 0 && mig.protocols != (s.protocol == IPPROTO_UDP ? PROTO_UDP : PROTO_TCP)) continue;
      const m = this.sessionMove(mig.peer, s, now);
      if (!m || m.busy || mig.moves.indexOf(m) >= 0 || !m.wire.equals(mig.from)) continue;
      mig.moves.push(m);
    }
    if (mig.moves.length == 0) {
      // No session to carry: done.
      const i = this.migrations.indexOf(mig);
      if (i >= 0) this.migrations.splice(i, 1);
      mig.prevWire.push(mig.from.copy());
      mig.step(MigratorEvent.NOTHING_TO_MOVE);
      migrationEvent(this.node, mig, "completed", now);
      return;
    }
    this.begin(mig, 0, now);
  }

  /** Steps 304-307 for the migration's moves (rules, identities, hold), then the request. */
  private begin(mig: Migration, fromPort: u32, now: f64): i32 {
    const moves = mig.moves;
    const to = mig.to;
    const toPort = mig.toPort;
    const peer = mig.peer;
    mig.step(MigratorEvent.APPLY);
    // Make-before-break when the address the sessions leave still works: they
    // keep sending from it until the peer has switched, and nothing waits.
    // Otherwise (break-before-make) the packets are held (steps 305, 310).
    mig.beforeBreak = this.watch.isLocal(mig.from);
    for (let i = 0; i < moves.length; i++) {
      const m = moves[i];
      mig.prevWire.push(m.wire.copy());
      mig.prevPort.push(m.wirePort);
      this.plane.quarantineFrom(m, now);
      // A migration of all ports keeps each move's port (a port-specific move stays on its port).
      const port = fromPort == 0 ? m.wirePort : toPort;
      if (mig.beforeBreak) {
        m.receiveAt(to, port);
        m.held = false;
      } else {
        m.moveTo(to, port);
        m.held = !m.identity;
      }
      m.busy = mig;
      this.plane.unquarantine(m.wire, peer);
    }
    migrationEvent(this.node, mig, "started", now);
    // Steps 304-307 in one transaction: identity address, rewrites, hold.
    this.plane.keepIdentities(mig);
    if (!this.plane.sync(mig)) {
      mig.fail(this.node, ERR_KERNEL, 0, now);
      return -ERR_KERNEL;
    }
    return <i32>mig.id;
  }

  /** A migration with nothing to do: reported as completed at once. */
  private alreadyThere(peer: Peer, from: Address, to: Address, now: f64): i32 {
    const mig = new Migration(this.nextMigrationId++, this, peer, new Array<Move>(), to, 0, now, this.takeOpaque());
    mig.prevWire.push(from.copy());
    mig.step(MigratorEvent.NOTHING_TO_MOVE);
    migrationEvent(this.node, mig, "completed", now);
    return <i32>mig.id;
  }

  // ---- the kernel ----

  /**
   * The kernel side, once at start (docs/dataplane.md section 2): what a
   * previous run left is read back first, then the data plane's table,
   * queue binding and hold rule, then the address watch.
   */
  kernelSetup(queue: u32, now: f64): void {
    this.plane.queue = queue;
    // First read back what a previous run left (restored before the first render).
    new Restore(this).start();
    this.plane.setup(queue, this.watch.auto && this.watch.guard);
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

  netlinkSeen(s: NetlinkSummary): void {
    this.plane.netlinkSeen(s);
  }

  // ---- procedure bookkeeping ----

  finished(p: Procedure, now: f64): void {
    const mig = <Migration>p;
    const i = this.migrations.indexOf(mig);
    if (i >= 0) this.migrations.splice(i, 1);
    this.plane.pruneMoves(mig.moves);
    this.watch.maybeDropFallback(mig.to.family);
    // Its sessions no longer send from where they were: a path kept for that address may go.
    if (mig.state == MigratorState.RELEASED) for (let k = 0; k < mig.prevWire.length; k++) this.watch.leftAddress(mig.prevWire[k], now);
  }

  private uncount(v: PathValidation): void {
    if (v.counted) v.peer.pendingPaths--;
    v.counted = false;
  }

  dropValidation(p: Procedure): void {
    const v = <PathValidation>p;
    v.resend.stop();
    this.uncount(v);
    const i = this.validations.indexOf(v);
    if (i >= 0) this.validations.splice(i, 1);
    for (let j = 0; j < v.moves.length; j++) v.moves[j].busy = null;
    this.plane.pruneMoves(v.moves);
  }

  /**
   * Sends the Migration Confirm for a reply's challenge (a Migration Reply's,
   * from the new address; a Registration Reply's, from wherever the host
   * sends) and keeps it to answer repeated replies.
   */
  confirm(peer: Peer, d: Decoded, dst: Address, src: Address | null, now: f64): void {
    const node = this.node;
    const sa = peer.sendSa();
    if (!sa) return;
    memory.copy(TOKEN, d.first(EXT_PATH_CHALLENGE) + 2, 8);
    node.writeCookie(COOKIE);
    const enc = node.encoder;
    const seq = peer.takeSeq();
    const id = node.newReplayId(peer, sa, now);
    enc.begin(MSG, MAX_MESSAGE_LENGTH, MSG_MIGRATION_CONFIRM, 0, seq, COOKIE, <u32>(id >> 32), <u32>id);
    enc.token(EXT_PATH_RESPONSE, TOKEN);
    const n = enc.finishAuth(sa.spi, sa.key);
    if (n < 0) return;
    const bytes = bytesOf(MSG, n);
    node.transmit(bytes, dst, peer.controlPort, src);
    const c = new SentConfirm(this, peer, d.sequence, d.replayLo(), bytes, dst, peer.controlPort, src, now);
    this.confirms.push(c);
    node.timers.arm(c, c.expires);
  }

  /** Builds, caches and sends the non-migrator's Migration Reply. */
  // ---- requests from peers ----

  request(node: Node, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, now: f64): void {
    const d = node.incoming;
    this.deliverOpaque(peer, d, now);
    if (d.type == MSG_REGISTRATION_REQUEST) this.onRegistration(peer, sa, cache, now);
    else if (d.type == MSG_MIGRATION_REQUEST) this.onMigrationRequest(peer, sa, cache, now);
    else if (d.type == MSG_MIGRATION_CONFIRM) this.onConfirm(peer, now);
  }

  private deliverOpaque(peer: Peer, d: Decoded, now: f64): void {
    if (!d.has(EXT_OPAQUE_DATA)) return;
    for (let i = 0; i < d.extTotal; i++) {
      const p = d.at(i);
      if (extType(p) != EXT_OPAQUE_DATA) continue;
      const e = beginEvent("opaque", now);
      e.key("peer");
      cookieJson(e, peer.cookie);
      e.key("message");
      e.num(d.type);
      e.key("subtype");
      const st = opaqueSubtype(p);
      const name = opaqueSubtypeName(st);
      if (name.length) e.str(name);
      else e.num(st);
      e.key("flags");
      e.num(opaqueFlags(p));
      e.key("data");
      e.hexString(opaqueDataPtr(p), opaqueDataLength(p));
      this.node.emit(endEvent());
    }
  }

  private onRegistration(peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, now: f64): void {
    const node = this.node;
    const d = node.incoming;
    let lifetime = <u32>node.options.registrationLifetimeS;
    if (d.has(EXT_LIFETIME)) {
      const asked = lifetimeSeconds(d.first(EXT_LIFETIME));
      if (asked < lifetime) lifetime = asked;
    }
    const src = node.from;
    // Section 7.3. The source is not under the MAC: a configured address is
    // the peer's already; any other must be one a peer may have, and counts
    // only once a Confirm echoes the reply's challenge (return routability).
    if (peer.configured(src)) {
      const fresh = peer.registeredUntil <= now;
      peer.registeredUntil = now + <f64>lifetime * 1000;
      const enc = node.beginReply(peer, sa, CODE_ACCEPTED, now);
      enc.lifetime(lifetime);
      node.finishReply(peer, sa, cache, src, node.fromPort, null, now);
      // An event when the registration is new, not on every renewal.
      if (fresh) this.peerRegistered(peer, src, lifetime, "validated", now);
      return;
    }
    if (!node.mayReplyTo(peer, src)) {
      // Loopback, multicast, broadcast, unspecified or ours: no answer goes there.
      node.drop(ERR_BAD_ADDRESS, now);
      return;
    }
    // A new registration from this source replaces one still being checked.
    for (let i = this.validations.length - 1; i >= 0; i--) {
      const w = this.validations[i];
      if (w.registration && w.peer == peer && w.address.equals(src)) {
        w.step(NonMigratorEvent.SUPERSEDE);
        this.dropValidation(w);
      }
    }
    if (peer.pendingPaths >= node.options.maxPendingPaths) {
      node.beginReply(peer, sa, CODE_TOO_MANY_PENDING, now);
      node.finishReply(peer, sa, cache, src, node.fromPort, null, now);
      return;
    }
    peer.registeredUntil = now + <f64>lifetime * 1000;
    const v = new PathValidation(this, peer, src, src, node.fromPort, now);
    v.registration = true;
    v.needsValidation = true;
    v.lifetime = lifetime;
    drbg.fill(changetype<usize>(v.token), 8);
    const enc = node.beginReply(peer, sa, CODE_ACCEPTED, now);
    enc.lifetime(lifetime);
    enc.token(EXT_PATH_CHALLENGE, changetype<usize>(v.token));
    node.finishReply(peer, sa, cache, src, node.fromPort, null, now);
    if (!cache || cache.reply.length == 0) return;
    v.reply = cache.reply;
    v.step(NonMigratorEvent.CHALLENGED);
    v.startResend(now);
    peer.pendingPaths++;
    v.counted = true;
    this.validations.push(v);
  }

  private peerRegistered(peer: Peer, address: Address, lifetime: u32, state: string, now: f64): void {
    const e = beginEvent("peer-registered", now);
    e.key("peer");
    cookieJson(e, peer.cookie);
    e.key("address");
    address.json(e);
    e.key("lifetime");
    e.num(lifetime);
    e.key("state");
    e.str(state);
    this.node.emit(endEvent());
  }

  private refuse(peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, code: u32, now: f64): void {
    const node = this.node;
    node.beginReply(peer, sa, code, now);
    node.finishReply(peer, sa, cache, node.from, node.fromPort, null, now);
    const e = beginEvent("migration-refused", now);
    e.key("peer");
    cookieJson(e, peer.cookie);
    e.key("code");
    codeJson(e, code);
    node.emit(endEvent());
  }

  private onMigrationRequest(peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, now: f64): void {
    const node = this.node;
    const d = node.incoming;
    // Section 7.4, steps 1-4, before anything changes.
    let newAddr: Address | null = null;
    let created = 0;
    for (let i = 0; i < d.extTotal; i++) {
      const p = d.at(i);
      if (extType(p) != EXT_MIGRATION) continue;
      const oldA = endpointsAddressA(p);
      const newA = endpointsAddressB(p);
      if (newAddr == null) newAddr = newA;
      else if (!newAddr.equals(newA)) {
        this.refuse(peer, sa, cache, CODE_POORLY_FORMED_REQUEST, now);
        return;
      }
      if (!node.acceptsPeerAddress(newA) || this.plane.quarantinedForOthers(newA, peer)) {
        this.refuse(peer, sa, cache, CODE_ADDRESS_NOT_ALLOWED, now);
        return;
      }
      if (!peer.configured(oldA) && !node.acceptsPeerAddress(oldA)) {
        this.refuse(peer, sa, cache, CODE_ADDRESS_NOT_ALLOWED, now);
        return;
      }
      // Step 2: the old endpoint is the peer's, or it is where one of the
      // peer's moves is now (validated or not): a move that goes on from an
      // address still being validated rewrites only the sessions it already
      // carries (its original endpoint passed this check when it was made).
      // A new move may start only from an address the peer owns.
      const existing = this.findRemote(peer, oldA, endpointsPortA(p), endpointsProtocols(p));
      if (!existing && !this.ownedBy(peer, oldA, now)) {
        this.refuse(peer, sa, cache, CODE_ADMINISTRATIVELY_PROHIBITED, now);
        return;
      }
      if (!existing) created++;
    }
    const target = newAddr!;
    const needsValidation = !this.ownedBy(peer, target, now);
    if (needsValidation && peer.pendingPaths >= node.options.maxPendingPaths) {
      this.refuse(peer, sa, cache, CODE_TOO_MANY_PENDING, now);
      return;
    }
    // Capacity is shared: one peer may not take all of it (section 7.4 step 4).
    if (created > 0) {
      const o = node.options;
      if (this.peerMoves(peer) + created > o.maxMovesPerPeer || this.plane.moves.length + created > o.maxMoves) {
        this.refuse(peer, sa, cache, CODE_INSUFFICIENT_RESOURCES, now);
        return;
      }
    }
    // Step 5: apply, in one transaction (seed step 406).
    const v = new PathValidation(this, peer, target, target, node.fromPort, now);
    v.needsValidation = needsValidation;
    // The reply is sent once the kernel actions are done (in nonce mode its fresh nonce is drawn now, 6.5).
    v.deferred = node.deferReply(peer, sa, cache, target, node.fromPort);
    drbg.fill(changetype<usize>(v.token), 8);
    for (let i = 0; i < d.extTotal; i++) {
      const p = d.at(i);
      if (extType(p) != EXT_MIGRATION) continue;
      const protocols = endpointsProtocols(p);
      const oldPort = endpointsPortA(p);
      const newPort = endpointsPortB(p);
      const oldA = endpointsAddressA(p);
      let m = this.findRemote(peer, oldA, oldPort, protocols);
      if (!m) {
        m = new Move(this.plane.nextMoveId++, peer, false, oldA, oldPort);
        m.protocols = protocols;
        this.plane.addMove(m);
      }
      v.moves.push(m);
      // A migration that supersedes one still being validated rolls back, if it
      // must, to where the earlier one started.
      const earlier = this.supersede(m);
      if (earlier) {
        const k = earlier.moves.indexOf(m);
        v.prevWire.push(earlier.prevWire[k].copy());
        v.prevPort.push(earlier.prevPort[k]);
      } else {
        v.prevWire.push(m.wire.copy());
        v.prevPort.push(m.wirePort);
      }
      this.plane.quarantineFrom(m, now);
      m.moveTo(target, newPort);
      m.unvalidated = needsValidation && !m.identity;
      m.busy = v;
      this.plane.unquarantine(target, peer);
    }
    if (needsValidation) {
      peer.pendingPaths++;
      v.counted = true;
    }
    this.validations.push(v);
    v.step(NonMigratorEvent.APPLY);
    if (!this.plane.sync(v)) {
      v.onActionsDone(node, false, now);
    }
  }

  /** Ends the validation a move is busy with, if any, and returns it. */
  private supersede(m: Move): PathValidation | null {
    const busy = m.busy;
    if (!(busy instanceof PathValidation)) return null;
    const v = <PathValidation>busy;
    const i = this.validations.indexOf(v);
    if (i < 0) return null;
    v.step(NonMigratorEvent.SUPERSEDE);
    v.resend.stop();
    this.uncount(v);
    this.validations.splice(i, 1);
    return v;
  }

  /**
   * True if the peer owns `a` now (section 7.4 step 2): an unexpired entry of
   * its owned set (configured; registered and validated; validated by a
   * Confirm), or the wire address of one of its moves that is validated. A
   * move still waiting for its Confirm proves nothing.
   */
  private ownedBy(peer: Peer, a: Address, now: f64): bool {
    if (peer.owns(a, now)) return true;
    const moves = this.plane.peerList(peer);
    for (let i = 0; i < moves.length; i++) {
      const m = moves[i];
      if (!m.local && !m.unvalidated && m.wire.equals(a)) return true;
    }
    return false;
  }

  /** The peer's moves (its migrations' share of the table). */
  private peerMoves(peer: Peer): i32 {
    const moves = this.plane.peerList(peer);
    let n = 0;
    for (let i = 0; i < moves.length; i++) if (!moves[i].local) n++;
    return n;
  }

  isOwnSocket(s: SocketInfo): bool {
    return this.watch.isOwnSocket(s);
  }

  proceduresUnderWay(): bool {
    return this.migrations.length > 0 || this.validations.length > 0;
  }

  lostAddresses(): Array<Address> {
    return this.watch.probing();
  }

  /** Our own addresses the host reported (its interfaces) and those we keep on lo. */
  isLocalAddress(a: Address): bool {
    return this.watch.isLocal(a) || this.plane.isIdentity(a);
  }

  private findRemote(peer: Peer, wire: Address, port: u32, protocols: u8): Move | null {
    const moves = this.plane.peerList(peer);
    for (let i = 0; i < moves.length; i++) {
      const m = moves[i];
      if (m.local || m.peer != peer || !m.wire.equals(wire) || m.wirePort != port) continue;
      if (m.protocols != protocols) continue;
      return m;
    }
    return null;
  }

  private onConfirm(peer: Peer, now: f64): void {
    const d = this.node.incoming;
    const token = d.first(EXT_PATH_RESPONSE) + 2;
    for (let i = 0; i < this.validations.length; i++) {
      const v = this.validations[i];
      if (v.peer != peer || !v.needsValidation || v.reply.length == 0) continue;
      if (!ctEqual(token, changetype<usize>(v.token), 8)) continue;
      const o = this.node.options;
      v.step(NonMigratorEvent.CONFIRMED);
      if (v.registration) {
        // Section 7.3: the registration's source is proven.
        const fresh = !peer.owns(v.address, now);
        peer.addOwned(v.address, now + <f64>v.lifetime * 1000, now, o.maxOwnedPerPeer);
        this.dropValidation(v);
        if (fresh) this.peerRegistered(peer, v.address, v.lifetime, "validated", now);
        return;
      }
      // Section 7.5: the new address is proven; lift the quota.
      peer.addOwned(v.address, now + <f64>o.registrationLifetimeS * 1000, now, o.maxOwnedPerPeer);
      for (let j = 0; j < v.moves.length; j++) v.moves[j].unvalidated = false;
      this.dropValidation(v);
      this.plane.sync(null);
      peerMovedEvent(this.node, v, "validated", now);
      return;
    }
  }

  lateReply(node: Node, peer: Peer, d: Decoded, now: f64): bool {
    // A repeated Migration Reply: the Confirm was lost; send it again.
    for (let i = 0; i < this.confirms.length; i++) {
      const c = this.confirms[i];
      if (c.peer != peer || c.seq != <u32>d.sequence || c.replayLo != d.replayLo()) continue;
      if (now - c.lastSent >= REPLY_RESEND_GAP_MS) {
        c.lastSent = now;
        node.transmit(c.bytes, c.dst, c.dstPort, c.src);
      }
      return true;
    }
    return false;
  }

  kernelFailed(nft: bool): void {
    if (nft) this.plane.failed();
  }

  // ---- timers (in the engine's table: StemTimer, Quarantine, SentConfirm, ValidationResend) ----

  /** A path validation got no Confirm within the validation timeout. */
  validationTimedOut(p: Procedure, now: f64): void {
    const v = <PathValidation>p;
    v.step(NonMigratorEvent.TIMED_OUT);
    if (v.registration) {
      // Section 7.3: the source never proved itself; it stays unowned.
      this.dropValidation(v);
      this.peerRegistered(v.peer, v.address, v.lifetime, "validation-failed", now);
      return;
    }
    // Section 7.5: no Confirm in time: back to the previous wire address.
    v.restore();
    this.dropValidation(v);
    this.plane.sync(null);
    peerMovedEvent(this.node, v, "validation-failed", now);
  }


}

