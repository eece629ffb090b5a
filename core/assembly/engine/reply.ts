// The request context and the deferred-reply handle (docs/ENGINE.md): what a
// module keeps of a request it answers later, after kernel actions (STEM's
// Migration Reply, 7.4 step 5). The engine builds it (Node.deferReply) and
// sends the reply through it (Node.beginDeferred / Node.finishDeferred), so
// that no module rebuilds a reply header by hand. Data only: no import of
// engine/node.ts.

import { Address } from "./address";
import { Peer, SecurityAssociation, CachedReply } from "./peer";

/** The request being answered: who sent it, under which SA, and its header's numbers. */
export class RequestContext {
  peer: Peer;
  sa: SecurityAssociation;
  /** The reply-cache entry opened for it (null for a notice). */
  cache: CachedReply | null;
  /** The reply's type (the request's reply type). */
  replyType: u8 = 0;
  seq: u32 = 0;
  /** The sequence number extended to 32 bits (the sealing nonce, 8.11). */
  seq32: u32 = 0;
  /** The reply's Replay Protect ID: the request's, or in nonce mode a fresh nonce (6.5). */
  replayHi: u32 = 0;
  replayLo: u32 = 0;
  /** Where the reply goes: the request's source (a module may name another, e.g. a path to validate). */
  source: Address = new Address();
  sourcePort: u32 = 0;
  constructor(peer: Peer, sa: SecurityAssociation, cache: CachedReply | null) {
    this.peer = peer;
    this.sa = sa;
    this.cache = cache;
  }
}

/** A reply sent later than the request's handling: its context, and its bytes once sent. */
export class DeferredReply extends RequestContext {
  /** The reply as sent (empty before): what a retransmission repeats. */
  bytes: StaticArray<u8> = new StaticArray<u8>(0);
}
