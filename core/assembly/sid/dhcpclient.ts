// The DHCPv4 client of the session-address generator (docs/PROTOCOL.md 8.19):
// one client, with its own client identifier (option 61, RFC 4361 form), per
// session address, so one device holds several leases at once. RFC 2131's
// states INIT -> SELECTING -> REQUESTING -> BOUND -> RENEWING (T1) ->
// REBINDING (T2) -> lost at expiry; retransmission with RFC 2131 4.1's
// backoff (4, 8, 16, 32 s, each +-1 s at random); transaction ids from the
// module's DRBG (seeded by the host). Sans-I/O: `now` (ms) is an argument,
// outputs queue up for dhcp_poll: broadcast frames from 0.0.0.0 for the
// host's AF_PACKET socket, unicast datagrams from a leased address for its
// UDP socket, and events.

import { get32, put16, put32, bytesEqual } from "../util/bytes";
import { drbg } from "../crypto/drbg";
import {
  DhcpMessage, ClientFields, decodeDhcp, encodeClient, broadcastFrame, effectiveT1, effectiveT2, usableUnicast4,
  DHCPDISCOVER, DHCPOFFER, DHCPREQUEST, DHCPDECLINE, DHCPACK, DHCPNAK, DHCPRELEASE, BOOTREPLY,
  FLAG_BROADCAST, INFINITE, HAS_MASK, HAS_ROUTER, HAS_CLIENT_ID,
} from "./dhcp";
import {
  ERR_INVALID_ARGUMENT, ERR_NOT_SEEDED, ERR_BUSY, ERR_BUFFER_TOO_SMALL, ERR_BAD_VALUE, ERR_BAD_ADDRESS,
  ERR_RECORD_TRUNCATED, ERR_RECORD_VERSION, ERR_RECORD_TRAILING_BYTES, ERR_DHCP_UNMATCHED, ERR_DHCP_BAD_LEASE,
} from "../generated/registry";

export const ST_FREE: u8 = 0;
export const ST_INIT: u8 = 1;
export const ST_SELECTING: u8 = 2;
export const ST_REQUESTING: u8 = 3;
export const ST_BOUND: u8 = 4;
export const ST_RENEWING: u8 = 5;
export const ST_REBINDING: u8 = 6;
/** The lease is gone (NAK, expiry, no answer): the host removes the address; dhcp_client_free ends the client. */
export const ST_LOST: u8 = 7;
/** Declined (the address was in use): DISCOVER again after 10 s (RFC 2131 3.1.5). */
export const ST_DECLINED: u8 = 8;

export const OUT_FRAME: u8 = 1;
export const OUT_UDP: u8 = 2;
export const OUT_BOUND: u8 = 3;
export const OUT_RENEWED: u8 = 4;
export const OUT_LOST: u8 = 5;
export const OUT_RELEASED: u8 = 6;

export const LOST_NAK: u8 = 1;
export const LOST_EXPIRED: u8 = 2;
export const LOST_NO_ANSWER: u8 = 3;

/** Session addresses (clients) one core holds at most. */
export const MAX_CLIENTS: i32 = 256;
/** Transmissions of a DISCOVER or a REQUEST before the client gives up that step (4 + 8 + 16 + 32 s). */
export const MAX_TRIES: i32 = 4;
/** How often REQUESTING may fall back to INIT (no answer, NAK) before the client reports LOST_NO_ANSWER / LOST_NAK. */
export const MAX_RESTARTS: i32 = 2;
/** RFC 2131 4.4.5: the least wait between retransmissions in RENEWING and REBINDING. */
const MIN_RENEW_WAIT: f64 = 60000;
const DECLINE_WAIT: f64 = 10000;
export const CLIENT_ID_LEN: i32 = 15;
/** The lease record's version (PROTOCOL.md 8.19). */
export const LEASE_VERSION: u8 = 1;
const LEASE_FIXED: i32 = 32;

const BUF_SIZE: i32 = 1600;
const MSG = memory.data(BUF_SIZE, 16);
const FRAME = memory.data(BUF_SIZE, 16);
const RND = memory.data(8, 8);

