// The control-loss rules of demo/sid.ts (issue 8): one random draw per
// control datagram, also on R's home link, where with br_netfilter a bridged
// datagram passes the bridge forward hook and then the inet one. N and A
// (both on the home bridge) exchange datagrams from and to port 4346 (the
// rules' two directions, without a handover node running); the delivered
// fraction must be 1 - loss, not (1 - loss)^2 (two draws) and not 1 (none).
// The rules are the router's, not a host's: the file runs under node only.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { tagOf, runtime, e2eEnabled } from "./_e2e.js";
import { SidTopology } from "../../dist/demo/netns.js";
import { controlLossRuleset } from "../../dist/demo/sid.js";

const COUNT = 2000;
const LOSS = 0.2;

// In one namespace: bind `local` port `bindPort`, send COUNT datagrams to `peer`:`peerPort`
// after 500 ms (the other side is bound by then), count what arrives for 4 s.
const peerScript = `
  const dgram = require("node:dgram");
  const [local, bindPort, peer, peerPort] = process.argv.slice(1);
  const s = dgram.createSocket("udp4");
  let got = 0;
  s.on("message", () => got++);
  s.bind(Number(bindPort), local, () => {
    setTimeout(async () => {
      for (let i = 0; i < ${COUNT}; i++) {
        await new Promise((r) => s.send(Buffer.from("x" + i), Number(peerPort), peer, r));
        if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5));
      }
    }, 500);
    setTimeout(() => { console.log(JSON.stringify({ got })); s.close(); }, 4000);
  });`;

function run(topo, ns, args) {
  const p = topo.spawn(ns, [process.execPath, "-e", peerScript, ...args]);
  let out = "";
  let err = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (err += d));
  return new Promise((resolve, reject) => p.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out).got) : reject(new Error(`exit ${code}: ${err}`)))));
}

if (e2eEnabled() && runtime() === "node") test("SID control loss: one draw per datagram each way, bridged on the home link too", async () => {
  const topo = new SidTopology(tagOf("el"));
  try {
    topo.up();
    topo.ns(topo.r, ["nft", "-f", "-"], controlLossRuleset(LOSS));
    const { node, agent } = topo.addr;
    // N -> A: port 4346 to port 4346 (the first rule); A -> N: from port 4346 to another (the second).
    const [atNode, atAgent] = await Promise.all([
      run(topo, topo.n, [node, "5000", agent, "4346"]),
      run(topo, topo.a, [agent, "4346", node, "5000"]),
    ]);
    // Binomial(2000, 0.8): standard deviation 0.9%; two draws would deliver 64%.
    for (const [label, got] of [["N -> A", atAgent], ["A -> N", atNode]]) {
      const f = got / COUNT;
      assert.ok(f > 0.74 && f < 0.86, `${label}: ${got} of ${COUNT} delivered (${(f * 100).toFixed(1)}%), expected about ${(1 - LOSS) * 100}%`);
    }
  } finally {
    topo.down();
  }
});

test.run();
