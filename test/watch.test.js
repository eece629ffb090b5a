// The address watch (stem/watch.ts) and the sweep and restore of moves
// (stem/lifecycle.ts) on the SIMULATED pair (test/_sim.js), with a model of
// the kernel: the watch is fed rtnetlink address notifications as bytes, its
// sock_diag dumps are answered with sockets, and `nft list` is answered with
// the rules the node last wrote and counters the test sets.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SimNet } from "./_sim.js";

const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_GETADDR = 22;
const SOCK_DIAG_BY_FAMILY = 20;
const NLMSG_DONE = 3;
const NETLINK_ROUTE = 0;
const NETLINK_SOCK_DIAG = 4;
const AF_INET = 2;
const IFA_LOCAL = 2;
const IFINDEX = 2; // the test's "eth0"
const TCP_ESTABLISHED = 1;

const v4 = (a) => Uint8Array.from(a.split(".").map(Number));

function nlmsg(type, body) {
  const b = new Uint8Array(16 + body.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, b.length, true);
  v.setUint16(4, type, true);
  b.set(body, 16);
  return b;
}

const concat = (parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
};

/** RTM_NEWADDR or RTM_DELADDR for an IPv4 address on an interface (global scope, /24). */
function addressMessage(type, address, ifindex = IFINDEX) {
  const body = new Uint8Array(8 + 8);
  const v = new DataView(body.buffer);
  body[0] = AF_INET;
  body[1] = 24;
  body[3] = 0; // RT_SCOPE_UNIVERSE
  v.setUint32(4, ifindex, true);
  v.setUint16(8, 8, true);
  v.setUint16(10, IFA_LOCAL, true);
  body.set(v4(address), 12);
  return nlmsg(type, body);
}

/** One inet_diag_msg of a sock_diag dump. */
function socketMessage({ local, localPort, remote, remotePort, state = TCP_ESTABLISHED }) {
  const body = new Uint8Array(72);
  const v = new DataView(body.buffer);
  body[0] = AF_INET;
  body[1] = state;
  v.setUint16(4, localPort);
  v.setUint16(6, remotePort);
  body.set(v4(local), 8);
  body.set(v4(remote), 24);
  return nlmsg(SOCK_DIAG_BY_FAMILY, body);
}

const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const RTM_GETROUTE = 26;
const RTM_NEWRULE = 32;
const RTM_DELRULE = 33;
const NLM_F_REPLACE = 0x100;

/** RTM_NEWROUTE / RTM_DELROUTE of the main table's IPv4 default route via gateway on ifindex. */
function defaultRoute(type, gateway, ifindex, { replace = false } = {}) {
  const body = new Uint8Array(12 + 8 + 8);
  const v = new DataView(body.buffer);
  body[0] = AF_INET;
  body[4] = 254; // RT_TABLE_MAIN
  body[5] = 3; // RTPROT_BOOT
  body[7] = 1; // RTN_UNICAST
  v.setUint16(12, 8, true);
  v.setUint16(14, 5, true); // RTA_GATEWAY
  body.set(v4(gateway), 16);
  v.setUint16(20, 8, true);
  v.setUint16(22, 4, true); // RTA_OIF
  v.setUint32(24, ifindex, true);
  const m = nlmsg(type, body);
  if (replace) new DataView(m.buffer).setUint16(6, NLM_F_REPLACE, true);
  return m;
}

const done = () => nlmsg(NLMSG_DONE, new Uint8Array(4));

/**
 * The kernel of one simulated node: its addresses (the sim node's), its
 * sockets, and a packet counter per move id that `nft list` reports.
 */
