// Timestamp and nonce replay protection for the 64-bit Replay Protect ID
// (docs/PROTOCOL.md section 6). Times are Unix milliseconds as f64, the unit
// the host passes in `now`; on the wire a timestamp is NTP format (RFC 5905):
// seconds since 1900 in the high 32 bits, the binary fraction in the low 32.

import { ERR_STALE_TIMESTAMP, ERR_NONCE_MISMATCH } from "../generated/registry";

/** Seconds from 1900-01-01 (NTP era 0) to 1970-01-01. */
export const NTP_UNIX_OFFSET: f64 = 2208988800;
const TWO32: f64 = 4294967296;

/** Unix milliseconds to a 64-bit NTP timestamp (seconds modulo 2^32: eras wrap). */
export function ntpFromMs(ms: f64): u64 {
  const seconds = Math.floor(ms / 1000);
  const fraction = Math.floor(((ms - seconds * 1000) / 1000) * TWO32);
  const ntp = (seconds + NTP_UNIX_OFFSET) % 4294967296;
  return (<u64>ntp << 32) | (<u64>fraction & 0xffffffff);
}

const ERA: f64 = 4294967296;

/**
 * A 64-bit NTP timestamp to Unix milliseconds, in the NTP era (a span of 2^32
 * seconds, the first ending in 2036) that puts it closest to `near` (RFC 5905
 * section 6).
 */
export function msFromNtp(id: u64, near: f64): f64 {
  const seconds = <f64>(id >> 32);
  const fraction = <f64>(id & 0xffffffff) / TWO32;
  const nearSeconds = near / 1000 + NTP_UNIX_OFFSET;
  const era = Math.round((nearSeconds - seconds) / ERA);
  return (seconds + era * ERA - NTP_UNIX_OFFSET + fraction) * 1000;
}

/** 0 if the timestamp is within skewMs of now, ERR_STALE_TIMESTAMP otherwise. */
export function checkTimestamp(id: u64, now: f64, skewMs: f64): i32 {
  const t = msFromNtp(id, now);
  return Math.abs(t - now) <= skewMs ? 0 : ERR_STALE_TIMESTAMP;
}

/** Nonce mode: the high 32 bits must be the nonce the receiver issued. */
export function checkNonce(id: u64, issued: u32): i32 {
  return <u32>(id >> 32) == issued ? 0 : ERR_NONCE_MISMATCH;
}
