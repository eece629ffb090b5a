// Peers, their security associations and their replay state
// (docs/PROTOCOL.md section 6).

import { Address } from "./address";
import { FrameRoute } from "./output";
import { HmacKey } from "../crypto/hmac";
import { copyBytes } from "../util/bytes";
import { ReplayWindow } from "../replay/window";
import { REPLAY_TIMESTAMP, DEFAULT_SKEW_MS } from "../generated/registry";

/** A security association shared with one peer (section 6.1). */
export class SecurityAssociation {
  spi: u32;
  key: HmacKey;
  replayMode: u8 = REPLAY_TIMESTAMP;
  skewMs: f64 = DEFAULT_SKEW_MS;
  /** The key as configured (a key wrap under this SA derives from it, PROTOCOL.md 4.7); empty if unknown. */
  raw: StaticArray<u8> = NO_KEY;
  /**
   * A session SA (PROTOCOL.md 6.1, 8.3, 8.11): made at run time by a protocol
   * module, not configured. Its messages' other extensions travel in a Sealed
   * extension under keys derived from `raw` (the session key): `sealIn` for
   * what it receives, `sealOut` for what it sends (SEAL_UP, SEAL_DOWN); -1
   * for an SA that does not seal.
   */
  sealIn: i32 = -1;
  sealOut: i32 = -1;
  /**
   * A session SA's binding key K_b (8.11, version 2): its Binding Updates and
   * Acks are authenticated by the Sealed tag alone, under K_b's subkeys; `raw`
   * and `key` are its SA subkey, for its other messages. Made on first use
   * (sealBase): a configured peer's SA never seals, and made with every SA
   * these 32 bytes and their block header were ~78 B of each configured
   * peer's (bench/memory.js --tables: 576 -> 498 B per peer).
   */
  private sealBaseBuf: StaticArray<u8> = NO_KEY;
  /** The peer a session SA belongs to; null until the engine binds it to the sender's cookie. */
  peer: Peer | null = null;
  constructor(spi: u32, key: HmacKey) {
    this.spi = spi;
    this.key = key;
  }
  get seals(): bool { return this.sealIn >= 0; }
  /** K_b's 32 bytes (zero until written), allocated on first use. */
  get sealBase(): StaticArray<u8> {
    let b = this.sealBaseBuf;
    if (b.length != 32) {
      b = new StaticArray<u8>(32);
      this.sealBaseBuf = b;
    }
    return b;
  }
}

const NO_KEY = new StaticArray<u8>(0);

/** A reply kept to answer a retransmitted request (section 6.7). */
const EMPTY_BYTES = new StaticArray<u8>(0);

export class CachedReply {
  seq: u32 = 0;
  /** The request's authenticator (a retransmission repeats it exactly): authLen bytes. */
  auth: StaticArray<u8> = new StaticArray<u8>(32);
  authLen: i32 = 0;
  /** The reply; empty while the request is still being processed. */
  reply: StaticArray<u8> = EMPTY_BYTES;
  /**
   * The buffer this entry made for its replies (setReply), kept when the entry is
   * recycled and reused by a reply of the same length: a peer that renews at a
   * high rate gets its replies cached without an allocation each. It is never
   * handed to an output (the engine sends copies of it) nor kept elsewhere
   * (takeReply detaches it).
   */
  private own: StaticArray<u8> = EMPTY_BYTES;

  /** Makes the n bytes at p the reply, in the entry's own buffer when it has that length. */
  setReply(p: usize, n: i32): StaticArray<u8> {
    let b = this.own;
    if (b.length != n) {
      b = new StaticArray<u8>(n);
      this.own = b;
    }
    copyBytes(changetype<usize>(b), p, <usize>n);
    this.reply = b;
    return b;
  }

  /** The reply, for a caller that keeps it past the entry's life: the entry will not write into it again. */
  takeReply(): StaticArray<u8> {
    if (changetype<usize>(this.reply) == changetype<usize>(this.own)) this.own = EMPTY_BYTES;
    return this.reply;
  }
  dst: Address = new Address();
  dstPort: u32 = 0;
  src: Address | null = null;
  /** Sent as a frame (Node.sendFrame), and so resent. */
  via: FrameRoute | null = null;
  expires: f64 = 0;
  lastSent: f64 = -1e18;
}

/** Replies cached per peer (a power of two: the cache is a ring). */
export const REPLY_CACHE_SIZE: i32 = 8;
export const REPLY_CACHE_MS: f64 = 30000;
export const REPLY_RESEND_GAP_MS: f64 = 10;

/** RTT estimation and retransmission timeout: engine/retransmit.ts (section 6.7). */
import { INITIAL_RTO_MS, MIN_RTO_MS, MAX_RTO_MS } from "./retransmit";

