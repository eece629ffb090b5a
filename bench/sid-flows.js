// SID per-flow mode, the Session Agent's sorting in the kernel (issue 9, "Figures to measure", FIG. 3):
// per-packet sorting cost and throughput with 1, 1,000 and 100,000 transferred flows, against plain
// forwarding of the same traffic in the same run.
//
//   sudo HANDOVER_TAG=d node bench/sid-flows.js [--flows 1,1000,100000] [--seconds S] [--rounds N] [--json FILE]
//
// (after `npm run build`; root: namespaces). The namespaces of demo/netns.ts's Topology: M (the
// correspondent, 198.18.1.2) - R (the agent) - F (198.18.9.2, where the transferred flows go). R gets
// exactly the nft text the core renders for the agent (sid/flows.ts: sortingTable, flowElements, through
// the bench export sidbench_flow_rules): table inet hovflow, map f4 (5-tuple -> mark), the prerouting
// chain that sets the mark; and what the core's markRule asks the kernel for (ip rule fwmark -> a table,
// priority 0x4347), here a table whose route leads to F over the same link as the main table's. So a
// sorted packet pays the map lookup, the mark and the rule, and nothing else differs: the tunnel the real
// agent routes into is the issue 8 tunnel figure (bench/sid-tunnel.js), not counted here.
//
// For each N: the map is loaded with N flows (flow 0..7 are the measured streams' own 5-tuples, the rest
// other ports), then rounds alternate plain (no sort chain, no rule: the map stays loaded, unreferenced)
// and sorted, each round:
//   tcp  iperf3, one TCP stream M -> F (flow 0), Gbit/s
//   udp  iperf3, 8 UDP streams of 64-byte datagrams, unlimited rate (flows 0..7 when N >= 8), datagrams
//        received per second; per-packet sorting cost = 1 / sorted - 1 / plain (ns of the one core that
//        carries a veth path: the sender's, where the forwarding softirq runs)
// medians over the rounds; the ratio sorted / plain is the median of each round's own ratio (its two runs
// are neighbours in time), the ratio of the medians printed beside it. Before the rounds, a check that sorting is real:
// with the flows' table made a blackhole, the measured UDP stream does not arrive (plain: it does).
//
// This machine is a shared 2-core VM with other jobs running: only ratios within one run mean something.

import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { Topology, cleanStale } from "../dist/demo/netns.js";
import { Core } from "../dist/hosts/shared/index.js";

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const MARK = 0x4d00001;
const TABLE = 4347;
const PRIORITY = 0x4347;
const M_ADDR = "198.18.1.2";
const F_ADDR = "198.18.9.2";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ip4 = (s) => s.split(".").reduce((a, b) => a * 256 + Number(b), 0) >>> 0;

/** The core's nft text for the agent's sorting (sid/flows.ts), through the bench export. */
function coreText() {
  const core = Core.loadSync(new WebAssembly.Module(readFileSync(new URL("../build/handover.wasm", import.meta.url))));
  const x = core.x;
  const text = (n) => {
    if (n < 0) throw new Error(`sidbench_flow_rules: error ${-n}`);
    return new TextDecoder().decode(new Uint8Array(x.memory.buffer, x.sidbench_flow_text(), n));
  };
  return {
    table: () => text(x.sidbench_flow_rules(0, 0, 0, 6, 0, 0, 0)),
    elements: (first, count, proto) => text(x.sidbench_flow_rules(1, first, count, proto, ip4(M_ADDR), ip4(F_ADDR), MARK)),
  };
}

