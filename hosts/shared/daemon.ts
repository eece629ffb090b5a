// The handover daemon, runtime-neutral: it owns one engine, feeds it what the
// host's sockets, timers and kernel deliver, and carries out what the engine
// asks. The host (HostIO) supplies the I/O; nothing here knows Node, Deno or
// Bun, and nothing here knows the protocol: that is all in the core.

import { Core, HandoverError } from "./core.ts";
import { Engine, type EngineEvent, type MigrateRequest } from "./engine.ts";
import type { HostIO, KernelIO, NetlinkWatch, UdpSocket, ControlServer } from "./io.ts";
import { type Config, type ConfigWarning, ConfigError, checkConfig, resolveKey, hexKey, portOf, controlPath } from "./config.ts";
import { KernelCallError } from "./netlink.ts";
import { takeLock, pidFilePath, netnsPidFilePath, AlreadyRunning } from "./lock.ts";
import { Observations, renderMetrics } from "./metrics.ts";
import { buildStatus, socketStateName, type Status } from "./status.ts";
import { parseEndpoint } from "./config.ts";
import type { HttpServer } from "./io.ts";
import { SidService } from "./sidservice.ts";
import { ErrorCode, OPTION_SPECS } from "./registry.ts";
import { readFileSync } from "node:fs";
import { NETLINK_ROUTE, EIO } from "./linux.ts";

/** The events a node emits (docs/ABI.md lists their fields); `on("*")` receives them all. */
export type EventName =
  | "migration"
  | "peer-migration"
  | "registration"
  | "peer-registered"
  | "migration-refused"
  | "opaque"
  | "address-added"
  | "address-removed"
  | "auto-migration-failed"
  | "sessions-held"
  | "restored"
  | "upgrading"
  | "saved"
  | "session-ended"
  | "sessions"
  | "kernel-error"
  | "sid"
  | "session-address"
  | "dropped";

export type Listener = (event: EngineEvent) => void;

const RTMGRP_IPV4_IFADDR = 0x10;
const RTMGRP_IPV6_IFADDR = 0x100;
const RTMGRP_IPV4_ROUTE = 0x40;
const RTMGRP_IPV6_ROUTE = 0x400;

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

/** How long start waits for the control port's sockets to bind. */
const BIND_WAIT_MS = 3000;

/** The outcome of a migration: its final event. */
export interface MigrationResult extends EngineEvent {
  id: number;
  state: "completed" | "failed";
}

/** The daemon could not start (port in use, no privilege, unusable control path): one line saying why. */
export class StartError extends Error {
  constructor(node: string, problem: string) {
    super(`cannot start node ${node}: ${problem}`);
    this.name = "StartError";
  }
}

const why = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The longest the daemon holds kernel actions for DHCP datagrams queued before them (drain). */
const DHCP_HOLD_MS = 500;

export class Daemon {
  readonly io: HostIO;
  readonly engine: Engine;
  readonly config: Config;
  readonly cookie: string;
  /** Allowed but unwise settings found in the configuration (also logged at start). */
  readonly warnings: ConfigWarning[];
  private peerIds = new Map<string, number>();
  private listen: UdpSocket[] = [];
  private sources = new Map<string, UdpSocket>();
  private reportedPorts = new Set<number>();
  private kernel: KernelIO | null = null;
  private addressWatch: NetlinkWatch | null = null;
  /** True while drain() runs (a watch message read in it waits for the loop, which goes on with its outputs). */
  private draining = false;
  private control: ControlServer | null = null;
  private metricsServer: HttpServer | null = null;
  /** What the node's events told: per peer the last exchange and our registration; migrations, holds, times. */
  readonly observed = new Observations();
  private peerNames = new Map<string, string>();
  private releaseLock: (() => Promise<void>) | null = null;
  private timer: unknown = null;
  private timerAt = Infinity;
  private listeners = new Map<string, Set<Listener>>();
  /** Callers waiting for a migration's end, by id (asking again for a running migration gives its id). */
  private waiting = new Map<number, ((e: MigrationResult) => void)[]>();
  private level: number;
  private closed = false;
  /** While starting: the first nft batch that failed (a start that cannot set up the kernel is no start). */
  private startFailure: string | null = null;
  private starting = true;
  private sidService: SidService | null = null;
  /**
   * HANDOVER_TRACE=1 in the environment: one log line (`"trace"`, this host's
   * clock `t`) per control datagram in and out, per kernel action with its
   * duration and per event, for the timeline of a transfer (docs/benchmarks.md, SID).
   */
  readonly trace: ((fields: Record<string, unknown>) => void) | null;

