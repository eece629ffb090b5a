// handover for Node.js: the library API.
//
//   import { start } from "handover";
//   const node = await start({ name: "m.example", peers: [...] });
//   node.on("migration", (e) => console.log(e));
//   await node.migrate({ peer: "f.example", from: "198.18.0.2", to: "198.18.1.2" });

import { readFile } from "node:fs/promises";
import { setFlagsFromString } from "node:v8";
import { Core } from "../shared/core.ts";
import { Daemon } from "../shared/daemon.ts";
import { WASM_URL } from "../shared/wasm.ts";
import type { Config } from "../shared/config.ts";
import { NodeIO } from "./io.ts";

export * from "../shared/index.ts";
export { Daemon } from "../shared/daemon.ts";
export type { MigrationResult, Listener, EventName } from "../shared/daemon.ts";
export type { Config, PeerSpec, SaSpec } from "../shared/config.ts";
export { NodeIO } from "./io.ts";

let module: Promise<WebAssembly.Module> | null = null;

/**
 * Compiles the core with every function compiled at once (V8's baseline
 * tier), not each at its first call: a fresh daemon's first transfer
 * otherwise compiles the negotiation's, the record's and the claim's code
 * on its critical path (docs/benchmarks.md, "The core compiled at start").
 * Costs ~8 ms more at start. V8's default is set back after the compile,
 * for any other module in the process.
 */
function compileEagerly(bytes: Parameters<typeof WebAssembly.compile>[0]): Promise<WebAssembly.Module> {
  setFlagsFromString("--no-wasm-lazy-compilation");
  // (the compile job reads the flag after this call returns: set back once it is done)
  return WebAssembly.compile(bytes).finally(() => setFlagsFromString("--wasm-lazy-compilation"));
}

/** The compiled core, loaded once per process. */
export function coreModule(): Promise<WebAssembly.Module> {
  // HANDOVER_WASM=FILE: another build of the core (bench/restart.js --before: the build before a change, in the same run).
  if (!module) module = readFile(process.env.HANDOVER_WASM || WASM_URL).then(compileEagerly);
  return module;
}

/** A fresh core instance (for the codec, vectors, or an engine of your own). */
export async function loadCore(): Promise<Core> {
  return Core.load(await coreModule());
}

/** Starts a handover node with a configuration object (docs/USAGE.md). */
export async function start(config: Config): Promise<Daemon> {
  return Daemon.start(new NodeIO(), await loadCore(), config);
}
