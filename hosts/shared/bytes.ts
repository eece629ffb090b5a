// Hex text for bytes: the form vectors, configuration files and events use.

export function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export function unhex(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new TypeError(`not hex: '${text.length > 40 ? text.slice(0, 40) + "..." : text}'`);
  }
  const out = new Uint8Array(text.length / 2);
  // (by character code, not parseInt of slices: a configuration of 100,000 peers has as many keys)
  for (let i = 0; i < out.length; i++) out[i] = (nibble(text.charCodeAt(2 * i)) << 4) | nibble(text.charCodeAt(2 * i + 1));
  return out;
}

/** A hex digit's value (the text was checked to be hex). */
function nibble(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57;
}
