// The agent's binding table (docs/PROTOCOL.md 8.2, 8.8): fixed 112-byte
// records in one flat array, open addressing with linear probing keyed by
// the Transferred Address, backward-shift deletion (no tombstones). Its size
// is fixed when it is made (option sidBindings, with a tenth more slots than
// bindings): a full table refuses (130). Lookup by address is O(1); nothing
// is allocated per binding.
//
// Beside the records, one tag byte per slot (0 = empty, else 0x80 | seven
// bits of the address's hash that are not the home bits): a probe reads the
// tags eight at a time (one u64) and touches a record only when its tag
// matches, so a lookup costs one cache miss in the tags and one in the
// record, and a miss stops at the first empty tag without reading records.
// The tags are followed by a copy of the first eight, so a group read at any
// slot below the capacity wraps around without a branch.

import { Address } from "../engine/address";

/** Bytes of one record. */
export const RECORD: i32 = 112;

// Record layout (offsets in bytes).
// 0 reserved (the slot's tag says whether it is used)
const R_FAMILY: usize = 1; // u8
const R_FLAGS: usize = 2; // u8 the Transfer Request's flags (F, R)
const R_HAS_LL: usize = 3; // u8 1 if the node's link-layer address is known
const R_SPI: usize = 4; // u32 the Session SPI
const R_VNI: usize = 8; // u32
const R_NODE: usize = 12; // i32 the node's peer id
const R_EXPIRES: usize = 16; // f64 ms
const R_ADDR_HI: usize = 24; // u64 the Transferred Address
const R_ADDR_LO: usize = 32; // u64
const R_TARGET_HI: usize = 40; // u64 the Target Address (same family)
const R_TARGET_LO: usize = 48; // u64
const R_KEY: usize = 56; // 32 bytes: the session key
const R_MAC: usize = 88; // 6 bytes: the node's link-layer address
// 94-95 reserved
const R_COOKIE: usize = 96; // u64 the target's cookie, 0 until its first Binding Update
// 104-111 reserved

// A saved entry (the agent's restart, 8.17) is a record, then 16 bytes, with
// its reserved bytes used for what the table keeps elsewhere:
/** u8 1: a binding (the table's byte 0 is reserved: the slot's tag says whether it is used). */
export const SAVED_USED: usize = 0;
/** u8 the Interim Address's family, 0 for none; its 16 bytes follow the record. */
export const SAVED_INTERIM_FAMILY: usize = 94;
/** u64 the top of the target's replay window, 0 for none. */
export const SAVED_WINDOW_TOP: usize = 104;
/** The Interim Address, after the record. */
export const SAVED_INTERIM: usize = <usize>RECORD;

/** Tag bytes read at once, and the copy of the first ones after the last slot. */
const GROUP: u32 = 8;
const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;
const LOWS: u64 = 0x7f7f7f7f7f7f7f7f;

/** A well-mixed 64-bit hash of an address (its key through the Murmur3 finalizer's first half). */
// @ts-ignore: decorator
@inline
function mix(a: Address): u64 {
  let h = a.key();
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  return h;
}

/** The tag of a hash: never 0 (empty); from the low bits, while the home slot comes from the high ones. */
// @ts-ignore: decorator
@inline
function tagOf(h: u64): u8 { return <u8>(0x80 | (<u32>h & 0x7f)); }

/** High bit set in each byte of g that is zero (exact: no false positives). */
// @ts-ignore: decorator
@inline
function zeroBytes(g: u64): u64 { return ~(((g & LOWS) + LOWS) | g | LOWS); }

export class BindingTable {
  private data: StaticArray<u8>;
  private base: usize;
  private tagData: StaticArray<u8>;
  private tags: usize;
  readonly capacity: u32;
  readonly limit: i32;
  count: i32 = 0;

  constructor(limit: i32) {
    const cap = <u32>limit + <u32>(limit / 10) + 1;
    const data = new StaticArray<u8>(<i32>(cap * <u32>RECORD));
    const tagData = new StaticArray<u8>(<i32>(cap + GROUP));
    this.limit = limit;
    this.capacity = cap;
    this.data = data;
    this.base = changetype<usize>(data);
    this.tagData = tagData;
    this.tags = changetype<usize>(tagData);
  }

  /** Bytes the table holds (records and tags), for the figures (docs/benchmarks.md). */
  get bytes(): f64 { return <f64>this.capacity * <f64>(RECORD + 1) + <f64>GROUP; }

  // @ts-ignore: decorator
  @inline private rec(slot: u32): usize { return this.base + <usize>slot * <usize>RECORD; }

  // @ts-ignore: decorator
  @inline private homeOf(h: u64): u32 {
    // Multiply-shift range reduction of the hash's high half.
    return <u32>(((h >> 32) * <u64>this.capacity) >> 32);
  }

