// What the coordination workers use of the client library (issue 13's design, section 4) and
// the role spec the harness passes them. The one place to adapt when the library's types differ.
import type { KvClient, Written } from "../client/index.js";

export interface WatchEvent {
  revision: number;
  kind: "put" | "delete" | "expire";
  key: string;
  value?: Uint8Array;
  prevValue?: Uint8Array;
}

export interface Session {
  id: number;
  on(event: "expired", cb: () => void): void;
  close(): Promise<void>;
}

export interface WriteOpts {
  ifHolds?: { lock: string; token: number };
  session?: Session;
}

export interface CoordClient extends Omit<KvClient, "put"> {
  put(key: string, value: string | Uint8Array, opts?: WriteOpts): Promise<Written>;
  session(opts: { ttlMs: number }): Promise<Session>;
  tryAcquire(lock: string, opts: { session: Session }): Promise<number>;
  acquire(lock: string, opts: { session: Session; signal?: AbortSignal }): Promise<number>;
  release(lock: string, token: number): Promise<void>;
  watch(
    keyOrPrefix: string,
    opts?: { prefix?: boolean; fromRevision?: number; prevValue?: boolean },
  ): AsyncIterable<WatchEvent>;
  watchOnce(key: string): Promise<WatchEvent>;
  checkMaster(): Promise<{ rank: number; epoch: number } | null>;
}

export interface Spec {
  role: "basic" | "counter" | "holder" | "waiter" | "watcher" | "writer";
  endpoints: string[];
  timeoutMs?: number;
  key?: string;
  dataKey?: string;
  lock?: string;
  prefix?: string;
  ttlMs?: number;
  rounds?: number;
  fromRevision?: number;
  /** watcher: report values too. */
  values?: boolean;
  /** writer: how long, how many keys, puts in flight, a delete every n writes. */
  forMs?: number;
  keys?: number;
  concurrency?: number;
  deleteEvery?: number;
}
