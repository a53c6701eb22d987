// The binary client protocol of yasp-kv (the client port; TCP, or TLS when the server has a cert).
//
// Numbers are little-endian. `u64` is a non-negative integer <= 2^53 - 1 written as two u32, low
// word first (a reader refuses a high word > 0x1fffff). `str` is a u32 byte length, then that many
// bytes of well-formed UTF-8; `bytes` is a u32 length, then the raw bytes. `bool` is a u8 0 or 1.
//
// Frame:  u32 length of what follows (5 .. 2 MiB + 64 KiB by default; more: the receiver closes
//         the connection), u8 type, u32 request id (any value; chosen by the client, echoed in the
//         response), then the body of that type. Nothing may follow the body's last field.
// The client sends hello first, then may pipeline any number of requests without waiting;
// responses carry the request id and may come in any order.
//
// Requests (type: body)
//   0x01 hello   u8 protocol version (1), str client id (1..64 bytes), str auth token (0..4096
//                bytes; empty: none). Answered by ok, or error unauthenticated (then closed).
//   0x02 put     str key, bytes value, u64 ttlMs (0: never expires), u64 req, u64 low
//   0x03 get     str key, bool stale (true: answer from the rank's state without a read barrier)
//   0x04 getm    str key, bool stale (the same answer as get; kept for the text protocol's getm)
//   0x05 delete  str key, u64 req, u64 low
//   0x06 cas     str key, u64 version (expected), bytes value, u64 ttlMs, u64 req, u64 low
//   0x07 range   u8 mode: 0 then str prefix (may be empty: every key), or 1 then str start,
//                str end (keys in [start, end); an empty end: no upper bound); then u32 limit (0:
//                the server's maximum), bool stale
//   0x08 status  (no body)
// Keys are 1..4096 bytes (a prefix, start or end 0..4096). `req` is the client's request number
// for a write, strictly increasing per client id; `low` is the lowest request number the client is
// still waiting for. A write resent with the same client id and req (after a lost connection, on
// any rank) is applied at most once and answered with the first answer.
//
// Responses (type: body)
//   0x80 ok       (no body; answers hello)
//   0x81 written  u64 version (put, cas)
//   0x82 value    bytes value, u64 version, u64 expiresInMs (0: never expires) (get, getm)
//   0x83 deleted  u64 version (the revision of the delete)
//   0x84 entries  u32 count, count times (str key, bytes value, u64 version, u64 expiresInMs),
//                 bool more (true: the limit cut the list; ask again from after the last key)
//   0x85 status   str JSON text
//   0x86 error    u8 code, str message (0..65536 bytes), and for version_mismatch u64 current version
// Error codes: 1 not_found, 2 version_mismatch, 3 too_large, 4 bad_request, 5 unauthenticated,
//   6 not_ready (this rank is not serving yet: try another), 7 internal, 8 stale_request (the
//   request number is below what the server still remembers for this client).
// A frame that cannot be decoded is answered with error bad_request (or too_large) under its
// request id when the id is readable (the connection stays up); otherwise the connection is closed.
import { FRAME_LENGTH_BYTES, LeReader, LeWriter, WireError } from "./client_wire_bytes.js";

export { FrameReader, type FrameChunk } from "./client_wire_bytes.js";

export const PROTOCOL_VERSION = 1;
export const MAX_KEY_BYTES = 4096;
export const MAX_CLIENT_ID_BYTES = 64;
export const MAX_TOKEN_BYTES = 4096;
export const MAX_ERROR_MESSAGE_BYTES = 65536;
export const DEFAULT_MAX_FRAME_BYTES = 2 * 1024 * 1024 + 64 * 1024;

export type RangeSelector = { prefix: string } | { start: string; end: string };

export type ClientRequest =
  | { type: "hello"; id: number; version: number; clientId: string; token: string }
  | {
      type: "put";
      id: number;
      key: string;
      value: Uint8Array;
      ttlMs: number;
      req: number;
      low: number;
    }
  | { type: "get" | "getm"; id: number; key: string; stale: boolean }
  | { type: "delete"; id: number; key: string; req: number; low: number }
  | {
      type: "cas";
      id: number;
      key: string;
      version: number;
      value: Uint8Array;
      ttlMs: number;
      req: number;
      low: number;
    }
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
  | "stale_request";

export type WireEntry = { key: string; value: Uint8Array; version: number; expiresInMs: number };