function random32(): u32 {
  drbg.fill(RND, 4);
  return load<u32>(RND);
}
/** RFC 2131 4.1: the delay before transmission k (0-based), 4 s doubling to 64 s, randomized by -1 to +1 s. */
export function backoff(k: i32): f64 {
  let base: f64 = 4000;
  for (let i = 0; i < k && base < 64000; i++) base *= 2;
  const r = <f64>(random32() & 0xffff) / 65535.0;
  return base - 1000 + 2000 * r;
}

export class DhcpClient {
  slot: i32 = 0;
  state: u8 = ST_FREE;
  mac: StaticArray<u8> = new StaticArray<u8>(6);
  clientId: StaticArray<u8> = new StaticArray<u8>(255);
  clientIdLen: i32 = 0;
  xid: u32 = 0;
  startedAt: f64 = 0;
  sentAt: f64 = 0;
  tries: i32 = 0;
  restarts: i32 = 0;
  nextAt: f64 = Infinity;
  offered: u32 = 0;
  server: u32 = 0;
  address: u32 = 0;
  mask: u32 = 0;
  router: u32 = 0;
  lease: u32 = 0;
  t1At: f64 = Infinity;
  t2At: f64 = Infinity;
  expAt: f64 = Infinity;
}

/** Told of every bound / renewed / lost / released client (the address generator of 8.18, dhcpgen.ts). */
export abstract class DhcpListener {
  abstract changed(c: DhcpClient, kind: u8, reason: u8): void;
}
let listener: DhcpListener | null = null;
export function setDhcpListener(l: DhcpListener | null): void { listener = l; }

const clients = new Array<DhcpClient | null>(MAX_CLIENTS);
const queue = new Array<StaticArray<u8>>();
const M = new DhcpMessage();
const F = new ClientFields();

export function clientAt(slot: i32): DhcpClient | null {
  if (slot < 0 || slot >= MAX_CLIENTS) return null;
  return clients[slot];
}

function freeSlot(): i32 {
  for (let i = 0; i < MAX_CLIENTS; i++) if (!clients[i]) return i;
  return -1;
}

function push(kind: u8, reason: u8, slot: i32, body: usize, n: i32): void {
  const r = new StaticArray<u8>(4 + n);
  const p = changetype<usize>(r);
  store<u8>(p, kind);
  store<u8>(p + 1, reason);
  put16(p + 2, <u32>slot);
  if (n > 0) memory.copy(p + 4, body, <usize>n);
  queue.push(r);
}

const EV = memory.data(32, 8);
function event(c: DhcpClient, kind: u8, reason: u8): void {
  put32(EV, c.address);
  if (kind == OUT_BOUND || kind == OUT_RENEWED) {
    put32(EV + 4, c.mask);
    put32(EV + 8, c.router);
    put32(EV + 12, c.server);
    put32(EV + 16, c.lease);
    put32(EV + 20, c.t1At == Infinity ? INFINITE : <u32>((c.t1At - c.sentAt) / 1000));
    put32(EV + 24, c.t2At == Infinity ? INFINITE : <u32>((c.t2At - c.sentAt) / 1000));
    push(kind, reason, c.slot, EV, 28);
  } else push(kind, reason, c.slot, EV, 4);
  const l = listener;
  if (l) l.changed(c, kind, reason);
}

/** Encodes a client message of type `type` for c into MSG; returns its length. */
function message(c: DhcpClient, now: f64, type: u8, ciaddr: u32, requested: u32, serverId: u32, broadcastFlag: bool): i32 {
  F.type = type;
  F.xid = c.xid;
  const s = (now - c.startedAt) / 1000;
  F.secs = type == DHCPRELEASE || type == DHCPDECLINE || s < 0 ? 0 : <u32>s;
  F.flags = broadcastFlag ? FLAG_BROADCAST : 0;
  F.ciaddr = ciaddr;
  F.mac = changetype<usize>(c.mac);
  F.requested = requested;
  F.serverId = serverId;
  F.clientId = changetype<usize>(c.clientId);
  F.clientIdLen = c.clientIdLen;
  F.params = type == DHCPDISCOVER || type == DHCPREQUEST;
  return encodeClient(F, MSG, BUF_SIZE);
}

