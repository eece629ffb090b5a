// The DHCPv4 address generator (docs/PROTOCOL.md 8.18, 8.19): session
// addresses from a DHCP server, one client (one client identifier) per
// lease, behind sidaddr's AddressGenerator interface. The registry aliases
// the address at READY and takes it off at EXPIRED / RELEASED; this file
// maps the client's bound / renewed / lost onto the lease, keeps the lease
// record (8.19) in lease.opaque for the transfer, and takes a record over
// (adopt) with the Address Lease extension's fresher expiry. Frames and
// datagrams stay in the client's output queue (dhcp_poll), which the host
// drains after each call into the engine.

import { Address } from "../engine/address";
import { AddressGenerator, Lease, GEN_DHCP4, LEASE_READY, LEASE_EXPIRED, LEASE_PENDING, LEASE_OPAQUE_MAX } from "./addrgen";
import {
  DhcpClient, DhcpListener, setDhcpListener, clientNew, clientStart, clientRelease, clientFree, clientAt,
  dhcpTick, dhcpNextTimeout, dhcpHandle, leaseExport, leaseImportAt, OUT_BOUND, OUT_RENEWED, OUT_LOST,
} from "./dhcpclient";

const REC = memory.data(LEASE_OPAQUE_MAX, 8);

class GeneratorListener extends DhcpListener {
  gen: Dhcp4Generator;
  constructor(gen: Dhcp4Generator) { super(); this.gen = gen; }
  changed(c: DhcpClient, kind: u8, reason: u8): void { this.gen.clientChanged(c, kind); }
}

export class Dhcp4Generator extends AddressGenerator {
  mac: StaticArray<u8> = new StaticArray<u8>(6);
  /** The lease of each client slot (null: a client not of this generator). */
  bySlot: Array<Lease | null> = new Array<Lease | null>(256);
  slotOf: Map<u32, i32> = new Map<u32, i32>();
  /** The `now` of the call in progress (the listener's events carry none). */
  now: f64 = 0;

  constructor(mac: usize) {
    super();
    this.kind = GEN_DHCP4;
    memory.copy(changetype<usize>(this.mac), mac, 6);
    setDhcpListener(new GeneratorListener(this));
  }

  private bind(l: Lease, slot: i32): void {
    this.bySlot[slot] = l;
    this.slotOf.set(l.session, slot);
  }
  private unbind(l: Lease): i32 {
    if (!this.slotOf.has(l.session)) return -1;
    const slot = this.slotOf.get(l.session);
    this.slotOf.delete(l.session);
    this.bySlot[slot] = null;
    return slot;
  }
  /** lease.opaque := the client's lease record as of now. */
  private keep(l: Lease, slot: i32): void {
    const n = leaseExport(slot, this.now, REC, LEASE_OPAQUE_MAX);
    if (n <= 0) return;
    const o = new StaticArray<u8>(n);
    memory.copy(changetype<usize>(o), REC, <usize>n);
    l.opaque = o;
  }

  clientChanged(c: DhcpClient, kind: u8): void {
    const l = this.bySlot[c.slot];
    if (!l) return;
    const reg = this.registry;
    if (kind == OUT_BOUND || kind == OUT_RENEWED) {
      l.address.set(Address.v4(c.address));
      l.expires = c.expAt;
      l.state = LEASE_READY;
      this.keep(l, c.slot);
      if (reg) reg.changed(l, this.now);
    } else if (kind == OUT_LOST) {
      // a NAK, the expiry, or no server answering: the lease ends (the registry takes the alias off)
      this.unbind(l);
      clientFree(c.slot);
      if (l.held) {
        l.state = LEASE_EXPIRED;
        this.why = "the DHCP lease ended (NAK, expiry or no answer)";
        if (reg) reg.changed(l, this.now);
      }
    }
  }

  acquire(lease: Lease, now: f64): i32 {
    this.now = now;
    const slot = clientNew(changetype<usize>(this.mac));
    if (slot < 0) { this.why = "no DHCP client could be made (not seeded, or 256 in use)"; return slot; }
    this.bind(lease, slot);
    lease.state = LEASE_PENDING;
    clientStart(slot, now);
    return 0;
  }

  tick(now: f64): void {
    this.now = now;
    dhcpTick(now);
  }

  nextTimeout(): f64 {
    const t = dhcpNextTimeout();
    return t < 0 ? Infinity : t;
  }

  release(lease: Lease, now: f64): void {
    this.now = now;
    const slot = this.unbind(lease);
    if (slot >= 0) clientRelease(slot, now);
  }

  /** The lease went with a transfer: the record stays in lease.opaque; this node neither renews nor releases. */
  handOff(lease: Lease, now: f64): void {
    this.now = now;
    const slot = this.unbind(lease);
    if (slot < 0) return;
    this.keep(lease, slot);
    clientFree(slot);
  }

  /** A lease that came with a transfer (or back with a return): its record in lease.opaque, its expiry in lease.expires. */
  adopt(lease: Lease, now: f64): bool {
    this.now = now;
    const o = lease.opaque;
    if (o.length == 0) return false;
    const old = this.unbind(lease);
    if (old >= 0) clientFree(old);
    const slot = leaseImportAt(now, changetype<usize>(this.mac), changetype<usize>(o), o.length, lease.expires);
    if (slot < 0) { this.why = "the DHCP lease record was refused"; return false; }
    const c = clientAt(slot)!;
    if (!lease.address.equals(Address.v4(c.address))) {
      clientFree(slot);
      this.why = "the DHCP lease record names another address";
      return false;
    }
    this.bind(lease, slot);
    lease.expires = c.expAt;
    return true;
  }

  /** A datagram from a DHCP server (port 67 to 68). */
  input(p: usize, n: i32, now: f64): bool {
    this.now = now;
    return dhcpHandle(now, p, n) >= 0;
  }
}
