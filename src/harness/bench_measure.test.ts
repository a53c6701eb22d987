// The benchmark's window accounting on synthetic log sets whose figures are known by hand.
import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commitLine, generateLine } from "../protocol/log_lines.js";
import { classify, measurePoint, measureRun, type RankRun } from "./bench_measure.js";

const T0 = 1_700_000_000_000_000; // µs, like real logs
const RATE = 1000; // per rank: instance k (k = 1, 2, ...) is scheduled at T0 + k ms
const WARM_S = 0.01; // the window is [T0 + 10 ms, T0 + 20 ms): instances k = 10..19 of each rank
const WINDOW_S = 0.01;

interface Spec {
  rank: number;
  /** Background instance k of its rank; 0 for a filler (then atMs says when it was made). */
  k: number;
  /** ms from scheduled time to the generate stamp */
  lagMs?: number;
  atMs?: number;
  /** commit time (ms after T0) on rank 0 and rank 1; null: never committed there */
  commitMs: [number | null, number | null];
}

const stampMs = (s: Spec) => s.atMs ?? s.k + (s.lagMs ?? 0);

/** Two ranks' logs (and schedules) from instance specs, generate lines in spec order (the seq is
 * the position: fillers share the counter); commit lines in time order per rank. */
function build(specs: readonly Spec[], withSchedule = true, fillersReported?: number): RankRun[] {
  const idOf = new Map<Spec, string>();
  for (const rank of [0, 1])
    specs.filter((s) => s.rank === rank).forEach((s, seq) => idOf.set(s, `${rank}-${seq}`));
  return [0, 1].map((rank) => {
    const own = specs.filter((s) => s.rank === rank);
    const generates = own.map((s, seq) =>
      generateLine(`${rank}-${seq}`, seq, T0 + stampMs(s) * 1000),
    );
    const commits = specs
      .flatMap((s) => {
        const at = s.commitMs[rank];
        return at === null || at === undefined ? [] : [{ id: idOf.get(s) ?? `${s.rank}-?`, at }];
      })
      .sort((a, b) => a.at - b.at)
      .map((c, seq) => commitLine(c.id, seq, T0 + c.at * 1000));
    const fillers = fillersReported ?? own.filter((s) => s.k === 0).length;
    return {
      log: ["some other line\n", ...generates, ...commits].join(""),
      schedule: withSchedule
        ? { startUs: T0, endUs: T0 + 30_000, ratePerS: RATE, firstSeq: 0, fillers }
        : null,
    };
  });
}

