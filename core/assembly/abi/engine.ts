// Flat exports of the protocol engine (docs/ABI.md): configuration, the
// handle_* inputs and the poll_* outputs. One node per module instance.
// Times are Unix milliseconds as f64. A negative return is a negated error.

import { inMemory } from "../util/bytes";
import { TextOut } from "../util/text";
import { Address, isValidFamily } from "../engine/address";
import { Node, readCookie } from "../engine/node";
import { SecurityAssociation } from "../engine/peer";
import {
  META_KIND, META_ID, META_LENGTH, META_AUX, META_DST_PORT, META_DST_FAMILY, META_SRC_FAMILY,
  META_DST_ADDR, META_SRC_ADDR, META_SIZE,
} from "../engine/output";
import { Stem } from "../stem/stem";
import { cookieJson } from "../stem/events";
import { SessionList, Save, savedMoves, savedJournal, savedBlob } from "../stem/lifecycle";
import { journal } from "../stem/journal";
import { NetlinkSummary, parseNetfilter, DEFAULT_QUEUE } from "../kernel/nfqueue";
import { SidHold } from "../sid/hold";
import { HmacKey, digestLen } from "../crypto/hmac";
import { drbg } from "../crypto/drbg";
import { familyLength } from "../wire/decode";
import { outPtr, IO_SIZE } from "./io";
import { Instance } from "./instance";
import { writeMs } from "../engine/output";
import {
  ERR_INVALID_ARGUMENT, ERR_BUFFER_TOO_SMALL, ERR_BAD_SPI, ERR_CONFIG, ERR_UNKNOWN_PEER, ERR_NOT_SEEDED,
  FIRST_ASSIGNABLE_SPI, REPLAY_TIMESTAMP, REPLAY_NONCE, optionInRange,
  OPT_WINDOW_BITS, OPT_QUOTA_BYTES, OPT_QUARANTINE_MS, OPT_VALIDATION_TIMEOUT_MS, OPT_MAX_PENDING_PATHS,
  OPT_REGISTRATION_LIFETIME_S, OPT_DEBUG, OPT_CONTROL_PORT, OPT_AUTO, OPT_GUARD, OPT_SESSION_IDLE_MS,
  OPT_MAX_MOVES_PER_PEER, OPT_MAX_MOVES, OPT_MAX_OWNED_PER_PEER, OPT_MISMATCH_REPLIES_PER_S, OPT_FOLLOW_DEFAULT_ROUTE,
  OPT_SID_AGENT, OPT_SID_TARGET, OPT_SID_ALLOW_REVERSE, OPT_SID_MAX_LIFETIME_S, OPT_SID_LIFETIME_S, OPT_SID_BINDINGS,
  OPT_SID_TUNNEL_PORT, OPT_SID_TUNNEL_MTU, OPT_SID_ROUTE_TABLE, OPT_SID_FLOWS,
  errorName,
} from "../generated/registry";

const BAD = -ERR_INVALID_ARGUMENT;
const META = memory.data(META_SIZE, 8);

let node = Instance.node;
let stem = new Stem(node);
const text = new TextOut();

function readAddress(family: i32, p: usize): Address | null {
  if (!isValidFamily(family) || !inMemory(p, 16)) return null;
  return Address.read(family, p);
}

/** Address of the 64-byte output metadata block poll_output fills (docs/ABI.md). */
export function io_meta_ptr(): usize {
  return META;
}

/** Starts (or restarts) the node with its 6-byte cookie. Forgets every peer and move. */
export function node_init(cookie: usize, now: f64): i32 {
  if (!inMemory(cookie, 6)) return BAD;
  // Cookies' sequence starts, tokens and nonces come from the DRBG: never from an unseeded one.
  if (!drbg.seeded) return -ERR_NOT_SEEDED;
  node = new Node();
  partErrno.clear();
  Instance.reset(node);
  journal.reset(); // a new node keeps no journal until its host says so (stem_journal_enable)
  stem = new Stem(node);
  node.init(readCookie(cookie), now);
  return 0;
}

