// The daemon's configuration: one schema, which both validates a JSON file
// (or object) and gives the library its TypeScript type (`Config`). Errors
// name the field by its path (`peers[0].sa[0].spi`) and say how to fix it;
// an unknown key is an error, with the nearest known key as a suggestion.

import { DEFAULT_PORT, OPTION_SPECS } from "./registry.ts";
import { unhex } from "./bytes.ts";
import { OPTIONS, type OptionName } from "./engine.ts";

export class ConfigError extends Error {
  /** The field's path, e.g. `peers[0].sa[0].key`. */
  readonly field: string;
  constructor(field: string, problem: string) {
    super(`configuration: ${field}: ${problem}`);
    this.name = "ConfigError";
    this.field = field;
  }
}

/** Something that is allowed but unwise (a weak algorithm, a readable key file). */
export interface ConfigWarning {
  field: string;
  message: string;
}

function need(cond: unknown, field: string, problem: string): asserts cond {
  if (!cond) throw new ConfigError(field, problem);
}

// ---- the schema language: each schema checks a value at a path and returns it typed ----

type Schema<T> = (value: unknown, path: string, warn: (w: ConfigWarning) => void) => T;
interface Optional<T> {
  optional: Schema<T>;
}
type Field = Schema<unknown> | Optional<unknown>;
type Flat<T> = { [K in keyof T]: T[K] } & {};
type Shape<F extends Record<string, Field>> = Flat<
  { [K in keyof F as F[K] extends Optional<unknown> ? never : K]: F[K] extends Schema<infer T> ? T : never } & {
    [K in keyof F as F[K] extends Optional<unknown> ? K : never]?: F[K] extends Optional<infer T> ? T : never;
  }
>;

const optional = <T>(s: Schema<T>): Optional<T> => ({ optional: s });

/** Edit distance with transpositions ("prot" is one step from "port"), for "did you mean". */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** " (did you mean 'log'?)" for the nearest of `known`, if it is near enough. */
export function didYouMean(word: string, known: readonly string[]): string {
  let best = "";
  let bestD = Infinity;
  for (const k of known) {
    // A key that starts with the word ("skew" for "skewMs") is nearer than its distance says.
    const d = distance(word, k) - (k.toLowerCase().startsWith(word.toLowerCase()) ? 1 : 0);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best && bestD <= Math.max(2, Math.floor(best.length / 3)) ? ` (did you mean '${best}'?)` : "";
}

function object<F extends Record<string, Field>>(fields: F, hint: string): Schema<Shape<F>> {
  const known = Object.keys(fields);
  return (v, path, warn) => {
    need(v !== null && typeof v === "object" && !Array.isArray(v), path, `expected an object: ${hint}`);
    const at = (k: string) => (path === "(top)" ? k : `${path}.${k}`);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) {
      // (the message, with its edit distances, only for a key that is wrong: a config of 100,000 peers has 500,000 keys)
      if (!(k in fields)) need(false, at(k), `unknown key${didYouMean(k, known)}; the keys here are ${known.join(", ")}`);
    }
    for (const [k, f] of Object.entries(fields)) {
      const value = (v as Record<string, unknown>)[k];
      if ("optional" in f) {
        if (value !== undefined) out[k] = f.optional(value, at(k), warn);
      } else {
        need(value !== undefined, at(k), `missing: ${hint}`);
        out[k] = f(value, at(k), warn);
      }
    }
    return out as Shape<F>;
  };
}

function list<T>(item: Schema<T>, hint: string, min = 0): Schema<T[]> {
  return (v, path, warn) => {
    need(Array.isArray(v) && v.length >= min, path, hint);
    return v.map((x, i) => item(x, `${path}[${i}]`, warn));
  };
}

function string(hint: string, test: (s: string) => boolean = () => true): Schema<string> {
  return (v, path) => {
    need(typeof v === "string" && test(v), path, hint);
    return v;
  };
}

