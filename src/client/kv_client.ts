// The typed face of the client: one method per operation, each checking its arguments before
// anything is sent. Connection handling, retries and pipelining are KvCore's (client.ts);
// sessions are session.ts's, keepalive routing master.ts's, watches watch.ts's.
import { KvCore, type CallOptions, type ConnectOptions } from "./client.js";
import {
  AbortError,
  BadRequest,
  ForgottenRequest,
  KvError,
  NoSession,
  Timeout,
  TooLarge,
} from "./errors.js";
import { MasterRouter } from "./master.js";
import {
  checkKey,
  checkNat,
  checkSelector,
  valueBytes,
  type Master,
  type RangeResult,
  type RequestBody,
  type Value,
  type Written,
} from "./requests.js";
import { Session, type SessionHost } from "./session.js";
import { WatchStream, type WatchEvent, type WatchOptions } from "./watch.js";

/** A fencing condition: the write is applied only if `token` still holds `lock`. */
export type LockFence = { lock: string; token: number };

export interface WriteOptions extends CallOptions {
  /** Time to live in ms (0 or absent: never expires). */
  ttlMs?: number;
  /** put and cas: the key is deleted when this session ends (an ephemeral key). */
  session?: Session | number;
  /** Applied only if this token still holds this lock; FenceError (nothing written) if not. */
  ifHolds?: LockFence;
}

export interface DeleteOptions extends CallOptions {
  /** Applied only if this token still holds this lock; FenceError (nothing deleted) if not. */
  ifHolds?: LockFence;
}

export interface SessionOptions extends CallOptions {
  /** Time to live without a keepalive: 3,000 to 3,600,000 ms (BadRequest otherwise; a session
   * must outlive a master failover, about 1 s). */
  ttlMs: number;
}

export interface LockOptions extends CallOptions {
  /** The session that will hold the lock (its end releases it). */
  session: Session | number;
}

/** Session TTL bounds (the server's). */
export const MIN_SESSION_TTL_MS = 3000;
export const MAX_SESSION_TTL_MS = 3_600_000;
/** An acquire waits this long unless told otherwise (the longest timer Node has). */
const WAIT_FOREVER_MS = 2 ** 31 - 1;

export interface ReadOptions extends CallOptions {
  /** Answer from the rank's local state without confirming it is up to date (faster; may be
   * behind the latest writes). Default false: linearizable. */
  stale?: boolean;
}

export interface RangeOptions extends ReadOptions {
  /** At most this many entries (default and cap: the server's, 1000); `more` says there are more. */
  limit?: number;
}

export type RangeQuery = { prefix: string } | { start: string; end: string };

/** Statuses are the server's JSON object, passed through. */
export type ServerStatus = Record<string, unknown>;

export class KvClient {
  private readonly core: KvCore;
  private readonly router: MasterRouter;
  private readonly sessions = new Set<Session>();
  private readonly host: SessionHost;

  constructor(options: ConnectOptions) {
    this.core = new KvCore(options);
    this.router = new MasterRouter(options);
    this.host = {
      keepalive: (id, deadlineMs, perTryMs) => this.router.keepalive(id, deadlineMs, perTryMs),
      close: async (id) => {
        await this.core.call({ type: "session_close", session: id });
      },
      forget: (s) => this.sessions.delete(s),
    };
  }

  /** The client id the server keys exactly-once results by. */
  get clientId(): string {
    return this.core.id;
  }

  /** Writes the value; resolves with the key's new version. */
  async put(key: string, value: string | Uint8Array, opts: WriteOptions = {}): Promise<Written> {
    const body: RequestBody = {
      type: "put",
      key: checkKey(key),
      value: this.checkValue(value),
      ttlMs: checkNat(opts.ttlMs ?? 0, "ttlMs"),
      ...conditions(opts),
    };
    return (await this.core.call(body, opts)) as Written;
  }

  /** The value, its version and the ms it has left (0: never expires); NotFound if absent. */
  async get(key: string, opts: ReadOptions = {}): Promise<Value> {
    const body: RequestBody = { type: "get", key: checkKey(key), stale: opts.stale === true };
    return (await this.core.call(body, opts)) as Value;
  }

  /** The same as get (the text protocol's getm, which adds version and expiry, has this shape). */
  async getm(key: string, opts: ReadOptions = {}): Promise<Value> {
    const body: RequestBody = { type: "getm", key: checkKey(key), stale: opts.stale === true };
    return (await this.core.call(body, opts)) as Value;
  }

