// The migrator's state machine (PROTOCOL.md 7.2): its states, named as
// there, and every transition in one table. A Migration moves only through
// `migratorNext`; a (state, event) pair the table does not list changes
// nothing.

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

/** (state, event, next state), one row per transition of the diagram in 7.2. */
const TRANSITIONS: StaticArray<i32> = [
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
];

/** The state after `event` in `state`, or -1 if the table has no such transition. */
export function migratorNext(state: i32, event: i32): i32 {
  for (let i = 0; i < TRANSITIONS.length; i += 3) {
    if (unchecked(TRANSITIONS[i]) == state && unchecked(TRANSITIONS[i + 1]) == event) return unchecked(TRANSITIONS[i + 2]);
  }
  return -1;
}
