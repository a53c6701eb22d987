// The SnapshotStore on a real disk: one file per rank, <dir>/rank-<i>.snap, replaced whole by
// write-then-rename so that a crash leaves the old snapshot or the new one, never a mix. The new
// image goes to rank-<i>.snap.tmp, is fdatasynced, renamed over rank-<i>.snap, and the directory
// is fsynced (without that the rename itself may not survive a power cut). A .tmp found by load is
// a save that never resolved: nothing was promised about it, so it is removed unread.
//
// File format (big-endian, like the WAL): a 32-byte header, then the data.
//   0 magic "YSNP" | 4 u32 format version (1) | 8 u64 seq | 16 u64 data length
//   24 u32 crc32 of the data | 28 u32 crc32 of bytes 0-27
// The checksum is zlib's crc32, the WAL's. The header has a checksum of its own so that a damaged
// length is caught before it sizes an allocation or a read.
import { constants as bufferConstants } from "node:buffer";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import { crc32 } from "node:zlib";
import {
  DEFAULT_MAX_SNAPSHOT_BYTES,
  SnapshotTooLargeError,
  type SnapshotStore,
  type StoredSnapshot,
} from "../ports.js";

export const SNAPSHOT_MAGIC = "YSNP";
export const SNAPSHOT_VERSION = 1;
export const SNAPSHOT_HEADER_BYTES = 32;
/** Checksums and I/O go by pieces of this size: the event loop (the rank's processors) gets a turn
 * between two pieces, and no single read or write asks the kernel for a gigabyte. */
const CHUNK = 8 * 1024 * 1024;

/** The snapshot file cannot be trusted (torn, damaged, or not a snapshot this build reads). */
export class SnapshotCorruptError extends Error {
  override name = "SnapshotCorruptError";
}

export function snapshotPath(dir: string, rank: number): string {
  return join(dir, `rank-${rank}.snap`);
}

export interface SnapshotStoreOptions {
  /** fdatasync the file and fsync the directory. Default true; off only where durability does not
   * matter (tests of other things). */
  fsync?: boolean;
  /** Largest snapshot saved or loaded, in bytes. Default DEFAULT_MAX_SNAPSHOT_BYTES (1 GiB). */
  maxBytes?: number;
  /** Told once when load removes the .tmp of an interrupted save. */
  warn?: (line: string) => void;
}

