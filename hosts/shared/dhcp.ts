// The DHCPv4 client of the core (docs/ABI.md "DHCPv4 client", PROTOCOL.md
// 8.19), bound for the hosts: one client (one client identifier) per session
// address. Runtime-neutral: the host's I/O (hosts/node/dhcp.ts) sends what
// poll() returns and feeds handle() with the datagrams of port 68.
import { Core, HandoverError } from "./core.ts";
import { ErrorCode } from "./registry.ts";

export const DhcpState = ["free", "init", "selecting", "requesting", "bound", "renewing", "rebinding", "lost", "declined"] as const;
export type DhcpStateName = typeof DhcpState[number];
export const DhcpType = ["", "discover", "offer", "request", "decline", "ack", "nak", "release", "inform"] as const;
export const LostReason = ["", "nak", "expired", "no-answer"] as const;

export function ip4ToInt(s: string): number {
  const p = s.split(".").map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new HandoverError(ErrorCode.INVALID_ARGUMENT, `not an IPv4 address: ${s}`);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}
export function intToIp4(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
}

/** What dhcp_poll hands out. */
export type DhcpOutput =
  | { kind: "frame"; slot: number; frame: Uint8Array }
  | { kind: "udp"; slot: number; src: string; dst: string; payload: Uint8Array }
  | { kind: "bound" | "renewed"; slot: number; address: string; mask: string; router: string; server: string; lease: number; t1: number; t2: number }
  | { kind: "lost"; slot: number; reason: typeof LostReason[number]; address: string }
  | { kind: "released"; slot: number; address: string };

export interface DhcpDecoded {
  op: number; htype: number; hlen: number; type: typeof DhcpType[number]; xid: number; secs: number; flags: number;
  ciaddr: string; yiaddr: string; siaddr: string; giaddr: string; chaddr: Uint8Array; has: number;
  mask?: string; router?: string; requested?: string; lease?: number; serverId?: string; t1?: number; t2?: number;
  clientId?: Uint8Array; params?: number[];
}

export interface DhcpClientInfo {
  state: DhcpStateName; address: string; server: string; xid: number; clientId: Uint8Array; t1At: number; t2At: number; expiresAt: number;
}

export class DhcpCore {
  readonly core: Core;
  constructor(core: Core) { this.core = core; }

