// HostIO for Bun, with Bun's own APIs: Bun.udpSocket for UDP, bun:ffi for
// libc netlink sockets and libnftables, Bun.listen/Bun.connect for the control
// socket. Bun has no asynchronous FFI: watch() polls its netlink socket in a
// Worker (./watch.ts), see hosts/bun/README.md.

import { dlopen, read, CString } from "bun:ffi";
import { mkdir, unlink, writeFile, stat, readlink } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { appendFileSync, writeFileSync, renameSync, readFileSync } from "node:fs";
import type { HostIO, KernelIO, UdpHandlers, UdpSocket, ControlServer } from "../shared/io.ts";
import { serveHttp } from "../shared/http.ts";
import type { Core } from "../shared/core.ts";
import type { SidHostIO } from "../shared/sidio.ts";
import { koffiSidIO } from "../node/sid.ts";
import { BunFdSocket } from "./adopt.ts";
import { kernelIO, type Libc, type Libnftables } from "../shared/netlink.ts";

const ORIGIN = performance.timeOrigin;
const enc = new TextEncoder();
const dec = new TextDecoder();
/** Bun.udpSocket's bind flag for IPV6_V6ONLY (as Bun's node:dgram passes it). */
const SOCKET_IPV6_ONLY = 8;

function errnoName(e: unknown): [string, string] {
  const err = e as { code?: string; name?: string; message?: string };
  return [err?.code ?? err?.name ?? "EIO", err?.message ?? String(e)];
}

class BunUdp implements UdpSocket {
  private socket: Bun.UdpSocket | null = null;
  /** Sends issued before the bind completes. */
  private queue: [Uint8Array, string, number][] | null = [];
  private bindError: [string, string] = ["EBADF", "not bound"];
  private closed = false;
  constructor(readonly address: string, port: number, private h: UdpHandlers) {
    const failed = (e: unknown) => {
      this.queue = null;
      h.error(...(this.bindError = errnoName(e)));
    };
    let bound: Promise<Bun.UdpSocket>;
    try {
      bound = Bun.udpSocket({
        hostname: address,
        port,
        binaryType: "uint8array",
        // One socket per family, as in the Node host: "::" must not take IPv4 too.
        flags: address.includes(":") ? SOCKET_IPV6_ONLY : 0,
        socket: {
          data: (_s, data, fromPort, from) => {
            if (!this.closed) h.message(data, from, fromPort);
          },
          error: (...args) => {
            // Bun reads ICMP errors from the error queue (IP_RECVERR); an unconnected socket in
            // Node never sees them, and Bun's own node:dgram drops them too.
            const e = args[args.length - 1] as { errqueue?: boolean };
            if (!e?.errqueue) h.error(...errnoName(e));
          },
        },
      });
    } catch (e) {
      // Some bind errors (EADDRNOTAVAIL) are thrown at once: report them as Node does, asynchronously.
      queueMicrotask(() => failed(e));
      return;
    }
    bound.then((s) => {
      if (this.closed) return s.close();
      this.socket = s;
      const queued = this.queue!;
      this.queue = null;
      for (const [data, to, toPort] of queued) this.send(data, to, toPort);
    }, failed);
  }
  port(): number {
    return this.socket?.port ?? 0;
  }
  send(data: Uint8Array, address: string, port: number): void {
    if (this.queue) {
      this.queue.push([data, address, port]);
      return;
    }
    if (!this.socket) return this.h.error(...this.bindError); // the bind failed (or the socket is closed)
    let sent: boolean;
    try {
      sent = this.socket.send(data, port, address);
    } catch {
      // A pending ICMP error from an earlier datagram (IP_RECVERR) fails one send and is
      // cleared by it: send again; a second failure is this datagram's own.
      try {
        sent = this.socket.send(data, port, address);
      } catch (e) {
        return this.h.error(...errnoName(e));
      }
    }
    if (!sent) this.h.error("EAGAIN", `send to ${address}:${port}: socket buffer full`);
  }
  close(): void {
    this.closed = true;
    this.queue = null;
    this.socket?.close();
  }
}

