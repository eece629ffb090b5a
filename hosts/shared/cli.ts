// The `handover` command line, runtime-neutral: each host's cli entry passes
// its HostIO, the core, and its argument list. Exit codes: 0 done, 1 failed
// (the daemon refused, the node cannot start), 2 usage error (the command
// line is wrong: see the command's --help).

import { Core, HandoverError } from "./core.ts";
import { Daemon, StartError } from "./daemon.ts";
import { hex, unhex } from "./bytes.ts";
import type { HostIO } from "./io.ts";
import { ConfigError, checkConfig, checkNodeName, didYouMean } from "./config.ts";
import { PROTOCOL_VERSION, ABI_VERSION, OPTION_SPECS } from "./registry.ts";
import { AlreadyRunning } from "./lock.ts";
import { formatStatus, type Status } from "./status.ts";
import { UsageError, parseCommand, commandHelp, intOption, type CommandSpec, type Parsed } from "./args.ts";

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

const socketOptions = {
  socket: { type: "string", value: "PATH", help: "the daemon's control socket" },
  name: { type: "string", value: "NAME", help: "the node's name: its socket is /run/handover/NAME.sock" },
} as const;

const configOption = { config: { type: "string", value: "FILE", help: "the node's configuration (JSON, docs/USAGE.md)", required: true } } as const;

/** Every command: what --help prints, and what the parser accepts. */
export const COMMANDS: Record<string, CommandSpec> = {
  daemon: {
    summary: "run a node in the foreground (JSON logs on stderr); SIGHUP reloads the configuration, SIGTERM or SIGINT stops it",
    options: configOption,
  },
  down: {
    summary: "remove what a node left in the kernel (its nftables table, its addresses on lo, its route) and its socket and pid files; refuses while its daemon runs",
    options: configOption,
  },
  migrate: {
    summary: "ask a running node to move its sessions with a peer from one of its addresses to another",
    options: {
      peer: { type: "string", value: "NAME", help: "the peer (its name or cookie)", required: true },
      from: { type: "string", value: "ADDR", help: "the address the sessions use now", required: true },
      to: { type: "string", value: "ADDR", help: "the address to move them to (an address of this host)", required: true },
      port: { type: "string", value: "N", help: "only the sessions on this local port (default: all)" },
      "to-port": { type: "string", value: "N", help: "their port after the move (default: --port)" },
      tcp: { type: "boolean", help: "only TCP sessions" },
      udp: { type: "boolean", help: "only UDP sessions" },
      ...socketOptions,
    },
  },
  register: {
    summary: "register a running node with a peer",
    options: {
      peer: { type: "string", value: "NAME", help: "the peer (its name or cookie)", required: true },
      lifetime: { type: "string", value: "S", help: `seconds the registration lasts, 0-65535 (default ${OPTION_SPECS.registrationLifetimeS.default}; 0 deregisters)` },
      ...socketOptions,
    },
  },
  status: {
    summary: "a running node's peers (by name: control address, last exchange, registrations), moves, counters and sessions",
    options: { json: { type: "boolean", help: "the same as JSON, for scripts" }, ...socketOptions },
  },
  state: { summary: "a running node's peers, moves and counters: the core's state, raw JSON", options: socketOptions },
  sessions: { summary: "the host's TCP and UDP sessions, and which move carries each (JSON)", options: socketOptions },
  keygen: { summary: "print a random 32-byte key, hex (for a security association)", options: {} },
  cookie: { summary: "print the identifier cookie of a node name", positionals: ["NAME"], options: {} },
  decode: { summary: "decode a control message given as hex (JSON)", positionals: ["HEX"], options: {} },
  version: { summary: "print the package, protocol and ABI versions", options: {} },
};

/** The demo's line in the overview (its own --help has the rest). */
const DEMO_SUMMARY = "stem [--json] [--break] [--v6] [--server] [--migrations N] [--rtt MS] | sid [--json] [--same-subnet] [--reverse|--direct] [--http] [--udp [--socat]] [--pieces] [--back] | sid-flows [--json] [--back] [--session-address v4|v6|dhcp [--same-subnet] [--vanish]]: the demonstrations on throwaway network namespaces (root)";

export function usage(extras: string[]): string {
  const rows: [string, string][] = Object.entries(COMMANDS).map(([k, c]) => [k, c.summary]);
  if (extras.includes("demo")) rows.splice(rows.length - 4, 0, ["demo", DEMO_SUMMARY]);
  const lines = rows.map(([k, s]) => `  ${k.padEnd(10)}${s}`);
  return `handover: live sessions that survive address changes (STEM) and move between devices (SID)

usage: handover COMMAND [options]     (handover COMMAND --help for its options)

${lines.join("\n")}

  --version, --help
The control socket defaults to /run/handover/<name>.sock; --socket PATH or --name NAME picks it.
Exit codes: 0 done, 1 failed, 2 usage error.`;
}

