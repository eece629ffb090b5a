// The protocol engine of one node: configuration, the receive pipeline of
// docs/PROTOCOL.md section 6 (decode, authenticate, replay-check), requests
// with retransmission, the reply cache, kernel actions and the output queue.
// The STEM and SID procedures (stem.ts, ...) sit on top of it.
//
// Sans-I/O: every input carries `now` (Unix milliseconds, f64); every output
// goes through the queue the host drains.

import { Address } from "./address";
import { Peer, SessionPeer, SecurityAssociation, CachedReply, REPLY_RESEND_GAP_MS } from "./peer";
import { TimerTable } from "./timers";
import { DeferredReply } from "./reply";
import { Retransmission, REQUEST_POLICY } from "./retransmit";
import { Output, OutputQueue, takeOutput, OUT_TRANSMIT, OUT_NFT, OUT_NETLINK, OUT_FRAME, bytesOf, beginEvent, endEvent, FrameRoute } from "./output";
import { Decoded, decode, openSealed, openSealedBinding, OFF_COOKIE } from "../wire/decode";
import { wakeupFrame } from "./frame";
import { Encoder } from "../wire/encode";
import { authSpi, verifyAuth } from "../wire/auth";
import { authTagLength, authTagPtr } from "../wire/fields";
import { drbg } from "../crypto/drbg";
import { bytesEqual, copyBytes } from "../util/bytes";
import { TextOut } from "../util/text";
import { ntpFromMs, msFromNtp, checkTimestamp, checkNonce, NTP_UNIX_OFFSET } from "../replay/timestamp";
import { NetlinkSummary } from "../kernel/nfqueue";
import {
  MAX_MESSAGE_LENGTH, messageIsReply, replyTypeOf, errorName,
  MSG_REGISTRATION_REQUEST, REPLAY_TIMESTAMP, REPLAY_NONCE, CODE_IDENTIFICATION_MISMATCH,
  ERR_UNSERVED_TYPE, PROTOCOL_COUNT, NETLINK_WAIT_ACK, NETLINK_DUMP, messageProtocol, EXT_SEALED, ERR_BAD_AUTHENTICATOR, extensionRule, RULE_NONE,
  ERR_UNKNOWN_PEER, ERR_UNKNOWN_SPI, ERR_NOT_A_REPLY, MSG_BINDING_ACK, ERR_STALE_TIMESTAMP, ERR_NONCE_MISMATCH, ERR_BAD_ADDRESS,
  DEFAULT_WINDOW_BITS, DEFAULT_QUOTA_BYTES, DEFAULT_QUARANTINE_MS, DEFAULT_VALIDATION_TIMEOUT_MS, DEFAULT_MAX_PENDING_PATHS,
  DEFAULT_MAX_MOVES_PER_PEER, DEFAULT_MAX_MOVES, DEFAULT_MAX_OWNED_PER_PEER, DEFAULT_MISMATCH_REPLIES_PER_S,
  DEFAULT_REGISTRATION_LIFETIME_S, DEFAULT_SESSION_IDLE_MS, DEFAULT_CONTROL_PORT, DEFAULT_DEBUG,
  DEFAULT_SID_AGENT, DEFAULT_SID_TARGET, DEFAULT_SID_ALLOW_REVERSE, DEFAULT_SID_MAX_LIFETIME_S, DEFAULT_SID_LIFETIME_S,
  DEFAULT_SID_BINDINGS, DEFAULT_SID_TUNNEL_PORT, DEFAULT_SID_TUNNEL_MTU, DEFAULT_SID_ROUTE_TABLE, DEFAULT_SID_FLOWS,
} from "../generated/registry";

/** okErrno for an action whose failure is expected and harmless (e.g. listing a table that may not exist). */
export const ANY_STATUS: i32 = 0x7fffffff;


export { MAX_TRANSMISSIONS, REQUEST_TIMEOUT_MS } from "./retransmit";

/**
 * Something that sends requests or applies kernel actions and waits for the
 * outcome: a migration, a registration, a path validation.
 */
export abstract class Procedure {
  pendingActions: i32 = 0;
  actionFailed: bool = false;
  /** Writes the request's extensions (everything but the header and AUTH). */
  encodeBody(node: Node, enc: Encoder): void {}
  /** An authenticated reply with this code arrived. */
  onReply(node: Node, d: Decoded, code: u32, now: f64): void {}
  /** The request got no reply in time. */
  onGiveUp(node: Node, now: f64): void {}
  /** Every kernel action this procedure queued has completed. */
  onActionsDone(node: Node, ok: bool, now: f64): void {}
  /** What the kernel answered to one of this procedure's actions: netlink replies, nft output (before its result). */
  onKernelOutput(node: Node, p: usize, n: i32): void {}
}

export { FrameRoute } from "./output";

/** A request waiting for its reply, retransmitted by the engine's retransmitter (REQUEST_POLICY). */
export class Outstanding extends Retransmission {
  node: Node;
  peer: Peer;
  owner: Procedure;
  type: u8 = 0;
  flags: u8 = 0;
  seq: u32 = 0;
  /** The sequence number extended to 32 bits (the sealing nonce, 8.11). */
  seq32: u32 = 0;
  replayLo: u32 = 0;
  /** Sent as a frame (the Wake-up without an Interim Address), else as a datagram. */
  via: FrameRoute | null = null;
  bytes: StaticArray<u8> = new StaticArray<u8>(0);
  dst: Address = new Address();
  dstPort: u32 = 0;
  src: Address | null = null;
  resyncs: i32 = 0;
  constructor(node: Node, peer: Peer, owner: Procedure) {
    super();
    this.node = node;
    this.peer = peer;
    this.owner = owner;
  }
  resend(now: f64): void {
    this.node.counters.retransmitted++;
    this.node.sendOutstanding(this);
  }
  giveUp(now: f64): void {
    const list = this.node.outstanding;
    const i = list.indexOf(this);
    if (i >= 0) list.splice(i, 1);
    this.owner.onGiveUp(this.node, now);
  }
}

