// Run in a node's namespace by dhcp.test.js: a handover daemon with SID on
// the home link and `sid.dhcp` (the core's DHCPv4 generator behind the
// address registry, PROTOCOL.md 8.18/8.19). It takes a session address from
// DHCP through the library API, reports its session-address events as JSON
// lines, and on "release" on stdin gives it back.
import { createInterface } from "node:readline";
import { start } from "../../dist/hosts/node/index.js";

const [ifname, address] = process.argv.slice(2);
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const d = await start({ name: "n", peers: [], listen: [address], control: false, sid: { link: ifname, address, dhcp: true } });
d.sid.on("session-address", (e) => say({ ev: "session-address", session: e.session, state: e.state, address: e.address, expires: e.expires }));
const a = await d.sid.sessionAddress("dhcp4");
say({ ev: "acquired", ...a });
for await (const line of createInterface({ input: process.stdin })) {
  const m = JSON.parse(line);
  if (m.cmd === "release") { d.sid.releaseSessionAddress(a.session); say({ ev: "released" }); }
  if (m.cmd === "quit") break;
}
await d.close?.();
process.exit(0);