  /** The slot `i + k` taken around the end of the table (i < capacity, k <= GROUP; a table of fewer slots than a group wraps more than once). */
  // @ts-ignore: decorator
  @inline private wrap(i: u32): u32 {
    const cap = this.capacity;
    return i < cap ? i : i - cap < cap ? i - cap : i % cap;
  }

  /** Sets slot i's tag, and its copy after the last slot (every k < GROUP with k mod capacity == i). */
  private setTag(i: u32, t: u8): void {
    store<u8>(this.tags + <usize>i, t);
    for (let k = i; k < GROUP; k += this.capacity) store<u8>(this.tags + <usize>(this.capacity + k), t);
  }

  /** The record of address a, or 0. */
  find(a: Address): usize {
    const h = mix(a);
    const want = <u64>tagOf(h) * ONES;
    const fam = a.family;
    const hi = a.hi;
    const lo = a.lo;
    const cap = this.capacity;
    let i = this.homeOf(h);
    // The home slot's record is read at once, beside its tags (two independent cache misses
    // in flight instead of one after the other): the binding is often in its home slot.
    const home = this.rec(i);
    const homeLo = load<u64>(home + R_ADDR_LO);
    const homeTag = load<u8>(this.tags + <usize>i);
    if ((homeLo == lo) & (<u64>homeTag == (want & 0xff)) && load<u64>(home + R_ADDR_HI) == hi && load<u8>(home + R_FAMILY) == fam) return home;
    // At least one slot is empty (capacity > limit): the probe ends within the table.
    for (let n: u32 = 0; n < cap; n += GROUP) {
      const g = load<u64>(this.tags + <usize>i);
      const empty = ~g & HIGHS;
      let m = zeroBytes(g ^ want);
      // Only the slots before the first empty one belong to this probe.
      if (empty) m &= (empty ^ (empty - 1)) >> 1;
      while (m) {
        const r = this.rec(this.wrap(i + (<u32>ctz(m) >> 3)));
        if (load<u64>(r + R_ADDR_LO) == lo && load<u64>(r + R_ADDR_HI) == hi && load<u8>(r + R_FAMILY) == fam) return r;
        m &= m - 1;
      }
      if (empty) return 0;
      i = this.wrap(i + GROUP);
    }
    return 0;
  }

  /** A zeroed record for a (not present), or 0 when the table holds `limit` bindings. */
  insert(a: Address): usize {
    if (this.count >= this.limit) return 0;
    const h = mix(a);
    let i = this.homeOf(h);
    for (;;) {
      const empty = ~load<u64>(this.tags + <usize>i) & HIGHS;
      if (empty) {
        const slot = this.wrap(i + (<u32>ctz(empty) >> 3));
        const r = this.rec(slot);
        memory.fill(r, 0, <usize>RECORD);
        store<u8>(r + R_FAMILY, a.family);
        store<u64>(r + R_ADDR_HI, a.hi);
        store<u64>(r + R_ADDR_LO, a.lo);
        this.setTag(slot, tagOf(h));
        this.count++;
        return r;
      }
      i = this.wrap(i + GROUP);
    }
    return 0;
  }

  /** Removes the record r (from find), shifting later records of its cluster back. */
  remove(r: usize): void {
    const cap = this.capacity;
    let hole = <u32>((r - this.base) / <usize>RECORD);
    memory.fill(this.rec(hole), 0, <usize>RECORD);
    this.setTag(hole, 0);
    this.count--;
    let j = hole;
    const A = SCRATCH_ADDR;
    for (;;) {
      j = j + 1 == cap ? 0 : j + 1;
      const t = load<u8>(this.tags + <usize>j);
      if (t == 0) return;
      const rj = this.rec(j);
      address(rj, A);
      const h = this.homeOf(mix(A));
      // Move rj into the hole if its home is not in (hole, j] (cyclically).
      const between = hole <= j ? h > hole && h <= j : h > hole || h <= j;
      if (!between) {
        memory.copy(this.rec(hole), rj, <usize>RECORD);
        this.setTag(hole, t);
        memory.fill(rj, 0, <usize>RECORD);
        this.setTag(j, 0);
        hole = j;
      }
    }
  }

  /** The record in slot i if it is used, else 0 (to walk the table). */
  at(i: u32): usize {
    if (i >= this.capacity) return 0;
    return load<u8>(this.tags + <usize>i) != 0 ? this.rec(i) : 0;
  }

  /** How many bindings sit before their home slot, reached by probing around the table's end (for tests). */
  wrapped(): i32 {
    let n = 0;
    for (let i: u32 = 0; i < this.capacity; i++) {
      if (load<u8>(this.tags + <usize>i) == 0) continue;
      address(this.rec(i), SCRATCH_ADDR);
      if (this.homeOf(mix(SCRATCH_ADDR)) > i) n++;
    }
    return n;
  }
}