  /** Deletes the key; resolves with the revision of the delete; NotFound if absent. */
  async delete(key: string, opts: DeleteOptions = {}): Promise<Written> {
    const body: RequestBody = { type: "delete", key: checkKey(key), ...fence(opts.ifHolds) };
    return (await this.core.call(body, opts)) as Written;
  }

  /** Writes the value only if the key's version is `version`: VersionMismatch (with the current
   * version) if not, NotFound if the key is absent. */
  async cas(
    key: string,
    version: number,
    value: string | Uint8Array,
    opts: WriteOptions = {},
  ): Promise<Written> {
    const body: RequestBody = {
      type: "cas",
      key: checkKey(key),
      version: checkNat(version, "version"),
      value: this.checkValue(value),
      ttlMs: checkNat(opts.ttlMs ?? 0, "ttlMs"),
      ...conditions(opts),
    };
    return (await this.core.call(body, opts)) as Written;
  }

  /** Keys with a prefix, or in [start, end) (an empty end: no upper bound), sorted by key. */
  async range(query: RangeQuery, opts: RangeOptions = {}): Promise<RangeResult> {
    const body: RequestBody = {
      type: "range",
      selector: checkSelector(query),
      limit: checkNat(opts.limit ?? 0, "limit", 0xffffffff),
      stale: opts.stale === true,
    };
    return (await this.core.call(body, opts)) as RangeResult;
  }

  /** The rank's status as it reports it (rank, log position, keys...). */
  async status(opts: CallOptions = {}): Promise<ServerStatus> {
    return (await this.core.call({ type: "status" }, opts)) as ServerStatus;
  }

  /** Opens a session (through the log) and keeps it alive until it is closed or expires. */
  async session(opts: SessionOptions): Promise<Session> {
    const ttlMs = checkNat(opts.ttlMs, "ttlMs");
    if (ttlMs < MIN_SESSION_TTL_MS || ttlMs > MAX_SESSION_TTL_MS)
      throw new BadRequest(
        `ttlMs ${ttlMs}: a session's TTL is ${MIN_SESSION_TTL_MS} to ${MAX_SESSION_TTL_MS} ms`,
      );
    const sentMs = performance.now(); // the server's deadline starts after this
    const r = (await this.core.call({ type: "session_open", ttlMs }, opts)) as {
      session: number;
      ttlMs: number;
    };
    const s = new Session(this.host, r.session, r.ttlMs, sentMs);
    this.sessions.add(s);
    return s;
  }

  /** Takes the lock for the session if it is free (or already the session's): its fencing
   * token, strictly increasing per lock. LockHeldError (with the holder's token) if held. */
  async tryAcquire(lock: string, opts: LockOptions): Promise<{ token: number }> {
    const body: RequestBody = {
      type: "acquire",
      lock: checkKey(lock, "lock"),
      session: use(opts.session),
      wait: false,
    };
    return (await this.lockCall(body, opts)) as { token: number };
  }

  /** An acquire whose resend the server forgot (the client did many writes while it waited) is
   * asked again under a new request number: the log answers a session that already holds or
   * waits for the lock with its grant or its place, never a second one. */
  private async lockCall(body: RequestBody, opts: CallOptions): Promise<unknown> {
    for (;;) {
      try {
        return await this.core.call(body, opts);
      } catch (e) {
        if (!(e instanceof ForgottenRequest)) throw e;
      }
    }
  }

  /** Waits (first come, first served) until the lock is the session's: its fencing token. No
   * timeout unless `timeoutMs` is given. On abort (`signal`, or the session's end) or timeout
   * the place in the queue is given up (AbortError, NoSession, Timeout). A resend after a lost
   * connection is the same request: it never makes a second holder. */
  async acquire(lock: string, opts: LockOptions): Promise<{ token: number }> {
    const name = checkKey(lock, "lock");
    const session = use(opts.session);
    const signals = [opts.signal, opts.session instanceof Session ? opts.session.signal : null];
    const signal = AbortSignal.any(
      signals.filter((x): x is AbortSignal => x instanceof AbortSignal),
    );
    const timeoutMs = opts.timeoutMs ?? WAIT_FOREVER_MS;
    const body = { type: "acquire", lock: name, session, wait: true } as const;
    try {
      return (await this.lockCall(body, { timeoutMs, signal })) as { token: number };
    } catch (e) {
      if (e instanceof KvError && !(e instanceof Timeout)) throw e;
      await this.giveUp(name, session);
      if (e instanceof Timeout) throw e;
      if (signal.reason instanceof NoSession) throw signal.reason;
      throw new AbortError(`acquire ${JSON.stringify(lock)}: aborted`);
    }
  }

