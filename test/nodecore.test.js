// The Node host's compiled core (hosts/node/index.ts coreModule): every
// function compiled at load, none left for its first call on a transfer's
// critical path, and V8's lazy compilation back on afterwards for any other
// module in the process. Checked in a child Node with V8's test intrinsics
// (--allow-natives-syntax); a V8 flag is Node's business, so under Deno and
// Bun this file checks nothing. And the SID host's libc calls, bound when
// the host part is made (hosts/node/sid.ts), not at a transfer's dump; and
// detach's wait for Node's write buffer, without timer steps.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { tmpdir } from "node:os";

const isNode = typeof Deno === "undefined" && typeof Bun === "undefined";
const INDEX = fileURLToPath(new URL("../dist/hosts/node/index.js", import.meta.url));
const DENO_INDEX = fileURLToPath(new URL("../dist/hosts/deno/index.js", import.meta.url));
const DENO_CLI = fileURLToPath(new URL("../dist/hosts/deno/cli.js", import.meta.url));
const DENO = fileURLToPath(new URL("../node_modules/.bin/deno", import.meta.url));

// The smallest module with one exported function: (func (export "f")).
const TINY = [0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 4, 1, 2, 0, 11];

const CHILD = `
const { coreModule } = await import(${JSON.stringify(INDEX)});
const core = new WebAssembly.Instance(await coreModule(), {});
const fns = Object.values(core.exports).filter((f) => typeof f === "function");
const other = new WebAssembly.Instance(await WebAssembly.compile(new Uint8Array(${JSON.stringify(TINY)})), {});
console.log(JSON.stringify({ exports: fns.length, uncompiled: fns.filter((f) => %IsUncompiledWasmFunction(f)).length, otherUncompiled: %IsUncompiledWasmFunction(other.exports.f) }));
`;

if (isNode) {
  test("the core is compiled whole at load; a module compiled after it is lazy again", () => {
    const r = spawnSync(process.execPath, ["--allow-natives-syntax", "--input-type=module", "-e", CHILD], { encoding: "utf8" });
    assert.is(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.ok(out.exports > 100, `${out.exports} exported functions`);
    assert.is(out.uncompiled, 0, `${out.uncompiled} of ${out.exports} exports still to compile at their first call`);
    assert.is(out.otherUncompiled, true, "V8's lazy compilation is back on for the next module");
  });

  test("the Deno CLI's command line compiles the core whole at load (its shebang's V8 flags)", () => {
    // What the shebang of dist/hosts/deno/cli.js gives Deno, plus V8's test intrinsics to look.
    const shebang = readFileSync(DENO_CLI, "utf8").split("\n")[0];
    const v8 = /--v8-flags=(\S+)/.exec(shebang);
    assert.ok(v8, `no --v8-flags in ${shebang}`);
    const child = `
      const { coreModule } = await import(${JSON.stringify(DENO_INDEX)});
      const fns = Object.values(new WebAssembly.Instance(await coreModule(), {}).exports).filter((f) => typeof f === "function");
      console.log(JSON.stringify({ exports: fns.length, uncompiled: fns.filter((f) => %IsUncompiledWasmFunction(f)).length }));`;
    const file = join(mkdtempSync(join(tmpdir(), "handover-deno-")), "child.js");
    writeFileSync(file, child);
    const r = spawnSync(DENO, ["run", "-A", "--quiet", `--v8-flags=${v8[1]},--allow-natives-syntax`, file], { encoding: "utf8" });
    rmSync(dirname(file), { recursive: true });
    assert.is(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.ok(out.exports > 100, `${out.exports} exported functions`);
    assert.is(out.uncompiled, 0, `${out.uncompiled} of ${out.exports} exports still to compile at their first call under Deno`);
  });

  test("the SID host binds libc's TCP_REPAIR calls when it is made, not at the first dump or restore", async () => {
    const { repairCallsLoaded } = await import("../dist/hosts/node/tcprepair.js");
    const { nodeSidIO } = await import("../dist/hosts/node/sid.js");
    const { loadCore } = await import("../dist/hosts/node/index.js");
    assert.is(repairCallsLoaded(), false, "nothing bound before");
    nodeSidIO(await loadCore());
    assert.is(repairCallsLoaded(), true);
  });

  test("detach waits for Node's write buffer without timer steps, then every written byte is in the kernel", async () => {
    const net = await import("node:net");
    const { detach } = await import("../dist/hosts/node/sid.js");
    let received = 0;
    const accepted = new Set();
    const server = net.createServer((s) => {
      accepted.add(s);
      s.on("data", (d) => (received += d.length));
    });
    const real = globalThis.setTimeout;
    let socket;
    try {
      await new Promise((r) => server.listen(0, "127.0.0.1", r));
      socket = net.connect(server.address().port, "127.0.0.1");
      await new Promise((r) => socket.once("connect", r));
      const total = 8 * 1024 * 1024;
      socket.write(new Uint8Array(total));
      assert.ok(socket.writableLength > 0, "Node still holds written bytes");
      let fired = 0;
      globalThis.setTimeout = (fn, ...rest) => real(() => { fired++; fn(); }, ...rest);
      let fd;
      try {
        fd = await detach(socket);
      } finally {
        globalThis.setTimeout = real;
      }
      assert.is(socket.writableLength, 0);
      assert.is(fired, 0, `${fired} timer wake-ups while waiting`);
      assert.ok(fd > 0);
      socket.destroy();
      for (let i = 0; received < total && i < 200; i++) await new Promise((r) => real(r, 10));
      assert.is(received, total);
    } finally {
      socket?.destroy();
      server.close();
      for (const s of accepted) s.destroy();
    }
  });
}

test.run();
