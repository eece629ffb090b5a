// The authentication extension (docs/PROTOCOL.md section 4.1): an HMAC over
// every byte of the message before the authenticator, i.e. the header, all
// earlier extensions, and this extension's Type, Length and SPI.

import { get8, get32 } from "../util/bytes";
import { HmacKey } from "../crypto/hmac";
import { Decoded } from "./decode";
import { ERR_AUTH_LENGTH_MISMATCH, ERR_BAD_AUTHENTICATOR } from "../generated/registry";

/** The SPI of a decoded message's authentication extension. */
export function authSpi(d: Decoded): u32 {
  return get32(d.ptr + d.authOffset + 2);
}

/** 0 if the decoded message's authenticator verifies under key, else an error code. */
export function verifyAuth(d: Decoded, key: HmacKey): i32 {
  const a = d.ptr + <usize>d.authOffset;
  const tagLen = <i32>get8(a + 1) - 4;
  if (tagLen != key.tagLen) return ERR_AUTH_LENGTH_MISMATCH;
  const covered = d.authOffset + 6;
  return key.verify(d.ptr, covered, a + 6, tagLen) ? 0 : ERR_BAD_AUTHENTICATOR;
}
