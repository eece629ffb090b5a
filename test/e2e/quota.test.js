// The unvalidated move's byte quota on a REAL kernel: the core (on the
// simulated network of test/_sim.js) renders its batches, and they are
// applied with nft in a throwaway namespace (hov-<tag>qt), where UDP
// datagrams toward the peer's original endpoint meet the rules. The quota is
// the element's own (the set `rq4` is declared with `quota over B bytes`):
// over it, packets are dropped, and a move that migrates again before it is
// validated keeps the count. The namespace is removed also on failure.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { SimNet } from "../_sim.js";
import { e2eEnabled, tagOf } from "./_e2e.js";

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
        const line = sh(["ip", "netns", "exec", ns, "nft", "list", "chain", "inet", "handover", "out"]).split("\n").find((l) => l.includes("@rq4"));
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

test.run();
