// A watch as an async iterator. The server sends whole revisions in order, each frame saying how
// far it got (`through`: every matching event below it has been sent); the iterator hands out
// only events below the latest `through`, and on a new connection (a lost one, another rank)
// watches again from that `through`: nothing is missed and nothing repeats. Bounded: when the
// consumer falls 10,000 events behind, the watch is dropped on the server and started again from
// `through` once the consumer has caught up.
//
// Liveness: a healthy rank sends each live watch a frame at least about once a second (progress:
// no events, after a read barrier). A subscription that hears nothing for core.watchStallMs
// (ConnectOptions.watchStallMs) means its rank is cut off or stuck: the client leaves it for the
// next endpoint, and the watch resumes there from `through`. Timed on performance.now().
import { encodeRequest, type ClientResponse, type WireEvent } from "../kv/client_wire.js";
import type { KvCore, Stream } from "./client.js";
import { AbortError, BadRequest, CompactedError, KvError, TooManyRequests } from "./errors.js";
import { errorOf } from "./requests.js";

/** A change: `value` on put; `prevValue` (when asked for) when the key had a value before. */
export interface WatchEvent {
  revision: number;
  kind: "put" | "delete" | "expire";
  key: string;
  value?: Uint8Array;
  prevValue?: Uint8Array;
}

export interface WatchOptions {
  /** Watch every key that starts with the string (default: exactly that key). */
  prefix?: boolean;
  /** The first revision to report (default: changes after the request reaches the server). */
  fromRevision?: number;
  /** Report each event's previous value (default false). */
  prevValue?: boolean;
  /** Ends the iteration (it throws AbortError). */
  signal?: AbortSignal;
}

const HIGH_WATER = 10_000;
const LOW_WATER = 1_000;
const BUSY_RETRY_MS = 1000;

export class WatchStream implements Stream, AsyncIterableIterator<WatchEvent> {
  private id = -1;
  /** Where to (re)start: the latest `through` (0: from now, before the first answer). */
  private resumeFrom: number;
  /** Events of a revision not yet complete (they come again after a reconnect). */
  private pending: WireEvent[] = [];
  private ready: WatchEvent[] = [];
  private head = 0;
  private paused = false;
  private failure: KvError | undefined = undefined;
  private finished = false;
  private wake: (() => void) | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  /** performance.now() of the latest frame of the current subscription (or of sending it). */
  private lastFrameMs = 0;
  /** core.generation of the connection the current subscription went out on (-1: none). */
  private subscribedOn = -1;

  constructor(
    private readonly core: KvCore,
    private readonly selector: { key: string } | { prefix: string },
    fromRevision: number,
    private readonly prevValue: boolean,
    private readonly signal: AbortSignal | undefined,
    private readonly onEnd: (w: WatchStream) => void,
  ) {
    this.resumeFrom = fromRevision;
    if (signal?.aborted) this.fail(new AbortError("watch: aborted"));
    else {
      signal?.addEventListener("abort", this.onAbort, { once: true });
      core.addStream(this);
    }
  }

