// The Raft KV seed's text protocol (docs: kv-service.md), parsed incrementally and binary-safe:
//   set <key> <exptime> <numbytes>\r\n<bytes>\r\n          → OK <version>
//   get <key>\r\n                                          → VALUE <numbytes>\r\n<bytes>\r\n
//   getm <key>\r\n                          → VALUE <version> <exptime> <numbytes>\r\n<bytes>\r\n
//   cas <key> <exptime> <version> <numbytes>\r\n<bytes>\r\n → OK <version> | ERR_VERSION
//   delete <key>\r\n                                       → DELETED
// errors: ERR_NOT_FOUND, ERR_VERSION, ERR_CMD_ERR, ERR_INTERNAL.
// Values are read by length, so they may hold \r\n. What the parser keeps between chunks is
// bounded: a partial line (at most maxLineBytes) or one value (at most maxValueBytes, plus its
// \r\n checked as it streams by). A value over the limit is refused before its bytes arrive and
// they are skipped, not kept. A value not followed by \r\n (numbytes lied) is an error, and parsing
// resumes after the next line break. A numbytes nobody could mean (over 2^31) cannot be skipped
// safely: the connection is to be closed. Command lines end with \n (a \r before it is dropped).
import { Buffer, isUtf8 } from "node:buffer";
import { DEFAULT_MAX_VALUE_BYTES, MAX_KEY_BYTES } from "./commands.js";

export type TextCommand =
  | { cmd: "set"; key: string; exptime: number; value: Buffer }
  | { cmd: "cas"; key: string; exptime: number; version: number; value: Buffer }
  | { cmd: "get" | "getm" | "delete"; key: string };
/** A command, a malformed one (answer ERR_CMD_ERR; the connection stays usable), or input the
 * parser cannot resynchronise after (answer ERR_CMD_ERR and close). */
export type TextItem = TextCommand | { error: "ERR_CMD_ERR"; reason: string } | { close: string };

export interface TextParserOptions {
  /** The largest value accepted (default 1 MiB). */
  maxValueBytes?: number;
  /** The longest key accepted (default 4096 bytes, the most commands.ts allows). */
  maxKeyBytes?: number;
}

/** A command line: the key and a few numbers, with room to spare. */
export const MAX_LINE_BYTES = 8 * 1024 + MAX_KEY_BYTES;
/** A numbytes above both of these (and 4 x the value limit) is not a value anyone will send:
 * skipping that many bytes would only swallow the connection's next commands, so it is closed.
 * A value over the limit but below it is refused and its bytes skipped (the stream stays in step). */
export const ABSURD_NUMBYTES = 16 * 1024 * 1024;
const ABSURD_PER_VALUE_LIMIT = 4;
/** exptime is seconds (0: never), at most u32 (136 years), so exptime * 1000 + now stays exact. */
export const MAX_EXPTIME_SECONDS = 0xffffffff;
const MAX_VERSION_63 = (1n << 63n) - 1n;
const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;

type Mode =
  | { kind: "line" }
  | { kind: "value"; cmd: ValueCommand; buf: Buffer; filled: number }
  | { kind: "skip"; left: number }
  | { kind: "trailer"; cmd: TextCommand | null; seen: number }
  | { kind: "discard" }
  | { kind: "closed" };
type ValueCommand = Extract<TextCommand, { value: Buffer }>;

export class TextParser {
  private mode: Mode = { kind: "line" };
  private lineParts: Buffer[] = [];
  private lineBytes = 0;
  private items: TextItem[] = [];
  private head = 0;
  private readonly maxValueBytes: number;
  private readonly maxKeyBytes: number;

  constructor(opts: TextParserOptions = {}) {
    this.maxValueBytes = opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    this.maxKeyBytes = Math.min(opts.maxKeyBytes ?? MAX_KEY_BYTES, MAX_KEY_BYTES);
  }

  /** Bytes held for what is not parsed yet (a partial line or value). */
  get bufferedBytes(): number {
    const m = this.mode;
    return this.lineBytes + (m.kind === "value" ? m.buf.length : 0);
  }

  get closed(): boolean {
    return this.mode.kind === "closed";
  }

