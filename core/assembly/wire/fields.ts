// Named field offsets of the extensions (docs/PROTOCOL.md section 4), and
// accessors that read them. Every accessor takes `p`, the address of an
// extension's Type byte as Decoded.at() or Decoded.first() gives it, and is
// safe only after `decode` accepted the message: decode checked each
// extension's length and family, so no read here can pass its end.
// (smoltcp's style: the offsets are written once, here; callers never add
// numbers to pointers.)

import { get8, get16, get32 } from "../util/bytes";
import { Address } from "../engine/address";
import { familyLength } from "./family";

/** Every extension: Type, Length, then Length bytes of data. */
export const EXT_TYPE: usize = 0;
export const EXT_LENGTH: usize = 1;
export const EXT_DATA: usize = 2;

/** AUTH (4.1): SPI, then the authenticator. */
export const AUTH_SPI: usize = 2;
export const AUTH_TAG: usize = 6;

/** MIGRATION (4.2) and FLOW (4.11): protocols, family, two ports, two addresses. */
export const ENDPOINTS_PROTOCOLS: usize = 2;
export const ENDPOINTS_FAMILY: usize = 3;
export const ENDPOINTS_PORT_A: usize = 4;
export const ENDPOINTS_PORT_B: usize = 6;
export const ENDPOINTS_ADDRESS_A: usize = 8;

/** LIFETIME (4.5): seconds. */
export const LIFETIME_SECONDS: usize = 2;

/** Address extensions (4.5, types 37-40): family, then the address. */
export const ADDRESS_FAMILY: usize = 2;
export const ADDRESS_VALUE: usize = 3;

/** SESSION_KEY (4.7): Wrap Alg, reserved, Wrap SPI, Session SPI, then the wrapped key. */
export const SESSION_KEY_ALG: usize = 2;
export const SESSION_KEY_WRAP_SPI: usize = 4;
export const SESSION_KEY_SESSION_SPI: usize = 8;
export const SESSION_KEY_WRAPPED: usize = 12;

/** OPAQUE_DATA (4.12): subtype, flags, data. */
export const OPAQUE_SUBTYPE: usize = 2;
export const OPAQUE_FLAGS: usize = 3;
export const OPAQUE_DATA: usize = 4;

/** PATH_CHALLENGE and PATH_RESPONSE: the 8-byte token. */
export const TOKEN_VALUE: usize = 2;
export const TOKEN_LENGTH: i32 = 8;

// @ts-ignore: decorator
@inline export function extType(p: usize): u8 { return <u8>get8(p + EXT_TYPE); }
// @ts-ignore: decorator
@inline export function extLength(p: usize): i32 { return <i32>get8(p + EXT_LENGTH); }

export function authSpiAt(p: usize): u32 { return get32(p + AUTH_SPI); }
export function authTagPtr(p: usize): usize { return p + AUTH_TAG; }
export function authTagLength(p: usize): i32 { return extLength(p) - <i32>(AUTH_TAG - EXT_DATA); }

/** MIGRATION: the protocol flags (PROTO_TCP | PROTO_UDP; 0 for all). FLOW: the IP protocol. */
export function endpointsProtocols(p: usize): u8 { return <u8>get8(p + ENDPOINTS_PROTOCOLS); }
export function endpointsFamily(p: usize): u8 { return <u8>get8(p + ENDPOINTS_FAMILY); }
/** MIGRATION: the old port. FLOW: the local port. */
export function endpointsPortA(p: usize): u16 { return <u16>get16(p + ENDPOINTS_PORT_A); }
/** MIGRATION: the new port. FLOW: the remote port. */
export function endpointsPortB(p: usize): u16 { return <u16>get16(p + ENDPOINTS_PORT_B); }
export function endpointsAddressAPtr(p: usize): usize { return p + ENDPOINTS_ADDRESS_A; }
export function endpointsAddressBPtr(p: usize): usize {
  return p + ENDPOINTS_ADDRESS_A + <usize>familyLength(endpointsFamily(p));
}
/** MIGRATION: the old address. FLOW: the local address. */
export function endpointsAddressA(p: usize): Address { return Address.read(endpointsFamily(p), endpointsAddressAPtr(p)); }
/** MIGRATION: the new address. FLOW: the remote address. */
export function endpointsAddressB(p: usize): Address { return Address.read(endpointsFamily(p), endpointsAddressBPtr(p)); }

export function lifetimeSeconds(p: usize): u16 { return <u16>get16(p + LIFETIME_SECONDS); }

export function addressFamily(p: usize): u8 { return <u8>get8(p + ADDRESS_FAMILY); }
export function addressValue(p: usize): Address { return Address.read(addressFamily(p), p + ADDRESS_VALUE); }

export function sessionKeyAlg(p: usize): u32 { return get8(p + SESSION_KEY_ALG); }
export function sessionKeyWrapSpi(p: usize): u32 { return get32(p + SESSION_KEY_WRAP_SPI); }
export function sessionKeySessionSpi(p: usize): u32 { return get32(p + SESSION_KEY_SESSION_SPI); }
/** The wrapped key (the ephemeral public key if any, nonce, sealed key, tag) and its length. */
export function sessionKeyWrappedPtr(p: usize): usize { return p + SESSION_KEY_WRAPPED; }
export function sessionKeyWrappedLength(p: usize): i32 { return extLength(p) - <i32>(SESSION_KEY_WRAPPED - EXT_DATA); }

export function opaqueSubtype(p: usize): u8 { return <u8>get8(p + OPAQUE_SUBTYPE); }
export function opaqueFlags(p: usize): u8 { return <u8>get8(p + OPAQUE_FLAGS); }
export function opaqueDataPtr(p: usize): usize { return p + OPAQUE_DATA; }
export function opaqueDataLength(p: usize): i32 { return extLength(p) - <i32>(OPAQUE_DATA - EXT_DATA); }

export function tokenPtr(p: usize): usize { return p + TOKEN_VALUE; }
