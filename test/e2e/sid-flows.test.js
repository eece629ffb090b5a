// SID's per-flow mode on real kernels (docs/PROTOCOL.md 8.16, the Session
// Agent): demo/sidflows.ts in namespaces hov-<tag>-{c,r,n,a,t} (removed at
// start and in finally). The node holds a TCP session with each of two
// correspondents (tools/traffic.js, unmodified); s1 moves to the target on a
// foreign subnet through the agent, s2 stays, s3 opens while s1 is away;
// s1 ends at the target, the agent wakes the node at its Interim Address and
// everything returns. Every session: SHA-256 equal at both ends, nothing
// lost, no reset; which device served it (the second test: s1 comes back to
// the node by the per-flow return instead). A UDP flow with each
// correspondent stays with the node through the transfer (no datagram lost).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { runtime, tagOf, e2eEnabled } from "./_e2e.js";
import { runSidFlows, sidFlowsOk } from "../../dist/demo/sidflows.js";

if (e2eEnabled() && runtime() === "node") {
  test("SID per-flow: one of two TCP sessions moves to a foreign target; the other, both UDP flows and a session opened meanwhile stay; everything returns", async () => {
    const tag = tagOf("f");
    const r = await runSidFlows({ tag });
    const why = JSON.stringify({ error: r.error, sessions: r.sessions, returned: r.returned });
    assert.is(r.error, null, why);
    assert.equal(r.sessions.map((s) => [s.name, s.moved, s.servedBy]), [["s1", true, "target"], ["s2", false, "node"], ["s3", false, "node"], ["u1", false, "node"], ["u2", false, "node"]]);
    for (const s of r.sessions) {
      assert.ok(s.digestsEqual, `${s.name}: SHA-256 at the correspondent and the application differ: ${why}`);
      assert.is(s.lost, 0, `${s.name}: bytes lost`);
      assert.is(s.resets, 0, `${s.name}: resets`);
      assert.ok(s.receivedBytes > 20000, `${s.name}: too little traffic (${s.receivedBytes})`);
    }
    const [s1, s2, s3, u1, u2] = r.sessions;
    for (const u of [u1, u2]) assert.ok(u.served.node.received > 20000, `${u.name}: the UDP flow went on at the node through the transfer`);
    assert.ok(s1.served.node.received > 10000 && s1.served.target.received > 10000, `s1 was served by the node, then by the target: ${JSON.stringify(s1.served)}`);
    assert.ok(s2.served.node.received > 20000 && s2.served.target.received === 0, `s2 stayed with the node throughout: ${JSON.stringify(s2.served)}`);
    assert.ok(s3.served.node.received > 10000 && s3.served.target.received === 0, "s3, opened during the transfer, is the node's");
    assert.is(r.agentFlowSets, 1, "the agent held one flow set");
    assert.ok(r.woken, "the agent woke the node");
    assert.equal(r.returned, { agentSortingGone: true, agentMarkRulesGone: true, interimGone: true });
    assert.ok(sidFlowsOk(r));
    const left = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
    assert.not.match(left, new RegExp(`hov-${tag}-`), "the namespaces are gone");
  });
  test("SID per-flow: the per-flow return (PROTOCOL.md 8.16): T gives s1 back to N; N stops the flow set at the agent and resumes s1, which ends at N; nothing lost, no reset", async () => {
    const tag = tagOf("fr");
    const r = await runSidFlows({ tag, back: true });
    const why = JSON.stringify({ error: r.error, sessions: r.sessions, returned: r.returned });
    assert.is(r.error, null, why);
    assert.equal(r.sessions.map((s) => [s.name, s.moved, s.servedBy]), [["s1", true, "node"], ["s2", false, "node"], ["s3", false, "node"], ["u1", false, "node"], ["u2", false, "node"]]);
    for (const s of r.sessions) {
      assert.ok(s.digestsEqual, `${s.name}: SHA-256 at the correspondent and the application differ: ${why}`);
      assert.is(s.lost, 0, `${s.name}: bytes lost`);
      assert.is(s.resets, 0, `${s.name}: resets`);
    }
    const s1 = r.sessions[0];
    assert.ok(s1.served.target.received > 10000 && s1.served.target.sent > 10000, `T served s1's middle part: ${JSON.stringify(s1.served)}`);
    assert.ok(s1.served.node.received > s1.served.target.received, `N served s1 before and after: ${JSON.stringify(s1.served)}`);
    assert.ok(r.woken, "the agent woke the node (its last flow set ended)");
    assert.equal(r.returned, { agentSortingGone: true, agentMarkRulesGone: true, interimGone: true });
    assert.ok(sidFlowsOk(r));
  });
  test("SID per-flow: the Wake-up after the last flow set is lost for 700 ms (R's bridge drops it): the agent keeps handing the node its address's packets (the interim route stays until the Ack), so the UDP flows that never moved lose nothing and arrive in order", async () => {
    const tag = tagOf("fw");
    const r = await runSidFlows({ tag, wakeLossMs: 700 });
    const why = JSON.stringify({ error: r.error, sessions: r.sessions, returned: r.returned, wakeUpsDropped: r.wakeUpsDropped });
    assert.is(r.error, null, why);
    assert.ok(r.wakeUpsDropped >= 1, `R's bridge dropped ${r.wakeUpsDropped} Wake-up frames`);
    for (const s of r.sessions) {
      assert.is(s.lost, 0, `${s.name}: lost: ${why}`);
      assert.is(s.resets, 0, `${s.name}: resets: ${why}`);
      assert.ok(s.digestsEqual, `${s.name}: SHA-256 at both ends differ: ${why}`);
    }
    for (const u of r.sessions.filter((s) => s.name[0] === "u")) {
      assert.is(u.late, 0, `${u.name}: datagrams after a higher number: ${why}`);
      assert.is(u.duplicates, 0, `${u.name}: duplicates: ${why}`);
    }
    assert.ok(r.woken, "the agent woke the node (the retransmitted Wake-up)");
    assert.equal(r.returned, { agentSortingGone: true, agentMarkRulesGone: true, interimGone: true });
  });
}

test.run();