export class FileSnapshotStore implements SnapshotStore {
  readonly maxBytes: number;
  private readonly tmp: string;
  /** The last save or load queued. They run one at a time, in call order: two saves share the
   * .tmp file, and a later save must not be overtaken by an earlier one. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly opts: SnapshotStoreOptions = {},
  ) {
    this.tmp = `${path}.tmp`;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES;
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes < 0) {
      throw new RangeError(`snapshot size limit must be a whole number of bytes: ${this.maxBytes}`);
    }
    // Loading allocates one Buffer of the snapshot's size; a limit above what a Buffer can hold
    // would turn a valid file into a RangeError at load.
    if (this.maxBytes > bufferConstants.MAX_LENGTH) {
      throw new RangeError(
        `snapshot size limit ${this.maxBytes} is above the largest Buffer (${bufferConstants.MAX_LENGTH} bytes)`,
      );
    }
  }

  save(snapshot: StoredSnapshot): Promise<void> {
    return this.queue(() => this.write(snapshot));
  }

  load(): Promise<StoredSnapshot | null> {
    return this.queue(() => this.read());
  }

  private queue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.tail.then(op);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async write({ seq, data }: StoredSnapshot): Promise<void> {
    if (!Number.isSafeInteger(seq) || seq < 0) {
      throw new RangeError(`snapshot seq must be a non-negative integer: ${seq}`);
    }
    if (data.length > this.maxBytes) {
      throw new SnapshotTooLargeError(
        `${this.path}: snapshot of ${data.length} bytes is over the limit of ${this.maxBytes} bytes: not saved`,
      );
    }
    const header = encodeHeader(seq, data.length, await checksum(data));
    try {
      const fh = await open(this.tmp, "w");
      try {
        await writeAll(fh, header);
        await writeAll(fh, data); // from the caller's bytes: no second copy of the snapshot
        if (this.opts.fsync ?? true) await fh.datasync();
      } finally {
        await fh.close();
      }
    } catch (e) {
      // The write's error is the one to report, not a failure to clean up after it.
      await removeIfThere(this.tmp).catch(() => false);
      throw e;
    }
    await rename(this.tmp, this.path);
    if (this.opts.fsync ?? true) await syncDir(dirname(this.path));
  }

  private async read(): Promise<StoredSnapshot | null> {
    if (await removeIfThere(this.tmp)) {
      this.opts.warn?.(`${this.tmp}: removed, a save that a crash interrupted`);
    }
    let fh: FileHandle;
    try {
      fh = await open(this.path, "r");
    } catch (e) {
      if (errorCode(e) === "ENOENT") return null;
      throw e;
    }
    try {
      return await this.readFrom(fh);
    } finally {
      await fh.close();
    }
  }

  private async readFrom(fh: FileHandle): Promise<StoredSnapshot> {
    const corrupt = (why: string) =>
      new SnapshotCorruptError(`${this.path}: corrupt snapshot: ${why}`);
    const size = (await fh.stat()).size;
    if (size < SNAPSHOT_HEADER_BYTES) {
      throw corrupt(`${size} bytes, shorter than its ${SNAPSHOT_HEADER_BYTES}-byte header`);
    }
    const header = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
    if ((await readAll(fh, header, 0)) === null) throw corrupt("the file shrank while read");
    const h = decodeHeader(header);
    if (typeof h === "string") throw corrupt(h);
    if (h.length > this.maxBytes) {
      throw new SnapshotTooLargeError(
        `${this.path}: snapshot of ${h.length} bytes is over the limit of ${this.maxBytes} bytes: not loaded`,
      );
    }
    const held = size - SNAPSHOT_HEADER_BYTES;
    if (held !== h.length) {
      throw corrupt(`its header gives ${h.length} bytes of data, the file holds ${held}`);
    }
    const data = Buffer.allocUnsafe(h.length);
    const crc = await readAll(fh, data, SNAPSHOT_HEADER_BYTES);
    if (crc === null) throw corrupt("the file shrank while read");
    if (crc !== h.crc) throw corrupt("its data fails its checksum");
    return { seq: h.seq, data };
  }
}

export function encodeHeader(seq: number, length: number, dataCrc: number): Buffer {
  const b = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
  b.write(SNAPSHOT_MAGIC, 0, "latin1");
  b.writeUInt32BE(SNAPSHOT_VERSION, 4);
  b.writeBigUInt64BE(BigInt(seq), 8);
  b.writeBigUInt64BE(BigInt(length), 16);
  b.writeUInt32BE(dataCrc, 24);
  b.writeUInt32BE(crc32(b.subarray(0, 28)), 28);
  return b;
}

/** The header's fields, or why it cannot be trusted. */
function decodeHeader(b: Buffer): { seq: number; length: number; crc: number } | string {
  if (b.toString("latin1", 0, 4) !== SNAPSHOT_MAGIC) return "not a yasp snapshot (bad magic)";
  // The version comes before the checksum: another version may lay out (and check) its header
  // differently.
  const version = b.readUInt32BE(4);
  if (version !== SNAPSHOT_VERSION) {
    return `format version ${version}, this build reads version ${SNAPSHOT_VERSION}`;
  }
  if (crc32(b.subarray(0, 28)) !== b.readUInt32BE(28)) return "its header fails its checksum";
  const seq = b.readBigUInt64BE(8);
  const length = b.readBigUInt64BE(16);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  if (seq > max || length > max) return "seq or length out of range";
  return { seq: Number(seq), length: Number(length), crc: b.readUInt32BE(24) };
}

/** crc32 of data, a piece at a time (the same value as one call over all of it). */
async function checksum(data: Uint8Array): Promise<number> {
  let crc = 0;
  for (let off = 0; off < data.length; off += CHUNK) {
    if (off > 0) await nextTurn();
    crc = crc32(data.subarray(off, off + CHUNK), crc);
  }
  return crc;
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) {
    const { bytesWritten } = await fh.write(bytes, off, Math.min(CHUNK, bytes.length - off));
    off += bytesWritten;
  }
}

/** Fill into from the file at position; returns the crc32 of what was read, or null if the file
 * ended first. */
async function readAll(fh: FileHandle, into: Buffer, position: number): Promise<number | null> {
  let crc = 0;
  for (let off = 0; off < into.length;) {
    const n = Math.min(CHUNK, into.length - off);
    const { bytesRead } = await fh.read(into, off, n, position + off);
    if (bytesRead === 0) return null;
    crc = crc32(into.subarray(off, off + bytesRead), crc);
    off += bytesRead;
  }
  return crc;
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Unlink path; false if it was not there. */
async function removeIfThere(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (e) {
    if (errorCode(e) === "ENOENT") return false;
    throw e;
  }
}

function errorCode(e: unknown): string | undefined {
  return e instanceof Error ? (e as NodeJS.ErrnoException).code : undefined;
}
