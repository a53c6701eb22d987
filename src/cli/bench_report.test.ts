// The benchmark's headline: only loads sustained in every run count, and the spread is shown.
import { describe, expect, it } from "vitest";
import type { RunFigures } from "./bench_measure.js";
import { row, summaryLines, type Point } from "./bench_report.js";

function run(offered: number, committed: number, sustained: boolean, p99Ms: number): RunFigures {
  return { offeredPerS: offered, committedPerS: committed, backlogStart: 10, backlogEnd: sustained ? 10 : 5000, sustained, p50Ms: 1, p99Ms, maxMs: p99Ms * 2, lagP50Ms: 0.1, lagP99Ms: 0.5, fillers: 0 };
}

function point(offered: number, runs: RunFigures[], checked = true): Point {
  return { ranks: 5, ratePerRank: offered / 5, fsync: true, args: "", runs, cpuS: 1, rssMb: 100, checked };
}

const LIMITS = { 5: { fsync: 200_000, nofsync: 300_000 } };

describe("benchmark summary", () => {
  it("names the highest load that every run sustained, not one that a single run did", () => {
    const points = [
      point(5_000, [run(5_000, 5_000, true, 20), run(5_000, 5_000, false, 300), run(5_000, 5_000, true, 25)]),
      point(10_000, [run(10_000, 10_000, true, 20), run(10_000, 10_000, true, 30), run(10_000, 10_000, true, 25)]),
      point(20_000, [run(20_000, 20_000, true, 40), run(20_000, 20_000, true, 60), run(20_000, 20_000, true, 50)]),
      point(40_000, [run(40_000, 40_000, true, 90), run(40_000, 39_000, false, 400), run(40_000, 40_000, true, 95)]),
    ];
    const [line] = summaryLines(points, LIMITS);
    expect(line).toMatch(/^5 ranks: sustained 20000 commits\/s with fsync \(backlog flat in every run; p99 there 50\.0 \(40\.0-60\.0\) ms\)/);
    expect(line).toMatch(/the next swept load \(40000\/s\) was not; lower loads not sustained in every run: 5000\/s \(2\/3\);/);
    expect(line).toMatch(/messaging limit 200000\/s, so 0\.10 of it/);
    expect(line).toMatch(/at 10000\/s offered \(nearest half\) p99 25\.0 \(20\.0-30\.0\) ms/);
  });

  it("says so when nothing was sustained, and a failed check disqualifies a point", () => {
    const points = [point(10_000, [run(10_000, 10_000, true, 20)], false), point(20_000, [run(20_000, 15_000, false, 900)])];
    expect(summaryLines(points, LIMITS)).toEqual(["5 ranks: no swept load was sustained in every run with fsync"]);
  });

  it("a row shows p99 and throughput as median (min-max), sustained runs and the share of the limit", () => {
    const p = point(40_000, [run(40_000, 40_000, true, 90), run(40_000, 39_000, false, 400), run(40_000, 40_000, true, 95)]);
    const cells = row(p, LIMITS).split("|").map((c) => c.trim());
    expect(cells[4]).toBe("40000 (39000-40000)");
    expect(cells[6]).toBe("2/3");
    expect(cells[8]).toBe("95.0 (90.0-400.0)");
    expect(cells[13]).toBe("0.20");
  });
});