/** Sets an option; call before adding peers. */
export function node_option(id: i32, value: f64): i32 {
  const o = node.options;
  if (!optionInRange(id, value)) return -ERR_CONFIG; // unknown, or outside its range (registry: abi.options)
  switch (id) {
    case OPT_WINDOW_BITS: o.windowBits = <i32>value; return 0;
    case OPT_QUOTA_BYTES:
      o.quotaBytes = value;
      stem.dp.quotaBytes = <u64>value;
      return 0;
    case OPT_QUARANTINE_MS: o.quarantineMs = value; return 0;
    case OPT_VALIDATION_TIMEOUT_MS: o.validationTimeoutMs = value; return 0;
    case OPT_MAX_PENDING_PATHS: o.maxPendingPaths = <i32>value; return 0;
    case OPT_REGISTRATION_LIFETIME_S: o.registrationLifetimeS = <i32>value; return 0;
    case OPT_DEBUG: o.debug = value != 0; return 0;
    case OPT_AUTO: stem.watch.auto = value != 0; return 0;
    case OPT_GUARD: stem.watch.guard = value != 0; return 0;
    case OPT_FOLLOW_DEFAULT_ROUTE: stem.watch.followDefaultRoute = value != 0; return 0;
    case OPT_SESSION_IDLE_MS: o.sessionIdleMs = value; return 0;
    case OPT_MAX_MOVES_PER_PEER: o.maxMovesPerPeer = <i32>value; return 0;
    case OPT_MAX_MOVES: o.maxMoves = <i32>value; return 0;
    case OPT_MAX_OWNED_PER_PEER: o.maxOwnedPerPeer = <i32>value; return 0;
    case OPT_MISMATCH_REPLIES_PER_S: o.mismatchRepliesPerS = value; return 0;
    case OPT_CONTROL_PORT: o.controlPort = <u32>value; return 0;
    case OPT_SID_AGENT: o.sidAgent = value != 0; return 0;
    case OPT_SID_TARGET: o.sidTarget = value != 0; return 0;
    case OPT_SID_ALLOW_REVERSE: o.sidAllowReverse = value != 0; return 0;
    case OPT_SID_MAX_LIFETIME_S: o.sidMaxLifetimeS = <u32>value; return 0;
    case OPT_SID_LIFETIME_S: o.sidLifetimeS = <u32>value; return 0;
    case OPT_SID_BINDINGS: o.sidBindings = <i32>value; return 0;
    case OPT_SID_TUNNEL_PORT: o.sidTunnelPort = <u32>value; return 0;
    case OPT_SID_TUNNEL_MTU: o.sidTunnelMtu = <u32>value; return 0;
    case OPT_SID_ROUTE_TABLE: o.sidRouteTable = <u32>value; return 0;
    case OPT_SID_FLOWS: o.sidFlows = <i32>value; return 0;
  }
  return -ERR_CONFIG;
}

/** Adds (or updates) a peer: 6-byte cookie, control address and port. Returns its id. */
export function peer_add(cookie: usize, family: i32, addr: usize, port: i32): i32 {
  if (!inMemory(cookie, 6) || port < 0 || port > 65535) return BAD;
  if (!drbg.seeded) return -ERR_NOT_SEEDED; // the peer's first sequence number is drawn
  const a = readAddress(family, addr);
  if (!a) return BAD;
  return node.addPeer(readCookie(cookie), a, <u32>port).id;
}

/** An address of this node (from configuration): never accepted from the wire as a peer's (section 7.4). */
export function node_add_address(family: i32, addr: usize): i32 {
  const a = readAddress(family, addr);
  if (!a) return BAD;
  node.addOwnAddress(a);
  return 0;
}

/** Adds an address the peer owns (its sessions may use it; section 7.4). */
export function peer_add_address(peer: i32, family: i32, addr: usize): i32 {
  if (peer < 0 || peer >= node.peers.length) return -ERR_UNKNOWN_PEER;
  const a = readAddress(family, addr);
  if (!a) return BAD;
  node.peers[peer].addConfigured(a);
  return 0;
}

/**
 * Adds a session-address range the peer owns (docs/PROTOCOL.md 8.18): every
 * address from `first` to `last` (one family, first <= last, unicast), so that
 * SID's agent accepts a transfer of one of them from that peer only.
 */
