// The engine's one timer table (docs/ENGINE.md "Timers"): every deadline of
// every procedure (a request's retransmission, a path validation's, a
// quarantine's end, a sweep, a binding's expiry) is a Timer armed here. The
// host asks for the earliest (poll_timeout) and calls handle_timeout when it
// has come; the table fires what is due, earliest first, and timers armed for
// the same time in the order they were armed.
//
// A binary min-heap keyed by (time, arming order): arm, re-arm and disarm
// are O(log n), the earliest O(1). This file imports nothing (no cycle with
// engine/node.ts): a timer keeps what it needs to act.

export abstract class Timer {
  /** When it fires (Unix ms); Infinity when not armed. */
  at: f64 = Infinity;
  /** Its index in the table's heap, or -1 when not armed. */
  heapIndex: i32 = -1;
  /** The arming order, which breaks ties between equal times. */
  order: u64 = 0;
  get armed(): bool { return this.heapIndex >= 0; }
  /** Its time has come (it is no longer armed; it may arm itself again). */
  abstract fire(now: f64): void;
}

export class TimerTable {
  private heap: Array<Timer> = new Array<Timer>();
  private arms: u64 = 0;

  get length(): i32 { return this.heap.length; }

  /** The earliest armed time, or Infinity. */
  get earliest(): f64 { return this.heap.length ? unchecked(this.heap[0]).at : Infinity; }

  /** Arms t to fire at `at` (re-arms it if armed; Infinity disarms). */
  arm(t: Timer, at: f64): void {
    if (at == Infinity) {
      this.disarm(t);
      return;
    }
    t.order = this.arms++;
    if (t.heapIndex < 0) {
      t.at = at;
      t.heapIndex = this.heap.length;
      this.heap.push(t);
      this.up(t.heapIndex);
      return;
    }
    const before = t.at;
    t.at = at;
    if (at < before) this.up(t.heapIndex);
    else this.down(t.heapIndex);
  }

  /** Arms t for `at` unless it is already armed for that time or earlier. */
  armBy(t: Timer, at: f64): void {
    if (t.heapIndex >= 0 && t.at <= at) return;
    this.arm(t, at);
  }

  disarm(t: Timer): void {
    const i = t.heapIndex;
    if (i < 0) return;
    t.heapIndex = -1;
    t.at = Infinity;
    const last = this.heap.pop();
    if (i == this.heap.length) return;
    unchecked(this.heap[i] = last);
    last.heapIndex = i;
    this.up(i);
    this.down(last.heapIndex);
  }

  /** Fires every timer due at `now`, earliest first. */
  run(now: f64): void {
    while (this.heap.length && unchecked(this.heap[0]).at <= now) {
      const t = unchecked(this.heap[0]);
      this.disarm(t);
      t.fire(now);
    }
  }

  /** Disarms everything (the node is re-initialised). */
  clear(): void {
    for (let i = 0; i < this.heap.length; i++) {
      const t = unchecked(this.heap[i]);
      t.heapIndex = -1;
      t.at = Infinity;
    }
    this.heap.length = 0;
  }

  private before(a: Timer, b: Timer): bool {
    return a.at < b.at || (a.at == b.at && a.order < b.order);
  }

  private up(i: i32): void {
    const h = this.heap;
    const t = unchecked(h[i]);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const q = unchecked(h[p]);
      if (!this.before(t, q)) break;
      unchecked(h[i] = q);
      q.heapIndex = i;
      i = p;
    }
    unchecked(h[i] = t);
    t.heapIndex = i;
  }

  private down(i: i32): void {
    const h = this.heap;
    const n = h.length;
    const t = unchecked(h[i]);
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.before(unchecked(h[r]), unchecked(h[l]))) c = r;
      const q = unchecked(h[c]);
      if (!this.before(q, t)) break;
      unchecked(h[i] = q);
      q.heapIndex = i;
      i = c;
    }
    unchecked(h[i] = t);
    t.heapIndex = i;
  }
}