/** Counters for `stats` (all monotonic). */
export class Counters {
  received: u64 = 0;
  sent: u64 = 0;
  retransmitted: u64 = 0;
  dropped: u64 = 0;
  /** Drops by error code, for the most common codes. */
  droppedBy: StaticArray<u64> = new StaticArray<u64>(64);
  duplicates: u64 = 0;
  replies133: u64 = 0;
  /** Code-133 replies not sent because of the rate limits. */
  limited133: u64 = 0;
  kernelActions: u64 = 0;
  kernelFailures: u64 = 0;
}

export class Options {
  windowBits: i32 = <i32>DEFAULT_WINDOW_BITS;
  /** Path-validation byte quota toward an unvalidated address (section 7.4). */
  quotaBytes: f64 = DEFAULT_QUOTA_BYTES;
  quarantineMs: f64 = DEFAULT_QUARANTINE_MS;
  validationTimeoutMs: f64 = DEFAULT_VALIDATION_TIMEOUT_MS;
  /** Unvalidated new addresses (and registration sources) per peer (sections 7.3, 7.4). */
  maxPendingPaths: i32 = <i32>DEFAULT_MAX_PENDING_PATHS;
  /** Moves one peer's migrations may hold, and all peers' together (section 7.4; refused with 130). */
  maxMovesPerPeer: i32 = <i32>DEFAULT_MAX_MOVES_PER_PEER;
  maxMoves: i32 = <i32>DEFAULT_MAX_MOVES;
  /** Learned (registered or validated) addresses a peer may own at once (section 7.4). */
  maxOwnedPerPeer: i32 = <i32>DEFAULT_MAX_OWNED_PER_PEER;
  /** Code-133 replies per second to sources the peer does not own, all peers together (section 6.4). */
  mismatchRepliesPerS: f64 = DEFAULT_MISMATCH_REPLIES_PER_S;
  /** The longest registration granted, and how long an address validated by a Confirm stays owned. */
  registrationLifetimeS: i32 = <i32>DEFAULT_REGISTRATION_LIFETIME_S;
  /** How long a move's rules may count no packet (with no TCP socket left) before it ends. */
  sessionIdleMs: f64 = DEFAULT_SESSION_IDLE_MS;
  /** Our control port (UDP), kept out of the rewrite rules. */
  controlPort: u32 = <u32>DEFAULT_CONTROL_PORT;
  /** Emit debug log events (drops and their reasons). */
  debug: bool = DEFAULT_DEBUG;
  // SID (docs/PROTOCOL.md section 8; registry abi.options sid*).
  sidAgent: bool = DEFAULT_SID_AGENT;
  sidTarget: bool = DEFAULT_SID_TARGET;
  sidAllowReverse: bool = DEFAULT_SID_ALLOW_REVERSE;
  sidMaxLifetimeS: u32 = <u32>DEFAULT_SID_MAX_LIFETIME_S;
  sidLifetimeS: u32 = <u32>DEFAULT_SID_LIFETIME_S;
  sidBindings: i32 = <i32>DEFAULT_SID_BINDINGS;
  sidTunnelPort: u32 = <u32>DEFAULT_SID_TUNNEL_PORT;
  sidTunnelMtu: u32 = <u32>DEFAULT_SID_TUNNEL_MTU;
  sidRouteTable: u32 = <u32>DEFAULT_SID_ROUTE_TABLE;
  sidFlows: i32 = <i32>DEFAULT_SID_FLOWS;
}

const MSG_BUF = memory.data(MAX_MESSAGE_LENGTH);
/** A frame: Ethernet (14), IPv6 (40), UDP (8) and a message. */
const FRAME_CAP: i32 = MAX_MESSAGE_LENGTH + 62;
const FRAME_BUF = memory.data(FRAME_CAP);
const COOKIE_BUF = memory.data(8);

export class Node {
  cookie: u64 = 0;
  startedAt: f64 = 0;
  options: Options = new Options();
  peers: Array<Peer> = new Array<Peer>();
  private peersByCookie: Map<u64, Peer> = new Map<u64, Peer>();
  out: OutputQueue = new OutputQueue();
  outstanding: Array<Outstanding> = new Array<Outstanding>();
  /** The one timer table of the node: every procedure's deadlines (docs/ENGINE.md). */
  timers: TimerTable = new TimerTable();
  private actions: Map<u32, Procedure> = new Map<u32, Procedure>();
  private nextActionId: u32 = 1;
  /** Outstanding nft actions (a failed one leaves the ruleset in doubt). */
  private nftIds: Set<u32> = new Set<u32>();
  /** Actions for which one errno means success (e.g. ENOENT for an empty queue). */
  private tolerated: Map<u32, i32> = new Map<u32, i32>();
  counters: Counters = new Counters();
  incoming: Decoded = new Decoded();
  /** Source of the datagram being handled. */
  from: Address = new Address();
  fromPort: u32 = 0;
  encoder: Encoder = new Encoder();
  /** The request being handled: its sequence number extended to 32 bits (a sealed reply's nonce). */
  incomingSeq32: u32 = 0;
  /** Peers made at run time for session SAs, by cookie (sessionPeer). */
  private sessionPeers: Map<u64, SessionPeer> = new Map<u64, SessionPeer>();
  /** The protocol modules, in the order they were served (Node.serve). */
  modules: Array<RequestHandler> = new Array<RequestHandler>();
  /** The module of each protocol number (registry: messageTypes[].protocol), the routing table's targets. */
  private moduleOf: StaticArray<RequestHandler | null> = new StaticArray<RequestHandler | null>(PROTOCOL_COUNT + 1);
  /** Our own addresses from configuration; the host's current ones come from the handler (isLocalAddress). */
  ownAddresses: Array<Address> = new Array<Address>();
  /** Token bucket of code-133 replies to sources their peer does not own (section 6.4). */
  private mismatchTokens: f64 = -1;
  private mismatchRefilledAt: f64 = 0;

  init(cookie: u64, now: f64): void {
    this.cookie = cookie;
    this.startedAt = now;
  }

  // ---- configuration --------------------------------------------------------

