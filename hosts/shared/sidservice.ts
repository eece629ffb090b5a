// SID on a running node (docs/USAGE.md "SID"): what the host does around the
// core's SID state machines. The core decides and builds every kernel action
// and frame (the daemon applies them); this service does the rest of the
// host's part: it sends the core's FRAME outputs through AF_PACKET, and moves
// the application's TCP connection. At the transferring node, on the core's
// `state-requested`, it takes the socket from the application, dumps it with
// TCP_REPAIR into the state record (with the application's own state), seals
// it under the session key and delivers it to the target's control port
// (TCP). At the target it opens the record, restores the socket in repair
// mode, and on `released` resumes it and hands it to the application
// (`session`); when every such socket is closed it tells the core the session
// ended (deregistration). Runtime-neutral: the runtime's part is SidHostIO.

import { readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { Server } from "node:net";
import { createSocket, type Socket as UdpSocket, type RemoteInfo } from "node:dgram";
import type { Engine, EngineEvent } from "./engine.ts";
import type { PacketLink, SidHostIO, DatagramSocket } from "./sidio.ts";
import { DhcpCore } from "./dhcp.ts";
import { SidCodec, type TcpStateRecord, type UdpFlowRecord } from "./sid.ts";
import { SidEngine } from "./sidengine.ts";
import { SidFlows, type SidFlow } from "./sidflows.ts";
import { SidAddresses, inet6Flags, IFA_F_DADFAILED, IFA_F_TENTATIVE, type GeneratorName, type SessionAddressInfo } from "./sidaddr.ts";
import { sendState, stateChannel, stateListener, type StateChannel } from "./sidplane.ts";

/** What the application asks for: move this connection (or address) to the target. */
export interface TransferRequest {
  /** The application's TCP connection(s) to move (Node: net.Socket). At most one today. */
  socket?: unknown;
  /** The address to move (default: the socket's local address). */
  address?: string;
  /**
   * Per-flow mode (PROTOCOL.md 8.16, the Session Agent): only the socket's
   * flow moves; the address's other sessions stay here (needs an agent and
   * an Interim Address in the configuration's sid.interim).
   */
  perFlow?: boolean;
  /** The target's peer name (configured in `peers`). */
  target: string;
  /** The agent's peer name; omit with sameSubnet. */
  agent?: string;
  /** FIG. 1b: the target is on the home link and claims the address itself; no agent. */
  sameSubnet?: boolean;
  /** Return traffic reverse-tunnelled through the agent (needed under ingress filtering). */
  reverse?: boolean;
  /** The target may move the session on (8.6). */
  further?: boolean;
  /** The binding's requested lifetime in seconds (0: the sidLifetimeS option). */
  lifetime?: number;
  /** The application's state, taken once its socket is detached; it gets it back at the target. */
  appState?: () => Uint8Array;
  /**
   * The application's UDP flows to move (PROTOCOL.md 8.12, "UDP flows"):
   * connected sockets (node:dgram) bound to the address. They keep working
   * here until the agent has the address and the flow has been quiet for
   * `udpQuietMs`; then the library calls `appState` (the application stops
   * using the socket from then on), closes the socket and sends the state to
   * the target, whose application gets a socket bound to the same address
   * and port (event `session`, `udp: true`) with every datagram that reached
   * the target meanwhile.
   */
  udp?: { socket: unknown; appState?: () => Uint8Array }[];
  /** How long a UDP flow must have been quiet before it leaves (default 30 ms; 0 when this node holds the session as a target, unless it returns it to its node; at most 10 times that is waited, or in a return as long as the retired hosting keeps its tunnel, PROTOCOL.md 8.6). */
  udpQuietMs?: number;
}

export interface TransferResult {
  address: string;
  state: "transferred" | "failed";
  lifetime?: number;
  elapsedMs?: number;
  error?: string;
  code?: number;
  message?: string;
  /**
   * A transfer that failed after the connection had left the application
   * (its state was dumped and sent): the connection restored here again, live
   * (Node: a net.Socket), with the application's state, for it to carry on.
   */
  socket?: unknown;
  appState?: Uint8Array;
  /** Per-flow mode: the flow set's session SPI (for stopFlows). */
  spi?: number;
  /** UDP flows handed over to the target (after the transfer), and any that failed, with why. */
  udp?: { moved: number; error?: string };
}

/** A connection handed to the application at the target. */
export interface ArrivedSession {
  address: string;
  /** Node and Deno: a net.Socket; Bun: a BunFdSocket (a Duplex, hosts/bun/adopt.ts); a UDP flow: a node:dgram socket; a runtime that cannot adopt a descriptor: null (`fd` only). */
  socket: unknown;
  fd: number;
  appState: Uint8Array;
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
  /** A UDP flow: `socket` is a node:dgram socket bound to local:localPort and connected to remote:remotePort. */
  udp?: boolean;
}

export type SidEventName = "transferred" | "session" | "woken" | "stopped" | "ended" | "refused" | "bound" | "renewed" | "negotiated" | "failed" | "record" | "session-address" | "*";

/**
 * The host's steps with the state record (event "record"), for a timeline of
 * the transfer: at the node "dumped" (the socket taken from the application
 * and dumped) and "delivered" (the target confirmed it), at the target
 * "restored" (opened and restored in repair mode). `t`: this host's clock.
 */
export interface RecordStep {
  address: string;
  step: "dumped" | "delivered" | "restored";
  t: number;
  bytes: number;
}

/** A session-specific address the application advertises and binds its session to (PROTOCOL.md 8.18). */
export interface SessionAddress {
  /** The handle to release it with (releaseSessionAddress). */
  session: number;
  address: string;
  generator: string;
}

/** How long duplicate address detection of an IPv6 session address may take before it counts as failed. */
const DAD_WAIT_MS = 10_000;
const DAD_POLL_MS = 50;


/** What the service needs of the daemon it runs in. */
export interface SidContext {
  engine: Engine;
  now(): number;
  drain(): void;
  log(level: "debug" | "info" | "warn" | "error", fields: Record<string, unknown>): void;
  peerId(name: string): number;
  peerAddress(id: number): string | undefined;
  controlPort: number;
  /**
   * Addresses of the peers this node may transfer to (config `sid.targets`): a
   * state connection to each is kept open from the start (PROTOCOL.md 8.12,
   * the 1-RTT order), so that a record leaves at the call.
   */
  warmTargets?: string[];
  /** True if `address` is a configured peer's: only such a peer's state stream may wait for its negotiation (8.12). */
  knownPeer?: (address: string) => boolean;
  /** The daemon's HANDOVER_TRACE lines (the host's steps with the record), when it traces. */
  trace?: (fields: Record<string, unknown>) => void;
}

interface Pending {
  address: string;
  socket: unknown;
  appState?: () => Uint8Array;
  resolve: (r: TransferResult) => void;
  started: number;
  /** The dumped connection, kept until the transfer succeeded: restored here again if it fails. */
  dumped?: TcpStateRecord;
  /** Why this host could not deliver the state record (reported with the failure). */
  hostError?: string;
  udp: NodeUdp[];
  udpQuietMs: number;
  /** A return (8.6): this node, a target, gives the session back to the node it came from. */
  returning: boolean;
  /** Where the record went and under which key: the UDP hand-over follows it (after a return the session is gone by then). */
  sentTo?: { to: string; sessionKey: Uint8Array; sessionSpi: number };
  /** The state record's connection: the one kept open ahead, or opened at the call (PROTOCOL.md 8.12). */
  channel?: StateChannel;
  /** The channel was open ahead of the call (8.12, the 1-RTT order). */
  warm?: boolean;
  /** Settles once the socket is dumped (or the dump failed): a failure reported meanwhile waits for it. */
  dumping?: Promise<void>;
}

/** A kept state connection that broke is opened again after this long; one used is replaced after SPARE_AFTER_USE_MS. */
const SPARE_RETRY_MS = 1000;
const SPARE_AFTER_USE_MS = 200;
/** How long the target keeps a state stream that no negotiation here opens yet (8.12: the record may come first), and how many at once. */
const RECORD_WAIT_MS = 3000;
const RECORD_WAIT_MAX = 16;

/** A UDP flow at the transferring node until it leaves. */
interface NodeUdp {
  socket: UdpSocket;
  appState?: () => Uint8Array;
  flow: { local: string; localPort: number; remote: string; remotePort: number };
  lastAt: number;
  listener: () => void;
}

/** A UDP flow at the target: its socket, bound on the state record, holding what arrives until the application takes it. */
interface TargetUdp {
  socket: UdpSocket;
  flow: { local: string; localPort: number; remote: string; remotePort: number };
  held: [Uint8Array, RemoteInfo][];
  /** Holds what arrives until the application has the socket (null from then on). */
  hold: ((m: Uint8Array, r: RemoteInfo) => void) | null;
  appState: Uint8Array | null;
  released: boolean;
  /** Resolves once the socket is bound and connected (rejects if it cannot be). */
  ready: Promise<void>;
  /** The key the record came under: the hand-over comes under it too (the session may be gone here by then, after a return). */
  key: { sessionKey: Uint8Array; sessionSpi: number };
}

/** The hand-over stream's frames are numbered from here (8.12, "UDP flows"): never a nonce of the record's. */
const HANDOVER_BASE = 2 ** 32;

interface Restored {
  fd: number;
  unsent: Uint8Array;
  appState: Uint8Array;
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
}

/** The 5-tuple of a connected socket (Node: net.Socket) as a flow of `address` (PROTOCOL.md 8.16). */
function flowOf(socket: unknown, address: string): SidFlow {
  const s = socket as { localPort?: number; remoteAddress?: string; remotePort?: number } | undefined;
  if (!s?.localPort || !s.remoteAddress || !s.remotePort) throw new TypeError("transfer: perFlow needs a connected socket");
  return { protocol: "tcp", local: address, localPort: s.localPort, remote: s.remoteAddress, remotePort: s.remotePort };
}

/** The name of the interface with this index (sysfs). */
function ifnameOf(ifindex: number): string {
  for (const name of readdirSync("/sys/class/net")) {
    try {
      if (Number(readFileSync(`/sys/class/net/${name}/ifindex`, "utf8")) === ifindex) return name;
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no interface with index ${ifindex}`);
}

const empty = new Uint8Array(0);

export class SidService {
  readonly sid: SidEngine;
  /** Per-flow mode (PROTOCOL.md 8.16). */
  readonly flows: SidFlows;
  readonly codec: SidCodec;
  /** Session-specific addresses (PROTOCOL.md 8.18). */
  readonly addresses: SidAddresses;
  private addressWaits = new Map<number, { resolve: (a: SessionAddress) => void; reject: (e: Error) => void }>();
  private dadWatches = new Set<string>();
  private links = new Map<number, PacketLink>();
  private pending = new Map<string, Pending>();
  private restored = new Map<string, Restored[]>();
  private udpHere = new Map<string, TargetUdp[]>();
  /** A hosting that retired after a return (8.6 step 6, event `retired`): when it ends (ms, ctx.now()). */
  private retiredUntil = new Map<string, number>();
  private live = new Map<string, number>();
  /** Sockets this node handed on (a further transfer): their close is no end of the session. */
  private handedOn = new WeakSet<object>();
  private listeners = new Map<string, Set<(e: any) => void>>();
  private server: Server | null = null;
  /** State connections kept open to possible targets (8.12, the 1-RTT order), by address. */
  private spares = new Map<string, StateChannel>();
  private closed = false;
  /** Records waiting for a negotiation here: called at each target `negotiated`. */
  private negotiationWaiters = new Set<() => void>();
  private recordsWaiting = 0;

  constructor(private ctx: SidContext, private io: SidHostIO, readonly home: { ifname: string; ifindex: number; mac: Uint8Array; address: string; bindings?: string }) {
    this.sid = new SidEngine(ctx.engine);
    this.flows = new SidFlows(ctx.engine);
    this.codec = new SidCodec(ctx.engine.core);
    this.addresses = new SidAddresses(ctx.engine);
  }

  /**
   * A session-specific address (PROTOCOL.md 8.18) from the generator: on the
   * home link beside the base address once this resolves (IPv6: after
   * duplicate address detection). The application advertises it and binds
   * its session's sockets to it; a transfer of that session moves only it.
   */
  sessionAddress(generator: GeneratorName = "static"): Promise<SessionAddress> {
    return new Promise((resolve, reject) => {
      let session: number;
      try {
        session = this.addresses.acquire(this.ctx.now(), generator);
      } catch (e) {
        reject(e);
        return;
      }
      this.addressWaits.set(session, { resolve, reject });
      this.ctx.drain();
      const i = this.addresses.info(session);
      if (i.state === "ready") this.addressSettled(i);
    });
  }

  /** The application's session on a session address ended here: the address is given back (the last holder releases it). */
  releaseSessionAddress(session: number): void {
    this.addresses.release(this.ctx.now(), session);
    this.ctx.drain();
  }

  /** The core's `session-address` events. */
  addressEvent(e: EngineEvent): void {
    const i: SessionAddressInfo = {
      session: e.session as number, generator: e.generator as string, state: e.state as SessionAddressInfo["state"], address: e.address as string,
    };
    if (i.state === "pending" && i.generator === "ipv6" && i.address) this.watchDad(i.session, i.address);
    else this.addressSettled(i);
    this.emit("session-address", e);
  }

  private addressSettled(i: SessionAddressInfo): void {
    const w = this.addressWaits.get(i.session);
    if (!w || i.state === "pending") return;
    this.addressWaits.delete(i.session);
    if (i.state === "ready") w.resolve({ session: i.session, address: i.address, generator: i.generator });
    else w.reject(new Error(`session address ${i.session} (${i.generator}) ${i.state}${i.address ? ` at ${i.address}` : ""}`));
  }

  /** IPv6: polls the kernel's flags of the address until duplicate address detection ends, then tells the core. */
  private watchDad(session: number, address: string): void {
    const key = `${session} ${address}`;
    if (this.dadWatches.has(key)) return;
    this.dadWatches.add(key);
    const bytes = this.ctx.engine.core.parseAddress(address).bytes;
    const started = this.ctx.now();
    const poll = () => {
      const flags = inet6Flags(bytes, this.home.ifindex);
      const waited = this.ctx.now() - started;
      let verdict: boolean | null = null;
      if (flags !== null && flags & IFA_F_DADFAILED) verdict = false;
      else if (flags !== null && !(flags & IFA_F_TENTATIVE)) verdict = true;
      else if (waited >= DAD_WAIT_MS) verdict = false;
      if (verdict === null) {
        setTimeout(poll, DAD_POLL_MS);
        return;
      }
      this.dadWatches.delete(key);
      this.ctx.log(verdict ? "info" : "warn", { event: "sid-dad", session, address, ok: verdict, waitedMs: Math.round(waited) });
      try {
        this.addresses.dad(this.ctx.now(), session, verdict);
      } catch (e) {
        this.ctx.log("warn", { event: "sid-dad-late", session, address, error: (e as Error).message });
      }
      this.ctx.drain();
    };
    setTimeout(poll, DAD_POLL_MS);
  }

  /** Switches SID on in the core and opens the control port for state records. */
  async start(): Promise<void> {
    this.sid.link(this.home.ifindex, Array.from(this.home.mac, (b) => b.toString(16).padStart(2, "0")).join(":"), this.home.address);
    // The home link's frame socket is opened now, not at the first frame: the agent's first
    // gratuitous ARP is on a transfer's critical path (docs/benchmarks.md, "Where the transfer time goes").
    this.frameLink(this.home.ifindex, this.home.ifname);
    this.restoreBindings();
    this.server = await stateListener({ address: this.home.address, port: this.ctx.controlPort }, (stream, from) => this.takeState(stream, from), (e) =>
      this.ctx.log("warn", { event: "sid-state-refused", error: e.message }),
    );
    for (const to of this.ctx.warmTargets ?? []) this.warm(to);
  }

  /**
   * 8.12, the 1-RTT order: a state connection to `to` kept open ahead of any
   * transfer (its handshake is a round trip), opened again when it breaks; a
   * transfer takes it, or opens its own at the call when none is up.
   */
  private warm(to: string): void {
    if (this.closed) return;
    const have = this.spares.get(to);
    if (have && !have.broken) return;
    let c: StateChannel;
    try {
      c = stateChannel({ address: to, port: this.ctx.controlPort, local: this.home.address });
    } catch {
      return;
    }
    this.spares.set(to, c);
    c.onBreak(() => {
      if (this.spares.get(to) !== c) return;
      this.spares.delete(to);
      const t = setTimeout(() => this.warm(to), SPARE_RETRY_MS);
      (t as { unref?: () => void }).unref?.();
    });
  }

  /**
   * Turns on DHCPv4 session addresses (configuration `sid.dhcp`, PROTOCOL.md
   * 8.19): the core's generator for the home link's MAC, and the client's
   * port 68 on 0.0.0.0 (the broadcast replies). sessionAddress("dhcp4") then works.
   */
  async enableDhcp(): Promise<void> {
    if (!this.io.udp4) throw new Error(`DHCP session addresses need UDP sockets from the host`);
    this.addresses.enableDhcp(this.home.mac);
    const any = await this.io.udp4("0.0.0.0", 68, (m) => this.dhcpInput(m));
    this.dhcp = { core: new DhcpCore(this.ctx.engine.core), any, leased: new Map(), open: new Map() };
  }

  private dhcp: { core: DhcpCore; any: DatagramSocket; leased: Map<string, Promise<DatagramSocket>>; open: Map<string, DatagramSocket> } | null = null;

  private dhcpInput(m: Uint8Array): void {
    this.addresses.dhcpInput(this.ctx.now(), m);
    this.ctx.drain();
  }

  /**
   * The DHCP generator's outputs (docs/ABI.md "DHCPv4 client"), after every
   * drain of the engine: broadcasts from 0.0.0.0 as frames on the home link,
   * datagrams from a leased address through a socket bound to it (opened at
   * its first use: the registry aliased the address at READY), closed when
   * the lease ends here. Returns a promise when datagrams are still on their
   * way out (node:dgram sends a tick later): the caller holds the kernel
   * actions queued after them until it settles (a RELEASE at a session's end
   * leaves from the address that the next action removes).
   */
  drainDhcp(): Promise<void> | null {
    const d = this.dhcp;
    if (!d) return null;
    const sending: Promise<unknown>[] = [];
    const failed = (o: { src: string; dst: string }) => (e: unknown) =>
      this.ctx.log("error", { event: "sid-dhcp-send-failed", src: o.src, dst: o.dst, error: (e as Error).message });
    for (const o of d.core.poll()) {
      if (o.kind === "frame") this.frame(this.home.ifindex, o.frame);
      else if (o.kind === "udp") {
        // an open socket sends at once, before the kernel actions of the same drain (a RELEASE at a session's
        // end must leave before the target's hosting of the address and its tunnel go)
        const open = d.open.get(o.src);
        if (open) {
          try {
            const p = open.send(o.payload, 67, o.dst);
            if (p) sending.push(p.catch(failed(o)));
          } catch (e) {
            failed(o)(e);
          }
          continue;
        }
        let s = d.leased.get(o.src);
        if (!s) {
          s = this.io.udp4!(o.src, 68, (m) => this.dhcpInput(m));
          d.leased.set(o.src, s);
          s.then((k) => { if (d.leased.get(o.src) === s) d.open.set(o.src, k); }, () => {});
        }
        sending.push(s.then((k) => k.send(o.payload, 67, o.dst)).catch((e) => {
          d.leased.delete(o.src);
          d.open.delete(o.src);
          failed(o)(e);
        }));
      } else if (o.kind === "lost" || o.kind === "released") {
        const s = d.leased.get(o.address);
        if (s) {
          d.leased.delete(o.address);
          d.open.delete(o.address);
          // after the RELEASE that was queued before this event went out
          setTimeout(() => void s.then((k) => k.close()).catch(() => {}), 200);
        }
      }
    }
    return sending.length ? Promise.all(sending).then(() => {}) : null;
  }

  close(): void {
    if (this.dhcp) {
      this.dhcp.any.close();
      for (const s of this.dhcp.leased.values()) void s.then((k) => k.close()).catch(() => {});
      this.dhcp = null;
    }
    this.closed = true;
    for (const c of this.spares.values()) c.close();
    this.spares.clear();
    this.server?.close();
    for (const l of this.links.values()) l.close();
    this.links.clear();
  }

  on(name: SidEventName, fn: (e: any) => void): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(fn);
    return () => set!.delete(fn);
  }

  private emit(name: string, e: unknown): void {
    for (const n of [name, "*"]) for (const fn of this.listeners.get(n) ?? []) {
      try {
        fn(e);
      } catch (err) {
        this.ctx.log("error", { event: "listener-failed", error: String(err) });
      }
    }
  }

  /** Moves a connection (or an address) to the target; resolves once the agent granted the binding (or the target, on one subnet). */
  transfer(o: TransferRequest): Promise<TransferResult> {
    const address = o.address ?? (o.socket as { localAddress?: string } | undefined)?.localAddress;
    if (!address) throw new TypeError("transfer: give the socket or the address to move");
    if (!o.sameSubnet && !o.agent) throw new TypeError("transfer: name the agent, or set sameSubnet");
    this.ctx.trace?.({ step: "transfer-call", address });
    const target = this.ctx.peerId(o.target);
    const agent = o.sameSubnet ? undefined : this.ctx.peerId(o.agent!);
    let udp: NodeUdp[];
    try {
      udp = (o.udp ?? []).map((u) => this.nodeUdp(u.socket as UdpSocket, address, u.appState));
      if (udp.length && o.perFlow) throw new TypeError("transfer: UDP flows move with the whole address (no perFlow)");
      // Before the transfer starts: the stop rule lets them through from its first packet on.
      this.sid.udpPass(address, udp.map((u) => u.flow));
    } catch (e) {
      return Promise.resolve({ address, state: "failed", error: (e as Error).message });
    }
    // Moving on a session held here (8.6): the agent's switch ends this node's path (its reverse tunnel)
    // before this node hears of it, so waiting for quiet only loses what it sends. A return is make before
    // break: the agent tunnels the address's packets here until the node has announced it, and its tunnel
    // outlives the binding (PROTOCOL.md 8.6), so the flows wait for quiet as from the original node.
    const held = this.sid.session(address);
    const hosted = held?.role === "target";
    const back = hosted && held!.peer === target;
    return new Promise((resolve) => {
      const settle = (r: TransferResult) => {
        for (const u of udp) u.socket.off("message", u.listener);
        resolve(r);
      };
      const p: Pending = { address, socket: o.socket, appState: o.appState, resolve: settle, started: this.ctx.now(), udp, udpQuietMs: o.udpQuietMs ?? (hosted && !back ? 0 : 30), returning: back };
      this.pending.set(address, p);
      // The record's TCP connection: the one kept open ahead (8.12, the 1-RTT order: the record leaves at
      // the call), else opened now (its handshake then delays the record by a round trip).
      const to = this.ctx.peerAddress(target);
      if (to) {
        const spare = this.spares.get(to);
        if (spare && !spare.broken) {
          this.spares.delete(to);
          p.channel = spare;
          p.warm = true;
        } else {
          try {
            p.channel = stateChannel({ address: to, port: this.ctx.controlPort, local: this.home.address });
          } catch {
            // opened at the record then
          }
        }
        // The next transfer's, once this one's record is on its way.
        const t = setTimeout(() => this.warm(to), SPARE_AFTER_USE_MS);
        (t as { unref?: () => void }).unref?.();
      }
      try {
        if (o.perFlow) this.flows.transfer(this.ctx.now(), address, [flowOf(o.socket, address)], target, agent!, { reverse: o.reverse, lifetime: o.lifetime });
        else this.sid.transfer(this.ctx.now(), address, target, { agent, reverse: o.reverse, further: o.further, lifetime: o.lifetime ?? 0 });
      } catch (e) {
        this.pending.delete(address);
        p.channel?.close();
        settle({ address, state: "failed", error: (e as Error).message });
        return;
      }
      this.ctx.drain();
    });
  }

  /** A UDP flow of the application at the transferring node: its 4-tuple, and when it last received. */
  private nodeUdp(socket: UdpSocket, address: string, appState?: () => Uint8Array): NodeUdp {
    let local: { address: string; port: number };
    let remote: { address: string; port: number };
    try {
      local = socket.address();
      remote = socket.remoteAddress();
    } catch {
      throw new TypeError("transfer: a UDP socket must be bound and connected (dgram connect())");
    }
    if (local.address !== address) throw new TypeError(`transfer: the UDP socket is bound to ${local.address}, not ${address}`);
    const u: NodeUdp = { socket, appState, flow: { local: address, localPort: local.port, remote: remote.address, remotePort: remote.port }, lastAt: this.ctx.now(), listener: () => (u.lastAt = this.ctx.now()) };
    socket.on("message", u.listener);
    return u;
  }

  /**
   * The agent has the address: each UDP flow, once quiet, leaves: its state
   * taken, its socket closed, the records sealed to the target (frames from
   * HANDOVER_BASE), which answers as for the state record.
   */
  private async handOverUdp(p: Pending): Promise<{ moved: number; error?: string }> {
    const session = p.sentTo;
    if (!session) return { moved: 0, error: `no state record went out for ${p.address}` };
    const to = session.to;
    const quiet = p.udpQuietMs;
    // A return waits for quiet as long as this retired hosting keeps its tunnel (8.6 step 6): the agent
    // tunnels the address here until the node has announced it, however late its Wake-up gets through
    // (a lost one is retransmitted), and a socket closed before that loses what still comes.
    const retiredEnd = () => (p.returning ? (this.retiredUntil.get(p.address) ?? 0) - quiet : 0);
    for (const end = this.ctx.now() + 10 * quiet; ; await new Promise((r) => setTimeout(r, Math.max(1, quiet / 5)))) {
      const t = this.ctx.now();
      if ((t > end && t > retiredEnd()) || p.udp.every((u) => t - u.lastAt >= quiet)) break;
    }
    const parts: Uint8Array[] = [];
    for (const u of p.udp) {
      u.socket.off("message", u.listener);
      const appState = u.appState?.() ?? empty;
      u.socket.close();
      parts.push(this.codec.encodeUdpFlow({ ...u.flow, appState }));
    }
    const stream = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
    parts.reduce((at, x) => (stream.set(x, at), at + x.length), 0);
    try {
      await sendState(this.codec, { address: to, port: this.ctx.controlPort, local: this.home.address }, session.sessionKey, session.sessionSpi, stream, 5000, undefined, HANDOVER_BASE);
      this.ctx.log("info", { event: "sid-udp-handed-over", address: p.address, to, flows: p.udp.length });
      return { moved: p.udp.length };
    } catch (e) {
      this.ctx.log("error", { event: "sid-udp-handover-failed", address: p.address, error: (e as Error).message });
      return { moved: 0, error: (e as Error).message };
    }
  }

  /** Per-flow mode: Stop Transfer for one flow set (its session SPI, from the transfer's result) or, with 0, every one. */
  stopFlows(address: string, spi = 0): void {
    this.flows.stop(this.ctx.now(), address, spi);
    this.ctx.drain();
  }

  /** The transferring node ends the transfer (Stop Transfer); the address comes back here. */
  stop(address: string): void {
    this.sid.stop(this.ctx.now(), address);
    this.ctx.drain();
  }

  /**
   * PROTOCOL.md 8.17: an agent with a bindings file takes over the bindings a
   * previous run left (their kernel state stands); a missing file is a first start.
   */
  private restoreBindings(): void {
    const file = this.home.bindings;
    if (!file) return;
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") return;
      throw new Error(`cannot read the SID bindings file ${file}: ${(e as Error).message}`);
    }
    try {
      const n = this.sid.restoreBindings(this.ctx.now(), bytes);
      this.ctx.log("info", { event: "sid-bindings-restored", file, bindings: n });
    } catch (e) {
      throw new Error(`the SID bindings file ${file} was not taken over (${(e as Error).message}); move it away to start without its bindings`);
    }
    this.ctx.drain();
  }

  /** After every change of a binding: the core's bindings to the file, whole (a temporary file, renamed). */
  private saveBindings(): void {
    const file = this.home.bindings;
    if (!file) return;
    try {
      const tmp = `${file}.tmp`;
      writeFileSync(tmp, this.sid.saveBindings());
      renameSync(tmp, file);
    } catch (e) {
      this.ctx.log("error", { event: "sid-bindings-save-failed", file, error: (e as Error).message });
    }
  }

  /** A FRAME output of the core: sent as it is on that interface. */
  frame(ifindex: number, data: Uint8Array): void {
    const l = this.frameLink(ifindex);
    try {
      l?.send(data);
    } catch (e) {
      this.ctx.log("error", { event: "sid-frame-failed", ifindex, error: (e as Error).message });
    }
  }

  /** The send-only AF_PACKET socket for frames on an interface (protocol 0: the kernel queues it no received frame), opened once; null if it cannot be opened (logged). */
  private frameLink(ifindex: number, ifname?: string): PacketLink | null {
    let l = this.links.get(ifindex);
    if (l) return l;
    try {
      l = this.io.packet(ifname ?? ifnameOf(ifindex), 0);
      this.links.set(ifindex, l);
      return l;
    } catch (e) {
      this.ctx.log("error", { event: "sid-frame-failed", ifindex, error: (e as Error).message });
      return null;
    }
  }

  /** The core's `sid` events. */
  event(e: EngineEvent): void {
    const address = e.address as string;
    const state = e.state as string;
    if (e.role === "agent" && (state === "bound" || state === "renewed" || state === "ended")) this.saveBindings();
    if (e.role === "node" && state === "state-requested") {
      void this.deliverState(address, e);
      return;
    }
    if (e.role === "node") {
      const p = this.pending.get(address);
      if (p && (state === "transferred" || state === "refused" || state === "ended" || state === "failed")) {
        this.pending.delete(address);
        p.channel?.close();
        const result: TransferResult = {
          address, state: state === "transferred" ? "transferred" : "failed", lifetime: e.lifetime as number | undefined,
          elapsedMs: e.elapsedMs as number | undefined, error: e.error as string | undefined, code: e.code as number | undefined, message: e.message as string | undefined,
          spi: e.spi as number | undefined,
        };
        if (result.state === "failed" && p.hostError) result.message = `${p.hostError}${result.message ? ` (${result.message})` : ""}`;
        if (result.state === "failed" && p.dumping) {
          // 8.12, the 1-RTT order: the dump began at the call and may still be under way: restored once it is done.
          const dumping = p.dumping;
          void dumping.then(() => {
            if (p.dumped) this.restoreHere(p.dumped, result);
            p.resolve(result);
          });
        } else if (result.state === "failed" && p.dumped) {
          this.restoreHere(p.dumped, result);
          p.resolve(result);
        } else if (result.state === "transferred" && p.udp.length) {
          void this.handOverUdp(p).then((u) => p.resolve({ ...result, udp: u }));
        } else p.resolve(result);
      }
    }
    if (e.role === "target" && state === "negotiated" && this.negotiationWaiters.size) {
      // A record that came before its negotiation (8.12) is opened once this drain has applied the kernel actions.
      const waiting = [...this.negotiationWaiters];
      this.negotiationWaiters.clear();
      setTimeout(() => { for (const f of waiting) f(); }, 0);
    }
    if (e.role === "target" && state === "retired") this.retiredUntil.set(address, this.ctx.now() + (e.untilMs as number));
    if (e.role === "target" && state === "released") this.release(address, e.returned === true);
    if (e.role === "target" && (state === "ended" || state === "refused")) {
      this.retiredUntil.delete(address);
      // Restored in repair mode but never released: closed without a FIN or RST.
      for (const r of this.restored.get(address) ?? []) this.io.repair.close(r.fd);
      this.restored.delete(address);
      // UDP flows: never released, closed; released and waiting for their hand-over (a return ends the
      // hosting at once), kept for it, at most 10 s.
      const udp = this.udpHere.get(address) ?? [];
      for (const u of udp) if (u.hold && !u.released) u.socket.close();
      const waiting = udp.filter((u) => u.hold && u.released);
      if (waiting.length) setTimeout(() => {
        for (const u of waiting) if (u.hold) u.socket.close();
      }, 10000).unref?.();
      if (!udp.some((u) => u.released)) this.udpHere.delete(address);
    }
    this.emit(state, e);
  }

  private async deliverState(address: string, e: EngineEvent): Promise<void> {
    const now = () => this.ctx.now();
    const p = this.pending.get(address);
    try {
      const session = this.sid.session(address);
      if (!session) throw new Error(`no session for ${address}`);
      const to = (e.target as string | undefined) ?? this.ctx.peerAddress(session.peer);
      if (!to) throw new Error(`no address for the target of ${address}`);
      if (p) p.sentTo = { to, sessionKey: session.sessionKey.slice(), sessionSpi: session.sessionSpi };
      let record: Uint8Array = empty;
      const trace = this.ctx.trace;
      trace?.({ step: "state-requested", address });
      let dumped = () => {};
      if (p) p.dumping = new Promise<void>((r) => (dumped = r));
      if (p?.socket) {
        let fd: number;
        try {
          fd = await this.io.detach(p.socket);
        } catch (err) {
          dumped();
          throw err;
        }
        trace?.({ step: "detached", address });
        const appState = p.appState?.() ?? empty;
        const r = this.io.repair.dump(fd);
        record = this.codec.encodeTcpState({ ...r, appState });
        p.dumped = { ...r, appState };
        this.handedOn.add(p.socket as object);
        this.io.discard(p.socket);
        this.emit("record", { address, step: "dumped", t: now(), bytes: record.length } satisfies RecordStep);
      }
      dumped();
      if (p && this.pending.get(address) !== p) {
        // The transfer failed while the socket was dumped (the negotiation refused: 8.12): restored here, nothing sent.
        p.channel?.close();
        return;
      }
      if (p?.udp.length) {
        // The flows' 4-tuples (no state yet: the flows go on here until the agent has the address).
        const udp = p.udp.map((u) => this.codec.encodeUdpFlow({ ...u.flow, appState: empty }));
        const all = new Uint8Array(record.length + udp.reduce((n, x) => n + x.length, 0));
        all.set(record, 0);
        udp.reduce((at, x) => (all.set(x, at), at + x.length), record.length);
        record = all;
      }
      let channel = p?.channel;
      if (p) p.channel = undefined;
      if (channel && channel.address !== to) {
        channel.close(); // the target named another Target Address
        channel = undefined;
      }
      trace?.({ step: "record-sending", address, channel: !!channel, warm: !!p?.warm });
      await sendState(this.codec, { address: to, port: this.ctx.controlPort, local: this.home.address }, session.sessionKey, session.sessionSpi, record, undefined, channel);
      trace?.({ step: "record-confirmed", address });
      this.ctx.log("info", { event: "sid-state-delivered", address, to, bytes: record.length });
      this.emit("record", { address, step: "delivered", t: now(), bytes: record.length } satisfies RecordStep);
      this.deliveredIfPending(address, p, true);
    } catch (err) {
      this.ctx.log("error", { event: "sid-state-failed", address, error: (err as Error).message });
      if (p) p.hostError = (err as Error).message;
      this.deliveredIfPending(address, p, false);
    }
    this.ctx.drain();
  }

  /** The record's outcome to the core, unless the transfer ended meanwhile (a refused negotiation, 8.12: the core forgot it). */
  private deliveredIfPending(address: string, p: Pending | undefined, ok: boolean): void {
    if (p && this.pending.get(address) !== p) return;
    try {
      this.sid.stateDelivered(this.ctx.now(), address, ok);
    } catch (e) {
      this.ctx.log("warn", { event: "sid-state-outcome-ignored", address, ok, error: (e as Error).message });
    }
  }

  /**
   * The transfer failed after the connection was dumped: the core has taken
   * the address back (stop and ARP rules gone), so the connection is rebuilt
   * here at once, from the same record, and goes back to the application.
   */
  private restoreHere(r: TcpStateRecord, result: TransferResult): void {
    try {
      const fd = this.io.repair.restore(r);
      this.io.repair.resume(fd, r.sendQueue.slice(r.sendQueue.length - r.unsentLength));
      result.socket = this.io.adopt ? this.io.adopt(fd) : fd;
      result.appState = r.appState;
      this.ctx.log("info", { event: "sid-restored-here", address: result.address });
    } catch (e) {
      this.ctx.log("error", { event: "sid-restore-here-failed", address: result.address, error: (e as Error).message });
    }
  }

  /** Addresses this node is (becoming) the target of, from the core's state. */
  private negotiated(): string[] {
    const s = this.sid.state(this.ctx.now());
    const list = (s.targets ?? []) as Record<string, unknown>[];
    return list.map((t) => (t.address ?? t.transferred) as string).filter((a) => typeof a === "string");
  }

  /** A state stream on the control port: opened with the key of the negotiated transfer it belongs to, restored in repair mode. */
  private async takeState(stream: Uint8Array, from: string): Promise<void> {
    this.ctx.trace?.({ step: "record-in", from, bytes: stream.length });
    const until = this.ctx.now() + RECORD_WAIT_MS;
    for (;;) {
      const lastError = await this.takeStateOnce(stream, from);
      if (lastError === null) return;
      // 8.12, the 1-RTT order: the record left with the negotiation and may come first: kept until a negotiation here opens it.
      // Only a configured peer's (its TCP connection came from that address), and a few at once: a flood of
      // forged streams is refused at once, as before.
      const left = until - this.ctx.now();
      if (left <= 0 || !this.ctx.knownPeer?.(from) || this.recordsWaiting >= RECORD_WAIT_MAX) throw new Error(`state record from ${from} refused: ${lastError}`);
      this.recordsWaiting++;
      try {
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, left);
          const waiters = this.negotiationWaiters;
          function done() {
            clearTimeout(t);
            waiters.delete(done);
            resolve();
          }
          waiters.add(done);
        });
      } finally {
        this.recordsWaiting--;
      }
      this.ctx.trace?.({ step: "record-retry", from });
    }
  }

  /** One attempt at a state stream: null once it is taken, else why no session here opens it. */
  private async takeStateOnce(stream: Uint8Array, from: string): Promise<string | null> {
    let opened: { address: string; record: Uint8Array; key: TargetUdp["key"] } | null = null;
    let lastError = "no transfer to this node is under way";
    for (const address of this.negotiated()) {
      const session = this.sid.session(address);
      if (!session) continue;
      try {
        opened = { address, record: this.codec.openState(session.sessionKey, session.sessionSpi, stream), key: { sessionKey: session.sessionKey.slice(), sessionSpi: session.sessionSpi } };
        break;
      } catch (e) {
        lastError = (e as Error).message;
      }
    }
    if (!opened) {
      // The UDP hand-over of a session this node holds (8.12, "UDP flows").
      for (const [address, list] of this.udpHere) {
        if (!list.length || list.every((u) => u.appState)) continue;
        const { sessionKey, sessionSpi } = list[0].key;
        let plain: Uint8Array;
        try {
          plain = this.codec.openState(sessionKey, sessionSpi, stream, HANDOVER_BASE);
        } catch (e) {
          lastError = (e as Error).message;
          continue;
        }
        this.takeUdpHandOver(address, list, plain);
        return null;
      }
      return lastError;
    }
    const { address, record, key } = opened;
    const bound: TargetUdp[] = [];
    try {
      for (const rec of this.codec.decodeStateRecords(record)) {
        if (rec.kind === "udp") {
          bound.push(this.bindUdp(rec.record, key));
          continue;
        }
        const r = rec.record;
        const fd = this.io.repair.restore(r);
        const list = this.restored.get(address) ?? [];
        list.push({ fd, unsent: r.sendQueue.slice(r.sendQueue.length - r.unsentLength), appState: r.appState.slice(), local: r.local, localPort: r.localPort, remote: r.remote, remotePort: r.remotePort });
        this.restored.set(address, list);
      }
      if (bound.length) {
        // Bound and connected before the address can be released here: nothing that comes for them is refused.
        await Promise.all(bound.map((u) => u.ready));
        this.udpHere.set(address, bound);
        this.sid.udpPass(address, bound.map((u) => u.flow));
      }
    } catch (e) {
      for (const u of bound) u.socket.close();
      this.sid.stateReceived(this.ctx.now(), address, false);
      this.ctx.drain();
      throw e;
    }
    this.ctx.trace?.({ step: "record-restored", address });
    this.ctx.log("info", { event: "sid-state-received", address, bytes: record.length });
    this.emit("record", { address, step: "restored", t: this.ctx.now(), bytes: record.length } satisfies RecordStep);
    this.sid.stateReceived(this.ctx.now(), address, true);
    this.ctx.drain();
    return null;
  }

  /** A UDP flow of the state record: a socket bound to its address and port, connected to its peer, holding what arrives. */
  private bindUdp(r: UdpFlowRecord, key: TargetUdp["key"]): TargetUdp {
    const socket = createSocket({ type: r.local.includes(":") ? "udp6" : "udp4", reuseAddr: true });
    const hold = (m: Uint8Array, ri: RemoteInfo) => void u.held.push([m, ri]);
    const u: TargetUdp = { socket, flow: { local: r.local, localPort: r.localPort, remote: r.remote, remotePort: r.remotePort }, held: [], hold, appState: null, released: false, key, ready: Promise.resolve() };
    socket.on("message", hold);
    socket.on("error", (e) => this.ctx.log("warn", { event: "sid-udp-error", local: `${r.local}:${r.localPort}`, error: e.message }));
    u.ready = new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ address: r.local, port: r.localPort }, () => socket.connect(r.remotePort, r.remote, () => {
        socket.off("error", reject);
        resolve();
      }));
    });
    return u;
  }

  private takeUdpHandOver(address: string, list: TargetUdp[], plain: Uint8Array): void {
    for (const rec of this.codec.decodeStateRecords(plain)) {
      if (rec.kind !== "udp") throw new Error("the UDP hand-over carries a TCP state record");
      const r = rec.record;
      const u = list.find((x) => x.flow.localPort === r.localPort && x.flow.remotePort === r.remotePort && x.flow.remote === r.remote);
      if (!u) throw new Error(`the UDP hand-over names a flow ${r.local}:${r.localPort} the record did not`);
      u.appState = r.appState.slice();
    }
    this.ctx.log("info", { event: "sid-udp-taken-over", address, flows: list.length });
    this.giveUdp(address);
  }

  /** The UDP flows whose state has come go to the application once the address is delivered here. */
  private giveUdp(address: string): void {
    const list = this.udpHere.get(address) ?? [];
    for (const u of list) {
      if (!u.appState || !u.released || !u.hold) continue;
      const hold = u.hold;
      u.hold = null;
      this.live.set(address, (this.live.get(address) ?? 0) + 1);
      u.socket.once("close", () => {
        const n = (this.live.get(address) ?? 1) - 1;
        this.live.set(address, n);
        if (n === 0) {
          this.live.delete(address);
          this.udpHere.delete(address);
          this.sessionEnded(address);
        }
      });
      const arrived: ArrivedSession = { address, socket: u.socket, fd: -1, appState: u.appState, local: u.flow.local, localPort: u.flow.localPort, remote: u.flow.remote, remotePort: u.flow.remotePort, udp: true };
      this.emit("session", arrived);
      // The application listens now: what arrived meanwhile first, in order, then the socket's own.
      u.socket.off("message", hold);
      for (const [m, ri] of u.held.splice(0)) u.socket.emit("message", m, ri);
    }
  }

  /**
   * `released`: the network delivers the address here; the restored sockets go
   * live now, before the core's next outputs remove the stop rule and let the
   * held packets in, and go to the application once those outputs are done
   * (a microtask after this drain: the packets wait in the live socket
   * meanwhile, not behind the application's handler). After a return (the
   * address is this node's own again) their close ends no hosting.
   */
  private release(address: string, returned: boolean): void {
    this.ctx.trace?.({ step: "release", address });
    for (const u of this.udpHere.get(address) ?? []) u.released = true;
    this.giveUdp(address);
    const list = this.restored.get(address) ?? [];
    this.restored.delete(address);
    const live: Restored[] = [];
    for (const r of list) {
      try {
        this.io.repair.resume(r.fd, r.unsent);
        live.push(r);
        this.ctx.trace?.({ step: "resumed", address });
      } catch (e) {
        this.ctx.log("error", { event: "sid-resume-failed", address, error: (e as Error).message });
      }
    }
    if (live.length) queueMicrotask(() => this.handOut(address, live, returned));
  }

  /** The resumed sockets of `address` to the application (event `session`). */
  private handOut(address: string, list: Restored[], returned: boolean): void {
    for (const r of list) {
      try {
        const socket = this.io.adopt ? this.io.adopt(r.fd) : null;
        if (!socket) this.ctx.log("warn", { event: "sid-no-adoption", address, fd: r.fd, message: "this runtime cannot make a socket of the restored descriptor: the application gets the descriptor only" });
        this.live.set(address, (this.live.get(address) ?? 0) + 1);
        const ended = () => {
          if (socket && this.handedOn.has(socket as object)) return;
          const n = (this.live.get(address) ?? 1) - 1;
          this.live.set(address, n);
          if (n === 0) {
            this.live.delete(address);
            this.sessionEnded(address);
          }
        };
        if (socket && !returned) (socket as { once(ev: string, fn: () => void): void }).once("close", ended);
        const arrived: ArrivedSession = { address, socket, fd: r.fd, appState: r.appState, local: r.local, localPort: r.localPort, remote: r.remote, remotePort: r.remotePort };
        this.ctx.trace?.({ step: "session", address });
        this.emit("session", arrived);
      } catch (e) {
        this.ctx.log("error", { event: "sid-adopt-failed", address, error: (e as Error).message });
      }
    }
  }

  /** Target: every flow of the address has ended: the core deregisters (Binding Update, lifetime 0) and removes it. */
  sessionEnded(address: string): void {
    try {
      this.sid.sessionEnded(this.ctx.now(), address);
    } catch (e) {
      this.ctx.log("warn", { event: "sid-session-ended-failed", address, error: (e as Error).message });
    }
    this.ctx.drain();
  }

  state(): Record<string, unknown> {
    return this.sid.state(this.ctx.now());
  }
}
