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
// matches, so a lookup costs one access to the tags (1.1 MB at 1,000,000
// bindings, mostly cached) and one cache miss in the record, and a miss stops
// at the first empty tag without reading records (a 7-bit tag lets about one
// slot in 128 through to its record).
// The tags are followed by a copy of the first eight, so a group read at any
// slot below the capacity wraps around without a branch.
//
// The expiry times are in the records, and the records themselves are
// linked into a timing wheel of one-second buckets (8 bytes of links in each
// record, a head per bucket, a bit per bucket that says it is not empty): a
// renewal unlinks its record and links it at the head of another bucket,
// O(1) and with no memory beside the record. A renewal that only moves the
// expiry later leaves the record where it is (its bucket is then earlier than
// its expiry): a walk of that bucket (when it is the front one: at the timer,
// or to make the earliest exact) moves it to its own bucket, so a renewal
// touches no other record. The earliest expiry is kept as a lower bound that
// becomes exact when the front bucket is walked (at once when it is short,
// else when the timer fires): see earliest() and popDue().
//
// A table of at least RAW_MIN bytes takes its memory from pages grown for it
// outside the garbage-collected heap (with HEADROOM reserved in the heap
// first): the collector's pacing then follows the small heap, not the table,
// and the allocator's growth policy (double the memory) never doubles a
// table-sized memory for a small allocation. Such pages are never returned
// to the module; release() lets the next big table reuse them.

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
const R_FILED: usize = 94; // u16 the expiry bucket the record is linked into (while linked; 0 in a saved entry)
const R_COOKIE: usize = 96; // u64 the target's cookie, 0 until its first Binding Update
const R_NEXT: usize = 104; // u32 the next record of its expiry bucket (slot + 1, 0: none)
const R_PREV: usize = 108; // u32 the previous one (slot + 1, 0: the bucket's head)
// byte 0: 1 while the record is linked into the expiry wheel

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

/** Tables of at least this many bytes live in pages of their own (see the top). */
const RAW_MIN: usize = 1 << 20;
/** Heap memory made free before a table's own pages are grown (what the heap can grow into without doubling). */
const HEADROOM: usize = 1 << 20;
/** Bytes of a VNI bitmap (24-bit VNIs): part of a big table's pages (VniSet.adopt). */
const VNI_BITS: usize = 1 << 21;
/** Tables for at least this many bindings have the VNI bitmap. */
const VNI_BITMAP_MIN: i32 = 1 << 17;
/** Pages a released big table left, for the next one. */
let spareRaw: usize = 0;
let spareRawBytes: usize = 0;

/** Expiry buckets: one second each. */
const BUCKET_MS: f64 = 1000;
/** Records walked at most to make the earliest expiry exact outside the timer (earliest()). */
const EXACT_WALK: i32 = 64;
/** Due bindings handed out per walk of the front bucket (popDue). */
const DUE_BATCH: i32 = 64;

// @ts-ignore: decorator
@inline function secOf(e: f64): i64 { return <i64>Math.floor(e / BUCKET_MS); }

export class BindingTable {
  private data: StaticArray<u8> | null = null;
  private base: usize;
  private tags: usize;
  private heads: usize; // u32 per bucket: its first record's slot + 1
  private occupied: usize; // a bit per bucket: not empty
  private rawBytes: usize = 0;
  readonly capacity: u32;
  readonly limit: i32;
  /** Buckets in the wheel: a power of two, about an eighth of the slots, 64 to 65,536 (65,536 covers the longest lifetime, 65,535 s; a smaller wheel holds later expiries a turn or more ahead, walked past). */
  readonly wheel: u32;
  count: i32 = 0;
  /** Records linked into the wheel. */
  scheduled: i32 = 0;
  /** The second every linked record's expiry is at or after. */
  private cursor: i64 = 0;
  /** At most the earliest linked expiry (exactly it when `exact`). */
  private low: f64 = Infinity;
  private exact: bool = true;
  /** popDue's batch: addresses of due records already unlinked. */
  private dueFam: StaticArray<u8> = new StaticArray<u8>(DUE_BATCH);
  private dueHi: StaticArray<u64> = new StaticArray<u64>(DUE_BATCH);
  private dueLo: StaticArray<u64> = new StaticArray<u64>(DUE_BATCH);
  private dueN: i32 = 0;

