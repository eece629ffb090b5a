#!/usr/bin/env node
// The `handover` command for Node.js.
import { fileURLToPath } from "node:url";
import { runCli } from "../shared/cli.ts";
import { NodeIO } from "./io.ts";
import { loadCore } from "./index.ts";
import { demoCommand } from "../../demo/command.ts";

const self = fileURLToPath(import.meta.url);
process.exitCode = await runCli(new NodeIO(), loadCore, process.argv.slice(2), {
  demo: demoCommand([process.execPath, self]),
});
