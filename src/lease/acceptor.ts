// The acceptor half of PaxosLease (Trencseni et al., 2009): Paxos's promise/accept rules, except
// that what it accepts is a lease that times out on the acceptor's own clock `ms` after it RECEIVED
// the propose (always later than when the proposer, who started its timer before its prepare,
// believes it ends). An expired lease counts as nothing accepted, so the next proposer is free.
// Diskless: a restarted acceptor forgets everything, which is why the lease node keeps it silent
// until every lease it may have accepted in its last life has run out (core.ts).
import { invariant } from "../protocol/assert.js";
import { compareBallots, type Ballot, type LeaseBody } from "../protocol/lease_messages.js";

export interface AcceptedLease {
  b: Ballot;
  owner: number;
  term: number;
  /** On this acceptor's clock: when the lease runs out here. */
  expiresUs: number;
}

export class LeaseAcceptor {
  promised: Ballot | null = null;
  accepted: AcceptedLease | null = null;

  /** maxLeaseMs: the longest lease it grants (this node's own lease length: its restart wait
   * covers only leases that long). */
  constructor(private readonly maxLeaseMs: number) {
    invariant(maxLeaseMs > 0, () => `lease length ${maxLeaseMs} ms`);
  }

  /** The lease accepted here that has not run out yet, if any. */
  current(nowUs: number): AcceptedLease | null {
    const a = this.accepted;
    return a !== null && nowUs < a.expiresUs ? a : null;
  }

  /** The answer to a prepare at b. */
  onPrepare(b: Ballot, nowUs: number): LeaseBody {
    if (this.promised !== null && compareBallots(b, this.promised) < 0)
      return this.reject(b, nowUs);
    this.promised = b;
    return { k: "promise", b, owner: this.current(nowUs)?.owner ?? null };
  }

  /** The answer to a propose at b from rank `from` for a lease of ms milliseconds. */
  onPropose(from: number, b: Ballot, ms: number, term: number, nowUs: number): LeaseBody | null {
    if (b.r !== from) return null; // a ballot is its proposer's; anything else is not a proposal
    if (this.promised !== null && compareBallots(b, this.promised) < 0)
      return this.reject(b, nowUs);
    if (ms > this.maxLeaseMs) return this.reject(b, nowUs); // its restart wait would not cover it
    this.promised = b;
    this.accepted = { b, owner: from, term, expiresUs: nowUs + ms * 1000 };
    return { k: "accepted", b };
  }

  /** The owner gave its lease up: forget it, unless something newer was accepted meanwhile. */
  onRelease(from: number, b: Ballot): void {
    const a = this.accepted;
    if (a !== null && a.owner === from && compareBallots(a.b, b) <= 0) this.accepted = null;
  }

  private reject(b: Ballot, nowUs: number): LeaseBody {
    const higher = this.promised ?? b;
    return { k: "reject", b, higher, owner: this.current(nowUs)?.owner ?? null };
  }
}
