// Session-specific addresses (docs/PROTOCOL.md 8.18, the second seed's FIG. 2):
// the pluggable address generators and the registry of the node's leases.
// A generator yields an address for one session, keeps it alive and releases
// it; the registry owns the leases, tells the host (event `session-address`)
// and puts the address on the home link as an alias beside the node's base
// address (kernel actions), and takes it off when the lease ends or moves
// away. Generators emit only their own packets, never address actions.
// Interface agreed with the DHCPv4 generator: /work/brief/addrgen-interface.md.
//
// Sans-I/O: `now` is an argument; randomness comes from the DRBG the host seeded.

import { Address } from "../engine/address";
import { Node } from "../engine/node";
import { beginEvent, endEvent } from "../engine/output";
import { Encoder } from "../wire/encode";
import { drbg } from "../crypto/drbg";
import { FAMILY_IPV4, FAMILY_IPV6, ERR_CONFIG, ERR_NO_SESSION_ADDRESS, ERR_BAD_VALUE } from "../generated/registry";

export const GEN_STATIC: u8 = 1;
export const GEN_IPV6: u8 = 2;
export const GEN_DHCP4: u8 = 3;

export const LEASE_PENDING: u8 = 1;
export const LEASE_READY: u8 = 2;
export const LEASE_EXPIRED: u8 = 3;
export const LEASE_RELEASED: u8 = 4;
export const LEASE_AWAY: u8 = 5;

/** Longest opaque generator state that travels in an Address Lease extension (8.18). */
export const LEASE_OPAQUE_MAX: i32 = 200;
/** Leases one node holds at most. */
export const LEASE_MAX: i32 = 1024;

export function generatorName(kind: u8): string {
  return kind == GEN_STATIC ? "static" : kind == GEN_IPV6 ? "ipv6" : kind == GEN_DHCP4 ? "dhcp4" : "unknown";
}
export function leaseStateName(s: u8): string {
  return s == LEASE_PENDING ? "pending" : s == LEASE_READY ? "ready" : s == LEASE_EXPIRED ? "expired"
    : s == LEASE_RELEASED ? "released" : s == LEASE_AWAY ? "away" : "unknown";
}

export class Lease {
  /** The host's handle (1, 2, ...), unique on this node. */
  session: u32;
  kind: u8;
  state: u8 = LEASE_PENDING;
  /** Unset (family 0) while no address is chosen. */
  address: Address = new Address();
  /** ms on the `now` clock; Infinity: no end (static, IPv6). */
  expires: f64 = Infinity;
  /** The generator's own state that travels with a transfer (at most LEASE_OPAQUE_MAX bytes). */
  opaque: StaticArray<u8> = new StaticArray<u8>(0);
  /** The registry put the address on the home link (RTM_NEWADDR sent, not yet removed). */
  aliased: bool = false;
  /** Held as a target (adopted with a transfer): the hosting (8.9) has the address on lo; the registry adds no alias. */
  hosted: bool = false;
  /** IPv6: duplicate address detections tried for this lease (each with a new interface identifier). */
  tries: i32 = 0;
  constructor(session: u32, kind: u8) {
    this.session = session;
    this.kind = kind;
  }
  get held(): bool { return this.state == LEASE_PENDING || this.state == LEASE_READY; }
}

