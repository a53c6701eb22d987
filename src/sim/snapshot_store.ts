import {
  DEFAULT_MAX_SNAPSHOT_BYTES,
  SnapshotTooLargeError,
  type Clock,
  type SnapshotStore,
  type StoredSnapshot,
} from "../ports.js";

/** A simulated snapshot file: a save takes (virtual) time and counts only once it resolves; a crash
 * loses every save still under way and keeps the last complete one, which is what write-then-rename
 * gives on a real disk. Saves complete one at a time, in call order, like the real store's. */
export class SimSnapshotStore implements SnapshotStore {
  private durable: StoredSnapshot | null = null;
  /** Bumped by a crash: a save started before it finds a different epoch and is dropped. */
  private epoch = 0;
  private tail: Promise<void> = Promise.resolve();
  /** Saves that completed (and were kept). */
  saves = 0;

  /** latencyUs: how long a save of that many bytes takes (none: at once). */
  constructor(
    private readonly clock?: Pick<Clock, "after">,
    private readonly latencyUs: (bytes: number) => number = () => 0,
    readonly maxBytes = DEFAULT_MAX_SNAPSHOT_BYTES,
  ) {}

  save({ seq, data }: StoredSnapshot): Promise<void> {
    if (!Number.isSafeInteger(seq) || seq < 0) {
      return Promise.reject(new RangeError(`snapshot seq must be a non-negative integer: ${seq}`));
    }
    if (data.length > this.maxBytes) {
      return Promise.reject(
        new SnapshotTooLargeError(
          `snapshot of ${data.length} bytes is over the limit of ${this.maxBytes} bytes: not saved`,
        ),
      );
    }
    // A copy: what the caller does to its bytes afterwards must not reach the "disk".
    const image = { seq, data: data.slice() };
    const epoch = this.epoch;
    const run = this.tail.then(() => this.persist(image, epoch));
    this.tail = run;
    return run;
  }

  /** The latest complete snapshot, after the saves called before this load (a copy, as a read from
   * disk would be). */
  load(): Promise<StoredSnapshot | null> {
    return this.tail.then(() => {
      const d = this.durable;
      return d === null ? null : { seq: d.seq, data: d.data.slice() };
    });
  }

  /** The process died: saves under way are lost (their promises still resolve, as SimStorage's
   * syncs do, but nothing the dead process does afterwards counts). The last complete one stays. */
  crash(): void {
    this.epoch++;
    // A restarted process does not wait for the dead one's writes.
    this.tail = Promise.resolve();
  }

  private persist(image: StoredSnapshot, epoch: number): Promise<void> {
    const keep = () => {
      if (epoch !== this.epoch) return;
      this.durable = image;
      this.saves++;
    };
    const delay = this.latencyUs(image.data.length);
    if (!this.clock || delay <= 0) {
      keep();
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.clock?.after(delay / 1000, () => {
        keep();
        resolve();
      }),
    );
  }
}