/** Queues the message in MSG as a broadcast frame from 0.0.0.0. */
function sendBroadcast(c: DhcpClient, n: i32): void {
  const len = broadcastFrame(changetype<usize>(c.mac), random32() & 0xffff, MSG, n, FRAME, BUF_SIZE);
  if (len > 0) push(OUT_FRAME, 0, c.slot, FRAME, len);
}
/** Queues the message in MSG as a UDP datagram from src:68 to dst:67 (the host's UDP socket). */
function sendUdp(c: DhcpClient, src: u32, dst: u32, n: i32): void {
  put32(FRAME, src);
  put32(FRAME + 4, dst);
  memory.copy(FRAME + 8, MSG, <usize>n);
  push(OUT_UDP, 0, c.slot, FRAME, 8 + n);
}

function sendDiscover(c: DhcpClient, now: f64): void {
  const n = message(c, now, DHCPDISCOVER, 0, 0, 0, true);
  sendBroadcast(c, n);
}
function sendSelectingRequest(c: DhcpClient, now: f64): void {
  c.sentAt = now;
  const n = message(c, now, DHCPREQUEST, 0, c.offered, c.server, true);
  sendBroadcast(c, n);
}
/** RENEWING: unicast to the server from the leased address, ciaddr set, no 50 or 54 (RFC 2131 4.3.2). */
function sendRenew(c: DhcpClient, now: f64): void {
  c.sentAt = now;
  const n = message(c, now, DHCPREQUEST, c.address, 0, 0, false);
  sendUdp(c, c.address, c.server, n);
}
/** REBINDING: the same request broadcast (to 255.255.255.255) from the leased address. */
function sendRebind(c: DhcpClient, now: f64): void {
  c.sentAt = now;
  const n = message(c, now, DHCPREQUEST, c.address, 0, 0, false);
  sendUdp(c, c.address, 0xffffffff, n);
}

function enterSelecting(c: DhcpClient, now: f64): void {
  c.state = ST_SELECTING;
  c.xid = random32();
  c.startedAt = now;
  c.tries = 1;
  c.offered = 0;
  c.server = 0;
  sendDiscover(c, now);
  c.nextAt = now + backoff(0);
}

function lose(c: DhcpClient, reason: u8): void {
  event(c, OUT_LOST, reason);
  c.state = ST_LOST;
  c.nextAt = Infinity;
  c.address = 0;
}

/** Sets the lease's times from the ACK in M, measured from when the REQUEST went (RFC 2131 4.4.1). */
function bind(c: DhcpClient, m: DhcpMessage): void {
  c.address = m.yiaddr;
  c.server = m.serverId;
  c.mask = m.has & HAS_MASK ? m.mask : 0;
  c.router = m.has & HAS_ROUTER ? m.router : 0;
  c.lease = m.lease;
  if (m.lease == INFINITE) {
    c.t1At = Infinity; c.t2At = Infinity; c.expAt = Infinity;
  } else {
    const t1 = effectiveT1(m);
    const t2 = effectiveT2(m);
    c.t1At = c.sentAt + <f64>t1 * 1000;
    c.t2At = c.sentAt + <f64>t2 * 1000;
    c.expAt = c.sentAt + <f64>m.lease * 1000;
  }
  c.state = ST_BOUND;
  c.tries = 0;
  c.nextAt = c.t1At;
}

/** Brings a bound client's state up to `now`: T1, T2, expiry, retransmissions. */
function advance(c: DhcpClient, now: f64): void {
  if (now >= c.expAt) { lose(c, LOST_EXPIRED); return; }
  if (now >= c.t2At) {
    if (c.state != ST_REBINDING) { c.state = ST_REBINDING; c.xid = random32(); c.startedAt = now; }
    sendRebind(c, now);
    const wait = Math.max(MIN_RENEW_WAIT, (c.expAt - now) / 2);
    c.nextAt = Math.min(c.expAt, now + wait);
    return;
  }
  if (now >= c.t1At) {
    if (c.state != ST_RENEWING) { c.state = ST_RENEWING; c.xid = random32(); c.startedAt = now; }
    sendRenew(c, now);
    const wait = Math.max(MIN_RENEW_WAIT, (c.t2At - now) / 2);
    c.nextAt = Math.min(c.t2At, now + wait);
    return;
  }
  c.nextAt = c.t1At;
}