class Kernel {
  constructor(node) {
    this.node = node;
    this.links = new Map(); // address -> ifindex (default IFINDEX)
    this.defaultVia = { gateway: "198.18.0.1", ifindex: IFINDEX };
    this.sockets = []; // { protocol: 6|17, local, localPort, remote, remotePort }
    this.packets = new Map(); // move id -> packets counted so far
    this.traffic = false; // while true, every listing counts 10 more packets per move
    this.listings = 0;
    this.dumps = 0;
    this.rulesAtDump = [];
    node.kernel = this;
  }
  netlink(protocol, bytes) {
    const type = new DataView(bytes.buffer, bytes.byteOffset).getUint16(4, true);
    if (protocol === NETLINK_ROUTE && type === RTM_GETADDR) {
      return concat([...[...this.node.addresses].map((a) => addressMessage(RTM_NEWADDR, a, this.links.get(a))), done()]);
    }
    if (protocol === NETLINK_ROUTE && type === RTM_GETROUTE) {
      return concat([defaultRoute(RTM_NEWROUTE, this.defaultVia.gateway, this.defaultVia.ifindex), done()]);
    }
    if (protocol === NETLINK_SOCK_DIAG) {
      this.dumps++;
      // What the kernel held when the dump was asked for (the hold must be there before it).
      this.rulesAtDump.push(this.node.lastRules());
      this.onDump?.();
      const proto = bytes[17];
      return concat([...this.sockets.filter((s) => s.protocol === proto).map(socketMessage), done()]);
    }
    return undefined;
  }
  /** An nft batch is written (test/_sim.js asks the kernel model first). */
  nft(text) {
    this.onNft?.(text);
  }
  /** The packets of an element of a wire-side map, for the table's dump (test/_sim.js). */
  /** A dump of one of the table's maps begins (the sweep dumps li4 first, then the others). */
  dumped(map) {
    if (map !== "li4") return;
    this.listings++;
    this.sweepCounted = new Set();
  }
  counted(comment) {
    // One count per move and sweep.
    const seen = this.sweepCounted ?? new Set();
    const id = /^hov1 (\d+) /.exec(comment)?.[1];
    if (id === undefined) return 0;
    // One count per move and listing, however many elements it has.
    if (!seen.has(id)) {
      seen.add(id);
      this.packets.set(id, (this.packets.get(id) ?? 0) + (this.traffic ? 10 : 0));
    }
    return this.packets.get(id) ?? 0;
  }
  /** The address goes, as the kernel tells its watchers. */
  remove(address) {
    this.node.addresses.delete(address);
    this.node.engine.netlinkEvent(this.node.clock(), addressMessage(RTM_DELADDR, address));
    this.node.pump();
  }
  add(address, ifindex = IFINDEX) {
    this.node.addresses.add(address);
    this.links.set(address, ifindex);
    this.node.engine.netlinkEvent(this.node.clock(), addressMessage(RTM_NEWADDR, address, ifindex));
    this.node.pump();
  }
  /** The address comes, and the host reads its notification between two kernel actions (no drain of its own). */
  addBetweenActions(address, ifindex = IFINDEX) {
    this.node.addresses.add(address);
    this.links.set(address, ifindex);
    this.node.engine.netlinkEvent(this.node.clock(), addressMessage(RTM_NEWADDR, address, ifindex));
  }
  /** `ip route replace default via gateway dev ifindex`, as the kernel reports it. */
  moveDefault(gateway, ifindex) {
    this.defaultVia = { gateway, ifindex };
    this.node.engine.netlinkEvent(this.node.clock(), defaultRoute(RTM_NEWROUTE, gateway, ifindex, { replace: true }));
    this.node.pump();
  }
}

/** m (with a kernel model, watch on) and f; m's TCP session 198.18.0.2:5001 <-> 198.18.9.1:443. */
function setup({ auto = true, session = true, follow = false } = {}) {
  const net = new SimNet();
  const m = net.node("m.example", ["198.18.0.2"]);
  const f = net.node("f.example", ["198.18.9.1"]);
  const mp = m.peer(f);
  f.peer(m);
  const kernel = new Kernel(m);
  if (!auto) m.engine.option("auto", 0);
  if (follow) m.engine.option("followDefaultRoute", 1);
  m.engine.kernelSetup(net.now);
  m.pump();
  if (session) kernel.sockets.push({ protocol: 6, local: "198.18.0.2", localPort: 5001, remote: "198.18.9.1", remotePort: 443 });
  return { net, m, f, mp, kernel };
}

