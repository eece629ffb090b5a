// The TCP state record (docs/PROTOCOL.md section 8.12): what TCP_REPAIR reads
// from a live connection on the transferring node and restores on the target.
// Pure codec: the record's header is encoded and decoded here; the queues and
// the application state follow it as they are (the host concatenates them on
// encoding and slices them by the decoded offsets), so a record of many
// megabytes never has to pass through the core's buffers.

import { Address, isValidFamily } from "../engine/address";
import { get8, get16, get32, put8, put16, put32 } from "../util/bytes";
import {
  FAMILY_IPV4,
  ERR_BAD_FAMILY, ERR_RESERVED_NONZERO, ERR_BAD_VALUE, ERR_BAD_ADDRESS,
  ERR_RECORD_TRUNCATED, ERR_RECORD_VERSION, ERR_RECORD_TOO_LONG, ERR_RECORD_TRAILING_BYTES,
} from "../generated/registry";

export const TCPSTATE_VERSION: u32 = 1;
export const TCPSTATE_SACK: u32 = 0x01;
export const TCPSTATE_TIMESTAMPS: u32 = 0x02;
export const TCPSTATE_WINDOW_SCALE: u32 = 0x04;
const KNOWN_FLAGS: u32 = TCPSTATE_SACK | TCPSTATE_TIMESTAMPS | TCPSTATE_WINDOW_SCALE;
/** TCP's largest window shift (RFC 7323 section 2.3). */
export const MAX_WINDOW_SHIFT: u32 = 14;
export const MAX_QUEUE_BYTES: u32 = 64 << 20;
export const MAX_APP_STATE_BYTES: u32 = 1 << 20;

/** The header's length for an address family: 68 (IPv4) or 92 (IPv6). */
export function headerLength(family: u32): i32 {
  return family == FAMILY_IPV4 ? 68 : 92;
}

/** One connection's state, as the record carries it. */
export class TcpState {
  family: u32 = 0;
  flags: u32 = 0;
  /** The peer's window shift (what we scale its advertised window by). */
  sendShift: u32 = 0;
  /** Our own window shift. */
  receiveShift: u32 = 0;
  mss: u32 = 0;
  localPort: u32 = 0;
  remotePort: u32 = 0;
  local: Address = new Address();
  remote: Address = new Address();
  sendSeq: u32 = 0;
  receiveSeq: u32 = 0;
  timestamp: u32 = 0;
  sndWl1: u32 = 0;
  sndWnd: u32 = 0;
  maxWindow: u32 = 0;
  rcvWnd: u32 = 0;
  rcvWup: u32 = 0;
  sendQueueLength: u32 = 0;
  unsentLength: u32 = 0;
  receiveQueueLength: u32 = 0;
  appStateLength: u32 = 0;

  /** Bytes of the whole record: the header, the two queues, the application state. */
  totalLength(): u64 {
    return <u64>headerLength(this.family) + <u64>this.sendQueueLength + <u64>this.receiveQueueLength + <u64>this.appStateLength;
  }
}

/**
 * The field checks of section 8.12 (steps 2-5, on values already read):
 * 0 or the first error. Shared by the decoder and the encoder, so that the
 * core never writes a record it would refuse to read.
 */
export function checkFields(s: TcpState): i32 {
  if (s.flags & ~KNOWN_FLAGS) return ERR_BAD_VALUE;
  if (s.sendShift > MAX_WINDOW_SHIFT || s.receiveShift > MAX_WINDOW_SHIFT) return ERR_BAD_VALUE;
  if ((s.flags & TCPSTATE_WINDOW_SCALE) == 0 && (s.sendShift | s.receiveShift) != 0) return ERR_BAD_VALUE;
  if (s.mss == 0 || s.mss > 0xffff) return ERR_BAD_VALUE;
  if ((s.flags & TCPSTATE_TIMESTAMPS) == 0 && s.timestamp != 0) return ERR_BAD_VALUE;
  if (s.localPort == 0 || s.remotePort == 0 || s.localPort > 0xffff || s.remotePort > 0xffff) return ERR_BAD_VALUE;
  if (!s.local.isUsableUnicast() || !s.remote.isUsableUnicast()) return ERR_BAD_ADDRESS;
  if (s.unsentLength > s.sendQueueLength) return ERR_BAD_VALUE;
  if (s.sendQueueLength > MAX_QUEUE_BYTES || s.receiveQueueLength > MAX_QUEUE_BYTES || s.appStateLength > MAX_APP_STATE_BYTES) {
    return ERR_RECORD_TOO_LONG;
  }
  return 0;
}

