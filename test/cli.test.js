// The `handover` command line, run as a user runs it, in whichever runtime
// runs this file: strict parsing (exit 2 for usage errors, 1 for failures),
// --help for every command, --version; and the daemon as an operator runs it:
// one daemon per node, fatal start errors as one line and a non-zero exit,
// SIGHUP reloads, SIGTERM cleans up. Needs no root: every daemon here runs
// with kernel: false on 127.0.0.1, its files in a temporary directory.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import dgram from "node:dgram";
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const runtime = typeof Deno !== "undefined" ? "deno" : typeof Bun !== "undefined" ? "bun" : "node";
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "node_modules/.bin");
const CLI = join(ROOT, `dist/hosts/${runtime}/cli.js`);
const LAUNCH = {
  node: [process.execPath, CLI],
  deno: [join(BIN, "deno"), "run", "-A", "--unstable-net", "--quiet", CLI],
  bun: [join(BIN, "bun"), CLI],
}[runtime];
const host = await import(`../dist/hosts/${runtime}/index.js`);
const IO = { node: "NodeIO", deno: "DenoIO", bun: "BunIO" }[runtime];
const VERSION = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
const KEY = "5a".repeat(32);
// process.kill, not child.kill(): Deno's child.kill() sends one signal per child, then no more.
const signal = (child, name) => {
  try {
    process.kill(child.pid, name);
  } catch {
    // already gone
  }
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function run(...args) {
  const r = spawnSync(LAUNCH[0], [...LAUNCH.slice(1), ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 30000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Lines of stderr that are not JSON objects (the daemon's logs are JSON, one per line). */
const notJson = (text) =>
  text.split("\n").filter((l) => {
    if (!l.trim()) return false;
    try {
      return typeof JSON.parse(l) !== "object";
    } catch {
      return true;
    }
  });

function freePort() {
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    s.bind(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A daemon process: its stderr lines, and a promise of its exit code. */
function daemon(configFile) {
  const child = spawn(LAUNCH[0], [...LAUNCH.slice(1), "daemon", "--config", configFile], { stdio: ["ignore", "pipe", "pipe"] });
  const d = { child, stderr: "", lines: [], exited: new Promise((r) => child.on("exit", (code, signal) => r(code ?? signal))) };
  child.stderr.on("data", (b) => {
    d.stderr += b;
    d.lines = d.stderr.split("\n").filter(Boolean).flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
  });
  return d;
}

async function waitFor(what, cond, ms = 10000, context = () => "") {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (cond()) return;
  throw new Error(`${runtime}: ${what}: not within ${ms} ms${context()}`);
}

const COMMANDS = ["daemon", "down", "migrate", "register", "status", "state", "sessions", "keygen", "cookie", "decode", "version", "demo"];

test(`${runtime}: --version and version print the package's version`, () => {
  for (const args of [["--version"], ["version"]]) {
    const r = run(...args);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^handover ${VERSION.replace(/\./g, "\\.")} \\(protocol version 1, ABI 1, ${runtime}\\)`));
  }
});

test(`${runtime}: every command has --help (exit 0), which does not run the command`, () => {
  for (const cmd of COMMANDS) {
    const r = run(cmd, "--help");
    assert.is(r.status, 0, `${cmd} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: handover ${cmd}\\b`), `${cmd} --help`);
    assert.not.match(r.stdout, /^[0-9a-f]{12,}$/m, `${cmd} --help printed a key or cookie`);
    assert.is(r.stderr, "", `${cmd} --help wrote to stderr`);
  }
  const top = run("--help");
  assert.is(top.status, 0);
  for (const cmd of COMMANDS) assert.match(top.stdout, new RegExp(`^  ${cmd} `, "m"), `overview lists ${cmd}`);
  // The overview's demo flags are the demo's own.
  const demoFlags = [...run("demo", "--help").stdout.matchAll(/^  (--[a-z-]+)/gm)].map((m) => m[1]).filter((f) => f !== "--help").sort();
  // (both demonstrations take --json: each flag once)
  const listed = [...new Set([...top.stdout.split("\n").find((l) => l.startsWith("  demo ")).matchAll(/(--[a-z-]+)/g)].map((m) => m[1]))].sort();
  assert.equal(listed, demoFlags);
});

test(`${runtime}: usage errors exit 2 and say what is wrong`, () => {
  const m = ["migrate", "--socket", "/nonexistent/x.sock", "--peer", "f.test"];
  const cases = [
    [[...m, "--from", "198.18.1.2", "--to", "198.18.2.2", "--prot", "5001"], /unknown option '--prot' \(did you mean '--port'\?\)/],
    [[...m, "--from", "198.18.1.2", "--to", "198.18.2.2", "--port", "abc"], /--port "abc": a local port, an integer from 1 to 65535/],
    [[...m, "--from", "198.18.1.2", "--to", "198.18.2.2", "--port", "70000"], /--port "70000"/],
    [[...m, "--from", "198.18.1.2", "--to", "198.18.1.2"], /--from and --to are both 198\.18\.1\.2/],
    [[...m, "--from", "198.18.1.2", "--to", "2001:db8::2"], /different families/],
    [[...m, "--from", "198.18.1.2", "--to", "banana"], /--to "banana": not an IPv4 or IPv6 address/],
    [[...m, "--from", "198.18.1.2"], /--to ADDR is required/],
    [[...m, "--from", "198.18.1.2", "--to", "198.18.2.2", "--to-port", "80"], /--to-port needs --port/],
    [["register", "--socket", "/nonexistent/x.sock", "--peer", "f.test", "--lifetime", "forever"], /--lifetime "forever": seconds, an integer from 0 to 65535/],
    [["register", "--socket", "/nonexistent/x.sock", "--peer", "f.test", "--lifetime", "-1"], /--lifetime/],
    [["register", "--socket", "/nonexistent/x.sock", "--peer"], /--peer/],
    [["state"], /give the daemon's control socket \(--socket PATH\) or its name \(--name NAME\)/],
    [["state", "--name", "x/../../etc/evil"], /no '\/' and no '\.\.'/],
    [["cookie"], /give NAME/],
    [["cookie", "a", "b"], /too many arguments/],
    [["decode", "xyz"], /give the message as hex digits/],
    [["keygen", "extra"], /unexpected argument 'extra'/],
    [["daemon"], /--config FILE is required/],
    [["frobnicate"], /unknown command/],
    [["demo", "stem", "--migrations", "many"], /--migrations "many"/],
    [["demo", "stem", "--rtt", "x"], /--rtt "x"/],
    [["demo", "stem", "--fast"], /unknown option '--fast'/],
  ];
  for (const [args, pattern] of cases) {
    const r = run(...args);
    assert.is(r.status, 2, `handover ${args.join(" ")}: exit ${r.status}\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr, pattern, `handover ${args.join(" ")}`);
    assert.not.match(r.stderr, /\n\s+at /, `handover ${args.join(" ")}: a stack trace`);
  }
});

test(`${runtime}: failures exit 1 with one line`, () => {
  const r = run("state", "--socket", "/nonexistent/x.sock");
  assert.is(r.status, 1);
  assert.match(r.stderr, /^handover: cannot reach the daemon at \/nonexistent\/x\.sock/);
  assert.is(r.stderr.trim().split("\n").length, 1, r.stderr);
  const c = run("daemon", "--config", "/nonexistent/node.json");
  assert.is(c.status, 1);
  assert.match(c.stderr, /^handover: configuration: \/nonexistent\/node\.json: cannot read it/);
});

test(`${runtime}: migrate --to an address this host does not have is refused at once`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "handover-cli-"));
  const io = new host[IO]();
  io.log = () => {};
  // This daemon must never reach the kernel: a migration would need it.
  io.openKernel = () => {
    throw new Error("the test's daemon has no kernel");
  };
  const control = join(dir, "m.sock");
  const node = await host.Daemon.start(io, await host.loadCore(), {
    name: "m.test", port: await freePort(), listen: ["127.0.0.1"], kernel: false, register: false, control,
    peers: [{ name: "f.test", address: "127.0.0.1", sa: [{ spi: 256, key: KEY }] }],
  });
  try {
    const r = await new Promise((resolve) => {
      const child = spawn(LAUNCH[0], [...LAUNCH.slice(1), "migrate", "--socket", control, "--peer", "f.test", "--from", "127.0.0.1", "--to", "198.18.77.1"]);
      let out = "";
      child.stdout.on("data", (b) => (out += b));
      child.stderr.on("data", (b) => (out += b));
      child.on("exit", (status) => resolve({ status, out }));
    });
    assert.is(r.status, 1, r.out);
    assert.match(r.out, /198\.18\.77\.1 is not an address of this host; add it first/);
  } finally {
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Runs the CLI without blocking the event loop (the daemons it asks run in this process). */
function runAsync(...args) {
  return new Promise((resolve) => {
    const child = spawn(LAUNCH[0], [...LAUNCH.slice(1), ...args], { env: { ...process.env, NO_COLOR: "1" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b) => (stdout += b));
    child.stderr.on("data", (b) => (stderr += b));
    child.on("exit", (status) => resolve({ status, stdout, stderr }));
  });
}

test(`${runtime}: status shows peers by name, last exchange, registrations and drops by reason; state says registered`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "handover-cli-"));
  const [pa, pb, pc] = [await freePort(), await freePort(), await freePort()];
  const start = async (name, port, peers) => {
    const io = new host[IO]();
    io.log = () => {};
    return host.Daemon.start(io, await host.loadCore(), {
      name, port, listen: ["127.0.0.1"], kernel: false, register: false, control: join(dir, `${name}.sock`), peers,
    });
  };
  const peer = (name, port, key = KEY) => ({ name, address: "127.0.0.1", port, sa: [{ spi: 256, key }] });
  const a = await start("a.test", pa, [peer("b.test", pb), peer("c.test", pc)]);
  const b = await start("b.test", pb, [peer("a.test", pa)]);
  // c's key for a is not a's: a's messages fail authentication at c.
  const c = await start("c.test", pc, [peer("a.test", pa, "6b".repeat(32))]);
  try {
    const accepted = new Promise((r) => a.on("registration", (e) => e.state === "accepted" && r(e)));
    a.register("b.test", 600);
    a.register("c.test", 600);
    await accepted;
    await waitFor("c's BAD_AUTHENTICATOR drop", () => (c.state().counters.droppedBy.BAD_AUTHENTICATOR ?? 0) > 0);
    const text = await runAsync("status", "--socket", join(dir, "a.test.sock"));
    assert.is(text.status, 0, text.stderr);
    assert.match(text.stdout, /^node: a\.test$/m, text.stdout);
    assert.match(text.stdout, /^peer: b\.test\n  cookie: [0-9a-f]{12}\n  control: 127\.0\.0\.1:\d+\n(  .*\n)*  last exchange: [\d.]+ seconds ago\n/m, text.stdout);
    assert.match(text.stdout, /^peer: b\.test\n(  .*\n)*  registered with it: yes, [\d.]+ s left$/m);
    assert.match(text.stdout, /^peer: c\.test\n(  .*\n)*  last exchange: none since start\n(  .*\n)*  registered with it: no$/m);
    const json = await runAsync("status", "--json", "--socket", join(dir, "a.test.sock"));
    assert.is(json.status, 0, json.stderr);
    const s = JSON.parse(json.stdout);
    const pB = s.peers.find((p) => p.name === "b.test");
    assert.is(pB.registration, "accepted");
    assert.ok(pB.registeredForS > 590 && pB.registeredForS <= 600, String(pB.registeredForS));
    assert.is(pB.peerRegistered, false);
    assert.equal(s.sessions, [], "no kernel: no sessions");
    // state: the raw JSON, with `registered` meaning this node's registration with the peer.
    const st = JSON.parse((await runAsync("state", "--socket", join(dir, "a.test.sock"))).stdout);
    assert.is(st.peers.find((p) => p.name === "b.test").registered, true);
    assert.is(st.peers.find((p) => p.name === "c.test").registered, false);
    // b: a registered with it.
    const sb = JSON.parse((await runAsync("status", "--json", "--socket", join(dir, "b.test.sock"))).stdout);
    assert.is(sb.peers[0].name, "a.test");
    assert.is(sb.peers[0].peerRegistered, true);
    assert.type(sb.peers[0].lastExchangeS, "number");
    // c: the failed authentication is counted by reason, with what to check.
    const tc = await runAsync("status", "--socket", join(dir, "c.test.sock"));
    assert.match(tc.stdout, /^  dropped \d+: BAD_AUTHENTICATOR \d+$/m);
    assert.match(tc.stdout, /check that both ends have the same key and SPI/);
    // A migration that got no authenticated reply says what to check.
    const hint = a.failureHint({ state: "failed", error: "TIMED_OUT", peer: a.state().peers[1].cookie, to: "198.18.0.2" });
    assert.match(hint, /^no authenticated reply from c\.test: check that both ends have the same key\/SPI/);
    assert.match(hint, /no authenticated message from c\.test has arrived since this node started/);
  } finally {
    await a.close();
    await b.close();
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test(`${runtime}: one node, one daemon; fatal start errors are one line and exit 1; SIGHUP reloads; SIGTERM cleans up`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "handover-cli-"));
  const port = await freePort();
  const control = join(dir, "m.sock");
  const cfg = (extra = {}) => ({
    name: "m.test", port, listen: ["127.0.0.1"], kernel: false, register: false, control,
    peers: [{ name: "f.test", address: "127.0.0.1", port: 9, sa: [{ spi: 256, key: KEY }] }],
    ...extra,
  });
  const file = join(dir, "m.json");
  writeFileSync(file, JSON.stringify(cfg()));
  const first = daemon(file);
  try {
    await waitFor("the first daemon to start", () => first.lines.some((l) => l.event === "started"));
    const pid = first.lines.find((l) => l.event === "started").pid;
    assert.is(readFileSync(join(dir, "m.pid"), "utf8").split(" ")[0], String(pid), "the pid file names the daemon");

    // A second daemon for the same node refuses, and leaves the first alone.
    const second = run("daemon", "--config", file);
    assert.is(second.status, 1, second.stderr);
    assert.equal(notJson(second.stderr), [`handover: another daemon (pid ${pid}) already runs this node (pid file ${join(dir, "m.pid")}); stop it first (kill -TERM ${pid}, or systemctl stop)`]);
    assert.ok(existsSync(control), "the first daemon's socket is still there");
    const state = run("state", "--socket", control);
    assert.is(state.status, 0, `the first daemon still answers: ${state.stderr}`);
    assert.is(JSON.parse(state.stdout).peers.length, 1);
    // down refuses while the daemon runs.
    const down = run("down", "--config", file);
    assert.is(down.status, 1);
    assert.match(down.stderr, /another daemon \(pid \d+\) already runs this node/);

    // The port in use (another node's config, the same port): one line, exit 1, nothing left behind.
    const other = join(dir, "o.json");
    writeFileSync(other, JSON.stringify(cfg({ name: "o.test", control: join(dir, "o.sock") })));
    const busy = run("daemon", "--config", other);
    assert.is(busy.status, 1);
    assert.equal(notJson(busy.stderr).length, 1, busy.stderr);
    assert.match(notJson(busy.stderr)[0], new RegExp(`^handover: cannot start node o\\.test: cannot bind UDP 127\\.0\\.0\\.1 port ${port} \\(EADDRINUSE`));
    assert.not.ok(existsSync(join(dir, "o.pid")) || existsSync(join(dir, "o.sock")), "a failed start leaves no files");

    // An unusable control path (below a regular file): one line, exit 1.
    writeFileSync(join(dir, "plain"), "");
    const badPath = join(dir, "b.json");
    writeFileSync(badPath, JSON.stringify(cfg({ name: "b.test", port: await freePort(), control: join(dir, "plain", "b.sock") })));
    const unusable = run("daemon", "--config", badPath);
    assert.is(unusable.status, 1);
    assert.equal(notJson(unusable.stderr).length, 1, unusable.stderr);
    assert.match(notJson(unusable.stderr)[0], /^handover: cannot start node b\.test: cannot (serve the control socket|create the pid file) .*plain.*\((ENOTDIR|EEXIST|NotADirectory|AlreadyExists)\)/);

    // A misspelt key: one line naming it, exit 1.
    const typo = join(dir, "t.json");
    writeFileSync(typo, JSON.stringify({ ...cfg(), lgo: "debug" }));
    const t = run("daemon", "--config", typo);
    assert.is(t.status, 1);
    assert.equal(notJson(t.stderr), ["handover: configuration: lgo: unknown key (did you mean 'log'?); the keys here are name, cookie, port, listen, peers, options, control, kernel, queue, auto, register, log, sid, metrics"]);

    // SIGHUP: a broken file is refused (the node runs on); a good one is applied.
    writeFileSync(file, "{ not json");
    signal(first.child, "SIGHUP");
    await waitFor("reload-failed", () => first.lines.some((l) => l.event === "reload-failed"));
    assert.is(run("state", "--socket", control).status, 0, "still running after a bad reload");
    const two = cfg();
    two.peers.push({ name: "g.test", address: "127.0.0.1", port: 9, sa: [{ spi: 300, key: KEY }] });
    writeFileSync(file, JSON.stringify(two));
    signal(first.child, "SIGHUP");
    await waitFor("reloaded", () => first.lines.some((l) => l.event === "reloaded"), 10000, () => `\n${first.stderr}`);
    const after = run("state", "--socket", control);
    assert.is(after.status, 0, after.stderr);
    assert.is(JSON.parse(after.stdout).peers.length, 2, "the new peer is there");
    assert.is(readFileSync(join(dir, "m.pid"), "utf8").split(" ")[0], String(pid), "the same process, still holding the node");

    // SIGTERM: exit 0, socket and pid file gone; every line it wrote was JSON.
    signal(first.child, "SIGTERM");
    assert.is(await first.exited, 0);
    assert.not.ok(existsSync(control), "socket removed");
    assert.not.ok(existsSync(join(dir, "m.pid")), "pid file removed");
    assert.equal(notJson(first.stderr), []);
    // And now the node can start again.
    const again = daemon(file);
    await waitFor("the node to start again", () => again.lines.some((l) => l.event === "started"));
    signal(again.child, "SIGINT");
    assert.is(await again.exited, 0);
  } finally {
    signal(first.child, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

test(`${runtime}: a stale pid file (its process is gone) does not stop the start`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "handover-cli-"));
  try {
    writeFileSync(join(dir, "m.pid"), "999999999\n");
    const io = new host[IO]();
    io.log = () => {};
    const node = await host.Daemon.start(io, await host.loadCore(), {
      name: "m.test", port: await freePort(), listen: ["127.0.0.1"], kernel: false, register: false, control: join(dir, "m.sock"), peers: [],
    });
    assert.is(readFileSync(join(dir, "m.pid"), "utf8").split(" ")[0], String(io.pid));
    // The same node again in this process: refused too.
    const err = await host.Daemon.start(io, await host.loadCore(), { ...node.config }).then(() => null, (e) => e);
    assert.instance(err, host.AlreadyRunning);
    await node.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(`${runtime}: a pid file left by a killed daemon whose pid now belongs to another process does not stop the start`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "handover-cli-"));
  try {
    // A live process (this test's own) with a start time that is not its own:
    // the daemon that wrote the file is gone and the kernel reused its pid.
    writeFileSync(join(dir, "m.pid"), `${process.pid} 1\n`);
    const io = new host[IO]();
    io.log = () => {};
    const node = await host.Daemon.start(io, await host.loadCore(), {
      name: "m.test", port: await freePort(), listen: ["127.0.0.1"], kernel: false, register: false, control: join(dir, "m.sock"), peers: [],
    });
    const [pid, started] = readFileSync(join(dir, "m.pid"), "utf8").trim().split(" ");
    assert.is(pid, String(io.pid));
    const stat = readFileSync(`/proc/${io.pid}/stat`, "utf8");
    assert.is(started, stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19], "the file holds the daemon's start time");
    await node.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

if (runtime === "deno") {
  test("deno: without --unstable-net the daemon exits 1 and says which flag is missing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "handover-cli-"));
    try {
      const file = join(dir, "m.json");
      writeFileSync(file, JSON.stringify({ name: "m.test", port: await freePort(), listen: ["127.0.0.1"], kernel: false, register: false, control: false, peers: [] }));
      const r = spawnSync(join(BIN, "deno"), ["run", "-A", "--quiet", CLI, "daemon", "--config", file], { encoding: "utf8", timeout: 20000 });
      assert.is(r.status, 1, r.stderr);
      assert.equal(notJson(r.stderr).length, 1, r.stderr);
      assert.match(r.stderr, /cannot start node m\.test: cannot bind UDP 127\.0\.0\.1 .*--unstable-net/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
