// Watches on the client port. A watch first reads the machine's event history from its start
// revision (in pages, pausing while the socket's buffer is full), then follows the events the
// machine tells as it applies them; one synchronous step switches from the first to the second,
// so no revision falls between. Frames carry whole revisions in order and say how far the watch
// got (`through`), so a client that reconnects resumes from there and sees nothing twice.
//
// Bounded: watches per connection; events per history page; bytes per frame (a revision larger
// than a frame spans several, only the last one moving `through` past it). A client that reads
// more slowly than its live events come (its socket buffer over SLOW_BYTES) gets watch_ended slow
// and resumes from its `through`: nothing is missed, and the rank's memory stays bounded.
//
// Progress: once a second, a rank with live watches runs one read barrier (shared by all of
// them) and, when it succeeds, sends each live watch an events frame without events whose
// `through` is where this rank's state is. A rank cut off from the majority cannot pass the
// barrier, so its watches hear nothing and their clients (which expect a frame every few
// seconds) move to another rank. A connection with over PAUSE_BYTES unread gets no progress
// frames (it has frames to read already, and they would only add to its buffer).
import type { ClientResponse, WatchSelector, WireEvent } from "./client_wire.js";
import type { KvEvent, KvMachine } from "./kv_machine.js";

/** Where a watch's frames go: one client connection. */
export interface WatchSink {
  send(r: ClientResponse): void;
  /** Bytes written and not yet taken by the client. */
  buffered(): number;
  /** Resolves once the buffer drained (or the connection closed). */
  drained(): Promise<void>;
}

export const MAX_WATCHES_PER_CONNECTION = 4096;
/** Live events stop (watch_ended slow) once this much waits unread. */
export const SLOW_BYTES = 8 * 1024 * 1024;
/** History pages pause while more than this waits unread. */
const PAUSE_BYTES = 1024 * 1024;
const PAGE_EVENTS = 1000;
/** Event bytes per frame (values included); a single larger event goes alone. */
const FRAME_EVENT_BYTES = 1024 * 1024;
/** How often a rank with live watches confirms it is up to date and tells them so. */
export const PROGRESS_INTERVAL_MS = 1000;

/** What the progress loop needs: the rank's read barrier and a timer (the service's clock). */
export interface ProgressDriver {
  barrier(): Promise<void>;
  after(ms: number, fn: () => void): () => void;
}

export type WatchStart =
  { ok: true } | { ok: false; code: "busy" | "bad_request"; message: string };

interface Watch {
  id: number;
  match: (key: string) => boolean;
  exactKey: string | undefined;
  prevValue: boolean;
  /** The next revision this watch reports. */
  next: number;
  live: boolean;
  ended: boolean;
  conn: WatchConnection;
}

export class WatchHub {
  /** Live watches on one key, and on prefixes (every event is checked against those). */
  private readonly byKey = new Map<string, Set<Watch>>();
  private readonly prefixed = new Set<Watch>();
  private stopped = false;
  private cancelProgress: (() => void) | null = null;
  private total = 0;

  constructor(readonly machine: KvMachine) {}

  /** Starts the progress loop: every intervalMs (after the previous barrier ended), one read
   * barrier if any watch is live, then a progress frame to every live watch. */
  startProgress(driver: ProgressDriver, intervalMs = PROGRESS_INTERVAL_MS): void {
    const tick = async () => {
      if (this.stopped) return;
      if (this.prefixed.size > 0 || this.byKey.size > 0) {
        try {
          await driver.barrier();
          this.progress();
        } catch {
          // A stopped or busy rank: no progress now; the next tick tries again.
        }
      }
      if (!this.stopped) this.cancelProgress = driver.after(intervalMs, () => void tick());
    };
    this.cancelProgress = driver.after(intervalMs, () => void tick());
  }

  /** Tells every live watch that this rank has applied everything up to its current revision
   * (call only right after a read barrier succeeded). */
  progress(): void {
    if (this.stopped) return;
    const through = this.machine.currentRevision + 1;
    for (const w of this.prefixed) w.conn.progress(w, through);
    for (const set of this.byKey.values()) for (const w of set) w.conn.progress(w, through);
  }

  connection(sink: WatchSink): WatchConnection {
    return new WatchConnection(this, sink);
  }

  /** One revision's events, as the machine applies them. */
  onEvents(revision: number, events: readonly KvEvent[]): void {
    const hit = new Map<Watch, KvEvent[]>();
    const take = (w: Watch, e: KvEvent) => {
      const list = hit.get(w);
      if (list) list.push(e);
      else hit.set(w, [e]);
    };
    for (const e of events) {
      for (const w of this.byKey.get(e.key) ?? []) take(w, e);
      for (const w of this.prefixed) if (w.match(e.key)) take(w, e);
    }
    for (const [w, list] of hit) w.conn.deliver(w, list, revision + 1);
    // Watches with nothing in this revision move on silently (their clients resume from their
    // last `through`, which only costs a rescan of history without matches).
  }

  goLive(w: Watch): void {
    w.live = true;
    if (w.exactKey === undefined) this.prefixed.add(w);
    else {
      const set = this.byKey.get(w.exactKey);
      if (set) set.add(w);
      else this.byKey.set(w.exactKey, new Set([w]));
    }
  }

  forget(w: Watch): void {
    if (!w.live) return;
    w.live = false;
    if (w.exactKey === undefined) this.prefixed.delete(w);
    else {
      const set = this.byKey.get(w.exactKey);
      set?.delete(w);
      if (set?.size === 0) this.byKey.delete(w.exactKey);
    }
  }

  /** Watches started and not yet ended, on every connection (for status). */
  get count(): number {
    return this.total;
  }

