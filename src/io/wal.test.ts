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
import { crc32 } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import type { StorageRecord } from "../protocol/effects.js";
import {
  encodeRecord,
  MAX_RECORD_BYTES,
  scanWal,
  WAL_HEADER,
  WalCorruptError,
  WalStorage,
} from "./wal.js";

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

/** Every record kind, with and without commands. */
const ALL: StorageRecord[] = [
  ...RECS,
  {
    r: "accept",
    round: 4,
    seq: 2,
    ids: ["2-0", "0-1"],
    cmds: [Buffer.from("set x 1"), new Uint8Array()],
  },
  { r: "propose", ids: ["1-7"] },
  { r: "propose", ids: ["1-8", "1-9"], cmds: [new Uint8Array([1, 2, 3]), new Uint8Array([4])] },
  { r: "bind", seq: 9, ids: ["1-8"], cmds: [new Uint8Array([1, 2, 3])] },
  { r: "commit", seq: 0, ids: ["0-0", "1-0"] },
  { r: "commit", seq: 2, ids: ["2-0"], cmds: [new Uint8Array(300).fill(9)] },
  { r: "gen", next: 2 ** 40 },
];

/** A log file's bytes: the header, then records. */
const image = (recs: StorageRecord[]) => Buffer.concat([WAL_HEADER, ...recs.map(encodeRecord)]);

async function write(path: string, recs: StorageRecord[]): Promise<WalStorage> {
  const w = new WalStorage(path, { fsync: true, warn: () => {} });
  await w.load();
  recs.forEach((r) => w.append(r));
  await w.sync();
  return w;
}