/** The last ruleset the node wrote (not a listing). */
const rules = (node) => node.lastRules();

const migrations = (node, state) => node.eventsOf("migration").filter((e) => e.state === state);

test("watch: losing an address with a session, then a new one: the session migrates by itself (break-before-make, held)", () => {
  const { net, m, f, kernel } = setup();
  kernel.remove("198.18.0.2");
  net.run(100);
  assert.is(kernel.dumps, 2, "the watch asked sock_diag for the TCP and UDP sockets on the lost address");
  assert.is(m.eventsOf("sessions-held").length, 1, "the session on it is held");
  assert.match(rules(m), /ip saddr 198\.18\.0\.2 ip daddr 198\.18\.9\.1 tcp sport 5001 meta mark set/, "held (the session's own port): marked for the queue");
  assert.is(migrations(m, "started").length, 0, "nothing to move to yet");
  kernel.add("198.18.1.2");
  net.run(2000);
  const started = migrations(m, "started");
  assert.is(started.length, 1, "a migration started by itself");
  assert.is(started[0].from, "198.18.0.2");
  assert.is(started[0].to, "198.18.1.2");
  assert.is(started[0].hold, true);
  assert.is(migrations(m, "completed").length, 1);
  assert.equal(f.eventsOf("peer-migration").map((e) => e.state), ["unvalidated", "validated"]);
  assert.match(rules(m), /ip saddr 198\.18\.0\.2 ip daddr 198\.18\.9\.1 tcp sport 5001 ip saddr set 198\.18\.1\.2/);
  assert.not.match(rules(m), /ip saddr 198\.18\.0\.2 [^\n]*meta mark set/, "the hold ended");
});

test("watch: the lost address's packets are held before sock_diag is asked (a dump walks the whole socket hash)", () => {
  const { net, m, kernel } = setup();
  const before = rules(m);
  assert.not.match(before, /ip saddr 198\.18\.0\.2 [^\n]*meta mark set/, "nothing held before the loss");
  kernel.remove("198.18.0.2");
  net.run(100);
  assert.is(kernel.rulesAtDump.length, 2, "two dumps (TCP, UDP)");
  assert.match(kernel.rulesAtDump[0], /ip saddr 198\.18\.0\.2 [^\n]*meta mark set/, "every packet from the lost address is marked for the queue when the TCP dump is asked for");
});

test("watch: a replacement already there when the sessions are found: the migration starts at once", () => {
  const { net, m, kernel } = setup();
  kernel.add("198.18.1.2");
  kernel.remove("198.18.0.2");
  net.run(2000);
  const started = migrations(m, "started");
  assert.is(started.length, 1);
  assert.is(started[0].to, "198.18.1.2");
  assert.is(migrations(m, "completed").length, 1);
});

test("watch: the new address notified while the sessions are dumped: the migration starts with the dump's answer, in two batches", () => {
  const { net, m, kernel } = setup();
  // The host reads the notification before the next kernel action (daemon.ts drainLoop), here the UDP dump.
  kernel.onDump = () => {
    kernel.onDump = null;
    kernel.addBetweenActions("198.18.1.2");
  };
  const batches = m.nft.length;
  kernel.remove("198.18.0.2");
  const started = migrations(m, "started");
  assert.is(started.length, 1, "started within the same drain");
  assert.is(started[0].to, "198.18.1.2");
  assert.is(m.nft.length - batches, 2, "the lost address's hold, then the migration's batch with the sessions' hold (no batch between)");
  assert.match(m.nft[m.nft.length - 1], /held4/, "the migration's batch holds the session");
  net.run(2000);
  assert.is(migrations(m, "completed").length, 1);
});

