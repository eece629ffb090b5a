// The protocol engine of the core (docs/ABI.md, "Engine"), typed. A host
// feeds it inputs and drains its outputs; this class only converts between
// the flat ABI and JavaScript values.

import { Core } from "./core.ts";
import { AuthAlgorithm, ReplayMode, Proto, Option, OutputKind, Meta, DEFAULT_SKEW_MS, NETLINK_WAIT_ACK, NETLINK_DUMP, OPTION_SPECS } from "./registry.ts";
import { unhex } from "./bytes.ts";

/** Option names of node_option (registry: abi.options). */
export const OPTIONS = Option;
export type OptionName = keyof typeof Option;

export type Output =
  | { kind: "transmit"; data: Uint8Array; address: string; port: number; family: number; source?: string }
  | { kind: "nft"; id: number; text: string }
  | { kind: "netlink"; id: number; protocol: number; waitAck: boolean; dump: boolean; data: Uint8Array }
  | { kind: "event"; event: EngineEvent }
  /** A whole Ethernet frame for an AF_PACKET socket on interface `ifindex` (SID, docs/ABI.md). */
  | { kind: "frame"; ifindex: number; data: Uint8Array };

/** An event from the core: `event` names it; `t` is the time in ms. The rest depends on the event. */
export interface EngineEvent {
  event: string;
  t: number;
  [field: string]: unknown;
}

export interface SaConfig {
  spi: number;
  /** "HMAC_SHA256" (default), "HMAC_SHA1" or "HMAC_MD5". */
  algorithm?: string;
  key: Uint8Array;
  /** "TIMESTAMP" (default) or "NONCE". */
  replayMode?: string;
  skewMs?: number;
}

export interface MigrateRequest {
  peer: number;
  /** "TCP", "UDP", or both/omitted for all. */
  protocols?: ("TCP" | "UDP")[];
  from: string;
  fromPort?: number;
  to: string;
  toPort?: number;
}

const dec = new TextDecoder();

export class Engine {
  readonly core: Core;
  private x: Core["x"];
  private meta: number;
  /** The metadata block, viewed again only when memory.grow replaced the buffer. */
  private metaView: DataView | null = null;

  constructor(core: Core) {
    this.core = core;
    this.x = core.x;
    this.meta = this.x.io_meta_ptr();
  }

  /** Seeds the core's random generator (the host's entropy; fixed seeds in tests). */
  seed(entropy: Uint8Array): void {
    this.x.drbg_seed(this.core.put(entropy), entropy.length);
  }

  /** Starts the node with its 12-hex-digit cookie; forgets all state. */
  init(cookie: string, now: number): void {
    const c = unhex(cookie);
    if (c.length !== 6) throw new TypeError("a cookie is 6 bytes (12 hex digits)");
    this.core.check(this.x.node_init(this.core.put(c), now), "node_init");
  }

  option(name: OptionName, value: number): void {
    this.core.check(this.x.node_option(OPTIONS[name], value), `option ${name}=${value}`);
  }

  addPeer(cookie: string, address: string, port: number): number {
    const c = unhex(cookie);
    if (c.length !== 6) throw new TypeError("a cookie is 6 bytes (12 hex digits)");
    const a = this.core.parseAddress(address);
    const [cp, ap] = this.core.stage(c, a.bytes);
    return this.core.check(this.x.peer_add(cp, a.family, ap, port), `peer ${cookie}`);
  }

  /** An address of this node (configured): the core never accepts it from the wire as a peer's. */
  addAddress(address: string): void {
    const a = this.core.parseAddress(address);
    this.core.check(this.x.node_add_address(a.family, this.core.put(a.bytes)), `own address ${address}`);
  }

  addPeerAddress(peer: number, address: string): void {
    const a = this.core.parseAddress(address);
    this.core.check(this.x.peer_add_address(peer, a.family, this.core.put(a.bytes)), `peer address ${address}`);
  }

  /**
   * A session-address range the peer owns (PROTOCOL.md 8.18), "first-last" or
   * "prefix/length": SID's agent accepts a transfer of an address in it from this peer.
   */
  addPeerPool(peer: number, range: string): void {
    const [first, last] = this.core.addressRange(range);
    const [fp, lp] = this.core.stage(first.bytes, last.bytes);
    this.core.check(this.x.peer_add_pool(peer, first.family, fp, lp), `peer pool ${range}`);
  }