/**
 * Decodes the record of `total` bytes whose first `n` bytes are at p
 * (n >= the header length, or n == total). Returns 0 or the first error of
 * section 8.12; `s` is only meaningful on 0. Never reads outside [p, p+n).
 */
export function decodeTcpState(p: usize, n: i32, total: i64, s: TcpState): i32 {
  if (total < 4 || n < 4) return ERR_RECORD_TRUNCATED;
  if (get8(p) != TCPSTATE_VERSION) return ERR_RECORD_VERSION;
  const family = get8(p + 1);
  if (!isValidFamily(family)) return ERR_BAD_FAMILY;
  const hl = headerLength(family);
  if (total < <i64>hl || n < hl) return ERR_RECORD_TRUNCATED;
  if (get16(p + 10) != 0) return ERR_RESERVED_NONZERO;
  const alen: usize = family == FAMILY_IPV4 ? 4 : 16;
  s.family = family;
  s.flags = get8(p + 2);
  const shifts = get8(p + 3);
  s.sendShift = shifts >> 4;
  s.receiveShift = shifts & 15;
  s.mss = get16(p + 4);
  s.localPort = get16(p + 6);
  s.remotePort = get16(p + 8);
  s.local.load(<u8>family, p + 12);
  s.remote.load(<u8>family, p + 12 + alen);
  const q = p + 12 + 2 * alen;
  s.sendSeq = get32(q);
  s.receiveSeq = get32(q + 4);
  s.timestamp = get32(q + 8);
  s.sndWl1 = get32(q + 12);
  s.sndWnd = get32(q + 16);
  s.maxWindow = get32(q + 20);
  s.rcvWnd = get32(q + 24);
  s.rcvWup = get32(q + 28);
  s.sendQueueLength = get32(q + 32);
  s.unsentLength = get32(q + 36);
  s.receiveQueueLength = get32(q + 40);
  s.appStateLength = get32(q + 44);
  const err = checkFields(s);
  if (err) return err;
  const want = <i64>s.totalLength();
  if (total < want) return ERR_RECORD_TRUNCATED;
  if (total > want) return ERR_RECORD_TRAILING_BYTES;
  return 0;
}

/**
 * Writes the record's header for `s` at out (cap bytes): its length, or the
 * negated error of checkFields (or of the family); -1 if it does not fit.
 */
export function encodeTcpStateHeader(s: TcpState, out: usize, cap: i32): i32 {
  if (!isValidFamily(s.family)) return -ERR_BAD_FAMILY;
  if (s.local.family != s.family || s.remote.family != s.family) return -ERR_BAD_FAMILY;
  const err = checkFields(s);
  if (err) return -err;
  const hl = headerLength(s.family);
  if (cap < hl) return -1;
  const alen: usize = s.family == FAMILY_IPV4 ? 4 : 16;
  put8(out, TCPSTATE_VERSION);
  put8(out + 1, s.family);
  put8(out + 2, s.flags);
  put8(out + 3, (s.sendShift << 4) | s.receiveShift);
  put16(out + 4, s.mss);
  put16(out + 6, s.localPort);
  put16(out + 8, s.remotePort);
  put16(out + 10, 0);
  s.local.store(out + 12);
  s.remote.store(out + 12 + alen);
  const q = out + 12 + 2 * alen;
  put32(q, s.sendSeq);
  put32(q + 4, s.receiveSeq);
  put32(q + 8, s.timestamp);
  put32(q + 12, s.sndWl1);
  put32(q + 16, s.sndWnd);
  put32(q + 20, s.maxWindow);
  put32(q + 24, s.rcvWnd);
  put32(q + 28, s.rcvWup);
  put32(q + 32, s.sendQueueLength);
  put32(q + 36, s.unsentLength);
  put32(q + 40, s.receiveQueueLength);
  put32(q + 44, s.appStateLength);
  return hl;
}

// ---- the UDP flow record (PROTOCOL.md 8.12, "UDP flows") ---------------------------------

export const UDPFLOW_VERSION: u32 = 2;

/** The UDP flow record's header length: 20 (IPv4) or 44 (IPv6). */
export function udpHeaderLength(family: u32): i32 {
  return family == FAMILY_IPV4 ? 20 : 44;
}

/** One UDP flow: its 4-tuple and the application state that goes with it. */
export class UdpFlowState {
  family: u32 = 0;
  localPort: u32 = 0;
  remotePort: u32 = 0;
  local: Address = new Address();
  remote: Address = new Address();
  appStateLength: u32 = 0;
}

