// Netlink sockets and libnftables over a few libc calls. Each host binds the
// calls with its runtime's FFI (koffi, Deno.dlopen, bun:ffi) and hands them
// here; what to do with the descriptors is the same everywhere. Nothing here
// reads a message: the bytes go to the core as they came.

import type { KernelIO, NetlinkWatch } from "./io.ts";
import { AF_NETLINK, SOCK_RAW, SOCK_CLOEXEC, MSG_DONTWAIT, NETLINK_NETFILTER, SOL_SOCKET, EAGAIN, POLLIN, EIO, ETIMEDOUT, EPERM, EACCES, NLMSG_ERROR, NLMSG_DONE } from "./linux.ts";

/** The libc calls the kernel interfaces need, as a host's FFI exposes them (buffers as Uint8Array). */
export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Uint8Array, len: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number): number;
  sendto(fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, addrLen: number): number | bigint;
  recv(fd: number, buf: Uint8Array, len: number, flags: number): number | bigint;
  poll(fds: Uint8Array, n: number, timeoutMs: number): number;
  close(fd: number): number;
  /** For catching what libraries write to fd 2 (see StderrCapture). */
  pipe2(fds: Uint8Array, flags: number): number;
  dup(fd: number): number;
  dup2(fd: number, to: number): number;
  read(fd: number, buf: Uint8Array, len: number): number | bigint;
  /** errno of the calling thread after a failed call. */
  errno(): number;
}

/** libnftables, through a host's FFI, on one context with buffered output and errors. */
export interface Libnftables {
  run(batch: string): number;
  error(): string;
  output(): string;
  free(): void;
}

/** errno values a kernel call reports when it fails in the host rather than in the kernel. */
export { EIO, ETIMEDOUT } from "./linux.ts";

/** How long a request waits for the kernel's answer before it fails with ETIMEDOUT. */
export const NETLINK_ANSWER_MS = 1000;

/** A kernel call that failed in the host (a libc call, or no answer in time), with the errno the core is told. */
export class KernelCallError extends Error {
  readonly errno: number;
  constructor(errno: number, message: string) {
    super(message);
    this.name = "KernelCallError";
    this.errno = errno;
  }
}

