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
//   Coordination (client_wire_coord.ts):
//   0x09 session_open       u64 ttlMs (1000 .. 3600000), u64 req, u64 low -> session
//   0x0a session_keepalive  u64 session -> kept (only the master answers; others: not_master)
//   0x0b session_close      u64 session, u64 req, u64 low -> ok
//   0x0c acquire            str lock, u64 session, bool wait, u64 req, u64 low -> granted; with
//                           wait the answer comes once the lock is granted (FIFO); without it, or
//                           when the lock is held: error lock_held with the holder's token
//   0x0d release            str lock, u64 token, u64 req, u64 low -> ok | error not_holder
//   0x0e cancel_wait        str lock, u64 session, u64 req, u64 low -> ok (no longer waiting), or
//                           granted when the session holds the lock after all (release it)
//   0x0f watch              u8 mode: 0 then str key, or 1 then str prefix (may be empty); u64
//                           fromRevision (0: from now), bool prevValue -> watching, then events
//                           and at most one watch_ended, all under this request's id (the watch id)
//   0x10 unwatch            u32 watch id -> ok (then no more frames of that watch)
//   0x11 master             (no body) -> master
//   0x12 put_x, 0x13 cas_x, 0x14 delete_x: the body of put, cas, delete, then the conditions:
//                           u64 session (0: none; put and cas only: the key is deleted when the
//                           session ends), u8 0 | 1, then str lock, u64 token when 1 (applied only
//                           if that token still holds that lock, else error fence_failed)
// Keys are 1..4096 bytes (a prefix, start or end 0..4096). `req` is the client's request number
// for a write, strictly increasing per client id; `low` is the lowest request number the client is
// still waiting for. A write resent with the same client id and req (after a lost connection, on
// any rank) is applied at most once and answered with the first answer. Session opens and closes,
// acquires, releases and cancel_waits are writes in this sense: a resent acquire never makes a
// second holder (a waiting one is answered when its first copy is granted).
//
// Responses (type: body)
//   0x80 ok       (no body; answers hello)
//   0x81 written  u64 version (put, cas)
//   0x82 value    bytes value, u64 version, u64 expiresInMs (0: never expires) (get, getm)
//   0x83 deleted  u64 version (the revision of the delete)
//   0x84 entries  u32 count, count times (str key, bytes value, u64 version, u64 expiresInMs),
//                 bool more (true: the limit cut the list; ask again from after the last key)
//   0x85 status   str JSON text
//   0x86 error    u8 code, str message (0..65536 bytes), then for version_mismatch u64 current
//                 version, for lock_held u64 the holder's token, for not_master u8 0 | 1 and, when
//                 1, u32 the master's rank
//   0x87 session  u64 session id, u64 ttlMs
//   0x88 kept     u64 ttlMs (the session's time left, restarted by this keepalive)
//   0x89 granted  u64 fencing token (strictly increasing per lock)
//   0x8a master   u8 0 (no master known) | 1, then u32 rank, u64 epoch (the log revision at which
//                 that master's term began; 0: not known to this rank yet)
//   0x8b watching u64 fromRevision (the first revision the watch reports)
//   0x8c events   u64 through (every matching event of a revision below it has been sent), u32
//                 count, count times (u64 revision, u8 kind 1 put | 2 delete | 3 expire, str key,
//                 u8 0 | 1 then bytes value, u8 0 | 1 then bytes previous value); whole revisions
//                 only, in revision order; count may be 0 (progress: only `through` moved). A
//                 rank sends every live watch such a frame about once a second after a read
//                 barrier passed (it is up to date); a client that hears nothing of a watch for
//                 a few seconds may take the rank as cut off and watch elsewhere from `through`
//   0x8d watch_ended  u8 code 1 compacted | 2 slow | 3 cancelled, u64 revision (compacted: the
//                 oldest revision still kept; slow, cancelled: where to resume); no more frames
//                 of that watch follow. slow: the client read too slowly; watch again from there
// Error codes: 1 not_found, 2 version_mismatch, 3 too_large, 4 bad_request, 5 unauthenticated,
//   6 not_ready (this rank is not serving yet: try another), 7 internal, 8 stale_request (the
//   request number is below what the server still remembers for this client), 9 no_session (it
//   does not exist or has ended), 10 lock_held, 11 not_holder (that token does not hold the lock),
//   12 fence_failed (ifHolds was false: nothing written), 13 not_master (keepalives go to the
//   master), 14 busy (a server limit: waiters, watches; try later).
// A frame that cannot be decoded is answered with error bad_request (or too_large) under its
// request id when the id is readable (the connection stays up); otherwise the connection is closed.
import { FRAME_LENGTH_BYTES, LeReader, LeWriter, WireError } from "./client_wire_bytes.js";
import {
  readPlainRequest,
  readPlainResponse,
  REQUEST_TYPES,
  RESPONSE_TYPES,
  writePlainRequest,
  writePlainResponse,
  type PlainRequest,
  type PlainResponse,
  type RangeSelector,
  type WireEntry,
  type WireErrorCode,
} from "./client_wire_plain.js";
import {
  CONDITIONAL_TYPES,
  COORD_REQUEST_TYPES,
  COORD_RESPONSE_TYPES,
  coordRequestSize,
  coordResponseSize,
  readConditions,
  readCoordRequest,
  readCoordResponse,
  writeConditions,
  writeCoordRequest,
  writeCoordResponse,
  type CoordRequest,
  type CoordResponse,
} from "./client_wire_coord.js";

