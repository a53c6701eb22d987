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

/** Instances per second, by cluster size, with fsync on and off. */
export type Limits = Record<number, { fsync: number; nofsync: number }>;

const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : "-");
const med = (p: Point, key: keyof RunFigures) => median(p.runs.map((r) => Number(r[key])));
const spread = (p: Point, key: keyof RunFigures, digits: number) => {
  const xs = p.runs.map((r) => Number(r[key]));
  return xs.length < 2 ? fmt(median(xs), digits) : `${fmt(median(xs), digits)} (${fmt(Math.min(...xs), digits)}-${fmt(Math.max(...xs), digits)})`;
};

/** Every run of the point kept up: its backlog did not grow across the window. */
export const sustained = (p: Point) => p.checked && p.runs.length > 0 && p.runs.every((r) => r.sustained);

export const TABLE_HEADER = [
  "| ranks | fsync | offered/s | committed/s | backlog start → end | sustained | p50 ms | p99 ms | max ms | lag p50 / p99 ms | CPU s/rank | peak RSS MB | committed/limit | checker |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
];

export function row(p: Point, limits: Limits): string {
  const limit = limits[p.ranks]?.[p.fsync ? "fsync" : "nofsync"] ?? NaN;
  const kept = p.runs.filter((r) => r.sustained).length;
  return `| ${p.ranks} | ${p.fsync ? "on" : "off"} | ${fmt(med(p, "offeredPerS"))} | ${spread(p, "committedPerS", 0)} | ` +
    `${fmt(med(p, "backlogStart"))} → ${fmt(med(p, "backlogEnd"))} | ${kept}/${p.runs.length} | ${fmt(med(p, "p50Ms"), 1)} | ` +
    `${spread(p, "p99Ms", 1)} | ${fmt(med(p, "maxMs"), 1)} | ${fmt(med(p, "lagP50Ms"), 2)} / ${fmt(med(p, "lagP99Ms"), 2)} | ` +
    `${fmt(p.cpuS, 1)} | ${fmt(p.rssMb)} | ${fmt(med(p, "committedPerS") / limit, 2)} | ${p.checked ? "pass" : "FAIL"} |`;
}

/** Per cluster size: the highest swept load every run sustained with fsync, and the p99 at the
 * swept point nearest half of it. */
export function summaryLines(points: readonly Point[], limits: Limits): string[] {
  const lines: string[] = [];
  for (const ranks of [...new Set(points.map((p) => p.ranks))]) {
    const fsynced = points.filter((p) => p.ranks === ranks && p.fsync && p.checked);
    const kept = fsynced.filter(sustained);
    const limit = limits[ranks]?.fsync ?? NaN;
    if (kept.length === 0) {
      lines.push(`${ranks} ranks: no swept load was sustained in every run with fsync`);
      continue;
    }
    const best = kept.reduce((a, b) => (med(b, "committedPerS") > med(a, "committedPerS") ? b : a));
    const max = med(best, "committedPerS");
    const half = [...fsynced].sort((a, b) => Math.abs(med(a, "offeredPerS") - max / 2) - Math.abs(med(b, "offeredPerS") - max / 2))[0] as Point;
    const above = fsynced.filter((p) => med(p, "offeredPerS") > med(best, "offeredPerS"));
    const next = above.length > 0 ? `; the next swept load (${fmt(med(above[0] as Point, "offeredPerS"))}/s) was not` : " (the highest load swept)";
    // Lower loads that some run did not sustain are named: the headline must not hide them.
    const shaky = fsynced.filter((p) => med(p, "offeredPerS") < med(best, "offeredPerS") && !sustained(p))
      .map((p) => `${fmt(med(p, "offeredPerS"))}/s (${p.runs.filter((r) => r.sustained).length}/${p.runs.length})`);
    const below = shaky.length > 0 ? `; lower loads not sustained in every run: ${shaky.join(", ")}` : "";
    lines.push(
      `${ranks} ranks: sustained ${fmt(max)} commits/s with fsync (backlog flat in every run; p99 there ${spread(best, "p99Ms", 1)} ms)${next}${below}; ` +
      `messaging limit ${fmt(limit)}/s, so ${fmt(max / limit, 2)} of it; ` +
      `at ${fmt(med(half, "offeredPerS"))}/s offered (nearest half) p99 ${spread(half, "p99Ms", 1)} ms from scheduled time`,
    );
  }
  return lines;
}

export function limitsLine(limits: Limits): string {
  const parts = Object.entries(limits).map(([ranks, l]) => `${ranks} ranks ${fmt(l.fsync)}/s (no fsync ${fmt(l.nofsync)}/s)`);
  return `messaging limit (the same number of processes exchanging the same impose/ack/commit frames over loopback TCP, ` +
    `a WAL record and fdatasync per batch, the same log lines, no protocol logic; median of 3): ${parts.join(", ")}`;
}

export function ceilingLine(ceilings: Record<number, number>): string {
  const parts = Object.entries(ceilings).map(([ranks, c]) => `${ranks} ranks ${fmt(c)}/s`);
  return `log-writing ceiling (processes only writing the same log lines: no messaging, no fsync; an upper bound of no practical use): ${parts.join(", ")}`;
}

export const DEFINITIONS = [
  "committed/s: instances scheduled in the window and committed on every rank (at any time before the run ended), per second of window;",
  "backlog: instances scheduled and not yet committed on every rank, at window start and end (median run); sustained: runs whose backlog grew by at most 1% of the window's offered instances;",
  "latency p50/p99/max: scheduled time -> commit on the generating rank (median run; p99 min-max over runs); lag: scheduled -> stamped in the generate line.",
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
  return [...header, ...r.points.map((p) => row(p, r.limits)), "", ...summaryLines(r.points, r.limits)].join("\n") + "\n";
}
