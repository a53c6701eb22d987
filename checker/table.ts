// A rank's commit table (seq -> instance), kept as two sorted parallel arrays.
//
// Sorted arrays rather than a Map or a seq-indexed array: they cost two numbers
// per seq, and comparing two tables (rule 3) or finding gaps is a linear walk
// that never depends on how large the seqs are.
import type { RankLog } from "./parse.js";

/** Two commit lines of one rank for the same seq. */
export interface SeqClash {
  seq: number;
  /** the id the table keeps (the first line for that seq in the file) */
  keptId: number;
  /** the id of a later line for the same seq (equal to keptId for a repeated line) */
  laterId: number;
}

export interface CommitTable {
  rank: number;
  /** distinct committed seqs, ascending (may be the log's own array: do not modify) */
  seqs: readonly number[];
  /** ids[i] is the instance committed at seqs[i] (may be the log's own array) */
  ids: readonly number[];
  /** -1 when the rank committed nothing */
  maxSeq: number;
  clashes: SeqClash[];
  /** the highest seq an installed snapshot covered (-1: the rank installed none); the rank has
   * no commit line for the seqs it covered, and needs none */
  installedUpTo: number;
}

export function buildCommitTable(log: RankLog): CommitTable {
  const { commitSeq, commitId } = log;
  const installedUpTo = log.installSeq.reduce((max, seq) => Math.max(max, seq), -1);
  if (isStrictlyIncreasing(commitSeq)) {
    // The usual case: the log's columns already are the table, so share them
    // rather than copying millions of entries.
    const maxSeq = commitSeq[commitSeq.length - 1] ?? -1;
    return { rank: log.rank, seqs: commitSeq, ids: commitId, maxSeq, clashes: [], installedUpTo };
  }
  const seqs: number[] = [];
  const ids: number[] = [];
  const clashes: SeqClash[] = [];
  for (const line of linesBySeq(commitSeq)) {
    const seq = commitSeq[line] ?? 0;
    const id = commitId[line] ?? 0;
    const last = seqs.length - 1;
    if (last >= 0 && seqs[last] === seq) {
      clashes.push({ seq, keptId: ids[last] ?? id, laterId: id });
    } else {
      seqs.push(seq);
      ids.push(id);
    }
  }
  const maxSeq = seqs[seqs.length - 1] ?? -1;
  return { rank: log.rank, seqs, ids, maxSeq, clashes, installedUpTo };
}

function isStrictlyIncreasing(values: readonly number[]): boolean {
  for (let index = 1; index < values.length; index++) {
    if ((values[index - 1] ?? 0) >= (values[index] ?? 0)) return false;
  }
  return true;
}

/** Line numbers ordered by seq, ties in file order (so the first line for a seq comes first). */
function linesBySeq(seqs: readonly number[]): number[] {
  const lines = Array.from({ length: seqs.length }, (_, line) => line);
  return lines.sort((a, b) => (seqs[a] ?? 0) - (seqs[b] ?? 0) || a - b);
}

/** Who generated each instance, and when. */
export interface Generators {
  /** rank of the first generate line for each instance id, -1 if never generated */
  rank: Int32Array;
  /** time of that generate line (microseconds) */
  time: Float64Array;
}

/**
 * An instance should be generated once; if several generate lines name it, the
 * first one (lowest rank, then file order) counts.
 */
export function findGenerators(logs: readonly RankLog[], instanceCount: number): Generators {
  const generators: Generators = {
    rank: new Int32Array(instanceCount).fill(-1),
    time: new Float64Array(instanceCount),
  };
  for (const log of logs) {
    log.generateId.forEach((id, line) => {
      if (generators.rank[id] !== -1) return;
      generators.rank[id] = log.rank;
      generators.time[id] = log.generateTime[line] ?? 0;
    });
  }
  return generators;
}
