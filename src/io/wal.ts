// The write-ahead log behind the Storage port: one file per rank, records framed as
// [u32 length][u32 crc32][JSON]. append() buffers; sync() writes everything buffered with one
// write and one fdatasync (group commit: a processor step appends the records of every message it
// drained, then syncs once). The write is synchronous on purpose: fdatasync costs ~0.1 ms here,
// while an async write + datasync through libuv's thread pool costs two event-loop turns, which
// under load is several ms of latency on every ack.
// Recovery: a torn tail (crash mid-write) is cut off with one warning; a record that fails its
// checksum with valid records after it is corruption in the middle: the rank refuses to start.
import { closeSync, existsSync, fdatasyncSync, ftruncateSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { crc32 } from "node:zlib";
import { z } from "zod";
import type { StorageRecord } from "../protocol/effects.js";
import { instanceId } from "../protocol/messages.js";
import type { Storage } from "../ports.js";

const MAX_RECORD_BYTES = 64 * 1024 * 1024;
const nat = z.int().min(0);
const ids = z.array(instanceId);
const storageRecord = z.discriminatedUnion("r", [
  z.strictObject({ r: z.literal("promise"), round: nat }),
  z.strictObject({ r: z.literal("accept"), round: nat, seq: nat, ids }),
  z.strictObject({ r: z.literal("floor"), seq: nat }),
  z.strictObject({ r: z.literal("bind"), seq: nat, ids }),
]);

export class WalCorruptError extends Error {}

export function encodeRecord(rec: StorageRecord): Buffer {
  const payload = Buffer.from(JSON.stringify(rec), "utf8");
  const out = Buffer.allocUnsafe(8 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(crc32(payload), 4);
  payload.copy(out, 8);
  return out;
}

type Decoded = { ok: true; rec: StorageRecord; next: number } | { ok: false; why: "torn" | "bad" };

function decodeAt(buf: Buffer, off: number): Decoded {
  if (buf.length - off < 8) return { ok: false, why: "torn" };
  const len = buf.readUInt32BE(off);
  if (len > MAX_RECORD_BYTES) return { ok: false, why: "bad" };
  if (off + 8 + len > buf.length) return { ok: false, why: "torn" };
  const payload = buf.subarray(off + 8, off + 8 + len);
  if (crc32(payload) !== buf.readUInt32BE(off + 4)) return { ok: false, why: "bad" };
  let json: unknown;
  try {
    json = JSON.parse(payload.toString("utf8"));
  } catch {
    return { ok: false, why: "bad" };
  }
  const parsed = storageRecord.safeParse(json);
  return parsed.success ? { ok: true, rec: parsed.data, next: off + 8 + len } : { ok: false, why: "bad" };
}

/** Scan a WAL image. validBytes: where the valid prefix ends (the rest is a torn tail). */
export function scanWal(buf: Buffer): { records: StorageRecord[]; validBytes: number } {
  const records: StorageRecord[] = [];
  let off = 0;
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
    if (d.why === "bad" && len <= MAX_RECORD_BYTES && after < buf.length && decodeAt(buf, after).ok) {
      throw new WalCorruptError(`record at byte ${off} fails its checksum and valid records follow it: the log is corrupt`);
    }
    break;
  }
  return { records, validBytes: off };
}

export interface WalOptions {
  fsync: boolean;
  warn: (line: string) => void;
}

export class WalStorage implements Storage {
  private fd: number | null = null;
  private pending: Buffer[] = [];
  private bytes = 0;
  syncs = 0;

  constructor(
    readonly path: string,
    private readonly opts: WalOptions,
  ) {}

  /** Read what survived, cut a torn tail (with one warning), and open for appending. */
  async load(): Promise<StorageRecord[]> {
    let records: StorageRecord[] = [];
    if (existsSync(this.path)) {
      const buf = readFileSync(this.path);
      const scan = scanWal(buf);
      records = scan.records;
      if (scan.validBytes < buf.length) {
        this.opts.warn(`${this.path}: torn tail of ${buf.length - scan.validBytes} bytes after ${records.length} valid records cut off (a crash mid-write)`);
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

  sync(): Promise<void> {
    if (this.pending.length > 0 && this.fd !== null) {
      const data = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending);
      this.pending = [];
      writeAll(this.fd, data);
      this.bytes += data.length;
      if (this.opts.fsync) fdatasyncSync(this.fd);
      this.syncs++;
    }
    return Promise.resolve();
  }

  /** Bytes in the file (valid records). */
  get size(): number {
    return this.bytes;
  }

  /** Replace the whole log by records describing the current state (taken between steps, so
   * anything appended but not yet synced is part of that state and is made durable here). */
  checkpoint(records: readonly StorageRecord[]): Promise<void> {
    this.pending = [];
    const tmp = `${this.path}.tmp`;
    const data = Buffer.concat(records.map(encodeRecord));
    const fd = openSync(tmp, "w");
    writeAll(fd, data);
    if (this.opts.fsync) fsyncSync(fd);
    closeSync(fd);
    if (this.fd !== null) closeSync(this.fd);
    renameSync(tmp, this.path);
    if (this.opts.fsync) {
      const dir = openSync(dirname(this.path), "r");
      fsyncSync(dir);
      closeSync(dir);
    }
    this.fd = openSync(this.path, "a");
    this.bytes = data.length;
    return Promise.resolve();
  }

  async close(): Promise<void> {
    await this.sync();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function writeAll(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
}
