import { encodeRecordBody } from "../io/record_codec.js";
import type { StorageRecord } from "../protocol/effects.js";
import type { Checkpointable, Clock, Storage } from "../ports.js";

/** A simulated disk: a sync takes (virtual) time; what was synced survives a crash, what was only
 * appended, or still being synced, does not. */
export class SimStorage implements Storage, Checkpointable {
  private durable: StorageRecord[] = [];
  private buffer: StorageRecord[] = [];
  private epoch = 0;
  /** Rough bytes held (what a WAL file of these records would weigh). */
  size = 0;
  checkpoints = 0;

  /** latencyUs: how long each sync takes (none: at once). */
  constructor(
    private readonly clock?: Pick<Clock, "after">,
    private readonly latencyUs: () => number = () => 0,
  ) {}

  append(record: StorageRecord): void {
    this.buffer.push(record);
    this.size += recordBytes(record);
  }

  /** Replace everything by a snapshot of the state (atomic, like write + rename). Every record
   * goes through the real WAL's encoder first, which refuses what recovery could not read back
   * (a checkpoint once wrote a promise of round -1 that only the real WAL refused). */
  checkpoint(records: readonly StorageRecord[]): Promise<void> {
    for (const r of records) encodeRecordBody(r);
    this.durable = [...records];
    this.buffer = [];
    this.size = records.reduce((n, r) => n + recordBytes(r), 0);
    this.checkpoints++;
    return Promise.resolve();
  }

  /** A process crash keeps what reached the OS: flushed records survive it. */
  flush(): void {
    for (const r of this.buffer) this.durable.push(r);
    this.buffer = [];
  }

  sync(): Promise<void> {
    const batch = this.buffer;
    this.buffer = [];
    const delay = this.latencyUs();
    if (!this.clock || delay <= 0) {
      for (const r of batch) this.durable.push(r);
      return Promise.resolve();
    }
    const epoch = this.epoch;
    return new Promise((resolve) =>
      this.clock?.after(delay / 1000, () => {
        if (epoch === this.epoch) for (const r of batch) this.durable.push(r);
        resolve();
      }),
    );
  }

  load(): Promise<StorageRecord[]> {
    return Promise.resolve([...this.durable]);
  }

  close(): Promise<void> {
    for (const r of this.buffer) this.durable.push(r);
    this.buffer = [];
    return Promise.resolve();
  }

  /** The process died: unsynced records (and syncs under way) are gone. */
  crash(): void {
    this.buffer = [];
    this.epoch++;
  }

  get records(): number {
    return this.durable.length;
  }
}

/** Roughly what a record weighs in a WAL file: a header, its ids and its commands' bytes (so a
 * workload of commands reaches checkpointBytes sooner than one of no-ops). */
function recordBytes(record: StorageRecord): number {
  if (!("ids" in record)) return 24;
  const cmds = record.cmds?.reduce((n, c) => n + c.length, 0) ?? 0;
  return 24 + record.ids.length * 12 + cmds;
}
