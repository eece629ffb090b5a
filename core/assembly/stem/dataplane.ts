// STEM's data plane (docs/dataplane.md): the move and quarantine tables, the
// rules they render (stem/nft.ts, STEM's own table, so no other module's
// rules are touched), the identities kept on lo, the hold and its release,
// the quarantines' ends and the idle sweep's schedule. The migrator and the
// non-migrator (migrator.ts, nonmigrator.ts) change moves; this file puts
// them in the kernel. It imports nothing of the module but move.ts and
// nft.ts: what it needs of the address watch and the sweep comes through
// PlaneHost.

import { journal } from "./journal";
import { EADDRNOTAVAIL, EEXIST, ENOENT, LOOPBACK_IFINDEX, NETLINK_NETFILTER, NETLINK_ROUTE } from "../kernel/linux";
import { Address } from "../engine/address";
import { Node, Procedure } from "../engine/node";
import { Peer } from "../engine/peer";
import { Timer } from "../engine/timers";
import { bytesOf } from "../engine/output";
import { Move, Quarantine, QuarantineSink, heldCount, forgetMoves } from "./move";
import { Dataplane } from "./nft";
import { addressMessage, messagePtr } from "../kernel/netlink";
import { queueConfig, queueRuleBatch, verdictBatch, bufferPtr, NetlinkSummary, DEFAULT_QUEUE, LOST_MARK } from "../kernel/nfqueue";

/** The follow-up release, after the first (docs/dataplane.md section 2). */
const RELEASE_AGAIN_MS: f64 = 10;
/** How often to look for ended sessions. */
export const SWEEP_MS: f64 = 5000;
/**
 * And longer with many moves (over 10,000): a sweep lists every move's
 * counters (one listing, about 30 us per move on the development machine),
 * so the time between sweeps grows with the table and the sweep stays a
 * small share of the daemon's time (docs/dataplane.md, "At server scale").
 */
const SWEEP_MS_PER_MOVE: f64 = 0.5;

/** What the data plane asks of the rest of the module (the address watch, the sweep); stem.ts implements it. */
export abstract class PlaneHost {
  /** The lost addresses whose sessions are not known yet (their packets stay held). */
  abstract probing(): Array<Address>;
  /** True while any lost address's sessions are not known yet. */
  abstract anyProbing(): bool;
  /** The guard is on: every usable address of the host stays on lo. */
  abstract guarding(): bool;
  /** The host's usable addresses (its interfaces). */
  abstract hostAddresses(): Array<Address>;
  /** The sweep's time came and there are moves: start a sweep (stem/lifecycle.ts), which ends in sweepDone. */
  abstract startSweep(): void;
}

/** Hears of the quarantines' ends (7.7) for the plane: one per module, not one per quarantine. */
class PlaneQuarantines extends QuarantineSink {
  plane: Plane;
  constructor(plane: Plane) {
    super();
    this.plane = plane;
  }
  quarantineEnded(q: Quarantine, now: f64): void {
    this.plane.quarantineEnded(q, now);
  }
}

/** The plane's own timers: the follow-up release, the sweep, one batch for the quarantines that ended. */
const T_RELEASE: i32 = 0;
const T_SWEEP: i32 = 1;
const T_QUARANTINE_SYNC: i32 = 2;

class PlaneTimer extends Timer {
  plane: Plane;
  kind: i32;
  /** The time it was armed for (kept while a sweep is overdue). */
  due: f64 = Infinity;
  constructor(plane: Plane, kind: i32) {
    super();
    this.plane = plane;
    this.kind = kind;
  }
  fire(now: f64): void {
    const plane = this.plane;
    if (this.kind == T_RELEASE) plane.releaseAgain();
    else if (this.kind == T_SWEEP) plane.sweepDue(now);
    else plane.quarantinesEnded();
  }
}

