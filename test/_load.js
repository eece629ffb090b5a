// Steady loads for the core's memory (test/memory.test.js, bench/memory.js):
// each kind of traffic a node meets, driven on the simulated pair
// (test/_sim.js) at a constant state, one unit at a time. What is measured is
// the size of each engine's linear memory in 64 KiB pages: under a steady load
// it must stop growing once the load has warmed up.
import { SimNet } from "./_sim.js";

const KEY = new Uint8Array(32).fill(7);
const SPI = 256;

/** Pages of linear memory of a simulated node's core. */
export function pages(node) {
  return node.engine.core.x.memory.buffer.byteLength / 65536;
}

/** The migrator m (two addresses) and the fixed end f (two, used only when it moves too), each the other's peer. */
function pair({ debug = false, replayMode = "TIMESTAMP" } = {}) {
  const net = new SimNet();
  const m = net.node("m.example", ["198.18.0.2", "198.18.1.2"]);
  const f = net.node("f.example", ["198.18.9.1", "198.18.9.2"]);
  const mp = m.peer(f, { key: KEY, spi: SPI, replayMode });
  const fp = f.peer(m, { key: KEY, spi: SPI, replayMode });
  if (debug) {
    m.engine.option("debug", 1);
    f.engine.option("debug", 1);
  }
  return { net, m, f, mp, fp };
}

/** Forgets what the simulated nodes recorded (the test's memory, not the core's). */
function forget(...nodes) {
  for (const n of nodes) {
    n.events.length = 0;
    n.nft.length = 0;
    n.netlink.length = 0;
  }
}

/** An authenticated request from m to f, built outside both engines. */
function request(net, m, f, sequence, extensions, type = "MIGRATION_REQUEST") {
  const ntp = BigInt(Math.floor((net.now / 1000 + 2208988800) * 2 ** 32));
  const replayId = ntp.toString(16).padStart(16, "0");
  return f.engine.core.encode({ type, sequence: sequence & 0xffff, cookie: m.cookie, replayId, extensions }, { spi: SPI, key: KEY });
}

/**
 * The loads: each returns { nodes, step(i) } where step does one unit of the
 * traffic and returns whether the unit had the effect it is there for (so
 * that a load that silently stopped working cannot pass for flat memory);
 * nodes are the engines whose memory counts; smallestLeak, if what could leak
 * per unit is smaller than a heap object (bytes); warmup, if the load needs
 * more units than the default before its memory reaches its steady state.
 */
