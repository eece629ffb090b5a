// The handover daemon, runtime-neutral: it owns one engine, feeds it what the
// host's sockets, timers and kernel deliver, and carries out what the engine
// asks. The host (HostIO) supplies the I/O; nothing here knows Node, Deno or
// Bun, and nothing here knows the protocol: that is all in the core.

import { Core, HandoverError } from "./core.ts";
import { Engine, type EngineEvent, type MigrateRequest } from "./engine.ts";
import type { HostIO, KernelIO, UdpSocket, ControlServer } from "./io.ts";
import { type Config, validateConfig, resolveKey, portOf } from "./config.ts";
import { KernelCallError, EIO } from "./netlink.ts";

export type Listener = (event: EngineEvent) => void;

const NETLINK_ROUTE = 0;
const RTMGRP_IPV4_IFADDR = 0x10;
const RTMGRP_IPV6_IFADDR = 0x100;
const RTMGRP_IPV4_ROUTE = 0x40;
const RTMGRP_IPV6_ROUTE = 0x400;

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

/** The outcome of a migration: its final event. */
export interface MigrationResult extends EngineEvent {
  id: number;
  state: "completed" | "failed";
}

export class Daemon {
  readonly io: HostIO;
  readonly engine: Engine;
  readonly config: Config;
  readonly cookie: string;
  private peerIds = new Map<string, number>();
  private listen: UdpSocket[] = [];
  private sources = new Map<string, UdpSocket>();
  private reportedPorts = new Set<number>();
  private kernel: KernelIO | null = null;
  private addressWatch: { close(): void } | null = null;
  private control: ControlServer | null = null;
  private timer: unknown = null;
  private timerAt = Infinity;
  private listeners = new Map<string, Set<Listener>>();
  /** Callers waiting for a migration's end, by id (asking again for a running migration gives its id). */
  private waiting = new Map<number, ((e: MigrationResult) => void)[]>();
  private level: number;
  private closed = false;

  private constructor(io: HostIO, core: Core, config: Config) {
    this.io = io;
    this.config = config;
    this.engine = new Engine(core);
    this.cookie = config.cookie ?? core.cookieFromName(config.name);
    this.level = LEVELS[config.log ?? "info"];
  }

  /** Creates and starts a daemon: configures the engine, binds its sockets. */
  static async start(io: HostIO, core: Core, config: unknown): Promise<Daemon> {
    const d = new Daemon(io, core, validateConfig(config));
    await d.setup();
    return d;
  }

  private async setup(): Promise<void> {
    const { io, engine, config } = this;
    engine.seed(io.random(32));
    engine.init(this.cookie, io.now());
    for (const [name, value] of Object.entries(config.options ?? {})) engine.option(name as never, value as number);
    const port = portOf(config);
    engine.option("controlPort", port);
    // The addresses we listen on are ours: no peer may claim or move to them.
    for (const address of config.listen ?? []) if (address !== "0.0.0.0" && address !== "::") engine.addAddress(address);
    for (const [i, p] of config.peers.entries()) {
      const cookie = p.cookie ?? engine.core.cookieFromName(p.name!);
      const id = engine.addPeer(cookie, p.address, p.port ?? port);
      for (const a of p.addresses ?? []) engine.addPeerAddress(id, a);
      for (const [j, s] of p.sa.entries()) {
        const key = await resolveKey(s.key, `peers[${i}].sa[${j}].key`, (f) => io.readText(f), (n) => io.env(n));
        engine.addSa(id, { spi: s.spi, algorithm: s.algorithm, key, replayMode: s.replay, skewMs: s.skewMs });
      }
      this.peerIds.set(p.name ?? cookie, id);
      this.peerIds.set(cookie, id);
    }
    // Open the kernel now: a missing privilege or library shows at start, not mid-migration.
    if (config.kernel !== false) {
      const kernel = this.kernelIO();
      engine.kernelSetup(io.now(), config.queue ?? 0);
      if (config.auto !== false) {
        // Address changes drive break-before-make migrations; default-route changes keep the old
        // address's path (and, with followDefaultRoute, migrate): stem/watch.ts in the core.
        const groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
        this.addressWatch = kernel.watch(NETLINK_ROUTE, groups, (bytes) => {
          if (this.closed) return;
          this.reportOwnPorts();
          this.engine.netlinkEvent(this.io.now(), bytes);
          this.drain();
        });
      } else {
        engine.option("auto", 0);
      }
    }
    for (const address of config.listen ?? ["0.0.0.0"]) {
      this.listen.push(this.openSocket(address, port));
    }
    if (config.control !== false) {
      const path = config.control ?? `/run/handover/${config.name}.sock`;
      this.control = await io.serveControl(path, (r) => this.onControl(r));
    }
    this.log("info", { event: "started", cookie: this.cookie, port, runtime: io.runtime });
    // A (re)started node opens a new sequence epoch at each peer (PROTOCOL.md 6.3).
    if (config.register !== false) engine.registerAll(io.now());
    this.drain();
  }