test("watch: sessions already moved, and the next address notified while the dump runs: one migration, not two", () => {
  const { net, m, kernel } = setup();
  kernel.remove("198.18.0.2");
  kernel.add("198.18.1.2");
  net.run(2000);
  assert.is(migrations(m, "completed").length, 1, "the first move");
  // The socket still has its original address: the move it made is what the watch knows at the next loss.
  kernel.onDump = () => {
    kernel.onDump = null;
    kernel.addBetweenActions("198.18.2.2");
  };
  const started = migrations(m, "started").length;
  kernel.remove("198.18.1.2");
  net.run(2000);
  const now = migrations(m, "started").slice(started);
  assert.is(now.length, 1, `one migration for the second loss (${now.map((e) => `${e.id}:${e.from}->${e.to}`).join(" ")})`);
  assert.is(now[0].to, "198.18.2.2");
  assert.is(migrations(m, "completed").length, 2, "and it completes");
  assert.is(m.eventsOf("auto-migration-failed").length, 0);
});

test("watch: sessions already moved, and the next address read as the lost address's hold is written: the request leaves before the dumps", () => {
  for (const fresh of [false, true]) {
    const { net, m, kernel } = setup();
    kernel.remove("198.18.0.2");
    kernel.add("198.18.1.2");
    net.run(2000);
    assert.is(migrations(m, "completed").length, 1, "the first move");
    // fresh: a session opened from the wire address itself since, which only the dump can tell of.
    if (fresh) kernel.sockets.push({ protocol: 6, local: "198.18.1.2", localPort: 5002, remote: "198.18.9.1", remotePort: 443 });
    // The host reads the new address's notification before the hold's batch (daemon.ts drainLoop).
    kernel.onNft = (text) => {
      if (!/lost4 \{ 198\.18\.1\.2 \}/.test(text) || !/add element/.test(text)) return;
      kernel.onNft = null;
      kernel.addBetweenActions("198.18.2.2");
    };
    const requests = () => net.sent.filter((d) => d.from === "m.example").length;
    const sentAtDump = [];
    kernel.onDump = () => sentAtDump.push(requests());
    const before = requests();
    const started = migrations(m, "started").length;
    kernel.remove("198.18.1.2");
    assert.is(sentAtDump[0], before + 1, `${fresh}: the known moves' Migration Request went before the TCP dump`);
    net.run(2000);
    const now = migrations(m, "started").slice(started);
    assert.is(now.length, fresh ? 2 : 1, `${fresh}: ${now.map((e) => `${e.id}:${e.from}->${e.to}`).join(" ")}`);
    for (const e of now) assert.is(e.to, "198.18.2.2");
    assert.is(migrations(m, "completed").length, 1 + now.length, `${fresh}: every migration completes`);
    assert.is(m.eventsOf("auto-migration-failed").length, 0);
    if (fresh) assert.match(rules(m), /198\.18\.1\.2[^\n]*5002[^\n]*saddr set 198\.18\.2\.2|5002[^\n]*198\.18\.2\.2/, "the session the dump found moved too");
    assert.not.match(rules(m), /lost4|meta mark set/, `${fresh}: nothing held at the end`);
  }
});

test("watch: an address loss with no session of a peer on it, or with auto off, migrates nothing", () => {
  for (const [what, opts, sockets] of [
    ["no socket", {}, []],
    ["a socket to a stranger", {}, [{ protocol: 6, local: "198.18.0.2", localPort: 5001, remote: "198.18.44.4", remotePort: 443 }]],
    ["a socket on another address", {}, [{ protocol: 6, local: "198.18.0.3", localPort: 5001, remote: "198.18.9.1", remotePort: 443 }]],
    ["auto off", { auto: false }, null],
  ]) {
    const { net, m, kernel } = setup({ ...opts, session: sockets === null });
    if (sockets) kernel.sockets.push(...sockets);
    kernel.remove("198.18.0.2");
    kernel.add("198.18.1.2");
    net.run(2000);
    assert.is(migrations(m, "started").length, 0, `${what}: no migration`);
    assert.is(net.sent.filter((d) => d.from === "m.example").length, 0, `${what}: nothing sent`);
    assert.not.match(rules(m), /ip saddr 198\.18\.0\.2 [^\n]*(meta mark set|saddr set)/, `${what}: nothing held or rewritten`);
  }
});

