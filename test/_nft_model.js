// A model of what the kernel holds of the daemon's nftables table
// (stem/nft.ts): batches of `add/delete element`, the quota a set's
// declaration gives its elements, quota objects (tables of earlier versions)
// and `delete table`
// applied as nftables would (a batch is atomic: one that would fail changes
// nothing and reports the errno), and the state shown as the equivalent
// rules, one per element, in the notation of `nft list` rules, so that a test
// reads what a packet would meet. `listing()` prints the wire-side maps the
// way `nft list map` does, with counters; `dump()` answers the netlink dump
// of a map's elements that restore and the sweep read.

const EEXIST = 17;
const ENOENT = 2;

const ELEMENTS = /^(add|delete) element inet handover (\w+) \{ (.*) \}$/;
const QUOTA_SET = /^add set inet handover (\w+) \{ .*; quota over (\d+) bytes; \}$/;
const ELEMENT = /^(.*?)(?: comment "([^"]*)")?(?: : (.*))?$/;

export class NftModel {
  constructor() {
    this.maps = new Map(); // name -> Map(key -> { value, comment })
    this.quotas = new Set();
    /** Sets declared with `quota over B bytes`: name -> B (each element of theirs has its own). */
    this.quotaSets = new Map();
    this.exists = false;
    /** nftables' generation: every committed batch changes it. */
    this.gen = 1;
  }

  /** The answer to NFT_MSG_GETGEN (NFT_MSG_NEWGEN with NFTA_GEN_ID); null for another request. */
  generation(request) {
    const rv = new DataView(request.buffer, request.byteOffset, request.length);
    if (request.length < 20 || rv.getUint16(4, true) !== ((10 << 8) | 16)) return null;
    const id = new Uint8Array(4);
    new DataView(id.buffer).setUint32(0, this.gen);
    return netlinkMessage((10 << 8) | 15, rv.getUint32(8, true), new Uint8Array(4), attr(1, id));
  }

  /** Applies a batch; returns 0 or the errno nftables would report (and then nothing changed). */
  apply(text) {
    if (text.startsWith("list ")) return 0;
    const errno = this.applyBatch(text);
    if (errno === 0) this.gen++;
    return errno;
  }

  applyBatch(text) {
    // Changes are applied as they come and undone in reverse if one fails (a batch is atomic).
    const undo = [];
    const fail = (errno) => {
      for (let i = undo.length - 1; i >= 0; i--) undo[i]();
      return errno;
    };
    for (const line of text.split("\n")) {
      if (!line) continue;
      if (line.startsWith("add table")) {
        const was = this.exists;
        this.exists = true;
        undo.push(() => (this.exists = was));
      } else if (line === "delete table inet handover") {
        const maps = this.maps;
        const quotas = this.quotas;
        const quotaSets = this.quotaSets;
        this.maps = new Map();
        this.quotas = new Set();
        this.quotaSets = new Map();
        undo.push(() => ((this.maps = maps), (this.quotas = quotas), (this.quotaSets = quotaSets)));
      } else if (QUOTA_SET.test(line)) {
        // An existing set keeps the quota it was declared with (nft 1.0.6).
        const [, name, bytes] = QUOTA_SET.exec(line);
        if (!this.quotaSets.has(name)) {
          this.quotaSets.set(name, Number(bytes));
          undo.push(() => this.quotaSets.delete(name));
        }
      } else if (/^flush (set|map) inet handover \w+$/.test(line)) {
        const name = line.split(" ")[4];
        const old = this.maps.get(name);
        this.maps.set(name, new Map());
        undo.push(() => (old ? this.maps.set(name, old) : this.maps.delete(name)));
      } else if (line.startsWith("add quota")) {
        const q = line.split(" ")[4];
        if (!this.quotas.has(q)) {
          this.quotas.add(q);
          undo.push(() => this.quotas.delete(q));
        }
      } else if (line.startsWith("delete quota")) {
        const q = line.split(" ")[4];
        if (!this.quotas.delete(q)) return fail(ENOENT);
        undo.push(() => this.quotas.add(q));
      } else {
        const m = ELEMENTS.exec(line);
        if (!m) continue;
        const [, op, name, list] = m;
        if (!this.maps.has(name)) this.maps.set(name, new Map());
        const map = this.maps.get(name);
        // (no comment or value holds ", ")
        for (const item of list.split(", ")) {
          const [, key, comment, value] = ELEMENT.exec(item);
          const old = map.get(key);
          if (op === "add") {
            if (old && old.value !== value) return fail(EEXIST);
            if (value?.startsWith('"') && !this.quotas.has(value.slice(1, -1))) return fail(ENOENT);
            map.set(key, this.quotaSets.has(name) ? { value, comment, quota: this.quotaSets.get(name), used: 0 } : { value, comment });
            undo.push(() => (old ? map.set(key, old) : map.delete(key)));
          } else {
            if (!map.delete(key)) return fail(ENOENT);
            undo.push(() => map.set(key, old));
          }
        }
      }
    }
    return 0;
  }

