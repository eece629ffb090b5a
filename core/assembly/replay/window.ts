// Sliding-window replay protection for 16-bit sequence numbers, after
// RFC 6479: a ring of 64-bit blocks, so that advancing the window clears whole
// blocks instead of shifting a bitmap. docs/PROTOCOL.md section 6.3.
//
// Sequence numbers on the wire are 16 bits; the window works on their 64-bit
// extension, chosen as the value closest to the highest one accepted so far
// (as QUIC decodes packet numbers). A window therefore spans at most 2^15 - 64.

import {
  ERR_REPLAYED, ERR_SEQUENCE_TOO_OLD, OPT_WINDOW_BITS, optionInRange,
  DEFAULT_WINDOW_BITS as OPTION_DEFAULT_WINDOW_BITS,
} from "../generated/registry";

const SEQ_SPAN: u64 = 1 << 16;
const SEQ_HALF: u64 = 1 << 15;

export const DEFAULT_WINDOW_BITS: i32 = <i32>OPTION_DEFAULT_WINDOW_BITS;

/** True if `bits` is a valid window size: the range of option windowBits (a multiple of 64 in [64, 4096]). */
export function validWindowBits(bits: i32): bool {
  return optionInRange(OPT_WINDOW_BITS, <f64>bits);
}

const NO_BLOCKS = new StaticArray<u64>(0);

export class ReplayWindow {
  /**
   * One more block than the window needs, so the oldest block can be cleared
   * as a whole. Made when the first number is accepted (update or seed): an
   * empty window reads none of it, and a configured peer that never talks
   * holds none (memory per peer, docs/dataplane.md "scale").
   */
  private blocks: StaticArray<u64> = NO_BLOCKS;
  private nblocks: u32;
  readonly bits: u64;
  /** Highest extended sequence number accepted, valid when !empty. */
  top: u64 = 0;
  empty: bool = true;

  constructor(bits: i32 = DEFAULT_WINDOW_BITS) {
    this.bits = <u64>bits;
    const n = <u32>(bits >> 6) + 1;
    this.nblocks = n;
  }

  /** The blocks, made on first use (all clear). */
  private take(): StaticArray<u64> {
    if (this.blocks.length == 0) this.blocks = new StaticArray<u64>(<i32>this.nblocks);
    return this.blocks;
  }

  reset(): void {
    this.empty = true;
    this.top = 0;
    const blocks = this.blocks;
    for (let i: i32 = 0; i < blocks.length; i++) unchecked(blocks[i] = 0);
  }

  /** The 64-bit sequence number a 16-bit one stands for. */
  extend(seq: u32): u64 {
    const s = <u64>(seq & 0xffff);
    // The first number starts epoch 1, so that older numbers stay positive.
    if (this.empty) return SEQ_SPAN | s;
    const expected = this.top + 1;
    let cand = (expected & ~(SEQ_SPAN - 1)) | s;
    if (cand + SEQ_HALF <= expected) cand += SEQ_SPAN;
    else if (cand > expected + SEQ_HALF && cand >= SEQ_SPAN) cand -= SEQ_SPAN;
    return cand;
  }

  /** 0 if seq would be accepted; ERR_REPLAYED or ERR_SEQUENCE_TOO_OLD otherwise. Changes nothing. */
  check(seq: u32): i32 {
    if (this.empty) return 0;
    const x = this.extend(seq);
    if (x > this.top) return 0;
    if (this.top - x >= this.bits) return ERR_SEQUENCE_TOO_OLD;
    const block = <u32>((x >> 6) % <u64>this.nblocks);
    return (unchecked(this.blocks[block]) >> (x & 63)) & 1 ? ERR_REPLAYED : 0;
  }

  /**
   * Takes up a window a previous run kept (the agent's restart, PROTOCOL.md
   * 8.17): every number up to `top` counts as seen.
   */
  seed(top: u64): void {
    this.empty = false;
    this.top = top;
    const blocks = this.take();
    for (let i: u32 = 0; i < this.nblocks; i++) unchecked(blocks[i] = ~(<u64>0));
  }

  /** Marks seq as seen (call only after check() returned 0 and the message authenticated). */
  update(seq: u32): void {
    const x = this.extend(seq);
    const n = <u64>this.nblocks;
    this.take();
    if (this.empty) {
      this.empty = false;
      this.top = x;
    } else if (x > this.top) {
      // Clear every block the window slides past (all of them at most). A top
      // that stays inside its block clears nothing.
      const from = (this.top >> 6) + 1;
      let to = x >> 6;
      if (to >= from) {
        if (to - from >= n) to = from + n - 1;
        for (let b = from; b <= to; b++) unchecked(this.blocks[<u32>(b % n)] = 0);
      }
      this.top = x;
    } else if (this.top - x >= this.bits) {
      return;
    }
    const block = <u32>((x >> 6) % n);
    unchecked(this.blocks[block] |= (<u64>1) << (x & 63));
  }
}
