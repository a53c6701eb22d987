// Proof that a scenario's faults took effect: small pure functions over what the runs left behind
// (log lines with their timestamps, the snapshots of each rank's status file, the summary lines)
// and what the runner did when (kill, pause, partition, late start). Each returns the problems it
// found, in words; no problem means the fault is confirmed. The scenario runner calls confirmAll;
// the unit tests call each one on synthetic data, including data where the fault did not happen.
// Finding the leader and confirming its kill are in scenario_leader.ts.
import { z } from "zod";
import { eachLogLine } from "../protocol/log_lines.js";
import { confirmTakeover, confirmWasLeading } from "./scenario_leader.js";

/** One snapshot of a rank's status file (--status-file); see src/cli/status_file.ts. */
export interface StatusSnapshot {
  rank: number;
  round: number;
  leader: number;
  leading: { round: number; phase: string } | null;
  commitIndex: number;
  atUs: number;
  pid: number;
  faults?: FaultCounters;
  partition?: number[][];
}

export interface FaultCounters {
  dropped: number;
  duplicated: number;
  delayed: number;
  cut: number;
}

const statusSchema = z.object({
  rank: z.number(),
  round: z.number(),
  leader: z.number(),
  leading: z.object({ round: z.number(), phase: z.string() }).nullable(),
  commitIndex: z.number(),
  atUs: z.number(),
  pid: z.number(),
  faults: z
    .object({ dropped: z.number(), duplicated: z.number(), delayed: z.number(), cut: z.number() })
    .optional(),
  partition: z.array(z.array(z.number())).optional(),
});

