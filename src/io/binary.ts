// The building blocks of the binary layouts of the peer wire (wire_codec.ts) and the write-ahead
// log (record_codec.ts). Big-endian throughout, like every length in front of a frame or record.
//
//   nat        u64: two u32 (high word first), exact for every non-negative safe integer. The high
//              word of a valid nat is at most 0x1fffff (Number.MAX_SAFE_INTEGER's).
//   nat or -1  the same, with all 64 bits set for -1.
//   ids        u32 count, then count u16 byte lengths, then the ids' UTF-8 bytes back to back (one
//              string decode for the whole list; ids are ASCII in practice: "<rank>-<counter>").
//   cmds       u8 presence (0: absent, every command a no-op; 1: present), then, if present, u32
//              count and count times (u32 length, bytes).
//
// On a value the reader would refuse (a negative round, an id with a line break, cmds that do not
// pair up with the ids), a lenient writer (the wire's) does not throw: it writes something the
// reader refuses in turn, as JSON did. A number that is not a nat goes out with the high word
// 0xfffffffe, an invalid id (empty, too long, holding "]" or a line break, or not well-formed
// UTF-16) as an id of length 0. So decode(encode(m)) is m whenever m is valid, and a refusal
// otherwise: never another message. A strict writer (the log's) throws a RangeError instead: a
// record that recovery would refuse must fail when it is written, not when it is needed.
//
// The reader throws DecodeError (caught by the codecs, which never throw) and checks every count
// and length against the bytes left before it allocates anything for them.
// Both work on the bytes directly (no DataView: a small message costs fewer objects than fields).
import { isAscii, isUtf8 } from "node:buffer";
import { LIMITS, NO_OP } from "../protocol/messages.js";

const TWO_32 = 4294967296;
/** High word of Number.MAX_SAFE_INTEGER (2^53 - 1). */
const MAX_NAT_HI = 0x1fffff;
/** High word of a number the schemas refuse (the reader refuses it too). */
const INVALID_HI = 0xfffffffe;
/** An id is at most LIMITS.maxIdLength UTF-16 units, each at most 3 bytes of UTF-8. */
export const MAX_ID_BYTES = 3 * LIMITS.maxIdLength;

/** What the reader refuses, and why (a message for an operator). */
export class DecodeError extends Error {
  override name = "DecodeError";
}

/** Bytes ids take (exact for ASCII ids; the writer grows its buffer for others). */
export function idsBytes(ids: readonly string[]): number {
  let n = 4 + 2 * ids.length;
  for (const id of ids) n += id.length;
  return n;
}

/** Bytes ids and their commands take together (what Writer.values writes). */
export function valuesBytes(
  ids: readonly string[],
  cmds: readonly Uint8Array[] | undefined,
): number {
  return idsBytes(ids) + cmdsBytes(cmds);
}

export function cmdsBytes(cmds: readonly Uint8Array[] | undefined): number {
  if (cmds === undefined) return 1;
  let n = 5 + 4 * cmds.length;
  for (const c of cmds) n += c.length;
  return n;
}

