#!/usr/bin/env node
// Generates conformance/vectors/stem-transcripts.json: whole STEM exchanges
// between two nodes, recorded from THE CORE (build/handover.wasm), one test per
// node. There is no independent reference for the state machines: these
// transcripts pin the reference implementation's behaviour, so that another
// port can replay them and a change of the core's behaviour shows as a diff.
//
//   npm run conformance:transcripts         (builds, then runs this)
//   node conformance/tools/transcripts.js [--out DIR] [--check]
//
// --check writes nothing and exits 1 if the committed file differs.
//
// Each scenario runs two engines on a virtual clock with datagrams moved
// between them (a fixed delay, losses chosen by the scenario, never random)
// and every kernel action answered at once (success unless the scenario says
// otherwise). Every input a node gets (configuration, commands, datagrams,
// timer firings, kernel results) is recorded with the outputs that follow it;
// conformance/tools/transcript.js defines the format and the replay.
//
// tcIds: one per (scenario, node), in the order below. Append new scenarios
// at the end; a scenario's tcIds stay when the core's behaviour changes and
// the file is regenerated.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Core, Engine, HandoverError } from "../../dist/hosts/shared/index.js";
import { configure, step, hex, unhex } from "./transcript.js";
import { SCHEMA_ID } from "./vectorfile.js";
import { isMain } from "./main.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
export const TRANSCRIPT_FILE = "stem-transcripts.json";
const WASM = join(ROOT, "build", "handover.wasm");

const PORT = 4346;
const EPERM = 1;
const NETLINK_SOCK_DIAG = 4;
const TCP_ESTABLISHED = 1;
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const DELAY_MS = 5;
const M_OLD = "198.18.0.2", M_NEW = "198.18.1.2", F_ADDR = "198.18.9.1";
const M_OLD6 = "2001:db8::2", M_NEW6 = "2001:db8:1::2", F_ADDR6 = "2001:db8:9::1";

const ascii = (s) => hex(new TextEncoder().encode(s));
/** The 32-byte SA key both nodes of every scenario share. */
const KEY = "a1".repeat(8) + "b2".repeat(8) + "c3".repeat(8) + "d4".repeat(8);

// ---- netlink bytes a host would pass on ------------------------------------

/** A netlink acknowledgement (NLMSG_ERROR, error -errno) of a request. */
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

/** RTM_NEWADDR (or, removed, RTM_DELADDR) for an IPv4 address on interface `ifindex`, global scope. */
function addressNotification(address, { ifindex = 2, prefix = 24, removed = false } = {}) {
  const a = address.split(".").map(Number);
  const b = new Uint8Array(16 + 8 + 8 + 8);
  const v = new DataView(b.buffer);
  v.setUint32(0, b.length, true);
  v.setUint16(4, removed ? 21 : 20, true);
  b[16] = 2; // AF_INET
  b[17] = prefix;
  b[19] = 0; // RT_SCOPE_UNIVERSE
  v.setUint32(20, ifindex, true);
  for (const [off, type] of [[24, 2], [32, 1]]) { // IFA_LOCAL, IFA_ADDRESS
    v.setUint16(off, 8, true);
    v.setUint16(off + 2, type, true);
    b.set(a, off + 4);
  }
  return b;
}

