// HostIO for Deno, with Deno's built-in APIs only (Deno std lives on JSR,
// which is not used): Deno.listenDatagram for UDP (--unstable-net),
// Deno.dlopen for libc netlink sockets and libnftables (--allow-ffi),
// Deno.listen/Deno.connect for the control socket.
//
// One exception: Deno.listenDatagram cannot set IPV6_V6ONLY, so a socket on
// "::" would take the IPv4 wildcard too and fail with EADDRINUSE next to the
// daemon's "0.0.0.0" socket on the same port. That one socket comes from
// node:dgram (Deno's own implementation), which can.

import dgram from "node:dgram";
import type { HostIO, KernelIO, UdpHandlers, UdpSocket, ControlServer } from "../shared/io.ts";
import { serveHttp } from "../shared/http.ts";
import type { Core } from "../shared/core.ts";
import type { SidHostIO } from "../shared/sidio.ts";
import { koffiSidIO, adopt } from "../node/sid.ts";
import { kernelIO, pollfd, type Libc, type Libnftables } from "../shared/netlink.ts";

const ORIGIN = performance.timeOrigin;
const enc = new TextEncoder();
const dec = new TextDecoder();

function errnoName(e: unknown): [string, string] {
  const err = e as { code?: string; name?: string; message?: string };
  return [err?.code ?? err?.name ?? "EIO", err?.message ?? String(e)];
}

const UNSTABLE_NET = "Deno's UDP sockets need --unstable-net: run deno run -A --unstable-net .../hosts/deno/cli.js";

