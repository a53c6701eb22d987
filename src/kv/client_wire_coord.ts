// The coordination half of the client wire protocol (sessions, locks, fenced writes, watches,
// the master): message types, encoders and decoders. client_wire.ts documents every layout in
// its header and dispatches the type numbers listed there to this file.
import type { LeReader, LeWriter } from "./client_wire_bytes.js";
import { MAX_KEY_BYTES, WireError } from "./client_wire_bytes.js";

/** Longest key, prefix or lock name. */
const KEY_BYTES = MAX_KEY_BYTES;

/** The conditions a put, cas or delete may carry (request types put_x, cas_x, delete_x). */
export interface WriteConditions {
  /** Ephemeral: the key is deleted when this session ends (put and cas only). */
  session?: number;
  /** Applied only if this token still holds this lock (checked in the log). */
  ifHolds?: { lock: string; token: number };
}

export type WatchSelector = { key: string } | { prefix: string };

export type CoordRequest =
  | { type: "session_open"; id: number; ttlMs: number; req: number; low: number }
  | { type: "session_keepalive"; id: number; session: number }
  | { type: "session_close"; id: number; session: number; req: number; low: number }
  | {
      type: "acquire";
      id: number;
      lock: string;
      session: number;
      wait: boolean;
      req: number;
      low: number;
    }
  | { type: "release"; id: number; lock: string; token: number; req: number; low: number }
  | { type: "cancel_wait"; id: number; lock: string; session: number; req: number; low: number }
  | {
      type: "watch";
      id: number;
      selector: WatchSelector;
      fromRevision: number;
      prevValue: boolean;
    }
  | { type: "unwatch"; id: number; watch: number }
  | { type: "master"; id: number };

export type EventKind = "put" | "delete" | "expire";
export interface WireEvent {
  revision: number;
  kind: EventKind;
  key: string;
  value?: Uint8Array;
  prevValue?: Uint8Array;
}
export type WatchEndCode = "compacted" | "slow" | "cancelled";

export type CoordResponse =
  | { type: "session"; id: number; session: number; ttlMs: number }
  | { type: "kept"; id: number; ttlMs: number }
  | { type: "granted"; id: number; token: number }
  | { type: "master"; id: number; master: { rank: number; epoch: number } | null }
  | { type: "watching"; id: number; fromRevision: number }
  | { type: "events"; id: number; through: number; events: WireEvent[] }
  | { type: "watch_ended"; id: number; code: WatchEndCode; revision: number };

export const COORD_REQUEST_TYPES = {
  session_open: 0x09,
  session_keepalive: 0x0a,
  session_close: 0x0b,
  acquire: 0x0c,
  release: 0x0d,
  cancel_wait: 0x0e,
  watch: 0x0f,
  unwatch: 0x10,
  master: 0x11,
} as const satisfies Record<CoordRequest["type"], number>;

/** put, cas and delete with conditions: the plain layout, then the conditions. */
export const CONDITIONAL_TYPES = { put: 0x12, cas: 0x13, delete: 0x14 } as const;

export const COORD_RESPONSE_TYPES = {
  session: 0x87,
  kept: 0x88,
  granted: 0x89,
  master: 0x8a,
  watching: 0x8b,
  events: 0x8c,
  watch_ended: 0x8d,
} as const satisfies Record<CoordResponse["type"], number>;

const KINDS: readonly EventKind[] = ["put", "delete", "expire"];
const END_CODES: readonly WatchEndCode[] = ["compacted", "slow", "cancelled"];

/** Bytes a coordination request's body needs beyond the header (a hint for the writer). */
export function coordRequestSize(m: CoordRequest): number {
  return "lock" in m ? 48 + m.lock.length * 3 : m.type === "watch" ? 32 + selectorLength(m) : 32;
}

function selectorLength(m: Extract<CoordRequest, { type: "watch" }>): number {
  return ("key" in m.selector ? m.selector.key : m.selector.prefix).length * 3;
}

