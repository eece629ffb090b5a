// SID, the decapsulating end's filters at many bindings (PROTOCOL.md 8.9 step
// 5): small UDP packets per second received by a namespace that holds the
// tunnel filters of N bindings, against the same namespace with no filter in
// the same round.
//
//   designs: "shared"    the core's batches (one base chain `in`, a verdict map
//                        from port and VNI to each binding's regular chain)
//            "per-binding" main before this bench's change, written out here
//                        as the baseline: one base chain per binding (input
//                        hook, priority -200), each with its one rule, so that
//                        every input packet walks all N chains
//
// The traffic is not tunnelled (iperf3 UDP, 64-byte payloads, as fast as the
// sender goes, on a veth pair): what is measured is what N bindings' filters
// cost every packet that enters the namespace. Rounds alternate the designs;
// medians and ratios to the unfiltered run of the same round are printed.
// Also the time to write the N bindings' filters as N batches (one `nft -f`,
// so one process; it shows how the kernel's work grows with N).
//
//   sudo node bench/sid-tunnel-filters.js [--bindings 1,100,1000] [--rounds 3] [--seconds 3]
// Namespaces hov-<tag>tf{a,b} (198.18.50.0/24), removed at the start and at the end.
import { spawnSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Core } from "../dist/hosts/shared/core.js";
import { SidCodec } from "../dist/hosts/shared/sid.js";

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const COUNTS = arg("bindings", "1,100,1000").split(",").map(Number);
const ROUNDS = +arg("rounds", "3");
const SECONDS = +arg("seconds", "3");
const TAG = process.env.HANDOVER_TAG ?? "";
const NS = { a: `hov-${TAG}tfa`, b: `hov-${TAG}tfb` };
const A = "198.18.50.1";
const B = "198.18.50.2";
const PORT = 4789;
const PEER = "198.18.2.2";
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const core = await Core.load(readFileSync(new URL("../build/handover.wasm", import.meta.url)));
const sid = new SidCodec(core);

function sh(...a) {
  const r = spawnSync(a[0], a.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${a.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}
function down() {
  for (const ns of Object.values(NS)) {
    for (const p of spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout?.split("\n").filter(Boolean) ?? []) spawnSync("kill", ["-9", p]);
    spawnSync("ip", ["netns", "del", ns]);
  }
}
function up() {
  down();
  sh("ip", "netns", "add", NS.a);
  sh("ip", "netns", "add", NS.b);
  sh("ip", "link", "add", "hovtf0", "netns", NS.a, "type", "veth", "peer", "name", "hovtf1", "netns", NS.b);
  sh("ip", "-n", NS.a, "addr", "add", `${A}/24`, "dev", "hovtf0");
  sh("ip", "-n", NS.b, "addr", "add", `${B}/24`, "dev", "hovtf1");
  sh("ip", "-n", NS.a, "link", "set", "hovtf0", "up");
  sh("ip", "-n", NS.b, "link", "set", "hovtf1", "up");
}

const hex6 = (v) => v.toString(16).padStart(6, "0");
/** The batches of n bindings (VNIs 1..n) in one design, as one nft file. */
function batches(design, n) {
  let text = "";
  for (let v = 1; v <= n; v++) {
    if (design === "shared") text += sid.tunnelFilter(true, PEER, PORT, v);
    else text += `add table inet hovtunnel\nadd chain inet hovtunnel v${hex6(v)} { type filter hook input priority -200; policy accept; }\n` +
      `add rule inet hovtunnel v${hex6(v)} udp dport ${PORT} @th,96,24 0x${hex6(v)} ip saddr != ${PEER} counter drop\n`;
  }
  return text;
}

/** Small UDP packets per second that B's iperf3 server received. */
async function pps() {
  const server = spawn("ip", ["netns", "exec", NS.b, "iperf3", "-s", "-1", "-B", B], { stdio: "ignore" });
  await sleep(300);
  try {
    const r = sh("ip", "netns", "exec", NS.a, "iperf3", "-c", B, "-u", "-b", "0", "-l", "64", "-t", String(SECONDS), "-J");
    const j = JSON.parse(r).end;
    const s = j.sum_received ?? j.sum;
    return s.packets / (s.seconds || SECONDS);
  } finally {
    server.kill("SIGKILL");
  }
}

const dir = mkdtempSync(join(tmpdir(), "hov-tf-"));
const results = {};
try {
  up();
  for (const n of COUNTS) {
    const row = { none: [], shared: [], "per-binding": [], writeMs: { shared: [], "per-binding": [] } };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? ["per-binding", "shared"] : ["shared", "per-binding"];
      row.none.push(await pps());
      for (const design of order) {
        const file = join(dir, `${design}-${n}.nft`);
        writeFileSync(file, batches(design, n));
        const t = performance.now();
        sh("ip", "netns", "exec", NS.b, "nft", "-f", file);
        row.writeMs[design].push(performance.now() - t);
        row[design].push(await pps());
        sh("ip", "netns", "exec", NS.b, "nft", "delete", "table", "inet", "hovtunnel");
      }
    }
    results[n] = row;
    const m = (k) => median(row[k]);
    console.log(`${String(n).padStart(7)} bindings: no filter ${Math.round(m("none"))} pkt/s; shared ${Math.round(m("shared"))} (${(m("shared") / m("none")).toFixed(3)}x); ` +
      `per-binding ${Math.round(m("per-binding"))} (${(m("per-binding") / m("none")).toFixed(3)}x); shared / per-binding ${(m("shared") / m("per-binding")).toFixed(2)}x; ` +
      `writing the ${n} batches: shared ${median(row.writeMs.shared).toFixed(1)} ms, per-binding ${median(row.writeMs["per-binding"]).toFixed(1)} ms`);
  }
} finally {
  down();
  rmSync(dir, { recursive: true, force: true });
}
if (process.argv.includes("--json")) console.log(JSON.stringify(results));
