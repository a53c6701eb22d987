// Figures of one benchmark point, read from its rank logs (only what falls in the measurement
// window counts: commits after it do not, latency is that of instances generated in it).
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface PointFigures {
  offeredPerS: number;
  committedPerS: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const LINE = /^(generate|commit) Instance\[([^\]]*)\] in seq \d+ at (\d+)$/gm;

export function measurePoint(dir: string, n: number, warmS: number, windowS: number): PointFigures {
  const gen = new Map<string, number>();
  const commitOwn = new Map<string, number>();
  const rank0Commits: number[] = [];
  for (let r = 0; r < n; r++) {
    const text = readFileSync(join(dir, `rank-${r}.log`), "utf8");
    for (const m of text.matchAll(LINE)) {
      const id = m[2] as string;
      const t = Number(m[3]);
      if (m[1] === "generate") gen.set(id, t);
      else {
        if (r === 0) rank0Commits.push(t);
        if (id.startsWith(`${r}-`)) commitOwn.set(id, t);
      }
    }
  }
  let first = Infinity;
  for (const t of gen.values()) first = Math.min(first, t);
  const from = first + warmS * 1e6;
  const to = from + windowS * 1e6;
  const inWindow = (t: number) => t >= from && t < to;
  const latencies: number[] = [];
  let offered = 0;
  for (const [id, t] of gen) {
    if (!inWindow(t)) continue;
    offered++;
    const c = commitOwn.get(id);
    if (c !== undefined) latencies.push((c - t) / 1000);
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? NaN;
  return {
    offeredPerS: offered / windowS,
    committedPerS: rank0Commits.filter(inWindow).length / windowS,
    p50Ms: pct(50),
    p99Ms: pct(99),
    maxMs: latencies[latencies.length - 1] ?? NaN,
  };
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
