// The application of `handover demo sid` at the transferring node and then
// at the target: one TCP connection to the correspondent (tools/traffic.js,
// which knows nothing of handover), numbered 100-byte records every few ms
// both ways, every byte sent and received hashed. Its state (the record
// number, the byte counts and both running SHA-256 states) travels in the
// library's application-state hook, so the digests at the end cover the
// whole session across both devices.

import type { Socket } from "node:net";
import { Sha256, type Sha256State } from "./sha256.ts";

const SIZE = 100;

export interface AppState {
  seq: number;
  sentBytes: number;
  receivedBytes: number;
  sent: Sha256State;
  received: Sha256State;
  maxGapMs: number;
}

export interface AppSummary {
  sentBytes: number;
  receivedBytes: number;
  sha256Sent: string;
  sha256Received: string;
  /** Bytes this device sent and received itself. */
  here: { sent: number; received: number };
  firstDataAt: number;
  maxGapMs: number;
  errors: string[];
}

const now = () => performance.timeOrigin + performance.now();

function record(seq: number): Uint8Array {
  const b = new Uint8Array(SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, seq);
  v.setFloat64(4, now());
  for (let i = 12; i < SIZE; i++) b[i] = (seq * 31 + i) & 0xff;
  return b;
}

export class StreamApp {
  private seq: number;
  private sentBytes: number;
  private receivedBytes: number;
  private sent: Sha256;
  private received: Sha256;
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastAt = 0;
  private maxGapMs: number;
  readonly errors: string[] = [];
  readonly here = { sent: 0, received: 0 };
  /** When this device first received data (Unix ms; 0: not yet). */
  firstDataAt = 0;
  closed = false;

  constructor(private socket: Socket, state?: AppState, private intervalMs = 2) {
    this.seq = state?.seq ?? 0;
    this.sentBytes = state?.sentBytes ?? 0;
    this.receivedBytes = state?.receivedBytes ?? 0;
    this.sent = state ? Sha256.resume(state.sent) : new Sha256();
    this.received = state ? Sha256.resume(state.received) : new Sha256();
    this.maxGapMs = state?.maxGapMs ?? 0;
    socket.setNoDelay(true);
    socket.on("data", (d: Uint8Array) => {
      const t = now();
      if (!this.firstDataAt) this.firstDataAt = t;
      if (this.lastAt && t - this.lastAt > this.maxGapMs) this.maxGapMs = t - this.lastAt;
      this.lastAt = t;
      this.receivedBytes += d.length;
      this.here.received += d.length;
      this.received.update(d);
    });
    socket.on("error", (e: NodeJS.ErrnoException) => this.errors.push(e.code ?? e.message));
    socket.on("close", () => (this.closed = true));
  }

  /** Starts (or resumes) sending. */
  start(): void {
    this.lastAt = now();
    this.timer = setInterval(() => {
      if (this.socket.destroyed) return;
      const b = record(this.seq++);
      this.sentBytes += b.length;
      this.here.sent += b.length;
      this.sent.update(b);
      this.socket.write(b);
    }, this.intervalMs);
  }

  /** Stops sending (before a transfer: the library then empties Node's buffers). */
  pause(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The state to carry to the target (take it after the library detached the socket). */
  state(): Uint8Array {
    const s: AppState = { seq: this.seq, sentBytes: this.sentBytes, receivedBytes: this.receivedBytes, sent: this.sent.state(), received: this.received.state(), maxGapMs: this.maxGapMs };
    return new TextEncoder().encode(JSON.stringify(s));
  }

  static parseState(bytes: Uint8Array): AppState {
    return JSON.parse(new TextDecoder().decode(bytes)) as AppState;
  }

  /** Ends the session: stops sending, half-closes, and resolves with the summary once the correspondent closed too. */
  finish(timeoutMs = 5000): Promise<AppSummary> {
    this.pause();
    this.socket.end();
    return new Promise((resolve) => {
      const done = () => resolve(this.summary());
      if (this.closed) return done();
      const t = setTimeout(done, timeoutMs);
      this.socket.once("close", () => {
        clearTimeout(t);
        done();
      });
    });
  }

  summary(): AppSummary {
    return {
      sentBytes: this.sentBytes,
      receivedBytes: this.receivedBytes,
      sha256Sent: this.sent.hex(),
      sha256Received: this.received.hex(),
      here: { ...this.here },
      firstDataAt: this.firstDataAt,
      maxGapMs: Math.round(this.maxGapMs * 1000) / 1000,
      errors: [...this.errors],
    };
  }
}

/** The download's state across the transfer. */
export interface DownloadState {
  kind: "download";
  header: string;
  headerDone: boolean;
  receivedBytes: number;
  received: Sha256State;
  maxGapMs: number;
  sentBytes: number;
}

/**
 * The other application of the demonstration: an HTTP/1.0 download from an
 * unmodified web server (Python's http.server) at a limited rate, so that the
 * transfer happens mid-body; the body's SHA-256 must equal the file's.
 */
export class DownloadApp {
  private header = "";
  private headerDone = false;
  private receivedBytes = 0;
  private sentBytes = 0;
  private received: Sha256;
  private maxGapMs: number;
  private lastAt = 0;
  private budget = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  readonly errors: string[] = [];
  readonly here = { sent: 0, received: 0 };
  firstDataAt = 0;
  ended = false;
  private endWaiters: (() => void)[] = [];

