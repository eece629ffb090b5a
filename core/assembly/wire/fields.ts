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

/** OPAQUE_DATA (4.12): subtype, flags, data. */
export const OPAQUE_SUBTYPE: usize = 2;
export const OPAQUE_FLAGS: usize = 3;
export const OPAQUE_DATA: usize = 4;

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

export function opaqueSubtype(p: usize): u8 { return <u8>get8(p + OPAQUE_SUBTYPE); }
export function opaqueFlags(p: usize): u8 { return <u8>get8(p + OPAQUE_FLAGS); }
export function opaqueDataPtr(p: usize): usize { return p + OPAQUE_DATA; }
export function opaqueDataLength(p: usize): i32 { return extLength(p) - <i32>(OPAQUE_DATA - EXT_DATA); }
