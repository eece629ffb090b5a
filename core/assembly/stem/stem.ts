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
/** The follow-up release, after the first (docs/dataplane.md section 2). */
const RELEASE_AGAIN_MS: f64 = 10;
/** How often to look for ended sessions. */
const SWEEP_MS: f64 = 5000;
/**
 * And longer with many moves (over 10,000): a sweep lists every move's
 * counters (one listing, about 30 us per move on the development machine),
 * so the time between sweeps grows with the table and the sweep stays a
 * small share of the daemon's time (docs/dataplane.md, "At server scale").
 */
const SWEEP_MS_PER_MOVE: f64 = 0.5;

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

/** Hears of the quarantines' ends (7.7) for the module: one per module, not one per quarantine. */
class StemQuarantines extends QuarantineSink {
  stem: Stem;
  constructor(stem: Stem) {
    super();
    this.stem = stem;
  }
  quarantineEnded(q: Quarantine, now: f64): void {
    this.stem.quarantineEnded(q, now);
  }
}

/** The module's own timers: the follow-up release, the sweep, one batch for the quarantines that ended. */
const T_RELEASE: i32 = 0;
const T_SWEEP: i32 = 1;
const T_QUARANTINE_SYNC: i32 = 2;

class StemTimer extends Timer {
  stem: Stem;
  kind: i32;
  /** The time it was armed for (kept while a sweep is overdue). */
  due: f64 = Infinity;
  constructor(stem: Stem, kind: i32) {
    super();
    this.stem = stem;
    this.kind = kind;
  }
  fire(now: f64): void {
    const stem = this.stem;
    if (this.kind == T_RELEASE) stem.releaseAgain();
    else if (this.kind == T_SWEEP) stem.sweepDue(now);
    else stem.quarantinesEnded();
  }
}

// ---- the STEM module ----------------------------------------------------------

export class Stem extends StemBase {
  /** Each peer's moves, by peer id: the lookups of a request stay within one peer's bounded share. */
  private byPeer: Map<i32, Array<Move>> = new Map<i32, Array<Move>>();
  /** Quarantines by wire address (addressKey). */
  private quarantined: Map<u64, Array<Quarantine>> = new Map<u64, Array<Quarantine>>();
  /** The control ports, as last computed, and for how many peers. */
  private ports: Array<u32> = new Array<u32>();
  private portsFor: i32 = -1;
  migrations: Array<Migration> = new Array<Migration>();
  validations: Array<PathValidation> = new Array<PathValidation>();
  confirms: Array<SentConfirm> = new Array<SentConfirm>();
  /** The addresses we keep on lo (keepIdentities). */
  identities: Array<Address> = new Array<Address>();
  nextMigrationId: u32 = 1;
  /** Opaque data for the next request the application starts. */
  pendingOpaque: Array<OpaqueItem> = new Array<OpaqueItem>();
  /** The NFQUEUE number of the hold. */
  queue: u32 = DEFAULT_QUEUE;
  /** Highest queue packet id seen (serial arithmetic). */
  lastQueueId: u32 = 0;
  /** Held packets the kernel reported, for counters. */
  heldPackets: u64 = 0;
  /** When to send the follow-up release (not armed: none pending). */
  private releaseTimer!: StemTimer;
  /** When to look for moves whose sessions ended (not armed: kernel not set up, or a sweep is under way). */
  private sweepTimer!: StemTimer;
  /** The sweep's time came with no move and no guard: it runs as soon as there is one. */
  private sweepOverdue: bool = false;
  /** The quarantines that ended at one time leave in one batch. */
  private quarantineSync!: StemTimer;
  private quarantineSink!: StemQuarantines;
  private quarantinesChanged: bool = false;
  sweeping: bool = false;

  /** Address changes and sessions (stem/watch.ts). */
  watch: Watch = new Watch();

