// The canonical JSON form of a decoded message (docs/PROTOCOL.md section 8.3):
// what the conformance vectors compare and what events hand to applications.

import { get8, get16, get32 } from "../util/bytes";
import { TextOut } from "../util/text";
import {
  authSpiAt, authTagPtr, authTagLength, endpointsProtocols, endpointsFamily, endpointsPortA, endpointsPortB,
  endpointsAddressAPtr, endpointsAddressBPtr, lifetimeSeconds, opaqueSubtype, opaqueFlags, opaqueDataPtr, opaqueDataLength,
} from "./fields";
import { Decoded, familyLength, OFF_COOKIE, OFF_REPLAY_ID } from "./decode";
import {
  messageName, messageIsReply, extensionName, codeName, opaqueSubtypeName, wrapName, flagName,
  EXT_AUTH, EXT_MIGRATION, EXT_PATH_CHALLENGE, EXT_PATH_RESPONSE, EXT_LIFETIME,
  EXT_TRANSFERRED_ADDRESS, EXT_TARGET_ADDRESS, EXT_AGENT_ADDRESS, EXT_INTERIM_ADDRESS,
  EXT_LINK_LAYER_ADDRESS, EXT_SESSION_KEY, EXT_FLOW, EXT_OPAQUE_DATA, EXT_ADDRESS_LEASE,
  PROTO_TCP, PROTO_UDP, WRAP_X25519_CHACHA20_POLY1305, IPPROTO_TCP,
} from "../generated/registry";

/** A registry name, or the number when the value has none. */
function nameOrNumber(out: TextOut, name: string, v: u32): void {
  if (name.length) out.str(name);
  else out.num(v);
}

function describeExtension(out: TextOut, d: Decoded, p: usize): void {
  const ext = get8(p);
  const n = <i32>get8(p + 1);
  const data = p + 2;
  out.objOpen();
  out.key("type");
  nameOrNumber(out, extensionName(ext), ext);
  switch (ext) {
    case EXT_AUTH:
      out.key("spi");
      out.num(authSpiAt(p));
      out.key("authenticator");
      out.hexString(authTagPtr(p), authTagLength(p));
      break;
    case EXT_MIGRATION: {
      const flags = endpointsProtocols(p);
      const family = endpointsFamily(p);
      out.key("protocols");
      out.arrOpen();
      if (flags & PROTO_TCP) out.str("TCP");
      if (flags & PROTO_UDP) out.str("UDP");
      out.arrClose();
      out.key("oldAddress");
      out.addressString(family, endpointsAddressAPtr(p));
      out.key("newAddress");
      out.addressString(family, endpointsAddressBPtr(p));
      out.key("oldPort");
      out.num(endpointsPortA(p));
      out.key("newPort");
      out.num(endpointsPortB(p));
      break;
    }
    case EXT_FLOW: {
      const family = endpointsFamily(p);
      out.key("protocol");
      out.str(endpointsProtocols(p) == IPPROTO_TCP ? "TCP" : "UDP");
      out.key("localAddress");
      out.addressString(family, endpointsAddressAPtr(p));
      out.key("localPort");
      out.num(endpointsPortA(p));
      out.key("remoteAddress");
      out.addressString(family, endpointsAddressBPtr(p));
      out.key("remotePort");
      out.num(endpointsPortB(p));
      break;
    }
    case EXT_PATH_CHALLENGE:
    case EXT_PATH_RESPONSE:
      out.key("token");
      out.hexString(data, 8);
      break;
    case EXT_LIFETIME:
      out.key("seconds");
      out.num(lifetimeSeconds(p));
      break;
    case EXT_TRANSFERRED_ADDRESS:
    case EXT_TARGET_ADDRESS:
    case EXT_AGENT_ADDRESS:
    case EXT_INTERIM_ADDRESS:
      out.key("address");
      out.addressString(get8(data), data + 1);
      break;
    case EXT_LINK_LAYER_ADDRESS:
      out.key("hardwareType");
      out.num(get16(data));
      out.key("address");
      out.hexString(data + 2, n - 2);
      break;
    case EXT_SESSION_KEY: {
      const alg = get8(data);
      out.key("wrap");
      out.str(wrapName(alg));
      out.key("wrapSpi");
      out.num(get32(data + 2));
      out.key("sessionSpi");
      out.num(get32(data + 6));
      let q = data + 10;
      if (alg == WRAP_X25519_CHACHA20_POLY1305) {
        out.key("ephemeralPublicKey");
        out.hexString(q, 32);
        q += 32;
      }
      out.key("nonce");
      out.hexString(q, 12);
      out.key("sealedKey");
      out.hexString(q + 12, 32);
      out.key("tag");
      out.hexString(q + 44, 16);
      break;
    }
    case EXT_ADDRESS_LEASE: {
      const g = get8(data);
      out.key("generator");
      out.str(g == 1 ? "STATIC" : g == 2 ? "IPV6" : "DHCP4");
      out.key("remaining");
      out.num(get32(data + 2));
      out.key("state");
      out.hexString(data + 6, n - 6);
      break;
    }
    case EXT_OPAQUE_DATA:
      out.key("subtype");
      nameOrNumber(out, opaqueSubtypeName(opaqueSubtype(p)), opaqueSubtype(p));
      out.key("flags");
      out.num(opaqueFlags(p));
      out.key("data");
      out.hexString(opaqueDataPtr(p), opaqueDataLength(p));
      break;
    default:
      out.key("data");
      out.hexString(data, n);
  }
  out.objClose();
}

/** Writes the JSON form of a successfully decoded message. */
export function describe(out: TextOut, d: Decoded): void {
  const p = d.ptr;
  out.objOpen();
  out.key("version");
  out.num(get8(p));
  out.key("type");
  out.str(messageName(d.type));
  if (messageIsReply(d.type)) {
    out.key("code");
    nameOrNumber(out, codeName(d.flagsCode), d.flagsCode);
  } else {
    out.key("flags");
    out.arrOpen();
    for (let bit: u32 = 1; bit < 256; bit <<= 1) {
      if (d.flagsCode & bit) out.str(flagName(d.type, bit));
    }
    out.arrClose();
  }
  out.key("sequence");
  out.num(d.sequence);
  out.key("cookie");
  out.hexString(p + OFF_COOKIE, 6);
  out.key("replayId");
  out.hexString(p + OFF_REPLAY_ID, 8);
  out.key("extensions");
  out.arrOpen();
  for (let i = 0; i < d.extTotal; i++) describeExtension(out, d, d.at(i));
  out.arrClose();
  out.objClose();
}