/** libc and libnftables through bun:ffi, loaded on first use. */
function loadKernel(): KernelIO {
  let libc, libnft;
  try {
    // size_t/ssize_t as u64/i64 (x86-64, aarch64); bun:ffi takes the symbol name from the key.
    libc = dlopen("libc.so.6", {
      socket: { args: ["i32", "i32", "i32"], returns: "i32" },
      bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
      sendto: { args: ["i32", "ptr", "u64", "i32", "ptr", "u32"], returns: "i64" },
      recv: { args: ["i32", "ptr", "u64", "i32"], returns: "i64" },
      poll: { args: ["ptr", "u64", "i32"], returns: "i32" },
      setsockopt: { args: ["i32", "i32", "i32", "ptr", "u32"], returns: "i32" },
      close: { args: ["i32"], returns: "i32" },
      pipe2: { args: ["ptr", "i32"], returns: "i32" },
      dup: { args: ["i32"], returns: "i32" },
      dup2: { args: ["i32", "i32"], returns: "i32" },
      read: { args: ["i32", "ptr", "u64"], returns: "i64" },
      __errno_location: { args: [], returns: "ptr" },
    } as const).symbols;
  } catch (e) {
    throw new Error(`cannot load libc.so.6: ${e}`);
  }
  try {
    libnft = dlopen("libnftables.so.1", {
      nft_ctx_new: { args: ["u32"], returns: "ptr" },
      nft_ctx_buffer_output: { args: ["ptr"], returns: "i32" },
      nft_ctx_buffer_error: { args: ["ptr"], returns: "i32" },
      nft_run_cmd_from_buffer: { args: ["ptr", "ptr"], returns: "i32" },
      nft_ctx_get_error_buffer: { args: ["ptr"], returns: "ptr" },
      nft_ctx_get_output_buffer: { args: ["ptr"], returns: "ptr" },
      nft_ctx_free: { args: ["ptr"], returns: "void" },
    } as const).symbols;
  } catch {
    throw new Error("cannot load libnftables.so.1: install nftables (apt-get install -y nftables)");
  }
  const errnoPtr = libc.__errno_location(); // errno of this (the main) thread
  const c: Libc = {
    socket: libc.socket,
    bind: libc.bind,
    setsockopt: libc.setsockopt,
    sendto: libc.sendto,
    recv: libc.recv,
    poll: libc.poll,
    close: libc.close,
    pipe2: libc.pipe2,
    dup: libc.dup,
    dup2: libc.dup2,
    read: libc.read,
    errno: () => read.i32(errnoPtr!, 0),
  };
  const ctx = libnft.nft_ctx_new(0);
  if (!ctx) throw new Error("nft_ctx_new failed");
  libnft.nft_ctx_buffer_output(ctx);
  libnft.nft_ctx_buffer_error(ctx);
  const text = (p: number | null) => (p ? new CString(p).toString() : "");
  const nft: Libnftables = {
    run: (batch) => libnft.nft_run_cmd_from_buffer(ctx, enc.encode(batch + "\0")) as number,
    error: () => text(libnft.nft_ctx_get_error_buffer(ctx)),
    output: () => text(libnft.nft_ctx_get_output_buffer(ctx)),
    free: () => libnft.nft_ctx_free(ctx),
  };
  return kernelIO(c, nft, (fd, _sockets, onMessage) => {
    // A Worker blocks in poll() and recv() and posts each batch; this thread never waits.
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(new URL("./watch.js", import.meta.url));
    worker.onmessage = (e: MessageEvent) => {
      if (Atomics.load(stop, 0) === 0) onMessage(e.data as Uint8Array);
    };
    worker.postMessage({ fd, stop: stop.buffer });
    (worker as unknown as { unref(): void }).unref(); // a watch never keeps the process alive
    return {
      close() {
        Atomics.store(stop, 0, 1); // the worker closes fd after its current poll (<= 250 ms)
      },
    };
  });
}

export class BunIO implements HostIO {
  readonly runtime = "bun" as const;

