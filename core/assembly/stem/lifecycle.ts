// The life of moves across daemon restarts and session ends.
//
// - Restore: a restarted daemon lists its wire-side maps; the element
//   comments name the moves (stem/table.ts), which it takes over before it
//   re-creates the table from them in one transaction, so the sessions never
//   see a gap.
// - Sweep: every few seconds (longer with many moves), a move whose elements
//   counted no packet for a while and that no TCP socket uses any more has
//   ended with its sessions: its elements and identity address go. (UDP has
//   no end but silence.)

import { NETLINK_SOCK_DIAG } from "../kernel/linux";
import { IPPROTO_TCP, IPPROTO_UDP } from "../generated/registry";
import { Node, Procedure, ANY_STATUS } from "../engine/node";
import { beginEvent, endEvent, bytesOf } from "../engine/output";
import { Move } from "./move";
import { Stem, cookieJson } from "./stem";
import { TableEntry, parseTable } from "./table";
import { SocketInfo, parseSockets, socketDump, requestPtr } from "../kernel/rtnl";

import { FAMILY_IPV4, FAMILY_IPV6, PROTO_UDP, OUT_NFT } from "../generated/registry";
import { listCommands } from "../kernel/nft";

/** Takes over the moves a previous run of the daemon left in the kernel. */
export class Restore extends Procedure {
  stem: Stem;
  entries: Array<TableEntry> = new Array<TableEntry>();
  index: Map<u32, TableEntry> = new Map<u32, TableEntry>();
  constructor(stem: Stem) {
    super();
    this.stem = stem;
  }
  start(): void {
    // A missing table (first start) is no failure.
    const lists = listCommands();
    for (let i = 0; i < lists.length; i++) this.stem.node.kernelAction(OUT_NFT, 0, lists[i], this, ANY_STATUS);
  }
  /** The listing had elements (ours to take over, or left over: of peers gone, quarantines). */
  leftovers: bool = false;
  onKernelOutput(node: Node, p: usize, n: i32): void {
    parseTable(p, n, this.entries, this.index);
    if (!this.leftovers && hasElements(p, n)) this.leftovers = true;
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    const stem = this.stem;
    let restored = 0;
    this.index.clear();
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i];
      const peer = node.findPeer(e.cookie);
      if (!peer) continue; // a peer no longer configured: its elements go with the re-created table
      const m = new Move(e.id, peer, e.local, e.orig, e.origPort);
      m.protocols = e.protocols;
      m.moveTo(e.wire, e.wirePort);
      m.lastPackets = e.packets;
      m.idleSince = now;
      if (e.local) m.scope = peer.ownedAddresses();
      stem.addMove(m);
      if (e.id >= stem.nextMoveId) stem.nextMoveId = e.id + 1;
      restored++;
    }
    stem.keepIdentities(null);
    // The table is made again from the moves taken over, in one transaction
    // (what the previous run left beyond them, quarantines and quotas, goes).
    if (this.leftovers) stem.dp.failed();
    stem.sync(null);
    const ev = beginEvent("restored", now);
    ev.key("moves");
    ev.num(restored);
    node.emit(endEvent());
  }
}

const ELEMENTS = "elements = {";

/** True if an `nft list map` output holds an element. */
function hasElements(p: usize, n: i32): bool {
  const k = ELEMENTS.length;
  for (let i = 0; i + k <= n; i++) {
    let same = true;
    for (let j = 0; j < k && same; j++) same = load<u8>(p + <usize>(i + j)) == <u8>ELEMENTS.charCodeAt(j);
    if (same) return true;
  }
  return false;
}

