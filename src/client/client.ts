// The yasp-kv client: one connection at a time to one endpoint, every call pipelined on it under
// its own frame id. When the connection is refused or lost (or the rank says not_ready, or answers
// nothing for a whole call timeout) the client moves to the next endpoint, round robin with a
// short backoff, and resends every unanswered call. A write keeps the request number it was given
// first, under the same client id, so the server applies it at most once whatever the resends.
// Writes go out only within REQUEST_WINDOW of the lowest one still unanswered; the rest wait here.
import { randomBytes } from "node:crypto";
import { DEFAULT_MAX_FRAME_BYTES, encodeRequest, type ClientResponse } from "../kv/client_wire.js";
import { MAX_RESULTS_PER_CLIENT } from "../kv/kv_tables.js";
import {
  Connection,
  HELLO_ID,
  parseEndpoint,
  type Endpoint,
  type TlsOptions,
} from "./connection.js";
import { BadRequest, KvError, Timeout, TooLarge, TooManyRequests, Unavailable } from "./errors.js";
import {
  describe,
  errorOf,
  isWrite,
  resultOf,
  toRequest,
  unknown,
  type RequestBody,
} from "./requests.js";

export interface ConnectOptions {
  /** "host:port" of the ranks' client ports; tried in this order, then round robin. */
  endpoints: string[];
  /** The server's --auth-token-file token, sent in hello. */
  token?: string;
  /** Connect with TLS (the server runs with --client-cert). */
  tls?: TlsOptions;
  /** Per-call timeout (default 5000 ms). */
  timeoutMs?: number;
  /** Default: 16 random hex characters. Reuse one only in a single process at a time. */
  clientId?: string;
  /** Calls sent and not answered (default 10_000); more wait in a queue. */
  maxInFlight?: number;
  /** Calls waiting for room in flight (default 100_000); past it a call fails TooManyRequests. */
  maxQueued?: number;
  /** The server's frame limit (default 2 MiB + 64 KiB): a larger request fails TooLarge. */
  maxFrameBytes?: number;
  /** A watch that hears nothing (no events, no progress) from its rank for this long leaves
   * that rank for the next endpoint and resumes there (default 3000 ms; 0: never). A healthy
   * rank sends every live watch a progress frame about once a second, after a read barrier;
   * a rank cut off from the majority cannot, so its watchers move on. */
  watchStallMs?: number;
}

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Call {
  readonly id: number;
  readonly body: RequestBody;
  /** The request number of a write (0: a read). */
  readonly req: number;
  /** performance.now() of the latest send; -1: never sent (so no outcome to be unsure of). */
  sentMs: number;
  /** The connection (KvCore.generation) it was last sent on: sent once per connection. */
  sentOn: number;
  /** Ends the call (once; later settles are ignored): rejects with a KvError or `failed`. */
  settle(result: unknown, failed?: boolean): void;
}

const BACKOFF_MAX_MS = 1000;
/** A write is sent (or resent) only while its request number is below low + REQUEST_WINDOW, low
 * being the lowest request number still unanswered. The server keeps the results of at most
 * MAX_RESULTS_PER_CLIENT requests per client id (kv_tables.ts's ClientTable); with more, it
 * forgets the lowest and answers it stale_request, applied or not. Within the window the results
 * it keeps (all at or above the `low` it was sent) never number more than that, so no write is
 * forgotten before it is answered. A waiting acquire, which may wait for ever, does not hold the
 * window back (see windowWrites): if its result is forgotten, lockCall asks again. */
export const REQUEST_WINDOW = MAX_RESULTS_PER_CLIENT;
/** Calls take frame ids below this; streams (watches) from it up, so their frames never meet. */
const STREAM_ID_BASE = 0x80000000;

/** A subscription that lives across connections (a watch): it says what to send on every new
 * connection and takes the frames sent under the ids it got from newStreamId. */