/**
 * An address a peer owns (section 7.4) and until when: configured addresses
 * for good (Infinity), registered or validated ones for their lifetime.
 */
export class OwnedAddress extends Address {
  until: f64;
  constructor(address: Address, until: f64) {
    super();
    this.set(address);
    this.until = until;
  }
  /** The address itself: an owned address is one allocation, not an entry and its Address. */
  get address(): Address { return this; }
  get configured(): bool { return this.until == Infinity; }
}

const NO_PEER_SAS: Array<SecurityAssociation> = [];
/**
 * A peer's cached replies, oldest first: a ring of REPLY_CACHE_SIZE slots from
 * head, count of them in use. Recycling the oldest entry moves no other one.
 */
class ReplyRing {
  slots: StaticArray<CachedReply | null> = new StaticArray<CachedReply | null>(REPLY_CACHE_SIZE);
  head: i32 = 0;
  count: i32 = 0;
}
const NO_POOLS: Array<Address> = [];
const NO_OWNED: Array<OwnedAddress> = [];

export class Peer {
  // Fields are ordered so that the object has no padding (8-byte ones
  // together, then 4-byte ones, then bools): memory per peer, docs/dataplane.md "scale".
  cookie: u64;
  id: i32;
  /**
   * Where requests to the peer go: its control address and port. Configured,
   * then learned from its authenticated, fresh messages (PROTOCOL.md 7.1).
   */
  control: Address = new Address();
  controlPort: u32 = 0;
  /** The peer's learned control address of the other family than `control`, if any (made when learned). */
  controlOther: Address | null = null;
  // Addresses the peer owns (configured, registered and validated, validated
  // by a Confirm): section 7.4. The first inline (a configured peer has one,
  // its control address), further ones in `moreOwned` (a shared empty array
  // until a second). Read with ownedCount and ownedAt (index 0 is the first).
  private ownedFirst: OwnedAddress | null = null;
  private moreOwned: Array<OwnedAddress> = NO_OWNED;
  /**
   * The SAs: the first (the one used to send) inline, any further ones in
   * `moreSas` (shared empty array until a second is added). Add with addSa.
   */
  sa0: SecurityAssociation | null = null;
  private moreSas: Array<SecurityAssociation> = NO_PEER_SAS;

  // Sending.
  nextSeq: u32 = 0;
  /** Nonce mode: the nonce the peer issued us for our next request. */
  nonceFromPeer: u32 = 0;
  /** Timestamp mode: the peer's clock minus ours, learned from a 133 reply. */
  clockOffsetMs: f64 = 0;
  srtt: f64 = 0;
  rttvar: f64 = 0;

  // Receiving.
  /** Newest timestamp accepted from the peer (timestamp mode). */
  newestTs: u64 = 0;
  /** When we last answered the peer with code 133 (rate limit, section 6.4). */
  lastMismatchAt: f64 = -1e18;
  /** Registration lifetime end (ms), 0 if not registered. */
  registeredUntil: f64 = 0;
  /** The replay window (made when the peer first talks: see `window`). */
  private _window: ReplayWindow | null = null;
  /** Nonce mode: the nonce we issued the peer for its next request. */
  nonceIssued: u32 = 0;
  /** Replies kept for retransmissions: none until the first (newReply). */
  private replies: ReplyRing | null = null;

  /** Unvalidated new addresses of this peer (section 7.5). */
  pendingPaths: i32 = 0;
  /** Wraps of nextSeq: the high bits of the extended sequence number of what we send (sealing nonces, 8.11). */
  sendEpoch: u32 = 1;
  hasRtt: bool = false;
  /**
   * A peer made at run time for session SAs (Node.sessionPeer), not configured:
   * its cookie is learned from its first authenticated message (0 until then).
   */
  runtime: bool = false;
  /** The replay window's size (option windowBits, at most 4096). */
  private windowBits: u16;

  constructor(id: i32, cookie: u64, windowBits: i32) {
    this.id = id;
    this.cookie = cookie;
    this.windowBits = <u16>windowBits;
  }

  /** The replay window, made on first use: a configured peer that never talks holds none. */
  get window(): ReplayWindow {
    let w = this._window;
    if (!w) this._window = w = new ReplayWindow(<i32>this.windowBits);
    return w;
  }

  /** True if nothing was accepted from the peer yet (without making its window). */
  get windowEmpty(): bool {
    const w = this._window;
    return !w || w.empty;
  }

  findSa(spi: u32): SecurityAssociation | null {
    const first = this.sa0;
    if (first && first.spi == spi) return first;
    const more = this.moreSas;
    for (let i = 0; i < more.length; i++) {
      if (more[i].spi == spi) return more[i];
    }
    return null;
  }

