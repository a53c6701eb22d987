// What each client call sends and how each answer becomes its result or a typed error. Checks
// what the client can check itself (key and value sizes, numbers) so that a request the server
// would refuse, or a frame it would close the connection for, is never sent.
import {
  MAX_KEY_BYTES,
  type ClientRequest,
  type ClientResponse,
  type RangeSelector,
  type WireEntry,
  type WriteConditions,
} from "../kv/client_wire.js";
import {
  BadRequest,
  FenceError,
  ForgottenRequest,
  Internal,
  KvError,
  LockHeldError,
  NoSession,
  NotFound,
  NotHolderError,
  NotMaster,
  TooLarge,
  TooManyRequests,
  Unauthenticated,
  VersionMismatch,
} from "./errors.js";

export type Value = { value: Uint8Array; version: number; expiresInMs: number };
export type Written = { version: number };
export type Entry = WireEntry;
export type RangeResult = { entries: Entry[]; more: boolean };

export type Master = { rank: number; epoch: number } | null;

/** A request without its frame id and, for writes, its request numbers (set when sent). */
export type RequestBody =
  | ({ type: "put"; key: string; value: Uint8Array; ttlMs: number } & WriteConditions)
  | { type: "get" | "getm"; key: string; stale: boolean }
  | { type: "delete"; key: string; ifHolds?: WriteConditions["ifHolds"] }
  | ({
      type: "cas";
      key: string;
      version: number;
      value: Uint8Array;
      ttlMs: number;
    } & WriteConditions)
  | { type: "range"; selector: RangeSelector; limit: number; stale: boolean }
  | { type: "status" }
  | { type: "session_open"; ttlMs: number }
  | { type: "session_keepalive"; session: number }
  | { type: "session_close"; session: number }
  | { type: "acquire"; lock: string; session: number; wait: boolean }
  | { type: "release"; lock: string; token: number }
  | { type: "cancel_wait"; lock: string; session: number }
  | { type: "master" }
  | { type: "unwatch"; watch: number };

/** Requests that carry a request number: applied at most once however often they are resent. */
const WRITES = new Set<RequestBody["type"]>([
  "put",
  "cas",
  "delete",
  "session_open",
  "session_close",
  "acquire",
  "release",
  "cancel_wait",
]);

export const isWrite = (b: RequestBody): boolean => WRITES.has(b.type);

/** The wire request of a body under frame id `id` (req and low: 0 for reads, unused). */
export function toRequest(b: RequestBody, id: number, req: number, low: number): ClientRequest {
  return (isWrite(b) ? { ...b, id, req, low } : { ...b, id }) as ClientRequest;
}

/** A short name of the call for messages: `put "a/b"`. */
export function describe(b: RequestBody): string {
  if (b.type === "status" || b.type === "master") return b.type;
  if (b.type === "session_open") return "session open";
  if (b.type === "session_keepalive" || b.type === "session_close")
    return `${b.type === "session_close" ? "close of" : "keepalive of"} session ${b.session}`;
  if (b.type === "unwatch") return "unwatch";
  if (b.type === "acquire" || b.type === "release" || b.type === "cancel_wait")
    return `${b.type} ${quote(b.lock)}`;
  if (b.type === "range")
    return "prefix" in b.selector
      ? `range prefix ${JSON.stringify(b.selector.prefix)}`
      : `range ${JSON.stringify(b.selector.start)}..${JSON.stringify(b.selector.end)}`;
  return `${b.type} ${quote(b.key)}`;
}

const quote = (k: string) => JSON.stringify(k.length > 60 ? k.slice(0, 60) + "…" : k);

const encoder = new TextEncoder();

export function valueBytes(value: string | Uint8Array): Uint8Array {
  if (typeof value === "string") return encoder.encode(value);
  if (value instanceof Uint8Array) return value;
  throw new BadRequest("a value must be a string or a Uint8Array");
}