const SCRATCH_ADDR = new Address();

// ---- record accessors ----------------------------------------------------------

export function address(r: usize, out: Address): void {
  out.family = load<u8>(r + R_FAMILY);
  out.hi = load<u64>(r + R_ADDR_HI);
  out.lo = load<u64>(r + R_ADDR_LO);
}
export function target(r: usize, out: Address): void {
  out.family = load<u8>(r + R_FAMILY);
  out.hi = load<u64>(r + R_TARGET_HI);
  out.lo = load<u64>(r + R_TARGET_LO);
}
export function setTarget(r: usize, a: Address): void {
  store<u64>(r + R_TARGET_HI, a.hi);
  store<u64>(r + R_TARGET_LO, a.lo);
}
export function family(r: usize): u8 { return load<u8>(r + R_FAMILY); }
export function flags(r: usize): u8 { return load<u8>(r + R_FLAGS); }
export function setFlags(r: usize, f: u8): void { store<u8>(r + R_FLAGS, f); }
export function spi(r: usize): u32 { return load<u32>(r + R_SPI); }
export function setSpi(r: usize, v: u32): void { store<u32>(r + R_SPI, v); }
export function vni(r: usize): u32 { return load<u32>(r + R_VNI); }
export function setVni(r: usize, v: u32): void { store<u32>(r + R_VNI, v); }
export function nodePeer(r: usize): i32 { return load<i32>(r + R_NODE); }
export function setNodePeer(r: usize, v: i32): void { store<i32>(r + R_NODE, v); }
export function expires(r: usize): f64 { return load<f64>(r + R_EXPIRES); }
export function setExpires(r: usize, v: f64): void { store<f64>(r + R_EXPIRES, v); }
export function keyPtr(r: usize): usize { return r + R_KEY; }
export function macPtr(r: usize): usize { return r + R_MAC; }
export function hasMac(r: usize): bool { return load<u8>(r + R_HAS_LL) != 0; }
/** The has-link-layer byte as stored (a saved entry's must be 0 or 1). */
export function hasMacByte(r: usize): u8 { return load<u8>(r + R_HAS_LL); }
export function setHasMac(r: usize, v: bool): void { store<u8>(r + R_HAS_LL, v ? 1 : 0); }
export function cookie(r: usize): u64 { return load<u64>(r + R_COOKIE); }
export function setCookie(r: usize, v: u64): void { store<u64>(r + R_COOKIE, v); }

/**
 * The bindings' expiry times, a binary min-heap of (time, address). A renewal
 * pushes a new entry and leaves the old one: a popped entry whose binding is
 * gone or expires later is stale and skipped (lazy deletion). A stale entry
 * leaves when its time comes, so the heap holds about one entry per binding
 * and one per renewal within the longest lifetime.
 */
export class ExpiryHeap {
  times: Array<f64> = new Array<f64>();
  fams: Array<u8> = new Array<u8>();
  his: Array<u64> = new Array<u64>();
  los: Array<u64> = new Array<u64>();

  get length(): i32 { return this.times.length; }
  get earliest(): f64 { return this.times.length ? unchecked(this.times[0]) : Infinity; }

  push(t: f64, a: Address): void {
    this.times.push(t);
    this.fams.push(a.family);
    this.his.push(a.hi);
    this.los.push(a.lo);
    let i = this.times.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (unchecked(this.times[p]) <= t) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Removes the earliest entry, its address into out; returns its time. */
  pop(out: Address): f64 {
    const t = unchecked(this.times[0]);
    out.family = unchecked(this.fams[0]);
    out.hi = unchecked(this.his[0]);
    out.lo = unchecked(this.los[0]);
    const last = this.times.length - 1;
    this.swap(0, last);
    this.times.pop();
    this.fams.pop();
    this.his.pop();
    this.los.pop();
    let i = 0;
    const n = last;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && unchecked(this.times[l]) < unchecked(this.times[m])) m = l;
      if (r < n && unchecked(this.times[r]) < unchecked(this.times[m])) m = r;
      if (m == i) break;
      this.swap(i, m);
      i = m;
    }
    return t;
  }

  private swap(i: i32, j: i32): void {
    const t = unchecked(this.times[i]); unchecked(this.times[i] = unchecked(this.times[j])); unchecked(this.times[j] = t);
    const f = unchecked(this.fams[i]); unchecked(this.fams[i] = unchecked(this.fams[j])); unchecked(this.fams[j] = f);
    const h = unchecked(this.his[i]); unchecked(this.his[i] = unchecked(this.his[j])); unchecked(this.his[j] = h);
    const l = unchecked(this.los[i]); unchecked(this.los[i] = unchecked(this.los[j])); unchecked(this.los[j] = l);
  }
}
