// The benchmark's payload dimension: real rank processes with --payload N, whose workload submits
// N-byte commands through Rank.submit at the offered rate (fsync on). For 16 B, 1 KiB and 64 KiB
// commands on 3 and 5 ranks, the load rises by half while every figure holds; each row reports
// commands/s, MB/s, the latency from the moment the schedule made a command due to its submit
// resolving (committed and applied on its rank; waits for room in the rank count), and the CPU
// each rank spent per commit over the whole run.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runCluster, statusPath } from "../cli/launch.js";
import { mergeSeconds, type SecondOfLatency } from "../workload/latency.js";
import { median, usageOf } from "./bench_measure.js";

export interface PayloadPoint {
  ranks: number;
  payload: number;
  ratePerRank: number;
  /** Commands due in the window that resolved, per second, all ranks together. */
  commandsPerS: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU µs per commit, per rank (the median rank): the run's CPU over its commit index. */
  cpuUsPerCommit: number;
  /** Every rank ended well, the checker passed, the window's commands all resolved and p99 < 1 s. */
  sustained: boolean;
  checked: boolean;
}

export const PAYLOAD_SIZES = [16, 1024, 65536] as const;

/** Where each sweep starts (commands per second per rank) and how many steps it may take. */
const START: Record<number, Record<number, number>> = {
  16: { 3: 8000, 5: 4000 },
  1024: { 3: 4000, 5: 1000 },
  65536: { 3: 100, 5: 20 },
};
const STEPS = 4;

interface PayloadRunConfig {
  warmS: number;
  windowS: number;
  rankArgs(rate: number): string[];
  checkerPasses(dir: string, n: number): boolean;
}

function latencyBook(dir: string, rank: number): Record<string, SecondOfLatency> | undefined {
  try {
    const status = JSON.parse(readFileSync(statusPath(dir, rank), "utf8")) as {
      submits?: { latency?: Record<string, SecondOfLatency> };
    };
    return status.submits?.latency;
  } catch {
    return undefined;
  }
}

export async function runPayloadPoint(
  cfg: PayloadRunConfig,
  ranks: number,
  payload: number,
  rate: number,
): Promise<PayloadPoint> {
  const dir = join("bench", "tmp", `payload-${ranks}r-${payload}b-${rate}`);
  rmSync(dir, { recursive: true, force: true });
  const outcomes = await runCluster({
    n: ranks,
    logDir: dir,
    rankArgs: [...cfg.rankArgs(rate), "--payload", String(payload)],
    deadlineMs: 120_000,
    statusFiles: true,
  });
  const checked = outcomes.every((o) => o.code === 0) && cfg.checkerPasses(dir, ranks);
  const books = Array.from({ length: ranks }, (_, r) => latencyBook(dir, r));
  const window = mergeSeconds(books, cfg.warmS, cfg.warmS + cfg.windowS);
  const perCommit = outcomes.map((o) => {
    const committed = Number(/committed (\d+) in/.exec(o.stdout)?.[1] ?? NaN);
    return (usageOf(o.stdout).cpuS * 1e6) / committed;
  });
  rmSync(dir, { recursive: true, force: true });
  const due = rate * ranks * cfg.windowS;
  const p99Ms = window.percentile(99) / 1000;
  return {
    ranks,
    payload,
    ratePerRank: rate,
    commandsPerS: window.n / cfg.windowS,
    p50Ms: window.percentile(50) / 1000,
    p99Ms,
    cpuUsPerCommit: median(perCommit),
    sustained: checked && window.n >= 0.99 * due && p99Ms < 1000,
    checked,
  };
}

/** Per size and cluster size: the starting load, then half as much again while it is sustained. */
export async function payloadSweep(
  cfg: PayloadRunConfig,
  only?: { ranks: number; payload: number; rate: number },
): Promise<PayloadPoint[]> {
  if (only) return [await runPayloadPoint(cfg, only.ranks, only.payload, only.rate)];
  const points: PayloadPoint[] = [];
  for (const payload of PAYLOAD_SIZES)
    for (const ranks of [3, 5]) {
      let rate = START[payload]?.[ranks] ?? 1000;
      for (let step = 0; step < STEPS; step++) {
        const p = await runPayloadPoint(cfg, ranks, payload, rate);
        points.push(p);
        if (!p.sustained) break;
        rate = Math.round(rate * 1.5);
      }
    }
  return points;
}

const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : "-");
const size = (b: number) => (b >= 1024 ? `${b / 1024} KiB` : `${b} B`);

export function renderPayload(points: readonly PayloadPoint[]): string {
  const lines = [
    "| command | ranks | offered/s | commands/s | MB/s | p50 ms | p99 ms | CPU µs/commit/rank | sustained | checker |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const p of points) {
    const mb = (p.commandsPerS * p.payload) / 1e6;
    lines.push(
      `| ${size(p.payload)} | ${p.ranks} | ${p.ratePerRank * p.ranks} | ${fmt(p.commandsPerS)} | ` +
        `${fmt(mb, 1)} | ${fmt(p.p50Ms, 1)} | ${fmt(p.p99Ms, 1)} | ${fmt(p.cpuUsPerCommit, 1)} | ` +
        `${p.sustained ? "yes" : "no"} | ${p.checked ? "pass" : "FAIL"} |`,
    );
  }
  const best = new Map<string, PayloadPoint>();
  for (const p of points)
    if (p.sustained) {
      const key = `${size(p.payload)} on ${p.ranks} ranks`;
      const b = best.get(key);
      if (!b || p.commandsPerS > b.commandsPerS) best.set(key, p);
    }
  const summary = [...best].map(
    ([k, p]) =>
      `- ${k}: ${fmt(p.commandsPerS)} commands/s sustained (${fmt((p.commandsPerS * p.payload) / 1e6, 1)} MB/s), p99 ${fmt(p.p99Ms, 1)} ms`,
  );
  return (
    "\nCommands through Rank.submit (--payload), fsync on: latency from when a command fell due to its submit resolving\n\n" +
    lines.join("\n") +
    "\n\n" +
    summary.join("\n") +
    "\n"
  );
}