function integer(min: number, max: number, hint: string): Schema<number> {
  return (v, path) => {
    if (!(typeof v === "number" && Number.isInteger(v) && v >= min && v <= max)) need(false, path, `${hint} (got ${JSON.stringify(v)})`);
    return v;
  };
}

function oneOf<const T extends readonly (string | number | boolean)[]>(values: T): Schema<T[number]> {
  return (v, path) => {
    if (values.includes(v as T[number])) return v as T[number];
    const hint = values.map((x) => JSON.stringify(x)).join(", ");
    need(false, path, `one of ${hint} (got ${JSON.stringify(v)})${typeof v === "string" ? didYouMean(v, values.map(String)) : ""}`);
  };
}

function either<A, B>(a: Schema<A>, b: Schema<B>, hint: string): Schema<A | B> {
  return (v, path, warn) => {
    try {
      return a(v, path, warn);
    } catch {
      try {
        return b(v, path, warn);
      } catch {
        throw new ConfigError(path, hint);
      }
    }
  };
}

function warnIf<T>(s: Schema<T>, bad: (v: T) => string | null): Schema<T> {
  return (v, path, warn) => {
    const out = s(v, path, warn);
    const message = bad(out);
    if (message) warn({ field: path, message });
    return out;
  };
}

// ---- the configuration ----

/**
 * Node names become file names (`/run/handover/<name>.sock`): a DNS-like
 * name, no path separators, no `..`.
 */
export function checkNodeName(name: unknown, field: string): string {
  need(
    typeof name === "string" && /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$/.test(name) && !name.includes(".."),
    field,
    `a node name such as "m.example.net": letters, digits, '.', '-' and '_', no '/' and no '..' (got ${JSON.stringify(name)})`,
  );
  return name;
}

const nodeName: Schema<string> = (v, path) => checkNodeName(v, path);
const cookie = string("12 hex digits (see `handover cookie NAME`)", (s) => /^[0-9a-f]{12}$/i.test(s));
const port = integer(1, 65535, "a UDP port, 1-65535");
const address = string("an IPv4 or IPv6 address, e.g. \"198.18.9.2\" or \"2001:db8::2\"", (s) => /^[0-9a-f.:]+$/i.test(s) && s.length <= 45);
/** A session-address range (PROTOCOL.md 8.18): "first-last" or "prefix/length". */
const addressRange = string("an address range \"198.18.5.10-198.18.5.40\" or a prefix \"2001:db8:5::/64\"", (s) => /^[0-9a-f.:]+(-[0-9a-f.:]+|\/\d{1,3})$/i.test(s) && s.length <= 92);

/** "ADDRESS:PORT" (IPv6 in brackets: "[::1]:9464") to an address and a port. */
export function parseEndpoint(text: string): { address: string; port: number } {
  const m = /^(?:\[([0-9a-f:]+)\]|([0-9.]+)):(\d{1,5})$/i.exec(text);
  if (!m) return { address: "", port: 0 };
  return { address: m[1] ?? m[2], port: Number(m[3]) };
}

function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.");
}

const metricsEndpoint = string(
  "the Prometheus endpoint's \"ADDRESS:PORT\", e.g. \"127.0.0.1:9464\" or \"[::1]:9464\"",
  (s) => {
    const { address: a, port: p } = parseEndpoint(s);
    return a !== "" && p >= 1 && p <= 65535 && (a.includes(":") || a.split(".").every((n) => n !== "" && Number(n) <= 255));
  },
);

const saSchema = object(
  {
    spi: integer(256, 0xffffffff, "an integer of 256 or more (0-255 are reserved), the same on both ends"),
    algorithm: optional(
      warnIf(oneOf(["HMAC_SHA256", "HMAC_SHA1", "HMAC_MD5"] as const), (a) =>
        a === "HMAC_MD5" ? "HMAC_MD5 is weak (collisions are practical); use HMAC_SHA256, the default, on both ends" : null,
      ),
    ),
    key: string("hex (from `handover keygen`), \"env:NAME\" or \"file:/path\""),
    replay: optional(oneOf(["TIMESTAMP", "NONCE"] as const)),
    skewMs: optional(integer(0, 86_400_000, "milliseconds, 0 or more")),
  },
  "a security association {spi, key}",
);