function isNat(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

/** Writes into one buffer allocated up front (its size computed by the caller); grows it only for
 * non-ASCII ids. The first `reserve` bytes are left for the caller's header. */
export class Writer {
  private buf: Buffer;
  pos: number;
  /** The size the caller computed, plus what non-ASCII ids needed beyond it. */
  private sized: number;
  private grown = false;

  constructor(
    size: number,
    reserve: number,
    /** Throw on what the reader would refuse (instead of writing it so that it is refused). */
    private readonly strict = false,
  ) {
    this.sized = size;
    this.buf = Buffer.allocUnsafe(size);
    this.pos = reserve;
  }

  /** The bytes written (the reserved ones included, uninitialised). */
  finish(): Buffer {
    if (this.pos === this.buf.length) return this.buf;
    if (!this.grown) return this.buf.subarray(0, this.pos); // an invalid id left a few bytes out
    const exact = Buffer.allocUnsafe(this.pos);
    this.buf.copy(exact, 0, 0, this.pos);
    return exact;
  }

  private refuse(what: string): void {
    if (this.strict) throw new RangeError(`cannot write ${what}`);
  }

  u8(v: number): void {
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }

  /** A number in [lo, hi] (hi < 2^32) as u32; anything else as `bad`, which the reader refuses. */
  u32In(v: number, lo: number, hi: number, bad: number): void {
    if (Number.isInteger(v) && v >= lo && v <= hi) return this.u32(v);
    this.refuse(`${v} (not in ${lo}..${hi})`);
    this.u32(bad);
  }

  nat(v: number): void {
    if (isNat(v)) {
      this.u32(Math.floor(v / TWO_32));
      this.u32(v >>> 0);
    } else {
      this.refuse(`${v} (not a non-negative safe integer)`);
      this.u32(INVALID_HI);
      this.u32(0);
    }
  }

  natOrMinus1(v: number): void {
    if (v !== -1) return this.nat(v);
    this.u32(0xffffffff);
    this.u32(0xffffffff);
  }

  ids(ids: readonly string[]): void {
    const n = ids.length;
    this.u32(n);
    let lenAt = this.pos;
    this.pos += 2 * n;
    for (const id of ids) {
      const len = this.str(id);
      if (len === 0) this.refuse(`the id ${JSON.stringify(id.slice(0, 300))}`);
      this.buf[lenAt] = len >>> 8;
      this.buf[lenAt + 1] = len;
      lenAt += 2;
    }
  }

  /** ids and their commands, as every message and record that carries values has them. */
  values(ids: readonly string[], cmds: readonly Uint8Array[] | undefined): void {
    this.ids(ids);
    this.cmds(cmds, ids.length);
  }

  /** The commands of `count` ids (or undefined: all no-ops). */
  cmds(cmds: readonly Uint8Array[] | undefined, count: number): void {
    if (cmds === undefined) return this.u8(0);
    if (cmds.length !== count) this.refuse(`${cmds.length} cmds for ${count} ids`);
    this.u8(1);
    this.u32(cmds.length);
    for (const c of cmds) this.bytes(c);
  }

  /** u32 length, then the bytes. */
  bytes(b: Uint8Array): void {
    const n = b.length;
    this.u32(n);
    const buf = this.buf;
    const p = this.pos;
    if (n <= 32)
      for (let i = 0; i < n; i++) buf[p + i] = b[i] as number; // cheaper than set() here
    else buf.set(b, p);
    this.pos = p + n;
  }

  /** An id's bytes; returns their number (0, and nothing written: an invalid id). */
  private str(s: string): number {
    const n = s.length;
    if (n === 0 || n > LIMITS.maxIdLength) return 0;
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80 || c === 0x5d || c === 0x0d || c === 0x0a) return this.utf8(s);
      buf[p++] = c;
    }
    this.pos = p;
    return n;
  }

  /** An id that is not plain ASCII, or not valid. */
  private utf8(s: string): number {
    if (/[\]\r\n]/.test(s)) return 0;
    if (!isWellFormed(s)) return 0; // UTF-8 would carry U+FFFD instead: another id
    const need = Buffer.byteLength(s, "utf8");
    // The caller's size counted s.length bytes for this id: everything after it needs the rest.
    this.grow(need - s.length);
    this.pos += this.buf.write(s, this.pos, "utf8");
    return need;
  }

  /** Room for `extra` bytes more than the size the caller computed (doubling: many non-ASCII ids
   * cost a linear number of copies; finish() cuts the slack). */
  private grow(extra: number): void {
    if (extra <= 0) return;
    this.grown = true;
    this.sized += extra;
    if (this.sized <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.sized));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }
}

