// The commands of the yasp-kv state machine and their results, as bytes in the replicated log.
// Every rank decodes the same bytes the same way, so decode is total (an error value, never a
// throw) and refuses anything encode could not have written.
//
// Layout (little-endian). nat: u64 as two u32 (low word first), high word <= 0x1fffff, so every
// non-negative safe integer and nothing else. str: u32 byte length, then UTF-8. bytes: u32
// length, then the bytes. client: u8 0 (none) or 1, then id (str), req (nat), low (nat).
//   command  u8 op, then
//     1 put     key (str), value (bytes), ttlMs, atMs (nat), client
//     2 cas     key (str), version (nat), value (bytes), ttlMs, atMs (nat), client
//     3 delete  key (str), atMs (nat), client
//     4 expire  atMs (nat)
//   result   u8 kind, then
//     1 written  version (nat)          2 deleted  version (nat)
//     3 error    code (u8: 1 not_found, 2 version_mismatch, 3 stale_request, 4 bad_command),
//                u8 0 | 1, then version (nat) when 1
//     4 expired
// Nothing may follow the last field.
import { Buffer, isUtf8 } from "node:buffer";

export type ClientRef = { id: string; req: number; low: number };
export type KvCommand =
  | { op: "put"; key: string; value: Uint8Array; ttlMs: number; atMs: number; client?: ClientRef }
  | {
      op: "cas";
      key: string;
      version: number;
      value: Uint8Array;
      ttlMs: number;
      atMs: number;
      client?: ClientRef;
    }
  | { op: "delete"; key: string; atMs: number; client?: ClientRef }
  | { op: "expire"; atMs: number };
export type KvErrorCode = "not_found" | "version_mismatch" | "stale_request" | "bad_command";
export type KvResult =
  | { kind: "written"; version: number }
  | { kind: "deleted"; version: number }
  | { kind: "error"; code: KvErrorCode; version?: number }
  | { kind: "expired" };

export const MAX_KEY_BYTES = 4096;
export const MAX_CLIENT_ID_BYTES = 64;
/** No value is ever bigger, whatever a caller configures (the server's default is 1 MiB). */
export const HARD_MAX_VALUE_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;

/** What the byte reader refuses (caught by the decoders, which never throw). */
export class KvDecodeError extends Error {
  override name = "KvDecodeError";
}

const TWO_32 = 4294967296;
const MAX_NAT_HI = 0x1fffff;
const OP = { put: 1, cas: 2, delete: 3, expire: 4 } as const;
const KIND = { written: 1, deleted: 2, error: 3, expired: 4 } as const;
const CODES: readonly KvErrorCode[] = [
  "not_found",
  "version_mismatch",
  "stale_request",
  "bad_command",
];

function isNat(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** No lone surrogate: TextEncoder would turn one into U+FFFD, i.e. into another string. */
function isWellFormed(s: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

/** Why a string is not acceptable as a key or client id of 1..maxBytes UTF-8 bytes (or undefined). */
export function checkString(what: string, s: unknown, maxBytes: number): string | undefined {
  if (typeof s !== "string" || s.length === 0) return `${what} is empty or not a string`;
  if (!isWellFormed(s)) return `${what} is not well-formed UTF-16`;
  const n = Buffer.byteLength(s, "utf8");
  if (n > maxBytes) return `${what} of ${n} bytes (limit ${maxBytes})`;
  return undefined;
}

/** A growing little-endian byte writer (doubling, so n small writes cost O(n) copies). */
export class ByteWriter {
  protected buf: Buffer;
  /** Bytes written so far. */
  pos = 0;

  constructor(initial = 64) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initial));
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  /** A non-negative safe integer (checked by the caller). */
  nat(v: number): void {
    this.u32(v % TWO_32);
    this.u32(Math.floor(v / TWO_32));
  }

  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  str(s: string): void {
    const n = Buffer.byteLength(s, "utf8");
    this.u32(n);
    this.room(n);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }

  /** Bytes as they are, without a length (a checksum after what it covers). */
  raw(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** The bytes written so far, without a copy (valid until the next write). */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** The bytes written, as a plain Uint8Array of exactly that length. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.pos);
    out.set(this.buf.subarray(0, this.pos));
    return out;
  }
}

/** Reads what ByteWriter wrote; throws KvDecodeError rather than reading past the end, and checks
 * every length against the bytes left before allocating for it. */
export class ByteReader {
  private readonly b: Buffer;
  pos = 0;