export function peer_add_pool(peer: i32, family: i32, first: usize, last: usize): i32 {
  if (peer < 0 || peer >= node.peers.length) return -ERR_UNKNOWN_PEER;
  const f = readAddress(family, first);
  const l = readAddress(family, last);
  if (!f || !l || !f.isUsableUnicast() || !l.isUsableUnicast()) return BAD;
  if (f.hi > l.hi || (f.hi == l.hi && f.lo > l.lo)) return BAD;
  node.peers[peer].addPool(f, l);
  return 0;
}

/**
 * Adds a security association with a peer: SPI (256 or more), algorithm
 * (1 HMAC-MD5, 2 HMAC-SHA1, 3 HMAC-SHA256), key (16 bytes or more), replay
 * mode (1 timestamp, 2 nonce) and skew in ms. The first SA added is the one
 * used to send.
 */
export function sa_add(peer: i32, spi: u32, alg: i32, key: usize, keyLen: i32, replayMode: i32, skewMs: f64): i32 {
  if (peer < 0 || peer >= node.peers.length) return -ERR_UNKNOWN_PEER;
  if (spi < FIRST_ASSIGNABLE_SPI) return -ERR_BAD_SPI;
  if (digestLen(alg) <= 0 || keyLen < 16 || !inMemory(key, keyLen)) return -ERR_CONFIG;
  if (replayMode != REPLAY_TIMESTAMP && replayMode != REPLAY_NONCE) return -ERR_CONFIG;
  if (!(skewMs >= 0)) return -ERR_CONFIG;
  const p = node.peers[peer];
  if (p.findSa(spi)) return -ERR_CONFIG;
  const sa = new SecurityAssociation(spi, new HmacKey(alg, key, keyLen));
  sa.replayMode = <u8>replayMode;
  sa.skewMs = skewMs;
  sa.raw = new StaticArray<u8>(keyLen);
  memory.copy(changetype<usize>(sa.raw), key, <usize>keyLen);
  p.addSa(sa);
  return 0;
}

// ---- inputs ----------------------------------------------------------------

const FROM = new Address();

/** A datagram arrived: source address (16 bytes at addr) and port, payload at data. */
export function handle_datagram(now: f64, family: i32, addr: usize, port: i32, data: usize, len: i32): i32 {
  if (!isValidFamily(family) || !inMemory(addr, 16) || !inMemory(data, len)) return BAD;
  FROM.load(family, addr);
  node.handleDatagram(now, FROM, <u32>port & 0xffff, data, len);
  return 0;
}

/** The timer armed at poll_timeout() fired (calling it early is harmless). */
export function handle_timeout(now: f64): void {
  node.handleTimeout(now);
}

/** The outcome of an OUT_NFT action: 0, or the nonzero return of libnftables. */
export function handle_action_result(now: f64, id: u32, status: i32): void {
  partErrno.delete(id); // (a dump the host could not read to its end)
  // A batch's journal record goes to the host only once the kernel committed it (stem/journal.ts).
  journal.result(id, status == 0);
  node.handleActionResult(id, status, now);
}

const summary = new NetlinkSummary();
/**
 * The first errno in the pieces of a long reply before its last
 * (handle_netlink_part), by action: a dump read in pieces across turns of
 * the host's loop has other actions answered between its pieces.
 */
const partErrno = new Map<u32, i32>();

function netlinkPiece(id: u32, data: usize, len: i32): void {
  summary.errno = 0;
  summary.acks = 0;
  summary.packets = 0;
  summary.otherPackets = 0;
  summary.otherQueue = SidHold.queue;
  summary.nodePackets = 0;
  summary.nodeQueue = SidHold.nodeQueue;
  summary.lostPackets = 0;
  summary.lostQueue = stem.plane.lostQueue;
  parseNetfilter(data, len, summary);
  stem.netlinkSeen(summary);
  SidHold.seen(summary);
  node.kernelOutput(id, data, len);
}

/**
 * What the kernel answered to an OUT_NETLINK action: every message the host
 * read from that socket (acknowledgements, queue notifications), or the
 * last piece of a longer answer (handle_netlink_part).
 */
export function handle_netlink_reply(now: f64, id: u32, data: usize, len: i32): i32 {
  if (!inMemory(data, len)) return BAD;
  netlinkPiece(id, data, len);
  let errno = summary.errno;
  if (partErrno.has(id)) {
    errno = partErrno.get(id);
    partErrno.delete(id);
  }
  node.handleActionResult(id, errno, now);
  return 0;
}