/** m migrated its session to 198.18.1.2 (make-before-break: the old address stays). */
function moved(opts) {
  const s = setup(opts);
  s.m.addresses.add("198.18.1.2");
  s.m.engine.migrate(s.net.now, { peer: s.mp, from: "198.18.0.2", to: "198.18.1.2" });
  s.net.run(2000);
  assert.is(migrations(s.m, "completed").length, 1);
  return s;
}

const ended = (node) => node.eventsOf("session-ended");

test("sweep: a move whose rules keep counting packets, or whose TCP socket lives, is kept; it ends only after its idle time", () => {
  const { net, m, kernel } = moved();
  const idleMs = 60000;
  // Traffic: the counters grow at every sweep, and the socket is gone (a UDP-like silence never comes).
  kernel.sockets.length = 0;
  kernel.traffic = true;
  const before = kernel.listings;
  net.run(3 * idleMs);
  assert.ok(kernel.listings - before >= 30, `the sweep listed the table every few seconds (${kernel.listings - before})`);
  assert.is(ended(m).length, 0, "counting packets: kept");
  // Silence, but the TCP socket still exists (e.g. an idle connection).
  kernel.traffic = false;
  kernel.sockets.push({ protocol: 6, local: "198.18.0.2", localPort: 5001, remote: "198.18.9.1", remotePort: 443 });
  net.run(3 * idleMs);
  assert.is(ended(m).length, 0, "a live TCP socket: kept");
  assert.match(rules(m), /ip saddr set 198\.18\.1\.2/);
  // The socket goes: the move's last packet was counted long ago, so it ends at the next sweep... unless it
  // counts again. Traffic for a while, then silence and no socket: it ends, once, after the idle time, not before.
  kernel.sockets.length = 0;
  kernel.traffic = true;
  net.run(20000);
  assert.is(ended(m).length, 0, "counting again: kept");
  kernel.traffic = false;
  const quietFrom = net.now;
  net.run(idleMs - 6000);
  assert.is(ended(m).length, 0, "not before its idle time");
  net.run(20000);
  const e = ended(m);
  assert.is(e.length, 1, "ended once");
  assert.ok(e[0].t - quietFrom >= idleMs - 5000, `ended ${e[0].t - quietFrom} ms after the last packet`);
  assert.is(e[0].original, "198.18.0.2");
  assert.is(e[0].wire, "198.18.1.2");
  assert.not.match(rules(m), /ip saddr set 198\.18\.1\.2/, "its rules are gone");
  assert.is(m.engine.state(net.now).moves.length, 0);
});

test("restore: a restarted daemon takes over the moves its table lists, and the sweep then keeps them while they count", () => {
  const { net, m, f, kernel } = moved();
  const comment = m.table.elements("li4")[0]?.comment ?? "";
  // The daemon restarts: all state gone; the table is still in the kernel.
  const written = rules(m);
  m.engine.seed(new TextEncoder().encode("restart"));
  m.engine.init(m.cookie, net.now);
  m.peer(f);
  m.nft.length = 0;
  m.nft.push(written); // what the kernel holds
  m.engine.kernelSetup(net.now);
  m.pump();
  const restored = m.eventsOf("restored").at(-1);
  assert.is(restored.moves, 1, "one move taken over");
  assert.match(rules(m), /ip saddr 198\.18\.0\.2 ip daddr 198\.18\.9\.1 tcp sport 5001 ip saddr set 198\.18\.1\.2/, "and rendered again");
  assert.match(comment, /^hov1 1 L /, "the element names its move");
  kernel.traffic = true;
  kernel.sockets.length = 0;
  net.run(200000);
  assert.is(ended(m).length, 0, "counting: kept");
  kernel.traffic = false;
  net.run(70000);
  assert.is(ended(m).length, 1, "silent and no socket: ended");
});

