// The binary layouts of peer messages (wire_codec.ts) and log records (record_codec.ts): random
// contents of every kind round-trip exactly; invalid contents and mutated bytes are refused, never
// thrown on, and whatever decodes passes the zod schemas of messages.ts.
import { describe, expect, it } from "vitest";
import { Prng } from "../faults/prng.js";
import type { StorageRecord } from "../protocol/effects.js";
import {
  cmdsMatchIds,
  LIMITS,
  SNAP_CHUNK_BYTES,
  wireMsg,
  type AcceptedRun,
  type OfferState,
  type WireMsg,
} from "../protocol/messages.js";
import { LEASE_KIND_BYTES, MAX_LEASE_MS, type LeaseBody } from "../protocol/lease_messages.js";
import { decodeRecordBody, encodeRecordBody, RECORD_TYPES } from "./record_codec.js";
import { decodeMsg, encodeMsg, TYPE_BYTES } from "./wire_codec.js";

const N = 5;
const KINDS = Object.keys(TYPE_BYTES) as WireMsg["t"][];
const RECORD_KINDS = Object.keys(RECORD_TYPES) as StorageRecord["r"][];

function nat(rng: Prng): number {
  switch (rng.int(0, 4)) {
    case 0:
      return rng.int(0, 10);
    case 1:
      return rng.int(0, 0xffffffff);
    case 2:
      return rng.int(0, 0x1fffff) * 2 ** 32 + rng.int(0, 0xffffffff);
    case 3:
      return rng.pick([0, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]);
    default:
      return rng.int(0, 100_000);
  }
}

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).filter(
  (c) => c !== "]",
);
const WIDE = ["é", "字", "😀", "ß", "-", "[", "\u0000", "\t"];

function id(rng: Prng): string {
  switch (rng.int(0, 9)) {
    case 0: {
      const len = rng.chance(0.2) ? LIMITS.maxIdLength : rng.int(1, 40);
      return Array.from({ length: len }, () => rng.pick(PRINTABLE)).join("");
    }
    case 1: {
      let s = rng.pick(WIDE);
      for (let len = rng.int(0, 300); len > 0; len--) {
        const c = rng.pick(WIDE);
        if (s.length + c.length > LIMITS.maxIdLength) break;
        s += c;
      }
      return s;
    }
    default:
      return `${rng.int(0, 63)}-${rng.int(0, 10_000_000)}`;
  }
}

function ids(rng: Prng): string[] {
  const n = rng.chance(0.1) ? 0 : rng.chance(0.1) ? rng.int(100, 300) : rng.int(1, 8);
  return Array.from({ length: n }, () => id(rng));
}

function bytes(rng: Prng, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = rng.int(0, 255);
  return b;
}

function cmdList(rng: Prng, count: number): Uint8Array[] {
  return Array.from({ length: count }, () =>
    bytes(rng, rng.chance(0.3) ? 0 : rng.chance(0.05) ? rng.int(1000, 20_000) : rng.int(1, 64)),
  );
}

/** ids, and cmds for them in one case out of two (absent: the key is absent). */
function idsAndCmds(rng: Prng): { ids: string[]; cmds?: Uint8Array[] } {
  const list = ids(rng);
  return rng.chance(0.5) ? { ids: list } : { ids: list, cmds: cmdList(rng, list.length) };
}

function state(rng: Prng): OfferState {
  return { epoch: nat(rng), enq: nat(rng), deq: nat(rng), upTo: rng.chance(0.3) ? -1 : nat(rng) };
}

function run(rng: Prng): AcceptedRun {
  const list = ids(rng);
  return rng.chance(0.5)
    ? [nat(rng), nat(rng), list]
    : [nat(rng), nat(rng), list, cmdList(rng, list.length)];
}

function randomLease(rng: Prng, n: number): LeaseBody {
  const b = { n: nat(rng), r: rng.int(0, n - 1) };
  const owner = rng.chance(0.3) ? null : rng.int(0, n - 1);
  switch (rng.pick(Object.keys(LEASE_KIND_BYTES) as LeaseBody["k"][])) {
    case "prepare":
      return { k: "prepare", b };
    case "promise":
      return { k: "promise", b, owner };
    case "propose":
      return {
        k: "propose",
        b,
        ms: rng.chance(0.1) ? MAX_LEASE_MS : rng.int(1, 5000),
        term: nat(rng),
      };
    case "accepted":
      return { k: "accepted", b };
    case "reject":
      return { k: "reject", b, higher: { n: nat(rng), r: rng.int(0, n - 1) }, owner };
    case "release":
      return { k: "release", b };
  }
}