  addPeer(cookie: u64, control: Address, port: u32): Peer {
    let p = this.findPeer(cookie);
    if (!p) {
      p = new Peer(this.peers.length, cookie, this.options.windowBits);
      // Start sequence numbers at a random point, so a restarted node's old
      // numbers are unlikely to collide with its new ones.
      drbg.fill(COOKIE_BUF, 2);
      p.nextSeq = <u32>load<u16>(COOKIE_BUF);
      this.peers.push(p);
      this.peersByCookie.set(cookie, p);
    }
    p.control.set(control);
    p.controlPort = port;
    if (control.isSet) p.addConfigured(control);
    return p;
  }

  /** An address of this node, from configuration. */
  addOwnAddress(a: Address): void {
    this.fromAccepted = -1;
    for (let i = 0; i < this.ownAddresses.length; i++) if (this.ownAddresses[i].equals(a)) return;
    this.ownAddresses.push(a.copy());
  }

  /** True if `a` is one of our own addresses: configured, on one of the host's interfaces, or kept on lo. */
  isOwnAddress(a: Address): bool {
    for (let i = 0; i < this.ownAddresses.length; i++) if (this.ownAddresses[i].equals(a)) return true;
    for (let i = 0; i < this.modules.length; i++) if (this.modules[i].isLocalAddress(a)) return true;
    return false;
  }

  /**
   * The one test for an address a peer's message names or comes from
   * (section 7.4 step 1): usable unicast (Address.isUsableUnicast) and not one
   * of ours. Addresses configured for the peer do not come from the wire and
   * are not subject to it.
   */
  acceptsPeerAddress(a: Address): bool {
    if (a === this.from) return this.acceptsFrom();
    return a.isUsableUnicast() && !this.isOwnAddress(a);
  }

  /**
   * acceptsPeerAddress(this.from), made once per datagram: learnControl and
   * mayReplyTo (the reply to the source) ask it for the same source. 1 yes,
   * 0 no, -1 not made yet; forgotten at every new datagram, every kernel
   * action (an address added to or taken from the host goes through one) and
   * every own address configured.
   */
  private fromAccepted: i32 = -1;
  private acceptsFrom(): bool {
    let v = this.fromAccepted;
    if (v < 0) {
      const a = this.from;
      v = a.isUsableUnicast() && !this.isOwnAddress(a) ? 1 : 0;
      this.fromAccepted = v;
    }
    return v != 0;
  }

  /**
   * A peer for session SAs (PROTOCOL.md 6.1: a session key forms a temporary
   * SA between target and agent), made at run time and kept apart from the
   * configured peers (its own sequence numbers, replay window and reply
   * cache). cookie 0: a peer whose cookie is learned from its first
   * authenticated message (the target's agent); otherwise the one peer of
   * that cookie (the agent's target), made on first use.
   */
  sessionPeer(cookie: u64, control: Address, port: u32): SessionPeer {
    if (cookie != 0 && this.sessionPeers.has(cookie)) return this.sessionPeers.get(cookie);
    const p = new SessionPeer(-1, cookie, this.options.windowBits);
    p.runtime = true;
    // Start low in the first epoch: the receiver puts the first number it sees in epoch 1 (6.3),
    // and the sealing nonce (8.11) is the extended number.
    drbg.fill(COOKIE_BUF, 2);
    p.nextSeq = <u32>load<u16>(COOKIE_BUF) & 0x3fff;
    p.control.set(control);
    p.controlPort = port;
    if (cookie != 0) this.sessionPeers.set(cookie, p);
    return p;
  }

  /** The session peer of a cookie, if there is one. */
  findSessionPeer(cookie: u64): Peer | null {
    return this.sessionPeers.has(cookie) ? this.sessionPeers.get(cookie) : null;
  }

  /** Forgets a session peer (its module holds no SA of it any more). */
  dropSessionPeer(p: Peer): void {
    if (p.cookie != 0 && this.sessionPeers.has(p.cookie) && this.sessionPeers.get(p.cookie) == p) this.sessionPeers.delete(p.cookie);
    for (let i = this.outstanding.length - 1; i >= 0; i--) {
      const r = this.outstanding[i];
      if (r.peer == p) {
        r.stop();
        this.outstanding.splice(i, 1);
      }
    }
  }

  findPeer(cookie: u64): Peer | null {
    return this.peersByCookie.has(cookie) ? this.peersByCookie.get(cookie) : null;
  }

  // ---- outputs ---------------------------------------------------------------

  /** Sends bytes kept elsewhere (a cached reply, a request to retransmit): shared, not copied. */
  transmit(bytes: StaticArray<u8>, dst: Address, dstPort: u32, src: Address | null): void {
    this.queueTransmit(dst, dstPort, src).share(bytes);
  }

  /** Sends n bytes of scratch memory (a message nothing keeps): copied into the output. */
  transmitCopy(p: usize, n: i32, dst: Address, dstPort: u32, src: Address | null): void {
    this.queueTransmit(dst, dstPort, src).copy(p, n);
  }

  private queueTransmit(dst: Address, dstPort: u32, src: Address | null): Output {
    const o = takeOutput(OUT_TRANSMIT);
    o.dst.set(dst);
    o.dstPort = dstPort;
    if (src) o.src.set(src);
    this.out.push(o);
    this.counters.sent++;
    return o;
  }

  /**
   * Queues a kernel action; the owner (if any) is told when all its actions
   * are done. An errno equal to `okErrno` counts as success.
   */
  kernelAction(kind: u32, aux: u32, data: StaticArray<u8>, owner: Procedure | null, okErrno: i32 = 0): u32 {
    this.fromAccepted = -1;
    const o = takeOutput(kind);
    o.id = this.nextActionId++;
    o.aux = aux;
    o.share(data);
    this.out.push(o);
    this.counters.kernelActions++;
    if (okErrno) this.tolerated.set(o.id, okErrno);
    if (owner) {
      owner.pendingActions++;
      this.actions.set(o.id, owner);
    }
    return o.id;
  }

  /** The action whose output is being handed over (kernelOutput). */
  outputAction: u32 = 0;

  nftAction(text: StaticArray<u8>, owner: Procedure | null): u32 {
    const id = this.kernelAction(OUT_NFT, 0, text, owner);
    this.nftIds.add(id);
    return id;
  }