export class Plane {
  node: Node;
  host!: PlaneHost;
  /** Every move (each knows its slot here, for removal in O(1); the order is not meaningful). */
  moves: Array<Move> = new Array<Move>();
  /** The local moves (ours), which the address watch and the hold look through. */
  locals: Array<Move> = new Array<Move>();
  /** STEM's nftables renderer (stem/nft.ts). */
  dp: Dataplane = new Dataplane();
  nextMoveId: u32 = 1;
  /** A release was asked for while something else still held: it happens when that ends. */
  releaseWaits: bool = false;
  quarantines: Array<Quarantine> = new Array<Quarantine>();
  /** The kernel was set up: sock_diag can say which sessions a migration carries. */
  kernelReady: bool = false;
  /** Data-plane batches queued so far (sync): the watch tells by it whether a migration wrote the hold. */
  syncs: u32 = 0;
  /** Each peer's moves, by peer id: the lookups of a request stay within one peer's bounded share. */
  private byPeer: Map<i32, Array<Move>> = new Map<i32, Array<Move>>();
  /** Quarantines by wire address (addressKey). */
  private quarantined: Map<u64, Array<Quarantine>> = new Map<u64, Array<Quarantine>>();
  /** The control ports, as last computed, and for how many peers. */
  private ports: Array<u32> = new Array<u32>();
  private portsFor: i32 = -1;
  /** The addresses we keep on lo (keepIdentities). */
  identities: Array<Address> = new Array<Address>();
  /** The NFQUEUE number of the hold. */
  queue: u32 = DEFAULT_QUEUE;
  /** Highest queue packet id seen (serial arithmetic). */
  lastQueueId: u32 = 0;
  /**
   * The queue of a lost address's packets whose sessions are not known yet
   * (the tag chain's "lost" rule, LOST_MARK): the hold's queue + 3 (SID has
   * + 1 and + 2). Released only once no lost address is being probed, so
   * that a migration's reply can release the sessions it carries at once.
   */
  lostQueue: u32 = (DEFAULT_QUEUE + 3) & 0xffff;
  /** Highest packet id seen in the lost queue. */
  lastLostId: u32 = 0;
  /**
   * Verdicts still due to the lost queue: 2 (the release and its follow-up)
   * whenever a batch had lost addresses in it; 0 when the queue cannot hold
   * anything (no lost address since its last release and follow-up).
   */
  private lostVerdicts: i32 = 0;
  /** Held packets the kernel reported, for counters. */
  heldPackets: u64 = 0;
  /** When to send the follow-up release (not armed: none pending). */
  private releaseTimer!: PlaneTimer;
  /** When to look for moves whose sessions ended (not armed: kernel not set up, or a sweep is under way). */
  private sweepTimer!: PlaneTimer;
  /** The sweep's time came with no move and no guard: it runs as soon as there is one. */
  private sweepOverdue: bool = false;
  /** The quarantines that ended at one time leave in one batch. */
  private quarantineSync!: PlaneTimer;
  private quarantineSink!: PlaneQuarantines;
  private quarantinesChanged: bool = false;
  sweeping: bool = false;

  constructor(node: Node) {
    this.node = node;
    this.releaseTimer = new PlaneTimer(this, T_RELEASE);
    this.sweepTimer = new PlaneTimer(this, T_SWEEP);
    this.quarantineSync = new PlaneTimer(this, T_QUARANTINE_SYNC);
    this.quarantineSink = new PlaneQuarantines(this);
    forgetMoves();
  }

  // ---- the move table ----

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