function checkUdp(s: UdpFlowState): i32 {
  if (s.localPort == 0 || s.remotePort == 0 || s.localPort > 0xffff || s.remotePort > 0xffff) return ERR_BAD_VALUE;
  if (!s.local.isUsableUnicast() || !s.remote.isUsableUnicast()) return ERR_BAD_ADDRESS;
  if (s.appStateLength > MAX_APP_STATE_BYTES) return ERR_RECORD_TOO_LONG;
  return 0;
}

/**
 * Decodes the UDP flow record of `total` bytes whose first `n` bytes are at
 * p (n >= the header length, or n == total): 0 or the first error of 8.12
 * ("UDP flows"). Never reads outside [p, p+n).
 */
export function decodeUdpFlow(p: usize, n: i32, total: i64, s: UdpFlowState): i32 {
  if (total < 4 || n < 4) return ERR_RECORD_TRUNCATED;
  if (get8(p) != UDPFLOW_VERSION) return ERR_RECORD_VERSION;
  const family = get8(p + 1);
  if (!isValidFamily(family)) return ERR_BAD_FAMILY;
  const hl = udpHeaderLength(family);
  if (total < <i64>hl || n < hl) return ERR_RECORD_TRUNCATED;
  if (get16(p + 2) != 0) return ERR_RESERVED_NONZERO;
  const alen: usize = family == FAMILY_IPV4 ? 4 : 16;
  s.family = family;
  s.localPort = get16(p + 4);
  s.remotePort = get16(p + 6);
  s.local.load(<u8>family, p + 8);
  s.remote.load(<u8>family, p + 8 + alen);
  s.appStateLength = get32(p + 8 + 2 * alen);
  const err = checkUdp(s);
  if (err) return err;
  const want = <i64>hl + <i64>s.appStateLength;
  if (total < want) return ERR_RECORD_TRUNCATED;
  if (total > want) return ERR_RECORD_TRAILING_BYTES;
  return 0;
}

/** Writes the UDP flow record's header for `s` at out: its length, the negated error, or -1 if it does not fit. */
export function encodeUdpFlowHeader(s: UdpFlowState, out: usize, cap: i32): i32 {
  if (!isValidFamily(s.family)) return -ERR_BAD_FAMILY;
  if (s.local.family != s.family || s.remote.family != s.family) return -ERR_BAD_FAMILY;
  const err = checkUdp(s);
  if (err) return -err;
  const hl = udpHeaderLength(s.family);
  if (cap < hl) return -1;
  const alen: usize = s.family == FAMILY_IPV4 ? 4 : 16;
  put8(out, UDPFLOW_VERSION);
  put8(out + 1, s.family);
  put16(out + 2, 0);
  put16(out + 4, s.localPort);
  put16(out + 6, s.remotePort);
  s.local.store(out + 8);
  s.remote.store(out + 8 + alen);
  put32(out + 8 + 2 * alen, s.appStateLength);
  return hl;
}

/**
 * A state stream carries records back to back (8.12): the length of the one
 * whose first n bytes are at p, from its header alone (a TCP state record or
 * a UDP flow record), or the negated error: fewer bytes than the header
 * (RECORD_TRUNCATED), another version (RECORD_VERSION), a bad family
 * (BAD_FAMILY), or lengths over the limits (RECORD_TOO_LONG). The record
 * itself is checked by its decoder.
 */
export function stateRecordLength(p: usize, n: i32): i64 {
  if (n < 2) return -ERR_RECORD_TRUNCATED;
  const v = get8(p);
  if (v != TCPSTATE_VERSION && v != UDPFLOW_VERSION) return -ERR_RECORD_VERSION;
  const family = get8(p + 1);
  if (!isValidFamily(family)) return -ERR_BAD_FAMILY;
  const alen: usize = family == FAMILY_IPV4 ? 4 : 16;
  if (v == UDPFLOW_VERSION) {
    const hl = udpHeaderLength(family);
    if (n < hl) return -ERR_RECORD_TRUNCATED;
    const app = get32(p + 8 + 2 * alen);
    if (app > MAX_APP_STATE_BYTES) return -ERR_RECORD_TOO_LONG;
    return <i64>hl + <i64>app;
  }
  const hl = headerLength(family);
  if (n < hl) return -ERR_RECORD_TRUNCATED;
  const q = p + 12 + 2 * alen;
  const send = get32(q + 32);
  const recv = get32(q + 40);
  const app = get32(q + 44);
  if (send > MAX_QUEUE_BYTES || recv > MAX_QUEUE_BYTES || app > MAX_APP_STATE_BYTES) return -ERR_RECORD_TOO_LONG;
  return <i64>hl + <i64>send + <i64>recv + <i64>app;
}