  /** Adds an SA; the first added is the one used to send. */
  addSa(sa: SecurityAssociation): void {
    if (!this.sa0) this.sa0 = sa;
    else {
      if (changetype<usize>(this.moreSas) == changetype<usize>(NO_PEER_SAS)) this.moreSas = new Array<SecurityAssociation>();
      this.moreSas.push(sa);
    }
  }

  /** The SA used for messages to the peer: the first configured. */
  sendSa(): SecurityAssociation | null {
    return this.sa0;
  }

  /** Where to send to the peer from an address of `family`: its control address, or an owned one of that family. */
  controlFor(family: u8): Address {
    if (this.control.family == family) return this.control;
    const other = this.controlOther;
    if (other && other.family == family) return other;
    for (let i = 0; i < this.ownedCount(); i++) if (this.ownedAt(i).address.family == family) return this.ownedAt(i).address;
    return this.control;
  }

  /** The peer was heard from `a` (authenticated and fresh): requests of that family go there now. */
  learnControl(a: Address): void {
    if (!this.control.isSet || this.control.family == a.family) this.control.set(a);
    else {
      let other = this.controlOther;
      if (!other) this.controlOther = other = new Address();
      other.set(a);
    }
  }

  /** How many addresses the peer owns (expired ones included until expireOwned). */
  ownedCount(): i32 {
    return this.ownedFirst ? 1 + this.moreOwned.length : 0;
  }

  /** The owned address at index `i` (0 <= i < ownedCount()). */
  ownedAt(i: i32): OwnedAddress {
    return i == 0 ? changetype<OwnedAddress>(this.ownedFirst) : unchecked(this.moreOwned[i - 1]);
  }

  private pushOwned(o: OwnedAddress): void {
    if (!this.ownedFirst) {
      this.ownedFirst = o;
      return;
    }
    if (changetype<usize>(this.moreOwned) == changetype<usize>(NO_OWNED)) this.moreOwned = new Array<OwnedAddress>();
    this.moreOwned.push(o);
  }

  private removeOwnedAt(i: i32): void {
    if (i == 0) this.ownedFirst = this.moreOwned.length ? this.moreOwned.shift() : null;
    else this.moreOwned.splice(i - 1, 1);
  }

  private ownedIndex(a: Address): i32 {
    for (let i = 0; i < this.ownedCount(); i++) if (this.ownedAt(i).address.equals(a)) return i;
    return -1;
  }

  /** True if the peer owns `a` at `now` (an expired entry no longer counts). */
  owns(a: Address, now: f64): bool {
    const i = this.ownedIndex(a);
    return i >= 0 && this.ownedAt(i).until > now;
  }

  /**
   * Session-address ranges configured for the peer (docs/PROTOCOL.md 8.18):
   * pairs of first and last address, both of one family. An address inside
   * one counts as configured (SID's agent accepts its transfer from the peer).
   */
  pools: Array<Address> = NO_POOLS;

  addPool(first: Address, last: Address): void {
    if (changetype<usize>(this.pools) == changetype<usize>(NO_POOLS)) this.pools = new Array<Address>();
    this.pools.push(first.copy());
    this.pools.push(last.copy());
  }

  inPool(a: Address): bool {
    for (let i = 0; i + 1 < this.pools.length; i += 2) {
      const f = this.pools[i];
      const l = this.pools[i + 1];
      if (f.family != a.family) continue;
      const geFirst = a.hi > f.hi || (a.hi == f.hi && a.lo >= f.lo);
      const leLast = a.hi < l.hi || (a.hi == l.hi && a.lo <= l.lo);
      if (geFirst && leLast) return true;
    }
    return false;
  }

  /** True if `a` is configured as the peer's: trusted by the administrator, not learned from the wire. */
  configured(a: Address): bool {
    const i = this.ownedIndex(a);
    return (i >= 0 && this.ownedAt(i).configured) || this.inPool(a);
  }

  /** A configured address of the peer: owned for good. */
  addConfigured(a: Address): void {
    const i = this.ownedIndex(a);
    if (i >= 0) this.ownedAt(i).until = Infinity;
    else this.pushOwned(new OwnedAddress(a, Infinity));
  }

  /**
   * The peer owns `a` until `until` (a registration or validation proved it).
   * A known address keeps the later of its two expiries. The set holds at
   * most `cap` learned addresses: expired ones go first, then the one that
   * expires soonest (configured addresses are never dropped).
   */
  addOwned(a: Address, until: f64, now: f64, cap: i32): void {
    const i = this.ownedIndex(a);
    if (i >= 0) {
      if (until > this.ownedAt(i).until) this.ownedAt(i).until = until;
      return;
    }
    this.expireOwned(now);
    if (cap <= 0) return;
    let learned = 0;
    let soonest = -1;
    for (let j = 0; j < this.ownedCount(); j++) {
      const o = this.ownedAt(j);
      if (o.configured) continue;
      learned++;
      if (soonest < 0 || o.until < this.ownedAt(soonest).until) soonest = j;
    }
    if (learned >= cap) this.removeOwnedAt(soonest);
    this.pushOwned(new OwnedAddress(a, until));
  }

