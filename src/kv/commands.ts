// The commands of the yasp-kv state machine, as bytes in the replicated log. Every rank decodes
// the same bytes the same way, so decode is total (an error value, never a throw) and refuses
// anything encode could not have written. Results are in results.ts.
//
// Layout (little-endian; nat, str, bytes as in byte_codec.ts). client: u8 0 (none) or 1, then
// id (str), req (nat), low (nat). A lock name follows the rules of a key.
//   command  u8 op, then
//     1 put     key (str), value (bytes), ttlMs, atMs (nat), client, [cond]
//     2 cas     key (str), version (nat), value (bytes), ttlMs, atMs (nat), client, [cond]
//     3 delete  key (str), atMs (nat), client, [cond]
//     4 expire  atMs (nat)
//     5 session_open    ttlMs, atMs (nat), client
//     6 session_close   session, atMs (nat), client
//     7 session_expire  atMs, epoch (nat), u32 count, count sessions (nat)
//     8 master          atMs, rank, term (nat)
//     9 acquire         lock (str), session (nat), wait (u8 0 | 1), atMs (nat), client
//    10 release         lock (str), token, atMs (nat), client
//    11 cancel_wait     lock (str), session, atMs (nat), client
//   cond (optional; absent in writes without it, so older encodings read the same): u8 flags
//     (1: session, 2: ifHolds, at least one), then session (nat) when 1 (put and cas only), then
//     lock (str) and token (nat) when 2.
// Nothing may follow the last field.
import { ByteReader, ByteWriter, checkString, isNat, KvDecodeError } from "./byte_codec.js";
import { MAX_SESSIONS_PER_EXPIRE, readNats } from "./results.js";

export { ByteReader, ByteWriter, checkString, KvDecodeError } from "./byte_codec.js";
export {
  decodeResult,
  encodeResult,
  MAX_SESSIONS_PER_EXPIRE,
  readResult,
  writeResult,
  type KvErrorCode,
  type KvResult,
} from "./results.js";

export type ClientRef = { id: string; req: number; low: number };
/** A write applied only while `token` still holds `lock` (Chubby's sequencer). */
export type LockFence = { lock: string; token: number };
/** What put, cas and delete may add: an owning session (ephemeral key) and a fence. */
type WriteConditions = { session?: number; ifHolds?: LockFence };
export type KvCommand =
  | ({
      op: "put";
      key: string;
      value: Uint8Array;
      ttlMs: number;
      atMs: number;
      client?: ClientRef;
    } & WriteConditions)
  | ({
      op: "cas";
      key: string;
      version: number;
      value: Uint8Array;
      ttlMs: number;
      atMs: number;
      client?: ClientRef;
    } & WriteConditions)
  | { op: "delete"; key: string; atMs: number; client?: ClientRef; ifHolds?: LockFence }
  | { op: "expire"; atMs: number }
  | { op: "session_open"; ttlMs: number; atMs: number; client?: ClientRef }
  | { op: "session_close"; session: number; atMs: number; client?: ClientRef }
  | { op: "session_expire"; sessions: number[]; epoch: number; atMs: number }
  | { op: "master"; rank: number; term: number; atMs: number }
  | {
      op: "acquire";
      lock: string;
      session: number;
      wait: boolean;
      atMs: number;
      client?: ClientRef;
    }
  | { op: "release"; lock: string; token: number; atMs: number; client?: ClientRef }
  | { op: "cancel_wait"; lock: string; session: number; atMs: number; client?: ClientRef };

export const MAX_KEY_BYTES = 4096;
export const MAX_CLIENT_ID_BYTES = 64;
/** No value is ever bigger, whatever a caller configures (the server's default is 1 MiB). */
export const HARD_MAX_VALUE_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;
/** Session TTLs outside these bounds are refused (bad_ttl). */
export const MIN_SESSION_TTL_MS = 3000;
export const MAX_SESSION_TTL_MS = 3_600_000;