  addSa(peer: number, sa: SaConfig): void {
    const alg = (AuthAlgorithm as Record<string, number>)[sa.algorithm ?? "HMAC_SHA256"];
    const mode = (ReplayMode as Record<string, number>)[sa.replayMode ?? "TIMESTAMP"];
    if (alg === undefined) throw new TypeError(`unknown algorithm '${sa.algorithm}'`);
    if (mode === undefined) throw new TypeError(`unknown replay mode '${sa.replayMode}'`);
    const ptr = this.core.put(sa.key);
    this.core.check(this.x.sa_add(peer, sa.spi, alg, ptr, sa.key.length, mode, sa.skewMs ?? DEFAULT_SKEW_MS), `SA ${sa.spi}`);
  }

  // ---- inputs ----

  datagram(now: number, from: string, port: number, data: Uint8Array): void {
    const a = this.parsed(from);
    this.datagramRaw(now, a.family, a.bytes, port, data);
  }

  /** As datagram, with the source address already as family and 16 bytes. */
  datagramRaw(now: number, family: number, address: Uint8Array, port: number, data: Uint8Array): void {
    const [ap, dp] = this.core.stage(address, data);
    this.x.handle_datagram(now, family, ap, port, dp, data.length);
  }

  timeout(now: number): void {
    this.x.handle_timeout(now);
  }

  /** When timeout() must run next (Unix ms), or Infinity. */
  nextTimeout(): number {
    return this.x.poll_timeout();
  }

  /**
   * What libnftables printed for an NFT action (before actionResult). A long
   * listing (a table with many moves holds megabytes) goes in pieces that end
   * at a line's end and fit the core's input buffer; the core parses each alone.
   */
  actionOutput(now: number, id: number, text: string): void {
    const bytes = new TextEncoder().encode(text);
    const cap = this.core.ioCapacity;
    for (let at = 0; at < bytes.length; ) {
      let end = Math.min(bytes.length, at + cap);
      if (end < bytes.length) {
        const nl = bytes.lastIndexOf(0x0a, end - 1);
        end = nl >= at ? nl + 1 : end; // a line longer than the buffer is cut (none is: an element is short)
      }
      const piece = bytes.subarray(at, end);
      this.x.handle_action_output(now, id, this.core.put(piece), piece.length);
      at = end;
    }
  }

  /** The file a clean stop wrote (save), before kernelSetup: in pieces that end at a line's end. */
  savedMoves(now: number, bytes: Uint8Array): void {
    const cap = this.core.ioCapacity;
    for (let at = 0; at < bytes.length; ) {
      let end = Math.min(bytes.length, at + cap);
      if (end < bytes.length) {
        const nl = bytes.lastIndexOf(0x0a, end - 1);
        end = nl >= at ? nl + 1 : end;
      }
      const piece = bytes.subarray(at, end);
      this.core.check(this.x.stem_saved_moves(now, this.core.put(piece), piece.length), "saved moves");
      at = end;
    }
  }

  /** The host keeps a moves journal (before kernelSetup): the core's batches carry its marker. */
  enableJournal(): void {
    this.x.stem_journal_enable();
  }

  /** The journal file (after savedMoves, before kernelSetup): in pieces of any cut. */
  journalFile(now: number, bytes: Uint8Array): void {
    const cap = this.core.ioCapacity;
    for (let at = 0; at < bytes.length; at += cap) {
      const piece = bytes.subarray(at, Math.min(bytes.length, at + cap));
      this.core.check(this.x.stem_journal_feed(now, this.core.put(piece), piece.length), "journal");
    }
  }

  /**
   * What committed batches left for the journal: a base to write as the save
   * file (then the journal is emptied) and records to append after it, or
   * null. Copies; the core forgets them.
   */
  journalTake(): { base: Uint8Array | null; records: Uint8Array | null } | null {
    const ready = this.x.stem_journal_ready();
    if (ready === 0) return null;
    const base = ready & 1 ? this.core.get(this.x.stem_journal_base_ptr(), this.x.stem_journal_base_length()) : null;
    const records = ready & 2 ? this.core.get(this.x.stem_journal_records_ptr(), this.x.stem_journal_records_length()) : null;
    this.x.stem_journal_taken();
    return { base, records };
  }

