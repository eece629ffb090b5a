// Reading the daemon's nft maps back as a netlink dump (NFT_MSG_GETSETELEM),
// not as `nft list` text: what a restart and the idle sweep read
// (stem/lifecycle.ts, stem/table.ts). The kernel streams the elements in
// messages of a few KiB; the host hands them over in pieces that end at a
// message's end (hosts/shared/engine.ts), so each piece is parsed alone and
// nothing assumes one buffer. Per element: its key's bytes, its comment
// (libnftnl's user data, TLV type 0), the object it names (objref maps) and
// the packet count of its counter; every element is counted, so that a
// restart can tell whether the kernel holds exactly what the moves it took
// over want.
// (linux/netfilter/nf_tables.h, libnftnl's udata.h)

import { NLM_F_REQUEST, NLM_F_DUMP, NLA_F_NESTED, NLM_F_ACK, NLM_F_CREATE } from "./linux";

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_GETSETELEM: u16 = 13;
const NFPROTO_INET: u8 = 1;

const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_SET_ELEM_USERDATA: u16 = 6;
const NFTA_SET_ELEM_OBJREF: u16 = 9; // (8 is NFTA_SET_ELEM_PAD)
const NFTA_SET_ELEM_EXPR: u16 = 7;
const NFTA_SET_ELEM_EXPRESSIONS: u16 = 11; // (10 is NFTA_SET_ELEM_KEY_END)
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_COUNTER_PACKETS: u16 = 2;
const NFTNL_UDATA_SET_ELEM_COMMENT: u8 = 0;

const TYPE_MASK: u16 = ~NLA_F_NESTED & 0x3fff;

let seq: u32 = 0x6e00;

/** One element of a dump, as handed to a sink (valid during element() only; lengths 0: absent). */
export class Dumped {
  /** The key's bytes (NFTA_DATA_VALUE: the concatenation's registers, 4-byte aligned). */
  key: usize = 0;
  keyLen: i32 = 0;
  comment: usize = 0;
  commentLen: i32 = 0;
  /** The object an objref map's element names (a quota's name), without its NUL. */
  objref: usize = 0;
  objrefLen: i32 = 0;
  packets: u64 = 0;
  /** The bytes the element's own quota counted (NFTA_QUOTA_CONSUMED); -1: it has none. */
  quotaUsed: i64 = -1;
}

/** What a dump's elements are handed to, one by one. */
export class ElementSink {
  /** Elements seen (in every piece so far). */
  count: i32 = 0;
  /** Messages or attributes that did not parse (skipped, never trapped on). */
  malformed: i32 = 0;
  element(e: Dumped): void {}
}

const current = new Dumped();

/** A string attribute's length without its terminating NUL. */
function stringLen(p: usize, n: i32): i32 {
  return n > 0 && load<u8>(p + <usize>n - 1) == 0 ? n - 1 : n;
}

function putAttrString(p: usize, type: u16, s: string): i32 {
  const len = 4 + s.length + 1;
  store<u16>(p, <u16>len);
  store<u16>(p + 2, type);
  for (let i = 0; i < s.length; i++) store<u8>(p + 4 + <usize>i, <u8>s.charCodeAt(i));
  store<u8>(p + 4 + <usize>s.length, 0);
  const padded = (len + 3) & ~3;
  for (let i = len; i < padded; i++) store<u8>(p + <usize>i, 0);
  return padded;
}

/** An nftables request naming set or map `name` of table `inet handover` (attributes 1 and 2: table, set). */
function setNamed(type: u16, flags: u16, name: string): StaticArray<u8> {
  const a = new StaticArray<u8>(20 + 16 + ((4 + name.length + 1 + 3) & ~3));
  const p = changetype<usize>(a);
  store<u16>(p + 4, (NFNL_SUBSYS_NFTABLES << 8) | type);
  store<u16>(p + 6, flags);
  store<u32>(p + 8, seq++);
  store<u32>(p + 12, 0);
  store<u8>(p + 16, NFPROTO_INET);
  store<u8>(p + 17, 0); // NFNETLINK_V0
  store<u16>(p + 18, 0);
  let off: i32 = 20;
  off += putAttrString(p + <usize>off, NFTA_SET_ELEM_LIST_TABLE, "handover"); // = NFTA_SET_TABLE
  off += putAttrString(p + <usize>off, NFTA_SET_ELEM_LIST_SET, name); // = NFTA_SET_NAME
  store<u32>(p, <u32>off);
  return a;
}