  private openSocket(address: string, port: number): UdpSocket {
    return this.io.udp(address, port, {
      message: (data, from, fromPort) => {
        if (this.closed) return;
        try {
          this.engine.datagram(this.io.now(), from, fromPort, data);
        } catch (e) {
          this.log("warn", { event: "bad-datagram", from, error: String(e) });
          return;
        }
        this.drain();
      },
      error: (code, message) => {
        this.log("warn", { event: "socket-error", address, code, message });
        if (port === 0) this.sources.delete(address);
      },
    });
  }

  // ---- the application's API ----

  /** The id of a configured peer, by name or cookie. */
  peer(nameOrCookie: string): number {
    const id = this.peerIds.get(nameOrCookie);
    if (id === undefined) throw new HandoverError(33, `peer '${nameOrCookie}'`);
    return id;
  }

  /** Migrates sessions with a peer; resolves with the final "migration" event. */
  migrate(request: Omit<MigrateRequest, "peer"> & { peer: string | number }): Promise<MigrationResult> {
    const peer = typeof request.peer === "number" ? request.peer : this.peer(request.peer);
    const id = this.engine.migrate(this.io.now(), { ...request, peer });
    const done = new Promise<MigrationResult>((resolve) => {
      const list = this.waiting.get(id);
      if (list) list.push(resolve);
      else this.waiting.set(id, [resolve]);
    });
    this.drain();
    return done;
  }

  /** Registers with a peer (optional, before moving). */
  register(peer: string | number, lifetime = 3600): void {
    this.engine.register(this.io.now(), typeof peer === "number" ? peer : this.peer(peer), lifetime);
    this.drain();
  }

  /** Attaches opaque data (e.g. location, signal quality) to the next request. */
  opaque(subtype: number, data: Uint8Array, flags = 0): void {
    this.engine.opaque(subtype, flags, data);
  }

  state(): Record<string, unknown> {
    return this.engine.state(this.io.now());
  }

  /** The host's TCP and UDP sockets, and which move carries each (sock_diag). */
  sessions(): Promise<unknown[]> {
    const done = new Promise<unknown[]>((resolve) => {
      const off = this.on("sessions", (e) => {
        off();
        resolve(e.sessions as unknown[]);
      });
    });
    this.reportOwnPorts();
    this.engine.sessions(this.io.now());
    this.drain();
    return done;
  }

