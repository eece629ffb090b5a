// STEM's migrator (docs/PROTOCOL.md 7.2, 7.3): a migration of our own
// sessions and a registration with a peer, as procedures of the engine, and
// the Migrator that starts them, makes their local moves (in the data plane,
// dataplane.ts) and hears their ends. Its states and transitions:
// stem/states.ts.

import { NETLINK_SOCK_DIAG, TCP_LISTEN } from "../kernel/linux";
import { IPPROTO_TCP, IPPROTO_UDP } from "../generated/registry";
import { Address } from "../engine/address";
import { Node, Procedure } from "../engine/node";
import { MigratorState, MigratorEvent, MIGRATOR } from "./states";
import { Peer, REPLY_RESEND_GAP_MS, REPLY_CACHE_MS } from "../engine/peer";
import { Timer } from "../engine/timers";
import { bytesOf, beginEvent, endEvent } from "../engine/output";
import { Move, MoveProcedure } from "./move";
import { Plane } from "./dataplane";
import { Watch } from "./watch";
import { SocketInfo, parseSockets, socketDump, requestPtr } from "../kernel/rtnl";
import { Decoded } from "../wire/decode";
import { lifetimeSeconds, tokenPtr, TOKEN_LENGTH } from "../wire/fields";
import { Encoder } from "../wire/encode";
import { cookieJson, codeJson, exchangeFields } from "./events";
import {
  MAX_MESSAGE_LENGTH, MSG_MIGRATION_REQUEST, MSG_REGISTRATION_REQUEST, MSG_MIGRATION_CONFIRM, EXT_PATH_CHALLENGE,
  EXT_PATH_RESPONSE, EXT_LIFETIME, CODE_ACCEPTED, ERR_TIMED_OUT, ERR_REFUSED, ERR_KERNEL, ERR_INVALID_ARGUMENT,
  ERR_BUSY, ERR_BAD_ADDRESS, ERR_UNKNOWN_PEER, PROTO_TCP, PROTO_UDP, errorName,
} from "../generated/registry";

/** The migrator's message buffer (a Confirm being encoded, a Migration Request's staged addresses). */
const MSG = memory.data(MAX_MESSAGE_LENGTH);

/** Opaque data the application attaches to the next request it starts. */
export class OpaqueItem {
  subtype: u32 = 0;
  flags: u32 = 0;
  data: StaticArray<u8> = new StaticArray<u8>(0);
}

export function writeOpaque(enc: Encoder, items: Array<OpaqueItem>): void {
  for (let i = 0; i < items.length; i++) {
    const o = items[i];
    enc.opaque(o.subtype, o.flags, changetype<usize>(o.data), o.data.length);
  }
}

// ---- migrator --------------------------------------------------------------


/** The sock_diag dumps (TCP, then UDP) that tell a migration which sessions it carries. */
export class SessionProbe extends Procedure {
  owner: Migrator;
  mig: Migration;
  sockets: Array<SocketInfo> = new Array<SocketInfo>();
  protocols: Array<u8> = new Array<u8>();
  constructor(owner: Migrator, mig: Migration) {
    super();
    this.owner = owner;
    this.mig = mig;
  }
  start(): void {
    const protos: StaticArray<u8> = [IPPROTO_TCP, IPPROTO_UDP];
    for (let k = 0; k < 2; k++) {
      this.protocols.push(protos[k]);
      const n = socketDump(this.mig.from.family, protos[k]);
      this.owner.node.netlinkAction(NETLINK_SOCK_DIAG, bytesOf(requestPtr(), n), this);
    }
  }
  onKernelOutput(node: Node, p: usize, n: i32): void {
    const proto = this.protocols.length ? this.protocols.shift() : IPPROTO_TCP;
    parseSockets(p, n, proto, this.sockets);
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    this.owner.sessionsProbed(this.mig, this.sockets, ok, now);
  }
}

/** One migration of our own address (section 7.2). */
export class Migration extends MoveProcedure {
  id: u32;
  owner: Migrator;
  peer: Peer;
  /** The wire address the sessions leave. */
  from: Address = new Address();
  /** The protocols asked for (0: all). */
  protocols: u8 = 0;
  to: Address;
  toPort: u32;
  state: i32 = MigratorState.IDLE;
  startedAt: f64;
  opaque: Array<OpaqueItem>;
  /** Make-before-break: the old address still works, so nothing is held. */
  beforeBreak: bool = false;
  error: i32 = 0;
  refusal: u32 = 0;
  /** Addresses added to lo (original addresses kept local), for rollback. */
  /** Moves on by the table of stem/states.ts (7.2); false if it has no such transition. */
  step(event: i32): bool {
    const next = MIGRATOR.next(this.state, event);
    if (next < 0) return false;
    this.state = next;
    return true;
  }

