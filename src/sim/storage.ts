import type { StorageRecord } from "../protocol/effects.js";
import type { Storage } from "../ports.js";

/** A simulated disk: what was synced survives a crash, what was only appended does not. */
export class SimStorage implements Storage {
  private durable: StorageRecord[] = [];
  private buffer: StorageRecord[] = [];

  append(record: StorageRecord): void {
    this.buffer.push(record);
  }

  sync(): Promise<void> {
    for (const r of this.buffer) this.durable.push(r);
    this.buffer = [];
    return Promise.resolve();
  }

  load(): Promise<StorageRecord[]> {
    return Promise.resolve([...this.durable]);
  }

  close(): Promise<void> {
    return this.sync();
  }

  /** The process died: unsynced records are gone. */
  crash(): void {
    this.buffer = [];
  }
}
