// Both ends mobile, on real kernels: M and F each have two links through the
// router R (which drops sources foreign to a link, BCP 38), a TCP stream and
// a UDP flow run between them, and the two ends move in turn, each to a fresh
// address, each giving up the address it left, the configured ones first.
// Each end must find the other where it is now (PROTOCOL.md 7.1).
// Needs root; see _e2e.js.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { control, lines, runStem } from "../../dist/demo/stem.js";
import { Topology, cleanStale } from "../../dist/demo/netns.js";
import { launcher, appLauncher, runtime, e2eEnabled, tagOf, assertSurvived } from "./_e2e.js";

const enabled = e2eEnabled();
const rt = runtime();
const run = (name, fn) => (enabled ? test(name, fn) : test.skip(name, fn));
const TRAFFIC = fileURLToPath(new URL("../../tools/traffic.js", import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** An application process: its "ready" line and its summary. */
function app(child) {
  const a = { ready: null, summary: null };
  lines(child.stdout, (o) => {
    if (o.ready) a.ready = o;
    else if (o.sentBytes !== undefined) a.summary = o;
  });
  return a;
}

/**
 * The links of each end: M on m-a (198.18.1.0/24) and m-b (198.18.2.0/24), F on
 * f-0 (198.18.9.0/24, made by Topology) and f-1 (198.18.10.0/24, added here).
 */
const LINKS = {
  m: { a: { dev: "m-a", net: "198.18.1", table: 101 }, b: { dev: "m-b", net: "198.18.2", table: 102 } },
  f: { a: { dev: "f-0", net: "198.18.9", table: 109 }, b: { dev: "f-1", net: "198.18.10", table: 110 } },
};

function addF1(t) {
  const ip = (ns, ...a) => t.ns(ns, ["ip", ...a]);
  ip(t.r, "link", "add", "r-g", "type", "veth", "peer", "name", "f-1", "netns", t.f);
  ip(t.r, "addr", "add", "198.18.10.1/24", "dev", "r-g");
  ip(t.r, "link", "set", "r-g", "up");
  ip(t.f, "link", "set", "f-1", "up");
  // BCP 38 for F's links too.
  t.nft(t.r, `table inet bcp38f {
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "r-f" ip saddr != 198.18.9.0/24 counter drop
    iifname "r-g" ip saddr != 198.18.10.0/24 counter drop
  }
}`);
  // An address an end gave up is gone from the network: R drops whatever is still sent to it
  // (otherwise the guard's copy on the end's lo would still answer for it on the old link).
  t.nft(t.r, `table ip retired {
  set gone {
    type ipv4_addr
  }
  chain forward {
    type filter hook forward priority -5; policy accept;
    ip daddr @gone counter drop
  }
}`);
  // F's first address leaves by its own link (a source route), as M's do (Topology.attach).
  t.ns(t.f, ["ip", "-batch", "-"], "route replace default via 198.18.9.1 dev f-0 onlink table 109\nrule add from 198.18.9.2 table 109 priority 1109\n");
}

/** Adds `address` on the end's link, with its source route (what a DHCP client does). */
function addAddress(t, who, link, address) {
  const l = LINKS[who][link];
  const ns = who === "m" ? t.m : t.f;
  t.ns(ns, ["ip", "-batch", "-"], [
    `route replace default via ${l.net}.1 dev ${l.dev} onlink table ${l.table}`,
    `rule add from ${address} table ${l.table} priority ${1000 + l.table}`,
    `addr add ${address}/24 dev ${l.dev}`,
  ].join("\n") + "\n");
}

/** The address goes from its link for good (and the default route follows the end to its new link). */
function removeAddress(t, who, link, address, nowOn) {
  const ns = who === "m" ? t.m : t.f;
  const l = LINKS[who][link];
  const n = LINKS[who][nowOn];
  t.ns(ns, ["ip", "-batch", "-"], [
    `route replace default via ${n.net}.1 dev ${n.dev}`,
    `addr del ${address}/24 dev ${l.dev}`,
    `rule del from ${address}`,
  ].join("\n") + "\n");
  t.nft(t.r, `add element ip retired gone { ${address} }`);
}

run("both ends move in turn, three times each, to fresh addresses, the configured ones gone: TCP and UDP intact", async () => {
  const tag = tagOf("mob", rt);
  cleanStale(tag);
  const t = new Topology(tag);
  const dir = mkdtempSync(join(tmpdir(), "handover-mobility-"));
  const logs = { m: [], f: [] };
  try {
    t.up();
    addF1(t);
    const key = "6b".repeat(32);
    const sock = { m: `/run/handover/${t.m}.sock`, f: `/run/handover/${t.f}.sock` };
    const cfg = (name, peer, address, controlPath) => ({
      name, listen: ["0.0.0.0"], control: controlPath, log: "info",
      peers: [{ name: peer, address, sa: [{ spi: 256, key }] }],
    });
    writeFileSync(join(dir, "m.json"), JSON.stringify(cfg("m.demo", "f.demo", "198.18.9.2", sock.m)));
    writeFileSync(join(dir, "f.json"), JSON.stringify(cfg("f.demo", "m.demo", "198.18.1.2", sock.f)));
    const L = launcher(rt);
    for (const who of ["m", "f"]) {
      const child = t.spawn(who === "m" ? t.m : t.f, [...L, "daemon", "--config", join(dir, `${who}.json`)]);
      lines(child.stderr, (e) => logs[who].push(e));
    }
    await waitFor("the daemons", () => logs.m.some((e) => e.event === "started") && logs.f.some((e) => e.event === "started"));
    // The application: servers on F's first address, clients on M's first address.
    const A = appLauncher(rt);
    const duration = 9000;
    const common = ["--duration", String(duration), "--interval", "2", "--size", "100"];
    const srv = app(t.spawn(t.f, [...A, TRAFFIC, "server", "--proto", "tcp", "--bind", "198.18.9.2", "--port", "5001"]));
    const usrv = app(t.spawn(t.f, [...A, TRAFFIC, "server", "--proto", "udp", "--bind", "198.18.9.2", "--port", "5002"]));
    await sleep(300);
    const cli = app(t.spawn(t.m, [...A, TRAFFIC, "client", "--proto", "tcp", "--connect", "198.18.9.2", "--port", "5001", "--local", "198.18.1.2", ...common]));
    const ucli = app(t.spawn(t.m, [...A, TRAFFIC, "client", "--proto", "udp", "--connect", "198.18.9.2", "--port", "5002", "--local", "198.18.1.2", ...common]));
    await waitFor("the application", () => cli.ready && ucli.ready);
    await sleep(500);

    // Each end in turn: a fresh address on its other link, migrate (make-before-break), then the old one goes.
    const at = { m: { link: "a", address: "198.18.1.2" }, f: { link: "a", address: "198.18.9.2" } };
    const results = [];
    for (let round = 0; round < 3; round++) {
      for (const who of ["m", "f"]) {
        const from = at[who];
        const link = from.link === "a" ? "b" : "a";
        const address = `${LINKS[who][link].net}.${3 + round}`;
        addAddress(t, who, link, address);
        const r = await control(sock[who], { cmd: "migrate", request: { peer: who === "m" ? "f.demo" : "m.demo", from: from.address, to: address } });
        assert.ok(r.ok, `${who} migrate ${from.address} -> ${address}: ${r.error}`);
        results.push({ who, from: from.address, to: address, state: r.result.state, error: r.result.error, elapsedMs: r.result.elapsedMs });
        removeAddress(t, who, from.link, from.address, link);
        at[who] = { link, address };
        await sleep(400);
      }
    }
    await waitFor("the application to finish", () => cli.summary && srv.summary && ucli.summary && usrv.summary, duration + 20000);
    const states = results.map((r) => `${r.who} ${r.from}->${r.to}: ${r.state}${r.error ? ` (${r.error})` : ""} ${r.elapsedMs} ms`);
    console.log(`  ${rt} both ends mobile:\n    ${states.join("\n    ")}`);
    assert.is(results.length, 6);
    assert.ok(results.every((r) => r.state === "completed"), states.join("; "));
    // Each end knows where the other is now; the configured addresses are on no link.
    const mState = (await control(sock.m, { cmd: "state" })).state;
    const fState = (await control(sock.f, { cmd: "state" })).state;
    assert.is(mState.peers[0].control, at.f.address, "M sends to F's current address");
    assert.is(fState.peers[0].control, at.m.address, "F sends to M's current address");
    assert.not.match(t.ns(t.m, ["ip", "-4", "addr", "show", "dev", "m-a"]) + t.ns(t.m, ["ip", "-4", "addr", "show", "dev", "m-b"]), /198\.18\.1\.2\//);
    assert.not.match(t.ns(t.f, ["ip", "-4", "addr", "show", "dev", "f-0"]) + t.ns(t.f, ["ip", "-4", "addr", "show", "dev", "f-1"]), /198\.18\.9\.2\//);
    // The application saw one unbroken session each: same bytes both ways, no reset, no datagram lost.
    assert.is(cli.summary.sha256Sent, srv.summary.sha256Received, "TCP M -> F intact");
    assert.is(srv.summary.sha256Sent, cli.summary.sha256Received, "TCP F -> M intact");
    assert.ok(cli.summary.receivedBytes > 100000 && srv.summary.receivedBytes > 100000, "traffic flowed all along");
    assert.is(cli.summary.resets + srv.summary.resets, 0, "no reset");
    assert.is(cli.summary.error ?? srv.summary.error ?? null, null, "no socket error");
    assert.is(ucli.summary.lost + usrv.summary.lost, 0, "no UDP datagram lost");
    assert.ok(ucli.summary.receivedBytes > 100000 && usrv.summary.receivedBytes > 100000, "UDP flowed all along");
    const dropped = /counter packets (\d+)/.exec(t.ns(t.r, ["nft", "list", "chain", "ip", "retired", "forward"]))?.[1];
    console.log(`  packets R dropped toward given-up addresses: ${dropped}`);
    console.log(`  blackout (longest gap): TCP ${Math.max(cli.summary.maxGapMs, srv.summary.maxGapMs)} ms, UDP ${Math.max(ucli.summary.maxGapMs, usrv.summary.maxGapMs)} ms`);
  } finally {
    t.down();
    rmSync(dir, { recursive: true, force: true });
  }
});

// Make-before-break when the route table changed first: M has no per-address source routes (only the default
// route, as a network manager leaves it); the new link comes up and the default route moves to it before the
// migration is asked for. The daemon keeps the old address's path through its own link meanwhile.
const routeFirst = (extra) => ({
  launcher: { m: launcher(rt), f: launcher(rt) },
  mode: "make-before-break",
  sourceRoutes: false,
  defaultRouteFirst: true,
  ...extra,
});

const kept = (r) => r.timeline.filter((e) => e.who === "M" && e.event?.event === "source-route").map((e) => `${e.event.state} ${e.event.address}`);

run("the default route moves to the new link 150 ms before `handover migrate`: nothing lost (the old address kept its path)", async () => {
  let rules = "";
  const during = async (t) => {
    // The route has moved; the migration is not asked for yet: the old address's path is in place.
    await new Promise((res) => setTimeout(res, 100));
    rules = t.ns(t.m, ["ip", "rule", "show"]);
  };
  const r = await runStem(routeFirst({ tag: tagOf("rf", rt), askAfterMs: 150, during }));
  assert.match(rules, /18432:\s+from 198\.18\.1\.2 lookup main suppress_prefixlength 0/, `the main table's specific routes first (${rules})`);
  assert.match(rules, /18433:\s+from 198\.18\.1\.2 lookup 184\d\d/, "then the old link's own table");
  console.log(`  ${rt} default route first, migrate 150 ms later: blackout ${r.blackoutMs} ms, paths ${JSON.stringify(kept(r))}`);
  assertSurvived(assert, r, "default route first");
  const old = kept(r).filter((x) => x.endsWith(" 198.18.1.2"));
  assert.equal(old, ["kept 198.18.1.2", "released 198.18.1.2"], "the old address had its path, released once the sessions left");
});

run("followDefaultRoute: the default route moves, and the daemon migrates by itself, make-before-break", async () => {
  const r = await runStem(routeFirst({ tag: tagOf("fd", rt), follow: true, options: { followDefaultRoute: 1 } }));
  console.log(`  ${rt} followDefaultRoute: migration ${r.migrations[0]?.elapsedMs} ms, blackout ${r.blackoutMs} ms`);
  assertSurvived(assert, r, "followDefaultRoute");
  assert.is(r.migrations[0].from, "198.18.1.2");
  assert.is(r.migrations[0].to, "198.18.2.2");
});

test.run();
