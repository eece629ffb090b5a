// Flat exports of the DHCPv4 session-address generator (docs/PROTOCOL.md
// 8.19, docs/ABI.md "DHCPv4 client"). Addresses cross as u32 in host order
// where they are arguments, big-endian in records. Every pointer is checked;
// a bad one returns -ERR_INVALID_ARGUMENT, never a trap.

import { inMemory, put16, put32 } from "../util/bytes";
import { DhcpMessage, ClientFields, decodeDhcp, encodeClient, broadcastFrame } from "../sid/dhcp";
import {
  clientNew, clientStart, clientFree, clientRelease, clientDecline, clientAt, dhcpHandle, dhcpTick,
  dhcpNextTimeout, dhcpPoll, leaseExport, leaseImport, dhcpResetAll,
} from "../sid/dhcpclient";
import { ERR_INVALID_ARGUMENT } from "../generated/registry";

const BAD = -ERR_INVALID_ARGUMENT;

/** A new DHCP client (one session address) for the interface with Ethernet address mac (6 bytes); its slot. */
export function dhcp_client_new(mac: usize): i32 {
  if (!inMemory(mac, 6)) return BAD;
  return clientNew(mac);
}
/** INIT -> SELECTING: the first DHCPDISCOVER is queued. */
export function dhcp_client_start(now: f64, slot: i32): i32 { return clientStart(slot, now); }
/** DHCPRELEASE (if bound) and the client's end. */
export function dhcp_release(now: f64, slot: i32): i32 { return clientRelease(slot, now); }
/** DHCPDECLINE of the bound address (the host found it in use). */
export function dhcp_decline(now: f64, slot: i32): i32 { return clientDecline(slot, now); }
/** Forgets a client without a message (its lease went with a transfer). */
export function dhcp_client_free(slot: i32): i32 { return clientFree(slot); }
/** A client's state (0 free, 1 INIT ... 8 DECLINED). */
export function dhcp_client_state(slot: i32): i32 {
  const c = clientAt(slot);
  return c ? <i32>c.state : 0;
}
/**
 * A client's view, 28 bytes at out: state u8, 0, clientIdLen u8, 0, address,
 * server, xid (u32 big-endian), then T1, T2, expiry as f64 ms (little-endian).
 */
export function dhcp_client_info(slot: i32, out: usize): i32 {
  const c = clientAt(slot);
  if (!c) return BAD;
  if (!inMemory(out, 40)) return BAD;
  store<u8>(out, c.state);
  store<u8>(out + 1, 0);
  store<u8>(out + 2, <u8>c.clientIdLen);
  store<u8>(out + 3, 0);
  put32(out + 4, c.address);
  put32(out + 8, c.server);
  put32(out + 12, c.xid);
  store<f64>(out + 16, c.t1At);
  store<f64>(out + 24, c.t2At);
  store<f64>(out + 32, c.expAt);
  return 40;
}
/** A client's identifier (option 61) at out; its length. */
export function dhcp_client_id(slot: i32, out: usize, cap: i32): i32 {
  const c = clientAt(slot);
  if (!c || !inMemory(out, cap)) return BAD;
  if (cap < c.clientIdLen) return BAD;
  memory.copy(out, changetype<usize>(c.clientId), <usize>c.clientIdLen);
  return c.clientIdLen;
}
/** A datagram from port 67 (its UDP payload); the slot it moved, or a negated error. */
export function dhcp_handle(now: f64, ptr: usize, len: i32): i32 {
  if (len < 0 || !inMemory(ptr, len)) return BAD;
  return dhcpHandle(now, ptr, len);
}
/** Runs the timers up to now. */
export function dhcp_tick(now: f64): void { dhcpTick(now); }
/** When dhcp_tick has work next (ms), or -1. */
export function dhcp_next_timeout(): f64 { return dhcpNextTimeout(); }
/** The next output record (docs/ABI.md) into out: its length, 0 if none. */
export function dhcp_poll(out: usize, cap: i32): i32 {
  if (cap < 0 || !inMemory(out, cap)) return BAD;
  return dhcpPoll(out, cap);
}
/** The lease record of a bound client (PROTOCOL.md 8.19) as of now. */
export function dhcp_lease_export(now: f64, slot: i32, out: usize, cap: i32): i32 {
  if (cap < 0 || !inMemory(out, cap)) return BAD;
  return leaseExport(slot, now, out, cap);
}
/** A new bound client from a lease record, for the interface with Ethernet address mac. */
export function dhcp_lease_import(now: f64, mac: usize, ptr: usize, len: i32): i32 {
  if (!inMemory(mac, 6) || len < 0 || !inMemory(ptr, len)) return BAD;
  return leaseImport(now, mac, ptr, len);
}
/** Forgets every client and queued output. */
export function dhcp_reset(): void { dhcpResetAll(); }