  /** Forgets owned addresses whose lifetime has ended. */
  expireOwned(now: f64): void {
    for (let i = this.ownedCount() - 1; i >= 0; i--) {
      if (this.ownedAt(i).until <= now) this.removeOwnedAt(i);
    }
  }

  /** The owned addresses, for a local move's scope (where the peer's sessions are). */
  ownedAddresses(): Array<Address> {
    const list = new Array<Address>();
    for (let i = 0; i < this.ownedCount(); i++) list.push(this.ownedAt(i).address.copy());
    return list;
  }

  rto(): f64 {
    if (!this.hasRtt) return INITIAL_RTO_MS;
    const r = this.srtt + 4 * this.rttvar;
    return r < MIN_RTO_MS ? MIN_RTO_MS : r > MAX_RTO_MS ? MAX_RTO_MS : r;
  }

  /** Feeds one round-trip sample (RFC 6298 section 2). */
  sampleRtt(ms: f64): void {
    if (!this.hasRtt) {
      this.srtt = ms;
      this.rttvar = ms / 2;
      this.hasRtt = true;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - ms);
      this.srtt = 0.875 * this.srtt + 0.125 * ms;
    }
  }

  /** The next sequence number for a new message. */
  takeSeq(): u32 {
    const s = this.nextSeq;
    this.nextSeq = (s + 1) & 0xffff;
    if (this.nextSeq == 0) this.sendEpoch++;
    return s;
  }

  /** The extended number (epoch and sequence) the next takeSeq returns: a sealed request's nonce. */
  nextSeq32(): u32 {
    return (this.sendEpoch << 16) | this.nextSeq;
  }

  /** The low 32 bits of the extended number of `seq`, just taken by takeSeq (the sealing nonce). */
  sentSeq32(seq: u32): u32 {
    const epoch = seq == 0xffff && this.nextSeq == 0 ? this.sendEpoch - 1 : this.sendEpoch;
    return (epoch << 16) | (seq & 0xffff);
  }

  findReply(seq: u32): CachedReply | null {
    const ring = this.replies;
    if (!ring) return null;
    const slots = ring.slots;
    for (let i = 0; i < ring.count; i++) {
      const c = unchecked(slots[(ring.head + i) & (REPLY_CACHE_SIZE - 1)])!;
      if (c.seq == seq) return c;
    }
    return null;
  }

  /** Makes room for and returns a new cache entry (recycling the oldest). */
  newReply(seq: u32, now: f64): CachedReply {
    let ring = this.replies;
    if (!ring) this.replies = ring = new ReplyRing();
    const slots = ring.slots;
    let c: CachedReply;
    if (ring.count >= REPLY_CACHE_SIZE) {
      c = unchecked(slots[ring.head])!;
      ring.head = (ring.head + 1) & (REPLY_CACHE_SIZE - 1);
      ring.count--;
    } else {
      c = new CachedReply();
    }
    c.seq = seq;
    c.expires = now + REPLY_CACHE_MS;
    c.reply = EMPTY_BYTES;
    c.src = null;
    c.via = null;
    c.lastSent = -1e18;
    unchecked(slots[(ring.head + ring.count) & (REPLY_CACHE_SIZE - 1)] = c);
    ring.count++;
    return c;
  }

  expireReplies(now: f64): void {
    const ring = this.replies;
    if (!ring) return;
    const slots = ring.slots;
    while (ring.count && unchecked(slots[ring.head])!.expires <= now) {
      unchecked(slots[ring.head] = null);
      ring.head = (ring.head + 1) & (REPLY_CACHE_SIZE - 1);
      ring.count--;
    }
  }
}

/**
 * A peer made at run time for session SAs (Node.sessionPeer). It may number
 * what it sends from another peer's counter (`seqSource`): a receiver keeps
 * one replay window per sender cookie, so every session peer of this node
 * that talks to the same receiver draws from one counter: a target's
 * hostings through one agent (PROTOCOL.md 8.3). A subclass, so that
 * configured peers do not carry the field (issue 11: 512 B per peer).
 */
export class SessionPeer extends Peer {
  seqSource: Peer | null = null;

  takeSeq(): u32 {
    const src = this.seqSource;
    return src ? src.takeSeq() : super.takeSeq();
  }

  nextSeq32(): u32 {
    const src = this.seqSource;
    return src ? src.nextSeq32() : super.nextSeq32();
  }
}