function randomMsg(rng: Prng, t: WireMsg["t"], n = N): WireMsg {
  const from = rng.int(0, n - 1);
  const max = () => rng.int(1, LIMITS.maxIdsPerFrame);
  switch (t) {
    case "read":
      return { t, from, round: nat(rng), base: nat(rng) };
    case "gather": {
      const runs = Array.from({ length: rng.int(0, 4) }, () => run(rng));
      return { t, from, round: nat(rng), floor: nat(rng), runs, backlog: nat(rng) };
    }
    case "impose":
      return { t, from, round: nat(rng), seq: nat(rng), ...idsAndCmds(rng) };
    case "ack":
      return { t, from, round: nat(rng), seq: nat(rng), count: nat(rng), backlog: nat(rng) };
    case "nack":
    case "ping":
      return { t, from, round: nat(rng) };
    case "end":
      return { t, from, round: nat(rng), next: nat(rng) };
    case "offer":
      return { t, from, round: nat(rng), state: state(rng) };
    case "want":
      return { t, from, round: nat(rng), seq: nat(rng), max: max() };
    case "grant":
      return { t, from, round: nat(rng), seq: nat(rng), ...idsAndCmds(rng), state: state(rng) };
    case "commit":
    case "fetched":
      return { t, from, seq: nat(rng), ...idsAndCmds(rng) };
    case "status":
      return {
        t,
        from,
        commitIndex: nat(rng),
        backlog: nat(rng),
        generated: nat(rng),
        note: rng.int(0, 0xffff),
      };
    case "fetch":
      return { t, from, seq: nat(rng), max: max() };
    case "readIndex":
      return { t, from, nonce: nat(rng) };
    case "readIndexOk":
      return { t, from, nonce: nat(rng), upTo: nat(rng) };
    case "snapFetch":
      return { t, from, seq: nat(rng), offset: nat(rng) };
    case "lease":
      return { t, from, p: rng.int(0, 0xffff), lease: randomLease(rng, n) };
    case "snapChunk": {
      const len = rng.chance(0.1) ? SNAP_CHUNK_BYTES : rng.int(0, 3000);
      const crc = rng.int(0, 0xffffffff);
      return {
        t,
        from,
        seq: nat(rng),
        total: nat(rng),
        crc,
        offset: nat(rng),
        data: bytes(rng, len),
      };
    }
  }
}

function randomRecord(rng: Prng, r: StorageRecord["r"]): StorageRecord {
  switch (r) {
    case "promise":
      return { r, round: nat(rng) };
    case "accept":
      return { r, round: nat(rng), seq: nat(rng), ...idsAndCmds(rng) };
    case "floor":
      return { r, seq: nat(rng) };
    case "propose":
      return { r, ...idsAndCmds(rng) };
    case "bind":
    case "commit":
      return { r, seq: nat(rng), ...idsAndCmds(rng) };
    case "gen":
      return { r, next: nat(rng) };
  }
}

/** x with every Uint8Array replaced by its bytes in hex (vitest compares typed arrays element by
 * element, far too slowly for commands of kilobytes); anything but a plain Uint8Array is marked. */
function bytesAsHex(x: unknown): unknown {
  if (x instanceof Uint8Array)
    return `${x.constructor === Uint8Array ? "u8" : "not a plain Uint8Array"}:${Buffer.from(x.buffer, x.byteOffset, x.length).toString("hex")}`;
  if (Array.isArray(x)) return x.map(bytesAsHex);
  if (typeof x === "object" && x !== null)
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, bytesAsHex(v)]));
  return x;
}

function decodeOk(body: Uint8Array, n = N): WireMsg {
  const d = decodeMsg(body, n);
  if (!d.ok) throw new Error(`refused: ${d.kind}: ${d.detail}`);
  return d.msg;
}

function refusal(msg: WireMsg, n = N): { kind: string; detail: string } {
  const d = decodeMsg(encodeMsg(msg), n);
  if (d.ok) throw new Error(`accepted ${JSON.stringify(d.msg)}`);
  return { kind: d.kind, detail: d.detail };
}

