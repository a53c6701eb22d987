// commits() for any number of consumers: each iterator has its own queue, so one consumer never
// takes commits from another. A queue is bounded: a consumer that falls that far behind gets an
// error instead of the rank's memory.
import type { Commit } from "./rank_types.js";

/** Most commits one consumer may leave unread. */
export const FEED_LIMIT = 1 << 20;

/** A commits() consumer fell FEED_LIMIT commits behind; its iterator ends with this error. */
export class CommitFeedOverflowError extends Error {
  override readonly name = "CommitFeedOverflowError";
}

interface Subscriber {
  queue: Commit[];
  head: number;
  wake: (() => void) | null;
  overflowed: boolean;
}

export class CommitFeed {
  private readonly subs = new Set<Subscriber>();
  /** With emitCommits: the queue kept from creation for the first consumer. */
  private early: Subscriber | null;
  private ended = false;

  constructor(keepFromStart: boolean) {
    this.early = keepFromStart ? this.subscribe() : null;
  }

  /** Someone iterates commits (else the caller need not build them). */
  get wanted(): boolean {
    return this.subs.size > 0;
  }

  push(c: Commit): void {
    for (const s of this.subs) {
      if (s.queue.length - s.head >= FEED_LIMIT) {
        s.overflowed = true;
        this.subs.delete(s);
      } else s.queue.push(c);
      s.wake?.();
      s.wake = null;
    }
  }

  end(): void {
    this.ended = true;
    for (const s of this.subs) s.wake?.();
  }

  /** A new consumer, subscribed now (not at its first next(): generators start lazily). */
  iterate(): AsyncGenerator<Commit> {
    const sub = this.early ?? this.subscribe();
    this.early = null;
    return this.drain(sub);
  }

  private async *drain(sub: Subscriber): AsyncGenerator<Commit> {
    try {
      for (;;) {
        if (sub.head < sub.queue.length) {
          const c = sub.queue[sub.head++] as Commit;
          if (sub.head > 4096 && sub.head * 2 > sub.queue.length) {
            sub.queue = sub.queue.slice(sub.head);
            sub.head = 0;
          }
          yield c;
          continue;
        }
        if (sub.overflowed)
          throw new CommitFeedOverflowError(`a commits() consumer fell ${FEED_LIMIT} behind`);
        if (this.ended) return;
        await new Promise<void>((resolve) => (sub.wake = resolve));
      }
    } finally {
      this.subs.delete(sub);
    }
  }

  private subscribe(): Subscriber {
    const sub: Subscriber = { queue: [], head: 0, wake: null, overflowed: false };
    this.subs.add(sub);
    return sub;
  }
}
