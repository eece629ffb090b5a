// The SID engine's flat exports (docs/ABI.md "SID engine"), typed. The SID
// procedures run on the same node as STEM and share its inputs and output
// queue (Engine); this class adds SID's configuration and calls.

import { HandoverError } from "./core.ts";
import type { Engine } from "./engine.ts";

/** Role and state numbers of sid_session (docs/ABI.md "SID engine"). */
export const SidRole = { 1: "node", 2: "target", 3: "agent" } as const;
export const SidState = {
  1: "NEGOTIATING", 2: "DELIVERING", 3: "REQUESTING", 4: "TRANSFERRED",
  5: "NEGOTIATED", 6: "REGISTERING", 7: "BOUND", 8: "DEREGISTERING",
  9: "ACTIVE", 10: "WAKING",
} as const;

/** sid_transfer's flags. */
export const SidTransferFlag = { FURTHER_TRANSFER: 0x01, REVERSE_RETURN: 0x08 } as const;

export interface SidSession {
  sessionKey: Uint8Array;
  sessionSpi: number;
  vni: number;
  ifindex: number;
  agentMac: Uint8Array;
  targetMac: Uint8Array;
  role: (typeof SidRole)[keyof typeof SidRole] | "unknown";
  state: string;
  flags: number;
  peer: number;
}

const SESSION_INFO_SIZE = 64;
const dec = new TextDecoder();

export class SidEngine {
  constructor(readonly engine: Engine) {}

  private get core() {
    return this.engine.core;
  }

  private addr(address: string): [number, number] {
    const a = this.core.parseAddress(address);
    return [a.family, this.core.put(a.bytes)];
  }

  /** Switches SID on: the home link's interface index and MAC, and this node's address on it. */
  link(ifindex: number, mac: Uint8Array, address: string): void {
    if (mac.length !== 6) throw new TypeError("a MAC is 6 bytes");
    const a = this.core.parseAddress(address);
    const [m, ap] = this.core.stage(mac, a.bytes);
    this.core.check(this.core.x.sid_link(ifindex, m, a.family, ap), `sid_link ${ifindex} ${address}`);
  }

  /** Moves `address` to the target peer, through the agent peer (undefined: same subnet). */
  transfer(now: number, address: string, target: number, agent: number | undefined, flags: number, lifetime: number): void {
    const [f, p] = this.addr(address);
    this.core.check(this.core.x.sid_transfer(now, f, p, target, agent ?? -1, flags, lifetime), `transfer of ${address}`);
  }

  stop(now: number, address: string): void {
    const [f, p] = this.addr(address);
    this.core.check(this.core.x.sid_stop(now, f, p), `stop transfer of ${address}`);
  }

  stateDelivered(now: number, address: string, ok: boolean): void {
    const [f, p] = this.addr(address);
    this.core.check(this.core.x.sid_state_delivered(now, f, p, ok ? 1 : 0), `state delivered for ${address}`);
  }

  stateReceived(now: number, address: string, ok: boolean): void {
    const [f, p] = this.addr(address);
    this.core.check(this.core.x.sid_state_received(now, f, p, ok ? 1 : 0), `state received for ${address}`);
  }

  sessionEnded(now: number, address: string): void {
    const [f, p] = this.addr(address);
    this.core.check(this.core.x.sid_session_ended(now, f, p), `session ended for ${address}`);
  }

  /** The transfer of `address` known here, or null if there is none. */
  session(address: string): SidSession | null {
    const c = this.core;
    const [f, p] = this.addr(address);
    const out = c.outputPtr;
    const n = c.x.sid_session(f, p, out);
    if (n < 0) {
      if (-n === 33 /* UNKNOWN_PEER */ || n === -2) return null;
      throw new HandoverError(-n, `sid_session ${address}`);
    }
    const b = c.get(out, SESSION_INFO_SIZE);
    const v = new DataView(b.buffer, b.byteOffset, b.length);
    return {
      sessionKey: b.slice(0, 32),
      sessionSpi: v.getUint32(32, true),
      vni: v.getUint32(36, true),
      ifindex: v.getUint32(40, true),
      agentMac: b.slice(44, 50),
      targetMac: b.slice(50, 56),
      role: (SidRole as Record<number, SidSession["role"]>)[b[56]] ?? "unknown",
      state: (SidState as Record<number, string>)[b[57]] ?? String(b[57]),
      flags: b[58],
      peer: v.getInt32(60, true),
    };
  }

  /** The SID state: transfers (node), targets, bindings (agent). */
  state(now: number): Record<string, any> {
    const c = this.core;
    const n = c.check(c.x.sid_state(now, c.outputPtr, c.ioCapacity), "sid_state");
    return JSON.parse(dec.decode(c.get(c.outputPtr, n)));
  }
}