/**
 * A piece of an answer longer than the input buffer (a dump): whole netlink
 * messages, more to follow; the last piece comes with handle_netlink_reply.
 */
export function handle_netlink_part(now: f64, id: u32, data: usize, len: i32): i32 {
  if (!inMemory(data, len)) return BAD;
  netlinkPiece(id, data, len);
  if (summary.errno != 0 && !partErrno.has(id)) partErrno.set(id, summary.errno);
  return 0;
}

/** The text libnftables printed for an OUT_NFT action (call before handle_action_result). */
export function handle_action_output(now: f64, id: u32, data: usize, len: i32): i32 {
  if (!inMemory(data, len)) return BAD;
  node.kernelOutput(id, data, len);
  return 0;
}

/** Netlink notifications the host's watch received (rtnetlink address and route events). */
export function handle_netlink_event(now: f64, data: usize, len: i32): i32 {
  if (!inMemory(data, len)) return BAD;
  stem.watch.kernelMessages(data, len, now);
  return 0;
}

/**
 * Prepares the kernel side once at start: the table and chains, the queue
 * binding (queue number `queue`, 0 for the default) and the hold rule.
 */
export function node_kernel_setup(now: f64, queue: i32): i32 {
  if (queue < 0 || queue > 65535) return BAD;
  stem.kernelSetup(queue == 0 ? DEFAULT_QUEUE : <u32>queue, now);
  SidHold.queue = ((queue == 0 ? DEFAULT_QUEUE : <u32>queue) + 1) & 0xffff;
  SidHold.nodeQueue = ((queue == 0 ? DEFAULT_QUEUE : <u32>queue) + 2) & 0xffff;
  return 0;
}

/** The application asks to register with a peer (section 7.3). */
export function stem_register(now: f64, peer: i32, lifetime: i32): i32 {
  if (peer < 0 || peer >= node.peers.length) return -ERR_UNKNOWN_PEER;
  if (lifetime < 0 || lifetime > 65535) return BAD;
  return stem.migrator.register(now, node.peers[peer], <u32>lifetime);
}

/** Registers with every configured peer (what a daemon does when it starts). */
export function stem_register_all(now: f64): void {
  stem.migrator.registerAll(now);
}

/** Attaches opaque data to the next request the application starts. */
export function stem_opaque(subtype: i32, flags: i32, data: usize, len: i32): i32 {
  if (!inMemory(data, len) || len > 200) return BAD;
  stem.migrator.addOpaque(<u32>subtype & 0xff, <u32>flags & 0xff, data, len);
  return 0;
}

/**
 * The application asks to migrate its sessions with a peer from one wire
 * address (16 bytes at from; port 0 = all) to another. Returns the migration id.
 */
export function stem_migrate(now: f64, peer: i32, protocols: i32, family: i32, from: usize, fromPort: i32, to: usize, toPort: i32): i32 {
  if (peer < 0 || peer >= node.peers.length) return -ERR_UNKNOWN_PEER;
  const a = readAddress(family, from);
  const b = readAddress(family, to);
  if (!a || !b || protocols < 0 || protocols > 3) return BAD;
  if (fromPort < 0 || fromPort > 65535 || toPort < 0 || toPort > 65535) return BAD;
  return stem.migrate(now, node.peers[peer], <u8>protocols, a, <u32>fromPort, b, <u32>toPort);
}

/**
 * The host's socket bound to a source address for control messages has this
 * local port: it is the daemon's own, never a session (the host reports each
 * such socket once it is bound).
 */
export function node_own_port(port: i32): i32 {
  if (port <= 0 || port > 65535) return BAD;
  stem.watch.ownPorts.add(<u32>port);
  return 0;
}

/** Lists the host's TCP and UDP sockets (sock_diag); the answer is a "sessions" event. */
export function node_sessions(now: f64): void {
  new SessionList(stem).start();
}

/** Queues the actions that remove everything the node put in the kernel. */
export function node_teardown(now: f64): void {
  stem.teardown();
}

// ---- outputs -----------------------------------------------------------------

/** When handle_timeout must run next (Unix ms), or Infinity. */
export function poll_timeout(): f64 {
  return node.nextTimeout();
}

/**
 * Takes the next output: writes its payload at io_out_ptr() and its metadata
 * at io_meta_ptr(), and returns its kind (0: none).
 */
