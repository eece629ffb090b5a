// The daemon's configuration: a JSON file (or object), validated with
// messages that say which field is wrong and how to fix it.

import { DEFAULT_PORT } from "./registry.ts";
import { unhex } from "./bytes.ts";
import type { OptionName } from "./engine.ts";

export interface SaSpec {
  spi: number;
  algorithm?: "HMAC_SHA256" | "HMAC_SHA1" | "HMAC_MD5";
  /** 32+ bytes as hex, or "env:NAME", or "file:/path" (hex inside). */
  key: string;
  replay?: "TIMESTAMP" | "NONCE";
  skewMs?: number;
}

export interface PeerSpec {
  /** The peer's node name (its cookie is derived from it), or give `cookie`. */
  name?: string;
  cookie?: string;
  /** The peer's control address and port. */
  address: string;
  port?: number;
  /** Further addresses the peer owns (its sessions may use them). */
  addresses?: string[];
  sa: SaSpec[];
}

export interface Config {
  /** This node's name (its fully qualified domain name); the cookie is derived from it. */
  name: string;
  cookie?: string;
  port?: number;
  /** Addresses to receive control messages on (default 0.0.0.0). */
  listen?: string[];
  peers: PeerSpec[];
  options?: Partial<Record<OptionName, number>>;
  /** Unix socket for the CLI (default /run/handover/<name>.sock). */
  control?: string | false;
  /** false: do not open the kernel interfaces at start (they open on first use). */
  kernel?: boolean;
  /** The NFQUEUE number the hold uses (default 4346). */
  queue?: number;
  /** false: do not watch addresses (migrate only when asked). Default true. */
  auto?: boolean;
  /** false: do not register with the peers at start. Default true. */
  register?: boolean;
  /** Minimum log level: "debug", "info" (default), "warn", "error". */
  log?: "debug" | "info" | "warn" | "error";
}

export class ConfigError extends Error {
  constructor(field: string, problem: string) {
    super(`configuration: ${field}: ${problem}`);
    this.name = "ConfigError";
  }
}

function need(cond: unknown, field: string, problem: string): asserts cond {
  if (!cond) throw new ConfigError(field, problem);
}

const ALGORITHMS = ["HMAC_SHA256", "HMAC_SHA1", "HMAC_MD5"];
const REPLAY = ["TIMESTAMP", "NONCE"];

/** Checks a parsed configuration; throws ConfigError naming the field. */
export function validateConfig(c: unknown): Config {
  need(c && typeof c === "object", "(top)", "expected a JSON object");
  const cfg = c as Config;
  need(typeof cfg.name === "string" && cfg.name.length > 0 && cfg.name.length < 256, "name", "give this node's name, e.g. \"m.example.net\"");
  if (cfg.cookie !== undefined) need(/^[0-9a-f]{12}$/i.test(cfg.cookie), "cookie", "12 hex digits");
  if (cfg.port !== undefined) need(Number.isInteger(cfg.port) && cfg.port > 0 && cfg.port < 65536, "port", "a UDP port, 1-65535");
  need(Array.isArray(cfg.peers), "peers", "a list of peers (may be empty)");
  cfg.peers.forEach((p, i) => {
    const f = `peers[${i}]`;
    need(p && typeof p === "object", f, "expected an object");
    need(typeof p.name === "string" || typeof p.cookie === "string", `${f}.name`, "give the peer's name or its cookie");
    if (p.cookie !== undefined) need(/^[0-9a-f]{12}$/i.test(p.cookie), `${f}.cookie`, "12 hex digits");
    need(typeof p.address === "string", `${f}.address`, "the peer's control address");
    if (p.port !== undefined) need(Number.isInteger(p.port) && p.port > 0 && p.port < 65536, `${f}.port`, "1-65535");
    need(Array.isArray(p.sa) && p.sa.length > 0, `${f}.sa`, "at least one security association {spi, key}");
    p.sa.forEach((s, j) => {
      const g = `${f}.sa[${j}]`;
      need(Number.isInteger(s.spi) && s.spi >= 256 && s.spi <= 0xffffffff, `${g}.spi`, "an integer of 256 or more (0-255 are reserved)");
      need(typeof s.key === "string", `${g}.key`, "hex, env:NAME or file:/path");
      if (s.algorithm !== undefined) need(ALGORITHMS.includes(s.algorithm), `${g}.algorithm`, ALGORITHMS.join(", "));
      if (s.replay !== undefined) need(REPLAY.includes(s.replay), `${g}.replay`, REPLAY.join(" or "));
      if (s.skewMs !== undefined) need(typeof s.skewMs === "number" && s.skewMs >= 0, `${g}.skewMs`, "milliseconds, 0 or more");
    });
  });
  if (cfg.log !== undefined) need(["debug", "info", "warn", "error"].includes(cfg.log), "log", "debug, info, warn or error");
  return cfg;
}

/** Resolves a key given as hex, env:NAME or file:/path; at least 16 bytes. */
export async function resolveKey(spec: string, field: string, readText: (p: string) => Promise<string>, env: (n: string) => string | undefined): Promise<Uint8Array> {
  let text = spec;
  if (spec.startsWith("env:")) {
    const v = env(spec.slice(4));
    need(v !== undefined, field, `environment variable ${spec.slice(4)} is not set`);
    text = v;
  } else if (spec.startsWith("file:")) {
    text = await readText(spec.slice(5));
  }
  text = text.trim();
  need(/^([0-9a-f]{2})+$/i.test(text), field, "the key must be hex (e.g. from `handover keygen`)");
  const key = unhex(text);
  need(key.length >= 16, field, `the key has ${key.length} bytes; use at least 16 (32 recommended)`);
  return key;
}

export function portOf(cfg: Config): number {
  return cfg.port ?? DEFAULT_PORT;
}
