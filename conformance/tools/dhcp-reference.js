// The DHCPv4 codec of docs/PROTOCOL.md 8.19, written from that section and
// RFC 2131/2132 only (not from the core): decodeDhcp (the first error in the
// section's order, as a RefError) and encodeClient; and the "dhcp" suite's
// generator (cases appended at the end keep their tcIds, vectorfile.js).
import { RefError, hex, unhex } from "./reference.js";
import { VectorFile } from "./vectorfile.js";

const TYPES = ["", "discover", "offer", "request", "decline", "ack", "nak", "release", "inform"];
const FIXED = { 53: 1, 52: 1, 1: 4, 50: 4, 51: 4, 54: 4, 58: 4, 59: 4 };
const NAMES = { 1: "mask", 50: "requested", 51: "lease", 54: "serverId", 58: "t1", 59: "t2" };
const ip = (b, o) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
const be32 = (b, o) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
const unicast = (a) => { const t = +a.split(".")[0]; return t !== 0 && t !== 127 && t < 224; };

function field(b, start, end, seen, opts) {
  let i = start;
  while (i < end) {
    const code = b[i];
    if (code === 0) { i++; continue; }
    if (code === 255) return;
    if (i + 2 > end) throw new RefError("DHCP_OPTION_OVERRUN");
    const len = b[i + 1];
    if (i + 2 + len > end) throw new RefError("DHCP_OPTION_OVERRUN");
    const v = b.subarray(i + 2, i + 2 + len);
    if (FIXED[code]) {
      const had = seen[code] ?? 0;
      if (had + len !== FIXED[code]) throw new RefError("DHCP_BAD_OPTION_LENGTH");
      seen[code] = had + len;
      opts[code] = v;
    } else if (code === 3) {
      if (len < 4 || len % 4) throw new RefError("DHCP_BAD_OPTION_LENGTH");
      opts[3] ??= v;
    } else if (code === 61 || code === 55) {
      const joined = [...(opts[code] ?? []), ...v];
      if (joined.length > 255) throw new RefError("DHCP_BAD_OPTION_LENGTH");
      opts[code] = joined;
    }
    i += 2 + len;
  }
  throw new RefError("DHCP_NO_END");
}

/** A DHCP message's fields as the suite writes them, or throws RefError. */
export function decodeDhcp(b) {
  if (b.length < 240) throw new RefError("TRUNCATED");
  const [op, htype, hlen] = b;
  if ((op !== 1 && op !== 2) || hlen > 16 || (htype === 1 && hlen !== 6)) throw new RefError("DHCP_BAD_HEADER");
  if (be32(b, 236) !== 0x63825363) throw new RefError("DHCP_BAD_COOKIE");
  const seen = {}, opts = {};
  field(b, 240, b.length, seen, opts);
  if (opts[52]) {
    const ov = opts[52][0];
    if (ov < 1 || ov > 3) throw new RefError("DHCP_BAD_OVERLOAD");
    if (ov & 1) field(b, 108, 236, seen, opts);
    if (ov & 2) field(b, 44, 108, seen, opts);
  }
  if (!opts[53]) throw new RefError("DHCP_MISSING_TYPE");
  const t = opts[53][0];
  if (t < 1 || t > 8) throw new RefError("DHCP_BAD_TYPE");
  const out = {
    op, htype, hlen, type: TYPES[t], xid: be32(b, 4), secs: (b[8] << 8) | b[9], flags: (b[10] << 8) | b[11],
    ciaddr: ip(b, 12), yiaddr: ip(b, 16), siaddr: ip(b, 20), giaddr: ip(b, 24), chaddr: hex(b.subarray(28, 28 + hlen)),
  };
  for (const [code, name] of Object.entries(NAMES)) if (opts[code]) out[name] = code === "1" || code === "50" || code === "54" ? ip(opts[code], 0) : be32(opts[code], 0);
  if (opts[3]) out.router = ip(opts[3], 0);
  if (opts[61]) out.clientId = hex(Uint8Array.from(opts[61]));
  if (opts[55]) out.params = [...opts[55]];
  if (t === 2 || t === 5) {
    if (!opts[54] || !opts[51]) throw new RefError("DHCP_MISSING_OPTION");
    const lease = out.lease;
    const t1 = out.t1 ?? (lease === 0xffffffff ? lease : Math.floor(lease / 2));
    const t2 = out.t2 ?? (lease === 0xffffffff ? lease : Math.floor((lease * 7) / 8));
    if (!unicast(out.yiaddr) || t1 > t2 || t2 > lease) throw new RefError("DHCP_BAD_LEASE");
  } else if (t === 6 && !opts[54]) throw new RefError("DHCP_MISSING_OPTION");
  return out;
}

