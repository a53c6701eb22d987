import { describe, expect, it } from "vitest";
import type { LogTimes, StatusSnapshot } from "./scenario_evidence.js";
import { commitsOver, every100ms, log, S } from "./scenario_fixtures.js";
import { confirmBusy, confirmHeld, confirmPartition, confirmQuiet } from "./scenario_majority.js";

describe("confirmQuiet and confirmBusy (no majority: nothing new; a majority: progress)", () => {
  const from = 1 * S;
  const to = 3.5 * S;

  it("passes when the cut-off ranks only copy what one of them already had", () => {
    const logs = [
      log(),
      log(),
      log(),
      log(commitsOver(0, 200, 0, 0.9 * S)),
      log(commitsOver(0, 150, 0, 0.9 * S), commitsOver(150, 200, 1.5 * S, 1.6 * S)),
    ];
    expect(confirmQuiet([3, 4], logs, from, to, "cut off")).toEqual([]);
  });

  it("fails when a cut-off rank commits a seq none of them had (new work without a majority)", () => {
    const logs = [
      log(),
      log(),
      log(),
      log(commitsOver(0, 200, 0, 0.9 * S), commitsOver(200, 210, 2 * S, 2.1 * S)),
      log(commitsOver(0, 200, 0, 0.9 * S)),
    ];
    expect(confirmQuiet([3, 4], logs, from, to, "cut off")[0]).toMatch(
      /rank 3 committed 10 new seqs cut off \(seq 200 at \+1\.00 s/,
    );
  });

  it("busy: commits in both halves pass; a majority that stalls fails", () => {
    const busy = log(commitsOver(0, 1000, 0, 5 * S));
    const stalled = log(commitsOver(0, 400, 0, 2 * S));
    expect(confirmBusy([0, 1], [busy, busy], from, to, "in the majority")).toEqual([]);
    expect(confirmBusy([0, 1], [busy, stalled], from, to, "in the majority")[0]).toMatch(
      /rank 1 stopped committing in the majority \(nothing in the second half\)/,
    );
  });
});

describe("confirmHeld (no majority: the work waits for it)", () => {
  const from = 1.3 * S; // the kill at 1 s, plus the settle margin
  const to = 3.5 * S;
  const back = 3.51 * S; // the first restart
  /** Rank r generates an instance every 10 ms over 0..5 s; each is committed commitDelay after it,
   * or, while the majority is down (1 s until the restart), 100 ms after the restart. */
  function run(commitDuring: boolean, generateDuring = true): LogTimes[] {
    const gen = (r: number) =>
      Array.from({ length: 500 }, (_, i) => ({ id: `${r}-${i}`, at: i * 10_000 })).filter(
        (g) => generateDuring || g.at < 1 * S || g.at > to,
      );
    const all = [0, 1].flatMap(gen);
    const commitAt = (at: number) =>
      at + 20_000 < 1 * S || commitDuring || at > back ? at + 20_000 : back + 100_000;
    const commits = all
      .map((g) => ({ id: g.id, atUs: commitAt(g.at) }))
      .sort((a, b) => a.atUs - b.atUs)
      .map((c, seq) => ({ ...c, seq }));
    return [0, 1, 2, 3, 4].map((r) => ({
      commits,
      generated: r < 2 ? new Map(gen(r).map((g) => [g.id, g.at])) : new Map(),
    }));
  }

  it("passes: what the survivors generated in the window is committed only after the restart", () => {
    expect(confirmHeld([0, 1], run(false), from, to, back, "with a majority down")).toEqual([]);
  });

  it("fails when the survivors generated nothing in the window (nothing could have been held)", () => {
    expect(confirmHeld([0, 1], run(false, false), from, to, back, "with a majority down")).toEqual([
      "ranks 0, 1 generated nothing with a majority down: no work was held back",
    ]);
  });

  it("fails when that work was committed before the restart", () => {
    const problems = confirmHeld([0, 1], run(true), from, to, back, "with a majority down");
    expect(problems[0]).toMatch(
      /rank 0 committed 436 of the 438 instances generated with a majority down before the majority was back \(0-131 at \+0\.03 s\)/,
    );
    expect(problems.filter((p) => / before the majority was back/.test(p))).toHaveLength(5);
    expect(problems).toContain(
      "rank 1 committed only 2 of the 438 instances generated with a majority down after the majority was back",
    );
  });

  it("fails when a survivor never commits some of it", () => {
    const logs = run(false);
    logs[1] = { ...logs[1], commits: logs[1]!.commits.filter((c) => c.id !== "0-200") } as LogTimes;
    expect(confirmHeld([0, 1], logs, from, to, back, "with a majority down")).toEqual([
      "rank 1 committed only 437 of the 438 instances generated with a majority down after the majority was back",
    ]);
  });
});

describe("confirmPartition", () => {
  const groups = [
    [0, 1, 2],
    [3, 4],
  ];
  const write = 1 * S;
  const heal = 3.5 * S;
  /** Each rank shows the partition from 1.1 s until the heal, healed after. */
  const applied = (): StatusSnapshot[][] =>
    [0, 1, 2, 3, 4].map((r) =>
      every100ms(r, 0, 5 * S).map((s) => ({
        ...s,
        partition: s.atUs >= 1.1 * S && s.atUs <= heal ? groups : [],
      })),
    );
  const goodLogs = () => [
    ...[0, 1, 2].map(() => log(commitsOver(0, 1000, 0, 5 * S))),
    ...[3, 4].map(() =>
      log(commitsOver(0, 200, 0, 1.2 * S), commitsOver(200, 1000, 3.6 * S, 5 * S)),
    ),
  ];

  it("passes: applied and healed everywhere, the minority quiet, the majority busy", () => {
    expect(confirmPartition(5, groups, applied(), goodLogs(), write, heal)).toEqual([]);
  });

  it("fails when the minority committed during the partition", () => {
    const logs = goodLogs();
    logs[4] = log(commitsOver(0, 1000, 0, 5 * S));
    expect(confirmPartition(5, groups, applied(), logs, write, heal).join("\n")).toMatch(
      /rank 4 committed \d+ new seqs cut off from the majority/,
    );
  });

  it("fails when the majority stopped committing", () => {
    const logs = goodLogs();
    for (const r of [0, 1, 2])
      logs[r] = log(commitsOver(0, 200, 0, 1.2 * S), commitsOver(200, 1000, 3.6 * S, 5 * S));
    expect(confirmPartition(5, groups, applied(), logs, write, heal)[0]).toMatch(
      /rank 0 stopped committing in the majority of the partition/,
    );
  });

  it("fails when a rank never shows the partition (the file was not read) or never heals", () => {
    const h = applied();
    h[3] = every100ms(3, 0, 5 * S, { partition: [] });
    expect(confirmPartition(5, groups, h, goodLogs(), write, heal)[0]).toMatch(
      /rank 3 never showed the partition \[\[0,1,2\],\[3,4\]\] applied/,
    );
    const stuck = applied();
    stuck[1] = every100ms(1, 0, 5 * S).map((s) => ({
      ...s,
      partition: s.atUs >= 1.1 * S ? groups : [],
    }));
    expect(confirmPartition(5, groups, stuck, goodLogs(), write, heal)[0]).toMatch(
      /rank 1 never showed the partition healed/,
    );
  });

  it("fails when no rank reports a partition at all (no fault injection)", () => {
    const plain = [0, 1, 2, 3, 4].map((r) => every100ms(r, 0, 5 * S));
    expect(confirmPartition(5, groups, plain, goodLogs(), write, heal)).toHaveLength(10);
  });
});