  /**
   * A netlink request on a socket of `protocol`. With waitAck the host reads
   * until the kernel acknowledges; without, it returns what the socket holds.
   * A dump is read to its end (the reply may be megabytes: it comes in pieces).
   */
  netlinkAction(protocol: u32, bytes: StaticArray<u8>, owner: Procedure | null, waitAck: bool = true, okErrno: i32 = 0, dump: bool = false): u32 {
    return this.kernelAction(OUT_NETLINK, protocol | (waitAck ? NETLINK_WAIT_ACK : 0) | (dump ? NETLINK_DUMP : 0), bytes, owner, okErrno);
  }

  /** The host reports the outcome of a kernel action: status 0 or an errno. */
  handleActionResult(id: u32, status: i32, now: f64): void {
    if (this.tolerated.has(id)) {
      const ok = this.tolerated.get(id);
      if (ok == status || (ok == ANY_STATUS && status != 0)) status = 0;
      this.tolerated.delete(id);
    }
    if (status != 0) {
      const nft = this.nftIds.has(id);
      for (let i = 0; i < this.modules.length; i++) this.modules[i].kernelFailed(nft);
    }
    this.nftIds.delete(id);
    if (status != 0) {
      this.counters.kernelFailures++;
      const e = beginEvent("kernel-error", now);
      e.key("action");
      e.num(id);
      e.key("errno");
      e.num(<u64>(status < 0 ? -status : status));
      this.out.push(endEvent());
    }
    if (!this.actions.has(id)) return;
    const owner = this.actions.get(id);
    this.actions.delete(id);
    if (status != 0) owner.actionFailed = true;
    owner.pendingActions--;
    if (owner.pendingActions == 0) {
      const ok = !owner.actionFailed;
      owner.actionFailed = false;
      owner.onActionsDone(this, ok, now);
    }
  }

  /** Hands what the kernel answered to an action (netlink reply, nft output) to the procedure that asked. */
  kernelOutput(id: u32, p: usize, n: i32): void {
    // A procedure with several actions tells their outputs apart by this id
    // (a long output comes in several pieces).
    this.outputAction = id;
    if (this.actions.has(id)) this.actions.get(id).onKernelOutput(this, p, n);
  }

  emit(o: Output): void {
    this.out.push(o);
  }

  // ---- sending requests ------------------------------------------------------

  /** The Replay Protect ID for a new request or notice to peer (sections 6.4, 6.5). */
  newReplayId(peer: Peer, sa: SecurityAssociation, now: f64): u64 {
    drbg.fill(COOKIE_BUF, 4);
    const rnd = <u64>load<u32>(COOKIE_BUF);
    if (sa.replayMode == REPLAY_NONCE) return (<u64>peer.nonceFromPeer << 32) | rnd;
    return ntpFromMs(now + peer.clockOffsetMs);
  }

  writeCookie(p: usize): void {
    store<u16>(p, bswap<u16>(<u16>(this.cookie >> 32)));
    store<u32>(p + 2, bswap<u32>(<u32>this.cookie));
  }

  /**
   * Encodes and sends a new request to peer; the owner encodes its body and
   * hears of the reply. Returns false if the peer has no SA or the message
   * does not fit.
   */
  sendRequest(now: f64, peer: Peer, type: u8, flags: u8, owner: Procedure, dst: Address, dstPort: u32, src: Address | null, via: FrameRoute | null = null): bool {
    const sa = peer.sendSa();
    if (!sa) return false;
    const r = new Outstanding(this, peer, owner);
    r.via = via;
    r.type = type;
    r.flags = flags;
    r.dst = dst.copy();
    r.dstPort = dstPort;
    r.src = src ? src.copy() : null;
    if (!this.encodeRequest(r, sa, now)) return false;
    r.start(this.timers, REQUEST_POLICY, peer.rto(), now);
    this.outstanding.push(r);
    this.sendOutstanding(r);
    return true;
  }

  /** (Re)transmits a request, byte for byte: a datagram, or the frame of its FrameRoute. */
  sendOutstanding(r: Outstanding): void {
    const via = r.via;
    if (via) this.sendFrame(via, r.bytes, r.dst, r.dstPort);
    else this.transmit(r.bytes, r.dst, r.dstPort, r.src);
  }

  /**
   * Sends a message as the frame of PROTOCOL.md 8.14 (Ethernet, IP, UDP) by
   * `via`, to dst and dstPort: for a node whose address this node's own
   * routes would not reach (it is tunnelled away, or local here).
   */
  sendFrame(via: FrameRoute, bytes: StaticArray<u8>, dst: Address, dstPort: u32): void {
    drbg.fill(COOKIE_BUF, 2);
    const n = wakeupFrame(
      changetype<usize>(via.dstMac), changetype<usize>(via.srcMac), via.src, dst, via.srcPort, dstPort,
      <u32>load<u16>(COOKIE_BUF), changetype<usize>(bytes), bytes.length, FRAME_BUF, FRAME_CAP,
    );
    if (n <= 0) return;
    const o = takeOutput(OUT_FRAME);
    o.aux = via.ifindex;
    o.copy(FRAME_BUF, n);
    this.out.push(o);
    this.counters.sent++;
  }

  private encodeRequest(r: Outstanding, sa: SecurityAssociation, now: f64): bool {
    const id = this.newReplayId(r.peer, sa, now);
    r.seq32 = r.peer.nextSeq32();
    r.seq = r.peer.takeSeq();
    r.replayLo = <u32>id;
    this.writeCookie(COOKIE_BUF);
    const enc = this.encoder;
    enc.begin(MSG_BUF, MAX_MESSAGE_LENGTH, r.type, r.flags, r.seq, COOKIE_BUF, <u32>(id >> 32), <u32>id);
    r.owner.encodeBody(this, enc);
    const n = sa.seals && typeSeals(r.type) ? enc.finishBinding(changetype<usize>(sa.sealBase), sa.sealOut, r.seq32, sa.spi) : enc.finishAuth(sa.spi, sa.key);
    if (n < 0) return false;
    r.bytes = bytesOf(MSG_BUF, n);
    return true;
  }

