// The runtime-neutral binding of the SID engine (docs/ABI.md "SID engine"):
// the application's calls for transferring, hosting and serving addresses.
// It drives the same node as `Engine` (outputs come from Engine.poll(),
// including "frame" outputs); every check happens in the core.

import { Core } from "./core.ts";
import { Engine } from "./engine.ts";
import { SidFlows, FLOW_RECORD_SIZE } from "./sidflows.ts";


const dec = new TextDecoder();

/** What sid_session tells about a transfer known here. */
export interface SidSession {
  /** The 32-byte session key (the host seals and opens the state record with it). */
  sessionKey: Uint8Array;
  sessionSpi: number;
  vni: number;
  /** The tunnel device's interface index (0 without a tunnel). */
  tunnelIfindex: number;
  agentMac: string;
  targetMac: string;
  role: "node" | "target" | "agent";
  state: number;
  flags: number;
  /** Peer id: the target at the node; the node at the target and the agent. */
  peer: number;
}

export interface TransferOptions {
  /** The agent's peer id; omitted or -1: same subnet (S). */
  agent?: number;
  /** F: the target may transfer further. */
  further?: boolean;
  /** R: return traffic is reverse-tunnelled through the agent. */
  reverse?: boolean;
  /** Requested binding lifetime in seconds (0: the sidLifetimeS option). */
  lifetime?: number;
}

const FURTHER = 0x01;
const REVERSE = 0x08;
const ROLES = ["", "node", "target", "agent"] as const;

function mac(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

export class SidEngine {
  readonly engine: Engine;
  private core: Core;
  private x: Core["x"];

  constructor(engine: Engine) {
    this.engine = engine;
    this.core = engine.core;
    this.x = engine.core.x;
  }

  private addr(address: string): { family: number; ptr: number } {
    const a = this.core.parseAddress(address);
    return { family: a.family, ptr: this.core.put(a.bytes) };
  }

  /** Switches SID on: this node's home link (interface index, MAC "aa:bb:..", its address there). */
  link(ifindex: number, macText: string, address: string): void {
    const m = new Uint8Array(macText.split(":").map((h) => parseInt(h, 16)));
    if (m.length !== 6 || m.some((v) => Number.isNaN(v))) throw new TypeError(`'${macText}' is not a MAC address`);
    const a = this.core.parseAddress(address);
    const [mp, ap] = this.core.stage(m, a.bytes);
    this.core.check(this.x.sid_link(ifindex, mp, a.family, ap), "sid_link");
  }

  transfer(now: number, address: string, target: number, o: TransferOptions = {}): void {
    const a = this.addr(address);
    const flags = (o.further ? FURTHER : 0) | (o.reverse ? REVERSE : 0);
    this.core.check(this.x.sid_transfer(now, a.family, a.ptr, target, o.agent ?? -1, flags, o.lifetime ?? 0), `sid_transfer ${address}`);
  }

  /**
   * These UDP flows of `address` (their local address) pass its stop rule
   * (PROTOCOL.md 8.12, "UDP flows"), now and in the next transfer's; [] clears.
   */
  udpPass(address: string, flows: { localPort: number; remote: string; remotePort: number }[]): void {
    const rec = new SidFlows(this.engine);
    const records = new Uint8Array(FLOW_RECORD_SIZE * flows.length);
    flows.forEach((f, i) => rec.record({ protocol: "udp", local: address, localPort: f.localPort, remote: f.remote, remotePort: f.remotePort }, records, i * FLOW_RECORD_SIZE));
    const a = this.core.parseAddress(address);
    const [ap, fp] = this.core.stage(a.bytes, records);
    this.core.check(this.x.sid_udp_pass(a.family, ap, fp, flows.length), `sid_udp_pass ${address} (${flows.length} flows)`);
  }

  stop(now: number, address: string): void {
    const a = this.addr(address);
    this.core.check(this.x.sid_stop(now, a.family, a.ptr), `sid_stop ${address}`);
  }

  stateDelivered(now: number, address: string, ok = true): void {
    const a = this.addr(address);
    this.core.check(this.x.sid_state_delivered(now, a.family, a.ptr, ok ? 1 : 0), `sid_state_delivered ${address}`);
  }

  stateReceived(now: number, address: string, ok = true): void {
    const a = this.addr(address);
    this.core.check(this.x.sid_state_received(now, a.family, a.ptr, ok ? 1 : 0), `sid_state_received ${address}`);
  }

  sessionEnded(now: number, address: string): void {
    const a = this.addr(address);
    this.core.check(this.x.sid_session_ended(now, a.family, a.ptr), `sid_session_ended ${address}`);
  }

  /** The transfer of `address` known here, or null. */
  session(address: string): SidSession | null {
    const a = this.addr(address);
    const out = this.core.outputPtr;
    const n = this.x.sid_session(a.family, a.ptr, out);
    if (n < 0) return null;
    const b = this.core.mem().slice(out, out + 64);
    const v = new DataView(b.buffer);
    return {
      sessionKey: b.slice(0, 32),
      sessionSpi: v.getUint32(32, true),
      vni: v.getUint32(36, true),
      tunnelIfindex: v.getUint32(40, true),
      agentMac: mac(b.subarray(44, 50)),
      targetMac: mac(b.subarray(50, 56)),
      role: ROLES[b[56]] as SidSession["role"],
      state: b[57],
      flags: b[58],
      peer: v.getInt32(60, true),
    };
  }

  /** Agent: its bindings as bytes to keep for a restart (docs/ABI.md sid_bindings_save). */
  saveBindings(): Uint8Array {
    const c = this.core;
    const n = c.check(this.x.sid_bindings_save(c.outputPtr, c.ioCapacity), "sid_bindings_save");
    return c.mem().slice(c.outputPtr, c.outputPtr + n);
  }

  /** A restarted agent takes over the bindings saveBindings wrote; returns how many. */
  restoreBindings(now: number, bytes: Uint8Array): number {
    const [p] = this.core.stage(bytes);
    return this.core.check(this.x.sid_bindings_restore(now, p, bytes.length), "sid_bindings_restore");
  }

  state(now: number): Record<string, unknown> {
    const n = this.core.check(this.x.sid_state(now, this.core.outputPtr, this.core.ioCapacity), "sid_state");
    return JSON.parse(dec.decode(this.core.mem().subarray(this.core.outputPtr, this.core.outputPtr + n)));
  }
}
