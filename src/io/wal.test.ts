import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { StorageRecord } from "../protocol/effects.js";
import { encodeRecord, scanWal, WalCorruptError, WalStorage } from "./wal.js";

const dir = mkdtempSync(join(tmpdir(), "yasp-wal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const fresh = () => join(dir, `w${counter++}.wal`);

const RECS: StorageRecord[] = [
  { r: "promise", round: 3 },
  { r: "accept", round: 3, seq: 0, ids: ["0-0", "1-0"] },
  { r: "bind", seq: 2, ids: ["2-0"] },
  { r: "floor", seq: 1 },
];

async function write(path: string, recs: StorageRecord[]): Promise<WalStorage> {
  const w = new WalStorage(path, { fsync: true, warn: () => {} });
  await w.load();
  recs.forEach((r) => w.append(r));
  await w.sync();
  return w;
}

describe("WAL", () => {
  it("encodes and decodes every record kind", () => {
    const buf = Buffer.concat(RECS.map(encodeRecord));
    expect(scanWal(buf)).toEqual({ records: RECS, validBytes: buf.length });
  });

  it("group commit: syncs from several processors share fdatasyncs, and each waits for one that covers it", async () => {
    const path = fresh();
    const w = new WalStorage(path, { fsync: true, warn: () => {} });
    await w.load();
    const order: string[] = [];
    w.append(RECS[0] as StorageRecord);
    const first = w.sync().then(() => order.push("first"));
    w.append(RECS[1] as StorageRecord); // written while the first fdatasync runs: needs a second one
    const second = w.sync().then(() => order.push("second"));
    const third = w.sync().then(() => order.push("third")); // nothing new: covered by the second
    await Promise.all([first, second, third]);
    expect(order).toEqual(["first", "second", "third"]);
    expect(w.syncs).toBe(2);
    await w.close();
    expect(await new WalStorage(path, { fsync: true, warn: () => {} }).load()).toEqual(
      RECS.slice(0, 2),
    );
  });

  it("a checkpoint taken while an fdatasync runs keeps every record and resolves the waiters", async () => {
    const path = fresh();
    const w = new WalStorage(path, { fsync: true, warn: () => {} });
    await w.load();
    w.append(RECS[0] as StorageRecord);
    const synced = w.sync();
    await w.checkpoint(RECS);
    await synced;
    w.append({ r: "promise", round: 9 });
    await w.sync();
    await w.close();
    expect(await new WalStorage(path, { fsync: true, warn: () => {} }).load()).toEqual([
      ...RECS,
      { r: "promise", round: 9 },
    ]);
  });

  it("recovers what was synced, across a reopen, and appends after it", async () => {
    const path = fresh();
    await (await write(path, RECS)).close();
    const again = await write(path, [{ r: "promise", round: 4 }]);
    await again.close();
    const w = new WalStorage(path, { fsync: true, warn: () => {} });
    expect(await w.load()).toEqual([...RECS, { r: "promise", round: 4 }]);
    await w.close();
  });

  it("nothing appended is on disk before sync", async () => {
    const path = fresh();
    const w = new WalStorage(path, { fsync: false, warn: () => {} });
    await w.load();
    w.append(RECS[0] as StorageRecord);
    expect(statSync(path).size).toBe(0);
    await w.sync();
    expect(statSync(path).size).toBeGreaterThan(0);
    await w.close();
  });

  it("cuts a torn tail (a crash mid-write) with one warning and keeps every whole record", async () => {
    const path = fresh();
    await (await write(path, RECS)).close();
    const whole = statSync(path).size;
    appendFileSync(path, encodeRecord({ r: "promise", round: 9 }).subarray(0, 7)); // half a record
    const warnings: string[] = [];
    const w = new WalStorage(path, { fsync: true, warn: (l) => warnings.push(l) });
    expect(await w.load()).toEqual(RECS);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/torn tail of 7 bytes/);
    expect(statSync(path).size).toBe(whole);
    await w.close();
  });

  it("a last record with a bad checksum is a torn tail too", () => {
    const good = Buffer.concat(RECS.map(encodeRecord));
    const last = encodeRecord({ r: "floor", seq: 5 });
    last.writeUInt8(last.readUInt8(last.length - 1) ^ 0xff, last.length - 1);
    expect(scanWal(Buffer.concat([good, last]))).toEqual({
      records: RECS,
      validBytes: good.length,
    });
  });

  it("refuses a log corrupted in the middle (valid records after a bad one)", async () => {
    const path = fresh();
    const bufs = RECS.map(encodeRecord);
    const accept = bufs[1] as Buffer;
    accept.writeUInt8(accept.readUInt8(12) ^ 0x55, 12); // flip a byte inside the accept record's payload
    writeFileSync(path, Buffer.concat(bufs));
    const w = new WalStorage(path, { fsync: true, warn: () => {} });
    await expect(w.load()).rejects.toThrow(WalCorruptError);
    expect(readFileSync(path).length).toBe(Buffer.concat(bufs).length); // nothing cut, nothing lost
  });

  it("a checkpoint replaces the history by a snapshot; later appends follow it", async () => {
    const path = fresh();
    const w = await write(path, RECS);
    const before = w.size;
    await w.checkpoint([{ r: "promise", round: 3 }]);
    expect(w.size).toBeLessThan(before);
    w.append({ r: "floor", seq: 7 });
    await w.sync();
    await w.close();
    const r = new WalStorage(path, { fsync: true, warn: () => {} });
    expect(await r.load()).toEqual([
      { r: "promise", round: 3 },
      { r: "floor", seq: 7 },
    ]);
    await r.close();
  });
});
