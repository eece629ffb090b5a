// Constant-time comparison.

/**
 * True when the `len` bytes at `a` and `b` are equal. The time taken depends
 * on `len` only: every byte is read, differences are OR-ed together, and
 * nothing branches on the data. A negative `len` compares nothing (true).
 */
export function ctEqual(a: usize, b: usize, len: i32): bool {
  let acc: u64 = 0;
  let i: i32 = 0;
  for (; i + 8 <= len; i += 8) {
    acc |= load<u64>(a + <usize>i) ^ load<u64>(b + <usize>i);
  }
  for (; i < len; i++) {
    acc |= <u64>(load<u8>(a + <usize>i) ^ load<u8>(b + <usize>i));
  }
  // Fold to one bit without a data-dependent branch.
  const folded = <u32>(acc >>> 32) | <u32>acc;
  return <bool>(1 - ((folded | (0 - folded)) >>> 31));
}
