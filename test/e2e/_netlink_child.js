// Run inside a namespace by vxlan.test.js (under Node): sends each line of
// stdin (a netlink request in hex) on a NETLINK_ROUTE socket through the
// host's KernelIO and prints the acknowledgement's errno (0 = done) as JSON.
import { createInterface } from "node:readline";
import { NodeIO } from "../../dist/hosts/node/index.js";
import { unhex } from "../../dist/hosts/shared/bytes.js";

const k = new NodeIO().openKernel();
createInterface({ input: process.stdin }).on("line", (line) => {
  if (line === "exit") {
    k.close();
    process.exit(0);
  }
  const reply = k.netlink(0, unhex(line), true);
  const v = new DataView(reply.buffer, reply.byteOffset, reply.length);
  const errno = reply.length >= 20 && v.getUint16(4, true) === 2 ? -v.getInt32(16, true) : -1;
  process.stdout.write(JSON.stringify({ errno }) + "\n");
});
process.stdout.write(JSON.stringify({ ready: true }) + "\n");
