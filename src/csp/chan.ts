// A small typed layer over ts-csp channels: every write is nonblocking (offer), every read has a
// timeout (recv). See ../shared/docs/toolchain-and-csp.md for why it is built this way:
// - putSync ignores capacity, so offer checks the free space itself;
// - Promise.race on take() loses messages, so a timed read registers one select-take operation
//   and unregisters it on timeout (nothing stays registered, nothing is eaten);
// - a value that is already there is taken synchronously (the fast path).
import { Channel, CLOSED, OperationType, type TakeOperation } from "ts-csp";
import type { Clock } from "../ports.js";

export class Chan<T extends object> {
  private readonly ch: Channel;
  /** Writes refused because the channel was full or closed. */
  refused = 0;
  delivered = 0;

  constructor(
    readonly name: string,
    readonly capacity: number,
    private readonly clock: Pick<Clock, "after">,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`channel ${name}: capacity must be >= 1`);
    this.ch = new Channel(capacity);
  }

  /** Nonblocking write: false (and counted) when the channel is full or closed. */
  offer(value: T): boolean {
    if (this.ch.isClosed() || !this.ch.canPutSync(1)) {
      this.refused++;
      return false;
    }
    this.ch.putSync(value);
    this.delivered++;
    return true;
  }

  /** Nonblocking read: the next value, or undefined if none is ready. */
  poll(): T | undefined {
    if (!this.ch.canTakeSync(1)) return undefined;
    return unwrap<T>(this.ch.takeSync());
  }

  /** Read with a timeout: the next value, or undefined after timeoutMs (or once closed and empty). */
  recv(timeoutMs: number): Promise<T | undefined> {
    if (this.ch.canTakeSync(1)) return Promise.resolve(unwrap<T>(this.ch.takeSync()));
    return new Promise((resolve) => {
      const op: TakeOperation = {
        op: OperationType.TAKE,
        ch: this.ch as unknown as TakeOperation["ch"],
      };
      let settled = false;
      const cancelTimer = this.clock.after(Math.max(0, timeoutMs), () => {
        if (settled) return;
        settled = true;
        this.ch._unselect(op);
        resolve(undefined);
      });
      // Called synchronously by the channel when a value (or close) arrives; the value is taken
      // right here, so it cannot be lost between wake-up and take.
      this.ch._select(op, () => {
        if (settled) return;
        settled = true;
        this.ch._unselect(op);
        cancelTimer();
        resolve(unwrap<T>(this.ch.takeSync()));
      });
    });
  }

  /** Values waiting to be read. */
  size(): number {
    return this.ch._availableForSyncTake();
  }

  /** Number of readers currently parked on this channel (0 or 1 in a well-formed program). */
  parkedReaders(): number {
    return (this.ch as unknown as { _selectTakes: unknown[] })._selectTakes.length;
  }

  close(): void {
    this.ch.close();
  }

  isClosed(): boolean {
    return this.ch.isClosed();
  }
}

function unwrap<T>(value: unknown): T | undefined {
  return value === CLOSED ? undefined : (value as T);
}