/** One way to obtain session addresses (PROTOCOL.md 8.18). */
export abstract class AddressGenerator {
  kind: u8 = 0;
  registry: AddressRegistry | null = null;
  /** Why the last acquire or adopt failed (for the event). */
  why: string = "";
  /** Chooses (or starts asking for) an address for the lease: 0, or -ERR_*. Report changes with registry.changed. */
  abstract acquire(lease: Lease, now: f64): i32;
  /** Retransmissions, renewals due at `now`. */
  tick(now: f64): void {}
  /** When tick is due next (Infinity: never). */
  nextTimeout(): f64 { return Infinity; }
  /** Gives the address back (the lease is held here). The registry sets RELEASED. */
  abstract release(lease: Lease, now: f64): void;
  /** A lease that came with a transfer: this node holds (renews, releases) it now. False: refuse it. */
  abstract adopt(lease: Lease, now: f64): bool;
  /** The lease moved to another node with a transfer: stop keeping it alive here. */
  handOff(lease: Lease, now: f64): void {}
  /**
   * The lease went away with a transfer and its address came back at the end of
   * that binding (a Wake-up, not a return): the last holder released it there;
   * forget it here without releasing it again (the static pool frees the slot).
   */
  forget(lease: Lease, now: f64): void {}
  /** A packet for the generator (DHCP replies): true if it was one. */
  input(p: usize, n: i32, now: f64): bool { return false; }
  /** IPv6: the host's verdict of duplicate address detection for the lease's address. */
  dad(lease: Lease, ok: bool, now: f64): void {}
}

/** The kernel side of the registry: the Sid engine puts addresses on and off its home link. */
export abstract class AliasSink {
  abstract alias(add: bool, a: Address, dad: bool): void;
}

export class AddressRegistry {
  node: Node;
  sink: AliasSink;
  generators: Array<AddressGenerator> = new Array<AddressGenerator>();
  leases: Array<Lease> = new Array<Lease>();
  private nextSession: u32 = 1;

  constructor(node: Node, sink: AliasSink) {
    this.node = node;
    this.sink = sink;
  }

  add(g: AddressGenerator): void {
    g.registry = this;
    for (let i = 0; i < this.generators.length; i++) {
      if (this.generators[i].kind == g.kind) {
        this.generators[i] = g;
        return;
      }
    }
    this.generators.push(g);
  }

  generator(kind: u8): AddressGenerator | null {
    for (let i = 0; i < this.generators.length; i++) if (this.generators[i].kind == kind) return this.generators[i];
    return null;
  }

  find(session: u32): Lease | null {
    for (let i = 0; i < this.leases.length; i++) if (this.leases[i].session == session) return this.leases[i];
    return null;
  }

  /** The lease held here for a session address, or null. */
  byAddress(a: Address): Lease | null {
    for (let i = 0; i < this.leases.length; i++) {
      const l = this.leases[i];
      if (l.held && l.address.equals(a)) return l;
    }
    return null;
  }

  /** A new session address from the generator `kind`: its session handle, or -ERR_*. */
  acquire(kind: u8, now: f64): i32 {
    const g = this.generator(kind);
    if (!g) return -ERR_CONFIG;
    this.prune();
    if (this.leases.length >= LEASE_MAX) return -ERR_NO_SESSION_ADDRESS;
    const l = new Lease(this.nextSession++, kind);
    this.leases.push(l);
    const r = g.acquire(l, now);
    if (r < 0) {
      l.state = LEASE_EXPIRED;
      this.changed(l, now);
      return r;
    }
    if (l.state != LEASE_PENDING || l.address.isSet) this.changed(l, now);
    return <i32>l.session;
  }

  /** The application ended the session here: the address goes back (the last holder releases it, 8.18). */
  release(session: u32, now: f64): i32 {
    const l = this.find(session);
    if (!l) return -ERR_BAD_VALUE;
    if (l.held) {
      const g = this.generator(l.kind);
      if (g) g.release(l, now);
      l.state = LEASE_RELEASED;
    }
    this.changed(l, now);
    return 0;
  }

  /** The lease's address moved to another node with a transfer (8.18). */
  handOff(l: Lease, now: f64): void {
    if (!l.held) return;
    const g = this.generator(l.kind);
    if (g) g.handOff(l, now);
    l.state = LEASE_AWAY;
    this.changed(l, now);
  }

