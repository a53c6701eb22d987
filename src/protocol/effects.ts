// What flows between the four processors of one rank, and what a processor's pure logic asks its
// shell to do (effects). Pure logic never performs I/O: it appends effects to an array.
import type {
  AckMsg,
  GatherMsg,
  GrantMsg,
  ImposeMsg,
  LogMsg,
  OfferMsg,
  ReadIndexMsg,
  ReadMsg,
  WantMsg,
  ProtocolMsg,
  WireMsg,
} from "./messages.js";

export type BumpReason = "timeout" | "giveup";

/** msg handler inbox: frames from the network and bump requests from leader/follower. */
export type MsgIn =
  | { kind: "net"; msg: ProtocolMsg }
  | { kind: "bump"; round: number; reason: BumpReason; by: "leader" | "follower" | "consensus" };

/** The rank's own progress, sent by the consensus handler to leader and follower (lossy, repeated). */
export interface LocalStatus {
  kind: "local";
  commitIndex: number;
  backlog: number;
}

/** patience (absent: 1): the follower's silence and the leader's give-up time are that many times
 * their usual length, after rounds failed one after another (patience.ts). */
export type RoundChange = { kind: "round"; round: number; patience?: number };

export type LeaderIn =
  RoundChange | { kind: "net"; msg: GatherMsg | AckMsg | OfferMsg | GrantMsg } | LocalStatus;

export type FollowerIn =
  | RoundChange
  | { kind: "net"; msg: ReadMsg | ImposeMsg | ReadIndexMsg }
  | LocalStatus
  /** A rejoining rank caught up: its acceptor may vote from now on (repeated: it is lossy). */
  | { kind: "vote" };

export type ConsensusIn =
  | { kind: "net"; msg: LogMsg | WantMsg }
  /** The round changed: offers go to its leader. */
  | RoundChange
  /** A proposal from the library API (count 0 only wakes the loop: a paced source may have started). */
  | { kind: "propose"; count: number }
  /** The note this rank's status messages carry from now on (told to every peer at once). */
  | { kind: "note"; note: number }
  /** A read barrier starts (answered by a readDone effect with the same ticket). */
  | { kind: "readBarrier"; ticket: number }
  /** A command from the library API (answered by the committed effect that carries ticket). */
  | { kind: "submit"; ticket: number; cmd: Uint8Array }
  /** The shell saved a snapshot covering up to seq: serve it to peers, forget the log below it. */
  | { kind: "snapshot"; seq: number; data: Uint8Array };

/** What a rank makes durable before it reveals it: the acceptor's promise, accepts and floor;
 * the consensus handler's own instances (proposed, then bound to seqs) and commits. cmds as in
 * messages: absent means every command is a no-op. */
export type StorageRecord =
  | { r: "promise"; round: number }
  | { r: "accept"; round: number; seq: number; ids: string[]; cmds?: Uint8Array[] }
  | { r: "floor"; seq: number }
  /** Own instances just proposed (so a restart proposes them again). */
  | { r: "propose"; ids: string[]; cmds?: Uint8Array[] }
  | { r: "bind"; seq: number; ids: string[]; cmds?: Uint8Array[] }
  /** Values committed at seq, seq+1, ... (recovery rebuilds the log above the snapshot from them). */
  | { r: "commit"; seq: number; ids: string[]; cmds?: Uint8Array[] }
  /** This rank's generate counter is at least next (kept across checkpoints: ids stay unique). */
  | { r: "gen"; next: number };

export type Effect =
  | { kind: "send"; to: number; msg: WireMsg }
  /** To every rank, this one included. */
  | { kind: "broadcast"; msg: WireMsg }
  | { kind: "toMsg"; msg: MsgIn }
  | { kind: "toLeader"; msg: LeaderIn }
  | { kind: "toFollower"; msg: FollowerIn }
  | { kind: "toConsensus"; msg: ConsensusIn }
  | { kind: "persist"; record: StorageRecord }
  /** A text-log line. Generate lines are written before the step's records are persisted (a
   * durable record never names an instance whose generate line could be lost); afterPersist
   * lines (commits, installs) after (a commit line never precedes its commit record). */
  | { kind: "log"; line: string; afterPersist?: true }
  /** Something an operator must hear about (one line on stderr). */
  | { kind: "warn"; line: string }
  /** A value committed (in seq order): the shell applies its command to the state machine and
   * answers the submission with ticket, if this rank submitted it. */
  | { kind: "committed"; seq: number; id: string; cmd: Uint8Array; ticket?: number }
  /** A peer's snapshot, covering up to seq, replaces the state (before any later commit applies). */
  | { kind: "install"; seq: number; data: Uint8Array }
  /** A submission whose outcome cannot be known any more (see Proposer.dropBoundBelow). */
  | { kind: "submitUnknown"; ticket: number }
  /** A read barrier is satisfied: everything committed before it started is at seq <= seq. */
  | { kind: "readDone"; ticket: number; seq: number };

/** The shape every processor's pure logic has: an input or the passage of time in, effects out. */
export interface ProcessorLogic<I> {
  onInput(input: I, nowUs: number, out: Effect[]): void;
  /** Called when the read timed out or nowUs reached wakeAt(). */
  onTime(nowUs: number, out: Effect[]): void;
  /** When this logic next needs onTime, in µs (Infinity: only on read timeout). */
  wakeAt(): number;
  /** Called once at the end of every step (after its inputs and any onTime): what the step
   * produced can leave as fewer, larger frames (batching that adds no wait). */
  endStep?(nowUs: number, out: Effect[]): void;
}

/** Leader of a round: round-robin over the ranks. */
export function leaderOf(round: number, n: number): number {
  return round % n;
}

export function quorumOf(n: number): number {
  return Math.floor(n / 2) + 1;
}