export { FrameReader, type FrameChunk } from "./client_wire_bytes.js";
export type {
  CoordRequest,
  CoordResponse,
  EventKind,
  WatchEndCode,
  WatchSelector,
  WireEvent,
  WriteConditions,
} from "./client_wire_coord.js";

export {
  DEFAULT_MAX_FRAME_BYTES,
  MAX_CLIENT_ID_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_HELLO_FRAME_BYTES,
  MAX_KEY_BYTES,
  MAX_TOKEN_BYTES,
  PROTOCOL_VERSION,
} from "./client_wire_bytes.js";

export type { PlainRequest, PlainResponse, RangeSelector, WireEntry, WireErrorCode };

/** Every request: the first types (client_wire_plain.ts) and the coordination ones. */
export type ClientRequest = PlainRequest | CoordRequest;
/** Every response. */
export type ClientResponse = PlainResponse | CoordResponse;

/** A decoded frame, or why not; `id` is the request id when it could be read (then the receiver
 * answers with an error of `code`; when undefined it closes the connection). */
export type Decoded<T> =
  | { ok: true; message: T }
  | { ok: false; id: number | undefined; code: "bad_request" | "too_large"; error: string };

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
  if (isCoordRequest(m)) {
    const w = header(COORD_REQUEST_TYPES[m.type], m.id, coordRequestSize(m));
    writeCoordRequest(w, m);
    return frame(w);
  }
  const valueBytes = m.type === "put" || m.type === "cas" ? m.value.length : 0;
  const conditional = hasConditions(m);
  const type = conditional ? CONDITIONAL_TYPES[conditional.type] : REQUEST_TYPES[m.type];
  const w = header(type, m.id, 64 + valueBytes);
  writePlainRequest(w, m);
  if (conditional) writeConditions(w, conditional);
  return frame(w);
}

type WriteRequest = Extract<ClientRequest, { type: "put" | "cas" | "delete" }>;

function isCoordRequest(m: ClientRequest): m is CoordRequest {
  return m.type in COORD_REQUEST_TYPES;
}

function isCoordResponse(m: ClientResponse): m is CoordResponse {
  return m.type in COORD_RESPONSE_TYPES;
}

/** The write, when it carries a session or ifHolds (then it goes as put_x, cas_x or delete_x). */
function hasConditions(m: PlainRequest): WriteRequest | undefined {
  if (m.type !== "put" && m.type !== "cas" && m.type !== "delete") return undefined;
  return (m.session !== undefined && m.session > 0) || m.ifHolds !== undefined ? m : undefined;
}

/** The whole frame (length prefix included) of a response. */
export function encodeResponse(m: ClientResponse): Uint8Array {
  if (isCoordResponse(m)) {
    const w = header(COORD_RESPONSE_TYPES[m.type], m.id, coordResponseSize(m));
    writeCoordResponse(w, m);
    return frame(w);
  }
  const size = m.type === "value" ? m.value.length : m.type === "status" ? m.json.length * 3 : 0;
  const w = header(RESPONSE_TYPES[m.type], m.id, 32 + size);
  writePlainResponse(w, m);
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

/** A request frame as FrameReader yields it (without the length prefix). */
export function decodeRequest(frame: Uint8Array): Decoded<ClientRequest> {
  return decodeFrame(frame, readRequest);
}

const CONDITIONAL_BASE = new Map<number, number>([
  [CONDITIONAL_TYPES.put, REQUEST_TYPES.put],
  [CONDITIONAL_TYPES.cas, REQUEST_TYPES.cas],
  [CONDITIONAL_TYPES.delete, REQUEST_TYPES.delete],
]);

function readRequest(r: LeReader, type: number, id: number): ClientRequest {
  const coord = readCoordRequest(r, type, id);
  if (coord) return coord;
  const base = CONDITIONAL_BASE.get(type);
  if (base === undefined) return readPlainRequest(r, type, id);
  const m = readPlainRequest(r, base, id) as WriteRequest;
  return { ...m, ...readConditions(r, m.type === "delete") };
}

function readResponse(r: LeReader, type: number, id: number): ClientResponse {
  return readCoordResponse(r, type, id) ?? readPlainResponse(r, type, id);
}

/** A response frame as FrameReader yields it (without the length prefix). */
export function decodeResponse(frame: Uint8Array): Decoded<ClientResponse> {
  return decodeFrame(frame, readResponse);
}
