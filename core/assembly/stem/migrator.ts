// STEM's migrator (docs/PROTOCOL.md 7.2, 7.3): a migration of our own
// sessions and a registration with a peer, as procedures of the engine; the
// module (stem.ts) starts them and keeps their moves. Its states and
// transitions: stem/states.ts.

import { NETLINK_SOCK_DIAG } from "../kernel/linux";
import { IPPROTO_TCP, IPPROTO_UDP } from "../generated/registry";
import { Address } from "../engine/address";
import { Node, Procedure } from "../engine/node";
import { StemBase, MSG } from "./base";
import { MigratorState, MigratorEvent, migratorNext } from "./states";
import { Peer } from "../engine/peer";
import { bytesOf, beginEvent, endEvent } from "../engine/output";
import { Move, MoveProcedure } from "./move";
import { SocketInfo, parseSockets, socketDump, requestPtr } from "../kernel/rtnl";
import { Decoded } from "../wire/decode";
import { lifetimeSeconds } from "../wire/fields";
import { Encoder } from "../wire/encode";
import { cookieJson, codeJson, exchangeFields } from "./events";
import {
  MSG_MIGRATION_REQUEST, EXT_PATH_CHALLENGE, EXT_LIFETIME, CODE_ACCEPTED, ERR_TIMED_OUT, ERR_REFUSED, ERR_KERNEL,
  ERR_INVALID_ARGUMENT, errorName,
} from "../generated/registry";

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
  stem: StemBase;
  mig: Migration;
  sockets: Array<SocketInfo> = new Array<SocketInfo>();
  protocols: Array<u8> = new Array<u8>();
  constructor(stem: StemBase, mig: Migration) {
    super();
    this.stem = stem;
    this.mig = mig;
  }
  start(): void {
    const protos: StaticArray<u8> = [IPPROTO_TCP, IPPROTO_UDP];
    for (let k = 0; k < 2; k++) {
      this.protocols.push(protos[k]);
      const n = socketDump(this.mig.from.family, protos[k]);
      this.stem.node.netlinkAction(NETLINK_SOCK_DIAG, bytesOf(requestPtr(), n), this);
    }
  }
  onKernelOutput(node: Node, p: usize, n: i32): void {
    const proto = this.protocols.length ? this.protocols.shift() : IPPROTO_TCP;
    parseSockets(p, n, proto, this.sockets);
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    this.stem.sessionsProbed(this.mig, this.sockets, ok, now);
  }
}

/** One migration of our own address (section 7.2). */
export class Migration extends MoveProcedure {
  id: u32;
  stem: StemBase;
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
    const next = migratorNext(this.state, event);
    if (next < 0) return false;
    this.state = next;
    return true;
  }

  migrationId(): i32 {
    return <i32>this.id;
  }

  constructor(id: u32, stem: StemBase, peer: Peer, moves: Array<Move>, to: Address, toPort: u32, now: f64, opaque: Array<OpaqueItem>) {
    super();
    this.id = id;
    this.stem = stem;
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
        return;
      }
      // Step 308: the Migration Request, from the new address.
      this.step(MigratorEvent.APPLIED);
      migrationEvent(this.stem.node, this, "requesting", now);
      const p = this.peer;
      if (!node.sendRequest(now, p, MSG_MIGRATION_REQUEST, 0, this, p.controlFor(this.to.family), p.controlPort, this.to)) {
        this.fail(node, ERR_INVALID_ARGUMENT, 0, now);
      }
    } else if (this.state == MigratorState.ROLLING_BACK) {
      this.step(MigratorEvent.ROLLED_BACK);
      this.stem.finished(this, now);
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
    if (!this.beforeBreak) this.stem.releaseBefore(this.moves);
    for (let i = 0; i < this.moves.length; i++) {
      this.moves[i].held = false;
      this.moves[i].busy = null;
      this.moves[i].sendToo();
    }
    this.stem.sync(null);
    if (!this.beforeBreak) this.stem.release(now);
    migrationEvent(this.stem.node, this, "released", now);
    if (d.has(EXT_PATH_CHALLENGE)) this.stem.confirm(this.peer, d, this.peer.controlFor(this.to.family), this.to, now);
    migrationEvent(this.stem.node, this, "completed", now);
    this.stem.finished(this, now);
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
      this.stem.unquarantine(m.wire, m.peer);
    }
    this.step(MigratorEvent.FAIL);
    migrationEvent(this.stem.node, this, "failed", now);
    const synced = this.stem.sync(this);
    this.stem.release(now);
    if (!synced) {
      this.step(MigratorEvent.ROLLED_BACK);
      this.stem.finished(this, now);
    }
  }
}

/** The migrator's registration with a peer (section 7.3). */
export class Registration extends Procedure {
  stem: StemBase;
  peer: Peer;
  lifetime: u32;
  opaque: Array<OpaqueItem>;
  constructor(stem: StemBase, peer: Peer, lifetime: u32, opaque: Array<OpaqueItem>) {
    super();
    this.stem = stem;
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
    if (code == CODE_ACCEPTED && d.has(EXT_PATH_CHALLENGE)) this.stem.confirm(this.peer, d, this.peer.control, null, now);
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
