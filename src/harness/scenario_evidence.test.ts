import { describe, expect, it } from "vitest";
import { commitLine, generateLine, installLine } from "../protocol/log_lines.js";
import { parseFaultCounters, parseLog, parseStatus } from "./scenario_evidence.js";

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
    expect(l.installs).toEqual([]);
  });

  it("reads the install lines a rank writes, and the state fields of its status", () => {
    const l = parseLog(
      commitLine("1-0", 0, 150) +
        installLine(99, 170) +
        commitLine("2-0", 100, 180) +
        "install snapshot up to seq 5 at\n",
    );
    expect(l.installs).toEqual([{ seq: 99, atUs: 170 }]);
    expect(l.commits.map((c) => c.seq)).toEqual([0, 100]);
    const submits = {
      submitted: 3,
      resolved: 2,
      maxResolvedSeq: 7,
      waits: 0,
      unknown: 0,
      failed: 0,
    };
    const text = JSON.stringify({
      ...{ rank: 1, round: 2, leader: 2, leading: null, commitIndex: 9, atUs: 5, pid: 7 },
      ...{ appliedSeq: 8, stateHash: "ab", snapshotSeq: 4, backlog: 1, submits },
      generation: { startUs: 1, endUs: 2, ratePerS: 200, firstSeq: 0 },
    });
    expect(parseStatus(text)).toMatchObject({
      appliedSeq: 8,
      stateHash: "ab",
      submits,
      backlog: 1,
    });
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