  /**
   * A sealed reply-typed message that answers no request (8.12: the agent's
   * Binding Ack at the binding): our cookie, its own sequence number (seq32:
   * extended, the sealing nonce's) and Replay Protect ID; the caller adds the
   * extensions (with markSealed) between beginNotice and finishNotice.
   */
  beginNotice(type: u8, code: u32, seq: u32, hi: u32, lo: u32): Encoder {
    this.writeCookie(COOKIE_BUF);
    const enc = this.encoder;
    enc.begin(MSG_BUF, MAX_MESSAGE_LENGTH, type, code, seq, COOKIE_BUF, hi, lo);
    return enc;
  }

  finishNotice(sa: SecurityAssociation, seq32: u32, dst: Address, dstPort: u32): bool {
    const n = this.encoder.finishBinding(changetype<usize>(sa.sealBase), sa.sealOut, seq32, sa.spi);
    if (n < 0) return false;
    this.transmitCopy(MSG_BUF, n, dst, dstPort, null);
    return true;
  }

  /** Cancels the outstanding requests of a procedure. */
  cancelRequests(owner: Procedure): void {
    for (let i = this.outstanding.length - 1; i >= 0; i--) {
      const r = this.outstanding[i];
      if (r.owner == owner) {
        r.stop();
        this.outstanding.splice(i, 1);
      }
    }
  }

  // ---- replies -----------------------------------------------------------------

  /**
   * Starts the reply to the request being handled (this.incoming), with our
   * cookie, the request's sequence number and the Replay Protect ID of
   * section 6.6. The caller adds extensions and calls finishReply.
   */
  beginReply(peer: Peer, sa: SecurityAssociation, code: u32, now: f64): Encoder {
    const d = this.incoming;
    let hi = d.replayHi();
    const lo = d.replayLo();
    if (sa.replayMode == REPLAY_NONCE) {
      // Every reply carries a fresh nonce for the peer's next request.
      drbg.fill(COOKIE_BUF, 4);
      let n = load<u32>(COOKIE_BUF);
      if (n == 0) n = 1;
      peer.nonceIssued = n;
      hi = n;
    } else if (code == CODE_IDENTIFICATION_MISMATCH) {
      hi = <u32>(<u64>Math.floor(now / 1000) + <u64>NTP_UNIX_OFFSET);
    }
    this.writeCookie(COOKIE_BUF);
    const enc = this.encoder;
    enc.begin(MSG_BUF, MAX_MESSAGE_LENGTH, replyTypeOf(d.type), code, d.sequence, COOKIE_BUF, hi, lo);
    return enc;
  }

  /**
   * Authenticates the reply begun with beginReply, caches it against the
   * request (section 6.7) and sends it to dst (default: the request's source).
   */
  finishReply(peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, dst: Address, dstPort: u32, src: Address | null, now: f64, via: FrameRoute | null = null): void {
    if (!this.mayReplyTo(peer, dst)) {
      this.drop(ERR_BAD_ADDRESS, now);
      return;
    }
    const n = sa.seals && typeSeals(load<u8>(this.encoder.ptr + 1))
      ? this.encoder.finishBinding(changetype<usize>(sa.sealBase), sa.sealOut, this.incomingSeq32, sa.spi)
      : this.encoder.finishAuth(sa.spi, sa.key);
    if (n < 0) return;
    if (!cache) {
      if (via) this.sendFrame(via, bytesOf(MSG_BUF, n), dst, dstPort);
      else this.transmitCopy(MSG_BUF, n, dst, dstPort, src);
      return;
    }
    // (the entry's own buffer, reused; the output gets a copy, in its own pooled buffer)
    const bytes = cache.setReply(MSG_BUF, n);
    cache.dst.set(dst);
    cache.dstPort = dstPort;
    cache.src = src ? src.copy() : null;
    cache.via = via;
    cache.lastSent = now;
    if (via) this.sendFrame(via, bytes, dst, dstPort);
    else this.transmitCopy(MSG_BUF, n, dst, dstPort, src);
  }

  /**
   * The handle of a reply to the request being handled that is sent later
   * (after kernel actions): the request context (peer, SA, cache entry,
   * sequence, Replay Protect ID, source) and where the reply goes. In nonce
   * mode the reply's fresh nonce is drawn now, as beginReply would (6.5).
   */
  deferReply(peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, dst: Address, dstPort: u32): DeferredReply {
    const d = this.incoming;
    const h = new DeferredReply(peer, sa, cache);
    h.replyType = replyTypeOf(d.type);
    h.seq = <u32>d.sequence;
    h.seq32 = this.incomingSeq32;
    h.replayHi = d.replayHi();
    h.replayLo = d.replayLo();
    h.source.set(dst);
    h.sourcePort = dstPort;
    if (sa.replayMode == REPLAY_NONCE) {
      drbg.fill(COOKIE_BUF, 4);
      let n = load<u32>(COOKIE_BUF);
      if (n == 0) n = 1;
      peer.nonceIssued = n;
      h.replayHi = n;
    }
    return h;
  }

  /** Begins the deferred reply with this code; the caller adds extensions and calls finishDeferred. */
  beginDeferred(h: DeferredReply, code: u32): Encoder {
    this.writeCookie(COOKIE_BUF);
    const enc = this.encoder;
    enc.begin(MSG_BUF, MAX_MESSAGE_LENGTH, h.replyType, code, h.seq, COOKIE_BUF, h.replayHi, h.replayLo);
    return enc;
  }

  /** Authenticates the deferred reply, keeps it in h and the request's cache entry, and sends it. */
  finishDeferred(h: DeferredReply, now: f64): bool {
    const sa = h.sa;
    if (sa.seals && typeSeals(h.replyType)) this.encoder.seal(changetype<usize>(sa.raw), sa.sealOut, h.seq32);
    const n = this.encoder.finishAuth(sa.spi, sa.key);
    if (n < 0) return false;
    h.bytes = bytesOf(MSG_BUF, n);
    const c = h.cache;
    if (c) {
      c.reply = h.bytes;
      c.dst.set(h.source);
      c.dstPort = h.sourcePort;
      c.src = null;
      c.lastSent = now;
    }
    this.transmit(h.bytes, h.source, h.sourcePort, null);
    return true;
  }