  now(): number {
    return ORIGIN + performance.now();
  }
  random(n: number): Uint8Array {
    return crypto.getRandomValues(new Uint8Array(n));
  }
  setTimer(fn: () => void, ms: number): unknown {
    return setTimeout(fn, ms);
  }
  clearTimer(handle: unknown): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  }
  udp(address: string, port: number, handlers: UdpHandlers): UdpSocket {
    return new BunUdp(address, port, handlers);
  }
  openKernel(): KernelIO {
    return loadKernel();
  }
  async serveControl(path: string, handle: (request: unknown) => Promise<unknown>): Promise<ControlServer> {
    await mkdir(path.slice(0, path.lastIndexOf("/")) || "/", { recursive: true });
    await unlink(path).catch(() => {});
    const input = new Map<Bun.Socket, string>();
    const output = new Map<Bun.Socket, Uint8Array>();
    const flush = (s: Bun.Socket) => {
      const rest = output.get(s)!;
      const n = s.write(rest);
      if (n < rest.length) return output.set(s, rest.subarray(Math.max(0, n)));
      output.delete(s);
      s.end();
    };
    const server = Bun.listen({
      unix: path,
      socket: {
        data: async (s, chunk) => {
          const text = (input.get(s) ?? "") + dec.decode(chunk);
          const nl = text.indexOf("\n");
          if (nl < 0) return input.set(s, text);
          input.delete(s);
          let answer: unknown;
          try {
            answer = await handle(JSON.parse(text.slice(0, nl)));
          } catch (e) {
            answer = { ok: false, error: String(e) };
          }
          output.set(s, enc.encode(JSON.stringify(answer) + "\n"));
          flush(s);
        },
        drain: (s) => {
          if (output.has(s)) flush(s);
        },
        close: (s) => {
          input.delete(s);
          output.delete(s);
        },
        error: () => {},
      },
    });
    return {
      close: () => {
        server.stop(true);
        unlink(path).catch(() => {});
      },
    };
  }
  readonly serveHttp = serveHttp;
  callControl(path: string, request: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let text = "";
      const fail = (e: unknown) => reject(new Error(`cannot reach the daemon at ${path}: ${errnoName(e).join(" ")}`));
      Bun.connect({
        unix: path,
        socket: {
          open: (s) => s.write(JSON.stringify(request) + "\n"),
          data: (_s, chunk) => {
            text += dec.decode(chunk, { stream: true });
          },
          close: () => {
            try {
              resolve(JSON.parse(text));
            } catch (e) {
              reject(e);
            }
          },
          error: (_s, e) => fail(e),
          connectError: (_s, e) => fail(e),
        },
      }).catch(fail);
    });
  }
  readText(path: string): Promise<string> {
    return Bun.file(path).text();
  }
  log(line: string): void {
    process.stderr.write(line + "\n");
  }
  env(name: string): string | undefined {
    return Bun.env[name];
  }
  onShutdown(fn: () => void): void {
    let called = false;
    const once = () => {
      if (!called) fn();
      called = true;
    };
    process.once("SIGTERM", once);
    process.once("SIGINT", once);
  }
  onReload(fn: () => void): () => void {
    process.on("SIGHUP", fn);
    return () => process.off("SIGHUP", fn);
  }
  get pid(): number {
    return process.pid;
  }
  fileMode(path: string): Promise<number | undefined> {
    return stat(path).then((s) => s.mode, () => undefined);
  }
  async createExclusive(path: string, text: string): Promise<boolean> {
    await mkdir(path.slice(0, path.lastIndexOf("/")) || "/", { recursive: true });
    try {
      await writeFile(path, text, { flag: "wx" });
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === "EEXIST") return false;
      throw e;
    }
  }
  readBytes(path: string): Promise<Uint8Array> {
    return Promise.resolve().then(() => new Uint8Array(readFileSync(path)));
  }
  writeBytesSync(path: string, bytes: Uint8Array, append: boolean): void {
    if (append) {
      appendFileSync(path, bytes);
      return;
    }
    writeFileSync(path + ".new", bytes);
    renameSync(path + ".new", path);
  }
  removeFile(path: string): Promise<void> {
    return unlink(path).catch((e: { code?: string }) => {
      if (e.code !== "ENOENT") throw e;
    });
  }
  networkNamespace(): Promise<string | undefined> {
    return readlink("/proc/self/ns/net").catch(() => undefined);
  }
  /**
   * SID through koffi (it loads under Bun too): AF_PACKET and TCP_REPAIR work;
   * node:net does not adopt a restored descriptor, Bun.connect({ fd }) does: a target hands the application
   * a BunFdSocket (a Duplex over it, hosts/bun/adopt.ts);
   * transferring a connection away does not: Bun's node:net sockets expose no way to stop reading and hand the descriptor over.
   */
  sid(core: Core): SidHostIO {
    return koffiSidIO(core, {
      detach: () => Promise.reject(new Error("bun: cannot take a connection from the application: Bun's node:net sockets expose no way to stop reading and hand the descriptor over; run the transferring node under Node")),
      discard: () => {},
      adopt: (fd) => new BunFdSocket(fd),
    });
  }
  localAddresses(): string[] {
    return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  }
}
