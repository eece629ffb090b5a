// Run in a node's namespace by dhcp.test.js (under Node): the host's DHCPv4
// client (hosts/node/dhcp.ts) on one interface, driven by JSON lines on
// stdin, reporting JSON lines on stdout. It aliases each bound address on
// the interface (/32: the base address stays) and removes it when lost or
// released, as the address registry does.
//   {"cmd":"acquire"} {"cmd":"release","slot":N} {"cmd":"handoff","slot":N}
//   {"cmd":"adopt","record":"hex"} {"cmd":"info","slot":N} {"cmd":"quit"}
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { Core } from "../../dist/hosts/shared/core.js";
import { DhcpHost } from "../../dist/hosts/node/dhcp.js";
import { hex, unhex } from "../../dist/hosts/shared/bytes.js";
import { randomBytes } from "node:crypto";

const ifname = process.argv[2];
const core = await Core.load(readFileSync(new URL("../../build/handover.wasm", import.meta.url)));
core.seedRandom(randomBytes(32));
const host = await DhcpHost.open(core, ifname);
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const ip = (...a) => spawnSync("ip", a, { encoding: "utf8" });
const alias = (a) => ip("addr", "add", `${a}/32`, "dev", ifname);
const unalias = (a) => ip("addr", "del", `${a}/32`, "dev", ifname);

host.on("bound", (l) => { alias(l.address); say({ ev: "bound", ...l, clientId: hex(host.dhcp.info(l.slot).clientId) }); });
host.on("renewed", (l) => say({ ev: "renewed", slot: l.slot, address: l.address, server: l.server }));
host.on("lost", (l) => { if (l.address !== "0.0.0.0") unalias(l.address); say({ ev: "lost", ...l }); });
host.on("released", (l) => { setTimeout(() => unalias(l.address), 200); say({ ev: "released", ...l }); });
host.on("error", (e) => say({ ev: "error", message: String(e?.message ?? e) }));

say({ ev: "ready", mac: hex(host.mac) });
for await (const line of createInterface({ input: process.stdin })) {
  const m = JSON.parse(line);
  try {
    if (m.cmd === "acquire") host.acquire().catch((e) => say({ ev: "failed", message: e.message }));
    else if (m.cmd === "release") { await host.release(m.slot); say({ ev: "ok", cmd: m.cmd }); }
    else if (m.cmd === "handoff") {
      const addr = host.dhcp.info(m.slot).address;
      const record = await host.handOff(m.slot);
      unalias(addr);
      say({ ev: "record", record: hex(record) });
    } else if (m.cmd === "adopt") {
      const rec = unhex(m.record);
      // the record's address (after the client id) is aliased before the renewal socket binds to it
      const a = rec.subarray(2 + rec[1], 6 + rec[1]);
      alias(a.join("."));
      const slot = await host.adopt(rec);
      say({ ev: "adopted", slot, address: a.join("."), clientId: hex(host.dhcp.info(slot).clientId) });
    } else if (m.cmd === "info") {
      const i = host.dhcp.info(m.slot);
      say({ ev: "info", ...i, clientId: hex(i.clientId) });
    } else if (m.cmd === "quit") break;
  } catch (e) {
    say({ ev: "error", message: e.message });
  }
}
host.close();
process.exit(0);
