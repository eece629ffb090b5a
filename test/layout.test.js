// The core's layout (docs/ENGINE.md): read from the sources' import lines.
// No file of core/assembly imports itself through others (a circle); the
// engine, kernel/, crypto/ and wire/ (the codecs, the Sealed extension's
// included) import no protocol module, and the modules (stem/, sid/) import
// nothing of each other; and no procedure of STEM is cast to
// its type (a procedure calls back through its typed owner instead).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, readdirSync, statSync, existsSync } from "node:fs";
import { join, dirname, relative, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CORE = join(ROOT, "core", "assembly");

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Each file's relative imports, as paths relative to core/assembly. */
function importGraph() {
  const graph = new Map();
  for (const f of files(CORE)) {
    const src = readFileSync(f, "utf8");
    const deps = [];
    for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.{1,2}\/[^"]+)"/g)) {
      let q = normalize(join(dirname(f), m[1]));
      q = existsSync(q + ".ts") ? q + ".ts" : join(q, "index.ts");
      deps.push(relative(CORE, q));
    }
    graph.set(relative(CORE, f), deps);
  }
  return graph;
}

/** Every circle of imports, each as the list of files it goes through. */
export function circles(graph) {
  const found = [];
  const state = new Map(); // 1: on the current path, 2: done
  const path = [];
  const visit = (n) => {
    state.set(n, 1);
    path.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 1) found.push([...path.slice(path.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    path.pop();
    state.set(n, 2);
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return found;
}

test("the circle finder finds a circle (so that the next test can fail)", () => {
  const g = new Map([["a.ts", ["b.ts"]], ["b.ts", ["c.ts"]], ["c.ts", ["a.ts"]], ["d.ts", ["a.ts"]]]);
  assert.equal(circles(g), [["a.ts", "b.ts", "c.ts", "a.ts"]]);
  assert.equal(circles(new Map([["a.ts", ["b.ts"]], ["b.ts", []]])), []);
});

test("no file of core/assembly imports itself through others", () => {
  const graph = importGraph();
  assert.ok(graph.size > 50, `read ${graph.size} files`);
  assert.ok(graph.get("stem/stem.ts").includes("stem/migrator.ts"), "the import lines are read");
  assert.equal(circles(graph).map((c) => c.join(" -> ")), []);
});

test("the engine, kernel/, crypto/ and wire/ import no module; stem/ and sid/ import nothing of each other", () => {
  const graph = importGraph();
  const bad = [];
  for (const [f, deps] of graph) {
    for (const d of deps) {
      const engine = ["engine/", "kernel/", "crypto/", "wire/"].some((layer) => f.startsWith(layer));
      if (engine && (d.startsWith("stem/") || d.startsWith("sid/"))) bad.push(`${f} -> ${d}`);
      if (f.startsWith("stem/") && d.startsWith("sid/")) bad.push(`${f} -> ${d}`);
      if (f.startsWith("sid/") && d.startsWith("stem/")) bad.push(`${f} -> ${d}`);
    }
  }
  assert.equal(bad, []);
});

test("no STEM procedure is cast or tested for its type", () => {
  const stem = files(join(CORE, "stem"));
  const src = stem.map((f) => readFileSync(f, "utf8")).join("\n");
  // The procedures: every class of stem/ that extends the engine's Procedure or MoveProcedure.
  const names = [...src.matchAll(/class\s+(\w+)\s+extends\s+(?:Procedure|MoveProcedure)\b/g)].map((m) => m[1]);
  for (const n of ["Migration", "PathValidation", "SessionProbe", "Registration"]) assert.ok(names.includes(n), `${n} is a procedure`);
  const casts = [];
  for (const f of [...stem, ...files(join(CORE, "abi"))]) {
    const lines = readFileSync(f, "utf8").split("\n");
    lines.forEach((line, i) => {
      for (const n of names) {
        if (new RegExp(`(?<!\\w)<${n}>|\\bas\\s+${n}\\b|instanceof\\s+${n}\\b|changetype<${n}>`).test(line)) casts.push(`${relative(CORE, f)}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  assert.equal(casts, []);
});

test.run();