export interface Stream {
  /** A connection is up (hello queued first): send the subscription again. */
  onOpen(): void;
  onFrame(res: ClientResponse): void;
  /** The stream is over: the server refused hello, or the client was closed. */
  onFail(error: KvError): void;
}

export class KvCore {
  private readonly endpoints: Endpoint[];
  private readonly clientId: string;
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  readonly maxFrameBytes: number;
  /** See ConnectOptions.watchStallMs (0: off). */
  readonly watchStallMs: number;
  private readonly inFlight = new Map<number, Call>();
  private readonly queued = new Set<Call>();
  /** Unanswered writes by request number, in increasing order: the first one is `low`. */
  private readonly writes = new Map<number, Call>();
  /** The same without waiting acquires: the first one is the base of the request window. */
  private readonly windowWrites = new Map<number, Call>();
  /** Writes below this request number have been sent on the current connection (or settled). */
  private released = 0;
  private releasing = false;
  private nextId = 1;
  private nextReq = 1;
  private conn: Connection | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private nextEndpoint = 0;
  /** Connection attempts in a row that ended before hello was answered. */
  private failures = 0;
  /** performance.now() of the latest such end: the backoff counts from it. */
  private lastFailureMs = -Infinity;
  private readonly lastErrors = new Map<string, string>();
  private closed = false;
  private readonly streams = new Set<Stream>();
  private readonly streamIds = new Map<number, Stream>();
  private nextStreamId = STREAM_ID_BASE;
  /** Connections opened so far: which one a stream's subscription went out on. */
  private opened = 0;

  constructor(private readonly options: ConnectOptions) {
    this.endpoints = checkEndpoints(options.endpoints);
    this.clientId = options.clientId ?? randomBytes(8).toString("hex");
    const idBytes = Buffer.byteLength(this.clientId, "utf8");
    if (idBytes < 1 || idBytes > 64) throw new BadRequest("clientId must be 1..64 bytes");
    this.timeoutMs = positive(options.timeoutMs, 5000, "timeoutMs");
    this.maxInFlight = positive(options.maxInFlight, 10_000, "maxInFlight");
    this.maxQueued = positive(options.maxQueued, 100_000, "maxQueued");
    this.maxFrameBytes = positive(options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, "maxFrameBytes");
    this.watchStallMs =
      options.watchStallMs === 0 ? 0 : positive(options.watchStallMs, 3000, "watchStallMs");
  }

  get id(): string {
    return this.clientId;
  }

