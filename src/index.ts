// yasp as a library: build a rank over ports of your choice with a state machine, submit
// commands, read barriers, iterate commits, stop; or drive it with a workload (the YASP
// background run is one).
// The simulator is not part of it: it is the separate "yasp/testing" entry (src/testing.ts).
export { Rank } from "./rank.js";
export {
  DEFAULTS,
  type RankConfig,
  type RankPorts,
  type RankOptions,
  type Commit,
  type RankSummary,
  type RankStatus,
  type RankProgress,
  type PeerProgress,
  type Submitted,
  DEFAULT_MAX_COMMAND_BYTES,
} from "./rank_types.js";
export type { ProposalSource } from "./protocol/proposing.js";
export { InvariantError } from "./protocol/assert.js";
export {
  RankBusyError,
  RankStoppedError,
  CommandTooLargeError,
  OutcomeUnknownError,
} from "./rank_waiters.js";
export { CommitFeedOverflowError } from "./commit_feed.js";
export { MemorySnapshotStore } from "./rank_state.js";
export {
  BackgroundWorkload,
  BACKGROUND_DEFAULTS,
  type BackgroundOptions,
} from "./workload/driver.js";
export type {
  Clock,
  Random,
  Transport,
  Storage,
  LogSink,
  StateMachine,
  SnapshotStore,
  StoredSnapshot,
} from "./ports.js";
export { DEFAULT_MAX_SNAPSHOT_BYTES, SnapshotTooLargeError } from "./ports.js";
export { FileSnapshotStore, snapshotPath, SnapshotCorruptError } from "./io/snapshot_store.js";
export { SystemClock } from "./io/system_clock.js";
export { TcpTransport, type PeerAddress } from "./io/tcp_transport.js";
export { FileLogSink } from "./io/file_log.js";
export { MemoryStorage } from "./io/memory_storage.js";
export { WalStorage } from "./io/wal.js";
