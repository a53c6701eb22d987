// The benchmark's headline and rows: only loads sustained in every run (and checked) count, every
// other load is named, cells come from one run, and the spread is shown.
import { describe, expect, it } from "vitest";
import type { RunFigures } from "./bench_measure.js";
import { medianRun, row, summaryLines, type Point } from "./bench_report.js";

function run(
  offered: number,
  sustained: boolean,
  p99Ms: number,
  backlogEnd = sustained ? 10 : 5000,
): RunFigures {
  return {
    offeredPerS: offered,
    committedPerS: offered,
    backlogStart: 10,
    backlogEnd,
    sustained,
    p50Ms: p99Ms / 4,
    p99Ms,
    maxMs: p99Ms * 2,
    lagP50Ms: 0.1,
    lagP99Ms: 0.5,
    fillers: 0,
  };
}

function point(offered: number, runs: RunFigures[], checked = true): Point {
  return {
    ranks: 5,
    ratePerRank: offered / 5,
    fsync: true,
    args: "",
    runs,
    cpuS: 1,
    rssMb: 100,
    checked,
  };
}

const steady = (offered: number, p99s: number[]) =>
  point(
    offered,
    p99s.map((p99) => run(offered, true, p99)),
  );
const LIMITS = { 5: { fsync: [190_000, 200_000, 230_000], nofsync: [300_000] } };

describe("benchmark summary", () => {
  it("names the highest load that every run sustained, and every load that was not", () => {
    const points = [
      point(5_000, [run(5_000, true, 20), run(5_000, false, 300), run(5_000, true, 25)]),
      steady(10_000, [20, 30, 25]),
      steady(20_000, [40, 60, 50]),
      point(40_000, [run(40_000, true, 90), run(40_000, false, 400), run(40_000, true, 95)]),
    ];
    const [line] = summaryLines(points, LIMITS);
    expect(line).toMatch(
      /^5 ranks: sustained 20000 commits\/s with fsync \(backlog did not grow in any run; p99 there 50\.0 \(40\.0-60\.0\) ms\)/,
    );
    expect(line).toMatch(
      /; not sustained above it: 40000\/s \(2\/3\); lower loads not sustained in every run: 5000\/s \(2\/3\);/,
    );
    expect(line).toMatch(/messaging limit 200000 \(190000-230000\)\/s, so 0\.10 of its median/);
    expect(line).toMatch(/at 10000\/s offered \(nearest half\) p99 25\.0 \(20\.0-30\.0\) ms/);
  });

  it("a load that failed the checker is named, above or below, and never the headline", () => {
    const points = [
      point(10_000, [run(10_000, true, 20)], false),
      steady(20_000, [40]),
      point(40_000, [run(40_000, true, 90)], false),
    ];
    const [line] = summaryLines(points, LIMITS);
    expect(line).toMatch(/^5 ranks: sustained 20000 commits\/s/);
    expect(line).toMatch(/not sustained above it: 40000\/s \(checker FAIL\)/);
    expect(line).toMatch(/lower loads not sustained in every run: 10000\/s \(checker FAIL\)/);
    expect(line).not.toMatch(/the highest load swept/);
  });

  it("says so when nothing was sustained, naming how each load fared", () => {
    const points = [
      point(10_000, [run(10_000, true, 20)], false),
      point(20_000, [run(20_000, false, 900)]),
    ];
    expect(summaryLines(points, LIMITS)).toEqual([
      "5 ranks: no swept load was sustained in every run with fsync (10000/s: checker FAIL, 20000/s: 0/1)",
    ]);
  });
});

describe("benchmark rows", () => {
  const cells = (p: Point) =>
    row(p, LIMITS)
      .split("|")
      .map((c) => c.trim());

  it("show committed/s and p99 as median (min-max), the other cells from the median-p99 run", () => {
    const runs = [
      run(40_000, true, 90, 100),
      run(40_000, true, 400, 300),
      run(40_000, true, 95, 200),
    ];
    const c = cells(point(40_000, runs));
    expect(medianRun(point(40_000, runs))).toBe(runs[2]);
    expect(c[4]).toBe("40000 (40000-40000)");
    expect(c[5]).toBe("10 → 200"); // both ends from the p99 = 95 run, not column medians
    expect(c[6]).toBe("3/3");
    expect([c[7], c[8], c[9]]).toEqual(["23.8", "95.0 (90.0-400.0)", "190.0"]);
    expect(c[13]).toBe("0.20"); // 40000 of the limit's median 200000
  });

  it("show no share of the limit for a load some run did not sustain", () => {
    const c = cells(
      point(40_000, [run(40_000, true, 90), run(40_000, false, 400), run(40_000, true, 95)]),
    );
    expect(c[6]).toBe("2/3");
    expect(c[13]).toBe("-");
  });
});
