// The TCP_REPAIR spike (docs/PROTOCOL.md 8.12): a live TCP connection moves
// to another namespace with its bytes intact. Four namespaces:
//
//   C (correspondent, plain node:net) -- R (router) -- N (transferring node, holds X)
//                                          `---------- T (target)
//
// N streams with C both ways; then N stops the flow (nft drop), dumps the
// socket with TCP_REPAIR into the core's TCP state record (with 64 KiB sent,
// received by C but unacknowledged, 8 KiB never sent, and unread bytes in its
// receive queue), closes it in
// repair mode; X moves to T, which decodes the record, restores the socket,
// R routes X to T, and T resumes. C must see no reset and both streams must
// be exact at every offset. Once over IPv4, once over IPv6. Namespaces
// hov-<tag>* are removed also on failure.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { runtime, tagOf, e2eEnabled } from "./_e2e.js";

const CHILD = fileURLToPath(new URL("./_tcprepair_child.js", import.meta.url));
const NODE = runtime() === "node" ? process.execPath : "node";
const FAMILIES = {
  ipv4: { X: "198.18.20.100", C: "198.18.10.1", R: "198.18.10.2", N: "198.18.20.2", RN: "198.18.20.1", T: "198.18.30.2", RT: "198.18.30.1", len: 24, host: 32, ip: "ip" },
  ipv6: { X: "2001:db8:20::100", C: "2001:db8:10::1", R: "2001:db8:10::2", N: "2001:db8:20::2", RN: "2001:db8:20::1", T: "2001:db8:30::2", RT: "2001:db8:30::1", len: 64, host: 128, ip: "ip6" },
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tag = `hov-${tagOf("rp")}`;
const NS = { c: `${tag}c`, r: `${tag}r`, n: `${tag}n`, t: `${tag}t` };
let F = FAMILIES.ipv4;

function sh(...a) {
  const r = spawnSync(a[0], a.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${a.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}
const ip = (ns, ...a) => sh("ip", "-n", ns, ...a);
const nft = (ns, text) => sh("ip", "netns", "exec", ns, "nft", text);

function down() {
  for (const ns of Object.values(NS)) {
    const pids = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout?.split("\n").filter(Boolean) ?? [];
    for (const p of pids) spawnSync("kill", ["-9", p]);
    spawnSync("ip", ["netns", "del", ns]);
  }
}

function up() {
  down();
  for (const ns of Object.values(NS)) {
    sh("ip", "netns", "add", ns);
    sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0");
    ip(ns, "link", "set", "lo", "up");
  }
  sh("ip", "netns", "exec", NS.r, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1");
  const link = (a, an, b, bn, aAddr, bAddr) => {
    sh("ip", "link", "add", an, "netns", a, "type", "veth", "peer", "name", bn, "netns", b);
    ip(a, "addr", "add", `${aAddr}/${F.len}`, "dev", an, "nodad");
    ip(b, "addr", "add", `${bAddr}/${F.len}`, "dev", bn, "nodad");
    ip(a, "link", "set", an, "up");
    ip(b, "link", "set", bn, "up");
  };
  link(NS.c, "c-r", NS.r, "r-c", F.C, F.R);
  link(NS.n, "n-r", NS.r, "r-n", F.N, F.RN);
  link(NS.t, "t-r", NS.r, "r-t", F.T, F.RT);
  ip(NS.c, "route", "add", "default", "via", F.R);
  ip(NS.n, "route", "add", "default", "via", F.RN);
  ip(NS.t, "route", "add", "default", "via", F.RT);
  ip(NS.n, "addr", "add", `${F.X}/${F.host}`, "dev", "lo", "nodad");
  ip(NS.r, "route", "add", `${F.X}/${F.host}`, "via", F.N);
}

/** A child in a namespace: JSON lines out, commands in. */
function child(ns, role) {
  const p = spawn("ip", ["netns", "exec", ns, NODE, CHILD, role, F.X, F.C], { stdio: ["pipe", "pipe", "pipe"] });
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
  return {
    send: (line) => p.stdin.write(line + "\n"),
    async wait(key, ms = 5000) {
      for (const end = Date.now() + ms; Date.now() < end; await sleep(5)) {
        const hit = lines.find((l) => l[key] !== undefined);
        if (hit) return hit;
      }
      throw new Error(`${role}: no '${key}' within ${ms} ms; got ${JSON.stringify(lines).slice(0, 500)} ${err}`);
    },
    kill: () => p.kill("SIGKILL"),
  };
}

// The stop rule of PROTOCOL.md 8.12, in two halves.
const STOP_IN = () =>
  "add table inet hovrepair\nadd chain inet hovrepair in { type filter hook input priority -300; }\n" +
  `add rule inet hovrepair in ${F.ip} saddr ${F.C} tcp sport 5001 drop\n`;
const STOP_OUT = () =>
  "add chain inet hovrepair out { type filter hook output priority -300; }\n" +
  `add rule inet hovrepair out ${F.ip} daddr ${F.C} tcp dport 5001 drop\n`;

if (e2eEnabled()) for (const family of Object.keys(FAMILIES)) {
  test(`${runtime()}: a live TCP connection (${family}) moves to another namespace with TCP_REPAIR, bytes intact, no reset`, async () => {
    F = FAMILIES[family];
    const kids = [];
    up();
    try {
      const c = child(NS.c, "correspondent");
      kids.push(c);
      await c.wait("listening");
      const n = child(NS.n, "node");
      kids.push(n);
      await n.wait("connected");
      await sleep(500);
      n.send("quiesce");
      const quiet = await n.wait("quiet");
      // First only inbound: 64 KiB leave and reach C, but C's acknowledgements
      // (and its data) are dropped; then outbound too: 8 KiB more are never sent.
      nft(NS.n, STOP_IN());
      n.send("write 65536");
      await n.wait("written");
      await sleep(50);
      nft(NS.n, STOP_OUT());
      n.send("write 8192");
      await sleep(20);
      n.send("dump");
      const dump = await n.wait("record");
      assert.ok(dump.sendQueue >= 65536 + 8192, `the record carries the unacknowledged bytes (${dump.sendQueue})`);
      assert.ok(dump.unsent >= 8192 && dump.unsent < dump.sendQueue, `some of them sent, the last never (${dump.unsent} of ${dump.sendQueue} unsent)`);
      assert.ok(dump.receiveQueue > 0, `the record carries unread received bytes (${dump.receiveQueue})`);
      assert.ok(dump.mss > 0 && dump.sack && dump.timestamps && dump.windowScaling, `options negotiated: ${JSON.stringify(dump)}`.slice(0, 300));

      ip(NS.n, "addr", "del", `${F.X}/${F.host}`, "dev", "lo");
      ip(NS.t, "addr", "add", `${F.X}/${F.host}`, "dev", "lo", "nodad");
      nft(NS.t, STOP_IN() + STOP_OUT());
      const t = child(NS.t, "target");
      kids.push(t);
      t.send(`restore ${dump.record}`);
      const restored = await t.wait("restored");
      assert.equal([restored.local, restored.localPort, restored.remote, restored.remotePort], [F.X, restored.localPort, F.C, 5001]);
      ip(NS.r, "route", "replace", `${F.X}/${F.host}`, "via", F.T);
      sh("ip", "netns", "exec", NS.t, "nft", "delete table inet hovrepair");
      t.send("go");
      await t.wait("resumed");
      await sleep(1500);

      c.send("report");
      t.send("report");
      const cr = (await c.wait("report")).report;
      const tr = (await t.wait("report")).report;
      console.log(`tcprepair ${family}: record ${dump.record.length / 2} bytes (send queue ${dump.sendQueue}, unsent ${dump.unsent}, receive queue ${dump.receiveQueue}, MSS ${dump.mss}, shifts ${dump.shifts}); correspondent received ${cr.received} (node had sent ${quiet.sent + 65536 + 8192}), target received ${tr.received} (node had read ${quiet.received})`);
      assert.equal(cr.errors, [], "the correspondent saw no error (no reset)");
      assert.not.ok(cr.closed, "the correspondent's connection is still open");
      assert.is(cr.mismatchAt, null, "stream B at the correspondent is exact at every offset (nothing lost, nothing twice)");
      assert.is(tr.mismatchAt, null, "stream A at the target continues exactly where the node stopped");
      assert.equal(tr.errors, [], "the target saw no error");
      assert.ok(cr.received > quiet.sent + 65536 + 8192 + 40000, `the target's bytes reached the correspondent (${cr.received})`);
      assert.ok(tr.received > quiet.received + dump.receiveQueue + 40000, `the target received new bytes (${tr.received})`);
    } finally {
      for (const k of kids) k.kill();
      down();
    }
  });
}

test.run();
