// Where a bbm-down blackout goes, from the captures of one bench/stem.js cell:
//
//   node bench/stem.js --systems handover --scenarios bbm-down --rtts 50 --migrations 8 \
//        --no-throughput --capture DIR --json DIR/run.json
//   node bench/stem-capture.js DIR/run.json DIR/handover-bbm-down-50
//
// (tshark reads the pcaps.) Per migration, in ms from the break (t0): the
// kernel-level receive gap at each end (the longest time the in-order byte
// stream did not advance, from the segments each end's interface received:
// what the application can see at best), when F's daemon had its rules (its
// peer-migration event), when M released its hold, when the first SACK from M
// reached F, and when F first retransmitted. Numbers only.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

const [runFile, prefix] = process.argv.slice(2);
if (!runFile || !prefix) {
  console.error("usage: node bench/stem-capture.js RUN.json PCAP-PREFIX (as bench/stem.js --capture wrote them)");
  process.exit(2);
}
const run = JSON.parse(readFileSync(runFile, "utf8"));
const cell = run.results[0];
const FIELDS = ["frame.time_epoch", "sll.pkttype", "tcp.srcport", "tcp.seq_raw", "tcp.len", "tcp.options.sack_le"];
const SESSION_PORT = 5001;

function packets(who) {
  const r = spawnSync("tshark", ["-r", `${prefix}-${who}.pcap`, "-T", "fields", "-E", "separator=|", "-Y", "tcp", ...FIELDS.flatMap((f) => ["-e", f])], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`tshark on ${prefix}-${who}.pcap: ${r.stderr.trim()}`);
  return r.stdout.trim().split("\n").filter(Boolean).map((l) => {
    const x = l.split("|");
    return { t: Number(x[0]) * 1000, incoming: x[1] === "0", fromServer: Number(x[2]) === SESSION_PORT, seq: Number(x[3]), len: Number(x[4] || 0), sack: x[5] !== "" };
  });
}

const after = (a, b) => ((a - b) >>> 0) !== 0 && ((a - b) >>> 0) < 2 ** 31; // sequence a after b

/** The instants at which the in-order stream advanced at a receiver (segments it received). */
function advances(pkts, fromServer) {
  let next = null;
  let ooo = [];
  const out = [];
  for (const p of pkts) {
    if (!p.incoming || p.fromServer !== fromServer || p.len === 0) continue;
    const end = (p.seq + p.len) >>> 0;
    if (next === null) {
      next = end;
      out.push(p.t);
      continue;
    }
    if (!after(end, next)) continue; // old
    ooo.push([p.seq, end]);
    let moved = false;
    for (let changed = true; changed; ) {
      changed = false;
      for (const [s, e] of ooo) {
        if (!after(s, next)) {
          if (after(e, next)) {
            next = e;
            moved = true;
          }
          ooo = ooo.filter((r) => r[0] !== s || r[1] !== e);
          changed = true;
          break;
        }
      }
    }
    if (moved) out.push(p.t);
  }
  return out;
}

function longest(ts, from, to) {
  let best = 0;
  for (let i = 1; i < ts.length; i++) if (ts[i] > from && ts[i - 1] < to) best = Math.max(best, ts[i] - ts[i - 1]);
  return best;
}

const m = packets("m"), f = packets("f");
const atM = advances(m, true), atF = advances(f, false);
const rows = [];
for (const c of cell.cycles) {
  const t0 = c.t0, t1 = c.t1 ?? t0 + 1000;
  const fRule = (cell.fEvents ?? []).find((e) => e.t >= t0 && e.t <= t1);
  const released = (c.events?.m ?? []).find((e) => e.event === "migration" && e.state === "released");
  const sackAtF = f.find((p) => p.incoming && !p.fromServer && p.sack && p.t > t0 && p.t < t1);
  let high = null, rtx = null;
  for (const p of f) {
    if (p.incoming || !p.fromServer || p.len === 0) continue;
    if (p.t < t0) {
      high = (p.seq + p.len) >>> 0;
      continue;
    }
    if (p.t > t1) break;
    if (high !== null && after(high, p.seq)) {
      rtx = p.t;
      break;
    }
    high = (p.seq + p.len) >>> 0;
  }
  rows.push({
    i: c.i, blackout: c.blackoutMs, gapAt: c.gapAt?.who ?? "-", kernelGapM: longest(atM, t0 - 1, t1), kernelGapF: longest(atF, t0 - 1, t1),
    fRules: fRule ? fRule.t - t0 : NaN, mReleased: released ? released.t - t0 : NaN, firstSackAtF: sackAtF ? sackAtF.t - t0 : NaN, fFirstRetransmission: rtx ? rtx - t0 : NaN,
  });
}
const fmt = (x) => (typeof x === "number" ? (Number.isInteger(x) ? String(x) : Number.isFinite(x) ? x.toFixed(1) : "-") : String(x));
const keys = Object.keys(rows[0] ?? {});
console.log(keys.join("  "));
for (const r of rows) console.log(keys.map((k) => fmt(r[k])).join("  "));
const med = (k) => {
  const xs = rows.map((r) => r[k]).filter(Number.isFinite).sort((a, b) => a - b);
  return xs.length ? xs[Math.floor((xs.length - 1) / 2)] : NaN;
};
console.log("median  " + keys.slice(1).map((k) => `${k} ${fmt(k === "gapAt" ? `M ${rows.filter((r) => r.gapAt === "M").length} / F ${rows.filter((r) => r.gapAt === "F").length}` : med(k))}`).join(", "));
