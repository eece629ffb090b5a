// A small seeded PRNG (sfc32, seeded through splitmix32), so that vector
// generation and property tests are reproducible from one 32-bit seed.

function splitmix32(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Prng {
  constructor(seed) {
    this.seed = seed >>> 0;
    const sm = splitmix32(this.seed);
    this.a = sm(); this.b = sm(); this.c = sm(); this.d = sm();
    for (let i = 0; i < 12; i++) this.u32();
  }
  /** A uniform 32-bit unsigned integer. */
  u32() {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }
  /** An integer in [lo, hi], inclusive. */
  int(lo, hi) {
    const span = hi - lo + 1;
    if (span <= 0x100000000) return lo + Math.floor((this.u32() / 0x100000000) * span);
    return lo + Math.floor(((this.u32() * 0x100000000 + this.u32()) / 2 ** 64) * span);
  }
  /** true with probability p. */
  chance(p) {
    return this.u32() / 0x100000000 < p;
  }
  pick(xs) {
    return xs[this.int(0, xs.length - 1)];
  }
  bytes(n) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 255;
    return out;
  }
}
