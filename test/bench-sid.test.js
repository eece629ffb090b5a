// bench/sid.js cannot rot: its quick mode runs once and its --json output is
// well formed (every figure present, every number a number, the counts it
// was asked for). The figures themselves are never asserted (docs/benchmarks.md).
// The transfer and tunnel figures make namespaces (root, as in CI; the
// e2e rule of test/e2e/_e2e.js: HANDOVER_SKIP_E2E=1 leaves only the core's
// binding-table figure). The bench is a Node program: this runs under Node.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runtime, e2eEnabled } from "./e2e/_e2e.js";

const BENCH = fileURLToPath(new URL("../bench/sid.js", import.meta.url));
const FLOWS = fileURLToPath(new URL("../bench/sid-flows.js", import.meta.url));
const num = (v, what) => assert.ok(typeof v === "number" && Number.isFinite(v), `${what} is a number (${v})`);

function checkBindings(b) {
  for (const k of ["bytesPerBinding", "tableRecordBytesPerBinding", "lookupNs", "lookupUnboundNs", "lookupVsRandomLoad", "lookupVsJsMap"]) num(b[k], `bindings.${k}`);
  for (const k of ["table", "expiryHeap", "vniSet"]) num(b.memoryPerBinding[k], `bindings.memoryPerBinding.${k}`);
  for (const k of ["randomLoadNs", "jsMapNs", "hmacPerSecond"]) num(b.baselines[k], `bindings.baselines.${k}`);
  assert.is(b.bindings, 20000);
  assert.is(b.renewals.sent, 5000);
  num(b.renewals.applied, "renewals.applied");
  num(b.renewals.perSecond, "renewals.perSecond");
  num(b.replays.perSecond, "replays.perSecond");
}

function checkTunnel(u) {
  for (const mode of ["plain", "sid"]) {
    for (const k of ["gbitPerSecond", "packetsPerSecond", "packetsPerSecondPerCore", "segmentsPerSecond"]) num(u[mode][k], `tunnel.${mode}.${k}`);
    assert.is(u[mode].runs.length, 1, `tunnel.${mode}: one round`);
  }
  num(u.ratioToPlain, "tunnel.ratioToPlain");
  assert.type(u.vxlanDevice, "string");
}

function checkTransfer(cells) {
  assert.is(cells.length, 1, "one RTT in quick mode");
  const c = cells[0];
  assert.is(c.rtt, 1);
  for (const system of ["sid", "reconnect"]) {
    const s = c[system];
    assert.is(s.n, 3, `${system}: 3 transfers`);
    assert.is(c.samples[system].length, 3);
    assert.ok(Array.isArray(s.errors));
    for (const x of c.samples[system]) {
      assert.type(x.ok, "boolean");
      if (x.ok) {
        num(x.transferMs, `${system} transferMs`);
        num(x.gapMs, `${system} gapMs`);
        num(x.lost, `${system} lost`);
        num(x.resets, `${system} resets`);
      } else assert.type(x.error, "string");
    }
  }
  num(c.goalMs, "goalMs");
}

if (runtime() === "node") {
  test("bench/sid.js --quick produces well-formed figures", () => {
    const namespaces = e2eEnabled();
    const dir = mkdtempSync(join(tmpdir(), "bench-sid-"));
    try {
      const file = join(dir, "sid.json");
      const argv = [BENCH, "--quick", "--json", file, ...(namespaces ? [] : ["--figures", "bindings"])];
      const r = spawnSync(process.execPath, argv, { encoding: "utf8", timeout: 120000, env: { ...process.env, HANDOVER_TAG: process.env.HANDOVER_TAG ?? "" } });
      assert.is(r.status, 0, `bench/sid.js --quick exited ${r.status} ${r.signal ?? ""}: ${r.stderr.slice(-2000)}`);
      assert.match(r.stdout, /^SID figures \(quick run/);
      const out = JSON.parse(readFileSync(file, "utf8"));
      assert.is(out.quick, true);
      num(out.seconds, "seconds");
      checkBindings(out.figures.bindings);
      if (namespaces) {
        checkTunnel(out.figures.tunnel);
        checkTransfer(out.figures.transfer);
        assert.match(r.stdout, /binding table at 20000 bindings/);
        assert.match(r.stdout, /SID tunnel C -> X/);
        assert.match(r.stdout, /reconnect/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // bench/sid-flows.js (issue 9, per-flow sorting in the kernel): a short run, its JSON well formed, and its
  // check that sorting is real (the blackholed sorted stream does not arrive, the plain one does).
  test("bench/sid-flows.js produces well-formed figures and its sorting check holds", () => {
    if (!e2eEnabled()) return;
    const dir = mkdtempSync(join(tmpdir(), "bench-sid-flows-"));
    try {
      const file = join(dir, "flows.json");
      const argv = [FLOWS, "--flows", "1,20", "--seconds", "1", "--rounds", "1", "--json", file];
      const r = spawnSync(process.execPath, argv, { encoding: "utf8", timeout: 120000, env: { ...process.env, HANDOVER_TAG: process.env.HANDOVER_TAG ?? "" } });
      assert.is(r.status, 0, `bench/sid-flows.js exited ${r.status} ${r.signal ?? ""}: ${r.stderr.slice(-2000)}`);
      const out = JSON.parse(readFileSync(file, "utf8"));
      assert.equal(out.rows.map((x) => x.flows), [1, 20]);
      for (const row of out.rows) {
        assert.is(row.mapElements, 2 * row.flows, "TCP and UDP elements of every flow");
        assert.is(row.check.blockedArrived, 0, "sorted datagrams took the flows' (blackholed) table");
        assert.ok(row.check.plainArrived > 0, "plain datagrams arrived");
        for (const mode of ["plain", "sorted"]) {
          num(row[mode].tcpGbps, `${mode}.tcpGbps`);
          num(row[mode].udpPps, `${mode}.udpPps`);
        }
        for (const k of ["tcpRatio", "udpRatio", "sortingNsPerPacket"]) num(row[k], k);
        for (const k of ["sortingNsPerPacket", "udpRatio", "tcpRatio"]) num(row.cpu[k], `cpu.${k}`);
      }
      assert.type(out.goal.perCore.met, "boolean");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
