// Address families on the wire (registry: addressFamilies).

import { FAMILY_IPV4, FAMILY_IPV6 } from "../generated/registry";

/** Length of an address of the given family, or 0. */
export function familyLength(family: u32): i32 {
  if (family == FAMILY_IPV4) return 4;
  if (family == FAMILY_IPV6) return 16;
  return 0;
}
