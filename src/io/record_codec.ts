// The binary layout of write-ahead log records (wal.ts frames them: [u32 length][u32 crc32][body]).
//
//   [u8 type][fields]          field kinds as on the wire (binary.ts)
//   1 promise   round
//   2 accept    round, seq, ids, cmds
//   3 floor     seq
//   4 propose   ids, cmds
//   5 bind      seq, ids, cmds
//   6 commit    seq, ids, cmds
//   7 gen       next
//
// Unlike a frame, a record has no limit on its number of ids (a checkpoint may describe a long run
// in one record) or on a command's size (the record's length bounds both). Ids follow the wire's
// rule. Decoded commands are copies, not views of the file image (which would stay in memory for
// as long as any command read from it).
import type { StorageRecord } from "../protocol/effects.js";
import { Reader, valuesBytes, Writer } from "./binary.js";

export const RECORD_TYPES = {
  promise: 1,
  accept: 2,
  floor: 3,
  propose: 4,
  bind: 5,
  commit: 6,
  gen: 7,
} as const satisfies Record<StorageRecord["r"], number>;

const NAT = 8;

/** The body of rec, after `reserve` bytes left for the caller's header. Throws a RangeError on a
 * record that decodeRecordBody would refuse (binary.ts: a strict writer): recovery must never
 * find out first. */
export function encodeRecordBody(rec: StorageRecord, reserve = 0): Buffer {
  let w: Writer;
  switch (rec.r) {
    case "promise":
      w = start(rec, reserve, NAT);
      w.nat(rec.round);
      break;
    case "accept":
      w = start(rec, reserve, 2 * NAT + valuesBytes(rec.ids, rec.cmds));
      w.nat(rec.round);
      w.nat(rec.seq);
      w.values(rec.ids, rec.cmds);
      break;
    case "floor":
      w = start(rec, reserve, NAT);
      w.nat(rec.seq);
      break;
    case "propose":
      w = start(rec, reserve, valuesBytes(rec.ids, rec.cmds));
      w.values(rec.ids, rec.cmds);
      break;
    case "bind":
    case "commit":
      w = start(rec, reserve, NAT + valuesBytes(rec.ids, rec.cmds));
      w.nat(rec.seq);
      w.values(rec.ids, rec.cmds);
      break;
    case "gen":
      w = start(rec, reserve, NAT);
      w.nat(rec.next);
      break;
  }
  return w.finish();
}

function start(rec: StorageRecord, reserve: number, fields: number): Writer {
  const w = new Writer(reserve + 1 + fields, reserve, true);
  w.u8(RECORD_TYPES[rec.r]);
  return w;
}

const NAMES: ReadonlyArray<StorageRecord["r"] | undefined> = (() => {
  const names: Array<StorageRecord["r"] | undefined> = [];
  for (const [r, b] of Object.entries(RECORD_TYPES)) names[b] = r as StorageRecord["r"];
  return names;
})();

/** The record in body, or why it is refused. Never throws. */
export function decodeRecordBody(body: Uint8Array): StorageRecord | string {
  const type = body[0] ?? 0;
  const r = NAMES[type];
  if (r === undefined) return `unknown record type ${type}`;
  try {
    const reader = new Reader(body);
    reader.pos = 1;
    const rec = decodeFields(r, reader);
    reader.done();
    return rec;
  } catch (e) {
    return `bad ${r} record: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** The record's length bounds both. */
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

function decodeFields(r: StorageRecord["r"], reader: Reader): StorageRecord {
  switch (r) {
    case "promise":
      return { r, round: reader.nat("round") };
    case "accept": {
      const round = reader.nat("round");
      const seq = reader.nat("seq");
      return { r, round, seq, ...reader.values(NO_LIMIT, NO_LIMIT) };
    }
    case "floor":
      return { r, seq: reader.nat("seq") };
    case "propose": {
      return { r, ...reader.values(NO_LIMIT, NO_LIMIT) };
    }
    case "bind":
    case "commit": {
      const seq = reader.nat("seq");
      return { r, seq, ...reader.values(NO_LIMIT, NO_LIMIT) };
    }
    case "gen":
      return { r, next: reader.nat("next") };
  }
}
