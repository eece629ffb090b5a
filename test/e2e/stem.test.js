// STEM end to end, on real kernels: network namespaces, nftables, an ordinary
// application streaming TCP (checked by SHA-256 at both ends) and UDP (every
// datagram numbered) while one end moves. The daemons run under the runtime
// this file runs under. Needs root (CI is root); see _e2e.js.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fileURLToPath } from "node:url";
import { runStem, control } from "../../dist/demo/stem.js";
import { cleanStale } from "../../dist/demo/netns.js";
import { launcher, runtime, e2eEnabled, assertSurvived, tagOf } from "./_e2e.js";

const enabled = e2eEnabled();
const rt = runtime();
const L = enabled ? launcher(rt) : [];
const base = { launcher: { m: L, f: L } };
const tag = (s) => tagOf(s, rt);
const HOSTILE = fileURLToPath(new URL("../../tools/hostile.js", import.meta.url));

if (enabled) cleanStale(tag(""));

const run = (name, fn) => (enabled ? test(name, fn) : test.skip(name, fn));

run("(a) make-before-break, IPv4: TCP and UDP intact; sock_diag shows the sessions on their move", async () => {
  let sessions = null;
  const r = await runStem({
    ...base,
    tag: tag("a"),
    mode: "make-before-break",
    during: async (t) => {
      await new Promise((res) => setTimeout(res, 800));
      sessions = (await control(`/run/handover/${t.m}.sock`, { cmd: "sessions" })).sessions;
    },
  });
  assertSurvived(assert, r, "make-before-break");
  const tcp = sessions.find((s) => s.protocol === "TCP" && s.remotePort === 5001);
  assert.ok(tcp, `the TCP session is listed (${JSON.stringify(sessions)})`);
  assert.is(tcp.local, "198.18.1.2", "the socket keeps its original address");
  assert.is(tcp.wire, "198.18.2.2", "and its move puts it on the new one");
});

run("(b) break-before-make, IPv4: the address goes first; nothing lost", async () => {
  const r = await runStem({ ...base, tag: tag("b"), mode: "break-before-make", outageMs: 200 });
  assertSurvived(assert, r, "break-before-make");
  // The guard held the sessions through the outage: the stream paused, not lost.
  assert.ok(r.blackoutMs >= 150, `a real outage happened (blackout ${r.blackoutMs} ms)`);
});

run("(c) 50 ms RTT and 20% loss of control datagrams both ways: retransmission carries every migration", async () => {
  const r = await runStem({ ...base, tag: tag("c"), mode: "make-before-break", rttMs: 50, controlLoss: 0.2, migrations: 6, spacingMs: 300 });
  assertSurvived(assert, r, "control loss at 50 ms");
  // The delay line really added the round trip: no exchange completes in less.
  for (const m of r.migrations) assert.ok(m.elapsedMs >= 49, `migration ${m.id} took ${m.elapsedMs} ms, less than the RTT`);
});

run("(d) 100 consecutive migrations back and forth", async () => {
  const r = await runStem({ ...base, tag: tag("d"), mode: "make-before-break", migrations: 100, spacingMs: 40, udp: true });
  assert.is(r.migrations.length, 100);
  assertSurvived(assert, r, "100 migrations");
});

run("(e) the server end migrates", async () => {
  const r = await runStem({ ...base, tag: tag("e"), mode: "make-before-break", serverMoves: true });
  assertSurvived(assert, r, "server moves");
});

run("(f) IPv6, make-before-break and break-before-make", async () => {
  const a = await runStem({ ...base, tag: tag("f"), v6: true, mode: "make-before-break" });
  assertSurvived(assert, a, "IPv6 make-before-break");
  assert.is(a.family, "IPv6");
  const b = await runStem({ ...base, tag: tag("g"), v6: true, mode: "break-before-make", outageMs: 150 });
  assertSurvived(assert, b, "IPv6 break-before-make");
});

run("(g) hostile control traffic during the migration changes nothing", async () => {
  let attacker = null;
  const r = await runStem({
    ...base,
    tag: tag("h"),
    mode: "make-before-break",
    migrations: 4,
    spacingMs: 300,
    during: async (t) => {
      // On the router, between the daemons: replays of every control message it
      // sees, forged (a flipped bit), truncated and random datagrams at F's port.
      const child = t.spawn(t.r, [process.execPath, HOSTILE, "--target", "198.18.9.2", "--duration", "1500", "--rate", "2000"]);
      attacker = await new Promise((resolve) => {
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.on("exit", () => resolve(JSON.parse(out || "{}")));
      });
    },
  });
  assertSurvived(assert, r, "under attack");
  assert.ok(attacker && attacker.sent > 1000, `the attack ran (${JSON.stringify(attacker)})`);
  assert.ok(attacker.replayed > 100 && attacker.captured > 0, `replays were sent (${JSON.stringify(attacker)})`);
  const f = r.counters.f;
  assert.ok(f.dropped >= attacker.forged + attacker.truncated, `F dropped the forged and truncated ones (${JSON.stringify(f)})`);
});

run("(h) the migrator's daemon restarts mid-stream and takes over its rules", async () => {
  const r = await runStem({ ...base, tag: tag("i"), mode: "make-before-break", migrations: 3, spacingMs: 400, restart: "m" });
  assertSurvived(assert, r, "restart");
  const restored = r.timeline.filter((e) => e.event?.event === "restored" && e.who === "M").map((e) => e.event.moves);
  assert.equal(restored, [0, 2], "the second daemon took over the moves: one per session (TCP and UDP)");
});

test.run();
