// The `handover` command line, runtime-neutral: each host's cli entry passes
// its HostIO, the core, and its argument list.

import { Core, HandoverError } from "./core.ts";
import { Daemon } from "./daemon.ts";
import { hex, unhex } from "./bytes.ts";
import type { HostIO } from "./io.ts";
import { ConfigError } from "./config.ts";

export const USAGE = `handover: live sessions that survive address changes (STEM) and move between devices (SID)

usage:
  handover daemon --config FILE           run a node in the foreground (JSON logs on stderr)
  handover migrate --peer NAME --from ADDR --to ADDR [--port N --to-port N] [--tcp|--udp]
                   [--socket PATH]        ask a running node to migrate its sessions with a peer
  handover register --peer NAME [--lifetime S] [--socket PATH]
  handover state [--socket PATH]          a running node's peers, moves and counters (JSON)
  handover sessions [--socket PATH]       the host's TCP and UDP sessions, and which move carries each
  handover demo stem [--json] [--rtt MS] [--break]
                                          demonstration on throwaway network namespaces (root)
  handover keygen                         a random 32-byte key, hex
  handover cookie NAME                    the identifier cookie of a node name
  handover decode HEX                     decode a control message (JSON)
  handover version

The control socket defaults to /run/handover/<name>.sock; --socket, or --name NAME, picks it.
`;

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

function socketPath(args: string[]): string {
  const s = arg(args, "socket");
  if (s) return s;
  const n = arg(args, "name");
  if (n) return `/run/handover/${n}.sock`;
  throw new ConfigError("--socket", "give the daemon's control socket (--socket PATH) or its name (--name NAME)");
}

/** Extra commands a host may add (the demo, which spawns processes). */
export type Extra = (args: string[]) => Promise<number>;

/** Runs the CLI; returns the exit code. */
export async function runCli(io: HostIO, loadCore: () => Promise<Core>, args: string[], extras: Record<string, Extra> = {}): Promise<number> {
  const cmd = args[0];
  const out = (o: unknown) => console.log(typeof o === "string" ? o : JSON.stringify(o, null, 2));
  try {
    switch (cmd) {
      case "daemon": {
        const file = arg(args, "config");
        if (!file) throw new ConfigError("--config", "give the configuration file");
        let config: unknown;
        try {
          config = JSON.parse(await io.readText(file));
        } catch (e) {
          throw new ConfigError(file, `not readable JSON (${e instanceof Error ? e.message : e})`);
        }
        const d = await Daemon.start(io, await loadCore(), config);
        await new Promise<void>((resolve) => io.onShutdown(resolve));
        await d.close();
        return 0;
      }
      case "migrate": {
        const peer = arg(args, "peer");
        const from = arg(args, "from");
        const to = arg(args, "to");
        if (!peer || !from || !to) throw new ConfigError("migrate", "needs --peer, --from and --to");
        const protocols = args.includes("--tcp") ? ["TCP"] : args.includes("--udp") ? ["UDP"] : undefined;
        const port = Number(arg(args, "port") ?? 0);
        const request = { peer, from, to, fromPort: port, toPort: Number(arg(args, "to-port") ?? port), protocols };
        const r = (await io.callControl(socketPath(args), { cmd: "migrate", request })) as any;
        out(r.ok ? r.result : { error: r.error });
        return r.ok && r.result.state === "completed" ? 0 : 1;
      }
      case "register": {
        const peer = arg(args, "peer");
        if (!peer) throw new ConfigError("register", "needs --peer");
        const r = (await io.callControl(socketPath(args), { cmd: "register", peer, lifetime: Number(arg(args, "lifetime") ?? 3600) })) as any;
        out(r);
        return r.ok ? 0 : 1;
      }
      case "state": {
        const r = (await io.callControl(socketPath(args), { cmd: "state" })) as any;
        out(r.ok ? r.state : { error: r.error });
        return r.ok ? 0 : 1;
      }
      case "sessions": {
        const r = (await io.callControl(socketPath(args), { cmd: "sessions" })) as any;
        out(r.ok ? r.sessions : { error: r.error });
        return r.ok ? 0 : 1;
      }
      case "keygen":
        out(hex(io.random(32)));
        return 0;
      case "cookie":
        if (!args[1]) throw new ConfigError("cookie", "give a node name");
        out((await loadCore()).cookieFromName(args[1]));
        return 0;
      case "decode":
        if (!args[1]) throw new ConfigError("decode", "give the message as hex");
        out((await loadCore()).decode(unhex(args[1])));
        return 0;
      case "version":
        out("handover 0.1.0 (protocol version 1, ABI 1)");
        return 0;
      case undefined:
      case "help":
      case "--help":
      case "-h":
        out(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        if (extras[cmd]) return await extras[cmd](args.slice(1));
        console.error(`handover: unknown command '${cmd}'\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof ConfigError || e instanceof HandoverError) {
      console.error(`handover: ${e.message}`);
      return 2;
    }
    console.error(`handover: ${e instanceof Error ? e.stack : e}`);
    return 1;
  }
}
