// Wire messages between ranks: zod schemas (validated at the network boundary) and their types.
// Every message names its sender. Protocol messages carry the sender's round ("estround");
// log-repair messages (commit, status, fetch, fetched) do not take part in rounds.
import { z } from "zod";

/** Hard limits that keep a malformed or hostile frame from costing memory. */
export const LIMITS = {
  maxRanks: 64,
  maxIdsPerFrame: 65_536,
  maxIdLength: 256,
  maxFrameBytes: 16 * 1024 * 1024,
} as const;

const rank = z
  .int()
  .min(0)
  .max(LIMITS.maxRanks - 1);
const nat = z.int().min(0);
const round = nat;
/** Instance ids are printed inside `Instance[...]`, so they may not contain `]` or line breaks. */
// One regular expression checks length and characters in a single pass (cheaper per id than three checks).
export const instanceId = z.string().regex(new RegExp(`^[^\\]\\r\\n]{1,${LIMITS.maxIdLength}}$`));
const ids = z.array(instanceId).max(LIMITS.maxIdsPerFrame);

/** A run of consecutive seqs accepted in one round: [first seq, round, ids]. */
const acceptedRun = z.tuple([nat, round, ids]);

export const readMsg = z.strictObject({ t: z.literal("read"), from: rank, round, base: nat });
export const gatherMsg = z.strictObject({
  t: z.literal("gather"),
  from: rank,
  round,
  /** Every seq below floor is known to be chosen; entries below it are not reported. */
  floor: nat,
  runs: z.array(acceptedRun).max(LIMITS.maxIdsPerFrame),
  backlog: nat,
});
export const imposeMsg = z.strictObject({
  t: z.literal("impose"),
  from: rank,
  round,
  seq: nat,
  ids,
});
export const ackMsg = z.strictObject({
  t: z.literal("ack"),
  from: rank,
  round,
  seq: nat,
  count: nat,
  backlog: nat,
});
/** An owner's pending-instance counters: monotonic within one life (epoch) of the rank, so the
 * leader can take the newest of reordered reports and never allot the same instances twice. */
const offerState = z.strictObject({
  epoch: nat,
  /** Instances ever queued for proposal (generated, recovered or requeued). */
  enq: nat,
  /** Instances ever taken from that queue to be bound to a seq. */
  deq: nat,
  /** Highest seq an own instance is bound to, or -1: the leader must reach it for it to resolve. */
  upTo: z.int().min(-1),
});
/** A rank tells the leader of round what it has waiting. */
export const offerMsg = z.strictObject({
  t: z.literal("offer"),
  from: rank,
  round,
  state: offerState,
});
/** The leader of round allots seqs [seq, seq+max) to the receiver: bind own instances there. */
export const wantMsg = z.strictObject({
  t: z.literal("want"),
  from: rank,
  round,
  seq: nat,
  max: z.int().min(1).max(LIMITS.maxIdsPerFrame),
});
/** The owner's instances, durably bound to [seq, seq+ids.length), for the leader to impose. */
export const grantMsg = z.strictObject({
  t: z.literal("grant"),
  from: rank,
  round,
  seq: nat,
  ids,
  state: offerState,
});
export const nackMsg = z.strictObject({ t: z.literal("nack"), from: rank, round });
/** The leader of round ends it; everyone moves to round next (> round), led by a rank that has work. */
export const endMsg = z.strictObject({ t: z.literal("end"), from: rank, round, next: nat });
export const pingMsg = z.strictObject({ t: z.literal("ping"), from: rank, round });
export const commitMsg = z.strictObject({ t: z.literal("commit"), from: rank, seq: nat, ids });
export const statusMsg = z.strictObject({
  t: z.literal("status"),
  from: rank,
  commitIndex: nat,
  /** Own instances generated but not yet committed (pending or bound to a seq). */
  backlog: nat,
  generated: nat,
  /** Opaque to the protocol: set by whatever drives the rank from outside (the workload tells the
   * others it stopped generating, and that it sees the run converged). */
  note: z.int().min(0).max(0xffff),
});
export const fetchMsg = z.strictObject({
  t: z.literal("fetch"),
  from: rank,
  seq: nat,
  max: z.int().min(1).max(LIMITS.maxIdsPerFrame),
});
export const fetchedMsg = z.strictObject({ t: z.literal("fetched"), from: rank, seq: nat, ids });

/** A read barrier's probe: every acceptor answers how far its log goes (accepted or committed).
 * The nonce matches answers to the probe; probes carry no round (any acceptor answers). */
export const readIndexMsg = z.strictObject({ t: z.literal("readIndex"), from: rank, nonce: nat });
/** upTo: one past the highest seq this acceptor has accepted or committed. */
export const readIndexOkMsg = z.strictObject({
  t: z.literal("readIndexOk"),
  from: rank,
  nonce: nat,
  upTo: nat,
});

export const wireMsg = z.discriminatedUnion("t", [
  readMsg,
  gatherMsg,
  imposeMsg,
  ackMsg,
  nackMsg,
  endMsg,
  offerMsg,
  wantMsg,
  grantMsg,
  pingMsg,
  commitMsg,
  statusMsg,
  fetchMsg,
  fetchedMsg,
  readIndexMsg,
  readIndexOkMsg,
]);

export type ReadMsg = z.infer<typeof readMsg>;
export type GatherMsg = z.infer<typeof gatherMsg>;
export type ImposeMsg = z.infer<typeof imposeMsg>;
export type AckMsg = z.infer<typeof ackMsg>;
export type OfferMsg = z.infer<typeof offerMsg>;
export type OfferState = z.infer<typeof offerState>;
export type WantMsg = z.infer<typeof wantMsg>;
export type GrantMsg = z.infer<typeof grantMsg>;
export type NackMsg = z.infer<typeof nackMsg>;
export type EndMsg = z.infer<typeof endMsg>;
export type PingMsg = z.infer<typeof pingMsg>;
export type CommitMsg = z.infer<typeof commitMsg>;
export type StatusMsg = z.infer<typeof statusMsg>;
export type FetchMsg = z.infer<typeof fetchMsg>;
export type FetchedMsg = z.infer<typeof fetchedMsg>;
export type ReadIndexMsg = z.infer<typeof readIndexMsg>;
export type ReadIndexOkMsg = z.infer<typeof readIndexOkMsg>;
export type WireMsg = z.infer<typeof wireMsg>;
export type AcceptedRun = z.infer<typeof acceptedRun>;

/** Messages that take part in rounds (a larger round seen in one of them bumps the receiver). */
export type RoundMsg =
  | ReadMsg
  | GatherMsg
  | ImposeMsg
  | AckMsg
  | NackMsg
  | EndMsg
  | PingMsg
  | OfferMsg
  | WantMsg
  | GrantMsg;
export type LogMsg = CommitMsg | StatusMsg | FetchMsg | FetchedMsg | ReadIndexOkMsg;
