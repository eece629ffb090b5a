// `handover demo stem`: the main job, on throwaway network namespaces.

import { runStem, type StemReport, type Mode } from "./stem.ts";
import { runSid, type SidReport } from "./sid.ts";
import { runSidFlows, sidFlowsOk, type SidFlowsReport } from "./sidflows.ts";
import { runSidAddr, runSidAddr6, sidAddrOk, type SidAddrReport, type SidAddr6Report } from "./sidaddr.ts";
import { canCreateNamespaces } from "./netns.ts";
import { parseCommand, commandHelp, intOption, UsageError, type CommandSpec } from "../hosts/shared/args.ts";

const SPEC: CommandSpec = {
  summary: `demo stem: builds three network namespaces (migrator M, router R, fixed
  end F), runs a handover daemon in M and in F, streams TCP and UDP between them
  with an ordinary application, and moves M to a new address mid-stream.
  demo sid: builds five (correspondent C, filtering router R, transferring node N
  and agent A on the home link, target T on a foreign link or with --same-subnet
  on the home link), runs a handover node in N, A and T, and moves N's live TCP
  connection with C to T. demo sid-flows: the same network with two
  correspondents; N holds a TCP session with each, moves one of them to T
  through the agent (per-flow mode, the Session Agent) and keeps the other,
  opens a new one while the transfer is live, then takes everything back.
  demo sid-flows --session-address v4|v6: the moving session runs from a
  session-specific address (PROTOCOL.md 8.18; v4 from N's static pool, v6
  generated in N's /64 with DAD), and only that address moves (--same-subnet:
  to a target on the home link).
  They need root; everything they create is removed when they end.`,
  positionals: ["stem|sid|sid-flows"],
  options: {
    break: { type: "boolean", help: "break-before-make (the old address goes before the new comes)" },
    v6: { type: "boolean", help: "IPv6 instead of IPv4" },
    migrations: { type: "string", value: "N", help: "move back and forth N times (make-before-break), 1-100" },
    rtt: { type: "string", value: "MS", help: "add MS of round-trip time on the router (userspace delay line), 0-2000" },
    server: { type: "boolean", help: "the server end moves instead of the client" },
    json: { type: "boolean", help: "print the report as one JSON object" },
    "same-subnet": { type: "boolean", help: "sid: the target on the home link (FIG. 1b: no agent)" },
    reverse: { type: "boolean", help: "sid: return traffic reverse-tunnelled through the agent (passes the router's ingress filter)" },
    direct: { type: "boolean", help: "sid: return traffic direct from the target (dropped by the router's ingress filter: the demo shows why --reverse exists)" },
    pieces: { type: "boolean", help: "sid: drive the host's data-plane pieces by hand instead of the SID state machines" },
    "session-address": { type: "string", value: "v4|v6|dhcp", help: "sid-flows: the moving session on a session-specific address (v4: static pool; v6: generated with DAD; dhcp: DHCPv4 from a dnsmasq on the home link); only that address moves" },
    vanish: { type: "boolean", help: "sid-flows --session-address: the target vanishes after the transfer (the binding expires, the node releases the address)" },
    http: { type: "boolean", help: "sid: the correspondent is Python's own http.server (not part of handover); the application downloads a file through the transfer" },
    udp: { type: "boolean", help: "sid: a UDP flow (numbered datagrams both ways) moves beside the TCP stream; the target's application gets a socket bound to the same address and port" },
    socat: { type: "boolean", help: "sid --udp: the UDP correspondent is socat (Debian's, not part of handover) echoing every datagram" },
    back: { type: "boolean", help: "sid, sid-flows: the target then gives the session back to the node (a return; with --same-subnet without the agent; sid-flows: the per-flow return)" },
  },
};