  migrationId(): i32 {
    return <i32>this.id;
  }

  constructor(id: u32, owner: Migrator, peer: Peer, moves: Array<Move>, to: Address, toPort: u32, now: f64, opaque: Array<OpaqueItem>) {
    super();
    this.id = id;
    this.owner = owner;
    this.peer = peer;
    this.moves = moves;
    this.to = to.copy();
    this.toPort = toPort;
    this.startedAt = now;
    this.opaque = opaque;
  }

  encodeBody(node: Node, enc: Encoder): void {
    for (let i = 0; i < this.moves.length; i++) {
      const m = this.moves[i];
      const old = this.prevWire[i];
      const scratch = MSG; // addresses staged here, then copied by the encoder
      old.store(scratch);
      this.to.store(scratch + 16);
      // The move's new wire port: a migration of all ports keeps each move's port (0 stays 0).
      enc.migration(m.protocols, old.family, this.prevPort[i], m.wirePort, scratch, scratch + 16);
    }
    writeOpaque(enc, this.opaque);
  }

  onActionsDone(node: Node, ok: bool, now: f64): void {
    if (this.state == MigratorState.APPLYING) {
      if (!ok) {
        this.fail(node, ERR_KERNEL, 0, now);
      } else {
        // Step 308: the Migration Request, from the new address.
        this.step(MigratorEvent.APPLIED);
        migrationEvent(this.owner.node, this, "requesting", now);
        const p = this.peer;
        if (!node.sendRequest(now, p, MSG_MIGRATION_REQUEST, 0, this, p.controlFor(this.to.family), p.controlPort, this.to)) {
          this.fail(node, ERR_INVALID_ARGUMENT, 0, now);
        }
      }
      // A lost address's session dumps that waited for this request (stem/watch.ts added).
      this.owner.watch.applied(this.from);
    } else if (this.state == MigratorState.ROLLING_BACK) {
      this.step(MigratorEvent.ROLLED_BACK);
      this.owner.finished(this, now);
    }
  }

  onReply(node: Node, d: Decoded, code: u32, now: f64): void {
    if (this.state != MigratorState.REQUESTING) return;
    if (code != CODE_ACCEPTED) {
      this.fail(node, ERR_REFUSED, code, now);
      return;
    }
    // Steps 309-310: release the held packets at once, then confirm the path.
    this.step(MigratorEvent.ACCEPTED);
    // Release first, then stop marking, then release what was queued meanwhile:
    // held packets leave before any new one can overtake them. A
    // make-before-break migration held nothing: its sessions now send from the
    // new address too.
    if (!this.beforeBreak) this.owner.plane.releaseBefore(this.moves);
    for (let i = 0; i < this.moves.length; i++) {
      this.moves[i].held = false;
      this.moves[i].busy = null;
      this.moves[i].sendToo();
    }
    this.owner.plane.sync(null);
    if (!this.beforeBreak) this.owner.plane.release(now);
    migrationEvent(this.owner.node, this, "released", now);
    if (d.has(EXT_PATH_CHALLENGE)) this.owner.confirm(this.peer, d, this.peer.controlFor(this.to.family), this.to, now);
    migrationEvent(this.owner.node, this, "completed", now);
    this.owner.finished(this, now);
  }

  onGiveUp(node: Node, now: f64): void {
    if (this.state == MigratorState.REQUESTING) this.fail(node, ERR_TIMED_OUT, 0, now);
  }

  /** Rolls the moves back to where they were, releasing the hold (section 7.2). */
  fail(node: Node, error: i32, refusal: u32, now: f64): void {
    this.error = error;
    this.refusal = refusal;
    node.cancelRequests(this);
    for (let i = 0; i < this.moves.length; i++) {
      const m = this.moves[i];
      m.moveTo(this.prevWire[i], this.prevPort[i]);
      m.held = false;
      m.busy = null;
      this.owner.plane.unquarantine(m.wire, m.peer);
    }
    this.step(MigratorEvent.FAIL);
    migrationEvent(this.owner.node, this, "failed", now);
    const synced = this.owner.plane.sync(this);
    this.owner.plane.release(now);
    if (!synced) {
      this.step(MigratorEvent.ROLLED_BACK);
      this.owner.finished(this, now);
    }
  }
}

