// MD5 (RFC 1321), block function only. Little-endian words, unrolled; the
// sine-derived constants are immediates. MD5 is here for the security
// associations that still name it (HMAC-MD5, RFC 2104); it is not collision
// resistant and nothing new should pick it.

/** The initial chaining value, written at `st` (4 words, native order). */
export function md5Init(st: usize): void {
  store<u32>(st, 0x67452301, 0);
  store<u32>(st, 0xefcdab89, 4);
  store<u32>(st, 0x98badcfe, 8);
  store<u32>(st, 0x10325476, 12);
}

/** Compresses `n` consecutive 64-byte blocks at `p` into the state at `st`. */
export function md5Blocks(st: usize, p: usize, n: i32): void {
  let a = load<u32>(st, 0);
  let b = load<u32>(st, 4);
  let c = load<u32>(st, 8);
  let d = load<u32>(st, 12);
  while (n > 0) {
    const a0 = a, b0 = b, c0 = c, d0 = d;
    const m0 = load<u32>(p, 0);
    const m1 = load<u32>(p, 4);
    const m2 = load<u32>(p, 8);
    const m3 = load<u32>(p, 12);
    const m4 = load<u32>(p, 16);
    const m5 = load<u32>(p, 20);
    const m6 = load<u32>(p, 24);
    const m7 = load<u32>(p, 28);
    const m8 = load<u32>(p, 32);
    const m9 = load<u32>(p, 36);
    const m10 = load<u32>(p, 40);
    const m11 = load<u32>(p, 44);
    const m12 = load<u32>(p, 48);
    const m13 = load<u32>(p, 52);
    const m14 = load<u32>(p, 56);
    const m15 = load<u32>(p, 60);
    a = b + rotl<u32>(a + (d ^ (b & (c ^ d))) + 0xd76aa478 + m0, 7);
    d = a + rotl<u32>(d + (c ^ (a & (b ^ c))) + 0xe8c7b756 + m1, 12);
    c = d + rotl<u32>(c + (b ^ (d & (a ^ b))) + 0x242070db + m2, 17);
    b = c + rotl<u32>(b + (a ^ (c & (d ^ a))) + 0xc1bdceee + m3, 22);
    a = b + rotl<u32>(a + (d ^ (b & (c ^ d))) + 0xf57c0faf + m4, 7);
    d = a + rotl<u32>(d + (c ^ (a & (b ^ c))) + 0x4787c62a + m5, 12);
    c = d + rotl<u32>(c + (b ^ (d & (a ^ b))) + 0xa8304613 + m6, 17);
    b = c + rotl<u32>(b + (a ^ (c & (d ^ a))) + 0xfd469501 + m7, 22);
    a = b + rotl<u32>(a + (d ^ (b & (c ^ d))) + 0x698098d8 + m8, 7);
    d = a + rotl<u32>(d + (c ^ (a & (b ^ c))) + 0x8b44f7af + m9, 12);
    c = d + rotl<u32>(c + (b ^ (d & (a ^ b))) + 0xffff5bb1 + m10, 17);
    b = c + rotl<u32>(b + (a ^ (c & (d ^ a))) + 0x895cd7be + m11, 22);
    a = b + rotl<u32>(a + (d ^ (b & (c ^ d))) + 0x6b901122 + m12, 7);
    d = a + rotl<u32>(d + (c ^ (a & (b ^ c))) + 0xfd987193 + m13, 12);
    c = d + rotl<u32>(c + (b ^ (d & (a ^ b))) + 0xa679438e + m14, 17);
    b = c + rotl<u32>(b + (a ^ (c & (d ^ a))) + 0x49b40821 + m15, 22);
    a = b + rotl<u32>(a + (c ^ (d & (b ^ c))) + 0xf61e2562 + m1, 5);
    d = a + rotl<u32>(d + (b ^ (c & (a ^ b))) + 0xc040b340 + m6, 9);
    c = d + rotl<u32>(c + (a ^ (b & (d ^ a))) + 0x265e5a51 + m11, 14);
    b = c + rotl<u32>(b + (d ^ (a & (c ^ d))) + 0xe9b6c7aa + m0, 20);
    a = b + rotl<u32>(a + (c ^ (d & (b ^ c))) + 0xd62f105d + m5, 5);
    d = a + rotl<u32>(d + (b ^ (c & (a ^ b))) + 0x02441453 + m10, 9);
    c = d + rotl<u32>(c + (a ^ (b & (d ^ a))) + 0xd8a1e681 + m15, 14);
    b = c + rotl<u32>(b + (d ^ (a & (c ^ d))) + 0xe7d3fbc8 + m4, 20);
    a = b + rotl<u32>(a + (c ^ (d & (b ^ c))) + 0x21e1cde6 + m9, 5);
    d = a + rotl<u32>(d + (b ^ (c & (a ^ b))) + 0xc33707d6 + m14, 9);
    c = d + rotl<u32>(c + (a ^ (b & (d ^ a))) + 0xf4d50d87 + m3, 14);
    b = c + rotl<u32>(b + (d ^ (a & (c ^ d))) + 0x455a14ed + m8, 20);
    a = b + rotl<u32>(a + (c ^ (d & (b ^ c))) + 0xa9e3e905 + m13, 5);
    d = a + rotl<u32>(d + (b ^ (c & (a ^ b))) + 0xfcefa3f8 + m2, 9);
    c = d + rotl<u32>(c + (a ^ (b & (d ^ a))) + 0x676f02d9 + m7, 14);
    b = c + rotl<u32>(b + (d ^ (a & (c ^ d))) + 0x8d2a4c8a + m12, 20);
    a = b + rotl<u32>(a + (b ^ c ^ d) + 0xfffa3942 + m5, 4);
    d = a + rotl<u32>(d + (a ^ b ^ c) + 0x8771f681 + m8, 11);
    c = d + rotl<u32>(c + (d ^ a ^ b) + 0x6d9d6122 + m11, 16);
    b = c + rotl<u32>(b + (c ^ d ^ a) + 0xfde5380c + m14, 23);
    a = b + rotl<u32>(a + (b ^ c ^ d) + 0xa4beea44 + m1, 4);
    d = a + rotl<u32>(d + (a ^ b ^ c) + 0x4bdecfa9 + m4, 11);
    c = d + rotl<u32>(c + (d ^ a ^ b) + 0xf6bb4b60 + m7, 16);
    b = c + rotl<u32>(b + (c ^ d ^ a) + 0xbebfbc70 + m10, 23);
    a = b + rotl<u32>(a + (b ^ c ^ d) + 0x289b7ec6 + m13, 4);
    d = a + rotl<u32>(d + (a ^ b ^ c) + 0xeaa127fa + m0, 11);
    c = d + rotl<u32>(c + (d ^ a ^ b) + 0xd4ef3085 + m3, 16);
    b = c + rotl<u32>(b + (c ^ d ^ a) + 0x04881d05 + m6, 23);
    a = b + rotl<u32>(a + (b ^ c ^ d) + 0xd9d4d039 + m9, 4);
    d = a + rotl<u32>(d + (a ^ b ^ c) + 0xe6db99e5 + m12, 11);
    c = d + rotl<u32>(c + (d ^ a ^ b) + 0x1fa27cf8 + m15, 16);
    b = c + rotl<u32>(b + (c ^ d ^ a) + 0xc4ac5665 + m2, 23);
    a = b + rotl<u32>(a + (c ^ (b | ~d)) + 0xf4292244 + m0, 6);
    d = a + rotl<u32>(d + (b ^ (a | ~c)) + 0x432aff97 + m7, 10);
    c = d + rotl<u32>(c + (a ^ (d | ~b)) + 0xab9423a7 + m14, 15);
    b = c + rotl<u32>(b + (d ^ (c | ~a)) + 0xfc93a039 + m5, 21);
    a = b + rotl<u32>(a + (c ^ (b | ~d)) + 0x655b59c3 + m12, 6);
    d = a + rotl<u32>(d + (b ^ (a | ~c)) + 0x8f0ccc92 + m3, 10);
    c = d + rotl<u32>(c + (a ^ (d | ~b)) + 0xffeff47d + m10, 15);
    b = c + rotl<u32>(b + (d ^ (c | ~a)) + 0x85845dd1 + m1, 21);
    a = b + rotl<u32>(a + (c ^ (b | ~d)) + 0x6fa87e4f + m8, 6);
    d = a + rotl<u32>(d + (b ^ (a | ~c)) + 0xfe2ce6e0 + m15, 10);
    c = d + rotl<u32>(c + (a ^ (d | ~b)) + 0xa3014314 + m6, 15);
    b = c + rotl<u32>(b + (d ^ (c | ~a)) + 0x4e0811a1 + m13, 21);
    a = b + rotl<u32>(a + (c ^ (b | ~d)) + 0xf7537e82 + m4, 6);
    d = a + rotl<u32>(d + (b ^ (a | ~c)) + 0xbd3af235 + m11, 10);
    c = d + rotl<u32>(c + (a ^ (d | ~b)) + 0x2ad7d2bb + m2, 15);
    b = c + rotl<u32>(b + (d ^ (c | ~a)) + 0xeb86d391 + m9, 21);
    a += a0; b += b0; c += c0; d += d0;
    p += 64;
    n--;
  }
  store<u32>(st, a, 0);
  store<u32>(st, b, 4);
  store<u32>(st, c, 8);
  store<u32>(st, d, 12);
}