/** A new client for one session address, its Ethernet address `mac`; returns its slot. */
export function clientNew(mac: usize): i32 {
  if (!drbg.seeded) return -ERR_NOT_SEEDED;
  const slot = freeSlot();
  if (slot < 0) return -ERR_BUSY;
  const c = new DhcpClient();
  c.slot = slot;
  c.state = ST_INIT;
  memory.copy(changetype<usize>(c.mac), mac, 6);
  // RFC 4361 6.1: type 255, a 4-byte IAID (random: one per session address), a DUID-LL (type 3, hardware 1, the MAC)
  const id = changetype<usize>(c.clientId);
  store<u8>(id, 255);
  put32(id + 1, random32());
  put16(id + 5, 3);
  put16(id + 7, 1);
  memory.copy(id + 9, mac, 6);
  c.clientIdLen = CLIENT_ID_LEN;
  clients[slot] = c;
  return slot;
}

export function clientStart(slot: i32, now: f64): i32 {
  const c = clientAt(slot);
  if (!c || (c.state != ST_INIT && c.state != ST_LOST)) return -ERR_INVALID_ARGUMENT;
  c.restarts = 0;
  enterSelecting(c, now);
  return 0;
}

/** Forgets a client without sending anything (its lease went with a transfer, or it is lost). */
export function clientFree(slot: i32): i32 {
  if (!clientAt(slot)) return -ERR_INVALID_ARGUMENT;
  clients[slot] = null;
  return 0;
}

/** Releases the lease (DHCPRELEASE unicast to the server from the address) and frees the client. */
export function clientRelease(slot: i32, now: f64): i32 {
  const c = clientAt(slot);
  if (!c) return -ERR_INVALID_ARGUMENT;
  if (c.state == ST_BOUND || c.state == ST_RENEWING || c.state == ST_REBINDING) {
    c.xid = random32();
    const n = message(c, now, DHCPRELEASE, c.address, 0, c.server, false);
    sendUdp(c, c.address, c.server, n);
    event(c, OUT_RELEASED, 0);
  }
  clients[slot] = null;
  return 0;
}

/** The host found the bound address in use (ARP): DHCPDECLINE, broadcast from 0.0.0.0; DISCOVER again after 10 s. */
export function clientDecline(slot: i32, now: f64): i32 {
  const c = clientAt(slot);
  if (!c || c.state != ST_BOUND) return -ERR_INVALID_ARGUMENT;
  const n = message(c, now, DHCPDECLINE, 0, c.address, c.server, false);
  sendBroadcast(c, n);
  c.state = ST_DECLINED;
  c.address = 0;
  c.nextAt = now + DECLINE_WAIT;
  return 0;
}

/**
 * A DHCP message from the server port (a UDP payload of n bytes). Returns the
 * slot of the client it moved, or a negated error: the decoder's, or
 * DHCP_UNMATCHED (not a reply, or no client expects this transaction id,
 * hardware address, client identifier and server now).
 */
export function dhcpHandle(now: f64, p: usize, n: i32): i32 {
  const type = decodeDhcp(p, n, M);
  if (type < 0) return type;
  const m = M;
  if (m.op != BOOTREPLY || (type != DHCPOFFER && type != DHCPACK && type != DHCPNAK)) return -ERR_DHCP_UNMATCHED;
  for (let i = 0; i < MAX_CLIENTS; i++) {
    const c = clients[i];
    if (!c || c.xid != m.xid) continue;
    if (c.state != ST_SELECTING && c.state != ST_REQUESTING && c.state != ST_RENEWING && c.state != ST_REBINDING) continue;
    if (!bytesEqual(changetype<usize>(c.mac), changetype<usize>(m.chaddr), 6)) continue;
    // RFC 6842: a server echoes the client identifier; one that names another client is not for this one
    if ((m.has & HAS_CLIENT_ID) && (m.clientIdLen != c.clientIdLen || !bytesEqual(changetype<usize>(m.clientId), changetype<usize>(c.clientId), c.clientIdLen))) continue;
    return step(c, now, <u8>type, m);
  }
  return -ERR_DHCP_UNMATCHED;
}