/** k = 1..30 on both ranks, each committed everywhere `latencyMs` after it was scheduled. */
function steady(latencyMs: number, tweak: (s: Spec) => Spec = (s) => s): Spec[] {
  return [0, 1].flatMap((rank) =>
    Array.from({ length: 30 }, (_, i) =>
      tweak({ rank, k: i + 1, commitMs: [i + 1 + latencyMs, i + 1 + latencyMs] }),
    ),
  );
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
    const f = measureRun(
      build(steady(1, (s) => (s.k <= 14 ? { ...s, commitMs: [15, 15] } : s))),
      WARM_S,
      WINDOW_S,
    );
    // Committed inside the window: 2 x 14 drained + 2 x 5 new (k 15..19 at k + 1 < 20) = 38 in 10 ms,
    // which an every-commit-in-the-window count would have called 3800/s.
    expect(f.committedPerS).toBe(2000);
    expect(f.offeredPerS).toBe(2000);
    expect([f.backlogStart, f.backlogEnd]).toEqual([20, 2]);
    expect(f.sustained).toBe(true);
  });

  it("times latency from the schedule: a stalled loop that stamps late cannot hide its queueing", () => {
    // k = 10..14 of rank 0 are stamped together at 18 ms (the loop was busy), committed at 20 ms.
    const specs = steady(2, (s) =>
      s.rank === 0 && s.k >= 10 && s.k <= 14 ? { ...s, lagMs: 18 - s.k, commitMs: [20, 20] } : s,
    );
    const scheduled = measureRun(build(specs), WARM_S, WINDOW_S);
    expect(scheduled.maxMs).toBe(10); // k = 10: scheduled at 10, committed at 20
    expect(scheduled.lagP99Ms).toBe(8); // 5 of 20 were late by 4..8 ms
    expect(scheduled.lagP50Ms).toBe(0);
    // Timed from the stamps (no schedule known), the same run looks better: 2 ms at most.
    const stamped = measureRun(build(specs, false), WARM_S, WINDOW_S);
    expect(stamped.maxMs).toBeLessThan(scheduled.maxMs);
  });

  it("tells fillers from scheduled instances exactly, as the generator made them", () => {
    const schedule = { startUs: 0, endUs: 10_000, ratePerS: 1000, firstSeq: 2, fillers: null };
    const lines = [
      { seq: 0, stampUs: 50 }, // before the schedule started: a filler
      { seq: 1, stampUs: 900 },
      { seq: 2, stampUs: 1000 }, // instance 1, due at 1000
      { seq: 3, stampUs: 1500 }, // made while instance 2 was not due yet: a filler
      { seq: 4, stampUs: 3700 }, // instances 2 and 3, late, in one step
      { seq: 5, stampUs: 3700 },
      { seq: 6, stampUs: 3700 }, // instance 4 is not due until 4000: a filler
      { seq: 7, stampUs: 12_000 }, // instances 4..10 (the last one, due at the end)
      { seq: 8, stampUs: 12_000 },
      { seq: 9, stampUs: 12_000 },
      { seq: 10, stampUs: 12_000 },
      { seq: 11, stampUs: 12_000 },
      { seq: 12, stampUs: 12_000 },
      { seq: 13, stampUs: 12_000 },
      { seq: 14, stampUs: 12_000 }, // past the end of the schedule: a filler
    ];
    const kinds = classify(schedule, lines);
    expect(kinds.map((k) => (k.filler ? "f" : "i")).join("")).toBe("ffifiif" + "iiiiiii" + "f");
    expect(kinds.filter((k) => !k.filler).map((k) => k.scheduledUs)).toEqual([
      1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000,
    ]);
  });

  it("at a high rate, fillers made between generation ticks come after the instances due by then", () => {
    // 40k/s: a tick at 10 ms made instances 1..400; a want at 10.5 ms took 401..420, then 10 fillers.
    const schedule = { startUs: 0, endUs: 1e6, ratePerS: 40_000, firstSeq: 0, fillers: null };
    const lines = [
      ...Array.from({ length: 400 }, (_, i) => ({ seq: i, stampUs: 10_000 })),
      ...Array.from({ length: 30 }, (_, i) => ({ seq: 400 + i, stampUs: 10_500 })),
      { seq: 430, stampUs: 10_525 }, // instance 421, due at 10525
    ];
    const kinds = classify(schedule, lines);
    expect(kinds.filter((k) => k.filler).length).toBe(10);
    expect(kinds.slice(420, 430).every((k) => k.filler)).toBe(true);
    expect(kinds[419]).toEqual({ scheduledUs: 10_500, filler: false });
    expect(kinds[430]).toEqual({ scheduledUs: 10_525, filler: false });
  });

  it("leaves fillers out of offered load, throughput and latency, and counts them", () => {
    // Rank 0 makes a filler at 12.5 ms (between k = 12 and 13), committed late on both ranks.
    const specs = steady(5);
    specs.splice(12, 0, { rank: 0, k: 0, atMs: 12.5, commitMs: [60, 60] });
    const f = measureRun(build(specs), WARM_S, WINDOW_S);
    expect([f.offeredPerS, f.committedPerS, f.maxMs, f.fillers]).toEqual([2000, 2000, 5, 1]);
    expect([f.backlogStart, f.backlogEnd]).toEqual([10, 10]);
  });

  it("refuses a schedule that the log contradicts (fillers found != fillers reported)", () => {
    const runs = build(steady(5), true, 3);
    expect(() => measureRun(runs, WARM_S, WINDOW_S)).toThrow(
      /rank 0: its log shows 0 fillers against its schedule, its status reports 3/,
    );
  });

  it("refuses to time a run in which a rank reported no schedule (no silent fallback to stamps)", () => {
    const dir = mkdtempSync(join(tmpdir(), "yasp-bench-"));
    try {
      const [rank0, rank1] = build(steady(5));
      writeFileSync(join(dir, "rank-0.log"), rank0?.log ?? "");
      writeFileSync(join(dir, "rank-1.log"), rank1?.log ?? "");
      writeFileSync(
        join(dir, "rank-0.status.json"),
        JSON.stringify({ fillers: 0, generation: { ...rank0?.schedule } }),
      );
      writeFileSync(
        join(dir, "rank-1.status.json"),
        JSON.stringify({ fillers: 0, generation: null }),
      );
      expect(() => measurePoint(dir, 2, WARM_S, WINDOW_S)).toThrow(
        /rank 1 reported no generation schedule/,
      );
      writeFileSync(
        join(dir, "rank-1.status.json"),
        JSON.stringify({ fillers: 0, generation: { ...rank1?.schedule } }),
      );
      expect(measurePoint(dir, 2, WARM_S, WINDOW_S).offeredPerS).toBe(2000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
