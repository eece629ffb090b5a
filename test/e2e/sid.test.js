// SID on real kernels (docs/PROTOCOL.md section 8): a live TCP connection
// moves from the transferring node to the target while an unmodified
// correspondent (tools/traffic.js) streams with it both ways; SHA-256 at the
// correspondent and at the application must agree, nothing lost, no reset.
// demo/sid.ts runs the roles in namespaces hov-<tag>-{c,r,n,a,t}
// (demo/netns.ts SidTopology), removed at start and in finally.
//
// The transfer here is made of the host's pieces directly: the tunnel from
// the core's rtnetlink requests, gratuitous and proxy ARP from the core's
// frames through AF_PACKET, the socket dumped with TCP_REPAIR into the core's
// state record, sealed under the session key to the target's control port,
// restored there.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runtime, tagOf, e2eEnabled } from "./_e2e.js";
import { runSid } from "../../dist/demo/sid.js";

function survived(r, label) {
  const why = `${label}: ${r.error ?? ""} ${JSON.stringify({ lost: r.lost, resets: r.resets, digestsEqual: r.digestsEqual, served: r.served })}`;
  assert.is(r.error, null, why);
  assert.ok(r.digestsEqual, `${why}: SHA-256 at the correspondent and the application differ`);
  assert.is(r.lost, 0, `${why}: bytes lost`);
  assert.is(r.resets, 0, `${why}: resets`);
  assert.ok(r.served.node.received > 10000 && r.served.node.sent > 10000, `${why}: the node served the first part`);
  assert.ok(r.served.target.received > 10000 && r.served.target.sent > 10000, `${why}: the target served the rest`);
  assert.ok(r.transferMs !== null && r.transferMs < 2000, `${why}: transfer time ${r.transferMs}`);
}

if (e2eEnabled() && runtime() === "node") {
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

test.run();
