// The core's outputs, drained by the host in order with poll_output()
// (docs/ABI.md). One queue keeps them in the order they must happen: a kernel
// action queued before a datagram is applied before that datagram is sent.

import { Address } from "./address";
import { TextOut } from "../util/text";

export {
  OUT_NONE, OUT_TRANSMIT, OUT_NFT, OUT_NETLINK, OUT_EVENT,
  META_KIND, META_ID, META_LENGTH, META_AUX, META_DST_PORT, META_DST_FAMILY, META_SRC_FAMILY,
  META_DST_ADDR, META_SRC_ADDR, META_SIZE,
} from "../generated/registry";
import { OUT_EVENT } from "../generated/registry";

/** One output. Recycled by the queue: its address objects are reused, its data is shared, never copied. */
export class Output {
  kind: u32 = 0;
  id: u32 = 0;
  aux: u32 = 0;
  dst: Address = new Address();
  dstPort: u32 = 0;
  /** The source address; family 0 for "any". */
  src: Address = new Address();
  data: StaticArray<u8> = EMPTY;
}

const EMPTY = new StaticArray<u8>(0);

/** Copies [p, p+n) into a new byte array. */
export function bytesOf(p: usize, n: i32): StaticArray<u8> {
  const a = new StaticArray<u8>(n);
  memory.copy(changetype<usize>(a), p, <usize>n);
  return a;
}

export class OutputQueue {
  private items: Array<Output> = new Array<Output>();
  private head: i32 = 0;
  private free: Array<Output> = new Array<Output>();
  /** The output poll_output handed out last, recycled on the next poll. */
  private lent: Output | null = null;

  get length(): i32 { return this.items.length - this.head; }

  /** A blank output to fill and push (recycled when possible). */
  take(kind: u32): Output {
    const o = this.free.length ? this.free.pop() : new Output();
    o.kind = kind;
    o.id = 0;
    o.aux = 0;
    o.dstPort = 0;
    o.dst.family = 0;
    o.src.family = 0;
    o.data = EMPTY;
    return o;
  }

  push(o: Output): void {
    this.items.push(o);
  }

  /** The next output; it stays valid until the next call. */
  shift(): Output | null {
    const prev = this.lent;
    if (prev) {
      prev.data = EMPTY;
      this.free.push(prev);
      this.lent = null;
    }
    if (this.head >= this.items.length) {
      if (this.head > 0) {
        this.items.length = 0;
        this.head = 0;
      }
      return null;
    }
    const o = this.items[this.head++];
    this.lent = o;
    return o;
  }
}

// ---- events ------------------------------------------------------------------

const EVENT_CAP: i32 = 16384;
const EVENT_BUF = memory.data(EVENT_CAP);
const eventText = new TextOut();

/** Starts an event's JSON object with its name and time; finish with endEvent(). */
export function beginEvent(name: string, now: f64): TextOut {
  eventText.reset(EVENT_BUF, EVENT_CAP);
  eventText.objOpen();
  eventText.key("event");
  eventText.str(name);
  eventText.key("t");
  eventText.raw();
  writeMs(eventText, now);
  return eventText;
}

/** Writes milliseconds with three decimals (microseconds). */
export function writeMs(out: TextOut, ms: f64): void {
  if (ms < 0) {
    out.byte(0x2d);
    ms = -ms;
  }
  const us = <u64>Math.round(ms * 1000);
  out.dec(us / 1000);
  out.byte(0x2e);
  const frac = us % 1000;
  out.byte(<u32>(0x30 + frac / 100));
  out.byte(<u32>(0x30 + (frac / 10) % 10));
  out.byte(<u32>(0x30 + frac % 10));
}

/** Closes the event begun with beginEvent and returns it as an output. */
export function endEvent(): Output {
  eventText.objClose();
  const o = new Output();
  o.kind = OUT_EVENT;
  o.data = bytesOf(EVENT_BUF, eventText.pos);
  return o;
}