export const LOADS = {
  /**
   * Legitimate migrations at both ends, in turn: m moves all its sessions to
   * its second address, f moves its own, both move back, then m moves one
   * port (5001 -> 6001) and back. Each end validates the other's new path.
   */
  "migrations": () => {
    const { net, m, f, mp, fp } = pair();
    const turns = [
      [m, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" }],
      [f, { peer: fp, from: "198.18.9.1", to: "198.18.9.2" }],
      [m, { peer: mp, from: "198.18.1.2", to: "198.18.0.2" }],
      [f, { peer: fp, from: "198.18.9.2", to: "198.18.9.1" }],
      [m, { peer: mp, from: "198.18.0.2", fromPort: 5001, to: "198.18.1.2", toPort: 6001 }],
      [m, { peer: mp, from: "198.18.1.2", fromPort: 6001, to: "198.18.0.2", toPort: 5001 }],
    ];
    return {
      nodes: [m, f],
      // f's heap reaches its high-water mark late: its wasm memory doubles once, at unit 3,873 (6 -> 12 pages), and
      // then stays at 12 pages for 30,000 units more (measured after the clean stop's save came in, f656f27).
      warmup: 5000,
      step(i) {
        const [node, request] = turns[i % turns.length];
        node.engine.migrate(net.now, request);
        net.run(1000);
        const done = node.eventsOf("migration").some((e) => e.state === "completed");
        const validated = (node === m ? f : m).eventsOf("peer-migration").some((e) => e.state === "validated");
        // The reply cache, the sent Confirms and the quarantines last 30 s.
        net.now += 100;
        forget(m, f);
        net.sent.length = 0;
        return done && validated;
      },
    };
  },

  /** Authenticated Migration Requests f refuses (an address m does not own: code 129). */
  "refused requests": () => {
    const { net, m, f } = pair();
    let seq = 1;
    return {
      nodes: [f],
      step() {
        net.now += 1;
        const ext = [{ type: "MIGRATION", protocols: ["TCP"], oldAddress: "198.18.50.50", newAddress: "198.18.1.2", oldPort: 5001, newPort: 5001 }];
        net.inject(f, "198.18.1.2", request(net, m, f, seq++, ext));
        const refused = f.eventsOf("migration-refused").some((e) => e.code === "ADMINISTRATIVELY_PROHIBITED");
        forget(f);
        net.queue.length = 0;
        net.sent.length = 0;
        return refused;
      },
    };
  },

  /**
   * Captured requests sent again, from their source and from others: the
   * newest are answered from the reply cache, the older ones are replays the
   * window drops (debug on: each drop is an event).
   */
  "replays": () => {
    const { net, m, f } = pair({ debug: true });
    const ext = [{ type: "MIGRATION", protocols: ["TCP"], oldAddress: "198.18.50.50", newAddress: "198.18.1.2", oldPort: 5001, newPort: 5001 }];
    const captured = [];
    for (let seq = 1; seq <= 20; seq++) {
      captured.push(request(net, m, f, seq, ext));
      net.inject(f, "198.18.1.2", captured.at(-1));
    }
    forget(f);
    return {
      nodes: [f],
      step(i) {
        net.now += 1;
        net.inject(f, i % 2 ? "198.18.1.2" : `198.18.66.${i & 255}`, captured[i % captured.length]);
        // Answered from the cache (no event), or dropped by the window: never handled as new.
        const e = f.events;
        const ok = e.length === 0 || (e.length === 1 && e[0].event === "dropped");
        forget(f);
        net.queue.length = 0;
        net.sent.length = 0;
        return ok;
      },
    };
  },

  /** Authenticated requests with a timestamp outside the skew, from many sources: each draws a code-133 reply. */
  "stale requests": () => {
    const { net, m, f } = pair({ debug: true });
    const ext = [{ type: "MIGRATION", protocols: ["TCP"], oldAddress: "198.18.0.2", newAddress: "198.18.1.2", oldPort: 0, newPort: 0 }];
    let seq = 1;
    return {
      nodes: [f],
      step(i) {
        net.now += 1;
        const then = net.now;
        net.now -= 60000;
        const stale = request(net, m, f, seq++, ext);
        net.now = then;
        net.inject(f, `198.18.${(i >> 8) & 255}.${i & 255}`, stale);
        const dropped = f.eventsOf("dropped").some((e) => e.error === "STALE_TIMESTAMP");
        forget(f);
        net.queue.length = 0;
        net.sent.length = 0;
        return dropped;
      },
    };
  },

  /** Datagrams that are not messages, or fail authentication, from anywhere (debug off). */
  "junk": () => junk(false),
  /** The same with debug on: every drop is an event. */
  "junk, debug": () => junk(true),

  /** m registers with f, over and over (each a renewal), in nonce mode (every reply issues the next nonce). */
  "registrations": () => {
    const { net, m, f, mp } = pair({ replayMode: "NONCE" });
    return {
      nodes: [m, f],
      step() {
        m.engine.register(net.now, mp, 60);
        net.run(1000);
        const accepted = m.eventsOf("registration").some((e) => e.state === "accepted");
        net.now += 50;
        forget(m, f);
        net.sent.length = 0;
        return accepted;
      },
    };
  },

  /** An address of m comes and goes on its interface (a flapping link), with no session on it. */
  "address changes": () => {
    const { net, m } = pair();
    return {
      nodes: [m],
      step(i) {
        const added = i % 2 === 0;
        m.engine.netlinkEvent(net.now, addressMessage(added, [198, 18, 1, 2], 3));
        m.pump();
        const seen = m.eventsOf(added ? "address-added" : "address-removed").length === 1;
        net.now += 10;
        forget(m);
        return seen;
      },
    };
  },

  /**
   * A host that polls one output per input and never catches up with the
   * backlog it has: the queue never empties, but must not grow either. What
   * could leak per unit is one slot of the queue's array (4 bytes).
   */
  "partial polling": () => {
    const { net, f } = pair({ debug: true });
    const junk = new Uint8Array([0xff, 1, 2]);
    for (let i = 0; i < 10; i++) f.engine.datagram(net.now, "198.18.66.6", 4000, junk);
    return {
      nodes: [f],
      smallestLeak: 4,
      step() {
        net.now += 1;
        f.engine.datagram(net.now, "198.18.66.6", 4000, junk);
        return f.engine.poll()?.event?.event === "dropped";
      },
    };
  },

  /**
   * A daemon's life between migrations: every 5 s a sweep reads the table's
   * counters and the TCP sockets (the moves stay: sessionIdleMs is long), and
   * the application lists the sessions.
   */
  "sweeps": () => {
    const { net, m, mp } = pair();
    m.engine.option("sessionIdleMs", 1e12);
    m.engine.kernelSetup(net.now);
    // One port: a port-wide migration would first ask sock_diag for the sessions (none here).
    m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", fromPort: 5001, to: "198.18.1.2", toPort: 5001 });
    net.run(1000);
    forget(m);
    return {
      nodes: [m],
      step() {
        net.now += 5000;
        net.run(0);
        m.engine.sessions(net.now);
        m.pump();
        // The sweep reads the maps' counters as a netlink dump (NFT_MSG_GETSETELEM, type 10 << 8 | 13).
        const swept = m.netlink.some((b) => b.length >= 20 && new DataView(b.buffer, b.byteOffset).getUint16(4, true) === ((10 << 8) | 13));
        const listed = m.eventsOf("sessions").length === 1;
        forget(m);
        net.sent.length = 0;
        return swept && listed;
      },
    };
  },

  /** Migrations and registrations that f never answers: retransmitted, given up, rolled back. */
  "timeouts": () => {
    const { net, m, mp } = pair();
    net.filter = (d) => d.from !== "m.example";
    return {
      nodes: [m],
      step(i) {
        if (i % 2) m.engine.register(net.now, mp, 60);
        else m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
        net.run(20000);
        const failed = m.eventsOf(i % 2 ? "registration" : "migration").some((e) => e.state === "failed" && e.error === "TIMED_OUT");
        forget(m);
        net.sent.length = 0;
        return failed;
      },
    };
  },
};

/** An rtnetlink RTM_NEWADDR or RTM_DELADDR notification for an IPv4 address (global scope) on interface ifindex. */
function addressMessage(added, ipv4, ifindex) {
  const b = new Uint8Array(16 + 8 + 8);
  const v = new DataView(b.buffer);
  v.setUint32(0, b.length, true);
  v.setUint16(4, added ? 20 : 21, true); // RTM_NEWADDR, RTM_DELADDR
  b[16] = 2; // AF_INET
  b[17] = 24; // prefix length
  v.setUint32(20, ifindex, true);
  v.setUint16(24, 8, true); // IFA_LOCAL
  v.setUint16(26, 2, true);
  b.set(ipv4, 28);
  return b;
}

function junk(debug) {
  const { net, m, f } = pair({ debug });
  const ext = [{ type: "MIGRATION", protocols: ["TCP"], oldAddress: "198.18.0.2", newAddress: "198.18.1.2", oldPort: 0, newPort: 0 }];
  const valid = request(net, m, f, 1, ext);
  const rand = net.rand;
  return {
    nodes: [f],
    step(i) {
      let d;
      if (i % 3 === 0) {
        // Forged: one bit of a valid request flipped (fails decoding or authentication).
        d = valid.slice();
        d[i % d.length] ^= 1 << (i % 8);
      } else if (i % 3 === 1) {
        d = valid.slice(0, i % valid.length); // truncated
      } else {
        d = new Uint8Array(1 + Math.floor(rand() * 200));
        for (let j = 0; j < d.length; j++) d[j] = rand() * 256;
      }
      const source = `198.18.${(i >> 8) & 255}.${i & 255}`;
      net.inject(f, source, d, 1024 + (i % 60000));
      // No answer; with debug, one "dropped" event.
      const dropped = net.sent.length === 0 && (debug ? f.events.length === 1 && f.events[0].event === "dropped" : f.events.length === 0);
      forget(f);
      net.queue.length = 0;
      net.sent.length = 0;
      return dropped;
    },
  };
}

/**
 * Runs `warmup` units, then `units` more (default: enough that one leaked
 * block per unit would fill more than the free memory there is), and returns
 * the page counts of each node after the warm-up and at the end, the units
 * that missed their effect, and the time the measured units took.
 */
export function measure(name, warmup, units) {
  const load = LOADS[name]();
  warmup = Math.max(warmup, load.warmup ?? 0);
  let missed = 0;
  let i = 0;
  for (; i < warmup; i++) if (!load.step(i)) missed++;
  const before = load.nodes.map(pages);
  units ??= Math.max(...load.nodes.map((n) => leakProofUnits(n, load.smallestLeak)));
  const t0 = performance.now();
  for (const end = i + units; i < end; i++) if (!load.step(i)) missed++;
  const ms = performance.now() - t0;
  const after = load.nodes.map(pages);
  return { names: load.nodes.map((n) => n.name), before, after, units, missed, ms };
}

/**
 * The smallest block the core's allocator hands out for an object: a 20-byte
 * header, rounded up to TLSF's 16-byte granularity, and some payload.
 */
const SMALLEST_BLOCK = 32;

/**
 * Units after which a leak of `leak` bytes per unit would not fit in the
 * node's memory as it is now. The heap lives above the static data, which
 * ends after the exchange buffers and the output metadata block at the
 * earliest: the room left is at most the memory's size minus that.
 */
function leakProofUnits(node, leak = SMALLEST_BLOCK) {
  const x = node.engine.core.x;
  const staticEnd = Math.max(x.io_in_ptr() + x.io_size(), x.io_out_ptr() + x.io_size(), x.io_meta_ptr() + 64);
  return Math.ceil((pages(node) * 65536 - staticEnd) / leak);
}
