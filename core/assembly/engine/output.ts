// The core's outputs, drained by the host in order with poll_output()
// (docs/ABI.md). One queue keeps them in the order they must happen: a kernel
// action queued before a datagram is applied before that datagram is sent.

import { Address } from "./address";
import { TextOut } from "../util/text";
import { copyBytes } from "../util/bytes";

export {
  OUT_NONE, OUT_TRANSMIT, OUT_NFT, OUT_NETLINK, OUT_EVENT, OUT_FRAME, OUT_RENEWED,
  META_KIND, META_ID, META_LENGTH, META_AUX, META_DST_PORT, META_DST_FAMILY, META_SRC_FAMILY,
  META_DST_ADDR, META_SRC_ADDR, META_SIZE,
} from "../generated/registry";
import { OUT_EVENT, OUT_RENEWED } from "../generated/registry";

/**
 * One output. Every output comes from the pool (takeOutput) and goes back to
 * it when the host polls the one after it: outputs are never allocated per
 * message once the pool has warmed up, whatever the traffic.
 */
export class Output {
  kind: u32 = 0;
  id: u32 = 0;
  aux: u32 = 0;
  dst: Address = new Address();
  dstPort: u32 = 0;
  /** The source address; family 0 for "any". */
  src: Address = new Address();
  /** The payload: the first `length` bytes of `data`. */
  data: StaticArray<u8> = EMPTY;
  length: i32 = 0;
  /** This output's own buffer, reused for payloads copied in. */
  private own: StaticArray<u8> = EMPTY;

  /**
   * Sends bytes that are kept elsewhere (a cached reply, a request that may be
   * retransmitted), without copying them: they must not change afterwards.
   */
  share(bytes: StaticArray<u8>): void {
    this.data = bytes;
    this.length = bytes.length;
  }

  /** Copies the payload from scratch memory that the next message will overwrite. */
  copy(p: usize, n: i32): void {
    if (this.own.length < n) this.own = new StaticArray<u8>(n < MIN_OWN ? MIN_OWN : n);
    copyBytes(changetype<usize>(this.own), p, <usize>n);
    this.data = this.own;
    this.length = n;
  }

  /** Lets go of the payload, so that the pool keeps no shared bytes alive. */
  release(): void {
    this.data = EMPTY;
    this.length = 0;
    if (this.own.length > MAX_KEPT_OWN) this.own = EMPTY;
  }
}

const EMPTY = new StaticArray<u8>(0);

/**
 * A message sent as a link-layer frame instead of a datagram (PROTOCOL.md
 * 8.14): Ethernet to `dstMac` from `srcMac` on interface `ifindex`, IP from
 * `src` to the message's destination, UDP from `srcPort`.
 */
export class FrameRoute {
  ifindex: u32 = 0;
  dstMac: StaticArray<u8> = new StaticArray<u8>(6);
  srcMac: StaticArray<u8> = new StaticArray<u8>(6);
  src: Address = new Address();
  srcPort: u32 = 0;
}

/** Smallest own buffer: an event or a short message fits without growing. */
const MIN_OWN: i32 = 512;
/** Own buffers larger than this are not kept by a pooled output (a rare large nft batch). */
const MAX_KEPT_OWN: i32 = 4096;
/** Outputs kept for reuse; beyond that (after a burst) they are left to the GC. */
const POOL_SIZE: i32 = 64;

/** Outputs not in use. */
const pool = new Array<Output>();

/** A blank output of `kind` to fill and push, from the pool when it has one. */
export function takeOutput(kind: u32): Output {
  const o = pool.length ? pool.pop() : new Output();
  o.kind = kind;
  o.id = 0;
  o.aux = 0;
  o.dstPort = 0;
  o.dst.family = 0;
  o.src.family = 0;
  o.data = EMPTY;
  o.length = 0;
  return o;
}

/** Returns an output the host has read to the pool. */
function recycle(o: Output): void {
  o.release();
  if (pool.length < POOL_SIZE) pool.push(o);
}

/** Copies [p, p+n) into a new byte array. */
export function bytesOf(p: usize, n: i32): StaticArray<u8> {
  const a = new StaticArray<u8>(n);
  memory.copy(changetype<usize>(a), p, <usize>n);
  return a;
}

/** The outputs waiting for poll_output, in order. */
export class OutputQueue {
  private items: Array<Output> = new Array<Output>();
  private head: i32 = 0;
  /** The output poll_output handed out last, recycled on the next poll. */
  private lent: Output | null = null;

  get length(): i32 { return this.items.length - this.head; }

  push(o: Output): void {
    this.items.push(o);
  }

  /** The next output; it stays valid until the next call. */
  shift(): Output | null {
    const prev = this.lent;
    if (prev) {
      this.lent = null;
      recycle(prev);
    }
    const items = this.items;
    if (this.head >= items.length) {
      if (this.head > 0) {
        items.length = 0;
        this.head = 0;
      }
      return null;
    }
    const o = items[this.head++];
    // A host that polls part of the queue between inputs never empties it: drop the polled part now and then.
    if (this.head >= COMPACT_AT && this.head * 2 >= items.length) {
      items.copyWithin(0, this.head);
      items.length -= this.head;
      this.head = 0;
    }
    this.lent = o;
    return o;
  }
}

const COMPACT_AT: i32 = 256;

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
  const o = takeOutput(OUT_EVENT);
  o.copy(EVENT_BUF, eventText.pos);
  return o;
}

/** The payload of a RENEWED output: its time. */
const RENEWED_T = memory.data(8, 8);

/**
 * The agent's "renewed" event (8.3) as a RENEWED output (docs/ABI.md): the
 * address at dst, the granted lifetime in aux, the time (ms, rounded to the
 * microsecond as writeMs writes it) as the 8-byte payload. The host makes the
 * same event object of it as of the JSON one (`sid`, t, state "renewed",
 * role "agent", address, lifetime): a renewal's event costs no text.
 */
export function renewedOutput(a: Address, lifetime: u32, now: f64): Output {
  const neg = now < 0;
  const us = <f64>(<u64>Math.round((neg ? -now : now) * 1000));
  store<f64>(RENEWED_T, (neg ? -us : us) / 1000);
  const o = takeOutput(OUT_RENEWED);
  o.dst.set(a);
  o.aux = lifetime;
  o.copy(RENEWED_T, 8);
  return o;
}