const OP = {
  put: 1,
  cas: 2,
  delete: 3,
  expire: 4,
  session_open: 5,
  session_close: 6,
  session_expire: 7,
  master: 8,
  acquire: 9,
  release: 10,
  cancel_wait: 11,
} as const;
const OP_NAMES = Object.keys(OP) as KvCommand["op"][];
const COND_SESSION = 1;
const COND_FENCE = 2;

function effectiveMax(maxValueBytes: number | undefined): number {
  const max = maxValueBytes ?? HARD_MAX_VALUE_BYTES;
  return isNat(max) ? Math.min(max, HARD_MAX_VALUE_BYTES) : HARD_MAX_VALUE_BYTES;
}

function checkClient(c: ClientRef | undefined): string | undefined {
  if (c === undefined) return undefined;
  const bad = checkString("client id", c.id, MAX_CLIENT_ID_BYTES);
  if (bad) return bad;
  if (!isNat(c.req) || !isNat(c.low)) return "client req/low must be non-negative safe integers";
  if (c.low > c.req) return `client low ${c.low} above req ${c.req} (req is still waiting)`;
  return undefined;
}

function checkNats(fields: Record<string, unknown>): string | undefined {
  for (const [name, v] of Object.entries(fields)) {
    if (!isNat(v)) return `${name} must be a non-negative safe integer`;
  }
  return undefined;
}

function checkWrite(cmd: KvCommand & { op: "put" | "cas" | "delete" }, max: number) {
  const badKey = checkString("key", cmd.key, MAX_KEY_BYTES);
  if (badKey) return badKey;
  if (cmd.ifHolds !== undefined) {
    const bad = checkString("lock", cmd.ifHolds.lock, MAX_KEY_BYTES);
    if (bad) return bad;
    if (!isNat(cmd.ifHolds.token)) return "token must be a non-negative safe integer";
  }
  if (cmd.op === "delete") return undefined;
  if (!(cmd.value instanceof Uint8Array)) return "value is not bytes";
  if (cmd.value.length > max) return `value of ${cmd.value.length} bytes (limit ${max})`;
  const nats: Record<string, unknown> = { ttlMs: cmd.ttlMs };
  if (cmd.op === "cas") nats.version = cmd.version;
  if (cmd.session !== undefined) nats.session = cmd.session;
  return checkNats(nats);
}

/** Why cmd cannot be encoded (or undefined): the same rules decodeCommand applies. */
export function validateCommand(cmd: KvCommand, maxValueBytes?: number): string | undefined {
  if (!OP_NAMES.includes(cmd.op)) return "unknown op";
  if (!isNat(cmd.atMs)) return "atMs must be a non-negative safe integer";
  switch (cmd.op) {
    case "expire":
      return undefined;
    case "put":
    case "cas":
    case "delete":
      return checkWrite(cmd, effectiveMax(maxValueBytes)) ?? checkClient(cmd.client);
    case "session_open":
      return checkNats({ ttlMs: cmd.ttlMs }) ?? checkClient(cmd.client);
    case "session_close":
      return checkNats({ session: cmd.session }) ?? checkClient(cmd.client);
    case "session_expire":
      if (!Array.isArray(cmd.sessions) || cmd.sessions.length > MAX_SESSIONS_PER_EXPIRE) {
        return `sessions must be a list of at most ${MAX_SESSIONS_PER_EXPIRE}`;
      }
      return checkNats({ epoch: cmd.epoch, ...cmd.sessions });
    case "master":
      return checkNats({ rank: cmd.rank, term: cmd.term });
    case "acquire":
    case "release":
    case "cancel_wait": {
      const bad = checkString("lock", cmd.lock, MAX_KEY_BYTES);
      if (bad) return bad;
      if (cmd.op === "acquire" && typeof cmd.wait !== "boolean") return "wait must be a boolean";
      const n = cmd.op === "release" ? { token: cmd.token } : { session: cmd.session };
      return checkNats(n) ?? checkClient(cmd.client);
    }
  }
}

