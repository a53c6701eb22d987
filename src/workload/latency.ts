// Latencies of submitted commands, kept as log-scale histograms per second of schedule (second 0
// starts at the schedule's start): a benchmark picks the seconds of its window and reads
// percentiles from them, without the workload knowing what a window is. Bounded: one histogram
// per second of the run, at most BUCKETS buckets each.

/** Each bucket is 2% wider than the one before: percentiles are read to within 2%. */
const GROWTH = 1.02;
const BUCKETS = 1200; // 1 µs .. 1.02^1200 µs (over 5 hours): everything a run can see
const LOG_GROWTH = Math.log(GROWTH);

export function bucketOf(latencyUs: number): number {
  if (!(latencyUs > 1)) return 0;
  return Math.min(BUCKETS - 1, Math.floor(Math.log(latencyUs) / LOG_GROWTH));
}

/** The latency a bucket stands for (its upper edge: percentiles never flatter). */
export function bucketUs(bucket: number): number {
  return Math.pow(GROWTH, bucket + 1);
}

/** One second of schedule: how many commands were due in it, and their latencies by bucket. */
export interface SecondOfLatency {
  /** Commands due in this second that resolved (committed and applied on the submitting rank). */
  n: number;
  /** [bucket, count] pairs, buckets ascending. */
  buckets: Array<[number, number]>;
}

export class LatencyBook {
  private readonly seconds = new Map<number, Map<number, number>>();

  /** A command due at second `second` of the schedule resolved latencyUs after it was due. */
  record(second: number, latencyUs: number): void {
    let hist = this.seconds.get(second);
    if (!hist) this.seconds.set(second, (hist = new Map<number, number>()));
    const b = bucketOf(latencyUs);
    hist.set(b, (hist.get(b) ?? 0) + 1);
  }

  /** Every second recorded, by second index (for a status file). */
  toJSON(): Record<string, SecondOfLatency> {
    const out: Record<string, SecondOfLatency> = {};
    for (const [s, hist] of [...this.seconds].sort((a, b) => a[0] - b[0])) {
      const buckets = [...hist].sort((a, b) => a[0] - b[0]);
      out[String(s)] = { n: buckets.reduce((sum, [, c]) => sum + c, 0), buckets };
    }
    return out;
  }
}

/** Seconds [from, to) of several books merged: count and percentiles (µs; NaN when empty). */
export function mergeSeconds(
  books: ReadonlyArray<Record<string, SecondOfLatency> | undefined>,
  from: number,
  to: number,
): { n: number; percentile(p: number): number } {
  const merged = new Map<number, number>();
  let n = 0;
  for (const book of books)
    for (let s = from; s < to; s++)
      for (const [b, c] of book?.[String(s)]?.buckets ?? []) {
        merged.set(b, (merged.get(b) ?? 0) + c);
        n += c;
      }
  const sorted = [...merged].sort((a, b) => a[0] - b[0]);
  return {
    n,
    percentile(p: number): number {
      if (n === 0) return NaN;
      const rank = Math.max(1, Math.ceil((p / 100) * n));
      let seen = 0;
      for (const [b, c] of sorted) if ((seen += c) >= rank) return bucketUs(b);
      return NaN;
    },
  };
}