  constructor(limit: i32) {
    const cap = <u32>limit + <u32>(limit / 10) + 1;
    let w: u32 = 64;
    while (w < 65536 && w < (cap >> 3)) w <<= 1;
    this.limit = limit;
    this.capacity = cap;
    this.wheel = w;
    const recBytes = <usize>cap * <usize>RECORD;
    const tagBytes = (<usize>cap + <usize>GROUP + 7) & ~<usize>7;
    const headBytes = <usize>w * 4;
    const occBytes = <usize>(w >> 3);
    let total = recBytes + tagBytes + headBytes + occBytes;
    let p: usize = 0;
    // The VNI bitmap is cheaper than a hash set's entries from about 2^17 bindings on.
    const bits = limit >= VNI_BITMAP_MIN;
    if (total >= RAW_MIN) {
      if (bits) total += VNI_BITS;
      if (spareRaw != 0 && spareRawBytes >= total) {
        p = spareRaw;
        this.rawBytes = spareRawBytes;
        spareRaw = 0;
        spareRawBytes = 0;
        memory.fill(p, 0, total);
      } else {
        heap.free(heap.alloc(HEADROOM));
        const pages = <i32>((total + 0xffff) >> 16);
        const before = memory.grow(pages);
        if (before >= 0) {
          p = <usize>before << 16;
          this.rawBytes = <usize>pages << 16;
        }
      }
    }
    if (!p) {
      const d = new StaticArray<u8>(<i32>total);
      this.data = d;
      p = changetype<usize>(d);
    }
    this.base = p;
    this.tags = p + recBytes;
    this.heads = this.tags + tagBytes;
    this.occupied = this.heads + headBytes;
    if (this.rawBytes && bits) this.vniBits = this.occupied + occBytes;
  }

  /** A big table's VNI bitmap (2 MiB in its own pages, for VniSet.adopt), or 0. */
  vniBits: usize = 0;

  /**
   * Gives a big table's pages to the next big table of at most their size; this
   * table must not be used after. (A heap-allocated table is left to the collector.)
   */
  release(): void {
    if (this.rawBytes != 0 && this.rawBytes > spareRawBytes) {
      spareRaw = this.base;
      spareRawBytes = this.rawBytes;
    }
    this.rawBytes = 0;
    this.count = 0;
  }

  /** Bytes the table holds (records, tags, the wheel), for the figures (docs/benchmarks.md). */
  get bytes(): f64 {
    return <f64>this.capacity * <f64>(RECORD + 1) + <f64>GROUP + <f64>this.wheel * 4 + <f64>(this.wheel >> 3) + (this.vniBits ? <f64>VNI_BITS : 0);
  }

