// handover for Deno: the library API, the same as the Node host's.
//
//   import { start } from "handover";   // package.json "exports" picks this file under Deno
//   const node = await start({ name: "m.example", peers: [...] });
//
// Run with: deno run --allow-all --unstable-net (UDP needs --unstable-net, the kernel --allow-ffi).

import { Core } from "../shared/core.ts";
import { Daemon } from "../shared/daemon.ts";
import { WASM_URL } from "../shared/wasm.ts";
import type { Config } from "../shared/config.ts";
import { DenoIO } from "./io.ts";

export * from "../shared/index.ts";
export { Daemon } from "../shared/daemon.ts";
export type { MigrationResult, Listener, EventName } from "../shared/daemon.ts";
export type { Config, PeerSpec, SaSpec } from "../shared/config.ts";
export { DenoIO } from "./io.ts";

let module: Promise<WebAssembly.Module> | null = null;

/**
 * The compiled core, loaded once per process. Compiled whole at load only when
 * Deno runs with --v8-flags=--no-wasm-lazy-compilation (cli.ts's command line):
 * node:v8's setFlagsFromString, which the Node host uses, has no effect in Deno.
 */
export function coreModule(): Promise<WebAssembly.Module> {
  if (!module) module = Deno.readFile(WASM_URL).then((b) => WebAssembly.compile(b));
  return module;
}

/** A fresh core instance (for the codec, vectors, or an engine of your own). */
export async function loadCore(): Promise<Core> {
  return Core.load(await coreModule());
}

/** Starts a handover node with a configuration object (see docs/USAGE.md). */
export async function start(config: Config): Promise<Daemon> {
  return Daemon.start(new DenoIO(), await loadCore(), config);
}
