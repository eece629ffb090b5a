// STEM's non-migrator (docs/PROTOCOL.md 7.4, 7.5, 7.3): the NonMigrator that
// handles the peers' Registration, Migration and Confirm requests (7.3, 7.4
// steps 1-5), and the path validation of an accepted migration or
// registration, its challenge resent by the engine's retransmitter until the
// Confirm, and the deferred Migration Reply.

import { Address } from "../engine/address";
import { Node } from "../engine/node";
import { NonMigratorState, NonMigratorEvent, NON_MIGRATOR } from "./states";
import { Peer, SecurityAssociation, CachedReply } from "../engine/peer";
import { Retransmission, RetransmitPolicy, MAX_RTO_MS } from "../engine/retransmit";
import { DeferredReply } from "../engine/reply";
import { beginEvent, endEvent } from "../engine/output";
import { Move, MoveProcedure } from "./move";
import { Plane } from "./dataplane";
import { cookieJson, codeJson, exchangeFields } from "./events";
import { Decoded } from "../wire/decode";
import {
  extType, lifetimeSeconds, opaqueSubtype, opaqueFlags, opaqueDataPtr, opaqueDataLength,
  endpointsProtocols, endpointsPortA, endpointsPortB, endpointsAddressA, endpointsAddressB, tokenPtr, TOKEN_LENGTH,
} from "../wire/fields";
import { drbg } from "../crypto/drbg";
import { ctEqual } from "../crypto/ct";
import {
  MSG_REGISTRATION_REQUEST, MSG_MIGRATION_REQUEST, MSG_MIGRATION_CONFIRM, EXT_MIGRATION, EXT_PATH_CHALLENGE,
  EXT_PATH_RESPONSE, EXT_LIFETIME, EXT_OPAQUE_DATA, CODE_ACCEPTED, CODE_ADMINISTRATIVELY_PROHIBITED,
  CODE_INSUFFICIENT_RESOURCES, CODE_POORLY_FORMED_REQUEST, CODE_ADDRESS_NOT_ALLOWED, CODE_TOO_MANY_PENDING,
  ERR_BAD_ADDRESS, opaqueSubtypeName,
} from "../generated/registry";

/** A path validation's challenge (7.3, 7.5), sent again until the Confirm comes or the validation timeout. */
export const VALIDATION_POLICY = new RetransmitPolicy(i32.MAX_VALUE, 0, MAX_RTO_MS);

export class ValidationResend extends Retransmission {
  v: PathValidation;
  constructor(v: PathValidation) {
    super();
    this.v = v;
  }
  resend(now: f64): void {
    const v = this.v;
    if (v.reply.length == 0) return;
    const node = v.owner.node;
    node.counters.retransmitted++;
    node.transmit(v.reply, v.replyTo, v.replyPort, null);
  }
  giveUp(now: f64): void {
    this.v.owner.validationTimedOut(this.v, now);
  }
}

/**
 * The non-migrator's side of one accepted migration (sections 7.4, 7.5), or
 * of a registration from an address the peer does not own yet (7.3: no
 * moves; the source becomes owned when the Confirm echoes the challenge).
 */
export class PathValidation extends MoveProcedure {
  owner: NonMigrator;
  peer: Peer;
  address: Address;
  replyTo: Address;
  replyPort: u32;
  token: StaticArray<u8> = new StaticArray<u8>(8);
  needsValidation: bool;
  /** A registration's return-routability check, granting `lifetime` seconds of ownership. */
  registration: bool = false;
  lifetime: u32 = 0;
  /** True while this validation counts against the peer's pending paths. */
  counted: bool = false;
  /** The reply, once sent; retransmitted until the Confirm arrives. */
  reply: StaticArray<u8> = new StaticArray<u8>(0);
  /** Its retransmitter: the reply's, until the Confirm; its lifetime is the validation timeout. */
  resend!: ValidationResend;
  startedAt: f64;
  /** A migration's: the Migration Reply sent once the kernel actions are done (the engine's handle). */
  deferred: DeferredReply | null = null;
  /** Where it is in the non-migrator's table (stem/states.ts). */
  state: i32 = NonMigratorState.IDLE;
  constructor(owner: NonMigrator, peer: Peer, address: Address, replyTo: Address, replyPort: u32, now: f64) {
    super();
    this.owner = owner;
    this.peer = peer;
    this.address = address.copy();
    this.replyTo = replyTo.copy();
    this.replyPort = replyPort;
    this.startedAt = now;
    this.needsValidation = false;
    this.resend = new ValidationResend(this);
  }

  /** Moves on by the table of stem/states.ts (7.4, 7.5); false if it has no such transition. */
  step(event: i32): bool {
    const next = NON_MIGRATOR.next(this.state, event);
    if (next < 0) return false;
    this.state = next;
    return true;
  }

  /** A later migration of its moves takes over (7.4 step 5): true if it was still under way. */
  supersede(): bool {
    return this.owner.superseded(this);
  }

  validationDeadline(): f64 {
    return !this.registration && this.state == NonMigratorState.VALIDATING ? this.resend.deadline : -1;
  }

  /** The reply with the challenge went out: resend it until the Confirm, give up at the validation timeout. */
  startResend(now: f64): void {
    const node = this.owner.node;
    this.resend.start(node.timers, VALIDATION_POLICY, this.peer.rto(), now, node.options.validationTimeoutMs);
  }