function printSidReport(r: SidReport): void {
  const t0 = r.timeline[0]?.t ?? 0;
  console.log(`\nSID demonstration: ${r.scenario} (real kernels, network namespaces)\n`);
  console.log(`  t (ms)   who  what`);
  for (const e of r.timeline) console.log(`${(e.t - t0).toFixed(3).padStart(9)}  ${pad(e.who, 4)} ${e.what}`);
  const C = r.correspondent;
  console.log(`\nverdict:`);
  if (r.error) console.log(`  error: ${r.error}`);
  console.log(`  bytes sent ${r.bytesSent}, received ${r.bytesReceived}`);
  if (C && r.target && !C.sha256Received) {
    console.log(`  SHA-256 of the file the web server sent ${C.sha256Sent.slice(0, 16)}… = of the body the application received ${r.target.sha256Received.slice(0, 16)}…`);
  } else if (C && r.target) {
    console.log(`  SHA-256 correspondent->application ${C.sha256Sent.slice(0, 16)}… = ${r.target.sha256Received.slice(0, 16)}…`);
    console.log(`  SHA-256 application->correspondent ${r.target.sha256Sent.slice(0, 16)}… = ${C.sha256Received.slice(0, 16)}…`);
  }
  console.log(`  digests equal: ${r.digestsEqual ? "yes" : "NO"}; lost: ${r.lost}; resets: ${r.resets}`);
  console.log(`  transfer time (decision to the first correspondent byte at the target): ${r.transferMs === null ? "-" : `${r.transferMs.toFixed(1)} ms`}`);
  if (C && C.sha256Received) console.log(`  longest gap the correspondent saw: ${C.maxGapMs} ms`);
  if (r.target) console.log(`  longest gap the application saw: ${r.target.maxGapMs} ms`);
  console.log(`  served: node N sent ${r.served.node.sent} and received ${r.served.node.received} bytes; target T sent ${r.served.target.sent} and received ${r.served.target.received}`);
  if (r.filtered) console.log(`  the router's ingress filter dropped ${r.filtered} packets`);
  const u = r.udp;
  if (u) {
    const C = u.correspondent;
    if (C?.program && u.target) {
      console.log(`  UDP (${C.program}): SHA-256 of what the application sent ${u.target.sha256Sent.slice(0, 16)}… = of what came back ${u.target.sha256Received.slice(0, 16)}…`);
    } else if (C && u.target) {
      console.log(`  UDP SHA-256 correspondent->application ${String(C.sha256Sent).slice(0, 16)}… = ${u.target.sha256Received.slice(0, 16)}…`);
      console.log(`  UDP SHA-256 application->correspondent ${u.target.sha256Sent.slice(0, 16)}… = ${String(C.sha256Received).slice(0, 16)}…`);
    }
    console.log(`  UDP digests equal: ${u.digestsEqual ? "yes" : "NO"}; lost: ${u.lost} datagrams; late (after a higher number, not lost): ${u.late}; duplicates: ${u.duplicates}`);
    console.log(`  UDP transfer time (decision to the first datagram at the target): ${u.transferMs === null ? "-" : `${u.transferMs.toFixed(1)} ms`}; longest gap: ${u.maxGapMs ?? "-"} ms`);
    console.log(`  UDP served: node N sent ${u.served.node.sent} and received ${u.served.node.received} datagrams; the target sent ${u.served.target.sent} and received ${u.served.target.received}`);
  }
  const ok = sidOk(r);
  console.log(`\n${ok ? "PASS" : "FAIL"}: the session ${ok ? "moved to the target intact" : "did not survive the transfer"}\n`);
}