describe("wire codec", () => {
  it("round-trips every message kind with random contents", () => {
    const rng = new Prng(1);
    for (const t of KINDS) {
      for (let i = 0; i < 60; i++) {
        const msg = randomMsg(rng, t);
        expect(wireMsg.safeParse(msg).success).toBe(true); // the generator makes valid messages
        const body = encodeMsg(msg);
        expect(body[0]).toBe(TYPE_BYTES[t]);
        expect(bytesAsHex(decodeOk(body))).toStrictEqual(bytesAsHex(msg));
      }
    }
  });

  it("keeps the extremes exact: the largest safe integer, upTo -1, the last rank, empty lists", () => {
    const big = Number.MAX_SAFE_INTEGER;
    const msgs: WireMsg[] = [
      { t: "ack", from: 63, round: big, seq: big - 1, count: 2 ** 32, backlog: 2 ** 32 - 1 },
      { t: "offer", from: 0, round: 0, state: { epoch: big, enq: 0, deq: 1, upTo: -1 } },
      { t: "offer", from: 0, round: 0, state: { epoch: 0, enq: 0, deq: 0, upTo: big } },
      { t: "impose", from: 1, round: 1, seq: 0, ids: [], cmds: [] },
      { t: "gather", from: 2, round: 3, floor: 0, runs: [[0, 1, []]], backlog: 0 },
      { t: "commit", from: 0, seq: 0, ids: ["x".repeat(LIMITS.maxIdLength)] },
      { t: "status", from: 0, commitIndex: 0, backlog: 0, generated: 0, note: 0xffff },
      { t: "want", from: 0, round: 0, seq: 0, max: LIMITS.maxIdsPerFrame },
      {
        t: "snapChunk",
        from: 0,
        seq: 0,
        total: 0,
        crc: 0xffffffff,
        offset: 0,
        data: new Uint8Array(0),
      },
    ];
    for (const msg of msgs) expect(decodeOk(encodeMsg(msg), 64)).toStrictEqual(msg);
  });

  it("carries a command of the largest size, and refuses one byte more", () => {
    const cmd = new Uint8Array(LIMITS.maxCommandBytes).fill(7);
    const ok: WireMsg = { t: "commit", from: 0, seq: 1, ids: ["0-1"], cmds: [cmd] };
    const got = decodeOk(encodeMsg(ok));
    expect(got.t === "commit" && Buffer.from(got.cmds?.[0] ?? []).equals(cmd)).toBe(true);
    const over = new Uint8Array(LIMITS.maxCommandBytes + 1);
    const r = refusal({ t: "commit", from: 0, seq: 1, ids: ["0-1"], cmds: [over] });
    expect(r.kind).toBe("malformed");
    expect(r.detail).toMatch(/cmd 0 of 8388609 bytes/);
  });

  it("an unknown type byte is unknown; an empty frame or a sender outside the cluster is malformed", () => {
    const body = encodeMsg({ t: "ping", from: 1, round: 2 });
    for (const type of [0, 20, 0x7b, 255]) {
      body[0] = type;
      expect(decodeMsg(body, N)).toMatchObject({ ok: false, kind: "unknown" });
    }
    expect(decodeMsg(new Uint8Array(0), N)).toMatchObject({ ok: false, kind: "malformed" });
    const ping: WireMsg = { t: "ping", from: 3, round: 2 };
    expect(refusal(ping, 3)).toEqual({
      kind: "malformed",
      detail: "sender 3 is not in the cluster",
    });
    expect(decodeOk(encodeMsg(ping), 4)).toEqual(ping);
    expect(refusal({ t: "ping", from: 64, round: 2 }, 100).kind).toBe("malformed");
  });

  it("writes what the schemas refuse so that decoding refuses it, without throwing", () => {
    const ok = (msg: Partial<WireMsg>) => ({ t: "commit", from: 0, seq: 1, ids: ["a"], ...msg });
    const bad = [
      { t: "ping", from: 0, round: -1 },
      { t: "ping", from: 0, round: 1.5 },
      { t: "ping", from: 0, round: 2 ** 53 },
      { t: "ping", from: 0, round: NaN },
      { t: "ping", from: 300, round: 1 },
      { t: "ping", from: -1, round: 1 },
      { t: "want", from: 0, round: 0, seq: 0, max: 0 },
      { t: "fetch", from: 0, seq: 0, max: LIMITS.maxIdsPerFrame + 1 },
      { t: "status", from: 0, commitIndex: 0, backlog: 0, generated: 0, note: 0x10000 },
      { t: "offer", from: 0, round: 0, state: { epoch: 0, enq: 0, deq: 0, upTo: -2 } },
      { t: "readIndexOk", from: 0, nonce: 0, upTo: -1 },
      {
        t: "snapChunk",
        from: 0,
        seq: 0,
        total: 0,
        crc: 2 ** 32,
        offset: 0,
        data: new Uint8Array(),
      },
      {
        t: "snapChunk",
        from: 0,
        seq: 0,
        total: 0,
        crc: 0,
        offset: 0,
        data: new Uint8Array(SNAP_CHUNK_BYTES + 1),
      },
      ok({ ids: [""] }),
      ok({ ids: ["a]b"] }),
      ok({ ids: ["a\nb"] }),
      ok({ ids: ["é\rb"] }),
      ok({ ids: ["x".repeat(LIMITS.maxIdLength + 1)] }),
      ok({ ids: ["é".repeat(LIMITS.maxIdLength + 1)] }),
      ok({ ids: ["a", "b"], cmds: [new Uint8Array(1)] }),
      ok({ ids: Array.from({ length: LIMITS.maxIdsPerFrame + 1 }, () => "a") }),
      {
        t: "gather",
        from: 0,
        round: 0,
        floor: 0,
        runs: [[0, 0, ["a"], []]],
        backlog: 0,
      },
    ] as WireMsg[];
    for (const msg of bad) {
      const schemaOk = wireMsg.safeParse(msg).success && cmdsMatchIds(msg) && msg.from < N;
      expect(schemaOk, JSON.stringify(msg).slice(0, 100)).toBe(false);
      expect(refusal(msg).kind, JSON.stringify(msg).slice(0, 100)).toBe("malformed");
    }
  });

  it("refuses an id that is not well-formed UTF-16 rather than carry another one", () => {
    // The schema lets a lone surrogate through, but UTF-8 cannot carry it (it would arrive as
    // U+FFFD): such an id, which no rank makes, is refused instead.
    const msg: WireMsg = { t: "commit", from: 0, seq: 1, ids: ["a\ud800b", "\udc00"] };
    expect(wireMsg.safeParse(msg).success).toBe(true);
    expect(refusal(msg).kind).toBe("malformed");
    const paired: WireMsg = { t: "commit", from: 0, seq: 1, ids: ["a\ud83d\ude00b"] };
    expect(decodeOk(encodeMsg(paired))).toStrictEqual(paired);
  });

  it("survives mutated frames: never throws, and whatever it accepts is valid and canonical", () => {
    const rng = new Prng(7);
    const valid = KINDS.flatMap((t) =>
      Array.from({ length: 8 }, () => encodeMsg(randomMsg(rng, t))),
    );
    const counts = { accepted: 0, malformed: 0, unknown: 0 };
    const wrong: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const body = mutate(rng, rng.pick(valid));
      const d = decodeMsg(body, N);
      if (!d.ok) {
        counts[d.kind]++;
        continue;
      }
      counts.accepted++;
      if (!wireMsg.safeParse(d.msg).success)
        wrong.push(`fails the schema: ${body.toString("hex")}`);
      if (!cmdsMatchIds(d.msg)) wrong.push(`cmds do not match ids: ${body.toString("hex")}`);
      if (d.msg.from >= N) wrong.push(`sender outside the cluster: ${body.toString("hex")}`);
      // One encoding per message: what decodes is what encoding it again gives.
      if (!encodeMsg(d.msg).equals(body)) wrong.push(`not canonical: ${body.toString("hex")}`);
    }
    expect(wrong).toEqual([]);
    // The mutations reach every outcome.
    expect(counts.accepted).toBeGreaterThan(1000);
    expect(counts.malformed).toBeGreaterThan(1000);
    expect(counts.unknown).toBeGreaterThan(100);
  });

  it("refuses huge declared counts and lengths before allocating for them", () => {
    const huge = [0xffffffff, 0x7fffffff, LIMITS.maxIdsPerFrame, LIMITS.maxCommandBytes];
    const bodies: Buffer[] = [];
    for (const h of huge) {
      // commit: [type][from][seq u64][id count]...
      const idCount = Buffer.alloc(14);
      idCount[0] = TYPE_BYTES.commit;
      idCount.writeUInt32BE(h, 10);
      bodies.push(idCount);
      // commit with one id "a" and cmds: [..][count 1][len 1]["a"][flag 1][cmd count][cmd len]
      const cmd = Buffer.from([TYPE_BYTES.commit, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 97]);
      const withCount = Buffer.concat([cmd, Buffer.from([1]), u32(h)]);
      const withLen = Buffer.concat([cmd, Buffer.from([1]), u32(1), u32(h)]);
      bodies.push(withCount, withLen);
      // gather: [type][from][round][floor][backlog][run count]
      const runs = Buffer.concat([Buffer.from([TYPE_BYTES.gather, 0]), Buffer.alloc(24), u32(h)]);
      bodies.push(runs);
      const chunk = Buffer.concat([
        Buffer.from([TYPE_BYTES.snapChunk, 0]),
        Buffer.alloc(32),
        u32(h),
      ]);
      bodies.push(chunk);
    }
    const started = performance.now();
    for (const body of bodies)
      expect(decodeMsg(body, N)).toMatchObject({ ok: false, kind: "malformed" });
    expect(performance.now() - started).toBeLessThan(100);
  });
});

