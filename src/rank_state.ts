// The rank's replicated state on this side of the protocol: the state machine the library user
// gave (or a no-op one), the last seq applied to it, and its snapshots. Commands are applied in
// seq order as the consensus processor commits them; a peer's snapshot replaces the state.
import {
  DEFAULT_MAX_SNAPSHOT_BYTES,
  SnapshotTooLargeError,
  type SnapshotStore,
  type StateMachine,
  type StoredSnapshot,
} from "./ports.js";
import { invariant } from "./protocol/assert.js";

/** What a rank without a state machine replicates: nothing but the order. */
export class NoStateMachine implements StateMachine {
  apply(): undefined {
    return undefined;
  }
  snapshot(): Uint8Array {
    return new Uint8Array(0);
  }
  restore(): void {}
}

/** Keeps the latest snapshot in memory (a rank built without a snapshot store: tests, examples). */
export class MemorySnapshotStore implements SnapshotStore {
  private latest: StoredSnapshot | null = null;

  constructor(readonly maxBytes = DEFAULT_MAX_SNAPSHOT_BYTES) {}

  save(s: StoredSnapshot): Promise<void> {
    if (s.data.length > this.maxBytes)
      return Promise.reject(new SnapshotTooLargeError(`snapshot of ${s.data.length} bytes`));
    this.latest = { seq: s.seq, data: s.data.slice() };
    return Promise.resolve();
  }

  load(): Promise<StoredSnapshot | null> {
    return Promise.resolve(this.latest);
  }
}

export class RankState {
  /** The last seq applied to the state machine (-1: none). */
  appliedSeq = -1;
  /** The last seq of the latest snapshot saved or installed (-1: none). */
  snapshotSeq = -1;
  /** Saves in call order: an install's save and a periodic one never overtake each other. */
  private saving: Promise<void> = Promise.resolve();

  constructor(
    readonly machine: StateMachine,
    readonly store: SnapshotStore,
    private readonly me: number,
  ) {}

  /** Restart: the stored snapshot, if any, becomes the state. */
  async restoreStored(): Promise<StoredSnapshot | null> {
    const s = await this.store.load();
    if (s) {
      this.machine.restore(s.data, s.seq);
      this.appliedSeq = this.snapshotSeq = s.seq;
    }
    return s;
  }

  /** The committed command at seq (the next one): its result (no-ops are not applied). A state
   * machine that throws halts the rank: skipping the command would fork the replicas. */
  apply(seq: number, cmd: Uint8Array): unknown {
    invariant(
      seq === this.appliedSeq + 1,
      () => `rank ${this.me}: applying seq ${seq} after seq ${this.appliedSeq}`,
    );
    this.appliedSeq = seq;
    return cmd.length > 0 ? this.machine.apply(seq, cmd) : undefined;
  }

  /** A peer's snapshot covering up to seq becomes the state, and is kept (saved in order). */
  install(seq: number, data: Uint8Array): Promise<void> {
    this.machine.restore(data, seq);
    this.appliedSeq = seq;
    return this.save({ seq, data });
  }

  /** The state as of the last applied seq, saved durably. Resolves with the snapshot saved. */
  async take(): Promise<StoredSnapshot> {
    const snapshot = { seq: this.appliedSeq, data: this.machine.snapshot() };
    await this.save(snapshot);
    return snapshot;
  }

  private save(s: StoredSnapshot): Promise<void> {
    const next = this.saving.then(() => this.store.save(s));
    this.saving = next.catch(() => {});
    return next.then(() => {
      this.snapshotSeq = Math.max(this.snapshotSeq, s.seq);
    });
  }
}
