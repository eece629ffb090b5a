// A restart's share in the core at N moves (issue 11), in-process, no kernel
// (the kernel's table modelled by test/_nft_model.js, as test/scale.test.js):
//
//   node bench/restartcore.js [--moves 100000] [--runs 3] [--how saved,dumps]
//
// (after `npm run build`; HANDOVER_WASM=FILE: another build of the core, e.g.
// one with a name section for a CPU profile). N moves of N/10 peers, then a
// clean stop (stem_save) and a restart with the saved moves, then a restart
// that reads the maps (no saved moves: the dumps, answered by the model at
// once, so only the core's parse and take-over are timed). Per restart the
// time in each step: peers configured, saved moves fed (stem_saved_moves),
// kernel setup to `restored` (the core's take-over), medians over the runs;
// each as this process's CPU time (process.cpuUsage: less moved by the other
// jobs on a shared machine than the wall time, which is printed beside it).
import { SimNet } from "../test/_sim.js";
import { loadavg } from "node:os";

const args = process.argv.slice(2);
const opt = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const N = Number(opt("--moves", "100000"));
const RUNS = Number(opt("--runs", "3"));
const HOW = opt("--how", "saved,dumps").split(",");
const PER = 10;
const KEY = new Uint8Array(32).fill(7);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const net = new SimNet();
const f = net.node("f.example", ["198.18.9.1"]);
f.recordRules = false;
const P = Math.ceil(N / PER);
const peers = Array.from({ length: P }, (_, i) => ({
  cookie: f.engine.core.cookieFromName(`s${i}.scale`),
  a: `198.19.${Math.floor(i / 250)}.${(i % 250) + 1}`,
  b: `198.19.${100 + Math.floor(i / 250)}.${(i % 250) + 1}`,
}));
const configure = () => {
  for (const [k, v] of Object.entries({ maxMovesPerPeer: PER, maxMoves: N + 100, sessionIdleMs: 1e12 })) f.engine.option(k, v);
  for (const p of peers) {
    const id = f.engine.addPeer(p.cookie, p.a, 4346);
    f.engine.addPeerAddress(id, p.b);
    f.engine.addSa(id, { spi: 256, key: KEY });
  }
};
configure();
f.engine.kernelSetup(net.now);
f.pump();
let seq = 1;
const t0 = performance.now();
for (const p of peers) {
  net.now += 1;
  const ntp = BigInt(Math.floor((net.now / 1000 + 2208988800) * 2 ** 32));
  const extensions = Array.from({ length: PER }, (_, k) => ({ type: "MIGRATION", protocols: ["TCP"], oldAddress: p.a, newAddress: p.b, oldPort: 20000 + k, newPort: 20000 + k }));
  net.inject(f, p.b, f.engine.core.encode({ type: "MIGRATION_REQUEST", sequence: seq++ & 0xffff, cookie: p.cookie, replayId: ntp.toString(16).padStart(16, "0"), extensions }, { spi: 256, key: KEY }));
}
console.log(`${N} moves of ${P} peers loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s (in the model: ${f.table.elements("ri4").length} ri4 elements); load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);

const rows = { saved: [], dumps: [] };
for (let run = 0; run < RUNS; run++) {
  for (const how of HOW) {
    let saved = null;
    if (how === "saved") {
      f.engine.save(net.now);
      f.pump();
      saved = f.engine.saved();
    }
    const cpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const ca = cpu();
    const a = performance.now();
    f.engine.seed(new TextEncoder().encode("restart-seed-0123456789abcdef"));
    f.engine.init(f.cookie, net.now);
    configure();
    const b = performance.now();
    const cb = cpu();
    if (saved) f.engine.savedMoves(net.now, saved);
    const c = performance.now();
    const cc = cpu();
    f.events.length = 0;
    f.engine.kernelSetup(net.now);
    f.pump();
    const d = performance.now();
    const cd = cpu();
    const r = f.eventsOf("restored").at(-1);
    rows[how].push({ peersMs: b - a, savedMs: c - b, setupMs: d - c, peersCpu: cb - ca, savedCpu: cc - cb, setupCpu: cd - cc, moves: r?.moves, elements: r?.elements });
    console.log(`run ${run + 1}, restart from ${how.padEnd(5)}: peers ${(b - a).toFixed(0)} ms (CPU ${(cb - ca).toFixed(0)}), saved moves fed ${(c - b).toFixed(0)} ms (CPU ${(cc - cb).toFixed(0)}; ${saved?.length ?? 0} bytes), kernel setup to restored ${(d - c).toFixed(0)} ms (CPU ${(cd - cc).toFixed(0)}; ${r?.moves} moves, ${r?.elements})`);
  }
}
for (const how of HOW) {
  const x = rows[how];
  const m = (k) => median(x.map((r) => r[k])).toFixed(0);
  console.log(`medians, ${how}: peers ${m("peersMs")} ms (CPU ${m("peersCpu")}), saved moves ${m("savedMs")} ms (CPU ${m("savedCpu")}), setup to restored ${m("setupMs")} ms (CPU ${m("setupCpu")})`);
}