describe("record codec", () => {
  it("round-trips every record kind with random contents", () => {
    const rng = new Prng(3);
    for (const r of RECORD_KINDS) {
      for (let i = 0; i < 60; i++) {
        const rec = randomRecord(rng, r);
        expect(bytesAsHex(decodeRecordBody(encodeRecordBody(rec)))).toStrictEqual(bytesAsHex(rec));
      }
    }
  });

  it("has no count limit of its own, and commands may exceed the wire's limit", () => {
    const many = Array.from({ length: LIMITS.maxIdsPerFrame + 10 }, (_, i) => `1-${i}`);
    const rec: StorageRecord = { r: "commit", seq: 9, ids: many };
    expect(decodeRecordBody(encodeRecordBody(rec))).toStrictEqual(rec);
    const big = new Uint8Array(LIMITS.maxCommandBytes + 1).fill(3);
    const got = decodeRecordBody(encodeRecordBody({ r: "propose", ids: ["0-0"], cmds: [big] }));
    if (typeof got === "string" || got.r !== "propose") throw new Error(JSON.stringify(got));
    expect(got.ids).toEqual(["0-0"]);
    expect(Buffer.from(got.cmds?.[0] ?? []).equals(big)).toBe(true); // (toEqual: byte by byte, slow)
  });

  it("throws when asked to write a record it could not read back", () => {
    const bad = [
      { r: "promise", round: -1 },
      { r: "gen", next: 0.5 },
      { r: "bind", seq: 0, ids: ["a]"] },
      { r: "bind", seq: 0, ids: [""] },
      { r: "accept", round: 0, seq: 0, ids: ["a"], cmds: [] },
    ] as StorageRecord[];
    for (const rec of bad) expect(() => encodeRecordBody(rec), rec.r).toThrow(RangeError);
  });

  it("survives mutated records: never throws, and whatever it accepts is canonical", () => {
    const rng = new Prng(11);
    const valid = RECORD_KINDS.flatMap((r) =>
      Array.from({ length: 8 }, () => encodeRecordBody(randomRecord(rng, r))),
    ).filter((b) => b.length <= 4096);
    let accepted = 0;
    const wrong: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const body = mutate(rng, rng.pick(valid));
      const rec = decodeRecordBody(body);
      if (typeof rec === "string") continue;
      accepted++;
      if (!encodeRecordBody(rec).equals(body)) wrong.push(body.toString("hex"));
    }
    expect(wrong).toEqual([]);
    expect(accepted).toBeGreaterThan(1000);
  });
});

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