function writeClient(w: ByteWriter, client: ClientRef | undefined): void {
  if (client === undefined) return w.u8(0);
  w.u8(1);
  w.str(client.id);
  w.nat(client.req);
  w.nat(client.low);
}

function writeConditions(w: ByteWriter, c: WriteConditions): void {
  const flags = (c.session !== undefined ? COND_SESSION : 0) | (c.ifHolds ? COND_FENCE : 0);
  if (flags === 0) return;
  w.u8(flags);
  if (c.session !== undefined) w.nat(c.session);
  if (c.ifHolds) {
    w.str(c.ifHolds.lock);
    w.nat(c.ifHolds.token);
  }
}

function writeBody(w: ByteWriter, cmd: KvCommand): void {
  switch (cmd.op) {
    case "expire":
      return w.nat(cmd.atMs);
    case "put":
    case "cas":
    case "delete":
      w.str(cmd.key);
      if (cmd.op === "cas") w.nat(cmd.version);
      if (cmd.op !== "delete") {
        w.bytes(cmd.value);
        w.nat(cmd.ttlMs);
      }
      w.nat(cmd.atMs);
      writeClient(w, cmd.client);
      return writeConditions(w, cmd);
    case "session_open":
      w.nat(cmd.ttlMs);
      break;
    case "session_close":
      w.nat(cmd.session);
      break;
    case "session_expire":
      w.nat(cmd.atMs);
      w.nat(cmd.epoch);
      w.u32(cmd.sessions.length);
      for (const s of cmd.sessions) w.nat(s);
      return;
    case "master":
      w.nat(cmd.atMs);
      w.nat(cmd.rank);
      return w.nat(cmd.term);
    case "acquire":
      w.str(cmd.lock);
      w.nat(cmd.session);
      w.u8(cmd.wait ? 1 : 0);
      break;
    case "release":
      w.str(cmd.lock);
      w.nat(cmd.token);
      break;
    case "cancel_wait":
      w.str(cmd.lock);
      w.nat(cmd.session);
      break;
  }
  w.nat(cmd.atMs);
  writeClient(w, cmd.client);
}

/** The bytes of a command; throws RangeError for one validateCommand refuses (a command the log
 * would refuse must fail when it is written, not when every rank applies it). */
export function encodeCommand(cmd: KvCommand, maxValueBytes?: number): Uint8Array {
  const bad = validateCommand(cmd, maxValueBytes);
  if (bad) throw new RangeError(`cannot encode kv command: ${bad}`);
  const w = new ByteWriter(cmd.op === "put" || cmd.op === "cas" ? 64 + cmd.value.length : 64);
  w.u8(OP[cmd.op]);
  writeBody(w, cmd);
  return w.finish();
}

function readClient(r: ByteReader): ClientRef | undefined {
  const flag = r.u8("client flag");
  if (flag === 0) return undefined;
  if (flag !== 1) throw new KvDecodeError(`client flag ${flag}`);
  const id = r.str("client id", 1, MAX_CLIENT_ID_BYTES);
  const req = r.nat("client req");
  const low = r.nat("client low");
  if (low > req) throw new KvDecodeError(`client low ${low} above req ${req}`);
  return { id, req, low };
}

/** cmd with the optional fields that are present (absent ones stay absent, not undefined). */
function withOptional<T extends object>(cmd: T, extra: Record<string, unknown>): T {
  const out = { ...cmd } as Record<string, unknown>;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) out[k] = v;
  return out as T;
}

function readConditions(r: ByteReader, sessionAllowed: boolean): WriteConditions {
  if (r.left === 0) return {};
  const flags = r.u8("condition flags");
  const allowed = COND_FENCE | (sessionAllowed ? COND_SESSION : 0);
  if (flags === 0 || (flags & ~allowed) !== 0) throw new KvDecodeError(`condition flags ${flags}`);
  const session = flags & COND_SESSION ? r.nat("session") : undefined;
  const ifHolds =
    flags & COND_FENCE
      ? { lock: r.str("lock", 1, MAX_KEY_BYTES), token: r.nat("token") }
      : undefined;
  return withOptional({}, { session, ifHolds });
}

