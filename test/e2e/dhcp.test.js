// The DHCPv4 session-address generator against a real dnsmasq (Debian's) in
// namespaces this test makes: a server namespace with a bridge on
// 198.18.50.1/24 and dnsmasq (lease file in a temp dir, 2-minute leases,
// dnsmasq's minimum, with T1 4 s and T2 8 s), a node and a target on the
// bridge. The node acquires two session addresses with distinct client
// identifiers (two leases for one MAC), both renew at T1, one is released;
// the other's lease moves to the target (the record of PROTOCOL.md 8.19),
// which renews it with the same client identifier from its own MAC and
// releases it as the last holder. Then the defined ends: a NAK (a new server
// that does not know the lease) and a lease running out with the server gone.
// Then demo/sidaddr with DHCP (namespaces hov-<tag>-*): the session address
// moved through the agent, on the same subnet, on to U (permitted) and, after
// a refused unpermitted further transfer (140), back to N; a target vanishing
// with the lease (left to expire at dnsmasq); a lease ended by a NAK while its
// session is at N. Each time the last holder releases it, and the base
// address's sessions lose nothing.
// Namespaces hov-<tag>dh* and dnsmasq are removed in finally (stale ones at start).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { runtime, tagOf, e2eEnabled } from "./_e2e.js";
import { runSidAddr, sidAddrOk } from "../../dist/demo/sidaddr.js";

