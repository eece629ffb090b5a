// The engine's one retransmitter (PROTOCOL.md 6.7): a message sent again,
// byte for byte, with the RTO doubling up to a cap, until the procedure that
// sent it ends it, or until its policy's transmissions or lifetime are spent
// (then it gives up). Every procedure uses it with its own policy: a request
// until its reply (REQUEST_POLICY), a Migration or Registration Reply with a
// challenge until its Confirm (the path validation's policy: no count, the
// validation timeout as lifetime).

import { Timer, TimerTable } from "./timers";

/** RTT estimation bounds (section 6.7, RFC 6298 constants). */
export const INITIAL_RTO_MS: f64 = 200;
export const MIN_RTO_MS: f64 = 10;
export const MAX_RTO_MS: f64 = 2000;
/** Transmissions of a request before it fails (section 6.7). */
export const MAX_TRANSMISSIONS: i32 = 7;
/** Time after the first transmission after which a request fails. */
export const REQUEST_TIMEOUT_MS: f64 = 10000;

export class RetransmitPolicy {
  /** Transmissions, the first included, after which it gives up (i32.MAX_VALUE: no limit). */
  maxTransmissions: i32;
  /** Time after the first transmission at which it gives up (start may give another). */
  lifetimeMs: f64;
  /** The RTO doubles with each retransmission up to this. */
  maxRtoMs: f64;
  constructor(maxTransmissions: i32, lifetimeMs: f64, maxRtoMs: f64) {
    this.maxTransmissions = maxTransmissions;
    this.lifetimeMs = lifetimeMs;
    this.maxRtoMs = maxRtoMs;
  }
}

/** A request, until its reply (6.7). */
export const REQUEST_POLICY = new RetransmitPolicy(MAX_TRANSMISSIONS, REQUEST_TIMEOUT_MS, MAX_RTO_MS);

/**
 * One message being retransmitted. `start` after the first transmission;
 * the subclass sends again (`resend`) and hears when it gives up (`giveUp`);
 * the procedure ends it with `stop` when the answer came.
 */
export abstract class Retransmission extends Timer {
  policy: RetransmitPolicy = REQUEST_POLICY;
  table: TimerTable | null = null;
  firstSent: f64 = 0;
  transmissions: i32 = 0;
  rto: f64 = 0;
  /** When it gives up: firstSent + the lifetime. */
  deadline: f64 = Infinity;

  /** The first transmission went out at `now`, with the peer's RTO; lifetimeMs overrides the policy's. */
  start(table: TimerTable, policy: RetransmitPolicy, rto: f64, now: f64, lifetimeMs: f64 = -1): void {
    this.table = table;
    this.policy = policy;
    this.firstSent = now;
    this.transmissions = 1;
    this.rto = rto;
    this.deadline = now + (lifetimeMs >= 0 ? lifetimeMs : policy.lifetimeMs);
    table.arm(this, Math.min(now + rto, this.deadline));
  }

  stop(): void {
    const t = this.table;
    if (t) t.disarm(this);
  }

  fire(now: f64): void {
    if (this.transmissions >= this.policy.maxTransmissions || now >= this.deadline) {
      this.giveUp(now);
      return;
    }
    this.transmissions++;
    this.rto = Math.min(this.rto * 2, this.policy.maxRtoMs);
    this.table!.arm(this, Math.min(now + this.rto, this.deadline));
    this.resend(now);
  }

  /** Sends the message again (and counts it). */
  abstract resend(now: f64): void;
  /** The policy is spent: no answer came. */
  abstract giveUp(now: f64): void;
}
