import { describe, expect, it } from "vitest";
import { confirmAll, emptyRecord } from "./scenario_checks.js";
import { commitsOver, every100ms, log, S, status } from "./scenario_fixtures.js";

describe("confirmAll", () => {
  it("checks every fault the runner recorded", () => {
    const rec = emptyRecord();
    rec.pauses.push({ rank: 1, atUs: 1 * S, resumeUs: 3.5 * S });
    rec.kills.push({
      rank: 3,
      atUs: 1 * S,
      restartUs: 3.5 * S,
      lastStatus: status(3, 0.95 * S),
      leaderRound: 8,
    });
    const logs = [0, 1, 2, 3, 4].map(() => log(commitsOver(0, 900, 0, 5 * S)));
    const histories = [0, 1, 2, 3, 4].map((r) => every100ms(r, 0, 5 * S));
    const summaries = [0, 1, 2, 3, 4].map(
      (r) => `rank ${r}: converged; ...; faults dropped 0, duplicated 0, delayed 0, cut 0`,
    );
    const problems = confirmAll(rec, { n: 5, args: [], logs, histories, summaries, endUs: 6 * S });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/rank 3 kept writing its status while killed/),
        expect.stringMatching(/rank 3 was not leading when killed/),
        expect.stringMatching(/no other rank got a majority for a round after round 8/),
        expect.stringMatching(/the others committed no instance generated after rank 3 was killed/),
        expect.stringMatching(/rank 1 kept writing its status while paused/),
        expect.stringMatching(/rank 1 committed \d+ times while paused/),
      ]),
    );
  });

  it("checks a late start against the commits the runner waited for, and held work against the restarts", () => {
    const rec = emptyRecord();
    rec.lateStarts.push({ rank: 4, atUs: 2 * S, afterCommits: 2000 });
    const logs = [0, 1, 2, 3].map(() => log(commitsOver(0, 4000, 0, 5 * S)));
    logs.push(log(commitsOver(0, 4000, 2.1 * S, 5.5 * S)));
    const data = { n: 5, args: [], logs, histories: [], summaries: [], endUs: 6 * S };
    expect(confirmAll(rec, data)).toHaveLength(4); // 1600 each by 2 s, not 2000
    rec.lateStarts[0] = { rank: 4, atUs: 2 * S, afterCommits: 1500 };
    expect(confirmAll(rec, data)).toEqual([]);
    const down = emptyRecord();
    down.quiet.push({
      ranks: [0, 1],
      fromUs: 1.3 * S,
      toUs: 3.5 * S,
      why: "with a majority down",
      heldUntilRestart: true,
    });
    expect(confirmAll(down, data)).toEqual(
      expect.arrayContaining([
        "no rank was killed before the window with a majority down and down until its end",
      ]),
    );
    for (const r of [2, 3, 4])
      down.kills.push({
        rank: r,
        atUs: 1 * S,
        restartUs: 3.5 * S + r,
        lastStatus: null,
        leaderRound: null,
      });
    expect(confirmAll(down, data)).toEqual(
      expect.arrayContaining([
        "ranks 0, 1 generated nothing with a majority down: no work was held back",
      ]),
    );
  });

  it("passes a quiet run with zero counters", () => {
    const summaries = [0, 1, 2].map(
      (r) => `rank ${r}: converged; ...; faults dropped 0, duplicated 0, delayed 0, cut 0`,
    );
    expect(
      confirmAll(emptyRecord(), { n: 3, args: [], logs: [], histories: [], summaries, endUs: 0 }),
    ).toEqual([]);
  });
});