/** A status file's text as a snapshot, or null if it is not one (yet). */
export function parseStatus(text: string): StatusSnapshot | null {
  try {
    const r = statusSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

export interface Commit {
  seq: number;
  id: string;
  atUs: number;
}

/** What the checks need from one rank's log: its commits and when it generated what. */
export interface LogTimes {
  commits: Commit[];
  /** Instance id -> generate timestamp (µs). */
  generated: Map<string, number>;
}

export function parseLog(text: string): LogTimes {
  const commits: Commit[] = [];
  const generated = new Map<string, number>();
  eachLogLine(text, "commit", (id, seq, atUs) => commits.push({ seq, id, atUs }));
  eachLogLine(text, "generate", (id, _seq, atUs) => generated.set(id, atUs));
  return { commits, generated };
}

/** The fault counters a rank appends to its summary line when fault injection is on. */
export function parseFaultCounters(summary: string): FaultCounters | null {
  const m = /; faults dropped (\d+), duplicated (\d+), delayed (\d+), cut (\d+)\s*$/.exec(summary);
  return m
    ? { dropped: Number(m[1]), duplicated: Number(m[2]), delayed: Number(m[3]), cut: Number(m[4]) }
    : null;
}

const quorumOf = (n: number) => Math.floor(n / 2) + 1;
const secs = (us: number) => `${(us / 1e6).toFixed(2)} s`;

// ---------------------------------------------------------------------------------------------
// Kill, pause, late start

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

// ---------------------------------------------------------------------------------------------
// No majority: nothing new; a majority: progress

/** The highest seq any of `ranks` had committed by atUs (-1: none). */
function maxSeqBy(logs: readonly LogTimes[], ranks: readonly number[], atUs: number): number {
  let max = -1;
  for (const r of ranks)
    for (const c of logs[r]?.commits ?? []) if (c.atUs <= atUs && c.seq > max) max = c.seq;
  return max;
}

/**
 * Ranks cut off from a majority (fromUs..toUs) commit nothing new: no seq above the highest any
 * of them had committed at fromUs. (They may still copy, from one another, commits that were
 * already decided before the cut: that is catch-up, not new work.)
 */
export function confirmQuiet(
  ranks: readonly number[],
  logs: readonly LogTimes[],
  fromUs: number,
  toUs: number,
  why: string,
): string[] {
  const known = maxSeqBy(logs, ranks, fromUs);
  const problems: string[] = [];
  for (const r of ranks) {
    const fresh = (logs[r]?.commits ?? []).filter(
      (c) => c.atUs > fromUs && c.atUs < toUs && c.seq > known,
    );
    const first = fresh[0];
    if (first)
      problems.push(
        `rank ${r} committed ${fresh.length} new seqs ${why} (seq ${first.seq} at +${secs(first.atUs - fromUs)}; none of them had more than seq ${known})`,
      );
  }
  return problems;
}

/**
 * Ranks without a majority had work that waited for it (else "commit nothing new" passes for ranks
 * that had nothing to commit): they generated instances in fromUs..toUs, none of those was committed
 * on any rank before backUs (when the majority came back), and each of these ranks committed all of
 * them after backUs.
 */
export function confirmHeld(
  ranks: readonly number[],
  logs: readonly LogTimes[],
  fromUs: number,
  toUs: number,
  backUs: number,
  why: string,
): string[] {
  const held = new Set<string>();
  for (const r of ranks)
    for (const [id, t] of logs[r]?.generated ?? []) if (t > fromUs && t < toUs) held.add(id);
  if (held.size === 0)
    return [`ranks ${ranks.join(", ")} generated nothing ${why}: no work was held back`];
  const problems: string[] = [];
  for (const [r, l] of logs.entries()) {
    const early = l.commits.filter((c) => held.has(c.id) && c.atUs < backUs);
    const first = early[0];
    if (first)
      problems.push(
        `rank ${r} committed ${early.length} of the ${held.size} instances generated ${why} before the majority was back (${first.id} at +${secs(first.atUs - fromUs)})`,
      );
  }
  for (const r of ranks) {
    const late = new Set(
      (logs[r]?.commits ?? []).filter((c) => held.has(c.id) && c.atUs >= backUs).map((c) => c.id),
    );
    if (late.size < held.size)
      problems.push(
        `rank ${r} committed only ${late.size} of the ${held.size} instances generated ${why} after the majority was back`,
      );
  }
  return problems;
}

/** Ranks that keep a majority commit in both halves of fromUs..toUs. */
export function confirmBusy(
  ranks: readonly number[],
  logs: readonly LogTimes[],
  fromUs: number,
  toUs: number,
  why: string,
): string[] {
  const mid = (fromUs + toUs) / 2;
  const problems: string[] = [];
  for (const r of ranks) {
    const commits = logs[r]?.commits ?? [];
    const first = commits.some((c) => c.atUs > fromUs && c.atUs <= mid);
    const second = commits.some((c) => c.atUs > mid && c.atUs < toUs);
    if (!first || !second)
      problems.push(
        `rank ${r} stopped committing ${why} (nothing in the ${first ? "second" : "first"} half)`,
      );
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Partition

const sameGroups = (
  a: readonly (readonly number[])[] | undefined,
  b: readonly (readonly number[])[],
) => JSON.stringify(a ?? []) === JSON.stringify(b);

/**
 * Every rank's status shows the partition applied after it was written (writeUs) and healed after
 * it was removed (healUs). Returns when the last rank showed it applied (null if one never did).
 */
export function confirmPartitionApplied(
  histories: readonly (readonly StatusSnapshot[])[],
  groups: readonly (readonly number[])[],
  writeUs: number,
  healUs: number,
): { appliedUs: number | null; problems: string[] } {
  const problems: string[] = [];
  let appliedUs: number | null = -Infinity;
  for (const [r, h] of histories.entries()) {
    const applied = h.find(
      (s) => s.atUs >= writeUs && s.atUs <= healUs + 100_000 && sameGroups(s.partition, groups),
    );
    if (!applied) {
      problems.push(`rank ${r} never showed the partition ${JSON.stringify(groups)} applied`);
      appliedUs = null;
    } else if (appliedUs !== null) appliedUs = Math.max(appliedUs, applied.atUs);
    if (!h.some((s) => s.atUs > healUs && s.partition !== undefined && s.partition.length === 0))
      problems.push(`rank ${r} never showed the partition healed`);
  }
  return { appliedUs: appliedUs === -Infinity ? null : appliedUs, problems };
}

/**
 * The whole partition check: applied and healed on every rank; from the moment every rank applied
 * it (plus settleUs for frames already inside a rank) until it was removed, the ranks of a group
 * smaller than a majority commit nothing new and the ranks of a majority group keep committing.
 */
export function confirmPartition(
  n: number,
  groups: readonly (readonly number[])[],
  histories: readonly (readonly StatusSnapshot[])[],
  logs: readonly LogTimes[],
  writeUs: number,
  healUs: number,
  settleUs = 300_000,
): string[] {
  const { appliedUs, problems } = confirmPartitionApplied(histories, groups, writeUs, healUs);
  if (appliedUs === null) return problems;
  const from = appliedUs + settleUs;
  if (from >= healUs - 200_000)
    return [
      ...problems,
      `the partition was applied everywhere only ${secs(appliedUs - writeUs)} after it was written: too late to check`,
    ];
  for (const g of groups) {
    if (g.length >= quorumOf(n))
      problems.push(...confirmBusy(g, logs, from, healUs, "in the majority of the partition"));
    else problems.push(...confirmQuiet(g, logs, from, healUs, "cut off from the majority"));
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Injected frame faults

export interface CounterExpectation {
  dropped: boolean;
  duplicated: boolean;
  delayed: boolean;
  cut: boolean;
}

/**
 * Each rank's summary line carries the fault counters, and each counter is non-zero exactly where
 * the scenario injected that fault (true) and zero where it did not (false): a drop scenario that
 * dropped nothing, or a quiet one that cut links, fails.
 */
export function confirmCounters(
  summaries: readonly (string | undefined)[],
  expect: CounterExpectation,
): string[] {
  const problems: string[] = [];
  for (const [r, line] of summaries.entries()) {
    if (line === undefined) continue; // a rank that did not finish is reported elsewhere
    const c = parseFaultCounters(line);
    if (!c) {
      problems.push(`rank ${r}'s summary line has no fault counters`);
      continue;
    }
    for (const k of ["dropped", "duplicated", "delayed", "cut"] as const) {
      if (expect[k] && c[k] === 0)
        problems.push(`rank ${r}: ${k} 0 although the scenario injects that fault`);
      if (!expect[k] && c[k] > 0)
        problems.push(`rank ${r}: ${k} ${c[k]} although the scenario does not inject that fault`);
    }
  }
  return problems;
}

/** The counters a scenario's rank flags (and its partitions) should make non-zero. */
export function expectedCounters(
  args: readonly string[],
  partitioned: boolean,
): CounterExpectation {
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const positive = (v: string | undefined) => v !== undefined && Number(v) > 0;
  const delay = flag("--delay");
  return {
    dropped: positive(flag("--drop")),
    duplicated: positive(flag("--dup")),
    delayed: delay !== undefined && Number(delay.split("-").pop()) > 0,
    cut: partitioned,
  };
}

// ---------------------------------------------------------------------------------------------
// Everything a scenario did

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
}

export const emptyRecord = (): FaultRecord => ({
  kills: [],
  pauses: [],
  partitions: [],
  lateStarts: [],
  quiet: [],
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
  return problems;
}
