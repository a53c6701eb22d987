// The bodies of the client wire's first message types (hello, put, get, getm, delete, cas, range,
// status and their responses): client_wire.ts documents the layouts and dispatches here.
import {
  LeReader,
  LeWriter,
  MAX_CLIENT_ID_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_KEY_BYTES,
  MAX_TOKEN_BYTES,
  PROTOCOL_VERSION,
  WireError,
} from "./client_wire_bytes.js";
import type { WriteConditions } from "./client_wire_coord.js";

export type RangeSelector = { prefix: string } | { start: string; end: string };

/** A put, cas or delete with conditions goes as put_x, cas_x or delete_x; without, as the plain
 * type (the bytes of version 1 clients). */
export type PlainRequest =
  | { type: "hello"; id: number; version: number; clientId: string; token: string }
  | ({
      type: "put";
      id: number;
      key: string;
      value: Uint8Array;
      ttlMs: number;
      req: number;
      low: number;
    } & WriteConditions)
  | { type: "get" | "getm"; id: number; key: string; stale: boolean }
  | ({ type: "delete"; id: number; key: string; req: number; low: number } & WriteConditions)
  | ({
      type: "cas";
      id: number;
      key: string;
      version: number;
      value: Uint8Array;
      ttlMs: number;
      req: number;
      low: number;
    } & WriteConditions)
  | { type: "range"; id: number; selector: RangeSelector; limit: number; stale: boolean }
  | { type: "status"; id: number };

export type WireErrorCode =
  | "not_found"
  | "version_mismatch"
  | "too_large"
  | "bad_request"
  | "unauthenticated"
  | "not_ready"
  | "internal"
  | "stale_request"
  | "no_session"
  | "lock_held"
  | "not_holder"
  | "fence_failed"
  | "not_master"
  | "busy";

export type WireEntry = { key: string; value: Uint8Array; version: number; expiresInMs: number };

export type PlainResponse =
  | { type: "ok"; id: number }
  | { type: "written" | "deleted"; id: number; version: number }
  | { type: "value"; id: number; value: Uint8Array; version: number; expiresInMs: number }
  | { type: "entries"; id: number; entries: WireEntry[]; more: boolean }
  | { type: "status"; id: number; json: string }
  | {
      type: "error";
      id: number;
      code: WireErrorCode;
      message: string;
      /** version_mismatch: the current version; lock_held: the holder's fencing token. */
      version?: number;
      /** not_master: the master's rank when this rank knows it. */
      master?: number;
    };

export const REQUEST_TYPES = {
  hello: 0x01,
  put: 0x02,
  get: 0x03,
  getm: 0x04,
  delete: 0x05,
  cas: 0x06,
  range: 0x07,
  status: 0x08,
} as const satisfies Record<PlainRequest["type"], number>;

export const RESPONSE_TYPES = {
  ok: 0x80,
  written: 0x81,
  value: 0x82,
  deleted: 0x83,
  entries: 0x84,
  status: 0x85,
  error: 0x86,
} as const satisfies Record<PlainResponse["type"], number>;

const ERROR_CODES: readonly WireErrorCode[] = [
  "not_found",
  "version_mismatch",
  "too_large",
  "bad_request",
  "unauthenticated",
  "not_ready",
  "internal",
  "stale_request",
  "no_session",
  "lock_held",
  "not_holder",
  "fence_failed",
  "not_master",
  "busy",
];

export function writePlainRequest(w: LeWriter, m: PlainRequest): void {
  switch (m.type) {
    case "hello":
      w.u8(m.version);
      w.str(m.clientId);
      w.str(m.token);
      break;
    case "put":
      w.str(m.key);
      w.bytes(m.value);
      w.nat(m.ttlMs);
      w.nat(m.req);
      w.nat(m.low);
      break;
    case "get":
    case "getm":
      w.str(m.key);
      w.bool(m.stale);
      break;
    case "delete":
      w.str(m.key);
      w.nat(m.req);
      w.nat(m.low);
      break;
    case "cas":
      w.str(m.key);
      w.nat(m.version);
      w.bytes(m.value);
      w.nat(m.ttlMs);
      w.nat(m.req);
      w.nat(m.low);
      break;
    case "range":
      writeSelector(w, m.selector);
      w.u32(m.limit);
      w.bool(m.stale);
      break;
    case "status":
      break;
  }
}

function writeSelector(w: LeWriter, s: RangeSelector): void {
  if ("prefix" in s) {
    w.u8(0);
    w.str(s.prefix);
  } else {
    w.u8(1);
    w.str(s.start);
    w.str(s.end);
  }
}

export function writePlainResponse(w: LeWriter, m: PlainResponse): void {
  switch (m.type) {
    case "ok":
      break;
    case "written":
    case "deleted":
      w.nat(m.version);
      break;
    case "value":
      w.bytes(m.value);
      w.nat(m.version);
      w.nat(m.expiresInMs);
      break;
    case "entries":
      w.u32(m.entries.length);
      for (const e of m.entries) {
        w.str(e.key);
        w.bytes(e.value);
        w.nat(e.version);
        w.nat(e.expiresInMs);
      }
      w.bool(m.more);
      break;
    case "status":
      w.str(m.json);
      break;
    case "error":
      w.u8(ERROR_CODES.indexOf(m.code) + 1);
      w.str(m.message);
      if (m.code === "version_mismatch" || m.code === "lock_held") w.nat(m.version ?? 0);
      if (m.code === "not_master") {
        w.bool(m.master !== undefined);
        if (m.master !== undefined) w.u32(m.master);
      }
      break;
  }
}

