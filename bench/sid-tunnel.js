// SID, the tunnel's throughput (issue 8, "Figures to measure"): one TCP stream
// (iperf3) from the correspondent to the transferred address, through the
// agent's tunnel to the target, against plain kernel forwarding of the same
// stream (C to T's own address through R, no agent, no tunnel) in the same
// run. Used by bench/sid.js.
//
// The tunnel is the one a real transfer sets up: runSid (demo/sid.ts, reverse-
// tunnelled return, BCP 38 on R) transfers the application's session to T,
// and while the binding holds, iperf3 runs in the namespaces it made: the
// server at T bound to the transferred address X, the client at C. C -> X
// crosses R, the agent (proxy ARP for X, the core's VXLAN device), R again
// and T; T's ACKs go back through the agent (the reverse tunnel). Modes
// alternate within each round; medians and the ratio to plain are printed.
//
// Packets per second come from the devices' counters (the agent's VXLAN
// device transmitting; R's link to T for plain): GSO units, tens of KB each
// on veth; segments per second are the bytes over the MSS (what a wire would
// carry). Per core, they are divided
// by the CPU the two iperf3 processes report (client + server, user + system:
// on veth the forwarding runs in softirq context charged mostly to them), and,
// as a cross-check, by the whole machine's busy time in /proc/stat over the
// run (which includes every other job on the machine).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { runSid } from "../dist/demo/sid.js";

const TAG = process.env.HANDOVER_TAG ?? "";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Busy and total jiffies of all CPUs, and the number of CPUs. */
function cpuTimes() {
  const lines = readFileSync("/proc/stat", "utf8").split("\n");
  const f = lines[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total, cpus: lines.filter((l) => /^cpu\d/.test(l)).length };
}

function linkPackets(topo, ns, dev, dir) {
  const j = JSON.parse(topo.try(ns, ["ip", "-s", "-j", "link", "show", "dev", dev]).out || "[]")[0];
  return j?.stats64?.[dir]?.packets ?? 0;
}

async function iperf(topo, server, client, seconds) {
  const s = topo.spawn(topo.t, ["iperf3", "-s", "-1", "-B", server]);
  await sleep(300);
  try {
    const r = topo.try(topo.c, ["iperf3", "-c", server, "-t", String(seconds), "-J"]);
    const j = JSON.parse(r.out);
    if (j.error) throw new Error(`iperf3: ${j.error}`);
    const cpu = j.end.cpu_utilization_percent ?? {};
    const mss = j.start?.tcp_mss_default ?? 0;
    return { bitsPerSecond: j.end.sum_received.bits_per_second, mss, retransmits: j.end.sum_sent.retransmits ?? 0, cpuCores: ((cpu.host_total ?? 0) + (cpu.remote_total ?? 0)) / 100 };
  } finally {
    s.kill("SIGKILL");
  }
}

/** The figure: `rounds` rounds of plain then SID, `seconds` each. */
export async function tunnelFigures({ seconds = 4, rounds = 3, log = () => {} } = {}) {
  const runs = { plain: [], sid: [] };
  let vxlan = "";
  const report = await runSid({
    tag: `${TAG}st`, reverse: true, beforeMs: 300, afterMs: 200,
    during: async (s) => {
      const topo = s.topo;
      const X = topo.addr.transferred;
      vxlan = (JSON.parse(topo.try(topo.a, ["ip", "-j", "link", "show", "type", "vxlan"]).out || "[]")[0] ?? {}).ifname ?? "";
      if (!vxlan) throw new Error("the agent has no VXLAN device while the binding holds");
      for (let round = 0; round < rounds; round++) {
        for (const mode of ["plain", "sid"]) {
          const [ns, dev, dir] = mode === "sid" ? [topo.a, vxlan, "tx"] : [topo.r, "r-t", "tx"];
          const p0 = linkPackets(topo, ns, dev, dir);
          const c0 = cpuTimes();
          const t0 = performance.now();
          const r = await iperf(topo, mode === "sid" ? X : topo.addr.target, topo.c, seconds);
          const wall = (performance.now() - t0) / 1000;
          const c1 = cpuTimes();
          const packets = linkPackets(topo, ns, dev, dir) - p0;
          // Jiffies are 1/100 s (USER_HZ); the machine's busy cores over the wall time of the run.
          const machineCores = (c1.busy - c0.busy) / 100 / wall;
          const pps = packets / seconds;
          // Device packets are GSO/GRO units (tens of KB on veth); segments are MSS-sized, as on a wire.
          const segmentsPerSecond = r.mss ? r.bitsPerSecond / 8 / r.mss : 0;
          const row = { ...r, packets, packetsPerSecond: pps, segmentsPerSecond, segmentsPerSecondPerCore: segmentsPerSecond / r.cpuCores, packetsPerSecondPerCore: pps / r.cpuCores, machineBusyCores: machineCores, packetsPerSecondPerMachineCore: pps / machineCores };
          runs[mode].push(row);
          log(`round ${round + 1} ${mode.padEnd(5)} ${(r.bitsPerSecond / 1e9).toFixed(3)} Gbit/s, ${Math.round(pps)} packets/s, iperf3 CPU ${r.cpuCores.toFixed(2)} cores, machine busy ${machineCores.toFixed(2)} of ${c1.cpus}, retransmits ${r.retransmits}`);
        }
      }
    },
  });
  if (report.error) throw new Error(`the SID run under the tunnel bench failed: ${report.error}`);
  const cell = (mode) => ({
    gbitPerSecond: median(runs[mode].map((r) => r.bitsPerSecond)) / 1e9,
    packetsPerSecond: median(runs[mode].map((r) => r.packetsPerSecond)),
    packetsPerSecondPerCore: median(runs[mode].map((r) => r.packetsPerSecondPerCore)),
    packetsPerSecondPerMachineCore: median(runs[mode].map((r) => r.packetsPerSecondPerMachineCore)),
    segmentsPerSecond: median(runs[mode].map((r) => r.segmentsPerSecond)),
    segmentsPerSecondPerCore: median(runs[mode].map((r) => r.segmentsPerSecondPerCore)),
    mss: runs[mode][0]?.mss ?? 0,
    runs: runs[mode],
  });
  const plain = cell("plain");
  const sid = cell("sid");
  return {
    seconds, rounds, vxlanDevice: vxlan, plain, sid,
    ratioToPlain: sid.gbitPerSecond / plain.gbitPerSecond,
    perRoundRatios: runs.sid.map((r, i) => r.bitsPerSecond / runs.plain[i].bitsPerSecond),
    sessionSurvived: report.lost === 0 && report.resets === 0 && report.digestsEqual,
    goal: 0.5,
  };
}
