// The conformance suite (conformance/, docs/PROTOCOL.md section 9): the vector
// files lint, the core passes them (in whichever runtime runs this file), the
// generator reproduces the committed files, the external line protocol works
// against the reference implementation, and seeded property tests compare the
// core with the reference on random and mutated messages.
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
import { Prng } from "../conformance/tools/prng.js";
import { randomMessage } from "../conformance/tools/random.js";
import { runtime } from "../conformance/tools/main.js";
import * as R from "../conformance/tools/reference.js";

const VECTORS = fileURLToPath(new URL("../conformance/vectors/", import.meta.url));
const GENERATE = fileURLToPath(new URL("../conformance/tools/generate.js", import.meta.url));
const REFERENCE_RUNNER = fileURLToPath(new URL("../conformance/tools/reference-runner.js", import.meta.url));
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
  for (const suite of ["message", "cookie", "replay-window", "timestamp", "hash", "hmac", "aead", "x25519", "hkdf", "keywrap", "tcpstate", "tunnel", "frames", "seal"]) {
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
  assert.equal(Object.keys(generated).sort(), ["cookie.json", "frames.json", "hkdf.json", "keywrap.json", "message.json", "replay-window.json", "seal.json", "tcpstate.json", "timestamp.json", "tunnel.json"]);
});

test("(c) generate.js run as a program into a temporary directory writes the same files (node)", () => {
  if (runtime() !== "node") return; // the in-memory comparison above covers Deno and Bun
  const dir = mkdtempSync(join(tmpdir(), "handover-vectors-"));
  try {
    const r = spawnSync(process.execPath, [GENERATE, "--out", dir], { encoding: "utf8" });
    assert.is(r.status, 0, r.stderr);
    const written = readdirSync(dir).sort();
    assert.equal(written, ["cookie.json", "frames.json", "hkdf.json", "keywrap.json", "message.json", "replay-window.json", "seal.json", "tcpstate.json", "timestamp.json", "tunnel.json"]);
    for (const name of written) {
      assert.ok(readFileSync(join(dir, name), "utf8") === readFileSync(`${VECTORS}${name}`, "utf8"), `${name}: run node conformance/tools/generate.js`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("(c) --external mode: the reference runner passes every vector over the line protocol", async () => {
  const exec = globalThis.Deno ? `"${Deno.execPath()}" run -A --quiet` : `"${process.execPath}"`;
  const report = await runExternal(`${exec} "${REFERENCE_RUNNER}"`, loadVectorFiles(vectorFiles(VECTORS)));
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
