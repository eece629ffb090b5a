// Session-specific addresses on real kernels (docs/PROTOCOL.md 8.18, the
// second seed's FIG. 2a/2b): demo/sidaddr.ts in namespaces hov-<tag>-{c,r,n,a,t}
// (removed at start and in finally). N takes a session address from its
// static pool, runs s1 from it and s2, s3 and two UDP flows from its base
// address; only the session address moves, through the agent (which checks
// N's pool) or on the home link; every session keeps its bytes (SHA-256
// at both ends); N releases the address at the end and the alias goes. A
// target vanishing: the binding expires, N releases the address, the
// untransferred sessions lose nothing. A chained transfer (permitted): U, the
// last holder, ends the session; N's lease ends. (DHCP's chain, refused chain
// and return: test/e2e/dhcp.test.js.)
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { runtime, tagOf, e2eEnabled } from "./_e2e.js";
import { runSidAddr, runSidAddr6, sidAddrOk } from "../../dist/demo/sidaddr.js";

function check(r, tag, { vanish = false } = {}) {
  const why = JSON.stringify({ error: r.error, sessions: r.sessions, released: r.released, baseStayed: r.baseStayed });
  assert.is(r.error, null, why);
  assert.ok(r.sessionAddress && r.sessionAddress !== r.baseAddress, "a session address apart from the base address");
  assert.equal(r.sessions.map((s) => [s.name, s.moved]), [["s1", true], ["s2", false], ["s3", false], ["u1", false], ["u2", false]]);
  for (const s of r.sessions) {
    if (vanish && s.name === "s1") continue;
    assert.ok(s.digestsEqual, `${s.name}: SHA-256 at the correspondent and the application differ: ${why}`);
    assert.is(s.lost, 0, `${s.name}: bytes lost`);
    assert.is(s.resets, 0, `${s.name}: resets`);
    assert.ok(s.receivedBytes > 20000, `${s.name}: too little traffic (${s.receivedBytes})`);
  }
  const [s1, s2] = r.sessions;
  if (!vanish) assert.ok(s1.served.node.received > 10000 && s1.served.target.received > 10000, `s1 was served by the node, then by the target: ${JSON.stringify(s1.served)}`);
  assert.ok(s2.served.node.received > 20000 && s2.served.target.received === 0, "s2 stayed with the node");
  assert.ok(r.baseStayed, "the base address stayed the node's");
  assert.ok(r.woken, "the node was woken");
  assert.equal(r.released, { leaseReleased: true, aliasGone: true, agentBindingGone: true });
  assert.ok(sidAddrOk(r, vanish));
  const left = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
  assert.not.match(left, new RegExp(`hov-${tag}-`), "the namespaces are gone");
}

/** An IPv6 session address moved (s1) while the base address's session (s2) stayed; both intact; N released it. */
function checkMoved6(r) {
  const why = JSON.stringify({ error: r.error, sessions: r.sessions, moved: r.moved, woken: r.woken });
  assert.is(r.error, null, why);
  assert.ok(r.moved && r.woken, why);
  const [s1, s2] = r.sessions;
  for (const s of r.sessions) {
    assert.ok(s.digestsEqual, `${s.name}: ${why}`);
    assert.is(s.lost, 0, `${s.name}: lost`);
    assert.is(s.resets, 0, `${s.name}: resets`);
  }
  assert.ok(s1.moved && s1.served.node.received > 10000 && s1.served.target.received > 10000, `s1 served by N, then T: ${JSON.stringify(s1.served)}`);
  assert.ok(!s2.moved && s2.served.node.received > 20000 && s2.served.target.received === 0, "s2 stayed with N");
  assert.ok(r.aliasGone, "N released the address: the alias left its link");
}

