// The node this module instance runs and its protocol modules, shared by the
// flat exports of abi/engine.ts and abi/sidengine.ts. Not exported itself.

import { Node } from "../engine/node";
import { Sid } from "../sid/engine";

export class Instance {
  static node: Node = new Node();
  /** SID, once sid_link switched it on (it then serves PROTOCOL_SID). */
  static sid: Sid | null = null;

  /** A new node (node_init): every module of the old one goes with it. */
  static reset(node: Node): void {
    Instance.node = node;
    Instance.sid = null;
  }
}