function printSidFlowsReport(r: SidFlowsReport): void {
  const t0 = r.timeline[0]?.t ?? 0;
  console.log(`\nSID demonstration: ${r.scenario} (real kernels, network namespaces)\n`);
  console.log(`  t (ms)   who  what`);
  for (const e of r.timeline) console.log(`${(e.t - t0).toFixed(3).padStart(9)}  ${pad(e.who, 4)} ${e.what}`);
  console.log(`\nverdict:`);
  if (r.error) console.log(`  error: ${r.error}`);
  for (const s of r.sessions) {
    console.log(`  ${s.name} with ${s.correspondent}: ${s.moved ? "moved to the target" : "stayed with the node"}, ended at the ${s.servedBy}; bytes ${s.sentBytes} sent, ${s.receivedBytes} received; digests equal: ${s.digestsEqual ? "yes" : "NO"}; lost: ${s.lost}; resets: ${s.resets}`);
    console.log(`     served: node sent ${s.served.node.sent} and received ${s.served.node.received}; target sent ${s.served.target.sent} and received ${s.served.target.received}`);
  }
  console.log(`  transfer time (decision to the first correspondent byte at the target): ${r.transferMs === null ? "-" : `${r.transferMs.toFixed(1)} ms`}`);
  console.log(`  the node got its address back (Wake-up to its Interim Address): ${r.woken ? "yes" : "no"}`);
  const ok = sidFlowsOk(r);
  console.log(`\n${ok ? "PASS" : "FAIL"}: ${ok ? "one session moved, the others stayed, all intact" : "a session did not survive"}\n`);
}

function printSidAddrReport(r: SidAddrReport, vanish: boolean): void {
  const t0 = r.timeline[0]?.t ?? 0;
  console.log(`\nSID demonstration: ${r.scenario} (real kernels, network namespaces)\n`);
  console.log(`  t (ms)   who  what`);
  for (const e of r.timeline) console.log(`${(e.t - t0).toFixed(3).padStart(9)}  ${pad(e.who, 4)} ${e.what}`);
  console.log(`\nverdict:`);
  if (r.error) console.log(`  error: ${r.error}`);
  if (r.dhcp) console.log(`  DHCP (dnsmasq's lease file): leased to the node ${r.dhcp.leasedToNode ? "yes" : "NO"}, renewed by the target under the node's client id ${r.dhcp.renewedByTarget ? "yes" : "NO"}, released by the last holder ${r.dhcp.releasedAtServer ? "yes" : "NO"}`);
  console.log(`  session address ${r.sessionAddress ?? "-"}, base address ${r.baseAddress} (stayed the node's: ${r.baseStayed ? "yes" : "NO"})`);
  for (const s of r.sessions) {
    console.log(`  ${s.name} with ${s.correspondent}: ${s.moved ? "moved to the target" : "stayed with the node"}; bytes ${s.sentBytes} sent, ${s.receivedBytes} received; digests equal: ${s.digestsEqual ? "yes" : "NO"}; lost: ${s.lost}; resets: ${s.resets}`);
  }
  console.log(`  transfer time (decision to the first correspondent byte at the target): ${r.transferMs === null ? "-" : `${r.transferMs.toFixed(1)} ms`}`);
  console.log(`  released: lease ${r.released.leaseReleased ? "yes" : "no"}, alias off the link ${r.released.aliasGone ? "yes" : "no"}, agent binding gone ${r.released.agentBindingGone ? "yes" : "no"}`);
  const ok = sidAddrOk(r, vanish);
  console.log(`\n${ok ? "PASS" : "FAIL"}: ${ok ? "only the session address moved; the other sessions stayed intact" : "a session or the address did not come through"}\n`);
}

const sidAddr6Ok = (r: SidAddr6Report) =>
  r.error === null && r.moved && r.woken && r.aliasGone && r.sessions.length === 2 && r.sessions.every((s) => s.digestsEqual && s.lost === 0 && s.resets === 0);

