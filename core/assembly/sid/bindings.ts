// The agent's binding table (docs/PROTOCOL.md 8.2, 8.8): fixed 112-byte
// records in one flat array, open addressing with linear probing keyed by
// the Transferred Address, backward-shift deletion (no tombstones). Its size
// is fixed when it is made (option sidBindings, with a tenth more slots than
// bindings): a full table refuses (130). Lookup by address is O(1); nothing
// is allocated per binding.

import { Address } from "../engine/address";

/** Bytes of one record. */
export const RECORD: i32 = 112;

// Record layout (offsets in bytes).
const R_USED: usize = 0; // u8 1 = used
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

/** One binding, read from or written to the table (a view, not a copy). */
export class BindingTable {
  private data: StaticArray<u8>;
  private base: usize;
  readonly capacity: u32;
  readonly limit: i32;
  count: i32 = 0;

  constructor(limit: i32) {
    this.limit = limit;
    let cap = <u32>limit + <u32>(limit / 10) + 1;
    this.capacity = cap;
    this.data = new StaticArray<u8>(<i32>(cap * <u32>RECORD));
    this.base = changetype<usize>(this.data);
  }

  /** Bytes the table holds, for the figures (docs/benchmarks.md). */
  get bytes(): f64 { return <f64>this.capacity * <f64>RECORD; }

  @inline private rec(slot: u32): usize { return this.base + <usize>slot * <usize>RECORD; }

  private home(a: Address): u32 {
    // Multiply-shift range reduction of a well-mixed 64-bit hash.
    let h = a.key();
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccd;
    h ^= h >> 33;
    return <u32>(((h >> 32) * <u64>this.capacity) >> 32);
  }

  private matches(r: usize, a: Address): bool {
    return load<u8>(r + R_USED) == 1 && load<u8>(r + R_FAMILY) == a.family && load<u64>(r + R_ADDR_HI) == a.hi && load<u64>(r + R_ADDR_LO) == a.lo;
  }

  /** The record of address a, or 0. */
  find(a: Address): usize {
    let i = this.home(a);
    const cap = this.capacity;
    for (let n: u32 = 0; n < cap; n++) {
      const r = this.rec(i);
      if (load<u8>(r + R_USED) == 0) return 0;
      if (this.matches(r, a)) return r;
      i = i + 1 == cap ? 0 : i + 1;
    }
    return 0;
  }

  /** A zeroed record for a (not present), or 0 when the table holds `limit` bindings. */
  insert(a: Address): usize {
    if (this.count >= this.limit) return 0;
    let i = this.home(a);
    const cap = this.capacity;
    for (;;) {
      const r = this.rec(i);
      if (load<u8>(r + R_USED) == 0) {
        memory.fill(r, 0, <usize>RECORD);
        store<u8>(r + R_USED, 1);
        store<u8>(r + R_FAMILY, a.family);
        store<u64>(r + R_ADDR_HI, a.hi);
        store<u64>(r + R_ADDR_LO, a.lo);
        this.count++;
        return r;
      }
      i = i + 1 == cap ? 0 : i + 1;
    }
    return 0;
  }

  /** Removes the record r (from find), shifting later records of its cluster back. */
  remove(r: usize): void {
    const cap = this.capacity;
    let hole = <u32>((r - this.base) / <usize>RECORD);
    memory.fill(this.rec(hole), 0, <usize>RECORD);
    this.count--;
    let j = hole;
    const A = SCRATCH_ADDR;
    for (;;) {
      j = j + 1 == cap ? 0 : j + 1;
      const rj = this.rec(j);
      if (load<u8>(rj + R_USED) == 0) return;
      address(rj, A);
      const h = this.home(A);
      // Move rj into the hole if its home is not in (hole, j] (cyclically).
      const between = hole <= j ? h > hole && h <= j : h > hole || h <= j;
      if (!between) {
        memory.copy(this.rec(hole), rj, <usize>RECORD);
        memory.fill(rj, 0, <usize>RECORD);
        hole = j;
      }
    }
  }

  /** The record in slot i if it is used, else 0 (to walk the table). */
  at(i: u32): usize {
    if (i >= this.capacity) return 0;
    const r = this.rec(i);
    return load<u8>(r + R_USED) == 1 ? r : 0;
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