  private constructor(io: HostIO, core: Core, config: Config, warnings: ConfigWarning[]) {
    this.io = io;
    this.config = config;
    this.warnings = warnings;
    this.engine = new Engine(core);
    this.cookie = config.cookie ?? core.cookieFromName(config.name);
    this.level = LEVELS[config.log ?? "info"];
    this.trace = io.env("HANDOVER_TRACE") ? (f) => io.log(JSON.stringify({ trace: f.step, t: io.now(), node: config.name, ...f })) : null;
  }

  /**
   * Creates and starts a daemon: configures the engine, binds its sockets,
   * serves its control socket, sets up the kernel. Throws ConfigError for a
   * bad configuration and StartError when the node cannot run (nothing is
   * left running then).
   */
  static async start(io: HostIO, core: Core, config: unknown): Promise<Daemon> {
    const { config: cfg, warnings } = checkConfig(config);
    const d = new Daemon(io, core, cfg, warnings);
    try {
      await d.setup();
    } catch (e) {
      await d.abandon();
      throw e;
    }
    d.starting = false;
    return d;
  }

  /**
   * Removes what a node left in the kernel (its table, its addresses on lo,
   * its last-resort route) and its socket and pid files, for a node whose
   * daemon is not running (`handover down`). Refuses while one runs.
   */
  static async down(io: HostIO, core: Core, config: unknown): Promise<void> {
    const { config: cfg, warnings } = checkConfig(config);
    const d = new Daemon(io, core, { ...cfg, register: false, listen: [] }, warnings);
    try {
      await d.takeLock();
      d.configureEngine();
      await d.addPeers();
      // The same setup as a start (so that the core learns what the last run
      // left: its moves from the table, its addresses), then the teardown.
      d.setupKernel();
      d.drain();
      if (d.startFailure) throw new StartError(cfg.name, d.startFailure);
    } catch (e) {
      await d.abandon();
      throw e;
    }
    d.starting = false;
    await d.close({ keepKernelState: false });
    await io.removeFile(d.savedPath()); // the moves a clean stop saved are gone from the kernel now
    await io.removeFile(d.journalPath()); // and the journal of them
    const control = controlPath(cfg);
    if (control) await io.removeFile(control);
  }

  private async takeLock(): Promise<void> {
    const { config } = this;
    if (config.kernel === false && config.control === false) return; // nothing shared with another daemon
    const take = async (path: string, what?: string) => {
      try {
        return await takeLock(this.io, path, what);
      } catch (e) {
        if (e instanceof AlreadyRunning) throw e;
        const code = (e as { code?: string })?.code ?? (e as Error)?.name;
        throw new StartError(config.name, `cannot create the pid file ${path} (${code ?? why(e)}); choose another "control" path (the pid file goes beside it), or run with the rights to create it`);
      }
    };
    const node = await take(pidFilePath(config.name, controlPath(config)));
    this.releaseLock = node;
    // The kernel state is one per network namespace: so is the daemon that owns it.
    const netns = config.kernel === false ? null : await netnsPidFilePath(this.io);
    if (netns) {
      const kernel = await take(netns, "owns this network namespace's kernel state (table inet handover); one node per network namespace").catch(async (e) => {
        await node();
        throw e;
      });
      this.releaseLock = async () => {
        await kernel();
        await node();
      };
    }
  }

  /** Seeds the engine and gives it the options and peers (keys resolved). */
  private configureEngine(): Promise<void> | void {
    const { io, engine, config } = this;
    engine.seed(io.random(32));
    engine.init(this.cookie, io.now());
    for (const [name, value] of Object.entries(config.options ?? {})) {
      try {
        engine.option(name as never, value as number);
      } catch (e) {
        throw new ConfigError(`options.${name}`, `the core refused ${value} (${why(e)}); see docs/ABI.md, "Options", for the range`);
      }
    }
    engine.option("controlPort", portOf(config));
  }

