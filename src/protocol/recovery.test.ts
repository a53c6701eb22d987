import { describe, expect, it } from "vitest";
import type { StorageRecord } from "./effects.js";
import { recoverState } from "./recovery.js";

const b = (...xs: number[]) => new Uint8Array(xs);

describe("recoverState", () => {
  it("commits above the snapshot, the counter, pending and bound own instances", () => {
    const records: StorageRecord[] = [
      { r: "gen", next: 3 },
      { r: "propose", ids: ["1-3", "1-4", "1-5"], cmds: [b(1), b(2), b(3)] },
      { r: "bind", seq: 5, ids: ["1-3", "1-6"], cmds: [b(1), b()] },
      { r: "commit", seq: 4, ids: ["0-9", "1-3"], cmds: [b(), b(1)] },
      { r: "bind", seq: 7, ids: ["1-4"], cmds: [b(2)] },
      { r: "commit", seq: 6, ids: ["2-1"] },
    ];
    const r = recoverState(records, 1, 4);
    // seq 4 is under the snapshot; 5 and 6 follow it.
    expect(r.commits.map((v) => v.id)).toEqual(["1-3", "2-1"]);
    expect(r.generated).toBe(7);
    // 1-6 (a filler) was bound at 5, which committed with 1-3: it goes back to pending.
    expect(r.pending.map((v) => v.id)).toEqual(["1-5", "1-6"]);
    expect([...r.bindings].map(([s, v]) => [s, v.id, [...v.cmd]])).toEqual([[7, "1-4", [2]]]);
    expect(r.problems).toEqual([]);
  });

  it("an empty log starts from nothing; commits above a hole are left to fetch", () => {
    expect(recoverState([], 0, -1)).toEqual({
      snapshotSeq: -1,
      commits: [],
      generated: 0,
      pending: [],
      bindings: new Map(),
      unknown: [],
      problems: [],
    });
    const r = recoverState([{ r: "commit", seq: 2, ids: ["a"] }], 0, -1);
    expect(r.commits).toEqual([]);
    expect(r.problems).toHaveLength(1);
  });

  it("a binding under an installed snapshot is of unknown outcome, not proposed again", () => {
    // 1-2 was bound at 3, then a peer's snapshot up to 5 was installed over it (no commit record
    // for seq 3 here) and the rank crashed before its log was rewritten.
    const records: StorageRecord[] = [
      { r: "propose", ids: ["1-1", "1-2"], cmds: [b(1), b(2)] },
      { r: "bind", seq: 3, ids: ["1-2"], cmds: [b(2)] },
    ];
    const r = recoverState(records, 1, 5);
    expect(r.unknown).toEqual([{ id: "1-2", seq: 3 }]);
    expect(r.pending.map((v) => v.id)).toEqual(["1-1"]);
    expect(r.bindings.size).toBe(0);
  });

  it("an instance proposed again after its binding (another value won there) is pending", () => {
    const records: StorageRecord[] = [
      { r: "propose", ids: ["1-2"], cmds: [b(2)] },
      { r: "bind", seq: 3, ids: ["1-2"], cmds: [b(2)] },
      { r: "propose", ids: ["1-2"], cmds: [b(2)] },
    ];
    const r = recoverState(records, 1, 5);
    expect(r.unknown).toEqual([]);
    expect(r.pending.map((v) => v.id)).toEqual(["1-2"]);
  });
});