/** A client message (8.19 "Messages"), or throws RefError(BAD_VALUE). */
export function encodeClient({ type, xid, secs = 0, broadcast = false, params = false, ciaddr, requested, serverId, chaddr, clientId }) {
  if (![1, 3, 4, 7, 8].includes(type)) throw new RefError("BAD_VALUE");
  const cid = unhex(clientId);
  if (cid.length < 2 || cid.length > 255) throw new RefError("BAD_VALUE");
  const o = [53, 1, type, 61, cid.length, ...cid];
  const a = (s) => s.split(".").map(Number);
  if (requested) o.push(50, 4, ...a(requested));
  if (serverId) o.push(54, 4, ...a(serverId));
  if (params) o.push(55, 5, 1, 3, 51, 58, 59);
  o.push(255);
  const b = new Uint8Array(Math.max(300, 240 + o.length));
  b.set([1, 1, 6, 0, xid >>> 24, (xid >>> 16) & 255, (xid >>> 8) & 255, xid & 255, Math.min(secs, 65535) >> 8, Math.min(secs, 65535) & 255, broadcast ? 0x80 : 0, 0]);
  if (ciaddr) b.set(a(ciaddr), 12);
  b.set(unhex(chaddr), 28);
  b.set([99, 130, 83, 99], 236);
  b.set(o, 240);
  return b;
}

export function dhcpAnswer(suite, group, test) {
  if (suite !== "dhcp") return null;
  const a = { tcId: test.tcId };
  try {
    if (group.operation === "decode") return { ...a, result: "valid", fields: decodeDhcp(unhex(test.message)) };
    if (group.operation === "encode") return { ...a, result: "valid", message: hex(encodeClient(test.fields)) };
  } catch (e) {
    if (e instanceof RefError) return { ...a, result: "invalid", error: e.errorName };
    throw e;
  }
  return null;
}

// ---- the suite -----------------------------------------------------------

const MAC = "02000000f001";
const SERVER = [198, 18, 9, 1];
const u32 = (v) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
/** A server's reply: the fixed header, the cookie, then the option bytes `opts` as given (255 not added). */
function server(type, xid, yiaddr, opts, { op = 2, htype = 1, hlen = 6, cookie = [99, 130, 83, 99], file } = {}) {
  const head = new Uint8Array(240);
  head.set([op, htype, hlen, 0, ...u32(xid)]);
  head.set(yiaddr, 16);
  head.set(unhex(MAC), 28);
  if (file) head.set(file, 108);
  head.set(cookie, 236);
  return Uint8Array.from([...head, ...(type ? [53, 1, type] : []), ...opts]);
}

