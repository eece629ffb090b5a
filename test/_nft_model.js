// A model of what the kernel holds of the daemon's nftables table
// (kernel/nft.ts): batches of `add/delete element`, quotas and `delete table`
// applied as nftables would (a batch is atomic: one that would fail changes
// nothing and reports the errno), and the state shown as the equivalent
// rules, one per element, in the notation of `nft list` rules, so that a test
// reads what a packet would meet. `listing()` prints the wire-side maps the
// way `nft list map` does, with counters (what restore and sweep read).

const EEXIST = 17;
const ENOENT = 2;

const ELEMENTS = /^(add|delete) element inet handover (\w+) \{ (.*) \}$/;
const ELEMENT = /^(.*?)(?: comment "([^"]*)")?(?: : (.*))?$/;

export class NftModel {
  constructor() {
    this.maps = new Map(); // name -> Map(key -> { value, comment })
    this.quotas = new Set();
    this.exists = false;
  }

  /** Applies a batch; returns 0 or the errno nftables would report (and then nothing changed). */
  apply(text) {
    if (text.startsWith("list ")) return 0;
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
        this.maps = new Map();
        this.quotas = new Set();
        undo.push(() => ((this.maps = maps), (this.quotas = quotas)));
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
            map.set(key, { value, comment });
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
      const tail = (e) => (e.comment ? ` counter comment "${e.comment}"` : "");
      for (const e of this.elements("held" + f)) {
        const [p, o, s, op] = e.key;
        lines.push(`tag ${ip} saddr ${o} ${ip} daddr ${s} ${p} sport ${op} meta mark set meta mark or 0x10000000`);
      }
      for (const e of this.elements("heldw" + f)) {
        const [p, o, s] = e.key;
        lines.push(`tag ${ip} saddr ${o} ${ip} daddr ${s} meta l4proto ${p} meta mark set meta mark or 0x10000000`);
      }
      for (const e of this.elements("lost" + f)) {
        lines.push(`tag ${ip} saddr ${e.key[0]} meta mark set meta mark or 0x10000000 counter comment "hov1 lost"`);
      }
      for (const e of this.elements("lo" + f)) {
        const [p, o, s, op] = e.key;
        const np = port("lop" + f, [p, e.value, s, op].join(" . "));
        lines.push(`out ${ip} saddr ${o} ${ip} daddr ${s} ${p} sport ${op} ${ip} saddr set ${e.value}${np ? ` ${p} sport set ${np}` : ""}`);
      }
      for (const e of this.elements("low" + f)) {
        const [p, o, s] = e.key;
        lines.push(`out ${ip} saddr ${o} ${ip} daddr ${s} meta l4proto ${p} ${ip} saddr set ${e.value}`);
      }
      for (const e of this.elements("rq" + f)) {
        const [p, o, op] = e.key;
        lines.push(`out ${ip} daddr ${o} ${p} dport ${op} quota name ${e.value} counter drop`);
      }
      for (const e of this.elements("ro" + f)) {
        const [p, o, op] = e.key;
        const np = port("rop" + f, [p, e.value, op].join(" . "));
        lines.push(`out ${ip} daddr ${o} ${p} dport ${op} ${ip} daddr set ${e.value}${np ? ` ${p} dport set ${np}` : ""}`);
      }
      for (const e of this.elements("rqw" + f)) {
        const [p, o] = e.key;
        lines.push(`out ${ip} daddr ${o} meta l4proto ${p} quota name ${e.value} counter drop`);
      }
      for (const e of this.elements("row" + f)) {
        const [p, o] = e.key;
        lines.push(`out ${ip} daddr ${o} meta l4proto ${p} ${ip} daddr set ${e.value}`);
      }
      for (const e of this.elements("ri" + f)) {
        const [p, w, wp] = e.key;
        const np = port("rip" + f, [p, e.value, wp].join(" . "));
        lines.push(`in ${ip} saddr ${w} ${p} sport ${wp} ${ip} saddr set ${e.value}${np ? ` ${p} sport set ${np}` : ""}${tail(e)}`);
      }
      for (const e of this.elements("riw" + f)) {
        const [p, w] = e.key;
        lines.push(`in ${ip} saddr ${w} meta l4proto ${p} ${ip} saddr set ${e.value}${tail(e)}`);
      }
      for (const e of this.elements("li" + f)) {
        const [p, w, s, wp] = e.key;
        const np = port("lip" + f, [p, e.value, s, wp].join(" . "));
        lines.push(`in ${ip} daddr ${w} ${ip} saddr ${s} ${p} dport ${wp} ${ip} daddr set ${e.value}${np ? ` ${p} dport set ${np}` : ""}${tail(e)}`);
      }
      for (const e of this.elements("liw" + f)) {
        const [p, w, s] = e.key;
        lines.push(`in ${ip} daddr ${w} ${ip} saddr ${s} meta l4proto ${p} ${ip} daddr set ${e.value}${tail(e)}`);
      }
    }
    return lines.map((l) => `add rule inet handover ${l}\n`).join("");
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
