// Throughput and latency figures of a run, from the timestamps in the logs.
import type { InstanceNames } from "./names.js";
import type { RankLog } from "./parse.js";
import { findGenerators, type CommitTable } from "./table.js";

export interface LatencyFigures {
  /** number of committed instances whose latency was measured */
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface Figures {
  /** distinct instances named by generate lines */
  generatedInstances: number;
  /** distinct instances named by commit lines, on any rank */
  committedInstances: number;
  /** distinct committed seqs of the rank that has the most */
  committedSeqs: number;
  /** first generate to last commit, across all ranks; undefined without both */
  spanSeconds: number | undefined;
  /** committedSeqs / spanSeconds; undefined when nothing was committed or the span is not positive */
  commitsPerSecond: number | undefined;
  /** undefined when no generated instance was committed */
  latency: LatencyFigures | undefined;
}

const MICROSECONDS_PER_SECOND = 1e6;
const MICROSECONDS_PER_MILLISECOND = 1e3;

export function computeFigures(
  logs: readonly RankLog[],
  tables: readonly CommitTable[],
  names: InstanceNames,
): Figures {
  const committedSeqs = Math.max(0, ...tables.map((table) => table.seqs.length));
  const spanSeconds = runSpanSeconds(logs);
  const hasRate = committedSeqs > 0 && spanSeconds !== undefined && spanSeconds > 0;
  return {
    generatedInstances: countDistinct(
      logs.map((log) => log.generateId),
      names.size,
    ),
    committedInstances: countDistinct(
      logs.map((log) => log.commitId),
      names.size,
    ),
    committedSeqs,
    spanSeconds,
    commitsPerSecond: hasRate ? committedSeqs / spanSeconds : undefined,
    latency: summariseLatencies(commitLatencies(logs, names)),
  };
}

function countDistinct(idLists: readonly number[][], instanceCount: number): number {
  const seen = new Uint8Array(instanceCount);
  let distinct = 0;
  for (const ids of idLists) {
    for (const id of ids) {
      if (seen[id] === 1) continue;
      seen[id] = 1;
      distinct++;
    }
  }
  return distinct;
}

/** Seconds from the earliest generate line to the latest commit line, over all ranks. */
function runSpanSeconds(logs: readonly RankLog[]): number | undefined {
  let firstGenerate = Infinity;
  let lastCommit = -Infinity;
  for (const log of logs) {
    for (const time of log.generateTime) if (time < firstGenerate) firstGenerate = time;
    for (const time of log.commitTime) if (time > lastCommit) lastCommit = time;
  }
  if (firstGenerate === Infinity || lastCommit === -Infinity) return undefined;
  return (lastCommit - firstGenerate) / MICROSECONDS_PER_SECOND;
}

/**
 * Generate-to-commit latency of every committed, generated instance, in ms.
 * The commit is timed on the generating rank, which shares the generator's
 * clock; if that rank never committed it, the earliest commit on any rank.
 */
export function commitLatencies(logs: readonly RankLog[], names: InstanceNames): Float64Array {
  const generators = findGenerators(logs, names.size);
  const ownCommit = new Float64Array(names.size).fill(Infinity);
  const earliestCommit = new Float64Array(names.size).fill(Infinity);
  for (const log of logs) {
    log.commitId.forEach((id, line) => {
      const time = log.commitTime[line] ?? Infinity;
      if (time < (earliestCommit[id] ?? Infinity)) earliestCommit[id] = time;
      if (generators.rank[id] === log.rank && time < (ownCommit[id] ?? Infinity))
        ownCommit[id] = time;
    });
  }
  const latencies: number[] = [];
  generators.rank.forEach((generator, id) => {
    if (generator === -1) return;
    const own = ownCommit[id] ?? Infinity;
    const commit = own !== Infinity ? own : (earliestCommit[id] ?? Infinity);
    if (commit === Infinity) return;
    latencies.push((commit - (generators.time[id] ?? 0)) / MICROSECONDS_PER_MILLISECOND);
  });
  return Float64Array.from(latencies);
}

/** p50/p99 by the nearest-rank method: the smallest value with at least p% of values at or below it. */
export function summariseLatencies(latencies: Float64Array): LatencyFigures | undefined {
  if (latencies.length === 0) return undefined;
  const sorted = latencies.slice().sort();
  return {
    count: sorted.length,
    p50Ms: nearestRank(sorted, 50),
    p99Ms: nearestRank(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? 0,
  };
}

function nearestRank(sorted: Float64Array, percent: number): number {
  const rank = Math.ceil((percent / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0;
}
