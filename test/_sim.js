// A SIMULATED network for protocol tests: engines on a virtual clock, with
// datagrams moved between them by address, optional loss, delay, duplication
// and reordering. Kernel actions are recorded and acknowledged, not applied.
// Real kernels and real sockets are in test/e2e/.
import { readFileSync } from "node:fs";
import { Core, Engine } from "../dist/hosts/shared/index.js";
import { NftModel } from "./_nft_model.js";

// HANDOVER_WASM names another build of the core (bench/: an older build beside this one).
const WASM = readFileSync(process.env.HANDOVER_WASM || new URL("../build/handover.wasm", import.meta.url));
const MODULE = new WebAssembly.Module(WASM);

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const PORT = 4346;
export const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

/** A netlink acknowledgement (NLMSG_ERROR, error 0) for a request. */
function ack(request, errno = 0) {
  const b = new Uint8Array(36);
  const v = new DataView(b.buffer);
  v.setUint32(0, 36, true);
  v.setUint16(4, 2, true);
  v.setUint32(8, new DataView(request.buffer, request.byteOffset).getUint32(8, true), true);
  v.setInt32(16, -errno, true);
  b.set(request.subarray(0, 16), 20);
  return b;
}

export class SimNode {
  constructor(net, name, addresses, seed) {
    this.net = net;
    this.name = name;
    this.addresses = new Set(addresses);
    this.engine = new Engine(Core.loadSync(MODULE));
    // At least 16 bytes (the DRBG refuses less), whatever the name.
    this.engine.seed(new TextEncoder().encode(`seed:${name}:${seed}`.padEnd(32, ".")));
    this.cookie = this.engine.core.cookieFromName(name);
    this.engine.init(this.cookie, net.now);
    this.events = [];
    this.nft = [];
    /** What the kernel's table holds (test/_nft_model.js), and its rules after each nft batch. */
    this.table = new NftModel();
    this.rulesAfter = [];
    /** Whether rulesAfter is kept (a table of thousands of moves: off). */
    this.recordRules = true;
    this.netlink = [];
    /** Set to an errno to make the next kernel actions fail. */
    this.failKernel = 0;
    /**
     * Optional kernel model: `nft(text)` returns what `nft` prints for a batch
     * (or undefined), `netlink(protocol, bytes)` the kernel's answer to a
     * request (or undefined for a bare acknowledgement; a dump of the table's
     * elements is answered from `table`), `counted(comment, map)` the packets
     * of an element of a wire-side map (`dumped(map)` first, per dump; `shown(comment, map)` false:
     * the dump leaves that element out, as a walk of a map changing under it may).
     */
    this.kernel = null;
    /** This node's clock minus the network's (ms). */
    this.clockOffset = 0;
    /** Set: dumps (netlink actions with the dump flag) are not answered at once but kept in `deferred` for deliverDump. */
    this.deferDumps = false;
    this.deferred = [];
  }
  /**
   * Answers a deferred dump as a host reading it in pieces does: whole
   * messages of at most `bytes` per piece (netlinkPart), `between(i)` called
   * after each piece (other actions are answered meanwhile), the last piece
   * with netlinkReply.
   */
  deliverDump(d, bytes, between = () => {}) {
    const v = new DataView(d.answer.buffer, d.answer.byteOffset, d.answer.length);
    const pieces = [];
    for (let at = 0; at < d.answer.length; ) {
      let end = at;
      while (end < d.answer.length && (end === at || end + v.getUint32(end, true) - at <= bytes)) end += (v.getUint32(end, true) + 3) & ~3;
      pieces.push(d.answer.subarray(at, end));
      at = end;
    }
    for (let i = 0; i < pieces.length - 1; i++) {
      this.engine.netlinkPart(this.clock(), d.id, pieces[i]);
      between(i);
    }
    this.engine.netlinkReply(this.clock(), d.id, pieces.at(-1) ?? new Uint8Array(0));
    this.pump();
    return pieces.length;
  }
  /** This node's clock. */
  clock() {
    return this.net.now + this.clockOffset;
  }
  get primary() {
    return [...this.addresses][0];
  }
  /** Configures `other` as a peer with a shared key; returns the peer id. */
  peer(other, { key = new Uint8Array(32).fill(7), spi = 256, algorithm, replayMode, skewMs } = {}) {
    const id = this.engine.addPeer(other.cookie, other.primary, PORT);
    this.engine.addSa(id, { spi, key, algorithm, replayMode, skewMs });
    return id;
  }
  /** Drains the engine's outputs. */
  pump() {
    for (let o; (o = this.engine.poll()); ) {
      if (o.kind === "transmit") this.net.send(this, o);
      else if (o.kind === "nft") {
        this.nft.push(o.text);
        const printed = this.kernel?.nft?.(o.text);
        if (printed) this.engine.actionOutput(this.clock(), o.id, printed);
        const status = this.failKernel || this.table.apply(o.text);
        if (this.recordRules) this.rulesAfter.push(this.table.rules());
        this.engine.actionResult(this.clock(), o.id, status);
      } else if (o.kind === "netlink") {
        this.netlink.push(o.data);
        // A dump of the table's elements is answered from the table model (counts from the kernel model's `counted`).
        const answer = this.failKernel
          ? undefined
          : (this.kernel?.netlink?.(o.protocol, o.data) ??
            (o.protocol === 12
              ? (this.table.dump(o.data, (comment, map) => this.kernel?.counted?.(comment, map) ?? 0, (map) => this.kernel?.dumped?.(map), (comment, map) => this.kernel?.shown?.(comment, map) ?? true) ?? this.table.generation(o.data) ?? undefined)
              : undefined));
        if (o.dump && this.deferDumps && answer) {
          this.deferred.push({ id: o.id, answer });
          continue;
        }
        // An acknowledgement when one is asked for (a release asks for none).
        this.engine.netlinkReply(this.clock(), o.id, answer ?? (o.waitAck ? ack(o.data, this.failKernel) : new Uint8Array(0)));
      } else this.events.push(o.event);
    }
  }
  eventsOf(name) {
    return this.events.filter((e) => e.event === name);
  }
  /** The rules the kernel holds now (each map element as the rule it stands for). */
  lastRules() {
    return this.table.rules();
  }
}