export type ClientResponse =
  | { type: "ok"; id: number }
  | { type: "written" | "deleted"; id: number; version: number }
  | { type: "value"; id: number; value: Uint8Array; version: number; expiresInMs: number }
  | { type: "entries"; id: number; entries: WireEntry[]; more: boolean }
  | { type: "status"; id: number; json: string }
  | { type: "error"; id: number; code: WireErrorCode; message: string; version?: number };

/** A decoded frame, or why not; `id` is the request id when it could be read (then the receiver
 * answers with an error of `code`; when undefined it closes the connection). */
export type Decoded<T> =
  | { ok: true; message: T }
  | { ok: false; id: number | undefined; code: "bad_request" | "too_large"; error: string };

const REQUEST_TYPES = {
  hello: 0x01,
  put: 0x02,
  get: 0x03,
  getm: 0x04,
  delete: 0x05,
  cas: 0x06,
  range: 0x07,
  status: 0x08,
} as const satisfies Record<ClientRequest["type"], number>;

const RESPONSE_TYPES = {
  ok: 0x80,
  written: 0x81,
  value: 0x82,
  deleted: 0x83,
  entries: 0x84,
  status: 0x85,
  error: 0x86,
} as const satisfies Record<ClientResponse["type"], number>;

const ERROR_CODES: readonly WireErrorCode[] = [
  "not_found",
  "version_mismatch",
  "too_large",
  "bad_request",
  "unauthenticated",
  "not_ready",
  "internal",
  "stale_request",
];

/** A fresh writer with room for the length prefix, the type and the request id. */
function header(type: number, id: number, bodyBytes: number): LeWriter {
  const w = new LeWriter(FRAME_LENGTH_BYTES + 5 + bodyBytes);
  w.u32(0); // the length, patched by frame()
  w.u8(type);
  w.u32(id);
  return w;
}

function frame(w: LeWriter): Uint8Array {
  w.patchU32(0, w.pos - FRAME_LENGTH_BYTES);
  return w.finish();
}

/** The whole frame (length prefix included) of a request. */
export function encodeRequest(m: ClientRequest): Uint8Array {
  const valueBytes = m.type === "put" || m.type === "cas" ? m.value.length : 0;
  const w = header(REQUEST_TYPES[m.type], m.id, 64 + valueBytes);
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
  return frame(w);
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

/** The whole frame (length prefix included) of a response. */
export function encodeResponse(m: ClientResponse): Uint8Array {
  const size = m.type === "value" ? m.value.length : m.type === "status" ? m.json.length * 3 : 0;
  const w = header(RESPONSE_TYPES[m.type], m.id, 32 + size);
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
      if (m.code === "version_mismatch") w.nat(m.version ?? 0);
      break;
  }
  return frame(w);
}

/** Runs a body decoder; a WireError (or anything else: decoders never throw) becomes a refusal. */
function decodeFrame<T>(
  frame: Uint8Array,
  body: (r: LeReader, type: number, id: number) => T,
): Decoded<T> {
  const r = new LeReader(frame);
  let id: number | undefined;
  try {
    const type = r.u8("type");
    id = r.u32("request id");
    const message = body(r, type, id);
    r.done();
    return { ok: true, message };
  } catch (e) {
    const code = e instanceof WireError ? e.code : "bad_request";
    const error = e instanceof Error ? e.message : String(e);
    return { ok: false, id, code, error };
  }
}

const key = (r: LeReader): string => r.str("key", 1, MAX_KEY_BYTES);

/** A request frame as FrameReader yields it (without the length prefix). */
export function decodeRequest(frame: Uint8Array): Decoded<ClientRequest> {
  return decodeFrame(frame, readRequest);
}

function readRequest(r: LeReader, type: number, id: number): ClientRequest {
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

/** A response frame as FrameReader yields it (without the length prefix). */
export function decodeResponse(frame: Uint8Array): Decoded<ClientResponse> {
  return decodeFrame(frame, readResponse);
}

function readResponse(r: LeReader, type: number, id: number): ClientResponse {
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

function readEntries(r: LeReader, id: number): ClientResponse {
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

function readError(r: LeReader, id: number): ClientResponse {
  const n = r.u8("error code");
  const code = ERROR_CODES[n - 1];
  if (code === undefined) throw new WireError(`unknown error code ${n}`);
  const message = r.str("error message", 0, MAX_ERROR_MESSAGE_BYTES);
  if (code !== "version_mismatch") return { type: "error", id, code, message };
  return { type: "error", id, code, message, version: r.nat("current version") };
}
