#!/usr/bin/env node
// Lints the conformance vector files: each against
// conformance/schema/vectors.schema.json (tools/schema.js validates the subset
// of JSON Schema it uses), plus what a schema cannot say: tcIds unique per
// file, numberOfTests equal to the number of tests, every flag explained in
// notes, the file named after its suite.
//
//   node conformance/tools/lint.js [file.json ...]    (default: conformance/vectors/*.json)
//   deno run -A conformance/tools/lint.js / bun conformance/tools/lint.js
//
// Prints one line per file and exits 1 if any file has a problem.
import { readFileSync, readdirSync } from "node:fs";
import { basename, join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { validate } from "./schema.js";
import { isMain } from "./main.js";

const HERE = dirname(fileURLToPath(import.meta.url));
export const VECTOR_DIR = join(HERE, "..", "vectors");
export const SCHEMA_PATH = join(HERE, "..", "schema", "vectors.schema.json");

export function loadSchema() {
  return JSON.parse(readFileSync(SCHEMA_PATH, "utf8"));
}

export function vectorFiles(dir = VECTOR_DIR) {
  return readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => join(dir, f));
}

/** The problems of one vector file (text or parsed), as strings. */
export function lintVectors(data, name, schema = loadSchema()) {
  const problems = [];
  if (typeof data === "string") {
    try {
      data = JSON.parse(data);
    } catch (e) {
      return [`not JSON: ${e.message}`];
    }
  }
  for (const e of validate(schema, data)) problems.push(`${e.path}: ${e.message}`);
  if (!data || typeof data !== "object" || !Array.isArray(data.testGroups)) return problems;
  const ids = new Map();
  let n = 0;
  data.testGroups.forEach((g, gi) => {
    for (const t of Array.isArray(g.tests) ? g.tests : []) {
      n++;
      if (ids.has(t.tcId)) problems.push(`/testGroups/${gi}: tcId ${t.tcId} used twice (also in group ${ids.get(t.tcId)})`);
      else ids.set(t.tcId, gi);
      for (const f of Array.isArray(t.flags) ? t.flags : []) {
        if (!data.notes || !Object.prototype.hasOwnProperty.call(data.notes, f)) problems.push(`tcId ${t.tcId}: flag '${f}' has no entry in notes`);
      }
    }
  });
  if (data.numberOfTests !== n) problems.push(`numberOfTests is ${data.numberOfTests}, but the file has ${n} tests`);
  if (name && typeof data.suite === "string" && basename(name) !== `${data.suite}.json`) {
    problems.push(`suite '${data.suite}' should be in ${data.suite}.json`);
  }
  return problems;
}

/** Lints files; returns { files: [{ file, tests, problems }], problems: total }. */
export function lintAll(files = vectorFiles()) {
  const schema = loadSchema();
  const out = [];
  for (const file of files) {
    let text;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      out.push({ file, tests: 0, problems: [`cannot read: ${e.message}`] });
      continue;
    }
    const problems = lintVectors(text, file, schema);
    let tests = 0;
    try {
      tests = JSON.parse(text).testGroups.reduce((a, g) => a + g.tests.length, 0);
    } catch { /* reported above */ }
    out.push({ file, tests, problems });
  }
  return { files: out, problems: out.reduce((a, f) => a + f.problems.length, 0) };
}

if (isMain(import.meta)) {
  const args = globalThis.process?.argv?.slice(2) ?? Deno.args;
  const { files, problems } = lintAll(args.length ? args : vectorFiles());
  for (const f of files) {
    console.log(`${f.problems.length ? "FAIL" : "ok  "} ${basename(f.file)}: ${f.tests} tests${f.problems.length ? `, ${f.problems.length} problems` : ""}`);
    for (const p of f.problems.slice(0, 50)) console.log(`       ${p}`);
    if (f.problems.length > 50) console.log(`       ... and ${f.problems.length - 50} more`);
  }
  console.log(`lint: ${files.length} files, ${problems} problems`);
  if (problems) globalThis.process ? process.exit(1) : Deno.exit(1);
}