const SO_RCVBUFFORCE = 33;
/** The next turn of the event loop, after pending I/O (setImmediate where the runtime has it). */
const later: (fn: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === "function"
    ? (fn) => (globalThis as unknown as { setImmediate(f: () => void): void }).setImmediate(fn)
    : (fn) => void setTimeout(fn, 0);
const SOL_NETLINK = 270;
const NETLINK_NO_ENOBUFS = 5;

function sockaddr(groups: number): Uint8Array {
  const a = new Uint8Array(12);
  const v = new DataView(a.buffer);
  v.setUint16(0, AF_NETLINK, true);
  v.setUint32(8, groups >>> 0, true);
  return a;
}

const int32 = (n: number) => new Uint8Array(Int32Array.of(n).buffer);

/** A struct pollfd for one descriptor, waiting for input. */
export function pollfd(fd: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setInt32(0, fd, true);
  v.setInt16(4, POLLIN, true);
  return b;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** True if the messages read at once hold a dump's end (or an error, which ends it too). */
function endsDump(b: Uint8Array): boolean {
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  for (let at = 0; at + 16 <= b.length; ) {
    const len = v.getUint32(at, true);
    const type = v.getUint16(at + 4, true);
    if (type === NLMSG_DONE || type === NLMSG_ERROR) return true;
    if (len < 16) return false;
    at += (len + 3) & ~3;
  }
  return false;
}

/** One netlink socket per protocol for requests, and sockets for watching multicast groups. */
export class NetlinkSockets {
  private sockets = new Map<number, number>();
  private readonly kernel = sockaddr(0);
  private readonly buf = new Uint8Array(65536);

  constructor(private c: Libc) {}

  /** A netlink socket of `protocol`, bound to `groups`. */
  open(protocol: number, groups: number): number {
    const c = this.c;
    const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0) {
      const e = c.errno();
      throw new KernelCallError(e, `netlink socket (protocol ${protocol}) failed, errno ${e}${e === EPERM || e === EACCES ? ": run as root (CAP_NET_ADMIN)" : ""}`);
    }
    if (c.bind(fd, sockaddr(groups), 12) < 0) {
      const e = c.errno();
      c.close(fd);
      throw new KernelCallError(e, `netlink bind (groups ${groups}) failed, errno ${e}`);
    }
    return fd;
  }

  private forRequests(protocol: number): number {
    let fd = this.sockets.get(protocol);
    if (fd !== undefined) return fd;
    fd = this.open(protocol, 0);
    if (protocol === NETLINK_NETFILTER) {
      // The hold's queue notifications wait here until a release reads them.
      this.c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, int32(8 << 20), 4);
      this.c.setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, int32(1), 4);
    }
    this.sockets.set(protocol, fd);
    return fd;
  }

  /** Reads every message the socket holds now, without waiting; each read as one batch. */
  drain(fd: number, onBatch: (bytes: Uint8Array) => void): void {
    for (;;) {
      const n = Number(this.c.recv(fd, this.buf, this.buf.length, MSG_DONTWAIT));
      if (n > 0) {
        onBatch(this.buf.slice(0, n));
        continue;
      }
      if (n < 0) {
        const e = this.c.errno();
        if (e !== EAGAIN) throw new KernelCallError(e, `netlink recv failed, errno ${e}`);
      }
      return;
    }
  }

  /**
   * KernelIO.netlink: send, then return what the socket holds (waiting up to
   * NETLINK_ANSWER_MS for it if waitAck; for a dump, until its NLMSG_DONE or
   * an NLMSG_ERROR arrived: the kernel fills the socket as it is read).
   */
  request(protocol: number, request: Uint8Array, waitAck: boolean, dump = false): Uint8Array {
    const fd = this.forRequests(protocol);
    if (Number(this.c.sendto(fd, request, request.length, 0, this.kernel, 12)) < 0) {
      const e = this.c.errno();
      throw new KernelCallError(e, `netlink send (protocol ${protocol}) failed, errno ${e}`);
    }
    // The kernel answers within sendto: drain what the socket holds.
    const parts: Uint8Array[] = [];
    const pfd = pollfd(fd);
    let ended = false;
    for (let waited = 0; ; waited += 20) {
      this.drain(fd, (b) => {
        parts.push(b);
        if (dump && !ended) ended = endsDump(b);
      });
      if (dump ? ended : parts.length > 0 || !waitAck) break;
      if (waited >= NETLINK_ANSWER_MS) {
        throw new KernelCallError(ETIMEDOUT, `netlink (protocol ${protocol}): the kernel did not answer within ${NETLINK_ANSWER_MS} ms`);
      }
      this.c.poll(pfd, 1, 20);
    }
    return concat(parts);
  }

  /**
   * KernelIO.dump: a dump on a socket of its own, read in pieces across turns
   * of the event loop. The kernel makes the next 32 KiB of a dump when the
   * last is read (in recv), and a set dump walks the set from its start for
   * each (docs/dataplane.md, "Restart and sweep"): at 100,000 elements the
   * last pieces cost ~10 ms each and the whole dump seconds. Each turn reads
   * for up to PIECE_MS, hands what it read to onPiece, and yields (`later`);
   * the piece holding NLMSG_DONE or an error goes to onEnd. A dump that makes
   * no progress for NETLINK_ANSWER_MS ends with ETIMEDOUT.
   */
  dumpInPieces(protocol: number, request: Uint8Array, onPiece: (bytes: Uint8Array) => void, onEnd: (last: Uint8Array | null, error?: KernelCallError) => void, later: (fn: () => void) => void): void {
    const c = this.c;
    let fd: number;
    try {
      fd = this.open(protocol, 0);
    } catch (e) {
      onEnd(null, e as KernelCallError);
      return;
    }
    const finish = (last: Uint8Array | null, error?: KernelCallError) => {
      c.close(fd);
      onEnd(last, error);
    };
    if (Number(c.sendto(fd, request, request.length, 0, this.kernel, 12)) < 0) {
      const e = c.errno();
      finish(null, new KernelCallError(e, `netlink send (protocol ${protocol}) failed, errno ${e}`));
      return;
    }
    const buf = new Uint8Array(65536);
    let idleSince = performance.now();
    const step = () => {
      const t0 = performance.now();
      const parts: Uint8Array[] = [];
      for (;;) {
        const n = Number(c.recv(fd, buf, buf.length, MSG_DONTWAIT));
        if (n > 0) {
          const b = buf.slice(0, n);
          if (endsDump(b)) {
            if (parts.length) onPiece(concat(parts));
            finish(b);
            return;
          }
          parts.push(b);
          idleSince = performance.now();
          if (idleSince - t0 >= PIECE_MS) break;
          continue;
        }
        if (n < 0) {
          const e = c.errno();
          if (e !== EAGAIN) {
            if (parts.length) onPiece(concat(parts));
            finish(null, new KernelCallError(e, `netlink recv failed, errno ${e}`));
            return;
          }
        }
        if (performance.now() - idleSince >= NETLINK_ANSWER_MS) {
          if (parts.length) onPiece(concat(parts));
          finish(null, new KernelCallError(ETIMEDOUT, `netlink dump (protocol ${protocol}): the kernel did not answer within ${NETLINK_ANSWER_MS} ms`));
          return;
        }
        break;
      }
      if (parts.length) onPiece(concat(parts));
      later(step);
    };
    later(step);
  }

  close(): void {
    for (const fd of this.sockets.values()) this.c.close(fd);
    this.sockets.clear();
  }
}