export function writeCoordRequest(w: LeWriter, m: CoordRequest): void {
  switch (m.type) {
    case "session_open":
      w.nat(m.ttlMs);
      return reqLow(w, m);
    case "session_keepalive":
      return w.nat(m.session);
    case "session_close":
      w.nat(m.session);
      return reqLow(w, m);
    case "acquire":
      w.str(m.lock);
      w.nat(m.session);
      w.bool(m.wait);
      return reqLow(w, m);
    case "release":
      w.str(m.lock);
      w.nat(m.token);
      return reqLow(w, m);
    case "cancel_wait":
      w.str(m.lock);
      w.nat(m.session);
      return reqLow(w, m);
    case "watch":
      if ("key" in m.selector) {
        w.u8(0);
        w.str(m.selector.key);
      } else {
        w.u8(1);
        w.str(m.selector.prefix);
      }
      w.nat(m.fromRevision);
      return w.bool(m.prevValue);
    case "unwatch":
      return w.u32(m.watch);
    case "master":
      return;
  }
}

function reqLow(w: LeWriter, m: { req: number; low: number }): void {
  w.nat(m.req);
  w.nat(m.low);
}

/** The conditions after a put_x, cas_x or delete_x body: u64 session (0: none), u8 0 | 1, then
 * str lock, u64 token when 1. */
export function writeConditions(w: LeWriter, c: WriteConditions): void {
  w.nat(c.session ?? 0);
  w.bool(c.ifHolds !== undefined);
  if (c.ifHolds) {
    w.str(c.ifHolds.lock);
    w.nat(c.ifHolds.token);
  }
}

export function readConditions(r: LeReader, isDelete: boolean): WriteConditions {
  const session = r.nat("session");
  if (session > 0 && isDelete) throw new WireError("a delete cannot carry a session");
  const out: WriteConditions = {};
  if (session > 0) out.session = session;
  if (r.bool("ifHolds")) {
    const lock = r.str("lock", 1, KEY_BYTES);
    out.ifHolds = { lock, token: r.nat("token") };
  }
  return out;
}

function readReqLow(r: LeReader): { req: number; low: number } {
  const req = r.nat("req");
  const low = r.nat("low");
  if (low > req) throw new WireError(`low ${low} is above req ${req}`);
  return { req, low };
}

/** The body of a coordination request of `type`, or undefined if `type` is not one. */
export function readCoordRequest(r: LeReader, type: number, id: number): CoordRequest | undefined {
  const T = COORD_REQUEST_TYPES;
  switch (type) {
    case T.session_open:
      return { type: "session_open", id, ttlMs: r.nat("ttlMs"), ...readReqLow(r) };
    case T.session_keepalive:
      return { type: "session_keepalive", id, session: r.nat("session") };
    case T.session_close:
      return { type: "session_close", id, session: r.nat("session"), ...readReqLow(r) };
    case T.acquire: {
      const lock = r.str("lock", 1, KEY_BYTES);
      const session = r.nat("session");
      return { type: "acquire", id, lock, session, wait: r.bool("wait"), ...readReqLow(r) };
    }
    case T.release: {
      const lock = r.str("lock", 1, KEY_BYTES);
      return { type: "release", id, lock, token: r.nat("token"), ...readReqLow(r) };
    }
    case T.cancel_wait: {
      const lock = r.str("lock", 1, KEY_BYTES);
      return { type: "cancel_wait", id, lock, session: r.nat("session"), ...readReqLow(r) };
    }
    case T.watch:
      return readWatch(r, id);
    case T.unwatch:
      return { type: "unwatch", id, watch: r.u32("watch id") };
    case T.master:
      return { type: "master", id };
    default:
      return undefined;
  }
}

function readWatch(r: LeReader, id: number): CoordRequest {
  const mode = r.u8("watch mode");
  if (mode > 1) throw new WireError(`watch mode ${mode}, expected 0 or 1`);
  const selector: WatchSelector =
    mode === 0 ? { key: r.str("key", 1, KEY_BYTES) } : { prefix: r.str("prefix", 0, KEY_BYTES) };
  const fromRevision = r.nat("fromRevision");
  return { type: "watch", id, selector, fromRevision, prevValue: r.bool("prevValue") };
}