  elements(name) {
    return [...(this.maps.get(name) ?? new Map())].map(([key, e]) => ({ key: key.split(" . "), ...e }));
  }

  /** The state as rules: `add rule inet handover <chain> <match> <statement> [counter comment "..."]`. */
  rules() {
    const lines = [];
    const port = (name, key) => this.maps.get(name)?.get(key)?.value;
    for (const f of ["4", "6"]) {
      const ip = f === "4" ? "ip" : "ip6";
      // An element of a set declared with a quota carries its own; one of an objref map names an object.
      const quota = (e) => (e.value ? `quota name ${e.value}` : `quota over ${e.quota ?? "(undeclared)"} bytes used ${e.used ?? 0} bytes`);
      const tail = (e) => (e.comment ? ` counter comment "${e.comment}"` : "");
      // A group's rules run only for a packet whose address is in the group's gate set (stem/nft.ts fixedRules).
      const gate = (set, a) => this.maps.get(set + f)?.has(a) === true;
      for (const e of this.elements("held" + f)) {
        const [p, o, s, op] = e.key;
        if (gate("glo", o)) lines.push(`tag ${ip} saddr ${o} ${ip} daddr ${s} ${p} sport ${op} meta mark set meta mark or 0x10000000`);
      }
      for (const e of this.elements("heldw" + f)) {
        const [p, o, s] = e.key;
        if (gate("glo", o)) lines.push(`tag ${ip} saddr ${o} ${ip} daddr ${s} meta l4proto ${p} meta mark set meta mark or 0x10000000`);
      }
      for (const e of this.elements("lost" + f)) {
        lines.push(`tag ${ip} saddr ${e.key[0]} meta mark set meta mark or 0x20000000 counter comment "hov1 lost"`);
      }
      for (const e of this.elements("lo" + f)) {
        const [p, o, s, op] = e.key;
        const np = port("lop" + f, [p, e.value, s, op].join(" . "));
        if (gate("glo", o)) lines.push(`out ${ip} saddr ${o} ${ip} daddr ${s} ${p} sport ${op} ${ip} saddr set ${e.value}${np ? ` ${p} sport set ${np}` : ""}`);
      }
      for (const e of this.elements("low" + f)) {
        const [p, o, s] = e.key;
        if (gate("glo", o)) lines.push(`out ${ip} saddr ${o} ${ip} daddr ${s} meta l4proto ${p} ${ip} saddr set ${e.value}`);
      }
      for (const e of this.elements("rq" + f)) {
        const [p, o, op] = e.key;
        if (gate("gro", o)) lines.push(`out ${ip} daddr ${o} ${p} dport ${op} ${quota(e)} counter drop`);
      }
      for (const e of this.elements("ro" + f)) {
        const [p, o, op] = e.key;
        const np = port("rop" + f, [p, e.value, op].join(" . "));
        if (gate("gro", o)) lines.push(`out ${ip} daddr ${o} ${p} dport ${op} ${ip} daddr set ${e.value}${np ? ` ${p} dport set ${np}` : ""}`);
      }
      for (const e of this.elements("rqw" + f)) {
        const [p, o] = e.key;
        if (gate("gro", o)) lines.push(`out ${ip} daddr ${o} meta l4proto ${p} ${quota(e)} counter drop`);
      }
      for (const e of this.elements("row" + f)) {
        const [p, o] = e.key;
        if (gate("gro", o)) lines.push(`out ${ip} daddr ${o} meta l4proto ${p} ${ip} daddr set ${e.value}`);
      }
      for (const e of this.elements("ri" + f)) {
        const [p, w, wp] = e.key;
        const np = port("rip" + f, [p, e.value, wp].join(" . "));
        if (gate("gri", w)) lines.push(`in ${ip} saddr ${w} ${p} sport ${wp} ${ip} saddr set ${e.value}${np ? ` ${p} sport set ${np}` : ""}${tail(e)}`);
      }
      for (const e of this.elements("riw" + f)) {
        const [p, w] = e.key;
        if (gate("gri", w)) lines.push(`in ${ip} saddr ${w} meta l4proto ${p} ${ip} saddr set ${e.value}${tail(e)}`);
      }
      for (const e of this.elements("li" + f)) {
        const [p, w, s, wp] = e.key;
        const np = port("lip" + f, [p, e.value, s, wp].join(" . "));
        if (gate("gli", w)) lines.push(`in ${ip} daddr ${w} ${ip} saddr ${s} ${p} dport ${wp} ${ip} daddr set ${e.value}${np ? ` ${p} dport set ${np}` : ""}${tail(e)}`);
      }
      for (const e of this.elements("liw" + f)) {
        const [p, w, s] = e.key;
        if (gate("gli", w)) lines.push(`in ${ip} daddr ${w} ${ip} saddr ${s} meta l4proto ${p} ${ip} daddr set ${e.value}${tail(e)}`);
      }
    }
    return lines.map((l) => `add rule inet handover ${l}\n`).join("");
  }

