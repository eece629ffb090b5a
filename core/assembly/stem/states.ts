// STEM's state machines: the migrator's (PROTOCOL.md 7.2), its states named
// as there, and the non-migrator's (7.3-7.5), each with every transition in
// one table of the same type (TransitionTable). A Migration moves only
// through MIGRATOR, a PathValidation only through NON_MIGRATOR; a (state,
// event) pair a table does not list changes nothing.

/** A state machine's transitions: rows of (state, event, next state). */
export class TransitionTable {
  private rows: StaticArray<i32>;
  constructor(rows: StaticArray<i32>) {
    this.rows = rows;
  }
  /** The state after `event` in `state`, or -1 if the table has no such transition. */
  next(state: i32, event: i32): i32 {
    const rows = this.rows;
    for (let i = 0; i < rows.length; i += 3) {
      if (unchecked(rows[i]) == state && unchecked(rows[i + 1]) == event) return unchecked(rows[i + 2]);
    }
    return -1;
  }
}

/** The migrator's states (7.2). IDLE is where a migration starts, and where it ends after a rollback. */
export enum MigratorState {
  IDLE = 0,
  /** A first migration of all ports: sock_diag says which sessions use the old address. */
  PROBING = 1,
  /** Steps 304-307: the identity, the rewrites and the hold, in one kernel transaction. */
  APPLYING = 2,
  /** Step 308: the Migration Request is out, from the new address. */
  REQUESTING = 3,
  /** Steps 309-310: accepted; the hold released, the Confirm sent (the migration completed). */
  RELEASED = 4,
  /** Refused, timed out or failed: the moves go back, the hold is released. */
  ROLLING_BACK = 5,
}

/** What moves a migration on (7.2). */
export enum MigratorEvent {
  /** migrate(), a first migration of all ports with the kernel set up. */
  PROBE = 0,
  /** migrate() with the sessions known, or the probe found them. */
  APPLY = 1,
  /** Nothing to move: no session on the old address, or the sessions are there already. */
  NOTHING_TO_MOVE = 2,
  /** The kernel actions are done. */
  APPLIED = 3,
  /** An authenticated reply with code 1. */
  ACCEPTED = 4,
  /** Refused (code >= 128, not 133), no reply in time, or a kernel action or the send failed. */
  FAIL = 5,
  /** The rollback's kernel actions are done. */
  ROLLED_BACK = 6,
}

/** The migrator's table: one row per transition of the diagram in 7.2. */
export const MIGRATOR = new TransitionTable([
  MigratorState.IDLE, MigratorEvent.PROBE, MigratorState.PROBING,
  MigratorState.IDLE, MigratorEvent.APPLY, MigratorState.APPLYING,
  MigratorState.IDLE, MigratorEvent.NOTHING_TO_MOVE, MigratorState.RELEASED,
  MigratorState.PROBING, MigratorEvent.APPLY, MigratorState.APPLYING,
  MigratorState.PROBING, MigratorEvent.NOTHING_TO_MOVE, MigratorState.RELEASED,
  MigratorState.APPLYING, MigratorEvent.APPLIED, MigratorState.REQUESTING,
  MigratorState.APPLYING, MigratorEvent.FAIL, MigratorState.ROLLING_BACK,
  MigratorState.REQUESTING, MigratorEvent.ACCEPTED, MigratorState.RELEASED,
  MigratorState.REQUESTING, MigratorEvent.FAIL, MigratorState.ROLLING_BACK,
  MigratorState.ROLLING_BACK, MigratorEvent.ROLLED_BACK, MigratorState.IDLE,
]);

// The non-migrator's state machine (PROTOCOL.md 7.3-7.5), one per path
// validation (nonmigrator.ts PathValidation).

/** The non-migrator's states (7.4, 7.5). */
export enum NonMigratorState {
  /** Made: a Migration Request passed 7.4 steps 1-4, or a Registration Request came from an unowned source. */
  IDLE = 0,
  /** 7.4 step 5: the mappings' rules in one kernel transaction; the reply waits for it. */
  APPLYING = 1,
  /** 7.4 step 6, 7.5: the reply with the Path Challenge is out, resent until the Confirm (quota on). */
  VALIDATING = 2,
  /** The new address (or registration source) is owned: proven by the Confirm, or owned already. */
  VALIDATED = 3,
  /** The kernel refused (reply 130), or no Confirm within the validation timeout: rolled back. */
  FAILED = 4,
  /** A later migration of the same mapping, or a later registration from the same source, took over. */
  SUPERSEDED = 5,
}

/** What moves a path validation on. */
export enum NonMigratorEvent {
  /** A Migration Request accepted: its rules queued (7.4 step 5). */
  APPLY = 0,
  /** A registration's reply with the challenge went out (7.3). */
  CHALLENGED = 1,
  /** The kernel actions are done and the new address is owned: the reply (code 1) without a challenge. */
  APPLIED_OWNED = 2,
  /** The kernel actions are done: the reply (code 1) with the challenge. */
  APPLIED = 3,
  /** The kernel refused the rules. */
  KERNEL_FAILED = 4,
  /** A Confirm echoed the challenge. */
  CONFIRMED = 5,
  /** No Confirm within the validation timeout. */
  TIMED_OUT = 6,
  /** A later request took the mapping or the source over. */
  SUPERSEDE = 7,
}

/** The non-migrator's table: one row per transition of the table in 7.5. */
export const NON_MIGRATOR = new TransitionTable([
  NonMigratorState.IDLE, NonMigratorEvent.APPLY, NonMigratorState.APPLYING,
  NonMigratorState.IDLE, NonMigratorEvent.CHALLENGED, NonMigratorState.VALIDATING,
  NonMigratorState.APPLYING, NonMigratorEvent.APPLIED_OWNED, NonMigratorState.VALIDATED,
  NonMigratorState.APPLYING, NonMigratorEvent.APPLIED, NonMigratorState.VALIDATING,
  NonMigratorState.APPLYING, NonMigratorEvent.KERNEL_FAILED, NonMigratorState.FAILED,
  NonMigratorState.APPLYING, NonMigratorEvent.SUPERSEDE, NonMigratorState.SUPERSEDED,
  NonMigratorState.VALIDATING, NonMigratorEvent.CONFIRMED, NonMigratorState.VALIDATED,
  NonMigratorState.VALIDATING, NonMigratorEvent.TIMED_OUT, NonMigratorState.FAILED,
  NonMigratorState.VALIDATING, NonMigratorEvent.SUPERSEDE, NonMigratorState.SUPERSEDED,
]);