function step(c: DhcpClient, now: f64, type: u8, m: DhcpMessage): i32 {
  if (c.state == ST_SELECTING) {
    if (type != DHCPOFFER) return -ERR_DHCP_UNMATCHED;
    c.offered = m.yiaddr;
    c.server = m.serverId;
    c.state = ST_REQUESTING;
    c.tries = 1;
    sendSelectingRequest(c, now);
    c.nextAt = now + backoff(0);
    return c.slot;
  }
  if (c.state == ST_REQUESTING) {
    // only the server chosen in the REQUEST answers it
    if (type == DHCPOFFER || m.serverId != c.server) return -ERR_DHCP_UNMATCHED;
    if (type == DHCPNAK) {
      if (++c.restarts > MAX_RESTARTS) { lose(c, LOST_NAK); return c.slot; }
      enterSelecting(c, now);
      return c.slot;
    }
    if (m.yiaddr != c.offered) return -ERR_DHCP_UNMATCHED;
    bind(c, m);
    event(c, OUT_BOUND, 0);
    return c.slot;
  }
  // RENEWING (only the lease's server) or REBINDING (any server)
  if (type == DHCPOFFER) return -ERR_DHCP_UNMATCHED;
  if (c.state == ST_RENEWING && m.serverId != c.server) return -ERR_DHCP_UNMATCHED;
  if (type == DHCPNAK) { lose(c, LOST_NAK); return c.slot; }
  if (m.yiaddr != c.address) return -ERR_DHCP_UNMATCHED;
  bind(c, m);
  event(c, OUT_RENEWED, 0);
  return c.slot;
}

/** Runs every client's timers up to `now`. */
export function dhcpTick(now: f64): void {
  for (let i = 0; i < MAX_CLIENTS; i++) {
    const c = clients[i];
    if (!c || now < c.nextAt) continue;
    const s = c.state;
    if (s == ST_SELECTING) {
      if (c.tries >= MAX_TRIES) { lose(c, LOST_NO_ANSWER); continue; }
      sendDiscover(c, now);
      c.nextAt = now + backoff(c.tries++);
    } else if (s == ST_REQUESTING) {
      if (c.tries >= MAX_TRIES) {
        if (++c.restarts > MAX_RESTARTS) { lose(c, LOST_NO_ANSWER); continue; }
        enterSelecting(c, now);
        continue;
      }
      sendSelectingRequest(c, now);
      c.nextAt = now + backoff(c.tries++);
    } else if (s == ST_BOUND || s == ST_RENEWING || s == ST_REBINDING) {
      advance(c, now);
    } else if (s == ST_DECLINED) {
      enterSelecting(c, now);
    }
  }
}

/** The earliest time (ms) dhcpTick has work, or -1 if none. */
export function dhcpNextTimeout(): f64 {
  let t: f64 = Infinity;
  for (let i = 0; i < MAX_CLIENTS; i++) {
    const c = clients[i];
    if (c && c.nextAt < t) t = c.nextAt;
  }
  return t == Infinity ? -1 : t;
}

/** Copies the oldest queued output to out: its length, 0 if none, -BUFFER_TOO_SMALL (it stays queued). */
export function dhcpPoll(out: usize, cap: i32): i32 {
  if (queue.length == 0) return 0;
  const r = queue[0];
  if (r.length > cap) return -ERR_BUFFER_TOO_SMALL;
  memory.copy(out, changetype<usize>(r), <usize>r.length);
  queue.shift();
  return r.length;
}

function remaining(at: f64, now: f64): u32 {
  if (at == Infinity) return INFINITE;
  const r = at - now;
  if (r <= 0) return 0;
  return r >= 4294967294.0 ? 0xfffffffe : <u32>r;
}

/**
 * The lease record (PROTOCOL.md 8.19) of a bound client, as of `now`:
 * version, client identifier, address, mask, router, server, lease (s), and
 * T1, T2 and expiry as milliseconds remaining. Returns its length or a
 * negated error: INVALID_ARGUMENT (no such client, or not bound),
 * BUFFER_TOO_SMALL.
 */
