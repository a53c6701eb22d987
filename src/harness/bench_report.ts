// The benchmark's table and summary lines (pure formatting of measured points).
import { median, type RunFigures } from "./bench_measure.js";

export interface Point {
  ranks: number;
  ratePerRank: number;
  fsync: boolean;
  args: string;
  runs: RunFigures[];
  cpuS: number;
  rssMb: number;
  checked: boolean;
}

/** Messaging-limit runs (instances per second each), by cluster size, with fsync on and off. */
export type Limits = Record<number, { fsync: number[]; nofsync: number[] }>;

const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : "-");
const med = (p: Point, key: keyof RunFigures) => median(p.runs.map((r) => Number(r[key])));
const range = (xs: readonly number[], digits: number) =>
  xs.length < 2
    ? fmt(median([...xs]), digits)
    : `${fmt(median([...xs]), digits)} (${fmt(Math.min(...xs), digits)}-${fmt(Math.max(...xs), digits)})`;
const spread = (p: Point, key: keyof RunFigures, digits: number) =>
  range(
    p.runs.map((r) => Number(r[key])),
    digits,
  );
const limitOf = (limits: Limits, ranks: number, fsync: boolean) =>
  median(limits[ranks]?.[fsync ? "fsync" : "nofsync"] ?? []);
const load = (p: Point) => med(p, "offeredPerS");

/** The run whose p99 is the median one: its other cells are shown together, never mixed from runs. */
export function medianRun(p: Point): RunFigures | undefined {
  const byP99 = [...p.runs].sort((a, b) => a.p99Ms - b.p99Ms);
  return byP99[Math.floor((byP99.length - 1) / 2)];
}

/** Every run of the point kept up: its backlog did not grow across the window. */
export const sustained = (p: Point) =>
  p.checked && p.runs.length > 0 && p.runs.every((r) => r.sustained);

export const TABLE_HEADER = [
  "| ranks | fsync | offered/s | committed/s | backlog start → end | sustained | p50 ms | p99 ms | max ms | lag p50 / p99 ms | CPU s/rank | peak RSS MB | committed/limit | checker |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
];

export function row(p: Point, limits: Limits): string {
  const m = medianRun(p);
  const cell = (key: keyof RunFigures, digits: number) => fmt(m ? Number(m[key]) : NaN, digits);
  const kept = p.runs.filter((r) => r.sustained).length;
  // A load that was not carried in every run has no share of the limit to show: its committed/s
  // (everything offered, committed some time before the run ended) would pass for capacity.
  const share = sustained(p)
    ? fmt(med(p, "committedPerS") / limitOf(limits, p.ranks, p.fsync), 2)
    : "-";
  return (
    `| ${p.ranks} | ${p.fsync ? "on" : "off"} | ${fmt(load(p))} | ${spread(p, "committedPerS", 0)} | ` +
    `${cell("backlogStart", 0)} → ${cell("backlogEnd", 0)} | ${kept}/${p.runs.length} | ${cell("p50Ms", 1)} | ` +
    `${spread(p, "p99Ms", 1)} | ${cell("maxMs", 1)} | ${cell("lagP50Ms", 2)} / ${cell("lagP99Ms", 2)} | ` +
    `${fmt(p.cpuS, 1)} | ${fmt(p.rssMb)} | ${share} | ${p.checked ? "pass" : "FAIL"} |`
  );
}

/** How a point that is not counted as sustained fared, in a few words. */
const fared = (p: Point) =>
  p.checked ? `${p.runs.filter((r) => r.sustained).length}/${p.runs.length}` : "checker FAIL";

/** Per cluster size: the highest swept load every run sustained with fsync (and passed the
 * checker), every swept load that did not, and the p99 at the swept point nearest half of it. */
