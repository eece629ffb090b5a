// SID's data plane on a host, runtime-neutral (docs/PROTOCOL.md 8.9-8.14):
// the binding's VXLAN tunnel from the core's rtnetlink requests, the claim of
// an address on the home link with the core's ARP frames, the TCP state
// record sealed into frames and carried over TCP to the target's control
// port, and the stop rule that keeps a connection's packets away while its
// socket moves. Which of these happens when is the state machines' business
// (the core); this file only does what it is told and reports errors.

import { createServer, connect, type Server, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import type { KernelIO } from "./io.ts";
import type { PacketLink } from "./sidio.ts";
import { SidCodec } from "./sid.ts";
import { HandoverError } from "./core.ts";
import { ErrorCode, OPTION_SPECS } from "./registry.ts";
import { NETLINK_ROUTE, NLMSG_ERROR } from "./linux.ts";


/** The tunnel's defaults (docs/PROTOCOL.md 8.9), the core's options': VXLAN's port, the device's MTU, the binding's table. */
export const TUNNEL_PORT = OPTION_SPECS.sidTunnelPort.default;
export const TUNNEL_MTU = OPTION_SPECS.sidTunnelMtu.default;
export const TUNNEL_TABLE = OPTION_SPECS.sidRouteTable.default;
/** The binding's own return table at the target, as the core chooses it (PROTOCOL.md 8.9 step 4): the base plus the VNI. */
const returnTable = (vni: number, table?: number) => table ?? TUNNEL_TABLE + vni;
/** The source rule's priority when the host applies the pieces by hand (the state machines choose their own). */
export const TUNNEL_RULE_PRIORITY = 1000;
const MAIN_TABLE = 254;

/** The kernel refused a request: what, and its errno. */
export class SidKernelError extends Error {
  constructor(readonly what: string, readonly errno: number, detail = "") {
    super(`${what}: the kernel refused it (errno ${errno})${detail ? `: ${detail}` : ""}`);
    this.name = "SidKernelError";
  }
}

/** An interface's index in this network namespace (sysfs; every runtime has node:fs). */
export function ifindexOf(name: string): number {
  return Number(readFileSync(`/sys/class/net/${name}/ifindex`, "utf8").trim());
}

/** The errno an rtnetlink acknowledgement carries (0: done; -1: no acknowledgement). */
export function ackErrno(reply: Uint8Array): number {
  const v = new DataView(reply.buffer, reply.byteOffset, reply.length);
  return reply.length >= 20 && v.getUint16(4, true) === NLMSG_ERROR ? -v.getInt32(16, true) : -1;
}

export interface TunnelSpec {
  role: "agent" | "target";
  sessionKey: Uint8Array;
  /** This end's and the other end's address (outer). */
  local: string;
  peer: string;
  /** The Transferred Address. */
  transferred: string;
  /** Reverse-tunnelled return (8.10): the target routes X's packets into the tunnel, the agent accepts them. */
  reverse: boolean;
  port?: number;
  mtu?: number;
  table?: number;
}

/** What tunnelUp made, for tunnelDown. */
export interface Tunnel {
  spec: TunnelSpec;
  name: string;
  vni: number;
  ifindex: number;
  ownMac: Uint8Array;
  peerMac: Uint8Array;
  filter: boolean;
}

export class SidPlane {
  readonly sid: SidCodec;
  constructor(private kernel: KernelIO, sid: SidCodec) {
    this.sid = sid;
  }

  /** Sends one rtnetlink request and throws SidKernelError unless the kernel acknowledged it. */
  netlink(request: Uint8Array, what: string, okErrnos: number[] = []): void {
    const errno = ackErrno(this.kernel.netlink(NETLINK_ROUTE, request, true));
    if (errno !== 0 && !okErrnos.includes(errno)) throw new SidKernelError(what, errno);
  }

  /** Runs an nft batch and throws SidKernelError with nft's text on failure. */
  nft(batch: string, what: string): void {
    const r = this.kernel.nft(batch);
    if (r.status !== 0) throw new SidKernelError(what, r.status, r.error.trim());
  }

  /** The binding's tunnel at one end, as 8.9 "Kernel actions" lists it (steps 1-5). */
  tunnelUp(spec: TunnelSpec): Tunnel {
    const sid = this.sid;
    const ids = sid.tunnelIds(spec.sessionKey);
    const agent = spec.role === "agent";
    const ownMac = agent ? ids.agentMac : ids.targetMac;
    const peerMac = agent ? ids.targetMac : ids.agentMac;
    const port = spec.port ?? TUNNEL_PORT;
    const v6 = spec.transferred.includes(":");
    this.netlink(sid.vxlanLink({ add: true, name: ids.name, mac: ownMac, mtu: spec.mtu ?? TUNNEL_MTU, vni: ids.vni, local: spec.local, port }), `vxlan link ${ids.name}`);
    const ifindex = ifindexOf(ids.name);
    const t: Tunnel = { spec, name: ids.name, vni: ids.vni, ifindex, ownMac, peerMac, filter: false };
    try {
      this.netlink(sid.fdbEntry(true, ifindex, peerMac, spec.peer), `fdb ${ids.name} -> ${spec.peer}`);
      if (agent) {
        this.netlink(sid.neighEntry(true, ifindex, spec.transferred, peerMac), `neighbour ${spec.transferred} on ${ids.name}`);
        this.netlink(sid.tunnelRoute({ add: true, dst: spec.transferred, prefix: v6 ? 128 : 32, ifindex, table: MAIN_TABLE }), `route ${spec.transferred} into ${ids.name}`);
      } else if (spec.reverse) {
        this.netlink(sid.neighEntry(true, ifindex, spec.peer, peerMac), `neighbour ${spec.peer} on ${ids.name}`);
        this.netlink(sid.tunnelRoute({ add: true, dst: v6 ? "::" : "0.0.0.0", prefix: 0, ifindex, gateway: spec.peer, table: returnTable(ids.vni, spec.table) }), `default route via ${spec.peer} into ${ids.name}`);
        this.netlink(sid.sourceRule({ add: true, src: spec.transferred, prefix: v6 ? 128 : 32, table: returnTable(ids.vni, spec.table), priority: TUNNEL_RULE_PRIORITY }), `rule from ${spec.transferred}`);
      }
      if (!agent || spec.reverse) {
        this.nft(sid.tunnelFilter(true, spec.peer, port, ids.vni), `tunnel filter on ${ids.name}`);
        t.filter = true;
      }
    } catch (e) {
      this.tunnelDown(t);
      throw e;
    }
    return t;
  }

  /** Removes what tunnelUp made (8.9 step 6); what is already gone is no error. */
  tunnelDown(t: Tunnel): void {
    const sid = this.sid;
    const s = t.spec;
    const v6 = s.transferred.includes(":");
    const gone = [2, 3, 19]; // ENOENT, ESRCH, ENODEV
    if (s.role === "target" && s.reverse) {
      this.netlink(sid.sourceRule({ add: false, src: s.transferred, prefix: v6 ? 128 : 32, table: returnTable(t.vni, s.table), priority: TUNNEL_RULE_PRIORITY }), `rule from ${s.transferred} removed`, gone);
    }
    if (t.filter) {
      const r = this.kernel.nft(sid.tunnelFilter(false, s.peer, s.port ?? TUNNEL_PORT, t.vni));
      if (r.status !== 0 && !/No such file/.test(r.error)) throw new SidKernelError(`tunnel filter on ${t.name} removed`, r.status, r.error.trim());
      t.filter = false;
    }
    this.netlink(sid.vxlanLink({ add: false, name: t.name, mac: t.ownMac, mtu: s.mtu ?? TUNNEL_MTU, vni: t.vni, local: s.local, port: s.port ?? TUNNEL_PORT }), `vxlan link ${t.name} removed`, gone);
  }
}

/**
 * Claims an address on the home link (8.14): the gratuitous ARP now and twice
 * more 1 s apart, and a proxy-ARP reply to every ARP request for it until
 * release(). `link` is an ETH_P_ARP packet socket on the home interface.
 */
export function claimAddress(sid: SidCodec, link: PacketLink, address: string, opts: { announcements?: number; spacingMs?: number; onAnswer?: (askerIp: string) => void } = {}): { release(): void; answered(): number } {
  const garp = sid.gratuitousArp(link.mac, address);
  let answered = 0;
  let active = true;
  const timers: ReturnType<typeof setTimeout>[] = [];
  link.receive((frame) => {
    if (!active) return;
    let arp;
    try {
      arp = sid.parseArp(frame);
    } catch {
      return; // malformed ARP: not answered
    }
    if (arp?.op !== "request" || arp.targetIp !== address) return;
    if (arp.senderIp === address) return; // our own announcement, looped back
    link.send(sid.arpReply(link.mac, address, arp.senderMac, arp.senderIp));
    answered++;
    opts.onAnswer?.(arp.senderIp);
  });
  const n = opts.announcements ?? 3;
  for (let i = 0; i < n; i++) {
    if (i === 0) link.send(garp);
    else timers.push(setTimeout(() => active && link.send(garp), i * (opts.spacingMs ?? 1000)));
  }
  return {
    release() {
      active = false;
      for (const t of timers) clearTimeout(t);
      link.close();
    },
    answered: () => answered,
  };
}

/** One byte the target writes back once the record has opened and the socket is restored (8.11). */
export const STATE_RESTORED = 0x01;

/** A TCP connection to the target's control port that will carry one state record (8.11). */
export interface StateChannel {
  readonly address: string;
  /** Writes the sealed frames (once connected) and ends; resolves once the target reports the socket restored, rejects if it closes without that. */
  send(frames: Uint8Array[], timeoutMs?: number): Promise<void>;
  /** Gives the connection up (no record sent: the target discards it). */
  close(): void;
  /** True once the connection failed or closed before a record: it can carry none. */
  readonly broken: boolean;
  /** Calls fn once if the connection breaks before it is used (a kept one is opened again). */
  onBreak(fn: () => void): void;
}

/**
 * Opens the connection for a state record now, before the record exists:
 * the transferring node opens it when the transfer starts, so that the TCP
 * handshake overlaps the negotiation and the record goes out the moment it is
 * dumped (PROTOCOL.md 8.12). A connection that ends without a record is
 * nothing to the target (it discards it).
 */
export function stateChannel(to: { address: string; port: number; local?: string }): StateChannel {
  const s = connect({ host: to.address, port: to.port, localAddress: to.local });
  let earlyError: Error | null = null;
  let used = false;
  let broke: (() => void) | null = null;
  const ready = new Promise<void>((resolve, reject) => {
    s.once("connect", () => resolve());
    s.once("error", (e) => reject((earlyError = e)));
    s.once("close", () => {
      reject((earlyError ??= new Error(`the target ${to.address}:${to.port} closed the state connection before the record`)));
      if (!used) broke?.();
    });
  });
  ready.catch(() => {});
  return {
    address: to.address,
    get broken() {
      return earlyError !== null || s.destroyed;
    },
    onBreak(fn) {
      broke = fn;
    },
    send(frames, timeoutMs = 5000) {
      used = true;
      return new Promise((resolve, reject) => {
        let done = false;
        const finish = (e?: Error) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          s.destroy();
          e ? reject(e) : resolve();
        };
        const timer = setTimeout(() => finish(new Error(`the target ${to.address}:${to.port} did not confirm the state record within ${timeoutMs} ms`)), timeoutMs);
        if (earlyError || s.destroyed) return finish(earlyError ?? new Error(`the state connection to ${to.address}:${to.port} is closed`));
        s.on("data", (d: Uint8Array) => finish(d[0] === STATE_RESTORED ? undefined : new Error(`the target answered ${d[0]} to the state record`)));
        s.on("error", (e) => finish(e));
        s.on("close", () => finish(new Error(`the target ${to.address}:${to.port} refused the state record (closed without confirming)`)));
        ready.then(() => {
          for (const f of frames) s.write(f);
          s.end();
        }, (e) => finish(e));
      });
    },
    close() {
      used = true;
      s.destroy();
    },
  };
}

