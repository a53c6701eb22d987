import { describe, expect, it } from "vitest";
import { commitLine, generateLine } from "../protocol/log_lines.js";
import {
  confirmAll,
  confirmBusy,
  confirmCounters,
  confirmHeld,
  confirmLateStart,
  confirmPartition,
  confirmPause,
  confirmQuiet,
  confirmSilent,
  emptyRecord,
  expectedCounters,
  parseFaultCounters,
  parseLog,
  parseStatus,
  type LogTimes,
  type StatusSnapshot,
} from "./scenario_checks.js";

const S = 1_000_000; // µs per second

/** A log whose rank commits seqs from..to-1 evenly spread over fromUs..toUs. */
function commitsOver(fromSeq: number, toSeq: number, fromUs: number, toUs: number) {
  const n = toSeq - fromSeq;
  return Array.from({ length: n }, (_, i) => ({
    seq: fromSeq + i,
    id: `0-${fromSeq + i}`,
    atUs: Math.round(fromUs + ((toUs - fromUs) * i) / Math.max(1, n - 1)),
  }));
}
const log = (...parts: { seq: number; id: string; atUs: number }[][]): LogTimes => ({
  commits: parts.flat(),
  generated: new Map(),
});

function status(rank: number, atUs: number, over: Partial<StatusSnapshot> = {}): StatusSnapshot {
  return {
    rank,
    round: 5,
    leader: 0,
    leading: null,
    commitIndex: 100,
    atUs,
    pid: 1000 + rank,
    ...over,
  };
}
/** Snapshots every 100 ms from fromUs to toUs. */
const every100ms = (
  rank: number,
  fromUs: number,
  toUs: number,
  over: Partial<StatusSnapshot> = {},
) =>
  Array.from({ length: Math.floor((toUs - fromUs) / 100_000) + 1 }, (_, i) =>
    status(rank, fromUs + i * 100_000, over),
  );

describe("parsing", () => {
  it("reads a status file and refuses anything else", () => {
    const text = JSON.stringify({
      rank: 2,
      round: 7,
      leader: 2,
      leading: { round: 7, phase: "imposing" },
      commitIndex: 40,
      generated: 9,
      generation: null,
      atUs: 5,
      pid: 77,
    });
    expect(parseStatus(text)?.leading).toEqual({ round: 7, phase: "imposing" });
    expect(parseStatus("{")).toBeNull();
    expect(parseStatus(JSON.stringify({ rank: 2 }))).toBeNull();
  });

  it("reads commit and generate lines of a log", () => {
    const l = parseLog(
      generateLine("1-0", 0, 100) + commitLine("1-0", 0, 150) + commitLine("2-0", 1, 160),
    );
    expect(l.commits).toEqual([
      { seq: 0, id: "1-0", atUs: 150 },
      { seq: 1, id: "2-0", atUs: 160 },
    ]);
    expect(l.generated.get("1-0")).toBe(100);
  });

  it("reads the fault counters at the end of a summary line, and only there", () => {
    const line =
      "rank 0: converged; generated 5, committed 9 in 1.0 s; round 3; cpu 0.1 s, peak rss 90 MB; frames in 1 out 2, wal syncs 3 (avg 0.10 ms); faults dropped 12, duplicated 0, delayed 3, cut 4";
    expect(parseFaultCounters(line)).toEqual({ dropped: 12, duplicated: 0, delayed: 3, cut: 4 });
    expect(
      parseFaultCounters(
        "rank 0: converged; generated 5, committed 9 in 1.0 s; round 3; cpu 0.1 s, peak rss 90 MB; frames in 1 out 2, wal syncs 3 (avg 0.10 ms)",
      ),
    ).toBeNull();
  });
});

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

describe("confirmCounters (summary lines)", () => {
  const line = (d: number, u: number, l: number, c: number) =>
    `rank 0: converged; generated 5, committed 9 in 1.0 s; round 3; cpu 0.1 s, peak rss 90 MB; frames in 1 out 2, wal syncs 3 (avg 0.10 ms); faults dropped ${d}, duplicated ${u}, delayed ${l}, cut ${c}`;

  it("derives what a scenario injects from its rank flags", () => {
    expect(expectedCounters(["-o", "100", "--drop", "0.1", "--seed", "3"], false)).toEqual({
      dropped: true,
      duplicated: false,
      delayed: false,
      cut: false,
    });
    expect(expectedCounters(["--dup", "0.2"], false)).toMatchObject({ duplicated: true });
    expect(expectedCounters(["--delay", "1-30"], true)).toEqual({
      dropped: false,
      duplicated: false,
      delayed: true,
      cut: true,
    });
    expect(expectedCounters(["--drop", "0"], false).dropped).toBe(false);
  });

  it("passes when the injected counters are non-zero and the others zero", () => {
    expect(
      confirmCounters(
        [line(40, 0, 0, 0), line(31, 0, 0, 0)],
        expectedCounters(["--drop", "0.1"], false),
      ),
    ).toEqual([]);
  });

  it("fails a drop scenario whose rank dropped nothing", () => {
    expect(
      confirmCounters(
        [line(40, 0, 0, 0), line(0, 0, 0, 0)],
        expectedCounters(["--drop", "0.1"], false),
      ),
    ).toEqual(["rank 1: dropped 0 although the scenario injects that fault"]);
  });

  it("fails dup and delay scenarios with zero counters, and faults where none were injected", () => {
    expect(
      confirmCounters([line(0, 0, 0, 0)], expectedCounters(["--dup", "0.2"], false))[0],
    ).toMatch(/duplicated 0/);
    expect(
      confirmCounters([line(0, 0, 0, 0)], expectedCounters(["--delay", "1-30"], false))[0],
    ).toMatch(/delayed 0/);
    expect(confirmCounters([line(0, 0, 0, 7)], expectedCounters([], false))[0]).toMatch(
      /cut 7 although the scenario does not inject/,
    );
  });

  it("fails a summary line without counters; skips a rank that printed none", () => {
    expect(
      confirmCounters(
        ["rank 0: converged; generated 5, committed 9 in 1.0 s"],
        expectedCounters([], false),
      )[0],
    ).toMatch(/has no fault counters/);
    expect(confirmCounters([undefined], expectedCounters([], false))).toEqual([]);
  });
});

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