/** The request that dumps every element of set or map `name` of table `inet handover`. */
export function setElementsDump(name: string): StaticArray<u8> {
  return setNamed(NFT_MSG_GETSETELEM, NLM_F_REQUEST | NLM_F_DUMP, name);
}

/**
 * The first u32 attribute `attr` of the first message of type `type`
 * (nftables subsystem) among the messages at [p, p+n); -1 if none (never traps).
 */
function firstU32(p: usize, n: i32, type: u16, attr: u16): i64 {
  const end = p + <usize>n;
  for (let m = p; m + 16 <= end; ) {
    const len = <usize>load<u32>(m);
    if (len < 16 || m + len > end) return -1;
    if (load<u16>(m + 4) == ((NFNL_SUBSYS_NFTABLES << 8) | type)) {
      for (let a = m + 20; a + 4 <= m + len; ) {
        const alen = <usize>load<u16>(a);
        if (alen < 4 || a + alen > m + len) break;
        if ((load<u16>(a + 2) & TYPE_MASK) == attr && alen >= 8) return <i64>bswap<u32>(load<u32>(a + 4));
        a += (alen + 3) & ~3;
      }
    }
    m += (len + 3) & ~3;
  }
  return -1;
}

const NFT_MSG_NEWSET: u16 = 9;
const NFT_MSG_GETSET: u16 = 10;
const NFTA_SET_FLAGS: u16 = 3;
/** NFT_SET_MAP | NFT_SET_OBJECT: a map, or an objref map (of named objects). */
export const NFT_SET_MAP_OR_OBJECT: u32 = 0x08 | 0x40;

/** The request for the declaration of set or map `name` of table `inet handover` (NFT_MSG_GETSET). */
export function setRequest(name: string): StaticArray<u8> {
  return setNamed(NFT_MSG_GETSET, NLM_F_REQUEST, name);
}

/** The flags (NFTA_SET_FLAGS) of an NFT_MSG_NEWSET reply among the messages at [p, p+n); -1 if none (never traps). */
export function parseSetFlags(p: usize, n: i32): i64 {
  return firstU32(p, n, NFT_MSG_NEWSET, NFTA_SET_FLAGS);
}

const NFTA_QUOTA_BYTES: u16 = 1;
const NFTA_QUOTA_FLAGS: u16 = 2;
const NFTA_QUOTA_CONSUMED: u16 = 4;

/** A quota expression's consumed bytes, from its attributes at [p, end) (NFTA_EXPR_NAME, NFTA_EXPR_DATA); -1 if it is none. */
function quotaConsumed(p: usize, end: usize): i64 {
  let isQuota = false;
  let data: usize = 0;
  let dataEnd: usize = 0;
  while (p + 4 <= end) {
    const len = <usize>load<u16>(p);
    if (len < 4 || p + len > end) return -1;
    const type = load<u16>(p + 2) & TYPE_MASK;
    if (type == NFTA_EXPR_NAME) isQuota = len >= 10 && load<u32>(p + 4) == 0x746f7571 && load<u8>(p + 8) == 0x61; // "quot", "a"
    else if (type == NFTA_EXPR_DATA) {
      data = p + 4;
      dataEnd = p + len;
    }
    p += (len + 3) & ~3;
  }
  return isQuota ? quotaAttrsConsumed(data, dataEnd) : -1;
}

/** NFTA_QUOTA_CONSUMED among a quota's attributes at [q, end); 0 if absent. */
function quotaAttrsConsumed(q: usize, end: usize): i64 {
  while (q + 4 <= end) {
    const len = <usize>load<u16>(q);
    if (len < 4 || q + len > end) break;
    if ((load<u16>(q + 2) & TYPE_MASK) == NFTA_QUOTA_CONSUMED && len >= 12) return <i64>(bswap<u64>(load<u64>(q + 4)) & 0x7fffffffffffffff);
    q += (len + 3) & ~3;
  }
  return 0;
}

