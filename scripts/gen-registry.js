#!/usr/bin/env node
// Writes every derived copy of core/registry.json, the one source of the
// protocol's numbers:
//   core/assembly/generated/registry.ts   constants and tables for the core
//   hosts/shared/registry.ts               the same for the TypeScript side
//   docs/PROTOCOL.md                        the tables between <!-- registry:NAME --> markers
//   tools/wireshark/handover.lua            the dissector's tables between its registry markers
//
//   node scripts/gen-registry.js           write them
//   node scripts/gen-registry.js --check   exit 1 if any is out of date
import { readFileSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const R = JSON.parse(readFileSync(root + "core/registry.json", "utf8"));
const HEAD = "// GENERATED from core/registry.json by scripts/gen-registry.js. Do not edit.\n";

/** camelCase to SNAKE_CASE. */
const snake = (s) => s.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase();

const RULES = { "1": 1, "?": 2, "+": 3, "*": 4 };
const RULE_WORDS = { "1": "exactly one", "?": "at most one", "+": "one or more", "*": "any number" };
const flagByName = Object.fromEntries(R.flags.map((f) => [f.name, f]));
const extByName = Object.fromEntries(R.extensionTypes.map((e) => [e.name, e]));
const msgByName = Object.fromEntries(R.messageTypes.map((m) => [m.name, m]));

function check() {
  for (const m of R.messageTypes) {
    for (const [e, rule] of Object.entries(m.extensions)) {
      if (!extByName[e]) throw new Error(`${m.name}: unknown extension ${e}`);
      if (!RULES[rule]) throw new Error(`${m.name}: bad rule ${rule}`);
    }
    for (const f of m.flags ?? []) if (!flagByName[f]) throw new Error(`${m.name}: unknown flag ${f}`);
    if (m.reply && !msgByName[m.reply]) throw new Error(`${m.name}: unknown reply ${m.reply}`);
    const last = Object.keys(m.extensions).at(-1);
    if (last !== "AUTH") throw new Error(`${m.name}: AUTH must be listed last`);
  }
  for (const o of R.abi.options) {
    if (!["integer", "boolean"].includes(o.type)) throw new Error(`option ${o.name}: type must be integer or boolean`);
    if (!(o.min <= o.default && o.default <= o.max)) throw new Error(`option ${o.name}: default ${o.default} outside ${o.min}-${o.max}`);
    if (o.type === "boolean" && (o.min !== 0 || o.max !== 1)) throw new Error(`option ${o.name}: a boolean's range is 0-1`);
    if (o.multipleOf && o.default % o.multipleOf) throw new Error(`option ${o.name}: default not a multiple of ${o.multipleOf}`);
  }
}

// ---- AssemblyScript -------------------------------------------------------
function assemblyScript() {
  const L = [HEAD];
  L.push(`export const PROTOCOL_VERSION: u8 = ${R.protocolVersion};`);
  L.push(`export const DEFAULT_PORT: u16 = ${R.defaultPort};`);
  L.push(`export const HEADER_LENGTH: i32 = ${R.headerLength};`);
  L.push(`export const MAX_MESSAGE_LENGTH: i32 = ${R.maxMessageLength};`);
  L.push(`export const FIRST_ASSIGNABLE_SPI: u32 = ${R.firstAssignableSpi};`);
  L.push(`export const DEFAULT_SKEW_MS: f64 = ${R.defaultSkewMs};`);
  const group = (prefix, list, type) => {
    L.push("");
    for (const x of list) L.push(`export const ${prefix}${x.name}: ${type} = ${x.value};`);
  };
  group("MSG_", R.messageTypes, "u8");
  group("FLAG_", R.flags, "u8");
  group("EXT_", R.extensionTypes, "u8");
  group("CODE_", R.replyCodes, "u8");
  group("AUTH_", R.authAlgorithms, "u8");
  group("REPLAY_", R.replayModes, "u8");
  group("WRAP_", R.keyWrapAlgorithms, "u8");
  group("PROTO_", R.protoFlags, "u8");
  group("FAMILY_", R.addressFamilies, "u8");
  group("IPPROTO_", R.ipProtocols, "u8");
  group("OPAQUE_", R.opaqueSubtypes, "u8");
  group("ERR_", R.errors, "i32");

  L.push("", "// ABI numbers (docs/ABI.md)");
  L.push(`export const ABI_VERSION: i32 = ${R.abi.version};`);
  for (const o of R.abi.options) L.push(`export const OPT_${snake(o.name)}: i32 = ${o.value};`);
  L.push("", "/** Option defaults (abi.options). */");
  for (const o of R.abi.options) L.push(`export const DEFAULT_${snake(o.name)}: ${o.type === "boolean" ? "bool" : "f64"} = ${o.type === "boolean" ? String(o.default === 1) : o.default};`);
  L.push("", "/** True if value is in the option's range (abi.options: min, max, multipleOf); false for an unknown option. */");
  L.push("export function optionInRange(id: i32, value: f64): bool {", "  switch (id) {");
  for (const o of R.abi.options) {
    const step = o.multipleOf ? ` && value % ${o.multipleOf} == 0` : "";
    L.push(`    case ${o.value}: return value >= ${o.min} && value <= ${o.max} && value == Math.floor(value)${step};`);
  }
  L.push("  }", "  return false;", "}");
  for (const o of R.abi.outputs) L.push(`export const OUT_${o.name}: u32 = ${o.value};`);
  for (const o of R.abi.meta) L.push(`export const META_${o.name}: i32 = ${o.value};`);
  L.push(`export const META_SIZE: i32 = ${R.abi.metaSize};`);
  L.push("/** NETLINK output aux flag: the host waits for the kernel's acknowledgement (abi.netlinkWaitAck). */");
  L.push(`export const NETLINK_WAIT_ACK: u32 = ${R.abi.netlinkWaitAck};`);
  L.push("/** NETLINK output aux flag: the request is a dump; the host reads until NLMSG_DONE or an error (abi.netlinkDump). */");
  L.push(`export const NETLINK_DUMP: u32 = ${R.abi.netlinkDump};`);

  L.push("", "/** Extension rules: how many of an extension a message type may carry. */");
  L.push("export const RULE_NONE: u8 = 0; // not allowed");
  for (const [sym, v] of Object.entries(RULES)) L.push(`export const RULE_${{ "1": "ONE", "?": "OPTIONAL", "+": "ONE_OR_MORE", "*": "ANY" }[sym]}: u8 = ${v}; // ${RULE_WORDS[sym]}`);

  L.push("", "/** True for a defined message type. */", "export function messageKnown(type: u8): bool {", "  switch (type) {");
  L.push(R.messageTypes.map((m) => `    case ${m.value}:`).join("\n") + " return true;");
  L.push("  }", "  return false;", "}");

  // The routing table: which protocol module owns each message type (messageTypes[].protocol).
  const protocols = [...new Set(R.messageTypes.map((m) => m.protocol))];
  L.push("", "/** Protocols, numbered in the order the message types name them; a module serves one (Node.serve). */");
  protocols.forEach((p, i) => L.push(`export const PROTOCOL_${p}: i32 = ${i + 1};`));
  L.push(`export const PROTOCOL_COUNT: i32 = ${protocols.length};`);
  L.push("", "/** The protocol that owns a message type (routing table, from the registry), or 0 for an undefined type. */", "export function messageProtocol(type: u8): i32 {", "  switch (type) {");
  for (const p of protocols) L.push(R.messageTypes.filter((m) => m.protocol === p).map((m) => `    case ${m.value}:`).join("\n") + ` return PROTOCOL_${p};`);
  L.push("  }", "  return 0;", "}");

  L.push("", "/** True for a reply type (its Flags/Code byte is a Code). */", "export function messageIsReply(type: u8): bool {", "  switch (type) {");
  L.push(R.messageTypes.filter((m) => m.kind === "reply").map((m) => `    case ${m.value}:`).join("\n") + " return true;");
  L.push("  }", "  return false;", "}");

  L.push("", "/** The reply type that answers a request type, or 0. */", "export function replyTypeOf(type: u8): u8 {", "  switch (type) {");
  for (const m of R.messageTypes.filter((m) => m.reply)) L.push(`    case ${m.value}: return ${msgByName[m.reply].value};`);
  L.push("  }", "  return 0;", "}");

  L.push("", "/** Flag bits a request type may set (replies carry a Code instead). */", "export function allowedFlags(type: u8): u8 {", "  switch (type) {");
  for (const m of R.messageTypes.filter((m) => m.kind !== "reply")) {
    const bits = (m.flags ?? []).reduce((a, f) => a | flagByName[f].value, 0);
    L.push(`    case ${m.value}: return ${bits};`);
  }
  L.push("  }", "  return 0;", "}");

  L.push("", "/** How many extensions of type `ext` a message of type `type` may carry (RULE_*). */", "export function extensionRule(type: u8, ext: u8): u8 {", "  switch (type) {");
  for (const m of R.messageTypes) {
    L.push(`    case ${m.value}: switch (ext) {`);
    for (const [e, rule] of Object.entries(m.extensions)) L.push(`      case ${extByName[e].value}: return ${RULES[rule]};`);
    L.push("      default: return 0;", "    }");
  }
  L.push("  }", "  return 0;", "}");

  L.push("", "/** Required extensions of a message type: bit (type - 32) for each type that must appear. */", "export function requiredMask(type: u8): u64 {", "  switch (type) {");
  for (const m of R.messageTypes) {
    let mask = 0n;
    for (const [e, rule] of Object.entries(m.extensions)) {
      if (rule !== "1" && rule !== "+") continue;
      const v = extByName[e].value;
      if (v < 32 || v >= 96) throw new Error(`required extension ${e} outside 32..95`);
      mask |= 1n << BigInt(v - 32);
    }
    L.push(`    case ${m.value}: return 0x${mask.toString(16)};`);
  }
  L.push("  }", "  return 0;", "}");

  L.push("", "/** True for an extension type this version defines. */", "export function extensionKnown(ext: u8): bool {", "  switch (ext) {");
  L.push(R.extensionTypes.map((e) => `    case ${e.value}:`).join("\n") + " return true;");
  L.push("  }", "  return false;", "}");

  L.push("", "/** Authenticator length of an algorithm, or 0 if unknown. */", "export function authTagLength(alg: u8): i32 {", "  switch (alg) {");
  for (const a of R.authAlgorithms) L.push(`    case ${a.value}: return ${a.tagLength};`);
  L.push("  }", "  return 0;", "}");

  const nameOf = (fn, list) => {
    L.push("", `/** The registry name of a value, or "" if it has none. */`, `export function ${fn}(v: u32): string {`, "  switch (v) {");
    for (const x of list) L.push(`    case ${x.value}: return ${JSON.stringify(x.name)};`);
    L.push("  }", `  return "";`, "}");
  };
  nameOf("messageName", R.messageTypes);
  nameOf("extensionName", R.extensionTypes);
  nameOf("codeName", R.replyCodes);
  nameOf("opaqueSubtypeName", R.opaqueSubtypes);
  nameOf("wrapName", R.keyWrapAlgorithms);
  L.push("", "/** The name of flag bit `bit` in a message of type `type`, or \"\". */", "export function flagName(type: u8, bit: u32): string {", "  switch (type) {");
  for (const m of R.messageTypes.filter((m) => (m.flags ?? []).length)) {
    L.push(`    case ${m.value}: switch (bit) {`);
    for (const f of m.flags) L.push(`      case ${flagByName[f].value}: return ${JSON.stringify(f)};`);
    L.push("      default: return \"\";", "    }");
  }
  L.push("  }", "  return \"\";", "}");

  const text = (field) => {
    L.push("", `/** The ${field} of an error code. */`, `export function error${field[0].toUpperCase() + field.slice(1)}(code: i32): string {`, "  switch (code) {");
    for (const e of R.errors) L.push(`    case ${e.value}: return ${JSON.stringify(field === "name" ? e.name : e[field])};`);
    L.push("  }", `  return "unknown error";`, "}");
  };
  text("name");
  text("message");
  text("hint");
  return L.join("\n") + "\n";
}

// ---- TypeScript -------------------------------------------------------------
function typeScript() {
  const L = [HEAD];
  L.push(`export const PROTOCOL_VERSION = ${R.protocolVersion};`);
  L.push(`export const DEFAULT_PORT = ${R.defaultPort};`);
  L.push(`export const HEADER_LENGTH = ${R.headerLength};`);
  L.push(`export const MAX_MESSAGE_LENGTH = ${R.maxMessageLength};`);
  L.push(`export const FIRST_ASSIGNABLE_SPI = ${R.firstAssignableSpi};`);
  L.push(`export const DEFAULT_SKEW_MS = ${R.defaultSkewMs};`);
  const table = (name, list) => {
    L.push("", `export const ${name} = {`);
    for (const x of list) L.push(`  ${x.name}: ${x.value},`);
    L.push("} as const;", `export type ${name} = (typeof ${name})[keyof typeof ${name}];`);
  };
  table("MessageType", R.messageTypes);
  table("Flag", R.flags);
  table("ExtensionType", R.extensionTypes);
  table("ReplyCode", R.replyCodes);
  table("AuthAlgorithm", R.authAlgorithms);
  table("ReplayMode", R.replayModes);
  table("KeyWrap", R.keyWrapAlgorithms);
  table("Proto", R.protoFlags);
  table("Family", R.addressFamilies);
  table("IpProtocol", R.ipProtocols);
  table("OpaqueSubtype", R.opaqueSubtypes);
  table("ErrorCode", R.errors);
  L.push("", "// ABI numbers (docs/ABI.md)");
  L.push(`export const ABI_VERSION = ${R.abi.version};`);
  table("Option", R.abi.options);
  L.push("", "/** Type, default and range of every option of node_option (abi.options). */");
  L.push("export const OPTION_SPECS: Record<keyof typeof Option, { type: \"integer\" | \"boolean\"; default: number; min: number; max: number; multipleOf?: number; meaning: string }> = {");
  for (const o of R.abi.options) {
    const spec = { type: o.type, default: o.default, min: o.min, max: o.max, ...(o.multipleOf ? { multipleOf: o.multipleOf } : {}), meaning: o.meaning };
    L.push(`  ${o.name}: ${JSON.stringify(spec)},`);
  }
  L.push("};");
  table("OutputKind", R.abi.outputs);
  L.push("/** NETLINK output aux flag: wait for the kernel's acknowledgement (abi.netlinkWaitAck). */");
  L.push(`export const NETLINK_WAIT_ACK = ${R.abi.netlinkWaitAck};`);
  L.push("/** NETLINK output aux flag: a dump, read until NLMSG_DONE (abi.netlinkDump). */");
  L.push(`export const NETLINK_DUMP = ${R.abi.netlinkDump};`);
  L.push("", "/** Offsets in the 64-byte block at io_meta_ptr() (little-endian). */", "export const Meta = {");
  for (const o of R.abi.meta) L.push(`  ${o.name}: ${o.value},`);
  L.push("} as const;");
  L.push("", "/** Name, message and hint of every error code the core returns. */");
  L.push("export const ERRORS: Record<number, { name: string; message: string; hint: string }> = {");
  for (const e of R.errors) L.push(`  ${e.value}: ${JSON.stringify({ name: e.name, message: e.message, hint: e.hint })},`);
  L.push("};");
  const names = (fn, list) => {
    L.push("", `export const ${fn}: Record<number, string> = {`);
    for (const x of list) L.push(`  ${x.value}: ${JSON.stringify(x.name)},`);
    L.push("};");
  };
  names("MESSAGE_NAMES", R.messageTypes);
  names("EXTENSION_NAMES", R.extensionTypes);
  names("REPLY_CODE_NAMES", R.replyCodes);
  return L.join("\n") + "\n";
}

// ---- Markdown tables --------------------------------------------------------
const md = {
  messageTypes: () => [
    "| Type | Name | Protocol | Kind | Flags | Summary |",
    "|---:|---|---|---|---|---|",
    ...R.messageTypes.map((m) => `| ${m.value} | ${m.title} (\`${m.name}\`) | ${m.protocol} | ${m.kind}${m.reply ? `, answered by ${msgByName[m.reply].value}` : ""} | ${m.kind === "reply" ? "Code" : (m.flags ?? []).map((f) => `${flagByName[f].letter} (0x${flagByName[f].value.toString(16).padStart(2, "0")})`).join(", ") || "none"} | ${m.summary} |`),
  ],
  messageExtensions: () => {
    const exts = R.extensionTypes;
    const sym = { "1": "1", "?": "0-1", "+": "1+", "*": "0+" };
    return [
      "| Message | " + exts.map((e) => `${e.value}`).join(" | ") + " |",
      "|---|" + exts.map(() => ":-:").join("|") + "|",
      ...R.messageTypes.map((m) => `| ${m.value} ${m.name} | ` + exts.map((e) => sym[m.extensions[e.name]] ?? "").join(" | ") + " |"),
      "",
      "Columns are extension types (see the extension registry). `1` exactly one, `0-1` at most one, `1+` one or more, `0+` any number, empty: not allowed.",
    ];
  },
  flags: () => [
    "| Bit | Letter | Name | Used in | Meaning |",
    "|---|---|---|---|---|",
    ...R.flags.map((f) => `| 0x${f.value.toString(16).padStart(2, "0")} | ${f.letter} | \`${f.name}\` | ${R.messageTypes.filter((m) => (m.flags ?? []).includes(f.name)).map((m) => m.value).join(", ")} | ${f.meaning} |`),
  ],
  extensionTypes: () => [
    "| Type | Name | Skippable | Length (bytes after Length) | Summary |",
    "|---:|---|---|---|---|",
    ...R.extensionTypes.map((e) => `| ${e.value} | ${e.title} (\`${e.name}\`) | ${e.value >= 128 ? "yes" : "no"} | ${e.length} | ${e.summary} |`),
  ],
  replyCodes: () => [
    "| Code | Name | Meaning |",
    "|---:|---|---|",
    ...R.replyCodes.map((c) => `| ${c.value} | \`${c.name}\` | ${c.meaning} |`),
  ],
  authAlgorithms: () => [
    "| Value | Algorithm | Authenticator length | Note |",
    "|---:|---|---:|---|",
    ...R.authAlgorithms.map((a) => `| ${a.value} | ${a.title} | ${a.tagLength} | ${a.note} |`),
  ],
  replayModes: () => ["| Value | Mode | Meaning |", "|---:|---|---|", ...R.replayModes.map((x) => `| ${x.value} | \`${x.name}\` | ${x.meaning} |`)],
  keyWrapAlgorithms: () => ["| Value | Name | Meaning |", "|---:|---|---|", ...R.keyWrapAlgorithms.map((x) => `| ${x.value} | \`${x.name}\` | ${x.meaning} |`)],
  protoFlags: () => ["| Value | Name | Meaning |", "|---:|---|---|", ...R.protoFlags.map((x) => `| 0x${x.value.toString(16).padStart(2, "0")} | \`${x.name}\` | ${x.meaning} |`)],
  addressFamilies: () => ["| Value | Family | Address length |", "|---:|---|---:|", ...R.addressFamilies.map((x) => `| ${x.value} | \`${x.name}\` | ${x.length} |`)],
  opaqueSubtypes: () => ["| Value | Name | Meaning |", "|---:|---|---|", ...R.opaqueSubtypes.map((x) => `| ${x.value} | \`${x.name}\` | ${x.meaning} |`)],
  abiOptions: () => [
    "| Id | Option | Type | Default | Range | Meaning |",
    "|---:|---|---|---:|---|---|",
    ...R.abi.options.map((o) => `| ${o.value} | \`${o.name}\` | ${o.type} | ${o.default} | ${o.type === "boolean" ? "0, 1" : `${o.min}-${o.max}${o.multipleOf ? `, a multiple of ${o.multipleOf}` : ""}`} | ${o.meaning} |`),
  ],
  abiOutputs: () => ["| Kind | Name | What the host does |", "|---:|---|---|", ...R.abi.outputs.map((o) => `| ${o.value} | \`${o.name}\` | ${o.meaning} |`)],
  abiMeta: () => ["| Offset | Size | Field | Meaning |", "|---:|---:|---|---|", ...R.abi.meta.map((o) => `| ${o.value} | ${o.size} | \`${o.name}\` | ${o.meaning} |`)],
  errors: () => [
    "| Code | Name | Meaning | What to do |",
    "|---:|---|---|---|",
    ...R.errors.map((e) => `| ${e.value} | \`${e.name}\` | ${e.message} | ${e.hint} |`),
  ],
};

function markdown(text) {
  return text.replace(/(<!-- registry:(\w+) -->)\n[\s\S]*?(<!-- \/registry -->)/g, (all, open, name, close) => {
    if (!md[name]) throw new Error(`docs/PROTOCOL.md: unknown registry table ${name}`);
    return open + "\n" + md[name]().join("\n") + "\n" + close;
  });
}

// ---- Lua (the Wireshark dissector) ------------------------------------------
// The dissector is one file a user copies into Wireshark's plugin folder, so the
// tables live inside it, between two marker lines that this script rewrites.
const LUA_OPEN = "-- registry:begin";
const LUA_CLOSE = "-- registry:end";

function luaTables() {
  const q = (s) => JSON.stringify(s); // a JSON string is a valid Lua string literal here (ASCII)
  const L = [
    `-- GENERATED from core/registry.json by scripts/gen-registry.js (npm run gen). Do not edit.`,
    "local R = {}",
    `R.protocolVersion = ${R.protocolVersion}`,
    `R.defaultPort = ${R.defaultPort}`,
    `R.headerLength = ${R.headerLength}`,
    `R.maxMessageLength = ${R.maxMessageLength}`,
    `R.firstAssignableSpi = ${R.firstAssignableSpi}`,
    "-- Message types. reply: the type that answers a request. ext: {extension type, rule} in the registry's order;",
    "-- rule 1, ? (at most one), + (one or more), * (any).",
    "R.messageTypes = {",
  ];
  for (const m of R.messageTypes) {
    const flags = (m.flags ?? []).map((f) => `{ value = ${flagByName[f].value}, name = ${q(f)}, letter = ${q(flagByName[f].letter)} }`);
    const ext = Object.entries(m.extensions).map(([e, rule]) => `{ ${extByName[e].value}, ${q(rule)} }`);
    const reply = m.reply ? `, reply = ${msgByName[m.reply].value}` : "";
    L.push(`  [${m.value}] = { name = ${q(m.name)}, title = ${q(m.title)}, protocol = ${q(m.protocol)}, kind = ${q(m.kind)}${reply},`);
    L.push(`    flags = ${flags.length ? `{ ${flags.join(", ")} }` : "{}"},`);
    L.push(`    ext = { ${ext.join(", ")} } },`);
  }
  L.push("}");
  const named = (name, list, fields) => {
    L.push(`R.${name} = {`);
    for (const x of list) L.push(`  [${x.value}] = { ${fields.map((f) => `${f} = ${typeof x[f] === "number" ? x[f] : q(x[f])}`).join(", ")} },`);
    L.push("}");
  };
  named("extensionTypes", R.extensionTypes, ["name", "title"]);
  // Flags are a list: one bit has a different name in different message types.
  L.push("R.flags = {");
  for (const f of R.flags) L.push(`  { value = ${f.value}, name = ${q(f.name)}, letter = ${q(f.letter)} },`);
  L.push("}");
  named("replyCodes", R.replyCodes, ["name"]);
  named("authAlgorithms", R.authAlgorithms, ["name", "title", "tagLength"]);
  named("keyWrapAlgorithms", R.keyWrapAlgorithms, ["name"]);
  named("protoFlags", R.protoFlags, ["name"]);
  named("addressFamilies", R.addressFamilies, ["name", "length"]);
  named("opaqueSubtypes", R.opaqueSubtypes, ["name"]);
  named("errors", R.errors, ["name", "message", "hint"]);
  return L;
}

function lua(text) {
  const at = text.indexOf(LUA_OPEN + "\n"), end = text.indexOf(LUA_CLOSE);
  if (at < 0 || end < at) throw new Error(`tools/wireshark/handover.lua: the lines ${LUA_OPEN} and ${LUA_CLOSE} are missing`);
  return text.slice(0, at + LUA_OPEN.length + 1) + luaTables().join("\n") + "\n" + text.slice(end);
}

check();
const outputs = [
  ["core/assembly/generated/registry.ts", () => assemblyScript()],
  ["hosts/shared/registry.ts", () => typeScript()],
];
for (const doc of ["docs/PROTOCOL.md", "docs/ABI.md"]) {
  if (existsSync(root + doc)) outputs.push([doc, () => markdown(readFileSync(root + doc, "utf8"))]);
}
if (existsSync(root + "tools/wireshark/handover.lua")) {
  outputs.push(["tools/wireshark/handover.lua", () => lua(readFileSync(root + "tools/wireshark/handover.lua", "utf8"))]);
}
const checking = process.argv.includes("--check");
let stale = 0;
for (const [path, make] of outputs) {
  const want = make();
  const have = existsSync(root + path) ? readFileSync(root + path, "utf8") : null;
  if (want === have) continue;
  if (checking) {
    console.error(`${path} is out of date: run npm run gen`);
    stale++;
  } else {
    mkdirSync(dirname(root + path), { recursive: true });
    writeFileSync(root + path, want);
    console.log(`wrote ${path}`);
  }
}
process.exit(stale ? 1 : 0);