  // ---- receiving -----------------------------------------------------------

  drop(err: i32, now: f64): void {
    this.counters.dropped++;
    if (err >= 0 && err < 64) this.counters.droppedBy[err]++;
    if (this.options.debug) {
      const e = beginEvent("dropped", now);
      e.key("error");
      e.str(errorName(err));
      e.key("from");
      this.from.json(e);
      e.key("port");
      e.num(this.fromPort);
      this.emit(endEvent());
    }
  }

  /** A datagram arrived on the control port (section 6 pipeline). */
  handleDatagram(now: f64, from: Address, fromPort: u32, ptr: usize, len: i32): void {
    this.counters.received++;
    this.opened = false;
    this.openedPeer = null;
    this.fromAccepted = -1;
    this.from.set(from);
    this.fromPort = fromPort;
    const d = this.incoming;
    const err = decode(ptr, len, d);
    if (err) {
      this.drop(err, now);
      return;
    }
    const cookie = readCookie(d.cookiePtr());
    let peer = this.findPeer(cookie);
    const spi = authSpi(d);
    let sa = peer ? peer!.findSa(spi) : null;
    if (!sa) {
      // A session SA that a module made at run time (PROTOCOL.md 6.1, 8.3).
      for (let i = 0; i < this.modules.length && !sa; i++) sa = this.modules[i].sessionSa(this, d, spi, now);
      if (sa) {
        // 8.11 (version 2): a session SA's Binding Update or Ack is verified by its Sealed tag alone.
        const bad = sa.seals && typeSeals(d.type) ? this.openBinding(d, sa, cookie) : verifyAuth(d, sa.key);
        if (bad) {
          this.drop(bad, now);
          return;
        }
        // Only now, authenticated, may the message name the session peer's cookie.
        const owner = sa.peer;
        if (!owner) {
          // (the session peer openBinding found for the cookie, if any: not looked up again)
          const found = this.openedPeer;
          peer = found && found.cookie == cookie ? found : this.sessionPeer(cookie, this.from, fromPort);
          sa.peer = peer;
        } else if (owner.cookie == 0 || owner.cookie == cookie) {
          owner.cookie = cookie;
          peer = owner;
        } else {
          this.drop(ERR_UNKNOWN_PEER, now);
          return;
        }
        this.handleVerified(peer!, sa!, now);
        return;
      }
    }
    if (!peer) {
      for (let i = 0; i < this.modules.length; i++) if (this.modules[i].unknownPeer(this, d, now)) return;
      for (let i = 0; i < this.modules.length; i++) if (this.modules[i].unverifiable(this, d, now)) return;
      this.drop(ERR_UNKNOWN_PEER, now);
      return;
    }
    if (!sa) {
      for (let i = 0; i < this.modules.length; i++) if (this.modules[i].unverifiable(this, d, now)) return;
      this.drop(ERR_UNKNOWN_SPI, now);
      return;
    }
    const bad = sa!.seals && typeSeals(d.type) ? this.openBinding(d, sa!, cookie) : verifyAuth(d, sa!.key);
    if (bad) {
      this.drop(bad, now);
      return;
    }
    this.handleVerified(peer!, sa!, now);
  }

  /** The incoming message was verified and opened by openBinding (8.11): not opened again. */
  private opened: bool = false;
  /** The session peer of the incoming message's cookie that openBinding found (a request under an SA with no peer), or null. */
  private openedPeer: Peer | null = null;

  /**
   * Verifies and opens a Binding Update or Ack under a session SA (8.11,
   * version 2) before its cookie names a peer: its extended sequence number
   * is the one handleRequest or handleReply will use (the session peer's
   * window, or epoch 1 for a peer not yet made; the outstanding request's for
   * a reply). Creates nothing. 0 or the reason to drop it.
   */
  private openBinding(d: Decoded, sa: SecurityAssociation, cookie: u64): i32 {
    const seq = <u32>d.sequence;
    let seq32: u32 = 0;
    if (messageIsReply(d.type)) {
      const lo = d.replayLo();
      let found = false;
      for (let i = 0; i < this.outstanding.length; i++) {
        const o = this.outstanding[i];
        if (o.seq == seq && o.replayLo == lo && replyTypeOf(o.type) == d.type && (!sa.peer || o.peer == sa.peer)) {
          seq32 = o.seq32;
          found = true;
          break;
        }
      }
      if (!found) {
        // 8.12: the agent's Binding Ack at the binding answers no request: it carries the
        // agent's own number, in epoch 1. What does not open is still not a reply.
        if (d.type != MSG_BINDING_ACK) return ERR_NOT_A_REPLY;
        if (openSealedBinding(d, changetype<usize>(sa.sealBase), sa.sealIn, 0x10000 | (seq & 0xffff))) return ERR_NOT_A_REPLY;
        this.opened = true;
        return 0;
      }
    } else {
      const owner = sa.peer;
      const p = owner ? owner : cookie != 0 ? this.findSessionPeer(cookie) : null;
      if (!owner) this.openedPeer = p;
      seq32 = p ? <u32>p.window.extend(seq) : 0x10000 | (seq & 0xffff);
    }
    const err = openSealedBinding(d, changetype<usize>(sa.sealBase), sa.sealIn, seq32);
    if (!err) this.opened = true;
    return err;
  }

  /** An authenticated message: a reply to match, or a request or notice for its module. */
  private handleVerified(peer: Peer, sa: SecurityAssociation, now: f64): void {
    const d = this.incoming;
    if (messageIsReply(d.type)) {
      this.handleReply(peer, sa, now);
      return;
    }
    this.handleRequest(peer, sa, now);
  }

  /** True once if openBinding opened the incoming message. */
  private takeOpened(): bool {
    const o = this.opened;
    this.opened = false;
    return o;
  }