const NFT_MSG_NEWOBJ: u16 = 18;
const NFT_MSG_GETOBJ: u16 = 19;
const NFT_OBJECT_QUOTA: u32 = 2;

/** The request that dumps the named quota objects of table `inet handover` (an earlier version's, NFT_MSG_GETOBJ). */
export function quotaObjectsDump(): StaticArray<u8> {
  const a = new StaticArray<u8>(20 + 16 + 8);
  const p = changetype<usize>(a);
  store<u16>(p + 4, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETOBJ);
  store<u16>(p + 6, NLM_F_REQUEST | NLM_F_DUMP);
  store<u32>(p + 8, seq++);
  store<u32>(p + 12, 0);
  store<u8>(p + 16, NFPROTO_INET);
  store<u8>(p + 17, 0);
  store<u16>(p + 18, 0);
  let off: i32 = 20;
  off += putAttrString(p + <usize>off, 1, "handover"); // NFTA_OBJ_TABLE
  store<u16>(p + <usize>off, 8);
  store<u16>(p + <usize>off + 2, 3); // NFTA_OBJ_TYPE
  store<u32>(p + <usize>off + 4, bswap<u32>(NFT_OBJECT_QUOTA));
  off += 8;
  store<u32>(p, <u32>off);
  return a;
}

/** Each quota object's name and consumed bytes, from NFT_MSG_NEWOBJ messages at [p, p+n) (never traps). */
export function parseQuotaObjects(p: usize, n: i32, out: Map<string, i64>): void {
  const end = p + <usize>n;
  for (let m = p; m + 16 <= end; ) {
    const len = <usize>load<u32>(m);
    if (len < 16 || m + len > end) return;
    if (load<u16>(m + 4) == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWOBJ)) {
      let name: string | null = null;
      let used: i64 = -1;
      for (let a = m + 20; a + 4 <= m + len; ) {
        const alen = <usize>load<u16>(a);
        if (alen < 4 || a + alen > m + len) break;
        const t = load<u16>(a + 2) & TYPE_MASK;
        if (t == 2 && alen > 4 && alen <= 4 + 64) name = String.UTF8.decodeUnsafe(a + 4, <usize>stringLen(a + 4, <i32>(alen - 4)));
        else if (t == 4) used = quotaAttrsConsumed(a + 4, a + alen);
        a += (alen + 3) & ~3;
      }
      if (name != null && used >= 0) out.set(name!, used);
    }
    m += (len + 3) & ~3;
  }
}

/** A quota element to put back with what it counted: its set (with digit), key bytes (as dumped), the bytes used. */
export class QuotaElement {
  set: string = "";
  key: StaticArray<u8> = new StaticArray<u8>(0);
  used: i64 = 0;
}

let at: usize = 0;

/** Starts a netlink message with its nfgenmsg at `at`; returns where it starts (its length is stored at its end). */
function bmsg(type: u16, flags: u16, family: u8, resId: u16): usize {
  const start = at;
  store<u16>(start + 4, type);
  store<u16>(start + 6, flags);
  store<u32>(start + 8, seq++);
  store<u32>(start + 12, 0);
  store<u8>(start + 16, family);
  store<u8>(start + 17, 0);
  store<u16>(start + 18, bswap<u16>(resId));
  at = start + 20;
  return start;
}

/**
 * An nf_tables batch (one transaction) that replaces each element by one
 * whose quota (`over quotaBytes`, the set's) has counted `used` bytes
 * already: nft 1.0.6 takes no `quota` statement in `add element`, the
 * kernel takes NFTA_QUOTA_CONSUMED in the element's expression.
 */
