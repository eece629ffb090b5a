// SID's per-flow mode, the Session Agent (docs/PROTOCOL.md 8.16, docs/ABI.md
// "SID per-flow mode"), typed: the transferring node's Interim Address pool
// and per-flow transfers, Stop Transfer per flow set, the target's end of a
// flow. Runtime-neutral; every check happens in the core.

import type { Engine } from "./engine.ts";

/** A 5-tuple as the transferring node sees it: its address and port are `local`. */
export interface SidFlow {
  protocol: "tcp" | "udp";
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
}

export interface FlowTransferOptions {
  /** R: the target's return traffic goes back through the agent. */
  reverse?: boolean;
  /** Requested lifetime in seconds (0: the sidLifetimeS option). */
  lifetime?: number;
}

/** Bytes of one flow in the ABI. */
export const FLOW_RECORD_SIZE = 38;
const REVERSE_RETURN = 0x08;

export class SidFlows {
  constructor(readonly engine: Engine) {}

  private get core() {
    return this.engine.core;
  }

  /** The ABI record of a flow (docs/ABI.md "SID per-flow mode"). */
  record(f: SidFlow, out = new Uint8Array(FLOW_RECORD_SIZE), at = 0): Uint8Array {
    const local = this.core.parseAddress(f.local);
    const remote = this.core.parseAddress(f.remote);
    if (local.family !== remote.family) throw new TypeError(`flow ${f.local} -> ${f.remote}: two families`);
    if (f.protocol !== "tcp" && f.protocol !== "udp") throw new TypeError(`flow protocol '${f.protocol}' is neither tcp nor udp`);
    out[at] = f.protocol === "tcp" ? 6 : 17;
    out[at + 1] = local.family;
    out[at + 2] = f.localPort >> 8;
    out[at + 3] = f.localPort & 255;
    out[at + 4] = f.remotePort >> 8;
    out[at + 5] = f.remotePort & 255;
    out.set(local.bytes, at + 6);
    out.set(remote.bytes, at + 22);
    return out;
  }

  /** Adds an Interim Address to the pool (configuration `sid.interim`). */
  addInterim(address: string): void {
    const a = this.core.parseAddress(address);
    this.core.check(this.core.x.sid_interim_add(a.family, this.core.put(a.bytes)), `sid_interim_add ${address}`);
  }

  /** Moves `flows` (their local address is `address`) to the target through the agent; the address's other flows stay. */
  transfer(now: number, address: string, flows: SidFlow[], target: number, agent: number, o: FlowTransferOptions = {}): void {
    const records = new Uint8Array(FLOW_RECORD_SIZE * flows.length);
    flows.forEach((f, i) => this.record(f, records, i * FLOW_RECORD_SIZE));
    const a = this.core.parseAddress(address);
    const [ap, fp] = this.core.stage(a.bytes, records);
    const flags = o.reverse ? REVERSE_RETURN : 0;
    this.core.check(
      this.core.x.sid_transfer_flows(now, a.family, ap, target, agent, flags, o.lifetime ?? 0, fp, flows.length),
      `sid_transfer_flows ${address} (${flows.length} flows)`,
    );
  }

  /** Stop Transfer for the flow set of session SPI `spi` (from the state-requested event), or every flow set (spi 0). */
  stop(now: number, address: string, spi = 0): void {
    const a = this.core.parseAddress(address);
    this.core.check(this.core.x.sid_stop_flows(now, a.family, this.core.put(a.bytes), spi >>> 0), `sid_stop_flows ${address} ${spi}`);
  }

  /** Target: a transferred flow has ended (its socket closed); the last one of a flow set deregisters it. */
  flowEnded(now: number, flow: SidFlow): void {
    const r = this.record(flow);
    this.core.check(this.core.x.sid_flow_ended(now, this.core.put(r)), `sid_flow_ended ${flow.local}:${flow.localPort}`);
  }
}
