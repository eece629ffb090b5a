// HostIO for Node.js: node:dgram for UDP, node:net for the control socket,
// koffi for libc netlink sockets and libnftables.

import dgram from "node:dgram";
import net from "node:net";
import { randomBytes } from "node:crypto";
import { readFile, mkdir, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { performance } from "node:perf_hooks";
import { createRequire } from "node:module";
import type { HostIO, KernelIO, UdpHandlers, UdpSocket, ControlServer } from "../shared/io.ts";

const ORIGIN = performance.timeOrigin;

class NodeUdp implements UdpSocket {
  readonly address: string;
  private socket: dgram.Socket;
  private bound = 0;
  constructor(address: string, port: number, h: UdpHandlers) {
    this.address = address;
    const v6 = address.includes(":");
    this.socket = dgram.createSocket(v6 ? { type: "udp6", ipv6Only: true } : { type: "udp4" });
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
    // dgram queues sends issued while the bind is in progress.
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
  const c = {
    socket: libc.func("int socket(int, int, int)"),
    bind: libc.func("int bind(int, const void *, uint32_t)"),
    sendto: libc.func("intptr_t sendto(int, const void *, size_t, int, const void *, uint32_t)"),
    recv: libc.func("intptr_t recv(int, _Out_ void *, size_t, int)"),
    poll: libc.func("int poll(_Inout_ void *, unsigned long, int)"),
    setsockopt: libc.func("int setsockopt(int, int, int, const void *, uint32_t)"),
    close: libc.func("int close(int)"),
    errno: libc.func("int *__errno_location()"),
  };
  const errno = () => koffi.decode(c.errno(), "int") as number;
  const nft = {
    new: libnft.func("void *nft_ctx_new(uint32_t)"),
    bufferOutput: libnft.func("int nft_ctx_buffer_output(void *)"),
    bufferError: libnft.func("int nft_ctx_buffer_error(void *)"),
    run: libnft.func("int nft_run_cmd_from_buffer(void *, const char *)"),
    error: libnft.func("const char *nft_ctx_get_error_buffer(void *)"),
    output: libnft.func("const char *nft_ctx_get_output_buffer(void *)"),
    free: libnft.func("void nft_ctx_free(void *)"),
  };
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
  const kernelAddr = Buffer.alloc(12);
  kernelAddr.writeUInt16LE(AF_NETLINK, 0);
  const sockets = new Map<number, number>();
  const watchers = new Set<number>();
  const rbuf = Buffer.alloc(65536);
  const pfd = Buffer.alloc(8);

  function netlinkSocket(protocol: number): number {
    let fd = sockets.get(protocol);
    if (fd !== undefined) return fd;
    fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol) as number;
    if (fd < 0) {
      const e = errno();
      throw new Error(`netlink socket (protocol ${protocol}) failed, errno ${e}${e === 1 || e === 13 ? ": run as root (CAP_NET_ADMIN)" : ""}`);
    }
    const local = Buffer.alloc(12);
    local.writeUInt16LE(AF_NETLINK, 0);
    if (c.bind(fd, local, 12) < 0) throw new Error(`netlink bind failed, errno ${errno()}`);
    if (protocol === NETLINK_NETFILTER) {
      // The hold's queue notifications wait here until a release reads them.
      const v = Buffer.alloc(4);
      v.writeInt32LE(8 << 20);
      c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, v, 4);
      v.writeInt32LE(1);
      c.setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, v, 4);
    }
    sockets.set(protocol, fd);
    return fd;
  }

  return {
    nft(batch: string) {
      const status = nft.run(ctx, batch) as number;
      return { status, error: status === 0 ? "" : String(nft.error(ctx) ?? ""), output: String(nft.output(ctx) ?? "") };
    },
    netlink(protocol: number, request: Uint8Array, waitAck: boolean): Uint8Array {
      const fd = netlinkSocket(protocol);
      if (Number(c.sendto(fd, request, request.length, 0, kernelAddr, 12)) < 0) {
        throw new Error(`netlink send failed, errno ${errno()}`);
      }
      // The kernel answers within sendto: drain what the socket holds.
      const parts: Buffer[] = [];
      for (let waited = 0; ; ) {
        const n = Number(c.recv(fd, rbuf, rbuf.length, MSG_DONTWAIT));
        if (n >= 0) {
          parts.push(Buffer.from(rbuf.subarray(0, n)));
          continue;
        }
        if (errno() !== EAGAIN) throw new Error(`netlink recv failed, errno ${errno()}`);
        if (parts.length > 0 || !waitAck) break;
        if (waited >= 1000) throw new Error("netlink: the kernel did not answer within 1 s");
        pfd.writeInt32LE(fd, 0);
        pfd.writeInt16LE(1, 4); // POLLIN
        pfd.writeInt16LE(0, 6);
        c.poll(pfd, 1, 20);
        waited += 20;
      }
      return new Uint8Array(Buffer.concat(parts));
    },
    watch(protocol: number, groups: number, onMessage: (bytes: Uint8Array) => void) {
      const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol) as number;
      if (fd < 0) throw new Error(`netlink socket (protocol ${protocol}) failed, errno ${errno()}`);
      const local = Buffer.alloc(12);
      local.writeUInt16LE(AF_NETLINK, 0);
      local.writeUInt32LE(groups >>> 0, 8);
      if (c.bind(fd, local, 12) < 0) throw new Error(`netlink bind (groups ${groups}) failed, errno ${errno()}`);
      const buf = Buffer.alloc(65536);
      // poll() runs on libuv's thread pool (koffi's async call), so the event
      // loop never blocks; the buffers stay referenced by this closure.
      const fds = Buffer.alloc(8);
      let open = true;
      const arm = () => {
        if (!open) return;
        fds.writeInt32LE(fd, 0);
        fds.writeInt16LE(1, 4);
        fds.writeInt16LE(0, 6);
        c.poll.async(fds, 1, 250, (err: unknown, ready: number) => {
          if (!open) return;
          if (!err && ready > 0) {
            for (;;) {
              const n = Number(c.recv(fd, buf, buf.length, MSG_DONTWAIT));
              if (n <= 0) break;
              onMessage(new Uint8Array(buf.subarray(0, n)));
            }
          }
          arm();
        });
      };
      arm();
      watchers.add(fd);
      return {
        close() {
          if (!open) return;
          open = false;
          watchers.delete(fd);
          // the pending poll returns within 250 ms; then the descriptor goes
          setTimeout(() => c.close(fd), 300);
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
}