export function quotaElementsBatch(items: Array<QuotaElement>, quotaBytes: u64): StaticArray<u8> {
  let cap = 64;
  for (let i = 0; i < items.length; i++) cap += 2 * (96 + items[i].set.length + items[i].key.length) + 64;
  const a = new StaticArray<u8>(cap);
  const base = changetype<usize>(a);
  at = base;
  for (let i = 0; i < 2 * items.length + 2; i++) {
    if (i == 0 || i == 2 * items.length + 1) {
      const m = bmsg(i == 0 ? 0x10 : 0x11, NLM_F_REQUEST, 0, NFNL_SUBSYS_NFTABLES); // NFNL_MSG_BATCH_BEGIN / END
      store<u32>(m, <u32>(at - m));
      continue;
    }
    const it = items[(i - 1) >> 1];
    const add = ((i - 1) & 1) == 1;
    const m = bmsg((NFNL_SUBSYS_NFTABLES << 8) | (add ? NFT_MSG_NEWSETELEM : 14), NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE : 0), NFPROTO_INET, 0);
    at += <usize>putAttrString(at, NFTA_SET_ELEM_LIST_TABLE, "handover");
    at += <usize>putAttrString(at, NFTA_SET_ELEM_LIST_SET, it.set);
    const list = at;
    store<u16>(list + 2, NFTA_SET_ELEM_LIST_ELEMENTS | NLA_F_NESTED);
    at += 4;
    const el = at;
    store<u16>(el + 2, NFTA_LIST_ELEM | NLA_F_NESTED);
    at += 4;
    const k = at;
    store<u16>(k + 2, NFTA_SET_ELEM_KEY | NLA_F_NESTED);
    at += 4;
    store<u16>(at, <u16>(4 + it.key.length));
    store<u16>(at + 2, NFTA_DATA_VALUE);
    memory.copy(at + 4, changetype<usize>(it.key), <usize>it.key.length);
    at += (4 + <usize>it.key.length + 3) & ~3;
    store<u16>(k, <u16>(at - k));
    if (add) {
      const xs = at;
      store<u16>(xs + 2, NFTA_SET_ELEM_EXPRESSIONS | NLA_F_NESTED);
      at += 4;
      const x = at;
      store<u16>(x + 2, NFTA_LIST_ELEM | NLA_F_NESTED);
      at += 4;
      at += <usize>putAttrString(at, NFTA_EXPR_NAME, "quota");
      const d = at;
      store<u16>(d + 2, NFTA_EXPR_DATA | NLA_F_NESTED);
      at += 4;
      store<u16>(at, 12);
      store<u16>(at + 2, NFTA_QUOTA_BYTES);
      store<u64>(at + 4, bswap<u64>(quotaBytes));
      at += 12;
      store<u16>(at, 8);
      store<u16>(at + 2, NFTA_QUOTA_FLAGS);
      store<u32>(at + 4, bswap<u32>(1)); // NFT_QUOTA_F_INV: "over"
      at += 8;
      const used = <u64>(it.used < 0 ? 0 : it.used);
      store<u16>(at, 12);
      store<u16>(at + 2, NFTA_QUOTA_CONSUMED);
      store<u64>(at + 4, bswap<u64>(used < quotaBytes ? used : quotaBytes));
      at += 12;
      store<u16>(d, <u16>(at - d));
      store<u16>(x, <u16>(at - x));
      store<u16>(xs, <u16>(at - xs));
    }
    store<u16>(el, <u16>(at - el));
    store<u16>(list, <u16>(at - list));
    store<u32>(m, <u32>(at - m));
  }
  const n = <i32>(at - base);
  const out = new StaticArray<u8>(n);
  memory.copy(changetype<usize>(out), base, <usize>n);
  return out;
}

/** A quota expression's limit (NFTA_QUOTA_BYTES), from its attributes at [p, end); -1 if it is none. */
function quotaLimit(p: usize, end: usize): i64 {
  let isQuota = false;
  let data: usize = 0;
  let dataEnd: usize = 0;
  while (p + 4 <= end) {
    const len = <usize>load<u16>(p);
    if (len < 4 || p + len > end) return -1;
    const type = load<u16>(p + 2) & TYPE_MASK;
    if (type == NFTA_EXPR_NAME) isQuota = len >= 10 && load<u32>(p + 4) == 0x746f7571 && load<u8>(p + 8) == 0x61; // "quota"
    else if (type == NFTA_EXPR_DATA) {
      data = p + 4;
      dataEnd = p + len;
    }
    p += (len + 3) & ~3;
  }
  if (!isQuota) return -1;
  for (let q = data; q + 4 <= dataEnd; ) {
    const len = <usize>load<u16>(q);
    if (len < 4 || q + len > dataEnd) break;
    if ((load<u16>(q + 2) & TYPE_MASK) == NFTA_QUOTA_BYTES && len >= 12) return <i64>(bswap<u64>(load<u64>(q + 4)) & 0x7fffffffffffffff);
    q += (len + 3) & ~3;
  }
  return -1;
}

