// The Wireshark dissector on a real capture: `handover demo stem --json` runs
// (the daemons under the runtime this file runs under), tcpdump records the
// control port on the demo's router namespace, and tshark with
// tools/wireshark/handover.lua must decode every captured message without an
// error, verify its authenticator with the demo's key, and show the exchange of
// PROTOCOL.md 2.1: Migration Request from the new address naming the move the
// demo reports, Migration Reply accepting with a challenge, Migration Confirm
// echoing it; the dissector pairs the reply with the request. Needs root, tcpdump and tshark (.ci/run installs them).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { launcher, runtime, e2eEnabled } from "./_e2e.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DISSECTOR = join(ROOT, "tools/wireshark/handover.lua");
const REGISTRY = JSON.parse(readFileSync(join(ROOT, "core/registry.json"), "utf8"));
const TYPE = Object.fromEntries(REGISTRY.messageTypes.map((m) => [m.name, String(m.value)]));

const enabled = e2eEnabled();
const run = (name, fn) => (enabled ? test(name, fn) : test.skip(name, fn));

function missingTool(tool, pkg) {
  const r = spawnSync(tool, ["--version"], { encoding: "utf8" });
  return r.error ? `${tool} is not installed: run \`apt-get install ${pkg}\` (.ci/run installs it)` : null;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what, cond, ms) {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
const namespaces = () => spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.split("\n").map((l) => l.split(" ")[0]);

/** A field's values anywhere in a tshark JSON tree (--no-duplicate-keys makes repeated keys arrays). */
function values(node, key, out = []) {
  if (Array.isArray(node)) for (const x of node) values(x, key, out);
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === key) out.push(...(Array.isArray(v) ? v : [v]));
      else values(v, key, out);
    }
  }
  return out;
}

run("tshark decodes a capture of `handover demo stem` with the dissector: every message verified, the exchange of section 2.1", async () => {
  for (const [tool, pkg] of [["tcpdump", "tcpdump"], ["tshark", "tshark"]]) {
    const missing = missingTool(tool, pkg);
    if (missing) assert.unreachable(missing);
  }
  // A private TMPDIR: the demo writes its daemons' configuration (with the key) there.
  const tmp = mkdtempSync(join(tmpdir(), "handover-capture-"));
  let tcpdump = null;
  try {
    const L = launcher(runtime());
    const demo = spawn(L[0], [...L.slice(1), "demo", "stem", "--json"], { env: { ...process.env, TMPDIR: tmp }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    demo.stdout.on("data", (d) => (out += d));
    demo.stderr.on("data", (d) => (err += d));
    const exited = new Promise((r) => demo.on("exit", (code) => r(code)));
    // The demo names its namespaces after its process id (demo/stem.ts: tag d<pid>).
    const router = `hov-d${demo.pid % 100000}-r`;
    await waitFor(`the demo's router namespace ${router}`, () => namespaces().includes(router), 20000);
    const pcap = join(tmp, "demo.pcap");
    let tdErr = "";
    tcpdump = spawn("ip", ["netns", "exec", router, "tcpdump", "-i", "any", "-U", "-w", pcap, `udp port ${REGISTRY.defaultPort}`], { stdio: ["ignore", "ignore", "pipe"] });
    tcpdump.stderr.on("data", (d) => (tdErr += d));
    await waitFor("tcpdump to listen", () => /listening on/.test(tdErr), 5000);
    // The demo's configuration holds the key; read it while the demo runs (it removes it at the end).
    const configFile = () => {
      const dir = readdirSync(tmp).find((d) => d.startsWith("handover-demo-"));
      return dir && existsSync(join(tmp, dir, "m.json")) ? join(tmp, dir, "m.json") : null;
    };
    await waitFor("the demo's daemon configuration", () => configFile() !== null, 10000);
    await sleep(100); // written in one call; let it finish
    const key = JSON.parse(readFileSync(configFile(), "utf8")).peers[0].sa[0];
    const code = await exited;
    assert.is(code, 0, `the demo failed (${code}): ${err.slice(-2000)}`);
    const report = JSON.parse(out.trim().split("\n").at(-1));
    assert.ok(report.migrations.length > 0 && report.migrations.every((m) => m.state === "completed"), `the demo's migrations completed: ${JSON.stringify(report.migrations)}`);
    assert.ok(existsSync(pcap), "tcpdump wrote a capture");

    const r = spawnSync("tshark", ["-2", "-n", "-X", `lua_script:${DISSECTOR}`, "-o", `handover.keys:${key.spi}:HMAC_SHA256:${key.key}`, "-r", pcap, "-Y", "handover", "-T", "json", "--no-duplicate-keys"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    assert.is(r.status, 0, `tshark failed: ${r.stderr}`);
    const frames = JSON.parse(r.stdout).map((p) => p._source.layers);
    assert.ok(frames.length >= 3, `at least one exchange captured (${frames.length} frames)`);
    for (const f of frames) {
      const text = JSON.stringify(f.handover);
      assert.not.match(text, /handover\.error\.|Lua Error/, `a captured message shows an error: ${text}`);
      assert.equal(values(f.handover, "handover.auth.verified"), ["1"], `authenticator verified with the demo's key: ${text}`);
    }
    const ofType = (name) => frames.filter((f) => f.handover["handover.type"] === TYPE[name]);
    const first = report.migrations[0];
    const request = ofType("MIGRATION_REQUEST").find((f) => values(f.handover, "handover.migration.new_address").includes(first.to));
    assert.ok(request, `a Migration Request to ${first.to} was captured`);
    // One Migration extension per session the move carries (PROTOCOL.md 7.1), each from the old address.
    const olds = values(request.handover, "handover.migration.old_address");
    assert.ok(olds.length >= 1 && olds.every((a) => a === first.from), `every mapping names the old address ${first.from}: ${olds}`);
    if (typeof first.moves === "number") assert.is(olds.length, first.moves, "one mapping per move");
    assert.is(request.ip["ip.src"], first.to, "it is sent from the new address (section 7.2)");
    const sequence = request.handover["handover.sequence"];
    const reply = ofType("MIGRATION_REPLY").find((f) => f.handover["handover.sequence"] === sequence);
    assert.ok(reply, "its Migration Reply was captured");
    assert.is(reply.handover["handover.code"], "1", "the reply accepts");
    assert.is(reply.handover["handover.request_in"], request.frame["frame.number"], "the dissector pairs the reply with its request");
    assert.is(reply.ip["ip.dst"], first.to, "the reply goes to the new address (section 3.1)");
    const [challenge] = values(reply.handover, "handover.path_challenge.token");
    assert.ok(challenge, "the reply carries a Path Challenge");
    const confirm = ofType("MIGRATION_CONFIRM").find((f) => values(f.handover, "handover.path_response.token").includes(challenge));
    assert.ok(confirm, "a Migration Confirm echoes the challenge");
  } finally {
    if (tcpdump && tcpdump.exitCode === null) tcpdump.kill("SIGTERM");
    rmSync(tmp, { recursive: true, force: true });
  }
});

test.run();