/** How long one turn of a dump in pieces reads before it yields to the event loop. */
export const PIECE_MS = 4;

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const STDERR = 2;

/**
 * libxtables, which libnftables calls to print the hold's compat (xt) rule
 * when a table is listed, writes warnings such as "libxtables: unhandled
 * NFPROTO in xtables_set_nfproto" straight to fd 2, past libnftables' error
 * buffer. While an nft batch runs, fd 2 points at a pipe (non-blocking: a
 * full pipe loses text, never blocks); what arrived is handed back, for the
 * daemon to log as JSON. nft runs synchronously on this thread, so only that
 * call's writes land in the pipe.
 */
class StderrCapture {
  private read = -1;
  private write = -1;
  private saved = -1;
  private readonly buf = new Uint8Array(4096);
  private readonly text = new TextDecoder();

  constructor(private c: Libc) {
    const fds = new Uint8Array(8);
    if (c.pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return; // then nothing is caught
    const v = new DataView(fds.buffer);
    this.read = v.getInt32(0, true);
    this.write = v.getInt32(4, true);
    this.saved = c.dup(STDERR);
  }

  run<T>(fn: () => T): { value: T; stderr: string } {
    if (this.saved < 0 || this.c.dup2(this.write, STDERR) < 0) return { value: fn(), stderr: "" };
    let value: T;
    try {
      value = fn();
    } finally {
      this.c.dup2(this.saved, STDERR);
    }
    let stderr = "";
    for (;;) {
      const n = Number(this.c.read(this.read, this.buf, this.buf.length));
      if (n <= 0) break;
      stderr += this.text.decode(this.buf.subarray(0, n), { stream: true });
    }
    return { value, stderr };
  }

  close(): void {
    for (const fd of [this.read, this.write, this.saved]) if (fd >= 0) this.c.close(fd);
    this.read = this.write = this.saved = -1;
  }
}

/**
 * The KernelIO a host returns, given its libc and libnftables bindings and
 * its way of watching a descriptor without blocking (the one part that
 * differs: koffi's async calls, Deno's nonblocking symbols, a Worker in Bun).
 */
export function kernelIO(
  c: Libc,
  nft: Libnftables,
  watchFd: (fd: number, sockets: NetlinkSockets, onMessage: (bytes: Uint8Array) => void) => NetlinkWatch,
): KernelIO {
  const sockets = new NetlinkSockets(c);
  const capture = new StderrCapture(c);
  return {
    nft(batch: string) {
      const { value: status, stderr } = capture.run(() => nft.run(batch));
      return { status, error: status === 0 ? "" : nft.error(), output: nft.output(), stderr };
    },
    netlink: (protocol, request, waitAck, dump) => sockets.request(protocol, request, waitAck, dump),
    dump: (protocol, request, onPiece, onEnd) => sockets.dumpInPieces(protocol, request, onPiece, onEnd, later),
    watch: (protocol, groups, onMessage) => watchFd(sockets.open(protocol, groups), sockets, onMessage),
    close() {
      sockets.close();
      capture.close();
      nft.free();
    },
  };
}
