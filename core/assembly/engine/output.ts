// The core's outputs, drained by the host in order with poll_output()
// (docs/ABI.md). One queue keeps them in the order they must happen: a kernel
// action queued before a datagram is applied before that datagram is sent.

import { Address } from "./address";
import { TextOut } from "../util/text";

/** Output kinds (docs/ABI.md, "Outputs"). */
export const OUT_NONE: u32 = 0;
/** A datagram to send: payload, destination, optional source address. */
export const OUT_TRANSMIT: u32 = 1;
/** An nftables command batch to run with libnftables; answer with handle_action_result. */
export const OUT_NFT: u32 = 2;
/** A netlink request to send (aux: netlink protocol); answer with handle_action_result and the reply bytes. */
export const OUT_NETLINK: u32 = 3;
/** An event for the application: JSON text. */
export const OUT_EVENT: u32 = 4;

/** Layout of the metadata block at io_meta_ptr() (little-endian). */
export const META_KIND: i32 = 0;
export const META_ID: i32 = 4;
export const META_LENGTH: i32 = 8;
export const META_AUX: i32 = 12;
export const META_DST_PORT: i32 = 16;
export const META_DST_FAMILY: i32 = 18;
export const META_SRC_FAMILY: i32 = 19;
export const META_DST_ADDR: i32 = 20;
export const META_SRC_ADDR: i32 = 36;
export const META_SIZE: i32 = 64;

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
