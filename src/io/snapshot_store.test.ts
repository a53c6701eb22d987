import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_MAX_SNAPSHOT_BYTES, SnapshotTooLargeError } from "../ports.js";
import {
  encodeHeader,
  FileSnapshotStore,
  SNAPSHOT_HEADER_BYTES,
  SnapshotCorruptError,
  snapshotPath,
} from "./snapshot_store.js";

const root = mkdtempSync(join(tmpdir(), "yasp-snap-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
/** A fresh data directory's snapshot path. */
function fresh(): string {
  const dir = join(root, `d${counter++}`);
  mkdirSync(dir);
  return snapshotPath(dir, 2);
}

/** Bytes that differ from place to place (a shifted or dropped piece would show). */
function pattern(n: number, salt = 0): Uint8Array {
  const out = new Uint8Array(n);
  let x = 0x9e3779b9 ^ salt;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

async function saved(path: string, seq: number, data: Uint8Array): Promise<FileSnapshotStore> {
  const store = new FileSnapshotStore(path);
  await store.save({ seq, data });
  return store;
}

/** load()'s rejection, which must be a SnapshotCorruptError with a one-line message. */
async function corruption(path: string): Promise<string> {
  const err: unknown = await new FileSnapshotStore(path).load().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SnapshotCorruptError);
  const msg = (err as Error).message;
  expect(msg).not.toContain("\n");
  expect(msg).toContain(path);
  return msg;
}

describe("FileSnapshotStore", () => {
  it("loads null from a fresh data directory", async () => {
    expect(await new FileSnapshotStore(fresh()).load()).toBeNull();
  });

  it.each([
    ["empty", 0, 0],
    ["small", 7, 100],
    ["multi-MB, across read/write pieces", 2 ** 40 + 3, 2 * 8 * 1024 * 1024 + 12345],
  ])(
    "round trip, %s data: seq and bytes intact, from a new store on the same file",
    async (_, seq, n) => {
      const path = fresh();
      const data = pattern(n, n);
      await saved(path, seq, data);
      const back = await new FileSnapshotStore(path).load();
      expect(back?.seq).toBe(seq);
      expect(back?.data.length).toBe(n);
      expect(Buffer.compare(Buffer.from(back?.data ?? []), data)).toBe(0);
      expect(existsSync(`${path}.tmp`)).toBe(false);
    },
  );

  it("writes the documented header: magic, version, seq, length, data crc, header crc", async () => {
    const path = fresh();
    const data = pattern(9 * 1024 * 1024); // checksummed in two pieces: must equal one crc32
    await saved(path, 42, data);
    const file = readFileSync(path);
    expect(file.length).toBe(SNAPSHOT_HEADER_BYTES + data.length);
    expect(file.toString("latin1", 0, 4)).toBe("YSNP");
    expect(file.readUInt32BE(4)).toBe(1);
    expect(file.readBigUInt64BE(8)).toBe(42n);
    expect(file.readBigUInt64BE(16)).toBe(BigInt(data.length));
    expect(file.readUInt32BE(24)).toBe(crc32(data));
    expect(file.readUInt32BE(28)).toBe(crc32(file.subarray(0, 28)));
  });

  it("a later save replaces the earlier one; saves not awaited still land in call order", async () => {
    const path = fresh();
    const store = await saved(path, 1, pattern(1000, 1));
    await store.save({ seq: 2, data: pattern(50, 2) });
    expect((await store.load())?.seq).toBe(2);
    const all = [3, 4, 5].map((seq) => store.save({ seq, data: pattern(3_000_000 / seq, seq) }));
    const load = store.load(); // queued behind the three saves
    await Promise.all(all);
    expect((await load)?.seq).toBe(5);
    const back = await new FileSnapshotStore(path).load();
    expect(back?.seq).toBe(5);
    expect(Buffer.compare(Buffer.from(back?.data ?? []), pattern(600_000, 5))).toBe(0);
  });

  it("a crash mid-write (a leftover .tmp, whole or torn) keeps the previous snapshot and removes the .tmp", async () => {
    const path = fresh();
    const old = pattern(5000, 1);
    await saved(path, 10, old);
    const next = pattern(5000, 2);
    const image = Buffer.concat([encodeHeader(11, next.length, crc32(next)), next]);
    for (const tmp of [image, image.subarray(0, 3000), Buffer.alloc(0)]) {
      writeFileSync(`${path}.tmp`, tmp);
      const warnings: string[] = [];
      const back = await new FileSnapshotStore(path, { warn: (l) => warnings.push(l) }).load();
      expect(back?.seq).toBe(10);
      expect(Buffer.compare(Buffer.from(back?.data ?? []), old)).toBe(0);
      expect(existsSync(`${path}.tmp`)).toBe(false);
      expect(warnings).toEqual([`${path}.tmp: removed, a save that a crash interrupted`]);
    }
  });

  it("a leftover .tmp with no snapshot beside it: null, and the .tmp is gone", async () => {
    const path = fresh();
    writeFileSync(`${path}.tmp`, "half a snapshot");
    expect(await new FileSnapshotStore(path).load()).toBeNull();
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });

  it("a truncated snapshot is reported as corrupt, not loaded", async () => {
    const path = fresh();
    const data = pattern(4096);
    await saved(path, 3, data);
    truncateSync(path, SNAPSHOT_HEADER_BYTES + data.length - 1);
    expect(await corruption(path)).toBe(
      `${path}: corrupt snapshot: its header gives 4096 bytes of data, the file holds 4095`,
    );
    truncateSync(path, 10);
    expect(await corruption(path)).toContain("10 bytes, shorter than its 32-byte header");
    truncateSync(path, 0);
    expect(await corruption(path)).toContain("0 bytes");
  });

  it.each([
    ["a data byte", SNAPSHOT_HEADER_BYTES + 1000, "its data fails its checksum"],
    ["the last data byte", SNAPSHOT_HEADER_BYTES + 4095, "its data fails its checksum"],
    ["the seq", 12, "its header fails its checksum"],
    ["the length", 20, "its header fails its checksum"],
    ["the data checksum", 25, "its header fails its checksum"],
    ["the magic", 0, "not a yasp snapshot (bad magic)"],
  ])("a flipped bit in %s is reported as corrupt", async (_, at, why) => {
    const path = fresh();
    await saved(path, 3, pattern(4096));
    const file = readFileSync(path);
    file[at] = (file[at] ?? 0) ^ 0x10;
    writeFileSync(path, file);
    expect(await corruption(path)).toBe(`${path}: corrupt snapshot: ${why}`);
  });

  it("bytes after the data, or a format version this build does not read, are reported", async () => {
    const path = fresh();
    await saved(path, 3, pattern(100));
    writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.from("x")]));
    expect(await corruption(path)).toContain(
      "its header gives 100 bytes of data, the file holds 101",
    );
    const header = encodeHeader(3, 0, 0);
    header.writeUInt32BE(2, 4);
    header.writeUInt32BE(crc32(header.subarray(0, 28)), 28);
    writeFileSync(path, header);
    expect(await corruption(path)).toContain("format version 2, this build reads version 1");
  });

  it("refuses a snapshot over the limit, keeps the previous one, and goes on saving", async () => {
    expect(new FileSnapshotStore(fresh()).maxBytes).toBe(DEFAULT_MAX_SNAPSHOT_BYTES);
    expect(DEFAULT_MAX_SNAPSHOT_BYTES).toBe(1024 * 1024 * 1024);
    const path = fresh();
    const store = new FileSnapshotStore(path, { maxBytes: 1000 });
    await store.save({ seq: 1, data: pattern(1000) });
    await expect(store.save({ seq: 2, data: pattern(1001) })).rejects.toThrow(
      SnapshotTooLargeError,
    );
    expect(existsSync(`${path}.tmp`)).toBe(false);
    expect((await store.load())?.seq).toBe(1);
    await store.save({ seq: 3, data: pattern(10) });
    expect((await store.load())?.seq).toBe(3);
  });

  it("refuses to load a snapshot over its limit (written under a larger one)", async () => {
    const path = fresh();
    await saved(path, 1, pattern(2000));
    const err: unknown = await new FileSnapshotStore(path, { maxBytes: 1999 })
      .load()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SnapshotTooLargeError);
    expect((err as Error).message).toBe(
      `${path}: snapshot of 2000 bytes is over the limit of 1999 bytes: not loaded`,
    );
  });

  it("refuses a bad seq or a bad limit", async () => {
    const store = new FileSnapshotStore(fresh());
    for (const seq of [-1, 1.5, NaN, 2 ** 53]) {
      await expect(store.save({ seq, data: new Uint8Array(1) })).rejects.toThrow(RangeError);
    }
    expect(await store.load()).toBeNull();
    for (const maxBytes of [-1, 0.5, 2 ** 53]) {
      expect(() => new FileSnapshotStore(fresh(), { maxBytes })).toThrow(RangeError);
    }
  });

  it("a save that fails on the disk rejects, leaves the previous snapshot, and the store goes on", async () => {
    const path = fresh();
    const store = await saved(path, 1, pattern(10));
    mkdirSync(`${path}.tmp`); // the .tmp cannot be opened for writing
    await expect(store.save({ seq: 2, data: pattern(10) })).rejects.toThrow(/EISDIR/);
    rmSync(`${path}.tmp`, { recursive: true });
    expect((await store.load())?.seq).toBe(1);
    await store.save({ seq: 3, data: pattern(10) });
    expect((await store.load())?.seq).toBe(3);
  });
});
