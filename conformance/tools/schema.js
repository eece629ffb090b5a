// A validator for the subset of JSON Schema (draft 2020-12) that
// conformance/schema/vectors.schema.json uses. A keyword outside the subset is
// an error, never silently ignored.
//
//   validate(schema, instance) -> [{ path, message }]   (empty: valid)

const ANNOTATIONS = new Set(["$schema", "$id", "$comment", "title", "description", "$defs", "default", "examples"]);
const SUPPORTED = new Set([
  "$ref", "type", "const", "enum",
  "properties", "required", "additionalProperties",
  "items", "prefixItems", "minItems", "maxItems", "uniqueItems",
  "minimum", "maximum", "multipleOf",
  "minLength", "maxLength", "pattern",
  "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
]);

export function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
}

function typeOf(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v; // string, boolean, object
}
const isType = (v, t) => t === typeOf(v) || (t === "number" && typeOf(v) === "integer");

function resolveRef(root, ref) {
  if (!ref.startsWith("#")) throw new Error(`schema: only local $ref is supported: ${ref}`);
  let node = root;
  for (const raw of ref.slice(1).split("/").filter(Boolean)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (node === undefined || !(key in node)) throw new Error(`schema: $ref ${ref} does not resolve`);
    node = node[key];
  }
  return node;
}

const regexCache = new Map();
function regex(p) {
  let r = regexCache.get(p);
  if (!r) regexCache.set(p, (r = new RegExp(p, "u")));
  return r;
}
const show = (v) => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + "..." : s;
};

export function validate(schema, instance, root = schema, path = "") {
  const errors = [];
  const err = (message, at = path) => errors.push({ path: at || "/", message });
  if (schema === true) return errors;
  if (schema === false) {
    err("no value is allowed here");
    return errors;
  }
  for (const k of Object.keys(schema)) {
    if (!SUPPORTED.has(k) && !ANNOTATIONS.has(k)) throw new Error(`schema: unsupported keyword '${k}' at ${path || "/"}`);
  }
  const sub = (s, v, p = path) => validate(s, v, root, p);

  if ("$ref" in schema) errors.push(...sub(resolveRef(root, schema.$ref), instance));
  if ("type" in schema) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => isType(instance, t))) {
      err(`expected ${types.join(" or ")}, got ${typeOf(instance)}`);
      return errors; // the rest would only repeat it
    }
  }
  if ("const" in schema && !deepEqual(instance, schema.const)) err(`expected ${show(schema.const)}, got ${show(instance)}`);
  if ("enum" in schema && !schema.enum.some((e) => deepEqual(e, instance))) err(`${show(instance)} is not one of ${show(schema.enum)}`);

  if (typeOf(instance) === "object") {
    for (const r of schema.required ?? []) if (!(r in instance)) err(`missing property '${r}'`);
    const props = schema.properties ?? {};
    for (const [k, v] of Object.entries(instance)) {
      const p = `${path}/${k}`;
      if (k in props) errors.push(...sub(props[k], v, p));
      else if ("additionalProperties" in schema) {
        if (schema.additionalProperties === false) err(`property '${k}' is not allowed`, p);
        else errors.push(...sub(schema.additionalProperties, v, p));
      }
    }
  }
  if (typeOf(instance) === "array") {
    const prefix = schema.prefixItems ?? [];
    instance.forEach((v, i) => {
      const p = `${path}/${i}`;
      if (i < prefix.length) errors.push(...sub(prefix[i], v, p));
      else if ("items" in schema) {
        if (schema.items === false) err(`no item is allowed at index ${i}`, p);
        else errors.push(...sub(schema.items, v, p));
      }
    });
    if ("minItems" in schema && instance.length < schema.minItems) err(`fewer than ${schema.minItems} items`);
    if ("maxItems" in schema && instance.length > schema.maxItems) err(`more than ${schema.maxItems} items`);
    if (schema.uniqueItems) {
      for (let i = 0; i < instance.length; i++) {
        for (let j = i + 1; j < instance.length; j++) if (deepEqual(instance[i], instance[j])) err(`items ${i} and ${j} are equal`);
      }
    }
  }
  if (typeof instance === "number") {
    if ("minimum" in schema && instance < schema.minimum) err(`${instance} < ${schema.minimum}`);
    if ("maximum" in schema && instance > schema.maximum) err(`${instance} > ${schema.maximum}`);
    if ("multipleOf" in schema && instance % schema.multipleOf !== 0) err(`${instance} is not a multiple of ${schema.multipleOf}`);
  }
  if (typeof instance === "string") {
    const n = [...instance].length;
    if ("minLength" in schema && n < schema.minLength) err(`shorter than ${schema.minLength}`);
    if ("maxLength" in schema && n > schema.maxLength) err(`longer than ${schema.maxLength}`);
    if ("pattern" in schema && !regex(schema.pattern).test(instance)) err(`${show(instance)} does not match ${schema.pattern}`);
  }

  for (const s of schema.allOf ?? []) errors.push(...sub(s, instance));
  if (schema.anyOf) {
    const results = schema.anyOf.map((s) => sub(s, instance));
    if (!results.some((r) => r.length === 0)) {
      err(`matches none of anyOf's ${results.length} schemas`);
      errors.push(...closest(results));
    }
  }
  if (schema.oneOf) {
    const results = schema.oneOf.map((s) => sub(s, instance));
    const ok = results.filter((r) => r.length === 0).length;
    if (ok === 0) {
      err(`matches none of oneOf's ${results.length} schemas`);
      errors.push(...closest(results));
    } else if (ok > 1) err(`matches ${ok} of oneOf's schemas, not exactly one`);
  }
  if ("not" in schema && sub(schema.not, instance).length === 0) err(`must not match ${show(schema.not)}`);
  if ("if" in schema) {
    if (sub(schema.if, instance).length === 0) {
      if ("then" in schema) errors.push(...sub(schema.then, instance));
    } else if ("else" in schema) errors.push(...sub(schema.else, instance));
  }
  return errors;
}

/** The errors of the alternative that came closest (fewest errors), to explain a failed anyOf/oneOf. */
function closest(results) {
  return results.reduce((best, r) => (best === null || r.length < best.length ? r : best), null) ?? [];
}
