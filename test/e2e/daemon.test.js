// The daemon on a real kernel, as an operator runs it, with exactly the
// capabilities its systemd unit grants (CAP_NET_ADMIN, CAP_NET_RAW; no other
// root power): stderr is JSON only (libxtables' own writes to fd 2 included),
// the table says what it is in `nft list`, a second daemon for the node is
// refused and leaves the first one's kernel state alone, SIGHUP reloads, and
// `handover down` removes what a killed daemon left (table, addresses on lo,
// route, socket and pid files). Without CAP_NET_ADMIN the start fails with
// one line. Runs in a namespace it creates (hov-<tag>dm) and removes.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { e2eEnabled, launcher, runtime, tagOf } from "./_e2e.js";

const rt = runtime();
const CAPS = "-all,+net_admin,+net_raw"; // the unit's CapabilityBoundingSet
// process.kill, not child.kill(): Deno's child.kill() sends one signal per child, then no more.
const signal = (child, name) => {
  try {
    process.kill(child.pid, name);
  } catch {
    // already gone
  }
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const notJson = (text) =>
  text.split("\n").filter((l) => {
    if (!l.trim()) return false;
    try {
      return typeof JSON.parse(l) !== "object";
    } catch {
      return true;
    }
  });

if (e2eEnabled()) {
  test(`${rt}: the daemon under its unit's capabilities: JSON logs, one daemon per node, SIGHUP, down`, async () => {
    const ns = `hov-${tagOf("dm")}`;
    const sh = (cmd, args, opts = {}) => spawnSync(cmd, args, { encoding: "utf8", timeout: 30000, ...opts });
    const inNs = (caps, args) => ["ip", ["netns", "exec", ns, "setpriv", `--bounding-set=${caps}`, "--inh-caps=-all", "--", ...args]];
    const must = (cmd, args) => {
      const r = sh(cmd, args);
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };
    const nsRun = (args) => sh("ip", ["netns", "exec", ns, ...args]);
    const dir = mkdtempSync(join(tmpdir(), "handover-e2e-daemon-"));
    const control = join(dir, "m.sock");
    const pidFile = join(dir, "m.pid");
    const file = join(dir, "m.json");
    const cli = launcher();
    spawnSync("ip", ["netns", "del", ns]);
    must("ip", ["netns", "add", ns]);
    let first;
    try {
      must("ip", ["-n", ns, "link", "set", "lo", "up"]);
      must("ip", ["-n", ns, "link", "add", "dm0", "type", "veth", "peer", "name", "dm1"]);
      must("ip", ["-n", ns, "address", "add", "198.18.40.1/24", "dev", "dm0"]);
      must("ip", ["-n", ns, "link", "set", "dm0", "up"]);
      must("ip", ["-n", ns, "link", "set", "dm1", "up"]);
      const cfg = (peers) => ({
        name: "m.test", control, log: "debug", listen: ["198.18.40.1"],
        peers: peers.map((n, i) => ({ name: n, address: "198.18.40.2", sa: [{ spi: 256 + i, key: "5a".repeat(32) }] })),
      });
      writeFileSync(file, JSON.stringify(cfg(["f.test"])));
      const kernelState = () => ({
        table: nsRun(["nft", "list", "table", "inet", "handover"]).status === 0,
        lo: /198\.18\.40\.1\/32/.test(nsRun(["ip", "address", "show", "dev", "lo"]).stdout),
        route: nsRun(["ip", "route", "show", "table", "all", "proto", "72"]).stdout.trim() !== "",
        socket: existsSync(control),
        pidFile: existsSync(pidFile),
      });

      const [cmd, args] = inNs(CAPS, [...cli, "daemon", "--config", file]);
      first = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      first.stderr.on("data", (b) => (stderr += b));
      const exited = new Promise((r) => first.on("exit", (code, signal) => r(code ?? signal)));
      const events = () => stderr.split("\n").filter(Boolean).flatMap((l) => {
        try {
          return [JSON.parse(l)];
        } catch {
          return [];
        }
      });
      const waitEvent = async (name, after = 0) => {
        for (let i = 0; i < 500; i++, await sleep(20)) {
          const e = events().slice(after).find((x) => x.event === name);
          if (e) return e;
        }
        throw new Error(`no '${name}' event; stderr:\n${stderr}`);
      };
      await waitEvent("started");
      assert.equal(kernelState(), { table: true, lo: true, route: true, socket: true, pidFile: true }, "what the daemon put in place");

      // The table says what it is.
      const listing = nsRun(["nft", "list", "table", "inet", "handover"]);
      assert.match(listing.stdout, /comment "handover daemon \(STEM session mobility\): its rules; remove with handover down"/);

      // A second daemon for the node: refused, one line, and the first one's state is untouched.
      const [c2, a2] = inNs(CAPS, [...cli, "daemon", "--config", file]);
      const second = sh(c2, a2);
      assert.is(second.status, 1, second.stderr);
      assert.equal(notJson(second.stderr).length, 1, second.stderr);
      assert.match(notJson(second.stderr)[0], /^handover: another daemon \(pid \d+\) already runs this node/);
      assert.equal(kernelState(), { table: true, lo: true, route: true, socket: true, pidFile: true }, "the second daemon deleted nothing");

      // Another node in the same network namespace (its kernel state would be the same table): refused too.
      const otherFile = join(dir, "o.json");
      writeFileSync(otherFile, JSON.stringify({ ...cfg(["f.test"]), name: "o.test", port: 4399, control: join(dir, "o.sock") }));
      const [c6, a6] = inNs(CAPS, [...cli, "daemon", "--config", otherFile]);
      const other = sh(c6, a6);
      assert.is(other.status, 1, other.stderr);
      assert.equal(notJson(other.stderr).length, 1, other.stderr);
      assert.match(notJson(other.stderr)[0], /^handover: another daemon \(pid \d+\) already owns this network namespace's kernel state \(table inet handover\); one node per network namespace/);
      assert.not.ok(existsSync(join(dir, "o.pid")) || existsSync(join(dir, "o.sock")), "the refused node left no files");
      assert.equal(kernelState(), { table: true, lo: true, route: true, socket: true, pidFile: true }, "the other node deleted nothing");

      // SIGHUP: one more peer, the same process. (The restart lists only the
      // maps now, not the chain whose hold rule makes libxtables write to fd 2;
      // whatever libnftables writes there is still caught as JSON.)
      writeFileSync(file, JSON.stringify(cfg(["f.test", "g.test"])));
      const before = events().length;
      signal(first, "SIGHUP");
      await waitEvent("reloaded", before);
      const state = sh(cli[0], [...cli.slice(1), "state", "--socket", control]);
      assert.is(state.status, 0, state.stderr);
      assert.is(JSON.parse(state.stdout).peers.length, 2);
      assert.equal(notJson(stderr), [], "every line on stderr is JSON");

      // Killed (no clean-up): its state stays; `down` removes it all.
      signal(first, "SIGKILL");
      await exited;
      await sleep(100);
      assert.equal(kernelState(), { table: true, lo: true, route: true, socket: true, pidFile: true }, "left behind by SIGKILL");
      const [c3, a3] = inNs(CAPS, [...cli, "down", "--config", file]);
      const down = sh(c3, a3);
      assert.is(down.status, 0, down.stderr);
      assert.match(down.stdout, /node m\.test is down/);
      assert.equal(notJson(down.stderr), [], down.stderr);
      assert.equal(kernelState(), { table: false, lo: false, route: false, socket: false, pidFile: false }, "after down");

      // Started again and stopped by SIGTERM with no session depending on its rules: it removes everything itself.
      const [c5, a5] = inNs(CAPS, [...cli, "daemon", "--config", file]);
      const again = spawn(c5, a5, { stdio: ["ignore", "ignore", "pipe"] });
      let againErr = "";
      again.stderr.on("data", (b) => (againErr += b));
      const againExit = new Promise((r) => again.on("exit", (code, sig) => r(code ?? sig)));
      for (let i = 0; i < 500 && !againErr.includes('"started"'); i++) await sleep(20);
      assert.equal(kernelState(), { table: true, lo: true, route: true, socket: true, pidFile: true }, "started again");
      signal(again, "SIGTERM");
      assert.is(await againExit, 0, againErr);
      assert.equal(kernelState(), { table: false, lo: false, route: false, socket: false, pidFile: false }, "after SIGTERM");
      assert.equal(notJson(againErr), [], againErr);

      // Without CAP_NET_ADMIN: exit 1 with one line, nothing left running or behind.
      const [c4, a4] = inNs("-all,+net_raw", [...cli, "daemon", "--config", file]);
      const started = Date.now();
      const noCap = sh(c4, a4);
      assert.is(noCap.status, 1, noCap.stderr);
      const lines = notJson(noCap.stderr);
      assert.equal(lines.length, 1, noCap.stderr);
      assert.match(lines[0], /^handover: cannot start node m\.test: .*(CAP_NET_ADMIN|root)/);
      assert.ok(Date.now() - started < 15000, "it did not hang");
      assert.not.ok(existsSync(pidFile) || existsSync(control), "no files left");
    } finally {
      first?.kill("SIGKILL");
      spawnSync("ip", ["netns", "del", ns]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
