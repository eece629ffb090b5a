// The core imports nothing from its host. AssemblyScript routes `throw`,
// failed assertions and out-of-memory through `abort`; here that is a plain
// trap. Decoders never reach it on bad input: they return error codes.
export function trap(
  message: string | null,
  fileName: string | null,
  lineNumber: u32,
  columnNumber: u32
): void {
  unreachable();
}
