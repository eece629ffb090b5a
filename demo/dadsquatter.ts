// A duplicate on the link, for the IPv6 session-address test (PROTOCOL.md
// 8.18): `node dist/demo/dadsquatter.js IFNAME COUNT` answers the first COUNT
// duplicate address detection probes it sees (Neighbour Solicitations from
// the unspecified address) with the Neighbour Advertisement a node holding
// that address would send (the core's ndp_advertisement frame), so that the
// prober's kernel marks its tentative address dadfailed. Prints one JSON line
// per defended address; `{"listening": true}` once it reads the link.

import { readFileSync } from "node:fs";
import { Core } from "../hosts/shared/core.ts";
import { SidCodec } from "../hosts/shared/sid.ts";
import { openPacket } from "../hosts/node/packet.ts";

const [ifname, countText] = process.argv.slice(2);
let left = Number(countText ?? "1");
const core = await Core.load(readFileSync(new URL("../../build/handover.wasm", import.meta.url)));
const sid = new SidCodec(core);
const link = openPacket(ifname, 0x86dd);
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
link.receive((f) => {
  // Ethernet 14, IPv6 40 (next header ICMPv6, source ::), ICMPv6 Neighbour Solicitation (135), target at 62.
  if (left <= 0 || f.length < 78 || f[12] !== 0x86 || f[13] !== 0xdd || f[20] !== 58 || f[54] !== 135) return;
  if (f.subarray(22, 38).some((b) => b !== 0)) return;
  const target = f.subarray(62, 78);
  const address = core.formatAddress(2, target);
  link.send(sid.neighbourAdvertisement(link.mac, address));
  left--;
  process.stdout.write(JSON.stringify({ defended: address, probe: hex(f.subarray(0, 6)) }) + "\n");
});
process.stdout.write(JSON.stringify({ listening: true }) + "\n");
process.on("SIGTERM", () => {
  link.close();
  process.exit(0);
});
