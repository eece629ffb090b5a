// The identifier cookie (docs/PROTOCOL.md section 3.2): 48 bits that name a
// node whatever its address, derived from an invariant of the node (the first
// seed suggests its fully qualified domain name) by a one-way hash:
//
//   cookie = first 6 bytes of SHA-256("handover-cookie/1" || 0x00 || name)
//
// The label keeps the cookie from colliding with other uses of SHA-256(name).

import { hashInto, ALG_SHA256 } from "./crypto/hmac";

const LABEL = "handover-cookie/1";
const SCRATCH_LEN: i32 = 18 + 255;
const scratch = memory.data(SCRATCH_LEN + 32);

/** Writes the 6-byte cookie of the UTF-8 name [name, name+len) at out; false if len is not 1..255. */
export function cookieFromName(name: usize, len: i32, out: usize): bool {
  if (len < 1 || len > 255) return false;
  for (let i = 0; i < LABEL.length; i++) store<u8>(scratch + i, <u8>LABEL.charCodeAt(i));
  store<u8>(scratch + LABEL.length, 0);
  memory.copy(scratch + LABEL.length + 1, name, len);
  const digest = scratch + SCRATCH_LEN;
  hashInto(ALG_SHA256, scratch, LABEL.length + 1 + len, digest);
  memory.copy(out, digest, 6);
  return true;
}