  /** Parses what it can of chunk (the rest waits for more). After a close item, input is ignored. */
  feed(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length && this.mode.kind !== "closed") pos = this.step(chunk, pos);
  }

  /** The next parsed item, in input order (undefined: none yet). */
  next(): TextItem | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return item;
  }

  /** Every parsed item not taken yet. */
  take(): TextItem[] {
    const out = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return out;
  }

  private error(reason: string): void {
    this.items.push({ error: "ERR_CMD_ERR", reason });
  }

  /** Consumes from chunk at pos according to the mode; returns the new position. */
  private step(chunk: Buffer, pos: number): number {
    const m = this.mode;
    switch (m.kind) {
      case "line":
        return this.stepLine(chunk, pos);
      case "value": {
        const n = Math.min(m.buf.length - m.filled, chunk.length - pos);
        chunk.copy(m.buf, m.filled, pos, pos + n);
        m.filled += n;
        if (m.filled === m.buf.length) this.mode = { kind: "trailer", cmd: m.cmd, seen: 0 };
        return pos + n;
      }
      case "skip": {
        const n = Math.min(m.left, chunk.length - pos);
        m.left -= n;
        if (m.left === 0) this.mode = { kind: "trailer", cmd: null, seen: 0 };
        return pos + n;
      }
      case "trailer":
        return this.stepTrailer(m, chunk[pos] as number, pos);
      case "discard": {
        const nl = chunk.indexOf(LF, pos);
        if (nl < 0) return chunk.length;
        this.mode = { kind: "line" };
        return nl + 1;
      }
      case "closed":
        return chunk.length;
    }
  }

  private stepLine(chunk: Buffer, pos: number): number {
    const nl = chunk.indexOf(LF, pos);
    const end = nl < 0 ? chunk.length : nl;
    // The \r before \n may be one byte over the limit.
    if (this.lineBytes + (end - pos) > MAX_LINE_BYTES + 1) {
      this.lineParts = [];
      this.lineBytes = 0;
      this.error(`a command line over ${MAX_LINE_BYTES} bytes`);
      if (nl < 0) this.mode = { kind: "discard" };
      return nl < 0 ? chunk.length : nl + 1;
    }
    // A copy: the caller may reuse its chunk.
    this.lineParts.push(Buffer.from(chunk.subarray(pos, end)));
    this.lineBytes += end - pos;
    if (nl < 0) return chunk.length;
    let line = Buffer.concat(this.lineParts, this.lineBytes);
    this.lineParts = [];
    this.lineBytes = 0;
    if (line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    this.handleLine(line);
    return nl + 1;
  }

  private stepTrailer(m: Extract<Mode, { kind: "trailer" }>, byte: number, pos: number): number {
    if (byte === (m.seen === 0 ? CR : LF)) {
      if (++m.seen === 2) {
        if (m.cmd) this.items.push(m.cmd);
        this.mode = { kind: "line" };
      }
      return pos + 1;
    }
    // numbytes lied: the value is refused and parsing resumes after the next line break (this
    // byte included: it may be that line break).
    if (m.cmd) this.error("the value is not followed by \\r\\n (numbytes is wrong)");
    this.mode = { kind: "discard" };
    return pos;
  }

  private handleLine(line: Buffer): void {
    const tokens = splitTokens(line);
    // Command names in any case (GET as get): the seed writes them in lower case, people not always.
    const name = tokens[0]?.toString("latin1").toLowerCase();
    const argc = tokens.length - 1;
    if (name === "get" || name === "getm" || name === "delete") {
      if (argc !== 1) return this.error(`${name} takes 1 argument, not ${argc}`);
      const key = this.parseKey(tokens[1] as Buffer);
      if (typeof key !== "string") return this.error(key.bad);
      this.items.push({ cmd: name, key });
    } else if (name === "set" || name === "cas") {
      const want = name === "set" ? 3 : 4;
      if (argc !== want) return this.error(`${name} takes ${want} arguments, not ${argc}`);
      this.startValue(name, tokens);
    } else this.error(name === undefined ? "an empty line" : "an unknown command");
  }

  /** set/cas: numbytes first, so that a command refused for any reason still skips its value. */
  private startValue(name: "set" | "cas", tokens: Buffer[]): void {
    const numTok = tokens[tokens.length - 1] as Buffer;
    const numbytes = parseDecimal(numTok);
    if (numbytes === undefined) return this.error("numbytes is not a decimal number");
    if (numbytes > Math.max(ABSURD_NUMBYTES, ABSURD_PER_VALUE_LIMIT * this.maxValueBytes)) {
      this.items.push({ close: `numbytes ${numTok.toString("latin1")} is absurd` });
      this.mode = { kind: "closed" };
      return;
    }
    const cmd = this.parseValueCommand(name, tokens, numbytes);
    if ("bad" in cmd) {
      this.error(cmd.bad);
      this.mode = { kind: "skip", left: numbytes };
      if (numbytes === 0) this.mode = { kind: "trailer", cmd: null, seen: 0 };
      return;
    }
    this.mode =
      numbytes === 0
        ? { kind: "trailer", cmd, seen: 0 }
        : { kind: "value", cmd, buf: cmd.value, filled: 0 };
  }

  private parseValueCommand(
    name: "set" | "cas",
    tokens: Buffer[],
    numbytes: number,
  ): ValueCommand | { bad: string } {
    if (numbytes > this.maxValueBytes) {
      return { bad: `a value of ${numbytes} bytes (limit ${this.maxValueBytes})` };
    }
    const key = this.parseKey(tokens[1] as Buffer);
    if (typeof key !== "string") return key;
    const exptime = parseDecimal(tokens[2] as Buffer);
    if (exptime === undefined || exptime > MAX_EXPTIME_SECONDS) {
      return { bad: "exptime is not a number of seconds (0..2^32-1)" };
    }
    const value = Buffer.allocUnsafe(numbytes);
    if (name === "set") return { cmd: "set", key, exptime, value };
    const version = parseVersion(tokens[3] as Buffer);
    if (version === undefined) return { bad: "version is not a decimal integer of 63 bits" };
    return { cmd: "cas", key, exptime, version, value };
  }

  private parseKey(tok: Buffer): string | { bad: string } {
    if (tok.length > this.maxKeyBytes) return { bad: `a key over ${this.maxKeyBytes} bytes` };
    for (const b of tok) if (b < 0x21 || b === 0x7f) return { bad: "a control byte in the key" };
    if (!isUtf8(tok)) return { bad: "a key that is not UTF-8" };
    return tok.toString("utf8");
  }
}