export function summaryLines(points: readonly Point[], limits: Limits): string[] {
  const lines: string[] = [];
  for (const ranks of [...new Set(points.map((p) => p.ranks))]) {
    const fsynced = points.filter((p) => p.ranks === ranks && p.fsync);
    const kept = fsynced.filter(sustained);
    const limit = limitOf(limits, ranks, true);
    const failed = fsynced.filter((p) => !sustained(p));
    if (kept.length === 0) {
      lines.push(
        `${ranks} ranks: no swept load was sustained in every run with fsync (${failed.map((p) => `${fmt(load(p))}/s: ${fared(p)}`).join(", ")})`,
      );
      continue;
    }
    const best = kept.reduce((a, b) => (load(b) > load(a) ? b : a));
    const max = med(best, "committedPerS");
    const half = [...kept].sort(
      (a, b) => Math.abs(load(a) - max / 2) - Math.abs(load(b) - max / 2),
    )[0] as Point;
    const above = failed.filter((p) => load(p) > load(best));
    const next =
      above.length > 0
        ? `; not sustained above it: ${above.map((p) => `${fmt(load(p))}/s (${fared(p)})`).join(", ")}`
        : " (the highest load swept)";
    // Lower loads that some run did not sustain are named too: the headline must not hide them.
    const below = failed
      .filter((p) => load(p) < load(best))
      .map((p) => `${fmt(load(p))}/s (${fared(p)})`);
    lines.push(
      `${ranks} ranks: sustained ${fmt(max)} commits/s with fsync (backlog did not grow in any run; p99 there ${spread(best, "p99Ms", 1)} ms)${next}` +
        `${below.length > 0 ? `; lower loads not sustained in every run: ${below.join(", ")}` : ""}; ` +
        `messaging limit ${range(limits[ranks]?.fsync ?? [], 0)}/s, so ${fmt(max / limit, 2)} of its median; ` +
        `at ${fmt(load(half))}/s offered (nearest half) p99 ${spread(half, "p99Ms", 1)} ms from scheduled time`,
    );
  }
  return lines;
}

export function limitsLine(limits: Limits): string {
  const parts = Object.entries(limits).map(
    ([ranks, l]) => `${ranks} ranks ${range(l.fsync, 0)}/s (no fsync ${range(l.nofsync, 0)}/s)`,
  );
  return (
    `messaging limit (the same number of processes exchanging the same impose/ack/commit frames over loopback TCP, ` +
    `a WAL record and fdatasync per batch, the same log lines, no protocol logic; 3 runs before and 3 after the sweep, ` +
    `median (min-max); each run's rate is its slowest rank's): ${parts.join(", ")}`
  );
}

export function ceilingLine(ceilings: Record<number, number>): string {
  const parts = Object.entries(ceilings).map(([ranks, c]) => `${ranks} ranks ${fmt(c)}/s`);
  return `log-writing ceiling (processes only writing the same log lines: no messaging, no fsync; an upper bound of no practical use): ${parts.join(", ")}`;
}

export const DEFINITIONS = [
  "committed/s: instances scheduled in the window and committed on every rank (at any time before the run ended), per second of window: equal to offered unless something was lost;",
  "backlog: instances scheduled and not yet committed on every rank, at window start and end; sustained: runs whose backlog grew by at most 1% of the window's offered instances;",
  "latency: scheduled time -> commit on the generating rank; lag: scheduled -> stamped in the generate line; committed/s and p99 are median (min-max) over the runs,",
  "the other cells are from one run, the one with the median p99; committed/limit only where every run sustained the load.",
];

/** What a full run writes to bench/results.json (and --report prints again). */
export interface Results {
  warmS: number;
  windowS: number;
  repeats: number;
  /** -l of every rank */
  l: number;
  limits: Limits;
  ceilings: Record<number, number>;
  points: Point[];
}

export function renderResults(r: Results, withCeiling: boolean): string {
  const header = [
    `yasp benchmark: ${r.windowS} s window after ${r.warmS} s warm-up, ${r.repeats} run(s) a point (median, min-max), -o 100 -l ${r.l} --batch 256 --window 8, 127.0.0.1`,
    ...DEFINITIONS,
    limitsLine(r.limits),
    ...(withCeiling ? [ceilingLine(r.ceilings)] : []),
    "",
    ...TABLE_HEADER,
  ];
  return (
    [
      ...header,
      ...r.points.map((p) => row(p, r.limits)),
      "",
      ...summaryLines(r.points, r.limits),
    ].join("\n") + "\n"
  );
}