const D = new DhcpMessage();
/**
 * Decodes a DHCP message (conformance and tests): the type, or a negated
 * error; on success a record at out (DHCP_DECODED_SIZE bytes, big-endian):
 * op, htype, hlen, type, xid, secs u16, flags u16, ciaddr, yiaddr, siaddr,
 * giaddr, chaddr (16), has u32 (docs/ABI.md), mask, router, requested, lease,
 * serverId, t1, t2, clientIdLen u8, paramsLen u8, client id (255), params (255).
 */
export function dhcp_decode(ptr: usize, len: i32, out: usize): i32 {
  if (len < 0 || !inMemory(ptr, len) || !inMemory(out, 630)) return BAD;
  const t = decodeDhcp(ptr, len, D);
  if (t < 0) return t;
  store<u8>(out, D.op); store<u8>(out + 1, D.htype); store<u8>(out + 2, D.hlen); store<u8>(out + 3, D.type);
  put32(out + 4, D.xid); put16(out + 8, D.secs); put16(out + 10, D.flags);
  put32(out + 12, D.ciaddr); put32(out + 16, D.yiaddr); put32(out + 20, D.siaddr); put32(out + 24, D.giaddr);
  memory.copy(out + 28, changetype<usize>(D.chaddr), 16);
  put32(out + 44, D.has);
  put32(out + 48, D.mask); put32(out + 52, D.router); put32(out + 56, D.requested); put32(out + 60, D.lease);
  put32(out + 64, D.serverId); put32(out + 68, D.t1); put32(out + 72, D.t2);
  store<u8>(out + 76, <u8>D.clientIdLen); store<u8>(out + 77, <u8>D.paramsLen);
  memory.copy(out + 78, changetype<usize>(D.clientId), 255);
  memory.copy(out + 333, changetype<usize>(D.params), 255);
  return t;
}

const E = new ClientFields();
/**
 * Encodes a client message (conformance and tests). flags bit 0: the
 * broadcast flag; bit 1: the parameter request list. Its length or a
 * negated error.
 */
export function dhcp_encode(type: i32, xid: u32, secs: i32, flags: i32, ciaddr: u32, requested: u32, serverId: u32, mac: usize, cid: usize, cidLen: i32, out: usize, cap: i32): i32 {
  if (type < 0 || type > 255 || secs < 0 || cidLen < 0 || cap < 0 || !inMemory(mac, 6) || !inMemory(cid, cidLen) || !inMemory(out, cap)) return BAD;
  E.type = <u8>type; E.xid = xid; E.secs = <u32>secs; E.flags = flags & 1 ? 0x8000 : 0; E.ciaddr = ciaddr;
  E.requested = requested; E.serverId = serverId; E.mac = mac; E.clientId = cid; E.clientIdLen = cidLen;
  E.params = (flags & 2) != 0;
  return encodeClient(E, out, cap);
}
/** The broadcast frame from 0.0.0.0 of a client message (tests). */
export function dhcp_frame(mac: usize, ipId: i32, msg: usize, len: i32, out: usize, cap: i32): i32 {
  if (len < 0 || cap < 0 || !inMemory(mac, 6) || !inMemory(msg, len) || !inMemory(out, cap)) return BAD;
  return broadcastFrame(mac, <u32>ipId, msg, len, out, cap);
}