  onActionsDone(node: Node, ok: bool, now: f64): void {
    if (this.reply.length > 0) return; // a later sync (quota lifted, rollback)
    if (!ok) {
      // The kernel refused: undo and refuse the request.
      this.step(NonMigratorEvent.KERNEL_FAILED);
      this.restore();
      this.owner.plane.sync(null);
      this.replyLater(CODE_INSUFFICIENT_RESOURCES, now);
      this.owner.dropValidation(this);
      return;
    }
    // Step 407: the reply, to the new address.
    this.step(this.needsValidation ? NonMigratorEvent.APPLIED : NonMigratorEvent.APPLIED_OWNED);
    this.replyLater(CODE_ACCEPTED, now);
    peerMovedEvent(this.owner.node, this, this.needsValidation ? "unvalidated" : "validated", now);
    if (this.needsValidation) {
      this.startResend(now);
    } else {
      this.owner.dropValidation(this);
    }
  }

  restore(): void {
    for (let i = 0; i < this.moves.length; i++) {
      const m = this.moves[i];
      m.moveTo(this.prevWire[i], this.prevPort[i]);
      m.unvalidated = false;
      m.busy = null;
      this.owner.plane.unquarantine(m.wire, m.peer);
    }
  }

  /** Builds, caches and sends the Migration Reply (the engine's deferred reply). */
  replyLater(code: u32, now: f64): void {
    const v = this;
    const h = v.deferred;
    if (!h) return;
    const node = this.owner.node;
    const enc = node.beginDeferred(h, code);
    if (code == CODE_ACCEPTED && v.needsValidation) enc.token(EXT_PATH_CHALLENGE, changetype<usize>(v.token));
    if (node.finishDeferred(h, now)) v.reply = h.bytes;
  }
}

/** The non-migrator's event (docs/USAGE.md "peer-migration"). */
export function peerMovedEvent(node: Node, v: PathValidation, state: string, now: f64): void {
  const e = beginEvent("peer-migration", now);
  e.key("state");
  e.str(state);
  exchangeFields(e, v.peer, v.prevWire.length ? v.prevWire[0] : v.address, v.address, v.moves.length, now - v.startedAt);
  node.emit(endEvent());
}

/**
 * The non-migrator (7.3-7.5): the peers' Registration, Migration and
 * Confirm requests, their moves and path validations. Its procedure
 * (PathValidation) calls back here, typed.
 */
export class NonMigrator {
  node: Node;
  plane: Plane;
  validations: Array<PathValidation> = new Array<PathValidation>();

  constructor(node: Node, plane: Plane) {
    this.node = node;
    this.plane = plane;
  }

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
    v.reply = cache.takeReply();
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

  /**
   * A restart restores a move that was unvalidated (docs/PROTOCOL.md 7.5,
   * "Restarts"): it stays unvalidated, its quota element as the kernel holds
   * it, and its validation goes on until `deadline`, then times out as any
   * other (back to `prev`; a crash restart knows no earlier wire endpoint and
   * gives the original, which ends the move). The challenge died with the
   * previous run: no Confirm can match it (none is resent), but a later
   * migration of the move supersedes it as usual.
   */
  resume(m: Move, prev: Address, prevPort: u32, deadline: f64, now: f64): void {
    // The moves of one validation (one peer, one address, one deadline) come back as one: one pending path, as before.
    const lifetime = Math.max(0, deadline - now);
    for (let i = 0; i < this.validations.length; i++) {
      const w = this.validations[i];
      if (w.registration || w.deferred != null || w.peer != m.peer || !w.address.equals(m.wire) || w.resend.deadline != now + lifetime) continue;
      w.moves.push(m);
      w.prevWire.push(prev.copy());
      w.prevPort.push(prevPort);
      m.unvalidated = true;
      m.busy = w;
      return;
    }
    const v = new PathValidation(this, m.peer, m.wire, m.wire, m.wirePort, now);
    v.needsValidation = true;
    v.moves.push(m);
    v.prevWire.push(prev.copy());
    v.prevPort.push(prevPort);
    v.state = NonMigratorState.VALIDATING;
    m.unvalidated = true;
    m.busy = v;
    m.peer.pendingPaths++;
    v.counted = true;
    this.validations.push(v);
    v.resend.start(this.node.timers, VALIDATION_POLICY, MAX_RTO_MS, now, lifetime);
  }

  /** True while a validation is under way that a clean stop cannot save (a registration's, or one not yet applied). */
  unsaveable(): bool {
    for (let i = 0; i < this.validations.length; i++) if (this.validations[i].validationDeadline() < 0) return true;
    return false;
  }

  /** Ends the validation a move is busy with, if any, and returns it. */
  private supersede(m: Move): MoveProcedure | null {
    const busy = m.busy;
    if (!busy) return null;
    if (!busy.supersede()) return null;
    return busy;
  }

  /** A later migration of its moves takes over from `v` (PathValidation.supersede): false if it is no longer under way. */
  superseded(v: PathValidation): bool {
    const i = this.validations.indexOf(v);
    if (i < 0) return false;
    v.step(NonMigratorEvent.SUPERSEDE);
    v.resend.stop();
    this.uncount(v);
    this.validations.splice(i, 1);
    return true;
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
    const token = tokenPtr(d.first(EXT_PATH_RESPONSE));
    for (let i = 0; i < this.validations.length; i++) {
      const v = this.validations[i];
      if (v.peer != peer || !v.needsValidation || v.reply.length == 0) continue;
      if (!ctEqual(token, changetype<usize>(v.token), TOKEN_LENGTH)) continue;
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

  private uncount(v: PathValidation): void {
    if (v.counted) v.peer.pendingPaths--;
    v.counted = false;
  }

  dropValidation(v: PathValidation): void {
    v.resend.stop();
    this.uncount(v);
    const i = this.validations.indexOf(v);
    if (i >= 0) this.validations.splice(i, 1);
    for (let j = 0; j < v.moves.length; j++) v.moves[j].busy = null;
    this.plane.pruneMoves(v.moves);
  }

  /** A path validation got no Confirm within the validation timeout. */
  validationTimedOut(v: PathValidation, now: f64): void {
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