/** sock_diag: a dump's reply with one connected socket per entry, then NLMSG_DONE (IPv4). */
function socketDumpReply(request, sockets) {
  const seq = new DataView(request.buffer, request.byteOffset).getUint32(8, true);
  const parts = [];
  for (const s of sockets) {
    const b = new Uint8Array(16 + 72);
    const v = new DataView(b.buffer);
    v.setUint32(0, b.length, true);
    v.setUint16(4, 20, true); // SOCK_DIAG_BY_FAMILY
    v.setUint16(6, 2, true); // NLM_F_MULTI
    v.setUint32(8, seq, true);
    b[16] = 2; // AF_INET
    b[17] = s.state;
    v.setUint16(20, s.localPort); // network byte order
    v.setUint16(22, s.remotePort);
    b.set(s.local.split(".").map(Number), 24);
    b.set(s.remote.split(".").map(Number), 40);
    parts.push(b);
  }
  const done = new Uint8Array(20);
  const dv = new DataView(done.buffer);
  dv.setUint32(0, 20, true);
  dv.setUint16(4, 3, true); // NLMSG_DONE
  dv.setUint16(6, 2, true);
  dv.setUint32(8, seq, true);
  parts.push(done);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

// ---- the recording network ---------------------------------------------------

export class Node {
  constructor(net, label, config, addresses) {
    this.net = net;
    this.label = label;
    this.config = config;
    this.addresses = new Set(addresses);
    this.engine = new Engine(Core.loadSync(net.module));
    configure(this.engine, config);
    this.steps = [];
    /** This node's clock minus the network's (ms). */
    this.clockOffset = 0;
    /** How many of the next kernel results fail (with EPERM). */
    this.kernelFailures = 0;
    /** The sockets the host has, for sock_diag dumps ({ protocol, state, local, localPort, remote, remotePort }). */
    this.sockets = [];
  }
  clock() {
    return this.net.now + this.clockOffset;
  }
  get primary() {
    return [...this.addresses][0];
  }
  /** Applies an input (its `now` is this node's clock) and routes what comes out. */
  input(input) {
    const full = { kind: input.kind, now: this.clock(), ...input };
    const s = step(this.engine, full, HandoverError);
    this.steps.push({ input: full, ...s });
    for (const o of s.outputs) this.net.route(this, o);
    return s;
  }
}

export class Net {
  constructor(module) {
    this.module = module;
    this.now = T0;
    this.nodes = [];
    this.queue = []; // { at, to, source, port, data, n }
    this.kernel = []; // { node, input }: results due now
    this.sent = 0;
    /** Called with each datagram ({ from, n, destination, source, data }); false drops it. */
    this.filter = null;
  }
  node(label, config, addresses) {
    const n = new Node(this, label, config, addresses);
    this.nodes.push(n);
    return n;
  }
  route(from, o) {
    if (o.kind === "transmit") {
      const d = { from: from.label, n: ++this.sent, destination: o.destination, source: o.source ?? from.primary, data: o.data };
      if (!from.addresses.has(d.source)) return; // a host cannot send from an address it does not have
      if (this.filter && this.filter(d) === false) return;
      const to = this.nodes.find((n) => n.addresses.has(o.destination));
      if (to) this.queue.push({ at: this.now + DELAY_MS, to, source: d.source, port: PORT, data: o.data, n: d.n });
    } else if (o.kind === "nft" || o.kind === "netlink") {
      const errno = from.kernelFailures > 0 && from.kernelFailures-- ? EPERM : 0;
      if (o.kind === "nft") {
        this.kernel.push({ node: from, input: { kind: "actionResult", id: o.id, status: errno } });
      } else {
        // A socket dump gets the host's sockets of its protocol; other requests an
        // acknowledgement when they ask for one (a release asks for none).
        const req = unhex(o.data);
        const reply = o.protocol === NETLINK_SOCK_DIAG
          ? socketDumpReply(req, from.sockets.filter((s) => s.protocol === req[17]))
          : o.waitAck ? ack(req, errno) : new Uint8Array(0);
        this.kernel.push({ node: from, input: { kind: "netlinkReply", id: o.id, data: hex(reply) } });
      }
    }
  }
  /** Runs until `ms` of virtual time have passed (kernel results first, then datagrams and timers in time order). */
  run(ms) {
    const end = this.now + ms;
    for (let spins = 0; ; spins++) {
      if (spins > 100000) throw new Error(`transcripts: the network does not settle (at ${this.now}): a timer that never advances?`);
      if (this.kernel.length) {
        const k = this.kernel.shift();
        k.node.input(k.input);
        continue;
      }
      this.queue.sort((a, b) => a.at - b.at || a.n - b.n);
      let next = this.queue.length ? this.queue[0].at : Infinity;
      let timerNode = null;
      for (const n of this.nodes) {
        const t = n.engine.nextTimeout() - n.clockOffset;
        if (t < next) {
          next = t;
          timerNode = n;
        }
      }
      if (next > end) {
        this.now = end;
        return;
      }
      this.now = Math.max(this.now, next);
      if (timerNode) {
        timerNode.input({ kind: "timer" });
        continue;
      }
      const d = this.queue.shift();
      d.to.input({ kind: "datagram", source: d.source, port: d.port, data: d.data });
    }
  }
}

// ---- scenarios ----------------------------------------------------------------

/** A node's configuration: one peer with one SA (SPI 256, the scenario's key). */
function nodeConfig(cookie, seedLabel, peer, { options = [], sa = {} } = {}) {
  return {
    cookie,
    seed: ascii(`handover transcript seed: ${seedLabel}`),
    start: T0,
    options,
    peers: [{
      cookie: peer.cookie, address: peer.address, port: PORT,
      sas: [{ spi: 256, algorithm: sa.algorithm ?? "HMAC_SHA256", key: KEY, replayMode: sa.replayMode ?? "TIMESTAMP", skewMs: sa.skewMs ?? 7000 }],
    }],
  };
}

/** Two nodes, m (the migrator, addresses old and new) and f (the fixed end), each configured for the other. */
function pair(net, scenario, { v6 = false, sa = {}, mOptions = [], fOptions = [] } = {}) {
  const core = Core.loadSync(net.module);
  const mCookie = core.cookieFromName("m.example"), fCookie = core.cookieFromName("f.example");
  const mAddrs = v6 ? [M_OLD6, M_NEW6] : [M_OLD, M_NEW];
  const fAddr = v6 ? F_ADDR6 : F_ADDR;
  const mc = nodeConfig(mCookie, `${scenario}: m`, { cookie: fCookie, address: fAddr }, { options: mOptions, sa });
  const fc = nodeConfig(fCookie, `${scenario}: f`, { cookie: mCookie, address: mAddrs[0] }, { options: fOptions, sa });
  const m = net.node("m", mc, mAddrs);
  const f = net.node("f", fc, [fAddr]);
  return { m, f };
}

const isType = (data, type) => parseInt(data.slice(2, 4), 16) === type;
const REG_REQ = 1, MIG_REQ = 3, MIG_REPLY = 4, MIG_CONFIRM = 5;

/** A 64-bit NTP timestamp (section 6.4) of Unix time ms, as 16 hex digits. */
function ntpHex(ms) {
  const seconds = Math.floor(ms / 1000);
  const fraction = Math.floor(((ms - seconds * 1000) / 1000) * 2 ** 32);
  return (((seconds + 2208988800) % 2 ** 32).toString(16).padStart(8, "0")) + fraction.toString(16).padStart(8, "0");
}

/**
 * The scenarios, in tcId order. Each returns { m, f } after running; the
 * texts describe the exchange for the file (and a port's failure report).
 */
const SCENARIOS = [
  {
    name: "bbm-validated",
    comment: "break-before-make migration, validated: the old address is not local, so the migrator holds the sessions' packets; request from the new address, reply with a path challenge, confirm; the fixed end's rules go from quota-limited to validated",
    flags: ["BreakBeforeMake", "PathValidation"],
    run(net) {
      const p = pair(net, this.name);
      p.m.input({ kind: "migrate", peer: 0, protocols: [], from: M_OLD, fromPort: 0, to: M_NEW, toPort: 0 });
      net.run(1000);
      return p;
    },
  },
  {
    name: "mbb-validated",
    comment: "make-before-break migration: the host reported the old address as local (RTM_NEWADDR), so the migrator keeps sending from it until the reply and holds nothing; then the same exchange",
    flags: ["MakeBeforeBreak", "PathValidation", "Netlink"],
    run(net) {
      const p = pair(net, this.name);
      p.m.input({ kind: "netlinkEvent", data: hex(addressNotification(M_OLD)) });
      p.m.input({ kind: "netlinkEvent", data: hex(addressNotification(M_NEW, { ifindex: 3 })) });
      net.run(1);
      p.m.input({ kind: "migrate", peer: 0, protocols: ["TCP"], from: M_OLD, fromPort: 0, to: M_NEW, toPort: 0 });
      net.run(1000);
      return p;
    },
  },
  {
    name: "registration-then-migration",
    comment: "registration with a 600 s lifetime (a new sequence epoch at the fixed end), then a migration to the new address",
    flags: ["Registration", "PathValidation"],
    run(net) {
      const p = pair(net, this.name);
      p.m.input({ kind: "register", peer: 0, lifetime: 600 });
      net.run(100);
      p.m.input({ kind: "migrate", peer: 0, protocols: [], from: M_OLD, fromPort: 0, to: M_NEW, toPort: 0 });
      net.run(1000);
      return p;
    },
  },
  {
    name: "retransmission",
    comment: "the first Migration Request and the first Migration Reply are lost: the migrator retransmits its request on its timer (byte for byte); the fixed end, waiting for the Confirm, repeats its reply on its own timer; nothing applies twice",
    flags: ["Retransmission", "PathValidation"],
    run(net) {
      const p = pair(net, this.name);
      let requests = 0, replies = 0;
      net.filter = (d) => {
        if (isType(d.data, MIG_REQ) && ++requests === 1) return false;
        if (isType(d.data, MIG_REPLY) && ++replies === 1) return false;
        return true;
      };
      p.m.input({ kind: "migrate", peer: 0, protocols: [], from: M_OLD, fromPort: 0, to: M_NEW, toPort: 0 });
      net.run(3000);
      return p;
    },
  },
  {
    name: "refused-129",
    comment: "the migrator asks to move an address that is not its own (198.18.50.50): the fixed end refuses with 129 ADMINISTRATIVELY_PROHIBITED and applies nothing; the migrator rolls back",
    flags: ["Refused"],
    run(net) {
      const p = pair(net, this.name);
      p.m.addresses.add("198.18.50.50");
      p.m.input({ kind: "migrate", peer: 0, protocols: [], from: "198.18.50.50", fromPort: 0, to: M_NEW, toPort: 0 });
      net.run(1000);
      return p;
    },
  },
  {
    name: "resync-133",
    comment: "the migrator's clock is 60 s behind: the fixed end answers STALE_TIMESTAMP with an authenticated 133 IDENTIFICATION_MISMATCH carrying its time; the migrator learns the offset and sends a new request, which is accepted",
    flags: ["Resync"],
    run(net) {
      const p = pair(net, this.name);
      p.m.clockOffset = -60000;
      p.m.input({ kind: "migrate", peer: 0, protocols: [], from: M_OLD, fromPort: 0, to: M_NEW, toPort: 0 });
      net.run(2000);
      return p;
    },
  },
  {
    name: "replayed-request",
    comment: "after a completed migration, the captured Migration Request is replayed from another source: within the reply cache's life it is a retransmission, answered from the cache (to the migration's new address, not to the replay's source; at most once per 10 ms) and changes nothing; once the cache has forgotten it, the window refuses it (REPLAYED) and it is dropped unanswered (the fixed end runs with debug on, so each drop is an event); the SA's skew is 120 s so that the timestamp is still fresh",
    flags: ["Replay", "Debug"],
    run(net) {
      const p = pair(net, this.name, { sa: { skewMs: 120000 }, fOptions: [["debug", 1]] });
      let captured = null;
      net.filter = (d) => {
        if (d.from === "m" && isType(d.data, MIG_REQ)) captured ??= d.data;
        return true;
      };
      p.m.input({ kind: "migrate", peer: 0, protocols: [], from: M_OLD, fromPort: 0, to: M_NEW, toPort: 0 });
      net.run(1000);
      const replay = () => p.f.input({ kind: "datagram", source: "198.18.66.6", port: PORT, data: captured });
      replay();
      replay(); // the same millisecond: not answered again
      net.run(20);
      replay();
      net.run(40000);
      replay();
      net.run(1000);
      return p;
    },
  },
  {
    name: "nonce-mode",
    comment: "nonce replay mode: the migrator has no nonce yet and sends 0; the fixed end answers 133 with a nonce; the new request carries it and is accepted; the Confirm carries the nonce of the reply",
    flags: ["NonceMode", "Resync"],
    run(net) {
      const p = pair(net, this.name, { sa: { replayMode: "NONCE" } });
      p.m.input({ kind: "migrate", peer: 0, protocols: [], from: M_OLD, fromPort: 0, to: M_NEW, toPort: 0 });
      net.run(2000);
      return p;
    },
  },
  {
    name: "validation-fails",
    comment: "every Migration Confirm is lost: the fixed end keeps the move unvalidated (quota-limited) and rolls it back when the validation timeout (5 s) expires",
    flags: ["PathValidation", "Timeout"],
    run(net) {
      const p = pair(net, this.name);
      net.filter = (d) => !isType(d.data, MIG_CONFIRM);
      p.m.input({ kind: "migrate", peer: 0, protocols: [], from: M_OLD, fromPort: 0, to: M_NEW, toPort: 0 });
      net.run(8000);
      return p;
    },
  },
  {
    name: "timeout",
    comment: "the fixed end never answers: the migrator sends the request 7 times (RTO 200 ms, doubling) and then rolls back with TIMED_OUT",
    flags: ["Retransmission", "Timeout", "BreakBeforeMake"],
    run(net) {
      const p = pair(net, this.name);
      net.filter = (d) => d.from !== "m";
      p.m.input({ kind: "migrate", peer: 0, protocols: [], from: M_OLD, fromPort: 0, to: M_NEW, toPort: 0 });
      net.run(15000);
      return p;
    },
  },
  {
    name: "kernel-failure",
    comment: "the migrator's kernel refuses its first action (the original address on lo, EPERM): the migration fails before any request is sent and what was applied is rolled back",
    flags: ["KernelFailure"],
    run(net) {
      const p = pair(net, this.name);
      p.m.kernelFailures = 1;
      p.m.input({ kind: "migrate", peer: 0, protocols: [], from: M_OLD, fromPort: 0, to: M_NEW, toPort: 0 });
      net.run(1000);
      return p;
    },
  },
  {
    name: "ipv6-port",
    comment: "IPv6, one UDP port that changes (5353 to 40000), HMAC-SHA1",
    flags: ["Ipv6", "PortChange"],
    run(net) {
      const p = pair(net, this.name, { v6: true, sa: { algorithm: "HMAC_SHA1" } });
      p.m.input({ kind: "migrate", peer: 0, protocols: ["UDP"], from: M_OLD6, fromPort: 5353, to: M_NEW6, toPort: 40000 });
      net.run(1000);
      return p;
    },
  },
  {
    name: "busy",
    comment: "while a migration is in flight, asking for the same one again returns its id and changes nothing, and moving the same sessions on (from the new address to a third) is refused at once (BUSY); the first completes",
    flags: ["Busy", "PathValidation"],
    run(net) {
      const p = pair(net, this.name);
      p.m.input({ kind: "migrate", peer: 0, protocols: [], from: M_OLD, fromPort: 0, to: M_NEW, toPort: 0 });
      net.run(2);
      p.m.input({ kind: "migrate", peer: 0, protocols: [], from: M_OLD, fromPort: 0, to: M_NEW, toPort: 0 });
      p.m.input({ kind: "migrate", peer: 0, protocols: [], from: M_NEW, fromPort: 0, to: "198.18.2.2", toPort: 0 });
      net.run(1000);
      return p;
    },
  },
  {
    name: "wrong-token",
    comment: "the migrator's Confirm is lost and an authenticated Confirm with the wrong token (the challenge with its last bit flipped, from the new address, the next sequence number) arrives instead: it proves nothing, so the fixed end keeps the move unvalidated and rolls it back after the validation timeout",
    flags: ["PathValidation", "Forged"],
    run(net) {
      const p = pair(net, this.name);
      let request = null, reply = null;
      net.filter = (d) => {
        if (d.from === "m" && isType(d.data, MIG_REQ)) request ??= d.data;
        if (d.from === "f" && isType(d.data, MIG_REPLY)) reply ??= d.data;
        return !isType(d.data, MIG_CONFIRM);
      };
      p.m.input({ kind: "migrate", peer: 0, protocols: [], from: M_OLD, fromPort: 0, to: M_NEW, toPort: 0 });
      net.run(20);
      const core = p.m.engine.core;
      const auth = { spi: 256, algorithm: "HMAC_SHA256", key: unhex(KEY) };
      const json = core.decodeVerified(unhex(reply), auth);
      const token = json.extensions.find((e) => e.type === "PATH_CHALLENGE").token;
      const wrong = token.slice(0, -1) + (parseInt(token.slice(-1), 16) ^ 1).toString(16);
      const forged = core.encode({
        type: "MIGRATION_CONFIRM", flags: [], sequence: (parseInt(request.slice(4, 8), 16) + 1) & 0xffff,
        cookie: p.m.config.cookie, replayId: ntpHex(p.m.clock()), extensions: [{ type: "PATH_RESPONSE", token: wrong }],
      }, auth);
      p.f.input({ kind: "datagram", source: M_NEW, port: PORT, data: hex(forged) });
      net.run(6000);
      return p;
    },
  },
  {
    name: "auto-break-before-make",
    comment: "no command: the host reports the old address gone (RTM_DELADDR) while a TCP session to the fixed end uses it; the migrator finds the session with sock_diag, holds it and migrates it by itself to the address that is left, then the usual validated exchange",
    flags: ["AutoMigration", "BreakBeforeMake", "Netlink", "PathValidation"],
    run(net) {
      const p = pair(net, this.name);
      p.m.sockets = [{ protocol: 6, state: TCP_ESTABLISHED, local: M_OLD, localPort: 40000, remote: F_ADDR, remotePort: 5001 }];
      p.m.input({ kind: "netlinkEvent", data: hex(addressNotification(M_OLD)) });
      p.m.input({ kind: "netlinkEvent", data: hex(addressNotification(M_NEW, { ifindex: 3 })) });
      net.run(1);
      p.m.addresses.delete(M_OLD);
      p.m.input({ kind: "netlinkEvent", data: hex(addressNotification(M_OLD, { removed: true })) });
      net.run(1000);
      return p;
    },
  },
];

const NOTES = {
  BreakBeforeMake: { bugType: "FUNCTIONALITY", description: "Section 7.2: the address the sessions leave is not local, so APPLYING rewrites outbound and holds it; the hold is released on the reply." },
  MakeBeforeBreak: { bugType: "FUNCTIONALITY", description: "Section 7.2: the address the sessions leave is still local, so outbound is left alone until the reply and nothing is held." },
  PathValidation: { bugType: "FUNCTIONALITY", description: "Sections 7.4 and 7.5: the reply carries a path challenge, the Confirm echoes it from the new address, and the fixed end's move goes from unvalidated (quota) to validated." },
  Netlink: { bugType: "FUNCTIONALITY", description: "Inputs include rtnetlink address notifications from the host." },
  Registration: { bugType: "FUNCTIONALITY", description: "Section 7.3: a Registration Request and its reply." },
  Retransmission: { bugType: "FUNCTIONALITY", description: "Section 6.7: a request, or a Migration Reply waiting for its Confirm, sent again on the timer, byte for byte." },
  Refused: { bugType: "FUNCTIONALITY", description: "A reply code of 128 or more: the migrator rolls back (section 7.2 ROLLING_BACK)." },
  Resync: { bugType: "FUNCTIONALITY", description: "Code 133 (sections 6.4, 6.5): the requester adopts the reply's time or nonce and sends a new request." },
  Replay: { bugType: "AUTH_BYPASS", description: "A captured request replayed: never applied twice (section 6.7)." },
  Debug: { bugType: "FUNCTIONALITY", description: "The node runs with the debug option: every dropped datagram is a 'dropped' event." },
  NonceMode: { bugType: "FUNCTIONALITY", description: "Section 6.5: the SA's replay mode is NONCE." },
  Timeout: { bugType: "FUNCTIONALITY", description: "A timer ends a procedure: the request's 7 transmissions (section 6.7) or the validation timeout (section 7.5)." },
  KernelFailure: { bugType: "FUNCTIONALITY", description: "A kernel action fails (its result is an errno): the procedure rolls back." },
  Ipv6: { bugType: "FUNCTIONALITY", description: "IPv6 addresses throughout." },
  PortChange: { bugType: "FUNCTIONALITY", description: "A port-specific mapping whose port changes." },
  Forged: { bugType: "AUTH_BYPASS", description: "An authenticated message that must not have its effect (a Confirm with the wrong token): nothing changes." },
  AutoMigration: { bugType: "FUNCTIONALITY", description: "The migrator notices the address change by itself (rtnetlink) and finds the sessions with sock_diag (section 7.2's address watcher)." },
  Busy: { bugType: "FUNCTIONALITY", description: "A command the core refuses: the step's error names it (section 7.2: one migration per mapping)." },
};

/** Runs every scenario against the core; returns the vector file as an object. */
export function generateTranscripts(wasm = readFileSync(WASM)) {
  const module = new WebAssembly.Module(wasm);
  const tests = [];
  let tcId = 1;
  for (const sc of SCENARIOS) {
    const net = new Net(module);
    const nodes = sc.run(net);
    for (const [label, role] of [["m", "migrator"], ["f", "fixed end"]]) {
      const n = nodes[label];
      if (n.steps.length === 0) continue; // a node that got no input has nothing to replay
      tests.push({
        tcId: tcId++,
        comment: `${sc.name}, ${role} (${label === "m" ? "m.example" : "f.example"}): ${sc.comment}`,
        flags: sc.flags,
        scenario: sc.name,
        node: n.config,
        steps: n.steps,
        result: "valid",
      });
    }
  }
  const used = new Set(tests.flatMap((t) => t.flags));
  return {
    schema: SCHEMA_ID,
    suite: "stem-transcripts",
    description:
      "Whole STEM exchanges (docs/PROTOCOL.md section 7), one node per test: its configuration (cookie, DRBG seed, start time, options, peers and SAs) and the inputs it got, each with the outputs that must follow it (datagrams with destination and source, nft text, netlink bytes, events) and the node's next timer. Recorded from the reference implementation (the core), not derived from the specification: they pin its behaviour (conformance/README.md, stem-transcripts).",
    source: "conformance/tools/transcripts.js (recorded from build/handover.wasm)",
    numberOfTests: tests.length,
    notes: Object.fromEntries(Object.entries(NOTES).filter(([k]) => used.has(k))),
    testGroups: [{ tests }],
  };
}

/**
 * The file's text: the structure indented, each test's fields on their own
 * lines and each step's input and outputs one per line, so that a behaviour
 * change shows as a readable diff of exactly the outputs that changed.
 */
export function formatTranscripts(file) {
  const { testGroups, ...head } = file;
  const J = JSON.stringify;
  const lines = ["{"];
  for (const [k, v] of Object.entries(head)) lines.push(`  ${J(k)}: ${J(v, null, 2).split("\n").join("\n  ")},`);
  lines.push('  "testGroups": [');
  testGroups.forEach((g, gi) => {
    lines.push("    {");
    lines.push('      "tests": [');
    g.tests.forEach((t, ti) => {
      const { steps, ...rest } = t;
      lines.push("        {");
      for (const [k, v] of Object.entries(rest)) {
        if (k === "result") continue;
        lines.push(`          ${J(k)}: ${J(v)},`);
      }
      lines.push('          "steps": [');
      steps.forEach((s, si) => {
        const { input, outputs, ...more } = s;
        const extra = Object.entries(more).map(([k, v]) => `, ${J(k)}: ${J(v)}`).join("");
        if (outputs.length === 0) {
          lines.push(`            { "input": ${J(input)}, "outputs": []${extra} }${si < steps.length - 1 ? "," : ""}`);
          return;
        }
        lines.push(`            { "input": ${J(input)}, "outputs": [`);
        outputs.forEach((o, oi) => lines.push(`                ${J(o)}${oi < outputs.length - 1 ? "," : ""}`));
        lines.push(`              ]${extra} }${si < steps.length - 1 ? "," : ""}`);
      });
      lines.push("          ],");
      lines.push(`          "result": ${J(t.result)}`);
      lines.push(`        }${ti < g.tests.length - 1 ? "," : ""}`);
    });
    lines.push("      ]");
    lines.push(`    }${gi < testGroups.length - 1 ? "," : ""}`);
  });
  lines.push("  ]");
  lines.push("}");
  return lines.join("\n") + "\n";
}

if (isMain(import.meta)) {
  const args = process.argv.slice(2);
  const outAt = args.indexOf("--out");
  const dir = outAt >= 0 ? args[outAt + 1] : join(ROOT, "conformance", "vectors");
  const text = formatTranscripts(generateTranscripts());
  const path = join(dir, TRANSCRIPT_FILE);
  if (args.includes("--check")) {
    let committed = "";
    try {
      committed = readFileSync(path, "utf8");
    } catch {}
    if (committed !== text) {
      console.error(`${path} differs from what the core produces now: run npm run conformance:transcripts and review the diff`);
      process.exit(1);
    }
    console.log(`${path}: up to date`);
  } else {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, text);
    const n = JSON.parse(text).numberOfTests;
    console.log(`${path}: ${n} tests`);
  }
}
