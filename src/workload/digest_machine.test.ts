import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { DIGEST_SNAPSHOT_BYTES, DigestMachine, DigestSnapshotError } from "./digest_machine.js";

const bytes = (...b: number[]) => Uint8Array.from(b);

function applied(pairs: [number, Uint8Array][]): DigestMachine {
  const m = new DigestMachine();
  for (const [seq, cmd] of pairs) m.apply(seq, cmd);
  return m;
}

describe("DigestMachine", () => {
  it("gives equal hashes for the same commands at the same seqs, and different ones otherwise", () => {
    const a = applied([
      [0, bytes(1)],
      [2, bytes(2, 3)],
    ]);
    const b = applied([
      [0, bytes(1)],
      [2, bytes(2, 3)],
    ]);
    expect(a.stateHash()).toBe(b.stateHash());
    expect(a.count).toBe(2);
    expect(a.lastSeq).toBe(2);
    const others = [
      [
        [0, bytes(2, 3)],
        [2, bytes(1)],
      ], // another order
      [
        [0, bytes(1)],
        [3, bytes(2, 3)],
      ], // another seq
      [
        [0, bytes(1, 2)],
        [2, bytes(3)],
      ], // the same bytes cut differently
      [[0, bytes(1)]], // fewer
    ] as [number, Uint8Array][][];
    for (const o of others) expect(applied(o).stateHash()).not.toBe(a.stateHash());
    expect(new DigestMachine().stateHash()).toBe("0".repeat(16));
  });

  it("refuses a seq applied twice or going back", () => {
    const m = applied([[5, bytes(1)]]);
    expect(() => m.apply(5, bytes(1))).toThrow(/seq 5 applied after seq 5/);
    expect(() => m.apply(4, bytes(1))).toThrow(/seq 4/);
  });

  it("restores a snapshot: the same hash, count and chain from there on", () => {
    const a = applied([
      [0, bytes(1)],
      [1, bytes(2)],
    ]);
    const snap = a.snapshot();
    expect(snap.length).toBe(DIGEST_SNAPSHOT_BYTES);
    const b = new DigestMachine();
    b.restore(snap, 3); // seqs 2 and 3 were no-ops
    expect(b.stateHash()).toBe(a.stateHash());
    expect(b.count).toBe(2);
    a.apply(4, bytes(9));
    b.apply(4, bytes(9));
    expect(b.stateHash()).toBe(a.stateHash());
    expect(b.snapshot()).toEqual(a.snapshot());
  });

  it("refuses what is not its own snapshot, a damaged one, or one ahead of the seq", () => {
    const m = applied([
      [0, bytes(1)],
      [7, bytes(2)],
    ]);
    const good = m.snapshot();
    const fresh = new DigestMachine();
    const damaged = good.slice();
    damaged[25] = (damaged[25] ?? 0) ^ 1;
    const wrongMagic = good.slice();
    wrongMagic[0] = 0;
    for (const [snap, seq, why] of [
      [good.subarray(1), 7, /bytes, expected/],
      [wrongMagic, 7, /not a digest snapshot/],
      [damaged, 7, /checksum/],
      [good, 6, /last command at seq 7, restored at seq 6/],
    ] as const) {
      expect(() => fresh.restore(snap, seq)).toThrow(DigestSnapshotError);
      expect(() => fresh.restore(snap, seq)).toThrow(why);
    }
    expect(fresh.count).toBe(0); // unchanged
  });

  it("refuses a well-formed snapshot whose count cannot be", () => {
    const m = applied([[0, bytes(1)]]);
    const snap = m.snapshot();
    const view = new DataView(snap.buffer);
    view.setBigUint64(12, 5n); // 5 commands by seq 0
    view.setUint32(28, crc32(snap.subarray(0, 28)));
    expect(() => new DigestMachine().restore(snap, 0)).toThrow(/5 commands applied by seq 0/);
  });
});