function printSidAddr6Report(r: SidAddr6Report): void {
  const t0 = r.timeline[0]?.t ?? 0;
  console.log(`\nSID demonstration: ${r.scenario} (real kernels, network namespaces)\n`);
  console.log(`  t (ms)   who  what`);
  for (const e of r.timeline) console.log(`${(e.t - t0).toFixed(3).padStart(9)}  ${pad(e.who, 4)} ${e.what}`);
  console.log(`\nverdict:`);
  if (r.error) console.log(`  error: ${r.error}`);
  console.log(`  session address ${r.sessionAddress ?? "-"} (ready after ${r.readyMs ?? "-"} ms of duplicate address detection)`);
  for (const s of r.sessions) console.log(`  ${s.name}: ${s.moved ? "moved to the target" : "stayed with the node"}; bytes ${s.sentBytes} sent, ${s.receivedBytes} received; digests equal: ${s.digestsEqual ? "yes" : "NO"}; lost: ${s.lost}; resets: ${s.resets}`);
  console.log(`  released, alias off the link: ${r.aliasGone ? "yes" : "no"}`);
  const ok = sidAddr6Ok(r);
  console.log(`\n${ok ? "PASS" : "FAIL"}: ${ok ? "only the session address moved; the other session stayed intact" : "a session or the address did not come through"}\n`);
}

const sidOk = (r: SidReport) => r.error === null && r.digestsEqual && r.lost === 0 && r.resets === 0 && (!r.udp || (r.udp.digestsEqual && r.udp.lost === 0));

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
      if (!p.help && !["stem", "sid", "sid-flows"].includes(p.positionals[0])) throw new UsageError("demo", `unknown demonstration '${p.positionals[0]}': there are 'stem', 'sid' and 'sid-flows'`);
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
    if (p.positionals[0] === "sid-flows" && p.values["session-address"] !== undefined) {
      if (p.values["session-address"] === "v6") {
        const r6 = await runSidAddr6({ transfer: true, agent: p.values["same-subnet"] !== true });
        if (p.values.json) console.log(JSON.stringify(r6));
        else printSidAddr6Report(r6);
        return sidAddr6Ok(r6) ? 0 : 1;
      }
      if (p.values["session-address"] !== "v4" && p.values["session-address"] !== "dhcp") {
        console.error(`handover demo: --session-address ${p.values["session-address"]}: v4 (static pool), v6 (generated) or dhcp (DHCPv4 from dnsmasq)\nsee: handover demo --help`);
        return 2;
      }
      const vanish = p.values.vanish === true;
      const report = await runSidAddr({ sameSubnet: p.values["same-subnet"] === true, vanish, dhcp: p.values["session-address"] === "dhcp" });
      if (p.values.json) console.log(JSON.stringify(report));
      else printSidAddrReport(report, vanish);
      return sidAddrOk(report, vanish) ? 0 : 1;
    }
    if (p.positionals[0] === "sid-flows") {
      const report = await runSidFlows({ back: p.values.back === true });
      if (p.values.json) console.log(JSON.stringify(report));
      else printSidFlowsReport(report);
      return sidFlowsOk(report) ? 0 : 1;
    }
    if (p.positionals[0] === "sid") {
      if (p.values.reverse && p.values.direct) {
        console.error("handover demo: --reverse and --direct exclude each other\nsee: handover demo --help");
        return 2;
      }
      const sameSubnet = p.values["same-subnet"] === true;
      // Under the router's ingress filter a foreign target needs the reverse tunnel: the default.
      const reverse = !sameSubnet && p.values.direct !== true;
      if (p.values.udp && p.values.pieces) {
        console.error("handover demo: --udp needs the state machines (not --pieces)\nsee: handover demo --help");
        return 2;
      }
      if (p.values.http && p.values.pieces) {
        console.error("handover demo: --http needs the state machines (not --pieces)\nsee: handover demo --help");
        return 2;
      }
      const report = await runSid({ sameSubnet, reverse, driver: p.values.pieces ? "pieces" : "engine", correspondent: p.values.http ? "python-http" : "traffic", afterMs: p.values.http ? 0 : undefined, udp: p.values.udp === true || p.values.socat === true, udpPeer: p.values.socat ? "socat" : "traffic", back: p.values.back === true });
      if (p.values.json) console.log(JSON.stringify(report));
      else printSidReport(report);
      return sidOk(report) ? 0 : 1;
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
