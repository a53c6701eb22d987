import type { StorageRecord } from "../protocol/effects.js";
import type { Storage } from "../ports.js";

/** Acceptor state kept in memory only: it survives nothing. The durable one is the WAL. */
export class MemoryStorage implements Storage {
  readonly records: StorageRecord[] = [];

  append(record: StorageRecord): void {
    this.records.push(record);
    // Only the latest promise matters; keep memory flat on long runs.
    if (this.records.length > 100_000) this.records.splice(0, this.records.length - 50_000);
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  load(): Promise<StorageRecord[]> {
    return Promise.resolve([...this.records]);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
