// Proof that the replicas agree on their state, and that a rank which lost its disk came back by a
// peer's snapshot: pure checks over the status files (appliedSeq, stateHash, the submissions a
// rank's workload saw resolve) and the install lines of a rank's log. Used by the scenarios that
// run with --payload (wipe-disk-5, restart-all-5); each returns the problems it found, in words.
import type { LogTimes, StatusSnapshot } from "./scenario_evidence.js";

/** Every rank's last status (at exit) shows the same applied seq and the same state hash. */
export function confirmSameState(finals: readonly (StatusSnapshot | undefined)[]): string[] {
  const problems: string[] = [];
  const states = finals.map((s, rank) => ({ rank, seq: s?.appliedSeq, hash: s?.stateHash }));
  for (const s of states)
    if (s.seq === undefined || s.hash === undefined)
      problems.push(`rank ${s.rank} left no status with its applied seq and state hash`);
  if (problems.length > 0) return problems;
  const first = states[0];
  if (!first) return ["no rank left a status"];
  if ((first.seq ?? -1) < 0) problems.push(`rank 0 applied nothing (applied seq ${first.seq})`);
  for (const s of states.slice(1)) {
    if (s.seq !== first.seq)
      problems.push(
        `rank ${s.rank} ended at applied seq ${s.seq}, rank ${first.rank} at ${first.seq}`,
      );
    else if (s.hash !== first.hash)
      problems.push(
        `rank ${s.rank} and rank ${first.rank} differ in state at applied seq ${s.seq}: ${s.hash?.slice(0, 12)} vs ${first.hash?.slice(0, 12)}`,
      );
  }
  return problems;
}

/**
 * A rank whose data directory was wiped after it had committed up to seq committedBefore, and
 * was restarted with --rejoin at restartUs, came back by a peer's snapshot: its log has an
 * install line written after the restart that covers every seq it had committed (else it would
 * commit those seqs a second time), and no commit line of its new life is at or below it.
 */
export function confirmRejoinBySnapshot(
  rank: number,
  log: LogTimes | undefined,
  restartUs: number,
  committedBefore: number,
): string[] {
  const installs = (log?.installs ?? []).filter((i) => i.atUs >= restartUs);
  const first = installs[0];
  if (!first)
    return [
      `rank ${rank} wrote no install line after its restart with --rejoin: it did not rejoin by a snapshot`,
    ];
  if (first.seq < committedBefore)
    return [
      `rank ${rank} installed a snapshot up to seq ${first.seq}, below seq ${committedBefore} it had committed before its disk was wiped`,
    ];
  const recommitted = (log?.commits ?? []).find((c) => c.atUs >= restartUs && c.seq <= first.seq);
  return recommitted
    ? [
        `rank ${rank} committed seq ${recommitted.seq} after its restart, under the snapshot up to seq ${first.seq} it installed`,
      ]
    : [];
}

/**
 * Every command whose submit had resolved when its rank was killed (the highest seq the killed
 * life's last status shows) is applied on every rank at the end, and no rank ends behind what
 * a killed life had applied.
 */
export function confirmResolvedApplied(
  kills: readonly { rank: number; lastStatus: StatusSnapshot | null }[],
  finals: readonly (StatusSnapshot | undefined)[],
): string[] {
  const problems: string[] = [];
  for (const k of kills) {
    const resolved = k.lastStatus?.submits?.maxResolvedSeq ?? -1;
    const applied = k.lastStatus?.appliedSeq ?? -1;
    finals.forEach((f, rank) => {
      const end = f?.appliedSeq ?? -1;
      if (end < resolved)
        problems.push(
          `rank ${k.rank} had a submit resolved at seq ${resolved} before it was killed, but rank ${rank} ended at applied seq ${end}`,
        );
      else if (end < applied)
        problems.push(
          `rank ${k.rank} had applied seq ${applied} before it was killed, but rank ${rank} ended at ${end}`,
        );
    });
  }
  return problems;
}

/** For the scenario's line: how long each wiped rank took from its restart to its install. */
export function rejoinNotes(
  wipes: readonly { rank: number; restartUs: number | null }[],
  logs: readonly (LogTimes | undefined)[],
): string[] {
  return wipes.flatMap((w) => {
    const restart = w.restartUs;
    const install = logs[w.rank]?.installs?.find((i) => restart !== null && i.atUs >= restart);
    if (restart === null || !install) return [];
    const ms = (install.atUs - restart) / 1000;
    return [`rank ${w.rank} restart->install (seq ${install.seq}) ${ms.toFixed(0)} ms`];
  });
}