/** The quota a set's declaration gives its elements (NFTA_SET_EXPR 17 / NFTA_SET_EXPRESSIONS 18 of an NFT_MSG_NEWSET reply at [p, p+n)); -1 if none (never traps). */
export function parseSetQuota(p: usize, n: i32): i64 {
  const end = p + <usize>n;
  for (let m = p; m + 16 <= end; ) {
    const len = <usize>load<u32>(m);
    if (len < 16 || m + len > end) return -1;
    if (load<u16>(m + 4) == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSET)) {
      for (let a = m + 20; a + 4 <= m + len; ) {
        const alen = <usize>load<u16>(a);
        if (alen < 4 || a + alen > m + len) break;
        const t = load<u16>(a + 2) & TYPE_MASK;
        if (t == 17) {
          const q = quotaLimit(a + 4, a + alen);
          if (q >= 0) return q;
        } else if (t == 18) {
          for (let x = a + 4; x + 4 <= a + alen; ) {
            const xl = <usize>load<u16>(x);
            if (xl < 4 || x + xl > a + alen) break;
            const q = quotaLimit(x + 4, x + xl);
            if (q >= 0) return q;
            x += (xl + 3) & ~3;
          }
        }
        a += (alen + 3) & ~3;
      }
    }
    m += (len + 3) & ~3;
  }
  return -1;
}

/** The packet count in a counter expression's attributes at [p, end), or 0. */
function counterPackets(p: usize, end: usize, sink: ElementSink): u64 {
  let isCounter = false;
  let data: usize = 0;
  let dataEnd: usize = 0;
  while (p + 4 <= end) {
    const len = <usize>load<u16>(p);
    const type = load<u16>(p + 2) & TYPE_MASK;
    if (len < 4 || p + len > end) {
      sink.malformed++;
      return 0;
    }
    if (type == NFTA_EXPR_NAME) isCounter = len >= 11 && load<u32>(p + 4) == 0x6e756f63 && load<u32>(p + 7) == 0x7265746e; // "coun", "nter"
    else if (type == NFTA_EXPR_DATA) {
      data = p + 4;
      dataEnd = p + len;
    }
    p += (len + 3) & ~3;
  }
  if (!isCounter) return 0;
  for (let q = data; q + 4 <= dataEnd; ) {
    const len = <usize>load<u16>(q);
    if (len < 4 || q + len > dataEnd) break;
    if ((load<u16>(q + 2) & TYPE_MASK) == NFTA_COUNTER_PACKETS && len >= 12) return bswap<u64>(load<u64>(q + 4));
    q += (len + 3) & ~3;
  }
  return 0;
}

