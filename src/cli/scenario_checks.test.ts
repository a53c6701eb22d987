import { describe, expect, it } from "vitest";
import {
  confirmAll,
  confirmBusy,
  confirmCounters,
  confirmLateStart,
  confirmPartition,
  confirmPause,
  confirmQuiet,
  confirmSilent,
  confirmTakeover,
  confirmWasLeading,
  emptyRecord,
  expectedCounters,
  parseFaultCounters,
  parseLog,
  parseStatus,
  pickLeader,
  type LogTimes,
  type StatusSnapshot,
} from "./scenario_checks.js";

const S = 1_000_000; // µs per second

/** A log whose rank commits seqs from..to-1 evenly spread over fromUs..toUs. */
function commitsOver(fromSeq: number, toSeq: number, fromUs: number, toUs: number) {
  const n = toSeq - fromSeq;
  return Array.from({ length: n }, (_, i) => ({ seq: fromSeq + i, id: `0-${fromSeq + i}`, atUs: Math.round(fromUs + ((toUs - fromUs) * i) / Math.max(1, n - 1)) }));
}
const log = (...parts: { seq: number; id: string; atUs: number }[][]): LogTimes => ({ commits: parts.flat(), generated: new Map() });

function status(rank: number, atUs: number, over: Partial<StatusSnapshot> = {}): StatusSnapshot {
  return { rank, round: 5, leader: 0, leading: null, commitIndex: 100, atUs, pid: 1000 + rank, ...over };
}
/** Snapshots every 100 ms from fromUs to toUs. */
const every100ms = (rank: number, fromUs: number, toUs: number, over: Partial<StatusSnapshot> = {}) =>
  Array.from({ length: Math.floor((toUs - fromUs) / 100_000) + 1 }, (_, i) => status(rank, fromUs + i * 100_000, over));

describe("parsing", () => {
  it("reads a status file and refuses anything else", () => {
    const text = JSON.stringify({ rank: 2, round: 7, leader: 2, leading: { round: 7, phase: "imposing" }, commitIndex: 40, generated: 9, generation: null, atUs: 5, pid: 77 });
    expect(parseStatus(text)?.leading).toEqual({ round: 7, phase: "imposing" });
    expect(parseStatus("{")).toBeNull();
    expect(parseStatus(JSON.stringify({ rank: 2 }))).toBeNull();
  });

  it("reads commit and generate lines of a log", () => {
    const l = parseLog("generate Instance[1-0] in seq 0 at 100\ncommit Instance[1-0] in seq 0 at 150\ncommit Instance[2-0] in seq 1 at 160\n");
    expect(l.commits).toEqual([
      { seq: 0, id: "1-0", atUs: 150 },
      { seq: 1, id: "2-0", atUs: 160 },
    ]);
    expect(l.generated.get("1-0")).toBe(100);
  });

  it("reads the fault counters at the end of a summary line, and only there", () => {
    const line = "rank 0: converged; generated 5, committed 9 in 1.0 s; round 3; cpu 0.1 s, peak rss 90 MB; frames in 1 out 2, wal syncs 3 (avg 0.10 ms); faults dropped 12, duplicated 0, delayed 3, cut 4";
    expect(parseFaultCounters(line)).toEqual({ dropped: 12, duplicated: 0, delayed: 3, cut: 4 });
    expect(parseFaultCounters("rank 0: converged; generated 5, committed 9 in 1.0 s; round 3; cpu 0.1 s, peak rss 90 MB; frames in 1 out 2, wal syncs 3 (avg 0.10 ms)")).toBeNull();
  });
});