  /** Drops those of `moves` that came back to their original address, and their identities. */
  pruneMoves(moves: Array<Move>): void {
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

  /** Removes every move and quarantine (a teardown); their elements go with the next batch. */
  clear(): void {
    while (this.moves.length) this.removeMove(this.moves[this.moves.length - 1]);
    while (this.quarantines.length) this.dropQuarantine(this.quarantines[this.quarantines.length - 1]);
  }

  // ---- the kernel ----

  /** Queues the elements that changed as one kernel action (stem/nft.ts). */
  sync(owner: Procedure | null): bool {
    this.syncs++;
    const lost = this.host.probing();
    if (lost.length) this.lostVerdicts = 2;
    const id = this.node.nftAction(this.dp.sync(this.moves, this.quarantines, this.controlPorts(), lost), owner);
    journal.sent(id); // its record goes to the host once the kernel committed it (stem/journal.ts)
    if (this.dp.holdLost) {
      // The table was re-created: the queue rule goes back in.
      this.dp.holdLost = false;
      const q = queueRuleBatch(this.queue);
      this.node.netlinkAction(NETLINK_NETFILTER, bytesOf(bufferPtr(), q), owner);
      const l = queueRuleBatch(this.lostQueue, LOST_MARK);
      this.node.netlinkAction(NETLINK_NETFILTER, bytesOf(bufferPtr(), l), owner);
    }
    return true;
  }

  /**
   * The kernel side, once at start (docs/dataplane.md section 2): table and
   * chains, the queue binding on the host's netfilter socket, the hold rule.
   */
  setup(queue: u32, guard: bool, earlier: bool = false): void {
    this.queue = queue;
    this.lostQueue = (queue + 3) & 0xffff;
    this.dp.guard = guard;
    // An earlier version's table: no setup batch (it would fail); the next batch makes the table anew.
    if (earlier) this.dp.recreate();
    else this.node.nftAction(this.dp.renderSetup(), null);
    const c = queueConfig(queue);
    this.node.netlinkAction(NETLINK_NETFILTER, bytesOf(bufferPtr(), c), null);
    const r = queueRuleBatch(queue);
    this.node.netlinkAction(NETLINK_NETFILTER, bytesOf(bufferPtr(), r), null);
    const lc = queueConfig(this.lostQueue);
    this.node.netlinkAction(NETLINK_NETFILTER, bytesOf(bufferPtr(), lc), null);
    const lr = queueRuleBatch(this.lostQueue, LOST_MARK);
    this.node.netlinkAction(NETLINK_NETFILTER, bytesOf(bufferPtr(), lr), null);
    this.kernelReady = true;
  }

  /** Removes STEM's table (the end of a teardown). */
  teardown(): void {
    this.node.nftAction(this.dp.renderTeardown(), null);
  }

  /** An nftables batch failed: the next batch renders everything again. */
  failed(): void {
    this.dp.failed();
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
    const lost = this.host.probing();
    for (let i = 0; i < lost.length; i++) addUnique(want, lost[i]);
    if (this.host.guarding()) {
      const locals = this.host.hostAddresses();
      for (let i = 0; i < locals.length; i++) addUnique(want, locals[i]);
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

  /** True if `a` is one of the addresses we keep on lo. */
  isIdentity(a: Address): bool {
    return indexOfAddress(this.identities, a) >= 0;
  }

  // ---- the sweep's schedule ----

  armSweep(at: f64): void {
    this.sweepOverdue = false;
    this.sweepTimer.due = at;
    this.node.timers.arm(this.sweepTimer, at);
  }

  /** The sweep's time came: look for moves whose sessions ended (lifecycle.ts Sweep). */
  sweepDue(now: f64): void {
    if (this.sweeping) return;
    if (this.moves.length) {
      this.sweeping = true;
      this.host.startSweep();
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
    if (this.dp.guard && !this.holding(null)) this.sendVerdicts(true);
  }

  // ---- the hold (7.2 steps 305, 310) ----

  /**
   * Releases every held packet (step 310): one verdict for all queued ids up
   * to 2^30 past the last one seen, and the same again shortly after, for
   * packets that were entering the queue while the rule changed. Holds that
   * overlap end together, when the last of them ends. Two queues
   * (docs/dataplane.md section 2, "two queues"): the held sessions' (and the
   * guard's) go once no local move is held; the lost addresses' catch-all
   * (sessions not known yet) only once no lost address is being probed
   * either, and then first, since a session found by the dumps has its older
   * packets there and its newer ones in the held queue.
   */
  release(now: f64): void {
    // The held queue is one for all migrations: while another hold lasts, its
    // packets must stay, so the release waits for the last hold to end.
    if (this.holding(null, false)) {
      this.releaseWaits = true;
      return;
    }
    const lost = !this.host.anyProbing();
    // The lost queue's release waits for the dumps' answer (stem/watch.ts sessionsFound).
    this.releaseWaits = !lost;
    this.sendVerdicts(lost);
    this.node.timers.arm(this.releaseTimer, now + RELEASE_AGAIN_MS);
  }

  /** The follow-up release's time came. */
  releaseAgain(): void {
    // A hold that began since the release owns the queue now: its own release follows.
    if (!this.holding(null, false)) this.sendVerdicts(!this.host.anyProbing());
  }

  /**
   * True while some packet in the queues must stay there: a local move other
   * than those in `except` is held, or (lost: for the lost queue) a lost
   * address's sessions are not known yet (docs/dataplane.md section 2, "one
   * queue, many holds").
   */
  holding(except: Array<Move> | null, lost: bool = true): bool {
    let n = heldCount();
    if (except) for (let i = 0; i < except.length; i++) if (except[i].held && except[i].live) n--;
    return n > 0 || (lost && this.host.anyProbing());
  }

  /**
   * The first half of a release: if no hold but these moves' lasts, release
   * the queue while the rules still mark (so that nothing sent later leaves
   * before the held packets).
   */
  releaseBefore(moves: Array<Move>): void {
    if (this.holding(moves, false)) return;
    this.sendVerdicts(!this.host.anyProbing());
  }

  /** The verdicts: the lost queue first (if `lost`), then the held queue. */
  private sendVerdicts(lost: bool): void {
    if (lost && this.lostVerdicts > 0) {
      this.lostVerdicts--;
      this.sendVerdict(this.lostQueue, this.lastLostId);
    }
    this.sendVerdict(this.queue, this.lastQueueId);
  }

  private sendVerdict(queue: u32, lastId: u32): void {
    const v = verdictBatch(queue, lastId + 0x40000000);
    // No acknowledgement is asked; an empty queue answers ENOENT, which is fine.
    this.node.netlinkAction(NETLINK_NETFILTER, bytesOf(bufferPtr(), v), null, false, ENOENT);
  }

  netlinkSeen(s: NetlinkSummary): void {
    if (s.lostPackets > 0) {
      this.heldPackets += <u64>s.lostPackets;
      if (<i32>(s.lostLastId - this.lastLostId) > 0) this.lastLostId = s.lostLastId;
    }
    if (s.packets == 0) return;
    this.heldPackets += <u64>s.packets;
    if (<i32>(s.lastId - this.lastQueueId) > 0) this.lastQueueId = s.lastId;
  }

  // ---- quarantines (7.7) ----

  quarantineFrom(m: Move, now: f64): void {
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
  quarantinedForOthers(a: Address, peer: Peer): bool {
    const list = this.quarantinesAt(a);
    for (let i = 0; i < list.length; i++) {
      const q = list[i];
      if (q.address.equals(a) && q.peer != peer) return true;
    }
    return false;
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