const key = (r: LeReader): string => r.str("key", 1, MAX_KEY_BYTES);

export function readPlainRequest(r: LeReader, type: number, id: number): PlainRequest {
  switch (type) {
    case REQUEST_TYPES.hello: {
      const version = r.u8("protocol version");
      if (version !== PROTOCOL_VERSION)
        throw new WireError(`protocol version ${version} (this side speaks ${PROTOCOL_VERSION})`);
      const clientId = r.str("client id", 1, MAX_CLIENT_ID_BYTES);
      return { type: "hello", id, version, clientId, token: r.str("token", 0, MAX_TOKEN_BYTES) };
    }
    case REQUEST_TYPES.put: {
      const k = key(r);
      const value = r.bytes("value", r.left);
      return { type: "put", id, key: k, value, ttlMs: r.nat("ttlMs"), ...reqLow(r) };
    }
    case REQUEST_TYPES.get:
    case REQUEST_TYPES.getm: {
      const k = key(r);
      const stale = r.bool("stale");
      return { type: type === REQUEST_TYPES.get ? "get" : "getm", id, key: k, stale };
    }
    case REQUEST_TYPES.delete:
      return { type: "delete", id, key: key(r), ...reqLow(r) };
    case REQUEST_TYPES.cas: {
      const k = key(r);
      const version = r.nat("version");
      const value = r.bytes("value", r.left);
      return { type: "cas", id, key: k, version, value, ttlMs: r.nat("ttlMs"), ...reqLow(r) };
    }
    case REQUEST_TYPES.range: {
      const selector = readSelector(r);
      const limit = r.u32("limit");
      return { type: "range", id, selector, limit, stale: r.bool("stale") };
    }
    case REQUEST_TYPES.status:
      return { type: "status", id };
    default:
      throw new WireError(`unknown request type 0x${type.toString(16)}`);
  }
}

function reqLow(r: LeReader): { req: number; low: number } {
  const req = r.nat("req");
  const low = r.nat("low");
  if (low > req) throw new WireError(`low ${low} is above req ${req}`);
  return { req, low };
}

function readSelector(r: LeReader): RangeSelector {
  const mode = r.u8("range mode");
  if (mode === 0) return { prefix: r.str("prefix", 0, MAX_KEY_BYTES) };
  if (mode !== 1) throw new WireError(`range mode ${mode}, expected 0 or 1`);
  const start = r.str("start", 0, MAX_KEY_BYTES);
  return { start, end: r.str("end", 0, MAX_KEY_BYTES) };
}

export function readPlainResponse(r: LeReader, type: number, id: number): PlainResponse {
  switch (type) {
    case RESPONSE_TYPES.ok:
      return { type: "ok", id };
    case RESPONSE_TYPES.written:
    case RESPONSE_TYPES.deleted: {
      const kind = type === RESPONSE_TYPES.written ? "written" : "deleted";
      return { type: kind, id, version: r.nat("version") };
    }
    case RESPONSE_TYPES.value: {
      const value = r.bytes("value", r.left);
      const version = r.nat("version");
      return { type: "value", id, value, version, expiresInMs: r.nat("expiresInMs") };
    }
    case RESPONSE_TYPES.entries:
      return readEntries(r, id);
    case RESPONSE_TYPES.status:
      return { type: "status", id, json: r.str("status", 0, r.left) };
    case RESPONSE_TYPES.error:
      return readError(r, id);
    default:
      throw new WireError(`unknown response type 0x${type.toString(16)}`);
  }
}

/** The smallest entry: a 1-byte key, an empty value, two u64. */
const MIN_ENTRY_BYTES = 4 + 1 + 4 + 8 + 8;

function readEntries(r: LeReader, id: number): PlainResponse {
  const count = r.u32("entry count");
  // A count the bytes left cannot hold is a lie: refuse it before allocating for it.
  if (count * MIN_ENTRY_BYTES > r.left) throw new WireError(`${count} entries cannot fit`);
  const entries: WireEntry[] = [];
  for (let i = 0; i < count; i++) {
    const k = key(r);
    const value = r.bytes("value", r.left);
    const version = r.nat("version");
    entries.push({ key: k, value, version, expiresInMs: r.nat("expiresInMs") });
  }
  return { type: "entries", id, entries, more: r.bool("more") };
}

function readError(r: LeReader, id: number): PlainResponse {
  const n = r.u8("error code");
  const code = ERROR_CODES[n - 1];
  if (code === undefined) throw new WireError(`unknown error code ${n}`);
  const message = r.str("error message", 0, MAX_ERROR_MESSAGE_BYTES);
  if (code === "version_mismatch" || code === "lock_held")
    return { type: "error", id, code, message, version: r.nat("version or token") };
  if (code === "not_master" && r.bool("master known"))
    return { type: "error", id, code, message, master: r.u32("master rank") };
  return { type: "error", id, code, message };
}