/** The migrator's registration with a peer (section 7.3). */
export class Registration extends Procedure {
  owner: Migrator;
  peer: Peer;
  lifetime: u32;
  opaque: Array<OpaqueItem>;
  constructor(owner: Migrator, peer: Peer, lifetime: u32, opaque: Array<OpaqueItem>) {
    super();
    this.owner = owner;
    this.peer = peer;
    this.lifetime = lifetime;
    this.opaque = opaque;
  }
  encodeBody(node: Node, enc: Encoder): void {
    enc.lifetime(this.lifetime);
    writeOpaque(enc, this.opaque);
  }
  onReply(node: Node, d: Decoded, code: u32, now: f64): void {
    // Section 7.3: the challenge proves we receive where the reply came to.
    if (code == CODE_ACCEPTED && d.has(EXT_PATH_CHALLENGE)) this.owner.confirm(this.peer, d, this.peer.control, null, now);
    const e = beginEvent("registration", now);
    e.key("peer");
    cookieJson(e, this.peer.cookie);
    e.key("state");
    e.str(code == CODE_ACCEPTED ? "accepted" : "refused");
    e.key("code");
    codeJson(e, code);
    if (d.has(EXT_LIFETIME)) {
      e.key("lifetime");
      e.num(lifetimeSeconds(d.first(EXT_LIFETIME)));
    }
    node.emit(endEvent());
  }
  onGiveUp(node: Node, now: f64): void {
    const e = beginEvent("registration", now);
    e.key("peer");
    cookieJson(e, this.peer.cookie);
    e.key("state");
    e.str("failed");
    e.key("error");
    e.str(errorName(ERR_TIMED_OUT));
    node.emit(endEvent());
  }
}

/** The migrator's event (docs/USAGE.md "migration"). */
export function migrationEvent(node: Node, m: Migration, state: string, now: f64): void {
  const e = beginEvent("migration", now);
  e.key("id");
  e.num(m.id);
  e.key("state");
  e.str(state);
  exchangeFields(e, m.peer, m.prevWire.length ? m.prevWire[0] : m.to, m.to, m.moves.length, now - m.startedAt);
  e.key("hold");
  e.boolean(!m.beforeBreak && m.moves.length > 0);
  if (m.error) {
    e.key("error");
    e.str(errorName(m.error));
  }
  if (m.refusal) {
    e.key("code");
    codeJson(e, m.refusal);
  }
  node.emit(endEvent());
}

const TOKEN = memory.data(8);
const COOKIE = memory.data(8);

/** A Migration Confirm sent, kept to answer repeated replies (section 7.2) until its timer ends it. */
class SentConfirm extends Timer {
  owner: Migrator;
  peer: Peer;
  seq: u32;
  replayLo: u32;
  bytes: StaticArray<u8>;
  dst: Address;
  dstPort: u32;
  src: Address | null;
  expires: f64;
  lastSent: f64;
  constructor(owner: Migrator, peer: Peer, seq: u32, replayLo: u32, bytes: StaticArray<u8>, dst: Address, dstPort: u32, src: Address | null, now: f64) {
    super();
    this.owner = owner;
    this.peer = peer;
    this.seq = seq;
    this.replayLo = replayLo;
    this.bytes = bytes;
    this.dst = dst.copy();
    this.dstPort = dstPort;
    this.src = src ? src.copy() : null;
    // As long as the peer keeps the reply it may repeat (its reply cache, 7.2: 30 s).
    this.expires = now + REPLY_CACHE_MS;
    this.lastSent = now;
  }
  fire(now: f64): void {
    const list = this.owner.confirms;
    const i = list.indexOf(this);
    if (i >= 0) list.splice(i, 1);
  }
}

/**
 * The migrator (7.2, 7.3): the application's migrations and registrations,
 * the local moves they carry, and the Confirms it sent. Its procedures
 * (Migration, SessionProbe, Registration) call back here, typed.
 */
export class Migrator {
  node: Node;
  plane: Plane;
  watch: Watch;
  migrations: Array<Migration> = new Array<Migration>();
  confirms: Array<SentConfirm> = new Array<SentConfirm>();
  nextMigrationId: u32 = 1;
  /** Opaque data for the next request the application starts. */
  pendingOpaque: Array<OpaqueItem> = new Array<OpaqueItem>();

  constructor(node: Node, plane: Plane, watch: Watch) {
    this.node = node;
    this.plane = plane;
    this.watch = watch;
  }

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
  sessionsProbed(mig: Migration, sockets: Array<SocketInfo>, ok: bool, now: f64): void {
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

  finished(mig: Migration, now: f64): void {
    const i = this.migrations.indexOf(mig);
    if (i >= 0) this.migrations.splice(i, 1);
    this.plane.pruneMoves(mig.moves);
    this.watch.maybeDropFallback(mig.to.family);
    // Its sessions no longer send from where they were: a path kept for that address may go.
    if (mig.state == MigratorState.RELEASED) for (let k = 0; k < mig.prevWire.length; k++) this.watch.leftAddress(mig.prevWire[k], now);
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
    memory.copy(TOKEN, tokenPtr(d.first(EXT_PATH_CHALLENGE)), TOKEN_LENGTH);
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
}
