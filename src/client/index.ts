// yasp/client: the typed client of yasp-kv.
//
//   import { connect, NotFound } from "yasp/client";
//   const kv = connect({ endpoints: ["10.0.0.1:8000", "10.0.0.2:8000", "10.0.0.3:8000"] });
//   const { version } = await kv.put("config/a", "1", { ttlMs: 60_000 });
//   await kv.cas("config/a", version, "2");
//   const { value } = await kv.get("config/a"); // Uint8Array
//   await kv.close();
//
// Every call has a timeout (Timeout: a write's outcome is then unknown) and may take an
// AbortSignal; failover and resends with the same request number are automatic (see client.ts).
export { connect, KvClient } from "./kv_client.js";
export type {
  RangeOptions,
  RangeQuery,
  ReadOptions,
  ServerStatus,
  WriteOptions,
} from "./kv_client.js";
export type { CallOptions, ConnectOptions } from "./client.js";
export type { TlsOptions } from "./connection.js";
export type { Entry, RangeResult, Value, Written } from "./requests.js";
export {
  BadRequest,
  Internal,
  KvError,
  NotFound,
  Timeout,
  TooLarge,
  TooManyRequests,
  Unauthenticated,
  Unavailable,
  VersionMismatch,
  type KvErrorCode,
} from "./errors.js";
