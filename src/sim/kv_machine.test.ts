import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Prng } from "../faults/prng.js";
import {
  decodeKvCommand,
  encodeKvCommand,
  KV_KEYS,
  KV_MAX_RANDOM_VALUE,
  KvMachine,
  randomKvCommand,
  type KvCommand,
  type KvResult,
} from "./kv_machine.js";

const bytes = (...xs: number[]) => Uint8Array.from(xs);
const put = (key: string, ...value: number[]) =>
  encodeKvCommand({ op: "put", key, value: bytes(...value) });
const del = (key: string) => encodeKvCommand({ op: "delete", key });
const cas = (key: string, expectedVersion: number, ...value: number[]) =>
  encodeKvCommand({ op: "cas", key, expectedVersion, value: bytes(...value) });

/** Applies the commands at seqs from, from + 1, ... and returns the results. */
function run(m: KvMachine, commands: Uint8Array[], from = m.lastSeq + 1): KvResult[] {
  return commands.map((c, i) => m.apply(from + i, c));
}

function randomCommands(seed: number, n: number): Uint8Array[] {
  const rng = new Prng(seed);
  return Array.from({ length: n }, () => randomKvCommand(rng));
}

/** The snapshot with its checksum recomputed: lets a test reach the decoder's own checks. */
function resealed(snapshot: Uint8Array): Uint8Array {
  const out = snapshot.slice();
  const end = out.length - 32;
  out.set(createHash("sha256").update(out.subarray(0, end)).digest(), end);
  return out;
}

describe("kv commands", () => {
  it("round-trip through encode and decode", () => {
    const commands: KvCommand[] = [
      { op: "put", key: "k1", value: bytes(1, 2, 3) },
      { op: "put", key: "", value: bytes() },
      { op: "delete", key: "ключ" },
      { op: "cas", key: "k2", expectedVersion: 0, value: bytes(9) },
      { op: "cas", key: "k".repeat(255), expectedVersion: Number.MAX_SAFE_INTEGER, value: bytes() },
    ];
    for (const c of commands) expect(decodeKvCommand(encodeKvCommand(c))).toEqual(c);
  });

  it("encode refuses what it cannot represent", () => {
    expect(() => encodeKvCommand({ op: "delete", key: "k".repeat(256) })).toThrow(/255/);
    const c = { op: "cas", key: "a", value: bytes() } as const;
    expect(() => encodeKvCommand({ ...c, expectedVersion: -1 })).toThrow(/version/);
    expect(() => encodeKvCommand({ ...c, expectedVersion: 1.5 })).toThrow(/version/);
  });

  it("bad bytes are an error result from apply, never a throw, and change only the revision", () => {
    const m = new KvMachine();
    run(m, [put("a", 1)]);
    const hash = m.stateHash();
    const over = new Uint8Array(2 + 1 + 8);
    over.set([3, 1, 0x61, 0x00, 0x20]); // cas "a" expecting 2^53
    const bad = [
      bytes(),
      bytes(9),
      bytes(1),
      bytes(1, 3, 0x61),
      bytes(2, 1, 0x61, 0),
      bytes(3, 1, 0x61, 0, 0, 0),
      bytes(2, 1, 0xff),
      over,
    ];
    for (const c of bad) {
      expect(decodeKvCommand(c)).toEqual({
        error: expect.stringMatching(/^bad kv command/) as unknown,
      });
      expect(run(m, [c])).toEqual([
        { ok: false, version: 0, error: expect.any(String) as unknown },
      ]);
    }
    expect(m.revision).toBe(1 + bad.length);
    expect(m.read("a")).toEqual({ value: bytes(1), version: 1 });
    expect(m.stateHash()).not.toBe(hash); // the revision is part of the state
  });

  it("randomKvCommand is deterministic, never empty, valid, and uses every op and key", () => {
    const a = randomCommands(7, 2000);
    expect(randomCommands(7, 2000)).toEqual(a);
    expect(randomCommands(8, 2000)).not.toEqual(a);
    const ops = new Set<string>();
    const keys = new Set<string>();
    const lengths = new Set<number>();
    for (const c of a) {
      expect(c.length).toBeGreaterThan(0);
      const d = decodeKvCommand(c);
      if ("error" in d) throw new Error(d.error);
      ops.add(d.op);
      keys.add(d.key);
      if (d.op !== "delete") lengths.add(d.value.length);
    }
    expect([...ops].sort()).toEqual(["cas", "delete", "put"]);
    expect([...keys].sort()).toEqual([...KV_KEYS].sort());
    expect(Math.min(...lengths)).toBe(0);
    expect(Math.max(...lengths)).toBe(KV_MAX_RANDOM_VALUE);
  });
});

