#!/usr/bin/env -S deno run --allow-all --unstable-net --v8-flags=--no-wasm-lazy-compilation
// The `handover` command for Deno: deno run -A --unstable-net dist/hosts/deno/cli.js ...
// --v8-flags=--no-wasm-lazy-compilation: the core compiled whole at load, not each function at its first
// call on a transfer's critical path (as the Node host does; Deno takes V8 flags only on its command line).
import { runCli } from "../shared/cli.ts";
import { DenoIO } from "./io.ts";
import { loadCore } from "./index.ts";
import { demoCommand } from "../../demo/command.ts";

const self = decodeURIComponent(new URL(import.meta.url).pathname);
const deno = [Deno.execPath(), "run", "--allow-all", "--unstable-net", "--v8-flags=--no-wasm-lazy-compilation", "--quiet"];
Deno.exitCode = await runCli(new DenoIO(), loadCore, Deno.args, {
  // The demo's daemons run this CLI; its application (tools/traffic.js) runs under Deno too.
  demo: demoCommand([...deno, self], deno),
});