  constructor(node: Node) {
    super(node);
    this.releaseTimer = new StemTimer(this, T_RELEASE);
    this.sweepTimer = new StemTimer(this, T_SWEEP);
    this.quarantineSync = new StemTimer(this, T_QUARANTINE_SYNC);
    this.quarantineSink = new StemQuarantines(this);
    forgetMoves();
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
    const own = this.peerList(peer);
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
      if (fromPort == 0 && this.kernelReady) {
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
    const m = new Move(this.nextMoveId++, peer, true, orig, port);
    m.protocols = protocols;
    m.scope = peer.ownedAddresses();
    this.addMove(m);
    return m;
  }

  /** Enters a move in the tables. */
  addMove(m: Move): void {
    m.slot = this.moves.length;
    this.moves.push(m);
    if (m.local) this.locals.push(m);
    const id = m.peer.id;
    if (!this.byPeer.has(id)) this.byPeer.set(id, new Array<Move>());
    this.byPeer.get(id).push(m);
    if (this.sweepOverdue) {
      // The sweep whose time came while there was nothing to sweep runs now.
      this.sweepOverdue = false;
      this.node.timers.arm(this.sweepTimer, this.sweepTimer.due);
    }
  }

  /** Removes a move from the tables; its elements go with the next batch. */
  removeMove(m: Move): void {
    if (!m.live) return;
    m.end();
    const i = m.slot;
    const last = this.moves.pop();
    if (last !== m) {
      this.moves[i] = last;
      last.slot = i;
    }
    m.slot = -1;
    if (m.local) {
      const k = this.locals.indexOf(m);
      if (k >= 0) this.locals.splice(k, 1);
    }
    const list = this.peerList(m.peer);
    const j = list.indexOf(m);
    if (j >= 0) list.splice(j, 1);
  }

  /** The peer's moves (ours with it and its own). */
  peerList(peer: Peer): Array<Move> {
    return this.byPeer.has(peer.id) ? this.byPeer.get(peer.id) : EMPTY;
  }

  /** The local move of the sessions on `orig` port `port` with `peer`, for one protocol, if any. */
  findLocal(peer: Peer, orig: Address, port: u32, protocols: u8): Move | null {
    const moves = this.peerList(peer);
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
      this.quarantineFrom(m, now);
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
      this.unquarantine(m.wire, peer);
    }
    migrationEvent(this.node, mig, "started", now);
    // Steps 304-307 in one transaction: identity address, rewrites, hold.
    this.keepIdentities(mig);
    if (!this.sync(mig)) {
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

  // ---- data plane ----

  /** Queues the elements that changed as one kernel action (stem/nft.ts). */
  sync(owner: Procedure | null): bool {
    this.node.nftAction(this.dp.sync(this.moves, this.quarantines, this.controlPorts(), this.watch.probing()), owner);
    if (this.dp.holdLost) {
      // The table was re-created: the queue rule goes back in.
      this.dp.holdLost = false;
      const q = queueRuleBatch(this.queue);
      this.node.netlinkAction(NETLINK_NETFILTER, bytesOf(bufferPtr(), q), owner);
    }
    return true;
  }

  /**
   * The kernel side, once at start (docs/dataplane.md section 2): table and
   * chains, the queue binding on the host's netfilter socket, the hold rule.
   */
  kernelSetup(queue: u32, now: f64): void {
    this.queue = queue;
    // First read back what a previous run left (restored before the first render).
    new Restore(this).start();
    this.dp.guard = this.watch.auto && this.watch.guard;
    this.node.nftAction(this.dp.renderSetup(), null);
    const c = queueConfig(queue);
    this.node.netlinkAction(NETLINK_NETFILTER, bytesOf(bufferPtr(), c), null);
    const r = queueRuleBatch(queue);
    this.node.netlinkAction(NETLINK_NETFILTER, bytesOf(bufferPtr(), r), null);
    this.kernelReady = true;
    this.watch.start();
    this.armSweep(now + SWEEP_MS);
  }

  private armSweep(at: f64): void {
    this.sweepOverdue = false;
    this.sweepTimer.due = at;
    this.node.timers.arm(this.sweepTimer, at);
  }

  /** The sweep's time came: look for moves whose sessions ended (lifecycle.ts Sweep). */
  sweepDue(now: f64): void {
    if (this.sweeping) return;
    if (this.moves.length) {
      this.sweeping = true;
      new Sweep(this).start();
    } else if (this.dp.guard) {
      this.sweepDone(now); // nothing to sweep but what the guard may hold
    } else {
      this.sweepOverdue = true;
    }
  }

  /** A sweep finished; the next one in SWEEP_MS. */
  sweepDone(now: f64): void {
    this.sweeping = false;
    this.armSweep(now + Math.max(SWEEP_MS, SWEEP_MS_PER_MOVE * <f64>this.moves.length));
    // Packets the guard held that no migration claimed: let them go (they
    // leave by whatever route exists now).
    if (this.dp.guard && !this.holding(null)) this.sendVerdict();
  }

  /** Removes everything the node put in the kernel: rules, queue rule, identities, routes. */
  teardown(): void {
    while (this.moves.length) this.removeMove(this.moves[this.moves.length - 1]);
    while (this.quarantines.length) this.dropQuarantine(this.quarantines[this.quarantines.length - 1]);
    this.watch.guard = false;
    this.keepIdentities(null);
    this.watch.teardown();
    this.node.nftAction(this.dp.renderTeardown(), null);
  }

  /**
   * Releases every held packet (step 310): one verdict for all queued ids up
   * to 2^30 past the last one seen, and the same again shortly after, for
   * packets that were entering the queue while the rule changed. Holds that
   * overlap end together, when the last of them ends.
   */
  release(now: f64): void {
    // The kernel queue is one for all holds: while another hold lasts, its
    // packets must stay, so the release waits for the last hold to end.
    if (this.holding(null)) {
      this.releaseWaits = true;
      return;
    }
    this.releaseWaits = false;
    this.sendVerdict();
    this.node.timers.arm(this.releaseTimer, now + RELEASE_AGAIN_MS);
  }

  /** The follow-up release's time came. */
  releaseAgain(): void {
    // A hold that began since the release owns the queue now: its own release follows.
    if (!this.holding(null)) this.sendVerdict();
  }

  /**
   * True while some packet in the queue must stay there: a local move other
   * than those in `except` is held, or a lost address's sessions are not known
   * yet (docs/dataplane.md section 2, "one queue, many holds").
   */
  holding(except: Array<Move> | null): bool {
    let n = heldCount();
    if (except) for (let i = 0; i < except.length; i++) if (except[i].held && except[i].live) n--;
    return n > 0 || this.watch.anyProbing();
  }

  /**
   * The first half of a release: if no hold but these moves' lasts, release
   * the queue while the rules still mark (so that nothing sent later leaves
   * before the held packets).
   */
  releaseBefore(moves: Array<Move>): void {
    if (this.holding(moves)) return;
    this.sendVerdict();
  }

  private sendVerdict(): void {
    const v = verdictBatch(this.queue, this.lastQueueId + 0x40000000);
    // No acknowledgement is asked; an empty queue answers ENOENT, which is fine.
    this.node.netlinkAction(NETLINK_NETFILTER, bytesOf(bufferPtr(), v), null, false, ENOENT);
  }

  netlinkSeen(s: NetlinkSummary): void {
    if (s.packets == 0) return;
    this.heldPackets += <u64>s.packets;
    if (<i32>(s.lastId - this.lastQueueId) > 0) this.lastQueueId = s.lastId;
  }

  /** Our control port and the peers', whose traffic the rules leave alone. */
  private controlPorts(): Array<u32> {
    const peers = this.node.peers;
    if (this.portsFor == peers.length && this.ports.length && this.ports[0] == this.node.options.controlPort) return this.ports;
    const ports = new Array<u32>();
    ports.push(this.node.options.controlPort);
    for (let i = 0; i < peers.length; i++) {
      const p = peers[i].controlPort;
      if (ports.indexOf(p) < 0) ports.push(p);
    }
    this.ports = ports;
    this.portsFor = peers.length;
    return ports;
  }

  /**
   * Keeps on lo (as /32 or /128) every address the sessions may still need:
   * the original address of each local move that is away or held, and, with
   * the guard on, every usable address the host has, so that losing one from
   * its interface never makes a socket's address foreign. Adds and removes
   * only the difference.
   */
  keepIdentities(owner: Procedure | null): void {
    const want = new Array<Address>();
    for (let i = 0; i < this.locals.length; i++) {
      const m = this.locals[i];
      if (!m.identity || m.held) addUnique(want, m.orig);
    }
    // A lost address stays local until we know whether sessions used it.
    const lost = this.watch.probing();
    for (let i = 0; i < lost.length; i++) addUnique(want, lost[i]);
    if (this.watch.guard) {
      for (let i = 0; i < this.watch.locals.length; i++) addUnique(want, this.watch.locals[i]);
    }
    for (let i = 0; i < want.length; i++) {
      if (indexOfAddress(this.identities, want[i]) >= 0) continue;
      this.identities.push(want[i].copy());
      const n = addressMessage(true, want[i], LOOPBACK_IFINDEX);
      // Already there (a restart, or put on lo by hand): fine.
      this.node.netlinkAction(NETLINK_ROUTE, bytesOf(messagePtr(), n), owner, true, EEXIST);
    }
    for (let j = this.identities.length - 1; j >= 0; j--) {
      const a = this.identities[j];
      if (indexOfAddress(want, a) >= 0) continue;
      const n = addressMessage(false, a, LOOPBACK_IFINDEX);
      this.node.netlinkAction(NETLINK_ROUTE, bytesOf(messagePtr(), n), null, true, EADDRNOTAVAIL);
      this.identities.splice(j, 1);
    }
  }

  private quarantineFrom(m: Move, now: f64): void {
    // Leaving the original address needs no quarantine: late packets still match the socket.
    if (m.identity) return;
    this.addQuarantine(new Quarantine(m, now + this.node.options.quarantineMs));
  }

  /** Enters a quarantine in the tables (a new one, or one a clean stop saved: stem/lifecycle.ts). */
  addQuarantine(q: Quarantine): void {
    q.sink = this.quarantineSink;
    this.node.timers.arm(q, q.until);
    q.slot = this.quarantines.length;
    this.quarantines.push(q);
    const k = addressKey(q.address);
    if (!this.quarantined.has(k)) this.quarantined.set(k, new Array<Quarantine>());
    this.quarantined.get(k).push(q);
  }

  /** Ends a quarantine (lifted or expired); its elements go with the next batch. */
  dropQuarantine(q: Quarantine): void {
    if (!q.live) return;
    q.end();
    this.node.timers.disarm(q);
    const last = this.quarantines.pop();
    if (last !== q) {
      this.quarantines[q.slot] = last;
      last.slot = q.slot;
    }
    const k = addressKey(q.address);
    const list = this.quarantined.get(k);
    list.splice(list.indexOf(q), 1);
    if (list.length == 0) this.quarantined.delete(k);
  }

  /** A quarantine's time is up (7.7): it ends, and with the others that end now, in one batch. */
  quarantineEnded(q: Quarantine, now: f64): void {
    this.dropQuarantine(q);
    this.quarantinesChanged = true;
    this.node.timers.armBy(this.quarantineSync, now);
  }

  quarantinesEnded(): void {
    if (!this.quarantinesChanged) return;
    this.quarantinesChanged = false;
    this.sync(null);
  }

  private quarantinesAt(a: Address): Array<Quarantine> {
    const k = addressKey(a);
    return this.quarantined.has(k) ? this.quarantined.get(k) : NO_QUARANTINES;
  }

  unquarantine(a: Address, peer: Peer): void {
    const list = this.quarantinesAt(a);
    for (let i = list.length - 1; i >= 0; i--) {
      const q = list[i];
      if (q.address.equals(a) && q.peer == peer) this.dropQuarantine(q);
    }
  }

  /** True if `a` is quarantined for a peer other than `peer`. */
  private quarantinedForOthers(a: Address, peer: Peer): bool {
    const list = this.quarantinesAt(a);
    for (let i = 0; i < list.length; i++) {
      const q = list[i];
      if (q.address.equals(a) && q.peer != peer) return true;
    }
    return false;
  }

  // ---- procedure bookkeeping ----

  finished(p: Procedure, now: f64): void {
    const mig = <Migration>p;
    const i = this.migrations.indexOf(mig);
    if (i >= 0) this.migrations.splice(i, 1);
    this.pruneMoves(mig.moves);
    this.watch.maybeDropFallback(mig.to.family);
    // Its sessions no longer send from where they were: a path kept for that address may go.
    if (mig.state == MigratorState.RELEASED) for (let k = 0; k < mig.prevWire.length; k++) this.watch.leftAddress(mig.prevWire[k], now);
  }

  /** Drops those of `moves` that came back to their original address, and their identities. */
  private pruneMoves(moves: Array<Move>): void {
    let changed = false;
    for (let i = 0; i < moves.length; i++) {
      const m = moves[i];
      if (m.live && m.identity && !m.busy && !m.held) {
        this.removeMove(m);
        changed = true;
      }
    }
    if (changed) this.keepIdentities(null);
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
    this.pruneMoves(v.moves);
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
      if (!node.acceptsPeerAddress(newA) || this.quarantinedForOthers(newA, peer)) {
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
      if (this.peerMoves(peer) + created > o.maxMovesPerPeer || this.moves.length + created > o.maxMoves) {
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
        m = new Move(this.nextMoveId++, peer, false, oldA, oldPort);
        m.protocols = protocols;
        this.addMove(m);
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
      this.quarantineFrom(m, now);
      m.moveTo(target, newPort);
      m.unvalidated = needsValidation && !m.identity;
      m.busy = v;
      this.unquarantine(target, peer);
    }
    if (needsValidation) {
      peer.pendingPaths++;
      v.counted = true;
    }
    this.validations.push(v);
    v.step(NonMigratorEvent.APPLY);
    if (!this.sync(v)) {
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
    const moves = this.peerList(peer);
    for (let i = 0; i < moves.length; i++) {
      const m = moves[i];
      if (!m.local && !m.unvalidated && m.wire.equals(a)) return true;
    }
    return false;
  }

  /** The peer's moves (its migrations' share of the table). */
  private peerMoves(peer: Peer): i32 {
    const moves = this.peerList(peer);
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
    return this.watch.isLocal(a) || indexOfAddress(this.identities, a) >= 0;
  }

  private findRemote(peer: Peer, wire: Address, port: u32, protocols: u8): Move | null {
    const moves = this.peerList(peer);
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
      this.sync(null);
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
    if (nft) this.dp.failed();
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
    this.sync(null);
    peerMovedEvent(this.node, v, "validation-failed", now);
  }


}

function indexOfAddress(list: Array<Address>, a: Address): i32 {
  for (let i = 0; i < list.length; i++) if (list[i].equals(a)) return i;
  return -1;
}

const EMPTY = new Array<Move>();
const NO_QUARANTINES = new Array<Quarantine>();

/** A hash of an address, to find quarantines by it. */
function addressKey(a: Address): u64 {
  return (a.hi * 0x9e3779b97f4a7c15) ^ a.lo ^ (<u64>a.family << 62);
}

function addUnique(list: Array<Address>, a: Address): void {
  if (indexOfAddress(list, a) < 0) list.push(a);
}