  private async addPeers(): Promise<void> {
    const { io, engine, config } = this;
    const port = portOf(config);
    // The addresses we listen on are ours: no peer may claim or move to them.
    for (const address of config.listen ?? []) if (address !== "0.0.0.0" && address !== "::") engine.addAddress(address);
    for (const [i, p] of config.peers.entries()) {
      const cookie = p.cookie ?? engine.core.cookieFromName(p.name!);
      const id = engine.addPeer(cookie, p.address, p.port ?? port);
      for (const a of p.addresses ?? []) engine.addPeerAddress(id, a);
      for (const r of p.pools ?? []) engine.addPeerPool(id, r);
      for (const [j, s] of p.sa.entries()) {
        const field = `peers[${i}].sa[${j}]`;
        // (a key given as hex needs no file or environment: no await, which costs as much as the rest for 100,000 peers)
        const key = /^(env|file):/.test(s.key) ? await resolveKey(s.key, `${field}.key`, io, (w) => this.warnings.push(w)) : hexKey(s.key, `${field}.key`);
        try {
          engine.addSa(id, { spi: s.spi, algorithm: s.algorithm, key, replayMode: s.replay, skewMs: s.skewMs });
        } catch (e) {
          throw new ConfigError(field, `the core refused this security association (${why(e)}); is the SPI given twice?`);
        }
      }
      this.peerIds.set(p.name ?? cookie, id);
      this.peerNames.set(cookie, p.name ?? cookie);
      this.peerIds.set(cookie, id);
    }
  }

  /** Opens the kernel now: a missing privilege or library shows at start, not mid-migration. */
  private setupKernel(): void {
    const { io, engine, config } = this;
    let kernel: KernelIO;
    try {
      kernel = this.kernelIO();
    } catch (e) {
      throw new StartError(config.name, why(e));
    }
    engine.kernelSetup(io.now(), config.queue ?? 0);
    if (config.auto !== false) {
      // Address changes drive break-before-make migrations; default-route changes keep the old
      // address's path (and, with followDefaultRoute, migrate): stem/watch.ts in the core.
      const groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
      this.addressWatch = kernel.watch(NETLINK_ROUTE, groups, (bytes) => {
        if (this.closed) return;
        this.reportOwnPorts();
        this.engine.netlinkEvent(this.io.now(), bytes);
        if (!this.draining) this.drain();
      });
    } else {
      engine.option("auto", 0);
    }
  }

  /** Binds the control port on every listen address; throws StartError if one cannot be bound. */
  private async bindListen(port: number): Promise<void> {
    const failures = new Map<string, string>();
    for (const address of this.config.listen ?? ["0.0.0.0"]) {
      this.listen.push(this.openSocket(address, port, (code, message) => failures.set(address, `${code}: ${message}`)));
    }
    for (const waited = { ms: 0 }; ; waited.ms += 5) {
      const failed = [...failures.entries()];
      if (failed.length > 0) {
        const [address, text] = failed[0];
        const hint = text.startsWith("EADDRINUSE")
          ? `; another program uses UDP port ${port} (ss -ulpn 'sport = ${port}'), or set "port"`
          : text.startsWith("EADDRNOTAVAIL")
            ? `; ${address} is no address of this host: fix "listen"`
            : "";
        throw new StartError(this.config.name, `cannot bind UDP ${address} port ${port} (${text})${hint}`);
      }
      if (this.listen.every((s) => s.port() !== 0)) return;
      if (waited.ms >= BIND_WAIT_MS) throw new StartError(this.config.name, `UDP port ${port} did not bind within ${BIND_WAIT_MS} ms`);
      await new Promise<void>((r) => this.io.setTimer(r, 5));
    }
  }

