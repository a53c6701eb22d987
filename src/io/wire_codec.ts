// The binary layout of peer messages (the body of a frame, codec.ts), written and read by hand:
// commands travel as bytes, and a frame costs no parse of text and no schema walk.
//
//   [u8 type][u8 sender][fields of the type, in the order below]
//
// Field kinds (binary.ts): nat = u64 (exact for every non-negative safe integer), ids = count,
// lengths, UTF-8 bytes; cmds = presence byte, then count and (u32 length, bytes) each.
//
//    1 read        round, base
//    2 gather      round, floor, backlog, u32 run count, runs: (seq, round, ids, cmds)
//    3 impose      round, seq, ids, cmds
//    4 ack         round, seq, count, backlog
//    5 nack        round
//    6 end         round, next
//    7 offer       round, state
//    8 want        round, seq, u32 max
//    9 grant       round, seq, state, ids, cmds
//   10 ping        round
//   11 commit      seq, ids, cmds
//   12 status      commitIndex, backlog, generated, u32 note
//   13 fetch       seq, u32 max
//   14 fetched     seq, ids, cmds
//   15 readIndex   nonce
//   16 readIndexOk nonce, upTo
//   17 snapFetch   seq, offset
//   18 snapChunk   seq, total, crc (a nat), offset, u32 length + data
//   19 lease       u32 priority, u8 kind, ballot, then by kind (lease_codec.ts)
//   ballot (lease): nat n, u8 r; owner: u8 rank, 255 for none
//   state (offer, grant): epoch, enq, deq, upTo (nat or -1, all 64 bits set)
//
// Decoding checks what the zod schemas of messages.ts check (they stay the reference, and the
// simulator and transcripts use them), plus cmdsMatchIds and the sender's place in the cluster.
// It never throws, and allocates nothing that the bytes of the body do not account for.
// Decoded commands and snapshot data are copies (binary.ts: Reader.cmds), not views of the body:
// the transport never reuses a buffer it decoded from, but a view of a command would keep the
// whole read chunk (and every other frame in it) alive for as long as the log holds the command.
import {
  LIMITS,
  SNAP_CHUNK_BYTES,
  type AcceptedRun,
  type OfferState,
  type WireMsg,
} from "../protocol/messages.js";
import { DecodeError, Reader, valuesBytes, Writer } from "./binary.js";
import { LEASE_BYTES, readLease, writeLease } from "./lease_codec.js";

/** The type byte of each message kind. */
export const TYPE_BYTES = {
  read: 1,
  gather: 2,
  impose: 3,
  ack: 4,
  nack: 5,
  end: 6,
  offer: 7,
  want: 8,
  grant: 9,
  ping: 10,
  commit: 11,
  status: 12,
  fetch: 13,
  fetched: 14,
  readIndex: 15,
  readIndexOk: 16,
  snapFetch: 17,
  snapChunk: 18,
  lease: 19,
} as const satisfies Record<WireMsg["t"], number>;

const HEAD = 2; // type, sender
const NAT = 8;
const STATE = 4 * NAT;

/** The body of msg. reserve: bytes left uninitialised in front of it, for the caller's header
 * (the body starts at offset reserve of the buffer returned). Never throws: a field the schemas
 * refuse is written so that decodeMsg refuses it (binary.ts). */
export function encodeMsg(msg: WireMsg, reserve = 0): Buffer {
  return (isValueMsg(msg) ? writeValueMsg(msg, reserve) : writeControlMsg(msg, reserve)).finish();
}

type ValueMsg = Extract<
  WireMsg,
  { t: "gather" | "impose" | "grant" | "commit" | "fetched" | "snapChunk" }
>;
type ControlMsg = Exclude<WireMsg, ValueMsg>;

function isValueMsg(msg: WireMsg): msg is ValueMsg {
  return (
    msg.t === "gather" ||
    msg.t === "impose" ||
    msg.t === "grant" ||
    msg.t === "commit" ||
    msg.t === "fetched" ||
    msg.t === "snapChunk"
  );
}