/** The space-separated tokens of a line (runs of spaces count as one). */
function splitTokens(line: Buffer): Buffer[] {
  const tokens: Buffer[] = [];
  let start = -1;
  for (let i = 0; i <= line.length; i++) {
    const sep = i === line.length || line[i] === SPACE;
    if (sep && start >= 0) {
      tokens.push(line.subarray(start, i));
      start = -1;
    } else if (!sep && start < 0) start = i;
  }
  return tokens;
}

/** Digits only (at most 15 of them, so the number is exact); else undefined. */
function parseDecimal(tok: Buffer): number | undefined {
  if (tok.length === 0) return undefined;
  let n = 0;
  for (let i = 0; i < tok.length; i++) {
    const d = (tok[i] as number) - 0x30;
    if (d < 0 || d > 9) return undefined;
    n = i < 15 ? n * 10 + d : Infinity;
  }
  return n;
}

/** A decimal version that fits 63 bits. Versions are revisions, safe integers; one above 2^53 - 1
 * cannot be any key's (2^53 commands would have to be applied first), so it becomes
 * Number.MAX_SAFE_INTEGER: the cas fails as it would have. */
function parseVersion(tok: Buffer): number | undefined {
  if (tok.length === 0 || tok.length > 19 || parseDecimal(tok) === undefined) return undefined;
  const v = BigInt(tok.toString("latin1"));
  if (v > MAX_VERSION_63) return undefined;
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

export const REPLY_DELETED = "DELETED\r\n";
export const REPLY_ERR_VERSION = "ERR_VERSION\r\n";
export const REPLY_ERR_NOT_FOUND = "ERR_NOT_FOUND\r\n";
export const REPLY_ERR_CMD = "ERR_CMD_ERR\r\n";
export const REPLY_ERR_INTERNAL = "ERR_INTERNAL\r\n";
const CRLF = Buffer.from("\r\n");

export function formatOk(version: number): string {
  return `OK ${version}\r\n`;
}

/** get's reply: VALUE <numbytes>\r\n<bytes>\r\n. */
export function formatValue(value: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`VALUE ${value.length}\r\n`), value, CRLF]);
}

/** getm's reply: VALUE <version> <exptime> <numbytes>\r\n<bytes>\r\n (exptime: seconds left). */
export function formatValueMeta(
  version: number,
  exptimeSeconds: number,
  value: Uint8Array,
): Buffer {
  const head = `VALUE ${version} ${exptimeSeconds} ${value.length}\r\n`;
  return Buffer.concat([Buffer.from(head), value, CRLF]);
}

/** getm's exptime: the seconds left, rounded up (at least 1 while the key lives); 0: never. */
export function exptimeRemaining(expiresAtMs: number, nowMs: number): number {
  if (expiresAtMs === 0) return 0;
  return Math.max(1, Math.ceil((expiresAtMs - nowMs) / 1000));
}
