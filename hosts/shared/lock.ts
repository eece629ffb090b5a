// One node, one daemon: a pid file next to the control socket, taken before
// the daemon touches anything, so that a second daemon for the same node
// refuses to start instead of taking over the first one's socket and, on its
// way out, deleting the first one's kernel state.

import type { HostIO } from "./io.ts";

/** Another daemon holds the node's pid file (or its network namespace's). */
export class AlreadyRunning extends Error {
  readonly pid: number;
  constructor(readonly path: string, pid: number, what = "runs this node") {
    super(`another daemon (pid ${pid}) already ${what} (pid file ${path}); stop it first (kill -TERM ${pid}, or systemctl stop)`);
    this.name = "AlreadyRunning";
    this.pid = pid;
  }
}

/**
 * The kernel state (table inet handover, addresses on lo, the route) is one
 * per network namespace, whatever the node's name: the pid file that guards
 * it, /run/handover/netns-<inode>.pid; null if the namespace cannot be told.
 */
export async function netnsPidFilePath(io: HostIO): Promise<string | null> {
  const ns = /^net:\[(\d+)\]$/.exec((await io.networkNamespace()) ?? "");
  return ns ? `/run/handover/netns-${ns[1]}.pid` : null;
}

/** The pid file of a node: beside its control socket, or /run/handover/<name>.pid. */
export function pidFilePath(name: string, control: string | null): string {
  return control ? control.replace(/\.sock$/, "") + ".pid" : `/run/handover/${name}.pid`;
}

/**
 * A process's start time (field 22 of /proc/PID/stat, clock ticks since boot),
 * or null if it does not run (or is a zombie). A pid and its start time name
 * one process for the whole uptime: a pid the kernel has handed to another
 * process since has another start time.
 */
async function startTime(io: HostIO, pid: number): Promise<string | null> {
  // /proc/PID/stat: "PID (COMM) STATE ..."; a killed daemon not yet reaped is "Z".
  const stat = await io.readText(`/proc/${pid}/stat`).catch(() => "");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (!stat || fields[0] === "Z" || fields[0] === "X") return null;
  return fields[19] ?? null;
}

/**
 * The pid in the file, if that very process still runs (this one included);
 * else null. The file holds "PID STARTTIME": a daemon killed with SIGKILL
 * leaves its file behind, and its pid may since belong to another process.
 */
export async function lockHolder(io: HostIO, path: string): Promise<number | null> {
  const text = await io.readText(path).catch(() => "");
  const [pidText, started] = text.trim().split(/\s+/);
  const pid = Number.parseInt(pidText, 10);
  if (!(pid > 0)) return null;
  const now = await startTime(io, pid);
  if (now === null) return null;
  return started === undefined || started === now ? pid : null;
}

/** Takes the pid file (replacing a stale one); returns its release, or throws AlreadyRunning. */
export async function takeLock(io: HostIO, path: string, what?: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await io.createExclusive(path, `${io.pid} ${(await startTime(io, io.pid)) ?? ""}\n`)) return () => io.removeFile(path);
    // A file still empty is one being written by a daemon starting right now: give it a moment.
    if ((await io.readText(path).catch(() => "x")) === "") await new Promise<void>((r) => io.setTimer(r, 100));
    const holder = await lockHolder(io, path);
    if (holder !== null) throw new AlreadyRunning(path, holder, what);
    await io.removeFile(path); // left by a daemon that died without cleaning up
  }
  throw new Error(`cannot take the pid file ${path}: it keeps reappearing; is another daemon starting?`);
}