  private async setup(): Promise<void> {
    const { io, engine, config } = this;
    await this.takeLock();
    this.configureEngine();
    await this.addPeers();
    for (const w of this.warnings) this.log("warn", { event: "config-warning", field: w.field, message: w.message });
    const port = portOf(config);
    await this.bindListen(port);
    const control = controlPath(config);
    if (control) {
      try {
        this.control = await io.serveControl(control, (r) => this.onControl(r));
      } catch (e) {
        const code = (e as { code?: string })?.code;
        throw new StartError(config.name, `cannot serve the control socket ${control} (${code ?? why(e)}); choose another path with "control", or run with the rights to create it`);
      }
    }
    if (config.metrics) await this.serveMetrics(config.metrics);
    if (config.kernel !== false) {
      await this.loadSavedMoves();
      this.setupKernel();
      this.drain();
      if (this.startFailure) throw new StartError(config.name, this.startFailure);
    }
    if (config.sid) await this.startSid(config.sid, port);
    this.log("info", { event: "started", cookie: this.cookie, port, runtime: io.runtime, pid: io.pid });
    // A (re)started node opens a new sequence epoch at each peer (PROTOCOL.md 6.3).
    if (config.register !== false) engine.registerAll(io.now());
    this.drain();
  }

  /** SID on this node (config "sid"): the core's SID engine on the home link, and the host's part of it. */
  private async startSid(sid: NonNullable<Config["sid"]>, port: number): Promise<void> {
    const { io, config } = this;
    if (!io.sid) throw new StartError(config.name, `SID needs AF_PACKET and TCP_REPAIR, which the ${io.runtime} host does not provide`);
    let ifindex: number, mac: Uint8Array;
    try {
      ifindex = Number(readFileSync(`/sys/class/net/${sid.link}/ifindex`, "utf8").trim());
      mac = Uint8Array.from(readFileSync(`/sys/class/net/${sid.link}/address`, "utf8").trim().split(":"), (h) => parseInt(h, 16));
    } catch {
      throw new StartError(config.name, `sid.link: no interface ${sid.link} in this network namespace (ip link)`);
    }
    const service = new SidService({
      engine: this.engine,
      now: () => io.now(),
      drain: () => this.drain(),
      log: (level, fields) => this.log(level, fields),
      peerId: (name) => this.peer(name),
      peerAddress: (id) => config.peers.find((p) => this.peerIds.get(p.name ?? p.cookie!) === id)?.address,
      controlPort: port,
      knownPeer: (a) => config.peers.some((p) => p.address === a || (p as { addresses?: string[] }).addresses?.includes(a)),
      warmTargets: (sid.targets ?? []).map((n) => config.peers.find((p) => (p.name ?? p.cookie) === n)?.address).filter((a): a is string => !!a),
      trace: this.trace ?? undefined,
    }, io.sid(this.engine.core), { ifname: sid.link, ifindex, mac, address: sid.address, bindings: sid.bindings });
    try {
      await service.start();
      for (const i of sid.interim ?? []) service.flows.addInterim(i);
      for (const r of sid.addressPool ?? []) service.addresses.addPool(r);
      if (sid.addressPrefix6) service.addresses.prefix6(sid.addressPrefix6);
      if (sid.dhcp) await service.enableDhcp();
    } catch (e) {
      throw new StartError(config.name, `SID: ${why(e)}`);
    }
    this.sidService = service;
  }

  /** SID on this node (docs/USAGE.md "SID"); needs `sid` in the configuration. */
  get sid(): SidService {
    if (!this.sidService) throw new HandoverError(ErrorCode.CONFIG, "SID is not configured on this node: add \"sid\": {\"link\", \"address\"} to the configuration");
    return this.sidService;
  }

  /** The Prometheus endpoint (config "metrics"): GET /metrics. */
  private async serveMetrics(at: string): Promise<void> {
    const { address, port } = parseEndpoint(at);
    try {
      this.metricsServer = await this.io.serveHttp(address, port, (path) =>
        path.split("?")[0] === "/metrics"
          ? { status: 200, type: "text/plain; version=0.0.4; charset=utf-8", body: this.metrics() }
          : { status: 404, type: "text/plain", body: "the metrics are at /metrics\n" },
      );
    } catch (e) {
      const code = (e as { code?: string })?.code ?? why(e);
      const hint = code === "EADDRINUSE" ? `another program uses TCP port ${port}; choose another "metrics" port` : code === "EADDRNOTAVAIL" ? `${address} is no address of this host: fix "metrics"` : `fix "metrics"`;
      throw new StartError(this.config.name, `cannot serve the metrics endpoint ${at} (${code}); ${hint}`);
    }
  }

