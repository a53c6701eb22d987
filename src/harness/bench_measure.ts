// Figures of one benchmark run, from its rank logs and status files. Definitions (README,
// Performance) that cannot flatter:
// - An instance's time is when the workload SCHEDULED it (the k-th instance of a rank's schedule is
//   due at start + k / rate), not when the consensus loop got round to stamping it: the loop may sit
//   on an fsync, and stamping late would hide that queueing (coordinated omission). The lag from
//   scheduled to stamped is reported on its own. Fillers (instances a rank makes up to fill a seq
//   the leader allotted it when nothing was pending) share the generate counter but were never
//   offered: they are told apart (see classify) and left out of every figure but their count.
// - Throughput counts only instances scheduled inside the window that were committed on EVERY rank
//   (at any time before the run ended), per second of window: a backlog left over from warm-up
//   never counts.
// - Backlog at time t: instances scheduled by t and not yet committed on every rank at t. A run is
//   sustained only if the backlog did not grow across the window (beyond 1% of the instances
//   offered in it: commits arrive in batches, so the count at an instant jitters).
// - Latency: from the scheduled time to the commit on the generating rank (same clock).
import { existsSync, readFileSync } from "node:fs";
import { logPath, statusPath } from "../cli/launch.js";
import { eachLogLine } from "../protocol/log_lines.js";

/** A rank's generation schedule, as its status file reports it. */
export interface Schedule {
  startUs: number;
  endUs: number;
  ratePerS: number;
  firstSeq: number;
  /** Fillers the rank reports it made (null: unknown); must match what the log shows. */
  fillers: number | null;
}

export interface RankRun {
  /** The rank's log file text. */
  log: string;
  /** Null if the rank reported none: its instances are then timed from their generate stamps. */
  schedule: Schedule | null;
}

export interface RunFigures {
  /** Instances scheduled in the window, per second. */
  offeredPerS: number;
  /** Of those, the ones committed on every rank, per second. */
  committedPerS: number;
  backlogStart: number;
  backlogEnd: number;
  sustained: boolean;
  /** Scheduled -> commit on the generating rank, instances of the window. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Scheduled -> stamped in the generate line. */
  lagP50Ms: number;
  lagP99Ms: number;
  /** Fillers made in the window (not offered load: in no other figure). */
  fillers: number;
}

/** Growth of the backlog across the window still counted as "not growing", as a share of offered. */
const BACKLOG_SLACK = 0.01;
interface Instance {
  rank: number;
  filler: boolean;
  scheduledUs: number;
  stampUs: number;
  ownCommitUs: number;
  /** Ranks that committed it, and the latest of those commits. */
  commits: number;
  lastCommitUs: number;
}

/**
 * Tells a rank's background instances from its fillers, and gives each its scheduled time. The
 * generator (protocol/generation.ts) makes instance j+1 once floor((now - start) * rate / 1e6)
 * reaches j+1, and a filler is made only after every due instance was (same step, same stamp). So,
 * walking the generate lines in order with j background instances seen, a line stamped t is the
 * next background instance exactly when floor((t - start) * rate / 1e6) > j (and j is below the
 * schedule's total); otherwise it is a filler. The same arithmetic as the generator: no tolerance.
 * (The consensus handler takes every due instance before it makes a filler, between generation
 * ticks too: consensus_handler.test.ts pins that.) One life of a rank only: lines of an earlier
 * life (seq < firstSeq) count as fillers, so a restarted rank fails the filler count check below.
 */
export function classify(
  schedule: Schedule,
  lines: readonly { seq: number; stampUs: number }[],
): { scheduledUs: number; filler: boolean }[] {
  const { startUs, endUs, ratePerS, firstSeq } = schedule;
  const total = Math.floor(((endUs - startUs) * ratePerS) / 1e6);
  let j = 0;
  return lines.map(({ seq, stampUs }) => {
    if (seq < firstSeq || j >= total || Math.floor(((stampUs - startUs) * ratePerS) / 1e6) <= j)
      return { scheduledUs: stampUs, filler: true };
    j++;
    return { scheduledUs: startUs + (j * 1e6) / ratePerS, filler: false };
  });
}

/** Every generated instance with its scheduled and stamped time. Throws if the fillers found do
 * not match the count the rank reported (the schedule does not describe this log). */