/** One sweep: the table's counters and the TCP sockets. */
export class Sweep extends Procedure {
  stem: Stem;
  entries: Array<TableEntry> = new Array<TableEntry>();
  index: Map<u32, TableEntry> = new Map<u32, TableEntry>();
  sockets: Array<SocketInfo> = new Array<SocketInfo>();
  /** The listings' actions: their output comes in pieces, the socket dumps' after it. */
  private listings: Set<u32> = new Set<u32>();
  constructor(stem: Stem) {
    super();
    this.stem = stem;
  }
  start(): void {
    const node = this.stem.node;
    const lists = listCommands();
    for (let i = 0; i < lists.length; i++) this.listings.add(node.kernelAction(OUT_NFT, 0, lists[i], this, ANY_STATUS));
    let v4 = false;
    let v6 = false;
    for (let i = 0; i < this.stem.moves.length; i++) {
      const f = this.stem.moves[i].orig.family;
      if (f == FAMILY_IPV4) v4 = true;
      else if (f == FAMILY_IPV6) v6 = true;
    }
    if (v4) node.netlinkAction(NETLINK_SOCK_DIAG, bytesOf(requestPtr(), socketDump(FAMILY_IPV4, IPPROTO_TCP)), this);
    if (v6) node.netlinkAction(NETLINK_SOCK_DIAG, bytesOf(requestPtr(), socketDump(FAMILY_IPV6, IPPROTO_TCP)), this);
  }
  onKernelOutput(node: Node, p: usize, n: i32): void {
    if (this.listings.has(node.outputAction)) {
      parseTable(p, n, this.entries, this.index);
    } else {
      parseSockets(p, n, IPPROTO_TCP, this.sockets);
    }
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    const stem = this.stem;
    const idle = node.options.sessionIdleMs;
    let ended = false;
    for (let i = stem.moves.length - 1; i >= 0; i--) {
      const m = stem.moves[i];
      if (m.busy || m.held) continue;
      if (m.idleSince == 0) m.idleSince = now;
      if (this.index.has(m.id)) {
        const e = this.index.get(m.id);
        if (e.packets != m.lastPackets) {
          m.lastPackets = e.packets;
          m.idleSince = now;
        }
      }
      if (now - m.idleSince < idle || this.tcpAlive(m, now)) continue;
      stem.removeMove(m);
      ended = true;
      const ev = beginEvent("session-ended", now);
      ev.key("move");
      ev.num(m.id);
      ev.key("peer");
      cookieJson(ev, m.peer.cookie);
      ev.key("side");
      ev.str(m.local ? "local" : "peer");
      ev.key("original");
      m.orig.json(ev);
      ev.key("wire");
      m.wire.json(ev);
      node.emit(endEvent());
    }
    if (ended) {
      stem.keepIdentities(null);
      stem.sync(null);
    }
    stem.sweepDone(now);
  }
  /** A TCP socket of the move's sessions still exists (in any state, TIME_WAIT included). */
  private tcpAlive(m: Move, now: f64): bool {
    if (m.protocols == PROTO_UDP) return false;
    for (let i = 0; i < this.sockets.length; i++) {
      const s = this.sockets[i];
      if (m.local) {
        if (!s.local.equals(m.orig) || (m.origPort != 0 && s.localPort != m.origPort)) continue;
        if (m.peer.owns(s.remote, now)) return true;
      } else {
        if (s.remote.equals(m.orig) && (m.origPort == 0 || s.remotePort == m.origPort)) return true;
      }
    }
    return false;
  }
}

/** The sessions (sockets) the host has, for `handover sessions`: reported as one event. */
export class SessionList extends Procedure {
  stem: Stem;
  sockets: Array<SocketInfo> = new Array<SocketInfo>();
  private protocols: Array<u8> = new Array<u8>();
  constructor(stem: Stem) {
    super();
    this.stem = stem;
  }
  start(): void {
    const node = this.stem.node;
    const protos: StaticArray<u8> = [IPPROTO_TCP, IPPROTO_UDP];
    for (let f: u8 = FAMILY_IPV4; f <= FAMILY_IPV6; f++) {
      for (let k = 0; k < 2; k++) {
        this.protocols.push(protos[k]);
        node.netlinkAction(NETLINK_SOCK_DIAG, bytesOf(requestPtr(), socketDump(f, protos[k])), this);
      }
    }
  }
  onKernelOutput(node: Node, p: usize, n: i32): void {
    parseSockets(p, n, this.protocols.shift(), this.sockets);
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    const moves = this.stem.moves;
    const e = beginEvent("sessions", now);
    e.key("sessions");
    e.arrOpen();
    for (let i = 0; i < this.sockets.length; i++) {
      const s = this.sockets[i];
      // Our own control sockets are not sessions.
      if (this.stem.watch.isOwnSocket(s) || (s.protocol == IPPROTO_UDP && s.remotePort == node.options.controlPort)) continue;
      e.objOpen();
      e.key("protocol");
      e.str(s.protocol == IPPROTO_TCP ? "TCP" : "UDP");
      e.key("state");
      e.num(s.state);
      e.key("local");
      s.local.json(e);
      e.key("localPort");
      e.num(s.localPort);
      e.key("remote");
      s.remote.json(e);
      e.key("remotePort");
      e.num(s.remotePort);
      // The move carrying it, if any: ours (its local address) or a peer's (its remote one).
      for (let j = 0; j < moves.length; j++) {
        const m = moves[j];
        const mine = m.local && s.local.equals(m.orig) && (m.origPort == 0 || m.origPort == s.localPort);
        const theirs = !m.local && s.remote.equals(m.orig) && (m.origPort == 0 || m.origPort == s.remotePort);
        if (!mine && !theirs) continue;
        e.key("move");
        e.num(m.id);
        e.key("wire");
        m.wire.json(e);
        break;
      }
      e.objClose();
    }
    e.arrClose();
    node.emit(endEvent());
  }
}