  /** Sends a request and resolves with resultOf's result (rejects with a KvError). */
  call(body: RequestBody, opts: CallOptions = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Unavailable(`${describe(body)}: the client is closed`));
      const signal = opts.signal;
      // An AbortSignal's contract: the call rejects with its reason, whatever that is.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      if (signal?.aborted) return reject(signal.reason);
      if (this.inFlight.size >= this.maxInFlight && this.queued.size >= this.maxQueued)
        return reject(new TooManyRequests(`${describe(body)}: ${this.maxQueued} calls queued`));
      const timeoutMs = positive(opts.timeoutMs, this.timeoutMs, "timeoutMs");
      let timer: NodeJS.Timeout | undefined = undefined;
      const onAbort = () => call.settle(signal?.reason, true);
      const call: Call = {
        id: this.allocateId(),
        body,
        req: isWrite(body) ? this.nextReq++ : 0,
        sentMs: -1,
        sentOn: -1,
        settle: (result, failed = result instanceof KvError) => {
          if (!this.forget(call)) return;
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- abort reason
          if (failed) reject(result);
          else resolve(result);
          this.admitQueued();
        },
      };
      timer = setTimeout(() => this.expire(call, timeoutMs), timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (call.req > 0) this.writes.set(call.req, call);
      if (call.req > 0 && !(body.type === "acquire" && body.wait))
        this.windowWrites.set(call.req, call);
      if (this.inFlight.size < this.maxInFlight) this.admit(call);
      else this.queued.add(call);
    });
  }

  private allocateId(): number {
    let id = this.nextId;
    while (id === HELLO_ID || this.inFlight.has(id)) id = (id + 1) % STREAM_ID_BASE;
    this.nextId = (id + 1) % STREAM_ID_BASE;
    return id;
  }

  /** Keeps a stream across connections until removeStream (it keeps the client connected). */
  addStream(s: Stream): void {
    if (this.closed) return;
    this.streams.add(s);
    if (this.conn?.open) s.onOpen();
    else this.ensureConnecting();
    this.conn?.setBusy(true);
  }

  removeStream(s: Stream): void {
    this.streams.delete(s);
    for (const [id, owner] of this.streamIds) if (owner === s) this.streamIds.delete(id);
    this.conn?.setBusy(this.busy());
  }

  /** A fresh frame id for the stream; frames under its older ids are ignored from now on. */
  newStreamId(s: Stream): number {
    for (const [id, owner] of this.streamIds) if (owner === s) this.streamIds.delete(id);
    let id = this.nextStreamId;
    while (this.streamIds.has(id)) id = id + 1 > 0xffffffff ? STREAM_ID_BASE : id + 1;
    this.nextStreamId = id + 1 > 0xffffffff ? STREAM_ID_BASE : id + 1;
    this.streamIds.set(id, s);
    return id;
  }

  /** Sends a stream's frame on the connection if one is up (false: onOpen will come later). */
  sendStream(frame: Uint8Array): boolean {
    if (!this.conn?.open) return false;
    this.conn.send(frame);
    return true;
  }

  /** The number of the current connection (it changes with every new one). */
  get generation(): number {
    return this.opened;
  }

  /** Leaves the current endpoint (it said not_ready to a stream, or a watch on it stalled); the
   * next one is tried. With `generation`: only if the current connection is still that one. */
  reconnect(reason: string, generation?: number): void {
    if (generation !== undefined && generation !== this.opened) return;
    this.conn?.close(reason);
  }

  private failStreams(error: KvError): void {
    const all = [...this.streams];
    this.streams.clear();
    this.streamIds.clear();
    for (const s of all) s.onFail(error);
  }

  private busy(): boolean {
    return this.inFlight.size > 0 || this.streams.size > 0;
  }

  /** Removes a call from every table; false if it had already been settled. */
  private forget(call: Call): boolean {
    const known = this.inFlight.get(call.id) === call && this.inFlight.delete(call.id);
    const wasQueued = this.queued.delete(call);
    if (call.req > 0) {
      this.writes.delete(call.req);
      this.windowWrites.delete(call.req);
    }
    this.conn?.setBusy(this.busy());
    if (call.req > 0) this.releaseWindow();
    return known || wasQueued;
  }

  /** The first request number the window does not reach yet. */
  private windowEnd(): number {
    const low: number = this.windowWrites.keys().next().value ?? this.nextReq;
    return low + REQUEST_WINDOW;
  }

  /** Sends the writes in flight that the window has just reached (it moved up). */
  private releaseWindow(): void {
    if (this.releasing) return; // a send that settled its call (TooLarge): the loop goes on
    this.releasing = true;
    try {
      for (let end = this.windowEnd(); this.released < end; end = this.windowEnd()) {
        const conn = this.conn;
        const from = this.released;
        this.released = end;
        if (!conn?.open) continue; // onOpen sends them
        for (let req = from; req < end; req++) {
          const call = this.writes.get(req);
          if (call && this.inFlight.get(call.id) === call) this.send(call, conn);
        }
      }
    } finally {
      this.releasing = false;
    }
  }

  private admit(call: Call): void {
    this.inFlight.set(call.id, call);
    if (this.conn?.open) this.send(call, this.conn);
    else this.ensureConnecting();
    this.conn?.setBusy(true);
  }

  private admitQueued(): void {
    for (const call of this.queued) {
      if (this.inFlight.size >= this.maxInFlight) return;
      this.queued.delete(call);
      this.admit(call);
    }
  }

  /** Sends the call unless it went on this connection already, or is a write past the window
   * (releaseWindow sends it when the window reaches it). */
  private send(call: Call, conn: Connection): void {
    if (call.sentOn === this.opened) return;
    if (call.req >= this.windowEnd()) return;
    const low = this.writes.keys().next().value ?? this.nextReq;
    const frame = encodeRequest(toRequest(call.body, call.id, call.req, low));
    if (frame.length - 4 > this.maxFrameBytes) {
      const bytes = frame.length - 4;
      return call.settle(
        new TooLarge(
          `${describe(call.body)}: a request of ${bytes} bytes (limit ${this.maxFrameBytes})`,
        ),
      );
    }
    call.sentMs = performance.now();
    call.sentOn = this.opened;
    conn.send(frame);
  }

  private expire(call: Call, timeoutMs: number): void {
    const conn = this.conn;
    const what = describe(call.body);
    if (!conn?.open && call.sentMs < 0) {
      const tried = [...this.lastErrors].map(([e, why]) => `${e} (${why})`).join(", ");
      call.settle(
        new Unavailable(
          `${what}: no endpoint reachable within ${timeoutMs} ms: ${tried || "still connecting"}`,
        ),
      );
    } else if (call.req > 0 && call.sentMs < 0 && this.inFlight.get(call.id) === call) {
      const waiting = this.windowWrites.size;
      call.settle(
        new Timeout(
          `${what}: not sent within ${timeoutMs} ms: it waited behind ${waiting} earlier writes of ` +
            `this client (at most ${REQUEST_WINDOW} go at a time); it did not take effect`,
        ),
      );
    } else {
      call.settle(new Timeout(`${what}: no answer within ${timeoutMs} ms${unknown(call.body)}`));
    }
    // A rank that answered nothing while this call waited is cut off or stuck: leave it, so the
    // next calls (and the unanswered ones) go to another rank instead of waiting there too.
    if (conn?.open && call.sentMs >= 0 && conn.lastResponseMs < call.sentMs)
      conn.close("no answer within a call timeout");
  }

  private ensureConnecting(): void {
    if (this.conn !== undefined || this.connectTimer !== undefined || this.closed) return;
    if (!this.busy()) return; // connect lazily: nothing waits for a connection
    // Counted from the last failure: a core that sat idle since then tries at once.
    const delay = Math.max(
      0,
      Math.round(this.lastFailureMs + this.backoffMs() - performance.now()),
    );
    if (delay === 0) return this.open();
    this.connectTimer = setTimeout(() => {
      this.connectTimer = undefined;
      this.open();
    }, delay);
    this.connectTimer.unref(); // the calls' own timers keep the process alive
  }

  /** 0 for the first try after a working connection, then 25 ms doubling up to 1 s (jittered so
   * that many clients do not come back in step). Failures older than the longest backoff are
   * forgotten: an endpoint that failed a while ago (a rank since restarted) is tried at once. */
  private backoffMs(): number {
    if (performance.now() - this.lastFailureMs > BACKOFF_MAX_MS) this.failures = 0;
    if (this.failures <= 1) return 0;
    const base = Math.min(BACKOFF_MAX_MS, 25 * 2 ** (this.failures - 2));
    return Math.round(base * (0.5 + Math.random() / 2));
  }

  private open(): void {
    if (!this.busy() || this.closed) return;
    const endpoint = this.endpoints[this.nextEndpoint % this.endpoints.length] as Endpoint;
    this.nextEndpoint = (this.nextEndpoint + 1) % this.endpoints.length;
    this.opened++;
    /** Hello answered and no not_ready since: a loss then is worth an immediate retry. */
    let healthy = false;
    const conn: Connection = new Connection(
      endpoint,
      { clientId: this.clientId, token: this.options.token ?? "" },
      this.options.tls,
      this.maxFrameBytes,
      {
        onOpen: () => {
          // Watches first: one set up before a write (watchOnce, then put) must see that write.
          for (const s of this.streams) s.onOpen();
          this.released = this.windowEnd(); // send() stops at it; releaseWindow goes on from it
          for (const call of this.inFlight.values()) this.send(call, conn);
        },
        onResponse: (res) => {
          if (res.id === HELLO_ID) healthy = this.onHello(res, conn);
          else if (!this.onResponse(res, conn)) healthy = false;
        },
        onLost: (reason) => {
          if (this.conn === conn) this.conn = undefined;
          this.lastErrors.set(endpoint.text, reason);
          if (healthy) this.failures = 0;
          else {
            // Aged first: a failure long after the last one starts the count again.
            if (performance.now() - this.lastFailureMs > BACKOFF_MAX_MS) this.failures = 0;
            this.failures++;
            this.lastFailureMs = performance.now();
          }
          this.ensureConnecting();
        },
      },
    );
    this.conn = conn;
  }

  /** true: hello accepted. A refusal fails every call: another rank would refuse the same. */
  private onHello(res: ClientResponse, conn: Connection): boolean {
    if (res.type === "ok") {
      this.lastErrors.clear();
      return true;
    }
    const error =
      res.type === "error"
        ? errorOf(res, { type: "status" }, false)
        : new BadRequest(`unexpected ${res.type} answer to hello`);
    error.message = `hello to ${conn.endpoint.text}: ${error.message.replace(/^status: /, "")}`;
    for (const call of [...this.inFlight.values(), ...this.queued]) call.settle(error);
    this.failStreams(error);
    conn.close(error.message);
    return false;
  }

  /** false: the rank said it is not ready (the connection is then being left). */
  private onResponse(res: ClientResponse, conn: Connection): boolean {
    const stream = this.streamIds.get(res.id);
    if (stream) {
      stream.onFrame(res);
      if (res.type !== "error" || res.code !== "not_ready") return true;
      conn.close(`not ready: ${res.message}`); // the stream subscribes again on the next rank
      return false;
    }
    const call = this.inFlight.get(res.id);
    if (call === undefined) return true; // an answer to a call that timed out or was aborted
    if (res.type === "error" && res.code === "not_ready") {
      // This rank is not serving (yet): every call waits for the next one.
      conn.close(`not ready: ${res.message}`);
      return false;
    }
    call.settle(res.type === "error" ? errorOf(res, call.body, true) : resultOf(res, call.body));
    return true;
  }

  /** Fails every pending call and closes the connection. */
  close(): Promise<void> {
    this.closed = true;
    this.failStreams(new Unavailable("the client was closed"));
    clearTimeout(this.connectTimer);
    for (const call of [...this.inFlight.values(), ...this.queued])
      call.settle(
        new Unavailable(
          `${describe(call.body)}: the client was closed${call.sentMs >= 0 ? unknown(call.body) : ""}`,
        ),
      );
    const conn = this.conn;
    this.conn = undefined;
    if (!conn) return Promise.resolve();
    return new Promise((resolve) => {
      conn.close("closed by the client");
      setImmediate(resolve);
    });
  }
}

function checkEndpoints(list: unknown): Endpoint[] {
  if (!Array.isArray(list) || list.length === 0)
    throw new BadRequest("endpoints: give at least one host:port");
  return list.map((text) => {
    const e = typeof text === "string" ? parseEndpoint(text) : undefined;
    if (!e) throw new BadRequest(`endpoint ${String(text)}: expected host:port`);
    return e;
  });
}

function positive(v: number | undefined, fallback: number, what: string): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v <= 0 || v > 2 ** 31 - 1)
    throw new BadRequest(`${what} must be a whole number > 0, not ${v}`);
  return v;
}