  /** A new client (a new client identifier) for the interface with this Ethernet address; its slot. */
  newClient(mac: Uint8Array): number {
    const c = this.core;
    return c.check(c.x.dhcp_client_new(c.put(mac)), "cannot make a DHCP client");
  }
  start(now: number, slot: number): void { this.core.check(this.core.x.dhcp_client_start(now, slot), "cannot start the DHCP client"); }
  release(now: number, slot: number): void { this.core.check(this.core.x.dhcp_release(now, slot), "cannot release"); }
  decline(now: number, slot: number): void { this.core.check(this.core.x.dhcp_decline(now, slot), "cannot decline"); }
  free(slot: number): void { this.core.check(this.core.x.dhcp_client_free(slot), "no such DHCP client"); }
  reset(): void { this.core.x.dhcp_reset(); }
  state(slot: number): DhcpStateName { return DhcpState[this.core.x.dhcp_client_state(slot)]; }
  info(slot: number): DhcpClientInfo {
    const c = this.core;
    c.check(c.x.dhcp_client_info(slot, c.outputPtr), "no such DHCP client");
    const b = c.get(c.outputPtr, 40);
    const v = new DataView(b.buffer);
    const n = c.check(c.x.dhcp_client_id(slot, c.outputPtr, 255));
    return {
      state: DhcpState[b[0]], address: intToIp4(v.getUint32(4)), server: intToIp4(v.getUint32(8)), xid: v.getUint32(12),
      t1At: v.getFloat64(16, true), t2At: v.getFloat64(24, true), expiresAt: v.getFloat64(32, true),
      clientId: c.get(c.outputPtr, n),
    };
  }
  /** A datagram from port 67: the slot it moved; throws HandoverError (DHCP_UNMATCHED, a decoder's code). */
  handle(now: number, payload: Uint8Array): number {
    const c = this.core;
    return c.check(c.x.dhcp_handle(now, c.put(payload), payload.length), "DHCP message refused");
  }
  /** The same, returning the negated code instead of throwing. */
  handleCode(now: number, payload: Uint8Array): number {
    const c = this.core;
    return c.x.dhcp_handle(now, c.put(payload), payload.length);
  }
  tick(now: number): void { this.core.x.dhcp_tick(now); }
  /** When tick() has work next (ms on the `now` clock), or undefined. */
  nextTimeout(): number | undefined {
    const t = this.core.x.dhcp_next_timeout();
    return t < 0 ? undefined : t;
  }
  /** Every queued output, oldest first. */
  poll(): DhcpOutput[] {
    const c = this.core;
    const out: DhcpOutput[] = [];
    for (;;) {
      const n = c.check(c.x.dhcp_poll(c.outputPtr, c.ioCapacity));
      if (n === 0) return out;
      const r = c.get(c.outputPtr, n);
      const v = new DataView(r.buffer);
      const slot = v.getUint16(2);
      const ip = (o: number) => intToIp4(v.getUint32(o));
      switch (r[0]) {
        case 1: out.push({ kind: "frame", slot, frame: r.slice(4) }); break;
        case 2: out.push({ kind: "udp", slot, src: ip(4), dst: ip(8), payload: r.slice(12) }); break;
        case 3: case 4:
          out.push({ kind: r[0] === 3 ? "bound" : "renewed", slot, address: ip(4), mask: ip(8), router: ip(12), server: ip(16), lease: v.getUint32(20), t1: v.getUint32(24), t2: v.getUint32(28) });
          break;
        case 5: out.push({ kind: "lost", slot, reason: LostReason[r[1]] ?? "", address: ip(4) }); break;
        case 6: out.push({ kind: "released", slot, address: ip(4) }); break;
        default: throw new Error(`unknown DHCP output kind ${r[0]}`);
      }
    }
  }
  /** The lease record (PROTOCOL.md 8.19) of a bound client, for the transfer. */
  exportLease(now: number, slot: number): Uint8Array {
    const c = this.core;
    const n = c.check(c.x.dhcp_lease_export(now, slot, c.outputPtr, c.ioCapacity), "cannot export the lease");
    return c.get(c.outputPtr, n);
  }
  /** Takes over a lease from its record; the new client's slot. */
  importLease(now: number, mac: Uint8Array, record: Uint8Array): number {
    const c = this.core;
    const [m, r] = c.stage(mac, record);
    return c.check(c.x.dhcp_lease_import(now, m, r, record.length), "cannot take over the lease");
  }
  /** Decodes any DHCP message; throws HandoverError with the decoder's code. */
  decode(msg: Uint8Array): DhcpDecoded {
    const c = this.core;
    const t = c.check(c.x.dhcp_decode(c.put(msg), msg.length, c.outputPtr), "cannot decode the DHCP message");
    const b = c.get(c.outputPtr, 630);
    const v = new DataView(b.buffer);
    const ip = (o: number) => intToIp4(v.getUint32(o));
    const has = v.getUint32(44);
    const d: DhcpDecoded = {
      op: b[0], htype: b[1], hlen: b[2], type: DhcpType[t], xid: v.getUint32(4), secs: v.getUint16(8), flags: v.getUint16(10),
      ciaddr: ip(12), yiaddr: ip(16), siaddr: ip(20), giaddr: ip(24), chaddr: b.slice(28, 28 + Math.min(16, b[2])), has,
    };
    if (has & 1) d.mask = ip(48);
    if (has & 2) d.router = ip(52);
    if (has & 4) d.requested = ip(56);
    if (has & 8) d.lease = v.getUint32(60);
    if (has & 16) d.serverId = ip(64);
    if (has & 32) d.t1 = v.getUint32(68);
    if (has & 64) d.t2 = v.getUint32(72);
    if (has & 128) d.clientId = b.slice(78, 78 + b[76]);
    if (has & 256) d.params = Array.from(b.slice(333, 333 + b[77]));
    return d;
  }
  /** Encodes a client message (tests, vectors). */
  encode(f: { type: number; xid: number; secs?: number; broadcast?: boolean; params?: boolean; ciaddr?: string; requested?: string; serverId?: string; mac: Uint8Array; clientId: Uint8Array }): Uint8Array {
    const c = this.core;
    const [m, id] = c.stage(f.mac, f.clientId);
    const n = c.check(c.x.dhcp_encode(f.type, f.xid >>> 0, f.secs ?? 0, (f.broadcast ? 1 : 0) | (f.params ? 2 : 0),
      f.ciaddr ? ip4ToInt(f.ciaddr) : 0, f.requested ? ip4ToInt(f.requested) : 0, f.serverId ? ip4ToInt(f.serverId) : 0,
      m, id, f.clientId.length, c.outputPtr, c.ioCapacity), "cannot encode the DHCP message");
    return c.get(c.outputPtr, n);
  }
  /** A client broadcast frame from 0.0.0.0 carrying msg. */
  frame(mac: Uint8Array, ipId: number, msg: Uint8Array): Uint8Array {
    const c = this.core;
    const [m, p] = c.stage(mac, msg);
    const n = c.check(c.x.dhcp_frame(m, ipId, p, msg.length, c.outputPtr, c.ioCapacity), "cannot build the frame");
    return c.get(c.outputPtr, n);
  }
}
