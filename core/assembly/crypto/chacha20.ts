// ChaCha20 (RFC 8439 section 2.3/2.4): 256-bit key, 96-bit nonce, 32-bit
// block counter. The sixteen state words live in locals; a double round is
// written out (column round, then diagonal round) and run ten times.

const BLOCK: usize = memory.data(64, 16);

/**
 * Writes the 64-byte keystream block for (key, nonce, counter) at `out`.
 * `key` is 32 bytes, `nonce` 12 bytes; both are read as little-endian words.
 */
export function chacha20Block(key: usize, nonce: usize, counter: u32, out: usize): void {
  const k0 = load<u32>(key, 0), k1 = load<u32>(key, 4), k2 = load<u32>(key, 8), k3 = load<u32>(key, 12);
  const k4 = load<u32>(key, 16), k5 = load<u32>(key, 20), k6 = load<u32>(key, 24), k7 = load<u32>(key, 28);
  const n0 = load<u32>(nonce, 0), n1 = load<u32>(nonce, 4), n2 = load<u32>(nonce, 8);
  let x0: u32 = 0x61707865, x1: u32 = 0x3320646e, x2: u32 = 0x79622d32, x3: u32 = 0x6b206574;
  let x4 = k0, x5 = k1, x6 = k2, x7 = k3, x8 = k4, x9 = k5, x10 = k6, x11 = k7;
  let x12 = counter, x13 = n0, x14 = n1, x15 = n2;
  for (let i = 0; i < 10; i++) {
      x0 += x4; x12 = rotl<u32>(x12 ^ x0, 16);
      x8 += x12; x4 = rotl<u32>(x4 ^ x8, 12);
      x0 += x4; x12 = rotl<u32>(x12 ^ x0, 8);
      x8 += x12; x4 = rotl<u32>(x4 ^ x8, 7);
      x1 += x5; x13 = rotl<u32>(x13 ^ x1, 16);
      x9 += x13; x5 = rotl<u32>(x5 ^ x9, 12);
      x1 += x5; x13 = rotl<u32>(x13 ^ x1, 8);
      x9 += x13; x5 = rotl<u32>(x5 ^ x9, 7);
      x2 += x6; x14 = rotl<u32>(x14 ^ x2, 16);
      x10 += x14; x6 = rotl<u32>(x6 ^ x10, 12);
      x2 += x6; x14 = rotl<u32>(x14 ^ x2, 8);
      x10 += x14; x6 = rotl<u32>(x6 ^ x10, 7);
      x3 += x7; x15 = rotl<u32>(x15 ^ x3, 16);
      x11 += x15; x7 = rotl<u32>(x7 ^ x11, 12);
      x3 += x7; x15 = rotl<u32>(x15 ^ x3, 8);
      x11 += x15; x7 = rotl<u32>(x7 ^ x11, 7);
      x0 += x5; x15 = rotl<u32>(x15 ^ x0, 16);
      x10 += x15; x5 = rotl<u32>(x5 ^ x10, 12);
      x0 += x5; x15 = rotl<u32>(x15 ^ x0, 8);
      x10 += x15; x5 = rotl<u32>(x5 ^ x10, 7);
      x1 += x6; x12 = rotl<u32>(x12 ^ x1, 16);
      x11 += x12; x6 = rotl<u32>(x6 ^ x11, 12);
      x1 += x6; x12 = rotl<u32>(x12 ^ x1, 8);
      x11 += x12; x6 = rotl<u32>(x6 ^ x11, 7);
      x2 += x7; x13 = rotl<u32>(x13 ^ x2, 16);
      x8 += x13; x7 = rotl<u32>(x7 ^ x8, 12);
      x2 += x7; x13 = rotl<u32>(x13 ^ x2, 8);
      x8 += x13; x7 = rotl<u32>(x7 ^ x8, 7);
      x3 += x4; x14 = rotl<u32>(x14 ^ x3, 16);
      x9 += x14; x4 = rotl<u32>(x4 ^ x9, 12);
      x3 += x4; x14 = rotl<u32>(x14 ^ x3, 8);
      x9 += x14; x4 = rotl<u32>(x4 ^ x9, 7);
  }
  store<u32>(out, x0 + 0x61707865, 0);
  store<u32>(out, x1 + 0x3320646e, 4);
  store<u32>(out, x2 + 0x79622d32, 8);
  store<u32>(out, x3 + 0x6b206574, 12);
  store<u32>(out, x4 + k0, 16);
  store<u32>(out, x5 + k1, 20);
  store<u32>(out, x6 + k2, 24);
  store<u32>(out, x7 + k3, 28);
  store<u32>(out, x8 + k4, 32);
  store<u32>(out, x9 + k5, 36);
  store<u32>(out, x10 + k6, 40);
  store<u32>(out, x11 + k7, 44);
  store<u32>(out, x12 + counter, 48);
  store<u32>(out, x13 + n0, 52);
  store<u32>(out, x14 + n1, 56);
  store<u32>(out, x15 + n2, 60);
}

/**
 * XORs the keystream starting at block `counter` over the `len` bytes at
 * `src`, writing to `dst`. `dst` may equal `src` (in place), but must not
 * otherwise overlap it. A non-positive `len` does nothing.
 */
export function chacha20Xor(key: usize, nonce: usize, counter: u32, src: usize, dst: usize, len: i32): void {
  while (len >= 64) {
    chacha20Block(key, nonce, counter, BLOCK);
    for (let i: usize = 0; i < 64; i += 8) {
      store<u64>(dst + i, load<u64>(src + i) ^ load<u64>(BLOCK + i));
    }
    counter++;
    src += 64;
    dst += 64;
    len -= 64;
  }
  if (len > 0) {
    chacha20Block(key, nonce, counter, BLOCK);
    for (let i: usize = 0; i < <usize>len; i++) {
      store<u8>(dst + i, load<u8>(src + i) ^ load<u8>(BLOCK + i));
    }
  }
  memory.fill(BLOCK, 0, 64);
}

const HBLK: usize = memory.data(64, 16);

/**
 * HChaCha20 (draft-irtf-cfrg-xchacha section 2.2): the ChaCha20 permutation of
 * (key, the 16-byte input in words 12..15), without the final addition; words
 * 0..3 and 12..15 of the result, 32 bytes at `out`. A PRF of the key: one
 * block's work.
 */
export function hchacha20(key: usize, input: usize, out: usize): void {
  chacha20Block(key, input + 4, load<u32>(input), HBLK);
  store<u32>(out, load<u32>(HBLK) - 0x61707865);
  store<u32>(out + 4, load<u32>(HBLK + 4) - 0x3320646e);
  store<u32>(out + 8, load<u32>(HBLK + 8) - 0x79622d32);
  store<u32>(out + 12, load<u32>(HBLK + 12) - 0x6b206574);
  for (let i: usize = 0; i < 16; i += 4) store<u32>(out + 16 + i, load<u32>(HBLK + 48 + i) - load<u32>(input + i));
  memory.fill(HBLK, 0, 64);
}
