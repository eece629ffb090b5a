// The three runtime hosts side by side, one table (run with node; it spawns
// node, deno and bun itself):
//
//   node bench/hosts.js [--runs N] [--no-migration]
//
// Rows:
//   start-up       spawn -> "ready" of a tiny start() script (bench/_host_probe.js: load the
//                  host, compile the core, start a daemon on 127.0.0.1), median of --runs * 3;
//                  and the CLI's `version` to exit
//   control msg/s  bench/control.js in each runtime: a Registration Request through the core's ABI
//                  (decode, verify, replay, reply, sign), no sockets
//   UDP RTT        two daemons in one process on 127.0.0.1: a registration request -> reply
//                  processed, median of --runs * 600 (after 100 warm-up each; both ends' work, two hops)
//   blackout       runStem make-before-break, both daemons in the runtime (root; namespaces):
//                  the application's longest receive gap (maxGap), median of --runs
// Each row's ratio is against the best runtime of that row (1.00x = best). Then each host's
// line count beside the core's. Numbers only: nothing here asserts a time.
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import dgram from "node:dgram";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const argv = process.argv.slice(2);
const RUNS = Number(argv[argv.indexOf("--runs") + 1] || 0) || 3;
const MIGRATION = !argv.includes("--no-migration");
const bin = (n) => join(ROOT, "node_modules", ".bin", n);
const RT = ["node", "deno", "bun"];
const RUN = {
  node: [process.execPath],
  deno: [bin("deno"), "run", "--allow-all", "--unstable-net", "--quiet"],
  bun: [bin("bun")],
};
const CLI = Object.fromEntries(RT.map((r) => [r, [...RUN[r], join(ROOT, `dist/hosts/${r}/cli.js`)]]));
const VERSION = Object.fromEntries(RT.map((r) => {
  const v = spawnSync(RUN[r][0], ["--version"], { encoding: "utf8" }).stdout.split("\n")[0].trim();
  return [r, `${r} ${/(\d+\.\d+\.\d+)/.exec(v)?.[1] ?? v}`];
}));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const now = () => performance.now();

