// Proof that a scenario's faults took effect: small pure functions over what the runs left behind
// (log lines with their timestamps, the snapshots of each rank's status file, the summary lines)
// and what the runner did when (kill, pause, partition, late start). Each returns the problems it
// found, in words; no problem means the fault is confirmed. The scenario runner calls confirmAll;
// the unit tests call each one on synthetic data, including data where the fault did not happen.
// The checks themselves are grouped by what they confirm: scenario_stopped.ts (kill, pause, late
// start), scenario_majority.ts (no majority, a majority, a partition), scenario_counters.ts
// (injected frame faults), scenario_leader.ts (finding the leader, confirming its kill) and
// scenario_state.ts (equal states at the end, a wiped rank back by a snapshot); what they read is
// parsed in scenario_evidence.ts.
import { confirmCounters, expectedCounters } from "./scenario_counters.js";
import type { LogTimes, StatusSnapshot } from "./scenario_evidence.js";
import { confirmTakeover, confirmWasLeading } from "./scenario_leader.js";
import { confirmHeld, confirmPartition, confirmQuiet } from "./scenario_majority.js";
import {
  confirmRejoinBySnapshot,
  confirmResolvedApplied,
  confirmSameState,
} from "./scenario_state.js";
import { confirmLateStart, confirmPause, confirmSilent } from "./scenario_stopped.js";

/** What the runner did to the ranks, with times (µs, the ranks' clock). */
export interface FaultRecord {
  kills: {
    rank: number;
    atUs: number;
    restartUs: number | null;
    lastStatus: StatusSnapshot | null;
    leaderRound: number | null;
  }[];
  pauses: { rank: number; atUs: number; resumeUs: number | null }[];
  partitions: { groups: number[][]; atUs: number; healUs: number | null }[];
  /** afterCommits: each of the others must have committed that many before the rank started. */
  lateStarts: { rank: number; atUs: number; afterCommits: number }[];
  /**
   * Ranks that must commit nothing new in a window (e.g. the survivors while a majority is down).
   * heldUntilRestart: they must also have had work there that waited for the killed ranks (confirmHeld,
   * up to the first restart of a rank killed before the window and still down at its end).
   */
  quiet: {
    ranks: number[];
    fromUs: number;
    toUs: number;
    why: string;
    heldUntilRestart?: boolean;
  }[];
  /** Ranks whose data directory (WAL and snapshot) was deleted while they were down, after they
   * had committed up to seq committedBefore; restarted with --rejoin at restartUs. */
  wipes: { rank: number; atUs: number; restartUs: number | null; committedBefore: number }[];
  /** Every rank must end in the same state (applied seq and state hash in its last status), and
   * a killed rank's resolved submits must be applied everywhere. */
  sameState: boolean;
}

export const emptyRecord = (): FaultRecord => ({
  kills: [],
  pauses: [],
  partitions: [],
  lateStarts: [],
  quiet: [],
  wipes: [],
  sameState: false,
});

export interface RunData {
  n: number;
  args: readonly string[];
  logs: readonly LogTimes[];
  histories: readonly (readonly StatusSnapshot[])[];
  /** The summary line of each rank's last life (undefined if it printed none). */
  summaries: readonly (string | undefined)[];
  /** When the run ended (the bound of a fault never undone). */
  endUs: number;
}

export function confirmAll(rec: FaultRecord, d: RunData): string[] {
  const problems: string[] = [];
  for (const k of rec.kills) {
    const back = k.restartUs ?? d.endUs;
    problems.push(
      ...confirmSilent(
        k.rank,
        (d.histories[k.rank] ?? []).filter((s) => s.atUs < back),
        k.atUs,
        back,
        "killed",
      ),
    );
    if (k.leaderRound !== null) {
      problems.push(...confirmWasLeading(k.rank, k.leaderRound, k.lastStatus));
      const round = Math.max(k.leaderRound, k.lastStatus?.leading?.round ?? -1);
      problems.push(...confirmTakeover(d.histories, d.logs, k.rank, round, k.atUs, back));
    }
  }
  for (const p of rec.pauses) {
    const resume = p.resumeUs ?? d.endUs;
    problems.push(...confirmSilent(p.rank, d.histories[p.rank] ?? [], p.atUs, resume, "paused"));
    problems.push(...confirmPause(p.rank, d.logs, p.atUs, resume));
  }
  for (const p of rec.partitions)
    problems.push(
      ...confirmPartition(d.n, p.groups, d.histories, d.logs, p.atUs, p.healUs ?? d.endUs),
    );
  for (const l of rec.lateStarts)
    problems.push(
      ...confirmLateStart(l.rank, d.logs, d.histories[l.rank] ?? [], l.atUs, l.afterCommits),
    );
  for (const q of rec.quiet) {
    problems.push(...confirmQuiet(q.ranks, d.logs, q.fromUs, q.toUs, q.why));
    if (!q.heldUntilRestart) continue;
    const down = rec.kills.filter((k) => k.atUs <= q.fromUs && (k.restartUs ?? Infinity) >= q.toUs);
    if (down.length === 0)
      problems.push(`no rank was killed before the window ${q.why} and down until its end`);
    else
      problems.push(
        ...confirmHeld(
          q.ranks,
          d.logs,
          q.fromUs,
          q.toUs,
          Math.min(...down.map((k) => k.restartUs ?? d.endUs)),
          q.why,
        ),
      );
  }
  problems.push(
    ...confirmCounters(d.summaries, expectedCounters(d.args, rec.partitions.length > 0)),
  );
  problems.push(...confirmState(rec, d));
  return problems;
}

/** The wiped ranks came back by a snapshot; with sameState, the replicas ended equal. */
function confirmState(rec: FaultRecord, d: RunData): string[] {
  const problems: string[] = [];
  for (const w of rec.wipes) {
    if (w.restartUs === null) problems.push(`rank ${w.rank} was wiped and never restarted`);
    else
      problems.push(
        ...confirmRejoinBySnapshot(w.rank, d.logs[w.rank], w.restartUs, w.committedBefore),
      );
  }
  if (rec.sameState) {
    const finals = d.histories.map((h) => h[h.length - 1]);
    problems.push(...confirmSameState(finals), ...confirmResolvedApplied(rec.kills, finals));
  }
  return problems;
}
