// The typed face of the client: one method per operation, each checking its arguments before
// anything is sent. Connection handling, retries and pipelining are KvCore's (client.ts).
import { KvCore, type CallOptions, type ConnectOptions } from "./client.js";
import { TooLarge } from "./errors.js";
import {
  checkKey,
  checkNat,
  checkSelector,
  valueBytes,
  type RangeResult,
  type RequestBody,
  type Value,
  type Written,
} from "./requests.js";

export interface WriteOptions extends CallOptions {
  /** Time to live in ms (0 or absent: never expires). */
  ttlMs?: number;
}

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

  constructor(options: ConnectOptions) {
    this.core = new KvCore(options);
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
  async delete(key: string, opts: CallOptions = {}): Promise<Written> {
    const body: RequestBody = { type: "delete", key: checkKey(key) };
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

  /** Fails every pending call (Unavailable) and closes the connection. */
  close(): Promise<void> {
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
