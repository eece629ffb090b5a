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

export class Output {
  kind: u32 = 0;
  id: u32 = 0;
  aux: u32 = 0;
  dst: Address | null = null;
  dstPort: u32 = 0;
  src: Address | null = null;
  data: StaticArray<u8> = new StaticArray<u8>(0);
}

/** Copies [p, p+n) into a new byte array. */
export function bytesOf(p: usize, n: i32): StaticArray<u8> {
  const a = new StaticArray<u8>(n);
  memory.copy(changetype<usize>(a), p, <usize>n);
  return a;
}

export class OutputQueue {
  private items: Array<Output> = new Array<Output>();
  private head: i32 = 0;

  get length(): i32 { return this.items.length - this.head; }

  push(o: Output): void {
    this.items.push(o);
  }

  shift(): Output | null {
    if (this.head >= this.items.length) return null;
    const o = this.items[this.head++];
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
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
