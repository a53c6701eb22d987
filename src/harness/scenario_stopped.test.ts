import { describe, expect, it } from "vitest";
import type { LogTimes } from "./scenario_evidence.js";
import { commitsOver, every100ms, log, S } from "./scenario_fixtures.js";
import { confirmLateStart, confirmPause, confirmSilent } from "./scenario_stopped.js";

describe("confirmSilent (killed or paused: the status file stops advancing)", () => {
  it("passes when the rank wrote until the fault and nothing after", () => {
    expect(confirmSilent(2, every100ms(2, 0, 1 * S), 1 * S, 3.5 * S, "killed")).toEqual([]);
  });

  it("fails when the rank kept writing (the kill or the pause did not happen)", () => {
    expect(confirmSilent(2, every100ms(2, 0, 5 * S), 1 * S, 3.5 * S, "killed")[0]).toMatch(
      /rank 2 kept writing its status while killed/,
    );
  });

  it("fails when the rank was not alive before the fault (silence proves nothing)", () => {
    expect(confirmSilent(2, every100ms(2, 0, 0.2 * S), 2 * S, 4.5 * S, "paused")[0]).toMatch(
      /wrote no status in the second before/,
    );
  });
});

describe("confirmPause", () => {
  const pause = 1 * S;
  const resume = 3.5 * S;
  const others = [0, 1, 3, 4].map(() => log(commitsOver(0, 900, 0, 5 * S)));
  const withPaused = (paused: LogTimes) =>
    [others[0], others[1], paused, others[2], others[3]] as LogTimes[];

  it("passes: nothing while paused, commits after the resume up to what the cluster had", () => {
    const paused = log(commitsOver(0, 180, 0, 0.99 * S), commitsOver(180, 900, 3.6 * S, 5 * S));
    expect(confirmPause(2, withPaused(paused), pause, resume)).toEqual([]);
  });

  it("allows a commit stamped at the very edge of the pause", () => {
    const paused = log(commitsOver(0, 180, 0, 1.02 * S), commitsOver(180, 900, 3.6 * S, 5 * S));
    expect(confirmPause(2, withPaused(paused), pause, resume)).toEqual([]);
  });

  it("fails when the paused rank kept committing", () => {
    const paused = log(commitsOver(0, 900, 0, 5 * S));
    expect(confirmPause(2, withPaused(paused), pause, resume)[0]).toMatch(
      /rank 2 committed \d+ times while paused/,
    );
  });

  it("fails when it commits nothing after the resume, or does not catch up", () => {
    const stuck = log(commitsOver(0, 180, 0, 0.99 * S));
    const problems = confirmPause(2, withPaused(stuck), pause, resume);
    expect(problems.join("\n")).toMatch(/committed nothing after it was resumed/);
    expect(problems.join("\n")).toMatch(/did not catch up/);
    const short = log(commitsOver(0, 180, 0, 0.99 * S), commitsOver(180, 300, 3.6 * S, 5 * S));
    expect(confirmPause(2, withPaused(short), pause, resume)[0]).toMatch(
      /did not catch up after the pause \(reached seq 299, the cluster had \d+/,
    );
  });
});

describe("confirmLateStart", () => {
  const start = 2 * S;
  const others = [0, 1, 2, 3].map(() => log(commitsOver(0, 4000, 0, 5 * S)));

  it("passes: nothing before the start, the others had done what the scenario waited for, then everything", () => {
    const late = log(commitsOver(0, 4000, 2.1 * S, 5.5 * S));
    expect(
      confirmLateStart(4, [...others, late], every100ms(4, 2.05 * S, 5.5 * S), start, 1000),
    ).toEqual([]);
  });

  it("fails when the late rank wrote before it was started (it was not late)", () => {
    const early = log(commitsOver(0, 4000, 0, 5 * S));
    expect(
      confirmLateStart(4, [...others, early], every100ms(4, 2.05 * S, 5.5 * S), start, 1000)[0],
    ).toMatch(/rank 4 wrote \d+ log lines before it was started/);
    const statusEarly = confirmLateStart(
      4,
      [...others, log(commitsOver(0, 4000, 2.1 * S, 5.5 * S))],
      every100ms(4, 0, 5.5 * S),
      start,
      1000,
    );
    expect(statusEarly[0]).toMatch(/wrote a status before it was started/);
  });

  it("fails when it did not catch up", () => {
    const behind = log(commitsOver(0, 500, 2.1 * S, 5.5 * S));
    expect(confirmLateStart(4, [...others, behind], [], start, 1000)[0]).toMatch(
      /rank 4 did not catch up/,
    );
  });

  it("fails when the others had committed fewer than the scenario waits for (or nothing) when it started", () => {
    // by 2 s the others committed 1600 each: enough for 1000, not for 2000
    const late = log(commitsOver(0, 4000, 2.1 * S, 5.5 * S));
    expect(confirmLateStart(4, [...others, late], [], start, 1600)).toEqual([]);
    const problems = confirmLateStart(4, [...others, late], [], start, 2000);
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(
      /rank 0 had committed 1600 instances when rank 4 started \(it was to start after 2000\)/,
    );
    const slow = [...others];
    slow[2] = log(commitsOver(0, 100, 0, 0.5 * S), commitsOver(100, 4000, 2.2 * S, 5 * S));
    expect(confirmLateStart(4, [...slow, late], [], start, 1000)).toEqual([
      expect.stringMatching(/rank 2 had committed 100 instances/),
    ]);
    const idle = [0, 1, 2, 3].map(() => log(commitsOver(0, 100, 2.2 * S, 5 * S)));
    expect(
      confirmLateStart(4, [...idle, log(commitsOver(0, 100, 2.1 * S, 5.5 * S))], [], start, 0)[0],
    ).toMatch(/rank 0 had committed 0 instances when rank 4 started \(it was to start after 1\)/);
  });
});
