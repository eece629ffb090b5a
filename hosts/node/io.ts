// HostIO for Node.js: node:dgram for UDP, node:net for the control socket,
// koffi for libc netlink sockets and libnftables.

import dgram from "node:dgram";
import dns from "node:dns";
import net from "node:net";
import { randomBytes } from "node:crypto";
import { readFile, writeFile, mkdir, unlink, stat, readlink } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { appendFileSync, writeFileSync, renameSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { performance } from "node:perf_hooks";
import { createRequire } from "node:module";
import type { HostIO, KernelIO, UdpHandlers, UdpSocket, ControlServer } from "../shared/io.ts";
import { serveHttp } from "../shared/http.ts";
import { kernelIO, pollfd, type Libc, type Libnftables } from "../shared/netlink.ts";
import type { Core } from "../shared/core.ts";
import type { SidHostIO } from "../shared/sidio.ts";
import { nodeSidIO } from "./sid.ts";

const ORIGIN = performance.timeOrigin;

/**
 * dgram looks up every address, the bind's and each destination's, with
 * dns.lookup, which answers an IP literal a tick later (process.nextTick):
 * a datagram then leaves after whatever else the daemon does in this turn
 * (the rest of the drain, the timer), not when the engine asked, and a
 * socket opened to send from a new address (the Migration Request from the
 * address the sessions move to) queues its first datagram until that later
 * bind. An IP literal is answered at once here, so that the bind is done when
 * the constructor returns and a datagram is on the wire before send()
 * returns; a name still goes through dns.lookup.
 */
// (dgram passes the family as a number, 4 or 6; Node's types say an options object)
function lookup(address: string, options: dns.LookupOneOptions, callback: (e: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const ip = net.isIP(address);
  if (ip !== 0) return callback(null, address, ip);
  dns.lookup(address, options, callback);
}

class NodeUdp implements UdpSocket {
  readonly address: string;
  private socket: dgram.Socket;
  private bound = 0;
  constructor(address: string, port: number, h: UdpHandlers) {
    this.address = address;
    const v6 = address.includes(":");
    this.socket = dgram.createSocket(v6 ? { type: "udp6", ipv6Only: true, lookup } : { type: "udp4", lookup });
    this.socket.on("message", (msg, rinfo) => h.message(new Uint8Array(msg.buffer, msg.byteOffset, msg.length), rinfo.address, rinfo.port));
    this.socket.on("error", (e: NodeJS.ErrnoException) => h.error(e.code ?? "EIO", e.message));
    this.socket.bind({ address, port, exclusive: true }, () => {
      this.bound = this.socket.address().port;
    });
  }
  port(): number {
    return this.bound;
  }
  send(data: Uint8Array, address: string, port: number): void {
    // bound in the constructor (an IP literal): a send to an IP literal leaves now
    this.socket.send(data, port, address);
  }
  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

const require = createRequire(import.meta.url);

/** libc and libnftables through koffi, loaded on first use. */
function loadKernel(): KernelIO {
  const koffi = require("koffi");
  let libc: any, libnft: any;
  try {
    libc = koffi.load("libc.so.6");
  } catch (e) {
    throw new Error(`cannot load libc.so.6: ${e}`);
  }
  try {
    libnft = koffi.load("libnftables.so.1");
  } catch {
    throw new Error("cannot load libnftables.so.1: install nftables (apt-get install -y nftables)");
  }
  const errnoLocation = libc.func("int *__errno_location()");
  const poll = libc.func("int poll(_Inout_ void *, unsigned long, int)");
  const c: Libc = {
    socket: libc.func("int socket(int, int, int)"),
    bind: libc.func("int bind(int, const void *, uint32_t)"),
    setsockopt: libc.func("int setsockopt(int, int, int, const void *, uint32_t)"),
    sendto: libc.func("intptr_t sendto(int, const void *, size_t, int, const void *, uint32_t)"),
    recv: libc.func("intptr_t recv(int, _Out_ void *, size_t, int)"),
    poll,
    close: libc.func("int close(int)"),
    pipe2: libc.func("int pipe2(_Out_ void *, int)"),
    dup: libc.func("int dup(int)"),
    dup2: libc.func("int dup2(int, int)"),
    read: libc.func("intptr_t read(int, _Out_ void *, size_t)"),
    errno: () => koffi.decode(errnoLocation(), "int") as number,
  };
  const f = {
    new: libnft.func("void *nft_ctx_new(uint32_t)"),
    bufferOutput: libnft.func("int nft_ctx_buffer_output(void *)"),
    bufferError: libnft.func("int nft_ctx_buffer_error(void *)"),
    run: libnft.func("int nft_run_cmd_from_buffer(void *, const char *)"),
    error: libnft.func("const char *nft_ctx_get_error_buffer(void *)"),
    output: libnft.func("const char *nft_ctx_get_output_buffer(void *)"),
    free: libnft.func("void nft_ctx_free(void *)"),
  };
  const ctx = f.new(0);
  if (!ctx) throw new Error("nft_ctx_new failed");
  f.bufferOutput(ctx);
  f.bufferError(ctx);
  const nft: Libnftables = {
    run: (batch) => f.run(ctx, batch),
    error: () => String(f.error(ctx) ?? ""),
    output: () => String(f.output(ctx) ?? ""),
    free: () => f.free(ctx),
  };
  // poll() runs on libuv's thread pool (koffi's async call), so the event loop
  // never blocks; the pollfd stays referenced by this closure until it returns.
  return kernelIO(c, nft, (fd, sockets, onMessage) => {
    const fds = pollfd(fd);
    let open = true;
    const arm = () => {
      if (!open) return;
      poll.async(fds, 1, 250, (err: unknown, ready: number) => {
        if (!open) return;
        if (!err && ready > 0) sockets.drain(fd, onMessage);
        arm();
      });
    };
    arm();
    return {
      close() {
        if (!open) return;
        open = false;
        // the pending poll returns within 250 ms; then the descriptor goes
        setTimeout(() => c.close(fd), 300);
      },
      // every read is on this thread (the pool thread only polls): reading now keeps the order
      readNow() {
        if (open) sockets.drain(fd, onMessage);
      },
    };
  });
}

export class NodeIO implements HostIO {
  readonly runtime = "node" as const;

  now(): number {
    return ORIGIN + performance.now();
  }
  random(n: number): Uint8Array {
    return new Uint8Array(randomBytes(n));
  }
  setTimer(fn: () => void, ms: number): unknown {
    return setTimeout(fn, ms);
  }
  clearTimer(handle: unknown): void {
    clearTimeout(handle as NodeJS.Timeout);
  }
  udp(address: string, port: number, handlers: UdpHandlers): UdpSocket {
    return new NodeUdp(address, port, handlers);
  }
  openKernel(): KernelIO {
    return loadKernel();
  }
  async serveControl(path: string, handle: (request: unknown) => Promise<unknown>): Promise<ControlServer> {
    await mkdir(dirname(path), { recursive: true });
    await unlink(path).catch(() => {});
    const server = net.createServer((conn) => {
      let buf = "";
      conn.on("data", async (chunk) => {
        buf += chunk.toString();
        const nl = buf.indexOf("\n");
        if (nl < 0) return;
        let answer: unknown;
        try {
          answer = await handle(JSON.parse(buf.slice(0, nl)));
        } catch (e) {
          answer = { ok: false, error: String(e) };
        }
        conn.end(JSON.stringify(answer) + "\n");
      });
      conn.on("error", () => {});
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => resolve());
    });
    return {
      close: () => {
        server.close();
        unlink(path).catch(() => {});
      },
    };
  }
  readonly serveHttp = serveHttp;
  callControl(path: string, request: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const conn = net.createConnection(path);
      let buf = "";
      conn.on("connect", () => conn.write(JSON.stringify(request) + "\n"));
      conn.on("data", (c) => (buf += c.toString()));
      conn.on("end", () => {
        try {
          resolve(JSON.parse(buf));
        } catch (e) {
          reject(e);
        }
      });
      conn.on("error", (e) => reject(new Error(`cannot reach the daemon at ${path}: ${e.message}`)));
    });
  }
  readText(path: string): Promise<string> {
    return readFile(path, "utf8");
  }
  log(line: string): void {
    process.stderr.write(line + "\n");
  }
  env(name: string): string | undefined {
    return process.env[name];
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
    await mkdir(dirname(path), { recursive: true });
    try {
      await writeFile(path, text, { flag: "wx" });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
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
    return unlink(path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
  }
  networkNamespace(): Promise<string | undefined> {
    return readlink("/proc/self/ns/net").catch(() => undefined);
  }
  sid(core: Core): SidHostIO {
    return nodeSidIO(core);
  }
  localAddresses(): string[] {
    return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  }
}
