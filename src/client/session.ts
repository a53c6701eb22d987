// A session: opened through the log with a TTL, kept alive by keepalives to the master every
// TTL/3. Timed on performance.now() (monotonic) from when each keepalive was SENT: the server's
// deadline for a session is at least (send time of the last acknowledged keepalive) + TTL, so the
// client's own deadline, that minus a margin, never comes after the server's. Past it, or when
// the server says the session has ended, the session emits "expired" once and is not used again.
import { NoSession } from "./errors.js";

/** What a session needs of its client. */
export interface SessionHost {
  keepalive(session: number, deadlineMs: number, perTryMs: number): Promise<number>;
  close(session: number): Promise<void>;
  forget(s: Session): void;
}

/** A keepalive that failed is tried again this soon (the deadline timer ends hopeless cases). */
const RETRY_MS = 100;

export class Session {
  private state: "alive" | "expired" | "closed" = "alive";
  private lastAckSentMs: number;
  private beatTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private readonly listeners: ((reason: string) => void)[] = [];
  private readonly ended = new AbortController();
  /** The client's deadline is this much before the server's (clock rate differences, delays). */
  private readonly marginMs: number;

  /** @internal Opened by KvClient.session(). */
  constructor(
    private readonly host: SessionHost,
    /** The session's id (the revision at which it was opened). */
    readonly id: number,
    /** Its time to live without a keepalive, in ms. */
    readonly ttlMs: number,
    openSentMs: number,
  ) {
    this.marginMs = Math.max(100, Math.floor(ttlMs / 10));
    this.lastAckSentMs = openSentMs;
    this.armDeadline();
    this.schedule(openSentMs + ttlMs / 3);
  }

  /** "expired": the session ended (the server expired it, or no keepalive was acknowledged in
   * time); its locks are (or will shortly be) released and its ephemeral keys deleted. */
  on(event: "expired", cb: (reason: string) => void): this {
    if (event !== "expired") throw new TypeError(`no event ${String(event)} on a session`);
    this.listeners.push(cb);
    return this;
  }

  /** True until it expires or is closed. */
  get alive(): boolean {
    this.checkDeadline();
    return this.state === "alive";
  }

  /** Aborts when the session expires or is closed (waiting acquires stop then). */
  get signal(): AbortSignal {
    this.checkDeadline();
    return this.ended.signal;
  }

  /** The id to send, or NoSession when the session can no longer be used. */
  use(): number {
    this.checkDeadline();
    if (this.state !== "alive") {
      const why = this.ended.signal.reason as unknown;
      throw new NoSession(why instanceof NoSession ? why.message : `session ${this.id} ended`);
    }
    return this.id;
  }

  /** The client's deadline (performance.now()): no keepalive sent before it was acknowledged. */
  private deadlineMs(): number {
    return this.lastAckSentMs + this.ttlMs - this.marginMs;
  }

  /** Expires the session now if its deadline has passed. The deadline timer may not have run
   * yet though the time is past: a process stopped (SIGSTOP, a long pause) and resumed runs
   * its timers only after whatever it does first. */
  private checkDeadline(): void {
    if (this.state === "alive" && performance.now() >= this.deadlineMs()) this.expire(this.late());
  }

  private late(): string {
    return `no keepalive acknowledged within ${this.ttlMs - this.marginMs} ms`;
  }

  /** Ends the session on the server: its locks are released and its ephemeral keys deleted. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.stop("closed", new NoSession(`session ${this.id} was closed`));
    try {
      await this.host.close(this.id);
    } catch (e) {
      if (!(e instanceof NoSession)) throw e; // already ended on the server: nothing to close
    }
  }

  private schedule(atMs: number): void {
    clearTimeout(this.beatTimer);
    const delay = Math.max(0, atMs - performance.now());
    // Unref: an open session alone does not keep a process alive.
    this.beatTimer = setTimeout(() => void this.beat(), delay).unref();
  }

  private async beat(): Promise<void> {
    this.checkDeadline();
    if (this.state !== "alive") return;
    const sentMs = performance.now();
    const deadlineMs = this.deadlineMs();
    try {
      // Whole ms: the client refuses a fractional per-call timeout (TTLs need not divide by 6).
      await this.host.keepalive(this.id, deadlineMs, Math.max(100, Math.floor(this.ttlMs / 6)));
    } catch (e) {
      if (e instanceof NoSession) return this.expire("the server says the session has ended");
      return this.schedule(performance.now() + RETRY_MS);
    }
    if (this.state !== "alive") return;
    if (sentMs > this.lastAckSentMs) this.lastAckSentMs = sentMs;
    this.armDeadline();
    this.schedule(sentMs + this.ttlMs / 3);
  }

  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    const left = this.deadlineMs() - performance.now();
    this.deadlineTimer = setTimeout(() => this.expire(this.late()), Math.max(0, left)).unref();
  }

  /** @internal */
  expire(reason: string): void {
    if (this.state !== "alive") return;
    this.stop("expired", new NoSession(`session ${this.id} has expired: ${reason}`));
    for (const cb of this.listeners) {
      try {
        cb(reason);
      } catch {
        // a listener's failure is its own business
      }
    }
  }

  private stop(state: "expired" | "closed", why: NoSession): void {
    this.state = state;
    clearTimeout(this.beatTimer);
    clearTimeout(this.deadlineTimer);
    this.ended.abort(why);
    this.host.forget(this);
  }
}
