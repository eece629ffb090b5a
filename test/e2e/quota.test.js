// The unvalidated move's byte quota on a REAL kernel: the core (on the
// simulated network of test/_sim.js) renders its batches, and they are
// applied with nft in a throwaway namespace (hov-<tag>qt), where UDP
// datagrams toward the peer's original endpoint meet the rules. The quota is
// the element's own (the set `rq4` is declared with `quota over B bytes`):
// over it, packets are dropped, and a move that migrates again before it is
// validated keeps the count. The namespace is removed also on failure.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimNet } from "../_sim.js";
import { e2eEnabled, launcher, tagOf } from "./_e2e.js";

const KEY = new Uint8Array(32).fill(7);
const QUOTA = 1000;
const PAYLOAD = 300; // 328 bytes on the wire: three fit the quota, the fourth is over it

function sh(args, input) {
  const r = spawnSync(args[0], args.slice(1), { encoding: "utf8", input });
  if (r.status !== 0) throw new Error(`${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

if (e2eEnabled()) {
  test("an unvalidated move's quota drops what is over it, and keeps its count when the move migrates again", () => {
    const ns = `hov-${tagOf("qt")}`;
    spawnSync("ip", ["netns", "del", ns]);
    sh(["ip", "netns", "add", ns]);
    try {
      for (const a of [["link", "set", "lo", "up"], ["link", "add", "d0", "type", "veth", "peer", "name", "d1"], ["link", "set", "d0", "up"], ["link", "set", "d1", "up"], ["addr", "add", "198.18.9.1/24", "dev", "d0"], ["route", "add", "198.19.0.0/16", "dev", "d0"]]) {
        sh(["ip", "-n", ns, ...a]);
      }
      const net = new SimNet();
      const f = net.node("f.example", ["198.18.9.1"]);
      f.engine.option("quotaBytes", QUOTA);
      const peer = { cookie: f.engine.core.cookieFromName("q.peer"), a: "198.19.0.1" };
      const id = f.engine.addPeer(peer.cookie, peer.a, 4346);
      f.engine.addSa(id, { spi: 256, key: KEY });
      let applied = 0;
      /** The core's batches since the last call, applied to the namespace's kernel. */
      const apply = () => {
        for (; applied < f.nft.length; applied++) {
          if (!f.nft[applied].startsWith("list ")) sh(["ip", "netns", "exec", ns, "nft", "-f", "-"], f.nft[applied]);
        }
      };
      f.engine.kernelSetup(net.now);
      f.pump();
      apply();
      let seq = 1;
      const ask = (from, to) => {
        net.now += 1;
        const ntp = BigInt(Math.floor((net.now / 1000 + 2208988800) * 2 ** 32));
        const extensions = [{ type: "MIGRATION", protocols: ["UDP"], oldAddress: from, newAddress: to, oldPort: 6000, newPort: 6000 }];
        const bytes = f.engine.core.encode({ type: "MIGRATION_REQUEST", sequence: seq++, cookie: peer.cookie, replayId: ntp.toString(16).padStart(16, "0"), extensions }, { spi: 256, key: KEY });
        const sent = net.sent.length;
        net.inject(f, to, bytes);
        const reply = net.sent.slice(sent).find((d) => d.from === "f.example");
        apply();
        return reply ? f.engine.core.decode(reply.data).code : null;
      };
      const send = (n) =>
        sh(["ip", "netns", "exec", ns, "python3", "-c", `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor _ in range(${n}):\n try: s.sendto(b"x"*${PAYLOAD},("${peer.a}",6000))\n except PermissionError: pass`]); // (a packet dropped on output fails the send)
      /** Packets the quota rule of IPv4 dropped so far. */
      const dropped = () => {
        const line = sh(["ip", "netns", "exec", ns, "nft", "list", "chain", "inet", "handover", "outr4"]).split("\n").find((l) => l.includes("@rq4"));
        return Number(/counter packets (\d+)/.exec(line)[1]);
      };
      const element = () => sh(["ip", "netns", "exec", ns, "nft", "list", "set", "inet", "handover", "rq4"]);

      assert.match(element(), new RegExp(`quota over ${QUOTA} bytes`), "the set carries the quota");
      assert.is(ask(peer.a, "198.19.250.1"), "ACCEPTED", "a move to an address the peer does not own: unvalidated");
      assert.match(element(), new RegExp(`udp \\. ${peer.a.replace(/\./g, "\\.")} \\. 6000 quota over ${QUOTA} bytes`), "its element with its own quota");
      assert.not.match(sh(["ip", "netns", "exec", ns, "nft", "list", "table", "inet", "handover"]), /quota hq/, "no named quota object");
      send(10);
      assert.is(dropped(), 7, "three datagrams of 328 bytes within 1,000 bytes, the rest dropped");
      // The move migrates on, still unvalidated: its element stays, and with it the bytes counted.
      assert.is(ask("198.19.250.1", "198.19.250.2"), "ACCEPTED");
      assert.match(sh(["ip", "netns", "exec", ns, "nft", "list", "map", "inet", "handover", "ro4"]), /198\.19\.250\.2/, "the move went on");
      send(1);
      assert.is(dropped(), 8, "over the quota still: a fresh quota would have let it through");
    } finally {
      spawnSync("ip", ["netns", "del", ns]);
    }
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The real daemon (this runtime's host) as the fixed end in namespace F, its
 * peer's end in namespace P (its configured address 198.18.42.2 and an
 * address it has not proven, 198.19.250.1). Returns helpers; `close` removes
 * both namespaces and the files.
 */
function daemonRig() {
  const F = `hov-${tagOf("qf")}`;
  const P = `hov-${tagOf("qp")}`;
  const dir = mkdtempSync(join(tmpdir(), "handover-e2e-quota-"));
  const file = join(dir, "q.json");
  const control = join(dir, "q.sock");
  for (const ns of [F, P]) spawnSync("ip", ["netns", "del", ns]);
  sh(["ip", "netns", "add", F]);
  sh(["ip", "netns", "add", P]);
  const children = [];
  const rig = {
    F, P, dir, file, control,
    close() {
      for (const c of children) {
        try {
          process.kill(c.pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      spawnSync("ip", ["netns", "del", F]);
      spawnSync("ip", ["netns", "del", P]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  sh(["ip", "link", "add", "qv0", "netns", F, "type", "veth", "peer", "name", "qv1", "netns", P]);
  for (const [ns, a] of [[F, ["link", "set", "lo", "up"]], [P, ["link", "set", "lo", "up"]], [F, ["link", "set", "qv0", "up"]], [P, ["link", "set", "qv1", "up"]],
    [F, ["addr", "add", "198.18.42.1/24", "dev", "qv0"]], [P, ["addr", "add", "198.18.42.2/24", "dev", "qv1"]], [P, ["addr", "add", "198.19.250.1/32", "dev", "qv1"]],
    [F, ["route", "add", "198.19.0.0/16", "dev", "qv0"]]]) sh(["ip", "-n", ns, ...a]);
  rig.configure = (quotaBytes) => writeFileSync(file, JSON.stringify({
    name: "q.test", control, log: "debug", listen: ["198.18.42.1"], port: 4346, register: false,
    options: { quotaBytes, validationTimeoutMs: 600000 },
    peers: [{ name: "p.test", address: "198.18.42.2", sa: [{ spi: 256, key: "5a".repeat(32) }] }],
  }));
  rig.configure(QUOTA);
  /** Starts the daemon; resolves with its event reader once `started`. */
  rig.start = async () => {
    const cli = launcher();
    const child = spawn("ip", ["netns", "exec", F, ...cli, "daemon", "--config", file], { stdio: ["ignore", "ignore", "pipe"] });
    children.push(child);
    let stderr = "";
    child.stderr.on("data", (b) => (stderr += b));
    const exited = new Promise((r) => child.on("exit", (code, sig) => r(code ?? sig)));
    const events = () => stderr.split("\n").filter(Boolean).flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
    const waitEvent = async (name) => {
      for (let i = 0; i < 1000; i++, await sleep(20)) {
        const e = events().find((x) => x.event === name);
        if (e) return e;
      }
      throw new Error(`no '${name}' event; stderr:\n${stderr}`);
    };
    await waitEvent("started");
    return { child, exited, events, waitEvent, stderr: () => stderr };
  };
  return rig;
}

if (e2eEnabled()) {
  test("the real daemon: an unvalidated move's quota still cuts its traffic after a restart, clean (SIGTERM) and SIGKILL, with the bytes it counted", async () => {
    const rig = daemonRig();
    try {
      const core = new SimNet().node("x.example", ["198.18.0.1"]).engine.core;
      const key = new Uint8Array(32).fill(0x5a);
      const cookie = core.cookieFromName("p.test");
      let seq = 1;
      // The peer asks F to move its UDP endpoint 198.18.42.2:6000 to 198.19.250.1 (not its own: unvalidated).
      const ask = () => {
        const ntp = BigInt(Math.floor((Date.now() / 1000 + 2208988800) * 2 ** 32));
        const extensions = [{ type: "MIGRATION", protocols: ["UDP"], oldAddress: "198.18.42.2", newAddress: "198.19.250.1", oldPort: 6000, newPort: 6000 }];
        const bytes = core.encode({ type: "MIGRATION_REQUEST", sequence: seq++, cookie, replayId: ntp.toString(16).padStart(16, "0"), extensions }, { spi: 256, key });
        const hex = Buffer.from(bytes).toString("hex");
        const out = sh(["ip", "netns", "exec", rig.P, "python3", "-c", `import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(("198.19.250.1",0))\ns.settimeout(5)\ns.sendto(bytes.fromhex("${hex}"),("198.18.42.1",4346))\nprint(s.recv(4096).hex())`]);
        return core.decode(new Uint8Array(Buffer.from(out.trim(), "hex"))).code;
      };
      const send = (n) =>
        sh(["ip", "netns", "exec", rig.F, "python3", "-c", `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor _ in range(${n}):\n try: s.sendto(b"x"*${PAYLOAD},("198.18.42.2",6000))\n except PermissionError: pass`]);
      const dropped = () => {
        const line = sh(["ip", "netns", "exec", rig.F, "nft", "list", "chain", "inet", "handover", "outr4"]).split("\n").find((l) => l.includes("@rq4"));
        return Number(/counter packets (\d+)/.exec(line)[1]);
      };
      /** The move's quota element: the bytes it counted, or null if there is none. */
      const used = () => {
        const text = sh(["ip", "netns", "exec", rig.F, "nft", "list", "set", "inet", "handover", "rq4"]);
        const m = /udp \. 198\.18\.42\.2 \. 6000 quota over (\d+) bytes(?: used (\d+) bytes)?/.exec(text);
        return m ? Number(m[2] ?? 0) : null;
      };
      let d = await rig.start();
      assert.is(ask(), "ACCEPTED");
      assert.is(used(), 0, "the unvalidated move's quota element");
      let before = dropped();
      send(2);
      assert.is(dropped() - before, 0, "two datagrams of 328 bytes within 1,000 bytes");
      assert.is(used(), 2 * 328, "counted by the element");

      // SIGKILL: the next start reads the maps; the quota element is the move's.
      process.kill(d.child.pid, "SIGKILL");
      await d.exited;
      d = await rig.start();
      const crash = await d.waitEvent("restored");
      assert.is(crash.moves, 1);
      assert.is(used(), 2 * 328, "after the crash restart the element is there with its count");
      before = dropped();
      send(2);
      assert.is(dropped() - before, 1, "one more fits the 1,000 bytes, the next is over (a fresh quota would take both)");
      const state = JSON.parse(sh([...launcher(), "state", "--socket", rig.control]));
      assert.ok(JSON.stringify(state).includes("198.19.250.1"), "the move is the daemon's again");

      // A clean stop (SIGTERM) keeps the kernel state and saves the move with its validation; the next start takes it from the file.
      process.kill(d.child.pid, "SIGTERM");
      assert.is(await d.exited, 0, d.stderr());
      assert.ok(existsSync(join(rig.dir, "q.moves")), "the moves were saved");
      const saved = d.events().find((e) => e.event === "saved");
      assert.ok(saved?.ok, JSON.stringify(saved));
      const kept = used();
      assert.is(kept, QUOTA, "over its quota (nft shows the quota as used)");
      d = await rig.start();
      const clean = await d.waitEvent("restored");
      assert.is(clean.elements, "saved", "taken from the saved file");
      assert.is(used(), kept, "after the clean restart the element is there with its count");
      before = dropped();
      send(1);
      assert.is(dropped() - before, 1, "and it still cuts the move's traffic");

      // quotaBytes changed to 2,000 over this table (its sets declared with 1,000): the table is made anew with the
      // new quota and the element's count (1,000) put back: three more datagrams fit, the fourth is over.
      process.kill(d.child.pid, "SIGKILL");
      await d.exited;
      rig.configure(2000);
      d = await rig.start();
      const changed = await d.waitEvent("restored");
      assert.is(changed.moves, 1);
      assert.is(changed.elements, "rebuilt");
      assert.match(sh(["ip", "netns", "exec", rig.F, "nft", "list", "set", "inet", "handover", "rq4"]), /quota over 2000 bytes\s+elements = \{ udp \. 198\.18\.42\.2 \. 6000 quota over 2000 bytes used 1000 bytes/, "the new quota, the count kept");
      before = dropped();
      send(4);
      assert.is(dropped() - before, 1, "1,000 + 3 x 328 within 2,000 bytes, the fourth over (the old quota would drop all four, a fresh one none)");
      process.kill(d.child.pid, "SIGKILL");
      await d.exited;
    } finally {
      rig.close();
    }
  });
}

/**
 * What an earlier version (before branch quotaset, merged in 44e4e1a) wrote
 * for the same state: `rq`/`rqw` objref maps of named quota objects (`quota
 * name ... map @rq4` in the rule, `quota hq<id>` per unvalidated move). Made
 * from this version's batches by the old renderer's differences (`git show
 * 44e4e1a^1:core/assembly/stem/nft.ts`: defineMaps, fixedRules, ensureQuota).
 */
function earlierForm(batches, used) {
  const id = /comment "hov1 (\d+) R /.exec(batches.join("\n"))[1];
  return batches.map((t) => t
    .replace(/add set inet handover (rqw?[46]) \{ type ([^;]+); quota over \d+ bytes; \}/g, "add map inet handover $1 { type $2 : quota; }")
    .replace(/meta l4proto \{ tcp, udp \} (meta l4proto \. [^@]+)@(rqw?[46]) counter drop/g, "meta l4proto { tcp, udp } quota name $1map @$2 counter drop")
    .replace(/add element inet handover (rqw?[46]) \{ (.+) \}/g, `add quota inet handover hq${id} { over ${QUOTA} bytes used ${used} bytes }\nadd element inet handover $1 { $2 : "hq${id}" }`));
}

if (e2eEnabled()) {
  test("the real daemon starts over an earlier version's table (named quota objects): one transaction makes the table anew, the moves restored, the quota's count kept", async () => {
    const rig = daemonRig();
    try {
      // The earlier run's table: a peer's UDP move to an address it has not proven, its quota at 656 of 1,000 bytes.
      const net = new SimNet();
      const f = net.node("q.test", ["198.18.42.1"]);
      f.engine.option("quotaBytes", QUOTA);
      const key = new Uint8Array(32).fill(0x5a);
      const cookie = f.engine.core.cookieFromName("p.test");
      f.engine.addSa(f.engine.addPeer(cookie, "198.18.42.2", 4346), { spi: 256, key });
      f.engine.kernelSetup(net.now);
      f.pump();
      const ntp = BigInt(Math.floor((net.now / 1000 + 2208988800) * 2 ** 32));
      const extensions = [{ type: "MIGRATION", protocols: ["UDP"], oldAddress: "198.18.42.2", newAddress: "198.19.250.1", oldPort: 6000, newPort: 6000 }];
      net.inject(f, "198.19.250.1", f.engine.core.encode({ type: "MIGRATION_REQUEST", sequence: 1, cookie, replayId: ntp.toString(16).padStart(16, "0"), extensions }, { spi: 256, key }));
      for (const t of earlierForm(f.nft.filter((t) => !t.startsWith("list ")), 2 * 328)) sh(["ip", "netns", "exec", rig.F, "nft", "-f", "-"], t);
      const table = () => sh(["ip", "netns", "exec", rig.F, "nft", "list", "table", "inet", "handover"]);
      assert.match(table(), /map rq4 \{\s+type inet_proto \. ipv4_addr \. inet_service : quota/, "the earlier form");
      assert.match(table(), /quota hq\d+ \{\s+over 1000 bytes used 656 bytes/);

      const d = await rig.start();
      const restored = await d.waitEvent("restored");
      assert.is(restored.moves, 1, "the move taken over");
      assert.is(restored.elements, "rebuilt", "the table made anew");
      assert.ok(d.events().some((e) => e.event === "upgrading"), "the earlier form was seen");
      assert.not.ok(d.events().some((e) => e.event === "nft-failed"), d.stderr());
      const now = table();
      assert.not.match(now, /quota hq|: quota/, "no named quota object, no objref map");
      assert.match(now, /set rq4 \{\s+type inet_proto \. ipv4_addr \. inet_service\s+quota over 1000 bytes/, "this version's set");
      assert.match(now, /udp \. 198\.18\.42\.2 \. 6000 quota over 1000 bytes used 656 bytes/, "the move's quota element, its count kept");
      assert.match(now, /udp \. 198\.18\.42\.2 \. 6000 : 198\.19\.250\.1/, "the move's rewrite");
      // The kept count still cuts: one more datagram of 328 bytes fits, the next is over.
      const dropped = () => Number(/counter packets (\d+)/.exec(table().split("\n").find((l) => l.includes("@rq4")))[1]);
      const before = dropped();
      sh(["ip", "netns", "exec", rig.F, "python3", "-c", `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor _ in range(2):\n try: s.sendto(b"x"*${PAYLOAD},("198.18.42.2",6000))\n except PermissionError: pass`]);
      assert.is(dropped() - before, 1, "one of two over the quota (a fresh quota would take both)");
      // Still unvalidated: the restored validation goes on.
      const state = JSON.parse(sh([...launcher(), "state", "--socket", rig.control]));
      assert.ok(JSON.stringify(state).includes("198.19.250.1"), "the move is the daemon's");
      process.kill(d.child.pid, "SIGKILL");
      await d.exited;
    } finally {
      rig.close();
    }
  });
}

test.run();