function generatedInstances(ranks: readonly RankRun[]): Map<string, Instance> {
  const instances = new Map<string, Instance>();
  ranks.forEach(({ log, schedule }, rank) => {
    const lines: { id: string; seq: number; stampUs: number }[] = [];
    eachLogLine(log, "generate", (id, seq, stampUs) => lines.push({ id, seq, stampUs }));
    const kinds =
      schedule && schedule.ratePerS > 0
        ? classify(schedule, lines)
        : lines.map((l) => ({ scheduledUs: l.stampUs, filler: false }));
    const fillers = kinds.filter((k) => k.filler).length;
    if (schedule?.fillers != null && fillers !== schedule.fillers) {
      throw new Error(
        `rank ${rank}: its log shows ${fillers} fillers against its schedule, its status reports ${schedule.fillers}: the schedule does not match the log`,
      );
    }
    lines.forEach((line, i) => {
      const kind = kinds[i] ?? { scheduledUs: line.stampUs, filler: false };
      instances.set(line.id, {
        rank,
        ...kind,
        stampUs: line.stampUs,
        ownCommitUs: NaN,
        commits: 0,
        lastCommitUs: -Infinity,
      });
    });
  });
  ranks.forEach(({ log }, rank) => {
    eachLogLine(log, "commit", (id, _seq, t) => {
      const inst = instances.get(id);
      if (!inst) return;
      inst.commits++;
      if (t > inst.lastCommitUs) inst.lastCommitUs = t;
      if (inst.rank === rank) inst.ownCommitUs = t;
    });
  });
  return instances;
}

/** Nearest-rank percentile of sorted values (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ??
    NaN
  );
}

/** The window starts warmS after the earliest schedule start (or first generate) of any rank. */
export function measureRun(ranks: readonly RankRun[], warmS: number, windowS: number): RunFigures {
  const instances = generatedInstances(ranks);
  const starts = ranks.flatMap((r) => (r.schedule ? [r.schedule.startUs] : []));
  let first = starts.length > 0 ? Math.min(...starts) : Infinity;
  if (starts.length === 0)
    for (const inst of instances.values()) first = Math.min(first, inst.stampUs);
  const from = first + warmS * 1e6;
  const to = from + windowS * 1e6;
  const everywhere = (inst: Instance, t: number) =>
    inst.commits === ranks.length && inst.lastCommitUs <= t;
  let offered = 0;
  let committed = 0;
  let backlogStart = 0;
  let backlogEnd = 0;
  let fillers = 0;
  const latencies: number[] = [];
  const lags: number[] = [];
  for (const inst of instances.values()) {
    if (inst.filler) {
      if (inst.stampUs >= from && inst.stampUs < to) fillers++;
      continue;
    }
    if (inst.scheduledUs <= from && !everywhere(inst, from)) backlogStart++;
    if (inst.scheduledUs <= to && !everywhere(inst, to)) backlogEnd++;
    if (inst.scheduledUs < from || inst.scheduledUs >= to) continue;
    offered++;
    if (inst.commits === ranks.length) committed++;
    if (!Number.isNaN(inst.ownCommitUs))
      latencies.push((inst.ownCommitUs - inst.scheduledUs) / 1000);
    // classify() makes stamp >= scheduled (up to float rounding): anything else is a bug here.
    const lagUs = inst.stampUs - inst.scheduledUs;
    if (lagUs < -1)
      throw new Error(
        `instance of rank ${inst.rank} stamped ${-lagUs} µs before its scheduled time`,
      );
    lags.push(Math.max(0, lagUs) / 1000);
  }
  latencies.sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  return {
    offeredPerS: offered / windowS,
    committedPerS: committed / windowS,
    backlogStart,
    backlogEnd,
    sustained: offered > 0 && backlogEnd - backlogStart <= BACKLOG_SLACK * offered,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? NaN,
    lagP50Ms: percentile(lags, 50),
    lagP99Ms: percentile(lags, 99),
    fillers,
  };
}

/** The schedule in a rank's status file (written by --status-file), if there is one. */
export function readSchedule(path: string): Schedule | null {
  if (!existsSync(path)) return null;
  const status = JSON.parse(readFileSync(path, "utf8")) as {
    generation?: Partial<Schedule> | null;
    fillers?: unknown;
  };
  const g = status.generation;
  if (
    !g ||
    typeof g.startUs !== "number" ||
    typeof g.endUs !== "number" ||
    typeof g.ratePerS !== "number" ||
    typeof g.firstSeq !== "number"
  )
    return null;
  const fillers = typeof status.fillers === "number" ? status.fillers : null;
  return {
    startUs: g.startUs,
    endUs: g.endUs,
    ratePerS: g.ratePerS,
    firstSeq: g.firstSeq,
    fillers,
  };
}

/** A benchmark run's figures; every rank must have reported its schedule (timing a rank from its
 * stamps instead would bring back the coordinated omission this module exists to avoid). */
export function measurePoint(dir: string, n: number, warmS: number, windowS: number): RunFigures {
  const ranks = Array.from({ length: n }, (_, r) => {
    const schedule = readSchedule(statusPath(dir, r));
    if (!schedule)
      throw new Error(
        `rank ${r} reported no generation schedule in ${statusPath(dir, r)}: cannot time its instances from their schedule`,
      );
    return { log: readFileSync(logPath(dir, r), "utf8"), schedule };
  });
  return measureRun(ranks, warmS, windowS);
}

/** cpu seconds and peak RSS (MB) from a rank's summary line. */
export function usageOf(stdout: string): { cpuS: number; rssMb: number } {
  const m = /cpu ([\d.]+) s, peak rss (\d+) MB/.exec(stdout);
  return m ? { cpuS: Number(m[1]), rssMb: Number(m[2]) } : { cpuS: NaN, rssMb: NaN };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? NaN;
}
