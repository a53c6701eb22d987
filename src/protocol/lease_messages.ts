// The master lease's messages (PaxosLease, src/lease/): one peer-wire kind, "lease", whose body
// says which step it is. They travel on the peer transport next to the log's messages, but the
// rank hands them to its lease handler (rank.onLeaseMessage): the consensus processors never see
// them. Ballots are (n, r): a counter and the proposing rank, ordered by n then r, so no two
// proposers ever use the same ballot.
import { z } from "zod";

/** The longest lease a proposer may ask for (an acceptor refuses longer ones: a restarted rank
 * waits out its own configured lease, so no lease may be longer than that). */
export const MAX_LEASE_MS = 60_000;
/** The most ranks a cluster has (LIMITS.maxRanks of messages.ts, repeated to avoid a cycle). */
const MAX_RANKS = 64;

const rank = z
  .int()
  .min(0)
  .max(MAX_RANKS - 1);
export const ballot = z.strictObject({ n: z.int().min(0), r: rank });

export const leaseBody = z.discriminatedUnion("k", [
  /** Phase 1 of an acquisition or a renewal. */
  z.strictObject({ k: z.literal("prepare"), b: ballot }),
  /** owner: whose lease the acceptor holds accepted and not yet expired on its clock (null: none). */
  z.strictObject({ k: z.literal("promise"), b: ballot, owner: rank.nullable() }),
  /** Phase 2: the proposer asks for a lease of ms milliseconds for itself (the sender); term: its
   * acquisition's number (kept by renewals), so every rank can say which term the master is in. */
  z.strictObject({
    k: z.literal("propose"),
    b: ballot,
    ms: z.int().min(1).max(MAX_LEASE_MS),
    term: z.int().min(0),
  }),
  z.strictObject({ k: z.literal("accepted"), b: ballot }),
  /** A prepare or propose at b refused: the acceptor promised `higher` (or the lease asked for is
   * too long). owner as in promise, so the refused proposer learns who is master. */
  z.strictObject({ k: z.literal("reject"), b: ballot, higher: ballot, owner: rank.nullable() }),
  /** The owner gives its lease up early (it stopped): acceptors holding its lease at b forget it. */
  z.strictObject({ k: z.literal("release"), b: ballot }),
]);

/** The most a --priority may be. */
export const MAX_PRIORITY = 0xffff;

/** p: the sender's priority (higher: tries first when the lease is free), so every rank knows the
 * order of the candidates it has heard from. */
export const leaseMsg = z.strictObject({
  t: z.literal("lease"),
  from: rank,
  p: z.int().min(0).max(MAX_PRIORITY),
  lease: leaseBody,
});

export type Ballot = z.infer<typeof ballot>;
export type LeaseBody = z.infer<typeof leaseBody>;
export type LeaseMsg = z.infer<typeof leaseMsg>;

/** The kind byte of each lease body on the binary wire (wire_codec.ts). */
export const LEASE_KIND_BYTES = {
  prepare: 1,
  promise: 2,
  propose: 3,
  accepted: 4,
  reject: 5,
  release: 6,
} as const satisfies Record<LeaseBody["k"], number>;

/** <0, 0 or >0 as a is below, equal to or above b. */
export function compareBallots(a: Ballot, b: Ballot): number {
  return a.n !== b.n ? a.n - b.n : a.r - b.r;
}
