// Synthetic runs for the scenario checks' tests: commits spread over a time span, a rank's log,
// status snapshots. Shared by the scenario_*.test.ts files; no test of its own.
import type { LogTimes, StatusSnapshot } from "./scenario_evidence.js";

export const S = 1_000_000; // µs per second

/** A log whose rank commits seqs from..to-1 evenly spread over fromUs..toUs. */
export function commitsOver(fromSeq: number, toSeq: number, fromUs: number, toUs: number) {
  const n = toSeq - fromSeq;
  return Array.from({ length: n }, (_, i) => ({
    seq: fromSeq + i,
    id: `0-${fromSeq + i}`,
    atUs: Math.round(fromUs + ((toUs - fromUs) * i) / Math.max(1, n - 1)),
  }));
}
export const log = (...parts: { seq: number; id: string; atUs: number }[][]): LogTimes => ({
  commits: parts.flat(),
  generated: new Map(),
});

export function status(
  rank: number,
  atUs: number,
  over: Partial<StatusSnapshot> = {},
): StatusSnapshot {
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
export const every100ms = (
  rank: number,
  fromUs: number,
  toUs: number,
  over: Partial<StatusSnapshot> = {},
) =>
  Array.from({ length: Math.floor((toUs - fromUs) / 100_000) + 1 }, (_, i) =>
    status(rank, fromUs + i * 100_000, over),
  );