  constructor(bytes: Uint8Array) {
    this.b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  get left(): number {
    return this.b.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (n > this.left) throw new KvDecodeError(`${what} runs past the end`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.b[this.pos++] as number;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.b.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  nat(what: string): number {
    const lo = this.u32(what);
    const hi = this.u32(what);
    if (hi > MAX_NAT_HI) throw new KvDecodeError(`${what} is not a non-negative safe integer`);
    return hi * TWO_32 + lo;
  }

  /** A copy of at most maxBytes bytes (a value must not keep the log's buffer alive). */
  bytes(what: string, maxBytes: number): Uint8Array {
    const n = this.u32(`${what} length`);
    if (n > maxBytes) throw new KvDecodeError(`${what} of ${n} bytes (limit ${maxBytes})`);
    this.need(n, what);
    const out = new Uint8Array(n);
    out.set(this.b.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /** A string of minBytes..maxBytes bytes of well-formed UTF-8. */
  str(what: string, minBytes: number, maxBytes: number): string {
    const n = this.u32(`${what} length`);
    if (n < minBytes || n > maxBytes) throw new KvDecodeError(`${what} of ${n} bytes`);
    this.need(n, what);
    const region = this.b.subarray(this.pos, this.pos + n);
    if (!isUtf8(region)) throw new KvDecodeError(`${what} is not UTF-8`);
    this.pos += n;
    return region.toString("utf8");
  }

  done(): void {
    if (this.left !== 0) throw new KvDecodeError(`${this.left} bytes after the end`);
  }
}

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

/** Why cmd cannot be encoded (or undefined): the same rules decodeCommand applies. */
export function validateCommand(cmd: KvCommand, maxValueBytes?: number): string | undefined {
  if (!isNat(cmd.atMs)) return "atMs must be a non-negative safe integer";
  if (cmd.op === "expire") return undefined;
  const badKey = checkString("key", cmd.key, MAX_KEY_BYTES);
  if (badKey) return badKey;
  if (cmd.op === "put" || cmd.op === "cas") {
    const max = effectiveMax(maxValueBytes);
    if (!(cmd.value instanceof Uint8Array)) return "value is not bytes";
    if (cmd.value.length > max) return `value of ${cmd.value.length} bytes (limit ${max})`;
    if (!isNat(cmd.ttlMs)) return "ttlMs must be a non-negative safe integer";
    if (cmd.op === "cas" && !isNat(cmd.version)) return "version must be a non-negative integer";
  }
  return checkClient(cmd.client);
}

/** The bytes of a command; throws RangeError for one validateCommand refuses (a command the log
 * would refuse must fail when it is written, not when every rank applies it). */
export function encodeCommand(cmd: KvCommand, maxValueBytes?: number): Uint8Array {
  const bad = validateCommand(cmd, maxValueBytes);
  if (bad) throw new RangeError(`cannot encode kv command: ${bad}`);
  const w = new ByteWriter(cmd.op === "put" || cmd.op === "cas" ? 64 + cmd.value.length : 64);
  w.u8(OP[cmd.op]);
  if (cmd.op === "expire") {
    w.nat(cmd.atMs);
    return w.finish();
  }
  w.str(cmd.key);
  if (cmd.op === "cas") w.nat(cmd.version);
  if (cmd.op !== "delete") {
    w.bytes(cmd.value);
    w.nat(cmd.ttlMs);
  }
  w.nat(cmd.atMs);
  if (cmd.client === undefined) w.u8(0);
  else {
    w.u8(1);
    w.str(cmd.client.id);
    w.nat(cmd.client.req);
    w.nat(cmd.client.low);
  }
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

function withClient<T extends object>(cmd: T, client: ClientRef | undefined): T {
  return client === undefined ? cmd : { ...cmd, client };
}

function readCommand(r: ByteReader, maxValue: number): KvCommand {
  const op = r.u8("op");
  if (op === OP.expire) return { op: "expire", atMs: r.nat("atMs") };
  if (op !== OP.put && op !== OP.cas && op !== OP.delete) {
    throw new KvDecodeError(`unknown op ${op}`);
  }
  const key = r.str("key", 1, MAX_KEY_BYTES);
  if (op === OP.delete) {
    const atMs = r.nat("atMs");
    return withClient({ op: "delete", key, atMs }, readClient(r));
  }
  const version = op === OP.cas ? r.nat("version") : 0;
  const value = r.bytes("value", maxValue);
  const ttlMs = r.nat("ttlMs");
  const atMs = r.nat("atMs");
  const client = readClient(r);
  if (op === OP.put) return withClient({ op: "put", key, value, ttlMs, atMs }, client);
  return withClient({ op: "cas", key, version, value, ttlMs, atMs }, client);
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

/** Writes a result into w (the snapshot's client table embeds results this way). */
export function writeResult(w: ByteWriter, res: KvResult): void {
  w.u8(KIND[res.kind]);
  if (res.kind === "written" || res.kind === "deleted") w.nat(res.version);
  else if (res.kind === "error") {
    w.u8(CODES.indexOf(res.code) + 1);
    if (res.version === undefined) w.u8(0);
    else {
      w.u8(1);
      w.nat(res.version);
    }
  }
}

/** Reads one result; throws KvDecodeError. */
export function readResult(r: ByteReader): KvResult {
  const kind = r.u8("result kind");
  if (kind === KIND.written) return { kind: "written", version: r.nat("version") };
  if (kind === KIND.deleted) return { kind: "deleted", version: r.nat("version") };
  if (kind === KIND.expired) return { kind: "expired" };
  if (kind !== KIND.error) throw new KvDecodeError(`unknown result kind ${kind}`);
  const code = CODES[r.u8("error code") - 1];
  if (code === undefined) throw new KvDecodeError("unknown error code");
  const flag = r.u8("version flag");
  if (flag === 0) return { kind: "error", code };
  if (flag !== 1) throw new KvDecodeError(`version flag ${flag}`);
  return { kind: "error", code, version: r.nat("version") };
}

function checkResult(res: KvResult): string | undefined {
  if (res.kind === "written" || res.kind === "deleted") {
    return isNat(res.version) ? undefined : "version must be a non-negative safe integer";
  }
  if (res.kind === "expired") return undefined;
  if (res.kind !== "error" || !CODES.includes(res.code)) return "unknown result";
  if (res.version !== undefined && !isNat(res.version)) return "version must be a nat";
  return undefined;
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