/** One NFTA_LIST_ELEM's attributes at [p, end). */
function element(p: usize, end: usize, sink: ElementSink): void {
  const e = current;
  e.key = 0;
  e.keyLen = 0;
  e.comment = 0;
  e.commentLen = 0;
  e.objref = 0;
  e.objrefLen = 0;
  e.packets = 0;
  e.quotaUsed = -1;
  while (p + 4 <= end) {
    const len = <usize>load<u16>(p);
    const type = load<u16>(p + 2) & TYPE_MASK;
    if (len < 4 || p + len > end) {
      sink.malformed++;
      return;
    }
    if (type == NFTA_SET_ELEM_KEY) {
      for (let q = p + 4; q + 4 <= p + len; ) {
        const l = <usize>load<u16>(q);
        if (l < 4 || q + l > p + len) break;
        if ((load<u16>(q + 2) & TYPE_MASK) == NFTA_DATA_VALUE) {
          e.key = q + 4;
          e.keyLen = <i32>(l - 4);
        }
        q += (l + 3) & ~3;
      }
    } else if (type == NFTA_SET_ELEM_OBJREF) {
      e.objref = p + 4;
      e.objrefLen = stringLen(p + 4, <i32>(len - 4));
    } else if (type == NFTA_SET_ELEM_USERDATA) {
      // TLVs of one byte type, one byte length
      let u = p + 4;
      const uend = p + len;
      while (u + 2 <= uend) {
        const t = load<u8>(u);
        const n = <usize>load<u8>(u + 1);
        if (u + 2 + n > uend) break;
        if (t == NFTNL_UDATA_SET_ELEM_COMMENT && n > 0) {
          e.comment = u + 2;
          e.commentLen = stringLen(u + 2, <i32>n);
        }
        u += 2 + n;
      }
    } else if (type == NFTA_SET_ELEM_EXPR) {
      e.packets += counterPackets(p + 4, p + len, sink);
      const u = quotaConsumed(p + 4, p + len);
      if (u >= 0) e.quotaUsed = u;
    } else if (type == NFTA_SET_ELEM_EXPRESSIONS) {
      for (let q = p + 4; q + 4 <= p + len; ) {
        const l = <usize>load<u16>(q);
        if (l < 4 || q + l > p + len) break;
        if ((load<u16>(q + 2) & TYPE_MASK) == NFTA_LIST_ELEM) {
          e.packets += counterPackets(q + 4, q + l, sink);
          const u = quotaConsumed(q + 4, q + l);
          if (u >= 0) e.quotaUsed = u;
        }
        q += (l + 3) & ~3;
      }
    }
    p += (len + 3) & ~3;
  }
  sink.count++;
  sink.element(e);
}

/**
 * Hands every element in the dump's messages at [p, p+n) to sink. Other
 * messages (the dump's end, an error, queue notifications on the same
 * socket) are passed over; a malformed one is counted and skipped.
 */
export function parseElements(p: usize, n: i32, sink: ElementSink): void {
  const end = p + <usize>n;
  let m = p;
  while (m + 16 <= end) {
    const len = <usize>load<u32>(m);
    if (len < 16 || m + len > end) {
      sink.malformed++;
      return;
    }
    if (load<u16>(m + 4) == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM) && len >= 20) {
      let a = m + 20;
      const mend = m + len;
      while (a + 4 <= mend) {
        const alen = <usize>load<u16>(a);
        if (alen < 4 || a + alen > mend) {
          sink.malformed++;
          break;
        }
        if ((load<u16>(a + 2) & TYPE_MASK) == NFTA_SET_ELEM_LIST_ELEMENTS) {
          for (let e = a + 4; e + 4 <= a + alen; ) {
            const elen = <usize>load<u16>(e);
            if (elen < 4 || e + elen > a + alen) {
              sink.malformed++;
              break;
            }
            if ((load<u16>(e + 2) & TYPE_MASK) == NFTA_LIST_ELEM) element(e + 4, e + elen, sink);
            e += (elen + 3) & ~3;
          }
        }
        a += (alen + 3) & ~3;
      }
    }
    m += (len + 3) & ~3;
  }
}

const NFT_MSG_NEWGEN: u16 = 15;
const NFT_MSG_GETGEN: u16 = 16;
const NFTA_GEN_ID: u16 = 1;

/**
 * The request for nftables' generation (NFT_MSG_GETGEN): a number the kernel
 * changes with every committed nftables transaction in the network
 * namespace. Equal before and after, nothing in nftables changed between.
 */
export function generationRequest(): StaticArray<u8> {
  const a = new StaticArray<u8>(20);
  const p = changetype<usize>(a);
  store<u32>(p, 20);
  store<u16>(p + 4, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN);
  store<u16>(p + 6, NLM_F_REQUEST);
  store<u32>(p + 8, seq++);
  store<u32>(p + 12, 0);
  store<u32>(p + 16, 0); // AF_UNSPEC, version 0, res_id 0
  return a;
}

/** The generation in an NFT_MSG_NEWGEN reply among the messages at [p, p+n); -1 if none. */
export function parseGeneration(p: usize, n: i32): i64 {
  return firstU32(p, n, NFT_MSG_NEWGEN, NFTA_GEN_ID);
}