  private handleReply(peer: Peer, sa: SecurityAssociation, now: f64): void {
    const d = this.incoming;
    const seq = <u32>d.sequence;
    const lo = d.replayLo();
    let r: Outstanding | null = null;
    let index = -1;
    for (let i = 0; i < this.outstanding.length; i++) {
      const o = this.outstanding[i];
      if (o.peer == peer && o.seq == seq && o.replayLo == lo && replyTypeOf(o.type) == d.type) {
        r = o;
        index = i;
        break;
      }
    }
    if (!r) {
      for (let i = 0; i < this.modules.length; i++) if (this.modules[i].lateReply(this, peer, d, now)) return;
      this.drop(ERR_NOT_A_REPLY, now);
      return;
    }
    // A sealed reply is opened before anything of it counts (8.11); a bad tag changes nothing.
    if (!this.takeOpened() && (sa.seals || d.has(EXT_SEALED))) {
      const err = sealedError(d, sa, r.seq32);
      if (err) {
        this.drop(err, now);
        return;
      }
    }
    if (sa.replayMode == REPLAY_NONCE) peer.nonceFromPeer = d.replayHi();
    const code = <u32>d.flagsCode;
    if (code == CODE_IDENTIFICATION_MISMATCH && r.resyncs < 2) {
      // Section 6.4: learn the peer's clock (or nonce) and send again, new number and ID.
      this.counters.replies133++;
      if (sa.replayMode == REPLAY_TIMESTAMP) {
        const theirs = msFromNtp(<u64>d.replayHi() << 32, now);
        peer.clockOffsetMs = theirs - now;
      }
      r.resyncs++;
      if (this.encodeRequest(r, sa, now)) {
        r.start(this.timers, REQUEST_POLICY, peer.rto(), now);
        this.sendOutstanding(r);
      }
      return;
    }
    r.stop();
    this.outstanding.splice(index, 1);
    this.learnControl(peer);
    if (r.transmissions == 1 && r.resyncs == 0) peer.sampleRtt(now - r.firstSent);
    r.owner.onReply(this, d, code, now);
  }

  private handleRequest(peer: Peer, sa: SecurityAssociation, now: f64): void {
    const d = this.incoming;
    const seq = <u32>d.sequence;
    // Routing (generated from the registry): a type no module here serves is
    // dropped before it touches the replay state or the reply cache.
    const served = unchecked(this.moduleOf[messageProtocol(d.type)]);
    if (!served) {
      this.drop(ERR_UNSERVED_TYPE, now);
      return;
    }
    // A sealed request is opened before the cache, the window or its module see it (8.11).
    this.incomingSeq32 = <u32>peer.window.extend(seq);
    if (!this.takeOpened() && (sa.seals || d.has(EXT_SEALED))) {
      const err = sealedError(d, sa, this.incomingSeq32);
      if (err) {
        this.drop(err, now);
        return;
      }
    }
    // A retransmission is answered from the cache and changes nothing (6.7).
    peer.expireReplies(now);
    const cached = peer.findReply(seq);
    if (cached && this.sameAuthenticator(cached)) {
      this.counters.duplicates++;
      if (cached.reply.length > 0 && now - cached.lastSent >= REPLY_RESEND_GAP_MS) {
        cached.lastSent = now;
        const via = cached.via;
        if (via) this.sendFrame(via, cached.reply, cached.dst, cached.dstPort);
        else this.transmitCopy(changetype<usize>(cached.reply), cached.reply.length, cached.dst, cached.dstPort, cached.src);
      }
      return;
    }
    // Replay protection in the order of 6.3: the window first (replays get no
    // answer), then the Replay Protect ID (6.4, 6.5), and only then an update.
    const id = (<u64>d.replayHi() << 32) | <u64>d.replayLo();
    let idErr: i32 = 0;
    if (sa.replayMode == REPLAY_NONCE) {
      idErr = peer.nonceIssued == 0 ? ERR_NONCE_MISMATCH : checkNonce(id, peer.nonceIssued);
    } else {
      idErr = checkTimestamp(id, now, sa.skewMs);
      // A receiver without state for the peer accepts nothing older than its start.
      if (!idErr && peer.window.empty && msFromNtp(id, now) < this.startedAt - 1000) idErr = ERR_STALE_TIMESTAMP;
    }
    const winErr = peer.window.check(seq);
    let newEpoch = false;
    if (winErr && d.type == MSG_REGISTRATION_REQUEST && !idErr) {
      newEpoch = sa.replayMode == REPLAY_NONCE || id > peer.newestTs;
    }
    if (winErr && !newEpoch) {
      this.drop(winErr, now);
      return;
    }
    if (idErr) {
      if (replyTypeOf(d.type) == 0) {
        this.drop(idErr, now);
        return;
      }
      if (!this.mayAnswerMismatch(peer, now)) {
        this.counters.limited133++;
        this.drop(idErr, now);
        return;
      }
      this.counters.replies133++;
      const enc = this.beginReply(peer, sa, CODE_IDENTIFICATION_MISMATCH, now);
      if (enc.err == 0) this.finishReply(peer, sa, null, this.from, this.fromPort, null, now);
      if (this.options.debug) this.drop(idErr, now);
      return;
    }
    if (newEpoch) peer.window.reset();
    peer.window.update(seq);
    if (sa.replayMode == REPLAY_TIMESTAMP && id > peer.newestTs) peer.newestTs = id;
    this.learnControl(peer);
    // Notices (Migration Confirm) are not cached: they have no reply.
    let cache: CachedReply | null = null;
    if (replyTypeOf(d.type) != 0) {
      cache = peer.newReply(seq, now);
      const a = d.ptr + <usize>d.authOffset;
      const n = authTagLength(a);
      copyBytes(changetype<usize>(cache.auth), authTagPtr(a), <usize>n);
      cache.authLen = n;
    }
    served!.request(this, peer, sa, cache, now);
  }

  /**
   * Whether a reply may go to `dst`: an address configured for the peer, or
   * one that passes the address test. A request's source is not under the
   * MAC; a forged loopback, broadcast or own source gets nothing (7.4 step 1).
   */
  mayReplyTo(peer: Peer, dst: Address): bool {
    return peer.configured(dst) || this.acceptsPeerAddress(dst);
  }