  /** A clean stop: the core saves its moves (event "saved"); after the drain, saved() gives the bytes. */
  save(now: number): void {
    this.x.stem_save(now);
  }

  /** What the last save() wrote (empty: nothing saved). */
  saved(): Uint8Array {
    return this.core.get(this.x.stem_saved_ptr(), this.x.stem_saved_length());
  }

  actionResult(now: number, id: number, status: number): void {
    this.x.handle_action_result(now, id, status);
  }

  /**
   * What the kernel answered to a NETLINK action. A long answer (a dump of a
   * map with many elements holds megabytes) goes in pieces of whole netlink
   * messages that fit the core's input buffer; the core parses each alone.
   */
  netlinkReply(now: number, id: number, data: Uint8Array): void {
    const at = this.netlinkPieces(now, id, data);
    const last = data.subarray(at, Math.min(data.length, at + this.core.ioCapacity));
    this.x.handle_netlink_reply(now, id, this.core.put(last), last.length);
  }

  /**
   * A piece of a dump read in pieces (KernelIO.dump), more to follow: whole
   * netlink messages; the last piece comes with netlinkReply. Other actions'
   * answers may come between the pieces (the core keeps each action's state).
   */
  netlinkPart(now: number, id: number, data: Uint8Array): void {
    const at = this.netlinkPieces(now, id, data);
    const rest = data.subarray(at, Math.min(data.length, at + this.core.ioCapacity));
    if (rest.length > 0) this.x.handle_netlink_part(now, id, this.core.put(rest), rest.length);
  }

  /** Hands `data` to the core as parts of whole messages that fit its buffer, until the rest fits; returns where the rest begins. */
  private netlinkPieces(now: number, id: number, data: Uint8Array): number {
    const cap = this.core.ioCapacity;
    let at = 0;
    while (data.length - at > cap) {
      const v = new DataView(data.buffer, data.byteOffset, data.length);
      let end = at;
      for (;;) {
        if (end + 16 > data.length) break;
        const len = (v.getUint32(end, true) + 3) & ~3;
        if (len < 16 || end + len - at > cap) break;
        end += len;
      }
      if (end === at) break; // a message longer than the buffer, or malformed: the core sees the truncated rest
      const piece = data.subarray(at, end);
      this.x.handle_netlink_part(now, id, this.core.put(piece), piece.length);
      at = end;
    }
    return at;
  }

  /** Netlink notifications from the host's watch (rtnetlink address events). */
  netlinkEvent(now: number, data: Uint8Array): void {
    this.x.handle_netlink_event(now, this.core.put(data), data.length);
  }

  register(now: number, peer: number, lifetime = OPTION_SPECS.registrationLifetimeS.default): void {
    this.core.check(this.x.stem_register(now, peer, lifetime), "register");
  }

  /** Registers with every configured peer (a new sequence epoch at each). */
  registerAll(now: number): void {
    this.x.stem_register_all(now);
  }

  opaque(subtype: number, flags: number, data: Uint8Array): void {
    this.core.check(this.x.stem_opaque(subtype, flags, this.core.put(data), data.length), "opaque data");
  }

  /** Starts a migration; returns its id. Progress arrives as "migration" events. */
  migrate(now: number, m: MigrateRequest): number {
    const from = this.core.parseAddress(m.from);
    const to = this.core.parseAddress(m.to);
    if (from.family !== to.family) throw new TypeError(`${m.from} and ${m.to} are of different families`);
    const protocols = (m.protocols ?? []).reduce((f, p) => f | (Proto as Record<string, number>)[p], 0);
    const [fp, tp] = this.core.stage(from.bytes, to.bytes);
    return this.core.check(
      this.x.stem_migrate(now, m.peer, protocols === 3 ? 0 : protocols, from.family, fp, m.fromPort ?? 0, tp, m.toPort ?? 0),
      `migrate ${m.from} -> ${m.to}`,
    );
  }

  /** Sets up the kernel side (table, chains, the hold's queue); queue 0 is the default. */
  kernelSetup(now: number, queue = 0): void {
    this.core.check(this.x.node_kernel_setup(now, queue), "kernel setup");
  }

  /** Tells the core the local port of a socket the host sends control messages from. */
  ownPort(port: number): void {
    this.core.check(this.x.node_own_port(port), `own port ${port}`);
  }

