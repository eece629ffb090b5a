// A helper of bench/hosts.js, run under each runtime:
//
//   _host_probe.js start PORT      start() one daemon (no kernel, no control socket), print "ready", exit
//   _host_probe.js rtt PA PB N     two daemons on 127.0.0.1 in this process; N registrations one after
//                                  another; prints {"rtt": [ms, ...]} (request sent -> reply processed)
const t0 = performance.now();
const runtime = typeof Deno !== "undefined" ? "deno" : typeof Bun !== "undefined" ? "bun" : "node";
const args = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const host = await import(`../dist/hosts/${runtime}/index.js`);
const KEY = "5a".repeat(32);
const config = (name, port, peer, peerPort) => ({
  name, port, listen: ["127.0.0.1"], kernel: false, control: false, log: "warn",
  peers: [{ name: peer, address: "127.0.0.1", port: peerPort, sa: [{ spi: 256, key: KEY }] }],
});

if (args[0] === "start") {
  const d = await host.start(config("s.bench", Number(args[1]), "p.bench", Number(args[1])));
  console.log(JSON.stringify({ ready: true, inProcessMs: performance.now() - t0 }));
  await d.close();
} else if (args[0] === "rtt") {
  const [pa, pb, n] = args.slice(1).map(Number);
  const a = await host.start(config("a.bench", pa, "b.bench", pb));
  const b = await host.start(config("b.bench", pb, "a.bench", pa));
  let done = null;
  a.on("registration", () => done());
  const rtt = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await new Promise((resolve) => {
      done = resolve;
      a.register("b.bench", 600);
    });
    rtt.push(performance.now() - t);
  }
  console.log(JSON.stringify({ rtt }));
  await a.close();
  await b.close();
}
