// The write-ahead log behind the Storage port: one file per rank, an 8-byte header ("YWAL", u32
// format version) and then records framed as [u32 length][u32 crc32][binary body]
// (record_codec.ts). append() buffers; sync() writes everything buffered at once (a
// synchronous write to the page cache is cheap) and resolves after an fdatasync that started after
// that write. One fdatasync runs at a time, on libuv's thread pool, and covers whatever every
// processor wrote before it started (group commit across the rank's processors). A synchronous
// fdatasync was cheaper alone (no event-loop turn), but under load it blocked all four processors
// for a third of the wall time (profile: 33% in fdatasync at 20k commits/s with 5 ranks).
// Recovery: a torn tail (crash mid-write, the header included) is cut off with one warning; a
// record that fails its checksum with valid records after it is corruption in the middle, and a
// file that does not start with the header (another format, such as the JSON records of older
// versions) is not read at all: the rank refuses to start.
import {
  closeSync,
  existsSync,
  fdatasync,
  ftruncateSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { crc32 } from "node:zlib";
import type { StorageRecord } from "../protocol/effects.js";
import type { Storage } from "../ports.js";
import { decodeRecordBody, encodeRecordBody } from "./record_codec.js";

/** The largest record body: room for a checkpoint's long runs and for large commands. */
export const MAX_RECORD_BYTES = 1024 * 1024 * 1024;
export const WAL_MAGIC = "YWAL";
/** 1: binary records. (The JSON records of earlier versions had no header.) */
export const WAL_VERSION = 1;
export const WAL_HEADER: Buffer = (() => {
  const h = Buffer.alloc(8);
  h.write(WAL_MAGIC, 0, "latin1");
  h.writeUInt32BE(WAL_VERSION, 4);
  return h;
})();
/** A checkpoint is written by pieces of about this size (not as one buffer of the whole log). */
const WRITE_PIECE_BYTES = 8 * 1024 * 1024;

export class WalCorruptError extends Error {}

/** rec framed for the log. Throws a RangeError on a record recovery could not read back (one with
 * an invalid field, or over MAX_RECORD_BYTES). */
export function encodeRecord(rec: StorageRecord): Buffer {
  const out = encodeRecordBody(rec, 8);
  const len = out.length - 8;
  if (len > MAX_RECORD_BYTES)
    throw new RangeError(`a ${rec.r} record of ${len} bytes (limit ${MAX_RECORD_BYTES})`);
  out.writeUInt32BE(len, 0);
  out.writeUInt32BE(crc32(out.subarray(8)), 4);
  return out;
}

type Decoded =
  | { ok: true; rec: StorageRecord; next: number }
  | { ok: false; why: "torn" }
  | { ok: false; why: "bad"; detail: string };

function decodeAt(buf: Buffer, off: number): Decoded {
  if (buf.length - off < 8) return { ok: false, why: "torn" };
  const len = buf.readUInt32BE(off);
  if (len > MAX_RECORD_BYTES) return { ok: false, why: "bad", detail: `has a length of ${len}` };
  if (off + 8 + len > buf.length) return { ok: false, why: "torn" };
  const payload = buf.subarray(off + 8, off + 8 + len);
  if (crc32(payload) !== buf.readUInt32BE(off + 4))
    return { ok: false, why: "bad", detail: "fails its checksum" };
  const rec = decodeRecordBody(payload);
  return typeof rec === "string"
    ? { ok: false, why: "bad", detail: `passes its checksum but is refused (${rec})` }
    : { ok: true, rec, next: off + 8 + len };
}

/** Why a file that does not start with the header is not read (null: it does, or it is the torn
 * beginning of one). */
function headerProblem(buf: Buffer): string | null {
  const n = Math.min(buf.length, WAL_HEADER.length);
  if (buf.subarray(0, n).equals(WAL_HEADER.subarray(0, n))) return null;
  if (n >= 4 && buf.toString("latin1", 0, 4) === WAL_MAGIC)
    return `the log is in format version ${buf.readUInt32BE(4)}; this yasp reads version ${WAL_VERSION}`;
  const json = buf.length > 8 && buf[8] === 0x7b; // an older yasp's [length][crc]{"r":...}
  return json
    ? "the log holds the JSON records of an older yasp, which this version does not read"
    : `the file does not start with a write-ahead log header ("${WAL_MAGIC}", version ${WAL_VERSION}): not a yasp log`;
}

/** Scan a WAL image (the whole file, header included). validBytes: where the valid prefix ends
 * (the rest is a torn tail); 0 for a file with no whole header. */
export function scanWal(buf: Buffer): { records: StorageRecord[]; validBytes: number } {
  const records: StorageRecord[] = [];
  const problem = headerProblem(buf);
  if (problem !== null) throw new WalCorruptError(problem);
  if (buf.length < WAL_HEADER.length) return { records, validBytes: 0 };
  let off = WAL_HEADER.length;
  while (off < buf.length) {
    const d = decodeAt(buf, off);
    if (d.ok) {
      records.push(d.rec);
      off = d.next;
      continue;
    }
    // A bad record is only a torn tail if nothing valid follows it.
    const len = buf.length - off >= 4 ? buf.readUInt32BE(off) : 0;
    const after = off + 8 + len;
    if (
      d.why === "bad" &&
      len <= MAX_RECORD_BYTES &&
      after < buf.length &&
      decodeAt(buf, after).ok
    ) {
      throw new WalCorruptError(
        `record at byte ${off} ${d.detail} and valid records follow it: the log is corrupt`,
      );
    }
    break;
  }
  return { records, validBytes: off };
}

export interface WalOptions {
  fsync: boolean;
  warn: (line: string) => void;
  /** The disk refused an fdatasync: nothing written since can be promised durable. Default: exit(1). */
  fatal?: (line: string) => void;
}

export class WalStorage implements Storage {
  private fd: number | null = null;
  private pending: Buffer[] = [];
  private bytes = 0;
  /** Bytes ever written, and how many of them are known durable (logical counters: a checkpoint
   * rewrites the file but not these). */
  private written = 0;
  private durable = 0;
  private syncing = false;
  private waiters: Array<{ upTo: number; resolve: () => void }> = [];
  syncs = 0;
  /** Time spent in fdatasync (µs), summed: with syncs, the disk's share of commit latency. */
  syncUs = 0;

  constructor(
    readonly path: string,
    private readonly opts: WalOptions,
  ) {}

  /** Read what survived, cut a torn tail (with one warning), and open for appending. */
  async load(): Promise<StorageRecord[]> {
    let records: StorageRecord[] = [];
    if (existsSync(this.path)) {
      const buf = readFileSync(this.path);
      let scan: ReturnType<typeof scanWal>;
      try {
        scan = scanWal(buf);
      } catch (e) {
        throw e instanceof WalCorruptError ? new WalCorruptError(`${this.path}: ${e.message}`) : e;
      }
      records = scan.records;
      if (scan.validBytes < buf.length) {
        this.opts.warn(
          `${this.path}: torn tail of ${buf.length - scan.validBytes} bytes after ${records.length} valid records cut off (a crash mid-write)`,
        );
        const fd = openSync(this.path, "r+");
        ftruncateSync(fd, scan.validBytes);
        fsyncSync(fd);
        closeSync(fd);
      }
      this.bytes = scan.validBytes;
    }
    this.fd = openSync(this.path, "a");
    return records;
  }

  append(record: StorageRecord): void {
    this.pending.push(encodeRecord(record));
  }

  /** Write what was appended to the file (the page cache): a process crash loses none of it; the
   * disk gets it with the next sync. */
  flush(): void {
    if (this.pending.length === 0 || this.fd === null) return;
    if (this.bytes === 0) this.pending.unshift(WAL_HEADER); // a new (or emptied) file
    const data =
      this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending);
    this.pending = [];
    writeAll(this.fd, data);
    this.bytes += data.length;
    this.written += data.length;
  }

  sync(): Promise<void> {
    this.flush();
    if (!this.opts.fsync) this.durable = this.written;
    if (this.durable >= this.written) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.waiters.push({ upTo: this.written, resolve }));
    this.startSync();
    return done;
  }

  private startSync(): void {
    if (this.syncing || this.fd === null) return;
    this.syncing = true;
    const fd = this.fd;
    const upTo = this.written;
    const startedMs = performance.now();
    fdatasync(fd, (err) => {
      this.syncing = false;
      this.syncUs += (performance.now() - startedMs) * 1000;
      if (err) {
        const line = `${this.path}: fdatasync failed (${err.code ?? err.message}): durability is lost, stopping`;
        return (this.opts.fatal ?? defaultFatal)(line);
      }
      this.syncs++;
      if (fd !== this.fd) closeSync(fd); // a checkpoint replaced the file while this sync ran
      this.markDurable(upTo);
      if (this.durable < this.written) this.startSync();
    });
  }

  private markDurable(upTo: number): void {
    if (upTo > this.durable) this.durable = upTo;
    let i = 0;
    while (i < this.waiters.length && (this.waiters[i]?.upTo ?? Infinity) <= this.durable)
      this.waiters[i++]?.resolve();
    if (i > 0) this.waiters = this.waiters.slice(i);
  }

  /** Bytes in the file (valid records). */
  get size(): number {
    return this.bytes;
  }

  /** Replace the whole log by records describing the current state (taken between steps, so
   * anything appended but not yet synced is part of that state and is made durable here). */
  checkpoint(records: readonly StorageRecord[]): Promise<void> {
    const encoded = records.map(encodeRecord); // a record that cannot be written throws here
    this.pending = [];
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, "w");
    let size = 0;
    let piece: Buffer[] = [WAL_HEADER];
    let pieceBytes = WAL_HEADER.length;
    const flush = () => {
      writeAll(fd, piece.length === 1 ? (piece[0] as Buffer) : Buffer.concat(piece, pieceBytes));
      size += pieceBytes;
      piece = [];
      pieceBytes = 0;
    };
    for (const rec of encoded) {
      piece.push(rec);
      pieceBytes += rec.length;
      if (pieceBytes >= WRITE_PIECE_BYTES) flush();
    }
    if (pieceBytes > 0) flush();
    if (this.opts.fsync) fsyncSync(fd);
    closeSync(fd);
    // An fdatasync still running on the old file closes it when it ends.
    if (this.fd !== null && !this.syncing) closeSync(this.fd);
    renameSync(tmp, this.path);
    if (this.opts.fsync) {
      const dir = openSync(dirname(this.path), "r");
      fsyncSync(dir);
      closeSync(dir);
    }
    this.fd = openSync(this.path, "a");
    this.bytes = size;
    // The snapshot holds the state that every record appended so far described, and it is durable.
    this.markDurable(this.written);
    return Promise.resolve();
  }

  async close(): Promise<void> {
    await this.sync();
    while (this.syncing) await new Promise((resolve) => setImmediate(resolve));
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function defaultFatal(line: string): void {
  process.stderr.write(line + "\n");
  process.exit(1);
}

function writeAll(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length;) off += writeSync(fd, data, off, data.length - off);
}
