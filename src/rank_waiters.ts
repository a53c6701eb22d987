// Callers waiting for their rank to answer (read barriers, submissions): one ticket each,
// at most `limit` handed to the processors at once. Past the limit a caller waits for a free slot
// (memory stays bounded by the callers, not by the rank); past `limit` waiting callers too, it is
// refused with RankBusyError. When the rank stops, every caller still waiting is rejected.

/** More callers are waiting on this rank than it lets queue up. */
export class RankBusyError extends Error {
  override readonly name = "RankBusyError";
}

/** The rank stopped (or halted on a broken invariant) before it answered. */
export class RankStoppedError extends Error {
  override readonly name = "RankStoppedError";
}

/** A command larger than the rank accepts: nothing was proposed. */
export class CommandTooLargeError extends Error {
  override readonly name = "CommandTooLargeError";
}

/** The command may or may not have been committed: a peer's snapshot covered its seq before this
 * rank learned which value won there. */
export class OutcomeUnknownError extends Error {
  override readonly name = "OutcomeUnknownError";
}

/** At most `limit` bytes taken at once; take waits for room (one take larger than the limit
 * proceeds alone, when nothing else is taken). */
export class ByteBudget {
  private used = 0;
  private readonly waiting: Array<{ bytes: number; resolve(): void; reject(e: Error): void }> = [];
  private stoppedWith: Error | null = null;

  constructor(private readonly limit: number) {}

  async take(bytes: number): Promise<void> {
    if (this.stoppedWith) throw this.stoppedWith;
    if (this.waiting.length === 0 && this.fits(bytes)) {
      this.used += bytes;
      return;
    }
    await new Promise<void>((resolve, reject) => this.waiting.push({ bytes, resolve, reject }));
  }

  give(bytes: number): void {
    this.used -= bytes;
    while (this.waiting.length > 0 && this.fits((this.waiting[0] as { bytes: number }).bytes)) {
      const w = this.waiting.shift() as { bytes: number; resolve(): void };
      this.used += w.bytes;
      w.resolve();
    }
  }

  stop(e: Error): void {
    this.stoppedWith ??= e;
    for (const w of this.waiting.splice(0)) w.reject(e);
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.limit;
  }
}

interface Open<T> {
  resolve(value: T): void;
  reject(e: Error): void;
}

export class Waiters<T> {
  private nextTicket = 1;
  private readonly open = new Map<number, Open<T>>();
  private readonly queued: Open<void>[] = [];
  private stoppedWith: Error | null = null;

  constructor(
    private readonly limit: number,
    private readonly what: string,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /** A ticket and the promise of its answer, once a slot is free. */
  async admit(): Promise<{ ticket: number; answer: Promise<T> }> {
    while (this.open.size >= this.limit) {
      if (this.stoppedWith) throw this.stoppedWith;
      if (this.queued.length >= this.limit)
        throw new RankBusyError(`more than ${2 * this.limit} ${this.what} waiting`);
      await new Promise<void>((resolve, reject) => this.queued.push({ resolve, reject }));
    }
    if (this.stoppedWith) throw this.stoppedWith;
    const ticket = this.nextTicket++;
    const answer = new Promise<T>((resolve, reject) => this.open.set(ticket, { resolve, reject }));
    answer.catch(() => {}); // rejected before its caller awaits it is not an unhandled rejection
    return { ticket, answer };
  }

  settle(ticket: number, value: T): void {
    this.take(ticket)?.resolve(value);
  }

  fail(ticket: number, e: Error): void {
    this.take(ticket)?.reject(e);
  }

  /** The caller holding ticket, if still waiting; its slot goes to the next caller in line. */
  private take(ticket: number): Open<T> | undefined {
    const w = this.open.get(ticket);
    if (!w) return undefined;
    this.open.delete(ticket);
    this.queued.shift()?.resolve();
    return w;
  }

  /** Reject everyone, now and later. */
  stop(e: Error): void {
    this.stoppedWith ??= e;
    for (const w of this.open.values()) w.reject(e);
    this.open.clear();
    for (const q of this.queued.splice(0)) q.reject(e);
  }
}
