// A forged registration, for the session-address test (PROTOCOL.md 8.18):
// `node dist/demo/sidforge.js JSON` sends the agent a Transfer Request naming
// an address, authenticated with the sender's own SA with the agent (a peer
// the agent knows, but not as the owner of that address), and prints the
// reply's code as one JSON line ({"code": N} or {"error": "..."}).
// JSON: {agent, port, from, name (or cookie), spi, key, address, target}.

import { readFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import { Core } from "../hosts/shared/core.ts";

const o = JSON.parse(process.argv[2] ?? "{}");
const core = await Core.load(readFileSync(new URL("../../build/handover.wasm", import.meta.url)));
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
// Replay Protect ID in timestamp mode: the sender's NTP time (PROTOCOL.md 6.4).
const ms = Date.now();
const secs = Math.floor(ms / 1000) + 2208988800;
const frac = Math.floor(((ms % 1000) / 1000) * 4294967296);
const replay = new Uint8Array(8);
new DataView(replay.buffer).setUint32(0, secs >>> 0);
new DataView(replay.buffer).setUint32(4, frac >>> 0);
const message = core.encode({
  type: "TRANSFER_REQUEST", sequence: Math.floor(Math.random() * 65536), cookie: o.cookie ?? core.cookieFromName(o.name), replayId: hex(replay),
  extensions: [
    { type: "TRANSFERRED_ADDRESS", address: o.address },
    { type: "TARGET_ADDRESS", address: o.target },
    { type: "LINK_LAYER_ADDRESS", hardwareType: 1, address: "020000000bad" },
    { type: "LIFETIME", seconds: 60 },
    { type: "SESSION_KEY", wrap: "CHACHA20_POLY1305", wrapSpi: o.spi, sessionSpi: 0x7777, nonce: "00".repeat(12), sealedKey: "11".repeat(32), tag: "22".repeat(16) },
  ],
} as any, { spi: o.spi, key: unhex(o.key) });
const sock = createSocket(o.agent.includes(":") ? "udp6" : "udp4");
const done = (line: Record<string, unknown>) => {
  process.stdout.write(JSON.stringify(line) + "\n");
  sock.close();
  process.exit(0);
};
sock.on("message", (m) => {
  try {
    const r = core.decodeVerified(new Uint8Array(m), { spi: o.spi, key: unhex(o.key) });
    done({ code: r.code, type: r.type });
  } catch (e) {
    done({ error: (e as Error).message });
  }
});
sock.bind(0, o.from, () => sock.send(message, o.port, o.agent));
setTimeout(() => done({ error: "no reply within 3 s" }), 3000);
