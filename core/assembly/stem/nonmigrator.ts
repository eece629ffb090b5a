// STEM's non-migrator (docs/PROTOCOL.md 7.4, 7.5, 7.3): the path validation
// of a peer's accepted migration or registration, its challenge resent by the
// engine's retransmitter until the Confirm, and the deferred Migration Reply.

import { Address } from "../engine/address";
import { Node, Procedure } from "../engine/node";
import { StemBase } from "./base";
import { NonMigratorState, NonMigratorEvent, nonMigratorNext } from "./states";
import { Peer } from "../engine/peer";
import { Retransmission, RetransmitPolicy, MAX_RTO_MS } from "../engine/retransmit";
import { DeferredReply } from "../engine/reply";
import { beginEvent, endEvent } from "../engine/output";
import { Move, MoveProcedure } from "./move";
import { exchangeFields } from "./events";
import { EXT_PATH_CHALLENGE, CODE_ACCEPTED, CODE_INSUFFICIENT_RESOURCES } from "../generated/registry";

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
    const node = v.stem.node;
    node.counters.retransmitted++;
    node.transmit(v.reply, v.replyTo, v.replyPort, null);
  }
  giveUp(now: f64): void {
    this.v.stem.validationTimedOut(this.v, now);
  }
}

/**
 * The non-migrator's side of one accepted migration (sections 7.4, 7.5), or
 * of a registration from an address the peer does not own yet (7.3: no
 * moves; the source becomes owned when the Confirm echoes the challenge).
 */
export class PathValidation extends MoveProcedure {
  stem: StemBase;
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
  constructor(stem: StemBase, peer: Peer, address: Address, replyTo: Address, replyPort: u32, now: f64) {
    super();
    this.stem = stem;
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
    const next = nonMigratorNext(this.state, event);
    if (next < 0) return false;
    this.state = next;
    return true;
  }

  /** The reply with the challenge went out: resend it until the Confirm, give up at the validation timeout. */
  startResend(now: f64): void {
    const node = this.stem.node;
    this.resend.start(node.timers, VALIDATION_POLICY, this.peer.rto(), now, node.options.validationTimeoutMs);
  }

  onActionsDone(node: Node, ok: bool, now: f64): void {
    if (this.reply.length > 0) return; // a later sync (quota lifted, rollback)
    if (!ok) {
      // The kernel refused: undo and refuse the request.
      this.step(NonMigratorEvent.KERNEL_FAILED);
      this.restore();
      this.stem.sync(null);
      this.replyLater(CODE_INSUFFICIENT_RESOURCES, now);
      this.stem.dropValidation(this);
      return;
    }
    // Step 407: the reply, to the new address.
    this.step(this.needsValidation ? NonMigratorEvent.APPLIED : NonMigratorEvent.APPLIED_OWNED);
    this.replyLater(CODE_ACCEPTED, now);
    peerMovedEvent(this.stem.node, this, this.needsValidation ? "unvalidated" : "validated", now);
    if (this.needsValidation) {
      this.startResend(now);
    } else {
      this.stem.dropValidation(this);
    }
  }

  restore(): void {
    for (let i = 0; i < this.moves.length; i++) {
      const m = this.moves[i];
      m.moveTo(this.prevWire[i], this.prevPort[i]);
      m.unvalidated = false;
      m.busy = null;
      this.stem.unquarantine(m.wire, m.peer);
    }
  }

  /** Builds, caches and sends the Migration Reply (the engine's deferred reply). */
  replyLater(code: u32, now: f64): void {
    const v = this;
    const h = v.deferred;
    if (!h) return;
    const node = this.stem.node;
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