export async function flowFigures({ sizes = [1, 1000, 100000], seconds = 3, rounds = 3, log = () => {} } = {}) {
  const tag = `${process.env.HANDOVER_TAG ?? ""}sfl`;
  cleanStale(tag);
  const topo = new Topology(tag);
  const core = coreText();
  const tableText = core.table();
  // The chain's lines of sortingTable (the table and maps stay; the chain and its rules come and go).
  const chainText = tableText.split("\n").filter((l) => l.startsWith("add chain") || l.startsWith("add rule")).join("\n") + "\n";
  const report = { machine: "shared 2-core VM, other jobs running: not quiet-machine figures", seconds, rounds, sizes, rows: [] };
  try {
    topo.up();
    const R = topo.r;
    // M's own connections (iperf3's control connection) take ports below the flows' 40000-64999.
    topo.ns(topo.m, ["sysctl", "-qw", "net.ipv4.ip_local_port_range=20000 39999"]);
    topo.ns(R, ["ip", "route", "add", "198.18.9.0/24", "dev", "r-f", "table", String(TABLE)]);
    const sorted = (on) => {
      const rule = ["ip", "rule", on ? "add" : "del", "fwmark", `0x${MARK.toString(16)}`, "table", String(TABLE), "priority", String(PRIORITY)];
      if (on) {
        topo.nft(R, chainText);
        topo.ns(R, rule);
      } else {
        topo.try(R, rule);
        topo.try(R, ["nft", "delete chain inet hovflow sort"]);
      }
    };
    const iperf = async (udp) => {
      const srv = topo.spawn(topo.f, ["iperf3", "-s", "-1", "-B", F_ADDR, "-p", "5201"]);
      await sleep(250);
      const argv = ["iperf3", "-c", F_ADDR, "-B", M_ADDR, "--cport", "40000", "-p", "5201", "-t", String(seconds), "-J"];
      if (udp) argv.push("-u", "-b", "0", "-l", "64", "-P", "8");
      const r = spawnSync("ip", ["netns", "exec", topo.m, ...argv], { encoding: "utf8", timeout: (seconds + 20) * 1000 });
      await new Promise((res) => (srv.exitCode !== null ? res() : srv.once("exit", res)));
      const j = JSON.parse(r.stdout);
      if (j.error) throw new Error(`iperf3: ${j.error}`);
      // CPU both iperf3 processes report (on veth the forwarding runs in softirq context charged mostly to
      // them): CPU-seconds per unit of traffic does not depend on how much of the shared machine they got.
      const c = j.end.cpu_utilization_percent;
      const cpuS = ((c.host_total + c.remote_total) / 100) * seconds;
      if (!udp) {
        const bits = j.end.sum_received.bytes * 8;
        return { gbps: j.end.sum_received.bits_per_second / 1e9, cpuNsPerKbit: (cpuS * 1e9) / (bits / 1000) };
      }
      const s = j.end.sum;
      const got = s.packets - s.lost_packets;
      return { pps: got / s.seconds, sent: s.packets / s.seconds, lost: s.lost_packets, cpuNsPerPacket: (cpuS * 1e9) / Math.max(1, got) };
    };

    for (const n of sizes) {
      // The map: flows 0 .. n-1 (TCP for the TCP runs, UDP for the UDP runs: both protocols' elements, 2n).
      topo.try(R, ["nft", "delete table inet hovflow"]);
      const t0 = performance.now();
      topo.nft(R, tableText);
      topo.try(R, ["nft", "delete chain inet hovflow sort"]);
      for (const proto of [6, 17]) {
        for (let first = 0; first < n; first += 4096) topo.nft(R, core.elements(first, Math.min(4096, n - first), proto));
      }
      const loadMs = performance.now() - t0;
      const count = Number(topo.ns(R, ["sh", "-c", "nft list map inet hovflow f4 | grep -o ': 0x' | wc -l"]).trim());
      // Sorting is real: marked packets take the flows' table (made a blackhole for the check).
      topo.ns(R, ["ip", "route", "replace", "blackhole", "198.18.9.0/24", "table", String(TABLE)]);
      sorted(true);
      const blocked = await iperfShort(topo, F_ADDR, M_ADDR);
      sorted(false);
      const open = await iperfShort(topo, F_ADDR, M_ADDR);
      topo.ns(R, ["ip", "route", "replace", "198.18.9.0/24", "dev", "r-f", "table", String(TABLE)]);
      log(`${n} flows: map loaded in ${(loadMs / 1000).toFixed(1)} s (${count} elements in f4); check: the measured UDP stream with its flows' table a blackhole: ${blocked} datagrams arrived sorted, ${open} plain`);
      const runs = { plain: { tcp: [], udp: [] }, sorted: { tcp: [], udp: [] } };
      for (let round = 0; round < rounds; round++) {
        for (const mode of round % 2 ? ["sorted", "plain"] : ["plain", "sorted"]) {
          sorted(mode === "sorted");
          const t = await iperf(false);
          runs[mode].tcp.push(t.gbps);
          (runs[mode].tcpCpu ??= []).push(t.cpuNsPerKbit);
          const u = await iperf(true);
          runs[mode].udp.push(u.pps);
          (runs[mode].udpDetail ??= []).push(u);
          (runs[mode].udpCpu ??= []).push(u.cpuNsPerPacket);
          sorted(false);
        }
      }
      const row = {
        flows: n,
        mapElements: count,
        loadMs,
        check: { blockedArrived: blocked, plainArrived: open },
        plain: { tcpGbps: median(runs.plain.tcp), udpPps: median(runs.plain.udp) },
        sorted: { tcpGbps: median(runs.sorted.tcp), udpPps: median(runs.sorted.udp) },
        runs,
      };
      // Each round's plain and sorted runs are neighbours in time: the median of the rounds' own ratios
      // (paired) is less moved by the machine's drift than the ratio of the medians; both are kept.
      const paired = (k) => median(runs.sorted[k].map((v, i) => v / runs.plain[k][i]));
      row.tcpRatioOfMedians = row.sorted.tcpGbps / row.plain.tcpGbps;
      row.udpRatioOfMedians = row.sorted.udpPps / row.plain.udpPps;
      row.tcpRatio = paired("tcp");
      row.udpRatio = paired("udp");
      row.sortingNsPerPacket = median(runs.sorted.udp.map((v, i) => (1 / v - 1 / runs.plain.udp[i]) * 1e9));
      // The same by CPU: ns of CPU per datagram (and per kbit of TCP), sorted minus plain, paired by round;
      // and the throughput one core would reach, sorted against plain (plain CPU per unit / sorted's).
      row.cpu = {
        udpNsPerPacket: { plain: median(runs.plain.udpCpu), sorted: median(runs.sorted.udpCpu) },
        tcpNsPerKbit: { plain: median(runs.plain.tcpCpu), sorted: median(runs.sorted.tcpCpu) },
        sortingNsPerPacket: median(runs.sorted.udpCpu.map((v, i) => v - runs.plain.udpCpu[i])),
        udpRatio: median(runs.sorted.udpCpu.map((v, i) => runs.plain.udpCpu[i] / v)),
        tcpRatio: median(runs.sorted.tcpCpu.map((v, i) => runs.plain.tcpCpu[i] / v)),
      };
      report.rows.push(row);
      log(
        `${String(n).padStart(6)} flows: TCP ${row.sorted.tcpGbps.toFixed(2)} / plain ${row.plain.tcpGbps.toFixed(2)} Gbit/s = ${(row.tcpRatio * 100).toFixed(1)}% ` +
          `(paired median ${(row.tcpRatio * 100).toFixed(1)}%; rounds ${runs.sorted.tcp.map((v, i) => ((v / runs.plain.tcp[i]) * 100).toFixed(0)).join(", ")}%); ` +
          `UDP 64 B ${Math.round(row.sorted.udpPps)} / plain ${Math.round(row.plain.udpPps)} datagrams/s = ${(row.udpRatio * 100).toFixed(1)}% ` +
          `(paired median ${(row.udpRatio * 100).toFixed(1)}%; rounds ${runs.sorted.udp.map((v, i) => ((v / runs.plain.udp[i]) * 100).toFixed(0)).join(", ")}%); sorting ${row.sortingNsPerPacket.toFixed(0)} ns per packet`,
      );
    }
    for (const row of report.rows) {
      log(
        `${String(row.flows).padStart(6)} flows, by CPU: UDP ${row.cpu.udpNsPerPacket.sorted.toFixed(0)} / plain ${row.cpu.udpNsPerPacket.plain.toFixed(0)} ns per datagram ` +
          `(sorting ${row.cpu.sortingNsPerPacket.toFixed(0)} ns; per core ${(row.cpu.udpRatio * 100).toFixed(1)}% of plain), ` +
          `TCP ${row.cpu.tcpNsPerKbit.sorted.toFixed(1)} / plain ${row.cpu.tcpNsPerKbit.plain.toFixed(1)} ns per kbit (per core ${(row.cpu.tcpRatio * 100).toFixed(1)}% of plain)`,
      );
    }
    const last = report.rows.at(-1);
    report.goal = {
      atFlows: last.flows, goal: 0.9,
      throughput: { tcpRatio: last.tcpRatio, udpRatio: last.udpRatio, met: last.tcpRatio >= 0.9 && last.udpRatio >= 0.9 },
      perCore: { tcpRatio: last.cpu.tcpRatio, udpRatio: last.cpu.udpRatio, met: last.cpu.tcpRatio >= 0.9 && last.cpu.udpRatio >= 0.9 },
    };
    log(
      `goal at ${last.flows} flows: >= 90% of plain forwarding: throughput TCP ${(last.tcpRatio * 100).toFixed(1)}%, UDP ${(last.udpRatio * 100).toFixed(1)}%: ${report.goal.throughput.met ? "met" : "MISSED"}; ` +
        `per core (CPU per unit of traffic) TCP ${(last.cpu.tcpRatio * 100).toFixed(1)}%, UDP ${(last.cpu.udpRatio * 100).toFixed(1)}%: ${report.goal.perCore.met ? "met" : "MISSED"}`,
    );
  } finally {
    topo.down();
    cleanStale(tag);
  }
  return report;
}