  /**
   * The kernel's answer to a netlink dump of one set's elements
   * (NFT_MSG_GETSETELEM, what restore and the sweep send), as nf_tables
   * writes it: NEWSETELEM messages of a few elements each, every element
   * with its key (the concatenation's registers), the object it names, its
   * comment as libnftnl user data, and a counter for the wire-side maps;
   * then NLMSG_DONE. No table: an NLMSG_ERROR with ENOENT.
   * `packets(comment, map)` gives each element's count. Null if the request
   * is no such dump.
   */
  dump(request, packets = () => 0, onDump = () => {}, shown = () => true) {
    const rv = new DataView(request.buffer, request.byteOffset, request.length);
    if (request.length < 20 || rv.getUint16(4, true) !== ((10 << 8) | 13)) return null;
    const seq = rv.getUint32(8, true);
    const strings = {};
    for (let at = 20; at + 4 <= request.length; ) {
      const len = rv.getUint16(at, true);
      if (len < 4) break;
      strings[rv.getUint16(at + 2, true)] = new TextDecoder().decode(request.subarray(at + 4, at + len)).replace(/\0.*$/s, "");
      at += (len + 3) & ~3;
    }
    const name = strings[2];
    onDump(name);
    if (!this.exists) return netlinkMessage(2, seq, int32(-ENOENT), new Uint8Array(16));
    const counted = /^(li|liw|ri|riw)[46]$/.test(name);
    const elements = this.elements(name).filter((e) => shown(e.comment ?? "", name)).map((e) => {
      // (the moves journal's marker, type mark: a 32-bit number in host order)
      const key = name === "js" ? new Uint8Array(new Uint32Array([Number(e.key[0])]).buffer) : keyBytes(e.key);
      const parts = [nest(1, attr(1, key))];
      if (e.comment) {
        const c = new TextEncoder().encode(e.comment + "\0");
        parts.push(attr(6, new Uint8Array([0, c.length, ...c])));
      }
      if (e.value?.startsWith('"')) parts.push(attr(9, new TextEncoder().encode(e.value.slice(1, -1) + "\0")));
      if (counted) {
        const n = BigInt(packets(e.comment ?? "", name));
        parts.push(nest(7, attr(1, new TextEncoder().encode("counter\0")), nest(2, attr(1, be64(n * 100n)), attr(2, be64(n)))));
      }
      return nest(1, ...parts);
    });
    const out = [];
    const table = attr(1, new TextEncoder().encode("handover\0"));
    const set = attr(2, new TextEncoder().encode(name + "\0"));
    for (let i = 0; i < elements.length; i += 16) {
      out.push(netlinkMessage((10 << 8) | 12, seq, new Uint8Array([1, 0, 0, 0]), table, set, nest(3, ...elements.slice(i, i + 16))));
    }
    out.push(netlinkMessage(3, seq, int32(0)));
    return concat(out);
  }

