// Peers, their security associations and their replay state
// (docs/PROTOCOL.md section 6).

import { Address } from "./address";
import { FrameRoute } from "./output";
import { HmacKey } from "../crypto/hmac";
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
   * and `key` are its SA subkey, for its other messages.
   */
  sealBase: StaticArray<u8> = new StaticArray<u8>(32);
  /** The peer a session SA belongs to; null until the engine binds it to the sender's cookie. */
  peer: Peer | null = null;
  constructor(spi: u32, key: HmacKey) {
    this.spi = spi;
    this.key = key;
  }
  get seals(): bool { return this.sealIn >= 0; }
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
  dst: Address = new Address();
  dstPort: u32 = 0;
  src: Address | null = null;
  /** Sent as a frame (Node.sendFrame), and so resent. */
  via: FrameRoute | null = null;
  expires: f64 = 0;
  lastSent: f64 = -1e18;
}

export const REPLY_CACHE_SIZE: i32 = 8;
export const REPLY_CACHE_MS: f64 = 30000;
export const REPLY_RESEND_GAP_MS: f64 = 10;

/** RTT estimation and retransmission timeout (section 6.7, RFC 6298 constants). */
export const INITIAL_RTO_MS: f64 = 200;
export const MIN_RTO_MS: f64 = 10;
export const MAX_RTO_MS: f64 = 2000;

/**
 * An address a peer owns (section 7.4) and until when: configured addresses
 * for good (Infinity), registered or validated ones for their lifetime.
 */
export class OwnedAddress {
  address: Address;
  until: f64;
  constructor(address: Address, until: f64) {
    this.address = address.copy();
    this.until = until;
  }
  get configured(): bool { return this.until == Infinity; }
}

export class Peer {
  id: i32;
  cookie: u64;
  /**
   * Where requests to the peer go: its control address and port. Configured,
   * then learned from its authenticated, fresh messages (PROTOCOL.md 7.1).
   */
  control: Address = new Address();
  controlPort: u32 = 0;
  /** The peer's learned control address of the other family than `control`, if any. */
  controlOther: Address = new Address();
  /** Addresses the peer owns (configured, registered and validated, validated by a Confirm): section 7.4. */
  owned: Array<OwnedAddress> = new Array<OwnedAddress>();
  sas: Array<SecurityAssociation> = new Array<SecurityAssociation>();

  // Sending.
  nextSeq: u32 = 0;
  /** Timestamp mode: the peer's clock minus ours, learned from a 133 reply. */
  clockOffsetMs: f64 = 0;
  /** Nonce mode: the nonce the peer issued us for our next request. */
  nonceFromPeer: u32 = 0;
  srtt: f64 = 0;
  rttvar: f64 = 0;
  hasRtt: bool = false;

  // Receiving.
  window: ReplayWindow;
  /** Newest timestamp accepted from the peer (timestamp mode). */
  newestTs: u64 = 0;
  /** Nonce mode: the nonce we issued the peer for its next request. */
  nonceIssued: u32 = 0;
  replies: Array<CachedReply> = new Array<CachedReply>();
  /** When we last answered the peer with code 133 (rate limit, section 6.4). */
  lastMismatchAt: f64 = -1e18;

  /** Unvalidated new addresses of this peer (section 7.5). */
  pendingPaths: i32 = 0;
  /** Registration lifetime end (ms), 0 if not registered. */
  registeredUntil: f64 = 0;
  /**
   * A peer made at run time for session SAs (Node.sessionPeer), not configured:
   * its cookie is learned from its first authenticated message (0 until then).
   */
  runtime: bool = false;
  /** Wraps of nextSeq: the high bits of the extended sequence number of what we send (sealing nonces, 8.11). */
  sendEpoch: u32 = 1;

  constructor(id: i32, cookie: u64, windowBits: i32) {
    this.id = id;
    this.cookie = cookie;
    this.window = new ReplayWindow(windowBits);
  }

  findSa(spi: u32): SecurityAssociation | null {
    for (let i = 0; i < this.sas.length; i++) {
      if (this.sas[i].spi == spi) return this.sas[i];
    }
    return null;
  }

