// What a runtime host provides to the daemon: sockets, timers, time,
// randomness and the kernel. Each host (hosts/node, hosts/deno, hosts/bun)
// implements this interface with its runtime's own APIs and FFI; everything
// else is shared. Like wireguard-go's conn.Bind and tun.Device, it is the
// whole boundary between protocol and platform.

import type { Core } from "./core.ts";
import type { SidHostIO } from "./sidio.ts";

export type Runtime = "node" | "deno" | "bun";

export interface UdpSocket {
  readonly address: string;
  /** The bound port (known once bound; 0 before). */
  port(): number;
  /** Sends a datagram. Errors are reported through onError, never thrown. */
  send(data: Uint8Array, address: string, port: number): void;
  close(): void;
}

export interface UdpHandlers {
  message(data: Uint8Array, address: string, port: number): void;
  /** A bind or send failed (errno name and text); the socket may be closed. */
  error(code: string, message: string): void;
}

/** The kernel: nftables and netlink. Opening it needs CAP_NET_ADMIN. */
export interface KernelIO {
  /**
   * Runs an nft command batch through libnftables: status 0, or nonzero with the error text; what it
   * printed; and what the libraries wrote to fd 2 meanwhile (caught, so that the daemon's stderr stays JSON).
   */
  nft(batch: string): { status: number; error: string; output?: string; stderr?: string };
  /**
   * Sends a netlink request on this host's socket of `protocol` and returns
   * every message the socket then holds (the kernel answers during the send).
   * With waitAck, waits (up to a second) if nothing has arrived yet; with
   * dump, reads on until the dump's end (NLMSG_DONE) or an error arrived.
   */
  netlink(protocol: number, request: Uint8Array, waitAck: boolean, dump?: boolean): Uint8Array;
  /**
   * A dump read in pieces, on a socket of its own, without holding the event
   * loop: each piece (whole netlink messages) goes to onPiece as it is read,
   * the last (with NLMSG_DONE or the error message) to onEnd; a failure in
   * the host ends it with `error` (and no last piece). Where absent, the
   * daemon reads dumps with netlink(..., dump = true).
   */
  dump?(protocol: number, request: Uint8Array, onPiece: (bytes: Uint8Array) => void, onEnd: (last: Uint8Array | null, error?: Error & { errno: number }) => void): void;
  /**
   * Subscribes to netlink multicast groups (e.g. rtnetlink address events) on
   * a socket of its own, and hands every message batch to onMessage as it
   * arrives, without blocking the event loop. readNow, where the host reads
   * the socket on its own thread (Node, Deno; not Bun, whose Worker reads
   * it), hands what the socket holds now to onMessage at once.
   */
  watch(protocol: number, groups: number, onMessage: (bytes: Uint8Array) => void): NetlinkWatch;
  close(): void;
}

/** A netlink watch (KernelIO.watch). */
export interface NetlinkWatch {
  close(): void;
  readNow?(): void;
}

/** A local control endpoint (a Unix socket) for the CLI: one JSON request, one JSON answer. */
export interface ControlServer {
  close(): void;
}

/** An HTTP answer: status, content type and body. */
export type HttpHandler = (path: string) => { status: number; type: string; body: string };

/** A listening HTTP server (the metrics endpoint). */
export interface HttpServer {
  /** The bound port. */
  readonly port: number;
  close(): void;
}

export interface HostIO {
  readonly runtime: Runtime;
  /** Unix time in milliseconds, with sub-millisecond resolution, never going backwards. */
  now(): number;
  random(n: number): Uint8Array;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  /** Binds a UDP socket (port 0: any). Sends issued before the bind completes are queued. */
  udp(address: string, port: number, handlers: UdpHandlers): UdpSocket;
  /** Opens the kernel interfaces (throws with a clear message without privileges or libraries). */
  openKernel(): KernelIO;
  /** Serves JSON requests on a Unix socket path. */
  serveControl(path: string, handle: (request: unknown) => Promise<unknown>): Promise<ControlServer>;
  /** Serves GET requests on a TCP address and port (the metrics endpoint); rejects with the errno (e.g. EADDRINUSE). */
  serveHttp(address: string, port: number, handle: HttpHandler): Promise<HttpServer>;
  /** Sends one JSON request to a Unix socket and returns the answer. */
  callControl(path: string, request: unknown): Promise<unknown>;
  /** Reads a file as text (configuration, keys). */
  readText(path: string): Promise<string>;
  /** Writes one line of log output. */
  log(line: string): void;
  /** Environment variable (for keys given as env:NAME). */
  env(name: string): string | undefined;
  /** Calls fn once on SIGTERM or SIGINT. */
  onShutdown(fn: () => void): void;
  /** Calls fn on every SIGHUP (the daemon reloads its configuration); returns the unsubscribe (a listener may keep the process alive). */
  onReload(fn: () => void): () => void;
  /** This process's id. */
  readonly pid: number;
  /** A file's permission bits, or undefined if it does not exist. */
  fileMode(path: string): Promise<number | undefined>;
  /** Creates a file with `text` unless it exists (creating its directory): false if it existed. */
  createExclusive(path: string, text: string): Promise<boolean>;
  /** Removes a file; a missing file is no error. */
  removeFile(path: string): Promise<void>;
  /** Reads a file's bytes (the moves journal). */
  readBytes(path: string): Promise<Uint8Array>;
  /**
   * Writes bytes before returning (the moves journal, in the order the core
   * gives them): appended to the file (created if missing), or replacing it
   * (written beside it, then renamed over it, so it is never seen half made).
   */
  writeBytesSync(path: string, bytes: Uint8Array, append: boolean): void;
  /** This process's network namespace (the link text of /proc/self/ns/net, e.g. "net:[4026531840]"), if readable. */
  networkNamespace(): Promise<string | undefined>;
  /** The addresses of this host's interfaces (in this network namespace), as text. */
  localAddresses(): string[];
  /** SID's host parts (AF_PACKET, TCP_REPAIR, sockets), where the runtime has them. */
  sid?(core: Core): SidHostIO;
}
