// Session-specific addresses (docs/PROTOCOL.md 8.18, docs/ABI.md "SID session
// addresses"), typed: the generators' configuration (static pool, IPv6 /64),
// a session address for the application, the kernel's verdict of IPv6
// duplicate address detection, the release. Runtime-neutral; the core decides
// and builds the address actions.

import { readFileSync } from "node:fs";
import type { Engine } from "./engine.ts";

export type GeneratorName = "static" | "ipv6" | "dhcp4";
export const GENERATORS: Record<GeneratorName, number> = { static: 1, ipv6: 2, dhcp4: 3 };
const GENERATOR_NAMES = ["", "static", "ipv6", "dhcp4"] as const;
const STATES = ["", "pending", "ready", "expired", "released", "away"] as const;

export interface SessionAddressInfo {
  session: number;
  generator: string;
  state: (typeof STATES)[number];
  address: string;
  /** ms on the engine's clock; absent: no end. */
  expires?: number;
}

export class SidAddresses {
  constructor(readonly engine: Engine) {}

  private get core() {
    return this.engine.core;
  }

  /** A range "first-last" or prefix "a/len" for the static pool (configuration `sid.addressPool`). */
  addPool(range: string): void {
    const [first, last] = this.core.addressRange(range);
    const [fp, lp] = this.core.stage(first.bytes, last.bytes);
    this.core.check(this.core.x.sid_pool_add(first.family, fp, lp), `sid_pool_add ${range}`);
  }

  /** The /64 IPv6 session addresses are generated in (configuration `sid.addressPrefix6`). */
  prefix6(prefix: string): void {
    const a = this.core.parseAddress(prefix.replace(/\/64$/, ""));
    if (a.family !== 2) throw new TypeError(`${prefix} is not an IPv6 prefix`);
    this.core.check(this.core.x.sid_prefix6(this.core.put(a.bytes)), `sid_prefix6 ${prefix}`);
  }

  /** Starts a session address from the generator: its session handle. */
  acquire(now: number, generator: GeneratorName): number {
    const kind = GENERATORS[generator];
    if (!kind) throw new TypeError(`unknown address generator '${generator}': static, ipv6 or dhcp4`);
    return this.core.check(this.core.x.sid_address_acquire(now, kind), `sid_address_acquire ${generator}`);
  }

  info(session: number): SessionAddressInfo {
    const out = this.core.outputPtr;
    this.core.check(this.core.x.sid_address_info(session, out), `sid_address_info ${session}`);
    const b = this.core.get(out, 32);
    const family = b[2];
    const expires = new DataView(b.buffer, b.byteOffset + 24, 8).getFloat64(0, true);
    return {
      session,
      generator: GENERATOR_NAMES[b[0]] ?? String(b[0]),
      state: STATES[b[1]] ?? "expired",
      address: family ? this.core.formatAddress(family, b.subarray(4, 20)) : "",
      ...(Number.isFinite(expires) ? { expires } : {}),
    };
  }

  dad(now: number, session: number, ok: boolean): void {
    this.core.check(this.core.x.sid_address_dad(now, session, ok ? 1 : 0), `sid_address_dad ${session}`);
  }

  release(now: number, session: number): void {
    this.core.check(this.core.x.sid_address_release(now, session), `sid_address_release ${session}`);
  }
}

/** IFA_F_* flags of an IPv6 address on an interface, from /proc/net/if_inet6; null if it is not there. */
export function inet6Flags(address: Uint8Array, ifindex: number): number | null {
  const hex = Array.from(address.subarray(0, 16), (x) => x.toString(16).padStart(2, "0")).join("");
  let text: string;
  try {
    text = readFileSync("/proc/net/if_inet6", "utf8");
  } catch {
    return null;
  }
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 6 && f[0] === hex && parseInt(f[1], 16) === ifindex) return parseInt(f[4], 16);
  }
  return null;
}
/** IFA_F_TENTATIVE and IFA_F_DADFAILED (linux/if_addr.h). */
export const IFA_F_TENTATIVE = 0x40;
export const IFA_F_DADFAILED = 0x08;
