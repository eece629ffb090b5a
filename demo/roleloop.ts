// The command loop every demo role process shares (demo/sidrole.ts,
// demo/sidnode.ts, demo/sidflownode.ts): commands arrive as JSON lines on
// stdin ({cmd, ...}), events leave as JSON lines on stdout ({t, who, what,
// ...}, t in Unix ms).

import { createInterface } from "node:readline";

export type Emit = (what: string, extra?: Record<string, unknown>, t?: number) => void;
export type Handlers = Record<string, (c: any) => unknown>;

export const now = () => performance.timeOrigin + performance.now();

/** The event writer of the role named `who`. */
export function emitter(who: string): Emit {
  return (what, extra = {}, t = now()) => process.stdout.write(JSON.stringify({ t, who, what, ...extra }) + "\n");
}

/** Runs each command line through its handler (a failure is an "error in CMD" event); on SIGTERM, `stop` then exit 0. */
export function serveCommands(handlers: Handlers, emit: Emit, stop: () => unknown): void {
  createInterface({ input: process.stdin }).on("line", async (line) => {
    let c: any;
    try {
      c = JSON.parse(line);
      const h = handlers[c.cmd];
      if (!h) throw new Error(`unknown command ${c.cmd}`);
      await h(c);
    } catch (e) {
      emit(`error in ${c?.cmd}: ${(e as Error).message}`, { error: (e as Error).message, cmd: c?.cmd });
    }
  });
  process.on("SIGTERM", async () => {
    await Promise.resolve(stop()).catch(() => {});
    process.exit(0);
  });
}
