// The conformance suite (conformance/, docs/PROTOCOL.md section 9): the vector
// files lint, the core passes them (in whichever runtime runs this file), the
// generator reproduces the committed files, the external line protocol works
// against the reference implementation, seeded property tests compare the
// core with the reference on random and mutated messages, and the STEM
// transcripts are what the current core produces (a behaviour change shows as
// a diff: regenerate with `npm run conformance:transcripts` and review it).
//
// HANDOVER_SEED=<n> changes the property tests' seed; a failure prints it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, readdirSync, mkdtempSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { lintAll, vectorFiles } from "../conformance/tools/lint.js";
import { loadVectorFiles, loadCore, runCore, runExternal } from "../conformance/tools/runner.js";
import { generateAll } from "../conformance/tools/generate.js";
import { generateTranscripts, formatTranscripts, TRANSCRIPT_FILE } from "../conformance/tools/transcripts.js";
import { generateSidTranscripts, SID_TRANSCRIPT_FILE } from "../conformance/tools/sid-transcripts.js";
import { Prng } from "../conformance/tools/prng.js";
import { randomMessage } from "../conformance/tools/random.js";
import { runtime } from "../conformance/tools/main.js";
import * as R from "../conformance/tools/reference.js";
import { createHash } from "node:crypto";
import { chacha20 } from "@noble/ciphers/chacha.js";

const VECTORS = fileURLToPath(new URL("../conformance/vectors/", import.meta.url));
const GENERATE = fileURLToPath(new URL("../conformance/tools/generate.js", import.meta.url));
const REFERENCE_RUNNER = fileURLToPath(new URL("../conformance/tools/reference-runner.js", import.meta.url));
const TRANSCRIPT_RUNNER = fileURLToPath(new URL("../conformance/tools/transcript-runner.js", import.meta.url));
/** The suites the reference implementation (reference.js) answers: all but the state machines. */
const referenceFiles = () => vectorFiles(VECTORS).filter((f) => !f.endsWith(TRANSCRIPT_FILE) && !f.endsWith(SID_TRANSCRIPT_FILE));
const env = (k) => (globalThis.Deno ? Deno.env.get(k) : process.env[k]);
const SEED = env("HANDOVER_SEED") !== undefined ? Number(env("HANDOVER_SEED")) >>> 0 : 0x5eed2026;

/**
 * Vectors the core is known to fail, each a core bug reported to the core's
 * maintainers (see conformance/README.md, "Known deviations of the core").
 * The test fails if one of them starts passing, so that the list shrinks
 * when the core is fixed, and if anything else fails.
 */
/**
 * Vectors the core is known to fail, by file and tcId, with the reason. The
 * test fails if one of them passes, so the list stays current. (The two bugs
 * this suite found first, in the replay window and the NTP era, are fixed.)
 */
const KNOWN_CORE_DEVIATIONS = {};

let ctxPromise;
const core = () => (ctxPromise ??= loadCore());

test("(a) every vector file lints: schema, unique tcIds, numberOfTests, notes", () => {
  const { files, problems } = lintAll(vectorFiles(VECTORS));
  const names = files.map((f) => f.file.split(/[\\/]/).pop());
  for (const suite of ["message", "cookie", "replay-window", "timestamp", "hash", "hmac", "aead", "x25519", "hkdf", "keywrap", "stem-transcripts", "tcpstate", "tunnel", "frames", "seal", "sid-transcripts", "dhcp"]) {
    assert.ok(names.includes(`${suite}.json`), `conformance/vectors/${suite}.json exists`);
  }
  const detail = files.filter((f) => f.problems.length).map((f) => `${f.file}:\n  ${f.problems.slice(0, 10).join("\n  ")}`).join("\n");
  assert.is(problems, 0, detail);
  const message = files.find((f) => f.file.endsWith("message.json"));
  assert.ok(message.tests >= 150, `message.json has ${message.tests} tests`);
});