  constructor(private socket: Socket, state?: DownloadState, private bytesPerSecond = 1_500_000) {
    this.header = state?.header ?? "";
    this.headerDone = state?.headerDone ?? false;
    this.receivedBytes = state?.receivedBytes ?? 0;
    this.received = state ? Sha256.resume(state.received) : new Sha256();
    this.maxGapMs = state?.maxGapMs ?? 0;
    this.sentBytes = state?.sentBytes ?? 0;
    socket.on("data", (d: Uint8Array) => this.take(d));
    socket.on("error", (e: NodeJS.ErrnoException) => this.errors.push(e.code ?? e.message));
    socket.on("end", () => {
      this.ended = true;
      for (const w of this.endWaiters.splice(0)) w();
    });
  }

  private take(d: Uint8Array): void {
    const t = now();
    if (!this.firstDataAt) this.firstDataAt = t;
    if (this.lastAt && t - this.lastAt > this.maxGapMs) this.maxGapMs = t - this.lastAt;
    this.lastAt = t;
    this.here.received += d.length;
    let body = d;
    if (!this.headerDone) {
      // The header is ASCII; the body starts after the first empty line.
      const text = this.header + Array.from(d, (b) => String.fromCharCode(b)).join("");
      const at = text.indexOf("\r\n\r\n");
      if (at < 0) {
        this.header = text;
        return;
      }
      this.headerDone = true;
      body = d.subarray(at + 4 - this.header.length);
      this.header = text.slice(0, at + 4);
    }
    this.receivedBytes += body.length;
    this.received.update(body);
    this.budget -= d.length;
    if (this.budget < 0 && this.timer) this.socket.pause();
  }

  /** Sends the request (first start only) and reads at the rate. */
  start(request?: string): void {
    if (request) {
      const b = new TextEncoder().encode(request);
      this.here.sent += b.length;
      this.sentBytes += b.length;
      this.socket.write(b);
    }
    this.lastAt = now();
    const tick = 10;
    this.timer = setInterval(() => {
      this.budget = Math.min(this.budget + (this.bytesPerSecond * tick) / 1000, this.bytesPerSecond / 10);
      if (this.budget > 0 && !this.ended) this.socket.resume();
    }, tick);
  }

  /** Stops the rate timer (before a transfer: the library then empties Node's buffers). */
  pause(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  state(): Uint8Array {
    const s: DownloadState = { kind: "download", header: this.header, headerDone: this.headerDone, receivedBytes: this.receivedBytes, received: this.received.state(), maxGapMs: this.maxGapMs, sentBytes: this.sentBytes };
    return new TextEncoder().encode(JSON.stringify(s));
  }

  /** Resolves with the summary once the server has sent the whole body and closed. */
  finish(timeoutMs = 15000): Promise<AppSummary> {
    return new Promise((resolve) => {
      const done = () => {
        this.pause();
        this.socket.end();
        resolve(this.summary());
      };
      if (this.ended) return done();
      const t = setTimeout(done, timeoutMs);
      this.endWaiters.push(() => {
        clearTimeout(t);
        done();
      });
    });
  }

  summary(): AppSummary {
    return {
      sentBytes: this.sentBytes,
      receivedBytes: this.receivedBytes,
      sha256Sent: "",
      sha256Received: this.received.hex(),
      here: { ...this.here },
      firstDataAt: this.firstDataAt,
      maxGapMs: Math.round(this.maxGapMs * 1000) / 1000,
      errors: [...this.errors],
    };
  }
}

/** The application state's kind: the download carries `kind`, the stream does not. */
export function appOf(socket: Socket, bytes: Uint8Array): StreamApp | DownloadApp {
  const s = JSON.parse(new TextDecoder().decode(bytes));
  return s.kind === "download" ? new DownloadApp(socket, s as DownloadState) : new StreamApp(socket, s as AppState);
}

/** The UDP flow's state across the transfer (the library's application-state hook). */
export interface DatagramState {
  kind: "datagrams";
  seq: number;
  sent: number;
  sentBytes: number;
  received: number;
  receivedBytes: number;
  sha256Sent: Sha256State;
  sha256Received: Sha256State;
  /** The next sequence number expected from the correspondent; below it, the numbers never seen. */
  next: number;
  missing: number[];
  late: number;
  duplicates: number;
  maxGapMs: number;
}

export interface DatagramSummary {
  sent: number;
  sentBytes: number;
  /** Distinct sequence numbers received. */
  received: number;
  receivedBytes: number;
  sha256Sent: string;
  sha256Received: string;
  /** Numbers below the highest received that never arrived. */
  missing: number;
  /** Arrived after a higher number (counted in received; they break the digest's order). */
  late: number;
  /** A number seen twice (not counted again in received nor hashed). */
  duplicates: number;
  here: { sent: number; received: number };
  firstDataAt: number;
  maxGapMs: number;
  errors: string[];
}

/**
 * The demonstration's UDP flow with tools/traffic.js (`--proto udp`, which
 * knows nothing of handover): numbered 100-byte datagrams every few ms both
 * ways, from the transferred address and a fixed port. Every datagram sent
 * and (the first time its number arrives) received is hashed, in the order
 * of sending and arrival; numbers are counted as received, missing (below
 * the highest seen, never arrived), late (arrived after a higher one) and
 * duplicated. Its state travels in the library's hook when the flow moves.
 */
export class DatagramApp {
  private s: DatagramState;
  private sent: Sha256;
  private received: Sha256;
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastAt = 0;
  readonly errors: string[] = [];
  readonly here = { sent: 0, received: 0 };
  firstDataAt = 0;
  private closed = false;