  /**
   * The Address Lease extension (PROTOCOL.md 4.10) of the session address `a`
   * held here, into a Transfer Negotiation Request begun at `at`; nothing if
   * `a` is no session address.
   */
  writeLease(enc: Encoder, a: Address, at: f64): void {
    const l = this.byAddress(a);
    if (!l) return;
    let remaining: u32 = 0xffffffff;
    if (l.expires != Infinity) remaining = l.expires <= at ? 0 : <u32>Math.min(4294967294, Math.floor((l.expires - at) / 1000));
    enc.addressLease(l.kind, remaining, changetype<usize>(l.opaque), l.opaque.length);
  }

  /** A return (8.6) brings the lease back with the holder's latest state: the away lease takes it. */
  refresh(a: Address, remaining: u32, opaque: usize, n: i32, now: f64): void {
    const l = this.awayAt(a);
    if (!l || n < 0 || n > LEASE_OPAQUE_MAX) return;
    l.expires = remaining == 0xffffffff ? Infinity : now + <f64>remaining * 1000;
    l.opaque = new StaticArray<u8>(n);
    if (n) memory.copy(changetype<usize>(l.opaque), opaque, <usize>n);
  }

  /** The lease held away from here for `a`, or null. */
  awayAt(a: Address): Lease | null {
    for (let i = 0; i < this.leases.length; i++) {
      const l = this.leases[i];
      if (l.state == LEASE_AWAY && l.address.equals(a)) return l;
    }
    return null;
  }

  /**
   * The binding of a session address that went away ended and the address is
   * back here (8.18): after a return the lease is held here again (READY);
   * otherwise the session ended at its last holder, which released the
   * address: the lease ends here too (RELEASED, the alias goes).
   */
  cameBack(a: Address, returned: bool, now: f64): void {
    const l = this.awayAt(a);
    if (!l) return;
    const g = this.generator(l.kind);
    if (returned) {
      if (g) g.adopt(l, now);
      l.state = LEASE_READY;
    } else {
      if (g) g.forget(l, now);
      l.state = LEASE_RELEASED;
    }
    this.changed(l, now);
  }

  /**
   * A lease that arrived with a transfer (8.18): kind, address, remaining
   * lifetime, opaque bytes. Returns it (held here now, READY; no alias: the
   * target hosts a transferred address as 8.9 says), or null.
   */
  adopt(kind: u8, a: Address, remainingS: u32, opaque: usize, n: i32, now: f64): Lease | null {
    const g = this.generator(kind);
    if (!g || n < 0 || n > LEASE_OPAQUE_MAX) return null;
    const old = this.byAddress(a);
    if (old) return old;
    for (let i = this.leases.length - 1; i >= 0; i--) {
      const l = this.leases[i];
      if (l.state == LEASE_AWAY && l.address.equals(a)) {
        // It went on from here earlier and comes back to be hosted: the hosting (8.9) has the address, not the alias.
        if (l.aliased) this.dropAlias(l);
        l.hosted = true;
        l.state = LEASE_READY;
        l.expires = remainingS == 0xffffffff ? Infinity : now + <f64>remainingS * 1000;
        l.opaque = new StaticArray<u8>(n);
        if (n) memory.copy(changetype<usize>(l.opaque), opaque, <usize>n);
        if (!g.adopt(l, now)) return null;
        this.changed(l, now);
        return l;
      }
    }
    this.prune();
    if (this.leases.length >= LEASE_MAX) return null;
    const l = new Lease(this.nextSession++, kind);
    l.address.set(a);
    l.state = LEASE_READY;
    l.hosted = true; // the target's hosting (8.9) puts it on lo and takes it off; the registry does not
    l.expires = remainingS == 0xffffffff ? Infinity : now + <f64>remainingS * 1000;
    l.opaque = new StaticArray<u8>(n);
    if (n) memory.copy(changetype<usize>(l.opaque), opaque, <usize>n);
    if (!g.adopt(l, now)) return null;
    this.leases.push(l);
    this.changed(l, now);
    return l;
  }

