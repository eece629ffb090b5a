// The SID tunnel's kernel actions (docs/PROTOCOL.md 8.9) on a real kernel:
// the core builds every rtnetlink request (link, fdb, neighbour, route,
// rule), a child in each namespace sends them through the Node host's
// KernelIO, and `ip -d -j link`, `bridge -j fdb`, `ip -j neigh`, `ip -j
// route` and `ip -j rule` must show exactly what they show in a reference
// namespace where the spec's own `ip`/`bridge` command lines made the same
// objects (and the fields the spec names, one by one). Then a ping
// from the agent to the transferred address crosses the tunnel both ways
// (the target's reply goes back through it: its tunnel device counts the
// packets); a payload from the core's userspace encapsulation is accepted by
// the kernel's device from the agent and dropped by the core's tunnel filter
// from any other source; and the removal requests take everything away again.
// Namespaces hov-<tag>vx* are removed also on failure.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runtime, tagOf, e2eEnabled } from "./_e2e.js";
import { Core } from "../../dist/hosts/shared/core.js";
import { SidCodec } from "../../dist/hosts/shared/sid.js";
import { hex, unhex } from "../../dist/hosts/shared/bytes.js";

const CHILD = fileURLToPath(new URL("./_netlink_child.js", import.meta.url));
const NODE = runtime() === "node" ? process.execPath : "node";
const tag = `hov-${tagOf("vx")}`;
const NS = { a: `${tag}a`, t: `${tag}t`, ra: `${tag}ra`, rt: `${tag}rt` };
const AGENT = "198.18.30.1";
const TARGET = "198.18.30.2";
const X = "198.18.20.100";
const TABLE = 4346;
const PORT = 4789;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sh(...a) {
  const r = spawnSync(a[0], a.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${a.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}
const json = (ns, ...a) => JSON.parse(sh("ip", "netns", "exec", ns, ...a) || "[]");
function down() {
  for (const ns of Object.values(NS)) {
    for (const p of spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout?.split("\n").filter(Boolean) ?? []) spawnSync("kill", ["-9", p]);
    spawnSync("ip", ["netns", "del", ns]);
  }
}

function netlinker(ns) {
  const p = spawn("ip", ["netns", "exec", ns, NODE, CHILD], { stdio: ["pipe", "pipe", "pipe"] });
  const lines = [];
  let buf = "";
  let err = "";
  p.stdout.on("data", (d) => {
    buf += d;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      lines.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    }
  });
  p.stderr.on("data", (d) => (err += d));
  const next = async () => {
    for (const end = Date.now() + 5000; Date.now() < end; await sleep(2)) if (lines.length) return lines.shift();
    throw new Error(`${ns}: no answer from the netlink child: ${err}`);
  };
  return {
    ready: next,
    /** Sends one request; returns the kernel's errno (0: done). */
    async send(bytes) {
      p.stdin.write(hex(bytes) + "\n");
      return (await next()).errno;
    },
    kill: () => p.kill("SIGKILL"),
  };
}

if (e2eEnabled()) {
  test(`${runtime()}: the tunnel's link, fdb, neighbour, route and rule as the core builds them`, async () => {
    const core = await Core.load(readFileSync(new URL("../../build/handover.wasm", import.meta.url)));
    const sid = new SidCodec(core);
    const key = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    const ids = sid.tunnelIds(key);
    assert.match(ids.name, /^hov[0-9a-f]{6}$/);
    assert.is(parseInt(ids.name.slice(3), 16), ids.vni);
    const mtu = 1500 - 50;
    const macText = (m) => [...m].map((b) => b.toString(16).padStart(2, "0")).join(":");
    const kids = [];
    down();
    try {
      for (const ns of Object.values(NS)) {
        sh("ip", "netns", "add", ns);
        sh("ip", "-n", ns, "link", "set", "lo", "up");
      }
      sh("ip", "link", "add", "a-t", "netns", NS.a, "type", "veth", "peer", "name", "t-a", "netns", NS.t);
      sh("ip", "-n", NS.a, "addr", "add", `${AGENT}/24`, "dev", "a-t");
      sh("ip", "-n", NS.t, "addr", "add", `${TARGET}/24`, "dev", "t-a");
      sh("ip", "-n", NS.a, "link", "set", "a-t", "up");
      sh("ip", "-n", NS.t, "link", "set", "t-a", "up");
      sh("ip", "-n", NS.t, "addr", "add", `${X}/32`, "dev", "lo");
      const a = netlinker(NS.a);
      const t = netlinker(NS.t);
      kids.push(a, t);
      await a.ready();
      await t.ready();

      // The link, at both ends.
      for (const [k, ns, local, mac] of [[a, NS.a, AGENT, ids.agentMac], [t, NS.t, TARGET, ids.targetMac]]) {
        assert.is(await k.send(sid.vxlanLink({ add: true, name: ids.name, mac, mtu, vni: ids.vni, local, port: PORT })), 0, `RTM_NEWLINK in ${ns}`);
        const [l] = json(ns, "ip", "-d", "-j", "link", "show", "dev", ids.name);
        const d = l.linkinfo.info_data;
        assert.is(l.linkinfo.info_kind, "vxlan");
        assert.is(l.address, [...mac].map((b) => b.toString(16).padStart(2, "0")).join(":"));
        assert.is(l.mtu, mtu);
        assert.ok(l.flags.includes("UP"), `up: ${l.flags}`);
        assert.is(d.id, ids.vni);
        assert.is(d.local, local);
        assert.is(d.port, PORT);
        assert.is(d.learning, false);
        assert.is(d.ttl, 64);
        assert.is(d.tos, "0x1", "tos inherit (iproute2 prints 1 as 0x1 in JSON)");
        assert.is(d.df, "set");
        assert.is(d.udp_csum, true);
      }
      // The same objects made by the spec's command lines (8.9) in reference namespaces.
      const ip = (ns, ...x) => sh("ip", "-n", ns, ...x);
      for (const [ns, local, mac] of [[NS.ra, AGENT, ids.agentMac], [NS.rt, TARGET, ids.targetMac]]) {
        ip(ns, "link", "add", "r-x", "type", "veth", "peer", "name", "r-y");
        ip(ns, "addr", "add", `${local}/24`, "dev", "r-x");
        ip(ns, "link", "set", "r-x", "up");
        ip(ns, "link", "set", "r-y", "up");
        ip(ns, "link", "add", ids.name, "address", macText(mac), "mtu", String(mtu), "up", "type", "vxlan", "id", String(ids.vni), "local", local,
          "dstport", String(PORT), "nolearning", "ttl", "64", "tos", "inherit", "df", "set", "udpcsum");
      }
      ip(NS.rt, "addr", "add", `${X}/32`, "dev", "lo");
      sh("ip", "netns", "exec", NS.ra, "bridge", "fdb", "append", macText(ids.targetMac), "dev", ids.name, "dst", TARGET, "self", "permanent");
      ip(NS.ra, "neigh", "replace", X, "lladdr", macText(ids.targetMac), "dev", ids.name, "nud", "permanent");
      ip(NS.ra, "route", "replace", `${X}/32`, "dev", ids.name, "proto", "72");
      sh("ip", "netns", "exec", NS.rt, "bridge", "fdb", "append", macText(ids.agentMac), "dev", ids.name, "dst", AGENT, "self", "permanent");
      ip(NS.rt, "neigh", "replace", AGENT, "lladdr", macText(ids.agentMac), "dev", ids.name, "nud", "permanent");
      ip(NS.rt, "route", "replace", "default", "via", AGENT, "dev", ids.name, "onlink", "table", String(TABLE), "proto", "72");
      ip(NS.rt, "rule", "add", "from", X, "lookup", String(TABLE), "priority", "1000");
      const linkOf = (ns) => {
        const [l] = json(ns, "ip", "-d", "-j", "link", "show", "dev", ids.name);
        return { address: l.address, mtu: l.mtu, flags: l.flags, kind: l.linkinfo.info_kind, data: l.linkinfo.info_data };
      };
      assert.equal(linkOf(NS.a), linkOf(NS.ra), "the agent's link is the one `ip link add` makes");
      assert.equal(linkOf(NS.t), linkOf(NS.rt), "the target's link is the one `ip link add` makes");

      const ifA = json(NS.a, "ip", "-j", "link", "show", "dev", ids.name)[0].ifindex;
      const ifT = json(NS.t, "ip", "-j", "link", "show", "dev", ids.name)[0].ifindex;

      // Agent: fdb target MAC -> target, neighbour X -> target MAC, route X/32 into the tunnel.
      assert.is(await a.send(sid.fdbEntry(true, ifA, ids.targetMac, TARGET)), 0, "fdb in the agent");
      assert.is(await a.send(sid.neighEntry(true, ifA, X, ids.targetMac)), 0, "neigh in the agent");
      assert.is(await a.send(sid.tunnelRoute({ add: true, dst: X, prefix: 32, ifindex: ifA, table: 254 })), 0, "route in the agent");
      const fdb = json(NS.a, "bridge", "-j", "fdb", "show", "dev", ids.name).find((e) => e.mac === macText(ids.targetMac));
      assert.ok(fdb, "the fdb entry exists");
      assert.is(fdb.dst, TARGET);
      assert.ok(fdb.state === "permanent" || fdb.flags?.includes("permanent") || fdb.state === undefined, `fdb state ${JSON.stringify(fdb)}`);
      assert.ok(JSON.stringify(fdb).includes("self"), `fdb entry on the device itself: ${JSON.stringify(fdb)}`);
      const [n] = json(NS.a, "ip", "-j", "neigh", "show", "dev", ids.name);
      assert.equal([n.dst, n.lladdr, n.state], [X, macText(ids.targetMac), ["PERMANENT"]]);
      const [r] = json(NS.a, "ip", "-j", "route", "show", X);
      assert.equal([r.dst, r.dev, r.scope, r.protocol], [X, ids.name, "link", "72"].map(String).map((v, i) => (i === 3 ? r.protocol : v)));
      assert.ok(String(r.protocol) === "72" || r.protocol === 72, `proto 72: ${JSON.stringify(r)}`);
      // The device's routes in every table, without the local route of its IPv6 link-local address: the kernel adds
      // that one when duplicate address detection ends, at a time of its own (it raced this comparison in CI).
      const tunnelRoutes = (ns, dev) =>
        json(ns, "ip", "-j", "route", "show", "table", "all", "dev", dev).filter((r) => !(r.type === "local" && String(r.dst).startsWith("fe80:")));
      const fdbOf = (ns, mac) => json(ns, "bridge", "-j", "fdb", "show", "dev", ids.name).filter((e) => e.mac === macText(mac));
      assert.equal(fdbOf(NS.a, ids.targetMac), fdbOf(NS.ra, ids.targetMac), "fdb as `bridge fdb append ... self permanent`");
      assert.equal(json(NS.a, "ip", "-j", "neigh", "show", "dev", ids.name), json(NS.ra, "ip", "-j", "neigh", "show", "dev", ids.name), "neighbour as `ip neigh replace`");
      assert.equal(tunnelRoutes(NS.a, ids.name), tunnelRoutes(NS.ra, ids.name), "routes as `ip route replace`");

      // Target, reverse-tunnelled return: fdb agent MAC -> agent, neighbour agent -> agent MAC,
      // default via the agent onlink in table 4346, rule from X lookup 4346.
      assert.is(await t.send(sid.fdbEntry(true, ifT, ids.agentMac, AGENT)), 0, "fdb in the target");
      assert.is(await t.send(sid.neighEntry(true, ifT, AGENT, ids.agentMac)), 0, "neigh in the target");
      assert.is(await t.send(sid.tunnelRoute({ add: true, dst: "0.0.0.0", prefix: 0, ifindex: ifT, gateway: AGENT, table: TABLE })), 0, "route in the target");
      assert.is(await t.send(sid.sourceRule({ add: true, src: X, prefix: 32, table: TABLE, priority: 1000 })), 0, "rule in the target");
      const [tr] = json(NS.t, "ip", "-j", "route", "show", "table", String(TABLE));
      assert.is(tr.dst, "default");
      assert.is(tr.gateway, AGENT);
      assert.is(tr.dev, ids.name);
      assert.ok(tr.flags.includes("onlink"), `onlink: ${JSON.stringify(tr)}`);
      const rule = json(NS.t, "ip", "-j", "rule", "show").find((x) => x.priority === 1000);
      assert.equal([rule.src, String(rule.table)], [X, String(TABLE)]);
      assert.equal(fdbOf(NS.t, ids.agentMac), fdbOf(NS.rt, ids.agentMac), "the target's fdb entry");
      assert.equal(json(NS.t, "ip", "-j", "neigh", "show", "dev", ids.name), json(NS.rt, "ip", "-j", "neigh", "show", "dev", ids.name), "the target's neighbour entry");
      assert.equal(tunnelRoutes(NS.t, ids.name), tunnelRoutes(NS.rt, ids.name), "the target's routes");
      assert.equal(json(NS.t, "ip", "-j", "rule", "show"), json(NS.rt, "ip", "-j", "rule", "show"), "the target's rules as `ip rule add`");

      // Both ways through the tunnel: the reply from X leaves the target by its tunnel device.
      const before = json(NS.t, "ip", "-s", "-j", "link", "show", "dev", ids.name)[0].stats64.tx.packets;
      sh("ip", "netns", "exec", NS.a, "ping", "-c", "3", "-i", "0.2", "-W", "2", X);
      const after = json(NS.t, "ip", "-s", "-j", "link", "show", "dev", ids.name)[0].stats64.tx.packets;
      assert.ok(after - before >= 3, `the target's replies were reverse-tunnelled (${after - before} packets)`);
      const rxA = json(NS.a, "ip", "-s", "-j", "link", "show", "dev", ids.name)[0].stats64.rx.packets;
      assert.ok(rxA >= 3, `the agent decapsulated them (${rxA})`);

      // The core's userspace encapsulation is what the kernel's vxlan device reads,
      // and the core's filter admits the binding's packets from the agent only.
      const inner = unhex("45000054abcd40004001" + "0000" + "c6120a01" + X.split(".").map((n) => (+n).toString(16).padStart(2, "0")).join("") + "0800f7ff00000000");
      const payload = sid.encapsulate(ids.vni, ids.targetMac, ids.agentMac, inner);
      sh("ip", "-n", NS.a, "addr", "add", "198.18.30.9/24", "dev", "a-t");
      const sendFrom = (src) => sh("ip", "netns", "exec", NS.a, NODE, "-e",
        `const s=require("node:dgram").createSocket("udp4");s.bind(0,"${src}",()=>s.send(Buffer.from("${hex(payload)}","hex"),${PORT},"${TARGET}",()=>s.close()))`);
      const rxT = () => json(NS.t, "ip", "-s", "-j", "link", "show", "dev", ids.name)[0].stats64.rx.packets;
      const settle = () => sleep(150);
      // Two other bindings' filters beside this one's, and this one's batch twice (as after a restart): one hooked
      // chain for all three (PROTOCOL.md 8.9 step 5: a base chain per binding costs every input packet one chain
      // per binding), one rule in this binding's own chain.
      const nftT = (...a) => sh("ip", "netns", "exec", NS.t, "nft", ...a);
      const others = [ids.vni ^ 1, ids.vni ^ 2];
      for (const v of others) nftT(sid.tunnelFilter(true, "198.18.30.77", PORT, v));
      nftT(sid.tunnelFilter(true, AGENT, PORT, ids.vni));
      nftT(sid.tunnelFilter(true, AGENT, PORT, ids.vni));
      const own = `v${ids.vni.toString(16).padStart(6, "0")}`;
      const listed = () => JSON.parse(nftT("-j", "list", "table", "inet", "hovtunnel")).nftables;
      assert.is(listed().filter((o) => o.chain?.hook).length, 1, "one base chain for three bindings");
      assert.is(listed().filter((o) => o.rule?.chain === own).length, 1, "the same batch twice leaves one rule");
      let rx = rxT();
      sendFrom(AGENT);
      await settle();
      assert.is(rxT() - rx, 1, "a payload the core encapsulated, from the agent, is decapsulated by the kernel's vxlan device");
      rx = rxT();
      sendFrom("198.18.30.9");
      await settle();
      assert.is(rxT() - rx, 0, "the same payload from another source is dropped by the tunnel filter");
      assert.match(sh("ip", "netns", "exec", NS.t, "nft", "list", "table", "inet", "hovtunnel"), /counter packets 1 /, "and counted by it");
      sh("ip", "netns", "exec", NS.t, "nft", sid.tunnelFilter(false, AGENT, PORT, ids.vni));
      assert.ok(!listed().some((o) => o.chain?.name === own), "the binding's chain is gone");
      assert.is(listed().filter((o) => /^v/.test(o.chain?.name ?? "")).length, 2, "the other bindings' chains stay");
      rx = rxT();
      sendFrom("198.18.30.9");
      await settle();
      assert.is(rxT() - rx, 1, "without the filter the kernel would have accepted it (so the filter is what protects the target)");

      // The agent's reverse-path filter (reverse mode, 8.9 step 5): out of the tunnel only X may come. Y, another
      // address of the target routed into the tunnel, gets through to the agent's input without the filter, not with it.
      const Y = "198.18.20.101";
      ip(NS.t, "addr", "add", `${Y}/32`, "dev", "lo");
      ip(NS.t, "rule", "add", "from", Y, "lookup", String(TABLE), "priority", "1001");
      for (const k of ["all", "default", ids.name]) sh("ip", "netns", "exec", NS.a, "sysctl", "-qw", `net.ipv4.conf.${k}.rp_filter=0`);
      const nftA = (...a) => sh("ip", "netns", "exec", NS.a, "nft", ...a);
      nftA("add table inet hovtest\nadd chain inet hovtest in { type filter hook input priority 0; }\nadd rule inet hovtest in iif " + ifA + " icmp type echo-request counter\n");
      const seen = () => +(/counter packets (\d+)/.exec(nftA("list", "chain", "inet", "hovtest", "in"))?.[1] ?? NaN);
      const pingFrom = (src) => spawnSync("ip", ["netns", "exec", NS.t, "ping", "-c", "1", "-W", "1", "-I", src, AGENT]);
      nftA(sid.reversePathRule(true, ids.vni, ifA, X));
      nftA(sid.reversePathRule(true, ids.vni ^ 1, 0x40000000 + (ids.vni ^ 1), "198.18.20.77"));
      nftA(sid.reversePathRule(true, ids.vni, ifA, X));
      const hooked = JSON.parse(nftA("-j", "list", "table", "inet", "hovsid")).nftables.filter((o) => o.chain?.hook);
      assert.equal(hooked.map((o) => o.chain.name), ["rp"], "one base chain for both bindings");
      let n0 = seen();
      assert.is(pingFrom(X).status, 0, "X, the Transferred Address, comes out of the tunnel to the agent");
      assert.is(seen() - n0, 1);
      n0 = seen();
      pingFrom(Y);
      await settle();
      assert.is(seen() - n0, 0, "Y is dropped by the reverse-path filter");
      nftA(sid.reversePathRule(false, ids.vni, ifA, X));
      n0 = seen();
      pingFrom(Y);
      await settle();
      assert.is(seen() - n0, 1, "without it Y would have reached the agent (so the filter is what stops it)");
      assert.equal(JSON.parse(nftA("-j", "list", "table", "inet", "hovsid")).nftables.filter((o) => o.chain).map((o) => o.chain.name).sort(), ["rp", "rp" + (ids.vni ^ 1).toString(16).padStart(6, "0")]);
      nftA("delete table inet hovtest");
      ip(NS.t, "rule", "del", "from", Y, "lookup", String(TABLE), "priority", "1001");
      ip(NS.t, "addr", "del", `${Y}/32`, "dev", "lo");

      // Removal, in reverse order; deleting the link removes what hangs on it.
      assert.is(await t.send(sid.sourceRule({ add: false, src: X, prefix: 32, table: TABLE, priority: 1000 })), 0, "rule removed");
      assert.is(await t.send(sid.tunnelRoute({ add: false, dst: "0.0.0.0", prefix: 0, ifindex: ifT, gateway: AGENT, table: TABLE })), 0, "route removed");
      assert.is(await a.send(sid.tunnelRoute({ add: false, dst: X, prefix: 32, ifindex: ifA, table: 254 })), 0);
      assert.is(await a.send(sid.neighEntry(false, ifA, X, ids.targetMac)), 0);
      assert.is(await a.send(sid.fdbEntry(false, ifA, ids.targetMac, TARGET)), 0);
      assert.is(await a.send(sid.vxlanLink({ add: false, name: ids.name, mac: ids.agentMac, mtu, vni: ids.vni, local: AGENT, port: PORT })), 0);
      assert.is(await t.send(sid.vxlanLink({ add: false, name: ids.name, mac: ids.targetMac, mtu, vni: ids.vni, local: TARGET, port: PORT })), 0);
      assert.is(json(NS.t, "ip", "-j", "rule", "show").filter((x) => x.priority === 1000).length, 0);
      assert.is(spawnSync("ip", ["-n", NS.a, "link", "show", "dev", ids.name]).status !== 0, true, "the agent's link is gone");
      assert.is(await a.send(sid.vxlanLink({ add: false, name: ids.name, mac: ids.agentMac, mtu, vni: ids.vni, local: AGENT, port: PORT })), 19, "deleting it again: ENODEV");
    } finally {
      for (const k of kids) k.kill();
      down();
    }
  });
}

test.run();
