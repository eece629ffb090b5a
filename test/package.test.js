// The npm package as a user gets it: `npm pack`, the tarball installed into
// an empty project (its dependency, koffi, from the registry), then a small
// application (`import { start } from "handover"`) and `handover --version`,
// in whichever runtime runs this file. The install is cached per tarball
// (by its SHA-256) in the temporary directory, so the three runtimes of one
// run share it and a changed package gets a fresh one.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const runtime = typeof Deno !== "undefined" ? "deno" : typeof Bun !== "undefined" ? "bun" : "node";
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "node_modules/.bin");
const VERSION = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;

function sh(cmd, args, cwd, what) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 180000, env: { ...process.env, NO_COLOR: "1", npm_config_update_notifier: "false" } });
  if (r.status !== 0) throw new Error(`${what}: ${cmd} ${args.join(" ")} exited ${r.status ?? r.signal}\n${r.stdout}${r.stderr}${r.error ?? ""}`);
  return r.stdout;
}

// Pack (without the build: the test runner built it already; pretest does).
const packDir = mkdtempSync(join(tmpdir(), "handover-pack-"));
const packed = JSON.parse(sh("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", packDir], ROOT, "npm pack"))[0];
const tarball = join(packDir, packed.filename);
const sha = createHash("sha256").update(readFileSync(tarball)).digest("hex").slice(0, 16);
const files = packed.files.map((f) => f.path);

/** The project with the tarball installed: made once per tarball, then reused. */
function installed() {
  const app = join(tmpdir(), `handover-package-${sha}`);
  if (existsSync(join(app, "node_modules/handover/package.json"))) return app;
  // Older installs (other tarballs) go; this one is built aside, then moved in place.
  for (const name of readdirSync(tmpdir())) if (name.startsWith("handover-package-")) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  const building = mkdtempSync(join(tmpdir(), "handover-building-"));
  writeFileSync(join(building, "package.json"), JSON.stringify({ name: "handover-user-app", private: true, type: "module" }));
  mkdirSync(join(building, "pkg"));
  renameSync(tarball, join(building, "pkg", packed.filename));
  sh("npm", ["install", "--no-audit", "--no-fund", join(building, "pkg", packed.filename)], building, "npm install of the tarball");
  writeFileSync(join(building, "app.js"), `import { start, loadCore } from "handover";
const core = await loadCore();
const node = await start({ name: "app.test", port: Number(process.argv[2]), listen: ["127.0.0.1"], kernel: false, control: false, register: false, log: "warn", peers: [] });
console.log(JSON.stringify({ cookie: core.cookieFromName("m.demo"), runtime: node.io.runtime, resolved: import.meta.resolve("handover") }));
await node.close();
`);
  renameSync(building, app);
  return app;
}

test(`${runtime}: the tarball holds what a user needs, and nothing else`, () => {
  for (const f of ["package.json", "README.md", "LICENSE", "build/handover.wasm", "systemd/handover.service", "systemd/handover@.service", "docs/USAGE.md", "tools/traffic.js"]) {
    assert.ok(files.includes(f), `${f} is in the package`);
  }
  for (const rt of ["node", "deno", "bun"]) {
    for (const f of ["index.js", "index.d.ts", "cli.js", "io.js"]) assert.ok(files.includes(`dist/hosts/${rt}/${f}`), `dist/hosts/${rt}/${f}`);
  }
  assert.ok(files.includes("dist/hosts/bun/watch.js"), "the Bun host's watch worker");
  const unwanted = files.filter((f) => /^(test|bench|conformance|core|scripts|\.ci|hosts\/[a-z]+\/[^/]+\.ts$)|\.map$|\.wat$|debug\.wasm$|^dist\/(conformance|scripts)\//.test(f));
  assert.equal(unwanted, [], "tests, benchmarks, vectors, sources, maps, CI");
  assert.match(readFileSync(join(ROOT, "LICENSE"), "utf8"), /^MIT License/);
  // A ceiling that catches a stray folder or a debug build, not growth of the core: 401,557 bytes on 2026-12-02 (wasm 511 KB unpacked, PROTOCOL.md 169 KB).
  assert.ok(packed.size < 460_000, `the tarball is ${packed.size} bytes`);
});

test(`${runtime}: installed from the tarball, import { start } from "handover" and handover --version work`, async () => {
  const app = installed();
  const port = 20000 + (process.pid % 20000);
  const [cmd, args] = {
    node: [process.execPath, ["app.js", String(port)]],
    deno: [join(BIN, "deno"), ["run", "-A", "--unstable-net", "--quiet", "app.js", String(port)]],
    bun: [join(BIN, "bun"), ["app.js", String(port)]],
  }[runtime];
  const out = JSON.parse(sh(cmd, args, app, `${runtime} app.js`).trim().split("\n").pop());
  assert.is(out.cookie, "c3ec570dcd36", "the core from the package's own wasm");
  assert.is(out.runtime, runtime, "the package's exports map picks this runtime's host");
  assert.is(out.resolved, `file://${app}/node_modules/handover/dist/hosts/${runtime}/index.js`, "resolved inside the installed package");

  const [vcmd, vargs] = {
    node: ["npx", ["--no-install", "handover", "--version"]],
    deno: [join(BIN, "deno"), ["run", "-A", "--unstable-net", "--quiet", "node_modules/handover/dist/hosts/deno/cli.js", "--version"]],
    bun: [join(BIN, "bun"), ["node_modules/handover/dist/hosts/bun/cli.js", "--version"]],
  }[runtime];
  assert.match(sh(vcmd, vargs, app, "handover --version"), new RegExp(`^handover ${VERSION.replace(/\./g, "\\.")} \\(protocol version 1, ABI 1, ${runtime}\\)`));
});

test.after(() => rmSync(packDir, { recursive: true, force: true }));

test.run();