describe("pickLeader", () => {
  const now = 10 * S;
  const following = (leader: number, round: number) =>
    [0, 1, 2, 3, 4].map((r) => status(r, now - 50_000, { round, leader, leading: r === leader ? { round, phase: "imposing" } : null }));

  it("names the rank leading the highest round when a majority is in that round", () => {
    expect(pickLeader(following(3, 8), 5, now)).toEqual({ rank: 3, round: 8 });
  });

  it("finds no leader when no rank leads", () => {
    const none = [0, 1, 2, 3, 4].map((r) => status(r, now - 50_000, { round: 8, leader: 3 }));
    expect(pickLeader(none, 5, now)).toHaveProperty("problem", expect.stringMatching(/no rank is leading/));
  });

  it("finds no leader when the statuses are stale (the ranks stopped writing)", () => {
    const stale = following(3, 8).map((s) => ({ ...s, atUs: now - 2 * S }));
    expect(pickLeader(stale, 5, now)).toHaveProperty("problem", expect.stringMatching(/only 0 of 5 ranks/));
  });

  it("finds no leader while a later round has started, or too few ranks follow", () => {
    const moved = following(3, 8);
    moved[1] = status(1, now - 50_000, { round: 9, leader: 4 });
    expect(pickLeader(moved, 5, now)).toHaveProperty("problem", expect.stringMatching(/rank 1 is already in round 9/));
    const alone = following(3, 8).map((s) => (s.rank === 3 ? s : { ...s, round: 7, leader: 2 }));
    expect(pickLeader(alone, 5, now)).toHaveProperty("problem", expect.stringMatching(/only 1 of 5 ranks are in it/));
  });

  it("does not pick a leader that is ending its round, and takes the highest of two leading ranks", () => {
    const ending = following(3, 8).map((s) => (s.leading ? { ...s, leading: { round: 8, phase: "ending" } } : s));
    expect(pickLeader(ending, 5, now)).toHaveProperty("problem");
    const two = following(3, 8);
    two[2] = status(2, now - 50_000, { round: 8, leader: 3, leading: { round: 7, phase: "imposing" } }); // stale leadership of round 7
    expect(pickLeader(two, 5, now)).toEqual({ rank: 3, round: 8 });
  });

  it("ignores ranks with no status (not running)", () => {
    const some: (StatusSnapshot | null)[] = following(3, 8);
    some[0] = null;
    some[4] = null;
    expect(pickLeader(some, 5, now)).toEqual({ rank: 3, round: 8 });
  });
});

describe("the killed leader", () => {
  it("was leading at the kill, from its last status", () => {
    expect(confirmWasLeading(3, status(3, 0, { round: 8, leader: 3, leading: { round: 8, phase: "imposing" } }))).toEqual([]);
    expect(confirmWasLeading(3, status(3, 0, { round: 8, leader: 3 }))[0]).toMatch(/rank 3 was not leading when killed/);
    expect(confirmWasLeading(3, null)[0]).toMatch(/left no status/);
  });

  it("another rank led a later round while it was down", () => {
    const kill = 2 * S;
    const back = 4.5 * S;
    const histories = [0, 1, 2, 3, 4].map((r) => every100ms(r, 0, 6 * S, { round: 8, leader: 3 }));
    // no takeover: everyone still in round 8
    expect(confirmTakeover(histories, 3, 8, kill, back)[0]).toMatch(/no other rank led a round after round 8 while rank 3 was down/);
    // rank 4 leads round 9 from 2.3 s
    histories[4] = every100ms(4, 0, 6 * S).map((s) => (s.atUs >= 2.3 * S ? { ...s, round: 9, leader: 4, leading: { round: 9, phase: "imposing" } } : s));
    expect(confirmTakeover(histories, 3, 8, kill, back)).toEqual([]);
    // ... but only after the killed rank was back: not a takeover
    expect(confirmTakeover(histories, 3, 8, kill, 2.2 * S)).toHaveLength(1);
    // the killed rank leading again itself does not count
    const selfOnly = [0, 1, 2, 3, 4].map((r) => every100ms(r, 0, 6 * S, r === 3 ? { round: 13, leader: 3, leading: { round: 13, phase: "imposing" } } : {}));
    expect(confirmTakeover(selfOnly, 3, 8, kill, back)).toHaveLength(1);
  });
});

describe("confirmSilent (killed or paused: the status file stops advancing)", () => {
  it("passes when the rank wrote until the fault and nothing after", () => {
    expect(confirmSilent(2, every100ms(2, 0, 1 * S), 1 * S, 3.5 * S, "killed")).toEqual([]);
  });

  it("fails when the rank kept writing (the kill or the pause did not happen)", () => {
    expect(confirmSilent(2, every100ms(2, 0, 5 * S), 1 * S, 3.5 * S, "killed")[0]).toMatch(/rank 2 kept writing its status while killed/);
  });

  it("fails when the rank was not alive before the fault (silence proves nothing)", () => {
    expect(confirmSilent(2, every100ms(2, 0, 0.2 * S), 2 * S, 4.5 * S, "paused")[0]).toMatch(/wrote no status in the second before/);
  });
});

describe("confirmPause", () => {
  const pause = 1 * S;
  const resume = 3.5 * S;
  const others = [0, 1, 3, 4].map(() => log(commitsOver(0, 900, 0, 5 * S)));
  const withPaused = (paused: LogTimes) => [others[0], others[1], paused, others[2], others[3]] as LogTimes[];

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
    expect(confirmPause(2, withPaused(paused), pause, resume)[0]).toMatch(/rank 2 committed \d+ times while paused/);
  });

  it("fails when it commits nothing after the resume, or does not catch up", () => {
    const stuck = log(commitsOver(0, 180, 0, 0.99 * S));
    const problems = confirmPause(2, withPaused(stuck), pause, resume);
    expect(problems.join("\n")).toMatch(/committed nothing after it was resumed/);
    expect(problems.join("\n")).toMatch(/did not catch up/);
    const short = log(commitsOver(0, 180, 0, 0.99 * S), commitsOver(180, 300, 3.6 * S, 5 * S));
    expect(confirmPause(2, withPaused(short), pause, resume)[0]).toMatch(/did not catch up after the pause \(reached seq 299, the cluster had \d+/);
  });
});

