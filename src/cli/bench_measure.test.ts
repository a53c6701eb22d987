// The benchmark's window accounting on synthetic log sets whose figures are known by hand.
import { describe, expect, it } from "vitest";
import { measureRun, type RankRun } from "./bench_measure.js";

const T0 = 1_700_000_000_000_000; // µs, like real logs
const RATE = 1000; // per rank: instance k (k = 1, 2, ...) is scheduled at T0 + k ms
const WARM_S = 0.01; // the window is [T0 + 10 ms, T0 + 20 ms): instances k = 10..19 of each rank
const WINDOW_S = 0.01;

interface Spec {
  rank: number;
  k: number;
  /** ms from scheduled time to the generate stamp */
  lagMs?: number;
  /** commit time (ms after T0) on rank 0 and rank 1; null: never committed there */
  commitMs: [number | null, number | null];
}

/** Two ranks' logs (and schedules) from instance specs; commit lines in time order per rank. */
function build(specs: readonly Spec[], withSchedule = true): RankRun[] {
  return [0, 1].map((rank) => {
    const generates = specs.filter((s) => s.rank === rank)
      .map((s) => `generate Instance[${rank}-${s.k - 1}] in seq ${s.k - 1} at ${T0 + (s.k + (s.lagMs ?? 0)) * 1000}`);
    const commits = specs.flatMap((s) => {
      const at = s.commitMs[rank];
      return at === null || at === undefined ? [] : [{ id: `${s.rank}-${s.k - 1}`, at }];
    }).sort((a, b) => a.at - b.at)
      .map((c, seq) => `commit Instance[${c.id}] in seq ${seq} at ${T0 + c.at * 1000}`);
    return {
      log: ["some other line", ...generates, ...commits].join("\n") + "\n",
      schedule: withSchedule ? { startUs: T0, ratePerS: RATE, firstSeq: 0 } : null,
    };
  });
}

/** k = 1..30 on both ranks, each committed everywhere `latencyMs` after it was scheduled. */
function steady(latencyMs: number, tweak: (s: Spec) => Spec = (s) => s): Spec[] {
  return [0, 1].flatMap((rank) =>
    Array.from({ length: 30 }, (_, i) => tweak({ rank, k: i + 1, commitMs: [i + 1 + latencyMs, i + 1 + latencyMs] })));
}

describe("benchmark window accounting", () => {
  it("a steady run: offered = committed, a flat backlog, latency from scheduled time", () => {
    const f = measureRun(build(steady(5)), WARM_S, WINDOW_S);
    expect(f.offeredPerS).toBe(2000); // 20 instances in 10 ms
    expect(f.committedPerS).toBe(2000);
    // At 10 ms: k = 6..10 of each rank are scheduled and not yet committed; at 20 ms: k = 16..20.
    expect([f.backlogStart, f.backlogEnd]).toEqual([10, 10]);
    expect(f.sustained).toBe(true);
    expect([f.p50Ms, f.p99Ms, f.maxMs]).toEqual([5, 5, 5]);
    expect([f.lagP50Ms, f.lagP99Ms]).toEqual([0, 0]);
  });

  it("a growing backlog is not sustained; an instance missing on one rank is not throughput", () => {
    const specs = steady(5, (s) => {
      // Rank 1's k = 11..15 reach rank 0 only at k + 25 ms; rank 0's k = 12 never reaches rank 1.
      if (s.rank === 1 && s.k >= 11 && s.k <= 15) return { ...s, commitMs: [s.k + 25, s.k + 5] };
      if (s.rank === 0 && s.k === 12) return { ...s, commitMs: [s.k + 5, null] };
      if (s.rank === 1 && s.k === 19) return { ...s, commitMs: [s.k + 5, s.k + 9] };
      return s;
    });
    const f = measureRun(build(specs), WARM_S, WINDOW_S);
    expect(f.offeredPerS).toBe(2000);
    expect(f.committedPerS).toBe(1900); // 19 of the 20 were committed on every rank
    // At 20 ms: k = 16..20 of rank 0, plus its k = 12; k = 11..20 of rank 1.
    expect([f.backlogStart, f.backlogEnd]).toEqual([10, 16]);
    expect(f.sustained).toBe(false);
    // Latency is timed on the generating rank: rank 1's late commits on rank 0 do not count.
    expect([f.p50Ms, f.p99Ms, f.maxMs]).toEqual([5, 9, 9]);
  });

  it("a warm-up backlog drained inside the window does not count as throughput", () => {
    // Nothing committed until 15 ms, then everything scheduled so far at once, then 1 ms latency.
    const f = measureRun(build(steady(1, (s) => (s.k <= 14 ? { ...s, commitMs: [15, 15] } : s))), WARM_S, WINDOW_S);
    // Committed inside the window: 2 x 14 drained + 2 x 5 new (k 15..19 at k + 1 < 20) = 38 in 10 ms,
    // which an every-commit-in-the-window count would have called 3800/s.
    expect(f.committedPerS).toBe(2000);
    expect(f.offeredPerS).toBe(2000);
    expect([f.backlogStart, f.backlogEnd]).toEqual([20, 2]);
    expect(f.sustained).toBe(true);
  });

  it("times latency from the schedule: a stalled loop that stamps late cannot hide its queueing", () => {
    // k = 10..14 of rank 0 are stamped together at 18 ms (the loop was busy), committed at 20 ms.
    const specs = steady(2, (s) => (s.rank === 0 && s.k >= 10 && s.k <= 14 ? { ...s, lagMs: 18 - s.k, commitMs: [20, 20] } : s));
    const scheduled = measureRun(build(specs), WARM_S, WINDOW_S);
    expect(scheduled.maxMs).toBe(10); // k = 10: scheduled at 10, committed at 20
    expect(scheduled.lagP99Ms).toBe(8); // 5 of 20 were late by 4..8 ms
    expect(scheduled.lagP50Ms).toBe(0);
    // Timed from the stamps (no schedule known), the same run looks better: 2 ms at most.
    const stamped = measureRun(build(specs, false), WARM_S, WINDOW_S);
    expect(stamped.maxMs).toBeLessThan(scheduled.maxMs);
  });

  it("refuses a schedule that the log contradicts (a stamp before its scheduled time)", () => {
    const runs = build(steady(5, (s) => (s.rank === 1 && s.k === 3 ? { ...s, lagMs: -0.5 } : s)));
    expect(() => measureRun(runs, WARM_S, WINDOW_S)).toThrow(/rank 1: instance 1-2 is stamped 500 µs before its scheduled time/);
  });
});
