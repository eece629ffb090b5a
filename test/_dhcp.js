// Shared by the DHCP tests: a server's reply written from RFC 2131 and 2132
// (not with the core's encoder), and the unwrapping of a client's broadcast
// frame with its checksums recomputed (RFC 1071).
import * as assert from "uvu/assert";
import { hex, unhex } from "./_wasm.js";

export const MAC = unhex("02000000f001");
export const SERVER = "198.18.9.1";
export const ip = (s) => s.split(".").map(Number);
export const u32 = (v) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];

/** A server's reply, written from RFC 2131 figure 1 and RFC 2132 (not with the core's encoder). */
export function reply({ type, xid, yiaddr = "0.0.0.0", chaddr = MAC, server = SERVER, lease, t1, t2, mask, router, clientId, flags = 0, extra = [] }) {
  const b = new Uint8Array(240);
  b[0] = 2; b[1] = 1; b[2] = 6;
  b.set(u32(xid), 4);
  b[10] = flags >> 8;
  b.set(ip(yiaddr), 16);
  b.set(chaddr, 28);
  b.set([99, 130, 83, 99], 236);
  const o = [53, 1, type];
  if (server) o.push(54, 4, ...ip(server));
  if (lease !== undefined) o.push(51, 4, ...u32(lease));
  if (t1 !== undefined) o.push(58, 4, ...u32(t1));
  if (t2 !== undefined) o.push(59, 4, ...u32(t2));
  if (mask) o.push(1, 4, ...ip(mask));
  if (router) o.push(3, 4, ...ip(router));
  if (clientId) o.push(61, clientId.length, ...clientId);
  o.push(...extra, 255);
  const out = new Uint8Array(240 + o.length);
  out.set(b);
  out.set(o, 240);
  return out;
}

/** Ethernet/IPv4/UDP of a frame, with both checksums recomputed (RFC 1071). */
function sum(bytes, acc = 0) {
  for (let i = 0; i + 1 < bytes.length; i += 2) acc += (bytes[i] << 8) | bytes[i + 1];
  if (bytes.length & 1) acc += bytes[bytes.length - 1] << 8;
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return acc;
}
export function unframe(f) {
  assert.is(hex(f.subarray(0, 6)), "ffffffffffff", "Ethernet broadcast");
  assert.is(hex(f.subarray(12, 14)), "0800");
  const ipH = f.subarray(14, 34);
  assert.is(sum(ipH), 0xffff, "IPv4 header checksum");
  assert.is(hex(ipH.subarray(12, 20)), "00000000ffffffff", "0.0.0.0 -> 255.255.255.255");
  const udp = f.subarray(34);
  assert.is((udp[0] << 8) | udp[1], 68);
  assert.is((udp[2] << 8) | udp[3], 67);
  assert.is((udp[4] << 8) | udp[5], udp.length);
  const pseudo = new Uint8Array([...ipH.subarray(12, 20), 0, 17, udp.length >> 8, udp.length & 255]);
  assert.is(sum(udp, sum(pseudo)), 0xffff, "UDP checksum");
  return udp.slice(8);
}