export function coordResponseSize(m: CoordResponse): number {
  if (m.type !== "events") return 32;
  let n = 32;
  for (const e of m.events)
    n += 32 + e.key.length * 3 + (e.value?.length ?? 0) + (e.prevValue?.length ?? 0);
  return n;
}

export function writeCoordResponse(w: LeWriter, m: CoordResponse): void {
  switch (m.type) {
    case "session":
      w.nat(m.session);
      return w.nat(m.ttlMs);
    case "kept":
      return w.nat(m.ttlMs);
    case "granted":
      return w.nat(m.token);
    case "master":
      w.bool(m.master !== null);
      if (m.master) {
        w.u32(m.master.rank);
        w.nat(m.master.epoch);
      }
      return;
    case "watching":
      return w.nat(m.fromRevision);
    case "events":
      w.nat(m.through);
      w.u32(m.events.length);
      for (const e of m.events) writeEvent(w, e);
      return;
    case "watch_ended":
      w.u8(END_CODES.indexOf(m.code) + 1);
      return w.nat(m.revision);
  }
}

function writeEvent(w: LeWriter, e: WireEvent): void {
  w.nat(e.revision);
  w.u8(KINDS.indexOf(e.kind) + 1);
  w.str(e.key);
  w.bool(e.value !== undefined);
  if (e.value !== undefined) w.bytes(e.value);
  w.bool(e.prevValue !== undefined);
  if (e.prevValue !== undefined) w.bytes(e.prevValue);
}

/** The smallest event: u64 revision, u8 kind, a 1-byte key, two absent values. */
const MIN_EVENT_BYTES = 8 + 1 + 4 + 1 + 1 + 1;

export function readCoordResponse(
  r: LeReader,
  type: number,
  id: number,
): CoordResponse | undefined {
  const T = COORD_RESPONSE_TYPES;
  switch (type) {
    case T.session: {
      const session = r.nat("session");
      return { type: "session", id, session, ttlMs: r.nat("ttlMs") };
    }
    case T.kept:
      return { type: "kept", id, ttlMs: r.nat("ttlMs") };
    case T.granted:
      return { type: "granted", id, token: r.nat("token") };
    case T.master: {
      if (!r.bool("master known")) return { type: "master", id, master: null };
      const rank = r.u32("rank");
      return { type: "master", id, master: { rank, epoch: r.nat("epoch") } };
    }
    case T.watching:
      return { type: "watching", id, fromRevision: r.nat("fromRevision") };
    case T.events:
      return readEvents(r, id);
    case T.watch_ended: {
      const n = r.u8("watch end code");
      const code = END_CODES[n - 1];
      if (code === undefined) throw new WireError(`unknown watch end code ${n}`);
      return { type: "watch_ended", id, code, revision: r.nat("revision") };
    }
    default:
      return undefined;
  }
}

function readEvents(r: LeReader, id: number): CoordResponse {
  const through = r.nat("through");
  const count = r.u32("event count");
  // A count the bytes left cannot hold is a lie: refuse it before allocating for it.
  if (count * MIN_EVENT_BYTES > r.left) throw new WireError(`${count} events cannot fit`);
  const events: WireEvent[] = [];
  for (let i = 0; i < count; i++) {
    const revision = r.nat("revision");
    const n = r.u8("event kind");
    const kind = KINDS[n - 1];
    if (kind === undefined) throw new WireError(`unknown event kind ${n}`);
    const e: WireEvent = { revision, kind, key: r.str("key", 1, KEY_BYTES) };
    if (r.bool("has value")) e.value = r.bytes("value", r.left);
    if (r.bool("has prevValue")) e.prevValue = r.bytes("prevValue", r.left);
    events.push(e);
  }
  return { type: "events", id, through, events };
}
