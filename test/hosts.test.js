// The runtime hosts (hosts/node, hosts/deno, hosts/bun), in whichever runtime
// runs this file: the same library API, the package's "exports" map, and two
// daemons in one process talking over real UDP on loopback. Needs no root
// (kernel: false), binds only 127.0.0.1, ::1 and wildcards on free ports.
import { test } from "uvu";
import * as assert from "uvu/assert";
import dgram from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const runtime = typeof Deno !== "undefined" ? "deno" : typeof Bun !== "undefined" ? "bun" : "node";
const IO = { node: "NodeIO", deno: "DenoIO", bun: "BunIO" }[runtime];
const host = await import(`../dist/hosts/${runtime}/index.js`);
const KEY = "5a".repeat(32);

/** Rejects if the promise takes longer than ms. */
function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Ports the kernel just handed out on `address` (then released): free for the test. */
async function freePorts(n, type = "udp4", address = "127.0.0.1") {
  const sockets = await Promise.all(
    Array.from({ length: n }, () => new Promise((resolve, reject) => {
      const s = dgram.createSocket(type);
      s.once("error", reject);
      s.bind(0, address, () => resolve(s));
    })),
  );
  const ports = sockets.map((s) => s.address().port);
  await Promise.all(sockets.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const config = (name, port, listen, peer, peerAddress, peerPort, extra = {}) => ({
  name,
  port,
  listen,
  kernel: false,
  control: false,
  log: "warn",
  peers: [{ name: peer, address: peerAddress, port: peerPort, sa: [{ spi: 256, key: KEY }] }],
  ...extra,
});

/** A registers with B; resolves with A's "registration" event and B's "peer-registered". */
async function register(a, b, peer) {
  const seen = within(5000, new Promise((r) => a.on("registration", r)), `${runtime}: registration`);
  const peerSeen = within(5000, new Promise((r) => b.on("peer-registered", r)), `${runtime}: peer-registered`);
  a.register(peer, 600);
  return [await seen, await peerSeen];
}

test(`${runtime}: the package's "exports" map picks this runtime's host`, async () => {
  const viaName = await import("handover");
  assert.type(viaName[IO], "function", `import "handover" under ${runtime} gives ${IO}`);
  assert.is(viaName.start, host.start, `dist/hosts/${runtime}/index.js`);
});

test(`${runtime}: the library API is the Node host's (only the I/O class differs)`, async () => {
  const node = await import("../dist/hosts/node/index.js");
  const names = (m, io) => Object.keys(m).filter((k) => k !== io).sort();
  assert.equal(names(host, IO), names(node, "NodeIO"));
  for (const k of ["start", "loadCore", "coreModule", "Daemon", "Core", "Engine", "HandoverError", "validateConfig", "ConfigError", IO]) {
    assert.type(host[k], "function", k);
  }
  const io = new host[IO]();
  assert.is(io.runtime, runtime);
  const t = io.now();
  assert.ok(Math.abs(t - Date.now()) < 1000 && io.now() >= t, "now(): Unix milliseconds, monotonic");
  assert.is(io.random(32).length, 32);
  assert.is(io.env("HANDOVER_TEST_RUNTIME"), process.env.HANDOVER_TEST_RUNTIME);
});

test(`${runtime}: loadCore() gives a working core`, async () => {
  const core = await host.loadCore();
  assert.is(core.cookieFromName("m.demo"), "c3ec570dcd36");
  assert.is((await host.loadCore()).x === core.x, false, "a fresh instance each time");
});

test(`${runtime}: two daemons register over UDP on 127.0.0.1 and close`, async () => {
  const [pa, pb] = await freePorts(2);
  const a = await host.start(config("a.test", pa, ["127.0.0.1"], "b.test", "127.0.0.1", pb));
  const b = await host.start(config("b.test", pb, ["127.0.0.1"], "a.test", "127.0.0.1", pa));
  try {
    const [reg, peer] = await register(a, b, "b.test");
    assert.is(reg.state, "accepted");
    assert.is(reg.code, "ACCEPTED");
    assert.is(reg.lifetime, 600);
    assert.is(peer.address, "127.0.0.1");
  } finally {
    await a.close();
    await b.close();
  }
  // Closed means closed: the ports are free again (Deno lets go of a descriptor
  // once its pending receive is cancelled, one turn of the event loop later).
  const bindOnce = () => new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    s.once("error", () => resolve(false));
    s.bind(pa, "127.0.0.1", () => s.close(() => resolve(true)));
  });
  let free = false;
  for (let i = 0; i < 20 && !(free = await bindOnce()); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(free, `port ${pa} free again after close()`);
});

test(`${runtime}: 0.0.0.0 and :: on one port (IPv6-only), a registration over ::1`, async () => {
  const [pa] = await freePorts(1, "udp6", "::1");
  const [pb] = await freePorts(1, "udp4", "0.0.0.0");
  const a = await host.start(config("a6.test", pa, ["::1"], "b6.test", "::1", pb));
  const warnings = [];
  const io = new host[IO]();
  io.log = (line) => warnings.push(line);
  const b = await host.Daemon.start(io, await host.loadCore(), config("b6.test", pb, ["0.0.0.0", "::"], "a6.test", "::1", pa));
  try {
    const [reg, peer] = await register(a, b, "b6.test");
    assert.is(reg.state, "accepted");
    assert.is(peer.address, "::1");
    assert.equal(warnings.filter((l) => l.includes("socket-error")), [], "both wildcards bound");
  } finally {
    await a.close();
    await b.close();
  }
});

/** One sample's value from a Prometheus text exposition, or undefined. */
function sample(text, name, labels) {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

test(`${runtime}: the metrics endpoint (off by default) serves Prometheus text on loopback`, async () => {
  const [pa, pb] = await freePorts(2);
  const [mp] = await freePorts(1, "udp4");
  const a = await host.start(config("ma.test", pa, ["127.0.0.1"], "mb.test", "127.0.0.1", pb, { metrics: `127.0.0.1:${mp}` }));
  // b's key for a is another: a's messages fail authentication there.
  const b = await host.start(config("mb.test", pb, ["127.0.0.1"], "ma.test", "127.0.0.1", pa, {
    peers: [{ name: "ma.test", address: "127.0.0.1", port: pa, sa: [{ spi: 256, key: "6b".repeat(32) }] }],
  }));
  try {
    const scrape = async (path = "/metrics") => {
      const r = await within(3000, fetch(`http://127.0.0.1:${mp}${path}`), "scrape");
      return { status: r.status, type: r.headers.get("content-type"), text: await r.text() };
    };
    const first = await scrape();
    assert.is(first.status, 200);
    assert.match(first.type, /^text\/plain; version=0\.0\.4/);
    assert.match(first.text, /^# HELP handover_migrations_total /m);
    assert.match(first.text, /^# TYPE handover_migration_exchange_seconds histogram$/m);
    assert.is(sample(first.text, "handover_peers", ['node="ma.test"']), 1);
    assert.is(sample(first.text, "handover_peers_registered", []), 0);
    assert.is(sample(first.text, "handover_migrations_total", ['outcome="completed"']), 0);
    // A registration b cannot authenticate: b counts it by reason.
    const bDrops = () => b.state().counters.droppedBy.BAD_AUTHENTICATOR ?? 0;
    a.register("mb.test", 600);
    for (let i = 0; i < 100 && bDrops() === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(bDrops() >= 1, "b dropped a's request as BAD_AUTHENTICATOR");
    const second = await scrape();
    assert.ok(sample(second.text, "handover_messages_total", ['direction="sent"']) >= 1);
    assert.is(sample(second.text, "handover_migration_exchange_seconds_count", []), 0);
    // b's endpoint would show the drop by reason; a's own drops are its state's, rendered the same way.
    const bText = b.metrics();
    assert.ok(sample(bText, "handover_dropped_total", ['reason="BAD_AUTHENTICATOR"']) >= 1, bText);
    assert.equal((await scrape("/other")).status, 404);
  } finally {
    await a.close();
    await b.close();
  }
  // Closed: the endpoint is gone.
  const after = await fetch(`http://127.0.0.1:${mp}/metrics`).then(() => "answered", (e) => "refused");
  assert.is(after, "refused");
});

test(`${runtime}: a metrics endpoint that cannot be served stops the start; a bad one is refused by the schema`, async () => {
  const [p, mp] = await freePorts(2);
  const http = await import("node:http");
  const holder = http.createServer();
  await new Promise((r) => holder.listen(mp, "127.0.0.1", r));
  try {
    const err = await host.start(config("mx.test", p, ["127.0.0.1"], "f.test", "127.0.0.1", p, { metrics: `127.0.0.1:${mp}` })).then(() => null, (e) => e);
    assert.ok(err instanceof host.StartError, `rejects with StartError, got ${err}`);
    assert.match(err.message, /cannot serve the metrics endpoint 127\.0\.0\.1:\d+ \(EADDRINUSE\); another program uses TCP port/);
  } finally {
    await new Promise((r) => holder.close(r));
  }
  for (const bad of ["localhost:9464", "127.0.0.1", "127.0.0.1:0", "::1:9464", 9464]) {
    assert.throws(() => host.validateConfig(config("mx.test", p, ["127.0.0.1"], "f.test", "127.0.0.1", p, { metrics: bad })), /metrics.*ADDRESS:PORT/, String(bad));
  }
  assert.is(host.validateConfig(config("mx.test", p, ["127.0.0.1"], "f.test", "127.0.0.1", p, { metrics: "[::1]:9464" })).metrics, "[::1]:9464");
});

test(`${runtime}: a control port that cannot be bound stops the start, with the reason`, async () => {
  const [p] = await freePorts(1);
  // 198.18.77.1 is no address of this machine: the bind fails.
  const err = await host.start(config("e.test", p, ["198.18.77.1"], "f.test", "127.0.0.1", p)).then(() => null, (e) => e);
  assert.ok(err instanceof host.StartError, `rejects with StartError, got ${err}`);
  assert.match(err.message, /cannot start node e\.test: cannot bind UDP 198\.18\.77\.1 port \d+ \(EADDRNOTAVAIL/);
  // The port in use by another program: refused too, and nothing is left bound.
  const holder = dgram.createSocket("udp4");
  await new Promise((r) => holder.bind(p, "127.0.0.1", r));
  try {
    const busy = await host.start(config("e.test", p, ["127.0.0.1"], "f.test", "127.0.0.1", p)).then(() => null, (e) => e);
    assert.ok(busy instanceof host.StartError, `port in use: rejects, got ${busy}`);
    assert.match(busy.message, /EADDRINUSE.*another program uses UDP port/);
  } finally {
    await new Promise((r) => holder.close(r));
  }
});

test(`${runtime}: udp(): an ICMP "port unreachable" is no error and costs no later datagram`, async () => {
  const [closed] = await freePorts(1);
  const io = new host[IO]();
  const errors = [];
  const received = [];
  const rx = io.udp("127.0.0.1", 0, { message: (d, a, p) => received.push([d.length, a, p]), error: (c) => errors.push(c) });
  const tx = io.udp("127.0.0.1", 0, { message: () => {}, error: (c) => errors.push(c) });
  try {
    await within(2000, (async () => {
      while (!rx.port() || !tx.port()) await new Promise((r) => setTimeout(r, 5));
    })(), "bind");
    for (let i = 0; i < 5; i++) {
      tx.send(new Uint8Array(8), "127.0.0.1", closed); // draws ICMP port unreachable
      await new Promise((r) => setTimeout(r, 10));
      tx.send(new Uint8Array(16), "127.0.0.1", rx.port());
    }
    await within(2000, (async () => {
      while (received.length < 5) await new Promise((r) => setTimeout(r, 5));
    })(), "5 datagrams");
    assert.equal(received[0], [16, "127.0.0.1", tx.port()]);
    assert.equal(errors, []);
  } finally {
    rx.close();
    tx.close();
  }
});

/**
 * Sends one datagram of each length to a bound receiver, each from a new socket closed in the
 * same turn as its send (`bindFirst`: after the sender's bind completed; else as it opens).
 * Only a datagram that left inside send() arrives; returns the lengths received and any errors.
 */
async function sentBeforeClose(io, lengths, { bindFirst }) {
  const errors = [];
  const received = [];
  const rx = io.udp("127.0.0.1", 0, { message: (d) => received.push(d.length), error: (c) => errors.push(c) });
  const bound = (s) => within(2000, (async () => {
    while (!s.port()) await new Promise((r) => setTimeout(r, 5));
  })(), "bind");
  try {
    await bound(rx);
    for (const n of lengths) {
      const tx = io.udp("127.0.0.1", 0, { message: () => {}, error: (c) => errors.push(c) });
      if (bindFirst) await bound(tx);
      tx.send(new Uint8Array(n), "127.0.0.1", rx.port());
      tx.close();
    }
    await within(2000, (async () => {
      while (received.length < lengths.length) await new Promise((r) => setTimeout(r, 5));
    })(), `${lengths.length} datagrams, each sent just before its socket closed`);
  } finally {
    rx.close();
  }
  return { received: received.sort(), errors };
}

test(`${runtime}: udp(): a datagram to an IP literal leaves inside send() (no lookup a tick later)`, async () => {
  // A send that waited for a later tick (node:dgram's dns.lookup answers an IP literal with
  // process.nextTick) would find its socket closed and never leave.
  const { received, errors } = await sentBeforeClose(new host[IO](), [10, 11, 12], { bindFirst: true });
  assert.equal(received, [10, 11, 12]);
  assert.equal(errors, []);
});

// (Not in Bun: Bun.udpSocket binds asynchronously, a Promise, and the Bun host queues the sends until then.)
if (runtime !== "bun") test(`${runtime}: udp(): a socket's first datagram, sent as it opens, leaves inside send()`, async () => {
  // The Migration Request leaves from a socket opened for the new address in the same turn.
  // A send queued until a bind that completes a tick later finds its socket closed and never leaves.
  const { received, errors } = await sentBeforeClose(new host[IO](), [20, 21, 22], { bindFirst: false });
  assert.equal(received, [20, 21, 22]);
  assert.equal(errors, []);
});

test(`${runtime}: the control socket answers (serveControl, callControl)`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "handover-hosts-"));
  const [p] = await freePorts(1);
  const path = join(dir, "sub", "c.sock");
  const d = await host.start(config("c.test", p, ["127.0.0.1"], "f.test", "127.0.0.1", p, { control: path }));
  try {
    const io = new host[IO]();
    const r = await within(3000, io.callControl(path, { cmd: "state" }), "state");
    assert.is(r.ok, true);
    assert.type(r.state, "object");
    const bad = await within(3000, io.callControl(path, { cmd: "nonsense" }), "bad command");
    assert.is(bad.ok, false);
    assert.match(bad.error, /unknown command/);
    const big = await within(3000, io.callControl(path, { cmd: "register", peer: "nobody" }), "register");
    assert.is(big.ok, false);
  } finally {
    await d.close();
  }
  const io = new host[IO]();
  try {
    await io.callControl(path, { cmd: "state" });
    assert.unreachable("the socket is gone after close");
  } catch (e) {
    assert.match(String(e), /cannot reach the daemon/);
  }
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A kernel made of the host's shared netlink code (hosts/shared/netlink.ts) over
 * a fake libc: it acknowledges every request until `silent`, then answers
 * nothing, as a kernel that hangs; nft batches succeed.
 */
async function fakeKernel() {
  const { kernelIO } = await import("../dist/hosts/shared/netlink.js");
  const pending = [];
  const state = { silent: false, sent: 0, errno: 0 };
  const ack = (request) => {
    const b = new Uint8Array(36);
    const v = new DataView(b.buffer);
    v.setUint32(0, 36, true);
    v.setUint16(4, 2, true);
    b.set(request.subarray(0, 16), 20);
    return b;
  };
  const libc = {
    socket: () => 7,
    bind: () => 0,
    setsockopt: () => 0,
    sendto: (fd, buf, len) => {
      state.sent++;
      if (!state.silent) pending.push(ack(buf));
      return len;
    },
    recv: (fd, buf) => {
      const m = pending.shift();
      if (!m) {
        state.errno = 11; // EAGAIN
        return -1;
      }
      buf.set(m);
      return m.length;
    },
    poll: () => 0,
    close: () => 0,
    errno: () => state.errno,
    // No stderr to catch here: the pipe fails, so nft runs with fd 2 as it is.
    pipe2: () => -1,
    dup: () => -1,
    dup2: () => -1,
    read: () => 0,
  };
  const nft = { run: () => 0, error: () => "", output: () => "", free: () => {} };
  return { state, kernel: kernelIO(libc, nft, () => ({ close() {} })) };
}

test(`${runtime}: a kernel call that times out in the host fails the migration, which rolls back and is not left busy`, async () => {
  const [p, q] = await freePorts(2);
  const logs = [];
  const io = new host[IO]();
  io.log = (line) => logs.push(JSON.parse(line));
  const { state, kernel } = await fakeKernel();
  io.openKernel = () => kernel;
  const d = await host.Daemon.start(io, await host.loadCore(), config("k.test", p, ["127.0.0.1"], "f.test", "127.0.0.1", q, { kernel: true, auto: false, register: false }));
  const errors = [];
  d.on("kernel-error", (e) => errors.push(e));
  try {
    state.silent = true; // from now on the kernel answers no netlink request
    for (let attempt = 1; attempt <= 2; attempt++) {
      const result = await within(5000, d.migrate({ peer: "f.test", from: "198.18.0.2", to: "198.18.1.2" }), `migration ${attempt}`);
      assert.is(result.state, "failed", `attempt ${attempt}: the migration ends`);
      assert.is(result.error, "KERNEL");
    }
    const failures = logs.filter((l) => l.event === "kernel-call-failed");
    assert.ok(failures.length >= 2, "each failed call is logged");
    assert.is(failures[0].errno, 110, "ETIMEDOUT");
    assert.match(failures[0].error, /did not answer within/);
    assert.ok(errors.some((e) => e.errno === 110), "and the core reports the errno it was told");
    assert.is(d.state().moves.length, 0, "rolled back: no move left");
  } finally {
    state.silent = false;
    await d.close({ keepKernelState: false });
  }
});

test.run();
