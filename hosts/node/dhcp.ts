// The Node host's I/O for the core's DHCPv4 client (docs/dataplane.md
// section "DHCPv4 session addresses"): broadcasts from 0.0.0.0 (DISCOVER,
// the selecting REQUEST, DECLINE) go out as the Ethernet frames the core
// built, through a send-only AF_PACKET socket; unicasts from a leased
// address (renewal, rebinding broadcast, RELEASE) through a UDP socket bound
// to that address and port 68; replies come in on port 68 (a socket on
// 0.0.0.0 for the broadcast replies, the leased address's socket for the
// unicast ones). The host aliases nothing itself: it reports bound / lost and
// the caller (the address registry, or a test) adds or removes the address.
import dgram from "node:dgram";
import { EventEmitter } from "node:events";
import { openPacket } from "./packet.ts";
import type { PacketLink, DatagramSocket } from "../shared/sidio.ts";
import { DhcpCore, type DhcpOutput } from "../shared/dhcp.ts";
import type { Core } from "../shared/core.ts";

const CLIENT_PORT = 68;
const SERVER_PORT = 67;

export interface DhcpLease { slot: number; address: string; mask: string; router: string; server: string; lease: number; t1: number; t2: number }

/**
 * One interface's DHCP clients. Events: "bound", "renewed", "lost",
 * "released" (the core's outputs, docs/ABI.md), "error".
 */
export class DhcpHost extends EventEmitter {
  readonly dhcp: DhcpCore;
  readonly ifname: string;
  private packet: PacketLink;
  private any: dgram.Socket;
  private leased = new Map<string, dgram.Socket>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pending = new Map<number, { resolve: (l: DhcpLease) => void; reject: (e: Error) => void }>();
  private closed = false;
  /** The `now` clock fed to the core (ms). */
  readonly clock: () => number;

  private constructor(core: Core, ifname: string, any: dgram.Socket, clock: () => number) {
    super();
    this.dhcp = new DhcpCore(core);
    this.ifname = ifname;
    this.clock = clock;
    this.packet = openPacket(ifname, 0); // protocol 0: sends, receives nothing
    this.any = any;
    any.on("message", (m) => this.input(m));
  }

  /** Opens the sockets for interface ifname (needs CAP_NET_RAW and CAP_NET_BIND_SERVICE). */
  static async open(core: Core, ifname: string, clock: () => number = Date.now): Promise<DhcpHost> {
    const any = await udp("0.0.0.0");
    return new DhcpHost(core, ifname, any, clock);
  }

  get mac(): Uint8Array { return this.packet.mac; }

  /** A new session address: resolves with the lease when bound, rejects when the client gives up. */
  acquire(): Promise<DhcpLease> {
    const slot = this.dhcp.newClient(this.packet.mac);
    const p = new Promise<DhcpLease>((resolve, reject) => this.pending.set(slot, { resolve, reject }));
    this.dhcp.start(this.clock(), slot);
    void this.pump();
    return p;
  }
  /** DHCPRELEASE and the client's end. */
  async release(slot: number): Promise<void> {
    this.dhcp.release(this.clock(), slot);
    await this.pump();
  }
  /** The lease record for a transfer; this node forgets the client (it neither renews nor releases it). */
  async handOff(slot: number): Promise<Uint8Array> {
    const rec = this.dhcp.exportLease(this.clock(), slot);
    const addr = this.dhcp.info(slot).address;
    this.dhcp.free(slot);
    this.closeLeased(addr);
    await this.pump();
    return rec;
  }
  /** Takes over a lease that came with a transfer (the caller aliases its address first); its slot. */
  async adopt(record: Uint8Array): Promise<number> {
    const slot = this.dhcp.importLease(this.clock(), this.packet.mac, record);
    await this.socketFor(this.dhcp.info(slot).address);
    await this.pump();
    return slot;
  }

  private input(m: Uint8Array): void {
    if (this.closed) return;
    const r = this.dhcp.handleCode(this.clock(), m);
    if (r >= 0) void this.pump();
  }

  /** Sends and reports every queued output, then sets the timer for the next one. */
  private async pump(): Promise<void> {
    if (this.closed) return;
    this.dhcp.tick(this.clock());
    for (const o of this.dhcp.poll()) await this.output(o);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.dhcp.nextTimeout();
    if (next !== undefined) {
      this.timer = setTimeout(() => void this.pump().catch((e) => this.emit("error", e)), Math.max(0, Math.min(next - this.clock(), 2 ** 31 - 1)));
      this.timer.unref?.();
    }
  }

  private async output(o: DhcpOutput): Promise<void> {
    switch (o.kind) {
      case "frame":
        this.packet.send(o.frame);
        return;
      case "udp": {
        const s = await this.socketFor(o.src);
        await new Promise<void>((res) => s.send(o.payload, SERVER_PORT, o.dst, (e) => { if (e) this.emit("error", e); res(); }));
        return;
      }
      case "bound": {
        const { kind, ...lease } = o;
        this.emit("bound", lease);
        this.pending.get(o.slot)?.resolve(lease);
        this.pending.delete(o.slot);
        return;
      }
      case "renewed":
        this.emit("renewed", o);
        return;
      case "lost":
        this.emit("lost", o);
        this.closeLeased(o.address);
        this.pending.get(o.slot)?.reject(new Error(`DHCP: no lease (${o.reason})`));
        this.pending.delete(o.slot);
        return;
      case "released":
        this.emit("released", o);
        // the RELEASE is queued before this event: close after it went
        setTimeout(() => this.closeLeased(o.address), 100).unref?.();
        return;
    }
  }

  /** The UDP socket bound to address:68 (the address must be local: the caller aliased it). */
  private async socketFor(address: string): Promise<dgram.Socket> {
    let s = this.leased.get(address);
    if (!s) {
      s = await udp(address);
      s.on("message", (m) => this.input(m));
      this.leased.set(address, s);
    }
    return s;
  }
  private closeLeased(address: string): void {
    const s = this.leased.get(address);
    if (s) { this.leased.delete(address); s.close(); }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.leased.values()) s.close();
    this.leased.clear();
    this.any.close();
    this.packet.close();
  }
}

/** SidHostIO.udp4 (node:dgram, which Deno and Bun provide too). */
export async function udp4Socket(address: string, port: number, onMessage: (m: Uint8Array) => void): Promise<DatagramSocket> {
  const s = await udp(address, port);
  s.on("message", (m) => onMessage(new Uint8Array(m)));
  return {
    // node:dgram sends after a tick (its address lookup): the promise settles when the datagram is out
    send: (data, p, a) => new Promise<void>((resolve, reject) => s.send(data, p, a, (e) => (e ? reject(e) : resolve()))),
    close: () => s.close(),
  };
}

function udp(address: string, port = CLIENT_PORT): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type: "udp4", reuseAddr: true });
    s.once("error", reject);
    s.bind(port, address, () => {
      s.off("error", reject);
      s.setBroadcast(true);
      resolve(s);
    });
  });
}