/** Messages that carry values (ids and commands) or snapshot bytes: sized by what they carry. */
function writeValueMsg(msg: ValueMsg, reserve: number): Writer {
  let w: Writer;
  switch (msg.t) {
    case "gather": {
      let size = 3 * NAT + 4;
      for (const r of msg.runs) size += 2 * NAT + valuesBytes(r[2], r[3]);
      w = start(msg, reserve, size);
      w.nat(msg.round);
      w.nat(msg.floor);
      w.nat(msg.backlog);
      w.u32(msg.runs.length);
      for (const r of msg.runs) {
        w.nat(r[0]);
        w.nat(r[1]);
        w.values(r[2], r[3]);
      }
      break;
    }
    case "impose":
      w = start(msg, reserve, 2 * NAT + valuesBytes(msg.ids, msg.cmds));
      w.nat(msg.round);
      w.nat(msg.seq);
      w.values(msg.ids, msg.cmds);
      break;
    case "grant":
      w = start(msg, reserve, 2 * NAT + STATE + valuesBytes(msg.ids, msg.cmds));
      w.nat(msg.round);
      w.nat(msg.seq);
      writeState(w, msg.state);
      w.values(msg.ids, msg.cmds);
      break;
    case "commit":
    case "fetched":
      w = start(msg, reserve, NAT + valuesBytes(msg.ids, msg.cmds));
      w.nat(msg.seq);
      w.values(msg.ids, msg.cmds);
      break;
    case "snapChunk":
      w = start(msg, reserve, 4 * NAT + 4 + msg.data.length);
      w.nat(msg.seq);
      w.nat(msg.total);
      w.nat(msg.crc <= 0xffffffff ? msg.crc : -1);
      w.nat(msg.offset);
      w.bytes(msg.data);
      break;
  }
  return w;
}

/** Messages of fixed size: rounds, seqs, counters. */
function writeControlMsg(msg: ControlMsg, reserve: number): Writer {
  let w: Writer;
  switch (msg.t) {
    case "read":
      w = start(msg, reserve, 2 * NAT);
      w.nat(msg.round);
      w.nat(msg.base);
      break;
    case "ack":
      w = start(msg, reserve, 4 * NAT);
      w.nat(msg.round);
      w.nat(msg.seq);
      w.nat(msg.count);
      w.nat(msg.backlog);
      break;
    case "nack":
    case "ping":
      w = start(msg, reserve, NAT);
      w.nat(msg.round);
      break;
    case "end":
      w = start(msg, reserve, 2 * NAT);
      w.nat(msg.round);
      w.nat(msg.next);
      break;
    case "offer":
      w = start(msg, reserve, NAT + STATE);
      w.nat(msg.round);
      writeState(w, msg.state);
      break;
    case "want":
      w = start(msg, reserve, 2 * NAT + 4);
      w.nat(msg.round);
      w.nat(msg.seq);
      w.u32In(msg.max, 1, LIMITS.maxIdsPerFrame, 0);
      break;
    case "status":
      w = start(msg, reserve, 3 * NAT + 4);
      w.nat(msg.commitIndex);
      w.nat(msg.backlog);
      w.nat(msg.generated);
      w.u32In(msg.note, 0, 0xffff, 0xffffffff);
      break;
    case "fetch":
      w = start(msg, reserve, NAT + 4);
      w.nat(msg.seq);
      w.u32In(msg.max, 1, LIMITS.maxIdsPerFrame, 0);
      break;
    case "readIndex":
      w = start(msg, reserve, NAT);
      w.nat(msg.nonce);
      break;
    case "readIndexOk":
      w = start(msg, reserve, 2 * NAT);
      w.nat(msg.nonce);
      w.nat(msg.upTo);
      break;
    case "snapFetch":
      w = start(msg, reserve, 2 * NAT);
      w.nat(msg.seq);
      w.nat(msg.offset);
      break;
    case "lease":
      w = start(msg, reserve, LEASE_BYTES);
      writeLease(w, msg);
      break;
  }
  return w;
}

function start(msg: WireMsg, reserve: number, fields: number): Writer {
  const w = new Writer(reserve + HEAD + fields, reserve);
  w.u8(TYPE_BYTES[msg.t]);
  // A sender outside 0..255 goes out as 255, which no cluster has (LIMITS.maxRanks).
  w.u8(Number.isInteger(msg.from) && msg.from >= 0 && msg.from <= 0xff ? msg.from : 0xff);
  return w;
}

function writeState(w: Writer, s: OfferState): void {
  w.nat(s.epoch);
  w.nat(s.enq);
  w.nat(s.deq);
  w.natOrMinus1(s.upTo);
}

export type DecodeResult =
  { ok: true; msg: WireMsg } | { ok: false; kind: "malformed" | "unknown"; detail: string };

const NAMES: ReadonlyArray<WireMsg["t"] | undefined> = (() => {
  const names: Array<WireMsg["t"] | undefined> = [];
  for (const [t, b] of Object.entries(TYPE_BYTES)) names[b] = t as WireMsg["t"];
  return names;
})();

