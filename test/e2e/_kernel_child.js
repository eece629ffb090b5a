// Run by kernel.test.js inside a throwaway network namespace, in the runtime
// under test: opens that runtime's KernelIO (FFI to libc and libnftables),
// runs nft batches and a netlink request, and watches address notifications
// while a timer ticks (a watch that blocked the event loop would stop it).
const runtime = typeof Deno !== "undefined" ? "deno" : typeof Bun !== "undefined" ? "bun" : "node";
const IO = { node: "NodeIO", deno: "DenoIO", bun: "BunIO" }[runtime];
const host = await import(`../../dist/hosts/${runtime}/index.js`);
const out = (o) => console.log(JSON.stringify(o));

const k = new host[IO]().openKernel();
const good = k.nft("add table inet hovk\nadd chain inet hovk c { type filter hook output priority 0; }\nadd rule inet hovk c meta l4proto udp counter\n");
const bad = k.nft("add rule inet nosuch c counter\n");
const list = k.nft("list table inet hovk\n");

// RTM_GETLINK dump (type 18, flags REQUEST|DUMP): nlmsghdr + ifinfomsg.
const req = new Uint8Array(32);
const v = new DataView(req.buffer);
v.setUint32(0, 32, true);
v.setUint16(4, 18, true);
v.setUint16(6, 0x301, true);
v.setUint32(8, 1, true);
const reply = k.netlink(0, req, true);
const types = [];
for (let at = 0; at + 16 <= reply.length; ) {
  const r = new DataView(reply.buffer, reply.byteOffset + at);
  const len = r.getUint32(0, true);
  types.push(r.getUint16(4, true));
  if (len < 16) break;
  at += (len + 3) & ~3;
}

let ticks = 0;
const ticker = setInterval(() => ticks++, 5);
const watch = k.watch(0, 0x10 | 0x100, (bytes) => {
  const type = new DataView(bytes.buffer, bytes.byteOffset).getUint16(4, true);
  if (type !== 20) return; // RTM_NEWADDR
  const seen = bytes.join(",").includes([198, 18, 77, 7].join(","));
  out({ event: "newaddr", ticks, seen, bytes: bytes.length });
  watch.close();
  k.close();
  clearInterval(ticker);
  out({ closed: true }); // the process must now end by itself
});
out({ ready: true, good, bad: { status: bad.status, error: bad.error.trim() }, list, netlink: { bytes: reply.length, types } });
setTimeout(() => {
  out({ timeout: true, ticks });
  process.exit(3);
}, 8000).unref?.();