  /** Subscribes to events by name ("migration", "peer-migration", "opaque", ...) or "*". */
  on(name: string, fn: Listener): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(fn);
    return () => set!.delete(fn);
  }

  /**
   * Stops. While sessions still depend on rewrite rules, they stay in the
   * kernel (a restarted daemon takes them over); otherwise everything the
   * daemon put there goes. `keepKernelState` forces either choice.
   */
  async close(options: { keepKernelState?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    const moves = (this.state().moves as unknown[]).length;
    const keep = options.keepKernelState ?? moves > 0;
    if (this.kernel) {
      if (keep) this.log("info", { event: "kernel-state-kept", moves });
      else {
        this.engine.teardown(this.io.now());
        this.drain();
      }
    }
    this.closed = true;
    this.addressWatch?.close();
    if (this.timer !== null) this.io.clearTimer(this.timer);
    for (const s of this.listen) s.close();
    for (const s of this.sources.values()) s.close();
    this.control?.close();
    this.kernel?.close();
    this.log("info", { event: "stopped" });
  }

  // ---- the loop: drain outputs, arm the timer ----

  private drain(): void {
    if (this.closed) return;
    const engine = this.engine;
    for (let o = engine.poll(); o; o = engine.poll()) {
      switch (o.kind) {
        case "transmit":
          this.socketFor(o.source, o.family).send(o.data, o.address, o.port);
          break;
        case "nft": {
          const r = this.kernelCall(o.id, "nft", () => this.kernelIO().nft(o.text));
          if (!r) break;
          // Listing the table fails when it does not exist yet: the core expects that.
          if (r.status !== 0 && !o.text.startsWith("list ")) {
            this.log("error", { event: "nft-failed", status: r.status, error: r.error.trim(), batch: o.text });
          }
          if (r.output) engine.actionOutput(this.io.now(), o.id, r.output);
          engine.actionResult(this.io.now(), o.id, r.status);
          break;
        }
        case "netlink": {
          const reply = this.kernelCall(o.id, `netlink protocol ${o.protocol}`, () => this.kernelIO().netlink(o.protocol, o.data, o.waitAck));
          if (reply) engine.netlinkReply(this.io.now(), o.id, reply);
          break;
        }
        case "event":
          this.dispatch(o.event);
          break;
      }
    }
    this.arm();
  }

  /**
   * Makes the host's call for one kernel action. Every action gets a result:
   * if the call throws (a libc call failed, the kernel did not answer in
   * time), the core hears the errno as the action's result, so that the
   * procedure waiting for it ends, and this returns null.
   */
  private kernelCall<T>(id: number, what: string, call: () => T): T | null {
    try {
      return call();
    } catch (e) {
      const errno = e instanceof KernelCallError ? e.errno : EIO;
      this.log("error", {
        event: "kernel-call-failed", action: id, what, errno, error: e instanceof Error ? e.message : String(e),
        hint: "reported to the core as a failed action; check that nftables is installed and the daemon has CAP_NET_ADMIN",
      });
      this.engine.actionResult(this.io.now(), id, errno);
      return null;
    }
  }

  private arm(): void {
    const at = this.engine.nextTimeout();
    if (at === this.timerAt) return;
    if (this.timer !== null) this.io.clearTimer(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (at === Infinity) return;
    this.timer = this.io.setTimer(() => {
      this.timer = null;
      this.timerAt = Infinity;
      if (this.closed) return;
      this.engine.timeout(this.io.now());
      this.drain();
    }, Math.max(0, at - this.io.now()));
  }

  private kernelIO(): KernelIO {
    if (!this.kernel) this.kernel = this.io.openKernel();
    return this.kernel;
  }

  /** The socket to send from: bound to a source address if the engine names one. */
  private socketFor(source: string | undefined, family: number): UdpSocket {
    if (!source) {
      const want = family === 2 ? ":" : ".";
      return this.listen.find((s) => s.address.includes(want)) ?? this.listen[0];
    }
    let s = this.sources.get(source);
    if (!s) {
      s = this.openSocket(source, 0);
      this.sources.set(source, s);
    }
    return s;
  }

  /**
   * An address left the host: its source socket can send no more. It goes, so
   * that a daemon whose addresses keep changing does not collect sockets (one
   * is opened again if the address comes back and the engine sends from it).
   */
  private closeSource(address: string): void {
    const s = this.sources.get(address);
    if (!s) return;
    this.sources.delete(address);
    s.close();
  }

  /** The core must not take the daemon's own source sockets for sessions: tell it their ports. */
  private reportOwnPorts(): void {
    for (const s of this.sources.values()) {
      const p = s.port();
      if (p && !this.reportedPorts.has(p)) {
        this.reportedPorts.add(p);
        this.engine.ownPort(p);
      }
    }
  }

  private dispatch(e: EngineEvent): void {
    this.log(e.event === "dropped" ? "debug" : "info", e);
    if (e.event === "address-removed") this.closeSource(e.address as string);
    if (e.event === "migration" && (e.state === "completed" || e.state === "failed")) {
      const list = this.waiting.get(e.id as number);
      if (list) {
        this.waiting.delete(e.id as number);
        for (const resolve of list) resolve(e as MigrationResult);
      }
    }
    for (const name of [e.event, "*"]) {
      for (const fn of this.listeners.get(name) ?? []) {
        try {
          fn(e);
        } catch (err) {
          this.log("error", { event: "listener-failed", error: String(err) });
        }
      }
    }
  }

  log(level: Level, fields: Record<string, unknown>): void {
    if (LEVELS[level] < this.level) return;
    this.io.log(JSON.stringify({ time: new Date().toISOString(), level, node: this.config.name, ...fields }));
  }

  // ---- the CLI's requests ----

  private async onControl(request: unknown): Promise<unknown> {
    const r = request as Record<string, any>;
    try {
      switch (r?.cmd) {
        case "state":
          return { ok: true, state: this.state() };
        case "sessions":
          return { ok: true, sessions: await this.sessions() };
        case "migrate":
          return { ok: true, result: await this.migrate(r.request) };
        case "register":
          this.register(r.peer, r.lifetime);
          return { ok: true };
        default:
          return { ok: false, error: `unknown command '${r?.cmd}': use state, sessions, migrate or register` };
      }
    } catch (e) {
      return { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
  }
}