export class SimNet {
  constructor({ seed = 1, delayMs = 5, loss = 0, duplicate = 0, reorder = 0 } = {}) {
    this.now = T0;
    this.rand = prng(seed);
    this.delayMs = delayMs;
    this.loss = loss;
    this.duplicate = duplicate;
    this.reorder = reorder;
    this.nodes = [];
    this.queue = []; // { at, to, from, fromPort, data }
    this.sent = [];
    /** Optional filter(datagram) -> false to drop. */
    this.filter = null;
  }
  node(name, addresses) {
    const n = new SimNode(this, name, addresses, this.nodes.length);
    this.nodes.push(n);
    return n;
  }
  owner(address) {
    return this.nodes.find((n) => n.addresses.has(address));
  }
  send(from, o) {
    const src = o.source ?? from.primary;
    const d = { from: from.name, source: src, address: o.address, port: o.port, data: o.data, at: this.now };
    this.sent.push(d);
    if (!from.addresses.has(src)) return; // cannot send from an address it does not hold
    if (this.filter && !this.filter(d)) return;
    if (this.rand() < this.loss) return;
    const copies = this.rand() < this.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const jitter = this.rand() < this.reorder ? this.rand() * 3 * this.delayMs : 0;
      this.queue.push({ at: this.now + this.delayMs + jitter, address: o.address, source: src, port: PORT, data: o.data });
    }
  }
  /** Delivers a datagram now, as if it came from `source` (for hostile traffic). */
  inject(to, source, data, port = PORT) {
    to.engine.datagram(to.clock(), source, port, data);
    to.pump();
  }
  /** Runs the network until `until` (ms of virtual time) or until quiet. */
  run(ms = 60000) {
    const end = this.now + ms;
    for (const n of this.nodes) n.pump();
    for (;;) {
      this.queue.sort((a, b) => a.at - b.at);
      let next = this.queue.length ? this.queue[0].at : Infinity;
      let timerNode = null;
      for (const n of this.nodes) {
        const t = n.engine.nextTimeout() - n.clockOffset;
        if (t < next) {
          next = t;
          timerNode = n;
        }
      }
      if (next === Infinity || next > end) {
        this.now = Math.max(this.now, Math.min(end, next === Infinity ? this.now : end));
        return;
      }
      this.now = Math.max(this.now, next);
      if (timerNode) {
        timerNode.engine.timeout(timerNode.clock());
        timerNode.pump();
        continue;
      }
      const d = this.queue.shift();
      const to = this.owner(d.address);
      if (!to) continue;
      to.engine.datagram(to.clock(), d.source, d.port, d.data);
      to.pump();
    }
  }
}