/** The route and rule requests m sent after index `from`: [{ type, table, source, gateway, oif }]. */
function routeRequests(m, from) {
  const out = [];
  for (const b of m.netlink.slice(from)) {
    const v = new DataView(b.buffer, b.byteOffset, b.length);
    const type = v.getUint16(4, true);
    if (![RTM_NEWROUTE, RTM_DELROUTE, RTM_NEWRULE, RTM_DELRULE].includes(type)) continue;
    const r = { type };
    for (let a = 28; a + 4 <= b.length; ) {
      const len = v.getUint16(a, true);
      const t = v.getUint16(a + 2, true);
      if (len < 4) break;
      const value = b.slice(a + 4, a + len);
      const u32 = len >= 8 ? v.getUint32(a + 4, true) : 0;
      const isRule = type === RTM_NEWRULE || type === RTM_DELRULE;
      if (t === 15) r.table = u32;
      else if (isRule && t === 2) r.source = [...value].join(".");
      else if (isRule && t === 6) r.priority = u32;
      else if (isRule && t === 14) r.suppressPrefixLength = u32;
      else if (!isRule && t === 5) r.gateway = [...value].join(".");
      else if (!isRule && t === 4) r.oif = u32;
      a += (len + 3) & ~3;
    }
    if (r.table === undefined && type !== RTM_NEWRULE && type !== RTM_DELRULE) continue; // the guard's fallback route (main table)
    out.push(r);
  }
  return out;
}

test("the addresses on the default route's link have their path in advance; after the route moved, the old one keeps it until its sessions left it", () => {
  const start = setup();
  // At start: the route dump puts the default route on link 2, where 198.18.0.2 is.
  assert.equal(routeRequests(start.m, 0), [
    { type: RTM_NEWROUTE, table: 0x4802, gateway: "198.18.0.1", oif: 2 },
    { type: RTM_NEWRULE, source: "198.18.0.2", priority: 0x4800, table: 254, suppressPrefixLength: 0 },
    { type: RTM_NEWRULE, source: "198.18.0.2", priority: 0x4801, table: 0x4802 },
  ], "table 0x4802: default via the link's gateway; rules from its address: the main table's specific routes, then that table");
  const { net, m, mp, kernel } = start;
  const paths = () => m.eventsOf("source-route").map((e) => `${e.state} ${e.address}`);
  assert.equal(paths(), ["kept 198.18.0.2"]);
  kernel.add("198.18.1.2", 3);
  const mark = m.netlink.length;
  kernel.moveDefault("198.18.1.1", 3);
  assert.equal(routeRequests(m, mark), [
    { type: RTM_NEWROUTE, table: 0x4803, gateway: "198.18.1.1", oif: 3 },
    { type: RTM_NEWRULE, source: "198.18.1.2", priority: 0x4800, table: 254, suppressPrefixLength: 0 },
    { type: RTM_NEWRULE, source: "198.18.1.2", priority: 0x4801, table: 0x4803 },
  ], "the new default link's address gets its path; the old one keeps its own");
  assert.equal(paths(), ["kept 198.18.0.2", "kept 198.18.1.2"]);
  assert.is(migrations(m, "started").length, 0, "without followDefaultRoute nothing migrates by itself");
  // Asked late, the migration is still make-before-break (the old address works), and the old path then goes.
  net.run(500);
  const later = m.netlink.length;
  m.engine.migrate(net.now, { peer: mp, from: "198.18.0.2", to: "198.18.1.2" });
  net.run(2000);
  assert.is(migrations(m, "completed").length, 1);
  assert.is(migrations(m, "started")[0].hold, false);
  assert.equal(routeRequests(m, later), [
    { type: RTM_DELRULE, source: "198.18.0.2", priority: 0x4801, table: 0x4802 },
    { type: RTM_DELRULE, source: "198.18.0.2", priority: 0x4800, table: 254, suppressPrefixLength: 0 },
    { type: RTM_DELROUTE, table: 0x4802, gateway: "198.18.0.1", oif: 2 },
  ]);
  assert.equal(paths().slice(2), ["released 198.18.0.2"]);
});