describe("confirmLateStart", () => {
  const start = 2 * S;
  const others = [0, 1, 2, 3].map(() => log(commitsOver(0, 4000, 0, 5 * S)));

  it("passes: nothing before the start, then everything", () => {
    const late = log(commitsOver(0, 4000, 2.1 * S, 5.5 * S));
    expect(confirmLateStart(4, [...others, late], every100ms(4, 2.05 * S, 5.5 * S), start)).toEqual([]);
  });

  it("fails when the late rank wrote before it was started (it was not late)", () => {
    const early = log(commitsOver(0, 4000, 0, 5 * S));
    expect(confirmLateStart(4, [...others, early], every100ms(4, 2.05 * S, 5.5 * S), start)[0]).toMatch(/rank 4 wrote \d+ log lines before it was started/);
    const statusEarly = confirmLateStart(4, [...others, log(commitsOver(0, 4000, 2.1 * S, 5.5 * S))], every100ms(4, 0, 5.5 * S), start);
    expect(statusEarly[0]).toMatch(/wrote a status before it was started/);
  });

  it("fails when it did not catch up, or the others had done nothing without it", () => {
    const behind = log(commitsOver(0, 500, 2.1 * S, 5.5 * S));
    expect(confirmLateStart(4, [...others, behind], [], start)[0]).toMatch(/rank 4 did not catch up/);
    const idle = [0, 1, 2, 3].map(() => log(commitsOver(0, 100, 2.2 * S, 5 * S)));
    expect(confirmLateStart(4, [...idle, log(commitsOver(0, 100, 2.1 * S, 5.5 * S))], [], start)[0]).toMatch(/the others committed nothing before rank 4 started/);
  });
});

