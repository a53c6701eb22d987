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

interface Open<T> {
  resolve(value: T): void;
  reject(e: Error): void;
  /** What the caller's request weighs (a submission: its command's bytes). */
  bytes: number;
}

/** A caller let in: its ticket, and the promise of its answer. */
export interface Ticket<T> {
  ticket: number;
  answer: Promise<T>;
}

export class Waiters<T> {
  private nextTicket = 1;
  private readonly open = new Map<number, Open<T>>();
  private readonly queued: Array<{ resolve(): void; reject(e: Error): void }> = [];
  private stoppedWith: Error | null = null;
  /** Bytes the open tickets weigh. */
  private used = 0;

  /** At most `limit` callers in at once, weighing at most byteLimit together (one heavier caller
   * gets in alone). */
  constructor(
    private readonly limit: number,
    private readonly what: string,
    private readonly byteLimit = Infinity,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /** A ticket at once if there is room and nobody is waiting for it, else null (no promise made:
   * the fast path of a busy rank). */
  tryAdmit(bytes = 0): Ticket<T> | null {
    if (this.stoppedWith || this.queued.length > 0 || !this.fits(bytes)) return null;
    return this.openTicket(bytes);
  }

  /** A ticket once there is room (callers get in in the order they came). */
  async admit(bytes = 0): Promise<Ticket<T>> {
    const now = this.tryAdmit(bytes);
    if (now) return now;
    let first = false;
    for (;;) {
      if (this.stoppedWith) throw this.stoppedWith;
      if (this.queued.length >= this.limit)
        throw new RankBusyError(`more than ${2 * this.limit} ${this.what} waiting`);
      await new Promise<void>((resolve, reject) => {
        // A caller woken without room goes back to the head of the line, not its end.
        if (first) this.queued.unshift({ resolve, reject });
        else this.queued.push({ resolve, reject });
      });
      first = true;
      this.throwIfStopped();
      if (this.fits(bytes)) {
        const t = this.openTicket(bytes);
        if (this.fits(0)) this.queued.shift()?.resolve(); // room for the next one too?
        return t;
      }
    }
  }

  settle(ticket: number, value: T): void {
    this.take(ticket)?.resolve(value);
  }

  fail(ticket: number, e: Error): void {
    this.take(ticket)?.reject(e);
  }

  private throwIfStopped(): void {
    if (this.stoppedWith) throw this.stoppedWith;
  }

  private fits(bytes: number): boolean {
    return this.open.size < this.limit && (this.used === 0 || this.used + bytes <= this.byteLimit);
  }

  private openTicket(bytes: number): Ticket<T> {
    const ticket = this.nextTicket++;
    this.used += bytes;
    const answer = new Promise<T>((resolve, reject) =>
      this.open.set(ticket, { resolve, reject, bytes }),
    );
    answer.catch(() => {}); // rejected before its caller awaits it is not an unhandled rejection
    return { ticket, answer };
  }

  /** The caller holding ticket, if still waiting; its room goes to the next caller in line. */
  private take(ticket: number): Open<T> | undefined {
    const w = this.open.get(ticket);
    if (!w) return undefined;
    this.open.delete(ticket);
    this.used -= w.bytes;
    this.queued.shift()?.resolve();
    return w;
  }

  /** Reject everyone, now and later. */
  stop(e: Error): void {
    this.stoppedWith ??= e;
    for (const w of this.open.values()) w.reject(e);
    this.open.clear();
    this.used = 0;
    for (const q of this.queued.splice(0)) q.reject(e);
  }
}
