// Whether a module is the program's entry point, in Node, Deno and Bun.
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";

export function isMain(meta) {
  if (typeof meta.main === "boolean") return meta.main; // Deno, Bun (and newer Node)
  const argv1 = globalThis.process?.argv?.[1];
  if (!argv1) return false;
  try {
    return fileURLToPath(meta.url) === resolve(argv1);
  } catch {
    return false;
  }
}

/** The JavaScript runtime: "deno", "bun" or "node". */
export function runtime() {
  if (globalThis.Deno) return "deno";
  if (globalThis.Bun) return "bun";
  return "node";
}
