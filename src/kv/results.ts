// The results of yasp-kv commands, as the state machine returns them and as bytes (the snapshot's
// exactly-once table keeps results, so they have a byte form that every rank reads alike).
//
//   result  u8 kind, then
//     1 written   version (nat)             2 deleted   version (nat)
//     3 error     code (u8, CODES order from 1), u8 0 | 1, then version (nat) when 1
//     4 expired
//     5 session   session (nat), ttlMs (nat)
//     6 session_closed  session (nat)
//     7 master    epoch (nat)
//     8 sessions_expired  u32 count, count sessions (nat)
//     9 granted   token (nat)               10 queued        11 released        12 cancelled
// Nothing may follow the last field.
import { ByteReader, ByteWriter, isNat, KvDecodeError } from "./byte_codec.js";

export type KvErrorCode =
  | "not_found"
  | "version_mismatch"
  | "stale_request"
  | "bad_command"
  /** The session does not exist (never opened, closed, or expired). */
  | "no_session"
  /** tryAcquire: another session holds the lock (version: the holder's token). */
  | "lock_held"
  /** release: the token does not hold the lock. */
  | "not_holder"
  /** A write conditioned on ifHolds: the token no longer holds the lock (version: the holder's
   * token, when the lock is held). */
  | "fence_failed"
  /** session_expire from a master whose epoch is not the log's latest. */
  | "not_master"
  /** A TTL outside the bounds. */
  | "bad_ttl"
  /** A table is full (sessions, or waiters on one lock). */
  | "limit";

export type KvResult =
  | { kind: "written"; version: number }
  | { kind: "deleted"; version: number }
  | { kind: "error"; code: KvErrorCode; version?: number }
  | { kind: "expired" }
  | { kind: "session"; session: number; ttlMs: number }
  | { kind: "session_closed"; session: number }
  | { kind: "master"; epoch: number }
  | { kind: "sessions_expired"; sessions: number[] }
  | { kind: "granted"; token: number }
  | { kind: "queued" }
  | { kind: "released" }
  | { kind: "cancelled" };

const KIND = {
  written: 1,
  deleted: 2,
  error: 3,
  expired: 4,
  session: 5,
  session_closed: 6,
  master: 7,
  sessions_expired: 8,
  granted: 9,
  queued: 10,
  released: 11,
  cancelled: 12,
} as const;
const CODES: readonly KvErrorCode[] = [
  "not_found",
  "version_mismatch",
  "stale_request",
  "bad_command",
  "no_session",
  "lock_held",
  "not_holder",
  "fence_failed",
  "not_master",
  "bad_ttl",
  "limit",
];
/** sessions_expired lists at most this many (the master sends them in batches). */
export const MAX_SESSIONS_PER_EXPIRE = 4096;

/** Writes a result into w (the snapshot's client table embeds results this way). */
export function writeResult(w: ByteWriter, res: KvResult): void {
  w.u8(KIND[res.kind]);
  switch (res.kind) {
    case "written":
    case "deleted":
      return w.nat(res.version);
    case "error":
      w.u8(CODES.indexOf(res.code) + 1);
      if (res.version === undefined) return w.u8(0);
      w.u8(1);
      return w.nat(res.version);
    case "session":
      w.nat(res.session);
      return w.nat(res.ttlMs);
    case "session_closed":
      return w.nat(res.session);
    case "master":
      return w.nat(res.epoch);
    case "sessions_expired":
      w.u32(res.sessions.length);
      for (const s of res.sessions) w.nat(s);
      return;
    case "granted":
      return w.nat(res.token);
    default:
      return;
  }
}

/** Reads one result; throws KvDecodeError. */
export function readResult(r: ByteReader): KvResult {
  const kind = r.u8("result kind");
  switch (kind) {
    case KIND.written:
      return { kind: "written", version: r.nat("version") };
    case KIND.deleted:
      return { kind: "deleted", version: r.nat("version") };
    case KIND.expired:
      return { kind: "expired" };
    case KIND.error:
      return readError(r);
    case KIND.session:
      return { kind: "session", session: r.nat("session"), ttlMs: r.nat("ttlMs") };
    case KIND.session_closed:
      return { kind: "session_closed", session: r.nat("session") };
    case KIND.master:
      return { kind: "master", epoch: r.nat("epoch") };
    case KIND.sessions_expired:
      return { kind: "sessions_expired", sessions: readNats(r, MAX_SESSIONS_PER_EXPIRE) };
    case KIND.granted:
      return { kind: "granted", token: r.nat("token") };
    case KIND.queued:
      return { kind: "queued" };
    case KIND.released:
      return { kind: "released" };
    case KIND.cancelled:
      return { kind: "cancelled" };
    default:
      throw new KvDecodeError(`unknown result kind ${kind}`);
  }
}

function readError(r: ByteReader): KvResult {
  const code = CODES[r.u8("error code") - 1];
  if (code === undefined) throw new KvDecodeError("unknown error code");
  const flag = r.u8("version flag");
  if (flag === 0) return { kind: "error", code };
  if (flag !== 1) throw new KvDecodeError(`version flag ${flag}`);
  return { kind: "error", code, version: r.nat("version") };
}

/** A u32 count (at most max), then that many nats. */
export function readNats(r: ByteReader, max: number): number[] {
  const n = r.u32("count");
  if (n > max) throw new KvDecodeError(`${n} items (limit ${max})`);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.nat("item"));
  return out;
}

function checkResult(res: KvResult): string | undefined {
  if (!(res.kind in KIND)) return "unknown result";
  const nats: unknown[] = [];
  if (res.kind === "written" || res.kind === "deleted") nats.push(res.version);
  if (res.kind === "error") {
    if (!CODES.includes(res.code)) return "unknown error code";
    if (res.version !== undefined) nats.push(res.version);
  }
  if (res.kind === "session") nats.push(res.session, res.ttlMs);
  if (res.kind === "session_closed") nats.push(res.session);
  if (res.kind === "master") nats.push(res.epoch);
  if (res.kind === "granted") nats.push(res.token);
  if (res.kind === "sessions_expired") {
    if (res.sessions.length > MAX_SESSIONS_PER_EXPIRE) return "too many sessions";
    nats.push(...res.sessions);
  }
  return nats.every(isNat) ? undefined : "numbers must be non-negative safe integers";
}

/** The bytes of a result; throws RangeError for one that decodeResult would refuse. */
export function encodeResult(res: KvResult): Uint8Array {
  const bad = checkResult(res);
  if (bad) throw new RangeError(`cannot encode kv result: ${bad}`);
  const w = new ByteWriter(16);
  writeResult(w, res);
  return w.finish();
}

/** The result in bytes, or why they are not one (never throws). */
export function decodeResult(bytes: Uint8Array): KvResult | { error: string } {
  try {
    const r = new ByteReader(bytes);
    const res = readResult(r);
    r.done();
    return res;
  } catch (e) {
    return { error: `bad kv result: ${e instanceof Error ? e.message : String(e)}` };
  }
}
