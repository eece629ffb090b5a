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

const ORIGIN = performance.timeOrigin;
const enc = new TextEncoder();
const dec = new TextDecoder();

function errnoName(e: unknown): [string, string] {
  const err = e as { code?: string; name?: string; message?: string };
  return [err?.code ?? err?.name ?? "EIO", err?.message ?? String(e)];
}

class DenoUdp implements UdpSocket {
  private conn: Deno.DatagramConn | null = null;
  private bindError: [string, string] | null = null;
  private closed = false;
  constructor(readonly address: string, port: number, private h: UdpHandlers) {
    try {
      // Deno binds synchronously: no send can come before the bind.
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
  const c = libc;
  const nft = libnft;
  const errnoPtr = new Deno.UnsafePointerView(c.errno());
  const errno = () => errnoPtr.getInt32(); // errno of this (the main) thread
  const ctx = nft.new(0);
  if (!ctx) throw new Error("nft_ctx_new failed");
  nft.bufferOutput(ctx);
  nft.bufferError(ctx);

  const AF_NETLINK = 16;
  const SOCK_RAW = 3;
  const SOCK_CLOEXEC = 0x80000;
  const MSG_DONTWAIT = 0x40;
  const NETLINK_NETFILTER = 12;
  const SOL_SOCKET = 1;
  const SO_RCVBUFFORCE = 33;
  const SOL_NETLINK = 270;
  const NETLINK_NO_ENOBUFS = 5;
  const EAGAIN = 11;
  const sockaddr = (groups: number) => {
    const a = new Uint8Array(12);
    const v = new DataView(a.buffer);
    v.setUint16(0, AF_NETLINK, true);
    v.setUint32(8, groups >>> 0, true);
    return a;
  };
  const kernelAddr = sockaddr(0);
  const sockets = new Map<number, number>();
  const rbuf = new Uint8Array(65536);
  const pfd = new Uint8Array(8);
  const int32 = (n: number) => new Uint8Array(Int32Array.of(n).buffer);
  const pollfd = (b: Uint8Array, fd: number) => {
    const v = new DataView(b.buffer);
    v.setInt32(0, fd, true);
    v.setInt16(4, 1, true); // POLLIN
    v.setInt16(6, 0, true);
  };

  function openSocket(protocol: number, groups: number): number {
    const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol) as number;
    if (fd < 0) {
      const e = errno();
      throw new Error(`netlink socket (protocol ${protocol}) failed, errno ${e}${e === 1 || e === 13 ? ": run as root (CAP_NET_ADMIN)" : ""}`);
    }
    if (c.bind(fd, sockaddr(groups), 12) < 0) throw new Error(`netlink bind (groups ${groups}) failed, errno ${errno()}`);
    return fd;
  }

  function netlinkSocket(protocol: number): number {
    let fd = sockets.get(protocol);
    if (fd !== undefined) return fd;
    fd = openSocket(protocol, 0);
    if (protocol === NETLINK_NETFILTER) {
      // The hold's queue notifications wait here until a release reads them.
      c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, int32(8 << 20), 4);
      c.setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, int32(1), 4);
    }
    sockets.set(protocol, fd);
    return fd;
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

  return {
    nft(batch: string) {
      const status = nft.run(ctx, enc.encode(batch + "\0")) as number;
      const text = (p: Deno.PointerValue) => (p ? new Deno.UnsafePointerView(p).getCString() : "");
      return { status, error: status === 0 ? "" : text(nft.error(ctx)), output: text(nft.output(ctx)) };
    },
    netlink(protocol: number, request: Uint8Array, waitAck: boolean): Uint8Array {
      const fd = netlinkSocket(protocol);
      if (Number(c.sendto(fd, request, request.length, 0, kernelAddr, 12)) < 0) {
        throw new Error(`netlink send failed, errno ${errno()}`);
      }
      // The kernel answers within sendto: drain what the socket holds.
      const parts: Uint8Array[] = [];
      for (let waited = 0; ; ) {
        const n = Number(c.recv(fd, rbuf, rbuf.length, MSG_DONTWAIT));
        if (n >= 0) {
          parts.push(rbuf.slice(0, n));
          continue;
        }
        const e = errno();
        if (e !== EAGAIN) throw new Error(`netlink recv failed, errno ${e}`);
        if (parts.length > 0 || !waitAck) break;
        if (waited >= 1000) throw new Error("netlink: the kernel did not answer within 1 s");
        pollfd(pfd, fd);
        c.poll(pfd, 1, 20);
        waited += 20;
      }
      return concat(parts);
    },
    watch(protocol: number, groups: number, onMessage: (bytes: Uint8Array) => void) {
      const fd = openSocket(protocol, groups);
      const buf = new Uint8Array(65536);
      const fds = new Uint8Array(8); // referenced here until the last poll returns
      pollfd(fds, fd);
      let open = true;
      (async () => {
        while (open) {
          const ready = (await c.pollAsync(fds, 1, 250)) as number;
          if (!open) break;
          if (ready <= 0) continue;
          for (;;) {
            const n = Number(c.recv(fd, buf, buf.length, MSG_DONTWAIT));
            if (n <= 0) break;
            onMessage(buf.slice(0, n));
          }
        }
        c.close(fd); // the pending poll has returned: the descriptor can go
      })();
      return {
        close() {
          open = false;
        },
      };
    },
    close() {
      for (const fd of sockets.values()) c.close(fd);
      sockets.clear();
      nft.free(ctx);
    },
  };
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
}