  // @ts-ignore: decorator
  @inline private rec(slot: u32): usize { return this.base + <usize>slot * <usize>RECORD; }
  // @ts-ignore: decorator
  @inline private slotOf(r: usize): u32 { return <u32>((r - this.base) / <usize>RECORD); }

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
    return this.findKey(mix(a), a.family, a.hi, a.lo);
  }

  // @ts-ignore: decorator
  @inline private findKey(h: u64, fam: u8, hi: u64, lo: u64): usize {
    const want = <u64>tagOf(h) * ONES;
    const cap = this.capacity;
    let i = this.homeOf(h);
    // The home slot first, but its record only when its tag matches: an address with no
    // binding (every renewal's reply looks its destination up, linkRoute) then reads no record
    // at all, where reading the home record beside the tag made every lookup wait for that
    // record's cache miss. (The tags are 1.1 MB at 1,000,000 bindings: mostly in cache.)
    const home = this.rec(i);
    if (<u64>load<u8>(this.tags + <usize>i) == (want & 0xff)) {
      if (load<u64>(home + R_ADDR_LO) == lo && load<u64>(home + R_ADDR_HI) == hi && load<u8>(home + R_FAMILY) == fam) return home;
    }
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

  /**
   * Looks up n addresses of one family, their (hi, lo) pairs at keys (16
   * bytes each, u64 hi then lo), and writes each one's record or 0 at out (a
   * usize each); returns how many were found. As a packet path takes them, a
   * batch at a time: the home tags of 16 addresses, and the home records
   * whose tags match, are read before any is compared, so their cache misses
   * overlap instead of each waiting behind the branch of the one before.
   */
  findBatch(family: u8, keys: usize, n: i32, out: usize): i32 {
    const A = BATCH_ADDR;
    A.family = family;
    let found = 0;
    for (let b = 0; b < n; b += 16) {
      const k = n - b < 16 ? n - b : 16;
      for (let j = 0; j < k; j++) {
        const q = keys + (<usize>(b + j) << 4);
        A.hi = load<u64>(q);
        A.lo = load<u64>(q + 8);
        const h = mix(A);
        const i = this.homeOf(h);
        store<u64>(BATCH_H + (<usize>j << 3), h);
        // The loads whose misses overlap: the home tag, and the home record's address only where the tag matches
        // (an address with no binding reads no record, as in findKey); elsewhere ~lo, which never matches below.
        const tagged = load<u8>(this.tags + <usize>i) == tagOf(h);
        store<u64>(BATCH_LO + (<usize>j << 3), tagged ? load<u64>(this.rec(i) + R_ADDR_LO) : ~A.lo);
      }
      for (let j = 0; j < k; j++) {
        const q = keys + (<usize>(b + j) << 4);
        const hi = load<u64>(q);
        const lo = load<u64>(q + 8);
        const h = load<u64>(BATCH_H + (<usize>j << 3));
        let r: usize = 0;
        if (load<u64>(BATCH_LO + (<usize>j << 3)) == lo) {
          const home = this.rec(this.homeOf(h));
          if (load<u64>(home + R_ADDR_HI) == hi && load<u8>(home + R_FAMILY) == family) r = home;
        }
        if (!r) r = this.findKey(h, family, hi, lo);
        store<usize>(out + <usize>(b + j) * sizeof<usize>(), r);
        if (r) found++;
      }
    }
    return found;
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
    this.unlink(r);
    let hole = this.slotOf(r);
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
        const rh = this.rec(hole);
        memory.copy(rh, rj, <usize>RECORD);
        this.relinked(rh, hole);
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

  // ---- expiry (the timing wheel) ----------------------------------------------------

  // @ts-ignore: decorator
  @inline private bucketOf(sec: i64): u32 { return <u32>sec & (this.wheel - 1); }

  private setOccupied(b: u32, on: bool): void {
    const w = this.occupied + (<usize>(b >> 6) << 3);
    const bit = <u64>1 << <u64>(b & 63);
    store<u64>(w, on ? load<u64>(w) | bit : load<u64>(w) & ~bit);
  }

  /**
   * Sets r's expiry to e and files it under e's bucket (a non-finite e: never
   * expires, not filed). A linked record whose expiry only moves later stays in
   * its bucket (filed lazily: the walk of that bucket moves it, see walk()).
   */
  expireAt(r: usize, e: f64): void {
    if (load<u8>(r) != 0 && isFinite(e)) {
      const old = load<f64>(r + R_EXPIRES);
      if (e >= old) {
        store<f64>(r + R_EXPIRES, e);
        if (old == this.low) this.exact = false;
        return;
      }
    }
    this.unlink(r);
    store<f64>(r + R_EXPIRES, e);
    if (!isFinite(e)) return;
    const sec = secOf(e);
    this.linkAt(r, this.bucketOf(sec));
    if (this.scheduled++ == 0) {
      this.cursor = sec;
      this.low = e;
      this.exact = true;
    } else {
      if (sec < this.cursor) this.cursor = sec;
      if (e < this.low) this.low = e;
    }
  }

  /** Links r (not linked) at the head of bucket b; the counts and bounds are the caller's. */
  private linkAt(r: usize, b: u32): void {
    const hp = this.heads + (<usize>b << 2);
    const next = load<u32>(hp);
    const me = this.slotOf(r) + 1;
    store<u32>(r + R_NEXT, next);
    store<u32>(r + R_PREV, 0);
    if (next) store<u32>(this.rec(next - 1) + R_PREV, me);
    else this.setOccupied(b, true);
    store<u32>(hp, me);
    store<u16>(r + R_FILED, <u16>b);
    store<u8>(r, 1);
  }

  /** Takes r (linked) out of its bucket's list; the counts and bounds are the caller's. */
  private unlinkList(r: usize): void {
    const next = load<u32>(r + R_NEXT);
    const prev = load<u32>(r + R_PREV);
    if (prev) store<u32>(this.rec(prev - 1) + R_NEXT, next);
    else {
      const b = <u32>load<u16>(r + R_FILED);
      store<u32>(this.heads + (<usize>b << 2), next);
      if (!next) this.setOccupied(b, false);
    }
    if (next) store<u32>(this.rec(next - 1) + R_PREV, prev);
    store<u8>(r, 0);
    store<u64>(r + R_NEXT, 0);
    store<u16>(r + R_FILED, 0);
  }

  /** Takes r out of the wheel if it is in it. */
  private unlink(r: usize): void {
    if (load<u8>(r) == 0) return;
    this.unlinkList(r);
    if (--this.scheduled == 0) {
      this.low = Infinity;
      this.exact = true;
    } else if (load<f64>(r + R_EXPIRES) == this.low) this.exact = false;
  }

  /** A linked record moved into slot s (remove's shift): its neighbours and bucket point at it again. */
  private relinked(r: usize, s: u32): void {
    if (load<u8>(r) == 0) return;
    const me = s + 1;
    const next = load<u32>(r + R_NEXT);
    const prev = load<u32>(r + R_PREV);
    if (prev) store<u32>(this.rec(prev - 1) + R_NEXT, me);
    else store<u32>(this.heads + (<usize>load<u16>(r + R_FILED) << 2), me);
    if (next) store<u32>(this.rec(next - 1) + R_PREV, me);
  }

  /** The first non-empty bucket at or after absolute second `from`, as an absolute second (one turn of the wheel at most), or -1. */
  private nextOccupied(from: i64): i64 {
    const w = <i64>this.wheel;
    let b = this.bucketOf(from);
    let off: i64 = 0;
    while (off < w) {
      const word = load<u64>(this.occupied + (<usize>(b >> 6) << 3)) >> <u64>(b & 63);
      if (word) {
        const k = <i64>ctz(word);
        if (off + k >= w) return -1;
        return from + off + k;
      }
      const step = <i64>(64 - (b & 63));
      off += step;
      b = (b + <u32>step) & (this.wheel - 1);
    }
    return -1;
  }

  /**
   * Walks bucket `sec` (absolute): the least expiry of its records of that very
   * second (Infinity if none: the bucket is empty or holds only records a whole
   * turn of the wheel later), the least second of any of its records into
   * walkMinSec; at most `limit` records (-1 beyond: walkCut set). A record
   * filed lazily (renewed since: its expiry's bucket is another) moves to its
   * own bucket, later than this one.
   */
  private walk(sec: i64, limit: i32): f64 {
    const b = this.bucketOf(sec);
    let s = load<u32>(this.heads + (<usize>b << 2));
    let m: f64 = Infinity;
    let n = 0;
    this.walkCut = false;
    while (s) {
      if (n++ == limit) {
        this.walkCut = true;
        return m;
      }
      const r = this.rec(s - 1);
      s = load<u32>(r + R_NEXT);
      const e = load<f64>(r + R_EXPIRES);
      const es = secOf(e);
      const own = this.bucketOf(es);
      if (own != b) {
        this.unlinkList(r);
        this.linkAt(r, own);
      } else if (es == sec && e < m) m = e;
      if (es < this.walkMinSec) this.walkMinSec = es;
    }
    return m;
  }
  private walkCut: bool = false;
  private walkMinSec: i64 = i64.MAX_VALUE;

  /** Makes `low` exact if that takes at most `limit` records walked (limit < 0: whatever it takes); true if it did. */
  private refine(limit: i32): bool {
    if (this.exact) return true;
    let from = this.cursor;
    this.walkMinSec = i64.MAX_VALUE;
    for (let turns = 0; ; ) {
      const s = this.nextOccupied(from);
      if (s < 0 || s >= this.cursor + <i64>this.wheel * <i64>(turns + 1)) {
        // A whole turn and nothing of its own second: every record is a turn (or more) ahead.
        if (this.walkMinSec == i64.MAX_VALUE) return false; // (cannot happen: scheduled > 0)
        this.cursor = this.walkMinSec;
        from = this.cursor;
        this.walkMinSec = i64.MAX_VALUE;
        turns = 0;
        continue;
      }
      const m = this.walk(s, limit);
      if (this.walkCut) {
        // Everything linked is at or after second s: a better lower bound, not exact.
        this.cursor = s;
        const l = <f64>s * BUCKET_MS;
        if (l > this.low) this.low = l;
        return false;
      }
      if (m < Infinity) {
        this.cursor = s;
        this.low = m;
        this.exact = true;
        return true;
      }
      from = s + 1;
    }
    return false;
  }

  /**
   * The earliest expiry of a linked record, or a lower bound of it (never
   * later): exact when the front bucket is short (at most 64 records) or was
   * walked since it last changed; Infinity when nothing is linked. A timer set
   * to it may fire early; popDue then finds nothing and makes it exact.
   */
  earliest(): f64 {
    if (this.scheduled == 0) return Infinity;
    if (!this.exact) this.refine(EXACT_WALK);
    return this.low;
  }

  /**
   * A binding that expired by now (its expiry <= now): its address into out,
   * taken out of the wheel (the caller ends it, or files it again); false when
   * none is left. Walks the front bucket once per DUE_BATCH bindings.
   */
  popDue(now: f64, out: Address): bool {
    if (this.dueN == 0) this.fillDue(now);
    if (this.dueN == 0) return false;
    const i = --this.dueN;
    out.family = unchecked(this.dueFam[i]);
    out.hi = unchecked(this.dueHi[i]);
    out.lo = unchecked(this.dueLo[i]);
    return true;
  }

  private fillDue(now: f64): void {
    while (this.scheduled > 0 && this.dueN == 0) {
      if (!this.refine(-1)) return;
      if (this.low > now) return;
      // The front bucket (second `cursor`) has due records: take up to DUE_BATCH of them.
      let s = load<u32>(this.heads + (<usize>this.bucketOf(this.cursor) << 2));
      while (s && this.dueN < DUE_BATCH) {
        const r = this.rec(s - 1);
        s = load<u32>(r + R_NEXT);
        if (load<f64>(r + R_EXPIRES) <= now) {
          const i = this.dueN++;
          unchecked(this.dueFam[i] = load<u8>(r + R_FAMILY));
          unchecked(this.dueHi[i] = load<u64>(r + R_ADDR_HI));
          unchecked(this.dueLo[i] = load<u64>(r + R_ADDR_LO));
          this.unlink(r);
        }
      }
      this.exact = false;
    }
  }
}

const SCRATCH_ADDR = new Address();
const BATCH_ADDR = new Address();
const BATCH_H = memory.data(16 * 8, 8);
const BATCH_LO = memory.data(16 * 8, 8);

// ---- record accessors ----------------------------------------------------------

export function address(r: usize, out: Address): void {
  out.family = load<u8>(r + R_FAMILY);
  out.hi = load<u64>(r + R_ADDR_HI);
  out.lo = load<u64>(r + R_ADDR_LO);
}
/** Record r is a's binding (a record found earlier still holds a: no deletion shifted it since). */
export function holds(r: usize, a: Address): bool {
  return load<u64>(r + R_ADDR_LO) == a.lo && load<u64>(r + R_ADDR_HI) == a.hi && load<u8>(r + R_FAMILY) == a.family;
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
/** Only for a record not filed in the wheel (tests): BindingTable.expireAt sets it and files it. */
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
 * The VNIs in use (8.9: 24 bits; a collision is refused with 130): a hash set
 * while the agent is small; a bitmap, one bit per VNI, in a big table's own
 * pages once the table exists (adopt), instead of a set entry per binding.
 */
export class VniSet {
  private set: Set<u32> = new Set<u32>();
  private bits: usize = 0;

  /** Moves to the bitmap at `bits` (2 MiB, zeroed): every VNI so far goes with it. */
  adopt(bits: usize): void {
    if (!bits || this.bits) return;
    const vs = this.set.values();
    this.bits = bits;
    for (let i = 0; i < vs.length; i++) this.add(unchecked(vs[i]));
    this.set = new Set<u32>();
  }

  has(v: u32): bool {
    if (!this.bits) return this.set.has(v);
    if (v > 0xffffff) return false;
    return (load<u8>(this.bits + <usize>(v >> 3)) & (<u8>1 << <u8>(v & 7))) != 0;
  }

  add(v: u32): void {
    if (!this.bits || v > 0xffffff) {
      this.set.add(v);
      return;
    }
    const p = this.bits + <usize>(v >> 3);
    store<u8>(p, load<u8>(p) | (<u8>1 << <u8>(v & 7)));
  }

  delete(v: u32): void {
    if (!this.bits || v > 0xffffff) {
      this.set.delete(v);
      return;
    }
    const p = this.bits + <usize>(v >> 3);
    store<u8>(p, load<u8>(p) & ~(<u8>1 << <u8>(v & 7)));
  }
}
