// SID's link-layer frames (docs/PROTOCOL.md 8.14) on a real kernel: the
// core builds them, an AF_PACKET socket in the agent's namespace sends them
// on a veth, and the node's kernel must (1) learn the claimed address from
// the gratuitous ARP, (2) resolve an address through the agent's proxy-ARP
// reply (the core parses the request and builds the reply), and (3) deliver
// the Wake-up frame to an ordinary UDP socket although the agent itself holds
// that address (its own routing would have kept the datagram). Namespaces
// hov-<tag>fr* are removed also on failure.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { runtime, tagOf, e2eEnabled } from "./_e2e.js";

const CHILD = fileURLToPath(new URL("./_frames_child.js", import.meta.url));
const NODE = runtime() === "node" ? process.execPath : "node";
const tag = `hov-${tagOf("fr")}`;
const NS = { a: `${tag}a`, b: `${tag}b` };
const MAC_A = "02:00:00:00:40:0a", MAC_B = "02:00:00:00:40:0b";
const A = "198.18.40.1", B = "198.18.40.2";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sh(...a) {
  const r = spawnSync(a[0], a.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${a.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}
const inA = (...a) => sh("ip", "netns", "exec", NS.a, NODE, CHILD, "a-b", ...a);
const neigh = (ip) => JSON.parse(sh("ip", "-n", NS.b, "-j", "neigh", "show", ip) || "[]")[0];
function down() {
  for (const ns of Object.values(NS)) {
    for (const p of spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout?.split("\n").filter(Boolean) ?? []) spawnSync("kill", ["-9", p]);
    spawnSync("ip", ["netns", "del", ns]);
  }
}

if (e2eEnabled()) {
  test(`${runtime()}: gratuitous ARP, proxy-ARP reply and the Wake-up frame, built by the core, on a real link`, async () => {
    down();
    const kids = [];
    try {
      for (const ns of Object.values(NS)) {
        sh("ip", "netns", "add", ns);
        sh("ip", "-n", ns, "link", "set", "lo", "up");
      }
      sh("ip", "link", "add", "a-b", "netns", NS.a, "address", MAC_A, "type", "veth", "peer", "name", "b-a", "netns", NS.b, "address", MAC_B);
      sh("ip", "-n", NS.a, "addr", "add", `${A}/24`, "dev", "a-b");
      sh("ip", "-n", NS.b, "addr", "add", `${B}/24`, "dev", "b-a");
      sh("ip", "-n", NS.a, "link", "set", "a-b", "up");
      sh("ip", "-n", NS.b, "link", "set", "b-a", "up");
      sh("ip", "netns", "exec", NS.b, "sysctl", "-qw", "net.ipv4.conf.b-a.arp_accept=1");
      await sleep(100);

      // (1) The gratuitous ARP creates the node's neighbour entry for the claimed address.
      assert.is(neigh("198.18.40.100"), undefined);
      inA("garp", MAC_A, "198.18.40.100");
      await sleep(100);
      const n1 = neigh("198.18.40.100");
      assert.ok(n1, "the node learned the claimed address");
      assert.is(n1.lladdr, MAC_A);

      // (2) Proxy ARP: the node asks for .200, the core parses the request and answers for it.
      const proxy = spawn("ip", ["netns", "exec", NS.a, NODE, CHILD, "a-b", "proxy", MAC_A, "198.18.40.200", "2"], { stdio: ["ignore", "pipe", "pipe"] });
      kids.push(proxy);
      let out = "";
      proxy.stdout.on("data", (d) => (out += d));
      const done = new Promise((r) => proxy.on("exit", r));
      await sleep(400);
      spawnSync("ip", ["netns", "exec", NS.b, "ping", "-c", "1", "-W", "1", "198.18.40.200"]); // A does not have .200: no echo reply, but the ARP resolves
      await done;
      assert.ok(JSON.parse(out).answered >= 1, `the agent answered the ARP request: ${out}`);
      const n2 = neigh("198.18.40.200");
      assert.ok(n2 && n2.lladdr === MAC_A, `the node resolved .200 to the agent: ${JSON.stringify(n2)}`);

      // (3) The agent holds the node's address itself, yet the Wake-up frame reaches the node's socket.
      sh("ip", "-n", NS.a, "addr", "add", `${B}/32`, "dev", "lo");
      const listener = spawn("ip", ["netns", "exec", NS.b, NODE, "-e",
        `const s=require("node:dgram").createSocket("udp4");s.on("message",(m,r)=>{console.log(JSON.stringify({text:String(m),from:r.address,port:r.port}));process.exit(0)});s.bind(4346,"${B}",()=>console.log("{}"));setTimeout(()=>process.exit(3),3000)`], { stdio: ["ignore", "pipe", "pipe"] });
      kids.push(listener);
      let got = "";
      listener.stdout.on("data", (d) => (got += d));
      const exited = new Promise((r) => listener.on("exit", r));
      for (let i = 0; i < 100 && !got.includes("{}"); i++) await sleep(10);
      inA("wake", MAC_A, MAC_B, A, B, "4346", "wake up");
      const code = await exited;
      assert.is(code, 0, `the node's UDP socket received the Wake-up (${got})`);
      const msg = JSON.parse(got.trim().split("\n").pop());
      assert.equal([msg.text, msg.from, msg.port], ["wake up", A, 4346], "payload, source address and port as built (so the kernel accepted both checksums)");
    } finally {
      for (const k of kids) if (k.exitCode === null) k.kill("SIGKILL");
      down();
    }
  });
}

test.run();
