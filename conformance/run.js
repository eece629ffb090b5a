#!/usr/bin/env node
// The conformance runner (docs/PROTOCOL.md section 9.4).
//
//   node conformance/run.js [options] [vector files ...]
//   deno run -A conformance/run.js ...
//   bun conformance/run.js ...
//
// Without --external, it loads build/handover.wasm through the typed binding
// (dist/hosts/shared; run `npm run build` first) and runs every vector file in
// conformance/vectors/ (or the files given). It prints one line per file and
// then "<runtime>: N passed, M failed" (runtime: node, deno or bun); exit code
// 1 if anything failed.
//
//   --external "<command>"  Run the command (through the shell) and speak the
//                           line protocol of section 9.4 with it instead of
//                           using the core; the last line then reads
//                           "external: N passed, M failed".
//   --verbose               Print every failure (default: the first 20 per file).
import { basename } from "node:path";
import { isMain, runtime } from "./tools/main.js";
import { vectorFiles } from "./tools/lint.js";
import { loadVectorFiles, loadCore, runCore, runExternal } from "./tools/runner.js";

export async function main(args) {
  let external = null, verbose = false;
  const paths = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--external") external = args[++i];
    else if (args[i] === "--verbose") verbose = true;
    else if (args[i] === "--help" || args[i] === "-h") {
      console.log("usage: conformance/run.js [--external \"<command>\"] [--verbose] [vector files ...]");
      return 0;
    } else paths.push(args[i]);
  }
  if (external === undefined || external === "") {
    console.error("--external needs a command");
    return 2;
  }
  const files = loadVectorFiles(paths.length ? paths : vectorFiles());
  const report = external ? await runExternal(external, files) : await runCore(await loadCore(), files);
  for (const f of report.files) {
    console.log(`${f.failed ? "FAIL" : "ok  "} ${f.name}: ${f.passed} passed, ${f.failed} failed`);
    const mine = report.failures.filter((x) => x.file === f.name);
    for (const x of verbose ? mine : mine.slice(0, 20)) {
      console.log(`       tcId ${x.tcId} (${x.comment}): ${x.problems.join("; ")}`);
    }
    if (!verbose && mine.length > 20) console.log(`       ... and ${mine.length - 20} more (--verbose shows all)`);
  }
  console.log(`${external ? "external" : runtime()}: ${report.passed} passed, ${report.failed} failed`);
  return report.failed === 0 ? 0 : 1;
}

if (isMain(import.meta)) {
  const args = globalThis.Deno ? Deno.args : process.argv.slice(2);
  main(args).then(
    (code) => (globalThis.Deno ? Deno.exit(code) : process.exit(code)),
    (e) => {
      console.error(`${basename(import.meta.url)}: ${e.stack ?? e}`);
      globalThis.Deno ? Deno.exit(2) : process.exit(2);
    },
  );
}