/** The payload of the output last polled when it is larger than the I/O buffer (kept until the next poll). */
let bigPayload: StaticArray<u8> | null = null;

export function poll_output(): i32 {
  const o = node.out.shift();
  bigPayload = null;
  if (!o) return 0;
  const n = o.length;
  // A long nft batch (a restart's re-created table) stays where it is: the host reads it at poll_output_ptr().
  if (n <= IO_SIZE) memory.copy(outPtr(), changetype<usize>(o.data), n);
  else bigPayload = o.data;
  memory.fill(META, 0, META_SIZE);
  store<u32>(META + META_KIND, o.kind);
  store<u32>(META + META_ID, o.id);
  store<u32>(META + META_LENGTH, <u32>n);
  store<u32>(META + META_AUX, o.aux);
  store<u16>(META + META_DST_PORT, <u16>o.dstPort);
  const dst = o.dst;
  if (dst.family) {
    store<u8>(META + META_DST_FAMILY, dst.family);
    dst.store(META + META_DST_ADDR);
  }
  const src = o.src;
  if (src.family) {
    store<u8>(META + META_SRC_FAMILY, src.family);
    src.store(META + META_SRC_ADDR);
  }
  return <i32>o.kind;
}

/** Writes the node's state as JSON at out: peers, moves, migrations, counters. */
export function node_state(now: f64, out: usize, cap: i32): i32 {
  if (!inMemory(out, cap)) return BAD;
  const t = text;
  t.reset(out, cap);
  t.objOpen();
  t.key("cookie");
  cookieJson(t, node.cookie);
  t.key("peers");
  t.arrOpen();
  for (let i = 0; i < node.peers.length; i++) {
    const p = node.peers[i];
    t.objOpen();
    t.key("id");
    t.num(p.id);
    t.key("cookie");
    cookieJson(t, p.cookie);
    t.key("control");
    p.control.json(t);
    t.key("port");
    t.num(p.controlPort);
    t.key("owned");
    t.arrOpen();
    for (let j = 0; j < p.ownedCount(); j++) if (p.ownedAt(j).until > now) p.ownedAt(j).json(t);
    t.arrClose();
    t.key("rttMs");
    t.raw();
    writeMs(t, p.hasRtt ? p.srtt : 0);
    // The peer's registration with this node (section 7.3); a host knows its own with the peer from its events.
    t.key("peerRegistered");
    t.boolean(p.registeredUntil > now);
    t.objClose();
  }
  t.arrClose();
  t.key("moves");
  t.arrOpen();
  for (let i = 0; i < stem.moves.length; i++) {
    const m = stem.moves[i];
    t.objOpen();
    t.key("id");
    t.num(m.id);
    t.key("side");
    t.str(m.local ? "local" : "peer");
    t.key("peer");
    cookieJson(t, m.peer.cookie);
    t.key("protocols");
    t.num(m.protocols);
    t.key("original");
    m.orig.json(t);
    t.key("originalPort");
    t.num(m.origPort);
    t.key("wire");
    m.wire.json(t);
    t.key("wirePort");
    t.num(m.wirePort);
    t.key("held");
    t.boolean(m.held);
    t.key("validated");
    t.boolean(!m.unvalidated);
    t.objClose();
  }
  t.arrClose();
  t.key("migrations");
  t.num(stem.migrator.migrations.length);
  t.key("quarantined");
  t.num(stem.quarantines.length);
  const c = node.counters;
  t.key("counters");
  t.objOpen();
  t.key("received");
  t.num(c.received);
  t.key("sent");
  t.num(c.sent);
  t.key("retransmitted");
  t.num(c.retransmitted);
  t.key("dropped");
  t.num(c.dropped);
  t.key("duplicates");
  t.num(c.duplicates);
  t.key("replies133");
  t.num(c.replies133);
  t.key("limited133");
  t.num(c.limited133);
  t.key("kernelActions");
  t.num(c.kernelActions);
  t.key("kernelFailures");
  t.num(c.kernelFailures);
  t.key("droppedBy");
  t.objOpen();
  for (let err = 0; err < 64; err++) {
    const n = c.droppedBy[err];
    if (n == 0) continue;
    const name = errorName(err);
    if (name.length) t.key(name);
    else t.key(err.toString());
    t.num(n);
  }
  t.objClose();
  t.objClose();
  t.objClose();
  return t.overflow ? -ERR_BUFFER_TOO_SMALL : t.pos;
}

