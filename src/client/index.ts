// yasp/client: the typed client of yasp-kv.
//
//   import { connect, NotFound } from "yasp/client";
//   const kv = connect({ endpoints: ["10.0.0.1:8000", "10.0.0.2:8000", "10.0.0.3:8000"] });
//   const { version } = await kv.put("config/a", "1", { ttlMs: 60_000 });
//   await kv.cas("config/a", version, "2");
//   const { value } = await kv.get("config/a"); // Uint8Array
//   await kv.close();
//
//   const s = await kv.session({ ttlMs: 10_000 });       // kept alive until s.close()
//   const { token } = await kv.acquire("locks/a", { session: s });
//   await kv.put("guarded", "x", { ifHolds: { lock: "locks/a", token } }); // FenceError if lost
//   await kv.release("locks/a", token);
//   for await (const e of kv.watch("config/", { prefix: true })) console.log(e.revision, e.key);
//
// Every call has a timeout (Timeout: a write's outcome is then unknown) and may take an
// AbortSignal; failover and resends with the same request number are automatic (see client.ts).
export { connect, KvClient, MAX_SESSION_TTL_MS, MIN_SESSION_TTL_MS } from "./kv_client.js";
export type {
  DeleteOptions,
  LockFence,
  LockOptions,
  RangeOptions,
  RangeQuery,
  ReadOptions,
  ServerStatus,
  SessionOptions,
  WriteOptions,
} from "./kv_client.js";
export { Session } from "./session.js";
export type { WatchEvent, WatchOptions } from "./watch.js";
export type { Master } from "./requests.js";
export type { CallOptions, ConnectOptions } from "./client.js";
export type { TlsOptions } from "./connection.js";
export type { Entry, RangeResult, Value, Written } from "./requests.js";
export {
  AbortError,
  BadRequest,
  CompactedError,
  FenceError,
  Internal,
  KvError,
  LockHeldError,
  NoSession,
  NotFound,
  NotHolderError,
  NotMaster,
  Timeout,
  TooLarge,
  TooManyRequests,
  Unauthenticated,
  Unavailable,
  VersionMismatch,
  type KvErrorCode,
} from "./errors.js";
