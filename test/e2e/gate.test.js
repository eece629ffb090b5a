// The gates (stem/nft.ts fixedRules) on a REAL kernel: the core (on the
// simulated network of test/_sim.js) renders its batches, applied with nft in
// a throwaway namespace F (hov-<tag>gf) with a veth to B (hov-<tag>gb), the
// peer. A peer's moved UDP session goes out to its wire address and comes
// back from its original one (the groups behind gro4 and gri4); an unmoved
// address of the same peer's range is left as it is, both ways. Namespaces
// are removed also on failure.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { SimNet } from "../_sim.js";
import { e2eEnabled, tagOf } from "./_e2e.js";

const KEY = new Uint8Array(32).fill(7);

function sh(args, input) {
  const r = spawnSync(args[0], args.slice(1), { encoding: "utf8", input });
  if (r.status !== 0) throw new Error(`${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

// B: echoes every datagram it receives on ORIG (unmoved) or WIRE back to its sender, for 3 s.
const ECHO = `import socket, select, time
ss = []
for a in ("198.19.100.1", "198.19.0.2", "198.19.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((a, 6000)); ss.append(s)
end = time.time() + 3
while time.time() < end:
    r, _, _ = select.select(ss, [], [], 0.1)
    for s in r:
        d, src = s.recvfrom(2000); s.sendto(d + b" at " + s.getsockname()[0].encode(), src)
`;
// F: one datagram to the moved session's original endpoint and one to the unmoved address; prints each reply and its source.
const SEND = `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("198.18.9.1", 7000)); s.settimeout(1.0)
for a in ("198.19.0.1", "198.19.0.2"):
    s.sendto(b"to " + a.encode(), (a, 6000))
try:
    for _ in range(2):
        d, src = s.recvfrom(2000); print(src[0], src[1], d.decode())
except socket.timeout:
    pass
`;

if (e2eEnabled()) {
  test("a moved session goes through its gates (rewritten both ways); an unmoved address of the same peer is untouched", async () => {
    const F = `hov-${tagOf("gf")}`;
    const B = `hov-${tagOf("gb")}`;
    for (const n of [F, B]) spawnSync("ip", ["netns", "del", n]);
    try {
      sh(["ip", "netns", "add", F]);
      sh(["ip", "netns", "add", B]);
      sh(["ip", "-n", F, "link", "add", "g0", "type", "veth", "peer", "name", "g1", "netns", B]);
      for (const a of [["link", "set", "lo", "up"], ["link", "set", "g0", "up"], ["addr", "add", "198.18.9.1/24", "dev", "g0"], ["route", "add", "198.19.0.0/16", "via", "198.18.9.2"]]) sh(["ip", "-n", F, ...a]);
      // B has the wire address and the unmoved one, and (as a peer that left it would not) the original too:
      // a datagram the rules failed to rewrite would then be answered from it, and the test would see it.
      for (const a of [["link", "set", "lo", "up"], ["link", "set", "g1", "up"], ["addr", "add", "198.18.9.2/24", "dev", "g1"], ["addr", "add", "198.19.100.1/32", "dev", "lo"], ["addr", "add", "198.19.0.2/32", "dev", "lo"], ["addr", "add", "198.19.0.1/32", "dev", "lo"]]) sh(["ip", "-n", B, ...a]);
      const net = new SimNet();
      const f = net.node("f.example", ["198.18.9.1"]);
      const peer = { cookie: f.engine.core.cookieFromName("g.peer"), a: "198.19.0.1", b: "198.19.100.1" };
      const id = f.engine.addPeer(peer.cookie, peer.a, 4346);
      f.engine.addPeerAddress(id, peer.b);
      f.engine.addSa(id, { spi: 256, key: KEY });
      let applied = 0;
      const apply = () => {
        for (; applied < f.nft.length; applied++) if (!f.nft[applied].startsWith("list ")) sh(["ip", "netns", "exec", F, "nft", "-f", "-"], f.nft[applied]);
      };
      f.engine.kernelSetup(net.now);
      f.pump();
      apply();
      const ntp = BigInt(Math.floor((net.now / 1000 + 2208988800) * 2 ** 32));
      const extensions = [{ type: "MIGRATION", protocols: ["UDP"], oldAddress: peer.a, newAddress: peer.b, oldPort: 6000, newPort: 6000 }];
      const bytes = f.engine.core.encode({ type: "MIGRATION_REQUEST", sequence: 1, cookie: peer.cookie, replayId: ntp.toString(16).padStart(16, "0"), extensions }, { spi: 256, key: KEY });
      const sent = net.sent.length;
      net.inject(f, peer.b, bytes);
      const reply = net.sent.slice(sent).find((d) => d.from === "f.example");
      assert.is(reply && f.engine.core.decode(reply.data).code, "ACCEPTED");
      apply();
      assert.match(sh(["ip", "netns", "exec", F, "nft", "list", "set", "inet", "handover", "gro4"]), /198\.19\.0\.1/);
      const server = spawn("ip", ["netns", "exec", B, "python3", "-c", ECHO], { stdio: "ignore" });
      try {
        await new Promise((r) => setTimeout(r, 400));
        const out = sh(["ip", "netns", "exec", F, "python3", "-c", SEND]).trim().split("\n").sort();
        // The moved session: sent to 198.19.0.1, received at B's wire address, answered from it, seen by F as 198.19.0.1.
        assert.equal(out, ["198.19.0.1 6000 to 198.19.0.1 at 198.19.100.1", "198.19.0.2 6000 to 198.19.0.2 at 198.19.0.2"]);
      } finally {
        server.kill();
      }
    } finally {
      for (const n of [F, B]) spawnSync("ip", ["netns", "del", n]);
    }
  });
}

test.run();
