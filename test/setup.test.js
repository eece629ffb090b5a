// README's set-up command installs everything the tests need: README and CI
// both run scripts/install-system.sh, which installs the one list
// (scripts/system-packages.txt); every command that the tests, tools and
// demo run comes from a package on that list or from one Debian always has.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, statSync, existsSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const runtime = typeof Deno !== "undefined" ? "deno" : typeof Bun !== "undefined" ? "bun" : "node";
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const read = (f) => readFileSync(join(ROOT, f), "utf8");
const LISTED = read("scripts/system-packages.txt").split("\n").map((l) => l.replace(/#.*/, "").trim()).filter(Boolean);

function sources(dir) {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) return sources(rel);
    return /\.(js|ts)$/.test(name) ? [rel] : [];
  });
}

/** Commands the code runs: spawn("x", ...), and argv arrays handed to a namespace (topo.ns(ns, ["x", ...])). */
function commandsRun() {
  const found = new Map();
  for (const f of ["test", "tools", "demo"].flatMap(sources).filter((f) => f !== "test/setup.test.js")) {
    const text = read(f);
    const patterns = [
      /\b(?:spawn|spawnSync|execFileSync|sh|must)\(\s*"((?:\/usr\/s?bin\/)?[a-z][\w.-]*)"/g,
      /\b(?:ns|spawn|nsRun|inNs)\(\s*(?:[\w.]+\s*,\s*)?\[\s*"((?:\/usr\/s?bin\/)?[a-z][\w.-]*)"/g,
    ];
    for (const re of patterns) for (const m of text.matchAll(re)) if (!found.has(m[1])) found.set(m[1], f);
  }
  for (const c of ["npm", "npx"]) found.delete(c); // Node.js itself
  return found;
}

/** The Debian package that owns a command on PATH (usrmerge: /usr/sbin/ip is /sbin/ip to dpkg). */
function packageOf(command) {
  // The program spawn() would run: the first on PATH (not a shell builtin of the same name, e.g. kill).
  // A command given by its path (the demo names /usr/bin/python3, so that no other python3 on PATH is taken) is that file.
  const which = command.startsWith("/") ? (existsSync(command) ? command : undefined) : (process.env.PATH ?? "/usr/bin:/bin").split(":").map((d) => join(d, command)).find((p) => existsSync(p) && !statSync(p).isDirectory());
  if (!which) return null;
  for (const path of new Set([which, realpathSync(which), which.replace(/^\/usr\//, "/"), realpathSync(which).replace(/^\/usr\//, "/")])) {
    const r = spawnSync("dpkg", ["-S", path], { encoding: "utf8" });
    const owner = r.status === 0 && r.stdout.split("\n").find((l) => !l.startsWith("diversion"));
    if (owner) return owner.split(":")[0];
  }
  return "(not from a package)";
}

const essential = (pkg) => spawnSync("dpkg-query", ["-W", "-f=${Essential} ${Priority}", pkg], { encoding: "utf8" }).stdout.trim();

test(`${runtime}: README's set-up command and CI install the one list`, () => {
  const readme = read("README.md");
  const setup = readme.split("\n").find((l) => l.includes("npx handover demo stem") && l.includes("&&"));
  assert.ok(setup, "README has the set-up command");
  assert.match(setup, /^sh scripts\/install-system\.sh && npm install && /, setup);
  assert.not.match(readme, /apt-get install/, "README lists no packages of its own");
  const ci = read(".ci/run");
  assert.match(ci, /sh scripts\/install-system\.sh/);
  assert.not.match(ci, /apt-get install/, ".ci/run lists no packages of its own");
  assert.match(read("scripts/install-system.sh"), /system-packages\.txt/);
  for (const p of ["nftables", "iproute2", "tcpdump"]) assert.ok(LISTED.includes(p), `${p} is listed`);
});

test(`${runtime}: every command the tests and tools run is installed by the set-up command`, () => {
  const hasDpkg = spawnSync("sh", ["-c", "command -v dpkg"], { encoding: "utf8" }).stdout.trim();
  assert.ok(hasDpkg, "this check reads the Debian package database (Debian or Ubuntu)");
  const problems = [];
  const commands = commandsRun();
  assert.ok(commands.has("ip") && commands.has("tcpdump"), `found the commands: ${[...commands.keys()]}`);
  for (const [command, file] of commands) {
    const pkg = packageOf(command);
    if (pkg === null) problems.push(`${command} (run by ${file}) is not installed: add its package to scripts/system-packages.txt and run sh scripts/install-system.sh`);
    else if (!LISTED.includes(pkg) && !/^yes/.test(essential(pkg))) problems.push(`${command} (run by ${file}) comes from ${pkg}, which scripts/system-packages.txt does not list`);
  }
  assert.equal(problems, []);
  assert.ok(existsSync("/usr/lib/x86_64-linux-gnu/libnftables.so.1") || existsSync("/usr/lib/aarch64-linux-gnu/libnftables.so.1") || existsSync("/lib/x86_64-linux-gnu/libnftables.so.1"), "libnftables.so.1 (nftables)");
});

test.run();
