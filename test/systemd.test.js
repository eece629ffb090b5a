// The systemd units (systemd/handover.service, systemd/handover@.service):
// what a container allows of them: systemd-analyze verify (no warning), the
// capabilities (CAP_NET_ADMIN and CAP_NET_RAW instead of full root), reload
// by SIGHUP, and an ExecStart the CLI accepts. test/e2e/daemon.test.js runs
// the daemon with exactly this capability set.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const runtime = typeof Deno !== "undefined" ? "deno" : typeof Bun !== "undefined" ? "bun" : "node";
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const { COMMANDS } = await import("../dist/hosts/shared/cli.js");
const { parseCommand } = await import("../dist/hosts/shared/args.js");
const UNITS = ["handover.service", "handover@.service"];
const text = (u) => readFileSync(join(ROOT, "systemd", u), "utf8");

/** section -> key -> values (a key may repeat). */
function parse(unit) {
  const out = {};
  let section = null;
  for (const raw of text(unit).split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) {
      section = out[s[1]] = {};
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    assert.ok(section && kv, `${unit}: cannot read '${line}'`);
    (section[kv[1]] ??= []).push(kv[2]);
  }
  return out;
}

test(`${runtime}: systemd-analyze verify accepts both units without a warning`, () => {
  const which = spawnSync("sh", ["-c", "command -v systemd-analyze"], { encoding: "utf8" }).stdout.trim();
  assert.ok(which, "systemd-analyze is missing: sh scripts/install-system.sh installs it (package systemd)");
  for (const u of UNITS) {
    const r = spawnSync("systemd-analyze", ["verify", join(ROOT, "systemd", u)], { encoding: "utf8" });
    assert.is(r.status, 0, `${u}: ${r.stderr}`);
    assert.is(r.stderr.trim(), "", `${u}: warnings`);
  }
});

test(`${runtime}: the units run the daemon with CAP_NET_ADMIN and CAP_NET_RAW only, reload on SIGHUP`, () => {
  for (const u of UNITS) {
    const { Unit, Service, Install } = parse(u);
    assert.ok(Unit && Service && Install, `${u}: [Unit], [Service], [Install]`);
    assert.equal(Service.CapabilityBoundingSet, ["CAP_NET_ADMIN CAP_NET_RAW"], `${u}: CapabilityBoundingSet`);
    assert.equal(Service.AmbientCapabilities, ["CAP_NET_ADMIN CAP_NET_RAW"], `${u}: AmbientCapabilities`);
    assert.equal(Service.NoNewPrivileges, ["yes"]);
    assert.equal(Service.ExecReload, ["/bin/kill -HUP $MAINPID"]);
    assert.equal(Service.RuntimeDirectory, ["handover"], "the control sockets' directory");
    assert.equal(Service.RuntimeDirectoryPreserve, ["yes"], "stopping one node keeps the others' sockets");
    assert.equal(Service.ReadWritePaths, ["/run/handover"]);
    assert.not.ok(Service.MemoryDenyWriteExecute, "the runtimes' JIT needs writable code");
    assert.equal(Install.WantedBy, ["multi-user.target"]);
    // ExecStart is a command line the CLI accepts.
    const [exec] = Service.ExecStart;
    const argv = exec.split(/\s+/);
    assert.equal(argv.slice(0, 2), ["/usr/bin/env", "handover"]);
    const p = parseCommand(argv[2], COMMANDS[argv[2]], argv.slice(3));
    assert.is(argv[2], "daemon");
    assert.match(p.values.config, u.includes("@") ? /^\/etc\/handover\/%i\.json$/ : /^\/etc\/handover\/handover\.json$/);
  }
});

test(`${runtime}: handover.service is the template for one node (the two cannot drift apart)`, () => {
  const strip = (t) => t.split("\n").filter((l) => !l.startsWith("#")).join("\n");
  const single = strip(text("handover@.service")).replaceAll("/etc/handover/%i.json", "/etc/handover/handover.json").replace("handover node %i ", "handover node ");
  assert.is(strip(text("handover.service")), single);
});

test.run();
