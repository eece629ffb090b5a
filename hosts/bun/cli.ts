#!/usr/bin/env bun
// The `handover` command for Bun: bun dist/hosts/bun/cli.js ...
import { runCli } from "../shared/cli.ts";
import { BunIO } from "./io.ts";
import { loadCore } from "./index.ts";
import { demoCommand } from "../../demo/command.ts";

const self = decodeURIComponent(new URL(import.meta.url).pathname);
process.exitCode = await runCli(new BunIO(), loadCore, process.argv.slice(2), {
  // The demo's daemons run this CLI; its application (tools/traffic.js) runs under Bun too.
  demo: demoCommand([process.execPath, self], [process.execPath]),
});
