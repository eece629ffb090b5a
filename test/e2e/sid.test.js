// SID on real kernels (docs/PROTOCOL.md section 8): a live TCP connection
// moves from the transferring node to the target while an unmodified
// correspondent (tools/traffic.js) streams with it both ways; SHA-256 at the
// correspondent and at the application must agree, nothing lost, no reset.
// demo/sid.ts runs the roles in namespaces hov-<tag>-{c,r,n,a,t}
// (demo/netns.ts SidTopology), removed at start and in finally.
//
// "engine": three handover nodes (N, A, T) whose SID state machines in the
// core do the transfer; the application hands its socket to node.sid.transfer.
// "pieces": the host's pieces driven by hand, no control protocol: the tunnel
// from the core's rtnetlink requests, gratuitous and proxy ARP from the core's
// frames through AF_PACKET, the socket dumped with TCP_REPAIR into the core's
// state record, sealed under the session key to the target's control port,
// restored there.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runtime, tagOf, e2eEnabled } from "./_e2e.js";
import { fileURLToPath } from "node:url";
import { runSid } from "../../dist/demo/sid.js";

function survived(r, label, maxTransferMs = 2000) {
  const why = `${label}: ${r.error ?? ""} ${JSON.stringify({ lost: r.lost, resets: r.resets, digestsEqual: r.digestsEqual, served: r.served })}`;
  assert.is(r.error, null, why);
  assert.ok(r.digestsEqual, `${why}: SHA-256 at the correspondent and the application differ`);
  assert.is(r.lost, 0, `${why}: bytes lost`);
  assert.is(r.resets, 0, `${why}: resets`);
  assert.ok(r.served.node.received > 10000 && r.served.node.sent > 10000, `${why}: the node served the first part`);
  assert.ok(r.served.target.received > 10000 && r.served.target.sent > 10000, `${why}: the target served the rest`);
  assert.ok(r.transferMs !== null && r.transferMs < maxTransferMs, `${why}: transfer time ${r.transferMs} ms (at most ${maxTransferMs})`);
}