/** A copy of body with one random damage. */
function mutate(rng: Prng, body: Buffer): Buffer {
  const b = Buffer.from(body);
  const at = () => rng.int(0, Math.max(0, b.length - 1));
  switch (rng.int(0, 7)) {
    case 0: // a few bit flips
      for (let k = rng.int(1, 3); k > 0; k--) {
        const p = at();
        b[p] = (b[p] ?? 0) ^ (1 << rng.int(0, 7));
      }
      return b;
    case 1: // cut short
      return b.subarray(0, rng.int(0, b.length - 1));
    case 2: // a run of random bytes
      for (let k = rng.int(1, 8), p = at(); k > 0 && p < b.length; k--, p++) b[p] = rng.int(0, 255);
      return b;
    case 3: {
      // a huge (or off-by-one) count or length anywhere
      const p = rng.int(0, Math.max(0, b.length - 4));
      if (b.length >= 4)
        b.writeUInt32BE(rng.pick([0xffffffff, 0x7fffffff, 0x10000, 0x10001, b.length, 1]), p);
      return b;
    }
    case 4: // bytes after the end
      return Buffer.concat([b, Buffer.from(bytes(rng, rng.int(1, 8)))]);
    case 5: // another type
      b[0] = rng.int(0, 24);
      return b;
    case 6: // random bytes
      return Buffer.from(bytes(rng, rng.int(0, 64)));
    default: // the sender byte
      if (b.length > 1) b[1] = rng.int(0, 8);
      return b;
  }
}