/** Datagrams of the measured UDP stream (flow 0) that arrive in 0.5 s at 20 Mbit/s. */
async function iperfShort(topo, f, m) {
  const srv = topo.spawn(topo.f, ["iperf3", "-s", "-1", "-B", f, "-p", "5201"]);
  await sleep(250);
  const r = spawnSync("ip", ["netns", "exec", topo.m, "iperf3", "-c", f, "-B", m, "--cport", "40000", "-p", "5201", "-t", "1", "-u", "-b", "20M", "-l", "64", "-J"], { encoding: "utf8", timeout: 20000 });
  // With the data blackholed the server never gets the end of the test: stop it.
  await sleep(200);
  if (srv.exitCode === null) srv.kill("SIGKILL");
  try {
    const s = JSON.parse(r.stdout).end.sum;
    return s.packets - s.lost_packets;
  } catch {
    return 0;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = opt("flows", "1,1000,100000").split(",").map(Number);
  const r = await flowFigures({ sizes, seconds: Number(opt("seconds", 3)), rounds: Number(opt("rounds", 3)), log: (s) => console.error(s) });
  console.log(JSON.stringify(r, null, 2));
  const json = opt("json", "");
  if (json) writeFileSync(json, JSON.stringify(r, null, 2) + "\n");
}