function socketPath(command: string, values: Parsed["values"]): string {
  if (typeof values.socket === "string") return values.socket;
  if (typeof values.name === "string") {
    try {
      return `/run/handover/${checkNodeName(values.name, "--name")}.sock`;
    } catch (e) {
      throw new UsageError(command, (e as Error).message.replace(/^configuration: /, ""));
    }
  }
  throw new UsageError(command, "give the daemon's control socket (--socket PATH) or its name (--name NAME)");
}

function address(command: string, key: string, v: unknown): string {
  const s = String(v);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  const ok = v4 ? v4.slice(1).every((n) => Number(n) <= 255) : /^[0-9a-f:]+$/i.test(s) && s.includes(":") && s.length <= 39;
  if (!ok) throw new UsageError(command, `--${key} ${JSON.stringify(s)}: not an IPv4 or IPv6 address`);
  return s;
}

/** The package's version, from its package.json (beside dist/). */
async function packageVersion(io: HostIO): Promise<string> {
  const url = new URL("../../../package.json", import.meta.url);
  try {
    return JSON.parse(await io.readText(decodeURIComponent(url.pathname))).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

async function readConfig(io: HostIO, file: string): Promise<unknown> {
  let text: string;
  try {
    text = await io.readText(file);
  } catch (e) {
    throw new ConfigError(file, `cannot read it (${(e as { code?: string })?.code ?? (e as Error)?.name ?? e})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, `not valid JSON (${e instanceof Error ? e.message : e})`);
  }
}

/**
 * `handover daemon`: runs until SIGTERM/SIGINT. SIGHUP reloads: the new
 * configuration is checked first (a bad one is logged and the node keeps
 * running), then the node restarts in place, keeping its kernel state, the
 * way a restarted daemon takes over its rules.
 */
async function runDaemon(io: HostIO, loadCore: () => Promise<Core>, file: string): Promise<number> {
  // The signal handlers come first: a SIGTERM during the start stops the node once it has started.
  let fatal: unknown = null;
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  io.onShutdown(() => stop());
  let reloads = Promise.resolve();
  let d: Daemon | null = null;
  const noMoreReloads = io.onReload(() => {
    reloads = reloads.then(async () => {
      if (!d) return;
      let next: unknown;
      try {
        next = await readConfig(io, file);
        checkConfig(next);
      } catch (e) {
        d.log("error", { event: "reload-failed", error: (e as Error).message, action: "kept the running configuration; fix the file and send SIGHUP again" });
        return;
      }
      const old: Daemon = d;
      d = null;
      await old.close({ keepKernelState: true });
      // The old sockets may take a turn of the event loop to let go of the port.
      for (let attempt = 0; ; attempt++) {
        try {
          d = await Daemon.start(io, await loadCore(), next);
          d.log("info", { event: "reloaded", file });
          return;
        } catch (e) {
          if (attempt < 20 && e instanceof StartError && e.message.includes("EADDRINUSE")) {
            await new Promise<void>((r) => io.setTimer(r, 50));
            continue;
          }
          fatal = e;
          stop();
          return;
        }
      }
    });
  });
  d = await Daemon.start(io, await loadCore(), await readConfig(io, file));
  await stopped;
  noMoreReloads();
  await reloads;
  if (fatal) throw fatal;
  await (d as Daemon | null)?.close();
  return 0;
}

/** Extra commands a host may add (the demo, which spawns processes). */
export type Extra = (args: string[]) => Promise<number>;

/** Runs the CLI; returns the exit code. */
export async function runCli(io: HostIO, loadCore: () => Promise<Core>, args: string[], extras: Record<string, Extra> = {}): Promise<number> {
  const cmd = args[0];
  const out = (o: unknown) => console.log(typeof o === "string" ? o : JSON.stringify(o, null, 2));
  try {
    if (cmd === undefined || cmd === "help" || cmd === "--help" || cmd === "-h") {
      const about = args[1];
      if (about && COMMANDS[about]) out(commandHelp(about, COMMANDS[about]));
      else if (about && extras[about]) return await extras[about](["--help"]);
      else if (about) throw new UsageError("help", `unknown command '${about}'${suggest(about, extras)}`);
      else (cmd === undefined ? console.error : out)(usage(Object.keys(extras)));
      return cmd === undefined ? EXIT_USAGE : 0;
    }
    if (cmd === "--version" || cmd === "-V") args = ["version"];
    const name = args[0];
    if (extras[name] && !COMMANDS[name]) return await extras[name](args.slice(1));
    const spec = COMMANDS[name];
    if (!spec) throw new UsageError(name, `unknown command${suggest(name, extras)}; the commands are ${[...Object.keys(COMMANDS), ...Object.keys(extras)].join(", ")}`);
    const p = parseCommand(name, spec, args.slice(1));
    if (p.help) {
      out(commandHelp(name, spec));
      return 0;
    }
    const v = p.values;
    switch (name) {
      case "daemon":
        return await runDaemon(io, loadCore, v.config as string);
      case "down": {
        const config = (await readConfig(io, v.config as string)) as Record<string, unknown>;
        // Quiet (warnings only): what it removed is the one line below.
        await Daemon.down(io, await loadCore(), config && typeof config === "object" ? { ...config, log: "warn" } : config);
        out(`handover: node ${config.name} is down: its nftables table, its addresses on lo, its route and its socket and pid files are gone`);
        return 0;
      }
      case "migrate": {
        const from = address(name, "from", v.from);
        const to = address(name, "to", v.to);
        if (from === to) throw new UsageError(name, `--from and --to are both ${from}: nothing would move; give the address to move to`);
        if (from.includes(":") !== to.includes(":")) throw new UsageError(name, `--from ${from} and --to ${to} are of different families (IPv4 and IPv6)`);
        const port = intOption(name, v, "port", 1, 65535, "a local port");
        const toPort = intOption(name, v, "to-port", 1, 65535, "a local port");
        if (toPort !== undefined && port === undefined) throw new UsageError(name, "--to-port needs --port (which sessions to move)");
        const protocols = v.tcp && !v.udp ? ["TCP"] : v.udp && !v.tcp ? ["UDP"] : undefined;
        const request = { peer: v.peer, from, to, fromPort: port ?? 0, toPort: toPort ?? port ?? 0, protocols };
        const r = (await io.callControl(socketPath(name, v), { cmd: "migrate", request })) as any;
        if (!r.ok) return fail(`migrate: ${r.error}`);
        out(r.result);
        if (r.result.state === "completed") return 0;
        return fail(`migrate: the migration failed (${r.result.error ?? "unknown error"})${r.hint ? `: ${r.hint}` : ""}`);
      }
      case "register": {
        const lifetime = intOption(name, v, "lifetime", 0, 65535, "seconds") ?? OPTION_SPECS.registrationLifetimeS.default;
        const r = (await io.callControl(socketPath(name, v), { cmd: "register", peer: v.peer, lifetime })) as any;
        if (!r.ok) return fail(`register: ${r.error}`);
        out(r);
        return 0;
      }
      case "status": {
        const r = (await io.callControl(socketPath(name, v), { cmd: name })) as any;
        if (!r.ok) return fail(`${name}: ${r.error}`);
        out(v.json ? r.status : formatStatus(r.status as Status));
        return 0;
      }
      case "state":
      case "sessions": {
        const r = (await io.callControl(socketPath(name, v), { cmd: name })) as any;
        if (!r.ok) return fail(`${name}: ${r.error}`);
        out(r[name]);
        return 0;
      }
      case "keygen":
        out(hex(io.random(32)));
        return 0;
      case "cookie":
        out((await loadCore()).cookieFromName(p.positionals[0]));
        return 0;
      case "decode": {
        const text = p.positionals[0];
        if (!/^([0-9a-f]{2})+$/i.test(text)) throw new UsageError(name, "HEX: give the message as hex digits, two per byte");
        out((await loadCore()).decode(unhex(text)));
        return 0;
      }
      case "version": {
        out(`handover ${await packageVersion(io)} (protocol version ${PROTOCOL_VERSION}, ABI ${ABI_VERSION}, ${io.runtime})`);
        return 0;
      }
    }
    throw new Error(`command '${name}' has no implementation`);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`handover ${e.message}\nsee: handover ${COMMANDS[e.command] ? `${e.command} --help` : "--help"}`);
      return EXIT_USAGE;
    }
    if (e instanceof ConfigError || e instanceof HandoverError || e instanceof StartError || e instanceof AlreadyRunning) return fail(e.message);
    return fail(e instanceof Error ? (io.env("HANDOVER_DEBUG") ? String(e.stack) : e.message) : String(e));
  }
}

function fail(line: string): number {
  console.error(`handover: ${line}`);
  return EXIT_FAILED;
}

function suggest(word: string, extras: Record<string, Extra>): string {
  return didYouMean(word, [...Object.keys(COMMANDS), ...Object.keys(extras)]);
}
