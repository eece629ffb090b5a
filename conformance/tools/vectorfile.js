// Building vector files in the format of docs/PROTOCOL.md section 9.1.
//
// tcIds are handed out in the order cases are created, across groups, and a
// case's random bytes come from a PRNG seeded with (file seed, tcId): so a
// case keeps its tcId and its bytes when cases are appended later. Append new
// cases at the end of a suite's generator; never insert or reorder.
import { Prng } from "./prng.js";

export const SCHEMA_ID = "handover-vectors/1";

export class VectorFile {
  constructor({ suite, description, source, seed, notes }) {
    this.head = { schema: SCHEMA_ID, suite, description, source };
    this.seed = seed >>> 0;
    this.notes = notes;
    this.groups = [];
    this.next = 1;
  }
  /** A test group with shared parameters; tests are added with add(). */
  group(params) {
    const g = { ...params, tests: [] };
    this.groups.push(g);
    return g;
  }
  /** The PRNG of the case that add() will create next. */
  rng() {
    return new Prng((this.seed ^ Math.imul(this.next, 0x9e3779b1)) >>> 0);
  }
  /**
   * Adds a test to group g. `make(rng)` returns the test's fields (without
   * tcId); the keys are written in the order comment, flags, inputs..., result.
   */
  add(g, make) {
    const tcId = this.next;
    const fields = make(this.rng());
    this.next++;
    for (const f of fields.flags ?? []) {
      if (!this.notes[f]) throw new Error(`tcId ${tcId}: flag ${f} has no note`);
    }
    g.tests.push({ tcId, comment: fields.comment ?? "", flags: fields.flags ?? [], ...strip(fields) });
    return tcId;
  }
  toJSON() {
    const used = new Set(this.groups.flatMap((g) => g.tests.flatMap((t) => t.flags)));
    const notes = Object.fromEntries(Object.entries(this.notes).filter(([k]) => used.has(k)));
    const groups = this.groups.filter((g) => g.tests.length > 0);
    const numberOfTests = groups.reduce((n, g) => n + g.tests.length, 0);
    return { ...this.head, numberOfTests, notes, testGroups: groups };
  }
  /** The file's text: 2-space JSON, tests on one line each for readable diffs. */
  text() {
    return formatVectors(this.toJSON());
  }
}

function strip(fields) {
  const { comment, flags, ...rest } = fields;
  return rest;
}

/**
 * Pretty-prints a vector file: the structure indented, each test on one line
 * (long ones are still one line: a diff then shows exactly the changed cases).
 */
export function formatVectors(file) {
  const { testGroups, ...head } = file;
  const lines = ["{"];
  for (const [k, v] of Object.entries(head)) {
    const body = JSON.stringify(v, null, 2).split("\n").join("\n  ");
    lines.push(`  ${JSON.stringify(k)}: ${body},`);
  }
  lines.push('  "testGroups": [');
  testGroups.forEach((g, gi) => {
    const { tests, ...params } = g;
    lines.push("    {");
    for (const [k, v] of Object.entries(params)) lines.push(`      ${JSON.stringify(k)}: ${JSON.stringify(v)},`);
    lines.push('      "tests": [');
    tests.forEach((t, ti) => lines.push(`        ${JSON.stringify(t)}${ti < tests.length - 1 ? "," : ""}`));
    lines.push("      ]");
    lines.push(`    }${gi < testGroups.length - 1 ? "," : ""}`);
  });
  lines.push("  ]");
  lines.push("}");
  return lines.join("\n") + "\n";
}
