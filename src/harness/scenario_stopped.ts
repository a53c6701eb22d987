// Checks of the faults that stop a rank or hold it back: kill and pause (its status file stops
// advancing; a paused rank commits nothing while stopped, then catches up) and a late start. Pure
// functions that return the problems they found (scenario_checks.ts, confirmAll, calls them).
import { maxSeqBy, type LogTimes, type StatusSnapshot } from "./scenario_evidence.js";

/**
 * A killed or paused rank's status file stops advancing: it wrote a status shortly before fromUs
 * (it was alive, so the silence means something) and none from fromUs + marginUs until toUs.
 */
export function confirmSilent(
  rank: number,
  history: readonly StatusSnapshot[],
  fromUs: number,
  toUs: number,
  what: string,
  marginUs = 50_000,
): string[] {
  const before = history.filter((s) => s.atUs <= fromUs + marginUs);
  const last = before[before.length - 1];
  if (!last || last.atUs < fromUs - 1_000_000)
    return [`rank ${rank} wrote no status in the second before it was ${what}`];
  const during = history.filter((s) => s.atUs > fromUs + marginUs && s.atUs < toUs);
  if (during.length > 0)
    return [`rank ${rank} kept writing its status while ${what} (${during.length} times)`];
  return [];
}

/**
 * A paused rank commits nothing while stopped (fromUs..toUs, minus a margin at each edge), commits
 * again after it is resumed, and reaches the highest seq any rank had committed by the resume.
 */
export function confirmPause(
  rank: number,
  logs: readonly LogTimes[],
  fromUs: number,
  toUs: number,
  marginUs = 50_000,
): string[] {
  const problems: string[] = [];
  const own = logs[rank]?.commits ?? [];
  const during = own.filter((c) => c.atUs > fromUs + marginUs && c.atUs < toUs - marginUs).length;
  if (during > 0) problems.push(`rank ${rank} committed ${during} times while paused`);
  if (!own.some((c) => c.atUs > toUs))
    problems.push(`rank ${rank} committed nothing after it was resumed`);
  const target = maxSeqBy(logs, [...logs.keys()], toUs);
  const reached = Math.max(-1, ...own.map((c) => c.seq));
  if (reached < target)
    problems.push(
      `rank ${rank} did not catch up after the pause (reached seq ${reached}, the cluster had ${target} at the resume)`,
    );
  return problems;
}

/**
 * A rank started late wrote nothing before it was started (no log line, no status), each of the
 * others had committed at least afterCommits instances without it by then (what the scenario waited
 * for), and it caught up: it committed after its start, up to at least the highest seq the others
 * had reached when it started.
 */
export function confirmLateStart(
  rank: number,
  logs: readonly LogTimes[],
  history: readonly StatusSnapshot[],
  startUs: number,
  afterCommits: number,
): string[] {
  const problems: string[] = [];
  const own = logs[rank];
  const early =
    (own?.commits.filter((c) => c.atUs < startUs).length ?? 0) +
    [...(own?.generated.values() ?? [])].filter((t) => t < startUs).length;
  if (early > 0) problems.push(`rank ${rank} wrote ${early} log lines before it was started`);
  if (history.some((s) => s.atUs < startUs))
    problems.push(`rank ${rank} wrote a status before it was started`);
  const others = [...logs.keys()].filter((r) => r !== rank);
  const need = Math.max(1, afterCommits);
  for (const r of others) {
    const done = (logs[r]?.commits ?? []).filter((c) => c.atUs < startUs).length;
    if (done < need)
      problems.push(
        `rank ${r} had committed ${done} instances when rank ${rank} started (it was to start after ${need})`,
      );
  }
  const target = maxSeqBy(logs, others, startUs);
  const after = own?.commits.filter((c) => c.atUs >= startUs) ?? [];
  if (after.length === 0) problems.push(`rank ${rank} committed nothing after it started`);
  else if (Math.max(...after.map((c) => c.seq)) < target)
    problems.push(`rank ${rank} did not catch up (the others had seq ${target} when it started)`);
  return problems;
}