  /** The node's metrics, Prometheus text exposition format. */
  metrics(): string {
    return renderMetrics(this.config.name, this.observed, this.engine.state(this.io.now()), this.io.now());
  }

  /** Lets go of whatever was opened and leaves the kernel as it is (after a failed start, and as the last step of close). */
  private async abandon(): Promise<void> {
    this.closed = true;
    this.addressWatch?.close();
    if (this.timer !== null) this.io.clearTimer(this.timer);
    for (const s of this.listen) s.close();
    for (const s of this.sources.values()) s.close();
    this.control?.close();
    this.metricsServer?.close();
    this.sidService?.close();
    this.kernel?.close();
    await this.releaseLock?.();
  }

  private openSocket(address: string, port: number, onBindError?: (code: string, message: string) => void): UdpSocket {
    return this.io.udp(address, port, {
      message: (data, from, fromPort) => {
        // Until the start is complete (kernel set up), control messages wait: the peer retransmits.
        if (this.closed || this.starting) return;
        const at = this.trace ? this.io.now() : 0;
        try {
          this.engine.datagram(this.io.now(), from, fromPort, data);
        } catch (e) {
          this.log("warn", { event: "bad-datagram", from, error: String(e) });
          return;
        }
        this.trace?.({ step: "datagram-in", type: data[1], from, bytes: data.length, at, ms: Math.round((this.io.now() - at) * 1000) / 1000 });
        this.drain();
      },
      error: (code, message) => {
        if (this.starting && onBindError) return onBindError(code, message);
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
  register(peer: string | number, lifetime = OPTION_SPECS.registrationLifetimeS.default): void {
    this.engine.register(this.io.now(), typeof peer === "number" ? peer : this.peer(peer), lifetime);
    this.drain();
  }

  /** Attaches opaque data (e.g. location, signal quality) to the next request. */
  opaque(subtype: number, data: Uint8Array, flags = 0): void {
    this.engine.opaque(subtype, flags, data);
  }

  /**
   * The core's state, each peer with its configured name and `registered`:
   * this node holds an accepted registration with it (the core's
   * `peerRegistered` is the other way round).
   */
  state(): Record<string, unknown> {
    const now = this.io.now();
    const state = this.engine.state(now);
    state.peers = (state.peers as Record<string, unknown>[]).map((p) => ({
      name: this.peerNames.get(p.cookie as string) ?? p.cookie,
      ...p,
      registered: (this.observed.peers.get(p.cookie as string)?.registeredUntil ?? 0) > now,
    }));
    return state;
  }

  /** What `handover status` shows: peers by name, last exchange, registrations, moves, counters, sessions. */
  async status(): Promise<Status> {
    const sessions = this.config.kernel === false ? [] : ((await this.sessions()) as Record<string, unknown>[]);
    const now = this.io.now();
    return buildStatus(
      { name: this.config.name, cookie: this.cookie, port: portOf(this.config) },
      this.engine.state(now),
      (cookie) => this.observed.peers.get(cookie) ?? {},
      (cookie) => this.peerNames.get(cookie) ?? cookie,
      sessions,
      now,
    );
  }

  /** The host's TCP and UDP sockets, and which move carries each (sock_diag). */
  sessions(): Promise<unknown[]> {
    const done = new Promise<unknown[]>((resolve) => {
      const off = this.on("sessions", (e) => {
        off();
        // Kernel state numbers by name (TCP_ESTABLISHED is 1): what `ss` shows.
        resolve((e.sessions as Record<string, unknown>[]).map((s) => ({ ...s, state: socketStateName(s.state) })));
      });
    });
    this.reportOwnPorts();
    this.engine.sessions(this.io.now());
    this.drain();
    return done;
  }

  /** Subscribes to events by name ("migration", "peer-migration", "opaque", ...) or "*"; returns the unsubscribe. */
  on(name: EventName | "*", fn: Listener): () => void {
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
    const moves = this.engine.moveCount();
    const keep = options.keepKernelState ?? moves > 0;
    if (this.kernel) {
      if (keep) {
        this.log("info", { event: "kernel-state-kept", moves });
        await this.saveMoves();
      } else {
        this.engine.teardown(this.io.now());
        this.drain();
      }
    }
    await this.abandon();
    this.log("info", { event: "stopped" });
  }

  /** Where a clean stop saves the moves for the next start: beside the pid file. */
  private savedPath(): string {
    return pidFilePath(this.config.name, controlPath(this.config)).replace(/\.pid$/, "") + ".moves";
  }

  /** The moves journal (docs/dataplane.md "The moves journal"): each committed change of the moves, after the save file. */
  journalPath(): string {
    return this.savedPath().replace(/\.moves$/, "") + ".journal";
  }

  private journalFailed = false;

  /**
   * What the core gave for the journal once the kernel committed its batches:
   * a base written over the save file (then the journal emptied), records
   * appended, before anything else happens. A write that fails leaves a
   * journal the next start does not use (it reads the maps).
   */
  private writeJournal(): void {
    const j = this.engine.journalTake();
    if (!j) return;
    const path = this.journalPath();
    try {
      if (j.base) {
        this.io.writeBytesSync(this.savedPath(), j.base, false);
        this.io.writeBytesSync(path, new Uint8Array(0), false);
      }
      if (j.records) this.io.writeBytesSync(path, j.records, true);
    } catch (e) {
      if (!this.journalFailed) this.log("warn", { event: "journal-failed", path, error: why(e), hint: "the next start after a crash reads the moves back from the kernel's maps" });
      this.journalFailed = true;
    }
  }

  /**
   * A clean stop with the kernel state kept: the core's moves, with
   * nftables' generation and the journal's last sequence number, go to the
   * save file (the journal's base; the journal is emptied), so that the next
   * start takes them over without reading the maps (a dump of 100,000
   * elements takes seconds in the kernel). Nothing saved (a move changing):
   * the journal stays as it is, and says so.
   */
  private async saveMoves(): Promise<void> {
    const path = this.savedPath();
    try {
      this.engine.save(this.io.now());
      this.drain();
      this.writeJournal();
      const bytes = this.engine.saved();
      if (bytes.length > 0) {
        this.io.writeBytesSync(path, bytes, false);
        this.io.writeBytesSync(this.journalPath(), new Uint8Array(0), false);
      }
    } catch (e) {
      this.log("warn", { event: "save-failed", path, error: why(e), hint: "the next start reads the moves back from the kernel's maps" });
    }
  }

  /**
   * The moves a clean stop saved (or the journal's last base) and the
   * journal after it, handed to the core before the kernel setup. They stay:
   * the next batch's marker tells a later start whether they still hold.
   */
  private async loadSavedMoves(): Promise<void> {
    const path = this.savedPath();
    this.engine.enableJournal();
    let text: string | null = null;
    try {
      text = await this.io.readText(path);
    } catch {
      // none
    }
    let journal: Uint8Array | null = null;
    try {
      journal = await this.io.readBytes(this.journalPath());
    } catch {
      // none
    }
    if (text === null) return; // a journal without its base is of no use
    try {
      this.engine.savedMoves(this.io.now(), new TextEncoder().encode(text));
      if (journal) this.engine.journalFile(this.io.now(), journal);
    } catch (e) {
      this.log("warn", { event: "saved-moves-refused", path, error: why(e) });
    }
  }

  // ---- the loop: drain outputs, arm the timer ----

  /** A kernel action held until the DHCP datagrams queued before it are out (drainDhcp's promise). */
  private heldAction: ReturnType<Engine["poll"]> = null;
  private dhcpSending = false;

  /** True if DHCP datagrams are on their way out: the drain stops and resumes (with `o` first) once they are. */
  private holdForDhcp(o: ReturnType<Engine["poll"]>): boolean {
    const sending = this.sidService?.drainDhcp();
    if (!sending) return false;
    this.heldAction = o;
    this.dhcpSending = true;
    // never longer than DHCP_HOLD_MS: a send that does not settle must not stop the kernel actions
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<void>((r) => (timer = setTimeout(r, DHCP_HOLD_MS)));
    void Promise.race([sending, bound]).finally(() => {
      clearTimeout(timer);
      this.dhcpSending = false;
      this.drain();
    });
    return true;
  }

  private drain(): void {
    if (this.closed || this.dhcpSending) return;
    const engine = this.engine;
    // DHCP's datagrams before any kernel action queued with them (here and in the loop): a RELEASE at a session's
    // end leaves from the address, and through the tunnel, that those actions remove; node:dgram sends a tick
    // later, so the actions after them wait until they are out
    if (!this.heldAction && this.holdForDhcp(null)) return;
    this.draining = true;
    try {
      this.drainLoop();
    } finally {
      this.draining = false;
    }
  }

  private drainLoop(): void {
    const engine = this.engine;
    let last = this.trace ? this.io.now() : 0;
    for (let o = this.heldAction ?? engine.poll(); o; o = engine.poll()) {
      const got = this.trace ? this.io.now() : 0;
      const held = this.heldAction === o;
      this.heldAction = null;
      // Before a kernel action, the address notifications that arrived meanwhile: a sock_diag dump of a lost
      // address's sessions walks the kernel's whole TCP hash (~2 ms at 262,144 buckets), and the new address,
      // which comes while it runs, is then known when the dump's answer is (the migration starts at once,
      // not one drain later: docs/benchmarks.md, the issue-7 cells).
      if (o.kind === "nft" || o.kind === "netlink") this.readWatchNow();
      const began = this.trace ? this.io.now() : 0;
      // poll: the core's time to produce this output; watch: the address watch read before it; ms: the host's call
      const tr = this.trace && ((f: Record<string, unknown>) => {
        const end = this.io.now();
        const r3 = (x: number) => Math.round(x * 1000) / 1000;
        this.trace!({ ...f, ms: r3(end - began), poll: r3(got - last), watch: r3(began - got) });
        last = end;
      });
      switch (o.kind) {
        case "transmit":
          this.socketFor(o.source, o.family)?.send(o.data, o.address, o.port);
          if (tr) tr({ step: "datagram-out", type: o.data[1], to: o.address, bytes: o.data.length });
          break;
        case "nft": {
          if (!held && this.holdForDhcp(o)) return;
          const r = this.kernelCall(o.id, "nft", () => this.kernelIO().nft(o.text));
          if (!r) break;
          // And what arrived while the batch ran, before its result: a lost address's hold, once in, asks for
          // the sessions' dumps; a replacement known by then migrates the moves known on it before them.
          this.readWatchNow();
          for (const line of (r.stderr ?? "").split("\n")) if (line.trim()) this.log("debug", { event: "nft-stderr", line });
          // Listing the table fails when it does not exist yet: the core expects that.
          if (r.status !== 0 && !o.text.startsWith("list ")) {
            this.log("error", { event: "nft-failed", status: r.status, error: r.error.trim(), batch: o.text });
            if (this.starting) this.startFailure ??= `nftables refused the setup (${r.error.trim().split("\n")[0]}); run as root or with CAP_NET_ADMIN`;
          }
          if (r.output) engine.actionOutput(this.io.now(), o.id, r.output);
          engine.actionResult(this.io.now(), o.id, r.status);
          this.writeJournal();
          if (tr) tr({ step: "nft", text: o.text.slice(0, 80).replace(/\s+/g, " ") });
          break;
        }
        case "netlink": {
          if (!held && this.holdForDhcp(o)) return;
          if (o.dump && this.dumpInPieces(o)) break;
          const reply = this.kernelCall(o.id, `netlink protocol ${o.protocol}`, () => this.kernelIO().netlink(o.protocol, o.data, o.waitAck, o.dump));
          if (reply) engine.netlinkReply(this.io.now(), o.id, reply);
          if (tr) tr({ step: "netlink", protocol: o.protocol, type: o.data.length >= 6 ? o.data[4] | (o.data[5] << 8) : -1 });
          break;
        }
        case "event":
          this.dispatch(o.event);
          if (tr) tr({ step: "event", event: o.event.event, state: o.event.state, role: o.event.role });
          break;
        case "frame":
          this.sidService?.frame(o.ifindex, o.data);
          if (tr) tr({ step: "frame", bytes: o.data.length });
          break;
      }
    }
    this.sidService?.drainDhcp();
    this.arm();
  }

  /**
   * A dump after the start (the idle sweep's: 100,000 elements take seconds
   * in the kernel) is read in pieces across turns of the event loop
   * (KernelIO.dump), so that control messages are answered between them;
   * the other actions go on meanwhile (the core does not age a move a dump
   * may have missed because a batch changed the map: stem/lifecycle.ts
   * Sweep). While starting (the restore), and with HANDOVER_BLOCKING_DUMPS=1
   * in the environment (for bench/sweepgap.js's comparison), dumps are read
   * at once. Returns false if this dump is to be read at once.
   */
  private dumpInPieces(o: { id: number; protocol: number; data: Uint8Array }): boolean {
    if (this.starting || this.io.env("HANDOVER_BLOCKING_DUMPS") === "1") return false;
    const kernel = this.kernelIO();
    if (!kernel.dump) return false;
    const id = o.id;
    kernel.dump(
      o.protocol,
      o.data,
      (bytes) => {
        if (!this.closed) this.engine.netlinkPart(this.io.now(), id, bytes);
      },
      (last, error) => {
        if (this.closed) return;
        if (error || !last) {
          const errno = error?.errno ?? EIO;
          this.log("error", { event: "kernel-call-failed", action: id, what: `netlink dump protocol ${o.protocol}`, errno, error: error?.message ?? "no end" });
          this.engine.actionResult(this.io.now(), id, errno);
        } else {
          this.engine.netlinkReply(this.io.now(), id, last);
        }
        if (!this.draining) this.drain();
      },
    );
    return true;
  }

  /** The address watch's pending notifications, read now (a failed read is logged; the watch's own poll reads again). */
  private readWatchNow(): void {
    try {
      this.addressWatch?.readNow?.();
    } catch (e) {
      this.log("warn", { event: "watch-read-failed", error: why(e) });
    }
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
  private socketFor(source: string | undefined, family: number): UdpSocket | undefined {
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
    this.observed.observe(e);
    if (e.event === "address-removed") this.closeSource(e.address as string);
    if (e.event === "sid") this.sidService?.event(e);
    if (e.event === "session-address") this.sidService?.addressEvent(e);
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

  /** Why a migration failed, in words, with what to check. */
  failureHint(r: MigrationResult): string | null {
    if (r.state !== "failed") return null;
    const peer = this.peerNames.get(r.peer as string) ?? r.peer;
    if (r.error === "TIMED_OUT") {
      const heard = this.observed.peers.get(r.peer as string)?.lastExchange;
      return `no authenticated reply from ${peer}: check that both ends have the same key/SPI for each other (the peer's \`handover status\` then counts BAD_AUTHENTICATOR or UNKNOWN_SPI drops) and that its control port is reachable from ${r.to}` +
        (heard === undefined ? `; no authenticated message from ${peer} has arrived since this node started` : "");
    }
    if (r.error === "REFUSED") return `${peer} refused the migration (code ${JSON.stringify(r.code)}): see docs/PROTOCOL.md for the code`;
    if (r.error === "KERNEL") return "the kernel refused the rewrite rules: see the daemon's log (nft-failed) and check CAP_NET_ADMIN";
    return null;
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
        case "status":
          return { ok: true, status: await this.status() };
        case "migrate": {
          // A move to an address this host does not have could only time out: say so now.
          const to = String(r.request?.to);
          if (!this.io.localAddresses().includes(to)) {
            return { ok: false, error: `${to} is not an address of this host; add it first (ip address add ${to}/PREFIX dev LINK), then migrate` };
          }
          const result = await this.migrate(r.request);
          return { ok: true, result, ...(this.failureHint(result) ? { hint: this.failureHint(result) } : {}) };
        }
        case "register":
          this.register(r.peer, r.lifetime);
          return { ok: true };
        default:
          return { ok: false, error: `unknown command '${r?.cmd}': use state, status, sessions, migrate or register` };
      }
    } catch (e) {
      return { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
  }
}
