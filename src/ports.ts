// The ports a rank is built over. Real implementations live in io/, simulated ones in sim/,
// fault injectors in faults/ wrap them. Protocol code never touches anything else.
import type { WireMsg } from "./protocol/messages.js";
import type { StorageRecord } from "./protocol/effects.js";

/** Time as the rank sees it. All values are microseconds since the Unix epoch. */
export interface Clock {
  nowUs(): number;
  /** Run fn once after ms milliseconds; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
  /** Resolve after the pending macrotasks (timers, sockets) had a chance to run. */
  yieldNow(): Promise<void>;
}

/** Uniform random numbers in [0, 1). Only fault injection and jitter use it. */
export interface Random {
  next(): number;
}

/** Moves whole messages between ranks. send never blocks; it may drop (like a network). */
export interface Transport<M = WireMsg> {
  send(to: number, msg: M): void;
  /** Install the single receiver of incoming messages (including those a rank sends itself). */
  onMessage(handler: (msg: M) => void): void;
  close(): Promise<void>;
}

/** Durable acceptor state. append is buffered; sync resolves once everything appended is durable. */
export interface Storage {
  append(record: StorageRecord): void;
  sync(): Promise<void>;
  /** Records that survived the last run, in append order (empty on a fresh data directory). */
  load(): Promise<StorageRecord[]>;
  /** Hand what was appended to the OS without waiting for the disk (a process crash then loses
   * none of it). Storage that keeps nothing in the process need not have it. */
  flush?(): void;
  close(): Promise<void>;
}

/** Storage that can replace its history by a snapshot of the current state (bounded size). */
export interface Checkpointable {
  readonly size: number;
  checkpoint(records: readonly StorageRecord[]): Promise<void>;
}

/** Where generate/commit lines go. write is buffered; flush hands them to the OS (a process crash
 * no longer loses them). load returns what the log held before this run (for a restart). */
export interface LogSink {
  write(line: string): void;
  flush(): void;
  load(): string;
  close(): Promise<void>;
}

/** A state-machine snapshot: the state as of seq (the last seq applied to it), as bytes. */
export interface StoredSnapshot {
  seq: number;
  data: Uint8Array;
}

/** Snapshots above this size are refused unless a store is configured otherwise. */
export const DEFAULT_MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024;

/** A snapshot is over its store's size limit (save: nothing was written; load: nothing was read). */
export class SnapshotTooLargeError extends Error {
  override name = "SnapshotTooLargeError";
}

/** Keeps the latest state-machine snapshot. save replaces the previous one atomically and is durable
 * when it resolves (saves take effect in call order; data must not change until it resolves); over
 * the store's limit it rejects with SnapshotTooLargeError. load gives the latest complete snapshot,
 * or null when none was ever saved (it rejects when what is stored cannot be trusted: never a
 * damaged snapshot, never an older one instead). */
export interface SnapshotStore {
  /** The largest snapshot it keeps (default DEFAULT_MAX_SNAPSHOT_BYTES). */
  readonly maxBytes?: number;
  save(snapshot: StoredSnapshot): Promise<void>;
  load(): Promise<StoredSnapshot | null>;
}

/** The replicated state: every rank applies the same commands in the same seq order. apply must be
 * deterministic (same commands, same order: same state and results on every rank) and must not
 * throw for a command it cannot use (answer with an error result instead: the command is in the
 * log for good). snapshot returns the state as of the last seq applied; restore replaces the
 * state by a snapshot taken at seq (the last seq it covers). */
export interface StateMachine {
  apply(seq: number, command: Uint8Array): unknown;
  snapshot(): Uint8Array;
  restore(snapshot: Uint8Array, seq: number): void;
}
