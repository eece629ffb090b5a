// STEM's events (docs/USAGE.md "Events"): the JSON writers the migrator, the
// non-migrator and the address watch share. Imports nothing of the module.

import { Peer } from "../engine/peer";
import { Address } from "../engine/address";
import { TextOut } from "../util/text";
import { writeMs } from "../engine/output";
import { codeName } from "../generated/registry";

/** The fields both sides' migration events share. */
export function exchangeFields(e: TextOut, peer: Peer, from: Address, to: Address, moves: i32, elapsed: f64): void {
  e.key("peer");
  cookieJson(e, peer.cookie);
  e.key("from");
  from.json(e);
  e.key("to");
  to.json(e);
  e.key("moves");
  e.num(moves);
  e.key("elapsedMs");
  e.raw();
  writeMs(e, elapsed);
}

export function cookieJson(e: TextOut, c: u64): void {
  e.raw();
  e.byte(0x22);
  for (let s = 40; s >= 0; s -= 8) e.hexByte(<u32>(c >> <u64>s) & 0xff);
  e.byte(0x22);
}

export function codeJson(e: TextOut, code: u32): void {
  const n = codeName(code);
  if (n.length) e.str(n);
  else e.num(code);
}