describe("WAL", () => {
  it("encodes and decodes every record kind", () => {
    const buf = image(ALL);
    const scan = scanWal(buf);
    expect(scan.validBytes).toBe(buf.length);
    expect(scan.records.map(plain)).toEqual(ALL.map(plain));
  });

  it("writes a header first and reads back records with commands across a reopen", async () => {
    const path = fresh();
    await (await write(path, ALL)).close();
    expect(readFileSync(path).subarray(0, 8)).toEqual(WAL_HEADER);
    const w = new WalStorage(path, { fsync: true, warn: () => {} });
    expect((await w.load()).map(plain)).toEqual(ALL.map(plain));
    await w.checkpoint(ALL.slice(4));
    await w.close();
    expect(readFileSync(path).subarray(0, 8)).toEqual(WAL_HEADER);
    const r = new WalStorage(path, { fsync: true, warn: () => {} });
    expect((await r.load()).map(plain)).toEqual(ALL.slice(4).map(plain));
    await r.close();
  });

  it("admits records far larger than a frame (large commands, long checkpoint runs)", () => {
    expect(MAX_RECORD_BYTES).toBeGreaterThanOrEqual(256 * 1024 * 1024);
    const big = new Uint8Array(80 * 1024 * 1024).fill(5); // over the old 64 MiB record limit
    const buf = image([
      { r: "propose", ids: ["0-1"], cmds: [big] },
      { r: "gen", next: 2 },
    ]);
    const scan = scanWal(buf);
    expect(scan.validBytes).toBe(buf.length);
    const [rec, gen] = scan.records;
    expect(rec?.r === "propose" && Buffer.from(rec.cmds?.[0] ?? []).equals(big)).toBe(true);
    expect(gen).toEqual({ r: "gen", next: 2 });
  });

  it("refuses to write a record it could not read back", () => {
    expect(() => encodeRecord({ r: "bind", seq: -1, ids: ["a"] })).toThrow(RangeError);
    expect(() => encodeRecord({ r: "bind", seq: 1, ids: ["a\nb"] })).toThrow(RangeError);
  });

  it("refuses a file of another format, naming it, and cuts a torn header", async () => {
    const json = Buffer.from('{"r":"promise","round":3}');
    const old = Buffer.alloc(8);
    old.writeUInt32BE(json.length, 0);
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.concat([old, json]), /JSON records of an older yasp/],
      [Buffer.from("hello, this is not a log"), /not a yasp log/],
      [Buffer.from([0, 1]), /not a yasp log/],
      [Buffer.concat([Buffer.from("YWAL"), Buffer.from([0, 0, 0, 9])]), /format version 9/],
    ];
    for (const [bytes, why] of cases) {
      expect(() => scanWal(bytes)).toThrow(why);
      const path = fresh();
      writeFileSync(path, bytes);
      const w = new WalStorage(path, { fsync: true, warn: () => {} });
      await expect(w.load()).rejects.toThrow(WalCorruptError);
      expect(readFileSync(path)).toEqual(bytes); // nothing cut
    }
    // A crash while the first records were written can leave part of the header only.
    const path = fresh();
    writeFileSync(path, WAL_HEADER.subarray(0, 5));
    const warnings: string[] = [];
    const w = new WalStorage(path, { fsync: true, warn: (l) => warnings.push(l) });
    expect(await w.load()).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/torn tail of 5 bytes/)]);
    w.append({ r: "promise", round: 1 });
    await w.close();
    expect(await new WalStorage(path, { fsync: true, warn: () => {} }).load()).toEqual([
      { r: "promise", round: 1 },
    ]);
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

  it("flush hands what was appended to the file without a sync, and a reopen reads it", async () => {
    const path = fresh();
    const w = new WalStorage(path, { fsync: true, warn: () => {} });
    await w.load();
    w.append({ r: "commit", seq: 0, ids: ["0-0"], cmds: [new Uint8Array([1, 2])] });
    w.flush();
    const syncsBefore = w.syncs;
    const size = statSync(path).size;
    expect(size).toBeGreaterThan(WAL_HEADER.length);
    // What a process crash leaves (the file as it is now) holds the record.
    const copy = `${path}.copy`;
    writeFileSync(copy, readFileSync(path));
    const reread = new WalStorage(copy, { fsync: false, warn: () => {} });
    const recs = await reread.load();
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ r: "commit", seq: 0, ids: ["0-0"] });
    await reread.close();
    w.flush(); // nothing new: nothing written
    expect(statSync(path).size).toBe(size);
    expect(w.syncs).toBe(syncsBefore);
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
    const good = image(RECS);
    const last = encodeRecord({ r: "floor", seq: 5 });
    last.writeUInt8(last.readUInt8(last.length - 1) ^ 0xff, last.length - 1);
    expect(scanWal(Buffer.concat([good, last]))).toEqual({
      records: RECS,
      validBytes: good.length,
    });
  });

  it("refuses a log corrupted in the middle (valid records after a bad one)", async () => {
    const path = fresh();
    const bufs = [WAL_HEADER, ...RECS.map(encodeRecord)];
    const accept = bufs[2] as Buffer;
    accept.writeUInt8(accept.readUInt8(12) ^ 0x55, 12); // flip a byte inside the accept record's payload
    writeFileSync(path, Buffer.concat(bufs));
    const w = new WalStorage(path, { fsync: true, warn: () => {} });
    await expect(w.load()).rejects.toThrow(/fails its checksum and valid records follow it/);
    await expect(w.load()).rejects.toThrow(WalCorruptError);
    expect(readFileSync(path).length).toBe(Buffer.concat(bufs).length); // nothing cut, nothing lost
  });

  it("refuses a log with a record in the middle that passes its checksum but does not decode", () => {
    const body = Buffer.from([99, 1, 2]); // no record type 99
    const odd = Buffer.alloc(8 + body.length);
    odd.writeUInt32BE(body.length, 0);
    odd.writeUInt32BE(crc32(body), 4);
    body.copy(odd, 8);
    const good = image(RECS);
    expect(() => scanWal(Buffer.concat([good, odd, encodeRecord({ r: "floor", seq: 5 })]))).toThrow(
      /passes its checksum but is refused \(unknown record type 99\) and valid records follow it/,
    );
    // The same record last: a torn tail.
    expect(scanWal(Buffer.concat([good, odd])).validBytes).toBe(good.length);
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

/** A record with its commands as plain byte arrays (Buffer and Uint8Array compare unequal). */
function plain(rec: StorageRecord): unknown {
  return "cmds" in rec && rec.cmds ? { ...rec, cmds: rec.cmds.map((c) => [...c]) } : rec;
}