/** No lone surrogate (String.prototype.isWellFormed, Node >= 20, not in the ES2022 typings). */
function isWellFormed(s: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

/** Characters an instance id may not hold (messages.ts: instanceId). */
const FORBIDDEN_BYTES = [0x5d, 0x0d, 0x0a]; // "]", "\r", "\n"

/** Reads one body; every method throws DecodeError on what the layout or the schemas refuse. */
export class Reader {
  private readonly b: Buffer;
  pos = 0;
  readonly end: number;

  constructor(body: Uint8Array) {
    this.b = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.length);
    this.end = body.length;
  }

  get left(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (n > this.end - this.pos) throw new DecodeError(`${what} runs past the end`);
  }

  /** The u32 at p (in bounds: checked by the caller). */
  private at32(p: number): number {
    const b = this.b;
    return (
      (b[p] as number) * 0x1000000 +
      (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number))
    );
  }

  private at16(p: number): number {
    return ((this.b[p] as number) << 8) | (this.b[p + 1] as number);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.b[this.pos++] as number;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.at32(this.pos);
    this.pos += 4;
    return v;
  }

  u32In(what: string, lo: number, hi: number): number {
    const v = this.u32(what);
    if (v < lo || v > hi) throw new DecodeError(`${what} ${v} is not in ${lo}..${hi}`);
    return v;
  }

  nat(what: string): number {
    this.need(8, what);
    const hi = this.at32(this.pos);
    const lo = this.at32(this.pos + 4);
    this.pos += 8;
    if (hi > MAX_NAT_HI) throw new DecodeError(`${what} is not a non-negative safe integer`);
    return hi * TWO_32 + lo;
  }

  natOrMinus1(what: string): number {
    this.need(8, what);
    if (this.at32(this.pos) === 0xffffffff && this.at32(this.pos + 4) === 0xffffffff) {
      this.pos += 8;
      return -1;
    }
    return this.nat(what);
  }

  /** At most maxCount ids, each 1..LIMITS.maxIdLength UTF-16 units without "]", "\r", "\n". */
  ids(maxCount: number): string[] {
    const n = this.u32("id count");
    if (n > maxCount) throw new DecodeError(`${n} ids (limit ${maxCount})`);
    // Every id takes at least 3 bytes (its length and one byte): a count beyond that is a lie.
    if (3 * n > this.left) throw new DecodeError(`${n} ids cannot fit in ${this.left} bytes`);
    const lens = this.pos;
    this.pos += 2 * n;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const len = this.at16(lens + 2 * i);
      if (len === 0 || len > MAX_ID_BYTES) throw new DecodeError(`id ${i} of ${len} bytes`);
      total += len;
    }
    this.need(total, "ids");
    const start = this.pos;
    this.pos += total;
    const region = this.b.subarray(start, start + total);
    for (const b of FORBIDDEN_BYTES)
      if (region.indexOf(b) >= 0) throw new DecodeError(`an id holds "]" or a line break`);
    const ids: string[] = [];
    if (isAscii(region)) {
      // One string for all of them, cut into ids (cheaper than one decode per id; V8 may make a
      // long id a slice of it, which keeps the list's characters alive, not the frame's bytes).
      const all = region.toString("latin1");
      let at = 0;
      for (let i = 0; i < n; i++) {
        const len = this.at16(lens + 2 * i);
        if (len > LIMITS.maxIdLength) throw new DecodeError(`id ${i} of ${len} characters`);
        ids.push(all.substring(at, at + len));
        at += len;
      }
      return ids;
    }
    let at = start;
    for (let i = 0; i < n; i++) {
      const len = this.at16(lens + 2 * i);
      const bytes = this.b.subarray(at, at + len);
      at += len;
      if (!isUtf8(bytes)) throw new DecodeError(`id ${i} is not UTF-8`);
      const id = bytes.toString("utf8");
      if (id.length > LIMITS.maxIdLength)
        throw new DecodeError(`id ${i} of ${id.length} characters`);
      ids.push(id);
    }
    return ids;
  }

  /** Commands, or undefined (absent). When present there are exactly `count` of them (the ids they
   * go with), each at most maxBytes. They are copied out of the body, all of one list into one
   * block, each a view of it (an empty one is NO_OP): a command keeps its list's bytes alive, not
   * the frame or read chunk it came in. */
  /** ids and their commands (Writer.values), cmds left out when absent. */
  values(maxIds: number, maxCmdBytes: number): { ids: string[]; cmds?: Uint8Array[] } {
    const ids = this.ids(maxIds);
    const cmds = this.cmds(ids.length, maxCmdBytes);
    return cmds ? { ids, cmds } : { ids };
  }

  cmds(count: number, maxBytes: number): Uint8Array[] | undefined {
    const flag = this.u8("cmds flag");
    if (flag === 0) return undefined;
    if (flag !== 1) throw new DecodeError(`cmds flag ${flag}`);
    const n = this.u32("cmd count");
    if (n !== count) throw new DecodeError(`${n} cmds for ${count} ids`);
    if (4 * n > this.left) throw new DecodeError(`${n} cmds cannot fit in ${this.left} bytes`);
    const start = this.pos;
    let at = start;
    for (let i = 0; i < n; i++) {
      if (this.end - at < 4) throw new DecodeError(`cmd ${i} runs past the end`);
      const len = this.at32(at);
      if (len > maxBytes) throw new DecodeError(`cmd ${i} of ${len} bytes (limit ${maxBytes})`);
      at += 4;
      if (len > this.end - at) throw new DecodeError(`cmd ${i} runs past the end`);
      at += len;
    }
    const block = this.copy(start, at).buffer; // (a view made from the buffer costs less)
    const cmds: Uint8Array[] = [];
    for (let p = start; p < at;) {
      const len = this.at32(p);
      p += 4;
      cmds.push(len === 0 ? NO_OP : new Uint8Array(block, p - start, len));
      p += len;
    }
    this.pos = at;
    return cmds;
  }

  /** u32 length (at most maxBytes), then that many bytes, copied. */
  bytes(what: string, maxBytes: number): Uint8Array {
    const len = this.u32(`${what} length`);
    if (len > maxBytes) throw new DecodeError(`${what} of ${len} bytes (limit ${maxBytes})`);
    this.need(len, what);
    const copy = this.copy(this.pos, this.pos + len);
    this.pos += len;
    return copy;
  }

  /** A plain Uint8Array (not a Buffer, whose slice() does not copy) holding bytes [from, to). */
  private copy(from: number, to: number): Uint8Array {
    const copy = new Uint8Array(to - from);
    copy.set(this.b.subarray(from, to));
    return copy;
  }

  /** Nothing may follow the last field. */
  done(): void {
    if (this.pos !== this.end) throw new DecodeError(`${this.end - this.pos} bytes after the end`);
  }
}
