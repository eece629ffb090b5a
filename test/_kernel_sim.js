// A simulated kernel for the address watch (stem/watch.ts) on the simulated
// pair (test/_sim.js): rtnetlink address notifications and dumps, sock_diag
// replies the test answers when it chooses, and a log of what the core asked
// the kernel to do, in order, with the virtual time.

const NETLINK_ROUTE = 0;
const NETLINK_SOCK_DIAG = 4;
const NETLINK_NETFILTER = 12;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_GETADDR = 22;
const SOCK_DIAG_BY_FAMILY = 20;
const NLMSG_DONE = 3;
const AF_INET = 2;
const AF_INET6 = 10;

/** The 4 or 16 bytes of an address in text form. */
export function addressBytes(text) {
  if (!text.includes(":")) return Uint8Array.from(text.split(".").map(Number));
  const [head, tail] = text.split("::");
  const words = (s) => (s ? s.split(":").map((w) => parseInt(w, 16)) : []);
  const h = words(head);
  const t = tail === undefined ? [] : words(tail);
  const all = [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  const b = new Uint8Array(16);
  all.forEach((w, i) => ((b[2 * i] = w >> 8), (b[2 * i + 1] = w & 0xff)));
  return b;
}

function message(type, body) {
  const b = new Uint8Array(16 + body.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, b.length, true);
  v.setUint16(4, type, true);
  b.set(body, 16);
  return b;
}

function concat(parts) {
  const n = parts.reduce((s, p) => s + ((p.length + 3) & ~3), 0);
  const b = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    b.set(p, o);
    o += (p.length + 3) & ~3;
  }
  return b;
}

/** RTM_NEWADDR or RTM_DELADDR for a global address on interface 2 (or `ifindex`). */
export function addressMessage(added, text, { ifindex = 2, scope = 0 } = {}) {
  const a = addressBytes(text);
  const v6 = a.length === 16;
  const body = new Uint8Array(8 + 4 + a.length);
  const v = new DataView(body.buffer);
  body[0] = v6 ? AF_INET6 : AF_INET;
  body[1] = v6 ? 64 : 24;
  body[3] = scope;
  v.setUint32(4, ifindex, true);
  v.setUint16(8, 4 + a.length, true);
  v.setUint16(10, v6 ? 1 : 2, true); // IFA_ADDRESS (IPv6) or IFA_LOCAL (IPv4)
  body.set(a, 12);
  return message(added ? RTM_NEWADDR : RTM_DELADDR, body);
}

/** A sock_diag dump reply: one inet_diag_msg per socket, then NLMSG_DONE. */
export function socketsReply(sockets) {
  const parts = sockets.map((s) => {
    const body = new Uint8Array(72);
    const v = new DataView(body.buffer);
    const local = addressBytes(s.local);
    body[0] = local.length === 16 ? AF_INET6 : AF_INET;
    body[1] = s.state ?? 1;
    v.setUint16(4, s.localPort);
    v.setUint16(6, s.remotePort ?? 0);
    body.set(local, 8);
    if (s.remote) body.set(addressBytes(s.remote), 24);
    return message(SOCK_DIAG_BY_FAMILY, body);
  });
  parts.push(message(NLMSG_DONE, new Uint8Array(4)));
  return concat(parts);
}

function ack(request, errno = 0) {
  const b = new Uint8Array(36);
  const v = new DataView(b.buffer);
  v.setUint32(0, 36, true);
  v.setUint16(4, 2, true);
  v.setUint32(8, new DataView(request.buffer, request.byteOffset).getUint32(8, true), true);
  v.setInt32(16, -errno, true);
  b.set(request.subarray(0, 16), 20);
  return b;
}

const typeOf = (data) => new DataView(data.buffer, data.byteOffset).getUint16(4, true);
/** A family byte of a sock_diag request (after the 16-byte header). */
const diagFamily = (data) => (data[16] === AF_INET6 ? 6 : 4);
const diagProtocol = (data) => (data[17] === 6 ? "tcp" : "udp");

/**
 * Gives a SimNode a kernel: `addresses` are what the address dump reports,
 * sock_diag requests wait in `k.diag` until the test answers them with
 * k.answer(request, sockets), and `k.log` lists every kernel action and event
 * in order: { t, kind: "nft" | "verdict" | "queue-rule" | "netlink" | "event", ... }.
 */
export function withKernel(node, addresses) {
  /** failNft: how many of the next nft batches fail (libnftables returns -1). */
  const k = { diag: [], log: [], failNft: 0 };
  const engine = node.engine;
  k.answer = (request, sockets = []) => {
    k.diag.splice(k.diag.indexOf(request), 1);
    engine.netlinkReply(node.clock(), request.id, socketsReply(sockets));
    node.pump();
  };
  k.event = (bytes) => {
    engine.netlinkEvent(node.clock(), bytes);
    node.pump();
  };
  /** The verdicts (queue releases) logged after index `from`. */
  k.verdicts = (from = 0) => k.log.slice(from).filter((e) => e.kind === "verdict");
  node.pump = () => {
    for (let o; (o = engine.poll()); ) {
      const t = node.net.now;
      if (o.kind === "transmit") node.net.send(node, o);
      else if (o.kind === "nft") {
        node.nft.push(o.text);
        const failed = k.failNft > 0;
        if (failed) k.failNft--;
        const status = failed ? -1 : node.table.apply(o.text);
        if (node.recordRules) node.rulesAfter.push(node.table.rules());
        k.log.push({ t, kind: "nft", text: o.text, failed: status !== 0 });
        engine.actionResult(node.clock(), o.id, status);
      } else if (o.kind === "netlink") {
        node.netlink.push(o.data);
        const type = typeOf(o.data);
        if (o.protocol === NETLINK_SOCK_DIAG) {
          k.diag.push({ id: o.id, family: diagFamily(o.data), protocol: diagProtocol(o.data), data: o.data });
          k.log.push({ t, kind: "sock_diag" });
        } else if (o.protocol === NETLINK_ROUTE && type === RTM_GETADDR) {
          const v6 = o.data[16] === AF_INET6;
          const mine = addresses.filter((a) => a.includes(":") === v6).map((a) => addressMessage(true, a));
          engine.netlinkReply(node.clock(), o.id, concat([...mine, message(NLMSG_DONE, new Uint8Array(4))]));
        } else {
          const kind = o.protocol === NETLINK_NETFILTER ? (type === 0x0303 ? "verdict" : type === 0x10 ? "queue-rule" : "netfilter") : "netlink";
          k.log.push({ t, kind, data: o.data });
          engine.netlinkReply(node.clock(), o.id, o.waitAck ? ack(o.data) : new Uint8Array(0));
        }
      } else {
        node.events.push(o.event);
        k.log.push({ t, kind: "event", event: o.event });
      }
    }
  };
  return k;
}