  nextTimeout(): f64 {
    let t = Infinity;
    for (let i = 0; i < this.generators.length; i++) t = Math.min(t, this.generators[i].nextTimeout());
    for (let i = 0; i < this.leases.length; i++) if (this.leases[i].held) t = Math.min(t, this.leases[i].expires);
    return t;
  }

  tick(now: f64): void {
    for (let i = 0; i < this.generators.length; i++) this.generators[i].tick(now);
    for (let i = 0; i < this.leases.length; i++) {
      const l = this.leases[i];
      if (l.held && l.expires <= now) {
        l.state = LEASE_EXPIRED;
        this.changed(l, now);
      }
    }
  }

  dad(session: u32, ok: bool, now: f64): i32 {
    const l = this.find(session);
    if (!l || l.state != LEASE_PENDING) return -ERR_BAD_VALUE;
    const g = this.generator(l.kind);
    if (!g) return -ERR_CONFIG;
    g.dad(l, ok, now);
    return 0;
  }

  /** The lease changed (generators call this): kernel actions and the event. */
  changed(l: Lease, now: f64): void {
    if (l.hosted) {
      // no alias: the hosting's address on lo is the target's claim
    } else if (l.held && l.address.isSet && !l.aliased) {
      // IPv6 addresses go on with duplicate address detection (the host reports its end); others at READY only.
      const dad = l.kind == GEN_IPV6 && l.state == LEASE_PENDING;
      if (dad || l.state == LEASE_READY) {
        this.sink.alias(true, l.address, dad);
        l.aliased = true;
      }
    } else if (!l.held && l.aliased) {
      // AWAY: the address stays on under the stop and ARP rules while the transfer lasts (8.2); the Sid removes
      // it when the transfer ends without a return. RELEASED / EXPIRED: off now.
      if (l.state != LEASE_AWAY) {
        this.sink.alias(false, l.address, false);
        l.aliased = false;
      }
    }
    const e = beginEvent("session-address", now);
    e.key("session");
    e.num(l.session);
    e.key("generator");
    e.str(generatorName(l.kind));
    e.key("state");
    e.str(leaseStateName(l.state));
    e.key("address");
    if (l.address.isSet) l.address.json(e);
    else e.str("");
    if (l.expires != Infinity) {
      e.key("expires");
      e.num(<u64>l.expires);
    }
    this.node.emit(endEvent());
  }

  /** The lease is over at this node: the alias goes (a transfer that ended without a return). */
  dropAlias(l: Lease): void {
    if (l.aliased) {
      this.sink.alias(false, l.address, false);
      l.aliased = false;
    }
  }

  /** Forgets leases that ended (released, expired) so the list stays short. */
  private prune(): void {
    for (let i = this.leases.length - 1; i >= 0; i--) {
      const s = this.leases[i].state;
      if (s == LEASE_RELEASED || s == LEASE_EXPIRED) this.leases.splice(i, 1);
    }
  }
}

// ---- the static pool -----------------------------------------------------------

/** A configured range of addresses (sid_pool_add): the first free one for each session. */
export class StaticPool extends AddressGenerator {
  firsts: Array<Address> = new Array<Address>();
  lasts: Array<Address> = new Array<Address>();
  /** Addresses in use (held here or away with a transfer). */
  used: Array<Address> = new Array<Address>();
  family: u8 = 0;

  constructor() {
    super();
    this.kind = GEN_STATIC;
  }

  addRange(first: Address, last: Address): void {
    this.firsts.push(first.copy());
    this.lasts.push(last.copy());
  }

  private inUse(a: Address): bool {
    for (let i = 0; i < this.used.length; i++) if (this.used[i].equals(a)) return true;
    return false;
  }

  private free(a: Address): void {
    for (let i = this.used.length - 1; i >= 0; i--) if (this.used[i].equals(a)) this.used.splice(i, 1);
  }

