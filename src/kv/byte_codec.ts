// The little-endian byte codec of the yasp-kv log: commands, results and snapshots are written
// with ByteWriter and read back with ByteReader, which refuses rather than reads past the end.
// nat: u64 as two u32 (low word first), high word <= 0x1fffff, so every non-negative safe integer
// and nothing else. str: u32 byte length, then UTF-8. bytes: u32 length, then the bytes.
import { Buffer, isUtf8 } from "node:buffer";

/** What the byte reader refuses (caught by the decoders, which never throw). */
export class KvDecodeError extends Error {
  override name = "KvDecodeError";
}

const TWO_32 = 4294967296;
const MAX_NAT_HI = 0x1fffff;

export function isNat(v: unknown): v is number {
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

  /** The error for bytes that do not fit the layout; `tooLarge`: a length over its limit (the
   * client wire's reader answers those differently). */
  protected fail(message: string, _tooLarge = false): Error {
    return new KvDecodeError(message);
  }

  get left(): number {
    return this.b.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (n > this.left) throw this.fail(`${what} runs past the end`);
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
    this.need(8, what);
    const lo = this.u32(what);
    const hi = this.u32(what);
    if (hi > MAX_NAT_HI) throw this.fail(`${what} is not a non-negative safe integer`);
    return hi * TWO_32 + lo;
  }

  /** A length of minBytes..maxBytes, checked against the bytes left before anything is copied. */
  private length(what: string, minBytes: number, maxBytes: number): number {
    const n = this.u32(`${what} length`);
    if (n > maxBytes) throw this.fail(`${what} of ${n} bytes (limit ${maxBytes})`, true);
    if (n < minBytes) throw this.fail(`${what} of ${n} bytes (at least ${minBytes})`);
    this.need(n, what);
    return n;
  }

  /** A copy of at most maxBytes bytes (a value must not keep the log's buffer or a whole read
   * chunk alive). */
  bytes(what: string, maxBytes: number): Uint8Array {
    const n = this.length(what, 0, maxBytes);
    const out = new Uint8Array(n);
    out.set(this.b.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /** A string of minBytes..maxBytes bytes of well-formed UTF-8. */
  str(what: string, minBytes: number, maxBytes: number): string {
    const n = this.length(what, minBytes, maxBytes);
    const region = this.b.subarray(this.pos, this.pos + n);
    if (!isUtf8(region)) throw this.fail(`${what} is not UTF-8`);
    this.pos += n;
    return region.toString("utf8");
  }

  /** Nothing may follow the last field: trailing bytes mean the two sides disagree on the layout. */
  done(): void {
    if (this.left !== 0) throw this.fail(`${this.left} bytes after the end`);
  }
}