export function leaseExport(slot: i32, now: f64, out: usize, cap: i32): i32 {
  const c = clientAt(slot);
  if (!c || (c.state != ST_BOUND && c.state != ST_RENEWING && c.state != ST_REBINDING)) return -ERR_INVALID_ARGUMENT;
  const len = 2 + c.clientIdLen + LEASE_FIXED;
  if (len > cap) return -ERR_BUFFER_TOO_SMALL;
  store<u8>(out, LEASE_VERSION);
  store<u8>(out + 1, <u8>c.clientIdLen);
  memory.copy(out + 2, changetype<usize>(c.clientId), <usize>c.clientIdLen);
  const q = out + 2 + <usize>c.clientIdLen;
  put32(q, c.address);
  put32(q + 4, c.mask);
  put32(q + 8, c.router);
  put32(q + 12, c.server);
  put32(q + 16, c.lease);
  put32(q + 20, remaining(c.t1At, now));
  put32(q + 24, remaining(c.t2At, now));
  put32(q + 28, remaining(c.expAt, now));
  return len;
}

/**
 * Takes over a lease from its record (n bytes at p) as a new client with
 * Ethernet address `mac`; it renews at T1 with the record's client
 * identifier. Returns the slot or a negated error: RECORD_TRUNCATED,
 * RECORD_VERSION, BAD_VALUE (a client identifier under 2 bytes),
 * RECORD_TRAILING_BYTES, BAD_ADDRESS (address or server not usable
 * unicast), DHCP_BAD_LEASE (T1 > T2 > expiry out of order), NOT_SEEDED,
 * BUSY (no free client). An expired record is taken and lost at the next
 * tick (LOST_EXPIRED).
 */
export function leaseImport(now: f64, mac: usize, p: usize, n: i32): i32 {
  return leaseImportAt(now, mac, p, n, NaN);
}

/**
 * leaseImport with the expiry `expiresAt` (ms on this node's clock, e.g. from
 * the remaining lifetime of 8.18's Address Lease extension, fresher than a
 * record kept since the last ACK): T1 and T2 keep their distance to it. NaN:
 * the record's own times.
 */
export function leaseImportAt(now: f64, mac: usize, p: usize, n: i32, expiresAt: f64): i32 {
  if (n < 2) return -ERR_RECORD_TRUNCATED;
  if (load<u8>(p) != LEASE_VERSION) return -ERR_RECORD_VERSION;
  const idLen = <i32>load<u8>(p + 1);
  if (idLen < 2) return -ERR_BAD_VALUE;
  const len = 2 + idLen + LEASE_FIXED;
  if (n < len) return -ERR_RECORD_TRUNCATED;
  if (n > len) return -ERR_RECORD_TRAILING_BYTES;
  const q = p + 2 + <usize>idLen;
  const address = get32(q);
  const server = get32(q + 12);
  if (!usableUnicast4(address) || !usableUnicast4(server)) return -ERR_BAD_ADDRESS;
  const t1 = get32(q + 20);
  const t2 = get32(q + 24);
  const exp = get32(q + 28);
  if (t1 > t2 || t2 > exp) return -ERR_DHCP_BAD_LEASE;
  if (!drbg.seeded) return -ERR_NOT_SEEDED;
  const slot = freeSlot();
  if (slot < 0) return -ERR_BUSY;
  const c = new DhcpClient();
  c.slot = slot;
  memory.copy(changetype<usize>(c.mac), mac, 6);
  memory.copy(changetype<usize>(c.clientId), p + 2, <usize>idLen);
  c.clientIdLen = idLen;
  c.address = address;
  c.mask = get32(q + 4);
  c.router = get32(q + 8);
  c.server = server;
  c.lease = get32(q + 16);
  c.sentAt = now;
  // the record's times, moved so that the expiry is expiresAt when one is given
  // never later than the record says: a record is refreshed at each ACK, so it can only be older than the extension
  const shift: f64 = isNaN(expiresAt) || exp == INFINITE || expiresAt == Infinity ? 0 : Math.min(0, expiresAt - (now + <f64>exp));
  c.t1At = t1 == INFINITE ? Infinity : Math.max(now, now + <f64>t1 + shift);
  c.t2At = t2 == INFINITE ? Infinity : Math.max(now, now + <f64>t2 + shift);
  c.expAt = exp == INFINITE ? Infinity : Math.max(now, now + <f64>exp + shift);
  c.state = ST_BOUND;
  c.nextAt = c.expAt <= now ? now : c.t1At;
  clients[slot] = c;
  return slot;
}

/** Forgets every client and queued output (node_init). */
export function dhcpResetAll(): void {
  for (let i = 0; i < MAX_CLIENTS; i++) clients[i] = null;
  queue.length = 0;
}
