// The SID tunnel's throughput against plain kernel forwarding, in one run
// (issue 8, "Figures to measure"):
//
//   sudo node bench/tunnel.js [--seconds 4] [--rounds 3] [--json FILE]
//
// Four namespaces, veth links, only 198.18.0.0/15:
//
//   C (correspondent) --- R (router) --- A (agent, home subnet) --- T (target)
//   198.18.10.1       .10.2  .20.1       .20.2        .30.1         .30.2
//
// T holds the transferred address X = 198.18.20.100 (home subnet) on lo; R
// routes X to A, as the agent's proxy ARP would make it. One TCP stream
// (iperf3) C -> X; T's return traffic (ACKs) goes direct. A delivers X to T by:
//
//   plain      kernel forwarding, `ip route X via T` (no tunnel: the baseline)
//   vxlan      the kernel's vxlan device (RFC 7348, UDP 4789), static fdb and
//              neighbour entries, no learning
//   userspace  tun <-> UDP in Node (bench/_tunnel_udp_prototype.js): IP in UDP
//              with the 8-byte header of docs/PROTOCOL.md section 8.9
//
// Modes alternate within each round; the medians and the ratio to plain of
// the same run are printed, and for userspace the packets per CPU second of
// each tunnel process. Namespaces hov-<HANDOVER_TAG>tb* are removed at the end,
// also on failure.
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const SECONDS = Number(opt("--seconds", "4"));
const ROUNDS = Number(opt("--rounds", "3"));
const JSON_OUT = opt("--json", "");
const TAG = `hov-${process.env.HANDOVER_TAG ?? ""}tb`;
const NS = { c: `${TAG}c`, r: `${TAG}r`, a: `${TAG}a`, t: `${TAG}t` };
const X = "198.18.20.100";
const PROTO = fileURLToPath(new URL("./_tunnel_udp_prototype.js", import.meta.url));
const TUNNEL_PORT = 4347;
const TUNNEL_ID = 0x5eed0001;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sh(ns, ...a) {
  const argv = ns ? ["ip", "netns", "exec", ns, ...a] : a;
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}
const ip = (ns, ...a) => sh(null, "ip", "-n", ns, ...a);
const quiet = (...a) => spawnSync(a[0], a.slice(1));

function down() {
  for (const ns of Object.values(NS)) {
    quiet("ip", "netns", "pids", ns);
    const pids = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
    for (const p of pids) quiet("kill", "-9", p);
    quiet("ip", "netns", "del", ns);
  }
}

function link(a, an, b, bn) {
  sh(null, "ip", "link", "add", an, "netns", a, "type", "veth", "peer", "name", bn, "netns", b);
  ip(a, "link", "set", an, "up");
  ip(b, "link", "set", bn, "up");
}