test("a kept path goes with its address; a gateway change on the link puts it in again", () => {
  const { m, kernel } = setup({ session: false });
  const paths = () => m.eventsOf("source-route").map((e) => `${e.state} ${e.address}`);
  kernel.add("198.18.1.2", 3);
  kernel.moveDefault("198.18.1.1", 3);
  kernel.remove("198.18.0.2");
  assert.equal(paths(), ["kept 198.18.0.2", "kept 198.18.1.2", "released 198.18.0.2"]);
  const mark = m.netlink.length;
  kernel.moveDefault("198.18.1.254", 3);
  assert.equal(routeRequests(m, mark).map((r) => [r.type, r.gateway ?? r.source]), [
    [RTM_DELRULE, "198.18.1.2"], [RTM_DELRULE, "198.18.1.2"], [RTM_DELROUTE, "198.18.1.1"],
    [RTM_NEWROUTE, "198.18.1.254"], [RTM_NEWRULE, "198.18.1.2"], [RTM_NEWRULE, "198.18.1.2"],
  ]);
});

test("followDefaultRoute: the default route moves, and the sessions on the old address migrate by themselves, make-before-break", () => {
  const { net, m, f, kernel } = setup({ follow: true });
  kernel.add("198.18.1.2", 3);
  kernel.moveDefault("198.18.1.1", 3);
  net.run(2000);
  const started = migrations(m, "started");
  assert.is(started.length, 1, "one migration, with no command");
  assert.is(started[0].from, "198.18.0.2");
  assert.is(started[0].to, "198.18.1.2");
  assert.is(started[0].hold, false, "make-before-break: nothing held");
  assert.is(migrations(m, "completed").length, 1);
  assert.equal(f.eventsOf("peer-migration").map((e) => e.state), ["unvalidated", "validated"]);
  assert.equal(m.eventsOf("source-route").map((e) => `${e.state} ${e.address}`), ["kept 198.18.0.2", "kept 198.18.1.2", "released 198.18.0.2"],
    "the old path was kept until the sessions left");
  // No session of a peer on the old address: nothing to migrate.
  const quiet = setup({ follow: true, session: false });
  quiet.kernel.add("198.18.1.2", 3);
  quiet.kernel.moveDefault("198.18.1.1", 3);
  quiet.net.run(2000);
  assert.is(migrations(quiet.m, "started").length, 0);
});

test("truncated, oversized and random route and address notifications never trap and change nothing", () => {
  const { net, m, kernel } = setup();
  kernel.add("198.18.1.2", 3);
  const before = JSON.stringify(m.engine.state(net.now).moves) + m.eventsOf("source-route").length;
  const good = defaultRoute(RTM_NEWROUTE, "198.18.1.1", 3, { replace: true });
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < 3000; i++) {
    let b;
    if (i % 3 === 0) b = good.slice(0, Math.floor(rand() * good.length)); // truncated
    else if (i % 3 === 1) {
      b = good.slice();
      new DataView(b.buffer).setUint32(0, 16 + Math.floor(rand() * 4096), true); // length past the end
      if (rand() < 0.5) new DataView(b.buffer).setUint16(28 + 4 * Math.floor(rand() * 3), Math.floor(rand() * 65536), true);
    } else b = Uint8Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256));
    if (b.length >= 6 && i % 3 === 2) new DataView(b.buffer).setUint16(4, [20, 21, 24, 25][i % 4], true);
    m.engine.netlinkEvent(net.now, b);
    m.pump();
  }
  assert.is(JSON.stringify(m.engine.state(net.now).moves) + m.eventsOf("source-route").length, before);
  assert.is(migrations(m, "started").length, 0);
});

test.run();