  /** cancel_wait, and a release if the grant came first. Failures are left to the session's
   * end, which removes its waits and releases its locks. */
  private async giveUp(lock: string, session: number): Promise<void> {
    try {
      const r = (await this.core.call({ type: "cancel_wait", lock, session })) as {
        token?: number;
      };
      if (r.token !== undefined) await this.core.call({ type: "release", lock, token: r.token });
    } catch {
      // see above
    }
  }

  /** Releases the lock held with `token`; NotHolderError if that token does not hold it. */
  async release(lock: string, token: number, opts: CallOptions = {}): Promise<void> {
    const body = { type: "release", lock: checkKey(lock, "lock"), token: checkNat(token, "token") };
    await this.core.call(body as RequestBody, opts);
  }

  /** Changes to a key (or, with `prefix`, to every key under it) in revision order, none missed
   * and none repeated across reconnects and failovers. A start revision the server no longer
   * keeps throws CompactedError from the iterator. `break` (or `signal`) ends the watch. */
  watch(keyOrPrefix: string, opts: WatchOptions = {}): AsyncIterableIterator<WatchEvent> {
    const selector = opts.prefix
      ? { prefix: checkKey(keyOrPrefix, "prefix", 0) }
      : { key: checkKey(keyOrPrefix) };
    const from = checkNat(opts.fromRevision ?? 0, "fromRevision");
    const prevValue = opts.prevValue === true;
    return new WatchStream(this.core, selector, from, prevValue, opts.signal, () => {});
  }

  /** The next change to the key (Gobby's one-shot watch), from the moment the request reaches
   * a rank, or from `fromRevision`. */
  async watchOnce(key: string, opts: Omit<WatchOptions, "prefix"> = {}): Promise<WatchEvent> {
    const it = this.watch(key, opts);
    try {
      const r = await it.next();
      if (r.done) throw new AbortError(`watchOnce ${JSON.stringify(key)}: ended`);
      return r.value;
    } finally {
      await it.return?.();
    }
  }

  /** The master's rank and epoch (the log revision at which its term began; 0 when the rank
   * asked has not seen it yet), or null when no master is known. */
  async checkMaster(opts: CallOptions = {}): Promise<Master> {
    return (await this.core.call({ type: "master" }, opts)) as Master;
  }

  /** Closes the open sessions (releasing their locks; at most 1 s), fails every pending call
   * (Unavailable), ends the watches and closes the connections. */
  async close(): Promise<void> {
    const closing = Promise.all([...this.sessions].map((s) => s.close().catch(() => {})));
    await Promise.race([closing, new Promise((r) => setTimeout(r, 1000).unref())]);
    await this.router.close();
    return this.core.close();
  }

  private checkValue(value: string | Uint8Array): Uint8Array {
    const bytes = valueBytes(value);
    // Checked before encoding: a 100 MB value must not be copied into a frame only to be refused.
    if (bytes.length > this.core.maxFrameBytes)
      throw new TooLarge(
        `a value of ${bytes.length} bytes cannot fit in a request (limit ${this.core.maxFrameBytes})`,
      );
    return bytes;
  }
}

/** A client for the endpoints. It connects on the first call (to the first endpoint that
 * answers) and stays connected until close(); the returned object may also be awaited. */
export function connect(options: ConnectOptions): KvClient {
  return new KvClient(options);
}

function use(s: Session | number): number {
  return s instanceof Session ? s.use() : checkNat(s, "session");
}

function fence(f: LockFence | undefined): { ifHolds?: LockFence } {
  if (f === undefined) return {};
  if (typeof f !== "object" || f === null) throw new BadRequest("ifHolds takes { lock, token }");
  return { ifHolds: { lock: checkKey(f.lock, "lock"), token: checkNat(f.token, "token") } };
}

function conditions(opts: WriteOptions): { session?: number; ifHolds?: LockFence } {
  return {
    ...(opts.session !== undefined ? { session: use(opts.session) } : {}),
    ...fence(opts.ifHolds),
  };
}
