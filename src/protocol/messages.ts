// Wire messages between ranks: zod schemas (validated at the network boundary) and their types.
// Every message names its sender. Protocol messages carry the sender's round ("estround");
// log-repair messages (commit, status, fetch, fetched) do not take part in rounds.
import { z } from "zod";
import { leaseMsg, type LeaseMsg } from "./lease_messages.js";

/** Hard limits that keep a malformed or hostile frame from costing memory. */
export const LIMITS = {
  maxRanks: 64,
  maxIdsPerFrame: 65_536,
  maxIdLength: 256,
  /** A frame may carry several commands of up to maxCommandBytes each (senders cut batches at
   * BATCH_BYTES, so only a gather after a long stall comes near this). */
  maxFrameBytes: 64 * 1024 * 1024,
  /** The largest command the wire carries (a rank may be configured lower, never higher). */
  maxCommandBytes: 8 * 1024 * 1024,
} as const;

/** Senders cut impose, commit, grant and fetched frames once their commands reach this many bytes
 * (one command larger than this still travels, alone). */
export const BATCH_BYTES = 1024 * 1024;

/** The command of an instance the library made up itself (a filler, a read barrier's nudge, an
 * instance from propose()): a no-op the state machine never sees. */
export const NO_OP: Uint8Array = new Uint8Array(0);

/** Snapshot chunks are at most this many bytes. */
export const SNAP_CHUNK_BYTES = 256 * 1024;

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
/** Bytes of any backing buffer (z.instanceof would narrow them to an ArrayBuffer-backed type). */
const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, "expected bytes");
const command = bytes.refine((b) => b.length <= LIMITS.maxCommandBytes, "command too large");
/** The commands of the instances named by `ids`, index for index. Absent: every one is a no-op
 * (NO_OP). Where both are present they have the same length (checked with sameLength). */
const cmds = z.array(command).max(LIMITS.maxIdsPerFrame).optional();

/** A run of consecutive seqs accepted in one round: [first seq, round, ids, cmds?]. */
const acceptedRun = z.union([
  z.tuple([nat, round, ids]),
  z.tuple([nat, round, ids, command.array()]),
]);

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
  cmds,
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
  cmds,
  state: offerState,
});
export const nackMsg = z.strictObject({ t: z.literal("nack"), from: rank, round });
/** The leader of round ends it; everyone moves to round next (> round), led by a rank that has work. */
export const endMsg = z.strictObject({ t: z.literal("end"), from: rank, round, next: nat });
export const pingMsg = z.strictObject({ t: z.literal("ping"), from: rank, round });
export const commitMsg = z.strictObject({
  t: z.literal("commit"),
  from: rank,
  seq: nat,
  ids,
  cmds,
});
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
export const fetchedMsg = z.strictObject({
  t: z.literal("fetched"),
  from: rank,
  seq: nat,
  ids,
  cmds,
});
/** A snapshot's bytes, asked for in chunks (offset) so memory stays bounded on both sides and a
 * transfer cut off resumes where it stopped. seq: the last seq the snapshot covers. */
export const snapFetchMsg = z.strictObject({
  t: z.literal("snapFetch"),
  from: rank,
  seq: nat,
  offset: nat,
});
/** One chunk of the sender's snapshot (also the answer to a fetch below what the sender still
 * holds: its first chunk). total: the snapshot's size; crc: crc32 of all its bytes. */
export const snapChunkMsg = z.strictObject({
  t: z.literal("snapChunk"),
  from: rank,
  seq: nat,
  total: nat,
  crc: z.int().min(0).max(0xffffffff),
  offset: nat,
  data: bytes.refine((b) => b.length <= SNAP_CHUNK_BYTES, "chunk too large"),
});

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
  snapFetchMsg,
  snapChunkMsg,
  leaseMsg,
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
export type SnapFetchMsg = z.infer<typeof snapFetchMsg>;
export type SnapChunkMsg = z.infer<typeof snapChunkMsg>;
export type WireMsg = z.infer<typeof wireMsg>;
/** What the consensus processors get: every peer message but the master lease's, which the rank
 * hands to its lease handler instead (lease_messages.ts). */
export type ProtocolMsg = Exclude<WireMsg, LeaseMsg>;
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
export type LogMsg =
  CommitMsg | StatusMsg | FetchMsg | FetchedMsg | ReadIndexOkMsg | SnapFetchMsg | SnapChunkMsg;

/** Messages whose ids and cmds must pair up index for index (checked at the boundary). */
export function cmdsMatchIds(msg: WireMsg): boolean {
  switch (msg.t) {
    case "impose":
    case "grant":
    case "commit":
    case "fetched":
      return msg.cmds === undefined || msg.cmds.length === msg.ids.length;
    case "gather":
      return msg.runs.every((r) => r[3] === undefined || r[3].length === r[2].length);
    default:
      return true;
  }
}

/** ids with their commands, in the shape messages and records carry them: cmds left out when
 * every command is a no-op (a YASP run's frames and records look as they did without commands). */
export function withCmds(
  ids: string[],
  cmds: readonly Uint8Array[],
): { ids: string[]; cmds?: Uint8Array[] } {
  return cmds.some((c) => c.length > 0) ? { ids, cmds: [...cmds] } : { ids };
}

/** The command at index i of a message's cmds (NO_OP when they are absent). */
export function cmdAt(cmds: readonly Uint8Array[] | undefined, i: number): Uint8Array {
  return cmds?.[i] ?? NO_OP;
}