test(`(b) the core passes every vector (${runtime()}), except the listed known deviations`, async () => {
  const ctx = await core();
  const report = await runCore(ctx, loadVectorFiles(vectorFiles(VECTORS)));
  const unexpected = report.failures.filter((f) => !KNOWN_CORE_DEVIATIONS[f.file]?.[f.tcId]);
  assert.is(unexpected.length, 0, unexpected.slice(0, 20).map((f) => `${f.file} tcId ${f.tcId} (${f.comment}): ${f.problems.join("; ")}`).join("\n"));
  const fixed = [];
  for (const [file, ids] of Object.entries(KNOWN_CORE_DEVIATIONS)) {
    for (const id of Object.keys(ids)) {
      if (!report.failures.some((f) => f.file === file && f.tcId === +id)) fixed.push(`${file} tcId ${id}`);
    }
  }
  assert.is(fixed.length, 0, `the core now passes ${fixed.join(", ")}: remove them from KNOWN_CORE_DEVIATIONS in test/conformance.test.js and from conformance/README.md`);
  assert.ok(report.passed > 700, `${report.passed} passed`);
});

test("(c) generate.js reproduces the committed vector files byte for byte", () => {
  const generated = generateAll();
  for (const [name, text] of Object.entries(generated)) {
    const committed = readFileSync(`${VECTORS}${name}`, "utf8");
    if (committed !== text) {
      const a = committed.split("\n"), b = text.split("\n");
      const i = a.findIndex((l, k) => l !== b[k]);
      assert.unreachable(`${name} differs from the generator's output at line ${i + 1}:\n  committed: ${a[i]?.slice(0, 200)}\n  generated: ${b[i]?.slice(0, 200)}\nrun: node conformance/tools/generate.js`);
    }
  }
  assert.equal(Object.keys(generated).sort(), ["cookie.json", "dhcp.json", "frames.json", "hkdf.json", "keywrap.json", "message.json", "replay-window.json", "seal.json", "tcpstate.json", "timestamp.json", "tunnel.json"]);
});