/** The message in body, sent by a rank of a cluster of n, or why it is refused. Never throws. */
export function decodeMsg(body: Uint8Array, n: number): DecodeResult {
  if (body.length === 0) return { ok: false, kind: "malformed", detail: "empty frame" };
  const type = body[0] ?? 0;
  const t = NAMES[type];
  if (t === undefined) {
    const hint = type === 0x7b ? " (a JSON frame: an older yasp?)" : "";
    return { ok: false, kind: "unknown", detail: `unknown frame type ${type}${hint}` };
  }
  try {
    const r = new Reader(body);
    r.pos = 1;
    const from = r.u8("sender");
    if (from >= n || from >= LIMITS.maxRanks)
      return { ok: false, kind: "malformed", detail: `sender ${from} is not in the cluster` };
    const msg = decodeFields(t, from, r, n);
    r.done();
    return { ok: true, msg };
  } catch (e) {
    // DecodeError: the bytes are refused. Anything else would be a bug here; still not a throw.
    const why = e instanceof Error ? e.message : String(e);
    return { ok: false, kind: "malformed", detail: `bad ${t} frame: ${why}` };
  }
}

const MAX_IDS = LIMITS.maxIdsPerFrame;
const MAX_CMD = LIMITS.maxCommandBytes;
/** Bytes a gather run takes at least: seq, round, an empty id list, no cmds. */
const MIN_RUN_BYTES = 2 * NAT + 4 + 1;

function decodeFields(t: WireMsg["t"], from: number, r: Reader, n: number): WireMsg {
  switch (t) {
    case "read":
      return { t, from, round: r.nat("round"), base: r.nat("base") };
    case "gather":
      return readGather(from, r);
    case "impose": {
      const round = r.nat("round");
      const seq = r.nat("seq");
      return { t, from, round, seq, ...r.values(MAX_IDS, MAX_CMD) };
    }
    case "ack":
      return {
        t,
        from,
        round: r.nat("round"),
        seq: r.nat("seq"),
        count: r.nat("count"),
        backlog: r.nat("backlog"),
      };
    case "nack":
    case "ping":
      return { t, from, round: r.nat("round") };
    case "end":
      return { t, from, round: r.nat("round"), next: r.nat("next") };
    case "offer":
      return { t, from, round: r.nat("round"), state: readState(r) };
    case "want":
      return { t, from, round: r.nat("round"), seq: r.nat("seq"), max: r.u32In("max", 1, MAX_IDS) };
    case "grant": {
      const round = r.nat("round");
      const seq = r.nat("seq");
      const state = readState(r);
      return { t, from, round, seq, ...r.values(MAX_IDS, MAX_CMD), state };
    }
    case "commit":
    case "fetched": {
      const seq = r.nat("seq");
      return { t, from, seq, ...r.values(MAX_IDS, MAX_CMD) };
    }
    case "status":
      return {
        t,
        from,
        commitIndex: r.nat("commitIndex"),
        backlog: r.nat("backlog"),
        generated: r.nat("generated"),
        note: r.u32In("note", 0, 0xffff),
      };
    case "fetch":
      return { t, from, seq: r.nat("seq"), max: r.u32In("max", 1, MAX_IDS) };
    case "readIndex":
      return { t, from, nonce: r.nat("nonce") };
    case "readIndexOk":
      return { t, from, nonce: r.nat("nonce"), upTo: r.nat("upTo") };
    case "snapFetch":
      return { t, from, seq: r.nat("seq"), offset: r.nat("offset") };
    case "snapChunk":
      return readSnapChunk(from, r);
    case "lease":
      return readLease(r, from, n);
  }
}

function readGather(from: number, r: Reader): WireMsg {
  const round = r.nat("round");
  const floor = r.nat("floor");
  const backlog = r.nat("backlog");
  const count = r.u32("run count");
  if (count > MAX_IDS) throw new DecodeError(`${count} runs (limit ${MAX_IDS})`);
  if (count * MIN_RUN_BYTES > r.left)
    throw new DecodeError(`${count} runs cannot fit in ${r.left} bytes`);
  const runs: AcceptedRun[] = [];
  for (let i = 0; i < count; i++) {
    const seq = r.nat("run seq");
    const runRound = r.nat("run round");
    const ids = r.ids(MAX_IDS);
    const cmds = r.cmds(ids.length, MAX_CMD);
    runs.push(cmds ? [seq, runRound, ids, cmds] : [seq, runRound, ids]);
  }
  return { t: "gather", from, round, floor, runs, backlog };
}

function readSnapChunk(from: number, r: Reader): WireMsg {
  const seq = r.nat("seq");
  const total = r.nat("total");
  const crc = r.nat("crc");
  if (crc > 0xffffffff) throw new DecodeError(`crc ${crc} is not a u32`);
  const offset = r.nat("offset");
  return { t: "snapChunk", from, seq, total, crc, offset, data: r.bytes("data", SNAP_CHUNK_BYTES) };
}

function readState(r: Reader): OfferState {
  return {
    epoch: r.nat("epoch"),
    enq: r.nat("enq"),
    deq: r.nat("deq"),
    upTo: r.natOrMinus1("upTo"),
  };
}
