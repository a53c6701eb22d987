import { describe, expect, it } from "vitest";
import { checkLogSet } from "./check.js";
import { commitLatencies, summariseLatencies } from "./figures.js";
import { parseLogSet, type LogSet } from "./load.js";
import { formatReport } from "./report.js";

const T0 = 1_700_000_000_000_000; // microseconds since the epoch, like real logs

function logSet(ranks: readonly (readonly string[])[]): LogSet {
  return parseLogSet(
    ranks.map((lines, rank) => ({
      rank,
      file: `rank-${rank}.log`,
      content: Buffer.from(`${lines.join("\n")}\n`),
    })),
  );
}

const gen = (id: string, seq: number, ms: number): string =>
  `generate Instance[${id}] in seq ${seq} at ${T0 + ms * 1000}`;
const commit = (id: string, seq: number, ms: number): string =>
  `commit Instance[${id}] in seq ${seq} at ${T0 + ms * 1000}`;

// Everything is generated at T0. Latencies on the generating rank: a 1, b 2, c 3, d 4 ms.
// Rank 1 commits a at 0.5 ms, which must not count: a was generated on rank 0.
// Rank 1 never commits e, so e falls back to its earliest commit anywhere: 10 ms.
const TINY_RUN = [
  [
    gen("a", 0, 0),
    gen("b", 1, 0),
    gen("c", 2, 0),
    commit("a", 0, 1),
    commit("b", 1, 2),
    commit("c", 2, 3),
    commit("d", 3, 4.5),
    commit("e", 4, 10),
  ],
  [
    gen("d", 0, 0),
    gen("e", 1, 0),
    commit("a", 0, 0.5),
    commit("b", 1, 2.5),
    commit("c", 2, 3.5),
    commit("d", 3, 4),
  ],
];

describe("figures", () => {
  it("measures a tiny known run exactly", () => {
    const { figures } = checkLogSet(logSet(TINY_RUN));
    expect(figures.latency).toEqual({ count: 5, p50Ms: 3, p99Ms: 10, maxMs: 10 });
    expect(figures.committedSeqs).toBe(5);
    expect(figures.spanSeconds).toBeCloseTo(0.01, 12);
    expect(figures.commitsPerSecond).toBeCloseTo(500, 9);
    expect(figures.generatedInstances).toBe(5);
    expect(figures.committedInstances).toBe(5);
  });

  it("times each commit on the generating rank, else at its earliest commit", () => {
    const { logs, names } = logSet(TINY_RUN);
    const byInstance = Array.from(commitLatencies(logs, names)).map(
      (ms, id) => `${names.nameOf(id)}=${ms}`,
    );
    expect(byInstance).toEqual(["a=1", "b=2", "c=3", "d=4", "e=10"]);
  });

  it("prints the figures with the agreed precision", () => {
    const lines = formatReport(checkLogSet(logSet(TINY_RUN)), undefined)
      .trimEnd()
      .split("\n");
    expect(lines.slice(-3)).toEqual([
      "---------- figures -------------------",
      "commits/s: 500.0 (5 instances in 0.01 s)",
      "latency generate->commit: p50 3.00 ms, p99 10.00 ms, max 10.00 ms",
    ]);
  });

  it("says so when nothing was committed", () => {
    const result = checkLogSet(logSet([[gen("a", 0, 0)], ["nothing here"]]));
    expect(result.figures.latency).toBeUndefined();
    expect(result.figures.commitsPerSecond).toBeUndefined();
    const text = formatReport(result, undefined);
    expect(text).toContain("commits/s: nothing committed\n");
    expect(text).toContain("latency generate->commit: nothing committed\n");
  });

  it("leaves instances that were never generated out of the latency", () => {
    const { figures } = checkLogSet(
      logSet([[gen("a", 0, 0), commit("a", 0, 2), commit("ghost", 1, 50)]]),
    );
    expect(figures.latency).toEqual({ count: 1, p50Ms: 2, p99Ms: 2, maxMs: 2 });
    expect(figures.committedInstances).toBe(2);
  });
});

describe("summariseLatencies (nearest-rank percentiles)", () => {
  it.each([
    [[7], 7, 7, 7],
    [[5, 1, 4, 2, 3], 3, 5, 5],
    [[1, 2, 3, 4], 2, 4, 4],
    [Array.from({ length: 100 }, (_, i) => 100 - i), 50, 99, 100],
    [Array.from({ length: 1000 }, (_, i) => i + 1), 500, 990, 1000],
  ])("case %# -> p50 %d, p99 %d, max %d", (values, p50, p99, max) => {
    const expected = { count: values.length, p50Ms: p50, p99Ms: p99, maxMs: max };
    expect(summariseLatencies(Float64Array.from(values))).toEqual(expected);
  });

  it("is undefined for no latencies", () => {
    expect(summariseLatencies(new Float64Array(0))).toBeUndefined();
  });
});
