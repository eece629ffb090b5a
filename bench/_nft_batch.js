// One libnftables batch alone (nft_run_cmd_from_buffer through koffi, as the
// Node host calls it), at growing table sizes: what a migration's kernel step
// costs next to N elements, and next to N per-move quotas in each of the two
// ways to write them (issue 11).
//
//   sudo node bench/_nft_batch.js [--sizes 0,1000,10000,100000] [--reps 200] [--modes elements,named,element-quota]
//
// Modes (each in a table of its own, in a network namespace of its own):
//   elements       N elements in a counted map (ri4-like); the batch adds one
//                  element, the next batch deletes it
//   named          N named quota objects, each named by an element of an
//                  objref map (rq4 as stem/nft.ts wrote it: `quota name ... map
//                  @rq4`); the batch is a move's: add quota + add element naming it
//                  + add element to the counted map; then delete all three
//   named-other    N named quotas as in `named`, and the batch is one that touches no
//                  quota (a validated move's: the counted map's element alone)
//   element-quota  the same moves in a set whose declaration carries the quota
//                  (`quota over B bytes;`: every element gets its own); the
//                  batch adds the element (and the counted map's); then deletes them
//
// Prints per mode and size the p50 / p99 of the add batch and of the delete batch (ms).

import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const SIZES = opt("--sizes", "0,1000,10000,100000").split(",").map(Number);
const REPS = Number(opt("--reps", "200"));
const MODES = opt("--modes", "elements,named,named-other,element-quota").split(",");
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

if (!args.includes("--child")) {
  const ns = `${process.env.HANDOVER_TAG ?? ""}nftb`;
  spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  try {
    const r = spawnSync("ip", ["netns", "add", ns], { stdio: "inherit" });
    if (r.status !== 0) throw new Error("ip netns add failed");
    const c = spawnSync("ip", ["netns", "exec", ns, process.execPath, fileURLToPath(import.meta.url), ...args, "--child"], { stdio: "inherit" });
    process.exitCode = c.status ?? 1;
  } finally {
    spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  }
} else {
  const require = createRequire(import.meta.url);
  const koffi = require("koffi");
  const lib = koffi.load("libnftables.so.1");
  const f = {
    new: lib.func("void *nft_ctx_new(uint32_t)"),
    bufferOutput: lib.func("int nft_ctx_buffer_output(void *)"),
    bufferError: lib.func("int nft_ctx_buffer_error(void *)"),
    run: lib.func("int nft_run_cmd_from_buffer(void *, const char *)"),
    error: lib.func("const char *nft_ctx_get_error_buffer(void *)"),
  };
  const ctx = f.new(0);
  f.bufferOutput(ctx);
  f.bufferError(ctx);
  const run = (text) => {
    if (f.run(ctx, text) !== 0) throw new Error(`nft: ${f.error(ctx)}\n${text.slice(0, 300)}`);
  };
  const addr = (i) => `198.19.${(i >> 8) & 255}.${i & 255}`;
  const port = (i) => 1024 + (i >> 16);
  const QUOTA = 100000;
  const fillMode = (mode) => (mode === "named-other" ? "named" : mode);
  const table = (mode) => `add table inet nb
add map inet nb ri4 { typeof meta l4proto . ip saddr . th sport : ip saddr; counter; }
${mode === "named" ? "add map inet nb rq4 { type inet_proto . ipv4_addr . inet_service : quota; }" : ""}
${mode === "element-quota" ? `add set inet nb rq4 { type inet_proto . ipv4_addr . inet_service; quota over ${QUOTA} bytes; }` : ""}
add chain inet nb out { type filter hook output priority 0; policy accept; }
${mode === "named" ? 'add rule inet nb out meta l4proto { tcp, udp } quota name meta l4proto . ip daddr . th dport map @rq4 counter drop' : ""}
${mode === "element-quota" ? "add rule inet nb out meta l4proto { tcp, udp } meta l4proto . ip daddr . th dport @rq4 counter drop" : ""}
`;
  const fill = (mode, from, to) => {
    for (let a = from; a < to; a += 2000) {
      const b = Math.min(to, a + 2000);
      const lines = [];
      const ri = [];
      const rq = [];
      for (let i = a; i < b; i++) {
        ri.push(`tcp . ${addr(i)} . ${port(i)} : 198.18.0.1`);
        if (mode === "named") {
          lines.push(`add quota inet nb hq${i} { over ${QUOTA} bytes }`);
          rq.push(`tcp . ${addr(i)} . ${port(i)} : "hq${i}"`);
        } else if (mode === "element-quota") rq.push(`tcp . ${addr(i)} . ${port(i)}`);
      }
      lines.push(`add element inet nb ri4 { ${ri.join(", ")} }`);
      if (rq.length) lines.push(`add element inet nb rq4 { ${rq.join(", ")} }`);
      run(lines.join("\n") + "\n");
    }
  };
  const probe = 9_000_000;
  const pk = `tcp . 198.18.200.1 . 60000`;
  const addBatch = (mode) =>
    (mode === "named" ? `add quota inet nb hq${probe} { over ${QUOTA} bytes }\nadd element inet nb rq4 { ${pk} : "hq${probe}" }\n` : "") +
    (mode === "element-quota" ? `add element inet nb rq4 { ${pk} }\n` : "") +
    `add element inet nb ri4 { ${pk} : 198.18.0.1 }\n`;
  const delBatch = (mode) =>
    `delete element inet nb ri4 { ${pk} }\n` +
    (mode === "named" || mode === "element-quota" ? `delete element inet nb rq4 { ${pk} }\n` : "") +
    (mode === "named" ? `delete quota inet nb hq${probe}\n` : "");
  for (const mode of MODES) {
    run("add table inet nb\ndelete table inet nb\n");
    run(table(fillMode(mode)));
    let have = 0;
    for (const n of SIZES) {
      const t0 = performance.now();
      fill(fillMode(mode), have, n);
      const fillS = (performance.now() - t0) / 1000;
      have = n;
      const add = [];
      const del = [];
      for (let r = 0; r < REPS; r++) {
        let t = performance.now();
        run(addBatch(mode));
        add.push(performance.now() - t);
        t = performance.now();
        run(delBatch(mode));
        del.push(performance.now() - t);
      }
      console.log(
        `${mode.padEnd(13)} ${String(n).padStart(7)}: add batch p50 ${pct(add, 50).toFixed(3)} ms p99 ${pct(add, 99).toFixed(3)} ms; ` +
          `delete batch p50 ${pct(del, 50).toFixed(3)} ms p99 ${pct(del, 99).toFixed(3)} ms (${REPS} each; filled in ${fillS.toFixed(1)} s)`,
      );
    }
  }
  run("delete table inet nb\n");
}
