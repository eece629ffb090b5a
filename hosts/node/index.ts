// handover for Node.js: the library API.
//
//   import { start } from "handover";
//   const node = await start({ name: "m.example", peers: [...] });
//   node.on("migration", (e) => console.log(e));
//   await node.migrate({ peer: "f.example", from: "198.18.0.2", to: "198.18.1.2" });

import { readFile } from "node:fs/promises";
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

/** The compiled core, loaded once per process. */
export function coreModule(): Promise<WebAssembly.Module> {
  // HANDOVER_WASM=FILE: another build of the core (bench/restart.js --before: the build before a change, in the same run).
  if (!module) module = readFile(process.env.HANDOVER_WASM || WASM_URL).then((b) => WebAssembly.compile(b));
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
