import { describe, expect, it } from "vitest";
import { cutRuns, mergeRuns, OfferBook, syncPlan } from "./leader_plan.js";

describe("leader plan", () => {
  it("sync: chosen below the highest floor; per open seq the value of the highest round", () => {
    const cmd = new Uint8Array([1, 2, 3]);
    const gather = (
      floor: number,
      runs: Array<[number, number, string[]] | [number, number, string[], Uint8Array[]]>,
    ) => ({
      t: "gather" as const,
      from: 0,
      round: 9,
      floor,
      runs,
      backlog: 0,
    });
    const plan = syncPlan(
      [
        gather(1, [[0, 2, ["a", "b", "c"]]]),
        gather(0, [
          [2, 5, ["C"], [cmd]],
          [6, 1, ["g"]],
        ]),
      ],
      0,
    );
    expect(plan.chosenBelow).toBe(1);
    expect(plan.maxSeen).toBe(6);
    expect([...plan.best]).toEqual([
      [1, { round: 2, id: "b", cmd: new Uint8Array(0) }],
      [2, { round: 5, id: "C", cmd }],
      [6, { round: 1, id: "g", cmd: new Uint8Array(0) }],
    ]);
    expect(syncPlan([], 4)).toEqual({ chosenBelow: 4, maxSeen: 3, best: new Map() });
  });

  it("merges adjacent batches in seq order, never past 4096 ids in one frame", () => {
    const ids = (n: number, p: string) => Array.from({ length: n }, (_, i) => `${p}${i}`);
    const runs = mergeRuns([
      { seq: 5, ids: ["f"] },
      { seq: 0, ids: ["a", "b"] },
      { seq: 2, ids: ["c"] },
    ]);
    expect(runs).toEqual([
      { seq: 0, ids: ["a", "b", "c"] },
      { seq: 5, ids: ["f"] },
    ]);
    const big = mergeRuns([
      { seq: 0, ids: ids(4000, "x") },
      { seq: 4000, ids: ids(200, "y") },
    ]);
    expect(big.map(({ seq, ids: got }) => [seq, got.length])).toEqual([
      [0, 4000],
      [4000, 200],
    ]);
  });

  it("merging keeps commands with their ids and stops at a megabyte of commands", () => {
    const mb = new Uint8Array(700 * 1024);
    const runs = mergeRuns([
      { seq: 0, ids: ["a"] },
      { seq: 1, ids: ["b"], cmds: [mb] },
      { seq: 2, ids: ["c"], cmds: [mb] },
    ]);
    expect(runs.map((r) => [r.seq, r.ids, r.cmds?.map((c) => c.length)])).toEqual([
      [0, ["a", "b"], [0, mb.length]],
      [2, ["c"], [mb.length]],
    ]);
    const cut = cutRuns(
      10,
      [
        { id: "x", cmd: mb },
        { id: "y", cmd: mb },
        { id: "z", cmd: new Uint8Array(0) },
      ],
      256,
    );
    expect(cut.map((r) => [r.seq, r.ids])).toEqual([
      [10, ["x"]],
      [11, ["y", "z"]],
    ]);
    expect(cutRuns(0, [{ id: "f", cmd: new Uint8Array(0) }], 256)).toEqual([
      { seq: 0, ids: ["f"] },
    ]);
  });

  it("offer book: a stale state is ignored, a new life (epoch) replaces the old one", () => {
    const book = new OfferBook();
    book.learn(1, { epoch: 7, enq: 10, deq: 4, upTo: -1 });
    book.learn(1, { epoch: 7, enq: 9, deq: 4, upTo: -1 }); // sent earlier, arrived later
    expect(book.allotment(1, 0)).toBe(6);
    book.learn(1, { epoch: 8, enq: 2, deq: 0, upTo: -1 }); // restarted: counters begin again
    expect(book.allotment(1, 0)).toBe(2);
    book.learn(2, { epoch: 1, enq: 3, deq: 3, upTo: 12 });
    expect(book.allotment(2, 10)).toBe(3); // enough to reach its bound seq 12
    expect(book.allotment(3, 0)).toBe(0);
  });
});