async function freePorts(n) {
  const socks = await Promise.all(Array.from({ length: n }, () => new Promise((r) => {
    const s = dgram.createSocket("udp4");
    s.bind(0, "127.0.0.1", () => r(s));
  })));
  const ports = socks.map((s) => s.address().port);
  await Promise.all(socks.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** ms from spawn until a stdout line matches (or the process exits, if until is null). */
function timeSpawn(cmd, until) {
  return new Promise((resolve, reject) => {
    const t = now();
    const p = spawn(cmd[0], cmd.slice(1), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let done = false;
    p.stdout.on("data", (d) => {
      out += d;
      if (until && !done && until.test(out)) {
        done = true;
        resolve(now() - t);
      }
    });
    p.stderr.on("data", (d) => (err += d));
    p.on("exit", (code) => {
      if (done) return;
      if (!until && code === 0) resolve(now() - t);
      else reject(new Error(`${cmd.join(" ")}: exit ${code}: ${err}`));
    });
  });
}

function runOut(cmd) {
  const r = spawnSync(cmd[0], cmd.slice(1), { cwd: ROOT, encoding: "utf8", maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

const rows = [];
const row = (name, unit, better, values, note = "") => rows.push({ name, unit, better, values, note });

// ---- start-up ----
{
  const ready = {};
  const version = {};
  for (const r of RT) {
    ready[r] = [];
    version[r] = [];
  }
  for (let i = 0; i < RUNS * 3; i++) {
    // interleaved, so that a burst of load elsewhere hits every runtime alike
    for (const r of RT) {
      const [p] = await freePorts(1);
      ready[r].push(await timeSpawn([...RUN[r], join(ROOT, "bench/_host_probe.js"), "start", String(p)], /"ready":true/));
      version[r].push(await timeSpawn([...CLI[r], "version"], null));
    }
  }
  row("start-up: spawn -> start() ready", "ms", "low", Object.fromEntries(RT.map((r) => [r, median(ready[r])])));
  row("start-up: CLI `version`, spawn -> exit", "ms", "low", Object.fromEntries(RT.map((r) => [r, median(version[r])])));
}

// ---- control messages per second through the core ----
{
  const v = {};
  for (const r of RT) {
    const out = runOut([...RUN[r], join(ROOT, "bench/control.js")]);
    const m = /^core:.*?\s(\d+)\s+(\d+)\s+[\d.]+x$/m.exec(out);
    if (!m) throw new Error(`bench/control.js under ${r}: no core row in\n${out}`);
    v[r] = Number(m[2]);
  }
  row("control msgs through the core (bench/control.js)", "msg/s", "high", v);
}

// ---- UDP control round trip ----
{
  const samples = Object.fromEntries(RT.map((r) => [r, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const r of RT) {
      const [pa, pb] = await freePorts(2);
      const out = runOut([...RUN[r], join(ROOT, "bench/_host_probe.js"), "rtt", String(pa), String(pb), "700"]);
      samples[r].push(...JSON.parse(out.trim().split("\n").pop()).rtt.slice(100));
    }
  }
  row("UDP registration RTT, 127.0.0.1, two daemons", "µs", "low", Object.fromEntries(RT.map((r) => [r, median(samples[r]) * 1000])));
}

// ---- migration blackout ----
const isRoot = process.getuid?.() === 0;
if (MIGRATION && isRoot) {
  const { runStem } = await import("../dist/demo/stem.js");
  const gap = {};
  const elapsed = {};
  for (const r of RT) {
    gap[r] = [];
    elapsed[r] = [];
  }
  for (let i = 0; i < RUNS; i++) {
    for (const r of RT) {
      const rep = await runStem({ mode: "make-before-break", launcher: { m: CLI[r], f: CLI[r] }, tag: `bh${process.pid % 10000}` });
      const ok = rep.digestsEqual && rep.lost === 0 && rep.resets === 0 && rep.migrations.every((m) => m.state === "completed");
      if (!ok) console.error(`  (${r} run ${i + 1}: lost ${rep.lost}, resets ${rep.resets}, digests ${rep.digestsEqual}, ${rep.migrations.map((m) => m.state)})`);
      gap[r].push(rep.blackoutMs);
      elapsed[r].push(rep.migrations[0]?.elapsedMs ?? NaN);
    }
  }
  row("migration blackout (maxGap), make-before-break", "ms", "low", Object.fromEntries(RT.map((r) => [r, median(gap[r])])),
    `runs: ${RT.map((r) => `${r} ${gap[r].map((x) => x.toFixed(0)).join("/")}`).join("; ")}`);
  row("migration: request -> completed (elapsedMs)", "ms", "low", Object.fromEntries(RT.map((r) => [r, median(elapsed[r])])));
} else {
  row("migration blackout (maxGap), make-before-break", "ms", "low", {}, MIGRATION ? "not measured: needs root (network namespaces)" : "not measured (--no-migration)");
}

// ---- the table ----
const fmt = (x, unit) => (x === undefined ? "n/a" : unit === "msg/s" ? Math.round(x).toLocaleString("en-US") : x.toFixed(unit === "µs" ? 0 : 1));
const W = 50;
console.log(`\nhandover hosts, side by side (${RT.map((r) => VERSION[r]).join(", ")}; medians; ratio to the best of each row)\n`);
console.log("row".padEnd(W) + RT.map((r) => r.padStart(22)).join("") + "   worst/best");
for (const { name, unit, better, values, note } of rows) {
  const xs = RT.map((r) => values[r]).filter((x) => x !== undefined);
  const best = better === "low" ? Math.min(...xs) : Math.max(...xs);
  const ratio = (x) => (better === "low" ? x / best : best / x);
  const cells = RT.map((r) => (values[r] === undefined ? "n/a" : `${fmt(values[r], unit)} ${unit} ${ratio(values[r]).toFixed(2)}x`).padStart(22));
  const worst = xs.length ? Math.max(...xs.map(ratio)) : NaN;
  console.log(name.padEnd(W) + cells.join("") + `   ${Number.isNaN(worst) ? "" : worst.toFixed(2) + "x"}${worst > 1.5 ? "  (> 1.5x)" : ""}`);
  if (note) console.log(" ".repeat(4) + note);
}

// ---- line counts ----
const wc = (f) => readFileSync(f, "utf8").split("\n").length - 1;
const files = (dir, re) => {
  const out = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...files(p, re));
    else if (re.test(n)) out.push(p);
  }
  return out;
};
const core = files(join(ROOT, "core/assembly"), /\.ts$/).filter((f) => !f.includes("/generated/"));
const coreLines = core.reduce((n, f) => n + wc(f), 0);
const shared = files(join(ROOT, "hosts/shared"), /\.ts$/).filter((f) => !f.endsWith("registry.ts"));
console.log(`\nlines: core/assembly ${coreLines} (${core.length} files, without generated/); hosts/shared ${shared.reduce((n, f) => n + wc(f), 0)} (without the generated registry.ts)`);
for (const r of RT) {
  const fs = files(join(ROOT, "hosts", r), /\.ts$/);
  const total = fs.reduce((n, f) => n + wc(f), 0);
  const decl = fs.filter((f) => f.endsWith(".d.ts")).reduce((n, f) => n + wc(f), 0);
  console.log(`  hosts/${r}: ${total} lines = ${(100 * total / coreLines).toFixed(1)}% of the core (${fs.map((f) => `${f.split("/").pop()} ${wc(f)}`).join(", ")})${decl ? `; ${total - decl} without type declarations` : ""}`);
}
