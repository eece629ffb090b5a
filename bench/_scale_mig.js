// The migration figure of bench/scale.js in interleaved rounds (issue 11:
// "one migration applied, request in to reply out, kernel included"):
//
//   --ab DIR      a second build (DIR/dist/hosts/node/cli.js, e.g. an export of
//                 main built there) as variant B; F is stopped (its moves saved)
//                 and started from the other build between the blocks, so both
//                 run against the same kernel table in one run
//   --nice N      each block also with F's threads reniced to N (root: -10 puts F
//                 ahead of the bench's own load generators on this 2-core VM)
//   --rounds R    rounds of blocks (default 3); variants alternate their order
//   --singles K   one request at a time per block (default 60, even: the
//                 probe session ends each block where it started)
//   --burst B     then B sessions of the probe peer migrate at once (B requests
//                 in flight, out and back; default 8, 0 for none)
//
// Every block is timed at the synthetic peer (test/e2e/_scale_peers.js),
// answered at the first attempt (a retransmission's time is the timeout's),
// after 20 unmeasured migrations in the same peer process (its code compiled).

import { readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

export function migOptions(args, opt) {
  const on = args.includes("--ab") || args.includes("--nice") || args.includes("--burst") || args.includes("--rounds");
  if (!on) return null;
  return {
    ab: opt("--ab", null),
    nice: args.includes("--nice") ? Number(opt("--nice", "-10")) : null,
    rounds: Number(opt("--rounds", "3")),
    singles: Number(opt("--singles", "60")) & ~1,
    burst: Number(opt("--burst", "8")),
  };
}

/** Every thread of a process to nice N (setpriority on the pid alone moves only its main thread). */
export function renice(pid, n) {
  let tids = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return;
  }
  spawnSync("renice", ["-n", String(n), "-p", ...tids], { stdio: "ignore" });
}

const pct = (xs, p) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/**
 * Runs the rounds for one table size. ctx: { f, cli, startF, stopF, config, drive, probeIndex, probe, seq }
 * (seq: { next } the Sequence Numbers the probe runs use, so that no run repeats one the daemon's reply
 * cache still holds). Returns { f, figures }, f running ctx.cli again.
 */
export async function migrationRounds(ctx, o) {
  const variants = [{ name: "this", cli: ctx.cli }];
  if (o.ab) variants.push({ name: "B", cli: join(o.ab, "dist", "hosts", "node", "cli.js") });
  const nices = o.nice === null ? [0] : [0, o.nice];
  const cells = {};
  for (const v of variants) for (const n of nices) cells[`${v.name} nice ${n}`] = { singles: [], burst: [], restarts: [] };
  let f = ctx.f;
  let running = ctx.cli;
  const p = ctx.probe;
  const there = (port) => [p.a, port, p.b, port];
  const back = (port) => [p.b, port, p.a, port];
  // 20 migrations of the probe session, unmeasured, before each block (even: it ends where it started)
  const warmup = Array.from({ length: 20 }, (_, i) => ({ peer: ctx.probeIndex, moves: [i % 2 ? back(60000) : there(60000)] }));
  const run = async (requests, window, name) => {
    const r = await ctx.drive(requests, window, name, ctx.seq.next, warmup);
    ctx.seq.next = (ctx.seq.next + warmup.length + requests.length + 1) & 0xffff;
    return r.results.filter((x) => x.code === "ACCEPTED" && x.attempts === 1).map((x) => x.ms);
  };
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 ? [...variants].reverse() : variants;
    for (const v of order) {
      let restartMs = null;
      if (running !== v.cli) {
        await ctx.stopF(f, false);
        f = await ctx.startF(ctx.config, "restored", v.cli);
        running = v.cli;
        restartMs = f.ms;
      }
      for (const n of round % 2 ? [...nices].reverse() : nices) {
        renice(f.child.pid, n);
        const c = cells[`${v.name} nice ${n}`];
        if (restartMs !== null) c.restarts.push(restartMs);
        const singles = Array.from({ length: o.singles }, (_, i) => ({ peer: ctx.probeIndex, moves: [i % 2 ? back(60000) : there(60000)] }));
        c.singles.push(...(await run(singles, 1, `mig-${v.name}-${n}`)));
        if (o.burst > 0) {
          const ports = Array.from({ length: o.burst }, (_, i) => 60001 + i);
          c.burst.push(...(await run(ports.map((port) => ({ peer: ctx.probeIndex, moves: [there(port)] })), o.burst, `burst-${v.name}-${n}`)));
          c.burst.push(...(await run(ports.map((port) => ({ peer: ctx.probeIndex, moves: [back(port)] })), o.burst, `burst-${v.name}-${n}`)));
        }
      }
    }
  }
  if (running !== ctx.cli) {
    await ctx.stopF(f, false);
    f = await ctx.startF(ctx.config, "restored", ctx.cli);
  }
  renice(f.child.pid, 0);
  const figures = {};
  for (const [k, c] of Object.entries(cells)) {
    figures[k] = {
      p50: pct(c.singles, 50), p99: pct(c.singles, 99), n: c.singles.length,
      burstP50: pct(c.burst, 50), burstP99: pct(c.burst, 99), burstN: c.burst.length,
    };
  }
  return { f, figures };
}

export function printMig(n, figures) {
  for (const [k, x] of Object.entries(figures)) {
    console.log(
      `${String(n).padStart(7)} moves, ${k.padEnd(13)}: migration p50 ${x.p50.toFixed(3)} ms p99 ${x.p99.toFixed(2)} ms (${x.n}); ` +
        `burst p50 ${x.burstP50.toFixed(3)} ms p99 ${x.burstP99.toFixed(2)} ms (${x.burstN})`,
    );
  }
}

/** The goal per cell: p50 at the last size <= 1 ms and <= 2x the first size's. */
export function printMigGoals(sizes, byN) {
  const first = byN[sizes[0]];
  const last = byN[sizes.at(-1)];
  if (!first || !last) return;
  for (const k of Object.keys(last)) {
    const a = first[k].p50;
    const b = last[k].p50;
    const slope = sizes.slice(1).map((n, i) => ((byN[n][k].p50 - byN[sizes[i]][k].p50) / Math.log10(n / Math.max(1, sizes[i]))).toFixed(3));
    console.log(`migration goal, ${k}: p50 ${b.toFixed(3)} ms at ${sizes.at(-1)} (${b <= 1 ? "<=" : ">"} 1 ms), ${(b / a).toFixed(2)}x the ${sizes[0]}-move ${a.toFixed(3)} ms (${b / a <= 2 ? "<=" : ">"} 2x); slope per decade ${slope.join(", ")} ms`);
  }
}
