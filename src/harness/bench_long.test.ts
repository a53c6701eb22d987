// The long run's report, on a fake cluster and a fake clock: no process is started.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { longReport, longRun, type LongRunDeps } from "./bench_long.js";
import type { RankOutcome } from "../cli/launch.js";

const dir = mkdtempSync(join(tmpdir(), "yasp-bench-long-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const summaryLine = (rank: number) =>
  `rank ${rank}: converged; generated 200000, committed 1000000 in 57.9 s; round 41; cpu 40.1 s, peak rss ${120 + rank} MB; ` +
  "frames in 3120 out 3077, wal syncs 812 (avg 0.61 ms)\n";

describe("long run", () => {
  it("reports the run's duration without the checker's own time", async () => {
    let nowMs = 1_000_000;
    const deps: LongRunDeps = {
      dir,
      now: () => nowMs,
      runCluster: (opts) => {
        nowMs += 58_000; // the ranks ran for 58 s
        const outcomes: RankOutcome[] = Array.from({ length: opts.n }, (_, rank) => ({
          rank,
          pid: 1000 + rank,
          code: 0,
          signal: null,
          stdout: summaryLine(rank),
          stderr: "",
        }));
        return Promise.resolve(outcomes);
      },
    };
    const result = await longRun(() => {
      nowMs += 25_000; // then the checker read a million lines per rank for 25 s
      return true;
    }, deps);
    expect(result.seconds).toBe(58);
    expect(result).toMatchObject({
      checked: true,
      pass: true,
      peakRssMb: [120, 121, 122, 123, 124],
    });
    expect(longReport(result)).toContain(
      "commits per rank: 1000000, 1000000, 1000000, 1000000, 1000000 in 58 s; checker pass\n",
    );
  });
});