  constructor(private socket: import("node:dgram").Socket, state?: DatagramState, private intervalMs = 2) {
    this.s = state ?? { kind: "datagrams", seq: 0, sent: 0, sentBytes: 0, received: 0, receivedBytes: 0, sha256Sent: new Sha256().state(), sha256Received: new Sha256().state(), next: 0, missing: [], late: 0, duplicates: 0, maxGapMs: 0 };
    this.sent = Sha256.resume(this.s.sha256Sent);
    this.received = Sha256.resume(this.s.sha256Received);
    socket.on("message", (d: Uint8Array) => this.take(d));
    socket.on("error", (e: NodeJS.ErrnoException) => this.errors.push(e.code ?? e.message));
    socket.on("close", () => (this.closed = true));
  }

  private take(d: Uint8Array): void {
    if (d.length < 4) return;
    const t = now();
    if (!this.firstDataAt) this.firstDataAt = t;
    if (this.lastAt && t - this.lastAt > this.s.maxGapMs) this.s.maxGapMs = t - this.lastAt;
    this.lastAt = t;
    const n = new DataView(d.buffer, d.byteOffset, d.length).getUint32(0);
    if (n === 0xffffffff) return;
    const s = this.s;
    if (n < s.next) {
      const i = s.missing.indexOf(n);
      if (i < 0) {
        s.duplicates++;
        return;
      }
      s.missing.splice(i, 1);
      s.late++;
    } else {
      for (let k = s.next; k < n && s.missing.length < 100000; k++) s.missing.push(k);
      s.next = n + 1;
    }
    s.received++;
    s.receivedBytes += d.length;
    this.here.received += d.length;
    this.received.update(d);
  }

  start(): void {
    this.lastAt = now();
    this.timer = setInterval(() => {
      if (this.closed) return;
      const b = record(this.s.seq++);
      this.s.sent++;
      this.s.sentBytes += b.length;
      this.here.sent += b.length;
      this.sent.update(b);
      this.socket.send(b);
    }, this.intervalMs);
  }

  pause(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The library calls this when the flow leaves: the application stops sending, and this is its state. */
  state(): Uint8Array {
    this.pause();
    const s: DatagramState = { ...this.s, missing: [...this.s.missing], sha256Sent: this.sent.state(), sha256Received: this.received.state() };
    return new TextEncoder().encode(JSON.stringify(s));
  }

  static parseState(bytes: Uint8Array): DatagramState {
    return JSON.parse(new TextDecoder().decode(bytes)) as DatagramState;
  }

  /** Ends the flow: stops sending, sends the end marker (5 times), waits for what is still on its way, closes. */
  async finish(waitMs = 300): Promise<DatagramSummary> {
    this.pause();
    const end = new Uint8Array([0xff, 0xff, 0xff, 0xff]);
    for (let i = 0; i < 5; i++) setTimeout(() => !this.closed && this.socket.send(end), i * 20);
    await new Promise((r) => setTimeout(r, waitMs));
    const summary = this.summary();
    if (!this.closed) this.socket.close();
    return summary;
  }

  summary(): DatagramSummary {
    const s = this.s;
    return {
      sent: s.sent, sentBytes: s.sentBytes, received: s.received, receivedBytes: s.receivedBytes,
      sha256Sent: this.sent.hex(), sha256Received: this.received.hex(),
      missing: s.missing.length, late: s.late, duplicates: s.duplicates, here: { ...this.here }, firstDataAt: this.firstDataAt,
      maxGapMs: Math.round(s.maxGapMs * 1000) / 1000, errors: [...this.errors],
    };
  }
}