/** The UDP flow moved too (demo/sid.ts `udp`): both digests equal, no datagram lost, both devices served part of it. */
function udpSurvived(r, label) {
  const u = r.udp;
  const why = `${label} (UDP): ${r.error ?? ""} ${JSON.stringify(u ? { lost: u.lost, late: u.late, duplicates: u.duplicates, digestsEqual: u.digestsEqual, served: u.served } : null)}`;
  assert.ok(u && u.correspondent && u.target, `${why}: no UDP verdict`);
  assert.ok(u.digestsEqual, `${why}: SHA-256 of the datagrams at the correspondent and the application differ`);
  assert.is(u.lost, 0, `${why}: datagrams lost`);
  assert.is(u.duplicates, 0, `${why}: duplicates`);
  assert.ok(u.served.node.received > 100 && u.served.node.sent > 100, `${why}: the node served the first part`);
  assert.ok(u.served.target.received > 100 && u.served.target.sent > 100, `${why}: the target served the rest`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** The core's sid events a role reported, with this state. */
const sidEvents = (role, state) => role.events.filter((e) => e.sid && e.sid.state === state);
async function waitSid(role, state, ms = 8000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (sidEvents(role, state).length) return sidEvents(role, state)[0].sid;
  throw new Error(`no sid '${state}' event from ${role.events[0]?.who ?? "?"} within ${ms} ms: ${JSON.stringify(role.events.map((e) => e.what)).slice(0, 600)}`);
}

if (e2eEnabled() && runtime() === "node") {
  test("SID: transfer to a foreign target, reverse-tunnelled return: survives BCP 38; the session's end deregisters", async () => {
    let seen;
    const r = await runSid({ tag: tagOf("er"), reverse: true, udp: true, after: async (s) => {
      await waitSid(s.agent, "ended");
      await waitSid(s.target, "ended");
      seen = true;
    } });
    survived(r, "reverse");
    udpSurvived(r, "reverse");
    assert.is(r.filtered, 0, "nothing was dropped by the ingress filter");
    assert.ok(seen, "agent and target ended the binding after the session");
  });

  test("SID 8.12: the target holds what the agent tunnels before its release and accepts it into the restored socket: held > 0, nothing lost", async () => {
    let held = null, retrans = null;
    const nstat = (topo) => Number(/TcpRetransSegs\s+(\d+)/.exec(topo.try(topo.c, ["nstat", "-az", "TcpRetransSegs"]).out)?.[1]);
    let before = 0;
    // The agent's own Binding Ack reaches T before anything the agent tunnels (8.12: it leaves once the tunnel is in,
    // before the gratuitous ARP), so T would release before there is anything to hold. R drops the first two Binding
    // Acks (type 21) on their way to T: T is bound only on its Binding Update's retransmission, and what the agent
    // tunnels meanwhile must wait in T's hold.
    const lateAck = "table inet lateack {\n  chain forward { type filter hook forward priority -10; policy accept;\n" +
      "    udp dport 4346 @th,72,8 21 limit rate 1/hour burst 2 packets counter drop\n  }\n}\n";
    const r = await runSid({ tag: tagOf("eq"), reverse: true, afterMs: 800,
      before: async (s) => { before = nstat(s.topo); s.topo.ns(s.topo.r, ["nft", "-f", "-"], lateAck); },
      during: async (s) => {
        retrans = nstat(s.topo) - before;
        s.target.send({ cmd: "state" });
        held = (await s.target.wait("state")).state.held;
      } });
    survived(r, "hold");
    // Without the hold chain (its jump, or its queue rule) the queue takes nothing: held stays 0.
    assert.ok(held > 0, `the target's queue held ${held} packets (the correspondent retransmitted ${retrans} segments; longest gap ${r.correspondent?.maxGapMs} ms)`);
  });

  // 8.12, the hold at the node. R's neighbour entry for X is pinned to N's link-layer address (a router that
  // ignores the agent's gratuitous ARP: the longest form of the window in which R still delivers X's packets to
  // N after N's stop rule): every correspondent packet after the transfer reaches N, and only N's hand-on
  // (queued until the agent's Transfer Reply, then copied on to the agent) takes them to the target. Without
  // it N's stop rule drops them all and the session cannot survive. With `dropReply` the agent's first
  // Transfer Reply is dropped on its way to N, so that N holds (its queue) until the retransmitted one.
  async function pinned(tag, dropReply) {
    let handedOn = null, nodeHeld = null, retrans = null, before = 0;
    const nstat = (topo) => Number(/TcpRetransSegs\s+(\d+)/.exec(topo.try(topo.c, ["nstat", "-az", "TcpRetransSegs"]).out)?.[1]);
    const r = await runSid({ tag: tagOf(tag), reverse: true, udp: true, afterMs: 800,
      before: async (s) => {
        const mac = s.topo.ns(s.topo.n, ["cat", "/sys/class/net/n-h/address"]).trim();
        s.topo.ns(s.topo.r, ["ip", "neigh", "replace", s.topo.addr.transferred, "lladdr", mac, "dev", "hbr", "nud", "permanent"]);
        if (dropReply) {
          // The agent's Transfer Reply (SID type 19, byte 1 of the UDP payload), once.
          s.topo.ns(s.topo.n, ["nft", "-f", "-"], `table ip dropreply {
  chain in {
    type filter hook input priority -300; policy accept;
    ip saddr ${s.topo.addr.agent} udp sport 4346 @th,72,8 19 limit rate 1/hour burst 1 packets counter drop
  }
}`);
        }
        before = nstat(s.topo);
      },
      during: async (s) => {
        retrans = nstat(s.topo) - before;
        const out = s.topo.try(s.topo.n, ["nft", "list", "table", "ip", "hovsid"]).out;
        handedOn = Number(/counter packets (\d+) bytes \d+ dup to/.exec(out)?.[1] ?? NaN);
        s.node.send({ cmd: "state" });
        nodeHeld = (await s.node.wait("state")).state.nodeHeld;
        if (dropReply) assert.match(s.topo.try(s.topo.n, ["nft", "list", "table", "ip", "dropreply"]).out, /counter packets 1 /, "one Transfer Reply dropped");
      } });
    const why = `handed on ${handedOn}, N's queue held ${nodeHeld}, correspondent retransmissions ${retrans}, longest gap ${r.correspondent?.maxGapMs} ms`;
    survived(r, `pinned router${dropReply ? ", the first Transfer Reply dropped" : ""} (${why})`);
    udpSurvived(r, "pinned router");
    assert.is(r.filtered, 0, "R's ingress filter dropped nothing");
    assert.ok(handedOn > 0, `N's hand-on copied packets on to the agent: ${why}`);
    return { nodeHeld, why };
  }

  test("SID 8.12, the hold at the node: a router that keeps delivering X to N: N hands the correspondent's packets on to the agent; TCP and UDP survive", async () => {
    await pinned("ep", false);
  });

  test("SID 8.12, the hold at the node: the Transfer Reply late: N queues X's packets after its stop rule and hands them on at the reply (held > 0); TCP and UDP survive", async () => {
    const { nodeHeld, why } = await pinned("eo", true);
    assert.ok(nodeHeld > 0, `N's queue held packets until the Transfer Reply: ${why}`);
  });

  test("SID: direct return from a foreign target fails under BCP 38", async () => {
    const r = await runSid({ tag: tagOf("ed"), reverse: false, afterMs: 1000 });
    assert.is(r.result?.state, "transferred", "the transfer itself went through");
    assert.ok(r.filtered > 0, `the router's ingress filter dropped the target's packets (${r.filtered})`);
    assert.not.ok(r.digestsEqual && r.lost === 0, "the session cannot survive with direct return under ingress filtering");
  });

  test("SID: transfer to a foreign target, direct return (no ingress filter on the router): the TCP stream and the UDP flow survive", async () => {
    const r = await runSid({ tag: tagOf("en"), reverse: false, filter: false, udp: true });
    survived(r, "direct");
    udpSurvived(r, "direct");
  });

  test("SID: same subnet (FIG. 1b), no agent", async () => {
    const r = await runSid({ tag: tagOf("es"), sameSubnet: true, udp: true });
    survived(r, "same subnet");
    udpSurvived(r, "same subnet");
  });

  test("SID: an unmodified correspondent that is not part of handover (Python's http.server): the file's SHA-256 survives the transfer", async () => {
    const r = await runSid({ tag: tagOf("eh"), reverse: true, correspondent: "python-http", afterMs: 0 });
    const why = `${r.error ?? ""} ${JSON.stringify({ lost: r.lost, resets: r.resets, served: r.served })}`;
    assert.is(r.error, null, why);
    assert.ok(r.digestsEqual, `the body's SHA-256 is the file's: ${why}`);
    assert.is(r.lost, 0, why);
    assert.is(r.resets, 0, why);
    assert.ok(r.served.node.received > 100000 && r.served.target.received > 100000, `both devices received part of the file: ${why}`);
  });

  test("SID: an unmodified UDP correspondent that is not part of handover (socat echoing every datagram): all of them come back, in order, across the transfer", async () => {
    const r = await runSid({ tag: tagOf("eu"), reverse: true, udp: true, udpPeer: "socat" });
    survived(r, "socat");
    const u = r.udp;
    const why = JSON.stringify(u && { lost: u.lost, late: u.late, duplicates: u.duplicates, digestsEqual: u.digestsEqual, served: u.served });
    assert.ok(u && u.target, `a UDP verdict: ${why}`);
    assert.ok(u.digestsEqual, `what came back is what the application sent (SHA-256): ${why}`);
    assert.is(u.lost, 0, why);
    assert.is(u.late + u.duplicates, 0, why);
    assert.ok(u.served.node.received > 100 && u.served.target.received > 100, `both devices had echoes: ${why}`);
  });

  test("SID: 20% loss of control datagrams each way at 50 ms RTT: the transfer retransmits and the session survives", async () => {
    const r = await runSid({ tag: tagOf("eq"), reverse: true, udp: true, controlLoss: 0.2, rttMs: 50, afterMs: 2000 });
    // Lost control datagrams wait for retransmission (doubling timeouts): seconds, not milliseconds.
    survived(r, "20% control loss, 50 ms RTT", 15000);
    udpSurvived(r, "20% control loss, 50 ms RTT");
  });

  test("SID: a permitted further transfer (F): N -> T -> U, the session ends at U intact", async () => {
    const r = await runSid({ tag: tagOf("ec"), reverse: true, udp: true, chain: "permitted" });
    survived(r, "chained");
    // The UDP flow reaches U with its state. What the correspondent sent all arrives (the agent brings U's
    // tunnel up before T's goes); T's own last datagrams can be lost (PROTOCOL.md 8.12, "UDP flows"): from
    // the agent's switch to T's Transfer Reply they go into the reverse tunnel that went.
    const u = r.udp;
    const why = JSON.stringify(u && { lost: u.lost, missing: u.target?.missing, correspondentMissing: u.correspondent?.lost, served: u.served });
    assert.ok(u && u.target && u.target.here.received > 100 * 100 && u.target.here.sent > 100 * 100, `U's application had the UDP flow: ${why}`);
    assert.is(u.correspondent.sentBytes / 100 - u.target.received, 0, `every datagram of the correspondent's arrived: ${why}`);
    assert.ok(u.digestsEqual || u.correspondent.lost > 0, why);
    assert.is(r.chained?.result.state, "transferred", JSON.stringify(r.chained?.result));
    assert.ok(r.served.second && r.served.second.received > 10000 && r.served.second.sent > 10000, `U served the last part: ${JSON.stringify(r.served)}`);
  });

  test("SID: an unpermitted further transfer is refused (140) by T itself, before it negotiates; the connection never leaves T", async () => {
    const r = await runSid({ tag: tagOf("ef"), reverse: true, udp: true, chain: "refused" });
    assert.is(r.chained?.result.state, "failed", JSON.stringify(r.chained?.result));
    assert.is(r.chained?.result.code, 140, JSON.stringify(r.chained?.result));
    survived(r, "refused further transfer");
    udpSurvived(r, "refused further transfer");
  });

  test("SID: forged state records flooding the target's control port are refused and do not disturb the transfer", async () => {
    let spammer;
    let targetLog = "";
    const forge = `
      const net = require("node:net");
      const frame = Buffer.alloc(4 + 100);
      frame[0] = 1; frame.writeUIntBE(100, 1, 3); // a well-formed Last frame, sealed under no key the target has
      let sent = 0;
      setInterval(() => {
        const s = net.connect({ host: process.argv[1], port: 4346 }, () => { require("node:crypto").randomFillSync(frame, 4); s.end(frame); if (sent++ === 0) console.log(JSON.stringify({ first: true })); });
        s.on("error", () => {});
      }, 5);
      process.on("SIGTERM", () => { console.log(JSON.stringify({ sent })); process.exit(0); });`;
    const r = await runSid({ tag: tagOf("eg"), reverse: true,
      before: async (s) => {
        spammer = s.topo.spawn(s.topo.c, [process.execPath, "-e", forge, s.topo.addr.target]);
        // Flooding before the transfer starts (a loaded machine starts a process slowly).
        let out = "";
        spammer.stdout.on("data", (d) => (out += d));
        for (const end = Date.now() + 10000; !out.includes('"first"'); await sleep(20)) if (Date.now() > end) throw new Error("the forger never connected");
        await sleep(100);
      },
      during: async (s) => {
        spammer.kill("SIGTERM");
        targetLog = s.target.stderr;
      } });
    survived(r, "forged records");
    const refused = targetLog.split("\n").filter((l) => l.includes('"sid-state-refused"')).length;
    assert.ok(refused >= 5, `the target refused the forged records (${refused} logged)`);
    assert.match(targetLog, /"sid-state-received"/, "and took the real one");
  });

  test("SID: renewals over several short lifetimes keep the binding and the session", async () => {
    let renewed = 0;
    const r = await runSid({ tag: tagOf("el"), reverse: true, udp: true, lifetime: 2, afterMs: 6500, during: async (s) => {
      await sleep(6000);
      renewed = sidEvents(s.agent, "renewed").length;
      assert.is(sidEvents(s.agent, "ended").length, 0, "the binding did not expire");
    } });
    survived(r, "renewals");
    udpSurvived(r, "renewals");
    assert.ok(renewed >= 4, `the target renewed the 2 s binding at least 4 times in 6 s (${renewed})`);
  });

  test("SID: after deregistration the agent wakes the node, which claims its address again", async () => {
    const r = await runSid({ tag: tagOf("ew"), reverse: true, udp: true, after: async (s) => {
      const w = await waitSid(s.node, "woken");
      assert.is(w.address, s.topo.addr.transferred);
      await sleep(300);
      const nMac = s.topo.mac(s.topo.n, "n-h");
      assert.is(s.topo.routerNeighbour(s.topo.addr.transferred), nMac, "the router resolves the address to the node again");
      const ping = s.topo.try(s.topo.c, ["ping", "-c", "2", "-i", "0.2", "-W", "1", s.topo.addr.transferred]);
      assert.is(ping.status, 0, `the correspondent reaches the node at its address again: ${ping.out}${ping.err}`);
    } });
    survived(r, "wake-up");
    udpSurvived(r, "wake-up");
  });

  test("SID: a binding that is not renewed expires: the target dies, the agent lets the address go and wakes the node", async () => {
    let expired;
    const r = await runSid({ tag: tagOf("ex"), reverse: true, udp: true, lifetime: 2, afterMs: 0, during: async (s) => {
      s.target.child.kill("SIGKILL");
      const t0 = Date.now();
      expired = await waitSid(s.agent, "ended", 6000);
      const woken = await waitSid(s.node, "woken", 4000);
      assert.ok(Date.now() - t0 < 4500, "within the 2 s lifetime (and the Wake-up's retries)");
      assert.is(woken.address, s.topo.addr.transferred);
      await sleep(300);
      assert.is(s.topo.routerNeighbour(s.topo.addr.transferred), s.topo.mac(s.topo.n, "n-h"), "the router resolves the address to the node again");
      const routes = s.topo.try(s.topo.a, ["ip", "-j", "route", "show", s.topo.addr.transferred]).out;
      assert.is(JSON.parse(routes || "[]").filter((x) => x.dst === s.topo.addr.transferred).length, 0, "the agent no longer routes the address into the tunnel");
    } });
    assert.is(r.result?.state, "transferred");
    assert.ok(expired, "the agent ended the binding");
    assert.not.match(JSON.stringify(expired), /deregistered/, `ended by expiry, not by a deregistration: ${JSON.stringify(expired)}`);
  });

  test("SID: Stop Transfer by the node ends the binding at once and gives the address back", async () => {
    const r = await runSid({ tag: tagOf("et"), reverse: true, udp: true, afterMs: 200, during: async (s) => {
      s.node.send({ cmd: "stop", address: s.topo.addr.transferred });
      await waitSid(s.node, "stopped");
      await waitSid(s.agent, "stopped");
      await sleep(300);
      assert.is(s.topo.routerNeighbour(s.topo.addr.transferred), s.topo.mac(s.topo.n, "n-h"), "the router resolves the address to the node again");
      const routes = s.topo.try(s.topo.a, ["ip", "-j", "route", "show", s.topo.addr.transferred]).out;
      assert.is(JSON.parse(routes || "[]").filter((x) => x.dst === s.topo.addr.transferred).length, 0, "the agent no longer routes the address into the tunnel");
    } });
    assert.is(r.result?.state, "transferred");
  });

  test("manual transfer to a foreign target, return reverse-tunnelled through the agent: survives BCP 38", async () => {
    const r = await runSid({ driver: "pieces", tag: tagOf("sr"), reverse: true });
    survived(r, "reverse");
    assert.is(r.filtered, 0, "nothing was dropped by the ingress filter");
  });

  test("manual transfer to a foreign target, direct return: fails under BCP 38 (the filter drops source X from the foreign link)", async () => {
    const r = await runSid({ driver: "pieces", tag: tagOf("sd"), reverse: false, afterMs: 1000 });
    assert.ok(r.filtered > 0, `the router's ingress filter dropped the target's packets (${r.filtered})`);
    assert.not.ok(r.digestsEqual && r.lost === 0, "the session cannot survive with direct return under ingress filtering");
    assert.ok(r.correspondent === null || r.correspondent.receivedBytes < r.served.node.sent + 1000, "the correspondent received (almost) nothing from the target");
  });

  test("manual transfer to a foreign target, direct return, no ingress filter: survives", async () => {
    const r = await runSid({ driver: "pieces", tag: tagOf("sn"), reverse: false, filter: false });
    survived(r, "direct without BCP 38");
  });

  test("manual transfer on one subnet (FIG. 1b): the target claims the address itself", async () => {
    const r = await runSid({ driver: "pieces", tag: tagOf("ss"), sameSubnet: true });
    survived(r, "same subnet");
  });
}

// Under Deno and Bun: the roles each runtime can take, next to a Node
// transferring node, and the limits, each with its reason.
const BIN = fileURLToPath(new URL("../../node_modules/.bin/", import.meta.url));
const LAUNCH = { deno: [BIN + "deno", "run", "-A", "--unstable-net", "--quiet"], bun: [BIN + "bun"] };

if (e2eEnabled() && runtime() === "deno") {
  test("SID: a Deno agent and a Deno target (adopting the restored descriptor in node:net), a Node transferring node", async () => {
    const r = await runSid({ tag: tagOf("xa"), reverse: true, udp: true, launcher: { a: LAUNCH.deno, t: LAUNCH.deno } });
    survived(r, "Deno agent and target");
    udpSurvived(r, "Deno agent and target");
  });
  test("SID: a Deno transferring node cannot hand its connection over (node:net gives no descriptor): refused with the reason, the connection goes on at the node", async () => {
    const r = await runSid({ tag: tagOf("xn"), reverse: true, launcher: { n: LAUNCH.deno }, expectRefusal: true });
    assert.is(r.result?.state, "failed", JSON.stringify(r.result));
    assert.match(String(r.result?.message), /deno: cannot take a connection from the application/);
    assert.equal(r.node.errors, [], "the node's connection saw no error");
    assert.ok(r.node.here.received > r.served.target.received + 5000, `the connection went on at the node after the refusal: ${JSON.stringify(r.node.here)} vs ${JSON.stringify(r.served.target)}`);
  });
}

if (e2eEnabled() && runtime() === "bun") {
  test("SID: a Bun agent, Node transferring node and target", async () => {
    const r = await runSid({ tag: tagOf("xa"), reverse: true, launcher: { a: LAUNCH.bun } });
    survived(r, "Bun agent");
  });
  test("SID: a Bun transferring node cannot hand its connection over: refused with the reason, the connection goes on at the node", async () => {
    const r = await runSid({ tag: tagOf("xn"), reverse: true, launcher: { n: LAUNCH.bun }, expectRefusal: true });
    assert.is(r.result?.state, "failed", JSON.stringify(r.result));
    assert.match(String(r.result?.message), /bun: cannot take a connection from the application/);
    assert.equal(r.node.errors, [], "the node's connection saw no error");
    assert.ok(r.node.here.received > r.served.target.received + 5000, `the connection went on at the node after the refusal: ${JSON.stringify(r.node.here)} vs ${JSON.stringify(r.served.target)}`);
  });
  test("SID: a Bun target: the restored connection reaches the application through Bun.connect({ fd }), the UDP flow through node:dgram; both survive", async () => {
    const r = await runSid({ tag: tagOf("xt"), reverse: true, udp: true, launcher: { t: LAUNCH.bun } });
    survived(r, "Bun target");
    udpSurvived(r, "Bun target");
  });
  test("SID: three runtimes in one transfer: a Node transferring node, a Deno agent, a Bun target", async () => {
    const r = await runSid({ tag: tagOf("xm"), reverse: true, udp: true, launcher: { a: LAUNCH.deno, t: LAUNCH.bun } });
    survived(r, "Node node, Deno agent, Bun target");
    udpSurvived(r, "Node node, Deno agent, Bun target");
  });
}

test.run();