export function dhcpSuite() {
  const f = new VectorFile({
    suite: "dhcp",
    description:
      "The DHCPv4 codec of section 8.19 (RFC 2131, 2132): decode: any message in, its header fields and the options the client reads out (addresses as text, the client identifier in hex), or the first error of the section's order. encode: a client message's fields in, its bytes out (options 53, 61, 50, 54, 55, 255, zero padding to 300 bytes).",
    source: "conformance/tools/dhcp-reference.js (written from docs/PROTOCOL.md 8.19 and RFC 2131/2132)",
    seed: 0x64686370,
    notes: {
      Typical: { bugType: "FUNCTIONALITY", description: "A message as a server or this client sends it." },
      Defaults: { bugType: "EDGE_CASE", description: "No T1/T2: they default to 1/2 and 7/8 of the lease; an infinite lease." },
      Concatenated: { bugType: "EDGE_CASE", description: "A repeated variable option concatenates (RFC 3396)." },
      Overload: { bugType: "EDGE_CASE", description: "Options continued in the file / sname fields (option 52)." },
      Truncated: { bugType: "MODIFIED_PARAMETER", description: "Shorter than the fixed header and cookie (TRUNCATED)." },
      BadHeader: { bugType: "MODIFIED_PARAMETER", description: "op, htype/hlen invalid (DHCP_BAD_HEADER)." },
      BadCookie: { bugType: "MODIFIED_PARAMETER", description: "Not the magic cookie (DHCP_BAD_COOKIE)." },
      Overrun: { bugType: "MODIFIED_PARAMETER", description: "An option's length past the field (DHCP_OPTION_OVERRUN)." },
      NoEnd: { bugType: "MODIFIED_PARAMETER", description: "No End option (DHCP_NO_END)." },
      BadLength: { bugType: "MODIFIED_PARAMETER", description: "A fixed option of another length, also by repetition (DHCP_BAD_OPTION_LENGTH)." },
      NoType: { bugType: "MODIFIED_PARAMETER", description: "No option 53 (DHCP_MISSING_TYPE) or a value outside 1-8 (DHCP_BAD_TYPE)." },
      BadOverload: { bugType: "MODIFIED_PARAMETER", description: "Option 52 not 1-3 (DHCP_BAD_OVERLOAD)." },
      MissingOption: { bugType: "MODIFIED_PARAMETER", description: "An OFFER/ACK without 54 or 51, a NAK without 54 (DHCP_MISSING_OPTION)." },
      BadLease: { bugType: "MODIFIED_PARAMETER", description: "yiaddr not unicast, T1 > T2, T2 > lease (DHCP_BAD_LEASE)." },
      BadClientField: { bugType: "MODIFIED_PARAMETER", description: "A type a client does not send or a client identifier under 2 bytes (BAD_VALUE)." },
    },
  });
  const dec = f.group({ operation: "decode" });
  const enc = f.group({ operation: "encode" });
  const D = (comment, flags, msg, error) => f.add(dec, () => {
    let got;
    try { got = { fields: decodeDhcp(msg), result: "valid" }; } catch (e) { if (!(e instanceof RefError)) throw e; got = { result: "invalid", error: e.errorName }; }
    if (error && got.error !== error) throw new Error(`dhcp decode ${comment}: reference says ${got.error ?? "valid"}, expected ${error}`);
    return { comment, flags, message: hex(msg), ...got };
  });
  const E = (comment, flags, fields, error) => f.add(enc, () => {
    try { return { comment, flags, fields, message: hex(encodeClient(fields)), result: "valid" }; } catch (e) {
      if (!(e instanceof RefError) || e.errorName !== error) throw e;
      return { comment, flags, fields, result: "invalid", error };
    }
  });
  const Y = [198, 18, 9, 50];
  const common = [54, 4, ...SERVER, 51, 4, ...u32(600)];
  D("OFFER with mask, router (two), T1, T2, echoed client id", ["Typical"], server(2, 0x11223344, Y, [...common, 58, 4, ...u32(300), 59, 4, ...u32(525), 1, 4, 255, 255, 255, 0, 3, 8, ...SERVER, 198, 18, 9, 2, 61, 3, 255, 1, 2, 255]));
  D("ACK without T1/T2: defaults", ["Defaults"], server(5, 7, Y, [...common, 255]));
  D("ACK with an infinite lease", ["Defaults"], server(5, 7, Y, [54, 4, ...SERVER, 51, 4, 255, 255, 255, 255, 255]));
  D("NAK", ["Typical"], server(6, 7, [0, 0, 0, 0], [54, 4, ...SERVER, 255]));
  D("client id split in two instances", ["Concatenated"], server(5, 7, Y, [...common, 61, 2, 255, 1, 61, 2, 3, 4, 255]));
  D("pad options and trailing bytes after End", ["Typical"], server(5, 7, Y, [0, 0, ...common, 255, 9, 9, 9]));
  D("server id and lease in the file field (52 = 1)", ["Overload"], server(2, 7, Y, [52, 1, 1, 255], { file: [...common, 255] }));
  D("239 bytes", ["Truncated"], server(5, 7, Y, []).subarray(0, 239), "TRUNCATED");
  D("op 3", ["BadHeader"], server(5, 7, Y, [...common, 255], { op: 3 }), "DHCP_BAD_HEADER");
  D("Ethernet with hlen 7", ["BadHeader"], server(5, 7, Y, [...common, 255], { hlen: 7 }), "DHCP_BAD_HEADER");
  D("hlen 17", ["BadHeader"], server(5, 7, Y, [...common, 255], { htype: 6, hlen: 17 }), "DHCP_BAD_HEADER");
  D("cookie 99.130.83.98", ["BadCookie"], server(5, 7, Y, [...common, 255], { cookie: [99, 130, 83, 98] }), "DHCP_BAD_COOKIE");
  D("option length past the end", ["Overrun"], server(5, 7, Y, [54, 9, 1, 2]), "DHCP_OPTION_OVERRUN");
  D("option code as the last byte", ["Overrun"], server(5, 7, Y, [...common, 61]), "DHCP_OPTION_OVERRUN");
  D("no End", ["NoEnd"], server(5, 7, Y, [...common]), "DHCP_NO_END");
  D("lease of 2 bytes", ["BadLength"], server(5, 7, Y, [54, 4, ...SERVER, 51, 2, 0, 1, 255]), "DHCP_BAD_OPTION_LENGTH");
  D("server id twice", ["BadLength"], server(5, 7, Y, [...common, 54, 4, 1, 2, 3, 4, 255]), "DHCP_BAD_OPTION_LENGTH");
  D("router of 3 bytes", ["BadLength"], server(5, 7, Y, [...common, 3, 3, 1, 2, 3, 255]), "DHCP_BAD_OPTION_LENGTH");
  D("no option 53", ["NoType"], server(0, 7, Y, [...common, 255]), "DHCP_MISSING_TYPE");
  D("type 9", ["NoType"], server(9, 7, Y, [...common, 255]), "DHCP_BAD_TYPE");
  D("overload 4", ["BadOverload"], server(5, 7, Y, [...common, 52, 1, 4, 255]), "DHCP_BAD_OVERLOAD");
  D("overload 2 with an sname field of zeros: no End there", ["Overload", "NoEnd"], server(5, 7, Y, [...common, 52, 1, 2, 255]), "DHCP_NO_END");
  D("OFFER without a lease time", ["MissingOption"], server(2, 7, Y, [54, 4, ...SERVER, 255]), "DHCP_MISSING_OPTION");
  D("NAK without a server id", ["MissingOption"], server(6, 7, [0, 0, 0, 0], [255]), "DHCP_MISSING_OPTION");
  D("ACK of 0.0.0.0", ["BadLease"], server(5, 7, [0, 0, 0, 0], [...common, 255]), "DHCP_BAD_LEASE");
  D("ACK of 224.0.0.1", ["BadLease"], server(5, 7, [224, 0, 0, 1], [...common, 255]), "DHCP_BAD_LEASE");
  D("T1 after T2", ["BadLease"], server(5, 7, Y, [...common, 58, 4, ...u32(500), 59, 4, ...u32(400), 255]), "DHCP_BAD_LEASE");
  D("T2 after the lease", ["BadLease"], server(5, 7, Y, [...common, 59, 4, ...u32(601), 255]), "DHCP_BAD_LEASE");

  const CID = "ff0102030400030001" + MAC;
  E("DISCOVER", ["Typical"], { type: 1, xid: 0x11223344, secs: 3, broadcast: true, params: true, chaddr: MAC, clientId: CID });
  E("REQUEST, selecting", ["Typical"], { type: 3, xid: 0x11223344, secs: 4, broadcast: true, params: true, requested: "198.18.9.50", serverId: "198.18.9.1", chaddr: MAC, clientId: CID });
  E("REQUEST, renewing", ["Typical"], { type: 3, xid: 9, params: true, ciaddr: "198.18.9.50", chaddr: MAC, clientId: CID });
  E("RELEASE", ["Typical"], { type: 7, xid: 10, ciaddr: "198.18.9.50", serverId: "198.18.9.1", chaddr: MAC, clientId: CID });
  E("DECLINE", ["Typical"], { type: 4, xid: 11, requested: "198.18.9.50", serverId: "198.18.9.1", chaddr: MAC, clientId: CID });
  E("a client does not send OFFER", ["BadClientField"], { type: 2, xid: 1, chaddr: MAC, clientId: CID }, "BAD_VALUE");
  E("client id of 1 byte", ["BadClientField"], { type: 1, xid: 1, chaddr: MAC, clientId: "ff" }, "BAD_VALUE");
  return f;
}