  /** The SA used for messages to the peer: the first configured. */
  sendSa(): SecurityAssociation | null {
    return this.sas.length ? this.sas[0] : null;
  }

  /** Where to send to the peer from an address of `family`: its control address, or an owned one of that family. */
  controlFor(family: u8): Address {
    if (this.control.family == family) return this.control;
    if (this.controlOther.family == family) return this.controlOther;
    for (let i = 0; i < this.owned.length; i++) if (this.owned[i].address.family == family) return this.owned[i].address;
    return this.control;
  }

  /** The peer was heard from `a` (authenticated and fresh): requests of that family go there now. */
  learnControl(a: Address): void {
    if (!this.control.isSet || this.control.family == a.family) this.control.set(a);
    else this.controlOther.set(a);
  }

  private ownedIndex(a: Address): i32 {
    for (let i = 0; i < this.owned.length; i++) if (this.owned[i].address.equals(a)) return i;
    return -1;
  }

  /** True if the peer owns `a` at `now` (an expired entry no longer counts). */
  owns(a: Address, now: f64): bool {
    const i = this.ownedIndex(a);
    return i >= 0 && this.owned[i].until > now;
  }

  /**
   * Session-address ranges configured for the peer (docs/PROTOCOL.md 8.18):
   * pairs of first and last address, both of one family. An address inside
   * one counts as configured (SID's agent accepts its transfer from the peer).
   */
  pools: Array<Address> = new Array<Address>();

  addPool(first: Address, last: Address): void {
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
    return (i >= 0 && this.owned[i].configured) || this.inPool(a);
  }

  /** A configured address of the peer: owned for good. */
  addConfigured(a: Address): void {
    const i = this.ownedIndex(a);
    if (i >= 0) this.owned[i].until = Infinity;
    else this.owned.push(new OwnedAddress(a, Infinity));
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
      if (until > this.owned[i].until) this.owned[i].until = until;
      return;
    }
    this.expireOwned(now);
    if (cap <= 0) return;
    let learned = 0;
    let soonest = -1;
    for (let j = 0; j < this.owned.length; j++) {
      const o = this.owned[j];
      if (o.configured) continue;
      learned++;
      if (soonest < 0 || o.until < this.owned[soonest].until) soonest = j;
    }
    if (learned >= cap) this.owned.splice(soonest, 1);
    this.owned.push(new OwnedAddress(a, until));
  }

  /** Forgets owned addresses whose lifetime has ended. */
  expireOwned(now: f64): void {
    for (let i = this.owned.length - 1; i >= 0; i--) {
      if (this.owned[i].until <= now) this.owned.splice(i, 1);
    }
  }

  /** The owned addresses, for a local move's scope (where the peer's sessions are). */
  ownedAddresses(): Array<Address> {
    const list = new Array<Address>();
    for (let i = 0; i < this.owned.length; i++) list.push(this.owned[i].address.copy());
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

  /** The low 32 bits of the extended number of `seq`, just taken by takeSeq (the sealing nonce). */
  sentSeq32(seq: u32): u32 {
    const epoch = seq == 0xffff && this.nextSeq == 0 ? this.sendEpoch - 1 : this.sendEpoch;
    return (epoch << 16) | (seq & 0xffff);
  }

  findReply(seq: u32): CachedReply | null {
    for (let i = 0; i < this.replies.length; i++) {
      if (this.replies[i].seq == seq) return this.replies[i];
    }
    return null;
  }

  /** Makes room for and returns a new cache entry (recycling the oldest). */
  newReply(seq: u32, now: f64): CachedReply {
    const c = this.replies.length >= REPLY_CACHE_SIZE ? this.replies.shift() : new CachedReply();
    c.seq = seq;
    c.expires = now + REPLY_CACHE_MS;
    c.reply = EMPTY_BYTES;
    c.src = null;
    c.via = null;
    c.lastSent = -1e18;
    this.replies.push(c);
    return c;
  }

  expireReplies(now: f64): void {
    while (this.replies.length && this.replies[0].expires <= now) this.replies.shift();
  }
}
