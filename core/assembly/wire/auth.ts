// The authentication extension (docs/PROTOCOL.md section 4.1): an HMAC over
// every byte of the message before the authenticator, i.e. the header, all
// earlier extensions, and this extension's Type, Length and SPI.

import { HmacKey } from "../crypto/hmac";
import { Decoded } from "./decode";
import { authSpiAt, authTagLength, authTagPtr, AUTH_TAG } from "./fields";
import { ERR_AUTH_LENGTH_MISMATCH, ERR_BAD_AUTHENTICATOR } from "../generated/registry";

/** The SPI of a decoded message's authentication extension. */
export function authSpi(d: Decoded): u32 {
  return authSpiAt(d.ptr + <usize>d.authOffset);
}

/** 0 if the decoded message's authenticator verifies under key, else an error code. */
export function verifyAuth(d: Decoded, key: HmacKey): i32 {
  const a = d.ptr + <usize>d.authOffset;
  const tagLen = authTagLength(a);
  if (tagLen != key.tagLen) return ERR_AUTH_LENGTH_MISMATCH;
  const covered = d.authOffset + <i32>AUTH_TAG;
  return key.verify(d.ptr, covered, authTagPtr(a), tagLen) ? 0 : ERR_BAD_AUTHENTICATOR;
}
