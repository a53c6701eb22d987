import { describe, expect, it } from "vitest";
import { confirmCounters, expectedCounters } from "./scenario_counters.js";

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
