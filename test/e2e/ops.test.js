// The operator's view on real kernels: the Prometheus endpoint scraped while a
// real migration runs (and its counts and histograms after it), and the case
// a user behind NAT hits first: the migrator's new address is behind a router
// that masquerades it. Needs root (see _e2e.js); namespaces hov-<tag>...
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runStem, control } from "../../dist/demo/stem.js";
import { cleanStale } from "../../dist/demo/netns.js";
import { launcher, runtime, e2eEnabled, assertSurvived, tagOf } from "./_e2e.js";

const enabled = e2eEnabled();
const rt = runtime();
const L = enabled ? launcher(rt) : [];
const base = { launcher: { m: L, f: L } };
const tag = (s) => tagOf(s, rt);
const run = (name, fn) => (enabled ? test(name, fn) : test.skip(name, fn));
const METRICS = "127.0.0.1:9464";

if (enabled) cleanStale(tag(""));

/** Scrapes a node's endpoint from inside its namespace. */
function scrape(topo, ns) {
  const r = topo.try(ns, ["node", "-e", `fetch("http://${METRICS}/metrics").then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.error(String(e)); process.exit(1); })`]);
  if (r.status !== 0) throw new Error(`scraping ${ns}: ${r.err}`);
  return r.out;
}

function sample(text, name, labels = []) {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

run("metrics: the endpoint answers during a break-before-make migration and counts it (outcome, exchange and blackout times, holds, moves)", async () => {
  const scrapes = [];
  let final = "";
  let finalF = "";
  const r = await runStem({
    ...base,
    tag: tag("mt"),
    mode: "break-before-make",
    outageMs: 200,
    config: { m: { metrics: METRICS }, f: { metrics: METRICS } },
    during: async (t) => {
      // While the address is gone and the sessions are held.
      for (let i = 0; i < 3; i++) {
        await new Promise((res) => setTimeout(res, 100));
        scrapes.push(scrape(t, t.m));
      }
    },
    inspect: (t) => {
      final = scrape(t, t.m);
      finalF = scrape(t, t.f);
    },
  });
  assertSurvived(assert, r, "break-before-make with metrics");
  assert.is(scrapes.length, 3);
  for (const s of scrapes) assert.match(s, /^# TYPE handover_migrations_total counter$/m);
  const node = ['node="m.demo"'];
  // The daemon's own migration, and the one the demo asks for (completed at once if the first came first).
  assert.ok(sample(final, "handover_migrations_total", [...node, 'outcome="completed"']) >= 1, final);
  assert.is(sample(final, "handover_migrations_total", [...node, 'outcome="failed"']), 0);
  assert.is(sample(final, "handover_migration_exchange_seconds_count", node), 1);
  assert.is(sample(final, "handover_migration_blackout_seconds_count", node), 1);
  const exchange = sample(final, "handover_migration_exchange_seconds_sum", node);
  const blackout = sample(final, "handover_migration_blackout_seconds_sum", node);
  assert.ok(exchange > 0 && exchange <= blackout, `exchange ${exchange} s within the blackout ${blackout} s`);
  assert.ok(blackout < 5, `blackout ${blackout} s`);
  assert.ok(sample(final, "handover_holds_total", [...node, 'cause="address-lost"']) >= 1, final);
  assert.is(sample(final, "handover_moves", [...node, 'side="local"', 'held="false"']) > 0, true);
  assert.is(sample(final, "handover_peers", node), 1);
  assert.is(sample(final, "handover_kernel_failures_total", node), 0);
  assert.is(sample(finalF, "handover_peer_migrations_total", ['node="f.demo"', 'state="validated"']), 1, finalF);
});

run("NAT: the migrator's new address behind a masquerading router: the migration fails TIMED_OUT, the sessions stay on the old address intact", async () => {
  const seen = {};
  const r = await runStem({
    ...base,
    tag: tag("nt"),
    mode: "make-before-break",
    natOnB: true,
    // The migration times out (6 s of retransmissions, then the peer's validation too): the stream outlasts both.
    durationMs: 12000,
    inspect: async (t) => {
      for (const who of ["m", "f"]) seen[who] = (await control(`/run/handover/${t[who]}.sock`, { cmd: "status" })).status;
    },
  });
  const m = r.migrations[0];
  assert.is(m.state, "failed", JSON.stringify(r.migrations));
  assert.is(m.error, "TIMED_OUT", "F's reply went to the address in the request (198.18.2.2), which the NAT does not let in");
  assert.ok(r.digestsEqual, "TCP intact on the old address");
  assert.is(r.resets, 0);
  // M never switched (no reply came), so what it sends is intact; what F sent to the unreachable
  // address while its unvalidated move was in force (until its validation failed) is lost: UDP only.
  assert.is(r.udp.server.lost, 0, "UDP from M to F intact");
  assert.ok(r.tcp.client.receivedBytes > 10000 && r.tcp.server.receivedBytes > 10000, "traffic flowed");
  assert.ok(r.timeline.some((x) => x.who === "F" && x.event?.event === "peer-migration" && x.event.state === "validation-failed"), "F rolled back: no Confirm came");
  assert.equal(seen.m.moves, [], "M keeps no move");
  assert.equal(seen.f.moves, [], "F keeps no move");
});

test.run();