/**
 * Sends a TCP state record to the target's control port, sealed under the
 * session key as frames (8.11); resolves once the target reports the socket
 * restored, rejects if it closes without that (it refused the record).
 */
export function sendState(sid: SidCodec, to: { address: string; port: number; local?: string }, sessionKey: Uint8Array, sessionSpi: number, record: Uint8Array, timeoutMs = 5000, channel?: StateChannel, base = 0): Promise<void> {
  const frames = sid.sealState(sessionKey, sessionSpi, record, base);
  return (channel ?? stateChannel(to)).send(frames, timeoutMs);
}

/** Largest stream of frames the target reads: the record's limits (8.12) plus the frames' overhead. */
const MAX_STATE_STREAM = 2 * 64 * 1048576 + 1048576 + 65536 + 8192 * 20;

/**
 * The target's control port for state records (8.11): every connection's
 * bytes, once it ends, go to `take(stream, from)`, which opens and restores
 * them; if it returns, the connection gets STATE_RESTORED, if it throws,
 * nothing (the connection is dropped and onError hears why).
 */
export function stateListener(at: { address: string; port: number }, take: (stream: Uint8Array, from: string) => void | Promise<void>, onError: (e: Error) => void): Promise<Server> {
  // Connections opened ahead (8.12, the 1-RTT order) wait idle: they go with the server.
  const idle = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s: Socket) => {
    const parts: Uint8Array[] = [];
    let size = 0;
    idle.add(s);
    s.on("close", () => idle.delete(s));
    s.on("data", (d: Uint8Array) => {
      idle.delete(s);
      size += d.length;
      if (size > MAX_STATE_STREAM) {
        onError(new HandoverError(ErrorCode.RECORD_TOO_LONG, `state stream from ${s.remoteAddress} over ${MAX_STATE_STREAM} bytes`));
        s.destroy();
        return;
      }
      parts.push(d);
    });
    s.on("error", () => {});
    s.on("end", async () => {
      idle.delete(s);
      // A connection opened ahead that ends unused carried no record: nothing to refuse.
      if (size === 0) {
        s.destroy();
        return;
      }
      try {
        const stream = new Uint8Array(size);
        let o = 0;
        for (const p of parts) {
          stream.set(p, o);
          o += p.length;
        }
        await take(stream, s.remoteAddress ?? "");
        s.end(Uint8Array.of(STATE_RESTORED));
      } catch (err) {
        onError(err as Error);
        s.destroy();
      }
    });
  });
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    for (const s of idle) s.destroy();
    idle.clear();
    return close(cb);
  }) as typeof server.close;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(at.port, at.address, () => resolve(server));
  });
}