const CHILD = fileURLToPath(new URL("./_dhcp_child.js", import.meta.url));
const DAEMON_CHILD = fileURLToPath(new URL("./_dhcp_daemon_child.js", import.meta.url));
const NODE = runtime() === "node" ? process.execPath : "node";
const tag = `hov-${tagOf("dh")}`;
const NS = { s: `${tag}s`, n: `${tag}n`, t: `${tag}t` };
const MAC = { n: "02:00:00:00:50:02", t: "02:00:00:00:50:03" };
const SERVER = "198.18.50.1";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sh(...a) {
  const r = spawnSync(a[0], a.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${a.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}
function down() {
  for (const ns of Object.values(NS)) {
    for (const p of spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout?.split("\n").filter(Boolean) ?? []) spawnSync("kill", ["-9", p]);
    spawnSync("ip", ["netns", "del", ns]);
  }
}
function up() {
  for (const ns of Object.values(NS)) {
    sh("ip", "netns", "add", ns);
    sh("ip", "-n", ns, "link", "set", "lo", "up");
  }
  sh("ip", "-n", NS.s, "link", "add", "br0", "type", "bridge");
  sh("ip", "-n", NS.s, "addr", "add", `${SERVER}/24`, "dev", "br0");
  sh("ip", "-n", NS.s, "link", "set", "br0", "up");
  for (const [k, base] of [["n", "198.18.50.2"], ["t", "198.18.50.3"]]) {
    sh("ip", "link", "add", `s-${k}`, "netns", NS.s, "type", "veth", "peer", "name", `${k}-s`, "netns", NS[k], "address", MAC[k]);
    sh("ip", "-n", NS.s, "link", "set", `s-${k}`, "master", "br0", "up");
    sh("ip", "-n", NS[k], "addr", "add", `${base}/24`, "dev", `${k}-s`);
    sh("ip", "-n", NS[k], "link", "set", `${k}-s`, "up");
  }
}

/** dnsmasq in the server namespace, in the foreground (killed by the test). */
function dnsmasq(dir, range) {
  const p = spawn("ip", ["netns", "exec", NS.s, "dnsmasq", "--keep-in-foreground", "--port=0", "--interface=br0", "--bind-interfaces",
    `--dhcp-range=${range},255.255.255.0,2m`, "--dhcp-option=option:T1,4", "--dhcp-option=option:T2,8", "--dhcp-authoritative",
    `--dhcp-leasefile=${join(dir, "leases")}`, "--log-dhcp", `--log-facility=${join(dir, "log")}`, "--conf-file=/dev/null"], { stdio: "ignore" });
  return p;
}
/** The lease file: address -> { mac, clientId }. */
function leases(dir) {
  const f = join(dir, "leases");
  if (!existsSync(f)) return {};
  const out = {};
  for (const l of readFileSync(f, "utf8").split("\n").filter(Boolean)) {
    const [, mac, address, , clientId] = l.split(" ");
    out[address] = { mac, clientId: clientId.replaceAll(":", "") };
  }
  return out;
}

/** The host's DHCP client in a namespace: commands in, events out. */
function child(ns, ifname, script = CHILD, ...args) {
  const p = spawn("ip", ["netns", "exec", ns, NODE, script, ifname, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  const events = [];
  const waiters = [];
  createInterface({ input: p.stdout }).on("line", (line) => {
    const e = JSON.parse(line);
    events.push(e);
    for (const w of [...waiters]) if (w.pred(e)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(e); }
  });
  return {
    p, events,
    send(o) { p.stdin.write(JSON.stringify(o) + "\n"); },
    wait(pred, ms, what) {
      const hit = events.find(pred);
      if (hit) { events.splice(events.indexOf(hit), 1); return Promise.resolve(hit); }
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: (e) => { clearTimeout(t); events.splice(events.indexOf(e), 1); resolve(e); } };
        const t = setTimeout(() => { waiters.splice(waiters.indexOf(w), 1); reject(new Error(`timed out waiting for ${what}; events ${JSON.stringify(events)}`)); }, ms);
        waiters.push(w);
      });
    },
  };
}
const addrs = (ns, dev) => JSON.parse(sh("ip", "-n", ns, "-j", "addr", "show", "dev", dev))[0].addr_info.filter((a) => a.family === "inet").map((a) => a.local);

if (e2eEnabled() && runtime() === "node") {
  test(`${runtime()}: two leases with two client ids, renewed at T1, one released, one moved to the target, renewed there and released by it`, async () => {
    down();
    const dir = mkdtempSync(join(tmpdir(), "hov-dhcp-"));
    const kids = [];
    try {
      up();
      kids.push(dnsmasq(dir, "198.18.50.100,198.18.50.150"));
      await sleep(300);
      const n = child(NS.n, "n-s"); kids.push(n.p);
      const t = child(NS.t, "t-s"); kids.push(t.p);
      await n.wait((e) => e.ev === "ready", 10000, "node ready");
      await t.wait((e) => e.ev === "ready", 10000, "target ready");

      n.send({ cmd: "acquire" });
      n.send({ cmd: "acquire" });
      const a = await n.wait((e) => e.ev === "bound" && e.slot === 0, 20000, "first lease");
      const b = await n.wait((e) => e.ev === "bound" && e.slot === 1, 20000, "second lease");
      assert.is.not(a.address, b.address);
      assert.is.not(a.clientId, b.clientId);
      assert.equal([a.server, a.lease, a.t1, a.t2, a.mask], [SERVER, 120, 4, 8, "255.255.255.0"]);
      let L = leases(dir);
      assert.equal(L[a.address], { mac: MAC.n, clientId: a.clientId }, "dnsmasq holds the first lease under its client id");
      assert.equal(L[b.address], { mac: MAC.n, clientId: b.clientId }, "and the second, for the same MAC");
      assert.ok(addrs(NS.n, "n-s").includes("198.18.50.2"), "the base address stays");
      assert.ok(addrs(NS.n, "n-s").includes(a.address) && addrs(NS.n, "n-s").includes(b.address), "both session addresses aliased");

      // renewal at T1 (4 s): unicast from each leased address
      await n.wait((e) => e.ev === "renewed" && e.slot === 0, 15000, "renewal of the first");
      await n.wait((e) => e.ev === "renewed" && e.slot === 1, 15000, "renewal of the second");
      const log = readFileSync(join(dir, "log"), "utf8");
      assert.ok(log.includes(`DHCPREQUEST(br0) ${a.address} ${MAC.n}`), "dnsmasq saw the renewal");

      // release of the first: gone from the lease file, alias removed; the second stays
      n.send({ cmd: "release", slot: 0 });
      await n.wait((e) => e.ev === "released" && e.slot === 0, 5000, "release");
      await sleep(500);
      L = leases(dir);
      assert.is(L[a.address], undefined, "released lease gone from dnsmasq");
      assert.ok(L[b.address], "the other lease stays");
      assert.not.ok(addrs(NS.n, "n-s").includes(a.address));

      // the second lease moves to the target with the transfer
      n.send({ cmd: "handoff", slot: 1 });
      const { record } = await n.wait((e) => e.ev === "record", 5000, "lease record");
      t.send({ cmd: "adopt", record });
      const ad = await t.wait((e) => e.ev === "adopted", 5000, "adoption");
      assert.equal([ad.address, ad.clientId], [b.address, b.clientId]);
      const r = await t.wait((e) => e.ev === "renewed", 15000, "renewal by the target");
      assert.is(r.address, b.address);
      L = leases(dir);
      assert.equal(L[b.address], { mac: MAC.t, clientId: b.clientId }, "same client id, now the target's MAC");
      await sleep(6000);
      assert.not.ok(n.events.some((e) => e.ev === "renewed" && e.slot === 1 && e.address === b.address), "the node no longer renews it");
      t.send({ cmd: "release", slot: ad.slot });
      await t.wait((e) => e.ev === "released", 5000, "release by the target");
      await sleep(500);
      assert.is(leases(dir)[b.address], undefined, "the last holder released it");
      assert.not.ok(n.events.some((e) => e.ev === "error" || e.ev === "lost"), JSON.stringify(n.events));
      assert.not.ok(t.events.some((e) => e.ev === "error" || e.ev === "lost"), JSON.stringify(t.events));
      n.send({ cmd: "quit" }); t.send({ cmd: "quit" });
    } finally {
      for (const k of kids) k.kill("SIGKILL");
      down();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`${runtime()}: defined ends: a NAK from a server that does not know the lease, a lease running out with the server gone`, async () => {
    down();
    const dir = mkdtempSync(join(tmpdir(), "hov-dhcp-"));
    const kids = [];
    try {
      up();
      let d = dnsmasq(dir, "198.18.50.100,198.18.50.150");
      kids.push(d);
      await sleep(300);
      const n = child(NS.n, "n-s"); kids.push(n.p);
      await n.wait((e) => e.ev === "ready", 10000, "node ready");
      n.send({ cmd: "acquire" });
      const a = await n.wait((e) => e.ev === "bound", 20000, "lease");

      // a new server (other range, empty lease file, authoritative) NAKs the renewal: lost at once
      d.kill("SIGKILL");
      rmSync(join(dir, "leases"), { force: true });
      await sleep(200);
      d = dnsmasq(dir, "198.18.50.160,198.18.50.170");
      kids.push(d);
      const nak = await n.wait((e) => e.ev === "lost", 20000, "NAK");
      assert.equal([nak.reason, nak.address], ["nak", a.address]);
      assert.not.ok(addrs(NS.n, "n-s").includes(a.address), "the NAKed address is removed");

      // a lease from it, then the server goes: RENEWING, REBINDING, and at 120 s the lease is lost
      n.send({ cmd: "acquire" });
      const b = await n.wait((e) => e.ev === "bound", 20000, "second lease");
      const boundAt = Date.now();
      assert.ok(b.address.startsWith("198.18.50.16") || b.address === "198.18.50.170");
      d.kill("SIGKILL");
      await sleep(10000);
      n.send({ cmd: "info", slot: b.slot });
      const i = await n.wait((e) => e.ev === "info", 5000, "state");
      assert.is(i.state, "rebinding", "past T2 with no server");
      const lost = await n.wait((e) => e.ev === "lost", 130000, "expiry");
      assert.equal([lost.reason, lost.address], ["expired", b.address]);
      assert.ok(Date.now() - boundAt >= 115000, `lost after ${Date.now() - boundAt} ms, not before the lease's 120 s`);
      assert.ok(addrs(NS.n, "n-s").includes("198.18.50.2"), "the base address stays");
      assert.not.ok(addrs(NS.n, "n-s").includes(b.address), "the expired address is removed");
      n.send({ cmd: "quit" });
    } finally {
      for (const k of kids) k.kill("SIGKILL");
      down();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test(`${runtime()}: a handover daemon with sid.dhcp: sessionAddress("dhcp4") from dnsmasq, aliased beside the base address, renewed by the engine's timer, released`, async () => {
    down();
    const dir = mkdtempSync(join(tmpdir(), "hov-dhcp-"));
    const kids = [];
    try {
      up();
      kids.push(dnsmasq(dir, "198.18.50.100,198.18.50.150"));
      await sleep(300);
      const n = child(NS.n, "n-s", DAEMON_CHILD, "198.18.50.2"); kids.push(n.p);
      const a = await n.wait((e) => e.ev === "acquired", 30000, "the session address");
      assert.is(a.generator, "dhcp4");
      assert.ok(/^198\.18\.50\.(1[0-4][0-9]|150)$/.test(a.address), a.address);
      const L = leases(dir);
      assert.is(L[a.address]?.mac, MAC.n, "dnsmasq leased it to the node");
      assert.is(L[a.address].clientId.slice(0, 2), "ff", "under the generator's RFC 4361 client id");
      const on = addrs(NS.n, "n-s");
      assert.ok(on.includes("198.18.50.2") && on.includes(a.address), `base and session address on the link: ${on}`);
      const first = (await n.wait((e) => e.ev === "session-address" && e.state === "ready", 5000, "ready event")).expires;
      const renewed = await n.wait((e) => e.ev === "session-address" && e.state === "ready" && e.expires > first, 15000, "a renewal (T1 4 s)");
      assert.ok(renewed.expires - first >= 3000, `expiry moved by ${renewed.expires - first} ms`);
      n.send({ cmd: "release" });
      await n.wait((e) => e.ev === "session-address" && e.state === "released", 5000, "released");
      await sleep(700);
      assert.is(leases(dir)[a.address], undefined, "the RELEASE reached dnsmasq");
      assert.not.ok(addrs(NS.n, "n-s").includes(a.address), "alias removed");
      assert.ok(addrs(NS.n, "n-s").includes("198.18.50.2"), "the base address stays");
      n.send({ cmd: "quit" });
    } finally {
      for (const k of kids) k.kill("SIGKILL");
      down();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test(`${runtime()}: a session on a DHCP session address moves alone through the agent: the target renews the lease with the node's client id and releases it; every session intact`, async () => {
    const tag = tagOf("dx");
    const r = await runSidAddr({ tag, dhcp: true, afterMs: 6000 });
    const why = JSON.stringify({ error: r.error, dhcp: r.dhcp, sessions: r.sessions.map((x) => [x.name, x.digestsEqual, x.lost, x.resets]), released: r.released });
    assert.is(r.error, null, why);
    assert.ok(r.dhcp.leasedToNode, `dnsmasq leased it to the node: ${why}`);
    assert.ok(r.dhcp.clientId.startsWith("ff"), "under the generator's client id");
    assert.ok(r.dhcp.renewedByTarget, `the target renewed it with the same client id: ${why}`);
    assert.ok(r.dhcp.releasedAtServer, `the last holder released it: ${why}`);
    assert.equal(r.sessions.map((x) => [x.name, x.moved]), [["s1", true], ["s2", false], ["s3", false], ["u1", false], ["u2", false]]);
    assert.ok(sidAddrOk(r), why);
  });
  const brief = (r) => JSON.stringify({ error: r.error, dhcp: r.dhcp, moves: r.moves, sessions: r.sessions.map((x) => [x.name, x.digestsEqual, x.lost, x.resets]), released: r.released });
  test(`${runtime()}: a DHCP session address on the same subnet (FIG. 2b): T claims it by ARP, renews it under N's client id and, as the last holder, releases it before it gives the address back`, async () => {
    const r = await runSidAddr({ tag: tagOf("dq"), dhcp: true, sameSubnet: true, afterMs: 4000 });
    const why = brief(r);
    assert.is(r.error, null, why);
    assert.ok(r.dhcp.renewedByTarget, `T renewed it: ${why}`);
    assert.ok(r.dhcp.releasedAtServer, `T's RELEASE reached dnsmasq before the address left T: ${why}`);
    assert.ok(sidAddrOk(r), why);
  });
  test(`${runtime()}: a DHCP session address: T's further transfer to U that N did not permit is refused (140, s1 stays at T), then T gives it back to N (a return): N renews the lease again under its client id and, as the last holder, releases it; every session intact`, async () => {
    const r = await runSidAddr({ tag: tagOf("dr"), dhcp: true, chain: "refused", back: true });
    const why = brief(r);
    assert.is(r.error, null, why);
    assert.equal(r.moves.further, { state: "failed", code: 140 }, why);
    assert.equal(r.moves.back, { state: "transferred" }, why);
    assert.is(r.moves.lastHolder, "N");
    assert.ok(r.moves.shares.T.received > 10000 && r.moves.shares.Nback.received > 10000, `s1 served by T, then by N again: ${why}`);
    assert.ok(r.dhcp.renewedByTarget && r.dhcp.renewedByLast, `renewed by T, then by N under the same client id: ${why}`);
    assert.ok(r.dhcp.releasedAtServer, `N released it at the end: ${why}`);
    assert.ok(sidAddrOk(r), why);
  });
  test(`${runtime()}: a DHCP session address moves on to U (a further transfer N permitted): U renews it under N's client id and, as the last holder, releases it; N is woken and forgets it; every session intact`, async () => {
    const r = await runSidAddr({ tag: tagOf("du"), dhcp: true, chain: "permitted" });
    const why = brief(r);
    assert.is(r.error, null, why);
    assert.equal(r.moves.further, { state: "transferred" }, why);
    assert.is(r.moves.lastHolder, "U");
    assert.ok(r.moves.shares.T.received > 10000 && r.moves.shares.U.received > 10000, `s1 served by T, then by U: ${why}`);
    assert.ok(r.dhcp.renewedByLast, `U renewed it under N's client id: ${why}`);
    assert.ok(r.dhcp.releasedAtServer, `U released it: ${why}`);
    assert.ok(sidAddrOk(r), why);
  });
  test(`${runtime()}: the target vanishes holding a DHCP session address: the binding expires, N is woken and ends its lease without a RELEASE; the lease is left to expire at dnsmasq, nobody renewing it; the other sessions lose nothing`, async () => {
    const r = await runSidAddr({ tag: tagOf("dv"), dhcp: true, vanish: true });
    const why = brief(r);
    assert.is(r.error, null, why);
    assert.ok(r.released.leaseReleased && r.released.aliasGone && r.released.agentBindingGone, why);
    assert.equal(r.dhcp.vanished && { ...r.dhcp.vanished, serverExpiresInS: 0 }, { leasedAtVanish: true, leasedAtEnd: true, renewedSince: false, serverExpiresInS: 0 }, why);
    assert.ok(r.dhcp.vanished.serverExpiresInS > 60, `the lease runs out at the server later: ${why}`);
    assert.ok(sidAddrOk(r, true), why);
  });
  test(`${runtime()}: a DHCP session address's lease ends while its session is at N (a new server NAKs the renewal at T1): expired, the alias goes; the base address's sessions (s2, s3 opened after, u1, u2) lose nothing`, async () => {
    const tag = tagOf("dl");
    const r = await runSidAddr({ tag, dhcp: true, leaseLost: true });
    const why = JSON.stringify({ error: r.error, lost: r.lost, sessions: r.sessions.map((x) => [x.name, x.digestsEqual, x.lost, x.resets, x.receivedBytes]) });
    assert.is(r.error, null, why);
    assert.is(r.lost.state, "expired", why);
    assert.ok(r.lost.aliasGone, `the alias left N's link: ${why}`);
    assert.ok(r.lost.afterMs < 10000, `ended at the first renewal (T1 4 s): ${why}`);
    assert.ok(r.baseStayed, "the base address stayed");
    assert.equal(r.sessions.map((x) => x.name), ["s1", "s2", "s3", "u1", "u2"]);
    for (const x of r.sessions.slice(1)) {
      assert.ok(x.digestsEqual, `${x.name}: SHA-256 differ: ${why}`);
      assert.is(x.lost, 0, `${x.name}: lost`);
      assert.is(x.resets, 0, `${x.name}: resets`);
      assert.ok(x.receivedBytes > 20000, `${x.name}: ${x.receivedBytes} bytes`);
    }
    const left = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
    assert.not.match(left, new RegExp(`hov-${tag}-`), "the namespaces are gone");
  });
}

test.run();
