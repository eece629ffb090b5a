// The configuration's one schema (hosts/shared/config.ts): unknown keys are
// refused with the nearest known key, errors name the field's path, unsafe
// node names are refused, key files are checked, weak settings warn; and the
// same schema types the library: a misspelt key or event name does not compile.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import dgram from "node:dgram";
import { mkdtempSync, writeFileSync, chmodSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const runtime = typeof Deno !== "undefined" ? "deno" : typeof Bun !== "undefined" ? "bun" : "node";
const host = await import(`../dist/hosts/${runtime}/index.js`);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const KEY = "5a".repeat(32);

/** A UDP port the kernel just handed out on 127.0.0.1 (then released). */
function freePort() {
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    s.bind(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const base = () => ({
  name: "m.test",
  kernel: false,
  control: false,
  register: false,
  listen: ["127.0.0.1"],
  port: 1,
  peers: [{ name: "f.test", address: "127.0.0.1", sa: [{ spi: 256, key: KEY }] }],
});

function refused(config, field, pattern) {
  try {
    host.checkConfig(config);
  } catch (e) {
    assert.instance(e, host.ConfigError);
    assert.is(e.field, field, `${e.message}: field`);
    if (pattern) assert.match(e.message, pattern);
    return e;
  }
  assert.unreachable(`accepted: ${JSON.stringify(config)}`);
}

test(`${runtime}: misspelt keys are refused at their path, with the key meant`, () => {
  refused({ ...base(), lgo: "debug" }, "lgo", /unknown key \(did you mean 'log'\?\)/);
  refused({ ...base(), kernal: false }, "kernal", /did you mean 'kernel'/);
  const c = base();
  c.peers[0].adress = "127.0.0.2";
  refused(c, "peers[0].adress", /did you mean 'address'/);
  const d = base();
  d.peers[0].sa[0].skew = 10;
  refused(d, "peers[0].sa[0].skew", /did you mean 'skewMs'/);
  refused({ ...base(), options: { windowBitz: 7 } }, "options.windowBitz", /unknown option \(did you mean 'windowBits'\?\)/);
});

test(`${runtime}: wrong values name the field and what it takes`, () => {
  const c = base();
  c.peers[0].sa[0].spi = 7;
  refused(c, "peers[0].sa[0].spi", /256 or more .*got 7/);
  refused({ ...base(), port: "4346" }, "port", /1-65535 \(got "4346"\)/);
  refused({ ...base(), log: "verbose" }, "log", /one of "debug", "info", "warn", "error"/);
  refused({ ...base(), options: { windowBits: -1 } }, "options.windowBits", /an integer 64-4096, a multiple of 64 \(default 256\) \(got -1\)/);
  refused({ ...base(), options: { windowBits: 100 } }, "options.windowBits", /a multiple of 64 .*got 100/);
  refused({ ...base(), options: { debug: 2 } }, "options.debug", /0 or 1 \(default 0\) \(got 2\)/);
  refused({ ...base(), options: { registrationLifetimeS: 65536 } }, "options.registrationLifetimeS", /an integer 0-65535/);
  const d = base();
  d.peers[0].sa[0].algorithm = "HMAC_SHA265";
  refused(d, "peers[0].sa[0].algorithm", /did you mean 'HMAC_SHA256'/);
  const e = base();
  delete e.peers[0].sa;
  refused(e, "peers[0].sa", /missing/);
});

test(`${runtime}: node names that are not plain names are refused (they become file names)`, () => {
  for (const name of ["x/../../etc/evil", "..", "a/b", "../x", "a..b", "", ".hidden", "a\\b", "a b", "a\0b"]) {
    refused({ ...base(), name }, "name", /no '\/' and no '\.\.'/);
  }
  const c = base();
  c.peers[0].name = "../../f";
  refused(c, "peers[0].name");
  for (const name of ["m.example.net", "node-1", "a_b.test", "x"]) assert.is(host.checkConfig({ ...base(), name }).config.name, name);
});

test(`${runtime}: weak settings start, with a warning naming the field`, () => {
  const c = base();
  c.peers[0].sa[0].algorithm = "HMAC_MD5";
  const { warnings } = host.checkConfig(c);
  assert.equal(warnings.map((w) => w.field), ["peers[0].sa[0].algorithm"]);
  assert.match(warnings[0].message, /HMAC_MD5 is weak/);
  assert.equal(host.checkConfig(base()).warnings, [], "no warning for the default algorithm");
});

test(`${runtime}: key files: a missing one is a clear error, a world-readable one warns (logged at start)`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "handover-config-"));
  try {
    const missing = join(dir, "nope.key");
    const c = base();
    c.peers[0].sa[0].key = `file:${missing}`;
    const err = await host.start(c).then(() => null, (e) => e);
    assert.instance(err, host.ConfigError);
    assert.is(err.field, "peers[0].sa[0].key");
    assert.match(err.message, new RegExp(`cannot read the key file ${missing} \\(.+\\); make one with: handover keygen > ${missing}`));

    const open = join(dir, "open.key");
    writeFileSync(open, KEY + "\n");
    chmodSync(open, 0o644);
    const closed = join(dir, "closed.key");
    writeFileSync(closed, KEY + "\n");
    chmodSync(closed, 0o600);
    for (const [file, expect] of [[open, 1], [closed, 0]]) {
      const logs = [];
      const io = new host[{ node: "NodeIO", deno: "DenoIO", bun: "BunIO" }[runtime]]();
      io.log = (line) => logs.push(JSON.parse(line));
      const d = base();
      d.peers[0].sa[0].key = `file:${file}`;
      d.port = await freePort();
      const node = await host.Daemon.start(io, await host.loadCore(), d);
      await node.close();
      const warned = logs.filter((l) => l.event === "config-warning");
      assert.is(warned.length, expect, `${file}: ${JSON.stringify(warned)}`);
      if (expect) {
        assert.is(warned[0].field, "peers[0].sa[0].key");
        assert.match(warned[0].message, new RegExp(`accessible to every user \\(mode 0644\\); run: chmod 600 ${open}`));
        assert.equal(node.warnings.map((w) => w.field), ["peers[0].sa[0].key"]);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The compile check needs TypeScript; once (under Node) is enough: the types are the same files.
if (runtime === "node") {
  test("node: start() and on() are typed: a misspelt key or event name does not compile", () => {
    const dir = mkdtempSync(join(ROOT, ".types-"));
    try {
      const app = (body) =>
        `import { start } from "handover";\nexport async function main(): Promise<void> {\n${body}\n}\n`;
      const good = `  const node = await start({ name: "m.example.net", peers: [{ name: "f.example.net", address: "198.18.9.2", sa: [{ spi: 256, key: "env:K" }] }] });
  node.on("migration", (e) => console.log(e.state));
  node.on("*", (e) => console.log(e.event));
  await node.close();`;
      writeFileSync(join(dir, "good.ts"), app(good));
      writeFileSync(join(dir, "key.ts"), app(`  await start({ nmae: "x", peers: [] });`));
      writeFileSync(join(dir, "event.ts"), app(`  const node = await start({ name: "x", peers: [] });\n  node.on("migraton", () => {});`));
      const tsc = join(ROOT, "node_modules/.bin/tsc");
      assert.ok(existsSync(tsc), "TypeScript is a devDependency (npm install)");
      const compile = (file) => {
        writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
          files: [file],
          compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true, types: [] },
        }));
        const r = spawnSync(tsc, ["-p", join(dir, "tsconfig.json")], { cwd: dir, encoding: "utf8" });
        return { status: r.status, out: (r.stdout ?? "") + (r.stderr ?? "") };
      };
      const ok = compile("good.ts");
      assert.is(ok.status, 0, `the correct program compiles:\n${ok.out}`);
      const key = compile("key.ts");
      assert.is.not(key.status, 0, "start({ nmae }) compiles");
      assert.match(key.out, /key\.ts.*'nmae'/);
      const event = compile("event.ts");
      assert.is.not(event.status, 0, "on(\"migraton\") compiles");
      assert.match(event.out, /event\.ts.*"migraton"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
