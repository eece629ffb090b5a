// `handover demo stem`: the main job, on throwaway network namespaces.

import { runStem, type StemReport, type Mode } from "./stem.ts";
import { canCreateNamespaces } from "./netns.ts";
import { parseCommand, commandHelp, intOption, UsageError, type CommandSpec } from "../hosts/shared/args.ts";

const SPEC: CommandSpec = {
  summary: `Builds three network namespaces (migrator M, router R, fixed end F), runs a
  handover daemon in M and in F, streams TCP and UDP between them with an
  ordinary application, and moves M to a new address mid-stream. Needs root.
  Everything it creates is removed when it ends.`,
  positionals: ["stem"],
  options: {
    break: { type: "boolean", help: "break-before-make (the old address goes before the new comes)" },
    v6: { type: "boolean", help: "IPv6 instead of IPv4" },
    migrations: { type: "string", value: "N", help: "move back and forth N times (make-before-break), 1-100" },
    rtt: { type: "string", value: "MS", help: "add MS of round-trip time on the router (userspace delay line), 0-2000" },
    server: { type: "boolean", help: "the server end moves instead of the client" },
    json: { type: "boolean", help: "print the report as one JSON object" },
  },
};

const pad = (s: string, n: number) => (s.length >= n ? s : s + " ".repeat(n - s.length));

export function printReport(r: StemReport): void {
  const t0 = r.timeline[0]?.t ?? 0;
  const W = 58;
  console.log(`\nSTEM demonstration: ${r.scenario}, ${r.family} (real kernels, network namespaces)\n`);
  console.log(`${pad("  t (ms)", 11)}${pad("migrator M", W)}fixed end F`);
  for (const e of r.timeline) {
    const t = (e.t - t0).toFixed(3).padStart(9);
    const text = e.what.length > W - 2 ? e.what.slice(0, W - 3) + "…" : e.what;
    if (e.who === "F") console.log(`${t}  ${pad("", W)}${e.what}`);
    else if (e.who === "M") console.log(`${t}  ${text}`);
    else console.log(`${t}  [${e.who}] ${e.what}`);
  }
  const tcp = r.tcp;
  console.log(`\nverdict:`);
  console.log(`  bytes sent ${r.bytesSent}, received ${r.bytesReceived}`);
  console.log(`  TCP SHA-256 client->server ${tcp.client.sha256Sent.slice(0, 16)}… = ${tcp.server.sha256Received.slice(0, 16)}…`);
  console.log(`  TCP SHA-256 server->client ${tcp.server.sha256Sent.slice(0, 16)}… = ${tcp.client.sha256Received.slice(0, 16)}…`);
  console.log(`  digests equal: ${r.digestsEqual ? "yes" : "NO"}; lost: ${r.lost}; resets: ${r.resets}`);
  console.log(`  blackout (longest gap in the application's stream): ${r.blackoutMs.toFixed(1)} ms`);
  for (const m of r.migrations) console.log(`  migration ${m.id}: ${m.from} -> ${m.to} ${m.state} in ${m.elapsedMs} ms${m.error ? ` (${m.error})` : ""}`);
  const ok = r.digestsEqual && r.lost === 0 && r.resets === 0 && r.migrations.every((m) => m.state === "completed");
  console.log(`\n${ok ? "PASS" : "FAIL"}: the session ${ok ? "survived" : "did not survive"} the address change\n`);
}

/** Builds the demo command for a runtime: `launcher` runs that runtime's CLI. */
export function demoCommand(launcher: string[], app?: string[]) {
  return async (args: string[]): Promise<number> => {
    let p;
    let migrations: number, rttMs: number | undefined;
    try {
      p = parseCommand("demo", SPEC, args);
      if (!p.help && p.positionals[0] !== "stem") throw new UsageError("demo", `unknown demonstration '${p.positionals[0]}': the one there is is 'stem'`);
      migrations = intOption("demo", p.values, "migrations", 1, 100, "migrations") ?? 1;
      rttMs = intOption("demo", p.values, "rtt", 0, 2000, "milliseconds");
    } catch (e) {
      console.error(`handover ${(e as Error).message}\nsee: handover demo --help`);
      return 2;
    }
    if (p.help) {
      console.log(commandHelp("demo", SPEC));
      return 0;
    }
    const can = canCreateNamespaces();
    if (!can.ok) {
      console.error(`handover demo: ${can.why}`);
      return 2;
    }
    const mode: Mode = p.values.break ? "break-before-make" : "make-before-break";
    const report = await runStem({
      mode,
      v6: p.values.v6 === true,
      migrations,
      rttMs,
      serverMoves: p.values.server === true,
      launcher: { m: launcher, f: launcher },
      app,
    });
    if (p.values.json) console.log(JSON.stringify(report));
    else printReport(report);
    const ok = report.digestsEqual && report.lost === 0 && report.resets === 0 && report.migrations.every((m) => m.state === "completed");
    return ok ? 0 : 1;
  };
}
