// yasp as a library: build a rank over ports of your choice, propose, iterate commits, stop.
// The simulator is not part of it: it is the separate "yasp/testing" entry (src/testing.ts).
export { Rank, DEFAULTS, type RankConfig, type RankPorts, type Commit, type RankSummary } from "./rank.js";
export type { Clock, Random, Transport, Storage, LogSink } from "./ports.js";
export { SystemClock } from "./io/system_clock.js";
export { TcpTransport, type PeerAddress } from "./io/tcp_transport.js";
export { FileLogSink } from "./io/file_log.js";
export { MemoryStorage } from "./io/memory_storage.js";
export { WalStorage } from "./io/wal.js";
