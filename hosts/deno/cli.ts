#!/usr/bin/env -S deno run --allow-all --unstable-net
// The `handover` command for Deno: deno run -A --unstable-net dist/hosts/deno/cli.js ...
import { runCli } from "../shared/cli.ts";
import { DenoIO } from "./io.ts";
import { loadCore } from "./index.ts";
import { demoCommand } from "../../demo/command.ts";

const self = decodeURIComponent(new URL(import.meta.url).pathname);
const deno = [Deno.execPath(), "run", "--allow-all", "--unstable-net", "--quiet"];
Deno.exitCode = await runCli(new DenoIO(), loadCore, Deno.args, {
  // The demo's daemons run this CLI; its application (tools/traffic.js) runs under Deno too.
  demo: demoCommand([...deno, self], deno),
});