function up() {
  down();
  for (const ns of Object.values(NS)) {
    sh(null, "ip", "netns", "add", ns);
    ip(ns, "link", "set", "lo", "up");
    sh(ns, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0");
  }
  sh(NS.r, "sysctl", "-qw", "net.ipv4.ip_forward=1");
  sh(NS.a, "sysctl", "-qw", "net.ipv4.ip_forward=1");
  link(NS.c, "c-r", NS.r, "r-c");
  link(NS.r, "r-a", NS.a, "a-r");
  link(NS.a, "a-t", NS.t, "t-a");
  ip(NS.c, "addr", "add", "198.18.10.1/24", "dev", "c-r");
  ip(NS.r, "addr", "add", "198.18.10.2/24", "dev", "r-c");
  ip(NS.r, "addr", "add", "198.18.20.1/24", "dev", "r-a");
  ip(NS.a, "addr", "add", "198.18.20.2/24", "dev", "a-r");
  ip(NS.a, "addr", "add", "198.18.30.1/24", "dev", "a-t");
  ip(NS.t, "addr", "add", "198.18.30.2/24", "dev", "t-a");
  ip(NS.t, "addr", "add", `${X}/32`, "dev", "lo");
  ip(NS.c, "route", "add", "default", "via", "198.18.10.2");
  ip(NS.r, "route", "add", `${X}/32`, "via", "198.18.20.2");
  ip(NS.r, "route", "add", "198.18.30.0/24", "via", "198.18.20.2");
  ip(NS.a, "route", "add", "default", "via", "198.18.20.1");
  ip(NS.t, "route", "add", "default", "via", "198.18.30.1");
  // vxlan on both ends of A - T, static forwarding (no learning, no flooding).
  ip(NS.a, "link", "add", "vx0", "type", "vxlan", "id", "42", "local", "198.18.30.1", "dstport", "4789", "nolearning");
  ip(NS.t, "link", "add", "vx0", "type", "vxlan", "id", "42", "local", "198.18.30.2", "dstport", "4789", "nolearning");
  ip(NS.a, "link", "set", "vx0", "address", "02:00:00:00:00:0a", "up");
  ip(NS.t, "link", "set", "vx0", "address", "02:00:00:00:00:0b", "up");
  sh(NS.a, "bridge", "fdb", "append", "02:00:00:00:00:0b", "dev", "vx0", "dst", "198.18.30.2");
  ip(NS.a, "neigh", "add", X, "lladdr", "02:00:00:00:00:0b", "dev", "vx0", "nud", "permanent");
  // tun on both ends for the userspace prototype.
  ip(NS.a, "tuntap", "add", "dev", "tun0", "mode", "tun");
  ip(NS.t, "tuntap", "add", "dev", "tun0", "mode", "tun");
  ip(NS.a, "link", "set", "tun0", "mtu", String(1500 - 20 - 8 - 8), "up");
  ip(NS.t, "link", "set", "tun0", "mtu", String(1500 - 20 - 8 - 8), "up");
}

function route(mode) {
  spawnSync("ip", ["-n", NS.a, "route", "del", `${X}/32`]);
  if (mode === "plain") ip(NS.a, "route", "add", `${X}/32`, "via", "198.18.30.2");
  if (mode === "vxlan") ip(NS.a, "route", "add", `${X}/32`, "dev", "vx0");
  if (mode === "userspace") ip(NS.a, "route", "add", `${X}/32`, "dev", "tun0");
  spawnSync("ip", ["-n", NS.c, "route", "flush", "cache"]);
}

function startTunnel() {
  const last = {};
  const start = (ns, a) => {
    const p = spawn("ip", ["netns", "exec", ns, process.execPath, PROTO, ...a], { stdio: ["ignore", "pipe", "inherit"] });
    let buf = "";
    p.stdout.on("data", (d) => {
      buf += d;
      const lines = buf.split("\n");
      buf = lines.pop();
      for (const l of lines) if (l) last[a[0]] = JSON.parse(l);
    });
    return p;
  };
  const procs = [start(NS.t, ["decap", "tun0", "198.18.30.2", String(TUNNEL_PORT), String(TUNNEL_ID)]), start(NS.a, ["encap", "tun0", "198.18.30.1", String(TUNNEL_PORT), "198.18.30.2", String(TUNNEL_ID)])];
  return { last, stop: () => procs.forEach((p) => p.kill("SIGKILL")) };
}

async function iperf() {
  const server = spawn("ip", ["netns", "exec", NS.t, "iperf3", "-s", "-1", "-B", X], { stdio: "ignore" });
  await sleep(300);
  try {
    const out = sh(NS.c, "iperf3", "-c", X, "-t", String(SECONDS), "-J");
    const j = JSON.parse(out);
    return { bitsPerSecond: j.end.sum_received.bits_per_second, retransmits: j.end.sum_sent.retransmits ?? 0 };
  } finally {
    server.kill("SIGKILL");
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  if (process.getuid?.() !== 0) throw new Error("bench/tunnel.js needs root (it creates network namespaces)");
  const runs = { plain: [], vxlan: [], userspace: [] };
  const pps = [];
  up();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of ["plain", "vxlan", "userspace"]) {
        route(mode);
        const tunnel = mode === "userspace" ? startTunnel() : null;
        if (tunnel) await sleep(400);
        try {
          const r = await iperf();
          runs[mode].push(r);
          if (tunnel) {
            await sleep(300);
            const { encap, decap } = tunnel.last;
            pps.push({ encap: encap ? encap.packets / encap.cpuSeconds : 0, decap: decap ? decap.packets / decap.cpuSeconds : 0, packets: encap?.packets ?? 0 });
          }
          console.log(`round ${round + 1} ${mode.padEnd(9)} ${(r.bitsPerSecond / 1e9).toFixed(3)} Gbit/s  retransmits ${r.retransmits}`);
        } finally {
          tunnel?.stop();
        }
      }
    }
  } finally {
    down();
  }
  const plain = median(runs.plain.map((r) => r.bitsPerSecond));
  const result = { seconds: SECONDS, rounds: ROUNDS, modes: {} };
  console.log(`\nmedian of ${ROUNDS} rounds, one TCP stream C -> T, ${SECONDS} s each:`);
  for (const mode of Object.keys(runs)) {
    const bps = median(runs[mode].map((r) => r.bitsPerSecond));
    result.modes[mode] = { gbitPerSecond: bps / 1e9, ratioToPlain: bps / plain, runs: runs[mode] };
    console.log(`  ${mode.padEnd(9)} ${(bps / 1e9).toFixed(3)} Gbit/s  ${((100 * bps) / plain).toFixed(1)}% of plain`);
  }
  result.userspacePacketsPerCpuSecond = { encap: median(pps.map((p) => p.encap)), decap: median(pps.map((p) => p.decap)) };
  console.log(`  userspace tunnel: ${Math.round(result.userspacePacketsPerCpuSecond.encap)} packets per CPU second (encap, A), ${Math.round(result.userspacePacketsPerCpuSecond.decap)} (decap, T)`);
  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(result, null, 2) + "\n");
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
