import type { StorageRecord } from "../protocol/effects.js";
import type { Storage } from "../ports.js";

/** No durability at all: nothing is kept, so a restart starts fresh. For library use and tests
 * that never restart a rank; the durable storage is the WAL (WalStorage). */
export class MemoryStorage implements Storage {
  append(_record: StorageRecord): void {}

  sync(): Promise<void> {
    return Promise.resolve();
  }

  load(): Promise<StorageRecord[]> {
    return Promise.resolve([]);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
