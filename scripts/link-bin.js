#!/usr/bin/env node
// Links the package's own `handover` command into node_modules/.bin, so that
// `npx handover ...` runs this checkout's CLI (npm links the bins of
// dependencies only, not the root package's).
import { symlinkSync, unlinkSync, mkdirSync, chmodSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = root + "node_modules/.bin/handover";
mkdirSync(root + "node_modules/.bin", { recursive: true });
try {
  unlinkSync(bin);
} catch {
  // not there yet
}
symlinkSync("../../dist/hosts/node/cli.js", bin);
chmodSync(root + "dist/hosts/node/cli.js", 0o755);