  acquire(lease: Lease, now: f64): i32 {
    for (let r = 0; r < this.firsts.length; r++) {
      const a = this.firsts[r].copy();
      const last = this.lasts[r];
      // At most 65536 candidates per range: a pool is a handful of addresses.
      for (let k = 0; k < 65536; k++) {
        if (a.hi > last.hi || (a.hi == last.hi && a.lo > last.lo)) break;
        if (a.isUsableUnicast() && !this.inUse(a)) {
          this.used.push(a.copy());
          lease.address.set(a);
          lease.state = LEASE_READY;
          return 0;
        }
        a.lo++;
        if (a.lo == 0) a.hi++;
        if (a.family == FAMILY_IPV4 && a.lo > 0xffffffff) break;
      }
    }
    this.why = "every address of the static pool is in use";
    return -ERR_NO_SESSION_ADDRESS;
  }

  release(lease: Lease, now: f64): void {
    this.free(lease.address);
  }

  forget(lease: Lease, now: f64): void {
    this.free(lease.address);
  }

  /** A static address is valid for good wherever it is: the target holds it as it is. */
  adopt(lease: Lease, now: f64): bool {
    return true;
  }
}

// ---- IPv6 locally generated addresses ---------------------------------------------

/** Duplicate address detections per lease before it fails (each with a new identifier; RFC 7217's IDGEN_RETRIES). */
export const DAD_TRIES: i32 = 3;

/**
 * Addresses in the node's /64 with a random interface identifier from the
 * DRBG (RFC 4941's temporary addresses, one per session; RFC 7217 section 6's
 * retry with a new identifier after a collision). Duplicate address detection
 * is awaited, not optimistic: the registry puts the address on with DAD (no
 * IFA_F_NODAD), the host reports the kernel's verdict (sid_address_dad) and
 * the lease is READY only then; a duplicate is taken off and another
 * identifier tried, DAD_TRIES times in all, then the lease EXPIRED.
 */
export class Ipv6Generator extends AddressGenerator {
  prefix: u64 = 0;
  set: bool = false;

  constructor() {
    super();
    this.kind = GEN_IPV6;
  }

  private choose(lease: Lease): void {
    const B = memory.data(8, 8);
    let iid: u64 = 0;
    do {
      drbg.fill(B, 8);
      iid = load<u64>(B);
      // Not the subnet-router anycast (0), not the reserved anycast identifiers (RFC 5453: fdff:ffff:ffff:ff80-ff),
      // not ISATAP-like zeros in the top half (u/g bits are free in a random identifier, RFC 7136).
    } while (iid == 0 || (iid >> 7) == (0xfdffffffffffff80 >> 7));
    lease.address.family = FAMILY_IPV6;
    lease.address.hi = this.prefix;
    lease.address.lo = iid;
    lease.tries++;
  }

  acquire(lease: Lease, now: f64): i32 {
    if (!this.set) {
      this.why = "no IPv6 prefix is configured for session addresses (sid_prefix6)";
      return -ERR_CONFIG;
    }
    if (!drbg.seeded) return -ERR_CONFIG;
    this.choose(lease);
    lease.state = LEASE_PENDING;
    return 0;
  }

  dad(lease: Lease, ok: bool, now: f64): void {
    const r = this.registry!;
    if (ok) {
      lease.state = LEASE_READY;
      r.changed(lease, now);
      return;
    }
    // A duplicate: off the link, then another identifier (or give up).
    r.dropAlias(lease);
    if (lease.tries >= DAD_TRIES) {
      lease.state = LEASE_EXPIRED;
      r.changed(lease, now);
      return;
    }
    this.choose(lease);
    r.changed(lease, now);
  }

  release(lease: Lease, now: f64): void {}

  adopt(lease: Lease, now: f64): bool {
    return lease.address.family == FAMILY_IPV6;
  }
}

/** The family a pool's ranges must share with the address (helper for the ABI). */
export function sameFamily(a: Address, b: Address): bool {
  return a.family == b.family && (a.family == FAMILY_IPV4 || a.family == FAMILY_IPV6);
}