if (e2eEnabled() && runtime() === "node") {
  test("session address (static pool, IPv4), other subnet: a forged registration for it (another peer of the agent) is refused (129) and changes nothing; then only s1's address moves through the agent; s2, s3, u1, u2 stay; N releases it at the end", async () => {
    const tag = tagOf("sa");
    const r = await runSidAddr({ tag, forge: true });
    assert.equal(r.forged, { code: "ADMINISTRATIVELY_PROHIBITED", bindingsAfter: 0, agentKernelUnchanged: true }, JSON.stringify(r.forged));
    check(r, tag);
  });

  test("session address (static pool, IPv4): a chained transfer N permitted (F): T moves s1 on to U on a third subnet; U, the last holder, ends it; N is woken and its lease ends (released, alias gone, no binding left)", async () => {
    const tag = tagOf("sc");
    const r = await runSidAddr({ tag, chain: "permitted" });
    const why = JSON.stringify({ error: r.error, moves: r.moves });
    assert.equal(r.moves?.further, { state: "transferred" }, why);
    assert.is(r.moves.lastHolder, "U", why);
    assert.ok(r.moves.shares.T.received > 10000 && r.moves.shares.U.received > 10000, `s1 served by T, then by U: ${why}`);
    check(r, tag);
  });

  test("two session addresses moved to one target through one agent (both reverse-tunnelled, lifetime 3 s): the target renews both bindings for 7 s and deregisters both; both sessions intact (main before stop 26: 1.8 MB of each lost, one binding never renewed and expired, the other never deregistered)", async () => {
    const r = await runSidAddr({ tag: tagOf("a2"), second: true, lifetime: 3, afterMs: 7000 });
    const why = JSON.stringify({ error: r.error, sessions: r.sessions, released: r.released, second: r.second });
    assert.is(r.error, null, why);
    assert.equal(r.sessions.map((s) => [s.name, s.moved, s.servedBy]), [["s1", true, "target"], ["s2", false, "node"], ["s3", false, "node"], ["u1", false, "node"], ["u2", false, "node"], ["s4", true, "target"]]);
    for (const s of r.sessions) {
      assert.ok(s.digestsEqual, `${s.name}: SHA-256 at the correspondent and the application differ: ${why}`);
      assert.is(s.lost, 0, `${s.name}: bytes lost`);
      assert.is(s.resets, 0, `${s.name}: resets`);
    }
    for (const s of [r.sessions[0], r.sessions[5]]) assert.ok(s.served.target.received > 50000, `${s.name}: served by the target for the 7 s: ${JSON.stringify(s.served)}`);
    const { agent, target, released } = r.second;
    for (const a of [r.sessionAddress, r.second.address]) {
      assert.ok(agent.filter((e) => e.state === "renewed" && e.address === a).length >= 2, `${a}: renewed at the agent: ${JSON.stringify(agent)}`);
      assert.equal(agent.filter((e) => e.state === "ended" && e.address === a).map((e) => e.reason), ["deregistered"], `${a}: deregistered, not expired`);
      assert.equal(target.filter((e) => e.state === "ended" && e.address === a).map((e) => e.reason), ["deregistered"]);
      assert.ok(released[a], `${a}: N was woken and released it`);
    }
    assert.ok(r.woken && Object.values(r.released).every(Boolean), why);
  });
  test("session address (static pool, IPv4), same subnet (FIG. 2b): the target claims only that address by ARP", async () => {
    const tag = tagOf("sb");
    check(await runSidAddr({ tag, sameSubnet: true }), tag);
  });

  test("session address: the target vanishes; the binding expires, N is woken and releases the address; nothing of the other sessions is lost", async () => {
    const tag = tagOf("sv");
    check(await runSidAddr({ tag, vanish: true }), tag, { vanish: true });
  });

  test("session address, IPv6 generated: a random identifier in N's /64, READY only after the kernel's DAD; a session from it and one from the base address intact; the release takes it off", async () => {
    const tag = tagOf("s6");
    const r = await runSidAddr6({ tag });
    const why = JSON.stringify(r);
    assert.is(r.error, null, why);
    assert.ok(r.inPrefix, `${r.sessionAddress} in 2001:db8:1::/64`);
    assert.ok(r.dad.sawTentative, "the address was tentative while DAD ran");
    assert.not.ok(r.dad.tentativeAtReady, "READY only once DAD ended");
    assert.ok(r.readyMs >= 500, `DAD takes time, READY came after ${r.readyMs} ms`);
    for (const s of r.sessions) {
      assert.ok(s.digestsEqual, `${s.name}: ${why}`);
      assert.is(s.lost, 0);
      assert.is(s.resets, 0);
      assert.ok(s.receivedBytes > 20000, `${s.name}: ${s.receivedBytes} bytes`);
    }
    assert.ok(r.aliasGone, "the alias left the link at the release");
    const left = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
    assert.not.match(left, new RegExp(`hov-${tag}-`), "the namespaces are gone");
  });

  test("session address, IPv6 generated, same subnet (FIG. 2b): only that address moves to T on the home link (NAs from T, N's ND rule); s2 on the base address stays; both intact; N releases it", async () => {
    const tag = tagOf("s7");
    checkMoved6(await runSidAddr6({ tag, transfer: true }));
  });

  test("session address, IPv6 generated, other subnet (FIG. 2a): only that address moves through the agent (proxy NDP, vxlan over IPv6); s2 stays; both intact; N releases it", async () => {
    const tag = tagOf("s8");
    checkMoved6(await runSidAddr6({ tag, transfer: true, agent: true }));
  });

  test("session address, IPv6: another device defends the first two addresses (DAD fails in the kernel); N tries new identifiers and gets the third", async () => {
    const tag = tagOf("sd");
    const r = await runSidAddr6({ tag, duplicate: 2 });
    const why = JSON.stringify({ error: r.error, tries: r.tries, defended: r.defended, sessions: r.sessions });
    assert.is(r.error, null, why);
    assert.is(r.tries.length, 3, why);
    assert.equal(r.defended, r.tries.slice(0, 2), "the defended addresses were N's first two tries");
    assert.is(r.sessionAddress, r.tries[2]);
    assert.ok(new Set(r.tries).size === 3, "a new identifier each time");
    for (const s of r.sessions) assert.ok(s.digestsEqual && s.lost === 0 && s.resets === 0, `${s.name}: ${why}`);
    assert.ok(r.aliasGone);
  });

  test("session address, IPv6: every try defended: after three the lease expires (a defined state), nothing stays on N's link", async () => {
    const tag = tagOf("se");
    const r = await runSidAddr6({ tag, duplicate: 3 });
    assert.is(r.error, null, JSON.stringify(r));
    assert.ok(r.expired, "the lease expired");
    assert.is(r.tries.length, 3);
    assert.equal(r.leftOnLink, [], "no tried address stayed on the link");
    assert.equal(r.sessions, []);
  });
}

test.run();