  /**
   * Whether a code-133 reply may go to the request's source (section 6.4): a
   * source that may stand for a peer, at most one per peer every
   * REPLY_RESEND_GAP_MS (as cached replies), and, to a source the peer does
   * not own, only while the shared token bucket has a token. A replayed
   * request from spoofed sources thus draws a bounded trickle, not one
   * reply each.
   */
  private mayAnswerMismatch(peer: Peer, now: f64): bool {
    const src = this.from;
    if (!this.mayReplyTo(peer, src)) return false;
    if (now - peer.lastMismatchAt < REPLY_RESEND_GAP_MS) return false;
    if (!peer.owns(src, now)) {
      const rate = this.options.mismatchRepliesPerS;
      if (rate <= 0) return false;
      const burst = rate < 1 ? 1 : rate;
      if (this.mismatchTokens < 0) this.mismatchTokens = burst;
      else this.mismatchTokens = Math.min(burst, this.mismatchTokens + Math.max(0, now - this.mismatchRefilledAt) * rate / 1000);
      this.mismatchRefilledAt = now;
      if (this.mismatchTokens < 1) return false;
      this.mismatchTokens -= 1;
    }
    peer.lastMismatchAt = now;
    return true;
  }

  /**
   * Roaming (PROTOCOL.md 7.1): the source of a message that authenticated and
   * was fresh (a request or notice that passed the replay checks, or a reply
   * that matched one of our outstanding requests) is where the peer is now.
   * Only the address is learned: the peer receives requests on its control
   * port on every address, while the source port may be that of a socket it
   * opened only to send from a chosen address.
   */
  private learnControl(peer: Peer): void {
    if (this.acceptsPeerAddress(this.from)) peer.learnControl(this.from);
  }

  private sameAuthenticator(c: CachedReply): bool {
    const d = this.incoming;
    const a = d.ptr + <usize>d.authOffset;
    const n = authTagLength(a);
    return n == c.authLen && bytesEqual(authTagPtr(a), changetype<usize>(c.auth), n);
  }

  /**
   * Makes `module` the one that serves `protocol` (PROTOCOL_STEM, PROTOCOL_SID):
   * it receives the requests of that protocol's message types, and every
   * broadcast call. A protocol is served by at most one module.
   */
  serve(protocol: i32, module: RequestHandler): void {
    if (protocol < 1 || protocol > PROTOCOL_COUNT) return;
    const old = unchecked(this.moduleOf[protocol]);
    if (old) {
      const i = this.modules.indexOf(old);
      if (i >= 0) this.modules.splice(i, 1);
    }
    unchecked(this.moduleOf[protocol] = module);
    this.modules.push(module);
  }

  // ---- timers --------------------------------------------------------------

  /**
   * The earliest time handleTimeout must run, or Infinity: the timer table's
   * earliest, or a module's own queue's that it polls (docs/ENGINE.md).
   */
  nextTimeout(): f64 {
    let t = this.timers.earliest;
    for (let i = 0; i < this.modules.length; i++) {
      const h = this.modules[i].nextTimeout(this);
      if (h < t) t = h;
    }
    return t;
  }

  /** Fires every timer that is due (retransmissions, 6.7; the modules' deadlines), then the polled queues. */
  handleTimeout(now: f64): void {
    this.timers.run(now);
    for (let i = 0; i < this.modules.length; i++) this.modules[i].timeout(this, now);
  }
}

/**
 * The protocol modules' entry points, called by the engine (docs/ENGINE.md).
 * A module serves one protocol (Node.serve): requests of the message types the
 * registry assigns to it reach only it; the other calls reach every module.
 */
export abstract class RequestHandler {
  /** An authenticated, fresh request or notice from a known peer. */
  abstract request(node: Node, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, now: f64): void;
  /** A message whose cookie names no configured peer; true if handled. */
  unknownPeer(node: Node, d: Decoded, now: f64): bool { return false; }
  /**
   * A session SA this module made at run time for the message's SPI (e.g. a
   * binding's, found by the Transferred Address it carries in clear), or
   * null. The engine verifies the message under it.
   */
  sessionSa(node: Node, d: Decoded, spi: u32, now: f64): SecurityAssociation | null { return null; }
  /** A message that no SA can verify yet; true if the module keeps it to verify later (8.12). */
  unverifiable(node: Node, d: Decoded, now: f64): bool { return false; }
  /** An authenticated reply that matches no outstanding request; true if handled. */
  lateReply(node: Node, peer: Peer, d: Decoded, now: f64): bool { return false; }
  /**
   * A queue of deadlines the module keeps itself and the engine polls: its
   * earliest (Infinity: none), and the call when that time came. Every other
   * deadline is a Timer in node.timers; SID's address registry (8.18) is the
   * one user.
   */
  nextTimeout(node: Node): f64 { return Infinity; }
  timeout(node: Node, now: f64): void {}
  /** True if `a` is one of the host's addresses the module knows of (interfaces, identities on lo). */
  isLocalAddress(a: Address): bool { return false; }
  /** A kernel action failed; nft is true for an nftables batch. */
  kernelFailed(nft: bool): void {}
  /** The kernel's reply to a netlink action, parsed. */
  netlinkSeen(summary: NetlinkSummary): void {}
}

/**
 * Opens the Sealed extension of an authenticated message (8.11): 0, or the
 * reason to drop it. A sealed message under an SA that does not seal, or a
 * message of a sealing type under a session SA without one, is treated as
 * one that does not authenticate.
 */
function sealedError(d: Decoded, sa: SecurityAssociation, seq32: u32): i32 {
  // (a session SA's Binding Update or Ack was opened by openBinding, version 2: never here)
  if (!sa.seals || typeSeals(d.type)) return ERR_BAD_AUTHENTICATOR;
  return openSealed(d, changetype<usize>(sa.raw), sa.sealIn, seq32);
}

/** True if a message type's other extensions travel in a Sealed extension under a session SA (8.11). */
export function typeSeals(type: u8): bool {
  return extensionRule(type, EXT_SEALED) != RULE_NONE;
}

export function readCookie(p: usize): u64 {
  return (<u64>bswap<u16>(load<u16>(p)) << 32) | <u64>bswap<u32>(load<u32>(p + 2));
}