test("(c) generate.js run as a program into a temporary directory writes the same files (node)", () => {
  if (runtime() !== "node") return; // the in-memory comparison above covers Deno and Bun
  const dir = mkdtempSync(join(tmpdir(), "handover-vectors-"));
  try {
    const r = spawnSync(process.execPath, [GENERATE, "--out", dir], { encoding: "utf8" });
    assert.is(r.status, 0, r.stderr);
    const written = readdirSync(dir).sort();
    assert.equal(written, ["cookie.json", "dhcp.json", "frames.json", "hkdf.json", "keywrap.json", "message.json", "replay-window.json", "seal.json", "tcpstate.json", "timestamp.json", "tunnel.json"]);
    for (const name of written) {
      assert.ok(readFileSync(join(dir, name), "utf8") === readFileSync(`${VECTORS}${name}`, "utf8"), `${name}: run node conformance/tools/generate.js`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("(c) --external mode: the reference runner passes every vector but the transcripts over the line protocol", async () => {
  const exec = globalThis.Deno ? `"${Deno.execPath()}" run -A --quiet` : `"${process.execPath}"`;
  const report = await runExternal(`${exec} "${REFERENCE_RUNNER}"`, loadVectorFiles(referenceFiles()));
  assert.is(report.failed, 0, report.failures.slice(0, 20).map((f) => `${f.file} tcId ${f.tcId}: ${f.problems.join("; ")}`).join("\n"));
  assert.ok(report.passed > 700);
});

test("(c) the driver reports a wrong answer from an external program", async () => {
  // A program that answers every test "valid": each invalid vector must fail.
  const exec = globalThis.Deno ? `"${Deno.execPath()}" eval` : `"${process.execPath}" -e`;
  const script = `let b='';process.stdin.on('data',d=>b+=d);process.stdin.on('end',()=>{for(const l of b.split('\\n'))if(l.trim())process.stdout.write(JSON.stringify({tcId:JSON.parse(l).test.tcId,result:'valid'})+'\\n')})`;
  const files = loadVectorFiles([`${VECTORS}timestamp.json`]);
  const report = await runExternal(`${exec} "${script}"`, files);
  const invalid = files[0].data.testGroups.flatMap((g) => g.tests).filter((t) => t.result === "invalid").length;
  assert.is(report.failed, invalid);
});

test("(e) transcripts.js reproduces the committed stem-transcripts.json from the current core", () => {
  const text = formatTranscripts(generateTranscripts());
  const committed = readFileSync(`${VECTORS}${TRANSCRIPT_FILE}`, "utf8");
  if (committed !== text) {
    const a = committed.split("\n"), b = text.split("\n");
    const i = a.findIndex((l, k) => l !== b[k]);
    assert.unreachable(`${TRANSCRIPT_FILE} differs from what the core produces now, from line ${i + 1}:\n  committed: ${a[i]?.slice(0, 300)}\n  now:       ${b[i]?.slice(0, 300)}\nIf the change of behaviour is intended, run npm run conformance:transcripts, review git diff conformance/vectors/${TRANSCRIPT_FILE} and commit it with the change.`);
  }
});

test("(e) sid-transcripts.js reproduces the committed sid-transcripts.json from the current core", () => {
  const text = formatTranscripts(generateSidTranscripts());
  const committed = readFileSync(`${VECTORS}${SID_TRANSCRIPT_FILE}`, "utf8");
  if (committed !== text) {
    const a = committed.split("\n"), b = text.split("\n");
    const i = a.findIndex((l, k) => l !== b[k]);
    assert.unreachable(`${SID_TRANSCRIPT_FILE} differs from what the core produces now, from line ${i + 1}:\n  committed: ${a[i]?.slice(0, 300)}\n  now:       ${b[i]?.slice(0, 300)}\nIf the change of behaviour is intended, run npm run conformance:transcripts, review git diff conformance/vectors/${SID_TRANSCRIPT_FILE} and commit it with the change.`);
  }
});

test("(e) the SID transcripts cover the exchanges they must, for every role", () => {
  const file = JSON.parse(readFileSync(`${VECTORS}${SID_TRANSCRIPT_FILE}`, "utf8"));
  const tests = file.testGroups.flatMap((g) => g.tests);
  const states = (t) => t.steps.flatMap((s) => s.outputs).filter((o) => o.kind === "event" && o.event.event === "sid").map((o) => `${o.event.role}:${o.event.state}`);
  const all = new Set(tests.flatMap(states));
  for (const s of ["node:transferred", "node:woken", "node:stopped", "target:released", "target:renewed", "agent:bound", "agent:renewed", "agent:ended", "agent:refused"]) {
    assert.ok(all.has(s), `some transcript records ${s}`);
  }
  assert.ok(tests.some((t) => t.steps.some((s) => s.outputs.some((o) => o.kind === "frame"))), "frames are recorded");
});

test("(e) the transcripts cover the STEM exchanges they must, and every node is recorded", () => {
  const file = JSON.parse(readFileSync(`${VECTORS}${TRANSCRIPT_FILE}`, "utf8"));
  const tests = file.testGroups.flatMap((g) => g.tests);
  const scenarios = new Set(tests.map((t) => t.scenario));
  for (const s of ["bbm-validated", "mbb-validated", "registration-then-migration", "retransmission", "refused-129", "resync-133", "replayed-request", "nonce-mode"]) {
    assert.ok(scenarios.has(s), `scenario ${s}`);
  }
  const outputs = (t) => t.steps.flatMap((s) => s.outputs);
  const sentTypes = (t) => outputs(t).filter((o) => o.kind === "transmit").map((o) => parseInt(o.data.slice(2, 4), 16));
  const events = (t) => outputs(t).filter((o) => o.kind === "event").map((o) => o.event);
  const of = (scenario, cookieName) => tests.find((t) => t.scenario === scenario && t.comment.includes(cookieName));
  // The validated migration: request, reply with a challenge, confirm.
  assert.equal(sentTypes(of("bbm-validated", "m.example")), [3, 5]);
  assert.equal(sentTypes(of("bbm-validated", "f.example")), [4]);
  assert.equal(events(of("bbm-validated", "f.example")).map((e) => e.state), ["unvalidated", "validated"]);
  // Break-before-make marks (holds) the sessions' packets; make-before-break does not.
  const nft = (t) => outputs(t).filter((o) => o.kind === "nft").map((o) => o.text).join("\n");
  // (an element of the held sets marks the session's packets for the queue)
  const holds = /add element inet handover heldw?[46] /;
  assert.match(nft(of("bbm-validated", "m.example")), holds);
  assert.not.match(nft(of("mbb-validated", "m.example")), holds);
  // Refused with 129, replayed request dropped, 133 in both replay modes.
  assert.ok(events(of("refused-129", "m.example")).some((e) => e.state === "failed" && e.code === "ADMINISTRATIVELY_PROHIBITED"));
  assert.ok(events(of("replayed-request", "f.example")).some((e) => e.event === "dropped" && e.error === "REPLAYED"));
  for (const s of ["resync-133", "nonce-mode"]) {
    const replies = outputs(of(s, "f.example")).filter((o) => o.kind === "transmit").map((o) => o.data);
    assert.is(parseInt(replies[0].slice(20, 22), 16), 133, `${s}: the first reply is 133`);
  }
  // The retransmission: the migrator sent its request twice, byte for byte.
  const requests = outputs(of("retransmission", "m.example")).filter((o) => o.kind === "transmit" && parseInt(o.data.slice(2, 4), 16) === 3);
  assert.is(requests.length, 2);
  assert.is(requests[0].data, requests[1].data);
});

test("(e) a transcript that differs from the core's behaviour fails, in-process and over the line protocol", async () => {
  const file = loadVectorFiles([`${VECTORS}${TRANSCRIPT_FILE}`])[0];
  const tests = file.data.testGroups[0].tests;
  const changed = structuredClone(file);
  const t = changed.data.testGroups[0].tests;
  // One output byte, one timer, one output too many: three tests that must fail.
  const tx = t[0].steps.find((s) => s.outputs.some((o) => o.kind === "transmit")).outputs.find((o) => o.kind === "transmit");
  tx.data = tx.data.slice(0, -2) + (tx.data.endsWith("00") ? "01" : "00");
  t[1].steps.at(-1).timer = (t[1].steps.at(-1).timer ?? 0) + 1;
  t[2].steps[0].outputs.push({ kind: "event", event: { event: "invented", t: 0 } });
  const report = await runCore(await core(), [changed]);
  assert.equal(report.failures.map((f) => f.tcId), [tests[0].tcId, tests[1].tcId, tests[2].tcId]);
  assert.is(report.passed, tests.length - 3);
  // The external runner sees only the inputs and gets the same verdicts.
  const exec = globalThis.Deno ? `"${Deno.execPath()}" run -A --quiet` : `"${process.execPath}"`;
  const ext = await runExternal(`${exec} "${TRANSCRIPT_RUNNER}"`, [changed]);
  assert.equal(ext.failures.map((f) => f.tcId), [tests[0].tcId, tests[1].tcId, tests[2].tcId]);
  const clean = await runExternal(`${exec} "${TRANSCRIPT_RUNNER}"`, [file]);
  assert.is(clean.failed, 0, clean.failures.slice(0, 5).map((f) => `tcId ${f.tcId}: ${f.problems.join("; ")}`).join("\n"));
});

/** The random generator as conformance/README.md describes it (stem-transcripts, "The random generator"). */
class DescribedDrbg {
  key = new Uint8Array(32);
  seed(bytes) {
    this.key = new Uint8Array(createHash("sha256").update(this.key).update(bytes).digest());
  }
  fill(n) {
    const stream = chacha20(this.key, new Uint8Array(12), new Uint8Array(32 + n));
    this.key = stream.slice(0, 32);
    return stream.slice(32);
  }
}

test("(e) the core's random generator is the one the README describes, and the transcripts' first sequence numbers come from it", async () => {
  const ctx = await core();
  const c = ctx.engine().core; // a fresh instance: a generator nothing has touched
  const mine = new DescribedDrbg();
  const seed = new TextEncoder().encode("a seed of more than thirty-two bytes, for both paths of the mix");
  for (const s of [seed, seed.subarray(0, 5)]) {
    mine.seed(s);
    c.x.drbg_seed(c.put(s), s.length);
    for (const n of [2, 4, 8, 31, 32, 33, 64, 97, 200]) {
      c.x.drbg_fill(c.outputPtr, n);
      assert.is(R.hex(c.get(c.outputPtr, n)), R.hex(mine.fill(n)), `a draw of ${n} bytes`);
    }
  }
  // Adding a peer draws 2 bytes, read little-endian: the first sequence number the node sends.
  const file = JSON.parse(readFileSync(`${VECTORS}${TRANSCRIPT_FILE}`, "utf8"));
  let checked = 0;
  for (const t of file.testGroups.flatMap((g) => g.tests)) {
    const first = t.steps.flatMap((s) => s.outputs).find((o) => o.kind === "transmit" && [1, 3].includes(parseInt(o.data.slice(2, 4), 16)));
    if (!first) continue;
    const g = new DescribedDrbg();
    g.seed(R.unhex(t.node.seed));
    const b = g.fill(2);
    assert.is(parseInt(first.data.slice(4, 8), 16), b[0] | (b[1] << 8), `tcId ${t.tcId}: the first request's sequence number`);
    checked++;
  }
  assert.ok(checked >= 8, `${checked} transcripts checked`);
  // Nonce mode, both roles: every draw the README lists, in its order.
  const le32 = (b) => (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  const hex8 = (v) => v.toString(16).padStart(8, "0");
  const tests = file.testGroups.flatMap((g) => g.tests).filter((t) => t.scenario === "nonce-mode");
  const sent = (t) => t.steps.flatMap((s) => s.outputs).filter((o) => o.kind === "transmit").map((o) => o.data);
  const [m, f] = [tests.find((t) => t.comment.includes("m.example")), tests.find((t) => t.comment.includes("f.example"))];
  const gm = new DescribedDrbg();
  gm.seed(R.unhex(m.node.seed));
  gm.fill(2); // the peer
  const [req1, req2, confirm] = sent(m);
  for (const [what, msg] of [["first request", req1], ["second request", req2], ["Confirm", confirm]]) {
    assert.is(msg.slice(32, 40), hex8(le32(gm.fill(4))), `migrator, ${what}: the Replay Protect ID's low 32 bits`);
  }
  const gf = new DescribedDrbg();
  gf.seed(R.unhex(f.node.seed));
  gf.fill(2); // the peer
  const [reply133, accepted] = sent(f);
  assert.is(reply133.slice(24, 32), hex8(le32(gf.fill(4)) || 1), "fixed end, the 133 reply's nonce");
  assert.is(accepted.slice(24, 32), hex8(le32(gf.fill(4)) || 1), "fixed end, the accepting reply's nonce");
  const challenge = R.hex(gf.fill(8));
  assert.ok(accepted.includes(`2208${challenge}`), "fixed end, the path challenge (extension 34, Length 8)");
  // Timestamp mode: a reply draws no nonce, so the challenge follows the peer's 2 bytes.
  const bf = file.testGroups.flatMap((g) => g.tests).find((t) => t.scenario === "bbm-validated" && t.comment.includes("f.example"));
  const gt = new DescribedDrbg();
  gt.seed(R.unhex(bf.node.seed));
  gt.fill(2);
  assert.ok(sent(bf)[0].includes(`2208${R.hex(gt.fill(8))}`), "timestamp mode: the path challenge");
});

/** Mutates bytes: bit flips, truncation, insertion, or an edited type, Length or header byte. */
function mutate(rng, bytes) {
  let b = bytes.slice();
  const extStarts = [];
  for (let o = R.HEADER_LENGTH; o + 1 < bytes.length; o += 2 + bytes[o + 1]) extStarts.push(o);
  const kind = rng.int(0, 5);
  if (kind === 0) {
    for (let k = rng.int(1, 3); k > 0; k--) b[rng.int(0, b.length - 1)] ^= 1 << rng.int(0, 7);
  } else if (kind === 1) {
    b = b.subarray(0, rng.int(0, b.length - 1));
  } else if (kind === 2) {
    const at = rng.int(0, b.length);
    b = R.concat(b.subarray(0, at), rng.bytes(rng.int(1, 4)), b.subarray(at));
  } else if (kind === 3) {
    const at = rng.pick(extStarts) + 1;
    b[at] = rng.chance(0.5) ? (b[at] + rng.pick([-2, -1, 1, 2])) & 255 : rng.int(0, 255);
  } else if (kind === 4) {
    b[rng.pick(extStarts)] = rng.int(0, 255);
  } else {
    b[rng.pick([0, 1, 10, 11])] = rng.int(0, 255);
  }
  return { kind: ["bit flips", "truncation", "insertion", "Length edit", "type edit", "header edit"][kind], bytes: b };
}

test("(d) 3000 random valid messages from the reference round-trip through the core", async () => {
  const { core: c } = await core();
  const rng = new Prng(SEED);
  for (let i = 0; i < 3000; i++) {
    const m = randomMessage(rng, { canonicalOrder: i % 2 === 0 });
    const where = `seed ${SEED} (HANDOVER_SEED=${SEED}), message ${i}: ${R.hex(m.bytes)}`;
    let json;
    try {
      json = c.decodeVerified(m.bytes, m.auth);
    } catch (e) {
      assert.unreachable(`${where}: the core refuses it: ${e.message}`);
    }
    assert.equal(json, m.json, `${where}: JSON`);
    const { version, ...rest } = json;
    assert.is(R.hex(c.encode(rest)), R.hex(m.bytes), `${where}: encoding the JSON`);
    assert.is(R.hex(c.encode(rest, m.auth)), R.hex(m.bytes), `${where}: encoding the JSON with the key`);
  }
});

test("(d) 20000 mutations of valid messages: only HandoverError, never verify unless unchanged, same error as the reference", async () => {
  const { core: c, HandoverError } = await core();
  const rng = new Prng(SEED ^ 0x6d757461);
  const disagreements = [];
  for (let i = 0; i < 20000; i++) {
    const m = randomMessage(rng, { canonicalOrder: rng.chance(0.5) });
    const { kind, bytes } = mutate(rng, m.bytes);
    const where = `seed ${SEED} (HANDOVER_SEED=${SEED}), mutation ${i} (${kind}): ${R.hex(bytes)}`;
    let error = null;
    try {
      c.decodeVerified(bytes, m.auth);
    } catch (e) {
      if (!(e instanceof HandoverError)) assert.unreachable(`${where}: the core threw ${e?.name}: ${e?.message}`);
      error = e.errorName;
    }
    const unchanged = R.hex(bytes) === R.hex(m.bytes);
    if (error === null) assert.ok(unchanged, `${where}: a changed message verifies`);
    const ref = R.verify(bytes, m.auth.algorithm, m.auth.key);
    if (ref !== error && disagreements.length < 10) {
      disagreements.push(`${where}: core ${error ?? "valid"}, reference ${ref ?? "valid"}`);
    }
  }
  assert.is(disagreements.length, 0, disagreements.join("\n"));
});

test.run();
