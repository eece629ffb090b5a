// Loads the release core for tests, the same bytes in Node, Deno and Bun.
import { readFileSync } from "node:fs";

const WASM = new URL("../build/handover.wasm", import.meta.url);

/** Instantiates a fresh core; returns its exports and byte-view helpers. */
export function loadRaw() {
  const module = new WebAssembly.Module(readFileSync(WASM));
  const instance = new WebAssembly.Instance(module, {});
  const x = instance.exports;
  x._initialize();
  const mem = () => new Uint8Array(x.memory.buffer);
  return {
    x,
    mem,
    /** Copies bytes into the core at ptr. */
    put(ptr, bytes) { mem().set(bytes, ptr); },
    /** Copies len bytes out of the core at ptr. */
    get(ptr, len) { return mem().slice(ptr, ptr + len); },
  };
}

export const hex = (b) => Array.from(b, (v) => v.toString(16).padStart(2, "0")).join("");
export const unhex = (s) => {
  if (s.length % 2) throw new Error(`odd-length hex: ${s}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
};