describe("confirmQuiet and confirmBusy (no majority: nothing new; a majority: progress)", () => {
  const from = 1 * S;
  const to = 3.5 * S;

  it("passes when the cut-off ranks only copy what one of them already had", () => {
    const logs = [log(), log(), log(), log(commitsOver(0, 200, 0, 0.9 * S)), log(commitsOver(0, 150, 0, 0.9 * S), commitsOver(150, 200, 1.5 * S, 1.6 * S))];
    expect(confirmQuiet([3, 4], logs, from, to, "cut off")).toEqual([]);
  });

  it("fails when a cut-off rank commits a seq none of them had (new work without a majority)", () => {
    const logs = [log(), log(), log(), log(commitsOver(0, 200, 0, 0.9 * S), commitsOver(200, 210, 2 * S, 2.1 * S)), log(commitsOver(0, 200, 0, 0.9 * S))];
    expect(confirmQuiet([3, 4], logs, from, to, "cut off")[0]).toMatch(/rank 3 committed 10 new seqs cut off \(seq 200 at \+1\.00 s/);
  });

  it("busy: commits in both halves pass; a majority that stalls fails", () => {
    const busy = log(commitsOver(0, 1000, 0, 5 * S));
    const stalled = log(commitsOver(0, 400, 0, 2 * S));
    expect(confirmBusy([0, 1], [busy, busy], from, to, "in the majority")).toEqual([]);
    expect(confirmBusy([0, 1], [busy, stalled], from, to, "in the majority")[0]).toMatch(/rank 1 stopped committing in the majority \(nothing in the second half\)/);
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
    [0, 1, 2, 3, 4].map((r) => every100ms(r, 0, 5 * S).map((s) => ({ ...s, partition: s.atUs >= 1.1 * S && s.atUs <= heal ? groups : [] })));
  const goodLogs = () => [
    ...[0, 1, 2].map(() => log(commitsOver(0, 1000, 0, 5 * S))),
    ...[3, 4].map(() => log(commitsOver(0, 200, 0, 1.2 * S), commitsOver(200, 1000, 3.6 * S, 5 * S))),
  ];

  it("passes: applied and healed everywhere, the minority quiet, the majority busy", () => {
    expect(confirmPartition(5, groups, applied(), goodLogs(), write, heal)).toEqual([]);
  });

  it("fails when the minority committed during the partition", () => {
    const logs = goodLogs();
    logs[4] = log(commitsOver(0, 1000, 0, 5 * S));
    expect(confirmPartition(5, groups, applied(), logs, write, heal).join("\n")).toMatch(/rank 4 committed \d+ new seqs cut off from the majority/);
  });

  it("fails when the majority stopped committing", () => {
    const logs = goodLogs();
    for (const r of [0, 1, 2]) logs[r] = log(commitsOver(0, 200, 0, 1.2 * S), commitsOver(200, 1000, 3.6 * S, 5 * S));
    expect(confirmPartition(5, groups, applied(), logs, write, heal)[0]).toMatch(/rank 0 stopped committing in the majority of the partition/);
  });

  it("fails when a rank never shows the partition (the file was not read) or never heals", () => {
    const h = applied();
    h[3] = every100ms(3, 0, 5 * S, { partition: [] });
    expect(confirmPartition(5, groups, h, goodLogs(), write, heal)[0]).toMatch(/rank 3 never showed the partition \[\[0,1,2\],\[3,4\]\] applied/);
    const stuck = applied();
    stuck[1] = every100ms(1, 0, 5 * S).map((s) => ({ ...s, partition: s.atUs >= 1.1 * S ? groups : [] }));
    expect(confirmPartition(5, groups, stuck, goodLogs(), write, heal)[0]).toMatch(/rank 1 never showed the partition healed/);
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
    expect(expectedCounters(["-o", "100", "--drop", "0.1", "--seed", "3"], false)).toEqual({ dropped: true, duplicated: false, delayed: false, cut: false });
    expect(expectedCounters(["--dup", "0.2"], false)).toMatchObject({ duplicated: true });
    expect(expectedCounters(["--delay", "1-30"], true)).toEqual({ dropped: false, duplicated: false, delayed: true, cut: true });
    expect(expectedCounters(["--drop", "0"], false).dropped).toBe(false);
  });

  it("passes when the injected counters are non-zero and the others zero", () => {
    expect(confirmCounters([line(40, 0, 0, 0), line(31, 0, 0, 0)], expectedCounters(["--drop", "0.1"], false))).toEqual([]);
  });

  it("fails a drop scenario whose rank dropped nothing", () => {
    expect(confirmCounters([line(40, 0, 0, 0), line(0, 0, 0, 0)], expectedCounters(["--drop", "0.1"], false))).toEqual(["rank 1: dropped 0 although the scenario injects that fault"]);
  });

  it("fails dup and delay scenarios with zero counters, and faults where none were injected", () => {
    expect(confirmCounters([line(0, 0, 0, 0)], expectedCounters(["--dup", "0.2"], false))[0]).toMatch(/duplicated 0/);
    expect(confirmCounters([line(0, 0, 0, 0)], expectedCounters(["--delay", "1-30"], false))[0]).toMatch(/delayed 0/);
    expect(confirmCounters([line(0, 0, 0, 7)], expectedCounters([], false))[0]).toMatch(/cut 7 although the scenario does not inject/);
  });

  it("fails a summary line without counters; skips a rank that printed none", () => {
    expect(confirmCounters(["rank 0: converged; generated 5, committed 9 in 1.0 s"], expectedCounters([], false))[0]).toMatch(/has no fault counters/);
    expect(confirmCounters([undefined], expectedCounters([], false))).toEqual([]);
  });
});

describe("confirmAll", () => {
  it("checks every fault the runner recorded", () => {
    const rec = emptyRecord();
    rec.pauses.push({ rank: 1, atUs: 1 * S, resumeUs: 3.5 * S });
    rec.kills.push({ rank: 3, atUs: 1 * S, restartUs: 3.5 * S, lastStatus: status(3, 0.95 * S), leaderRound: 8 });
    const logs = [0, 1, 2, 3, 4].map(() => log(commitsOver(0, 900, 0, 5 * S)));
    const histories = [0, 1, 2, 3, 4].map((r) => every100ms(r, 0, 5 * S));
    const summaries = [0, 1, 2, 3, 4].map((r) => `rank ${r}: converged; ...; faults dropped 0, duplicated 0, delayed 0, cut 0`);
    const problems = confirmAll(rec, { n: 5, args: [], logs, histories, summaries, endUs: 6 * S });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/rank 3 kept writing its status while killed/),
        expect.stringMatching(/rank 3 was not leading when killed/),
        expect.stringMatching(/no other rank led a round after round 8/),
        expect.stringMatching(/rank 1 kept writing its status while paused/),
        expect.stringMatching(/rank 1 committed \d+ times while paused/),
      ]),
    );
  });

  it("passes a quiet run with zero counters", () => {
    const summaries = [0, 1, 2].map((r) => `rank ${r}: converged; ...; faults dropped 0, duplicated 0, delayed 0, cut 0`);
    expect(confirmAll(emptyRecord(), { n: 3, args: [], logs: [], histories: [], summaries, endUs: 0 })).toEqual([]);
  });
});