const peerSchema = object(
  {
    name: optional(nodeName),
    cookie: optional(cookie),
    address,
    port: optional(port),
    addresses: optional(list(address, "a list of addresses")),
    pools: optional(list(addressRange, "a list of session-address ranges")),
    sa: list(saSchema, "at least one security association {spi, key}", 1),
  },
  "a peer {name, address, sa}",
);

const OPTION_NAMES = Object.keys(OPTIONS) as OptionName[];
/** What an option accepts, in words: "0 or 1 (default 1)", "an integer 64-4096, a multiple of 64 (default 256)". */
function optionRange(spec: (typeof OPTION_SPECS)[OptionName]): string {
  const range = spec.type === "boolean" ? "0 or 1" : `an integer ${spec.min}-${spec.max}${spec.multipleOf ? `, a multiple of ${spec.multipleOf}` : ""}`;
  return `${range} (default ${spec.default})`;
}
const optionsSchema: Schema<Partial<Record<OptionName, number>>> = (v, path) => {
  need(v !== null && typeof v === "object" && !Array.isArray(v), path, `an object of engine options: ${OPTION_NAMES.join(", ")}`);
  for (const [k, value] of Object.entries(v)) {
    need((OPTION_NAMES as string[]).includes(k), `${path}.${k}`, `unknown option${didYouMean(k, OPTION_NAMES)}; the options are ${OPTION_NAMES.join(", ")}`);
    const spec = OPTION_SPECS[k as OptionName];
    const inRange = typeof value === "number" && Number.isInteger(value) && value >= spec.min && value <= spec.max && (!spec.multipleOf || value % spec.multipleOf === 0);
    need(inRange, `${path}.${k}`, `${optionRange(spec)} (got ${JSON.stringify(value)})`);
  }
  return v as Partial<Record<OptionName, number>>;
};

const sidSchema = object(
  {
    link: string("the home link's interface name, e.g. \"eth0\"", (s) => /^[^/\s]{1,15}$/.test(s)),
    address: address,
    bindings: optional(string("a file path, e.g. \"/var/lib/handover/sid-bindings\"", (s) => s.length > 0)),
    interim: optional(list(address, "a list of Interim Addresses on the home link (per-flow mode, PROTOCOL.md 8.16)")),
    addressPool: optional(list(addressRange, "a list of session-address ranges for the static pool (PROTOCOL.md 8.18)")),
    addressPrefix6: optional(string("an IPv6 /64 for locally generated session addresses, e.g. \"2001:db8:5::/64\"", (s) => /^[0-9a-f:]+\/64$/i.test(s))),
    dhcp: optional(oneOf([true, false] as const)),
    targets: optional(list(string("a peer's name", (s) => s.length > 0), "a list of peer names this node may transfer to (a state connection to each is kept open: PROTOCOL.md 8.12)")),
  },
  "SID's home link {link, address, bindings?, interim?, addressPool?, addressPrefix6?, dhcp?, targets?}: the interface frames go out on, this node's address on it, (an agent) the file its bindings are kept in across restarts, its Interim Address pool (per-flow mode), and the peers it may transfer to",
);

const configSchema = object(
  {
    name: nodeName,
    cookie: optional(cookie),
    port: optional(port),
    listen: optional(list(address, "a list of addresses to bind the control port on, e.g. [\"0.0.0.0\", \"::\"]", 1)),
    peers: list(peerSchema, "a list of peers (may be empty)"),
    options: optional(optionsSchema),
    control: optional(either(string("a Unix socket path", (s) => s.length > 0), oneOf([false] as const), "a Unix socket path, or false")),
    kernel: optional(oneOf([true, false] as const)),
    queue: optional(integer(0, 65535, "an NFQUEUE number, 0-65535")),
    auto: optional(oneOf([true, false] as const)),
    register: optional(oneOf([true, false] as const)),
    log: optional(oneOf(["debug", "info", "warn", "error"] as const)),
    sid: optional(sidSchema),
    metrics: optional(warnIf(metricsEndpoint, (m) =>
      isLoopback(parseEndpoint(m).address) ? null : `the metrics endpoint ${m} is reachable from other hosts and has no authentication; prefer 127.0.0.1 or [::1], or firewall it`,
    )),
  },
  "the node's configuration {name, peers}",
);

