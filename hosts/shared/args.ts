// Strict command-line parsing for every `handover` command, on Node's
// util.parseArgs (which Deno and Bun provide too): unknown options, missing
// values and values of the wrong kind are usage errors (exit code 2).

import { parseArgs } from "node:util";
import { didYouMean } from "./config.ts";

/** A mistake in the command line: the CLI prints it with a pointer to --help and exits with 2. */
export class UsageError extends Error {
  constructor(readonly command: string, problem: string) {
    super(`${command}: ${problem}`);
    this.name = "UsageError";
  }
}

export interface OptionSpec {
  type: "string" | "boolean";
  /** For --help: what the value is ("N", "FILE"), and what the option does. */
  value?: string;
  help: string;
  required?: boolean;
}

export interface CommandSpec {
  summary: string;
  /** Positional arguments, for --help and their count ("NAME", "HEX"). */
  positionals?: string[];
  options: Record<string, OptionSpec>;
  /** More text for --help. */
  more?: string;
}

export function commandHelp(name: string, spec: CommandSpec): string {
  const pos = (spec.positionals ?? []).map((p) => ` ${p}`).join("");
  const lines = [`usage: handover ${name}${pos}${Object.keys(spec.options).length ? " [options]" : ""}`, "", `  ${spec.summary}`];
  const opts: [string, OptionSpec][] = [...Object.entries(spec.options), ["help", { type: "boolean", help: "this text" }]];
  lines.push("", "options:");
  const left = opts.map(([k, o]) => `  --${k}${o.value ? ` ${o.value}` : ""}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  opts.forEach(([, o], i) => lines.push(`${left[i].padEnd(width)}${o.help}${o.required ? " (required)" : ""}`));
  if (spec.more) lines.push("", spec.more);
  return lines.join("\n");
}

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  help: boolean;
}

/** Parses argv for a command, strictly; throws UsageError. */
export function parseCommand(name: string, spec: CommandSpec, argv: string[]): Parsed {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [k, o] of Object.entries(spec.options)) options[k] = { type: o.type };
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    const unknown = /Unknown option '(-{1,2})([^']+)'/.exec(text);
    if (unknown) {
      throw new UsageError(name, `unknown option '${unknown[1]}${unknown[2]}'${didYouMean(unknown[2], Object.keys(spec.options)).replace(/'([^']+)'\?\)$/, "'--$1'?)")}`);
    }
    throw new UsageError(name, text.replace(/\. To specify a positional argument.*$/s, "").replace(/^TypeError \[[A-Z_]+\]: /, ""));
  }
  const help = parsed.values.help === true;
  if (!help) {
    const want = spec.positionals ?? [];
    if (parsed.positionals.length !== want.length) {
      throw new UsageError(
        name,
        want.length === 0
          ? `unexpected argument '${parsed.positionals[0]}'`
          : parsed.positionals.length < want.length
            ? `give ${want.join(" ")}`
            : `too many arguments (expected ${want.join(" ")})`,
      );
    }
    for (const [k, o] of Object.entries(spec.options)) {
      if (o.required && parsed.values[k] === undefined) throw new UsageError(name, `--${k} ${o.value ?? ""} is required`.replace(/ +is/, " is"));
    }
  }
  return { values: parsed.values as Parsed["values"], positionals: parsed.positionals, help };
}

/** An integer option within [min, max], or undefined if absent; throws UsageError otherwise. */
export function intOption(command: string, values: Parsed["values"], key: string, min: number, max: number, what: string): number | undefined {
  const v = values[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UsageError(command, `--${key} ${JSON.stringify(v)}: ${what}, an integer from ${min} to ${max}`);
  }
  return Number(v);
}
