// What sid/flows.ts (the per-flow mode, 8.16) sees of the SID engine: the
// roles and states, the helpers over the message being handled, the Claim
// procedure and the calls it makes into the engine (SidBase). sid/engine.ts's
// Sid implements SidBase; flows.ts imports only this file of the engine, so
// engine.ts and flows.ts import each other in no circle.

import { Node, RequestHandler, Procedure } from "../engine/node";
import { Peer, SecurityAssociation, CachedReply } from "../engine/peer";
import { Address } from "../engine/address";
import { Decoded } from "../wire/decode";
import { addressValue, lifetimeSeconds, sessionKeyAlg, sessionKeyWrapSpi, sessionKeySessionSpi, sessionKeyWrappedPtr, sessionKeyWrappedLength } from "../wire/fields";
import { TextOut } from "../util/text";
import { HmacKey } from "../crypto/hmac";
import { keyUnwrap } from "../crypto/keywrap";
import { SEAL_SA, bindingKey, bindingSubkey } from "../wire/sealed";
import { VniSet } from "./bindings";
import { tunnelIds, kernelMessagePtr } from "../kernel/vxlan";
import { addressMessage, messagePtr } from "../kernel/netlink";
import { LOOPBACK_IFINDEX } from "../kernel/linux";
import { EXT_LIFETIME, EXT_SESSION_KEY, AUTH_HMAC_SHA256 } from "../generated/registry";

// Roles and states (docs/ABI.md "SID engine", sid_session bytes 56 and 57).
export const ROLE_NODE: u8 = 1;
export const ROLE_TARGET: u8 = 2;
export const ROLE_AGENT: u8 = 3;
export const NEGOTIATING: u8 = 1;
export const DELIVERING: u8 = 2;
export const REQUESTING: u8 = 3;
export const TRANSFERRED: u8 = 4;
export const NEGOTIATED: u8 = 5;
export const REGISTERING: u8 = 6;
export const BOUND: u8 = 7;
export const DEREGISTERING: u8 = 8;
export const ACTIVE: u8 = 9;
export const WAKING: u8 = 10;
/** The original node takes its address back (8.6): the record is in, the agent's Wake-up is awaited. */
export const RETURNING: u8 = 11;
/** The old target of a return (8.6): the address went back; its tunnel, session key and reply cache stay a while. */
export const RETIRED: u8 = 12;

export const MAIN_TABLE: u32 = 254;

export const IDS = memory.data(26, 4);
export const KEY_BUF = memory.data(32, 8);

/** The tunnel identifiers of a session key (8.9), in IDS: VNI, agent MAC at +4, target MAC at +10, name at +16. */
export function ids(key: usize): u32 {
  tunnelIds(key, IDS);
  return load<u32>(IDS);
}

export function addressOf(d: Decoded, ext: u8): Address {
  return addressValue(d.first(ext));
}

export function lifetimeOf(d: Decoded, dflt: u32): u32 {
  if (!d.has(EXT_LIFETIME)) return dflt;
  return <u32>lifetimeSeconds(d.first(EXT_LIFETIME));
}

/**
 * A session SA (8.3, 8.11) over a binding key K_b (32 bytes at kb): Binding
 * Update and Ack sealed and authenticated under K_b's subkeys, `sealIn` in and
 * `sealOut` out; its other messages (a further Transfer Request, 8.6) under
 * HMAC-SHA256 with K_b's SA subkey, which is also its `raw` key (key wrap, 4.7).
 */
export function sessionSa(spi: u32, kb: usize, sealIn: i32, sealOut: i32): SecurityAssociation {
  bindingSubkey(kb, SEAL_SA, SUB_BUF);
  const sa = new SecurityAssociation(spi, new HmacKey(AUTH_HMAC_SHA256, SUB_BUF, 32));
  sa.raw = new StaticArray<u8>(32);
  memory.copy(changetype<usize>(sa.raw), SUB_BUF, 32);
  memory.fill(SUB_BUF, 0, 32);
  memory.copy(changetype<usize>(sa.sealBase), kb, 32);
  sa.sealIn = sealIn;
  sa.sealOut = sealOut;
  return sa;
}

const SUB_BUF = memory.data(32, 8);

/** Replaces the 32-byte session key at p by its binding key K_b (8.11). */
export function toBindingKey(p: usize): void {
  bindingKey(p, SUB_BUF);
  memory.copy(p, SUB_BUF, 32);
  memory.fill(SUB_BUF, 0, 32);
}