class DenoUdp implements UdpSocket {
  private conn: Deno.DatagramConn | null = null;
  private bindError: [string, string] | null = null;
  private closed = false;
  constructor(readonly address: string, port: number, private h: UdpHandlers) {
    try {
      // Deno binds synchronously: no send can come before the bind.
      if (typeof Deno.listenDatagram !== "function") throw Object.assign(new Error(UNSTABLE_NET), { code: "EUNSTABLE" });
      this.conn = Deno.listenDatagram({ transport: "udp", hostname: address, port });
    } catch (e) {
      // Reported asynchronously, like Node's "error" event, after the caller holds the socket.
      const failed = (this.bindError = errnoName(e));
      queueMicrotask(() => h.error(...failed));
      return;
    }
    this.receive(this.conn);
  }
  private async receive(conn: Deno.DatagramConn): Promise<void> {
    const buf = new Uint8Array(65536); // the daemon copies each datagram into the core at once
    while (!this.closed) {
      let got: [Uint8Array, Deno.Addr];
      try {
        got = await conn.receive(buf);
      } catch (e) {
        // Closing cancels the pending receive (Interrupted, BadResource); anything else is
        // reported and the socket keeps receiving (after a pause), as a Node socket does.
        const name = (e as Error)?.name;
        if (this.closed || name === "Interrupted" || name === "BadResource") return;
        this.h.error(...errnoName(e));
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      const a = got[1] as Deno.NetAddr;
      this.h.message(got[0], a.hostname, a.port);
    }
  }
  port(): number {
    return this.conn ? (this.conn.addr as Deno.NetAddr).port : 0;
  }
  send(data: Uint8Array, address: string, port: number): void {
    if (!this.conn) return queueMicrotask(() => this.h.error(...this.bindError!)); // after the bind's own report
    this.conn.send(data, { transport: "udp", hostname: address, port }).catch((e) => this.h.error(...errnoName(e)));
  }
  close(): void {
    this.closed = true;
    try {
      this.conn?.close();
    } catch {
      // already closed
    }
  }
}

/** The IPv6 wildcard, IPV6_V6ONLY (see the top of this file). */
class V6OnlyUdp implements UdpSocket {
  private socket = dgram.createSocket({ type: "udp6", ipv6Only: true });
  private bound = 0;
  constructor(readonly address: string, port: number, h: UdpHandlers) {
    this.socket.on("message", (m, r) => h.message(new Uint8Array(m.buffer, m.byteOffset, m.length), r.address, r.port));
    this.socket.on("error", (e: Error & { code?: string }) => h.error(e.code ?? "EIO", e.message));
    this.socket.bind({ address, port, exclusive: true }, () => (this.bound = this.socket.address().port));
  }
  port(): number {
    return this.bound;
  }
  send(data: Uint8Array, address: string, port: number): void {
    this.socket.send(data, port, address); // queued by dgram until bound
  }
  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

/** libc and libnftables through Deno.dlopen, loaded on first use. */
function loadKernel(): KernelIO {
  let libc, libnft;
  try {
    libc = Deno.dlopen("libc.so.6", {
      socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
      bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
      sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
      recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
      poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
      // The same poll on Deno's blocking thread pool: returns a Promise, the event loop runs on.
      pollAsync: { name: "poll", parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
      setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
      close: { parameters: ["i32"], result: "i32" },
      pipe2: { parameters: ["buffer", "i32"], result: "i32" },
      dup: { parameters: ["i32"], result: "i32" },
      dup2: { parameters: ["i32", "i32"], result: "i32" },
      read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
      errno: { name: "__errno_location", parameters: [], result: "pointer" },
    } as const).symbols;
  } catch (e) {
    throw new Error(`cannot load libc.so.6 (run deno with --allow-ffi): ${e}`);
  }
  try {
    libnft = Deno.dlopen("libnftables.so.1", {
      new: { name: "nft_ctx_new", parameters: ["u32"], result: "pointer" },
      bufferOutput: { name: "nft_ctx_buffer_output", parameters: ["pointer"], result: "i32" },
      bufferError: { name: "nft_ctx_buffer_error", parameters: ["pointer"], result: "i32" },
      run: { name: "nft_run_cmd_from_buffer", parameters: ["pointer", "buffer"], result: "i32" },
      error: { name: "nft_ctx_get_error_buffer", parameters: ["pointer"], result: "pointer" },
      output: { name: "nft_ctx_get_output_buffer", parameters: ["pointer"], result: "pointer" },
      free: { name: "nft_ctx_free", parameters: ["pointer"], result: "void" },
    } as const).symbols;
  } catch {
    throw new Error("cannot load libnftables.so.1: install nftables (apt-get install -y nftables)");
  }
  const errnoPtr = new Deno.UnsafePointerView(libc.errno());
  const c: Libc = {
    socket: libc.socket,
    bind: libc.bind,
    setsockopt: libc.setsockopt,
    sendto: (fd, buf, len, flags, addr, alen) => libc.sendto(fd, buf, BigInt(len), flags, addr, alen),
    recv: (fd, buf, len, flags) => libc.recv(fd, buf, BigInt(len), flags),
    poll: (fds, n, ms) => libc.poll(fds, BigInt(n), ms),
    close: libc.close,
    pipe2: libc.pipe2,
    dup: libc.dup,
    dup2: libc.dup2,
    read: (fd, buf, len) => libc.read(fd, buf, BigInt(len)),
    errno: () => errnoPtr.getInt32(), // errno of this (the main) thread
  };
  const ctx = libnft.new(0);
  if (!ctx) throw new Error("nft_ctx_new failed");
  libnft.bufferOutput(ctx);
  libnft.bufferError(ctx);
  const text = (p: Deno.PointerValue) => (p ? new Deno.UnsafePointerView(p).getCString() : "");
  const nft: Libnftables = {
    run: (batch) => libnft.run(ctx, enc.encode(batch + "\0")),
    error: () => text(libnft.error(ctx)),
    output: () => text(libnft.output(ctx)),
    free: () => libnft.free(ctx),
  };
  // The same poll, declared nonblocking: it runs on Deno's blocking thread
  // pool and returns a Promise, so the event loop runs on.
  return kernelIO(c, nft, (fd, sockets, onMessage) => {
    const fds = pollfd(fd); // referenced here until the last poll returns
    let open = true;
    (async () => {
      while (open) {
        const ready = (await libc.pollAsync(fds, 1n, 250)) as number;
        if (open && ready > 0) sockets.drain(fd, onMessage);
      }
      c.close(fd); // the pending poll has returned: the descriptor can go
    })();
    return {
      close() {
        open = false;
      },
      // every read is on this thread (the pool thread only polls): reading now keeps the order
      readNow() {
        if (open) sockets.drain(fd, onMessage);
      },
    };
  });
}

/** Reads from a connection until a newline (or the end); returns the text before it. */
async function readLine(conn: Deno.Conn, untilEnd = false): Promise<string> {
  const chunk = new Uint8Array(65536);
  let text = "";
  for (;;) {
    const n = await conn.read(chunk);
    if (n === null) return text;
    text += dec.decode(chunk.subarray(0, n), { stream: true });
    const nl = text.indexOf("\n");
    if (nl >= 0 && !untilEnd) return text.slice(0, nl);
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length; ) at += await conn.write(bytes.subarray(at));
}

export class DenoIO implements HostIO {
  readonly runtime = "deno" as const;

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
    clearTimeout(handle as number);
  }
  udp(address: string, port: number, handlers: UdpHandlers): UdpSocket {
    return address === "::" ? new V6OnlyUdp(address, port, handlers) : new DenoUdp(address, port, handlers);
  }
  openKernel(): KernelIO {
    return loadKernel();
  }
  async serveControl(path: string, handle: (request: unknown) => Promise<unknown>): Promise<ControlServer> {
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")) || "/", { recursive: true });
    await Deno.remove(path).catch(() => {});
    const listener = Deno.listen({ transport: "unix", path });
    const serve = async (conn: Deno.Conn) => {
      try {
        let answer: unknown;
        try {
          answer = await handle(JSON.parse(await readLine(conn)));
        } catch (e) {
          answer = { ok: false, error: String(e) };
        }
        await writeAll(conn, enc.encode(JSON.stringify(answer) + "\n"));
      } catch {
        // the client went away
      } finally {
        conn.close();
      }
    };
    (async () => {
      try {
        for await (const conn of listener) serve(conn);
      } catch {
        // closed
      }
    })();
    return {
      close: () => {
        listener.close();
        Deno.remove(path).catch(() => {});
      },
    };
  }
  readonly serveHttp = serveHttp;
  async callControl(path: string, request: unknown): Promise<unknown> {
    let conn: Deno.Conn;
    try {
      conn = await Deno.connect({ transport: "unix", path });
    } catch (e) {
      throw new Error(`cannot reach the daemon at ${path}: ${errnoName(e)[1]}`);
    }
    try {
      await writeAll(conn, enc.encode(JSON.stringify(request) + "\n"));
      return JSON.parse(await readLine(conn, true));
    } finally {
      conn.close();
    }
  }
  readText(path: string): Promise<string> {
    return Deno.readTextFile(path);
  }
  log(line: string): void {
    const bytes = enc.encode(line + "\n");
    for (let at = 0; at < bytes.length; ) at += Deno.stderr.writeSync(bytes.subarray(at));
  }
  env(name: string): string | undefined {
    return Deno.env.get(name);
  }
  onShutdown(fn: () => void): void {
    const once = () => {
      Deno.removeSignalListener("SIGTERM", once);
      Deno.removeSignalListener("SIGINT", once);
      fn();
    };
    Deno.addSignalListener("SIGTERM", once);
    Deno.addSignalListener("SIGINT", once);
  }
  onReload(fn: () => void): () => void {
    Deno.addSignalListener("SIGHUP", fn);
    return () => Deno.removeSignalListener("SIGHUP", fn);
  }
  get pid(): number {
    return Deno.pid;
  }
  fileMode(path: string): Promise<number | undefined> {
    return Deno.stat(path).then((s) => s.mode ?? undefined, () => undefined);
  }
  async createExclusive(path: string, text: string): Promise<boolean> {
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")) || "/", { recursive: true });
    try {
      await Deno.writeTextFile(path, text, { createNew: true });
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) return false;
      throw e;
    }
  }
  readBytes(path: string): Promise<Uint8Array> {
    return Deno.readFile(path);
  }
  writeBytesSync(path: string, bytes: Uint8Array, append: boolean): void {
    if (append) {
      Deno.writeFileSync(path, bytes, { append: true });
      return;
    }
    Deno.writeFileSync(path + ".new", bytes);
    Deno.renameSync(path + ".new", path);
  }
  removeFile(path: string): Promise<void> {
    return Deno.remove(path).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
  networkNamespace(): Promise<string | undefined> {
    return Deno.readLink("/proc/self/ns/net").catch(() => undefined);
  }
  /**
   * SID through koffi (it loads under Deno too): AF_PACKET and TCP_REPAIR work;
   * a restored descriptor is adopted by node:net (a target hands the application a socket);
   * transferring a connection away does not: Deno's node:net sockets expose no descriptor (a Deno.Conn has a resource id, not an fd).
   */
  sid(core: Core): SidHostIO {
    return koffiSidIO(core, {
      detach: () => Promise.reject(new Error("deno: cannot take a connection from the application: Deno's node:net sockets expose no descriptor (a Deno.Conn has a resource id, not an fd); run the transferring node under Node")),
      discard: () => {},
      adopt,
    });
  }
  localAddresses(): string[] {
    return Deno.networkInterfaces().map((i) => i.address);
  }
}
