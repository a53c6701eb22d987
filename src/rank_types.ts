// The shapes of the library API around a rank: its configuration and defaults, the ports it is
// built over, the options of Rank.create, and what it reports (summary, status, progress).
import type { Clock, LogSink, SnapshotStore, StateMachine, Storage, Transport } from "./ports.js";
import type { ConsensusStats } from "./protocol/consensus_handler.js";
import type { FollowerHandler, FollowerStats } from "./protocol/follower_handler.js";
import type { LeaderHandler, LeaderStats } from "./protocol/leader_handler.js";
import type { MsgHandler, MsgStats } from "./protocol/msg_handler.js";
import type { ProposalSource } from "./protocol/proposing.js";

export interface RankConfig {
  me: number;
  n: number;
  /** -o: channel read timeout, ms; every protocol timeout derives from it. */
  timeoutMs: number;
  /** -l: most new instances a leader imposes in one round. */
  maxPerRound: number;
  batch: number;
  window: number;
  channelCapacity: number;
  fetchMax: number;
  /** Past this many bytes of write-ahead log, the rank takes a state-machine snapshot and
   * rewrites the log without what the snapshot covers. */
  checkpointBytes: number;
}

export const DEFAULTS = {
  timeoutMs: 100,
  maxPerRound: 200,
  batch: 256,
  window: 8,
  channelCapacity: 4096,
  fetchMax: 4096,
  checkpointBytes: 64 * 1024 * 1024,
} as const;

export interface RankPorts {
  clock: Clock;
  transport: Transport;
  storage: Storage;
  logSink: LogSink;
  /** Where state-machine snapshots are kept (default: in memory, gone with the process). */
  snapshots?: SnapshotStore;
}

export interface Commit {
  seq: number;
  id: string;
  /** The command (empty: a no-op the library made). */
  cmd: Uint8Array;
}

/** What submit resolves with: where the command was committed, and what apply() returned. */
export interface Submitted {
  seq: number;
  result: unknown;
}

/** Commands above this size are refused unless RankOptions.maxCommandBytes says otherwise. */
export const DEFAULT_MAX_COMMAND_BYTES = 1024 * 1024;

export interface RankSummary {
  rank: number;
  generated: number;
  committed: number;
  consensus: ConsensusStats;
  refusedWrites: Record<string, number>;
  rounds: number;
  /** Counters of the processors (bumps, give-ups, timeouts, retransmits...): what a run went through. */
  protocol: { msg: MsgStats; leader: LeaderStats; follower: FollowerStats };
}

/** What a rank is doing now (for a status file a scenario runner or a benchmark reads). */
export interface RankStatus {
  rank: number;
  /** The rank's current round (estround) and the rank that leads it (round mod n). */
  round: number;
  leader: number;
  /** The round this rank leads and its phase, if it leads one now. */
  leading: { round: number; phase: string } | null;
  commitIndex: number;
  generated: number;
  /** Instances made up in this life to fill a seq the leader allotted when none was pending. */
  fillers: number;
}

/** The last status heard from a peer. */
export interface PeerProgress {
  commitIndex: number;
  backlog: number;
  generated: number;
  /** What the peer's driver (workload) set with setNote. */
  note: number;
}

/** What this rank knows of its log and of the others (what a workload decides on). */
export interface RankProgress {
  commitIndex: number;
  /** Own instances generated and not yet committed. */
  backlog: number;
  /** Values known chosen above a missing seq. */
  hasGap: boolean;
  generated: number;
  /** Indexed by rank; undefined: never heard from (and this rank's own slot). */
  peers: readonly (PeerProgress | undefined)[];
}

export interface RankOptions {
  /** The replicated state: every committed command is applied to it, in seq order (default: none,
   * only the order is replicated). */
  stateMachine?: StateMachine;
  /** Largest command submit accepts (default 1 MiB, at most 8 MiB: what a frame carries). */
  maxCommandBytes?: number;
  /** This rank lost its disk (its data directory was wiped) and rejoins a running cluster: if it
   * has no vote stored (no promise or accept), its acceptor does not vote until it has caught up with a
   * majority of the others (it forgot its promises and accepts), and its instance ids start
   * afresh. Never set it for the ranks of a new cluster: none of them would ever vote. */
  rejoin?: boolean;
  /** Keep every commit from creation for the first commits() consumer (later consumers get the
   * commits from their call on). */
  emitCommits?: boolean;
  /** Operator warnings (one line each). */
  warn?: (line: string) => void;
  /** A paced producer of own instances (the background workload). */
  source?: ProposalSource;
  /** Which classes run the processors: the simulator swaps in subclasses with known bugs, to prove
   * it finds them. Leave it alone. */
  processors?: Partial<ProcessorClasses>;
}

export interface ProcessorClasses {
  Msg: typeof MsgHandler;
  Leader: typeof LeaderHandler;
  Follower: typeof FollowerHandler;
}
