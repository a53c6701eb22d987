import { describe, expect, it } from "vitest";
import { emptyRecord, confirmAll } from "./scenario_checks.js";
import type { LogTimes, StatusSnapshot } from "./scenario_evidence.js";
import { commitsOver, S, status } from "./scenario_fixtures.js";
import {
  confirmRejoinBySnapshot,
  confirmResolvedApplied,
  confirmSameState,
  rejoinNotes,
} from "./scenario_state.js";

const H = "ab".repeat(32);
const final = (rank: number, appliedSeq: number, stateHash = H) =>
  status(rank, 10 * S, { appliedSeq, stateHash });

describe("confirmSameState", () => {
  it("passes when every rank ends at one applied seq with one hash", () => {
    expect(confirmSameState([final(0, 99), final(1, 99), final(2, 99)])).toEqual([]);
  });

  it("names a rank at another seq, a rank in another state, a rank without the fields", () => {
    expect(confirmSameState([final(0, 99), final(1, 98), final(2, 99, "cd".repeat(32))])).toEqual([
      "rank 1 ended at applied seq 98, rank 0 at 99",
      "rank 2 and rank 0 differ in state at applied seq 99: cdcdcdcdcdcd vs abababababab",
    ]);
    expect(confirmSameState([final(0, 99), status(1, 10 * S), undefined])).toEqual([
      "rank 1 left no status with its applied seq and state hash",
      "rank 2 left no status with its applied seq and state hash",
    ]);
    expect(confirmSameState([final(0, -1), final(1, -1)])).toEqual([
      "rank 0 applied nothing (applied seq -1)",
    ]);
  });
});

/** Rank 4's log: commits 0..100 before its wipe at 2 s, then what its new life wrote. */
function wipedLog(
  installs: { seq: number; atUs: number }[],
  after = commitsOver(501, 600, 6 * S, 8 * S),
): LogTimes {
  return { commits: [...commitsOver(0, 101, 0, 2 * S), ...after], generated: new Map(), installs };
}

describe("confirmRejoinBySnapshot", () => {
  const restartUs = 5 * S;

  it("passes with an install after the restart covering what it had committed", () => {
    expect(
      confirmRejoinBySnapshot(4, wipedLog([{ seq: 500, atUs: 6 * S }]), restartUs, 100),
    ).toEqual([]);
  });

  it("fails without an install after the restart (an older one does not count)", () => {
    const p = confirmRejoinBySnapshot(4, wipedLog([{ seq: 50, atUs: S }]), restartUs, 100);
    expect(p).toEqual([
      "rank 4 wrote no install line after its restart with --rejoin: it did not rejoin by a snapshot",
    ]);
  });

  it("fails when the snapshot stops below what it had committed, or it committed under it", () => {
    expect(
      confirmRejoinBySnapshot(4, wipedLog([{ seq: 80, atUs: 6 * S }]), restartUs, 100),
    ).toEqual([
      "rank 4 installed a snapshot up to seq 80, below seq 100 it had committed before its disk was wiped",
    ]);
    const recommitted = wipedLog([{ seq: 500, atUs: 6 * S }], commitsOver(0, 600, 5.5 * S, 8 * S));
    expect(confirmRejoinBySnapshot(4, recommitted, restartUs, 100)).toEqual([
      "rank 4 committed seq 0 after its restart, under the snapshot up to seq 500 it installed",
    ]);
  });

  it("gives the time from the restart to the install for the scenario's line", () => {
    const logs = [undefined, wipedLog([{ seq: 500, atUs: 6.25 * S }])];
    expect(rejoinNotes([{ rank: 1, restartUs }], logs)).toEqual([
      "rank 1 restart->install (seq 500) 1250 ms",
    ]);
    expect(rejoinNotes([{ rank: 1, restartUs: null }], logs)).toEqual([]);
  });
});

describe("confirmResolvedApplied", () => {
  const killed = (rank: number, maxResolvedSeq: number, appliedSeq: number): StatusSnapshot =>
    status(rank, S, {
      appliedSeq,
      submits: { submitted: 9, resolved: 9, maxResolvedSeq, waits: 0, unknown: 0, failed: 0 },
    });

  it("passes when every rank ends at or past what every killed life had resolved and applied", () => {
    const kills = [0, 1].map((rank) => ({ rank, lastStatus: killed(rank, 40, 45) }));
    expect(confirmResolvedApplied(kills, [final(0, 45), final(1, 45)])).toEqual([]);
  });

  it("names a rank that ends before a resolved submit's seq or a killed life's applied seq", () => {
    const kills = [{ rank: 0, lastStatus: killed(0, 40, 45) }];
    expect(confirmResolvedApplied(kills, [final(0, 39), final(1, 44)])).toEqual([
      "rank 0 had a submit resolved at seq 40 before it was killed, but rank 0 ended at applied seq 39",
      "rank 0 had applied seq 45 before it was killed, but rank 1 ended at 44",
    ]);
  });
});

describe("confirmAll with state checks", () => {
  const run = (histories: StatusSnapshot[][]) => ({
    n: 2,
    args: [],
    logs: [wipedLog([]), wipedLog([])],
    histories,
    summaries: [],
    endUs: 20 * S,
  });

  it("checks the last status of each rank only when the scenario asks for it", () => {
    const differ = [[final(0, 10)], [final(1, 10, "00".repeat(32))]];
    expect(confirmAll(emptyRecord(), run(differ))).toEqual([]);
    const rec = { ...emptyRecord(), sameState: true };
    expect(confirmAll(rec, run(differ))).toHaveLength(1);
    expect(confirmAll(rec, run([[final(0, 3), final(0, 10)], [final(1, 10)]]))).toEqual([]);
  });

  it("a wiped rank never restarted is a problem", () => {
    const rec = {
      ...emptyRecord(),
      wipes: [{ rank: 1, atUs: S, restartUs: null, committedBefore: 5 }],
    };
    expect(confirmAll(rec, run([[final(0, 10)], [final(1, 10)]]))).toEqual([
      "rank 1 was wiped and never restarted",
    ]);
  });
});