  /**
   * `list map inet handover NAME` (or all wire-side maps), as nft prints
   * them; `packets(comment)` gives each element's count.
   */
  listing(packets = () => 0, command = "") {
    const out = ["table inet handover {"];
    const one = /^list map inet handover (\w+)/.exec(command)?.[1];
    for (const name of one ? [one] : ["li4", "liw4", "ri4", "riw4", "li6", "liw6", "ri6", "riw6"]) {
      const els = this.elements(name);
      out.push(`\tmap ${name} {`, "\t\tcounter");
      if (els.length) {
        const items = els.map((e) => {
          const n = packets(e.comment ?? "");
          return `${e.key.join(" . ")} counter packets ${n} bytes ${n * 100}${e.comment ? ` comment "${e.comment}"` : ""} : ${e.value}`;
        });
        out.push(`\t\telements = { ${items.join(",\n\t\t\t     ")} }`);
      }
      out.push("\t}");
    }
    out.push("}");
    return out.join("\n") + "\n";
  }
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const pad = (b) => {
  const out = new Uint8Array((b.length + 3) & ~3);
  out.set(b);
  return out;
};

function attr(type, data) {
  const b = new Uint8Array(4 + data.length);
  new DataView(b.buffer).setUint16(0, 4 + data.length, true);
  new DataView(b.buffer).setUint16(2, type, true);
  b.set(data, 4);
  return pad(b);
}

function nest(type, ...parts) {
  return attr(type | 0x8000, concat(parts));
}

function be64(n) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n);
  return b;
}

function int32(n) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n, true);
  return b;
}

function netlinkMessage(type, seq, ...parts) {
  const body = concat(parts);
  const b = new Uint8Array(16 + body.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, b.length, true);
  v.setUint16(4, type, true);
  v.setUint16(6, 2, true); // NLM_F_MULTI
  v.setUint32(8, seq, true);
  b.set(body, 16);
  return b;
}

/** A key's registers: each part 4-byte aligned, a protocol as its number, a port big-endian. */
function keyBytes(parts) {
  return concat(
    parts.map((x) => {
      if (x === "tcp" || x === "udp") return new Uint8Array([x === "tcp" ? 6 : 17, 0, 0, 0]);
      if (/^\d+$/.test(x)) return new Uint8Array([Number(x) >> 8, Number(x) & 0xff, 0, 0]);
      if (x.includes(":")) return ipv6(x);
      return new Uint8Array(x.split(".").map(Number));
    }),
  );
}

function ipv6(text) {
  const [head, tail] = text.includes("::") ? text.split("::") : [text, null];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const b = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g || "0", 16);
    b[2 * i] = n >> 8;
    b[2 * i + 1] = n & 0xff;
  });
  return b;
}