  /** @internal A connection started (+1) or ended (-1) a watch. */
  tally(delta: number): void {
    this.total += delta;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Ends every watch (cancelled: the client resumes on another rank). */
  stop(): void {
    this.stopped = true;
    this.cancelProgress?.();
    const all = new Set<Watch>(this.prefixed);
    for (const set of this.byKey.values()) for (const w of set) all.add(w);
    for (const w of all) w.conn.end(w, "cancelled", w.next);
  }
}

/** The watches of one client connection. */
export class WatchConnection {
  private readonly watches = new Map<number, Watch>();

  constructor(
    private readonly hub: WatchHub,
    private readonly sink: WatchSink,
  ) {}

  /** Starts a watch under the request's id: watching, then the history, then live events. */
  start(id: number, selector: WatchSelector, fromRevision: number, prevValue: boolean): WatchStart {
    if (this.watches.has(id))
      return { ok: false, code: "bad_request", message: `watch id ${id} is in use` };
    if (this.watches.size >= MAX_WATCHES_PER_CONNECTION || this.hub.isStopped)
      return {
        ok: false,
        code: "busy",
        message: `${this.watches.size} watches on this connection`,
      };
    const exactKey = "key" in selector ? selector.key : undefined;
    const prefix = "prefix" in selector ? selector.prefix : "";
    const match =
      exactKey !== undefined ? (k: string) => k === exactKey : (k: string) => k.startsWith(prefix);
    const w: Watch = {
      ...{ id, match, exactKey, prevValue, next: fromRevision },
      ...{ live: false, ended: false, conn: this },
    };
    this.watches.set(id, w);
    this.hub.tally(1);
    // "From now": after what this rank has applied when the request arrives. Not after a read
    // barrier: a change committed while the barrier ran would fall before the start and be
    // missed (a one-shot watch set just before a put must see it); a rank that lags reports a
    // few changes from just before the request instead.
    if (fromRevision === 0) w.next = this.hub.machine.currentRevision + 1;
    this.sink.send({ type: "watching", id, fromRevision: w.next });
    void this.catchUp(w);
    return { ok: true };
  }

  /** Reads the history in pages until it reaches the machine's state, then goes live. */
  private async catchUp(w: Watch): Promise<void> {
    const machine = this.hub.machine;
    while (!w.ended) {
      if (this.sink.buffered() > PAUSE_BYTES) {
        await this.sink.drained();
        continue;
      }
      if (this.hub.isStopped) return this.end(w, "cancelled", w.next);
      const page = machine.eventsSince(w.next, w.match, PAGE_EVENTS);
      if ("compacted" in page) return this.end(w, "compacted", page.compacted);
      const caughtUp = page.next > machine.currentRevision;
      // Caught up with nothing new: still one (empty) frame, telling the client how far it is.
      if (page.events.length > 0 || caughtUp) this.sendEvents(w, page.events, page.next);
      w.next = page.next;
      if (caughtUp) return this.hub.goLive(w);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Live events of one revision (through = that revision + 1). */
  deliver(w: Watch, events: readonly KvEvent[], through: number): void {
    if (w.ended || through <= w.next) return; // this rank applies what the watch already had
    if (this.sink.buffered() > SLOW_BYTES) return this.end(w, "slow", w.next);
    this.sendEvents(w, events, through);
    w.next = through;
  }

  /** A progress frame (no events) for a live watch: every matching event below `through` has
   * been sent. Skipped while the connection has much unread (it is not waiting for frames). */
  progress(w: Watch, through: number): void {
    if (w.ended || !w.live || this.sink.buffered() > PAUSE_BYTES) return;
    this.sink.send({ type: "events", id: w.id, through: Math.max(through, w.next), events: [] });
    if (through > w.next) w.next = through;
  }

  /** Events in frames of at most FRAME_EVENT_BYTES; a frame that stops inside the events says
   * `through` = the revision of the first event not in it (only what is below is complete). */
  private sendEvents(w: Watch, events: readonly KvEvent[], through: number): void {
    let batch: WireEvent[] = [];
    let bytes = 0;
    for (const e of events) {
      const out: WireEvent = { revision: e.revision, kind: e.kind, key: e.key };
      if (e.value !== undefined) out.value = e.value;
      if (w.prevValue && e.prevValue !== undefined) out.prevValue = e.prevValue;
      const n = 32 + e.key.length * 3 + (out.value?.length ?? 0) + (out.prevValue?.length ?? 0);
      if (batch.length > 0 && bytes + n > FRAME_EVENT_BYTES) {
        this.sink.send({ type: "events", id: w.id, through: e.revision, events: batch });
        batch = [];
        bytes = 0;
      }
      batch.push(out);
      bytes += n;
    }
    this.sink.send({ type: "events", id: w.id, through, events: batch });
  }

  /** Ends a watch with watch_ended (no more frames of it follow). */
  end(w: Watch, code: "compacted" | "slow" | "cancelled", revision: number): void {
    if (w.ended) return;
    this.drop(w);
    this.sink.send({ type: "watch_ended", id: w.id, code, revision });
  }

  /** unwatch: no more frames of that watch (false: there was none). */
  unwatch(id: number): boolean {
    const w = this.watches.get(id);
    if (w) this.drop(w);
    return w !== undefined;
  }

  /** The connection is gone: every watch ends silently. */
  close(): void {
    for (const w of [...this.watches.values()]) this.drop(w);
  }

  private drop(w: Watch): void {
    w.ended = true;
    this.hub.forget(w);
    if (this.watches.get(w.id) !== w) return;
    this.watches.delete(w.id);
    this.hub.tally(-1);
  }
}