  /** Asks for the host's sockets; they arrive as a "sessions" event. */
  sessions(now: number): void {
    this.x.node_sessions(now);
  }

  teardown(now: number): void {
    this.x.node_teardown(now);
  }

  // A daemon talks to a few addresses over and over: their text and bytes are
  // converted once (by the core, which owns the address format) and remembered.
  private parsedCache = new Map<string, { family: number; bytes: Uint8Array }>();
  private formattedCache = new Map<string, string>();

  private parsed(text: string): { family: number; bytes: Uint8Array } {
    let a = this.parsedCache.get(text);
    if (!a) {
      a = this.core.parseAddress(text);
      if (this.parsedCache.size >= 256) this.parsedCache.clear();
      this.parsedCache.set(text, a);
    }
    return a;
  }

  /** The text of the address (family, 16 bytes at ptr in the core's memory). */
  private formatted(family: number, ptr: number): string {
    const b = this.core.mem().subarray(ptr, ptr + (family === 1 ? 4 : 16));
    const key = String.fromCharCode(family, ...b);
    let t = this.formattedCache.get(key);
    if (t === undefined) {
      t = this.core.formatAddress(family, b.slice());
      if (this.formattedCache.size >= 256) this.formattedCache.clear();
      this.formattedCache.set(key, t);
    }
    return t;
  }

  // ---- outputs ----

  /** The next output, or null. Call until null after every input. */
  poll(): Output | null {
    const kind = this.x.poll_output();
    if (kind === 0) return null;
    const mem = this.core.mem();
    let v = this.metaView;
    if (v === null || v.buffer !== mem.buffer) v = this.metaView = new DataView(mem.buffer, this.meta, 64);
    const len = v.getUint32(Meta.LENGTH, true);
    // At io_out_ptr(), or in the core's own buffer when longer (a re-created table's nft batch).
    const out = len > this.core.ioCapacity ? this.x.poll_output_ptr() : this.core.outputPtr;
    switch (kind) {
      case OutputKind.TRANSMIT: {
        // Everything is read before formatting, which calls into the core again.
        const family = v.getUint8(Meta.DST_FAMILY);
        const sf = v.getUint8(Meta.SRC_FAMILY);
        const port = v.getUint16(Meta.DST_PORT, true);
        const data = mem.slice(out, out + len);
        const o: Output = { kind: "transmit", data, family, address: this.formatted(family, this.meta + Meta.DST_ADDR), port };
        if (sf) o.source = this.formatted(sf, this.meta + Meta.SRC_ADDR);
        return o;
      }
      case OutputKind.NFT:
        return { kind: "nft", id: v.getUint32(Meta.ID, true), text: dec.decode(mem.subarray(out, out + len)) };
      case OutputKind.NETLINK:
      {
        const aux = v.getUint32(Meta.AUX, true);
        return { kind: "netlink", id: v.getUint32(Meta.ID, true), protocol: aux & 0xff, waitAck: (aux & NETLINK_WAIT_ACK) !== 0, dump: (aux & NETLINK_DUMP) !== 0, data: mem.slice(out, out + len) };
      }
      case OutputKind.EVENT:
        return { kind: "event", event: JSON.parse(dec.decode(mem.subarray(out, out + len))) };
      case OutputKind.FRAME:
        return { kind: "frame", ifindex: v.getUint32(Meta.AUX, true), data: mem.slice(out, out + len) };
      case OutputKind.RENEWED: {
        // The agent's "renewed" event in binary (docs/ABI.md): the same object as its JSON would parse to.
        const t = new DataView(mem.buffer, out, 8).getFloat64(0, true);
        const lifetime = v.getUint32(Meta.AUX, true);
        const address = this.formatted(v.getUint8(Meta.DST_FAMILY), this.meta + Meta.DST_ADDR);
        return { kind: "event", event: { event: "sid", t, state: "renewed", role: "agent", address, lifetime } };
      }
    }
    throw new Error(`unknown output kind ${kind}: core and binding disagree`);
  }

  /** The node's peers, moves and counters. */
  state(now: number): Record<string, unknown> {
    const n = this.core.check(this.x.node_state_render(now));
    const p = this.x.node_state_ptr();
    return JSON.parse(dec.decode(this.core.mem().subarray(p, p + n)));
  }

  /** How many moves the node has, without rendering its state. */
  moveCount(): number {
    return this.x.stem_move_count();
  }
}