describe("KvMachine", () => {
  it("put, delete and cas answer ok and the key's version after the command", () => {
    const m = new KvMachine();
    expect(
      run(m, [put("a", 1), put("a", 2), cas("a", 1, 3), cas("a", 2, 4), del("a"), del("a")]),
    ).toEqual([
      { ok: true, version: 1 },
      { ok: true, version: 2 },
      { ok: false, version: 2 },
      { ok: true, version: 4 },
      { ok: true, version: 0 },
      { ok: false, version: 0 },
    ]);
    // Versions are revisions: a key created again never reuses an old version (no ABA).
    expect(run(m, [cas("a", 4, 5), cas("a", 0, 6), cas("a", 0, 7)])).toEqual([
      { ok: false, version: 0 },
      { ok: true, version: 8 },
      { ok: false, version: 8 },
    ]);
    expect(m.read("a")).toEqual({ value: bytes(6), version: 8 });
    expect(m.revision).toBe(9);
    expect(m.lastSeq).toBe(8);
  });

  it("keeps its own copy of a value", () => {
    const m = new KvMachine();
    const c = put("a", 1, 2);
    m.apply(0, c);
    c.fill(0);
    expect(m.read("a")?.value).toEqual(bytes(1, 2));
  });

  it("throws when a seq is applied twice or out of order, and changes nothing", () => {
    const m = new KvMachine();
    run(m, [put("a", 1)], 5);
    const hash = m.stateHash();
    expect(() => m.apply(5, put("a", 2))).toThrow(/seq 5 applied after seq 5/);
    expect(() => m.apply(3, put("a", 2))).toThrow(/applied twice or out of order/);
    expect(() => m.apply(Number.NaN, put("a", 2))).toThrow(/seq NaN/);
    expect(m.stateHash()).toBe(hash);
    expect(m.lastSeq).toBe(5);
    expect(m.apply(9, put("a", 2))).toEqual({ ok: true, version: 2 }); // a gap is fine (no-ops)
  });

  it("two machines fed the same 10,000 random commands agree on every result and the hash", () => {
    const commands = randomCommands(42, 10_000);
    const a = new KvMachine();
    const b = new KvMachine();
    const results = run(a, commands);
    expect(run(b, randomCommands(42, 10_000))).toEqual(results);
    expect(b.stateHash()).toBe(a.stateHash());
    expect(b.snapshot()).toEqual(a.snapshot());
    // The workload exercises both outcomes of every op.
    const outcomes = new Set<string>();
    for (const [i, r] of results.entries()) {
      const d = decodeKvCommand(commands[i] ?? bytes());
      if (!("error" in d)) outcomes.add(`${d.op} ${r.ok}`);
    }
    expect([...outcomes].sort()).toEqual([
      "cas false",
      "cas true",
      "delete false",
      "delete true",
      "put true",
    ]);
  });

  it("snapshot, restore into a fresh machine, the remaining commands: the same hash", () => {
    const commands = randomCommands(3, 10_000);
    const whole = new KvMachine();
    const wholeResults = run(whole, commands);
    const first = new KvMachine();
    run(first, commands.slice(0, 4321));
    const snapshot = first.snapshot();
    const restored = new KvMachine();
    restored.restore(snapshot, 4320);
    expect(restored.stateHash()).toBe(first.stateHash());
    expect(restored.snapshot()).toEqual(snapshot); // canonical: decode then encode is the identity
    expect(run(restored, commands.slice(4321))).toEqual(wholeResults.slice(4321));
    expect(restored.stateHash()).toBe(whole.stateHash());
    expect(restored.lastSeq).toBe(whole.lastSeq);
  });

  it("restore sets lastSeq to the seq given, which may be past the snapshot's (no-ops)", () => {
    const m = new KvMachine();
    run(m, [put("a", 1)], 3);
    const copy = new KvMachine();
    copy.restore(m.snapshot(), 10);
    expect(copy.lastSeq).toBe(10);
    expect(copy.stateHash()).toBe(m.stateHash());
    expect(() => copy.apply(10, put("b"))).toThrow(/out of order/);
    expect(() => new KvMachine().restore(m.snapshot(), 2)).toThrow(/taken at seq 3/);
    const empty = new KvMachine();
    empty.restore(new KvMachine().snapshot(), 0);
    expect(empty.stateHash()).toBe(new KvMachine().stateHash());
  });

  it("refuses a damaged or truncated snapshot and keeps its state", () => {
    const source = new KvMachine();
    run(source, [put("a", 1, 2), put("b"), cas("c", 0, 3)]);
    const snapshot = source.snapshot();
    const m = new KvMachine();
    run(m, [put("kept", 7)]);
    const hash = m.stateHash();
    for (let i = 0; i < snapshot.length; i++) {
      const flipped = snapshot.slice();
      flipped[i] = (flipped[i] ?? 0) ^ 0x10;
      expect(() => m.restore(flipped, 9), `byte ${i}`).toThrow(/kv snapshot refused/);
      expect(() => m.restore(snapshot.subarray(0, i), 9)).toThrow(/kv snapshot refused/);
    }
    expect(() => m.restore(Uint8Array.from([...snapshot, 0]), 9)).toThrow(/refused/);
    expect(m.stateHash()).toBe(hash);
    expect(m.lastSeq).toBe(0);
  });

  it("refuses a well-sealed snapshot that encodeState could not have written", () => {
    const m = new KvMachine();
    run(m, [put("a", 1), put("b", 2)]);
    const good = m.snapshot();
    // Layout: magic 4, seq 8, revision 8, count 4, then "a": len 1, key 1, version 8, len 4, value 1.
    const entryA = 4 + 8 + 8 + 4;
    const edit = (at: number, ...xs: number[]) => {
      const out = good.slice();
      out.set(xs, at);
      return resealed(out);
    };
    const cases: [string, Uint8Array, RegExp][] = [
      ["magic", edit(0, 0x58), /not a kv snapshot/],
      ["seq below -1", edit(4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe), /seq/],
      ["one entry too many", edit(4 + 8 + 8 + 3, 3), /truncated/],
      ["one entry too few", edit(4 + 8 + 8 + 3, 1), /left over/],
      ["keys out of order", edit(entryA + 1, 0x63), /order/],
      ["version 0", edit(entryA + 2 + 7, 0), /version 0/],
      ["version above revision", edit(entryA + 2 + 7, 3), /version 3/],
      ["value length past the end", edit(entryA + 2 + 8 + 3, 200), /truncated/],
      ["key not UTF-8", edit(entryA + 1, 0xff), /key is not UTF-8/],
    ];
    for (const [why, bad, message] of cases) {
      expect(() => new KvMachine().restore(bad, 5), why).toThrow(message);
    }
    expect(() => new KvMachine().restore(resealed(good), 5)).not.toThrow();
  });

  it("stateHash tells apart states that differ in a value, a version, a key or the revision", () => {
    const hashOf = (commands: Uint8Array[], from = 0) => {
      const m = new KvMachine();
      run(m, commands, from);
      return m.stateHash();
    };
    const base = hashOf([put("a", 1), put("b", 2)]);
    expect(hashOf([put("a", 1), put("b", 2)], 50)).toBe(base); // lastSeq is not state
    const others = [
      hashOf([put("a", 1), put("b", 3)]),
      hashOf([put("b", 2), put("a", 1)]),
      hashOf([put("a", 1), put("c", 2)]),
      hashOf([put("a", 1), put("b", 2), del("zz")]),
      hashOf([put("a", 1, 2), put("b")]),
      hashOf([put("ab"), put("b", 2)]),
    ];
    expect(new Set([base, ...others]).size).toBe(1 + others.length);
  });
});