/** No lone surrogate: UTF-8 would carry U+FFFD instead, i.e. another key. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function checkKey(key: unknown, what = "key", minBytes = 1): string {
  if (typeof key !== "string") throw new BadRequest(`the ${what} must be a string`);
  if (LONE_SURROGATE.test(key)) throw new BadRequest(`the ${what} is not valid Unicode`);
  const n = Buffer.byteLength(key, "utf8");
  if (n < minBytes) throw new BadRequest(`the ${what} is empty`);
  if (n > MAX_KEY_BYTES)
    throw new TooLarge(`the ${what} has ${n} bytes: the limit is ${MAX_KEY_BYTES}`);
  return key;
}

export function checkNat(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max)
    throw new BadRequest(`${what} must be a whole number from 0 to ${max}, not ${String(v)}`);
  return v;
}

export function checkSelector(s: unknown): RangeSelector {
  if (typeof s === "object" && s !== null) {
    if ("prefix" in s) return { prefix: checkKey(s.prefix, "prefix", 0) };
    if ("start" in s && "end" in s)
      return { start: checkKey(s.start, "start", 0), end: checkKey(s.end, "end", 0) };
  }
  throw new BadRequest("range takes { prefix } or { start, end }");
}

/** The typed error of an error response (not_ready never gets here: the client retries it). */
export function errorOf(
  res: Extract<ClientResponse, { type: "error" }>,
  b: RequestBody,
  sentBefore: boolean,
): KvError {
  const what = describe(b);
  const said = res.message ? `: ${res.message}` : "";
  switch (res.code) {
    case "not_found":
      return new NotFound(`${what}: not found`);
    case "version_mismatch":
      return new VersionMismatch(
        `${what}: version mismatch (the current version is ${res.version ?? "unknown"})`,
        res.version,
      );
    case "too_large":
      return new TooLarge(`${what}: too large${said}`);
    case "bad_request":
      return new BadRequest(`${what}: refused as malformed${said}`);
    case "unauthenticated":
      return new Unauthenticated(`${what}: not authenticated${said}`);
    case "stale_request":
      // Only a request resent after the server forgot it; whether the first copy applied is unknown.
      return new ForgottenRequest(
        `${what}: the server no longer remembers this request${unknown(b)}`,
      );
    case "internal":
    case "not_ready":
      return new Internal(`${what}: server error${said}${sentBefore ? unknown(b) : ""}`);
    case "no_session":
      return new NoSession(`${what}: no such session${said}`);
    case "lock_held":
      return new LockHeldError(`${what}: held (holder's token ${res.version ?? "?"})`, res.version);
    case "not_holder":
      return new NotHolderError(`${what}: that token does not hold the lock`);
    case "fence_failed":
      return new FenceError(`${what}: the fencing token no longer holds the lock; nothing written`);
    case "not_master":
      return new NotMaster(`${what}: not the master${said}`, res.master);
    case "busy":
      return new TooManyRequests(`${what}: the server is busy${said}`);
  }
}

/** What a message adds about a write whose outcome the client cannot know. */
export function unknown(b: RequestBody): string {
  return isWrite(b) ? `; the ${b.type} may or may not have taken effect` : "";
}

/** The result of a non-error response, or the error saying it does not fit the request. */
export function resultOf(res: ClientResponse, b: RequestBody): unknown {
  switch (b.type) {
    case "put":
    case "cas":
      if (res.type === "written") return { version: res.version } satisfies Written;
      break;
    case "delete":
      if (res.type === "deleted") return { version: res.version } satisfies Written;
      break;
    case "get":
    case "getm":
      if (res.type === "value")
        return {
          value: res.value,
          version: res.version,
          expiresInMs: res.expiresInMs,
        } satisfies Value;
      break;
    case "range":
      if (res.type === "entries") return { entries: res.entries, more: res.more };
      break;
    case "status":
      if (res.type === "status") return parseStatus(res.json);
      break;
    default:
      return coordResultOf(res, b);
  }
  return new Internal(`${describe(b)}: unexpected ${res.type} answer${unknown(b)}`);
}

function parseStatus(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return new Internal("status: the server's answer is not JSON");
  }
}

/** The results of coordination requests (undefined for those answered with a bare ok). */
function coordResultOf(res: ClientResponse, b: RequestBody): unknown {
  const ok = res.type === "ok";
  switch (b.type) {
    case "session_open":
      if (res.type === "session") return { session: res.session, ttlMs: res.ttlMs };
      break;
    case "session_keepalive":
      if (res.type === "kept") return { ttlMs: res.ttlMs };
      break;
    case "acquire":
      if (res.type === "granted") return { token: res.token };
      break;
    case "cancel_wait":
      if (res.type === "granted") return { token: res.token };
      if (ok) return {};
      break;
    case "master":
      if (res.type === "master") return res.master;
      break;
    case "session_close":
    case "release":
    case "unwatch":
      if (ok) return undefined;
      break;
  }
  return new Internal(`${describe(b)}: unexpected ${res.type} answer${unknown(b)}`);
}