function readWrite(op: number, r: ByteReader, maxValue: number): KvCommand {
  const key = r.str("key", 1, MAX_KEY_BYTES);
  if (op === OP.delete) {
    const atMs = r.nat("atMs");
    const client = readClient(r);
    return withOptional({ op: "delete", key, atMs }, { client, ...readConditions(r, false) });
  }
  const version = op === OP.cas ? r.nat("version") : 0;
  const value = r.bytes("value", maxValue);
  const ttlMs = r.nat("ttlMs");
  const atMs = r.nat("atMs");
  const extra = { client: readClient(r), ...readConditions(r, true) };
  if (op === OP.put) return withOptional({ op: "put", key, value, ttlMs, atMs }, extra);
  return withOptional({ op: "cas", key, version, value, ttlMs, atMs }, extra);
}

function readSessionExpire(r: ByteReader): KvCommand {
  const atMs = r.nat("atMs");
  const epoch = r.nat("epoch");
  return { op: "session_expire", atMs, epoch, sessions: readNats(r, MAX_SESSIONS_PER_EXPIRE) };
}

/** The ops with a lock name first: acquire, release, cancel_wait. */
function readLockOp(op: number, r: ByteReader): KvCommand {
  const lock = r.str("lock", 1, MAX_KEY_BYTES);
  if (op === OP.release) {
    const token = r.nat("token");
    const atMs = r.nat("atMs");
    return withOptional({ op: "release", lock, token, atMs }, { client: readClient(r) });
  }
  const session = r.nat("session");
  if (op === OP.cancel_wait) {
    const atMs = r.nat("atMs");
    return withOptional({ op: "cancel_wait", lock, session, atMs }, { client: readClient(r) });
  }
  const waitFlag = r.u8("wait");
  if (waitFlag > 1) throw new KvDecodeError(`wait flag ${waitFlag}`);
  const atMs = r.nat("atMs");
  const cmd = { op: "acquire" as const, lock, session, wait: waitFlag === 1, atMs };
  return withOptional(cmd, { client: readClient(r) });
}

function readCommand(r: ByteReader, maxValue: number): KvCommand {
  const op = r.u8("op");
  switch (op) {
    case OP.put:
    case OP.cas:
    case OP.delete:
      return readWrite(op, r, maxValue);
    case OP.expire:
      return { op: "expire", atMs: r.nat("atMs") };
    case OP.session_open: {
      const ttlMs = r.nat("ttlMs");
      const atMs = r.nat("atMs");
      return withOptional({ op: "session_open", ttlMs, atMs }, { client: readClient(r) });
    }
    case OP.session_close: {
      const session = r.nat("session");
      const atMs = r.nat("atMs");
      return withOptional({ op: "session_close", session, atMs }, { client: readClient(r) });
    }
    case OP.session_expire:
      return readSessionExpire(r);
    case OP.master:
      return { op: "master", atMs: r.nat("atMs"), rank: r.nat("rank"), term: r.nat("term") };
    case OP.acquire:
    case OP.release:
    case OP.cancel_wait:
      return readLockOp(op, r);
    default:
      throw new KvDecodeError(`unknown op ${op}`);
  }
}

/** The command in bytes, or why they are not one (never throws). The value is a copy. */
export function decodeCommand(
  bytes: Uint8Array,
  maxValueBytes?: number,
): KvCommand | { error: string } {
  try {
    const r = new ByteReader(bytes);
    const cmd = readCommand(r, effectiveMax(maxValueBytes));
    r.done();
    return cmd;
  } catch (e) {
    return { error: `bad kv command: ${e instanceof Error ? e.message : String(e)}` };
  }
}