/**
 * A node's configuration (docs/USAGE.md): `name`, `peers` and optional
 * `cookie`, `port`, `listen`, `options`, `control`, `kernel`, `queue`,
 * `auto`, `register`, `log`, `metrics`, `sid`.
 */
export type Config = ReturnType<typeof configSchema>;
export type PeerSpec = Config["peers"][number];
export type SaSpec = PeerSpec["sa"][number];

/** Checks a parsed configuration; returns it with the warnings, or throws ConfigError naming the field. */
export function checkConfig(c: unknown): { config: Config; warnings: ConfigWarning[] } {
  const warnings: ConfigWarning[] = [];
  const config = configSchema(c, "(top)", (w) => warnings.push(w));
  config.peers.forEach((p, i) => need(p.name !== undefined || p.cookie !== undefined, `peers[${i}].name`, "give the peer's name or its cookie"));
  (config.sid?.targets ?? []).forEach((n, i) => need(config.peers.some((p) => (p.name ?? p.cookie) === n), `sid.targets[${i}]`, `no peer named ${n} in peers`));
  return { config, warnings };
}

/** Checks a parsed configuration; throws ConfigError naming the field. */
export function validateConfig(c: unknown): Config {
  return checkConfig(c).config;
}

/** What a host tells about a key file. */
export interface KeyFiles {
  readText(path: string): Promise<string>;
  /** The file's permission bits, if the host can tell. */
  fileMode(path: string): Promise<number | undefined>;
  env(name: string): string | undefined;
}

/** Resolves a key given as hex, env:NAME or file:/path; at least 16 bytes. Warns on a key file others can read. */
export async function resolveKey(spec: string, field: string, io: KeyFiles, warn: (w: ConfigWarning) => void = () => {}): Promise<Uint8Array> {
  let text = spec;
  if (spec.startsWith("env:")) {
    const v = io.env(spec.slice(4));
    need(v !== undefined, field, `environment variable ${spec.slice(4)} is not set`);
    text = v;
  } else if (spec.startsWith("file:")) {
    const path = spec.slice(5);
    try {
      text = await io.readText(path);
    } catch (e) {
      const why = (e as { code?: string })?.code ?? (e as Error)?.name ?? String(e);
      throw new ConfigError(field, `cannot read the key file ${path} (${why}); make one with: handover keygen > ${path} && chmod 600 ${path}`);
    }
    const mode = await io.fileMode(path);
    if (mode !== undefined && (mode & 0o007) !== 0) {
      warn({ field, message: `the key file ${path} is accessible to every user (mode ${(mode & 0o777).toString(8).padStart(4, "0")}); run: chmod 600 ${path}` });
    }
  }
  return hexKey(text, field);
}

/** A key given as hex text (what resolveKey reads from a file or the environment, or the configuration's own). */
export function hexKey(spec: string, field: string): Uint8Array {
  const text = spec.trim();
  need(/^([0-9a-f]{2})+$/i.test(text), field, "the key must be hex (e.g. from `handover keygen`)");
  const key = unhex(text);
  need(key.length >= 16, field, `the key has ${key.length} bytes; use at least 16 (32 recommended)`);
  return key;
}

export function portOf(cfg: Config): number {
  return cfg.port ?? DEFAULT_PORT;
}

/** The control socket's path: `control`, or /run/handover/<name>.sock. */
export function controlPath(cfg: Config): string | null {
  return cfg.control === false ? null : cfg.control ?? `/run/handover/${cfg.name}.sock`;
}
