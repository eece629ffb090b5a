#!/usr/bin/env node
// The line protocol of docs/PROTOCOL.md section 9.4 for the stem-transcripts
// and sid-transcripts
// suite, answered by the core: an example of what another port's transcript
// runner does, and the test that the contract can be followed from outside.
//
//   node conformance/run.js --external "node conformance/tools/transcript-runner.js" conformance/vectors/stem-transcripts.json
//
// Per input line {"suite": "stem-transcripts", "group": {}, "test": {...}}:
// configure a fresh node from test.node, apply each test.steps[i].input in
// order (never looking at the expected outputs), and answer
// {"tcId", "result": "valid", "steps": [{ returns?, error?, outputs, timer }]}.
// Other suites are answered UNSUPPORTED_SUITE.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { WASM_PATH } from "./runner.js";
import { replay } from "./transcript.js";

const binding = await import("../../dist/hosts/shared/index.js");
const module = new WebAssembly.Module(readFileSync(WASM_PATH));

function answer({ suite, test }) {
  if (suite !== "stem-transcripts" && suite !== "sid-transcripts") return { tcId: test.tcId, result: "invalid", error: "UNSUPPORTED_SUITE" };
  // Only the inputs go in: a port must not need the expected outputs.
  const inputsOnly = { node: test.node, steps: test.steps.map((s) => ({ input: s.input })) };
  const engine = new binding.Engine(binding.Core.loadSync(module));
  return { tcId: test.tcId, result: "valid", steps: replay(engine, inputsOnly, binding.HandoverError) };
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (line.trim() === "") continue;
  let out;
  try {
    out = answer(JSON.parse(line));
  } catch (e) {
    let tcId = null;
    try { tcId = JSON.parse(line).test.tcId; } catch { /* not JSON */ }
    out = { tcId, result: "invalid", error: "RUNNER_ERROR", detail: String(e?.message ?? e) };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}