  private readonly onAbort = () => this.fail(new AbortError("watch: aborted"));

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<WatchEvent>> {
    for (;;) {
      if (this.head < this.ready.length) {
        const value = this.ready[this.head++] as WatchEvent;
        this.afterTake();
        return { value, done: false };
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.finished) return { value: undefined, done: true };
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Stops the watch (a `break` out of for await calls it). */
  return(): Promise<IteratorResult<WatchEvent>> {
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  onOpen(): void {
    if (!this.paused) this.subscribe();
  }

  onFail(error: KvError): void {
    this.fail(error);
  }

  onFrame(res: ClientResponse): void {
    if (res.id !== this.id || this.finished) return;
    this.lastFrameMs = performance.now();
    switch (res.type) {
      case "watching":
        if (this.resumeFrom === 0) this.resumeFrom = res.fromRevision;
        return;
      case "events":
        return this.take(res.events, res.through);
      case "watch_ended":
        if (res.code === "compacted")
          return this.fail(
            new CompactedError(
              `watch: revision ${this.resumeFrom} is compacted (the oldest kept is ${res.revision})`,
              res.revision,
            ),
          );
        // slow: we read too slowly for the server; cancelled: the rank is stopping.
        if (res.code === "cancelled") return this.core.reconnect("the rank ended the watch");
        return this.subscribe();
      case "error":
        return this.refused(res);
      default:
        return;
    }
  }

  private take(events: WireEvent[], through: number): void {
    for (const e of events) if (e.revision >= this.resumeFrom) this.pending.push(e);
    if (through <= this.resumeFrom) return;
    let kept = 0;
    for (const e of this.pending) {
      if (e.revision < through) this.ready.push(e);
      else this.pending[kept++] = e;
    }
    this.pending.length = kept;
    this.resumeFrom = through;
    if (this.ready.length - this.head >= HIGH_WATER && !this.paused) {
      // Stop the flow on the server until the consumer catches up (frames in flight under this
      // id are ignored: the next subscription gets a new id).
      this.paused = true;
      this.stopStallTimer();
      this.unwatch();
      this.id = this.core.newStreamId(this);
    }
    this.notify();
  }

  private refused(res: Extract<ClientResponse, { type: "error" }>): void {
    if (res.code === "not_ready") return; // the core moves to another rank; onOpen resubscribes
    const error = errorOf(res, { type: "status" }, false);
    if (error instanceof TooManyRequests) {
      // The server's watch table is full: try again a little later.
      this.stopStallTimer();
      this.retryTimer = setTimeout(() => this.subscribe(), BUSY_RETRY_MS);
      return;
    }
    error.message = `watch: ${error.message.replace(/^status: /, "")}`;
    this.fail(error instanceof KvError ? error : new BadRequest(String(error)));
  }

  private subscribe(): void {
    if (this.finished) return;
    clearTimeout(this.retryTimer);
    this.pending = [];
    this.id = this.core.newStreamId(this);
    const { selector, prevValue } = this;
    const frame = encodeRequest({
      type: "watch",
      id: this.id,
      selector,
      fromRevision: this.resumeFrom,
      prevValue,
    });
    if (this.core.sendStream(frame)) this.startStallTimer();
    else this.stopStallTimer(); // not connected: onOpen subscribes again
  }

  /** Expects a frame within core.watchStallMs of now (the subscription just went out). */
  private startStallTimer(): void {
    const ms = this.core.watchStallMs;
    if (ms === 0) return;
    this.subscribedOn = this.core.generation;
    this.lastFrameMs = performance.now();
    this.armStall(ms);
  }

  private armStall(ms: number): void {
    clearTimeout(this.stallTimer);
    // Unref: the watch's connection keeps the process alive, not this timer.
    this.stallTimer = setTimeout(() => this.checkStall(), ms).unref();
  }

  private stopStallTimer(): void {
    clearTimeout(this.stallTimer);
    this.subscribedOn = -1;
  }

  /** Leaves the rank if the subscription heard nothing for watchStallMs; else waits the rest. */
  private checkStall(): void {
    const on = this.subscribedOn;
    if (this.finished || this.paused || on < 0 || on !== this.core.generation) return;
    const ms = this.core.watchStallMs;
    const quiet = performance.now() - this.lastFrameMs;
    if (quiet < ms) return this.armStall(ms - quiet);
    this.subscribedOn = -1;
    this.core.reconnect(`a watch heard nothing for ${Math.round(quiet)} ms`, on);
  }

  /** Tells the server to stop this watch. Sent under the watch's own id: its ok, like any late
   * frame of the watch, is ignored once the stream has another id (or none). */
  private unwatch(): void {
    this.core.sendStream(encodeRequest({ type: "unwatch", id: this.id, watch: this.id }));
  }

  private afterTake(): void {
    if (this.head > 4096 && this.head * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.head);
      this.head = 0;
    }
    if (this.paused && this.ready.length - this.head <= LOW_WATER) {
      this.paused = false;
      this.subscribe();
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private fail(error: KvError): void {
    if (this.finished) return;
    this.failure = error;
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.retryTimer);
    this.stopStallTimer();
    this.signal?.removeEventListener("abort", this.onAbort);
    if (this.id >= 0) this.unwatch();
    this.core.removeStream(this);
    this.onEnd(this);
    this.notify();
  }
}