/**
 * Unwraps the Session Key extension of the message being handled with the
 * key `wrapKey` (the wrap SA's raw key) into out: true if it opened.
 */
export function unwrapSessionKey(d: Decoded, wrapKey: StaticArray<u8>, out: usize): bool {
  const p = d.first(EXT_SESSION_KEY);
  if (wrapKey.length == 0) return false;
  return keyUnwrap(
    d.ptr, sessionKeyAlg(p), sessionKeyWrapSpi(p), sessionKeySessionSpi(p), changetype<usize>(wrapKey), wrapKey.length,
    sessionKeyWrappedPtr(p), sessionKeyWrappedLength(p), out,
  ) == 32;
}

export function wrapSpiOf(d: Decoded): u32 {
  return sessionKeyWrapSpi(d.first(EXT_SESSION_KEY));
}
export function sessionSpiOf(d: Decoded): u32 {
  return sessionKeySessionSpi(d.first(EXT_SESSION_KEY));
}

/**
 * The kernel actions that put a binding (agent) or a hosted address (target)
 * in place: if one fails, the binding or the hosting ends, rather than
 * standing without its tunnel or address.
 */
export class Claim extends Procedure {
  sid: SidBase;
  address: Address;
  role: u8;
  spi: u32;
  /**
   * 8.12, the agent's claim in two parts: the first part (the tunnel, its
   * filters and route) sends the agent's own Binding Ack when its actions are
   * done (`notice`, with `granted` to `target`) and then queues the second
   * part (`announce`: the gratuitous ARP and the proxy entry); the second
   * part's actions come after that Ack left (`noticed`): if one fails, the
   * target is told (a Binding Ack of Lifetime 0) as the binding ends.
   */
  notice: bool = false;
  noticed: bool = false;
  announce: bool = false;
  granted: u32 = 0;
  target: Address | null = null;
  constructor(sid: SidBase, a: Address, role: u8, spi: u32) {
    super();
    this.sid = sid;
    this.address = a.copy();
    this.role = role;
    this.spi = spi;
  }
  onActionsDone(node: Node, ok: bool, now: f64): void {
    if (!ok) this.sid.claimFailed(this, now);
    else this.sid.claimMade(this, now);
  }
}

/** The engine's calls that flows.ts and Claim make (sid/engine.ts Sid implements them). */
export abstract class SidBase extends RequestHandler {
  node: Node;
  /** The home link's interface. */
  ifindex: u32 = 0;
  vnis: VniSet = new VniSet();
  /** The owner of the kernel actions being queued (a Claim), or null. */
  actionOwner: Procedure | null = null;

  constructor(node: Node) {
    super();
    this.node = node;
  }

  abstract netlink(n: i32): void;
  abstract refuse(role: u8, a: Address, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, code: u32, message: string, now: f64): void;
  abstract reply(peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, code: u32, lifetime: i32, target: Address | null, now: f64): void;
  abstract event(state: string, role: u8, a: Address, now: f64): TextOut;
  abstract tunnel(add: bool, role: u8, key: usize, peer: Address, ta: Address, reverse: bool, table: u32): void;
  abstract flowExpiresBy(t: f64): void;
  abstract countTarget(old: u64, cookie: u64): void;
  abstract verifyParked(node: Node, a: Address, now: f64): void;
  abstract stopAnnouncing(a: Address): void;
  abstract sendWakeup(peer: Peer, a: Address, interim: Address, now: f64): void;
  abstract refused(role: u8, a: Address, code: u32, err: i32, message: string, now: f64): void;
  abstract hasBinding(a: Address): bool;
  abstract flowsChanged(): void;
  abstract announce(a: Address, now: f64): void;
  abstract claimFailed(c: Claim, now: f64): void;
  abstract claimMade(c: Claim, now: f64): void;
}

/** The address message of dataplane.md section 4 for a on lo (or `ifindex`), copied out of its static buffer. */
export function addressMessageCopy(add: bool, a: Address, ifindex: u32 = LOOPBACK_IFINDEX, nodad: bool = true, deprecated: bool = false): i32 {
  const n = addressMessage(add, a, ifindex, nodad, deprecated);
  memory.copy(kernelMessagePtr(), messagePtr(), <usize>n);
  return n;
}