/** Where the payload of the output last polled is: io_out_ptr(), or the core's own buffer for a long one. */
export function poll_output_ptr(): usize {
  const big = bigPayload;
  return big ? changetype<usize>(big) : outPtr();
}

/** The last state rendered by node_state_render (kept until the next call). */
let stateBuffer = new StaticArray<u8>(0);

/**
 * The node's state as node_state writes it, however large (a server's
 * thousands of peers and moves do not fit the I/O buffer): rendered into a
 * buffer of the core's own; returns its length, node_state_ptr() its address.
 */
export function node_state_render(now: f64): i32 {
  let cap = 65536;
  let n = -ERR_BUFFER_TOO_SMALL;
  while (n == -ERR_BUFFER_TOO_SMALL) {
    stateBuffer = new StaticArray<u8>(cap);
    n = node_state(now, changetype<usize>(stateBuffer), cap);
    cap *= 2;
  }
  return n;
}

export function node_state_ptr(): usize {
  return changetype<usize>(stateBuffer);
}

/** Runs the garbage collector to the end (for measurements of the core's memory: bench/scale.js). */
export function core_collect(): void {
  __collect();
}

/**
 * A piece (whole lines) of the file a clean stop wrote (stem_save), before
 * node_kernel_setup: the restart then takes the moves over from it if
 * nftables' generation is still the saved one, without reading the maps.
 */
export function stem_saved_moves(now: f64, data: usize, len: i32): i32 {
  if (!inMemory(data, len)) return BAD;
  savedMoves(data, len);
  return 0;
}

/**
 * A clean stop: saves the moves (event `saved`; then stem_saved_ptr /
 * stem_saved_length give the bytes for the host to write, empty if nothing
 * was saved).
 */
export function stem_save(now: f64): i32 {
  new Save(stem).start(now);
  return 0;
}

export function stem_saved_ptr(): usize {
  return changetype<usize>(savedBlob);
}

export function stem_saved_length(): i32 {
  return savedBlob.length;
}

/** How many moves the node has (ours and its peers'), without rendering them. */
export function stem_move_count(): i32 {
  return stem.moves.length;
}

// ---- the moves journal (stem/journal.ts) ----

/** The host keeps a moves journal beside its save file: batches carry the marker (call before node_kernel_setup). */
export function stem_journal_enable(): void {
  journal.enabled = true;
}

/** A piece (any cut) of the journal file, after the save file's pieces (stem_saved_moves), before node_kernel_setup. */
export function stem_journal_feed(now: f64, data: usize, len: i32): i32 {
  if (!inMemory(data, len)) return BAD;
  savedJournal(data, len);
  return 0;
}

let journalBaseOut: StaticArray<u8> = new StaticArray<u8>(0);
let journalRecordsOut: StaticArray<u8> = new StaticArray<u8>(0);

/**
 * What the committed batches left for the host: bit 0, a base (write it as
 * the save file, then empty the journal), bit 1, records to append (after the
 * base, if both). Then stem_journal_base_* / stem_journal_records_*, and
 * stem_journal_taken once written.
 */
export function stem_journal_ready(): i32 {
  const b = journal.outBase;
  journalBaseOut = b ? b : new StaticArray<u8>(0);
  journalRecordsOut = journal.outLength > 0 ? journal.records() : new StaticArray<u8>(0);
  return (b ? 1 : 0) | (journalRecordsOut.length > 0 ? 2 : 0);
}

export function stem_journal_base_ptr(): usize {
  return changetype<usize>(journalBaseOut);
}

export function stem_journal_base_length(): i32 {
  return journalBaseOut.length;
}

export function stem_journal_records_ptr(): usize {
  return changetype<usize>(journalRecordsOut);
}

export function stem_journal_records_length(): i32 {
  return journalRecordsOut.length;
}

export function stem_journal_taken(): void {
  journal.taken();
  journalBaseOut = new StaticArray<u8>(0);
  journalRecordsOut = new StaticArray<u8>(0);
}

/** The marker the kernel holds as far as the core knows (the last committed batch's sequence number): for tests. */
export function stem_journal_committed(): u32 {
  return journal.committed;
}
