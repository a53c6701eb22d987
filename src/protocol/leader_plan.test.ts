import { describe, expect, it } from "vitest";
import { mergeRuns, OfferBook, syncPlan } from "./leader_plan.js";

describe("leader plan", () => {
  it("sync: chosen below the highest floor; per open seq the value of the highest round", () => {
    const gather = (floor: number, runs: Array<[number, number, string[]]>) => ({
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
          [2, 5, ["C"]],
          [6, 1, ["g"]],
        ]),
      ],
      0,
    );
    expect(plan.chosenBelow).toBe(1);
    expect(plan.maxSeen).toBe(6);
    expect([...plan.best]).toEqual([
      [1, { round: 2, id: "b" }],
      [2, { round: 5, id: "C" }],
      [6, { round: 1, id: "g" }],
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
      [0, ["a", "b", "c"]],
      [5, ["f"]],
    ]);
    const big = mergeRuns([
      { seq: 0, ids: ids(4000, "x") },
      { seq: 4000, ids: ids(200, "y") },
    ]);
    expect(big.map(([seq, got]) => [seq, got.length])).toEqual([
      [0, 4000],
      [4000, 200],
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
